//! One customer's orders summarised: the arithmetic of `rfm_agg` and
//! `rfm_segments`, without PostgreSQL.
//!
//! Times are PostgreSQL timestamps (microseconds since 2000-01-01); `day` is the
//! order's calendar date (local to the session TimeZone for timestamptz) as days
//! since 2000-01-01. The BTYD fields follow lifetimes'
//! `summary_data_from_transaction_data(freq='D')`: they only need the distinct
//! purchase days, the total and the first day's total, since the mean of the
//! repeat days' totals is (total − first day's total) / (days − 1).

use super::amount::{self, Decimal};
use crate::error::{Error, Result};

pub const USEC_PER_DAY: i64 = 86_400_000_000;

/// The fixed-size part of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub as_of: i64,
    pub as_of_day: i32,
    /// the orders were `timestamp without time zone`
    pub naive: bool,
    pub orders: i64,
    /// orders with a non-NULL amount
    pub amounts: i64,
    pub first_at: i64,
    pub last_at: i64,
    /// sum of the non-NULL amounts
    pub sum: Decimal,
    /// sum of the amounts on the first purchase day
    pub first_day_sum: Decimal,
}

impl Totals {
    pub fn new(as_of: i64, as_of_day: i32, naive: bool) -> Totals {
        let zero = Decimal::from_int(0);
        Totals {
            as_of,
            as_of_day,
            naive,
            orders: 0,
            amounts: 0,
            first_at: i64::MAX,
            last_at: i64::MIN,
            sum: zero,
            first_day_sum: zero,
        }
    }

    /// Adds one order on `day`, given the customer's first purchase day so far.
    /// The caller has checked `at <= as_of`.
    pub fn add(&mut self, at: i64, day: i32, first_day: Option<i32>, amount: Option<Decimal>) -> Result<()> {
        self.orders += 1;
        self.first_at = self.first_at.min(at);
        self.last_at = self.last_at.max(at);
        let value = amount.unwrap_or(Decimal { units: 0, scale: 0, display_scale: 0 });
        if let Some(a) = amount {
            self.amounts += 1;
            self.sum = amount::add(self.sum, a)?;
        }
        match first_day {
            Some(first) if day > first => {}
            Some(first) if day == first => self.first_day_sum = amount::add(self.first_day_sum, value)?,
            _ => {
                // a new first day: keep the display scale, restart the day's sum
                let display_scale = self.first_day_sum.display_scale.max(value.display_scale);
                self.first_day_sum = Decimal { display_scale, ..value };
            }
        }
        Ok(())
    }
}

/// A customer's summary: totals and the sorted distinct purchase days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub totals: Totals,
    pub days: Vec<i32>,
}

/// Error for combining summaries of different points in time.
pub fn different_as_of() -> Error {
    Error::invalid_parameter("rfm_agg got different as_of values in one group")
        .with_hint("pass one as_of for all orders of a customer, e.g. a constant or a parameter")
}

impl Summary {
    pub fn new(as_of: i64, as_of_day: i32, naive: bool) -> Summary {
        Summary { totals: Totals::new(as_of, as_of_day, naive), days: Vec::new() }
    }

    /// Adds one order; orders after as_of are ignored.
    pub fn add(&mut self, at: i64, day: i32, amount: Option<Decimal>) -> Result<()> {
        if at > self.totals.as_of {
            return Ok(());
        }
        self.totals.add(at, day, self.days.first().copied(), amount)?;
        if let Err(i) = self.days.binary_search(&day) {
            self.days.insert(i, day);
        }
        Ok(())
    }

