//! `wasm_exporter plugin check` and `plugin pack`: the debugging step of a
//! plugin, for its author and for the reviewer who decides to run it; and
//! the dispatch of every `plugin` command.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use super::oci::{OciReference, Registry};
use super::signature::VerifyingKey;
use super::trust::{Provenance, SignaturePolicy, TrustedKey, TrustedKeys};
use super::{
    LOGO_FILE, MANIFEST_FILE, Plugin, README_FILE, archive, check_declared, publish, scaffold,
    source,
};
use crate::cli::{PluginCommand, RegistryArgs, RunArgs};
use crate::config::{
    Config, DirGrant, FileGrant, Grants, HttpGrant, Limits, ModuleConfig, Source, TcpGrant,
};
use crate::exposition::{self, Format};
use crate::runtime::{EngineSettings, GuestModule, GuestRuntime};
use crate::{convert, spec};

/// Runs a `wasm_exporter plugin` command; `Ok(false)` when a check failed
/// (the report says why).
pub async fn run(command: PluginCommand) -> Result<bool> {
    match command {
        PluginCommand::Check {
            path,
            run,
            trusted_keys,
        } => {
            let mut options = CheckOptions::from(run);
            options.trusted_keys = trusted_keys;
            let report = check(&path, &options).await?;
            print!("{}", report.text);
            Ok(report.ok)
        }
        PluginCommand::Pack { dir, output, run } => {
            let (out, report) = pack(&dir, output.as_deref(), &run.into()).await?;
            print!("{}", report.text);
            if report.ok {
                println!("packed {} into {}", dir.display(), out.display());
            }
            Ok(report.ok)
        }
        PluginCommand::New { name, lang, dir } => {
            let created = scaffold::create(&name, lang, &dir)?;
            println!(
                "created {path}\nnext: build it with `{path}/build.sh`, then `wasm_exporter plugin check {path}` and `wasm_exporter plugin pack {path}`",
                path = created.display()
            );
            Ok(true)
        }
        PluginCommand::Sign {
            archive,
            key,
            password_file,
        } => {
            let (_, line) = publish::sign(&archive, &key, password_file.as_deref())?;
            println!("{line}");
            Ok(true)
        }
        PluginCommand::Push {
            archive,
            target,
            registry,
        } => {
            let registry = registry_of(&registry, &target)?;
            print!("{}", publish::push(&archive, &target, &registry).await?);
            Ok(true)
        }
        PluginCommand::Pull {
            source,
            output,
            registry,
        } => {
            let registry = registry_of(&registry, &source)?;
            print!(
                "{}",
                publish::pull(&source, output.as_deref(), &registry).await?
            );
            Ok(true)
        }
    }
}

/// The registry settings of `push` and `pull` (`--registry.plain-http`
/// applies to the registry of `reference`).
fn registry_of(args: &RegistryArgs, reference: &str) -> Result<Registry> {
    let plain_http = if args.plain_http {
        vec![OciReference::parse(reference)?.registry]
    } else {
        Vec::new()
    };
    Registry::new(
        args.auth_file.as_deref(),
        args.ca_file.as_deref(),
        plain_http,
    )
}

impl From<RunArgs> for CheckOptions {
    fn from(a: RunArgs) -> Self {
        CheckOptions {
            params: a.params,
            dirs: a.grants,
            files: a.files,
            env: a.env,
            tcp: a
                .tcp
                .into_iter()
                .map(|address| TcpGrant {
                    address,
                    resolves_to: None,
                })
                .collect(),
            http: a
                .http
                .into_iter()
                .map(|url| HttpGrant {
                    url,
                    resolves_to: None,
                    ca_file: None,
                })
                .collect(),
            config_file: a.config_file,
            trusted_keys: Vec::new(),
        }
    }
}

/// What `check` runs the plugin with.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `--param NAME=VALUE`.
    pub params: Vec<(String, String)>,
    /// `--grant HOST:GUEST` directories.
    pub dirs: Vec<(PathBuf, String)>,
    /// `--file PATH[=HOST_PATH]` files and globs.
    pub files: Vec<(String, PathBuf)>,
    /// `--env NAME` variables passed through.
    pub env: Vec<String>,
    /// `--tcp HOST:PORT` destinations.
    pub tcp: Vec<TcpGrant>,
    /// `--http URL` prefixes.
    pub http: Vec<HttpGrant>,
    /// `--config.file`: take the limits from its `defaults`, and the
    /// trusted keys and whether a signature is required from its
    /// `signatures`.
    pub config_file: Option<PathBuf>,
    /// `--trusted-key`: more trusted public key files.
    pub trusted_keys: Vec<PathBuf>,
}

