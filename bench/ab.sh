#!/usr/bin/env bash
# Two builds of the exporter side by side on the collectors: both serve
# sysinfo and procstat at once, and short wrk bursts go to one, then the
# other (each round in the other order), under load (wrk -t2 -c4) and for
# one scraper (-t1 -c1). The VM's speed drifts by more than most changes
# within minutes; bursts this short fall on both builds alike, where two
# bench/run.sh runs minutes apart do not. Prints, per build and load, the
# scrapes, scrapes/s, the exporter's CPU per scrape (from /proc/PID/stat
# around each burst) and the median of the bursts' p50s. See bench/README.md.
#
#   bench/ab.sh EXPORTER_A EXPORTER_B
#
# Knobs (environment):
#   BENCH_ROUNDS   rounds, each one burst per build and load   (default 10)
#   BENCH_BURST    seconds of each burst                        (default 2)
# Uses the guests in target/guests (cargo xtask guests, or bench/run.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

[ $# = 2 ] || {
    echo "usage: bench/ab.sh EXPORTER_A EXPORTER_B" >&2
    exit 2
}
rounds=${BENCH_ROUNDS:-10}
burst=${BENCH_BURST:-2}
guests=$root/target/guests
legacy=0
for g in sysinfo procstat; do
    [ -f "$guests/$g.wasm" ] || {
        log "$guests/$g.wasm is missing: run cargo xtask guests first"
        exit 1
    }
done
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl

work=$root/target/bench/ab
rm -rf "$work"
mkdir -p "$work"
exporter_config "$work/collectors.yml" "$(collector_modules)"

declare -A pid addr cpu scrapes p50s
for side in A B; do
    exe=$1
    shift
    [ -x "$exe" ] || {
        log "$exe is not an executable"
        exit 1
    }
    start_server "$side" "$exe" --config.file "$work/collectors.yml" \
        --cache.dir "$work/cache_$side" --web.listen-address 127.0.0.1:0
    pid[$side]=$server_pid addr[$side]=$server_addr
    for _ in $(seq 20); do curl -sf -o /dev/null "http://$server_addr/metrics"; done
done

# cpu_ticks PID: user and system clock ticks of the process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# one SIDE LOAD WRK_ARGS...: a burst at SIDE, added to its figures.
one() {
    local side=$1 load=$2 out before after
    shift 2
    before=$(cpu_ticks "${pid[$side]}")
    out=$(timeout $((burst + 30)) wrk "$@" -d"${burst}s" --timeout 10s --latency "http://${addr[$side]}/metrics")
    after=$(cpu_ticks "${pid[$side]}")
    cpu[$side$load]=$((${cpu[$side$load]:-0} + after - before))
    scrapes[$side$load]=$((${scrapes[$side$load]:-0} + $(awk '/requests in/ {print $1}' <<<"$out")))
    p50s[$side$load]+=" $(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
}

log "$rounds rounds of ${burst} s bursts"
for ((r = 1; r <= rounds; r++)); do
    order=(A B)
    [ $((r % 2)) = 0 ] && order=(B A)
    for side in "${order[@]}"; do one "$side" loaded -t2 -c4; done
    for side in "${order[@]}"; do one "$side" one -t1 -c1; done
done

ticks=$(getconf CLK_TCK)
printf '%-6s %-7s %10s %12s %18s %16s\n' build load scrapes scrapes/s "CPU µs/scrape" "median p50 µs"
for load in loaded one; do
    for side in A B; do
        n=${scrapes[$side$load]}
        median=$(tr ' ' '\n' <<<"${p50s[$side$load]}" | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
        printf '%-6s %-7s %10d %12d %18.0f %16.0f\n' "$side" "$load" "$n" $((n / (rounds * burst))) \
            "$(awk -v c="${cpu[$side$load]}" -v n="$n" -v t="$ticks" 'BEGIN {print c / t * 1e6 / n}')" "$median"
    done
done
