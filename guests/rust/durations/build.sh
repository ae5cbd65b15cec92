#!/usr/bin/env bash
# Builds target/guests/durations-rust.wasm (see ../build-rust-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-rust-guest.sh" durations-rust durations-guest
