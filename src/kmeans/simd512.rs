//! The nearest-centroid search with AVX-512, 16 rows at a time, one row per lane.
//!
//! Same arithmetic as the AVX2 tiles (`simd.rs`) and the portable loop: for each
//! (row, centroid) pair `t = x_j − c_j` in f32 and `acc = fma(t, t, acc)` over
//! the features in order, then the first centroid with the smallest distance
//! (compared in order with a strict `<`) and the second smallest. So the same
//! bits (a test checks them against the portable loop).
//!
//! Why rows in the lanes rather than centroids as the AVX2 tiles do: a
//! register then holds one centroid's distances to 16 rows, which is the shape
//! the minimum search needs, so it runs on the accumulators as they are (4
//! instructions per centroid and 16 rows). The AVX2 search stores its
//! distances and transposes them back, which cost a third of the search at
//! d = 32, k = 32 (`perf`: 13% of a pass against 29% for the distances). The
//! price is transposing the 16 rows first (16 × 16 blocks in registers, ≈ 4
//! instructions a row per 16 features), which is why k ≤ 8 keeps the AVX2
//! tiles: there the distances are too few to pay for it.

#[cfg(target_arch = "x86_64")]
use super::kernel::Near;
#[cfg(target_arch = "x86_64")]
use super::simd::{assert_search_input, prefetch_row};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Rows per group: f32 lanes of one AVX-512 register.
const ROWS: usize = 16;

/// Whether this CPU runs [`nearest_rows`].
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && super::simd::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// As `simd::nearest_rows`: for each row of `x` (rows of `d` features; with
/// `picked`, row `picked[i]` of `x` for `out[i]`), the nearest of the `k`
/// centroids in `ct` (transposed: d × kp f32, kp = k rounded up to a multiple
/// of 8, padding columns never chosen), its squared distance and the second
/// smallest. `scratch` holds the transposed rows and is reused between calls.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`available`]);
/// `ct.len() >= d * kp`; the rows read are within `x` (checked).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
pub unsafe fn nearest_rows(x: &[f32], picked: Option<&[usize]>, d: usize, ct: &[f32], k: usize, out: &mut [Near], scratch: &mut Vec<f32>) {
    let kp = k.div_ceil(8) * 8;
    let n = out.len();
    assert!(k > 0);
    assert_search_input(x, picked, n, d, ct, kp);
    // the group's rows transposed: feature j of row r at j × 16 + r
    scratch.resize(d * ROWS, 0.0);
    let xt = scratch.as_mut_ptr();
    let (xp, cp) = (x.as_ptr(), ct.as_ptr());
    // where row i of `out` starts
    let row = |i: usize| unsafe { xp.add(picked.map_or(i, |p| p[i]) * d) };
    let mut g0 = 0;
    while g0 < n {
        let group = ROWS.min(n - g0);
        // where each row starts (a last, shorter group repeats its last row)
        // SAFETY (here and in `row`): the rows lie within x (asserted above)
        let rows: [*const f32; ROWS] = std::array::from_fn(|r| row(g0 + r.min(group - 1)));
        // the next group's rows are asked for now, to arrive while this group is
        // searched: read only when its search starts, they stalled it (a pass over
        // rows from memory took 38 ns a row on one thread against 23 in cache)
        // (picked rows were just read by the bounds' second test: they are in cache)
        if picked.is_none() {
            for i in g0 + ROWS..n.min(g0 + 2 * ROWS) {
                prefetch_row(row(i), d);
            }
        }
        unsafe {
            transpose_rows(&rows, d, xt);
            let mut best = _mm512_set1_ps(f32::INFINITY);
            let mut second = _mm512_set1_ps(f32::INFINITY);
            let mut index = _mm512_setzero_si512();
            let mut c0 = 0;
            while c0 < k {
                let left = k - c0;
                let state = (&mut best, &mut second, &mut index);
                // blocks of 16 centroids, the last of 8 or 4 (within kp: padding columns are zeros)
                c0 += match left {
                    16.. => search_block::<16>(xt, d, cp, kp, c0, left, state),
                    5..=15 if c0 + 16 <= kp => search_block::<16>(xt, d, cp, kp, c0, left, state),
                    5.. => search_block::<8>(xt, d, cp, kp, c0, left, state),
                    _ => search_block::<4>(xt, d, cp, kp, c0, left, state),
                };
            }
            let (mut indices, mut minima, mut seconds) = ([0u32; ROWS], [0f32; ROWS], [0f32; ROWS]);
            _mm512_storeu_si512(indices.as_mut_ptr().cast(), index);
            _mm512_storeu_ps(minima.as_mut_ptr(), best);
            _mm512_storeu_ps(seconds.as_mut_ptr(), second);
            for (r, o) in out[g0..g0 + group].iter_mut().enumerate() {
                *o = Near { label: indices[r], dist: minima[r], second: seconds[r] };
            }
        }
        g0 += group;
    }
}

