#!/usr/bin/env bash
# The benchmark suite (issues 4, 9 and 14). Builds the release binary, starts servers on loopback,
# runs the standard scenarios (medians of 3 runs) and writes BENCHMARKS.md with the machine, the
# driver, the exact command lines, the figures and the targets.
#
#   scripts/bench.sh            full suite (about 20 minutes on a quiet 2-core machine)
#   scripts/bench.sh --quick    one run each, short durations (development; still writes the file)
#   scripts/bench.sh --out F    write the report to F instead of BENCHMARKS.md
#   scripts/bench.sh --only throughput
#                               only the comparison rows (issue 14): heartbeat batch 1 and 100,
#                               lookup and register against artemis --shards <cores> and
#                               --shards 1 and nginx answering the same heartbeat POSTs (and the
#                               same lookups, with a captured lookup answer as a static file), each
#                               with wrk and with `artemis load`, rounds alternated; it replaces just
#                               that section of the report (combines with --quick)
#   scripts/bench.sh --only management
#                               only the durable-management part (issue 9: management writes and
#                               fsyncs per write, lookup/heartbeat with 10,000 pulled out); it
#                               replaces just that section of the report (combines with --quick)
#
# Two load generators: the project's own (`artemis load`) and wrk, driven by scripts/wrk/*.lua,
# which send the very same requests (scripts/wrk/same-requests.sh checks the bytes). A full run
# rewrites the file but keeps the hand-written notes (between `<!-- notes:begin -->` and
# `<!-- notes:end -->`) and every hand-kept section after the notes (cluster, mysql, groups, ...).
#
# Every measured run first waits (at most BENCH_QUIET_WAIT_S seconds, default 180) for the rest of
# the machine to go quiet, and is repeated (at most twice) when it was disturbed.
# BENCH_QUIET_WAIT_S=0 neither waits nor repeats: for trying the script itself on a busy machine
# (the report still gives the other processes' CPU during every run).
#
# Needs jq, wrk, nginx for the reference server and strace for the fsync count (installed with
# apt-get when missing and root). Never run by CI: load generator and server share this machine's
# cores, and timings drift.
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
            case "$ONLY" in
                management|throughput) ;;
                *) echo "bench.sh: --only takes: throughput, management" >&2; exit 2 ;;
            esac ;;
        -h|--help) sed -n 2,32p "$0"; exit 0 ;;
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
if [ "$ONLY" != management ] && { ensure_tool nginx nginx-light || [ -x /usr/sbin/nginx ]; }; then HAVE_NGINX=1; fi
HAVE_WRK=0
if [ "$ONLY" != management ] && ensure_tool wrk wrk; then HAVE_WRK=1; fi
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
    # A fresh data directory every time (the throughput rounds reuse their servers' names). The
    # output file exists before the server starts: the background job opens it only once it runs.
    rm -rf "$WORK/$name-data"
    : >"$out"
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
    grep -qxF -- "- server \`$name\`: \`$shown\`" "$COMMANDS" || echo "- server \`$name\`: \`$shown\`" >>"$COMMANDS"
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

# wrk_load OUT KIND CONNECTIONS [lua args...]: the wrk counterpart of `load`. KIND is the script
# scripts/wrk/KIND.lua (heartbeat, register, lookup); lua args are key=value (batch=100, ...).
# First an unmeasured warm-up of $WARM that also checks every answer (WRK_CHECK=1: 200, errorCode
# and status "success", lookups non-empty), then the measured run of $DUR without any per-response
# Lua. Writes OUT.json with the field names `artemis load --json` uses (requests_per_s,
# instance_operations_per_s, errors, latency_us, client CPU), so both generators' runs are read
# alike (errors: the measured run's socket errors and non-2xx answers plus the warm-up's wrong
# answers); returns non-zero if wrk failed.
wrk_load() {
    local out=$1 kind=$2 conns=$3; shift 3
    local batch=1 a
    for a in "$@"; do case "$a" in batch=*) batch=${a#batch=} ;; esac; done
    local script="$ROOT/scripts/wrk/$kind.lua" url="http://$ADDR"
    local args=(-t2 -c"$conns" -s "$script" "$url" -- threads=2 "$@")
    local lua_shown="threads=2${*:+ $*}"
    local shown="- \`wrk -t2 -c$conns -d$DUR --latency -s scripts/wrk/$kind.lua http://ADDR -- $lua_shown\`, after an unmeasured warm-up that checks every answer: \`WRK_CHECK=1 wrk -t2 -c$conns -d$WARM -s scripts/wrk/$kind.lua http://ADDR -- $lua_shown\`"
    grep -qxF -- "$shown" "$COMMANDS" || echo "$shown" >>"$COMMANDS"
    # `times` (in this shell, not a subshell) gives the CPU of this shell's finished children: wrk.
    times >"$WORK/times-0"
    if ! WRK_CHECK=1 wrk -d"$WARM" "${args[@]}" >"$out.warm" 2>&1; then
        tail -n 5 "$out.warm" >&2
        return 1
    fi
    times >"$WORK/times-1"
    if ! wrk -d"$DUR" --latency "${args[@]}" >"$out.txt" 2>&1; then
        tail -n 5 "$out.txt" >&2
        return 1
    fi
    times >"$WORK/times-2"
    local warm measured
    warm=$(sed -n 's/^WRK_JSON //p' "$out.warm")
    measured=$(sed -n 's/^WRK_JSON //p' "$out.txt")
    if [ -z "$warm" ] || [ -z "$measured" ]; then
        echo "bench.sh: wrk printed no WRK_JSON line (see $out.txt)" >&2
        return 1
    fi
    jq -n --argjson w "$warm" --argjson m "$measured" --argjson batch "$batch" \
        --argjson c0 "$(children_cpu "$WORK/times-0")" --argjson c1 "$(children_cpu "$WORK/times-1")" \
        --argjson c2 "$(children_cpu "$WORK/times-2")" '
        ($m.errors | .connect + .read + .write + .status + .timeout) as $errors
        | {generator: "wrk", requests: $m.requests, seconds: $m.seconds,
           requests_per_s: ($m.requests / $m.seconds),
           instance_operations_per_s: ($m.requests * $batch / $m.seconds),
           errors: ($errors + $w.check_failures), wrk_errors: $m.errors,
           warmup_checked: $w.checked, warmup_check_failures: $w.check_failures,
           warmup_first_failure: $w.first_failure, latency_us: $m.latency_us,
           client_cpu_user_s: ($c2[0] - $c0[0]), client_cpu_sys_s: ($c2[1] - $c0[1]),
           client_cpu_cores: ((($c2[0] - $c1[0]) + ($c2[1] - $c1[1])) / $m.seconds)}' >"$out"
    # Wrong answers are reported (as errors of the run), not fatal, as with `artemis load`.
    if [ "$(jqr .warmup_check_failures "$out")" != 0 ]; then
        log "   wrong answers during the wrk warm-up: $(jqr .warmup_check_failures "$out") of $(jqr .warmup_checked "$out"), first: $(jqr .warmup_first_failure "$out")"
    fi
}
# children_cpu FILE: `[user, system]` seconds of finished children from the output of `times`.
children_cpu() {
    tail -n1 "$1" | awk '{ for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s[i] = a[1] * 60 + a[2] }
        printf "[%.3f,%.3f]", s[1], s[2] }'
}

