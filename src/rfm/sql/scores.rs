//! `rfm_breaks(value, bins)` (aggregate → float8[] cut points) and
//! `rfm_score(value, breaks, reverse)` (→ 1..bins). See `rfm/quantile.rs` for
//! the definition; SQL in `sql/rfm_scores.sql`.
//!
//! rfm_breaks state (bytea): bins i32, then the values as f64, with spare room
//! so values are appended in place. NULL values are skipped; NaN → 22023.

use super::datum::{self, RawDatum};
use crate::error::sql::{notice, raise, OrRaise};
use crate::error::{Error, SqlState};
use crate::rfm::quantile;
use pgrx::pg_sys;
use pgrx::prelude::*;

const HEADER: usize = 8; // bins i32, values in use u32
const MAX_VALUES: usize = (1 << 30) / 8 - HEADER; // a varlena holds at most 1 GB

fn corrupt() -> Error {
    Error::new(SqlState::InvalidTextRepresentation, "corrupt rfm_breaks state")
        .with_hint("pass only states made by rfm_breaks' own support functions")
}

/// The bins a state was made for.
fn bins_of(b: &[u8]) -> i32 {
    if b.len() < HEADER {
        raise(corrupt());
    }
    i32::from_ne_bytes(b[0..4].try_into().expect("4 bytes"))
}

/// How many values the state holds (the rest is spare room).
fn used_values(b: &[u8]) -> usize {
    u32::from_ne_bytes(b[4..8].try_into().expect("4 bytes")) as usize
}

fn set_used_values(b: &mut [u8], n: usize) {
    b[4..8].copy_from_slice(&(n as u32).to_ne_bytes());
}

fn values_of(b: &[u8]) -> Vec<f64> {
    let n = used_values(b);
    if HEADER + 8 * n > b.len() {
        raise(corrupt());
    }
    (0..n).map(|i| f64::from_ne_bytes(b[HEADER + 8 * i..HEADER + 8 * i + 8].try_into().expect("8 bytes"))).collect()
}

fn too_many() -> Error {
    Error::limit_exceeded(format!("rfm_breaks holds at most {MAX_VALUES} values in one group"))
        .with_hint("compute the cut points on a sample, e.g. TABLESAMPLE SYSTEM (10)")
}

/// Transition: appends one value (NULL skipped).
#[pg_extern(sql = false)]
fn rfm_breaks_step(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        if pgrx::pg_arg_is_null(fcinfo, 2) {
            raise(Error::null_not_allowed("bins").with_hint("pass the number of scores, e.g. 5 for quintiles"));
        }
        let bins = pgrx::pg_getarg_datum_raw(fcinfo, 2).value() as i32;
        quantile::check_bins(bins).or_raise();
        let mut v = if pgrx::pg_arg_is_null(fcinfo, 0) {
            let mut fresh = vec![0u8; HEADER + 8 * 64];
            fresh[0..4].copy_from_slice(&bins.to_ne_bytes());
            datum::new_varlena(&fresh, fresh.len())
        } else {
            datum::owned_state(fcinfo)
        };
        if bins_of(datum::payload(v)) != bins {
            raise(Error::invalid_parameter("rfm_breaks got different bins in one group").with_hint("pass a constant bins"));
        }
        if pgrx::pg_arg_is_null(fcinfo, 1) {
            return RawDatum(pg_sys::Datum::from(v));
        }
        let value = quantile::check_value(f64::from_bits(pgrx::pg_getarg_datum_raw(fcinfo, 1).value() as u64), "value")
            .or_raise();
        let b = datum::payload(v);
        let n = used_values(b);
        if HEADER + 8 * (n + 1) > b.len() {
            if n + 1 > MAX_VALUES {
                raise(too_many());
            }
            let capacity = (HEADER + 8 * (2 * n + 1)).min(HEADER + 8 * MAX_VALUES);
            v = datum::new_varlena(&b[..HEADER + 8 * n], capacity);
        }
        let b = datum::payload(v);
        b[HEADER + 8 * n..HEADER + 8 * n + 8].copy_from_slice(&value.to_ne_bytes());
        set_used_values(b, n + 1);
        RawDatum(pg_sys::Datum::from(v))
    }
}

