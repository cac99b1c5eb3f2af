//! The schema pg_segment was installed into (`CREATE EXTENSION pg_segment SCHEMA s`).
//!
//! Rust code that reads or writes our catalog tables qualifies their names with
//! this schema, so it works whatever the caller's search_path is.

use crate::error::{sql::raise, Error, SqlState};
use pgrx::prelude::*;
use std::cell::RefCell;

thread_local! {
    static SCHEMA: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The name of the extension's schema, looked up once per backend.
pub fn name() -> String {
    if let Some(found) = SCHEMA.with(|s| s.borrow().clone()) {
        return found;
    }
    let found = Spi::get_one::<String>(
        "SELECT n.nspname::text FROM pg_catalog.pg_extension e \
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname = 'pg_segment'",
    )
    .unwrap_or(None);
    match found {
        Some(schema) => {
            SCHEMA.with(|s| *s.borrow_mut() = Some(schema.clone()));
            schema
        }
        None => raise(
            Error::new(SqlState::ObjectNotInPrerequisiteState, "extension pg_segment is not installed")
                .with_hint("run CREATE EXTENSION pg_segment"),
        ),
    }
}

/// `"schema"."object"`, quoted for use in dynamic SQL.
pub fn qualify(object: &str) -> String {
    format!("{}.{}", quote_ident(&name()), quote_ident(object))
}

/// An identifier quoted as PostgreSQL's `quote_ident` would (always quoted).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
