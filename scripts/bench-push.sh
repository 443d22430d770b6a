#!/usr/bin/env bash
# The push rows of scripts/bench.sh on their own: for 100 and 1,000 subscribers of one service, a
# fresh server, then RUNS runs (default 3) of the push scenario at 20 registrations/s, each
# printing the end-to-end p50/p99 (register sent → change received, `artemis load`) and the
# server's fan-out cost per subscriber (growth of artemis_push_fanout_seconds_total over that of
# artemis_push_fanout_sessions_total during the run).
#
#   scripts/bench-push.sh [BIN]     BIN defaults to target/release/artemis (built if missing)
#
# SERVER_ARGS adds server flags (e.g. "--pin-cores off"). Needs curl and jq. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/artemis}
LOAD=target/release/artemis
[ -x "$LOAD" ] || cargo build --release
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}

counters() {
    curl -s "http://$1/metrics" | awk '
        /^artemis_push_fanout_seconds_total[ {]/ { s += $NF }
        /^artemis_push_fanout_sessions_total[ {]/ { n += $NF }
        END { printf "%.9f %.0f\n", s, n }'
}

for subs in 100 1000; do
    dir=$(mktemp -d)
    printf '[rate_limits.registry]\ndefault_per_10s = 1000000000\n' >"$dir/bench.toml"
    # shellcheck disable=SC2086 # server args are words
    "$BIN" server --listen 127.0.0.1:0 --data-dir "$dir/data" --config "$dir/bench.toml" \
        ${SERVER_ARGS:-} >"$dir/out" 2>"$dir/err" &
    pid=$!
    for _ in $(seq 100); do grep -q 'listening on' "$dir/out" && break; sleep 0.1; done
    addr=$(sed -n 's/artemis listening on //p' "$dir/out")
    "$LOAD" load --target "http://$addr" --scenario push --subscribers 1 --services 1 \
        --instances 10 --duration 1s --warmup 1s --rate 10 >/dev/null 2>&1
    for r in $(seq "$RUNS"); do
        before=$(counters "$addr")
        result=$("$LOAD" load --target "http://$addr" --scenario push --subscribers "$subs" \
            --services 1 --instances 100 --rate 20 --connections 1 --threads 2 \
            --duration "$DURATION" --warmup 2s --json 2>/dev/null)
        after=$(counters "$addr")
        fanout=$(echo "$before $after" | awk '{ dn = $4 - $2
            if (dn > 0) printf "%.3f", ($3 - $1) * 1e6 / dn; else print "none" }')
        echo "subscribers $subs run $r: fan-out $fanout µs per subscriber;" \
            "$(echo "$result" | jq -r '"p50 \(.latency_us.p50) µs, p99 \(.latency_us.p99) µs, errors \(.errors)"')"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
done
