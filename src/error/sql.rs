//! Raising pg_segment errors as PostgreSQL errors.
//!
//! Every SQL-facing function reports user mistakes through these helpers, so the
//! client always receives a specific SQLSTATE, a lowercase message and, where we
//! can say what to do, a detail and a hint.

use super::{Error, SqlState};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

impl SqlState {
    /// The pgrx spelling of this SQLSTATE.
    pub fn pg_code(self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            SqlState::DataException => ERRCODE_DATA_EXCEPTION,
            SqlState::NumericValueOutOfRange => ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            SqlState::DivisionByZero => ERRCODE_DIVISION_BY_ZERO,
            SqlState::NullValueNotAllowed => ERRCODE_NULL_VALUE_NOT_ALLOWED,
            SqlState::InvalidParameterValue => ERRCODE_INVALID_PARAMETER_VALUE,
            SqlState::InvalidTextRepresentation => ERRCODE_INVALID_TEXT_REPRESENTATION,
            SqlState::InsufficientPrivilege => ERRCODE_INSUFFICIENT_PRIVILEGE,
            SqlState::SyntaxError => ERRCODE_SYNTAX_ERROR,
            SqlState::UndefinedColumn => ERRCODE_UNDEFINED_COLUMN,
            SqlState::UndefinedObject => ERRCODE_UNDEFINED_OBJECT,
            SqlState::DatatypeMismatch => ERRCODE_DATATYPE_MISMATCH,
            SqlState::UndefinedTable => ERRCODE_UNDEFINED_TABLE,
            SqlState::InvalidRecursion => ERRCODE_INVALID_RECURSION,
            SqlState::DuplicateObject => ERRCODE_DUPLICATE_OBJECT,
            SqlState::ProgramLimitExceeded => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            SqlState::ObjectNotInPrerequisiteState => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            SqlState::FeatureNotSupported => ERRCODE_FEATURE_NOT_SUPPORTED,
            SqlState::InternalError => ERRCODE_INTERNAL_ERROR,
        }
    }
}

/// Raises `err` as a PostgreSQL ERROR. Never returns: the current transaction aborts.
#[track_caller]
pub fn raise(err: Error) -> ! {
    let mut report = ErrorReport::new(err.state.pg_code(), err.message, "pg_segment");
    if let Some(detail) = err.detail {
        report = report.set_detail(detail);
    }
    if let Some(hint) = err.hint {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Raises an error from its parts; `detail` and `hint` are optional.
#[track_caller]
pub fn raise_with(
    state: SqlState,
    message: impl Into<String>,
    detail: Option<&str>,
    hint: Option<&str>,
) -> ! {
    let mut err = Error::new(state, message);
    err.detail = detail.map(str::to_owned);
    err.hint = hint.map(str::to_owned);
    raise(err)
}

/// Emits a NOTICE (with an optional detail) without interrupting the query.
pub fn notice(message: impl Into<String>, detail: Option<String>) {
    let mut report =
        ErrorReport::new(PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION, message.into(), "pg_segment");
    if let Some(detail) = detail {
        report = report.set_detail(detail);
    }
    report.report(PgLogLevel::NOTICE);
}

/// `result.or_raise()`: the value, or the error raised in PostgreSQL.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, Error> {
    #[track_caller]
    fn or_raise(self) -> T {
        match self {
            Ok(value) => value,
            Err(err) => raise(err),
        }
    }
}

/// A NULL argument check: the value, or 22004 naming the argument.
#[track_caller]
pub fn required<T>(value: Option<T>, argument: &str) -> T {
    match value {
        Some(value) => value,
        None => raise(
            Error::null_not_allowed(argument)
                .with_hint(format!("pass a non-null value for {argument}")),
        ),
    }
}
