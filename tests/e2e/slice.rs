//! The vertical slice: seed metrics from a C guest, fault isolation of a
//! trapping guest, no host files without grants, the landing page, the
//! compile cache.

use crate::support::{
    Exporter, assert_has_lines, assert_healthy, fixture, guest, plugin, proc_files, q, wait_until,
};

/// The seed's collectors, as the sysinfo plugin.
fn sysinfo_module(name: &str, proc_dir: &std::path::Path) -> String {
    format!(
        "  - name: {name}\n    plugin: {}\n    grants: {}\n",
        q(&plugin("sysinfo")),
        proc_files(proc_dir, &["meminfo", "partitions"])
    )
}

#[test]
fn seed_metrics_exact_lines_from_granted_fixture() {
    let exporter = Exporter::start(&format!(
        "modules:\n{}",
        sysinfo_module("sysinfo", &fixture("proc"))
    ));
    let answer = exporter.get("/metrics");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = &answer.body;
    // MemTotal 8000000 kB, MemAvailable 6000000 kB: 25% in use.
    assert_has_lines(
        text,
        &[
            "# HELP sys_mem_usage Memory in use, percent of total memory.",
            "# TYPE sys_mem_usage gauge",
            "sys_mem_usage 25",
            "# HELP sys_disk_size Size of the block device in bytes.",
            "# TYPE sys_disk_size gauge",
            "sys_disk_size{disk_name=\"nvme0n1\"} 1024209543168",
            "sys_disk_size{disk_name=\"sda\"} 500107862016",
            "sys_disk_size{disk_name=\"sda1\"} 536870912",
            "sys_disk_size{disk_name=\"sda2\"} 499568869376",
            "wasm_exporter_module_up{module=\"sysinfo\"} 1",
            "wasm_exporter_scrape_errors_total{module=\"sysinfo\",reason=\"trap\"} 0",
        ],
    );
    // Series of a family are sorted by label values, families by name.
    let disk_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("sys_disk_size{"))
        .collect();
    assert_eq!(disk_lines.len(), 4);
    assert!(disk_lines[0].contains("nvme0n1") && disk_lines[3].contains("sda2"));
    assert!(text.contains("wasm_exporter_build_info{"));
    let s = exporter.scrape();
    assert!(
        s.value("wasm_exporter_module_duration_seconds{module=\"sysinfo\"}")
            .unwrap()
            > 0.0
    );
}

#[test]
fn seed_metrics_match_the_real_proc() {
    let exporter = Exporter::start(&format!(
        "modules:\n{}",
        sysinfo_module("sysinfo", std::path::Path::new("/proc"))
    ));
    let scrape = exporter.scrape();

    // Disk sizes: exactly what /proc/partitions says, read natively.
    let partitions = std::fs::read_to_string("/proc/partitions").unwrap();
    let mut native = 0;
    for line in partitions.lines().skip(2) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != 4 {
            continue;
        }
        native += 1;
        let bytes = cols[2].parse::<f64>().unwrap() * 1024.0;
        let series = format!("sys_disk_size{{disk_name=\"{}\"}}", cols[3]);
        assert_eq!(scrape.value(&series), Some(bytes), "{series}");
    }
    let served = scrape
        .samples
        .keys()
        .filter(|k| k.starts_with("sys_disk_size{"))
        .count();
    assert_eq!(served, native, "one series per block device");

    // Memory usage: the same formula on /proc/meminfo, read just after.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let field = |name: &str| -> f64 {
        meminfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    let expected = (field("MemTotal:") - field("MemAvailable:")) / field("MemTotal:") * 100.0;
    let served = scrape.value("sys_mem_usage").expect("sys_mem_usage served");
    assert!(
        (served - expected).abs() < 2.0,
        "sys_mem_usage {served} vs native {expected}"
    );
    assert!(served > 0.0 && served < 100.0);
}

