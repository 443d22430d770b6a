-- Shared by the wrk scripts of scripts/bench.sh (heartbeat.lua, register.lua, lookup.lua): the
-- requests `artemis load` sends, byte for byte, built once per wrk thread in init() so each
-- request costs wrk one table lookup (scripts/wrk/same-requests.sh checks the bytes against the
-- built-in generator's).
--
-- Arguments after `--` (key=value, all optional): instances=10000 services=100 batch=1
-- prefix=svc region=default zone=default, as `artemis load`'s flags of the same names, accept=gzip
-- (lookups ask for gzip answers, as `artemis load --accept-gzip`), and
-- threads=1, which must be wrk's -t (the threads stride through the table as the generator's do).
-- Environment: WRK_CHECK=1 also checks every response (HTTP 200, "errorCode":"success" and
-- "status":"success", and for lookups at least one instance; a gzip answer only for its gzip
-- magic bytes) and prints the counts at the end;
-- it costs wrk a Lua call per response, so bench.sh uses it only for the unmeasured warm-up.
-- At the end wrk prints one line `WRK_JSON {...}` with requests, seconds, errors and latency
-- percentiles (µs), which bench.sh reads.

local M = {}

local function opts(args)
    local o = {
        instances = 10000, services = 100, batch = 1, threads = 1,
        prefix = "svc", region = "default", zone = "default", accept = "",
    }
    for _, a in ipairs(args or {}) do
        local k, v = a:match("^([%w_]+)=(.*)$")
        if k == nil or o[k] == nil then
            error("wrk script: unknown argument " .. a)
        end
        if type(o[k]) == "number" then
            v = tonumber(v)
            if v == nil or v < 1 then error("wrk script: " .. k .. " must be a positive number") end
        end
        o[k] = v
    end
    return o
end

