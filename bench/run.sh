#!/usr/bin/env bash
# Measures the wasm exporter against native exporters doing the same work, on
# this machine, in one run, and prints the figures: a table, then one line per
# target saying whether it was met. It never fails on a figure; it fails only
# when something could not be built or run. See bench/README.md.
#
# Knobs (environment):
#   BENCH_DURATION      seconds of each load run              (default 10)
#   BENCH_THREADS       wrk threads                            (default 2)
#   BENCH_CONNECTIONS   wrk connections, all threads together  (default 4)
#   BENCH_MAX_REQUESTS  cap on the requests of one load run    (default 500000)
#   BENCH_ITERATIONS    measured instantiate+collect calls     (default 20000)
#   BENCH_CHECKOUT      another checkout whose build is measured (default: this one)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=$(date +%s)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

duration=${BENCH_DURATION:-10}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-4}
max_requests=${BENCH_MAX_REQUESTS:-500000}
iterations=${BENCH_ITERATIONS:-20000}
trivial_counts=(1 10 50)

out=$root/target/bench
work=$out/run
rm -rf "$work"
mkdir -p "$work"


# --- what the run needs ---------------------------------------------------------

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

# Go and client_golang come from Debian's packages and are built offline in
# GOPATH mode; without them the Go column is skipped, not the run.
go_src=/usr/share/gocode/src/github.com/prometheus/client_golang/prometheus
if ! command -v go >/dev/null || [ ! -d "$go_src" ]; then
    log "installing golang-go and golang-github-prometheus-client-golang-dev"
    apt_install golang-go golang-github-prometheus-client-golang-dev || true
fi

# One package per invocation, so that each is built with its own features and
# the exporter is exactly what `cargo build --release -p wasm_exporter` makes.
use_checkout
log "building the native exporter (release)"
cargo build --release --quiet -p native_exporter
native=$root/target/release/native_exporter

# --- compiled-component cache ---------------------------------------------------
# CACHE_FLAGS is passed to every start of the wasm exporter. The exporter keeps
# compiled components on disk where it is given `--cache.dir`; builds without
# that flag compile at every start and get no flag. CACHE_DIR is emptied at the
# start of every run, so start-up run 1 is cold and run 2 reuses what run 1
# wrote. To try another cache setting (a config key, say), set it here.
CACHE_DIR=$work/cache
CACHE_FLAGS=()
if "$exporter" --help 2>/dev/null | grep -q -- '--cache.dir'; then
    CACHE_FLAGS=(--cache.dir "$CACHE_DIR")
fi
# ----------------------------------------------------------------------------------

# `cargo xtask guests` builds every guest, which takes a while; skip it when
# the three this run uses are newer than everything they are built from.
fixtures=$checkout/tests/fixtures/wat
stale=0
for g in ok sysinfo procstat adversary; do
    if [ ! -f "$guests/$g.wasm" ] ||
        [ -n "$(cd "$checkout" && find guests/c wit tests/fixtures/wat guests/toolchains.toml -newer "$guests/$g.wasm" -type f -print -quit)" ]; then
        stale=1
    fi
done
# build_needed_guests: the three guests alone, the way `cargo xtask guests`
# builds them, for when another guest of the repository does not build.
build_needed_guests() {
    (cd "$checkout" && cargo xtask toolchains >&2)
    local g
    for g in sysinfo procstat adversary; do
        PATH="$checkout/target/toolchains/bin:$PATH" XTASK=$xtask GUEST_OUT=$guests \
            WASM_EXPORTER_ROOT=$checkout bash "$checkout/guests/c/$g/build.sh" >&2
    done
    "$harness" fixture --fixtures "$fixtures" --name ok --out "$work/ok.core.wasm"
    "$xtask" componentize "$work/ok.core.wasm" "$guests/ok.wasm" --no-wasi
}
if [ "$stale" = 1 ]; then
    log "building the guests (cargo xtask guests)"
    if ! (cd "$checkout" && cargo xtask guests >&2); then
        log "cargo xtask guests failed; building only ok, sysinfo and procstat"
        build_needed_guests
    fi
