//! Debian packages the tasks need beyond Rust: Python's venv (guest
//! toolchains), Node.js and npm (JavaScript guests), a real Prometheus
//! server with promtool and node_exporter, Redis and NGINX (the network
//! plugins' targets), a registry and minisign, a headless Chromium
//! (end-to-end tests), and the Rust guests' toolchain at the exact versions
//! of `guests/toolchains.toml`. Installed with apt when missing and allowed
//! (as root), otherwise named in the error.

use std::collections::BTreeMap;
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

/// What the tests need besides the guests: a real Prometheus, and the
/// services the network plugins are tested against (the tests start each
/// on a free loopback port with a config of their own).
pub fn ensure_for_tests() -> Result<()> {
    ensure(&[
        Need {
            check: || has("prometheus") && has("promtool"),
            package: "prometheus",
        },
        Need {
            check: || has("redis-server") && has("redis-cli"),
            package: "redis-server",
        },
        Need {
            check: || has("nginx") || std::path::Path::new("/usr/sbin/nginx").is_file(),
            package: "nginx",
        },
        // The web pages are checked in a real browser.
        Need {
            check: || has("chromium"),
            package: "chromium",
        },
        // The textfile plugin is compared with node_exporter's collector.
        Need {
            check: || has("prometheus-node-exporter"),
            package: "prometheus-node-exporter",
        },
        // The plugin supply chain's tests: a real registry and the
        // signing tool authors use.
        Need {
            check: || has("docker-registry"),
            package: "docker-registry",
        },
        Need {
            check: || has("minisign"),
            package: "minisign",
        },
    ])
}

/// The installed version of Debian package `name`, if it is installed.
fn installed_version(name: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status} ${Version}", name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.strip_prefix("installed ")?.trim();
    (out.status.success() && !version.is_empty()).then(|| version.to_string())
}

/// Installs the Debian packages of `pins` (name -> exact version) that are
/// missing, at those versions; fails naming every package installed at
/// another version (a build verified with one version is not assumed to
/// work with another).
pub fn ensure_pinned(pins: &BTreeMap<String, String>) -> Result<()> {
    let mut missing = Vec::new();
    let mut differ = Vec::new();
    for (name, version) in pins {
        match installed_version(name) {
            None => missing.push(format!("{name}={version}")),
            Some(v) if v != *version => {
                differ.push(format!("{name} {v} is installed, {version} is pinned"))
            }
            Some(_) => {}
        }
    }
    if !differ.is_empty() {
        bail!(
            "Debian packages at other versions than guests/toolchains.toml pins: {} \
             (install the pinned ones with `apt-get install {}`, or verify the Rust \
             guests with the installed ones and update the pins)",
            differ.join("; "),
            pins.iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
    apt_install(&missing).context(
        "installing the Debian packages pinned in guests/toolchains.toml \
         (if apt no longer serves these versions, verify the Rust guests with the \
         served ones and update the pins)",
    )
}

fn ensure(needs: &[Need]) -> Result<()> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|n| !(n.check)())
        .flat_map(|n| n.package.split(' '))
        .collect();
    apt_install(&missing)
}

/// Installs `missing` (`name` or `name=version`) with apt-get, when root.
fn apt_install(missing: &[&str]) -> Result<()> {
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
                    missing.to_vec(),
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
