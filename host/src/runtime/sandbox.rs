//! Per-call guest state: the WASI context built from the module's access
//! policy, the file guard that enforces it, and the resource limiter that
//! enforces the memory and table caps.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{WasiCliCtxView, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocksCtxView, WasiClocksView};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::random::{WasiRandomCtx, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSocketsCtxView, WasiSocketsView};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::capture::LogCapture;
use super::denials::Denials;
use super::descriptors::{CallDescriptors, DescriptorBudget};
use super::wasi::filesystem::{FileGuard, GuardedView};
use crate::config::Limits;
use crate::policy::Access;

/// Everything a store holds for one guest call.
pub struct GuestState {
    wasi: WasiParts,
    files: FileGuard,
    pub(crate) denials: Denials,
    pub(crate) limiter: Limiter,
    /// When the call must be over; checked on every epoch tick.
    pub(crate) deadline: Instant,
}

/// wasmtime-wasi's context and the resource table, apart from the rest of
/// the state so that a host call can borrow them beside the guard.
struct WasiParts {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for WasiParts {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

/// What a sandbox is built from.
pub(crate) struct SandboxSpec<'a> {
    pub access: &'a Arc<Access>,
    pub limits: &'a Limits,
    pub budget: &'a Arc<DescriptorBudget>,
    pub stdout: LogCapture,
    pub stderr: LogCapture,
    pub deadline: Instant,
}

impl GuestState {
    /// The state of one call: only what the module's access policy grants.
    pub(crate) fn new(spec: SandboxSpec<'_>) -> Result<GuestState> {
        let SandboxSpec {
            access,
            limits,
            budget,
            stdout,
            stderr,
            deadline,
        } = spec;
        let mut wasi = WasiCtxBuilder::new();
        // File operations run on the guest's own thread instead of hopping
        // to a blocking pool for every read: guests read small files (proc,
        // sys, textfiles) and run on threads of their own, apart from the
        // HTTP server; the hops cost more than the reads. Set before the
        // preopens, which capture it. FIFOs, sockets and devices are never
        // opened (policy), so what blocks is a hung filesystem only.
        wasi.allow_blocking_current_thread(true);
        wasi.stdout(stdout)
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let preopens = access.files.preopens();
        let mut descriptors = CallDescriptors::new(limits.open_files, budget.clone());
        descriptors
            .take_for_host(preopens.len())
            .map_err(|refused| anyhow::anyhow!(refused.reason()))?;
        for dir in preopens {
            wasi.preopened_dir(&dir.host, &dir.guest, FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("opening granted directory {}", dir.host.display()))?;
        }
        for name in &access.env {
            if let Some(value) = std::env::var_os(name) {
                wasi.env(name, value.to_string_lossy());
            }
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.wasi_resources);
        Ok(GuestState {
            wasi: WasiParts {
                ctx: wasi.build(),
                table,
            },
            files: FileGuard::new(access.files.clone(), descriptors),
            denials: Denials::default(),
            limiter: Limiter::new(
                limits.memory.as_u64() as usize,
                limits.table_elements as usize,
            ),
            deadline,
        })
    }

    /// The most files the guest held open at once.
    pub(crate) fn open_files_peak(&self) -> usize {
        self.files.descriptors().peak()
    }

    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.wasi.table
    }

    pub(crate) fn clocks(&mut self) -> WasiClocksCtxView<'_> {
        self.wasi.clocks()
    }

    pub(crate) fn random(&mut self) -> &mut WasiRandomCtx {
        self.wasi.random()
    }

    pub(crate) fn cli(&mut self) -> WasiCliCtxView<'_> {
        self.wasi.cli()
    }

    pub(crate) fn sockets(&mut self) -> WasiSocketsCtxView<'_> {
        self.wasi.sockets()
    }

    pub(crate) fn files(&mut self) -> GuardedView<'_> {
        GuardedView {
            fs: self.wasi.filesystem(),
            guard: &mut self.files,
            denials: &mut self.denials,
        }
    }
}

/// Raised (as the trap's error) when a guest call runs past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
pub struct DeadlineExceeded;

/// Raised when a guest tries to grow memory or a table past its cap.
#[derive(Debug, thiserror::Error)]
#[error("{what} limit exceeded: wanted {wanted} bytes, limit is {limit} bytes")]
pub struct LimitExceeded {
    pub what: &'static str,
    pub wanted: usize,
    pub limit: usize,
}

/// Enforces the module's caps across all linear memories and tables of the
/// store. Wasmtime's `StoreLimits` caps each memory on its own; a component
/// may hold several core instances with a memory each, so the total is what
/// bounds the host.
pub struct Limiter {
    memory_limit: usize,
    memory_in_use: usize,
    memory_peak: usize,
    table_elements: usize,
    /// Set once a request went over a cap, so the failure is classified as a
    /// memory failure even when the guest turns it into another trap.
    pub(crate) exceeded: bool,
}

impl Limiter {
    /// A limiter allowing `memory_limit` bytes of linear memory in total and
    /// `table_elements` elements per table.
    pub fn new(memory_limit: usize, table_elements: usize) -> Self {
        Self {
            memory_limit,
            memory_in_use: 0,
            memory_peak: 0,
            table_elements,
            exceeded: false,
        }
    }
}

impl Limiter {
    /// The most linear memory the guest held at once.
    pub fn memory_peak(&self) -> usize {
        self.memory_peak
    }
}

/// Core instances one component may create; a C guest with the WASI adapter
/// needs a handful, interpreters a few dozen.
const MAX_INSTANCES: usize = 1_000;
const MAX_TABLES: usize = 1_000;
const MAX_MEMORIES: usize = 100;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let wanted = self
            .memory_in_use
            .saturating_sub(current)
            .saturating_add(desired);
        if wanted > self.memory_limit {
            self.exceeded = true;
            return Err(wasmtime::Error::new(LimitExceeded {
                what: "memory",
                wanted,
                limit: self.memory_limit,
            }));
        }
        self.memory_in_use = wanted;
        self.memory_peak = self.memory_peak.max(wanted);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.exceeded = true;
            return Err(wasmtime::Error::new(LimitExceeded {
                what: "table",
                wanted: desired,
                limit: self.table_elements,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
