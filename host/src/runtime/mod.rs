//! The guest runtime: one wasmtime engine for the process, the WASI linker,
//! and the loaded scraper modules. It runs what a [`crate::spec::ModuleSpec`]
//! describes and knows nothing of configs or plugin packages.
//!
//! Where a guest runs: [`GuestModule::collect`] builds a fresh sandbox
//! (`runtime/sandbox.rs`) and calls the component's `collect` export: as a
//! task of the HTTP server's workers ([`GuestRuntime::run_inline`]), or,
//! when the call may block in the kernel, on a guest thread of the
//! [`CallPool`] ([`GuestRuntime::spawn_call`]). A sandbox instantiated
//! ahead of its call, as the module's previous call ended
//! ([`GuestModule::prepare`], `runtime/ahead.rs`), is called by
//! [`GuestModule::collect_prepared`] in the slot it holds
//! ([`GuestRuntime::run_prepared`]).
//!
//! Where limits and grants are checked: memory and tables in `Limiter`
//! (`runtime/sandbox.rs`), time by epoch interruption (here) and the
//! call's timer ([`GuestModule::collect`]), ticking only while a guest runs
//! (`runtime/epoch.rs`), descriptors in [`descriptors`], files on every
//! open in [`wasi::filesystem`] (asking [`crate::policy`]).
//!
//! Compiled components come from the cache directory ([`compiled`]) and are
//! shared by every module, and every reload, that uses the same bytes
//! (`loaded.rs`).

mod ahead;
mod calls;
mod capture;
pub mod compiled;
pub mod cost;
pub mod denials;
pub mod descriptors;
mod epoch;
mod loaded;
mod module;
mod outcome;
mod resident;
mod sandbox;
mod split;
#[cfg(test)]
mod vendored;
pub mod wasi;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::BoundsChecks;
use crate::spec::{ComponentBytes, ModuleSpec};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use calls::CallPool;
use calls::SlotSource;
use compiled::CompiledDir;
pub use cost::CallCost;
pub use descriptors::DescriptorBudget;
use epoch::EpochTicker;
use loaded::LoadedComponents;
pub use module::{GuestModule, PreparedSandbox};
pub use outcome::{CallOutcome, Failure, GuestFamilies, GuestOutput, Reason};
pub use sandbox::GuestState;

/// Bindings generated from `wit/`, one module per version of the scraper
/// world ([`crate::version::World`]); they share no types.
pub mod bindings {
    /// `wit/0.1.0`: gauges, counters, untyped.
    pub mod v0_1 {
        wasmtime::component::bindgen!({
            world: "scraper",
            path: "../wit/0.1.0",
            imports: { default: async | trappable },
            exports: { default: async },
        });
    }

    /// `wit/0.2.0`: adds histograms, summaries, info, stateset and units.
    pub mod v0_2 {
        wasmtime::component::bindgen!({
            world: "scraper",
            path: "../wit/0.2.0",
            imports: { default: async | trappable },
            exports: { default: async },
        });
    }
}

/// How often the engine's epoch advances while a guest runs
/// (`runtime/epoch.rs`). Guests check the epoch in loops and function
/// prologues, so this is the granularity of deadline checks and of
/// yielding the thread to other tasks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Engine-wide settings (they cannot differ per module). A reload that
/// changes them builds a new engine; otherwise the engine is kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EngineSettings {
    /// Maximum wasm stack per call.
    pub wasm_stack: usize,
    /// Guest calls running at once, all scrapes together: the size of the
    /// instance pool and of the guest thread pool's queue.
    pub concurrency: usize,
    /// The largest memory limit of any module (a pool slot's size).
    pub max_memory: usize,
    /// The largest table limit of any module.
    pub max_table_elements: usize,
    /// Where compiled components are cached, if anywhere.
    pub cache_dir: Option<PathBuf>,
    /// How memory accesses are bounds-checked.
    pub bounds_checks: BoundsChecks,
    /// Whether modules' next sandboxes are instantiated ahead of their
    /// calls (`runtime/ahead.rs`), each holding one of the `concurrency`
    /// slots while it waits (at most `concurrency - 1` of them).
    pub prepare_ahead: bool,
}

