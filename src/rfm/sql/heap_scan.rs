//! A direct scan of a plain table for `rfm_segments`' one pass.
//!
//! Why: running `SELECT key, at, amount FROM t` through SPI costs an executor
//! with a projection per row and a guarded callback into Rust per row; reading
//! the table's slots directly does neither. It is used only when it reads
//! exactly the rows and checks exactly the privileges the `SELECT` would: a
//! plain table (not a view, partitioned or foreign table, no inheritance
//! children), no row-level security for the current user, and SELECT on the
//! table or on each of the columns read. Anything else goes through SPI, which
//! applies views, policies and raises the usual 42501.

use pgrx::pg_sys;

/// A plain table, locked, that the current user may read directly.
pub struct Table(pg_sys::Relation);

/// The table `oid` when it may be read directly (see the module comment).
pub fn open(oid: pg_sys::Oid, attnums: &[i16]) -> Option<Table> {
    unsafe {
        let user = pg_sys::GetUserId();
        let may_select = pg_sys::pg_class_aclcheck(oid, user, pg_sys::ACL_SELECT as pg_sys::AclMode)
            == pg_sys::AclResult::ACLCHECK_OK
            || attnums.iter().all(|&a| {
                pg_sys::pg_attribute_aclcheck(oid, a, user, pg_sys::ACL_SELECT as pg_sys::AclMode)
                    == pg_sys::AclResult::ACLCHECK_OK
            });
        if !may_select
            || !pg_sys::ActiveSnapshotSet() // always set in a query; the SPI path would take its own
            || pg_sys::check_enable_rls(oid, pg_sys::InvalidOid, true) == pg_sys::CheckEnableRlsResult::RLS_ENABLED as std::ffi::c_int
        {
            return None;
        }
        // the lock the SELECT would take, kept to the end of the transaction as the executor does
        let rel = pg_sys::table_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let form = (*rel).rd_rel;
        if (*form).relkind as u8 != pg_sys::RELKIND_RELATION || (*form).relhassubclass {
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            return None;
        }
        Some(Table(rel))
    }
}

/// Restores the memory context when dropped (also when an error unwinds).
struct Switched(pg_sys::MemoryContext);

impl Drop for Switched {
    fn drop(&mut self) {
        unsafe { pg_sys::CurrentMemoryContext = self.0 };
    }
}

/// Rows between interrupt checks (and resets of the rows' memory).
const BATCH: u32 = 4096;

impl Table {
    /// Calls `row` with the values and NULL flags of the columns `attnums`
    /// (1-based) of every row visible to the active snapshot, in a memory
    /// context reset every few thousand rows (detoasted values live there).
    pub fn scan<const N: usize>(self, attnums: [i16; N], mut row: impl FnMut(&[pg_sys::Datum; N], &[bool; N])) {
        unsafe {
            let rel = self.0;
            let last = i32::from(attnums.iter().copied().max().unwrap_or(0));
            let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
            let scan = pg_sys::table_beginscan(rel, pg_sys::GetActiveSnapshot(), 0, std::ptr::null_mut());
            let rows_memory = pg_sys::AllocSetContextCreateInternal(
                pg_sys::CurrentMemoryContext,
                c"rfm_segments scan".as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            );
            let mut values = [pg_sys::Datum::from(0usize); N];
            let mut nulls = [false; N];
            let mut n: u32 = 0;
            while pg_sys::table_scan_getnextslot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
                if i32::from((*slot).tts_nvalid) < last {
                    pg_sys::slot_getsomeattrs_int(slot, last);
                }
                for (k, &a) in attnums.iter().enumerate() {
                    let i = (a - 1) as usize;
                    values[k] = *(*slot).tts_values.add(i);
                    nulls[k] = *(*slot).tts_isnull.add(i);
                }
                {
                    let _back = Switched(pg_sys::CurrentMemoryContext);
                    pg_sys::CurrentMemoryContext = rows_memory;
                    row(&values, &nulls);
                }
                n += 1;
                if n == BATCH {
                    n = 0;
                    pg_sys::MemoryContextReset(rows_memory);
                    pgrx::check_for_interrupts!();
                }
            }
            pg_sys::table_endscan(scan);
            pg_sys::ExecDropSingleTupleTableSlot(slot);
            pg_sys::MemoryContextDelete(rows_memory);
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        }
    }
}
