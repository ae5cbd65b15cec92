#!/usr/bin/env bash
# Builds target/guests/sysinfo.wasm (see ../build-c-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Kept on world 0.1.0 on purpose: a plugin built against the first version
# of the interface, which the exporter keeps serving unchanged.
export SCRAPER_WIT=0.1.0
exec "$here/../build-c-guest.sh" sysinfo "$here/sysinfo.c"
