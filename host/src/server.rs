//! HTTP serving: the telemetry path, `/probe` (one module against one
//! target), the landing page, the health and lifecycle endpoints; TLS and
//! basic auth from the web config.
//!
//! The front door: every accepted connection passes the [`Gate`] (the
//! connection cap, [`connlimit`]) and is watched for a late
//! header or a long idle; telemetry and probe requests beyond
//! `--web.max-requests` are answered 503 at once; accept errors back off and
//! repeated errors are logged at a bounded rate.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::connlimit::{self, Backoff, Gate, Ticket, Tracked};
use crate::exposition::{self, Format};
use crate::logging::RateLimited;
use crate::model::Family;
use crate::reload::Live;
use crate::{landing, modulepage};

/// The header Prometheus sends with its scrape timeout.
const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// Where one module is run against one target (the blackbox and snmp
/// exporters' convention).
const PROBE_PATH: &str = "/probe";

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// At most one log line per this period for each kind of repeated front
/// door event; the lines say how many were held back.
const LOG_PERIOD: Duration = Duration::from_secs(10);

/// Written to a connection refused at the cap (plain HTTP only), without
/// reading its request.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 43\r\nConnection: close\r\n\r\ntoo many open connections, try again later\n";

type Answer = Response<Full<Bytes>>;

/// What the server serves.
pub struct App {
    /// The live configuration.
    pub live: Live,
    /// Where metrics are served (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// Whether `/-/reload` is enabled (`--web.enable-lifecycle`).
    pub lifecycle: bool,
    /// The connection and request limits.
    pub gate: Arc<Gate>,
}

/// Repeated events logged at a bounded rate.
struct FrontDoorLogs {
    accept: RateLimited,
    evicted: RateLimited,
    refused: RateLimited,
}

static LOGS: FrontDoorLogs = FrontDoorLogs {
    accept: RateLimited::new(LOG_PERIOD),
    evicted: RateLimited::new(LOG_PERIOD),
    refused: RateLimited::new(LOG_PERIOD),
};

/// Binds a listen address in the Go style of other exporters: `:9601`
/// means every interface.
pub async fn bind(address: &str) -> Result<TcpListener> {
    if let Some(port) = address.strip_prefix(':') {
        // Dual-stack where IPv6 exists, IPv4 otherwise.
        if let Ok(l) = TcpListener::bind(format!("[::]:{port}")).await {
            return Ok(l);
        }
        return TcpListener::bind(format!("0.0.0.0:{port}"))
            .await
            .with_context(|| format!("listening on {address}"));
    }
    TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))
}

/// Serves connections on every listener until `shutdown` resolves, then
/// stops accepting and lets in-flight requests finish (up to a grace
/// period).
pub async fn serve(
    listeners: Vec<TcpListener>,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    for listener in listeners {
        let app = app.clone();
        let mut stop = stop_rx.clone();
        loops.push(tokio::spawn(async move {
            let graceful = GracefulShutdown::new();
            let mut backoff = Backoff::default();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            backoff.reset();
                            admit(&app, stream, &graceful);
                        }
                        Err(e) => {
                            app.gate.record_accept_error();
                            // Out of descriptors: retrying at once would spin
                            // and flood the log; wait for some to be freed.
                            let delay = connlimit::is_resource_exhaustion(&e)
                                .then(|| backoff.delay());
                            if let Some(held_back) = LOGS.accept.allow() {
                                tracing::warn!(
                                    held_back,
                                    open_connections = app.gate.open_connections(),
                                    "accepting a connection failed: {e}"
                                );
                            }
                            if let Some(delay) = delay {
                                tokio::time::sleep(delay).await;
                            }
                        }
                    },
                    _ = stop.changed() => break,
                }
            }
            drop(listener);
            if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("some connections did not finish within 10s of shutdown");
            }
        }));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for l in loops {
        let _ = l.await;
    }
    Ok(())
}

