//! `segment_assign`, `segment_matches`, `segment_explain` for a row or a jsonb object.
//!
//! The hot path (`SELECT segment_assign('lifecycle', c) FROM customers c`):
//! per query (per `FmgrInfo`) the program is fetched once from the
//! per-backend cache (one catalog read checks its version); per row type the
//! attribute columns are resolved once; per row the tuple is deformed and
//! the program runs on the values in place.

use super::catalog::program;
use super::env::PgEnv;
use super::row::{row_tupdesc, row_type, type_name, Binding};
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, Result, SqlState};
use crate::rules::env::Env;
use crate::rules::ruleset::Program;
use crate::rules::value::{Type, Value};
use pgrx::prelude::*;
use pgrx::{pg_sys, AnyElement, JsonB, PgMemoryContexts};
use std::borrow::Cow;
use std::rc::Rc;

/// What one call site keeps between rows (in `fn_extra`, freed with `fn_mcxt`).
struct CallState {
    name: String,
    program: Rc<Program>,
    binding: Option<Binding>,
    checked_type: Option<pg_sys::Oid>,
    /// Reused per row; empty between calls (its values borrow the current row).
    values: Vec<Value<'static>>,
}

/// # Safety
/// `fcinfo` must be the current call's.
unsafe fn call_state<'a>(fcinfo: pg_sys::FunctionCallInfo, name: &str) -> &'a mut CallState {
    unsafe {
        crate::call_site::state(fcinfo, |s: &CallState| s.name == name, || CallState {
            name: name.to_string(),
            program: program(name),
            binding: None,
            checked_type: None,
            values: Vec::new(),
        })
    }
}

/// Deforms `customer` and runs `f` on its attribute values.
fn with_row<T>(fcinfo: pg_sys::FunctionCallInfo, name: &str, customer: AnyElement, f: impl FnOnce(&Program, &[Value]) -> Result<T>) -> T {
    unsafe {
        let state = call_state(fcinfo, name);
        if state.checked_type != Some(customer.oid()) {
            if !pg_sys::type_is_rowtype(customer.oid()) {
                raise(
                    Error::new(SqlState::DatatypeMismatch, format!("customer must be a row, not {}", type_name(customer.oid())))
                        .with_hint("pass the row alias, e.g. SELECT segment_assign('lifecycle', c) FROM customers c, or a jsonb object"),
                );
            }
            state.checked_type = Some(customer.oid());
        }
        let header = pg_sys::pg_detoast_datum(customer.datum().cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let (type_id, typmod) = row_type(header);
        let fits = state.binding.as_ref().is_some_and(|b| b.type_id == type_id && b.typmod == typmod);
        if !fits {
            let mut memory = PgMemoryContexts::For((*(*fcinfo).flinfo).fn_mcxt);
            let program = state.program.clone();
            let binding = memory
                .switch_to(|_| {
                    let tupdesc = row_tupdesc(type_id, typmod);
                    Binding::new(tupdesc, type_id, typmod, &program.slots.attrs, name, &type_name(type_id))
                })
                .or_raise();
            state.binding = Some(binding);
        }
        let binding = state.binding.as_mut().expect("bound above");
        binding.deform(header);
        // The buffer is 'static only in name: it is cleared before this call returns.
        let mut values: Vec<Value> = std::mem::take(&mut state.values);
        binding.read(&mut values);
        let result = f(&state.program, &values);
        values.clear();
        state.values = std::mem::transmute::<Vec<Value<'_>>, Vec<Value<'static>>>(values);
        result.or_raise()
    }
}

/// The attribute values of a jsonb customer, typed as the program reads them.
fn json_values(program: &Program, customer: &serde_json::Value) -> Result<Vec<Value<'static>>> {
    let Some(fields) = customer.as_object() else {
        return Err(Error::new(SqlState::DatatypeMismatch, "customer must be a jsonb object keyed by attribute name")
            .with_hint(r#"for example '{"monetary": 1200, "recency_days": 12}'::jsonb"#));
    };
    let env = PgEnv;
    let mut out = Vec::with_capacity(program.slots.attrs.len());
    for (name, ty) in &program.slots.attrs {
        let v = fields.get(name).unwrap_or(&serde_json::Value::Null);
        let wrong = |what: &str| {
            Error::new(SqlState::DatatypeMismatch, format!("key \"{name}\" is {what}, but the ruleset reads it as {ty}"))
                .with_hint("pass the value as the attribute's type would print it (dates and timestamps as ISO text)")
        };
        out.push(match (ty, v) {
            (_, serde_json::Value::Null) => Value::Null,
            (Type::Bool, serde_json::Value::Bool(b)) => Value::Bool(*b),
            (Type::Int, serde_json::Value::Number(n)) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => return Err(wrong("not an integer")),
            },
            (Type::Float, serde_json::Value::Number(n)) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            (Type::Text, serde_json::Value::String(s)) => Value::Text(Cow::Owned(s.clone())),
            (Type::Date | Type::Timestamp | Type::TimestampTz | Type::Interval, serde_json::Value::String(s)) => env.parse_literal(*ty, s)?,
            (Type::TextArray, serde_json::Value::Array(items)) => {
                let mut tags = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        serde_json::Value::String(s) => tags.push(Some(Cow::Owned(s.clone()))),
                        serde_json::Value::Null => tags.push(None),
                        _ => return Err(wrong("an array with a non-string element")),
                    }
                }
                Value::TextArray(tags)
            }
            (_, serde_json::Value::Bool(_)) => return Err(wrong("a boolean")),
            (_, serde_json::Value::Number(_)) => return Err(wrong("a number")),
            (_, serde_json::Value::String(_)) => return Err(wrong("a string")),
            (_, serde_json::Value::Array(_)) => return Err(wrong("an array")),
            (_, serde_json::Value::Object(_)) => return Err(wrong("an object")),
        });
    }
    Ok(out)
}

