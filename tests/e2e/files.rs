//! The sandbox's file boundary: what a guest granted /proc (or less) can
//! reach, descriptor caps, and the exporter's own secrets. Every attack runs
//! next to a well-behaved module that must keep being served, and every
//! refusal must be counted and logged.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Exporter, Scrape, guest, heavy, q, request};

/// A secret in the exporter's environment, which no guest may find.
const SECRET: &str = "wasm-exporter-test-secret-7f3a9c";

/// The config: a good module first, then `modules` (YAML list items).
fn config(global: &str, modules: &[String]) -> String {
    let mut c = String::from(global);
    let _ = writeln!(
        c,
        "modules:\n  - name: good\n    component: {}",
        q(&guest("ok"))
    );
    for m in modules {
        c.push_str(m);
    }
    c
}

/// An adversary module with `params` and `grants` (YAML flow mappings).
fn adversary(name: &str, params: &str, grants: &str) -> String {
    format!(
        "  - name: {name}\n    component: {}\n    params: {params}\n    grants: {grants}\n",
        q(&guest("adversary"))
    )
}

const PROC_DIR: &str = "{dirs: [{host: /proc, guest: /proc}]}";

fn assert_good(s: &Scrape) {
    assert!(
        s.text.lines().any(|l| l == "wat_ok 42"),
        "the good module must be served:\n{}",
        s.text
    );
}

fn file_bytes(s: &Scrape, path: &str) -> f64 {
    s.samples
        .iter()
        .find(|(k, _)| k.starts_with(&format!("adversary_file_bytes{{path=\"{path}\"")))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or_else(|| panic!("no result for {path}:\n{}", s.text))
}

fn denied(s: &Scrape, module: &str, kind: &str) -> f64 {
    s.value(&format!(
        "wasm_exporter_access_denied_total{{kind=\"{kind}\",module=\"{module}\"}}"
    ))
    .unwrap_or_else(|| panic!("no access_denied series for {module}/{kind}:\n{}", s.text))
}

fn names(s: &Scrape) -> BTreeSet<String> {
    s.samples
        .keys()
        .filter_map(|k| k.strip_prefix("adversary_dir_entry{name=\""))
        .map(|rest| rest.trim_end_matches("\"}").to_string())
        .collect()
}