/// Lets a connection in through the gate, or refuses it at once: the
/// accept loop never waits for a slot, so it keeps draining the backlog.
fn admit(app: &Arc<App>, stream: TcpStream, graceful: &GracefulShutdown) {
    match app.gate.admit() {
        Ok(admitted) => {
            if admitted.evicted
                && let Some(held_back) = LOGS.evicted.allow()
            {
                tracing::warn!(
                    held_back,
                    max_connections = app.gate.limits().max_connections,
                    "connection limit reached: closed the oldest connection not serving a request to let a new one in"
                );
            }
            tokio::spawn(connection(
                app.clone(),
                stream,
                admitted.ticket,
                graceful.watcher(),
            ));
        }
        Err(_) => {
            if let Some(held_back) = LOGS.refused.allow() {
                tracing::warn!(
                    held_back,
                    max_connections = app.gate.limits().max_connections,
                    "connection limit reached and every connection is serving a request: refused a new connection"
                );
            }
            if app.live.web().tls.is_none() {
                // Best effort, without waiting: the socket buffer is empty.
                let _ = stream.try_write(REFUSED);
            }
        }
    }
}

/// Serves one connection under its watchdog, which closes it when the
/// request header is late, when it idles too long, or when the gate
/// evicts it.
async fn connection(app: Arc<App>, stream: TcpStream, ticket: Ticket, graceful: Watcher) {
    let conn = ticket.conn().clone();
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let limits = app.gate.limits().clone();
    let gate = app.gate.clone();
    tokio::select! {
        why = connlimit::watch(&conn, &limits) => {
            gate.record_closed(why);
            tracing::debug!(%peer, reason = why.as_str(), "closed the connection");
        }
        () = serve_connection(app, stream, conn.clone(), graceful, &peer) => {}
    }
    drop(ticket);
}

/// TLS handshake if configured, then HTTP/1.1 or HTTP/2.
async fn serve_connection(
    app: Arc<App>,
    stream: TcpStream,
    conn: Arc<connlimit::Conn>,
    graceful: Watcher,
    peer: &str,
) {
    let web = app.live.web();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if !web.http2 {
        builder = builder.http1_only();
    }
    let requests = conn.clone();
    let service = service_fn(move |req| {
        let serving = requests.request();
        let app = app.clone();
        async move {
            let answer = handle(app, req).await;
            drop(serving);
            answer
        }
    });
    match &web.tls {
        None => {
            let io = TokioIo::new(Tracked::new(stream, conn));
            let conn = builder.serve_connection(io, service);
            if let Err(e) = graceful.watch(conn.into_owned()).await {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
        }
        Some(tls) => {
            let mut stream = stream;
            if speaks_plain_http(&stream).await {
                // As Go's server does: tell the client instead of hanging up.
                let _ = stream
                    .write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                    .await;
                let _ = stream.shutdown().await;
                tracing::debug!(%peer, "refused a plain HTTP request on the TLS port");
                return;
            }
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            let stream = match tokio::time::timeout(
                HANDSHAKE_TIMEOUT,
                acceptor.accept(Tracked::new(stream, conn)),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = graceful.watch(conn.into_owned()).await {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
        }
    }
}

/// Whether the first bytes look like an HTTP request line rather than a TLS
/// record (which starts with 0x16).
async fn speaks_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0].is_ascii_uppercase()
    )
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Answer, Infallible> {
    let web = app.live.web();
    let mut response = if web.auth_required() && !authorized(&web, &req).await {
        let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n".into());
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"wasm_exporter\""),
        );
        r
    } else {
        route(&app, &req).await
    };
    for (name, value) in &web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    Ok(if req.method() == Method::HEAD {
        strip_body(response)
    } else {
        response
    })
}

async fn authorized(web: &Arc<crate::webconfig::WebSecurity>, req: &Request<Incoming>) -> bool {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let web = web.clone();
    // bcrypt is deliberately slow: keep it off the async threads.
    tokio::task::spawn_blocking(move || web.authorized(header.as_deref()))
        .await
        .unwrap_or(false)
}

async fn route(app: &App, req: &Request<Incoming>) -> Answer {
    match plan(req.method(), req.uri(), req.headers(), &app.telemetry_path) {
        Route::Metrics(scrape) => metrics(app, scrape).await,
        Route::Probe(probe_request) => probe(app, probe_request).await,
        Route::Landing => landing_page(app),
        Route::Health => text(StatusCode::OK, "OK\n".into()),
        Route::Reload => reload(app).await,
        Route::PluginFile(rest) => plugin_file(app, &rest),
        Route::ModulePage(name) => module_page(app, &name),
        Route::NotFound => text(
            StatusCode::NOT_FOUND,
            format!("404 page not found: {}\n", req.uri().path()),
        ),
        Route::MethodNotAllowed(methods) => method_not_allowed(req.method(), methods),
        Route::BadRequest(message) => text(StatusCode::BAD_REQUEST, message),
    }
}

