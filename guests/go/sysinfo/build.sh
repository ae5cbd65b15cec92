#!/usr/bin/env bash
# Builds target/guests/sysinfo-go.wasm (see ../build-go-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-go-guest.sh" sysinfo-go "$here"
