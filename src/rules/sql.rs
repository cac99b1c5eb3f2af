//! SQL bindings of rules: segment_ruleset_create, segment_assign, segment_matches, segment_explain, segment_ruleset_check.

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {}
