#!/usr/bin/env bash
# Builds target/guests/durations-go.wasm (see ../build-go-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-go-guest.sh" durations-go "$here"