else
    log "guests ok, sysinfo and procstat are up to date"
fi

go_exporter=$out/go_exporter
go_skip=""
if ! command -v go >/dev/null; then
    go_skip="no Go toolchain (Debian package golang-go could not be installed)"
elif [ ! -d "$go_src" ]; then
    go_skip="no client_golang sources in $go_src (Debian package golang-github-prometheus-client-golang-dev could not be installed)"
else
    log "building the Go exporter (GOPATH mode, Debian's packaged sources, offline)"
    if ! (cd bench/go && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS='' \
        GOCACHE=$out/gocache CGO_ENABLED=0 go build -o "$go_exporter" main.go) >"$work/go-build.log" 2>&1; then
        go_skip="go build failed: $(tr '\n' ' ' <"$work/go-build.log" | cut -c1-300)"
    fi
fi
[ -z "$go_skip" ] || log "Go exporter skipped: $go_skip"

# --- helpers --------------------------------------------------------------------

trivial_modules() {
    local n=$1 i
    for ((i = 1; i <= n; i++)); do
        printf -- '  - name: ok_%03d\n    component: %s/ok_%03d.wasm\n' "$i" "$work/trivial" "$i"
    done
}

# c_modules N: N distinct C components (copies of the adversary test guest
# in its well-behaved mode, each serving `adversary_ok{id="N"}`: a C guest
# with libc, the helper library and the preview1 adapter, as every C plugin).
c_modules() {
    local n=$1 i
    for ((i = 1; i <= n; i++)); do
        printf -- '  - name: c_%03d\n    component: %s/c_%03d.wasm\n    params: {mode: ok, id: "%d"}\n' \
            "$i" "$work/c" "$i" "$i"
    done
}

# load NAME: a wrk run against server_addr; sets p50, p99 (µs), rps, and
# warns about failed requests.
# load NAME [THREADS CONNECTIONS]: wrk with the configured load, or with
# the given threads and connections.
load() {
    local name=$1 t=${2:-$threads} c=${3:-$connections} url="http://$server_addr/metrics" file
    file=$work/$name.wrk
    # A few scrapes first, so that nothing lazily set up lands in the figures.
    for _ in 1 2 3 4 5 6 7 8 9 10; do curl -sf -o /dev/null "$url"; done
    timeout $((duration + 30)) wrk -t"$t" -c"$c" -d"${duration}s" --timeout 10s \
        --latency -s bench/limit.lua "$url" -- $((max_requests / t)) >"$file"
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$file")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$file")")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$file")
    if grep -qE 'Non-2xx|Socket errors' "$file"; then
        log "$name: some requests failed: $(grep -E 'Non-2xx|Socket errors' "$file" | tr -s ' ')"
    fi
}

# check_modules NAME N: after a load run, every one of the N modules must
# have succeeded on every scrape, or the figures measured failures: the run's
# row then says so, and the targets taken from it are not met.
declare -A INVALID=()
check_modules() {
    local name=$1 n=$2 scrape errors up
    scrape=$(curl -sf "http://$server_addr/metrics")
    errors=$(awk '/^wasm_exporter_scrape_errors_total/ {s += $NF} END {print s + 0}' <<<"$scrape")
    up=$(awk '/^wasm_exporter_module_up/ && $NF == 1 {c++} END {print c + 0}' <<<"$scrape")
    if [ "$errors" != 0 ] || [ "$up" != "$n" ]; then
        log "$name: $errors failed module scrapes, $up of $n modules up: these figures are not valid"
        INVALID[$name]=1
    fi
}

# valid NAME VALUE: VALUE, or nothing when run NAME measured failures.
valid() {
    [ -n "${INVALID[$1]:-}" ] || printf '%s' "$2"
}

# label NAME TEXT: a row's label, marked when run NAME measured failures.
label() {
    if [ -n "${INVALID[$1]:-}" ]; then
        printf '%s (FAILED)' "$2"
    else
        printf '%s' "$2"
    fi
}

