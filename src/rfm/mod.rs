//! RFM: recency / frequency / monetary summaries, quantile scores and named segments.

pub mod sql;
