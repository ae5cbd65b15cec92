//! The metric model of world 0.2.0 end to end: every kind served in both
//! formats from a real guest (`shapes`, C), each broken rule refused with
//! its reason next to a module that keeps being served, the series cap
//! counting buckets, operator labels, and 0.1.0 and 0.2.0 components side
//! by side.

use std::time::Duration;

use crate::support::{
    Exporter, assert_has_lines, assert_start_refused, fixture, guest, plugin, proc_files, q,
};

/// `s` as the log (logfmt) quotes it inside a field.
fn logged(s: &str) -> String {
    s.replace('"', "\\\"")
}

fn shapes_module(name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    component: {}\n{extra}",
        q(&guest("shapes"))
    )
}

#[test]
fn every_kind_is_served_in_both_formats() {
    let exporter = Exporter::start(&format!("modules:\n{}", shapes_module("shapes", "")));
    // The text format (checked by promtool in `scrape`): gauge histograms as
    // histograms, info and stateset families as gauges, no units.
    let s = exporter.scrape();
    assert_eq!(s.all_errors("shapes"), 0.0, "{}", s.text);
    assert_has_lines(
        &s.text,
        &[
            "# HELP shapes_request_seconds Request latency by path.",
            "# TYPE shapes_request_seconds histogram",
            "shapes_request_seconds_bucket{path=\"/a\",le=\"0.1\"} 2",
            "shapes_request_seconds_bucket{path=\"/a\",le=\"0.5\"} 6",
            "shapes_request_seconds_bucket{path=\"/a\",le=\"1\"} 9",
            "shapes_request_seconds_bucket{path=\"/a\",le=\"+Inf\"} 10",
            "shapes_request_seconds_sum{path=\"/a\"} 4.5",
            "shapes_request_seconds_count{path=\"/a\"} 10",
            "shapes_request_seconds_bucket{path=\"/b\",le=\"+Inf\"} 3",
            "# TYPE shapes_queue_age_seconds histogram",
            "shapes_queue_age_seconds_bucket{le=\"10\"} 5",
            "shapes_queue_age_seconds_count 7",
            "# TYPE shapes_rpc_seconds summary",
            "shapes_rpc_seconds{method=\"get\",quantile=\"0.99\"} 0.75",
            "shapes_rpc_seconds{method=\"put\",quantile=\"0.5\"} NaN",
            "shapes_rpc_seconds_sum{method=\"get\"} 9.5",
            "shapes_rpc_seconds_count{method=\"get\"} 120",
            "# TYPE shapes_build_info gauge",
            "shapes_build_info{version=\"1.2.3\"} 1",
            "# TYPE shapes_mode gauge",
            "shapes_mode{shapes_mode=\"fast\"} 1",
            "shapes_mode{shapes_mode=\"slow\"} 0",
            "shapes_temperature_celsius -3.5",
            "shapes_sent_bytes_total 1024",
        ],
    );
    assert!(!s.text.contains("# UNIT"), "{}", s.text);

    // OpenMetrics: every type, units, canonical bounds and quantiles, no
    // _created.
    let om = exporter.get_with(
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    );
    assert_eq!(om.status, 200);
    assert_has_lines(
        &om.body,
        &[
            "# TYPE shapes_request_seconds histogram",
            "# UNIT shapes_request_seconds seconds",
            "shapes_request_seconds_bucket{path=\"/a\",le=\"1.0\"} 9",
            "shapes_request_seconds_count{path=\"/a\"} 10",
            "shapes_request_seconds_sum{path=\"/a\"} 4.5",
            "# TYPE shapes_queue_age_seconds gaugehistogram",
            "shapes_queue_age_seconds_bucket{le=\"10.0\"} 5",
            "shapes_queue_age_seconds_gcount 7",
            "shapes_queue_age_seconds_gsum 21",
            "# TYPE shapes_rpc_seconds summary",
            "shapes_rpc_seconds{method=\"get\",quantile=\"0.5\"} 0.05",
            "# HELP shapes_build Version of the shapes guest.",
            "# TYPE shapes_build info",
            "shapes_build_info{version=\"1.2.3\"} 1",
            "# TYPE shapes_mode stateset",
            "# TYPE shapes_temperature_celsius gauge",
            "# UNIT shapes_temperature_celsius celsius",
            "# TYPE shapes_sent_bytes counter",
            "# UNIT shapes_sent_bytes bytes",
            "shapes_sent_bytes_total 1024",
            "# EOF",
        ],
    );
    assert!(!om.body.contains("_created"), "{}", om.body);
}

