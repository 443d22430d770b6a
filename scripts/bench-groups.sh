#!/usr/bin/env bash
# Lookup with route rules (issue 12): req/s of a lookup of a 100-instance service that has 3 route
# rules x 4 groups (released weights, one tag per group), as a ratio of the same lookup of a
# 100-instance service without group data. Target: within 10 % (the served view is cached bytes,
# built once per change). A third service has the same rules with 25 instance ids listed in each
# group, which makes its answer larger: the cost of those bytes on the wire.
#
# One release node on 127.0.0.1; `artemis load --scenario lookup` populates services
# `plain-00000`, `grp-00000` and `ids-00000` (100 instances each); curl writes the group data
# through the management API; then the lookups are measured in rounds, the order of the services
# rotating each round, so the shared machine's drift hits all alike. A run during which other
# processes used 0.2 cores or more is repeated (at most twice). Writes its section of
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
    -h|--help) sed -n 2,19p "$0"; exit 0 ;;
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

SIDES=(plain grp ids)
LOOKUP=(--scenario lookup --instances-per-service 100 --services 1 --connections 64 --threads 2)

log "populating ${SIDES[*]/%/-00000} (100 instances each)"
for side in "${SIDES[@]}"; do
    "$BIN" load --target "$URL" "${LOOKUP[@]}" --service-prefix "$side" --duration 0s --json \
        >"$WORK/populate-$side.json"
done

# post PATH BODY: a management write or read; fails the script unless it answered success.
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

# write_rules SERVICE LISTED: groups g0..g3 (one tag each), rules rule-0 and rule-1
# (weighted-round-robin) and rule-2 (close-by-visit), rule r giving group g the released weight
# 10 * (1 + (g + r) % 4); with LISTED = 1 group g also lists instances 25g .. 25g+24 (ids
# 10.0.0.N:8080, N = index + 1).
write_rules() {
    local service=$1 listed=$2 groups rules links members tags group_ids rule_ids
    groups=$(for g in 0 1 2 3; do
        printf '{"serviceId":"%s","regionId":"default","zoneId":"default","name":"g%s","appId":"bench","status":"active"}\n' "$service" "$g"
    done | jq -s -c .)
    post "$G/insert-groups.json" "{$OC,\"groups\":$groups}" >/dev/null
    rules=$(for r in 0 1 2; do
        printf '{"serviceId":"%s","name":"rule-%s","status":"active","strategy":"%s"}\n' "$service" "$r" \
            "$([ "$r" = 2 ] && echo close-by-visit || echo weighted-round-robin)"
    done | jq -s -c .)
    post "$G/insert-route-rules.json" "{$OC,\"routeRules\":$rules}" >/dev/null
    group_ids=($(post "$G/get-all-groups.json" '{}' | jq -r --arg s "$service" '.groups[] | select(.serviceId == $s) | .groupId'))
    rule_ids=($(post "$G/get-all-route-rules.json" '{}' | jq -r --arg s "$service" '.routeRules[] | select(.serviceId == $s) | .routeRuleId'))
    if [ "${#group_ids[@]}" != 4 ] || [ "${#rule_ids[@]}" != 3 ]; then
        echo "bench-groups.sh: $service has groups ${group_ids[*]} and rules ${rule_ids[*]}" >&2
        exit 1
    fi
    links=$(for r in 0 1 2; do for g in 0 1 2 3; do
        printf '{"routeRuleId":%s,"groupId":%s,"unreleasedWeight":%s}\n' "${rule_ids[$r]}" "${group_ids[$g]}" $((10 * (1 + (g + r) % 4)))
    done; done | jq -s -c .)
    post "$G/insert-route-rule-groups.json" "{$OC,\"routeRuleGroups\":$links}" >/dev/null
    post "$G/release-route-rule-groups.json" "{$OC,\"routeRuleGroups\":$links}" >/dev/null
    tags=$(for g in 0 1 2 3; do
        printf '{"groupId":%s,"tags":{"idc":"idc-%s"}}\n' "${group_ids[$g]}" "$g"
    done | jq -s -c .)
    post "$G/insert-group-tags.json" "{$OC,\"groupTagsList\":$tags}" >/dev/null
    [ "$listed" = 1 ] || return 0
    members=$(for g in 0 1 2 3; do for k in $(seq $((25 * g + 1)) $((25 * g + 25))); do
        printf '{"groupId":%s,"instanceId":"10.0.0.%s:8080"}\n' "${group_ids[$g]}" "$k"
    done; done | jq -s -c .)
    post "$G/insert-group-instances.json" "{$OC,\"groupInstances\":$members}" >/dev/null
}

