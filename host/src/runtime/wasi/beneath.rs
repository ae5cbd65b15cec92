//! Resolving a guest's path on the host: the kernel walks it beneath the
//! directory it is opened through (`openat2` with `RESOLVE_BENEATH`), `..`
//! and symlinks included, without opening the file itself (`O_PATH`: no
//! FIFO blocks, no device driver runs). What it leads to is then judged, and
//! only a granted regular file or directory is opened, and only if it is
//! the very file that was judged, so nothing can be swapped in between.
//!
//! On procfs and sysfs, whose files are never FIFOs, sockets or devices, a
//! path with no symlink, `..` or mount point on the way is opened at once
//! ([`open_on_kernel_fs`]), judged by its name before and its kind after:
//! one path walk for the commonest open of all (`/proc/stat` and the like).
//!
//! Most other paths a guest names have no symlink and no `..`: the kernel is then
//! asked to refuse symlinks (`RESOLVE_NO_SYMLINKS`), the path's host name is
//! the directory's joined with it, and the file is opened again by that
//! path and checked to be the same inode. Only a path through a symlink
//! takes the longer way: its host name is read back from `/proc/self/fd`
//! and the file is reopened through there. The short way does without
//! two path walks through procfs on every open.
//!
//! Needs Linux 5.6 (`openat2`) and procfs at `/proc` in the exporter's own
//! mount namespace (to name and reopen descriptors).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::policy::files::Kind;
use crate::policy::kernelfs::FsKind;

/// A path resolved by the kernel and held by an `O_PATH` descriptor, or
/// already opened ([`open_on_kernel_fs`]).
pub struct Resolved {
    fd: OwnedFd,
    /// `fd` is the file opened read-only, not an `O_PATH` descriptor.
    opened: bool,
    /// The directory and the symlink-free path it was resolved through,
    /// when it was: then it is opened again by that path.
    again: Option<(Arc<std::fs::File>, String)>,
    /// Device and inode, to tell that what is opened is what was judged.
    id: (u64, u64),
    /// Where it leads, every symlink and `..` resolved.
    pub canonical: PathBuf,
    /// What it is.
    pub kind: Kind,
    /// The filesystem it is on.
    pub fs: FsKind,
}