/// The distances of the 16 transposed rows (`xt`: d × 16) to centroids
/// `c0..c0 + C` in C accumulators, then those of the first `min(C, left)`
/// centroids merged, in order, into the running first minimum (`best`, its
/// `index`) and second smallest. Returns C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn search_block<const C: usize>(
    xt: *const f32,
    d: usize,
    ct: *const f32,
    kp: usize,
    c0: usize,
    left: usize,
    (best, second, index): (&mut __m512, &mut __m512, &mut __m512i),
) -> usize {
    unsafe {
        let mut acc = [_mm512_setzero_ps(); C];
        for j in 0..d {
            let xj = _mm512_loadu_ps(xt.add(j * ROWS));
            let column = ct.add(j * kp + c0);
            for (c, a) in acc.iter_mut().enumerate() {
                let t = _mm512_sub_ps(xj, _mm512_set1_ps(*column.add(c)));
                *a = _mm512_fmadd_ps(t, t, *a);
            }
        }
        // (from +∞: the first centroid becomes the best, as the scan starts)
        for (c, &distance) in acc.iter().enumerate().take(left) {
            let less = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(distance, *best);
            *second = _mm512_min_ps(*second, _mm512_max_ps(distance, *best));
            *best = _mm512_min_ps(distance, *best);
            *index = _mm512_mask_mov_epi32(*index, less, _mm512_set1_epi32((c0 + c) as i32));
        }
    }
    C
}

/// Rows `rows[r]` (d features each) transposed into `xt` (feature j of row r
/// at j × 16 + r): 16 features of the 16 rows at a time through a 16 × 16
/// transpose in registers; the last d mod 16 features loaded masked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn transpose_rows(rows: &[*const f32; ROWS], d: usize, xt: *mut f32) {
    let mut j0 = 0;
    while j0 < d {
        let width = (d - j0).min(ROWS);
        let mask: __mmask16 = if width == ROWS { u16::MAX } else { (1u16 << width) - 1 };
        unsafe {
            // masked-off lanes are not read
            let r: [__m512; ROWS] = std::array::from_fn(|i| _mm512_maskz_loadu_ps(mask, rows[i].add(j0)));
            let columns = transpose_16x16(r);
            for (j, column) in columns.iter().enumerate().take(width) {
                _mm512_storeu_ps(xt.add((j0 + j) * ROWS), *column);
            }
        }
        j0 += ROWS;
    }
}

/// The transpose of a 16 × 16 block of f32 (row i in `r[i]`): element j of
/// the result's vector i is element i of `r[j]`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn transpose_16x16(r: [__m512; 16]) -> [__m512; 16] {
    // pairs of rows interleaved, then quads, within each 128-bit lane: u[4q + m] holds,
    // in 128-bit lane L, element 4L + m of rows 4q..4q + 4
    let t: [__m512; 16] =
        std::array::from_fn(|i| if i % 2 == 0 { _mm512_unpacklo_ps(r[i], r[i + 1]) } else { _mm512_unpackhi_ps(r[i - 1], r[i]) });
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (q, m) = (i / 4, i % 4);
        let (a, b) = (t[4 * q + m / 2], t[4 * q + 2 + m / 2]);
        if m % 2 == 0 { _mm512_shuffle_ps::<0x44>(a, b) } else { _mm512_shuffle_ps::<0xEE>(a, b) }
    });
    // then the 128-bit lanes: v[h * 8 + s * 4 + m] holds lanes (s, s + 2) of u[8h + m] and u[8h + 4 + m]
    let v: [__m512; 16] = std::array::from_fn(|i| {
        let (h, s, m) = (i / 8, i / 4 % 2, i % 4);
        let (a, b) = (u[8 * h + m], u[8 * h + 4 + m]);
        if s == 0 { _mm512_shuffle_f32x4::<0x88>(a, b) } else { _mm512_shuffle_f32x4::<0xDD>(a, b) }
    });
    // element e = 4L + m of all 16 rows: L = 0 and 2 from the even lanes of v[m] / v[8 + m], 1 and 3 from v[4 + m] / v[12 + m]
    std::array::from_fn(|e| {
        let (lane, m) = (e / 4, e % 4);
        let (a, b) = (v[(lane % 2) * 4 + m], v[8 + (lane % 2) * 4 + m]);
        if lane < 2 { _mm512_shuffle_f32x4::<0x88>(a, b) } else { _mm512_shuffle_f32x4::<0xDD>(a, b) }
    })
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn transpose_16x16_transposes() {
        if !available() {
            return;
        }
        let m: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut out = [0f32; 256];
        unsafe {
            let r: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(m.as_ptr().add(i * 16)));
            for (i, v) in transpose_16x16(r).iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add(i * 16), *v);
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(out[i * 16 + j], m[j * 16 + i], "element ({i}, {j})");
            }
        }
    }
}
