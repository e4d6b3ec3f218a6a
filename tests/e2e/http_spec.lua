-- The HTTP layer over raw sockets: keep-alive, pipelining, size limits, malformed input, the
-- slow-loris timeout, and the one-line-per-request log on stderr.
local H = require "harness"
local socket = require "socket"

local function read_closed(sock, seconds)
  -- Reads until the peer closes; returns true, the bytes read and the time it took, or false on
  -- timeout. Bounded by `seconds`.
  sock:settimeout(seconds)
  local t0 = socket.gettime()
  local data, err, partial = sock:receive("*a")
  local elapsed = socket.gettime() - t0
  if data then return true, data, elapsed end
  if err == "closed" then return true, partial or "", elapsed end
  -- a reset also means the server closed it
  if err and err:find("reset") then return true, partial or "", elapsed end
  return false, partial or "", elapsed, err
end

describe("http", function()
  local srv

  setup(function()
    srv = H.start({ request_timeout = 1 })
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("keeps a connection alive for a second request", function()
    local sock = srv:connect()
    assert(sock:send(H.build_request("GET", "/healthz")))
    local r1 = assert(H.read_response(sock, "GET"))
    assert.equal(200, r1.status)
    assert.same({ status = "ok" }, H.decode(r1.body))
    assert.is_falsy((r1.headers["connection"] or ""):lower():find("close"))
    assert(sock:send(H.build_request("GET", "/api/v1/systems", nil, srv.admin_token)))
    local r2, err = H.read_response(sock, "GET")
    assert(r2, "second request on the same connection: " .. tostring(err))
    assert.equal(200, r2.status)
    assert.is_table(H.decode(r2.body).items)
    assert(sock:send(H.build_request("GET", "/healthz")))
    local r3 = assert(H.read_response(sock, "GET"))
    assert.equal(200, r3.status)
    sock:close()
  end)

  it("answers pipelined requests in order", function()
    local sock = srv:connect()
    local batch = H.build_request("GET", "/api/v1/systems/999999", nil, srv.admin_token)
      .. H.build_request("POST", "/api/v1/systems", { name = "Pipelined", description = "p" },
           srv.admin_token)
      .. H.build_request("GET", "/api/v1/systems")
      .. H.build_request("GET", "/healthz")
    assert(sock:send(batch))
    local want = { 404, 201, 401, 200 }
    local got = {}
    for i = 1, #want do
      local r, err = H.read_response(sock, "GET")
      assert(r, ("pipelined answer %d: %s"):format(i, tostring(err)))
      got[i] = r
    end
    assert.same(want, { got[1].status, got[2].status, got[3].status, got[4].status })
    assert.equal("Pipelined", H.decode(got[2].body).name)
    assert.equal("unauthorized", H.decode(got[3].body).error.code)
    assert.same({ status = "ok" }, H.decode(got[4].body))
    sock:close()
  end)

  it("accepts an 8 KiB header", function()
    local sock = srv:connect()
    assert(sock:send(H.build_request("GET", "/healthz", nil, nil,
      { "X-Padding: " .. string.rep("a", 8 * 1024) })))
    local r = assert(H.read_response(sock, "GET"))
    assert.equal(200, r.status)
    sock:close()
  end)

  it("answers 431 to a header over 16 KiB", function()
    local sock = srv:connect()
    assert(sock:send(H.build_request("GET", "/healthz", nil, nil,
      { "X-Padding: " .. string.rep("a", 17 * 1024) })))
    local r, err = H.read_response(sock, "GET")
    assert(r, "no answer: " .. tostring(err))
    assert.equal(431, r.status)
    sock:close()
  end)

  it("answers 413 to a Content-Length of 2 MiB without waiting for the body", function()
    local sock = srv:connect(5)
    assert(sock:send("POST /api/v1/systems HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      .. "Authorization: Bearer " .. srv.admin_token .. "\r\n"
      .. "Content-Type: application/json\r\nContent-Length: " .. (2 * 1024 * 1024) .. "\r\n\r\n"))
    local r, err = H.read_response(sock, "POST")
    assert(r, "no answer: " .. tostring(err))
    assert.equal(413, r.status)
    sock:close()
  end)

  it("answers 400 to garbage and closes the connection", function()
    local sock = srv:connect(5)
    assert(sock:send("THIS IS NOT HTTP AT ALL\r\n\r\n"))
    local r, err = H.read_response(sock, "GET")
    assert(r, "no answer: " .. tostring(err))
    assert.equal(400, r.status)
    local closed = read_closed(sock, 3)
    assert.is_true(closed, "the connection stayed open after a malformed request")
    sock:close()
  end)

  it("answers 400 to a bad request line and to a bad header", function()
    for _, raw in ipairs({ "GET / HTTP/9.9x\r\n\r\n", "GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
                           "\0\1\2\3\r\n\r\n" }) do
      local sock = srv:connect(5)
      assert(sock:send(raw))
      local r, err = H.read_response(sock, "GET")
      assert(r, ("no answer to %q: %s"):format(raw, tostring(err)))
      assert.equal(400, r.status, ("answer to %q"):format(raw))
      sock:close()
    end
  end)

  it("closes a slow-loris connection after the request timeout", function()
    local sock = srv:connect(5)
    assert(sock:send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "))
    local closed, _, elapsed, err = read_closed(sock, 6)
    sock:close()
    assert(closed, ("still open after %.1f s (%s) with --request-timeout 1"):format(elapsed,
      tostring(err)))
    assert(elapsed >= 0.5, ("closed after %.2f s, before the 1 s timeout"):format(elapsed))
    assert(elapsed <= 4, ("closed only after %.2f s with a 1 s timeout"):format(elapsed))
    -- the server is still serving
    assert.equal(200, (srv:request("GET", "/healthz")))
  end)

  it("writes one log line per request on stderr with method, path, status and time in us", function()
    local probe = "/api/v1/log-probe-" .. math.random(100000, 999999)
    local status = srv:request("GET", probe, nil, srv.admin_token)
    assert.equal(404, status)
    local dept = srv:expect(200, "GET", "/employees/" .. srv.admin_id).department_id
    local dpath = "/api/v1/departments/" .. dept
    local function lines_with(s)
      local out = {}
      for line in (H.read_file(srv.log) or ""):gmatch("[^\n]+") do
        if line:find(s, 1, true) then out[#out + 1] = line end
      end
      return out
    end
    local before = #lines_with(dpath)
    srv:expect(200, "PATCH", "/departments/" .. dept, { name = "Organisasjon" })
    local probe_lines, patch_lines
    for _ = 1, 40 do -- stderr may reach the file a moment after the answer
      probe_lines = lines_with(probe)
      patch_lines = lines_with(dpath)
      if #probe_lines >= 1 and #patch_lines > before then break end
      socket.sleep(0.05)
    end
    assert.equal(1, #probe_lines, "log lines for " .. probe .. ":\n" .. H.tail(srv.log, 10))
    local line = probe_lines[1]
    assert.truthy(line:find("GET", 1, true), line)
    assert.truthy(line:find("%f[%d]404%f[%D]"), line)
    assert.truthy(line:find("%d+%s*us%f[%A]") or line:find("us[=:]%s*%d+"), line)
    assert.equal(before + 1, #patch_lines)
    line = patch_lines[#patch_lines]
    assert.truthy(line:find("PATCH", 1, true), line)
    assert.truthy(line:find("%f[%d]200%f[%D]"), line)
    assert.truthy(line:find("%d+%s*us%f[%A]") or line:find("us[=:]%s*%d+"), line)
  end)
end)
