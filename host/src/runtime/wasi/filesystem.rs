//! `wasi:filesystem/types` for guests, with the module's file policy
//! enforced: where grants are checked on every open.
//!
//! Reads, stats and streams of descriptors the guest already holds are
//! wasmtime-wasi's own. Everything that names a path (`open-at`, `stat-at`,
//! `readlink-at`, `metadata-hash-at`) is first resolved by the kernel
//! ([`super::beneath`]) and judged by the policy
//! ([`crate::policy::FilePolicy::judge`]); what is refused does not exist
//! for the guest (`no-entry`), and is counted and logged as a denial.
//! Opens are done here, read-only, of the very file that was judged.
//! Directory listings show only what the policy would let the guest open.
//! Everything that writes is refused (`not-permitted`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::filesystem::{Descriptor, Dir, File, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorType, ErrorCode, HostDescriptor, HostDirectoryEntryStream,
};
use wasmtime_wasi::p2::bindings::filesystem::{preopens, types};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};
use wasmtime_wasi::{FsPerms, OpenMode};

use super::beneath::{self, lexical_join};
use crate::policy::files::{Kind, Target, Verdict};
use crate::policy::kernelfs::FsKind;
use crate::policy::{Denial, DenialKind, FilePolicy};
use crate::runtime::denials::Denials;
use crate::runtime::descriptors::CallDescriptors;

/// The filesystem state of one call, beside wasmtime-wasi's.
pub struct FileGuard {
    policy: Arc<FilePolicy>,
    descriptors: CallDescriptors,
    /// Directories the guest holds, by resource: where they are.
    dirs: HashMap<u32, Place>,
    /// Directory listings the guest holds, by resource: which directory.
    listings: HashMap<u32, Place>,
    /// The filesystem of each preopen, by its guest path.
    preopen_fs: HashMap<String, FsKind>,
}

/// Where a directory descriptor is.
#[derive(Debug, Clone)]
struct Place {
    /// As the guest named it, for messages.
    guest: String,
    /// The host path as named (symlinks not resolved), when the name had
    /// no `..`.
    lexical: Option<PathBuf>,
    /// Where it really is.
    canonical: PathBuf,
    fs: FsKind,
}

impl Place {
    /// `path` beneath this directory as the guest named it, for messages.
    fn guest_path(&self, path: &str) -> String {
        format!("{}/{}", self.guest.trim_end_matches('/'), path)
    }
}

impl FileGuard {
    /// The guard of one call.
    pub fn new(policy: Arc<FilePolicy>, descriptors: CallDescriptors) -> Self {
        FileGuard {
            policy,
            descriptors,
            dirs: HashMap::new(),
            listings: HashMap::new(),
            preopen_fs: HashMap::new(),
        }
    }

    /// The call's descriptor accounting.
    pub fn descriptors(&self) -> &CallDescriptors {
        &self.descriptors
    }

    /// The call's descriptor accounting, for the sockets that count in it.
    pub fn descriptors_mut(&mut self) -> &mut CallDescriptors {
        &mut self.descriptors
    }
}

/// The `HasData` marker under which the guarded filesystem is linked.
pub struct GuardedFilesystem;

impl HasData for GuardedFilesystem {
    type Data<'a> = GuardedView<'a>;
}

/// wasmtime-wasi's filesystem view and the call's guard, borrowed together
/// for one host call.
pub struct GuardedView<'a> {
    /// wasmtime-wasi's filesystem and resource table.
    pub fs: WasiFilesystemCtxView<'a>,
    /// The policy and the call's accounting.
    pub guard: &'a mut FileGuard,
    /// Where refusals are recorded.
    pub denials: &'a mut Denials,
}

/// A path-naming call's target, resolved and judged.
struct Judged {
    resolved: beneath::Resolved,
    verdict: Verdict,
    place: Place,
}

