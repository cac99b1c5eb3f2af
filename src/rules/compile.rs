//! A parsed expression → a typed [`Node`] program.
//!
//! Resolves attribute names to slots, checks and coerces types the way
//! PostgreSQL resolves operators (integers widen to numeric, dates to
//! timestamps, an untyped string literal takes the type of the other side),
//! and rejects anything outside the rule language with a position: function
//! calls other than the documented few, subqueries, casts to other types.

use super::env::Env;
use super::eval::{castable, Arith, CmpOp, Func, Node};
use super::parse::{offset, Located};
use super::value::{Type, Value};
use crate::error::{Error, SqlState};
use sqlparser::ast::{
    BinaryOperator, CastKind, Expr, InTarget, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned, UnaryOperator,
    Value as SqlValue,
};
use std::borrow::Cow;

/// Name resolution for the compiler.
pub trait Names {
    /// An attribute's slot and type; `Err(type name)` when its declared type
    /// cannot be read by rules; None when there is no such attribute.
    fn attribute(&mut self, name: &str) -> Option<std::result::Result<(usize, Type), String>>;
    /// The slot holding another ruleset's segment (registers the reference).
    fn segment(&mut self, ruleset: &str) -> std::result::Result<usize, Error>;
}

/// The functions rules may call.
pub const FUNCTIONS: &str = "now(), current_date, current_timestamp, segment('ruleset'), lower(), upper(), abs(), coalesce(), cardinality()";

/// A compiled expression: its node, type, and for an untyped string literal its text.
struct Typed {
    node: Node,
    ty: Type,
    literal: Option<String>,
}

pub struct Compiler<'a> {
    text: &'a str,
    names: &'a mut dyn Names,
    env: &'a dyn Env,
    /// Attributes read (by name, in order of first use), for segment_explain.
    pub used: Vec<String>,
    depth: usize,
}

type R<T> = std::result::Result<T, Located>;

const MAX_COMPILE_DEPTH: usize = 64;

impl<'a> Compiler<'a> {
    pub fn new(text: &'a str, names: &'a mut dyn Names, env: &'a dyn Env) -> Self {
        Compiler { text, names, env, used: Vec::new(), depth: 0 }
    }

    fn at(&self, e: &Expr) -> Option<usize> {
        let s = e.span();
        offset(self.text, s.start.line, s.start.column)
    }

    fn fail(&self, e: &Expr, state: SqlState, message: String, hint: &str) -> Located {
        Located::new(Error::new(state, message).with_hint(hint), self.at(e))
    }

    fn mismatch(&self, e: &Expr, message: String) -> Located {
        self.fail(e, SqlState::DatatypeMismatch, message, "compare values of the same kind, or cast one side, e.g. amount::numeric")
    }

    fn unsupported(&self, e: &Expr, what: &str) -> Located {
        self.fail(
            e,
            SqlState::SyntaxError,
            format!("{what} is not allowed in a rule"),
            "rules use comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL, arithmetic, literals and the functions listed in the documentation",
        )
    }

    /// Compiles a rule condition, which must be boolean.
    pub fn condition(&mut self, e: &Expr) -> R<Node> {
        let t = self.expr(e)?;
        if t.ty != Type::Bool {
            return Err(self.mismatch(e, format!("rule condition must be boolean, not {}", t.ty)));
        }
        Ok(t.node)
    }

