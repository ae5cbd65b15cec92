//! The adversarial suite: every kind of bad guest, served next to a
//! well-behaved one. Each must cost only its own series, be counted once
//! per scrape with the right reason, and leave the exporter healthy and
//! answering within the deadline.

use std::fmt::Write as _;
use std::time::Duration;

use crate::hungfs::HungFs;
use crate::support::{Exporter, Scrape, assert_has_lines, fixture, guest, q, wait_until};

/// One module of a test config.
struct Module {
    name: &'static str,
    component: &'static str,
    params: &'static str,
    extra: String,
}

fn module(name: &'static str, component: &'static str, params: &'static str) -> Module {
    Module {
        name,
        component,
        params,
        extra: String::new(),
    }
}

impl Module {
    fn with(mut self, yaml: &str) -> Self {
        self.extra.push_str(yaml);
        self
    }
}

fn config(global: &str, modules: &[Module]) -> String {
    let mut c = String::from(global);
    c.push_str("modules:\n  - name: good\n");
    let _ = writeln!(c, "    component: {}", q(&guest("ok")));
    for m in modules {
        let _ = writeln!(
            c,
            "  - name: {}\n    component: {}",
            m.name,
            q(&guest(m.component))
        );
        if !m.params.is_empty() {
            let _ = writeln!(c, "    params: {}", m.params);
        }
        c.push_str(&m.extra);
    }
    c
}

/// Timeout given to the modules that never finish, to keep the suite fast.
const SHORT: &str = "    limits: {timeout: 500ms}\n";

/// Attack name, expected reason, and the module.
fn failing_attacks() -> Vec<(&'static str, Module)> {
    vec![
        ("timeout", module("loop", "loop", "").with(SHORT)),
        (
            "timeout",
            module("busy_c", "adversary", "{mode: busy}").with(SHORT),
        ),
        (
            "timeout",
            module("sleeper", "adversary", "{mode: sleep, ms: 60000}").with(SHORT),
        ),
        ("memory", module("membomb", "membomb", "")),
        (
            "memory",
            module("malloc_bomb", "adversary", "{mode: alloc}"),
        ),
        ("trap", module("stackbomb", "stackbomb", "")),
        ("trap", module("unreachable", "trap", "")),
        ("guest_error", module("wat_error", "error", "")),
        (
            "guest_error",
            module("c_error", "adversary", "{mode: error}"),
        ),
        (
            "output_limit",
            // Memory raised so that the series cap, not memory, stops it.
            module(
                "million",
                "adversary",
                "{mode: many_series, count: 1000000}",
            )
            .with("    limits: {memory: 1GiB, timeout: 10s}\n"),
        ),
        (
            "output_limit",
            module(
                "huge_label",
                "adversary",
                "{mode: huge_label, bytes: 10485760}",
            )
            .with("    limits: {memory: 256MiB}\n"),
        ),
        (
            "invalid_output",
            module("bad_name", "adversary", "{mode: invalid_name}"),
        ),
        (
            "invalid_output",
            module("bad_label", "adversary", "{mode: invalid_label_name}"),
        ),
        (
            "invalid_output",
            module("mismatch", "adversary", "{mode: mismatched_labels}"),
        ),
        (
            "invalid_output",
            module("dup", "adversary", "{mode: duplicate_series}"),
        ),
        (
            "invalid_output",
            module("reserved", "adversary", "{mode: reserved_name}"),
        ),
    ]
}

fn assert_good_present(s: &Scrape) {
    assert!(
        s.text.lines().any(|l| l == "wat_ok 42"),
        "the good module's line is missing:\n{}",
        s.text
    );
    assert_eq!(
        s.value("wasm_exporter_module_up{module=\"good\"}"),
        Some(1.0)
    );
    assert_eq!(s.all_errors("good"), 0.0);
}

#[test]
fn every_attack_costs_only_its_own_series() {
    every_attack_with("global: {concurrency: 32}\n");
}

/// The same with guard pages and signals instead of explicit bounds checks:
/// traps, memory and stack limits classify the same way.
#[test]
fn every_attack_costs_only_its_own_series_with_guard_pages() {
    every_attack_with("global: {concurrency: 32, bounds_checks: guard_pages}\n");
}

