//! Scrapers that talk to services: the redis (Python, TCP) and nginx
//! (JavaScript, HTTP) plugins against the real servers, compared with what
//! the servers report directly, served through `/probe` to a real
//! Prometheus; secret parameters; and the network boundary under attack.
//! Every attack runs next to a well-behaved module that must keep being
//! served, and every refusal must be counted and logged with its
//! destination.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::prometheus::Prometheus;
use crate::services::{Nginx, Redis};
use crate::support::{
    Exporter, Scrape, exporter_cli, guest, heavy, plugin, promtool_findings, q, request,
    run_to_exit,
};

// ------------------------------------------------------------- test servers

/// A loopback TCP server answering each connection with `handler` on a
/// thread of its own; stops accepting when dropped. Counts connections.
struct Server {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        Server::on("127.0.0.1", handler)
    }

    fn on(ip: &str, handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (count, stopped) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.set_nonblocking(false);
                        let handler = handler.clone();
                        std::thread::spawn(move || handler(stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            accepted,
            stop,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Accepts and says nothing (the connection is what counts).
fn silent(stream: TcpStream) {
    std::thread::sleep(Duration::from_millis(200));
    drop(stream);
}

/// Sends 100 MiB, then closes; stops at the first error (the reader gone).
fn hundred_mib(mut stream: TcpStream) {
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        if stream.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// Sends one byte a second, for at most 30 s.
fn trickle(mut stream: TcpStream) {
    for _ in 0..30 {
        if stream.write_all(b"x").is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Reads an HTTP request head; its `Host` header, if any.
fn request_host(stream: &mut TcpStream) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.trim().to_string())
    })
}

/// An HTTP server answering every request with `status`, `headers` and a
/// body of `body_len` bytes; records the Host header of each request.
fn http_server(
    status: &'static str,
    headers: String,
    body_len: usize,
) -> (Server, Arc<Mutex<Vec<String>>>) {
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let seen = hosts.clone();
    let server = Server::start(move |mut stream| {
        let host = request_host(&mut stream).unwrap_or_default();
        seen.lock().unwrap().push(host);
        let head = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {body_len}\r\nConnection: close\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'x'; 1 << 20];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(chunk.len());
            if stream.write_all(&chunk[..n]).is_err() {
                return;
            }
            left -= n;
        }
    });
    (server, hosts)
}

// ------------------------------------------------------------------ helpers

fn ok_module() -> String {
    format!("  - name: good\n    component: {}\n", q(&guest("ok")))
}

/// A config of the good module and `modules` (YAML list items).
fn with_good(modules: &str) -> String {
    format!("modules:\n{}{modules}", ok_module())
}

fn assert_good(s: &Scrape) {
    assert!(
        s.text.lines().any(|l| l == "wat_ok 42"),
        "the good module must be served:\n{}",
        s.text
    );
}

fn denied(s: &Scrape, module: &str) -> f64 {
    s.value(&format!(
        "wasm_exporter_access_denied_total{{kind=\"egress\",module=\"{module}\"}}"
    ))
    .unwrap_or_else(|| panic!("no egress denial series for {module}:\n{}", s.text))
}

/// The one series of family `name` (any labels): (series, value).
fn only(s: &Scrape, name: &str) -> (String, f64) {
    let found: Vec<(&String, &String)> = s
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) || *k == name)
        .collect();
    assert_eq!(found.len(), 1, "one {name} expected:\n{}", s.text);
    (found[0].0.clone(), found[0].1.parse().unwrap())
}

/// A label's value in a series text.
fn label(series: &str, name: &str) -> String {
    let start = series
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no label {name} in {series}"))
        + name.len()
        + 2;
    let rest = &series[start..];
    rest[..rest.find("\",").or_else(|| rest.find("\"}")).unwrap()].to_string()
}

/// Parses an exposition with promtool, tolerating the one lint the nginx
/// plugin is expected to draw: nginx-prometheus-exporter's counters without
/// `_total`.
fn parse_nginx(text: &str) -> Scrape {
    let (_, report) = promtool_findings(text);
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.starts_with("nginx_connections_accepted ")
                || line.starts_with("nginx_connections_handled "),
            "promtool: {line}\n--- exposition:\n{text}"
        );
    }
    Scrape::parse_unlinted(text)
}

// ------------------------------------------------------------------- redis

