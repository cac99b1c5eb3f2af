//! Dense accumulation of many customers' orders in one pass (`rfm_segments`),
//! with the same arithmetic and results as one [`Summary`] per customer.
//!
//! Why not a `Summary` per customer: its sorted `Vec` of purchase days costs an
//! allocation and an insertion per customer and order. Only the first purchase
//! day is needed while scanning (for the first day's total); the distinct days
//! are counted once at the end. So each order appends its (customer, day) to
//! one flat list, and [`Customers::finish`] groups the days by customer with a
//! counting sort (O(orders)), after which each customer's few days are sorted
//! and deduplicated in place.

use super::amount::Decimal;
use super::summary::{self, Rfm, Totals};
use crate::error::Result;

/// Customers indexed densely 0..n in first-seen order.
pub struct Customers {
    as_of: i64,
    as_of_day: i32,
    totals: Vec<Totals>,
    /// the earliest purchase day so far, per customer
    first_day: Vec<i32>,
    /// customer index and day of every order counted, in scan order
    order_customer: Vec<u32>,
    order_day: Vec<i32>,
}

impl Customers {
    pub fn new(as_of: i64, as_of_day: i32) -> Customers {
        Customers {
            as_of,
            as_of_day,
            totals: Vec::new(),
            first_day: Vec::new(),
            order_customer: Vec::new(),
            order_day: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.totals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// A new customer without orders; its index.
    pub fn push(&mut self) -> u32 {
        self.totals.push(Totals::new(self.as_of, self.as_of_day, false));
        self.first_day.push(i32::MAX);
        (self.totals.len() - 1) as u32
    }

    /// Adds one order of customer `index`; orders after as_of are ignored.
    pub fn add(&mut self, index: u32, at: i64, day: i32, amount: Option<Decimal>) -> Result<()> {
        if at > self.as_of {
            return Ok(());
        }
        let i = index as usize;
        let first = self.first_day[i];
        self.totals[i].add(at, day, (first != i32::MAX).then_some(first), amount)?;
        self.first_day[i] = first.min(day);
        self.order_customer.push(index);
        self.order_day.push(day);
        Ok(())
    }

    pub fn totals(&self, index: usize) -> &Totals {
        &self.totals[index]
    }

    /// The recency (days since the last order), as `Rfm::recency_days`.
    pub fn recency_days(&self, index: usize) -> Option<f64> {
        let t = &self.totals[index];
        (t.orders > 0).then(|| (t.as_of - t.last_at) as f64 / summary::USEC_PER_DAY as f64)
    }

    /// The monetary total as a float, as `Rfm::monetary` (None without amounts).
    pub fn monetary(&self, index: usize) -> Option<f64> {
        let t = &self.totals[index];
        (t.amounts > 0).then(|| t.sum.to_f64())
    }

    /// Groups the days by customer; then [`Finished::rfm`] gives each customer's `Rfm`.
    pub fn finish(self) -> Finished {
        let n = self.totals.len();
        // start of each customer's days (counting sort: counts, prefix sums, scatter)
        let mut start = vec![0usize; n + 1];
        for &c in &self.order_customer {
            start[c as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut days = vec![0i32; self.order_day.len()];
        for (&c, &d) in self.order_customer.iter().zip(&self.order_day) {
            let at = &mut next[c as usize];
            days[*at] = d;
            *at += 1;
        }
        drop(next);
        Finished { totals: self.totals, start, days }
    }
}

/// Customers with their days grouped.
pub struct Finished {
    totals: Vec<Totals>,
    start: Vec<usize>,
    days: Vec<i32>,
}

impl Finished {
    pub fn len(&self) -> usize {
        self.totals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// The `rfm` of customer `index`, exactly as [`summary::Summary::finish`].
    pub fn rfm(&mut self, index: usize) -> Rfm {
        let days = &mut self.days[self.start[index]..self.start[index + 1]];
        days.sort_unstable();
        // distinct days, in place
        let mut distinct = usize::from(!days.is_empty());
        for i in 1..days.len() {
            if days[i] != days[distinct - 1] {
                days[distinct] = days[i];
                distinct += 1;
            }
        }
        summary::finish(&self.totals[index], &days[..distinct])
    }
}

/// Customers per chunk of [`RowStream`].
const CHUNK: usize = 4096;

/// Every customer's row in index order, made on a worker thread (grouping
/// the days, sorting each customer's, finishing its `Rfm`, then `prepare`)
/// while the backend writes the rows of the chunk before. Dropping the stream
/// stops and joins the worker.
pub struct RowStream<T> {
    chunks: Option<std::sync::mpsc::Receiver<Vec<T>>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Customers {
    /// [`Customers::finish`], then `prepare` of every [`Finished::rfm`], on a worker thread.
    pub fn finish_in_background<T, F>(self, mut prepare: F) -> RowStream<T>
    where
        T: Send + 'static,
        F: FnMut(Rfm) -> T + Send + 'static,
    {
        let (sender, chunks) = std::sync::mpsc::sync_channel::<Vec<T>>(4);
        let worker = std::thread::Builder::new()
            .name("rfm_segments finish".into())
            .spawn(move || {
                let mut finished = self.finish();
                let n = finished.len();
                for start in (0..n).step_by(CHUNK) {
                    let chunk = (start..n.min(start + CHUNK)).map(|i| prepare(finished.rfm(i))).collect();
                    if sender.send(chunk).is_err() {
                        return; // the backend stopped reading
                    }
                }
            })
            .expect("the operating system refused a thread");
        RowStream { chunks: Some(chunks), worker: Some(worker) }
    }
}

impl<T> RowStream<T> {
    /// The next customers' rows; None after the last.
    pub fn next_chunk(&mut self) -> Option<Vec<T>> {
        let next = self.chunks.as_ref()?.recv().ok();
        if next.is_none() {
            self.stop();
        }
        next
    }

    fn stop(&mut self) {
        self.chunks = None; // a worker still sending sees the channel closed
        if let Some(worker) = self.worker.take() {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl<T> Drop for RowStream<T> {
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfm::summary::{Summary, USEC_PER_DAY};

    /// A small deterministic generator (no dependency).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn equals_one_summary_per_customer() {
        let as_of_day = 400;
        let as_of = i64::from(as_of_day) * USEC_PER_DAY + USEC_PER_DAY / 2;
        let mut rng = Lcg(7);
        let customers = 300usize;
        let mut dense = Customers::new(as_of, as_of_day);
        let mut reference: Vec<Summary> = Vec::new();
        let mut index_of = vec![u32::MAX; customers];
        for _ in 0..5000 {
            let c = rng.next(customers as u64) as usize;
            // some orders after as_of, many on the same day, some NULL, negative and odd-scale amounts
            let day = rng.next(410) as i32;
            let at = i64::from(day) * USEC_PER_DAY + rng.next(USEC_PER_DAY as u64) as i64;
            let amount = match rng.next(6) {
                0 => None,
                1 => Some(Decimal { units: -(rng.next(1000) as i128), scale: 2, display_scale: 2 }),
                2 => Some(Decimal { units: rng.next(100) as i128, scale: 1, display_scale: 3 }),
                3 => Some(Decimal::from_int(rng.next(50) as i64)),
                _ => Some(Decimal { units: rng.next(100_000) as i128, scale: 2, display_scale: 2 }),
            };
            if index_of[c] == u32::MAX {
                index_of[c] = dense.push();
                reference.push(Summary::new(as_of, as_of_day, false));
            }
            let i = index_of[c];
            dense.add(i, at, day, amount).unwrap();
            reference[i as usize].add(at, day, amount).unwrap();
        }
        assert_eq!(dense.len(), reference.len());
        for (i, s) in reference.iter().enumerate() {
            assert_eq!(dense.totals(i), &s.totals);
            let r = s.finish();
            assert_eq!(dense.recency_days(i), r.recency_days);
            assert_eq!(dense.monetary(i), r.monetary.map(Decimal::to_f64));
        }
        let mut finished = dense.finish();
        for (i, s) in reference.iter().enumerate() {
            assert_eq!(finished.rfm(i), s.finish(), "customer {i}");
        }
    }

    #[test]
    fn the_background_stream_equals_finish() {
        let as_of_day = 50;
        let mut dense = Customers::new(i64::from(as_of_day) * USEC_PER_DAY, as_of_day);
        let n = 2 * CHUNK + 7;
        for i in 0..n {
            dense.push();
            for k in 0..(i % 4) as i32 {
                let day = (i as i32 * 7 + k * 3) % 49;
                dense.add(i as u32, i64::from(day) * USEC_PER_DAY, day, Some(Decimal::from_int(k.into()))).unwrap();
            }
        }
        let mut copy = Customers::new(dense.as_of, dense.as_of_day);
        copy.totals = dense.totals.clone();
        copy.first_day = dense.first_day.clone();
        copy.order_customer = dense.order_customer.clone();
        copy.order_day = dense.order_day.clone();
        let mut want = copy.finish();
        let mut stream = dense.finish_in_background(|r| r);
        let mut got = Vec::new();
        while let Some(chunk) = stream.next_chunk() {
            assert!(chunk.len() <= CHUNK);
            got.extend(chunk);
        }
        assert_eq!(got.len(), n);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r, &want.rfm(i), "customer {i}");
        }
        // stopping early joins the worker (the test would hang otherwise)
        let mut early = Customers::new(0, 0);
        (0..3 * CHUNK).for_each(|_| {
            early.push();
        });
        let mut stream = early.finish_in_background(|r| r.frequency);
        assert_eq!(stream.next_chunk().map(|c| c.len()), Some(CHUNK));
        drop(stream);
    }

    #[test]
    fn a_customer_with_orders_only_after_as_of_has_none() {
        let mut dense = Customers::new(10 * USEC_PER_DAY, 10);
        let i = dense.push();
        dense.add(i, 11 * USEC_PER_DAY, 11, Some(Decimal::from_int(5))).unwrap();
        assert_eq!(dense.recency_days(0), None);
        assert_eq!(dense.finish().rfm(0), Summary::new(10 * USEC_PER_DAY, 10, false).finish());
    }
}