impl GuardedView<'_> {
    fn deny(&mut self, kind: DenialKind, target: String, reason: String) {
        self.denials.record(Denial {
            kind,
            target,
            reason,
        });
    }

    fn place(&mut self, fd: &Resource<Descriptor>) -> FsResult<(Dir, Place)> {
        let dir = match self.fs.table.get(fd)? {
            Descriptor::Dir(d) => d.clone(),
            Descriptor::File(_) => return Err(ErrorCode::NotDirectory.into()),
        };
        match self.guard.dirs.get(&fd.rep()) {
            Some(place) => Ok((dir, place.clone())),
            // Every directory a guest holds was registered when it was
            // opened or handed out as a preopen.
            None => Err(ErrorCode::BadDescriptor.into()),
        }
    }

    /// Resolves `path` beneath the directory `fd` and judges it. A refusal
    /// is recorded and answered with `no-entry`.
    fn judge(&mut self, fd: &Resource<Descriptor>, path: &str, follow: bool) -> FsResult<Judged> {
        let (dir, from) = self.place(fd)?;
        let guest = from.guest_path(path);
        let resolved = match beneath::resolve(&dir.dir, Some(&from.canonical), path, follow) {
            Ok(r) => r,
            Err(e) => return Err(self.resolve_error(e, guest)),
        };
        let lexical = from.lexical.as_deref().and_then(|l| lexical_join(l, path));
        let target = Target {
            canonical: &resolved.canonical,
            lexical: lexical.as_deref(),
            kind: resolved.kind,
            fs: resolved.fs,
        };
        let verdict = self
            .guard
            .policy
            .judge(&target, || beneath::links_kernel_made(&dir.dir, path));
        if let Verdict::Deny(reason) = &verdict {
            let shown = if Some(resolved.canonical.as_path()) == lexical.as_deref() {
                guest
            } else {
                format!("{guest} (resolves to {})", resolved.canonical.display())
            };
            self.deny(DenialKind::File, shown, reason.clone());
            return Err(ErrorCode::NoEntry.into());
        }
        let place = Place {
            guest,
            lexical,
            canonical: resolved.canonical.clone(),
            fs: resolved.fs,
        };
        Ok(Judged {
            resolved,
            verdict,
            place,
        })
    }

    /// Opens `path` beneath the directory `fd` at once when that directory
    /// is on procfs or sysfs and the path, as named, is a granted file
    /// ([`beneath::open_on_kernel_fs`]): one path walk instead of three.
    /// The policy judges the name before the open, so nothing it refuses
    /// is opened, and the kind after. `None` sends the caller the long way
    /// ([`Self::judge`]), which also records any refusal: for every other
    /// directory, a path with `..`, through a symlink or a mount point, a
    /// refusal, a file where a directory is `wanted`, or a failed open.
    /// What it returns has its descriptor reserved and the kind the open
    /// asked for.
    fn open_on_kernel_fs(
        &mut self,
        fd: &Resource<Descriptor>,
        path: &str,
        wanted: Option<Kind>,
    ) -> Option<Judged> {
        let (dir, from) = self.place(fd).ok()?;
        if !from.fs.is_kernel_made() {
            return None;
        }
        let canonical = lexical_join(&from.canonical, path)?;
        let lexical = from.lexical.as_deref().and_then(|l| lexical_join(l, path));
        // No symlink beneath the directory, or the open below fails and
        // nothing was opened: as `beneath::links_kernel_made` would find
        // (the directory itself was judged when it was opened).
        let judge = |kind| {
            self.guard.policy.judge(
                &Target {
                    canonical: &canonical,
                    lexical: lexical.as_deref(),
                    kind,
                    fs: from.fs,
                },
                || true,
            )
        };
        if judge(Kind::File) != Verdict::Allow {
            return None;
        }
        // The guest's share of descriptors is taken before anything is
        // opened, as on the long way, which says why when there is none.
        self.guard.descriptors.reserve().ok()?;
        // A file was judged as one just above; only another kind is judged
        // again.
        let opened = beneath::open_on_kernel_fs(&dir.dir, canonical.clone(), from.fs, path).map(
            |resolved| match resolved.kind {
                Kind::File => (Verdict::Allow, resolved),
                kind => (judge(kind), resolved),
            },
        );
        let Some((verdict, resolved)) = opened.filter(|(v, resolved)| {
            !matches!(v, Verdict::Deny(_)) && wanted.is_none_or(|k| k == resolved.kind)
        }) else {
            self.guard.descriptors.cancel();
            return None;
        };
        Some(Judged {
            place: Place {
                guest: from.guest_path(path),
                lexical,
                canonical,
                fs: from.fs,
            },
            resolved,
            verdict,
        })
    }

    fn resolve_error(&mut self, e: std::io::Error, guest: String) -> FsError {
        let reason = match e.raw_os_error() {
            Some(libc::EXDEV) => "leads outside the granted directory",
            Some(libc::ELOOP) => {
                "goes through a link into a process (root, cwd, exe, fd) or a symlink loop"
            }
            Some(libc::EMFILE | libc::ENFILE) => {
                self.deny(
                    DenialKind::OpenFiles,
                    guest,
                    "the exporter has no descriptor left".into(),
                );
                return ErrorCode::Quota.into();
            }
            _ => return ErrorCode::from(e).into(),
        };
        self.deny(DenialKind::File, guest, reason.into());
        ErrorCode::NoEntry.into()
    }

    fn register_preopens(
        &mut self,
        preopens: &[(Resource<Descriptor>, String)],
    ) -> wasmtime::Result<()> {
        for (fd, guest) in preopens {
            let host = self
                .guard
                .policy
                .preopens()
                .iter()
                .find(|p| &p.guest == guest)
                .map(|p| p.host.clone());
            let Some(host) = host else { continue };
            // Guests' libc asks for the preopens more than once; each time
            // they are new descriptors of the same directories.
            let fs = match self.guard.preopen_fs.get(guest) {
                Some(fs) => *fs,
                None => {
                    let fs = match self.fs.table.get(fd)? {
                        Descriptor::Dir(d) => beneath::fd_fs(&*d.dir).unwrap_or(FsKind::Other),
                        Descriptor::File(_) => continue,
                    };
                    self.guard.preopen_fs.insert(guest.clone(), fs);
                    fs
                }
            };
            self.guard.dirs.insert(
                fd.rep(),
                Place {
                    guest: guest.clone(),
                    lexical: Some(host.clone()),
                    canonical: host,
                    fs,
                },
            );
        }
        Ok(())
    }
}

