//! Guests written in Python (componentize-py) and JavaScript
//! (ComponentizeJS): real collectors on fixture data with exact lines, the
//! same collectors against this machine's /proc compared with a native read,
//! a network probe that the sandbox must stop. (The textfile plugin, in
//! Python too, is compared with node_exporter in `textfile.rs`.) (The templates authors start from are tested through
//! `wasm_exporter plugin new`, in `plugins.rs`.)
//!
//! These components embed an interpreter (12-19 MB each) that takes a debug
//! build of the exporter 10-20 s to compile. The tests share an on-disk
//! compile cache, so each component is compiled once rather than once per
//! test; each test's exporter loads a single such module; and the starts
//! take turns (see [`heavy`]), so that a cold start stays well within the
//! harness's wait for the exporter to listen.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::support::{Exporter, Scrape, assert_healthy, fixture, guest, heavy, q, root};

/// A module entry of a config for a guest of `target/guests`; `grant` is
/// (host dir, guest dir).
fn module(name: &str, component: &str, params: &str, grant: Option<(&Path, &str)>) -> String {
    module_at(name, &guest(component), params, grant)
}

/// A module entry of a config for the component at `component`.
fn module_at(name: &str, component: &Path, params: &str, grant: Option<(&Path, &str)>) -> String {
    let mut m = format!("  - name: {name}\n    component: {}\n", q(component));
    if !params.is_empty() {
        m.push_str(&format!("    params: {params}\n"));
    }
    if let Some((host, guest_dir)) = grant {
        m.push_str(&format!(
            "    grants:\n      dirs:\n        - host: {}\n          guest: {guest_dir}\n",
            q(host)
        ));
    }
    m
}

fn start(modules: &[String]) -> Exporter {
    let _heavy = heavy();
    let cache = root().join("target/e2e-compile-cache");
    Exporter::start_with_args(
        &format!("modules:\n{}", modules.concat()),
        &[&format!("--cache.dir={}", cache.display())],
    )
}

/// The lines (HELP, TYPE and samples) of the families whose name passes
/// `keep`, in the order served.
fn lines_where(s: &Scrape, keep: impl Fn(&str) -> bool) -> Vec<&str> {
    s.text
        .lines()
        .filter(|l| {
            let rest = l
                .strip_prefix("# HELP ")
                .or_else(|| l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            keep(rest.split(['{', ' ']).next().unwrap_or_default())
        })
        .collect()
}

/// The lines of the families whose name starts with `prefix`.
fn family_lines<'a>(s: &'a Scrape, prefix: &str) -> Vec<&'a str> {
    lines_where(s, |name| name.starts_with(prefix))
}

fn assert_guest_error(exporter: &Exporter, s: &Scrape, module: &str, times: f64, log: &[&str]) {
    assert_eq!(s.errors(module, "guest_error"), times, "{}", s.text);
    assert_eq!(s.all_errors(module), times, "{}", s.text);
    assert_eq!(
        s.value(&format!("wasm_exporter_module_up{{module=\"{module}\"}}")),
        Some(0.0)
    );
    let mut needles = vec![module, "guest returned an error"];
    needles.extend_from_slice(log);
    exporter.wait_for_log(&needles, Duration::from_secs(5));
}

// ---------------------------------------------------------------- cpustat

#[test]
fn python_cpustat_exact_lines_from_fixture() {
    let exporter = start(&[module(
        "cpustat",
        "cpustat",
        "",
        Some((&fixture("proc"), "/proc")),
    )]);
    let s = exporter.scrape();
    // tests/fixtures/proc/stat in USER_HZ (1/100 s). The aggregate "cpu"
    // line and the guest/guest_nice columns (30 ticks on cpu0) are not served.
    let expected = [
        "# HELP cpustat_boot_time_seconds Boot time, in seconds since the Unix epoch.",
        "# TYPE cpustat_boot_time_seconds gauge",
        "cpustat_boot_time_seconds 1700000000",
        "# HELP cpustat_context_switches_total Context switches since boot.",
        "# TYPE cpustat_context_switches_total counter",
        "cpustat_context_switches_total 2283921",
        "# HELP cpustat_cpu_seconds_total Seconds each CPU spent in each mode.",
        "# TYPE cpustat_cpu_seconds_total counter",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 81.25",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 2.6",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"irq\"} 0",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"nice\"} 1",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"softirq\"} 0.12",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"steal\"} 0",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"system\"} 5.6",
        "cpustat_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 23.55",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 81.25",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"iowait\"} 2.6",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"irq\"} 0",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"nice\"} 0.5",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"softirq\"} 0.13",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0.07",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"system\"} 5.6",
        "cpustat_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 23.5",
        "# HELP cpustat_forks_total Processes and threads created since boot.",
        "# TYPE cpustat_forks_total counter",
        "cpustat_forks_total 12345",
        "# HELP cpustat_procs_blocked Processes blocked waiting for I/O.",
        "# TYPE cpustat_procs_blocked gauge",
        "cpustat_procs_blocked 1",
        "# HELP cpustat_procs_running Processes in runnable state.",
        "# TYPE cpustat_procs_running gauge",
        "cpustat_procs_running 3",
    ];
    assert_eq!(family_lines(&s, "cpustat_"), expected, "{}", s.text);
    assert_healthy(&s, "cpustat");
}

