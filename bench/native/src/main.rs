//! native_exporter: the collection of the `sysinfo` and `procstat` guests as
//! a plain `prometheus`-crate exporter on hyper and tokio, the baseline the
//! wasm exporter is measured against.
//!
//! To stay comparable it does the guests' work on every scrape: it reads
//! /proc/meminfo, /proc/partitions and /proc/stat afresh and builds new
//! metric families from them, keeping nothing between scrapes. Like the wasm
//! exporter it also serves the `process_*` metrics of its own process.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Counter, CounterVec, Encoder, Gauge, GaugeVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on; `:PORT` means every interface.
    #[arg(long = "web.listen-address", default_value = ":9601")]
    listen_address: String,
    /// Path under which to serve the metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    telemetry_path: String,
    /// Where the proc filesystem is mounted.
    #[arg(long = "proc-dir", default_value = "/proc")]
    proc_dir: PathBuf,
}

/// /proc/stat counts in USER_HZ ticks, which the kernel fixes at 100 for
/// user space on every architecture, whatever its internal HZ.
const USER_HZ: f64 = 100.0;

/// The first eight columns of a cpuN line; guest and guest_nice are already
/// included in user and nice, so they would be counted twice.
const CPU_MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

const MEM_USAGE: (&str, &str) = ("sys_mem_usage", "Memory in use, percent of total memory.");
const DISK_SIZE: (&str, &str) = ("sys_disk_size", "Size of the block device in bytes.");
const CPU_SECONDS: (&str, &str) = ("cpu_seconds_total", "Seconds each CPU spent in each mode.");

/// Collects from /proc on every call of [`Collector::collect`], like a guest
/// instantiated for each scrape.
struct SysCollector {
    proc_dir: PathBuf,
    descs: Vec<Desc>,
    errors: IntCounterVec,
}

impl SysCollector {
    fn new(proc_dir: PathBuf) -> Result<Self> {
        let errors = IntCounterVec::new(
            Opts::new(
                "sys_scrape_errors_total",
                "Collections that failed, by collector.",
            ),
            &["collector"],
        )?;
        // Built once only to announce the descriptors at registration; every
        // scrape builds its own families.
        let (mem, disks, cpu) = families()?;
        let descs = [mem.desc(), disks.desc(), cpu.desc(), errors.desc()]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        Ok(Self {
            proc_dir,
            descs,
            errors,
        })
    }
}

/// Fresh, empty families for one scrape.
fn families() -> Result<(Gauge, GaugeVec, CounterVec)> {
    Ok((
        Gauge::with_opts(Opts::new(MEM_USAGE.0, MEM_USAGE.1))?,
        GaugeVec::new(Opts::new(DISK_SIZE.0, DISK_SIZE.1), &["disk_name"])?,
        CounterVec::new(Opts::new(CPU_SECONDS.0, CPU_SECONDS.1), &["cpu", "mode"])?,
    ))
}

impl Collector for SysCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok((mem, disks, cpu)) = families() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(4);
        // Reading procfs never waits for a device, so it runs on the async
        // thread like the rest of the scrape.
        match mem_usage(&self.proc_dir) {
            Ok(usage) => {
                mem.set(usage);
                out.extend(mem.collect());
            }
            Err(e) => self.failed("mem", &e),
        }
        match disk_sizes(&self.proc_dir, &disks) {
            Ok(()) => out.extend(disks.collect()),
            Err(e) => self.failed("disk", &e),
        }
        match cpu_seconds(&self.proc_dir, &cpu) {
            Ok(()) => out.extend(cpu.collect()),
            Err(e) => self.failed("cpu", &e),
        }
        out.extend(self.errors.collect());
        out
    }
}

impl SysCollector {
    fn failed(&self, collector: &str, error: &anyhow::Error) {
        eprintln!("collecting {collector} failed: {error:#}");
        self.errors.with_label_values(&[collector]).inc();
    }
}

fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// `(MemTotal - MemAvailable) / MemTotal`, in percent.
fn mem_usage(proc_dir: &Path) -> Result<f64> {
    let text = read(proc_dir, "meminfo")?;
    let (mut total, mut available) = (-1.0, -1.0);
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let slot = match fields.next() {
            Some("MemTotal:") => &mut total,
            Some("MemAvailable:") => &mut available,
            _ => continue,
        };
        if let Some(Ok(v)) = fields.next().map(str::parse::<f64>) {
            *slot = v;
        }
    }
    if total <= 0.0 || available < 0.0 {
        bail!("meminfo has no MemTotal or MemAvailable line");
    }
    Ok((total - available) / total * 100.0)
}

/// The size of every device of /proc/partitions (1 KiB blocks), in bytes.
fn disk_sizes(proc_dir: &Path, family: &GaugeVec) -> Result<()> {
    let text = read(proc_dir, "partitions")?;
    for line in text.lines() {
        // "major minor  #blocks  name"; the header and blank line do not parse.
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [major, minor, blocks, name] = fields[..] else {
            continue;
        };
        if major.parse::<u32>().is_err() || minor.parse::<u32>().is_err() {
            continue;
        }
        let Ok(blocks) = blocks.parse::<u64>() else {
            continue;
        };
        family
            .with_label_values(&[name])
            .set(blocks as f64 * 1024.0);
    }
    Ok(())
}

/// The time of each CPU in each mode, from the cpuN lines of /proc/stat;
/// the aggregate "cpu" line is their sum and is left out.
fn cpu_seconds(proc_dir: &Path, family: &CounterVec) -> Result<()> {
    let text = read(proc_dir, "stat")?;
    let mut cpus = 0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let mut fields = rest.split_whitespace();
        let cpu = fields.next().unwrap_or_default();
        let ticks = fields
            .take(CPU_MODES.len())
            .map(str::parse::<u64>)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("/proc/stat: cpu{cpu}"))?;
        if ticks.len() < 4 {
            bail!(
                "/proc/stat: cpu{cpu} has {} columns, expected at least 4",
                ticks.len()
            );
        }
        for (mode, ticks) in CPU_MODES.iter().zip(ticks) {
            let counter: Counter = family.with_label_values(&[cpu, mode]);
            counter.inc_by(ticks as f64 / USER_HZ);
        }
        cpus += 1;
    }
    if cpus == 0 {
        bail!("/proc/stat: no cpuN lines");
    }
    Ok(())
}

struct App {
    registry: Registry,
    telemetry_path: String,
}

async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != app.telemetry_path {
        let page = format!(
            "<html><head><title>native_exporter</title></head><body><a href='{0}'>{0}</a></body></html>",
            app.telemetry_path
        );
        return Ok(Response::new(Full::new(Bytes::from(page))));
    }
    let encoder = TextEncoder::new();
    let mut body = Vec::with_capacity(8 << 10);
    let response = match encoder.encode(&app.registry.gather(), &mut body) {
        Ok(()) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(prometheus::TEXT_FORMAT),
            );
            r
        }
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(format!("encoding: {e}\n"))));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    };
    Ok(response)
}

async fn bind(address: &str) -> Result<TcpListener> {
    let address = match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_string(),
    };
    TcpListener::bind(&address)
        .await
        .with_context(|| format!("listening on {address}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let registry = Registry::new();
    registry.register(Box::new(SysCollector::new(cli.proc_dir)?))?;
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    let app = Arc::new(App {
        registry,
        telemetry_path: cli.telemetry_path,
    });
    let listener = bind(&cli.listen_address).await?;
    let local: SocketAddr = listener.local_addr()?;
    eprintln!("listening on {local}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: keep serving.
                eprintln!("accepting a connection failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(app.clone(), req));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
