//! The exporter's own metrics: what happened to each module on its last
//! scrapes, build information, reloads, the front door
//! ([`crate::connlimit`]) and the process ([`crate::processmetrics`]).
//!
//! Counted in plain atomics, one set per module, and made into the scrape's
//! model ([`Family`]) by [`SelfMetrics::families`] on every scrape. The
//! `prometheus` crate's registry did this before: each record hashed the
//! label values to find its series, and each gather built a protobuf
//! message per series with a copy of every label pair, which was then
//! moved into the model; most of the exporter's series on a scrape of a
//! few modules are these.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::config::Limits;
use crate::connlimit::HttpMetrics;
use crate::model::{Family, Kind, Series};
use crate::policy::DenialKind;
use crate::processmetrics::{self, ProcessMetrics};
use crate::runtime::denials::Denials;
use crate::runtime::{CallCost, Reason};
use crate::version;

/// One module's counters since it was loaded (they survive reloads).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleTotals {
    /// Failed scrapes by reason, every reason listed.
    pub errors: Vec<(String, f64)>,
    /// Refused accesses by kind, every kind listed.
    pub denials: Vec<(String, f64)>,
    /// CPU time of all its calls.
    pub cpu_seconds: f64,
    /// Calls whose sandbox was instantiated ahead of them.
    pub ahead_calls: u64,
}

/// The name, help and type of one of the exporter's families. Their label
/// names are in alphabetical order, as client libraries write them (and
/// the exporter's earlier versions did), so that a series reads the same
/// in every version.
struct Describe {
    name: &'static str,
    help: &'static str,
    kind: Kind,
}

const SCRAPE_ERRORS: Describe = Describe {
    name: "wasm_exporter_scrape_errors_total",
    help: "Module scrapes (and probes) that failed, by module and reason.",
    kind: Kind::Counter,
};
const MODULE_UP: Describe = Describe {
    name: "wasm_exporter_module_up",
    help: "Whether the module's last scrape succeeded (1) or failed (0).",
    kind: Kind::Gauge,
};
const MODULE_DURATION: Describe = Describe {
    name: "wasm_exporter_module_duration_seconds",
    help: "Duration of the module's last scrape: instantiation (unless its sandbox was instantiated ahead of the call) and collect.",
    kind: Kind::Gauge,
};
// The limits beside the figures they bound, so that a rule can compare the
// two (how close a module runs to its deadline, its memory cap, its
// descriptor cap).
const MODULE_DEADLINE: Describe = Describe {
    name: "wasm_exporter_module_deadline_seconds",
    help: "Time the module's last scrape was allowed: its timeout, or less when Prometheus' scrape timeout minus the margin was shorter.",
    kind: Kind::Gauge,
};
const MODULE_MEMORY_LIMIT: Describe = Describe {
    name: "wasm_exporter_module_memory_limit_bytes",
    help: "The module's memory limit (limits.memory): all its linear memories together.",
    kind: Kind::Gauge,
};
const MODULE_OPEN_FILES_LIMIT: Describe = Describe {
    name: "wasm_exporter_module_open_files_limit",
    help: "The module's cap on files and directories held open at once (limits.open_files).",
    kind: Kind::Gauge,
};
const MODULE_CPU: Describe = Describe {
    name: "wasm_exporter_module_cpu_seconds_total",
    help: "CPU time spent running the module's calls (guest code and the host calls made for it).",
    kind: Kind::Counter,
};
const MODULE_MEMORY_PEAK: Describe = Describe {
    name: "wasm_exporter_module_memory_peak_bytes",
    help: "Most linear memory the module held at once during its last call that returned.",
    kind: Kind::Gauge,
};
const MODULE_OPEN_FILES_PEAK: Describe = Describe {
    name: "wasm_exporter_module_open_files_peak",
    help: "Most files and directories the module held open at once during its last call that returned.",
    kind: Kind::Gauge,
};
const ACCESS_DENIED: Describe = Describe {
    name: "wasm_exporter_access_denied_total",
    help: "Accesses the sandbox refused, by module and kind (file: outside the grants or hidden; open_files: descriptor cap; egress: network destination outside the grants, UDP, listening, or a network cap).",
    kind: Kind::Counter,
};
const SCRAPES: Describe = Describe {
    name: "wasm_exporter_scrapes_total",
    help: "Scrapes of the telemetry path since the exporter started.",
    kind: Kind::Counter,
};
const BUILD_INFO: Describe = Describe {
    name: "wasm_exporter_build_info",
    help: "A metric with a constant '1' value labeled by version, revision, rustc version and target from which wasm_exporter was built.",
    kind: Kind::Gauge,
};
const RELOAD_OK: Describe = Describe {
    name: "wasm_exporter_config_last_reload_successful",
    help: "Whether the last configuration reload attempt was successful.",
    kind: Kind::Gauge,
};
const RELOAD_TIME: Describe = Describe {
    name: "wasm_exporter_config_last_reload_success_timestamp_seconds",
    help: "Timestamp of the last successful configuration reload.",
    kind: Kind::Gauge,
};

