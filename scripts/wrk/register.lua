-- wrk script: the register requests of `artemis load --scenario register`, built by
-- artemis.lua (see there for the key=value arguments). As scripts/bench.sh runs it:
--   wrk -t2 -c64 -d10s --latency -s scripts/wrk/register.lua http://ADDR -- threads=2
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "artemis.lua").install("register")
