//! The state of the `kmeans_step` aggregate: one Lloyd step over any number of
//! partial scans, with bit-identical results whatever the plan.
//!
//! Floating-point sums depend on the order rows arrive in, and parallel workers
//! or partitions change that order. So every value is converted to 128-bit
//! fixed point (2⁻⁴⁰ resolution, exact for the power-of-two scaling, rounded
//! once per value) and summed as integers, which is associative: serial,
//! parallel and partitioned runs give the same bytes.
//!
//! Layout (little-endian): b"KMS1", k u32, d u32, centroids f64 × k·d,
//! counts i64 × k, sums i128 × k·d, inertia i128.

use crate::error::{Error, Result, SqlState};

const MAGIC: &[u8; 4] = b"KMS1";
const SCALE: f64 = (1u64 << 40) as f64;
/// Inputs beyond ±2⁶⁰ could overflow 128-bit sums of squared distances.
const LIMIT: f64 = (1u64 << 60) as f64;

pub fn state_size(k: usize, d: usize) -> usize {
    12 + 8 * k * d + 8 * k + 16 * k * d + 16
}

/// A fresh state for these centroids (k × d).
pub fn new_state(centroids: &[f64], k: usize, d: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(state_size(k, d));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(k as u32).to_le_bytes());
    out.extend_from_slice(&(d as u32).to_le_bytes());
    for c in centroids {
        out.extend_from_slice(&c.to_le_bytes());
    }
    out.resize(state_size(k, d), 0);
    out
}

fn corrupt() -> Error {
    Error::new(SqlState::InvalidTextRepresentation, "kmeans_step state is corrupt")
        .with_hint("pass only states made by kmeans_step_transition or kmeans_step_combine")
}

/// (k, d) of a state, checking its size.
pub fn shape(state: &[u8]) -> Result<(usize, usize)> {
    if state.len() < 12 || &state[0..4] != MAGIC {
        return Err(corrupt());
    }
    let k = u32::from_le_bytes(state[4..8].try_into().unwrap()) as usize;
    let d = u32::from_le_bytes(state[8..12].try_into().unwrap()) as usize;
    if state.len() != state_size(k, d) {
        return Err(corrupt());
    }
    Ok((k, d))
}

struct Offsets {
    centroids: usize,
    counts: usize,
    sums: usize,
    inertia: usize,
}

fn offsets(k: usize, d: usize) -> Offsets {
    let centroids = 12;
    let counts = centroids + 8 * k * d;
    let sums = counts + 8 * k;
    Offsets { centroids, counts, sums, inertia: sums + 16 * k * d }
}

fn f64_at(s: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(s[at..at + 8].try_into().unwrap())
}
fn i64_at(s: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(s[at..at + 8].try_into().unwrap())
}
fn i128_at(s: &[u8], at: usize) -> i128 {
    i128::from_le_bytes(s[at..at + 16].try_into().unwrap())
}

fn fixed(x: f64) -> i128 {
    (x * SCALE).round() as i128
}

fn overflow() -> Error {
    Error::new(SqlState::NumericValueOutOfRange, "kmeans_step sums overflow 128-bit fixed point")
        .with_hint("scale the features down (e.g. z-scores); values must stay within ±1e18")
}

/// The centroids stored in a state.
pub fn centroids(state: &[u8]) -> Result<Vec<f64>> {
    let (k, d) = shape(state)?;
    let o = offsets(k, d);
    Ok((0..k * d).map(|i| f64_at(state, o.centroids + 8 * i)).collect())
}

/// Adds one row (already checked finite, length d) to the state in place.
pub fn add_row(state: &mut [u8], row: &[f64]) -> Result<()> {
    let (k, d) = shape(state)?;
    let o = offsets(k, d);
    let mut best = (0usize, f64::INFINITY);
    for c in 0..k {
        let mut dist = 0f64;
        for (j, &x) in row.iter().enumerate() {
            let t = x - f64_at(state, o.centroids + 8 * (c * d + j));
            dist += t * t;
        }
        if dist < best.1 {
            best = (c, dist);
        }
    }
    if row.iter().any(|x| x.abs() > LIMIT) || best.1 > LIMIT * LIMIT {
        return Err(overflow());
    }
    let (c, dist) = best;
    let at = o.counts + 8 * c;
    let count = i64_at(state, at) + 1;
    state[at..at + 8].copy_from_slice(&count.to_le_bytes());
    for (j, &x) in row.iter().enumerate() {
        let at = o.sums + 16 * (c * d + j);
        let sum = i128_at(state, at).checked_add(fixed(x)).ok_or_else(overflow)?;
        state[at..at + 16].copy_from_slice(&sum.to_le_bytes());
    }
    let inertia = i128_at(state, o.inertia).checked_add(fixed(dist)).ok_or_else(overflow)?;
    state[o.inertia..o.inertia + 16].copy_from_slice(&inertia.to_le_bytes());
    Ok(())
}

