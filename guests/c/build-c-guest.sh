#!/usr/bin/env bash
# Shared build steps of the C guests:
#   1. C bindings of the WIT world, version $SCRAPER_WIT (default the newest;
#      wit-bindgen-c, through `cargo xtask`),
#   2. compile to a wasm32-wasi core module with `zig cc` (reactor: no main),
#   3. make it a component with the WASI preview1 adapter (wit-component).
# Usage: build-c-guest.sh NAME SOURCE.c...   (writes $GUEST_OUT/NAME.wasm)
set -euo pipefail
name=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../build-env.sh"
require_tool zig
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${xtask_cmd[@]}" bindings c "$work" --wit "$wit_version"
# A 256 KiB stack instead of zig's default 16 MiB: the initial memory is
# then a few hundred KiB, which the exporter resets cheaply between scrapes.
zig cc --target=wasm32-wasi -mexec-model=reactor -O2 -s -std=gnu11 -Wall -Wextra -Werror \
    -Wl,-z,stack-size=262144 -Wl,--initial-memory=1048576 \
    -Wno-unused-parameter -I"$work" -I"$here/lib" \
    "$@" "$here/lib/scraper_helpers.c" "$work/scraper.c" "$work/scraper_component_type.o" -o "$work/core.wasm"
mkdir -p "$out"
"${xtask_cmd[@]}" componentize "$work/core.wasm" "$out/$name.wasm" --wit "$wit_version"
echo "built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes, world $wit_version)"
