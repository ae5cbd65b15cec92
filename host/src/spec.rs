//! A module as the runtime sees it: the operator's config and the plugin
//! package resolved into one plain description.
//!
//! This is where grants are checked against the manifest and turned into
//! the access policy the sandbox enforces ([`crate::policy`]); the runtime
//! receives a [`ModuleSpec`] and never looks at configs or packages.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::{Grants, Limits, ModuleConfig, Source};
use crate::labels;
use crate::plugin::Plugin;
use crate::policy::files::{DirGrantSpec, FileGrantSpec};
use crate::policy::{Access, FilePolicy};

/// Everything needed to compile and run one module.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// The module's unique name: the `module` label.
    pub name: String,
    /// Where the component came from, for messages.
    pub origin: PathBuf,
    /// The component's bytes.
    pub component: Arc<[u8]>,
    /// Parameters handed to `collect`, in order.
    pub params: Vec<(String, String)>,
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
/// policy.
pub fn resolve(config: &ModuleConfig) -> Result<Resolved> {
    let (component, plugin) = component(config)?;
    let (params, grants) = match &plugin {
        Some(plugin) => {
            let resolved = plugin.resolve(config)?;
            labels::check_against_manifest(&config.labels, &plugin.manifest).context("labels")?;
            resolved
        }
        None => (config.params.clone(), config.grants.clone()),
    };
    let access = access(&grants).context("grants")?;
    for warning in access.files.warnings() {
        tracing::warn!(module = %config.name, "{warning}");
    }
    Ok(Resolved {
        spec: ModuleSpec {
            name: config.name.clone(),
            origin: config.source.path().to_path_buf(),
            component,
            params,
            access: Arc::new(access),
            limits: config.limits.clone(),
        },
        plugin: plugin.map(Arc::new),
        labels: config.labels.clone(),
    })
}

/// The module's component and, for a plugin, its package (checked: manifest,
/// digest). Grants are not looked at: what `wasm_exporter compile` needs on
/// a build machine that has none of the granted paths.
pub fn component(config: &ModuleConfig) -> Result<(Arc<[u8]>, Option<Plugin>)> {
    match &config.source {
        Source::Component(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading component {}", path.display()))?;
            Ok((Arc::from(bytes), None))
        }
        Source::Plugin(path) => {
            let mut plugin = Plugin::load(path)?;
            // The exporter keeps the plugin for its manifest; the bytes
            // (tens of MB for an interpreter) are needed only to compile.
            let bytes = Arc::from(std::mem::take(&mut plugin.component));
            Ok((bytes, Some(plugin)))
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
    Ok(Access {
        files: Arc::new(files),
        env: grants.env.clone(),
    })
}
