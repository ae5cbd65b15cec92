#!/usr/bin/env bash
# Shared build steps of the JavaScript guests:
#   1. the WIT tree of their world (guests/js/wit plus the newest scraper and WASI
#      packages, through `cargo xtask bindings js`),
#   2. ComponentizeJS (pinned in guests/toolchains.toml) bundles SpiderMonkey
#      and the module, pre-initialised, into one component.
# Usage: build-js-guest.sh NAME MODULE.js [--http]   (writes $GUEST_OUT/NAME.wasm)
# MODULE.js exports `collect(params)` (it may be async); its relative imports
# are bundled too, if they are inside the repository (as guests/js/lib is).
# --http keeps ComponentizeJS's `fetch` (it imports wasi:http); a guest then
# reaches only what the operator grants it in `grants.http`.
set -euo pipefail
name=$1
module=$2
disabled=(http fetch-event)
if [ "${3:-}" = "--http" ]; then
    disabled=(fetch-event)
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../build-env.sh"
require_tool componentize-js
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${xtask_cmd[@]}" bindings js "$work/wit"
# Features left out: `fetch-event` (serving HTTP requests; a scraper is called
# through `collect`), and `http` (fetch, which imports wasi:http) unless the
# guest asks for it: without it a guest's imports show it makes no requests.
# Run from the repository root: ComponentizeJS resolves the module's imports
# (../lib/scraper.js) inside the working directory when the module is in it,
# and inside the module's own directory otherwise, where ../lib is out of reach.
module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
out=$(mkdir -p "$out" && cd "$out" && pwd)
(cd "$root" && componentize-js --wit "$work/wit" --world-name js-scraper \
    --disable "${disabled[@]}" --out "$out/$name.wasm" "$module")
echo "built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes)"
