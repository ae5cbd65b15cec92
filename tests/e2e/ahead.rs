//! Sandboxes instantiated ahead of their call (`global.prepare_ahead`):
//! used only where a sandbox made early is the same as one made at the
//! call, never left holding slots, and a guest whose start code never ends
//! or bloats still costs only its own series. The modules expected to be
//! prepared run `slowstart`, whose start code takes milliseconds: a
//! module whose instantiation is quicker than the task that would move it
//! (20 µs) is not prepared, whatever its grants.

use std::fmt::Write as _;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{Exporter, Scrape, guest, q, request};

/// The module page's count of calls that found their sandbox instantiated
/// ahead.
fn ahead_calls(exporter: &Exporter, module: &str) -> u64 {
    let page = exporter.get(&format!("/modules/{module}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let key = "<th>calls in a sandbox instantiated ahead</th><td>";
    let at = page
        .body
        .find(key)
        .unwrap_or_else(|| panic!("no ahead count on the page of {module}:\n{}", page.body));
    let rest = &page.body[at + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("bad ahead count on the page of {module}: {rest:.40}"))
}

fn component(name: &str, component: &str, rest: &str) -> String {
    format!(
        "  - name: {name}\n    component: {}\n{rest}",
        q(&guest(component))
    )
}

/// What the module page says of preparing the module's sandboxes.
fn ahead_policy(exporter: &Exporter, module: &str) -> String {
    let page = exporter.get(&format!("/modules/{module}")).body;
    let key = "<th>sandboxes instantiated ahead</th><td>";
    let at = page
        .find(key)
        .unwrap_or_else(|| panic!("no ahead policy on the page of {module}:\n{page}"));
    let rest = &page[at + key.len()..];
    rest[..rest.find("</td>").unwrap_or(rest.len())].to_string()
}

fn assert_slow(s: &Scrape) {
    assert!(
        s.text.lines().any(|l| l == "wat_slow_start 1"),
        "the slow-starting module must be served:\n{}",
        s.text
    );
}

fn assert_good(s: &Scrape) {
    assert!(
        s.text.lines().any(|l| l == "wat_ok 42"),
        "the good module must be served:\n{}",
        s.text
    );
}

/// A few scrapes, paced so that each module's next sandbox is ready
/// before the next scrape.
fn scrapes(exporter: &Exporter, n: usize) -> Vec<Scrape> {
    (0..n)
        .map(|_| {
            let s = exporter.scrape();
            thread::sleep(Duration::from_millis(100));
            s
        })
        .collect()
}

/// A module granted files on procfs runs in sandboxes made ahead and
/// serves what it would otherwise; a module granted a directory elsewhere
/// is never prepared, and sees that directory replaced between two
/// scrapes.
#[test]
fn only_modules_whose_sandbox_cannot_go_stale_are_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("value"), "one").unwrap();
    // Four slots, three of which may hold prepared sandboxes: one for each
    // module that may be prepared, whatever the machine's CPU count.
    let mut config = String::from("global: {concurrency: 4}\nmodules:\n");
    config.push_str(&component("good", "ok", ""));
    config.push_str(&component(
        "slow",
        "slowstart",
        "    grants: {files: [/proc/meminfo]}\n",
    ));
    config.push_str(&component(
        "meminfo",
        "adversary",
        "    params: {mode: read_file, path: /proc/meminfo}\n    grants: {files: [/proc/meminfo]}\n",
    ));
    let _ = write!(
        config,
        "{}",
        component(
            "disk",
            "adversary",
            &format!(
                "    params: {{mode: read_file, path: /data/value}}\n    grants: {{dirs: [{{host: {}, guest: /data}}]}}\n",
                q(&data)
            ),
        )
    );
    let exporter = Exporter::start(&config);
    let all = scrapes(&exporter, 6);
    for s in &all {
        assert_good(s);
        assert_slow(s);
        let meminfo = s
            .samples
            .iter()
            .find(|(k, _)| k.starts_with("adversary_file_bytes{path=\"/proc/meminfo\""))
            .and_then(|(_, v)| v.parse::<f64>().ok());
        assert!(
            meminfo.is_some_and(|v| v > 100.0),
            "meminfo read in full in every sandbox:\n{}",
            s.text
        );
        assert_eq!(
            s.value("adversary_file_bytes{path=\"/data/value\",error=\"\"}"),
            Some(3.0),
            "{}",
            s.text
        );
    }
    // The first call instantiates at the call; most of the others find
    // their sandbox ready (paced 100 ms apart).
    let n = ahead_calls(&exporter, "slow");
    assert!(n >= 3, "{n} of 6 calls in sandboxes made ahead");
    let page = exporter.get("/modules/slow").body;
    assert!(
        page.contains("<th>sandbox</th><td>instantiated ahead of the call</td>"),
        "{page}"
    );
    let policy = ahead_policy(&exporter, "slow");
    assert!(
        policy.starts_with("when its instantiation takes 20 µs or more"),
        "{policy}"
    );
    assert_eq!(
        ahead_calls(&exporter, "disk"),
        0,
        "a disk directory: never ahead"
    );
    assert_eq!(
        ahead_policy(&exporter, "disk"),
        "never: a granted directory is not on procfs or sysfs"
    );

    // The granted directory replaced by another at the same path: the next
    // scrape reads the new one.
    std::fs::rename(&data, dir.path().join("old")).unwrap();
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("value"), "second").unwrap();
    let s = exporter.scrape();
    assert_eq!(
        s.value("adversary_file_bytes{path=\"/data/value\",error=\"\"}"),
        Some(6.0),
        "the replaced directory must be read:\n{}",
        s.text
    );
    assert_good(&s);
}

