//! SQL bindings of profiles: profile_fit, profile_vector, behaviour aggregates, segment_personas.

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {}