    /// The top-level AND operands of a condition (for segment_explain).
    pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
        let mut out = Vec::new();
        let mut stack = vec![e];
        while let Some(e) = stack.pop() {
            match e {
                Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                    stack.push(right);
                    stack.push(left);
                }
                Expr::Nested(inner) if matches!(**inner, Expr::BinaryOp { op: BinaryOperator::And, .. }) => stack.push(inner),
                other => out.push(other),
            }
        }
        out
    }

    fn expr(&mut self, e: &Expr) -> R<Typed> {
        self.depth += 1;
        if self.depth > MAX_COMPILE_DEPTH {
            return Err(Located::new(
                Error::limit_exceeded(format!("rule nests more than {MAX_COMPILE_DEPTH} operators deep"))
                    .with_hint("split the condition into several rules"),
                self.at(e),
            ));
        }
        let result = self.expr_inner(e);
        self.depth -= 1;
        result
    }

    fn typed(node: Node, ty: Type) -> Typed {
        Typed { node, ty, literal: None }
    }

    fn expr_inner(&mut self, e: &Expr) -> R<Typed> {
        match e {
            Expr::Nested(inner) => self.expr(inner),
            // Unquoted names fold to lower case, as PostgreSQL's do.
            Expr::Identifier(ident) => {
                let name = if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() };
                self.attribute(e, &name)
            }
            Expr::Value(v) => self.literal(e, &v.value),
            Expr::BinaryOp { op: BinaryOperator::And | BinaryOperator::Or, .. } => self.logic(e),
            Expr::BinaryOp { left, op, right } => {
                if let Some(cmp) = cmp_op(op) {
                    let (a, b) = self.comparable(e, left, right)?;
                    return Ok(Self::typed(Node::Cmp(cmp, Box::new(a), Box::new(b)), Type::Bool));
                }
                self.arith(e, left, op, right)
            }
            Expr::UnaryOp { op: UnaryOperator::Not, expr } => {
                let a = self.boolean(expr)?;
                Ok(Self::typed(Node::Not(Box::new(a)), Type::Bool))
            }
            Expr::UnaryOp { op: UnaryOperator::Minus, expr } => {
                let a = self.expr(expr)?;
                match (&a.node, a.ty) {
                    (Node::Const(Value::Int(i)), Type::Int) => Ok(Self::typed(Node::Const(Value::Int(-i)), Type::Int)),
                    (Node::Const(Value::Float(f)), Type::Float) => Ok(Self::typed(Node::Const(Value::Float(-f)), Type::Float)),
                    (_, Type::Int | Type::Float | Type::Interval) => Ok(Self::typed(Node::Neg(Box::new(a.node), a.ty), a.ty)),
                    _ => Err(self.mismatch(e, format!("cannot negate a value of type {}", a.ty))),
                }
            }
            Expr::UnaryOp { op: UnaryOperator::Plus, expr } => {
                let a = self.expr(expr)?;
                if !a.ty.is_number() {
                    return Err(self.mismatch(e, format!("unary + needs a number, not {}", a.ty)));
                }
                Ok(a)
            }
            Expr::IsNull(a) | Expr::IsNotNull(a) => {
                let t = self.expr(a)?;
                Ok(Self::typed(Node::IsNull(Box::new(t.node), matches!(e, Expr::IsNotNull(_))), Type::Bool))
            }
            Expr::IsTrue(a) | Expr::IsNotTrue(a) | Expr::IsFalse(a) | Expr::IsNotFalse(a) | Expr::IsUnknown(a) | Expr::IsNotUnknown(a) => {
                let node = self.boolean(a)?;
                let (target, negated) = match e {
                    Expr::IsTrue(_) => (Some(true), false),
                    Expr::IsNotTrue(_) => (Some(true), true),
                    Expr::IsFalse(_) => (Some(false), false),
                    Expr::IsNotFalse(_) => (Some(false), true),
                    Expr::IsUnknown(_) => (None, false),
                    _ => (None, true),
                };
                Ok(Self::typed(Node::IsBool(Box::new(node), target, negated), Type::Bool))
            }
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                let (a, b) = self.comparable(e, a, b)?;
                let negated = matches!(e, Expr::IsNotDistinctFrom(..));
                Ok(Self::typed(Node::Distinct(Box::new(a), Box::new(b), negated), Type::Bool))
            }
            Expr::In { expr, target, negated, .. } => {
                let InTarget::List(list) = target else {
                    return Err(self.unsupported(e, "IN with a subquery or table"));
                };
                let mut items = vec![self.expr(expr)?];
                for item in list {
                    items.push(self.expr(item)?);
                }
                let ty = self.common(e, &items)?;
                let mut nodes = Vec::with_capacity(items.len());
                for (item, source) in items.into_iter().zip(std::iter::once(&**expr).chain(list.iter())) {
                    nodes.push(self.coerce(source, item, ty)?);
                }
                let first = nodes.remove(0);
                Ok(Self::typed(Node::InList(Box::new(first), nodes, *negated), Type::Bool))
            }
            Expr::Between { expr, negated, low, high } => {
                let items = vec![self.expr(expr)?, self.expr(low)?, self.expr(high)?];
                let ty = self.common(e, &items)?;
                self.check_ordered(e, ty)?;
                let mut it = items.into_iter();
                let x = self.coerce(expr, it.next().unwrap(), ty)?;
                let lo = self.coerce(low, it.next().unwrap(), ty)?;
                let hi = self.coerce(high, it.next().unwrap(), ty)?;
                let both = Node::And(vec![Node::Cmp(CmpOp::Ge, Box::new(x.clone()), Box::new(lo)), Node::Cmp(CmpOp::Le, Box::new(x), Box::new(hi))]);
                Ok(Self::typed(if *negated { Node::Not(Box::new(both)) } else { both }, Type::Bool))
            }
            Expr::Like { negated, any, expr, pattern, escape_char } | Expr::ILike { negated, any, expr, pattern, escape_char } => {
                if *any {
                    return Err(self.unsupported(e, "LIKE ANY"));
                }
                let insensitive = matches!(e, Expr::ILike { .. });
                let t = self.expr(expr)?;
                let t = self.coerce(expr, t, Type::Text)?;
                let p = self.expr(pattern)?;
                let p = self.coerce(pattern, p, Type::Text)?;
                let escape = match escape_char {
                    None => None,
                    Some(v) => {
                        let s = v.to_string();
                        let s = s.trim_matches('\'');
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => Some(c),
                            _ => return Err(self.fail(e, SqlState::InvalidParameterValue, "invalid escape string".into(), "the ESCAPE string must be one character")),
                        }
                    }
                };
                Ok(Self::typed(Node::Like(Box::new(t), Box::new(p), escape, insensitive, *negated), Type::Bool))
            }
            Expr::AnyOp { left, compare_op, right, .. } | Expr::AllOp { left, compare_op, right } => {
                let all = matches!(e, Expr::AllOp { .. });
                let Some(op) = cmp_op(compare_op) else {
                    return Err(self.unsupported(e, &format!("operator {compare_op} with ANY/ALL")));
                };
                let a = self.expr(left)?;
                let a = self.coerce(left, a, Type::Text)?;
                let arr = self.expr(right)?;
                if arr.ty != Type::TextArray {
                    return Err(self.mismatch(right, format!("ANY/ALL needs a text[] attribute, not {}", arr.ty)));
                }
                Ok(Self::typed(Node::AnyCmp(op, Box::new(a), Box::new(arr.node), all), Type::Bool))
            }
            Expr::Function(f) => self.function(e, f),
            Expr::Cast { kind, expr, data_type, .. } => {
                if matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                    return Err(self.unsupported(e, "TRY_CAST"));
                }
                let to = self.type_named(e, &data_type.to_string())?;
                let t = self.expr(expr)?;
                self.cast(e, t, to)
            }
            Expr::TypedString(ts) => {
                let to = self.type_named(e, &ts.data_type.to_string())?;
                let text = string_of(&ts.value.value).ok_or_else(|| self.unsupported(e, "this typed literal"))?;
                let v = self.parse_as(e, to, &text)?;
                Ok(Self::typed(Node::Const(v), to))
            }
            Expr::Interval(iv) => {
                if iv.leading_field.is_some() || iv.last_field.is_some() {
                    return Err(self.unsupported(e, "an interval with a field qualifier"));
                }
                let text = match &*iv.value {
                    Expr::Value(v) => string_of(&v.value),
                    _ => None,
                }
                .ok_or_else(|| self.unsupported(e, "an interval that is not a quoted literal"))?;
                let v = self.parse_as(e, Type::Interval, &text)?;
                Ok(Self::typed(Node::Const(v), Type::Interval))
            }
            Expr::Subquery(_) | Expr::Exists { .. } => Err(self.unsupported(e, "a subquery")),
            Expr::CompoundIdentifier(_) => Err(self.unsupported(e, "a qualified name")),
            _ => Err(self.unsupported(e, "this expression")),
        }
    }

    fn attribute(&mut self, e: &Expr, name: &str) -> R<Typed> {
        match self.names.attribute(name) {
            Some(Ok((slot, ty))) => {
                if !self.used.iter().any(|u| u == name) {
                    self.used.push(name.to_string());
                }
                Ok(Self::typed(Node::Attr(slot), ty))
            }
            Some(Err(declared)) => Err(self.fail(
                e,
                SqlState::DatatypeMismatch,
                format!("attribute \"{name}\" has type {declared}, which rules cannot read"),
                "rules read booleans, numbers, text, text[], dates, timestamps and intervals; cast the column in a view",
            )),
            None => Err(self.fail(
                e,
                SqlState::UndefinedColumn,
                format!("attribute \"{name}\" does not exist"),
                "use an attribute of the ruleset's input type (unquoted names fold to lower case, as in SQL; quote mixed-case names: \"Spend\")",
            )),
        }
    }

    fn literal(&mut self, e: &Expr, v: &SqlValue) -> R<Typed> {
        Ok(match v {
            SqlValue::Number(n, _) => {
                let n = n.to_string();
                match n.parse::<i64>() {
                    Ok(i) => Self::typed(Node::Const(Value::Int(i)), Type::Int),
                    Err(_) => match n.parse::<f64>() {
                        Ok(f) => Self::typed(Node::Const(Value::Float(f)), Type::Float),
                        Err(_) => return Err(self.fail(e, SqlState::SyntaxError, format!("invalid number {n}"), "write numbers as 42 or 4.2")),
                    },
                }
            }
            SqlValue::Boolean(b) => Self::typed(Node::Const(Value::Bool(*b)), Type::Bool),
            // A bare NULL: unknown type, adopts the other side's like a string literal.
            SqlValue::Null => Typed { node: Node::Const(Value::Null), ty: Type::Text, literal: Some(String::new()) },
            other => match string_of(other) {
                Some(s) => Typed { node: Node::Const(Value::Text(Cow::Owned(s.clone()))), ty: Type::Text, literal: Some(s) },
                None => return Err(self.unsupported(e, "this literal")),
            },
        })
    }

    fn boolean(&mut self, e: &Expr) -> R<Node> {
        let t = self.expr(e)?;
        Ok(self.coerce(e, t, Type::Bool)?)
    }

    /// AND / OR chains, flattened iteratively (a long chain is not deep recursion).
    fn logic(&mut self, e: &Expr) -> R<Typed> {
        let Expr::BinaryOp { op, .. } = e else { unreachable!() };
        let is_and = *op == BinaryOperator::And;
        let mut operands = Vec::new();
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            match x {
                Expr::BinaryOp { left, op: o, right } if o == op => {
                    stack.push(right);
                    stack.push(left);
                }
                other => operands.push(other),
            }
        }
        let mut nodes = Vec::with_capacity(operands.len());
        for operand in operands {
            nodes.push(self.boolean(operand)?);
        }
        Ok(Self::typed(if is_and { Node::And(nodes) } else { Node::Or(nodes) }, Type::Bool))
    }

    fn type_named(&self, e: &Expr, name: &str) -> R<Type> {
        Type::parse(name).ok_or_else(|| {
            self.fail(
                e,
                SqlState::SyntaxError,
                format!("cast to type {} is not allowed in a rule", name.to_lowercase()),
                "rules cast to boolean, integer types, numeric, real, double precision, text, date, timestamp, timestamptz, interval or text[]",
            )
        })
    }

    fn parse_as(&self, e: &Expr, ty: Type, text: &str) -> R<Value<'static>> {
        self.env.parse_literal(ty, text).map_err(|err| Located::new(err, self.at(e)))
    }

    fn cast(&mut self, e: &Expr, t: Typed, to: Type) -> R<Typed> {
        if let Some(text) = &t.literal {
            if matches!(t.node, Node::Const(Value::Null)) {
                return Ok(Self::typed(Node::Const(Value::Null), to));
            }
            let v = self.parse_as(e, to, text)?;
            return Ok(Self::typed(Node::Const(v), to));
        }
        if t.ty == to {
            return Ok(t);
        }
        if !castable(t.ty, to) {
            return Err(self.mismatch(e, format!("cannot cast {} to {to} in a rule", t.ty)));
        }
        Ok(Self::typed(Node::Cast(Box::new(t.node), t.ty, to), to))
    }

    /// Converts a compiled operand to `to` where PostgreSQL would do so implicitly.
    fn coerce(&mut self, e: &Expr, t: Typed, to: Type) -> R<Node> {
        if t.literal.is_some() {
            return Ok(self.cast(e, t, to)?.node);
        }
        if t.ty == to {
            return Ok(t.node);
        }
        let implicit = matches!(
            (t.ty, to),
            (Type::Int, Type::Float) | (Type::Date, Type::Timestamp | Type::TimestampTz) | (Type::Timestamp, Type::TimestampTz)
        );
        if implicit {
            return Ok(Node::Cast(Box::new(t.node), t.ty, to));
        }
        Err(self.mismatch(e, format!("{} is not {to}", describe(t.ty))))
    }

    /// The type a set of operands is compared in.
    fn common(&self, e: &Expr, items: &[Typed]) -> R<Type> {
        let typed: Vec<Type> = items.iter().filter(|t| t.literal.is_none()).map(|t| t.ty).collect();
        let Some(&first) = typed.first() else {
            return Ok(Type::Text);
        };
        let mut ty = first;
        for &t in &typed[1..] {
            ty = match (ty, t) {
                (a, b) if a == b => a,
                (a, b) if a.is_number() && b.is_number() => Type::Float,
                (a, b) if a.is_time() && b.is_time() => {
                    if a == Type::TimestampTz || b == Type::TimestampTz {
                        Type::TimestampTz
                    } else {
                        Type::Timestamp
                    }
                }
                (a, b) => return Err(self.mismatch(e, format!("cannot compare {a} with {b}"))),
            };
        }
        Ok(ty)
    }

    fn check_ordered(&self, e: &Expr, ty: Type) -> R<()> {
        if ty == Type::TextArray {
            return Err(self.mismatch(e, "text[] values cannot be ordered in a rule; use 'tag' = ANY(attribute)".into()));
        }
        Ok(())
    }

    fn comparable(&mut self, e: &Expr, left: &Expr, right: &Expr) -> R<(Node, Node)> {
        let a = self.expr(left)?;
        let b = self.expr(right)?;
        let ty = self.common(e, &[Typed { node: Node::Now, ty: a.ty, literal: a.literal.clone() }, Typed { node: Node::Now, ty: b.ty, literal: b.literal.clone() }])?;
        let a = self.coerce(left, a, ty)?;
        let b = self.coerce(right, b, ty)?;
        Ok((a, b))
    }

    fn arith(&mut self, e: &Expr, left: &Expr, op: &BinaryOperator, right: &Expr) -> R<Typed> {
        use Type::*;
        let mut a = self.expr(left)?;
        let mut b = self.expr(right)?;
        let sign = match op {
            BinaryOperator::Plus => '+',
            BinaryOperator::Minus => '-',
            BinaryOperator::Multiply => '*',
            BinaryOperator::Divide => '/',
            BinaryOperator::Modulo => '%',
            BinaryOperator::StringConcat => '|',
            other => return Err(self.unsupported(e, &format!("operator {other}"))),
        };
        // An untyped literal next to a time value is an interval (now() - '30 days'),
        // next to anything else it takes that type.
        let resolve = |c: &mut Self, side: &Expr, t: Typed, other: Type| -> R<Typed> {
            if t.literal.is_none() {
                return Ok(t);
            }
            let to = match (sign, other) {
                ('|', _) => Text,
                (_, Date | Timestamp | TimestampTz | Interval) if sign == '+' || sign == '-' => Interval,
                (_, o) => o,
            };
            c.cast(side, t, to)
        };
        let (aty, bty) = (a.ty, b.ty);
        let a_lit = a.literal.is_some();
        let b_lit = b.literal.is_some();
        if a_lit && b_lit {
            return Err(self.mismatch(e, "could not determine the type of two untyped literals; cast one".into()));
        }
        if a_lit {
            a = resolve(self, left, a, bty)?;
        }
        if b_lit {
            b = resolve(self, right, b, aty)?;
        }
        let bad = |c: &Self| c.mismatch(e, format!("operator {} does not exist for {} and {}", op_text(sign), a.ty, b.ty));
        let (kind, ty, swap, ca, cb) = match (sign, a.ty, b.ty) {
            ('|', Text, Text) => (Arith::Concat, Text, false, Text, Text),
            ('+', Int, Int) => (Arith::IntAdd, Int, false, Int, Int),
            ('-', Int, Int) => (Arith::IntSub, Int, false, Int, Int),
            ('*', Int, Int) => (Arith::IntMul, Int, false, Int, Int),
            ('/', Int, Int) => (Arith::IntDiv, Int, false, Int, Int),
            ('%', Int, Int) => (Arith::IntMod, Int, false, Int, Int),
            (s, x, y) if x.is_number() && y.is_number() => {
                let k = match s {
                    '+' => Arith::FloatAdd,
                    '-' => Arith::FloatSub,
                    '*' => Arith::FloatMul,
                    '/' => Arith::FloatDiv,
                    '%' => Arith::FloatMod,
                    _ => return Err(bad(self)),
                };
                (k, Float, false, Float, Float)
            }
            ('+', Date, Int) => (Arith::DateAddInt, Date, false, Date, Int),
            ('+', Int, Date) => (Arith::DateAddInt, Date, true, Date, Int),
            ('-', Date, Int) => (Arith::DateSubInt, Date, false, Date, Int),
            ('-', Date, Date) => (Arith::DateSubDate, Int, false, Date, Date),
            ('+', Date | Timestamp, Interval) => (Arith::TsAddInterval, Timestamp, false, Timestamp, Interval),
            ('+', Interval, Date | Timestamp) => (Arith::TsAddInterval, Timestamp, true, Timestamp, Interval),
            ('-', Date | Timestamp, Interval) => (Arith::TsSubInterval, Timestamp, false, Timestamp, Interval),
            ('+', TimestampTz, Interval) => (Arith::TzAddInterval, TimestampTz, false, TimestampTz, Interval),
            ('+', Interval, TimestampTz) => (Arith::TzAddInterval, TimestampTz, true, TimestampTz, Interval),
            ('-', TimestampTz, Interval) => (Arith::TzSubInterval, TimestampTz, false, TimestampTz, Interval),
            ('-', x, y) if x.is_time() && y.is_time() => {
                let t = if x == TimestampTz || y == TimestampTz { TimestampTz } else { Timestamp };
                (Arith::TsSubTs, Interval, false, t, t)
            }
            ('+', Interval, Interval) => (Arith::IntervalAdd, Interval, false, Interval, Interval),
            ('-', Interval, Interval) => (Arith::IntervalSub, Interval, false, Interval, Interval),
            ('*', Interval, Int) => (Arith::IntervalMulInt, Interval, false, Interval, Int),
            ('*', Int, Interval) => (Arith::IntervalMulInt, Interval, true, Interval, Int),
            _ => return Err(bad(self)),
        };
        let (first, first_src, second, second_src) = if swap { (b, right, a, left) } else { (a, left, b, right) };
        let x = self.coerce(first_src, first, ca)?;
        let y = self.coerce(second_src, second, cb)?;
        Ok(Self::typed(Node::Arith(kind, Box::new(x), Box::new(y)), ty))
    }

    fn function(&mut self, e: &Expr, f: &sqlparser::ast::Function) -> R<Typed> {
        let name = f.name.to_string().to_ascii_lowercase();
        if f.filter.is_some() || f.over.is_some() || !f.within_group.is_empty() {
            return Err(self.unsupported(e, &format!("function {name}() with FILTER, OVER or WITHIN GROUP")));
        }
        let args: Vec<&Expr> = match &f.args {
            FunctionArguments::None => Vec::new(),
            FunctionArguments::Subquery(_) => return Err(self.unsupported(e, "a subquery")),
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(self.unsupported(e, &format!("function {name}() with DISTINCT or ORDER BY")));
                }
                let mut args = Vec::new();
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => args.push(x),
                        _ => return Err(self.unsupported(e, &format!("this argument of {name}()"))),
                    }
                }
                args
            }
        };
        let bare = matches!(f.args, FunctionArguments::None);
        let arity = |c: &Self, n: usize| -> R<()> {
            if args.len() != n {
                Err(c.fail(e, SqlState::SyntaxError, format!("function {name}() takes {n} argument(s), not {}", args.len()), "see the documented rule functions"))
            } else {
                Ok(())
            }
        };
        match name.as_str() {
            "now" if !bare => {
                arity(self, 0)?;
                Ok(Self::typed(Node::Now, Type::TimestampTz))
            }
            "current_timestamp" if bare => Ok(Self::typed(Node::Now, Type::TimestampTz)),
            "current_date" if bare => Ok(Self::typed(Node::CurrentDate, Type::Date)),
            "segment" if !bare => {
                arity(self, 1)?;
                let ruleset = match args[0] {
                    Expr::Value(v) => string_of(&v.value),
                    _ => None,
                };
                let Some(ruleset) = ruleset else {
                    return Err(self.fail(e, SqlState::SyntaxError, "segment() needs a ruleset name as a quoted literal".into(), "write segment('lifecycle') = 'Champions'"));
                };
                let slot = self.names.segment(&ruleset).map_err(|err| Located::new(err, self.at(e)))?;
                Ok(Self::typed(Node::Segment(slot), Type::Text))
            }
            "lower" | "upper" if !bare => {
                arity(self, 1)?;
                let t = self.expr(args[0])?;
                let t = self.coerce(args[0], t, Type::Text)?;
                let f = if name == "lower" { Func::Lower } else { Func::Upper };
                Ok(Self::typed(Node::Func(f, Box::new(t)), Type::Text))
            }
            "abs" if !bare => {
                arity(self, 1)?;
                let t = self.expr(args[0])?;
                if !t.ty.is_number() || t.literal.is_some() {
                    return Err(self.mismatch(args[0], format!("abs() needs a number, not {}", t.ty)));
                }
                let ty = t.ty;
                Ok(Self::typed(Node::Func(Func::Abs, Box::new(t.node)), ty))
            }
            "cardinality" if !bare => {
                arity(self, 1)?;
                let t = self.expr(args[0])?;
                if t.ty != Type::TextArray {
                    return Err(self.mismatch(args[0], format!("cardinality() needs a text[] attribute, not {}", t.ty)));
                }
                Ok(Self::typed(Node::Func(Func::Cardinality, Box::new(t.node)), Type::Int))
            }
            "coalesce" if !bare && !args.is_empty() => {
                let mut items = Vec::new();
                for a in &args {
                    items.push(self.expr(a)?);
                }
                let ty = self.common(e, &items)?;
                let mut nodes = Vec::new();
                for (t, a) in items.into_iter().zip(&args) {
                    nodes.push(self.coerce(a, t, ty)?);
                }
                Ok(Self::typed(Node::Coalesce(nodes), ty))
            }
            _ => Err(self.fail(
                e,
                SqlState::SyntaxError,
                format!("function {name}() is not allowed in a rule"),
                &format!("rules may call only {FUNCTIONS}"),
            )),
        }
    }
}

fn describe(t: Type) -> String {
    format!("a value of type {t}")
}

fn op_text(sign: char) -> &'static str {
    match sign {
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '%' => "%",
        _ => "||",
    }
}

fn cmp_op(op: &BinaryOperator) -> Option<CmpOp> {
    Some(match op {
        BinaryOperator::Eq => CmpOp::Eq,
        BinaryOperator::NotEq => CmpOp::Ne,
        BinaryOperator::Lt => CmpOp::Lt,
        BinaryOperator::LtEq => CmpOp::Le,
        BinaryOperator::Gt => CmpOp::Gt,
        BinaryOperator::GtEq => CmpOp::Ge,
        _ => return None,
    })
}

fn string_of(v: &SqlValue) -> Option<String> {
    match v {
        SqlValue::SingleQuotedString(s) | SqlValue::EscapedStringLiteral(s) | SqlValue::NationalStringLiteral(s) => Some(s.clone()),
        SqlValue::DollarQuotedString(d) => Some(d.value.clone()),
        _ => None,
    }
}
