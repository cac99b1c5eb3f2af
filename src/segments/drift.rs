//! Segment drift between two refreshes: size change, population stability
//! index (PSI) and the health flags a segment gets in the run log.
//!
//! Pure arithmetic (no pgrx), so the definitions the README states are the ones
//! tested here with hand-computed values.

/// Shares are floored at this value before the PSI logarithm, so a segment that
/// appears (share 0 before) or disappears (share 0 now) adds a large but finite
/// term instead of infinity. 1e-4 is the usual choice in credit-risk practice.
pub const SHARE_FLOOR: f64 = 1e-4;

/// One segment's PSI term: `(share - prev_share) * ln(share / prev_share)`, both
/// shares floored at [`SHARE_FLOOR`]. Never negative; the run's PSI is the sum
/// over all segments of either run. `None` when a share is outside [0, 1] or NaN.
pub fn psi_term(prev_share: f64, share: f64) -> Option<f64> {
    let valid = |s: f64| (0.0..=1.0).contains(&s);
    if !valid(prev_share) || !valid(share) {
        return None;
    }
    let p = prev_share.max(SHARE_FLOOR);
    let s = share.max(SHARE_FLOOR);
    Some((s - p) * (s / p).ln())
}

/// Relative size change `(size - prev_size) / prev_size`; `None` when the
/// segment had no members before (the change is not a finite number).
pub fn size_change(prev_size: i64, size: i64) -> Option<f64> {
    if prev_size <= 0 {
        return None;
    }
    Some((size - prev_size) as f64 / prev_size as f64)
}

/// Health flags of one segment in one run, in a fixed order:
/// - `new`: it had no members in the previous run and has some now;
/// - `gone`: it had members in the previous run and has none now;
/// - `size_change`: its size moved by more than `max_size_change` (relative);
/// - `below_min_size`: it has members, but fewer than `min_size`.
///
/// `prev_size` is `None` on the first run of a segmentation (nothing to compare).
pub fn segment_flags(prev_size: Option<i64>, size: i64, max_size_change: f64, min_size: i64) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if let Some(prev) = prev_size {
        if prev <= 0 && size > 0 {
            flags.push("new");
        }
        if prev > 0 && size <= 0 {
            flags.push("gone");
        }
        if let Some(change) = size_change(prev, size) {
            if change.abs() > max_size_change {
                flags.push("size_change");
            }
        }
    }
    if size > 0 && size < min_size {
        flags.push("below_min_size");
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_term_hand_computed() {
        // 0.5 -> 0.25: (0.25 - 0.5) * ln(0.5) = -0.25 * -0.693147... = 0.1732868
        assert!((psi_term(0.5, 0.25).unwrap() - 0.173_286_795_139_986_3).abs() < 1e-12);
        // symmetric in its arguments
        assert_eq!(psi_term(0.25, 0.5), psi_term(0.5, 0.25));
        assert_eq!(psi_term(0.3, 0.3), Some(0.0));
    }

    #[test]
    fn psi_term_floors_zero_shares() {
        // 0 -> 0.1: (0.1 - 1e-4) * ln(0.1 / 1e-4) = 0.0999 * ln(1000) = 0.690086...
        let expected = 0.0999 * 1000f64.ln();
        assert!((psi_term(0.0, 0.1).unwrap() - expected).abs() < 1e-12);
        assert!((psi_term(0.1, 0.0).unwrap() - expected).abs() < 1e-12);
        assert_eq!(psi_term(0.0, 0.0), Some(0.0));
    }

    #[test]
    fn psi_term_rejects_bad_shares() {
        assert_eq!(psi_term(f64::NAN, 0.1), None);
        assert_eq!(psi_term(0.1, 1.5), None);
        assert_eq!(psi_term(-0.1, 0.1), None);
        assert_eq!(psi_term(0.1, f64::INFINITY), None);
    }

    #[test]
    fn run_psi_of_a_shift_is_the_sum_of_terms() {
        // shares (0.5, 0.3, 0.2) -> (0.4, 0.4, 0.2):
        // 0.1*ln(0.8/1)... computed: (0.4-0.5)ln(0.8) + (0.4-0.3)ln(4/3) + 0
        let psi: f64 = [(0.5, 0.4), (0.3, 0.4), (0.2, 0.2)].iter().map(|&(p, s)| psi_term(p, s).unwrap()).sum();
        let expected = -0.1 * 0.8f64.ln() + 0.1 * (4.0f64 / 3.0).ln();
        assert!((psi - expected).abs() < 1e-12);
        assert!((psi - 0.051_082_562_376_599_07).abs() < 1e-12);
    }

    #[test]
    fn size_change_values() {
        assert_eq!(size_change(100, 125), Some(0.25));
        assert_eq!(size_change(100, 50), Some(-0.5));
        assert_eq!(size_change(4, 4), Some(0.0));
        assert_eq!(size_change(0, 10), None);
    }

    #[test]
    fn flags_in_order() {
        assert!(segment_flags(None, 10, 0.25, 1).is_empty());
        assert_eq!(segment_flags(None, 3, 0.25, 5), vec!["below_min_size"]);
        assert_eq!(segment_flags(Some(0), 3, 0.25, 1), vec!["new"]);
        assert_eq!(segment_flags(Some(8), 0, 0.25, 5), vec!["gone", "size_change"]);
        // exactly at the threshold is not flagged; above it is
        assert!(segment_flags(Some(100), 125, 0.25, 1).is_empty());
        assert_eq!(segment_flags(Some(100), 126, 0.25, 1), vec!["size_change"]);
        assert_eq!(segment_flags(Some(100), 74, 0.25, 80), vec!["size_change", "below_min_size"]);
    }
}
