//! Records build information (git revision, date, compiler) for
//! `--version` and `wasm_exporter_build_info`; generates the C and Go
//! bindings and reads the toolchain pins that `plugin new` writes into its
//! scaffolds.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let revision = output("git", &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let branch =
        output("git", &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|epoch| {
            output(
                "date",
                &["-u", "-d", &format!("@{epoch}"), "+%Y%m%d-%H:%M:%S"],
            )
        })
        .or_else(|| output("date", &["-u", "+%Y%m%d-%H:%M:%S"]))
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=WASM_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=WASM_EXPORTER_BRANCH={branch}");
    println!("cargo:rustc-env=WASM_EXPORTER_BUILD_DATE={date}");
    println!("cargo:rustc-env=WASM_EXPORTER_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-env=WASM_EXPORTER_TARGET={target}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=../wit");
    c_bindings();
    go_bindings();
    toolchain_pins();
    symbol_order();
}

/// Hands `symbol-order.txt` (written by bench/symbol-order.sh) to the
/// linker, which puts the functions that run while the exporter starts and
/// serves scrapes together at the start of its code. The kernel maps a
/// binary's code in 64 KiB windows around each page that runs, so those
/// functions scattered through 21 MB of code kept about 10 MiB of it
/// resident. Only where rustc links with lld by default (x86_64 Linux with
/// glibc) and nothing in RUSTFLAGS chooses another linker: GNU ld has no
/// such option, and the order only saves memory, so elsewhere it is left
/// out. `WASM_EXPORTER_SYMBOL_ORDER=0` leaves it out too.
fn symbol_order() {
    println!("cargo:rerun-if-changed=symbol-order.txt");
    println!("cargo:rerun-if-env-changed=WASM_EXPORTER_SYMBOL_ORDER");
    let target = std::env::var("TARGET").unwrap_or_default();
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let disabled = std::env::var("WASM_EXPORTER_SYMBOL_ORDER").is_ok_and(|v| v == "0");
    if target != "x86_64-unknown-linux-gnu" || rustflags.contains("linker") || disabled {
        return;
    }
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let file = std::path::Path::new(&dir).join("symbol-order.txt");
    if !file.is_file() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        file.display()
    );
    // Names the build lacks (another compiler, other dependencies) are
    // skipped; bench/run.sh's `symbol_order_applied` tells when most are.
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// The scraper world of version `version` (a directory of wit/).
fn scraper_world(version: &str) -> (wit_parser::Resolve, wit_parser::WorldId) {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve
        .push_dir(format!("../wit/{version}"))
        .expect("wit/<version> parses");
    let world = resolve
        .select_world(&[pkg], Some("scraper"))
        .expect("wit/<version> has the scraper world");
    (resolve, world)
}

/// C bindings of the newest scraper world, for `plugin new --lang c`:
/// generated from wit/ at build time, so a scaffold always matches the
/// host's world.
fn c_bindings() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("c-bindings");
    let (mut resolve, world) = scraper_world("0.2.0");
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .expect("generating C bindings");
    std::fs::create_dir_all(&out).expect("creating the bindings directory");
    for (name, contents) in files.iter() {
        std::fs::write(out.join(name), contents).expect("writing a binding file");
    }
}

/// Go bindings of the scraper world, for `plugin new --lang go`: the
/// package `wasm_exporter/scraper/internal/wit` of the Go library, as
/// `cargo xtask bindings go` writes it for the repository's Go guests.
/// Listed in `go_bindings.rs` as (path in the scaffold, bytes), since the
/// files depend on the world.
fn go_bindings() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("go-bindings");
    // The Go library (guests/go/lib) is written against world 0.2.0.
    let (mut resolve, world) = scraper_world("0.2.0");
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_go::Opts {
        format: wit_bindgen_go::Format::False,
        pkg_name: Some("wasm_exporter/scraper/internal/wit".into()),
        ..Default::default()
    }
    .build()
    .generate(&mut resolve, world, &mut files)
    .expect("generating Go bindings");
    let mut list =
        String::from("/// The generated Go bindings: (path in a Go scaffold, contents).\n");
    list.push_str("const GO_BINDINGS: &[(&str, &[u8])] = &[\n");
    for (name, contents) in files.iter() {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a file has a directory"))
            .expect("creating the Go bindings directory");
        std::fs::write(&path, contents).expect("writing a Go binding file");
        list.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            format!("lib/internal/wit/{name}"),
            path.display().to_string()
        ));
    }
    list.push_str("];\n");
    std::fs::write(out.join("go_bindings.rs"), list).expect("writing go_bindings.rs");
}

/// Exports the pinned toolchain versions of guests/toolchains.toml, the one
/// place they are set, as WASM_EXPORTER_PIN_<PACKAGE> variables.
fn toolchain_pins() {
    let path = "../guests/toolchains.toml";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).expect("reading guests/toolchains.toml");
    let pins: toml::Table = toml::from_str(&text).expect("guests/toolchains.toml parses");
    for table in ["pip", "npm", "debian"] {
        let Some(entries) = pins.get(table).and_then(|t| t.as_table()) else {
            continue;
        };
        for (package, version) in entries {
            let key: String = package
                .trim_start_matches("@bytecodealliance/")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let version = version.as_str().expect("pins are strings");
            println!("cargo:rustc-env=WASM_EXPORTER_PIN_{key}={version}");
        }
    }
}
