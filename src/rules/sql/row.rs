//! A customer row → the attribute values a program reads.
//!
//! [`Binding`] resolves each attribute slot to a column number and a reader
//! once per row type (checking the column's type against the ruleset's), then
//! reads row after row straight from the deformed tuple: text borrows the
//! row's bytes, numbers and dates are copied, nothing goes through JSON.

use super::env::interval_of;
use crate::error::{Error, Result, SqlState};
use crate::rules::value::{Type, Value};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::borrow::Cow;
use std::ffi::CStr;

#[derive(Debug, Clone, Copy)]
pub enum Reader {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Bpchar,
    Name,
    Date,
    Ts,
    Interval,
    TextArray,
}

/// The reader of a column type and the rule type it reads as (None: unreadable).
pub fn reader(type_oid: pg_sys::Oid) -> Option<(Reader, Type)> {
    let base = unsafe { pg_sys::getBaseType(type_oid) };
    Some(match base {
        pg_sys::BOOLOID => (Reader::Bool, Type::Bool),
        pg_sys::INT2OID => (Reader::Int2, Type::Int),
        pg_sys::INT4OID => (Reader::Int4, Type::Int),
        pg_sys::INT8OID => (Reader::Int8, Type::Int),
        pg_sys::FLOAT4OID => (Reader::Float4, Type::Float),
        pg_sys::FLOAT8OID => (Reader::Float8, Type::Float),
        pg_sys::NUMERICOID => (Reader::Numeric, Type::Float),
        pg_sys::TEXTOID | pg_sys::VARCHAROID => (Reader::Text, Type::Text),
        pg_sys::BPCHAROID => (Reader::Bpchar, Type::Text),
        pg_sys::NAMEOID => (Reader::Name, Type::Text),
        pg_sys::DATEOID => (Reader::Date, Type::Date),
        pg_sys::TIMESTAMPOID => (Reader::Ts, Type::Timestamp),
        pg_sys::TIMESTAMPTZOID => (Reader::Ts, Type::TimestampTz),
        pg_sys::INTERVALOID => (Reader::Interval, Type::Interval),
        pg_sys::TEXTARRAYOID | pg_sys::VARCHARARRAYOID => (Reader::TextArray, Type::TextArray),
        _ => return None,
    })
}

/// The reader of a column of type `type_oid` holding attribute `name`, which
/// the ruleset reads as `ty`, and whether integers widen to float (42804 if
/// the types do not fit).
pub fn slot_reader(type_oid: pg_sys::Oid, name: &str, ty: Type, ruleset: &str, row_name: &str) -> Result<(Reader, bool)> {
    match reader(type_oid) {
        Some((r, t)) if t == ty => Ok((r, false)),
        Some((r, Type::Int)) if ty == Type::Float => Ok((r, true)),
        _ => Err(Error::new(
            SqlState::DatatypeMismatch,
            format!("column \"{name}\" of {row_name} is {}, but ruleset \"{ruleset}\" reads it as {ty}", type_name(type_oid)),
        )
        .with_hint("pass a row of the type the ruleset was created for, or cast the column in a view")),
    }
}

/// `format_type_be`: the SQL name of a type.
pub fn type_name(type_oid: pg_sys::Oid) -> String {
    unsafe { CStr::from_ptr(pg_sys::format_type_be(type_oid)).to_string_lossy().into_owned() }
}

/// Column numbers and readers of one row type for one program.
pub struct Binding {
    pub type_id: pg_sys::Oid,
    pub typmod: i32,
    /// The descriptor (a copy owned by the binding's memory context), for deforming.
    pub tupdesc: pg_sys::TupleDesc,
    /// Per slot: (0-based column, reader, widen integer to numeric).
    columns: Vec<(usize, Reader, bool)>,
    pub values: Vec<pg_sys::Datum>,
    pub nulls: Vec<bool>,
    utf8: bool,
}

impl Binding {
    /// Resolves `slots` (attribute name, type) in `tupdesc`.
    ///
    /// # Safety
    /// `tupdesc` must be valid as long as the binding is used.
    pub unsafe fn new(tupdesc: pg_sys::TupleDesc, type_id: pg_sys::Oid, typmod: i32, slots: &[(String, Type)], ruleset: &str, row_name: &str) -> Result<Binding> {
        unsafe {
            let natts = (*tupdesc).natts as usize;
            let attrs = (*tupdesc).attrs.as_slice(natts);
            let mut columns = Vec::with_capacity(slots.len());
            for (name, ty) in slots {
                let found = attrs
                    .iter()
                    .enumerate()
                    .find(|(_, a)| !a.attisdropped && pgrx::name_data_to_str(&a.attname) == name);
                let Some((index, attr)) = found else {
                    return Err(Error::undefined_column(name, row_name)
                        .with_hint(format!("ruleset \"{ruleset}\" reads attribute \"{name}\"; pass a row that has it")));
                };
                let (r, widen) = slot_reader(attr.atttypid, name, *ty, ruleset, row_name)?;
                columns.push((index, r, widen));
            }
            Ok(Binding {
                type_id,
                typmod,
                tupdesc,
                columns,
                values: vec![pg_sys::Datum::from(0usize); natts],
                nulls: vec![true; natts],
                utf8: server_is_utf8(),
            })
        }
    }

