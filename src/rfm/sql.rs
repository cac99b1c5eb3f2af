//! SQL bindings of RFM: rfm_agg, rfm_breaks, rfm_score, rfm_segment_name, rfm_segments.