#[test]
fn redis_plugin_reports_what_redis_cli_info_says() {
    let redis = Redis::start(None);
    redis.cli(&["SET", "a", "1"]);
    redis.cli(&["SET", "b", "2"]);
    redis.cli(&["SET", "c", "3", "EX", "3600"]);
    redis.cli(&["-n", "3", "SET", "x", "y"]);
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&with_good(&format!(
            "  - name: redis\n    plugin: {}\n    params: {{target: '127.0.0.1:{port}'}}\n    grants: {{tcp: ['127.0.0.1:{port}']}}\n",
            q(&plugin("redis")),
            port = redis.port,
        )))
    };
    let before = redis.info();
    let s = exporter.scrape();
    let after = redis.info();
    assert_good(&s);
    assert_eq!(s.value("redis_up"), Some(1.0), "{}", s.text);
    assert_eq!(s.all_errors("redis"), 0.0);
    assert_eq!(denied(&s, "redis"), 0.0);
    let n = |k: &str, info: &BTreeMap<String, String>| -> f64 { info[k].parse().unwrap() };
    // Static values are equal.
    for (metric, key) in [
        ("redis_max_clients", "maxclients"),
        ("redis_memory_max_bytes", "maxmemory"),
        ("redis_connected_slaves", "connected_slaves"),
        ("redis_blocked_clients", "blocked_clients"),
        (
            "redis_rdb_last_save_timestamp_seconds",
            "rdb_last_save_time",
        ),
    ] {
        assert_eq!(s.value(metric), Some(n(key, &after)), "{metric}");
    }
    assert_eq!(
        s.value("redis_memory_max_bytes"),
        Some(64.0 * 1024.0 * 1024.0)
    );
    let (info, _) = only(&s, "redis_instance_info");
    assert_eq!(label(&info, "redis_version"), after["redis_version"]);
    assert_eq!(label(&info, "tcp_port"), redis.port.to_string());
    assert_eq!(label(&info, "role"), "master");
    assert_eq!(label(&info, "run_id"), after["run_id"]);
    // Keyspace: per db, as INFO says.
    assert!(
        after["db0"].starts_with("keys=3,expires=1,"),
        "{}",
        after["db0"]
    );
    assert_eq!(s.value("redis_db_keys{db=\"db0\"}"), Some(3.0));
    assert_eq!(s.value("redis_db_keys_expiring{db=\"db0\"}"), Some(1.0));
    assert_eq!(s.value("redis_db_keys{db=\"db3\"}"), Some(1.0));
    assert_eq!(s.value("redis_db_keys_expiring{db=\"db3\"}"), Some(0.0));
    // Counters lie between the two INFOs taken around the scrape.
    for (metric, key) in [
        ("redis_commands_processed_total", "total_commands_processed"),
        (
            "redis_connections_received_total",
            "total_connections_received",
        ),
        ("redis_net_input_bytes_total", "total_net_input_bytes"),
    ] {
        let v = s.value(metric).unwrap_or_else(|| panic!("no {metric}"));
        assert!(
            n(key, &before) <= v && v <= n(key, &after),
            "{metric} {v} not within [{}, {}]",
            before[key],
            after[key]
        );
    }
    let sets = |info: &BTreeMap<String, String>| -> f64 {
        info["cmdstat_set"]
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        s.value("redis_commands_total{cmd=\"set\"}"),
        Some(sets(&after))
    );
    // The plugin's own connection is the only client while it runs.
    assert_eq!(s.value("redis_connected_clients"), Some(1.0));
    let uptime = s.value("redis_uptime_in_seconds").unwrap();
    assert!(n("uptime_in_seconds", &before) <= uptime && uptime <= n("uptime_in_seconds", &after));
    // And again: one connection per scrape, closed after it.
    let again = exporter.scrape();
    assert_eq!(again.value("redis_up"), Some(1.0));
    assert_eq!(
        redis.info()["connected_clients"],
        "1",
        "the plugin's connections are closed"
    );
}

