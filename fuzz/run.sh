#!/usr/bin/env bash
# Runs one fuzz target for a number of minutes (default 10):
#
#   fuzz/run.sh TARGET [MINUTES] [extra libFuzzer flags...]
#
# Targets: guest_output, manifest, config, web_config, http_request.
# New interesting inputs go to fuzz/corpus/TARGET (not committed), the seed
# corpus fuzz/seeds/TARGET is read too; a crash is written to
# fuzz/artifacts/TARGET/ and the run stops with its reproducer command.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz needs a nightly
# compiler: a nightly toolchain is used when rustup has one, otherwise the
# stable one with RUSTC_BOOTSTRAP=1. The targets are safe Rust, so they run
# without a sanitizer (faster); debug assertions and overflow checks are on.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET [MINUTES] [libFuzzer flags...]}
minutes=${2:-10}
shift $(( $# >= 2 ? 2 : 1 ))

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
mkdir -p "corpus/$target"
exec cargo "${toolchain[@]}" fuzz run --sanitizer none "$target" \
    "corpus/$target" "seeds/$target" -- \
    -max_total_time=$(( minutes * 60 )) -timeout=10 -rss_limit_mb=4096 "$@"
