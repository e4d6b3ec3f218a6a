-- The trend over real HTTP: a server on a test clock walks from October 2026 into January 2027;
-- assessments are made through the API between snapshots that the schedule's job "snapshot"
-- takes on the first of each month and that an adviser takes by hand. Every point of every
-- series is checked against a model rebuilt in this file from what the test created; then who
-- may see what, bad parameters, and the page /reports/trend in both languages, whose table must
-- show the API's numbers.
local H = require "harness"
local P = require "pagekit"
local socket = require "socket"

local T0 = 1792490400 -- 2026-10-20T10:00:00Z

describe("the trend", function()
  local srv
  local D, E, R, S, PR = {}, {}, {}, {}, {}
  local tokens = {}
  local model = { emps = {}, parent = {}, required = {}, latest = {} }
  local expected = {} -- [period] = the model's figures at that month's newest snapshot

  local function within(d, root)
    while d do
      if d == root then return true end
      d = model.parent[d]
    end
    return false
  end

  -- The figures of a set of employees, as DESIGN.md defines them (every employee here has the
  -- same profile, so the demanded requirements are model.required).
  local function figures(pick)
    local f = { employees = 0, employees_with_gaps = 0, demanded = 0, open_gaps = 0,
                unassessed = 0, gap_sum = 0 }
    for id, e in pairs(model.emps) do
      if pick(id, e) then
        f.employees = f.employees + 1
        local has_gap = false
        for r, req in pairs(e.profiled and model.required or {}) do
          local act = (model.latest[id] or {})[r]
          f.demanded = f.demanded + 1
          if act == nil then f.unassessed = f.unassessed + 1 end
          local gap = math.max(0, req - (act or 0))
          if gap > 0 then
            f.open_gaps = f.open_gaps + 1
            f.gap_sum = f.gap_sum + gap
            has_gap = true
          end
        end
        if has_gap then f.employees_with_gaps = f.employees_with_gaps + 1 end
      end
    end
    f.coverage = f.demanded > 0 and 1 - f.open_gaps / f.demanded or 1
    return f
  end

  local function snapshot_model()
    return {
      organisation = figures(function() return true end),
      department = {
        [D.a] = figures(function(_, e) return within(e.dept, D.a) end),
        [D.a1] = figures(function(_, e) return within(e.dept, D.a1) end),
        [D.b] = figures(function(_, e) return within(e.dept, D.b) end),
      },
      profile = { [PR.p] = figures(function(_, e) return e.profiled end) },
      -- a system's row counts the employees with a demand of it
      system = { [S.s] = figures(function(_, e) return e.profiled end) },
    }
  end

  local function clock(iso)
    srv:set_clock(iso)
    tokens = {} -- their sessions may have expired with the jump
  end

  local function token(login)
    tokens[login] = tokens[login] or srv:login(login)
    return tokens[login]
  end

  -- Waits (bounded) for the snapshot job's run for a slot to finish; returns the run.
  local function wait_run(slot_iso)
    return H.wait_for("the snapshot job's run for " .. slot_iso, 5, function()
      for _, run in ipairs(srv:job_runs("snapshot")) do
        if run.slot == slot_iso and run.state ~= "running" then return run end
      end
    end, 0.02)
  end

  local function assess(ekey, levels, source)
    local byid = {}
    for rk, l in pairs(levels) do byid[R[rk]] = l end
    local tok = source == "self" and token(E[ekey].login) or nil
    srv:assess(E[ekey].id, source or "course", byid, tok)
    local latest = model.latest[E[ekey].id] or {}
    for r, l in pairs(byid) do latest[r] = l end
    model.latest[E[ekey].id] = latest
  end

  local function by_hand(who)
    local body = srv:expect(201, "POST", "/admin/snapshots", nil, who and token(who) or nil)
    assert.is_true(body.id > 0)
    return body
  end

  local function check_point(point, want, where)
    for _, k in ipairs({ "employees", "employees_with_gaps", "demanded", "open_gaps",
                         "unassessed", "gap_sum" }) do
      assert(point[k] == want[k], ("%s: %s is %s, expected %s"):format(where, k,
        tostring(point[k]), tostring(want[k])))
    end
    assert(H.near(point.coverage, want.coverage, 1e-9),
      ("%s: coverage %s, expected %s"):format(where, tostring(point.coverage), want.coverage))
  end

  -- Asserts that a request is refused as it should be.
  local function refused(want, code, field, method, path, body, tok)
    local st, data = srv:api(method, path, body, tok)
    H.check_error(st, data, want, code, field)
  end

  local function series(dimension, id, since, tok)
    local q = "/trend?dimension=" .. dimension .. (id and ("&id=" .. id) or "")
      .. (since and ("&since=" .. since) or "")
    return srv:expect(200, "GET", q, nil, tok).items
  end

  local function check_series(dimension, id, periods)
    local items = series(dimension, id)
    assert.equals(#periods, #items)
    for i, period in ipairs(periods) do
      assert.equals(period, items[i].period)
      local want = expected[period][dimension]
      if dimension ~= "organisation" then want = want[id] end
      check_point(items[i], want, dimension .. " " .. tostring(id) .. " " .. period)
    end
    return items
  end

  setup(function()
    srv = H.start{ args = { "--clock", tostring(T0) } }
    local root
    for _, d in ipairs(srv:expect(200, "GET", "/departments").items) do
      if d.parent_id == H.null then root = d.id end
    end
    model.emps[srv.admin_id] = { dept = root, profiled = false }
    D.a = srv:department("Helse & omsorg <avd>", root)
    D.a1 = srv:department("Hjemmetjenesten", D.a)
    D.b = srv:department("Skole", root)
    model.parent[D.a], model.parent[D.a1], model.parent[D.b] = root, D.a, root
    S.s = srv:system("Gerica")
    R.r1 = srv:requirement(S.s, "Dokumentere et besøk")
    R.r2 = srv:requirement(S.s, "Lese en plan")
    model.required = { [R.r1] = 3, [R.r2] = 2 }
    PR.p = srv:profile("Gerica-bruker", S.s, { [R.r1] = 3, [R.r2] = 2 })
    for _, spec in ipairs({ { "e1", D.a }, { "e2", D.a }, { "e3", D.a1 }, { "e4", D.b } }) do
      local id, _, login = srv:employee({ department_id = spec[2] })
      E[spec[1]] = { id = id, login = login }
      model.emps[id] = { dept = spec[2], profiled = true }
      srv:assign(id, { PR.p })
    end
    -- a manager of A (their department: A and A1), an adviser, both without profiles
    local mid, _, mlogin = srv:employee({ department_id = D.a })
    srv:expect(200, "PATCH", "/departments/" .. D.a, { manager_id = mid })
    E.manager = { id = mid, login = mlogin }
    model.emps[mid] = { dept = D.a, profiled = false }
    local aid, _, alogin = srv:employee({ department_id = root, roles = { "employee", "adviser" } })
    E.adviser = { id = aid, login = alogin }
    model.emps[aid] = { dept = root, profiled = false }
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("takes monthly snapshots by the schedule and by hand, and the series follow the data", function()
    -- October: nothing measured yet
    assert.same({}, series("organisation"))
    local oct = by_hand(E.adviser.login)
    assert.equals("2026-10", oct.period)
    assert.equals("2026-10-20T10:0", oct.taken_at:sub(1, 15))
    expected["2026-10"] = snapshot_model()
    assess("e1", { r1 = 3 })

    -- 1 November 00:30 in Norway (CET): the schedule's job takes November's snapshot
    clock("2026-10-31T23:31:00Z")
    local run = wait_run("2026-10-31T23:30:00Z")
    assert.equals("ok", run.state)
    assert.equals("2026-11", run.summary.period)
    assert.is_false(run.summary.skipped)
    local nov1 = snapshot_model()
    expected["2026-11"] = nov1
    check_series("organisation", nil, { "2026-10", "2026-11" })

    -- mid-November: more assessments and a snapshot by hand, which becomes November's point
    clock("2026-11-15T09:00:00Z")
    assess("e2", { r1 = 3, r2 = 2 })
    assess("e3", { r1 = 1 })
    local nov = by_hand() -- the admin
    assert.equals("2026-11", nov.period)
    expected["2026-11"] = snapshot_model()
    assert.is_true(expected["2026-11"].organisation.coverage > nov1.organisation.coverage)

    -- 1 December 00:30 (CET): December's snapshot; an employee then assesses themselves, and a
    -- second run of the job for December (as after a crash) changes nothing
    clock("2026-11-30T23:31:00Z")
    assert.equals("ok", wait_run("2026-11-30T23:30:00Z").state)
    expected["2026-12"] = snapshot_model()
    clock("2026-12-05T12:00:00Z")
    assess("e4", { r1 = 4, r2 = 2 }, "self")
    local again = srv:expect(202, "POST", "/admin/jobs/snapshot/run")
    local rerun = srv:wait_run(again.id, 5)
    assert.equals("ok", rerun.state)
    assert.is_true(rerun.summary.skipped)
    assert.equals("2026-12", rerun.summary.period)

    -- 1 January 00:30 (CET)
    clock("2026-12-31T23:31:00Z")
    assert.equals("ok", wait_run("2026-12-31T23:30:00Z").state)
    expected["2027-01"] = snapshot_model()

    local months = { "2026-10", "2026-11", "2026-12", "2027-01" }
    local org = check_series("organisation", nil, months)
    -- coverage rose with the assessments: 0, 3/8, 3/8, 5/8 of the eight demanded pairs
    assert.same({ 0, 3 / 8, 3 / 8, 5 / 8 },
      { org[1].coverage, org[2].coverage, org[3].coverage, org[4].coverage })
    assert.same({ 20, 11, 11, 6 }, { org[1].gap_sum, org[2].gap_sum, org[3].gap_sum, org[4].gap_sum })
    assert.equals(7, org[1].employees)
    assert.equals("2026-11-15T09:0", org[2].taken_at:sub(1, 15))
    for _, d in ipairs({ D.a, D.a1, D.b }) do check_series("department", d, months) end
    check_series("profile", PR.p, months)
    check_series("system", S.s, months)
    -- Skole gained only in January, the team of A not at all after November
    local b = series("department", D.b)
    assert.same({ 5, 5, 5, 0 }, { b[1].gap_sum, b[2].gap_sum, b[3].gap_sum, b[4].gap_sum })

    -- since: the months whose snapshot was taken from then on
    local since = series("organisation", nil, "2026-11-30T00:00:00Z")
    assert.same({ "2026-12", "2027-01" }, { since[1].period, since[2].period })
    assert.equals(2, #since)
    assert.equals(4, #series("organisation", nil, "2000-01-01T00:00:00Z"))
  end)

  it("lets advisers and admins see any series, a manager their departments, an employee none", function()
    local mt, et, at = token(E.manager.login), token(E.e4.login), token(E.adviser.login)
    for _, q in ipairs({ "dimension=organisation", "dimension=department&id=" .. D.b,
                         "dimension=system&id=" .. S.s, "dimension=profile&id=" .. PR.p }) do
      assert.equals(200, (srv:api("GET", "/trend?" .. q, nil, at)))
      assert.equals(200, (srv:api("GET", "/trend?" .. q)))
      refused(403, "forbidden", nil, "GET", "/trend?" .. q, nil, et)
    end
    -- the manager of A: A and its sub-department, nothing else
    assert.equals(200, (srv:api("GET", "/trend?dimension=department&id=" .. D.a, nil, mt)))
    local st, body = srv:api("GET", "/trend?dimension=department&id=" .. D.a1, nil, mt)
    assert.equals(200, st)
    assert.equals(4, #body.items)
    for _, q in ipairs({ "dimension=department&id=" .. D.b, "dimension=organisation",
                         "dimension=system&id=" .. S.s, "dimension=profile&id=" .. PR.p }) do
      refused(403, "forbidden", nil, "GET", "/trend?" .. q, nil, mt)
    end
    refused(401, "unauthorized", nil, "GET", "/trend?dimension=organisation", nil, false)
    -- snapshots by hand: advisers and admins only, and nothing stored otherwise (a snapshot
    -- now would become January's point, with its own taken_at)
    local function newest() local s = series("organisation") return #s, s[#s].taken_at end
    local n0, at0 = newest()
    refused(403, "forbidden", nil, "POST", "/admin/snapshots", nil, mt)
    refused(403, "forbidden", nil, "POST", "/admin/snapshots", nil, et)
    refused(422, "invalid", "kind", "POST", "/admin/snapshots", { kind = "monthly" })
    refused(400, "bad_json", nil, "POST", "/admin/snapshots", "[1]")
    local n1, at1 = newest()
    assert.equals(n0, n1)
    assert.equals(at0, at1)
  end)

  it("refuses bad parameters with 422 naming the parameter", function()
    local cases = {
      { "", "dimension" },
      { "dimension=team", "dimension" },
      { "dimension=department", "id" },
      { "dimension=department&id=abc", "id" },
      { "dimension=department&id=0", "id" },
      { "dimension=department&id=999999", "id" },
      { "dimension=system&id=" .. D.a * 1000, "id" },
      { "dimension=profile&id=-3", "id" },
      { "dimension=organisation&since=yesterday", "since" },
      { "dimension=organisation&since=2026-13-01T00:00:00Z", "since" },
    }
    for _, c in ipairs(cases) do
      local st, body = srv:api("GET", "/trend?" .. c[1])
      H.check_error(st, body, 422, "invalid", c[2])
    end
    -- the organisation ignores an id
    assert.equals(4, #srv:expect(200, "GET", "/trend?dimension=organisation&id=12345").items)
  end)
  -- The rows of the page's table: {period = {coverage text, gap_sum, open_gaps, demanded,
  -- unassessed, employees, employees_with_gaps}}, and the periods in order.
  local function table_rows(html)
    local rows, order = {}, {}
    for period, body in html:gmatch('<tr data%-period="([%d%-]+)">(.-)</tr>') do
      local cells = {}
      for cell in body:gmatch('<td class="num">(.-)</td>') do cells[#cells + 1] = cell end
      rows[period] = cells
      order[#order + 1] = period
    end
    return rows, order
  end

  -- Each <svg> of a page, parsed by python3's XML parser; answers their <title>s.
  local function charts_parse(html)
    local titles = {}
    for svg in html:gmatch("<svg.-</svg>") do
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write(svg)
      f:close()
      local out, rc = H.run("python3 -c " .. H.shell_quote(
        "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
        .. "S = '{http://www.w3.org/2000/svg}'; "
        .. "assert r.get('role') == 'img' and not list(r.iter(S + 'script')); "
        .. "print(r.find(S + 'title').text)") .. " " .. path)
      os.remove(path)
      assert(rc == 0, "a chart is not well-formed XML: " .. out .. "\n" .. svg)
      titles[#titles + 1] = out:gsub("%s+$", "")
    end
    return titles
  end

  local function check_table(html, api_items, percent)
    local rows, order = table_rows(html)
    assert.equals(#api_items, #order)
    for i, p in ipairs(api_items) do
      assert.equals(p.period, order[i])
      local want = { (percent):format(math.floor(p.coverage * 100 + 0.5)), tostring(p.gap_sum),
                     tostring(p.open_gaps), tostring(p.demanded), tostring(p.unassessed),
                     tostring(p.employees), tostring(p.employees_with_gaps) }
      assert.same(want, rows[p.period])
    end
  end

  it("shows the page /reports/trend: charts and a table with the API's numbers, in both languages", function()
    local adviser = P.login(srv, E.adviser.login, srv.passwords[E.adviser.login])
    local st, html = P.page(srv, adviser, "GET", "/reports/trend")
    assert.equals(200, st)
    assert.truthy(html:find('<html lang="nb"', 1, true))
    assert.truthy(html:find("Utvikling over tid", 1, true))
    assert.truthy(html:find('href="/reports/trend" aria-current="page"', 1, true))
    local org = series("organisation")
    check_table(html, org, "%d %%")
    assert.truthy(html:find("november 2026", 1, true))
    assert.same({ "Dekning per måned: Hele organisasjonen", "Gapsum per måned: Hele organisasjonen" },
      charts_parse(html))

    st, html = P.page(srv, adviser, "GET", "/reports/trend?entity=department:" .. D.b .. "&lang=en")
    assert.equals(200, st)
    assert.truthy(html:find('<html lang="en"', 1, true))
    assert.truthy(html:find("Trend over time", 1, true))
    assert.truthy(html:find("November 2026", 1, true))
    check_table(html, series("department", D.b), "%d%%")
    assert.same({ "Coverage per month: Skole", "Gap sum per month: Skole" }, charts_parse(html))
    st, html = P.page(srv, adviser, "GET", "/reports/trend?entity=profile:" .. PR.p)
    assert.equals(200, st)
    check_table(html, series("profile", PR.p), "%d %%") -- bokmål again: no language cookie sent

    -- the manager of A: A by default, its name escaped everywhere, only A and A1 to choose
    local manager = P.login(srv, E.manager.login, srv.passwords[E.manager.login])
    st, html = P.page(srv, manager, "GET", "/reports/trend")
    assert.equals(200, st)
    assert.truthy(html:find('value="department:' .. D.a .. '" selected', 1, true))
    assert.truthy(html:find("Helse &amp; omsorg &lt;avd&gt;", 1, true))
    assert.falsy(html:find("<avd>", 1, true))
    check_table(html, series("department", D.a), "%d %%")
    assert.same({ "Dekning per måned: Helse & omsorg <avd>", "Gapsum per måned: Helse & omsorg <avd>" },
      charts_parse(html))
    assert.truthy(html:find('value="department:' .. D.a1 .. '"', 1, true))
    assert.falsy(html:find('value="department:' .. D.b .. '"', 1, true))
    assert.falsy(html:find('value="organisation"', 1, true))
    assert.falsy(html:find("/reports/trend/snapshot", 1, true))
    st, html = P.page(srv, manager, "GET", "/reports/trend?entity=department:" .. D.a1)
    assert.equals(200, st)
    check_table(html, series("department", D.a1), "%d %%")
    for _, bad in ipairs({ "department:" .. D.b, "organisation", "system:" .. S.s, "nonsense" }) do
      st, html = P.page(srv, manager, "GET", "/reports/trend?entity=" .. bad)
      assert.equals(422, st)
      assert.truthy(html:find('aria-invalid="true" aria-describedby="entity-error"', 1, true))
      assert.falsy(html:find("<svg", 1, true))
      assert.falsy(html:find("data-period", 1, true))
    end

    -- an employee neither sees the page nor a link to it
    local employee = P.login(srv, E.e4.login, srv.passwords[E.e4.login])
    st = P.page(srv, employee, "GET", "/reports/trend")
    assert.equals(403, st)
    local _, me = P.page(srv, employee, "GET", "/me")
    assert.falsy(me:find('href="/reports/trend"', 1, true))
    st = P.page(srv, nil, "GET", "/reports/trend")
    assert.is_true(st == 303 or st == 401)

    -- a snapshot by hand from the page: CSRF checked, managers refused, then January's point
    -- is the new one
    local before = series("organisation")
    _, html = P.page(srv, adviser, "GET", "/reports/trend?entity=system:" .. S.s)
    local csrf = P.csrf_of(html)
    st = P.page(srv, adviser, "POST", "/reports/trend/snapshot", { entity = "system:" .. S.s })
    assert.equals(403, st)
    st = P.page(srv, manager, "POST", "/reports/trend/snapshot",
      { csrf = P.csrf_of(select(2, P.page(srv, manager, "GET", "/reports/trend"))) })
    assert.equals(403, st)
    assert.same(before, series("organisation"))
    socket.sleep(1.1) -- a new second, so that the new snapshot's taken_at differs
    local headers
    st, _, headers = P.page(srv, adviser, "POST", "/reports/trend/snapshot",
      { csrf = csrf, entity = "system:" .. S.s })
    assert.equals(303, st)
    assert.equals("/reports/trend?entity=system:" .. S.s .. "&done=snapshot", headers.location)
    local after = series("organisation")
    assert.equals(#before, #after)
    assert.are_not.equal(before[#after].taken_at, after[#after].taken_at)
    st, html = P.page(srv, adviser, "GET", headers.location)
    assert.equals(200, st)
    assert.truthy(html:find('role="status"', 1, true))
    check_table(html, series("system", S.s), "%d %%")
  end)
end)
