//! `kmeans_assign(model, features)` and `kmeans_assign_with_distance(...)`:
//! the nearest centroid (clusters 1..k) of a vector or, for a model fitted
//! through a profile, of a customer row.
//!
//! Per call site (`fn_extra`, freed with the query) the model is looked up once
//! — the catalog is asked for its version, the centroids are re-read only when
//! it changed — so per row only the array is read and k distances computed.
//! NULL policy: NULL features or row → NULL; NULL model → 22004; a NULL, NaN or
//! ±Infinity element or a wrong length → 22023.

use super::array::{arg_datum, read_into, DoubleArrayArg, Elements, RealArrayArg};
use super::catalog::{self, Model};
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, SqlState};
use crate::kmeans::model::assign;
use crate::profile::sql::rows::RowBinding;
use pgrx::prelude::*;
use pgrx::{pg_sys, AnyElement, PgMemoryContexts};
use std::rc::Rc;

struct CallState {
    model: Rc<Model>,
    binding: Option<RowBinding>,
    row_type: Option<pg_sys::Oid>,
    vector: Vec<f64>,
    encoded: Vec<f32>,
    /// The blessed result descriptor of kmeans_assign_with_distance.
    tupdesc: Option<pg_sys::TupleDesc>,
}

/// The call site's state for model `name`, loading the model on first use.
unsafe fn call_state<'a>(fcinfo: pg_sys::FunctionCallInfo, name: &str) -> &'a mut CallState {
    unsafe {
        crate::call_site::state(fcinfo, |s: &CallState| s.model.name == name, || CallState {
            model: catalog::load(name),
            binding: None,
            row_type: None,
            vector: Vec::new(),
            encoded: Vec::new(),
            tupdesc: None,
        })
    }
}

fn wrong_length(model: &Model, got: usize) -> Error {
    Error::invalid_parameter(format!(
        "features have {got} elements, but k-means model \"{}\" has {} dimensions",
        model.name, model.dims
    ))
    .with_hint("pass vectors built the way the model's training vectors were")
}

/// (cluster, distance) of the array argument `n`.
unsafe fn assign_array(fcinfo: pg_sys::FunctionCallInfo, name: &str, n: usize) -> Option<(i32, f64)> {
    unsafe {
        let datum = arg_datum(fcinfo, n)?;
        let state = call_state(fcinfo, name);
        state.vector.clear();
        match read_into(datum, &mut state.vector) {
            Elements::Ok(got) if got == state.model.dims => {}
            Elements::Ok(got) => raise(wrong_length(&state.model, got)),
            Elements::Null(at) => raise(
                Error::invalid_parameter(format!("features have a NULL element at position {at}"))
                    .with_hint("filter such rows, e.g. WHERE array_position(features, NULL) IS NULL"),
            ),
            Elements::NotFinite(at, x) => raise(
                Error::invalid_parameter(format!("features have {} at position {at}", super::array::pg_float(x)))
                    .with_hint("filter such rows, e.g. WHERE NOT features && '{NaN,Infinity,-Infinity}'"),
            ),
            Elements::MultiDim(d) => raise(
                Error::invalid_parameter(format!("features must be a one-dimensional array, not {d}-dimensional"))
                    .with_hint("pass one flat vector per call"),
            ),
            Elements::WrongType(_) => raise(Error::new(SqlState::DatatypeMismatch, "features must be real[] or double precision[]")),
        }
        Some(assign(&state.vector, &state.model.centroids, state.model.dims))
    }
}

/// (cluster, distance) of the customer row argument `n` (models fitted through a profile).
unsafe fn assign_row(fcinfo: pg_sys::FunctionCallInfo, name: &str, customer: AnyElement) -> (i32, f64) {
    unsafe {
        let state = call_state(fcinfo, name);
        let Some(compiled) = state.model.profile.clone() else {
            raise(
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!("k-means model \"{name}\" was fitted on a features column, so it needs a real[] or float8[] vector"),
                )
                .with_hint("pass the features array, e.g. kmeans_assign('m', c.features); only models fitted with profile => take a row"),
            )
        };
        if state.row_type != Some(customer.oid()) {
            if !pg_sys::type_is_rowtype(customer.oid()) {
                raise(
                    Error::new(SqlState::DatatypeMismatch, "kmeans_assign needs a real[] / float8[] vector or a customer row")
                        .with_hint("pass the row alias, e.g. SELECT kmeans_assign('m', c) FROM customers c"),
                );
            }
            state.row_type = Some(customer.oid());
        }
        let header = pg_sys::pg_detoast_datum(customer.datum().cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        if state.binding.as_ref().is_none_or(|b| !b.fits(header)) {
            let mut memory = PgMemoryContexts::For((*(*fcinfo).flinfo).fn_mcxt);
            let binding = memory.switch_to(|_| RowBinding::new(header, &compiled)).or_raise();
            state.binding = Some(binding);
        }
        state.encoded.resize(compiled.encoder.dimensions, 0.0);
        state.binding.as_mut().expect("bound above").encode(header, &compiled.encoder, &mut state.encoded).or_raise();
        state.vector.clear();
        state.vector.extend(state.encoded.iter().map(|&x| f64::from(x)));
        assign(&state.vector, &state.model.centroids, state.model.dims)
    }
}

