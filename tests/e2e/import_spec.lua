-- The HR import over real HTTP and through the CLI: POST /api/v1/admin/import (dry run and
-- commit, one CSV body or a multipart form of two files), every kind of problem refused with its
-- line, column and reason and nothing written, a second import changing nothing, deactivation
-- shown in the preview and done, moved employees (and the gap roll-ups following them), file
-- variants (BOM, semicolons, commas, quotes, æøå), 5,000 employees through the API and 50,000
-- through `evne import`.
local H = require "harness"
local q = H.shell_quote

-- POST a body as it is, with its own Content-Type. Returns status, decoded JSON, raw body.
local function post(srv, path, body, content_type, token)
  local sock = srv:connect(60)
  local head = { ("POST %s HTTP/1.1"):format(path), "Host: 127.0.0.1", "Connection: close",
                 "Content-Type: " .. content_type, "Content-Length: " .. #body }
  if token ~= false then head[#head + 1] = "Authorization: Bearer " .. (token or srv.admin_token) end
  assert(sock:send(table.concat(head, "\r\n") .. "\r\n\r\n" .. body))
  local resp, err = H.read_response(sock, "POST")
  sock:close()
  assert(resp, "no answer: " .. tostring(err))
  return resp.status, H.decode(resp.body), resp.body
end

local function import(srv, csv, query, token)
  return post(srv, "/api/v1/admin/import" .. (query or ""), csv, "text/csv; charset=utf-8", token)
end

local function multipart(files)
  local boundary = "----evne" .. math.random(100000, 999999)
  local parts = {}
  for _, f in ipairs(files) do
    parts[#parts + 1] = ("--%s\r\nContent-Disposition: form-data; name=%q; filename=%q\r\n"
      .. "Content-Type: text/csv\r\n\r\n%s\r\n"):format(boundary, f[1], f[2], f[3])
  end
  return table.concat(parts) .. "--" .. boundary .. "--\r\n",
    "multipart/form-data; boundary=" .. boundary
end

local function employees(srv)
  local status, body = srv:api("GET", "/employees?include_archived=true")
  assert.are.equal(200, status)
  local by = {}
  for _, e in ipairs(body.items) do by[e.employee_number] = e end
  return by, #body.items
end

local function departments(srv)
  local status, body = srv:api("GET", "/departments")
  assert.are.equal(200, status)
  local by_name, by_id = {}, {}
  for _, d in ipairs(body.items) do
    by_name[d.name] = d
    by_id[d.id] = d
  end
  return by_name, by_id, #body.items
end

local DEPTS = "\239\187\191Avdelingskode;Navn;Overordnet;Leder\r\n"
  .. "K;Kommunen;;\r\n"
  .. "HO;Helse og omsorg;K;1001\r\n"
  .. "SK;\"Skole; oppvekst\";K;\r\n"
local DEPTS_ALONE = DEPTS:gsub(";1001\r\n", ";\r\n")   -- its manager comes with EMPS
local EMPS = "Ansattnummer;Navn;E-post;Avdelingskode;Stilling;Roller;Aktiv\r\n"
  .. "1001;Åse Ødegård;ase@k.no;HO;Enhetsleder;leder;ja\r\n"
  .. "1002;\"Per \"\"Pelle\"\" Hansen\";per@k.no;SK;\"Lærer; 80 %\";;1\r\n"
  .. "1003;Kari Berg;kari@k.no;HO;;rådgiver;\r\n"

describe("the HR import API", function()
  local srv
  before_each(function() srv = H.start() end)
  after_each(function() srv:cleanup() end)

  it("previews, then writes both files in one go, and a second import changes nothing", function()
    local body, ctype = multipart({ { "departments", "avdelinger.csv", DEPTS },
                                    { "employees", "ansatte.csv", EMPS } })
    local status, rep = post(srv, "/api/v1/admin/import?dry_run=true", body, ctype)
    assert.are.equal(200, status)
    assert.is_true(rep.dry_run)
    assert.is_false(rep.committed)
    assert.are.equal(3, rep.summary.departments_added)
    assert.are.equal(3, rep.summary.employees_added)
    assert.are.equal(6, rep.summary.changes)
    assert.are.equal(0, rep.summary.problems)
    assert.are.equal("admin", rep.employees.kept[1].employee_number)
    assert.are.equal("departments", rep.files[1].kind)
    assert.is_true(rep.files[1].bom)
    assert.are.equal(";", rep.files[2].delimiter)
    local _, n = employees(srv)
    assert.are.equal(1, n)   -- a dry run writes nothing

    status, rep = post(srv, "/api/v1/admin/import", body, ctype)
    assert.are.equal(200, status)
    assert.is_true(rep.committed)
    local by = employees(srv)
    local depts, by_id = departments(srv)
    assert.are.equal("Åse Ødegård", by["1001"].name)
    assert.are.equal('Per "Pelle" Hansen', by["1002"].name)
    assert.are.equal(depts["Skole; oppvekst"].id, by["1002"].department_id)
    assert.are.equal(depts["Helse og omsorg"].id, by["1003"].department_id)
    assert.are.same({ "employee", "adviser" }, by["1003"].roles)
    -- the tree and its manager, and the manager's role through being one
    assert.are.equal("Kommunen", by_id[depts["Helse og omsorg"].parent_id].name)
    assert.are.equal(by["1001"].id, depts["Helse og omsorg"].manager_id)
    assert.are.same({ "employee", "manager" }, by["1001"].roles)
    -- the roll-up of the new department counts its new people
    local s, gaps = srv:api("GET", "/gaps?by=department&department_id=" .. depts["Helse og omsorg"].id)
    assert.are.equal(200, s)
    assert.are.equal(2, gaps.items[1].employees)

    -- the same files again: nothing changes
    status, rep = post(srv, "/api/v1/admin/import", body, ctype)
    assert.are.equal(200, status)
    assert.are.equal(0, rep.summary.changes)
    assert.are.equal(3, rep.summary.employees_unchanged)
    local again = employees(srv)
    assert.are.same(by, again)
    -- the audit trail has the import
    local out = H.run(("sqlite3 %s \"SELECT count(*) FROM audit WHERE action = 'import'\""):format(
      q(srv.db)))
    assert.are.equal("2", out:match("%d+"))
  end)

  it("refuses every kind of problem with its line, column and reason, and writes nothing", function()
    assert.are.equal(200, (import(srv, DEPTS_ALONE)))
    local _, before = employees(srv)
    local _, _, ndepts = departments(srv)
    local files = {
      { "avd.csv", "code,name,parent_code,manager_employee_number\n"
        .. "A,Alfa,B,\n"                       -- 2: cycle
        .. "B,Beta,A,\n"                       -- 3: cycle
        .. "C,Gamma,X,\n"                      -- 4: unknown parent
        .. "C,Gamma2,,\n"                      -- 5: duplicate code
        .. "D,Delta,,9999\n"                   -- 6: unknown manager
        .. "E,,,\n" },                         -- 7: missing name
      { "ans.csv", "employee_number,name,email,department_code,position_title,roles,active\n"
        .. "2001,Ola,ola@k.no,ZZ,,,\n"         -- 2: unknown department
        .. "2001,Ola2,ola2@k.no,HO,,,\n"       -- 3: duplicate employee number
        .. "2002,Kari,kari.k.no,HO,,,\n"       -- 4: malformed e-mail
        .. "2003,,x@k.no,HO,,,\n"              -- 5: missing name
        .. "2004,Nils,n@k.no,HO,,sjef,\n"      -- 6: bad roles
        .. "2005,Mia,m@k.no,HO,,,kanskje\n"    -- 7: bad active
        .. "2006,\230\248,l@k.no,HO,,,\n" },   -- 8: Latin-1, not UTF-8
    }
    local body, ctype = multipart({ { "departments", files[1][1], files[1][2] },
                                    { "employees", files[2][1], files[2][2] } })
    local status, rep = post(srv, "/api/v1/admin/import", body, ctype)
    assert.are.equal(422, status)
    assert.are.equal("invalid", rep.error.code)
    local want = {
      { "department_cycle", "avd.csv", 2, "parent_code", "department A would be within itself: A > B > A" },
      { "unknown_department", "avd.csv", 4, "parent_code", "there is no department with code X" },
      { "duplicate_department_code", "avd.csv", 5, "code", "department code C is also on line 4" },
      { "unknown_employee", "avd.csv", 6, "manager_employee_number", "there is no employee with number 9999" },
      { "missing_field", "avd.csv", 7, "name", "name is required" },
      { "unknown_department", "ans.csv", 2, "department_code", "there is no department with code ZZ" },
      { "duplicate_employee_number", "ans.csv", 3, "employee_number", "employee number 2001 is also on line 2" },
      { "bad_email", "ans.csv", 4, "email", "'kari.k.no' is not an e-mail address" },
      { "missing_field", "ans.csv", 5, "name", "name is required" },
      { "bad_roles", "ans.csv", 6, "roles", "'sjef' is not a role" },
      { "bad_active", "ans.csv", 7, "active", "'kanskje' is neither yes nor no" },
      { "bad_utf8", "ans.csv", 8, "name", "not UTF-8" },
    }
    for _, w in ipairs(want) do
      local found
      for _, p in ipairs(rep.problems) do
        if p.code == w[1] and p.file == w[2] and p.line == w[3] then found = p end
      end
      assert(found, ("no %s on %s line %d in %s"):format(w[1], w[2], w[3], H.json.encode(rep.problems)))
      assert.are.equal(w[4], found.column)
      assert.is_truthy(found.message:find(w[5], 1, true), found.message)
      assert.is_number(found.column_number)
    end
    -- nothing was written
    local _, after = employees(srv)
    local _, _, ndepts_after = departments(srv)
    assert.are.equal(before, after)
    assert.are.equal(ndepts, ndepts_after)
    -- a dry run answers the same problems with 200
    status, rep = post(srv, "/api/v1/admin/import?dry_run=true", body, ctype)
    assert.are.equal(200, status)
    assert.are.equal(13, rep.summary.problems)
    assert.is_nil(rep.error)
  end)

  it("shows who is deactivated and moved, then does it; their sessions end", function()
    assert.are.equal(200, (import(srv, DEPTS_ALONE)))
    assert.are.equal(200, (import(srv, EMPS)))
    local by = employees(srv)
    -- Per gets a login; a profile for Kari so that the roll-ups have something to follow
    assert.are.equal(200, (srv:api("PATCH", "/employees/" .. by["1002"].id,
      { login = "per", password = "per-passord-1" })))
    local s, per = srv:request("POST", "/api/v1/session", { login = "per", password = "per-passord-1" })
    assert.are.equal(201, s)
    local _, sys = srv:api("POST", "/systems", { name = "Gerica" })
    local _, req = srv:api("POST", "/systems/" .. sys.id .. "/requirements", { text = "Logge inn" })
    local _, prof = srv:api("POST", "/profiles", { name = "Gerica 1", system_id = sys.id,
                                                   levels = H.levels({ [req.id] = 3 }) })
    assert.are.equal(200, (srv:api("PUT", "/employees/" .. by["1003"].id .. "/profiles",
      { profile_ids = { prof.id } })))
    local depts = departments(srv)
    local ho, sk = depts["Helse og omsorg"].id, depts["Skole; oppvekst"].id
    local function open_gaps(dept)
      local _, g = srv:api("GET", "/gaps?by=department&department_id=" .. dept)
      return g.items[1].open_gaps
    end
    assert.are.equal(1, open_gaps(ho))
    assert.are.equal(0, open_gaps(sk))

    -- Per is gone from the file, Kari moves to SK, Åse changes e-mail
    local next_month = "Ansattnummer;Navn;E-post;Avdelingskode;Stilling;Roller;Aktiv\r\n"
      .. "1001;Åse Ødegård;ase.odegard@k.no;HO;Enhetsleder;leder;ja\r\n"
      .. "1003;Kari Berg;kari@k.no;SK;;rådgiver;\r\n"
    local status, rep = import(srv, next_month, "?dry_run=true")
    assert.are.equal(200, status)
    assert.are.equal(1, rep.summary.employees_deactivated)
    assert.are.equal("1002", rep.employees.deactivated[1].employee_number)
    assert.are.equal("missing", rep.employees.deactivated[1].reason)
    assert.are.equal("1003", rep.employees.moved[1].employee_number)
    assert.are.equal("HO", rep.employees.moved[1].from)
    assert.are.equal("SK", rep.employees.moved[1].to)
    assert.are.equal("email", rep.employees.changed[1].changes[1].field)
    assert.are.equal("ase@k.no", rep.employees.changed[1].changes[1].before)
    assert.are.equal("ase.odegard@k.no", rep.employees.changed[1].changes[1].after)
    assert.is_false(employees(srv)["1002"].archived)
    assert.are.equal(200, (srv:api("GET", "/me", nil, per.token)))

    status, rep = import(srv, next_month)
    assert.are.equal(200, status)
    assert.are.equal(3, rep.summary.changes)
    local after = employees(srv)
    assert.is_true(after["1002"].archived)
    assert.are.equal(sk, after["1003"].department_id)
    assert.are.equal("ase.odegard@k.no", after["1001"].email)
    assert.are.equal(401, (srv:api("GET", "/me", nil, per.token)))
    -- the gap index moved Kari's open gap with her
    assert.are.equal(0, open_gaps(ho))
    assert.are.equal(1, open_gaps(sk))
    -- back again, in a partial import: reactivated, nobody else touched
    status, rep = import(srv, "ansattnummer;navn;epost;avdelingskode\r\n"
      .. "1002;\"Per \"\"Pelle\"\" Hansen\";per@k.no;SK\r\n", "?partial=true")
    assert.are.equal(200, status)
    assert.are.equal(1, rep.summary.employees_reactivated)
    assert.are.equal(0, rep.summary.employees_deactivated)
    assert.is_false(rep.full)
    assert.is_false(employees(srv)["1002"].archived)
  end)

  it("reads BOMs, semicolons, commas, tabs, quotes and Norwegian letters alike", function()
    assert.are.equal(200, (import(srv, "code,name\nA,Avdeling Ålesund\n", "?partial=true")))
    local variants = {
      { "semicolon + BOM + CRLF", "\239\187\191ansattnummer;navn;epost;avdelingskode\r\n"
        .. "1;Ærlige Øystein Å;oystein@k.no;A\r\n", "1", "Ærlige Øystein Å" },
      { "comma, quoted", "employee_number,name,email,department_code\n"
        .. "2,\"Berg, Kari \"\"K\"\"\",kari@k.no,A\n", "2", 'Berg, Kari "K"' },
      { "tab", "employee_number\tname\temail\tdepartment_code\n3\tTrine Tab\tt@k.no\tA\n",
        "3", "Trine Tab" },
      { "spaces around fields", "ANSATTNUMMER ; Navn ; E-post ; Avdelingskode\n"
        .. "4 ;  Per Mellomrom  ; p@k.no ; A\n", "4", "Per Mellomrom" },
    }
    for _, v in ipairs(variants) do
      local status, rep = import(srv, v[2], "?partial=true")
      assert.are.equal(200, status, v[1] .. ": " .. H.json.encode(rep))
      assert.are.equal(1, rep.summary.employees_added, v[1])
      assert.are.equal(v[4], employees(srv)[v[3]].name, v[1])
    end
  end)

  it("takes 5,000 employees and a body over 1 MiB on this route only", function()
    assert.are.equal(200, (import(srv, "code;name;parent_code\nK;Kommunen;\nA;Avdeling A;K\n"
      .. "B;Avdeling B;K\n", "?partial=true")))
    local rows = { "ansattnummer;navn;epost;avdelingskode;stilling;notat" }
    local pad = ("x"):rep(300)   -- an ignored column makes the body over 1 MiB
    for i = 1, 5000 do
      rows[#rows + 1] = ("%d;Ansatt Ødegård %d;a%d@k.no;%s;Konsulent;%s"):format(
        50000 + i, i, i, i % 2 == 0 and "A" or "B", pad)
    end
    local csv = table.concat(rows, "\r\n") .. "\r\n"
    assert.is_true(#csv > 1024 * 1024)
    local status, rep = import(srv, csv, "?dry_run=true")
    assert.are.equal(200, status)
    assert.are.equal(5000, rep.summary.employees_added)
    assert.are.equal(5000, #rep.employees.added)
    assert.are.same({ "notat" }, rep.files[1].ignored_columns)
    status, rep = import(srv, csv)
    assert.are.equal(200, status)
    assert.is_true(rep.committed)
    local by, n = employees(srv)
    assert.are.equal(5001, n)
    assert.are.equal("Ansatt Ødegård 4321", by["54321"].name)
    status, rep = import(srv, csv)
    assert.are.equal(200, status)
    assert.are.equal(0, rep.summary.changes)
    -- any other route keeps the 1 MiB limit
    status = post(srv, "/api/v1/employees", '{"name":"' .. ("y"):rep(1100000) .. '"}',
                  "application/json")
    assert.are.equal(413, status)
  end)

  it("is for admins, and wants CSV", function()
    assert.are.equal(200, (import(srv, DEPTS_ALONE)))
    local _, depts = srv:api("GET", "/departments")
    local s = srv:api("POST", "/employees", { employee_number = "r1", name = "Rådgiver",
      email = "r@k.no", department_id = depts.items[1].id, roles = { "employee", "adviser" },
      login = "radgiver", password = "radgiver-pw-1" })
    assert.are.equal(201, s)
    local _, tok = srv:request("POST", "/api/v1/session", { login = "radgiver", password = "radgiver-pw-1" })
    assert.are.equal(403, (import(srv, EMPS, nil, tok.token)))
    assert.are.equal(401, (import(srv, EMPS, nil, false)))
    local status, body = post(srv, "/api/v1/admin/import", '{"x":1}', "application/json")
    assert.are.equal(415, status)
    assert.are.equal("unsupported_media_type", body.error.code)
    status, body = import(srv, EMPS, "?dry_run=maybe")
    assert.are.equal(422, status)
    assert.are.equal("dry_run", body.error.field)
    status, body = import(srv, "")
    assert.are.equal(422, status)
    assert.are.equal("file", body.error.field)
  end)
end)

describe("evne import", function()
  it("imports 50,000 employees from the command line, and says so", function()
    local srv = H.start()
    srv:stop()
    local dir = srv.dir
    local deps, emps = dir .. "/avdelinger.csv", dir .. "/ansatte.csv"
    local f = assert(io.open(deps, "wb"))
    f:write("\239\187\191avdelingskode;navn;overordnet\r\nK;Kommunen;\r\n")
    for d = 1, 2000 do f:write(("D%04d;Avdeling %d;K\r\n"):format(d, d)) end
    f:close()
    f = assert(io.open(emps, "wb"))
    f:write("ansattnummer;navn;epost;avdelingskode;stilling\r\n")
    for i = 1, 50000 do
      f:write(("%d;\"Nordmann, Åse %d\";a%d@k.no;D%04d;Helsefagarbeider\r\n"):format(
        100000 + i, i, i, (i % 2000) + 1))
    end
    f:close()
    local out, rc = H.run(("%s import --db %s --dry-run %s %s"):format(q(H.BIN), q(srv.db), q(deps), q(emps)))
    assert.are.equal(0, rc, out)
    assert.is_truthy(out:find("employees: 50000 added", 1, true), out)
    assert.is_truthy(out:find("ansatte.csv: 50000 lines read", 1, true), out)   -- progress
    assert.is_truthy(out:find("dry run: 52001 changes would be made", 1, true), out)
    out, rc = H.run(("%s import --db %s %s %s"):format(q(H.BIN), q(srv.db), q(deps), q(emps)))
    assert.are.equal(0, rc, out)
    assert.is_truthy(out:find("52001 changes written", 1, true), out)
    out, rc = H.run(("%s import --db %s --json %s %s 2>/dev/null"):format(q(H.BIN), q(srv.db), q(deps), q(emps)))
    assert.are.equal(0, rc)
    local rep = H.decode(out:match("^(%b{})"))
    assert.are.equal(0, rep.summary.changes)
    assert.are.equal(50000, rep.summary.employees_unchanged)
    -- a problem: exit status 1, the line and column on stdout
    f = assert(io.open(dir .. "/bad.csv", "wb"))
    f:write("ansattnummer;navn;epost;avdelingskode\r\n1;A;a@k.no;D0001\r\n2;B;ikke-epost;D0001\r\n")
    f:close()
    out, rc = H.run(("%s import --db %s --partial %s"):format(q(H.BIN), q(srv.db), q(dir .. "/bad.csv")))
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("bad.csv line 3, column epost: 'ikke-epost' is not an e-mail address", 1, true), out)
    -- the server sees all of it when it starts
    srv:launch()
    local s, list = srv:api("GET", "/employees")
    assert.are.equal(200, s)
    assert.are.equal(50001, #list.items)
    local _, gaps = srv:api("GET", "/gaps?by=department")
    local total = 0
    for _, row in ipairs(gaps.items) do
      if row.name == "Kommunen" then total = row.employees end
    end
    assert.are.equal(50000, total)
    srv:cleanup()
  end)
end)

describe("evne import beside a running server", function()
  it("reaches the server's gap index within a second or two", function()
    local socket = require "socket"
    local srv = H.start()
    local deps, emps = srv.dir .. "/avdelinger.csv", srv.dir .. "/ansatte.csv"
    local f = assert(io.open(deps, "wb"))
    f:write(DEPTS_ALONE)
    f:close()
    f = assert(io.open(emps, "wb"))
    f:write(EMPS)
    f:close()
    local function kommunen()
      local _, gaps = srv:api("GET", "/gaps?by=department")
      for _, row in ipairs(gaps.items) do
        if row.name == "Kommunen" then return row.employees end
      end
    end
    assert.is_nil(kommunen())
    local out, rc = H.run(("%s import --db %s --partial %s %s 2>&1"):format(q(H.BIN), q(srv.db),
                                                                        q(deps), q(emps)))
    assert.are.equal(0, rc, out)
    local seen
    for _ = 1, 40 do
      seen = kommunen()
      if seen == 3 then break end
      socket.sleep(0.1)
    end
    assert.are.equal(3, seen)
    local log = assert(io.open(srv.log)):read("*a")
    assert.is_truthy(log:find("changed by another process", 1, true))
    srv:cleanup()
  end)
end)

describe("the HR import page", function()
  local P = require "pagekit"
  local srv
  setup(function() srv = P.demo_server() end)
  teardown(function() srv:cleanup() end)

  -- POST a multipart form as a browser sends it: fields, then files {name, filename, text}.
  local function upload(cookie, path, fields, files)
    local boundary = "----WebKitFormBoundary" .. math.random(100000, 999999)
    local parts = {}
    for _, f in ipairs(fields) do
      parts[#parts + 1] = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"):format(
        boundary, f[1], f[2])
    end
    for _, f in ipairs(files or {}) do
      parts[#parts + 1] = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
        .. "Content-Type: text/csv\r\n\r\n%s\r\n"):format(boundary, f[1], f[2], f[3])
    end
    local body = table.concat(parts) .. "--" .. boundary .. "--\r\n"
    return P.page(srv, cookie, "POST", path, nil,
      { "Content-Type: multipart/form-data; boundary=" .. boundary, "Content-Length: " .. #body }, body)
  end

  local function count(html, key)
    return tonumber(html:match('id="count%-' .. key .. '">(%d+)<'))
  end

  local function active_numbers()
    local _, body = srv:api("GET", "/employees")
    local set = {}
    for _, e in ipairs(body.items) do set[e.employee_number] = e end
    return set, #body.items
  end

  local AVD = "\239\187\191avdelingskode;navn;overordnet;leder\r\nNY;Ny enhet – Å;;\r\n"
  local ANS = "ansattnummer;navn;epost;avdelingskode;stilling\r\n"
    .. "9001;Øyvind Ås;oyvind@k.no;NY;Rådgiver\r\n9002;\"Berg, Kari\";kari.berg@k.no;NY;\r\n"

  it("is for admins only", function()
    local status, _, headers = P.page(srv, nil, "GET", "/admin/import")
    assert.are.equal(303, status)
    assert.is_truthy(headers.location:find("/login", 1, true))
    for _, who in ipairs({ "ansatt", "leder", "radgiver" }) do
      local cookie = P.login(srv, who)
      assert.are.equal(403, (P.page(srv, cookie, "GET", "/admin/import")))
      local html = select(2, P.page(srv, P.login(srv, "admin"), "GET", "/admin/import"))
      assert.are.equal(403, (upload(cookie, "/admin/import", { { "csrf", P.csrf_of(html) } },
        { { "employees", "a.csv", ANS } })))
    end
  end)

  it("refuses an upload or a commit without the form's CSRF token, and stores nothing", function()
    local cookie = P.login(srv, "admin")
    local _, before = active_numbers()
    local status = upload(cookie, "/admin/import", { { "csrf", ("0"):rep(32) } },
      { { "departments", "avd.csv", AVD }, { "employees", "ans.csv", ANS } })
    assert.are.equal(403, status)
    status = upload(cookie, "/admin/import", {}, { { "employees", "ans.csv", ANS } })
    assert.are.equal(403, status)
    -- a preview, then a commit with a wrong token for the form
    local _, page = P.page(srv, cookie, "GET", "/admin/import")
    local _, html = upload(cookie, "/admin/import", { { "csrf", P.csrf_of(page) }, { "partial", "1" } },
      { { "departments", "avd.csv", AVD }, { "employees", "ans.csv", ANS } })
    local token = html:match('name="token" value="(%x+)"')
    assert.is_truthy(token)
    status = P.page(srv, cookie, "POST", "/admin/import/commit", { csrf = ("f"):rep(32), token = token })
    assert.are.equal(403, status)
    local _, after = active_numbers()
    assert.are.equal(before, after)
  end)

  it("shows the problems with line, column and reason, and offers no commit", function()
    local cookie = P.login(srv, "admin")
    local _, page = P.page(srv, cookie, "GET", "/admin/import")
    local bad = "ansattnummer;navn;epost;avdelingskode\r\n9101;Ola;ola@k.no;FINNES-IKKE\r\n"
      .. "9102;Kari;ikke-en-adresse;D01\r\n"
    local status, html = upload(cookie, "/admin/import", { { "csrf", P.csrf_of(page) }, { "partial", "1" } },
      { { "employees", "feil.csv", bad } })
    assert.are.equal(422, status)
    assert.is_truthy(html:find("Problemer (2)", 1, true))
    assert.is_truthy(html:find("<td>feil.csv</td><td class=\"num\">2</td><td>avdelingskode</td><td>Det finnes "
      .. "ingen avdeling med kode FINNES-IKKE, verken i filen eller i evne.</td>", 1, true), html)
    assert.is_truthy(html:find("<td class=\"num\">3</td><td>epost</td><td>«ikke-en-adresse» er ikke en "
      .. "e-postadresse.</td>", 1, true))
    assert.is_nil(html:find('name="token"', 1, true))
    assert.is_nil(active_numbers()["9101"])
    -- no file at all
    status, html = upload(cookie, "/admin/import", { { "csrf", P.csrf_of(page) } }, {})
    assert.are.equal(422, status)
    assert.is_truthy(html:find("Velg minst én fil å importere.", 1, true))
    assert.is_truthy(html:find('aria-describedby="import-error"', 1, true))
    -- a token nobody has
    status, html = P.page(srv, cookie, "POST", "/admin/import/commit",
      { csrf = P.csrf_of(page), token = ("a"):rep(32) })
    assert.are.equal(409, status)
    assert.is_truthy(html:find("Opplastingen er ikke lenger tilgjengelig", 1, true))
  end)

  it("previews a full import, deactivations included, and commits exactly that", function()
    local cookie = P.login(srv, "admin")
    local _, page = P.page(srv, cookie, "GET", "/admin/import")
    local _, n_before = active_numbers()
    local status, html = upload(cookie, "/admin/import", { { "csrf", P.csrf_of(page) } },
      { { "departments", "avd.csv", AVD }, { "employees", "ans.csv", ANS } })
    assert.are.equal(200, status)
    assert.are.equal(1, count(html, "departments_added"))
    assert.are.equal(2, count(html, "employees_added"))
    assert.are.equal(1, count(html, "employees_kept"))   -- admin
    assert.are.equal(n_before - 1, count(html, "employees_deactivated"))
    assert.is_truthy(html:find('id="employees-deactivated"', 1, true))
    assert.is_truthy(html:find("står ikke i filen", 1, true))
    assert.is_truthy(html:find("<th scope=\"row\">9001</th><td>Øyvind Ås</td><td>NY</td>", 1, true))
    assert.is_truthy(html:find("Berg, Kari", 1, true))
    assert.is_truthy(#html < 60 * 1024, "the page is " .. #html .. " bytes")
    local token = html:match('name="token" value="(%x+)"')
    assert.is_truthy(token)
    -- nothing is written by the preview
    assert.are.equal(n_before, select(2, active_numbers()))
    -- another admin cannot commit this upload
    local _, depts = srv:api("GET", "/departments")
    assert.are.equal(201, (srv:api("POST", "/employees", { employee_number = "a2", name = "Admin To",
      email = "a2@k.no", department_id = depts.items[1].id, roles = { "employee", "admin" },
      login = "admin2", password = "admin2-passord" })))
    local other = P.login(srv, "admin2", "admin2-passord")
    local _, other_page = P.page(srv, other, "GET", "/admin/import")
    status = P.page(srv, other, "POST", "/admin/import/commit",
      { csrf = P.csrf_of(other_page), token = token })
    assert.are.equal(409, status)
    -- the uploader commits: admin2 is new since the preview and an admin, so kept too
    local headers
    status, _, headers = P.page(srv, cookie, "POST", "/admin/import/commit",
      { csrf = P.csrf_of(html), token = token })
    assert.are.equal(303, status)
    local changes = tonumber(headers.location:match("^/admin/import%?done=(%d+)$"))
    assert.are.equal(1 + 2 + (n_before - 1), changes)
    local after, n_after = active_numbers()
    assert.are.equal(4, n_after)    -- 9001, 9002, admin, admin2
    assert.are.equal("Øyvind Ås", after["9001"].name)
    assert.are.equal("Berg, Kari", after["9002"].name)
    local _, done = P.page(srv, cookie, "GET", headers.location)
    assert.is_truthy(done:find("Importen er lagret.", 1, true))
    assert.is_truthy(done:find(changes .. " endringer ble lagret.", 1, true))
    -- the upload is gone once committed
    status = P.page(srv, cookie, "POST", "/admin/import/commit", { csrf = P.csrf_of(html), token = token })
    assert.are.equal(409, status)
    -- the same files again: nothing to commit
    status, html = upload(cookie, "/admin/import?lang=en", { { "csrf", P.csrf_of(page) } },
      { { "departments", "avd.csv", AVD }, { "employees", "ans.csv", ANS } })
    assert.are.equal(200, status)
    assert.is_truthy(html:find("Preview: what the import will do", 1, true))
    assert.is_truthy(html:find("The files change nothing.", 1, true))
    assert.is_nil(html:find('name="token"', 1, true))
  end)
end)
