//! The Lloyd loop: assignment and centroid update fused in one pass over a
//! contiguous `f32` matrix, split across compute threads.
//!
//! Each cluster's `f64` sums are kept from pass to pass and changed only by the
//! rows that change cluster, so after the first passes most rows are not read
//! for them; with Hamerly's bounds (`super::bounds`) most are not read at all.
//!
//! Determinism: rows are cut into a number of chunks that depends only on the
//! data shape (never on the thread count); each chunk adds the rows that moved
//! into its own `f64` accumulators, in row order, and chunks are merged in
//! index order, so every thread count gives bit-identical centroids, with or
//! without the bounds (which change which distances are computed, never a
//! label). Threads never call PostgreSQL: the caller's `between` callback runs
//! on the calling thread between iterations (where the SQL layer checks for
//! interrupts).

use super::bounds::{self, Margin, Moves};
use super::huge_pages;
use super::simd::Isa;

/// Rows of `dims` features, row-major.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub rows: usize,
    pub dims: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn new(dims: usize) -> Matrix {
        Matrix { rows: 0, dims, data: Vec::new() }
    }

    pub fn from_rows(rows: &[&[f32]]) -> Matrix {
        let dims = rows.first().map_or(0, |r| r.len());
        let mut m = Matrix::new(dims);
        for r in rows {
            m.push(r);
        }
        m
    }

    pub fn push(&mut self, row: &[f32]) {
        debug_assert_eq!(row.len(), self.dims);
        self.data.extend_from_slice(row);
        self.rows += 1;
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }

    /// The rows at `indices`, copied.
    pub fn select(&self, indices: &[usize]) -> Matrix {
        let mut m = Matrix::new(self.dims);
        m.data.reserve(indices.len() * self.dims);
        for &i in indices {
            m.push(self.row(i));
        }
        m
    }

    /// Mean over columns of the per-column (population) variance: scikit-learn's
    /// unit for `tol`.
    pub fn mean_variance(&self) -> f64 {
        if self.rows == 0 || self.dims == 0 {
            return 0.0;
        }
        // one pass: per-column sums of x and x² (relative to the first row, to
        // keep the difference of squares well conditioned)
        let d = self.dims;
        let origin: Vec<f64> = self.row(0).iter().map(|&x| f64::from(x)).collect();
        let mut sum = vec![0f64; d];
        let mut sum2 = vec![0f64; d];
        #[cfg(target_arch = "x86_64")]
        {
            if Isa::detect().avx2() {
                // SAFETY: the CPU has the features the function is compiled for
                unsafe { column_sums_avx2(&self.data[..self.rows * d], &origin, &mut sum, &mut sum2) };
            } else {
                column_sums(&self.data[..self.rows * d], &origin, &mut sum, &mut sum2);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        column_sums(&self.data[..self.rows * d], &origin, &mut sum, &mut sum2);
        let n = self.rows as f64;
        let var: f64 = sum.iter().zip(&sum2).map(|(s, s2)| (s2 / n - (s / n) * (s / n)).max(0.0)).sum();
        var / d as f64
    }
}

/// Per column, the sums of (x − origin) and its square over the rows of `data`
/// (row-major, `origin.len()` columns), in row order. Written with iterators
/// (no bounds checks), so the columns are added several at a time.
#[inline(always)]
fn column_sums(data: &[f32], origin: &[f64], sum: &mut [f64], sum2: &mut [f64]) {
    for row in data.chunks_exact(origin.len()) {
        for (((&x, &o), s), s2) in row.iter().zip(origin).zip(sum.iter_mut()).zip(sum2.iter_mut()) {
            let t = f64::from(x) - o;
            *s += t;
            *s2 += t * t;
        }
    }
}

/// [`column_sums`] compiled for AVX2 (same additions in the same order, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn column_sums_avx2(data: &[f32], origin: &[f64], sum: &mut [f64], sum2: &mut [f64]) {
    column_sums(data, origin, sum, sum2)
}

