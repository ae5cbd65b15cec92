//! Where a module's plugin comes from, and what it must pass before it is
//! loaded: this is where plugins are pulled and signatures are checked.
//!
//! - A plugin directory: loaded as it is; it cannot carry a signature.
//! - A plugin archive: its signature is `ARCHIVE.minisig` beside it.
//! - `oci://HOST/REPO@sha256:...`: served from `--cache.dir` when it is
//!   there (no registry needed), else pulled by digest, checked, and only
//!   then written to the cache. Its signature is the one attached in the
//!   registry.
//!
//! In every case the signature is judged by the module's
//! [`SignaturePolicy`] against the exact bytes that are then loaded.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};

use super::cache::{Entry, PluginCache};
use super::oci::{self, OciReference, Registry};
use super::signature::{self, MAX_SIGNATURE_BYTES};
use super::trust::SignaturePolicy;
use super::{Plugin, archive, read_limited};
use crate::config::{ModuleConfig, Source};

/// What a module's plugin must satisfy, and how its registry is reached.
#[derive(Debug, Clone, Default)]
pub struct Supply {
    /// The signature policy of the module.
    pub signatures: SignaturePolicy,
    /// How registries are reached (for `oci://` plugins).
    pub registry: Arc<Registry>,
}

/// Opens a module's plugin, pulling it into `cache_dir` if it comes from a
/// registry, and checks its signature against the module's policy.
pub fn open(module: &ModuleConfig, cache_dir: Option<&Path>) -> Result<Plugin> {
    match &module.source {
        Source::Plugin(path) => open_local(path, &module.supply.signatures),
        Source::Oci(reference) => open_oci(reference, &module.supply, cache_dir),
        Source::Component(path) => bail!("{} is a bare component, not a plugin", path.display()),
    }
}

/// Opens a plugin directory or archive on disk under `policy`.
pub fn open_local(path: &Path, policy: &SignaturePolicy) -> Result<Plugin> {
    if path.is_dir() {
        ensure!(
            !policy.required,
            "{} is a plugin directory, which cannot be signed, and a signature is required: pack it (`wasm_exporter plugin pack`) and sign the archive",
            path.display()
        );
        return Plugin::load(path);
    }
    let data = archive::read_file(path)?;
    let signature = read_signature(path)?;
    let provenance = policy.judge(
        &format!("plugin archive {}", path.display()),
        &data,
        signature.as_deref(),
    )?;
    let mut plugin = Plugin::from_archive(&data, path)?;
    plugin.provenance = provenance;
    Ok(plugin)
}

/// The signature file beside `archive`, if there is one.
pub fn read_signature(archive: &Path) -> Result<Option<Vec<u8>>> {
    read_limited(&signature::path_for(archive), MAX_SIGNATURE_BYTES as u64)
}

fn open_oci(reference: &OciReference, supply: &Supply, cache_dir: Option<&Path>) -> Result<Plugin> {
    let Some(digest) = reference.digest.as_deref() else {
        bail!("{reference} is not pinned by digest");
    };
    let Some(cache_dir) = cache_dir else {
        bail!(
            "{reference} comes from a registry and is kept in --cache.dir, which is not set: start the exporter with --cache.dir=DIR (a restart then needs no registry)"
        );
    };
    let cache = PluginCache::open(cache_dir)?;
    let policy = &supply.signatures;
    let entry = match cache.read(digest) {
        Ok(Some(entry)) => Some(entry),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(plugin = %reference, "{e:#}; pulling it again");
            cache.remove(digest)?;
            None
        }
    };
    let entry = match entry {
        Some(mut entry) => {
            if entry.signature.is_none() && policy.required {
                // The signature may have been attached since the pull.
                match refresh_signature(reference, &supply.registry) {
                    Ok(Some(sig)) => {
                        cache.add_signature(digest, &sig)?;
                        entry.signature = Some(sig);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(
                        plugin = %reference,
                        "the cached copy is not signed and the registry could not be asked for a signature: {e:#}"
                    ),
                }
            }
            entry
        }
        None => {
            let session = supply.registry.connect()?;
            let pulled = oci::block_on(session.pull(reference))
                .with_context(|| format!("pulling {reference}"))?;
            // Checked in full before anything is written to the cache.
            load_checked(
                reference,
                &pulled.archive,
                pulled.signature.as_deref(),
                &pulled.layout,
                &format!("the archive of {reference}"),
                policy,
            )?;
            let entry = cache.install(&pulled)?;
            tracing::info!(plugin = %reference, cache = %entry.dir.display(), "pulled");
            entry
        }
    };
    load_entry(reference, &entry, policy)
}

fn refresh_signature(reference: &OciReference, registry: &Registry) -> Result<Option<Vec<u8>>> {
    let session = registry.connect()?;
    oci::block_on(session.pull_signature(reference))
}

fn load_entry(reference: &OciReference, entry: &Entry, policy: &SignaturePolicy) -> Result<Plugin> {
    let mut plugin = load_checked(
        reference,
        &entry.archive,
        entry.signature.as_deref(),
        &entry.layout,
        &entry.archive_path().display().to_string(),
        policy,
    )?;
    plugin.source = entry.archive_path();
    Ok(plugin)
}

/// Judges the signature, loads the archive, and checks that its component
/// is the artifact's component layer.
fn load_checked(
    reference: &OciReference,
    archive: &[u8],
    signature: Option<&[u8]>,
    layout: &oci::Layout,
    label: &str,
    policy: &SignaturePolicy,
) -> Result<Plugin> {
    let provenance = policy.judge(&format!("plugin {reference}"), archive, signature)?;
    let mut plugin = Plugin::from_archive(archive, Path::new(label))?;
    let component = format!("sha256:{}", plugin.digest);
    ensure!(
        component == layout.component.digest,
        "{reference}: the archive's component is {component}, but the artifact's application/wasm layer is {}; refusing an artifact whose parts disagree",
        layout.component.digest
    );
    plugin.provenance = provenance;
    plugin.pulled_from = Some(reference.to_string());
    Ok(plugin)
}
