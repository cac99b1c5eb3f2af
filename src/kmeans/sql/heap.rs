//! Reading one column of a plain table with a direct table scan: the fast path
//! of `load` for `real[]` / `float8[]` columns (no executor, no SPI tuple copies;
//! about a third of the SPI cursor's time per row).
//!
//! Taken only where it returns exactly what the caller's `SELECT col FROM rel`
//! would: a plain table without inheritance children (or a populated
//! materialized view), no row-level security in force for the caller, and
//! SELECT privilege on the table or the column. Everything else (views,
//! partitioned and foreign tables, RLS, a missing privilege, which the SPI path
//! then reports with its usual error) goes through SPI. Rows come in physical
//! order under the current query's snapshot, as the cursor's sequential scan
//! gives them; synchronized scans are off, so the order (and so the fit) never
//! depends on another backend scanning the same table.

use crate::error::Result;
use pgrx::pg_sys;
use std::ffi::CString;

/// Rows between interrupt checks.
const CHECK_EVERY: u64 = 4096;

/// The column's attribute number when `relation` can be read directly by the caller.
pub fn direct_column(relation: pg_sys::Oid, column: &str) -> Option<pg_sys::AttrNumber> {
    let name = CString::new(column).ok()?;
    unsafe {
        let attnum = pg_sys::get_attnum(relation, name.as_ptr());
        if attnum <= 0 {
            return None;
        }
        if pg_sys::check_enable_rls(relation, pg_sys::InvalidOid, true) == pg_sys::CheckEnableRlsResult::RLS_ENABLED as std::ffi::c_int {
            return None;
        }
        let user = pg_sys::GetUserId();
        let select = pg_sys::ACL_SELECT as pg_sys::AclMode;
        if pg_sys::pg_class_aclcheck(relation, user, select) != pg_sys::AclResult::ACLCHECK_OK
            && pg_sys::pg_attribute_aclcheck(relation, attnum, user, select) != pg_sys::AclResult::ACLCHECK_OK
        {
            return None;
        }
        Some(attnum)
    }
}

/// Scans `relation` (which [`direct_column`] accepted) and hands each row's
/// value of `attnum` (None: NULL) to `each_row`, stopping at its first error.
/// Returns None, without reading, when the relation is not a plain table
/// without children or a populated materialized view (the caller uses SPI).
pub fn scan_column(
    relation: pg_sys::Oid,
    attnum: pg_sys::AttrNumber,
    mut each_row: impl FnMut(Option<pg_sys::Datum>) -> Result<()>,
) -> Option<Result<u64>> {
    unsafe {
        // the lock SPI's scan would take, kept to the end of the transaction as it would be
        let rel = pg_sys::table_open(relation, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let form = &*(*rel).rd_rel;
        let plain = form.relkind == pg_sys::RELKIND_RELATION as std::ffi::c_char && !form.relhassubclass;
        let populated_view = form.relkind == pg_sys::RELKIND_MATVIEW as std::ffi::c_char && form.relispopulated;
        if !(plain || populated_view) || i32::from(attnum) > (*(*rel).rd_att).natts {
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            return None;
        }
        let scan = pg_sys::table_beginscan_strat(rel, pg_sys::GetActiveSnapshot(), 0, std::ptr::null_mut(), true, false);
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
        let mut rows = 0u64;
        let mut result = Ok(());
        while pg_sys::table_scan_getnextslot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
            rows += 1;
            if rows % CHECK_EVERY == 0 {
                pgrx::check_for_interrupts!();
            }
            let mut isnull = false;
            let datum = pg_sys::slot_getattr(slot, i32::from(attnum), &mut isnull);
            result = each_row((!isnull).then_some(datum));
            if result.is_err() {
                break;
            }
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        Some(result.map(|()| rows))
    }
}
