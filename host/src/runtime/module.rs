//! A loaded scraper module: compiled and linked once at start-up, run in a
//! fresh sandbox on every scrape.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::GuestRuntime;
use super::bindings::wasm_exporter::scraper::types::{MetricFamily, Param};
use super::bindings::{Scraper, ScraperPre};
use super::capture::LogCapture;
use super::sandbox::{DeadlineExceeded, GuestState, LimitExceeded, Limiter};
use crate::config::{Grants, Limits, ModuleConfig, Source};
use crate::plugin::Plugin;
use crate::version::WIT_WORLD;

/// Why a module's scrape failed: the `reason` label of
/// `wasm_exporter_scrape_errors_total`. A small fixed set, so the label's
/// cardinality stays bounded whatever a guest does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The guest trapped (`unreachable`, stack overflow, bad memory access,
    /// a WASI call it was not allowed to complete...).
    Trap,
    /// The call ran past its deadline.
    Timeout,
    /// The guest tried to grow memory or a table past its cap.
    Memory,
    /// The output broke the exposition rules (bad name, label count, duplicate
    /// series, name taken by another module...).
    InvalidOutput,
    /// The output exceeded a size cap.
    OutputLimit,
    /// The guest returned `err(...)`.
    GuestError,
    /// A plugin emitted a family its manifest does not declare (or with
    /// another type or other label names).
    UndeclaredMetric,
}

impl Reason {
    /// Every reason, for initialising the counters at zero.
    pub const ALL: [Reason; 7] = [
        Reason::Trap,
        Reason::Timeout,
        Reason::Memory,
        Reason::InvalidOutput,
        Reason::OutputLimit,
        Reason::GuestError,
        Reason::UndeclaredMetric,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Trap => "trap",
            Reason::Timeout => "timeout",
            Reason::Memory => "memory",
            Reason::InvalidOutput => "invalid_output",
            Reason::OutputLimit => "output_limit",
            Reason::GuestError => "guest_error",
            Reason::UndeclaredMetric => "undeclared_metric",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed module scrape: the counted reason and a message for the log.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The counted reason.
    pub reason: Reason,
    /// What happened, for the operator.
    pub message: String,
}

impl Failure {
    /// A failure with the given reason and message.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

/// A scraper module ready to run.
pub struct GuestModule {
    name: String,
    pre: ScraperPre<GuestState>,
    params: Vec<Param>,
    grants: Grants,
    limits: Limits,
    plugin: Option<Arc<Plugin>>,
}

impl GuestModule {
    /// Loads the module's component (bare or from its plugin, whose
    /// parameters and grants are checked against the manifest), compiles it
    /// and links it against the host's WASI, so that a module that cannot
    /// run here is refused at start-up.
    pub fn load(runtime: &GuestRuntime, config: &ModuleConfig) -> Result<Self> {
        let (bytes, params, grants, plugin, origin) = match &config.source {
            Source::Component(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("reading component {}", path.display()))?;
                (
                    bytes,
                    config.params.clone(),
                    config.grants.clone(),
                    None,
                    path.clone(),
                )
            }
            Source::Plugin(_) | Source::Oci(_) => {
                let plugin =
                    crate::plugin::source::open(config, runtime.settings().cache_dir.as_deref())?;
                let (params, grants) = plugin.resolve(config)?;
                let bytes = plugin.component.clone();
                let origin = plugin.source.clone();
                (bytes, params, grants, Some(Arc::new(plugin)), origin)
            }
        };
        let origin = origin.display();
        let component = Component::new(runtime.engine(), &bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!("compiling {origin} (is it a WebAssembly component built for wasm32-wasi?)")
            })?;
        let instance_pre = runtime
            .linker()
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "linking {origin}: it imports something the host does not offer (the host offers WASI 0.2 only)"
                )
            })?;
        let pre = ScraperPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{origin} does not implement the world {WIT_WORLD}"))?;
        let params = params
            .into_iter()
            .map(|(name, value)| Param { name, value })
            .collect();
        Ok(Self {
            name: config.name.clone(),
            pre,
            params,
            grants,
            limits: config.limits.clone(),
            plugin,
        })
    }

    /// The plugin the module comes from, if it is one.
    pub fn plugin(&self) -> Option<&Arc<Plugin>> {
        self.plugin.as_ref()
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The module's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Instantiates the component in a fresh sandbox and calls `collect`,
    /// stopping it at `deadline`. What the guest wrote to stdout and stderr
    /// is logged under the module's name.
    pub async fn collect(&self, deadline: Instant) -> Result<Vec<MetricFamily>, Failure> {
        let limits = &self.limits;
        let stdout = LogCapture::new(limits.max_log_bytes.as_u64() as usize);
        let stderr = LogCapture::new(limits.max_log_bytes.as_u64() as usize);
        let state = self
            .sandbox(deadline, stdout.clone(), stderr.clone())
            .map_err(|e| Failure::new(Reason::Trap, format!("preparing the sandbox: {e:#}")))?;
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(lift_budget(limits));
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let call = async {
            let scraper: Scraper = self.pre.instantiate_async(&mut store).await?;
            scraper.call_collect(&mut store, &self.params).await
        };
        // The epoch callback stops guest code; the outer timeout also stops a
        // guest that is blocked in a host call (a sleep, a slow read).
        let outcome = tokio::time::timeout_at(deadline.into(), call).await;
        self.log_output("stdout", &stdout);
        self.log_output("stderr", &stderr);
        match outcome {
            Err(_) => Err(Failure::new(
                Reason::Timeout,
                format!(
                    "did not finish within its deadline ({:?} timeout)",
                    limits.timeout
                ),
            )),
            Ok(Err(e)) => Err(classify(&e, store.data().limiter.exceeded, limits)),
            Ok(Ok(Err(message))) => Err(Failure::new(
                Reason::GuestError,
                format!("guest returned an error: {}", one_line(&message, 500)),
            )),
            Ok(Ok(Ok(families))) => Ok(families),
        }
    }

    /// The WASI context for one call: only what the operator granted.
    fn sandbox(
        &self,
        deadline: Instant,
        stdout: LogCapture,
        stderr: LogCapture,
    ) -> Result<GuestState> {
        let grants = &self.grants;
        let mut wasi = WasiCtxBuilder::new();
        // File operations run on the guest's own thread instead of hopping
        // to a blocking pool for every read: guests read small files (proc,
        // sys, textfiles) and run on threads of their own, apart from the
        // HTTP server; the hops cost more than the reads. Set before the
        // preopens, which capture it.
        wasi.allow_blocking_current_thread(true);
        wasi.stdout(stdout)
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for dir in &grants.dirs {
            wasi.preopened_dir(&dir.host, &dir.guest, FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("opening granted directory {}", dir.host.display()))?;
        }
        for name in &grants.env {
            if let Some(value) = std::env::var_os(name) {
                wasi.env(name, value.to_string_lossy());
            }
        }
        let limits = &self.limits;
        Ok(GuestState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: Limiter::new(
                limits.memory.as_u64() as usize,
                limits.table_elements as usize,
            ),
            deadline,
        })
    }

    fn log_output(&self, stream: &str, capture: &LogCapture) {
        let (lines, dropped) = capture.take();
        for line in lines {
            tracing::info!(module = %self.name, stream, "guest: {line}");
        }
        if dropped > 0 {
            tracing::warn!(
                module = %self.name,
                stream,
                dropped_bytes = dropped,
                "guest output exceeded max_log_bytes; the rest was dropped"
            );
        }
    }
}

