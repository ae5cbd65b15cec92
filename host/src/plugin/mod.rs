//! Plugin packages: a manifest, a component, a logo and a README, as a
//! directory or a `.tar.gz` of it; and the checks that make the manifest a
//! security boundary (grants, parameters, declared metrics).
//!
//! Where a module's plugin comes from (a directory, an archive, an OCI
//! registry) and the signature it must carry are [`source`]'s: that is
//! where plugins are pulled ([`oci`], [`cache`]) and signatures checked
//! ([`signature`] for the format, [`trust`] for the policy).

pub mod archive;
pub mod cache;
pub mod commands;
pub mod credentials;
pub mod manifest;
pub mod oci;
pub mod publish;
pub mod scaffold;
pub mod signature;
pub mod source;
pub mod trust;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::{Grants, ModuleConfig};
use crate::digest::sha256_hex;
use crate::model::Family;
use crate::policy::files;
use crate::policy::network::{TcpPattern, UrlPattern};
use crate::runtime::{Failure, Reason};
use crate::spec::Param;
use anyhow::{Context, Result, bail, ensure};
pub use manifest::{Manifest, MetricKind};
pub use trust::Provenance;

/// The manifest's file name in a plugin.
pub const MANIFEST_FILE: &str = "plugin.yaml";
/// The logo's file name.
pub const LOGO_FILE: &str = "logo.png";
/// The README's file name.
pub const README_FILE: &str = "README.md";

/// Largest component accepted (an interpreter-based guest is ~20 MB).
const MAX_COMPONENT_BYTES: u64 = 256 << 20;
/// Largest manifest, logo or README accepted.
const MAX_SIDE_FILE_BYTES: u64 = 4 << 20;

/// A loaded plugin.
#[derive(Debug, Clone)]
pub struct Plugin {
    /// The validated manifest.
    pub manifest: Manifest,
    /// The component's bytes; empty once a module was resolved from the
    /// plugin (`spec::resolve` takes them to compile).
    pub component: Vec<u8>,
    /// Hex SHA-256 of the component.
    pub digest: String,
    /// `logo.png`, when present.
    pub logo: Option<Vec<u8>>,
    /// `README.md`, when present.
    pub readme: Option<String>,
    /// Where it was loaded from.
    pub source: PathBuf,
    /// The registry reference it was pulled from, for a plugin from an OCI
    /// registry (`source` is then its copy in the cache).
    pub pulled_from: Option<String>,
    /// Who signed it, as checked against the trusted keys.
    pub provenance: Provenance,
}

/// The files of a plugin, from a directory or an archive.
pub(crate) struct Files {
    pub manifest: String,
    pub component: Option<Vec<u8>>,
    pub logo: Option<Vec<u8>>,
    pub readme: Option<String>,
}

impl Plugin {
    /// Loads a plugin directory or `.tar.gz` archive, checking the manifest
    /// and the component's digest (when the manifest has one). Its
    /// signature is not looked at: [`source::open`] does that.
    pub fn load(path: &Path) -> Result<Plugin> {
        if path.is_dir() {
            Self::from_files(read_dir(path)?, path)
        } else {
            Self::from_archive(&archive::read_file(path)?, path)
        }
    }

    /// Loads a plugin from the bytes of its archive; `path` names it.
    pub fn from_archive(data: &[u8], path: &Path) -> Result<Plugin> {
        Self::from_files(archive::read(path, data)?, path)
    }

    fn from_files(files: Files, path: &Path) -> Result<Plugin> {
        let manifest = Manifest::parse(&files.manifest)
            .with_context(|| format!("{} of {}", MANIFEST_FILE, path.display()))?;
        let Some(component) = files.component else {
            bail!(
                "{}: the component {:?} named in {MANIFEST_FILE} is missing (build the plugin first)",
                path.display(),
                manifest.component
            );
        };
        let digest = sha256_hex(&component);
        if let Some(expected) = &manifest.sha256
            && !expected.eq_ignore_ascii_case(&digest)
        {
            bail!(
                "{}: the component's SHA-256 is {digest} but {MANIFEST_FILE} says {expected}; refusing to load a component that is not the one declared",
                path.display()
            );
        }
        if let Some(logo) = &files.logo {
            ensure!(
                logo.starts_with(b"\x89PNG\r\n\x1a\n"),
                "{}: {LOGO_FILE} is not a PNG image",
                path.display()
            );
        }
        Ok(Plugin {
            manifest,
            component,
            digest,
            logo: files.logo,
            readme: files.readme,
            source: path.to_path_buf(),
            pulled_from: None,
            provenance: Provenance::Unsigned,
        })
    }

