-- wrk script: GET one portal page (PAGE, e.g. /dashboard) as a signed-in visitor (COOKIE), or the same data
-- from the JSON API when KEY is set instead. Non-2xx answers count as errors (a redirect to /login would).
local page = os.getenv("PAGE") or "/dashboard"
local headers = {}
if os.getenv("COOKIE") and os.getenv("COOKIE") ~= "" then headers["Cookie"] = os.getenv("COOKIE") end
if os.getenv("KEY") and os.getenv("KEY") ~= "" then headers["Authorization"] = "Bearer " .. os.getenv("KEY") end

function request()
  return wrk.format("GET", page, headers)
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d errors(non-2xx)=%d rps=%.0f p50=%.2fms p99=%.2fms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