/// With `prepare_ahead: false`, every call instantiates its own sandbox.
#[test]
fn prepare_ahead_can_be_turned_off() {
    let config = format!(
        "global: {{prepare_ahead: false}}\nmodules:\n{}",
        component("slow", "slowstart", "")
    );
    let exporter = Exporter::start(&config);
    for s in scrapes(&exporter, 4) {
        assert_slow(&s);
    }
    assert_eq!(ahead_calls(&exporter, "slow"), 0);
    let page = exporter.get("/modules/slow").body;
    assert!(
        page.contains("<th>sandbox</th><td>instantiated at the call</td>"),
        "{page}"
    );
    assert_eq!(
        ahead_policy(&exporter, "slow"),
        "never: global.prepare_ahead is off, or global.concurrency is 1"
    );
}

/// A guest whose start code spins forever, and one whose start code grows
/// memory until refused: each scrape counts each once, with its reason,
/// also when the failure happened while its sandbox was being prepared,
/// and the good module is served on time beside them.
#[test]
fn start_code_that_spins_or_bloats_costs_only_its_own_series() {
    let config = format!(
        "global: {{concurrency: 4}}\nmodules:\n{}{}{}",
        component("good", "ok", ""),
        component("startloop", "startloop", "    limits: {timeout: 300ms}\n"),
        component("startbomb", "startbomb", ""),
    );
    let exporter = Exporter::start(&config);
    let rounds = 6;
    for i in 1..=rounds {
        let start = Instant::now();
        let s = exporter.scrape();
        let took = start.elapsed();
        assert_good(&s);
        assert!(
            took < Duration::from_secs(3),
            "scrape {i} took {took:?}: a preparing sandbox must not hold the scrape"
        );
        assert_eq!(s.errors("startloop", "timeout"), i as f64, "{}", s.text);
        assert_eq!(s.errors("startbomb", "memory"), i as f64, "{}", s.text);
        assert_eq!(s.all_errors("good"), 0.0);
        // Let the failing preparations finish: the next call reports them.
        thread::sleep(Duration::from_millis(500));
    }
    for module in ["startloop", "startbomb"] {
        assert!(
            ahead_calls(&exporter, module) >= 3,
            "{module}: its failures were found while preparing"
        );
    }
    let log = exporter.log().join("\n");
    assert!(
        log.contains("instantiating ahead of the call: interrupted at its deadline"),
        "{log}"
    );
    assert!(
        log.contains("instantiating ahead of the call: memory limit"),
        "{log}"
    );
}

/// Reloads drop the modules' prepared sandboxes and give their slots back:
/// with `concurrency: 2` one slot may wait prepared, so a single leaked
/// slot would stop every later module from being prepared.
#[test]
fn reloads_give_back_the_slots_of_prepared_sandboxes() {
    let config = |n: usize| {
        format!(
            "global: {{concurrency: 2}}\nmodules:\n{}",
            component(&format!("slow{n}"), "slowstart", "")
        )
    };
    let exporter = Exporter::start_with_args(&config(0), &["--web.enable-lifecycle"]);
    for n in 1..=8 {
        assert_slow(&exporter.scrape());
        thread::sleep(Duration::from_millis(100));
        std::fs::write(exporter.config_path(), config(n)).unwrap();
        let a = request("POST", &format!("http://{}/-/reload", exporter.addr), &[]);
        assert_eq!(a.status, 200, "{}", a.body);
    }
    for s in scrapes(&exporter, 4) {
        assert_slow(&s);
    }
    assert!(
        ahead_calls(&exporter, "slow8") >= 2,
        "the last module is prepared: every earlier slot was given back"
    );
}
