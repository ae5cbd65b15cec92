//! The `process_*` metrics of the exporter's own process, the families
//! every Prometheus client library serves under the same names.
//!
//! Gathered on every scrape, so they are read the cheap way: one read of
//! `/proc/self/stat` (CPU, memory, threads), `getrlimit` for the descriptor
//! limit, and the size the kernel reports for `/proc/self/fd` (its entry
//! count, since Linux 6.2; counted by listing it on older kernels). The
//! `prometheus` crate's collector opened and parsed `/proc/self/limits` as
//! well, which cost about 9 % of the exporter's CPU under load.
//!
//! Both procfs files are opened once and kept: a `pread` of the open
//! `/proc/self/stat` takes 2.6 µs where opening, reading and closing it took
//! 9 µs (the open looks the process up and walks the path each time), and
//! `fstat` of a kept `O_PATH` descriptor of `/proc/self/fd` 0.3 µs where
//! `stat` by name took 1.9 µs.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use rustix::fd::OwnedFd;

use crate::model::{Family, Kind};

/// What one family is and how it is read from a [`Sample`].
struct Described {
    name: &'static str,
    help: &'static str,
    counter: bool,
    value: fn(&Sample) -> Option<f64>,
}

const FAMILIES: [Described; 7] = [
    Described {
        name: "process_cpu_seconds_total",
        help: "Total user and system CPU time spent in seconds.",
        counter: true,
        value: |s| s.stat.as_ref().map(|t| t.cpu_seconds),
    },
    Described {
        name: "process_open_fds",
        help: "Number of open file descriptors.",
        counter: false,
        value: |s| s.open_fds,
    },
    Described {
        name: "process_max_fds",
        help: "Maximum number of open file descriptors.",
        counter: false,
        value: |s| s.max_fds,
    },
    Described {
        name: "process_virtual_memory_bytes",
        help: "Virtual memory size in bytes.",
        counter: false,
        value: |s| s.stat.as_ref().map(|t| t.virtual_bytes),
    },
    Described {
        name: "process_resident_memory_bytes",
        help: "Resident memory size in bytes.",
        counter: false,
        value: |s| s.stat.as_ref().map(|t| t.resident_bytes),
    },
    Described {
        name: "process_start_time_seconds",
        help: "Start time of the process since unix epoch in seconds.",
        counter: false,
        value: |s| s.start_time,
    },
    Described {
        name: "process_threads",
        help: "Number of OS threads in the process.",
        counter: false,
        value: |s| s.stat.as_ref().map(|t| t.threads),
    },
];

/// The names of the families, reserved for the exporter.
pub fn names() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().map(|f| f.name)
}

/// The exporter's process figures, read on every scrape.
pub struct ProcessMetrics {
    /// Fixed for the life of the process, so read once.
    start_time: Option<f64>,
    ticks_per_second: f64,
    page_size: f64,
    /// `/proc/self/stat`, once it could be opened (tried again on every
    /// reading until then).
    stat: OnceLock<File>,
    /// `/proc/self/fd` as an `O_PATH` descriptor, likewise.
    fd_dir: OnceLock<OwnedFd>,
}

/// One reading.
struct Sample {
    stat: Option<Stat>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
    start_time: Option<f64>,
}

