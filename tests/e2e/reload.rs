//! Operating the exporter: reload through SIGHUP and `POST /-/reload`, a
//! bad new config refused while the old one keeps serving, no failed scrape
//! during reloads, log formats.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{Exporter, Scrape, guest, q, request};

fn config_with(modules: &[(&str, &str)]) -> String {
    let mut c = String::from("modules:\n");
    for (name, component) in modules {
        c.push_str(&format!(
            "  - name: {name}\n    component: {}\n",
            q(&guest(component))
        ));
    }
    c
}

fn post_reload(exporter: &Exporter) -> crate::support::Answer {
    request("POST", &format!("http://{}/-/reload", exporter.addr), &[])
}

#[test]
fn reload_swaps_modules_and_refuses_bad_configs() {
    let exporter =
        Exporter::start_with_args(&config_with(&[("good", "ok")]), &["--web.enable-lifecycle"]);
    let config_path = exporter.config_path();
    let s = exporter.scrape();
    assert_eq!(s.value("wat_ok"), Some(42.0));
    assert_eq!(
        s.value("wasm_exporter_config_last_reload_successful"),
        Some(1.0)
    );

    // Keep scraping during every reload below: no scrape may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicUsize::new(0));
    let exporter = Arc::new(exporter);
    let scraper = {
        let (exporter, stop, scrapes) = (exporter.clone(), stop.clone(), scrapes.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let a = exporter.get("/metrics");
                assert_eq!(a.status, 200, "a scrape failed during a reload: {}", a.body);
                let s = Scrape::parse(&a.body);
                assert_eq!(
                    s.value("wat_ok"),
                    Some(42.0),
                    "the good module is always served"
                );
                scrapes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // A new module appears; the error counters of the kept one survive.
    std::fs::write(
        &config_path,
        config_with(&[("good", "ok"), ("crashy", "trap")]),
    )
    .unwrap();
    let a = post_reload(&exporter);
    assert_eq!(a.status, 200, "{}", a.body);
    let s = exporter.scrape();
    assert!(s.errors("crashy", "trap") >= 1.0);
    assert_eq!(s.all_errors("good"), 0.0);
    // The kept module runs the component loaded before the reload (and so
    // reuses its warm pool slots); the new one was loaded now.
    let kept =
        "<tr><th>component</th><td>already loaded (the same bytes as a module loaded before)</td>";
    let good = exporter.get("/modules/good").body;
    assert!(good.contains(kept), "{good}");
    let crashy = exporter.get("/modules/crashy").body;
    assert!(
        crashy.contains("<tr><th>component</th><td>") && !crashy.contains(kept),
        "{crashy}"
    );

    // A broken config: refused with the reason, the old set keeps serving.
    std::fs::write(
        &config_path,
        "modules:\n  - name: x\n    component: nowhere.wasm\n",
    )
    .unwrap();
    let a = post_reload(&exporter);
    assert_eq!(a.status, 500);
    assert!(a.body.contains("nowhere.wasm"), "{}", a.body);
    exporter.wait_for_log(
        &["level=error", "reload failed", "nowhere.wasm"],
        Duration::from_secs(5),
    );
    let s = exporter.scrape();
    assert_eq!(
        s.value("wasm_exporter_config_last_reload_successful"),
        Some(0.0)
    );
    let before = s.errors("crashy", "trap");
    assert!(
        exporter.scrape().errors("crashy", "trap") > before,
        "crashy still runs"
    );

    // SIGHUP: the module is removed, and so are its self-metric series.
    std::fs::write(&config_path, config_with(&[("good", "ok")])).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &exporter.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    exporter.wait_for_log(
        &["configuration reloaded", "modules=1"],
        Duration::from_secs(10),
    );
    let s = exporter.scrape();
    assert!(!s.text.contains("module=\"crashy\""), "{}", s.text);
    assert_eq!(
        s.value("wasm_exporter_config_last_reload_successful"),
        Some(1.0)
    );

    stop.store(true, Ordering::Relaxed);
    scraper.join().expect("no scrape failed during the reloads");
    assert!(scrapes.load(Ordering::Relaxed) > 3);
}

#[test]
fn a_module_removed_while_its_call_runs_leaves_no_series_behind() {
    let with_sleeper = |sleeper: bool| {
        let mut c = config_with(&[("good", "ok")]);
        if sleeper {
            c.push_str(&format!(
                "  - name: sleeper\n    component: {}\n    params: {{mode: sleep, ms: 1500}}\n    limits: {{timeout: 5s}}\n",
                q(&guest("adversary"))
            ));
        }
        c
    };
    let exporter = Arc::new(Exporter::start_with_args(
        &with_sleeper(true),
        &["--web.enable-lifecycle"],
    ));
    // A scrape on the old set, still waiting for the sleeper while the
    // reload removes it.
    let in_flight = {
        let exporter = exporter.clone();
        std::thread::spawn(move || exporter.scrape())
    };
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(exporter.config_path(), with_sleeper(false)).unwrap();
    let a = post_reload(&exporter);
    assert_eq!(a.status, 200, "{}", a.body);
    let old = in_flight.join().expect("the scrape in flight");
    assert_eq!(
        old.value("adversary_ok{id=\"\"}"),
        Some(1.0),
        "the scrape in flight finished on the old set, after the reload: {}",
        old.text
    );
    // Its call ended after the reload: nothing of it may come back.
    let s = exporter.scrape();
    assert!(!s.text.contains("sleeper"), "{}", s.text);
    assert_eq!(s.value("wat_ok"), Some(42.0));
}

#[test]
fn reload_endpoint_needs_the_lifecycle_flag() {
    let exporter = Exporter::start(&config_with(&[("good", "ok")]));
    let a = post_reload(&exporter);
    assert_eq!(a.status, 403);
    assert!(a.body.contains("--web.enable-lifecycle"));
    let get = exporter.get("/-/reload");
    assert_eq!(get.status, 405);
}

#[test]
fn json_logs() {
    let exporter = Exporter::start_with_args(
        &config_with(&[("crashy", "trap")]),
        &["--log.format=json", "--log.level=debug"],
    );
    exporter.scrape();
    let line = exporter.wait_for_log(&["module scrape failed"], Duration::from_secs(5));
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(v["level"], "warn");
    assert_eq!(v["module"], "crashy");
    assert_eq!(v["reason"], "trap");
    assert!(v["ts"].as_str().unwrap().ends_with('Z'));
    assert!(v["msg"].as_str().unwrap().contains("unreachable"));
}
