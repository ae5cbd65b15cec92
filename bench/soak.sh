#!/usr/bin/env bash
# Soak: the exporter (release build) with good, faulting and stuck guests
# for a long time, on loopback:
#   - the real Prometheus (Debian's package) scraping it every second,
#   - a client scraping it back to back (curl),
#   - a configuration reload every 10 s (alternating POST /-/reload and
#     SIGHUP, alternating between two configs that add and drop a module),
# sampling the exporter's RSS, open descriptors and threads every 10 s. At
# the end it prints the samples and one line per target:
#   target soak_rss_growth: X % (goal ≤ 5 %) met|missed
#   target soak_fd_growth: N (goal flat, ±2) met|missed
#   target soak_thread_growth: N (goal flat, ±2) met|missed
#   target soak_failed_scrapes: N (goal 0) met|missed
# Growth compares the last minute with the first minute after a warm-up
# (a tenth of the run, at least 30 s). Not run by CI.
#
# Usage: bench/soak.sh [--duration 30m] [--debug]
#   --duration  s, m or h (default 30m)
#   --debug     soak the debug build (target/debug) instead of a release one
# Environment: SOAK_EXPORTER=PATH soaks that binary (nothing is built);
# SOAK_SKIP_GUESTS=1 uses the guests already in target/guests. The guests
# are copied into target/soak first, so rebuilding them meanwhile does not
# disturb the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

duration=30m
profile=release
while [ $# -gt 0 ]; do
    case $1 in
        --debug) profile=debug; shift ;;
        --duration) duration=${2:?--duration needs a value}; shift 2 ;;
        --duration=*) duration=${1#*=}; shift ;;
        *) echo "usage: bench/soak.sh [--duration 30m] [--debug]" >&2; exit 2 ;;
    esac
done
case $duration in
    *h) seconds=$(( ${duration%h} * 3600 )) ;;
    *m) seconds=$(( ${duration%m} * 60 )) ;;
    *s) seconds=${duration%s} ;;
    *) seconds=$duration ;;
esac
[ "$seconds" -ge 60 ] || { echo "soak: --duration must be at least 1m" >&2; exit 2; }

log() { echo "soak: $*" >&2; }

work=$root/target/soak
rm -rf "$work"
mkdir -p "$work/prometheus"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if [ -n "${SOAK_EXPORTER:-}" ]; then
    exporter=$SOAK_EXPORTER
else
    log "building the exporter ($profile)"
    if [ "$profile" = release ]; then
        cargo build --release --quiet -p wasm_exporter
    else
        cargo build --quiet -p wasm_exporter
    fi
    exporter=$root/target/$profile/wasm_exporter
fi
if [ -z "${SOAK_SKIP_GUESTS:-}" ]; then
    log "building the guests"
    cargo xtask guests >"$work/guests.log" 2>&1 || { cat "$work/guests.log" >&2; exit 1; }
fi
cp -r "$root/target/guests" "$work/guests"
cp -r "$root/target/plugins" "$work/plugins"
g=$work/guests

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)

# A TCP peer that accepts and never answers (it closes what it accepted
# 30 s later): the `stuck` guest waits on it until its deadline, on a guest
# thread of its own, as a scraper of a hung service would. File grants
# refuse FIFOs, so a blocking open is no longer a way to get stuck.
python3 -u - >"$work/silent.port" <<'PY' &
import collections, socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
s.settimeout(1)
print(s.getsockname()[1])
held = collections.deque()
while True:
    try:
        held.append((time.time(), s.accept()[0]))
    except socket.timeout:
        pass
    while held and time.time() - held[0][0] > 30:
        held.popleft()[1].close()
PY
pids+=("$!")
for _ in $(seq 50); do [ -s "$work/silent.port" ] && break; sleep 0.1; done
silent_port=$(cat "$work/silent.port")

# $1: "a" or "b" (b adds a module, so every reload changes something).
write_config() {
    cat >"$work/config.yml" <<EOF
global: {concurrency: 8}
modules:
  - name: good
    component: $g/ok.wasm
  - name: sysinfo
    plugin: $work/plugins/sysinfo
    grants: {files: [/proc/meminfo, /proc/partitions]}
  - name: procstat
    component: $g/procstat.wasm
    grants: {files: [/proc/stat]}
  - name: trap
    component: $g/trap.wasm
  - name: membomb
    component: $g/membomb.wasm
  - name: spin
    component: $g/loop.wasm
    limits: {timeout: 200ms}
  - name: refuse
    component: $g/adversary.wasm
    params: {mode: error}
  - name: duplicates
    component: $g/adversary.wasm
    params: {mode: duplicate_series}
  - name: fat
    component: $g/adversary.wasm
    params: {mode: many_series, count: 20000}
  - name: sleepy
    component: $g/adversary.wasm
    params: {mode: sleep, ms: 60000}
    limits: {timeout: 300ms}
  - name: stuck
    component: $g/netprobe.wasm
    params: {mode: read, host: 127.0.0.1, port: "$silent_port", timeout_ms: "60000"}
    grants: {tcp: ["127.0.0.1:$silent_port"]}
    limits: {timeout: 300ms}
  - name: generated
    component: $g/generated.wasm
    limits: {max_series: 300, max_families: 16, max_name_length: 64, max_label_value_length: 200, max_help_length: 256, max_output_bytes: 64KiB}
EOF
    if [ "$1" = b ]; then
        cat >>"$work/config.yml" <<EOF
  - name: extra
    component: $g/adversary.wasm
    params: {mode: ok, id: extra}
EOF
    fi
}
write_config a

