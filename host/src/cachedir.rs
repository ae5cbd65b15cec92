//! `--cache.dir`: what the exporter keeps between starts, one subdirectory
//! per kind, so that neither reads, sweeps or replaces the other's files:
//! - [`COMPILED`]: compiled components ([`crate::runtime::compiled`]);
//! - [`PLUGINS`]: plugins pulled from registries ([`crate::plugin::cache`]).
//!
//! Compiled components are native code the exporter runs, and pulled
//! plugins decide what it runs: the directory and each subdirectory must
//! belong to the exporter's user and be writable by nobody else, or they
//! are refused.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

/// The compiled components' subdirectory.
pub const COMPILED: &str = "compiled";
/// The pulled plugins' subdirectory.
pub const PLUGINS: &str = "plugins";

/// Opens the subdirectory `sub` of the cache directory `root` (both created
/// if needed, writable by the owner only), refusing either when it belongs
/// to another user or others may write it. A relative `root` is meant from
/// where the exporter started; the returned path is absolute.
pub fn subdir(root: &Path, sub: &str) -> Result<PathBuf> {
    let root = std::path::absolute(root)
        .with_context(|| format!("resolving the cache directory {}", root.display()))?;
    let dir = root.join(sub);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&dir)
        .with_context(|| format!("creating the cache directory {}", dir.display()))?;
    check_private(&root)?;
    check_private(&dir)?;
    Ok(dir)
}

/// Refuses a directory that someone but the exporter's user could write.
fn check_private(dir: &Path) -> Result<()> {
    let meta = std::fs::metadata(dir)
        .with_context(|| format!("reading the cache directory {}", dir.display()))?;
    let uid = rustix::process::geteuid().as_raw();
    ensure!(
        meta.uid() == uid,
        "the cache directory {} belongs to uid {}, not to the exporter's uid {uid}: its files are loaded as native code, so only the exporter's user may own it",
        dir.display(),
        meta.uid()
    );
    ensure!(
        meta.mode() & 0o022 == 0,
        "the cache directory {} is writable by group or others (mode {:o}): its files are loaded as native code; chmod go-w it",
        dir.display(),
        meta.mode() & 0o7777
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn subdirectories_are_created_private_and_shared_roots_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cache");
        let compiled = subdir(&root, COMPILED).unwrap();
        let plugins = subdir(&root, PLUGINS).unwrap();
        assert_eq!(compiled, root.join("compiled"));
        assert_eq!(plugins, root.join("plugins"));
        for dir in [&root, &compiled, &plugins] {
            let mode = std::fs::metadata(dir).unwrap().mode();
            assert_eq!(mode & 0o022, 0, "{} has mode {mode:o}", dir.display());
        }

        std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = format!("{:#}", subdir(&root, PLUGINS).unwrap_err());
        assert!(
            e.contains(&format!(
                "{} is writable by group or others (mode 777)",
                plugins.display()
            )),
            "{e}"
        );
        // The other subdirectory is unaffected.
        subdir(&root, COMPILED).unwrap();

        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o775)).unwrap();
        let e = format!("{:#}", subdir(&root, COMPILED).unwrap_err());
        assert!(
            e.contains(&format!(
                "{} is writable by group or others (mode 775)",
                root.display()
            )),
            "{e}"
        );
    }
}
