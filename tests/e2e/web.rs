//! Web security from an exporter-toolkit web config: TLS, client
//! certificates, basic auth, response headers; and the exposition
//! conventions (OpenMetrics, gzip).

use std::io::Read as _;

use crate::support::{Exporter, Pki, Scrape, guest, promtool_check, q, try_request};

fn one_module() -> String {
    format!(
        "modules:\n  - name: good\n    component: {}\n",
        q(&guest("ok"))
    )
}

fn start_with_web_config(pki: &Pki, web_config: &str) -> Exporter {
    let path = pki.path("web.yml");
    std::fs::write(&path, web_config).unwrap();
    Exporter::start_with_args(
        &one_module(),
        &[&format!("--web.config.file={}", path.display())],
    )
}

/// bcrypt hash of "s3cret" (cost 4 keeps the tests quick).
fn hash() -> String {
    bcrypt::hash("s3cret", 4).unwrap()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn tls_with_basic_auth() {
    let pki = Pki::new();
    let exporter = start_with_web_config(
        &pki,
        &format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: '{}'\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n",
            hash()
        ),
    );
    let https = format!("https://{}/metrics", exporter.addr);
    let tls = || Some(pki.client_tls(None));

    // Plain HTTP on the TLS port is refused with a readable answer.
    let plain = try_request(
        "GET",
        &format!("http://{}/metrics", exporter.addr),
        &[],
        None,
    )
    .expect("the server answers plain HTTP with an error page");
    assert_eq!(plain.status, 400);
    assert!(
        plain.body.contains("HTTP request to an HTTPS server"),
        "{}",
        plain.body
    );

    // No credentials, wrong password, unknown user: 401.
    for auth in [
        None,
        Some(basic("prometheus", "wrong")),
        Some(basic("root", "s3cret")),
    ] {
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        let a = try_request("GET", &https, &headers, tls()).unwrap();
        assert_eq!(a.status, 401, "auth {auth:?}");
        assert_eq!(
            a.headers.get("www-authenticate").map(String::as_str),
            Some("Basic realm=\"wasm_exporter\"")
        );
        assert!(!a.body.contains("wat_ok"));
    }
    // Every endpoint is protected, not only the metrics.
    for path in ["/", "/modules/good"] {
        let a = try_request(
            "GET",
            &format!("https://{}{path}", exporter.addr),
            &[],
            tls(),
        )
        .unwrap();
        assert_eq!(a.status, 401, "{path}");
        assert!(!a.body.contains("good"), "{path}: {}", a.body);
    }

    let auth = basic("prometheus", "s3cret");
    let page = try_request(
        "GET",
        &format!("https://{}/modules/good", exporter.addr),
        &[("Authorization", &auth)],
        tls(),
    )
    .unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Module good</h1>"), "{}", page.body);
    for _ in 0..2 {
        let a = try_request("GET", &https, &[("Authorization", &auth)], tls()).unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(Scrape::parse(&a.body).value("wat_ok"), Some(42.0));
        assert_eq!(
            a.headers.get("x-frame-options").map(String::as_str),
            Some("deny")
        );
        assert_eq!(
            a.headers
                .get("strict-transport-security")
                .map(String::as_str),
            Some("max-age=31536000")
        );
    }

    // A client that does not trust the exporter's CA fails the handshake.
    let untrusted = try_request("GET", &https, &[("Authorization", &auth)], None);
    assert!(untrusted.is_err(), "an unknown CA must not be accepted");
}

#[test]
fn mutual_tls() {
    let pki = Pki::new();
    let exporter = start_with_web_config(
        &pki,
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  min_version: TLS13\n",
    );
    let https = format!("https://{}/metrics", exporter.addr);
    let ok = try_request("GET", &https, &[], Some(pki.client_tls(Some(&pki.client)))).unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(Scrape::parse(&ok.body).value("wat_ok"), Some(42.0));
    let without = try_request("GET", &https, &[], Some(pki.client_tls(None)));
    assert!(
        without.is_err(),
        "a client without a certificate must be refused"
    );
    let stranger = try_request(
        "GET",
        &https,
        &[],
        Some(pki.client_tls(Some(&pki.stranger))),
    );
    assert!(
        stranger.is_err(),
        "a certificate from another CA must be refused"
    );
}

#[test]
fn bad_web_configs_are_refused_at_start() {
    let pki = Pki::new();
    for (web, expected) in [
        ("tls_server_config:\n  cert_file: server.pem\n", "key_file"),
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n",
            "missing.pem",
        ),
        (
            "basic_auth_users:\n  prometheus: not-a-hash\n",
            "not a bcrypt hash",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS10\n",
            "TLS10 is not supported",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: Sometimes\n",
            "unknown client_auth_type",
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_allowed_sans: [a]\n",
            "client_allowed_sans is not supported",
        ),
        (
            "http_server_config:\n  headers:\n    Server: x\n",
            "cannot be configured",
        ),
        ("tls_config: {}\n", "unknown field `tls_config`"),
    ] {
        let path = pki.path("bad-web.yml");
        std::fs::write(&path, web).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.yml");
        std::fs::write(&config, one_module()).unwrap();
        let (code, stderr) = crate::support::run_to_exit(&[
            "--web.listen-address=127.0.0.1:0",
            &format!("--config.file={}", config.display()),
            &format!("--web.config.file={}", path.display()),
        ]);
        assert_ne!(code, 0, "{web}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} for:\n{web}\nstderr: {stderr}"
        );
        assert!(
            stderr.contains("bad-web.yml"),
            "the file is named: {stderr}"
        );
    }
}

#[test]
fn openmetrics_and_gzip_are_negotiated() {
    let exporter = Exporter::start(&format!(
        "{}  - name: counters\n    component: {}\n    params: {{mode: print, lines: 0, id: x}}\n",
        one_module(),
        q(&guest("adversary"))
    ));
    let om = exporter.get_with(
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )],
    );
    assert_eq!(om.status, 200);
    assert_eq!(
        om.headers.get("content-type").map(String::as_str),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    // Counters: family without _total, sample with it.
    assert!(
        om.body
            .contains("# TYPE wasm_exporter_scrape_errors counter\n")
    );
    assert!(
        om.body
            .contains("wasm_exporter_scrape_errors_total{module=\"good\",reason=\"trap\"} 0\n")
    );
    assert!(om.body.contains("# TYPE wat_ok gauge\nwat_ok 42\n"));
    assert!(!om.body.contains("# TYPE wasm_exporter_scrape_errors_total"));

    let text = exporter.get_with("/metrics", &[("Accept", "text/plain;version=0.0.4")]);
    assert_eq!(
        text.headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        text.body
            .contains("# TYPE wasm_exporter_scrape_errors_total counter\n")
    );
    assert!(!text.body.contains("# EOF"));
    promtool_check(&text.body);

    // gzip: read the raw bytes with a plain socket, so no client decompresses
    // on our behalf, and check they are gzip of a valid exposition.
    use std::io::Write as _;
    let mut s = std::net::TcpStream::connect(&exporter.addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut body = String::new();
    flate2::read::GzDecoder::new(&raw[split + 4..])
        .read_to_string(&mut body)
        .expect("the body is gzip");
    assert!(body.lines().any(|l| l == "wat_ok 42"));
    Scrape::parse(&body);
}