/// Combine: concatenates two partial states.
#[pg_extern(sql = false)]
fn rfm_breaks_combine(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let a = datum::varlena_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0));
        let b = datum::varlena_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 1));
        if bins_of(a) != bins_of(b) {
            raise(Error::invalid_parameter("rfm_breaks got different bins in one group").with_hint("pass a constant bins"));
        }
        let (na, nb) = (used_values(a), used_values(b));
        if na + nb > MAX_VALUES {
            raise(too_many());
        }
        let mut merged = Vec::with_capacity(HEADER + 8 * (na + nb));
        merged.extend_from_slice(&a[..HEADER + 8 * na]);
        merged.extend_from_slice(&b[HEADER..HEADER + 8 * nb]);
        set_used_values(&mut merged, na + nb);
        RawDatum(pg_sys::Datum::from(datum::new_varlena(&merged, merged.len())))
    }
}

/// NOTICE naming the scores ties leave empty (never silently mis-scored).
pub fn report_empty_bins(what: &str, breaks: &[f64], max: f64, reverse: bool) {
    let empty = quantile::empty_bins(breaks, max, reverse);
    if !empty.is_empty() {
        let list: Vec<String> = empty.iter().map(i32::to_string).collect();
        notice(
            format!(
                "{what}: ties leave {} of {} scores empty: {}",
                empty.len(),
                breaks.len() + 1,
                list.join(", ")
            ),
            Some("equal values always get the same score, so a value shared by many rows fills several quantiles".into()),
        );
    }
}

/// Final: the cut points (NULL when no values), with a NOTICE for empty bins.
#[pg_extern(sql = false)]
fn rfm_breaks_final(fcinfo: pg_sys::FunctionCallInfo) -> Option<Vec<f64>> {
    unsafe {
        let b = datum::varlena_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0));
        let bins = bins_of(b);
        let mut values = values_of(b);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let cuts = quantile::breaks(&mut values, quantile::check_bins(bins).or_raise())?;
        report_empty_bins("rfm_breaks", &cuts, max, false);
        Some(cuts)
    }
}

/// The score of `value` given cut points (from rfm_breaks or business
/// thresholds): 1 + the number of cut points below it; `reverse` turns it
/// around so the smallest values (e.g. recency in days) score highest.
#[pg_extern(sql = false)]
fn rfm_score(value: f64, breaks: pgrx::Array<f64>, reverse: bool) -> i32 {
    quantile::check_value(value, "value").or_raise();
    let n = breaks.len();
    if n == 0 || n > (quantile::MAX_BINS - 1) as usize {
        raise(
            Error::invalid_parameter(format!("breaks must hold 1 to {} cut points, not {n}", quantile::MAX_BINS - 1))
                .with_hint("pass rfm_breaks(value, bins) or ascending thresholds, e.g. ARRAY[30, 90, 180, 365]"),
        );
    }
    let mut cuts = Vec::with_capacity(n);
    for b in breaks.iter() {
        let Some(b) = b else {
            raise(Error::null_not_allowed("a cut point in breaks").with_hint("remove NULLs from the breaks array"))
        };
        quantile::check_value(b, "a cut point in breaks").or_raise();
        if cuts.last().is_some_and(|&last| b < last) {
            raise(
                Error::invalid_parameter("breaks must be in ascending order")
                    .with_detail(format!("{b} follows {}", cuts.last().expect("checked")))
                    .with_hint("sort the thresholds from smallest to largest; use reverse => true to score small values high"),
            );
        }
        cuts.push(b);
    }
    quantile::score(value, &cuts, reverse)
}

pgrx::extension_sql_file!("../../../sql/rfm_scores.sql", name = "rfm_scores", requires = ["rfm_agg"]);