#[test]
fn trapping_guest_costs_only_its_own_series() {
    let exporter = Exporter::start(&format!(
        "modules:\n{}  - name: crashy\n    component: {}\n",
        sysinfo_module("sysinfo", &fixture("proc")),
        q(&guest("trap"))
    ));
    for scrape_no in 1..=3 {
        let answer = exporter.get("/metrics");
        assert_eq!(answer.status, 200);
        let s = crate::support::Scrape::parse(&answer.body);
        assert_eq!(s.value("sys_mem_usage"), Some(25.0));
        assert_eq!(
            s.value("sys_disk_size{disk_name=\"sda\"}"),
            Some(500107862016.0)
        );
        assert_eq!(s.errors("crashy", "trap"), scrape_no as f64);
        assert_eq!(s.all_errors("crashy"), scrape_no as f64);
        assert_eq!(s.all_errors("sysinfo"), 0.0);
        assert_eq!(
            s.value("wasm_exporter_module_up{module=\"crashy\"}"),
            Some(0.0)
        );
        assert_eq!(
            s.value("wasm_exporter_module_up{module=\"sysinfo\"}"),
            Some(1.0)
        );
    }
    let line = exporter.wait_for_log(
        &["module=crashy", "reason=trap"],
        std::time::Duration::from_secs(5),
    );
    assert!(line.contains("unreachable"), "{line}");
}

#[test]
fn guest_without_grants_sees_no_host_files() {
    let adversary = q(&guest("adversary"));
    let config = [
        "modules:".to_string(),
        format!("  - name: nogrant\n    component: {adversary}"),
        "    params: {mode: read_file, path: /etc/passwd}".to_string(),
        format!("  - name: nogrant_ls\n    component: {adversary}"),
        "    params: {mode: list_dir, path: /}".to_string(),
        format!("  - name: granted\n    component: {adversary}"),
        "    params: {mode: read_file, path: /data/meminfo}".to_string(),
        format!(
            "    grants:\n      dirs: [{{host: {}, guest: /data}}]",
            q(&fixture("proc"))
        ),
    ]
    .join("\n");
    let exporter = Exporter::start(&config);
    let s = exporter.scrape();
    let denied: Vec<(&String, &String)> = s
        .samples
        .iter()
        .filter(|(k, _)| k.contains("path=\"/etc/passwd\""))
        .collect();
    assert_eq!(denied.len(), 1, "{}", s.text);
    assert_eq!(
        denied[0].1, "-1",
        "/etc/passwd must not be readable: {}",
        s.text
    );
    assert!(!s.text.contains("root:x:0:0"), "file content leaked");
    let listing: Vec<_> = s
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with("adversary_dir_entries{"))
        .collect();
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].1, "-1", "/ must not be listable without grants");
    // Positive control: the same guest reads a granted file.
    let meminfo_len = std::fs::metadata(fixture("proc/meminfo")).unwrap().len() as f64;
    assert_eq!(
        s.value("adversary_file_bytes{path=\"/data/meminfo\",error=\"\"}"),
        Some(meminfo_len),
        "{}",
        s.text
    );
}

#[test]
fn landing_page_health_and_http_errors() {
    let exporter = Exporter::start(&format!(
        "modules:\n{}",
        sysinfo_module("sysinfo", &fixture("proc"))
    ));
    let landing = exporter.get("/");
    assert_eq!(landing.status, 200);
    assert!(
        landing
            .body
            .contains(&format!("WASM Exporter {}", env!("CARGO_PKG_VERSION")))
    );
    assert!(landing.body.contains("<a href=\"/metrics\">Metrics</a>"));
    // The plugin, its declarations and the status of its last scrape.
    exporter.scrape();
    let landing = exporter.get("/");
    for needle in [
        "<a href=\"/modules/sysinfo\">sysinfo</a> <small>plugin sysinfo 1.0.0</small>",
        "<img src=\"/plugins/sysinfo/logo.png\"",
        "Memory usage and block device sizes",
        "<tr><td><code>sys_disk_size</code></td><td>gauge</td><td></td><td>disk_name</td><td>Size of the block device in bytes.</td></tr>",
        "last scrape: <b>up</b>",
        "5 series",
    ] {
        assert!(
            landing.body.contains(needle),
            "landing page lacks {needle:?}:\n{}",
            landing.body
        );
    }
    let logo = exporter.get("/plugins/sysinfo/logo.png");
    assert_eq!(logo.status, 200);
    assert_eq!(
        logo.headers.get("content-type").map(String::as_str),
        Some("image/png")
    );
    assert_eq!(
        logo.bytes,
        std::fs::read(plugin("sysinfo").join("logo.png")).unwrap()
    );
    let readme = exporter.get("/plugins/sysinfo/README.md");
    assert!(readme.body.starts_with("# sysinfo"));
    assert_eq!(exporter.get("/plugins/nope/logo.png").status, 404);
    assert_eq!(exporter.get("/-/healthy").status, 200);
    assert_eq!(exporter.get("/-/ready").status, 200);
    let missing = exporter.get("/nope");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/nope"));
    let post = crate::support::request("POST", &format!("http://{}/metrics", exporter.addr), &[]);
    assert_eq!(post.status, 405);
    assert_eq!(
        post.headers.get("allow").map(String::as_str),
        Some("GET, HEAD")
    );
    let bad = exporter.get_with(
        "/metrics",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "soon")],
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("X-Prometheus-Scrape-Timeout-Seconds"),
        "{}",
        bad.body
    );
}

