//! Generated guest output through the real exporter: the `generated` guest
//! draws its output from a seed (a fresh one on every call, written to the
//! log), with every shape the WIT world allows, within and beyond the caps.
//! Eight instances run on every scrape, so each scrape tries eight seeds.
//!
//! Every scrape answers 200 with an exposition the external parsers
//! accept; every module either is up or has exactly one more failure
//! counted under a reason; a seed whose output is clean is always served;
//! the exporter never goes down. The normal run tries a few hundred seeds;
//! the ignored `long_` test (not run by `cargo xtask test`) thousands.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::support::{Exporter, external_parse, guest, promtool_batch, q};

const MODULES: usize = 8;

/// The caps the guest knows (and goes beyond).
const LIMITS: &str = "{timeout: 2s, max_series: 300, max_families: 16, max_name_length: 64, max_label_value_length: 200, max_help_length: 256, max_output_bytes: 64KiB}";

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in the exposition"))
        .parse()
        .unwrap()
}

/// The failure counters of `module`, by reason.
fn errors(text: &str, module: &str) -> BTreeMap<String, f64> {
    let prefix = format!("wasm_exporter_scrape_errors_total{{module=\"{module}\",reason=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let (reason, value) = rest.split_once("\"} ").expect("a counter line");
            (reason.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn run_seeds(scrapes: usize) {
    let guest = q(&guest("generated"));
    let mut config = String::from("global: {concurrency: 4}\nmodules:\n");
    for m in 0..MODULES {
        config.push_str(&format!(
            "  - name: g{m}\n    component: {guest}\n    limits: {LIMITS}\n"
        ));
    }
    let exporter = Exporter::start(&config);
    let start = Instant::now();
    let mut last: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); MODULES];
    let mut up_history: Vec<Vec<bool>> = vec![Vec::new(); MODULES];
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut served = 0;
    let mut openmetrics = Vec::new();
    for i in 0..scrapes {
        let om = i % 2 == 1;
        let headers: &[(&str, &str)] = if om { &[("Accept", OPENMETRICS)] } else { &[] };
        let a = exporter.get_with("/metrics", headers);
        assert_eq!(a.status, 200, "scrape {i}: {}", a.body);
        for m in 0..MODULES {
            let module = format!("g{m}");
            let up = value(
                &a.body,
                &format!("wasm_exporter_module_up{{module=\"{module}\"}}"),
            );
            let now = errors(&a.body, &module);
            let mut grew = Vec::new();
            for (reason, count) in &now {
                let before = last[m].get(reason).copied().unwrap_or(0.0);
                assert!(*count >= before, "{module}/{reason} went down");
                if *count > before {
                    grew.push((reason.clone(), count - before));
                }
            }
            if up == 1.0 {
                assert!(
                    grew.is_empty(),
                    "scrape {i}: {module} is up but {grew:?} grew"
                );
                served += 1;
            } else {
                assert_eq!(
                    grew.len(),
                    1,
                    "scrape {i}: {module} is down: exactly one failure must be counted, got {grew:?}"
                );
                assert_eq!(grew[0].1, 1.0);
                *reasons.entry(grew[0].0.clone()).or_default() += 1;
            }
            up_history[m].push(up == 1.0);
            last[m] = now;
        }
        if om {
            openmetrics.push(a.body);
        } else if let Err((_, message)) = promtool_batch(std::slice::from_ref(&a.body)) {
            panic!(
                "scrape {i}: promtool refused the exposition: {message}\n{}",
                a.body
            );
        }
    }
    let parsed = external_parse(
        &openmetrics
            .iter()
            .map(|b| (wasm_exporter::exposition::Format::OpenMetrics, b.clone()))
            .collect::<Vec<_>>(),
    );
    for (body, result) in openmetrics.iter().zip(parsed) {
        if let Err(e) = result {
            panic!("the OpenMetrics parser refused a scrape: {e}\n{body}");
        }
    }

    // Each call logged its seed first; a clean seed was always served.
    let log = exporter.log();
    let mut clean_refused = Vec::new();
    for (m, ups) in up_history.iter().enumerate() {
        let needle = format!("module=g{m} ");
        let seeds: Vec<&String> = log
            .iter()
            .filter(|l| l.contains("guest: seed=") && l.contains(&needle))
            .collect();
        assert_eq!(seeds.len(), ups.len(), "one seed line per call of g{m}");
        for (line, up) in seeds.iter().zip(ups) {
            if line.contains("clean=1") && !up {
                clean_refused.push((*line).clone());
            }
        }
    }
    assert!(
        clean_refused.is_empty(),
        "clean output was refused (reproduce with the seed as parameter):\n{}",
        clean_refused.join("\n")
    );
    assert!(
        exporter.get("/-/healthy").status == 200,
        "the exporter still answers"
    );
    let seeds = scrapes * MODULES;
    let failed: usize = reasons.values().sum();
    println!(
        "generated output: {seeds} seeds in {:.1}s, {served} served, {failed} refused: {reasons:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        served >= seeds / 5,
        "too few seeds served: {served} of {seeds}"
    );
    assert!(
        reasons.len() >= 3,
        "the generator should hit several reasons: {reasons:?}"
    );
}

#[test]
fn generated_output_of_hundreds_of_seeds() {
    run_seeds(40);
}

#[test]
#[ignore = "thousands of seeds, minutes: run it by name"]
fn long_generated_output_of_thousands_of_seeds() {
    run_seeds(
        std::env::var("GENERATED_SCRAPES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(625),
    );
}
