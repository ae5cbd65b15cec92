#!/usr/bin/env bash
# Builds target/guests/generated.wasm (see ../build-c-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-c-guest.sh" generated "$here/generated.c"
