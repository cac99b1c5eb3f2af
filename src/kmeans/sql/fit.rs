//! `kmeans_fit(...)` and `kmeans_drop(model, if_exists)`.

use super::array::{arg_datum, read_shaped, DoubleArrayArg, Elements};
use super::catalog::{self, Stored};
use super::load::{check_column, load, relation_name, Source};
use super::{memory_limit, over_limit, threads};
use crate::error::sql::{notice, raise, required, OrRaise};
use crate::error::Error;
use crate::kmeans::fit::{check_data, check_options, estimate_bytes, fit, Event, FitOptions, Start, DEFAULT_SEED_SAMPLE};
use crate::kmeans::model::centroids_text;
use crate::kmeans::seed::Init;
use crate::profile::sql::catalog::spi;
use crate::profile::sql::scan::RegClass;
use pgrx::prelude::*;
use std::time::Instant;

/// The planner's row estimate of a relation (0 for views), for the memory check before loading.
pub fn estimated_rows(relation: pg_sys::Oid) -> usize {
    Spi::connect(|client| {
        let t = spi(client.select("SELECT greatest(reltuples, 0)::float8 FROM pg_catalog.pg_class WHERE oid = $1", Some(1), &[relation.into()]));
        if t.is_empty() {
            0.0
        } else {
            spi(t.first().get::<f64>(1)).unwrap_or(0.0)
        }
    }) as usize
}

/// Where the vectors come from: exactly one of a column and a profile.
pub fn source_of(relation: pg_sys::Oid, relation_name: &str, features: Option<&str>, profile: Option<&str>) -> Source {
    match (features, profile) {
        (Some(column), None) => {
            check_column(relation, relation_name, column);
            Source::Column(column.to_string())
        }
        (None, Some(profile)) => Source::Profile(crate::profile::sql::catalog::load(profile)),
        (Some(_), Some(_)) => raise(
            Error::invalid_parameter("pass either features or profile, not both")
                .with_hint("features names a real[] / float8[] column; profile names a fitted profile whose vectors are used"),
        ),
        (None, None) => raise(
            Error::null_not_allowed("features")
                .with_hint("name the real[] / float8[] column, or pass profile => 'name' to use a fitted profile's vectors"),
        ),
    }
}

/// Fits k-means on the vectors of `relation` and stores the model under `model`,
/// replacing an earlier fit atomically.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe, requires = ["kmeans_catalog"])]
fn kmeans_fit(
    model: Option<&str>,
    relation: Option<RegClass>,
    features: Option<&str>,
    k: Option<i32>,
    max_iter: default!(Option<i32>, 300),
    tol: default!(Option<f64>, 0.0001),
    seed: default!(Option<i64>, 0),
    init: default!(Option<&str>, "'k-means++'"),
    init_centroids: default!(Option<DoubleArrayArg>, "NULL"),
    sample_size: default!(Option<i32>, "NULL"),
    n_init: default!(Option<i32>, 1),
    profile: default!(Option<&str>, "NULL"),
    fcinfo: pg_sys::FunctionCallInfo,
) -> TableIterator<
    'static,
    (
        name!(model, String),
        name!(k, i32),
        name!(dims, i32),
        name!(rows, i64),
        name!(inertia, f64),
        name!(iterations, i32),
        name!(converged, bool),
        name!(elapsed_ms, f64),
    ),
