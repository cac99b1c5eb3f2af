//! Reading `real[]` / `float8[]` Datums without building pgrx arrays: the
//! elements are read straight from the (possibly short-header) varlena.

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::pg_sys;

/// What a feature array held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Elements {
    /// All elements finite; this many were appended.
    Ok(usize),
    /// A NULL element at this 1-based position.
    Null(usize),
    /// A NaN or ±Infinity at this 1-based position.
    NotFinite(usize, f64),
    /// More than one dimension.
    MultiDim(usize),
    /// Not float4 / float8 elements.
    WrongType(pg_sys::Oid),
}

/// Appends the elements of a `real[]` / `float8[]` Datum to `out` (as f32 when
/// `out` is f32, f64 otherwise). On anything but `Ok`, `out` may hold a partial row.
///
/// # Safety
/// `datum` must be a live array Datum.
pub unsafe fn read_into<T: FromF64>(datum: pg_sys::Datum, out: &mut Vec<T>) -> Elements {
    unsafe { read_shaped(datum, out, false, &mut Vec::new()) }
}

/// [`read_into`] that also accepts more dimensions when `multi` (the lengths go to `shape`).
///
/// # Safety
/// `datum` must be a live array Datum.
pub unsafe fn read_shaped<T: FromF64>(datum: pg_sys::Datum, out: &mut Vec<T>, multi: bool, shape: &mut Vec<usize>) -> Elements {
    unsafe { with_payload(datum, |bytes| read_payload(bytes, out, multi, shape)) }
}

/// Calls `f` with the bytes of an array Datum after its varlena header. An
/// inline, uncompressed value (the usual feature vector) is read in place;
/// only toasted or compressed ones are copied out (PostgreSQL), and freed after.
///
/// # Safety
/// `datum` must be a live varlena Datum.
pub unsafe fn with_payload<R>(datum: pg_sys::Datum, f: impl FnOnce(&[u8]) -> R) -> R {
    unsafe {
        let raw = datum.cast_mut_ptr::<pg_sys::varlena>();
        if pgrx::varlena::varatt_is_1b_e(raw) || pgrx::varlena::varatt_is_4b_c(raw) {
            let v = pg_sys::pg_detoast_datum_packed(raw);
            let got = f(pgrx::varlena_to_byte_slice(v));
            if v != raw {
                pg_sys::pfree(v.cast());
            }
            got
        } else {
            f(pgrx::varlena_to_byte_slice(raw))
        }
    }
}

/// [`read_into`] on the bytes [`with_payload`] gives: needs no PostgreSQL, so
/// any thread may call it.
pub fn read_flat_payload<T: FromF64>(bytes: &[u8], out: &mut Vec<T>) -> Elements {
    read_payload(bytes, out, false, &mut Vec::new())
}

/// [`read_shaped`] on the bytes after the varlena header.
fn read_payload<T: FromF64>(bytes: &[u8], out: &mut Vec<T>, multi: bool, shape: &mut Vec<usize>) -> Elements {
    {
        let word = |at: usize| i32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let ndim = word(0) as usize;
        let dataoffset = word(4) as usize;
        let elemtype = pg_sys::Oid::from(word(8) as u32);
        if ndim == 0 {
            return Elements::Ok(0);
        }
        if ndim > 1 && !multi {
            return Elements::MultiDim(ndim);
        }
        // (a flat array's length is read without filling `shape`: no allocation per row)
        let count: usize = if multi {
            shape.clear();
            shape.extend((0..ndim).map(|i| word(12 + 4 * i) as usize));
            shape.iter().product()
        } else {
            word(12) as usize
        };
        let width = if elemtype == pg_sys::FLOAT4OID {
            4
        } else if elemtype == pg_sys::FLOAT8OID {
            8
        } else {
            return Elements::WrongType(elemtype);
        };
        // offsets in the payload (after the 4-byte header the layout assumes)
        let mut data = if dataoffset != 0 { dataoffset - 4 } else { ((16 + 8 * ndim + 7) & !7) - 4 };
        let bitmap = (dataoffset != 0).then_some(12 + 8 * ndim);
        if bitmap.is_none() && width == 4 {
            // the common case (no NULL bitmap, real[]): one bounds check, no per-element branches but the finiteness test
            let from = out.len();
            out.extend(bytes[data..data + 4 * count].chunks_exact(4).map(|b| T::from_f32(f32::from_ne_bytes(b.try_into().unwrap()))));
            // checked after the (vectorised) copy, without an early exit so the check vectorises too:
            // finite values are the rule
            if out[from..].iter().fold(true, |all, x| all & x.is_finite()) {
                return Elements::Ok(count);
            }
            let at = out[from..].iter().position(|x| !x.is_finite()).expect("one is not finite");
            let x = out[from + at].to_f64();
            out.truncate(from + at);
            return Elements::NotFinite(at + 1, x);
        }
        for i in 0..count {
            if let Some(b) = bitmap {
                if bytes[b + i / 8] & (1 << (i % 8)) == 0 {
                    return Elements::Null(i + 1);
                }
            }
            let x = if width == 4 {
                f64::from(f32::from_ne_bytes(bytes[data..data + 4].try_into().unwrap()))
            } else {
                f64::from_ne_bytes(bytes[data..data + 8].try_into().unwrap())
            };
            data += width;
            if !x.is_finite() {
                return Elements::NotFinite(i + 1, x);
            }
            out.push(T::from_f64(x));
        }
        Elements::Ok(count)
    }
}

/// A non-finite value as PostgreSQL prints it.
pub fn pg_float(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

pub trait FromF64: Copy {
    fn from_f64(x: f64) -> Self;
    fn from_f32(x: f32) -> Self;
    fn to_f64(self) -> f64;
    fn is_finite(self) -> bool {
        self.to_f64().is_finite()
    }
}
impl FromF64 for f32 {
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    fn from_f32(x: f32) -> f32 {
        x
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}
impl FromF64 for f64 {
    fn from_f64(x: f64) -> f64 {
        x
    }
    fn from_f32(x: f32) -> f64 {
        f64::from(x)
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// A `real[]` argument read through `fcinfo` (see [`read_into`]); the marker
/// only gives the SQL signature its type.
pub struct RealArrayArg;
/// A `double precision[]` argument, likewise.
pub struct DoubleArrayArg;

unsafe impl<'fcx> ArgAbi<'fcx> for RealArrayArg {
    unsafe fn unbox_arg_unchecked(_arg: Arg<'_, 'fcx>) -> Self {
        RealArrayArg
    }
}
unsafe impl<'fcx> ArgAbi<'fcx> for DoubleArrayArg {
    unsafe fn unbox_arg_unchecked(_arg: Arg<'_, 'fcx>) -> Self {
        DoubleArrayArg
    }
}
pgrx::impl_sql_translatable!(RealArrayArg, "real[]");
pgrx::impl_sql_translatable!(DoubleArrayArg, "double precision[]");

/// The raw Datum of argument `n`, None when NULL.
///
/// # Safety
/// `fcinfo` must be the current call's and have at least n + 1 arguments.
pub unsafe fn arg_datum(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Option<pg_sys::Datum> {
    unsafe { (!pgrx::pg_arg_is_null(fcinfo, n)).then(|| pgrx::pg_getarg_datum_raw(fcinfo, n)) }
}