/// Pool slots per component. Generous: an interpreter-based guest (Python,
/// JavaScript) is a few dozen core instances; a C guest is a handful.
const POOL_CORE_INSTANCES_PER_COMPONENT: u32 = 128;
const POOL_MEMORIES_PER_COMPONENT: u32 = 16;
const POOL_TABLES_PER_COMPONENT: u32 = 64;

/// The process-wide engine, linker, instance pool and guest threads shared
/// by all modules.
pub struct GuestRuntime {
    settings: EngineSettings,
    engine: Engine,
    linker: Linker<GuestState>,
    /// The threads that run guest calls, at most as many at once as the
    /// instance pool has slots.
    calls: CallPool,
    /// The descriptors all guest calls may hold together.
    descriptors: Arc<DescriptorBudget>,
    /// Compiled components on disk, with `--cache.dir`.
    compiled: Option<CompiledDir>,
    /// Advances the engine's epoch while guests run.
    ticker: Arc<EpochTicker>,
    /// Components loaded by this engine and still used by a module.
    loaded: LoadedComponents,
    /// Digests of components [`GuestRuntime::compile_ahead`] compiled and
    /// no module has loaded yet: their load says they were compiled.
    compiled_ahead: Mutex<HashSet<String>>,
}

/// How a component was compiled, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiled {
    /// Found compiled in the cache directory.
    Cached,
    /// Compiled by a child process into the cache directory.
    InChild,
    /// Already loaded for another module, or before the last reload.
    Loaded,
    /// Compiled in this process (no cache directory).
    InProcess,
}

impl Compiled {
    /// In words, for `config check` and the module's page.
    pub fn describe(self) -> &'static str {
        match self {
            Compiled::Cached => "found compiled in the cache",
            Compiled::InChild => "compiled into the cache",
            Compiled::InProcess => "compiled (no cache)",
            Compiled::Loaded => "already loaded (the same bytes as a module loaded before)",
        }
    }
}

impl GuestRuntime {
    /// Creates the engine ([`engine_config`]), opens the compiled-component
    /// directory and starts the guest threads.
    pub fn new(settings: &EngineSettings) -> Result<Self> {
        let engine = Engine::new(&engine_config(settings)?)
            .map_err(anyhow::Error::from)
            .context("creating the wasm engine")?;
        let compiled = match &settings.cache_dir {
            Some(dir) => Some(CompiledDir::open(dir, &engine)?),
            None => None,
        };
        let mut linker = Linker::new(&engine);
        wasi::link(&mut linker)?;
        let ahead = if settings.prepare_ahead {
            settings.concurrency.saturating_sub(1)
        } else {
            0
        };
        let calls = CallPool::new(settings.concurrency, ahead)?;
        let ticker = EpochTicker::new();
        calls.tick_epochs(ticker.clone(), engine.clone());
        Ok(Self {
            settings: settings.clone(),
            engine,
            linker,
            calls,
            descriptors: Arc::new(DescriptorBudget::from_rlimit()),
            compiled,
            ticker,
            loaded: LoadedComponents::default(),
            compiled_ahead: Mutex::default(),
        })
    }

    /// Whether `component` has to be compiled into the compiled-component
    /// directory before it can be loaded: there is a directory, the
    /// component is not in it, and no module has it loaded.
    pub fn needs_compile(&self, component: &ComponentBytes) -> bool {
        self.compiled.as_ref().is_some_and(|dir| {
            self.loaded.get(component.sha256()).is_none() && !dir.has(component.sha256())
        })
    }

