#!/usr/bin/env bash
# Builds target/guests/fdbomb.wasm (see ../build-python-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-python-guest.sh" fdbomb "$here/fdbomb.py"
