//! Composite values (a whole-row Datum such as `c` in `FROM customers c`).

use pgrx::pg_sys;

/// Deforms a composite value into `values` / `nulls` (one slot per
/// attribute of `tupdesc`).
///
/// # Safety
/// `header` must be a detoasted composite value of `tupdesc`'s row type, and
/// `values` / `nulls` must have room for every attribute of `tupdesc`.
pub unsafe fn deform(header: pg_sys::HeapTupleHeader, tupdesc: pg_sys::TupleDesc, values: &mut [pg_sys::Datum], nulls: &mut [bool]) {
    unsafe {
        debug_assert!(values.len() >= (*tupdesc).natts as usize && nulls.len() >= (*tupdesc).natts as usize);
        let mut tuple = pg_sys::HeapTupleData {
            t_len: pgrx::heap_tuple_header_get_datum_length(header) as u32,
            t_self: pg_sys::ItemPointerData::default(),
            t_tableOid: pg_sys::InvalidOid,
            t_data: header,
        };
        pg_sys::heap_deform_tuple(&mut tuple, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
    }
}
