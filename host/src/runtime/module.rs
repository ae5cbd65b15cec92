//! A loaded scraper module: compiled and linked once at start-up, run in a
//! fresh sandbox on every scrape.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::time::error::Elapsed;
use wasmtime::component::{Component, ResourceTableError};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::ahead::Ahead;
use super::bindings::{v0_1, v0_2};
use super::calls::HeldSlot;
use super::capture::LogCapture;
use super::cost::{CallCost, CpuMetered};
use super::denials::Denials;
use super::descriptors::DescriptorBudget;
use super::epoch::EpochTicker;
use super::outcome::{CallOutcome, Failure, GuestFamilies, GuestOutput, Reason};
use super::sandbox::{DeadlineExceeded, GuestState, LimitExceeded, SandboxSpec};
use super::wasi::http::TlsConfigs;
use super::{Compiled, GuestRuntime};
use crate::config::Limits;
use crate::plugin::manifest::TARGET_PARAM;
use crate::policy::{Access, DenialKind};
use crate::spec::{self, ModuleSpec, TargetKind};
use crate::version::World;

/// A component linked for the world version it implements.
enum Linked {
    V0_1(v0_1::ScraperPre<GuestState>),
    V0_2(v0_2::ScraperPre<GuestState>),
}

/// A component instantiated in its sandbox, not called yet.
enum Instance {
    V0_1(v0_1::Scraper),
    V0_2(v0_2::Scraper),
}

impl Instance {
    /// Calls the guest's `collect` with `params`.
    async fn collect(
        self,
        store: &mut Store<GuestState>,
        params: &[spec::Param],
    ) -> wasmtime::Result<Result<GuestFamilies, String>> {
        match self {
            Instance::V0_1(scraper) => {
                let params: Vec<v0_1::wasm_exporter::scraper::types::Param> = params
                    .iter()
                    .map(|p| v0_1::wasm_exporter::scraper::types::Param {
                        name: p.name.clone(),
                        value: p.value.clone(),
                    })
                    .collect();
                let answer = scraper.call_collect(store, &params).await?;
                Ok(answer.map(GuestFamilies::V0_1))
            }
            Instance::V0_2(scraper) => {
                let params: Vec<v0_2::wasm_exporter::scraper::types::Param> = params
                    .iter()
                    .map(|p| v0_2::wasm_exporter::scraper::types::Param {
                        name: p.name.clone(),
                        value: p.value.clone(),
                    })
                    .collect();
                let answer = scraper.call_collect(store, &params).await?;
                Ok(answer.map(GuestFamilies::V0_2))
            }
        }
    }
}

/// One call's sandbox: its store and what the guest writes.
struct Sandbox {
    store: Store<GuestState>,
    stdout: LogCapture,
    stderr: LogCapture,
}

/// A module's next sandbox, instantiated ahead of its call
/// ([`GuestModule::prepare`]); the call runs in the slot it holds.
pub struct PreparedSandbox(Prepared);

enum Prepared {
    /// Instantiated: the call only runs `collect`. Fields drop in order,
    /// so the slot is given back after the store is gone.
    Ready {
        sandbox: Sandbox,
        instance: Instance,
        /// CPU time the instantiation took, billed to the call.
        cpu: Duration,
        _slot: HeldSlot,
    },
    /// The guest failed while instantiated (its start code trapped, ran out
    /// of time or memory): the next call reports this without running.
    Failed(CallOutcome),
}

/// A scraper module ready to run.
pub struct GuestModule {
    name: String,
    linked: Linked,
    params: Vec<spec::Param>,
    target: Option<TargetKind>,
    access: Arc<Access>,
    limits: Limits,
    /// The descriptors all guests share.
    budget: Arc<DescriptorBudget>,
    /// Held while a call runs, so that the engine's epoch advances.
    ticker: Arc<EpochTicker>,
    /// TLS settings of the module's HTTPS grants.
    tls: Arc<TlsConfigs>,
    /// How its component was compiled when it was loaded.
    compiled: Compiled,
    /// Its next sandbox ([`GuestModule::prepare`]), or why its sandboxes
    /// are never prepared.
    ahead: Result<Ahead<Prepared>, &'static str>,
    /// How long its last instantiation took, in nanoseconds (0 before the
    /// first): whether preparing ahead pays ([`WORTH_PREPARING`]).
    instantiation_ns: AtomicU64,
    /// Keeps the compiled component known to the engine while this module
    /// exists, so that the next reload reuses it and its warm pool slots.
    _component: Arc<Component>,
}

