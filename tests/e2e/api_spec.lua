-- Every v1 route up to and including gaps, through the real server, against DESIGN.md and the
-- API contract: create/read/patch/delete, derived profile numbers (the Gerica example),
-- assignments, assessment history, questions, per-employee gaps, archiving and has_history.
local H = require "harness"
local socket = require "socket"
local null = H.null

local function find(items, id)
  for _, it in ipairs(items or {}) do
    if it.id == id then return it end
  end
  return nil
end

local function contains(list, value)
  for _, v in ipairs(list or {}) do
    if v == value then return true end
  end
  return false
end

local ISO = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"

describe("api", function()
  local srv, root

  setup(function()
    srv = H.start()
    local admin = srv:expect(200, "GET", "/employees/" .. srv.admin_id)
    root = admin.department_id
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  describe("health and session", function()
    it("answers /healthz without a token", function()
      local status, body, _, headers = srv:request("GET", "/healthz")
      assert.equal(200, status)
      assert.same({ status = "ok" }, body)
      assert.truthy((headers["content-type"] or ""):find("application/json", 1, true))
    end)

    it("logs the admin in with a token, id and roles", function()
      local status, body = srv:request("POST", "/api/v1/session",
        { login = "admin", password = srv.admin_password })
      assert.equal(201, status)
      assert.is_string(body.token)
      assert.truthy(#body.token >= 16)
      assert.equal(srv.admin_id, body.employee_id)
      assert.is_true(contains(body.roles, "admin"))
      assert.is_true(contains(body.roles, "employee"))
    end)

    it("init created the admin in the root department Organisasjon", function()
      local admin = srv:expect(200, "GET", "/employees/" .. srv.admin_id)
      assert.equal("admin", admin.employee_number)
      assert.equal("Administrator", admin.name)
      assert.equal("admin", admin.login)
      assert.is_false(admin.archived)
      assert.is_true(contains(admin.roles, "admin"))
      local dept = srv:expect(200, "GET", "/departments/" .. root)
      assert.equal("Organisasjon", dept.name)
      assert.equal(null, dept.parent_id)
    end)
  end)

  describe("departments", function()
    local helse, hjemme

    it("creates a department with a parent", function()
      local d = srv:expect(201, "POST", "/departments", { name = "Helse og omsorg", parent_id = root })
      assert.is_number(d.id)
      assert.equal("Helse og omsorg", d.name)
      assert.equal(root, d.parent_id)
      assert.equal(null, d.manager_id)
      helse = d.id
      local c = srv:expect(201, "POST", "/departments", { name = "Hjemmetjenesten", parent_id = helse })
      assert.equal(helse, c.parent_id)
      hjemme = c.id
      assert.are_not.equal(helse, hjemme)
    end)

    it("lists and reads departments", function()
      local list = srv:expect(200, "GET", "/departments")
      assert.is_table(list.items)
      local h, c = find(list.items, helse), find(list.items, hjemme)
      assert.is_table(h)
      assert.is_table(c)
      assert.equal("Hjemmetjenesten", c.name)
      assert.equal(helse, c.parent_id)
      assert.is_table(find(list.items, root))
      local one = srv:expect(200, "GET", "/departments/" .. hjemme)
      assert.same({ id = hjemme, name = "Hjemmetjenesten", parent_id = helse, manager_id = null },
        { id = one.id, name = one.name, parent_id = one.parent_id, manager_id = one.manager_id })
    end)

    it("patches name, manager and parent", function()
      local d = srv:expect(200, "PATCH", "/departments/" .. hjemme, { name = "Hjemmetjeneste Nord" })
      assert.equal("Hjemmetjeneste Nord", d.name)
      assert.equal(helse, d.parent_id)
      local boss = srv:employee({ department_id = helse })
      d = srv:expect(200, "PATCH", "/departments/" .. helse, { manager_id = boss })
      assert.equal(boss, d.manager_id)
      assert.equal("Helse og omsorg", d.name)
      d = srv:expect(200, "PATCH", "/departments/" .. hjemme, { parent_id = root })
      assert.equal(root, d.parent_id)
      local again = srv:expect(200, "GET", "/departments/" .. hjemme)
      assert.equal("Hjemmetjeneste Nord", again.name)
      assert.equal(root, again.parent_id)
      d = srv:expect(200, "PATCH", "/departments/" .. helse, { manager_id = null })
      assert.equal(null, d.manager_id)
    end)

    it("deletes an empty department and then answers 404 for it", function()
      local leaf = srv:department("Tom avdeling", hjemme)
      local status = srv:api("DELETE", "/departments/" .. leaf)
      assert.equal(204, status)
      status = srv:api("GET", "/departments/" .. leaf)
      assert.equal(404, status)
      local list = srv:expect(200, "GET", "/departments")
      assert.is_nil(find(list.items, leaf))
    end)

    it("refuses to delete a department that has employees or sub-departments", function()
      local status, body = srv:api("DELETE", "/departments/" .. helse) -- has an employee
      assert.equal(409, status)
      assert.is_true(body.error.code == "has_history" or body.error.code == "conflict",
        "code " .. tostring(body.error.code))
      local parent = srv:department("Forelder", root)
      srv:department("Barn", parent)
      status, body = srv:api("DELETE", "/departments/" .. parent)
      assert.equal(409, status)
      assert.is_true(body.error.code == "has_history" or body.error.code == "conflict")
      assert.equal(200, (srv:api("GET", "/departments/" .. parent)))
    end)
  end)

  describe("employees", function()
    local dept, emp

    setup(function()
      dept = srv:department("Personal", root)
    end)

    it("creates an employee with login and roles", function()
      local e = srv:expect(201, "POST", "/employees", {
        employee_number = "10042", name = "Kari Nordmann", email = "kari@example.no",
        department_id = dept, login = "kari", password = "kari-pw-1",
        roles = { "adviser" },
      })
      assert.is_number(e.id)
      assert.equal("10042", e.employee_number)
      assert.equal("Kari Nordmann", e.name)
      assert.equal("kari@example.no", e.email)
      assert.equal(dept, e.department_id)
      assert.equal("kari", e.login)
      assert.is_false(e.archived)
      assert.is_true(contains(e.roles, "employee"))
      assert.is_true(contains(e.roles, "adviser"))
      assert.is_false(contains(e.roles, "admin"))
      assert.is_nil(e.password)
      assert.is_nil(e.password_hash)
      emp = e.id
      local token, session = srv:login("kari", "kari-pw-1")
      assert.is_string(token)
      assert.equal(emp, session.employee_id)
      assert.is_true(contains(session.roles, "adviser"))
    end)

    it("creates an employee without a login", function()
      local e = srv:expect(201, "POST", "/employees", {
        employee_number = "10043", name = "Ola Nordmann", email = "ola@example.no",
        department_id = dept,
      })
      assert.equal(null, e.login)
      assert.same({ "employee" }, e.roles)
    end)

    it("reads one and lists", function()
      local e = srv:expect(200, "GET", "/employees/" .. emp)
      assert.equal("Kari Nordmann", e.name)
      assert.equal("10042", e.employee_number)
      local list = srv:expect(200, "GET", "/employees")
      assert.is_table(find(list.items, emp))
      assert.is_table(find(list.items, srv.admin_id))
    end)

    it("patches name, email, department and password", function()
      local other = srv:department("Økonomi", root)
      local e = srv:expect(200, "PATCH", "/employees/" .. emp,
        { name = "Kari N. Hansen", email = "kari.hansen@example.no", department_id = other })
      assert.equal("Kari N. Hansen", e.name)
      assert.equal("kari.hansen@example.no", e.email)
      assert.equal(other, e.department_id)
      assert.equal("10042", e.employee_number)
      e = srv:expect(200, "GET", "/employees/" .. emp)
      assert.equal("Kari N. Hansen", e.name)
      assert.equal(other, e.department_id)
      srv:expect(200, "PATCH", "/employees/" .. emp, { password = "kari-pw-2" })
      local status = srv:request("POST", "/api/v1/session", { login = "kari", password = "kari-pw-1" })
      assert.equal(401, status)
      assert.is_string((srv:login("kari", "kari-pw-2")))
    end)

    it("archives and un-archives an employee; the default list hides archived ones", function()
      local id = srv:employee({ department_id = dept })
      local e = srv:expect(200, "PATCH", "/employees/" .. id, { archived = true })
      assert.is_true(e.archived)
      assert.is_true(srv:expect(200, "GET", "/employees/" .. id).archived)
      local list = srv:expect(200, "GET", "/employees")
      assert.is_nil(find(list.items, id))
      list = srv:expect(200, "GET", "/employees?include_archived=true")
      assert.is_true(find(list.items, id).archived)
      e = srv:expect(200, "PATCH", "/employees/" .. id, { archived = false })
      assert.is_false(e.archived)
      assert.is_table(find(srv:expect(200, "GET", "/employees").items, id))
    end)
  end)

  describe("systems and requirements", function()
    local sys

    it("creates, reads, lists and patches a system", function()
      local s = srv:expect(201, "POST", "/systems", { name = "Excel", description = "Regneark" })
      assert.is_number(s.id)
      assert.equal("Excel", s.name)
      assert.equal("Regneark", s.description)
      assert.is_false(s.archived)
      sys = s.id
      local one = srv:expect(200, "GET", "/systems/" .. sys)
      assert.equal("Excel", one.name)
      assert.is_table(find(srv:expect(200, "GET", "/systems").items, sys))
      s = srv:expect(200, "PATCH", "/systems/" .. sys, { description = "Microsoft Excel" })
      assert.equal("Microsoft Excel", s.description)
      assert.equal("Excel", s.name)
      s = srv:expect(200, "PATCH", "/systems/" .. sys, { name = "Excel 365" })
      assert.equal("Excel 365", s.name)
      assert.equal("Microsoft Excel", srv:expect(200, "GET", "/systems/" .. sys).description)
    end)

    it("orders requirements by position, whatever the creation order", function()
      local c = srv:expect(201, "POST", "/systems/" .. sys .. "/requirements",
        { text = "Lage pivottabeller", position = 30 })
      assert.equal(sys, c.system_id)
      assert.equal(30, c.position)
      assert.is_false(c.archived)
      local a = srv:requirement(sys, "Åpne og lagre et regneark", 10)
      local b = srv:requirement(sys, "Skrive enkle formler", 20)
      local list = srv:expect(200, "GET", "/systems/" .. sys .. "/requirements").items
      assert.same({ a, b, c.id }, { list[1].id, list[2].id, list[3].id })
      assert.equal(3, #list)
      assert.equal("Skrive enkle formler", list[2].text)
      -- move the last one first
      local moved = srv:expect(200, "PATCH", "/requirements/" .. c.id, { position = 5 })
      assert.equal(5, moved.position)
      list = srv:expect(200, "GET", "/systems/" .. sys .. "/requirements").items
      assert.same({ c.id, a, b }, { list[1].id, list[2].id, list[3].id })
      -- without a position a requirement goes last
      local d = srv:requirement(sys, "Skrive ut")
      list = srv:expect(200, "GET", "/systems/" .. sys .. "/requirements").items
      assert.equal(4, #list)
      assert.equal(d, list[4].id)
      assert.truthy(list[4].position > list[3].position)
    end)

    it("orders requirements of equal position by id", function()
      local s2 = srv:system("Likestilt")
      local x = srv:requirement(s2, "x", 7)
      local y = srv:requirement(s2, "y", 3)
      local z = srv:requirement(s2, "z", 7)
      local list = srv:expect(200, "GET", "/systems/" .. s2 .. "/requirements").items
      assert.same({ y, x, z }, { list[1].id, list[2].id, list[3].id })
      srv:expect(200, "PATCH", "/requirements/" .. y, { position = 7 })
      list = srv:expect(200, "GET", "/systems/" .. s2 .. "/requirements").items
      assert.same(H.sorted({ x, y, z }), { list[1].id, list[2].id, list[3].id })
    end)

    it("patches a requirement's text and deletes an unassessed one", function()
      local r = srv:requirement(sys, "Feilskrevet krav")
      local p = srv:expect(200, "PATCH", "/requirements/" .. r, { text = "Riktig krav" })
      assert.equal("Riktig krav", p.text)
      local list = srv:expect(200, "GET", "/systems/" .. sys .. "/requirements").items
      assert.equal("Riktig krav", find(list, r).text)
      assert.equal(204, (srv:api("DELETE", "/requirements/" .. r)))
      list = srv:expect(200, "GET", "/systems/" .. sys .. "/requirements").items
      assert.is_nil(find(list, r))
      assert.equal(404, (srv:api("PATCH", "/requirements/" .. r, { text = "x" })))
    end)

    it("deletes an unused system", function()
      local s = srv:system("Midlertidig")
      assert.equal(204, (srv:api("DELETE", "/systems/" .. s)))
      assert.equal(404, (srv:api("GET", "/systems/" .. s)))
      assert.is_nil(find(srv:expect(200, "GET", "/systems").items, s))
    end)
  end)

  describe("profiles: the Gerica example", function()
    local gerica
    local reqs = {}      -- [number] = requirement id
    local texts = {}     -- [number] = text
    local profiles = {}  -- [k] = profile id
    local table_levels = {} -- [k][number] = level
    local want_sum = { 4, 14, 19, 34, 24 }

    setup(function()
      local rows = H.parse_csv(assert(H.read_file("data/gerica-requirements.csv"),
        "data/gerica-requirements.csv not found (run from the repository root)"))
      assert(#rows == 14, "expected a header and 13 requirements in the Gerica CSV")
      for k = 1, 5 do table_levels[k] = {} end
      for i = 2, #rows do
        local row = rows[i]
        local n = tonumber(row[1])
        texts[n] = row[2]
        for k = 1, 5 do table_levels[k][n] = tonumber(row[2 + k]) end
      end
    end)

    it("creates the 13 requirements in CSV order", function()
      gerica = srv:system("Gerica")
      for n = 1, 13 do reqs[n] = srv:requirement(gerica, texts[n], n) end
      local list = srv:expect(200, "GET", "/systems/" .. gerica .. "/requirements").items
      assert.equal(13, #list)
      for n = 1, 13 do
        assert.equal(reqs[n], list[n].id)
        assert.equal(texts[n], list[n].text)
        assert.equal(gerica, list[n].system_id)
      end
    end)

    it("creates the five profiles and derives sums 4,14,19,34,24 and averages sum/13", function()
      for k = 1, 5 do
        local levels = {}
        for n = 1, 13 do levels[reqs[n]] = table_levels[k][n] end
        local p = srv:expect(201, "POST", "/profiles",
          { name = "Gerica " .. k, system_id = gerica, description = "nivå " .. k,
            levels = H.levels(levels) })
        profiles[k] = p.id
        assert.equal("Gerica " .. k, p.name)
        assert.equal(gerica, p.system_id)
        assert.is_false(p.archived)
      end
      for k = 1, 5 do
        local p = srv:expect(200, "GET", "/profiles/" .. profiles[k])
        assert.equal(want_sum[k], p.sum, "sum of Gerica " .. k)
        assert.is_true(H.near(want_sum[k] / 13, p.average),
          ("average of Gerica %d: want %.12g got %s"):format(k, want_sum[k] / 13, tostring(p.average)))
        for n = 1, 13 do
          local got = p.levels[tostring(reqs[n])]
          assert.equal(table_levels[k][n], got or 0,
            ("Gerica %d requirement %d"):format(k, n))
        end
        for key in pairs(p.levels) do
          local known = false
          for n = 1, 13 do known = known or key == tostring(reqs[n]) end
          assert.is_true(known, "levels holds a key outside Gerica: " .. tostring(key))
        end
      end
    end)

    it("lists the profiles with their derived numbers", function()
      local list = srv:expect(200, "GET", "/profiles").items
      for k = 1, 5 do
        local p = find(list, profiles[k])
        assert.is_table(p, "profile Gerica " .. k .. " missing from the list")
        assert.equal(want_sum[k], p.sum)
        assert.is_true(H.near(want_sum[k] / 13, p.average))
      end
    end)

    it("merges levels on PATCH and recomputes sum and average", function()
      local p = srv:expect(200, "PATCH", "/profiles/" .. profiles[1],
        { levels = H.levels({ [reqs[13]] = 2, [reqs[8]] = 1 }) })
      assert.equal(7, p.sum)
      assert.is_true(H.near(7 / 13, p.average))
      p = srv:expect(200, "GET", "/profiles/" .. profiles[1])
      assert.equal(3, p.levels[tostring(reqs[1])]) -- untouched by the merge
      assert.equal(1, p.levels[tostring(reqs[2])])
      assert.equal(2, p.levels[tostring(reqs[13])])
      assert.equal(7, p.sum)
      p = srv:expect(200, "PATCH", "/profiles/" .. profiles[1],
        { levels = H.levels({ [reqs[13]] = 0, [reqs[8]] = 0 }) })
      assert.equal(4, p.sum)
      assert.is_true(H.near(4 / 13, p.average))
      assert.equal(0, p.levels[tostring(reqs[13])] or 0)
      p = srv:expect(200, "PATCH", "/profiles/" .. profiles[1], { name = "Gerica grunnleggende" })
      assert.equal("Gerica grunnleggende", p.name)
      assert.equal(4, p.sum)
    end)

    it("counts only non-archived requirements in sum and average", function()
      local s = srv:system("Visma")
      local r1, r2, r3 = srv:requirement(s, "a", 1), srv:requirement(s, "b", 2), srv:requirement(s, "c", 3)
      local pid, p = srv:profile("Visma", s, { [r1] = 2, [r2] = 3, [r3] = 4 })
      assert.equal(9, p.sum)
      assert.is_true(H.near(3, p.average))
      local a = srv:expect(200, "PATCH", "/requirements/" .. r3, { archived = true })
      assert.is_true(a.archived)
      p = srv:expect(200, "GET", "/profiles/" .. pid)
      assert.equal(5, p.sum)
      assert.is_true(H.near(2.5, p.average))
      assert.is_nil(p.levels[tostring(r3)])
      -- a new requirement without a level counts as 0 in the average
      srv:requirement(s, "d", 4)
      p = srv:expect(200, "GET", "/profiles/" .. pid)
      assert.equal(5, p.sum)
      assert.is_true(H.near(5 / 3, p.average))
    end)

    it("answers sum 0 and average 0 for a system without requirements", function()
      local s = srv:system("Tomt system")
      local _, p = srv:profile("Tom profil", s, {})
      assert.equal(0, p.sum)
      assert.equal(0, p.average)
    end)

    it("deletes an unassigned profile", function()
      local pid = srv:profile("Slett meg", gerica, { [reqs[1]] = 1 })
      assert.equal(204, (srv:api("DELETE", "/profiles/" .. pid)))
      assert.equal(404, (srv:api("GET", "/profiles/" .. pid)))
    end)

    describe("assignments, assessments, questions and gaps", function()
      local dept, emp, emp_login

      setup(function()
        dept = srv:department("Sykehjem", root)
        local _
        emp, _, emp_login = srv:employee({ department_id = dept, name = "Per Pleier" })
      end)

      it("PUT replaces and GET reads the assigned profiles", function()
        local a = srv:assign(emp, { profiles[2], profiles[4] })
        assert.same(H.sorted({ profiles[2], profiles[4] }), H.sorted(a.profile_ids))
        assert.same(H.sorted({ profiles[2], profiles[4] }), H.ids(a.items))
        local g = srv:expect(200, "GET", "/employees/" .. emp .. "/profiles")
        assert.same(H.sorted({ profiles[2], profiles[4] }), H.sorted(g.profile_ids))
        assert.equal(34, find(g.items, profiles[4]).sum)
        a = srv:assign(emp, { profiles[5] })
        assert.same({ profiles[5] }, a.profile_ids)
        a = srv:assign(emp, {})
        assert.same({}, a.profile_ids)
        assert.same({}, srv:expect(200, "GET", "/employees/" .. emp .. "/profiles").items)
        a = srv:assign(emp, { profiles[2], profiles[3] })
        assert.same(H.sorted({ profiles[2], profiles[3] }), H.sorted(a.profile_ids))
      end)

      it("asks only the demanded requirements, with the Norwegian question", function()
        local items = srv:expect(200, "GET", "/employees/" .. emp .. "/questions").items
        -- Gerica 2 and 3 together demand 1,2,3,4,7,9,11 at the higher of their two levels
        local want = { [1] = 4, [2] = 4, [3] = 3, [4] = 2, [7] = 2, [9] = 2, [11] = 4 }
        local got = {}
        for _, it in ipairs(items) do got[it.requirement_id] = it end
        local count = 0
        for n = 1, 13 do
          local q = got[reqs[n]]
          if want[n] then
            count = count + 1
            assert.is_table(q, "no question for requirement " .. n)
            assert.equal(want[n], q.required, "required of requirement " .. n)
            assert.equal(H.QUESTION_PREFIX .. texts[n], q.question)
            assert.equal(texts[n], q.text)
            assert.equal(gerica, q.system_id)
            assert.equal("Gerica", q.system_name)
            assert.equal(null, q.current)
            assert.equal(null, q.assessed_at)
            assert.equal(null, q.source)
          else
            assert.is_nil(q, "requirement " .. n .. " is not demanded but was asked")
          end
        end
        assert.equal(count, #items)
      end)

      it("records assessments and reads the history newest first", function()
        local a = srv:assess(emp, "appraisal", { [reqs[1]] = 2, [reqs[2]] = 3 }, nil, "årssamtale")
        assert.equal(2, #a.items)
        for _, it in ipairs(a.items) do
          assert.is_number(it.id)
          assert.equal(emp, it.employee_id)
          assert.equal("appraisal", it.source)
          assert.equal(srv.admin_id, it.recorded_by)
          assert.equal("årssamtale", it.note)
          assert.truthy(tostring(it.recorded_at):match(ISO), "recorded_at " .. tostring(it.recorded_at))
          if it.requirement_id == reqs[1] then
            assert.equal(2, it.level)
          else
            assert.equal(reqs[2], it.requirement_id)
            assert.equal(3, it.level)
          end
        end
        local token = srv:login(emp_login)
        socket.sleep(1.05) -- the self assessment is later by the server's clock, not only by id
        local s = srv:assess(emp, "self", { [reqs[1]] = 4 }, token)
        assert.equal(1, #s.items)
        assert.equal(emp, s.items[1].recorded_by)
        local c = srv:assess(emp, "course", { [reqs[3]] = 0 })
        local hist = srv:history(emp)
        assert.equal(4, #hist)
        assert.equal(c.items[1].id, hist[1].id)
        assert.equal(s.items[1].id, hist[2].id)
        assert.equal(0, hist[1].level)
        for i = 2, #hist do
          local prev, cur = hist[i - 1], hist[i]
          assert.is_true(prev.recorded_at > cur.recorded_at
            or (prev.recorded_at == cur.recorded_at and prev.id > cur.id),
            "history is not newest first at position " .. i)
        end
        -- the employee can read their own history too
        assert.equal(4, #srv:history(emp, token))
      end)

      it("answers questions with the current level, its time and source", function()
        local items = srv:expect(200, "GET", "/employees/" .. emp .. "/questions").items
        local got = {}
        for _, it in ipairs(items) do got[it.requirement_id] = it end
        assert.equal(4, got[reqs[1]].current)       -- the self assessment is the most recent
        assert.equal("self", got[reqs[1]].source)
        assert.truthy(tostring(got[reqs[1]].assessed_at):match(ISO))
        assert.equal(3, got[reqs[2]].current)
        assert.equal("appraisal", got[reqs[2]].source)
        assert.equal(0, got[reqs[3]].current)
        assert.equal("course", got[reqs[3]].source)
        assert.equal(null, got[reqs[4]].current)
      end)

      it("computes the employee's gaps per demanded requirement, with a summary", function()
        local body = srv:expect(200, "GET", "/employees/" .. emp .. "/gaps")
        local want = { [1] = { 4, 4 }, [2] = { 4, 3 }, [3] = { 3, 0 }, [4] = { 2 }, [7] = { 2 },
                       [9] = { 2 }, [11] = { 4 } }
        local got = {}
        for _, it in ipairs(body.items) do got[it.requirement_id] = it end
        assert.equal(7, #body.items)
        local sum, open, unassessed = 0, 0, 0
        for n, w in pairs(want) do
          local g = got[reqs[n]]
          assert.is_table(g, "no gap row for requirement " .. n)
          local required, actual = w[1], w[2] or 0
          local gap = math.max(0, required - actual)
          assert.equal(gerica, g.system_id)
          assert.equal(required, g.required, "required " .. n)
          assert.equal(actual, g.actual, "actual " .. n)
          assert.equal(gap, g.gap, "gap " .. n)
          assert.equal(w[2] == nil, g.unassessed, "unassessed " .. n)
          assert.is_string(g.class)
          sum = sum + gap
          if gap > 0 then open = open + 1 end
          if w[2] == nil then unassessed = unassessed + 1 end
        end
        assert.equal(14, sum)
        local s = body.summary
        assert.is_table(s)
        assert.equal(emp, s.id)
        assert.equal("Per Pleier", s.name)
        assert.equal(1, s.employees)
        assert.equal(1, s.employees_with_gaps)
        assert.equal(7, s.demanded)
        assert.equal(open, s.open_gaps)
        assert.equal(unassessed, s.unassessed)
        assert.equal(sum, s.gap_sum)
        assert.is_true(H.near(1 - open / 7, s.coverage))
      end)

      it("gives an employee without profiles no gap rows and coverage 1", function()
        local other = srv:employee({ department_id = dept })
        local body = srv:expect(200, "GET", "/employees/" .. other .. "/gaps")
        assert.same({}, body.items)
        assert.equal(0, body.summary.demanded)
        assert.equal(0, body.summary.employees_with_gaps)
        assert.equal(1, body.summary.coverage)
        assert.same({}, srv:expect(200, "GET", "/employees/" .. other .. "/questions").items)
      end)

      it("answers roll-ups with rows of the documented shape", function()
        for _, by in ipairs({ "employee", "department", "profile", "system", "requirement" }) do
          local items = srv:expect(200, "GET", "/gaps?by=" .. by).items
          assert.truthy(#items > 0, "no rows by " .. by)
          for _, row in ipairs(items) do
            for _, f in ipairs({ "id", "employees", "employees_with_gaps", "demanded", "open_gaps",
                                 "unassessed", "gap_sum", "coverage" }) do
              assert.is_number(row[f], ("by=%s: field %s"):format(by, f))
            end
            assert.is_string(row.name)
          end
        end
        local row = find(srv:expect(200, "GET", "/gaps?by=employee").items, emp)
        assert.equal(7, row.demanded)
        assert.equal(14, row.gap_sum)
      end)
    end)

    describe("archiving and has_history", function()
      local sys, r_assessed, r_free, p_assigned, emp

      setup(function()
        local dept = srv:department("Arkivavdeling", root)
        emp = srv:employee({ department_id = dept })
        sys = srv:system("Arkivsystem")
        r_assessed = srv:requirement(sys, "vurdert", 1)
        r_free = srv:requirement(sys, "ikke vurdert", 2)
        p_assigned = srv:profile("Tildelt", sys, { [r_assessed] = 2, [r_free] = 3 })
        srv:assign(emp, { p_assigned })
        srv:assess(emp, "test", { [r_assessed] = 1 })
      end)

      local function check_has_history(path)
        local status, body = srv:api("DELETE", path)
        local e = H.check_error(status, body, 409, "has_history")
        assert.truthy(e.message:lower():find("archived", 1, true),
          "the message should say that PATCH {\"archived\":true} archives it: " .. e.message)
      end

      it("refuses to delete an assessed requirement (409 has_history)", function()
        check_has_history("/requirements/" .. r_assessed)
        local list = srv:expect(200, "GET", "/systems/" .. sys .. "/requirements").items
        assert.is_table(find(list, r_assessed))
        assert.equal(1, #srv:history(emp))
      end)

      it("refuses to delete an assigned profile (409 has_history)", function()
        check_has_history("/profiles/" .. p_assigned)
        assert.equal(200, (srv:api("GET", "/profiles/" .. p_assigned)))
      end)

      it("refuses to delete a system whose requirements are assessed (409 has_history)", function()
        check_has_history("/systems/" .. sys)
        assert.equal(200, (srv:api("GET", "/systems/" .. sys)))
      end)

      it("archives a requirement and a profile with PATCH archived=true", function()
        local r = srv:expect(200, "PATCH", "/requirements/" .. r_assessed, { archived = true })
        assert.is_true(r.archived)
        local p = srv:expect(200, "GET", "/profiles/" .. p_assigned)
        assert.is_nil(p.levels[tostring(r_assessed)])
        assert.equal(3, p.sum)
        -- the archived requirement leaves the employee's gaps; the history stays
        local gaps = srv:expect(200, "GET", "/employees/" .. emp .. "/gaps").items
        assert.equal(1, #gaps)
        assert.equal(r_free, gaps[1].requirement_id)
        assert.equal(1, #srv:history(emp))
        p = srv:expect(200, "PATCH", "/profiles/" .. p_assigned, { archived = true })
        assert.is_true(p.archived)
        assert.same({}, srv:expect(200, "GET", "/employees/" .. emp .. "/gaps").items)
      end)

      it("archives a system with its requirements and profiles", function()
        local s2 = srv:system("Arkiveres helt")
        local ra = srv:requirement(s2, "krav", 1)
        local pa = srv:profile("Profil som arkiveres", s2, { [ra] = 2 })
        local s = srv:expect(200, "PATCH", "/systems/" .. s2, { archived = true })
        assert.is_true(s.archived)
        assert.is_true(srv:expect(200, "GET", "/systems/" .. s2).archived)
        assert.is_true(srv:expect(200, "GET", "/profiles/" .. pa).archived)
        local list = srv:expect(200, "GET", "/systems/" .. s2 .. "/requirements").items
        for _, r in ipairs(list) do assert.is_true(r.archived) end
      end)
    end)
  end)
end)

describe("api with --clock", function()
  local srv
  local START = 1893456000 -- 2030-01-01T00:00:00Z

  setup(function()
    srv = H.start({ args = { "--clock", tostring(START) } })
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("stamps assessments by the clock it was started with", function()
    local org = srv:expect(200, "GET", "/employees/" .. srv.admin_id).department_id
    local e = srv:employee({ department_id = org, login = false })
    local s = srv:system("Klokke")
    local r = srv:requirement(s, "krav")
    local a = srv:assess(e, "test", { [r] = 2 })
    local at = a.items[1].recorded_at
    local y, mo, d, h, mi, sec = tostring(at):match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):(%d+)Z$")
    assert.truthy(y, "recorded_at " .. tostring(at))
    assert.same({ 2030, 1, 1, 0 }, { tonumber(y), tonumber(mo), tonumber(d), tonumber(h) })
    assert.is_true(tonumber(mi) * 60 + tonumber(sec) < 120, "recorded_at " .. at)
  end)
end)
