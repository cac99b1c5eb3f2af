//! `rfm_segments(orders, key_type, ...)`: the whole RFM job in one call.
//!
//! One pass over the orders (a plain `SELECT` through SPI as the caller, so
//! privileges and row-level security apply) streams rows into a receiver that
//! accumulates each customer densely (a hash from key to index, one
//! [`Summary`] per customer — the same arithmetic as `rfm_agg`); then exact
//! O(n) cut points per dimension, scores, cells and segment names. No
//! `GROUP BY`, no sorts.

use super::agg::rfm_values;
use super::datum::{self, RawDatum};
use super::maps::{self, Compiled};
use super::scores::report_empty_bins;
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, SqlState};
use crate::extension_schema::quote_ident;
use crate::rfm::quantile;
use crate::rfm::summary::{Rfm, Summary};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts};
use rustc_hash::FxHashMap;

/// Customer keys: integers by value, text and uuid by their bytes.
enum Keys {
    Int(FxHashMap<i64, u32>),
    Bytes(FxHashMap<Box<[u8]>, u32>),
}

/// What the receiver accumulates.
struct Scan {
    key_type: pg_sys::Oid,
    amount_type: pg_sys::Oid,
    as_of: i64,
    as_of_day: i32,
    keys: Keys,
    /// local days of order times (the scan's own cache: no thread-local per row)
    offsets: datum::OffsetCache,
    /// key of each customer, in first-seen order (integers, or bytes)
    int_keys: Vec<i64>,
    byte_keys: Vec<Box<[u8]>>,
    customers: Vec<Summary>,
}

impl Scan {
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
            let key = *values;
            let index = match &mut self.keys {
                Keys::Int(map) => {
                    let k = match self.key_type {
                        pg_sys::INT4OID => i64::from(key.value() as i32),
                        pg_sys::INT2OID => i64::from(key.value() as i16),
                        _ => key.value() as i64,
                    };
                    let next = self.customers.len() as u32;
                    let index = *map.entry(k).or_insert(next);
                    if index == next {
                        self.int_keys.push(k);
                    }
                    index
                }
                Keys::Bytes(map) => {
                    let bytes: &[u8] = if self.key_type == pg_sys::UUIDOID {
                        std::slice::from_raw_parts(key.cast_mut_ptr::<u8>(), 16)
                    } else {
                        datum::varlena_bytes(key)
                    };
                    match map.get(bytes) {
                        Some(&index) => index,
                        None => {
                            let index = self.customers.len() as u32;
                            map.insert(bytes.into(), index);
                            self.byte_keys.push(bytes.into());
                            index
                        }
                    }
                }
            };
            if index as usize == self.customers.len() {
                self.customers.push(Summary::new(self.as_of, self.as_of_day, false));
            }
            let amount = if *nulls.add(2) { None } else { Some(datum::amount(*values.add(2), self.amount_type)) };
            let day = self.offsets.day(at);
            self.customers[index as usize].add(at, day, amount).or_raise();
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
fn columns(oid: pg_sys::Oid) -> (String, Vec<(String, pg_sys::Oid)>) {
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
            "SELECT a.attname::text, a.atttypid FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            None,
            &[oid.into()],
        ))
        .map(|row| (spi(row.get::<String>(1)).unwrap_or_default(), spi(row.get::<pg_sys::Oid>(2)).unwrap_or_default()))
        .collect();
        (name, cols)
    })
}

