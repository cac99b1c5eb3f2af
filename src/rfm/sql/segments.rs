//! `rfm_segments(orders, key_type, ...)`: the whole RFM job in one call.
//!
//! One pass over the orders accumulates each customer densely (the backend
//! decodes rows, a worker thread adds them up: [`Accumulator`], the same
//! arithmetic as `rfm_agg`); then exact O(n) cut points per dimension, and the
//! rows (summaries finished on a worker thread while the backend writes them:
//! scores, cells and segment names). No `GROUP BY`, no sorts. A plain table
//! the caller may read is scanned directly ([`direct_scan`]); anything else
//! (views, row-level security, inheritance, columns that need a cast) through
//! a plain `SELECT` in SPI as the caller, so privileges and policies apply
//! either way.

use super::agg::rfm_values_with;
use super::datum::{self, RawDatum};
use super::maps::{self, Compiled};
use super::scores::report_empty_bins;
use crate::direct_scan;
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, SqlState};
use crate::extension_schema::quote_ident;
use crate::memory_context::{self, Scratch};
use crate::rfm::accumulate::{Accumulated, Accumulator, Amount, Order};
use crate::rfm::amount::{Decimal, NUMERIC_MAX_BYTES};
use crate::rfm::quantile;
use crate::rfm::summary::Rfm;
use pgrx::prelude::*;
use pgrx::pg_sys;
use rustc_hash::FxHashMap;

/// The backend's half of the one pass: decode each row into an [`Order`]
/// (the parts that need PostgreSQL: datums, the session time zone) and hand
/// it to the [`Accumulator`]'s worker thread.
struct Scan {
    /// the type of the key datums read (the column's, or key_type through SPI)
    key_type: pg_sys::Oid,
    amount_type: pg_sys::Oid,
    as_of: i64,
    /// text and uuid keys → dense index (the worker indexes integer keys)
    byte_index: FxHashMap<Box<[u8]>, u32>,
    /// the previous row's text or uuid customer (orders often come grouped by customer)
    last_bytes: Vec<u8>,
    last_index: u32,
    /// text or uuid key of each customer, in first-seen order
    byte_keys: Vec<Box<[u8]>>,
    /// local days of order times (the scan's own cache: no thread-local per row)
    offsets: datum::OffsetCache,
    orders: Accumulator,
}

impl Scan {
    /// What `Order::key` carries for the key datum: the integer key, or the
    /// dense index of a text or uuid key.
    unsafe fn key(&mut self, key: pg_sys::Datum) -> i64 {
        unsafe {
            match self.key_type {
                pg_sys::INT8OID => return key.value() as i64,
                pg_sys::INT4OID => return i64::from(key.value() as i32),
                pg_sys::INT2OID => return i64::from(key.value() as i16),
                _ => {}
            }
            let bytes: &[u8] = if self.key_type == pg_sys::UUIDOID {
                std::slice::from_raw_parts(key.cast_mut_ptr::<u8>(), 16)
            } else {
                datum::varlena_bytes(key)
            };
            if self.last_index != u32::MAX && bytes == self.last_bytes.as_slice() {
                return i64::from(self.last_index);
            }
            let index = match self.byte_index.get(bytes) {
                Some(&index) => index,
                None => {
                    let index = self.byte_keys.len() as u32;
                    self.byte_index.insert(bytes.into(), index);
                    self.byte_keys.push(bytes.into());
                    index
                }
            };
            self.last_bytes.clear();
            self.last_bytes.extend_from_slice(bytes);
            self.last_index = index;
            i64::from(index)
        }
    }

