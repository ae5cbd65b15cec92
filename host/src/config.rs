//! The operator's configuration file: which scraper modules to run, with
//! which parameters, grants and limits.
//!
//! The file is YAML, like the rest of the Prometheus ecosystem. Unknown keys
//! are errors (a typo in a security-relevant key must not be silently
//! ignored), and every error names the module and the key at fault.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use bytesize::ByteSize;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::plugin::oci::{OciReference, Registry, RegistryConfig};
use crate::plugin::source::Supply;
use crate::plugin::trust::{SignaturePolicy, SignaturesConfig, TrustedKeys};

/// Largest `global.concurrency` accepted.
pub const MAX_CONCURRENCY: usize = 256;

/// The suffix of a parameter given as a file (`password_file: PATH`): the
/// file holds the value of a secret parameter. Such values are paths,
/// relative to the config file.
pub const FILE_SUFFIX: &str = "_file";

/// The whole configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings that apply to the exporter as a whole.
    pub global: Global,
    /// The scraper modules, in the order they appear in the file; that order
    /// decides which module keeps a metric name when two emit the same one.
    pub modules: Vec<ModuleConfig>,
}

/// Exporter-wide settings (`global:` in the file).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    /// How many guest calls may run at the same time, across all scrapes.
    /// Each running guest holds up to its memory limit, so this bounds the
    /// exporter's memory as well as its CPU use. A call stuck in the kernel
    /// keeps its slot until it returns.
    pub concurrency: usize,
    /// Time kept back from Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`
    /// so the answer is written before Prometheus gives up.
    #[serde(with = "humantime_serde")]
    pub scrape_timeout_margin: Duration,
    /// Maximum wasm stack of a guest call; deeper recursion traps.
    pub wasm_stack: ByteSize,
    /// How guest memory accesses are bounds-checked; see [`BoundsChecks`].
    pub bounds_checks: BoundsChecks,
    /// Refuse modules given as a bare `component:` rather than a `plugin:`
    /// whose manifest declares what it may read and emit.
    pub require_plugins: bool,
    /// Instantiate each module's next sandbox as soon as a `/metrics` call
    /// ends, so that the next scrape only runs the guest's `collect`. Only
    /// for modules without network grants whose granted directories are all
    /// on procfs or sysfs, whose instantiation takes 20 µs or more, after
    /// scrapes that started while no other was under way. A waiting sandbox
    /// holds one of the `concurrency` slots, only when one is free and
    /// never the last one, and its memory; with `concurrency: 1` nothing is
    /// prepared.
    pub prepare_ahead: bool,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism()
                .map(|n| (n.get() * 2).min(MAX_CONCURRENCY))
                .unwrap_or(4),
            scrape_timeout_margin: Duration::from_millis(250),
            wasm_stack: ByteSize::kib(512),
            bounds_checks: BoundsChecks::default(),
            require_plugins: false,
            prepare_ahead: true,
        }
    }
}

/// How guest memory accesses are kept inside the guest's memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundsChecks {
    /// A check in the guest's code before each access. Memory a call grew
    /// stays mapped in its pool slot, so calls never change page
    /// protections: no `mprotect` and no TLB flush on every CPU per call.
    /// Best for small, frequent guests (C collectors under load: 40% more
    /// scrapes per second measured).
    #[default]
    Explicit,
    /// Guard pages and signals: no checks in the code, but a call that grows
    /// memory changes page protections (twice). Best for interpreter-heavy
    /// guests (Python, JavaScript: 8-38% less time per scrape measured, and
    /// faster compilation).
    GuardPages,
}

