//! SQL bindings of k-means: kmeans_fit, kmeans_drop, kmeans_assign(_with_distance),
//! kmeans_select_k and the kmeans_step aggregate.

pub mod array; // real[] / float8[] Datums read in place
pub mod assign; // kmeans_assign, kmeans_assign_with_distance (cached model per call site)
pub mod collect; // rows into the matrix (parse, check, sample), on a worker thread while the backend reads
pub mod catalog; // kmeans_models: store, load (cached per backend), delete
pub mod fit; // kmeans_fit, kmeans_drop
pub mod load; // relation → contiguous f32 matrix (column or profile), NULL / NaN policy
pub mod select_k; // kmeans_select_k
pub mod step; // the kmeans_step aggregate

use crate::error::Error;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `pg_segment.kmeans_threads`: compute threads of a fit (0 = one per core, at most 8).
pub static THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);
/// `pg_segment.kmeans_memory_limit` (kB): the most a fit may allocate.
pub static MEMORY_LIMIT_KB: GucSetting<i32> = GucSetting::<i32>::new(1024 * 1024);

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {
    GucRegistry::define_int_guc(
        c"pg_segment.kmeans_threads",
        c"Compute threads kmeans_fit and kmeans_select_k use (0: one per core, at most 8).",
        c"The threads only compute on the loaded matrix; they never call PostgreSQL. Results do not depend on the thread count.",
        &THREADS,
        0,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_segment.kmeans_memory_limit",
        c"The most memory one kmeans_fit or kmeans_select_k may allocate.",
        c"Checked against an estimate (rows × dims × 4 bytes plus per-cluster accumulators) before and while loading; above it the call fails with 54000.",
        &MEMORY_LIMIT_KB,
        64,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
}

pub fn threads() -> usize {
    match THREADS.get() {
        n if n > 0 => n as usize,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()).min(8),
    }
}

pub fn memory_limit() -> u64 {
    MEMORY_LIMIT_KB.get().max(1) as u64 * 1024
}

/// Bytes as a person reads them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// 54000 with both numbers.
pub fn over_limit(what: &str, needed: u64, limit: u64) -> Error {
    Error::limit_exceeded(format!(
        "{what} needs about {}, more than pg_segment.kmeans_memory_limit ({})",
        human(needed),
        human(limit)
    ))
    .with_hint("raise the limit (e.g. SET pg_segment.kmeans_memory_limit = '4GB'), use a smaller k, or fit on a sample of the rows")
}

pgrx::extension_sql_file!("../../../sql/kmeans_catalog.sql", name = "kmeans_catalog");