    unsafe fn row(&mut self, values: *const pg_sys::Datum, nulls: *const bool) {
        unsafe {
            if *nulls || *nulls.add(1) {
                return; // no customer or no time: nothing to attribute
            }
            let at = (*values.add(1)).value() as i64;
            datum::check_finite(at, "ordered_at");
            if at > self.as_of {
                return;
            }
            let key = self.key(*values);
            let amount = match (*nulls.add(2), self.amount_type) {
                (true, _) => Amount::Null,
                (false, pg_sys::NUMERICOID) => Amount::numeric(datum::varlena_bytes(*values.add(2))).or_raise(),
                (false, other) => Amount::Exact(datum::amount(*values.add(2), other)),
            };
            let day = self.offsets.day(at);
            self.orders.push(Order { key, at, day, amount }).or_raise();
        }
    }
}

/// A DestReceiver that hands every row to a [`Scan`].
#[repr(C)]
struct Receiver {
    base: pg_sys::DestReceiver,
    scan: *mut Scan,
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_slot(slot: *mut pg_sys::TupleTableSlot, dest: *mut pg_sys::DestReceiver) -> bool {
    unsafe {
        if ((*slot).tts_nvalid as i32) < 3 {
            pg_sys::slot_getsomeattrs_int(slot, 3);
        }
        let scan = &mut *(*(dest as *mut Receiver)).scan;
        scan.row((*slot).tts_values, (*slot).tts_isnull);
        true
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(_dest: *mut pg_sys::DestReceiver, _operation: std::ffi::c_int, _typeinfo: pg_sys::TupleDesc) {}

#[pg_guard]
unsafe extern "C-unwind" fn noop(_dest: *mut pg_sys::DestReceiver) {}

fn spi<T>(result: Result<T, pgrx::spi::SpiError>) -> T {
    result.unwrap_or_else(|e| raise(Error::internal(format!("SPI failed: {e}"))))
}

/// The relation's printable name and its columns' types.
fn columns(oid: pg_sys::Oid) -> (String, Vec<(String, pg_sys::Oid, i16)>) {
    Spi::connect(|client| {
        let rel = spi(client.select(
            "SELECT c.oid::regclass::text FROM pg_catalog.pg_class c WHERE c.oid = $1",
            Some(1),
            &[oid.into()],
        ));
        if rel.is_empty() {
            raise(
                Error::new(SqlState::UndefinedTable, format!("relation with OID {} does not exist", oid.to_u32()))
                    .with_hint("pass the orders table or view, e.g. 'orders'"),
            );
        }
        let name = spi(rel.first().get::<String>(1)).unwrap_or_default();
        let cols = spi(client.select(
            "SELECT a.attname::text, a.atttypid, a.attnum FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            None,
            &[oid.into()],
        ))
        .map(|row| {
            (
                spi(row.get::<String>(1)).unwrap_or_default(),
                spi(row.get::<pg_sys::Oid>(2)).unwrap_or_default(),
                spi(row.get::<i16>(3)).unwrap_or_default(),
            )
        })
        .collect();
        (name, cols)
    })
}

/// A column's quoted name, type and number.
fn column(cols: &[(String, pg_sys::Oid, i16)], relation: &str, name: &str, argument: &str) -> (String, pg_sys::Oid, i16) {
    match cols.iter().find(|(n, _, _)| n == name) {
        Some((n, t, a)) => (quote_ident(n), *t, *a),
        None => raise(
            Error::undefined_column(name, relation)
                .with_hint(format!("pass the column that holds it as {argument} => '...' (names match exactly)")),
        ),
    }
}

fn text_arg(fcinfo: pg_sys::FunctionCallInfo, n: usize, what: &str) -> String {
    unsafe {
        if pgrx::pg_arg_is_null(fcinfo, n) {
            raise(Error::null_not_allowed(what).with_hint(format!("pass the name of the {what}")));
        }
        String::from_utf8_lossy(datum::varlena_bytes(pgrx::pg_getarg_datum_raw(fcinfo, n))).into_owned()
    }
}

/// The customer column of customer `i`, of type `key_type`.
fn key_datum(int_keys: &[i64], byte_keys: &[Box<[u8]>], key_type: pg_sys::Oid, i: usize) -> pg_sys::Datum {
    unsafe {
        match key_type {
            pg_sys::INT8OID => pg_sys::Datum::from(int_keys[i]),
            pg_sys::INT4OID => pg_sys::Datum::from(int_keys[i] as i32),
            pg_sys::INT2OID => pg_sys::Datum::from(int_keys[i] as i16),
            pg_sys::UUIDOID => {
                let p = pg_sys::palloc(16) as *mut u8;
                std::ptr::copy_nonoverlapping(byte_keys[i].as_ptr(), p, 16);
                pg_sys::Datum::from(p)
            }
            _ => {
                let b = &byte_keys[i];
                pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(b.as_ptr().cast(), b.len() as i32))
            }
        }
    }
}

fn text_datum(s: &str) -> pg_sys::Datum {
    unsafe { pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(s.as_ptr().cast(), s.len() as i32)) }
}

/// Cut points of `values` (NaN-free), reporting scores ties leave empty.
fn dimension_breaks(what: &str, mut values: Vec<f64>, bins: usize, reverse: bool) -> Option<Vec<f64>> {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let cuts = quantile::breaks(&mut values, bins)?;
    report_empty_bins(&format!("rfm_segments: {what}"), &cuts, max, reverse);
    Some(cuts)
}

/// rfm_segments(orders regclass, key_type anyelement, customer_column text,
/// ordered_at_column text, amount_column text, as_of timestamptz, bins int, map text)
#[pg_extern(sql = false)]
fn rfm_segments(fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    unsafe {
        if pgrx::pg_arg_is_null(fcinfo, 0) {
            raise(Error::null_not_allowed("orders").with_hint("pass the orders table, e.g. 'orders'"));
        }
        let oid = pg_sys::Oid::from(pgrx::pg_getarg_datum_raw(fcinfo, 0).value() as u32);
        let key_type = pg_sys::get_fn_expr_argtype((*fcinfo).flinfo, 1);
        if !matches!(
            key_type,
            pg_sys::INT8OID | pg_sys::INT4OID | pg_sys::INT2OID | pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::UUIDOID
        ) {
            raise(
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!("key_type must be bigint, integer, smallint, text, varchar or uuid, not {}", datum::type_name(key_type)),
                )
                .with_hint("pass NULL cast to the customer key's type, e.g. NULL::bigint"),
            );
        }
        let customer_column = text_arg(fcinfo, 2, "customer_column");
        let ordered_at_column = text_arg(fcinfo, 3, "ordered_at_column");
        let amount_column = text_arg(fcinfo, 4, "amount_column");
        if pgrx::pg_arg_is_null(fcinfo, 5) {
            raise(Error::null_not_allowed("as_of").with_hint("pass the point in time to score, e.g. now() or '2025-01-01'"));
        }
        let as_of = pgrx::pg_getarg_datum_raw(fcinfo, 5).value() as i64;
        datum::check_finite(as_of, "as_of");
        let bins = required(
            (!pgrx::pg_arg_is_null(fcinfo, 6)).then(|| pgrx::pg_getarg_datum_raw(fcinfo, 6).value() as i32),
            "bins",
        );
        let bins_n = quantile::check_bins(bins).or_raise();
        let map = (!pgrx::pg_arg_is_null(fcinfo, 7)).then(|| text_arg(fcinfo, 7, "map"));
        let compiled = map.as_deref().map(|name| {
            let m = maps::load(name);
            if m.bins != bins {
                raise(
                    Error::invalid_parameter(format!("rfm segment map \"{name}\" scores 1..{}, but bins is {bins}", m.bins))
                        .with_hint(format!("pass bins => {}, a map made for {bins} bins, or map => NULL for no segment names", m.bins)),
                );
            }
            Compiled::new(&m)
        });

        // the columns: key (cast to key_type), time as timestamptz, amount
        let (relation, cols) = columns(oid);
        let (key_sql, key_col_type, key_att) = column(&cols, &relation, &customer_column, "customer_column");
        let (ts_sql, ts_type, ts_att) = column(&cols, &relation, &ordered_at_column, "ordered_at_column");
        let (amount_sql, amount_col_type, amount_att) = column(&cols, &relation, &amount_column, "amount_column");
        let ts_expr = match ts_type {
            pg_sys::TIMESTAMPTZOID => ts_sql.clone(),
            pg_sys::TIMESTAMPOID | pg_sys::DATEOID => format!("{ts_sql}::timestamptz"),
            other => raise(
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!("column \"{ordered_at_column}\" of {relation} is {}, not a timestamp", datum::type_name(other)),
                )
                .with_hint("pass a timestamptz, timestamp or date column as ordered_at_column"),
            ),
        };
        let native_amount = matches!(
            amount_col_type,
            pg_sys::NUMERICOID | pg_sys::FLOAT8OID | pg_sys::FLOAT4OID | pg_sys::INT8OID | pg_sys::INT4OID | pg_sys::INT2OID
        );
        let (amount_expr, amount_type) =
            if native_amount { (amount_sql, amount_col_type) } else { (format!("{amount_sql}::numeric"), pg_sys::NUMERICOID) };

