//! wasm_exporter: a Prometheus exporter whose collectors are untrusted
//! WebAssembly components.
//!
//! Where things are:
//! - [`server`]: HTTP; a `GET` of the telemetry path calls
//!   [`scrape::Exporter::scrape`], where a scrape starts.
//! - [`spec`]: config and plugin package resolved into one plain module
//!   description, before the runtime sees it.
//! - [`policy`]: what a module may reach (file grants, the procfs/sysfs
//!   protections), decided apart from the WASI glue that enforces it.
//! - [`runtime`]: the wasm engine, the sandbox and its limits; a guest runs
//!   in [`runtime::GuestModule::collect`], its opens are checked in
//!   `runtime::wasi::filesystem`.
//! - [`convert`]: checks a guest's output (either WIT version) and turns it
//!   into the families of [`model`]; [`labels`] adds the operator's labels.
//! - [`plugin`]: plugin packages, their manifests and the `plugin` commands;
//!   where plugins are pulled and signatures checked: [`plugin::source`].
//! - [`merge`]: combines the modules' outputs of one scrape.
//! - [`exposition`]: the text format and OpenMetrics.
//! - [`selfmetrics`]: the exporter's own metrics; [`processmetrics`]: the
//!   `process_*` families among them.
//! - [`landing`] and [`modulepage`]: the web pages (`/`, `/modules/NAME`).
//! - [`check`]: `wasm_exporter config check`.
//! - [`config`]: the configuration file; [`reload`] keeps it live.
//! - [`webconfig`]: TLS and basic auth (exporter-toolkit web config).
//! - [`connlimit`]: the front door's connection and request limits;
//!   [`fdlimit`]: the file descriptor limit they are derived from.
//! - [`cachedir`]: `--cache.dir`, shared by compiled components and pulled
//!   plugins, each in its own subdirectory.
//! - [`malloc`]: how glibc's allocator keeps freed memory (arenas, the mmap
//!   threshold), set before any thread starts.

pub mod cachedir;
pub mod check;
pub mod cli;
pub mod compile;
pub mod config;
pub mod connlimit;
pub mod convert;
pub mod digest;
pub mod exposition;
pub mod fdlimit;
pub mod labels;
pub mod landing;
pub mod logging;
pub mod malloc;
pub mod merge;
pub mod model;
pub mod modulepage;
pub mod plugin;
pub mod policy;
pub mod processmetrics;
pub mod reload;
pub mod runtime;
pub mod scrape;
pub mod selfmetrics;
pub mod server;
pub mod spec;
pub mod version;
pub mod webconfig;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::Cli;
use crate::connlimit::{Gate, HttpLimits};
use crate::reload::Live;
use crate::server::App;

/// Runs the exporter until SIGINT or SIGTERM; SIGHUP reloads.
pub async fn run(cli: Cli) -> Result<()> {
    let config_file = cli.config_file.clone();
    let web_config_file = cli.web_config_file.clone();
    let cache_dir = cli.cache_dir.clone();
    let live =
        tokio::task::spawn_blocking(move || Live::load(config_file, web_config_file, cache_dir))
            .await??;
    let modules = live.exporter().module_names().count();
    let tls = live.web().tls.is_some();
    let mut listeners = Vec::with_capacity(cli.listen_addresses.len());
    for address in &cli.listen_addresses {
        let listener = server::bind(address).await?;
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| address.to_string());
        tracing::info!(
            version = version::VERSION,
            revision = version::REVISION,
            modules,
            tls,
            "listening on {bound}"
        );
        listeners.push(listener);
    }
    let gate = Gate::new(http_limits(&cli)?, live.metrics().http())?;
    let limits = gate.limits();
    tracing::info!(
        max_connections = limits.max_connections,
        max_requests = limits.max_requests,
        header_timeout = %humantime::format_duration(limits.header_timeout),
        idle_timeout = %humantime::format_duration(limits.idle_timeout),
        "HTTP limits"
    );
    let app = Arc::new(App {
        live,
        telemetry_path: cli.telemetry_path.clone(),
        lifecycle: cli.enable_lifecycle,
        gate,
    });
    spawn_reload_on_sighup(app.clone());
    server::serve(listeners, app, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The HTTP limits from the flags; the connection cap defaults to a quarter
/// of the soft descriptor limit (see [`fdlimit`]).
fn http_limits(cli: &Cli) -> Result<HttpLimits> {
    let max_connections = match cli.max_connections {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => fdlimit::default_max_connections(
            fdlimit::soft_limit().context("reading the file descriptor limit")?,
        ),
    };
    Ok(HttpLimits {
        max_connections,
        max_requests: cli.max_requests,
        header_timeout: cli.header_timeout,
        idle_timeout: cli.idle_timeout,
    })
}

#[cfg(unix)]
fn spawn_reload_on_sighup(app: Arc<App>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP, reload with POST /-/reload only: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received, reloading the configuration");
            if let Err(e) = app.live.reload().await {
                tracing::error!("reload failed, the previous configuration keeps serving: {e:#}");
            }
        }
    });
}

#[cfg(not(unix))]
fn spawn_reload_on_sighup(_app: Arc<App>) {}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}
