//! RFM: recency / frequency / monetary summaries, quantile scores and named segments.
//!
//! Core (no pgrx): `amount` (exact sums), `summary` (one customer's orders),
//! `state` (rfm_agg's bytea state), `customers`, `int_keys` and `accumulate`
//! (rfm_segments' dense accumulation, on a second thread), `quantile` (cut points and scores),
//! `segment_map` (score ranges → segment names). `sql/` holds the bindings.

pub mod accumulate;
pub mod amount;
pub mod customers;
pub mod int_keys;
pub mod quantile;
pub mod segment_map;
pub mod state;
pub mod summary;

pub mod sql;
