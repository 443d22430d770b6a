#!/usr/bin/env bash
# The benchmark suite (issue 4). Builds the release binary, starts servers on loopback, runs the
# standard scenarios with `artemis load` (medians of 3 runs) and writes BENCHMARKS.md with the
# machine, the driver, the exact command lines, the figures and the targets.
#
#   scripts/bench.sh            full suite (several minutes)
#   scripts/bench.sh --quick    one run each, short durations (development; still writes the file)
#   scripts/bench.sh --out F    write the report to F instead of BENCHMARKS.md
#
# Needs jq, and nginx for the reference server (installed with apt-get when missing and root).
# Never run by CI: load generator and server share this machine's cores, and timings drift.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
OUT="$ROOT/BENCHMARKS.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n 2,11p "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    RUNS=1; DUR=3s; WARM=1s; MEM_INSTANCES=1000000; EVICT_HB_DURATION=16s
else
    RUNS=3; DUR=10s; WARM=2s; MEM_INSTANCES=1000000; EVICT_HB_DURATION=18s
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
HAVE_NGINX=1
if ! ensure_tool nginx nginx-light && ! [ -x /usr/sbin/nginx ]; then HAVE_NGINX=0; fi
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

# start_server NAME [server args...]: sets SERVER_PID and ADDR.
start_server() {
    local name=$1; shift
    local out="$WORK/$name.out" err="$WORK/$name.log"
    "$BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/$name-data" "$@" >"$out" 2>"$err" &
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

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
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
echo "- \`evict.toml\`: \`[lease] ttl_ms = 5000\`, \`[self_preservation] enabled = false\`" >>"$COMMANDS"
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
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
MODE=$([ "$QUICK" = 1 ] && echo "quick mode: 1 run per figure, ${DUR} measured" || echo "medians of $RUNS runs, ${DUR} measured after ${WARM} warm-up")

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

## Command lines

ADDR is the address the server printed (\`artemis listening on ADDR\`); every server runs on
\`127.0.0.1:0\` with a fresh data directory.

$(cat "$COMMANDS")

## How the load generator measures

- \`artemis load\` runs one monoio event loop per thread (io_uring where available, else epoll;
  \`MONOIO_FORCE_LEGACY_DRIVER=1\` forces epoll) with keep-alive HTTP/1.1 connections. Requests are
  serialized once before the run into one table per operation and copied into a reused buffer per
  send; responses are framed by an allocation-free parser (\`protocol::http::parse_response\`).
- Every response is checked: HTTP 200 and \`responseStatus.status == "success"\`, found by a
  forward-only JSON scanner that skips strings and nested values (no full parse). Anything else is
  an error counted by kind: \`http-<code>\`, \`partial_fail:<errorCode of the first failed
  instance>\`, \`fail:<errorCode>\`, \`io\`, \`timeout\`, \`parse\`, and for lookups of a populated
  registry \`empty-service\` / \`null-service\`. Instance operations count successful requests × batch.
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

$NOTES
EOF
log "done: $OUT"
