//! SQL bindings of segment operations: the drift functions that
//! `segment_refresh` uses (and users may call), a transaction-state probe, and
//! the hand-written SQL of the catalog, views and procedures (`sql/segments.sql`).

use super::drift;
use crate::error::sql::raise_with;
use crate::error::SqlState;
use pgrx::prelude::*;

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
/// None yet: `pg_segment.as_of` (read by the `segment_input_<name>` views) is a
/// plain placeholder setting that `segment_refresh` sets for its transaction.
pub fn register_gucs() {}

fn check_share(value: f64, argument: &str) {
    if !(0.0..=1.0).contains(&value) {
        raise_with(
            SqlState::InvalidParameterValue,
            format!("{argument} must be a share between 0 and 1, got {value}"),
            None,
            Some("pass the segment's size divided by the number of labelled customers"),
        );
    }
}

/// One segment's population stability index term between two runs:
/// `(share - prev_share) * ln(share / prev_share)`, shares floored at 1e-4.
#[pg_extern(immutable, strict, parallel_safe)]
fn segment_psi(prev_share: f64, share: f64) -> f64 {
    check_share(prev_share, "prev_share");
    check_share(share, "share");
    drift::psi_term(prev_share, share).expect("shares checked above")
}

/// Relative size change `(size - prev_size) / prev_size`; NULL when prev_size is 0.
#[pg_extern(immutable, strict, parallel_safe)]
fn segment_size_change(prev_size: i64, size: i64) -> Option<f64> {
    if prev_size < 0 || size < 0 {
        raise_with(
            SqlState::InvalidParameterValue,
            format!("segment sizes must not be negative, got {prev_size} and {size}"),
            None,
            Some("pass the number of customers in the segment"),
        );
    }
    drift::size_change(prev_size, size)
}

/// Health flags of a segment (`new`, `gone`, `size_change`, `below_min_size`);
/// `prev_size` NULL means there is no previous run to compare with.
#[pg_extern(immutable, parallel_safe)]
fn segment_flags(
    prev_size: Option<i64>,
    size: Option<i64>,
    max_size_change: Option<f64>,
    min_size: Option<i64>,
) -> Vec<String> {
    let not_null = |name: &str| -> ! {
        raise_with(
            SqlState::NullValueNotAllowed,
            format!("{name} must not be null"),
            None,
            Some("only prev_size may be NULL (first run)"),
        )
    };
    let size = size.unwrap_or_else(|| not_null("size"));
    let max_size_change = max_size_change.unwrap_or_else(|| not_null("max_size_change"));
    let min_size = min_size.unwrap_or_else(|| not_null("min_size"));
    if size < 0 || prev_size.is_some_and(|p| p < 0) {
        raise_with(
            SqlState::InvalidParameterValue,
            "segment sizes must not be negative",
            None,
            Some("pass the number of customers in the segment"),
        );
    }
    if max_size_change.is_nan() || max_size_change < 0.0 {
        raise_with(
            SqlState::InvalidParameterValue,
            format!("max_size_change must be a non-negative number, got {max_size_change}"),
            None,
            Some("0.25 flags segments whose size moves by more than 25%"),
        );
    }
    drift::segment_flags(prev_size, size, max_size_change, min_size).into_iter().map(str::to_owned).collect()
}

/// True inside an explicit transaction block (BEGIN ... CALL ...), where
/// `segment_refresh` cannot COMMIT between its steps and so runs as one transaction.
#[pg_extern(volatile, parallel_restricted)]
fn segment_in_transaction_block() -> bool {
    // SAFETY: reads the backend's transaction state; no side effects.
    unsafe { pg_sys::IsTransactionBlock() }
}

pgrx::extension_sql_file!(
    "../../sql/segments.sql",
    name = "segments",
    requires = [segment_psi, segment_size_change, segment_flags, segment_in_transaction_block]
);
