-- POST one new reading per request to the URL given to wrk (a source's readings), each at
-- its own time; BENCH_TOKENS ("sourceid=token" pairs, space separated) spreads the requests
-- over several households, as real traffic is.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local lanes = {}
for source, token in (os.getenv("BENCH_TOKENS") or ""):gmatch("(%d+)=(%S+)") do
  lanes[#lanes + 1] = {source = source, token = token}
end
local counter = 0
local base = 1900000000 + math.floor(os.time() % 100000) * 1000

function request()
  counter = counter + 1
  local lane = lanes[(counter + (tid or 0)) % #lanes + 1]
  local when = base + (tid or 0) * 10000000 + counter
  -- The values grow with the timestamp, across threads and runs: never below the reading
  -- before (the generated export register ends near 14), so no request is a meter drop
  -- (a drop is refused with 422 unless confirmed).
  local offset = when - 1900000000
  local body = string.format(
    '{"timestamp": "%s", "values": {"import": %d.5, "export": %d.25}}',
    os.date("!%Y-%m-%dT%H:%M:%SZ", when), 20000 + offset, 100 + offset)
  return wrk.format("POST", "/api/sources/" .. lane.source .. "/readings", {
    ["Authorization"] = "Bearer " .. lane.token,
    ["Content-Type"] = "application/json",
  }, body)
end
