//! Hamerly's bounds: which rows of a Lloyd pass cannot change cluster, so their
//! distances to the centroids need not be computed again.
//!
//! Per row, `upper` ≥ its distance to its own centroid and `lower` ≤ its
//! distance to every other (Euclidean, not squared). When the centroids move,
//! the triangle inequality keeps them bounds: `upper` grows by how far the
//! row's centroid moved, `lower` shrinks by the farthest move of the others.
//! While `upper` < `lower` (with the margin below) the row keeps its cluster.
//!
//! The pass must give exactly the labels of computing every distance, which the
//! tests pin bit for bit: the kernel's f32 distances are rounded, so a row is
//! kept only when its own centroid wins by more than that rounding (`Margin`),
//! and every bound is rounded outwards each time it changes.

use super::simd::Isa;

/// f32 relative step used to round bounds outwards (> 2 × f32's unit roundoff).
const OUTWARDS: f32 = 1.0 / (1 << 22) as f32;

/// The relative error allowed for the kernel's distances, with room to spare:
/// a sum of `dims` rounded squares in f32 is within (dims + 2) × 2⁻²⁴ of the
/// exact squared distance, half that for the distance; this is 8× it.
#[derive(Clone, Copy, Debug)]
pub struct Margin(f32);

impl Margin {
    pub fn for_dims(dims: usize) -> Margin {
        Margin((dims as f32 + 8.0) * OUTWARDS)
    }
}

/// How far each centroid moved in the last update (the f32 centroids the
/// kernel reads), rounded up.
#[derive(Clone, Debug)]
pub struct Moves {
    by_centroid: Vec<f32>,
    farthest: usize,
    /// the farthest move of any centroid but `farthest`
    second: f32,
}

impl Moves {
    /// Between the centroids `old` and `new` (k × `dims`, f64; the kernel reads
    /// them rounded to f32, and so are they here).
    pub fn between(old: &[f64], new: &[f64], dims: usize) -> Moves {
        let by_centroid: Vec<f32> = old
            .chunks_exact(dims.max(1))
            .zip(new.chunks_exact(dims.max(1)))
            .map(|(a, b)| {
                let squared: f64 = a.iter().zip(b).map(|(&a, &b)| (f64::from(b as f32) - f64::from(a as f32)).powi(2)).sum();
                // the f64 sum and square root err by far less than 1e-6; the cast rounds to nearest
                (squared.sqrt() * (1.0 + 1e-6)) as f32 * (1.0 + OUTWARDS)
            })
            .collect();
        let farthest = (0..by_centroid.len()).max_by(|&a, &b| by_centroid[a].total_cmp(&by_centroid[b])).unwrap_or(0);
        let second = (0..by_centroid.len()).filter(|&c| c != farthest).map(|c| by_centroid[c]).fold(0.0, f32::max);
        Moves { by_centroid, farthest, second }
    }

    /// The farthest move of a centroid other than `label`.
    #[inline(always)]
    fn of_others(&self, label: usize) -> f32 {
        if label == self.farthest {
            self.second
        } else {
            self.by_centroid[self.farthest]
        }
    }
}

/// Moves a row's bounds by the centroids' `moves`; true when the row certainly
/// keeps its cluster `label` (its own centroid is nearer than any other by more
/// than the kernel's rounding).
#[inline(always)]
pub fn still_nearest(upper: &mut f32, lower: &mut f32, label: u32, moves: &Moves, margin: Margin) -> bool {
    let label = label as usize;
    // (a + b)(1 + OUTWARDS) rounded is ≥ a + b; a negative lower bound only forces a recomputation
    *upper = (*upper + moves.by_centroid[label]) * (1.0 + OUTWARDS);
    *lower = (*lower - moves.of_others(label)) * (1.0 - OUTWARDS);
    *upper * (1.0 + margin.0) < *lower * (1.0 - margin.0)
}

/// The rows of a block (`labels`, `upper`, `lower` side by side) whose bounds,
/// moved by `moves`, no longer show that they keep their cluster, and the rows
/// with no cluster yet: their indices written to the front of `todo` (at least
/// `labels.len()` long) in order; returns how many, with AVX2 where `isa` has it.
pub fn rows_to_compute(labels: &[u32], upper: &mut [f32], lower: &mut [f32], moves: &Moves, margin: Margin, todo: &mut [usize], isa: Isa) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if isa.avx2() {
            // SAFETY: `isa` is at most Isa::detect(), which checked the CPU; the lengths are checked there
            return unsafe { rows_to_compute_avx2(labels, upper, lower, moves, margin, todo) };
        }
    }
    let _ = isa;
    rows_to_compute_from(0, labels, upper, lower, moves, margin, todo, 0)
}

