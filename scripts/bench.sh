#!/usr/bin/env bash
# The benchmark suite (issues 4 and 9). Builds the release binary, starts servers on loopback, runs the
# standard scenarios with `artemis load` (medians of 3 runs) and writes BENCHMARKS.md with the
# machine, the driver, the exact command lines, the figures and the targets.
#
#   scripts/bench.sh            full suite (several minutes)
#   scripts/bench.sh --quick    one run each, short durations (development; still writes the file)
#   scripts/bench.sh --out F    write the report to F instead of BENCHMARKS.md
#   scripts/bench.sh --only management
#                               only the durable-management part (issue 9: management writes and
#                               fsyncs per write, lookup/heartbeat with 10,000 pulled out); it
#                               replaces just that section of the report (combines with --quick)
#
# Needs jq, nginx for the reference server and strace for the fsync count (installed with apt-get
# when missing and root). Never run by CI: load generator and server share this machine's cores,
# and timings drift.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
ONLY=""
OUT="$ROOT/BENCHMARKS.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --out) OUT="$2"; shift ;;
        --only)
            ONLY="$2"; shift
            [ "$ONLY" = management ] || { echo "bench.sh: --only takes: management" >&2; exit 2; } ;;
        -h|--help) sed -n 2,15p "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    RUNS=1; DUR=3s; WARM=1s; MEM_INSTANCES=1000000; EVICT_HB_DURATION=16s; STRACE_DUR=2s
else
    RUNS=3; DUR=10s; WARM=2s; MEM_INSTANCES=1000000; EVICT_HB_DURATION=18s; STRACE_DUR=5s
fi

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

ensure_tool() { # command apt-package
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing $2"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null 2>&1 || true
    fi
    command -v "$1" >/dev/null 2>&1
}
ensure_tool jq jq || { echo "bench.sh: jq is required (apt-get install jq)" >&2; exit 1; }
HAVE_NGINX=0
if [ -z "$ONLY" ] && { ensure_tool nginx nginx-light || [ -x /usr/sbin/nginx ]; }; then HAVE_NGINX=1; fi
HAVE_STRACE=0
if ensure_tool strace strace; then HAVE_STRACE=1; fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

log "building the release binary"
cargo build --release --bin artemis >&2
BIN="$ROOT/target/release/artemis"
SHOWN_BIN="target/release/artemis"

