#!/usr/bin/env bash
# Shared build steps of the Rust guests:
#   1. Debian's Rust for the web (rustc-web, cargo-web; versions pinned in
#      guests/toolchains.toml, installed by `cargo xtask toolchains`)
#      compiles the crate for wasm32-wasip1, building the standard library
#      from rust-web-src (-Zbuild-std, allowed by RUSTC_BOOTSTRAP=1) and
#      linking with lld-16's wasm-ld against Debian's wasi-libc;
#   2. the core module becomes a component with the WASI preview1 adapter,
#      as the C guests do (`cargo xtask componentize`).
# The crates are workspace members (linted and unit-tested for the host by
# `cargo xtask test`); their wasm build has a target directory of its own,
# target/rust-guests, because it uses another compiler.
# Usage: build-rust-guest.sh NAME PACKAGE   (writes $GUEST_OUT/NAME.wasm)
set -euo pipefail
name=$1
package=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../build-env.sh"
# Debian installs them as /usr/bin/cargo and /usr/bin/rustc; rustup's
# proxies, usually first on PATH, cannot build for this target here.
for tool in /usr/bin/cargo /usr/bin/rustc /usr/bin/wasm-ld-16 /usr/lib/wasm32-wasi/libc.a /usr/lib/rustlib/src/rust/library; do
    if [ ! -e "$tool" ]; then
        echo "$tool not found: run \`cargo xtask toolchains\` (it installs the Debian packages pinned in guests/toolchains.toml)" >&2
        exit 1
    fi
done
target_dir=$root/target/rust-guests
# Only the wasm artefacts get these flags (cargo leaves build scripts and
# proc macros, compiled for the host, alone when --target is given).
RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
    RUSTFLAGS="-C linker=wasm-ld-16 -C link-self-contained=no -L /usr/lib/wasm32-wasi" \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true \
    /usr/bin/cargo build --quiet --release --manifest-path "$root/Cargo.toml" --package "$package" \
    --target wasm32-wasip1 -Zbuild-std=std,panic_abort --target-dir "$target_dir"
mkdir -p "$out"
# guests/rust/lib is written against this version of the scraper world
# (its wit/ link points there); the component must carry the same world.
"${xtask_cmd[@]}" componentize --wit 0.2.0 "$target_dir/wasm32-wasip1/release/${package//-/_}.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes)"
