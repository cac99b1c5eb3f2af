//! `rfm_segments`' accumulation on a second thread, while the backend reads.
//!
//! Why: the backend's one pass both reads the table (buffer lookups, tuple
//! deforming: PostgreSQL, so one thread) and accumulates each order into its
//! customer (key lookup, exact sums: cache misses over a million customers).
//! The second half needs no PostgreSQL, so a worker thread does it on the
//! other core: the backend sends batches of decoded [`Order`]s through a
//! bounded channel and gets the emptied batches back for reuse. The worker
//! never calls PostgreSQL; an error it meets (an amount beyond the exact
//! range) comes back from [`Accumulator::push`] or [`Accumulator::finish`],
//! and the backend raises it. Dropping an `Accumulator` (also while an error
//! unwinds) stops and joins the worker.

use super::amount::Decimal;
use super::customers::Customers;
use super::int_keys::IntKeys;
use crate::error::Result;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// One order, decoded by the backend.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// the integer customer key, or (keys the backend indexes itself) the customer's dense index
    pub key: i64,
    pub at: i64,
    /// local calendar day of `at`
    pub day: i32,
    pub amount: Amount,
}

/// Bytes of a `numeric` (after its header) carried in an [`Amount`]: 3 base-10000
/// groups and more, which covers amounts of up to 12 significant digits.
pub const NUMERIC_INLINE: usize = 14;

/// An order's amount as the backend read it: exact already, or the bytes of
/// a `numeric`, which the worker reads (the costlier half of decoding).
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    Null,
    Exact(Decimal),
    Numeric { len: u8, bytes: [u8; NUMERIC_INLINE] },
}

impl Amount {
    /// A numeric's bytes: carried as they are when short, else read here.
    pub fn numeric(b: &[u8]) -> Result<Amount> {
        if b.len() > NUMERIC_INLINE {
            return Decimal::from_numeric_bytes(b).map(Amount::Exact);
        }
        let mut bytes = [0u8; NUMERIC_INLINE];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Amount::Numeric { len: b.len() as u8, bytes })
    }

    fn decimal(&self) -> Result<Option<Decimal>> {
        match self {
            Amount::Null => Ok(None),
            Amount::Exact(d) => Ok(Some(*d)),
            Amount::Numeric { len, bytes } => Decimal::from_numeric_bytes(&bytes[..*len as usize]).map(Some),
        }
    }
}

/// What the worker hands back: customers in first-seen order, with their integer keys.
pub struct Accumulated {
    pub customers: Customers,
    /// the key of each customer (empty when the backend indexed the keys)
    pub int_keys: Vec<i64>,
}

/// Orders per batch: large enough that the channel is not the cost, small
/// enough that a batch stays in cache between the two threads.
const BATCH: usize = 4096;
/// Batches in flight: the backend can run ahead this far.
const IN_FLIGHT: usize = 4;

pub struct Accumulator {
    batch: Vec<Order>,
    to_worker: Option<SyncSender<Vec<Order>>>,
    recycled: Receiver<Vec<Order>>,
    worker: Option<JoinHandle<Result<Accumulated>>>,
}

impl Accumulator {
    /// Starts the worker. `int_keys`: `Order::key` is an integer customer key
    /// the worker indexes; otherwise it is the dense index (0, 1, 2, ... in
    /// first-seen order) the backend gave the customer.
    pub fn start(as_of: i64, as_of_day: i32, int_keys: bool) -> Accumulator {
        let (to_worker, from_backend) = sync_channel::<Vec<Order>>(IN_FLIGHT);
        let (to_backend, recycled) = sync_channel::<Vec<Order>>(IN_FLIGHT + 2);
        let worker = std::thread::Builder::new()
            .name("rfm_segments accumulate".into())
            .spawn(move || {
                let mut work = Work::new(as_of, as_of_day, int_keys);
                for mut batch in from_backend {
                    // on an error the channel closes, so the backend's next send stops the scan
                    work.add_all(&batch)?;
                    batch.clear();
                    let _ = to_backend.try_send(batch); // the backend may be gone or have enough
                }
                Ok(work.done())
            })
            .expect("the operating system refused a thread");
        Accumulator { batch: Vec::with_capacity(BATCH), to_worker: Some(to_worker), recycled, worker: Some(worker) }
    }

    /// Queues one order; sends the batch when it is full.
    #[inline]
    pub fn push(&mut self, order: Order) -> Result<()> {
        self.batch.push(order);
        if self.batch.len() == BATCH {
            return self.send();
        }
        Ok(())
    }

    fn send(&mut self) -> Result<()> {
        let next = self.recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let full = std::mem::replace(&mut self.batch, next);
        let sender = self.to_worker.as_ref().expect("sending after finish");
        if sender.send(full).is_err() {
            // the worker stopped early: its error (or panic)
            return self.join().map(|_| ());
        }
        Ok(())
    }

    /// Sends the last orders and waits for the worker's customers.
    pub fn finish(mut self) -> Result<Accumulated> {
        if !self.batch.is_empty() {
            self.send()?;
        }
        self.join()
    }

