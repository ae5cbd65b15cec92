//! HTTP serving: the telemetry path, the landing page, the health and
//! lifecycle endpoints; TLS and basic auth from the web config.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::exposition::{self, Format};
use crate::reload::Live;
use crate::{landing, modulepage};

/// The header Prometheus sends with its scrape timeout.
const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Answer = Response<Full<Bytes>>;

/// What the server serves.
pub struct App {
    /// The live configuration.
    pub live: Live,
    /// Where metrics are served (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// Whether `/-/reload` is enabled (`--web.enable-lifecycle`).
    pub lifecycle: bool,
}

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
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            tokio::spawn(connection(app.clone(), stream, graceful.watcher()));
                        }
                        Err(e) => {
                            // Out of file descriptors and the like: keep serving.
                            tracing::warn!("accepting a connection failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
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

/// Serves one connection: TLS handshake if configured, then HTTP/1.1 or
/// HTTP/2.
async fn connection(app: Arc<App>, stream: TcpStream, graceful: Watcher) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let web = app.live.web();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if !web.http2 {
        builder = builder.http1_only();
    }
    let service = service_fn(move |req| handle(app.clone(), req));
    match &web.tls {
        None => {
            let conn = builder.serve_connection(TokioIo::new(stream), service);
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
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
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
    let path = req.uri().path();
    if path == app.telemetry_path {
        return match allow(req, &[Method::GET, Method::HEAD]) {
            Some(r) => r,
            None => metrics(app, req).await,
        };
    }
    match path {
        "/" => allow(req, &[Method::GET, Method::HEAD]).unwrap_or_else(|| landing_page(app)),
        "/-/healthy" | "/-/ready" => allow(req, &[Method::GET, Method::HEAD])
            .unwrap_or_else(|| text(StatusCode::OK, "OK\n".into())),
        "/-/reload" => match allow(req, &[Method::POST, Method::PUT]) {
            Some(r) => r,
            None => reload(app).await,
        },
        _ => {
            match path.strip_prefix("/plugins/") {
                Some(rest) => allow(req, &[Method::GET, Method::HEAD])
                    .unwrap_or_else(|| plugin_file(app, rest)),
                None if path.starts_with("/modules/") => allow(req, &[Method::GET, Method::HEAD])
                    .unwrap_or_else(|| module_page(app, path)),
                None => text(
                    StatusCode::NOT_FOUND,
                    format!("404 page not found: {path}\n"),
                ),
            }
        }
    }
}

/// `None` when the method is allowed, a 405 answer otherwise.
fn allow(req: &Request<Incoming>, methods: &[Method]) -> Option<Answer> {
    if methods.contains(req.method()) {
        return None;
    }
    let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} not allowed; use {}\n",
            req.method(),
            list.join(" or ")
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    Some(r)
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

async fn metrics(app: &App, req: &Request<Incoming>) -> Answer {
    let budget = match scrape_budget(req) {
        Ok(b) => b,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let format = Format::negotiate(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let gzip = accepts_gzip(req);
    let exporter = app.live.exporter();
    let families = exporter.scrape(budget).await;
    let body = exposition::encode(&families, format);
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

/// Whether the client takes gzip (Prometheus always does).
fn accepts_gzip(req: &Request<Incoming>) -> bool {
    let Some(value) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim() == "q" && v.trim().parse::<f32>().is_ok_and(|q| q == 0.0)
            })
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
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
fn scrape_budget(req: &Request<Incoming>) -> Result<Option<Duration>, String> {
    let Some(value) = req.headers().get(SCRAPE_TIMEOUT_HEADER) else {
        return Ok(None);
    };
    let parsed = value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok());
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
fn module_page(app: &App, path: &str) -> Answer {
    let name = path.strip_prefix("/modules/").unwrap_or_default();
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
