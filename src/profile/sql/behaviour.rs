//! `behaviour_agg(occurred_at, event_type, category, channel, as_of)`.
//!
//! The SQL objects (type `behaviour`, the three support functions, the
//! aggregate) are declared in `sql/profile_behaviour.sql`; the functions here
//! take the raw `fcinfo` because the transition updates its bytea state in place.
//!
//! NULL policy: NULL as_of → 22004; an infinite as_of or occurred_at → 22023;
//! a NULL occurred_at skips the row; NULL event_type, category or channel leave
//! that part out (the event still counts). Days and hours are local to the
//! session TimeZone; windows are 24-hour multiples ending at as_of.

use crate::error::sql::{raise, OrRaise};
use crate::error::{Error, SqlState};
use crate::profile::behaviour::features::{features, Behaviour};
use crate::profile::behaviour::state::{self, Applied, Event};
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};
use std::borrow::Cow;

/// Spare bytes a new state gets for the days, types, categories and channels to come.
const SPARE: usize = 256;

/// A Datum returned as is. The SQL declarations are hand-written (`sql = false`);
/// the mapping below only satisfies pgrx's metadata.
pub struct RawDatum(pg_sys::Datum);

unsafe impl pgrx::callconv::BoxRet for RawDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}
pgrx::impl_sql_translatable!(RawDatum, "bytea");

/// A new 4-byte-header varlena in the current memory context: `payload`, then zeros up to `capacity`.
unsafe fn new_varlena(payload: &[u8], capacity: usize) -> *mut pg_sys::varlena {
    unsafe {
        let capacity = capacity.max(payload.len());
        let v = pg_sys::palloc0(pg_sys::VARHDRSZ + capacity) as *mut pg_sys::varlena;
        pgrx::set_varsize_4b(v, (pg_sys::VARHDRSZ + capacity) as i32);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), (v as *mut u8).add(pg_sys::VARHDRSZ), payload.len());
        v
    }
}

/// The payload of a 4-byte-header varlena, spare room included.
unsafe fn payload<'a>(v: *mut pg_sys::varlena) -> &'a mut [u8] {
    unsafe {
        let len = pgrx::varsize_4b(v) - pg_sys::VARHDRSZ;
        std::slice::from_raw_parts_mut((v as *mut u8).add(pg_sys::VARHDRSZ), len)
    }
}

/// A state argument's bytes, read-only, whatever its header.
unsafe fn state_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    unsafe { pgrx::varlena_to_byte_slice(pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr())) }
}

/// The local date (days since 2000-01-01) and hour of a timestamptz, in the session TimeZone.
fn local_day_hour(ts: i64, what: &str) -> (i32, u8) {
    unsafe {
        let mut tm: pg_sys::pg_tm = std::mem::zeroed();
        let mut fsec: pg_sys::fsec_t = 0;
        let mut tz: std::ffi::c_int = 0;
        if ts == i64::MIN
            || ts == i64::MAX
            || pg_sys::timestamp2tm(ts, &mut tz, &mut tm, &mut fsec, std::ptr::null_mut(), std::ptr::null_mut()) != 0
        {
            let hint = if what == "as_of" {
                "pass a finite point in time, e.g. now() or '2025-01-01'"
            } else {
                "filter out infinite timestamps, e.g. WHERE isfinite(occurred_at)"
            };
            raise(Error::invalid_parameter(format!("behaviour_agg needs a finite {what}")).with_hint(hint));
        }
        let day = pg_sys::date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - pg_sys::POSTGRES_EPOCH_JDATE as i32;
        (day, tm.tm_hour.clamp(0, 23) as u8)
    }
}

unsafe fn text_arg<'a>(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Option<Cow<'a, str>> {
    unsafe {
        if pgrx::pg_arg_is_null(fcinfo, n) {
            return None;
        }
        let v = pg_sys::pg_detoast_datum_packed(pgrx::pg_getarg_datum_raw(fcinfo, n).cast_mut_ptr());
        Some(String::from_utf8_lossy(pgrx::varlena_to_byte_slice(v)))
    }
}

