//! Plugins pulled from registries, kept under `--cache.dir` so that a
//! restart (or a reload) needs no registry.
//!
//! One directory per manifest digest, `plugins/sha256-HEX/` (beside the
//! compiled components' `compiled/`, see [`crate::cachedir`]), holding the
//! manifest as pulled (`manifest.json`), the archive (`plugin.tar.gz`) and,
//! when there is one, its signature (`plugin.tar.gz.minisig`). An entry is
//! written whole in a temporary directory beside it and renamed into place,
//! so it is there complete or not at all; and it is checked against its
//! digests every time it is read, so a damaged copy is noticed (and pulled
//! again) rather than loaded.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, ensure};

use super::oci::{Layout, Pulled, digest_of};
use super::read_limited;
use super::signature::{MAX_SIGNATURE_BYTES, SUFFIX};
use crate::cachedir;

const MANIFEST: &str = "manifest.json";
const ARCHIVE: &str = "plugin.tar.gz";
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Temporary directories are named with this prefix; ones older than
/// [`STALE`] were left by an exporter that died while writing.
const PARTIAL: &str = ".partial-";
const STALE: Duration = Duration::from_secs(3600);

/// A cached plugin, checked against its digests.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its directory.
    pub dir: PathBuf,
    /// What the manifest says.
    pub layout: Layout,
    /// The archive.
    pub archive: Vec<u8>,
    /// The signature, when one was attached.
    pub signature: Option<Vec<u8>>,
}

impl Entry {
    /// Where the archive is (for messages and the landing page).
    pub fn archive_path(&self) -> PathBuf {
        self.dir.join(ARCHIVE)
    }
}

/// The pulled plugins under one cache directory.
pub struct PluginCache {
    root: PathBuf,
}

impl PluginCache {
    /// The pulled plugins under `cache_dir` (its `plugins/`, created if
    /// needed and refused when others may write it: see [`cachedir`]).
    pub fn open(cache_dir: &Path) -> Result<PluginCache> {
        Ok(PluginCache {
            root: cachedir::subdir(cache_dir, cachedir::PLUGINS)?,
        })
    }

    fn entry_dir(&self, digest: &str) -> PathBuf {
        self.root.join(digest.replace(':', "-"))
    }

    /// The entry of the plugin whose manifest digest is `digest`: `None` when
    /// there is none, an error when it is damaged.
    pub fn read(&self, digest: &str) -> Result<Option<Entry>> {
        let dir = self.entry_dir(digest);
        if !dir.exists() {
            return Ok(None);
        }
        let damaged =
            |what: String| format!("the cached copy in {} is damaged: {what}", dir.display());
        let manifest = read_limited(&dir.join(MANIFEST), MAX_MANIFEST_BYTES)
            .with_context(|| damaged(MANIFEST.into()))?
            .with_context(|| damaged(format!("{MANIFEST} is missing")))?;
        let actual = digest_of(&manifest);
        ensure!(actual == digest, damaged(format!("{MANIFEST} is {actual}")));
        let layout = Layout::parse(&manifest).with_context(|| damaged(MANIFEST.into()))?;
        let archive = read_limited(&dir.join(ARCHIVE), layout.archive.size as u64)
            .with_context(|| damaged(ARCHIVE.into()))?
            .with_context(|| damaged(format!("{ARCHIVE} is missing")))?;
        let actual = digest_of(&archive);
        ensure!(
            actual == layout.archive.digest,
            damaged(format!(
                "{ARCHIVE} is {actual}, not {}",
                layout.archive.digest
            ))
        );
        let signature = read_limited(
            &dir.join(format!("{ARCHIVE}{SUFFIX}")),
            MAX_SIGNATURE_BYTES as u64,
        )
        .with_context(|| damaged(format!("{ARCHIVE}{SUFFIX}")))?;
        Ok(Some(Entry {
            dir,
            layout,
            archive,
            signature,
        }))
    }

    /// Writes a pulled plugin (already checked) into the cache, whole or not
    /// at all, and returns its entry.
    pub fn install(&self, pulled: &Pulled) -> Result<Entry> {
        self.sweep();
        let target = self.entry_dir(&pulled.digest);
        let partial = tempfile::Builder::new()
            .prefix(PARTIAL)
            .tempdir_in(&self.root)
            .with_context(|| {
                format!("creating a temporary directory in {}", self.root.display())
            })?;
        write_synced(&partial.path().join(MANIFEST), &pulled.manifest)?;
        write_synced(&partial.path().join(ARCHIVE), &pulled.archive)?;
        if let Some(sig) = &pulled.signature {
            write_synced(&partial.path().join(format!("{ARCHIVE}{SUFFIX}")), sig)?;
        }
        if target.exists() {
            // Installed meanwhile by another exporter sharing the cache, or
            // damaged (the caller checked): the new copy replaces it.
            let _ = fs::remove_dir_all(&target);
        }
        let path = partial.keep();
        if let Err(e) = fs::rename(&path, &target) {
            let _ = fs::remove_dir_all(&path);
            if !target.exists() {
                return Err(e)
                    .with_context(|| format!("moving the pulled plugin to {}", target.display()));
            }
        }
        sync_dir(&self.root);
        self.read(&pulled.digest)?
            .with_context(|| format!("{} vanished after it was written", target.display()))
    }

    /// Adds a signature fetched later to an entry, atomically.
    pub fn add_signature(&self, digest: &str, signature: &[u8]) -> Result<()> {
        write_atomically(
            &self.entry_dir(digest).join(format!("{ARCHIVE}{SUFFIX}")),
            signature,
        )
    }

    /// Removes a damaged entry.
    pub fn remove(&self, digest: &str) -> Result<()> {
        let dir = self.entry_dir(digest);
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))
    }

    /// Removes temporary directories left by an exporter that died while
    /// writing one.
    fn sweep(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE);
            if stale && entry.file_name().to_string_lossy().starts_with(PARTIAL) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Writes `path` whole or not at all: a temporary file beside it, synced,
/// then renamed over it.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(PARTIAL)
        .tempfile_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    sync_dir(dir);
    Ok(())
}

fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut file =
        fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Makes a rename in `dir` durable; best effort (not every filesystem
/// allows opening a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
