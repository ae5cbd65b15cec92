#!/usr/bin/env bash
# Builds target/guests/loadavg.wasm (see ../build-js-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-js-guest.sh" loadavg "$here/loadavg.js"
