#!/usr/bin/env bash
# What interpreter plugins (Python, JavaScript) cost the exporter: memory
# with 1, 5 and 10 distinct plugins of each language, the peak while 10 are
# compiled on a cold cache, the start-up with 10 already compiled, and the
# time of one cpustat scrape. Prints a table, then one `target` line per
# goal; fails only when something could not be built or run. Loopback only;
# every exporter is stopped by the script. See bench/README.md.
#
# Knobs (environment):
#   BENCH_SCRAPES   scrapes before memory is read   (default 20)
#   BENCH_CHECKOUT  another checkout whose build is measured (default: this one)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$(date +%s)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

scrapes=${BENCH_SCRAPES:-20}
counts=(1 5 10)
work=$root/target/bench/interpreters
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"

use_checkout
for g in cpustat loadavg; do
    [ -f "$guests/$g.wasm" ] || {
        log "$guests/$g.wasm is missing: run cargo xtask guests"
        exit 1
    }
done

# modules LANG N: N distinct copies of the language's example plugin.
modules() {
    local lang=$1 n=$2 i src grant
    case $lang in
    python) src=cpustat grant=/proc/stat ;;
    js) src=loadavg grant=/proc/loadavg ;;
    esac
    for ((i = 1; i <= n; i++)); do
        local file
        file=$(printf '%s/%s_%02d.wasm' "$work" "$src" "$i")
        [ -f "$file" ] || distinct "$guests/$src.wasm" "$file" "$i"
        printf -- '  - name: %s_%02d\n    component: %s\n    grants: %s\n' "$src" "$i" "$file" "$(proc_grant "$grant")"
        # Copies serve the same series: an operator label tells them apart.
        # A build without operator labels refuses all copies but the first
        # after their calls, which do the same work and use the same memory.
        [ "$legacy" = 1 ] || printf -- '    labels: {copy: "%02d"}\n' "$i"
    done
}

# serve_and_measure NAME CONFIG CACHE: starts the exporter, scrapes it, and
# sets rss, pss, anon, file and shmem (KiB) of the warm exporter.
serve_and_measure() {
    local name=$1 config=$2 cache=$3
    start_server "$name" "$exporter" --config.file "$config" --web.listen-address 127.0.0.1:0 \
        --cache.dir "$cache"
    for ((s = 0; s < scrapes; s++)); do
        curl -sf -o /dev/null "http://$server_addr/metrics"
    done
    if curl -sf "http://$server_addr/metrics" | grep -q '^wasm_exporter_module_up{[^}]*} 0'; then
        if [ "$legacy" = 1 ]; then
            log "$name: a module is down (copies' duplicate series are refused by this build)"
        else
            log "$name: a module is down: these figures are not valid"
        fi
    fi
    rss=$(rss_kib "$server_pid")
    pss=$(pss_kib "$server_pid")
    anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$server_pid/status")
    file=$(awk '/^RssFile:/ {print $2}' "/proc/$server_pid/status")
    shmem=$(awk '/^RssShmem:/ {print $2}' "/proc/$server_pid/status")
    stop_server
}

declare -A RSS PSS ANON FILE SHMEM
for lang in python js; do
    cache=$work/cache-$lang
    mkdir -m 700 "$cache"
    for n in "${counts[@]}"; do
        exporter_config "$work/$lang-$n.yml" "$(modules "$lang" "$n")"
        log "$lang: compiling $n plugins ahead of time"
        if [ "$legacy" = 0 ]; then
            "$exporter" compile --config.file "$work/$lang-$n.yml" --cache.dir "$cache" >&2
        else
            start_server "$lang-$n-fill" "$exporter" --config.file "$work/$lang-$n.yml" \
                --web.listen-address 127.0.0.1:0 --cache.dir "$cache"
            stop_server
        fi
        log "$lang: $n plugins, warm"
        serve_and_measure "$lang-$n" "$work/$lang-$n.yml" "$cache"
        RSS[$lang-$n]=$rss PSS[$lang-$n]=$pss ANON[$lang-$n]=$anon FILE[$lang-$n]=$file SHMEM[$lang-$n]=$shmem
    done
done

