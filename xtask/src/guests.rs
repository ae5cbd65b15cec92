//! Builds every guest: each folder under `guests/<lang>/` with a `build.sh`,
//! and the WAT test fixtures under `tests/fixtures/wat/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{component, progress, system, toolchains};

/// The WAT every fixture is wrapped with.
const PRELUDE: &str = "_prelude.wat";

/// Builds everything into `target/guests` and returns that directory.
pub fn build_all(root: &Path) -> Result<PathBuf> {
    let start = Instant::now();
    system::ensure_for_guests()?;
    let tools = progress::step("guest toolchains (guests/toolchains.toml)", || {
        toolchains::ensure(root)
    })?;
    let out = root.join("target/guests");
    std::fs::create_dir_all(&out)?;
    let xtask = std::env::current_exe().context("locating the xtask binary")?;
    let path = format!(
        "{}:{}",
        tools.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut scripts = Vec::new();
    for lang in guest_languages(root)? {
        for guest in sorted_dirs(&lang)? {
            let script = guest.join("build.sh");
            if script.exists() {
                scripts.push(script);
            }
        }
    }
    for (n, script) in scripts.iter().enumerate() {
        let rel = script.strip_prefix(root).unwrap_or(script);
        let guest = rel.parent().unwrap_or(rel);
        let what = format!("[{}/{}] building {}", n + 1, scripts.len(), guest.display());
        progress::step(what, || {
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
            Ok(())
        })?;
    }

    let plugins = assemble_plugins(root, &out)?;

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
    progress::step(
        format!("componentizing {} WAT fixtures", wats.len()),
        || {
            for wat in &wats {
                let stem = wat
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("fixture");
                component::componentize_wat(
                    root,
                    &prelude,
                    wat,
                    &out.join(format!("{stem}.wasm")),
                )?;
            }
            anyhow::Ok(())
        },
    )?;
    eprintln!(
        "xtask: {} guests ({plugins} of them plugins, in target/plugins) and {} WAT fixtures built into {} in {}",
        scripts.len(),
        wats.len(),
        out.display(),
        progress::elapsed(start.elapsed())
    );
    Ok(out)
}

/// Every guest folder with a `plugin.yaml` becomes a plugin directory in
/// `target/plugins/<folder>`: its manifest, logo and README next to the
/// component the build wrote into `target/guests`.
fn assemble_plugins(root: &Path, built: &Path) -> Result<usize> {
    let mut count = 0;
    for lang in guest_languages(root)? {
        for guest in sorted_dirs(&lang)? {
            let manifest_path = guest.join("plugin.yaml");
            if !manifest_path.exists() {
                continue;
            }
            let manifest = std::fs::read_to_string(&manifest_path)
                .with_context(|| format!("reading {}", manifest_path.display()))?;
            let component = manifest
                .lines()
                .find_map(|l| l.strip_prefix("component:"))
                .map(str::trim)
                .with_context(|| format!("{} has no component line", manifest_path.display()))?;
            let name = guest.file_name().context("a guest folder has a name")?;
            let dest = root.join("target/plugins").join(name);
            std::fs::create_dir_all(&dest)?;
            for file in ["plugin.yaml", "logo.png", "README.md"] {
                std::fs::copy(guest.join(file), dest.join(file))
                    .with_context(|| format!("copying {} of {}", file, guest.display()))?;
            }
            std::fs::copy(built.join(component), dest.join(component)).with_context(|| {
                format!("copying the built {component} into {}", dest.display())
            })?;
            count += 1;
        }
    }
    Ok(count)
}

/// The language folders of `guests/`. `guests/templates` holds the
/// sources of `wasm_exporter plugin new`, with placeholders: they are built
/// by the tests that scaffold a plugin from them, not here.
fn guest_languages(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(sorted_dirs(&root.join("guests"))?
        .into_iter()
        .filter(|d| d.file_name().is_none_or(|n| n != "templates"))
        .collect())
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
