//! `plugin.yaml`: what a plugin is, which parameters it takes, which
//! capabilities it asks for, and every metric family it may emit.
//!
//! The manifest is the security boundary a reviewer reads: the host refuses
//! grants the plugin did not ask for and, at run time, any family it did not
//! declare. The schema is `docs/plugin.schema.json`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::config::FILE_SUFFIX;
use crate::convert::{RESERVED_PREFIX, is_label_name, is_metric_name, reserved_label};
use crate::model::{self, Kind};
use crate::policy::files::check_guest_path;
use crate::policy::network::{Address, HttpTarget, TcpPattern, UrlPattern};
use crate::spec::Param;
use crate::version::World;

/// The parameter that names what a module scrapes: `/probe?target=` sets
/// it (see `Manifest::target`).
pub const TARGET_PARAM: &str = "target";

/// Largest secret file read.
const MAX_SECRET_BYTES: u64 = 64 << 10;

/// The manifest format version this host reads.
pub const MANIFEST_VERSION: u32 = 1;

/// A parsed and validated manifest.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version of the manifest itself (1).
    pub manifest_version: u32,
    /// Plugin name: `[a-z0-9_-]+`.
    pub name: String,
    /// Plugin version (semver).
    pub version: String,
    /// One paragraph for operators.
    pub description: String,
    /// Who wrote it.
    #[serde(default)]
    pub authors: Vec<String>,
    /// The component file, relative to the plugin directory.
    pub component: String,
    /// Hex SHA-256 of the component; when present, a mismatch refuses to
    /// load. `plugin pack` fills it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The WIT world the component implements, with its version (one of
    /// [`World::ALL`]).
    pub world: String,
    /// Parameters the plugin takes.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Capabilities the plugin asks the operator for.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Every metric family the plugin may emit.
    pub metrics: Vec<DeclaredMetric>,
}

/// A parameter of the plugin.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// Name, as the guest receives it.
    pub name: String,
    /// Value type; the host checks operator values against it.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Whether the operator must set it.
    #[serde(default)]
    pub required: bool,
    /// Value used when the operator does not set it (not with `required`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_yaml_ng::Value>,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// A password or token: the operator gives it from a file
    /// (`NAME_file: PATH`), and it is never shown or logged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// Parameter value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// Any text.
    String,
    /// A whole number (i64).
    Int,
    /// A number (f64).
    Float,
    /// `true` or `false`.
    Bool,
    /// A duration such as `500ms` or `2m`.
    Duration,
    /// A TCP destination, `HOST:PORT`, which must lie within the module's
    /// tcp grants.
    Address,
    /// An `http` or `https` URL, which must lie within the module's http
    /// grants.
    Url,
}

/// What a plugin asks for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Files it reads (paths or globs), by the path it expects to see them
    /// at. Preferred over `dirs`: the operator then grants exactly these.
    #[serde(default)]
    pub files: Vec<FileRequest>,
    /// Directories it reads, by the path it expects to see them at.
    #[serde(default)]
    pub dirs: Vec<DirRequest>,
    /// Environment variables it reads.
    #[serde(default)]
    pub env: Vec<EnvRequest>,
    /// TCP destinations it connects to (`wasi:sockets`).
    #[serde(default)]
    pub tcp: Vec<TcpRequest>,
    /// URL prefixes it sends HTTP requests to (`wasi:http`).
    #[serde(default)]
    pub http: Vec<HttpRequest>,
}

/// TCP destinations the plugin asks to connect to.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRequest {
    /// `HOST:PORT` pattern (`*:6379`, `*:*`, `10.0.0.0/8:9100`); the
    /// operator grants a subset.
    pub address: String,
    /// Why it needs it.
    #[serde(default)]
    pub description: String,
    /// Whether the plugin works without it.
    #[serde(default)]
    pub optional: bool,
}

/// URLs the plugin asks to send HTTP requests to.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// URL prefix pattern (`http://*:*/`, `https://api.example.com/v1/`);
    /// the operator grants a subset.
    pub url: String,
    /// Why it needs it.
    #[serde(default)]
    pub description: String,
    /// Whether the plugin works without it.
    #[serde(default)]
    pub optional: bool,
}

