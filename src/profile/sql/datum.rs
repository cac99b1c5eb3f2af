//! Reading a column's Datum as a number, a category's text or a tag list.
//!
//! Fit, profile_vector and segment_personas all read values through [`Reader`],
//! so a value is converted the same way when statistics are fitted and when
//! they are applied: integers and floats exactly, numeric as `numeric::float8`
//! does, text as stored (char(n) without its trailing blanks, like `::text`),
//! booleans as `true`/`false`, anything else through its type's output function.

use crate::profile::spec::ColumnType;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::borrow::Cow;
use std::ffi::CStr;

/// How to read one column type.
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Bool,
    /// text, varchar
    Text,
    /// char(n): trailing blanks are not part of the value
    Bpchar,
    Name,
    /// text[], varchar[]
    TextArray,
    /// Any other type, through its output function.
    Output(pg_sys::Oid),
}

impl Reader {
    /// The reader and the profile's view of a type (domains read as their base type).
    pub fn for_type(type_oid: pg_sys::Oid) -> (ColumnType, Reader) {
        let base = unsafe { pg_sys::getBaseType(type_oid) };
        let reader = match base {
            pg_sys::INT2OID => Reader::Int2,
            pg_sys::INT4OID => Reader::Int4,
            pg_sys::INT8OID => Reader::Int8,
            pg_sys::FLOAT4OID => Reader::Float4,
            pg_sys::FLOAT8OID => Reader::Float8,
            pg_sys::NUMERICOID => Reader::Numeric,
            pg_sys::BOOLOID => Reader::Bool,
            pg_sys::TEXTOID | pg_sys::VARCHAROID => Reader::Text,
            pg_sys::BPCHAROID => Reader::Bpchar,
            pg_sys::NAMEOID => Reader::Name,
            pg_sys::TEXTARRAYOID | pg_sys::VARCHARARRAYOID => Reader::TextArray,
            other => {
                let mut output = pg_sys::InvalidOid;
                let mut is_varlena = false;
                unsafe { pg_sys::getTypeOutputInfo(other, &mut output, &mut is_varlena) };
                Reader::Output(output)
            }
        };
        let column_type = match reader {
            Reader::Int2 | Reader::Int4 | Reader::Int8 | Reader::Float4 | Reader::Float8 | Reader::Numeric => {
                ColumnType::Number
            }
            Reader::Bool => ColumnType::Boolean,
            Reader::Text | Reader::Bpchar | Reader::Name => ColumnType::Text,
            Reader::TextArray => ColumnType::TextArray,
            Reader::Output(_) => ColumnType::Other(type_name(type_oid)),
        };
        (column_type, reader)
    }

    /// A number column's value as f64 (booleans as 0/1).
    ///
    /// # Safety
    /// `datum` must be a non-null value of the type this reader was made for.
    pub unsafe fn number(self, datum: pg_sys::Datum) -> f64 {
        unsafe {
            match self {
                Reader::Int2 => f64::from(datum.value() as i16),
                Reader::Int4 => f64::from(datum.value() as i32),
                Reader::Int8 => datum.value() as i64 as f64,
                Reader::Float4 => f64::from(f32::from_bits(datum.value() as u32)),
                Reader::Float8 => f64::from_bits(datum.value() as u64),
                Reader::Numeric => {
                    let d = pgrx::direct_function_call_as_datum(pg_sys::numeric_float8, &[Some(datum)]);
                    d.map_or(f64::NAN, |d| f64::from_bits(d.value() as u64))
                }
                Reader::Bool => {
                    if datum.value() != 0 {
                        1.0
                    } else {
                        0.0
                    }
                }
                _ => f64::NAN,
            }
        }
    }

    /// A scalar column's value as text (a category).
    ///
    /// # Safety
    /// `datum` must be a non-null value of the type this reader was made for,
    /// alive as long as the returned text.
    pub unsafe fn text<'a>(self, datum: pg_sys::Datum) -> Cow<'a, str> {
        unsafe {
            match self {
                Reader::Text => varlena_str(datum),
                Reader::Bpchar => match varlena_str(datum) {
                    Cow::Borrowed(s) => Cow::Borrowed(s.trim_end_matches(' ')),
                    Cow::Owned(s) => Cow::Owned(s.trim_end_matches(' ').to_string()),
                },
                Reader::Name => CStr::from_ptr(datum.cast_mut_ptr::<std::ffi::c_char>()).to_string_lossy(),
                Reader::Bool => Cow::Borrowed(if datum.value() != 0 { "true" } else { "false" }),
                Reader::Int2 => Cow::Owned((datum.value() as i16).to_string()),
                Reader::Int4 => Cow::Owned((datum.value() as i32).to_string()),
                Reader::Int8 => Cow::Owned((datum.value() as i64).to_string()),
                Reader::Float4 => output(pg_sys::Oid::from(pg_sys::F_FLOAT4OUT), datum),
                Reader::Float8 => output(pg_sys::Oid::from(pg_sys::F_FLOAT8OUT), datum),
                Reader::Numeric => output(pg_sys::Oid::from(pg_sys::F_NUMERIC_OUT), datum),
                Reader::TextArray => output(pg_sys::Oid::from(pg_sys::F_ARRAY_OUT), datum),
                Reader::Output(function) => output(function, datum),
            }
        }
    }

    /// A text[] column's elements (NULL elements as None) passed to `each`.
    ///
    /// # Safety
    /// `datum` must be a non-null text[] or varchar[] value.
    pub unsafe fn each_tag(self, datum: pg_sys::Datum, each: &mut dyn FnMut(&mut dyn Iterator<Item = Option<&str>>)) {
        unsafe {
            let array = Array::<&str>::from_polymorphic_datum(datum, false, pg_sys::TEXTARRAYOID);
            match array {
                Some(array) => each(&mut array.iter()),
                None => each(&mut std::iter::empty()),
            }
        }
    }
}

/// A text-like varlena as &str (lossy when not UTF-8).
unsafe fn varlena_str<'a>(datum: pg_sys::Datum) -> Cow<'a, str> {
    unsafe {
        let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        let bytes = pgrx::varlena::varlena_to_byte_slice(v);
        String::from_utf8_lossy(bytes)
    }
}

unsafe fn output<'a>(function: pg_sys::Oid, datum: pg_sys::Datum) -> Cow<'a, str> {
    unsafe {
        let text = pg_sys::OidOutputFunctionCall(function, datum);
        Cow::Owned(CStr::from_ptr(text).to_string_lossy().into_owned())
    }
}

/// `format_type_be`: the SQL name of a type, e.g. `timestamp with time zone`.
pub fn type_name(type_oid: pg_sys::Oid) -> String {
    unsafe { CStr::from_ptr(pg_sys::format_type_be(type_oid)).to_string_lossy().into_owned() }
}
