-- wrk script of benchmarks/retry_storm.py: POST /api/v1/stamps with a multipart body,
-- rotating over several accounts' tokens, counting the answer codes.
-- Arguments (after --): <request body file> <boundary> <token> [<token> ...]
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local fh = assert(io.open(args[1], "rb"))
  local body = fh:read("*a")
  fh:close()
  requests_ = {}
  for i = 3, #args do
    requests_[#requests_ + 1] = wrk.format("POST", "/api/v1/stamps", {
      ["Authorization"] = "Bearer " .. args[i],
      ["Content-Type"] = "multipart/form-data; boundary=" .. args[2],
    }, body)
  end
  next_ = 0
  codes = {}
end

function request()
  next_ = next_ % #requests_ + 1
  return requests_[next_]
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("codes")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    parts[#parts + 1] = string.format("%d=%d", status, n)
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d "
    .. "connect=%d read=%d write=%d timeout=%d codes=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
