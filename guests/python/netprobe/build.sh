#!/usr/bin/env bash
# Builds target/guests/netprobe.wasm (see ../build-python-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-python-guest.sh" netprobe "$here/netprobe.py"
