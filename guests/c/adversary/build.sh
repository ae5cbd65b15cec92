#!/usr/bin/env bash
# Builds target/guests/adversary.wasm (see ../build-c-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# World 0.1.0: its attacks do not need the 0.2.0 types, and it keeps an
# older-world guest under the sandbox tests.
export SCRAPER_WIT=0.1.0
exec "$here/../build-c-guest.sh" adversary "$here/adversary.c"