    /// Deforms a composite value into `values` / `nulls`.
    ///
    /// # Safety
    /// `header` must be a detoasted composite value of the bound type.
    pub unsafe fn deform(&mut self, header: pg_sys::HeapTupleHeader) {
        unsafe { crate::composite::deform(header, self.tupdesc, &mut self.values, &mut self.nulls) }
    }

    /// Deforms a heap tuple (an SPI result row).
    ///
    /// # Safety
    /// `tuple` must be a tuple of the bound descriptor.
    pub unsafe fn deform_tuple(&mut self, tuple: pg_sys::HeapTuple) {
        unsafe { pg_sys::heap_deform_tuple(tuple, self.tupdesc, self.values.as_mut_ptr(), self.nulls.as_mut_ptr()) }
    }

    /// The slots' values from the last deformed row into `out`.
    ///
    /// # Safety
    /// The deformed row must stay alive while `out`'s values are used.
    pub unsafe fn read<'r>(&self, out: &mut Vec<Value<'r>>) {
        out.clear();
        for &(index, r, widen) in &self.columns {
            out.push(if self.nulls[index] { Value::Null } else { unsafe { read_as(r, widen, self.values[index], self.utf8) } });
        }
    }
}

/// [`read`], with an integer column widened to float when the ruleset reads
/// it as numeric.
///
/// # Safety
/// As [`read`].
#[inline(always)]
pub unsafe fn read_as<'r>(r: Reader, widen: bool, d: pg_sys::Datum, utf8: bool) -> Value<'r> {
    if widen {
        // Only integer readers widen (see `slot_reader`).
        let i = match r {
            Reader::Int2 => i64::from(d.value() as i16),
            Reader::Int4 => i64::from(d.value() as i32),
            _ => d.value() as i64,
        };
        return Value::Float(i as f64);
    }
    unsafe { read(r, d, utf8) }
}

/// Whether text needs no UTF-8 check: the server's encoding already
/// guarantees every stored text is valid UTF-8.
pub fn server_is_utf8() -> bool {
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}

/// The bytes of a varlena as text, borrowed in place.
unsafe fn str_of<'r>(bytes: &'r [u8], utf8: bool) -> Cow<'r, str> {
    if utf8 {
        // SAFETY: a UTF-8 database only stores valid UTF-8 text.
        Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        String::from_utf8_lossy(bytes)
    }
}

/// The bytes of a text Datum: in place unless compressed or stored out of line.
///
/// # Safety
/// `d` must be a non-null varlena Datum; the slice borrows its memory (or a
/// copy in the current memory context).
pub unsafe fn text_bytes<'r>(d: pg_sys::Datum) -> &'r [u8] {
    unsafe {
        let mut v = d.cast_mut_ptr::<pg_sys::varlena>();
        // What pg_detoast_datum_packed checks, without a guarded FFI call per row.
        if pgrx::varlena::varatt_is_1b_e(v) || pgrx::varlena::varatt_is_4b_c(v) {
            v = pg_sys::pg_detoast_datum_packed(v);
        }
        pgrx::varlena::varlena_to_byte_slice(v)
    }
}

unsafe fn text<'r>(d: pg_sys::Datum, utf8: bool) -> Cow<'r, str> {
    unsafe { str_of(text_bytes(d), utf8) }
}

