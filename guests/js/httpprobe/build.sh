#!/usr/bin/env bash
# Builds target/guests/httpprobe.wasm (see ../build-js-guest.sh), with fetch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-js-guest.sh" httpprobe "$here/httpprobe.js" --http
