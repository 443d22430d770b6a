#!/usr/bin/env bash
# Cluster benchmarks (issue 11), on this machine, with the project's load generator:
#   1. replication lag: register on node A → the change pushed to WebSocket subscribers on node C,
#      p50/p99, while A takes a background load of 20,000 heartbeats/s;
#   2. replication overhead: heartbeat batch-1 throughput of node A of a 3-node local cluster as
#      a ratio of a single node (rounds alternated);
#   3. full copy: time for a new node to copy 100,000 instances from an up peer and report `up`.
# Writes its section of BENCHMARKS.md between `<!-- cluster:begin -->` and `<!-- cluster:end -->`
# (appended when absent). Usage: scripts/bench-cluster.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ "$QUICK" = 1 ]; then
    RUNS=1; DUR=5s; COPY_INSTANCES=20000
else
    RUNS=3; DUR=10s; COPY_INSTANCES=100000
fi

log() { echo "[bench-cluster $(date +%H:%M:%S)] $*" >&2; }
command -v jq >/dev/null || { echo "bench-cluster.sh: jq is required (apt-get install jq)" >&2; exit 1; }

log "building the release binary"
cargo build --release --bin artemis >&2
BIN="$ROOT/target/release/artemis"
COMMIT=$(git rev-parse --short HEAD)
[ -n "$(git status --porcelain --untracked-files=no)" ] && COMMIT="$COMMIT (with uncommitted changes)"

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
WORK=$(mktemp -d /tmp/artemis-bench-cluster.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat >"$WORK/bench.toml" <<'TOML'
[rate_limits.registry]
default_per_10s = 1000000000
[rate_limits.registry_replication]
default_per_10s = 1000000000
TOML

# start_node NAME PORT NODES [extra args...]: starts a node, sets NODE_PID.
start_node() {
    local name=$1 port=$2 nodes=$3; shift 3
    "$BIN" server --listen "127.0.0.1:$port" --data-dir "$WORK/$name-data" --config "$WORK/bench.toml" \
        ${nodes:+--cluster-nodes "$nodes"} "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    for _ in $(seq 1 300); do
        grep -q '^artemis listening on' "$WORK/$name.out" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$WORK/$name.log" >&2
    echo "bench-cluster.sh: node $name did not start" >&2
    exit 1
}

node_status() { curl -s -m 2 -X POST -d '{}' "http://127.0.0.1:$1/api/status/node.json" | jq -r '.nodeStatus.status // "none"' 2>/dev/null || echo none; }

wait_up() { # port [timeout_s] → prints seconds waited
    local port=$1 limit=${2:-120} start
    start=$(date +%s.%N)
    while [ "$(node_status "$port")" != up ]; do
        if awk -v s="$start" -v l="$limit" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s > l) }'; then
            echo "bench-cluster.sh: node on port $port not up after ${limit}s" >&2; exit 1
        fi
        sleep 0.05
    done
    awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }'
}

stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
fmt_int() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
load() { "$BIN" load --json "$@"; }

PA=$(free_port); PB=$(free_port); PC=$(free_port)
NODES="default:http://127.0.0.1:$PA,http://127.0.0.1:$PB,http://127.0.0.1:$PC"

log "1. replication lag under 20,000 heartbeats/s"
start_node a "$PA" "$NODES" --force-up; A=$NODE_PID
start_node b "$PB" "$NODES"; B=$NODE_PID
start_node c "$PC" "$NODES"; C=$NODE_PID
wait_up "$PB" >/dev/null; wait_up "$PC" >/dev/null
LAG_P50=(); LAG_P99=(); LAG_ERR=()
for r in $(seq "$RUNS"); do
    load --target "http://127.0.0.1:$PA" --scenario heartbeat --rate 20000 --instances 10000 --services 100 \
        --service-prefix bg --duration 40s --warmup 1s --connections 16 >"$WORK/bg-$r.json" 2>"$WORK/bg-$r.err" &
    BG=$!
    sleep 3
    load --target "http://127.0.0.1:$PA" --watch "http://127.0.0.1:$PC" --scenario push --subscribers 100 \
        --services 10 --service-prefix lag --rate 200 --connections 4 --duration "$DUR" --warmup 2s >"$WORK/lag-$r.json"
    wait "$BG" || true
    LAG_P50+=("$(jq -r .latency_us.p50 "$WORK/lag-$r.json")")
    LAG_P99+=("$(jq -r .latency_us.p99 "$WORK/lag-$r.json")")
    LAG_ERR+=("$(jq -r .errors "$WORK/lag-$r.json")")
done
BG_RPS=$(jq -r .requests_per_s "$WORK/bg-1.json")

