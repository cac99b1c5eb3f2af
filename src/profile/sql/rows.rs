//! A customer row (a composite Datum) turned into a profile vector.
//!
//! [`RowBinding`] resolves each feature's column to an attribute number and a
//! [`Reader`] once per row type (type id and typmod of the tuple), checks the
//! column types, and then deforms and encodes row after row without looking
//! anything up by name.

use super::catalog::Compiled;
use super::datum::{type_name, Reader};
use crate::error::{Error, Result, SqlState};
use crate::profile::encode::{Encoder, FeatureEncoder, Input};
use crate::profile::spec::{ColumnType, FeatureKind};
use pgrx::pg_sys;

/// Attribute numbers and readers of one row type for one compiled profile.
pub struct RowBinding {
    type_id: pg_sys::Oid,
    typmod: i32,
    /// A copy of the row type's descriptor, in the memory context the binding lives in.
    tupdesc: pg_sys::TupleDesc,
    /// Per feature: (0-based attribute index, reader).
    columns: Vec<(usize, Reader)>,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
}

fn kind_of(input: Input) -> FeatureKind {
    match input {
        Input::Number => FeatureKind::Numeric,
        Input::Boolean => FeatureKind::Boolean,
        Input::Category => FeatureKind::Categorical,
        Input::Tags => FeatureKind::Tags,
    }
}

/// The type id and typmod a composite Datum carries.
///
/// # Safety
/// `header` must point to a detoasted composite value.
pub unsafe fn row_type(header: pg_sys::HeapTupleHeader) -> (pg_sys::Oid, i32) {
    unsafe {
        (
            pgrx::heap_tuple_header_get_type_id(header),
            pgrx::heap_tuple_header_get_typmod(header),
        )
    }
}

impl RowBinding {
    /// Resolves the profile's columns in the row type of `header`.
    ///
    /// # Safety
    /// `header` must point to a detoasted composite value; the binding must be
    /// used only while `CurrentMemoryContext` (where the descriptor copy goes) lives.
    pub unsafe fn new(header: pg_sys::HeapTupleHeader, compiled: &Compiled) -> Result<RowBinding> {
        unsafe {
            let (type_id, typmod) = row_type(header);
            let shared = pg_sys::lookup_rowtype_tupdesc(type_id, typmod);
            let tupdesc = pg_sys::CreateTupleDescCopy(shared);
            pg_sys::DecrTupleDescRefCount(shared);
            let natts = (*tupdesc).natts as usize;
            let attrs = (*tupdesc).attrs.as_slice(natts);
            let row_name = type_name(type_id);
            let mut listed: Vec<(String, ColumnType)> = Vec::new();
            let mut readers: Vec<(String, usize, Reader)> = Vec::new();
            for (i, attr) in attrs.iter().enumerate() {
                if attr.attisdropped {
                    continue;
                }
                let name = pgrx::name_data_to_str(&attr.attname).to_string();
                let (column_type, reader) = Reader::for_type(attr.atttypid);
                listed.push((name.clone(), column_type));
                readers.push((name, i, reader));
            }
            let mut columns = Vec::with_capacity(compiled.encoder.features.len());
            for feature in &compiled.encoder.features {
                let Some(position) = readers.iter().position(|(name, _, _)| *name == feature.column) else {
                    return Err(Error::undefined_column(&feature.column, &row_name).with_hint(format!(
                        "profile \"{}\" reads column \"{}\" (feature \"{}\"); pass a row that has it",
                        compiled.name, feature.column, feature.name
                    )));
                };
                let column_type = &listed[position].1;
                if !column_type.fits(kind_of(feature.input)) {
                    return Err(Error::new(
                        SqlState::DatatypeMismatch,
                        format!(
                            "column \"{}\" of {row_name} is {}, but feature \"{}\" of profile \"{}\" reads {}",
                            feature.column,
                            column_type.describe(),
                            feature.name,
                            compiled.name,
                            kind_of(feature.input).reads()
                        ),
                    )
                    .with_hint("pass a row whose columns have the types the profile was fitted on, or cast them in the query"));
                }
                columns.push((readers[position].1, readers[position].2));
            }
            Ok(RowBinding {
                type_id,
                typmod,
                tupdesc,
                columns,
                values: vec![pg_sys::Datum::from(0usize); natts],
                nulls: vec![true; natts],
            })
        }
    }

