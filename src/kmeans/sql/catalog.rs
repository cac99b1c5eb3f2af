//! `kmeans_models`: storing a fit (insert or atomic replace), loading a model
//! for assignment with a per-backend cache, dropping.
//!
//! Cache validity: every store takes a new `version` from a sequence.
//! kmeans_assign calls [`load`] once per query (per call site), which asks the
//! catalog for the version and fetches the centroids only when it changed, so a
//! refit committed by another session is seen by the next query.

use crate::error::sql::raise;
use crate::error::{Error, SqlState};
use crate::extension_schema::qualify;
use crate::kmeans::model::parse_array_text;
use crate::profile::encode::Encoder;
use crate::profile::fitted::FittedProfile;
use crate::profile::sql::catalog::{spi, Compiled};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A model ready to assign.
pub struct Model {
    pub name: String,
    pub version: i64,
    pub k: usize,
    pub dims: usize,
    pub centroids: Vec<f64>,
    /// The profile transform the model was fitted through, as it was then.
    pub profile: Option<Rc<Compiled>>,
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Rc<Model>>> = RefCell::new(HashMap::new());
}

pub fn not_found(name: &str) -> Error {
    Error::undefined_object("k-means model", name)
        .with_hint("fit it first with kmeans_fit(model, relation, features, k); SELECT name FROM kmeans_models lists the fitted ones")
}

/// The model `name`, from the cache when its version is unchanged.
pub fn load(name: &str) -> Rc<Model> {
    let cached = CACHE.with(|c| c.borrow().get(name).cloned());
    let known = cached.as_ref().map(|m| m.version);
    let query = format!(
        "SELECT version, k, dims, profile, profile_fit_id, profile_fitted_at, \
                CASE WHEN version = $2 THEN NULL ELSE centroids::text END, \
                CASE WHEN version = $2 THEN NULL ELSE profile_transform::text END \
         FROM {} WHERE name = $1",
        qualify("kmeans_models")
    );
    // read-only SPI: kmeans_assign runs in parallel workers too
    let row = Spi::connect(|client| {
        let t = spi(client.select(&query, Some(1), &[name.into(), known.into()]));
        if t.is_empty() {
            return None;
        }
        let t = t.first();
        Some((
            spi(t.get::<i64>(1)).unwrap_or_default(),
            spi(t.get::<i32>(2)).unwrap_or_default() as usize,
            spi(t.get::<i32>(3)).unwrap_or_default() as usize,
            spi(t.get::<String>(4)),
            spi(t.get::<i64>(5)),
            spi(t.get::<TimestampWithTimeZone>(6)),
            spi(t.get::<String>(7)),
            spi(t.get::<String>(8)),
        ))
    });
    let Some((version, k, dims, profile, fit_id, fitted_at, centroids, transform)) = row else {
        CACHE.with(|c| c.borrow_mut().remove(name));
        raise(not_found(name))
    };
    if let (Some(cached), None) = (&cached, &centroids) {
        return cached.clone();
    }
    let damaged = |why: String| {
        Error::new(SqlState::DataException, format!("k-means model \"{name}\" is damaged"))
            .with_detail(why)
            .with_hint("refit it with kmeans_fit(); kmeans_models must only be written by kmeans_fit()")
    };
    let centroids = parse_array_text(centroids.as_deref().unwrap_or("")).unwrap_or_else(|e| raise(e));
    if centroids.len() != k * dims || k == 0 {
        raise(damaged(format!("{} centroid values for k = {k}, dims = {dims}", centroids.len())));
    }
    let profile = match (profile, transform, fitted_at) {
        (Some(profile_name), Some(text), Some(fitted_at)) => {
            let fitted: FittedProfile = serde_json::from_str(&text).unwrap_or_else(|e| raise(damaged(e.to_string())));
            let encoder = Encoder::new(&fitted);
            Some(Rc::new(Compiled { name: profile_name, fit_id: fit_id.unwrap_or_default(), fitted_at, profile: fitted, encoder }))
        }
        _ => None,
    };
    let model = Rc::new(Model { name: name.to_string(), version, k, dims, centroids, profile });
    CACHE.with(|c| c.borrow_mut().insert(name.to_string(), model.clone()));
    model
}

/// What kmeans_fit stores.
pub struct Stored<'a> {
    pub name: &'a str,
    pub relation: pg_sys::Oid,
    pub features: Option<&'a str>,
    pub profile: Option<&'a Compiled>,
    pub k: usize,
    pub dims: usize,
    pub centroids_text: String,
    pub sizes: Vec<i64>,
    pub inertia: f64,
    pub iterations: i32,
    pub converged: bool,
    pub rows: i64,
    pub skipped: i64,
    pub options: serde_json::Value,
    pub elapsed_ms: f64,
}

/// Inserts or atomically replaces the model `name`.
pub fn store(s: &Stored) {
    let query = format!(
        "INSERT INTO {table} AS m (name, relation, features, profile, profile_fit_id, profile_fitted_at, \
            profile_transform, k, dims, centroids, sizes, inertia, iterations, converged, rows_fitted, \
            rows_skipped, options, elapsed_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::float8[], $11, $12, $13, $14, $15, $16, $17::jsonb, $18) \
         ON CONFLICT (name) DO UPDATE SET relation = EXCLUDED.relation, features = EXCLUDED.features, \
            profile = EXCLUDED.profile, profile_fit_id = EXCLUDED.profile_fit_id, \
            profile_fitted_at = EXCLUDED.profile_fitted_at, profile_transform = EXCLUDED.profile_transform, \
            k = EXCLUDED.k, dims = EXCLUDED.dims, centroids = EXCLUDED.centroids, sizes = EXCLUDED.sizes, \
            inertia = EXCLUDED.inertia, iterations = EXCLUDED.iterations, converged = EXCLUDED.converged, \
            rows_fitted = EXCLUDED.rows_fitted, rows_skipped = EXCLUDED.rows_skipped, options = EXCLUDED.options, \
            elapsed_ms = EXCLUDED.elapsed_ms, version = nextval('{sequence}'), created_at = clock_timestamp(), \
            created_by = current_user",
        table = qualify("kmeans_models"),
        sequence = qualify("kmeans_model_versions").replace('\'', "''"),
    );
    let relation = unsafe { pgrx::datum::DatumWithOid::new(s.relation, pg_sys::REGCLASSOID) };
    let transform = s.profile.map(|p| serde_json::to_string(&p.profile).unwrap_or_else(|e| raise(Error::internal(e.to_string()))));
    spi(Spi::run_with_args(
        &query,
        &[
            s.name.into(),
            relation,
            s.features.into(),
            s.profile.map(|p| p.name.clone()).into(),
            s.profile.map(|p| p.fit_id).into(),
            s.profile.map(|p| p.fitted_at).into(),
            transform.into(),
            (s.k as i32).into(),
            (s.dims as i32).into(),
            s.centroids_text.clone().into(),
            s.sizes.clone().into(),
            s.inertia.into(),
            s.iterations.into(),
            s.converged.into(),
            s.rows.into(),
            s.skipped.into(),
            s.options.to_string().into(),
            s.elapsed_ms.into(),
        ],
    ));
    CACHE.with(|c| c.borrow_mut().remove(s.name));
}

/// Deletes the model `name`; whether it existed.
pub fn delete(name: &str) -> bool {
    let query = format!("DELETE FROM {} WHERE name = $1 RETURNING 1", qualify("kmeans_models"));
    let deleted = Spi::connect_mut(|client| !spi(client.update(&query, None, &[name.into()])).is_empty());
    CACHE.with(|c| c.borrow_mut().remove(name));
    deleted
}