#[test]
fn redis_password_is_secret_everywhere() {
    const PASSWORD: &str = "wasm-exporter-redis-pw-61c2e8";
    let redis = Redis::start(Some(PASSWORD));
    redis.cli(&["SET", "k", "v"]);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("redis.pass");
    std::fs::write(&good, format!("{PASSWORD}\n")).unwrap();
    let wrong = dir.path().join("wrong.pass");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let exporter = {
        let _heavy = heavy();
        Exporter::start_with_args(
            &with_good(&format!(
                "  - name: redis\n    plugin: {p}\n    params: {{target: '127.0.0.1:{port}', password_file: {good}}}\n    grants: {{tcp: ['127.0.0.1:{port}']}}\n\
                 \x20 - name: redis_wrong\n    plugin: {p}\n    params: {{target: 'localhost:{port}', password_file: {wrong}}}\n    grants: {{tcp: ['localhost:{port}']}}\n",
                p = q(&plugin("redis")),
                port = redis.port,
                good = q(&good),
                wrong = q(&wrong),
            )),
            &["--log.level=debug"],
        )
    };
    let text = exporter.get("/metrics").body;
    // The two modules emit the same families; the second is refused for
    // that, which is fine here: what matters is that each ran.
    assert!(text.contains("redis_up 1"), "{text}");
    assert!(text.contains("redis_db_keys{db=\"db0\"} 1"), "{text}");
    exporter.wait_for_log(
        &["redis_wrong", "is down", "WRONGPASS"],
        Duration::from_secs(10),
    );
    let landing = exporter.get("/");
    assert_eq!(landing.status, 200);
    for (what, body) in [
        ("landing page", landing.body.as_str()),
        ("metrics", text.as_str()),
        ("log", &exporter.log().join("\n")),
    ] {
        assert!(
            !body.contains(PASSWORD),
            "the password shows in the {what}:\n{body}"
        );
    }

    // plugin check runs it with the secret from a file, and never prints it.
    let (code, out) = check_plugin(&[
        plugin("redis").display().to_string().as_str(),
        "--param",
        &format!("target=127.0.0.1:{}", redis.port),
        "--param",
        &format!("password_file={}", good.display()),
        "--tcp",
        &format!("127.0.0.1:{}", redis.port),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("redis_up 1") && out.contains("params: target=127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("password=<secret>"), "{out}");
    assert!(!out.contains(PASSWORD), "{out}");

    // Inline, the secret is refused, and the refusal does not repeat it.
    let cfg = dir.path().join("inline.yml");
    std::fs::write(
        &cfg,
        format!(
            "modules:\n  - name: redis\n    plugin: {}\n    params: {{target: '127.0.0.1:{port}', password: {PASSWORD}}}\n    grants: {{tcp: ['127.0.0.1:{port}']}}\n",
            q(&plugin("redis")),
            port = redis.port
        ),
    )
    .unwrap();
    let (code, stderr) = run_to_exit(&[
        "--web.listen-address=127.0.0.1:0",
        &format!("--config.file={}", cfg.display()),
    ]);
    assert_ne!(code, 0);
    // The log escapes the quotes around the parameter's name.
    assert!(
        stderr.contains("parameter \\\"password\\\" is secret: give it from a file"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

/// Runs `wasm_exporter plugin check` with `args`; (exit code, stdout and
/// stderr).
fn check_plugin(args: &[&str]) -> (i32, String) {
    let _heavy = heavy();
    exporter_cli(&[&["plugin", "check"], args].concat())
}

#[test]
fn plugin_check_runs_a_network_plugin_with_a_grant_on_the_command_line() {
    let redis = Redis::start(None);
    let target = format!("127.0.0.1:{}", redis.port);
    let path = plugin("redis").display().to_string();
    let (code, out) = check_plugin(&[
        &path,
        "--param",
        &format!("target={target}"),
        "--tcp",
        &target,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("grants: tcp {target}")), "{out}");
    assert!(
        out.contains("redis_up 1") && out.contains("result: OK"),
        "{out}"
    );
    // Without the grant: refused at load, with the flag to use.
    let (code, out) = check_plugin(&[&path, "--param", &format!("target={target}")]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("hint: grant TCP destinations with --tcp HOST:PORT"),
        "{out}"
    );
    // A target outside the grant: refused at load, nothing contacted.
    let (code, out) = check_plugin(&[&path, "--param", "target=127.0.0.1:1", "--tcp", &target]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("127.0.0.1:1 is not within the module's tcp grants"),
        "{out}"
    );
}

// ------------------------------------------------------------------- nginx

#[test]
fn nginx_plugin_reports_what_stub_status_says() {
    let nginx = Nginx::start();
    let url = nginx.stub_status_url();
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&with_good(&format!(
            "  - name: nginx\n    plugin: {}\n    params: {{target: '{url}'}}\n    grants: {{http: ['{url}']}}\n",
            q(&plugin("nginx")),
        )))
    };
    for _ in 0..2 {
        let before = nginx.stub_status();
        let a = exporter.get("/metrics");
        let after = nginx.stub_status();
        let s = parse_nginx(&a.body);
        assert_good(&s);
        assert_eq!(s.value("nginx_up"), Some(1.0), "{}", s.text);
        assert_eq!(s.all_errors("nginx"), 0.0);
        assert_eq!(denied(&s, "nginx"), 0.0);
        // The plugin's request lies between the two plain GETs.
        for (metric, lo, hi) in [
            ("nginx_http_requests_total", before.requests, after.requests),
            (
                "nginx_connections_accepted",
                before.accepted,
                after.accepted,
            ),
            ("nginx_connections_handled", before.handled, after.handled),
        ] {
            let v = s.value(metric).unwrap() as u64;
            assert!(lo < v && v < hi, "{metric} {v} not within ({lo}, {hi})");
        }
        assert_eq!(
            after.requests,
            before.requests + 2,
            "one request of the plugin"
        );
        // While it asked, its own connection was the one writing.
        let active = s.value("nginx_connections_active").unwrap();
        let parts: f64 = ["reading", "writing", "waiting"]
            .iter()
            .map(|k| s.value(&format!("nginx_connections_{k}")).unwrap())
            .sum();
        assert_eq!(active, parts, "{}", s.text);
        assert!(s.value("nginx_connections_writing").unwrap() >= 1.0);
        assert_eq!(
            s.value("nginx_connections_reading"),
            Some(before.reading as f64)
        );
    }
}

// ------------------------------------------------------------------- /probe

#[test]
fn probe_serves_many_targets_from_one_module_within_its_grant() {
    let (r1, r2) = (Redis::start(None), Redis::start(None));
    r1.cli(&["SET", "only", "one"]);
    for k in ["a", "b"] {
        r2.cli(&["SET", k, "v"]);
    }
    let nginx = Nginx::start();
    let outside = Server::start(silent);
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&with_good(&format!(
            "  - name: redis\n    plugin: {}\n    grants: {{tcp: ['127.0.0.1:{}', '127.0.0.1:{}']}}\n\
             \x20 - name: nginx\n    plugin: {}\n    grants: {{http: ['http://127.0.0.1:{}/stub_status']}}\n",
            q(&plugin("redis")),
            r1.port,
            r2.port,
            q(&plugin("nginx")),
            nginx.port,
        )))
    };
    // /metrics runs neither: they have no target of their own.
    let s = exporter.scrape();
    assert_good(&s);
    assert!(
        !s.has_family("redis_up") && !s.has_family("nginx_up"),
        "{}",
        s.text
    );
    assert!(
        exporter
            .get("/")
            .body
            .contains("served through /probe only")
    );

    let probe = |module: &str, target: &str| {
        exporter.get(&format!(
            "/probe?module={module}&target={}",
            target.replace(':', "%3A").replace('/', "%2F")
        ))
    };
    for (redis, keys) in [(&r1, 1.0), (&r2, 2.0)] {
        let a = probe("redis", &format!("127.0.0.1:{}", redis.port));
        assert_eq!(a.status, 200, "{}", a.body);
        let s = Scrape::parse(&a.body);
        assert_eq!(s.value("redis_up"), Some(1.0));
        assert_eq!(s.value("redis_db_keys{db=\"db0\"}"), Some(keys));
        assert_eq!(s.value("wasm_exporter_probe_success"), Some(1.0));
        let (_, took) = only(&s, "wasm_exporter_probe_duration_seconds");
        assert!(took > 0.0 && took < 10.0);
        // A probe's output is the module's and the probe's, nothing else.
        assert!(!s.has_family("wat_ok") && !s.has_family("wasm_exporter_scrapes_total"));
    }
    let a = probe("nginx", &nginx.stub_status_url());
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(parse_nginx(&a.body).value("nginx_up"), Some(1.0));

    // Outside the grant: 400, the reason, and nothing contacted.
    for (module, target, why) in [
        (
            "redis",
            format!("127.0.0.1:{}", outside.port),
            "is not within the module's tcp grants",
        ),
        (
            "redis",
            "10.1.2.3:6379".to_string(),
            "is not within the module's tcp grants",
        ),
        (
            "redis",
            "localhost:6379".to_string(),
            "is not within the module's tcp grants",
        ),
        ("redis", "no-port".to_string(), "is not HOST:PORT"),
        (
            "nginx",
            format!("http://127.0.0.1:{}/", outside.port),
            "is not within the module's http grants",
        ),
        (
            "nginx",
            format!("http://127.0.0.1:{}/other", nginx.port),
            "is not within the module's http grants",
        ),
        (
            "nginx",
            format!("http://127.0.0.1:{}/stub_status/../x", nginx.port),
            "is not within the module's http grants",
        ),
        (
            "good",
            "127.0.0.1:1".to_string(),
            "takes no target parameter",
        ),
        ("nope", "127.0.0.1:1".to_string(), "unknown module"),
    ] {
        let a = probe(module, &target);
        assert_eq!(a.status, 400, "{module} {target}: {}", a.body);
        assert!(a.body.contains(why), "{module} {target}: {}", a.body);
    }
    let a = exporter.get("/probe?module=redis");
    assert_eq!(a.status, 400);
    assert!(a.body.contains("both are required"), "{}", a.body);
    assert_eq!(
        outside.accepted(),
        0,
        "a refused probe contacted its target"
    );
    let s = exporter.scrape();
    assert_eq!(denied(&s, "redis"), 0.0);
    assert_eq!(s.all_errors("redis"), 0.0);
}

#[test]
fn prometheus_scrapes_redis_and_nginx_through_probe() {
    let redis = Redis::start(None);
    redis.cli(&["SET", "k", "v"]);
    let nginx = Nginx::start();
    let outside = Server::start(silent);
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&format!(
            "modules:\n  - name: redis\n    plugin: {}\n    grants: {{tcp: ['127.0.0.1:*']}}\n\
             \x20 - name: nginx\n    plugin: {}\n    grants: {{http: ['http://127.0.0.1:{}/stub_status']}}\n",
            q(&plugin("redis")),
            q(&plugin("nginx")),
            nginx.port,
        ))
    };
    // The relabeling of the README: the target becomes a parameter, the
    // exporter the address, the target the instance.
    let relabel = |module: &str| {
        format!(
            "    metrics_path: /probe\n    params: {{module: [{module}]}}\n    relabel_configs:\n\
             \x20     - {{source_labels: [__address__], target_label: __param_target}}\n\
             \x20     - {{source_labels: [__param_target], target_label: instance}}\n\
             \x20     - {{target_label: __address__, replacement: '{}'}}\n",
            exporter.addr
        )
    };
    let prometheus = Prometheus::start(&format!(
        "  - job_name: redis\n    static_configs: [{{targets: ['127.0.0.1:{}']}}]\n{}\
         \x20 - job_name: nginx\n    static_configs: [{{targets: ['{}', 'http://127.0.0.1:{}/']}}]\n{}",
        redis.port,
        relabel("redis"),
        nginx.stub_status_url(),
        outside.port,
        relabel("nginx"),
    ));
    let instance = format!("127.0.0.1:{}", redis.port);
    assert_eq!(
        prometheus.value(&format!("redis_up{{instance=\"{instance}\"}}")),
        1.0
    );
    assert_eq!(
        prometheus.value(&format!(
            "redis_db_keys{{instance=\"{instance}\",db=\"db0\"}}"
        )),
        1.0
    );
    let nginx_instance = nginx.stub_status_url();
    assert_eq!(
        prometheus.value(&format!("nginx_up{{instance=\"{nginx_instance}\"}}")),
        1.0
    );
    assert!(
        prometheus.value(&format!(
            "nginx_http_requests_total{{instance=\"{nginx_instance}\"}}"
        )) >= 1.0
    );
    assert_eq!(
        prometheus.value(&format!(
            "wasm_exporter_probe_success{{job=\"redis\",instance=\"{instance}\"}}"
        )),
        1.0
    );
    // The target outside the grant: Prometheus sees the 400, nothing is
    // contacted.
    let outside_instance = format!("http://127.0.0.1:{}/", outside.port);
    assert_eq!(
        prometheus.value(&format!("up{{instance=\"{outside_instance}\"}}")),
        0.0
    );
    let targets = request("GET", &format!("{}/api/v1/targets", prometheus.base), &[]);
    let v: serde_json::Value = serde_json::from_str(&targets.body).unwrap();
    let t = v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["labels"]["instance"] == outside_instance.as_str())
        .expect("the outside target is listed")
        .clone();
    assert!(t["lastError"].as_str().unwrap().contains("400"), "{t}");
    assert_eq!(outside.accepted(), 0);
}