/// Every way we know to reach the exporter's memory, environment and
/// descriptors, or a device, FIFO or socket, through a directory grant of
/// /proc (or of a directory holding such files): each refused, counted,
/// logged by path; the system-wide files of /proc stay readable.
fn proc_attacks(global: &str) {
    let special = tempfile::tempdir().unwrap();
    let fifo = special.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let _socket = UnixListener::bind(special.path().join("socket")).unwrap();
    let special_grant = format!("{{dirs: [{{host: {}, guest: /data}}]}}", q(special.path()));
    let refused: Vec<(&str, String, String)> = vec![
        ("environ", "/proc/self/environ".into(), PROC_DIR.into()),
        (
            "thread_environ",
            "/proc/thread-self/environ".into(),
            PROC_DIR.into(),
        ),
        ("init_environ", "/proc/1/environ".into(), PROC_DIR.into()),
        ("init_cmdline", "/proc/1/cmdline".into(), PROC_DIR.into()),
        (
            "root_link",
            "/proc/self/root/etc/passwd".into(),
            PROC_DIR.into(),
        ),
        (
            "cwd_link",
            "/proc/self/cwd/config.yml".into(),
            PROC_DIR.into(),
        ),
        ("fd_link", "/proc/self/fd/0".into(), PROC_DIR.into()),
        ("kallsyms", "/proc/kallsyms".into(), PROC_DIR.into()),
        ("kmsg", "/proc/kmsg".into(), PROC_DIR.into()),
        ("fifo", "/data/fifo".into(), special_grant.clone()),
        ("socket", "/data/socket".into(), special_grant.clone()),
        (
            "device",
            "/dev/zero".into(),
            "{dirs: [{host: /dev, guest: /dev}]}".into(),
        ),
    ];
    let allowed = [
        ("meminfo", "/proc/meminfo"),
        ("net_dev", "/proc/net/dev"),
        ("self_net", "/proc/self/net/dev"),
    ];
    let mut modules: Vec<String> = refused
        .iter()
        .map(|(name, path, grant)| {
            adversary(name, &format!("{{mode: read_file, path: {path}}}"), grant)
        })
        .collect();
    modules.extend(allowed.iter().map(|(name, path)| {
        adversary(
            name,
            &format!("{{mode: read_file, path: {path}}}"),
            PROC_DIR,
        )
    }));
    modules.push(adversary(
        "mem",
        &format!("{{mode: scan_mem, needle: {SECRET}}}"),
        PROC_DIR,
    ));
    modules.push(adversary(
        "listing",
        "{mode: list_names, path: /proc}",
        PROC_DIR,
    ));
    let exporter = Exporter::start_full(
        &config(global, &modules),
        &["--web.enable-lifecycle"],
        &[("WASM_EXPORTER_TEST_SECRET", SECRET)],
    );
    // The exporter's own pid, by number: known only now, so reloaded in.
    let pid = exporter.pid();
    modules.push(adversary(
        "by_pid",
        &format!("{{mode: read_file, path: /proc/{pid}/environ}}"),
        PROC_DIR,
    ));
    modules.push(adversary(
        "by_pid_maps",
        &format!("{{mode: read_file, path: /proc/{pid}/maps}}"),
        PROC_DIR,
    ));
    std::fs::write(exporter.config_path(), config(global, &modules)).unwrap();
    let reload = request("POST", &format!("http://{}/-/reload", exporter.addr), &[]);
    assert_eq!(reload.status, 200, "{}", reload.body);

    for scrape_no in 1..=2 {
        let s = exporter.scrape();
        assert_good(&s);
        assert!(!s.text.contains(SECRET), "the secret leaked:\n{}", s.text);
        assert!(!s.text.contains("root:x:0"), "/etc/passwd leaked");
        for (name, path, _) in &refused {
            assert_eq!(
                file_bytes(&s, path),
                -1.0,
                "{name} read {path}:\n{}",
                s.text
            );
            assert_eq!(
                denied(&s, name, "file"),
                scrape_no as f64,
                "{name} ({path}) must be counted once per scrape"
            );
        }
        for (name, path) in [
            ("by_pid", format!("/proc/{pid}/environ")),
            ("by_pid_maps", format!("/proc/{pid}/maps")),
        ] {
            assert_eq!(file_bytes(&s, &path), -1.0, "{name}:\n{}", s.text);
            assert_eq!(denied(&s, name, "file"), scrape_no as f64, "{name}");
        }
        for (name, path) in allowed {
            assert!(file_bytes(&s, path) > 0.0, "{name} must read {path}");
            assert_eq!(denied(&s, name, "file"), 0.0, "{name}");
        }
        assert_eq!(
            s.value("adversary_mem_bytes{error=\"No such file or directory\"}"),
            Some(-1.0),
            "{}",
            s.text
        );
        assert_eq!(s.value("adversary_mem_needle_found"), Some(0.0));
        assert_eq!(denied(&s, "mem", "file"), scrape_no as f64);
        let listed = names(&s);
        assert!(
            listed.contains("meminfo") && listed.contains("net"),
            "{listed:?}"
        );
        for hidden in ["self", "thread-self", "1", "kallsyms", "kmsg"] {
            assert!(!listed.contains(hidden), "{hidden} is listed: {listed:?}");
        }
        assert!(
            !listed.iter().any(|n| n.chars().all(|c| c.is_ascii_digit())),
            "a process directory is listed: {listed:?}"
        );
    }
    let log = exporter.log().join("\n");
    for needle in [
        "/proc/self/environ (resolves to /proc/",
        "the exporter's own process is never visible to a guest",
        "/proc/1/environ",
        "process entries of procfs are hidden under a directory grant",
        "/proc/self/root/etc/passwd",
        "goes through a link into a process",
        "/proc/kallsyms",
        "/data/fifo",
        "FIFOs are never opened",
        "/data/socket",
        "sockets are never opened",
        "/dev/zero",
        "device files are never opened",
    ] {
        assert!(
            log.contains(needle),
            "the log should name {needle:?}:\n{log}"
        );
    }
}

#[test]
fn proc_attacks_are_refused_counted_and_logged() {
    proc_attacks("");
}

#[test]
fn proc_attacks_are_refused_with_guard_pages() {
    proc_attacks("global: {bounds_checks: guard_pages}\n");
}

