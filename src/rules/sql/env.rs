//! [`Env`] backed by PostgreSQL: transaction time, the session's time zone,
//! the database collation and the types' own input functions, so a rule
//! evaluates exactly like the same expression in SQL.

use crate::error::Result;
use crate::rules::env::{parse_basic, Env};
use crate::rules::value::{Interval, Type, Value};
use pgrx::pg_sys;
use std::cmp::Ordering;
use std::ffi::CString;

pub struct PgEnv;

fn call(f: unsafe fn(pg_sys::FunctionCallInfo) -> pg_sys::Datum, args: &[Option<pg_sys::Datum>]) -> pg_sys::Datum {
    unsafe { pgrx::direct_function_call_as_datum(f, args).unwrap_or(pg_sys::Datum::from(0usize)) }
}

fn interval_datum(iv: Interval) -> pg_sys::Datum {
    unsafe {
        let p = pg_sys::palloc(std::mem::size_of::<pg_sys::Interval>()) as *mut pg_sys::Interval;
        (*p).time = iv.micros;
        (*p).day = iv.days;
        (*p).month = iv.months;
        pg_sys::Datum::from(p)
    }
}

/// Reads a PostgreSQL interval Datum.
///
/// # Safety
/// `d` must be a non-null interval Datum.
pub unsafe fn interval_of(d: pg_sys::Datum) -> Interval {
    unsafe {
        let p = d.cast_mut_ptr::<pg_sys::Interval>();
        Interval { months: (*p).month, days: (*p).day, micros: (*p).time }
    }
}

impl Env for PgEnv {
    fn now(&self) -> i64 {
        unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }
    }

    fn current_date(&self) -> i32 {
        call(pg_sys::timestamptz_date, &[Some(pg_sys::Datum::from(self.now()))]).value() as i32
    }

    fn date_to_timestamptz(&self, days: i32) -> Result<i64> {
        Ok(call(pg_sys::date_timestamptz, &[Some(pg_sys::Datum::from(days))]).value() as i64)
    }

    fn timestamp_to_timestamptz(&self, ts: i64) -> Result<i64> {
        Ok(call(pg_sys::timestamp_timestamptz, &[Some(pg_sys::Datum::from(ts))]).value() as i64)
    }

    fn timestamptz_plus(&self, ts: i64, iv: Interval) -> Result<i64> {
        Ok(call(pg_sys::timestamptz_pl_interval, &[Some(pg_sys::Datum::from(ts)), Some(interval_datum(iv))]).value() as i64)
    }

    fn compare_text(&self, a: &str, b: &str) -> Ordering {
        let c = unsafe {
            pg_sys::varstr_cmp(
                a.as_ptr().cast(),
                a.len() as i32,
                b.as_ptr().cast(),
                b.len() as i32,
                pg_sys::DEFAULT_COLLATION_OID,
            )
        };
        c.cmp(&0)
    }

    fn parse_literal(&self, ty: Type, text: &str) -> Result<Value<'static>> {
        let input: unsafe fn(pg_sys::FunctionCallInfo) -> pg_sys::Datum = match ty {
            Type::Date => pg_sys::date_in,
            Type::Timestamp => pg_sys::timestamp_in,
            Type::TimestampTz => pg_sys::timestamptz_in,
            Type::Interval => pg_sys::interval_in,
            _ => return parse_basic(ty, text),
        };
        let Ok(c) = CString::new(text) else {
            return parse_basic(ty, "\u{0}");
        };
        // Errors here are PostgreSQL's own (22007, 22008), raised as in SQL.
        let d = call(
            input,
            &[Some(pg_sys::Datum::from(c.as_ptr())), Some(pg_sys::Datum::from(pg_sys::InvalidOid)), Some(pg_sys::Datum::from(-1i32))],
        );
        Ok(match ty {
            Type::Date => Value::Date(d.value() as i32),
            Type::Interval => Value::Interval(unsafe { interval_of(d) }),
            _ => Value::Ts(d.value() as i64),
        })
    }
}
