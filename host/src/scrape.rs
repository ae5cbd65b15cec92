//! One scrape: every module runs concurrently under its deadline, each
//! output is validated, and the results are merged with the self-metrics.
//!
//! This is where a scrape starts: [`Exporter::scrape`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, ensure};
use futures_util::future::join_all;

use crate::config::{Config, Limits};
use crate::convert;
use crate::labels;
use crate::merge::{Merger, Reserved};
use crate::model::{Family, Kind, Series, Text, Value};
use crate::plugin::{self, Plugin};
use crate::policy::Denial;
use crate::runtime::denials::Denials;
use crate::runtime::{
    CallCost, Failure, GuestModule, GuestOutput, GuestRuntime, PreparedSandbox, Reason,
};
use crate::selfmetrics::SelfMetrics;
use crate::spec;

/// How long past a call's deadline the scrape waits for it before
/// answering without it.
const GUARD: Duration = Duration::from_millis(100);

/// What the last scrape of a module did, for the landing page and the
/// module's debug page.
#[derive(Debug, Clone, Default)]
pub struct ModuleStatus {
    /// Whether the last scrape succeeded; `None` before the first scrape.
    pub up: Option<bool>,
    /// When the last scrape of the module ended.
    pub at: Option<SystemTime>,
    /// Duration of the last scrape.
    pub duration: Duration,
    /// Time the last scrape allowed the module (its timeout, or less when
    /// Prometheus' scrape timeout was shorter).
    pub allowed: Duration,
    /// The last failure, if the last scrape failed.
    pub last_error: Option<Failure>,
    /// Series served by the last successful scrape.
    pub series: usize,
    /// The families (name, series) of the last call whose output was valid
    /// exposition, whether or not they matched the plugin's declarations.
    pub families: Vec<(String, usize)>,
    /// What the last call cost (zero when it never ran or did not return).
    pub cost: CallCost,
    /// Whether the last call's sandbox was instantiated ahead of it
    /// (`runtime::ahead`).
    pub ahead: bool,
    /// The first accesses refused in the last call, and how many in all.
    pub denials: (Vec<Denial>, u64),
    /// The last failing call, kept after the module recovers, with what
    /// the guest printed in it.
    pub last_failure: Option<LastFailure>,
}

/// A module's last failing call.
#[derive(Debug, Clone)]
pub struct LastFailure {
    /// Why it failed.
    pub failure: Failure,
    /// When.
    pub at: SystemTime,
    /// What the guest wrote to stdout and stderr in that call.
    pub output: GuestOutput,
}

/// A loaded module: what the runtime runs, the plugin it came from and the
/// operator's labels for its series.
pub struct Module {
    guest: GuestModule,
    plugin: Option<Arc<Plugin>>,
    labels: Vec<(String, String)>,
}

impl Module {
    /// The module's name.
    pub fn name(&self) -> &str {
        self.guest.name()
    }

    /// The plugin the module comes from, if it is one.
    pub fn plugin(&self) -> Option<&Arc<Plugin>> {
        self.plugin.as_ref()
    }

    /// What the runtime runs.
    pub fn guest(&self) -> &GuestModule {
        &self.guest
    }

    /// The operator's labels, added to every series of the module.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }
}

/// The exporter: the loaded modules and everything a scrape needs.
pub struct Exporter {
    modules: Vec<Arc<Module>>,
    /// Per module, calls left behind while blocked in a host call and not
    /// yet returned. Each holds a guest thread, so such a module is not
    /// started again until its call returns: one stuck module must not
    /// take the threads every other module needs.
    stuck: Vec<Arc<AtomicUsize>>,
    /// Scrapes of `/metrics` under way.
    in_flight: AtomicUsize,
    metrics: SelfMetrics,
    /// Family names of the self-metrics, which guests may not emit.
    reserved: Reserved,
    margin: Duration,
    status: Mutex<Vec<ModuleStatus>>,
    // Dropped last: modules hold code compiled by this engine.
    runtime: Arc<GuestRuntime>,
}

