//! Large buffers (the matrix, the per-row labels and bounds) asked to be
//! backed by 2 MB pages where Linux gives them on request
//! (`/sys/kernel/mm/transparent_hugepage/enabled` = `madvise`, Debian's
//! default): filling a 128 MB matrix then takes 64 page faults instead of
//! 32,768, which was a quarter of the time spent loading it.

/// The size of a huge page on x86-64 and arm64 Linux.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Asks for the whole 2 MB pages within `v`'s capacity to be backed by huge
/// pages (a hint: nothing changes where the kernel does not offer them, and
/// nothing at all on other systems). Call it before the memory is written.
pub fn advise<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        let start = v.as_ptr() as usize;
        let end = start + v.capacity() * std::mem::size_of::<T>();
        let (from, to) = (start.next_multiple_of(HUGE_PAGE), end / HUGE_PAGE * HUGE_PAGE);
        if to > from {
            // SAFETY: the range lies within the vector's allocation, and MADV_HUGEPAGE changes no contents
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// `n` copies of `value`, in memory advised as in [`advise`].
pub fn filled<T: Clone>(value: T, n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    advise(&v);
    v.resize(n, value);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_holds_the_values_whatever_the_size() {
        for n in [0, 1, 1000, (4 << 20) + 3] {
            let v = filled(7u32, n);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|&x| x == 7));
        }
        let mut v: Vec<f32> = Vec::with_capacity(3 << 20);
        advise(&v);
        v.extend((0..3 << 20).map(|i| i as f32));
        assert_eq!(v[(3 << 20) - 1], ((3 << 20) - 1) as f32);
    }
}
