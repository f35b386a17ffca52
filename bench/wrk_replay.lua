-- Replay a file of prepared requests once each, then stop (bench_flood.py, bench_pages.py,
-- fault_pg_outage.py).
--
--   wrk -t2 -c50 -d600s --timeout 30s -s bench/wrk_replay.lua http://127.0.0.1:PORT \
--       -- REQUESTS_FILE THREADS REPORT_FILE [LOOPS] [DELAY_MS]
--
-- REQUESTS_FILE: one request a line, tab separated: id, method, path, headers, body.
-- Headers are "Name: value" joined by the 0x1f byte; the id travels as X-Request-ID,
-- which the hub echoes, so each answer is matched to its request. Thread t takes the
-- lines whose index modulo THREADS is t, sends them LOOPS times (default 1) over its
-- connections (so neighbouring lines are in flight at the same time) and stops once
-- every one of them was answered, leaving REPORT_FILE.done.<thread> behind so that the
-- caller can end wrk with SIGINT (wrk itself would wait out its -d duration). With DELAY_MS each connection waits that long before
-- each request (a paced flood: fault_pg_outage.py). A connection that asks for more after that gets a
-- cheap request marked "overflow", left out of the counts.
-- REPORT_FILE gets, per thread, "status <code> <n>", "ok <id>" per 200, "bad <id> <code>"
-- per other answer, then wrk's own figures.

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  local loops = tonumber(args[4] or "1")
  local delay_ms = tonumber(args[5] or "0")
  if delay_ms > 0 then
    function delay() return delay_ms end
  end
  report_path = args[3]
  local mine = {}
  local index = 0
  for line in io.lines(path) do
    if index % nthreads == tid then
      local id, method, target, hdrs, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = { ["X-Request-ID"] = id }
      for h in hdrs:gmatch("[^\31]+") do
        local k, v = h:match("^([^:]+):%s*(.*)$")
        headers[k] = v
      end
      if body == "" then body = nil end
      mine[#mine + 1] = wrk.format(method, target, headers, body)
    end
    index = index + 1
  end
  reqs = {}
  for _ = 1, loops do
    for i = 1, #mine do reqs[#reqs + 1] = mine[i] end
  end
  total = #reqs
  sent = 0
  answered = 0
  ok_ids = {}
  bad = {}
  statuses = {}
  -- a GET on a webhook URL: 405 without touching the database
  -- wrk calls request() once on thread 0 before the run to count pipelined requests and
  -- throws the answer away: give it the overflow request, not a delivery.
  verify_call = (tid == 0)
  overflow = wrk.format("GET", "/webhooks/tiktok-shop/", { ["X-Request-ID"] = "overflow-request" })
end

function request()
  if verify_call then
    verify_call = false
    return overflow
  end
  sent = sent + 1
  if sent > total then return overflow end
  return reqs[sent]
end

local function request_id(headers)
  local id = headers["X-Request-ID"] or headers["x-request-id"]
  if id then return id end
  for k, v in pairs(headers) do
    if string.lower(k) == "x-request-id" then return v end
  end
  return "?"
end

function response(status, headers, body)
  local id = request_id(headers)
  if id == "overflow-request" then return end
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    ok_ids[#ok_ids + 1] = id
  else
    bad[#bad + 1] = id .. " " .. status
  end
  if answered >= total then
    -- wrk's main thread sleeps for the whole -d duration whatever the threads do: tell the
    -- caller we are done (it sends SIGINT, which ends the sleep), then stop sending.
    local marker = io.open(report_path .. ".done." .. tid, "w")
    if marker then marker:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(threads[1]:get("report_path"), "w"))
  for _, thread in ipairs(threads) do
    out:write("thread ", thread:get("tid"), " total ", thread:get("total"),
      " answered ", thread:get("answered"), "\n")
    for code, n in pairs(thread:get("statuses")) do
      out:write("status ", code, " ", n, "\n")
    end
    for _, id in ipairs(thread:get("ok_ids")) do out:write("ok ", id, "\n") end
    for _, line in ipairs(thread:get("bad")) do out:write("bad ", line, "\n") end
  end
  local e = summary.errors
  out:write("wrk requests ", summary.requests, "\n")
  out:write("wrk duration_us ", summary.duration, "\n")
  out:write("wrk errors ", e.connect, " ", e.read, " ", e.write, " ", e.status, " ", e.timeout, "\n")
  out:write("wrk p50_us ", latency:percentile(50), "\n")
  out:write("wrk p99_us ", latency:percentile(99), "\n")
  out:write("wrk max_us ", latency.max, "\n")
  out:close()
end