/// Transition: adds one event, in place when PostgreSQL's aggregate owns the state.
#[pg_extern(sql = false)]
fn behaviour_agg_step(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        if pgrx::pg_arg_is_null(fcinfo, 5) {
            raise(
                Error::null_not_allowed("as_of")
                    .with_hint("pass the point in time the features describe, e.g. now() or '2025-01-01'"),
            );
        }
        let as_of = pgrx::pg_getarg_datum_raw(fcinfo, 5).value() as i64;
        let mut aggcontext = std::ptr::null_mut();
        let owned = pg_sys::AggCheckCallContext(fcinfo, &mut aggcontext) == pg_sys::AGG_CONTEXT_AGGREGATE as i32;
        let mut v = if pgrx::pg_arg_is_null(fcinfo, 0) {
            let (day, _) = local_day_hour(as_of, "as_of");
            let fresh = state::new_state(as_of, day, SPARE);
            new_varlena(&fresh, fresh.len())
        } else {
            let given = pgrx::pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<pg_sys::varlena>();
            if owned && pgrx::varatt_is_4b_u(given) {
                given
            } else {
                let bytes = state_bytes(pg_sys::Datum::from(given));
                new_varlena(bytes, bytes.len())
            }
        };
        if state::as_of(payload(v)).or_raise() != as_of {
            raise(state::different_as_of());
        }
        if pgrx::pg_arg_is_null(fcinfo, 1) {
            return RawDatum(pg_sys::Datum::from(v));
        }
        let at = pgrx::pg_getarg_datum_raw(fcinfo, 1).value() as i64;
        let (day, hour) = local_day_hour(at, "occurred_at");
        let (event_type, category, channel) = (text_arg(fcinfo, 2), text_arg(fcinfo, 3), text_arg(fcinfo, 4));
        let event = Event {
            at,
            day,
            hour,
            event_type: event_type.as_deref(),
            category: category.as_deref(),
            channel: channel.as_deref(),
        };
        if let Applied::NeedsRoom(needed) = state::apply(payload(v), &event).or_raise() {
            // grow into a new copy (PostgreSQL copies it into the aggregate's context and frees the old one)
            let current = payload(v);
            let used = state::used(current).or_raise();
            v = new_varlena(&current[..used], needed.max(2 * current.len()));
            state::apply(payload(v), &event).or_raise();
        }
        RawDatum(pg_sys::Datum::from(v))
    }
}

/// Combine: merges two partial states (from parallel workers).
#[pg_extern(sql = false)]
fn behaviour_agg_combine(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let a = state::decode(state_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0))).or_raise();
        let b = state::decode(state_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 1))).or_raise();
        let merged = state::encode(&state::merge(a, b).or_raise(), SPARE).or_raise();
        RawDatum(pg_sys::Datum::from(new_varlena(&merged, merged.len())))
    }
}

fn text_datum(s: &str) -> pg_sys::Datum {
    unsafe { pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(s.as_ptr().cast(), s.len() as i32)) }
}

/// The 26 attributes of type `behaviour`, in order (None: NULL).
fn behaviour_values(b: &Behaviour) -> [Option<pg_sys::Datum>; 26] {
    let int8 = |n: i64| Some(pg_sys::Datum::from(n));
    let float8 = |x: Option<f64>| x.map(|x| pg_sys::Datum::from(x.to_bits()));
    let int4 = |n: Option<i32>| n.map(pg_sys::Datum::from);
    let ts = |t: Option<i64>| t.map(pg_sys::Datum::from);
    let [events, events_7d, events_30d, events_90d] = b.events;
    let [orders, orders_7d, orders_30d, orders_90d] = b.orders;
    let [visits, visits_7d, visits_30d, visits_90d] = b.visits;
    [
        ts(Some(b.as_of)),
        int8(events),
        int8(events_7d),
        int8(events_30d),
        int8(events_90d),
        int8(orders),
        int8(orders_7d),
        int8(orders_30d),
        int8(orders_90d),
        int8(visits),
        int8(visits_7d),
        int8(visits_30d),
        int8(visits_90d),
        float8(b.conversion),
        float8(b.conversion_90d),
        int4(Some(b.active_days)),
        int4(Some(b.active_days_30d)),
        ts(b.first_event_at),
        ts(b.last_event_at),
        int4(b.days_since_last),
        b.favourite_category.as_deref().map(text_datum),
        float8(b.favourite_share),
        int4(b.peak_hour),
        b.top_channel.as_deref().map(text_datum),
        b.channel_mix.clone().and_then(|m| JsonB(m).into_datum()),
        JsonB(b.event_counts.clone()).into_datum(),
    ]
}

/// Final: the `behaviour` row of a state.
#[pg_extern(sql = false)]
fn behaviour_agg_final(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        let decoded = state::decode(state_bytes(pgrx::pg_getarg_datum_raw(fcinfo, 0))).or_raise();
        let values = behaviour_values(&features(&decoded));
        let mut tupdesc: pg_sys::TupleDesc = std::ptr::null_mut();
        let kind = pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut tupdesc);
        if kind != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || (*tupdesc).natts as usize != values.len() {
            raise(Error::new(SqlState::InternalError, "behaviour_agg_final must return type behaviour"));
        }
        let tupdesc = pg_sys::BlessTupleDesc(tupdesc);
        let mut datums: Vec<pg_sys::Datum> = values.iter().map(|v| v.unwrap_or(pg_sys::Datum::from(0usize))).collect();
        let mut nulls: Vec<bool> = values.iter().map(Option::is_none).collect();
        let tuple = pg_sys::heap_form_tuple(tupdesc, datums.as_mut_ptr(), nulls.as_mut_ptr());
        RawDatum(pgrx::heap_tuple_get_datum(tuple))
    }
}

pgrx::extension_sql_file!("../../../sql/profile_behaviour.sql", name = "profile_behaviour");
