//! The kernel's filesystems, which no grant exposes raw.
//!
//! procfs shows every process on the host, the exporter's own among them:
//! `/proc/self/environ` holds its environment and `/proc/self/mem` its heap,
//! with the other modules' parameters, the basic-auth hashes and the TLS key.
//! sysfs and its neighbours hold firmware tables, debug interfaces and
//! device memory. So, whatever the grant:
//!
//! - the exporter's own process (`self`, `thread-self`, its pid and its
//!   threads' ids) is always refused, except `net/` and `mounts`, which are
//!   what `/proc/net` and `/proc/mounts` link to and show the namespace, not
//!   the process;
//! - other processes' entries (`/proc/<pid>`) and the known-dangerous files
//!   below are invisible under a directory grant; only a file or glob grant
//!   that names them reaches them (and the exporter warns at load);
//! - debugfs, tracefs, securityfs, bpffs, efivarfs, configfs and pstore are
//!   invisible under a directory grant.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

/// Files at the top of procfs that are never shown under a directory grant:
/// kernel memory, the kernel log, the magic SysRq trigger, kernel symbol
/// addresses (which defeat KASLR when read as root), physical page flags,
/// the key rings.
pub const DANGEROUS_PROC: &[&str] = &[
    "kcore",
    "kmsg",
    "sysrq-trigger",
    "kallsyms",
    "kpagecount",
    "kpageflags",
    "kpagecgroup",
    "keys",
    "key-users",
    "timer_list",
    "sched_debug",
    "vmallocinfo",
    "iomem",
    "ioports",
];

/// Entries of a process directory that expose its memory, environment,
/// descriptors or code: named in the load-time warning for grants that
/// reach other processes.
pub const DANGEROUS_PROCESS_ENTRIES: &[&str] = &[
    "environ",
    "mem",
    "maps",
    "smaps",
    "pagemap",
    "auxv",
    "cmdline",
    "fd",
    "fdinfo",
    "map_files",
    "root",
    "cwd",
    "exe",
    "stack",
    "syscall",
];

/// Directories of sysfs never shown under a directory grant.
const DANGEROUS_SYS: &[&str] = &[
    "firmware",
    "kernel/debug",
    "kernel/security",
    "kernel/tracing",
    "kernel/config",
];

/// Which filesystem a file is on, from `statfs`'s magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    /// procfs.
    Proc,
    /// sysfs.
    Sys,
    /// A kernel filesystem that is never shown under a directory grant.
    Hidden(&'static str),
    /// Anything else.
    Other,
}

impl FsKind {
    /// procfs or sysfs: every file and symlink in them is the kernel's,
    /// none is a device, FIFO or socket.
    pub fn is_kernel_made(self) -> bool {
        matches!(self, FsKind::Proc | FsKind::Sys)
    }

    /// Classifies `statfs`'s `f_type`.
    pub fn from_magic(magic: u64) -> FsKind {
        match magic {
            0x9fa0 => FsKind::Proc,
            0x6265_6572 => FsKind::Sys,
            0x6462_6720 => FsKind::Hidden("debugfs"),
            0x7472_6163 => FsKind::Hidden("tracefs"),
            0x7363_6673 => FsKind::Hidden("securityfs"),
            0xcafe_4a11 => FsKind::Hidden("bpffs"),
            0xde5e_81e4 => FsKind::Hidden("efivarfs"),
            0x6265_6570 => FsKind::Hidden("configfs"),
            0x6165_676c => FsKind::Hidden("pstore"),
            _ => FsKind::Other,
        }
    }
}

/// Why a path on a kernel filesystem is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protected {
    /// The exporter's own process: refused whatever the grant.
    OwnProcess,
    /// Another process's entries: hidden under directory grants.
    ProcessEntry,
    /// A known-dangerous file or directory: hidden under directory grants.
    Dangerous(String),
}

impl Protected {
    /// Whether even an explicit file grant cannot reach it.
    pub fn always(&self) -> bool {
        matches!(self, Protected::OwnProcess)
    }

