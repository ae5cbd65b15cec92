//! `plugin sign`, `plugin push` and `plugin pull`: a packed plugin on its
//! way from its author, through a reviewer's signature and a registry, to
//! the exporters.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};

use super::cache::write_atomically;
use super::oci::{OciReference, Registry};
use super::signature::{Signature, SigningKey, path_for as signature_path};
use super::{Plugin, archive, source};

/// Signs a plugin archive with a minisign secret key, writing
/// `ARCHIVE.minisig` (which `minisign -Vm ARCHIVE -p KEY.pub` verifies).
/// Returns the signature's path and a line for the terminal.
pub fn sign(
    archive_path: &Path,
    key: &Path,
    password_file: Option<&Path>,
) -> Result<(PathBuf, String)> {
    let data = archive::read_file(archive_path)?;
    // Only a plugin that loads is worth a signature.
    let plugin = Plugin::from_archive(&data, archive_path)?;
    let key_text = std::fs::read_to_string(key)
        .with_context(|| format!("reading the secret key {}", key.display()))?;
    let password = match password_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the password file {}", file.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ),
        None => None,
    };
    let key = SigningKey::parse(&key_text, password)
        .with_context(|| format!("secret key {}", key.display()))?;
    let name = archive_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let text = key.sign(&data, &name, now)?;
    let out = signature_path(archive_path);
    write_atomically(&out, text.as_bytes())?;
    Ok((
        out.clone(),
        format!(
            "signed {} ({} {}) with key {}: {}",
            archive_path.display(),
            plugin.manifest.name,
            plugin.manifest.version,
            key.id(),
            out.display()
        ),
    ))
}

/// Pushes a plugin archive, with its `ARCHIVE.minisig` when there is one,
/// to `target` (`oci://HOST/REPO[:TAG]`, the tag defaulting to the plugin's
/// version). Returns lines for the terminal.
pub async fn push(archive_path: &Path, target: &str, registry: &Registry) -> Result<String> {
    let mut target = OciReference::parse(target)?;
    let data = archive::read_file(archive_path)?;
    let files = archive::read(archive_path, &data)?;
    let plugin = Plugin::from_archive(&data, archive_path)?;
    if target.tag.is_none() {
        target = OciReference::parse(&format!("{target}:{}", plugin.manifest.version))
            .context("the plugin's version is not a valid tag: give one (oci://HOST/REPO:TAG)")?;
    }
    let signature = source::read_signature(archive_path)?;
    let signer = match &signature {
        Some(sig) => Some(
            Signature::parse(sig)
                .with_context(|| format!("{}", signature_path(archive_path).display()))?
                .key_id(),
        ),
        None => None,
    };
    let name = archive_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin.tar.gz".into());
    let session = registry.connect()?;
    let pushed = session
        .push(
            &target,
            &data,
            &name,
            &files,
            &plugin.manifest.component,
            signature.as_deref(),
        )
        .await
        .with_context(|| format!("pushing {} to {target}", archive_path.display()))?;
    let mut out = format!(
        "pushed {} {} to {target}\ndigest: {}\nin the config: plugin: {}\n",
        plugin.manifest.name,
        plugin.manifest.version,
        pushed.reference.digest.as_deref().unwrap_or_default(),
        pushed.reference
    );
    match (signer, pushed.signature_tag) {
        (Some(id), Some(tag)) => {
            out.push_str(&format!("signature: key {id}, attached as tag {tag}\n"))
        }
        _ => out.push_str(&format!(
            "signature: none ({} not found; sign with `wasm_exporter plugin sign` and push again)\n",
            signature_path(archive_path).display()
        )),
    }
    Ok(out)
}

/// Pulls a plugin into an archive (`output`, or `NAME-VERSION.tar.gz`),
/// with `ARCHIVE.minisig` when a signature is attached. Returns lines for
/// the terminal.
pub async fn pull(from: &str, output: Option<&Path>, registry: &Registry) -> Result<String> {
    let reference = OciReference::parse(from)?;
    let session = registry.connect()?;
    let pulled = session
        .pull(&reference)
        .await
        .with_context(|| format!("pulling {reference}"))?;
    let label = format!("the archive of {reference}");
    let plugin = Plugin::from_archive(&pulled.archive, Path::new(&label))?;
    let component = format!("sha256:{}", plugin.digest);
    ensure!(
        component == pulled.layout.component.digest,
        "{reference}: the archive's component is {component}, but the artifact's application/wasm layer is {}",
        pulled.layout.component.digest
    );
    let out = output.map(Path::to_path_buf).unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}-{}.tar.gz",
            plugin.manifest.name, plugin.manifest.version
        ))
    });
    write_atomically(&out, &pulled.archive)?;
    let sig_path = signature_path(&out);
    let signature_line = match &pulled.signature {
        Some(sig) => {
            write_atomically(&sig_path, sig)?;
            let id = Signature::parse(sig)
                .map(|s| s.key_id().to_string())
                .unwrap_or_else(|e| format!("unreadable: {e:#}"));
            format!(
                "signature: key {id}, written to {} (check it with `wasm_exporter plugin check {} --trusted-key KEY.pub` or `minisign -Vm {} -p KEY.pub`)",
                sig_path.display(),
                out.display(),
                out.display()
            )
        }
        None => {
            // An older signature beside it would belong to another archive.
            if sig_path.exists() {
                std::fs::remove_file(&sig_path)
                    .with_context(|| format!("removing the stale {}", sig_path.display()))?;
            }
            "signature: none attached".to_string()
        }
    };
    Ok(format!(
        "pulled {} {} from {} into {}\n{signature_line}\n",
        plugin.manifest.name,
        plugin.manifest.version,
        reference.at_digest(&pulled.digest),
        out.display()
    ))
}