#[test]
fn telemetry_path_flag_moves_the_metrics() {
    let exporter = Exporter::start_with_args(
        &format!("modules:\n{}", sysinfo_module("sysinfo", &fixture("proc"))),
        &["--web.telemetry-path=/probe"],
    );
    let a = exporter.get("/probe");
    assert_eq!(a.status, 200);
    assert!(a.body.contains("sys_mem_usage 25"));
    assert_eq!(exporter.get("/metrics").status, 404);
    assert!(exporter.get("/").body.contains("<a href=\"/probe\">"));
}

#[test]
fn relative_cache_dir_is_taken_from_the_working_directory() {
    let cwd = tempfile::tempdir().expect("temp dir");
    let exporter = Exporter::start_in(
        &format!("modules:\n{}", sysinfo_module("sysinfo", &fixture("proc"))),
        &["--cache.dir=compiled"],
        &[],
        Some(cwd.path()),
    );
    assert!(exporter.scrape().text.contains("sys_mem_usage 25"));
    // wasmtime writes cache entries from a background thread.
    let cache = cwd.path().join("compiled");
    wait_until(
        std::time::Duration::from_secs(20),
        &format!("cache entry under {}", cache.display()),
        || !walk_files(&cache).is_empty(),
    );
}

#[test]
fn missing_components_are_all_compiled_before_any_is_loaded() {
    // Each loaded module adds to the exporter's memory while the next
    // compile's child peaks, so a first start compiles all, then loads.
    let cache = tempfile::tempdir().expect("temp dir");
    let cache_arg = format!("--cache.dir={}", cache.path().display());
    let config = format!(
        "modules:\n  - name: first\n    component: {}\n  - name: second\n    component: {}\n",
        guest("ok").display(),
        guest("error").display()
    );
    let exporter = Exporter::start_with_args(&config, &[&cache_arg]);
    assert_healthy(&exporter.scrape(), "first");
    let log = exporter.log();
    let position = |needles: &[&str]| {
        log.iter()
            .position(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no log line with {needles:?}; log:\n{}", log.join("\n")))
    };
    let compiled_first = position(&["compiled ", "ok.wasm into the cache", "seconds"]);
    let compiled_second = position(&["compiled ", "error.wasm into the cache", "seconds"]);
    let compiled_last = compiled_first.max(compiled_second);
    let loaded_first = position(&["module=first", "compiled=InChild", "loaded"]);
    let loaded_second = position(&["module=second", "compiled=InChild", "loaded"]);
    assert!(
        compiled_last < loaded_first && loaded_first < loaded_second,
        "compiles, then loads in config order:\n{}",
        log.join("\n")
    );

    // The next start finds both compiled and loads each at its turn.
    drop(exporter);
    let exporter = Exporter::start_with_args(&config, &[&cache_arg]);
    assert_healthy(&exporter.scrape(), "first");
    let log = exporter.log();
    assert!(!log.iter().any(|l| l.contains("into the cache")));
    assert_eq!(
        log.iter().filter(|l| l.contains("compiled=Cached")).count(),
        2,
        "{}",
        log.join("\n")
    );
}

/// Every file under `dir`, recursively (none if it does not exist).
fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in read.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}