# series: the collectors' series of a scrape on stdin, without values.
series() {
    grep -E '^(sys_mem_usage|sys_disk_size|cpu_seconds_total)' | awk '{print $1}' | sort
}

fmt_us() {
    if [ -n "$1" ]; then printf '%s µs' "$1"; else printf -- '-'; fi
}
declare -A P50 P99 RPS RSS

loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- a. instantiate + collect, in process ----------------------------------------

log "instantiate+collect of ok.wasm, $iterations calls"
inst=$("$harness" instantiate --component "$guests/ok.wasm" --iterations "$iterations" \
    --warmup $((iterations / 10)))
inst_p50=$(field p50_us "$inst")
inst_p99=$(field p99_us "$inst")
# The real collectors the same way, to tell their guest time from the HTTP
# path in the end-to-end figures below. They read files, so fewer calls.
for g in sysinfo procstat; do
    log "instantiate+collect of $g.wasm, $((iterations / 10)) calls"
    line=$("$harness" instantiate --component "$guests/$g.wasm" --dir /proc=/proc \
        --iterations $((iterations / 10)) --warmup $((iterations / 100)))
    P50[inproc_$g]=$(field p50_us "$line") P99[inproc_$g]=$(field p99_us "$line")
done

# --- trivial modules ---------------------------------------------------------------

max_trivial=${trivial_counts[-1]}
log "making $max_trivial distinct trivial components"
mkdir -p "$work/trivial"
for ((i = 1; i <= max_trivial; i++)); do
    name=$(printf 'ok_%03d' "$i")
    "$harness" fixture --fixtures "$fixtures" --name ok --replace "wat_ok=$name" \
        --out "$work/trivial/$name.core.wasm"
    # The WAT fixtures speak world 0.1.0 (xtask builds them so); without
    # --wit the component would claim the newest world and every call
    # would fail on the output layout.
    "$xtask" componentize "$work/trivial/$name.core.wasm" "$work/trivial/$name.wasm" --no-wasi \
        --wit 0.1.0
done
for n in "${trivial_counts[@]}"; do
    exporter_config "$work/trivial_$n.yml" "$(trivial_modules "$n")"
done

# --- d. start-up with 50 modules, before anything else has run them --------------

startup=()
for run in 1 2; do
    log "start-up with $max_trivial modules, run $run"
    line=$("$harness" startup -- "$exporter" --config.file "$work/trivial_$max_trivial.yml" \
        --web.listen-address 127.0.0.1:0 "${CACHE_FLAGS[@]}")
    startup+=("$(field startup_ms "$line")")
done

# --- b. GET /metrics with 1, 10, 50 trivial modules ------------------------------

for n in "${trivial_counts[@]}"; do
    log "load: $n trivial modules"
    start_server "trivial_$n" "$exporter" --config.file "$work/trivial_$n.yml" \
        --web.listen-address 127.0.0.1:0 "${CACHE_FLAGS[@]}"
    load "trivial_$n"
    P50[trivial_$n]=$p50 P99[trivial_$n]=$p99 RPS[trivial_$n]=$rps
    RSS[trivial_$n]=$(peak_rss_kib "$server_pid")
    check_modules "trivial_$n" "$n"
    stop_server
done

# --- 50 C modules ---------------------------------------------------------------------

log "load: 50 C modules"
mkdir -p "$work/c"
for ((i = 1; i <= 50; i++)); do
    distinct "$guests/adversary.wasm" "$(printf '%s/c/c_%03d.wasm' "$work" "$i")" "$i"
done
exporter_config "$work/c_50.yml" "$(c_modules 50)"
start_server c_50 "$exporter" --config.file "$work/c_50.yml" --web.listen-address 127.0.0.1:0 "${CACHE_FLAGS[@]}"
load c_50
P50[c_50]=$p50 P99[c_50]=$p99 RPS[c_50]=$rps RSS[c_50]=$(peak_rss_kib "$server_pid")
check_modules c_50 50
stop_server

# --- c. the real collectors: wasm vs native Rust vs Go ------------------------------

