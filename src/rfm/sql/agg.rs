//! `rfm_agg(occurred_at, amount [, as_of])`: one customer's orders → `rfm`.
//!
//! The SQL objects (type `rfm`, the support functions, the 16 aggregate
//! signatures) are declared in `sql/rfm_agg.sql`. One transition function
//! serves every signature: it reads the argument types from the call
//! expression once per call site (`fn_extra`).
//!
//! NULL policy: a NULL occurred_at skips the row; a NULL amount counts the order
//! without money; NULL as_of → 22004; orders after as_of are ignored; infinite
//! timestamps and NaN / infinite amounts → 22023.

use super::datum::{self, RawDatum};
use crate::error::sql::{raise, OrRaise};
use crate::error::{Error, SqlState};
use crate::rfm::state::{self, Applied};
use crate::rfm::summary::{self, different_as_of, Rfm, Summary};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Spare days a new state gets (most customers buy on a few days).
const SPARE_DAYS: usize = 8;

/// What one call site learns from its argument types.
#[derive(Clone, Copy)]
struct CallSite {
    naive: bool,
    amount_type: pg_sys::Oid,
}

unsafe fn call_site(fcinfo: pg_sys::FunctionCallInfo) -> CallSite {
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        if (*flinfo).fn_extra.is_null() {
            let site = CallSite {
                naive: pg_sys::get_fn_expr_argtype(flinfo, 1) == pg_sys::TIMESTAMPOID,
                amount_type: pg_sys::get_fn_expr_argtype(flinfo, 2),
            };
            let slot = pg_sys::MemoryContextAlloc((*flinfo).fn_mcxt, std::mem::size_of::<CallSite>()) as *mut CallSite;
            slot.write(site);
            (*flinfo).fn_extra = slot.cast();
        }
        *((*flinfo).fn_extra as *const CallSite)
    }
}

/// The point in time: the as_of argument, or the transaction's start (now() /
/// localtimestamp) in the two-argument forms.
unsafe fn as_of(fcinfo: pg_sys::FunctionCallInfo, naive: bool) -> i64 {
    unsafe {
        if (*fcinfo).nargs >= 4 {
            if pgrx::pg_arg_is_null(fcinfo, 3) {
                raise(
                    Error::null_not_allowed("as_of")
                        .with_hint("pass the point in time the summary describes, e.g. now() or '2025-01-01'"),
                );
            }
            let at = pgrx::pg_getarg_datum_raw(fcinfo, 3).value() as i64;
            datum::check_finite(at, "as_of");
            at
        } else {
            let now = pg_sys::GetCurrentTransactionStartTimestamp();
            if naive {
                datum::to_naive(now)
            } else {
                now
            }
        }
    }
}

fn day_of(at: i64, naive: bool) -> i32 {
    if naive {
        summary::naive_day(at)
    } else {
        datum::local_day(at)
    }
}

/// Transition: adds one order, in place when the aggregate owns the state.
#[pg_extern(sql = false)]
fn rfm_agg_step(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let site = call_site(fcinfo);
        let as_of = as_of(fcinfo, site.naive);
        let mut v = if pgrx::pg_arg_is_null(fcinfo, 0) {
            let fresh = state::encode(&Summary::new(as_of, day_of(as_of, site.naive), site.naive), SPARE_DAYS);
            datum::new_varlena(&fresh, fresh.len())
        } else {
            datum::owned_state(fcinfo)
        };
        if state::as_of(datum::payload(v)).or_raise() != as_of {
            raise(different_as_of());
        }
        if pgrx::pg_arg_is_null(fcinfo, 1) {
            return RawDatum(pg_sys::Datum::from(v));
        }
        let at = pgrx::pg_getarg_datum_raw(fcinfo, 1).value() as i64;
        datum::check_finite(at, "occurred_at");
        if at > as_of {
            return RawDatum(pg_sys::Datum::from(v));
        }
        let day = day_of(at, site.naive);
        let amount = if pgrx::pg_arg_is_null(fcinfo, 2) {
            None
        } else {
            Some(datum::amount(pgrx::pg_getarg_datum_raw(fcinfo, 2), site.amount_type))
        };
        if let Applied::NeedsRoom(needed) = state::add(datum::payload(v), at, day, amount).or_raise() {
            // grow into a new copy (PostgreSQL copies it into the aggregate's context and frees the old one)
            let current = datum::payload(v);
            let used = state::used(current).or_raise();
            v = datum::new_varlena(&current[..used], needed.max(2 * current.len()));
            state::add(datum::payload(v), at, day, amount).or_raise();
        }
        RawDatum(pg_sys::Datum::from(v))
    }
}