    /// Compiles `spec`'s component into the compiled-component directory
    /// without loading it, letting go of its bytes once the compiling child
    /// has them; the module is loaded later from the directory. Without a
    /// directory, nothing is compiled ahead.
    ///
    /// Why: a compile's child peaks at hundreds of MiB, and the exporter's
    /// own memory adds to that, the more so the more modules it has
    /// loaded (~3 MiB a Python plugin) and while it holds the component
    /// (18 MB for one). The exporter compiles every missing component
    /// before it loads any module ([`crate::scrape::Exporter::new`]).
    pub fn compile_ahead(&self, spec: ModuleSpec) -> Result<()> {
        let Some(dir) = &self.compiled else {
            return Ok(());
        };
        let start = Instant::now();
        let sha256 = spec.component.sha256().to_owned();
        let context = module::compiling(&spec);
        dir.compile(&self.settings, spec.component)
            .context(context)?;
        tracing::info!(
            seconds = start.elapsed().as_secs_f64(),
            "compiled {} into the cache",
            spec.origin.display()
        );
        self.compiled_ahead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sha256);
        Ok(())
    }

    /// Compiles a component for this engine: through the compiled-component
    /// directory when there is one (mapped from it, compiled by a child
    /// process if missing), else here. A component with the same bytes as
    /// one a module still uses is that same one (`loaded.rs`). The compiled
    /// file and the loaded component are found by the digest taken when
    /// the bytes were read.
    pub fn compile(&self, component: &ComponentBytes) -> Result<(Arc<Component>, Compiled)> {
        let (bytes, sha256) = (component.bytes(), component.sha256());
        if let Some(loaded) = self.loaded.get(sha256) {
            return Ok((loaded, Compiled::Loaded));
        }
        let (component, how) = match &self.compiled {
            Some(dir) => {
                let (component, origin) =
                    dir.component(&self.engine, &self.settings, bytes, sha256)?;
                let ahead = self
                    .compiled_ahead
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(sha256);
                let how = match origin {
                    compiled::Origin::Cached if !ahead => Compiled::Cached,
                    _ => Compiled::InChild,
                };
                (component, how)
            }
            None => {
                // Split as the compiling child does, for the same peak.
                let split = split::split_to_compile(bytes, |e| tracing::warn!("{e:#}"));
                let bytes = split.as_deref().unwrap_or(bytes);
                (
                    Component::new(&self.engine, bytes).map_err(anyhow::Error::from)?,
                    Compiled::InProcess,
                )
            }
        };
        Ok((self.loaded.insert(sha256.to_owned(), component), how))
    }

    /// The settings the engine was made with.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The descriptors all guest calls may hold together.
    pub fn descriptor_budget(&self) -> &Arc<DescriptorBudget> {
        &self.descriptors
    }

    /// What a call holds while it runs, so that the epoch advances.
    pub(crate) fn epoch_ticker(&self) -> &Arc<EpochTicker> {
        &self.ticker
    }

    /// Where sandboxes prepared ahead of their calls take their slots,
    /// when the runtime prepares them.
    pub(crate) fn ahead_slots(&self) -> Option<&SlotSource> {
        self.calls.slot_source()
    }

    /// The linker offering WASI p2 to guests.
    pub fn linker(&self) -> &Linker<GuestState> {
        &self.linker
    }

    /// Runs a guest call on a guest thread once one of the `concurrency`
    /// slots is free (see [`CallPool`]); a timeout failure if none frees up
    /// before `deadline`.
    pub fn spawn_call<F>(
        &self,
        deadline: Instant,
        call: F,
    ) -> impl Future<Output = Result<F::Output, Failure>> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.calls.spawn(deadline, call)
    }

    /// Runs a guest call whose sandbox was prepared ahead, in the slot that
    /// sandbox holds (see [`CallPool::run_in_held_slot`]).
    pub async fn run_prepared<F>(&self, call: F) -> Result<F::Output, Failure>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        CallPool::run_in_held_slot(call).await
    }

    /// Runs a guest call as a task of the caller's runtime once a slot is
    /// free (see [`CallPool::run_inline`]); for calls that cannot block in
    /// the kernel.
    pub async fn run_inline<F>(&self, deadline: Instant, call: F) -> Result<F::Output, Failure>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.calls.run_inline(deadline, call).await
    }
}

