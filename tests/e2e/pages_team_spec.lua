-- The manager's pages over HTTP, as a browser uses them: /team (the profile buffet and the bulk
-- assignment), /team/gaps (the heatmap), /team/employees/{id} and the appraisal. The server holds
-- the demo organisation; "leder" manages Helse og omsorg and its two sub-departments.
local H = require "harness"

local P = require "pagekit"
local demo_server, page, login, escape, csrf_of =
  P.demo_server, P.page, P.login, P.escape, P.csrf_of








-- The profile grid of /team as a browser would send it back: every employee row (e), every
-- column (cols), and the ticked boxes (p<employee> = profile).
local function grid_of(html)
  local g = { emps = {}, cols = {}, ticks = {} }
  local form = html:match('<form method="post" action="/team/profiles">(.-)</form>')
  assert(form, "no profile grid on the page")
  for id in form:gmatch('<input type="hidden" name="e" value="(%d+)">') do
    g.emps[#g.emps + 1] = tonumber(id)
  end
  for id in form:gmatch('<input type="hidden" name="cols" value="(%d+)">') do
    g.cols[#g.cols + 1] = tonumber(id)
  end
  for tag in form:gmatch('<input type="checkbox"[^>]*>') do
    local e, p = tag:match('name="p(%d+)" value="(%d+)"')
    assert(e and p, "a checkbox without employee and profile: " .. tag)
    g.ticks[e .. ":" .. p] = tag:find(" checked", 1, true) ~= nil
  end
  g.department_id = form:match('name="department_id" value="(%d+)"')
  g.system_id = form:match('name="system_id" value="(%d+)"')
  g.page = form:match('name="page" value="(%d+)"')
  return g
end

local function grid_fields(g, csrf)
  local f = {}
  if csrf then f[#f + 1] = { "csrf", csrf } end
  for _, k in ipairs({ "department_id", "system_id", "page" }) do
    if g[k] then f[#f + 1] = { k, g[k] } end
  end
  for _, e in ipairs(g.emps) do f[#f + 1] = { "e", e } end
  for _, p in ipairs(g.cols) do f[#f + 1] = { "cols", p } end
  for key, on in pairs(g.ticks) do
    if on then
      local e, p = key:match("^(%d+):(%d+)$")
      f[#f + 1] = { "p" .. e, p }
    end
  end
  return f
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe("manager pages", function()
  local srv, leder, ansatt, admin
  local emp = {}          -- name -> employee object (API)
  local dept = {}         -- name -> department object
  local prof = {}         -- name -> profile object
  local team = {}         -- ids of the employees leder manages, from the API's departments

  local function profiles_of(id)
    return H.sorted(srv:expect(200, "GET", "/employees/" .. id .. "/profiles").profile_ids)
  end

  -- Every employee's profiles, to show that a request changed nothing (or only what it should).
  local function all_profiles()
    local s = {}
    for _, e in pairs(emp) do s[e.id] = table.concat(profiles_of(e.id), ",") end
    return s
  end

  setup(function()
    srv = demo_server()
    for _, e in ipairs(srv:expect(200, "GET", "/employees").items) do emp[e.name] = e end
    for _, d in ipairs(srv:expect(200, "GET", "/departments").items) do dept[d.name] = d end
    for _, p in ipairs(srv:expect(200, "GET", "/profiles").items) do prof[p.name] = p end
    -- Helse og omsorg and every department below it
    local within = { [dept["Helse og omsorg"].id] = true }
    for _ = 1, 10 do
      for _, d in pairs(dept) do
        if d.parent_id ~= H.null and within[d.parent_id] then within[d.id] = true end
      end
    end
    for _, e in pairs(emp) do
      if within[e.department_id] then team[#team + 1] = e.id end
    end
    table.sort(team)
    leder = login(srv, "leder")
    ansatt = login(srv, "ansatt")
    admin = login(srv, "admin")
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("shows leder the team of Helse og omsorg and nobody outside it", function()
    local status, html = page(srv, leder, "GET", "/team")
    assert.are.equal(200, status)
    assert.is_true(#html < 60 * 1024, "the page is " .. #html .. " bytes")
    local g = grid_of(html)
    assert.are.same(team, H.sorted(g.emps))
    assert.are.equal(17, #team)
    assert.truthy(html:find("Per Hansen", 1, true))
    assert.truthy(html:find("Tone Andersen", 1, true))
    for _, outside in ipairs({ "Silje Moen", "Stian Vik", "Ingrid Berg", "Admin Istrator" }) do
      assert.falsy(html:find(outside, 1, true), outside .. " is not in leder's team")
    end
    -- a column per active profile, a box per employee and profile, ticked as the API says
    local active = 0
    for _, p in pairs(prof) do if not p.archived then active = active + 1 end end
    assert.are.equal(active, #g.cols)
    assert.are.equal(#team * #g.cols, count(g.ticks))
    for _, id in ipairs({ emp["Per Hansen"].id, emp["Tone Andersen"].id }) do
      local held = set_of(profiles_of(id))
      for _, p in ipairs(g.cols) do
        assert.are.equal(held[p] == true, g.ticks[id .. ":" .. p],
          ("employee %d, profile %d"):format(id, p))
      end
    end
  end)

  it("narrows the team to one department, and refuses one outside it", function()
    local hjemme = dept["Hjemmetjenesten"].id
    local status, html = page(srv, leder, "GET", "/team?department_id=" .. hjemme)
    assert.are.equal(200, status)
    local g = grid_of(html)
    for _, id in ipairs(g.emps) do
      local e
      for _, x in pairs(emp) do if x.id == id then e = x end end
      assert.are.equal(hjemme, e.department_id)
    end
    assert.is_true(#g.emps > 0 and #g.emps < #team)
    assert.are.equal(403, (page(srv, leder, "GET", "/team?department_id=" .. dept["Oppvekst"].id)))
    assert.are.equal(404, (page(srv, leder, "GET", "/team?department_id=9999")))
  end)

  it("shows the profiles of one system, and saving them keeps the others", function()
    local excel = prof["Excel 2"].system_id
    local status, html = page(srv, leder, "GET", "/team?system_id=" .. excel)
    assert.are.equal(200, status)
    local g = grid_of(html)
    local want = {}
    for _, p in pairs(prof) do
      if p.system_id == excel and not p.archived then want[#want + 1] = p.id end
    end
    assert.are.same(H.sorted(want), H.sorted(g.cols))
    assert.are.equal(tostring(excel), html:match('name="system_id" value="(%d+)"'))
    -- Per Hansen gets Excel 3 instead of Excel 2; his other profiles stay
    local per = emp["Per Hansen"].id
    local before = profiles_of(per)
    assert.is_true(set_of(before)[prof["Excel 2"].id])
    g.ticks[per .. ":" .. prof["Excel 2"].id] = false
    g.ticks[per .. ":" .. prof["Excel 3"].id] = true
    local s2, _, headers = page(srv, leder, "POST", "/team/profiles", grid_fields(g, csrf_of(html)))
    assert.are.equal(303, s2)
    assert.are.equal("/team?saved=1&system_id=" .. excel, headers.location)
    local want_now = {}
    for _, id in ipairs(before) do
      if id ~= prof["Excel 2"].id then want_now[#want_now + 1] = id end
    end
    want_now[#want_now + 1] = prof["Excel 3"].id
    assert.are.same(H.sorted(want_now), profiles_of(per))
    -- and back, for the tests below
    srv:assign(per, before)
    assert.are.equal(404, (page(srv, leder, "GET", "/team?system_id=9999")))
  end)

  it("refuses the manager's pages to an employee", function()
    local someone = emp["Kari Olsen"].id
    for _, path in ipairs({ "/team", "/team/gaps", "/team/employees/" .. someone,
                            "/team/employees/" .. someone .. "/appraisal" }) do
      local status, html = page(srv, ansatt, "GET", path)
      assert.are.equal(403, status, path)
      assert.truthy(html:find("Du har ikke tilgang", 1, true), path)
    end
    -- and the forms, with a valid token: nothing changes
    local _, me = page(srv, ansatt, "GET", "/me")
    local before = all_profiles()
    local status = page(srv, ansatt, "POST", "/team/assign",
      { { "csrf", csrf_of(me) }, { "employee", someone }, { "profile", prof["Excel 3"].id },
        { "to", "selected" } })
    assert.are.equal(403, status)
    assert.are.same(before, all_profiles())
  end)

  it("refuses leder an employee outside the team, and says 404 for nobody", function()
    local outside = emp["Silje Moen"].id
    assert.are.equal(403, (page(srv, leder, "GET", "/team/employees/" .. outside)))
    assert.are.equal(403, (page(srv, leder, "GET", "/team/employees/" .. outside .. "/appraisal")))
    assert.are.equal(404, (page(srv, leder, "GET", "/team/employees/9999")))
    -- naming someone outside the team in the grid changes nobody, in the team or out of it
    local _, html = page(srv, leder, "GET", "/team")
    local g = grid_of(html)
    local per = emp["Per Hansen"].id
    g.ticks[per .. ":" .. prof["Saksbehandler 3"].id] = true
    g.emps[#g.emps + 1] = outside
    g.ticks[outside .. ":" .. prof["Gerica 1"].id] = true
    local before = all_profiles()
    assert.are.equal(403, (page(srv, leder, "POST", "/team/profiles", grid_fields(g, csrf_of(html)))))
    assert.are.same(before, all_profiles())
    assert.are.equal(403, (page(srv, leder, "POST", "/team/assign",
      { { "csrf", csrf_of(html) }, { "employee", per }, { "employee", outside },
        { "profile", prof["Excel 3"].id }, { "to", "selected" } })))
    assert.are.same(before, all_profiles())
  end)

  it("shows one employee's requirements to their manager", function()
    local per = emp["Per Hansen"].id
    local status, html = page(srv, leder, "GET", "/team/employees/" .. per)
    assert.are.equal(200, status)
    assert.truthy(html:find("Per Hansen", 1, true))
    local questions = srv:expect(200, "GET", "/employees/" .. per .. "/questions").items
    assert.is_true(#questions > 0)
    for _, q in ipairs(questions) do
      assert.truthy(html:find('id="system-' .. q.system_id .. '"', 1, true))
      assert.truthy(html:find(escape(q.text), 1, true), q.text)
    end
    assert.truthy(html:find('/team/employees/' .. per .. '/appraisal', 1, true))
  end)

  it("saves the grid: a ticked profile becomes the employee's, with its questions", function()
    local per = emp["Per Hansen"].id
    local sak3 = prof["Saksbehandler 3"]
    assert.are_not.equal(H.null, sak3.system_id)
    local function asks_system(id, system_id)
      for _, q in ipairs(srv:expect(200, "GET", "/employees/" .. id .. "/questions").items) do
        if q.system_id == system_id then return true end
      end
      return false
    end
    assert.is_false(set_of(profiles_of(per))[sak3.id] == true)
    assert.is_false(asks_system(per, sak3.system_id))
    local before = all_profiles()

    local _, html = page(srv, leder, "GET", "/team")
    local g = grid_of(html)
    g.ticks[per .. ":" .. sak3.id] = true
    local status, _, headers = page(srv, leder, "POST", "/team/profiles", grid_fields(g, csrf_of(html)))
    assert.are.equal(303, status)
    assert.are.equal("/team?saved=1", headers.location)

    local now = set_of(profiles_of(per))
    assert.is_true(now[sak3.id])
    assert.is_true(asks_system(per, sak3.system_id))
    for id, was in pairs(before) do
      if id ~= per then assert.are.equal(was, all_profiles()[id], "employee " .. id) end
    end
    -- the page shows the box ticked, and the flash says so
    local _, after = page(srv, leder, "GET", "/team?saved=1")
    assert.is_true(grid_of(after).ticks[per .. ":" .. sak3.id])
    assert.truthy(after:find("Profilene er lagret.", 1, true))

    -- unticking takes it away again; sending the same grid twice changes nothing more
    g = grid_of(after)
    g.ticks[per .. ":" .. sak3.id] = false
    status, _, headers = page(srv, leder, "POST", "/team/profiles", grid_fields(g, csrf_of(after)))
    assert.are.equal(303, status)
    assert.are.equal("/team?saved=1", headers.location)
    assert.is_nil(set_of(profiles_of(per))[sak3.id])
    assert.is_false(asks_system(per, sak3.system_id))
    status, _, headers = page(srv, leder, "POST", "/team/profiles", grid_fields(g, csrf_of(after)))
    assert.are.equal(303, status)
    assert.are.equal("/team?saved=0", headers.location)
    assert.are.same(before, all_profiles())
  end)

  it("refuses a grid naming a profile that does not exist, and stores nothing", function()
    local _, html = page(srv, leder, "GET", "/team")
    local g = grid_of(html)
    local per, kari = emp["Per Hansen"].id, emp["Kari Olsen"].id
    g.ticks[kari .. ":" .. prof["Excel 2"].id] = true   -- a valid change beside the bad one
    g.ticks[per .. ":9999"] = true
    local before = all_profiles()
    local status, again = page(srv, leder, "POST", "/team/profiles", grid_fields(g, csrf_of(html)))
    assert.are.equal(422, status)
    assert.truthy(again:find("ukjent ansatt eller profil", 1, true))
    -- shown again as it was typed
    assert.is_true(grid_of(again).ticks[kari .. ":" .. prof["Excel 2"].id])
    assert.are.same(before, all_profiles())
  end)

  it("gives one profile to the selected employees, or to the whole team, in one step", function()
    local kari, mohammed = emp["Kari Olsen"].id, emp["Mohammed Ali"].id
    local epost3 = prof["E-post 3"].id
    local before = all_profiles()
    assert.is_nil(set_of(profiles_of(kari))[epost3])
    assert.is_nil(set_of(profiles_of(mohammed))[epost3])
    local _, html = page(srv, leder, "GET", "/team")
    local csrf = csrf_of(html)

    local status, _, headers = page(srv, leder, "POST", "/team/assign",
      { { "csrf", csrf }, { "profile", epost3 }, { "employee", kari }, { "employee", mohammed },
        { "to", "selected" } })
    assert.are.equal(303, status)
    assert.are.equal("/team?assigned=1", headers.location)
    for id, was in pairs(before) do
      local now = table.concat(profiles_of(id), ",")
      if id == kari or id == mohammed then
        local held = set_of(profiles_of(id))
        assert.is_true(held[epost3])
        for p in was:gmatch("%d+") do assert.is_true(held[tonumber(p)], "kept " .. p) end
      else
        assert.are.equal(was, now, "employee " .. id)
      end
    end

    -- missing choices: 422, the form again with the message next to the field, nothing stored
    local mid = all_profiles()
    local s1, again = page(srv, leder, "POST", "/team/assign",
      { { "csrf", csrf }, { "profile", prof["Excel 3"].id }, { "to", "selected" } })
    assert.are.equal(422, s1)
    assert.truthy(again:find('id="assign-employees-error"', 1, true))
    assert.truthy(again:find('<option value="' .. prof["Excel 3"].id .. '" selected>', 1, true))
    local s2, again2 = page(srv, leder, "POST", "/team/assign",
      { { "csrf", csrf }, { "profile", "" }, { "employee", kari }, { "to", "selected" } })
    assert.are.equal(422, s2)
    assert.truthy(again2:find('aria-describedby="assign-profile-error"', 1, true))
    assert.truthy(again2:find('name="employee" value="' .. kari .. '" checked', 1, true))
    assert.are.same(mid, all_profiles())

    -- the whole team
    local sak2 = prof["Saksbehandler 2"].id
    status = page(srv, leder, "POST", "/team/assign",
      { { "csrf", csrf }, { "profile", sak2 }, { "to", "all" } })
    assert.are.equal(303, status)
    local in_team = set_of(team)
    for id, was in pairs(mid) do
      if in_team[id] then
        assert.is_true(set_of(profiles_of(id))[sak2], "employee " .. id)
      else
        assert.are.equal(was, table.concat(profiles_of(id), ","), "employee " .. id)
      end
    end
  end)

  it("changes nothing when the CSRF token is missing or wrong", function()
    local _, html = page(srv, leder, "GET", "/team")
    local g = grid_of(html)
    local per = emp["Per Hansen"].id
    g.ticks[per .. ":" .. prof["Excel 3"].id] = true
    local before = all_profiles()
    local history = #srv:history(per)
    for _, token in ipairs({ false, "00000000000000000000000000000000" }) do
      local status = page(srv, leder, "POST", "/team/profiles", grid_fields(g, token or nil))
      assert.are.equal(403, status)
      local fields = { { "profile", prof["Excel 3"].id }, { "employee", per }, { "to", "selected" } }
      if token then fields[#fields + 1] = { "csrf", token } end
      assert.are.equal(403, (page(srv, leder, "POST", "/team/assign", fields)))
      local levels = { { "r1", "2" } }
      if token then levels[#levels + 1] = { "csrf", token } end
      assert.are.equal(403, (page(srv, leder, "POST", "/team/employees/" .. per .. "/appraisal",
        levels)))
    end
    assert.are.same(before, all_profiles())
    assert.are.equal(history, #srv:history(per))
  end)

  it("shows the team's gaps as a heatmap whose cells name their class", function()
    local status, html = page(srv, leder, "GET", "/team/gaps")
    assert.are.equal(200, status)
    assert.is_true(#html < 60 * 1024)
    for _, outside in ipairs({ "Silje Moen", "Stian Vik" }) do
      assert.falsy(html:find(outside, 1, true))
    end
    local label = { ok = "ok", minor = "lite gap", major = "stort gap" }
    local rank = { ok = 1, minor = 2, major = 3 }
    -- every cell of two people against the API's gaps: sum and worst class per system
    for _, name in ipairs({ "Per Hansen", "Kjell T. Ring" }) do
      local id = emp[name].id
      local by_system = {}
      for _, c in ipairs(srv:expect(200, "GET", "/employees/" .. id .. "/gaps").items) do
        local s = by_system[c.system_id] or { sum = 0, worst = "ok" }
        s.sum = s.sum + c.gap
        if c.class ~= H.null and rank[c.class] > rank[s.worst] then s.worst = c.class end
        by_system[c.system_id] = s
      end
      assert.is_true(count(by_system) > 0)
      for sid, s in pairs(by_system) do
        local class = s.sum == 0 and "ok" or s.worst
        local cell = ('<td class="num class-%s"><a href="/team/employees/%d#system-%d">%d '
          .. '<span class="class-label">%s</span></a></td>'):format(class, id, sid, s.sum, label[class])
        assert.truthy(html:find(cell, 1, true), name .. ": " .. cell)
      end
    end
    assert.truthy(html:find("stort gap", 1, true))
    -- the legend names the classes in words
    assert.truthy(html:find('<span class="class-minor">&nbsp;lite gap&nbsp;</span>', 1, true))
    -- and in English
    local _, en = page(srv, leder, "GET", "/team/gaps?lang=en")
    assert.truthy(en:find(escape("My team's competence gaps"), 1, true))
  end)

  it("records an appraisal by the manager beside the self-assessment", function()
    local per = emp["Per Hansen"].id
    local me = emp["Lene Dahl"]   -- leder
    local status, html = page(srv, leder, "GET", "/team/employees/" .. per .. "/appraisal")
    assert.are.equal(200, status)
    local asked = {}
    for rid in html:gmatch('<input type="radio" name="r(%d+)" value="0"') do
      asked[#asked + 1] = tonumber(rid)
    end
    assert.are.equal(#srv:expect(200, "GET", "/employees/" .. per .. "/questions").items, #asked)
    -- the newest self-assessment of each requirement, as the page should show it
    local before = srv:history(per)
    local self = {}
    for _, h in ipairs(before) do
      if h.source == "self" and not self[h.requirement_id] then self[h.requirement_id] = h end
    end
    local a, b
    for _, rid in ipairs(asked) do
      if self[rid] and not a then a = rid elseif not b then b = rid end
    end
    assert.truthy(a, "Per Hansen has a self-assessment of something asked")
    assert.truthy(b)
    local s = self[a]
    assert.truthy(html:find(("Egenvurdering: nivå %d (%s)"):format(s.level,
      s.recorded_at:gsub("^(%d+)-(%d+)-(%d+).*$", "%3.%2.%1")), 1, true))
    local la = (s.level + 1) % 5   -- disagrees with the employee
    local status2, _, headers = page(srv, leder, "POST", "/team/employees/" .. per .. "/appraisal",
      { { "csrf", csrf_of(html) }, { "r" .. a, tostring(la) }, { "r" .. b, "1" } })
    assert.are.equal(303, status2)
    assert.are.equal("/team/employees/" .. per .. "/appraisal?saved=1", headers.location)
    local history = srv:history(per)
    assert.are.equal(#before + 2, #history)
    for _, h in ipairs({ history[1], history[2] }) do
      assert.are.equal("appraisal", h.source)
      assert.are.equal(me.id, h.recorded_by)
      assert.are.equal(h.requirement_id == a and la or 1, h.level)
    end
    assert.are.same(H.sorted({ a, b }), H.sorted({ history[1].requirement_id, history[2].requirement_id }))

    -- shown preselected, the disagreement said in words; the same levels again store nothing
    local _, again = page(srv, leder, "GET", "/team/employees/" .. per .. "/appraisal?saved=1")
    assert.truthy(again:find('name="r' .. a .. '" value="' .. la .. '" checked', 1, true))
    assert.truthy(again:find("Vurderingen fra medarbeidersamtalen er lagret.", 1, true))
    assert.truthy(again:find(("Avvik: egenvurderingen sier nivå %d, din vurdering er nivå %d.")
      :format(s.level, la), 1, true))
    local s3, _, h3 = page(srv, leder, "POST", "/team/employees/" .. per .. "/appraisal",
      { { "csrf", csrf_of(again) }, { "r" .. a, tostring(la) }, { "r" .. b, "1" } })
    assert.are.equal(303, s3)
    assert.are.equal("/team/employees/" .. per .. "/appraisal?saved=0", h3.location)
    assert.are.equal(#history, #srv:history(per))
    -- the API counts it: the appraised level is now the current one
    for _, c in ipairs(srv:expect(200, "GET", "/employees/" .. per .. "/gaps").items) do
      if c.requirement_id == a then assert.are.equal(la, c.actual) end
    end
  end)

  it("refuses a bad level with the form again and stores nothing", function()
    local per = emp["Kari Olsen"].id
    local _, html = page(srv, leder, "GET", "/team/employees/" .. per .. "/appraisal")
    local fields = {}
    for name in html:gmatch('<input type="radio" name="(r%d+)" value="0"') do
      fields[#fields + 1] = name
    end
    local before = #srv:history(per)
    local status, again = page(srv, leder, "POST", "/team/employees/" .. per .. "/appraisal",
      { { "csrf", csrf_of(html) }, { fields[1], "2" }, { fields[2], "7" } })
    assert.are.equal(422, status)
    assert.truthy(again:find('id="e-' .. fields[2] .. '"', 1, true))
    assert.truthy(again:find("Velg et nivå fra 0 til 4.", 1, true))
    assert.truthy(again:find('name="' .. fields[1] .. '" value="2" checked', 1, true))
    assert.are.equal(before, #srv:history(per))
    -- a requirement the profiles do not demand is refused the same way
    local s2 = page(srv, leder, "POST", "/team/employees/" .. per .. "/appraisal",
      { { "csrf", csrf_of(html) }, { fields[1], "2" }, { "r999999", "2" } })
    assert.are.equal(422, s2)
    assert.are.equal(before, #srv:history(per))
  end)

  it("does not let a manager appraise themselves", function()
    local me = emp["Lene Dahl"].id
    local _, html = page(srv, leder, "GET", "/team")
    assert.are.equal(200, (page(srv, leder, "GET", "/team/employees/" .. me)))
    assert.are.equal(403, (page(srv, leder, "GET", "/team/employees/" .. me .. "/appraisal")))
    local before = #srv:history(me)
    assert.are.equal(403, (page(srv, leder, "POST", "/team/employees/" .. me .. "/appraisal",
      { { "csrf", csrf_of(html) }, { "r1", "4" } })))
    assert.are.equal(before, #srv:history(me))
  end)

  it("lets an admin choose any department, a page of the buffet at a time", function()
    local status, html = page(srv, admin, "GET", "/team")
    assert.are.equal(200, status)
    assert.truthy(html:find("Velg en avdeling for å se de ansatte der.", 1, true))
    local root = dept["Asker kommune"].id
    local all = 0
    for _ in pairs(emp) do all = all + 1 end
    local seen = {}
    for p = 1, 3 do
      local s, h = page(srv, admin, "GET", ("/team?department_id=%d&page=%d"):format(root, p))
      assert.are.equal(200, s)
      assert.is_true(#h < 60 * 1024, "page " .. p .. " is " .. #h .. " bytes")
      for _, id in ipairs(grid_of(h).emps) do seen[id] = true end
    end
    assert.are.equal(all, count(seen))
  end)
end)
