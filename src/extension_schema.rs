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

/// The name of the extension's schema, looked up once per backend (also in
/// parallel workers).
pub fn name() -> String {
    if let Some(found) = SCHEMA.with(|s| s.borrow().clone()) {
        return found;
    }
    // A read-only SPI query (`client.select`): `Spi::get_one` runs read-write,
    // which assigns a transaction id and so fails in parallel workers, where our
    // PARALLEL SAFE functions also need the schema.
    let found = Spi::connect(|client| {
        client
            .select(
                "SELECT n.nspname::text FROM pg_catalog.pg_extension e \
                 JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
                 WHERE e.extname = 'pg_segment'",
                Some(1),
                &[],
            )
            .ok()
            .and_then(|t| if t.is_empty() { None } else { t.first().get::<String>(1).ok().flatten() })
    });
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