#[test]
fn each_broken_rule_is_refused_with_its_reason() {
    // (fault, reason, what the log says)
    let cases = [
        (
            "unsorted",
            "invalid_output",
            "buckets are not sorted by upper bound (le=\"0.05\" after le=\"0.1\")",
        ),
        (
            "not_cumulative",
            "invalid_output",
            "buckets are not cumulative: le=\"0.5\" counts 1, fewer than le=\"0.1\" with 2",
        ),
        (
            "no_inf",
            "invalid_output",
            "has no +Inf bucket (the last bucket is le=\"1\")",
        ),
        (
            "inf_count",
            "invalid_output",
            "the +Inf bucket counts 10 but the count is 11",
        ),
        (
            "nan_sum",
            "invalid_output",
            "histogram shapes_request_seconds{path=\"/a\"}: has a NaN sum",
        ),
        (
            "negative_sum",
            "invalid_output",
            "has a negative sum -1 but no negative bucket bound",
        ),
        (
            "quantile_range",
            "invalid_output",
            "has the quantile 1.5; quantiles are between 0 and 1",
        ),
        (
            "negative_value",
            "invalid_output",
            "quantile 0.5 has the negative value -0.05",
        ),
        (
            "le_label",
            "invalid_output",
            "histogram \"shapes_request_seconds\" has the label \"le\"",
        ),
        (
            "quantile_label",
            "invalid_output",
            "summary \"shapes_rpc_seconds\" has the label \"quantile\"",
        ),
        (
            "info_value",
            "invalid_output",
            "has the value 2; an info sample's value is 1",
        ),
        (
            "info_name",
            "invalid_output",
            "info \"shapes_build\" must be named with the suffix _info",
        ),
        (
            "stateset_label",
            "invalid_output",
            "stateset \"shapes_mode\" has no label named \"shapes_mode\"",
        ),
        (
            "stateset_value",
            "invalid_output",
            "has the value 0.5; a state's value is 1 (it holds) or 0",
        ),
        (
            "unit_suffix",
            "invalid_output",
            "OpenMetrics requires the name to end in _kelvin",
        ),
        (
            "clash",
            "invalid_output",
            "\"shapes_request_seconds_count\" and \"shapes_request_seconds\" clash",
        ),
        (
            "wrong_value",
            "invalid_output",
            "holds a number value; histogram samples hold a histogram",
        ),
    ];
    let mut config = String::from("modules:\n");
    // The modules that are served emit the same families: an operator
    // label keeps their series apart.
    config.push_str(&shapes_module("good", "    labels: {shape: good}\n"));
    for (fault, _, _) in &cases {
        config.push_str(&format!(
            "  - name: {fault}\n    component: {}\n    params: {{fault: {fault}}}\n",
            q(&guest("shapes"))
        ));
    }
    // Every bucket counts as a series: the answer holds 32 samples, and
    // shapes_wide adds its buckets (one per bound, and +Inf), _sum and
    // _count: 9 with 6 bounds, 4 with one.
    config.push_str(&shapes_module(
        "wide",
        "    params: {buckets: 6}\n    limits: {max_series: 40}\n    labels: {shape: wide}\n",
    ));
    config.push_str(&shapes_module(
        "narrow",
        "    params: {buckets: 1}\n    limits: {max_series: 40}\n    labels: {shape: narrow}\n",
    ));
    let exporter = Exporter::start(&config);
    let s = exporter.scrape();
    for (fault, reason, message) in cases {
        assert_eq!(s.errors(fault, reason), 1.0, "{fault}:\n{}", s.text);
        assert_eq!(s.all_errors(fault), 1.0, "{fault}:\n{}", s.text);
        exporter.wait_for_log(
            &[&format!("module={fault}"), &logged(message)],
            Duration::from_secs(5),
        );
    }
    assert_eq!(s.errors("wide", "output_limit"), 1.0, "{}", s.text);
    exporter.wait_for_log(
        &[
            "module=wide",
            "41 series returned (each bucket and quantile counts",
        ],
        Duration::from_secs(5),
    );
    // The good modules are served, once each (the faulty ones add nothing).
    assert_eq!(s.all_errors("good"), 0.0);
    assert_eq!(s.all_errors("narrow"), 0.0, "{}", s.text);
    let counts: Vec<&String> = s
        .samples
        .keys()
        .filter(|k| k.starts_with("shapes_request_seconds_count{"))
        .collect();
    assert_eq!(
        counts,
        [
            "shapes_request_seconds_count{path=\"/a\",shape=\"good\"}",
            "shapes_request_seconds_count{path=\"/a\",shape=\"narrow\"}",
            "shapes_request_seconds_count{path=\"/b\",shape=\"good\"}",
            "shapes_request_seconds_count{path=\"/b\",shape=\"narrow\"}",
        ],
        "{}",
        s.text
    );
    assert_eq!(
        s.value("shapes_wide_count{shape=\"narrow\"}"),
        Some(1.0),
        "{}",
        s.text
    );
}