/// Maps a wasmtime error to a reason. The limiter's flag wins: a guest whose
/// allocation was refused often goes on to trap for another cause (abort,
/// unreachable), but memory is what the operator needs to know.
fn classify(error: &wasmtime::Error, memory_exceeded: bool, limits: &Limits) -> Failure {
    if error.downcast_ref::<DeadlineExceeded>().is_some() {
        return Failure::new(
            Reason::Timeout,
            format!("interrupted at its deadline ({:?} timeout)", limits.timeout),
        );
    }
    if let Some(e) = error.downcast_ref::<LimitExceeded>() {
        return Failure::new(Reason::Memory, e.to_string());
    }
    if format!("{error:#}").contains(LIFT_BUDGET_EXHAUSTED) {
        return Failure::new(
            Reason::OutputLimit,
            format!(
                "the output is larger than the limits allow ({} bytes of host memory to read it)",
                lift_budget(limits)
            ),
        );
    }
    if memory_exceeded {
        return Failure::new(
            Reason::Memory,
            format!(
                "memory limit {} exceeded ({})",
                limits.memory,
                one_line(&format!("{error:#}"), 300)
            ),
        );
    }
    let detail = match error.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => "stack overflow: the wasm stack limit was exhausted".into(),
        Some(trap) => trap.to_string(),
        None => one_line(&format!("{error:#}"), 500),
    };
    Failure::new(Reason::Trap, detail)
}

/// What wasmtime reports when lifting a value would take more host memory
/// than the store's hostcall fuel allows.
const LIFT_BUDGET_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Host memory that reading the guest's output may take, derived from the
/// output caps: every byte the caps allow, plus the host-side size of every
/// allowed sample (32 bytes and 24 per label value) and family.
///
/// Wasmtime charges this budget while it copies the output out of the guest,
/// before allocating, so an oversized answer (a million series, a huge string)
/// is refused without the host ever holding it; the caps themselves are
/// checked precisely afterwards.
fn lift_budget(limits: &Limits) -> usize {
    let bytes = limits.max_output_bytes.as_u64() as usize;
    let per_sample = 32 + 24 * limits.max_labels;
    bytes
        .saturating_add(limits.max_series.saturating_mul(per_sample))
        .saturating_add(limits.max_families.saturating_mul(256))
}

/// Guest text in a log line: one line, bounded.
fn one_line(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}
