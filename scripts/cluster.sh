#!/usr/bin/env bash
# Run a local artemis cluster on 127.0.0.1 from the release binary, its state under .cluster/
# (one directory per node: config, data dir, log, pid file). Node 1 starts with force_up; the
# others copy the registry from an up peer before they report up.
#
#   scripts/cluster.sh start [nodes=3] [base_port=8080]  start the nodes not running (node i on
#                                                        base_port+i-1), wait until each is up
#   scripts/cluster.sh stop                              SIGTERM every node, wait for its exit
#   scripts/cluster.sh status                            each node's status and `artemis nodes`
#                                                        (per peer: status, queue and lag)
#   scripts/cluster.sh logs [id]                         node id's log, or every log's last lines
#   scripts/cluster.sh restart                           stop, then start the same nodes
#   scripts/cluster.sh clean                             stop, then remove .cluster/
#
# `start` without arguments reuses the layout of the last start. Every command can be re-run.
# Environment:
#   ARTEMIS_BIN   binary to run (default: target/release/artemis, built by cargo build --release)
#   CLUSTER_DIR   state directory (default: .cluster in this checkout)
#   CLUSTER_REGION, CLUSTER_ZONE   the nodes' region and zone (default: default)
set -euo pipefail

usage() { # the comment above, on stdout for --help, else on stderr with exit code 2
    local text
    text=$(awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0")
    if [ "$1" = 0 ]; then echo "$text"; else echo "$text" >&2; fi
    exit "$1"
}
die() { echo "cluster.sh: $*" >&2; exit 1; }
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=$(absolute "${CLUSTER_DIR:-$ROOT/.cluster}")
LAYOUT="$STATE/cluster.env"
REGION=${CLUSTER_REGION:-default}
ZONE=${CLUSTER_ZONE:-default}
# How long one node may take to report up, and to exit after SIGTERM (a graceful stop saves the
# registry first).
UP_TIMEOUT_S=90
STOP_TIMEOUT_S=30

node_dir() { echo "$STATE/node$1"; }
node_url() { echo "http://127.0.0.1:$((BASE_PORT + $1 - 1))/"; }

load_layout() { # NODES and BASE_PORT of the last start; false when there was none
    [ -f "$LAYOUT" ] || return 1
    # shellcheck source=/dev/null
    . "$LAYOUT"
}

pid_of() { # the pid of node $1 when it runs, else nothing
    local pid_file pid
    pid_file="$(node_dir "$1")/pid"
    [ -f "$pid_file" ] || return 0
    pid=$(cat "$pid_file")
    # The pid must still be this node's server, not a process that reused the number.
    if [ -r "/proc/$pid/cmdline" ] &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(node_dir "$1")/artemis.toml"; then
        echo "$pid"
    fi
}

any_running() {
    local i
    for i in $(seq 1 "$NODES"); do
        [ -z "$(pid_of "$i")" ] || return 0
    done
    return 1
}

# A node's own status from its node.json ("starting", "up", ...), or "unreachable"; python3
# because curl and jq are not everywhere.
node_status() {
    python3 - "$1" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "api/status/node.json", data=b"{}",
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(json.load(r)["nodeStatus"]["status"])
except Exception:  # down, still binding, or not an artemis node
    print("unreachable")
EOF
}

binary() {
    if [ -n "${ARTEMIS_BIN:-}" ]; then
        [ -x "$ARTEMIS_BIN" ] || die "ARTEMIS_BIN=$ARTEMIS_BIN is not an executable"
        absolute "$ARTEMIS_BIN"
        return
    fi
    # cargo rebuilds only what changed, so the cluster runs the checkout's current code.
    (cd "$ROOT" && cargo build --release --locked --bin artemis >&2)
    echo "$ROOT/target/release/artemis"
}

write_config() { # node $1's config file
    local i=$1 dir urls="" n
    dir=$(node_dir "$i")
    for n in $(seq 1 "$NODES"); do
        urls="$urls${urls:+,}http://127.0.0.1:$((BASE_PORT + n - 1))"
    done
    mkdir -p "$dir/data"
    {
        echo "listen = \"127.0.0.1:$((BASE_PORT + i - 1))\""
        echo "region_id = \"$REGION\""
        echo "zone_id = \"$ZONE\""
        echo "data_dir = \"$dir/data\""
        echo "[cluster]"
        echo "nodes = \"$ZONE:$urls\""
        if [ "$i" = 1 ]; then echo "force_up = true"; fi
    } >"$dir/artemis.toml"
}

alive() { # process $1 exists and has not exited (a zombie has state Z)
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

wait_up() { # waits until node $1's node.json says up
    local i=$1 url status="" deadline=$((SECONDS + UP_TIMEOUT_S)) pid
    url=$(node_url "$i")
    pid=$(cat "$(node_dir "$i")/pid")
    while [ "$SECONDS" -lt "$deadline" ]; do
        # Not pid_of: right after the start the process may not have exec'd the server yet.
        alive "$pid" || die "node $i exited; see $(node_dir "$i")/artemis.log"
        status=$(node_status "$url")
        [ "$status" = up ] && return 0
        sleep 0.2
    done
    die "node $i ($url) not up after ${UP_TIMEOUT_S}s (status: $status); see $(node_dir "$i")/artemis.log"
}

cmd_start() {
    local want_nodes=${1:-} want_port=${2:-} bin i started=""
    if load_layout && any_running; then
        if { [ -n "$want_nodes" ] && [ "$want_nodes" != "$NODES" ]; } ||
            { [ -n "$want_port" ] && [ "$want_port" != "$BASE_PORT" ]; }; then
            die "a cluster of $NODES nodes on port $BASE_PORT is running; stop it first"
        fi
    else
        load_layout || true
        NODES=${want_nodes:-${NODES:-3}}
        BASE_PORT=${want_port:-${BASE_PORT:-8080}}
    fi
    case "$NODES" in '' | *[!0-9]*) die "nodes must be a number, not '$NODES'" ;; esac
    case "$BASE_PORT" in '' | *[!0-9]*) die "base_port must be a number, not '$BASE_PORT'" ;; esac
    [ "$NODES" -ge 1 ] || die "nodes must be at least 1"
    [ $((BASE_PORT + NODES - 1)) -le 65535 ] || die "ports past 65535"
    bin=$(binary)
    mkdir -p "$STATE"
    printf 'NODES=%s\nBASE_PORT=%s\n' "$NODES" "$BASE_PORT" >"$LAYOUT"
    for i in $(seq 1 "$NODES"); do
        if [ -n "$(pid_of "$i")" ]; then
            echo "node $i already running (pid $(pid_of "$i"))"
            continue
        fi
        write_config "$i"
        nohup "$bin" server --config "$(node_dir "$i")/artemis.toml" \
            >>"$(node_dir "$i")/artemis.log" 2>&1 </dev/null &
        echo $! >"$(node_dir "$i")/pid"
        echo "node $i starting on $(node_url "$i") (pid $!)"
        started="$started $i"
        # Node 1 (force_up) first: the others copy the registry from an up peer.
        if [ "$i" = 1 ]; then wait_up 1; fi
    done
    for i in $started; do
        wait_up "$i"
    done
    echo "cluster of $NODES node(s) up on 127.0.0.1:$BASE_PORT..$((BASE_PORT + NODES - 1))"
}

