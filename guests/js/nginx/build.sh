#!/usr/bin/env bash
# Builds target/guests/nginx.wasm (see ../build-js-guest.sh), with fetch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-js-guest.sh" nginx "$here/nginx.js" --http
