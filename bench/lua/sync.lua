-- POST batches of BENCH_BATCH (default 1000) new readings to /api/sync/readings; each
-- reading has a new client id. BENCH_TOKENS as in post_reading.lua.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local lanes = {}
for source, token in (os.getenv("BENCH_TOKENS") or ""):gmatch("(%d+)=(%S+)") do
  lanes[#lanes + 1] = {source = source, token = token}
end
local batch = tonumber(os.getenv("BENCH_BATCH") or "1000")
local counter = 0
local run = math.floor(os.time() % 4294967296)
math.randomseed(os.time())
local salt = math.random(0, 65535)

function request()
  counter = counter + 1
  local lane = lanes[(counter + (tid or 0)) % #lanes + 1]
  local items = {}
  local base = 1950000000 + ((tid or 0) * 100000 + counter) * batch
  for n = 1, batch do
    items[n] = string.format(
      '{"id": "%08x-%04x-4%03x-a%03x-%012x", "data_source_id": %s, ' ..
      '"timestamp": "%s", "values": {"import": %d.5, "export": %d.25}}',
      run, salt, (tid or 0) % 4096, counter % 4096, (counter * 1048576 + n),
      lane.source, os.date("!%Y-%m-%dT%H:%M:%SZ", base + n), 30000 + n, n)
  end
  return wrk.format("POST", "/api/sync/readings", {
    ["Authorization"] = "Bearer " .. lane.token,
    ["Content-Type"] = "application/json",
  }, '{"readings": [' .. table.concat(items, ",") .. ']}')
end
