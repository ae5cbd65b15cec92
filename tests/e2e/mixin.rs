//! The monitoring mixin of `deploy/mixin`: promtool's checks and unit tests
//! of the rules, a test for every alert, and the rules, the alerts and the
//! dashboard's queries run by a real Prometheus on a real exporter's
//! metrics (so a misspelt metric name cannot hide behind synthetic series).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_yaml_ng::Value;

use crate::prometheus::Prometheus;
use crate::support::{Exporter, fixture, guest, plugin, proc_files, q, request, root, wait_until};

fn mixin(file: &str) -> PathBuf {
    root().join("deploy/mixin").join(file)
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(mixin(file)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Runs promtool and returns its output; fails the test if promtool does.
fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(mixin(""))
        .output()
        .expect("running promtool (install Debian's `prometheus` package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// Every rule of the rule files: (alert or record, name, the rule).
fn rules() -> Vec<(&'static str, String, Value)> {
    let mut all = Vec::new();
    for file in ["rules.yaml", "alerts.yaml"] {
        for group in yaml(file)["groups"].as_sequence().unwrap() {
            for rule in group["rules"].as_sequence().unwrap() {
                let (kind, name) = match (rule["alert"].as_str(), rule["record"].as_str()) {
                    (Some(a), None) => ("alert", a),
                    (None, Some(r)) => ("record", r),
                    _ => panic!("{file}: a rule is an alert or a record: {rule:?}"),
                };
                all.push((kind, name.to_string(), rule.clone()));
            }
        }
    }
    all
}

#[test]
fn rules_pass_promtool_check_and_unit_tests() {
    let checked = promtool(&["check", "rules", "rules.yaml", "alerts.yaml"]);
    assert_eq!(checked.matches("SUCCESS").count(), 2, "{checked}");
    let tested = promtool(&["test", "rules", "tests.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn every_alert_is_tested_firing_and_silent() {
    let mut fired: BTreeSet<String> = BTreeSet::new();
    let mut silent: BTreeSet<String> = BTreeSet::new();
    for test in yaml("tests.yaml")["tests"].as_sequence().unwrap() {
        for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap().to_string();
            match case["exp_alerts"].as_sequence() {
                Some(alerts) if !alerts.is_empty() => {
                    for alert in alerts {
                        assert!(
                            alert["exp_annotations"]["summary"].is_string()
                                && alert["exp_annotations"]["description"].is_string(),
                            "{name}: the tests check the rendered annotations"
                        );
                    }
                    fired.insert(name)
                }
                _ => silent.insert(name),
            };
        }
    }
    let alerts: Vec<(String, Value)> = rules()
        .into_iter()
        .filter(|(kind, _, _)| *kind == "alert")
        .map(|(_, name, rule)| (name, rule))
        .collect();
    assert!(alerts.len() >= 10, "{} alerts", alerts.len());
    for (name, rule) in &alerts {
        assert!(fired.contains(name), "no test makes {name} fire");
        assert!(
            silent.contains(name),
            "no test checks that {name} stays silent"
        );
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("warning" | "critical")),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            assert!(
                rule["annotations"][key].is_string(),
                "{name} has no {key} annotation"
            );
        }
    }
    for name in fired.union(&silent) {
        assert!(
            alerts.iter().any(|(a, _)| a == name),
            "tests.yaml tests {name}, which alerts.yaml does not define"
        );
    }
}

/// The dashboard's panels, without the rows.
fn dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(mixin("dashboard.json")).unwrap();
    serde_json::from_str(&text).expect("dashboard.json is JSON")
}

/// Every query of the dashboard, with its template variables set to
/// `job` and everything else to all values, as Grafana sends them.
fn dashboard_queries(job: &str) -> Vec<(String, String)> {
    let d = dashboard();
    let mut queries = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let expr = expr
                .replace("$job", job)
                .replace("$instance", ".*")
                .replace("$module", ".*");
            assert!(
                !expr.contains('$'),
                "{}: unknown variable in {expr}",
                panel["title"]
            );
            queries.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    queries
}

#[test]
fn dashboard_is_well_formed() {
    let d = dashboard();
    assert_eq!(d["uid"], "wasm-exporter");
    let variables: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "job", "instance", "module"]);
    let mut ids = BTreeSet::new();
    let mut cells: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let panels = d["panels"].as_array().unwrap();
    for panel in panels {
        let title = panel["title"].as_str().unwrap().to_string();
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "id of {title} twice"
        );
        let g = &panel["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24 && w > 0 && h > 0, "{title}: {g}");
        // No two panels on the same grid cell.
        for cx in x..x + w {
            for cy in y..y + h {
                if let Some(other) = cells.insert((cx, cy), title.clone()) {
                    panic!("{title} overlaps {other}");
                }
            }
        }
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        assert!(
            panel["description"].as_str().is_some_and(|s| !s.is_empty()),
            "{title} has no description"
        );
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
    }
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for wanted in [
        "Modules up",
        "Module up",
        "Scrape errors by reason",
        "Scrape duration",
        "CPU per module",
        "Memory peak per module",
        "Accesses refused by kind",
    ] {
        assert!(titles.contains(&wanted), "no panel {wanted:?}: {titles:?}");
    }
    assert!(dashboard_queries("wasm_exporter").len() >= 15);
}

