//! WIT bindings for guest languages and core-module-to-component encoding,
//! from the registry crates (`wit-bindgen-c`, `wit-bindgen-go`,
//! `wit-component` and the WASI preview1 adapter), so no toolchain beyond a
//! compiler is needed; and the WIT tree of the JavaScript guests' world.

use std::path::Path;

use anyhow::{Context, Result};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{Resolve, WorldId};

/// The world every scraper implements.
const WORLD: &str = "scraper";

/// The version of the scraper world (`wit/<version>/`) guests are built
/// against unless they ask for another: the newest.
pub const LATEST_WIT: &str = "0.2.0";

/// The scraper world of version `version` (a directory of `wit/`).
fn load_world(root: &Path, version: &str) -> Result<(Resolve, WorldId)> {
    let dir = wit_dir(root, version)?;
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_dir(&dir)
        .with_context(|| format!("parsing the WIT package in {}", dir.display()))?;
    let world = resolve.select_world(&[pkg], Some(WORLD))?;
    Ok((resolve, world))
}

/// `wit/<version>`, if the repository has that version.
fn wit_dir(root: &Path, version: &str) -> Result<std::path::PathBuf> {
    let dir = root.join("wit").join(version);
    anyhow::ensure!(
        !version.is_empty() && !version.contains('/') && dir.is_dir(),
        "there is no WIT version {version:?} (the versions are the directories of wit/)"
    );
    Ok(dir)
}

/// Writes `scraper.h`, `scraper.c` and `scraper_component_type.o` (the
/// world's type information, which the linker keeps) of WIT version
/// `version` into `dir`.
pub fn c_bindings(root: &Path, version: &str, dir: &Path) -> Result<()> {
    let (mut resolve, world) = load_world(root, version)?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_files(&files, dir)
}

/// The Go import path under which the Go guests' library
/// (`guests/go/lib`, module `wasm_exporter/scraper`) keeps the bindings.
pub const GO_BINDINGS_PACKAGE: &str = "wasm_exporter/scraper/internal/wit";

/// Writes the Go bindings of the world of WIT version `version` into `dir` as a library package
/// ([`GO_BINDINGS_PACKAGE`]): `imports/...` with the types and
/// `exports/wit_exports` with the `//go:wasmexport` entry points, which call
/// `exports/export_wit_world.Collect` (written by hand, in the library).
pub fn go_bindings(root: &Path, version: &str, dir: &Path) -> Result<()> {
    let (mut resolve, world) = load_world(root, version)?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_go::Opts {
        // Generated code is not read; not depending on gofmt being on PATH
        // keeps the output the same everywhere.
        format: wit_bindgen_go::Format::False,
        pkg_name: Some(GO_BINDINGS_PACKAGE.into()),
        ..Default::default()
    }
    .build()
    .generate(&mut resolve, world, &mut files)?;
    write_files(&files, dir)
}

fn write_files(files: &wit_bindgen_core::Files, dir: &Path) -> Result<()> {
    for (name, contents) in files.iter() {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The world of the JavaScript guests, in `guests/js/wit`.
const JS_WORLD: &str = "js-scraper";

/// Writes the WIT tree of the JS guests' world into `dir`: the world of
/// `guests/js/wit`, with the newest scraper package and the WASI packages
/// of `wasi_wit` under `deps/`, and checks that it resolves, so that a
/// broken tree fails here with wit-parser's message rather than deep inside
/// ComponentizeJS.
pub fn js_wit(root: &Path, wasi_wit: &Path, dir: &Path) -> Result<()> {
    copy_wit_files(&root.join("guests/js/wit"), dir)?;
    copy_wit_files(&wit_dir(root, LATEST_WIT)?, &dir.join("deps/scraper"))?;
    for entry in
        std::fs::read_dir(wasi_wit).with_context(|| format!("reading {}", wasi_wit.display()))?
    {
        let path = entry?.path();
        if path.is_dir() {
            let name = path.file_name().expect("a directory entry has a name");
            copy_wit_files(&path, &dir.join("deps").join(name))?;
        }
    }
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_dir(dir)
        .with_context(|| format!("parsing the JS guests' WIT in {}", dir.display()))?;
    resolve.select_world(&[pkg], Some(JS_WORLD))?;
    Ok(())
}

fn copy_wit_files(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wit") {
            let target = to.join(path.file_name().expect("a file has a name"));
            std::fs::copy(&path, &target)
                .with_context(|| format!("copying {} to {}", path.display(), target.display()))?;
        }
    }
    Ok(())
}

