#!/usr/bin/env bash
# Checks that the wrk scripts send exactly the requests `artemis load` sends: both generators
# drive a small capturing HTTP server (python3, answers every request with a success body), and
# the distinct requests each one sent are compared byte for byte, per scenario (heartbeat batch 1
# and 3, register, lookup). Exit 0 when every scenario matches. Used while changing the wrk
# scripts or the generator's request shapes; bench.sh does not run it.
#
#   scripts/wrk/same-requests.sh [ARTEMIS_BIN]     (default target/release/artemis)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/artemis}
[ -x "$BIN" ] || { echo "same-requests.sh: $BIN is not built" >&2; exit 2; }
command -v wrk >/dev/null || { echo "same-requests.sh: wrk is not installed" >&2; exit 2; }
WORK=$(mktemp -d /tmp/artemis-same-requests.XXXXXX)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

cat >"$WORK/capture.py" <<'PY'
# Accepts keep-alive HTTP/1.1 requests with a Content-Length body, answers each with a success
# JSON and appends each distinct request (head + body) to the capture file.
import asyncio, sys
out_path, port_path = sys.argv[1], sys.argv[2]
seen = set()
BODY = (b'{"responseStatus":{"errorCode":"success","message":"","status":"success"},'
        b'"services":[{"instances":[{"instanceId":"x"}]}]}')
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            request = head + body
            if request not in seen:
                seen.add(request)
                with open(out_path, "ab") as f:
                    f.write(len(request).to_bytes(4, "big") + request)
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    open(port_path, "w").write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY

cat >"$WORK/compare.py" <<'PY'
# Reads two capture files; prints how many distinct requests each holds and exits 1 unless the
# two sets are equal and hold `expected` requests each. Each capture server had its own port: a
# Host header naming exactly that server's address becomes "Host: ADDR" before comparing.
import sys
def read(path, port):
    data, out, i = open(path, "rb").read(), set(), 0
    host = b"\r\nHost: 127.0.0.1:" + port.encode() + b"\r\n"
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        out.add(data[i + 4:i + 4 + n].replace(host, b"\r\nHost: ADDR\r\n", 1))
        i += 4 + n
    return out
a, b = read(sys.argv[1], sys.argv[2]), read(sys.argv[3], sys.argv[4])
expected = int(sys.argv[5])
print(f"  artemis load: {len(a)} distinct requests; wrk: {len(b)}; expected {expected}")
if a != b:
    only_a, only_b = sorted(a - b)[:1], sorted(b - a)[:1]
    print("  only from artemis load:", only_a[0][:400] if only_a else None)
    print("  only from wrk:         ", only_b[0][:400] if only_b else None)
sys.exit(0 if a == b and len(a) == expected else 1)
PY

# capture NAME: starts a fresh capturing server; sets PORT.
capture() {
    python3 "$WORK/capture.py" "$WORK/$1.bin" "$WORK/$1.port" &
    SERVER=$!
    for _ in $(seq 100); do [ -s "$WORK/$1.port" ] && break; sleep 0.05; done
    PORT=$(cat "$WORK/$1.port")
}
stop() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

# check NAME SCENARIO BATCH EXPECTED [gzip]: 1,000 instances over 10 services, both generators,
# 2 s each (enough to walk each table several times at the capture server's pace); `gzip`: the
# lookups ask for gzip answers (`--accept-gzip`, `accept=gzip`).
FAILED=0
check() {
    local name=$1 scenario=$2 batch=$3 expected=$4 gzip=${5:-}
    local load_gzip=() wrk_gzip=()
    if [ "$gzip" = gzip ]; then load_gzip=(--accept-gzip); wrk_gzip=(accept=gzip); fi
    echo "$name:"
    capture "$name-load"
    local load_port=$PORT
    "$BIN" load --target "http://127.0.0.1:$PORT" --scenario "$scenario" --batch "$batch" \
        --instances 1000 --services 10 --no-populate --connections 4 --threads 2 \
        --duration 2s --warmup 0s --json "${load_gzip[@]}" >/dev/null 2>"$WORK/$name-load.err" \
        || { cat "$WORK/$name-load.err" >&2; FAILED=1; }
    stop
    capture "$name-wrk"
    wrk -t2 -c4 -d2s -s "scripts/wrk/$scenario.lua" "http://127.0.0.1:$PORT" -- threads=2 \
        instances=1000 services=10 batch="$batch" "${wrk_gzip[@]}" >/dev/null
    stop
    python3 "$WORK/compare.py" "$WORK/$name-load.bin" "$load_port" "$WORK/$name-wrk.bin" "$PORT" \
        "$expected" || FAILED=1
}
check "heartbeat, batch 1" heartbeat 1 1000
check "heartbeat, batch 3 (the last request wraps around)" heartbeat 3 334
check "register, batch 1" register 1 1000
check "lookup" lookup 1 10
check "lookup asking for gzip" lookup 1 10 gzip
if [ "$FAILED" = 0 ]; then echo "same requests: yes"; else echo "same requests: NO"; exit 1; fi
