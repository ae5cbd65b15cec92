//! A module as the runtime sees it: the operator's config and the plugin
//! package resolved into one plain description.
//!
//! This is where grants are checked against the manifest and turned into
//! the access policy the sandbox enforces ([`crate::policy`]), and where a
//! plugin is opened through [`crate::plugin::source`] (pulled from its
//! registry, its signature checked); the runtime receives a [`ModuleSpec`]
//! and never looks at configs, packages, registries or signatures.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::config::{Grants, Limits, ModuleConfig, Source};
use crate::digest::sha256_hex;
use crate::labels;
use crate::plugin::manifest::ParamType;
use crate::plugin::{Plugin, source};
use crate::policy::files::{DirGrantSpec, FileGrantSpec};
use crate::policy::network::{Address, HttpGrantSpec, HttpTarget, TcpGrantSpec};
use crate::policy::{Access, FilePolicy, NetworkPolicy};

/// One parameter handed to `collect`. A secret one (a password, a token)
/// never shows: its `Debug` and [`Param::shown`] say `<secret>`, and the
/// runtime removes its value from what the guest logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Param {
    /// The name the guest receives.
    pub name: String,
    /// The value.
    pub value: String,
    /// Whether the manifest marks it secret.
    pub secret: bool,
}

impl Param {
    /// A value that is not secret.
    pub fn plain(name: impl Into<String>, value: impl Into<String>) -> Param {
        Param {
            name: name.into(),
            value: value.into(),
            secret: false,
        }
    }

    /// The value as it may be shown: `<secret>` for a secret.
    pub fn shown(&self) -> &str {
        if self.secret { "<secret>" } else { &self.value }
    }
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.shown())
    }
}

/// What a module's `target` parameter is, when it has one: the kind of
/// destination `/probe?target=` gives, checked against the grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// `HOST:PORT`, within the tcp grants.
    Address,
    /// A URL, within the http grants.
    Url,
}

impl TargetKind {
    /// Checks that `target` is of this kind and within `policy`; the
    /// message says why not.
    pub fn check(self, policy: &NetworkPolicy, target: &str) -> Result<(), String> {
        match self {
            TargetKind::Address => {
                let a = Address::parse(target)
                    .map_err(|e| format!("target {target:?} is not HOST:PORT: {e:#}"))?;
                policy.covers_address(&a)
            }
            TargetKind::Url => {
                let u = HttpTarget::parse(target)
                    .map_err(|e| format!("target {target:?} is not an http(s) URL: {e:#}"))?;
                policy.covers_url(&u)
            }
        }
    }
}

/// Everything needed to compile and run one module.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// The module's unique name: the `module` label.
    pub name: String,
    /// Where the component came from, for messages.
    pub origin: PathBuf,
    /// The component's bytes and digest.
    pub component: ComponentBytes,
    /// Parameters handed to `collect`, in order.
    pub params: Vec<Param>,
    /// The kind of the `target` parameter, when the module takes one
    /// (`/probe` serves such modules).
    pub target: Option<TargetKind>,
    /// What the module may reach.
    pub access: Arc<Access>,
    /// Resource and output limits.
    pub limits: Limits,
}

/// A module spec with what serving its output needs besides: the plugin it
/// came from, if any (its manifest declares the metrics each scrape is
/// checked against), and the operator's labels for its series.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// What the runtime needs.
    pub spec: ModuleSpec,
    /// The plugin package, for plugins.
    pub plugin: Option<Arc<Plugin>>,
    /// Operator labels, checked against the plugin's declarations.
    pub labels: Vec<(String, String)>,
}

/// Reads the module's component (bare, or from its plugin, whose parameters
/// and grants are checked against the manifest) and builds its access
/// policy. A plugin is opened by [`source::open`]: pulled into `cache_dir`
/// when it comes from a registry, its signature checked.
pub fn resolve(config: &ModuleConfig, cache_dir: Option<&Path>) -> Result<Resolved> {
    let ComponentSource {
        component,
        plugin,
        origin,
    } = component(config, cache_dir)?;
    let (params, grants) = match &plugin {
        Some(plugin) => {
            let resolved = plugin.resolve(config)?;
            labels::check_against_manifest(&config.labels, &plugin.manifest).context("labels")?;
            resolved
        }
        None => (
            config
                .params
                .iter()
                .map(|(n, v)| Param::plain(n, v))
                .collect(),
            config.grants.clone(),
        ),
    };
    let access = access(&grants).context("grants")?;
    for warning in access
        .files
        .warnings()
        .into_iter()
        .chain(access.network.warnings())
    {
        tracing::warn!(module = %config.name, "{warning}");
    }
    let target = plugin
        .as_ref()
        .and_then(|p| p.manifest.target())
        .and_then(|t| destination(t.kind));
    // Destinations given as parameters must lie within the grants, or
    // every scrape would be refused.
    if let Some(p) = &plugin {
        for param in &params {
            let kind = p
                .manifest
                .parameters
                .iter()
                .find(|d| d.name == param.name)
                .and_then(|d| destination(d.kind));
            if let Some(kind) = kind
                && let Err(e) = kind.check(&access.network, &param.value)
            {
                bail!("parameter {:?}: {e}", param.name);
            }
        }
    }
    Ok(Resolved {
        spec: ModuleSpec {
            name: config.name.clone(),
            origin,
            component,
            params,
            target,
            access: Arc::new(access),
            limits: config.limits.clone(),
        },
        plugin: plugin.map(Arc::new),
        labels: config.labels.clone(),
    })
}

