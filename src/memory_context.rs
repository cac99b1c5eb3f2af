//! Scratch memory contexts for per-row or per-batch allocations, and switching
//! into a context so that the previous one comes back even when an error
//! unwinds. Shared by the row loops of `rfm_segments` and the direct scan.

use pgrx::pg_sys;
use std::ffi::CStr;

/// A memory context made under the current one, reset by its owner between
/// rows or batches and deleted when dropped.
pub struct Scratch(pg_sys::MemoryContext);

impl Scratch {
    pub fn new(name: &'static CStr) -> Scratch {
        unsafe {
            Scratch(pg_sys::AllocSetContextCreateInternal(
                pg_sys::CurrentMemoryContext,
                name.as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            ))
        }
    }

    /// Frees everything allocated in it so far.
    pub fn reset(&self) {
        unsafe { pg_sys::MemoryContextReset(self.0) };
    }

    /// Makes it the current context until the returned guard is dropped.
    pub fn enter(&self) -> Restore {
        unsafe { switch_to(self.0) }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        unsafe { pg_sys::MemoryContextDelete(self.0) };
    }
}

/// Restores the memory context that was current before [`switch_to`] when dropped.
pub struct Restore(pg_sys::MemoryContext);

/// Makes `to` the current memory context until the guard is dropped.
///
/// # Safety
/// `to` must be a live memory context that outlives the guard.
pub unsafe fn switch_to(to: pg_sys::MemoryContext) -> Restore {
    unsafe {
        let back = Restore(pg_sys::CurrentMemoryContext);
        pg_sys::CurrentMemoryContext = to;
        back
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        unsafe { pg_sys::CurrentMemoryContext = self.0 };
    }
}
