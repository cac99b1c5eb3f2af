//! Segment operations: named segmentations, refresh, history and drift.

pub mod sql;