# With a compile cache, as deployed (see the Dockerfile): reloads load the
# compiled modules instead of compiling them again in the exporter.
mkdir -m 700 "$work/cache"
"$exporter" --web.listen-address="127.0.0.1:$port" --config.file="$work/config.yml" \
    --cache.dir="$work/cache" --web.enable-lifecycle --log.level=warn 2>"$work/exporter.log" &
exporter_pid=$!
pids+=("$exporter_pid")
# The first start compiles every component into the fresh cache (in child
# processes): on a busy machine that takes a while.
for _ in $(seq 1200); do
    curl -fs "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1 && break
    kill -0 "$exporter_pid" 2>/dev/null || break
    sleep 0.1
done
curl -fs "http://127.0.0.1:$port/-/healthy" >/dev/null || {
    log "the exporter did not become healthy within 120 s"
    cat "$work/exporter.log" >&2
    exit 1
}

prom_port=$(free_port)
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: soak
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$work/prometheus.log" &
pids+=("$!")

# The client: scrapes back to back until told to stop; counts failures.
(
    ok=0 failed=0
    while [ ! -e "$work/stop" ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/metrics" || true)
        if [ "$code" = 200 ]; then ok=$((ok + 1)); else failed=$((failed + 1)); echo "$(date +%T) $code" >>"$work/client-failures"; fi
    done
    echo "$ok $failed" >"$work/client"
) &
client_pid=$!
pids+=("$client_pid")

sample() {
    local rss threads fds anon file
    # RSS also in two parts: anonymous memory (heap, pool slots) is what a
    # leak grows; file-backed pages (compiled code mapped from --cache.dir,
    # the binary) are clean page cache that also grows as the cache warms.
    # One read of status, so the four figures are of the same moment.
    read -r rss threads anon file < <(awk '/^VmRSS:/ {r = $2} /^Threads:/ {t = $2}
        /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} END {print r, t, a, f}' "/proc/$exporter_pid/status")
    fds=$(ls "/proc/$exporter_pid/fd" | wc -l)
    echo "$1 $rss $fds $threads $anon $file" >>"$work/samples"
}

log "running for ${seconds}s: exporter on 127.0.0.1:$port, Prometheus on 127.0.0.1:$prom_port"
echo "elapsed_s rss_kib fds threads anon_kib file_kib" >"$work/samples"
start=$(date +%s)
reloads=0 reload_failures=0 variant=a
while :; do
    now=$(( $(date +%s) - start ))
    [ "$now" -ge "$seconds" ] && break
    kill -0 "$exporter_pid" 2>/dev/null || { log "the exporter died"; cat "$work/exporter.log" >&2; exit 1; }
    sample "$now"
    # Reload: alternate the config and the way it is asked for.
    variant=$([ "$variant" = a ] && echo b || echo a)
    write_config "$variant"
    if [ $((reloads % 2)) = 0 ]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/-/reload" || true)
        [ "$code" = 200 ] || reload_failures=$((reload_failures + 1))
    else
        kill -HUP "$exporter_pid"
    fi
    reloads=$((reloads + 1))
    # Back on the 10 s schedule, however long the reload took.
    sleep $(( 10 - ($(date +%s) - start) % 10 ))
done
sample "$(( $(date +%s) - start ))"
touch "$work/stop"
wait "$client_pid" 2>/dev/null || true

# Prometheus' view: every scrape of the run, and how many failed (up == 0).
range=$(( seconds - 5 ))
query() {
    curl -s --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'
}
prom_scrapes=$(query "count_over_time(up{job=\"soak\"}[${range}s])")
prom_failed=$(query "count_over_time(up{job=\"soak\"}[${range}s]) - sum_over_time(up{job=\"soak\"}[${range}s])")
read -r client_ok client_failed <"$work/client"
reload_ok=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^wasm_exporter_config_last_reload_successful / {print $2}')

echo
echo "samples (every 10 s):"
column -t "$work/samples"
echo
echo "Prometheus: $prom_scrapes scrapes, $prom_failed failed; client: $client_ok scrapes, $client_failed failed; $reloads reloads ($reload_failures refused), last successful: $reload_ok"

python3 - "$work/samples" "$seconds" "$prom_failed" "$client_failed" <<'EOF'
import statistics, sys
path, seconds, prom_failed, client_failed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [list(map(int, l.split())) for l in open(path).read().splitlines()[1:]]
warm = max(30, seconds // 10)
first = [r for r in rows if warm <= r[0] < warm + 60] or rows[:1]
last = [r for r in rows if r[0] >= rows[-1][0] - 60] or rows[-1:]
def med(rs, i): return statistics.median(r[i] for r in rs)
def growth(i): return (med(last, i) - med(first, i)) * 100 / med(first, i)
rss = growth(1)
fds = med(last, 2) - med(first, 2)
threads = med(last, 3) - med(first, 3)
failed = prom_failed + client_failed
def verdict(ok): return "met" if ok else "missed"
print(f"of which anonymous: {med(first, 4) / 1024:.1f} → {med(last, 4) / 1024:.1f} MiB ({growth(4):+.1f} %), "
      f"file-backed: {med(first, 5) / 1024:.1f} → {med(last, 5) / 1024:.1f} MiB ({growth(5):+.1f} %)")
print(f"target soak_rss_growth: {rss:.1f} % (goal ≤ 5 %) {verdict(rss <= 5)}")
# Flat: within 2 of the first minute (a client connection or a guest
# thread may be open at the moment of a sample).
print(f"target soak_fd_growth: {fds:+g} ({med(first, 2):g} → {med(last, 2):g}) (goal flat, ±2) {verdict(fds <= 2)}")
print(f"target soak_thread_growth: {threads:+g} ({med(first, 3):g} → {med(last, 3):g}) (goal flat, ±2) {verdict(threads <= 2)}")
print(f"target soak_failed_scrapes: {failed} (goal 0) {verdict(failed == 0)}")
EOF