fn every_attack_with(global: &str) {
    let attacks = failing_attacks();
    let modules: Vec<Module> = attacks
        .iter()
        .map(|(_, m)| Module {
            name: m.name,
            component: m.component,
            params: m.params,
            extra: m.extra.clone(),
        })
        .collect();
    let exporter = Exporter::start(&config(global, &modules));
    for scrape_no in 1..=2 {
        let answer = exporter.get("/metrics");
        assert_eq!(answer.status, 200);
        // The slowest attacks stop at their 500ms deadline; the million-series
        // guest takes longest to build its answer.
        assert!(
            answer.elapsed < Duration::from_secs(8),
            "scrape took {:?}",
            answer.elapsed
        );
        let s = Scrape::parse(&answer.body);
        assert_good_present(&s);
        for (reason, m) in &attacks {
            assert_eq!(
                s.errors(m.name, reason),
                scrape_no as f64,
                "module {} should fail with {reason} once per scrape",
                m.name
            );
            assert_eq!(
                s.all_errors(m.name),
                scrape_no as f64,
                "module {} counted under another reason too",
                m.name
            );
            assert_eq!(
                s.value(&format!("wasm_exporter_module_up{{module=\"{}\"}}", m.name)),
                Some(0.0)
            );
        }
        for family in [
            "adversary_series",
            "adversary_huge",
            "adversary-bad-name",
            "adversary_bad_label",
            "adversary_mismatch",
            "adversary_dup",
        ] {
            assert!(!s.has_family(family), "{family} must not be served");
        }
    }
    // One warning per failed module per scrape, naming module and reason.
    for (reason, m) in &attacks {
        let lines: Vec<String> = exporter
            .log()
            .into_iter()
            .filter(|l| {
                l.contains("module scrape failed")
                    && l.contains(&format!("module={}", m.name))
                    && l.contains(&format!("reason={reason}"))
                    && l.contains("level=warn")
            })
            .collect();
        assert_eq!(lines.len(), 2, "module {}: {lines:#?}", m.name);
    }
    // A readable reason in the log for the less obvious ones.
    let log = exporter.log().join("\n");
    for needle in [
        "stack overflow",
        "memory limit exceeded",
        "the output is larger than the limits allow",
        "bytes of output returned, the limit is 8388608",
        "adversary-bad-name\\\" is not a valid metric name",
        "has two samples with the same label values",
        "mode=error: the backend said no",
        "the backend is unreachable",
    ] {
        assert!(
            log.contains(needle) || log.contains(&needle.replace("\\\"", "\"")),
            "log should mention {needle:?}:\n{log}"
        );
    }
}

#[test]
fn valid_but_hostile_values_are_rendered_correctly() {
    let exporter = Exporter::start(&config(
        "",
        &[
            module("escapes", "adversary", "{mode: escapes}"),
            module("special", "adversary", "{mode: special_values}"),
        ],
    ));
    let s = exporter.scrape();
    assert_good_present(&s);
    assert_has_lines(
        &s.text,
        &[
            r#"# HELP adversary_escapes Help with \\ backslash\nand newline."#,
            r#"adversary_escapes{text="say \"hi\""} 1"#,
            r#"adversary_escapes{text="C:\\path\\"} 2"#,
            r#"adversary_escapes{text="line1\nline2"} 3"#,
            "adversary_escapes{text=\"\\\\xff\\\\xfe not utf-8, \u{fffd} replacement, \u{e9}t\u{e9}\"} 4",
            "adversary_special{case=\"nan\"} NaN",
            "adversary_special{case=\"pinf\"} +Inf",
            "adversary_special{case=\"ninf\"} -Inf",
            "adversary_special{case=\"nzero\"} -0",
            "adversary_special{case=\"max\"} 1.7976931348623157e308",
            "adversary_special{case=\"tiny\"} 5e-324",
        ],
    );
    assert_eq!(s.all_errors("escapes") + s.all_errors("special"), 0.0);
}