/// Squared Euclidean distance in f64, in four independent partial sums: one
/// running sum is a chain of dependent additions (4 cycles each); four lanes
/// run side by side and vectorise.
#[inline]
pub fn distance2<T: Copy + Into<f64>>(x: &[T], c: &[f64]) -> f64 {
    let mut lanes = [0f64; 4];
    let (x4, c4) = (x.chunks_exact(4), c.chunks_exact(4));
    let (x_rest, c_rest) = (x4.remainder(), c4.remainder());
    for (a, b) in x4.zip(c4) {
        for l in 0..4 {
            let diff = a[l].into() - b[l];
            lanes[l] += diff * diff;
        }
    }
    let mut rest = 0f64;
    for (&a, &b) in x_rest.iter().zip(c_rest) {
        let diff = a.into() - b;
        rest += diff * diff;
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest
}

/// The nearest centroid (ties: the lowest index) and its squared distance, in f64.
pub fn nearest(x: &[f32], centroids: &[f64], dims: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centroid) in centroids.chunks_exact(dims.max(1)).enumerate() {
        let d = distance2(x, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// A row's nearest centroid as the distance kernel finds it: the first with the
/// smallest f32 squared distance, that distance, and the smallest distance to
/// any other centroid (equal to `dist` on a tie; +∞ when k = 1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Near {
    pub label: u32,
    pub dist: f32,
    pub second: f32,
}

/// What one pass over a chunk of rows produced.
#[derive(Debug, Clone)]
struct Partial {
    /// Lloyd passes: how each cluster's sums changed (the rows that joined it
    /// minus the rows that left, in row order), k × d; the final pass: empty
    sums: Vec<f64>,
    /// Lloyd passes: how each cluster's size changed; the final pass: the sizes
    counts: Vec<i64>,
    /// of the rows whose distances were computed
    inertia: f64,
    changed: u64,
    /// rows whose distances the bounds spared
    skipped: u64,
}

impl Partial {
    fn zero(k: usize, d: usize, update: bool) -> Partial {
        Partial { sums: if update { vec![0.0; k * d] } else { Vec::new() }, counts: vec![0; k], inertia: 0.0, changed: 0, skipped: 0 }
    }

    /// Row `x` leaves cluster `from` (none: u32::MAX) for `to`. Only rows that
    /// change cluster touch the sums: the rows that stay (most, after the first
    /// passes) are not read for them.
    #[inline(always)]
    fn moved(&mut self, from: u32, to: u32, x: &[f32], update: bool) {
        self.changed += 1;
        if !update {
            return;
        }
        let d = x.len();
        if from != u32::MAX {
            let from = from as usize;
            self.counts[from] -= 1;
            for (s, &v) in self.sums[from * d..(from + 1) * d].iter_mut().zip(x) {
                *s -= f64::from(v);
            }
        }
        let to = to as usize;
        self.counts[to] += 1;
        for (s, &v) in self.sums[to * d..(to + 1) * d].iter_mut().zip(x) {
            *s += f64::from(v);
        }
    }
}

/// How many chunks `rows` are cut into: a function of the shape only, so the
/// result does not depend on the number of threads. Each chunk holds k×d f64
/// sums, so their total is kept under 64 MB.
pub fn chunk_count(rows: usize, k: usize, dims: usize) -> usize {
    let by_rows = rows.div_ceil(8192).max(1);
    let by_memory = ((64usize << 20) / (k * dims.max(1) * 8 + k * 8).max(1)).max(1);
    by_rows.min(64).min(by_memory)
}

/// Bytes the Lloyd loop allocates besides the matrix: labels, bounds, chunk
/// accumulators and centroid copies.
pub fn working_bytes(rows: usize, k: usize, dims: usize) -> u64 {
    let chunks = chunk_count(rows, k, dims) as u64;
    let (n, k, d) = (rows as u64, k as u64, dims as u64);
    n * (4 + 8) + chunks * (k * d * 8 + k * 8) + k * d * (8 * 3 + 4) + k * 64
}

/// Centroids per register block of the distance loop (8 f32 lanes = one AVX register).
const LANES: usize = super::simd::LANES;

/// k rounded up to whole blocks: the row stride of the transposed centroids.
fn padded(k: usize) -> usize {
    k.div_ceil(LANES) * LANES
}

/// Rows whose nearest centroids are found before their bookkeeping: small
/// enough that they are still in L1/L2 when their features are summed.
const SUB_ROWS: usize = 256;

/// The portable nearest-centroid search (CPUs without AVX2 + FMA, and the
/// reference the SIMD tiles are tested against): for each row of `x`, the
/// distances to 8 centroids at a time are accumulated in a local array the
/// compiler keeps in one vector register across the d features; `FMA` fuses
/// the multiply-add (a libm call where the CPU lacks it).
fn nearest_portable<const FMA: bool>(x: &[f32], d: usize, ct: &[f32], k: usize, out: &mut [Near]) {
    let kp = padded(k);
    for (row, o) in x.chunks_exact(d).zip(out.iter_mut()) {
        let mut best = 0usize;
        let mut best_d = f32::INFINITY;
        let mut second = f32::INFINITY;
        for block in (0..kp).step_by(LANES) {
            let mut acc = [0f32; LANES];
            for (j, &xj) in row.iter().enumerate() {
                let column: &[f32; LANES] = ct[j * kp + block..j * kp + block + LANES].try_into().unwrap();
                for l in 0..LANES {
                    let t = xj - column[l];
                    acc[l] = if FMA { t.mul_add(t, acc[l]) } else { acc[l] + t * t };
                }
            }
            for (l, &v) in acc.iter().enumerate().take(k - block) {
                if v < best_d {
                    second = best_d;
                    best = block + l;
                    best_d = v;
                } else if v < second {
                    second = v;
                }
            }
        }
        *o = Near { label: best as u32, dist: best_d, second };
    }
}

/// Nearest centroids of the rows of `x`: the vector search where the CPU has one.
fn nearest_rows(x: &[f32], d: usize, ct: &[f32], k: usize, out: &mut [Near], scratch: &mut Vec<f32>, isa: Isa) {
    if !vector_search(x, None, d, ct, k, out, scratch, isa) {
        nearest_portable::<false>(x, d, ct, k, out)
    }
}

/// Nearest centroids of rows `picked` of `x`: the vector searches read them
/// where they are; the portable loop reads them copied side by side into `gathered`.
#[allow(clippy::too_many_arguments)]
fn nearest_picked_rows(
    x: &[f32],
    picked: &[usize],
    d: usize,
    ct: &[f32],
    k: usize,
    out: &mut [Near],
    scratch: &mut Vec<f32>,
    gathered: &mut Vec<f32>,
    isa: Isa,
) {
    if vector_search(x, Some(picked), d, ct, k, out, scratch, isa) {
        return;
    }
    gathered.resize(picked.len() * d, 0.0);
    for (to, &r) in gathered.chunks_exact_mut(d).zip(picked) {
        copy_row(to, &x[r * d..(r + 1) * d]);
    }
    nearest_portable::<false>(gathered, d, ct, k, out)
}

/// The vector search of `isa` for the rows of `x` (or rows `picked` of it):
/// 16 rows at once with AVX-512 when k > 8 (below that its transposes cost
/// more than they save), the AVX2 tiles otherwise. False: no vector search.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn vector_search(x: &[f32], picked: Option<&[usize]>, d: usize, ct: &[f32], k: usize, out: &mut [Near], scratch: &mut Vec<f32>, isa: Isa) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `isa` is at most Isa::detect(), which checked the CPU's features; the
        // functions assert the slices' lengths and that picked rows lie within x
        match isa {
            Isa::Avx512 if k > LANES => unsafe { super::simd512::nearest_rows(x, picked, d, ct, k, out, scratch) },
            Isa::Avx2 | Isa::Avx512 => unsafe { super::simd::nearest_rows(x, picked, d, ct, k, out, scratch) },
            Isa::Portable => return false,
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, picked, d, ct, k, out, scratch, isa);
        false
    }
}

/// One fused pass over rows `start..start+labels.len()`: each row goes to its
/// nearest centroid (`ct` holds the centroids transposed, d × padded(k), as
/// f32); when `update`, a row that changes cluster is moved between the
/// clusters' sums (a Lloyd pass), otherwise every row is counted and its f64
/// distance summed (the final pass). Rows are taken SUB_ROWS at a time:
/// nearest centroids first (with `bounds`, only of the rows the bounds cannot
/// vouch for), then the bookkeeping in row order.
fn chunk_pass(pass: &PassInput, start: usize, labels: &mut [u32], bounds: Option<ChunkBounds>) -> Partial {
    #[cfg(target_arch = "x86_64")]
    {
        if pass.isa.avx2() {
            // SAFETY: the CPU has the features the function is compiled for (Isa::detect).
            return unsafe {
                match pass.m.dims {
                    4 => chunk_pass_avx2::<4>(pass, start, labels, bounds),
                    8 => chunk_pass_avx2::<8>(pass, start, labels, bounds),
                    _ => chunk_pass_avx2::<0>(pass, start, labels, bounds),
                }
            };
        }
    }
    chunk_pass_body::<0>(pass, start, labels, bounds)
}

/// What every chunk of a pass reads.
#[derive(Clone, Copy)]
struct PassInput<'a> {
    m: &'a Matrix,
    /// the centroids transposed, d × padded(k), f32
    ct: &'a [f32],
    /// the centroids, k × d, f64 (the final pass's distances)
    exact: &'a [f64],
    k: usize,
    /// a Lloyd pass (move rows between the clusters' sums), or the final pass
    update: bool,
    /// the vector instructions to use
    isa: Isa,
}

/// One chunk's share of the pass's bounds (see [`super::bounds`]).
struct ChunkBounds<'a> {
    upper: &'a mut [f32],
    lower: &'a mut [f32],
    /// how the centroids moved since the bounds were set; None: they were not
    moves: Option<&'a Moves>,
    margin: Margin,
    /// the centroids as the kernel reads them (f32), k × d row-major
    centroids: &'a [f32],
}

