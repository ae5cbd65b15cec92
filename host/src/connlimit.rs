//! The front door's limits: how many connections may be open, how many
//! telemetry requests may run at once, and how long a connection may take
//! to send its request header or sit idle.
//!
//! Every accepted connection goes through the [`Gate`]. At the cap, the
//! oldest connection that has no request being served (one still waiting
//! for its header first, an idle keep-alive one otherwise) is closed to make
//! room, so clients that hold connections open without sending a request
//! cannot lock out Prometheus; only when every open connection is serving a
//! request is the new one refused. Each connection has a watchdog
//! ([`watch`]) that closes it when its header is late or it has been idle
//! too long, whatever its protocol (HTTP/1, HTTP/2, TLS handshake).
//!
//! [`server`](crate::server) applies all of it; this module only decides.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::model::{Family, Kind, Series};

/// The limits of the HTTP side (`--web.max-connections`,
/// `--web.max-requests`, `--web.header-timeout`, `--web.idle-timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Telemetry requests served at once; 0 for no limit.
    pub max_requests: usize,
    /// Time a client has, from the connection's start or from the first
    /// byte of a request on a kept-alive connection, to send the whole
    /// request header (the TLS handshake included).
    pub header_timeout: Duration,
    /// Time a connection may stay open with no request being served and
    /// nothing sent either way.
    pub idle_timeout: Duration,
}

/// Why the exporter closed a connection, or refused one: the `reason` of
/// `wasm_exporter_http_connections_closed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The request header did not arrive in time.
    HeaderTimeout,
    /// Idle for longer than the idle timeout.
    IdleTimeout,
    /// Closed at the connection cap to make room for a newer connection.
    Evicted,
    /// Refused at the connection cap: every open connection was serving a
    /// request.
    Refused,
}

impl Closed {
    /// Every reason, in the order of declaration (a reason's counter is
    /// at its discriminant).
    const ALL: [Closed; 4] = [
        Closed::HeaderTimeout,
        Closed::IdleTimeout,
        Closed::Evicted,
        Closed::Refused,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::HeaderTimeout => "header_timeout",
            Closed::IdleTimeout => "idle_timeout",
            Closed::Evicted => "evicted",
            Closed::Refused => "refused",
        }
    }
}

const CONNECTIONS: &str = "wasm_exporter_http_connections";
const CLOSED: &str = "wasm_exporter_http_connections_closed_total";
const REQUESTS_REFUSED: &str = "wasm_exporter_http_requests_refused_total";
const ACCEPT_ERRORS: &str = "wasm_exporter_http_accept_errors_total";

/// The front door's own metrics, served among the exporter's
/// ([`crate::selfmetrics`]), which owns them for the life of the process.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    open: AtomicI64,
    /// By reason, at the reason's discriminant.
    closed: [AtomicU64; Closed::ALL.len()],
    requests_refused: AtomicU64,
    accept_errors: AtomicU64,
}

impl HttpMetrics {
    /// The names of its families, reserved for the exporter.
    pub const NAMES: [&str; 4] = [CONNECTIONS, CLOSED, REQUESTS_REFUSED, ACCEPT_ERRORS];

