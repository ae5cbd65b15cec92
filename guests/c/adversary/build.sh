#!/usr/bin/env bash
# Builds target/guests/adversary.wasm (see ../build-c-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-c-guest.sh" adversary "$here/adversary.c"
