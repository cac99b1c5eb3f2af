//! Quality measures for choosing k, computed from the rows, their labels and the
//! centroids (one pass each; no pairwise distances, so they scale to samples of
//! any size).
//!
//! - simplified silhouette: per row (b − a) / max(a, b) with a the distance to
//!   its own centroid and b to the nearest other one (0 when both are 0); mean.
//! - Calinski–Harabasz: (between / (k − 1)) / (within / (n − k)); 1 when within
//!   is 0 (as scikit-learn).
//! - Davies–Bouldin: mean over clusters of max over others of (sᵢ + sⱼ) / dᵢⱼ,
//!   s the mean distance of a cluster's rows to its centroid (as scikit-learn;
//!   0 when every s or every dᵢⱼ is 0).
//!
//! All three need k ≥ 2 (None for k = 1).

use super::kernel::{distance2, Matrix};

#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
}

pub fn scores(m: &Matrix, labels: &[u32], centroids: &[f64]) -> Scores {
    let d = m.dims;
    let k = centroids.len() / d.max(1);
    let n = m.rows;
    if k < 2 || n == 0 {
        return Scores { silhouette: None, calinski_harabasz: None, davies_bouldin: None };
    }
    let centroid = |c: usize| &centroids[c * d..(c + 1) * d];
    let mut silhouette = 0f64;
    let mut within = 0f64;
    let mut spread = vec![0f64; k];
    let mut sizes = vec![0u64; k];
    for i in 0..n {
        let own = labels[i] as usize;
        let a2 = distance2(m.row(i), centroid(own));
        let b2 = (0..k).filter(|&c| c != own).map(|c| distance2(m.row(i), centroid(c))).fold(f64::INFINITY, f64::min);
        let (a, b) = (a2.sqrt(), b2.sqrt());
        let top = a.max(b);
        if top > 0.0 {
            silhouette += (b - a) / top;
        }
        within += a2;
        spread[own] += a;
        sizes[own] += 1;
    }
    // the overall mean, from the centroids weighted by size
    let mut mean = vec![0f64; d];
    for c in 0..k {
        for j in 0..d {
            mean[j] += centroid(c)[j] * sizes[c] as f64;
        }
    }
    mean.iter_mut().for_each(|v| *v /= n as f64);
    let between: f64 = (0..k)
        .map(|c| sizes[c] as f64 * centroid(c).iter().zip(&mean).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
        .sum();
    let used = sizes.iter().filter(|&&s| s > 0).count();
    let calinski_harabasz = if used < 2 || n <= used {
        None
    } else if within == 0.0 {
        Some(1.0)
    } else {
        Some(between * (n - used) as f64 / (within * (used - 1) as f64))
    };
    for c in 0..k {
        if sizes[c] > 0 {
            spread[c] /= sizes[c] as f64;
        }
    }
    let live: Vec<usize> = (0..k).filter(|&c| sizes[c] > 0).collect();
    let mut db = 0f64;
    let mut all_zero_spread = true;
    let mut all_zero_dist = true;
    for &i in &live {
        if spread[i] != 0.0 {
            all_zero_spread = false;
        }
        let mut worst = 0f64;
        for &j in &live {
            if i == j {
                continue;
            }
            let dij: f64 = centroid(i).iter().zip(centroid(j)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            if dij != 0.0 {
                all_zero_dist = false;
                worst = worst.max((spread[i] + spread[j]) / dij);
            }
        }
        db += worst;
    }
    let davies_bouldin = if live.len() < 2 {
        None
    } else if all_zero_spread || all_zero_dist {
        Some(0.0)
    } else {
        Some(db / live.len() as f64)
    };
    Scores { silhouette: Some(silhouette / n as f64), calinski_harabasz, davies_bouldin }
}

/// The suggested k: the highest simplified silhouette (ties: the smaller k);
/// None when no k ≥ 2 was scored.
pub fn suggest(per_k: &[(usize, Option<f64>)]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for &(k, s) in per_k {
        if let Some(s) = s {
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((k, s));
            }
        }
    }
    best.map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pairs_by_hand() {
        // (0,0),(0,1) | (10,0),(10,1); centroids (0,.5), (10,.5)
        let m = Matrix::from_rows(&[&[0.0, 0.0], &[0.0, 1.0], &[10.0, 0.0], &[10.0, 1.0]]);
        let s = scores(&m, &[0, 0, 1, 1], &[0.0, 0.5, 10.0, 0.5]);
        // a = 0.5, b = sqrt(100.25) for every row
        let b = 100.25f64.sqrt();
        assert!((s.silhouette.unwrap() - (b - 0.5) / b).abs() < 1e-12);
        // between = 4 * 25 = 100, within = 1, n - k = 2, k - 1 = 1 → 200
        assert_eq!(s.calinski_harabasz, Some(200.0));
        // s = 0.5 each, d = 10 → 0.1
        assert!((s.davies_bouldin.unwrap() - 0.1).abs() < 1e-12);
        let one = scores(&m, &[0, 0, 0, 0], &[5.0, 0.5]);
        assert_eq!(one, Scores { silhouette: None, calinski_harabasz: None, davies_bouldin: None });
    }

    #[test]
    fn suggestion_is_the_best_silhouette_smaller_k_on_ties() {
        assert_eq!(suggest(&[(1, None), (2, Some(0.5)), (3, Some(0.7)), (4, Some(0.7))]), Some(3));
        assert_eq!(suggest(&[(1, None)]), None);
    }
}
