//! wasm_exporter: a Prometheus exporter whose collectors are untrusted
//! WebAssembly components.
//!
//! Where things are:
//! - [`server`]: HTTP; a `GET` of the telemetry path calls
//!   [`scrape::Exporter::scrape`], where a scrape starts.
//! - [`runtime`]: the wasm engine, the sandbox and its limits; a guest runs
//!   in [`runtime::GuestModule::collect`].
//! - [`convert`]: checks a guest's output and turns it into metric families.
//! - [`merge`]: combines the modules' outputs of one scrape.
//! - [`exposition`]: the text format.
//! - [`selfmetrics`]: the exporter's own metrics.
//! - [`config`]: the configuration file.

pub mod cli;
pub mod config;
pub mod convert;
pub mod exposition;
pub mod logging;
pub mod merge;
pub mod runtime;
pub mod scrape;
pub mod selfmetrics;
pub mod server;
pub mod version;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::Cli;
use crate::config::Config;
use crate::scrape::Exporter;
use crate::server::App;

/// Runs the exporter until SIGINT or SIGTERM.
pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(&cli.config_file)?;
    if config.modules.is_empty() {
        tracing::warn!(
            config = %cli.config_file.display(),
            "the config lists no modules; only the exporter's own metrics will be served"
        );
    }
    let exporter = tokio::task::block_in_place(|| Exporter::new(&config))
        .with_context(|| format!("config file {}", cli.config_file.display()))?;
    let listener = server::bind(&cli.listen_address).await?;
    let address = server::local_addr(&listener)
        .map(|a| a.to_string())
        .unwrap_or_else(|| cli.listen_address.clone());
    tracing::info!(
        version = version::VERSION,
        revision = version::REVISION,
        modules = config.modules.len(),
        "listening on {address}"
    );
    let app = Arc::new(App {
        exporter,
        telemetry_path: cli.telemetry_path.clone(),
    });
    server::serve(listener, app, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

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