        let int_keys = matches!(key_type, pg_sys::INT8OID | pg_sys::INT4OID | pg_sys::INT2OID);
        let mut scan = Scan {
            key_type,
            amount_type,
            as_of,
            byte_index: FxHashMap::default(),
            last_bytes: Vec::new(),
            last_index: u32::MAX,
            byte_keys: Vec::new(),
            offsets: datum::OffsetCache::new(),
            orders: Accumulator::start(as_of, datum::local_day(as_of), int_keys),
        };
        // the direct scan reads the columns as they are: only types that need no cast
        let direct_types = ts_type == pg_sys::TIMESTAMPTZOID && native_amount && key_reads_as(key_col_type, key_type);
        let started = std::time::Instant::now();
        let table = if direct_types { direct_scan::open(oid, &[key_att, ts_att, amount_att]) } else { None };
        let direct = table.is_some();
        if let Some(table) = table {
            scan.key_type = key_col_type;
            let read = table.scan([key_att, ts_att, amount_att], |values, nulls| {
                scan.row(values.as_ptr(), nulls.as_ptr());
                Ok::<(), std::convert::Infallible>(())
            });
            let _rows = read.unwrap_or_else(|never| match never {});
        } else {
            let key_expr = if key_col_type == key_type { key_sql } else { format!("{key_sql}::{}", datum::type_name(key_type)) };
            spi_scan(&mut scan, &format!("SELECT {key_expr}, {ts_expr}, {amount_expr} FROM {relation}"));
        }
        let Scan { orders, byte_keys, byte_index, .. } = scan;
        drop(byte_index);
        let Accumulated { customers, int_keys } = orders.finish().or_raise();
        let scanned = started.elapsed();

