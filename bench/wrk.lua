-- wrk script for bench/decision.py; the same script drives the decision and the health anchor,
-- so both pay the same client-side Lua cost.
--
--   wrk -t2 -c32 -d10s -s bench/wrk.lua http://127.0.0.1:PORT -- health
--   wrk -t2 -c32 -d10s -s bench/wrk.lua http://127.0.0.1:PORT -- decision TOKEN PRINTER PREFIX COUNT
--
-- "decision" POSTs a JSON job decision to /api/v1/jobs/decision with the bearer TOKEN, cycling
-- through the usernames PREFIX0000 .. PREFIX<COUNT-1>. "health" GETs /api/v1/health without
-- authentication. Every response that is not 2xx is counted; done() prints one line:
--   BENCH_RESULT {"requests": ..., "non2xx": ..., "p50_us": ..., ...}

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  last_bad_status = 0
  requests_made = {}
  local mode = args[1] or "health"
  if mode == "decision" then
    local token, printer, prefix, count = args[2], args[3], args[4], tonumber(args[5])
    local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
    }
    for i = 0, count - 1 do
      local body = string.format(
        '{"username":"%s%04d","printer":"%s","pages":4,"colour_pages":1}', prefix, i, printer
      )
      requests_made[i + 1] = wrk.format("POST", "/api/v1/jobs/decision", headers, body)
    end
  else
    requests_made[1] = wrk.format("GET", "/api/v1/health")
  end
  -- threads start at different users so they do not move in lockstep
  position = ((id - 1) * 97) % #requests_made
end

function request()
  position = position % #requests_made + 1
  return requests_made[position]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    last_bad_status = status
  end
end

function done(summary, latency, requests)
  local bad, bad_status = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    local status = thread:get("last_bad_status")
    if status ~= 0 then bad_status = status end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "last_bad_status": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, bad, bad_status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, errors.connect, errors.read, errors.write, errors.timeout
  ))
end
