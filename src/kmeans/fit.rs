//! A whole fit: argument checks, n_init runs of (seeding + Lloyd), the best kept.

use super::kernel::{lloyd, working_bytes, Fitted, LloydOptions, Matrix, Progress};
use super::rng::{sample_indices, Rng};
use super::seed::{has_distinct, kmeans_plus_plus, random_rows, Init};
use crate::error::{Error, Result};

/// Rows k-means++ seeds on when `sample_size` is not given.
pub const DEFAULT_SEED_SAMPLE: usize = 100_000;

#[derive(Debug, Clone)]
pub enum Start {
    Seeded(Init),
    /// Given centroids, k × d.
    Given(Vec<f64>),
}

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub k: usize,
    pub max_iter: u32,
    /// Relative tolerance (scikit-learn's `tol`): times the mean feature variance.
    pub tol: f64,
    pub seed: u64,
    pub start: Start,
    pub sample_size: Option<usize>,
    pub n_init: u32,
    pub threads: usize,
}

/// What a caller hears between steps (on the calling thread).
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Seeding { run: u32 },
    /// The run's initial centroids are chosen; its Lloyd iterations follow.
    Seeded { run: u32 },
    Iteration { run: u32, progress: Progress },
}

/// Checks the arguments that do not need the data (22023 with a hint).
pub fn check_options(k: i32, max_iter: i32, tol: f64, n_init: i32, sample_size: Option<i32>) -> Result<()> {
    if k < 1 {
        return Err(Error::invalid_parameter(format!("k must be at least 1, not {k}"))
            .with_hint("pass the number of clusters, e.g. 4; kmeans_select_k helps choose it"));
    }
    if max_iter < 1 {
        return Err(Error::invalid_parameter(format!("max_iter must be at least 1, not {max_iter}"))
            .with_hint("the default is 300"));
    }
    if !tol.is_finite() || tol < 0.0 {
        return Err(Error::invalid_parameter(format!("tol must be a finite number >= 0, not {tol}"))
            .with_hint("the default is 1e-4 (relative to the mean feature variance, as scikit-learn)"));
    }
    if n_init < 1 {
        return Err(Error::invalid_parameter(format!("n_init must be at least 1, not {n_init}"))
            .with_hint("pass 10 to keep the best of 10 seedings, as scikit-learn's n_init=10"));
    }
    if let Some(s) = sample_size {
        if s < 1 {
            return Err(Error::invalid_parameter(format!("sample_size must be at least 1, not {s}"))
                .with_hint("pass NULL for the default"));
        }
    }
    Ok(())
}

/// Bytes a fit of `rows` × `dims` with `k` clusters needs (matrix + working set + seeding sample).
pub fn estimate_bytes(rows: usize, dims: usize, k: usize, sample: usize) -> u64 {
    let sample = sample.min(rows) as u64;
    (rows as u64) * (dims as u64) * 4 + working_bytes(rows, k, dims) + sample * (dims as u64 * 4 + 24)
}

/// Checks the data against k: enough distinct rows, given centroids of the right shape.
pub fn check_data(m: &Matrix, opts: &FitOptions, relation: &str) -> Result<()> {
    let (enough, distinct) = has_distinct(m, opts.k);
    if !enough {
        return Err(Error::invalid_parameter(format!(
            "k = {} is more than the {} distinct feature {} in {relation}",
            opts.k,
            distinct,
            if distinct == 1 { "vector" } else { "vectors" }
        ))
        .with_hint(format!("use k <= {distinct}")));
    }
    if let Start::Given(c) = &opts.start {
        if c.len() != opts.k * m.dims {
            return Err(Error::invalid_parameter(format!(
                "init_centroids has {} values, but k = {} clusters of {} dimensions need {}",
                c.len(),
                opts.k,
                m.dims,
                opts.k * m.dims
            ))
            .with_hint("pass a k × d array, e.g. ARRAY[[0,0],[1,1]] for k = 2, d = 2"));
        }
        if c.iter().any(|x| !x.is_finite()) {
            return Err(Error::invalid_parameter("init_centroids contains NaN or infinity")
                .with_hint("pass finite numbers"));
        }
    }
    Ok(())
}

