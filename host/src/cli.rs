//! Command-line flags, named like those of other Prometheus exporters.

use std::path::PathBuf;

use clap::Parser;

use crate::logging::{LogFormat, LogLevel};

/// Prometheus exporter whose collectors are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasm_exporter", version, long_version = crate::version::LONG.as_str(), about)]
pub struct Cli {
    /// Address to listen on for the web interface and telemetry
    /// (`:PORT` listens on every interface). Repeat to listen on several.
    #[arg(
        long = "web.listen-address",
        default_value = ":9601",
        value_name = "ADDR"
    )]
    pub listen_addresses: Vec<String>,

    /// Web configuration file (TLS, basic auth, headers) in the
    /// exporter-toolkit format.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Enable reloading through HTTP (POST /-/reload).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics", value_name = "PATH", value_parser = parse_telemetry_path)]
    pub telemetry_path: String,

    /// Configuration file listing the scraper modules.
    #[arg(
        long = "config.file",
        default_value = "wasm_exporter.yml",
        value_name = "FILE"
    )]
    pub config_file: PathBuf,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,
}

fn parse_telemetry_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("{s:?} must start with '/'"));
    }
    if s == "/" || s.starts_with("/-/") {
        return Err(format!(
            "{s:?} is taken by the landing page or the health endpoints"
        ));
    }
    Ok(s.to_string())
}
