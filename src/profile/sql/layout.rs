//! `profile_layout(name)` and `profile_drop(name)`.

use super::catalog;
use crate::error::sql::{raise, required};
use crate::profile::fitted::layout;
use pgrx::prelude::*;
use pgrx::JsonB;

/// One row per vector position: what it means and where it comes from.
#[allow(clippy::type_complexity)] // pgrx reads the column names from name!() in the signature
#[pg_extern(stable, parallel_safe)]
fn profile_layout(
    name: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(position, i32),
        name!(feature, String),
        name!(source, String),
        name!(kind, String),
        name!(value, Option<String>),
        name!(transform, String),
        name!(statistics, JsonB),
    ),
> {
    let name = required(name, "name");
    let compiled = catalog::load(name);
    let rows: Vec<_> = layout(&compiled.profile)
        .into_iter()
        .map(|r| (r.position, r.feature, r.source, r.kind.to_string(), r.value, r.transform, JsonB(r.statistics)))
        .collect();
    TableIterator::new(rows)
}

/// Drops a fitted profile; false (or 42704 unless if_exists) when there is none.
#[pg_extern(volatile, parallel_unsafe)]
fn profile_drop(name: Option<&str>, if_exists: default!(bool, false)) -> bool {
    let name = required(name, "name");
    let dropped = catalog::delete(name);
    if !dropped && !if_exists {
        raise(catalog::not_found(name));
    }
    dropped
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION profile_layout(text) IS
  'the layout of a fitted profile''s vectors: one row per position with its feature name, source column, kind, category, transform and fitted statistics';
COMMENT ON FUNCTION profile_drop(text, boolean) IS
  'drops a fitted profile; returns whether it existed (an unknown name is an error unless if_exists)';
"#,
    name = "profile_layout_comments",
    requires = [profile_layout, profile_drop]
);