#[test]
fn python_cpustat_without_grant_reads_nothing() {
    // Python's open() goes through WASI: with no directory granted there is
    // no /proc/stat, and the error names the file.
    let exporter = start(&[module("cpustat", "cpustat", "", None)]);
    let s = exporter.scrape();
    assert_guest_error(
        &exporter,
        &s,
        "cpustat",
        1.0,
        &["reading /proc/stat: No such file or directory"],
    );
    assert!(!s.has_family("cpustat_cpu_seconds_total"), "{}", s.text);
}

/// /proc/stat as (cpu, mode) -> ticks, and the single-value lines.
fn native_stat() -> (BTreeMap<(String, String), f64>, BTreeMap<String, f64>) {
    const MODES: [&str; 8] = [
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
    ];
    let text = std::fs::read_to_string("/proc/stat").unwrap();
    let mut cpus = BTreeMap::new();
    let mut scalars = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some((key, values)) = fields.split_first() else {
            continue;
        };
        if let Some(n) = key.strip_prefix("cpu").filter(|n| !n.is_empty()) {
            for (mode, v) in MODES.iter().zip(values) {
                cpus.insert((n.to_string(), mode.to_string()), v.parse().unwrap());
            }
        } else if values.len() == 1 {
            scalars.insert(key.to_string(), values[0].parse().unwrap());
        }
    }
    (cpus, scalars)
}

#[test]
fn python_cpustat_matches_the_real_proc() {
    let exporter = start(&[module(
        "cpustat",
        "cpustat",
        "",
        Some((Path::new("/proc"), "/proc")),
    )]);
    // Counters only grow, so what the guest read lies between a native read
    // just before and one just after the scrape.
    let (cpus_before, before) = native_stat();
    let s = exporter.scrape();
    let (cpus_after, after) = native_stat();
    assert_healthy(&s, "cpustat");

    let served: Vec<&String> = s
        .samples
        .keys()
        .filter(|k| k.starts_with("cpustat_cpu_seconds_total{"))
        .collect();
    assert_eq!(
        served.len(),
        cpus_before.len(),
        "one series per cpuN and mode"
    );
    for ((cpu, mode), ticks) in &cpus_before {
        let series = format!("cpustat_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}}");
        let value = s
            .value(&series)
            .unwrap_or_else(|| panic!("{series} missing"));
        let high = cpus_after[&(cpu.clone(), mode.clone())] / 100.0;
        assert!(
            ticks / 100.0 <= value && value <= high,
            "{series} = {value}, native {} .. {high}",
            ticks / 100.0
        );
    }
    for (key, metric) in [
        ("ctxt", "cpustat_context_switches_total"),
        ("processes", "cpustat_forks_total"),
        ("btime", "cpustat_boot_time_seconds"),
    ] {
        let value = s
            .value(metric)
            .unwrap_or_else(|| panic!("{metric} missing"));
        assert!(
            before[key] <= value && value <= after[key],
            "{metric} = {value}, native {} .. {}",
            before[key],
            after[key]
        );
    }
    // Gauges that move all the time: the guest reading the file is itself
    // running, and neither count can exceed the threads in the system
    // (allowing for the test suite's own coming and going).
    let threads: f64 = native_loadavg()[3]
        .split('/')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let running = s.value("cpustat_procs_running").unwrap();
    let blocked = s.value("cpustat_procs_blocked").unwrap();
    assert!(
        running >= 1.0 && running <= threads * 1.2 + 20.0,
        "cpustat_procs_running {running}, {threads} threads"
    );
    assert!(
        blocked >= 0.0 && blocked <= threads * 1.2 + 20.0,
        "cpustat_procs_blocked {blocked}, {threads} threads"
    );
}

// ---------------------------------------------------------------- loadavg

#[test]
fn js_loadavg_exact_lines_from_fixture() {
    let exporter = start(&[module(
        "loadavg",
        "loadavg",
        "",
        Some((&fixture("proc"), "/proc")),
    )]);
    let s = exporter.scrape();
    // tests/fixtures/proc/loadavg: "0.52 1.25 2.00 3/412 98765".
    let expected = [
        "# HELP loadavg_load1 1-minute load average.",
        "# TYPE loadavg_load1 gauge",
        "loadavg_load1 0.52",
        "# HELP loadavg_load15 15-minute load average.",
        "# TYPE loadavg_load15 gauge",
        "loadavg_load15 2",
        "# HELP loadavg_load5 5-minute load average.",
        "# TYPE loadavg_load5 gauge",
        "loadavg_load5 1.25",
        "# HELP loadavg_processes Threads (kernel scheduling entities) in the system.",
        "# TYPE loadavg_processes gauge",
        "loadavg_processes 412",
        "# HELP loadavg_processes_running Runnable threads (kernel scheduling entities).",
        "# TYPE loadavg_processes_running gauge",
        "loadavg_processes_running 3",
    ];
    assert_eq!(family_lines(&s, "loadavg_"), expected, "{}", s.text);
    assert_healthy(&s, "loadavg");
}

