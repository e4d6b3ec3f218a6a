-- harness: the real evne binary on a free loopback port with a temporary database.
--
-- local H = require "harness"
-- local srv = H.start{request_timeout = 1}     -- init + serve, waits for /healthz, logs admin in
-- local status, json, raw, headers = srv:request("GET", "/healthz")
-- local status, json = srv:api("GET", "/systems")          -- /api/v1 prefix, admin token
-- local status, json = srv:api("GET", "/systems", nil, false)  -- no token
-- srv:stop() (SIGTERM; returns the exit code), srv:kill9(), srv:restart(), srv:cleanup()
-- srv:set_clock("2026-12-01T06:00:30Z")      -- the test clock (serve --clock); admin again
-- srv:wait_run(id), srv:job_runs("reports"), srv:wait_job_runs("reports", 2)   -- the scheduler
-- H.wait_for("what", seconds, fn)            -- fn's first true value, or fails naming what
-- H.sql(db, "SELECT ..."), H.sql_rows(db, "SELECT ...")   -- the sqlite3 command line
--
-- Environment: EVNE_BIN (absolute path of build/evne), EVNE_RULES (absolute rules folder).
-- Every wait is bounded in both count and time; a server that does not come up fails with the
-- tail of its log.
local socket = require "socket"
local json = require "dkjson"

local H = {}
H.json = json
H.null = json.null
H.QUESTION_PREFIX = "På en skala fra 0 til 4, i hvor stor grad er du i stand til å: "

local BIN = os.getenv("EVNE_BIN") or "build/evne"
local RULES = os.getenv("EVNE_RULES") or "rules"
H.BIN, H.RULES = BIN, RULES

local START_WAIT = 5.0   -- seconds for /healthz to answer
local STOP_WAIT = 10.0   -- seconds for the process to exit after a signal
local IO_TIMEOUT = 10.0  -- seconds per socket operation

local function q(s)
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end
H.shell_quote = q