/// File and glob grants: the guest sees exactly the granted files and the
/// directories on the way to them.
#[test]
fn file_grants_show_only_what_is_granted() {
    let files = "{files: [/proc/meminfo, /proc/net/dev]}";
    let glob = "{files: [\"/sys/class/net/*/statistics/rx_bytes\"]}";
    let modules = vec![
        adversary("meminfo", "{mode: read_file, path: /proc/meminfo}", files),
        adversary("net_dev", "{mode: read_file, path: /proc/net/dev}", files),
        adversary("stat", "{mode: read_file, path: /proc/stat}", files),
        adversary("net_tcp", "{mode: read_file, path: /proc/net/tcp}", files),
        adversary(
            "escape",
            "{mode: read_file, path: /proc/net/../stat}",
            files,
        ),
        adversary("proc_ls", "{mode: list_names, path: /proc}", files),
        adversary("net_ls", "{mode: list_names, path: /proc/net}", files),
        adversary(
            "rx",
            "{mode: read_file, path: /sys/class/net/lo/statistics/rx_bytes}",
            glob,
        ),
        adversary(
            "tx",
            "{mode: read_file, path: /sys/class/net/lo/statistics/tx_bytes}",
            glob,
        ),
        adversary(
            "address",
            "{mode: read_file, path: /sys/class/net/lo/address}",
            glob,
        ),
        adversary("sys_ls", "{mode: list_names, path: /sys/class/net}", glob),
    ];
    let exporter = Exporter::start(&config("", &modules));
    let s = exporter.scrape();
    assert_good(&s);
    assert!(file_bytes(&s, "/proc/meminfo") > 0.0);
    assert!(file_bytes(&s, "/proc/net/dev") > 0.0);
    assert!(file_bytes(&s, "/sys/class/net/lo/statistics/rx_bytes") > 0.0);
    for (name, path) in [
        ("stat", "/proc/stat"),
        ("net_tcp", "/proc/net/tcp"),
        ("escape", "/proc/net/../stat"),
        ("tx", "/sys/class/net/lo/statistics/tx_bytes"),
        ("address", "/sys/class/net/lo/address"),
    ] {
        assert_eq!(file_bytes(&s, path), -1.0, "{name}");
        assert_eq!(denied(&s, name, "file"), 1.0, "{name}");
    }
    // The three listings land in one family (no name is in two of them):
    // /proc shows meminfo and net, /proc/net shows dev, /sys/class/net the
    // interfaces.
    let all = names(&s);
    let mut expected: BTreeSet<String> = ["meminfo", "net", "dev"].map(String::from).into();
    for iface in std::fs::read_dir("/sys/class/net").unwrap() {
        expected.insert(iface.unwrap().file_name().to_string_lossy().into_owned());
    }
    assert_eq!(all, expected, "{}", s.text);
}

/// The descriptor bomb (`fdbomb`, WASI 0.2 without the preview1 adapter)
/// opening /proc/meminfo, with extra `params` and `limits` (YAML flow
/// entries, may be empty).
fn bomb_modules(params: &str, limits: &str) -> Vec<String> {
    vec![format!(
        "  - name: bomb\n    component: {}\n    params: {{path: /proc/meminfo{params}}}\n    grants: {{files: [/proc/meminfo]}}\n    limits: {{{limits}}}\n",
        q(&guest("fdbomb"))
    )]
}

/// The bomb's report: its `fdbomb_opened{error=...}` series and how many
/// descriptors it got.
fn bomb_result(s: &Scrape) -> (String, f64) {
    let (series, opened) = s
        .samples
        .iter()
        .find(|(k, _)| k.starts_with("fdbomb_opened{"))
        .unwrap_or_else(|| panic!("no fdbomb result:\n{}", s.text));
    let opened = opened
        .parse()
        .unwrap_or_else(|e| panic!("{series} {opened}: {e}"));
    (series.clone(), opened)
}

