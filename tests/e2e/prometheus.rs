//! A real Prometheus server (Debian's `prometheus` package) scrapes the
//! exporter, in plain HTTP and over TLS with basic auth; the test asserts on
//! what Prometheus stored, through its HTTP API.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Exporter, Pki, fixture, free_port, guest, q, request, wait_until};

/// A Prometheus server on loopback, killed when dropped.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `scrape_configs` (YAML list items), scraping
    /// every second, and waits until it is ready.
    pub fn start(scrape_configs: &str) -> Prometheus {
        Self::start_with_rules(scrape_configs, &[])
    }

    /// Starts Prometheus with these rule files loaded (evaluated every
    /// second).
    pub fn start_with_rules(scrape_configs: &str, rule_files: &[&Path]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let rules: Vec<String> = rule_files.iter().map(|f| q(f)).collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\nscrape_configs:\n{scrape_configs}",
                rules.join(", ")
            ),
        )
        .unwrap();
        let check = Command::new("promtool")
            .args(["check", "config"])
            .arg(&config)
            .output()
            .expect("promtool (Debian package prometheus)");
        assert!(
            check.status.success(),
            "prometheus config rejected: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus (Debian package prometheus)");
        let p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        wait_until(Duration::from_secs(60), "ready Prometheus", || {
            crate::support::try_request("GET", &format!("{}/-/ready", p.base), &[], None)
                .is_ok_and(|a| a.status == 200)
        });
        p
    }

    /// Runs an instant query; returns (labels, value) per series.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64)> {
        let a = request(
            "GET",
            &format!(
                "{}/api/v1/query?query={}",
                self.base,
                percent_encode(promql)
            ),
            &[],
        );
        assert_eq!(a.status, 200, "{promql}: {}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["status"], "success", "{promql}: {}", a.body);
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let value = r["value"][1].as_str().unwrap().parse().unwrap();
                (r["metric"].clone(), value)
            })
            .collect()
    }

    /// The single value of `promql`, once Prometheus has one.
    pub fn value(&self, promql: &str) -> f64 {
        let mut last = Vec::new();
        wait_until(
            Duration::from_secs(30),
            &format!("Prometheus answer to {promql}"),
            || {
                last = self.query(promql);
                last.len() == 1
            },
        );
        last[0].1
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_and_stores_guest_metrics() {
    let exporter = Exporter::start(&format!(
        "modules:\n  - name: good\n    component: {}\n  - name: sysinfo\n    component: {}\n    grants: {{dirs: [{{host: {}, guest: /proc}}]}}\n  - name: crashy\n    component: {}\n",
        q(&guest("ok")),
        q(&guest("sysinfo")),
        q(&fixture("proc")),
        q(&guest("trap")),
    ));

    let pki = Pki::new();
    let web = pki.path("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  prometheus: '{}'\n",
            bcrypt::hash("s3cret", 4).unwrap()
        ),
    )
    .unwrap();
    let secure = Exporter::start_with_args(
        &format!(
            "modules:\n  - name: good\n    component: {}\n",
            q(&guest("ok"))
        ),
        &[&format!("--web.config.file={}", web.display())],
    );

    let prometheus = Prometheus::start(&format!(
        "  - job_name: wasm\n    static_configs: [{{targets: ['{plain}']}}]\n\
         \x20 - job_name: wasm_tls\n    scheme: https\n    tls_config: {{ca_file: {ca}}}\n    basic_auth: {{username: prometheus, password: s3cret}}\n    static_configs: [{{targets: ['{tls}']}}]\n",
        plain = exporter.addr,
        tls = secure.addr,
        ca = q(&pki.path("ca.pem")),
    ));

    assert_eq!(prometheus.value("up{job=\"wasm\"}"), 1.0);
    assert_eq!(prometheus.value("sys_mem_usage{job=\"wasm\"}"), 25.0);
    let disks = {
        prometheus.value("count(sys_disk_size{job=\"wasm\"})");
        prometheus.query("sys_disk_size{job=\"wasm\"}")
    };
    assert_eq!(disks.len(), 4);
    let sda = disks
        .iter()
        .find(|(labels, _)| labels["disk_name"] == "sda")
        .expect("sda stored with its disk_name label");
    assert_eq!(sda.1, 500107862016.0);
    assert_eq!(sda.0["instance"], exporter.addr.as_str());
    assert_eq!(prometheus.value("wat_ok{job=\"wasm\"}"), 42.0);
    assert_eq!(
        prometheus.value("wasm_exporter_module_up{job=\"wasm\",module=\"crashy\"}"),
        0.0
    );

    // The faulting guest's error counter keeps increasing.
    let errors =
        "wasm_exporter_scrape_errors_total{job=\"wasm\",module=\"crashy\",reason=\"trap\"}";
    let first = prometheus.value(errors);
    std::thread::sleep(Duration::from_secs(3));
    let later = prometheus.value(errors);
    assert!(later >= first + 2.0, "errors went from {first} to {later}");
    assert!(prometheus.value(&format!("rate({errors}[5s])")) > 0.0);

    // Over TLS with basic auth.
    assert_eq!(prometheus.value("up{job=\"wasm_tls\"}"), 1.0);
    assert_eq!(prometheus.value("wat_ok{job=\"wasm_tls\"}"), 42.0);

    // Both targets healthy, with no scrape error recorded by Prometheus.
    let targets = request("GET", &format!("{}/api/v1/targets", prometheus.base), &[]);
    let v: serde_json::Value = serde_json::from_str(&targets.body).unwrap();
    let active = v["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 2);
    for t in active {
        assert_eq!(t["health"], "up", "{t}");
        assert_eq!(t["lastError"], "", "{t}");
    }
}

/// Prometheus scrapes a guest's histograms, summaries, info and stateset
/// families (in OpenMetrics, as it asks for) and computes quantiles from
/// the buckets it stored; the metadata it keeps has the types and units.
#[test]
fn prometheus_computes_quantiles_from_guest_buckets() {
    let exporter = Exporter::start(&format!(
        "modules:\n  - name: shapes\n    component: {}\n    labels: {{site: lab}}\n",
        q(&guest("shapes")),
    ));
    let prometheus = Prometheus::start(&format!(
        "  - job_name: shapes\n    static_configs: [{{targets: ['{}']}}]\n",
        exporter.addr
    ));
    assert_eq!(prometheus.value("up{job=\"shapes\"}"), 1.0);

    // path="/a": 10 requests, 2 within 0.1 s, 6 within 0.5 s, 9 within 1 s.
    // The median is the 5th: 3/4 of the way from 0.1 to 0.5 s.
    let close = |got: f64, want: f64, q: &str| {
        assert!((got - want).abs() < 1e-9, "{q} = {got}, expected {want}");
    };
    for (query, want) in [
        (
            "histogram_quantile(0.5, shapes_request_seconds_bucket{path=\"/a\",site=\"lab\"})",
            0.4,
        ),
        (
            "histogram_quantile(0.9, shapes_request_seconds_bucket{path=\"/a\"})",
            1.0,
        ),
        // Both paths together: buckets 2, 7, 10, 13; the median is the 6.5th.
        (
            "histogram_quantile(0.5, sum by (le) (shapes_request_seconds_bucket))",
            0.46,
        ),
        // The gauge histogram's buckets are buckets too: 3 of 7 within 1 s.
        (
            "histogram_quantile(0.4, shapes_queue_age_seconds_bucket)",
            0.4 * 7.0 / 3.0,
        ),
    ] {
        close(prometheus.value(query), want, query);
    }
    for (query, want) in [
        ("shapes_request_seconds_count{path=\"/b\"}", 3.0),
        ("shapes_request_seconds_sum{path=\"/a\"}", 4.5),
        ("shapes_queue_age_seconds_gsum", 21.0),
        ("shapes_rpc_seconds{method=\"get\",quantile=\"0.99\"}", 0.75),
        ("shapes_rpc_seconds_count{method=\"get\"}", 120.0),
        ("shapes_build_info{version=\"1.2.3\",site=\"lab\"}", 1.0),
        ("shapes_mode{shapes_mode=\"fast\"}", 1.0),
        ("shapes_mode{shapes_mode=\"slow\"}", 0.0),
        ("shapes_sent_bytes_total", 1024.0),
    ] {
        close(prometheus.value(query), want, query);
    }

    // What Prometheus knows of each family, from the OpenMetrics metadata.
    let metadata = request("GET", &format!("{}/api/v1/metadata", prometheus.base), &[]);
    let v: serde_json::Value = serde_json::from_str(&metadata.body).unwrap();
    for (family, kind, unit) in [
        ("shapes_request_seconds", "histogram", "seconds"),
        ("shapes_queue_age_seconds", "gaugehistogram", "seconds"),
        ("shapes_rpc_seconds", "summary", "seconds"),
        ("shapes_build", "info", ""),
        ("shapes_mode", "stateset", ""),
        ("shapes_sent_bytes", "counter", "bytes"),
    ] {
        let m = &v["data"][family][0];
        assert_eq!(m["type"], kind, "{family}: {}", metadata.body);
        assert_eq!(m["unit"], unit, "{family}: {}", metadata.body);
    }
    let targets = request("GET", &format!("{}/api/v1/targets", prometheus.base), &[]);
    let v: serde_json::Value = serde_json::from_str(&targets.body).unwrap();
    let target = &v["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");
}
