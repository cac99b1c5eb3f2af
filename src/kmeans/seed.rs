//! Initial centroids: greedy k-means++ (as scikit-learn: 2 + ln k candidates per
//! step, the one that lowers the potential most wins) or k random rows, both on
//! a sample of the rows and reproducible from the seed.

use super::kernel::{distance2, Matrix};
use super::rng::Rng;

/// The initialisation methods `kmeans_fit` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    KMeansPlusPlus,
    Random,
}

impl Init {
    pub fn parse(text: &str) -> Option<Init> {
        match text.to_ascii_lowercase().as_str() {
            "k-means++" | "kmeans++" | "k-means||" => Some(Init::KMeansPlusPlus),
            "random" => Some(Init::Random),
            _ => None,
        }
    }
}

fn row_f64(m: &Matrix, i: usize) -> Vec<f64> {
    m.row(i).iter().map(|&x| f64::from(x)).collect()
}

/// k-means++ on the rows of `m` (the caller passes the seeding sample).
/// `between` runs after each centroid is chosen (interrupt checks).
pub fn kmeans_plus_plus(m: &Matrix, k: usize, rng: &mut Rng, between: &mut dyn FnMut()) -> Vec<f64> {
    let n = m.rows;
    let d = m.dims;
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.below(n);
    centroids.extend(row_f64(m, first));
    let mut closest: Vec<f64> = (0..n).map(|i| distance2(m.row(i), &centroids[0..d])).collect();
    let mut potential: f64 = closest.iter().sum();
    let mut candidate_dist = vec![0f64; n];
    let mut best_dist = vec![0f64; n];
    for _ in 1..k {
        between();
        // cumulative sums for sampling proportional to D²
        let mut cumulative = Vec::with_capacity(n);
        let mut acc = 0f64;
        for &c in &closest {
            acc += c;
            cumulative.push(acc);
        }
        let mut best: Option<(f64, usize)> = None;
        for _ in 0..trials {
            let target = rng.next_f64() * potential;
            let mut candidate = cumulative.partition_point(|&c| c <= target).min(n - 1);
            if potential <= 0.0 {
                candidate = rng.below(n);
            }
            let cand = row_f64(m, candidate);
            let mut pot = 0f64;
            for i in 0..n {
                let v = distance2(m.row(i), &cand).min(closest[i]);
                candidate_dist[i] = v;
                pot += v;
            }
            if best.is_none_or(|(p, _)| pot < p) {
                best = Some((pot, candidate));
                std::mem::swap(&mut best_dist, &mut candidate_dist);
            }
        }
        let (pot, chosen) = best.expect("at least two trials");
        centroids.extend(row_f64(m, chosen));
        std::mem::swap(&mut closest, &mut best_dist);
        potential = pot;
    }
    centroids
}

/// k distinct random rows of `m` (rows may repeat values; empty clusters are re-seeded later).
pub fn random_rows(m: &Matrix, k: usize, rng: &mut Rng) -> Vec<f64> {
    let mut picked = super::rng::sample_indices(m.rows, k, rng);
    // sample_indices sorts; shuffle so the order is random too
    for i in (1..picked.len()).rev() {
        picked.swap(i, rng.below(i + 1));
    }
    picked.iter().flat_map(|&i| row_f64(m, i)).collect()
}

/// Whether `m` has at least `k` distinct rows (stops counting at k).
pub fn has_distinct(m: &Matrix, k: usize) -> (bool, usize) {
    let mut seen = std::collections::HashSet::new();
    for i in 0..m.rows {
        // -0.0 and 0.0 are the same point
        let key: Vec<u32> = m.row(i).iter().map(|&x| if x == 0.0 { 0 } else { x.to_bits() }).collect();
        seen.insert(key);
        if seen.len() >= k {
            return (true, seen.len());
        }
    }
    (false, seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Matrix {
        let mut m = Matrix::new(2);
        for i in 0..30 {
            let t = i as f32 * 0.01;
            m.push(&[t, t]);
            m.push(&[100.0 + t, t]);
            m.push(&[t, 100.0 + t]);
        }
        m
    }

    #[test]
    fn plus_plus_picks_one_row_per_blob() {
        let m = blobs();
        let c = kmeans_plus_plus(&m, 3, &mut Rng::new(0), &mut || {});
        let mut corners: Vec<(bool, bool)> = c.chunks(2).map(|p| (p[0] > 50.0, p[1] > 50.0)).collect();
        corners.sort();
        assert_eq!(corners, vec![(false, false), (false, true), (true, false)]);
        // reproducible
        assert_eq!(c, kmeans_plus_plus(&m, 3, &mut Rng::new(0), &mut || {}));
    }

    #[test]
    fn plus_plus_on_constant_rows_still_returns_k() {
        let m = Matrix::from_rows(&[&[1.0], &[1.0], &[1.0]]);
        assert_eq!(kmeans_plus_plus(&m, 2, &mut Rng::new(1), &mut || {}), vec![1.0, 1.0]);
    }

    #[test]
    fn random_rows_are_rows() {
        let m = blobs();
        let c = random_rows(&m, 4, &mut Rng::new(2));
        assert_eq!(c.len(), 8);
        for p in c.chunks(2) {
            assert!((0..m.rows).any(|i| m.row(i)[0] as f64 == p[0] && m.row(i)[1] as f64 == p[1]));
        }
    }

    #[test]
    fn distinct_rows_are_counted_up_to_k() {
        let m = Matrix::from_rows(&[&[1.0], &[1.0], &[-0.0], &[0.0]]);
        assert_eq!(has_distinct(&m, 3), (false, 2));
        assert_eq!(has_distinct(&m, 2), (true, 2));
        assert_eq!(Init::parse("K-Means++"), Some(Init::KMeansPlusPlus));
        assert_eq!(Init::parse("nope"), None);
    }
}