WORK=$(mktemp -d /tmp/artemis-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
COMMANDS="$WORK/commands.md"
: >"$COMMANDS"
DRIVER=unknown
OUR_PIDS=""

# Java's registry rate limit (100,000 requests per 10 s per node, artemis's default too) would
# refuse most of a throughput run: every server here runs with it raised far above any load,
# still enabled, so the limiter's cost is measured but it never refuses.
RATE_LIMITS='[rate_limits.registry]
default_per_10s = 1000000000'
printf '%s\n' "$RATE_LIMITS" >"$WORK/bench.toml"
echo "- \`bench.toml\` (every server unless another config is named): \`[rate_limits.registry] default_per_10s = 1000000000\`" >>"$COMMANDS"

# start_server NAME [server args...]: sets SERVER_PID and ADDR.
start_server() {
    local name=$1; shift
    local out="$WORK/$name.out" err="$WORK/$name.log"
    local config=(--config "$WORK/bench.toml")
    case " $* " in *" --config "*) config=() ;; esac
    "$BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/$name-data" "${config[@]}" "$@" >"$out" 2>"$err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    OUR_PIDS="$SERVER_PID"
    ADDR=""
    for _ in $(seq 1 200); do
        ADDR=$(sed -n 's/^artemis listening on //p' "$out" | head -n1)
        [ -n "$ADDR" ] && break
        sleep 0.1
    done
    if [ -z "$ADDR" ]; then
        cat "$err" >&2
        echo "bench.sh: server $name did not start" >&2
        exit 1
    fi
    DRIVER=$(sed 's/\x1b\[[0-9;]*m//g' "$err" | grep -o 'driver="\?[a-z_]*' | head -n1 | sed 's/driver="\?//')
    local shown="$SHOWN_BIN server --listen 127.0.0.1:0 --data-dir DIR"
    [ $# -gt 0 ] && shown="$shown $*"
    shown=${shown//$WORK\//}
    echo "- server \`$name\`: \`$shown\`" >>"$COMMANDS"
}

# stop_server [PID]: stops the last started server, or the one with this pid.
stop_server() {
    local pid=${1:-$SERVER_PID}
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# load OUT.json [load args...]: runs the generator with --json; returns its exit code. The command
# line is recorded once per distinct shape (ADDR stands for the server's address).
load() {
    local out=$1; shift
    local shown
    shown="$SHOWN_BIN load $*"
    shown=${shown//$ADDR/ADDR}
    shown=${shown//$WORK\//}
    grep -qxF -- "- \`$shown\`" "$COMMANDS" || echo "- \`$shown\`" >>"$COMMANDS"
    if ! "$BIN" load "$@" --json >"$out" 2>"$out.err"; then
        tail -n 5 "$out.err" >&2
        return 1
    fi
}

# The machine is shared with other work (builds, tests). Busy CPU of the whole machine, in
# seconds: user + nice + system + irq + softirq + steal.
busy_s() { awk -v hz="$CLK_TCK" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }
# wait_quiet: wait (at most 3 minutes) until processes other than ours use < 0.2 cores.
wait_quiet() {
    local i b0 b1 o0 o1 other
    for i in $(seq 1 90); do
        b0=$(busy_s); o0=$(proc_cpu $OUR_PIDS); sleep 1; b1=$(busy_s); o1=$(proc_cpu $OUR_PIDS)
        other=$(awk -v a="$b0" -v b="$b1" -v c="$o0" -v d="$o1" 'BEGIN { printf "%.2f", (b - a) - (d - c) }')
        awk -v o="$other" 'BEGIN { exit !(o < 0.2) }' && return 0
        [ "$i" = 1 ] && log "   waiting for other processes to go quiet (${other} cores busy)"
        sleep 1
    done
    log "   machine still busy after 3 minutes; measuring anyway"
}
# timed OUT.json [load args...]: a measured run. Waits for a quiet machine, then runs `load`; a run
# during which other processes used more than 0.2 cores is repeated (at most twice). The CPU the
# rest of the machine used during the kept run is stored in OUT.json.foreign (cores).
FOREIGN_ALL=()
timed() {
    local out=$1 attempt b0 b1 s0 s1 t0 t1 client foreign
    for attempt in 1 2 3; do
        wait_quiet
        b0=$(busy_s); s0=$(proc_cpu $OUR_PIDS); t0=$(now_s)
        load "$@"
        b1=$(busy_s); s1=$(proc_cpu $OUR_PIDS); t1=$(now_s)
        client=$(jq '(.client_cpu_user_s // 0) + (.client_cpu_sys_s // 0)' "$out")
        foreign=$(awk -v a="$b0" -v b="$b1" -v c="$s0" -v d="$s1" -v cl="$client" -v t0="$t0" -v t1="$t1" \
            'BEGIN { f = ((b - a) - (d - c) - cl) / (t1 - t0); if (f < 0) f = 0; printf "%.2f", f }')
        echo "$foreign" >"$out.foreign"
        awk -v c="$s0" -v d="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", (d - c) / (t1 - t0) }' >"$out.server_cores"
        if awk -v f="$foreign" 'BEGIN { exit !(f < 0.2) }'; then break; fi
        log "   run disturbed: other processes used $foreign cores; repeating"
    done
    FOREIGN_ALL+=("$foreign")
}

jqr() { jq -r "$1" "$2"; }
# others PREFIX: the other processes' CPU (cores) during each kept run WORK/PREFIX-N.json.
others() { local f out=(); for f in "$WORK/$1"-[0-9]*.json.foreign; do [ -f "$f" ] && out+=("$(cat "$f")"); done; runs_list "${out[@]}"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
fmt_int() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
fmt2() { printf "%.2f" "$1"; }
CLK_TCK=$(getconf CLK_TCK)
# proc_cpu PID...: CPU seconds (user + system) used so far by these processes.
proc_cpu() {
    local total=0 pid
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        total=$(awk -v t="$total" -v hz="$CLK_TCK" '{ sub(/.*\) /, ""); print t + ($12 + $13) / hz }' "/proc/$pid/stat")
    done
    echo "$total"
}
now_s() { date +%s.%N; }
runs_list() { local IFS=', '; echo "$*"; }
met() { # value op target → "yes"/"no"
    if awk -v v="$1" -v t="$3" "BEGIN { exit !(v $2 t) }"; then echo "**yes**"; else echo "**no**"; fi
}

COMMON=(--threads 2 --duration "$DUR" --warmup "$WARM")
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
MODE=$([ "$QUICK" = 1 ] && echo "quick mode: 1 run per figure, ${DUR} measured" || echo "medians of $RUNS runs, ${DUR} measured after ${WARM} warm-up")
INVOCATION="scripts/bench.sh${ONLY:+ --only $ONLY}$([ "$QUICK" = 1 ] && echo " --quick" || true)"

# ---------------------------------------------------------------------------------------------
# Durable management (issue 9): run_management measures, management_section writes its part of
# the report between markers, so `--only management` can replace just that part of a report.
PULLED=10000
MGMT_BEGIN='<!-- management:begin -->'
MGMT_END='<!-- management:end -->'

# rel_pct A B: how far B is from A, in percent of A (signed).
rel_pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", (b - a) * 100 / a }'; }
# spread_pct V...: run-to-run spread, (max - min) / median, in percent.
spread_pct() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.1f", (a[NR] - a[1]) * 100 / a[int((NR + 1) / 2)] }'
}
# within_noise DELTA_PCT SPREAD_PCT: "equal within noise" when the medians differ by at most the
# larger of 5% and the spread of the runs.
within_noise() {
    if awk -v d="$1" -v s="$2" 'BEGIN { if (d < 0) d = -d; exit !(d <= (s > 5 ? s : 5)) }'; then
        echo "**yes**"
    else
        echo "**no**"
    fi
}

# compare_pulled_out PREFIX SCENARIO-ARGS -- NONE-ARGS -- PULLED-ARGS: runs the scenario against
# two servers side by side, one with nothing pulled out and one with $PULLED pulled out, their
# runs alternating so the shared machine's drift hits both alike. Results: WORK/PREFIX-none-N.json
# and WORK/PREFIX-pulled-N.json.
compare_pulled_out() {
    local prefix=$1; shift
    local common=() none=() pulled=() r
    while [ "$1" != -- ]; do common+=("$1"); shift; done; shift
    while [ "$1" != -- ]; do none+=("$1"); shift; done; shift
    pulled=("$@")
    start_server "$prefix-none"
    local none_pid=$SERVER_PID none_addr=$ADDR
    start_server "$prefix-pulled"
    local pulled_pid=$SERVER_PID pulled_addr=$ADDR
    OUR_PIDS="$none_pid $pulled_pid"
    local side
    for r in $(seq "$RUNS"); do
        # Which side goes first alternates too (none, pulled; pulled, none; ...).
        for side in $([ $((r % 2)) = 1 ] && echo none pulled || echo pulled none); do
            if [ "$side" = none ]; then
                ADDR=$none_addr
                timed "$WORK/$prefix-none-$r.json" --target "http://$ADDR" "${common[@]}" \
                    "${none[@]}" --connections 64 "${COMMON[@]}"
            else
                ADDR=$pulled_addr
                timed "$WORK/$prefix-pulled-$r.json" --target "http://$ADDR" "${common[@]}" \
                    "${pulled[@]}" --pulled-out "$PULLED" --connections 64 "${COMMON[@]}"
            fi
        done
    done
    stop_server "$none_pid"
    stop_server "$pulled_pid"
}

# runs_of PREFIX JQ: the JQ figure of every kept run WORK/PREFIX-N.json, rounded, one per line.
runs_of() { local r; for r in $(seq "$RUNS"); do printf '%.0f\n' "$(jqr "$2" "$WORK/$1-$r.json")"; done; }

# count_fsyncs: a separate, shorter manage run with strace attached to the last started server,
# counting its fsync and fdatasync calls. strace slows every traced call, so this run's throughput
# is not the reported one. Sets M8_FSYNCS, M8_TRACED_WRITES, M8_TRACED_RPS, or M8_FSYNC_STATUS.
count_fsyncs() {
    M8_FSYNC_STATUS=""
    if [ "$HAVE_STRACE" = 0 ]; then
        M8_FSYNC_STATUS="not measured: strace is not installed"
        return
    fi
    log "   fsyncs per write: a separate ${STRACE_DUR} run with strace attached to the server"
    wait_quiet
    strace -f -c -e trace=fsync,fdatasync -o "$WORK/m8-strace.txt" -p "$SERVER_PID" \
        2>"$WORK/m8-strace.err" &
    local strace_pid=$! attached=0
    PIDS+=("$strace_pid")
    # strace reports "Process PID attached" once every thread of the server is traced.
    for _ in $(seq 1 100); do
        if grep -q 'attached' "$WORK/m8-strace.err"; then attached=1; break; fi
        kill -0 "$strace_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "- fsync count: \`strace -f -c -e trace=fsync,fdatasync -o FILE -p SERVER_PID\` attached to server \`m8\` for the whole of this run:" >>"$COMMANDS"
    local ran=0
    if [ "$attached" = 1 ] && load "$WORK/m8-strace.json" --target "http://$ADDR" --scenario manage \
        --instances 10000 --services 100 --connections 64 --threads 2 --duration "$STRACE_DUR" \
        --warmup 0s; then
        ran=1
    fi
    # strace writes its summary when it detaches.
    kill -INT "$strace_pid" 2>/dev/null || true
    wait "$strace_pid" 2>/dev/null || true
    if [ "$ran" = 0 ]; then
        M8_FSYNC_STATUS="not measured: $(cat "$WORK/m8-strace.err" "$WORK/m8-strace.json.err" 2>/dev/null | head -c 300 | tr '\n' ' ')"
        return
    fi
    M8_FSYNCS=$(awk '$NF == "fsync" || $NF == "fdatasync" { n += $4 } END { print n + 0 }' "$WORK/m8-strace.txt")
    M8_TRACED_WRITES=$(jqr .requests "$WORK/m8-strace.json")
    M8_TRACED_RPS=$(jqr .requests_per_s "$WORK/m8-strace.json")
    if [ "$M8_TRACED_WRITES" = 0 ]; then
        M8_FSYNC_STATUS="not measured: the traced run made no writes"
    fi
}

run_management() {
    # This part lists its own command lines; the rest of the suite's stay in their file.
    local core_commands=$COMMANDS
    COMMANDS="$WORK/commands-management.md"
    : >"$COMMANDS"
    echo "- \`bench.toml\` (every server): \`[rate_limits.registry] default_per_10s = 1000000000\`" >>"$COMMANDS"
    MGMT_DATE=$(date -u +%Y-%m-%d)
    MGMT_LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
    local first_foreign=${#FOREIGN_ALL[@]} r

    log "8. durable management writes (operate-instance pull-out / pull-in), 64 connections"
    start_server m8
    for r in $(seq "$RUNS"); do
        timed "$WORK/m8-$r.json" --target "http://$ADDR" --scenario manage --instances 10000 \
            --services 100 --connections 64 "${COMMON[@]}"
        M8_SRV_CORES+=("$(cat "$WORK/m8-$r.json.server_cores")")
    done
    count_fsyncs
    stop_server

    log "9. lookup, 100 visible instances per service: $PULLED pulled out vs none"
    compare_pulled_out m9 --scenario lookup --services 100 -- --instances-per-service 100 -- \
        --instances-per-service 200

    log "10. heartbeat batch 1, 20,000 instances: $PULLED pulled out vs none"
    compare_pulled_out m10 --scenario heartbeat --batch 1 --instances 20000 --services 100 -- --

    MGMT_FOREIGN=("${FOREIGN_ALL[@]:$first_foreign}")
    MGMT_LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
    COMMANDS=$core_commands
}

# comparison_row N WHAT UNIT PREFIX: a results row comparing WORK/PREFIX-none-* and -pulled-*.
comparison_row() {
    local none pulled delta spread
    mapfile -t none < <(runs_of "$4-none" .requests_per_s)
    mapfile -t pulled < <(runs_of "$4-pulled" .requests_per_s)
    delta=$(rel_pct "$(median "${none[@]}")" "$(median "${pulled[@]}")")
    spread=$(printf '%s\n' "$(spread_pct "${none[@]}")" "$(spread_pct "${pulled[@]}")" | sort -g | tail -n1)
    echo "| $1 | $2 | $(fmt_int "$(median "${pulled[@]}")") vs $(fmt_int "$(median "${none[@]}")") $3/s (Δ $delta%, run spread ≤ $spread%) | equal within noise | $(within_noise "$delta" "$spread") |"
}

# comparison_detail PREFIX UNIT: the per-run figures of both sides of a comparison.
comparison_detail() {
    local side
    for side in none pulled; do
        printf '%s: %s %s/s (p99 %s µs; errors %s; other processes %s cores)' \
            "$([ "$side" = none ] && echo "none pulled out" || echo "$(fmt_int "$PULLED") pulled out")" \
            "$(runs_list $(runs_of "$1-$side" .requests_per_s))" "$2" \
            "$(runs_list $(runs_of "$1-$side" .latency_us.p99))" \
            "$(runs_list $(runs_of "$1-$side" .errors))" "$(others "$1-$side")"
        [ "$side" = none ] && printf '; '
    done
}

# management_section: the report's durable-management part, between its markers.
management_section() {
    local m8_med fsync_row fsync_detail
    mapfile -t M8_RPS < <(runs_of m8 .requests_per_s)
    m8_med=$(median "${M8_RPS[@]}")
    if [ -z "$M8_FSYNC_STATUS" ]; then
        M8_PER_WRITE=$(awk -v f="$M8_FSYNCS" -v w="$M8_TRACED_WRITES" 'BEGIN { printf "%.4f", f / w }')
        fsync_row="| 8 | fsyncs per acknowledged write (separate run under strace) | $M8_PER_WRITE ($(fmt_int "$M8_FSYNCS") fsync/fdatasync calls for $(fmt_int "$M8_TRACED_WRITES") writes) | well below 1 (< 0.5) | $(met "$M8_PER_WRITE" "<" 0.5) |"
        fsync_detail="**fsyncs**: $(fmt_int "$M8_FSYNCS") fsync + fdatasync calls by the server for
   $(fmt_int "$M8_TRACED_WRITES") acknowledged writes: **$M8_PER_WRITE per write**. They were counted in a
   separate, shorter run ($STRACE_DUR, no warm-up) with strace attached, because strace slows every
   traced system call: that run made $(fmt_int "$M8_TRACED_RPS") writes/s; the throughput above was
   measured without strace. Up to 64 writes still in flight when that run ended were executed (and
   synced) but not counted, so the ratio errs high."
    else
        fsync_row="| 8 | fsyncs per acknowledged write | $M8_FSYNC_STATUS | well below 1 (< 0.5) | n/a |"
        fsync_detail="fsyncs per write: $M8_FSYNC_STATUS."
    fi
    cat <<EOF
$MGMT_BEGIN
## Durable management (issue 9)

Measured by \`$INVOCATION\` ($MODE) on $MGMT_DATE,
commit \`$COMMIT\`$DIRTY; $(nproc) cores shared by server and generator, server driver $DRIVER; load
average at start / end of this part: $MGMT_LOADAVG_START / $MGMT_LOADAVG_END; CPU used by other
processes during its kept runs (cores; max / median):
$(printf '%s\n' "${MGMT_FOREIGN[@]}" | sort -g | tail -n1) / $(median "${MGMT_FOREIGN[@]}").

| # | scenario | result | target | met |
|---|---|---|---|---|
| 8 | durable management writes (pull-out / pull-in), 64 connections | $(fmt_int "$m8_med") writes/s | — | |
$fsync_row
$(comparison_row 9 "lookup of a service with 100 visible instances: $(fmt_int "$PULLED") pulled out vs none" lookups m9)
$(comparison_row 10 "heartbeat, batch 1, 20,000 instances: $(fmt_int "$PULLED") pulled out vs none" requests m10)

8. **Management writes.** \`artemis load --scenario manage\`: every request is one
   \`/api/management/operate-instance.json\`, answered after its SQLite transaction committed (WAL,
   \`synchronous=FULL\`, group commit on the persistence thread) and the change is in effect on every
   shard; the answer must be \`"errorCode":"success"\`. The 10,000 instances (registered first) are
   pulled out in turn, then pulled back in, so every write inserts or deletes a row and appends a
   log row. $(fmt_int "$m8_med") writes/s (runs: $(runs_list "${M8_RPS[@]}"); p50
   $(runs_list $(runs_of m8 .latency_us.p50)) µs, p99 $(runs_list $(runs_of m8 .latency_us.p99)) µs;
   errors: $(runs_list $(runs_of m8 .errors)); CPU cores used by the server: $(runs_list "${M8_SRV_CORES[@]}");
   other processes: $(others m8) cores).
   $fsync_detail
9. **Lookup with pulled-out instances.** Two servers side by side, runs alternating. One holds
   100 services × 100 instances, nothing pulled out; the other 100 services × 200 instances with
   the last $(fmt_int "$PULLED") pulled out (100 per service, one durable write each, before the
   warm-up and untimed; lookups of every service confirm them hidden). Every answer therefore holds
   100 instances on both, so any difference is the cost of hiding. $(comparison_detail m9 lookups).
   Pulling out took $(runs_list $(runs_of m9-pulled .pulled_out.elapsed_ms)) ms per run.
10. **Heartbeat with pulled-out instances.** Two servers side by side, runs alternating, each with
   20,000 instances over 100 services heartbeated round-robin (batch 1); on one, $(fmt_int "$PULLED") of
   them (100 per service) are pulled out, and half the heartbeats renew a pulled-out instance.
   $(comparison_detail m10 requests).

"Equal within noise" means the medians differ by at most the larger of 5% and the run-to-run
spread ((max − min) / median) of either side's runs.

### Command lines (durable management)

$(cat "$WORK/commands-management.md")
$MGMT_END
EOF
}

# splice_management SECTION-FILE: puts the management part into an existing report: in place of
# its old one, else before the notes, else at the end.
splice_management() {
    local section=$1
    if [ ! -f "$OUT" ]; then
        { echo "# Benchmarks"; echo; cat "$section"; } >"$OUT"
    elif grep -qxF "$MGMT_BEGIN" "$OUT"; then
        awk -v begin="$MGMT_BEGIN" -v end="$MGMT_END" -v file="$section" '
            $0 == begin { while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == end { skip = 0; next }
            !skip' "$OUT" >"$OUT.tmp"
        mv "$OUT.tmp" "$OUT"
    elif grep -qxF '<!-- notes:begin -->' "$OUT"; then
        awk -v file="$section" '
            $0 == "<!-- notes:begin -->" { while ((getline line < file) > 0) print line; print "" }
            { print }' "$OUT" >"$OUT.tmp"
        mv "$OUT.tmp" "$OUT"
    else
        { echo; cat "$section"; } >>"$OUT"
    fi
}

if [ "$ONLY" = management ]; then
    run_management
    management_section >"$WORK/management.md"
    splice_management "$WORK/management.md"
    log "done: the management part of $OUT"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
log "1. heartbeat batch 1 (10,000 instances over 100 services): max throughput"
start_server s1
S1_RPS=(); S1_P99MAX=()
for r in $(seq "$RUNS"); do
    timed "$WORK/s1-max-$r.json" --target "http://$ADDR" --scenario heartbeat --batch 1 \
        --instances 10000 --services 100 --connections 64 "${COMMON[@]}"
    S1_SRV_CORES+=("$(cat "$WORK/s1-max-$r.json.server_cores")")
    S1_CLI_CORES+=("$(fmt2 "$(jqr .client_cpu_cores "$WORK/s1-max-$r.json")")")
    S1_RPS+=("$(jqr .requests_per_s "$WORK/s1-max-$r.json")")
    S1_P99MAX+=("$(jqr .latency_us.p99 "$WORK/s1-max-$r.json")")
    S1_ERR+=("$(jqr .errors "$WORK/s1-max-$r.json")")
done
S1_MAX=$(median "${S1_RPS[@]}")
HALF=$(awk -v m="$S1_MAX" 'BEGIN { printf "%d", m / 2 }')
log "   max ${S1_MAX} requests/s; now open loop at 50%: ${HALF}/s"
S1_P99=(); S1_LAG=(); S1_HALF_RPS=()
for r in $(seq "$RUNS"); do
    timed "$WORK/s1-half-$r.json" --target "http://$ADDR" --scenario heartbeat --batch 1 \
        --instances 10000 --services 100 --connections 64 --rate "$HALF" "${COMMON[@]}"
    S1_P99+=("$(jqr .latency_us.p99 "$WORK/s1-half-$r.json")")
    S1_P50+=("$(jqr .latency_us.p50 "$WORK/s1-half-$r.json")")
    S1_LAG+=("$(jqr .send_lag_us.p99 "$WORK/s1-half-$r.json")")
    S1_HALF_RPS+=("$(jqr .requests_per_s "$WORK/s1-half-$r.json")")
done
S1_T1_P99=(); S1_T1_LAG=()
for r in $(seq "$RUNS"); do
    timed "$WORK/s1-half1-$r.json" --target "http://$ADDR" --scenario heartbeat --batch 1 \
        --instances 10000 --services 100 --connections 64 --rate "$HALF" --threads 1 \
        --duration "$DUR" --warmup "$WARM"
    S1_T1_P99+=("$(jqr .latency_us.p99 "$WORK/s1-half1-$r.json")")
    S1_T1_LAG+=("$(jqr .send_lag_us.p99 "$WORK/s1-half1-$r.json")")
done
stop_server
S1_HALF_P99=$(median "${S1_P99[@]}")
S1_HALF_P50=$(median "${S1_P50[@]}")
S1_HALF_LAG=$(median "${S1_LAG[@]}")

# ---------------------------------------------------------------------------------------------
NGINX_MAX=""; NGINX_RPS=()
if [ "$HAVE_NGINX" = 1 ]; then
    log "reference: nginx returning a fixed 200 (raw-post, same client)"
    NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
    mkdir -p "$WORK/nginx/logs"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            default_type application/json;
            return 200 '{"failedInstances":null,"responseStatus":{"errorCode":"success","message":"","status":"success"}}';
        }
    }
}
EOF
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    sleep 0.5
    OUR_PIDS="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && break
        sleep 0.1
    done
    ADDR="127.0.0.1:$NGINX_PORT"
    echo "- reference: \`nginx -p DIR -c DIR/nginx.conf\` (\`worker_processes 2\`, \`access_log off\`, \`location / { return 200 '<heartbeat success body>'; }\`)" >>"$COMMANDS"
    for r in $(seq "$RUNS"); do
        timed "$WORK/nginx-$r.json" --target "http://$ADDR/" --scenario raw-post --connections 64 "${COMMON[@]}"
        NGINX_SRV_CORES+=("$(cat "$WORK/nginx-$r.json.server_cores")")
        NGINX_CLI_CORES+=("$(fmt2 "$(jqr .client_cpu_cores "$WORK/nginx-$r.json")")")
        NGINX_RPS+=("$(jqr .requests_per_s "$WORK/nginx-$r.json")")
        NGINX_ERR+=("$(jqr .errors "$WORK/nginx-$r.json")")
    done
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_MAX=$(median "${NGINX_RPS[@]}")
fi

# ---------------------------------------------------------------------------------------------
log "2. heartbeat batch 100"
start_server s2
S2_OPS=(); S2_P99=()
for r in $(seq "$RUNS"); do
    timed "$WORK/s2-$r.json" --target "http://$ADDR" --scenario heartbeat --batch 100 \
        --instances 10000 --services 100 --connections 16 "${COMMON[@]}"
    S2_OPS+=("$(jqr .instance_operations_per_s "$WORK/s2-$r.json")")
    S2_P99+=("$(jqr .latency_us.p99 "$WORK/s2-$r.json")")
    S2_ERR+=("$(jqr .errors "$WORK/s2-$r.json")")
done
stop_server

# ---------------------------------------------------------------------------------------------
log "3. lookup of a 100-instance service"
start_server s3
S3_RPS=(); S3_P99=()
for r in $(seq "$RUNS"); do
    timed "$WORK/s3-$r.json" --target "http://$ADDR" --scenario lookup --services 100 \
        --instances-per-service 100 --connections 64 "${COMMON[@]}"
    S3_RPS+=("$(jqr .requests_per_s "$WORK/s3-$r.json")")
    S3_P99+=("$(jqr .latency_us.p99 "$WORK/s3-$r.json")")
    S3_ERR+=("$(jqr .errors "$WORK/s3-$r.json")")
done
stop_server

# ---------------------------------------------------------------------------------------------
log "4. register (batch 1)"
start_server s4
S4_RPS=(); S4_P99=()
for r in $(seq "$RUNS"); do
    timed "$WORK/s4-$r.json" --target "http://$ADDR" --scenario register --batch 1 \
        --instances 10000 --services 100 --connections 64 "${COMMON[@]}"
    S4_RPS+=("$(jqr .requests_per_s "$WORK/s4-$r.json")")
    S4_P99+=("$(jqr .latency_us.p99 "$WORK/s4-$r.json")")
    S4_ERR+=("$(jqr .errors "$WORK/s4-$r.json")")
done
stop_server

# ---------------------------------------------------------------------------------------------
log "5. push latency, 1,000 subscribers"
S5_STATUS=""
S5_P99=(); S5_P50=(); S5_PUSHES=(); S5_ERR=()
start_server s5
if load "$WORK/s5-probe.json" --target "http://$ADDR" --scenario push --subscribers 1 --services 1 \
    --instances 10 --duration 1s --warmup 1s --rate 10; then
    for r in $(seq "$RUNS"); do
        timed "$WORK/s5-$r.json" --target "http://$ADDR" --scenario push --subscribers 1000 \
            --services 1 --instances 100 --rate 20 --connections 1 "${COMMON[@]}" || true
        S5_P99+=("$(jqr .latency_us.p99 "$WORK/s5-$r.json")")
        S5_P50+=("$(jqr .latency_us.p50 "$WORK/s5-$r.json")")
        S5_PUSHES+=("$(jqr .instance_operations_per_s "$WORK/s5-$r.json")")
        S5_ERR+=("$(jqr .errors "$WORK/s5-$r.json")")
    done
else
    S5_STATUS="not measured yet: $(head -c 300 "$WORK/s5-probe.json.err" | tr '\n' ' ')"
fi
stop_server

# ---------------------------------------------------------------------------------------------
log "6. memory: RSS after registering $MEM_INSTANCES instances"
S6_BPI=(); S6_SECS=()
for r in $(seq "$RUNS"); do
    wait_quiet
    start_server "s6-$r" --lease-ttl-ms 3600000
    sleep 1
    before=$(rss_kib "$SERVER_PID")
    load "$WORK/s6-$r.json" --target "http://$ADDR" --scenario register --instances "$MEM_INSTANCES" \
        --services 1000 --duration 0s
    sleep 2
    after=$(rss_kib "$SERVER_PID")
    S6_BEFORE+=("$before"); S6_AFTER+=("$after")
    S6_BPI+=("$(awk -v a="$after" -v b="$before" -v n="$MEM_INSTANCES" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')")
    S6_SECS+=("$(jqr '.populate.elapsed_ms / 10 | round / 100' "$WORK/s6-$r.json")")
    stop_server
done

# ---------------------------------------------------------------------------------------------
log "7. eviction of 100,000 instances under heartbeat load"
cat >"$WORK/evict.toml" <<'EOF'
[lease]
ttl_ms = 5000
[self_preservation]
enabled = false
EOF
printf '%s\n' "$RATE_LIMITS" >>"$WORK/evict.toml"
echo "- \`evict.toml\`: \`[lease] ttl_ms = 5000\`, \`[self_preservation] enabled = false\`, and bench.toml's rate limit" >>"$COMMANDS"
EVICT_RATE=10000
S7_AFTER=(); S7_TOTAL=(); S7_P99=(); S7_BASE=(); S7_ERR=()
for r in $(seq "$RUNS"); do
    wait_quiet
    start_server "s7-$r" --config "$WORK/evict.toml"
    load "$WORK/s7-hb-$r.json" --target "http://$ADDR" --scenario heartbeat --service-prefix live \
        --instances 10000 --services 100 --rate "$EVICT_RATE" --connections 64 --threads 2 \
        --duration "$EVICT_HB_DURATION" --warmup 0s &
    HB=$!
    sleep 2
    load "$WORK/s7-reg-$r.json" --target "http://$ADDR" --scenario register --service-prefix dead \
        --instances 100000 --services 100 --duration 0s
    reg_start=$(jqr .populate.start_unix_ms "$WORK/s7-reg-$r.json")
    reg_end=$(jqr .populate.end_unix_ms "$WORK/s7-reg-$r.json")
    # Start polling shortly before the first lease expires (polling earlier only adds load).
    now=$(date +%s%3N)
    pause=$(( reg_start + 5000 - 200 - now ))
    [ "$pause" -gt 0 ] && sleep "$(awk -v ms="$pause" 'BEGIN { printf "%.3f", ms / 1000 }')"
    load "$WORK/s7-wait-$r.json" --target "http://$ADDR" --scenario wait-empty --service-prefix dead \
        --services 100 --duration 30s
    empty=$(jqr .wait.empty_unix_ms "$WORK/s7-wait-$r.json")
    wait "$HB"
    stop_server
    hb="$WORK/s7-hb-$r.json"
    S7_AFTER+=("$(( empty - reg_end - 5000 ))")
    S7_TOTAL+=("$(( empty - reg_start - 5000 ))")
    # Seconds of the heartbeat run that overlap [first deadline, all gone].
    S7_P99+=("$(jq --argjson from "$(( reg_start + 5000 ))" --argjson to "$empty" '
        .measure_start_unix_ms as $m
        | [.timeline[] | select(($m + .second * 1000) < $to and ($m + .second * 1000 + 1000) > $from) | .p99_us]
        | max // 0' "$hb")")
    S7_BASE+=("$(jq --argjson from "$(( reg_start + 5000 ))" --argjson to "$empty" '
        .measure_start_unix_ms as $m
        | [.timeline[] | select(($m + .second * 1000 + 1000) <= $from and .requests > 0) | .p99_us]
        | if length > 0 then (sort | .[length / 2 | floor]) else 0 end' "$hb")")
    S7_ERR+=("$(jqr .errors "$hb")")
    S7_RPS+=("$(jqr .requests_per_s "$hb")")
done

# ---------------------------------------------------------------------------------------------
run_management

# ---------------------------------------------------------------------------------------------
log "writing $OUT"
S2_MED=$(median "${S2_OPS[@]}")
S3_MED=$(median "${S3_RPS[@]}")
S4_MED=$(median "${S4_RPS[@]}")
S6_MED=$(median "${S6_BPI[@]}")
S7_AFTER_MED=$(median "${S7_AFTER[@]}")
S7_TOTAL_MED=$(median "${S7_TOTAL[@]}")
S7_P99_MED=$(median "${S7_P99[@]}")
S7_BASE_MED=$(median "${S7_BASE[@]}")

if [ -n "$NGINX_MAX" ]; then
    RATIO=$(awk -v a="$S1_MAX" -v n="$NGINX_MAX" 'BEGIN { printf "%.2f", a / n }')
    RATIO_PCT=$(awk -v r="$RATIO" 'BEGIN { printf "%.0f%%", r * 100 }')
    RATIO_MET=$(met "$RATIO" ">=" 0.6)
    NGINX_LINE="$(fmt_int "$NGINX_MAX") requests/s (runs: $(runs_list "${NGINX_RPS[@]}"); errors: $(runs_list "${NGINX_ERR[@]}"); other processes: $(others nginx) cores; CPU cores used by nginx: $(runs_list "${NGINX_SRV_CORES[@]}"), by the client: $(runs_list "${NGINX_CLI_CORES[@]}"))"
else
    RATIO="n/a"; RATIO_PCT="not measured: nginx is not installed"; RATIO_MET="n/a"
    NGINX_LINE="not measured yet: nginx could not be installed"
fi
if [ -z "$S5_STATUS" ]; then
    S5_MED=$(median "${S5_P99[@]}")
    S5_LINE="p99 $(fmt_int "$S5_MED") µs, p50 $(fmt_int "$(median "${S5_P50[@]}")") µs (runs p99: $(runs_list "${S5_P99[@]}"); pushes/s: $(runs_list "${S5_PUSHES[@]}"); errors: $(runs_list "${S5_ERR[@]}"); other processes: $(others s5) cores)"
    S5_MET=$(met "$S5_MED" "<" 2000)
    S5_FIG="$(fmt_int "$S5_MED") µs p99"
else
    S5_LINE="$S5_STATUS"; S5_MET="n/a"; S5_FIG="not measured yet"
fi

CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
RAM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)

# Hand-written analysis between these markers survives regeneration.
NOTES=""
if [ -f "$OUT" ]; then
    NOTES=$(sed -n '/^<!-- notes:begin -->$/,/^<!-- notes:end -->$/p' "$OUT")
fi
if [ -z "$NOTES" ]; then
    NOTES=$(printf '%s\n%s\n%s' '<!-- notes:begin -->' '## Notes' '<!-- notes:end -->')
fi

cat >"$OUT" <<EOF
# Benchmarks

Measured by \`scripts/bench.sh\` ($MODE) on $(date -u +%Y-%m-%d), commit \`$COMMIT\`$DIRTY.
Regenerate with \`scripts/bench.sh\` (or \`scripts/bench.sh --quick\` while developing). CI never
times anything.

## Machine

| | |
|---|---|
| cores (\`nproc\`) | $(nproc) |
| CPU | $CPU_MODEL |
| RAM | $RAM |
| kernel | $(uname -r) |
| server event-loop driver | $DRIVER |
| server threads | one per core ($(nproc)) |
| load average (1/5/15 min) at start / end of the suite | $LOADAVG_START / $(cut -d' ' -f1-3 /proc/loadavg) |
| CPU used by other processes during the kept measured runs (cores; max / median) | $(printf '%s\n' "${FOREIGN_ALL[@]}" | sort -g | tail -n1) / $(median "${FOREIGN_ALL[@]}") |

The machine is shared with other work (builds, test suites); every measured run waits until the
rest of the machine is quiet and is repeated (at most twice) if other processes used more than 0.2
cores during it.

**The load generator and the server share these $(nproc) cores** (loopback, no other machine).
Every figure is therefore a lower bound for the server: the generator (\`artemis load\`, $(nproc)
threads) uses roughly as much CPU as the server at full load, most of it in the kernel's loopback
TCP path. The nginx reference is measured with the same client under the same constraint, which is
why the ratio to nginx is the figure to watch rather than absolute numbers.

## Results

| # | scenario | result | target | met |
|---|---|---|---|---|
| 1 | heartbeat, batch 1, 10,000 instances / 100 services: max throughput | $(fmt_int "$S1_MAX") requests/s = **$RATIO_PCT of nginx** | ≥ 60% of nginx | $RATIO_MET |
| 1 | heartbeat, batch 1, at 50% of max ($(fmt_int "$HALF")/s, open loop): p99 | $(fmt_int "$S1_HALF_P99") µs (p50 $(fmt_int "$S1_HALF_P50") µs) | < 1 ms | $(met "$S1_HALF_P99" "<" 1000) |
| 2 | heartbeat, batch 100 | $(fmt_int "$S2_MED") instance-heartbeats/s | ≥ 1,000,000/s | $(met "$S2_MED" ">=" 1000000) |
| 3 | lookup of a 100-instance service | $(fmt_int "$S3_MED") lookups/s | — | |
| 4 | register, batch 1 | $(fmt_int "$S4_MED") registrations/s | — | |
| 5 | push, 1,000 subscribers, register → receipt | $S5_FIG | p99 < 2 ms | $S5_MET |
| 6 | memory at $(fmt_int "$MEM_INSTANCES") instances | $(fmt_int "$S6_MED") bytes RSS per instance | ≤ 1,024 B | $(met "$S6_MED" "<=" 1024) |
| 7 | eviction of 100,000 instances: heartbeat p99 while it happens | $(fmt_int "$S7_P99_MED") µs (all gone $(fmt_int "$S7_AFTER_MED") ms after the last deadline) | < 5 ms | $(met "$S7_P99_MED" "<" 5000) |

## Details

1. **Heartbeat, batch 1.** Closed loop, 64 keep-alive connections: $(fmt_int "$S1_MAX") requests/s
   (runs: $(runs_list "${S1_RPS[@]}"); closed-loop p99 at saturation: $(runs_list "${S1_P99MAX[@]}") µs;
   errors: $(runs_list "${S1_ERR[@]}"); CPU cores used by the server: $(runs_list "${S1_SRV_CORES[@]}"),
   by the client: $(runs_list "${S1_CLI_CORES[@]}") of $(nproc); other processes: $(others s1-max) cores).
   Reference nginx (fixed 200, same client, same connections): $NGINX_LINE.
   Ratio artemis / nginx: **$RATIO**.
   Open loop at 50% of max ($(fmt_int "$HALF") requests/s intended; achieved $(runs_list "${S1_HALF_RPS[@]}")):
   p99 $(runs_list "${S1_P99[@]}") µs (other processes: $(others s1-half) cores), measured from each
   request's *intended* send time. Part of
   that is the generator's own lateness on the shared cores (send lag p99: $(runs_list "${S1_LAG[@]}") µs),
   which is counted as latency on purpose (no coordinated omission). With one generator thread
   instead of two (less contention for the cores) the same rate gives p99 $(runs_list "${S1_T1_P99[@]}") µs
   (send lag p99 $(runs_list "${S1_T1_LAG[@]}") µs).
2. **Heartbeat, batch 100** (16 connections): $(fmt_int "$S2_MED") instance-heartbeats/s
   (runs: $(runs_list "${S2_OPS[@]}"); p99 per request $(runs_list "${S2_P99[@]}") µs; errors: $(runs_list "${S2_ERR[@]}");
   other processes: $(others s2) cores).
3. **Lookup** of one of 100 services with 100 instances each (≈ 40 KB answers, 64 connections):
   $(fmt_int "$S3_MED") lookups/s (runs: $(runs_list "${S3_RPS[@]}"); p99 $(runs_list "${S3_P99[@]}") µs;
   errors: $(runs_list "${S3_ERR[@]}"); other processes: $(others s3) cores). Every answer is checked to
   hold at least one instance.
4. **Register**, batch 1, re-registering 10,000 instances round-robin: $(fmt_int "$S4_MED")/s
   (runs: $(runs_list "${S4_RPS[@]}"); p99 $(runs_list "${S4_P99[@]}") µs; errors: $(runs_list "${S4_ERR[@]}");
   other processes: $(others s4) cores).
5. **Push**: $S5_LINE.
   One HTTP connection registers instances of one service at 20 registrations/s; 1,000 WebSocket
   subscribers of that service each receive every change; latency is from the register request's
   send time to each subscriber's receipt (1,000 samples per registration).
6. **Memory**: VmRSS of the server before and after registering $(fmt_int "$MEM_INSTANCES") instances
   (1,000 services; each instance has ip, port, url, healthCheckUrl, machineName, protocol, status and
   3 metadata keys, ≈ 420 bytes of JSON): bytes per instance per run $(runs_list "${S6_BPI[@]}")
   (RSS before: $(runs_list "${S6_BEFORE[@]}") KiB, after: $(runs_list "${S6_AFTER[@]}") KiB;
   registration took $(runs_list "${S6_SECS[@]}") s in batches of 1,000).
7. **Eviction**: server with \`lease.ttl_ms = 5000\` and self-preservation disabled. 10,000
   \`live-*\` instances are heartbeated at $(fmt_int "$EVICT_RATE")/s (open loop, 64 connections) for the whole
   run; 100,000 \`dead-*\` instances (100 services) are registered once and never heartbeated.
   \`artemis load --scenario wait-empty\` polls lookups of the dead services until all are empty.
   All 100,000 were gone $(runs_list "${S7_AFTER[@]}") ms after the last one's deadline
   ($(runs_list "${S7_TOTAL[@]}") ms after the first one's). Heartbeat p99 in the seconds overlapping
   the eviction: $(runs_list "${S7_P99[@]}") µs (same run before the eviction: $(runs_list "${S7_BASE[@]}") µs;
   heartbeat errors: $(runs_list "${S7_ERR[@]}"); achieved rate $(runs_list "${S7_RPS[@]}")/s).
   The per-second timeline has 1 s resolution, so the eviction window's p99 includes the normal
   traffic of the rest of those seconds.

$(management_section)

## Command lines

ADDR is the address the server printed (\`artemis listening on ADDR\`); every server runs on
\`127.0.0.1:0\` with a fresh data directory.

$(cat "$COMMANDS")

## How the load generator measures

- \`artemis load\` runs one monoio event loop per thread (io_uring where available, else epoll;
  \`MONOIO_FORCE_LEGACY_DRIVER=1\` forces epoll) with keep-alive HTTP/1.1 connections. Requests are
  serialized once before the run into one table per operation and copied into a reused buffer per
  send; responses are framed by an allocation-free parser (\`protocol::http::parse_response\`).
- Every response is checked: HTTP 200 and \`responseStatus\` with status and errorCode both
  \`"success"\`, found by a forward-only JSON scanner that skips strings and nested values (no full
  parse). Anything else is an error counted by kind: \`http-<code>\`, \`partial_fail:<errorCode of
  the first failed instance>\`, \`<status>:<errorCode>\` (e.g. \`fail:bad-request\`), \`io\`,
  \`timeout\`, \`parse\`, and for lookups of a populated registry \`empty-service\` /
  \`null-service\`. Instance operations count successful requests × batch.
- Closed loop (\`--connections C\`): each connection sends its next request when the previous answer
  arrived. Open loop (\`--rate R\`): a pacer per thread releases intended send times on a fixed
  schedule, woken by a timerfd (monoio's own timer has 1 ms ticks); latency is measured from the
  intended send time, so a stalled server or generator shows up as latency, not as a lower rate.
  The generator's lateness is reported separately as *send lag*.
- Latency percentiles come from HDR histograms (\`hdrhistogram\`, µs, 3 significant digits).
- \`--scenario raw-post\` POSTs a fixed heartbeat-sized body (one instance) to the \`--target\` URL
  and checks only for HTTP 200: it drives reference servers such as nginx with the same client.
- \`--scenario wait-empty\` (eviction benchmark) looks up \`--services\` services one at a time until
  each answers with an empty instance list; \`--duration\` is its deadline.
- \`--duration 0s\` only populates (used for the memory and eviction set-up).
- \`--scenario manage\` sends one durable \`operate-instance\` write per request: the pull-out of
  each \`--instances\` instance in turn, then the pull-in of each; a success needs
  \`"errorCode":"success"\`, which the server answers only after the SQLite commit.
- \`--pulled-out N\` (after populating, before the warm-up, untimed) pulls out the last N instances,
  spread evenly over the services with at least one left visible in each, one durable write each,
  then looks up every service and fails unless exactly those are hidden.

$NOTES
EOF
log "done: $OUT"
