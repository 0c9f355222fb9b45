-- wrk script: create sandbox orders for the $10 top-up of the demo catalog, each with a unique
-- Idempotency-Key, spread over LINES lines (+1 415 600 0000 onwards).
local lines = tonumber(os.getenv("LINES") or "1000")
local key = os.getenv("RECHARGE_KEY")
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  counter = 0
  run = os.time()
  body = '{"product": "topup-10", "paymentMethod": "sandbox"}'
end

function request()
  counter = counter + 1
  local msisdn = string.format("+1415600%04d", (counter * 7919 + tid * 104729) % lines)
  return wrk.format("POST", "/v1/lines/" .. msisdn .. "/orders", {
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = string.format("order-bench-%d-%d-%d", run, tid, counter),
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then print("order: " .. status .. " " .. body) end
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d rps=%.0f p50=%.2fms p99=%.2fms errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
