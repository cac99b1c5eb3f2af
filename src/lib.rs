//! pg_segment: customer profiling and segmentation inside PostgreSQL.
//!
//! Every area is a folder: `mod.rs` (and its siblings) hold the core logic in
//! plain Rust with no pgrx import; `sql.rs` holds the thin SQL bindings of that
//! area (argument checks, SQLSTATE errors, Datum conversion, catalog access).
//! From a SQL function's name, `src/<area>/sql.rs` is one hop away.

::pgrx::pg_module_magic!(name, version);

pub mod error; // error type (core) and raise helpers (error/sql.rs)
pub mod extension_schema; // where our catalog tables live
pub mod version; // pg_segment_version()
pub mod call_site; // per-call-site state in fn_extra, shared by the row functions
pub mod composite; // deforming whole-row Datums, shared by the row functions
pub mod direct_scan; // reading a plain table without the executor (rfm_segments, kmeans_fit)
pub mod heap_page; // one column of a heap page's tuples from its bytes (kmeans_fit's load)
pub mod memory_context; // scratch memory contexts and switching into them, error-safe

pub mod kmeans; // kmeans_* : in-database k-means
pub mod profile; // profile_* : feature vectors, behaviour aggregates, personas
pub mod rfm; // rfm_* : recency / frequency / monetary summaries and scores
pub mod rules; // segment_ruleset_*, segment_assign : the rule language
pub mod segments; // segment_refresh and the BI views

/// Called once when a backend loads the library: registers each area's GUCs.
#[allow(non_snake_case)]
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    kmeans::sql::register_gucs();
    profile::sql::register_gucs();
    rfm::sql::register_gucs();
    rules::sql::register_gucs();
    segments::sql::register_gucs();
}

#[cfg(any(test, feature = "pg_test"))]
#[path = "../pgrx-tests/mod.rs"]
mod pgrx_tests;

/// Required by `cargo pgrx test`: hooks for the test cluster.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // Small tables still get parallel plans, so combine functions are exercised.
        vec!["max_parallel_workers_per_gather = 2", "max_worker_processes = 16"]
    }
}
