#!/usr/bin/env bash
# Builds target/guests/fdbomb.wasm (see ../build-python-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# World 0.1.0: a sandbox probe needs none of the 0.2.0 types, and it keeps
# an older-world Python guest under test.
export SCRAPER_WIT=0.1.0
exec "$here/../build-python-guest.sh" fdbomb "$here/fdbomb.py"
