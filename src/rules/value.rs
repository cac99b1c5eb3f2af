//! Types and values of the rule language.
//!
//! Every attribute and expression has one of a few [`Type`]s; PostgreSQL's
//! integer types are `Int` (i64), numeric / real / double precision are
//! `Float` (evaluated in double precision), dates and timestamps keep
//! PostgreSQL's own representation (days / microseconds since 2000-01-01), so
//! the SQL layer converts a Datum without any arithmetic.

use crate::error::{Error, Result, SqlState};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Int,
    Float,
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Interval,
    TextArray,
}

impl Type {
    /// The PostgreSQL-style name used in messages and in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "boolean",
            Type::Int => "bigint",
            Type::Float => "numeric",
            Type::Text => "text",
            Type::Date => "date",
            Type::Timestamp => "timestamp",
            Type::TimestampTz => "timestamptz",
            Type::Interval => "interval",
            Type::TextArray => "text[]",
        }
    }

    /// Parses a declared type name (`"numeric(10,2)"`, `"timestamp with time zone"`,
    /// `"varchar[]"`...); None when rules cannot read that type.
    pub fn parse(declared: &str) -> Option<Type> {
        let lower = declared.trim().to_ascii_lowercase();
        let (base, array) = match lower.strip_suffix("[]") {
            Some(b) => (b.trim_end(), true),
            None => (lower.as_str(), false),
        };
        // Drop a typmod: numeric(10,2), varchar(20), timestamp(3) with time zone.
        let mut name = String::with_capacity(base.len());
        let mut depth = 0;
        for c in base.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => name.push(c),
                _ => {}
            }
        }
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let scalar = match name.as_str() {
            "boolean" | "bool" => Type::Bool,
            "smallint" | "integer" | "int" | "bigint" | "int2" | "int4" | "int8" => Type::Int,
            "numeric" | "decimal" | "real" | "float4" | "float8" | "double precision" | "float" => Type::Float,
            "text" | "varchar" | "character varying" | "char" | "character" | "bpchar" | "name" | "citext" => Type::Text,
            "date" => Type::Date,
            "timestamp" | "timestamp without time zone" => Type::Timestamp,
            "timestamptz" | "timestamp with time zone" => Type::TimestampTz,
            "interval" => Type::Interval,
            _ => return None,
        };
        match (scalar, array) {
            (s, false) => Some(s),
            (Type::Text, true) => Some(Type::TextArray),
            _ => None,
        }
    }

    pub fn is_number(self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }

    pub fn is_time(self) -> bool {
        matches!(self, Type::Date | Type::Timestamp | Type::TimestampTz)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// PostgreSQL's interval: months, days and microseconds kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

impl Interval {
    /// The span PostgreSQL compares intervals by (a month is 30 days, a day 24 hours).
    pub fn span(self) -> i128 {
        (i128::from(self.months) * 30 + i128::from(self.days)) * i128::from(MICROS_PER_DAY) + i128::from(self.micros)
    }
}

/// One value while a rule is evaluated; text borrows from the row where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Cow<'a, str>),
    /// Days since 2000-01-01.
    Date(i32),
    /// Microseconds since 2000-01-01 00:00 (UTC for timestamptz).
    Ts(i64),
    Interval(Interval),
    TextArray(Vec<Option<Cow<'a, str>>>),
}

impl Value<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
            Value::Date(d) => Value::Date(d),
            Value::Ts(t) => Value::Ts(t),
            Value::Interval(i) => Value::Interval(i),
            Value::TextArray(a) => Value::TextArray(a.into_iter().map(|e| e.map(|s| Cow::Owned(s.into_owned()))).collect()),
        }
    }

    /// As JSON, for segment_explain (dates and timestamps as ISO text).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or_else(|| J::String(f.to_string()), J::Number),
            Value::Text(t) => J::String(t.to_string()),
            Value::Date(d) => J::String(format_date(*d)),
            Value::Ts(t) => J::String(format_timestamp(*t)),
            Value::Interval(i) => J::String(format!("{} mons {} days {} us", i.months, i.days, i.micros)),
            Value::TextArray(a) => J::Array(a.iter().map(|e| e.as_ref().map_or(J::Null, |s| J::String(s.to_string()))).collect()),
        }
    }
}