    /// The parts a package must have beyond what loading needs.
    pub fn check_complete(&self) -> Result<()> {
        ensure!(self.logo.is_some(), "{LOGO_FILE} is missing");
        ensure!(
            self.readme.as_deref().is_some_and(|r| !r.trim().is_empty()),
            "{README_FILE} is missing or empty"
        );
        Ok(())
    }

    /// Checks the operator's grants against what the plugin asks for and
    /// returns the grants to apply: a grant the plugin did not ask for is an
    /// error (the manifest must say everything the plugin can read), a
    /// requested capability not granted is an error unless the manifest marks
    /// it optional (then it is left out, with a warning).
    ///
    /// A grant may be narrower than the request: a file the plugin's glob
    /// matches, or a file inside a directory it asks for.
    pub fn effective_grants(&self, module: &str, grants: &Grants) -> Result<Grants> {
        let caps = &self.manifest.capabilities;
        let name = &self.manifest.name;
        for file in &grants.files {
            let by_file = caps
                .files
                .iter()
                .any(|r| files::pattern_covers(&r.path, &file.path));
            let by_dir = caps
                .dirs
                .iter()
                .any(|d| Path::new(&file.path).starts_with(&d.guest));
            ensure!(
                by_file || by_dir,
                "the config grants the file {} but plugin {name} does not ask for it{}; remove the grant",
                file.path,
                asked_for(caps.files.iter().map(|f| f.path.as_str()))
            );
        }
        for dir in &grants.dirs {
            ensure!(
                caps.dirs.iter().any(|d| d.guest == dir.guest),
                "the config grants the directory {} (as {}) but plugin {name} does not ask for it{}; remove the grant",
                dir.host.display(),
                dir.guest,
                asked_for(
                    caps.files
                        .iter()
                        .map(|f| f.path.as_str())
                        .chain(caps.dirs.iter().map(|d| d.guest.as_str()))
                )
            );
        }
        for var in &grants.env {
            ensure!(
                caps.env.iter().any(|e| &e.name == var),
                "the config grants environment variable {var} but plugin {name} does not ask for it; remove the grant"
            );
        }
        for tcp in &grants.tcp {
            let granted = TcpPattern::parse(&tcp.address)
                .with_context(|| format!("grants: tcp: {}", tcp.address))?;
            ensure!(
                caps.tcp
                    .iter()
                    .any(|r| TcpPattern::parse(&r.address).is_ok_and(|r| r.covers(&granted))),
                "the config grants tcp {} but plugin {name} does not ask for it{}; remove the grant",
                tcp.address,
                asked_for(caps.tcp.iter().map(|t| t.address.as_str()))
            );
        }
        for http in &grants.http {
            let granted = UrlPattern::parse(&http.url)
                .with_context(|| format!("grants: http: {}", http.url))?;
            ensure!(
                caps.http
                    .iter()
                    .any(|r| UrlPattern::parse(&r.url).is_ok_and(|r| r.covers(&granted))),
                "the config grants http {} but plugin {name} does not ask for it{}; remove the grant",
                http.url,
                asked_for(caps.http.iter().map(|h| h.url.as_str()))
            );
        }
        let ungranted = caps
            .files
            .iter()
            .filter(|r| {
                !grants
                    .files
                    .iter()
                    .any(|g| files::pattern_covers(&r.path, &g.path))
            })
            .map(|r| {
                (
                    r.optional,
                    format!("read access to the file {}", r.path),
                    &r.description,
                    format!("grants: {{files: [{}]}}", r.path),
                )
            })
            .chain(
                caps.dirs
                    .iter()
                    .filter(|d| {
                        !grants.dirs.iter().any(|g| g.guest == d.guest)
                            && !grants
                                .files
                                .iter()
                                .any(|g| Path::new(&g.path).starts_with(&d.guest))
                    })
                    .map(|d| {
                        (
                            d.optional,
                            format!("read access to the directory {}", d.guest),
                            &d.description,
                            format!("grants: {{dirs: [{{host: HOST_DIR, guest: {}}}]}}", d.guest),
                        )
                    }),
            )
            .chain(
                caps.env
                    .iter()
                    .filter(|e| !grants.env.contains(&e.name))
                    .map(|e| {
                        (
                            e.optional,
                            format!("read access to the environment variable {}", e.name),
                            &e.description,
                            "grants.env".to_string(),
                        )
                    }),
            )
            .chain(
                caps.tcp
                    .iter()
                    .filter(|r| {
                        let Ok(asked) = TcpPattern::parse(&r.address) else {
                            return true;
                        };
                        !grants
                            .tcp
                            .iter()
                            .any(|g| TcpPattern::parse(&g.address).is_ok_and(|g| asked.covers(&g)))
                    })
                    .map(|r| {
                        (
                            r.optional,
                            format!("connections to {}", r.address),
                            &r.description,
                            "grants: {tcp: [HOST:PORT]} (within the destination asked for)"
                                .to_string(),
                        )
                    }),
            )
            .chain(
                caps.http
                    .iter()
                    .filter(|r| {
                        let Ok(asked) = UrlPattern::parse(&r.url) else {
                            return true;
                        };
                        !grants
                            .http
                            .iter()
                            .any(|g| UrlPattern::parse(&g.url).is_ok_and(|g| asked.covers(&g)))
                    })
                    .map(|r| {
                        (
                            r.optional,
                            format!("HTTP requests to {}", r.url),
                            &r.description,
                            "grants: {http: [URL]} (within the URL asked for)".to_string(),
                        )
                    }),
            );
        for (optional, what, why, how) in ungranted {
            if optional {
                tracing::warn!(
                    module,
                    plugin = %name,
                    "optional {what} is not granted; the plugin runs without it"
                );
            } else {
                bail!(
                    "plugin {name} needs {what} ({}), which the config does not grant: add `{how}`",
                    if why.is_empty() {
                        "no reason given"
                    } else {
                        why.as_str()
                    }
                );
            }
        }
        Ok(grants.clone())
    }

