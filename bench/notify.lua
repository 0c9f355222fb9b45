-- wrk script: POST the signed sandbox notifications listed in NOTIFICATIONS (one "signature<TAB>body" per
-- line, written by bench/orders), each thread taking every THREADS-th one; past the end it starts over, so
-- the tail of a long run measures duplicates (acknowledged, applied nothing).
local file = os.getenv("NOTIFICATIONS")
local thread_id = 0
local thread_count = 0

function setup(thread)
  thread_id = thread_id + 1
  thread_count = thread_count + 1
  thread:set("tid", thread_id)
end

function init(args)
  items = {}
  for line in io.lines(file) do
    local tab = line:find("\t")
    table.insert(items, { line:sub(1, tab - 1), line:sub(tab + 1) })
  end
  threads = tonumber(os.getenv("THREADS") or "2")
  index = tid
end

function request()
  local item = items[((index - 1) % #items) + 1]
  index = index + threads
  return wrk.format("POST", "/webhooks/sandbox", { ["Sandbox-Signature"] = item[1], ["Content-Type"] = "application/json" }, item[2])
end

function response(status, headers, body)
  if status ~= 200 then print("notify: " .. status .. " " .. body) end
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d rps=%.0f p50=%.2fms p99=%.2fms errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
