//! Reading a relation row by row through an SPI cursor, as the caller.
//!
//! Queries run with the caller's privileges and row-level security (SECURITY
//! INVOKER). Rows arrive in batches; every batch's tuples and whatever reading
//! them allocates are freed before the next, so memory stays flat however big
//! the relation is.

use super::catalog::spi;
use super::datum::Reader;
use crate::error::{Error, Result, SqlState};
use crate::profile::spec::ColumnType;
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts};

const BATCH: i64 = 10_000;

/// A `regclass` argument (a relation's OID).
#[derive(Debug, Clone, Copy)]
pub struct RegClass(pub pg_sys::Oid);

unsafe impl<'fcx> ArgAbi<'fcx> for RegClass {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        RegClass(unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Oid>() }.unwrap_or(pg_sys::InvalidOid))
    }
}
pgrx::impl_sql_translatable!(RegClass, "regclass");

/// A relation as profile functions see it.
pub struct Relation {
    pub oid: pg_sys::Oid,
    /// As `regclass` prints it (qualified when not on search_path); safe in SQL.
    pub name: String,
    /// Columns in order, with their profile view and reader.
    pub columns: Vec<(String, ColumnType, Reader)>,
}

impl Relation {
    /// Looks the relation up: 42P01 when it is gone, 22023 when it has no rows to read.
    pub fn open(oid: pg_sys::Oid) -> Relation {
        let found = Spi::connect(|client| {
            let table = spi(client.select(
                "SELECT c.relkind::text, c.oid::regclass::text FROM pg_catalog.pg_class c WHERE c.oid = $1",
                Some(1),
                &[oid.into()],
            ));
            if table.is_empty() {
                return None;
            }
            let table = table.first();
            Some((spi(table.get::<String>(1)), spi(table.get::<String>(2))))
        });
        let Some((Some(kind), Some(name))) = found else {
            crate::error::sql::raise(
                Error::new(SqlState::UndefinedTable, format!("relation with OID {} does not exist", oid.to_u32()))
                    .with_hint("pass a table or view name, e.g. 'customers'::regclass"),
            )
        };
        if !matches!(kind.as_str(), "r" | "v" | "m" | "f" | "p") {
            crate::error::sql::raise(
                Error::invalid_parameter(format!("\"{name}\" is not a table, view or materialized view"))
                    .with_hint("pass the relation that holds one row per customer"),
            );
        }
        let columns = Spi::connect(|client| {
            let table = spi(client.select(
                "SELECT a.attname::text, a.atttypid FROM pg_catalog.pg_attribute a \
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                None,
                &[oid.into()],
            ));
            table
                .map(|row| {
                    let column = spi(row.get::<String>(1)).unwrap_or_default();
                    let type_oid = spi(row.get::<pg_sys::Oid>(2)).unwrap_or(pg_sys::InvalidOid);
                    let (column_type, reader) = Reader::for_type(type_oid);
                    (column, column_type, reader)
                })
                .collect()
        });
        Relation { oid, name, columns }
    }

    pub fn column(&self, name: &str) -> Option<&(String, ColumnType, Reader)> {
        self.columns.iter().find(|(n, _, _)| n == name)
    }

    /// The (name, type) list spec validation checks against.
    pub fn column_types(&self) -> Vec<(String, ColumnType)> {
        self.columns.iter().map(|(n, t, _)| (n.clone(), t.clone())).collect()
    }
}

/// Runs `query` and hands every row's values (None: NULL) to `each_row`;
/// returns how many rows there were.
pub fn scan(query: &str, mut each_row: impl FnMut(&[Option<pg_sys::Datum>]) -> Result<()>) -> Result<u64> {
    Spi::connect(|client| {
        let mut cursor = spi(client.try_open_cursor(query, &[]));
        let mut scratch = PgMemoryContexts::new("pg_segment profile scan");
        let mut rows = 0u64;
        let mut values: Vec<pg_sys::Datum> = Vec::new();
        let mut nulls: Vec<bool> = Vec::new();
        let mut row: Vec<Option<pg_sys::Datum>> = Vec::new();
        loop {
            let fetched = spi(cursor.fetch(BATCH));
            if fetched.is_empty() {
                break;
            }
            unsafe {
                let table = pg_sys::SPI_tuptable;
                let tupdesc = (*table).tupdesc;
                let natts = (*tupdesc).natts as usize;
                values.resize(natts, pg_sys::Datum::from(0usize));
                nulls.resize(natts, true);
                let count = (*table).numvals as usize;
                let result = scratch.switch_to(|_| {
                    for i in 0..count {
                        pg_sys::heap_deform_tuple(*(*table).vals.add(i), tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
                        row.clear();
                        row.extend(values.iter().zip(&nulls).map(|(v, n)| (!n).then_some(*v)));
                        each_row(&row)?;
                    }
                    Ok(())
                });
                scratch.reset();
                pg_sys::SPI_freetuptable(table);
                result?;
                rows += count as u64;
            }
            pgrx::check_for_interrupts!();
        }
        Ok(rows)
    })
}

/// A column name quoted for SQL.
pub fn quote(name: &str) -> String {
    crate::extension_schema::quote_ident(name)
}
