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
//! With more than 8 centroids, [`nearest_rows_screened`] first ranks them by
//! ‖c‖² − 2x·c (one FMA per pair, as BLAS-based k-means computes distances),
//! then recomputes the exact `(x − c)²` sums above only for the centroids
//! within a proven rounding margin of the best; the answer is the same bits,
//! and the screen costs half the arithmetic of the full exact pass.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// f32 lanes of one AVX register: centroids per block.
pub const LANES: usize = 8;

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

/// For each row of `x` (rows of `d` features, `out.len()` of them): the nearest
/// of the `k` centroids in `ct` (transposed: d × kp f32, kp = k rounded up to
/// whole blocks, padding columns never chosen) and its squared distance.
/// `scratch` is reused between calls.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]); `x.len() >= out.len() * d`
/// and `ct.len() >= d * kp`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn nearest_rows(x: &[f32], d: usize, ct: &[f32], k: usize, out: &mut [(u32, f32)], scratch: &mut Vec<f32>) {
    let kp = k.div_ceil(LANES) * LANES;
    let blocks = kp / LANES;
    let n = out.len();
    assert!(x.len() >= n * d && ct.len() >= d * kp);
    // R × kp distances of one row tile
    scratch.resize(ROWS_MAX * kp, 0.0);
    let dist = scratch.as_mut_ptr();
    let (xp, cp) = (x.as_ptr(), ct.as_ptr());
    // rows per tile: more when the centroids fit in fewer registers
    let rows_per_tile = if blocks == 1 { 8 } else { 4 };
    // +∞ in the last block's padding lanes (never chosen), 0 elsewhere: max(distance, pad)
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let real = _mm256_cmpgt_epi32(_mm256_set1_epi32((k - (blocks - 1) * LANES) as i32), lane);
    let pad = _mm256_andnot_ps(_mm256_castsi256_ps(real), _mm256_set1_ps(f32::INFINITY));
    if blocks >= 2 {
        // many centroids: screen with dot products first (half the arithmetic)
        if let Some(()) = unsafe { nearest_rows_screened(x, d, ct, k, out, scratch, real) } {
            return;
        }
    }
    let mut r0 = 0;
    while r0 < n {
        let rows = rows_per_tile.min(n - r0);
        let xr = unsafe { xp.add(r0 * d) };
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
        for r in 0..rows {
            out[r0 + r] = unsafe { first_min(dist.add(r * kp), blocks, pad) };
        }
        r0 += rows;
    }
}

/// Most rows in one tile.
const ROWS_MAX: usize = 8;

/// Distances of R rows (from `x`) to blocks `b0..b0 + B` of the centroids,
/// written to `dist` (row r at `r * kp`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const B: usize>(x: *const f32, d: usize, ct: *const f32, kp: usize, b0: usize, dist: *mut f32) {
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); B]; R];
        for j in 0..d {
            let mut c = [_mm256_setzero_ps(); B];
            for (b, cb) in c.iter_mut().enumerate() {
                *cb = _mm256_loadu_ps(ct.add(j * kp + (b0 + b) * LANES));
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xb = _mm256_set1_ps(*x.add(r * d + j));
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
unsafe fn tiles_of_one<const B: usize>(rows: usize, x: *const f32, d: usize, ct: *const f32, kp: usize, b0: usize, dist: *mut f32) {
    for r in 0..rows {
        unsafe { tile::<1, B>(x.add(r * d), d, ct, kp, b0, dist.add(r * kp)) };
    }
}

/// The first index of the smallest of `blocks` × 8 distances, and that distance;
/// `pad` (+∞ in the padding lanes of the last block) keeps padding out.
/// Distances are never NaN (finite inputs; overflow gives +∞), so this equals
/// the sequential scan with a strict `<`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn first_min(dist: *mut f32, blocks: usize, pad: __m256) -> (u32, f32) {
    unsafe {
        let last = dist.add((blocks - 1) * LANES);
        _mm256_storeu_ps(last, _mm256_max_ps(_mm256_loadu_ps(last), pad));
        let mut m = _mm256_loadu_ps(dist);
        for b in 1..blocks {
            m = _mm256_min_ps(m, _mm256_loadu_ps(dist.add(b * LANES)));
        }
        let v = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let v = _mm_min_ps(v, _mm_movehl_ps(v, v));
        let v = _mm_min_ss(v, _mm_shuffle_ps::<1>(v, v));
        let min = _mm_cvtss_f32(v);
        let wanted = _mm256_set1_ps(min);
        for b in 0..blocks {
            let mask = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_loadu_ps(dist.add(b * LANES)), wanted));
            if mask != 0 {
                return ((b * LANES) as u32 + mask.trailing_zeros(), min);
            }
        }
        (0, min)
    }
}