# Cold start with 10 Python plugins: the exporter and the processes that
# compile for it, sampled every 50 ms until it listens.
log "cold start with 10 Python plugins"
cold_cache=$work/cache-cold
mkdir -m 700 "$cold_cache"
"$exporter" --config.file "$work/python-10.yml" --web.listen-address 127.0.0.1:0 \
    --cache.dir "$cold_cache" >/dev/null 2>"$work/cold.log" &
cold_pid=$!
pids+=("$cold_pid")
cold_peak=0 cold_own_peak=0
cold_t0=$(date +%s.%N)
while ! grep -q 'listening on' "$work/cold.log"; do
    kill -0 "$cold_pid" 2>/dev/null || {
        cat "$work/cold.log" >&2
        exit 1
    }
    t=$(tree_rss_kib "$cold_pid")
    [ "$t" -le "$cold_peak" ] || cold_peak=$t
    sleep 0.05
done
cold_seconds=$(awk -v a="$cold_t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
cold_own_peak=$(peak_rss_kib "$cold_pid")
kill "$cold_pid"
wait "$cold_pid" 2>/dev/null || true

# Start-up with 10 compiled plugins of each language.
declare -A STARTUP
for lang in python js; do
    line=$("$harness" startup -- "$exporter" --config.file "$work/$lang-10.yml" \
        --web.listen-address 127.0.0.1:0 --cache.dir "$work/cache-$lang")
    STARTUP[$lang]=$(field startup_ms "$line")
done

# One cpustat scrape: instantiate + collect in process (the harness), and the
# exporter's own module duration.
log "cpustat per scrape"
line=$("$harness" instantiate --component "$guests/cpustat.wasm" --dir /proc=/proc \
    --iterations 500 --warmup 50)
cpustat_p50_ms=$(awk -v us="$(field p50_us "$line")" 'BEGIN {printf "%.2f", us / 1000}')

row() { printf '%-44s %10s %10s %10s %10s %10s\n' "$@"; }
echo
echo "measured: $exporter ($(git -C "$checkout" describe --always --dirty 2>/dev/null || echo "?"))"
echo "interpreter plugins: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $scrapes scrapes before each reading"
echo
row "exporter with" "RSS MiB" "PSS MiB" "anon MiB" "file MiB" "shmem MiB"
for lang in python js; do
    for n in "${counts[@]}"; do
        row "$n distinct $lang plugin(s), warm" "$(mib "${RSS[$lang-$n]}")" "$(mib "${PSS[$lang-$n]}")" \
            "$(mib "${ANON[$lang-$n]}")" "$(mib "${FILE[$lang-$n]}")" "$(mib "${SHMEM[$lang-$n]}")"
    done
done
echo
per_plugin() {
    awk -v a="${RSS[$1-1]}" -v b="${RSS[$1-10]}" 'BEGIN {printf "%.1f", (b - a) / 9 / 1024}'
}
per_plugin_pss() {
    awk -v a="${PSS[$1-1]}" -v b="${PSS[$1-10]}" 'BEGIN {printf "%.1f", (b - a) / 9 / 1024}'
}
echo "each added Python plugin: $(per_plugin python) MiB RSS, $(per_plugin_pss python) MiB PSS"
echo "each added JavaScript plugin: $(per_plugin js) MiB RSS, $(per_plugin_pss js) MiB PSS"
echo "cold start with 10 Python plugins: ${cold_seconds} s; peak $(mib "$cold_peak") MiB for the exporter and its compiling children together, $(mib "$cold_own_peak") MiB for the exporter alone"
echo "start-up with 10 compiled plugins: Python ${STARTUP[python]} ms, JavaScript ${STARTUP[js]} ms"
echo "cpustat instantiate+collect, in process: p50 ${cpustat_p50_ms} ms"
echo
echo "bench: finished in $(($(date +%s) - started)) s" >&2
target python_plugin_rss "$(per_plugin python)" " MiB" "<=" 25
target js_plugin_rss "$(per_plugin js)" " MiB" "<=" 25
target cold_start_10_peak "$(mib "$cold_peak")" " MiB" "<=" 300
target startup_10_interpreters "$(awk -v ms="${STARTUP[python]}" 'BEGIN {printf "%.3f", ms / 1000}')" " s" "<=" 1
target startup_10_js "$(awk -v ms="${STARTUP[js]}" 'BEGIN {printf "%.3f", ms / 1000}')" " s" "<=" 1
target cpustat_per_scrape "$cpustat_p50_ms" " ms" "<=" 1