        // cut points
        let n = customers.len();
        let recency: Vec<f64> = (0..n).filter_map(|i| customers.recency_days(i)).collect();
        let frequency: Vec<f64> = (0..n).map(|i| customers.totals(i).orders as f64).filter(|&f| f > 0.0).collect();
        let monetary: Vec<f64> = (0..n).filter_map(|i| customers.monetary(i)).collect();
        let r_breaks = dimension_breaks("recency", recency, bins_n, true);
        let f_breaks = dimension_breaks("frequency", frequency, bins_n, false);
        let m_breaks = dimension_breaks("monetary", monetary, bins_n, false);
        let scored = started.elapsed();

        // the result set: one row per customer, prepared on a worker thread while the backend writes the rows
        let mut rows = customers.finish_in_background(move |rfm| Prepared::new(rfm, [&r_breaks, &f_breaks, &m_breaks]));
        pg_sys::InitMaterializedSRF(fcinfo, 0);
        let rsinfo = (*fcinfo).resultinfo as *mut pg_sys::ReturnSetInfo;
        let (store, tupdesc) = ((*rsinfo).setResult, (*rsinfo).setDesc);
        let mut labels = Labels::new(bins, compiled.as_ref());
        let row_memory = Scratch::new(c"rfm_segments row");
        let mut datums = [pg_sys::Datum::from(0usize); COLUMNS];
        let mut numerics: [datum::NumericBuffer; 2] = Default::default();
        let mut nulls = [false; COLUMNS];
        let mut i = 0;
        while let Some(chunk) = rows.next_chunk() {
            for row in chunk {
                let [rs, fs, ms] = row.scores;
                {
                    let _back = row_memory.enter();
                    let (cell, segment) = match (rs, fs, ms) {
                        (Some(rs), Some(fs), Some(ms)) => {
                            let (cell, segment) = labels.get(rs, fs, ms);
                            (Some(cell), segment)
                        }
                        _ => (None, None),
                    };
                    let mut values: [Option<pg_sys::Datum>; COLUMNS] = [None; COLUMNS];
                    values[0] = Some(key_datum(&int_keys, &byte_keys, key_type, i));
                    values[1..12].copy_from_slice(&rfm_values_with(&row.rfm, false, &mut |slot, _| {
                        let (bytes, len) = &row.numerics[slot];
                        datum::numeric_datum_in(&mut numerics[slot], &bytes[..*len])
                    }));
                    values[12] = rs.map(pg_sys::Datum::from);
                    values[13] = fs.map(pg_sys::Datum::from);
                    values[14] = ms.map(pg_sys::Datum::from);
                    values[15] = cell;
                    values[16] = segment;
                    for (k, v) in values.iter().enumerate() {
                        datums[k] = v.unwrap_or(pg_sys::Datum::from(0usize));
                        nulls[k] = v.is_none();
                    }
                    pg_sys::tuplestore_putvalues(store, tupdesc, datums.as_mut_ptr(), nulls.as_mut_ptr());
                }
                if i % 1024 == 1023 {
                    row_memory.reset();
                    pgrx::check_for_interrupts!();
                }
                i += 1;
            }
        }
        drop(row_memory);
        pgrx::debug1!(
            "rfm_segments: {} customers; scan {:.0} ms ({}), cut points {:.0} ms, rows {:.0} ms",
            n,
            scanned.as_secs_f64() * 1e3,
            if direct { "direct" } else { "SPI" },
            (scored - scanned).as_secs_f64() * 1e3,
            (started.elapsed() - scored).as_secs_f64() * 1e3
        );
        RawDatum(pg_sys::Datum::from(0usize))
    }
}