    /// Resolves a module's plugin settings: parameters against their
    /// declarations and grants against the capabilities asked for.
    pub fn resolve(&self, config: &ModuleConfig) -> Result<(Vec<Param>, Grants)> {
        let params = self
            .manifest
            .resolve_params(&config.params)
            .with_context(|| format!("plugin {}", self.manifest.name))?;
        let grants = self.effective_grants(&config.name, &config.grants)?;
        Ok((params, grants))
    }
}

/// Checks a module's validated output against its plugin's declarations:
/// every family must be declared, with the declared type and unit and
/// exactly the declared label names. A family that only a pattern declares
/// is checked for its type (unless `any`) and its unit (if the pattern
/// gives one).
pub fn check_declared(manifest: &Manifest, families: &[Family]) -> Result<(), Failure> {
    for f in families {
        let name = &f.name;
        let undeclared = |why: String| {
            Failure::new(
                Reason::UndeclaredMetric,
                format!("plugin {}: {why}", manifest.name),
            )
        };
        let Some(declared) = manifest.metric(name) else {
            return Err(undeclared(format!(
                "emitted {name:?}, which its manifest does not declare"
            )));
        };
        if !declared.kind.matches(f.kind) {
            return Err(undeclared(format!(
                "emitted {name:?} as a {}, but its manifest declares a {}",
                f.kind.as_str(),
                declared.kind.as_str()
            )));
        }
        if (!declared.is_pattern() || !declared.unit.is_empty()) && f.unit != declared.unit {
            return Err(undeclared(format!(
                "emitted {name:?} with the unit {:?}, but its manifest declares {:?}",
                f.unit, declared.unit
            )));
        }
        if declared.is_pattern() {
            continue;
        }
        let mut got: Vec<&str> = f.label_names.iter().map(|n| &**n).collect();
        let mut want: Vec<&str> = declared.labels.iter().map(String::as_str).collect();
        got.sort_unstable();
        want.sort_unstable();
        if got != want {
            return Err(undeclared(format!(
                "emitted {name:?} with labels {got:?}, but its manifest declares {want:?}"
            )));
        }
    }
    Ok(())
}

