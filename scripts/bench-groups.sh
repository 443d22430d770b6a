#!/usr/bin/env bash
# Lookup with route rules (issue 12): req/s of a lookup of a 100-instance service that has 3 route
# rules x 4 groups (released weights, tags, 25 listed instance ids per group), as a ratio of the
# same lookup of a 100-instance service without group data. Target: within 10 % (the served view
# is cached bytes, built once per change).
#
# One release node on 127.0.0.1; `artemis load --scenario lookup` populates services
# `grp-00000` and `plain-00000` (100 instances each); curl writes the group data of `grp-00000`
# through the management API; then the two lookups are measured in alternating rounds (which goes
# first alternates too), so the shared machine's drift hits both alike. Writes its section of
# BENCHMARKS.md between `<!-- groups:begin -->` and `<!-- groups:end -->` (appended when absent).
#
#   scripts/bench-groups.sh            3 rounds, 10 s measured after 2 s warm-up
#   scripts/bench-groups.sh --quick    1 round, 3 s measured (development; still writes the file)
#
# Needs jq and curl. Never run by CI: generator and server share this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
case "${1:-}" in
    --quick) QUICK=1 ;;
    "") ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "bench-groups.sh: unknown argument $1" >&2; exit 2 ;;
esac
if [ "$QUICK" = 1 ]; then RUNS=1; DUR=3s; WARM=1s; else RUNS=3; DUR=10s; WARM=2s; fi

log() { echo "[bench-groups $(date +%H:%M:%S)] $*" >&2; }
for tool in jq curl; do
    command -v "$tool" >/dev/null || { echo "bench-groups.sh: $tool is required" >&2; exit 1; }
done

log "building the release binary"
cargo build --release --bin artemis >&2
BIN="$ROOT/target/release/artemis"
COMMIT=$(git rev-parse --short HEAD)
[ -n "$(git status --porcelain --untracked-files=no)" ] && COMMIT="$COMMIT (with uncommitted changes)"

WORK=$(mktemp -d /tmp/artemis-bench-groups.XXXXXX)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The registry rate limit would refuse most of a throughput run: raised far above any load. The
# populated instances are never heartbeated, so their lease outlives the whole run.
cat >"$WORK/bench.toml" <<'TOML'
[rate_limits.registry]
default_per_10s = 1000000000
[lease]
ttl_ms = 3600000
TOML

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
"$BIN" server --listen 127.0.0.1:0 --data-dir "$WORK/data" --config "$WORK/bench.toml" \
    >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 200); do
    ADDR=$(sed -n 's/^artemis listening on //p' "$WORK/server.out" | head -n1)
    [ -n "$ADDR" ] && break
    sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/server.log" >&2; echo "bench-groups.sh: the server did not start" >&2; exit 1; }
URL="http://$ADDR"

RULED=grp-00000
PLAIN=plain-00000
LOOKUP=(--scenario lookup --instances-per-service 100 --services 1 --connections 64 --threads 2)

log "populating $RULED and $PLAIN (100 instances each)"
for prefix in grp plain; do
    "$BIN" load --target "$URL" "${LOOKUP[@]}" --service-prefix "$prefix" --duration 0s --json \
        >"$WORK/populate-$prefix.json"
done

# post PATH BODY: a management write; fails the script unless it answered success.
post() {
    local answer
    answer=$(curl -s -m 30 -X POST -H 'Content-Type: application/json' -d "$2" "$URL$1")
    if [ "$(jq -r .responseStatus.status <<<"$answer")" != success ]; then
        echo "bench-groups.sh: POST $1 $2 answered $answer" >&2
        exit 1
    fi
    printf '%s' "$answer"
}
OC='"operation":"bench","operatorId":"bench","token":"bench-token","reason":"bench","extensions":"{}"'
G=/api/management/group