fn with_json<T>(fcinfo: pg_sys::FunctionCallInfo, name: &str, customer: &serde_json::Value, f: impl FnOnce(&Program, &[Value]) -> Result<T>) -> T {
    let state = unsafe { call_state(fcinfo, name) };
    let values = json_values(&state.program, customer).or_raise();
    f(&state.program, &values).or_raise()
}

/// The customer's segment: the first matching rule's, else the default.
#[pg_extern(stable, parallel_safe)]
fn segment_assign(ruleset: Option<&str>, customer: Option<AnyElement>, fcinfo: pg_sys::FunctionCallInfo) -> Option<String> {
    let name = required(ruleset, "ruleset");
    let customer = customer?;
    with_row(fcinfo, name, customer, |p, v| Ok(p.assign(v, &PgEnv)?.map(str::to_string)))
}

#[pg_extern(stable, parallel_safe, name = "segment_assign")]
fn segment_assign_jsonb(ruleset: Option<&str>, customer: Option<JsonB>, fcinfo: pg_sys::FunctionCallInfo) -> Option<String> {
    let name = required(ruleset, "ruleset");
    let JsonB(customer) = customer?;
    with_json(fcinfo, name, &customer, |p, v| Ok(p.assign(v, &PgEnv)?.map(str::to_string)))
}

/// Every segment whose rule matches, in rule order (overlaps show here).
#[pg_extern(stable, parallel_safe)]
fn segment_matches(ruleset: Option<&str>, customer: Option<AnyElement>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Vec<String>> {
    let name = required(ruleset, "ruleset");
    let customer = customer?;
    Some(with_row(fcinfo, name, customer, |p, v| Ok(p.matches(v, &PgEnv)?.into_iter().map(str::to_string).collect())))
}

#[pg_extern(stable, parallel_safe, name = "segment_matches")]
fn segment_matches_jsonb(ruleset: Option<&str>, customer: Option<JsonB>, fcinfo: pg_sys::FunctionCallInfo) -> Option<Vec<String>> {
    let name = required(ruleset, "ruleset");
    let JsonB(customer) = customer?;
    Some(with_json(fcinfo, name, &customer, |p, v| Ok(p.matches(v, &PgEnv)?.into_iter().map(str::to_string).collect())))
}

/// Which rule matched and, for each earlier rule, which conditions failed.
#[pg_extern(stable, parallel_safe)]
fn segment_explain(ruleset: Option<&str>, customer: Option<AnyElement>, fcinfo: pg_sys::FunctionCallInfo) -> Option<JsonB> {
    let name = required(ruleset, "ruleset");
    let customer = customer?;
    Some(JsonB(with_row(fcinfo, name, customer, |p, v| p.explain(v, &PgEnv))))
}

#[pg_extern(stable, parallel_safe, name = "segment_explain")]
fn segment_explain_jsonb(ruleset: Option<&str>, customer: Option<JsonB>, fcinfo: pg_sys::FunctionCallInfo) -> Option<JsonB> {
    let name = required(ruleset, "ruleset");
    let JsonB(customer) = customer?;
    Some(JsonB(with_json(fcinfo, name, &customer, |p, v| p.explain(v, &PgEnv))))
}

pgrx::extension_sql!(
    r#"
-- Evaluating a ruleset costs about what a CASE of a dozen or two comparisons
-- does (25 operators): the planner weighs parallel plans accordingly.
ALTER FUNCTION segment_assign(text, anyelement) COST 25;
ALTER FUNCTION segment_assign(text, jsonb) COST 25;
ALTER FUNCTION segment_matches(text, anyelement) COST 25;
ALTER FUNCTION segment_matches(text, jsonb) COST 25;
ALTER FUNCTION segment_explain(text, anyelement) COST 100;
ALTER FUNCTION segment_explain(text, jsonb) COST 100;
COMMENT ON FUNCTION segment_assign(text, anyelement) IS
  'the segment of a customer row under a ruleset: the first matching rule''s segment, else the default (NULL if none); e.g. SELECT segment_assign(''lifecycle'', c) FROM customers c';
COMMENT ON FUNCTION segment_assign(text, jsonb) IS
  'the segment of a customer given as a jsonb object keyed by attribute name (absent keys are NULL)';
COMMENT ON FUNCTION segment_matches(text, anyelement) IS
  'every segment whose rule matches the customer row, in rule order (shows overlaps; the default is not included)';
COMMENT ON FUNCTION segment_matches(text, jsonb) IS
  'every segment whose rule matches a jsonb customer, in rule order';
COMMENT ON FUNCTION segment_explain(text, anyelement) IS
  'why a customer row got its segment: the winning rule, and for each earlier rule its result, the attribute values it read and the conditions that were false or NULL';
COMMENT ON FUNCTION segment_explain(text, jsonb) IS
  'segment_explain for a jsonb customer';
"#,
    name = "rules_assign_comments",
    requires = [segment_assign, segment_assign_jsonb, segment_matches, segment_matches_jsonb, segment_explain, segment_explain_jsonb]
);
