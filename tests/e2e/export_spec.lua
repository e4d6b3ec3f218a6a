-- The export over real HTTP and from the CLI: GET /api/v1/admin/export as JSON and as each CSV
-- table, checked against data made through the API (Norwegian letters, quotes and semicolons in
-- names, an assessment history, gaps and roll-ups as the API answers them), the BOM and the
-- decimal comma; who may export; streaming in chunks (HTTP/1.1) and to the connection's end
-- (HTTP/1.0), to a client that reads slowly; `evne export` writing the same.
local H = require "harness"
local socket = require "socket"
local q = H.shell_quote

-- GET path; returns status, headers, body and the number of chunks the body came in (0 when it
-- was not chunked).
local function get_raw(srv, path, token, http10, pause)
  local sock = srv:connect(60)
  local lines = { ("GET %s HTTP/%s"):format(path, http10 and "1.0" or "1.1"), "Host: 127.0.0.1",
                  "Connection: close" }
  if token ~= false then lines[#lines + 1] = "Authorization: Bearer " .. (token or srv.admin_token) end
  assert(sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n"))
  local status = tonumber(sock:receive("*l"):match("^HTTP/1%.%d (%d+)"))
  local headers = {}
  while true do
    local h = assert(sock:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    headers[k:lower()] = v
  end
  if pause then socket.sleep(pause) end
  local parts, chunks = {}, 0
  if (headers["transfer-encoding"] or ""):find("chunked") then
    while true do
      local size = tonumber(assert(sock:receive("*l")):match("^%x+"), 16)
      if size == 0 then
        sock:receive("*l")
        break
      end
      parts[#parts + 1] = assert(sock:receive(size))
      chunks = chunks + 1
      sock:receive("*l")
    end
  elseif headers["content-length"] then
    parts[1] = sock:receive(tonumber(headers["content-length"]))
  else
    local b, _, partial = sock:receive("*a")
    parts[1] = b or partial
  end
  sock:close()
  return status, headers, table.concat(parts), chunks
end

-- CSV text -> list of rows, each a list of cells (semicolons, quotes, CRLF).
local function csv_rows(text)
  local rows, row, cell, i, quoted = {}, {}, {}, 1, false
  while i <= #text do
    local c = text:sub(i, i)
    if quoted then
      if c == '"' and text:sub(i + 1, i + 1) == '"' then cell[#cell + 1] = '"'; i = i + 1
      elseif c == '"' then quoted = false
      else cell[#cell + 1] = c end
    elseif c == '"' then quoted = true
    elseif c == ";" then row[#row + 1] = table.concat(cell); cell = {}
    elseif c == "\r" and text:sub(i + 1, i + 1) == "\n" then
      row[#row + 1] = table.concat(cell); rows[#rows + 1] = row; row, cell = {}, {}; i = i + 1
    else cell[#cell + 1] = c end
    i = i + 1
  end
  return rows
end

-- The rows of a table as records keyed by the header's names.
local function records(text)
  assert.are.equal("\239\187\191", text:sub(1, 3), "no BOM")
  local rows = csv_rows(text:sub(4))
  local out = {}
  for r = 2, #rows do
    local rec = {}
    for c, name in ipairs(rows[1]) do rec[name] = rows[r][c] end
    out[#out + 1] = rec
  end
  return out, rows[1]
end

describe("the export", function()
  local srv, d, ids
  setup(function()
    srv = H.start()
    -- an organisation made through the API
    local _, root = srv:api("POST", "/departments", { name = "Øvre Årdal kommune" })
    local _, unit = srv:api("POST", "/departments", { name = "Pleie; omsorg", parent_id = root.id })
    local function employee(number, name, dept, extra)
      local body = { employee_number = number, name = name, email = number .. "@k.no",
                     department_id = dept }
      for k, v in pairs(extra or {}) do body[k] = v end
      local s, e = srv:api("POST", "/employees", body)
      assert(s == 201, H.json.encode(e))
      return e
    end
    local ase = employee("e1", "Åse Ødegård", unit.id, { login = "ase", password = "ase-passord-1" })
    local per = employee("e2", 'Per "Pelle" Hansen', unit.id)
    local rad = employee("e3", "Rådgiver Rå", root.id, { roles = { "employee", "adviser" },
                         login = "rad", password = "rad-passord-1" })
    local gone = employee("e4", "Gått Av", unit.id)
    assert.are.equal(200, (srv:api("PATCH", "/employees/" .. gone.id, { archived = true })))
    local _, sys = srv:api("POST", "/systems", { name = "Gerica" })
    local _, r1 = srv:api("POST", "/systems/" .. sys.id .. "/requirements", { text = "Føre journal; daglig" })
    local _, r2 = srv:api("POST", "/systems/" .. sys.id .. "/requirements", { text = "Skrive rapport" })
    local _, prof = srv:api("POST", "/profiles", { name = "Gerica 2", system_id = sys.id,
                                                   levels = H.levels({ [r1.id] = 3, [r2.id] = 2 }) })
    for _, e in ipairs({ ase, per }) do
      assert.are.equal(200, (srv:api("PUT", "/employees/" .. e.id .. "/profiles", { profile_ids = { prof.id } })))
    end
    local _, tok = srv:request("POST", "/api/v1/session", { login = "ase", password = "ase-passord-1" })
    assert.are.equal(201, (srv:api("POST", "/employees/" .. ase.id .. "/assessments",
      { source = "self", levels = H.levels({ [r1.id] = 1 }), note = "første gang" }, tok.token)))
    assert.are.equal(201, (srv:api("POST", "/employees/" .. ase.id .. "/assessments",
      { source = "self", levels = H.levels({ [r1.id] = 3, [r2.id] = 1 }) }, tok.token)))
    assert.are.equal(201, (srv:api("POST", "/employees/" .. ase.id .. "/assessments",
      { source = "appraisal", levels = H.levels({ [r2.id] = 2 }) })))
    d = { root = root, unit = unit, sys = sys, r1 = r1, r2 = r2, prof = prof }
    ids = { ase = ase, per = per, rad = rad, gone = gone }
  end)
  teardown(function() srv:cleanup() end)

  it("answers JSON with everything the API answers, streamed in chunks", function()
    local status, headers, body, chunks = get_raw(srv, "/api/v1/admin/export?format=json")
    assert.are.equal(200, status)
    assert.are.equal("chunked", headers["transfer-encoding"])
    assert.is_nil(headers["content-length"])
    assert.are.equal("application/json; charset=utf-8", headers["content-type"])
    assert.is_truthy(headers["content-disposition"]:match('^attachment; filename="evne%-export%-%d+%-%d+%-%d+%.json"$'))
    assert.is_true(chunks >= 1)
    local x = H.decode(body)
    assert.are.equal("evne-export", x.format)
    local by = {}
    for _, e in ipairs(x.employees) do by[e.employee_number] = e end
    assert.are.equal(5, #x.employees)   -- the admin, and e1 to e4 (the archived one too)
    assert.are.equal("Åse Ødegård", by.e1.name)
    assert.are.equal('Per "Pelle" Hansen', by.e2.name)
    assert.are.same({ "employee", "adviser" }, by.e3.roles)
    assert.is_true(by.e4.archived)
    assert.are.equal(H.null, by.e4.summary)
    assert.are.same({ d.prof.id }, by.e1.profile_ids)
    -- the whole history, oldest first
    local _, hist = srv:api("GET", "/employees/" .. ids.ase.id .. "/assessments")
    assert.are.equal(#hist.items, #by.e1.assessments)
    assert.are.equal(4, #by.e1.assessments)
    assert.are.equal(1, by.e1.assessments[1].level)
    assert.are.equal("første gang", by.e1.assessments[1].note)
    assert.are.equal("appraisal", by.e1.assessments[4].source)
    -- gaps and summaries as the API answers them
    for _, who in ipairs({ "e1", "e2", "e3" }) do
      local _, g = srv:api("GET", "/employees/" .. by[who].id .. "/gaps")
      assert.are.same(g.items, by[who].gaps)
      assert.are.same(g.summary.open_gaps, by[who].summary.open_gaps)
      assert.are.same(g.summary.coverage, by[who].summary.coverage)
    end
    -- roll-ups as GET /gaps answers them
    for _, dim in ipairs({ "department", "profile", "system", "requirement" }) do
      local _, g = srv:api("GET", "/gaps?by=" .. dim)
      assert.are.same(g.items, x.rollups[dim], dim)
    end
    -- the catalogue and the tree
    local names = {}
    for _, dep in ipairs(x.departments) do names[dep.id] = dep end
    assert.are.equal("Pleie; omsorg", names[d.unit.id].name)
    assert.are.equal(d.root.id, names[d.unit.id].parent_id)
    assert.are.equal(2, #x.requirements)
    assert.are.equal("Føre journal; daglig", x.requirements[1].text)
    assert.are.equal(3, x.profiles[1].levels[tostring(d.r1.id)])
  end)

  it("answers each CSV table, with a BOM, semicolons and a decimal comma", function()
    local status, headers, body = get_raw(srv, "/api/v1/admin/export?format=csv")
    assert.are.equal(200, status)
    assert.are.equal("text/csv; charset=utf-8", headers["content-type"])
    assert.is_truthy(headers["content-disposition"]:find("evne-employees-", 1, true))
    local emps, header = records(body)
    assert.are.same({ "employee_number", "name", "email", "department_code", "department_name",
      "position_title", "roles", "active", "profiles", "demanded", "open_gaps", "gap_sum",
      "unassessed", "coverage" }, header)
    local by = {}
    for _, e in ipairs(emps) do by[e.employee_number] = e end
    assert.are.equal('Per "Pelle" Hansen', by.e2.name)
    assert.is_truthy(body:find('"Per ""Pelle"" Hansen"', 1, true))
    assert.are.equal("Pleie; omsorg", by.e1.department_name)
    assert.are.equal("employee adviser", by.e3.roles)
    assert.are.equal("0", by.e4.active)
    assert.are.equal("", by.e4.coverage)
    assert.are.equal("Gerica 2", by.e1.profiles)
    local _, g = srv:api("GET", "/employees/" .. ids.per.id .. "/gaps")
    assert.are.equal(tostring(g.summary.open_gaps), by.e2.open_gaps)
    assert.are.equal(("%.4f"):format(g.summary.coverage):gsub("%.", ","), by.e2.coverage)

    local _, _, text = get_raw(srv, "/api/v1/admin/export?format=csv&table=assessments")
    local rows = records(text)
    assert.are.equal(4, #rows)
    assert.are.equal("Åse Ødegård", rows[1].employee_name)
    assert.are.equal("Føre journal; daglig", rows[1].requirement)
    assert.are.equal("første gang", rows[1].note)
    assert.are.equal("Gerica", rows[1].system)
    assert.are.equal("e1", rows[1].recorded_by)
    assert.is_truthy(rows[1].recorded_at:match("^%d+%-%d+%-%d+T%d+:%d+:%d+Z$"))

    _, _, text = get_raw(srv, "/api/v1/admin/export?format=csv&table=gaps")
    rows = records(text)
    local _, ga = srv:api("GET", "/employees/" .. ids.ase.id .. "/gaps")
    local mine = {}
    for _, r in ipairs(rows) do
      if r.employee_number == "e1" then mine[#mine + 1] = r end
    end
    assert.are.equal(#ga.items, #mine)
    for i, cell in ipairs(ga.items) do
      assert.are.equal(tostring(cell.requirement_id), mine[i].requirement_id)
      assert.are.equal(tostring(cell.gap), mine[i].gap)
      assert.are.equal(tostring(cell.actual), mine[i].actual)
      assert.are.equal(cell.class, mine[i].class)
    end

    _, _, text = get_raw(srv, "/api/v1/admin/export?format=csv&table=rollups")
    rows = records(text)
    local _, gd = srv:api("GET", "/gaps?by=department")
    local found = 0
    for _, r in ipairs(rows) do
      for _, api_row in ipairs(gd.items) do
        if r.dimension == "department" and r.id == tostring(api_row.id) then
          assert.are.equal(api_row.name, r.name)
          assert.are.equal(tostring(api_row.gap_sum), r.gap_sum)
          assert.are.equal((("%.4f"):format(api_row.coverage):gsub("%.", ",")), r.coverage)
          found = found + 1
        end
      end
    end
    assert.are.equal(#gd.items, found)

    _, _, text = get_raw(srv, "/api/v1/admin/export?format=csv&table=departments")
    rows = records(text)
    local unit
    for _, r in ipairs(rows) do if r.name == "Pleie; omsorg" then unit = r end end
    assert.are.equal(tostring(d.root.id), unit.parent_id)
    assert.are.equal("2", unit.employees)   -- e1 and e2 (e4 is archived; e3 is in the root)
  end)

  it("is for admins and advisers, and names a bad parameter", function()
    local _, rad = srv:request("POST", "/api/v1/session", { login = "rad", password = "rad-passord-1" })
    local _, ase = srv:request("POST", "/api/v1/session", { login = "ase", password = "ase-passord-1" })
    assert.are.equal(200, (get_raw(srv, "/api/v1/admin/export?format=csv&table=gaps", rad.token)))
    assert.are.equal(403, (get_raw(srv, "/api/v1/admin/export", ase.token)))
    assert.are.equal(401, (get_raw(srv, "/api/v1/admin/export", false)))
    local s, body = srv:api("GET", "/admin/export?format=xml")
    assert.are.equal(422, s)
    assert.are.equal("format", body.error.field)
    s, body = srv:api("GET", "/admin/export?format=csv&table=salaries")
    assert.are.equal(422, s)
    assert.are.equal("table", body.error.field)
    s, body = srv:api("GET", "/admin/export?format=json&table=gaps")
    assert.are.equal(422, s)
    assert.are.equal("table", body.error.field)
  end)

  it("streams many chunks to a slow reader, and to HTTP/1.0 until the connection ends", function()
    -- enough people for a body of many pieces
    local rows = { "ansattnummer;navn;epost;avdelingskode" }
    local function import(csv)
      local sock = srv:connect(60)
      sock:send(("POST /api/v1/admin/import?partial=true HTTP/1.1\r\nHost: x\r\n"
        .. "Connection: close\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\n"
        .. "Content-Length: %d\r\n\r\n%s"):format(srv.admin_token, #csv, csv))
      local resp = H.read_response(sock, "POST")
      sock:close()
      return resp.status
    end
    assert.are.equal(200, import("kode;navn\r\nSTRØM;Strømavdelingen\r\n"))
    for i = 1, 3000 do
      rows[#rows + 1] = ("s%d;Strøm Ansatt %d;s%d@k.no;STRØM"):format(i, i, i)
    end
    assert.are.equal(200, import(table.concat(rows, "\r\n") .. "\r\n"))

    local status, _, body, chunks = get_raw(srv, "/api/v1/admin/export?format=json", nil, false, 1.0)
    assert.are.equal(200, status)
    assert.is_true(chunks > 5, "chunks: " .. chunks)
    local x = H.decode(body)
    assert.are.equal(3005, #x.employees)
    -- the server served others while that was being read
    assert.are.equal(200, (srv:request("GET", "/healthz")))

    local headers
    status, headers, body = get_raw(srv, "/api/v1/admin/export?format=csv", nil, true)
    assert.are.equal(200, status)
    assert.is_nil(headers["transfer-encoding"])
    assert.are.equal("close", headers.connection)
    assert.are.equal(3005, #records(body))
  end)

  it("writes the same from the command line", function()
    local _, _, api_body = get_raw(srv, "/api/v1/admin/export?format=csv&table=gaps")
    local out, rc = H.run(("%s export --db %s --format csv --table gaps --rules %s 2>/dev/null"):format(
      q(H.BIN), q(srv.db), q(H.RULES)))
    assert.are.equal(0, rc)
    assert.are.equal(api_body, out)
    out, rc = H.run(("%s export --db %s --rules %s 2>/dev/null"):format(q(H.BIN), q(srv.db), q(H.RULES)))
    assert.are.equal(0, rc)
    local x = H.decode(out)
    assert.are.equal("evne-export", x.format)
    local _, _, api_json = get_raw(srv, "/api/v1/admin/export?format=json")
    local y = H.decode(api_json)
    x.exported_at, y.exported_at = nil, nil
    assert.are.same(y, x)
    out, rc = H.run(("%s export --db %s --format csv --table nothing"):format(q(H.BIN), q(srv.db)))
    assert.are.equal(2, rc)
    assert.is_truthy(out:find("--table: 'table' is employees, departments", 1, true), out)
  end)
end)

describe("a streamed export to a client that stops reading", function()
  it("is let go after the idle timeout without progress, and the server serves on", function()
    local srv = H.start({ idle_timeout = 1 })
    local function import(csv)
      local sock = srv:connect(60)
      sock:send(("POST /api/v1/admin/import?partial=true HTTP/1.1\r\nHost: x\r\n"
        .. "Connection: close\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\n"
        .. "Content-Length: %d\r\n\r\n%s"):format(srv.admin_token, #csv, csv))
      local resp = H.read_response(sock, "POST")
      sock:close()
      return resp.status
    end
    assert.are.equal(200, import("kode;navn\r\nS;Strøm\r\n"))
    local rows = { "ansattnummer;navn;epost;avdelingskode" }
    for i = 1, 20000 do rows[#rows + 1] = ("s%d;Strøm Ansatt %d;s%d@k.no;S"):format(i, i, i) end
    assert.are.equal(200, import(table.concat(rows, "\r\n") .. "\r\n"))
    -- a client with a tiny receive buffer that reads nothing for 4 s, then all there is
    local script = srv.dir .. "/stall.py"
    local f = assert(io.open(script, "w"))
    f:write(([[
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", %d))
s.sendall(b"GET /api/v1/admin/export?format=json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n")
time.sleep(4)
s.settimeout(10)
data = b""
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    data += d
print(len(data), "complete" if data.endswith(b"\r\n0\r\n\r\n") else "cut")
]]):format(srv.port, srv.admin_token))
    f:close()
    local out, rc = H.run("python3 " .. q(script))
    assert.are.equal(0, rc, out)
    local bytes, how = out:match("(%d+) (%a+)")
    assert.are.equal("cut", how, out)
    assert.is_true(tonumber(bytes) > 0)
    assert.are.equal(200, (srv:request("GET", "/healthz")))
    -- the same export read at once is whole
    local status, _, body = get_raw(srv, "/api/v1/admin/export?format=json")
    assert.are.equal(200, status)
    assert.are.equal(20001, #H.decode(body).employees)   -- and the admin
    srv:cleanup()
  end)
end)
