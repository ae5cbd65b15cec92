#!/usr/bin/env bash
# Builds target/guests/generated.wasm (see ../build-c-guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# World 0.1.0: it generates numbers only (gauges, counters, untyped); the
# 0.2.0 types are covered by the property tests and the fuzz target.
export SCRAPER_WIT=0.1.0
exec "$here/../build-c-guest.sh" generated "$here/generated.c"