#[test]
fn operator_labels_tell_instances_apart_and_clash_loudly() {
    let exporter = Exporter::start(&format!(
        "modules:\n{}{}{}",
        shapes_module("east", "    labels: {site: east, rack: \"7\"}\n"),
        shapes_module("west", "    labels: {site: west, rack: \"7\"}\n"),
        shapes_module("clash", "    labels: {method: mine}\n"),
    ));
    let s = exporter.scrape();
    assert_has_lines(
        &s.text,
        &[
            "shapes_request_seconds_bucket{path=\"/a\",site=\"east\",rack=\"7\",le=\"0.5\"} 6",
            "shapes_request_seconds_bucket{path=\"/a\",site=\"west\",rack=\"7\",le=\"0.5\"} 6",
            "shapes_mode{shapes_mode=\"fast\",site=\"west\",rack=\"7\"} 1",
            "shapes_temperature_celsius{site=\"east\",rack=\"7\"} -3.5",
        ],
    );
    // The guest's own label `method` (of shapes_rpc_seconds) is taken.
    assert_eq!(s.errors("clash", "invalid_output"), 1.0, "{}", s.text);
    exporter.wait_for_log(
        &[
            "module=clash",
            &logged(
                "the operator label \"method\" (config `labels:`) clashes with the label \"method\" the module emits in \"shapes_rpc_seconds\"",
            ),
        ],
        Duration::from_secs(5),
    );
    let page = exporter.get("/");
    assert!(
        page.body.contains(
            "labels added to every series: <code>site=&quot;east&quot;, rack=&quot;7&quot;</code>"
        ),
        "{}",
        page.body
    );

    // Refused at load: a reserved name, and a label the plugin declares.
    let dir = tempfile::tempdir().unwrap();
    assert_start_refused(
        dir.path(),
        &format!("modules:\n{}", shapes_module("a", "    labels: {le: x}\n")),
        &[&logged("module \"a\": labels: \"le\": \"le\" is reserved")],
    );
    assert_start_refused(
        dir.path(),
        &format!(
            "modules:\n  - name: net\n    plugin: {}\n    grants: {}\n    labels: {{device: eth0}}\n",
            q(&plugin("netdev")),
            proc_files(&fixture("proc"), &["net/dev"])
        ),
        &[&logged(
            "module \"net\": labels: the operator label \"device\" clashes with the label \"device\" that plugin netdev declares for netdev_receive_bytes_total",
        )],
    );
}

#[test]
fn worlds_0_1_and_0_2_are_served_side_by_side() {
    // sysinfo is built from wit/0.1.0, shapes and netdev from wit/0.2.0.
    let exporter = Exporter::start(&format!(
        "modules:\n  - name: old\n    plugin: {}\n    grants: {}\n  - name: ok\n    component: {}\n{}  - name: net\n    plugin: {}\n    grants: {}\n",
        q(&plugin("sysinfo")),
        proc_files(&fixture("proc"), &["meminfo", "partitions"]),
        q(&guest("ok")),
        shapes_module("new", ""),
        q(&plugin("netdev")),
        proc_files(&fixture("proc"), &["net/dev"]),
    ));
    let s = exporter.scrape();
    for m in ["old", "ok", "new", "net"] {
        assert_eq!(s.all_errors(m), 0.0, "{m}:\n{}", s.text);
    }
    assert_eq!(s.value("sys_mem_usage"), Some(25.0));
    assert_eq!(s.value("wat_ok"), Some(42.0));
    assert_eq!(s.value("shapes_sent_bytes_total"), Some(1024.0));
    let om = exporter.get_with("/metrics", &[("Accept", "application/openmetrics-text")]);
    assert_has_lines(
        &om.body,
        &[
            "# TYPE netdev_receive_bytes counter",
            "# UNIT netdev_receive_bytes bytes",
        ],
    );
    let page = exporter.get("/");
    for world in [
        "interface: wasm-exporter:scraper/scraper@0.1.0",
        "interface: wasm-exporter:scraper/scraper@0.2.0",
    ] {
        assert!(page.body.contains(world), "{}", page.body);
    }
    let version = std::process::Command::new(env!("CARGO_BIN_EXE_wasm_exporter"))
        .arg("--version")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&version.stdout);
    assert!(
        out.contains("guest interfaces: wasm-exporter:scraper/scraper@0.1.0, wasm-exporter:scraper/scraper@0.2.0"),
        "{out}"
    );
}

#[test]
fn a_manifest_naming_another_world_than_the_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sysinfo");
    std::fs::create_dir(&copy).unwrap();
    for f in ["plugin.yaml", "logo.png", "README.md", "sysinfo.wasm"] {
        std::fs::copy(plugin("sysinfo").join(f), copy.join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(copy.join("plugin.yaml")).unwrap();
    std::fs::write(
        copy.join("plugin.yaml"),
        manifest.replace("scraper@0.1.0", "scraper@0.2.0"),
    )
    .unwrap();
    assert_start_refused(
        dir.path(),
        &format!(
            "modules:\n  - name: s\n    plugin: sysinfo\n    grants: {}\n",
            proc_files(&fixture("proc"), &["meminfo", "partitions"])
        ),
        &[
            "plugin sysinfo: its manifest says world wasm-exporter:scraper/scraper@0.2.0 but the component implements wasm-exporter:scraper/scraper@0.1.0",
        ],
    );
}