/// Checks that no two different plugins declare the same metric name, so
/// their series can never be confused. The same plugin loaded as several
/// modules declares the same names, which is fine; two different packages
/// under one plugin name are not.
pub fn check_namespaces<'a>(
    plugins: impl IntoIterator<Item = (&'a str, &'a Manifest)>,
) -> Result<()> {
    let mut by_name: HashMap<&str, (&str, &Manifest)> = HashMap::new();
    let mut owners: HashMap<&str, (&str, &str)> = HashMap::new();
    for (module, manifest) in plugins {
        match by_name.get(manifest.name.as_str()) {
            Some((other_module, other)) if *other != manifest => bail!(
                "modules {other_module:?} and {module:?} load two different plugins both named {}; plugin names must be unique",
                manifest.name
            ),
            Some(_) => continue,
            None => {
                by_name.insert(&manifest.name, (module, manifest));
            }
        }
        // A pattern owns no name: the families it lets through are checked
        // against every other module's when the scrape is merged.
        for m in manifest.metrics.iter().filter(|m| !m.is_pattern()) {
            if let Some((other_module, other_plugin)) = owners.get(m.name.as_str()) {
                bail!(
                    "metric {:?} is declared by plugin {} (module {module:?}) and by plugin {other_plugin} (module {other_module:?}); a metric name may belong to one plugin only",
                    m.name,
                    manifest.name
                );
            }
            owners.insert(&m.name, (module, &manifest.name));
        }
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Files> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = read_limited(&manifest_path, MAX_SIDE_FILE_BYTES)?
        .with_context(|| format!("{} has no {MANIFEST_FILE}", dir.display()))?;
    let manifest = String::from_utf8(manifest)
        .with_context(|| format!("{} is not UTF-8", manifest_path.display()))?;
    let component = match component_name(&manifest) {
        Some(name) => read_limited(&dir.join(name), MAX_COMPONENT_BYTES)?,
        None => None,
    };
    let logo = read_limited(&dir.join(LOGO_FILE), MAX_SIDE_FILE_BYTES)?;
    let readme = read_limited(&dir.join(README_FILE), MAX_SIDE_FILE_BYTES)?
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok(Files {
        manifest,
        component,
        logo,
        readme,
    })
}

/// The component file named by a manifest's text, when it is a plain file
/// name. Only enough is parsed to find the file; the manifest is validated
/// in full once the files are read.
pub(crate) fn component_name(manifest: &str) -> Option<String> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(manifest).ok()?;
    let name = value.get("component")?.as_str()?;
    (!name.is_empty() && !name.contains('/') && !name.contains('\\') && name != "..")
        .then(|| name.to_owned())
}

/// Reads a regular file of at most `max` bytes; `None` if it does not
/// exist. The bound holds even for a file that grows while it is read.
pub(crate) fn read_limited(path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    // Looked at before it is opened: opening a FIFO would block.
    match std::fs::metadata(path) {
        Ok(meta) => {
            ensure!(meta.is_file(), "{} is not a regular file", path.display());
            ensure!(
                meta.len() <= max,
                "{} is {} bytes, more than the {max} allowed",
                path.display(),
                meta.len()
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(max + 1).read_to_end(&mut data))
        .with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        data.len() as u64 <= max,
        "{} grew past the {max} bytes allowed while it was read",
        path.display()
    );
    Ok(Some(data))
}

/// ", which it asks for: a, b" or nothing when it asks for none.
fn asked_for<'a>(asked: impl Iterator<Item = &'a str>) -> String {
    let asked: Vec<&str> = asked.collect();
    if asked.is_empty() {
        String::new()
    } else {
        format!(" (it asks for {})", asked.join(", "))
    }
}
