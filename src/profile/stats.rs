//! The statistics a fit needs, computed the way scikit-learn and numpy do, so the
//! stored transforms equal StandardScaler, MinMaxScaler, RobustScaler and
//! OneHotEncoder fitted on the same data.

use std::collections::HashMap;

/// Population mean and variance (ddof = 0), two-pass for accuracy.
pub fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, squares / n)
}

/// scikit-learn's test for "indistinguishable from a constant" (`_is_constant_feature`):
/// the variance is within the error bound of the two-pass algorithm.
pub fn is_constant(variance: f64, mean: f64, n: usize) -> bool {
    let eps = f64::EPSILON;
    let n = n as f64;
    let bound = n * eps * variance + (n * mean * eps).powi(2);
    variance <= bound
}

/// A scale of (near) zero becomes 1, as scikit-learn's `_handle_zeros_in_scale`.
pub fn scale_or_one(scale: f64) -> f64 {
    if scale < 10.0 * f64::EPSILON {
        1.0
    } else {
        scale
    }
}

/// The mean and the standard deviation StandardScaler divides by: 1 for (near)
/// constant columns, infinite when the variance overflows.
pub fn standard_scale(values: &[f64]) -> (f64, f64) {
    let (mean, variance) = mean_and_variance(values);
    let scale = if !variance.is_finite() {
        f64::INFINITY // overflow: the caller reports it rather than dividing by 1
    } else if is_constant(variance, mean, values.len()) {
        1.0
    } else {
        scale_or_one(variance.sqrt())
    };
    (mean, scale)
}

/// numpy's `_lerp`: exact at both ends, symmetric around t = 0.5.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// `numpy.percentile(values, q)` with the default linear method; `sorted` ascending.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let quantile = q / 100.0;
            let index = (n - 1) as f64 * quantile;
            let below = index.floor().clamp(0.0, (n - 1) as f64);
            let lo = below as usize;
            let hi = (lo + 1).min(n - 1);
            lerp(sorted[lo], sorted[hi], index - below)
        }
    }
}

/// `numpy.median`: the middle value, or the mean of the two middle values.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Sorts numbers (no NaN) ascending.
pub fn sort_numbers(values: &mut [f64]) {
    values.sort_unstable_by(|a, b| a.total_cmp(b));
}

/// The most frequent value of a sorted slice; ties go to the smallest (SimpleImputer).
pub fn mode_sorted(sorted: &[f64]) -> Option<f64> {
    let mut best: Option<(f64, usize)> = None;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if best.is_none_or(|(_, count)| j - i > count) {
            best = Some((sorted[i], j - i));
        }
        i = j;
    }
    best.map(|(value, _)| value)
}

/// The most frequent text; ties go to the smallest (SimpleImputer's most_frequent).
pub fn mode_text(counts: &HashMap<String, u64>) -> Option<&str> {
    counts
        .iter()
        .max_by(|(a, ca), (b, cb)| ca.cmp(cb).then_with(|| b.cmp(a)))
        .map(|(value, _)| value.as_str())
}

/// The values that keep their own position, and how many rows went to 'other'.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    /// Kept values in ascending order (the layout order), with their row counts.
    pub kept: Vec<(String, u64)>,
    /// Rows whose value was not kept (infrequent).
    pub other_count: u64,
}

