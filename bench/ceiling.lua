-- wrk script: the same request shape as ingest.lua sent to GET-equivalent /healthz, which
-- h2o answers without any work: the HTTP stack's ceiling on this machine, same run.
local batch = tonumber(os.getenv("BATCH") or "1")
local body = string.rep("x", batch == 1 and 230 or 23000)
function request()
  return wrk.format("POST", "/healthz", {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.2f req_per_s=%.0f events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    batch * summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000.0,
    latency:percentile(99) / 1000.0, summary.errors.status))
end
