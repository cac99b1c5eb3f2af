//! The segment rule language: parse, type-check, compile and evaluate rules natively.

pub mod sql;