cmd_stop() {
    local i pid deadline pids=()
    load_layout || { echo "no cluster in $STATE"; return 0; }
    for i in $(seq 1 "$NODES"); do
        pid=$(pid_of "$i")
        pids[i]=$pid
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true # it may have exited since
        fi
    done
    for i in $(seq 1 "$NODES"); do
        pid=${pids[i]}
        deadline=$((SECONDS + STOP_TIMEOUT_S))
        while [ -n "$pid" ] && [ -n "$(pid_of "$i")" ] && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.1
        done
        if [ -n "$(pid_of "$i")" ]; then
            echo "node $i still running ${STOP_TIMEOUT_S}s after SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$(node_dir "$i")/pid"
        if [ -n "$pid" ]; then echo "node $i stopped"; fi
    done
}

cmd_status() {
    local i pid url bin
    load_layout || { echo "no cluster in $STATE"; return 0; }
    bin=${ARTEMIS_BIN:-$ROOT/target/release/artemis}
    for i in $(seq 1 "$NODES"); do
        pid=$(pid_of "$i")
        url=$(node_url "$i")
        if [ -z "$pid" ]; then
            echo "node $i  $url  stopped"
            continue
        fi
        echo "node $i  $url  pid $pid  $(node_status "$url")"
        # cluster.json as `artemis nodes` shows it: every node's status as this one last polled
        # it, and per peer the writes queued for it and the replication lag.
        "$bin" nodes --server "$url" 2>&1 | sed 's/^/    /' || true
    done
}

cmd_logs() {
    local i
    load_layout || die "no cluster in $STATE"
    if [ -n "${1:-}" ]; then
        [ -f "$(node_dir "$1")/artemis.log" ] || die "no log for node $1"
        cat "$(node_dir "$1")/artemis.log"
        return
    fi
    for i in $(seq 1 "$NODES"); do
        echo "==> node $i: $(node_dir "$i")/artemis.log <=="
        tail -n 20 "$(node_dir "$i")/artemis.log" 2>/dev/null || true
    done
}

case "${1:-}" in
    start) shift; [ $# -le 2 ] || usage 2; cmd_start "$@" ;;
    stop) [ $# -eq 1 ] || usage 2; cmd_stop ;;
    status) [ $# -eq 1 ] || usage 2; cmd_status ;;
    logs) [ $# -le 2 ] || usage 2; cmd_logs "${2:-}" ;;
    restart) [ $# -eq 1 ] || usage 2; cmd_stop; cmd_start ;;
    clean) [ $# -eq 1 ] || usage 2; cmd_stop; rm -rf "$STATE"; echo "removed $STATE" ;;
    -h | --help) usage 0 ;;
    *) usage 2 ;;
esac
