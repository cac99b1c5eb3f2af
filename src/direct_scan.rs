//! Direct scans of a plain table: reading a few columns of every row without
//! the executor, for `rfm_segments` and `kmeans_fit`'s one pass.
//!
//! Why: `SELECT a, b FROM t` through SPI costs an executor with a projection
//! and a guarded callback per row. Reading the table's slots directly does
//! neither; and rows are read in batches, so the per-call guard against
//! PostgreSQL errors (a `sigsetjmp`) is paid once per batch, not twice per row.
//!
//! Used only when it reads exactly the rows and checks exactly the privileges
//! the caller's `SELECT` would ([`open`]): a plain table without inheritance
//! children or a populated materialized view, no row-level security in force
//! for the current user, and SELECT on the table or on each column read.
//! Anything else (views, partitioned and foreign tables, RLS, a missing
//! privilege, which SPI then reports as the usual 42501) goes through SPI.
//! Rows come in physical order under the active snapshot; synchronized scans
//! are off, so the order never depends on another backend scanning the table.

use crate::heap_page::{Attribute, ColumnReader};
use crate::memory_context::Scratch;
use pgrx::pg_sys;
use std::ffi::c_int;

/// A table, locked, that the current user may read directly.
pub struct Table(pg_sys::Relation);

/// The table `oid` when its columns `attnums` (1-based) may be read directly
/// (see the module comment); None otherwise, without reading it.
pub fn open(oid: pg_sys::Oid, attnums: &[i16]) -> Option<Table> {
    unsafe {
        let user = pg_sys::GetUserId();
        let select = pg_sys::ACL_SELECT as pg_sys::AclMode;
        let may_select = pg_sys::pg_class_aclcheck(oid, user, select) == pg_sys::AclResult::ACLCHECK_OK
            || attnums.iter().all(|&a| pg_sys::pg_attribute_aclcheck(oid, a, user, select) == pg_sys::AclResult::ACLCHECK_OK);
        if !may_select
            || !pg_sys::ActiveSnapshotSet() // always set in a query; the SPI path would take its own
            || pg_sys::check_enable_rls(oid, pg_sys::InvalidOid, true) == pg_sys::CheckEnableRlsResult::RLS_ENABLED as c_int
        {
            return None;
        }
        // the lock the SELECT would take, kept to the end of the transaction as the executor does
        let rel = pg_sys::table_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let form = &*(*rel).rd_rel;
        let plain = form.relkind == pg_sys::RELKIND_RELATION as std::ffi::c_char && !form.relhassubclass;
        let populated_view = form.relkind == pg_sys::RELKIND_MATVIEW as std::ffi::c_char && form.relispopulated;
        let natts = (*(*rel).rd_att).natts;
        if !(plain || populated_view) || attnums.iter().any(|&a| a < 1 || i32::from(a) > natts) {
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            return None;
        }
        Some(Table(rel))
    }
}

/// Rows per batch (one guarded call each).
const BATCH_ROWS: usize = 1024;
/// Bytes of by-reference values copied per batch.
const ARENA_BYTES: usize = 256 * 1024;

/// How to copy one column out of a slot.
#[derive(Clone, Copy)]
struct Column {
    /// 0-based index in the slot
    index: usize,
    by_value: bool,
    /// `attlen`: > 0 fixed, -1 varlena, -2 cstring
    len: i16,
}

/// One batch of rows: values and NULL flags, by-reference values copied into
/// `arena` (the page they were on may be gone when the batch is handed over),
/// except in the last row when `last_row_live` (see [`fill`]).
struct Batch<const N: usize> {
    values: Vec<[pg_sys::Datum; N]>,
    nulls: Vec<[bool; N]>,
    arena: Vec<u64>,
}

/// What one [`fill`] did.
#[derive(Clone, Copy)]
struct Filled {
    rows: usize,
    /// the last row has by-reference values that were not copied (TOASTed, or
    /// the arena was full): they point into the slot, valid until the next fill
    last_row_live: bool,
    /// the scan is over
    done: bool,
}

