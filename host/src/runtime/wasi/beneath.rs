//! Resolving a guest's path on the host: the kernel walks it beneath the
//! directory it is opened through (`openat2` with `RESOLVE_BENEATH`), `..`
//! and symlinks included, without opening the file itself (`O_PATH`: no
//! FIFO blocks, no device driver runs). What it leads to is then judged, and
//! only a granted regular file or directory is opened, through the very
//! descriptor that was judged, so nothing can be swapped in between.
//!
//! Needs Linux 5.6 (`openat2`) and procfs at `/proc` in the exporter's own
//! mount namespace (to name and reopen descriptors).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use crate::policy::files::Kind;
use crate::policy::kernelfs::FsKind;

/// A path resolved by the kernel and held by an `O_PATH` descriptor.
pub struct Resolved {
    fd: OwnedFd,
    /// Where it leads, every symlink and `..` resolved.
    pub canonical: PathBuf,
    /// What it is.
    pub kind: Kind,
    /// The filesystem it is on.
    pub fs: FsKind,
}

/// Resolves `path` beneath `dir`, following a final symlink when `follow`.
/// Magic links (`/proc/<pid>/root`, `cwd`, `exe`, `fd/*`) are refused with
/// `ELOOP`, escapes from `dir` with `EXDEV`.
pub fn resolve(dir: &std::fs::File, path: &str, follow: bool) -> io::Result<Resolved> {
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let fd = loop {
        match rustix::fs::openat2(dir, path, flags, Mode::empty(), resolve) {
            // The kernel asks to retry when a rename raced the lookup.
            Err(rustix::io::Errno::AGAIN) => continue,
            other => break other?,
        }
    };
    let stat = rustix::fs::fstat(&fd)?;
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::Fifo => Kind::Special("FIFO"),
        FileType::Socket => Kind::Special("socket"),
        FileType::CharacterDevice | FileType::BlockDevice => Kind::Special("device file"),
        FileType::Unknown => Kind::Special("file of unknown type"),
    };
    let fs = FsKind::from_magic(rustix::fs::fstatfs(&fd)?.f_type as u64);
    let canonical = fd_path(&fd)?;
    Ok(Resolved {
        fd,
        canonical,
        kind,
        fs,
    })
}

impl Resolved {
    /// Opens what was resolved, read-only.
    pub fn open(&self) -> io::Result<std::fs::File> {
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
        if self.kind == Kind::Dir {
            flags |= OFlags::DIRECTORY;
        }
        let fd = rustix::fs::open(proc_fd(&self.fd), flags, Mode::empty())?;
        Ok(std::fs::File::from(fd))
    }
}

/// The host path a descriptor refers to.
pub fn fd_path(fd: impl AsFd) -> io::Result<PathBuf> {
    let link = rustix::fs::readlink(proc_fd(fd), Vec::new())?;
    Ok(PathBuf::from(OsString::from_vec(link.into_bytes())))
}

/// The filesystem a descriptor's file is on.
pub fn fd_fs(fd: impl AsFd) -> io::Result<FsKind> {
    Ok(FsKind::from_magic(rustix::fs::fstatfs(fd)?.f_type as u64))
}

fn proc_fd(fd: impl AsFd) -> String {
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}

/// Whether every symlink met while walking `path` beneath `dir` lies in
/// procfs or sysfs, where only the kernel makes symlinks.
pub fn links_kernel_made(dir: &std::fs::File, path: &str) -> bool {
    let parts: Vec<&std::ffi::OsStr> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    for i in 1..=parts.len() {
        let prefix: PathBuf = parts[..i].iter().collect();
        let Ok(stat) = rustix::fs::statat(dir, &prefix, AtFlags::SYMLINK_NOFOLLOW) else {
            return false;
        };
        if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
            continue;
        }
        let parent: PathBuf = parts[..i - 1].iter().collect();
        let parent = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent
        };
        let fs = rustix::fs::openat2(
            dir,
            &parent,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .and_then(|fd| rustix::fs::fstatfs(&fd));
        match fs.map(|s| FsKind::from_magic(s.f_type as u64)) {
            Ok(FsKind::Proc | FsKind::Sys) => {}
            _ => return false,
        }
    }
    true
}

/// `base` joined with the relative `path` as named, or `None` when `path`
/// has `..` (or is absolute): then only where it really leads counts.
pub fn lexical_join(base: &Path, path: &str) -> Option<PathBuf> {
    let mut out = base.to_path_buf();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_beneath_and_refuses_escapes_and_magic_links() {
        let proc = std::fs::File::open("/proc").unwrap();
        let r = resolve(&proc, "meminfo", true).unwrap();
        assert_eq!(r.canonical, Path::new("/proc/meminfo"));
        assert_eq!(r.kind, Kind::File);
        assert_eq!(r.fs, FsKind::Proc);
        assert!(r.open().is_ok());
        let own = resolve(&proc, "self/environ", true).unwrap();
        assert_eq!(
            own.canonical,
            PathBuf::from(format!("/proc/{}/environ", std::process::id()))
        );
        let magic = resolve(&proc, "self/root/etc/passwd", true).err().unwrap();
        assert_eq!(magic.raw_os_error(), Some(libc::ELOOP));
        let escape = resolve(&proc, "../etc/passwd", true).err().unwrap();
        assert_eq!(escape.raw_os_error(), Some(libc::EXDEV));
        let link = resolve(&proc, "self", false).unwrap();
        assert_eq!(link.kind, Kind::Symlink);
        assert!(links_kernel_made(&proc, "net/dev"));
    }

    #[test]
    fn lexical_names() {
        let base = Path::new("/sys/class/net");
        assert_eq!(
            lexical_join(base, "lo/./statistics"),
            Some(PathBuf::from("/sys/class/net/lo/statistics"))
        );
        assert_eq!(lexical_join(base, "lo/../eth0"), None);
    }
}