/// [`chunk_pass_body`] compiled for AVX2 (the f64 sums are added 4 at a time;
/// the same additions in the same order, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_pass_avx2<const D: usize>(pass: &PassInput, start: usize, labels: &mut [u32], bounds: Option<ChunkBounds>) -> Partial {
    chunk_pass_body::<D>(pass, start, labels, bounds)
}

#[inline(always)]
fn chunk_pass_body<const D: usize>(pass: &PassInput, start: usize, labels: &mut [u32], mut bounds: Option<ChunkBounds>) -> Partial {
    let PassInput { m, ct, exact, k, update, isa } = *pass;
    // D > 0: the dimensions known at compile time (d = 4 and 8, where setting
    // up a loop per row is a large share of the bookkeeping); 0: any
    let d = if D > 0 { D } else { m.dims };
    debug_assert_eq!(d, m.dims);
    let mut p = Partial::zero(k, d, update);
    let mut near = vec![Near::default(); SUB_ROWS.min(labels.len())];
    let mut scratch = Vec::new();
    let (mut todo, mut gathered, mut fresh) = (Vec::with_capacity(SUB_ROWS), Vec::new(), Vec::with_capacity(SUB_ROWS));
    for (s, sub) in labels.chunks_mut(SUB_ROWS).enumerate() {
        let first = start + s * SUB_ROWS;
        let rows = &m.data[first * d..(first + sub.len()) * d];
        match bounds.as_mut() {
            None => {
                let near = &mut near[..sub.len()];
                nearest_rows(rows, d, ct, k, near, &mut scratch, isa);
                for ((label, n), x) in sub.iter_mut().zip(near.iter()).zip(rows.chunks_exact(d)) {
                    if *label != n.label {
                        p.moved(*label, n.label, x, update);
                        *label = n.label;
                    }
                    if update {
                        p.inertia += f64::from(n.dist);
                    }
                }
            }
            Some(b) => {
                let range = s * SUB_ROWS..s * SUB_ROWS + sub.len();
                let (upper, lower) = (&mut b.upper[range.clone()], &mut b.lower[range]);
                select_rows_to_compute(sub, rows, d, k, upper, lower, b.moves, b.margin, b.centroids, &mut todo, isa);
                p.skipped += (sub.len() - todo.len()) as u64;
                let near = &mut near[..todo.len()];
                if todo.len() == sub.len() {
                    nearest_rows(rows, d, ct, k, near, &mut scratch, isa);
                } else if !todo.is_empty() {
                    nearest_picked_rows(rows, &todo, d, ct, k, near, &mut scratch, &mut gathered, isa);
                }
                // the square roots first, in a loop of their own (it vectorises) over the
                // distances alone: vectorised over whole `Near`s it also took the square roots
                // of the labels' bits, subnormal floats that cost a microcode assist each
                // (40% of this function's own time at d = 32, k = 32)
                fresh.clear();
                fresh.extend(near.iter().map(|n| (n.dist, n.second)));
                fresh.iter_mut().for_each(|f| *f = bounds::from_distances(f.0, f.1, b.margin));
                for ((&r, n), &(u, l)) in todo.iter().zip(near.iter()).zip(fresh.iter()) {
                    if sub[r] != n.label {
                        p.moved(sub[r], n.label, &rows[r * d..(r + 1) * d], update);
                        sub[r] = n.label;
                    }
                    (upper[r], lower[r]) = (u, l);
                    if update {
                        p.inertia += f64::from(n.dist);
                    }
                }
            }
        }
        if !update {
            // the final pass: sizes, and the reported inertia (the chosen centroid's distance again in f64)
            for (&label, x) in sub.iter().zip(rows.chunks_exact(d)) {
                let best = label as usize;
                p.counts[best] += 1;
                p.inertia += final_distance(x, &exact[best * d..(best + 1) * d], isa);
            }
        }
    }
    p
}

/// The rows of a block (`sub` labels, `rows` features) whose distances must be
/// computed, listed in `todo` in order: with `moves`, those that fail Hamerly's
/// first test (bounds moved by the centroids' moves) and then his second (the
/// upper bound tightened to the distance to the row's own centroid, 1/k of the
/// work) — or every row when 7 in 8 fail the first (the first passes, where the
/// second test and reading the rows out of order cost more than they spare: a
/// second pass at 10⁶ × 32, k = 32 sparing 3–12% of the rows took 40–64 ms on
/// two threads, 35–39 ms measuring them all); without (bounds just set, or
/// unknown), every row.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn select_rows_to_compute(
    sub: &[u32],
    rows: &[f32],
    d: usize,
    k: usize,
    upper: &mut [f32],
    lower: &mut [f32],
    moves: Option<&Moves>,
    margin: Margin,
    centroids: &[f32],
    todo: &mut Vec<usize>,
    isa: Isa,
) {
    todo.resize(sub.len(), 0);
    let Some(moves) = moves else {
        todo.iter_mut().enumerate().for_each(|(r, t)| *t = r);
        return;
    };
    let count = bounds::rows_to_compute(sub, upper, lower, moves, margin, todo, isa);
    if count * 8 >= sub.len() * 7 {
        // nearly every row failed the first test (the first passes): measuring them all,
        // in order, costs less than the second test and picking nearly every row
        todo.iter_mut().enumerate().for_each(|(r, t)| *t = r);
        return;
    }
    // the rows are read out of order: each is asked for a few rows ahead
    for &r in &todo[..count.min(AHEAD)] {
        prefetch(&rows[r * d..(r + 1) * d]);
    }
    let mut still = 0;
    for i in 0..count {
        if i + AHEAD < count {
            let r = todo[i + AHEAD];
            prefetch(&rows[r * d..(r + 1) * d]);
        }
        let r = todo[i];
        let label = sub[r] as usize;
        let kept = label < k && {
            let own = own_distance(&rows[r * d..(r + 1) * d], &centroids[label * d..(label + 1) * d], isa);
            bounds::tightened(&mut upper[r], lower[r], own, margin)
        };
        todo[still] = r;
        still += usize::from(!kept);
    }
    todo.truncate(still);
}

/// How many rows ahead the rows that the bounds select are asked for.
const AHEAD: usize = 8;

/// The squared distance of Hamerly's second test: AVX2 where the CPU has it.
#[inline(always)]
fn own_distance(x: &[f32], c: &[f32], isa: Isa) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if isa.avx2() {
            // SAFETY: `isa` is at most Isa::detect()
            return unsafe { super::simd::squared_distance(x, c) };
        }
    }
    let _ = isa;
    squared_distance(x, c)
}

/// [`distance2`] of a row to its centroid in the final pass: AVX2 where the CPU
/// has it (the same bits).
#[inline(always)]
fn final_distance(x: &[f32], c: &[f64], isa: Isa) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if isa.avx2() {
            // SAFETY: `isa` is at most Isa::detect()
            return unsafe { super::simd::distance2(x, c) };
        }
    }
    let _ = isa;
    distance2(x, c)
}

