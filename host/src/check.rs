//! `wasm_exporter config check FILE`: loads a configuration as the
//! exporter would at start-up or on reload (every module resolved, its
//! grants checked against its manifest, its component compiled and linked),
//! without serving, and says for each module whether it would load.
//!
//! Unlike start-up, which stops at the first module that fails, the check
//! goes through all of them, so one run names every problem. Systemd runs
//! it before starting and before reloading (`deploy/systemd`).

use std::path::PathBuf;
use std::time::Instant;

use crate::config::{Config, ModuleConfig, Source};
use crate::plugin;
use crate::reload::engine_settings;
use crate::runtime::GuestRuntime;
use crate::scrape::{self, Module};
use crate::webconfig::WebSecurity;

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The configuration file.
    pub config_file: PathBuf,
    /// The web configuration file, if the exporter is started with one.
    pub web_config_file: Option<PathBuf>,
    /// The compile cache the exporter uses: compiling here fills it, so the
    /// start that follows does not compile again.
    pub cache_dir: Option<PathBuf>,
}

/// The outcome: one line per module (and per file), and whether all is
/// well.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Lines for the terminal.
    pub lines: Vec<String>,
    /// Whether the exporter would start with this configuration.
    pub ok: bool,
}

/// Runs the check and prints the report; `false` if anything failed.
pub fn run(options: &CheckOptions) -> bool {
    let report = check(options);
    for line in &report.lines {
        println!("{line}");
    }
    report.ok
}

/// Checks everything the exporter would load.
pub fn check(options: &CheckOptions) -> Report {
    let mut report = Report::default();
    let file = options.config_file.display();
    let config = match Config::load(&options.config_file) {
        Ok(c) => c,
        Err(e) => {
            report.lines.push(format!("config {file}: FAILED: {e:#}"));
            return report.finish(1);
        }
    };
    report.lines.push(format!(
        "config {file}: parsed, {} module{}",
        config.modules.len(),
        plural(config.modules.len())
    ));
    let mut failed = 0;
    if let Some(web) = &options.web_config_file {
        match WebSecurity::load(Some(web)) {
            Ok(_) => report
                .lines
                .push(format!("web config {}: ok", web.display())),
            Err(e) => {
                failed += 1;
                report
                    .lines
                    .push(format!("web config {}: FAILED: {e:#}", web.display()));
            }
        }
    }
    let runtime = match GuestRuntime::new(&engine_settings(&config, options.cache_dir.clone())) {
        Ok(r) => r,
        Err(e) => {
            report.lines.push(format!("wasm engine: FAILED: {e:#}"));
            return report.finish(failed + 1);
        }
    };
    let mut loaded: Vec<Module> = Vec::new();
    for m in &config.modules {
        let start = Instant::now();
        match scrape::load(&runtime, m) {
            Ok(module) => {
                report.lines.push(format!(
                    "module {}: ok ({}; grants: {}; {}, loaded in {:.2} s)",
                    m.name,
                    describe(&module, m),
                    module.guest().access().summary(),
                    module.guest().compiled().describe(),
                    start.elapsed().as_secs_f64()
                ));
                loaded.push(module);
            }
            Err(e) => {
                failed += 1;
                report
                    .lines
                    .push(format!("module {}: FAILED: {e:#}", m.name));
            }
        }
    }
    if let Err(e) = plugin::check_namespaces(
        loaded
            .iter()
            .filter_map(|m| m.plugin().map(|p| (m.name(), &p.manifest))),
    ) {
        failed += 1;
        report.lines.push(format!("plugins: FAILED: {e:#}"));
    }
    if config.modules.is_empty() {
        report
            .lines
            .push("note: no modules; only the exporter's own metrics would be served".to_string());
    }
    report.finish(failed)
}

/// What a loaded module is, in a few words.
fn describe(module: &Module, config: &ModuleConfig) -> String {
    match (module.plugin(), &config.source) {
        (Some(p), _) => format!(
            "plugin {} {}, {} declared metric{}",
            p.manifest.name,
            p.manifest.version,
            p.manifest.metrics.len(),
            plural(p.manifest.metrics.len())
        ),
        (None, Source::Component(path) | Source::Plugin(path)) => {
            format!("component {}", path.display())
        }
        // An `oci://` source always loads as a plugin; kept for completeness.
        (None, Source::Oci(reference)) => format!("plugin {reference}"),
    }
}

impl Report {
    fn finish(mut self, failed: usize) -> Report {
        self.ok = failed == 0;
        self.lines.push(if self.ok {
            "result: OK".to_string()
        } else {
            format!("result: FAILED ({failed} problem{})", plural(failed))
        });
        self
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
