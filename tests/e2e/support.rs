//! Test support: start the real `wasm_exporter` binary on a free loopback
//! port with a generated config, scrape it over HTTP, read its log.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf()
}

/// Path of a guest built by `cargo xtask guests`.
pub fn guest(name: &str) -> PathBuf {
    let path = root().join("target/guests").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build the guests first with `cargo xtask guests` (or run `cargo xtask test`)",
        path.display()
    );
    path
}

/// Path of a plugin directory assembled by `cargo xtask guests`.
pub fn plugin(name: &str) -> PathBuf {
    let path = root().join("target/plugins").join(name);
    assert!(
        path.join("plugin.yaml").exists(),
        "{} is missing: build the guests first with `cargo xtask guests`",
        path.display()
    );
    path
}

/// A test fixture directory.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// How long an exporter may take to start listening. Compiling a Python or
/// JavaScript guest takes seconds alone and much longer on a machine busy
/// with other builds; this bounds a hang, it measures nothing.
const START_TIMEOUT: Duration = Duration::from_secs(600);

/// Held while a test starts an exporter with a Python or JavaScript guest
/// (compiling it unless the cache has it) or builds a template. Either
/// takes both cores for 10-20 s; several at once, as parallel tests would
/// do, multiply that. Taking turns, the first compiles and the next ones
/// find the compiled guest in the shared cache.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running exporter, killed when dropped.
pub struct Exporter {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    config_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    /// The body, lossily decoded.
    pub body: String,
    /// The body as sent.
    pub bytes: Vec<u8>,
    pub elapsed: Duration,
}

impl Exporter {
    /// Starts the exporter with `config` (YAML) written to a temporary file,
    /// and waits until it listens.
    pub fn start(config: &str) -> Exporter {
        Self::start_with_args(config, &[])
    }

    /// Same as [`Exporter::start`] with extra command-line flags.
    pub fn start_with_args(config: &str, args: &[&str]) -> Exporter {
        Self::start_full(config, args, &[])
    }

    /// Same as [`Exporter::start`] with extra flags and environment variables.
    pub fn start_full(config: &str, args: &[&str], envs: &[(&str, &str)]) -> Exporter {
        Self::start_in(config, args, envs, None)
    }

    /// Same as [`Exporter::start`], under `ulimit -n nofile` (soft and
    /// hard).
    pub fn start_limited(config: &str, nofile: u64) -> Exporter {
        Self::start_with_fd_limit(config, &[], &nofile.to_string())
    }

    /// Same as [`Exporter::start_full`], started in the working directory
    /// `cwd` when given.
    pub fn start_in(
        config: &str,
        args: &[&str],
        envs: &[(&str, &str)],
        cwd: Option<&Path>,
    ) -> Exporter {
        Self::launch(config, args, envs, cwd, None)
    }

    /// Same as [`Exporter::start_with_args`], with the file descriptor
    /// limits set first by the shell's `ulimit -n` with `ulimit_args`
    /// (`"1024"` sets soft and hard, `"-S 1024"` the soft one only).
    pub fn start_with_fd_limit(config: &str, args: &[&str], ulimit_args: &str) -> Exporter {
        Self::launch(config, args, &[], None, Some(ulimit_args))
    }

