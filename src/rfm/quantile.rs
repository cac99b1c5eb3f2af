//! Exact quantile cut points and scores.
//!
//! `breaks(values, bins)` returns bins − 1 cut points b₁ ≤ … ≤ b_{bins−1}: bᵢ is the
//! value at sorted position eᵢ = i·⌊n/bins⌋ + min(i, n mod bins), the last row
//! `NTILE(bins)` puts in tile i. A value's score is 1 + the number of cut points
//! below it, so bin i holds (bᵢ₋₁, bᵢ]. With distinct values this is exactly
//! `NTILE(bins) OVER (ORDER BY value)`; tied values always share a score (the
//! tile NTILE gives the first of them), so ties can leave bins empty
//! ("collapsed"), which [`empty_bins`] reports. O(n) with `select_nth_unstable`.

use crate::error::{Error, Result};

pub const MIN_BINS: i32 = 2;
pub const MAX_BINS: i32 = 100;

/// 22023 unless 2 ≤ bins ≤ 100.
pub fn check_bins(bins: i32) -> Result<usize> {
    if (MIN_BINS..=MAX_BINS).contains(&bins) {
        Ok(bins as usize)
    } else {
        Err(Error::invalid_parameter(format!("bins must be between {MIN_BINS} and {MAX_BINS}, not {bins}"))
            .with_hint("use 5 for quintile scores 1..5"))
    }
}

/// 22023 for NaN (NULLs are skipped by the callers).
pub fn check_value(value: f64, what: &str) -> Result<f64> {
    if value.is_nan() {
        Err(Error::invalid_parameter(format!("{what} must not be NaN"))
            .with_hint("filter NaN out, e.g. WHERE value <> 'NaN', or map it to NULL with nullif(value, 'NaN')"))
    } else {
        Ok(value)
    }
}

/// The cut points of `values` (reordered in place); None when there are none.
pub fn breaks(values: &mut [f64], bins: usize) -> Option<Vec<f64>> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mut cuts = Vec::with_capacity(bins - 1);
    let mut start = 0usize; // values[..start] are all ≤ the previous cut
    for i in 1..bins {
        // 1-based position of the cut; ≥ 1 since n ≥ 1
        let k = i * (n / bins) + i.min(n % bins) - 1;
        if k >= start {
            let (_, nth, _) = values[start..].select_nth_unstable_by(k - start, |a, b| a.total_cmp(b));
            cuts.push(*nth);
            start = k + 1;
        } else {
            cuts.push(*cuts.last().expect("a previous cut"));
        }
    }
    Some(cuts)
}

/// 1..=breaks.len()+1; `reverse` gives the smallest values the highest score.
pub fn score(value: f64, breaks: &[f64], reverse: bool) -> i32 {
    let below = breaks.partition_point(|&b| b < value) as i32;
    if reverse {
        breaks.len() as i32 + 1 - below
    } else {
        below + 1
    }
}

/// The scores no value can get, given the cut points and the largest value.
pub fn empty_bins(breaks: &[f64], max: f64, reverse: bool) -> Vec<i32> {
    let bins = breaks.len() + 1;
    let mut empty = Vec::new();
    // bin 1 always holds b₁ (a value); bin i holds (bᵢ₋₁, bᵢ], empty when the bounds meet
    for i in 2..=bins {
        let high = if i == bins { max } else { breaks[i - 1] };
        if breaks[i - 2] >= high {
            empty.push(if reverse { bins as i32 + 1 - i as i32 } else { i as i32 });
        }
    }
    empty.sort_unstable();
    empty
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NTILE(bins) OVER (ORDER BY v) for distinct values, as PostgreSQL computes it.
    fn ntile(n: usize, bins: usize) -> Vec<i32> {
        let (q, r) = (n / bins, n % bins);
        let mut tiles = Vec::new();
        for t in 0..bins {
            let size = q + usize::from(t < r);
            tiles.extend(std::iter::repeat_n(t as i32 + 1, size));
        }
        tiles
    }

    #[test]
    fn distinct_values_score_as_ntile() {
        for n in [1usize, 2, 3, 7, 10, 11, 99, 100, 101] {
            for bins in [2usize, 3, 5, 10] {
                // values in a scrambled order
                let sorted: Vec<f64> = (0..n).map(|i| i as f64 * 1.5 - 4.0).collect();
                let mut values: Vec<f64> = (0..n).map(|i| sorted[(i * 37 + 11) % n]).collect();
                if n % 37 == 0 { values = sorted.clone(); }
                let cuts = breaks(&mut values, bins).unwrap();
                assert_eq!(cuts.len(), bins - 1);
                let scores: Vec<i32> = sorted.iter().map(|&v| score(v, &cuts, false)).collect();
                assert_eq!(scores, ntile(n, bins), "n {n} bins {bins}");
                let reversed: Vec<i32> = sorted.iter().map(|&v| score(v, &cuts, true)).collect();
                assert_eq!(reversed, ntile(n, bins).iter().map(|t| bins as i32 + 1 - t).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn ties_share_a_score_and_empty_bins_are_named() {
        // 6 customers with one order, then 2, 3, 4, 5: NTILE(5) would split the ones into tiles 1..3
        let mut values = vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let cuts = breaks(&mut values, 5).unwrap();
        assert_eq!(cuts, vec![1.0, 1.0, 1.0, 3.0]);
        assert_eq!(score(1.0, &cuts, false), 1);
        assert_eq!(score(2.0, &cuts, false), 4);
        assert_eq!(score(3.0, &cuts, false), 4);
        assert_eq!(score(4.0, &cuts, false), 5);
        assert_eq!(empty_bins(&cuts, 5.0, false), vec![2, 3]);
        assert_eq!(empty_bins(&cuts, 5.0, true), vec![3, 4]);
        // all identical: everyone scores 1 (5 when reversed), bins 2..5 empty
        let mut same = vec![7.0; 4];
        let cuts = breaks(&mut same, 5).unwrap();
        assert_eq!(cuts, vec![7.0; 4]);
        assert_eq!((score(7.0, &cuts, false), score(7.0, &cuts, true)), (1, 5));
        assert_eq!(empty_bins(&cuts, 7.0, false), vec![2, 3, 4, 5]);
        assert_eq!(empty_bins(&[1.0, 2.0, 3.0, 4.0], 5.0, false), Vec::<i32>::new());
    }

    #[test]
    fn user_thresholds_are_inclusive_upper_bounds() {
        let t = [30.0, 90.0, 180.0, 365.0];
        assert_eq!(score(30.0, &t, true), 5); // ≤ 30 days: most recent
        assert_eq!(score(30.5, &t, true), 4);
        assert_eq!(score(400.0, &t, true), 1);
        assert_eq!(score(f64::INFINITY, &t, false), 5);
        assert_eq!(score(f64::NEG_INFINITY, &t, false), 1);
    }

    #[test]
    fn bins_and_values_are_checked() {
        assert!(check_bins(1).is_err());
        assert!(check_bins(101).is_err());
        assert_eq!(check_bins(100).unwrap(), 100);
        assert!(check_value(f64::NAN, "value").is_err());
        assert!(breaks(&mut [], 5).is_none());
        // fewer values than bins
        let cuts = breaks(&mut [3.0, 1.0], 5).unwrap();
        assert_eq!((score(1.0, &cuts, false), score(3.0, &cuts, false)), (1, 2));
    }
}