/// What a request asks for, decided from its method, path and headers
/// alone (no I/O), so that every client input the server interprets goes
/// through one function that can be tested and fuzzed on its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// A scrape of the telemetry path.
    Metrics(ScrapeRequest),
    /// `/probe` with its module and target.
    Probe(ProbeRequest),
    /// The landing page.
    Landing,
    /// `/-/healthy` or `/-/ready`.
    Health,
    /// `/-/reload` (allowed or not is decided by `--web.enable-lifecycle`).
    Reload,
    /// A file of a plugin: the path after `/plugins/`.
    PluginFile(String),
    /// A module's debug page: the name after `/modules/`.
    ModulePage(String),
    /// No such page.
    NotFound,
    /// The path exists, the method is not one of these.
    MethodNotAllowed(&'static [Method]),
    /// A header the exporter cannot honour; the message says which.
    BadRequest(String),
}

/// `/probe?module=NAME&target=TARGET`, and how to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRequest {
    /// Format, compression and time budget, as for a scrape.
    pub scrape: ScrapeRequest,
    /// The module to run.
    pub module: String,
    /// Its `target` parameter.
    pub target: String,
}

/// How a scrape is to be answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrapeRequest {
    /// The exposition format, from `Accept`.
    pub format: Format,
    /// Whether to gzip the answer, from `Accept-Encoding`.
    pub gzip: bool,
    /// Prometheus' scrape timeout, from `X-Prometheus-Scrape-Timeout-Seconds`.
    pub budget: Option<Duration>,
}

const READ: &[Method] = &[Method::GET, Method::HEAD];
const WRITE: &[Method] = &[Method::POST, Method::PUT];

/// Decides what a request asks for; see [`Route`]. Query parameters are
/// ignored, except `/probe`'s.
pub fn plan(method: &Method, uri: &hyper::Uri, headers: &HeaderMap, telemetry_path: &str) -> Route {
    let path = uri.path();
    let allowed = if path == telemetry_path {
        READ
    } else {
        match path {
            "/" | "/-/healthy" | "/-/ready" | PROBE_PATH => READ,
            "/-/reload" => WRITE,
            _ if path.starts_with("/plugins/") || path.starts_with("/modules/") => READ,
            _ => return Route::NotFound,
        }
    };
    if !allowed.contains(method) {
        return Route::MethodNotAllowed(allowed);
    }
    if path == telemetry_path || path == PROBE_PATH {
        let scrape = match scrape_budget(headers) {
            Ok(budget) => ScrapeRequest {
                format: Format::negotiate(
                    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
                ),
                gzip: accepts_gzip(headers),
                budget,
            },
            Err(message) => return Route::BadRequest(message),
        };
        if path == telemetry_path {
            return Route::Metrics(scrape);
        }
        let (mut module, mut target) = (None, None);
        for (key, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "module" => module = Some(value.into_owned()),
                "target" => target = Some(value.into_owned()),
                _ => {}
            }
        }
        return match (module, target) {
            (Some(module), Some(target)) => Route::Probe(ProbeRequest {
                scrape,
                module,
                target,
            }),
            _ => Route::BadRequest(
                "usage: /probe?module=NAME&target=TARGET (both are required)\n".into(),
            ),
        };
    }
    match path {
        "/" => Route::Landing,
        "/-/healthy" | "/-/ready" => Route::Health,
        "/-/reload" => Route::Reload,
        _ => match path.strip_prefix("/modules/") {
            Some(name) => Route::ModulePage(name.to_owned()),
            None => Route::PluginFile(
                path.strip_prefix("/plugins/")
                    .unwrap_or_default()
                    .to_owned(),
            ),
        },
    }
}

fn method_not_allowed(method: &Method, methods: &[Method]) -> Answer {
    let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed; use {}\n", list.join(" or ")),
    );
    if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

async fn reload(app: &App) -> Answer {
    if !app.lifecycle {
        return text(
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled (start with --web.enable-lifecycle).\n".into(),
        );
    }
    match app.live.reload().await {
        Ok(()) => text(StatusCode::OK, "configuration reloaded\n".into()),
        Err(e) => {
            tracing::error!("reload failed, the previous configuration keeps serving: {e:#}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e:#}\n"),
            )
        }
    }
}