exporter_config "$work/collectors.yml" "$(collector_modules)"
impls=(wasm native go)
for impl in "${impls[@]}"; do
    case $impl in
    wasm) cmd=("$exporter" --config.file "$work/collectors.yml" "${CACHE_FLAGS[@]}") ;;
    native) cmd=("$native") ;;
    go)
        [ -z "$go_skip" ] || continue
        cmd=("$go_exporter")
        ;;
    esac
    log "load: collectors, $impl"
    start_server "collectors_$impl" "${cmd[@]}" --web.listen-address 127.0.0.1:0
    curl -sf "http://$server_addr/metrics" | series >"$work/collectors_$impl.series"
    load "collectors_$impl"
    P50[$impl]=$p50 P99[$impl]=$p99 RPS[$impl]=$rps
    # One connection, one scrape at a time: how Prometheus scrapes.
    log "load: collectors, $impl, one scraper"
    load "collectors_${impl}_lone" 1 1
    P50[${impl}_lone]=$p50 P99[${impl}_lone]=$p99 RPS[${impl}_lone]=$rps
    RSS[$impl]=$(peak_rss_kib "$server_pid")
    [ "$impl" != wasm ] || check_modules collectors_wasm 2
    stop_server
done
for impl in native go; do
    [ -f "$work/collectors_$impl.series" ] || continue
    if ! cmp -s "$work/collectors_wasm.series" "$work/collectors_$impl.series"; then
        log "collectors: wasm and $impl do not serve the same series:"
        diff "$work/collectors_wasm.series" "$work/collectors_$impl.series" >&2 || true
    fi
done
collector_series=$(wc -l <"$work/collectors_wasm.series")
same_series="the same $collector_series series"
for impl in native go; do
    [ -f "$work/collectors_$impl.series" ] || continue
    cmp -s "$work/collectors_wasm.series" "$work/collectors_$impl.series" ||
        same_series="DIFFERENT series (see the log above)"
done

# --- report --------------------------------------------------------------------------

