-- wrk script: POST voucher redemptions, each PIN of the export file PINS ("serial,pin" lines) once, spread over
-- LINES lines (+1 415 600 0000 onwards); thread N of THREADS takes every THREADS-th PIN. Past the end of the file
-- it starts over: those redemptions are answered 409 already-redeemed (counted as non-2xx).
local file = os.getenv("PINS")
local lines = tonumber(os.getenv("LINES") or "1000")
local key = os.getenv("RECHARGE_KEY")
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  pins = {}
  local first = true
  for line in io.lines(file) do
    if not first then
      local comma = line:find(",")
      table.insert(pins, { line:sub(1, comma - 1), line:sub(comma + 1) })
    end
    first = false
  end
  threads = tonumber(os.getenv("THREADS") or "2")
  index = tid
end

function request()
  local item = pins[((index - 1) % #pins) + 1]
  local line = (index * 7919) % lines
  index = index + threads
  return wrk.format("POST", string.format("/v1/lines/+1415600%04d/voucher-redemptions", line), {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }, '{"pin": "' .. item[2] .. '", "serial": "' .. item[1] .. '", "channel": "api"}')
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d errors(non-2xx)=%d rps=%.0f p50=%.2fms p99=%.2fms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
