//! State a function keeps per call site (per `FmgrInfo`) between rows.
//!
//! `SELECT f('x', c) FROM t` calls `f` once per row through one `FmgrInfo`;
//! what `f` loads once for the query (a compiled ruleset, a fitted profile,
//! a model) lives in `fn_extra`, allocated with the call site's memory
//! context so PostgreSQL frees it (and runs its destructor) with the query.

use pgrx::{pg_sys, PgMemoryContexts};

/// The call site's state: the existing one if `is_current` accepts it, else
/// a fresh one from `load` (replacing the old one in place).
///
/// # Safety
/// `fcinfo` must be the current call's, and every caller sharing that call
/// site's `fn_extra` must use the same `T` (one function, one state type).
pub unsafe fn state<'a, T>(fcinfo: pg_sys::FunctionCallInfo, is_current: impl FnOnce(&T) -> bool, load: impl FnOnce() -> T) -> &'a mut T {
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let existing = (*flinfo).fn_extra as *mut T;
        if !existing.is_null() && is_current(&*existing) {
            return &mut *existing;
        }
        let fresh = load();
        if existing.is_null() {
            let state = PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(fresh);
            (*flinfo).fn_extra = state.cast();
            &mut *state
        } else {
            *existing = fresh;
            &mut *existing
        }
    }
}
