//! SQL bindings of segment operations: segment_refresh and the BI views.

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {}