-- Runs a shell command; returns its combined output and its exit code.
local function run(cmd)
  local f = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"__rc=$?\""))
  local out = f:read("*a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  out = out:gsub("__rc=%d+%s*$", "")
  return out, rc
end
H.run = run

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
H.read_file = read_file

local function tail(path, n)
  local s = read_file(path) or "(no log)"
  local lines = {}
  for line in s:gmatch("[^\n]*\n?") do
    if line ~= "" then lines[#lines + 1] = line end
  end
  local from = math.max(1, #lines - (n or 30) + 1)
  return table.concat(lines, "", from)
end
H.tail = tail

-- Calls fn every `every` seconds (0.05 by default) until it returns a true value, which it
-- returns; fails, naming `what`, when `seconds` have passed.
function H.wait_for(what, seconds, fn, every)
  local deadline = socket.gettime() + seconds
  for _ = 1, 1000000 do
    local v = fn()
    if v then return v end
    if socket.gettime() > deadline then break end
    socket.sleep(every or 0.05)
  end
  error(("waited %s s for %s"):format(seconds, what), 2)
end

-- A new folder /tmp/PREFIX.XXXXXX (PREFIX: evne-e2e unless given).
function H.mktemp_dir(prefix)
  local f = assert(io.popen("mktemp -d /tmp/" .. (prefix or "evne-e2e") .. ".XXXXXX"))
  local d = f:read("*l")
  f:close()
  assert(d and d ~= "", "mktemp -d failed")
  return d
end

-- Removes a folder a spec made, unless EVNE_E2E_KEEP is set (to look at it after the run).
function H.remove_dir(dir)
  if dir and not os.getenv("EVNE_E2E_KEEP") then run("rm -rf " .. q(dir)) end
end

-- Runs SQL with the sqlite3 command line on the database file db (also while the server runs:
-- WAL, and 5 s of waiting for a lock); returns what it printed, without the white space at the
-- end.
function H.sql(db, text)
  local out, rc = run(("sqlite3 -cmd '.timeout 5000' %s %s"):format(q(db), q(text)))
  assert(rc == 0, "sqlite3: " .. out)
  return (out:gsub("%s+$", ""))
end

-- H.sql's rows as tables of column = value (sqlite3 -json).
function H.sql_rows(db, text)
  local out, rc = run(("sqlite3 -json -cmd '.timeout 5000' %s %s"):format(q(db), q(text)))
  assert(rc == 0, "sqlite3: " .. out)
  if out:match("^%s*$") then return {} end
  return assert(H.decode(out), "sqlite3 -json: " .. out)
end

function H.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return assert(tonumber(port))
end

local seq = 0
function H.unique(prefix)
  seq = seq + 1
  return ("%s%d-%d"):format(prefix or "u", seq, math.random(100000, 999999))
end

-- A JSON object even when empty (dkjson writes an empty table as []).
function H.object(t)
  return setmetatable(t or {}, { __jsontype = "object" })
end

-- {[requirement_id]=level} -> {"<requirement_id>": level}
function H.levels(map)
  local o = H.object()
  for k, v in pairs(map or {}) do o[tostring(k)] = v end
  return o
end

-- ---------------------------------------------------------------------------------------------
-- HTTP over raw lua-socket

-- Reads one answer from sock. Returns {status, headers (lower-cased names), body, reason} or nil
-- and an error ("closed", "timeout", or a description).
function H.read_response(sock, method)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  local status, reason = line:match("^HTTP/1%.%d (%d%d%d) ?(.*)$")
  if not status then return nil, "bad status line: " .. line end
  status = tonumber(status)
  local headers = {}
  for _ = 1, 200 do
    local h, e = sock:receive("*l")
    if not h then return nil, e end
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    if k then
      k = k:lower()
      headers[k] = headers[k] and (headers[k] .. ", " .. v) or v
    end
  end
  local body = ""
  if method == "HEAD" or status == 204 or status == 304 or status < 200 then
    body = ""
  elseif headers["transfer-encoding"] and headers["transfer-encoding"]:lower():find("chunked") then
    local parts = {}
    for _ = 1, 100000 do
      local size_line, e = sock:receive("*l")
      if not size_line then return nil, e end
      local size = tonumber(size_line:match("^%x+"), 16)
      if not size then return nil, "bad chunk size: " .. size_line end
      if size == 0 then
        for _ = 1, 200 do
          local t = sock:receive("*l")
          if not t or t == "" then break end
        end
        break
      end
      local chunk, e2 = sock:receive(size)
      if not chunk then return nil, e2 end
      parts[#parts + 1] = chunk
      sock:receive("*l")
    end
    body = table.concat(parts)
  elseif headers["content-length"] then
    local n = tonumber(headers["content-length"])
    if not n then return nil, "bad content-length" end
    if n > 0 then
      local b, e, partial = sock:receive(n)
      if not b then return nil, e .. " after " .. #(partial or "") .. " body bytes" end
      body = b
    end
  else
    local b, e, partial = sock:receive("*a")
    body = b or partial or ""
    if not b and e ~= "closed" then return nil, e end
  end
  return { status = status, reason = reason, headers = headers, body = body }
end

function H.decode(raw)
  if raw == nil or raw == "" then return nil end
  local obj, _, err = json.decode(raw, 1, json.null)
  if err then return nil end
  return obj
end

-- Builds the bytes of one request. body: a table (JSON-encoded), a string (sent as is) or nil.
function H.build_request(method, path, body, token, extra)
  local payload
  if type(body) == "table" then
    payload = json.encode(body)
  elseif type(body) == "string" then
    payload = body
  end
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: 127.0.0.1",
                  "Accept: application/json" }
  if token then lines[#lines + 1] = "Authorization: Bearer " .. token end
  if payload then
    lines[#lines + 1] = "Content-Type: application/json"
    lines[#lines + 1] = "Content-Length: " .. #payload
  elseif method == "POST" or method == "PUT" or method == "PATCH" then
    lines[#lines + 1] = "Content-Length: 0"
  end
  for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (payload or "")
end

-- ---------------------------------------------------------------------------------------------
-- The server

local Server = {}
Server.__index = Server

-- opts: request_timeout (s), idle_timeout (s), max_connections, args (extra serve arguments)
function H.start(opts)
  local self = setmetatable({ opts = opts or {}, runs = 0, passwords = {} }, Server)
  self.dir = H.mktemp_dir()
  self.db = self.dir .. "/evne.db"
  self.log = self.dir .. "/stderr.log"
  self.out = self.dir .. "/stdout.log"
  self.admin_login = "admin"
  self.admin_password = "Admin-pw-" .. math.random(100000, 999999)
  local out, rc = run(("%s init --db %s --admin-login %s --admin-password %s"):format(
    q(BIN), q(self.db), q(self.admin_login), q(self.admin_password)))
  if rc ~= 0 then
    local dir = self.dir
    run("rm -rf " .. q(dir))
    error(("evne init failed (exit %s): %s"):format(tostring(rc), out), 2)
  end
  self.passwords[self.admin_login] = self.admin_password
  self:launch()
  return self
end

function Server:rc_file() return ("%s/rc.%d"):format(self.dir, self.runs) end

-- The exit code of the current run, or nil while it runs.
function Server:exit_code()
  local s = read_file(self:rc_file())
  return s and tonumber(s:match("%d+")) or nil
end

function Server:running() return self.pid ~= nil and self:exit_code() == nil end

function Server:launch()
  local last_err
  for _ = 1, 3 do
    self.runs = self.runs + 1
    self.port = H.free_port()
    local args = { "serve", "--db", q(self.db), "--host", "127.0.0.1", "--port", self.port,
                   "--rules", q(RULES) }
    if self.opts.request_timeout then
      args[#args + 1] = "--request-timeout " .. self.opts.request_timeout
    end
    if self.opts.idle_timeout then
      args[#args + 1] = "--idle-timeout " .. self.opts.idle_timeout
    end
    if self.opts.max_connections then
      args[#args + 1] = "--max-connections " .. self.opts.max_connections
    end
    for _, a in ipairs(self.opts.args or {}) do args[#args + 1] = q(a) end
    local rc = self:rc_file()
    -- The subshell stays behind as evne's parent, so it can record the exit code.
    local cmd = ("(%s %s >>%s 2>>%s </dev/null & echo $!; exec >/dev/null 2>&1; wait $!; "
                 .. "echo $? >%s.tmp; mv %s.tmp %s) &"):format(
      q(BIN), table.concat(args, " "), q(self.out), q(self.log), q(rc), q(rc), q(rc))
    local f = assert(io.popen(cmd))
    local pid = tonumber(f:read("*l"))
    f:close()
    assert(pid, "could not start evne")
    self.pid = pid
    local ok, err = self:wait_healthy(START_WAIT)
    if ok then
      self:relogin()
      return
    end
    last_err = err
    local log = read_file(self.log) or ""
    if self:running() then self:kill9() end
    if not (log:lower():find("in use") or log:find("EADDRINUSE")) then break end
  end
  error(("evne serve did not come up: %s\n--- server log tail ---\n%s"):format(
    tostring(last_err), tail(self.log, 40)), 3)
end

function Server:wait_healthy(seconds)
  local deadline = socket.gettime() + seconds
  local last = "no answer"
  for _ = 1, 1000 do
    if self:exit_code() then return false, "exited with code " .. self:exit_code() end
    local ok, status, body = pcall(function()
      local s, _, raw = self:request("GET", "/healthz", nil, nil, nil, 1.0)
      return s, raw
    end)
    if ok and status == 200 then
      local d = H.decode(body)
      if d and d.status == "ok" then return true end
      last = "healthz answered " .. tostring(body)
    elseif ok then
      last = "healthz answered " .. tostring(status)
    else
      last = tostring(status)
    end
    if socket.gettime() > deadline then break end
    socket.sleep(0.05)
  end
  return false, last
end

-- Waits (bounded) until the process has exited; returns its exit code or nil on timeout.
function Server:wait_exit(seconds)
  local deadline = socket.gettime() + (seconds or STOP_WAIT)
  for _ = 1, 10000 do
    local rc = self:exit_code()
    if rc then return rc end
    if socket.gettime() > deadline then return nil end
    socket.sleep(0.02)
  end
  return nil
end

function Server:signal(sig)
  assert(self.pid, "no server process")
  os.execute(("kill -%s %d 2>/dev/null"):format(sig, self.pid))
end

-- SIGTERM and wait; returns the exit code (nil when it would not stop; it is then killed).
function Server:stop(seconds)
  if not self:running() then return self:exit_code() end
  self:signal("TERM")
  local rc = self:wait_exit(seconds or STOP_WAIT)
  if not rc then
    self:signal("KILL")
    self:wait_exit(STOP_WAIT)
  end
  return rc
end

function Server:kill9()
  if not self:running() then return self:exit_code() end
  self:signal("KILL")
  return self:wait_exit(STOP_WAIT)
end

-- Starts the server again on the same database (stopping it first if it runs).
function Server:restart()
  if self:running() then self:stop() end
  self:launch()
end

-- Findings of AddressSanitizer, LeakSanitizer or UBSan in the server's log (make check).
function Server:sanitizer_report()
  local log = read_file(self.log) or ""
  local at = log:find("ERROR: AddressSanitizer", 1, true) or log:find("ERROR: LeakSanitizer", 1, true)
    or log:find("runtime error:", 1, true)
  if at then return log:sub(math.max(1, at - 200), at + 3000) end
  return nil
end

-- Stops the server gracefully (SIGTERM), removes its folder, and fails when the server did not
-- exit 0 or a sanitizer reported something; the folder is then kept for a look.
function Server:cleanup()
  local rc = self:exit_code()
  if self.pid and self:running() then rc = self:stop() end
  local report = self:sanitizer_report()
  local problem
  if report then
    problem = "sanitizer report in the server log:\n" .. report
  elseif rc ~= 0 and rc ~= 137 then -- 137: a test's own kill -9
    problem = ("the server exited with %s at the end\n%s"):format(tostring(rc), tail(self.log, 20))
  end
  if problem then
    error(problem .. "\n(kept " .. self.dir .. ")", 2)
  end
  if not os.getenv("EVNE_E2E_KEEP") then run("rm -rf " .. q(self.dir)) end
end

function Server:relogin()
  local status, body = self:request("POST", "/api/v1/session",
    { login = self.admin_login, password = self.admin_password })
  if status ~= 201 or type(body) ~= "table" or type(body.token) ~= "string" then
    error(("admin login answered %s: %s"):format(tostring(status), H.json.encode(body)), 2)
  end
  self.admin_token = body.token
  self.admin_id = body.employee_id
end

function Server:connect(timeout)
  local sock = socket.tcp()
  sock:settimeout(timeout or IO_TIMEOUT)
  local ok, err = sock:connect("127.0.0.1", self.port)
  if not ok then
    sock:close()
    error("connect to 127.0.0.1:" .. tostring(self.port) .. ": " .. tostring(err), 2)
  end
  return sock
end

-- One request on a fresh connection (Connection: close).
-- Returns status, decoded JSON (nil if none; JSON null is H.null), raw body, headers.
function Server:request(method, path, body, token, extra_headers, timeout)
  local extra = { "Connection: close" }
  for _, h in ipairs(extra_headers or {}) do extra[#extra + 1] = h end
  local sock = self:connect(timeout)
  local ok, err = sock:send(H.build_request(method, path, body, token, extra))
  if not ok then
    sock:close()
    error(("%s %s: send failed: %s"):format(method, path, tostring(err)), 2)
  end
  local resp, rerr = H.read_response(sock, method)
  sock:close()
  if not resp then error(("%s %s: no answer (%s)"):format(method, path, tostring(rerr)), 2) end
  return resp.status, H.decode(resp.body), resp.body, resp.headers
end

-- Like request with the /api/v1 prefix; token nil means the admin's, false means none.
function Server:api(method, path, body, token)
  if token == nil then token = self.admin_token end
  return self:request(method, "/api/v1" .. path, body, token or nil)
end

-- api() that insists on a status; returns the decoded body. Fails with what came instead.
function Server:expect(want, method, path, body, token)
  local status, data, raw = self:api(method, path, body, token)
  if status ~= want then
    error(("%s /api/v1%s: expected %d, got %d: %s"):format(method, path, want, status,
      tostring(raw)), 2)
  end
  return data
end

function Server:login(login, password)
  password = password or self.passwords[login]
  local status, body, raw = self:request("POST", "/api/v1/session",
    { login = login, password = password })
  if status ~= 201 or type(body) ~= "table" or type(body.token) ~= "string" then
    error(("login %s answered %d: %s"):format(login, status, tostring(raw)), 2)
  end
  return body.token, body
end

-- Moves the test clock of a server started with --clock to t (an ISO UTC time, or seconds since
-- the epoch), checks that it took it, and logs the admin in again: the session from before a jump
-- of days has expired. Returns the ISO time.
function Server:set_clock(t)
  local iso = type(t) == "number" and os.date("!%Y-%m-%dT%H:%M:%SZ", t) or t
  local body = self:expect(200, "POST", "/admin/clock", { now = iso })
  if body.now ~= iso then
    error(("POST /admin/clock %s: the clock says %s"):format(iso, tostring(body.now)), 2)
  end
  self:relogin()
  return iso
end

-- The runs of the job `name` among the newest 100 of GET /admin/jobs, newest first.
function Server:job_runs(name)
  local runs = {}
  for _, r in ipairs(self:expect(200, "GET", "/admin/jobs?limit=100").runs) do
    if r.job == name then runs[#runs + 1] = r end
  end
  return runs
end

-- Waits until the job `name` has `count` runs and the newest has ended; returns the runs, newest
-- first.
function Server:wait_job_runs(name, count, seconds)
  return H.wait_for(("%d runs of the job %s"):format(count, name), seconds or 30, function()
    local runs = self:job_runs(name)
    return #runs >= count and runs[1].state ~= "running" and runs
  end)
end

-- Waits until the job run `id` has ended; returns it.
function Server:wait_run(id, seconds)
  return H.wait_for("run " .. id .. " to end", seconds or 30, function()
    local r = self:expect(200, "GET", "/admin/jobs/runs/" .. id)
    return r.state ~= "running" and r
  end)
end

-- ---------------------------------------------------------------------------------------------
-- Entity helpers (as admin unless a token is given); each returns the id and the object.

function Server:department(name, parent_id, manager_id, token)
  local b = { name = name or H.unique("Avdeling ") }
  if parent_id then b.parent_id = parent_id end
  if manager_id then b.manager_id = manager_id end
  local d = self:expect(201, "POST", "/departments", b, token)
  return d.id, d
end

-- t: department_id (required), name, employee_number, email, login, password, roles
function Server:employee(t, token)
  t = t or {}
  local n = H.unique("E")
  local b = {
    employee_number = t.employee_number or n,
    name = t.name or ("Ansatt " .. n),
    email = t.email or (n:lower() .. "@example.no"),
    department_id = assert(t.department_id, "employee needs department_id"),
  }
  if t.login ~= false then
    b.login = t.login or n:lower()
    b.password = t.password or ("pw-" .. n)
    self.passwords[b.login] = b.password
  end
  if t.roles then b.roles = t.roles end
  local e = self:expect(201, "POST", "/employees", b, token)
  return e.id, e, b.login
end

function Server:system(name, token)
  local s = self:expect(201, "POST", "/systems",
    { name = name or H.unique("System "), description = "e2e" }, token)
  return s.id, s
end

function Server:requirement(system_id, text, position, token)
  local b = { text = text or H.unique("Krav ") }
  if position then b.position = position end
  local r = self:expect(201, "POST", "/systems/" .. system_id .. "/requirements", b, token)
  return r.id, r
end

function Server:profile(name, system_id, levels, token)
  local b = { name = name or H.unique("Profil "), levels = H.levels(levels) }
  if system_id then b.system_id = system_id end
  local p = self:expect(201, "POST", "/profiles", b, token)
  return p.id, p
end

function Server:assign(employee_id, profile_ids, token)
  local ids = setmetatable({}, { __jsontype = "array" })
  for i, v in ipairs(profile_ids) do ids[i] = v end
  return self:expect(200, "PUT", "/employees/" .. employee_id .. "/profiles",
    { profile_ids = ids }, token)
end

function Server:assess(employee_id, source, levels, token, note)
  local b = { source = source, levels = H.levels(levels) }
  if note then b.note = note end
  return self:expect(201, "POST", "/employees/" .. employee_id .. "/assessments", b, token)
end

function Server:history(employee_id, token)
  return self:expect(200, "GET", "/employees/" .. employee_id .. "/assessments", nil, token).items
end

-- Asserts the error shape and returns the error object.
function H.check_error(status, body, want_status, want_code, want_field)
  local where = H.json.encode(body)
  assert(status == want_status, ("expected status %d, got %d: %s"):format(want_status, status,
    where))
  assert(type(body) == "table" and type(body.error) == "table",
    "error body is not {\"error\":{...}}: " .. where)
  assert(type(body.error.message) == "string" and body.error.message ~= "",
    "error without a message: " .. where)
  if want_code then
    assert(body.error.code == want_code,
      ("expected error code %q, got %q"):format(want_code, tostring(body.error.code)))
  end
  if want_field then
    assert(body.error.field == want_field,
      ("expected error field %q, got %q"):format(want_field, tostring(body.error.field)))
  end
  return body.error
end

-- RFC 4180 CSV (quoted fields, "" escapes) -> list of rows (lists of strings).
function H.parse_csv(text)
  local rows, row, field = {}, {}, {}
  local inq = false
  local i, n = 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if inq then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then
          field[#field + 1] = '"'
          i = i + 1
        else
          inq = false
        end
      else
        field[#field + 1] = c
      end
    elseif c == '"' then
      inq = true
    elseif c == "," then
      row[#row + 1] = table.concat(field)
      field = {}
    elseif c == "\n" then
      row[#row + 1] = table.concat(field)
      field = {}
      rows[#rows + 1] = row
      row = {}
    elseif c ~= "\r" then
      field[#field + 1] = c
    end
    i = i + 1
  end
  if #field > 0 or #row > 0 then
    row[#row + 1] = table.concat(field)
    rows[#rows + 1] = row
  end
  return rows
end

function H.near(a, b, eps)
  return type(a) == "number" and type(b) == "number" and math.abs(a - b) <= (eps or 1e-9)
end

function H.ids(items)
  local s = {}
  for _, it in ipairs(items or {}) do s[#s + 1] = it.id end
  table.sort(s)
  return s
end

function H.sorted(t)
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  return c
end

math.randomseed(os.time() + math.floor((socket.gettime() % 1) * 1e6))

return H