    /// Why, for the operator.
    pub fn reason(&self) -> String {
        match self {
            Protected::OwnProcess => "the exporter's own process is never visible to a guest".into(),
            Protected::ProcessEntry => {
                "process entries of procfs are hidden under a directory grant (grant the file explicitly)".into()
            }
            Protected::Dangerous(what) => {
                format!("{what} is hidden under a directory grant (grant the file explicitly)")
            }
        }
    }
}

/// Where procfs and sysfs are mounted, and which process is the exporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFs {
    proc_mounts: Vec<PathBuf>,
    sys_mounts: Vec<PathBuf>,
    own_pid: u32,
}

impl KernelFs {
    /// Reads the mount table of the exporter's mount namespace. Without it
    /// (no procfs at all), `/proc` and `/sys` are assumed.
    pub fn discover() -> KernelFs {
        KernelFs::from_mounts(&super::mounts::read())
    }

    /// Where procfs and sysfs are in `mounts`.
    pub fn from_mounts(mounts: &[super::mounts::Mount]) -> KernelFs {
        let points = |fstype: &str, default: &str| {
            let found: Vec<PathBuf> = mounts
                .iter()
                .filter(|m| m.fstype == fstype)
                .map(|m| m.point.clone())
                .collect();
            if found.is_empty() {
                vec![PathBuf::from(default)]
            } else {
                found
            }
        };
        KernelFs {
            proc_mounts: points("proc", "/proc"),
            sys_mounts: points("sysfs", "/sys"),
            own_pid: std::process::id(),
        }
    }

    /// The exporter's process id.
    pub fn own_pid(&self) -> u32 {
        self.own_pid
    }

    /// Whether `path` is under a procfs mount (by its name alone).
    pub fn is_proc_path(&self, path: &Path) -> bool {
        longest_mount(&self.proc_mounts, path).is_some()
    }

    /// Maps the exporter's own `<pid>/net/...` and `<pid>/mounts` back to
    /// `net/...` and `mounts`, the names `/proc/net` and `/proc/mounts`
    /// link to. Everything else is returned as it is.
    pub fn alias<'a>(&self, path: &'a Path, fs: FsKind) -> Cow<'a, Path> {
        if fs != FsKind::Proc {
            return Cow::Borrowed(path);
        }
        let Some((mount, rel)) = longest_mount(&self.proc_mounts, path) else {
            return Cow::Borrowed(path);
        };
        let mut parts = rel.components();
        let (Some(Component::Normal(first)), Some(Component::Normal(second))) =
            (parts.next(), parts.next())
        else {
            return Cow::Borrowed(path);
        };
        let own = first
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .is_some_and(|pid| self.is_own_task(pid));
        if own && (second == "net" || second == "mounts") {
            let mut aliased = mount.join(second);
            aliased.extend(parts);
            return Cow::Owned(aliased);
        }
        Cow::Borrowed(path)
    }

    /// The protection that applies to `path` (already aliased), a file on
    /// a filesystem of kind `fs`.
    pub fn protection(&self, path: &Path, fs: FsKind) -> Option<Protected> {
        match fs {
            FsKind::Hidden(name) => {
                Some(Protected::Dangerous(format!("{name} ({})", path.display())))
            }
            FsKind::Proc => match longest_mount(&self.proc_mounts, path) {
                Some((_, rel)) => self.proc_protection(rel),
                // procfs where the mount table did not show it: refuse
                // rather than guess which part is a process.
                None => Some(Protected::Dangerous(
                    "procfs at a mount point the exporter does not know".into(),
                )),
            },
            FsKind::Sys => match longest_mount(&self.sys_mounts, path) {
                Some((_, rel)) => sys_protection(rel),
                None => None,
            },
            FsKind::Other => None,
        }
    }

    /// The protection of a path inside procfs, `rel` being relative to its
    /// mount point. Also used on names (listings, load-time checks of
    /// grants), where `self` and `thread-self` appear as themselves.
    pub fn proc_protection(&self, rel: &Path) -> Option<Protected> {
        let first = match rel.components().next() {
            Some(Component::Normal(first)) => first.to_str().unwrap_or(""),
            _ => return None,
        };
        if first == "self" || first == "thread-self" {
            return Some(Protected::OwnProcess);
        }
        if let Ok(pid) = first.parse::<u32>() {
            if self.is_own_task(pid) {
                return Some(Protected::OwnProcess);
            }
            return Some(Protected::ProcessEntry);
        }
        if DANGEROUS_PROC.contains(&first) {
            return Some(Protected::Dangerous(format!("/proc/{first}")));
        }
        None
    }

    /// Whether `pid` is the exporter or one of its threads. Threads have
    /// ids of their own, reachable as `/proc/<tid>` though not listed.
    fn is_own_task(&self, pid: u32) -> bool {
        pid == self.own_pid
            || self
                .proc_mounts
                .first()
                .is_some_and(|proc| proc.join("self/task").join(pid.to_string()).exists())
    }
}

