//! Datum helpers of the RFM bindings: raw varlenas, numerics, local days.

use crate::error::sql::raise;
use crate::error::Error;
use crate::rfm::amount::Decimal;
use crate::rfm::summary::USEC_PER_DAY;
use pgrx::pg_sys;
use std::cell::RefCell;

/// A Datum returned as is. The SQL declarations are hand-written (`sql = false`);
/// the mapping below only satisfies pgrx's metadata.
pub struct RawDatum(pub pg_sys::Datum);

unsafe impl pgrx::callconv::BoxRet for RawDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}
pgrx::impl_sql_translatable!(RawDatum, "bytea");

/// A new 4-byte-header varlena in the current memory context: `payload`, then zeros up to `capacity`.
pub unsafe fn new_varlena(payload: &[u8], capacity: usize) -> *mut pg_sys::varlena {
    unsafe {
        let capacity = capacity.max(payload.len());
        let v = pg_sys::palloc0(pg_sys::VARHDRSZ + capacity) as *mut pg_sys::varlena;
        pgrx::set_varsize_4b(v, (pg_sys::VARHDRSZ + capacity) as i32);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), (v as *mut u8).add(pg_sys::VARHDRSZ), payload.len());
        v
    }
}

/// The payload of a 4-byte-header varlena, spare room included.
pub unsafe fn payload<'a>(v: *mut pg_sys::varlena) -> &'a mut [u8] {
    unsafe {
        let len = pgrx::varsize_4b(v) - pg_sys::VARHDRSZ;
        std::slice::from_raw_parts_mut((v as *mut u8).add(pg_sys::VARHDRSZ), len)
    }
}

/// A varlena datum's bytes, read-only, whatever its header (detoasted if needed).
/// Plain in-line values (the common case: a short numeric or text from a heap
/// row) are read in place, without a call into PostgreSQL.
#[inline]
pub unsafe fn varlena_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    unsafe {
        let p = datum.cast_mut_ptr::<u8>();
        let first = *p;
        if first & 0x01 == 0x01 && first != 0x01 {
            // 1-byte header (little-endian layout): length in the upper 7 bits
            let len = (first >> 1) as usize;
            return std::slice::from_raw_parts(p.add(1), len - 1);
        }
        if first & 0x03 == 0x00 {
            // 4-byte header, not compressed
            let len = (u32::from_ne_bytes([first, *p.add(1), *p.add(2), *p.add(3)]) >> 2) as usize;
            return std::slice::from_raw_parts(p.add(4), len - 4);
        }
        pgrx::varlena_to_byte_slice(pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr()))
    }
}

/// The state argument `n` as a varlena the transition function may update in
/// place: the given one when the aggregate owns it and it has a plain 4-byte
/// header, else a fresh copy.
pub unsafe fn owned_state(fcinfo: pg_sys::FunctionCallInfo) -> *mut pg_sys::varlena {
    unsafe {
        let mut aggcontext = std::ptr::null_mut();
        let owned = pg_sys::AggCheckCallContext(fcinfo, &mut aggcontext) == pg_sys::AGG_CONTEXT_AGGREGATE as i32;
        let given = pgrx::pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<pg_sys::varlena>();
        if owned && pgrx::varatt_is_4b_u(given) {
            given
        } else {
            let bytes = varlena_bytes(pg_sys::Datum::from(given));
            new_varlena(bytes, bytes.len())
        }
    }
}

/// A `numeric` datum (palloc'd) of a decimal, built directly in numeric's on-disk form.
pub fn numeric_datum(d: Decimal) -> pg_sys::Datum {
    let bytes = d.to_numeric_bytes();
    unsafe { pg_sys::Datum::from(new_varlena(&bytes, bytes.len())) }
}

/// Room for a numeric varlena of any [`Decimal`], int-aligned as numerics are.
pub type NumericBuffer = [u32; (pg_sys::VARHDRSZ + crate::rfm::amount::NUMERIC_MAX_BYTES).div_ceil(4)];

/// A `numeric` datum of [`Decimal::numeric_bytes`] written into `buffer` (no
/// palloc): valid while the buffer is, e.g. for one `tuplestore_putvalues`,
/// which copies it.
pub fn numeric_datum_in(buffer: &mut NumericBuffer, bytes: &[u8]) -> pg_sys::Datum {
    assert!(bytes.len() <= crate::rfm::amount::NUMERIC_MAX_BYTES);
    unsafe {
        let v = buffer.as_mut_ptr() as *mut u8;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.add(pg_sys::VARHDRSZ), bytes.len());
        pgrx::set_varsize_4b(v as *mut pg_sys::varlena, (pg_sys::VARHDRSZ + bytes.len()) as i32);
        pg_sys::Datum::from(v)
    }
}

/// The amount in a datum of type `type_oid` (numeric, float8/4, int8/4/2).
pub unsafe fn amount(datum: pg_sys::Datum, type_oid: pg_sys::Oid) -> Decimal {
    let result = unsafe {
        match type_oid {
            pg_sys::NUMERICOID => Decimal::from_numeric_bytes(varlena_bytes(datum)),
            pg_sys::FLOAT8OID => Decimal::from_f64(f64::from_bits(datum.value() as u64)),
            pg_sys::FLOAT4OID => Decimal::from_f64(f64::from(f32::from_bits(datum.value() as u32))),
            pg_sys::INT8OID => Ok(Decimal::from_int(datum.value() as i64)),
            pg_sys::INT4OID => Ok(Decimal::from_int(i64::from(datum.value() as i32))),
            pg_sys::INT2OID => Ok(Decimal::from_int(i64::from(datum.value() as i16))),
            other => Err(Error::new(
                crate::error::SqlState::DatatypeMismatch,
                format!("amounts of type {} are not supported", type_name(other)),
            )
            .with_hint("cast the amount to numeric")),
        }
    };
    result.unwrap_or_else(|e| raise(e))
}

