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
    srv = H.start({ request_timeout = 1, idle_timeout = 2 })
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

  it("answers 20 pipelined writes in order, each committed in that order", function()
    local org = srv:expect(200, "GET", "/employees/" .. srv.admin_id).department_id
    local e = srv:employee({ department_id = org, login = false })
    local s = srv:system("Pipeline")
    local r = srv:requirement(s, "krav")
    local path = "/api/v1/employees/" .. e .. "/assessments"
    local batch = {}
    for i = 1, 20 do
      batch[i] = H.build_request("POST", path,
        { source = "test", levels = H.levels({ [r] = i % 5 }), note = "p" .. i }, srv.admin_token)
    end
    local sock = srv:connect()
    assert(sock:send(table.concat(batch)))
    local ids = {}
    for i = 1, 20 do
      local resp, err = H.read_response(sock, "POST")
      assert(resp, ("answer %d: %s"):format(i, tostring(err)))
      assert.equal(201, resp.status)
      local item = H.decode(resp.body).items[1]
      assert.equal("p" .. i, item.note)
      ids[i] = item.id
      if i > 1 then assert.is_true(ids[i] > ids[i - 1]) end
    end
    sock:close()
    local hist = srv:history(e)
    assert.equal(20, #hist)
    assert.equal("p20", hist[1].note)
    assert.equal("p1", hist[20].note)
    local gaps = srv:expect(200, "GET", "/gaps?by=requirement&system_id=" .. s).items
    assert.equal(1, #gaps)
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

  it("answers 431 to more than 64 header fields", function()
    local extra = {}
    for i = 1, 70 do extra[i] = ("X-H%d: %d"):format(i, i) end
    local sock = srv:connect()
    assert(sock:send(H.build_request("GET", "/healthz", nil, nil, extra)))
    local r, err = H.read_response(sock, "GET")
    assert(r, "no answer: " .. tostring(err))
    assert.equal(431, r.status)
    sock:close()
  end)

  it("answers 413 one byte over 1 MiB, and reads a body of exactly 1 MiB", function()
    local sock = srv:connect(5)
    assert(sock:send("POST /api/v1/systems HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      .. "Authorization: Bearer " .. srv.admin_token .. "\r\n"
      .. "Content-Type: application/json\r\nContent-Length: 1048577\r\n\r\n"))
    local r, err = H.read_response(sock, "POST")
    assert(r, "no answer: " .. tostring(err))
    assert.equal(413, r.status)
    sock:close()
    -- a valid JSON object of exactly 1 MiB passes HTTP; the API then refuses the long description
    local head = '{"name":"Stor","description":"'
    local body = head .. string.rep("a", 1048576 - #head - 2) .. '"}'
    assert.equal(1048576, #body)
    local status, data = srv:request("POST", "/api/v1/systems", body, srv.admin_token)
    H.check_error(status, data, 422, "invalid", "description")
  end)

  it("closes the connection after an answer to Connection: close", function()
    local sock = srv:connect(5)
    assert(sock:send(H.build_request("GET", "/healthz", nil, nil, { "Connection: close" })))
    local r = assert(H.read_response(sock, "GET"))
    assert.equal(200, r.status)
    local closed, rest = read_closed(sock, 3)
    assert.is_true(closed, "still open after Connection: close")
    assert.equal("", rest)
    sock:close()
  end)

  it("closes an HTTP/1.0 connection after its answer", function()
    local sock = srv:connect(5)
    assert(sock:send("GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
    local r = assert(H.read_response(sock, "GET"))
    assert.equal(200, r.status)
    assert.is_true((read_closed(sock, 3)), "an HTTP/1.0 connection stayed open")
    sock:close()
  end)

  it("closes a keep-alive connection left idle past the idle timeout", function()
    local sock = srv:connect(5)
    assert(sock:send(H.build_request("GET", "/healthz")))
    assert.equal(200, assert(H.read_response(sock, "GET")).status)
    local closed, _, elapsed = read_closed(sock, 8)
    sock:close()
    assert(closed, ("still open after %.1f s with --idle-timeout 2"):format(elapsed))
    assert(elapsed >= 1, ("closed after %.2f s, before the 2 s idle timeout"):format(elapsed))
    assert(elapsed <= 5, ("closed only after %.2f s with a 2 s idle timeout"):format(elapsed))
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

describe("http connection limit", function()
  local srv

  setup(function()
    srv = H.start({ max_connections = 3 })
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("closes connections over --max-connections at once and serves again when one leaves", function()
    local open = {}
    for i = 1, 3 do
      open[i] = srv:connect(5)
      assert(open[i]:send(H.build_request("GET", "/healthz")))
      assert.equal(200, assert(H.read_response(open[i], "GET")).status)
    end
    local extra = srv:connect(5)
    extra:send(H.build_request("GET", "/healthz"))
    local r = H.read_response(extra, "GET")
    extra:close()
    assert.is_nil(r, "a fourth connection was served with --max-connections 3")
    -- the three still work
    for i = 1, 3 do
      assert(open[i]:send(H.build_request("GET", "/healthz")))
      assert.equal(200, assert(H.read_response(open[i], "GET")).status)
    end
    open[1]:close()
    local served = false
    for _ = 1, 40 do -- the server notices the close a moment later
      local sock = srv:connect(5)
      sock:send(H.build_request("GET", "/healthz"))
      local again = H.read_response(sock, "GET")
      sock:close()
      if again and again.status == 200 then
        served = true
        break
      end
      socket.sleep(0.05)
    end
    assert.is_true(served, "no connection served after one of three closed")
    open[2]:close()
    open[3]:close()
  end)
end)