# The machine is shared with other work (builds, tests). Busy CPU of the whole machine, in
# seconds: user + nice + system + irq + softirq + steal.
busy_s() { awk -v hz="$CLK_TCK" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }
# wait_quiet: wait (at most BENCH_QUIET_WAIT_S, default 3 minutes) until processes other than
# ours use < 0.2 cores.
QUIET_WAIT_S=${BENCH_QUIET_WAIT_S:-180}
wait_quiet() {
    local i b0 b1 o0 o1 other
    [ "$QUIET_WAIT_S" = 0 ] && return 0
    for i in $(seq 1 $(( (QUIET_WAIT_S + 1) / 2 ))); do
        b0=$(busy_s); o0=$(proc_cpu $OUR_PIDS); sleep 1; b1=$(busy_s); o1=$(proc_cpu $OUR_PIDS)
        other=$(awk -v a="$b0" -v b="$b1" -v c="$o0" -v d="$o1" 'BEGIN { printf "%.2f", (b - a) - (d - c) }')
        awk -v o="$other" 'BEGIN { exit !(o < 0.2) }' && return 0
        [ "$i" = 1 ] && log "   waiting for other processes to go quiet (${other} cores busy)"
        sleep 1
    done
    log "   machine still busy after ${QUIET_WAIT_S} s; measuring anyway"
}
# timed OUT.json [load args...]: a measured run. Waits for a quiet machine, then runs `load` (or
# the function named by RUNNER, e.g. `RUNNER=wrk_load timed OUT KIND CONNECTIONS ...`); a run
# during which other processes used more than 0.2 cores is repeated (at most twice). The CPU the
# rest of the machine used during the kept run is stored in OUT.json.foreign (cores).
FOREIGN_ALL=()
timed() {
    local out=$1 attempt b0 b1 s0 s1 t0 t1 client foreign
    for attempt in 1 2 3; do
        wait_quiet
        b0=$(busy_s); s0=$(proc_cpu $OUR_PIDS); t0=$(now_s)
        "${RUNNER:-load}" "$@"
        b1=$(busy_s); s1=$(proc_cpu $OUR_PIDS); t1=$(now_s)
        client=$(jq '(.client_cpu_user_s // 0) + (.client_cpu_sys_s // 0)' "$out")
        foreign=$(awk -v a="$b0" -v b="$b1" -v c="$s0" -v d="$s1" -v cl="$client" -v t0="$t0" -v t1="$t1" \
            'BEGIN { f = ((b - a) - (d - c) - cl) / (t1 - t0); if (f < 0) f = 0; printf "%.2f", f }')
        echo "$foreign" >"$out.foreign"
        awk -v c="$s0" -v d="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", (d - c) / (t1 - t0) }' >"$out.server_cores"
        if [ "$QUIET_WAIT_S" = 0 ] || awk -v f="$foreign" 'BEGIN { exit !(f < 0.2) }'; then break; fi
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

# ---------------------------------------------------------------------------------------------
# Throughput comparison (issue 14): artemis with one shard per core, artemis with one shard and
# nginx answering the same heartbeat POSTs, each driven by wrk and by `artemis load` with the same
# requests. run_throughput measures, throughput_section writes its part of the report between
# markers, so `--only throughput` can replace just that part.
TP_BEGIN='<!-- throughput:begin -->'
TP_END='<!-- throughput:end -->'
CORES=$(nproc)
TP_SERVERS=(nginx "s$CORES")
[ "$CORES" != 1 ] && TP_SERVERS+=(s1)
# An hour's lease: the lookup and register runs come long after a round's last heartbeat, and the
# instances must still be there (the default 20 s lease would expire them).
LONG_LEASE_MS=3600000

# capture_heartbeat_answer: a throwaway artemis answers one successful heartbeat; its body and
# Content-Type (HB_ANSWER, HB_CTYPE) are what nginx sends back verbatim.
capture_heartbeat_answer() {
    start_server answer-capture
    local body='{"instances":[{"instanceId":"10.0.0.1:8080","ip":"10.0.0.1","port":8080,"regionId":"default","serviceId":"svc-00000","url":"http://10.0.0.1:8080/","zoneId":"default"}]}'
    curl -sf -o /dev/null -d "$body" "http://$ADDR/api/registry/register.json"
    curl -sf -D "$WORK/hb-answer.head" -o "$WORK/hb-answer.body" -d "$body" \
        "http://$ADDR/api/registry/heartbeat.json"
    # The lookup answer nginx serves as a static file: a 100-instance service of the population
    # every artemis turn registers (svc-00042, as the populate check reads).
    load "$WORK/answer-capture-populate.json" --target "http://$ADDR" --scenario register \
        --instances 10000 --services 100 --duration 0s
    curl -sf -o "$WORK/lookup-answer.json" \
        -d '{"discoveryConfigs":[{"serviceId":"svc-00042"}],"regionId":"default","zoneId":"default"}' \
        "http://$ADDR/api/discovery/lookup.json"
    stop_server
    local n
    n=$(jq '.services[0].instances | length' "$WORK/lookup-answer.json")
    [ "$n" = 100 ] || { echo "bench.sh: the captured lookup answer holds $n instances, not 100" >&2; exit 1; }
    LOOKUP_ANSWER_BYTES=$(wc -c <"$WORK/lookup-answer.json")
    HB_ANSWER=$(cat "$WORK/hb-answer.body")
    HB_CTYPE=$(awk -F': *' 'tolower($1) == "content-type" { sub(/\r$/, "", $2); print $2 }' "$WORK/hb-answer.head")
    case "$HB_ANSWER" in
        *'"errorCode":"success"'*) ;;
        *) echo "bench.sh: artemis answered the heartbeat with $HB_ANSWER" >&2; exit 1 ;;
    esac
    # nginx would expand a `$` and end the string at a `'`.
    case "$HB_ANSWER" in *'$'*|*"'"*|*'\'*) echo "bench.sh: cannot quote $HB_ANSWER for nginx" >&2; exit 1 ;; esac
}

# start_nginx: a fresh nginx (one worker per core) answering POST /api/registry/heartbeat.json
# with HB_ANSWER; sets ADDR, NGINX_PID and OUR_PIDS (master and workers).
start_nginx() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
    rm -rf "$WORK/nginx"
    mkdir -p "$WORK/nginx/logs"
    # nginx's workers drop root for an unprivileged user, who must be able to read the file.
    cp "$WORK/lookup-answer.json" "$WORK/nginx/lookup-answer.json"
    chmod a+x "$WORK" "$WORK/nginx"
    chmod a+r "$WORK/nginx/lookup-answer.json"
    cat >"$WORK/nginx/nginx.conf" <<NGINX
