//! Large buffers (the matrix, the per-row labels and bounds) asked to be
//! backed by 2 MB pages where Linux gives them on request
//! (`/sys/kernel/mm/transparent_hugepage/enabled` = `madvise`, Debian's
//! default): filling a 128 MB matrix then takes 64 page faults instead of
//! 32,768, which was a quarter of the time spent loading it.

/// The size of a huge page on x86-64 and arm64 Linux.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Smaller buffers are left alone: glibc serves them from its heap once a
/// fit has freed one of their size (its mmap threshold rises up to 32 MB),
/// where they are reused without page faults (a 16 MB buffer fills in 3.4 ms
/// advised or not, `huge_pages_timing`), and the load at 10⁶ × 4 (a 16 MB
/// matrix) looked slower advised in single benchmark runs.
#[cfg(target_os = "linux")]
const SMALLEST: usize = 32 << 20;

/// Asks for the whole 2 MB pages within `v`'s capacity, when it holds at
/// least 32 MB, to be backed by huge pages (a hint: nothing changes where the
/// kernel does not offer them, and nothing at all on other systems). Call it
/// before the memory is written.
pub fn advise<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes >= SMALLEST {
            advise_bytes(v.as_ptr() as usize, bytes);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// The advice for the whole 2 MB pages within `bytes` from `start`, whatever the size.
#[cfg(target_os = "linux")]
fn advise_bytes(start: usize, bytes: usize) {
    let (from, to) = (start.next_multiple_of(HUGE_PAGE), (start + bytes) / HUGE_PAGE * HUGE_PAGE);
    if to > from {
        // SAFETY: callers pass a range within one allocation, and MADV_HUGEPAGE changes no contents
        unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
    }
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

#[cfg(all(test, target_os = "linux"))]
mod timing {
    /// Filling a fresh 16 / 64 / 128 MB buffer with and without the advice (medians of 15;
    /// 16 MB is advised too here, to show why [`super::advise`] leaves it alone):
    /// `cargo test --release --lib huge_pages_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn huge_pages_timing() {
        for mb in [16usize, 64, 128] {
            let n = (mb << 20) / 4;
            let mut times = [Vec::new(), Vec::new()];
            for round in 0..30 {
                let advised = round % 2 == 1;
                let started = std::time::Instant::now();
                let mut v: Vec<f32> = Vec::with_capacity(n);
                if advised {
                    super::advise_bytes(v.as_ptr() as usize, n * 4);
                }
                v.extend((0..n).map(|i| i as f32));
                std::hint::black_box(&v);
                drop(v);
                times[usize::from(advised)].push(started.elapsed().as_secs_f64() * 1000.0);
            }
            let median = |t: &mut Vec<f64>| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            };
            let (plain, huge) = (median(&mut times[0]), median(&mut times[1]));
            println!("{mb} MB: 4 KB pages {plain:.1} ms, 2 MB pages {huge:.1} ms");
        }
    }
}
