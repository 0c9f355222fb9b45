-- wrk script: charging-session updates over HTTP (POST /v1/charging/sessions/{id}/update), each reporting 1 MiB of
-- data used and asking for the quota again: a commit (a ledger debit) and a new reservation per request.
-- Sessions bench-<RUN>-<n> (n < SESSIONS) were opened by bench/charging-sessions. Each wrk thread owns the sessions
-- n ≡ tid (mod threads) and walks them round robin, so a session's request numbers go up one at a time and its next
-- request is thousands of requests later (never two in flight at once for one session).
local sessions = tonumber(os.getenv("SESSIONS") or "4000")
local threads_count = tonumber(os.getenv("THREADS") or "2")
local run = os.getenv("RUN")
local key = os.getenv("RECHARGE_KEY")
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  counter = 0
  mine = math.floor(sessions / threads_count)
  body = '{"requestNumber": %d, "usedUnits": 1048576}'
end

function request()
  local slot = counter % mine
  local number = math.floor(counter / mine) + 1
  counter = counter + 1
  local session = slot * threads_count + (tid - 1)
  return wrk.format("POST", string.format("/v1/charging/sessions/bench-%s-%d/update", run, session), {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }, string.format(body, number))
end

function response(status, headers, body)
  if status == 200 and not string.find(body, '"result":"success"', 1, true) then
    failures = (failures or 0) + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d errors(non-2xx)=%d rps=%.0f p50=%.2fms p99=%.2fms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
