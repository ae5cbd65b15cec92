//! Project tasks: build the guest components, run the exporter with the
//! example guests, run every check.
//!
//! ```text
//! cargo xtask run          build the example guests and start the exporter
//! cargo xtask test         build all guests, then fmt, clippy and every test
//! cargo xtask guests       build all guests into target/guests
//! cargo xtask toolchains   install the pinned guest toolchains
//! cargo xtask bindings c DIR [--wit V]   write C bindings for the WIT world
//! cargo xtask bindings go DIR [--wit V]   write Go bindings (library package)
//! cargo xtask bindings js DIR            write the WIT tree of the JS guests' world
//! cargo xtask componentize CORE OUT [--wit V]  make a core module a component
//! ```

mod component;
mod guests;
mod progress;
mod system;
mod toolchains;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("guests") => guests::build_all(&root).map(|_| ()),
        Some("toolchains") => toolchains::ensure(&root).map(|_| ()),
        Some("bindings") => {
            let (args, wit) = wit_option(&args[1..])?;
            match args.as_slice() {
                [lang, dir] if lang == "c" => component::c_bindings(&root, &wit, Path::new(dir)),
                [lang, dir] if lang == "go" => component::go_bindings(&root, &wit, Path::new(dir)),
                [lang, dir] if lang == "js" && wit == component::LATEST_WIT => {
                    component::js_wit(&root, &toolchains::js_wasi_wit(&root)?, Path::new(dir))
                }
                _ => {
                    bail!("usage: cargo xtask bindings c|go DIR [--wit VERSION] | bindings js DIR")
                }
            }
        }
        Some("componentize") => {
            let (args, wit) = wit_option(&args[1..])?;
            match args.as_slice() {
                [core, out] => {
                    component::componentize(&root, &wit, Path::new(core), Path::new(out), true)
                }
                [core, out, flag] if flag == "--no-wasi" => {
                    component::componentize(&root, &wit, Path::new(core), Path::new(out), false)
                }
                _ => bail!(
                    "usage: cargo xtask componentize CORE.wasm OUT.wasm [--no-wasi] [--wit VERSION]"
                ),
            }
        }
        Some("test") => test(&root),
        Some("run") => run_exporter(&root, &args[1..]),
        _ => {
            eprintln!("{}", include_str!("usage.txt"));
            bail!("unknown or missing command")
        }
    }
}

/// Takes `--wit VERSION` out of `args`: the WIT version (a directory of
/// `wit/`) to build against, the newest when not given.
fn wit_option(args: &[String]) -> Result<(Vec<String>, String)> {
    let mut rest = Vec::with_capacity(args.len());
    let mut wit = component::LATEST_WIT.to_string();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--wit" {
            wit = it
                .next()
                .context("--wit needs a version (0.1.0, 0.2.0)")?
                .clone();
        } else {
            rest.push(arg.clone());
        }
    }
    Ok((rest, wit))
}

/// Everything CI checks: guests from source, formatting, lints, tests.
fn test(root: &Path) -> Result<()> {
    system::ensure_for_tests()?;
    guests::build_all(root)?;
    cargo(root, &["fmt", "--all", "--check"])
        .context("cargo fmt --check (run `cargo fmt --all`)")?;
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    cargo(root, &["test", "--workspace", "--all-targets"])?;
    // Load tests are `#[ignore]`d in the normal run: they need the machine
    // to themselves to measure anything. Their binary is the one just built
    // (asking cargo for another selection of targets could unify features
    // differently and compile everything again). The `long_` tests are
    // ignored too but left out here: they run for minutes, by name.
    let e2e = test_binary(root, "e2e")?;
    eprintln!("xtask: {} --ignored --skip long_", e2e.display());
    let status = Command::new(&e2e)
        .args([
            "--ignored",
            "--skip",
            "long_",
            "--test-threads=1",
            "--nocapture",
        ])
        .current_dir(root.join("host"))
        .status()
        .with_context(|| format!("running {}", e2e.display()))?;
    if !status.success() {
        bail!("the load tests failed ({status})");
    }
    Ok(())
}

/// Builds the example guests and starts the exporter on the example config.
fn run_exporter(root: &Path, extra: &[String]) -> Result<()> {
    guests::build_all(root)?;
    // Built as a step of its own, so that the minutes of a first build are
    // announced and timed rather than silent.
    cargo(root, &["build", "--release", "--package", "wasm_exporter"])?;
    let config = root.join("examples/wasm_exporter.yml");
    let mut args: Vec<String> = [
        "run",
        "--release",
        "--package",
        "wasm_exporter",
        "--",
        "--config.file",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(config.display().to_string());
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Not a step: it runs until stopped. Built above, so it starts at once.
    eprintln!(
        "xtask: starting the exporter on {} (Ctrl-C stops it)",
        config.display()
    );
    run_cargo(root, &args)
}

/// The path of an integration test binary built by
/// `cargo test --workspace --all-targets` (asked again with `--no-run`,
/// which builds nothing new).
fn test_binary(root: &Path, name: &str) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "test",
            "--workspace",
            "--all-targets",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(root)
        .output()
        .context("asking cargo for the test binaries")?;
    if !out.status.success() {
        bail!("cargo test --no-run failed ({})", out.status);
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == name
            && msg["target"]["kind"][0] == "test"
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(PathBuf::from(exe));
        }
    }
    bail!("cargo built no test binary named {name}")
}

/// Runs cargo as a step: announced, and timed when it ends.
fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    progress::step(format!("cargo {}", args.join(" ")), || {
        run_cargo(root, args)
    })
}

fn run_cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}