/// Rounding margin of the screen, in units of (‖x‖² + max ‖c‖²): with u = 2⁻²⁴
/// and γ = (d + 2)u, the screened value of every centroid is within 2γ(‖x‖² +
/// max‖c‖²) of ‖c‖² − 2x·c, and the exact sums within γ·(x − c)² ≤ 2γ(‖x‖² +
/// max‖c‖²) of the true squared distance, so the exact winner is screened at
/// most 8γ(‖x‖² + max‖c‖²) above the best screened value. This uses 40(d + 2)u,
/// five times that.
fn screen_margin(d: usize) -> f64 {
    40.0 * (d as f64 + 2.0) * f64::powi(2.0, -24)
}

/// Above this (‖x‖², ‖c‖²) the screen could overflow f32; the exact pass runs instead.
const SCREEN_LIMIT: f64 = 1e30;

/// [`nearest_rows`] for more than one block of centroids: screen, then the
/// exact sums for the few centroids within the margin (ties: the lowest index,
/// as the exact pass). None (nothing written) when a centroid is too large to
/// screen safely.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn nearest_rows_screened(x: &[f32], d: usize, ct: &[f32], k: usize, out: &mut [(u32, f32)], scratch: &mut Vec<f32>, real: __m256i) -> Option<()> {
    let kp = k.div_ceil(LANES) * LANES;
    let blocks = kp / LANES;
    let n = out.len();
    // scratch: R × kp screened values, ‖c‖² (kp), −2c transposed (d × kp)
    scratch.resize(ROWS_MAX * kp + kp + d * kp, 0.0);
    let (dist, rest) = scratch.split_at_mut(ROWS_MAX * kp);
    let (norms, m2ct) = rest.split_at_mut(kp);
    let mut c_max = 0f64;
    for (c, norm) in norms.iter_mut().enumerate() {
        let s: f64 = (0..d).map(|j| f64::from(ct[j * kp + c]) * f64::from(ct[j * kp + c])).sum();
        *norm = s as f32;
        if c < k {
            c_max = c_max.max(s);
        }
    }
    if c_max.is_nan() || c_max > SCREEN_LIMIT {
        return None;
    }
    for (m, &c) in m2ct.iter_mut().zip(&ct[..d * kp]) {
        *m = -2.0 * c; // exact: a power of two
    }
    let margin = screen_margin(d);
    let padsel = _mm256_andnot_ps(_mm256_castsi256_ps(real), _mm256_set1_ps(-0.0));
    let (xp, mp, np, dp) = (x.as_ptr(), m2ct.as_ptr(), norms.as_ptr(), dist.as_mut_ptr());
    let mut r0 = 0;
    while r0 < n {
        let rows = 4.min(n - r0);
        let xr = unsafe { xp.add(r0 * d) };
        let mut b0 = 0;
        while b0 < blocks {
            let left = blocks - b0;
            unsafe {
                match (rows, left) {
                    (4, 1) => dot_tile::<4, 1>(xr, d, mp, np, kp, b0, dp),
                    (4, _) => dot_tile::<4, 2>(xr, d, mp, np, kp, b0, dp),
                    (_, 1) => {
                        for r in 0..rows {
                            dot_tile::<1, 1>(xr.add(r * d), d, mp, np, kp, b0, dp.add(r * kp))
                        }
                    }
                    (_, _) => {
                        for r in 0..rows {
                            dot_tile::<1, 2>(xr.add(r * d), d, mp, np, kp, b0, dp.add(r * kp))
                        }
                    }
                }
            }
            b0 += if left == 1 { 1 } else { 2 };
        }
        for r in 0..rows {
            let row = &x[(r0 + r) * d..(r0 + r + 1) * d];
            let xn: f64 = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            out[r0 + r] = unsafe {
                if xn > SCREEN_LIMIT {
                    exact_min(row, ct, k, kp, 0..k)
                } else {
                    screened_min(dp.add(r * kp), blocks, padsel, margin * (xn + c_max), row, ct, k, kp)
                }
            };
        }
        r0 += rows;
    }
    Some(())
}