/// Combine: merges two partial states (from parallel workers).
#[pg_extern(sql = false)]
fn rfm_agg_combine(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let a = state::decode(datum::varlena_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0))).or_raise();
        let b = state::decode(datum::varlena_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 1))).or_raise();
        let merged = state::encode(&a.merge(&b).or_raise(), SPARE_DAYS);
        RawDatum(pg_sys::Datum::from(datum::new_varlena(&merged, merged.len())))
    }
}

/// The 11 attributes of type `rfm`, in order (None: NULL).
pub fn rfm_values(r: &Rfm, naive: bool) -> [Option<pg_sys::Datum>; 11] {
    rfm_values_with(r, naive, &mut |_, d| datum::numeric_datum(d))
}

/// [`rfm_values`] with the two numerics (monetary, avg_order_value: slots 0 and 1) made by `numeric`.
pub fn rfm_values_with(
    r: &Rfm,
    naive: bool,
    numeric: &mut dyn FnMut(usize, crate::rfm::amount::Decimal) -> pg_sys::Datum,
) -> [Option<pg_sys::Datum>; 11] {
    let ts = |t: Option<i64>| t.map(|t| pg_sys::Datum::from(if naive { datum::naive_to_tz(t) } else { t }));
    let float8 = |x: Option<f64>| x.map(|x| pg_sys::Datum::from(x.to_bits()));
    [
        ts(r.first_order_at),
        ts(r.last_order_at),
        float8(r.recency_days),
        Some(pg_sys::Datum::from(r.frequency)),
        r.monetary.map(|d| numeric(0, d)),
        r.avg_order_value.map(|d| numeric(1, d)),
        float8(r.tenure_days),
        r.btyd_frequency.map(pg_sys::Datum::from),
        float8(r.btyd_recency),
        float8(r.btyd_t),
        float8(r.btyd_monetary_value),
    ]
}

/// Forms a row of the function's composite result type from `values`.
pub unsafe fn composite(fcinfo: pg_sys::FunctionCallInfo, values: &[Option<pg_sys::Datum>]) -> pg_sys::Datum {
    unsafe {
        let mut tupdesc: pg_sys::TupleDesc = std::ptr::null_mut();
        let kind = pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut tupdesc);
        if kind != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || (*tupdesc).natts as usize != values.len() {
            raise(Error::new(SqlState::InternalError, "rfm_agg_final must return type rfm"));
        }
        let tupdesc = pg_sys::BlessTupleDesc(tupdesc);
        let mut datums: Vec<pg_sys::Datum> = values.iter().map(|v| v.unwrap_or(pg_sys::Datum::from(0usize))).collect();
        let mut nulls: Vec<bool> = values.iter().map(Option::is_none).collect();
        let tuple = pg_sys::heap_form_tuple(tupdesc, datums.as_mut_ptr(), nulls.as_mut_ptr());
        pgrx::heap_tuple_get_datum(tuple)
    }
}

/// Final: the `rfm` row of a state.
#[pg_extern(sql = false)]
fn rfm_agg_final(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let s = state::decode(datum::varlena_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0))).or_raise();
        let values = rfm_values(&s.finish(), s.totals.naive);
        RawDatum(composite(fcinfo, &values))
    }
}

pgrx::extension_sql_file!("../../../sql/rfm_agg.sql", name = "rfm_agg");