unsafe extern "C" {
    // unguarded: called only inside one `pg_guard_ffi_boundary` per batch
    fn slot_getsomeattrs_int(slot: *mut pg_sys::TupleTableSlot, attnum: c_int);
}

/// The bytes a by-reference value occupies, when it can be copied as they are
/// (an untoasted varlena or a fixed-length value); None for TOASTed values and
/// C strings, which stay in the slot.
#[inline(always)]
unsafe fn plain_size(column: Column, p: *const u8) -> Option<usize> {
    unsafe {
        if column.len > 0 {
            return Some(column.len as usize);
        }
        if column.len != -1 {
            return None;
        }
        let first = *p;
        if first & 0x01 == 0x01 {
            // a 1-byte header (length in the upper 7 bits), or 0x01: a TOAST pointer
            return (first != 0x01).then_some((first >> 1) as usize);
        }
        if first & 0x03 == 0x00 {
            // a 4-byte header, not compressed
            return Some((u32::from_ne_bytes([first, *p.add(1), *p.add(2), *p.add(3)]) >> 2) as usize);
        }
        None // compressed inline
    }
}

/// Reads up to BATCH_ROWS rows into `batch` (whose Vecs have that capacity;
/// their lengths are set by the caller). Runs inside one guard: nothing here
/// owns anything with a destructor, and nothing panics.
#[inline(never)]
unsafe fn fill<const N: usize>(
    scan: pg_sys::TableScanDesc,
    slot: *mut pg_sys::TupleTableSlot,
    next: unsafe extern "C-unwind" fn(pg_sys::TableScanDesc, pg_sys::ScanDirection::Type, *mut pg_sys::TupleTableSlot) -> bool,
    last_attnum: c_int,
    columns: &[Column; N],
    values: *mut [pg_sys::Datum; N],
    nulls: *mut [bool; N],
    arena: *mut u8,
) -> Filled {
    unsafe {
        let mut used = 0usize;
        let mut filled = Filled { rows: 0, last_row_live: false, done: false };
        while filled.rows < BATCH_ROWS {
            if !next(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
                filled.done = true;
                break;
            }
            if i32::from((*slot).tts_nvalid) < last_attnum {
                slot_getsomeattrs_int(slot, last_attnum);
            }
            // built here and written whole: the batch's memory past its length is uninitialised
            let mut row_values = [pg_sys::Datum::from(0usize); N];
            let mut row_nulls = [false; N];
            for k in 0..N {
                let column = columns[k];
                let mut value = *(*slot).tts_values.add(column.index);
                let null = *(*slot).tts_isnull.add(column.index);
                if !null && !column.by_value {
                    let p = value.cast_mut_ptr::<u8>();
                    match plain_size(column, p) {
                        Some(size) if used + size <= ARENA_BYTES => {
                            let to = arena.add(used);
                            std::ptr::copy_nonoverlapping(p, to, size);
                            value = pg_sys::Datum::from(to);
                            used += (size + 7) & !7; // keep 8-byte alignment
                        }
                        _ => filled.last_row_live = true,
                    }
                }
                row_values[k] = value;
                row_nulls[k] = null;
            }
            values.add(filled.rows).write(row_values);
            nulls.add(filled.rows).write(row_nulls);
            filled.rows += 1;
            if filled.last_row_live {
                break;
            }
        }
        filled
    }
}

/// The catalog row of attribute `attnum` (1-based, dropped ones included) of
/// the open relation `rel`.
unsafe fn attribute<'r>(rel: pg_sys::Relation, attnum: i16) -> &'r pg_sys::FormData_pg_attribute {
    unsafe { &*(*(*rel).rd_att).attrs.as_ptr().add((attnum - 1) as usize) }
}