/// Resolves `path` beneath `dir`, following a final symlink when `follow`.
/// `base` is where `dir` really is (every symlink resolved), if known.
/// Magic links (`/proc/<pid>/root`, `cwd`, `exe`, `fd/*`) are refused with
/// `ELOOP`, escapes from `dir` with `EXDEV`.
pub fn resolve(
    dir: &Arc<std::fs::File>,
    base: Option<&Path>,
    path: &str,
    follow: bool,
) -> io::Result<Resolved> {
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    if let Some(canonical) = base.and_then(|b| lexical_join(b, path)) {
        match openat2(dir, path, flags, ResolveFlags::NO_SYMLINKS) {
            Ok(fd) => {
                let again = Some((dir.clone(), path.to_string()));
                return describe(fd, canonical, again);
            }
            // A symlink on the way (or at the end, followed): the long way.
            Err(Errno::LOOP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let fd = openat2(dir, path, flags, ResolveFlags::NO_MAGICLINKS)?;
    let canonical = fd_path(&fd)?;
    describe(fd, canonical, None)
}

/// Opens `path` beneath `dir` read-only at once, without an `O_PATH`
/// resolve first: for a directory on procfs or sysfs (`fs`), whose files
/// are never FIFOs, sockets or devices, so that opening one waits for
/// nothing and runs no driver. The caller judges the path as named before
/// (its name is its place: the kernel refuses symlinks and mount points on
/// the way, so the file is `canonical` and on `fs`) and the kind after.
/// `None` whenever the kernel refuses or fails, for the caller to take the
/// way through [`resolve`], which tells why.
pub fn open_on_kernel_fs(
    dir: &std::fs::File,
    canonical: PathBuf,
    fs: FsKind,
    path: &str,
) -> Option<Resolved> {
    if !fs.is_kernel_made() {
        return None;
    }
    let fd = openat2(
        dir,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NOFOLLOW,
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV,
    )
    .ok()?;
    let stat = rustix::fs::fstat(&fd).ok()?;
    Some(Resolved {
        fd,
        opened: true,
        again: None,
        id: (stat.st_dev as u64, stat.st_ino as u64),
        canonical,
        kind: kind_of(stat.st_mode),
        fs,
    })
}

/// `openat2` beneath `dir`, with `extra` resolve flags.
fn openat2(
    dir: &std::fs::File,
    path: &str,
    flags: OFlags,
    extra: ResolveFlags,
) -> rustix::io::Result<OwnedFd> {
    loop {
        match rustix::fs::openat2(
            dir,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::BENEATH | extra,
        ) {
            // The kernel asks to retry when a rename raced the lookup.
            Err(Errno::AGAIN) => continue,
            other => return other,
        }
    }
}

fn describe(
    fd: OwnedFd,
    canonical: PathBuf,
    again: Option<(Arc<std::fs::File>, String)>,
) -> io::Result<Resolved> {
    let stat = rustix::fs::fstat(&fd)?;
    let fs = FsKind::from_magic(rustix::fs::fstatfs(&fd)?.f_type as u64);
    Ok(Resolved {
        fd,
        opened: false,
        again,
        id: (stat.st_dev as u64, stat.st_ino as u64),
        canonical,
        kind: kind_of(stat.st_mode),
        fs,
    })
}

fn kind_of(mode: u32) -> Kind {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::Fifo => Kind::Special("FIFO"),
        FileType::Socket => Kind::Special("socket"),
        FileType::CharacterDevice | FileType::BlockDevice => Kind::Special("device file"),
        FileType::Unknown => Kind::Special("file of unknown type"),
    }
}

impl Resolved {
    /// Opens what was resolved, read-only.
    pub fn open(self) -> io::Result<std::fs::File> {
        if self.opened {
            return Ok(std::fs::File::from(self.fd));
        }
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
        if self.kind == Kind::Dir {
            flags |= OFlags::DIRECTORY;
        }
        let Some((dir, path)) = &self.again else {
            let fd = rustix::fs::open(proc_fd(&self.fd), flags, Mode::empty())?;
            return Ok(std::fs::File::from(fd));
        };
        // Not blocking, and never following a symlink: if a FIFO or a link
        // was swapped in since the judgement, opening it neither waits for
        // a writer nor leads elsewhere, and the inode check refuses it.
        let fd = openat2(
            dir,
            path,
            flags | OFlags::NONBLOCK | OFlags::NOFOLLOW,
            ResolveFlags::NO_SYMLINKS,
        )?;
        let stat = rustix::fs::fstat(&fd)?;
        if (stat.st_dev as u64, stat.st_ino as u64) != self.id {
            return Err(io::Error::other(
                "the file was replaced while it was being opened",
            ));
        }
        rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
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
        if !fs.is_ok_and(|s| FsKind::from_magic(s.f_type as u64).is_kernel_made()) {
            return false;
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

    /// The same answers whether or not the directory's host path is known;
    /// with it, a symlink-free path is named without procfs, and a path
    /// through a symlink takes the long way.
    #[test]
    fn resolves_beneath_and_refuses_escapes_and_magic_links() {
        let proc = Arc::new(std::fs::File::open("/proc").unwrap());
        for base in [None, Some(Path::new("/proc"))] {
            let r = resolve(&proc, base, "meminfo", true).unwrap();
            assert_eq!(r.canonical, Path::new("/proc/meminfo"));
            assert_eq!(r.kind, Kind::File);
            assert_eq!(r.fs, FsKind::Proc);
            assert_eq!(r.again.is_some(), base.is_some());
            let mut text = String::new();
            std::io::Read::read_to_string(&mut r.open().unwrap(), &mut text).unwrap();
            assert!(text.starts_with("MemTotal:"), "{text}");
            // `self` is a symlink: named by the kernel either way.
            let own = resolve(&proc, base, "self/environ", true).unwrap();
            assert!(own.again.is_none());
            assert_eq!(
                own.canonical,
                PathBuf::from(format!("/proc/{}/environ", std::process::id()))
            );
            let magic = resolve(&proc, base, "self/root/etc/passwd", true)
                .err()
                .unwrap();
            assert_eq!(magic.raw_os_error(), Some(libc::ELOOP));
            let escape = resolve(&proc, base, "../etc/passwd", true).err().unwrap();
            assert_eq!(escape.raw_os_error(), Some(libc::EXDEV));
            let link = resolve(&proc, base, "self", false).unwrap();
            assert_eq!(
                (link.kind, link.canonical.as_path()),
                (Kind::Symlink, Path::new("/proc/self"))
            );
            let missing = resolve(&proc, base, "no-such-file", true).err().unwrap();
            assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
        }
        assert!(links_kernel_made(&proc, "net/dev"));
    }

    #[test]
    fn a_file_swapped_after_the_judgement_is_not_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Arc::new(std::fs::File::open(tmp.path()).unwrap());
        let base = Some(tmp.path());
        for swap in ["file", "fifo", "symlink"] {
            let path = tmp.path().join("a");
            std::fs::write(&path, "judged").unwrap();
            let r = resolve(&dir, base, "a", true).unwrap();
            assert_eq!((r.kind, r.canonical.clone()), (Kind::File, path.clone()));
            std::fs::remove_file(&path).unwrap();
            match swap {
                "file" => std::fs::write(&path, "swapped").unwrap(),
                "fifo" => rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &path,
                    FileType::Fifo,
                    Mode::RUSR | Mode::WUSR,
                    0,
                )
                .unwrap(),
                _ => std::os::unix::fs::symlink("/etc/hostname", &path).unwrap(),
            }
            // Returns at once (a FIFO open would otherwise wait for a writer).
            let refused = r.open().err().unwrap_or_else(|| panic!("{swap} opened"));
            assert!(
                refused.to_string().contains("replaced")
                    || refused.raw_os_error() == Some(libc::ELOOP),
                "{swap}: {refused}"
            );
            std::fs::remove_file(&path).unwrap();
        }
        std::fs::write(tmp.path().join("b"), "kept").unwrap();
        let r = resolve(&dir, base, "b", true).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut r.open().unwrap(), &mut text).unwrap();
        assert_eq!(text, "kept");
    }

    /// Opened at once only on procfs and sysfs, only where named: a
    /// symlink, `..` or a mount point on the way, or any other filesystem,
    /// is left to `resolve`.
    #[test]
    fn opens_at_once_only_on_kernel_filesystems_as_named() {
        let proc = std::fs::File::open("/proc").unwrap();
        let r = open_on_kernel_fs(&proc, "/proc/meminfo".into(), FsKind::Proc, "meminfo").unwrap();
        assert_eq!((r.kind, r.fs), (Kind::File, FsKind::Proc));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut r.open().unwrap(), &mut text).unwrap();
        assert!(text.starts_with("MemTotal:"), "{text}");
        let dir = open_on_kernel_fs(&proc, "/proc/sys".into(), FsKind::Proc, "sys").unwrap();
        assert_eq!(dir.kind, Kind::Dir);
        for path in ["self/status", "../etc/passwd", "no-such-file", "net/dev"] {
            assert!(
                open_on_kernel_fs(&proc, PathBuf::new(), FsKind::Proc, path).is_none(),
                "{path}"
            );
        }
        // A filesystem mounted beneath procfs, where there is one.
        if std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .contains(" /proc/sys/fs/binfmt_misc ")
        {
            let under = "sys/fs/binfmt_misc/status";
            assert!(open_on_kernel_fs(&proc, PathBuf::new(), FsKind::Proc, under).is_none());
        }
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a"), "on disk").unwrap();
        let disk = std::fs::File::open(tmp.path()).unwrap();
        assert!(open_on_kernel_fs(&disk, tmp.path().join("a"), FsKind::Other, "a").is_none());
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
