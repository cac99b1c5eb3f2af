//! Reading and writing `profile_specs`, with a per-backend cache of compiled
//! profiles.
//!
//! A profile is compiled (parsed from jsonb, vocabularies hashed) once per
//! backend and fit: [`load`] asks the catalog for the row's `fit_id` and
//! `fitted_at`, and only fetches and compiles `fitted` when they differ from
//! the cached ones. profile_vector calls [`load`] once per query (per
//! `FmgrInfo`), so a refit committed by another session is seen by the next
//! query, and a refit earlier in the same transaction by the next statement.

use crate::error::sql::raise;
use crate::error::{Error, SqlState};
use crate::profile::encode::Encoder;
use crate::profile::fitted::{FittedProfile, FORMAT};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiResult;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A fitted profile ready to encode rows.
#[derive(Debug)]
pub struct Compiled {
    pub name: String,
    pub fit_id: i64,
    pub fitted_at: TimestampWithTimeZone,
    pub profile: FittedProfile,
    pub encoder: Encoder,
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Rc<Compiled>>> = RefCell::new(HashMap::new());
}

/// One of our catalog objects, schema-qualified and quoted (also in parallel workers).
pub use crate::extension_schema::qualify;

/// An SPI failure that is not a PostgreSQL error is a bug of ours.
pub fn spi<T>(result: SpiResult<T>) -> T {
    result.unwrap_or_else(|e| raise(Error::internal(format!("SPI failed: {e}"))))
}

pub fn not_found(name: &str) -> Error {
    Error::undefined_object("profile", name)
        .with_hint("fit it first with profile_fit(name, relation, spec); SELECT name FROM profile_specs lists the fitted ones")
}

/// The compiled profile `name`, from the cache when the catalog row is unchanged.
pub fn load(name: &str) -> Rc<Compiled> {
    let cached = CACHE.with(|c| c.borrow().get(name).cloned());
    let (known_id, known_at) = match &cached {
        Some(c) => (Some(c.fit_id), Some(c.fitted_at)),
        None => (None, None),
    };
    let query = format!(
        "SELECT fit_id, fitted_at, \
                CASE WHEN fit_id = $2 AND fitted_at = $3 THEN NULL ELSE fitted::text END \
         FROM {} WHERE name = $1",
        qualify("profile_specs")
    );
    let row = Spi::connect(|client| {
        let table = spi(client.select(&query, Some(1), &[name.into(), known_id.into(), known_at.into()]));
        if table.is_empty() {
            return None;
        }
        let table = table.first();
        Some((
            spi(table.get::<i64>(1)).unwrap_or_default(),
            spi(table.get::<TimestampWithTimeZone>(2)),
            spi(table.get::<String>(3)),
        ))
    });
    let Some((fit_id, Some(fitted_at), text)) = row else {
        CACHE.with(|c| c.borrow_mut().remove(name));
        raise(not_found(name))
    };
    let (Some(cached), None) = (&cached, &text) else {
        let compiled = Rc::new(compile(name, fit_id, fitted_at, text.as_deref().unwrap_or("null")));
        CACHE.with(|c| c.borrow_mut().insert(name.to_string(), compiled.clone()));
        return compiled;
    };
    cached.clone()
}

fn compile(name: &str, fit_id: i64, fitted_at: TimestampWithTimeZone, text: &str) -> Compiled {
    let damaged = |why: String| {
        Error::new(SqlState::DataException, format!("profile \"{name}\" has unreadable fitted statistics"))
            .with_detail(why)
            .with_hint("refit it with profile_refit(name); profile_specs.fitted must only be written by profile_fit()")
    };
    let format = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("format").and_then(serde_json::Value::as_u64));
    if format.is_some_and(|f| f > u64::from(FORMAT)) {
        raise(
            Error::new(
                SqlState::ObjectNotInPrerequisiteState,
                format!("profile \"{name}\" was fitted by a newer pg_segment"),
            )
            .with_hint("update the pg_segment library, or refit the profile with this one"),
        );
    }
    let profile: FittedProfile = serde_json::from_str(text).unwrap_or_else(|e| raise(damaged(e.to_string())));
    let encoder = Encoder::new(&profile);
    Compiled { name: name.to_string(), fit_id, fitted_at, profile, encoder }
}

/// Forgets a cached profile (after this backend refits or drops it).
pub fn forget(name: &str) {
    CACHE.with(|c| c.borrow_mut().remove(name));
}

/// What profile_fit stores.
pub struct Stored<'a> {
    pub name: &'a str,
    pub relation: pg_sys::Oid,
    pub spec: &'a serde_json::Value,
    pub fitted: &'a FittedProfile,
}

/// Inserts or atomically replaces the row of `name`.
pub fn store(s: &Stored) {
    let fitted = serde_json::to_string(s.fitted).unwrap_or_else(|e| raise(Error::internal(e.to_string())));
    let query = format!(
        "INSERT INTO {table} AS p (name, relation, spec, fitted, features, dimensions, rows_fitted) \
         VALUES ($1, $2, $3::text::jsonb, $4::jsonb, $5, $6, $7) \
         ON CONFLICT (name) DO UPDATE SET relation = EXCLUDED.relation, spec = EXCLUDED.spec, \
           fitted = EXCLUDED.fitted, features = EXCLUDED.features, dimensions = EXCLUDED.dimensions, \
           rows_fitted = EXCLUDED.rows_fitted, fit_id = nextval('{sequence}'), \
           fitted_at = clock_timestamp(), fitted_by = current_user",
        table = qualify("profile_specs"),
        sequence = qualify("profile_fit_ids").replace('\'', "''"),
    );
    let relation = unsafe { pgrx::datum::DatumWithOid::new(s.relation, pg_sys::REGCLASSOID) };
    spi(Spi::run_with_args(
        &query,
        &[
            s.name.into(),
            relation,
            s.spec.to_string().into(),
            fitted.into(),
            (s.fitted.features.len() as i32).into(),
            (s.fitted.dimensions() as i32).into(),
            (s.fitted.rows as i64).into(),
        ],
    ));
    forget(s.name);
}

/// The relation and spec a profile was fitted with (for profile_refit).
pub fn spec_of(name: &str) -> (pg_sys::Oid, serde_json::Value) {
    let query = format!("SELECT relation::oid, spec::text FROM {} WHERE name = $1", qualify("profile_specs"));
    let row = Spi::connect(|client| {
        let table = spi(client.select(&query, Some(1), &[name.into()]));
        if table.is_empty() {
            return None;
        }
        let table = table.first();
        Some((spi(table.get::<pg_sys::Oid>(1)), spi(table.get::<String>(2))))
    });
    match row {
        Some((Some(relation), Some(spec))) => {
            (relation, serde_json::from_str(&spec).unwrap_or_else(|e| raise(Error::internal(e.to_string()))))
        }
        _ => raise(not_found(name)),
    }
}

/// Deletes the row of `name`; whether there was one.
pub fn delete(name: &str) -> bool {
    let query = format!("DELETE FROM {} WHERE name = $1 RETURNING 1", qualify("profile_specs"));
    let deleted = Spi::connect_mut(|client| !spi(client.update(&query, None, &[name.into()])).is_empty());
    forget(name);
    deleted
}
