//! The front door: the real binary under systemd's default descriptor
//! limit, flooded with half-open connections from loopback (bounded in
//! count and time), keeps answering scrapes on time with a bounded log;
//! late headers and idle connections are closed; scrapes beyond
//! `--web.max-requests` are answered 503 at once; running out of
//! descriptors backs off instead of spinning.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{Exporter, guest, q, wait_until};

/// Half a request header, as a slow or malicious client sends it.
const HALF_HEADER: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/pl";

fn ok_config() -> String {
    format!(
        "modules:\n  - name: good\n    component: {}\n",
        q(&guest("ok"))
    )
}

/// Lets this test process hold `n` more descriptors (the flood's client
/// side), raising the hard limit too where allowed (as root).
fn allow_own_descriptors(n: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().expect("getrlimit");
    let want = n + 1024;
    if soft >= want {
        return;
    }
    if hard < want {
        rlimit::Resource::NOFILE
            .set(want, want)
            .unwrap_or_else(|e| {
                panic!("this test needs {want} descriptors (hard limit {hard}): {e}")
            });
    } else {
        rlimit::Resource::NOFILE.set(want, hard).expect("setrlimit");
    }
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Whether the exporter has closed its side: a read returns end of file or
/// a reset rather than blocking.
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // A 503 written by the exporter before it closed.
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        .parse()
        .unwrap()
}

/// `n` half-open connections against the exporter under `ulimit -n 1024`.
fn flood(n: usize) {
    allow_own_descriptors(n as u64);
    let exporter =
        Exporter::start_with_fd_limit(&ok_config(), &["--web.header-timeout=3s"], "1024");
    exporter.wait_for_log(
        &["file descriptor limit", "before=1024", "soft=1024"],
        Duration::from_secs(5),
    );
    exporter.wait_for_log(
        &["HTTP limits", "max_connections=256"],
        Duration::from_secs(5),
    );
    let pid = exporter.pid();
    let addr: SocketAddr = exporter.addr.parse().unwrap();
    assert_eq!(exporter.get("/metrics").status, 200);
    let log_before = exporter.log().len();
    let fds_before = open_descriptors(pid);

    let start = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut connect_failures = 0;
    for _ in 0..n {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
            Ok(mut s) => {
                // The exporter may have closed it already (evicted).
                let _ = s.write_all(HALF_HEADER);
                conns.push(s);
            }
            Err(_) => connect_failures += 1,
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "opening the connections took too long"
        );
    }
    let opened = start.elapsed();

    // Scrapes and health checks still answer, on time.
    for _ in 0..3 {
        let a = exporter.get("/metrics");
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.lines().any(|l| l == "wat_ok 42"), "{}", a.body);
        assert!(
            a.elapsed < Duration::from_secs(1),
            "a scrape took {:?} with {n} half-open connections",
            a.elapsed
        );
        let h = exporter.get("/-/healthy");
        assert_eq!(h.status, 200);
        assert!(h.elapsed < Duration::from_secs(1), "{:?}", h.elapsed);
    }
    let fds_during = open_descriptors(pid);
    assert!(
        fds_during <= fds_before + 256 + 8,
        "{fds_during} descriptors open during the flood, {fds_before} before (cap 256)"
    );

    // Every half-open connection is closed: beyond the cap at once (the
    // oldest make room), the rest when their header is late.
    wait_until(
        Duration::from_secs(10),
        "closing of every half-open connection",
        || conns.iter_mut().all(closed_by_server),
    );
    let closed_after = start.elapsed();
    wait_until(Duration::from_secs(5), "descriptors given back", || {
        open_descriptors(pid) <= fds_before + 2
    });

    let text = exporter.get("/metrics").body;
    let timed_out = sample(
        &text,
        "wasm_exporter_http_connections_closed_total{reason=\"header_timeout\"}",
    );
    let evicted = sample(
        &text,
        "wasm_exporter_http_connections_closed_total{reason=\"evicted\"}",
    );
    assert!(
        timed_out >= 200.0,
        "{timed_out} closed by the header timeout"
    );
    assert!(
        timed_out + evicted >= (n - connect_failures) as f64,
        "{timed_out} + {evicted} closed of {n}"
    );
    assert!(sample(&text, "wasm_exporter_http_connections") <= 2.0);

    let log = exporter.log();
    let added = &log[log_before..];
    assert!(
        added.len() <= 10,
        "{} log lines during the flood:\n{}",
        added.len(),
        added.join("\n")
    );
    println!(
        "flood of {n}: opened in {opened:?} ({connect_failures} connects failed), all closed after {closed_after:?}; \
         {fds_before} descriptors before, {fds_during} during; {timed_out} header timeouts, {evicted} evicted; {} log lines",
        added.len()
    );
}

#[test]
fn eleven_hundred_half_open_connections() {
    flood(1_100);
}

#[test]
fn ten_thousand_half_open_connections() {
    flood(10_000);
}

#[test]
fn soft_descriptor_limit_is_raised_to_the_hard_one() {
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap();
    let exporter = Exporter::start_with_fd_limit(&ok_config(), &[], "-S 1024");
    let line = exporter.wait_for_log(&["file descriptor limit"], Duration::from_secs(5));
    assert!(line.contains("before=1024"), "{line}");
    assert!(line.contains(&format!("hard={hard}")), "{line}");
    if hard != rlimit::INFINITY {
        assert!(line.contains(&format!("soft={hard}")), "{line}");
        let cap = (hard / 4).clamp(16, 16_384);
        exporter.wait_for_log(
            &["HTTP limits", &format!("max_connections={cap}")],
            Duration::from_secs(5),
        );
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", exporter.pid())).unwrap();
    let row = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(!row.contains(" 1024 "), "{row}");
}

fn read_answer(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).expect("reading the answer");
        assert!(n > 0, "closed before the answer was complete");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("content-length");
            if got.len() >= head_end + 4 + length {
                return text.into_owned();
            }
        }
    }
}

