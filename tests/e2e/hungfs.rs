//! A filesystem that hangs, for the tests of guests blocked in the kernel:
//! a FUSE mount whose files block every reader until the test releases
//! them, as an NFS mount does when its server goes away. Reads after the
//! release answer at once with [`RELEASED`].
//!
//! Mounting needs `/dev/fuse` and root (the mount syscall, no fusermount).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen,
    Request,
};

/// What a released file reads as (13 bytes).
pub const RELEASED: &[u8] = b"a plain file\n";

/// A read left unanswered: where, how much, and the reply to send.
struct Waiting {
    offset: u64,
    size: u32,
    reply: ReplyData,
}

/// The files, by inode (root is 1, files from 2), and what waits on them.
#[derive(Default)]
struct State {
    names: Vec<String>,
    released: Mutex<Vec<bool>>,
    waiting: Mutex<HashMap<usize, Vec<Waiting>>>,
}

/// A mounted hung filesystem; unmounted when dropped (blocked readers then
/// get an I/O error).
pub struct HungFs {
    // Dropped first: unmount before the mount point goes.
    _session: fuser::BackgroundSession,
    state: Arc<State>,
    dir: tempfile::TempDir,
}

impl HungFs {
    /// Mounts a filesystem with the files `names` in a new directory.
    pub fn mount(names: &[&str]) -> HungFs {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = Arc::new(State {
            names: names.iter().map(|s| s.to_string()).collect(),
            released: Mutex::new(vec![false; names.len()]),
            waiting: Mutex::default(),
        });
        let mut config = Config::default();
        config.mount_options.extend([
            MountOption::RO,
            MountOption::FSName("wasm_exporter_hungfs".into()),
        ]);
        let session = fuser::spawn_mount(Fs(state.clone()), dir.path(), &config).unwrap_or_else(|e| {
            panic!(
                "mounting the hung test filesystem (FUSE) at {} failed: {e}; these tests need /dev/fuse and root",
                dir.path().display()
            )
        });
        HungFs {
            _session: session,
            state,
            dir,
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Answers everyone blocked reading `name`, and every later reader.
    pub fn release(&self, name: &str) {
        let Some(index) = self.state.names.iter().position(|n| n == name) else {
            panic!("no file {name} in the hung filesystem");
        };
        self.state.released.lock().unwrap()[index] = true;
        let waiting = self.state.waiting.lock().unwrap().remove(&index);
        for w in waiting.unwrap_or_default() {
            w.reply.data(slice(w.offset, w.size));
        }
    }
}

fn slice(offset: u64, size: u32) -> &'static [u8] {
    let start = (offset as usize).min(RELEASED.len());
    let end = start.saturating_add(size as usize).min(RELEASED.len());
    &RELEASED[start..end]
}

struct Fs(Arc<State>);

const TTL: Duration = Duration::from_secs(1);

fn attr(ino: u64) -> FileAttr {
    let dir = ino == 1;
    FileAttr {
        ino: INodeNo(ino),
        size: if dir { 0 } else { RELEASED.len() as u64 },
        blocks: 1,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: if dir {
            FileType::Directory
        } else {
            FileType::RegularFile
        },
        perm: if dir { 0o755 } else { 0o444 },
        nlink: if dir { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        flags: 0,
        blksize: 512,
    }
}

impl Fs {
    fn index(&self, ino: INodeNo) -> Option<usize> {
        let ino = u64::from(ino);
        (ino >= 2 && ((ino - 2) as usize) < self.0.names.len()).then(|| (ino - 2) as usize)
    }
}

impl Filesystem for Fs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.0.names.iter().position(|n| OsStr::new(n) == name) {
            Some(i) if u64::from(parent) == 1 => {
                reply.entry(&TTL, &attr(i as u64 + 2), Generation(0))
            }
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if u64::from(ino) == 1 || self.index(ino).is_some() {
            reply.attr(&TTL, &attr(u64::from(ino)));
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.index(ino) {
            // Direct I/O: every read reaches this filesystem, none is
            // served from the page cache.
            Some(_) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            None => reply.error(Errno::EISDIR),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(index) = self.index(ino) else {
            return reply.error(Errno::EISDIR);
        };
        let released = self.0.released.lock().unwrap()[index];
        if released {
            reply.data(slice(offset, size));
        } else {
            // Not answered: the reader stays blocked in the kernel.
            self.0
                .waiting
                .lock()
                .unwrap()
                .entry(index)
                .or_default()
                .push(Waiting {
                    offset,
                    size,
                    reply,
                });
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if u64::from(ino) != 1 {
            return reply.error(Errno::ENOTDIR);
        }
        let mut entries = vec![(1, FileType::Directory, ".".to_string())];
        entries.push((1, FileType::Directory, "..".to_string()));
        for (i, name) in self.0.names.iter().enumerate() {
            entries.push((i as u64 + 2, FileType::RegularFile, name.clone()));
        }
        for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}