/// Resource and output limits of one module. `defaults:` in the file sets
/// them for every module; a module's own `limits:` overrides single keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock deadline of one call (instantiation included).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Cap on the sum of the guest's linear memories.
    pub memory: ByteSize,
    /// Cap on the elements of each guest table.
    pub table_elements: u32,
    /// Files and directories the guest may hold open at once; past it an
    /// open fails (WASI `quota`) and the guest may carry on.
    pub open_files: usize,
    /// WASI resources (descriptors, streams, pollables, directory
    /// listings...) the guest may hold at once; past it the call traps
    /// (`reason="resource_limit"`).
    pub wasi_resources: usize,
    /// Network connections one call may open (TCP connects and HTTP
    /// requests together); past it they are refused.
    pub connections: usize,
    /// Bytes one call may receive over the network, all connections
    /// together; past it its streams fail.
    pub received_bytes: ByteSize,
    /// Cap on the number of metric families returned.
    pub max_families: usize,
    /// Cap on the number of series (samples) returned, all families together.
    pub max_series: usize,
    /// Cap on the number of dimensions (label names) of one family.
    pub max_labels: usize,
    /// Cap on the length in bytes of a metric or label name.
    pub max_name_length: usize,
    /// Cap on the length in bytes of a label value.
    pub max_label_value_length: usize,
    /// Cap on the length in bytes of a family's help text.
    pub max_help_length: usize,
    /// Cap on the size of everything returned: all names, help texts and
    /// label values in bytes, plus 8 bytes per sample value.
    pub max_output_bytes: ByteSize,
    /// How much of the guest's stdout and of its stderr is kept per call and
    /// written to the exporter's log; the rest is dropped and counted.
    pub max_log_bytes: ByteSize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            memory: ByteSize::mib(64),
            table_elements: 100_000,
            open_files: 64,
            wasi_resources: 1_024,
            connections: 16,
            received_bytes: ByteSize::mib(8),
            max_families: 1_000,
            max_series: 10_000,
            max_labels: 32,
            max_name_length: 256,
            max_label_value_length: 4_096,
            max_help_length: 4_096,
            max_output_bytes: ByteSize::mib(8),
            max_log_bytes: ByteSize::kib(16),
        }
    }
}

impl Limits {
    fn validate(&self) -> Result<()> {
        ensure!(!self.timeout.is_zero(), "timeout must be greater than 0");
        ensure!(
            self.memory >= ByteSize::mib(1),
            "memory must be at least 1MiB (got {})",
            self.memory
        );
        ensure!(
            self.wasi_resources >= 16,
            "wasi_resources must be at least 16 (a guest needs a few for its standard streams)"
        );
        ensure!(
            self.max_name_length > 0,
            "max_name_length must be greater than 0"
        );
        ensure!(
            self.received_bytes >= ByteSize::kib(1),
            "received_bytes must be at least 1KiB (got {})",
            self.received_bytes
        );
        Ok(())
    }
}

/// A host directory made visible to a guest, read-only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// Directory on the host (relative paths are relative to the config file).
    pub host: PathBuf,
    /// Absolute path under which the guest sees it.
    pub guest: String,
}

/// A host file, or the files matching a glob, made visible to a guest,
/// read-only. Written as the guest path alone (`/proc/meminfo`), or with
/// the host path when it differs
/// (`{path: /proc/meminfo, host: /host/proc/meminfo}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    /// Absolute path the guest opens; components after the first may be
    /// globs (`*`, `?`, `[...]`).
    pub path: String,
    /// The same file on the host: the guest path itself unless given.
    pub host: PathBuf,
}

impl<'de> Deserialize<'de> for FileGrant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Mapped {
            path: String,
            host: PathBuf,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Path(String),
            Mapped(Mapped),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "a file grant is a path (`/proc/meminfo`) or `{path: GUEST_PATH, host: HOST_PATH}`",
            )
        })? {
            Raw::Path(path) => Ok(FileGrant {
                host: PathBuf::from(&path),
                path,
            }),
            Raw::Mapped(m) => Ok(FileGrant {
                path: m.path,
                host: m.host,
            }),
        }
    }
}

/// A TCP destination a guest may connect to: `HOST:PORT`
/// (`127.0.0.1:6379`, `redis.internal:6379`, `10.0.0.0/8:*`), or
/// `{address: HOST:PORT, resolves_to: [NETWORK, ...]}` to pin where a name
/// may lead. The syntax is checked by `policy::network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpGrant {
    /// `HOST:PORT`.
    pub address: String,
    /// Networks the name may resolve into (names only).
    pub resolves_to: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for TcpGrant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            address: String,
            #[serde(default)]
            resolves_to: Option<Vec<String>>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Address(String),
            Full(Full),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "a tcp grant is `HOST:PORT` or `{address: HOST:PORT, resolves_to: [NETWORK, ...]}`",
            )
        })? {
            Raw::Address(address) => Ok(TcpGrant {
                address,
                resolves_to: None,
            }),
            Raw::Full(f) => Ok(TcpGrant {
                address: f.address,
                resolves_to: f.resolves_to,
            }),
        }
    }
}