/// Every family of this module, for [`SelfMetrics::family_names`].
const DESCRIBED: [&Describe; 14] = [
    &SCRAPE_ERRORS,
    &MODULE_UP,
    &MODULE_DURATION,
    &MODULE_DEADLINE,
    &MODULE_MEMORY_LIMIT,
    &MODULE_OPEN_FILES_LIMIT,
    &MODULE_CPU,
    &MODULE_MEMORY_PEAK,
    &MODULE_OPEN_FILES_PEAK,
    &ACCESS_DENIED,
    &SCRAPES,
    &BUILD_INFO,
    &RELOAD_OK,
    &RELOAD_TIME,
];

/// What one module's last scrape did; none before its first.
#[derive(Debug, Clone, Copy)]
struct LastScrape {
    up: bool,
    duration: f64,
    deadline: f64,
}

/// What one module's last call that returned held at most.
#[derive(Debug, Clone, Copy)]
struct Peaks {
    memory: u64,
    open_files: u64,
}

/// One module's series.
#[derive(Debug, Default)]
struct ModuleSeries {
    /// By reason, in the order of [`Reason::ALL`].
    errors: [AtomicU64; Reason::ALL.len()],
    /// By kind, in the order of [`DenialKind::ALL`].
    denials: [AtomicU64; DenialKind::ALL.len()],
    cpu_nanos: AtomicU64,
    /// Calls whose sandbox was instantiated ahead of them (the module
    /// page shows it; not served).
    ahead_calls: AtomicU64,
    memory_limit: AtomicU64,
    open_files_limit: AtomicU64,
    last: Mutex<Option<LastScrape>>,
    peaks: Mutex<Option<Peaks>>,
}

