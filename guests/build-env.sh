# Sourced by the shared build scripts of each language (guests/LANG/build-*.sh):
# where the repository and the built components are, how to run the xtask,
# and a check that a pinned tool is on PATH. `cargo xtask guests` sets
# WASM_EXPORTER_ROOT, GUEST_OUT and XTASK and puts target/toolchains/bin on
# PATH; run alone, a build script works these out itself.
root=${WASM_EXPORTER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
out=${GUEST_OUT:-$root/target/guests}
# The version of the scraper world (a directory of wit/) to build against:
# the newest unless a guest's build.sh sets SCRAPER_WIT (guests kept on an
# older version on purpose, to show that it keeps working).
wit_version=${SCRAPER_WIT:-0.2.0}
wit_dir=$root/wit/$wit_version
if [ ! -d "$wit_dir" ]; then
    echo "SCRAPER_WIT=$wit_version: there is no $wit_dir" >&2
    exit 1
fi
if [ -n "${XTASK:-}" ]; then
    xtask_cmd=("$XTASK")
else
    xtask_cmd=(cargo run --quiet --release --manifest-path "$root/Cargo.toml" --package xtask --)
fi

# require_tool NAME: fails with a hint when NAME is not on PATH.
require_tool() {
    if ! command -v "$1" >/dev/null; then
        echo "$1 not found: run \`cargo xtask toolchains\` and put target/toolchains/bin on PATH" >&2
        exit 1
    fi
}