/// Whether the exporter closes `s` within `within`.
fn closes_within(s: &mut TcpStream, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if closed_by_server(s) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn late_headers_and_idle_connections_are_closed_busy_ones_kept() {
    let exporter = Exporter::start_with_args(
        &ok_config(),
        &["--web.header-timeout=1s", "--web.idle-timeout=2s"],
    );
    let addr: SocketAddr = exporter.addr.parse().unwrap();
    let request = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n";

    let mut silent = TcpStream::connect(addr).unwrap();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(HALF_HEADER).unwrap();
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(request).unwrap();
    assert!(read_answer(&mut idle).starts_with("HTTP/1.1 200"));
    let mut busy = TcpStream::connect(addr).unwrap();

    // The busy one asks every 500 ms: it stays open past both timeouts.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        busy.write_all(request).unwrap();
        assert!(read_answer(&mut busy).starts_with("HTTP/1.1 200"));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(closes_within(&mut silent, Duration::from_millis(100)));
    assert!(closes_within(&mut slow, Duration::from_millis(100)));
    assert!(closes_within(&mut idle, Duration::from_millis(100)));
    assert!(
        !closed_by_server(&mut busy),
        "a connection in use was closed"
    );

    // A kept-alive connection that starts a request and stalls is closed by
    // the header timeout, not the longer idle one.
    busy.set_nonblocking(false).unwrap();
    busy.write_all(b"GET /-/he").unwrap();
    let stalled = Instant::now();
    assert!(closes_within(&mut busy, Duration::from_secs(3)));
    assert!(
        stalled.elapsed() < Duration::from_millis(1_900),
        "{:?}",
        stalled.elapsed()
    );

    let text = exporter.get("/metrics").body;
    assert!(
        sample(
            &text,
            "wasm_exporter_http_connections_closed_total{reason=\"header_timeout\"}"
        ) >= 3.0
    );
    assert!(
        sample(
            &text,
            "wasm_exporter_http_connections_closed_total{reason=\"idle_timeout\"}"
        ) >= 1.0
    );
}

#[test]
fn scrapes_beyond_max_requests_are_answered_503_at_once() {
    let exporter = std::sync::Arc::new(Exporter::start_with_args(
        &format!(
            "modules:\n  - name: slow\n    component: {}\n    params: {{mode: sleep, ms: 1500}}\n    limits: {{timeout: 5s}}\n",
            q(&guest("adversary"))
        ),
        &["--web.max-requests=1"],
    ));
    let first = {
        let exporter = exporter.clone();
        std::thread::spawn(move || exporter.get("/metrics"))
    };
    std::thread::sleep(Duration::from_millis(300));
    let second = exporter.get("/metrics");
    assert_eq!(second.status, 503, "{}", second.body);
    assert_eq!(
        second.body,
        "Limit of concurrent requests reached (1), try again later.\n"
    );
    assert!(
        second.elapsed < Duration::from_millis(500),
        "{:?}",
        second.elapsed
    );
    let health = exporter.get("/-/healthy");
    assert_eq!(health.status, 200);
    let first = first.join().unwrap();
    assert_eq!(first.status, 200);
    assert!(first.body.contains("adversary_ok"), "{}", first.body);
    let text = exporter.get("/metrics").body;
    assert_eq!(
        sample(&text, "wasm_exporter_http_requests_refused_total"),
        1.0
    );
}

/// With a connection cap above what the descriptor limit allows (set by
/// hand), accepting fails with EMFILE: the exporter backs off, logs the
/// error a few times only, and serves again once descriptors are free.
#[test]
fn running_out_of_descriptors_backs_off_with_a_bounded_log() {
    let exporter = Exporter::start_with_fd_limit(
        &ok_config(),
        &["--web.max-connections=1000", "--web.header-timeout=2s"],
        "96",
    );
    let addr: SocketAddr = exporter.addr.parse().unwrap();
    assert_eq!(exporter.get("/metrics").status, 200);
    let log_before = exporter.log().len();
    let mut conns = Vec::new();
    let start = Instant::now();
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            let _ = s.write_all(HALF_HEADER);
            conns.push(s);
        }
    }
    // Keep the table full for a while: the accept loop must not spin.
    while start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let cpu_before = cpu_ticks(exporter.pid());
    std::thread::sleep(Duration::from_millis(1_000));
    let cpu_used = cpu_ticks(exporter.pid()) - cpu_before;
    drop(conns);
    // Once the held connections time out, descriptors are free again.
    wait_until(Duration::from_secs(10), "a scrape after the flood", || {
        crate::support::try_request(
            "GET",
            &format!("http://{}/metrics", exporter.addr),
            &[],
            None,
        )
        .is_ok_and(|a| a.status == 200)
    });
    let text = exporter.get("/metrics").body;
    assert!(sample(&text, "wasm_exporter_http_accept_errors_total") >= 1.0);
    let log = exporter.log();
    let failures: Vec<&String> = log[log_before..]
        .iter()
        .filter(|l| l.contains("accepting a connection failed"))
        .collect();
    assert!(!failures.is_empty(), "EMFILE was never hit");
    assert!(failures.len() <= 2, "{failures:#?}");
    assert!(
        failures[0].contains("Too many open files"),
        "{}",
        failures[0]
    );
    // 100 ticks a second; spinning on accept would take most of one core.
    assert!(
        cpu_used < 30,
        "{cpu_used} ticks of CPU in 1 s while out of descriptors"
    );
}

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}