/// The outcome of a check: a report for the terminal and whether it passed.
pub struct Report {
    /// Lines for the terminal.
    pub text: String,
    /// Whether everything was well.
    pub ok: bool,
}

/// Validates the package, compiles the component, runs one collect under
/// the limits and compares the output with the declarations.
pub async fn check(path: &Path, options: &CheckOptions) -> Result<Report> {
    let mut out = Report {
        text: String::new(),
        ok: false,
    };
    let probe = match &options.config_file {
        Some(file) => Some(probe_module(file)?),
        None => None,
    };
    let policy = signature_policy(probe.as_ref(), &options.trusted_keys)?;
    let plugin = match Plugin::load(path) {
        Ok(p) => p,
        Err(e) => return Ok(out.fail(format!("package: {e:#}"))),
    };
    let m = &plugin.manifest;
    out.line(format!(
        "plugin {} {} (sha256 {}), world {}",
        m.name, m.version, plugin.digest, m.world
    ));
    out.line(format!(
        "manifest: ok ({} declared metrics)",
        m.metrics.len()
    ));
    if let Err(e) = plugin.check_complete() {
        return Ok(out.fail(format!("package: {e:#}")));
    }
    out.line(format!("package: {LOGO_FILE} and {README_FILE} present"));
    match source::open_local(path, &policy) {
        Ok(p) => out.line(format!(
            "signature: {}",
            signature_report(&p.provenance, path, &policy)
        )),
        Err(e) => return Ok(out.fail(format!("signature: {e:#}"))),
    }

    let limits = match &probe {
        Some(module) => module.limits.clone(),
        None => Limits::default(),
    };
    let module_config = ModuleConfig {
        name: m.name.clone(),
        source: Source::Plugin(path.to_path_buf()),
        params: options.params.clone(),
        labels: Vec::new(),
        grants: Grants {
            dirs: options
                .dirs
                .iter()
                .map(|(host, guest)| DirGrant {
                    host: host.clone(),
                    guest: guest.clone(),
                })
                .collect(),
            files: options
                .files
                .iter()
                .map(|(path, host)| FileGrant {
                    path: path.clone(),
                    host: host.clone(),
                })
                .collect(),
            env: options.env.clone(),
            tcp: options.tcp.clone(),
            http: options.http.clone(),
        },
        limits: limits.clone(),
        supply: Default::default(),
    };
    let runtime = Arc::new(GuestRuntime::new(&EngineSettings {
        wasm_stack: crate::config::Global::default().wasm_stack.as_u64() as usize,
        concurrency: 1,
        max_memory: limits.memory.as_u64() as usize,
        max_table_elements: limits.table_elements as usize,
        cache_dir: None,
        bounds_checks: Default::default(),
        // One call: nothing comes after it to prepare for.
        prepare_ahead: false,
    })?);
    let loaded = spec::resolve(&module_config, None)
        .and_then(|resolved| Ok((GuestModule::load(&runtime, &resolved.spec)?, resolved)));
    let (module, _) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            out.line(format!("load: {e:#}"));
            let files: Vec<&str> = m
                .capabilities
                .files
                .iter()
                .filter(|f| !f.optional && !options.files.iter().any(|(p, _)| *p == f.path))
                .map(|f| f.path.as_str())
                .collect();
            if !files.is_empty() {
                out.line(format!(
                    "hint: grant files with --file PATH, e.g. {}",
                    files
                        .iter()
                        .map(|f| format!("--file '{f}'"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            let ungranted: Vec<&str> = m
                .capabilities
                .dirs
                .iter()
                .filter(|d| !d.optional && !options.dirs.iter().any(|(_, g)| *g == d.guest))
                .map(|d| d.guest.as_str())
                .collect();
            if let Some(first) = ungranted.first() {
                out.line(format!(
                    "hint: grant directories with --grant HOST:GUEST, e.g. --grant {first}:{first}"
                ));
            }
            if let Some(t) = m.capabilities.tcp.iter().find(|t| !t.optional)
                && options.tcp.is_empty()
            {
                out.line(format!(
                    "hint: grant TCP destinations with --tcp HOST:PORT, within {} (e.g. --tcp 127.0.0.1:6379)",
                    t.address
                ));
            }
            if let Some(h) = m.capabilities.http.iter().find(|h| !h.optional)
                && options.http.is_empty()
            {
                out.line(format!(
                    "hint: grant HTTP requests with --http URL, within {} (e.g. --http http://127.0.0.1:8080/)",
                    h.url
                ));
            }
            return Ok(out.fail("load failed".into()));
        }
    };
    out.line(format!("grants: {}", module.access().summary()));
    if !module.params().is_empty() {
        let shown: Vec<String> = module
            .params()
            .iter()
            .map(|p| format!("{}={}", p.name, p.shown()))
            .collect();
        out.line(format!("params: {}", shown.join(", ")));
    }
    let secrets: Vec<String> = module
        .params()
        .iter()
        .filter(|p| p.secret)
        .map(|p| p.value.clone())
        .collect();
    out.line(format!(
        "component: compiles and implements {}",
        module.world()
    ));
    if module.world().name() != m.world {
        return Ok(out.fail(format!(
            "world: the manifest says {} but the component implements {}; rebuild the component or correct the manifest",
            m.world,
            module.world()
        )));
    }

    let start = Instant::now();
    let call = module.collect(start + limits.timeout).await;
    for d in call.denials.kept() {
        out.line(format!("denied: {d}"));
    }
    let outcome = call
        .result
        .and_then(|families| convert::to_families(families, &limits));
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let families = match outcome {
        Ok(f) => f,
        Err(failure) => {
            return Ok(out.fail(format!(
                "collect: FAILED after {ms:.1} ms, reason {}: {}",
                failure.reason, failure.message
            )));
        }
    };
    let series: usize = families.iter().map(|f| f.exposed_samples()).sum();
    out.line(format!(
        "collect: ok in {ms:.1} ms, {} families, {series} series",
        families.len()
    ));
    out.line("--- exposition");
    let mut exposition = exposition::encode(&families, Format::Text);
    // What a plugin emits is its own business, but a secret it was given
    // does not go to the terminal.
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        exposition = exposition.replace(secret.as_str(), "<secret>");
    }
    out.text.push_str(&exposition);
    out.line("--- declarations");
    let emitted: Vec<&str> = families.iter().map(|f| &*f.name).collect();
    let silent: Vec<&str> = m
        .metrics
        .iter()
        .map(|d| d.name.as_str())
        .filter(|n| !emitted.contains(n))
        .collect();
    if !silent.is_empty() {
        out.line(format!(
            "declared but not emitted this time (allowed): {}",
            silent.join(", ")
        ));
    }
    match check_declared(m, &families) {
        Ok(()) => {
            out.line("every emitted family matches its declaration");
            out.line("result: OK");
            out.ok = true;
            Ok(out)
        }
        Err(f) => Ok(out.fail(format!("mismatch ({}): {}", f.reason, f.message))),
    }
}

impl Report {
    fn line(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
        self.text.push('\n');
    }

    fn fail(mut self, s: String) -> Report {
        self.line(s);
        self.line("result: FAILED");
        self.ok = false;
        self
    }
}

/// What `check` says about a plugin's signature.
fn signature_report(provenance: &Provenance, path: &Path, policy: &SignaturePolicy) -> String {
    match provenance {
        Provenance::Unsigned if path.is_dir() => {
            "none (a directory is not signed: pack it, then sign the archive)".to_string()
        }
        Provenance::Unsigned => format!(
            "none ({} not found)",
            super::signature::path_for(path).display()
        ),
        Provenance::Signed { comment, .. } => {
            format!("ok, {provenance}; trusted comment: {comment}")
        }
        Provenance::UnknownKey { .. } if policy.keys.is_empty() => format!(
            "{provenance} (no key is trusted here: give one with --trusted-key KEY.pub or --config.file)"
        ),
        Provenance::UnknownKey { .. } => provenance.to_string(),
    }
}

/// The signature policy of `check`: the config file's (when given), with
/// the `--trusted-key` files added under their file names.
fn signature_policy(probe: Option<&ModuleConfig>, files: &[PathBuf]) -> Result<SignaturePolicy> {
    let mut policy = probe
        .map(|m| m.supply.signatures.clone())
        .unwrap_or_default();
    if !files.is_empty() {
        let mut keys = policy.keys.keys().to_vec();
        for file in files {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading trusted key {}", file.display()))?;
            let key = VerifyingKey::parse(&text)
                .with_context(|| format!("trusted key {}", file.display()))?;
            keys.push(TrustedKey {
                name: file.display().to_string(),
                key,
            });
        }
        policy.keys = Arc::new(TrustedKeys::new(keys));
    }
    Ok(policy)
}

/// The settings a config file gives every module (its modules are not
/// loaded): the `defaults:` limits and the signature policy.
fn probe_module(file: &Path) -> Result<ModuleConfig> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading config file {}", file.display()))?;
    let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("config file {}", file.display()))?;
    if let Some(map) = value.as_mapping_mut() {
        map.remove("modules");
    }
    let mut probe = serde_yaml_ng::to_string(&value)?;
    // A plugin module: a bare component would be refused when the file
    // requires signatures.
    probe.push_str("modules: [{name: probe, plugin: probe.tar.gz}]\n");
    let base = file.parent().unwrap_or(Path::new("."));
    let config =
        Config::parse(&probe, base).with_context(|| format!("config file {}", file.display()))?;
    config
        .modules
        .into_iter()
        .next()
        .context("reading the defaults")
}

