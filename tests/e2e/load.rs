//! Load under faults: concurrent scrapes for a bounded time against a mix
//! of good and faulting guests, on loopback.
//!
//! Ignored by default (it takes ~15 s and both cores); `cargo xtask test`
//! runs it on its own after the other tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Exporter, Scrape, fixture, guest, q};

const DURATION: Duration = Duration::from_secs(15);
const CLIENTS: usize = 4;
/// Upper bound on requests, whatever the speed.
const MAX_REQUESTS: u64 = 200_000;

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "load test: run by `cargo xtask test` on its own"]
fn concurrent_scrapes_with_faulting_guests() {
    let adversary = q(&guest("adversary"));
    let faulty = ["crash", "spin", "bomb", "refuse", "garbage", "fat"];
    let config = [
        "global: {concurrency: 8}".to_string(),
        "modules:".into(),
        format!("  - name: good\n    component: {}", q(&guest("ok"))),
        format!(
            "  - name: sysinfo\n    component: {}\n    grants: {{dirs: [{{host: {}, guest: /proc}}]}}",
            q(&guest("sysinfo")),
            q(&fixture("proc"))
        ),
        format!("  - name: crash\n    component: {}", q(&guest("trap"))),
        format!(
            "  - name: spin\n    component: {}\n    limits: {{timeout: 200ms}}",
            q(&guest("loop"))
        ),
        format!("  - name: bomb\n    component: {}", q(&guest("membomb"))),
        format!("  - name: refuse\n    component: {adversary}\n    params: {{mode: error}}"),
        format!(
            "  - name: garbage\n    component: {adversary}\n    params: {{mode: duplicate_series}}"
        ),
        format!(
            "  - name: fat\n    component: {adversary}\n    params: {{mode: many_series, count: 20000}}"
        ),
    ]
    .join("\n");
    let exporter = Arc::new(Exporter::start(&config));
    let pid = exporter.pid();

    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let exporter = exporter.clone();
            let stop = stop.clone();
            let requests = requests.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed)
                    && requests.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS
                {
                    let a = exporter.get("/metrics");
                    latencies.push(a.elapsed);
                    if a.status != 200 {
                        failures.push(format!("status {}", a.status));
                        continue;
                    }
                    match std::panic::catch_unwind(|| Scrape::parse_unlinted(&a.body)) {
                        Ok(s) => {
                            if s.value("wat_ok") != Some(42.0)
                                || s.value("sys_mem_usage") != Some(25.0)
                            {
                                failures.push("good series missing".into());
                            }
                        }
                        Err(_) => failures.push("unparsable exposition".into()),
                    }
                }
                (latencies, failures)
            })
        })
        .collect();

    let mut rss_samples = Vec::new();
    while start.elapsed() < DURATION {
        rss_samples.push(rss_kib(pid, "VmRSS:"));
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for c in clients {
        let (l, f) = c.join().expect("client thread");
        latencies.extend(l);
        failures.extend(f);
    }
    let elapsed = start.elapsed();

    // Every fault was counted exactly once per scrape, the good modules never.
    let last = exporter.scrape();
    let scrapes = last.value("wasm_exporter_scrapes_total").unwrap();
    for m in faulty {
        assert_eq!(last.all_errors(m), scrapes, "errors of {m} vs scrapes");
    }
    assert_eq!(last.all_errors("good") + last.all_errors("sysinfo"), 0.0);

    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    let peak = rss_kib(pid, "VmHWM:");
    let third = rss_samples.len() / 3;
    let early = *rss_samples[..third].iter().max().unwrap();
    let late = *rss_samples[2 * third..].iter().max().unwrap();
    println!(
        "load: {} scrapes in {:.1}s ({:.1}/s) by {CLIENTS} clients; latency p50 {:?} p99 {:?} max {:?}; \
         RSS early {} MiB, late {} MiB, peak {} MiB; {} failures",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        latencies.last().unwrap(),
        early / 1024,
        late / 1024,
        peak / 1024,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "failures: {:?}",
        &failures[..failures.len().min(10)]
    );
    assert!(latencies.len() > 50, "too few scrapes: {}", latencies.len());
    assert!(
        peak < 512 * 1024,
        "peak RSS {} MiB is beyond the bound",
        peak / 1024
    );
    assert!(
        late <= early + early / 4,
        "RSS grew from {} MiB to {} MiB during the run",
        early / 1024,
        late / 1024
    );
}
