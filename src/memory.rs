//! How the process asks glibc for memory.
//!
//! glibc's malloc gives each thread that allocates under contention an arena
//! of its own (up to 8 per core), and memory freed into one arena is never
//! handed to another. tracker's file readers, blocking store writers and
//! query workers are many short-lived threads passing buffers between them,
//! so a backfill of 1 M events peaked at 313 MiB of which ~180 were free
//! pages stranded in arenas. One arena per core keeps the peak at 137 MiB
//! for the same CPU time (numbers in BENCHMARKS.md).

/// Caps glibc's malloc arenas at one per core (at least two, so that two
/// busy threads do not queue on one lock). Call first in `main`, before any
/// thread starts; elsewhere (musl, other systems) it does nothing.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a malloc tunable; no thread but this
        // one exists yet. A refusal (0) leaves glibc's default, which is
        // only a memory cost.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