    /// Merges two partial summaries of the same customer and as_of.
    pub fn merge(mut self, other: &Summary) -> Result<Summary> {
        let (a, b) = (&mut self.totals, &other.totals);
        if a.as_of != b.as_of {
            return Err(different_as_of());
        }
        if b.orders == 0 {
            return Ok(self);
        }
        if a.orders == 0 {
            return Ok(other.clone());
        }
        let first_day_sum = match self.days[0].cmp(&other.days[0]) {
            std::cmp::Ordering::Less => a.first_day_sum,
            std::cmp::Ordering::Greater => b.first_day_sum,
            std::cmp::Ordering::Equal => amount::add(a.first_day_sum, b.first_day_sum)?,
        };
        a.orders += b.orders;
        a.amounts += b.amounts;
        a.first_at = a.first_at.min(b.first_at);
        a.last_at = a.last_at.max(b.last_at);
        a.sum = amount::add(a.sum, b.sum)?;
        a.first_day_sum = Decimal {
            display_scale: a.first_day_sum.display_scale.max(b.first_day_sum.display_scale),
            ..first_day_sum
        };
        let mut days = Vec::with_capacity(self.days.len() + other.days.len());
        let (mut i, mut j) = (0, 0);
        while i < self.days.len() || j < other.days.len() {
            let next = match (self.days.get(i), other.days.get(j)) {
                (Some(&x), Some(&y)) if x == y => {
                    i += 1;
                    j += 1;
                    x
                }
                (Some(&x), Some(&y)) if x < y => {
                    i += 1;
                    x
                }
                (Some(&x), None) => {
                    i += 1;
                    x
                }
                (_, Some(&y)) => {
                    j += 1;
                    y
                }
                (None, None) => unreachable!(),
            };
            days.push(next);
        }
        self.days = days;
        Ok(self)
    }

    pub fn finish(&self) -> Rfm {
        finish(&self.totals, &self.days)
    }
}

/// The fields of the SQL composite type `rfm`, in order (None: NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct Rfm {
    pub first_order_at: Option<i64>,
    pub last_order_at: Option<i64>,
    pub recency_days: Option<f64>,
    pub frequency: i64,
    pub monetary: Option<Decimal>,
    pub avg_order_value: Option<Decimal>,
    pub tenure_days: Option<f64>,
    pub btyd_frequency: Option<i32>,
    pub btyd_recency: Option<f64>,
    pub btyd_t: Option<f64>,
    pub btyd_monetary_value: Option<f64>,
}

/// The `rfm` of totals and sorted distinct days. No orders (as of as_of):
/// frequency 0, monetary 0, every other field NULL. Orders whose amounts are all
/// NULL: monetary and avg_order_value NULL (as SQL's sum and avg).
pub fn finish(t: &Totals, days: &[i32]) -> Rfm {
    if t.orders == 0 {
        return Rfm {
            first_order_at: None,
            last_order_at: None,
            recency_days: None,
            frequency: 0,
            monetary: Some(t.sum),
            avg_order_value: None,
            tenure_days: None,
            btyd_frequency: None,
            btyd_recency: None,
            btyd_t: None,
            btyd_monetary_value: None,
        };
    }
    let day_len = USEC_PER_DAY as f64;
    let first_day = days[0];
    let last_day = days[days.len() - 1];
    let repeat_days = days.len() as i64 - 1;
    let btyd_monetary_value = if repeat_days == 0 {
        0.0
    } else {
        // (total - first day's total) / repeat days; never overflows after the sums did not
        let repeat_total = amount::add(t.sum, Decimal { units: -t.first_day_sum.units, ..t.first_day_sum })
            .map(Decimal::to_f64)
            .unwrap_or(t.sum.to_f64() - t.first_day_sum.to_f64());
        repeat_total / repeat_days as f64
    };
    Rfm {
        first_order_at: Some(t.first_at),
        last_order_at: Some(t.last_at),
        recency_days: Some((t.as_of - t.last_at) as f64 / day_len),
        frequency: t.orders,
        monetary: (t.amounts > 0).then_some(t.sum),
        avg_order_value: amount::mean(t.sum, t.amounts),
        tenure_days: Some((t.as_of - t.first_at) as f64 / day_len),
        btyd_frequency: Some(repeat_days as i32),
        btyd_recency: Some(f64::from(last_day - first_day)),
        btyd_t: Some(f64::from(t.as_of_day - first_day)),
        btyd_monetary_value: Some(btyd_monetary_value),
    }
}

