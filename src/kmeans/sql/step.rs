//! The `kmeans_step(features, centroids)` aggregate: one Lloyd step, exact in
//! any plan (see `crate::kmeans::step`). SQL objects are in `sql/kmeans_step.sql`;
//! the functions take the raw `fcinfo` because the state (bytea) is updated in place.
//!
//! NULL policy: a NULL features row is skipped; NULL centroids → 22004; a
//! NULL / NaN / ±Infinity element or a length other than d → 22023.

use super::array::{arg_datum, read_into, read_shaped, Elements};
use crate::error::sql::{raise, OrRaise};
use crate::error::{Error, SqlState};
use crate::kmeans::step;
use pgrx::prelude::*;
use pgrx::pg_sys;

/// A Datum returned as is (declarations are hand-written, `sql = false`).
pub struct RawDatum(pg_sys::Datum);

unsafe impl pgrx::callconv::BoxRet for RawDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}
pgrx::impl_sql_translatable!(RawDatum, "bytea");

unsafe fn new_varlena(payload: &[u8]) -> *mut pg_sys::varlena {
    unsafe {
        let v = pg_sys::palloc(pg_sys::VARHDRSZ + payload.len()) as *mut pg_sys::varlena;
        pgrx::set_varsize_4b(v, (pg_sys::VARHDRSZ + payload.len()) as i32);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), (v as *mut u8).add(pg_sys::VARHDRSZ), payload.len());
        v
    }
}

unsafe fn payload<'a>(v: *mut pg_sys::varlena) -> &'a mut [u8] {
    unsafe {
        let len = pgrx::varsize_4b(v) - pg_sys::VARHDRSZ;
        std::slice::from_raw_parts_mut((v as *mut u8).add(pg_sys::VARHDRSZ), len)
    }
}

unsafe fn state_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    unsafe { pgrx::varlena_to_byte_slice(pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr())) }
}

fn element_error(what: Elements, dims: usize) -> Error {
    match what {
        Elements::Null(at) => Error::invalid_parameter(format!("kmeans_step features have a NULL element at position {at}"))
            .with_hint("filter such rows, e.g. WHERE array_position(features, NULL) IS NULL"),
        Elements::NotFinite(at, x) => Error::invalid_parameter(format!("kmeans_step features have {} at position {at}", super::array::pg_float(x)))
            .with_hint("filter such rows, e.g. WHERE NOT features && '{NaN,Infinity,-Infinity}'"),
        Elements::Ok(n) => Error::invalid_parameter(format!("kmeans_step features have {n} elements, the centroids have {dims}"))
            .with_hint("pass centroids as a k × d array with d = the vector length"),
        _ => Error::invalid_parameter("kmeans_step features must be a one-dimensional real[] or float8[]"),
    }
}

/// Transition: adds one row (`kmeans_step_transition(state, features, centroids)`).
#[pg_extern(sql = false)]
fn kmeans_step_transition(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let mut aggcontext = std::ptr::null_mut();
        let owned = pg_sys::AggCheckCallContext(fcinfo, &mut aggcontext) == pg_sys::AGG_CONTEXT_AGGREGATE as i32;
        let v = match arg_datum(fcinfo, 0) {
            Some(given) if owned && pgrx::varatt_is_4b_u(given.cast_mut_ptr()) => given.cast_mut_ptr::<pg_sys::varlena>(),
            Some(given) => new_varlena(state_bytes(given)),
            None => {
                let Some(centroids) = arg_datum(fcinfo, 2) else {
                    raise(Error::null_not_allowed("centroids").with_hint("pass the current centroids as a k × d float8[] array"))
                };
                let mut values = Vec::new();
                let mut shape = Vec::new();
                let got = read_shaped::<f64>(centroids, &mut values, true, &mut shape);
                if !matches!(got, Elements::Ok(n) if n > 0) || shape.len() != 2 {
                    raise(
                        Error::invalid_parameter("kmeans_step centroids must be a k × d array of finite numbers")
                            .with_hint("e.g. (SELECT centroids FROM kmeans_models WHERE name = 'm') or ARRAY[[0,0],[5,5]]"),
                    );
                }
                new_varlena(&step::new_state(&values, shape[0], shape[1]))
            }
        };
        let Some(features) = arg_datum(fcinfo, 1) else {
            return RawDatum(pg_sys::Datum::from(v));
        };
        let state = payload(v);
        let (_, d) = step::shape(state).or_raise();
        let mut row: Vec<f64> = Vec::with_capacity(d);
        match read_into(features, &mut row) {
            Elements::Ok(n) if n == d => {}
            other => raise(element_error(other, d)),
        }
        step::add_row(state, &row).or_raise();
        RawDatum(pg_sys::Datum::from(v))
    }
}

/// Combine: sums two partial states of the same centroids.
#[pg_extern(sql = false)]
fn kmeans_step_combine(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let a = state_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0));
        let b = state_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 1));
        let merged = step::merge(a, b).or_raise();
        RawDatum(pg_sys::Datum::from(new_varlena(&merged)))
    }
}

/// A float8[] of `dims` shape.
unsafe fn float8_array(values: &[f64], dims: &[i32]) -> pg_sys::Datum {
    unsafe {
        let mut datums: Vec<pg_sys::Datum> = values.iter().map(|v| pg_sys::Datum::from(v.to_bits())).collect();
        let mut dims = dims.to_vec();
        let mut lbs = vec![1i32; dims.len()];
        let a = pg_sys::construct_md_array(
            datums.as_mut_ptr(),
            std::ptr::null_mut(),
            dims.len() as i32,
            dims.as_mut_ptr(),
            lbs.as_mut_ptr(),
            pg_sys::FLOAT8OID,
            8,
            true,
            b'd' as std::ffi::c_char,
        );
        pg_sys::Datum::from(a)
    }
}

/// Final: the `kmeans_step_result` row of a state.
#[pg_extern(sql = false)]
fn kmeans_step_final(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let r = step::finish(state_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0))).or_raise();
        let mut tupdesc: pg_sys::TupleDesc = std::ptr::null_mut();
        let kind = pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut tupdesc);
        if kind != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || (*tupdesc).natts != 4 {
            raise(Error::new(SqlState::InternalError, "kmeans_step_final must return type kmeans_step_result"));
        }
        let tupdesc = pg_sys::BlessTupleDesc(tupdesc);
        let mut count_datums: Vec<pg_sys::Datum> = r.counts.iter().map(|&c| pg_sys::Datum::from(c)).collect();
        let counts = pg_sys::construct_array(count_datums.as_mut_ptr(), r.k as i32, pg_sys::INT8OID, 8, true, b'd' as std::ffi::c_char);
        let mut values = [
            float8_array(&r.centroids, &[r.k as i32, r.dims as i32]),
            pg_sys::Datum::from(counts),
            pg_sys::Datum::from(r.inertia.to_bits()),
            pg_sys::Datum::from(r.shift.to_bits()),
        ];
        let mut nulls = [false; 4];
        let tuple = pg_sys::heap_form_tuple(tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        RawDatum(pgrx::heap_tuple_get_datum(tuple))
    }
}

pgrx::extension_sql_file!("../../../sql/kmeans_step.sql", name = "kmeans_step", requires = ["kmeans_catalog"]);
