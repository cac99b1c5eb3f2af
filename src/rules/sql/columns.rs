//! `segment_assign_columns`: segment_assign on just the columns a ruleset reads.
//!
//! The planner support function ([`super::support`]) rewrites
//! `segment_assign('x', c)` over a table row into
//! `segment_assign_columns('x', '{a,b}', c.a, c.b)`, so PostgreSQL passes
//! the few columns the ruleset reads, already deformed by the scan, instead
//! of building a whole-row value that we would deform again. Same answers,
//! same errors; only the path differs.

use super::catalog::program;
use super::env::PgEnv;
use super::row::{read_as, server_is_utf8, slot_reader, text_bytes, type_name, Reader};
use crate::error::sql::{raise, OrRaise};
use crate::error::{Error, SqlState};
use crate::rules::ruleset::Program;
use crate::rules::value::Value;
use pgrx::{pg_sys, PgMemoryContexts};
use pgrx::prelude::*;
use std::rc::Rc;

/// Arguments before the variadic columns: ruleset name, attribute names.
const FIXED_ARGS: usize = 2;

/// What one call site keeps between rows.
struct CallState {
    name: String,
    program: Rc<Program>,
    /// Per program slot: (argument number, reader, widen integer to float).
    columns: Vec<(usize, Reader, bool)>,
    utf8: bool,
    /// Reused per row; empty between calls (its values borrow the row).
    values: Vec<Value<'static>>,
    /// The text Datum of each segment returned so far, by the address of
    /// its name in `program` (allocated once, in the call site's memory).
    results: Vec<(*const u8, pg_sys::Datum)>,
}

/// Resolves the program's attributes to the call's arguments by name.
///
/// # Safety
/// `fcinfo` must be the current call's, with `FIXED_ARGS` non-null arguments.
unsafe fn load(fcinfo: pg_sys::FunctionCallInfo, name: &str) -> CallState {
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        if pg_sys::get_fn_expr_variadic(flinfo) {
            raise(Error::new(SqlState::FeatureNotSupported, "segment_assign_columns does not take a VARIADIC array")
                .with_hint("call segment_assign(ruleset, row) instead"));
        }
        let args = (*fcinfo).args.as_slice((*fcinfo).nargs as usize);
        let attributes: Vec<Option<String>> =
            Vec::<Option<String>>::from_polymorphic_datum(args[1].value, false, pg_sys::TEXTARRAYOID).unwrap_or_default();
        if attributes.len() + FIXED_ARGS != args.len() {
            raise(Error::invalid_parameter(format!(
                "segment_assign_columns got {} attribute names for {} columns",
                attributes.len(),
                args.len() - FIXED_ARGS
            ))
            .with_hint("call segment_assign(ruleset, row) instead; the planner writes this call itself"));
        }
        let program = program(name);
        let mut columns = Vec::with_capacity(program.slots.attrs.len());
        for (attr, ty) in &program.slots.attrs {
            let Some(at) = attributes.iter().position(|a| a.as_deref() == Some(attr.as_str())) else {
                raise(Error::new(
                    SqlState::ObjectNotInPrerequisiteState,
                    format!("ruleset \"{name}\" now reads attribute \"{attr}\", which this query's plan does not pass"),
                )
                .with_hint("the ruleset changed while the query ran; run the query again"))
            };
            let arg = FIXED_ARGS + at;
            let type_oid = pg_sys::get_fn_expr_argtype(flinfo, arg as i32);
            if type_oid == pg_sys::InvalidOid {
                raise(Error::new(SqlState::FeatureNotSupported, "segment_assign_columns cannot tell its argument types here")
                    .with_hint("call segment_assign(ruleset, row) instead"));
            }
            let (reader, widen) = slot_reader(type_oid, attr, *ty, name, &format!("argument of type {}", type_name(type_oid))).or_raise();
            columns.push((arg, reader, widen));
        }
        CallState { name: name.to_string(), program, columns, utf8: server_is_utf8(), values: Vec::new(), results: Vec::new() }
    }
}

/// The planner's rewrite of `segment_assign(ruleset, row)`; not STRICT: NULL
/// columns are NULL attributes.
///
/// # Safety
/// Called by PostgreSQL's function manager.
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn segment_assign_columns(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    unsafe {
        let nargs = (*fcinfo).nargs as usize;
        let args = (*fcinfo).args.as_slice(nargs);
        if nargs < FIXED_ARGS || args[0].isnull {
            raise(Error::null_not_allowed("ruleset"));
        }
        if args[1].isnull {
            raise(Error::null_not_allowed("attributes"));
        }
        let name = text_bytes(args[0].value);
        let state = crate::call_site::state(fcinfo, |s: &CallState| s.name.as_bytes() == name, || {
            load(fcinfo, &String::from_utf8_lossy(name))
        });
        // The buffer is 'static only in name: it is cleared before this call returns.
        let mut values: Vec<Value> = std::mem::take(&mut state.values);
        values.resize(state.columns.len(), Value::Null);
        for (value, &(arg, reader, widen)) in values.iter_mut().zip(&state.columns) {
            let a = args[arg];
            // Written in place: moving Values through temporaries stalls on store forwarding.
            *value = if a.isnull { Value::Null } else { read_as(reader, widen, a.value, state.utf8) };
        }
        let segment = state.program.assign(&values, &PgEnv).or_raise();
        let result = match segment {
            Some(s) => match state.results.iter().find(|(at, _)| *at == s.as_ptr()) {
                Some(&(_, datum)) => datum,
                None => {
                    let datum = PgMemoryContexts::For((*(*fcinfo).flinfo).fn_mcxt)
                        .switch_to(|_| pg_sys::Datum::from(pgrx::rust_str_to_text_p(s).as_ptr()));
                    state.results.push((s.as_ptr(), datum));
                    datum
                }
            },
            None => {
                (*fcinfo).isnull = true;
                pg_sys::Datum::from(0usize)
            }
        };
        values.clear();
        state.values = std::mem::transmute::<Vec<Value<'_>>, Vec<Value<'static>>>(values);
        result
    }
}

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_segment_assign_columns() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION segment_assign_columns(ruleset text, attributes text[], VARIADIC columns "any") RETURNS text
  STABLE PARALLEL SAFE COST 25 LANGUAGE c AS 'MODULE_PATHNAME', 'segment_assign_columns';
COMMENT ON FUNCTION segment_assign_columns(text, text[], "any") IS
  'internal: what the planner rewrites segment_assign(ruleset, row) into for a table row, passing only the columns the ruleset reads (attributes names them, in order); call segment_assign instead';
"#,
    name = "rules_assign_columns",
    requires = ["rules_catalog"]
);
