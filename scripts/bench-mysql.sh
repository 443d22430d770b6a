#!/usr/bin/env bash
# Shared management store benchmarks (issue 13), on this machine, against a real MariaDB server
# started for the run (mariadb-server must be installed; default durability,
# innodb_flush_log_at_trx_commit=1):
#   1. management writes/s: `artemis load --scenario manage` against node A of a two-node cluster
#      whose nodes share one database;
#   2. propagation between two nodes, p50/p99 of 50 samples: a pull-out acknowledged by A until a
#      lookup on B no longer returns the instance; once for cluster peers (A nudges B), once for two
#      nodes that are not a cluster (B finds the write by polling, persistence.poll_interval_ms 500).
# Writes its section of BENCHMARKS.md between `<!-- mysql:begin -->` and `<!-- mysql:end -->`
# (appended when absent). Usage: scripts/bench-mysql.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ "$QUICK" = 1 ]; then
    RUNS=1; DUR=5s; SAMPLES=20
else
    RUNS=3; DUR=10s; SAMPLES=50
fi

log() { echo "[bench-mysql $(date +%H:%M:%S)] $*" >&2; }
command -v jq >/dev/null || { echo "bench-mysql.sh: jq is required (apt-get install jq)" >&2; exit 1; }
find_program() {
    PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v "$1" ||
        { echo "bench-mysql.sh: $1 is required (apt-get install mariadb-server)" >&2; exit 1; }
}
MARIADBD=$(find_program mariadbd)
INSTALL_DB=$(find_program mariadb-install-db)
MARIADB=$(find_program mariadb)

