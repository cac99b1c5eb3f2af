//! Loading feature vectors into one contiguous f32 matrix, as the caller (RLS
//! applies): from a `real[]` / `float8[]` column, or from whole rows through a
//! fitted profile (the same RowBinding + encoder profile_vector uses).
//!
//! NULL policy: a NULL array (or, with a profile, nothing: every row encodes)
//! skips the row and counts it; a NULL, NaN or ±Infinity element, an empty or
//! multi-dimensional array and rows of different lengths are 22023 with a query
//! that finds the offending rows.

use super::array::with_payload;
pub use super::collect::Budget;
use super::collect::{collect_in_background, Collector, Stopped};
use crate::direct_scan::{self, PageScan};
use crate::error::sql::{raise, OrRaise};
use crate::error::{Error, Result, SqlState};
use crate::extension_schema::quote_ident;
use crate::heap_page::{ColumnReader, Value};
use crate::kmeans::kernel::Matrix;
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
    /// rows with NULL features
    pub skipped: u64,
    /// rows with features offered (with a reservoir, more than the matrix holds)
    pub seen: u64,
}

/// Reads every vector (or a reservoir sample of `sample` rows) of `relation`.
/// `expected_rows` (the planner's estimate) sizes the first allocation, so the
/// matrix is not copied as it grows.
pub fn load(oid: pg_sys::Oid, relation: &str, source: &Source, sample: Option<(usize, u64)>, expected_rows: usize, budget: Budget) -> Loaded {
    let column = match source {
        Source::Column(column) => column.as_str(),
        Source::Profile(_) => "",
    };
    let mut collector = Collector::new(relation, column, sample, expected_rows, budget);
    // a column of a plain table: read it directly (same rows, same order; see direct_scan),
    // the arrays parsed on a worker thread while the backend reads
    let direct = match source {
        Source::Column(column) => attnum(oid, column).and_then(|attnum| direct_scan::open(oid, &[attnum]).map(|table| (table, attnum))),
        Source::Profile(_) => None,
    };
    match direct {
        Some((table, attnum)) => match table.pages(attnum) {
            Ok((pages, reader)) => read_pages(pages, &reader, &mut collector),
            Err(table) => read_slots(table, attnum, &mut collector),
        },
        None => read_with_spi(relation, source, &mut collector),
    }
    Loaded { skipped: collector.skipped, seen: collector.seen(), matrix: collector.matrix }
}

/// Reads the column's arrays from the table's pages (no slot, no call into
/// PostgreSQL per row: `crate::heap_page`), parsed on the worker thread.
fn read_pages(mut scan: PageScan, reader: &ColumnReader, collector: &mut Collector) {
    let read = collect_in_background(collector, |feed| {
        while scan.next() {
            let page = scan.page();
            prefetch_tuples(page.bytes);
            for &offset in page.visible {
                match reader.read(page.bytes, offset) {
                    Value::Null => feed.null()?,
                    Value::Inline(payload) => feed.array(payload)?,
                    // TOASTed, compressed, or added after the row was written: PostgreSQL reads it
                    Value::Unreadable => match scan.value(offset) {
                        None => feed.null()?,
                        Some(datum) => unsafe { with_payload(datum, |bytes| feed.array(bytes))? },
                    },
                }
            }
        }
        Ok(())
    });
    scan.finish();
    raise_unless_collected(read);
}

/// Asks the memory system for the page's tuples at once: read one by one, from
/// the line pointers' order (which runs backwards through the page), each would
/// wait for its own cache miss.
#[inline]
fn prefetch_tuples(page: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let upper = crate::heap_page::tuples_start(page);
        for at in ((upper & !63)..page.len()).step_by(64) {
            // SAFETY: a hint on an address inside the page
            unsafe { _mm_prefetch::<_MM_HINT_T0>(page.as_ptr().add(at) as *const i8) };
        }
    }
}

/// Reads the column's arrays from each row's slot, parsed on the worker thread.
fn read_slots(table: direct_scan::Table, attnum: pg_sys::AttrNumber, collector: &mut Collector) {
    let read = collect_in_background(collector, |feed| {
        table
            .scan([attnum], |v, null| match null[0] {
                true => feed.null(),
                false => unsafe { with_payload(v[0], |bytes| feed.array(bytes)) },
            })
            .map(|_rows| ())
    });
    raise_unless_collected(read);
}

/// Raises the worker's error, if any: it is why the reading stopped.
fn raise_unless_collected(read: Result<Result<(), Stopped>>) {
    read.or_raise().map_err(|Stopped| Error::internal("the k-means load worker stopped without an error")).or_raise();
}

/// Reads through SPI (views, RLS, profiles, ...) on this thread.
fn read_with_spi(relation: &str, source: &Source, collector: &mut Collector) {
    let outer = PgMemoryContexts::CurrentMemoryContext.value();
    let mut binding: Option<RowBinding> = None;
    let mut buffer: Vec<f32> = Vec::new();
    let query = match source {
        Source::Column(column) => format!("SELECT {} FROM {relation}", quote_ident(column)),
        Source::Profile(_) => format!("SELECT t FROM {relation} t"),
    };
    let mut each_row = |value: Option<pg_sys::Datum>| -> Result<()> {
        let Some(datum) = value else {
            collector.null();
            return Ok(());
        };
        match source {
            Source::Column(_) => unsafe { with_payload(datum, |bytes| collector.array(bytes)) },
            Source::Profile(compiled) => unsafe {
                let header = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
                if binding.as_ref().is_none_or(|b| !b.fits(header)) {
                    let made = PgMemoryContexts::For(outer).switch_to(|_| RowBinding::new(header, compiled))?;
                    binding = Some(made);
                }
                buffer.resize(compiled.encoder.dimensions, 0.0);
                binding.as_mut().expect("bound above").encode(header, &compiled.encoder, &mut buffer)?;
                collector.vector(&buffer)
            },
        }
    };
    scan(&query, |row| each_row(row[0])).map(|_| ()).or_raise()
}