/// The result columns: customer, the 11 `rfm` fields, 3 scores, cell, segment.
const COLUMNS: usize = 17;

/// What the worker thread prepares of one customer's row: its `rfm`, its
/// scores and the bytes of its two numerics (monetary, avg_order_value).
struct Prepared {
    rfm: Rfm,
    scores: [Option<i32>; 3],
    numerics: [([u8; NUMERIC_MAX_BYTES], usize); 2],
}

impl Prepared {
    /// Scores by the cut points of recency (reversed: recent is high), frequency, monetary.
    fn new(rfm: Rfm, cuts: [&Option<Vec<f64>>; 3]) -> Prepared {
        let score = |x: Option<f64>, cuts: &Option<Vec<f64>>, reverse| match (x, cuts) {
            (Some(x), Some(c)) => Some(quantile::score(x, c, reverse)),
            _ => None,
        };
        let scores = [
            score(rfm.recency_days, cuts[0], true),
            score(Some(rfm.frequency as f64), cuts[1], false),
            score(rfm.monetary.map(Decimal::to_f64), cuts[2], false),
        ];
        let bytes = |d: Option<Decimal>| d.map_or(([0; NUMERIC_MAX_BYTES], 0), Decimal::numeric_bytes);
        let numerics = [bytes(rfm.monetary), bytes(rfm.avg_order_value)];
        Prepared { rfm, scores, numerics }
    }
}