/// The wasmtime configuration for `settings`; the exporter and the
/// processes that compile for it build the very same one, so that what
/// one compiles the other can load.
///
/// Deadlines use epoch interruption rather than fuel: fuel makes every
/// guest instruction pay for accounting and measures work, not time, while
/// the promise to Prometheus is about wall-clock time. Epoch checks cost one
/// load and compare, and the same tick lets a running guest yield its
/// thread so other guests keep going.
///
/// Instances come from wasmtime's pooling allocator, sized from the limits
/// (`concurrency` calls of the largest module; sandboxes prepared ahead
/// hold call slots), with copy-on-write memory images: a scrape reuses a
/// slot instead of mapping fresh memory.
pub fn engine_config(settings: &EngineSettings) -> Result<Config> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(settings.wasm_stack);
    // The fiber stack must hold the wasm stack plus host frames.
    config.async_stack_size(settings.wasm_stack + (1 << 20));
    config.memory_init_cow(true);
    if settings.bounds_checks == BoundsChecks::Explicit {
        // Bounds checks in the guest's code instead of guard pages and
        // signals: memory that a call grew stays mapped read/write in its
        // pool slot (it is still zeroed or reset), so the next call
        // neither shrinks nor grows it with mprotect. Each mprotect on a
        // multi-threaded process costs a TLB flush on every CPU.
        config.signals_based_traps(false);
        config.memory_guard_size(0);
        config.memory_reservation(settings.max_memory.next_multiple_of(WASM_PAGE) as u64);
    }
    let slots = u32::try_from(settings.concurrency).context("concurrency is too large")?;
    let keep_resident = resident::keep_resident();
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(POOL_CORE_INSTANCES_PER_COMPONENT))
        .max_core_instances_per_component(POOL_CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots.saturating_mul(POOL_MEMORIES_PER_COMPONENT))
        .max_memories_per_component(POOL_MEMORIES_PER_COMPONENT)
        .max_memories_per_module(POOL_MEMORIES_PER_COMPONENT)
        .total_tables(slots.saturating_mul(POOL_TABLES_PER_COMPONENT))
        .max_tables_per_component(POOL_TABLES_PER_COMPONENT)
        .max_tables_per_module(POOL_TABLES_PER_COMPONENT)
        .table_elements(settings.max_table_elements)
        .max_memory_size(settings.max_memory.next_multiple_of(WASM_PAGE))
        .total_stacks(slots)
        // Reset the pages a call wrote in place (memcpy from the image, or
        // zeroes), found with the kernel's PAGEMAP_SCAN where it has it,
        // rather than with madvise: madvise on reuse makes the kernel flush
        // TLBs on every CPU (IPIs), and the next call faults every page in
        // again, which cost more than the rest of a small guest's call and
        // half of an interpreter's. The scan is wasmtime's as vendored
        // (vendor/): it finds all the written pages, swapped-out ones
        // included. How much is kept: `resident`.
        .linear_memory_keep_resident(keep_resident)
        .table_keep_resident(keep_resident / 16)
        .pagemap_scan(Enabled::Auto)
        // What lies beyond the resident part is returned to the kernel as
        // soon as a call ends: an interpreter touches megabytes per call,
        // and batching would keep them all resident until the batch fills.
        .decommit_batch_size(DECOMMIT_BATCH);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(config)
}

/// Decommits batched together: none (see `decommit_batch_size` above).
const DECOMMIT_BATCH: usize = 1;

/// A wasm page: memory sizes are multiples of it.
const WASM_PAGE: usize = 64 * 1024;