fn sys_protection(rel: &Path) -> Option<Protected> {
    for dir in DANGEROUS_SYS {
        if rel.starts_with(dir) {
            return Some(Protected::Dangerous(format!("/sys/{dir}")));
        }
    }
    // Device memory and configuration space of PCI devices: reading an
    // expansion ROM switches it on, and config space reads can have side
    // effects on some hardware.
    if rel.starts_with("devices")
        && rel
            .components()
            .any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with("pci")))
        && let Some(name) = rel.file_name().and_then(|n| n.to_str())
        && (name == "rom" || name == "config" || name.starts_with("resource"))
    {
        return Some(Protected::Dangerous(format!("PCI device file {name}")));
    }
    None
}

/// The longest mount point of `mounts` that holds `path`, and the rest.
fn longest_mount<'p>(mounts: &'p [PathBuf], path: &'p Path) -> Option<(&'p Path, &'p Path)> {
    mounts
        .iter()
        .filter_map(|m| path.strip_prefix(m).ok().map(|rel| (m.as_path(), rel)))
        .max_by_key(|(m, _)| m.as_os_str().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kfs() -> KernelFs {
        KernelFs {
            proc_mounts: vec![PathBuf::from("/proc")],
            sys_mounts: vec![PathBuf::from("/sys")],
            own_pid: std::process::id(),
        }
    }

    #[test]
    fn own_process_is_always_protected_but_net_is_the_namespace() {
        let k = kfs();
        let own = format!("/proc/{}/environ", std::process::id());
        assert_eq!(
            k.protection(Path::new(&own), FsKind::Proc),
            Some(Protected::OwnProcess)
        );
        let net = format!("/proc/{}/net/dev", std::process::id());
        let aliased = k.alias(Path::new(&net), FsKind::Proc);
        assert_eq!(aliased, Path::new("/proc/net/dev"));
        assert_eq!(k.protection(&aliased, FsKind::Proc), None);
        // Another process's net is that process's entry, not an alias.
        let other = Path::new("/proc/1/net/dev");
        assert_eq!(k.alias(other, FsKind::Proc), other);
        assert_eq!(
            k.protection(other, FsKind::Proc),
            Some(Protected::ProcessEntry)
        );
    }

    #[test]
    fn dangerous_files_and_filesystems() {
        let k = kfs();
        for p in ["/proc/kcore", "/proc/kmsg", "/proc/sysrq-trigger"] {
            assert!(
                matches!(
                    k.protection(Path::new(p), FsKind::Proc),
                    Some(Protected::Dangerous(_))
                ),
                "{p}"
            );
        }
        assert_eq!(k.protection(Path::new("/proc/meminfo"), FsKind::Proc), None);
        assert!(
            k.protection(Path::new("/sys/firmware/acpi/tables/DSDT"), FsKind::Sys)
                .is_some()
        );
        assert!(
            k.protection(
                Path::new("/sys/devices/pci0000:00/0000:00:02.0/rom"),
                FsKind::Sys
            )
            .is_some()
        );
        assert_eq!(
            k.protection(
                Path::new("/sys/devices/virtual/net/lo/statistics/rx_bytes"),
                FsKind::Sys
            ),
            None
        );
        assert!(
            k.protection(
                Path::new("/sys/kernel/debug/x"),
                FsKind::from_magic(0x6462_6720)
            )
            .is_some()
        );
        assert_eq!(FsKind::from_magic(0xef53), FsKind::Other);
    }

    #[test]
    fn discovers_real_mounts() {
        let k = KernelFs::discover();
        assert!(k.is_proc_path(Path::new("/proc/meminfo")));
    }
}