/// Squared Euclidean distance in f32 (8 partial sums; the portable second test).
#[inline(always)]
fn squared_distance(x: &[f32], c: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (x8, c8) = (x.chunks_exact(8), c.chunks_exact(8));
    let (x_rest, c_rest) = (x8.remainder(), c8.remainder());
    for (a, b) in x8.zip(c8) {
        for l in 0..8 {
            let t = a[l] - b[l];
            lanes[l] += t * t;
        }
    }
    for (l, (&a, &b)) in x_rest.iter().zip(c_rest).enumerate() {
        let t = a - b;
        lanes[l] += t * t;
    }
    lanes.iter().sum()
}

/// Asks for the cache lines of `data` to be brought into L1 (a hint; nothing on
/// other CPUs). Rows are not aligned to lines: a 64-byte row usually spans two.
#[inline(always)]
fn prefetch(data: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    super::simd::prefetch_row(data.as_ptr(), data.len());
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// `to.copy_from_slice(from)` 8 floats at a time: rows are short, and a call
/// to `memmove` per row costs more than the copy.
#[inline(always)]
fn copy_row(to: &mut [f32], from: &[f32]) {
    let mut to8 = to.chunks_exact_mut(8);
    let mut from8 = from.chunks_exact(8);
    for (t, f) in (&mut to8).zip(&mut from8) {
        let f: &[f32; 8] = f.try_into().expect("8 floats");
        t.copy_from_slice(f);
    }
    for (t, &f) in to8.into_remainder().iter_mut().zip(from8.remainder()) {
        *t = f;
    }
}

/// The centroids (k × d, f64) transposed to d × padded(k) f32 for the distance loop
/// (padding columns are never chosen).
fn transpose(centroids: &[f64], k: usize, d: usize) -> Vec<f32> {
    let kp = padded(k);
    let mut ct = vec![0f32; kp * d];
    for c in 0..k {
        for j in 0..d {
            ct[j * kp + c] = centroids[c * d + j] as f32;
        }
    }
    ct
}

/// The vector instructions of the Lloyd passes: Isa::detect(), or in tests what
/// `tests::FORCE_ISA` says (the timing tests compare them in one process).
fn pass_isa() -> Isa {
    #[cfg(test)]
    {
        let forced = tests::FORCE_ISA.load(std::sync::atomic::Ordering::Relaxed);
        if let Some(&isa) = Isa::all_available().iter().find(|&&i| i as u8 + 1 == forced) {
            return isa;
        }
    }
    Isa::detect()
}

/// A full pass: per-chunk partials computed on `threads` threads, merged in chunk order.
/// With `bounds`, rows they vouch for keep their labels without a distance
/// computed (the same labels; see [`super::bounds`]).
fn pass(m: &Matrix, centroids: &[f64], k: usize, labels: &mut [u32], update: bool, threads: usize, bounds: Option<RowBounds>) -> Partial {
    let d = m.dims;
    let ct = transpose(centroids, k, d);
    let centroids32: Vec<f32> = if bounds.is_some() { centroids.iter().map(|&c| c as f32).collect() } else { Vec::new() };
    let input = PassInput { m, ct: &ct, exact: centroids, k, update, isa: pass_isa() };
    let chunks = chunk_count(m.rows, k, d);
    let chunk_len = m.rows.div_ceil(chunks).max(1);
    let mut chunk_bounds: Vec<Option<ChunkBounds>> = match bounds {
        Some(b) => {
            let margin = Margin::for_dims(d);
            let centroids = &centroids32;
            b.upper
                .chunks_mut(chunk_len)
                .zip(b.lower.chunks_mut(chunk_len))
                .map(|(upper, lower)| Some(ChunkBounds { upper, lower, moves: b.moves, margin, centroids }))
                .collect()
        }
        None => Vec::new(),
    };
    chunk_bounds.resize_with(labels.len().div_ceil(chunk_len), || None);
    let mut work: Vec<(usize, &mut [u32], Option<ChunkBounds>)> =
        labels.chunks_mut(chunk_len).zip(chunk_bounds).enumerate().map(|(i, (l, b))| (i * chunk_len, l, b)).collect();
    let threads = threads.clamp(1, work.len().max(1));
    let mut partials: Vec<(usize, Partial)> = Vec::with_capacity(work.len());
    if threads == 1 {
        for (start, l, b) in work.drain(..) {
            partials.push((start, chunk_pass(&input, start, l, b)));
        }
    } else {
        // threads take the next chunk as they finish one (a thread slowed down by
        // other work on a shared machine does not hold the pass up); the merge
        // below is in chunk order whichever thread computed a chunk
        let input = &input;
        let queue: Vec<std::sync::Mutex<Option<(usize, &mut [u32], Option<ChunkBounds>)>>> =
            work.into_iter().map(|w| std::sync::Mutex::new(Some(w))).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (queue, next) = (&queue, &next);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(slot) = queue.get(i) else { break };
                            let (start, l, b) = slot.lock().expect("each chunk is taken once").take().expect("each chunk is taken once");
                            done.push((start, chunk_pass(input, start, l, b)));
                        }
                        done
                    })
                })
                .collect();
            for h in handles {
                partials.extend(h.join().expect("k-means compute thread panicked"));
            }
        });
    }
    partials.sort_by_key(|(start, _)| *start);
    let mut total = Partial::zero(k, d, update);
    for (_, p) in partials {
        for (a, b) in total.sums.iter_mut().zip(&p.sums) {
            *a += b;
        }
        for (a, b) in total.counts.iter_mut().zip(&p.counts) {
            *a += b;
        }
        total.inertia += p.inertia;
        total.changed += p.changed;
        total.skipped += p.skipped;
    }
    total
}

/// The per-row bounds a pass reads and updates (row-major like the labels).
struct RowBounds<'a> {
    upper: &'a mut [f32],
    lower: &'a mut [f32],
    moves: Option<&'a Moves>,
}

impl<'a> RowBounds<'a> {
    /// The bounds for a pass when `used` (the run's option), else none.
    fn when(used: bool, upper: &'a mut [f32], lower: &'a mut [f32], moves: Option<&'a Moves>) -> Option<RowBounds<'a>> {
        used.then_some(RowBounds { upper, lower, moves })
    }
}

/// Options of one Lloyd run.
#[derive(Debug, Clone, Copy)]
pub struct LloydOptions {
    pub max_iter: u32,
    /// Absolute tolerance on the sum of squared centroid moves (scikit-learn:
    /// `tol` × the mean per-feature variance).
    pub tol: f64,
    pub threads: usize,
    /// skip the rows Hamerly's bounds vouch for (the same result either way)
    pub bounds: bool,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub centroids: Vec<f64>,
    pub sizes: Vec<u64>,
    pub inertia: f64,
    pub iterations: u32,
    pub converged: bool,
    /// Empty clusters re-seeded during the run.
    pub reseeded: u64,
}

/// Progress reported between iterations (on the calling thread).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub iteration: u32,
    /// the sum of squared distances to the centroids the rows were assigned
    /// to; None when the bounds spared some rows their distances
    pub inertia: Option<f64>,
    pub moved: u64,
    /// rows the bounds kept without measuring their distances
    pub spared: u64,
}

