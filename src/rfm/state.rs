//! The `bytea` state of `rfm_agg`: a fixed header (the [`Totals`]) followed by
//! the sorted distinct purchase days, with spare room so the transition
//! function adds an order in place. A plain varlena crosses to and from
//! parallel workers as it is, so the aggregate needs no serial/deserial pair.
//!
//! Layout (native endian): magic u8, flags u8 (1: naive), scale u8, first-day
//! scale u8, days u32, as_of i64, as_of_day i32, display scale u16, first-day
//! display scale u16, orders i64, amounts i64, first_at i64, last_at i64,
//! sum i128, first_day_sum i128, then `days` i32 and the spare room.

use super::amount::Decimal;
use super::summary::{Summary, Totals};
use crate::error::{Error, Result, SqlState};

const MAGIC: u8 = 0x52; // 'R'
pub const HEADER: usize = 88;

fn corrupt() -> Error {
    Error::new(SqlState::InvalidTextRepresentation, "corrupt rfm_agg state")
        .with_hint("pass only states made by rfm_agg's own support functions")
}

fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b[at..at + N].try_into().expect("in bounds")
}

fn read_header(b: &[u8]) -> Result<(Totals, usize)> {
    if b.len() < HEADER || b[0] != MAGIC {
        return Err(corrupt());
    }
    let ndays = u32::from_ne_bytes(get(b, 4)) as usize;
    if HEADER + 4 * ndays > b.len() {
        return Err(corrupt());
    }
    let i64_at = |at| i64::from_ne_bytes(get(b, at));
    let totals = Totals {
        as_of: i64_at(8),
        as_of_day: i32::from_ne_bytes(get(b, 16)),
        naive: b[1] & 1 != 0,
        orders: i64_at(24),
        amounts: i64_at(32),
        first_at: i64_at(40),
        last_at: i64_at(48),
        sum: Decimal { units: i128::from_ne_bytes(get(b, 56)), scale: b[2], display_scale: u16::from_ne_bytes(get(b, 20)) },
        first_day_sum: Decimal {
            units: i128::from_ne_bytes(get(b, 72)),
            scale: b[3],
            display_scale: u16::from_ne_bytes(get(b, 22)),
        },
    };
    Ok((totals, ndays))
}

fn write_header(b: &mut [u8], t: &Totals, ndays: usize) {
    b[0] = MAGIC;
    b[1] = u8::from(t.naive);
    b[2] = t.sum.scale;
    b[3] = t.first_day_sum.scale;
    b[4..8].copy_from_slice(&(ndays as u32).to_ne_bytes());
    b[8..16].copy_from_slice(&t.as_of.to_ne_bytes());
    b[16..20].copy_from_slice(&t.as_of_day.to_ne_bytes());
    b[20..22].copy_from_slice(&t.sum.display_scale.to_ne_bytes());
    b[22..24].copy_from_slice(&t.first_day_sum.display_scale.to_ne_bytes());
    b[24..32].copy_from_slice(&t.orders.to_ne_bytes());
    b[32..40].copy_from_slice(&t.amounts.to_ne_bytes());
    b[40..48].copy_from_slice(&t.first_at.to_ne_bytes());
    b[48..56].copy_from_slice(&t.last_at.to_ne_bytes());
    b[56..72].copy_from_slice(&t.sum.units.to_ne_bytes());
    b[72..88].copy_from_slice(&t.first_day_sum.units.to_ne_bytes());
}

fn day_at(b: &[u8], i: usize) -> i32 {
    i32::from_ne_bytes(get(b, HEADER + 4 * i))
}

/// The bytes of `summary` with room for `spare_days` more days.
pub fn encode(summary: &Summary, spare_days: usize) -> Vec<u8> {
    let mut b = vec![0u8; HEADER + 4 * (summary.days.len() + spare_days)];
    write_header(&mut b, &summary.totals, summary.days.len());
    for (i, d) in summary.days.iter().enumerate() {
        b[HEADER + 4 * i..HEADER + 4 * i + 4].copy_from_slice(&d.to_ne_bytes());
    }
    b
}

pub fn decode(b: &[u8]) -> Result<Summary> {
    let (totals, ndays) = read_header(b)?;
    let days = (0..ndays).map(|i| day_at(b, i)).collect();
    Ok(Summary { totals, days })
}

/// The as_of a state was made for.
pub fn as_of(b: &[u8]) -> Result<i64> {
    Ok(read_header(b)?.0.as_of)
}

/// Bytes in use (the rest is spare room).
pub fn used(b: &[u8]) -> Result<usize> {
    Ok(HEADER + 4 * read_header(b)?.1)
}

pub enum Applied {
    Done,
    /// the state needs this many bytes; grow it and apply again
    NeedsRoom(usize),
}

/// Adds one order (at ≤ as_of, checked by the caller) in place.
pub fn add(b: &mut [u8], at: i64, day: i32, amount: Option<Decimal>) -> Result<Applied> {
    let (mut totals, ndays) = read_header(b)?;
    // binary search the sorted days
    let (mut lo, mut hi) = (0usize, ndays);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if day_at(b, mid) < day {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let present = lo < ndays && day_at(b, lo) == day;
    if !present && HEADER + 4 * (ndays + 1) > b.len() {
        return Ok(Applied::NeedsRoom(HEADER + 4 * (ndays + 1)));
    }
    let first_day = (ndays > 0).then(|| day_at(b, 0));
    totals.add(at, day, first_day, amount)?;
    let mut ndays_after = ndays;
    if !present {
        let start = HEADER + 4 * lo;
        b.copy_within(start..HEADER + 4 * ndays, start + 4);
        b[start..start + 4].copy_from_slice(&day.to_ne_bytes());
        ndays_after += 1;
    }
    write_header(b, &totals, ndays_after);
    Ok(Applied::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfm::summary::USEC_PER_DAY;

    #[test]
    fn in_place_adds_equal_the_summary() {
        let orders = [(5, Some(250)), (2, Some(100)), (5, None), (9, Some(-50)), (2, Some(5)), (1, Some(7))];
        let mut reference = Summary::new(10 * USEC_PER_DAY, 10, false);
        let mut b = encode(&reference, 1);
        for (day, cents) in orders {
            let at = i64::from(day) * USEC_PER_DAY;
            let amount = cents.map(|units| Decimal { units, scale: 2, display_scale: 2 });
            reference.add(at, day, amount).unwrap();
            if let Applied::NeedsRoom(n) = add(&mut b, at, day, amount).unwrap() {
                let mut grown = b[..used(&b).unwrap()].to_vec();
                grown.resize(n.max(2 * b.len()), 0);
                b = grown;
                assert!(matches!(add(&mut b, at, day, amount).unwrap(), Applied::Done));
            }
        }
        assert_eq!(decode(&b).unwrap(), reference);
        assert_eq!(decode(&encode(&reference, 0)).unwrap(), reference);
        assert_eq!(reference.days, vec![1, 2, 5, 9]);
        assert_eq!(reference.totals.first_day_sum.units, 7);
    }

    #[test]
    fn corrupt_states_are_22p02() {
        assert_eq!(decode(&[1, 2, 3]).unwrap_err().state, SqlState::InvalidTextRepresentation);
        let mut b = encode(&Summary::new(0, 0, false), 0);
        b[4] = 200; // more days than bytes
        assert!(decode(&b).is_err());
    }
}