worker_processes $CORES;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    sendfile on;
    open_file_cache max=16;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        location = /api/registry/heartbeat.json {
            default_type $HB_CTYPE;
            return 200 '$HB_ANSWER';
        }
        # The static module answers only GET and HEAD; its 405 to a POST becomes the file.
        location = /api/discovery/lookup.json {
            default_type $HB_CTYPE;
            alias $WORK/nginx/lookup-answer.json;
            error_page 405 =200 \$uri;
        }
        location / { return 404; }
    }
}
NGINX
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    ADDR="127.0.0.1:$port"
    local answer=""
    for _ in $(seq 1 100); do
        answer=$(curl -s -d '{}' "http://$ADDR/api/registry/heartbeat.json" || true)
        [ "$answer" = "$HB_ANSWER" ] && cmp -s "$WORK/lookup-answer.json" \
            <(curl -s -d '{}' "http://$ADDR/api/discovery/lookup.json") && break
        sleep 0.1
    done
    if [ "$answer" != "$HB_ANSWER" ] || ! cmp -s "$WORK/lookup-answer.json" \
            <(curl -s -d '{}' "http://$ADDR/api/discovery/lookup.json"); then
        cat "$WORK/nginx/stdout.log" "$WORK/nginx/logs/error.log" >&2 || true
        echo "bench.sh: nginx did not start" >&2
        exit 1
    fi
    OUR_PIDS="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
    local shown="nginx -p DIR -c DIR/nginx.conf\` (\`worker_processes $CORES\`, \`access_log off\`, \`keepalive_requests 1000000\`, \`sendfile on\`, \`open_file_cache max=16\`, \`location = /api/registry/heartbeat.json { default_type $HB_CTYPE; return 200 '<the captured answer>'; }\`, \`location = /api/discovery/lookup.json { default_type $HB_CTYPE; alias DIR/lookup-answer.json; error_page 405 =200 \$uri; }\`)"
    grep -qxF -- "- reference: \`$shown" "$COMMANDS" || echo "- reference: \`$shown" >>"$COMMANDS"
}
stop_nginx() {
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
}

# tp_pair SERVER SCENARIO ROUND KIND CONNECTIONS LUA-ARGS... -- LOAD-ARGS...: one figure with both
# generators, the same requests: WORK/tp-SERVER-SCENARIO-{wrk,load}-ROUND.json. Which generator
# goes first alternates with the round.
tp_pair() {
    local server=$1 scen=$2 r=$3 kind=$4 conns=$5; shift 5
    local lua=() gen
    while [ "$1" != -- ]; do lua+=("$1"); shift; done; shift
    for gen in $([ $((r % 2)) = 1 ] && echo wrk load || echo load wrk); do
        if [ "$gen" = wrk ]; then
            [ "$HAVE_WRK" = 1 ] || continue
            RUNNER=wrk_load timed "$WORK/tp-$server-$scen-wrk-$r.json" "$kind" "$conns" ${lua[@]+"${lua[@]}"}
        else
            timed "$WORK/tp-$server-$scen-load-$r.json" --target "http://$ADDR" "$@" --no-populate \
                --connections "$conns" "${COMMON[@]}"
        fi
    done
}

