//! Loading feature vectors into one contiguous f32 matrix, as the caller (RLS
//! applies): from a `real[]` / `float8[]` column, or from whole rows through a
//! fitted profile (the same RowBinding + encoder profile_vector uses).
//!
//! NULL policy: a NULL array (or, with a profile, nothing: every row encodes)
//! skips the row and counts it; a NULL, NaN or ±Infinity element, an empty or
//! multi-dimensional array and rows of different lengths are 22023 with a query
//! that finds the offending rows.

use super::array::{read_into, Elements};
use crate::error::sql::{raise, OrRaise};
use crate::error::{Error, Result, SqlState};
use crate::direct_scan;
use crate::extension_schema::quote_ident;
use crate::kmeans::kernel::Matrix;
use crate::kmeans::rng::Reservoir;
use crate::profile::sql::catalog::{spi, Compiled};
use crate::profile::sql::rows::RowBinding;
use crate::profile::sql::scan::scan;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts};
use std::rc::Rc;

/// Where the vectors come from.
pub enum Source {
    Column(String),
    Profile(Rc<Compiled>),
}

/// A relation looked up by OID: its name as regclass prints it (safe in SQL).
pub fn relation_name(oid: pg_sys::Oid) -> String {
    let found = Spi::connect(|client| {
        let t = spi(client.select(
            "SELECT c.relkind::text, c.oid::regclass::text FROM pg_catalog.pg_class c WHERE c.oid = $1",
            Some(1),
            &[oid.into()],
        ));
        if t.is_empty() {
            return None;
        }
        let t = t.first();
        Some((spi(t.get::<String>(1)), spi(t.get::<String>(2))))
    });
    let Some((Some(kind), Some(name))) = found else {
        raise(
            Error::new(SqlState::UndefinedTable, format!("relation with OID {} does not exist", oid.to_u32()))
                .with_hint("pass a table or view name, e.g. 'customers'::regclass"),
        )
    };
    if !matches!(kind.as_str(), "r" | "v" | "m" | "f" | "p") {
        raise(
            Error::invalid_parameter(format!("\"{name}\" is not a table, view or materialized view"))
                .with_hint("pass the relation that holds one feature vector per row"),
        );
    }
    name
}

/// Checks that `column` of `relation` is a real[] or float8[] column.
pub fn check_column(oid: pg_sys::Oid, relation: &str, column: &str) {
    let found = Spi::connect(|client| {
        let t = spi(client.select(
            "SELECT format_type(a.atttypid, NULL), a.atttypid IN ('real[]'::regtype, 'double precision[]'::regtype) \
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            Some(1),
            &[oid.into(), column.into()],
        ));
        if t.is_empty() {
            return None;
        }
        let t = t.first();
        Some((spi(t.get::<String>(1)).unwrap_or_default(), spi(t.get::<bool>(2)).unwrap_or(false)))
    });
    match found {
        None => raise(Error::undefined_column(column, relation).with_hint(
            "name the real[] or float8[] column that holds the features (names match exactly, as stored)",
        )),
        Some((_, true)) => {}
        Some((type_name, false)) => raise(
            Error::new(
                SqlState::DatatypeMismatch,
                format!("column \"{column}\" of {relation} is {type_name}, not real[] or double precision[]"),
            )
            .with_hint("cast it in a view, e.g. CREATE VIEW v AS SELECT ARRAY[a, b]::real[] AS features FROM t, or fit on a profile"),
        ),
    }
}

/// The attribute number of `column` (None: no such column).
fn attnum(oid: pg_sys::Oid, column: &str) -> Option<pg_sys::AttrNumber> {
    let name = std::ffi::CString::new(column).ok()?;
    let attnum = unsafe { pg_sys::get_attnum(oid, name.as_ptr()) };
    (attnum > 0).then_some(attnum)
}

/// Rows read.
pub struct Loaded {
    pub matrix: Matrix,
    pub skipped: u64,
    /// Rows offered (with a reservoir, more than the matrix holds).
    pub seen: u64,
}

/// Memory check while loading: called with the row count so far.
pub type Budget<'a> = &'a mut dyn FnMut(usize, usize) -> Result<()>;

