//! HTTP serving: the telemetry path, the landing page and the health
//! endpoints, on hyper.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
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
use tokio::net::TcpListener;

use crate::exposition;
use crate::scrape::Exporter;
use crate::version;

/// The header Prometheus sends with its scrape timeout.
const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// What the server serves.
pub struct App {
    /// The exporter.
    pub exporter: Exporter,
    /// Where metrics are served (`--web.telemetry-path`).
    pub telemetry_path: String,
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

/// Serves connections until `shutdown` resolves, then stops accepting and
/// lets in-flight requests finish (up to a grace period).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: keep serving.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |req| handle(app.clone(), req));
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, "connection ended with an error: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 10s of shutdown");
    }
    Ok(())
}

async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let response = if path == app.telemetry_path {
        match allow_get(&req) {
            Some(r) => r,
            None => metrics(&app, &req).await,
        }
    } else {
        match path {
            "/" => allow_get(&req).unwrap_or_else(|| landing_page(&app)),
            "/-/healthy" | "/-/ready" => {
                allow_get(&req).unwrap_or_else(|| text(StatusCode::OK, "OK\n".into()))
            }
            _ => text(
                StatusCode::NOT_FOUND,
                format!("404 page not found: {path}\n"),
            ),
        }
    };
    Ok(if req.method() == Method::HEAD {
        strip_body(response)
    } else {
        response
    })
}

/// `None` for GET and HEAD, a 405 answer otherwise.
fn allow_get(req: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return None;
    }
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {} not allowed; use GET\n", req.method()),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(r)
}

async fn metrics(app: &App, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let budget = match scrape_budget(req) {
        Ok(b) => b,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let families = app.exporter.scrape(budget).await;
    let body = exposition::encode_text(&families);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(exposition::TEXT_CONTENT_TYPE),
    );
    r
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

fn landing_page(app: &App) -> Response<Full<Bytes>> {
    let mut rows = String::new();
    for (name, status) in app.exporter.module_names().zip(app.exporter.status()) {
        let (state, detail) = match (&status.up, &status.last_error) {
            (None, _) => ("not scraped yet", String::new()),
            (Some(true), _) => ("up", format!("{} series", status.series)),
            (Some(false), Some(f)) => ("down", f.to_string()),
            (Some(false), None) => ("down", String::new()),
        };
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{:.3}s</td><td>{}</td></tr>",
            html_escape(name),
            state,
            status.duration.as_secs_f64(),
            html_escape(&detail)
        );
    }
    let path = html_escape(&app.telemetry_path);
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>WASM Exporter {v}</title></head><body>\
<h1>WASM Exporter {v}</h1>\
<p>Prometheus exporter whose collectors are sandboxed WebAssembly components.</p>\
<p><a href=\"{path}\">Metrics</a></p>\
<h2>Modules</h2><table border=\"1\"><tr><th>module</th><th>last scrape</th><th>duration</th><th>detail</th></tr>{rows}</table>\
<p><small>{build}</small></p></body></html>\n",
        v = version::VERSION,
        build = html_escape(&version::LONG),
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn strip_body(r: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let (parts, _) = r.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The address actually bound, for the start-up log line.
pub fn local_addr(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
