//! The process's file descriptor limit (`RLIMIT_NOFILE`), raised at start
//! from the soft limit to the hard one, as the Go runtime does for every Go
//! exporter. systemd starts services with a soft limit of 1024 and a far
//! higher hard limit; 1024 is soon used up by loopback connections.
//!
//! The soft limit, once raised, is the exporter's whole descriptor budget:
//! guest calls together may take at most half of it, and the HTTP side's
//! connection cap defaults to a quarter of it ([`default_max_connections`]),
//! which leaves room for listeners, log pipes, config and component files.

use std::io;

use rlimit::Resource;

/// Largest default connection cap, whatever the limit: each open connection
/// holds buffers as well as a descriptor.
pub const MAX_DEFAULT_CONNECTIONS: u64 = 16_384;

/// Smallest default connection cap.
pub const MIN_DEFAULT_CONNECTIONS: u64 = 16;

/// The descriptor limits before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimits {
    /// The soft limit the process was started with.
    pub before: u64,
    /// The soft limit now.
    pub soft: u64,
    /// The hard limit (the ceiling of the soft one).
    pub hard: u64,
}

/// Raises the soft limit to the hard limit (or, when the hard limit is
/// unlimited, to the kernel's `fs.nr_open`). Call it before anything opens
/// descriptors, so that every part of the exporter sees the same budget.
pub fn raise() -> io::Result<FdLimits> {
    let (before, hard) = Resource::NOFILE.get()?;
    let ceiling = if hard == rlimit::INFINITY {
        // Linux refuses a soft limit above fs.nr_open.
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(before.max(1 << 20))
    } else {
        hard
    };
    let soft = if before < ceiling {
        Resource::NOFILE.set(ceiling, hard)?;
        ceiling
    } else {
        before
    };
    Ok(FdLimits { before, soft, hard })
}

/// The soft limit in force now.
pub fn soft_limit() -> io::Result<u64> {
    Ok(Resource::NOFILE.get()?.0)
}

/// The default of `--web.max-connections`: a quarter of the soft limit,
/// within [`MIN_DEFAULT_CONNECTIONS`] and [`MAX_DEFAULT_CONNECTIONS`].
pub fn default_max_connections(soft: u64) -> usize {
    let cap = (soft / 4).clamp(MIN_DEFAULT_CONNECTIONS, MAX_DEFAULT_CONNECTIONS);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cap_is_a_bounded_quarter_of_the_limit() {
        assert_eq!(default_max_connections(1024), 256);
        assert_eq!(default_max_connections(20_000), 5_000);
        assert_eq!(default_max_connections(40), 16);
        assert_eq!(default_max_connections(1 << 20), 16_384);
        assert_eq!(default_max_connections(rlimit::INFINITY), 16_384);
    }

    #[test]
    fn raising_leaves_soft_at_hard() {
        let limits = raise().unwrap();
        assert!(limits.soft >= limits.before);
        assert_eq!(soft_limit().unwrap(), limits.soft);
        if limits.hard != rlimit::INFINITY {
            assert_eq!(limits.soft, limits.hard);
        }
    }
}
