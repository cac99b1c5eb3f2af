//! SQL bindings of rules: segment_ruleset_create, segment_ruleset_drop,
//! segment_assign, segment_matches, segment_explain, segment_ruleset_check.

pub mod assign; // segment_assign / segment_matches / segment_explain for rows and jsonb
pub mod columns; // segment_assign_columns: the planner's rewrite of segment_assign on a table row
pub mod catalog; // segment_rulesets: create, drop, load, per-backend cache of compiled programs
pub mod check; // segment_ruleset_check: per-rule counts over a relation
pub mod env; // PostgreSQL's clock, time zone, collation and input functions for the evaluator
pub mod support; // planner support of segment_assign: pass only the columns a ruleset reads
pub mod row; // a row (composite Datum or SPI tuple) → attribute values, resolved once per row type

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {}

pgrx::extension_sql_file!("../../sql/rules_catalog.sql", name = "rules_catalog");