/// HTTP requests a guest may send: a URL prefix
/// (`http://127.0.0.1:8080/stub_status`), or
/// `{url: URL, ca_file: FILE, resolves_to: [NETWORK, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    /// `SCHEME://HOST[:PORT]/PATH`.
    pub url: String,
    /// Networks the name may resolve into (names only).
    pub resolves_to: Option<Vec<String>>,
    /// The CA that HTTPS servers under this grant must chain to, instead
    /// of the system's roots (relative to the config file).
    pub ca_file: Option<PathBuf>,
}

impl<'de> Deserialize<'de> for HttpGrant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            url: String,
            #[serde(default)]
            resolves_to: Option<Vec<String>>,
            #[serde(default)]
            ca_file: Option<PathBuf>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Url(String),
            Full(Full),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "an http grant is a URL prefix or `{url: URL, ca_file: FILE, resolves_to: [NETWORK, ...]}`",
            )
        })? {
            Raw::Url(url) => Ok(HttpGrant {
                url,
                resolves_to: None,
                ca_file: None,
            }),
            Raw::Full(f) => Ok(HttpGrant {
                url: f.url,
                resolves_to: f.resolves_to,
                ca_file: f.ca_file,
            }),
        }
    }
}

/// The capabilities a module is given. Nothing is granted by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grants {
    /// Directories preopened read-only, everything under them visible
    /// (minus what procfs and sysfs never show).
    pub dirs: Vec<DirGrant>,
    /// Single files and glob patterns, read-only; nothing else exists.
    pub files: Vec<FileGrant>,
    /// Names of host environment variables passed through (when set).
    pub env: Vec<String>,
    /// TCP destinations (`wasi:sockets`).
    pub tcp: Vec<TcpGrant>,
    /// HTTP(S) URL prefixes (`wasi:http`).
    pub http: Vec<HttpGrant>,
}

/// Where a module's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A bare component (`.wasm`): nothing declared, nothing checked beyond
    /// the exposition rules.
    Component(PathBuf),
    /// A plugin package (directory or `.tar.gz`) with a manifest.
    Plugin(PathBuf),
    /// A plugin in an OCI registry, pinned by digest.
    Oci(OciReference),
}

/// One scraper module, resolved and validated.
#[derive(Debug, Clone)]
pub struct ModuleConfig {
    /// Unique name; the `module` label of the self-metrics.
    pub name: String,
    /// The component or plugin.
    pub source: Source,
    /// Parameters handed to `collect`, in file order.
    pub params: Vec<(String, String)>,
    /// Operator labels added to every series of the module, in file order.
    pub labels: Vec<(String, String)>,
    /// Capabilities.
    pub grants: Grants,
    /// Effective limits (defaults merged with the module's overrides).
    pub limits: Limits,
    /// The signature the plugin must carry, and how its registry is reached.
    pub supply: Supply,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Global,
    #[serde(default)]
    defaults: Option<Mapping>,
    #[serde(default)]
    modules: Vec<RawModule>,
    #[serde(default)]
    signatures: SignaturesConfig,
    #[serde(default)]
    registry: RegistryConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    name: String,
    #[serde(default)]
    component: Option<PathBuf>,
    #[serde(default)]
    plugin: Option<String>,
    #[serde(default)]
    require_signature: Option<bool>,
    #[serde(default)]
    params: Mapping,
    #[serde(default)]
    labels: Mapping,
    #[serde(default)]
    grants: Grants,
    #[serde(default)]
    limits: Option<Mapping>,
}

