-- The gap report pages, their CSV, one employee's gaps and the people search
-- (core/page_reports.c), over HTTP against the demo organisation, each checked against what the
-- JSON API answers the same person.
local H = require "harness"
local P = require "pagekit"

-- A browser, roughly: cookies, form posts (a ready body), no JavaScript.
local function web(srv, method, path, session, form)
  local extra = form and { "Content-Type: application/x-www-form-urlencoded",
                           "Content-Length: " .. #form } or nil
  return P.page(srv, session, method, path, nil, extra, form)
end

local function login(srv, who) return P.login(srv, who) end

local BOM = "\239\187\191"

-- ---------------------------------------------------------------------------------------------
-- A browser, roughly: cookies, form posts, no JavaScript.



local function unescape(s)
  return (s:gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"'):gsub("&#39;", "'")
           :gsub("&amp;", "&"))
end

local function text_of(html)
  return unescape((html:gsub("<[^>]*>", ""):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")))
end

-- The rows of the report table: { {id=, href=, name=, cells={...}} } in page order.
local function table_rows(html)
  local rows = {}
  for id, inner in html:gmatch('<tr data%-id="(%d+)">(.-)</tr>') do
    local href = inner:match('<th scope="row"><a href="([^"]*)"')
    local name = text_of(inner:match("<th[^>]*>(.-)</th>") or "")
    local cells = {}
    for td in inner:gmatch("<td[^>]*>(.-)</td>") do cells[#cells + 1] = text_of(td) end
    rows[#rows + 1] = { id = tonumber(id), href = href and unescape(href), name = name, cells = cells }
  end
  return rows
end

local function html_numbers(row)
  local c = row.cells
  return { employees = tonumber(c[1]), employees_with_gaps = tonumber(c[2]),
           demanded = tonumber(c[3]), open_gaps = tonumber(c[4]), unassessed = tonumber(c[5]),
           gap_sum = tonumber(c[6]), coverage_pct = tonumber(c[7]:match("^(%d+)")) }
end

local NUMBERS = { "employees", "employees_with_gaps", "demanded", "open_gaps", "unassessed",
                  "gap_sum" }

-- Semicolon CSV (RFC 4180 quoting) -> rows of fields; also says whether every line ended CRLF.
local function parse_scsv(text)
  local rows, row, field, inq = {}, {}, {}, false
  local crlf_only = true
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
    elseif c == ";" then
      row[#row + 1] = table.concat(field)
      field = {}
    elseif c == "\r" and text:sub(i + 1, i + 1) == "\n" then
      row[#row + 1] = table.concat(field)
      field = {}
      rows[#rows + 1] = row
      row = {}
      i = i + 1
    else
      if c == "\n" or c == "\r" then crlf_only = false end
      field[#field + 1] = c
    end
    i = i + 1
  end
  if #field > 0 or #row > 0 then
    row[#row + 1] = table.concat(field)
    rows[#rows + 1] = row
    crlf_only = false
  end
  return rows, crlf_only
end

local function by_id(items)
  local m = {}
  for _, it in ipairs(items) do m[it.id] = it end
  return m
end

local function pct(x) return math.floor(x * 100 + 0.5) end

-- ---------------------------------------------------------------------------------------------

describe("report pages", function()
  local srv, session, token = nil, {}, {}
  local depts, employees   -- from the API, as the admin sees them

  -- The department ids of root's subtree.
  local function subtree(root)
    local within = { [root] = true }
    for _ = 1, #depts do
      for _, d in ipairs(depts) do
        if d.parent_id ~= H.null and within[d.parent_id] then within[d.id] = true end
      end
    end
    return within
  end

  -- Active employees in the subtree of root, as a set of ids.
  local function employees_within(root)
    local within, set = subtree(root), {}
    for _, e in ipairs(employees) do
      if within[e.department_id] and not e.archived then set[e.id] = true end
    end
    return set
  end

  local function count(set)
    local n = 0
    for _ in pairs(set) do n = n + 1 end
    return n
  end

  setup(function()
    srv = H.start()
    srv:stop()
    H.run("rm -f " .. H.shell_quote(srv.db) .. "*")
    local out, rc = H.run(("%s demo --db %s"):format(H.shell_quote(H.BIN), H.shell_quote(srv.db)))
    assert(rc == 0, "evne demo failed: " .. out)
    srv.admin_password = "demo"
    srv.passwords.admin = "demo"
    srv:restart()
    for _, who in ipairs({ "radgiver", "leder", "ansatt" }) do
      session[who] = login(srv, who)
      token[who] = srv:login(who, "demo")
    end
    depts = srv:expect(200, "GET", "/departments").items
    employees = srv:expect(200, "GET", "/employees").items
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  local function page(who, path, want)
    local status, body, headers = web(srv, "GET", path, session[who])
    assert(status == (want or 200), ("%s GET %s: expected %d, got %d: %s"):format(
      who, path, want or 200, status, body:sub(1, 300)))
    return body, headers
  end

  local function api_gaps(who, query)
    return srv:expect(200, "GET", "/gaps?" .. query, nil, token[who]).items
  end

  describe("access", function()
    it("refuses an employee every report page with 403", function()
      for _, path in ipairs({ "/reports", "/reports?by=department", "/reports.csv?by=department",
                              "/reports?by=employee&format=csv", "/search",
                              "/search?requirement_id=1&level=1", "/reports/employees/5" }) do
        local status, body = web(srv, "GET", path, session.ansatt)
        assert.equal(403, status, path)
        assert.truthy(body:find("Du har ikke tilgang", 1, true), path)
      end
    end)

    it("sends someone not logged in to the login page", function()
      for _, path in ipairs({ "/reports", "/reports.csv", "/search", "/reports/employees/5" }) do
        local status, _, headers = web(srv, "GET", path, nil)
        assert.equal(303, status, path)
        assert.truthy(headers.location:find("^/login%?next="), path)
      end
    end)

    it("lets the adviser reach every page", function()
      page("radgiver", "/reports")
      page("radgiver", "/search")
      page("radgiver", "/reports/employees/5")
      page("radgiver", "/reports.csv")
    end)

    it("answers 404 for an employee who does not exist", function()
      page("radgiver", "/reports/employees/99999", 404)
    end)
  end)

  describe("the roll-up table", function()
    it("shows the adviser every department with the numbers GET /api/v1/gaps gives", function()
      local html = page("radgiver", "/reports?by=department")
      local rows = table_rows(html)
      local api = api_gaps("radgiver", "by=department")
      assert.equal(#api, #rows)
      assert.is_true(#rows >= 10)
      local want = by_id(api)
      for _, row in ipairs(rows) do
        local a = assert(want[row.id], "a row the API does not have: " .. row.id)
        assert.equal(a.name, row.name)
        local got = html_numbers(row)
        for _, k in ipairs(NUMBERS) do
          assert.equal(a[k], got[k], ("%s of %s"):format(k, a.name))
        end
        assert.equal(pct(a.coverage), got.coverage_pct, "coverage of " .. a.name)
      end
    end)

    it("matches the API in every dimension and with filters", function()
      for _, q in ipairs({ "by=profile", "by=system", "by=requirement", "by=employee",
                           "by=department&system_id=1", "by=employee&department_id=3",
                           "by=system&profile_id=2", "by=requirement&department_id=5&system_id=2" }) do
        local rows = table_rows(page("radgiver", "/reports?" .. q))
        local api = api_gaps("radgiver", q)
        assert.equal(#api, #rows, q)
        local want = by_id(api)
        for _, row in ipairs(rows) do
          local a = assert(want[row.id], q .. ": unexpected row " .. row.id)
          local got = html_numbers(row)
          for _, k in ipairs(NUMBERS) do assert.equal(a[k], got[k], q .. " " .. k) end
          assert.equal(pct(a.coverage), got.coverage_pct, q)
        end
      end
    end)

    it("shows a manager only the departments within Helse og omsorg, with the API's numbers", function()
      local rows = table_rows(page("leder", "/reports?by=department"))
      local ids = {}
      for _, r in ipairs(rows) do ids[#ids + 1] = r.id end
      table.sort(ids)
      assert.same({ 2, 3, 4 }, ids)
      local want = by_id(api_gaps("leder", "by=department"))
      for _, row in ipairs(rows) do
        local got = html_numbers(row)
        for _, k in ipairs(NUMBERS) do assert.equal(want[row.id][k], got[k]) end
      end
      -- people: exactly those of the subtree, and their links go to the manager's own pages
      local people = table_rows(page("leder", "/reports?by=employee"))
      local within = employees_within(2)
      assert.equal(count(within), #people)
      for _, p in ipairs(people) do
        assert.is_true(within[p.id] == true, "not in Helse og omsorg: " .. p.name)
        assert.equal("/team/employees/" .. p.id, p.href)
      end
      -- the subtree's parts are fine, what lies outside is not
      page("leder", "/reports?by=system&department_id=3")
      page("leder", "/reports?by=department&department_id=5", 403)
      page("leder", "/reports.csv?by=department&department_id=1", 403)
    end)

    it("refuses a bad parameter with the form shown again (422) and the error by its field", function()
      local html = page("radgiver", "/reports?by=bogus", 422)
      assert.truthy(html:find('id="by" name="by" aria-invalid="true" aria-describedby="by-error"', 1, true))
      assert.truthy(html:find('id="by-error"', 1, true))
      assert.equal(0, #table_rows(html))
      html = page("radgiver", "/reports?by=system&department_id=9999", 422)
      assert.truthy(html:find('id="department_id-error"', 1, true))
      html = page("radgiver", "/reports?by=system&system_id=abc", 422)
      assert.truthy(html:find('id="system_id-error"', 1, true))
      page("radgiver", "/reports?by=system&sort=salary", 422)
      page("radgiver", "/reports?by=system&order=sideways", 422)
      page("radgiver", "/reports.csv?by=bogus", 422)
    end)

    it("sorts by the column asked, both ways, and its header link turns the order", function()
      local api = by_id(api_gaps("radgiver", "by=requirement"))
      local html = page("radgiver", "/reports?by=requirement&sort=gap_sum&order=desc")
      local rows = table_rows(html)
      assert.is_true(#rows > 5)
      local distinct = {}
      for i, r in ipairs(rows) do
        distinct[api[r.id].gap_sum] = true
        if i > 1 then
          assert.is_true(api[rows[i - 1].id].gap_sum >= api[r.id].gap_sum, "desc at row " .. i)
        end
      end
      assert.is_true(count(distinct) > 1, "the demo should have different gap sums")
      assert.truthy(html:find('aria-sort="descending"><a href="/reports?by=requirement&amp;'
        .. 'sort=gap_sum&amp;order=asc"', 1, true))
      rows = table_rows(page("radgiver", "/reports?by=requirement&sort=gap_sum&order=asc"))
      for i = 2, #rows do
        assert.is_true(api[rows[i - 1].id].gap_sum <= api[rows[i].id].gap_sum, "asc at row " .. i)
      end
      rows = table_rows(page("radgiver", "/reports?by=requirement&sort=coverage&order=asc"))
      for i = 2, #rows do
        assert.is_true(api[rows[i - 1].id].coverage <= api[rows[i].id].coverage, "coverage at " .. i)
      end
      rows = table_rows(page("radgiver", "/reports?by=requirement&sort=open_gaps&order=desc"))
      for i = 2, #rows do
        assert.is_true(api[rows[i - 1].id].open_gaps >= api[rows[i].id].open_gaps, "open at " .. i)
      end
      -- by name, in Norwegian order: Æ, Ø and Å after Z
      rows = table_rows(page("radgiver", "/reports?by=department&sort=name&order=asc"))
      assert.equal("Asker kommune", rows[1].name)
      assert.equal("Økonomi og lønn", rows[#rows].name)
      rows = table_rows(page("radgiver", "/reports?by=department&sort=name&order=desc"))
      assert.equal("Økonomi og lønn", rows[1].name)
      -- case does not count, and Æ, Ø, Å come in that order
      local made = {}
      for _, name in ipairs({ "Åsen", "ørsta", "Ærø", "aal" }) do made[#made + 1] = srv:department(name, 1) end
      local names = {}
      for _, r in ipairs(table_rows(page("radgiver", "/reports?by=department&sort=name&order=asc"))) do
        names[#names + 1] = r.name
      end
      assert.equal("aal", names[1])
      assert.same({ "Ærø", "Økonomi og lønn", "ørsta", "Åsen" }, { table.unpack(names, #names - 3) })
      for _, id in ipairs(made) do srv:expect(204, "DELETE", "/departments/" .. id) end
    end)

    it("leads from a department row to the employees of that subtree only", function()
      local rows = table_rows(page("radgiver", "/reports?by=department"))
      local helse
      for _, r in ipairs(rows) do if r.id == 2 then helse = r end end
      assert(helse and helse.href, "no link on the Helse og omsorg row")
      local people = table_rows(page("radgiver", helse.href))
      local within = employees_within(2)
      assert.equal(count(within), #people)
      assert.equal(html_numbers(helse).employees, #people)
      local api = by_id(api_gaps("radgiver", "by=employee&department_id=2"))
      for _, p in ipairs(people) do
        assert.is_true(within[p.id] == true, p.name .. " is not in Helse og omsorg")
        assert.equal("/reports/employees/" .. p.id, p.href)
        assert.equal(api[p.id].gap_sum, html_numbers(p).gap_sum)
      end
      -- an employee's row leads to their requirements, with the API's levels
      local first = people[1]
      local cells = srv:expect(200, "GET", "/employees/" .. first.id .. "/gaps", nil,
        token.radgiver).items
      local html = page("radgiver", first.href)
      local shown = {}
      for id, inner in html:gmatch('<tr data%-requirement="(%d+)">(.-)</tr>') do
        local td = {}
        for c in inner:gmatch("<td[^>]*>(.-)</td>") do td[#td + 1] = text_of(c) end
        shown[tonumber(id)] = td
      end
      assert.equal(#cells, count(shown))
      for _, c in ipairs(cells) do
        local td = assert(shown[c.requirement_id], "requirement " .. c.requirement_id)
        -- td[1] is the requirement's text
        assert.equal(c.required, tonumber(td[2]))
        if c.unassessed then
          assert.equal("ikke vurdert", td[3])
        else
          assert.equal(c.actual, tonumber(td[3]))
        end
        assert.equal(c.gap, tonumber(td[4]:match("^(%d+)")))
      end
    end)

    it("leads from a system row to the people it counts", function()
      local systems = by_id(api_gaps("radgiver", "by=system"))
      for _, r in ipairs(table_rows(page("radgiver", "/reports?by=system"))) do
        assert.truthy(r.href:find("by=employee", 1, true))
        assert.truthy(r.href:find("system_id=" .. r.id, 1, true))
        local people = table_rows(page("radgiver", r.href))
        assert.equal(systems[r.id].employees, #people, r.name)
        local sum = 0
        for _, p in ipairs(people) do sum = sum + html_numbers(p).gap_sum end
        assert.equal(systems[r.id].gap_sum, sum, r.name)
      end
      -- a requirement row leads to the people of its system
      local reqs = srv:expect(200, "GET", "/systems/2/requirements").items
      for _, r in ipairs(table_rows(page("radgiver", "/reports?by=requirement&system_id=2"))) do
        assert.is_true(by_id(reqs)[r.id] ~= nil)
        assert.truthy(r.href:find("system_id=2", 1, true), r.href)
      end
    end)

    it("draws the largest gap sums as bars with their numbers in text", function()
      local html = page("radgiver", "/reports?by=requirement")
      local chart = html:match('<section aria%-labelledby="chart%-h">(.-)</section>')
      assert(chart, "no chart")
      local bars, values = 0, {}
      for li in chart:gmatch("<li.-</li>") do
        bars = bars + 1
        assert.truthy(li:find('class="bar" style="width: %d+%%"'))
        values[#values + 1] = tonumber(li:match("gapsum (%d+)"))
      end
      assert.equal(20, bars)
      local all = {}
      for _, a in ipairs(api_gaps("radgiver", "by=requirement")) do all[#all + 1] = a.gap_sum end
      table.sort(all, function(a, b) return a > b end)
      for i = 1, 20 do assert.equal(all[i], values[i]) end
    end)

    it("stays under 60 KB in every dimension of the demo", function()
      for _, by in ipairs({ "department", "profile", "system", "requirement", "employee" }) do
        local html = page("radgiver", "/reports?by=" .. by)
        assert.is_true(#html < 60 * 1024, by .. ": " .. #html .. " bytes")
      end
    end)

    it("speaks English when asked", function()
      local html = page("radgiver", "/reports?by=system&lang=en")
      assert.truthy(html:find("Gap sum", 1, true))
      assert.truthy(html:find('<html lang="en">', 1, true))
    end)
  end)

  describe("the CSV download", function()
    it("is semicolon separated UTF-8 with a BOM and CRLF, with the API's numbers", function()
      -- names that need quoting, and one Excel would take for a formula
      local quoted = srv:department('Avd; "sitat"', 1)
      local formula = srv:department("=1+2", 1)
      for _, by in ipairs({ "department", "profile", "system", "requirement", "employee" }) do
        local body, headers = page("radgiver", "/reports.csv?by=" .. by)
        assert.equal("text/csv; charset=utf-8", headers["content-type"])
        assert.equal('attachment; filename="evne-gaps-' .. by .. '.csv"',
          headers["content-disposition"])
        assert.equal(BOM, body:sub(1, 3))
        assert.equal("\r\n", body:sub(-2))
        local rows, crlf_only = parse_scsv(body:sub(4))
        assert.is_true(crlf_only, "a line without CRLF in " .. by)
        assert.equal(9, #rows[1])
        local api = api_gaps("radgiver", "by=" .. by)
        assert.equal(#api + 1, #rows, by)
        local want = by_id(api)
        for i = 2, #rows do
          local r = rows[i]
          assert.equal(9, #r, by .. " row " .. i)
          local a = assert(want[tonumber(r[9])], by .. ": unknown id " .. r[9])
          local name = a.name:find("^[=+%-@]") and ("'" .. a.name) or a.name
          assert.equal(name, r[1])
          for k, key in ipairs(NUMBERS) do
            assert.equal(a[key], tonumber(r[k + 1]), by .. " " .. key .. " of " .. a.name)
          end
          assert.truthy(r[8]:match("^%d+,%d$"), "coverage with a decimal comma: " .. r[8])
          local coverage = tonumber((r[8]:gsub(",", ".")))
          assert.is_true(math.abs(coverage - a.coverage * 100) <= 0.05 + 1e-9,
            ("coverage of %s: %s vs %s"):format(a.name, r[8], a.coverage))
        end
      end
      local body = page("radgiver", "/reports.csv?by=department&sort=name&order=asc")
      assert.truthy(body:find('\r\n"Avd; ""sitat""";0;0;0;0;0;0;100,0;' .. quoted .. '\r\n', 1, true))
      assert.truthy(body:find("\r\n\"'=1+2\";0;0;0;0;0;0;100,0;" .. formula .. "\r\n", 1, true))
      assert.is_nil(body:find("Avd; \"sitat\";", 1, true))
      -- ?format=csv is the same download, and the page links to it
      local same = page("radgiver", "/reports?by=department&sort=name&order=asc&format=csv")
      assert.equal(body, same)
      local html = page("radgiver", "/reports?by=department&sort=name&order=asc")
      assert.truthy(html:find('href="/reports.csv?by=department&amp;sort=name&amp;order=asc"', 1, true))
      srv:expect(204, "DELETE", "/departments/" .. quoted)
      srv:expect(204, "DELETE", "/departments/" .. formula)
    end)

    it("keeps the table's order and the manager's scope", function()
      local body = page("leder", "/reports.csv?by=employee&sort=gap_sum&order=desc")
      local rows = parse_scsv(body:sub(4))
      local within = employees_within(2)
      assert.equal(count(within) + 1, #rows)
      for i = 2, #rows do
        assert.is_true(within[tonumber(rows[i][9])] == true)
        if i > 2 then assert.is_true(tonumber(rows[i - 1][7]) >= tonumber(rows[i][7])) end
      end
    end)

    it("has English column names in English", function()
      local body = page("radgiver", "/reports.csv?by=system&lang=en")
      assert.equal(BOM .. "System;Employees;", body:sub(1, 3 + #"System;Employees;"))
    end)
  end)

  describe("the people search", function()
    -- Current level of employee emp on requirement req as the API shows it: the actual level of
    -- GET /employees/{id}/gaps where the requirement is demanded (what an effective-level policy
    -- decided), else the newest assessment in the history; someone never assessed is at 0.
    -- known caches what was asked, per test.
    local known
    before_each(function() known = {} end)
    local function level_of(emp, req)
      local k = known[emp]
      if not k then
        k = { gaps = {}, history = srv:history(emp) }
        for _, c in ipairs(srv:expect(200, "GET", "/employees/" .. emp .. "/gaps").items) do
          k.gaps[c.requirement_id] = c.unassessed and 0 or c.actual
        end
        known[emp] = k
      end
      if k.gaps[req] then return k.gaps[req] end
      for _, a in ipairs(k.history) do
        if a.requirement_id == req then return a.level end
      end
      return 0
    end

    local function found(who, query)
      local html = page(who, "/search?" .. query)
      local set = {}
      for _, r in ipairs(table_rows(html)) do set[r.id] = r end
      return set, html
    end

    local function same_set(want, got, what)
      for id in pairs(want) do assert.is_true(got[id] ~= nil, what .. ": missing " .. id) end
      for id in pairs(got) do assert.is_true(want[id] == true, what .. ": extra " .. id) end
    end

    it("shows the form without results at first", function()
      local html = page("radgiver", "/search")
      assert.truthy(html:find('<select id="requirement_id" name="requirement_id"', 1, true))
      assert.truthy(html:find('<select id="level" name="level"', 1, true))
      assert.is_nil(html:find('id="results-h"', 1, true))
    end)

    it("finds exactly those at or above the level on a requirement, within a department", function()
      local req = 14   -- Grunnleggende PC-bruk: demanded of nearly everyone
      local within = employees_within(2)
      local levels = {}
      for id in pairs(within) do levels[id] = level_of(id, req) end
      -- a level that splits the department
      local n
      for try = 4, 1, -1 do
        local k = 0
        for _, l in pairs(levels) do if l >= try then k = k + 1 end end
        if k > 0 and k < count(within) then n = try break end
      end
      assert(n, "no level splits the department")
      -- someone outside the department who qualifies must stay out
      local outsider
      for _, e in ipairs(employees) do
        if not within[e.id] and e.department_id == 6 then outsider = e.id break end
      end
      srv:assess(outsider, "course", { [req] = 4 }, token.radgiver)
      assert.equal(4, level_of(outsider, req))
      local want = {}
      for id, l in pairs(levels) do if l >= n then want[id] = true end end
      local got, html = found("radgiver", ("requirement_id=%d&level=%d&department_id=2"):format(req, n))
      same_set(want, got, "level " .. n)
      assert.is_nil(got[outsider])
      assert.truthy(html:find(count(want) .. " ansatte har minst niv", 1, true))
      -- without a department the outsider is found
      got = found("radgiver", ("requirement_id=%d&level=4"):format(req))
      assert.is_true(got[outsider] ~= nil)
      -- the current level counts: a later, lower assessment takes someone out
      local someone = next(want)
      srv:assess(someone, "course", { [req] = n - 1 }, token.radgiver)
      known = {}
      assert.equal(n - 1, level_of(someone, req))
      want[someone] = nil
      got = found("radgiver", ("requirement_id=%d&level=%d&department_id=2"):format(req, n))
      same_set(want, got, "after a lower assessment")
    end)

    it("finds those with the level on every requirement of a system", function()
      local sys = 2
      local reqs = {}
      for _, r in ipairs(srv:expect(200, "GET", "/systems/" .. sys .. "/requirements").items) do
        if not r.archived then reqs[#reqs + 1] = r.id end
      end
      local want = {}
      for _, e in ipairs(employees) do
        local ok = true
        for _, r in ipairs(reqs) do ok = ok and level_of(e.id, r) >= 2 end
        if ok then want[e.id] = true end
      end
      assert.is_true(count(want) > 0 and count(want) < #employees)
      local got, html = found("radgiver", ("system_id=%d&level=2&department_id="):format(sys))
      same_set(want, got, "system")
      assert.truthy(html:find("hvert krav i Grunnleggende PC-bruk", 1, true))
    end)

    it("limits a manager to the departments they manage", function()
      local got = found("leder", "requirement_id=14&level=0")
      same_set(employees_within(2), got, "leder, level 0")
      for _, r in pairs(got) do assert.equal("/team/employees/" .. r.id, r.href) end
      page("leder", "/search?requirement_id=14&level=0&department_id=5", 403)
      got = found("leder", "requirement_id=14&level=0&department_id=3")
      same_set(employees_within(3), got, "leder, Hjemmetjenesten")
    end)

    it("refuses bad input with the form shown again (422) and the error by its field", function()
      local html = page("radgiver", "/search?requirement_id=14&level=7", 422)
      assert.truthy(html:find('id="level" name="level" aria-invalid="true" aria-describedby="level-error"', 1, true))
      assert.truthy(html:find('<option value="14" selected>', 1, true))
      html = page("radgiver", "/search?requirement_id=14&system_id=2&level=2", 422)
      assert.truthy(html:find('id="system_id-error"', 1, true))
      html = page("radgiver", "/search?requirement_id=&system_id=&level=2&department_id=", 422)
      assert.truthy(html:find('id="requirement_id-error"', 1, true))
      html = page("radgiver", "/search?requirement_id=99999&level=2", 422)
      assert.truthy(html:find('id="requirement_id-error"', 1, true))
      html = page("radgiver", "/search?requirement_id=14&level=2&department_id=99999", 422)
      assert.truthy(html:find('id="department_id-error"', 1, true))
      assert.is_nil(html:find('id="results-h"', 1, true))
    end)
  end)

  describe("the monthly reports on demand", function()
    local function monthly_json(who, name, query)
      return srv:expect(200, "GET", "/reports/" .. name .. "?format=json" .. (query or ""), nil,
        token[who])
    end

    it("lists the reports each may see", function()
      local function links(who)
        local html = page(who, "/reports/monthly")
        local out = {}
        for name in html:gmatch('<a href="/reports/monthly/(%a+)">') do out[#out + 1] = name end
        return out
      end
      assert.same({ "employee" }, links("ansatt"))
      assert.same({ "employee", "department" }, links("leder"))
      assert.same({ "employee", "department", "organisation" }, links("radgiver"))
    end)

    it("shows an employee their own report, with the API's numbers, and its CSV", function()
      local html = page("ansatt", "/reports/monthly/employee")
      local d = monthly_json("ansatt", "employee")
      assert.truthy(html:find("<h2>Månedsrapport for " .. P.escape(d.employee.name) .. " – ", 1, true))
      assert.truthy(html:find(("Du har %d åpne gap av %d krav, med gapsum %d"):format(
        d.summary.open_gaps, d.summary.demanded, d.summary.gap_sum), 1, true))
      assert.truthy(html:find('<input id="period" name="period" size="8" value="' .. d.period .. '"',
        1, true))
      assert.is_nil(html:find('name="employee_id"', 1, true))   -- only themselves to choose
      local href = html:match('<a class="button" href="([^"]+)">Last ned som CSV')
      assert(href, "no CSV link")
      local csv, headers = page("ansatt", (href:gsub("&amp;", "&")))
      assert.equal("text/csv; charset=utf-8", headers["content-type"])
      assert.equal(BOM, csv:sub(1, 3))
      assert.truthy(headers["content-disposition"]:find('filename="evne%-employee%-%d+%-%d+%.csv"'))
      local rows = parse_scsv(csv:sub(4))
      local gaps = 0   -- the first part: a title row, a heading row, then a row per gap
      for i = 3, #rows do
        if #rows[i] <= 1 and (rows[i][1] or "") == "" then break end
        gaps = gaps + 1
        assert.equal(d.gaps[gaps].requirement, rows[i][2])
        assert.equal(d.gaps[gaps].gap, tonumber(rows[i][5]))
      end
      assert.equal(#d.gaps, gaps)
      page("ansatt", "/reports/monthly/employee?employee_id=" .. d.employee.id)
    end)

    it("refuses what is not one's own with 403, and answers 404 for no such report", function()
      page("ansatt", "/reports/monthly/department", 403)
      page("ansatt", "/reports/monthly/organisation", 403)
      page("ansatt", "/reports/monthly/employee?employee_id=1", 403)
      page("leder", "/reports/monthly/organisation", 403)
      page("leder", "/reports/monthly/department?department_id=5", 403)
      page("radgiver", "/reports/monthly/weekly", 404)
      page("radgiver", "/reports/monthly/gaps", 404)
      local status, _, headers = web(srv, "GET", "/reports/monthly/employee", nil)
      assert.equal(303, status)
      assert.truthy(headers.location:find("^/login%?next="))
    end)

    it("shows the department report with its trend as charts and a table beside them", function()
      srv:expect(201, "POST", "/admin/snapshots", nil, token.radgiver)
      local html = page("leder", "/reports/monthly/department")
      local d = monthly_json("leder", "department")
      assert.equal(2, d.department.id)   -- Helse og omsorg: the one leder manages
      local _, svgs = html:gsub("<svg", "")
      assert.equal(2, svgs)
      assert.truthy(html:find("<figcaption>Dekning per måned: Helse og omsorg</figcaption>", 1, true))
      local trend = html:match('<caption>Dekning og gapsum per måned for Helse og omsorg</caption>(.-)</table>')
      assert(trend, "no trend table")
      local months = 0
      for gap_sum in trend:gmatch('<td class="num">[^<]*</td><td class="num">(%d+)</td>') do
        months = months + 1
        assert.equal(d.trend[months].gap_sum, tonumber(gap_sum))
      end
      assert.equal(#d.trend, months)
      assert.is_true(months >= 1)
      assert.truthy(html:find(("gapsum %d (%d åpne gap av %d krav stilt, %d ikke vurdert)"):format(
        d.summary.gap_sum, d.summary.open_gaps, d.summary.demanded, d.summary.unassessed), 1, true))
      assert.is_nil(html:find('<option value="3" selected>', 1, true))
      assert.truthy(html:find('<option value="2" selected>', 1, true))
      assert.is_true(#html < 60 * 1024, #html .. " bytes")
    end)

    it("shows the organisation report to the adviser, under 60 KB", function()
      local html = page("radgiver", "/reports/monthly/organisation")
      local d = monthly_json("radgiver", "organisation")
      assert.truthy(html:find(("%d ansatte, %d av dem med gap"):format(d.summary.employees,
        d.summary.employees_with_gaps), 1, true))
      assert.is_true(#html < 60 * 1024, #html .. " bytes")
    end)

    it("shows a bad choice again with its error by the field (422), and no report", function()
      local html = page("leder", "/reports/monthly/department?period=2026-13", 422)
      assert.truthy(html:find('aria-describedby="period-hint period-error" aria-invalid="true"', 1, true))
      assert.truthy(html:find('id="period-error">Skriv måneden som ÅÅÅÅ-MM', 1, true))
      assert.truthy(html:find('value="2026-13"', 1, true))
      assert.is_nil(html:find('class="report-output"', 1, true))
      html = page("radgiver", "/reports/monthly/employee?employee_id=99999", 422)
      assert.truthy(html:find('id="employee_id-error"', 1, true))
    end)

    it("speaks English when asked, the report too", function()
      local html = page("leder", "/reports/monthly/department?lang=en")
      assert.truthy(html:find('<html lang="en">', 1, true))
      assert.truthy(html:find("Monthly report for Helse og omsorg – ", 1, true))
      assert.truthy(html:find("Download as CSV (Excel)", 1, true))
    end)
  end)
end)