    fn launch(
        config: &str,
        args: &[&str],
        envs: &[(&str, &str)],
        cwd: Option<&Path>,
        ulimit: Option<&str>,
    ) -> Exporter {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("writing config");
        let binary = env!("CARGO_BIN_EXE_wasm_exporter");
        let mut command = match ulimit {
            None => Command::new(binary),
            Some(limit) => {
                // exec keeps the pid, so kill() reaches the exporter.
                let mut c = Command::new("bash");
                c.args([
                    "-c",
                    &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
                    binary,
                ]);
                c
            }
        };
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        // Compiled components are cached across tests (Python and
        // JavaScript guests take seconds to compile), unless a test sets
        // its own cache.
        if !args.iter().any(|a| a.starts_with("--cache.dir")) {
            command.arg(format!(
                "--cache.dir={}",
                root().join("target/e2e-compile-cache").display()
            ));
        }
        let mut child = command
            .arg("--web.listen-address=127.0.0.1:0")
            .arg(format!("--config.file={}", config_path.display()))
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting wasm_exporter");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line
                    .split("listening on ")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                {
                    let _ = tx.send(addr.trim().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let log = log.lock().unwrap().join("\n");
                panic!("wasm_exporter did not start listening; log:\n{log}");
            }
        };
        Exporter {
            child,
            addr,
            log,
            config_path,
            _dir: dir,
        }
    }

    /// GET `path` with extra `headers`.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        request("GET", &format!("http://{}{}", self.addr, path), headers)
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[])
    }

    /// A successful scrape of /metrics, parsed and checked by `promtool
    /// check metrics`.
    pub fn scrape(&self) -> Scrape {
        let a = self.get("/metrics");
        assert_eq!(a.status, 200, "scrape failed: {}", a.body);
        Scrape::parse(&a.body)
    }

    /// The log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for a log line containing all of `needles`.
    pub fn wait_for_log(&self, needles: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self
                .log()
                .into_iter()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return line;
            }
            if start.elapsed() > timeout {
                panic!(
                    "no log line with {needles:?} within {timeout:?}; log:\n{}",
                    self.log().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The config file the exporter was started with (rewrite it and reload).
    pub fn config_path(&self) -> PathBuf {
        self.config_path.clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one HTTP request with a real client.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Answer {
    try_request(method, url, headers, None).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Sends one request, over TLS with `tls` if given; connection and
/// handshake failures are returned, not panicked on.
pub fn try_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    tls: Option<ureq::tls::TlsConfig>,
) -> Result<Answer, String> {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)));
    if let Some(tls) = tls {
        config = config.tls_config(tls);
    }
    let agent: ureq::Agent = config.build().into();
    let start = Instant::now();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(()).expect("request");
    let mut resp = agent.run(req).map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .map_err(|e| format!("reading body of {url}: {e}"))?;
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
        elapsed: start.elapsed(),
    })
}

/// Runs `promtool check metrics` (Prometheus' own parser and linter) on a
/// text-format exposition. Parse errors fail; so does every lint problem,
/// as the exporter's and the test guests' metrics are all meant to be clean.
pub fn promtool_check(text: &str) {
    let (ok, report) = promtool_findings(text);
    assert!(
        ok,
        "promtool check metrics failed:\n{report}\n--- exposition:\n{text}"
    );
}

