//! wasm_bench: the measurements of `bench/run.sh` that need to be inside a
//! process rather than in front of its HTTP port, and the inputs it makes.
//!
//! ```text
//! wasm_bench instantiate --component ok.wasm   instantiate + collect, percentiles
//! wasm_bench fixture --name ok --out F          a WAT fixture as a core module
//! wasm_bench startup -- CMD ARGS...             exec to "listening on", in ms
//! ```
//!
//! Every line meant for the script is `key=value` pairs, so it can be read
//! without knowing the order.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand};
use wasm_exporter::config::Config;
use wasm_exporter::reload::engine_settings;
use wasm_exporter::runtime::{GuestModule, GuestRuntime};

#[derive(Parser)]
#[command(about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Times `GuestModule::collect` (a fresh instance and one call) of one
    /// component, sequentially, and prints percentiles in microseconds.
    Instantiate {
        /// The component; it gets no parameters.
        #[arg(long)]
        component: PathBuf,
        /// `HOST=GUEST`: grants the host directory, read-only, as GUEST.
        #[arg(long = "dir", value_name = "HOST=GUEST")]
        dirs: Vec<String>,
        /// Measured calls.
        #[arg(long, default_value_t = 10_000)]
        iterations: usize,
        /// Calls made first and not measured (page faults, allocator and
        /// instruction caches warming up).
        #[arg(long, default_value_t = 1_000)]
        warmup: usize,
    },
    /// Assembles a WAT fixture with the shared prelude into a core module,
    /// as `cargo xtask guests` does before making it a component.
    Fixture {
        /// The fixtures' directory (`_prelude.wat` and `NAME.wat`).
        #[arg(long, default_value = "tests/fixtures/wat")]
        fixtures: PathBuf,
        /// The fixture, without `.wat`.
        #[arg(long)]
        name: String,
        /// `OLD=NEW`: replaces the string literal "OLD" of the fixture by
        /// "NEW", of the same length so that no offset or length in the
        /// fixture changes. Copies of `ok` with another metric name each are
        /// distinct components that the exporter compiles and keeps apart,
        /// and that can be served together without emitting the same series.
        #[arg(long, value_name = "OLD=NEW")]
        replace: Option<String>,
        /// The core module to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Starts a server and prints the time from spawning it to its
    /// `listening on` log line on stderr, then kills it.
    Startup {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Instantiate {
            component,
            dirs,
            iterations,
            warmup,
        } => instantiate(&component, &dirs, iterations, warmup),
        Cmd::Fixture {
            fixtures,
            name,
            replace,
            out,
        } => fixture(&fixtures, &name, replace.as_deref(), &out),
        Cmd::Startup { timeout, command } => startup(&command, Duration::from_secs(timeout)),
    }
}

fn instantiate(component: &Path, dirs: &[String], iterations: usize, warmup: usize) -> Result<()> {
    ensure!(iterations > 0, "--iterations must be at least 1");
    let component = std::fs::canonicalize(component)
        .with_context(|| format!("component {}", component.display()))?;
    let grants = dirs
        .iter()
        .map(|dir| {
            let (host, guest) = dir.split_once('=').context("--dir takes HOST=GUEST")?;
            Ok(format!("{{host: {host:?}, guest: {guest:?}}}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let yaml = format!(
        "modules:\n  - name: bench\n    component: {:?}\n    grants: {{dirs: [{}]}}\n",
        component.display().to_string(),
        grants.join(", ")
    );
    let config = Config::parse(&yaml, Path::new("/"))?;
    // The engine the exporter would build for this config (instance pool
    // included), without a compile cache: compiling is not measured here.
    let runtime = GuestRuntime::new(&engine_settings(&config, None))?;
    let resolved = wasm_exporter::spec::resolve(&config.modules[0], None)?;
    let module = GuestModule::load(&runtime, &resolved.spec)?;
    let timeout = module.limits().timeout;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut samples = Vec::with_capacity(iterations);
    rt.block_on(async {
        for i in 0..warmup + iterations {
            let start = Instant::now();
            let outcome = module.collect(start + timeout).await.result;
            let elapsed = start.elapsed();
            match outcome {
                Ok(families) if !families.is_empty() => {}
                Ok(_) => bail!("call {i}: the guest returned no families"),
                Err(f) => bail!("call {i}: {f}"),
            }
            if i >= warmup {
                samples.push(elapsed);
            }
        }
        Ok(())
    })?;

    samples.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len() as f64;
    println!(
        "iterations={} p50_us={:.1} p90_us={:.1} p99_us={:.1} mean_us={:.1} max_us={:.1}",
        samples.len(),
        us(percentile(&samples, 0.50)),
        us(percentile(&samples, 0.90)),
        us(percentile(&samples, 0.99)),
        mean,
        us(*samples.last().expect("at least one sample")),
    );
    Ok(())
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn fixture(fixtures: &Path, name: &str, replace: Option<&str>, out: &Path) -> Result<()> {
    let read = |file: &str| {
        let path = fixtures.join(file);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let prelude = read("_prelude.wat")?;
    let mut body = read(&format!("{name}.wat"))?;
    if let Some(replace) = replace {
        let (old, new) = replace.split_once('=').context("--replace takes OLD=NEW")?;
        ensure!(
            old.len() == new.len(),
            "--replace: {new:?} must have as many bytes as {old:?}"
        );
        let (old, new) = (format!("\"{old}\""), format!("\"{new}\""));
        ensure!(
            body.matches(&old).count() == 1,
            "{name}.wat does not hold the literal {old} exactly once"
        );
        body = body.replace(&old, &new);
    }
    let core = wat::parse_str(format!("(module\n{prelude}\n{body}\n)"))
        .with_context(|| format!("assembling {name}.wat"))?;
    std::fs::write(out, core).with_context(|| format!("writing {}", out.display()))
}

/// What the log reader saw.
enum Log {
    Line(String),
    Ready(Duration),
}

fn startup(command: &[String], timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", command[0]))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    // A thread reads the log so the wait below can time out.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let event = if line.contains("listening on") {
                Log::Ready(start.elapsed())
            } else {
                Log::Line(line)
            };
            let ready = matches!(event, Log::Ready(_));
            if tx.send(event).is_err() || ready {
                return;
            }
        }
    });
    let mut log = Vec::new();
    let ready = loop {
        let left = timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(Log::Ready(elapsed)) => break Some(elapsed),
            Ok(Log::Line(line)) => log.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    match ready {
        Some(elapsed) => {
            println!("startup_ms={:.1}", elapsed.as_secs_f64() * 1e3);
            Ok(())
        }
        None => bail!(
            "no `listening on` line within {timeout:?}; the log was:\n{}",
            log.join("\n")
        ),
    }
}
