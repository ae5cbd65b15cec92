#!/usr/bin/env bash
# Writes host/symbol-order.txt: the exporter's functions that run while it
# starts and serves scrapes. host/build.rs hands the file to the linker
# (lld's --symbol-ordering-file), which lays those functions out together
# at the start of .text. The kernel maps a binary's code in windows around
# each page that runs (fault-around, and whole page-cache folios), so the
# few MB of functions that run, scattered over 21 MB of code, kept 8-12 MiB
# of it resident; packed together they keep about 4. Run it again after a
# Rust or dependency upgrade (bench/run.sh prints, as
# `symbol_order_applied`, how many of the names the release binary has
# packed at the start of its code); a stale or partial file only costs
# memory, never correctness.
#
# Two passes over the same workload (start-up with warm caches, scrapes of
# the collectors, a trivial module and a C module by one scraper and by
# four at once, the other endpoints):
# 1. perf samples with DWARF call stacks, so callers count too: the
#    functions seen, most often seen first;
# 2. the functions on the pages of code the exporter had resident after
#    running with its binary evicted from the page cache and readahead of
#    its disk at 4 KiB (restored afterwards), which finds what runs too
#    rarely to be sampled; appended in address order. Needs root; skipped
#    with a warning otherwise.
# Needs perf (Debian's linux-perf, installed when missing) and the guests
# (`cargo xtask guests`). The release binary is built here first, with
# `cargo build --release -p wasm_exporter`: one left by another build
# (`cargo test --release`, `--workspace`) has other features unified in,
# so other symbol hashes, and a file written from it matched 8 % of the
# names of the binary built afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/bench/symbol-order
exporter=$root/target/release/wasm_exporter
guests=$root/target/guests
out=$root/host/symbol-order.txt
starts=${STARTS:-8}
seconds=${SECONDS_PER_START:-3}
# shellcheck source=bench/lib.sh
source bench/lib.sh

command -v perf >/dev/null || apt_install linux-perf
log "building the release binary (cargo build --release -p wasm_exporter)"
cargo build --release -p wasm_exporter
for f in "$exporter" "$guests/sysinfo.wasm" "$guests/procstat.wasm" "$guests/ok.wasm" "$guests/adversary.wasm"; do
    [ -e "$f" ] || { log "missing $f (build the release binary and the guests first)"; exit 1; }
done
rm -rf "$work"
mkdir -p "$work"

legacy=0 # this tree's exporter: grants name files
exporter_config "$work/config.yml" "$(collector_modules)" \
    "  - {name: ok, component: $guests/ok.wasm}" \
    "  - {name: c, component: $guests/adversary.wasm, params: {mode: ok, id: \"1\"}}"
run=("$exporter" --config.file "$work/config.yml" --cache.dir "$work/cache" --web.listen-address 127.0.0.1:0)

# Compile into the cache first, unprofiled: the compiling child is the same
# binary and its compiler must not count as the exporter's code.
start_server warm "${run[@]}"
curl -sf -o /dev/null "http://$server_addr/metrics"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true

scrape_loop() {
    local url=$1 until=$2
    while [ "$(date +%s%N)" -lt "$until" ]; do
        curl -s -o /dev/null "$url"
    done
}

# workload: what an exporter at server_addr is asked while it is profiled.
workload() {
    local base=http://$server_addr path end loops=()
    for path in /metrics /-/healthy /-/ready / /nope "/probe?module=ok&target=x"; do
        curl -s -o /dev/null "$base$path"
    done
    end=$(($(date +%s%N) + seconds * 1000000000))
    scrape_loop "$base/metrics" "$end"
    end=$(($(date +%s%N) + seconds * 1000000000))
    for _ in 1 2 3 4; do
        scrape_loop "$base/metrics" "$end" &
        loops+=($!)
    done
    wait "${loops[@]}"
}

# 1. Sampled stacks of the exporter's own process (not the compiling
# child, which the warm cache above should have made unnecessary).
pids_seen=()
for ((i = 1; i <= starts; i++)); do
    start_server "profile_$i" perf record -q -F 20000 --call-graph dwarf,16384 \
        -o "$work/perf.$i.data" -- "${run[@]}"
    exporter_pid=$(pgrep -P "$server_pid" -f wasm_exporter | head -1)
    pids_seen+=("$exporter_pid")
    workload
    kill -INT "$exporter_pid"
    wait "$server_pid" 2>/dev/null || true
    log "profiled start $i of $starts (exporter pid $exporter_pid)"
done
for ((i = 1; i <= starts; i++)); do
    perf script --no-demangle --no-inline -i "$work/perf.$i.data" -F pid,ip,sym,dso 2>/dev/null |
        awk -v pid="${pids_seen[$((i - 1))]}" -v bin="($exporter)" '
            NF == 0 { next }
            !/^\t/ { keep = ($1 == pid); delete seen; next }
            keep && $NF == bin {
                sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym)
                if (sym != "[unknown]" && !(sym in seen)) { seen[sym] = 1; print sym }
            }'
done | sort | uniq -c | sort -k1,1nr -k2 | awk '{print $2}' >"$work/sampled.txt"
log "pass 1: $(wc -l <"$work/sampled.txt") functions sampled"

# 2. Pages the code ran on.
: >"$work/touched.txt"
device=$(findmnt -no SOURCE -T "$exporter" 2>/dev/null || true)
device=$(basename "$(readlink -f "$device" 2>/dev/null || echo none)")
ra=/sys/class/block/$device/queue/read_ahead_kb
[ -e "$ra" ] || ra=/sys/class/block/$device/../queue/read_ahead_kb
if [ -w "$ra" ]; then
    ra_was=$(cat "$ra")
    trap 'echo "$ra_was" >"$ra"; cleanup' EXIT
    sync
    echo 4 >"$ra"
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$exporter"
    start_server pages "${run[@]}"
    workload
    python3 bench/touched-functions.py "$server_pid" "$exporter" >"$work/touched.txt"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    echo "$ra_was" >"$ra"
    log "pass 2: $(wc -l <"$work/touched.txt") functions on resident pages of code"
else
    log "pass 2 skipped: cannot set the readahead of $device (not root?); the file has the sampled functions only"
fi

awk 'NR == FNR { seen[$0] = 1; print; next } !($0 in seen) { seen[$0] = 1; print }' \
    "$work/sampled.txt" "$work/touched.txt" >"$work/order.txt"
{
    echo "# The exporter's functions that run while it starts and serves scrapes: the"
    echo "# linker lays them out together (host/build.rs). Written by bench/symbol-order.sh"
    echo "# from $(git rev-parse --short HEAD) built by $(rustc --version | cut -d' ' -f1-2): $(wc -l <"$work/sampled.txt") functions sampled in"
    echo "# $starts profiled starts, most often seen first, then $(($(wc -l <"$work/order.txt") - $(wc -l <"$work/sampled.txt"))) more on the pages of code that ran."
    cat "$work/order.txt"
} >"$out"
log "wrote $out: $(wc -l <"$work/order.txt") functions"