/// The SELECT list entry of a column: quoted, cast when its type needs it.
fn column(cols: &[(String, pg_sys::Oid)], relation: &str, name: &str, argument: &str) -> (String, pg_sys::Oid) {
    match cols.iter().find(|(n, _)| n == name) {
        Some((n, t)) => (quote_ident(n), *t),
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

/// The per-customer result columns.
fn key_datum(scan: &Scan, i: usize) -> pg_sys::Datum {
    unsafe {
        match scan.key_type {
            pg_sys::INT8OID => pg_sys::Datum::from(scan.int_keys[i]),
            pg_sys::INT4OID => pg_sys::Datum::from(scan.int_keys[i] as i32),
            pg_sys::INT2OID => pg_sys::Datum::from(scan.int_keys[i] as i16),
            pg_sys::UUIDOID => {
                let p = pg_sys::palloc(16) as *mut u8;
                std::ptr::copy_nonoverlapping(scan.byte_keys[i].as_ptr(), p, 16);
                pg_sys::Datum::from(p)
            }
            _ => {
                let b = &scan.byte_keys[i];
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

        // the query: key (cast to key_type), time as timestamptz, amount
        let (relation, cols) = columns(oid);
        let (key_sql, key_col_type) = column(&cols, &relation, &customer_column, "customer_column");
        let (ts_sql, ts_type) = column(&cols, &relation, &ordered_at_column, "ordered_at_column");
        let (amount_sql, amount_col_type) = column(&cols, &relation, &amount_column, "amount_column");
        let key_expr = if key_col_type == key_type { key_sql } else { format!("{key_sql}::{}", datum::type_name(key_type)) };
        let ts_expr = match ts_type {
            pg_sys::TIMESTAMPTZOID => ts_sql,
            pg_sys::TIMESTAMPOID | pg_sys::DATEOID => format!("{ts_sql}::timestamptz"),
            other => raise(
                Error::new(
                    SqlState::DatatypeMismatch,
                    format!("column \"{ordered_at_column}\" of {relation} is {}, not a timestamp", datum::type_name(other)),
                )
                .with_hint("pass a timestamptz, timestamp or date column as ordered_at_column"),
            ),
        };
        let (amount_expr, amount_type) = match amount_col_type {
            pg_sys::NUMERICOID | pg_sys::FLOAT8OID | pg_sys::FLOAT4OID | pg_sys::INT8OID | pg_sys::INT4OID | pg_sys::INT2OID => {
                (amount_sql, amount_col_type)
            }
            _ => (format!("{amount_sql}::numeric"), pg_sys::NUMERICOID),
        };
        let query = format!("SELECT {key_expr}, {ts_expr}, {amount_expr} FROM {relation}");

        let keys = if matches!(key_type, pg_sys::INT8OID | pg_sys::INT4OID | pg_sys::INT2OID) {
            Keys::Int(FxHashMap::default())
        } else {
            Keys::Bytes(FxHashMap::default())
        };
        let mut scan = Scan {
            key_type,
            amount_type,
            as_of,
            as_of_day: datum::local_day(as_of),
            keys,
            offsets: datum::OffsetCache::new(),
            int_keys: Vec::new(),
            byte_keys: Vec::new(),
            customers: Vec::new(),
        };
        let mut receiver = Receiver {
            base: pg_sys::DestReceiver {
                receiveSlot: Some(receive_slot),
                rStartup: Some(startup),
                rShutdown: Some(noop),
                rDestroy: Some(noop),
                mydest: pg_sys::CommandDest::DestNone,
            },
            scan: &mut scan,
        };
        let sql = std::ffi::CString::new(query).expect("identifiers are quoted, no NUL");
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            raise(Error::internal("SPI_connect failed"));
        }
        let options = pg_sys::SPIExecuteOptions {
            read_only: true,
            dest: &mut receiver.base,
            ..Default::default()
        };
        let rc = pg_sys::SPI_execute_extended(sql.as_ptr(), &options);
        if rc < 0 {
            raise(Error::internal(format!("SPI_execute_extended failed: {rc}")));
        }
        pg_sys::SPI_finish();
        drop(keys_done(&mut scan));

        // summaries, cut points, scores
        let results: Vec<Rfm> = scan.customers.iter().map(Summary::finish).collect();
        let recency: Vec<f64> = results.iter().filter_map(|r| r.recency_days).collect();
        let frequency: Vec<f64> = results.iter().filter(|r| r.frequency > 0).map(|r| r.frequency as f64).collect();
        let monetary: Vec<f64> = results.iter().filter_map(|r| r.monetary.map(|m| m.to_f64())).collect();
        let r_breaks = dimension_breaks("recency", recency, bins_n, true);
        let f_breaks = dimension_breaks("frequency", frequency, bins_n, false);
        let m_breaks = dimension_breaks("monetary", monetary, bins_n, false);

        // the result set
        pg_sys::InitMaterializedSRF(fcinfo, 0);
        let rsinfo = (*fcinfo).resultinfo as *mut pg_sys::ReturnSetInfo;
        let (store, tupdesc) = ((*rsinfo).setResult, (*rsinfo).setDesc);
        let mut row_memory = PgMemoryContexts::new("rfm_segments row");
        let mut cell = String::new();
        for (i, r) in results.iter().enumerate() {
            row_memory.reset();
            row_memory.switch_to(|_| {
                let score = |x: Option<f64>, cuts: &Option<Vec<f64>>, reverse| match (x, cuts) {
                    (Some(x), Some(c)) => Some(quantile::score(x, c, reverse)),
                    _ => None,
                };
                let rs = score(r.recency_days, &r_breaks, true);
                let fs = score(Some(r.frequency as f64), &f_breaks, false);
                let ms = score(r.monetary.map(|m| m.to_f64()), &m_breaks, false);
                let (cell_datum, segment_datum) = match (rs, fs, ms) {
                    (Some(rs), Some(fs), Some(ms)) => {
                        cell.clear();
                        if bins <= 9 {
                            cell.push_str(&format!("{rs}{fs}{ms}"));
                        } else {
                            cell.push_str(&format!("{rs}-{fs}-{ms}"));
                        }
                        (Some(text_datum(&cell)), compiled.as_ref().map(|c| text_datum(c.segment(rs, fs, ms))))
                    }
                    _ => (None, None),
                };
                let mut values: Vec<Option<pg_sys::Datum>> = Vec::with_capacity(17);
                values.push(Some(key_datum(&scan, i)));
                values.extend(rfm_values(r, false));
                values.push(rs.map(pg_sys::Datum::from));
                values.push(fs.map(pg_sys::Datum::from));
                values.push(ms.map(pg_sys::Datum::from));
                values.push(cell_datum);
                values.push(segment_datum);
                let mut datums: Vec<pg_sys::Datum> = values.iter().map(|v| v.unwrap_or(pg_sys::Datum::from(0usize))).collect();
                let mut nulls: Vec<bool> = values.iter().map(Option::is_none).collect();
                pg_sys::tuplestore_putvalues(store, tupdesc, datums.as_mut_ptr(), nulls.as_mut_ptr());
            });
            if i % 65536 == 0 {
                pgrx::check_for_interrupts!();
            }
        }
        RawDatum(pg_sys::Datum::from(0usize))
    }
}

/// Frees the key hash once the scan is over (the keys are kept in order).
fn keys_done(scan: &mut Scan) -> Keys {
    std::mem::replace(&mut scan.keys, Keys::Int(FxHashMap::default()))
}

pgrx::extension_sql_file!("../../../sql/rfm_segments.sql", name = "rfm_segments", requires = ["rfm_segment_maps"]);
