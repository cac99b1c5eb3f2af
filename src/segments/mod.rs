//! Segment operations: named segmentations, refresh, history and drift.
//!
//! The catalog tables, views, `segmentation_create` and the `segment_refresh`
//! procedure are hand-written SQL (`sql/segments.sql`): the procedure must COMMIT
//! between its steps, which only a procedural-language body can do. Rust holds the
//! drift arithmetic (`drift`) and the SQL functions over it (`sql`).

pub mod drift; // psi term, size change, health flags (pure, unit-tested)
pub mod sql; // segment_psi, segment_size_change, segment_flags, segment_in_transaction_block
