//! Rule text → a `sqlparser` expression, with positions for errors.
//!
//! The `sqlparser` crate (PostgreSQL dialect) reads the WHERE-clause syntax
//! users know; we only accept one expression and nothing after it, so a
//! trailing `; DROP TABLE t` is a syntax error, never a second statement.
//! Its recursion limit turns absurd nesting into an error, not a stack overflow.

use crate::error::{Error, Result, SqlState};
use sqlparser::ast::Expr;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// Longest rule text accepted (characters).
pub const MAX_RULE_LENGTH: usize = 100_000;
/// Deepest nesting the parser follows (parentheses, NOT, operators).
pub const MAX_DEPTH: usize = 64;

/// A syntax problem: the error and its 1-based character position, if known.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub error: Error,
    pub position: Option<usize>,
}

impl Located {
    pub fn new(error: Error, position: Option<usize>) -> Self {
        Located { error, position }
    }
}

/// The 1-based character offset of a sqlparser line/column location.
pub fn offset(text: &str, line: u64, column: u64) -> Option<usize> {
    if line == 0 || column == 0 {
        return None;
    }
    let mut chars = 0usize;
    for (i, l) in text.split('\n').enumerate() {
        if i as u64 + 1 == line {
            return Some(chars + column as usize);
        }
        chars += l.chars().count() + 1;
    }
    None
}

/// Reads "... at Line: L, Column: C" from a sqlparser error message.
fn located_message(text: &str, message: &str) -> (String, Option<usize>) {
    if let Some(at) = message.rfind(" at Line: ") {
        let rest = &message[at + " at Line: ".len()..];
        let mut parts = rest.split(", Column: ");
        let line = parts.next().and_then(|l| l.trim().parse::<u64>().ok());
        let column = parts.next().and_then(|c| c.trim().parse::<u64>().ok());
        if let (Some(l), Some(c)) = (line, column) {
            return (message[..at].to_string(), offset(text, l, c));
        }
    }
    (message.to_string(), None)
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Parses one boolean expression; anything after it is an error.
///
/// The parser runs on its own thread with a generous stack: a recursive-descent
/// parser's frames are large (in debug builds especially), and the backend's
/// stack is not ours to exhaust. Rules are parsed once per ruleset version.
pub fn parse(text: &str) -> Result<Expr, Located> {
    let owned = text.to_string();
    let worker = std::thread::Builder::new().stack_size(64 << 20).spawn(move || parse_here(&owned));
    match worker.map(|handle| handle.join()) {
        Ok(Ok(result)) => result,
        _ => Err(Located::new(Error::internal("the rule parser failed unexpectedly"), None)),
    }
}

fn parse_here(text: &str) -> Result<Expr, Located> {
    if text.chars().count() > MAX_RULE_LENGTH {
        return Err(Located::new(
            Error::limit_exceeded(format!(
                "rule is {} characters long, more than the limit of {MAX_RULE_LENGTH}",
                text.chars().count()
            ))
            .with_hint("split it into several rules, or into another ruleset referenced with segment('name')"),
            None,
        ));
    }
    if text.trim().is_empty() {
        return Err(Located::new(
            Error::new(SqlState::SyntaxError, "rule condition is empty")
                .with_hint("write a condition such as monetary >= 1000 AND recency_days <= 90"),
            None,
        ));
    }
    let dialect = PostgreSqlDialect {};
    let convert = |e: ParserError| match e {
        ParserError::RecursionLimitExceeded => Located::new(
            Error::limit_exceeded(format!("rule nests more than {MAX_DEPTH} levels deep"))
                .with_hint("remove redundant parentheses or split the condition"),
            None,
        ),
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => {
            let (message, position) = located_message(text, &m);
            Located::new(
                Error::new(SqlState::SyntaxError, format!("syntax error: {}", lowercase_first(&message)))
                    .with_hint("write a SQL boolean expression over the ruleset's attributes, as in a WHERE clause"),
                position,
            )
        }
    };
    let mut parser = Parser::new(&dialect).with_recursion_limit(MAX_DEPTH).try_with_sql(text).map_err(convert)?;
    let expr = parser.parse_expr().map_err(convert)?;
    // Operator chains (a + b + c ..., a OR b OR ...) are left-deep trees the
    // parser builds in a loop; cap their depth here, on the big stack, so the
    // compiler and Drop never recurse deeply on the backend's stack.
    if depth(&expr) > MAX_DEPTH {
        return Err(Located::new(
            Error::limit_exceeded(format!("rule nests more than {MAX_DEPTH} operators deep"))
                .with_hint("use IN (...) instead of long OR chains, or split the condition into several rules"),
            None,
        ));
    }
    let next = parser.peek_token();
    if next.token != Token::EOF {
        let position = offset(text, next.span.start.line, next.span.start.column);
        return Err(Located::new(
            Error::new(SqlState::SyntaxError, format!("syntax error: unexpected {} after the condition", next.token))
                .with_hint("a rule is one condition: no semicolons, no second statement"),
            position,
        ));
    }
    Ok(expr)
}

/// The depth of an expression tree (the kinds rules can use; others count 1).
fn depth(e: &Expr) -> usize {
    let children: Vec<&Expr> = match e {
        Expr::BinaryOp { left, right, .. } => vec![left, right],
        Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => vec![left, right],
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) | Expr::Cast { expr, .. } => vec![expr],
        Expr::IsNull(x) | Expr::IsNotNull(x) | Expr::IsTrue(x) | Expr::IsNotTrue(x) | Expr::IsFalse(x) => vec![x],
        Expr::IsNotFalse(x) | Expr::IsUnknown(x) | Expr::IsNotUnknown(x) => vec![x],
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => vec![a, b],
        Expr::Between { expr, low, high, .. } => vec![expr, low, high],
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => vec![expr, pattern],
        Expr::In { expr, target: sqlparser::ast::InTarget::List(list), .. } => {
            std::iter::once(&**expr).chain(list.iter()).collect()
        }
        Expr::Function(f) => match &f.args {
            sqlparser::ast::FunctionArguments::List(list) => list
                .args
                .iter()
                .filter_map(|a| match a {
                    sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(x)) => Some(x),
                    _ => None,
                })
                .collect(),
            _ => vec![],
        },
        _ => vec![],
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_expression_only() {
        assert!(parse("a >= 1 AND b < 2").is_ok());
        let e = parse("a = 1; DROP TABLE customers").unwrap_err();
        assert_eq!(e.error.state, SqlState::SyntaxError);
        assert_eq!(e.position, Some(6));
        assert!(e.error.message.contains("unexpected ;"), "{}", e.error.message);
        assert_eq!(parse("   ").unwrap_err().error.state, SqlState::SyntaxError);
        let e = parse("a >= ").unwrap_err();
        assert_eq!(e.error.state, SqlState::SyntaxError);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.error.state, SqlState::ProgramLimitExceeded, "{:?}", e);
        let nots = format!("{}a", "NOT ".repeat(2_000));
        // sqlparser stops following NOT chains at its limit: an error either way, never a crash.
        let e = parse(&nots).unwrap_err();
        assert!(matches!(e.error.state, SqlState::ProgramLimitExceeded | SqlState::SyntaxError), "{e:?}");
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(offset("ab\ncd", 2, 1), Some(4));
        assert_eq!(offset("ab", 1, 2), Some(2));
        assert_eq!(offset("ab", 0, 0), None);
    }
}