/// Lloyd's algorithm from `init` (k × d), as scikit-learn's `lloyd`: stops when
/// no label changes (converged) or the squared centroid shift is ≤ `tol`
/// (converged), or after `max_iter` iterations (not converged); a final
/// assignment pass gives the sizes and inertia of the returned centroids.
///
/// Empty clusters are re-seeded as scikit-learn does: each takes the row
/// farthest from its assigned centroid (ties: the lowest row), which leaves its
/// old cluster.
///
/// Rows whose Hamerly bounds show they keep their cluster are not measured
/// again (`super::bounds`); labels, centroids and the result are the same bits
/// as measuring every row, which `opts.bounds = false` does.
pub fn lloyd(m: &Matrix, init: &[f64], opts: LloydOptions, between: &mut dyn FnMut(Progress)) -> Fitted {
    let d = m.dims;
    let k = init.len() / d.max(1);
    let mut centroids = init.to_vec();
    let mut labels = huge_pages::filled(u32::MAX, m.rows);
    // each cluster's sums and size, kept up to date pass by pass with the rows that moved
    let mut clusters = Clusters { dims: d, sums: vec![0.0; k * d], counts: vec![0; k] };
    let rows_bounded = if opts.bounds { m.rows } else { 0 };
    let (mut upper, mut lower) = (huge_pages::filled(bounds::UNKNOWN.0, rows_bounded), huge_pages::filled(bounds::UNKNOWN.1, rows_bounded));
    let mut moves: Option<Moves> = None;
    let mut converged = false;
    let mut iterations = 0;
    let mut reseeded = 0u64;
    for it in 0..opts.max_iter {
        let old = centroids.clone();
        let mut p = pass(m, &centroids, k, &mut labels, true, opts.threads, RowBounds::when(opts.bounds, &mut upper, &mut lower, moves.as_ref()));
        iterations = it + 1;
        clusters.add(&p);
        let empty: Vec<usize> = (0..k).filter(|&c| clusters.counts[c] == 0).collect();
        if !empty.is_empty() {
            reseeded += empty.len() as u64;
            for i in relocate_empty(m, &old, &empty, &mut labels, &mut clusters) {
                if opts.bounds {
                    (upper[i], lower[i]) = bounds::UNKNOWN;
                }
            }
            p.changed = p.changed.max(1);
        }
        for c in 0..k {
            if clusters.counts[c] > 0 {
                for j in 0..d {
                    centroids[c * d + j] = clusters.sums[c * d + j] / clusters.counts[c] as f64;
                }
            }
        }
        if opts.bounds {
            moves = Some(Moves::between(&old, &centroids, d));
        }
        between(Progress { iteration: iterations, inertia: (p.skipped == 0).then_some(p.inertia), moved: p.changed, spared: p.skipped });
        if it > 0 && p.changed == 0 {
            converged = true;
            break;
        }
        let shift: f64 = centroids.iter().zip(&old).map(|(a, b)| (a - b) * (a - b)).sum();
        if shift <= opts.tol {
            converged = true;
            break;
        }
    }
    // the bounds hold for the final centroids too: only the rows they cannot vouch for are measured
    // (every row's f64 distance to its centroid is, for the inertia)
    let last = pass(m, &centroids, k, &mut labels, false, opts.threads, RowBounds::when(opts.bounds, &mut upper, &mut lower, moves.as_ref()));
    let sizes = last.counts.iter().map(|&c| c as u64).collect();
    Fitted { centroids, sizes, inertia: last.inertia, iterations, converged, reseeded }
}

/// Each cluster's f64 sums (k × d) and size. Updated from the rows that change
/// cluster, pass after pass, in chunk order then row order: the same order
/// whatever the thread count or whether the bounds spared rows, so the same bits.
struct Clusters {
    dims: usize,
    sums: Vec<f64>,
    counts: Vec<u64>,
}

impl Clusters {
    fn add(&mut self, p: &Partial) {
        for (a, b) in self.sums.iter_mut().zip(&p.sums) {
            *a += b;
        }
        for (c, (a, &b)) in self.counts.iter_mut().zip(&p.counts).enumerate() {
            *a = a.checked_add_signed(b).unwrap_or_else(|| panic!("cluster {c} would have fewer than 0 rows"));
            if *a == 0 {
                // what is left of the sums of an emptied cluster is rounding: start again from 0
                self.sums[c * self.dims..(c + 1) * self.dims].fill(0.0);
            }
        }
    }
}

/// Moves the rows farthest from their centroids (under `old`) into the empty
/// clusters; returns the rows moved.
fn relocate_empty(m: &Matrix, old: &[f64], empty: &[usize], labels: &mut [u32], clusters: &mut Clusters) -> Vec<usize> {
    let d = m.dims;
    let mut far: Vec<(f64, usize)> = (0..m.rows)
        .map(|i| {
            let c = labels[i] as usize;
            (distance2(m.row(i), &old[c * d..(c + 1) * d]), i)
        })
        .collect();
    // farthest first, then lowest row
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut next = 0;
    let mut moved = Vec::with_capacity(empty.len());
    for &c in empty {
        // the farthest row whose cluster keeps at least one row
        while next < far.len() && clusters.counts[labels[far[next].1] as usize] <= 1 {
            next += 1;
        }
        let Some(&(_, i)) = far.get(next) else { break };
        next += 1;
        let from = labels[i] as usize;
        let x = m.row(i);
        for j in 0..d {
            clusters.sums[from * d + j] -= f64::from(x[j]);
            clusters.sums[c * d + j] = f64::from(x[j]);
        }
        clusters.counts[from] -= 1;
        clusters.counts[c] = 1;
        labels[i] = c as u32;
        moved.push(i);
    }
    moved
}

