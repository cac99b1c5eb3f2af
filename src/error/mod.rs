//! The error type of pg_segment's core logic.
//!
//! Core code (no pgrx) returns [`Result`]; the SQL layer turns an [`Error`] into a
//! PostgreSQL `ERROR` with the same SQLSTATE, message, detail and hint
//! (see [`sql::raise`]). Messages are lowercase and say what was wrong; the hint
//! says what to do about it.

pub mod sql;

use std::fmt;

/// The SQLSTATE codes pg_segment raises (names follow PostgreSQL's errcodes.txt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlState {
    /// 22000: a value that cannot be processed (generic data exception).
    DataException,
    /// 22003: a number too large or too small for its type.
    NumericValueOutOfRange,
    /// 22012: division by zero (in a rule's arithmetic).
    DivisionByZero,
    /// 22004: a NULL where none is allowed.
    NullValueNotAllowed,
    /// 22023: an argument with an invalid value.
    InvalidParameterValue,
    /// 22P02: text that does not parse as the expected type.
    InvalidTextRepresentation,
    /// 42501: the caller lacks a privilege.
    InsufficientPrivilege,
    /// 42601: rule or expression syntax error.
    SyntaxError,
    /// 42703: unknown column or attribute.
    UndefinedColumn,
    /// 42704: unknown named object (model, spec, ruleset, map, segmentation).
    UndefinedObject,
    /// 42804: a value of the wrong type.
    DatatypeMismatch,
    /// 42P01: unknown table or relation.
    UndefinedTable,
    /// 42P19: a definition that refers to itself, directly or not.
    InvalidRecursion,
    /// 42710: a named object that already exists.
    DuplicateObject,
    /// 54000: a size limit would be exceeded.
    ProgramLimitExceeded,
    /// 55000: the object is not in the state the operation needs.
    ObjectNotInPrerequisiteState,
    /// 0A000: a documented but unsupported combination.
    FeatureNotSupported,
    /// XX000: a bug in pg_segment; never used for user mistakes.
    InternalError,
}

impl SqlState {
    /// The five-character SQLSTATE.
    pub fn code(self) -> &'static str {
        match self {
            SqlState::DataException => "22000",
            SqlState::NumericValueOutOfRange => "22003",
            SqlState::DivisionByZero => "22012",
            SqlState::NullValueNotAllowed => "22004",
            SqlState::InvalidParameterValue => "22023",
            SqlState::InvalidTextRepresentation => "22P02",
            SqlState::InsufficientPrivilege => "42501",
            SqlState::SyntaxError => "42601",
            SqlState::UndefinedColumn => "42703",
            SqlState::UndefinedObject => "42704",
            SqlState::DatatypeMismatch => "42804",
            SqlState::UndefinedTable => "42P01",
            SqlState::InvalidRecursion => "42P19",
            SqlState::DuplicateObject => "42710",
            SqlState::ProgramLimitExceeded => "54000",
            SqlState::ObjectNotInPrerequisiteState => "55000",
            SqlState::FeatureNotSupported => "0A000",
            SqlState::InternalError => "XX000",
        }
    }

    /// Every state, for exhaustive tests of the SQL mapping.
    pub const ALL: [SqlState; 18] = [
        SqlState::DataException,
        SqlState::NumericValueOutOfRange,
        SqlState::DivisionByZero,
        SqlState::NullValueNotAllowed,
        SqlState::InvalidParameterValue,
        SqlState::InvalidTextRepresentation,
        SqlState::InsufficientPrivilege,
        SqlState::SyntaxError,
        SqlState::UndefinedColumn,
        SqlState::UndefinedObject,
        SqlState::DatatypeMismatch,
        SqlState::UndefinedTable,
        SqlState::InvalidRecursion,
        SqlState::DuplicateObject,
        SqlState::ProgramLimitExceeded,
        SqlState::ObjectNotInPrerequisiteState,
        SqlState::FeatureNotSupported,
        SqlState::InternalError,
    ];

    /// Parses a five-character SQLSTATE into one of ours.
    pub fn from_code(code: &str) -> Option<SqlState> {
        SqlState::ALL.into_iter().find(|s| s.code().eq_ignore_ascii_case(code))
    }
}

/// An error with everything PostgreSQL shows the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub state: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        Error { state, message: message.into(), detail: None, hint: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// 22023: the most common user mistake, an argument out of its domain.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Error::new(SqlState::InvalidParameterValue, message)
    }

    /// 22004: a NULL argument that has no sensible meaning.
    pub fn null_not_allowed(what: &str) -> Self {
        Error::new(SqlState::NullValueNotAllowed, format!("{what} must not be null"))
    }

    /// 42703: an unknown column, named.
    pub fn undefined_column(column: &str, relation: &str) -> Self {
        Error::new(
            SqlState::UndefinedColumn,
            format!("column \"{column}\" does not exist in {relation}"),
        )
    }

    /// 42704: an unknown named pg_segment object (model, spec, ruleset, map...).
    pub fn undefined_object(kind: &str, name: &str) -> Self {
        Error::new(SqlState::UndefinedObject, format!("{kind} \"{name}\" does not exist"))
    }

    /// 54000: a size limit, with both numbers so the user can act.
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Error::new(SqlState::ProgramLimitExceeded, message)
    }

    /// XX000: an invariant of ours broke; reports a bug, never a user mistake.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(SqlState::InternalError, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.state.code(), self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " (detail: {detail})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_five_characters_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for state in SqlState::ALL {
            assert_eq!(state.code().len(), 5, "{state:?}");
            assert!(seen.insert(state.code()), "duplicate code {}", state.code());
            assert_eq!(SqlState::from_code(state.code()), Some(state));
        }
        assert_eq!(SqlState::from_code("99999"), None);
    }

    #[test]
    fn builder_keeps_every_part() {
        let e = Error::invalid_parameter("bins must be between 2 and 100")
            .with_detail("bins was 1")
            .with_hint("use 5 for quintiles");
        assert_eq!(e.state.code(), "22023");
        assert_eq!(
            e.to_string(),
            "22023: bins must be between 2 and 100 (detail: bins was 1) (hint: use 5 for quintiles)"
        );
        assert_eq!(Error::null_not_allowed("bins").message, "bins must not be null");
        assert_eq!(
            Error::undefined_column("amount", "public.orders").message,
            "column \"amount\" does not exist in public.orders"
        );
    }
}