impl ModuleSeries {
    fn count_error(&self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn cpu_seconds(&self) -> f64 {
        self.cpu_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// Self-metrics, made once and shared by all scrapes and reloads.
#[derive(Clone)]
pub struct SelfMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    /// The modules of the config being served, by name. A reload drops
    /// the series of the modules it removes, and a call of a removed module
    /// that ends after the reload (a scrape in flight on the old set)
    /// records nothing, so that no series of a module that is gone comes
    /// back.
    modules: RwLock<BTreeMap<String, ModuleSeries>>,
    scrapes: AtomicU64,
    reload_ok: AtomicBool,
    /// Seconds since the epoch, as the bits of an `f64`.
    reload_time: AtomicU64,
    http: Arc<HttpMetrics>,
    process: ProcessMetrics,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    /// The metrics of a process that has served nothing yet.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                modules: RwLock::default(),
                scrapes: AtomicU64::new(0),
                reload_ok: AtomicBool::new(false),
                reload_time: AtomicU64::new(0f64.to_bits()),
                http: Arc::default(),
                process: ProcessMetrics::new(),
            }),
        }
    }

    /// The front door's metrics, for the [`crate::connlimit::Gate`] to
    /// count in.
    pub fn http(&self) -> Arc<HttpMetrics> {
        self.inner.http.clone()
    }

    /// Makes the per-module series match `modules` (names and limits): new
    /// modules get every error series at 0 (so `rate()` works from their
    /// first scrape), removed modules lose theirs, kept modules keep their
    /// counts; every module's limits are set.
    pub fn set_modules<'a>(&self, modules: impl IntoIterator<Item = (&'a str, &'a Limits)>) {
        let modules: Vec<(&str, &Limits)> = modules.into_iter().collect();
        // Held while the series change, so no record of a removed module
        // slips in between the removal and the new set.
        let mut current = self
            .inner
            .modules
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        current.retain(|name, _| modules.iter().any(|(m, _)| m == name));
        for (module, limits) in modules {
            let series = current.entry(module.to_owned()).or_default();
            series
                .memory_limit
                .store(limits.memory.as_u64(), Ordering::Relaxed);
            series.open_files_limit.store(
                u64::try_from(limits.open_files).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Records the outcome of a (re)load of the configuration.
    pub fn reload_succeeded(&self, ok: bool) {
        self.inner.reload_ok.store(ok, Ordering::Relaxed);
        if ok {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.inner
                .reload_time
                .store(now.to_bits(), Ordering::Relaxed);
        }
    }

    /// Records one scrape of the telemetry path.
    pub fn scrape_started(&self) {
        self.inner.scrapes.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs `record` on `module`'s series if it is in the config being
    /// served, holding the set of modules so that a reload waits until the
    /// record is made.
    fn with_module(&self, module: &str, record: impl FnOnce(&ModuleSeries)) {
        let current = self
            .inner
            .modules
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = current.get(module) {
            record(series);
        }
    }

    /// Records the outcome of one module's scrape, which ran for `duration`
    /// of the `allowed` time.
    pub fn record(
        &self,
        module: &str,
        duration: Duration,
        allowed: Duration,
        failure: Option<Reason>,
    ) {
        self.with_module(module, |series| {
            *series.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(LastScrape {
                up: failure.is_none(),
                duration: duration.as_secs_f64(),
                deadline: allowed.as_secs_f64(),
            });
            if let Some(reason) = failure {
                series.count_error(reason);
            }
        });
    }

    /// Counts a failed call outside `/metrics` (a probe): the error only,
    /// not the module's last status.
    pub fn record_failure(&self, module: &str, reason: Reason) {
        self.with_module(module, |series| series.count_error(reason));
    }

    /// Records what a module's call cost, and whether its sandbox was
    /// instantiated `ahead` of it; nothing for a call that never ran or
    /// never came back.
    pub fn record_cost(&self, module: &str, cost: &CallCost, ahead: bool) {
        if *cost == CallCost::default() {
            return;
        }
        self.with_module(module, |series| {
            if ahead {
                series.ahead_calls.fetch_add(1, Ordering::Relaxed);
            }
            let nanos = u64::try_from(cost.cpu.as_nanos()).unwrap_or(u64::MAX);
            series.cpu_nanos.fetch_add(nanos, Ordering::Relaxed);
            *series.peaks.lock().unwrap_or_else(PoisonError::into_inner) = Some(Peaks {
                memory: u64::try_from(cost.memory_peak).unwrap_or(u64::MAX),
                open_files: u64::try_from(cost.open_files_peak).unwrap_or(u64::MAX),
            });
        });
    }

    /// Counts the accesses a module's call was refused.
    pub fn record_denials(&self, module: &str, denials: &Denials) {
        self.with_module(module, |series| {
            for (kind, n) in DenialKind::ALL.iter().zip(&series.denials) {
                n.fetch_add(denials.count(*kind), Ordering::Relaxed);
            }
        });
    }

    /// The counters of one module, as served, for its debug page; all zero
    /// for a module not in the config being served.
    pub fn module_totals(&self, module: &str) -> ModuleTotals {
        let mut totals = ModuleTotals::default();
        self.with_module(module, |series| {
            totals.errors = Reason::ALL
                .iter()
                .zip(&series.errors)
                .map(|(r, n)| (r.as_str().to_owned(), n.load(Ordering::Relaxed) as f64))
                .collect();
            totals.denials = DenialKind::ALL
                .iter()
                .zip(&series.denials)
                .map(|(k, n)| (k.as_str().to_owned(), n.load(Ordering::Relaxed) as f64))
                .collect();
            totals.cpu_seconds = series.cpu_seconds();
            totals.ahead_calls = series.ahead_calls.load(Ordering::Relaxed);
        });
        totals
    }

    /// Names of the families the exporter itself emits; guests may not use
    /// them.
    pub fn family_names(&self) -> HashSet<String> {
        DESCRIBED
            .iter()
            .map(|d| d.name)
            .chain(HttpMetrics::NAMES)
            .chain(processmetrics::names())
            .map(str::to_owned)
            .collect()
    }

    /// Every family as it stands now (the process figures read now), each
    /// family's series sorted by label values; a family with no series yet
    /// (no module has scraped) is left out.
    pub fn families(&self) -> Vec<Family> {
        let mut out = Vec::with_capacity(
            DESCRIBED.len() + HttpMetrics::NAMES.len() + processmetrics::names().count(),
        );
        self.module_families(&mut out);
        let one = |d: &Describe, value: f64| Family::own_single(d.name, d.help, d.kind, value);
        let inner = &self.inner;
        out.push(one(&SCRAPES, inner.scrapes.load(Ordering::Relaxed) as f64));
        out.push(one(
            &RELOAD_OK,
            f64::from(u8::from(inner.reload_ok.load(Ordering::Relaxed))),
        ));
        out.push(one(
            &RELOAD_TIME,
            f64::from_bits(inner.reload_time.load(Ordering::Relaxed)),
        ));
        out.push(Family::own(
            BUILD_INFO.name,
            BUILD_INFO.help,
            BUILD_INFO.kind,
            &["revision", "rustc_version", "target", "version"],
            vec![Series::number(
                [
                    version::REVISION,
                    version::RUSTC_VERSION,
                    version::TARGET,
                    version::VERSION,
                ]
                .map(str::to_owned)
                .to_vec(),
                1.0,
            )],
        ));
        inner.http.families(&mut out);
        inner.process.families(&mut out);
        out
    }

    /// The per-module families.
    fn module_families(&self, out: &mut Vec<Family>) {
        let modules = self
            .inner
            .modules
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut errors = Vec::with_capacity(modules.len() * Reason::ALL.len());
        let mut denials = Vec::with_capacity(modules.len() * DenialKind::ALL.len());
        let mut up = Vec::new();
        let mut duration = Vec::new();
        let mut deadline = Vec::new();
        let mut cpu = Vec::new();
        let mut memory_limit = Vec::new();
        let mut open_files_limit = Vec::new();
        let mut memory_peak = Vec::new();
        let mut open_files_peak = Vec::new();
        for (module, series) in modules.iter() {
            let labels = || vec![module.clone()];
            for (reason, n) in Reason::ALL.iter().zip(&series.errors) {
                errors.push(Series::number(
                    vec![module.clone(), reason.as_str().to_owned()],
                    n.load(Ordering::Relaxed) as f64,
                ));
            }
            for (kind, n) in DenialKind::ALL.iter().zip(&series.denials) {
                denials.push(Series::number(
                    vec![kind.as_str().to_owned(), module.clone()],
                    n.load(Ordering::Relaxed) as f64,
                ));
            }
            cpu.push(Series::number(labels(), series.cpu_seconds()));
            memory_limit.push(Series::number(
                labels(),
                series.memory_limit.load(Ordering::Relaxed) as f64,
            ));
            open_files_limit.push(Series::number(
                labels(),
                series.open_files_limit.load(Ordering::Relaxed) as f64,
            ));
            let last = *series.last.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(last) = last {
                up.push(Series::number(labels(), f64::from(u8::from(last.up))));
                duration.push(Series::number(labels(), last.duration));
                deadline.push(Series::number(labels(), last.deadline));
            }
            let peaks = *series.peaks.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(peaks) = peaks {
                memory_peak.push(Series::number(labels(), peaks.memory as f64));
                open_files_peak.push(Series::number(labels(), peaks.open_files as f64));
            }
        }
        drop(modules);
        let by_module: [(&Describe, &[&str], Vec<Series>); 10] = [
            (&SCRAPE_ERRORS, &["module", "reason"], errors),
            (&ACCESS_DENIED, &["kind", "module"], denials),
            (&MODULE_UP, &["module"], up),
            (&MODULE_DURATION, &["module"], duration),
            (&MODULE_DEADLINE, &["module"], deadline),
            (&MODULE_CPU, &["module"], cpu),
            (&MODULE_MEMORY_LIMIT, &["module"], memory_limit),
            (&MODULE_OPEN_FILES_LIMIT, &["module"], open_files_limit),
            (&MODULE_MEMORY_PEAK, &["module"], memory_peak),
            (&MODULE_OPEN_FILES_PEAK, &["module"], open_files_peak),
        ];
        for (d, label_names, series) in by_module {
            if !series.is_empty() {
                out.push(Family::own(d.name, d.help, d.kind, label_names, series));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    /// The families holding a series labelled with `module`.
    fn series_of(metrics: &SelfMetrics, module: &str) -> Vec<String> {
        metrics
            .families()
            .into_iter()
            .filter(|f| {
                let Some(i) = f.label_names.iter().position(|n| n == "module") else {
                    return false;
                };
                f.series.iter().any(|s| s.label_values[i] == module)
            })
            .map(|f| f.name.into_owned())
            .collect()
    }

    /// The value of the series of family `name` with `labels`.
    fn value(metrics: &SelfMetrics, name: &str, labels: &[&str]) -> Option<f64> {
        let families = metrics.families();
        let family = families.iter().find(|f| f.name == name)?;
        let series = family.series.iter().find(|s| {
            s.label_values
                .iter()
                .map(String::as_str)
                .eq(labels.iter().copied())
        })?;
        match series.value {
            Value::Number(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn a_call_that_ends_after_its_module_was_removed_records_nothing() {
        let metrics = SelfMetrics::new();
        let limits = Limits::default();
        metrics.set_modules([("kept", &limits), ("gone", &limits)]);
        assert!(!series_of(&metrics, "gone").is_empty());
        metrics.set_modules([("kept", &limits)]);
        assert_eq!(series_of(&metrics, "gone"), Vec::<String>::new());

        // A scrape that started on the old set finishes now.
        let second = Duration::from_secs(1);
        metrics.record("gone", second, second, Some(Reason::Trap));
        metrics.record_failure("gone", Reason::Timeout);
        let cost = CallCost {
            cpu: second,
            memory_peak: 65536,
            open_files_peak: 1,
        };
        metrics.record_cost("gone", &cost, false);
        assert_eq!(series_of(&metrics, "gone"), Vec::<String>::new());

        // The kept module still records.
        metrics.record("kept", second, second, Some(Reason::Trap));
        metrics.record_cost("kept", &cost, false);
        assert!(series_of(&metrics, "kept").contains(&"wasm_exporter_module_up".to_owned()));
        let errors = "wasm_exporter_scrape_errors_total";
        assert_eq!(value(&metrics, errors, &["kept", "trap"]), Some(1.0));
        assert_eq!(value(&metrics, errors, &["kept", "timeout"]), Some(0.0));
        assert_eq!(
            value(
                &metrics,
                "wasm_exporter_module_cpu_seconds_total",
                &["kept"]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn a_module_shows_its_last_scrape_only_after_it_has_one() {
        let metrics = SelfMetrics::new();
        let limits = Limits::default();
        metrics.set_modules([("b", &limits), ("a", &limits)]);
        let up = "wasm_exporter_module_up";
        assert!(!metrics.families().iter().any(|f| f.name == up));
        let ms = Duration::from_millis(1);
        metrics.record("b", ms, ms * 10, None);
        metrics.record("a", ms, ms * 10, Some(Reason::Memory));
        assert_eq!(value(&metrics, up, &["a"]), Some(0.0));
        assert_eq!(value(&metrics, up, &["b"]), Some(1.0));
        assert_eq!(
            value(&metrics, "wasm_exporter_module_deadline_seconds", &["a"]),
            Some(0.01)
        );
        // Series in label order, whatever order the counters are kept in.
        let families = metrics.families();
        let errors = families
            .iter()
            .find(|f| f.name == "wasm_exporter_scrape_errors_total")
            .expect("errors");
        let labels: Vec<&[String]> = errors.series.iter().map(|s| &s.label_values[..]).collect();
        assert!(labels.is_sorted(), "{labels:?}");
        assert_eq!(labels.len(), 2 * Reason::ALL.len());
        // Every family served is one the guests are kept off.
        let names = metrics.family_names();
        for f in &families {
            assert!(names.contains(&*f.name), "{} is not reserved", f.name);
        }
    }
}
