//! Structured logging to stderr, in the formats Prometheus components use.

use anyhow::{Result, anyhow};
use clap::ValueEnum;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything, including per-call guest details.
    Debug,
    /// Start-up, reloads and guest output.
    Info,
    /// Failed module scrapes and other problems.
    Warn,
    /// Only errors.
    Error,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Installs the global subscriber. Logs of the engine's dependencies
/// (cranelift, wasmtime internals) are kept at warn so that `debug` shows
/// the exporter's own events.
pub fn init(level: LogLevel, format: LogFormat) -> Result<()> {
    let directive = format!("warn,wasm_exporter={lvl}", lvl = level.as_str());
    let filter = EnvFilter::try_new(directive).map_err(|e| anyhow!("log filter: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Logfmt => registry
            .with(
                tracing_logfmt::builder()
                    .with_target(false)
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| anyhow!("installing the logger: {e}"))
}