fn element_error(what: Elements, row: u64, relation: &str, column: &str, dims: usize) -> Error {
    let col = quote_ident(column);
    match what {
        Elements::Null(at) => Error::invalid_parameter(format!(
            "feature array in row {row} of {relation} has a NULL element at position {at}"
        ))
        .with_hint(format!("find such rows with SELECT * FROM {relation} WHERE array_position({col}, NULL) IS NOT NULL; fix them or fit on a view that filters them")),
        Elements::NotFinite(at, x) => Error::invalid_parameter(format!(
            "feature array in row {row} of {relation} has {} at position {at}", super::array::pg_float(x)
        ))
        .with_hint(format!("find such rows with SELECT * FROM {relation} WHERE {col} && '{{NaN,Infinity,-Infinity}}'; fix them or fit on a view that filters them")),
        Elements::MultiDim(n) => Error::invalid_parameter(format!(
            "feature array in row {row} of {relation} has {n} dimensions, not 1"
        ))
        .with_hint(format!("store one flat array per row; find them with SELECT * FROM {relation} WHERE array_ndims({col}) > 1")),
        Elements::WrongType(_) => Error::new(SqlState::DatatypeMismatch, format!("column \"{column}\" of {relation} is not real[] or double precision[]")),
        Elements::Ok(n) if n == 0 => Error::invalid_parameter(format!("feature array in row {row} of {relation} is empty"))
            .with_hint(format!("find such rows with SELECT * FROM {relation} WHERE cardinality({col}) = 0")),
        Elements::Ok(n) => Error::invalid_parameter(format!(
            "feature array in row {row} of {relation} has {n} elements, earlier rows have {dims}"
        ))
        .with_hint(format!("every row needs the same length; see SELECT cardinality({col}), count(*) FROM {relation} GROUP BY 1")),
    }
}

/// Reads every vector (or a reservoir sample of `sample` rows) of `relation`.
/// `expected_rows` (the planner's estimate) sizes the first allocation, so the
/// matrix is not copied as it grows.
pub fn load(oid: pg_sys::Oid, relation: &str, source: &Source, sample: Option<(usize, u64)>, expected_rows: usize, budget: Budget) -> Loaded {
    let mut matrix = Matrix::new(0);
    let mut reserved = false;
    let mut skipped = 0u64;
    let mut row_number = 0u64;
    let mut reservoir = sample.map(|(size, seed)| Reservoir::new(size, seed));
    let mut buffer: Vec<f32> = Vec::new();
    let outer = PgMemoryContexts::CurrentMemoryContext.value();
    let mut binding: Option<RowBinding> = None;
    let query = match source {
        Source::Column(column) => format!("SELECT {} FROM {relation}", quote_ident(column)),
        Source::Profile(_) => format!("SELECT t FROM {relation} t"),
    };
    let mut push = |buffer: &[f32], matrix: &mut Matrix, reservoir: &mut Option<Reservoir>| -> Result<()> {
        if matrix.dims == 0 && matrix.rows == 0 {
            matrix.dims = buffer.len();
        }
        if !reserved {
            reserved = true;
            // the memory check comes first, so the estimate is within the limit
            budget(1, matrix.dims)?;
            let rows = reservoir.as_ref().map_or(expected_rows, |r| r.capacity.min(expected_rows.max(1)));
            matrix.data.reserve(rows.saturating_mul(matrix.dims));
        }
        match reservoir {
            None => {
                budget(matrix.rows + 1, matrix.dims)?;
                matrix.push(buffer);
            }
            Some(r) => match r.offer() {
                Some(slot) if slot == matrix.rows => {
                    budget(matrix.rows + 1, matrix.dims)?;
                    matrix.push(buffer)
                }
                Some(slot) => matrix.data[slot * matrix.dims..(slot + 1) * matrix.dims].copy_from_slice(buffer),
                None => {}
            },
        }
        Ok(())
    };
    let mut each_row = |value: Option<pg_sys::Datum>| -> Result<()> {
        row_number += 1;
        let Some(datum) = value else {
            skipped += 1;
            return Ok(());
        };
        buffer.clear();
        match source {
            Source::Column(column) => {
                let got = unsafe { read_into(datum, &mut buffer) };
                let dims = if matrix.rows == 0 { buffer.len().max(1) } else { matrix.dims };
                match got {
                    Elements::Ok(n) if n > 0 && n == dims => {}
                    other => return Err(element_error(other, row_number, relation, column, matrix.dims)),
                }
            }
            Source::Profile(compiled) => unsafe {
                let header = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
                if binding.as_ref().is_none_or(|b| !b.fits(header)) {
                    let made = PgMemoryContexts::For(outer).switch_to(|_| RowBinding::new(header, compiled))?;
                    binding = Some(made);
                }
                buffer.resize(compiled.encoder.dimensions, 0.0);
                binding.as_mut().expect("bound above").encode(header, &compiled.encoder, &mut buffer)?;
            },
        }
        push(&buffer, &mut matrix, &mut reservoir)
    };
    // a column of a plain table: read it directly (same rows, same order; see direct_scan)
    let direct = match source {
        Source::Column(column) => attnum(oid, column)
            .and_then(|attnum| direct_scan::open(oid, &[attnum]).map(|table| (table, attnum)))
            .map(|(table, attnum)| table.scan([attnum], |v, null| each_row((!null[0]).then_some(v[0])))),
        Source::Profile(_) => None,
    };
    match direct {
        Some(result) => result.map(|_| ()).or_raise(),
        None => scan(&query, |row| each_row(row[0])).map(|_| ()).or_raise(),
    }
    let seen = reservoir.as_ref().map_or(matrix.rows as u64, |r| r.seen);
    Loaded { matrix, skipped, seen }
}