#[test]
fn js_loadavg_reads_only_granted_dirs() {
    // /proc is granted, but proc_dir points outside it: the guest cannot
    // reach the host's /host/proc, and the error names the file.
    let exporter = start(&[module(
        "loadavg",
        "loadavg",
        "{proc_dir: /host/proc}",
        Some((&fixture("proc"), "/proc")),
    )]);
    for scrape_no in 1..=2 {
        let s = exporter.scrape();
        assert_guest_error(
            &exporter,
            &s,
            "loadavg",
            scrape_no as f64,
            &["reading /host/proc/loadavg: no granted directory holds it"],
        );
        assert!(!s.has_family("loadavg_load1"), "{}", s.text);
    }
}

/// /proc/loadavg's fields.
fn native_loadavg() -> Vec<String> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn js_loadavg_matches_the_real_proc() {
    let exporter = start(&[module(
        "loadavg",
        "loadavg",
        "",
        Some((Path::new("/proc"), "/proc")),
    )]);
    let before = native_loadavg();
    let s = exporter.scrape();
    let after = native_loadavg();
    assert_healthy(&s, "loadavg");

    // The kernel updates the averages every 5 seconds: the guest saw the
    // triple of the read before the scrape or of the one after it.
    let served: Vec<f64> = ["loadavg_load1", "loadavg_load5", "loadavg_load15"]
        .iter()
        .map(|m| s.value(m).unwrap_or_else(|| panic!("{m} missing")))
        .collect();
    let triple = |f: &[String]| -> Vec<f64> { f[..3].iter().map(|v| v.parse().unwrap()).collect() };
    assert!(
        served == triple(&before) || served == triple(&after),
        "served {served:?}, native {before:?} then {after:?}"
    );
    // Thread counts move with every process started; allow for the test
    // suite's own.
    let total = |f: &[String]| -> f64 { f[3].split('/').nth(1).unwrap().parse().unwrap() };
    let served_total = s.value("loadavg_processes").unwrap();
    let (low, high) = (
        total(&before).min(total(&after)),
        total(&before).max(total(&after)),
    );
    assert!(
        served_total >= low * 0.8 - 20.0 && served_total <= high * 1.2 + 20.0,
        "loadavg_processes {served_total}, native {low} .. {high}"
    );
    let running = s.value("loadavg_processes_running").unwrap();
    assert!(
        running >= 1.0 && running <= served_total,
        "loadavg_processes_running {running} of {served_total}"
    );
}

// ---------------------------------------------------------------- netprobe

/// A loopback listener that is known to accept connections from outside
/// the sandbox (one native connection is made and accepted first).
fn listener() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let _native = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match listener.accept() {
            Ok(_) => return listener,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "native connection not accepted"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Has netprobe try `host` at the listener's port twice; each time it must
/// run to the end, report 0, and say that `stage` was refused; and the
/// listener must have accepted nothing.
fn assert_netprobe_refused(host: &str, stage: &str) {
    let listener = listener();
    let port = listener.local_addr().unwrap().port();
    let exporter = start(&[module(
        "netprobe",
        "netprobe",
        &format!("{{host: {host}, port: {port}}}"),
        None,
    )]);
    let prefix = format!("netprobe_connected{{target=\"{host}:{port}\",error=\"");
    for _ in 0..2 {
        let s = exporter.scrape();
        assert_healthy(&s, "netprobe");
        let probes: Vec<(&String, &String)> = s
            .samples
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect();
        assert_eq!(probes.len(), 1, "{}", s.text);
        let (series, value) = probes[0];
        assert_eq!(value, "0", "the sandbox let {series} connect");
        let error = &series[prefix.len()..series.len() - 2];
        assert!(
            error.starts_with(&format!("{stage}: ")) && error.len() > stage.len() + 2,
            "expected a refusal at {stage}: {series}"
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("a guest connected to the listener from {peer}"),
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn python_netprobe_cannot_connect_to_a_listening_socket() {
    // TCP is denied when the socket is created, before any connect.
    assert_netprobe_refused("127.0.0.1", "socket");
}

#[test]
fn python_netprobe_cannot_look_up_names() {
    assert_netprobe_refused("localhost", "lookup");
}

#[test]
fn python_library_names_a_parameter_that_does_not_parse() {
    let exporter = start(&[module(
        "netprobe",
        "netprobe",
        "{host: 127.0.0.1, port: eighty}",
        None,
    )]);
    let s = exporter.scrape();
    assert_guest_error(
        &exporter,
        &s,
        "netprobe",
        1.0,
        &["parameter port: 'eighty' is not a valid int"],
    );
}