log "writing 3 route rules x 4 groups on grp-00000 and ids-00000"
write_rules grp-00000 0
write_rules ids-00000 1

# lookup SERVICE: the lookup answer.
lookup() {
    curl -s -m 30 -X POST -H 'Content-Type: application/json' \
        -d "{\"discoveryConfigs\":[{\"serviceId\":\"$1\",\"regionId\":\"default\",\"zoneId\":\"default\"}],\"regionId\":\"default\",\"zoneId\":\"default\"}" \
        "$URL/api/discovery/lookup.json"
}
# The served rules, as [route id, [weight, listed ids] per group].
shape() { jq -c '[.services[0].routeRules[] | [.routeId, [.groups[] | .weight, (.instanceIds | length)]]]' "$1"; }
declare -A WANT_SHAPE=(
    [plain]='[]'
    [grp]='[["rule-0",[10,0,20,0,30,0,40,0]],["rule-1",[20,0,30,0,40,0,10,0]],["rule-2",[30,0,40,0,10,0,20,0]]]'
    [ids]='[["rule-0",[10,25,20,25,30,25,40,25]],["rule-1",[20,25,30,25,40,25,10,25]],["rule-2",[30,25,40,25,10,25,20,25]]]'
)
declare -A BYTES=()
for side in "${SIDES[@]}"; do
    lookup "$side-00000" >"$WORK/$side.json"
    if [ "$(shape "$WORK/$side.json")" != "${WANT_SHAPE[$side]}" ]; then
        echo "bench-groups.sh: $side-00000 is served with $(shape "$WORK/$side.json"), expected ${WANT_SHAPE[$side]}" >&2
        exit 1
    fi
    [ "$(jq '.services[0].instances | length' "$WORK/$side.json")" = 100 ] \
        || { echo "bench-groups.sh: $side-00000 is not served with 100 instances" >&2; exit 1; }
    BYTES[$side]=$(wc -c <"$WORK/$side.json")
done

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

# measure SIDE ROUND: one measured lookup run of SIDE-00000 (its req/s and p99 in
# WORK/SIDE-ROUND.json), and the cores the rest of the machine (neither the server nor the
# generator) used meanwhile (WORK/SIDE-ROUND.json.foreign). Repeated, at most twice, when that was
# 0.2 cores or more.
measure() {
    local side=$1 round=$2 out attempt b0 b1 s0 s1 t0 t1 foreign
    out="$WORK/$side-$round.json"
    for attempt in 1 2 3; do
        wait_quiet
        b0=$(busy_s); s0=$(server_s); t0=$(date +%s.%N)
        "$BIN" load --target "$URL" "${LOOKUP[@]}" --service-prefix "$side" --no-populate \
            --duration "$DUR" --warmup "$WARM" --json >"$out"
        b1=$(busy_s); s1=$(server_s); t1=$(date +%s.%N)
        foreign=$(awk -v a="$b0" -v b="$b1" -v c="$s0" -v d="$s1" -v t0="$t0" -v t1="$t1" \
            -v cl="$(jq '(.client_cpu_user_s // 0) + (.client_cpu_sys_s // 0)' "$out")" \
            'BEGIN { f = ((b - a) - (d - c) - cl) / (t1 - t0); if (f < 0) f = 0; printf "%.2f", f }')
        echo "$foreign" >"$out.foreign"
        log "   $side round $round: $(jq -r '.requests_per_s | floor' "$out") lookups/s (other processes: $foreign cores)"
        awk -v f="$foreign" 'BEGIN { exit !(f < 0.2) }' && break
        [ "$attempt" = 3 ] || log "   disturbed; repeating"
    done
}