pub fn type_name(oid: pg_sys::Oid) -> String {
    unsafe {
        let name = pg_sys::format_type_be(oid);
        std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

/// 22023 for ±infinity timestamps.
pub fn check_finite(ts: i64, what: &str) {
    if ts == i64::MIN || ts == i64::MAX {
        let hint = if what == "as_of" {
            "pass a finite point in time, e.g. now() or '2025-01-01'"
        } else {
            "filter out infinite timestamps, e.g. WHERE isfinite(ordered_at)"
        };
        raise(Error::invalid_parameter(format!("{what} must be a finite timestamp")).with_hint(hint));
    }
}

const BUCKET: i64 = 3_600_000_000; // an hour: offsets are cached per UTC hour
const SLOTS: usize = 1 << 16; // 7 years of hours before two share a slot

/// UTC offsets of the session TimeZone per UTC hour, cached only when the
/// offset is the same at both ends of the hour (so the hour of a DST switch,
/// at whatever minute, is computed per timestamp, exactly).
pub struct OffsetCache {
    zone: *const pg_sys::pg_tz,
    /// the offset of a zone that has only one (UTC, Etc/GMT+5, ...): no lookup at all
    fixed: Option<i64>,
    /// (hour, offset in µs to add to UTC) per slot; hour i64::MIN = empty
    slots: Vec<(i64, i64)>,
}

impl Default for OffsetCache {
    fn default() -> Self {
        OffsetCache::new()
    }
}

impl OffsetCache {
    pub fn new() -> OffsetCache {
        OffsetCache { zone: std::ptr::null(), fixed: None, slots: Vec::new() }
    }

    /// The offset (µs to add to UTC) at a finite timestamptz.
    pub fn offset(&mut self, ts: i64) -> i64 {
        let zone = unsafe { pg_sys::session_timezone } as *const pg_sys::pg_tz;
        if self.zone != zone || (self.fixed.is_none() && self.slots.is_empty()) {
            self.zone = zone;
            let mut gmtoff: std::ffi::c_long = 0;
            // seconds east of UTC, as timestamp2tm's offset of every timestamp in such a zone
            self.fixed = unsafe { pg_sys::pg_get_timezone_offset(zone, &mut gmtoff) }.then(|| i64::from(gmtoff) * 1_000_000);
            self.slots = if self.fixed.is_some() { Vec::new() } else { vec![(i64::MIN, 0); SLOTS] };
        }
        if let Some(fixed) = self.fixed {
            return fixed;
        }
        let bucket = ts.div_euclid(BUCKET);
        let slot = (bucket as u64 as usize) & (SLOTS - 1);
        let (key, offset) = self.slots[slot];
        if key == bucket {
            return offset;
        }
        let start = bucket.saturating_mul(BUCKET);
        let (a, b) = (offset_at(start), offset_at(start.saturating_add(BUCKET - 1)));
        if a == b {
            self.slots[slot] = (bucket, a);
            a
        } else {
            offset_at(ts)
        }
    }

    /// The local calendar day (days since 2000-01-01) of a finite timestamptz.
    pub fn day(&mut self, ts: i64) -> i32 {
        (ts + self.offset(ts)).div_euclid(USEC_PER_DAY) as i32
    }
}

thread_local! {
    static OFFSETS: RefCell<OffsetCache> = RefCell::new(OffsetCache::new());
}

/// The session TimeZone's UTC offset (µs to add) at a finite timestamptz.
fn offset_at(ts: i64) -> i64 {
    unsafe {
        let mut tm: pg_sys::pg_tm = std::mem::zeroed();
        let mut fsec: pg_sys::fsec_t = 0;
        let mut tz: std::ffi::c_int = 0;
        if pg_sys::timestamp2tm(ts, &mut tz, &mut tm, &mut fsec, std::ptr::null_mut(), std::ptr::null_mut()) != 0 {
            raise(Error::invalid_parameter("timestamp out of range").with_hint("pass timestamps between 4713 BC and 294276 AD"));
        }
        -i64::from(tz) * 1_000_000
    }
}

/// The local calendar day (days since 2000-01-01 in the session TimeZone) of a
/// finite timestamptz, through the backend's [`OffsetCache`].
pub fn local_day(ts: i64) -> i32 {
    OFFSETS.with(|cache| cache.borrow_mut().day(ts))
}

pub fn local_offset(ts: i64) -> i64 {
    OFFSETS.with(|cache| cache.borrow_mut().offset(ts))
}

/// `localtimestamp` of a timestamptz: the session's wall-clock time.
pub fn to_naive(ts: i64) -> i64 {
    ts + local_offset(ts)
}

/// A timestamp without time zone read as the session's wall-clock time (as the cast does).
pub fn naive_to_tz(ts: i64) -> i64 {
    unsafe {
        let mut overflow: std::ffi::c_int = 0;
        pg_sys::timestamp2timestamptz_opt_overflow(ts, &mut overflow)
    }
}
