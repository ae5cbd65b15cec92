//! Builds every guest: each folder under `guests/<lang>/` with a `build.sh`,
//! and the WAT test fixtures under `tests/fixtures/wat/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{component, toolchains};

/// The WAT every fixture is wrapped with.
const PRELUDE: &str = "_prelude.wat";

/// Builds everything into `target/guests` and returns that directory.
pub fn build_all(root: &Path) -> Result<PathBuf> {
    let tools = toolchains::ensure(root)?;
    let out = root.join("target/guests");
    std::fs::create_dir_all(&out)?;
    let xtask = std::env::current_exe().context("locating the xtask binary")?;
    let path = format!(
        "{}:{}",
        tools.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut scripts = Vec::new();
    for lang in sorted_dirs(&root.join("guests"))? {
        for guest in sorted_dirs(&lang)? {
            let script = guest.join("build.sh");
            if script.exists() {
                scripts.push(script);
            }
        }
    }
    for script in &scripts {
        let rel = script.strip_prefix(root).unwrap_or(script);
        eprintln!("xtask: building {}", rel.display());
        let status = Command::new("bash")
            .arg(script)
            .env("PATH", &path)
            .env("XTASK", &xtask)
            .env("GUEST_OUT", &out)
            .env("WASM_EXPORTER_ROOT", root)
            .status()
            .with_context(|| format!("running {}", rel.display()))?;
        if !status.success() {
            bail!("{} failed ({status})", rel.display());
        }
    }

    let wat_dir = root.join("tests/fixtures/wat");
    let mut wats: Vec<PathBuf> = std::fs::read_dir(&wat_dir)
        .with_context(|| format!("reading {}", wat_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .filter(|p| p.file_name().is_none_or(|n| n != PRELUDE))
        .collect();
    wats.sort();
    let prelude_path = wat_dir.join(PRELUDE);
    let prelude = std::fs::read_to_string(&prelude_path)
        .with_context(|| format!("reading {}", prelude_path.display()))?;
    for wat in &wats {
        let stem = wat
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("fixture");
        component::componentize_wat(root, &prelude, wat, &out.join(format!("{stem}.wasm")))?;
    }
    eprintln!(
        "xtask: {} guests and {} WAT fixtures built into {}",
        scripts.len(),
        wats.len(),
        out.display()
    );
    Ok(out)
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}