impl Table {
    /// Calls `row` with the values and NULL flags of the columns `attnums`
    /// (1-based) of every row visible to the active snapshot, stopping at its
    /// first error; returns the rows read. By-reference values are valid
    /// during the call only; `row` runs in a memory context reset every batch.
    pub fn scan<const N: usize, E>(
        self,
        attnums: [i16; N],
        mut row: impl FnMut(&[pg_sys::Datum; N], &[bool; N]) -> Result<(), E>,
    ) -> Result<u64, E> {
        unsafe {
            let rel = self.0;
            let columns: [Column; N] = attnums.map(|a| {
                let att = attribute(rel, a);
                Column { index: (a - 1) as usize, by_value: att.attbyval, len: att.attlen }
            });
            let last_attnum = c_int::from(attnums.iter().copied().max().unwrap_or(0));
            let next = (*(*rel).rd_tableam).scan_getnextslot.expect("a table access method can scan");
            let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
            let scan = pg_sys::table_beginscan_strat(rel, pg_sys::GetActiveSnapshot(), 0, std::ptr::null_mut(), true, false);
            let rows_memory = Scratch::new(c"direct scan rows");
            let mut batch: Batch<N> =
                Batch { values: Vec::with_capacity(BATCH_ROWS), nulls: Vec::with_capacity(BATCH_ROWS), arena: vec![0u64; ARENA_BYTES / 8] };
            let mut total = 0u64;
            let mut result = Ok(());
            loop {
                let (values, nulls, arena) = (batch.values.as_mut_ptr(), batch.nulls.as_mut_ptr(), batch.arena.as_mut_ptr() as *mut u8);
                let filled = pg_sys::ffi::pg_guard_ffi_boundary(|| fill(scan, slot, next, last_attnum, &columns, values, nulls, arena));
                batch.values.set_len(filled.rows);
                batch.nulls.set_len(filled.rows);
                {
                    let _back = rows_memory.enter();
                    for (v, n) in batch.values.iter().zip(&batch.nulls) {
                        result = row(v, n);
                        if result.is_err() {
                            break;
                        }
                    }
                }
                total += filled.rows as u64;
                batch.values.clear();
                batch.nulls.clear();
                rows_memory.reset();
                if filled.done || result.is_err() {
                    break;
                }
                pgrx::check_for_interrupts!();
            }
            pg_sys::table_endscan(scan);
            pg_sys::ExecDropSingleTupleTableSlot(slot);
            drop(rows_memory);
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            result.map(|()| total)
        }
    }
}

/// A heap table read a page at a time: PostgreSQL finds each page's visible
/// tuples (`heapgetpage`: buffer, pruning, visibility and serializable checks,
/// as a sequential scan does) and the caller reads one column of them from the
/// page's bytes ([`crate::heap_page`]), with no slot and no call per row.
/// Pages come in physical order (synchronized scans off), so rows are in the
/// same order as [`Table::scan`]'s.
pub struct PageScan {
    rel: pg_sys::Relation,
    scan: pg_sys::HeapScanDesc,
    next_block: pg_sys::BlockNumber,
    attnum: i16,
}

/// The page [`PageScan::next`] moved to: pinned until the next call.
pub struct ScanPage<'s> {
    pub bytes: &'s [u8],
    /// line pointers of the tuples visible to the snapshot
    pub visible: &'s [u16],
}

impl Table {
    /// Reads the table a page at a time, with a reader for column `attnum`;
    /// gives the table back when that does not apply (another table access
    /// method, a snapshot that is not MVCC, a big-endian build).
    pub fn pages(self, attnum: i16) -> Result<(PageScan, ColumnReader), Table> {
        unsafe {
            let rel = self.0;
            if !crate::heap_page::SUPPORTED || (*rel).rd_tableam != pg_sys::GetHeapamTableAmRoutine() {
                return Err(self);
            }
            let scan = pg_sys::table_beginscan_strat(rel, pg_sys::GetActiveSnapshot(), 0, std::ptr::null_mut(), true, false)
                as pg_sys::HeapScanDesc;
            if (*scan).rs_base.rs_flags & pg_sys::ScanOptions::SO_ALLOW_PAGEMODE == 0 {
                pg_sys::table_endscan(scan.cast());
                return Err(self);
            }
            let attributes = (1..=attnum)
                .map(|a| {
                    let att = attribute(rel, a);
                    Attribute::from_catalog(att.attlen, att.attalign as u8)
                })
                .collect();
            Ok((PageScan { rel, scan, next_block: 0, attnum }, ColumnReader::new(attributes)))
        }
    }
}