/// Compares two non-null values of the same type (after coercion).
pub fn compare(a: &Value, b: &Value, text: &dyn Fn(&str, &str) -> Ordering) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        // PostgreSQL orders NaN above every number and equal to itself.
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or_else(|| x.is_nan().cmp(&y.is_nan())),
        (Value::Text(x), Value::Text(y)) => {
            if x == y {
                Ordering::Equal
            } else {
                text(x, y)
            }
        }
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Ts(x), Value::Ts(y)) => x.cmp(y),
        (Value::Interval(x), Value::Interval(y)) => x.span().cmp(&y.span()),
        (Value::TextArray(x), Value::TextArray(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = match (p, q) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (Some(p), Some(q)) => compare(&Value::Text(p.clone()), &Value::Text(q.clone()), text),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => Ordering::Equal,
    }
}

// ---- calendar arithmetic (proleptic Gregorian, as PostgreSQL) ----

/// Days since 2000-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - 10_957
}

/// The civil date of days since 2000-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(days));
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rest = micros.rem_euclid(MICROS_PER_DAY);
    let (h, mi, s, us) = (rest / 3_600_000_000, rest / 60_000_000 % 60, rest / 1_000_000 % 60, rest % 1_000_000);
    let mut out = format!("{} {h:02}:{mi:02}:{s:02}", format_date(days as i32));
    if us != 0 {
        out.push_str(&format!(".{us:06}"));
    }
    out
}

/// A timestamp (no time zone) plus an interval: months first (clamping the day
/// to the month's end), then days, then microseconds, as PostgreSQL does.
pub fn timestamp_plus(ts: i64, iv: Interval) -> Result<i64> {
    let mut ts = ts;
    if iv.months != 0 {
        let days = ts.div_euclid(MICROS_PER_DAY);
        let time = ts.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let total = y * 12 + i64::from(m) - 1 + i64::from(iv.months);
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        let nd = d.min(days_in_month(ny, nm));
        ts = days_from_civil(ny, nm, nd) * MICROS_PER_DAY + time;
    }
    ts.checked_add(i64::from(iv.days) * MICROS_PER_DAY)
        .and_then(|t| t.checked_add(iv.micros))
        .ok_or_else(|| Error::new(SqlState::DataException, "timestamp out of range"))
}

// ---- literal parsing used by the core's own environment and tests ----

fn bad(kind: &str, text: &str) -> Error {
    Error::new(SqlState::InvalidTextRepresentation, format!("invalid input syntax for type {kind}: \"{text}\""))
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<i32> {
    let t = text.trim();
    let parts: Vec<&str> = t.split('-').collect();
    if parts.len() != 3 {
        return Err(bad("date", text));
    }
    let y: i64 = parts[0].parse().map_err(|_| bad("date", text))?;
    let m: u32 = parts[1].parse().map_err(|_| bad("date", text))?;
    let d: u32 = parts[2].parse().map_err(|_| bad("date", text))?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(Error::new(SqlState::DataException, format!("date/time field value out of range: \"{text}\"")));
    }
    Ok(days_from_civil(y, m, d) as i32)
}

