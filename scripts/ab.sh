#!/usr/bin/env bash
# Before/after comparison of two server binaries on this machine: heartbeat batch 1 (or
# SCENARIO), alternating rounds (A, B, A, B, ...) so drift in the machine's load hits both alike.
# The client is always `target/release/artemis load` of this checkout.
#
#   scripts/ab.sh OLD_BIN NEW_BIN            closed loop, max requests/s
#   scripts/ab.sh OLD_BIN NEW_BIN --open R   open loop at R requests/s: p99 and send-lag p99 (µs)
#
# CONFIG=FILE passes --config FILE to both servers (binaries with rate limits need one raising
# [rate_limits.registry] default_per_10s, or Java's default 100,000 per 10 s refuses most runs);
# OLD_CONFIG / NEW_CONFIG give each side its own (e.g. the same binary, a setting off vs on).
# SCENARIO=heartbeat|lookup|register (default heartbeat), BATCH (heartbeat/register, default 1);
# OLD_ARGS / NEW_ARGS add server flags to one side (e.g. the same binary, NEW_ARGS="--shards 1").
# CONNECTIONS (default 64). WRK=1 measures with wrk and scripts/wrk/SCENARIO.lua instead (after
# registering the same 10,000 instances over 100 services; closed loop only); its figure is
# requests/s, as with artemis load (times BATCH for instance-heartbeats).
# Prints one line per run: which binary, then the figures. Needs jq. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,17p "$0"; exit 2; }
OLD=$1 NEW=$2 RATE=
[ "${3:-}" = --open ] && RATE=${4:?--open needs a rate}
LOAD=target/release/artemis
[ -x "$LOAD" ] || cargo build --release
ROUNDS=${ROUNDS:-3}

SCENARIO=${SCENARIO:-heartbeat}
case "$SCENARIO" in
    heartbeat|register) SHAPE=(--batch "${BATCH:-1}" --instances 10000 --services 100) ;;
    lookup) SHAPE=(--services 100 --instances-per-service 100) ;;
    *) echo "ab.sh: SCENARIO is heartbeat, lookup or register" >&2; exit 2 ;;
esac

run() { # label binary config server-args
    local dir; dir=$(mktemp -d)
    # shellcheck disable=SC2086 # server args are words
    "$2" server --listen 127.0.0.1:0 --data-dir "$dir/data" ${3:+--config "$3"} $4 \
        > "$dir/out" 2> "$dir/err" &
    local pid=$!
    for _ in $(seq 100); do grep -q 'listening on' "$dir/out" && break; sleep 0.1; done
    local addr; addr=$(sed -n 's/artemis listening on //p' "$dir/out")
    if [ -n "${WRK:-}" ]; then
        "$LOAD" load --target "http://$addr" --scenario register --instances 10000 --services 100 \
            --duration 0s >/dev/null 2>&1
        local rps
        rps=$(wrk -t2 -c"${CONNECTIONS:-64}" -d"${DURATION:-8s}" -s "scripts/wrk/$SCENARIO.lua" \
            "http://$addr" -- threads=2 ${BATCH:+batch=$BATCH} | awk '/Requests\/sec/ { print $2 }')
        kill "$pid"; wait "$pid" 2>/dev/null || true
        rm -rf "$dir"
        echo "$1 $rps"
        return
    fi
    local args=(--target "http://$addr" --scenario "$SCENARIO" "${SHAPE[@]}"
        --connections "${CONNECTIONS:-64}" --threads 2 --duration "${DURATION:-8s}" --warmup 2s --json)
    local filter='.requests_per_s'
    if [ -n "$RATE" ]; then
        args+=(--rate "$RATE")
        filter='[.requests_per_s, .latency_us.p99, .send_lag_us.p99] | @tsv'
    fi
    local result; result=$("$LOAD" load "${args[@]}" 2>/dev/null | jq -r "$filter")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
    echo "$1 $result"
}

for _ in $(seq "$ROUNDS"); do
    run old "$OLD" "${OLD_CONFIG:-${CONFIG:-}}" "${OLD_ARGS:-}"
    run new "$NEW" "${NEW_CONFIG:-${CONFIG:-}}" "${NEW_ARGS:-}"
done
