//! The compiled, typed program of a rule and its evaluation.
//!
//! Every node's operand types were fixed (and coerced) at compile time, so
//! evaluation only dispatches on the node. NULL handling follows PostgreSQL's
//! three-valued logic: `AND` is false if any operand is false, else NULL if
//! any is NULL; `IN`, `= ANY` and `BETWEEN` are the ORs / ANDs of their
//! comparisons; strict operators and functions give NULL for a NULL operand.

use super::env::Env;
use super::value::{compare, Interval, Type, Value, MICROS_PER_DAY};
use crate::error::{Error, Result, SqlState};
use std::borrow::Cow;
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped: `a < b` ⇔ `b > a`.
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            op => op,
        }
    }

    pub fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

/// Arithmetic with operand types resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    IntAdd,
    IntSub,
    IntMul,
    IntDiv,
    IntMod,
    FloatAdd,
    FloatSub,
    FloatMul,
    FloatDiv,
    FloatMod,
    /// date + integer (either order handled by the compiler).
    DateAddInt,
    DateSubInt,
    DateSubDate,
    /// timestamp ± interval (local time, no zone).
    TsAddInterval,
    TsSubInterval,
    /// timestamptz ± interval (days follow the session's time zone).
    TzAddInterval,
    TzSubInterval,
    /// timestamp - timestamp, timestamptz - timestamptz.
    TsSubTs,
    IntervalAdd,
    IntervalSub,
    IntervalMulInt,
    Concat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Lower,
    Upper,
    Abs,
    Cardinality,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Const(Value<'static>),
    /// An attribute of the customer, by slot.
    Attr(usize),
    /// Another ruleset's segment for the same customer, by slot.
    Segment(usize),
    Now,
    CurrentDate,
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    /// IS [NOT] DISTINCT FROM (never NULL).
    Distinct(Box<Node>, Box<Node>, bool),
    IsNull(Box<Node>, bool),
    /// IS [NOT] TRUE / FALSE / UNKNOWN: the tested value (None: unknown) and negation.
    IsBool(Box<Node>, Option<bool>, bool),
    InList(Box<Node>, Vec<Node>, bool),
    /// LIKE / ILIKE: text, pattern, escape, case-insensitive, negated.
    Like(Box<Node>, Box<Node>, Option<char>, bool, bool),
    /// op ANY(array) (all = false) or op ALL(array).
    AnyCmp(CmpOp, Box<Node>, Box<Node>, bool),
    Arith(Arith, Box<Node>, Box<Node>),
    Neg(Box<Node>, Type),
    Cast(Box<Node>, Type, Type),
    Func(Func, Box<Node>),
    Coalesce(Vec<Node>),
    /// `attribute op constant`: the commonest condition, made by [`Node::lowered`].
    AttrCmp(CmpOp, usize, Value<'static>),
    /// An AND of `attribute op constant` comparisons, made by [`Node::lowered`]
    /// (typical rules: `r >= 4 AND f BETWEEN 2 AND 3`), evaluated in one loop.
    AttrCmps(Vec<(CmpOp, usize, Value<'static>)>),
}

/// What a node reads: the customer's attributes and the referenced segments.
pub struct Row<'r> {
    pub attrs: &'r [Value<'r>],
    pub segments: &'r [Value<'r>],
}

fn out_of_range(what: &str) -> Error {
    Error::new(SqlState::NumericValueOutOfRange, format!("{what} out of range"))
        .with_hint("check the rule's arithmetic against the attribute values")
}

fn division_by_zero() -> Error {
    Error::new(SqlState::DivisionByZero, "division by zero").with_hint("guard the divisor, e.g. orders > 0 AND spend / orders > 50")
}

fn owned<'r>(v: Value<'r>) -> Cow<'r, Value<'r>> {
    Cow::Owned(v)
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn of(b: Option<bool>) -> Value<'static> {
    b.map_or(Value::Null, Value::Bool)
}

