//! The nearest-centroid search of the Lloyd pass, register-tiled for AVX2 + FMA.
//!
//! Same arithmetic as the portable loop in `kernel.rs`: for each (row,
//! centroid) pair, `t = x_j − c_j` in f32 and `acc = fma(t, t, acc)` over the
//! features in order, then the first centroid with the smallest distance. Only
//! the order in which the independent pairs are computed changes: a tile of R
//! rows × B blocks of 8 centroids lives in R × B registers, so each centroid
//! vector loaded serves R rows and R × B FMA chains run side by side (the
//! untiled loop had one chain, bound by FMA latency). Labels and distances are
//! therefore bit-identical to the portable loop with FMA (a test checks it).
//!
//! Why not ‖x‖² − 2x·c + ‖c‖² as BLAS-based k-means does: it halves the
//! arithmetic but changes the f32 rounding (and so near-tie labels and the
//! pinned results), and cancels badly when the data sit far from the origin.

#[cfg(target_arch = "x86_64")]
use super::kernel::Near;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// f32 lanes of one AVX register: centroids per block.
pub const LANES: usize = 8;

/// The vector instructions the Lloyd pass uses on this CPU (one value passed
/// down the pass, so each function that has a vector version asks one place).
/// (Ordered as declared: each one also runs what the ones before it run.)
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Isa {
    /// No AVX2 + FMA: the portable loops.
    Portable,
    /// AVX2 + FMA: this file's tiles.
    Avx2,
    /// AVX2 + FMA and AVX-512F: also the 16-rows-at-once search of
    /// `simd512.rs` (for k > 8; the AVX2 tiles below that).
    Avx512,
}

impl Isa {
    /// The best this CPU runs.
    pub fn detect() -> Isa {
        if super::simd512::available() {
            Isa::Avx512
        } else if available() {
            Isa::Avx2
        } else {
            Isa::Portable
        }
    }

    /// Whether the AVX2 + FMA code may run.
    pub fn avx2(self) -> bool {
        self != Isa::Portable
    }

    /// This CPU's instruction sets, the best first (tests compare them all).
    pub fn all_available() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Portable].into_iter().filter(|&i| i <= Isa::detect()).collect()
    }
}

/// Whether this CPU runs [`nearest_rows`].
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// For each row of `x` (rows of `d` features, `out.len()` of them; with
/// `picked`, row `picked[i]` of `x` for `out[i]`): the nearest of the `k`
/// centroids in `ct` (transposed: d × kp f32, kp = k rounded up to whole
/// blocks, padding columns never chosen), its squared distance and the second
/// smallest (see [`Near`]). `scratch` is reused between calls. The picked rows
/// are read where they are (no copy side by side first): the tile reads each
/// row through its own pointer either way.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]); `ct.len() >= d * kp`;
/// the rows read are within `x` (checked).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn nearest_rows(x: &[f32], picked: Option<&[usize]>, d: usize, ct: &[f32], k: usize, out: &mut [Near], scratch: &mut Vec<f32>) {
    let kp = k.div_ceil(LANES) * LANES;
    let blocks = kp / LANES;
    let n = out.len();
    assert_search_input(x, picked, n, d, ct, kp);
    // R × kp distances of one row tile
    scratch.resize(ROWS_MAX * kp, 0.0);
    let dist = scratch.as_mut_ptr();
    let (xp, cp) = (x.as_ptr(), ct.as_ptr());
    // rows per tile: more when the centroids fit in fewer registers
    let rows_per_tile = if blocks == 1 { 8 } else { 4 };
    // groups of 8 rows: their distances in `dist` (row r at r × kp), then the 8
    // minimum searches side by side, one row per lane (a last, shorter group
    // also searches whatever the other rows of `dist` hold, and keeps only its own)
    let mut g0 = 0;
    while g0 < n {
        let group = ROWS_MAX.min(n - g0);
        let mut r0 = g0;
        while r0 < g0 + group {
            let rows = rows_per_tile.min(g0 + group - r0);
            // where each row of the tile starts
            let mut xr = [xp; ROWS_MAX];
            for (r, at) in xr.iter_mut().enumerate().take(rows) {
                let row = picked.map_or(r0 + r, |p| p[r0 + r]);
                *at = unsafe { xp.add(row * d) };
            }
            let xr = &xr;
            let dist = unsafe { dist.add((r0 - g0) * kp) };
            let mut b0 = 0;
            while b0 < blocks {
                let left = blocks - b0;
                unsafe {
                    match (rows, left) {
                        (8, _) => tile::<8, 1>(xr, d, cp, kp, b0, dist),
                        (4, 1) => tile::<4, 1>(xr, d, cp, kp, b0, dist),
                        (4, _) => tile::<4, 2>(xr, d, cp, kp, b0, dist),
                        (_, 1) => tiles_of_one::<1>(rows, xr, d, cp, kp, b0, dist),
                        (_, _) => tiles_of_one::<2>(rows, xr, d, cp, kp, b0, dist),
                    }
                }
                b0 += if rows == 8 || left == 1 { 1 } else { 2 };
            }
            r0 += rows;
        }
        if group == ROWS_MAX {
            unsafe { first_min_of_8_rows(dist, kp, k, &mut out[g0..g0 + ROWS_MAX]) };
        } else {
            let mut found = [Near::default(); ROWS_MAX];
            unsafe { first_min_of_8_rows(dist, kp, k, &mut found) };
            out[g0..g0 + group].copy_from_slice(&found[..group]);
        }
        g0 += group;
    }
}

