-- wrk script: POST top-ups of 1.00 USD with a unique Idempotency-Key each, spread over LINES lines
-- (+1 415 600 0000 onwards), or all on the first line when HOT=1.
local lines = tonumber(os.getenv("LINES") or "1000")
local hot = os.getenv("HOT") == "1"
local key = os.getenv("RECHARGE_KEY")
local threads = {}
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  run = os.time()
  body = '{"amount": {"currency": "USD", "value": "1.00"}, "channel": "card"}'
end

function request()
  counter = counter + 1
  local line = hot and 0 or ((counter * 7919 + tid * 104729) % lines)
  local msisdn = string.format("+1415600%04d", line)
  return wrk.format("POST", "/v1/lines/" .. msisdn .. "/topups", {
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = string.format("bench-%d-%d-%d", run, tid, counter),
    ["Content-Type"] = "application/json",
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d errors(non-2xx)=%d rps=%.0f p50=%.2fms p99=%.2fms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
