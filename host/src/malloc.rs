//! How many malloc arenas the exporter's threads share.
//!
//! glibc gives threads up to eight arenas per core, and memory freed in one
//! arena is kept there for that arena's next allocations. The exporter
//! allocates in bursts on whichever thread serves a scrape or a call
//! (a guest's output, the merged exposition), so with many arenas each one
//! keeps its own high-water mark. In three minutes of `bench/soak.sh`
//! (reloads, faulting guests, two scrapers) on two cores, RSS rose from
//! 118 to 156 MiB and was still rising at the end; with two arenas, two
//! runs peaked at 132 and 146 MiB and ended at 129 and 110 MiB.

/// Limits glibc to one arena per core (at least two, at most eight) unless
/// `MALLOC_ARENA_MAX` says otherwise. Call before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let arenas = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        // SAFETY: mallopt only sets an allocator parameter; no other thread
        // exists yet to allocate concurrently.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas as libc::c_int);
        }
    }
}
