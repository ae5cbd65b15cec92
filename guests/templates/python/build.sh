#!/usr/bin/env bash
# Builds {{name}}.wasm from app.py with componentize-py: CPython, the
# standard library, app.py and lib/ in one component, pre-initialised.
# componentize-py comes from PyPI (pinned below) into .venv, unless it is
# already on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if command -v componentize-py >/dev/null; then
    cpy=(componentize-py)
else
    [ -x "$here/.venv/bin/python3" ] || python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install --quiet --disable-pip-version-check componentize-py=={{pin_componentize_py}}
    cpy=("$here/.venv/bin/componentize-py")
fi
# Run from a scratch directory: componentize-py also looks for modules in
# the working directory.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "${cpy[@]}" --quiet --wit-path "$here/wit" --world scraper componentize app \
    --python-path "$here" --python-path "$here/lib" --output "$here/{{name}}.wasm")
echo "built {{name}}.wasm; check it with: wasm_exporter plugin check $here"