impl Config {
    /// Reads and validates the file at `path`. Relative paths inside it are
    /// taken relative to the file's directory, so a config and its components
    /// can be moved together.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &base).with_context(|| format!("config file {}", path.display()))
    }

    /// Parses configuration text; `base` resolves relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let raw: RawConfig = serde_yaml_ng::from_str(text)?;
        // Each concurrent call has instance-pool slots reserved up front
        // (virtual memory, not RSS), so the number is bounded.
        ensure!(
            (1..=MAX_CONCURRENCY).contains(&raw.global.concurrency),
            "global: concurrency must be between 1 and {MAX_CONCURRENCY} (got {})",
            raw.global.concurrency
        );
        ensure!(
            raw.global.wasm_stack >= ByteSize::kib(64),
            "global: wasm_stack must be at least 64KiB"
        );
        let defaults =
            merge_limits(&Limits::default(), raw.defaults.as_ref()).context("defaults")?;
        let keys = Arc::new(TrustedKeys::from_config(&raw.signatures, base)?);
        let registry = Arc::new(Registry::from_config(&raw.registry, base).context("registry")?);
        let supply = |require: Option<bool>| Supply {
            signatures: SignaturePolicy {
                required: require.unwrap_or(raw.signatures.required),
                keys: keys.clone(),
            },
            registry: registry.clone(),
        };

        let mut seen = HashSet::new();
        let mut modules = Vec::with_capacity(raw.modules.len());
        for (index, m) in raw.modules.into_iter().enumerate() {
            let label = if m.name.is_empty() {
                format!("modules[{index}]")
            } else {
                format!("module {:?}", m.name)
            };
            let supply = supply(m.require_signature);
            let module =
                resolve_module(m, &defaults, base, supply).with_context(|| label.clone())?;
            if raw.global.require_plugins && matches!(module.source, Source::Component(_)) {
                bail!(
                    "{label}: global.require_plugins is set, so the module must be a `plugin:`, not a bare `component:`"
                );
            }
            if !seen.insert(module.name.clone()) {
                bail!("{label}: duplicate module name");
            }
            modules.push(module);
        }
        Ok(Config {
            global: raw.global,
            modules,
        })
    }
}

