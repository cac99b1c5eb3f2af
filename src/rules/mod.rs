//! The segment rule language: parse, type-check, compile and evaluate rules natively.
//!
//! A rule is SQL boolean-expression text (`monetary >= 1000 AND recency_days <= 90`)
//! read by the `sqlparser` crate ([`parse`]), compiled against the ruleset's
//! declared attributes into a typed program ([`compile`], [`eval`]) and never
//! run as SQL. A ruleset is ordered rules, first match wins ([`ruleset`]).
//! Everything here is plain Rust; `sql.rs` holds the pgrx bindings.

pub mod compile; // sqlparser expression → typed program, with positions for errors
pub mod env; // clock, time zone, collation and literal input (the SQL layer supplies PostgreSQL's)
pub mod eval; // the typed program and its three-valued evaluation
pub mod parse; // rule text → one sqlparser expression, with limits
pub mod ruleset; // rulesets, referenced rulesets, assign / matches / explain / check tallies
pub mod value; // types, values, calendar arithmetic

#[cfg(test)]
mod tests;

pub mod sql;
