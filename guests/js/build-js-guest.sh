#!/usr/bin/env bash
# Shared build steps of the JavaScript guests:
#   1. the WIT tree of their world (guests/js/wit plus the newest scraper and WASI
#      packages, through `cargo xtask bindings js`),
#   2. ComponentizeJS (pinned in guests/toolchains.toml) bundles SpiderMonkey
#      and the module, pre-initialised, into one component.
# Usage: build-js-guest.sh NAME MODULE.js   (writes $GUEST_OUT/NAME.wasm)
# MODULE.js exports `collect(params)`; its relative imports are bundled too, if
# they are inside the repository (as guests/js/lib is).
set -euo pipefail
name=$1
module=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../build-env.sh"
require_tool componentize-js
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${xtask_cmd[@]}" bindings js "$work/wit"
# Features left out: `http` and `fetch-event` import wasi:http, which the host
# does not offer (a guest has no network), so the component would not link.
# Run from the repository root: ComponentizeJS resolves the module's imports
# (../lib/scraper.js) inside the working directory when the module is in it,
# and inside the module's own directory otherwise, where ../lib is out of reach.
module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
out=$(mkdir -p "$out" && cd "$out" && pwd)
(cd "$root" && componentize-js --wit "$work/wit" --world-name js-scraper \
    --disable http fetch-event --out "$out/$name.wasm" "$module")
echo "built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes)"
