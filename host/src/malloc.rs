//! How glibc's allocator keeps freed memory: how many arenas the
//! exporter's threads share, and from what size an allocation gets pages
//! of its own that go back to the kernel when it is freed.
//!
//! **Arenas.** glibc gives threads up to eight arenas per core, and memory
//! freed in one arena is kept there for that arena's next allocations. The
//! exporter allocates in bursts on whichever thread serves a scrape or a
//! call (a guest's output, the merged exposition), so with many arenas each
//! one keeps its own high-water mark. In three minutes of `bench/soak.sh`
//! (reloads, faulting guests, two scrapers) on two cores, RSS rose from
//! 118 to 156 MiB and was still rising at the end; with two arenas, two
//! runs peaked at 132 and 146 MiB and ended at 129 and 110 MiB.
//!
//! **Large allocations.** glibc serves an allocation of at least
//! `M_MMAP_THRESHOLD` bytes (128 KiB at first) with a mapping of its own,
//! unmapped when freed; but each time such a block is freed it raises the
//! threshold to that block's size, up to 32 MiB. Loading a plugin reads its
//! component (10-20 MB for Python or JavaScript) and wasmtime's metadata
//! into such blocks: after the first, the threshold is above them, the next
//! ones come from an arena and, once freed, stay there. An exporter with
//! ten Python plugins kept 54 MiB of anonymous memory after loading them,
//! 19 MiB with the threshold fixed at 1 MiB (a fixed threshold stops the
//! adjusting). 1 MiB rather than 128 KiB: a scrape's buffers (exposition,
//! guest output) stay below it and keep coming from the arena, without a
//! mapping and page faults of their own each time.

/// The size from which an allocation is mapped on its own and returned to
/// the kernel when freed.
const MMAP_THRESHOLD: usize = 1 << 20;

/// Starts a thread that hands the memory freed in glibc's arenas back to
/// the kernel (`malloc_trim`) every `period`, for the life of the process.
///
/// For a process that frees much and needs its peak low, like the child
/// compiling a component: freed memory between live blocks stays resident
/// in the arenas otherwise, and only the top of the heap is ever returned.
pub fn trim_every(period: std::time::Duration) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(period);
            // SAFETY: malloc_trim only returns free pages to the kernel; it
            // takes the arenas' locks like any allocation does.
            unsafe { libc::malloc_trim(0) };
        }
    });
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = period;
}

/// Limits glibc to one arena per core (at least two, at most eight) and
/// fixes the mmap threshold at `MMAP_THRESHOLD`, each unless
/// `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` says otherwise. Call
/// before any thread starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        set_unless_overridden("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, arenas);
        set_unless_overridden(
            "MALLOC_MMAP_THRESHOLD_",
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD,
        );
    }
}

/// Sets glibc's `param` to `value` unless the operator set it with the
/// environment variable `env`, which glibc reads itself.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_unless_overridden(env: &str, param: libc::c_int, value: usize) {
    if std::env::var_os(env).is_some() {
        return;
    }
    let value = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets an allocator parameter; `tune` runs before
    // any other thread exists to allocate concurrently.
    unsafe {
        libc::mallopt(param, value);
    }
}