impl GuestModule {
    /// Compiles the module's component and links it against the host's
    /// WASI, so that a module that cannot run here is refused at start-up.
    pub fn load(runtime: &GuestRuntime, spec: &ModuleSpec) -> Result<Self> {
        let origin = spec.origin.display();
        let start = Instant::now();
        let (component, how) = runtime
            .compile(&spec.component)
            .with_context(|| compiling(spec))?;
        tracing::info!(
            module = %spec.name,
            compiled = ?how,
            seconds = start.elapsed().as_secs_f64(),
            "loaded {origin}"
        );
        let instance_pre = runtime
            .linker()
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "linking {origin}: it imports something the host does not offer (the host offers WASI 0.2 only)"
                )
            })?;
        // Which world the component implements shows in the type of its
        // `collect` export: the newest version is tried first, and a
        // component that matches none is refused with each version's reason.
        let linked = match v0_2::ScraperPre::new(instance_pre.clone()) {
            Ok(pre) => Linked::V0_2(pre),
            Err(newest) => match v0_1::ScraperPre::new(instance_pre) {
                Ok(pre) => Linked::V0_1(pre),
                Err(oldest) => anyhow::bail!(
                    "{origin} implements none of the worlds this exporter serves ({}): as {}: {newest:#}; as {}: {oldest:#}",
                    World::all_names(),
                    World::V0_2,
                    World::V0_1,
                ),
            },
        };
        let tls = TlsConfigs::new(&spec.access.network).context("grants: http")?;
        // Only where a sandbox made early is the same as one made at the
        // call: no network (a connection's deadline is fixed when the
        // sandbox is made) and directories that cannot be replaced.
        let ahead = match runtime.ahead_slots() {
            None => Err("global.prepare_ahead is off, or global.concurrency is 1"),
            Some(_) if !spec.access.network.is_empty() => Err("it has network grants"),
            Some(_) if !spec.access.files.kernel_made() => {
                Err("a granted directory is not on procfs or sysfs")
            }
            Some(slots) => Ok(Ahead::new(slots.clone())),
        };
        Ok(Self {
            name: spec.name.clone(),
            linked,
            params: spec.params.clone(),
            target: spec.target,
            access: spec.access.clone(),
            limits: spec.limits.clone(),
            budget: runtime.descriptor_budget().clone(),
            ticker: runtime.epoch_ticker().clone(),
            tls: Arc::new(tls),
            compiled: how,
            ahead,
            instantiation_ns: AtomicU64::new(0),
            _component: component,
        })
    }

    /// How its component was compiled when it was loaded: found in the
    /// compile cache, compiled into it, compiled in memory, or shared with
    /// another module (or the module before the last reload).
    pub fn compiled(&self) -> Compiled {
        self.compiled
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The world version the component implements.
    pub fn world(&self) -> World {
        match self.linked {
            Linked::V0_1(..) => World::V0_1,
            Linked::V0_2(..) => World::V0_2,
        }
    }

    /// The module's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the module may reach.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The kind of the module's `target` parameter, when it takes one.
    pub fn target(&self) -> Option<TargetKind> {
        self.target
    }

    /// Whether `/metrics` runs the module: not when it takes a `target`
    /// and none is configured (it is then served through `/probe` only).
    pub fn scraped(&self) -> bool {
        self.target.is_none() || self.params.iter().any(|p| p.name == TARGET_PARAM)
    }

    /// The parameters, secrets shown as `<secret>`, for pages and reports.
    pub fn params(&self) -> &[spec::Param] {
        &self.params
    }

    /// Checks a `/probe` target against the module's grants: the message
    /// says why it is refused (nothing is contacted then).
    pub fn check_target(&self, target: &str) -> Result<(), String> {
        match self.target {
            Some(kind) => kind.check(&self.access.network, target),
            None => Err(format!(
                "module {} takes no target parameter (only plugins declaring `{TARGET_PARAM}` serve /probe)",
                self.name
            )),
        }
    }

    /// Whether a call may block out of reach of its deadline's epoch
    /// checks: when a granted path lies on a filesystem that can hang, or
    /// when the module may use the network (a peer that accepts and never
    /// answers, a name lookup that waits on DNS). Such calls run on guest
    /// threads of their own; the others inline.
    pub fn may_block(&self) -> bool {
        self.access.files.may_hang() || !self.access.network.is_empty()
    }

    /// Whether and when its sandboxes are instantiated ahead, in words,
    /// for its page.
    pub fn ahead_policy(&self) -> String {
        match self.ahead {
            Err(why) => format!("never: {why}"),
            Ok(_) => format!(
                "when its instantiation takes {} µs or more (the last took {:.1} µs)",
                WORTH_PREPARING.as_micros(),
                self.instantiation_ns.load(Ordering::Relaxed) as f64 / 1e3
            ),
        }
    }

    /// Whether [`Self::prepare`] should start now: the module prepares
    /// ahead, its instantiation takes long enough for that to pay
    /// (`WORTH_PREPARING`), nothing is prepared or being prepared, and a
    /// slot is free.
    pub fn could_prepare(&self) -> bool {
        self.ahead.as_ref().is_ok_and(|ahead| {
            self.instantiation_ns.load(Ordering::Relaxed) >= WORTH_PREPARING.as_nanos() as u64
                && ahead.could_begin()
        })
    }

    /// Instantiates the component in a fresh sandbox and calls `collect`,
    /// stopping it at `deadline`. What the guest wrote to stdout and stderr
    /// and what it was refused are logged under the module's name.
    pub async fn collect(&self, deadline: Instant) -> CallOutcome {
        self.call(deadline, &self.params, None).await
    }

    /// The sandbox [`Self::prepare`] instantiated after the previous call,
    /// if it is ready; taken before the call, whose task then runs in the
    /// slot it holds ([`GuestRuntime::run_prepared`]).
    pub fn take_prepared(&self) -> Option<PreparedSandbox> {
        self.ahead.as_ref().ok()?.take().map(PreparedSandbox)
    }

    /// Like [`Self::collect`], in a sandbox prepared ahead.
    pub async fn collect_prepared(
        &self,
        deadline: Instant,
        prepared: PreparedSandbox,
    ) -> CallOutcome {
        self.call(deadline, &self.params, Some(prepared.0)).await
    }

    /// Like [`Self::collect`], with the `target` parameter set to `target`
    /// (checked with [`Self::check_target`] first). Always in a sandbox
    /// instantiated now.
    pub async fn probe(&self, deadline: Instant, target: &str) -> CallOutcome {
        let mut params: Vec<spec::Param> = self
            .params
            .iter()
            .filter(|p| p.name != TARGET_PARAM)
            .cloned()
            .collect();
        params.push(spec::Param::plain(TARGET_PARAM, target));
        self.call(deadline, &params, None).await
    }

    /// Instantiates the module's next sandbox now, so that its next
    /// [`Self::collect`] only runs the guest's `collect`; nothing if the
    /// module does not prepare ahead, has a sandbox prepared or being
    /// prepared, or no pool slot is free for it (`runtime::ahead`).
    ///
    /// The guest's start code runs now under the module's own timeout and
    /// limits, and what it costs, is refused or writes counts in the call
    /// that uses the sandbox. If the guest fails here, that call reports
    /// the failure without running.
    pub async fn prepare(&self) {
        let Some(preparing) = self.ahead.as_ref().ok().and_then(Ahead::begin) else {
            return;
        };
        let deadline = Instant::now() + self.limits.timeout;
        let _ticking = self.ticker.running();
        // No sandbox (no descriptor left): the call makes its own and
        // reports why it cannot.
        let Ok(mut sandbox) = self.sandbox(deadline) else {
            return;
        };
        let cpu_ns = AtomicU64::new(0);
        let made = tokio::time::timeout_at(
            deadline.into(),
            CpuMetered::new(self.instantiate(&mut sandbox.store), &cpu_ns),
        )
        .await;
        let cpu = Duration::from_nanos(cpu_ns.load(Ordering::Relaxed));
        match made {
            Ok(Ok(instance)) => preparing.done(|slot| Prepared::Ready {
                sandbox,
                instance,
                cpu,
                _slot: slot,
            }),
            Ok(Err(e)) => self.prepare_failed(preparing, &sandbox, Ok(Err(e)), cpu),
            Err(elapsed) => self.prepare_failed(preparing, &sandbox, Err(elapsed), cpu),
        }
    }

    /// Keeps what a failed instantiation ahead of the call left, for the
    /// call to report.
    fn prepare_failed(
        &self,
        preparing: super::ahead::Preparing<'_, Prepared>,
        sandbox: &Sandbox,
        made: CallResult,
        cpu: Duration,
    ) {
        let mut outcome = self.conclude(sandbox, made, cpu, &Redact::new(&self.params));
        outcome.result = outcome.result.map_err(|f| {
            Failure::new(
                f.reason,
                format!("instantiating ahead of the call: {}", f.message),
            )
        });
        outcome.ahead = true;
        preparing.done(|slot| {
            drop(slot);
            Prepared::Failed(outcome)
        });
    }

    async fn call(
        &self,
        deadline: Instant,
        params: &[spec::Param],
        prepared: Option<Prepared>,
    ) -> CallOutcome {
        let redact = Redact::new(params);
        // Before the store exists (or its deadline is set): its epoch
        // deadline is one tick away.
        let _ticking = self.ticker.running();
        let (mut sandbox, instance, ahead_cpu, slot) = match prepared {
            Some(Prepared::Failed(outcome)) => return outcome,
            Some(Prepared::Ready {
                mut sandbox,
                instance,
                cpu,
                _slot,
            }) => {
                sandbox.store.data_mut().deadline = deadline;
                sandbox.store.set_epoch_deadline(1);
                (sandbox, Some(instance), cpu, Some(_slot))
            }
            None => match self.sandbox(deadline) {
                Ok(sandbox) => (sandbox, None, Duration::ZERO, None),
                Err(e) => {
                    return CallOutcome {
                        result: Err(Failure::new(
                            Reason::ResourceLimit,
                            format!("preparing the sandbox: {e:#}"),
                        )),
                        cost: CallCost::default(),
                        denials: Default::default(),
                        output: GuestOutput::default(),
                        ahead: false,
                    };
                }
            },
        };
        let cpu_ns = AtomicU64::new(0);
        let store = &mut sandbox.store;
        let call = CpuMetered::new(
            async {
                let instance = match instance {
                    Some(instance) => instance,
                    None => self.instantiate(store).await?,
                };
                instance.collect(store, params).await
            },
            &cpu_ns,
        );
        // The epoch callback stops guest code; the outer timeout also stops a
        // guest that is blocked in a host call (a sleep, a slow read).
        let outcome = tokio::time::timeout_at(deadline.into(), call).await;
        let cpu = Duration::from_nanos(cpu_ns.load(Ordering::Relaxed)) + ahead_cpu;
        let mut outcome = self.conclude(&sandbox, outcome, cpu, &redact);
        outcome.ahead = slot.is_some();
        // The store before the pool slot it occupies.
        drop(sandbox);
        drop(slot);
        outcome
    }

    /// A fresh store for one call, holding only what the module's access
    /// policy grants, stopped at `deadline`. The epoch must be ticking
    /// (`EpochTicker::running`) before it is made.
    fn sandbox(&self, deadline: Instant) -> Result<Sandbox> {
        let limits = &self.limits;
        let stdout = LogCapture::new(limits.max_log_bytes.as_u64() as usize);
        let stderr = LogCapture::new(limits.max_log_bytes.as_u64() as usize);
        let state = GuestState::new(SandboxSpec {
            access: &self.access,
            limits,
            budget: &self.budget,
            tls: &self.tls,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            deadline,
        })?;
        let engine = match &self.linked {
            Linked::V0_1(pre) => pre.engine(),
            Linked::V0_2(pre) => pre.engine(),
        };
        let mut store = Store::new(engine, state);
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
        Ok(Sandbox {
            store,
            stdout,
            stderr,
        })
    }

    /// Instantiates the component in `store`, running the guest's start
    /// code; notes how long that took.
    async fn instantiate(&self, store: &mut Store<GuestState>) -> wasmtime::Result<Instance> {
        let start = Instant::now();
        let instance = match &self.linked {
            Linked::V0_1(pre) => pre.instantiate_async(store).await.map(Instance::V0_1),
            Linked::V0_2(pre) => pre.instantiate_async(store).await.map(Instance::V0_2),
        };
        // Failed ones too: start code that spins until its deadline is
        // worth moving out of the scrape.
        let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.instantiation_ns.store(took, Ordering::Relaxed);
        instance
    }

    /// What a call (or an instantiation ahead of one) that ended with
    /// `outcome` after `cpu` of CPU time leaves: its result, its cost, what
    /// it was refused and wrote (logged here), secrets removed.
    fn conclude(
        &self,
        sandbox: &Sandbox,
        outcome: CallResult,
        cpu: Duration,
        redact: &Redact,
    ) -> CallOutcome {
        let limits = &self.limits;
        let output = self.take_output(&sandbox.stdout, &sandbox.stderr, redact);
        let state = sandbox.store.data();
        let denials = redact.denials(state.all_denials());
        denials.log(&self.name);
        let cost = CallCost {
            cpu,
            memory_peak: state.limiter.memory_peak(),
            open_files_peak: state.open_files_peak(),
        };
        let result = match outcome {
            Err(_) => Err(Failure::new(
                Reason::Timeout,
                format!(
                    "did not finish within its deadline ({:?} timeout)",
                    limits.timeout
                ),
            )),
            Ok(Err(e)) => Err(classify(&e, state.limiter.exceeded, limits)),
            Ok(Ok(Err(message))) => Err(Failure::new(
                Reason::GuestError,
                format!("guest returned an error: {}", one_line(&message, 500)),
            )),
            Ok(Ok(Ok(families))) => Ok(families),
        };
        let result = result
            .map_err(|f| after_egress_denied(f, &denials))
            .map_err(|f| Failure::new(f.reason, redact.text(&f.message)));
        CallOutcome {
            result,
            cost,
            denials,
            output,
            ahead: false,
        }
    }

    /// Logs what the guest wrote and returns it, secrets removed.
    fn take_output(
        &self,
        stdout: &LogCapture,
        stderr: &LogCapture,
        redact: &Redact,
    ) -> GuestOutput {
        let mut output = GuestOutput::default();
        for (stream, capture, lines) in [
            ("stdout", stdout, &mut output.stdout),
            ("stderr", stderr, &mut output.stderr),
        ] {
            let (taken, dropped) = capture.take();
            let taken: Vec<String> = taken.iter().map(|l| redact.text(l)).collect();
            for line in &taken {
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
            *lines = taken;
            output.dropped_bytes += dropped;
        }
        output
    }
}

/// Instantiations shorter than this are not moved ahead of the call: the
/// task that moves one costs about as much. A trivial module (6.7 µs in
/// process) prepared ahead cost 8 µs more CPU per scrape and 8 % of the
/// scrapes under load; the collectors' instantiations take 23-34 µs in the
/// server, an interpreter's milliseconds.
const WORTH_PREPARING: Duration = Duration::from_micros(20);

/// How a call's future ended: at its deadline, in a trap or host error, or
/// with the guest's answer.
type CallResult = Result<wasmtime::Result<Result<GuestFamilies, String>>, Elapsed>;

/// A guest that failed (returned an error or trapped) after the sandbox
/// refused or cut its network access in the same call failed because of
/// it: `egress_denied`. Other reasons (a timeout, memory, bad output) are
/// kept, and a call that succeeded in spite of refusals is not a failure.
fn after_egress_denied(failure: Failure, denials: &Denials) -> Failure {
    let refused = denials.count(DenialKind::Egress);
    if refused == 0 || !matches!(failure.reason, Reason::GuestError | Reason::Trap) {
        return failure;
    }
    let first = denials
        .kept()
        .iter()
        .find(|d| d.kind == DenialKind::Egress)
        .map(|d| format!("; first: {}: {}", d.target, d.reason))
        .unwrap_or_default();
    Failure::new(
        Reason::EgressDenied,
        format!(
            "{} (after the sandbox refused {refused} network access{}{first})",
            failure.message,
            if refused == 1 { "" } else { "es" }
        ),
    )
}

/// Removes secret parameter values from what the host logs or shows of a
/// call: the guest's output lines, its error message, refusals.
struct Redact {
    secrets: Vec<String>,
}

impl Redact {
    fn new(params: &[spec::Param]) -> Redact {
        Redact {
            secrets: params
                .iter()
                .filter(|p| p.secret && !p.value.is_empty())
                .map(|p| p.value.clone())
                .collect(),
        }
    }

    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "<secret>");
            }
        }
        out
    }

    fn denials(&self, denials: Denials) -> Denials {
        if self.secrets.is_empty() {
            return denials;
        }
        denials.map(|d| crate::policy::Denial {
            target: self.text(&d.target),
            reason: self.text(&d.reason),
            ..d
        })
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
    if matches!(
        error.downcast_ref::<ResourceTableError>(),
        Some(ResourceTableError::Full)
    ) {
        return Failure::new(
            Reason::ResourceLimit,
            format!(
                "the guest held more than {} WASI resources (descriptors, streams, pollables...) at once (limits.wasi_resources)",
                limits.wasi_resources
            ),
        );
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

/// What a failed compile of `spec`'s component says first.
pub(super) fn compiling(spec: &ModuleSpec) -> String {
    format!(
        "compiling {} (is it a WebAssembly component built for wasm32-wasi?)",
        spec.origin.display()
    )
}
