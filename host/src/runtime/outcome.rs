//! What a guest call ends with: its result or the reason it failed, what it
//! cost, what it was refused and what it printed.

use std::fmt;

use super::bindings::{v0_1, v0_2};
use super::cost::CallCost;
use super::denials::Denials;

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
    /// The guest held more WASI resources (descriptors, streams,
    /// pollables...) at once than `limits.wasi_resources`, or the host had
    /// no descriptor left to prepare its sandbox.
    ResourceLimit,
    /// The guest failed (returned an error or trapped) after the sandbox
    /// refused or cut a network access of the same call: a destination
    /// outside its grants, or a network cap.
    EgressDenied,
}

impl Reason {
    /// Every reason, for initialising the counters at zero.
    pub const ALL: [Reason; 9] = [
        Reason::Trap,
        Reason::Timeout,
        Reason::Memory,
        Reason::InvalidOutput,
        Reason::OutputLimit,
        Reason::GuestError,
        Reason::UndeclaredMetric,
        Reason::ResourceLimit,
        Reason::EgressDenied,
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
            Reason::ResourceLimit => "resource_limit",
            Reason::EgressDenied => "egress_denied",
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

/// Everything one call of a module's `collect` left behind.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The families the guest returned (not yet validated), or why the
    /// call failed.
    pub result: Result<GuestFamilies, Failure>,
    /// What the call cost.
    pub cost: CallCost,
    /// What it was refused.
    pub denials: Denials,
    /// What it wrote to stdout and stderr (kept up to `max_log_bytes`).
    pub output: GuestOutput,
    /// Whether its sandbox was instantiated ahead of the call
    /// (`runtime::ahead`); that instantiation's cost, refusals and output
    /// are in the fields above.
    pub ahead: bool,
}

/// What a guest's `collect` returned, in the types of the world version it
/// implements; `convert` checks it and reads it into the one model.
#[derive(Debug, Clone)]
pub enum GuestFamilies {
    /// From a `wasm-exporter:scraper@0.1.0` component.
    V0_1(Vec<v0_1::wasm_exporter::scraper::types::MetricFamily>),
    /// From a `wasm-exporter:scraper@0.2.0` component.
    V0_2(Vec<v0_2::wasm_exporter::scraper::types::MetricFamily>),
}

impl GuestFamilies {
    /// How many families the guest returned.
    pub fn len(&self) -> usize {
        match self {
            GuestFamilies::V0_1(f) => f.len(),
            GuestFamilies::V0_2(f) => f.len(),
        }
    }

    /// Whether the guest returned no family.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A call's stdout and stderr, line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestOutput {
    /// Lines written to stdout.
    pub stdout: Vec<String>,
    /// Lines written to stderr.
    pub stderr: Vec<String>,
    /// Bytes past `max_log_bytes`, dropped.
    pub dropped_bytes: u64,
}