/// The elements of a text array (flattened, as `= ANY` sees them), borrowed
/// in place: no copy of the array, none per element.
///
/// A small array in a table row has a 1-byte varlena header (the rest of
/// the value shifted 3 bytes from its 4-byte-header layout), so fields are
/// read unaligned at *logical* offsets, those of the 4-byte-header layout
/// that PostgreSQL's array code (and element alignment) is defined in.
unsafe fn text_array<'r>(d: pg_sys::Datum, utf8: bool) -> Vec<Option<Cow<'r, str>>> {
    unsafe {
        let mut v = d.cast_mut_ptr::<pg_sys::varlena>();
        if pgrx::varlena::varatt_is_1b_e(v) || pgrx::varlena::varatt_is_4b_c(v) {
            v = pg_sys::pg_detoast_datum_packed(v);
        }
        const HEADER: usize = 4; // logical offset of the first byte after the varlena header
        let content = pgrx::varlena::vardata_any(v) as *const u8;
        let end = pgrx::varlena::varsize_any_exhdr(v) + HEADER;
        let at = |offset: usize| content.add(offset - HEADER);
        let int = |offset: usize| (at(offset) as *const i32).read_unaligned();
        let ndim = int(4).max(0) as usize;
        let data_offset = int(8) as usize;
        let dims_end = 16 + 8 * ndim;
        let count: usize = if ndim == 0 { 0 } else { (0..ndim).map(|i| int(16 + 4 * i).max(0) as usize).product() };
        let has_nulls = data_offset != 0;
        let mut offset = if has_nulls { data_offset } else { (dims_end + 7) & !7 };
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            if has_nulls && *at(dims_end + i / 8) & (1 << (i % 8)) == 0 {
                out.push(None);
                continue;
            }
            if offset >= end {
                break; // malformed: never read past the value
            }
            // Array elements are plain varlenas aligned (logically) to int,
            // text's typalign; in a shifted array they are not aligned in
            // memory, so their headers are read byte-wise.
            let element = at(offset);
            let first = *element;
            let (header, total) = if first & 0x01 == 0x01 {
                (1, usize::from(first >> 1)) // 1-byte header
            } else if first & 0x03 == 0x00 {
                (4, ((element as *const u32).read_unaligned() >> 2) as usize) // 4-byte header, not compressed
            } else {
                return text_array_copied(d); // compressed or external element: never built by PostgreSQL
            };
            if total < header || offset + total > end {
                break; // malformed: never read past the value
            }
            let bytes: &'r [u8] = std::slice::from_raw_parts(element.add(header), total - header);
            out.push(Some(str_of(bytes, utf8)));
            offset = (offset + total + 3) & !3;
        }
        out
    }
}

/// [`text_array`] through pgrx's array reader, copying each element.
unsafe fn text_array_copied<'r>(d: pg_sys::Datum) -> Vec<Option<Cow<'r, str>>> {
    unsafe {
        Array::<&str>::from_polymorphic_datum(d, false, pg_sys::TEXTARRAYOID)
            .map(|a| a.iter().map(|e| e.map(|s| Cow::Owned(s.to_string()))).collect())
            .unwrap_or_default()
    }
}

/// One attribute value from a Datum of the reader's type.
///
/// # Safety
/// `d` must be a non-null Datum of the type `r` was made for; the value
/// borrows its memory.
#[inline(always)]
pub unsafe fn read<'r>(r: Reader, d: pg_sys::Datum, utf8: bool) -> Value<'r> {
    unsafe {
        match r {
            Reader::Bool => Value::Bool(d.value() != 0),
            Reader::Int2 => Value::Int(i64::from(d.value() as i16)),
            Reader::Int4 => Value::Int(i64::from(d.value() as i32)),
            Reader::Int8 => Value::Int(d.value() as i64),
            Reader::Float4 => Value::Float(f64::from(f32::from_bits(d.value() as u32))),
            Reader::Float8 => Value::Float(f64::from_bits(d.value() as u64)),
            Reader::Numeric => {
                let f = pgrx::direct_function_call_as_datum(pg_sys::numeric_float8, &[Some(d)]);
                Value::Float(f.map_or(f64::NAN, |f| f64::from_bits(f.value() as u64)))
            }
            Reader::Text => Value::Text(text(d, utf8)),
            Reader::Bpchar => match text(d, utf8) {
                Cow::Borrowed(s) => Value::Text(Cow::Borrowed(s.trim_end_matches(' '))),
                Cow::Owned(s) => Value::Text(Cow::Owned(s.trim_end_matches(' ').to_string())),
            },
            Reader::Name => Value::Text(CStr::from_ptr(d.cast_mut_ptr::<std::ffi::c_char>()).to_string_lossy()),
            Reader::Date => Value::Date(d.value() as i32),
            Reader::Ts => Value::Ts(d.value() as i64),
            Reader::Interval => Value::Interval(interval_of(d)),
            Reader::TextArray => Value::TextArray(text_array(d, utf8)),
        }
    }
}

/// The type id and typmod a composite Datum carries.
///
/// # Safety
/// `header` must point to a detoasted composite value.
pub unsafe fn row_type(header: pg_sys::HeapTupleHeader) -> (pg_sys::Oid, i32) {
    unsafe { (pgrx::heap_tuple_header_get_type_id(header), pgrx::heap_tuple_header_get_typmod(header)) }
}

/// A copy of a row type's descriptor in the current memory context.
///
/// # Safety
/// Must run inside a transaction.
pub unsafe fn row_tupdesc(type_id: pg_sys::Oid, typmod: i32) -> pg_sys::TupleDesc {
    unsafe {
        let shared = pg_sys::lookup_rowtype_tupdesc(type_id, typmod);
        let copy = pg_sys::CreateTupleDescCopy(shared);
        pg_sys::DecrTupleDescRefCount(shared);
        copy
    }
}
