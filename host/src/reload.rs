//! The live configuration: the exporter (modules) and the web security
//! settings, swapped atomically on reload (`SIGHUP`, `POST /-/reload`).
//!
//! A reload builds everything anew beside the running set; only when all of
//! it loads is it swapped in. Scrapes in flight finish on the set they
//! started with, so no scrape fails during a reload, and a bad new config
//! leaves the old one serving.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::runtime::{EngineSettings, GuestRuntime};
use crate::scrape::Exporter;
use crate::selfmetrics::SelfMetrics;
use crate::webconfig::WebSecurity;

/// What is being served, and how to load it again.
pub struct Live {
    config_file: PathBuf,
    web_config_file: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    exporter: ArcSwap<Exporter>,
    web: ArcSwap<WebSecurity>,
    metrics: SelfMetrics,
    /// The engine of the current exporter, reused by the next one when the
    /// engine settings did not change, so compiled code is shared.
    runtime: Mutex<Arc<GuestRuntime>>,
}

impl Live {
    /// Loads the config and web config for the first time. Compiled
    /// components are cached in `cache_dir`, when given.
    pub fn load(
        config_file: PathBuf,
        web_config_file: Option<PathBuf>,
        cache_dir: Option<PathBuf>,
    ) -> Result<Self> {
        let config = Config::load(&config_file)?;
        warn_if_empty(&config, &config_file);
        let web = WebSecurity::load(web_config_file.as_deref())?;
        let runtime = Arc::new(GuestRuntime::new(&engine_settings(
            &config,
            cache_dir.clone(),
        ))?);
        let metrics = SelfMetrics::new();
        let exporter = Exporter::new(&config, runtime.clone(), metrics.clone())
            .with_context(|| format!("config file {}", config_file.display()))?;
        metrics.set_modules(exporter.module_limits());
        metrics.reload_succeeded(true);
        release_compile_memory();
        Ok(Self {
            config_file,
            web_config_file,
            cache_dir,
            exporter: ArcSwap::from_pointee(exporter),
            web: ArcSwap::from_pointee(web),
            metrics,
            runtime: Mutex::new(runtime),
        })
    }

    /// The exporter serving scrapes now.
    pub fn exporter(&self) -> Arc<Exporter> {
        self.exporter.load_full()
    }

    /// The exporter's own metrics, which outlive reloads.
    pub fn metrics(&self) -> &SelfMetrics {
        &self.metrics
    }

    /// The web security settings in force now.
    pub fn web(&self) -> Arc<WebSecurity> {
        self.web.load_full()
    }

    /// Reloads both files; on any error the running set stays and the error
    /// is returned (and logged by the caller). Concurrent reloads queue.
    pub async fn reload(&self) -> Result<()> {
        let mut runtime = self.runtime.lock().await;
        let result = self.build(&runtime).await;
        match result {
            Ok((mut exporter, web, new_runtime)) => {
                exporter.inherit_stuck_calls(&self.exporter.load());
                self.metrics.set_modules(exporter.module_limits());
                let modules = exporter.module_names().count();
                self.exporter.store(Arc::new(exporter));
                self.web.store(Arc::new(web));
                *runtime = new_runtime;
                self.metrics.reload_succeeded(true);
                release_compile_memory();
                tracing::info!(
                    config = %self.config_file.display(),
                    modules,
                    "configuration reloaded"
                );
                Ok(())
            }
            Err(e) => {
                self.metrics.reload_succeeded(false);
                Err(e)
            }
        }
    }

    async fn build(
        &self,
        current: &Arc<GuestRuntime>,
    ) -> Result<(Exporter, WebSecurity, Arc<GuestRuntime>)> {
        let config_file = self.config_file.clone();
        let web_file = self.web_config_file.clone();
        let cache_dir = self.cache_dir.clone();
        let current = current.clone();
        let metrics = self.metrics.clone();
        // Compiling components takes CPU time: keep it off the async threads.
        tokio::task::spawn_blocking(move || {
            let config = Config::load(&config_file)?;
            warn_if_empty(&config, &config_file);
            let web = WebSecurity::load(web_file.as_deref())?;
            let settings = engine_settings(&config, cache_dir);
            let runtime = if current.settings() == &settings {
                current
            } else {
                Arc::new(GuestRuntime::new(&settings)?)
            };
            let exporter = Exporter::new(&config, runtime.clone(), metrics)
                .with_context(|| format!("config file {}", config_file.display()))?;
            Ok((exporter, web, runtime))
        })
        .await
        .context("the reload task failed")?
    }
}

/// Returns the heap that compiling components used to the system.
/// Compiling an interpreter-based component (Python, JavaScript) takes
/// hundreds of MiB that the allocator would otherwise keep for the life of
/// the process.
fn release_compile_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The engine settings a config needs.
pub fn engine_settings(config: &Config, cache_dir: Option<PathBuf>) -> EngineSettings {
    let limits = config.modules.iter().map(|m| &m.limits);
    EngineSettings {
        wasm_stack: config.global.wasm_stack.as_u64() as usize,
        concurrency: config.global.concurrency,
        max_memory: limits
            .clone()
            .map(|l| l.memory.as_u64() as usize)
            .max()
            .unwrap_or(1 << 20),
        max_table_elements: limits.map(|l| l.table_elements as usize).max().unwrap_or(1),
        cache_dir,
        bounds_checks: config.global.bounds_checks,
        prepare_ahead: config.global.prepare_ahead,
    }
}

fn warn_if_empty(config: &Config, path: &std::path::Path) {
    if config.modules.is_empty() {
        tracing::warn!(
            config = %path.display(),
            "the config lists no modules; only the exporter's own metrics will be served"
        );
    }
}
