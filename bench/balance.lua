-- wrk script: GET balance inquiries spread over LINES lines (+1 415 600 0000 onwards).
local lines = tonumber(os.getenv("LINES") or "10000")
local key = os.getenv("RECHARGE_KEY")

function init(args)
  counter = 0
  seed = math.random(1, 1000000)
end

function request()
  counter = counter + 1
  local msisdn = string.format("+1415600%04d", (counter * 7919 + seed) % lines)
  return wrk.format("GET", "/v1/lines/" .. msisdn .. "/balance", { ["Authorization"] = "Bearer " .. key })
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d errors(non-2xx)=%d rps=%.0f p50=%.2fms p99=%.2fms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