/// [`rows_to_compute`] one row at a time from row `first` (`count` rows already listed).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn rows_to_compute_from(first: usize, labels: &[u32], upper: &mut [f32], lower: &mut [f32], moves: &Moves, margin: Margin, todo: &mut [usize], mut count: usize) -> usize {
    // listed without a branch per row: whether a row is kept is close to a coin
    // toss in some passes, and a mispredicted branch costs more than the test
    for r in first..labels.len() {
        let kept = labels[r] != u32::MAX && still_nearest(&mut upper[r], &mut lower[r], labels[r], moves, margin);
        todo[count] = r;
        count += usize::from(!kept);
    }
    count
}

/// [`rows_to_compute`] 8 rows at a time: the same f32 operations in the same
/// order (so the same bounds), the moves of the rows' centroids gathered; a
/// row with no cluster has its bounds moved too, which changes nothing (it is
/// computed, and its bounds set afresh).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_to_compute_avx2(labels: &[u32], upper: &mut [f32], lower: &mut [f32], moves: &Moves, margin: Margin, todo: &mut [usize]) -> usize {
    use std::arch::x86_64::*;
    let n = labels.len();
    assert!(upper.len() >= n && lower.len() >= n && todo.len() >= n && !moves.by_centroid.is_empty());
    let mut count = 0;
    let mut r = 0;
    // SAFETY: rows r..r + 8 < n are in every slice (asserted above); the gather reads
    // by_centroid only at the labels of assigned rows, clamped to k − 1
    unsafe {
        let none = _mm256_set1_epi32(-1);
        let last = _mm256_set1_epi32(moves.by_centroid.len() as i32 - 1);
        let farthest = _mm256_set1_epi32(moves.farthest as i32);
        let farthest_move = _mm256_set1_ps(moves.by_centroid[moves.farthest]);
        let second = _mm256_set1_ps(moves.second);
        let (up, down) = (_mm256_set1_ps(1.0 + OUTWARDS), _mm256_set1_ps(1.0 - OUTWARDS));
        let (margin_up, margin_down) = (_mm256_set1_ps(1.0 + margin.0), _mm256_set1_ps(1.0 - margin.0));
        while r + 8 <= n {
            let label = _mm256_loadu_si256(labels.as_ptr().add(r).cast());
            let assigned = _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_cmpeq_epi32(label, none), none));
            // (labels are < k by construction; the clamp keeps the gather in bounds regardless)
            let own = _mm256_mask_i32gather_ps::<4>(_mm256_setzero_ps(), moves.by_centroid.as_ptr(), _mm256_min_epu32(label, last), assigned);
            let others = _mm256_blendv_ps(farthest_move, second, _mm256_castsi256_ps(_mm256_cmpeq_epi32(label, farthest)));
            let u = _mm256_mul_ps(_mm256_add_ps(_mm256_loadu_ps(upper.as_ptr().add(r)), own), up);
            let l = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(lower.as_ptr().add(r)), others), down);
            _mm256_storeu_ps(upper.as_mut_ptr().add(r), u);
            _mm256_storeu_ps(lower.as_mut_ptr().add(r), l);
            let kept = _mm256_and_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_mul_ps(u, margin_up), _mm256_mul_ps(l, margin_down)), assigned);
            let compute = !_mm256_movemask_ps(kept) & 0xff;
            for j in 0..8 {
                *todo.get_unchecked_mut(count) = r + j;
                count += ((compute >> j) & 1) as usize;
            }
            r += 8;
        }
    }
    rows_to_compute_from(r, labels, upper, lower, moves, margin, todo, count)
}

/// Hamerly's second test: `upper` set from the row's squared distance to its
/// own centroid (computed in f32: a sum of d rounded squares); true when the
/// row then certainly keeps its cluster.
#[inline(always)]
pub fn tightened(upper: &mut f32, lower: f32, own_squared: f32, margin: Margin) -> bool {
    *upper = own_squared.sqrt() * (1.0 + margin.0);
    *upper * (1.0 + margin.0) < lower * (1.0 - margin.0)
}

/// Fresh bounds of a row from its computed squared distances to its nearest
/// centroid and to the next one (a [`Near`](super::kernel::Near)'s `dist` and `second`): (upper, lower).
#[inline(always)]
pub fn from_distances(dist: f32, second: f32, margin: Margin) -> (f32, f32) {
    // the kernel's squared distances are within margin / 4 of the exact ones
    (dist.sqrt() * (1.0 + margin.0), second.sqrt() * (1.0 - margin.0))
}

