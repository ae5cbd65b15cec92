//! The exporter's own metrics: what happened to each module on the last
//! scrapes, build information and process figures.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use prometheus::core::Collector;
use prometheus::{
    CounterVec, Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::config::Limits;
use crate::policy::DenialKind;
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
}

fn label_value<'a>(metric: &'a prometheus::proto::Metric, name: &str) -> Option<&'a str> {
    metric
        .get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
}

/// Self-metrics, registered once and shared by all scrapes.
#[derive(Clone)]
pub struct SelfMetrics {
    registry: Registry,
    scrape_errors: IntCounterVec,
    module_up: IntGaugeVec,
    module_duration: GaugeVec,
    module_deadline: GaugeVec,
    module_cpu: CounterVec,
    module_memory_peak: IntGaugeVec,
    module_memory_limit: IntGaugeVec,
    module_open_files_peak: IntGaugeVec,
    module_open_files_limit: IntGaugeVec,
    access_denied: IntCounterVec,
    scrapes: IntCounter,
    reload_ok: IntGauge,
    reload_time: Gauge,
    /// The modules of the config being served: a reload drops the series
    /// of the modules it removes, and a call of a removed module that ends
    /// after the reload (a scrape in flight on the old set) records nothing,
    /// so that no series of a module that is gone comes back.
    modules: Arc<RwLock<HashSet<String>>>,
}

impl SelfMetrics {
    /// Creates and registers the metrics.
    pub fn new() -> Result<Self> {
        let scrape_errors = IntCounterVec::new(
            Opts::new(
                "wasm_exporter_scrape_errors_total",
                "Module scrapes (and probes) that failed, by module and reason.",
            ),
            &["module", "reason"],
        )?;
        let module_up = IntGaugeVec::new(
            Opts::new(
                "wasm_exporter_module_up",
                "Whether the module's last scrape succeeded (1) or failed (0).",
            ),
            &["module"],
        )?;
        let module_duration = GaugeVec::new(
            Opts::new(
                "wasm_exporter_module_duration_seconds",
                "Duration of the module's last scrape (instantiate and collect).",
            ),
            &["module"],
        )?;
        // The limits beside the figures they bound, so that a rule can
        // compare the two (how close a module runs to its deadline, its
        // memory cap, its descriptor cap).
        let module_deadline = GaugeVec::new(
            Opts::new(
                "wasm_exporter_module_deadline_seconds",
                "Time the module's last scrape was allowed: its timeout, or less when Prometheus' scrape timeout minus the margin was shorter.",
            ),
            &["module"],
        )?;
        let module_memory_limit = IntGaugeVec::new(
            Opts::new(
                "wasm_exporter_module_memory_limit_bytes",
                "The module's memory limit (limits.memory): all its linear memories together.",
            ),
            &["module"],
        )?;
        let module_open_files_limit = IntGaugeVec::new(
            Opts::new(
                "wasm_exporter_module_open_files_limit",
                "The module's cap on files and directories held open at once (limits.open_files).",
            ),
            &["module"],
        )?;
        let module_cpu = CounterVec::new(
            Opts::new(
                "wasm_exporter_module_cpu_seconds_total",
                "CPU time spent running the module's calls (guest code and the host calls made for it).",
            ),
            &["module"],
        )?;
        let module_memory_peak = IntGaugeVec::new(
            Opts::new(
                "wasm_exporter_module_memory_peak_bytes",
                "Most linear memory the module held at once during its last call that returned.",
            ),
            &["module"],
        )?;
        let module_open_files_peak = IntGaugeVec::new(
            Opts::new(
                "wasm_exporter_module_open_files_peak",
                "Most files and directories the module held open at once during its last call that returned.",
            ),
            &["module"],
        )?;
        let access_denied = IntCounterVec::new(
            Opts::new(
                "wasm_exporter_access_denied_total",
                "Accesses the sandbox refused, by module and kind (file: outside the grants or hidden; open_files: descriptor cap; egress: network destination outside the grants, UDP, listening, or a network cap).",
            ),
            &["module", "kind"],
        )?;
        let scrapes = IntCounter::new(
            "wasm_exporter_scrapes_total",
            "Scrapes of the telemetry path since the exporter started.",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "wasm_exporter_build_info",
                "A metric with a constant '1' value labeled by version, revision, rustc version and target from which wasm_exporter was built.",
            ),
            &["version", "revision", "rustc_version", "target"],
        )?;
        build_info
            .with_label_values(&[
                version::VERSION,
                version::REVISION,
                version::RUSTC_VERSION,
                version::TARGET,
            ])
            .set(1);