/// Runs `promtool check metrics` on a text-format exposition: whether it
/// passed, and what promtool printed (its lint findings, one a line).
pub fn promtool_findings(text: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running promtool (install Debian's `prometheus` package)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs `promtool check metrics` once on many text expositions, one after
/// the other; lint findings are accepted (arbitrary output need not follow
/// naming conventions), parse errors are not. On a parse error, returns
/// the index of the exposition at fault and promtool's message.
pub fn promtool_batch(texts: &[String]) -> Result<(), (usize, String)> {
    use std::io::Write as _;
    let mut all = String::new();
    let mut first_lines = Vec::with_capacity(texts.len());
    for t in texts {
        first_lines.push(all.lines().count() + 1);
        all.push_str(t);
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running promtool (install Debian's `prometheus` package)");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(all.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    // 0: clean; 3: lint findings only; 1: the text did not parse.
    if matches!(out.status.code(), Some(0 | 3)) {
        return Ok(());
    }
    let message = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line: usize = message
        .split("line ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(1);
    let case = first_lines
        .partition_point(|&first| first <= line)
        .saturating_sub(1);
    Err((case, format!("{}: {message}", out.status)))
}

/// The pinned `prometheus_client` (the Python client library, whose
/// parsers are the reference implementation of OpenMetrics), installed from
/// PyPI into a venv under `target/` on first use.
const PROMETHEUS_CLIENT: &str = "prometheus_client==0.26.0";

fn python_with_prometheus_client() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let venv = root().join("target/property-venv");
            let python = venv.join("bin/python");
            let marker = venv.join(PROMETHEUS_CLIENT);
            if marker.exists() {
                return python;
            }
            let run = |cmd: &mut Command| {
                let out = cmd.output().expect("running python3");
                assert!(
                    out.status.success(),
                    "{cmd:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            run(Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PROMETHEUS_CLIENT,
            ]));
            std::fs::write(&marker, "").expect("writing the venv marker");
            python
        })
        .clone()
}

const PARSE_PY: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
out = []
for fmt, exposition in json.load(sys.stdin):
    try:
        series = []
        for family in (om if fmt == "om" else text)(exposition):
            for s in family.samples:
                series.append([s.name, sorted(s.labels.items()), repr(float(s.value))])
        out.append({"ok": series})
    except Exception as e:
        out.append({"err": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout)
"#;

/// Parses expositions with `prometheus_client` (its text-format parser, or
/// its OpenMetrics parser), all in one Python process; for each, the series
/// read (name, sorted labels, value) sorted, or the parser's error.
pub fn external_parse(
    texts: &[(wasm_exporter::exposition::Format, String)],
) -> Vec<Result<Vec<crate::properties::Series>, String>> {
    use std::io::Write as _;
    use wasm_exporter::exposition::Format;
    let input: Vec<(&str, &str)> = texts
        .iter()
        .map(|(f, t)| {
            (
                if *f == Format::OpenMetrics {
                    "om"
                } else {
                    "text"
                },
                t.as_str(),
            )
        })
        .collect();
    let input = serde_json::to_vec(&input).unwrap();
    let mut child = Command::new(python_with_prometheus_client())
        .args(["-c", PARSE_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running python");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "the parser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    results
        .into_iter()
        .map(|r| {
            if let Some(e) = r.get("err") {
                return Err(e.as_str().unwrap_or_default().to_string());
            }
            let mut series: Vec<_> = r["ok"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let labels = s[1]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|kv| {
                            (
                                kv[0].as_str().unwrap().to_string(),
                                kv[1].as_str().unwrap().to_string(),
                            )
                        })
                        .collect();
                    let value: f64 = s[2].as_str().unwrap().parse().unwrap();
                    (
                        s[0].as_str().unwrap().to_string(),
                        labels,
                        crate::properties::ValueKey::of(value),
                    )
                })
                .collect();
            series.sort();
            Ok(series)
        })
        .collect()
}

/// A test PKI: a CA, a server certificate for 127.0.0.1 and localhost, a
/// client certificate from the same CA, and one from another CA.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_pem: String,
    pub client: (String, String),
    pub stranger: (String, String),
}

impl Pki {
    /// Generates everything and writes ca.pem, server.pem, server.key into
    /// `dir`.
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_params = |name: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name
                .push(rcgen::DnType::CommonName, name.to_string());
            p
        };
        let ca = CertifiedIssuer::self_signed(ca_params("test CA"), KeyPair::generate().unwrap())
            .unwrap();
        let other_ca =
            CertifiedIssuer::self_signed(ca_params("other CA"), KeyPair::generate().unwrap())
                .unwrap();
        let leaf = |names: Vec<String>, issuer: &rcgen::Issuer<'_, KeyPair>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, issuer)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let server = leaf(vec!["127.0.0.1".into(), "localhost".into()], &ca);
        let client = leaf(vec!["client.test".into()], &ca);
        let stranger = leaf(vec!["stranger.test".into()], &other_ca);
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), &server.0).unwrap();
        std::fs::write(dir.path().join("server.key"), &server.1).unwrap();
        Pki {
            ca_pem: ca.pem(),
            dir,
            client,
            stranger,
        }
    }

    /// Path of a file in the PKI directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A client TLS config trusting the test CA, with an optional client
    /// certificate (PEM cert, PEM key).
    pub fn client_tls(&self, cert: Option<&(String, String)>) -> ureq::tls::TlsConfig {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let ca = Certificate::from_pem(self.ca_pem.as_bytes()).unwrap();
        let mut b = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
        if let Some((c, k)) = cert {
            b = b.client_cert(Some(ClientCert::new_with_certs(
                &[Certificate::from_pem(c.as_bytes()).unwrap()],
                PrivateKey::from_pem(k.as_bytes()).unwrap(),
            )));
        }
        b.build()
    }
}

