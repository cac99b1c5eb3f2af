//! `pg_segment_version()`: the version of the loaded library.

use pgrx::prelude::*;

/// The pg_segment version this backend has loaded (from Cargo.toml).
#[pg_extern(immutable, parallel_safe)]
pub fn pg_segment_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION pg_segment_version() IS
  'the pg_segment version of the loaded library, e.g. 0.1.0';
"#,
    name = "version_comments",
    requires = [pg_segment_version]
);
