//! `wasm_exporter plugin check` and `plugin pack`: the debugging step of a
//! plugin, for its author and for the reviewer who decides to run it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use super::{LOGO_FILE, MANIFEST_FILE, Plugin, README_FILE, archive, check_declared, scaffold};
use crate::cli::{PluginCommand, RunArgs};
use crate::config::{Config, DirGrant, FileGrant, Grants, Limits, ModuleConfig, Source};
use crate::exposition::{self, Format};
use crate::runtime::{EngineSettings, GuestModule, GuestRuntime};
use crate::{convert, spec};

/// Runs a `wasm_exporter plugin` command; `Ok(false)` when a check failed
/// (the report says why).
pub async fn run(command: PluginCommand) -> Result<bool> {
    match command {
        PluginCommand::Check { path, run } => {
            let report = check(&path, &run.into()).await?;
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
    }
}

impl From<RunArgs> for CheckOptions {
    fn from(a: RunArgs) -> Self {
        CheckOptions {
            params: a.params,
            dirs: a.grants,
            files: a.files,
            env: a.env,
            config_file: a.config_file,
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
    /// `--config.file`: take the limits from its `defaults`.
    pub config_file: Option<PathBuf>,
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

    let limits = match &options.config_file {
        Some(file) => defaults_of(file)?,
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
        },
        limits: limits.clone(),
    };
    let runtime = Arc::new(GuestRuntime::new(&EngineSettings {
        wasm_stack: crate::config::Global::default().wasm_stack.as_u64() as usize,
        concurrency: 1,
        max_memory: limits.memory.as_u64() as usize,
        max_table_elements: limits.table_elements as usize,
        cache_dir: None,
        bounds_checks: Default::default(),
    })?);
    let loaded = spec::resolve(&module_config)
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
            return Ok(out.fail("load failed".into()));
        }
    };
    out.line(format!("grants: {}", module.access().summary()));
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
    out.text
        .push_str(&exposition::encode(&families, Format::Text));
    out.line("--- declarations");
    let emitted: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
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

/// The `defaults:` limits of a config file (its modules are not loaded).
fn defaults_of(file: &Path) -> Result<Limits> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading config file {}", file.display()))?;
    let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("config file {}", file.display()))?;
    if let Some(map) = value.as_mapping_mut() {
        map.remove("modules");
    }
    let mut probe = serde_yaml_ng::to_string(&value)?;
    probe.push_str("modules: [{name: probe, component: probe.wasm}]\n");
    let config = Config::parse(&probe, Path::new("/"))
        .with_context(|| format!("config file {}", file.display()))?;
    config
        .modules
        .first()
        .map(|m| m.limits.clone())
        .context("reading the limits")
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