#[test]
fn capabilities_are_denied_unless_granted() {
    let proc = q(&fixture("proc"));
    let modules = [
        module(
            "passwd",
            "adversary",
            "{mode: read_file, path: /etc/passwd}",
        ),
        module("root_ls", "adversary", "{mode: list_dir, path: /}"),
        module(
            "escape",
            "adversary",
            "{mode: read_file, path: /data/../../../etc/passwd}",
        )
        .with(&format!(
            "    grants: {{dirs: [{{host: {proc}, guest: /data}}]}}\n"
        )),
        module("escape_ls", "adversary", "{mode: list_dir, path: /data/..}").with(&format!(
            "    grants: {{dirs: [{{host: {proc}, guest: /data}}]}}\n"
        )),
        module(
            "inside",
            "adversary",
            "{mode: read_file, path: /data/partitions}",
        )
        .with(&format!(
            "    grants: {{dirs: [{{host: {proc}, guest: /data}}]}}\n"
        )),
        module(
            "env_denied",
            "adversary",
            "{mode: env, name: WASM_EXPORTER_TEST_SECRET}",
        ),
        module("env_home", "adversary", "{mode: env, name: HOME}"),
        module(
            "env_granted",
            "adversary",
            "{mode: env, name: WASM_EXPORTER_TEST_GRANTED}",
        )
        .with("    grants: {env: [WASM_EXPORTER_TEST_GRANTED]}\n"),
    ];
    let exporter = Exporter::start_full(
        &config("", &modules),
        &[],
        &[
            ("WASM_EXPORTER_TEST_SECRET", "s3cret"),
            ("WASM_EXPORTER_TEST_GRANTED", "visible"),
        ],
    );
    let s = exporter.scrape();
    assert_good_present(&s);
    let file = |path: &str| -> (String, f64) {
        let (k, v) = s
            .samples
            .iter()
            .find(|(k, _)| k.starts_with(&format!("adversary_file_bytes{{path=\"{path}\"")))
            .unwrap_or_else(|| panic!("no result for {path}:\n{}", s.text));
        (k.clone(), v.parse().unwrap())
    };
    assert_eq!(file("/etc/passwd").1, -1.0, "{}", s.text);
    assert_eq!(file("/data/../../../etc/passwd").1, -1.0, "{}", s.text);
    let partitions = std::fs::metadata(fixture("proc/partitions")).unwrap().len() as f64;
    assert_eq!(file("/data/partitions").1, partitions);
    assert!(!s.text.contains("root:"), "host file content leaked");
    let dir_entries = |path: &str| -> f64 {
        s.value(&format!(
            "adversary_dir_entries{{path=\"{path}\",error=\"\"}}"
        ))
        .or_else(|| {
            s.samples
                .iter()
                .find(|(k, _)| k.starts_with(&format!("adversary_dir_entries{{path=\"{path}\",")))
                .map(|(_, v)| v.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no listing of {path}:\n{}", s.text))
    };
    assert_eq!(dir_entries("/"), -1.0);
    assert_eq!(dir_entries("/data/.."), -1.0);
    let env = |name: &str| s.value(&format!("adversary_env_visible{{name=\"{name}\"}}"));
    assert_eq!(env("WASM_EXPORTER_TEST_SECRET"), Some(0.0));
    assert_eq!(env("HOME"), Some(0.0));
    assert_eq!(env("WASM_EXPORTER_TEST_GRANTED"), Some(1.0));
}

#[test]
fn scrape_timeout_header_caps_every_module() {
    // The loop module keeps the default 2s timeout; Prometheus allows 1s and
    // the exporter keeps 250ms of margin.
    let exporter = Exporter::start(&config("", &[module("loop", "loop", "")]));
    let answer = exporter.get_with("/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "1")]);
    assert_eq!(answer.status, 200);
    assert!(
        answer.elapsed >= Duration::from_millis(700)
            && answer.elapsed < Duration::from_millis(1000),
        "answered after {:?}, expected just before the 1s budget",
        answer.elapsed
    );
    let s = Scrape::parse(&answer.body);
    assert_good_present(&s);
    assert_eq!(s.errors("loop", "timeout"), 1.0);
    // Without the header the module's own 2s timeout applies.
    let answer = exporter.get("/metrics");
    assert!(
        answer.elapsed >= Duration::from_millis(1900)
            && answer.elapsed < Duration::from_millis(3000),
        "answered after {:?}",
        answer.elapsed
    );
}

#[test]
fn modules_run_concurrently() {
    let exporter = Exporter::start(&config(
        "global: {concurrency: 4}\n",
        &[
            module("nap1", "adversary", "{mode: sleep, ms: 400, id: 1}"),
            module("nap2", "adversary", "{mode: sleep, ms: 400, id: 2}"),
            module("nap3", "adversary", "{mode: sleep, ms: 400, id: 3}"),
        ],
    ));
    let answer = exporter.get("/metrics");
    let s = Scrape::parse(&answer.body);
    assert_good_present(&s);
    for m in ["nap1", "nap2", "nap3"] {
        assert_eq!(
            s.value(&format!("wasm_exporter_module_up{{module=\"{m}\"}}")),
            Some(1.0)
        );
    }
    // Three 400ms sleeps side by side, not one after another.
    assert!(
        answer.elapsed >= Duration::from_millis(400)
            && answer.elapsed < Duration::from_millis(1100),
        "scrape took {:?}",
        answer.elapsed
    );
}

#[test]
fn guest_output_goes_to_the_log_bounded() {
    let exporter = Exporter::start(&config(
        "",
        &[
            module("chatty", "adversary", "{mode: print, lines: 2, id: chatty}"),
            module(
                "flood",
                "adversary",
                "{mode: print, lines: 100000, id: flood}",
            )
            .with("    limits: {max_log_bytes: 1KiB}\n"),
        ],
    ));
    let s = exporter.scrape();
    assert_good_present(&s);
    assert_eq!(
        s.value("wasm_exporter_module_up{module=\"flood\"}"),
        Some(1.0)
    );
    let line = exporter.wait_for_log(&["module=chatty", "stdout line 1"], Duration::from_secs(5));
    assert!(line.contains("stream=stdout"), "{line}");
    exporter.wait_for_log(
        &["module=chatty", "stream=stderr", "stderr line 0"],
        Duration::from_secs(5),
    );
    exporter.wait_for_log(&["module=flood", "dropped_bytes="], Duration::from_secs(5));
    let flood_lines = exporter
        .log()
        .iter()
        .filter(|l| l.contains("module=flood") && l.contains("guest:"))
        .count();
    assert!(
        flood_lines < 200,
        "{flood_lines} lines logged despite the 1KiB cap"
    );
}

#[test]
fn a_module_cannot_take_another_modules_series() {
    let exporter = Exporter::start(&config(
        "",
        &[
            // Same family, other series: merged.
            module(
                "twin",
                "adversary",
                "{mode: emit, name: wat_ok_twin, value: 1}",
            ),
            // Same series as the good module: refused.
            module(
                "thief",
                "adversary",
                "{mode: emit, name: wat_ok, value: 666}",
            ),
            // A self-metric name: refused.
            module(
                "impostor",
                "adversary",
                "{mode: emit, name: process_open_fds, value: 0}",
            ),
        ],
    ));
    for n in 1..=2 {
        let s = exporter.scrape();
        assert_good_present(&s);
        assert_eq!(s.value("wat_ok_twin"), Some(1.0));
        assert_eq!(s.errors("thief", "invalid_output"), n as f64);
        assert_eq!(s.errors("impostor", "invalid_output"), n as f64);
        assert!(!s.text.contains(" 666"));
    }
}

/// A guest can block its thread in the kernel, out of reach of the epoch
/// deadline: reading a file of a hung filesystem (a FUSE mount that never
/// answers, as an NFS mount whose server went away) waits for good. The scrape must still answer on time, and the stuck calls
/// must not take what the other modules need, scrape after scrape: here
/// three stuck modules, more than this machine's cores, and the good
/// module still runs every time.
#[test]
fn guests_blocked_in_the_kernel_cost_only_their_own_series() {
    const STUCK: [&str; 3] = ["stuck1", "stuck2", "stuck3"];
    const PARAMS: [&str; 3] = [
        "{mode: read_file, path: /data/stuck1}",
        "{mode: read_file, path: /data/stuck2}",
        "{mode: read_file, path: /data/stuck3}",
    ];
    let (fs, grant) = hung(&STUCK);
    let modules: Vec<Module> = STUCK
        .iter()
        .zip(PARAMS)
        .map(|(name, params)| module(name, "adversary", params).with(&grant))
        .collect();
    // Four slots: three stuck calls leave one for the good module.
    let exporter = Exporter::start_with_args(
        &config("global: {concurrency: 4}\n", &modules),
        &["--web.enable-lifecycle"],
    );
    let assert_counted = |s: &Scrape, times: f64| {
        assert_good_present(s);
        for name in STUCK {
            assert_eq!(s.errors(name, "timeout"), times, "{name}");
            assert_eq!(s.all_errors(name), times, "{name}");
        }
        assert!(!s.has_family("adversary_file_bytes"));
    };
    for scrape_no in 1..=4 {
        let answer = exporter.get("/metrics");
        assert_eq!(answer.status, 200);
        // The first scrape waits for the 500ms deadline and 100ms more;
        // the next ones do not start the stuck modules.
        let bound = if scrape_no == 1 { 1500 } else { 400 };
        assert!(
            answer.elapsed < Duration::from_millis(bound),
            "scrape {scrape_no} took {:?}",
            answer.elapsed
        );
        assert_counted(&Scrape::parse(&answer.body), scrape_no as f64);
    }
    // A reload keeps the stuck calls in mind.
    let reload =
        crate::support::request("POST", &format!("http://{}/-/reload", exporter.addr), &[]);
    assert_eq!(reload.status, 200, "{}", reload.body);
    let answer = exporter.get("/metrics");
    assert!(
        answer.elapsed < Duration::from_millis(400),
        "{:?}",
        answer.elapsed
    );
    assert_counted(&Scrape::parse(&answer.body), 5.0);
    let log = exporter.log().join("\n");
    for needle in [
        "still blocked in a host call at its deadline",
        "not started again until that call returns",
    ] {
        assert!(
            log.contains(needle),
            "the log should say {needle:?}:\n{log}"
        );
    }
    // The filesystem answers: the stuck calls return, and the modules are
    // started again and succeed.
    for name in STUCK {
        fs.release(name);
    }
    wait_until(Duration::from_secs(10), "successful reads", || {
        let s = exporter.scrape();
        STUCK.iter().all(|name| {
            s.value(&format!(
                "adversary_file_bytes{{path=\"/data/{name}\",error=\"\"}}"
            )) == Some(13.0)
        })
    });
    assert_good_present(&exporter.scrape());
}

/// With one slot, held by a stuck call, the good module waits past its
/// deadline and its scrape gives up on it. When the stuck call returns,
/// the good module's call that never started must not count as stuck: the
/// module is run again on the next scrape.
#[test]
fn a_call_that_never_started_is_not_left_stuck() {
    let (fs, grant) = hung(&["hung"]);
    let exporter = Exporter::start(&config(
        "global: {concurrency: 1}\n",
        &[module("stuck", "adversary", "{mode: read_file, path: /data/hung}").with(&grant)],
    ));
    // Scrape 1: the good module runs first, then the stuck one takes the
    // slot for good. Scrape 2: the good module waits for the slot until its
    // 2s deadline.
    assert_good_present(&exporter.scrape());
    let s = exporter.scrape();
    assert_eq!(s.errors("good", "timeout"), 1.0, "{}", s.text);
    // Unblock the stuck call; the good module's queued call is refused
    // when the slot frees (its deadline passed), and must not be counted
    // as a call still running.
    fs.release("hung");
    wait_until(
        Duration::from_secs(10),
        "the good module served again",
        || {
            let s = exporter.scrape();
            s.text.lines().any(|l| l == "wat_ok 42")
                && s.value("adversary_file_bytes{path=\"/data/hung\",error=\"\"}") == Some(13.0)
        },
    );
}

/// A hung filesystem with the files `names`, and the grant of it as `/data`
/// (with the short timeout) for a module of the test config. Reading a
/// file blocks in the kernel until [`HungFs::release`].
fn hung(names: &[&str]) -> (HungFs, String) {
    let fs = HungFs::mount(names);
    let grant = format!(
        "    grants: {{dirs: [{{host: {}, guest: /data}}]}}\n{SHORT}",
        q(fs.path())
    );
    (fs, grant)
}