/// Bounds that force a row's distances to be computed.
pub const UNKNOWN: (f32, f32) = (f32::INFINITY, 0.0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_to_compute_is_the_same_with_and_without_avx2() {
        if !Isa::detect().avx2() {
            return;
        }
        let mut rng = crate::kmeans::rng::Rng::new(4);
        let k = 5;
        let moves = Moves::between(&[0.0, 0.0, 1.0, 2.0, 3.0], &[0.1, 0.0, 1.3, 2.0, 2.95], 1);
        for n in [0, 1, 7, 8, 9, 64, 203] {
            let labels: Vec<u32> = (0..n).map(|i| if i % 11 == 3 { u32::MAX } else { (rng.next_f64() * k as f64) as u32 }).collect();
            let upper: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32).collect();
            let lower: Vec<f32> = upper.iter().map(|&u| u + (rng.next_f64() as f32 - 0.3)).collect();
            let run = |isa: Isa| {
                let (mut u, mut l, mut todo) = (upper.clone(), lower.clone(), vec![0; n]);
                let count = rows_to_compute(&labels, &mut u, &mut l, &moves, Margin::for_dims(1), &mut todo, isa);
                todo.truncate(count);
                // the bounds of rows with no cluster are not compared: they are set afresh
                let assigned = |v: &[f32]| v.iter().zip(&labels).filter(|(_, &c)| c != u32::MAX).map(|(x, _)| x.to_bits()).collect::<Vec<_>>();
                (todo, assigned(&u), assigned(&l))
            };
            let (portable, avx2) = (run(Isa::Portable), run(Isa::Avx2));
            assert_eq!(portable, avx2, "n = {n}");
            assert!(n < 64 || (portable.0.len() > n / 4 && portable.0.len() < n), "n = {n}: {} rows to compute", portable.0.len());
            assert!(labels.iter().enumerate().all(|(i, &c)| c != u32::MAX || portable.0.contains(&i)));
        }
    }

    #[test]
    fn moves_are_rounded_up_and_the_farthest_is_excluded_for_its_own_rows() {
        // centroid 0 moves 5 (3-4-5), centroid 1 moves 1, centroid 2 stays
        let old = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let new = [3.0, 4.0, 1.0, 2.0, 2.0, 2.0];
        let moves = Moves::between(&old, &new, 2);
        assert!(moves.by_centroid[0] >= 5.0 && moves.by_centroid[0] < 5.0001);
        assert!(moves.by_centroid[1] >= 1.0 && moves.by_centroid[1] < 1.0001);
        assert_eq!(moves.by_centroid[2], 0.0);
        assert_eq!(moves.of_others(0), moves.by_centroid[1]);
        assert_eq!(moves.of_others(1), moves.by_centroid[0]);
        assert_eq!(moves.of_others(2), moves.by_centroid[0]);
    }

    #[test]
    fn a_row_is_kept_only_with_room_beyond_the_rounding() {
        let margin = Margin::for_dims(4);
        let still = Moves::between(&[0.0, 0.0], &[0.0, 0.0], 1);
        // own centroid at 1, the other at 2: kept
        let (mut u, mut l) = from_distances(1.0, 4.0, margin);
        assert!(still_nearest(&mut u, &mut l, 0, &still, margin));
        // a tie, or nearly one: computed again
        let (mut u, mut l) = from_distances(1.0, 1.0, margin);
        assert!(!still_nearest(&mut u, &mut l, 0, &still, margin));
        let (mut u, mut l) = from_distances(1.0, 1.000001, margin);
        assert!(!still_nearest(&mut u, &mut l, 0, &still, margin));
        // unknown bounds: always computed
        let (mut u, mut l) = UNKNOWN;
        assert!(!still_nearest(&mut u, &mut l, 0, &still, margin));
    }

    #[test]
    fn bounds_follow_the_moves() {
        let margin = Margin::for_dims(2);
        // distance 1 to its own centroid, 3 to the other; the other comes 0.9 closer: kept
        let moves = Moves::between(&[0.0, 0.0, 3.0, 0.0], &[0.0, 0.0, 2.1, 0.0], 2);
        let (mut u, mut l) = from_distances(1.0, 9.0, margin);
        assert!(still_nearest(&mut u, &mut l, 0, &moves, margin));
        assert!(u >= 1.0 && l <= 2.1 && l > 2.09, "{u} {l}");
        // another 1.1 closer: the bounds meet (1 and 1), so the row is computed again
        let moves = Moves::between(&[0.0, 0.0, 2.1, 0.0], &[0.0, 0.0, 1.0, 0.0], 2);
        assert!(!still_nearest(&mut u, &mut l, 0, &moves, margin));
        // its own centroid moving away counts too
        let (mut u, mut l) = from_distances(1.0, 9.0, margin);
        let moves = Moves::between(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 2.5], 2);
        assert!(!still_nearest(&mut u, &mut l, 1, &moves, margin), "{u} {l}");
    }
}