/// Embeds the type information of the world of WIT version `version` into
/// the core module at `core` and encodes it as a component at `out`. With
/// `wasi`, the module's `wasi_snapshot_preview1` imports are adapted to
/// WASI 0.2.
pub fn componentize(root: &Path, version: &str, core: &Path, out: &Path, wasi: bool) -> Result<()> {
    let (resolve, world) = load_world(root, version)?;
    let mut module =
        std::fs::read(core).with_context(|| format!("reading core module {}", core.display()))?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )?;
    let mut encoder = ComponentEncoder::default();
    encoder.validate(true);
    encoder.module(&module)?;
    if wasi {
        encoder.adapter(
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?;
    }
    let component = encoder
        .encode()
        .with_context(|| format!("encoding {} as a component", core.display()))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, component).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// The WIT version of the WAT fixtures: they lay out 0.1.0's types in
/// memory by hand, and they are the oldest guests the host keeps serving.
const WAT_WIT: &str = "0.1.0";

/// Componentizes a WAT fixture (functions without WASI imports), wrapped in
/// a module with the shared `prelude`.
pub fn componentize_wat(root: &Path, prelude: &str, wat: &Path, out: &Path) -> Result<()> {
    let body =
        std::fs::read_to_string(wat).with_context(|| format!("reading {}", wat.display()))?;
    let text = format!("(module\n{prelude}\n{body}\n)");
    let core = wat::parse_str(&text).with_context(|| format!("parsing {}", wat.display()))?;
    let tmp = out.with_extension("core.wasm");
    std::fs::write(&tmp, core).with_context(|| format!("writing {}", tmp.display()))?;
    let result = componentize(root, WAT_WIT, &tmp, out, false);
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// The host's target triple, as rustc names it.
    fn host_triple() -> String {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let out = Command::new(rustc)
            .arg("-vV")
            .output()
            .expect("running rustc -vV");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("host: "))
            .expect("rustc -vV names the host")
            .to_string()
    }

    /// The source directory of the wit-bindgen-go crate that xtask uses.
    ///
    /// Only this platform's packages: without `--filter-platform`, cargo
    /// needs every package of the lock file on disk, including ones that
    /// only another platform builds (`android_system_properties`), which a
    /// fresh machine never downloaded.
    fn wit_bindgen_go_source(root: &Path) -> PathBuf {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version=1", "--offline"])
            .arg("--filter-platform")
            .arg(host_triple())
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .output()
            .expect("running cargo metadata");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let manifest = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "wit-bindgen-go")
            .and_then(|p| p["manifest_path"].as_str())
            .expect("wit-bindgen-go is a dependency");
        Path::new(manifest).parent().unwrap().to_path_buf()
    }

    fn files_under(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }

    /// The Go guests' vendored runtime package is the one the Go generator
    /// of this wit-bindgen-go was released with (bump both together).
    #[test]
    fn vendored_go_runtime_is_the_crates() {
        let root = crate::workspace_root();
        let vendored = root.join("guests/go/third_party/go-pkg");
        let shipped = wit_bindgen_go_source(&root).join("src/pkg");
        let mut files = Vec::new();
        files_under(&vendored.join("wit"), &vendored, &mut files);
        files.sort();
        let mut expected = Vec::new();
        files_under(&shipped.join("wit"), &shipped, &mut expected);
        expected.sort();
        assert_eq!(files, expected);
        for file in files
            .iter()
            .map(PathBuf::as_path)
            .chain([Path::new("go.mod"), Path::new("LICENSE")])
        {
            assert_eq!(
                std::fs::read(vendored.join(file)).unwrap(),
                std::fs::read(shipped.join(file)).unwrap(),
                "guests/go/third_party/go-pkg/{} differs from wit-bindgen-go's",
                file.display()
            );
        }
        assert_eq!(
            wit_bindgen_go::remote_pkg_version(),
            "go.bytecodealliance.org/pkg v0.4.0",
            "the Go guests' go.mod files require v0.4.0"
        );
    }
}
