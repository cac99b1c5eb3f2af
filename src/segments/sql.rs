//! SQL bindings of segment operations: segment_refresh and the BI views.