/// The checks both vector searches make before reading through raw pointers:
/// `n` rows of `x` (or rows `picked` of it, `n` of them) lie within `x`, and
/// `ct` holds d × kp centroid values.
#[cfg(target_arch = "x86_64")]
pub(super) fn assert_search_input(x: &[f32], picked: Option<&[usize]>, n: usize, d: usize, ct: &[f32], kp: usize) {
    assert!(ct.len() >= d * kp);
    match picked {
        None => assert!(x.len() >= n * d),
        Some(p) => assert!(p.len() == n && p.iter().all(|&r| (r + 1) * d <= x.len())),
    }
}

/// Most rows in one tile.
const ROWS_MAX: usize = 8;

/// Asks for the cache lines of the `d` features at `row` to be brought into
/// L1 (a hint: no fault, whatever the address).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn prefetch_row(row: *const f32, d: usize) {
    let (first, end) = (row as usize & !63, row as usize + d * 4);
    let mut line = first;
    while line < end {
        // SAFETY: prefetching is a hint; it reads nothing the program sees
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
        line += 64;
    }
}

/// Distances of R rows (row r starts at `x[r]`) to blocks `b0..b0 + B` of the
/// centroids, written to `dist` (row r at `r * kp`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const B: usize>(x: &[*const f32], d: usize, ct: *const f32, kp: usize, b0: usize, dist: *mut f32) {
    let x: &[*const f32; R] = x[..R].try_into().expect("R row pointers");
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); B]; R];
        for j in 0..d {
            let mut c = [_mm256_setzero_ps(); B];
            for (b, cb) in c.iter_mut().enumerate() {
                *cb = _mm256_loadu_ps(ct.add(j * kp + (b0 + b) * LANES));
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xb = _mm256_set1_ps(*x[r].add(j));
                for (a, cb) in acc_r.iter_mut().zip(&c) {
                    let t = _mm256_sub_ps(xb, *cb);
                    *a = _mm256_fmadd_ps(t, t, *a);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (b, a) in acc_r.iter().enumerate() {
                _mm256_storeu_ps(dist.add(r * kp + (b0 + b) * LANES), *a);
            }
        }
    }
}

/// The last rows of a chunk (fewer than a tile), one at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tiles_of_one<const B: usize>(rows: usize, x: &[*const f32], d: usize, ct: *const f32, kp: usize, b0: usize, dist: *mut f32) {
    for r in 0..rows {
        unsafe { tile::<1, B>(&x[r..], d, ct, kp, b0, dist.add(r * kp)) };
    }
}