/// Whether a key column of type `column` reads as `key_type` without a cast
/// that could change or reject a value: the same type, a narrower integer, or
/// text and varchar (the same bytes).
fn key_reads_as(column: pg_sys::Oid, key_type: pg_sys::Oid) -> bool {
    let int_width = |t| match t {
        pg_sys::INT2OID => 2,
        pg_sys::INT4OID => 4,
        pg_sys::INT8OID => 8,
        _ => 0,
    };
    let text = |t| matches!(t, pg_sys::TEXTOID | pg_sys::VARCHAROID);
    column == key_type
        || (int_width(column) > 0 && int_width(key_type) >= int_width(column))
        || (text(column) && text(key_type))
}

/// Runs `query` through SPI as the caller, handing every row to `scan`.
unsafe fn spi_scan(scan: &mut Scan, query: &str) {
    unsafe {
        let mut receiver = Receiver {
            base: pg_sys::DestReceiver {
                receiveSlot: Some(receive_slot),
                rStartup: Some(startup),
                rShutdown: Some(noop),
                rDestroy: Some(noop),
                mydest: pg_sys::CommandDest::DestNone,
            },
            scan,
        };
        let sql = std::ffi::CString::new(query).expect("identifiers are quoted, no NUL");
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            raise(Error::internal("SPI_connect failed"));
        }
        let options = pg_sys::SPIExecuteOptions { read_only: true, dest: &mut receiver.base, ..Default::default() };
        let rc = pg_sys::SPI_execute_extended(sql.as_ptr(), &options);
        if rc < 0 {
            raise(Error::internal(format!("SPI_execute_extended failed: {rc}")));
        }
        pg_sys::SPI_finish();
    }
}

/// The `rfm_cell` and `segment` datums of score triples, made once per triple
/// when bins ≤ 9 (at most 729 of them; tuplestore_putvalues copies them).
struct Labels<'a> {
    bins: i32,
    map: Option<&'a Compiled>,
    cached: Vec<Option<(pg_sys::Datum, Option<pg_sys::Datum>)>>,
    context: pg_sys::MemoryContext,
}

impl<'a> Labels<'a> {
    fn new(bins: i32, map: Option<&'a Compiled>) -> Labels<'a> {
        let cached = if bins <= 9 { vec![None; (bins * bins * bins) as usize] } else { Vec::new() };
        Labels { bins, map, cached, context: unsafe { pg_sys::CurrentMemoryContext } }
    }

    fn make(&self, rs: i32, fs: i32, ms: i32) -> (pg_sys::Datum, Option<pg_sys::Datum>) {
        let cell = if self.bins <= 9 { format!("{rs}{fs}{ms}") } else { format!("{rs}-{fs}-{ms}") };
        (text_datum(&cell), self.map.map(|c| text_datum(c.segment(rs, fs, ms))))
    }

    /// The cell and segment of a triple (in the row memory when not cached).
    fn get(&mut self, rs: i32, fs: i32, ms: i32) -> (pg_sys::Datum, Option<pg_sys::Datum>) {
        if self.cached.is_empty() {
            return self.make(rs, fs, ms);
        }
        let b = self.bins;
        let at = (((rs - 1) * b + (fs - 1)) * b + (ms - 1)) as usize;
        if let Some(made) = self.cached[at] {
            return made;
        }
        let made = unsafe {
            let _back = memory_context::switch_to(self.context);
            self.make(rs, fs, ms)
        };
        self.cached[at] = Some(made);
        made
    }
}

pgrx::extension_sql_file!("../../../sql/rfm_segments.sql", name = "rfm_segments", requires = ["rfm_segment_maps"]);
