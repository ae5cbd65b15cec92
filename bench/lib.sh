# Helpers shared by the benchmark scripts (sourced): logging, installing
# what is missing, starting and stopping servers on 127.0.0.1, reading
# memory figures and wrk's latencies, and the `target NAME: VALUE (goal G)
# met|missed` lines.
# The sourcing script sets `work` (its scratch directory); servers started
# with start_server are stopped when it exits.

log() { echo "bench: $*" >&2; }

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

# to_us VALUE: wrk's "612.00us", "1.73ms", "2.01s" in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
        printf "%.1f", n
    }'
}

# exporter_config FILE MODULE_YAML...: a config of the exporter with defaults.
exporter_config() {
    local file=$1
    shift
    {
        echo "modules:"
        printf '%s\n' "$@"
    } >"$file"
}

# start_server NAME CMD...: starts a server on 127.0.0.1:0 (the command must
# say so) and waits for its `listening on ADDR` line; sets server_pid and
# server_addr.
start_server() {
    local name=$1 i line
    shift
    : >"$work/$name.log"
    "$@" >/dev/null 2>"$work/$name.log" &
    server_pid=$!
    pids+=("$server_pid")
    for ((i = 0; i < 2400; i++)); do
        if line=$(grep -o -m1 'listening on [0-9.:]*' "$work/$name.log"); then
            server_addr=${line#listening on }
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            log "$name exited before listening; its log:"
            cat "$work/$name.log" >&2
            return 1
        fi
        sleep 0.05
    done
    log "$name did not listen within 120 s"
    return 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}

peak_rss_kib() {
    awk '/^VmHWM:/ {print $2}' "/proc/$1/status"
}

# mib KIB and ratio A B print nothing when a figure is missing.
mib() {
    if [ -n "$1" ]; then awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; fi
}
ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b}'
    fi
}

# field KEY LINE: the value of KEY=VALUE in a line of the harness.
field() { sed -E "s/.*(^| )$1=([^ ]+).*/\2/" <<<"$2"; }

# target NAME VALUE UNIT OP GOAL: one line, met or missed; an empty value
# (a measurement that could not be made) is missed.
target() {
    local name=$1 value=$2 unit=$3 op=$4 goal=$5 verdict=missed shown
    if [ -n "$value" ] && awk -v v="$value" -v g="$goal" -v op="$op" \
        'BEGIN {exit !((op == "<=" && v <= g) || (op == ">=" && v >= g))}'; then
        verdict=met
    fi
    shown=${value:-n/a}
    [ -z "$value" ] || shown="$value$unit"
    local sym="≤"
    [ "$op" = "<=" ] || sym="≥"
    echo "target $name: $shown (goal $sym $goal$unit) $verdict"
}

# distinct SRC OUT INDEX: a copy of the component SRC that differs from every
# other copy (a custom section naming INDEX appended): the exporter compiles,
# maps and keeps each copy apart, as it would distinct plugins.
distinct() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys
src, out, index = sys.argv[1], sys.argv[2], sys.argv[3]
def leb(n):
    b = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        b.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(b)
name = b"wasm-exporter-bench"
payload = leb(len(name)) + name + index.encode()
data = open(src, "rb").read() + b"\x00" + leb(len(payload)) + payload
open(out, "wb").write(data)
PY
}

# rss_kib PID: current RSS; pss_kib PID: proportional set size (shared pages
# divided among the processes mapping them), from smaps_rollup.
rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}
pss_kib() {
    awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"
}

# tree_rss_kib PID: RSS of PID and all its descendants together.
tree_rss_kib() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" 2>/dev/null); do
        # A child that just ended has no status file, a zombie no VmRSS.
        local kib
        kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}

# use_checkout: where the measured exporter comes from. BENCH_CHECKOUT names
# another checkout of this repository (an older commit, say) whose release
# build, harness, guests and WAT fixtures are measured by this script, so that
# two builds are compared on one machine with the same measurements; the peers
# (native Rust, Go) always come from this checkout. Builds what is needed
# there; sets checkout, exporter, harness, xtask, guests and legacy (1 for a
# build without `wasm_exporter compile`, which takes its grants as `dirs` and
# fills its cache by starting once).
use_checkout() {
    checkout=$(cd "${BENCH_CHECKOUT:-$root}" && pwd)
    log "building the exporter, the harness and xtask in $checkout (release)"
    local p
    for p in wasm_exporter wasm_bench xtask; do
        (cd "$checkout" && cargo build --release --quiet -p "$p")
    done
    exporter=$checkout/target/release/wasm_exporter
    harness=$checkout/target/release/wasm_bench
    xtask=$checkout/target/release/xtask
    guests=$checkout/target/guests
    legacy=0
    "$exporter" compile --help >/dev/null 2>&1 || legacy=1
    [ "$legacy" = 0 ] || log "$exporter has no compile command: grants are given as dirs, its cache is filled by a first start"
}

# symbol_order_applied: the percentage of the functions named in the
# checkout's host/symbol-order.txt that its exporter binary has packed at
# the start of its code (within 110 % of their total size from the first
# function): nothing without the file, about a fifth for a binary linked
# without it, all when the linker followed it. The order keeps the binary's
# resident code small; names that no longer match (after a Rust or
# dependency upgrade) lower the figure: rerun bench/symbol-order.sh.
symbol_order_applied() {
    local file=$checkout/host/symbol-order.txt
    [ -f "$file" ] || return 0
    nm -S --defined-only "$exporter" | python3 -c '
import sys
funcs = {}
for line in sys.stdin:
    f = line.split()
    if len(f) == 4 and f[2] in "tT":
        funcs[f[3]] = (int(f[0], 16), int(f[1], 16))
names = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
found = [funcs[n] for n in names if n in funcs]
if names and funcs:
    start = min(a for a, _ in funcs.values())
    end = start + 1.1 * sum(size for _, size in found)
    print("%.1f" % (100 * sum(1 for a, _ in found if a < end) / len(names)), end="")
' "$file"
}

# collector_modules: the collectors (sysinfo, procstat from $guests) with
# the narrowest grants that serve them: every open is checked against them,
# as in production.
collector_modules() {
    printf -- '  - name: sysinfo\n    component: %s/sysinfo.wasm\n    grants: %s\n' "$guests" \
        "$(proc_grant /proc/meminfo /proc/partitions)"
    printf -- '  - name: procstat\n    component: %s/procstat.wasm\n    grants: %s\n' "$guests" "$(proc_grant /proc/stat)"
}

# proc_grant FILE...: the YAML grant of the given /proc files, in the form the
# measured exporter understands.
proc_grant() {
    if [ "$legacy" = 0 ]; then
        local IFS=,
        printf '{files: [%s]}' "$*"
    else
        printf '{dirs: [{host: /proc, guest: /proc}]}'
    fi
}