// ------------------------------------------------------------------ attacks

fn netprobe(name: &str, params: &str, grants: &str, limits: &str) -> String {
    format!(
        "  - name: {name}\n    component: {}\n    params: {params}\n    grants: {grants}\n    limits: {limits}\n",
        q(&guest("netprobe"))
    )
}

fn httpprobe(name: &str, params: &str, grants: &str, limits: &str) -> String {
    format!(
        "  - name: {name}\n    component: {}\n    params: {params}\n    grants: {grants}\n    limits: {limits}\n",
        q(&guest("httpprobe"))
    )
}

#[test]
fn network_attacks_are_refused_or_cut_counted_and_logged() {
    let granted = Server::start(silent); // the one destination granted
    let other_port = Server::start(silent); // the same host, another port
    let other_ip = Server::on("127.0.0.2", silent); // another address
    let big = Server::start(hundred_mib);
    let slow = Server::start(trickle);
    let (http_big, _) = http_server("200 OK", String::new(), 100 << 20);
    let (elsewhere, elsewhere_hosts) = http_server("200 OK", String::new(), 2);
    let (redirect, _) = http_server(
        "302 Found",
        format!("Location: http://127.0.0.1:{}/secret\r\n", elsewhere.port),
        0,
    );
    let (echo, echo_hosts) = http_server("200 OK", String::new(), 2);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let free = crate::support::free_port();

    let g = granted.port;
    let grant = format!("{{tcp: ['127.0.0.1:{g}']}}");
    let none = "{}";
    let mut modules = vec![ok_module()];
    modules.extend([
        netprobe(
            "ungranted_port",
            &format!("{{host: 127.0.0.1, port: {}}}", other_port.port),
            &grant,
            none,
        ),
        netprobe(
            "ip_literal",
            &format!("{{host: 127.0.0.2, port: {}}}", other_ip.port),
            &format!("{{tcp: ['127.0.0.1:{}']}}", other_ip.port),
            none,
        ),
        netprobe(
            "name_outside",
            &format!("{{host: localhost, port: {g}}}"),
            &format!("{{tcp: [{{address: 'localhost:{g}', resolves_to: [10.0.0.0/8]}}]}}"),
            none,
        ),
        netprobe(
            "name_ungranted",
            &format!("{{host: localhost, port: {}}}", other_port.port),
            &grant,
            none,
        ),
        netprobe(
            "name_granted",
            &format!("{{host: localhost, port: {g}}}"),
            &format!("{{tcp: ['localhost:{g}']}}"),
            none,
        ),
        netprobe(
            "trickle",
            &format!("{{host: 127.0.0.1, port: {}, mode: read}}", slow.port),
            &format!("{{tcp: ['127.0.0.1:{}']}}", slow.port),
            "{timeout: 1s}",
        ),
        netprobe(
            "big_tcp",
            &format!("{{host: 127.0.0.1, port: {}, mode: read}}", big.port),
            &format!("{{tcp: ['127.0.0.1:{}']}}", big.port),
            "{received_bytes: 1MiB}",
        ),
        netprobe(
            "connect_loop",
            &format!("{{host: 127.0.0.1, port: {g}, mode: connects, count: 10000}}"),
            &grant,
            "{timeout: 20s}",
        ),
        netprobe(
            "udp",
            &format!("{{host: 127.0.0.1, port: {udp_port}, mode: udp}}"),
            &grant,
            none,
        ),
        netprobe(
            "listen",
            &format!("{{host: 127.0.0.1, port: {free}, mode: listen}}"),
            &grant,
            none,
        ),
        netprobe(
            "fails",
            &format!(
                "{{host: 127.0.0.1, port: {}, fail: 'true'}}",
                other_port.port
            ),
            &grant,
            none,
        ),
        httpprobe(
            "big_http",
            &format!("{{url: 'http://127.0.0.1:{}/'}}", http_big.port),
            &format!("{{http: ['http://127.0.0.1:{}/']}}", http_big.port),
            "{received_bytes: 1MiB}",
        ),
        httpprobe(
            "redirect_host",
            &format!("{{url: 'http://127.0.0.1:{}/start'}}", redirect.port),
            &format!("{{http: ['http://127.0.0.1:{}/start']}}", redirect.port),
            none,
        ),
        httpprobe(
            "redirect_guest",
            &format!(
                "{{url: 'http://127.0.0.1:{}/start', follow: 1}}",
                redirect.port
            ),
            &format!("{{http: ['http://127.0.0.1:{}/start']}}", redirect.port),
            none,
        ),
        httpprobe(
            "host_header",
            &format!(
                "{{url: 'http://127.0.0.1:{}/x', host: evil.example}}",
                echo.port
            ),
            &format!("{{http: ['http://127.0.0.1:{}/x']}}", echo.port),
            none,
        ),
        httpprobe(
            "http_ungranted",
            &format!("{{url: 'http://127.0.0.1:{}/secret'}}", elsewhere.port),
            none,
            none,
        ),
    ]);
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&format!(
            "global: {{concurrency: 8}}\nmodules:\n{}",
            modules.concat()
        ))
    };
    const SCRAPES: usize = 2;
    let mut last = None;
    for _ in 0..SCRAPES {
        let start = Instant::now();
        let s = exporter.scrape();
        // The good module is served, on time, whatever the others do.
        assert_good(&s);
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "{:?}",
            start.elapsed()
        );
        last = Some(s);
    }
    let s = last.unwrap();
    let n = SCRAPES as f64;
    let log = exporter.log().join("\n");

    // Refused before any packet: an ungranted port, an address outside the
    // grant, a name leading outside it, a name not granted, UDP, listening.
    let q_port = other_port.port;
    for (module, family, target, stage, refused) in [
        (
            "ungranted_port",
            "netprobe_connected",
            format!("127.0.0.1:{q_port}"),
            "connect",
            format!("127.0.0.1:{q_port}"),
        ),
        (
            "ip_literal",
            "netprobe_connected",
            format!("127.0.0.2:{}", other_ip.port),
            "connect",
            format!("127.0.0.2:{}", other_ip.port),
        ),
        (
            "name_outside",
            "netprobe_connected",
            format!("localhost:{g}"),
            "lookup",
            "localhost -> 127.0.0.1".to_string(),
        ),
        (
            "name_ungranted",
            "netprobe_connected",
            format!("localhost:{q_port}"),
            "lookup",
            "localhost".to_string(),
        ),
        (
            "udp",
            "netprobe_udp_sent",
            format!("127.0.0.1:{udp_port}"),
            "socket",
            "a UDP socket".to_string(),
        ),
        (
            "listen",
            "netprobe_listening",
            format!("127.0.0.1:{free}"),
            "bind",
            format!("bind 127.0.0.1:{free}"),
        ),
    ] {
        let (error, value) = by_label(&s, family, "target", &target, |e| !e.is_empty());
        assert_eq!(value, 0.0, "{module}: {error}");
        assert!(
            error.starts_with(&format!("{stage}: ")),
            "{module}: {error}"
        );
        assert!(denied(&s, module) >= n, "{module} not counted:\n{}", s.text);
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("access denied: {refused}"))
                    && l.contains(&format!("module={module}"))),
            "{module}: no warn naming {refused}:\n{log}"
        );
        assert_eq!(
            s.all_errors(module),
            0.0,
            "{module} reported its refusal as data"
        );
    }
    assert_eq!(other_port.accepted(), 0, "an ungranted port was reached");
    assert_eq!(
        other_ip.accepted(),
        0,
        "an address outside the grant was reached"
    );
    let mut datagram = [0u8; 64];
    assert!(udp.recv(&mut datagram).is_err(), "a UDP datagram arrived");
    assert!(
        TcpStream::connect(("127.0.0.1", free)).is_err(),
        "a guest listens on {free}"
    );
    // The same name, granted, reaches the destination.
    let (error, value) = by_label(
        &s,
        "netprobe_connected",
        "target",
        &format!("localhost:{g}"),
        str::is_empty,
    );
    assert_eq!(value, 1.0, "{error}");

    // A guest that fails after a refusal: egress_denied.
    assert_eq!(s.errors("fails", "egress_denied"), n, "{}", s.text);
    assert!(log.contains("reason=egress_denied"), "{log}");

    // The deadline cuts a server that trickles.
    assert_eq!(s.errors("trickle", "timeout"), n);

    // 100 MiB: cut at received_bytes, over TCP and over HTTP.
    let (error, received) = by_label(
        &s,
        "netprobe_received_bytes",
        "target",
        &format!("127.0.0.1:{}", big.port),
        |_| true,
    );
    assert_eq!(received, (1 << 20) as f64, "{error}");
    assert!(error.starts_with("recv: "), "{error}");
    assert!(
        log.contains(&format!(
            "access denied: 127.0.0.1:{}: the call received 1048576 bytes",
            big.port
        )),
        "{log}"
    );
    let (error, body) = by_label(
        &s,
        "httpprobe_body_bytes",
        "url",
        &format!("http://127.0.0.1:{}/", http_big.port),
        |_| true,
    );
    assert!(body <= (1 << 20) as f64 && body > 0.0, "{body} {error}");
    assert!(error.starts_with("body: "), "{error}");
    assert!(denied(&s, "big_http") >= n && denied(&s, "big_tcp") >= n);

    // 10,000 connects: limits.connections (16) per call, the rest refused.
    let (error, connected) = by_label(
        &s,
        "netprobe_connections",
        "target",
        &format!("127.0.0.1:{g}"),
        |_| true,
    );
    assert_eq!(connected, 16.0, "{error}");
    assert_eq!(
        s.value(&format!("netprobe_attempts{{target=\"127.0.0.1:{g}\"}}")),
        Some(10000.0)
    );
    assert_eq!(denied(&s, "connect_loop"), 9984.0 * n);
    assert!(
        log.contains("the call has opened 16 connections, its limits.connections"),
        "{log}"
    );
    assert!(
        log.contains("more times in this call (not logged one by one)"),
        "{log}"
    );
    // The granted listener saw the loop's 16 per scrape, and the granted
    // name's one.
    assert_eq!(granted.accepted(), (16 + 1) * SCRAPES);

    // Redirects: the host does not follow them; a guest that does sends a
    // new request, checked like the first.
    let start = format!("http://127.0.0.1:{}/start", redirect.port);
    let (error, status) = by_label(&s, "httpprobe_status", "url", &start, str::is_empty);
    assert_eq!(status, 302.0, "{error}");
    let (error, status) = by_label(&s, "httpprobe_status", "url", &start, |e| !e.is_empty());
    assert_eq!(status, 0.0, "{error}");
    let secret = format!("http://127.0.0.1:{}/secret", elsewhere.port);
    for module in ["redirect_guest", "http_ungranted"] {
        assert!(
            log.lines().any(|l| l
                .contains(&format!("access denied: {secret}: no http grant covers it"))
                && l.contains(&format!("module={module}"))),
            "{module}: {log}"
        );
        assert!(denied(&s, module) >= n);
    }
    assert!(
        elsewhere_hosts.lock().unwrap().is_empty(),
        "an ungranted URL was fetched"
    );

    // The Host header is the checked authority, whatever the guest asks.
    let hosts = echo_hosts.lock().unwrap().clone();
    assert_eq!(hosts.len(), SCRAPES, "{hosts:?}");
    assert!(
        hosts
            .iter()
            .all(|h| *h == format!("127.0.0.1:{}", echo.port)),
        "{hosts:?}"
    );
}