log "writing 3 route rules x 4 groups on $RULED"
GROUPS_JSON=$(for g in 0 1 2 3; do
    printf '{"serviceId":"%s","regionId":"default","zoneId":"default","name":"g%s","appId":"bench","status":"active"}\n' "$RULED" "$g"
done | jq -s -c .)
post "$G/insert-groups.json" "{$OC,\"groups\":$GROUPS_JSON}" >/dev/null
RULES_JSON=$(for r in 0 1 2; do
    strategy=$([ "$r" = 2 ] && echo close-by-visit || echo weighted-round-robin)
    printf '{"serviceId":"%s","name":"rule-%s","status":"active","strategy":"%s"}\n' "$RULED" "$r" "$strategy"
done | jq -s -c .)
post "$G/insert-route-rules.json" "{$OC,\"routeRules\":$RULES_JSON}" >/dev/null
GROUP_IDS=($(post "$G/get-all-groups.json" '{}' | jq -r --arg s "$RULED" '.groups[] | select(.serviceId == $s) | .groupId'))
RULE_IDS=($(post "$G/get-all-route-rules.json" '{}' | jq -r --arg s "$RULED" '.routeRules[] | select(.serviceId == $s) | .routeRuleId'))
[ "${#GROUP_IDS[@]}" = 4 ] && [ "${#RULE_IDS[@]}" = 3 ] || { echo "bench-groups.sh: groups ${GROUP_IDS[*]}, rules ${RULE_IDS[*]}" >&2; exit 1; }
# Rule r gives group g the weight 10 * (1 + (g + r) % 4): each rule a different split.
LINKS=$(for r in 0 1 2; do for g in 0 1 2 3; do
    printf '{"routeRuleId":%s,"groupId":%s,"unreleasedWeight":%s}\n' "${RULE_IDS[$r]}" "${GROUP_IDS[$g]}" $((10 * (1 + (g + r) % 4)))
done; done | jq -s -c .)
post "$G/insert-route-rule-groups.json" "{$OC,\"routeRuleGroups\":$LINKS}" >/dev/null
post "$G/release-route-rule-groups.json" "{$OC,\"routeRuleGroups\":$LINKS}" >/dev/null
# Group g lists instances 25g .. 25g+24 of the service (ids 10.0.0.N:8080, N = index + 1) and
# carries one tag.
MEMBERS=$(for g in 0 1 2 3; do for k in $(seq $((25 * g + 1)) $((25 * g + 25))); do
    printf '{"groupId":%s,"instanceId":"10.0.0.%s:8080"}\n' "${GROUP_IDS[$g]}" "$k"
done; done | jq -s -c .)
post "$G/insert-group-instances.json" "{$OC,\"groupInstances\":$MEMBERS}" >/dev/null
TAGS=$(for g in 0 1 2 3; do
    printf '{"groupId":%s,"tags":{"idc":"idc-%s"}}\n' "${GROUP_IDS[$g]}" "$g"
done | jq -s -c .)
post "$G/insert-group-tags.json" "{$OC,\"groupTagsList\":$TAGS}" >/dev/null

# lookup SERVICE: the served Service.
lookup() {
    curl -s -m 30 -X POST -H 'Content-Type: application/json' \
        -d "{\"discoveryConfigs\":[{\"serviceId\":\"$1\",\"regionId\":\"default\",\"zoneId\":\"default\"}],\"regionId\":\"default\",\"zoneId\":\"default\"}" \
        "$URL/api/discovery/lookup.json"
}
lookup "$RULED" >"$WORK/ruled.json"
lookup "$PLAIN" >"$WORK/plain.json"
SHAPE=$(jq -c '[.services[0].routeRules[] | [.routeId, [.groups[] | .weight, (.instanceIds | length)]]]' "$WORK/ruled.json")
WANT='[["rule-0",[10,25,20,25,30,25,40,25]],["rule-1",[20,25,30,25,40,25,10,25]],["rule-2",[30,25,40,25,10,25,20,25]]]'
if [ "$SHAPE" != "$WANT" ]; then
    echo "bench-groups.sh: $RULED is served with $SHAPE, expected $WANT" >&2
    exit 1