> {
    let started = Instant::now();
    let name = required(model, "model");
    let RegClass(relation) = required(relation, "relation");
    let k = required(k, "k");
    let max_iter = required(max_iter, "max_iter");
    let tol = required(tol, "tol");
    let seed = required(seed, "seed");
    let n_init = required(n_init, "n_init");
    if name.is_empty() {
        raise(Error::invalid_parameter("model name must not be empty").with_hint("name the model, e.g. 'customers_k4'"));
    }
    check_options(k, max_iter, tol, n_init, sample_size).or_raise();
    let given = init_centroids.map(|_| unsafe {
        let mut values = Vec::new();
        let mut shape = Vec::new();
        match read_shaped::<f64>(arg_datum(fcinfo, 8).expect("not null"), &mut values, true, &mut shape) {
            Elements::Ok(_) => values,
            _ => raise(
                Error::invalid_parameter("init_centroids must be a k × d array of finite numbers")
                    .with_hint("e.g. ARRAY[[0,0],[5,5]] for k = 2 clusters of 2 dimensions"),
            ),
        }
    });
    let start = match (given, init) {
        (Some(c), _) => Start::Given(c),
        (None, Some(text)) => Start::Seeded(Init::parse(text).unwrap_or_else(|| {
            raise(Error::invalid_parameter(format!("unknown init \"{text}\"")).with_hint(
                "use 'k-means++' (the default), 'random', or pass init_centroids",
            ))
        })),
        (None, None) => raise(Error::null_not_allowed("init").with_hint("use 'k-means++' or 'random'")),
    };
    let relation_text = relation_name(relation);
    let source = source_of(relation, &relation_text, features, profile);
    let k = k as usize;
    let sample = sample_size.map_or(DEFAULT_SEED_SAMPLE, |s| s as usize);
    let limit = memory_limit();
    let estimated = estimated_rows(relation);
    // called at the first row (checked against the planner's estimate), at powers of two and every 65,536 rows
    let mut budget = |rows: usize, dims: usize| {
        let rows = if rows == 1 { estimated.max(1) } else { rows };
        let needed = estimate_bytes(rows, dims, k, sample);
        if needed > limit {
            return Err(over_limit(&format!("kmeans_fit of {rows} × {dims} values (rows × dimensions) with k = {k}"), needed, limit));
        }
        Ok(())
    };
    let load_started = Instant::now();
    let loaded = load(relation, &relation_text, &source, None, estimated, &mut budget);
    let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;
    let m = &loaded.matrix;
    if m.rows == 0 {
        raise(
            Error::invalid_parameter(format!(
                "{relation_text} has no feature vectors to fit on ({} rows with NULL features skipped)",
                loaded.skipped
            ))
            .with_hint("fit on a relation with at least k rows whose features are not NULL"),
        );
    }
    notice(
        format!(
            "kmeans_fit \"{name}\": read {} rows of {} dimensions from {relation_text}{}",
            m.rows,
            m.dims,
            if loaded.skipped > 0 { format!(", skipped {} with NULL features", loaded.skipped) } else { String::new() }
        ),
        None,
    );
    let opts = FitOptions {
        k,
        max_iter: max_iter as u32,
        tol,
        seed: seed as u64,
        start: start.clone(),
        sample_size: sample_size.map(|s| s as usize),
        n_init: n_init as u32,
        threads: threads(),
    };
    check_data(m, &opts, &relation_text).or_raise();
    let mut last_notice = Instant::now();
    // where the time goes (DEBUG1 below): seeding runs from a run's first
    // Seeding event to its Seeded event; the rest of the fit is Lloyd passes
    let fit_started = Instant::now();
    let mut seeding_since: Option<Instant> = None;
    let mut seed_ms = 0.0;
    let mut passes = 0u32;
    let fitted = fit(m, &opts, &mut |event| {
        pgrx::check_for_interrupts!();
        match event {
            Event::Seeding { .. } => {
                seeding_since.get_or_insert_with(Instant::now);
            }
            Event::Seeded { .. } => {
                if let Some(since) = seeding_since.take() {
                    seed_ms += since.elapsed().as_secs_f64() * 1000.0;
                }
            }
            Event::Iteration { .. } => passes += 1,
        }
        // progress at most every 2 seconds, so short fits stay quiet
        if let Event::Iteration { run, progress } = event {
            if last_notice.elapsed().as_secs_f64() >= 2.0 {
                last_notice = Instant::now();
                notice(
                    format!(
                        "kmeans_fit \"{name}\": run {} iteration {}: {}{} rows moved",
                        run + 1,
                        progress.iteration,
                        progress.inertia.map_or(String::new(), |inertia| format!("inertia {inertia:.6e}, ")),
                        progress.moved
                    ),
                    None,
                );
            }
        }
    });
    let lloyd_ms = fit_started.elapsed().as_secs_f64() * 1000.0 - seed_ms;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let options = serde_json::json!({
        "max_iter": max_iter, "tol": tol, "seed": seed,
        "init": match &start { Start::Given(_) => "given".to_string(), Start::Seeded(_) => init.unwrap_or_default().to_string() },
        "sample_size": sample_size, "n_init": n_init, "threads": opts.threads, "reseeded_clusters": fitted.reseeded,
    });
    let profile_compiled = match &source {
        Source::Profile(c) => Some(c.as_ref()),
        Source::Column(_) => None,
    };
    catalog::store(&Stored {
        name,
        relation,
        features: if profile_compiled.is_some() { None } else { features },
        profile: profile_compiled,
        k,
        dims: m.dims,
        centroids_text: centroids_text(&fitted.centroids, m.dims),
        sizes: fitted.sizes.iter().map(|&s| s as i64).collect(),
        inertia: fitted.inertia,
        iterations: fitted.iterations as i32,
        converged: fitted.converged,
        rows: m.rows as i64,
        skipped: loaded.skipped as i64,
        options,
        elapsed_ms,
    });
    pgrx::debug1!(
        "kmeans_fit \"{name}\" timing: load {load_ms:.1} ms, seeding {seed_ms:.1} ms, {passes} iterations {lloyd_ms:.1} ms \
         ({:.2} ms each, with the final labelling pass), store {:.1} ms, total {:.1} ms",
        lloyd_ms / f64::from(passes.max(1)),
        started.elapsed().as_secs_f64() * 1000.0 - elapsed_ms,
        started.elapsed().as_secs_f64() * 1000.0
    );
    TableIterator::once((
        name.to_string(),
        k as i32,
        m.dims as i32,
        m.rows as i64,
        fitted.inertia,
        fitted.iterations as i32,
        fitted.converged,
        elapsed_ms,
    ))
}

/// Deletes a model; whether it existed (unknown and not if_exists: 42704).
#[pg_extern(volatile, parallel_unsafe, requires = ["kmeans_catalog"])]
fn kmeans_drop(model: Option<&str>, if_exists: default!(Option<bool>, false)) -> bool {
    let name = required(model, "model");
    let deleted = catalog::delete(name);
    if !deleted && !if_exists.unwrap_or(false) {
        raise(catalog::not_found(name));
    }
    deleted
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION kmeans_fit(text, regclass, text, integer, integer, double precision, bigint, text, double precision[], integer, integer, text) IS
  'fits k-means (k-means++ or random seeding or given centroids, Lloyd iterations) on a real[]/float8[] column or a profile''s vectors and stores the model, replacing an earlier fit atomically; returns a summary row';
COMMENT ON FUNCTION kmeans_drop(text, boolean) IS
  'deletes a k-means model; returns whether it existed (unknown model: error unless if_exists)';
"#,
    name = "kmeans_fit_comments",
    requires = [kmeans_fit, kmeans_drop]
);
