//! What evaluation needs from outside the rule: the clock, the session's time
//! zone and collation, and type input functions.
//!
//! The SQL layer implements [`Env`] with PostgreSQL's own functions (so
//! `timestamptz + interval`, text ordering and literal input behave exactly as
//! in SQL); [`UtcEnv`] is the pgrx-free stand-in for unit tests: UTC, byte order.

use super::value::{self, Interval, Type, Value, MICROS_PER_DAY};
use crate::error::{Error, Result, SqlState};
use std::borrow::Cow;
use std::cmp::Ordering;

pub trait Env {
    /// `now()`: the transaction's start, microseconds since 2000-01-01 UTC.
    fn now(&self) -> i64;
    /// `current_date` in the session's time zone.
    fn current_date(&self) -> i32;
    /// A date's midnight in the session's time zone, as timestamptz.
    fn date_to_timestamptz(&self, days: i32) -> Result<i64>;
    /// A local timestamp in the session's time zone, as timestamptz.
    fn timestamp_to_timestamptz(&self, ts: i64) -> Result<i64>;
    /// `timestamptz + interval` (days follow the session's time zone).
    fn timestamptz_plus(&self, ts: i64, iv: Interval) -> Result<i64>;
    /// Text ordering under the database's collation (only called for unequal text).
    fn compare_text(&self, a: &str, b: &str) -> Ordering;
    /// Input of a date, timestamp, timestamptz or interval literal.
    fn parse_literal(&self, ty: Type, text: &str) -> Result<Value<'static>>;
}

/// Unit-test environment: UTC, byte-order text, a fixed `now()`.
pub struct UtcEnv {
    pub now: i64,
}

impl Env for UtcEnv {
    fn now(&self) -> i64 {
        self.now
    }
    fn current_date(&self) -> i32 {
        self.now.div_euclid(MICROS_PER_DAY) as i32
    }
    fn date_to_timestamptz(&self, days: i32) -> Result<i64> {
        Ok(i64::from(days) * MICROS_PER_DAY)
    }
    fn timestamp_to_timestamptz(&self, ts: i64) -> Result<i64> {
        Ok(ts)
    }
    fn timestamptz_plus(&self, ts: i64, iv: Interval) -> Result<i64> {
        value::timestamp_plus(ts, iv)
    }
    fn compare_text(&self, a: &str, b: &str) -> Ordering {
        a.cmp(b)
    }
    fn parse_literal(&self, ty: Type, text: &str) -> Result<Value<'static>> {
        parse_basic(ty, text)
    }
}

/// Literal input that needs no session: booleans, numbers, text; dates and
/// timestamps in ISO form (timestamptz read as UTC).
pub fn parse_basic(ty: Type, text: &str) -> Result<Value<'static>> {
    let bad = || {
        Error::new(SqlState::InvalidTextRepresentation, format!("invalid input syntax for type {ty}: \"{text}\""))
    };
    Ok(match ty {
        Type::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Value::Bool(true),
            "f" | "false" | "no" | "n" | "off" | "0" => Value::Bool(false),
            _ => return Err(bad()),
        },
        Type::Int => Value::Int(text.trim().parse().map_err(|_| bad())?),
        Type::Float => Value::Float(text.trim().parse().map_err(|_| bad())?),
        Type::Text => Value::Text(Cow::Owned(text.to_string())),
        Type::Date => Value::Date(value::parse_date(text)?),
        Type::Timestamp | Type::TimestampTz => Value::Ts(value::parse_timestamp(text)?),
        Type::Interval => Value::Interval(value::parse_interval(text)?),
        Type::TextArray => return Err(bad()),
    })
}