/// Chooses the vocabulary as scikit-learn's OneHotEncoder does with
/// `min_frequency` and `max_categories = top + 1`: values rarer than the minimum
/// are infrequent; then only the `top` most frequent stay, ties at the cut going
/// to the value that sorts later (numpy's stable argsort over sorted categories).
pub fn choose_vocabulary(counts: &HashMap<String, u64>, min_count: Option<f64>, top: Option<usize>) -> Vocabulary {
    let mut all: Vec<(&String, u64)> = counts.iter().map(|(k, c)| (k, *c)).collect();
    all.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut frequent: Vec<bool> = all.iter().map(|(_, c)| min_count.is_none_or(|m| (*c as f64) >= m)).collect();
    if let Some(top) = top {
        let still = frequent.iter().filter(|f| **f).count();
        if still > top {
            // rank by count descending, ties: later category first
            let mut order: Vec<usize> = (0..all.len()).collect();
            order.sort_by(|&a, &b| all[b].1.cmp(&all[a].1).then(b.cmp(&a)));
            let keep: std::collections::HashSet<usize> = order.into_iter().take(top).collect();
            for (i, f) in frequent.iter_mut().enumerate() {
                *f = *f && keep.contains(&i);
            }
        }
    }
    let mut kept = Vec::new();
    let mut other_count = 0;
    for ((value, count), keep) in all.into_iter().zip(frequent) {
        if keep {
            kept.push((value.clone(), count));
        } else {
            other_count += count;
        }
    }
    Vocabulary { kept, other_count }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
        pairs.iter().map(|(k, c)| (k.to_string(), *c)).collect()
    }

    #[test]
    fn mean_variance_and_constant_columns() {
        let (mean, var) = mean_and_variance(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((mean, var), (5.0, 4.0));
        assert_eq!(standard_scale(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), (5.0, 2.0));
        // a constant column keeps scale 1, like StandardScaler
        assert_eq!(standard_scale(&[0.5, 0.5, 0.5]), (0.5, 1.0));
        assert_eq!(standard_scale(&[0.1, 0.1, 0.1]).1, 1.0);
        assert_eq!(standard_scale(&[]), (0.0, 1.0));
        assert_eq!(scale_or_one(0.0), 1.0);
        assert_eq!(scale_or_one(1e-300), 1.0);
        assert_eq!(scale_or_one(0.5), 0.5);
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [25, 50, 75]) == [1.75, 2.5, 3.25]
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!([percentile_sorted(&s, 25.0), percentile_sorted(&s, 50.0), percentile_sorted(&s, 75.0)], [1.75, 2.5, 3.25]);
        // numpy.percentile([10, 20, 30, 40, 1000], [10, 90]) == [14., 616.]
        let s = [10.0, 20.0, 30.0, 40.0, 1000.0];
        assert_eq!(percentile_sorted(&s, 10.0), 14.0);
        assert!((percentile_sorted(&s, 90.0) - 616.0).abs() < 1e-9);
        assert_eq!(percentile_sorted(&s, 0.0), 10.0);
        assert_eq!(percentile_sorted(&s, 100.0), 1000.0);
        assert_eq!(percentile_sorted(&[7.0], 25.0), 7.0);
        assert_eq!(median_sorted(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(median_sorted(&[1.0, 2.0, 9.0]), 2.0);
    }

    #[test]
    fn modes_prefer_the_smallest_on_ties() {
        assert_eq!(mode_sorted(&[1.0, 2.0, 2.0, 3.0, 3.0]), Some(2.0));
        assert_eq!(mode_sorted(&[5.0]), Some(5.0));
        assert_eq!(mode_sorted(&[]), None);
        assert_eq!(mode_text(&counts(&[("b", 2), ("a", 2), ("c", 1)])), Some("a"));
        assert_eq!(mode_text(&counts(&[("b", 3), ("a", 2)])), Some("b"));
    }

    #[test]
    fn vocabulary_follows_onehotencoder() {
        let c = counts(&[("a", 5), ("b", 3), ("c", 3), ("d", 1), ("e", 8)]);
        // everything kept, sorted
        let v = choose_vocabulary(&c, None, None);
        assert_eq!(v.kept.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
        assert_eq!(v.other_count, 0);
        // top 3: e(8), a(5), then the tie b/c(3) goes to c, as numpy's stable argsort does
        let v = choose_vocabulary(&c, None, Some(3));
        assert_eq!(v.kept, vec![("a".into(), 5), ("c".into(), 3), ("e".into(), 8)]);
        assert_eq!(v.other_count, 4);
        // min_frequency 4 rows
        let v = choose_vocabulary(&c, Some(4.0), None);
        assert_eq!(v.kept, vec![("a".into(), 5), ("e".into(), 8)]);
        assert_eq!(v.other_count, 7);
        // both: min 2 leaves a, b, c, e; top 2 keeps e and a
        let v = choose_vocabulary(&c, Some(2.0), Some(2));
        assert_eq!(v.kept, vec![("a".into(), 5), ("e".into(), 8)]);
        assert_eq!(v.other_count, 7);
        // top larger than the vocabulary keeps everything
        assert_eq!(choose_vocabulary(&c, None, Some(10)).kept.len(), 5);
    }
}