    fn count_closed(&self, why: Closed) {
        self.closed[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Appends its families as they stand now.
    pub fn families(&self, out: &mut Vec<Family>) {
        out.push(Family::own_single(
            CONNECTIONS,
            "HTTP connections open now.",
            Kind::Gauge,
            self.open.load(Ordering::Relaxed) as f64,
        ));
        out.push(Family::own(
            CLOSED,
            "Connections the exporter closed or refused to protect itself, by reason.",
            Kind::Counter,
            &["reason"],
            Closed::ALL
                .iter()
                .zip(&self.closed)
                .map(|(why, n)| {
                    Series::number(
                        vec![why.as_str().to_owned()],
                        n.load(Ordering::Relaxed) as f64,
                    )
                })
                .collect(),
        ));
        out.push(Family::own_single(
            REQUESTS_REFUSED,
            "Telemetry requests answered 503 because --web.max-requests were being served.",
            Kind::Counter,
            self.requests_refused.load(Ordering::Relaxed) as f64,
        ));
        out.push(Family::own_single(
            ACCEPT_ERRORS,
            "Errors accepting a connection (such as running out of file descriptors).",
            Kind::Counter,
            self.accept_errors.load(Ordering::Relaxed) as f64,
        ));
    }
}

/// Admits connections and telemetry requests within the limits.
pub struct Gate {
    limits: HttpLimits,
    /// Open connections by id; ids grow, so the first entries are the
    /// oldest.
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    requests: Option<Arc<Semaphore>>,
    metrics: Arc<HttpMetrics>,
}

impl Gate {
    /// A gate with `limits`, counting what it does in `metrics`.
    pub fn new(limits: HttpLimits, metrics: Arc<HttpMetrics>) -> Result<Arc<Self>> {
        anyhow::ensure!(
            limits.max_connections > 0,
            "--web.max-connections must be at least 1"
        );
        Ok(Arc::new(Self {
            requests: (limits.max_requests > 0)
                .then(|| Arc::new(Semaphore::new(limits.max_requests))),
            limits,
            open: Mutex::default(),
            next_id: AtomicU64::new(0),
            metrics,
        }))
    }

    /// The limits in force.
    pub fn limits(&self) -> &HttpLimits {
        &self.limits
    }

    /// Admits a new connection, closing the oldest one not serving a
    /// request if the cap is reached; an error when every open connection
    /// is serving a request: the new one must be refused ([`Refused`]).
    pub fn admit(self: &Arc<Self>) -> Result<Admitted, Refused> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut evicted = false;
        if open.len() >= self.limits.max_connections {
            let Some(victim) = pick_victim(&open) else {
                drop(open);
                self.metrics.count_closed(Closed::Refused);
                return Err(Refused);
            };
            if let Some(conn) = open.remove(&victim) {
                conn.evict();
                self.metrics.open.fetch_sub(1, Ordering::Relaxed);
                evicted = true;
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        open.insert(id, conn.clone());
        self.metrics.open.fetch_add(1, Ordering::Relaxed);
        Ok(Admitted {
            ticket: Ticket {
                gate: self.clone(),
                id,
                conn,
            },
            evicted,
        })
    }

    /// A permit to serve a telemetry request, or `None` when
    /// `--web.max-requests` are being served already.
    pub fn request_permit(&self) -> Option<RequestPermit> {
        let Some(requests) = &self.requests else {
            return Some(RequestPermit { _permit: None });
        };
        match requests.clone().try_acquire_owned() {
            Ok(p) => Some(RequestPermit { _permit: Some(p) }),
            Err(_) => {
                self.metrics
                    .requests_refused
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Counts a connection closed by its watchdog.
    pub fn record_closed(&self, why: Closed) {
        self.metrics.count_closed(why);
    }

    /// Counts a failed `accept`.
    pub fn record_accept_error(&self) {
        self.metrics.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The oldest connection waiting for its request header, or failing that
/// the oldest idle one; never one serving a request.
fn pick_victim(open: &BTreeMap<u64, Arc<Conn>>) -> Option<u64> {
    let mut idle = None;
    for (id, conn) in open {
        let times = conn.times();
        if times.in_flight > 0 {
            continue;
        }
        if times.waiting_head {
            return Some(*id);
        }
        idle.get_or_insert(*id);
    }
    idle
}

/// A telemetry request let in; the place is given back when dropped.
pub struct RequestPermit {
    _permit: Option<OwnedSemaphorePermit>,
}

/// A connection refused at the cap.
#[derive(Debug)]
pub struct Refused;

/// A connection let in.
pub struct Admitted {
    /// Keeps the connection counted until dropped.
    pub ticket: Ticket,
    /// Whether an older connection was closed to make room.
    pub evicted: bool,
}

/// An open connection's place in the gate, given back when dropped.
pub struct Ticket {
    gate: Arc<Gate>,
    id: u64,
    conn: Arc<Conn>,
}

impl Ticket {
    /// The connection's state, shared with its I/O and its requests.
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self
            .gate
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // An evicted connection was removed (and uncounted) already.
        if open.remove(&self.id).is_some() {
            self.gate.metrics.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Times {
    /// Requests being served on this connection.
    in_flight: usize,
    /// Whether a request header is expected now: from the start, and from
    /// the first byte after the last request was served.
    waiting_head: bool,
    /// When the wait for the header started.
    head_since: Instant,
    /// When the last byte went either way, or the last request ended.
    last_activity: Instant,
}

/// What the watchdog of one connection needs to know.
pub struct Conn {
    times: Mutex<Times>,
    wake: Notify,
    evicted: AtomicBool,
}

impl Conn {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            times: Mutex::new(Times {
                in_flight: 0,
                waiting_head: true,
                head_since: now,
                last_activity: now,
            }),
            wake: Notify::new(),
            evicted: AtomicBool::new(false),
        }
    }

    fn times(&self) -> Times {
        *self.times.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn received(&self) {
        let now = Instant::now();
        let mut t = self.times.lock().unwrap_or_else(PoisonError::into_inner);
        t.last_activity = now;
        if t.in_flight == 0 && !t.waiting_head {
            t.waiting_head = true;
            t.head_since = now;
            drop(t);
            // The header deadline may come before the idle one slept on.
            self.wake.notify_one();
        }
    }

    fn sent(&self) {
        self.times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_activity = Instant::now();
    }

    /// Marks a request as being served (its header is complete) until the
    /// returned guard is dropped.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        let mut t = self.times.lock().unwrap_or_else(PoisonError::into_inner);
        t.in_flight += 1;
        t.waiting_head = false;
        RequestGuard(self.clone())
    }

    fn deadline(&self, limits: &HttpLimits) -> Option<(Instant, Closed)> {
        let t = self.times();
        if t.in_flight > 0 {
            // A request is bounded by the modules' timeouts, not here.
            None
        } else if t.waiting_head {
            Some((t.head_since + limits.header_timeout, Closed::HeaderTimeout))
        } else {
            Some((t.last_activity + limits.idle_timeout, Closed::IdleTimeout))
        }
    }
}

/// A request being served; see [`Conn::request`].
pub struct RequestGuard(Arc<Conn>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut t = self.0.times.lock().unwrap_or_else(PoisonError::into_inner);
        t.in_flight = t.in_flight.saturating_sub(1);
        t.last_activity = Instant::now();
        drop(t);
        self.0.wake.notify_one();
    }
}

/// Resolves when the connection must be closed, and says why. Sleeps until
/// the next deadline only, so an open connection costs one timer.
pub async fn watch(conn: &Conn, limits: &HttpLimits) -> Closed {
    loop {
        let notified = conn.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if conn.evicted.load(Ordering::Acquire) {
            return Closed::Evicted;
        }
        match conn.deadline(limits) {
            None => notified.await,
            Some((at, why)) => {
                if at <= Instant::now() {
                    return why;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = notified => {}
                }
            }
        }
    }
}

/// A socket whose traffic is reported to its [`Conn`], for the watchdog.
pub struct Tracked<S> {
    inner: S,
    conn: Arc<Conn>,
}

impl<S> Tracked<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, conn: Arc<Conn>) -> Self {
        Self { inner, conn }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.received();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.sent();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.sent();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Whether an `accept` error means the process or system is out of
/// descriptors or memory, where retrying at once only spins: back off.
pub fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Exponential back-off between failed accepts, as Go's HTTP server does:
/// 5 ms, doubling up to 1 s, reset by a successful accept.
#[derive(Debug, Default)]
pub struct Backoff(Option<Duration>);

impl Backoff {
    /// The next delay.
    pub fn delay(&mut self) -> Duration {
        let d = match self.0 {
            None => Duration::from_millis(5),
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.0 = Some(d);
        d
    }

    /// Back to the shortest delay.
    pub fn reset(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> HttpLimits {
        HttpLimits {
            max_connections: max,
            max_requests: 1,
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn evicts_waiting_connections_oldest_first_and_never_busy_ones() {
        let gate = Gate::new(limits(3), Arc::default()).unwrap();
        let a = gate.admit().unwrap().ticket;
        let b = gate.admit().unwrap().ticket;
        let c = gate.admit().unwrap().ticket;
        // a serves a request; b is idle after one; c waits for its header.
        let _busy = a.conn().request();
        drop(b.conn().request());
        let d = gate.admit().unwrap();
        assert!(d.evicted);
        assert!(
            c.conn().evicted.load(Ordering::Acquire),
            "c waited for its header"
        );
        assert_eq!(gate.open_connections(), 3);
        let e = gate.admit().unwrap();
        assert!(e.evicted);
        assert!(d.ticket.conn().evicted.load(Ordering::Acquire), "d waited");
        let f = gate.admit().unwrap();
        assert!(e.ticket.conn().evicted.load(Ordering::Acquire));
        let g = gate.admit().unwrap();
        assert!(f.ticket.conn().evicted.load(Ordering::Acquire));
        assert!(!b.conn().evicted.load(Ordering::Acquire), "idle goes last");
        let _busy = g.ticket.conn().request();
        let _h = gate.admit().unwrap();
        assert!(b.conn().evicted.load(Ordering::Acquire));
        assert!(!a.conn().evicted.load(Ordering::Acquire), "busy is kept");
        drop((c, d, e, f));
        assert_eq!(gate.open_connections(), 3);
    }

    /// The served values of the gate's families, as `name{labels} value`.
    fn served(metrics: &HttpMetrics) -> Vec<String> {
        let mut families = Vec::new();
        metrics.families(&mut families);
        families
            .iter()
            .flat_map(|f| {
                f.series.iter().map(move |s| {
                    let crate::model::Value::Number(v) = s.value else {
                        panic!("{} holds a number", f.name)
                    };
                    format!("{}{:?} {v}", f.name, s.label_values)
                })
            })
            .collect()
    }

    #[test]
    fn refuses_when_every_connection_is_busy() {
        let metrics = Arc::new(HttpMetrics::default());
        let gate = Gate::new(limits(1), metrics.clone()).unwrap();
        let a = gate.admit().unwrap().ticket;
        let busy = a.conn().request();
        assert!(gate.admit().is_err());
        drop(busy);
        let b = gate.admit().expect("a is idle now");
        assert!(b.evicted);
        gate.record_closed(Closed::IdleTimeout);
        // An eviction is counted by the evicted connection's watchdog when
        // it closes the connection (none runs here).
        assert_eq!(
            served(&metrics),
            [
                "wasm_exporter_http_connections[] 1",
                "wasm_exporter_http_connections_closed_total[\"evicted\"] 0",
                "wasm_exporter_http_connections_closed_total[\"header_timeout\"] 0",
                "wasm_exporter_http_connections_closed_total[\"idle_timeout\"] 1",
                "wasm_exporter_http_connections_closed_total[\"refused\"] 1",
                "wasm_exporter_http_requests_refused_total[] 0",
                "wasm_exporter_http_accept_errors_total[] 0",
            ]
        );
        drop((a, b));
        assert_eq!(served(&metrics)[0], "wasm_exporter_http_connections[] 0");
    }

    #[test]
    fn request_permits_are_capped() {
        let gate = Gate::new(limits(1), Arc::default()).unwrap();
        let p = gate.request_permit().expect("first is let in");
        assert!(gate.request_permit().is_none());
        drop(p);
        assert!(gate.request_permit().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn watchdog_closes_late_headers_and_idle_connections() {
        let l = HttpLimits {
            header_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(10),
            ..limits(4)
        };
        let conn = Arc::new(Conn::new());
        let start = Instant::now();
        assert_eq!(watch(&conn, &l).await, Closed::HeaderTimeout);
        assert_eq!(start.elapsed(), Duration::from_secs(2));

        let conn = Arc::new(Conn::new());
        drop(conn.request());
        let start = Instant::now();
        assert_eq!(watch(&conn, &l).await, Closed::IdleTimeout);
        assert_eq!(start.elapsed(), Duration::from_secs(10));

        // A byte after the idle start brings the header deadline forward.
        let conn = Arc::new(Conn::new());
        drop(conn.request());
        let waker = conn.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            waker.received();
        });
        let start = Instant::now();
        assert_eq!(watch(&conn, &l).await, Closed::HeaderTimeout);
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[test]
    fn backoff_doubles_to_a_second() {
        let mut b = Backoff::default();
        let delays: Vec<u128> = (0..10).map(|_| b.delay().as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.delay().as_millis(), 5);
    }
}