row() { printf '%-44s %12s %12s %12s %12s\n' "$@"; }
echo
echo "wasm_exporter benchmark: $(nproc) cores, load average $loadavg_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo "measured: $exporter ($(git -C "$checkout" describe --always --dirty 2>/dev/null || echo "?"))"
echo "load: wrk -t$threads -c$connections -d${duration}s on 127.0.0.1 (closed loop: latency includes queueing)"
if [ ${#CACHE_FLAGS[@]} -gt 0 ]; then
    echo "compile cache: ${CACHE_FLAGS[*]} (empty before start-up run 1)"
else
    echo "compile cache: none (this exporter has no --cache.dir)"
fi
if [ -z "$go_skip" ]; then
    echo "collectors: the wasm, native Rust and Go exporters serve $same_series"
else
    echo "collectors: the wasm and native Rust exporters serve $same_series"
fi
[ -z "$go_skip" ] || echo "Go exporter skipped: $go_skip"
echo
row "measurement" "p50" "p99" "scrapes/s" "peak RSS MiB"
row "instantiate+collect ok.wasm (in process)" "$(fmt_us "$inst_p50")" "$(fmt_us "$inst_p99")" "-" "-"
for g in sysinfo procstat; do
    row "instantiate+collect $g.wasm (in process)" "$(fmt_us "${P50[inproc_$g]}")" \
        "$(fmt_us "${P99[inproc_$g]}")" "-" "-"
done
for n in "${trivial_counts[@]}"; do
    row "$(label "trivial_$n" "GET /metrics, $n trivial module(s)")" "$(fmt_us "${P50[trivial_$n]}")" \
        "$(fmt_us "${P99[trivial_$n]}")" "${RPS[trivial_$n]}" "$(mib "${RSS[trivial_$n]}")"
done
row "$(label c_50 "GET /metrics, 50 C modules")" "$(fmt_us "${P50[c_50]}")" "$(fmt_us "${P99[c_50]}")" \
    "${RPS[c_50]}" "$(mib "${RSS[c_50]}")"
row "$(label collectors_wasm "collectors: wasm (sysinfo + procstat)")" "$(fmt_us "${P50[wasm]}")" "$(fmt_us "${P99[wasm]}")" \
    "${RPS[wasm]}" "$(mib "${RSS[wasm]}")"
row "collectors: native Rust" "$(fmt_us "${P50[native]}")" "$(fmt_us "${P99[native]}")" \
    "${RPS[native]}" "$(mib "${RSS[native]}")"
if [ -z "$go_skip" ]; then
    row "collectors: Go (client_golang)" "$(fmt_us "${P50[go]}")" "$(fmt_us "${P99[go]}")" \
        "${RPS[go]}" "$(mib "${RSS[go]}")"
else
    row "collectors: Go (client_golang)" "skipped" "" "" ""
fi
# Throughput ratios are inverted (peer / wasm) so that every ratio reads as
# "how many times the peer's cost the wasm exporter pays".
for peer in native go; do
    [ -n "${P50[$peer]:-}" ] || continue
    row "ratio wasm/$peer" "$(ratio "${P50[wasm]}" "${P50[$peer]}")x" "$(ratio "${P99[wasm]}" "${P99[$peer]}")x" \
        "$(ratio "${RPS[$peer]}" "${RPS[wasm]}")x" "$(ratio "${RSS[wasm]}" "${RSS[$peer]}")x"
done
for impl in wasm native go; do
    [ -n "${P50[${impl}_lone]:-}" ] || continue
    row "collectors, one scraper: $impl" "$(fmt_us "${P50[${impl}_lone]}")" \
        "$(fmt_us "${P99[${impl}_lone]}")" "${RPS[${impl}_lone]}" "-"
done
for peer in native go; do
    [ -n "${P50[${peer}_lone]:-}" ] || continue
    row "ratio wasm/$peer, one scraper" "$(ratio "${P50[wasm_lone]}" "${P50[${peer}_lone]}")x" \
        "$(ratio "${P99[wasm_lone]}" "${P99[${peer}_lone]}")x" \
        "$(ratio "${RPS[${peer}_lone]}" "${RPS[wasm_lone]}")x" "-"
done
cold="" warm=""
[ ${#CACHE_FLAGS[@]} -eq 0 ] || cold=" (cold)" warm=" (warm)"
row "start-up, $max_trivial modules, run 1$cold" "${startup[0]} ms" "" "" ""
row "start-up, $max_trivial modules, run 2$warm" "${startup[1]} ms" "" "" ""
echo

echo "bench: finished in $(($(date +%s) - started)) s" >&2
target instantiate_collect_p50 "$inst_p50" " µs" "<=" 50
target collectors_vs_native "$(ratio "${P50[wasm]}" "${P50[native]}")" "x" "<=" 1.5
target collectors_throughput_vs_native "$(ratio "${RPS[native]}" "${RPS[wasm]}")" "x" "<=" 1.5
target collectors_one_scraper_vs_native "$(ratio "${P50[wasm_lone]}" "${P50[native_lone]}")" "x" "<=" 1.25
target collectors_vs_go "$(ratio "${P50[wasm]}" "${P50[go]:-}")" "x" "<=" 1.0
target collectors_p99_vs_go "$(ratio "${P99[wasm]}" "${P99[go]:-}")" "x" "<=" 1.0
target collectors_throughput_vs_go "$(ratio "${RPS[go]:-}" "${RPS[wasm]}")" "x" "<=" 1.0
target collectors_rss_vs_go "$(ratio "${RSS[wasm]}" "${RSS[go]:-}")" "x" "<=" 1.0
target symbol_order_applied "$(symbol_order_applied)" " %" ">=" 90
target throughput_10_trivial "$(valid trivial_10 "${RPS[trivial_10]}")" " scrapes/s" ">=" 2000
target rss_10_modules "$(valid trivial_10 "$(mib "${RSS[trivial_10]}")")" " MiB" "<=" 64
target rss_50_modules "$(valid trivial_50 "$(mib "${RSS[trivial_50]}")")" " MiB" "<=" 150
target startup_50_warm "$(awk -v ms="${startup[1]}" 'BEGIN {printf "%.3f", ms / 1000}')" " s" "<=" 1