/// Checks the plugin directory, then writes `NAME-VERSION.tar.gz` (or
/// `output`) with the component's SHA-256 written into the packed manifest.
/// The manifest text is kept as the author wrote it (comments included);
/// only the `sha256:` line is set.
pub async fn pack(
    dir: &Path,
    output: Option<&Path>,
    options: &CheckOptions,
) -> Result<(PathBuf, Report)> {
    ensure!(
        dir.is_dir(),
        "{} is not a plugin directory (pack a directory; check an archive with `plugin check`)",
        dir.display()
    );
    let report = check(dir, options).await?;
    if !report.ok {
        return Ok((PathBuf::new(), report));
    }
    let plugin = Plugin::load(dir)?;
    let manifest_text = std::fs::read_to_string(dir.join(MANIFEST_FILE))?;
    let packed_manifest = with_digest(&manifest_text, &plugin.digest)?;
    let reparsed = super::Manifest::parse(&packed_manifest).context("the packed manifest")?;
    ensure!(
        reparsed.sha256.as_deref() == Some(plugin.digest.as_str()),
        "could not set sha256 in {MANIFEST_FILE}"
    );
    let m = &plugin.manifest;
    let out = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.tar.gz", m.name, m.version)));
    let logo = plugin.logo.as_deref().unwrap_or_default();
    let readme = plugin.readme.as_deref().unwrap_or_default().as_bytes();
    archive::write(
        &out,
        &[
            (MANIFEST_FILE, packed_manifest.as_bytes()),
            (m.component.as_str(), &plugin.component),
            (LOGO_FILE, logo),
            (README_FILE, readme),
        ],
    )?;
    // What was written must load as it will in production.
    let packed = Plugin::load(&out).with_context(|| format!("re-reading {}", out.display()))?;
    ensure!(
        packed.digest == plugin.digest,
        "the packed component differs"
    );
    Ok((out, report))
}

/// Sets the top-level `sha256:` of a manifest's text, replacing an existing
/// line or adding one after `component:`.
fn with_digest(text: &str, digest: &str) -> Result<String> {
    let line = format!("sha256: {digest}");
    let mut out = Vec::new();
    let mut done = false;
    for l in text.lines() {
        if l.starts_with("sha256:") {
            out.push(line.clone());
            done = true;
        } else {
            out.push(l.to_string());
        }
    }
    if !done {
        let Some(pos) = out.iter().position(|l| l.starts_with("component:")) else {
            bail!("{MANIFEST_FILE} has no top-level `component:` line to put sha256 after");
        };
        out.insert(pos + 1, line);
    }
    Ok(out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_line_is_set_or_replaced() {
        let d = "ab".repeat(32);
        assert_eq!(
            with_digest("# c\nname: x\ncomponent: x.wasm\nworld: w\n", &d).unwrap(),
            format!("# c\nname: x\ncomponent: x.wasm\nsha256: {d}\nworld: w\n")
        );
        assert_eq!(
            with_digest("component: x.wasm\nsha256: 00\n", &d).unwrap(),
            format!("component: x.wasm\nsha256: {d}\n")
        );
        assert!(with_digest("name: x\n", &d).is_err());
    }
}
