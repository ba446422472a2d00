-- Shared by every script: per-thread ids, request headers from the environment, and a
-- JSON summary line (requests, errors, latency percentiles in microseconds) at the end.
local threads_made = 0

function setup(thread)
  thread:set("tid", threads_made)
  threads_made = threads_made + 1
end

-- BENCH_HEADERS: "Name: value" pairs separated by "\n".
local headers = os.getenv("BENCH_HEADERS") or ""
for name, value in headers:gmatch("([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