/// Screened values ‖c‖² − 2x·c of R rows to blocks `b0..b0 + B` (row r at `r * kp`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn dot_tile<const R: usize, const B: usize>(x: *const f32, d: usize, m2ct: *const f32, norms: *const f32, kp: usize, b0: usize, dist: *mut f32) {
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); B]; R];
        for acc_r in acc.iter_mut() {
            for (b, a) in acc_r.iter_mut().enumerate() {
                *a = _mm256_loadu_ps(norms.add((b0 + b) * LANES));
            }
        }
        for j in 0..d {
            let mut c = [_mm256_setzero_ps(); B];
            for (b, cb) in c.iter_mut().enumerate() {
                *cb = _mm256_loadu_ps(m2ct.add(j * kp + (b0 + b) * LANES));
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xb = _mm256_set1_ps(*x.add(r * d + j));
                for (a, cb) in acc_r.iter_mut().zip(&c) {
                    *a = _mm256_fmadd_ps(xb, *cb, *a);
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

/// The exact squared distance of `row` to centroid `c`: the same operations,
/// in the same order, as one lane of [`tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exact(row: &[f32], ct: &[f32], kp: usize, c: usize) -> f32 {
    let mut acc = 0f32;
    for (j, &xj) in row.iter().enumerate() {
        let t = xj - ct[j * kp + c];
        acc = t.mul_add(t, acc);
    }
    acc
}

/// The first centroid of `candidates` (in increasing order) with the smallest exact distance.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exact_min(row: &[f32], ct: &[f32], k: usize, kp: usize, candidates: impl Iterator<Item = usize>) -> (u32, f32) {
    let mut best = (0u32, f32::INFINITY);
    for c in candidates.filter(|&c| c < k) {
        let e = exact(row, ct, kp, c);
        if e < best.1 {
            best = (c as u32, e);
        }
    }
    best
}

/// From one row's screened values: the exact winner among the centroids
/// screened within `margin` of the best.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn screened_min(dist: *mut f32, blocks: usize, padsel: __m256, margin: f64, row: &[f32], ct: &[f32], k: usize, kp: usize) -> (u32, f32) {
    unsafe {
        // padding lanes: +∞ (the screened values may be negative, so no max here)
        let last = dist.add((blocks - 1) * LANES);
        _mm256_storeu_ps(last, _mm256_blendv_ps(_mm256_loadu_ps(last), _mm256_set1_ps(f32::INFINITY), padsel));
        let mut m = _mm256_loadu_ps(dist);
        for b in 1..blocks {
            m = _mm256_min_ps(m, _mm256_loadu_ps(dist.add(b * LANES)));
        }
        let v = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let v = _mm_min_ps(v, _mm_movehl_ps(v, v));
        let v = _mm_min_ss(v, _mm_shuffle_ps::<1>(v, v));
        let min = f64::from(_mm_cvtss_f32(v));
        if !min.is_finite() {
            return exact_min(row, ct, k, kp, 0..k);
        }
        // the threshold rounded up, so no candidate is lost to its own rounding
        let t = min + margin;
        let threshold = _mm256_set1_ps((t + t.abs() * 1e-6 + 1e-30) as f32);
        let candidates = (0..blocks).flat_map(|b| {
            let mut mask = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(_mm256_loadu_ps(dist.add(b * LANES)), threshold)) as u32;
            std::iter::from_fn(move || {
                (mask != 0).then(|| {
                    let l = mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    b * LANES + l
                })
            })
        });
        exact_min(row, ct, k, kp, candidates)
    }
}
