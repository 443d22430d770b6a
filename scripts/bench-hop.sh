#!/usr/bin/env bash
# The cost of the cross-core hop (issue 14): server CPU per request with one shard (no hop) and
# with two (half the requests owned by the other core), for heartbeats (batched renewals),
# lookups (the mirror) and registrations, and how many renewals one cross-core message carried.
# CPU per request is the server's user+system time over the measured run divided by the requests
# answered: it is much less sensitive than requests/s to other processes on this 2-core machine.
#
#   scripts/bench-hop.sh [OLD_BIN]     OLD_BIN: a binary to compare with (rounds alternate)
#
# ROUNDS (default 3), DURATION (default 8s). Prints a Markdown table (medians) on stdout.
# Needs jq. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:-}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
cargo build --release --bin artemis >&2
NEW=target/release/artemis
LOAD=target/release/artemis
CONF=$(mktemp)
printf '[rate_limits.registry]\ndefault_per_10s = 1000000000\n' >"$CONF"
TICK=$(getconf CLK_TCK)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT" "$CONF"' EXIT

metric() { # addr name
    curl -s "http://$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

run() { # label binary shards scenario -> appends "cpu_us rps per_message" to $OUT/label-shards-scenario
    local label=$1 bin=$2 shards=$3 scenario=$4 dir
    dir=$(mktemp -d)
    "$bin" server --listen 127.0.0.1:0 --data-dir "$dir/data" --config "$CONF" --shards "$shards" \
        >"$dir/out" 2>"$dir/err" &
    local pid=$!
    for _ in $(seq 100); do grep -q 'listening on' "$dir/out" && break; sleep 0.1; done
    local addr; addr=$(sed -n 's/artemis listening on //p' "$dir/out")
    local shape
    case "$scenario" in
        lookup) shape=(--services 100 --instances-per-service 100) ;;
        *) shape=(--batch 1 --instances 10000 --services 100) ;;
    esac
    local common=(--target "http://$addr" --scenario "$scenario" "${shape[@]}" --connections 64
        --threads 2 --json)
    "$LOAD" load "${common[@]}" --duration 2s --warmup 1s >/dev/null 2>&1
    local m0 r0 c0; m0=$(metric "$addr" artemis_cross_core_requests_total)
    r0=$(metric "$addr" artemis_remote_renewals_total)
    c0=$(awk -v t="$TICK" '{ print ($14 + $15) / t }' "/proc/$pid/stat")
    local result; result=$("$LOAD" load "${common[@]}" --no-populate --duration "$DURATION" \
        --warmup 0s 2>/dev/null)
    local c1; c1=$(awk -v t="$TICK" '{ print ($14 + $15) / t }' "/proc/$pid/stat")
    local m1 r1; m1=$(metric "$addr" artemis_cross_core_requests_total)
    r1=$(metric "$addr" artemis_remote_renewals_total)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
    local n rps; n=$(jq -r .requests <<<"$result"); rps=$(jq -r .requests_per_s <<<"$result")
    awk -v a="$c0" -v b="$c1" -v n="$n" -v rps="$rps" -v m0="${m0:-0}" -v m1="${m1:-0}" \
        -v r0="${r0:-0}" -v r1="${r1:-0}" 'BEGIN {
            per = (m1 > m0 && r1 > r0) ? sprintf("%.1f", (r1 - r0) / (m1 - m0)) : "-"
            printf "%.2f %.0f %s\n", (b - a) * 1e6 / n, rps, per }' \
        >>"$OUT/$label-$shards-$scenario"
    echo "[hop] $label shards=$shards $scenario: $(tail -1 "$OUT/$label-$shards-$scenario")" >&2
}

median_col() { # file column
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

LABELS=(new)
[ -n "$OLD" ] && LABELS=(old new)
for _ in $(seq "$ROUNDS"); do
    for scenario in heartbeat lookup register; do
        for shards in 1 2; do
            for label in "${LABELS[@]}"; do
                bin=$NEW
                [ "$label" = old ] && bin=$OLD
                run "$label" "$bin" "$shards" "$scenario"
            done
        done
    done
done

echo "| scenario | binary | server CPU µs/request, --shards 1 | --shards 2 | hop cost per request (2 − 1) | requests/s 1 / 2 | renewals per cross-core message |"
echo "|---|---|---|---|---|---|---|"
for scenario in heartbeat lookup register; do
    for label in "${LABELS[@]}"; do
        one=$(median_col "$OUT/$label-1-$scenario" 1); two=$(median_col "$OUT/$label-2-$scenario" 1)
        r1=$(median_col "$OUT/$label-1-$scenario" 2); r2=$(median_col "$OUT/$label-2-$scenario" 2)
        per=$(median_col "$OUT/$label-2-$scenario" 3)
        [ "$scenario" = heartbeat ] || per="-"
        echo "| $scenario | $label | $one | $two | $(awk -v a="$one" -v b="$two" 'BEGIN { printf "%+.2f", b - a }') | $r1 / $r2 | $per |"
    done
done