impl Node {
    /// Evaluates the node for one customer.
    pub fn eval<'r>(&'r self, row: &Row<'r>, env: &dyn Env) -> Result<Cow<'r, Value<'r>>> {
        Ok(match self {
            Node::Const(v) => Cow::Borrowed(v),
            Node::Attr(slot) => Cow::Borrowed(&row.attrs[*slot]),
            Node::Segment(slot) => Cow::Borrowed(&row.segments[*slot]),
            Node::Now => owned(Value::Ts(env.now())),
            Node::CurrentDate => owned(Value::Date(env.current_date())),
            Node::Not(_) | Node::And(_) | Node::Or(_) | Node::Cmp(..) | Node::AttrCmp(..) | Node::AttrCmps(_) => {
                owned(of(self.test(row, env)?))
            }
            Node::Distinct(a, b, negated) => {
                let a = a.eval(row, env)?;
                let b = b.eval(row, env)?;
                let distinct = match (a.is_null(), b.is_null()) {
                    (true, true) => false,
                    (false, false) => compare(&a, &b, &|x, y| env.compare_text(x, y)) != Ordering::Equal,
                    _ => true,
                };
                owned(Value::Bool(distinct != *negated))
            }
            Node::IsNull(a, negated) => owned(Value::Bool(a.eval(row, env)?.is_null() != *negated)),
            Node::IsBool(a, target, negated) => {
                let t = truth(&*a.eval(row, env)?);
                owned(Value::Bool((t == *target) != *negated))
            }
            Node::InList(a, list, negated) => {
                let a = a.eval(row, env)?;
                let result = if a.is_null() {
                    None
                } else {
                    let mut result = Some(false);
                    for item in list {
                        let v = item.eval(row, env)?;
                        if v.is_null() {
                            result = None;
                        } else if equal(&a, &v, env) {
                            result = Some(true);
                            break;
                        }
                    }
                    result
                };
                owned(of(result.map(|b| b != *negated)))
            }
            Node::Like(text, pattern, escape, insensitive, negated) => {
                let t = text.eval(row, env)?;
                let p = pattern.eval(row, env)?;
                match (&*t, &*p) {
                    (Value::Text(t), Value::Text(p)) => {
                        let hit = if *insensitive {
                            like(&t.to_lowercase(), &p.to_lowercase(), *escape)?
                        } else {
                            like(t, p, *escape)?
                        };
                        owned(Value::Bool(hit != *negated))
                    }
                    _ => owned(Value::Null),
                }
            }
            Node::AnyCmp(op, a, array, all) => owned(of(any_cmp(*op, &*a.eval(row, env)?, &*array.eval(row, env)?, *all, env))),
            Node::Arith(op, a, b) => {
                let a = a.eval(row, env)?;
                let b = b.eval(row, env)?;
                if a.is_null() || b.is_null() {
                    owned(Value::Null)
                } else {
                    owned(arith(*op, &a, &b, env)?)
                }
            }
            Node::Neg(a, _) => owned(match &*a.eval(row, env)? {
                Value::Int(i) => Value::Int(i.checked_neg().ok_or_else(|| out_of_range("bigint"))?),
                Value::Float(f) => Value::Float(-f),
                Value::Interval(iv) => Value::Interval(Interval { months: -iv.months, days: -iv.days, micros: -iv.micros }),
                _ => Value::Null,
            }),
            Node::Cast(a, from, to) => {
                let v = a.eval(row, env)?;
                if v.is_null() {
                    owned(Value::Null)
                } else {
                    owned(cast(&v, *from, *to, env)?)
                }
            }
            Node::Func(f, a) => {
                let v = a.eval(row, env)?;
                owned(match (f, &*v) {
                    (_, Value::Null) => Value::Null,
                    (Func::Lower, Value::Text(t)) => Value::Text(Cow::Owned(t.to_lowercase())),
                    (Func::Upper, Value::Text(t)) => Value::Text(Cow::Owned(t.to_uppercase())),
                    (Func::Abs, Value::Int(i)) => Value::Int(i.checked_abs().ok_or_else(|| out_of_range("bigint"))?),
                    (Func::Abs, Value::Float(x)) => Value::Float(x.abs()),
                    // cardinality('{}') is 0; of a NULL array, NULL.
                    (Func::Cardinality, Value::TextArray(items)) => Value::Int(items.len() as i64),
                    _ => Value::Null,
                })
            }
            Node::Coalesce(items) => {
                for item in items {
                    let v = item.eval(row, env)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                owned(Value::Null)
            }
        })
    }

