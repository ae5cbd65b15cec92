#!/usr/bin/env bash
# Builds target/guests/shapes.wasm (see ../build-c-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-c-guest.sh" shapes "$here/shapes.c"