/// A file, or the files matching a glob, the plugin asks to read.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRequest {
    /// Absolute path inside the guest; components after the first may be
    /// globs (`/sys/class/net/*/statistics/*`).
    pub path: String,
    /// Why it needs it.
    #[serde(default)]
    pub description: String,
    /// Whether the plugin works (with less data) without it.
    #[serde(default)]
    pub optional: bool,
}

/// A read-only directory the plugin asks for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirRequest {
    /// Absolute path inside the guest.
    pub guest: String,
    /// Why it needs it.
    #[serde(default)]
    pub description: String,
    /// Whether the plugin works (with less data) without it.
    #[serde(default)]
    pub optional: bool,
}

/// An environment variable the plugin asks for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvRequest {
    /// Variable name.
    pub name: String,
    /// Why it needs it.
    #[serde(default)]
    pub description: String,
    /// Whether the plugin works without it.
    #[serde(default)]
    pub optional: bool,
}

/// A metric family the plugin may emit, or (a name with `*`) every family
/// whose name matches, for a plugin that re-exposes families it does not
/// know in advance (the textfile plugin).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredMetric {
    /// Family name, or a pattern where `*` stands for any run of name
    /// characters (`*` alone: any name). An exact declaration of a name
    /// wins over a pattern that matches it.
    pub name: String,
    /// The type; `any` only for a pattern.
    #[serde(rename = "type")]
    pub kind: MetricKind,
    /// Help text.
    pub help: String,
    /// The unit (world 0.2.0), or empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// The exact set of dimension label names (not checked for a pattern,
    /// which must leave it empty).
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Declared metric types: those of the WIT worlds, and `any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A value that goes up and down.
    Gauge,
    /// A cumulative value.
    Counter,
    /// Unknown type.
    Untyped,
    /// Cumulative buckets (world 0.2.0).
    Histogram,
    /// Buckets of what is there now (world 0.2.0).
    Gaugehistogram,
    /// Quantiles with count and sum (world 0.2.0).
    Summary,
    /// Information as labels (world 0.2.0).
    Info,
    /// Boolean states (world 0.2.0).
    Stateset,
    /// Any type: only for a pattern.
    Any,
}

impl MetricKind {
    /// The name used in manifests and messages.
    pub fn as_str(self) -> &'static str {
        match self.kind() {
            Some(k) => k.as_str(),
            None => "any",
        }
    }

    /// The model's type it declares (`None` for `any`).
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            MetricKind::Gauge => Kind::Gauge,
            MetricKind::Counter => Kind::Counter,
            MetricKind::Untyped => Kind::Untyped,
            MetricKind::Histogram => Kind::Histogram,
            MetricKind::Gaugehistogram => Kind::GaugeHistogram,
            MetricKind::Summary => Kind::Summary,
            MetricKind::Info => Kind::Info,
            MetricKind::Stateset => Kind::StateSet,
            MetricKind::Any => return None,
        })
    }

    /// Whether a family of type `kind` matches the declaration.
    pub fn matches(self, kind: Kind) -> bool {
        self.kind().is_none_or(|k| k == kind)
    }
}

impl DeclaredMetric {
    /// Whether the declaration is a pattern rather than one name.
    pub fn is_pattern(&self) -> bool {
        self.name.contains('*')
    }

    /// Whether family `name` is what the declaration declares.
    pub fn covers(&self, name: &str) -> bool {
        if self.is_pattern() {
            glob_match(&self.name, name)
        } else {
            self.name == name
        }
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

impl Manifest {
    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = serde_yaml_ng::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The manifest as YAML (for `plugin pack` and `plugin new`).
    pub fn to_yaml(&self) -> Result<String> {
        Ok(serde_yaml_ng::to_string(self)?)
    }

    fn validate(&self) -> Result<()> {
        ensure!(
            self.manifest_version == MANIFEST_VERSION,
            "manifest_version {} is not supported (this exporter reads version {MANIFEST_VERSION})",
            self.manifest_version
        );
        ensure!(
            !self.name.is_empty()
                && self.name.len() <= 64
                && self
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
            "name {:?} must be 1-64 characters of a-z, 0-9, '_' and '-'",
            self.name
        );
        ensure!(
            is_semver(&self.version),
            "version {:?} is not a semantic version (MAJOR.MINOR.PATCH)",
            self.version
        );
        ensure!(
            !self.description.trim().is_empty(),
            "description must not be empty"
        );
        ensure!(
            !self.component.is_empty()
                && !self.component.contains('/')
                && !self.component.contains('\\')
                && self.component != ".."
                && self.component.ends_with(".wasm"),
            "component {:?} must be a .wasm file name in the plugin directory",
            self.component
        );
        if let Some(digest) = &self.sha256 {
            ensure!(
                digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
                "sha256 {digest:?} is not 64 hex digits"
            );
        }
        ensure!(
            self.world().is_some(),
            "world {:?} is not supported: this exporter serves {}",
            self.world,
            World::all_names()
        );
        self.validate_parameters().context("parameters")?;
        self.validate_capabilities().context("capabilities")?;
        self.validate_metrics().context("metrics")?;
        Ok(())
    }

    fn validate_parameters(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for p in &self.parameters {
            ensure!(
                !p.name.is_empty()
                    && p.name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'),
                "parameter name {:?} may only contain letters, digits, '_', '-' and '.'",
                p.name
            );
            ensure!(
                seen.insert(&p.name),
                "parameter {:?} is declared twice",
                p.name
            );
            ensure!(
                !p.name.ends_with(FILE_SUFFIX),
                "parameter {:?}: names ending in {FILE_SUFFIX} are reserved for giving secret parameters from files",
                p.name
            );
            ensure!(
                p.name != TARGET_PARAM || matches!(p.kind, ParamType::Address | ParamType::Url),
                "parameter {TARGET_PARAM:?} names what the module scrapes (/probe?target=); its type must be address or url"
            );
            ensure!(
                !(p.secret && p.default.is_some()),
                "parameter {:?} is secret and has a default; a secret comes from the operator",
                p.name
            );
            if let Some(default) = &p.default {
                ensure!(
                    !p.required,
                    "parameter {:?} is required and has a default",
                    p.name
                );
                p.kind
                    .check(default)
                    .with_context(|| format!("default of parameter {:?}", p.name))?;
            }
        }
        Ok(())
    }

    fn validate_capabilities(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for f in &self.capabilities.files {
            check_guest_path(&f.path, true).with_context(|| format!("files: {:?}", f.path))?;
            ensure!(
                f.path[1..].contains('/'),
                "files: {:?} must name a file inside a directory (/DIR/FILE)",
                f.path
            );
            ensure!(
                seen.insert(&f.path),
                "files: {:?} is asked for twice",
                f.path
            );
        }
        let mut seen = HashSet::new();
        for d in &self.capabilities.dirs {
            ensure!(
                d.guest.starts_with('/') && !d.guest.split('/').any(|p| p == ".." || p == "."),
                "dirs: {:?} must be an absolute path without '.' or '..'",
                d.guest
            );
            ensure!(
                seen.insert(&d.guest),
                "dirs: {:?} is asked for twice",
                d.guest
            );
        }
        let mut seen = HashSet::new();
        for e in &self.capabilities.env {
            ensure!(
                !e.name.is_empty() && !e.name.contains('=') && !e.name.contains('\0'),
                "env: {:?} is not a valid variable name",
                e.name
            );
            ensure!(seen.insert(&e.name), "env: {:?} is asked for twice", e.name);
        }
        let mut seen = HashSet::new();
        for t in &self.capabilities.tcp {
            TcpPattern::parse(&t.address).with_context(|| format!("tcp: {:?}", t.address))?;
            ensure!(
                seen.insert(&t.address),
                "tcp: {:?} is asked for twice",
                t.address
            );
        }
        let mut seen = HashSet::new();
        for h in &self.capabilities.http {
            UrlPattern::parse(&h.url).with_context(|| format!("http: {:?}", h.url))?;
            ensure!(seen.insert(&h.url), "http: {:?} is asked for twice", h.url);
        }
        Ok(())
    }

    fn validate_metrics(&self) -> Result<()> {
        ensure!(
            !self.metrics.is_empty(),
            "a plugin must declare at least one metric"
        );
        let world = self.world().unwrap_or(World::V0_1);
        let mut seen = HashSet::new();
        for m in &self.metrics {
            let name = &m.name;
            if m.is_pattern() {
                ensure!(
                    is_metric_name(&name.replace('*', "x")),
                    "{name:?} is not a valid metric name pattern (name characters and *)"
                );
                ensure!(
                    m.labels.is_empty(),
                    "{name:?} is a pattern: its families' labels are not declared, so it lists none"
                );
            } else {
                ensure!(is_metric_name(name), "{name:?} is not a valid metric name");
                ensure!(
                    m.kind != MetricKind::Any,
                    "{name:?}: type any is for patterns only; declare the type"
                );
            }
            ensure!(
                !name.starts_with(RESERVED_PREFIX),
                "{name:?}: the prefix {RESERVED_PREFIX} is reserved for the exporter's own metrics"
            );
            ensure!(seen.insert(name), "{name:?} is declared twice");
            let kind = m.kind.kind();
            ensure!(
                world >= World::V0_2
                    || matches!(
                        m.kind,
                        MetricKind::Gauge | MetricKind::Counter | MetricKind::Untyped
                    ),
                "{name:?}: type {} needs world {}",
                m.kind.as_str(),
                World::V0_2
            );
            if !m.unit.is_empty() {
                ensure!(
                    world >= World::V0_2,
                    "{name:?}: units need world {}",
                    World::V0_2
                );
                ensure!(
                    m.unit
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                    "{name:?}: unit {:?} may only contain [a-zA-Z0-9_:]",
                    m.unit
                );
                ensure!(
                    !matches!(kind, Some(Kind::Info | Kind::StateSet)),
                    "{name:?}: {} families have no unit",
                    m.kind.as_str()
                );
                if let Some(kind) = kind
                    && !m.is_pattern()
                {
                    let family = model::openmetrics_family_name(name, kind);
                    ensure!(
                        family
                            .strip_suffix(m.unit.as_str())
                            .is_some_and(|rest| rest.ends_with('_') && rest.len() > 1),
                        "{name:?}: with the unit {:?}, the name must end in _{}",
                        m.unit,
                        m.unit
                    );
                }
            }
            if kind == Some(Kind::Info) && !m.is_pattern() {
                ensure!(
                    name.strip_suffix("_info").is_some_and(|f| !f.is_empty()),
                    "{name:?}: an info metric is named with the suffix _info"
                );
            }
            if kind == Some(Kind::StateSet) && !m.is_pattern() {
                ensure!(
                    m.labels.contains(name),
                    "{name:?}: a stateset has a label named like itself for the state names; add {name:?} to its labels"
                );
            }
            let mut labels = HashSet::new();
            for l in &m.labels {
                ensure!(
                    is_label_name(l),
                    "{:?} (of {name:?}) is not a valid label name",
                    l
                );
                ensure!(labels.insert(l), "{name:?} has the label {l:?} twice");
                if let Some(reserved) = kind.and_then(reserved_label) {
                    ensure!(
                        l != reserved,
                        "{name:?}: a {} may not have the label {reserved:?}, which its samples use",
                        m.kind.as_str()
                    );
                }
            }
        }
        Ok(())
    }

    /// The world the manifest names, if this exporter serves it.
    pub fn world(&self) -> Option<World> {
        World::parse(&self.world)
    }

    /// Resolves the operator's parameter values against the declarations:
    /// unknown names, missing required ones and values of the wrong type are
    /// errors naming the parameter; defaults fill the rest. A secret
    /// parameter is read from the file given as `NAME_file` (and refused
    /// when given inline). Returns the values handed to the guest, in
    /// declaration order.
    pub fn resolve_params(&self, given: &[(String, String)]) -> Result<Vec<Param>> {
        let declared = |name: &str| self.parameters.iter().find(|p| p.name == name);
        for (name, _) in given {
            if let Some(p) = declared(name) {
                ensure!(
                    !p.secret,
                    "parameter {name:?} is secret: give it from a file, `{name}{FILE_SUFFIX}: PATH`, so that it stays out of the config"
                );
                continue;
            }
            if let Some(stem) = name.strip_suffix(FILE_SUFFIX)
                && let Some(p) = declared(stem)
            {
                ensure!(
                    p.secret,
                    "parameter {stem:?} is not secret: give its value as `{stem}`, not from a file"
                );
                continue;
            }
            let mut names: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
            names.sort_unstable();
            bail!(
                "unknown parameter {name:?} (the plugin takes: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            );
        }
        let values: BTreeMap<&str, &str> = given
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut out = Vec::with_capacity(self.parameters.len());
        for p in &self.parameters {
            let file = format!("{}{FILE_SUFFIX}", p.name);
            let value = match (values.get(p.name.as_str()), values.get(file.as_str())) {
                (Some(v), _) => Some((*v).to_string()),
                (None, Some(path)) => Some(
                    read_secret(Path::new(path))
                        .with_context(|| format!("parameter {:?}", p.name))?,
                ),
                (None, None) => p.default.as_ref().map(scalar),
            };
            match value {
                Some(v) => {
                    p.kind
                        .check_str(&v)
                        .with_context(|| format!("parameter {:?}", p.name))
                        .map_err(|e| {
                            if p.secret {
                                anyhow::anyhow!(
                                    "parameter {:?}: the value in {file} is not a valid {}",
                                    p.name,
                                    p.kind.as_str()
                                )
                            } else {
                                e
                            }
                        })?;
                    out.push(Param {
                        name: p.name.clone(),
                        value: v,
                        secret: p.secret,
                    });
                }
                None if p.required => bail!(
                    "missing required parameter {:?} ({})",
                    p.name,
                    p.description
                ),
                None => {}
            }
        }
        Ok(out)
    }

    /// The `target` parameter's declaration, when the plugin has one: what
    /// `/probe?target=` sets.
    pub fn target(&self) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == TARGET_PARAM)
    }

    /// The declaration of family `name`, if any: its exact declaration,
    /// or else the first pattern that matches it.
    pub fn metric(&self, name: &str) -> Option<&DeclaredMetric> {
        self.metrics
            .iter()
            .find(|m| !m.is_pattern() && m.name == name)
            .or_else(|| self.metrics.iter().find(|m| m.covers(name)))
    }
}

impl ParamType {
    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::Duration => "duration",
            ParamType::Address => "address",
            ParamType::Url => "url",
        }
    }

    fn check(self, v: &serde_yaml_ng::Value) -> Result<()> {
        use serde_yaml_ng::Value;
        match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => self.check_str(&scalar(v)),
            _ => bail!("expected a {} value", self.as_str()),
        }
    }

    /// Checks a value as the operator wrote it (config values arrive as
    /// strings).
    fn check_str(self, v: &str) -> Result<()> {
        let ok = match self {
            ParamType::String => true,
            ParamType::Int => v.parse::<i64>().is_ok(),
            ParamType::Float => v.parse::<f64>().is_ok(),
            ParamType::Bool => v == "true" || v == "false",
            ParamType::Duration => humantime::parse_duration(v).is_ok(),
            ParamType::Address => {
                Address::parse(v).with_context(|| format!("{v:?} is not HOST:PORT"))?;
                true
            }
            ParamType::Url => {
                HttpTarget::parse(v).with_context(|| format!("{v:?} is not an http(s) URL"))?;
                true
            }
        };
        ensure!(ok, "{v:?} is not a valid {} value", self.as_str());
        Ok(())
    }
}

/// Reads a secret parameter's file: its content without the final line
/// break. Errors name the file, never its content.
fn read_secret(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading the secret file {}", path.display()))?;
    ensure!(
        meta.is_file() && meta.len() <= MAX_SECRET_BYTES,
        "the secret file {} is not a regular file of at most {MAX_SECRET_BYTES} bytes",
        path.display()
    );
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the secret file {} (as UTF-8)", path.display()))?;
    let value = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    ensure!(
        !value.is_empty(),
        "the secret file {} is empty",
        path.display()
    );
    Ok(value.to_string())
}

fn scalar(v: &serde_yaml_ng::Value) -> String {
    use serde_yaml_ng::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
manifest_version: 1
name: sysinfo
version: 1.0.0
description: Memory and disks.
authors: [Someone]
component: sysinfo.wasm
world: wasm-exporter:scraper/scraper@0.1.0
parameters:
  - {name: proc_dir, type: string, default: /proc, description: where proc is}
  - {name: count, type: int, required: true, description: how many}
  - {name: ratio, type: float, default: 0.5}
  - {name: verbose, type: bool, default: false}
  - {name: every, type: duration, default: 5s}
  - {name: target, type: address, description: the server}
  - {name: password, type: string, secret: true, description: its password}
capabilities:
  files: [{path: /sys/class/net/*/statistics/*, description: counters}]
  dirs: [{guest: /proc, description: meminfo}]
  env: [{name: LANG, optional: true}]
  tcp: [{address: "*:6379", description: the server}]
  http: [{url: "http://*:*/status", description: its status page, optional: true}]
metrics:
  - {name: sys_mem_usage, type: gauge, help: Memory in use.}
  - {name: sys_disk_size, type: gauge, help: Disk size., labels: [disk_name]}
"#;

    fn err(replace: (&str, &str)) -> String {
        let text = GOOD.replace(replace.0, replace.1);
        assert_ne!(
            text, GOOD,
            "replacement {replace:?} must change the manifest"
        );
        format!(
            "{:#}",
            Manifest::parse(&text).expect_err("manifest should be refused")
        )
    }

    #[test]
    fn parses_and_resolves_parameters() {
        let m = Manifest::parse(GOOD).unwrap();
        let params = m
            .resolve_params(&[
                ("count".into(), "3".into()),
                ("verbose".into(), "true".into()),
            ])
            .unwrap();
        assert_eq!(
            params,
            vec![
                Param::plain("proc_dir", "/proc"),
                Param::plain("count", "3"),
                Param::plain("ratio", "0.5"),
                Param::plain("verbose", "true"),
                Param::plain("every", "5s"),
            ]
        );
        // A secret comes from a file, never inline; it does not show.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cr3t-value\n").unwrap();
        let params = m
            .resolve_params(&[
                ("count".into(), "1".into()),
                ("target".into(), "127.0.0.1:6379".into()),
                ("password_file".into(), file.display().to_string()),
            ])
            .unwrap();
        let pw = params.iter().find(|p| p.name == "password").unwrap();
        assert_eq!((pw.value.as_str(), pw.secret), ("s3cr3t-value", true));
        assert!(!format!("{params:?}").contains("s3cr3t"), "{params:?}");
        assert_eq!(m.target().map(|t| t.kind), Some(ParamType::Address));
        let e = format!("{:#}", m.resolve_params(&[]).unwrap_err());
        assert!(e.contains("missing required parameter \"count\""), "{e}");
        // Each with `count: 1`, which is required.
        for ((name, value), expected) in [
            (("password", "x"), &["is secret: give it from a file"][..]),
            (("password_file", "/nonexistent/pw"), &["/nonexistent/pw"]),
            (("count_file", "/x"), &["\"count\" is not secret"]),
            (
                ("target", "nowhere"),
                &["parameter \"target\"", "HOST:PORT"],
            ),
            (("count", "x"), &["parameter \"count\"", "not a valid int"]),
            (("colour", "red"), &["unknown parameter \"colour\""]),
            (("every", "soon"), &["not a valid duration"]),
        ] {
            let mut given = vec![(name.to_string(), value.to_string())];
            if name != "count" {
                given.push(("count".into(), "1".into()));
            }
            let e = format!("{:#}", m.resolve_params(&given).unwrap_err());
            assert!(expected.iter().all(|x| e.contains(x)), "{name}: {e}");
        }
    }

    #[test]
    fn refuses_each_kind_of_error() {
        for (replace, expected) in [
            (
                ("manifest_version: 1", "manifest_version: 2"),
                "manifest_version 2",
            ),
            (("name: sysinfo", "name: Sys Info"), "name \"Sys Info\""),
            (("version: 1.0.0", "version: one"), "not a semantic version"),
            (
                ("description: Memory and disks.", "description: ''"),
                "description",
            ),
            (
                ("component: sysinfo.wasm", "component: ../x.wasm"),
                "must be a .wasm file name",
            ),
            (
                (
                    "world: wasm-exporter:scraper/scraper@0.1.0",
                    "world: other:x/y@1.0.0",
                ),
                "not supported",
            ),
            (
                ("type: int, required: true", "type: integer, required: true"),
                "unknown variant `integer`",
            ),
            (
                ("default: 0.5", "default: half"),
                "default of parameter \"ratio\"",
            ),
            (
                (
                    "type: int, required: true",
                    "type: int, required: true, default: 1",
                ),
                "required and has a default",
            ),
            (
                ("{guest: /proc, description: meminfo}", "{guest: proc}"),
                "absolute path",
            ),
            (
                ("path: /sys/class/net/*/statistics/*", "path: /*/meminfo"),
                "first component",
            ),
            (
                ("path: /sys/class/net/*/statistics/*", "path: /proc"),
                "/DIR/FILE",
            ),
            (
                ("name: sys_mem_usage", "name: wasm_exporter_up"),
                "reserved",
            ),
            (
                ("name: sys_mem_usage", "name: sys-mem"),
                "not a valid metric name",
            ),
            (
                ("labels: [disk_name]", "labels: [disk-name]"),
                "not a valid label name",
            ),
            (
                ("labels: [disk_name]", "labels: [a, a]"),
                "label \"a\" twice",
            ),
            (
                ("name: sys_mem_usage", "name: sys_disk_size"),
                "declared twice",
            ),
            (
                ("type: gauge, help: Memory", "type: histogram, help: Memory"),
                "type histogram needs world wasm-exporter:scraper/scraper@0.2.0",
            ),
            (
                ("type: gauge, help: Memory", "type: gauges, help: Memory"),
                "unknown variant `gauges`",
            ),
            (
                (
                    "help: Memory in use.}",
                    "help: Memory in use., unit: usage}",
                ),
                "units need world",
            ),
            (
                ("type: gauge, help: Memory", "type: any, help: Memory"),
                "for patterns only",
            ),
            (
                ("authors: [Someone]", "authors: [Someone]\nlogo: x.png"),
                "unknown field `logo`",
            ),
            (
                ("address: \"*:6379\"", "address: \"*\""),
                "expected HOST:PORT",
            ),
            (
                ("url: \"http://*:*/status\"", "url: \"ftp://x/\""),
                "not http or https",
            ),
            (
                (
                    "{name: target, type: address",
                    "{name: target, type: string",
                ),
                "its type must be address or url",
            ),
            (
                ("secret: true,", "secret: true, default: x,"),
                "is secret and has a default",
            ),
            (
                ("{name: count, type: int", "{name: count_file, type: int"),
                "reserved for giving secret parameters from files",
            ),
        ] {
            let e = err(replace);
            assert!(e.contains(expected), "{replace:?}: {e}");
        }
    }

    const V2: &str = r#"
manifest_version: 1
name: textfile
version: 1.0.0
description: Files.
component: textfile.wasm
world: wasm-exporter:scraper/scraper@0.2.0
metrics:
  - {name: req_seconds, type: histogram, help: Latency., unit: seconds, labels: [path]}
  - {name: sent_bytes_total, type: counter, help: Sent., unit: bytes}
  - {name: build_info, type: info, help: Build., labels: [version]}
  - {name: mode, type: stateset, help: Mode., labels: [mode]}
  - {name: node_textfile_scrape_error, type: gauge, help: Errors.}
  - {name: "*", type: any, help: Whatever the files hold.}
"#;

    #[test]
    fn validates_0_2_declarations_and_patterns() {
        let m = Manifest::parse(V2).unwrap();
        assert_eq!(m.world(), Some(World::V0_2));
        // An exact declaration wins over the pattern; the pattern takes the rest.
        assert_eq!(
            m.metric("node_textfile_scrape_error").unwrap().kind,
            MetricKind::Gauge
        );
        assert_eq!(m.metric("anything_else").unwrap().name, "*");
        assert!(MetricKind::Any.matches(Kind::Summary));
        assert!(!MetricKind::Gauge.matches(Kind::Summary));
        for (pattern, name, matches) in [
            ("*", "x", true),
            ("app_*", "app_x", true),
            ("app_*", "other", false),
            ("*_seconds", "a_seconds", true),
            ("*_seconds", "a_seconds_total", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
        ] {
            assert_eq!(glob_match(pattern, name), matches, "{pattern} {name}");
        }
        for (replace, expected) in [
            (("unit: seconds", "unit: bytes"), "must end in _bytes"),
            (
                (
                    "type: info, help: Build.",
                    "type: info, help: Build., unit: x",
                ),
                "info families have no unit",
            ),
            (("name: build_info", "name: build"), "suffix _info"),
            (
                ("labels: [mode]", "labels: [state]"),
                "a label named like itself",
            ),
            (
                ("labels: [path]", "labels: [le]"),
                "may not have the label \"le\"",
            ),
            (
                (
                    "{name: \"*\", type: any, help: Whatever the files hold.}",
                    "{name: \"*\", type: any, help: W, labels: [a]}",
                ),
                "its families' labels are not declared",
            ),
            (
                ("name: \"*\"", "name: \"a-*\""),
                "not a valid metric name pattern",
            ),
            (
                (
                    "world: wasm-exporter:scraper/scraper@0.2.0",
                    "world: wasm-exporter:scraper/scraper@0.3.0",
                ),
                "serves wasm-exporter:scraper/scraper@0.1.0, wasm-exporter:scraper/scraper@0.2.0",
            ),
        ] {
            let text = V2.replace(replace.0, replace.1);
            assert_ne!(text, V2, "{replace:?} must change the manifest");
            let e = format!("{:#}", Manifest::parse(&text).unwrap_err());
            assert!(e.contains(expected), "{replace:?}: {e}");
        }
    }

    /// docs/plugin.schema.json documents exactly the keys this parser takes.
    #[test]
    fn schema_documents_every_key() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/plugin.schema.json")).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            k.sort();
            k
        };
        let mut full = Manifest::parse(GOOD).unwrap();
        full.sha256 = Some("0".repeat(64));
        full.metrics[0].unit = "bytes".into();
        let yaml: serde_json::Value = serde_json::to_value(&full).unwrap();
        let own = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let p = &schema["properties"];
        assert_eq!(keys(&schema), own(&yaml));
        let mut param_keys: Vec<String> = yaml["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p.as_object().unwrap().keys().cloned())
            .collect();
        param_keys.sort();
        param_keys.dedup();
        assert_eq!(keys(&p["parameters"]["items"]), param_keys);
        assert_eq!(keys(&p["metrics"]["items"]), own(&yaml["metrics"][0]));
        assert_eq!(keys(&p["capabilities"]), own(&yaml["capabilities"]));
        assert_eq!(
            keys(&p["capabilities"]["properties"]["files"]["items"]),
            own(&yaml["capabilities"]["files"][0])
        );
        assert_eq!(
            keys(&p["capabilities"]["properties"]["dirs"]["items"]),
            own(&yaml["capabilities"]["dirs"][0])
        );
        assert_eq!(
            keys(&p["capabilities"]["properties"]["env"]["items"]),
            own(&yaml["capabilities"]["env"][0])
        );
        assert_eq!(
            keys(&p["capabilities"]["properties"]["tcp"]["items"]),
            own(&yaml["capabilities"]["tcp"][0])
        );
        assert_eq!(
            keys(&p["capabilities"]["properties"]["http"]["items"]),
            own(&yaml["capabilities"]["http"][0])
        );
        let worlds: Vec<&str> = p["world"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(worlds, World::ALL.map(World::name));
        let kinds: Vec<&str> = p["metrics"]["items"]["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "gauge",
                "counter",
                "untyped",
                "histogram",
                "gaugehistogram",
                "summary",
                "info",
                "stateset",
                "any"
            ]
        );
        assert_eq!(p["manifest_version"]["const"], MANIFEST_VERSION);
    }
}