# tp_turn SERVER ROUND: a fresh server (nginx; s<cores> = artemis --shards <cores>; s1 = artemis
# --shards 1), populated like every other, and its scenarios.
tp_turn() {
    local server=$1 r=$2 shards
    local hb=(--scenario heartbeat --batch 1 --instances 10000 --services 100)
    if [ "$server" = nginx ]; then
        [ "$HAVE_NGINX" = 1 ] || return 0
        start_nginx
        tp_pair nginx hb "$r" heartbeat 64 -- "${hb[@]}"
        tp_pair nginx lookup "$r" lookup 64 -- --scenario lookup --services 100 --instances-per-service 100
        stop_nginx
        return
    fi
    shards=${server#s}
    start_server "tp-$server" --shards "$shards" --lease-ttl-ms "$LONG_LEASE_MS"
    # The same 10,000 instances over 100 services for every scenario: heartbeat batch 1 and 100
    # renew them, lookups read services of 100, register re-registers them (as `--scenario
    # register` does after populating).
    load "$WORK/tp-$server-populate-$r.json" --target "http://$ADDR" --scenario register \
        --instances 10000 --services 100 --duration 0s
    local n
    n=$(curl -s -d '{"discoveryConfigs":[{"serviceId":"svc-00042"}],"regionId":"default","zoneId":"default"}' \
        "http://$ADDR/api/discovery/lookup.json" | jq '.services[0].instances | length')
    [ "$n" = 100 ] || { echo "bench.sh: populated server $server holds $n instances of svc-00042, not 100" >&2; exit 1; }
    tp_pair "$server" hb "$r" heartbeat 64 -- "${hb[@]}"
    tp_pair "$server" lookup "$r" lookup 64 -- --scenario lookup --services 100 --instances-per-service 100
    tp_pair "$server" reg "$r" register 64 -- --scenario register --batch 1 --instances 10000 --services 100
    if [ "$shards" = "$CORES" ]; then
        # The same lookups asking for gzip answers, as the Java client's HTTP stack does.
        tp_pair "$server" lookupgz "$r" lookup 64 accept=gzip -- --scenario lookup --services 100 \
            --instances-per-service 100 --accept-gzip
        tp_pair "$server" hb100 "$r" heartbeat 16 batch=100 -- --scenario heartbeat --batch 100 \
            --instances 10000 --services 100
    fi
    stop_server
}

run_throughput() {
    # This part lists its own command lines; the rest of the suite's stay in their file.
    local core_commands=$COMMANDS
    COMMANDS="$WORK/commands-throughput.md"
    : >"$COMMANDS"
    echo "- \`bench.toml\` (every artemis server): \`[rate_limits.registry] default_per_10s = 1000000000\`" >>"$COMMANDS"
    TP_DATE=$(date -u +%Y-%m-%d)
    TP_LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
    local first_foreign=${#FOREIGN_ALL[@]} r server
    capture_heartbeat_answer
    for r in $(seq "$RUNS"); do
        for server in "${TP_SERVERS[@]}"; do
            log "throughput, round $r of $RUNS: $server"
            tp_turn "$server" "$r"
        done
    done
    TP_FOREIGN=("${FOREIGN_ALL[@]:$first_foreign}")
    TP_LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
    COMMANDS=$core_commands
}

# tp_vals SERVER SCENARIO GENERATOR [JQ]: the figure (default requests/s) of each round's run, one
# per line; nothing for runs that were not made.
tp_vals() {
    local r f
    for r in $(seq "$RUNS"); do
        f="$WORK/tp-$1-$2-$3-$r.json"
        if [ -s "$f" ]; then jqr "${4:-.requests_per_s}" "$f"; fi
    done
}
# tp_med SERVER SCENARIO GENERATOR [JQ]: the median, or "nan".
tp_med() { median $(tp_vals "$@"); }
# tp_ratios A-SERVER A-SCENARIO B-SERVER B-SCENARIO GENERATOR: A / B per round (both measured in
# the same round, minutes apart at most), one per line.
tp_ratios() {
    local r a b
    for r in $(seq "$RUNS"); do
        a="$WORK/tp-$1-$2-$5-$r.json"; b="$WORK/tp-$3-$4-$5-$r.json"
        if [ -s "$a" ] && [ -s "$b" ]; then
            jq -rn --slurpfile a "$a" --slurpfile b "$b" \
                '$a[0].requests_per_s / $b[0].requests_per_s * 1000 | round / 1000'
        fi
    done
}
# is_num V: whether V is a decimal number (not "nan", not empty; awk would take "nan" as one).
is_num() { [[ $1 =~ ^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]]; }
# fig VALUE: a rounded figure with thousands separators, or "not measured".
fig() { if is_num "$1"; then fmt_int "$1"; else echo "not measured"; fi; }
commas() { paste -sd, | sed 's/,/, /g'; }
# runs_fig SERVER SCENARIO GENERATOR [JQ]: "median (runs: a, b, c; p99 ...; errors ...)".
runs_fig() {
    local vals
    vals=$(tp_vals "$@" | awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 }')
    if [ -z "$vals" ]; then echo "not measured"; return; fi
    echo "$(fig "$(tp_med "$@")") (runs: $vals; p99 $(tp_vals "$1" "$2" "$3" .latency_us.p99 | commas) µs; errors $(tp_vals "$1" "$2" "$3" .errors | commas))"
}
gen_name() { if [ "$1" = wrk ]; then echo "wrk"; else echo "\`artemis load\`"; fi; }
srv_name() { if [ "$1" = nginx ]; then echo "nginx"; else echo "artemis \`--shards ${1#s}\`"; fi; }
pct() { awk -v m="$1" 'BEGIN { printf "%.0f%%", m * 100 }'; }
# tp_ratio A-SERVER A-SCENARIO B-SERVER B-SCENARIO GENERATOR: the median of the per-round ratios,
# or "nan".
tp_ratio() { median $(tp_ratios "$@"); }
# ratio_row N WHAT GENERATOR A-SERVER A-SCENARIO B-SERVER B-SCENARIO TARGET: a targets row.
ratio_row() {
    local ratios med shown verdict
    ratios=$(tp_ratios "$4" "$5" "$6" "$7" "$3")
    if [ -z "$ratios" ]; then
        shown="not measured"; verdict="n/a"
    else
        med=$(median $ratios)
        shown="**$(pct "$med")** (per round: $(echo "$ratios" | commas))"
        verdict=$(met "$med" ">=" "$8")
    fi
    echo "| $1 | $2 | $(gen_name "$3") | $shown | ≥ $(pct "$8") | $verdict |"
}

# ref_row N WHAT GENERATOR A-SERVER A-SCENARIO B-SERVER B-SCENARIO: a ratio shown for reference,
# with no target of its own.
ref_row() {
    local ratios shown
    ratios=$(tp_ratios "$4" "$5" "$6" "$7" "$3")
    if [ -z "$ratios" ]; then
        shown="not measured"
    else
        shown="**$(pct "$(median $ratios)")** (per round: $(echo "$ratios" | commas))"
    fi
    echo "| $1 | $2 | $(gen_name "$3") | $shown | (reference) | — |"
}

# throughput_section: the report's comparison part, between its markers.
throughput_section() {
    local s="s$CORES" gen med100 hb100_rows="" rows=""
    for gen in wrk load; do
        med100=$(tp_med "$s" hb100 "$gen" .instance_operations_per_s)
        hb100_rows+="| T6 | heartbeat, batch 100, \`--shards $CORES\`: instance-heartbeats/s | $(gen_name $gen) | $(fig "$med100") | ≥ 2,000,000 | $(if is_num "$med100"; then met "$med100" ">=" 2000000; else echo n/a; fi) |"$'\n'
    done
    for gen in wrk load; do
        rows+="| heartbeat, batch 1 (requests/s) | $(gen_name $gen) | $(runs_fig nginx hb $gen) | $(runs_fig "$s" hb $gen) | $(runs_fig s1 hb $gen) |"$'\n'
    done
    for gen in wrk load; do
        rows+="| lookup of a 100-instance service (lookups/s) | $(gen_name $gen) | $(runs_fig nginx lookup $gen) (the captured answer, a static file) | $(runs_fig "$s" lookup $gen) | $(runs_fig s1 lookup $gen) |"$'\n'
    done
    for gen in wrk load; do
        rows+="| lookup of a 100-instance service, \`Accept-Encoding: gzip\` (lookups/s) | $(gen_name $gen) | — | $(runs_fig "$s" lookupgz $gen) | — |"$'\n'
    done
    for gen in wrk load; do
        rows+="| register, batch 1 (registrations/s) | $(gen_name $gen) | — | $(runs_fig "$s" reg $gen) | $(runs_fig s1 reg $gen) |"$'\n'
    done
    for gen in wrk load; do
        rows+="| heartbeat, batch 100 (instance-heartbeats/s) | $(gen_name $gen) | — | $(runs_fig "$s" hb100 $gen .instance_operations_per_s) | — |"$'\n'
    done
    cat <<SECTION
$TP_BEGIN
## Throughput: artemis against nginx, two generators (issue 14)

Measured by \`$INVOCATION\` ($MODE) on $TP_DATE,
commit \`$COMMIT\`$DIRTY; $CORES cores shared by server and generator, server driver $DRIVER; load
average at start / end of this part: $TP_LOADAVG_START / $TP_LOADAVG_END; CPU used by other
processes during its kept runs (cores; max / median):
$(printf '%s\n' "${TP_FOREIGN[@]:-nan}" | sort -g | tail -n1) / $(median "${TP_FOREIGN[@]:-nan}").

Rounds alternate the servers (nginx, artemis \`--shards $CORES\` (one shard per core), artemis
\`--shards 1\`, then again), each started fresh for its turn and, for artemis, populated
identically: 10,000 instances over 100 services (\`svc-00000\`..\`svc-00099\`, 100 instances
each, full Java instances: ip, port, url, healthCheckUrl, machineName, protocol, status and 3
metadata keys). Within a turn both generators send the very same requests, byte for byte (which
one goes first alternates with the round): wrk with \`scripts/wrk/*.lua\` (2 threads, every
request pre-built in \`init\`, so a request costs wrk a table lookup) and \`artemis load\` (2
threads). nginx answers \`POST /api/registry/heartbeat.json\` with the body artemis answers a
successful heartbeat, captured from a running artemis (\`$HB_ANSWER\`), so both servers read the
same requests and write the same answer. For lookups nginx serves, as a static file
(\`sendfile on\`), the answer artemis gave a lookup of \`svc-00042\` after the same populate
(captured from a throwaway artemis, $LOOKUP_ANSWER_BYTES bytes, 100 instances) to every lookup:
the "T2 ref" rows show how much of the heartbeat rate the generator's own cost of reading that
many bytes leaves to any server. Ratios are taken per round (the two sides measured
minutes apart at most) and the median of those is reported.

| # | target | generator | figure | target | met |
|---|---|---|---|---|---|
$(ratio_row T1 "heartbeat, batch 1: \`--shards $CORES\` / nginx, same requests" wrk "$s" hb nginx hb 1.0)
$(ratio_row T1 "heartbeat, batch 1: \`--shards $CORES\` / nginx, same requests" load "$s" hb nginx hb 1.0)
$(ratio_row T2 "lookup of a 100-instance service, \`--shards $CORES\` / nginx heartbeat rate" wrk "$s" lookup nginx hb 0.9)
$(ratio_row T2 "lookup of a 100-instance service, \`--shards $CORES\` / nginx heartbeat rate" load "$s" lookup nginx hb 0.9)
$(ratio_row T2 "the same lookups with \`Accept-Encoding: gzip\` (as the Java client), \`--shards $CORES\` / nginx heartbeat rate" wrk "$s" lookupgz nginx hb 0.9)
$(ratio_row T2 "the same lookups with \`Accept-Encoding: gzip\` (as the Java client), \`--shards $CORES\` / nginx heartbeat rate" load "$s" lookupgz nginx hb 0.9)
$(ref_row "T2 ref" "nginx serving the captured lookup answer ($LOOKUP_ANSWER_BYTES bytes, a static file) to the same lookups / nginx heartbeat rate: what the generator leaves any server" wrk nginx lookup nginx hb)
$(ref_row "T2 ref" "nginx serving the captured lookup answer ($LOOKUP_ANSWER_BYTES bytes, a static file) to the same lookups / nginx heartbeat rate: what the generator leaves any server" load nginx lookup nginx hb)
$(ref_row "T2 ref" "lookup of a 100-instance service, \`--shards $CORES\` / nginx serving the captured answer to the same lookups" wrk "$s" lookup nginx lookup)
$(ref_row "T2 ref" "lookup of a 100-instance service, \`--shards $CORES\` / nginx serving the captured answer to the same lookups" load "$s" lookup nginx lookup)
$(ratio_row T3 "heartbeat, batch 1: \`--shards $CORES\` / \`--shards 1\`" wrk "$s" hb s1 hb 1.0)
$(ratio_row T3 "heartbeat, batch 1: \`--shards $CORES\` / \`--shards 1\`" load "$s" hb s1 hb 1.0)
$(ratio_row T4 "lookup: \`--shards $CORES\` / \`--shards 1\`" wrk "$s" lookup s1 lookup 1.0)
$(ratio_row T4 "lookup: \`--shards $CORES\` / \`--shards 1\`" load "$s" lookup s1 lookup 1.0)
$(ratio_row T5 "register, batch 1: \`--shards $CORES\` / \`--shards 1\`" wrk "$s" reg s1 reg 1.0)
$(ratio_row T5 "register, batch 1: \`--shards $CORES\` / \`--shards 1\`" load "$s" reg s1 reg 1.0)
${hb100_rows%$'\n'}

Medians of the rounds, with every run (p99 is each run's, closed loop at saturation):

| scenario | generator | nginx, same requests | artemis \`--shards $CORES\` | artemis \`--shards 1\` |
|---|---|---|---|---|
${rows%$'\n'}

Every wrk run is preceded by an unmeasured warm-up of $WARM on as many connections that checks
every answer (HTTP 200, \`"errorCode":"success"\` and \`"status":"success"\`, and for lookups at
least one instance; a gzip answer only for its gzip header, since Lua cannot inflate it); the
measured run has no per-response Lua. \`artemis load\` checks every answer of every run (with
\`--accept-gzip\` a connection inflates and checks each distinct gzip answer once and gives an
answer with the same status, length and gzip trailer the same verdict: inflating every answer
would cost the generator more CPU than the server spends on the request). Errors
count wrk's socket errors and non-2xx answers plus the warm-up's wrong answers, and
\`artemis load\`'s failed checks.
$(tp_client_cpu)

### Command lines (throughput)

ADDR is the server's address. \`artemis load\` runs with \`--no-populate\` after the explicit
populate, so both generators find the same registry.

$(cat "$WORK/commands-throughput.md")
$TP_END
SECTION
}

# tp_client_cpu: the CPU (cores) server and generator used in the heartbeat batch 1 runs.
tp_client_cpu() {
    local server gen v c r line="CPU cores used in the heartbeat batch 1 runs (server / generator, per round):"
    for server in "${TP_SERVERS[@]}"; do
        for gen in wrk load; do
            v=""
            for r in $(seq "$RUNS"); do
                c="$WORK/tp-$server-hb-$gen-$r.json"
                [ -s "$c" ] || continue
                v+="${v:+, }$(cat "$c.server_cores") / $(jqr '.client_cpu_cores * 100 | round / 100' "$c")"
            done
            [ -n "$v" ] && line+=" $(srv_name "$server") with $(gen_name $gen): $v;"
        done
    done
    echo "${line%;}."
}

# splice_section BEGIN END SECTION-FILE: puts a part of the report into an existing report: in
# place of its old one, else before the first of the later parts (management, notes), else at the
# end.
splice_section() {
    local begin=$1 end=$2 section=$3 anchor=""
    if [ ! -f "$OUT" ]; then
        { echo "# Benchmarks"; echo; cat "$section"; } >"$OUT"
        return
    fi
    if grep -qxF "$begin" "$OUT"; then
        awk -v begin="$begin" -v end="$end" -v file="$section" '
            $0 == begin { while ((getline line < file) > 0) print line; skip = 1; next }
            $0 == end { skip = 0; next }
            !skip' "$OUT" >"$OUT.tmp"
        mv "$OUT.tmp" "$OUT"
        return
    fi
    for a in "$MGMT_BEGIN" '<!-- notes:begin -->'; do
        [ "$a" != "$begin" ] && grep -qxF "$a" "$OUT" && { anchor=$a; break; }
    done
    if [ -n "$anchor" ]; then
        awk -v anchor="$anchor" -v file="$section" '
            $0 == anchor && !done { while ((getline line < file) > 0) print line; print ""; done = 1 }
            { print }' "$OUT" >"$OUT.tmp"
        mv "$OUT.tmp" "$OUT"
    else
        { echo; cat "$section"; } >>"$OUT"
    fi
}

if [ "$ONLY" = management ]; then
    run_management
    management_section >"$WORK/management.md"
    splice_section "$MGMT_BEGIN" "$MGMT_END" "$WORK/management.md"
    log "done: the management part of $OUT"
    exit 0
fi
if [ "$ONLY" = throughput ]; then
    run_throughput
    throughput_section >"$WORK/throughput.md"
    splice_section "$TP_BEGIN" "$TP_END" "$WORK/throughput.md"
    log "done: the throughput part of $OUT"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
log "1-4. throughput: heartbeat, lookup, register; nginx, --shards $CORES, --shards 1; wrk and artemis load"
run_throughput
# Rows 1 (max), 2, 3 and 4 of the results are the built-in generator's figures against one shard
# per core (the default), from the comparison.
S1_MAX=$(tp_med "s$CORES" hb load)
if ! is_num "$S1_MAX"; then
    echo "bench.sh: no heartbeat figure from the throughput comparison" >&2
    exit 1
fi
HALF=$(awk -v m="$S1_MAX" 'BEGIN { printf "%d", m / 2 }')
log "1. heartbeat batch 1: max ${S1_MAX} requests/s; now open loop at 50%: ${HALF}/s"
start_server s1
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

# ---------------------------------------------------------------------------------------------
# fanout_counters: "SECONDS SESSIONS" summed over every line of the two fan-out counters in the
# server's /metrics, or "none" when the server does not export them.
fanout_counters() {
    curl -s "http://$ADDR/metrics" | awk '
        /^artemis_push_fanout_seconds_total[ {]/ { s += $NF; hs = 1 }
        /^artemis_push_fanout_sessions_total[ {]/ { n += $NF; hn = 1 }
        END { if (hs && hn) printf "%.9f %.0f\n", s, n; else print "none" }'
}
# push_runs SUBSCRIBERS PREFIX: the push scenario with this many subscribers on a fresh server,
# RUNS times; per run WORK/PREFIX-N.json and, when the server counts them, the fan-out cost per
# subscriber in WORK/PREFIX-N.json.fanout (µs, from the counters' growth over the whole run).
# Sets PUSH_STATUS (empty when measured).
push_runs() {
    local subs=$1 prefix=$2 r before after
    PUSH_STATUS=""
    start_server "$prefix"
    if load "$WORK/$prefix-probe.json" --target "http://$ADDR" --scenario push --subscribers 1 \
        --services 1 --instances 10 --duration 1s --warmup 1s --rate 10; then
        for r in $(seq "$RUNS"); do
            before=$(fanout_counters)
            timed "$WORK/$prefix-$r.json" --target "http://$ADDR" --scenario push --subscribers "$subs" \
                --services 1 --instances 100 --rate 20 --connections 1 "${COMMON[@]}" || true
            after=$(fanout_counters)
            if [ "$before" = none ] || [ "$after" = none ]; then
                echo none >"$WORK/$prefix-$r.json.fanout"
            else
                echo "$before $after" | awk '{ ds = $3 - $1; dn = $4 - $2
                    if (dn > 0) printf "%.3f %.0f\n", ds * 1e6 / dn, dn; else print "none" }' \
                    >"$WORK/$prefix-$r.json.fanout"
            fi
        done
    else
        PUSH_STATUS="not measured yet: $(head -c 300 "$WORK/$prefix-probe.json.err" | tr '\n' ' ')"
    fi
    stop_server
}
# push_fig PREFIX JQ: every run's figure, comma-separated.
push_fig() { local r; for r in $(seq "$RUNS"); do jqr "$2" "$WORK/$1-$r.json"; done | commas; }
# fanout_of PREFIX: every run's fan-out cost per subscriber (µs), one per line, or "none".
fanout_of() { local r; for r in $(seq "$RUNS"); do cut -d' ' -f1 "$WORK/$1-$r.json.fanout"; done; }

log "5. push latency, 100 and 1,000 subscribers, and the server's fan-out cost per subscriber"
push_runs 100 s5c
S5C_STATUS=$PUSH_STATUS
push_runs 1000 s5
S5_STATUS=$PUSH_STATUS
if [ -z "$S5_STATUS" ]; then
    mapfile -t S5_P99 < <(for r in $(seq "$RUNS"); do jqr .latency_us.p99 "$WORK/s5-$r.json"; done)
    mapfile -t S5_P50 < <(for r in $(seq "$RUNS"); do jqr .latency_us.p50 "$WORK/s5-$r.json"; done)
fi
if [ -z "$S5C_STATUS" ]; then
    mapfile -t S5C_P99 < <(for r in $(seq "$RUNS"); do jqr .latency_us.p99 "$WORK/s5c-$r.json"; done)
    mapfile -t S5C_P50 < <(for r in $(seq "$RUNS"); do jqr .latency_us.p50 "$WORK/s5c-$r.json"; done)
fi
# fanout_line PREFIX STATUS: sets FANOUT_LINE, the fan-out cost per subscriber of every run ("n/a
# (...)" when the server has no counters), and FANOUT_MED, their median (or "nan").
fanout_line() {
    local costs
    FANOUT_MED=nan
    if [ -n "$2" ]; then FANOUT_LINE="n/a (push not measured)"; return; fi
    costs=$(fanout_of "$1")
    if echo "$costs" | grep -qx none; then
        FANOUT_LINE="n/a (server has no fan-out counters)"
        return
    fi
    FANOUT_MED=$(median $costs)
    FANOUT_LINE="$(printf '%.2f' "$FANOUT_MED") µs (runs: $(echo "$costs" | commas) µs; sessions per run: $(for r in $(seq "$RUNS"); do cut -d' ' -f2 "$WORK/$1-$r.json.fanout"; done | commas))"
}
fanout_line s5c "$S5C_STATUS"; S5C_FANOUT=$FANOUT_LINE; S5C_FANOUT_MED=$FANOUT_MED
fanout_line s5 "$S5_STATUS"; S5_FANOUT=$FANOUT_LINE; S5_FANOUT_MED=$FANOUT_MED

# ---------------------------------------------------------------------------------------------
log "6. memory: RSS after registering $MEM_INSTANCES instances"
S6_BPI=(); S6_WHOLE=(); S6_SECS=()
for r in $(seq "$RUNS"); do
    wait_quiet
    start_server "s6-$r" --lease-ttl-ms 3600000
    # The empty server: every core serving (/ready), then a second to settle.
    for _ in $(seq 1 100); do curl -sf -o /dev/null "http://$ADDR/ready" && break; sleep 0.1; done
    sleep 1
    before=$(rss_kib "$SERVER_PID")
    load "$WORK/s6-$r.json" --target "http://$ADDR" --scenario register --instances "$MEM_INSTANCES" \
        --services 1000 --duration 0s
    sleep 2
    after=$(rss_kib "$SERVER_PID")
    S6_BEFORE+=("$before"); S6_AFTER+=("$after")
    S6_BPI+=("$(awk -v a="$after" -v b="$before" -v n="$MEM_INSTANCES" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')")
    S6_WHOLE+=("$(awk -v a="$after" -v n="$MEM_INSTANCES" 'BEGIN { printf "%.0f", a * 1024 / n }')")
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
S6_MED=$(median "${S6_BPI[@]}")
S6_WHOLE_MED=$(median "${S6_WHOLE[@]}")
S7_AFTER_MED=$(median "${S7_AFTER[@]}")
S7_TOTAL_MED=$(median "${S7_TOTAL[@]}")
S7_P99_MED=$(median "${S7_P99[@]}")
S7_BASE_MED=$(median "${S7_BASE[@]}")

S="s$CORES"
S2_MED=$(tp_med "$S" hb100 load .instance_operations_per_s)
S3_MED=$(tp_med "$S" lookup load)
S4_MED=$(tp_med "$S" reg load)
RATIO=$(tp_ratio "$S" hb nginx hb load)
if is_num "$RATIO"; then
    RATIO_PCT="**$(pct "$RATIO") of nginx** (same requests; median of the per-round ratios)"
    RATIO_MET=$(met "$RATIO" ">=" 1.0)
else
    RATIO_PCT="nginx not measured (not installed)"; RATIO_MET="n/a"
fi
S3_RATIO=$(tp_ratio "$S" lookup nginx hb load)
if is_num "$S3_RATIO"; then
    S3_VS="= **$(pct "$S3_RATIO")** of nginx's heartbeat rate"; S3_MET=$(met "$S3_RATIO" ">=" 0.9)
else
    S3_VS="(nginx not measured)"; S3_MET="n/a"
fi
S4_RATIO=$(tp_ratio "$S" reg s1 reg load)
if is_num "$S4_RATIO"; then
    S4_VS="= **$(pct "$S4_RATIO")** of \`--shards 1\`"; S4_MET=$(met "$S4_RATIO" ">=" 1.0)
else
    S4_VS="(\`--shards 1\` not measured)"; S4_MET="n/a"
fi
S2_MET=$(if is_num "$S2_MED"; then met "$S2_MED" ">=" 2000000; else echo n/a; fi)

# push_row N SUBSCRIBERS PREFIX STATUS P99-TARGET: the end-to-end p99 row of one push run set.
push_row() {
    local med
    if [ -n "$4" ]; then
        echo "| $1 | push, $2 subscribers, register → receipt (end to end) | \`artemis load\` | $4 | ${5:-—} | n/a |"
        return
    fi
    med=$(median $(push_fig "$3" .latency_us.p99 | tr -d ,))
    echo "| $1 | push, $2 subscribers, register → receipt (end to end) | \`artemis load\` | $(fmt_int "$med") µs p99 | ${5:-—} | $([ -n "${5:-}" ] && met "$med" "<" 2000 || echo "") |"
}
# push_detail PREFIX STATUS: the per-run figures of one push run set.
push_detail() {
    if [ -n "$2" ]; then echo "$2"; return; fi
    echo "p99 $(fmt_int "$(median $(push_fig "$1" .latency_us.p99 | tr -d ,))") µs, p50 $(fmt_int "$(median $(push_fig "$1" .latency_us.p50 | tr -d ,))") µs (runs p99: $(push_fig "$1" .latency_us.p99); pushes/s: $(push_fig "$1" .instance_operations_per_s); errors: $(push_fig "$1" .errors); other processes: $(others "$1") cores)"
}
fanout_met() { if is_num "$1"; then met "$1" "<=" 2; else echo "n/a"; fi; }
fanout_fig() { if is_num "$1"; then printf '%.2f µs per subscriber' "$1"; else echo "n/a (server has no fan-out counters)"; fi; }

CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
RAM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)

# Hand-written analysis between these markers survives regeneration, and so does everything after
# them: the sections other scripts and people keep (cluster, mysql, groups, before/after runs).
NOTES=""
TAIL=""
if [ -f "$OUT" ]; then
    NOTES=$(sed -n '/^<!-- notes:begin -->$/,/^<!-- notes:end -->$/p' "$OUT")
    if grep -qx '<!-- notes:end -->' "$OUT"; then
        TAIL=$(sed '1,/^<!-- notes:end -->$/d' "$OUT")
    fi
fi
if [ -z "$NOTES" ]; then
    NOTES=$(printf '%s\n%s\n%s' '<!-- notes:begin -->' '## Notes' '<!-- notes:end -->')
fi

cat >"$OUT.new" <<EOF
# Benchmarks

Measured by \`scripts/bench.sh\` ($MODE) on $(date -u +%Y-%m-%d), commit \`$COMMIT\`$DIRTY.
Regenerate with \`scripts/bench.sh\` (or \`scripts/bench.sh --quick\` while developing;
\`--only throughput\` or \`--only management\` replace just that section). CI never times anything.

## Machine

| | |
|---|---|
| cores (\`nproc\`) | $(nproc) |
| CPU | $CPU_MODEL |
| RAM | $RAM |
| kernel | $(uname -r) |
| server event-loop driver | $DRIVER |
| server threads | one per core ($(nproc)) unless a row says \`--shards 1\` |
| load average (1/5/15 min) at start / end of the suite | $LOADAVG_START / $(cut -d' ' -f1-3 /proc/loadavg) |
| CPU used by other processes during the kept measured runs (cores; max / median) | $(printf '%s\n' "${FOREIGN_ALL[@]}" | sort -g | tail -n1) / $(median "${FOREIGN_ALL[@]}") |

The machine is shared with other work (builds, test suites); every measured run waits until the
rest of the machine is quiet and is repeated (at most twice) if other processes used more than 0.2
cores during it.

**The load generator and the server share these $(nproc) cores** (loopback, no other machine).
Every figure is therefore a lower bound for the server: the generator (\`artemis load\` or wrk, 2
threads) uses roughly as much CPU as the server at full load, most of it in the kernel's loopback
TCP path. The nginx reference answers the same requests with the same answer, measured with the
same generators under the same constraint, which is why the ratio to nginx is the figure to watch
rather than absolute numbers.

## Results

Rows 1–4 are \`artemis load\`'s figures from the throughput comparison below (artemis with one
shard per core, the default), which also has every one of them with wrk and with \`--shards 1\`.

| # | scenario | generator | result | target | met |
|---|---|---|---|---|---|
| 1 | heartbeat, batch 1, 10,000 instances / 100 services: max throughput | \`artemis load\` | $(fig "$S1_MAX") requests/s = $RATIO_PCT | ≥ 100% of nginx | $RATIO_MET |
| 1 | heartbeat, batch 1, at 50% of max ($(fmt_int "$HALF")/s, open loop): p99 | \`artemis load\` | $(fmt_int "$S1_HALF_P99") µs (p50 $(fmt_int "$S1_HALF_P50") µs) | < 1 ms | $(met "$S1_HALF_P99" "<" 1000) |
| 2 | heartbeat, batch 100 (full Java instances) | \`artemis load\` | $(fig "$S2_MED") instance-heartbeats/s | ≥ 2,000,000/s | $S2_MET |
| 3 | lookup of a 100-instance service | \`artemis load\` | $(fig "$S3_MED") lookups/s $S3_VS | ≥ 90% of nginx's heartbeat rate | $S3_MET |
| 4 | register, batch 1 | \`artemis load\` | $(fig "$S4_MED") registrations/s $S4_VS | ≥ 100% of \`--shards 1\` | $S4_MET |
$(push_row 5 100 s5c "$S5C_STATUS")
$(push_row 5 "1,000" s5 "$S5_STATUS" "p99 < 2 ms")
| 5 | push: server-side fan-out cost per subscriber (change recorded → bytes queued), 100 / 1,000 subscribers | server's \`/metrics\` | $(fanout_fig "$S5C_FANOUT_MED") / $(fanout_fig "$S5_FANOUT_MED") | ≤ 2 µs | $(fanout_met "$S5C_FANOUT_MED") / $(fanout_met "$S5_FANOUT_MED") |
| 6 | memory at $(fmt_int "$MEM_INSTANCES") instances: (RSS after populate − RSS of the empty server) / instances | \`artemis load\` (populate) | $(fmt_int "$S6_MED") bytes per instance | ≤ 512 B | $(met "$S6_MED" "<=" 512) |
| 6 | memory at $(fmt_int "$MEM_INSTANCES") instances: RSS after populate / instances (whole process) | \`artemis load\` (populate) | $(fmt_int "$S6_WHOLE_MED") bytes per instance | — | |
| 7 | eviction of 100,000 instances: heartbeat p99 while it happens | \`artemis load\` | $(fmt_int "$S7_P99_MED") µs (all gone $(fmt_int "$S7_AFTER_MED") ms after the last deadline) | < 5 ms | $(met "$S7_P99_MED" "<" 5000) |

## Details

1. **Heartbeat, batch 1.** Closed loop, 64 keep-alive connections, \`artemis load\` against
   artemis with one shard per core: $(runs_fig "$S" hb load); against nginx answering the same
   requests: $(runs_fig nginx hb load). wrk, same requests: artemis $(runs_fig "$S" hb wrk),
   nginx $(runs_fig nginx hb wrk). Server CPU (cores) in the \`artemis load\` runs: artemis
   $(for r in $(seq "$RUNS"); do cat "$WORK/tp-$S-hb-load-$r.json.server_cores" 2>/dev/null; echo; done | grep . | commas),
   nginx $(for r in $(seq "$RUNS"); do cat "$WORK/tp-nginx-hb-load-$r.json.server_cores" 2>/dev/null; echo; done | grep . | commas).
   Open loop at 50% of max ($(fmt_int "$HALF") requests/s intended; achieved $(runs_list "${S1_HALF_RPS[@]}")):
   p99 $(runs_list "${S1_P99[@]}") µs (other processes: $(others s1-half) cores), measured from each
   request's *intended* send time. Part of
   that is the generator's own lateness on the shared cores (send lag p99: $(runs_list "${S1_LAG[@]}") µs),
   which is counted as latency on purpose (no coordinated omission). With one generator thread
   instead of two (less contention for the cores) the same rate gives p99 $(runs_list "${S1_T1_P99[@]}") µs
   (send lag p99 $(runs_list "${S1_T1_LAG[@]}") µs).
2. **Heartbeat, batch 100** (16 connections, the same 10,000 instances in 100 requests of 100):
   \`artemis load\` $(runs_fig "$S" hb100 load .instance_operations_per_s) instance-heartbeats/s;
   wrk $(runs_fig "$S" hb100 wrk .instance_operations_per_s).
3. **Lookup** of one of 100 services with 100 instances each (≈ 40 KB answers, 64 connections):
   \`artemis load\` $(runs_fig "$S" lookup load) lookups/s; wrk $(runs_fig "$S" lookup wrk).
   The populate is checked (a lookup answers 100 instances) and so is every wrk warm-up answer.
4. **Register**, batch 1, re-registering the 10,000 instances round-robin: \`artemis load\`
   $(runs_fig "$S" reg load)/s; wrk $(runs_fig "$S" reg wrk).
5. **Push**, 100 subscribers: $(push_detail s5c "$S5C_STATUS"). 1,000 subscribers:
   $(push_detail s5 "$S5_STATUS").
   One HTTP connection registers instances of one service at 20 registrations/s; the WebSocket
   subscribers of that service each receive every change; latency is from the register request's
   send time to each subscriber's receipt (one sample per subscriber per registration).
   **Fan-out cost per subscriber**, measured inside the server: the growth of
   \`artemis_push_fanout_seconds_total\` (per change batch delivered on a core, the time from the
   change being recorded by its shard to its bytes being queued on the last session) divided by
   the growth of \`artemis_push_fanout_sessions_total\` (the sessions those batches were queued
   on), read from \`/metrics\` before and after each run (warm-up included): 100 subscribers
   $S5C_FANOUT; 1,000 subscribers $S5_FANOUT.
6. **Memory**: VmRSS of the server once it is ready and idle (the empty server) and after
   registering $(fmt_int "$MEM_INSTANCES") instances (1,000 services; each instance has ip, port, url,
   healthCheckUrl, machineName, protocol, status and 3 metadata keys, ≈ 420 bytes of JSON):
   (after − empty) / instances per run $(runs_list "${S6_BPI[@]}") bytes; after / instances (the whole
   process) $(runs_list "${S6_WHOLE[@]}") bytes (RSS empty: $(runs_list "${S6_BEFORE[@]}") KiB, after:
   $(runs_list "${S6_AFTER[@]}") KiB; registration took $(runs_list "${S6_SECS[@]}") s in batches of 1,000).
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

$(throughput_section)

$(management_section)

## Command lines

ADDR is the address the server printed (\`artemis listening on ADDR\`); every server runs on
\`127.0.0.1:0\` with a fresh data directory. The throughput and management sections list their
own.

$(cat "$COMMANDS")

## How the load generators measure

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
- wrk (\`wrk -t2\`, epoll, closed loop) sends the same requests from \`scripts/wrk/*.lua\`:
  every request of the table \`artemis load\` would send (same head, header order, body; thread t
  of 2 walks requests t, t + 2, ...) is built once per wrk thread in \`init\`, and \`request()\`
  returns the next one. \`scripts/wrk/same-requests.sh\` checks that both generators send the
  same set of requests, byte for byte. wrk checks no answer in a measured run (only status
  codes); the unmeasured warm-up before it checks every answer. Its p99 is wrk's
  (\`latency:percentile(99)\`).
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
if [ -n "$TAIL" ]; then printf '%s\n' "$TAIL" >>"$OUT.new"; fi
mv "$OUT.new" "$OUT"
log "done: $OUT"