    /// The condition's truth for one customer (None: NULL, which is not a match).
    ///
    /// The hot path of every rule: boolean connectives and comparisons of
    /// attributes with constants are answered here without building values.
    pub fn test(&self, row: &Row, env: &dyn Env) -> Result<Option<bool>> {
        match self {
            Node::And(items) => {
                let mut unknown = false;
                for item in items {
                    match item.test(row, env)? {
                        Some(false) => return Ok(Some(false)),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                Ok(if unknown { None } else { Some(true) })
            }
            Node::Or(items) => {
                let mut unknown = false;
                for item in items {
                    match item.test(row, env)? {
                        Some(true) => return Ok(Some(true)),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                Ok(if unknown { None } else { Some(false) })
            }
            Node::Not(a) => Ok(a.test(row, env)?.map(|b| !b)),
            Node::Cmp(op, a, b) => match (a.direct(row), b.direct(row)) {
                (Some(x), Some(y)) => Ok(compare_op(*op, x, y, env)),
                _ => Ok(compare_op(*op, &*a.eval(row, env)?, &*b.eval(row, env)?, env)),
            },
            Node::AttrCmp(op, slot, k) => Ok(compare_op(*op, &row.attrs[*slot], k, env)),
            Node::AttrCmps(cmps) => {
                let mut unknown = false;
                for (op, slot, k) in cmps {
                    match compare_op(*op, &row.attrs[*slot], k, env) {
                        Some(false) => return Ok(Some(false)),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                Ok(if unknown { None } else { Some(true) })
            }
            Node::AnyCmp(op, a, array, all) => match (a.direct(row), array.direct(row)) {
                (Some(x), Some(items)) => Ok(any_cmp(*op, x, items, *all, env)),
                _ => Ok(truth(&*self.eval(row, env)?)),
            },
            Node::Attr(slot) => Ok(truth(&row.attrs[*slot])),
            _ => Ok(truth(&*self.eval(row, env)?)),
        }
    }

    /// A constant's or an attribute's value in place (None: the node computes).
    fn direct<'r>(&'r self, row: &Row<'r>) -> Option<&'r Value<'r>> {
        match self {
            Node::Const(v) => Some(v),
            Node::Attr(slot) => Some(&row.attrs[*slot]),
            Node::Segment(slot) => Some(&row.segments[*slot]),
            _ => None,
        }
    }
}

impl Node {
    /// The same condition with `attribute op constant` comparisons fused
    /// into [`Node::AttrCmp`] (one dispatch instead of three per row).
    pub fn lowered(self) -> Node {
        let lower = |items: Vec<Node>| items.into_iter().map(Node::lowered).collect();
        match self {
            Node::Cmp(op, a, b) => match (*a, *b) {
                (Node::Attr(slot), Node::Const(k)) => Node::AttrCmp(op, slot, k),
                (Node::Const(k), Node::Attr(slot)) => Node::AttrCmp(op.flipped(), slot, k),
                (a, b) => Node::Cmp(op, Box::new(a.lowered()), Box::new(b.lowered())),
            },
            Node::And(items) => {
                // AND is associative in three-valued logic: nested ANDs (BETWEEN
                // compiles to one) flatten, keeping the evaluation order.
                let mut flat = Vec::with_capacity(items.len());
                for item in lower(items) {
                    match item {
                        Node::And(inner) => flat.extend(inner),
                        Node::AttrCmps(inner) => flat.extend(inner.into_iter().map(|(op, slot, k)| Node::AttrCmp(op, slot, k))),
                        // A boolean attribute as a condition is `attribute = true`.
                        Node::Attr(slot) => flat.push(Node::AttrCmp(CmpOp::Eq, slot, Value::Bool(true))),
                        other => flat.push(other),
                    }
                }
                if flat.iter().all(|n| matches!(n, Node::AttrCmp(..))) {
                    Node::AttrCmps(
                        flat.into_iter()
                            .map(|n| match n {
                                Node::AttrCmp(op, slot, k) => (op, slot, k),
                                _ => unreachable!("checked above"),
                            })
                            .collect(),
                    )
                } else {
                    Node::And(flat)
                }
            }
            Node::Or(items) => Node::Or(lower(items)),
            Node::Not(a) => Node::Not(Box::new(a.lowered())),
            other => other,
        }
    }
}

/// `a op ANY(items)` (`all`: `op ALL`): the OR (AND) of the comparisons,
/// with SQL's NULL rules; a NULL or non-array `items` is NULL.
fn any_cmp(op: CmpOp, a: &Value, items: &Value, all: bool, env: &dyn Env) -> Option<bool> {
    let Value::TextArray(items) = items else {
        return None;
    };
    if items.is_empty() {
        return Some(all);
    }
    let Value::Text(a) = a else {
        return None; // NULL (the compiler only lets text meet a text array)
    };
    let mut unknown = false;
    for item in items {
        match item {
            None => unknown = true,
            Some(s) => {
                let o = if a == s {
                    Ordering::Equal
                } else if matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    Ordering::Less // any inequality: only Eq / Ne look at it
                } else {
                    env.compare_text(a, s)
                };
                let holds = op.holds(o);
                if holds && !all {
                    return Some(true);
                }
                if !holds && all {
                    return Some(false);
                }
            }
        }
    }
    if unknown {
        None
    } else {
        Some(all)
    }
}

/// `a op b` for two values of one type: NULL if either is NULL.
#[inline]
fn compare_op(op: CmpOp, a: &Value, b: &Value, env: &dyn Env) -> Option<bool> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(x), Value::Int(y)) => Some(op.holds(x.cmp(y))),
        // Deterministic collations compare equal exactly when the bytes do.
        (Value::Text(x), Value::Text(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Some((x == y) == (op == CmpOp::Eq)),
        _ => Some(op.holds(compare(a, b, &|x, y| env.compare_text(x, y)))),
    }
}

/// Equality of two non-null values of one type (text: bytewise, as deterministic collations).
fn equal(a: &Value, b: &Value, env: &dyn Env) -> bool {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => x == y,
        _ => compare(a, b, &|x, y| env.compare_text(x, y)) == Ordering::Equal,
    }
}

fn arith<'r>(op: Arith, a: &Value<'r>, b: &Value<'r>, env: &dyn Env) -> Result<Value<'r>> {
    use Value::*;
    let int = |r: Option<i64>| r.map(Int).ok_or_else(|| out_of_range("bigint"));
    Ok(match (op, a, b) {
        (Arith::IntAdd, Int(x), Int(y)) => int(x.checked_add(*y))?,
        (Arith::IntSub, Int(x), Int(y)) => int(x.checked_sub(*y))?,
        (Arith::IntMul, Int(x), Int(y)) => int(x.checked_mul(*y))?,
        (Arith::IntDiv | Arith::IntMod, Int(_), Int(0)) => return Err(division_by_zero()),
        // Truncates toward zero, as PostgreSQL's integer division.
        (Arith::IntDiv, Int(x), Int(y)) => int(x.checked_div(*y))?,
        (Arith::IntMod, Int(x), Int(y)) => Int(x.checked_rem(*y).unwrap_or(0)),
        (Arith::FloatAdd, Float(x), Float(y)) => Float(x + y),
        (Arith::FloatSub, Float(x), Float(y)) => Float(x - y),
        (Arith::FloatMul, Float(x), Float(y)) => Float(x * y),
        (Arith::FloatDiv | Arith::FloatMod, Float(_), Float(y)) if *y == 0.0 => return Err(division_by_zero()),
        (Arith::FloatDiv, Float(x), Float(y)) => Float(x / y),
        (Arith::FloatMod, Float(x), Float(y)) => Float(x % y),
        (Arith::DateAddInt, Date(d), Int(n)) => date_plus(*d, *n)?,
        (Arith::DateSubInt, Date(d), Int(n)) => date_plus(*d, n.checked_neg().ok_or_else(|| out_of_range("date"))?)?,
        (Arith::DateSubDate, Date(x), Date(y)) => Int(i64::from(*x) - i64::from(*y)),
        (Arith::TsAddInterval, Ts(t), Interval(iv)) => Ts(super::value::timestamp_plus(*t, *iv)?),
        (Arith::TsSubInterval, Ts(t), Interval(iv)) => Ts(super::value::timestamp_plus(*t, negate(*iv))?),
        (Arith::TzAddInterval, Ts(t), Interval(iv)) => Ts(env.timestamptz_plus(*t, *iv)?),
        (Arith::TzSubInterval, Ts(t), Interval(iv)) => Ts(env.timestamptz_plus(*t, negate(*iv))?),
        (Arith::TsSubTs, Ts(x), Ts(y)) => {
            // As timestamp_mi: whole days and the rest in microseconds (justify_hours).
            let diff = x.checked_sub(*y).ok_or_else(|| out_of_range("interval"))?;
            let days = diff / MICROS_PER_DAY;
            Interval(super::value::Interval { months: 0, days: days as i32, micros: diff - days * MICROS_PER_DAY })
        }
        (Arith::IntervalAdd, Interval(x), Interval(y)) => Interval(super::value::Interval {
            months: x.months.checked_add(y.months).ok_or_else(|| out_of_range("interval"))?,
            days: x.days.checked_add(y.days).ok_or_else(|| out_of_range("interval"))?,
            micros: x.micros.checked_add(y.micros).ok_or_else(|| out_of_range("interval"))?,
        }),
        (Arith::IntervalSub, Interval(x), Interval(y)) => Interval(super::value::Interval {
            months: x.months.checked_sub(y.months).ok_or_else(|| out_of_range("interval"))?,
            days: x.days.checked_sub(y.days).ok_or_else(|| out_of_range("interval"))?,
            micros: x.micros.checked_sub(y.micros).ok_or_else(|| out_of_range("interval"))?,
        }),
        (Arith::IntervalMulInt, Interval(x), Int(n)) => {
            let n32 = i32::try_from(*n).map_err(|_| out_of_range("interval"))?;
            Interval(super::value::Interval {
                months: x.months.checked_mul(n32).ok_or_else(|| out_of_range("interval"))?,
                days: x.days.checked_mul(n32).ok_or_else(|| out_of_range("interval"))?,
                micros: x.micros.checked_mul(*n).ok_or_else(|| out_of_range("interval"))?,
            })
        }
        (Arith::Concat, Text(x), Text(y)) => Text(Cow::Owned(format!("{x}{y}"))),
        _ => return Err(Error::internal(format!("rule arithmetic {op:?} got operands of the wrong type"))),
    })
}

fn negate(iv: Interval) -> Interval {
    Interval { months: -iv.months, days: -iv.days, micros: -iv.micros }
}

fn date_plus(d: i32, n: i64) -> Result<Value<'static>> {
    i32::try_from(i64::from(d) + n).map(Value::Date).map_err(|_| out_of_range("date"))
}

/// Rounds half away from zero, as numeric → integer casts do.
fn float_to_int(f: f64) -> Result<i64> {
    let r = f.round();
    if r.is_nan() || r < -9.223_372_036_854_776e18 || r >= 9.223_372_036_854_776e18 {
        return Err(out_of_range("bigint"));
    }
    Ok(r as i64)
}

/// A runtime cast the compiler allowed.
pub fn cast<'r>(v: &Value<'r>, from: Type, to: Type, env: &dyn Env) -> Result<Value<'r>> {
    use Value::*;
    Ok(match (v, to) {
        (_, t) if t == from => v.clone(),
        (Int(i), Type::Float) => Float(*i as f64),
        (Float(f), Type::Int) => Int(float_to_int(*f)?),
        (Int(i), Type::Text) => Text(Cow::Owned(i.to_string())),
        (Bool(b), Type::Text) => Text(Cow::Borrowed(if *b { "true" } else { "false" })),
        (Date(d), Type::Text) => Text(Cow::Owned(super::value::format_date(*d))),
        (Text(t), ty) => env.parse_literal(ty, t)?,
        (Date(d), Type::Timestamp) => Ts(i64::from(*d) * MICROS_PER_DAY),
        (Date(d), Type::TimestampTz) => Ts(env.date_to_timestamptz(*d)?),
        (Ts(t), Type::TimestampTz) => Ts(env.timestamp_to_timestamptz(*t)?),
        (Ts(t), Type::Date) if from == Type::Timestamp => Date(t.div_euclid(MICROS_PER_DAY) as i32),
        _ => return Err(Error::internal(format!("rule cast from {from} to {to} was not compiled"))),
    })
}

