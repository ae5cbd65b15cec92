//! The guest runtime: one wasmtime engine for the process, the WASI linker,
//! and the loaded scraper modules.
//!
//! Where a guest runs: [`GuestModule::collect`] builds a fresh sandbox
//! ([`sandbox`]) and calls the component's `collect` export.

mod capture;
mod module;
mod sandbox;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

pub use module::{Failure, GuestModule, Reason};
pub use sandbox::GuestState;

/// Bindings generated from `wit/scraper.wit`.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "scraper",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// How often the engine's epoch advances. Guests check the epoch in loops
/// and function prologues, so this is the granularity of deadline checks
/// and of yielding the thread to other tasks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Engine-wide settings (they cannot differ per module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSettings {
    /// Maximum wasm stack per call.
    pub wasm_stack: usize,
}

/// The process-wide engine and linker shared by all modules.
pub struct GuestRuntime {
    settings: EngineSettings,
    engine: Engine,
    linker: Linker<GuestState>,
    _ticker: EpochTicker,
}

impl GuestRuntime {
    /// Creates the engine.
    ///
    /// Deadlines use epoch interruption rather than fuel: fuel makes every
    /// guest instruction pay for accounting and measures work, not time,
    /// while the promise to Prometheus is about wall-clock time. Epoch checks
    /// cost one load and compare, and the same tick lets a running guest
    /// yield its thread so other guests and the HTTP server keep going.
    pub fn new(settings: &EngineSettings) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.max_wasm_stack(settings.wasm_stack);
        // The fiber stack must hold the wasm stack plus host frames.
        config.async_stack_size(settings.wasm_stack + (1 << 20));
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasm engine")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI p2")?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Self {
            settings: settings.clone(),
            engine,
            linker,
            _ticker: ticker,
        })
    }

    /// The settings the engine was made with.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker offering WASI p2 to guests.
    pub fn linker(&self) -> &Linker<GuestState> {
        &self.linker
    }
}

/// A thread advancing the engine's epoch every [`EPOCH_TICK`].
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