/// A free loopback port (bound and released, for servers that cannot
/// report the port they picked).
/// Asserts that every one of `lines` is a whole line of `text`.
pub fn assert_has_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "missing line {line:?} in:\n{text}"
        );
    }
}

/// Asserts that `module` was served in `s`: up, and no scrape error.
pub fn assert_healthy(s: &Scrape, module: &str) {
    assert_eq!(
        s.value(&format!("wasm_exporter_module_up{{module=\"{module}\"}}")),
        Some(1.0),
        "module {module} is down:\n{}",
        s.text
    );
    assert_eq!(s.all_errors(module), 0.0, "errors of {module}:\n{}", s.text);
}

/// Calls `done` every 100 ms until it holds, and panics naming `what` if
/// it still does not after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "no {what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A parsed exposition: sample lines by series, and the raw text.
pub struct Scrape {
    pub text: String,
    /// `name{labels}` exactly as written → value text.
    pub samples: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses a text-format exposition and checks it twice: with
    /// `promtool check metrics` (Prometheus' own parser and linter) and with
    /// [`Scrape::parse_unlinted`]'s rules.
    pub fn parse(text: &str) -> Scrape {
        promtool_check(text);
        Scrape::parse_unlinted(text)
    }

    /// Parses and checks the text format without promtool: every line is a
    /// HELP/TYPE comment or a sample `series value`, each family's HELP and
    /// TYPE precede its samples, and no series appears twice. For the load
    /// test, whose hundreds of scrapes a second promtool could not follow.
    pub fn parse_unlinted(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        let mut typed = std::collections::HashSet::new();
        assert!(
            text.ends_with('\n') || text.is_empty(),
            "exposition must end with a newline"
        );
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(typed.insert(name.to_string()), "TYPE of {name} twice");
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment {line:?}");
            let (series, value) = split_sample(line);
            let family = series.split('{').next().unwrap();
            // A sample belongs to the family of its name, or of its name
            // without the suffix its type adds.
            assert!(
                std::iter::once(family)
                    .chain(
                        ["_total", "_bucket", "_sum", "_count"]
                            .iter()
                            .filter_map(|s| family.strip_suffix(s))
                    )
                    .any(|f| typed.contains(f)),
                "sample before its TYPE: {line:?}"
            );
            assert!(
                value == "NaN"
                    || value == "+Inf"
                    || value == "-Inf"
                    || value.parse::<f64>().is_ok(),
                "bad value in {line:?}"
            );
            assert!(
                samples
                    .insert(series.to_string(), value.to_string())
                    .is_none(),
                "series twice: {series}"
            );
        }
        Scrape {
            text: text.to_string(),
            samples,
        }
    }

    /// The value of `series` (e.g. `up{module="a"}`), as f64.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.samples.get(series).map(|v| match v.as_str() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().expect("value parses"),
        })
    }

    /// `wasm_exporter_scrape_errors_total` for a module and reason.
    pub fn errors(&self, module: &str, reason: &str) -> f64 {
        self.value(&format!(
            "wasm_exporter_scrape_errors_total{{module=\"{module}\",reason=\"{reason}\"}}"
        ))
        .unwrap_or_else(|| panic!("no scrape_errors series for {module}/{reason}"))
    }

    /// Sum of `wasm_exporter_scrape_errors_total` over reasons for a module.
    pub fn all_errors(&self, module: &str) -> f64 {
        let prefix = format!("wasm_exporter_scrape_errors_total{{module=\"{module}\",");
        self.samples
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.parse::<f64>().unwrap())
            .sum()
    }

    /// Whether any series of family `name` is present.
    pub fn has_family(&self, name: &str) -> bool {
        self.samples
            .keys()
            .any(|k| k == name || k.starts_with(&format!("{name}{{")))
    }
}