/// The best (lowest inertia; ties: the earliest run) of `n_init` runs.
pub fn fit(m: &Matrix, opts: &FitOptions, on_event: &mut dyn FnMut(Event)) -> Fitted {
    // (tol = 0 needs no variance: saves a pass over the matrix)
    let tol = if opts.tol == 0.0 { 0.0 } else { opts.tol * m.mean_variance() };
    let lloyd_opts = LloydOptions { max_iter: opts.max_iter, tol, threads: opts.threads, bounds: true };
    let runs = if matches!(opts.start, Start::Given(_)) { 1 } else { opts.n_init.max(1) };
    let mut best: Option<Fitted> = None;
    for run in 0..runs {
        on_event(Event::Seeding { run });
        let init = match &opts.start {
            Start::Given(c) => c.clone(),
            Start::Seeded(method) => {
                let mut rng = Rng::for_run(opts.seed, u64::from(run));
                let size = opts.sample_size.unwrap_or(DEFAULT_SEED_SAMPLE);
                let sample;
                let on = if size < m.rows {
                    sample = m.select(&sample_indices(m.rows, size.max(opts.k), &mut rng));
                    &sample
                } else {
                    m
                };
                match method {
                    Init::KMeansPlusPlus => kmeans_plus_plus(on, opts.k, &mut rng, &mut || on_event(Event::Seeding { run })),
                    Init::Random => random_rows(on, opts.k, &mut rng),
                }
            }
        };
        on_event(Event::Seeded { run });
        let fitted = lloyd(m, &init, lloyd_opts, &mut |progress| on_event(Event::Iteration { run, progress }));
        if best.as_ref().is_none_or(|b| fitted.inertia < b.inertia) {
            best = Some(fitted);
        }
    }
    best.expect("at least one run")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(k: usize) -> FitOptions {
        FitOptions {
            k,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            start: Start::Seeded(Init::KMeansPlusPlus),
            sample_size: None,
            n_init: 3,
            threads: 2,
        }
    }

    fn three_blobs() -> Matrix {
        let mut rng = Rng::new(9);
        let mut m = Matrix::new(2);
        for i in 0..3000 {
            let (cx, cy) = [(0.0, 0.0), (20.0, 0.0), (0.0, 20.0)][i % 3];
            m.push(&[cx + rng.next_f64() as f32, cy + rng.next_f64() as f32]);
        }
        m
    }

    #[test]
    fn finds_three_blobs_and_is_reproducible() {
        let m = three_blobs();
        let a = fit(&m, &opts(3), &mut |_| {});
        assert_eq!(a.sizes.iter().copied().collect::<std::collections::BTreeSet<_>>().len(), 1, "{:?}", a.sizes);
        assert!(a.converged);
        // uniform [0,1)² blobs: inertia ≈ n / 6
        assert!((a.inertia / 3000.0 - 1.0 / 6.0).abs() < 0.01, "{}", a.inertia);
        let b = fit(&m, &opts(3), &mut |_| {});
        assert_eq!(a.centroids, b.centroids);
        let seeded_on_sample = fit(&m, &FitOptions { sample_size: Some(100), ..opts(3) }, &mut |_| {});
        assert!((seeded_on_sample.inertia - a.inertia).abs() < 1e-6 * a.inertia);
    }

    #[test]
    fn bad_arguments_and_data_are_22023() {
        for (k, it, tol, n, s) in [(0, 1, 0.0, 1, None), (1, 0, 0.0, 1, None), (1, 1, -1.0, 1, None), (1, 1, f64::NAN, 1, None), (1, 1, 0.0, 0, None), (1, 1, 0.0, 1, Some(0))] {
            assert_eq!(check_options(k, it, tol, n, s).unwrap_err().state.code(), "22023");
        }
        let constant = Matrix::from_rows(&[&[1.0, 2.0], &[1.0, 2.0]]);
        let err = check_data(&constant, &opts(2), "t").unwrap_err();
        assert_eq!(err.message, "k = 2 is more than the 1 distinct feature vector in t");
        let one = fit(&constant, &opts(1), &mut |_| {});
        assert_eq!((one.centroids.clone(), one.inertia, one.converged), (vec![1.0, 2.0], 0.0, true));
        let given = FitOptions { start: Start::Given(vec![0.0; 3]), ..opts(1) };
        assert!(check_data(&constant, &given, "t").unwrap_err().message.starts_with("init_centroids has 3 values"));
    }

    #[test]
    fn estimate_counts_the_matrix() {
        // 64 MB of matrix, 12 of labels and bounds, 8.8 of seeding sample
        assert!(estimate_bytes(1_000_000, 16, 8, 100_000) > 84_000_000);
        assert!(estimate_bytes(1_000_000, 16, 8, 100_000) < 86_000_000);
    }
}