/// The nearest centroid of 8 rows at once (`dist`: 8 rows, row r at `r * kp`):
/// the first index of the smallest distance, that distance and the smallest
/// distance to any other centroid (equal to it on a tie). Each
/// 8 × 8 block of distances is transposed so that each vector holds one
/// centroid's distances to the 8 rows, then the centroids are compared in
/// order with a strict `<` (the first minimum wins, as in the sequential
/// scan), the second smallest kept alongside. No horizontal reduction per
/// row, and padding lanes are never read. (One row at a time, the horizontal
/// steps cost ≈ 25 ns a row at k = 32, a third of the distance search.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn first_min_of_8_rows(dist: *const f32, kp: usize, k: usize, out: &mut [Near]) {
    unsafe {
        let mut best = _mm256_set1_ps(f32::INFINITY);
        let mut second = _mm256_set1_ps(f32::INFINITY);
        let mut index = _mm256_setzero_si256();
        for b in 0..kp / LANES {
            let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(dist.add(i * kp + b * LANES)));
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            // centroid b × 8 + c's distances to rows 0..8
            let columns = [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
                _mm256_permute2f128_ps::<0x31>(s2, s6),
                _mm256_permute2f128_ps::<0x31>(s3, s7),
            ];
            // (from +∞: the first centroid becomes the best, as the scan starts)
            for (c, &column) in columns.iter().enumerate().take(k - b * LANES) {
                let less = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(column, best));
                second = _mm256_min_ps(second, _mm256_max_ps(column, best));
                best = _mm256_min_ps(column, best);
                index = _mm256_blendv_epi8(index, _mm256_set1_epi32((b * LANES + c) as i32), less);
            }
        }
        let (mut indices, mut minima, mut seconds) = ([0u32; 8], [0f32; 8], [0f32; 8]);
        _mm256_storeu_si256(indices.as_mut_ptr().cast(), index);
        _mm256_storeu_ps(minima.as_mut_ptr(), best);
        _mm256_storeu_ps(seconds.as_mut_ptr(), second);
        for (r, o) in out.iter_mut().enumerate() {
            *o = Near { label: indices[r], dist: minima[r], second: seconds[r] };
        }
    }
}

/// Squared Euclidean distance of `x` to `c` in f32, 16 features at a time in
/// two FMA chains. For Hamerly's second test, where only its error bound
/// matters (the distance kernel's or better), not its bits: the loop the
/// compiler made of the portable version mixed 4-wide and scalar steps and was
/// half the bookkeeping of a pass at d = 32.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn squared_distance(x: &[f32], c: &[f32]) -> f32 {
    let d = x.len().min(c.len());
    let (xp, cp) = (x.as_ptr(), c.as_ptr());
    // SAFETY: every read is at an index below d, in both slices
    unsafe {
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut j = 0;
        while j + 16 <= d {
            let t0 = _mm256_sub_ps(_mm256_loadu_ps(xp.add(j)), _mm256_loadu_ps(cp.add(j)));
            let t1 = _mm256_sub_ps(_mm256_loadu_ps(xp.add(j + 8)), _mm256_loadu_ps(cp.add(j + 8)));
            a0 = _mm256_fmadd_ps(t0, t0, a0);
            a1 = _mm256_fmadd_ps(t1, t1, a1);
            j += 16;
        }
        if j + 8 <= d {
            let t0 = _mm256_sub_ps(_mm256_loadu_ps(xp.add(j)), _mm256_loadu_ps(cp.add(j)));
            a0 = _mm256_fmadd_ps(t0, t0, a0);
            j += 8;
        }
        let a = _mm256_add_ps(a0, a1);
        let v = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
        let v = _mm_add_ps(v, _mm_movehl_ps(v, v));
        let mut sum = _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps::<1>(v, v)));
        while j < d {
            let t = *xp.add(j) - *cp.add(j);
            sum = t.mul_add(t, sum);
            j += 1;
        }
        sum
    }
}

/// `kernel::distance2` for f32 rows with AVX2, bit for bit: the same four
/// partial sums (lane l takes the features j ≡ l mod 4, a product then a sum,
/// no FMA) in one register, combined in the same order. The final pass
/// measures every row with it (the compiler made 2-wide steps and shuffles of
/// the portable loop).
///
/// # Safety
/// The CPU must support AVX2 ([`available`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn distance2(x: &[f32], c: &[f64]) -> f64 {
    let d = x.len().min(c.len());
    let (xp, cp) = (x.as_ptr(), c.as_ptr());
    // SAFETY: every read is at an index below d, in both slices
    unsafe {
        let mut lanes = _mm256_setzero_pd();
        let mut j = 0;
        while j + 4 <= d {
            let diff = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(xp.add(j))), _mm256_loadu_pd(cp.add(j)));
            lanes = _mm256_add_pd(lanes, _mm256_mul_pd(diff, diff));
            j += 4;
        }
        let mut rest = 0f64;
        while j < d {
            let diff = f64::from(*xp.add(j)) - *cp.add(j);
            rest += diff * diff;
            j += 1;
        }
        let mut l = [0f64; 4];
        _mm256_storeu_pd(l.as_mut_ptr(), lanes);
        (l[0] + l[1]) + (l[2] + l[3]) + rest
    }
}
