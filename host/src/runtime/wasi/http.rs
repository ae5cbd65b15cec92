//! `wasi:http/outgoing-handler` for guests, with the module's network
//! policy enforced: where HTTP requests are checked and sent.
//!
//! The interfaces are wasmtime-wasi-http's; how a request is sent is ours
//! ([`HttpHooks::send_request`]), because it is where the checks belong:
//!
//! - the URL (scheme, host, port, path) must lie within an http grant
//!   ([`crate::policy::NetworkPolicy::http`]), and the call must be under
//!   `limits.connections`;
//! - the `Host` header is the URL's authority (guests cannot set it:
//!   wasmtime-wasi-http forbids the header) and is checked to be, so the
//!   server is asked for the host that was checked (the lesson of Spin's
//!   CVE-2024-32980);
//! - the host resolves the name once, checks each address
//!   ([`crate::policy::NetworkPolicy::http_address`]) and connects to an
//!   address it checked, never resolving again (no DNS rebinding);
//! - HTTPS is rustls with the system's roots, or only the grant's
//!   `ca_file`, verifying the name that was checked;
//! - a response is handed to the guest as it is: redirects are not
//!   followed here, and a guest that follows one sends a new request,
//!   checked like the first;
//! - the response body counts against `limits.received_bytes`; every wait
//!   ends at the call's deadline.
//!
//! A refused request fails with `HTTP-request-denied` (or
//! `destination-IP-prohibited`, `connection-limit-reached`), an error the
//! guest sees, never a trap.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use anyhow::{Context as _, Result, ensure};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::egress::Egress;
use crate::policy::network::{Host, HttpTarget};
use crate::policy::{Denial, DenialKind, NetworkPolicy};

/// The TLS client settings of a module's HTTPS grants, built once when the
/// module is loaded.
#[derive(Default)]
pub struct TlsConfigs {
    /// Per `ca_file`: a client trusting that CA only.
    by_ca: HashMap<PathBuf, Arc<rustls::ClientConfig>>,
    /// Whether some grant trusts the system's roots.
    system: bool,
}

impl TlsConfigs {
    /// Reads the CA files of `policy`'s HTTPS grants (and the system's
    /// roots, if a grant uses them); errors name the file.
    pub fn new(policy: &NetworkPolicy) -> Result<TlsConfigs> {
        let mut configs = TlsConfigs::default();
        for rule in policy.http_grants().iter().filter(|r| r.pattern.https) {
            match &rule.ca_file {
                Some(ca) if !configs.by_ca.contains_key(ca) => {
                    let config = client_config(ca_roots(ca)?);
                    configs.by_ca.insert(ca.clone(), config);
                }
                Some(_) => {}
                None => configs.system = true,
            }
        }
        if configs.system {
            system_config()?;
        }
        Ok(configs)
    }

    fn get(&self, ca: Option<&Path>) -> Option<Arc<rustls::ClientConfig>> {
        match ca {
            Some(ca) => self.by_ca.get(ca).cloned(),
            None => system_config().ok(),
        }
    }
}

fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the ring provider supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn ca_roots(path: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading the CA file {}", path.display()))?
    {
        let cert = cert.with_context(|| format!("parsing the CA file {}", path.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("a certificate of {} is not a usable CA", path.display()))?;
    }
    ensure!(
        !roots.is_empty(),
        "the CA file {} holds no certificate",
        path.display()
    );
    Ok(roots)
}

/// A client trusting the system's roots, loaded once for the process.
fn system_config() -> Result<Arc<rustls::ClientConfig>> {
    static SYSTEM: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(format!(
                    "no usable CA certificate among the system's roots{}",
                    found
                        .errors
                        .first()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
            }
            Ok(client_config(roots))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// How the guest's requests are sent: the call's network state.
pub struct HttpHooks {
    /// The call's policy, caps and refusals.
    pub egress: Arc<Egress>,
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Result<(http::Response<WasiBody>, IoFuture), Error>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _: IoFuture,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let egress = self.egress.clone();
        Box::new(async move {
            let deadline = tokio::time::Instant::from_std(egress.deadline);
            match tokio::time::timeout_at(deadline, send(&egress, request, options)).await {
                Ok(sent) => sent,
                Err(_) => Err(Error::ConnectionTimeout),
            }
        })
    }
}

/// Checks and sends one request, answering with the response and the
/// future that drives the connection while the guest reads the body.
async fn send(
    egress: &Arc<Egress>,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Sent {
    let target = match HttpTarget::from_uri(request.uri()) {
        Ok(t) => t,
        Err(reason) => {
            egress.deny(bounded(&request.uri().to_string()), reason);
            return Err(Error::HttpRequestDenied);
        }
    };
    let shown = target.to_string();
    let authority = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let mut hosts = request.headers().get_all(http::header::HOST).iter();
    let host_header = hosts.next();
    if hosts.next().is_some() || host_header.is_some_and(|h| h.as_bytes() != authority.as_bytes()) {
        egress.deny(
            shown,
            "the Host header differs from the URL's host, which is what was checked",
        );
        return Err(Error::HttpRequestDenied);
    }
    let rule = match egress.policy().http(&target) {
        Ok(rule) => rule.clone(),
        Err(reason) => {
            egress.deny(shown, reason);
            return Err(Error::HttpRequestDenied);
        }
    };
    if !egress.take_connection(&shown) {
        return Err(Error::ConnectionLimitReached);
    }

    // Resolve once, check every address, connect only to checked ones.
    let candidates: Vec<IpAddr> = match &target.host {
        Host::Ip(ip) => vec![*ip],
        Host::Name(name) => match tokio::net::lookup_host((name.as_str(), target.port)).await {
            Ok(found) => found.map(|a| a.ip().to_canonical()).collect(),
            Err(e) => {
                return Err(Error::DnsError {
                    rcode: Some(e.to_string()),
                    info_code: None,
                });
            }
        },
    };
    let mut allowed = Vec::new();
    for ip in candidates {
        match NetworkPolicy::http_address(&rule, &target, ip) {
            Ok(()) if !allowed.contains(&ip) => allowed.push(ip),
            Ok(()) => {}
            Err(reason) => egress.deny(format!("{shown} at {ip}"), reason),
        }
    }
    if allowed.is_empty() {
        return Err(Error::DestinationIpProhibited);
    }
    let Some(held) = egress.budget.hold() else {
        egress.record(Denial {
            kind: DenialKind::OpenFiles,
            target: shown,
            reason: format!(
                "guests together hold {} descriptors, the exporter's share for them (half of its RLIMIT_NOFILE)",
                egress.budget.capacity()
            ),
        });
        return Err(Error::ConnectionLimitReached);
    };
    let connect_timeout = options.and_then(|o| o.connect_timeout);
    let tcp = connect(&allowed, target.port, connect_timeout).await?;

    let stream: Box<dyn Io> = if target.https {
        let Some(config) = egress.tls.get(rule.ca_file.as_deref()) else {
            return Err(Error::TlsCertificateError);
        };
        let name = match &target.host {
            Host::Name(n) => {
                ServerName::try_from(n.clone()).map_err(|_| Error::HttpRequestUriInvalid)?
            }
            Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        };
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, WasiBody>(TokioIo::new(stream))
        .await?;

    // The request line carries the path only; the host was checked and is
    // in the Host header.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(target.path.as_str())
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    request.headers_mut().insert(
        http::header::HOST,
        http::HeaderValue::from_str(&authority).map_err(|_| Error::HttpRequestUriInvalid)?,
    );

    let first_byte = options.and_then(|o| o.first_byte_timeout);
    let response = async {
        let sent = sender.send_request(request);
        match first_byte {
            Some(t) => tokio::time::timeout(t, sent)
                .await
                .map_err(|_| Error::ConnectionReadTimeout)?
                .map_err(Error::from),
            None => sent.await.map_err(Error::from),
        }
    };
    // Drive the connection while waiting for the response head.
    let mut response = pin!(response);
    let mut conn = Some(conn);
    let response = poll_fn(|cx| match response.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => {
            let Some(c) = conn.as_mut() else {
                return Poll::Pending;
            };
            let done = ready!(Pin::new(c).poll(cx));
            conn = None;
            match done {
                Ok(()) => response.as_mut().poll(cx),
                Err(e) => Poll::Ready(Err(Error::from(e))),
            }
        }
    })
    .await?;
    let from = shown.clone();
    let egress = egress.clone();
    let response = response.map(move |incoming| {
        Metered {
            incoming,
            egress,
            from,
        }
        .boxed_unsync()
    });
    let io: IoFuture = Box::new(async move {
        // The connection's descriptor counts until the connection ends.
        let _held = held;
        match conn {
            Some(c) => c.await.map_err(Error::from),
            None => Ok(()),
        }
    });
    Ok((response, io))
}

/// What a connection is read and written through: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Connects to the first of `addresses` that answers, within
/// `connect_timeout` each when the guest set one (the call's deadline
/// bounds all of it in any case).
async fn connect(
    addresses: &[IpAddr],
    port: u16,
    connect_timeout: Option<std::time::Duration>,
) -> Result<TcpStream, Error> {
    let mut last = None;
    for ip in addresses {
        let attempt = TcpStream::connect(SocketAddr::new(*ip, port));
        let result = match connect_timeout {
            Some(t) => match tokio::time::timeout(t, attempt).await {
                Ok(r) => r,
                Err(_) => {
                    last = Some(Error::ConnectionTimeout);
                    continue;
                }
            },
            None => attempt.await,
        };
        match result {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Some(Error::ConnectionRefused)
            }
            Err(e) => last = Some(Error::Connect(e)),
        }
    }
    Err(last.unwrap_or(Error::DestinationUnavailable))
}

/// A response body counted against the call's `limits.received_bytes`:
/// past it, the body fails.
struct Metered {
    incoming: Incoming,
    egress: Arc<Egress>,
    from: String,
}

impl Body for Metered {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let frame = match ready!(Pin::new(&mut self.incoming).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(Error::from(e)))),
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref()
            && !self.egress.take_bytes(data.len(), &self.from)
        {
            return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                self.egress.max_bytes(),
            )))));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// A URL from a guest, bounded for the log.
fn bounded(s: &str) -> String {
    let mut out: String = s.chars().take(512).collect();
    if s.chars().count() > 512 {
        out.push('…');
    }
    out
}
