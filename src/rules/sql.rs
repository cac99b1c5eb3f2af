//! SQL bindings of rules: segment_ruleset_create, segment_assign, segment_matches, segment_explain, segment_ruleset_check.