/// `YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]` (no time zone: UTC).
pub fn parse_timestamp(text: &str) -> Result<i64> {
    let t = text.trim();
    let (date, time) = match t.split_once([' ', 'T']) {
        Some((d, t)) => (d, t.trim()),
        None => (t, ""),
    };
    let days = i64::from(parse_date(date)?);
    let mut micros = 0i64;
    if !time.is_empty() {
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let fields: Vec<&str> = hms.split(':').collect();
        if fields.len() < 2 || fields.len() > 3 {
            return Err(bad("timestamp", text));
        }
        let mut units = [0i64; 3];
        for (i, f) in fields.iter().enumerate() {
            units[i] = f.parse().map_err(|_| bad("timestamp", text))?;
        }
        if units[0] > 24 || units[1] > 59 || units[2] > 60 {
            return Err(Error::new(SqlState::DataException, format!("date/time field value out of range: \"{text}\"")));
        }
        let mut us = 0i64;
        if !frac.is_empty() {
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            us = digits.parse().map_err(|_| bad("timestamp", text))?;
        }
        micros = ((units[0] * 60 + units[1]) * 60 + units[2]) * 1_000_000 + us;
    }
    Ok(days * MICROS_PER_DAY + micros)
}

/// `N unit [N unit ...]` with years, months, weeks, days, hours, minutes, seconds.
pub fn parse_interval(text: &str) -> Result<Interval> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || words.len() % 2 != 0 {
        return Err(bad("interval", text));
    }
    let mut iv = Interval::default();
    for pair in words.chunks(2) {
        let n: f64 = pair[0].parse().map_err(|_| bad("interval", text))?;
        let unit = pair[1].to_ascii_lowercase();
        let unit = unit.trim_end_matches('s');
        let whole = |n: f64| -> Result<i32> {
            if n.fract() != 0.0 {
                Err(bad("interval", text))
            } else {
                Ok(n as i32)
            }
        };
        match unit {
            "year" | "yr" | "y" => iv.months += whole(n)? * 12,
            "mon" | "month" => iv.months += whole(n)?,
            "week" | "w" => iv.days += whole(n)? * 7,
            "day" | "d" => iv.days += whole(n)?,
            "hour" | "hr" | "h" => iv.micros += (n * 3.6e9) as i64,
            "minute" | "min" | "m" => iv.micros += (n * 6e7) as i64,
            "second" | "sec" => iv.micros += (n * 1e6) as i64,
            _ => return Err(bad("interval", text)),
        }
    }
    Ok(iv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(Type::parse("numeric(10,2)"), Some(Type::Float));
        assert_eq!(Type::parse("timestamp with time zone"), Some(Type::TimestampTz));
        assert_eq!(Type::parse("character varying(20)[]"), Some(Type::TextArray));
        assert_eq!(Type::parse("BIGINT"), Some(Type::Int));
        assert_eq!(Type::parse("jsonb"), None);
        assert_eq!(Type::parse("integer[]"), None);
    }

    #[test]
    fn calendar() {
        assert_eq!(days_from_civil(2000, 1, 1), 0);
        assert_eq!(days_from_civil(1997, 1, 1), -1095);
        assert_eq!(parse_date("2024-03-01").unwrap(), 8826);
        assert_eq!(civil_from_days(8826), (2024, 3, 1));
        assert_eq!(format_date(-1095), "1997-01-01");
        assert!(parse_date("2023-02-29").is_err());
        assert_eq!(format_timestamp(parse_timestamp("1998-06-30 12:30:05.25").unwrap()), "1998-06-30 12:30:05.250000");
        // 2024-01-31 + 1 month = 2024-02-29 (clamped), as PostgreSQL.
        let t = parse_timestamp("2024-01-31").unwrap();
        let one_month = Interval { months: 1, ..Interval::default() };
        assert_eq!(format_timestamp(timestamp_plus(t, one_month).unwrap()), "2024-02-29 00:00:00");
        assert_eq!(parse_interval("30 days").unwrap(), Interval { months: 0, days: 30, micros: 0 });
        assert_eq!(parse_interval("1 year 2 mons 3 hours").unwrap(), Interval { months: 14, days: 0, micros: 3 * 3_600_000_000 });
        assert!(parse_interval("soon").is_err());
        // A month compares as 30 days.
        assert_eq!(parse_interval("1 month").unwrap().span(), parse_interval("30 days").unwrap().span());
    }
}