impl Exporter {
    /// Compiles and links every module of `config` on `runtime`; the first
    /// module that cannot be loaded is reported by name. Outcomes are
    /// recorded in `metrics`, which outlive reloads.
    ///
    /// A module whose component the compile cache lacks is compiled when
    /// its turn comes but loaded only after every other module is compiled
    /// ([`GuestRuntime::compile_ahead`]), its config resolved again then.
    pub fn new(config: &Config, runtime: Arc<GuestRuntime>, metrics: SelfMetrics) -> Result<Self> {
        let cache_dir = runtime.settings().cache_dir.clone();
        let mut loaded = Vec::with_capacity(config.modules.len());
        let in_module = |m: &crate::config::ModuleConfig| format!("module {:?}", m.name);
        for m in &config.modules {
            let resolved = spec::resolve(m, cache_dir.as_deref()).with_context(|| in_module(m))?;
            if runtime.needs_compile(&resolved.spec.component) {
                // The rest of what was resolved is resolved again to load it.
                runtime
                    .compile_ahead(resolved.spec)
                    .with_context(|| in_module(m))?;
                loaded.push(None);
            } else {
                loaded.push(Some(
                    load_resolved(&runtime, resolved).with_context(|| in_module(m))?,
                ));
            }
        }
        let mut modules = Vec::with_capacity(loaded.len());
        for (m, module) in config.modules.iter().zip(loaded) {
            let module = match module {
                Some(module) => module,
                None => load(&runtime, m).with_context(|| in_module(m))?,
            };
            modules.push(Arc::new(module));
        }
        plugin::check_namespaces(
            modules
                .iter()
                .filter_map(|m| m.plugin().map(|p| (m.name(), &p.manifest))),
        )?;
        let reserved = Reserved::new(metrics.family_names());
        Ok(Self {
            status: Mutex::new(vec![ModuleStatus::default(); modules.len()]),
            stuck: modules.iter().map(|_| Arc::default()).collect(),
            in_flight: AtomicUsize::new(0),
            modules,
            metrics,
            reserved,
            margin: config.global.scrape_timeout_margin,
            runtime,
        })
    }

    /// Carries over, from the exporter this one replaces on reload, the
    /// calls still stuck in a host call of each module of the same name, so
    /// that a reload does not start such a module again either. Only on the
    /// same runtime: a new runtime brings threads of its own.
    pub fn inherit_stuck_calls(&mut self, previous: &Exporter) {
        if !Arc::ptr_eq(&self.runtime, &previous.runtime) {
            return;
        }
        for (module, stuck) in self.modules.iter().zip(&mut self.stuck) {
            if let Some(old) = previous
                .modules
                .iter()
                .position(|m| m.name() == module.name())
            {
                *stuck = previous.stuck[old].clone();
            }
        }
    }

    /// The loaded modules' names, in config order.
    pub fn module_names(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(|m| m.name())
    }

    /// The loaded modules, in config order.
    pub fn modules(&self) -> &[Arc<Module>] {
        &self.modules
    }

    /// Each loaded module's name and limits, in config order.
    pub fn module_limits(&self) -> impl Iterator<Item = (&str, &Limits)> {
        self.modules.iter().map(|m| (m.name(), m.guest.limits()))
    }

    /// The module called `name`, with its last status.
    pub fn module(&self, name: &str) -> Option<(&Arc<Module>, ModuleStatus)> {
        let index = self.modules.iter().position(|m| m.name() == name)?;
        let status = self
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(index)
            .cloned()
            .unwrap_or_default();
        Some((&self.modules[index], status))
    }

    /// The self-metrics the scrapes are counted in.
    pub fn metrics(&self) -> &SelfMetrics {
        &self.metrics
    }