/// Splits a sample line at the space that ends the series (label values may
/// contain spaces, so scan past the closing brace).
fn split_sample(line: &str) -> (&str, &str) {
    let series_end = if let Some(open) = line.find('{') {
        let bytes = line.as_bytes();
        let mut i = open + 1;
        let mut in_quotes = false;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if in_quotes => i += 1,
                b'"' => in_quotes = !in_quotes,
                b'}' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        assert!(i < bytes.len(), "unterminated labels in {line:?}");
        i + 1
    } else {
        line.find(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"))
    };
    let (series, rest) = line.split_at(series_end);
    let value = rest.trim_start();
    assert!(
        rest.starts_with(' ') && !value.is_empty() && !value.contains(' '),
        "malformed sample line {line:?}"
    );
    (series, value)
}

/// Runs the binary with `args` to completion; returns (exit code, stdout,
/// stderr).
pub fn run_with_output(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wasm_exporter"))
        .args(args)
        .output()
        .expect("running wasm_exporter");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary with `args` to completion; returns (exit code, stdout
/// and stderr).
pub fn exporter_cli(args: &[&str]) -> (i32, String) {
    let (code, stdout, stderr) = run_with_output(args);
    (code, stdout + &stderr)
}

/// Runs the binary with `args` to completion; returns (exit code, stderr).
pub fn run_to_exit(args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = run_with_output(args);
    (code, stderr)
}

/// Starts the exporter with `config` written into `dir` (so that relative
/// paths resolve there) and expects it to refuse to start, with a message
/// that contains everything in `expected`.
pub fn assert_start_refused(dir: &Path, config: &str, expected: &[&str]) {
    assert_start_refused_with(dir, config, &[], expected);
}

/// Same as [`assert_start_refused`] with extra command-line flags.
pub fn assert_start_refused_with(dir: &Path, config: &str, args: &[&str], expected: &[&str]) {
    let path = dir.join("config.yml");
    std::fs::write(&path, config).expect("writing config");
    let config_flag = format!("--config.file={}", path.display());
    let mut all = vec!["--web.listen-address=127.0.0.1:0", config_flag.as_str()];
    all.extend_from_slice(args);
    let (code, stderr) = run_to_exit(&all);
    assert_ne!(code, 0, "config should be refused:\n{config}");
    for e in expected {
        assert!(
            stderr.contains(e),
            "stderr should mention {e:?}; config:\n{config}\nstderr:\n{stderr}"
        );
    }
}

/// YAML-quotes a path.
/// A `grants:` value granting `/proc/<file>` for each of `files`, from
/// `proc_dir` on the host (a fixture, or `/proc` itself).
pub fn proc_files(proc_dir: &Path, files: &[&str]) -> String {
    let items: Vec<String> = files
        .iter()
        .map(|f| format!("{{path: /proc/{f}, host: {}}}", q(&proc_dir.join(f))))
        .collect();
    format!("{{files: [{}]}}", items.join(", "))
}

/// `plugin check` arguments granting `/proc/<file>` for each of `files`
/// from `proc_dir` on the host.
pub fn proc_file_args(proc_dir: &Path, files: &[&str]) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| {
            [
                "--file".to_string(),
                format!("/proc/{f}={}", proc_dir.join(f).display()),
            ]
        })
        .collect()
}

pub fn q(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}