/// An alert of Prometheus' `/api/v1/alerts` with these labels, in `state`.
fn has_alert(alerts: &serde_json::Value, name: &str, labels: &[(&str, &str)], state: &str) -> bool {
    alerts["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| {
            a["labels"]["alertname"] == name
                && a["state"] == state
                && labels.iter().all(|(k, v)| a["labels"][*k] == *v)
        })
}

#[test]
fn rules_and_dashboard_work_on_real_metrics() {
    let adversary = q(&guest("adversary"));
    let exporter = Exporter::start(&format!(
        "modules:\n\
         \x20 - name: sysinfo\n    plugin: {}\n    grants: {}\n\
         \x20 - name: crashy\n    component: {}\n\
         \x20 - name: snoop\n    component: {adversary}\n    params: {{mode: read_file, path: /proc/partitions}}\n    grants: {only_meminfo}\n\
         \x20 - name: bomb\n    component: {}\n",
        q(&plugin("sysinfo")),
        proc_files(&fixture("proc"), &["meminfo", "partitions"]),
        q(&guest("trap")),
        q(&guest("membomb")),
        only_meminfo = proc_files(&fixture("proc"), &["meminfo"]),
    ));
    let job = "wasm_exporter";
    let prometheus = Prometheus::start_with_rules(
        &format!(
            "  - job_name: {job}\n    static_configs: [{{targets: ['{}']}}]\n",
            exporter.addr
        ),
        &[&mixin("rules.yaml"), &mixin("alerts.yaml")],
    );
    let api = |path: &str| -> serde_json::Value {
        let a = request("GET", &format!("{}{path}", prometheus.base), &[]);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        serde_json::from_str(&a.body).unwrap()
    };

    // Every rule loaded and evaluated without an error.
    let mut last = serde_json::Value::Null;
    wait_until(Duration::from_secs(60), "every rule evaluated", || {
        last = api("/api/v1/rules");
        let rules: Vec<&serde_json::Value> = last["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        rules.len() == self::rules().len()
            && rules
                .iter()
                .all(|r| r["health"] == "ok" && r["lastError"].as_str().unwrap_or("").is_empty())
    });

    // Each recording rule and each of the dashboard's queries finds
    // series: their metric names and labels are the exporter's.
    let recorded: Vec<(String, String)> = rules()
        .into_iter()
        .filter(|(kind, _, _)| *kind == "record")
        .map(|(_, name, _)| (format!("recording rule {name}"), name))
        .collect();
    for (what, promql) in recorded.into_iter().chain(dashboard_queries(job)) {
        wait_until(
            Duration::from_secs(60),
            &format!("series for {what}: {promql}"),
            || !prometheus.query(&promql).is_empty(),
        );
    }
    let modules = prometheus.query(&format!(
        "instance:wasm_exporter_modules:count{{job=\"{job}\"}}"
    ));
    assert_eq!(modules[0].1, 4.0);

    // The dashboard's variables: Grafana asks for label values.
    let jobs = api("/api/v1/label/job/values?match[]=wasm_exporter_build_info");
    assert_eq!(jobs["data"], serde_json::json!([job]));

    // The alerts without a `for` fire at once; the others are pending on
    // the modules that earn them, and nothing concerns the healthy module.
    let mut alerts = serde_json::Value::Null;
    wait_until(Duration::from_secs(60), "the expected alerts", || {
        alerts = api("/api/v1/alerts");
        has_alert(
            &alerts,
            "WasmExporterModuleAccessDenied",
            &[("module", "snoop"), ("kind", "file"), ("job", job)],
            "firing",
        ) && has_alert(
            &alerts,
            "WasmExporterModuleMemoryLimitReached",
            &[("module", "bomb")],
            "firing",
        ) && has_alert(
            &alerts,
            "WasmExporterModuleFailing",
            &[("module", "crashy"), ("reason", "trap")],
            "pending",
        ) && has_alert(
            &alerts,
            "WasmExporterModuleFailing",
            &[("module", "bomb"), ("reason", "memory")],
            "pending",
        )
    });
    let about_sysinfo: Vec<&serde_json::Value> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["module"] == "sysinfo")
        .collect();
    assert!(about_sysinfo.is_empty(), "{about_sysinfo:?}");
    let failing_reasons: BTreeSet<&str> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "WasmExporterModuleFailing")
        .filter_map(|a| a["labels"]["reason"].as_str())
        .collect();
    assert_eq!(
        failing_reasons,
        BTreeSet::from(["memory", "trap"]),
        "one alert per reason seen, none for reasons at zero"
    );
}