    fn join(&mut self) -> Result<Accumulated> {
        self.to_worker = None; // closes the channel: the worker ends after the last batch
        let worker = self.worker.take().expect("joined twice");
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Accumulator {
    fn drop(&mut self) {
        self.to_worker = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The worker's state: the customers and, for integer keys, the key index.
struct Work {
    keys: Option<IntKeys>,
    int_keys: Vec<i64>,
    customers: Customers,
    /// the previous order's customer (orders often come grouped by customer)
    last_key: i64,
    last_index: u32,
}

impl Work {
    fn new(as_of: i64, as_of_day: i32, int_keys: bool) -> Work {
        Work {
            keys: int_keys.then(IntKeys::new),
            int_keys: Vec::new(),
            customers: Customers::new(as_of, as_of_day),
            last_key: 0,
            last_index: u32::MAX,
        }
    }

    #[inline]
    fn index(&mut self, key: i64) -> u32 {
        if key == self.last_key && self.last_index != u32::MAX {
            return self.last_index;
        }
        let index = match &mut self.keys {
            Some(map) => {
                let (index, new) = map.index_or_insert(key);
                if new {
                    self.int_keys.push(key);
                    self.customers.push();
                }
                index
            }
            None => {
                let index = key as u32;
                while self.customers.len() <= index as usize {
                    self.customers.push();
                }
                index
            }
        };
        (self.last_key, self.last_index) = (key, index);
        index
    }

    fn add_all(&mut self, orders: &[Order]) -> Result<()> {
        for o in orders {
            let index = self.index(o.key);
            self.customers.add(index, o.at, o.day, o.amount.decimal()?)?;
        }
        Ok(())
    }

    fn done(self) -> Accumulated {
        Accumulated { customers: self.customers, int_keys: self.int_keys }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfm::summary::USEC_PER_DAY;

    fn order(key: i64, day: i32, cents: Option<i128>) -> Order {
        let at = i64::from(day) * USEC_PER_DAY + 3_600_000_000;
        let amount = cents.map_or(Amount::Null, |units| Amount::Exact(Decimal { units, scale: 2, display_scale: 2 }));
        Order { key, at, day, amount }
    }

    /// The same customers as accumulating on this thread, over many batches.
    #[test]
    fn equals_accumulating_in_place() {
        let as_of_day = 500;
        let as_of = i64::from(as_of_day) * USEC_PER_DAY;
        let orders: Vec<Order> = (0..25_000i64)
            .map(|i| order((i * 7919) % 3001 - 50, (i % 490) as i32, (i % 7 != 0).then_some(i128::from(i % 1000))))
            .collect();
        let mut threaded = Accumulator::start(as_of, as_of_day, true);
        for &o in &orders {
            threaded.push(o).unwrap();
        }
        let got = threaded.finish().unwrap();
        let mut here = Work::new(as_of, as_of_day, true);
        here.add_all(&orders).unwrap();
        let want = here.done();
        assert_eq!(got.int_keys, want.int_keys);
        assert_eq!(got.customers.len(), 3001);
        let (mut a, mut b) = (got.customers.finish(), want.customers.finish());
        for i in 0..3001 {
            assert_eq!(a.rfm(i), b.rfm(i), "customer {i}");
        }
    }

    #[test]
    fn numeric_bytes_read_on_the_worker_equal_reading_them_here() {
        // 12.50 = one group 12, one fractional group 5000, dscale 2; and a long one
        let short = Decimal { units: 1250, scale: 2, display_scale: 2 };
        let long = Decimal { units: 123_456_789_012_345_678_901_234_567, scale: 9, display_scale: 9 };
        for d in [short, long, Decimal::from_int(-7)] {
            let (bytes, len) = d.numeric_bytes();
            let amount = Amount::numeric(&bytes[..len]).unwrap();
            assert_eq!(matches!(amount, Amount::Numeric { .. }), len <= NUMERIC_INLINE);
            let got = amount.decimal().unwrap().unwrap();
            assert_eq!((got.units * 10i128.pow((9 - got.scale).into())), d.units * 10i128.pow((9 - d.scale).into()));
        }
        let nan = 0xC000u16.to_ne_bytes(); // NaN's bytes: carried, then rejected on the worker
        assert!(Amount::numeric(&nan).unwrap().decimal().unwrap_err().to_string().contains("NaN"));
    }

    #[test]
    fn dense_indexes_from_the_backend() {
        let mut acc = Accumulator::start(10 * USEC_PER_DAY, 10, false);
        for (index, day) in [(0, 1), (1, 2), (0, 3), (2, 4), (1, 5)] {
            acc.push(order(index, day, Some(100))).unwrap();
        }
        let got = acc.finish().unwrap();
        assert!(got.int_keys.is_empty());
        let mut finished = got.customers.finish();
        let frequencies: Vec<i64> = (0..3).map(|i| finished.rfm(i).frequency).collect();
        assert_eq!(frequencies, [2, 2, 1]);
    }

    #[test]
    fn an_error_on_the_worker_comes_back() {
        let mut acc = Accumulator::start(10 * USEC_PER_DAY, 10, true);
        let huge = Amount::Exact(Decimal { units: i128::MAX / 2 + 1, scale: 0, display_scale: 0 });
        let mut failed = None;
        for i in 0..3 * BATCH {
            let o = Order { amount: huge, ..order(1, 1 + (i % 5) as i32, None) };
            if let Err(e) = acc.push(o) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => e,
            None => acc.finish().err().expect("the sum overflows"),
        };
        assert!(e.to_string().contains("beyond the exact range"), "{e}");
    }

    #[test]
    fn dropping_mid_scan_stops_the_worker() {
        let mut acc = Accumulator::start(10 * USEC_PER_DAY, 10, true);
        for i in 0..(BATCH * 3 + 5) as i64 {
            acc.push(order(i, 1, Some(1))).unwrap();
        }
        drop(acc); // joins: the test would hang otherwise
    }
}