/// The calendar day of a timestamp without time zone.
pub fn naive_day(at: i64) -> i32 {
    at.div_euclid(USEC_PER_DAY) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = USEC_PER_DAY;

    fn money(units: i128) -> Option<Decimal> {
        Some(Decimal { units, scale: 2, display_scale: 2 })
    }

    /// as_of = day 10 at noon; orders (day, hour, cents)
    fn summary(orders: &[(i32, i64, Option<i128>)]) -> Summary {
        let as_of = 10 * DAY + DAY / 2;
        let mut s = Summary::new(as_of, 10, true);
        for &(day, hour, cents) in orders {
            let at = i64::from(day) * DAY + hour * 3_600_000_000;
            s.add(at, naive_day(at), cents.and_then(money)).unwrap();
        }
        s
    }

    #[test]
    fn fields_match_hand_computed_values() {
        // day 1: 10.00 + 5.00; day 4: 20.00; day 7: 30.00 and 1.50; day 11 is after as_of
        let s = summary(&[(4, 9, Some(2000)), (1, 8, Some(1000)), (7, 6, Some(3000)), (1, 20, Some(500)),
                          (7, 6, Some(150)), (11, 0, Some(99900))]);
        let r = s.finish();
        assert_eq!(r.frequency, 5);
        assert_eq!(r.monetary.unwrap().to_text(), "66.50");
        assert_eq!(r.avg_order_value.unwrap().to_text(), "13.300000");
        assert_eq!(r.first_order_at, Some(DAY + 8 * 3_600_000_000));
        assert_eq!(r.last_order_at, Some(7 * DAY + 6 * 3_600_000_000));
        assert_eq!(r.recency_days, Some(3.25)); // day 7 06:00 → day 10 12:00
        assert_eq!(r.tenure_days, Some(9.0 + 4.0 / 24.0));
        assert_eq!(r.btyd_frequency, Some(2)); // days 1, 4, 7
        assert_eq!(r.btyd_recency, Some(6.0));
        assert_eq!(r.btyd_t, Some(9.0));
        assert_eq!(r.btyd_monetary_value, Some((20.0 + 31.5) / 2.0));
    }

    #[test]
    fn one_day_only_has_zero_btyd_monetary() {
        let r = summary(&[(3, 1, Some(1000)), (3, 2, Some(-300))]).finish();
        assert_eq!((r.frequency, r.btyd_frequency, r.btyd_recency), (2, Some(0), Some(0.0)));
        assert_eq!(r.monetary.unwrap().to_text(), "7.00");
        assert_eq!(r.btyd_monetary_value, Some(0.0));
    }

    #[test]
    fn null_amounts_count_as_orders_without_money() {
        let r = summary(&[(2, 0, None), (5, 0, None)]).finish();
        assert_eq!(r.frequency, 2);
        assert_eq!(r.monetary, None);
        assert_eq!(r.avg_order_value, None);
        assert_eq!(r.btyd_monetary_value, Some(0.0));
        let r = summary(&[(2, 0, Some(1000)), (5, 0, None)]).finish();
        assert_eq!(r.avg_order_value.unwrap().to_text(), "10.000000");
        assert_eq!(r.btyd_monetary_value, Some(0.0)); // the repeat day's total is 0, as pandas' sum
    }

    #[test]
    fn no_orders_before_as_of() {
        let r = summary(&[(12, 0, Some(100))]).finish();
        assert_eq!(r.frequency, 0);
        assert_eq!(r.monetary.unwrap().units, 0);
        assert_eq!((r.recency_days, r.btyd_frequency, r.avg_order_value), (None, None, None));
    }

    #[test]
    fn merge_in_any_split_equals_serial() {
        let orders = [(4, 9, Some(2000)), (1, 8, Some(1000)), (7, 6, Some(3000)), (1, 20, Some(500)),
                      (7, 6, Some(150)), (1, 1, None), (9, 0, Some(-700))];
        let serial = summary(&orders);
        for split in 0..=orders.len() {
            for reversed in [false, true] {
                let (a, b) = (summary(&orders[..split]), summary(&orders[split..]));
                let merged = if reversed { b.merge(&a).unwrap() } else { a.merge(&b).unwrap() };
                assert_eq!(merged.finish(), serial.finish(), "split {split}");
                assert_eq!(merged.days, serial.days);
            }
        }
        let mut other = Summary::new(0, 0, true);
        other.add(-DAY, -1, None).unwrap();
        assert!(serial.merge(&other).is_err());
    }
}
