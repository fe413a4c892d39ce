//! A fast global allocator for programs built on lstm-lrp (feature `mimalloc`, on by default).
//!
//! burn's CPU backends allocate a fresh buffer for almost every tensor operation, ~1 MB each at
//! the benchmark's sizes. glibc's allocator serves such sizes from fresh pages and hands them
//! back, so the kernel zeroes pages all the time (up to a quarter of the run time in our
//! profiles). mimalloc, told to keep freed memory, reuses it instead. A library cannot choose the
//! allocator; the `lstm-lrp` binary and the benchmarks do, and applications can:
//!
//! ```standalone_crate
//! #[global_allocator]
//! static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;
//!
//! fn main() {
//!     lstm_lrp::alloc::keep_freed_memory();
//!     lstm_lrp::alloc::no_transparent_huge_pages();
//!     // … every allocation of the program now goes through mimalloc:
//!     let batch = vec![0.5f64; 1 << 17]; // 1 MiB
//!     assert_eq!(batch.iter().sum::<f64>(), 65536.0);
//! }
//! ```

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the mimalloc 3 headers vendored by `libmimalloc-sys` 0.1.49
/// (`mimalloc.h`, `enum mi_option_e`); the crate exports no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the operating system, so that the same pages
/// serve the next batch instead of being faulted in and zeroed again. Call it at the start of
/// `main`.
///
/// ```
/// use lstm_lrp::alloc::keep_freed_memory;
///
/// keep_freed_memory();
/// // Allocation works as before; freed blocks are now kept for reuse.
/// let buffers: Vec<Vec<f64>> = (0..4).map(|i| vec![i as f64; 1 << 17]).collect(); // 1 MiB each
/// drop(buffers);
/// let again = vec![1.0f64; 1 << 17];
/// assert_eq!(again.iter().sum::<f64>(), (1 << 17) as f64);
/// ```
pub fn keep_freed_memory() {
    // SAFETY: setting an option is a plain store; the mimalloc documentation asks for it to be
    // done before other threads allocate, which is the case at the start of `main`.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// `mi_option_allow_thp` in the same headers (see [`MI_OPTION_PURGE_DELAY`]).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Turns transparent huge pages off for this process (and tells mimalloc not to ask for them),
/// unless the user's `MIMALLOC_ALLOW_THP` says otherwise. For programs, at the start of `main`
/// with [`keep_freed_memory`]; not for a library loaded into another program (the Python
/// module), as the setting is the whole process's.
///
/// mimalloc marks its memory for huge pages by default. Where the kernel compacts memory to
/// find a huge page while the fault waits (`/sys/kernel/mm/transparent_hugepage/defrag` =
/// `madvise`, a common default), a fresh process's first batches stalled. `lstm-lrp explain` on
/// 1000 sequences at the benchmark shape (f32, a 2-core VM, `benches/README.md` §7, round 2g):
/// - with huge pages, 0.26–0.55 s of system time in a 0.69–0.84 s run while the machine was
///   busy;
/// - without them, 0.04–0.11 s in 0.46–0.54 s.
///
/// When the machine was quiet, both ran in 0.45–0.52 s, apart from one stall with huge pages.
/// A warm process, which reuses its memory, ran at the same speed either way.
///
/// ```
/// lstm_lrp::alloc::no_transparent_huge_pages();
/// let batch = vec![0.5f64; 1 << 18]; // 2 MiB, in ordinary pages
/// assert_eq!(batch.len(), 1 << 18);
/// ```
pub fn no_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // No `madvise(MADV_HUGEPAGE)` on the memory mimalloc maps from now on.
    // SAFETY: as in `keep_freed_memory`.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0) }
    // mimalloc reads the option once more only at its initialisation, which runs before `main`
    // (the runtime allocates first) and has by then advised its first arena, where every
    // allocation of a run comes from. The process-wide flag (Linux ≥ 3.15), checked at each
    // page fault, covers that arena too; it is what mimalloc itself sets when the option is
    // given by the environment.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of ours;
    // an error (an old kernel) leaves huge pages on, which is only slower.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, as it changes what it reads (tests of one binary share the process).
    #[test]
    fn the_option_index_is_mimallocs_allow_thp_and_the_process_turns_them_off() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return;
        }
        // allow_thp's default in the vendored mimalloc 3 is 1 on Linux (`src/options.c`); its
        // neighbours' defaults are 32 (page_cross_thread_max_reclaim) and 0
        // (minimal_purge_size), so a wrong index reads another value.
        // SAFETY: reading an option has no preconditions.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_ALLOW_THP) };
        assert_eq!(get(), 1);
        no_transparent_huge_pages();
        assert_eq!(get(), 0);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: PR_GET_THP_DISABLE reads the flag and touches no memory.
            let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(disabled, 1);
        }
    }

    #[test]
    fn the_option_index_is_mimallocs_purge_delay() {
        // purge_delay's default in the vendored mimalloc 3 is 1000 ms (`src/options.c`); a wrong
        // index would read another option's value.
        // SAFETY: reading an option has no preconditions.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000);
    }
}