    /// A snapshot of every module's last status, in config order.
    pub fn status(&self) -> Vec<ModuleStatus> {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs every module once and returns all families to serve, sorted.
    ///
    /// `budget` is the time Prometheus allows for the scrape
    /// (`X-Prometheus-Scrape-Timeout-Seconds`); no module runs past it minus
    /// the configured margin, whatever its own timeout.
    pub async fn scrape(&self, budget: Option<Duration>) -> Vec<Family> {
        let start = Instant::now();
        self.metrics.scrape_started();
        // Only a scrape that started alone prepares its modules' next
        // sandboxes: scrapes that overlap mean a busy CPU, where moving
        // work ahead buys nothing and its task costs (a trivial module
        // under load: fewer scrapes per second).
        let (_in_flight, others) = InFlight::enter(&self.in_flight);
        let prepare_next = others == 0;
        let budget_end = budget.map(|b| start + b.saturating_sub(self.margin));

        let deadlines: Vec<Instant> = self
            .modules
            .iter()
            .map(|module| {
                let own_end = start + module.guest.limits().timeout;
                budget_end.map_or(own_end, |b| b.min(own_end))
            })
            .collect();
        // Every call starts now, in config order: those that may block in the
        // kernel on a guest thread of their own, the others here, polled
        // together, each as a task of its own. (Run in this task, the first
        // call would keep the second, spawned next and so held in this
        // worker's LIFO slot, from the other workers until it ended: one
        // scraper's p50 went from 290-355 to 410-480 µs with the collectors.)
        // Modules served through /probe only are not called.
        let calls: Vec<Option<Option<Call<'_>>>> = self
            .modules
            .iter()
            .enumerate()
            .zip(&deadlines)
            .map(|((index, module), &deadline)| {
                module
                    .guest
                    .scraped()
                    .then(|| self.start_call(index, deadline, None, prepare_next))
            })
            .collect();
        let outcomes = join_all(calls.into_iter().enumerate().zip(&deadlines).map(
            |((index, call), &deadline)| async move {
                Some(match call? {
                    Some(call) => self.finish_call(index, call, deadline, start).await,
                    None => (Err(still_stuck()), Ran::not_started(start, deadline)),
                })
            },
        ))
        .await;

        let mut merger = Merger::new(&self.reserved);
        let mut statuses = Vec::with_capacity(outcomes.len());
        for (module, outcome) in self.modules.iter().zip(outcomes) {
            let Some((result, ran)) = outcome else {
                // Served through /probe only.
                statuses.push(ModuleStatus::default());
                continue;
            };
            let result = result.and_then(|families| merger.add(module.name(), families));
            statuses.push(self.record(module, result, ran));
        }
        {
            let mut kept = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            // A module that recovered keeps its last failure on its page.
            for (new, old) in statuses.iter_mut().zip(kept.iter_mut()) {
                if new.last_failure.is_none() {
                    new.last_failure = old.last_failure.take();
                }
            }
            *kept = statuses;
        }
        self.gather(merger.finish())
    }

    /// Starts one call of module `index` (with `target` as its `target`
    /// parameter, for a probe): inline, or on a guest thread of its own if
    /// it may block in the kernel (`GuestModule::may_block`). `None` when an
    /// earlier call of the module is still stuck in a host call. With
    /// `prepare_next`, the module's next sandbox is prepared as it ends.
    fn start_call(
        &self,
        index: usize,
        deadline: Instant,
        target: Option<String>,
        prepare_next: bool,
    ) -> Option<Call<'_>> {
        let (module, stuck) = (&self.modules[index], &self.stuck[index]);
        if stuck.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !module.guest.may_block() {
            let module = module.clone();
            let prepared = match target {
                None => module.guest.take_prepared(),
                Some(_) => None,
            };
            let held = prepared.is_some();
            let call = async move {
                let outcome = run_module(&module, deadline, target.as_deref(), prepared).await;
                // The next scrape's sandbox, made while nobody waits for it
                // (`runtime::ahead`): for a scrape that started alone, and
                // not when no slot is free (it would find none).
                if prepare_next && module.guest.could_prepare() {
                    tokio::spawn(async move { module.guest.prepare().await });
                }
                outcome
            };
            // A prepared sandbox holds its slot already.
            let task: CallTask<'_> = if held {
                Box::pin(self.runtime.run_prepared(call))
            } else {
                Box::pin(self.runtime.run_inline(deadline, call))
            };
            return Some(Call { task, phase: None });
        }
        let phase = Arc::new(CallPhase::default());
        let ended = CallEnd {
            phase: phase.clone(),
            stuck: stuck.clone(),
        };
        let module = module.clone();
        let runtime = &self.runtime;
        // Queued when first polled, not now: the calls of a scrape then take
        // the slots in the order of the config, inline ones included.
        let task = async move {
            runtime
                .spawn_call(deadline, async move {
                    // Moved in, so dropped whether the call returns or is
                    // dropped without ever starting.
                    let _ended = ended;
                    run_module(&module, deadline, target.as_deref(), None).await
                })
                .await
        };
        Some(Call {
            task: Box::pin(task),
            phase: Some(phase),
        })
    }

    /// Waits for a call started by [`Self::start_call`].
    async fn finish_call(
        &self,
        index: usize,
        call: Call<'_>,
        deadline: Instant,
        start: Instant,
    ) -> RunOutcome {
        // The call stops itself at its deadline; this guard keeps the
        // answer on time even if a guest thread is stuck in a host call (a
        // read that blocks in the kernel): the call is then left to finish
        // in the background and counted as a timeout now.
        match tokio::time::timeout_at((deadline + GUARD).into(), call.task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(failure)) => (Err(failure), Ran::after(start, deadline)),
            Err(_) => {
                if let Some(phase) = call.phase {
                    phase.abandon(&self.stuck[index]);
                }
                (
                    Err(Failure::new(
                        Reason::Timeout,
                        "still blocked in a host call at its deadline; left to finish in the background",
                    )),
                    Ran::after(start, deadline),
                )
            }
        }
    }

    /// Runs module `module` once with `target` as its `target` parameter
    /// (`/probe?module=&target=`): the module's families and
    /// `wasm_exporter_probe_success` and `..._duration_seconds`. A target
    /// outside the module's grants is refused before anything runs (the
    /// message says why). A failure is counted in the module's
    /// `scrape_errors_total` and logged; the module's last status (`up`,
    /// the landing page) is that of `/metrics` only.
    pub async fn probe(
        &self,
        module: &str,
        target: &str,
        budget: Option<Duration>,
    ) -> Result<Vec<Family>, String> {
        let Some(index) = self.modules.iter().position(|m| m.name() == module) else {
            return Err(format!("unknown module {module:?}"));
        };
        let guest = &self.modules[index].guest;
        guest.check_target(target)?;
        let start = Instant::now();
        let own_end = start + guest.limits().timeout;
        let deadline = budget
            .map(|b| start + b.saturating_sub(self.margin))
            .map_or(own_end, |b| b.min(own_end));
        let (result, ran) = match self.start_call(index, deadline, Some(target.to_string()), false)
        {
            Some(started) => self.finish_call(index, started, deadline, start).await,
            None => (Err(still_stuck()), Ran::not_started(start, deadline)),
        };
        let mut merger = Merger::new(&self.reserved);
        let result = result.and_then(|families| merger.add(module, families));
        self.metrics.record_cost(module, &ran.cost, ran.ahead);
        self.metrics.record_denials(module, &ran.denials);
        if let Err(failure) = &result {
            tracing::warn!(
                module,
                target,
                reason = %failure.reason,
                duration_seconds = ran.duration.as_secs_f64(),
                "probe failed: {}",
                failure.message
            );
            self.metrics.record_failure(module, failure.reason);
        }
        let mut families = merger.finish();
        for family in &mut families {
            family.sort_series();
        }
        families.extend(probe_families(result.is_ok(), start.elapsed()));
        families.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(families)
    }

    /// Counts one module's outcome in the self-metrics and logs a failure.
    fn record(&self, module: &Module, result: Result<usize, Failure>, ran: Ran) -> ModuleStatus {
        let name = module.name();
        self.metrics.record_cost(name, &ran.cost, ran.ahead);
        self.metrics.record_denials(name, &ran.denials);
        let at = SystemTime::now();
        let status = ModuleStatus {
            up: Some(result.is_ok()),
            at: Some(at),
            duration: ran.duration,
            allowed: ran.allowed,
            last_error: None,
            series: 0,
            families: ran.families,
            cost: ran.cost,
            ahead: ran.ahead,
            denials: (ran.denials.kept().to_vec(), ran.denials.total()),
            last_failure: None,
        };
        match result {
            Ok(series) => {
                self.metrics.record(name, ran.duration, ran.allowed, None);
                ModuleStatus { series, ..status }
            }
            Err(failure) => {
                tracing::warn!(
                    module = name,
                    reason = %failure.reason,
                    duration_seconds = ran.duration.as_secs_f64(),
                    "module scrape failed, its series are dropped for this scrape: {}",
                    failure.message
                );
                self.metrics
                    .record(name, ran.duration, ran.allowed, Some(failure.reason));
                ModuleStatus {
                    last_error: Some(failure.clone()),
                    last_failure: Some(LastFailure {
                        failure,
                        at,
                        output: ran.output,
                    }),
                    ..status
                }
            }
        }
    }

    /// The guests' families and the self-metrics, families sorted by name
    /// and series by label values, so the output order is the same on every
    /// scrape. (The merge has kept guests off the self-metrics' names.)
    fn gather(&self, guests: Vec<Family>) -> Vec<Family> {
        let mut families = self.metrics.families();
        families.reserve(guests.len());
        for mut family in guests {
            family.sort_series();
            families.push(family);
        }
        families.sort_by(|a, b| a.name.cmp(&b.name));
        families
    }
}