/// A guest stuck reading from a peer that accepts and then neither answers
/// nor closes costs its own deadline only: each scrape answers within the
/// deadline and a little, the good module is served, and the module is run
/// again on the next scrape (its call ended; nothing was left stuck).
#[test]
fn a_guest_stuck_on_a_silent_peer_costs_only_its_deadline() {
    let mute = Server::start(|stream| {
        std::thread::sleep(Duration::from_secs(60));
        drop(stream);
    });
    let p = mute.port;
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&with_good(&netprobe(
            "mute",
            &format!("{{host: 127.0.0.1, port: {p}, mode: read}}"),
            &format!("{{tcp: ['127.0.0.1:{p}']}}"),
            "{timeout: 1s}",
        )))
    };
    const SCRAPES: usize = 3;
    let mut last = None;
    for _ in 0..SCRAPES {
        let start = Instant::now();
        let s = exporter.scrape();
        let took = start.elapsed();
        assert_good(&s);
        // 1 s of deadline; the rest is slack for a machine busy with builds.
        assert!(
            took < Duration::from_millis(2500),
            "the scrape took {took:?}"
        );
        assert!(
            took >= Duration::from_millis(900),
            "the guest was not waiting: {took:?}"
        );
        last = Some(s);
    }
    let s = last.unwrap();
    assert_eq!(s.errors("mute", "timeout"), SCRAPES as f64, "{}", s.text);
    assert_eq!(mute.accepted(), SCRAPES, "each scrape connects again");
    let log = exporter.log().join("\n");
    assert!(!log.contains("still blocked in a host call"), "{log}");
}

/// (error label, value) of the one sample of `family` whose `label` is
/// `value` and whose error label passes `error`.
fn by_label(
    s: &Scrape,
    family: &str,
    label_name: &str,
    value: &str,
    error: impl Fn(&str) -> bool,
) -> (String, f64) {
    let prefix = format!("{family}{{{label_name}=\"{value}\",error=\"");
    let found: Vec<(String, f64)> = s
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (label(k, "error"), v.parse().unwrap()))
        .filter(|(e, _)| error(e))
        .collect();
    assert_eq!(found.len(), 1, "one {prefix}... expected:\n{}", s.text);
    found[0].clone()
}