fn resolve_module(
    m: RawModule,
    defaults: &Limits,
    base: &Path,
    supply: Supply,
) -> Result<ModuleConfig> {
    validate_module_name(&m.name)?;
    let limits = merge_limits(defaults, m.limits.as_ref()).context("limits")?;
    let params = m
        .params
        .into_iter()
        .map(|(k, v)| {
            let key = scalar_to_string(&k).context("params: parameter names must be strings")?;
            let value = scalar_to_string(&v)
                .with_context(|| format!("params: parameter {key:?} must be a scalar value"))?;
            // `NAME_file` gives a secret parameter's value from a file, as
            // Prometheus' `password_file` does; relative to the config file.
            let value = if key.ends_with(FILE_SUFFIX) {
                base.join(&value).display().to_string()
            } else {
                value
            };
            Ok((key, value))
        })
        .collect::<Result<Vec<_>>>()?;
    let labels = m
        .labels
        .into_iter()
        .map(|(k, v)| {
            let name = scalar_to_string(&k).context("labels: label names must be strings")?;
            let value = scalar_to_string(&v)
                .with_context(|| format!("labels: label {name:?} must have a scalar value"))?;
            crate::labels::check(&name, &value, limits.max_label_value_length)
                .with_context(|| format!("labels: {name:?}"))?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>>>()?;
    let grants = resolve_grants(m.grants, base).context("grants")?;
    let source = match (m.component, m.plugin) {
        (Some(c), None) => Source::Component(base.join(c)),
        (None, Some(p)) if p.starts_with(OciReference::SCHEME) => {
            let reference = OciReference::parse(&p).context("plugin")?;
            ensure!(
                reference.digest.is_some(),
                "plugin: {reference} must be pinned by digest, as oci://HOST/REPO@sha256:DIGEST (`wasm_exporter plugin push` prints it): a tag can move"
            );
            Source::Oci(reference)
        }
        (None, Some(p)) => Source::Plugin(base.join(p)),
        (Some(_), Some(_)) => bail!("set `component` or `plugin`, not both"),
        (None, None) => {
            bail!("missing `plugin` (a plugin directory or archive) or `component` (a .wasm file)")
        }
    };
    if supply.signatures.required && matches!(source, Source::Component(_)) {
        bail!(
            "a signature is required (signatures.required or require_signature) and a bare `component:` carries none: package it as a plugin and sign the archive"
        );
    }
    Ok(ModuleConfig {
        name: m.name,
        source,
        params,
        labels,
        grants,
        limits,
        supply,
    })
}

/// Module names become label values and log prefixes, so keep them plain.
fn validate_module_name(name: &str) -> Result<()> {
    ensure!(!name.is_empty(), "name must not be empty");
    ensure!(name.len() <= 64, "name must be at most 64 characters");
    ensure!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')),
        "name {name:?} may only contain ASCII letters, digits, '_', '-' and '.'"
    );
    Ok(())
}

/// Checks the grants' syntax and makes host paths absolute. Whether the
/// host paths exist, and everything about globs, is checked when the
/// module's policy is built (`policy::files`), at load and on every reload.
fn resolve_grants(grants: Grants, base: &Path) -> Result<Grants> {
    let mut guest_paths = HashSet::new();
    let mut dirs = Vec::with_capacity(grants.dirs.len());
    for dir in grants.dirs {
        ensure!(
            dir.guest.starts_with('/'),
            "dirs: guest path {:?} must be absolute",
            dir.guest
        );
        ensure!(
            !dir.guest.split('/').any(|part| part == ".." || part == "."),
            "dirs: guest path {:?} must not contain '.' or '..'",
            dir.guest
        );
        ensure!(
            guest_paths.insert(dir.guest.clone()),
            "dirs: guest path {:?} is granted twice",
            dir.guest
        );
        dirs.push(DirGrant {
            host: base.join(&dir.host),
            guest: dir.guest,
        });
    }
    let mut paths = HashSet::new();
    let mut files = Vec::with_capacity(grants.files.len());
    for file in grants.files {
        ensure!(
            file.path.starts_with('/'),
            "files: {:?} must be an absolute path",
            file.path
        );
        ensure!(
            paths.insert(file.path.clone()),
            "files: {:?} is granted twice",
            file.path
        );
        files.push(FileGrant {
            host: base.join(&file.host),
            path: file.path,
        });
    }
    for name in &grants.env {
        ensure!(
            !name.is_empty() && !name.contains('=') && !name.contains('\0'),
            "env: {name:?} is not a valid environment variable name"
        );
    }
    let mut seen = HashSet::new();
    for t in &grants.tcp {
        ensure!(
            seen.insert(&t.address),
            "tcp: {:?} is granted twice",
            t.address
        );
    }
    let mut seen = HashSet::new();
    let mut http = Vec::with_capacity(grants.http.len());
    for h in grants.http {
        ensure!(
            seen.insert(h.url.clone()),
            "http: {:?} is granted twice",
            h.url
        );
        http.push(HttpGrant {
            ca_file: h.ca_file.map(|f| base.join(f)),
            ..h
        });
    }
    Ok(Grants {
        dirs,
        files,
        env: grants.env,
        tcp: grants.tcp,
        http,
    })
}

/// Overlays the keys of `patch` on `base`. Going through YAML values keeps
/// one definition of the limit keys, their units and their unknown-key check.
fn merge_limits(base: &Limits, patch: Option<&Mapping>) -> Result<Limits> {
    let Some(patch) = patch else {
        return Ok(base.clone());
    };
    let mut merged = match serde_yaml_ng::to_value(base)? {
        Value::Mapping(m) => m,
        _ => unreachable!("Limits serializes to a mapping"),
    };
    for (k, v) in patch {
        merged.insert(k.clone(), v.clone());
    }
    let limits: Limits = serde_yaml_ng::from_value(Value::Mapping(merged))?;
    limits.validate()?;
    Ok(limits)
}

fn scalar_to_string(v: &Value) -> Result<String> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => bail!("expected a string, number or boolean, got {}", kind(other)),
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/"))
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("config should be rejected"))
    }

    #[test]
    fn minimal_module_gets_defaults() {
        let c = parse("modules:\n  - name: a\n    component: a.wasm\n").unwrap();
        assert_eq!(c.modules.len(), 1);
        assert_eq!(
            c.modules[0].source,
            Source::Component(PathBuf::from("/a.wasm"))
        );
        assert_eq!(c.modules[0].limits, Limits::default());
        assert!(c.modules[0].grants.dirs.is_empty());
        assert!(c.modules[0].grants.env.is_empty());
    }

    #[test]
    fn module_limits_override_defaults_key_by_key() {
        let c = parse(
            "defaults:\n  timeout: 5s\n  max_series: 7\nmodules:\n  - name: a\n    component: a.wasm\n    limits:\n      timeout: 300ms\n      memory: 2MiB\n",
        )
        .unwrap();
        let l = &c.modules[0].limits;
        assert_eq!(l.timeout, Duration::from_millis(300));
        assert_eq!(l.memory, ByteSize::mib(2));
        assert_eq!(l.max_series, 7);
    }

    #[test]
    fn params_keep_order_and_stringify_scalars() {
        let c = parse(
            "modules:\n  - name: a\n    component: a.wasm\n    params:\n      z: 1\n      a: true\n      m: text\n",
        )
        .unwrap();
        assert_eq!(
            c.modules[0].params,
            vec![
                ("z".to_string(), "1".to_string()),
                ("a".to_string(), "true".to_string()),
                ("m".to_string(), "text".to_string())
            ]
        );
    }

    #[test]
    fn rejects_bad_input_naming_the_culprit() {
        let e = err("modules:\n  - name: a\n    component: a.wasm\n    grant: {}\n");
        assert!(e.contains("unknown field `grant`"), "{e}");
        let e = err(
            "modules:\n  - name: a\n    component: a.wasm\n  - name: a\n    component: b.wasm\n",
        );
        assert!(e.contains("module \"a\": duplicate module name"), "{e}");
        let e =
            err("modules:\n  - name: a\n    component: a.wasm\n    limits:\n      tmeout: 1s\n");
        assert!(
            e.contains("module \"a\"") && e.contains("unknown field `tmeout`"),
            "{e}"
        );
        let e = err("modules:\n  - name: a\n    component: a.wasm\n    params:\n      k: [1]\n");
        assert!(e.contains("parameter \"k\" must be a scalar"), "{e}");
        let e = err("modules:\n  - name: a\n");
        assert!(e.contains("missing `plugin`"), "{e}");
        let e = err("modules:\n  - name: a\n    component: a.wasm\n    plugin: p\n");
        assert!(e.contains("not both"), "{e}");
        let e =
            err("global: {require_plugins: true}\nmodules:\n  - name: a\n    component: a.wasm\n");
        assert!(e.contains("must be a `plugin:`"), "{e}");
        let e = err("modules:\n  - name: 'a b'\n    component: a.wasm\n");
        assert!(e.contains("may only contain"), "{e}");
        let e = err(
            "modules:\n  - name: a\n    component: a.wasm\n    grants:\n      files: [{guest: /proc/meminfo}]\n",
        );
        assert!(
            e.contains("modules[0].grants.files") && e.contains("a file grant is a path"),
            "{e}"
        );
        let e = err(
            "modules:\n  - name: a\n    component: a.wasm\n    grants:\n      files: [proc/meminfo]\n",
        );
        assert!(e.contains("must be an absolute path"), "{e}");
        let e = err(
            "modules:\n  - name: a\n    component: a.wasm\n    grants:\n      dirs:\n        - {host: /, guest: relative}\n",
        );
        assert!(e.contains("must be absolute"), "{e}");
        let e = err("global: {concurrency: 100000}\n");
        assert!(e.contains("concurrency must be between 1 and 256"), "{e}");
        let e = err("modules:\n  - name: a\n    component: a.wasm\n    limits: {timeout: 0s}\n");
        assert!(e.contains("timeout must be greater than 0"), "{e}");
        let e = err("modules:\n  - name: a\n    component: a.wasm\n    labels: {le: x}\n");
        assert!(
            e.contains("module \"a\": labels: \"le\"") && e.contains("reserved"),
            "{e}"
        );
        let e = err("modules:\n  - name: a\n    component: a.wasm\n    labels: {a-b: x}\n");
        assert!(e.contains("not a valid label name"), "{e}");
        let e = err("modules:\n  - name: a\n    component: a.wasm\n    labels: {site: [x]}\n");
        assert!(e.contains("label \"site\" must have a scalar value"), "{e}");
    }

    #[test]
    fn operator_labels_keep_order_and_stringify_scalars() {
        let c = parse(
            "modules:\n  - name: a\n    component: a.wasm\n    labels:\n      site: berlin\n      rack: 7\n",
        )
        .unwrap();
        assert_eq!(
            c.modules[0].labels,
            vec![
                ("site".to_string(), "berlin".to_string()),
                ("rack".to_string(), "7".to_string())
            ]
        );
    }
}