/// Where one module call stands, shared by the scrape that waits for it
/// and the task that runs it, so that exactly one of them accounts for a
/// call the scrape stopped waiting for.
#[derive(Default)]
struct CallPhase(AtomicU8);

const RUNNING: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

impl CallPhase {
    /// The scrape stops waiting: the call counts as stuck until it returns.
    fn abandon(&self, stuck: &AtomicUsize) {
        // Counted first, so that the task never takes back a count that is
        // not there yet.
        stuck.fetch_add(1, Ordering::AcqRel);
        if self
            .0
            .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // It returned just now: not stuck after all.
            stuck.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The call returned (or was dropped before it started); if the scrape
    /// had given up on it, it no longer counts as stuck.
    fn finish(&self, stuck: &AtomicUsize) {
        if self
            .0
            .compare_exchange(RUNNING, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            stuck.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Ends a call's phase when the call's future goes away: after the call
/// returned, or unstarted when its slot never came before its deadline.
struct CallEnd {
    phase: Arc<CallPhase>,
    stuck: Arc<AtomicUsize>,
}

impl Drop for CallEnd {
    fn drop(&mut self) {
        self.phase.finish(&self.stuck);
    }
}

/// One module's call of a scrape, running: on a guest thread (with its
/// phase, to tell whether it is stuck) or inline.
struct Call<'a> {
    task: CallTask<'a>,
    phase: Option<Arc<CallPhase>>,
}

/// The future of a started call.
type CallTask<'a> = Pin<Box<dyn Future<Output = Result<RunOutcome, Failure>> + Send + 'a>>;

/// A module's validated output (or why it failed) and what the run left.
type RunOutcome = (Result<Vec<Family>, Failure>, Ran);

/// What running a module left besides its result.
#[derive(Debug, Default)]
struct Ran {
    duration: Duration,
    /// The time the call was allowed.
    allowed: Duration,
    cost: CallCost,
    /// Whether its sandbox was instantiated ahead of the call.
    ahead: bool,
    output: GuestOutput,
    denials: Denials,
    /// Names and series counts of the families returned, when they were
    /// valid exposition.
    families: Vec<(String, usize)>,
}

impl Ran {
    /// A call that did not come back: only its duration is known.
    fn after(start: Instant, deadline: Instant) -> Ran {
        Ran {
            duration: start.elapsed(),
            allowed: deadline.saturating_duration_since(start),
            ..Ran::default()
        }
    }

    /// A call not started (an earlier one is still stuck): only the time it
    /// would have been allowed is known.
    fn not_started(start: Instant, deadline: Instant) -> Ran {
        Ran {
            allowed: deadline.saturating_duration_since(start),
            ..Ran::default()
        }
    }
}

/// A scrape counted in flight while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    /// Counts one more; also returns how many were under way before.
    fn enter(count: &'a AtomicUsize) -> (Self, usize) {
        let before = count.fetch_add(1, Ordering::AcqRel);
        (Self(count), before)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a module whose earlier call is stuck is not run.
fn still_stuck() -> Failure {
    Failure::new(
        Reason::Timeout,
        "its call of an earlier scrape is still blocked in a host call; \
         not started again until that call returns",
    )
}

/// The two families a probe adds to the module's: whether it succeeded and
/// how long it took, as blackbox_exporter's `probe_success` and
/// `probe_duration_seconds`.
fn probe_families(success: bool, duration: Duration) -> Vec<Family> {
    let gauge = |name: &'static str, help: &'static str, unit: &'static str, value: f64| Family {
        name: Text::Borrowed(name),
        help: Text::Borrowed(help),
        unit: Text::Borrowed(unit),
        kind: Kind::Gauge,
        label_names: Vec::new(),
        series: vec![Series {
            label_values: Vec::new(),
            value: Value::Number(value),
        }],
    };
    vec![
        gauge(
            "wasm_exporter_probe_success",
            "Whether the probe's module call succeeded (1) or failed (0).",
            "",
            if success { 1.0 } else { 0.0 },
        ),
        gauge(
            "wasm_exporter_probe_duration_seconds",
            "How long the probe took.",
            "seconds",
            duration.as_secs_f64(),
        ),
    ]
}

/// Runs one module under its deadline (with `target` as its `target`
/// parameter, for a probe) and validates its output.
async fn run_module(
    module: &Module,
    deadline: Instant,
    target: Option<&str>,
    prepared: Option<PreparedSandbox>,
) -> RunOutcome {
    let start = Instant::now();
    let outcome = match (target, prepared) {
        (Some(target), _) => module.guest.probe(deadline, target).await,
        (None, Some(prepared)) => module.guest.collect_prepared(deadline, prepared).await,
        (None, None) => module.guest.collect(deadline).await,
    };
    let mut emitted = Vec::new();
    let result = outcome
        .result
        .and_then(|families| convert::to_families(families, module.guest.limits()))
        .and_then(|families| {
            emitted = families
                .iter()
                .map(|f| (f.name.to_string(), f.series.len()))
                .collect();
            match module.plugin() {
                Some(p) => plugin::check_declared(&p.manifest, &families).map(|()| families),
                None => Ok(families),
            }
        })
        .and_then(|mut families| {
            labels::apply(&mut families, &module.labels)?;
            Ok(families)
        });
    let ran = Ran {
        duration: start.elapsed(),
        allowed: deadline.saturating_duration_since(start),
        cost: outcome.cost,
        ahead: outcome.ahead,
        output: outcome.output,
        denials: outcome.denials,
        families: emitted,
    };
    (result, ran)
}

/// Resolves a module's config (its plugin, pulled and its signature checked
/// when configured, grants checked against the manifest) and compiles and
/// links it on `runtime`.
pub fn load(runtime: &GuestRuntime, config: &crate::config::ModuleConfig) -> Result<Module> {
    let resolved = spec::resolve(config, runtime.settings().cache_dir.as_deref())?;
    load_resolved(runtime, resolved)
}

/// Compiles and links a resolved module on `runtime` (see [`load`]).
fn load_resolved(runtime: &GuestRuntime, resolved: spec::Resolved) -> Result<Module> {
    let guest = GuestModule::load(runtime, &resolved.spec)?;
    if let Some(p) = &resolved.plugin {
        let declared = &p.manifest.world;
        ensure!(
            declared == guest.world().name(),
            "plugin {}: its manifest says world {declared} but the component implements {}; rebuild the component or correct the manifest",
            p.manifest.name,
            guest.world()
        );
    }
    Ok(Module {
        guest,
        plugin: resolved.plugin,
        labels: resolved.labels,
    })
}
