//! The exporter's own metrics: what happened to each module on the last
//! scrapes, build information and process figures.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, Result};
use prometheus::core::Collector;
use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::runtime::Reason;
use crate::version;

/// Self-metrics, registered once and shared by all scrapes.
#[derive(Clone)]
pub struct SelfMetrics {
    registry: Registry,
    scrape_errors: IntCounterVec,
    module_up: IntGaugeVec,
    module_duration: GaugeVec,
    scrapes: IntCounter,
}

impl SelfMetrics {
    /// Creates the metrics with every module's series present from the start
    /// (errors at 0), so `rate()` works from the first scrape.
    pub fn new<'a>(modules: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let scrape_errors = IntCounterVec::new(
            Opts::new(
                "wasm_exporter_scrape_errors_total",
                "Module scrapes that failed, by module and reason.",
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

        for module in modules {
            for reason in Reason::ALL {
                scrape_errors.with_label_values(&[module, reason.as_str()]);
            }
        }

        let registry = Registry::new();
        registry.register(Box::new(scrape_errors.clone()))?;
        registry.register(Box::new(module_up.clone()))?;
        registry.register(Box::new(module_duration.clone()))?;
        registry.register(Box::new(scrapes.clone()))?;
        registry.register(Box::new(build_info))?;
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .context("registering the process collector")?;
        Ok(Self {
            registry,
            scrape_errors,
            module_up,
            module_duration,
            scrapes,
        })
    }

    /// Records one scrape of the telemetry path.
    pub fn scrape_started(&self) {
        self.scrapes.inc();
    }

    /// Records the outcome of one module's scrape.
    pub fn record(&self, module: &str, duration: Duration, failure: Option<Reason>) {
        self.module_duration
            .with_label_values(&[module])
            .set(duration.as_secs_f64());
        self.module_up
            .with_label_values(&[module])
            .set(i64::from(failure.is_none()));
        if let Some(reason) = failure {
            self.scrape_errors
                .with_label_values(&[module, reason.as_str()])
                .inc();
        }
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
        ] {
            names.extend(c.desc().into_iter().map(|d| d.fq_name.clone()));
        }
        names
    }
}
