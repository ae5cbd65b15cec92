#!/usr/bin/env bash
# Builds target/guests/sysinfo-rust.wasm (see ../build-rust-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-rust-guest.sh" sysinfo-rust sysinfo-guest