log "building the release binary"
cargo build --release --bin artemis >&2
BIN="$ROOT/target/release/artemis"
COMMIT=$(git rev-parse --short HEAD)
[ -n "$(git status --porcelain --untracked-files=no)" ] && COMMIT="$COMMIT (with uncommitted changes)"

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
WORK=$(mktemp -d /tmp/artemis-bench-mysql.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
fmt_int() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

log "starting MariaDB"
RUN_AS=()
[ "$(id -u)" = 0 ] && RUN_AS=(--user=root)
"$INSTALL_DB" --no-defaults --datadir="$WORK/db" --auth-root-authentication-method=normal \
    --skip-test-db "${RUN_AS[@]}" >"$WORK/install-db.log" 2>&1
DB_PORT=$(free_port)
"$MARIADBD" --no-defaults --datadir="$WORK/db" --socket="$WORK/db.sock" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --pid-file="$WORK/db.pid" --log-error="$WORK/db-error.log" \
    --skip-name-resolve "${RUN_AS[@]}" >/dev/null 2>&1 &
PIDS+=("$!")
sql() { "$MARIADB" --no-defaults --socket="$WORK/db.sock" --user=root --batch --skip-column-names -e "$1"; }
for _ in $(seq 1 600); do sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
sql "SELECT 1" >/dev/null || { cat "$WORK/db-error.log" >&2; exit 1; }
MARIADB_VERSION=$(sql "SELECT VERSION()")
sql "CREATE USER 'artemis'@'%' IDENTIFIED BY 'bench'; GRANT ALL PRIVILEGES ON *.* TO 'artemis'@'%';"

# config DATABASE: the rate limits lifted and the shared store on DATABASE (created here).
config() {
    sql "CREATE DATABASE $1"
    cat >"$WORK/$1.toml" <<TOML
[rate_limits.registry]
default_per_10s = 1000000000
[rate_limits.registry_replication]
default_per_10s = 1000000000
[persistence]
url = "mysql://artemis:bench@127.0.0.1:$DB_PORT/$1"
TOML
}

# start_node NAME PORT CONFIG NODES [extra args...]: starts a node, sets NODE_PID.
start_node() {
    local name=$1 port=$2 config=$3 nodes=$4; shift 4
    "$BIN" server --listen "127.0.0.1:$port" --data-dir "$WORK/$name-data" --config "$WORK/$config.toml" \
        ${nodes:+--cluster-nodes "$nodes"} "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    for _ in $(seq 1 300); do
        grep -q '^artemis listening on' "$WORK/$name.out" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$WORK/$name.log" >&2
    echo "bench-mysql.sh: node $name did not start" >&2
    exit 1
}

node_status() { curl -s -m 2 -X POST -d '{}' "http://127.0.0.1:$1/api/status/node.json" | jq -r '.nodeStatus.status // "none"' 2>/dev/null || echo none; }
wait_up() {
    for _ in $(seq 1 1200); do [ "$(node_status "$1")" = up ] && return 0; sleep 0.05; done
    echo "bench-mysql.sh: node on port $1 not up" >&2; exit 1
}

# propagation A_PORT B_PORT REGISTER_ON_B SAMPLES OUT: pull-out acknowledged on A → hidden on B.
propagation() {
    python3 - "$@" <<'PY'
import http.client, json, random, sys, time

a_port, b_port, register_on_b, samples, out = sys.argv[1:]
samples = int(samples)
service, instance = "propagation-svc", "propagation-1"
where = {"regionId": "default", "zoneId": "default"}

def client(port):
    return http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)

def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    assert answer.status == 200, (path, answer.status, data)
    return json.loads(data)

a, b = client(a_port), client(b_port)
registration = {"instances": [dict(where, serviceId=service, instanceId=instance, ip="10.0.0.1",
    port=8080, protocol="http", url="http://10.0.0.1:8080/", machineName="m1", status="up",
    healthCheckUrl="http://10.0.0.1:8080/health")]}
def register():
    """Registering again renews the lease, which would expire during a long run."""
    post(a, "/api/registry/register.json", registration)
    if register_on_b == "1":
        post(b, "/api/registry/register.json", registration)

register()
lookup = dict(where, discoveryConfigs=[dict(where, serviceId=service)])

def visible_on_b():
    services = post(b, "/api/discovery/lookup.json", lookup)["services"]
    return any(i["instanceId"] == instance for s in services for i in (s.get("instances") or []))

def operate(complete):
    body = {"instanceKey": {"regionId": "default", "serviceId": service, "instanceId": instance},
            "operation": "pullout", "operationComplete": complete, "operatorId": "bench"}
    status = post(a, "/api/management/operate-instance.json", body)["responseStatus"]
    assert status["errorCode"] == "success", status

def wait_on_b(visible, limit=30.0):
    started = time.monotonic()
    while visible_on_b() != visible:
        if time.monotonic() - started > limit:
            sys.exit("B did not converge within %ss" % limit)
        time.sleep(0.001)
    return time.monotonic() - started

wait_on_b(True)
# Each write lands at a random point of B's poll cycle: without the pause every sample would start
# right after the poll that showed the pull-in, in the same phase of the cycle.
rng = random.Random(13)
times = []
for _ in range(samples):
    register()
    time.sleep(rng.uniform(0, 0.5))
    operate(False)
    times.append(wait_on_b(False) * 1e6)
    operate(True)
    wait_on_b(True)
times.sort()
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
json.dump({"samples": len(times), "p50_us": pick(0.5), "p99_us": pick(0.99),
           "max_us": times[-1]}, open(out, "w"))
PY
}

log "1. management writes/s, node A of a two-node cluster on one database"
config cluster
PA=$(free_port); PB=$(free_port)
NODES="default:http://127.0.0.1:$PA,http://127.0.0.1:$PB"
start_node a "$PA" cluster "$NODES" --force-up; A=$NODE_PID
start_node b "$PB" cluster "$NODES"; B=$NODE_PID
wait_up "$PA"; wait_up "$PB"
MANAGE="--scenario manage --instances 10000 --services 100 --connections 64 --threads 2 --duration $DUR --warmup 2s"
WPS=(); WP50=(); WP99=(); WERR=()
for r in $(seq "$RUNS"); do
    # shellcheck disable=SC2086
    "$BIN" load --json --target "http://127.0.0.1:$PA" $MANAGE >"$WORK/manage-$r.json"
    WPS+=("$(jq -r .requests_per_s "$WORK/manage-$r.json")")
    WP50+=("$(jq -r .latency_us.p50 "$WORK/manage-$r.json")")
    WP99+=("$(jq -r .latency_us.p99 "$WORK/manage-$r.json")")
    WERR+=("$(jq -r .errors "$WORK/manage-$r.json")")