impl PageScan {
    /// Moves to the next page with visible tuples ([`Self::page`]); false at
    /// the end. Checks for interrupts.
    pub fn next(&mut self) -> bool {
        unsafe {
            let scan = &mut *self.scan;
            while self.next_block < scan.rs_nblocks {
                // reads and pins the page (unpinning the previous one), checks visibility, CHECK_FOR_INTERRUPTS
                pg_sys::heapgetpage(self.scan.cast(), self.next_block);
                self.next_block += 1;
                if scan.rs_ntuples > 0 {
                    return true;
                }
            }
            false
        }
    }

    /// The current page (see [`Self::next`]).
    pub fn page(&self) -> ScanPage<'_> {
        unsafe {
            let scan = &*self.scan;
            let page = pg_sys::BufferGetPage(scan.rs_cbuf) as *const u8;
            ScanPage {
                bytes: std::slice::from_raw_parts(page, pg_sys::BLCKSZ as usize),
                visible: &scan.rs_vistuples[..scan.rs_ntuples as usize],
            }
        }
    }

    /// The column's value in the tuple at line pointer `offset` of the current
    /// page, through PostgreSQL (for what `ColumnReader` cannot read: TOASTed
    /// and compressed values, columns added after the row was written); NULL
    /// as None. Valid until the next page.
    pub fn value(&self, offset: u16) -> Option<pg_sys::Datum> {
        unsafe {
            let scan = &*self.scan;
            let page = pg_sys::BufferGetPage(scan.rs_cbuf);
            let item = pg_sys::PageGetItemId(page, offset);
            let mut tuple = pg_sys::HeapTupleData {
                t_len: (*item).lp_len(),
                t_self: std::mem::zeroed(),
                t_tableOid: (*self.rel).rd_id,
                t_data: pg_sys::PageGetItem(page, item) as pg_sys::HeapTupleHeader,
            };
            let mut null = false;
            let datum = pg_sys::heap_getattr(&mut tuple, self.attnum.into(), (*self.rel).rd_att, &mut null);
            (!null).then_some(datum)
        }
    }

    /// Ends the scan. On an error the transaction's abort releases the scan,
    /// its pin and the lock.
    pub fn finish(self) {
        unsafe {
            pg_sys::table_endscan(self.scan.cast());
            pg_sys::table_close(self.rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::heap_page::*;
    use pgrx::pg_sys;
    use std::mem::offset_of;

    #[test]
    fn heap_page_offsets_are_postgresql_s() {
        assert_eq!(PAGE_HEADER_BYTES, offset_of!(pg_sys::PageHeaderData, pd_linp));
        assert_eq!(PD_UPPER_AT, offset_of!(pg_sys::PageHeaderData, pd_upper));
        assert_eq!(INFOMASK2_AT, offset_of!(pg_sys::HeapTupleHeaderData, t_infomask2));
        assert_eq!(INFOMASK_AT, offset_of!(pg_sys::HeapTupleHeaderData, t_infomask));
        assert_eq!(HOFF_AT, offset_of!(pg_sys::HeapTupleHeaderData, t_hoff));
        assert_eq!(BITS_AT, offset_of!(pg_sys::HeapTupleHeaderData, t_bits));
        assert_eq!(std::mem::size_of::<pg_sys::ItemIdData>(), 4);
    }
}