/// The cluster (1..k) of a `real[]` vector.
#[pg_extern(stable, parallel_safe, requires = ["kmeans_catalog"])]
fn kmeans_assign(model: Option<&str>, features: Option<RealArrayArg>, fcinfo: pg_sys::FunctionCallInfo) -> Option<i32> {
    let name = required(model, "model");
    features?;
    unsafe { assign_array(fcinfo, name, 1) }.map(|(c, _)| c)
}

/// The cluster (1..k) of a `float8[]` vector.
#[pg_extern(stable, parallel_safe, name = "kmeans_assign", requires = ["kmeans_catalog"])]
fn kmeans_assign_float8(model: Option<&str>, features: Option<DoubleArrayArg>, fcinfo: pg_sys::FunctionCallInfo) -> Option<i32> {
    let name = required(model, "model");
    features?;
    unsafe { assign_array(fcinfo, name, 1) }.map(|(c, _)| c)
}

/// The cluster (1..k) of a customer row, through the model's stored profile transform.
#[pg_extern(stable, parallel_safe, name = "kmeans_assign", requires = ["kmeans_catalog"])]
fn kmeans_assign_row(model: Option<&str>, customer: Option<AnyElement>, fcinfo: pg_sys::FunctionCallInfo) -> Option<i32> {
    let name = required(model, "model");
    let customer = customer?;
    Some(unsafe { assign_row(fcinfo, name, customer) }.0)
}

/// A `(cluster, distance)` row of type `kmeans_assignment`.
pub struct Assignment(pg_sys::Datum);

unsafe impl pgrx::callconv::BoxRet for Assignment {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}
pgrx::impl_sql_translatable!(Assignment, "kmeans_assignment");

unsafe fn assignment(fcinfo: pg_sys::FunctionCallInfo, (cluster, distance): (i32, f64)) -> Assignment {
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let state = &mut *((*flinfo).fn_extra as *mut CallState);
        let tupdesc = match state.tupdesc {
            Some(t) => t,
            None => {
                let mut tupdesc: pg_sys::TupleDesc = std::ptr::null_mut();
                pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut tupdesc);
                let t = PgMemoryContexts::For((*flinfo).fn_mcxt).switch_to(|_| pg_sys::BlessTupleDesc(pg_sys::CreateTupleDescCopy(tupdesc)));
                state.tupdesc = Some(t);
                t
            }
        };
        let mut values = [pg_sys::Datum::from(cluster), pg_sys::Datum::from(distance.to_bits())];
        let mut nulls = [false, false];
        let tuple = pg_sys::heap_form_tuple(tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        Assignment(pgrx::heap_tuple_get_datum(tuple))
    }
}

/// (cluster, Euclidean distance to its centroid) of a `real[]` vector.
#[pg_extern(stable, parallel_safe, requires = ["kmeans_catalog"])]
fn kmeans_assign_with_distance(model: Option<&str>, features: Option<RealArrayArg>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Assignment> {
    let name = required(model, "model");
    features?;
    unsafe { assign_array(fcinfo, name, 1).map(|r| assignment(fcinfo, r)) }
}

/// The same for a `float8[]` vector.
#[pg_extern(stable, parallel_safe, name = "kmeans_assign_with_distance", requires = ["kmeans_catalog"])]
fn kmeans_assign_with_distance_float8(
    model: Option<&str>,
    features: Option<DoubleArrayArg>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<Assignment> {
    let name = required(model, "model");
    features?;
    unsafe { assign_array(fcinfo, name, 1).map(|r| assignment(fcinfo, r)) }
}

/// The same for a customer row (models fitted through a profile).
#[pg_extern(stable, parallel_safe, name = "kmeans_assign_with_distance", requires = ["kmeans_catalog"])]
fn kmeans_assign_with_distance_row(model: Option<&str>, customer: Option<AnyElement>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Assignment> {
    let name = required(model, "model");
    let customer = customer?;
    unsafe {
        let r = assign_row(fcinfo, name, customer);
        Some(assignment(fcinfo, r))
    }
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION kmeans_assign(text, real[]) IS
  'the cluster (1..k) of a real[] vector under a fitted k-means model: its nearest centroid (ties: the lower cluster); NULL vector gives NULL';
COMMENT ON FUNCTION kmeans_assign(text, double precision[]) IS
  'the cluster (1..k) of a float8[] vector under a fitted k-means model; NULL vector gives NULL';
COMMENT ON FUNCTION kmeans_assign(text, anyelement) IS
  'the cluster (1..k) of a customer row under a k-means model fitted through a profile, applying the profile transform stored with the model; NULL row gives NULL';
COMMENT ON FUNCTION kmeans_assign_with_distance(text, real[]) IS
  'the cluster (1..k) of a real[] vector and its Euclidean distance to that centroid';
COMMENT ON FUNCTION kmeans_assign_with_distance(text, double precision[]) IS
  'the cluster (1..k) of a float8[] vector and its Euclidean distance to that centroid';
COMMENT ON FUNCTION kmeans_assign_with_distance(text, anyelement) IS
  'the cluster (1..k) of a customer row (profile models) and its Euclidean distance to that centroid';
"#,
    name = "kmeans_assign_comments",
    requires = [kmeans_assign, kmeans_assign_float8, kmeans_assign_row, kmeans_assign_with_distance, kmeans_assign_with_distance_float8, kmeans_assign_with_distance_row]
);