fn read_only<T>() -> FsResult<T> {
    Err(ErrorCode::NotPermitted.into())
}

impl preopens::Host for GuardedView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let preopens = preopens::Host::get_directories(&mut self.fs)?;
        self.register_preopens(&preopens)?;
        Ok(preopens)
    }
}

impl types::Host for GuardedView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        types::Host::convert_error_code(&mut self.fs, err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        types::Host::filesystem_error_code(&mut self.fs, err)
    }
}

impl HostDescriptor for GuardedView<'_> {
    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
        len: types::Filesize,
        advice: types::Advice,
    ) -> FsResult<()> {
        self.fs.advise(fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.fs.sync_data(fd).await
    }

    /// Answered without asking the kernel (which guests' libc does before
    /// every open): every descriptor a guest holds was opened here or as a
    /// preopen, read-only and without sync flags.
    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorFlags> {
        self.fs.table.get(&fd)?;
        Ok(types::DescriptorFlags::READ)
    }

    /// Answered without asking the kernel (which guests' libc does after
    /// every open): a file descriptor is only ever made for a regular file
    /// ([`Self::open_at`]), as the policy opens nothing else.
    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorType> {
        match self.fs.table.get(&fd)? {
            Descriptor::File(_) => Ok(DescriptorType::RegularFile),
            Descriptor::Dir(_) => Ok(DescriptorType::Directory),
        }
    }

    async fn set_size(&mut self, _: Resource<Descriptor>, _: types::Filesize) -> FsResult<()> {
        read_only()
    }

    async fn set_times(
        &mut self,
        _: Resource<Descriptor>,
        _: types::NewTimestamp,
        _: types::NewTimestamp,
    ) -> FsResult<()> {
        read_only()
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: types::Filesize,
        offset: types::Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        self.fs.read(fd, len, offset).await
    }

    async fn write(
        &mut self,
        _: Resource<Descriptor>,
        _: Vec<u8>,
        _: types::Filesize,
    ) -> FsResult<types::Filesize> {
        read_only()
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<types::DirectoryEntryStream>> {
        let (_, place) = self.place(&fd)?;
        let listing = self.fs.read_directory(fd).await?;
        self.guard.listings.insert(listing.rep(), place);
        Ok(listing)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        self.fs.sync(fd).await
    }

    async fn create_directory_at(&mut self, _: Resource<Descriptor>, _: String) -> FsResult<()> {
        read_only()
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorStat> {
        self.fs.stat(fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        let follow = path_flags.contains(types::PathFlags::SYMLINK_FOLLOW);
        self.judge(&fd, &path, follow)?;
        self.fs.stat_at(fd, path_flags, path).await
    }

    async fn set_times_at(
        &mut self,
        _: Resource<Descriptor>,
        _: types::PathFlags,
        _: String,
        _: types::NewTimestamp,
        _: types::NewTimestamp,
    ) -> FsResult<()> {
        read_only()
    }

    async fn link_at(
        &mut self,
        _: Resource<Descriptor>,
        _: types::PathFlags,
        _: String,
        _: Resource<Descriptor>,
        _: String,
    ) -> FsResult<()> {
        read_only()
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let writes =
            types::OpenFlags::CREATE | types::OpenFlags::EXCLUSIVE | types::OpenFlags::TRUNCATE;
        if oflags.intersects(writes)
            || flags.intersects(
                types::DescriptorFlags::WRITE | types::DescriptorFlags::MUTATE_DIRECTORY,
            )
        {
            return read_only();
        }
        let follow = path_flags.contains(types::PathFlags::SYMLINK_FOLLOW);
        let wanted = oflags
            .contains(types::OpenFlags::DIRECTORY)
            .then_some(Kind::Dir);
        let (judged, reserved) = match self.open_on_kernel_fs(&fd, &path, wanted) {
            Some(judged) => (judged, true),
            None => (self.judge(&fd, &path, follow)?, false),
        };
        let kind = judged.resolved.kind;
        match kind {
            Kind::Symlink => return Err(ErrorCode::Loop.into()),
            Kind::File if wanted.is_some() => return Err(ErrorCode::NotDirectory.into()),
            _ => {}
        }
        debug_assert!(judged.verdict != Verdict::Pass || kind == Kind::Dir);
        if !reserved && let Err(refused) = self.guard.descriptors.reserve() {
            self.deny(DenialKind::OpenFiles, judged.place.guest, refused.reason());
            return Err(ErrorCode::Quota.into());
        }
        let file = match judged.resolved.open() {
            Ok(f) => f,
            Err(e) => {
                self.guard.descriptors.cancel();
                return Err(self.resolve_error(e, judged.place.guest));
            }
        };
        let descriptor = if kind == Kind::Dir {
            let dir = Dir::new(file, FsPerms::ReadOnly, OpenMode::READ, true);
            self.guard.descriptors.track(&dir.dir);
            Descriptor::Dir(dir)
        } else {
            let file = File::new(file, FsPerms::ReadOnly, OpenMode::READ, true);
            self.guard.descriptors.track(&file.file);
            Descriptor::File(file)
        };
        let is_dir = matches!(descriptor, Descriptor::Dir(_));
        let opened = self.fs.table.push(descriptor)?;
        if is_dir {
            self.guard.dirs.insert(opened.rep(), judged.place);
        }
        Ok(opened)
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.guard.dirs.remove(&fd.rep());
        HostDescriptor::drop(&mut self.fs, fd)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        self.judge(&fd, &path, false)?;
        self.fs.readlink_at(fd, path).await
    }

    async fn remove_directory_at(&mut self, _: Resource<Descriptor>, _: String) -> FsResult<()> {
        read_only()
    }

    async fn rename_at(
        &mut self,
        _: Resource<Descriptor>,
        _: String,
        _: Resource<Descriptor>,
        _: String,
    ) -> FsResult<()> {
        read_only()
    }

    async fn symlink_at(&mut self, _: Resource<Descriptor>, _: String, _: String) -> FsResult<()> {
        read_only()
    }

    async fn unlink_file_at(&mut self, _: Resource<Descriptor>, _: String) -> FsResult<()> {
        read_only()
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        self.fs.read_via_stream(fd, offset)
    }

    fn write_via_stream(
        &mut self,
        _: Resource<Descriptor>,
        _: types::Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        read_only()
    }

    fn append_via_stream(
        &mut self,
        _: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        read_only()
    }

    async fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        self.fs.is_same_object(a, b).await
    }

    async fn metadata_hash(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<types::MetadataHashValue> {
        self.fs.metadata_hash(fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        let follow = path_flags.contains(types::PathFlags::SYMLINK_FOLLOW);
        self.judge(&fd, &path, follow)?;
        self.fs.metadata_hash_at(fd, path_flags, path).await
    }
}

impl HostDirectoryEntryStream for GuardedView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        let Some(place) = self.guard.listings.get(&stream.rep()).cloned() else {
            return Err(ErrorCode::BadDescriptor.into());
        };
        loop {
            let rep = Resource::<types::DirectoryEntryStream>::new_borrow(stream.rep());
            let Some(entry) = self.fs.read_directory_entry(rep).await? else {
                return Ok(None);
            };
            if visible(&self.guard.policy, &place, &entry) {
                return Ok(Some(entry));
            }
        }
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.guard.listings.remove(&stream.rep());
        HostDirectoryEntryStream::drop(&mut self.fs, stream)
    }
}

/// Whether a directory entry is shown: only what the guest could open (or
/// pass through on the way to what it could open). Symlinks are judged by
/// their own name; they are followed only when opened.
fn visible(policy: &FilePolicy, dir: &Place, entry: &types::DirectoryEntry) -> bool {
    let kind = match entry.type_ {
        DescriptorType::RegularFile => Kind::File,
        DescriptorType::Directory => Kind::Dir,
        DescriptorType::SymbolicLink => Kind::Symlink,
        DescriptorType::Fifo => Kind::Special("FIFO"),
        DescriptorType::Socket => Kind::Special("socket"),
        DescriptorType::BlockDevice | DescriptorType::CharacterDevice => {
            Kind::Special("device file")
        }
        DescriptorType::Unknown => Kind::Special("file of unknown type"),
    };
    let canonical = dir.canonical.join(&entry.name);
    let lexical = dir.lexical.as_ref().map(|l| l.join(&entry.name));
    let target = Target {
        canonical: &canonical,
        lexical: lexical.as_deref(),
        kind,
        fs: dir.fs,
    };
    // Entries of a kernel filesystem directory are the kernel's own.
    let kernel_made = dir.fs.is_kernel_made();
    !matches!(policy.judge(&target, || kernel_made), Verdict::Deny(_))
}