/// Two partial states of the same centroids, summed.
pub fn merge(a: &[u8], b: &[u8]) -> Result<Vec<u8>> {
    let (k, d) = shape(a)?;
    if shape(b)? != (k, d) || a[12..12 + 8 * k * d] != b[12..12 + 8 * k * d] {
        return Err(Error::invalid_parameter("kmeans_step got different centroids in one group")
            .with_hint("pass the same centroids array in every row, e.g. from a scalar subquery"));
    }
    let o = offsets(k, d);
    let mut out = a.to_vec();
    for c in 0..k {
        let at = o.counts + 8 * c;
        out[at..at + 8].copy_from_slice(&(i64_at(a, at) + i64_at(b, at)).to_le_bytes());
    }
    for i in 0..=k * d {
        // the k·d sums, then inertia right after them
        let at = o.sums + 16 * i;
        let sum = i128_at(a, at).checked_add(i128_at(b, at)).ok_or_else(overflow)?;
        out[at..at + 16].copy_from_slice(&sum.to_le_bytes());
    }
    debug_assert_eq!(o.sums + 16 * k * d, o.inertia);
    Ok(out)
}

/// The outcome of one Lloyd step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    pub k: usize,
    pub dims: usize,
    /// New centroids (k × d): the mean of each cluster's rows; a cluster with
    /// no row keeps its old centroid.
    pub centroids: Vec<f64>,
    pub counts: Vec<i64>,
    /// Sum of squared distances of the rows to the old centroids.
    pub inertia: f64,
    /// Sum of squared centroid moves (scikit-learn's convergence measure).
    pub shift: f64,
}

pub fn finish(state: &[u8]) -> Result<StepResult> {
    let (k, d) = shape(state)?;
    let o = offsets(k, d);
    let old = centroids(state)?;
    let counts: Vec<i64> = (0..k).map(|c| i64_at(state, o.counts + 8 * c)).collect();
    let mut new = old.clone();
    for c in 0..k {
        if counts[c] > 0 {
            for j in 0..d {
                let sum = i128_at(state, o.sums + 16 * (c * d + j)) as f64 / SCALE;
                new[c * d + j] = sum / counts[c] as f64;
            }
        }
    }
    let shift = new.iter().zip(&old).map(|(a, b)| (a - b) * (a - b)).sum();
    Ok(StepResult { k, dims: d, centroids: new, counts, inertia: i128_at(state, o.inertia) as f64 / SCALE, shift })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_by_hand() {
        let mut s = new_state(&[0.0, 0.0, 10.0, 0.0], 2, 2);
        for row in [[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0], [9.0, 0.0]] {
            add_row(&mut s, &row).unwrap();
        }
        let r = finish(&s).unwrap();
        assert_eq!(r.counts, vec![2, 3]);
        assert_eq!(r.centroids, vec![0.0, 0.5, 29.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(r.inertia, 3.0);
        let shift = 0.25 + (1.0f64 / 3.0).powi(2) * 2.0;
        assert!((r.shift - shift).abs() < 1e-15);
    }

    #[test]
    fn order_and_grouping_do_not_change_the_bytes() {
        let rows: Vec<[f64; 2]> = (0..100).map(|i| [(i as f64 * 0.37).sin() * 1e3, 1.0 / (i as f64 + 0.1)]).collect();
        let init = new_state(&[0.0, 0.0, 500.0, 0.0], 2, 2);
        let mut serial = init.clone();
        for r in &rows {
            add_row(&mut serial, r).unwrap();
        }
        let (mut a, mut b) = (init.clone(), init.clone());
        for r in rows.iter().rev() {
            if r[0] > 0.0 { add_row(&mut a, r).unwrap() } else { add_row(&mut b, r).unwrap() }
        }
        assert_eq!(merge(&b, &a).unwrap(), serial);
        assert_eq!(merge(&a, &b).unwrap(), serial);
    }

    #[test]
    fn mismatched_and_corrupt_states_are_refused() {
        let a = new_state(&[0.0, 1.0], 2, 1);
        let b = new_state(&[0.0, 2.0], 2, 1);
        assert_eq!(merge(&a, &b).unwrap_err().state, SqlState::InvalidParameterValue);
        assert_eq!(shape(&a[..10]).unwrap_err().state, SqlState::InvalidTextRepresentation);
        let mut s = new_state(&[0.0], 1, 1);
        assert_eq!(add_row(&mut s, &[1e19]).unwrap_err().state, SqlState::NumericValueOutOfRange);
    }
}
