-- wrk script: POSTs usage events with requestIds unique across threads and runs.
-- BATCH=1 sends one event per request (the guide's single form); BATCH=100 sends
-- {"events":[...]} with 100 events. KEY is the ingestion key. IDLEN=33 pads every requestId
-- to 33 characters with random letters after the unique part (which ends in a digit, so ids
-- stay unique), as incompressible as real provider ids; the issue's disk figure assumes 33.
-- Unset, the ids are as short as they come. RICH=1 adds what issue 10 added: a timestamp (a live
-- stream's: 0-5 s before now; BACKFILL=1 spreads them over the last day, as an import would),
-- a userId (one of 100,000) and 4 tags (team and customer_tier, declared as dimensions by
-- bench/run.sh; region; a per-event trace id).
local batch = tonumber(os.getenv("BATCH") or "1")
local key = os.getenv("KEY") or ""
local threads = {}
local counter = 0
local run = os.getenv("RUN") or tostring(os.time())
local idlen = tonumber(os.getenv("IDLEN") or "0")
local rich = os.getenv("RICH") == "1"
local spread = os.getenv("BACKFILL") == "1" and 86400 or 5
local teams = {"search", "ads", "support", "research"}
local tiers = {"free", "pro", "enterprise"}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local function event(id)
  if #id < idlen then
    local pad = {}
    for i = 1, idlen - #id do pad[i] = string.char(math.random(97, 122)) end
    id = id .. table.concat(pad)
  end
  local extra = ""
  if rich then
    extra = string.format(',"timestamp":"%s","userId":"user-%06d","tags":{"team":"%s","customer_tier":"%s",' ..
      '"region":"eu-west-1","trace":"%08x%08x"}', os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - math.random(0, spread)),
      math.random(0, 99999), teams[math.random(1, 4)], tiers[math.random(1, 3)],
      math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  end
  return string.format(
    '{"provider":"openai","model":"gpt-4o-mini","inputTokens":850,"outputTokens":320,' ..
    '"cachedTokens":100,"requestId":"%s","project":"bench","environment":"prod","feature":"load-test"%s}', id, extra)
end

function request()
  counter = counter + 1
  local prefix = run .. "-" .. tid .. "-" .. counter
  local body
  if batch == 1 then
    body = event(prefix)
  else
    local parts = {}
    for i = 1, batch do parts[i] = event(prefix .. "-" .. i) end
    body = '{"events":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", "/api/v1/usage/ingest",
    {["Content-Type"] = "application/json", ["X-API-Key"] = key}, body)
end

local non200 = 0
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local p99 = latency:percentile(99) / 1000.0
  io.write(string.format("RESULT requests=%d duration_s=%.2f req_per_s=%.0f events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    batch * summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000.0, p99,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