/// A descriptor bomb in a guest that speaks WASI 0.2 directly (no preview1
/// adapter table in the way): stopped at `limits.open_files`, with an error
/// the guest can handle, counted once per scrape.
#[test]
fn a_descriptor_bomb_stops_at_the_module_cap() {
    let modules = bomb_modules("", "");
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&config("", &modules))
    };
    for scrape_no in 1..=2 {
        let s = exporter.scrape();
        assert_good(&s);
        let (series, opened) = bomb_result(&s);
        assert_eq!(opened, 64.0, "{series}");
        assert!(series.contains("Quota exceeded"), "{series}");
        assert_eq!(denied(&s, "bomb", "open_files"), scrape_no as f64);
        assert_eq!(
            s.value("wasm_exporter_module_open_files_peak{module=\"bomb\"}"),
            Some(64.0)
        );
        assert!(
            s.value("wasm_exporter_module_memory_peak_bytes{module=\"bomb\"}")
                .unwrap()
                > 0.0
        );
        assert!(
            s.value("wasm_exporter_module_cpu_seconds_total{module=\"bomb\"}")
                .unwrap()
                > 0.0
        );
    }
    assert!(
        exporter
            .log()
            .iter()
            .any(|l| l.contains("the module holds 64 open files, its limits.open_files")),
        "the refusal is logged"
    );
}

/// The same bomb with the module cap lifted, the exporter under
/// `ulimit -n 1024` (systemd's default soft limit): guests together get
/// half of the descriptors and no more, so `accept` never fails and
/// `/-/healthy` answers at once while the bomb holds everything it got.
#[test]
fn a_descriptor_bomb_cannot_starve_the_exporter() {
    descriptor_bomb_under_ulimit("");
}

#[test]
fn a_descriptor_bomb_cannot_starve_the_exporter_with_guard_pages() {
    descriptor_bomb_under_ulimit("global: {bounds_checks: guard_pages}\n");
}

fn descriptor_bomb_under_ulimit(global: &str) {
    let modules = bomb_modules(
        ", hold_ms: 1500",
        "open_files: 100000, wasi_resources: 100000, memory: 1GiB, timeout: 4s",
    );
    let exporter = {
        let _heavy = heavy();
        Exporter::start_limited(&config(global, &modules), 1024)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (stop, addr) = (stop.clone(), exporter.addr.clone());
        std::thread::spawn(move || {
            let mut took = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let a = request("GET", &format!("http://{addr}/-/healthy"), &[]);
                assert_eq!(a.status, 200);
                took.push(start.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
            took
        })
    };
    for _ in 0..3 {
        let s = exporter.scrape();
        assert_good(&s);
        let (series, opened) = bomb_result(&s);
        // Half of 1024 for all guests, less the directory the host opened
        // for this call.
        assert!((400.0..512.0).contains(&opened), "{series} {opened}");
        assert!(series.contains("Quota exceeded"), "{series}");
    }
    stop.store(true, Ordering::Relaxed);
    let mut took = prober.join().unwrap();
    took.sort_unstable();
    assert!(took.len() > 20, "{} probes", took.len());
    // A starved exporter fails `accept` and backs off, 5 ms doubling up to
    // 1 s, for as long as the bomb holds its descriptors (1.5 s a scrape):
    // most probes would wait. The 90th percentile, not the slowest probe,
    // so that a CI machine busy with other tests cannot fail this.
    let p90 = took[took.len() * 9 / 10];
    let worst = took[took.len() - 1];
    assert!(
        p90 < Duration::from_millis(100) && worst < Duration::from_secs(1),
        "/-/healthy took {p90:?} (90th percentile) and {worst:?} at worst \
         while the bomb held its descriptors"
    );
    let log = exporter.log().join("\n");
    assert!(
        !log.contains("Too many open files"),
        "the exporter ran out of descriptors:\n{log}"
    );
    assert!(log.contains("the exporter's share for them"), "{log}");
}

/// Past `limits.wasi_resources` the call traps with its own reason.
#[test]
fn wasi_resources_are_capped() {
    let modules = bomb_modules("", "open_files: 100000, wasi_resources: 100");
    let exporter = {
        let _heavy = heavy();
        Exporter::start(&config("", &modules))
    };
    let s = exporter.scrape();
    assert_good(&s);
    assert_eq!(s.errors("bomb", "resource_limit"), 1.0, "{}", s.text);
    assert!(!s.has_family("fdbomb_opened"));
    assert!(
        exporter
            .log()
            .iter()
            .any(|l| l.contains("more than 100 WASI resources")),
        "{:?}",
        exporter.log()
    );
}