for r in $(seq "$RUNS"); do
    log "round $r of $RUNS"
    # Round r starts with side r - 1 (mod 3): each side goes first once in three rounds.
    for k in 0 1 2; do
        measure "${SIDES[$(((r - 1 + k) % 3))]}" "$r"
    done
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
fmt_int() { printf "%.0f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
# runs SIDE JQ: the JQ figure of every round, comma-separated.
runs() { local r out=(); for r in $(seq "$RUNS"); do out+=("$(jq -r "$2" "$WORK/$1-$r.json")"); done; local IFS=,; echo "${out[*]}"; }
foreign() { local r out=(); for r in $(seq "$RUNS"); do out+=("$(cat "$WORK/$1-$r.json.foreign")"); done; local IFS=,; echo "${out[*]}"; }
declare -A RPS=() MED=()
for side in "${SIDES[@]}"; do
    RPS[$side]=$(runs "$side" '.requests_per_s | floor')
    MED[$side]=$(median ${RPS[$side]//,/ })
done
ratio() { awk -v a="${MED[$1]}" -v b="${MED[plain]}" 'BEGIN { printf "%.3f", a / b }'; }
RATIO=$(ratio grp)
MET=$(awk -v r="$RATIO" 'BEGIN { exit !(r >= 0.90) }' && echo "**yes**" || echo "**no**")
MODE=$([ "$QUICK" = 1 ] && echo "quick mode: 1 round, $DUR measured" || echo "$RUNS rounds, $DUR measured after $WARM warm-up, medians")

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
    echo "| lookup of a 100-instance service | lookups/s (median) | runs | p99 µs (runs) | other processes (cores, runs) | answer | / without |"
    echo "|---|---|---|---|---|---|---|"
    echo "| without group data (\`plain-00000\`) | $(fmt_int "${MED[plain]}") | ${RPS[plain]} | $(runs plain '.latency_us.p99 | floor') | $(foreign plain) | ${BYTES[plain]} bytes | 1 |"
    echo "| with 3 route rules × 4 groups (\`grp-00000\`) | $(fmt_int "${MED[grp]}") | ${RPS[grp]} | $(runs grp '.latency_us.p99 | floor') | $(foreign grp) | ${BYTES[grp]} bytes | **$RATIO** |"
    echo "| same, each group listing 25 instance ids (\`ids-00000\`) | $(fmt_int "${MED[ids]}") | ${RPS[ids]} | $(runs ids '.latency_us.p99 | floor') | $(foreign ids) | ${BYTES[ids]} bytes | $(ratio ids) |"
    echo
    echo "Target: with rules within 10 % of without (ratio ≥ 0.90): $MET. Errors: $(runs plain .errors) /"
    echo "$(runs grp .errors) / $(runs ids .errors)."
    echo
    echo "Group data, written with curl through the management API: groups \`g0\`..\`g3\` with one tag"
    echo "each; rules \`rule-0\`, \`rule-1\` (weighted-round-robin) and \`rule-2\` (close-by-visit), each"
    echo "linking all four groups with released weights 10/20/30/40 in a different order; for"
    echo "\`ids-00000\` each group also lists 25 of the 100 instance ids (checked in the served answers"
    echo "before measuring). Populate: \`artemis load --scenario lookup --instances-per-service 100"
    echo "--services 1 --service-prefix SIDE --duration 0s\`. Measured: \`artemis load --target ADDR"
    echo "--scenario lookup --instances-per-service 100 --services 1 --connections 64 --threads 2"
    echo "--service-prefix SIDE --no-populate --duration $DUR --warmup $WARM\`, the order of the three"
    echo "services rotating each round, every run after the rest of the machine went quiet (< 0.2"
    echo "cores, at most 2 min) and repeated (at most twice) when other processes used 0.2 cores or"
    echo "more during it. The rules are part of each service's cached bytes (built when its group data"
    echo "or instances change): nothing is computed per lookup, the answer is larger by the rules' JSON."
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
