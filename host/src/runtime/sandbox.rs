//! Per-call guest state: the WASI context built from the module's grants,
//! and the resource limiter that enforces its memory and table caps.

use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Everything a store holds for one guest call.
pub struct GuestState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    /// When the call must be over; checked on every epoch tick.
    pub(crate) deadline: Instant,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
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
            table_elements,
            exceeded: false,
        }
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
