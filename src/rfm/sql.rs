//! SQL bindings of RFM: rfm_agg, rfm_breaks, rfm_score, rfm_segment_name, rfm_segments.

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {}
