//! Integer customer keys → dense customer indexes, for `rfm_segments`' scan.
//!
//! Why not only a hash map: with a million customers every new key is a cache
//! miss in the map (the profile's largest single cost of the scan). Customer
//! keys are mostly small non-negative integers from a sequence, so keys below
//! a bound that grows with the number of customers (at most 4 slots per
//! customer, plus 64Ki) are looked up in a plain array; other keys (negative,
//! huge, sparse) in a hash map. A key lives in exactly one of the two: a new
//! key in the array's range is inserted there only after checking that the map
//! does not hold it from before the array grew.

use rustc_hash::FxHashMap;

const NONE: u32 = u32::MAX;
const SLACK: usize = 1 << 16;

#[derive(Default)]
pub struct IntKeys {
    dense: Vec<u32>,
    sparse: FxHashMap<i64, u32>,
    count: usize,
}

impl IntKeys {
    pub fn new() -> IntKeys {
        IntKeys::default()
    }

    /// The index of `key` and whether it is new (then it is the number of keys before it).
    #[inline]
    pub fn index_or_insert(&mut self, key: i64) -> (u32, bool) {
        let next = self.count as u32;
        if let Ok(k) = usize::try_from(key) {
            if k < self.dense.len() {
                let slot = self.dense[k];
                if slot != NONE {
                    return (slot, false);
                }
                return self.insert_dense(k, key, next);
            }
            if k < 4 * self.count + SLACK {
                let len = (k + 1).max(2 * self.dense.len()).min(4 * self.count + SLACK);
                self.dense.resize(len, NONE);
                return self.insert_dense(k, key, next);
            }
        }
        let index = *self.sparse.entry(key).or_insert(next);
        if index == next {
            self.count += 1;
        }
        (index, index == next)
    }

    fn insert_dense(&mut self, k: usize, key: i64, next: u32) -> (u32, bool) {
        // the key may be in the map from before the array covered it
        if let Some(&index) = (!self.sparse.is_empty()).then(|| self.sparse.get(&key)).flatten() {
            return (index, false);
        }
        self.dense[k] = next;
        self.count += 1;
        (next, true)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn same_indexes_as_a_hash_map() {
        // sequential, repeated, negative, huge, sparse, and keys that the array grows over
        let mut keys: Vec<i64> = (0..200_000).map(|i| (i * 7919) % 150_000).collect();
        keys.extend([-1, i64::MIN, i64::MAX, 1 << 40, 5, 700_000, 9_000_000, 9_000_000, 1 << 40, -1]);
        keys.extend((0..300_000).map(|i| 8_000_000 + (i * 31) % 2_000_000));
        keys.extend([9_000_000, 3, i64::MIN, 700_000, 700_001, 700_000]);
        let mut ours = IntKeys::new();
        let mut reference: HashMap<i64, u32> = HashMap::new();
        for &k in &keys {
            let next = reference.len() as u32;
            let want = *reference.entry(k).or_insert(next);
            assert_eq!(ours.index_or_insert(k), (want, want == next), "key {k}");
        }
        assert_eq!(ours.len(), reference.len());
    }
}