log "2. heartbeat batch 1: node of a 3-node cluster vs single node (alternated)"
PS=$(free_port)
start_node single "$PS" ""; S=$NODE_PID
CLUSTER_RPS=(); SINGLE_RPS=()
for r in $(seq "$RUNS"); do
    load --target "http://127.0.0.1:$PS" --scenario heartbeat --duration "$DUR" --warmup 2s >"$WORK/hb-single-$r.json"
    SINGLE_RPS+=("$(jq -r .requests_per_s "$WORK/hb-single-$r.json")")
    load --target "http://127.0.0.1:$PA" --scenario heartbeat --duration "$DUR" --warmup 2s >"$WORK/hb-cluster-$r.json"
    CLUSTER_RPS+=("$(jq -r .requests_per_s "$WORK/hb-cluster-$r.json")")
done
stop_pid "$S"
CL_MED=$(median "${CLUSTER_RPS[@]}"); SI_MED=$(median "${SINGLE_RPS[@]}")
RATIO=$(awk -v c="$CL_MED" -v s="$SI_MED" 'BEGIN { printf "%.0f", c * 100 / s }')

log "3. full copy of $COPY_INSTANCES instances by a restarted node"
load --target "http://127.0.0.1:$PA" --scenario register --instances "$COPY_INSTANCES" --services 1000 \
    --service-prefix copy --batch 100 --duration 0s >"$WORK/populate.json"
stop_pid "$C"
COPY_S=()
for r in $(seq "$RUNS"); do
    rm -rf "$WORK/c-data"
    start_node c "$PC" "$NODES"; C=$NODE_PID
    COPY_S+=("$(wait_up "$PC" 300)")
    COPIED=$(curl -s -m 30 -X POST -d '{"regionId":"default","zoneId":"default"}' \
        "http://127.0.0.1:$PC/api/discovery/services.json" | jq '[.services[].instances | length] | add')
    stop_pid "$C"
done
COPY_MED=$(median "${COPY_S[@]}")

SECTION="$WORK/section.md"
{
    echo "<!-- cluster:begin -->"
    echo "## Cluster (issue 11): replication lag, overhead, full copy"
    echo
    echo "\`scripts/bench-cluster.sh\` at $COMMIT, $(nproc) cores, $RUNS run(s) each, medians; three release"
    echo "nodes on 127.0.0.1 (A \`--force-up\`, B and C bootstrap from it) share the machine with the"
    echo "load generator. Config: registry and replication rate limits raised (\`bench.toml\`)."
    echo "Load average (1 min) at the start $LOAD_START, at the end $(cut -d' ' -f1 /proc/loadavg)."
    echo
    echo "| measure | result | runs |"
    echo "|---|---|---|"
    echo "| replication lag, register on A → pushed to 100 subscribers on C, 200 registers/s, p50 | $(fmt_int "$(median "${LAG_P50[@]}")") µs | ${LAG_P50[*]} |"
    echo "| same, p99 | $(fmt_int "$(median "${LAG_P99[@]}")") µs | ${LAG_P99[*]} (errors: ${LAG_ERR[*]}) |"
    echo "| background load on A during the lag runs | $(fmt_int "$BG_RPS") heartbeats/s (target 20,000) | |"
    echo "| heartbeat batch 1, node A of the 3-node cluster | $(fmt_int "$CL_MED") req/s | ${CLUSTER_RPS[*]} |"
    echo "| heartbeat batch 1, single node | $(fmt_int "$SI_MED") req/s | ${SINGLE_RPS[*]} |"
    echo "| cluster node / single node | $RATIO % | |"
    echo "| full copy: an empty node C restarted, up once it serves the registry copied from A ($(fmt_int "$COPIED") instances, $(fmt_int "$COPY_INSTANCES") of them registered for this step) | $COPY_MED s | ${COPY_S[*]} |"
    echo
    echo "Commands: \`artemis load --target A --scenario heartbeat --rate 20000 --instances 10000\` in the"
    echo "background, \`artemis load --target A --watch C --scenario push --subscribers 100 --services 10"
    echo "--rate 200\` (latency = register sent on A → change received on C: replication plus C's push);"
    echo "\`artemis load --scenario heartbeat\` (64 connections, closed loop) against A and a single node in"
    echo "turn; the copy is timed from C's start to its \`node.json\` saying \`up\`. On this 2-core machine"
    echo "the cluster's other two nodes (receiving A's replication) and the generator share A's cores."
    echo "<!-- cluster:end -->"
} >"$SECTION"
if grep -q '<!-- cluster:begin -->' BENCHMARKS.md; then
    python3 - "$SECTION" <<'PY'
import sys
section = open(sys.argv[1]).read()
text = open("BENCHMARKS.md").read()
start = text.index("<!-- cluster:begin -->")
end = text.index("<!-- cluster:end -->") + len("<!-- cluster:end -->\n")
open("BENCHMARKS.md", "w").write(text[:start] + section + text[end:])
PY
else
    { echo; cat "$SECTION"; } >>BENCHMARKS.md
fi
log "BENCHMARKS.md updated"
cat "$SECTION"
