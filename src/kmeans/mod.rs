//! In-database k-means: the pgrx-free kernel (seeding, Lloyd iterations, quality metrics).

pub mod sql;
