//! How the process asks glibc for memory.
//!
//! glibc's malloc gives each thread that allocates under contention an arena
//! of its own (up to 8 per core), and memory freed into one arena is never
//! handed to another. tracker's file readers, blocking store writers and
//! query workers are many short-lived threads passing buffers between them,
//! so a backfill of 1 M events peaked at 313 MiB of which ~180 were free
//! pages stranded in arenas. One arena per core kept the peak at 137 MiB;
//! two per core now that a backfill allocates less: ~150 MiB, and 7 % less
//! CPU time on 2 cores, where one per core had the readers and the store's
//! writer waking each other on arena locks (numbers in BENCHMARKS.md).

/// Caps glibc's malloc arenas at two per core (at least four). Call first in `main`, before any
/// thread starts; elsewhere (musl, other systems) it does nothing.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas =
            libc::c_int::try_from(cores.saturating_mul(2).max(4)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a malloc tunable; no thread but this
        // one exists yet. A refusal (0) leaves glibc's default, which is
        // only a memory cost.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