/// Whether [`cast`] supports `from` → `to` at run time.
pub fn castable(from: Type, to: Type) -> bool {
    use Type::*;
    from == to
        || matches!(
            (from, to),
            (Int, Float)
                | (Float, Int)
                | (Int | Bool | Date, Text)
                | (Text, Bool | Int | Float | Date | Timestamp | TimestampTz | Interval)
                | (Date, Timestamp | TimestampTz)
                | (Timestamp, TimestampTz | Date)
        )
}

/// SQL LIKE: `%` any run, `_` one character, `escape` (default backslash) quotes the next.
pub fn like(text: &str, pattern: &str, escape: Option<char>) -> Result<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Lit(char),
    }
    let escape = escape.unwrap_or('\\');
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(n) => pat.push(P::Lit(n)),
                None => {
                    return Err(Error::new(SqlState::InvalidParameterValue, "LIKE pattern must not end with escape character")
                        .with_hint("double the escape character to match it literally"))
                }
            }
        } else if c == '%' {
            pat.push(P::Any);
        } else if c == '_' {
            pat.push(P::One);
        } else {
            pat.push(P::Lit(c));
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with backtracking to the last %.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() && (pat[p] == P::One || pat[p] == P::Lit(text[t])) {
            t += 1;
            p += 1;
        } else if p < pat.len() && pat[p] == P::Any {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return Ok(false);
        }
    }
    while p < pat.len() && pat[p] == P::Any {
        p += 1;
    }
    Ok(p == pat.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("gmail.com", "%.com", None).unwrap());
        assert!(like("abc", "a_c", None).unwrap());
        assert!(!like("abcd", "a_c", None).unwrap());
        assert!(like("50%", "50\\%", None).unwrap());
        assert!(!like("500", "50\\%", None).unwrap());
        assert!(like("a%b", "a!%b", Some('!')).unwrap());
        assert!(like("", "%", None).unwrap());
        assert!(!like("", "_", None).unwrap());
        assert!(like("mississippi", "%iss%ppi", None).unwrap());
        assert!(like("ümlaut", "_mlaut", None).unwrap());
        assert!(like("x", "x\\", None).is_err());
    }
}
