#!/usr/bin/env bash
# Builds {{name}}.wasm from app.js with ComponentizeJS: SpiderMonkey and the
# module in one component, pre-initialised. Its world (wit/js-scraper.wit)
# is the scraper world plus the WASI filesystem interfaces that readText
# uses; their WIT comes from jco. Both come from npm (pinned below) into
# .toolchain, unless componentize-js is on PATH and WASI_WIT_DIR names jco's
# WASI WIT directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if command -v componentize-js >/dev/null && [ -n "${WASI_WIT_DIR:-}" ]; then
    cjs=(componentize-js)
    wasi_wit=$WASI_WIT_DIR
else
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix .toolchain \
        @bytecodealliance/componentize-js@{{pin_componentize_js}} @bytecodealliance/jco@{{pin_jco}}
    cjs=(node .toolchain/node_modules/@bytecodealliance/componentize-js/src/cli.js)
    wasi_wit=.toolchain/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12
fi
rm -rf .wit
mkdir -p .wit/deps/scraper
cp wit/js-scraper.wit .wit/
cp wit/scraper.wit .wit/deps/scraper/
cp -r "$wasi_wit"/. .wit/deps/
# `http` and `fetch-event` would import wasi:http, which the exporter does
# not offer (a plugin has no network).
"${cjs[@]}" --wit .wit --world-name js-scraper --disable http fetch-event --out {{name}}.wasm app.js
rm -rf .wit
echo "built {{name}}.wasm; check it with: wasm_exporter plugin check $here"