        let reload_ok = IntGauge::new(
            "wasm_exporter_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
        )?;
        let reload_time = Gauge::new(
            "wasm_exporter_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
        )?;

        let registry = Registry::new();
        registry.register(Box::new(scrape_errors.clone()))?;
        registry.register(Box::new(module_up.clone()))?;
        registry.register(Box::new(module_duration.clone()))?;
        registry.register(Box::new(module_deadline.clone()))?;
        registry.register(Box::new(module_cpu.clone()))?;
        registry.register(Box::new(module_memory_peak.clone()))?;
        registry.register(Box::new(module_memory_limit.clone()))?;
        registry.register(Box::new(module_open_files_peak.clone()))?;
        registry.register(Box::new(module_open_files_limit.clone()))?;
        registry.register(Box::new(access_denied.clone()))?;
        registry.register(Box::new(scrapes.clone()))?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(reload_ok.clone()))?;
        registry.register(Box::new(reload_time.clone()))?;
        registry
            .register(Box::new(
                crate::processmetrics::ProcessMetrics::new()
                    .context("describing the process metrics")?,
            ))
            .context("registering the process metrics")?;
        Ok(Self {
            registry,
            scrape_errors,
            module_up,
            module_duration,
            module_deadline,
            module_cpu,
            module_memory_peak,
            module_memory_limit,
            module_open_files_peak,
            module_open_files_limit,
            access_denied,
            scrapes,
            reload_ok,
            reload_time,
            modules: Arc::default(),
        })
    }

    /// Makes the per-module series match `modules` (names and limits): new
    /// modules get every error series at 0 (so `rate()` works from their
    /// first scrape), removed modules lose theirs, kept modules keep their
    /// counts; every module's limits are set.
    pub fn set_modules<'a>(&self, modules: impl IntoIterator<Item = (&'a str, &'a Limits)>) {
        let modules: Vec<(&str, &Limits)> = modules.into_iter().collect();
        let new: HashSet<String> = modules.iter().map(|(m, _)| (*m).to_owned()).collect();
        // Held while the series change, so no record of a removed module
        // slips in between the removal and the new set.
        let mut current = self.modules.write().unwrap_or_else(PoisonError::into_inner);
        for old in current.iter().filter(|m| !new.contains(*m)) {
            for reason in Reason::ALL {
                let _ = self
                    .scrape_errors
                    .remove_label_values(&[old.as_str(), reason.as_str()]);
            }
            for kind in DenialKind::ALL {
                let _ = self
                    .access_denied
                    .remove_label_values(&[old.as_str(), kind.as_str()]);
            }
            let _ = self.module_up.remove_label_values(&[old.as_str()]);
            for gauge in [&self.module_duration, &self.module_deadline] {
                let _ = gauge.remove_label_values(&[old.as_str()]);
            }
            let _ = self.module_cpu.remove_label_values(&[old.as_str()]);
            for gauge in [
                &self.module_memory_peak,
                &self.module_memory_limit,
                &self.module_open_files_peak,
                &self.module_open_files_limit,
            ] {
                let _ = gauge.remove_label_values(&[old.as_str()]);
            }
        }
        for module in &new {
            for reason in Reason::ALL {
                self.scrape_errors
                    .with_label_values(&[module.as_str(), reason.as_str()]);
            }
            for kind in DenialKind::ALL {
                self.access_denied
                    .with_label_values(&[module.as_str(), kind.as_str()]);
            }
            self.module_cpu.with_label_values(&[module.as_str()]);
        }
        for (module, limits) in modules {
            self.module_memory_limit
                .with_label_values(&[module])
                .set(i64::try_from(limits.memory.as_u64()).unwrap_or(i64::MAX));
            self.module_open_files_limit
                .with_label_values(&[module])
                .set(i64::try_from(limits.open_files).unwrap_or(i64::MAX));
        }
        *current = new;
    }

    /// Records the outcome of a (re)load of the configuration.
    pub fn reload_succeeded(&self, ok: bool) {
        self.reload_ok.set(i64::from(ok));
        if ok {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.reload_time.set(now);
        }
    }

    /// Records one scrape of the telemetry path.
    pub fn scrape_started(&self) {
        self.scrapes.inc();
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
        let Some(_served) = self.served(module) else {
            return;
        };
        self.module_duration
            .with_label_values(&[module])
            .set(duration.as_secs_f64());
        self.module_deadline
            .with_label_values(&[module])
            .set(allowed.as_secs_f64());
        self.module_up
            .with_label_values(&[module])
            .set(i64::from(failure.is_none()));
        if let Some(reason) = failure {
            self.scrape_errors
                .with_label_values(&[module, reason.as_str()])
                .inc();
        }
    }

    /// Counts a failed call outside `/metrics` (a probe): the error only,
    /// not the module's last status.
    pub fn record_failure(&self, module: &str, reason: Reason) {
        let Some(_served) = self.served(module) else {
            return;
        };
        self.scrape_errors
            .with_label_values(&[module, reason.as_str()])
            .inc();
    }

    /// Records what a module's call cost; nothing for a call that never
    /// ran or never came back.
    pub fn record_cost(&self, module: &str, cost: &CallCost) {
        if *cost == CallCost::default() {
            return;
        }
        let Some(_served) = self.served(module) else {
            return;
        };
        self.module_cpu
            .with_label_values(&[module])
            .inc_by(cost.cpu.as_secs_f64());
        self.module_memory_peak
            .with_label_values(&[module])
            .set(i64::try_from(cost.memory_peak).unwrap_or(i64::MAX));
        self.module_open_files_peak
            .with_label_values(&[module])
            .set(i64::try_from(cost.open_files_peak).unwrap_or(i64::MAX));
    }

    /// Counts the accesses a module's call was refused.
    pub fn record_denials(&self, module: &str, denials: &Denials) {
        let Some(_served) = self.served(module) else {
            return;
        };
        for kind in DenialKind::ALL {
            let n = denials.count(kind);
            if n > 0 {
                self.access_denied
                    .with_label_values(&[module, kind.as_str()])
                    .inc_by(n);
            }
        }
    }

    /// Whether `module` is in the config being served; the guard keeps it
    /// so (a reload waits) until the caller has recorded.
    fn served(&self, module: &str) -> Option<RwLockReadGuard<'_, HashSet<String>>> {
        let current = self.modules.read().unwrap_or_else(PoisonError::into_inner);
        current.contains(module).then_some(current)
    }

    /// The counters of one module, as served (read without creating
    /// series), for its debug page.
    pub fn module_totals(&self, module: &str) -> ModuleTotals {
        let mut totals = ModuleTotals::default();
        let of_module = |collector: &dyn Collector, label: &str| -> Vec<(String, f64)> {
            collector
                .collect()
                .iter()
                .flat_map(|f| f.get_metric())
                .filter(|m| label_value(m, "module") == Some(module))
                .map(|m| {
                    (
                        label_value(m, label).unwrap_or_default().to_owned(),
                        m.get_counter().value(),
                    )
                })
                .collect()
        };
        totals.errors = of_module(&self.scrape_errors, "reason");
        totals.denials = of_module(&self.access_denied, "kind");
        totals.cpu_seconds = of_module(&self.module_cpu, "module")
            .first()
            .map_or(0.0, |(_, v)| *v);
        totals
    }

    /// The registry holding all self-metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Names of the families the exporter itself emits; guests may not use
    /// them.
    pub fn family_names(&self) -> HashSet<String> {
        let mut names = HashSet::new();
        names.extend(
            self.registry
                .gather()
                .into_iter()
                .map(|f| f.name().to_owned()),
        );
        for c in [
            &self.scrape_errors as &dyn Collector,
            &self.module_up,
            &self.module_duration,
            &self.module_deadline,
            &self.module_cpu,
            &self.module_memory_peak,
            &self.module_memory_limit,
            &self.module_open_files_peak,
            &self.module_open_files_limit,
            &self.access_denied,
        ] {
            names.extend(c.desc().into_iter().map(|d| d.fq_name.clone()));
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The family of every series of the registry labelled with `module`.
    fn series_of(metrics: &SelfMetrics, module: &str) -> Vec<String> {
        let mut found = Vec::new();
        for family in metrics.registry().gather() {
            for metric in family.get_metric() {
                if label_value(metric, "module") == Some(module) {
                    found.push(family.name().to_owned());
                }
            }
        }
        found
    }

    #[test]
    fn a_call_that_ends_after_its_module_was_removed_records_nothing() {
        let metrics = SelfMetrics::new().expect("self-metrics");
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
        metrics.record_cost("gone", &cost);
        assert_eq!(series_of(&metrics, "gone"), Vec::<String>::new());

        // The kept module still records.
        metrics.record("kept", second, second, Some(Reason::Trap));
        metrics.record_cost("kept", &cost);
        assert!(series_of(&metrics, "kept").contains(&"wasm_exporter_module_up".to_owned()));
        assert_eq!(
            metrics
                .scrape_errors
                .with_label_values(&["kept", Reason::Trap.as_str()])
                .get(),
            1
        );
    }
}