fi
for f in ruled plain; do
    [ "$(jq '.services[0].instances | length' "$WORK/$f.json")" = 100 ] \
        || { echo "bench-groups.sh: $f lookup has not 100 instances" >&2; exit 1; }
done
RULED_BYTES=$(wc -c <"$WORK/ruled.json")
PLAIN_BYTES=$(wc -c <"$WORK/plain.json")

CLK_TCK=$(getconf CLK_TCK)
# Busy CPU of the whole machine, in seconds: user + nice + system + irq + softirq + steal.
busy_s() { awk -v hz="$CLK_TCK" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }
# CPU seconds the server used so far.
server_s() { awk -v hz="$CLK_TCK" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$SERVER_PID/stat"; }
# wait_quiet: wait (at most 2 minutes) until the rest of the machine uses < 0.2 cores.
wait_quiet() {
    local b0 b1 s0 s1 other
    for _ in $(seq 1 60); do
        b0=$(busy_s); s0=$(server_s); sleep 1; b1=$(busy_s); s1=$(server_s)
        other=$(awk -v a="$b0" -v b="$b1" -v c="$s0" -v d="$s1" 'BEGIN { printf "%.2f", (b - a) - (d - c) }')
        awk -v o="$other" 'BEGIN { exit !(o < 0.2) }' && return 0
        sleep 1
    done
    log "   machine still busy after 2 minutes (${other} cores); measuring anyway"
}

# measure SIDE ROUND: one measured lookup run; its req/s, p99 and the cores the rest of the
# machine (neither the server nor the generator) used meanwhile.
measure() {
    local side=$1 round=$2 prefix out b0 b1 s0 s1 t0 t1
    prefix=$([ "$side" = ruled ] && echo grp || echo plain)
    out="$WORK/$side-$round.json"
    wait_quiet
    b0=$(busy_s); s0=$(server_s); t0=$(date +%s.%N)
    "$BIN" load --target "$URL" "${LOOKUP[@]}" --service-prefix "$prefix" --no-populate \
        --duration "$DUR" --warmup "$WARM" --json >"$out"
    b1=$(busy_s); s1=$(server_s); t1=$(date +%s.%N)
    awk -v a="$b0" -v b="$b1" -v c="$s0" -v d="$s1" -v t0="$t0" -v t1="$t1" \
        -v cl="$(jq '(.client_cpu_user_s // 0) + (.client_cpu_sys_s // 0)' "$out")" \
        'BEGIN { f = ((b - a) - (d - c) - cl) / (t1 - t0); if (f < 0) f = 0; printf "%.2f", f }' >"$out.foreign"
    log "   $side round $round: $(jq -r '.requests_per_s | floor' "$out") lookups/s"
}

for r in $(seq "$RUNS"); do
    log "round $r of $RUNS"
    for side in $([ $((r % 2)) = 1 ] && echo plain ruled || echo ruled plain); do
        measure "$side" "$r"
    done
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
fmt_int() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
# runs SIDE JQ: the JQ figure of every round, comma-separated.
runs() { local r out=(); for r in $(seq "$RUNS"); do out+=("$(jq -r "$2" "$WORK/$1-$r.json")"); done; local IFS=,; echo "${out[*]}"; }
foreign() { local r out=(); for r in $(seq "$RUNS"); do out+=("$(cat "$WORK/$1-$r.json.foreign")"); done; local IFS=,; echo "${out[*]}"; }
RULED_RPS=$(runs ruled '.requests_per_s | floor')
PLAIN_RPS=$(runs plain '.requests_per_s | floor')
RULED_MED=$(median ${RULED_RPS//,/ })
PLAIN_MED=$(median ${PLAIN_RPS//,/ })
RATIO=$(awk -v a="$RULED_MED" -v b="$PLAIN_MED" 'BEGIN { printf "%.3f", a / b }')
MET=$(awk -v r="$RATIO" 'BEGIN { exit !(r >= 0.90) }' && echo "**yes**" || echo "**no**")
MODE=$([ "$QUICK" = 1 ] && echo "quick mode: 1 round, $DUR measured" || echo "$RUNS alternating rounds, $DUR measured after $WARM warm-up, medians")

SECTION="$WORK/section.md"
{
    echo "<!-- groups:begin -->"
    echo "## Lookup with route rules (issue 12)"
    echo
    echo "\`scripts/bench-groups.sh$([ "$QUICK" = 1 ] && echo " --quick")\` at $COMMIT on $(date -u +%Y-%m-%d), $(nproc) cores"
    echo "($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $MODE. One release node on"
    echo "127.0.0.1 (\`artemis server --listen 127.0.0.1:0 --config bench.toml\`: registry rate limit"
    echo "raised, 1 h lease TTL so the populated instances outlive the run) shares the machine with the"
    echo "generator. Load average (1/5/15 min) at start / end: $LOADAVG_START / $LOADAVG_END."
    echo
    echo "| lookup of a 100-instance service | lookups/s (median) | runs | p99 µs (runs) | other processes (cores, runs) | answer |"
    echo "|---|---|---|---|---|---|"
    echo "| with 3 route rules × 4 groups (\`$RULED\`) | $(fmt_int "$RULED_MED") | $RULED_RPS | $(runs ruled '.latency_us.p99 | floor') | $(foreign ruled) | $RULED_BYTES bytes |"
    echo "| without group data (\`$PLAIN\`) | $(fmt_int "$PLAIN_MED") | $PLAIN_RPS | $(runs plain '.latency_us.p99 | floor') | $(foreign plain) | $PLAIN_BYTES bytes |"
    echo
    echo "Ratio with rules / without: **$RATIO** (target ≥ 0.90, within 10 %): $MET. Errors: $(runs ruled .errors) / $(runs plain .errors)."
    echo
    echo "Group data of \`$RULED\`, written with curl through the management API: groups \`g0\`..\`g3\`"
    echo "(each listing 25 of the 100 instance ids and carrying one tag); rules \`rule-0\`, \`rule-1\`"
    echo "(weighted-round-robin) and \`rule-2\` (close-by-visit), each linking all four groups with"
    echo "released weights 10/20/30/40 in a different order (checked in the served answer before"
    echo "measuring). Populate: \`artemis load --scenario lookup --instances-per-service 100 --services 1"
    echo "--service-prefix grp|plain --duration 0s\`. Measured: \`artemis load --target ADDR --scenario"
    echo "lookup --instances-per-service 100 --services 1 --connections 64 --threads 2 --service-prefix"
    echo "grp|plain --no-populate --duration $DUR --warmup $WARM\`, the two services in alternating order"
    echo "each round, every run after the rest of the machine went quiet (< 0.2 cores, at most 2 min)."
    echo "The larger answer (the rules' JSON) costs its extra bytes on the wire; the rules themselves"
    echo "are part of the service's cached bytes, built when group data or instances change."
    echo "<!-- groups:end -->"
} >"$SECTION"
if grep -q '<!-- groups:begin -->' BENCHMARKS.md; then
    python3 - "$SECTION" <<'PY'
import sys
section = open(sys.argv[1]).read()
text = open("BENCHMARKS.md").read()
start = text.index("<!-- groups:begin -->")
end = text.index("<!-- groups:end -->") + len("<!-- groups:end -->\n")
open("BENCHMARKS.md", "w").write(text[:start] + section + text[end:])
PY
else
    { echo; cat "$SECTION"; } >>BENCHMARKS.md
fi
log "BENCHMARKS.md updated"
cat "$SECTION"