/// The answer beyond `--web.max-requests`: as node_exporter's, at once
/// rather than queueing scrapes that would all time out.
fn busy(app: &App) -> Answer {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "Limit of concurrent requests reached ({}), try again later.\n",
            app.gate.limits().max_requests
        ),
    )
}

async fn metrics(app: &App, scrape: ScrapeRequest) -> Answer {
    let Some(_permit) = app.gate.request_permit() else {
        return busy(app);
    };
    let exporter = app.live.exporter();
    let families = exporter.scrape(scrape.budget).await;
    exposition_answer(scrape, &families)
}

/// `/probe?module=NAME&target=TARGET`: runs the module once with its
/// `target` parameter set. An unknown module, a module without a `target`
/// parameter, and a target outside the module's grants are answered 400,
/// with the reason, and nothing is contacted.
async fn probe(app: &App, probe: ProbeRequest) -> Answer {
    let Some(_permit) = app.gate.request_permit() else {
        return busy(app);
    };
    let ProbeRequest {
        scrape,
        module,
        target,
    } = probe;
    let exporter = app.live.exporter();
    match exporter.probe(&module, &target, scrape.budget).await {
        Ok(families) => exposition_answer(scrape, &families),
        Err(why) => {
            tracing::debug!(module, target, "probe refused: {why}");
            text(StatusCode::BAD_REQUEST, format!("{why}\n"))
        }
    }
}

/// Families in the format the client asked for, gzipped if it accepts it.
fn exposition_answer(scrape: ScrapeRequest, families: &[Family]) -> Answer {
    let ScrapeRequest { format, gzip, .. } = scrape;
    let body = exposition::encode(families, format);
    let mut r = if gzip {
        match compress(body.as_bytes()) {
            Ok(compressed) => {
                let mut r = Response::new(Full::new(Bytes::from(compressed)));
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            Err(e) => {
                tracing::warn!("gzip failed, answering uncompressed: {e}");
                Response::new(Full::new(Bytes::from(body)))
            }
        }
    } else {
        Response::new(Full::new(Bytes::from(body)))
    };
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    r
}

/// Whether the client takes gzip (Prometheus always does): `gzip` with a
/// q-value above 0, or `*` above 0 when gzip is not listed (an explicit
/// `gzip;q=0` refuses it whatever `*` says).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut gzip = None;
    let mut any = None;
    for coding in value.split(',') {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim() == "q" && v.trim().parse::<f32>().is_ok_and(|q| q == 0.0)
            })
        });
        if name.eq_ignore_ascii_case("gzip") {
            gzip = Some(!refused);
        } else if name == "*" {
            any = Some(!refused);
        }
    }
    gzip.or(any).unwrap_or(false)
}

