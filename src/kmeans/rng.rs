//! A small seeded random generator (SplitMix64): the same seed gives the same
//! centroids on every machine and build, which `rand` does not promise across versions.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// A generator for run `run` of seed `seed` (n_init runs differ, each reproducible).
    pub fn for_run(seed: u64, run: u64) -> Rng {
        let mut r = Rng::new(seed.wrapping_add(run.wrapping_mul(0xD1B5_4A32_D192_ED03)));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// `m` distinct indices of 0..n in sorted order (all of them when m >= n):
/// a partial Fisher-Yates shuffle, deterministic for the generator state.
pub fn sample_indices(n: usize, m: usize, rng: &mut Rng) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    // (Fx: SipHash was a visible share of a seeding's time; the map's order is never read)
    let mut picked: rustc_hash::FxHashMap<usize, usize> = rustc_hash::FxHashMap::default();
    picked.reserve(2 * m);
    let mut out = Vec::with_capacity(m);
    for i in 0..m {
        let j = i + rng.below(n - i);
        let vj = *picked.get(&j).unwrap_or(&j);
        let vi = *picked.get(&i).unwrap_or(&i);
        picked.insert(j, vi);
        out.push(vj);
    }
    out.sort_unstable();
    out
}

/// Reservoir sampling (algorithm R): keeps a uniform sample of `capacity` items
/// from a stream of unknown length; deterministic for the seed and stream order.
pub struct Reservoir {
    pub capacity: usize,
    pub seen: u64,
    rng: Rng,
}

impl Reservoir {
    pub fn new(capacity: usize, seed: u64) -> Reservoir {
        Reservoir { capacity, seen: 0, rng: Rng::for_run(seed, 0xA11CE) }
    }

    /// Where the next stream item goes: `Some(slot)` to store or replace, `None` to drop it.
    pub fn offer(&mut self) -> Option<usize> {
        self.seen += 1;
        if (self.seen as usize) <= self.capacity {
            return Some(self.seen as usize - 1);
        }
        let j = (((self.rng.next_u64() as u128) * self.seen as u128) >> 64) as usize;
        (j < self.capacity).then_some(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_uniform_enough() {
        let a: Vec<u64> = (0..5).map({ let mut r = Rng::new(7); move |_| r.next_u64() }).collect();
        let b: Vec<u64> = (0..5).map({ let mut r = Rng::new(7); move |_| r.next_u64() }).collect();
        assert_eq!(a, b);
        let mut r = Rng::new(1);
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[r.below(4)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
        let f = r.next_f64();
        assert!((0.0..1.0).contains(&f));
    }

    #[test]
    fn sample_indices_are_distinct_and_sorted() {
        let mut r = Rng::new(3);
        let s = sample_indices(100, 30, &mut r);
        assert_eq!(s.len(), 30);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(s.iter().all(|&i| i < 100));
        assert_eq!(sample_indices(5, 10, &mut r), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn reservoir_keeps_the_first_items_then_replaces() {
        let mut res = Reservoir::new(3, 0);
        assert_eq!((res.offer(), res.offer(), res.offer()), (Some(0), Some(1), Some(2)));
        let mut kept = 0;
        for _ in 0..997 {
            if let Some(slot) = res.offer() {
                assert!(slot < 3);
                kept += 1;
            }
        }
        // about capacity * ln(1000/3) ≈ 17 replacements
        assert!((5..40).contains(&kept), "{kept}");
    }
}
