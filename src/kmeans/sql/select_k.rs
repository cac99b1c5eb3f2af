//! `kmeans_select_k(relation, features, k_min, k_max, ...)`: one fit per k on a
//! sample, with inertia, simplified silhouette, Calinski–Harabasz and
//! Davies–Bouldin; the suggested k has the highest silhouette (ties: smaller k).

use super::fit::source_of;
use super::load::{load, relation_name};
use super::{memory_limit, over_limit, threads};
use crate::error::sql::{notice, raise, required, OrRaise};
use crate::error::Error;
use crate::kmeans::fit::{check_data, check_options, estimate_bytes, fit, FitOptions, Start};
use crate::kmeans::kernel::assign_all;
use crate::kmeans::metrics::{scores, suggest};
use crate::kmeans::seed::Init;
use crate::profile::sql::scan::RegClass;
use pgrx::prelude::*;


/// Scores every k in k_min..=k_max on a sample of the rows.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn kmeans_select_k(
    relation: Option<RegClass>,
    features: Option<&str>,
    k_min: Option<i32>,
    k_max: Option<i32>,
    seed: default!(Option<i64>, 0),
    sample_size: default!(Option<i32>, 10000),
    n_init: default!(Option<i32>, 3),
    max_iter: default!(Option<i32>, 300),
    profile: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(k, i32),
        name!(inertia, f64),
        name!(silhouette, Option<f64>),
        name!(calinski_harabasz, Option<f64>),
        name!(davies_bouldin, Option<f64>),
        name!(suggested, bool),
    ),
> {
    let RegClass(relation) = required(relation, "relation");
    let k_min = required(k_min, "k_min");
    let k_max = required(k_max, "k_max");
    let seed = required(seed, "seed");
    let sample_size = required(sample_size, "sample_size");
    let n_init = required(n_init, "n_init");
    let max_iter = required(max_iter, "max_iter");
    check_options(k_min, max_iter, 1e-4, n_init, Some(sample_size)).or_raise();
    if k_max < k_min {
        raise(
            Error::invalid_parameter(format!("k_max ({k_max}) is less than k_min ({k_min})"))
                .with_hint("pass a range such as k_min => 2, k_max => 8"),
        );
    }
    if k_max - k_min >= 100 {
        raise(Error::invalid_parameter("kmeans_select_k scores at most 100 values of k per call").with_hint("narrow the range"));
    }
    let relation_text = relation_name(relation);
    let source = source_of(relation, &relation_text, features, profile);
    let limit = memory_limit();
    let mut budget = |rows: usize, dims: usize| {
        let needed = estimate_bytes(sample_size as usize, dims, k_max as usize, 0);
        if rows == 1 && needed > limit {
            return Err(over_limit(&format!("kmeans_select_k of {sample_size} × {dims} values (rows × dimensions) up to k = {k_max}"), needed, limit));
        }
        Ok(())
    };
    let loaded = load(relation, &relation_text, &source, Some((sample_size as usize, seed as u64)), super::fit::estimated_rows(relation), &mut budget);
    let m = &loaded.matrix;
    if m.rows == 0 {
        raise(
            Error::invalid_parameter(format!("{relation_text} has no feature vectors ({} rows with NULL features skipped)", loaded.skipped))
                .with_hint("choose k on a relation whose features are not NULL"),
        );
    }
    notice(
        format!("kmeans_select_k: {} of {} rows sampled from {relation_text}", m.rows, loaded.seen),
        None,
    );
    let mut rows: Vec<(i32, f64, Option<f64>, Option<f64>, Option<f64>)> = Vec::new();
    for k in k_min..=k_max {
        let opts = FitOptions {
            k: k as usize,
            max_iter: max_iter as u32,
            tol: 1e-4,
            seed: seed as u64,
            start: Start::Seeded(Init::KMeansPlusPlus),
            sample_size: None,
            n_init: n_init as u32,
            threads: threads(),
        };
        check_data(m, &opts, &relation_text).or_raise();
        let fitted = fit(m, &opts, &mut |_| {
            pgrx::check_for_interrupts!();
        });
        let (labels, _, _) = assign_all(m, &fitted.centroids, opts.threads);
        let s = scores(m, &labels, &fitted.centroids);
        rows.push((k, fitted.inertia, s.silhouette, s.calinski_harabasz, s.davies_bouldin));
    }
    let best = suggest(&rows.iter().map(|r| (r.0 as usize, r.2)).collect::<Vec<_>>());
    TableIterator::new(rows.into_iter().map(move |(k, i, s, ch, db)| (k, i, s, ch, db, Some(k as usize) == best)))
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION kmeans_select_k(regclass, text, integer, integer, bigint, integer, integer, integer, text) IS
  'fits k-means for every k in k_min..k_max on a sample of the rows and returns inertia, simplified silhouette, Calinski-Harabasz and Davies-Bouldin per k; suggested marks the k with the highest silhouette (ties: the smaller k)';
"#,
    name = "kmeans_select_k_comments",
    requires = [kmeans_select_k]
);