/// The kind of destination a parameter of type `kind` names, if any.
fn destination(kind: ParamType) -> Option<TargetKind> {
    match kind {
        ParamType::Address => Some(TargetKind::Address),
        ParamType::Url => Some(TargetKind::Url),
        _ => None,
    }
}

/// A component's bytes with their hex SHA-256, taken once when they were
/// read (for a plugin, when its manifest's digest was checked): the
/// runtime keys compiled and loaded components by it, and 18 MB of an
/// interpreter plugin take 40 ms to hash. Built only here, so the digest
/// is always that of the bytes.
///
/// An `Arc<Vec<u8>>` rather than an `Arc<[u8]>`: the latter is a copy of
/// the `Vec` the file was read into, and with both alive at once an
/// exporter loading ten Python plugins peaked 15 MB higher.
#[derive(Debug, Clone)]
pub struct ComponentBytes {
    bytes: Arc<Vec<u8>>,
    sha256: String,
}

impl AsRef<[u8]> for ComponentBytes {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl ComponentBytes {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Hex SHA-256 of the bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// A module's component as read, before it is compiled.
pub struct ComponentSource {
    /// The component's bytes and digest.
    pub component: ComponentBytes,
    /// The plugin package it came in, if it is one (its component bytes
    /// taken out into `component`).
    pub plugin: Option<Plugin>,
    /// Where the component was read (for a pulled plugin, its copy in the
    /// cache).
    pub origin: PathBuf,
}

/// The module's component, for a plugin its package (checked: signature,
/// manifest, digest; pulled into `cache_dir` from a registry). Grants are
/// not looked at: what `wasm_exporter compile` needs on a build machine
/// that has none of the granted paths.
pub fn component(config: &ModuleConfig, cache_dir: Option<&Path>) -> Result<ComponentSource> {
    match &config.source {
        Source::Component(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading component {}", path.display()))?;
            Ok(ComponentSource {
                component: ComponentBytes {
                    sha256: sha256_hex(&bytes),
                    bytes: Arc::new(bytes),
                },
                plugin: None,
                origin: path.clone(),
            })
        }
        Source::Plugin(_) | Source::Oci(_) => {
            let mut plugin = source::open(config, cache_dir)?;
            // Read from an archive the vector may have grown past its length;
            // the bytes are kept as they are, so drop the spare capacity.
            plugin.component.shrink_to_fit();
            // The exporter keeps the plugin for its manifest; the bytes
            // (tens of MB for an interpreter) are needed only to compile.
            // Their digest was taken when the package was opened.
            Ok(ComponentSource {
                component: ComponentBytes {
                    bytes: Arc::new(std::mem::take(&mut plugin.component)),
                    sha256: plugin.digest.clone(),
                },
                origin: plugin.source.clone(),
                plugin: Some(plugin),
            })
        }
    }
}

/// The access policy of a set of grants.
pub fn access(grants: &Grants) -> Result<Access> {
    let dirs: Vec<DirGrantSpec<'_>> = grants
        .dirs
        .iter()
        .map(|d| DirGrantSpec {
            host: &d.host,
            guest: &d.guest,
        })
        .collect();
    let files: Vec<FileGrantSpec<'_>> = grants
        .files
        .iter()
        .map(|f| FileGrantSpec {
            path: &f.path,
            host: &f.host,
        })
        .collect();
    let files = FilePolicy::new(&dirs, &files)?;
    files.check_not_own_process()?;
    let tcp: Vec<TcpGrantSpec<'_>> = grants
        .tcp
        .iter()
        .map(|t| TcpGrantSpec {
            address: &t.address,
            resolves_to: t.resolves_to.as_deref(),
        })
        .collect();
    let http: Vec<HttpGrantSpec<'_>> = grants
        .http
        .iter()
        .map(|h| HttpGrantSpec {
            url: &h.url,
            resolves_to: h.resolves_to.as_deref(),
            ca_file: h.ca_file.as_deref(),
        })
        .collect();
    let network = NetworkPolicy::new(&tcp, &http)?;
    Ok(Access {
        files: Arc::new(files),
        env: grants.env.clone(),
        network: Arc::new(network),
    })
}
