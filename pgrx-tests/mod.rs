//! In-database tests (`#[pg_test]`), compiled in under the `pg_test` feature.
//!
//! `cargo pgrx test` installs the extension into a test cluster and runs each
//! test as `SELECT tests.<name>()` inside a transaction that is rolled back.
//! One file per area; every file wraps its tests in `#[pg_schema] mod tests`.

mod foundation;
mod kmeans;
mod profile;
mod rfm;
mod rules;
mod segments;
mod support; // helpers shared by the area test files