/// What `/proc/self/stat` says.
#[derive(Debug, Clone, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    threads: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
    /// Clock ticks from boot to the start of the process.
    start_ticks: f64,
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessMetrics {
    /// The figures of the calling process.
    pub fn new() -> Self {
        // SAFETY: sysconf only reads a configuration value.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let ticks_per_second = if ticks > 0 { ticks as f64 } else { 100.0 };
        let page_size = if page > 0 { page as f64 } else { 4096.0 };
        let mut metrics = Self {
            start_time: None,
            ticks_per_second,
            page_size,
            stat: OnceLock::new(),
            fd_dir: OnceLock::new(),
        };
        metrics.start_time = match (boot_time(), metrics.read_stat()) {
            (Some(boot), Some(stat)) => Some(boot + stat.start_ticks / ticks_per_second),
            _ => None,
        };
        metrics
    }

    fn sample(&self) -> Sample {
        Sample {
            stat: self.read_stat(),
            open_fds: self.open_fds(),
            max_fds: rustix::process::getrlimit(rustix::process::Resource::Nofile)
                .current
                .map(|n| n as f64),
            start_time: self.start_time,
        }
    }

    /// Reads `/proc/self/stat` from its start with one `pread` into a
    /// buffer on the stack (several where the kernel gives less).
    fn read_stat(&self) -> Option<Stat> {
        let file = kept(&self.stat, || File::open("/proc/self/stat").ok())?;
        let mut buf = [0u8; 1024];
        let mut len = 0;
        while len < buf.len() {
            match file.read_at(&mut buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        parse_stat(
            std::str::from_utf8(&buf[..len]).ok()?,
            self.ticks_per_second,
            self.page_size,
        )
    }

    /// Open descriptors: the size of `/proc/self/fd`, or its entries
    /// counted where the kernel reports no size (before Linux 6.2).
    fn open_fds(&self) -> Option<f64> {
        use rustix::fs::{Mode, OFlags};
        let dir = kept(&self.fd_dir, || {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            rustix::fs::open("/proc/self/fd", flags, Mode::empty()).ok()
        })?;
        let stat = rustix::fs::fstat(dir).ok()?;
        if stat.st_size > 0 {
            return Some(stat.st_size as f64);
        }
        // The listing's own descriptor is not counted.
        let entries = std::fs::read_dir("/proc/self/fd").ok()?.count();
        Some(entries.saturating_sub(1) as f64)
    }
}

impl ProcessMetrics {
    /// Reads the figures now and appends one family per figure that could
    /// be read.
    pub fn families(&self, out: &mut Vec<Family>) {
        let sample = self.sample();
        out.extend(FAMILIES.iter().filter_map(|f| {
            let value = (f.value)(&sample)?;
            let kind = if f.counter {
                Kind::Counter
            } else {
                Kind::Gauge
            };
            Some(Family::own_single(f.name, f.help, kind, value))
        }));
    }
}

/// The descriptor `cell` keeps, opened by `open` if it is not yet.
fn kept<T>(cell: &OnceLock<T>, open: impl FnOnce() -> Option<T>) -> Option<&T> {
    if let Some(kept) = cell.get() {
        return Some(kept);
    }
    // Two first readings at once may both open it; the one not kept is
    // closed when dropped.
    let _ = cell.set(open()?);
    cell.get()
}

/// Parses the fields after the command name, which is in parentheses and
/// may itself hold spaces and parentheses (so the last `)` ends it).
fn parse_stat(text: &str, ticks_per_second: f64, page_size: f64) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // Field n of proc_pid_stat(5) is at index n - 3 here (state is field 3).
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field =
        |n: usize| -> Option<f64> { fields.get(n - 3)?.parse::<u64>().ok().map(|v| v as f64) };
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) / ticks_per_second,
        threads: field(20)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_size,
    })
}

/// Seconds since the epoch at boot: `btime` of `/proc/stat`.
fn boot_time() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|v| v as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Series;

    #[test]
    fn parses_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 7 0 1234 104857600 2560 18446744073709551615";
        let stat = parse_stat(line, 100.0, 4096.0).unwrap();
        assert_eq!(
            stat,
            Stat {
                cpu_seconds: 3.0,
                threads: 7.0,
                start_ticks: 1234.0,
                virtual_bytes: 104857600.0,
                resident_bytes: 2560.0 * 4096.0,
            }
        );
        assert_eq!(parse_stat("4242 (truncated", 100.0, 4096.0), None);
        assert_eq!(parse_stat("4242 (x) S 1 2", 100.0, 4096.0), None);
    }

    #[test]
    fn reads_this_process() {
        let metrics = ProcessMetrics::new();
        let mut families = Vec::new();
        metrics.families(&mut families);
        let names: Vec<&str> = families.iter().map(|f| &*f.name).collect();
        assert_eq!(names, super::names().collect::<Vec<_>>());
        let value = |name: &str| {
            let f = families.iter().find(|f| f.name == name).unwrap();
            assert_eq!(f.kind == Kind::Counter, name.ends_with("_total"), "{name}");
            match f.series[..] {
                [
                    Series {
                        value: crate::model::Value::Number(v),
                        ..
                    },
                ] => v,
                _ => panic!("{name}: {:?}", f.series),
            }
        };
        let held: Vec<std::fs::File> = (0..3)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        let with_more = ProcessMetrics::new().sample().open_fds.unwrap();
        drop(held);
        // The kept descriptors read the figures of now, not of their open.
        let before = metrics.sample().stat.unwrap().cpu_seconds;
        // 100 ms of this thread's own CPU, however the tests share the cores.
        let cpu_ns = || {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
            t.tv_sec * 1_000_000_000 + t.tv_nsec
        };
        let spin = cpu_ns();
        while cpu_ns() < spin + 100_000_000 {
            std::hint::black_box(spin);
        }
        let after = metrics.sample().stat.unwrap().cpu_seconds;
        assert!(after >= before + 0.05, "{before} -> {after} CPU seconds");
        assert!(with_more >= 4.0, "{with_more} descriptors open");
        assert!(value("process_threads") >= 1.0);
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_max_fds") >= with_more);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started > now - 86400.0 * 365.0 && started <= now + 1.0,
            "{started}"
        );
    }
}