/// Assigns every row to its nearest centroid: (labels, sizes, inertia).
pub fn assign_all(m: &Matrix, centroids: &[f64], threads: usize) -> (Vec<u32>, Vec<u64>, f64) {
    let k = centroids.len() / m.dims.max(1);
    let mut labels = vec![u32::MAX; m.rows];
    let p = pass(m, centroids, k, &mut labels, false, threads, None);
    (labels, p.counts.iter().map(|&c| c as u64).collect(), p.inertia)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Matrix {
        // two tight pairs: (0,0),(0,1) and (10,0),(10,1)
        Matrix::from_rows(&[&[0.0, 0.0], &[0.0, 1.0], &[10.0, 0.0], &[10.0, 1.0]])
    }

    #[test]
    fn distance_in_lanes_equals_the_plain_sum_on_exact_values() {
        // integers: every partial sum is exact, so any order gives the same value
        for d in [1, 3, 4, 7, 16, 33] {
            let a: Vec<f32> = (0..d).map(|i| (i * 7 % 11) as f32).collect();
            let b: Vec<f64> = (0..d).map(|i| (i * 5 % 13) as f64 - 6.0).collect();
            let plain: f64 = a.iter().zip(&b).map(|(&x, y)| (f64::from(x) - y) * (f64::from(x) - y)).sum();
            assert_eq!(distance2(&a, &b), plain, "d={d}");
            let a64: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
            assert_eq!(distance2(&a64, &b), plain, "d={d}");
        }
    }

    #[test]
    fn the_final_pass_distance_is_distance2_bit_for_bit() {
        let mut rng = crate::kmeans::rng::Rng::new(23);
        for d in [1, 3, 4, 5, 8, 15, 16, 17, 32, 33, 70] {
            for offset in [0.0, 1000.0, 3e6] {
                let a: Vec<f32> = (0..d).map(|_| (offset + rng.next_f64() * 10.0) as f32).collect();
                let b: Vec<f64> = (0..d).map(|_| offset + rng.next_f64() * 10.0).collect();
                for isa in Isa::all_available() {
                    assert_eq!(final_distance(&a, &b, isa).to_bits(), distance2(&a, &b).to_bits(), "{isa:?} d={d} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn two_pairs_converge_to_their_means() {
        let m = square();
        let opts = LloydOptions { max_iter: 100, tol: 0.0, threads: 1, bounds: true };
        let f = lloyd(&m, &[0.0, 0.0, 10.0, 0.0], opts, &mut |_| {});
        assert_eq!(f.centroids, vec![0.0, 0.5, 10.0, 0.5]);
        assert_eq!(f.sizes, vec![2, 2]);
        assert_eq!(f.inertia, 1.0); // four points at distance 0.5
        assert!(f.converged);
        assert_eq!(f.iterations, 2); // the second pass changes no label
    }

    #[test]
    fn max_iter_stops_without_convergence() {
        let m = square();
        let f = lloyd(&m, &[0.0, 0.0, 0.0, 1.0], LloydOptions { max_iter: 1, tol: 0.0, threads: 1, bounds: true }, &mut |_| {});
        assert_eq!(f.iterations, 1);
        assert!(!f.converged);
    }

    #[test]
    fn empty_cluster_takes_the_farthest_row() {
        let m = square();
        // the second centroid is far from everything: it gets no row in pass 1
        let f = lloyd(&m, &[5.0, 0.5, 100.0, 100.0], LloydOptions { max_iter: 50, tol: 0.0, threads: 1, bounds: true }, &mut |_| {});
        assert!(f.reseeded >= 1);
        assert_eq!(f.sizes.iter().sum::<u64>(), 4);
        assert!(f.sizes.iter().all(|&s| s > 0));
        assert_eq!(f.inertia, 1.0);
    }

    #[test]
    fn sums_kept_from_the_moves_equal_the_means_of_the_final_clusters() {
        // blobs that several centroids share, so rows move for many passes, and a centroid that
        // starts far away (its cluster is emptied and re-seeded)
        let mut rng = crate::kmeans::rng::Rng::new(23);
        let (n, d, k) = (20_000, 3, 7);
        let mut m = Matrix::new(d);
        for i in 0..n {
            let row: Vec<f32> = (0..d).map(|j| ((i % 4) * 10 + j) as f32 + rng.next_f64() as f32 * 6.0).collect();
            m.push(&row);
        }
        let mut init: Vec<f64> = (0..k).flat_map(|c| m.row(c * 101).iter().map(|&v| f64::from(v)).collect::<Vec<_>>()).collect();
        init[(k - 1) * d..].fill(1e4);
        let (mut moved, mut iterations) = (Vec::new(), 0);
        let f = lloyd(&m, &init, LloydOptions { max_iter: 300, tol: 0.0, threads: 2, bounds: true }, &mut |p| {
            moved.push(p.moved);
            iterations += 1;
        });
        assert!(f.converged && f.reseeded >= 1 && iterations > 5, "{moved:?} reseeded {}", f.reseeded);
        // converged: the final pass gives the labels the last centroids were computed from
        let (labels, sizes, _) = assign_all(&m, &f.centroids, 1);
        assert_eq!(sizes, f.sizes);
        let mut sums = vec![0f64; k * d];
        for (i, &c) in labels.iter().enumerate() {
            for j in 0..d {
                sums[c as usize * d + j] += f64::from(m.row(i)[j]);
            }
        }
        for c in 0..k {
            for j in 0..d {
                let mean = sums[c * d + j] / sizes[c] as f64;
                assert!((f.centroids[c * d + j] - mean).abs() <= 1e-12 * mean.abs().max(1.0), "cluster {c} column {j}: {} vs {mean}", f.centroids[c * d + j]);
            }
        }
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let mut rng = crate::kmeans::rng::Rng::new(5);
        let mut m = Matrix::new(3);
        for _ in 0..50_000 {
            let row = [rng.next_f64() as f32, rng.next_f64() as f32 * 2.0, rng.next_f64() as f32];
            m.push(&row);
        }
        let init = [0.1, 0.1, 0.1, 0.9, 1.9, 0.9, 0.5, 1.0, 0.5, 0.2, 1.5, 0.8];
        let one = lloyd(&m, &init, LloydOptions { max_iter: 30, tol: 0.0, threads: 1, bounds: true }, &mut |_| {});
        let four = lloyd(&m, &init, LloydOptions { max_iter: 30, tol: 0.0, threads: 4, bounds: true }, &mut |_| {});
        assert_eq!(one.centroids, four.centroids);
        assert_eq!(one.inertia.to_bits(), four.inertia.to_bits());
        assert_eq!(one.sizes, four.sizes);
    }

    #[test]
    fn bounds_change_no_bit_of_the_result() {
        let mut rng = crate::kmeans::rng::Rng::new(17);
        let mut spared = 0;
        // (rows, d, k, kind): blobs (rows kept by the bounds), uniform noise, an integer grid with exact
        // ties between centroids, duplicated rows, and k > the blobs (empty clusters re-seeded)
        let cases = [(5000, 2, 3, 0), (4000, 4, 4, 0), (3000, 16, 8, 0), (3000, 32, 32, 0), (2000, 3, 5, 1), (2000, 7, 17, 1), (1500, 2, 4, 2), (1500, 3, 9, 2), (1200, 5, 6, 3), (900, 2, 12, 4), (700, 1, 1, 1)];
        for (n, d, k, kind) in cases {
            let mut m = Matrix::new(d);
            for i in 0..n {
                let row: Vec<f32> = (0..d)
                    .map(|j| match kind {
                        0 => ((i % 8) * 7 + j * 3) as f32 % 17.0 * 2.0 + rng.next_f64() as f32 * 3.0,
                        1 => rng.next_f64() as f32 * 10.0 - 5.0,
                        2 => (rng.next_f64() * 6.0).floor() as f32,
                        3 => ((i / 10) % 13 + j) as f32 * 0.5,
                        _ => ((i % 3) * 10) as f32 + (rng.next_f64() * 0.001) as f32,
                    })
                    .collect();
                m.push(&row);
            }
            // grid: centroids on half-integers, so rows sit exactly between two of them
            let init: Vec<f64> = match kind {
                2 => (0..k * d).map(|i| (i % 5) as f64 + 0.5).collect(),
                4 => (0..k * d).map(|i| if i < d { 0.0 } else { 1000.0 + i as f64 }).collect(),
                _ => (0..k).flat_map(|c| m.row(c * 37 % n).iter().map(|&v| f64::from(v)).collect::<Vec<_>>()).collect(),
            };
            for threads in [1, 2] {
                let run = |bounds: bool| {
                    let mut progress = Vec::new();
                    let opts = LloydOptions { max_iter: 40, tol: 0.0, threads, bounds };
                    let f = lloyd(&m, &init, opts, &mut |p| progress.push(p));
                    (f, progress)
                };
                let ((with, steps), (without, all_steps)) = (run(true), run(false));
                let what = format!("n={n} d={d} k={k} kind {kind} threads {threads}");
                let bits = |f: &Fitted| {
                    (f.centroids.iter().map(|c| c.to_bits()).collect::<Vec<_>>(), f.sizes.clone(), f.inertia.to_bits(), f.iterations, f.converged, f.reseeded)
                };
                assert_eq!(bits(&with), bits(&without), "{what}");
                let moved = |s: &[Progress]| s.iter().map(|p| p.moved).collect::<Vec<_>>();
                assert_eq!(moved(&steps), moved(&all_steps), "{what}");
                for (a, b) in steps.iter().zip(&all_steps) {
                    assert!(a.inertia.is_none() || a.inertia == b.inertia, "{what}");
                }
                spared += steps.iter().filter(|p| p.inertia.is_none()).count();
                if kind == 4 {
                    assert!(with.reseeded > 0, "{what}: the case is meant to re-seed");
                }
            }
        }
        assert!(spared > 20, "the bounds spared rows in {spared} iterations only");
    }

    #[test]
    fn simd_tiles_match_the_portable_loop_bit_for_bit() {
        for isa in Isa::all_available().into_iter().filter(|i| i.avx2()) {
            vector_search_matches_the_portable_loop_bit_for_bit(isa);
        }
    }

    fn vector_search_matches_the_portable_loop_bit_for_bit(isa: Isa) {
        let mut rng = crate::kmeans::rng::Rng::new(11);
        // every tile shape and tail: k from 1 to 70 (1..9 blocks), rows not a multiple of 8
        // (and data far from the origin, where the screen of k > 8 keeps more candidates)
        let shapes = [(1, 1), (2, 3), (4, 4), (3, 8), (5, 9), (16, 8), (7, 16), (16, 17), (32, 32), (9, 41), (64, 24), (3, 70)];
        for ((d, k), offset) in shapes.iter().flat_map(|&s| [(s, 0.0), (s, 1000.0), (s, 3e6)]) {
            let n = 203;
            let x: Vec<f32> = (0..n * d).map(|_| (offset + rng.next_f64() * 10.0 - 5.0) as f32).collect();
            let mut centroids: Vec<f64> = (0..k * d).map(|_| offset + rng.next_f64() * 10.0 - 5.0).collect();
            // exact ties: centroids 1 and k - 1 repeat centroid 0 (the lowest index must win)
            if k > 1 {
                let first: Vec<f64> = centroids[..d].to_vec();
                centroids[d..2 * d].copy_from_slice(&first);
                centroids[(k - 1) * d..k * d].copy_from_slice(&first);
            }
            // and rows sitting on centroids: distance 0
            let mut x = x;
            for c in 0..k.min(n / 3) {
                for j in 0..d {
                    x[c * 3 * d + j] = centroids[c * d + j] as f32;
                }
            }
            let ct = transpose(&centroids, k, d);
            let mut portable = vec![Near::default(); n];
            let mut tiled = vec![Near::default(); n];
            nearest_portable::<true>(&x, d, &ct, k, &mut portable);
            nearest_rows(&x, d, &ct, k, &mut tiled, &mut Vec::new(), isa);
            for (i, (a, b)) in portable.iter().zip(&tiled).enumerate() {
                let bits = |n: &Near| (n.label, n.dist.to_bits(), n.second.to_bits());
                assert_eq!(bits(a), bits(b), "{isa:?} d={d} k={k} offset {offset} row {i}");
            }
            // rows picked out of order and some twice (the bounds pick rows, read where they are)
            let picked: Vec<usize> = (0..n).rev().step_by(3).chain([5, 5, 0, n - 1]).collect();
            let mut picked_tiled = vec![Near::default(); picked.len()];
            nearest_picked_rows(&x, &picked, d, &ct, k, &mut picked_tiled, &mut Vec::new(), &mut Vec::new(), isa);
            for (&r, b) in picked.iter().zip(&picked_tiled) {
                let bits = |n: &Near| (n.label, n.dist.to_bits(), n.second.to_bits());
                assert_eq!(bits(&portable[r]), bits(b), "{isa:?} d={d} k={k} offset {offset} picked row {r}");
            }
        }
    }

    #[test]
    fn the_second_tests_distance_is_within_the_kernels_rounding() {
        // the bounds assume any f32 distance is within dims + 2 units of roundoff of
        // the exact one (bounds::Margin); the AVX2 one sums in another order, so check it
        let mut rng = crate::kmeans::rng::Rng::new(17);
        for d in [1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 64, 70] {
            for offset in [0.0, 1000.0, 3e6] {
                let x: Vec<f32> = (0..d).map(|_| (offset + rng.next_f64() * 10.0) as f32).collect();
                let c: Vec<f32> = (0..d).map(|_| (offset + rng.next_f64() * 10.0) as f32).collect();
                let exact: f64 = x.iter().zip(&c).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum();
                let allowed = exact * (d as f64 + 2.0) * f64::from(f32::EPSILON) / 2.0;
                let portable = f64::from(squared_distance(&x, &c));
                assert!((portable - exact).abs() <= allowed, "portable d={d}: {portable} vs {exact}");
                if Isa::detect().avx2() {
                    let simd = f64::from(own_distance(&x, &c, Isa::Avx2));
                    assert!((simd - exact).abs() <= allowed, "AVX2 d={d} offset {offset}: {simd} vs {exact}");
                }
            }
        }
    }

    /// Nanoseconds per row of the distance kernel alone, rows and centroids in
    /// cache: `cargo test --release --lib kernel_timing -- --ignored --nocapture`
    /// (KMEANS_TIMING_SHAPES=32x32 as for lloyd_timing).
    #[test]
    #[ignore]
    fn kernel_timing() {
        let isas: Vec<Isa> = Isa::all_available().into_iter().filter(|i| i.avx2()).collect();
        let mut rng = crate::kmeans::rng::Rng::new(5);
        for (d, k) in timing_shapes(&[(4, 4), (16, 8), (32, 32), (16, 32), (32, 8)]) {
            let n = SUB_ROWS;
            let x: Vec<f32> = (0..n * d).map(|_| (rng.next_f64() * 10.0) as f32).collect();
            let centroids: Vec<f64> = (0..k * d).map(|_| rng.next_f64() * 10.0).collect();
            let ct = transpose(&centroids, k, d);
            let (mut out, mut scratch) = (vec![Near::default(); n], Vec::new());
            // each instruction set in turn, so a change of the machine's speed hits them alike
            let mut best = vec![f64::INFINITY; isas.len()];
            for _ in 0..15 {
                for (&isa, best) in isas.iter().zip(best.iter_mut()) {
                    let started = std::time::Instant::now();
                    for _ in 0..400 {
                        nearest_rows(std::hint::black_box(&x), d, &ct, k, &mut out, &mut scratch, isa);
                    }
                    *best = best.min(started.elapsed().as_secs_f64() * 1e9 / (400 * n) as f64);
                }
            }
            for (isa, best) in isas.iter().zip(&best) {
                println!("d={d} k={k} {isa:?}: {best:.2} ns per row (best of 15)");
            }
        }
    }

    /// Set by `lloyd_timing` from KMEANS_TIMING_ISA (1 + the `Isa` value; 0: detect).
    pub(super) static FORCE_ISA: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

    /// The (d, k) shapes a timing test runs: KMEANS_TIMING_SHAPES=16x8,32x32, or `default`.
    fn timing_shapes(default: &[(usize, usize)]) -> Vec<(usize, usize)> {
        std::env::var("KMEANS_TIMING_SHAPES")
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.split_once('x')).filter_map(|(d, k)| Some((d.parse().ok()?, k.parse().ok()?))).collect())
            .unwrap_or_else(|| default.to_vec())
    }

    /// Time per Lloyd iteration at the benchmark's shapes (N = 1M):
    /// `cargo test --release --lib lloyd_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn lloyd_timing() {
        let n: usize = std::env::var("KMEANS_TIMING_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
        let threads: usize = std::env::var("KMEANS_TIMING_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
        // KMEANS_TIMING_ISA=Avx2 (or Portable, Avx512): passes with these instructions only
        if let Ok(name) = std::env::var("KMEANS_TIMING_ISA") {
            let isa = Isa::all_available().into_iter().find(|i| format!("{i:?}") == name).expect("KMEANS_TIMING_ISA: an available Isa");
            FORCE_ISA.store(isa as u8 + 1, std::sync::atomic::Ordering::Relaxed);
        }
        // KMEANS_TIMING_SHAPES=16x8,32x32 (d x k) to time some only
        for (d, k) in timing_shapes(&[(4, 4), (16, 8), (32, 32)]) {
            let mut rng = crate::kmeans::rng::Rng::new(3);
            let mut m = Matrix::new(d);
            // in memory advised as the load's (super::huge_pages); KMEANS_TIMING_HUGE=0: not
            m.data = Vec::with_capacity(n * d);
            if std::env::var("KMEANS_TIMING_HUGE").map_or(true, |v| v != "0") {
                huge_pages::advise(&m.data);
            }
            // KMEANS_TIMING_DATA=/tmp/points: the benchmark's own rows (points.f32: n × d f32) and
            // initial centroids (points.init: k × d f64), little-endian, instead of the pattern below
            let file = |ext: &str| std::env::var("KMEANS_TIMING_DATA").ok().map(|p| std::fs::read(format!("{p}.{ext}")).expect("timing data"));
            let init = if let (Some(rows), Some(init)) = (file("f32"), file("init")) {
                m.data.extend(rows.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())));
                m.rows = m.data.len() / d;
                let init: Vec<f64> = init.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
                assert_eq!(init.len(), k * d, "points.init holds k × d values");
                init
            } else {
                m.data.extend((0..n * d).map(|i| ((i / d) % 8 * 7 + i % d * 3) as f32 % 17.0 * 2.0 + rng.next_f64() as f32 * 3.0));
                m.rows = n;
                // random rows, as the benchmark's init (blobs picked twice or missed, so the fit has work to do)
                (0..k).flat_map(|_| m.row((rng.next_f64() * n as f64) as usize).iter().map(|&v| f64::from(v)).collect::<Vec<_>>()).collect()
            };
            let n = m.rows;
            let iterations: u32 = std::env::var("KMEANS_TIMING_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
            let cpu = || {
                // process CPU time (user + system), less sensitive than wall time to a busy machine
                std::fs::read_to_string("/proc/self/stat").ok().map_or(0.0, |s| {
                    let f: Vec<&str> = s.rsplit(')').next().unwrap_or("").split_whitespace().collect();
                    (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) * 10.0
                })
            };
            // KMEANS_TIMING_BOUNDS=0: every distance computed
            let bounds = std::env::var("KMEANS_TIMING_BOUNDS").map_or(true, |v| v != "0");
            // a first fit of one iteration, as a backend fitting again has its buffers from malloc's heap
            lloyd(&m, &init, LloydOptions { max_iter: 1, tol: 0.0, threads, bounds }, &mut |_| {});
            let (started, cpu0) = (std::time::Instant::now(), cpu());
            let (mut spared, mut last) = (Vec::new(), std::time::Instant::now());
            let f = lloyd(&m, &init, LloydOptions { max_iter: iterations, tol: 0.0, threads, bounds }, &mut |p| {
                spared.push((p.spared * 100 / n as u64, (last.elapsed().as_secs_f64() * 1000.0) as u64));
                last = std::time::Instant::now();
            });
            println!("  (% of rows spared, ms) per iteration: {spared:?}, final pass {} ms", (last.elapsed().as_secs_f64() * 1000.0) as u64);
            let (ms, cpu_ms) = (started.elapsed().as_secs_f64() * 1000.0, cpu() - cpu0);
            let passes = f64::from(f.iterations + 1);
            println!(
                "N={n} d={d} k={k} threads={threads}: {:.2} ms wall, {:.2} ms CPU per pass ({} iterations + final pass, inertia {:.6e})",
                ms / passes,
                cpu_ms / passes,
                f.iterations,
                f.inertia
            );
        }
    }

    #[test]
    fn nearest_breaks_ties_to_the_lowest_index() {
        assert_eq!(nearest(&[1.0, 0.0], &[0.0, 0.0, 2.0, 0.0], 2), (0, 1.0));
        assert_eq!(nearest(&[3.0, 4.0], &[0.0, 0.0], 2), (0, 25.0));
    }

    #[test]
    fn mean_variance_is_population_variance() {
        // column variances 25 and 0.25 → mean 12.625
        assert_eq!(square().mean_variance(), 12.625);
    }
}
