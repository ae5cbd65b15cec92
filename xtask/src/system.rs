//! Debian packages the tasks need beyond Rust: Python's venv (guest
//! toolchains), Node.js and npm (JavaScript guests), and a real Prometheus
//! server with promtool and a headless Chromium (end-to-end tests).
//! Installed with apt when missing and allowed (as root), otherwise named
//! in the error.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::progress;

/// A need: the commands (or Python modules) that prove it met, and the
/// Debian package that meets it.
struct Need {
    check: fn() -> bool,
    package: &'static str,
}

fn has(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn has_venv() -> bool {
    Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What building the guests needs.
pub fn ensure_for_guests() -> Result<()> {
    ensure(&[
        Need {
            check: has_venv,
            package: "python3-venv",
        },
        Need {
            check: || has("node") && has("npm"),
            package: "nodejs npm",
        },
    ])
}

/// What the tests need besides the guests.
pub fn ensure_for_tests() -> Result<()> {
    ensure(&[
        Need {
            check: || has("prometheus") && has("promtool"),
            package: "prometheus",
        },
        // The web pages are checked in a real browser.
        Need {
            check: || has("chromium"),
            package: "chromium",
        },
    ])
}

fn ensure(needs: &[Need]) -> Result<()> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|n| !(n.check)())
        .flat_map(|n| n.package.split(' '))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !is_root || !has("apt-get") {
        bail!(
            "missing Debian packages: {} (install them with `apt-get install {}`)",
            missing.join(", "),
            missing.join(" ")
        );
    }
    progress::step(
        format!("installing {} with apt-get", missing.join(" ")),
        || {
            for args in [
                vec!["update", "-q"],
                [
                    vec!["install", "-y", "-q", "--no-install-recommends"],
                    missing.clone(),
                ]
                .concat(),
            ] {
                let status = Command::new("apt-get")
                    .args(&args)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .status()
                    .context("running apt-get")?;
                if !status.success() {
                    bail!("apt-get {} failed ({status})", args.join(" "));
                }
            }
            Ok(())
        },
    )
}
