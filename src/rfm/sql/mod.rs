//! SQL bindings of RFM: rfm_agg, rfm_breaks, rfm_score, rfm_segment_name, rfm_segments.

mod agg; // rfm_agg and its support functions, type rfm
mod datum; // raw varlenas, numerics, local days
mod maps; // rfm_segment_name, rfm_segment_map_check, map loading
mod scores; // rfm_breaks, rfm_score
mod segments; // rfm_segments

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {}