    /// Whether a row of this type can use the binding.
    ///
    /// # Safety
    /// `header` must point to a detoasted composite value.
    pub unsafe fn fits(&self, header: pg_sys::HeapTupleHeader) -> bool {
        unsafe { row_type(header) == (self.type_id, self.typmod) }
    }

    /// Encodes one row into `out` (zeroed first).
    ///
    /// # Safety
    /// `header` must point to a detoasted composite value of the bound type.
    pub unsafe fn encode(&mut self, header: pg_sys::HeapTupleHeader, encoder: &Encoder, out: &mut [f32]) -> Result<()> {
        unsafe {
            crate::composite::deform(header, self.tupdesc, &mut self.values, &mut self.nulls);
        }
        out.fill(0.0);
        for (feature, &(index, reader)) in encoder.features.iter().zip(&self.columns) {
            let value = (!self.nulls[index]).then(|| self.values[index]);
            unsafe { encode_value(feature, reader, value, out)? };
        }
        Ok(())
    }
}

/// Encodes one column value (None: NULL) for one feature.
///
/// # Safety
/// `value` must be a live Datum of the type `reader` was made for.
pub unsafe fn encode_value(feature: &FeatureEncoder, reader: Reader, value: Option<pg_sys::Datum>, out: &mut [f32]) -> Result<()> {
    unsafe {
        match feature.input {
            Input::Number | Input::Boolean => feature.write_number(value.map(|d| reader.number(d)), out),
            Input::Category => match value {
                Some(d) => feature.write_category(Some(&reader.text(d)), out),
                None => feature.write_category(None, out),
            },
            Input::Tags => match value {
                Some(d) => {
                    let mut result = Ok(());
                    reader.each_tag(d, &mut |tags| result = feature.write_tags(Some(tags), out));
                    result
                }
                None => feature.write_tags(None, out),
            },
        }
    }
}

/// A `real[]` Datum holding `values` (one dimension, lower bound 1).
pub fn real_array(values: &[f32]) -> pg_sys::Datum {
    unsafe {
        if values.is_empty() {
            return pg_sys::Datum::from(pg_sys::construct_empty_array(pg_sys::FLOAT4OID));
        }
        // ArrayType header (16 bytes) + dims + lower bounds, MAXALIGNed: ARR_OVERHEAD_NONULLS(1)
        const OVERHEAD: usize = 24;
        let size = OVERHEAD + 4 * values.len();
        let array = pg_sys::palloc0(size) as *mut pg_sys::ArrayType;
        pgrx::set_varsize_4b(array.cast(), size as i32);
        (*array).ndim = 1;
        (*array).dataoffset = 0;
        (*array).elemtype = pg_sys::FLOAT4OID;
        let dims = (array as *mut u8).add(16) as *mut i32;
        *dims = values.len() as i32;
        *dims.add(1) = 1;
        std::ptr::copy_nonoverlapping(values.as_ptr(), (array as *mut u8).add(OVERHEAD) as *mut f32, values.len());
        pg_sys::Datum::from(array)
    }
}

/// 42804 for a `customer` argument that is not a row.
pub fn not_a_row(type_oid: pg_sys::Oid) -> Error {
    Error::new(
        SqlState::DatatypeMismatch,
        format!("profile_vector needs a customer row, not {}", type_name(type_oid)),
    )
    .with_hint("pass the row alias, e.g. SELECT profile_vector('p', c) FROM customers c, or a jsonb object")
}