done

log "2a. propagation to a nudged cluster peer ($SAMPLES samples)"
propagation "$PA" "$PB" 0 "$SAMPLES" "$WORK/nudged.json"
stop_pid "$A"; stop_pid "$B"

log "2b. propagation by polling alone, two nodes that are not a cluster ($SAMPLES samples)"
config polling
PC=$(free_port); PD=$(free_port)
start_node c "$PC" polling ""
start_node d "$PD" polling ""
propagation "$PC" "$PD" 1 "$SAMPLES" "$WORK/polled.json"

us() { fmt_int "$(jq -r ".$2" "$WORK/$1.json")"; }
SECTION="$WORK/section.md"
{
    echo "<!-- mysql:begin -->"
    echo "## Shared management store (issue 13): writes and propagation on MariaDB"
    echo
    echo "\`scripts/bench-mysql.sh\` at $COMMIT, $(date -u +%Y-%m-%d), $(nproc) cores shared by MariaDB"
    echo "$MARIADB_VERSION (started for the run, default durability: \`innodb_flush_log_at_trx_commit=1\`),"
    echo "release artemis nodes on 127.0.0.1 and the load generator. Config: registry rate limits raised,"
    echo "\`persistence.url\` to the shared database, \`poll_interval_ms\` 500 (the default)."
    echo "Load average (1 min) at the start $LOAD_START, at the end $(cut -d' ' -f1 /proc/loadavg)."
    echo
    echo "| measure | result | runs |"
    echo "|---|---|---|"
    echo "| management writes (pull-out / pull-in), node A of a two-node cluster, 64 connections | $(fmt_int "$(median "${WPS[@]}")") writes/s | ${WPS[*]} (p50 ${WP50[*]} µs, p99 ${WP99[*]} µs, errors ${WERR[*]}) |"
    echo "| propagation to a cluster peer (nudged), p50 / p99 / max of $(jq -r .samples "$WORK/nudged.json") | $(us nudged p50_us) / $(us nudged p99_us) / $(us nudged max_us) µs | |"
    echo "| propagation by polling alone (not a cluster), p50 / p99 / max of $(jq -r .samples "$WORK/polled.json") | $(us polled p50_us) / $(us polled p99_us) / $(us polled max_us) µs | |"
    echo
    echo "Commands: \`artemis load --target A $MANAGE\` (each request one"
    echo "\`operate-instance.json\`, answered once committed to MariaDB and in effect on A's shards; A"
    echo "then nudges B, which polls). Propagation: a small loop (in the script) pulls one instance out"
    echo "on A and, from A's acknowledgement, looks it up on B every millisecond until B no longer"
    echo "returns it, then pulls it back in and waits until B shows it again (untimed); a random pause"
    echo "of 0-500 ms before each pull-out spreads the writes over B's poll cycle. With 50 samples the"
    echo "p99 is the largest sample."
    echo "<!-- mysql:end -->"
} >"$SECTION"
if grep -q '<!-- mysql:begin -->' BENCHMARKS.md; then
    python3 - "$SECTION" <<'PY'
import sys
section = open(sys.argv[1]).read()
text = open("BENCHMARKS.md").read()
start = text.index("<!-- mysql:begin -->")
end = text.index("<!-- mysql:end -->") + len("<!-- mysql:end -->\n")
open("BENCHMARKS.md", "w").write(text[:start] + section + text[end:])
PY
else
    { echo; cat "$SECTION"; } >>BENCHMARKS.md
fi
log "BENCHMARKS.md updated"
cat "$SECTION"
