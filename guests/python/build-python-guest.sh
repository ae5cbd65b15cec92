#!/usr/bin/env bash
# Shared build step of the Python guests: componentize-py (pinned in
# guests/toolchains.toml) bundles CPython, the standard library, the module
# and ./lib into one component, pre-initialised so that instantiating it does
# not run the interpreter's start-up again.
# Usage: build-python-guest.sh NAME MODULE.py   (writes $GUEST_OUT/NAME.wasm)
# MODULE.py defines `class WitWorld(wit_world.WitWorld)` with `collect`.
# The world is the newest version of wit/ unless SCRAPER_WIT names another.
set -euo pipefail
name=$1
module_path=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../build-env.sh"
require_tool componentize-py
module_dir=$(cd "$(dirname "$module_path")" && pwd)
module=$(basename "$module_path" .py)
mkdir -p "$out"
# Run from a scratch directory: componentize-py looks for modules in the
# working directory too, and must not pick up stray files from wherever the
# script was started.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && componentize-py --quiet --wit-path "$wit_dir" --world scraper componentize "$module" \
    --python-path "$module_dir" --python-path "$here/lib" --output "$out/$name.wasm")
echo "built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes, world $wit_version)"
