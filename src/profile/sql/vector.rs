//! `profile_vector(name, customer)`: a customer's feature vector (`real[]`).
//!
//! The hot path of k-means loading (`SELECT profile_vector($1, t) FROM t`): per
//! query (per `FmgrInfo`) the profile is looked up once (the catalog is asked
//! whether the cached compilation is still current); per row type the columns
//! are resolved once; per row the tuple is deformed and encoded into a reused
//! buffer, and the array is written directly.

use super::catalog::{self, Compiled};
use super::rows::{not_a_row, real_array, RowBinding};
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, Result, SqlState};
use crate::profile::encode::{FeatureEncoder, Input};
use pgrx::prelude::*;
use pgrx::{pg_sys, AnyElement, JsonB, PgMemoryContexts};
use serde_json::Value;
use std::rc::Rc;

/// A `real[]` Datum returned as is.
pub struct RealArray(pg_sys::Datum);

unsafe impl pgrx::callconv::BoxRet for RealArray {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}
pgrx::impl_sql_translatable!(RealArray, "real[]");

/// What one call site keeps between rows (in `fn_extra`, freed with `fn_mcxt`).
struct CallState {
    compiled: Rc<Compiled>,
    binding: Option<RowBinding>,
    /// The argument type already checked to be a row type (a syscache lookup, so once).
    row_type: Option<pg_sys::Oid>,
    buffer: Vec<f32>,
}

/// The call site's state for profile `name`, loading the profile on first use.
///
/// # Safety
/// `fcinfo` must be the current call's.
unsafe fn call_state<'a>(fcinfo: pg_sys::FunctionCallInfo, name: &str) -> &'a mut CallState {
    unsafe {
        crate::call_site::state(fcinfo, |s: &CallState| s.compiled.name == name, || {
            let compiled = catalog::load(name);
            CallState { buffer: vec![0.0; compiled.encoder.dimensions], compiled, binding: None, row_type: None }
        })
    }
}

/// The feature vector of one customer row under a fitted profile.
///
/// NULL customer → NULL; NULL name → 22004; unknown profile → 42704; a row
/// without a column the profile reads → 42703; a column of the wrong type → 42804.
#[pg_extern(stable, parallel_safe)]
fn profile_vector(name: Option<&str>, customer: Option<AnyElement>, fcinfo: pg_sys::FunctionCallInfo) -> Option<RealArray> {
    let name = required(name, "name");
    let customer = customer?;
    unsafe {
        let state = call_state(fcinfo, name);
        if state.row_type != Some(customer.oid()) {
            if !pg_sys::type_is_rowtype(customer.oid()) {
                raise(not_a_row(customer.oid()));
            }
            state.row_type = Some(customer.oid());
        }
        let header = pg_sys::pg_detoast_datum(customer.datum().cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let rebind = match &state.binding {
            Some(binding) => !binding.fits(header),
            None => true,
        };
        if rebind {
            let mut memory = PgMemoryContexts::For((*(*fcinfo).flinfo).fn_mcxt);
            let binding = memory.switch_to(|_| RowBinding::new(header, &state.compiled)).or_raise();
            state.binding = Some(binding);
        }
        let binding = state.binding.as_mut().expect("bound above");
        binding.encode(header, &state.compiled.encoder, &mut state.buffer).or_raise();
        Some(RealArray(real_array(&state.buffer)))
    }
}

/// The feature vector of a customer given as a jsonb object keyed by column name.
///
/// Missing keys and JSON nulls are NULL (the feature's missing policy applies).
#[pg_extern(stable, parallel_safe, name = "profile_vector")]
fn profile_vector_jsonb(name: Option<&str>, customer: Option<JsonB>, fcinfo: pg_sys::FunctionCallInfo) -> Option<RealArray> {
    let name = required(name, "name");
    let JsonB(customer) = customer?;
    let Value::Object(fields) = customer else {
        raise(
            Error::new(SqlState::DatatypeMismatch, "profile_vector needs a jsonb object keyed by column name")
                .with_hint(r#"for example '{"city": "Boston", "spend": 120.5}'::jsonb"#),
        )
    };
    let state = unsafe { call_state(fcinfo, name) };
    state.buffer.fill(0.0);
    for feature in &state.compiled.encoder.features {
        let value = fields.get(&feature.column).unwrap_or(&Value::Null);
        encode_json(feature, value, &mut state.buffer).or_raise();
    }
    Some(RealArray(real_array(&state.buffer)))
}

fn json_mismatch(feature: &FeatureEncoder, value: &Value, wanted: &str) -> Error {
    let got = match value {
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        Value::Null => "null",
    };
    Error::new(
        SqlState::DatatypeMismatch,
        format!("key \"{}\" is {got}, but feature \"{}\" needs {wanted}", feature.column, feature.name),
    )
    .with_hint("pass the value as the column would hold it")
}

fn encode_json(feature: &FeatureEncoder, value: &Value, out: &mut [f32]) -> Result<()> {
    match (feature.input, value) {
        (_, Value::Null) => match feature.input {
            Input::Number | Input::Boolean => feature.write_number(None, out),
            Input::Category => feature.write_category(None, out),
            Input::Tags => feature.write_tags(None, out),
        },
        (Input::Number, Value::Number(n)) => feature.write_number(n.as_f64(), out),
        (Input::Boolean, Value::Bool(b)) => feature.write_number(Some(if *b { 1.0 } else { 0.0 }), out),
        (Input::Category, Value::String(s)) => feature.write_category(Some(s), out),
        (Input::Category, Value::Number(n)) => feature.write_category(Some(&n.to_string()), out),
        (Input::Category, Value::Bool(b)) => feature.write_category(Some(if *b { "true" } else { "false" }), out),
        (Input::Tags, Value::Array(items)) => {
            let mut tags = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => tags.push(Some(s.as_str())),
                    Value::Null => tags.push(None),
                    other => return Err(json_mismatch(feature, other, "an array of strings")),
                }
            }
            feature.write_tags(Some(&mut tags.into_iter()), out)
        }
        (Input::Number, other) => Err(json_mismatch(feature, other, "a number")),
        (Input::Boolean, other) => Err(json_mismatch(feature, other, "a boolean")),
        (Input::Category, other) => Err(json_mismatch(feature, other, "a string")),
        (Input::Tags, other) => Err(json_mismatch(feature, other, "an array of strings")),
    }
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION profile_vector(text, anyelement) IS
  'the feature vector (real[]) of a customer row under a fitted profile, e.g. SELECT profile_vector(''p'', c) FROM customers c; NULL row gives NULL';
COMMENT ON FUNCTION profile_vector(text, jsonb) IS
  'the feature vector (real[]) of a customer given as a jsonb object keyed by column name; missing keys count as NULL';
"#,
    name = "profile_vector_comments",
    requires = [profile_vector, profile_vector_jsonb]
);
