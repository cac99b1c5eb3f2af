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
enum Reader {
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
fn reader(type_oid: pg_sys::Oid) -> Option<(Reader, Type)> {
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
                let column = reader(attr.atttypid);
                let fits = match column {
                    Some((_, t)) if t == *ty => Some(false),
                    Some((_, Type::Int)) if *ty == Type::Float => Some(true),
                    _ => None,
                };
                let (Some((r, _)), Some(widen)) = (column, fits) else {
                    return Err(Error::new(
                        SqlState::DatatypeMismatch,
                        format!(
                            "column \"{name}\" of {row_name} is {}, but ruleset \"{ruleset}\" reads it as {ty}",
                            type_name(attr.atttypid)
                        ),
                    )
                    .with_hint("pass a row of the type the ruleset was created for, or cast the column in a view"));
                };
                columns.push((index, r, widen));
            }
            Ok(Binding {
                type_id,
                typmod,
                tupdesc,
                columns,
                values: vec![pg_sys::Datum::from(0usize); natts],
                nulls: vec![true; natts],
            })
        }
    }

    /// Deforms a composite value into `values` / `nulls`.
    ///
    /// # Safety
    /// `header` must be a detoasted composite value of the bound type.
    pub unsafe fn deform(&mut self, header: pg_sys::HeapTupleHeader) {
        unsafe {
            let mut tuple = pg_sys::HeapTupleData {
                t_len: pgrx::heap_tuple_header_get_datum_length(header) as u32,
                t_self: pg_sys::ItemPointerData::default(),
                t_tableOid: pg_sys::InvalidOid,
                t_data: header,
            };
            pg_sys::heap_deform_tuple(&mut tuple, self.tupdesc, self.values.as_mut_ptr(), self.nulls.as_mut_ptr());
        }
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
            let v = if self.nulls[index] { Value::Null } else { unsafe { read(r, self.values[index]) } };
            out.push(match (v, widen) {
                (Value::Int(i), true) => Value::Float(i as f64),
                (v, _) => v,
            });
        }
    }
}

unsafe fn text<'r>(d: pg_sys::Datum) -> Cow<'r, str> {
    unsafe {
        let v = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
        let bytes: &'r [u8] = pgrx::varlena::varlena_to_byte_slice(v);
        String::from_utf8_lossy(bytes)
    }
}

unsafe fn read<'r>(r: Reader, d: pg_sys::Datum) -> Value<'r> {
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
            Reader::Text => Value::Text(text(d)),
            Reader::Bpchar => match text(d) {
                Cow::Borrowed(s) => Value::Text(Cow::Borrowed(s.trim_end_matches(' '))),
                Cow::Owned(s) => Value::Text(Cow::Owned(s.trim_end_matches(' ').to_string())),
            },
            Reader::Name => Value::Text(CStr::from_ptr(d.cast_mut_ptr::<std::ffi::c_char>()).to_string_lossy()),
            Reader::Date => Value::Date(d.value() as i32),
            Reader::Ts => Value::Ts(d.value() as i64),
            Reader::Interval => Value::Interval(interval_of(d)),
            Reader::TextArray => {
                let array = Array::<&str>::from_polymorphic_datum(d, false, pg_sys::TEXTARRAYOID);
                match array {
                    Some(a) => Value::TextArray(a.iter().map(|e| e.map(|s| Cow::Owned(s.to_string()))).collect()),
                    None => Value::Null,
                }
            }
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