-- The names and values below are plain ASCII without characters JSON escapes, so quoting is
-- enough (the generator's write_str escapes nothing in them either).
local function q(s) return '"' .. s .. '"' end

local function service_name(o, s) return string.format("%s-%05d", o.prefix, s) end

-- Instance i's address, as load/src/scenario.rs Population::ip: 10.a.b.c from i + 1.
local function ip(i)
    local n = i + 1
    return string.format("10.%d.%d.%d",
        math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

-- Population::write_instance: fields in the same (alphabetical) order.
local function instance(o, i)
    local service = service_name(o, i % o.services)
    local addr = ip(i)
    return table.concat({
        '{"healthCheckUrl":', q("http://" .. addr .. ":8080/health"),
        ',"instanceId":', q(addr .. ":8080"),
        ',"ip":', q(addr),
        ',"machineName":', q("host-" .. addr:gsub("%.", "-")),
        ',"metadata":{"app":', q(service),
        ',"env":"bench","version":"1.0.', tostring(i % 100),
        '"},"port":8080,"protocol":"http","regionId":', q(o.region),
        ',"serviceId":', q(service),
        ',"status":"up","url":', q("http://" .. addr .. ":8080/" .. service),
        ',"zoneId":', q(o.zone),
        '}',
    })
end

-- Population::write_instances_body: `count` instances from `first`, wrapping around.
local function instances_body(o, first, count)
    local parts = {}
    for k = 0, count - 1 do
        parts[#parts + 1] = instance(o, (first + k) % o.instances)
    end
    return '{"instances":[' .. table.concat(parts, ",") .. ']}'
end

local function lookup_body(o, s)
    return '{"discoveryConfigs":[{"serviceId":' .. q(service_name(o, s)) .. '}],"regionId":'
        .. q(o.region) .. ',"zoneId":' .. q(o.zone) .. '}'
end

-- Endpoint::write_post: the same head, header order and spelling. The built-in generator sends
-- the target's authority as Host, port included.
-- accept: the Accept-Encoding value (`accept=gzip`, as `artemis load --accept-gzip` sends it on
-- lookups), or "" for none.
local function post(path, body, accept)
    local host = wrk.host
    if wrk.port and wrk.port ~= "" then host = host .. ":" .. wrk.port end
    -- wrk.path is the URL's path: a server path prefix (e.g. /artemis-service), or "/".
    local prefix = (wrk.path or ""):gsub("/+$", "")
    local encoding = ""
    if accept ~= nil and accept ~= "" then encoding = "Accept-Encoding: " .. accept .. "\r\n" end
    return "POST " .. prefix .. path .. " HTTP/1.1\r\nHost: " .. host
        .. "\r\nContent-Type: application/json\r\nAccept: application/json\r\n" .. encoding
        .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

-- The request tables of load/src/scenario.rs RequestTable.
local builders = {
    heartbeat = function(o)
        local t = {}
        local count = math.ceil(o.instances / o.batch)
        for j = 0, count - 1 do
            local body = instances_body(o, j * o.batch, o.batch)
            t[#t + 1] = post("/api/registry/heartbeat.json", body)
        end
        return t
    end,
    register = function(o)
        local t = {}
        local count = math.ceil(o.instances / o.batch)
        for j = 0, count - 1 do
            local body = instances_body(o, j * o.batch, o.batch)
            t[#t + 1] = post("/api/registry/register.json", body)
        end
        return t
    end,
    lookup = function(o)
        local t = {}
        for s = 0, o.services - 1 do
            t[#t + 1] = post("/api/discovery/lookup.json", lookup_body(o, s), o.accept)
        end
        return t
    end,
}

-- install(kind): defines wrk's setup/init/request/response/done globals for one kind of request.
function M.install(kind)
    local build = assert(builders[kind], "unknown request kind " .. tostring(kind))
    local threads = {}

    -- Main Lua state: number the threads so each one walks the table like the generator's
    -- threads do (thread t of T sends requests t, t + T, t + 2T, ...; T is the `threads=`
    -- argument, which must equal wrk's -t). wrk starts each thread right after its setup() and
    -- init(), so a thread's state must not be touched after that.
    function setup(thread)
        thread:set("thread_index", #threads)
        threads[#threads + 1] = thread
    end

    local requests, n, next_j, stride

    function init(args)
        local o = opts(args)
        requests = build(o)
        n = #requests
        stride = o.threads
        next_j = thread_index or 0
        -- Counters of the check mode: globals, since done() reads them with thread:get.
        checked, failed, first_failure = 0, 0, nil
    end

    function request()
        local r = requests[next_j % n + 1]
        next_j = next_j + stride
        return r
    end

    if os.getenv("WRK_CHECK") == "1" then
        function response(status, headers, body)
            checked = checked + 1
            -- A gzip answer (accept=gzip) cannot be inflated here: its framing is checked, and
            -- `artemis load --accept-gzip` checks the inflated answers.
            local gzipped = headers ~= nil and headers["Content-Encoding"] == "gzip"
            local ok = status == 200 and body ~= nil and gzipped and body:sub(1, 2) == "\31\139"
            ok = ok or status == 200 and body ~= nil and not gzipped
                and body:find('"errorCode":"success"', 1, true) ~= nil
                and body:find('"status":"success"', 1, true) ~= nil
                and (kind ~= "lookup" or body:find('"instanceId"', 1, true) ~= nil)
            if not ok then
                failed = failed + 1
                if first_failure == nil then
                    first_failure = tostring(status) .. " " .. tostring(body):sub(1, 200)
                end
            end
        end
    end

    function done(summary, latency, _)
        local checks, failures, first = 0, 0, ""
        for _, t in ipairs(threads) do
            checks = checks + (t:get("checked") or 0)
            failures = failures + (t:get("failed") or 0)
            local f = t:get("first_failure")
            if f and first == "" then first = f end
        end
        local e = summary.errors
        local p = function(x) return latency:percentile(x) end
        io.write(string.format(
            'WRK_JSON {"requests":%d,"seconds":%.6f,"errors":{"connect":%d,"read":%d,"write":%d,'
                .. '"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,'
                .. '"max":%d},"checked":%d,"check_failures":%d,"first_failure":"%s"}\n',
            summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status,
            e.timeout, p(50), p(90), p(99), p(99.9), latency.max, checks, failures,
            (first:gsub("%c", " "):gsub("\\", "\\\\"):gsub('"', '\\"'))))
    end
end

return M