fn compress(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

/// Reads Prometheus' scrape timeout. A header that is present but not a
/// positive number of seconds is refused rather than ignored: the exporter
/// could not keep its promise to answer in time.
fn scrape_budget(headers: &HeaderMap) -> Result<Option<Duration>, String> {
    let Some(value) = headers.get(SCRAPE_TIMEOUT_HEADER) else {
        return Ok(None);
    };
    let parsed = value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        // 1e-90 is positive but rounds to no time at all.
        .filter(|d| !d.is_zero());
    match parsed {
        Some(d) => Ok(Some(d)),
        None => Err(format!(
            "invalid X-Prometheus-Scrape-Timeout-Seconds header {value:?}: expected a positive number of seconds\n"
        )),
    }
}

fn landing_page(app: &App) -> Answer {
    let body = landing::render(&app.live.exporter(), &app.telemetry_path);
    with_type(
        Response::new(Full::new(Bytes::from(body))),
        "text/html; charset=utf-8",
    )
}

/// `/modules/NAME`: a module's debug page.
fn module_page(app: &App, name: &str) -> Answer {
    match modulepage::render(&app.live.exporter(), name, &app.telemetry_path) {
        Some(body) => with_type(
            Response::new(Full::new(Bytes::from(body))),
            "text/html; charset=utf-8",
        ),
        None => text(
            StatusCode::NOT_FOUND,
            format!("404 page not found: no module {name:?} is loaded\n"),
        ),
    }
}

/// `/plugins/MODULE/logo.png` and `/plugins/MODULE/README.md`.
fn plugin_file(app: &App, rest: &str) -> Answer {
    let not_found = || {
        text(
            StatusCode::NOT_FOUND,
            format!("404 page not found: /plugins/{rest}\n"),
        )
    };
    let Some((module, file)) = rest.split_once('/') else {
        return not_found();
    };
    let exporter = app.live.exporter();
    let Some(plugin) = exporter
        .modules()
        .iter()
        .find(|m| m.name() == module)
        .and_then(|m| m.plugin())
    else {
        return not_found();
    };
    match (file, &plugin.logo, &plugin.readme) {
        ("logo.png", Some(logo), _) => with_type(
            Response::new(Full::new(Bytes::from(logo.clone()))),
            "image/png",
        ),
        ("README.md", _, Some(readme)) => with_type(
            Response::new(Full::new(Bytes::from(readme.clone()))),
            "text/markdown; charset=utf-8",
        ),
        _ => not_found(),
    }
}

fn with_type(mut r: Answer, content_type: &'static str) -> Answer {
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: String) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn strip_body(r: Answer) -> Answer {
    let (parts, _) = r.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_get(headers: &[(&str, &str)]) -> Route {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        plan(
            &Method::GET,
            &"/metrics?x=1".parse().unwrap(),
            &map,
            "/metrics",
        )
    }

    #[test]
    fn scrape_requests_are_planned_from_their_headers() {
        let Route::Metrics(s) = plan_get(&[
            ("accept", "application/openmetrics-text;version=1.0.0"),
            ("accept-encoding", "gzip"),
            (SCRAPE_TIMEOUT_HEADER, "10"),
        ]) else {
            panic!("a scrape")
        };
        assert_eq!(s.format, Format::OpenMetrics);
        assert!(s.gzip);
        assert_eq!(s.budget, Some(Duration::from_secs(10)));
        let Route::Metrics(s) = plan_get(&[("accept-encoding", "gzip;q=0, *;q=0.5")]) else {
            panic!("a scrape")
        };
        assert!(!s.gzip);
        assert_eq!(s.budget, None);
    }

    #[test]
    fn an_explicit_gzip_refusal_wins_over_the_wildcard() {
        let gzip = |v: &str| {
            let mut map = HeaderMap::new();
            map.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&map)
        };
        assert!(gzip("gzip"));
        assert!(gzip("br, GZIP;q=0.5"));
        assert!(gzip("*"));
        assert!(!gzip("gzip;q=0, *;q=0.5"));
        assert!(!gzip("*;q=0.5, gzip;q=0"));
        assert!(!gzip("*;q=0"));
        assert!(!gzip("identity"));
    }

    /// Found by the `http_request` fuzz target: `1e-90` is a positive
    /// number of seconds that rounds to no time at all, which would have
    /// failed every module of the scrape at once.
    #[test]
    fn a_scrape_timeout_that_rounds_to_zero_is_refused() {
        for value in ["1e-90", "0", "-1", "NaN", "inf", "1e400", "soon"] {
            let route = plan_get(&[(SCRAPE_TIMEOUT_HEADER, value)]);
            assert!(
                matches!(&route, Route::BadRequest(m) if m.contains("X-Prometheus-Scrape-Timeout-Seconds")),
                "{value}: {route:?}"
            );
        }
    }

    #[test]
    fn methods_and_paths_are_routed() {
        let none = HeaderMap::new();
        let uri = |p: &str| p.parse::<hyper::Uri>().unwrap();
        assert_eq!(
            plan(&Method::POST, &uri("/metrics"), &none, "/metrics"),
            Route::MethodNotAllowed(READ)
        );
        assert_eq!(
            plan(&Method::GET, &uri("/-/reload"), &none, "/metrics"),
            Route::MethodNotAllowed(WRITE)
        );
        assert_eq!(
            plan(&Method::HEAD, &uri("/-/ready"), &none, "/metrics"),
            Route::Health
        );
        assert_eq!(
            plan(&Method::GET, &uri("/plugins/a/logo.png"), &none, "/metrics"),
            Route::PluginFile("a/logo.png".into())
        );
        assert_eq!(
            plan(&Method::HEAD, &uri("/modules/sysinfo"), &none, "/metrics"),
            Route::ModulePage("sysinfo".into())
        );
        assert_eq!(
            plan(&Method::POST, &uri("/modules/sysinfo"), &none, "/metrics"),
            Route::MethodNotAllowed(READ)
        );
        assert_eq!(
            plan(&Method::GET, &uri("/nope"), &none, "/metrics"),
            Route::NotFound
        );
    }
}
