-- Access rules: employee (own data), manager (the subtrees of the departments they manage),
-- adviser (catalogue and reports, not people), admin; login and logout.
local H = require "harness"

local check = H.check_error

local function contains(list, value)
  for _, v in ipairs(list or {}) do
    if v == value then return true end
  end
  return false
end

describe("access", function()
  local srv
  local top, a, a1, a1x, b            -- Organisasjon > top > {a > a1 > a1x, b}
  local boss, e1, e2, e3, e4, adv     -- boss manages a; e1, e2 in a1; e4 in a1x; e3, adv in b
  local boss2                         -- in b, manages b and a1x
  local t_boss, t_boss2, t_e1, t_e2, t_adv
  local sys, r1, r2, prof

  setup(function()
    srv = H.start()
    top = srv:department("Topp")
    a = srv:department("A", top)
    a1 = srv:department("A1", a)
    a1x = srv:department("A1x", a1)
    b = srv:department("B", top)
    boss = srv:employee({ department_id = a, login = "boss", name = "Sjef" })
    e1 = srv:employee({ department_id = a1, login = "e1", name = "En" })
    e2 = srv:employee({ department_id = a1, login = "e2", name = "To" })
    e3 = srv:employee({ department_id = b, login = "e3", name = "Tre" })
    e4 = srv:employee({ department_id = a1x, login = false, name = "Fire" })
    boss2 = srv:employee({ department_id = b, login = "boss2", name = "Sjef to" })
    adv = srv:employee({ department_id = b, login = "adv", name = "Rådgiver", roles = { "adviser" } })
    sys = srv:system("Tilgangssystem")
    r1 = srv:requirement(sys, "krav 1", 1)
    r2 = srv:requirement(sys, "krav 2", 2)
    prof = srv:profile("Tilgangsprofil", sys, { [r1] = 3, [r2] = 2 })
    srv:expect(200, "PATCH", "/departments/" .. a, { manager_id = boss })
    srv:expect(200, "PATCH", "/departments/" .. b, { manager_id = boss2 })
    srv:expect(200, "PATCH", "/departments/" .. a1x, { manager_id = boss2 })
    t_boss = srv:login("boss")
    t_boss2 = srv:login("boss2")
    t_e1 = srv:login("e1")
    t_e2 = srv:login("e2")
    t_adv = srv:login("adv")
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  describe("an employee", function()
    it("reads themselves but not a colleague", function()
      local me = srv:expect(200, "GET", "/employees/" .. e1, nil, t_e1)
      assert.equal("En", me.name)
      local status, body = srv:api("GET", "/employees/" .. e2, nil, t_e1)
      check(status, body, 403, "forbidden")
      status, body = srv:api("GET", "/employees/" .. e3, nil, t_e1)
      check(status, body, 403, "forbidden")
      for _, sub in ipairs({ "/assessments", "/gaps", "/questions", "/profiles" }) do
        status, body = srv:api("GET", "/employees/" .. e2 .. sub, nil, t_e1)
        check(status, body, 403, "forbidden")
      end
    end)

    it("lists only themselves", function()
      local list = srv:expect(200, "GET", "/employees", nil, t_e1)
      assert.same({ e1 }, H.ids(list.items))
    end)

    it("posts a self assessment for themselves, not for a colleague", function()
      local before = #srv:history(e2)
      local status, body = srv:api("POST", "/employees/" .. e2 .. "/assessments",
        { source = "self", levels = H.levels({ [r1] = 4 }) }, t_e1)
      check(status, body, 403, "forbidden")
      assert.equal(before, #srv:history(e2))
      local mine = srv:assess(e1, "self", { [r1] = 2 }, t_e1)
      assert.equal(e1, mine.items[1].recorded_by)
      assert.equal(1, #srv:history(e1, t_e1))
    end)

    it("may not post an appraisal, course or test assessment of themselves", function()
      for _, source in ipairs({ "appraisal", "course", "test" }) do
        local status, body = srv:api("POST", "/employees/" .. e1 .. "/assessments",
          { source = source, levels = H.levels({ [r1] = 4 }) }, t_e1)
        check(status, body, 403, "forbidden")
      end
      assert.equal(1, #srv:history(e1))
    end)

    it("reads but does not change their own profiles", function()
      srv:assign(e1, { prof })
      local mine = srv:expect(200, "GET", "/employees/" .. e1 .. "/profiles", nil, t_e1)
      assert.same({ prof }, mine.profile_ids)
      local status, body = srv:api("PUT", "/employees/" .. e1 .. "/profiles",
        { profile_ids = setmetatable({}, { __jsontype = "array" }) }, t_e1)
      check(status, body, 403, "forbidden")
      assert.same({ prof }, srv:expect(200, "GET", "/employees/" .. e1 .. "/profiles").profile_ids)
      srv:expect(200, "GET", "/employees/" .. e1 .. "/gaps", nil, t_e1)
      srv:expect(200, "GET", "/employees/" .. e1 .. "/questions", nil, t_e1)
    end)

    it("gets no roll-ups and changes no catalogue, people or departments", function()
      for _, by in ipairs({ "employee", "department", "system" }) do
        local status, body = srv:api("GET", "/gaps?by=" .. by, nil, t_e1)
        check(status, body, 403, "forbidden")
      end
      local cases = {
        { "POST", "/systems", { name = "Nei" } },
        { "PATCH", "/systems/" .. sys, { name = "Nei" } },
        { "POST", "/systems/" .. sys .. "/requirements", { text = "Nei" } },
        { "POST", "/profiles", { name = "Nei", system_id = sys, levels = H.object() } },
        { "POST", "/employees", { employee_number = "N-1", name = "Nei", email = "n@example.no",
                                  department_id = a1 } },
        { "PATCH", "/employees/" .. e1, { name = "Meg selv" } },
        { "POST", "/departments", { name = "Nei", parent_id = a1 } },
        { "PATCH", "/departments/" .. a1, { manager_id = e1 } },
      }
      for _, c in ipairs(cases) do
        local status, body = srv:api(c[1], c[2], c[3], t_e1)
        local ok, err = pcall(check, status, body, 403, "forbidden")
        assert(ok, ("%s %s: %s"):format(c[1], c[2], tostring(err)))
      end
      assert.equal("Tilgangssystem", srv:expect(200, "GET", "/systems/" .. sys).name)
      assert.equal("En", srv:expect(200, "GET", "/employees/" .. e1).name)
    end)

    it("reads the shared lists (departments, systems, profiles)", function()
      srv:expect(200, "GET", "/departments", nil, t_e1)
      srv:expect(200, "GET", "/systems", nil, t_e1)
    end)
  end)

  describe("a manager (made one by a department's manager_id)", function()
    it("has the manager role", function()
      local _, session = srv:login("boss")
      assert.is_true(contains(session.roles, "manager"))
      assert.is_true(contains(srv:expect(200, "GET", "/employees/" .. boss).roles, "manager"))
    end)

    it("reads the employees of the subtree, not outside it", function()
      srv:expect(200, "GET", "/employees/" .. e1, nil, t_boss)
      srv:expect(200, "GET", "/employees/" .. e4, nil, t_boss) -- two levels down
      srv:expect(200, "GET", "/employees/" .. e2 .. "/gaps", nil, t_boss)
      srv:expect(200, "GET", "/employees/" .. e2 .. "/assessments", nil, t_boss)
      local status, body = srv:api("GET", "/employees/" .. e3, nil, t_boss)
      check(status, body, 403, "forbidden")
      status, body = srv:api("GET", "/employees/" .. adv .. "/gaps", nil, t_boss)
      check(status, body, 403, "forbidden")
      status, body = srv:api("GET", "/employees/" .. srv.admin_id, nil, t_boss)
      check(status, body, 403, "forbidden")
    end)

    it("lists the subtree's employees and themselves", function()
      local list = srv:expect(200, "GET", "/employees", nil, t_boss)
      assert.same(H.sorted({ boss, e1, e2, e4 }), H.ids(list.items))
    end)

    it("assigns profiles within the subtree only", function()
      local a2 = srv:assign(e2, { prof }, t_boss)
      assert.same({ prof }, a2.profile_ids)
      local status, body = srv:api("PUT", "/employees/" .. e3 .. "/profiles", { profile_ids = { prof } },
        t_boss)
      check(status, body, 403, "forbidden")
      assert.same({}, srv:expect(200, "GET", "/employees/" .. e3 .. "/profiles").profile_ids)
    end)

    it("records appraisals within the subtree only, and no self assessment for others", function()
      local r = srv:assess(e2, "appraisal", { [r1] = 3 }, t_boss)
      assert.equal(boss, r.items[1].recorded_by)
      local before = #srv:history(e3)
      local status, body = srv:api("POST", "/employees/" .. e3 .. "/assessments",
        { source = "appraisal", levels = H.levels({ [r1] = 1 }) }, t_boss)
      check(status, body, 403, "forbidden")
      assert.equal(before, #srv:history(e3))
      status, body = srv:api("POST", "/employees/" .. e2 .. "/assessments",
        { source = "self", levels = H.levels({ [r1] = 1 }) }, t_boss)
      check(status, body, 403, "forbidden")
    end)

    it("reads roll-ups of the subtree, 403 outside it", function()
      local rows = srv:expect(200, "GET", "/gaps?by=department", nil, t_boss).items
      assert.same(H.sorted({ a, a1, a1x }), H.ids(rows))
      rows = srv:expect(200, "GET", "/gaps?by=employee", nil, t_boss).items
      assert.same(H.sorted({ boss, e1, e2, e4 }), H.ids(rows))
      rows = srv:expect(200, "GET", "/gaps?by=department&department_id=" .. a1, nil, t_boss).items
      assert.same(H.sorted({ a1, a1x }), H.ids(rows))
      for _, row in ipairs(rows) do
        assert.equal(row.id == a1 and 3 or 1, row.employees)
      end
      for _, d in ipairs({ b, top }) do
        local status, body = srv:api("GET", "/gaps?by=department&department_id=" .. d, nil, t_boss)
        check(status, body, 403, "forbidden")
        status, body = srv:api("GET", "/gaps?by=employee&department_id=" .. d, nil, t_boss)
        check(status, body, 403, "forbidden")
      end
    end)

    it("may not create employees or change departments", function()
      local status, body = srv:api("POST", "/employees", { employee_number = "M-9", name = "Ny",
        email = "ny@example.no", department_id = a1 }, t_boss)
      check(status, body, 403, "forbidden")
      status, body = srv:api("PATCH", "/departments/" .. a1, { name = "Omdøpt" }, t_boss)
      check(status, body, 403, "forbidden")
      assert.equal("A1", srv:expect(200, "GET", "/departments/" .. a1).name)
    end)

    it("loses the access at once when no longer manager, with the same token", function()
      srv:expect(200, "PATCH", "/departments/" .. a, { manager_id = H.null })
      local status, body = srv:api("GET", "/employees/" .. e1, nil, t_boss)
      check(status, body, 403, "forbidden")
      status, body = srv:api("GET", "/gaps?by=department", nil, t_boss)
      check(status, body, 403, "forbidden")
      srv:expect(200, "PATCH", "/departments/" .. a, { manager_id = boss })
      srv:expect(200, "GET", "/employees/" .. e1, nil, t_boss)
    end)

    it("sees the union of every department managed", function()
      local list = srv:expect(200, "GET", "/employees", nil, t_boss2)
      assert.same(H.sorted({ boss2, e3, adv, e4 }), H.ids(list.items))
      local rows = srv:expect(200, "GET", "/gaps?by=department", nil, t_boss2).items
      assert.same(H.sorted({ b, a1x }), H.ids(rows))
      srv:expect(200, "GET", "/gaps?by=employee&department_id=" .. a1x, nil, t_boss2)
      local status, body = srv:api("GET", "/gaps?by=employee&department_id=" .. a1, nil, t_boss2)
      check(status, body, 403, "forbidden")
      status, body = srv:api("GET", "/employees/" .. e1, nil, t_boss2)
      check(status, body, 403, "forbidden")
      srv:assess(e4, "appraisal", { [r1] = 2 }, t_boss2)
    end)
  end)

  describe("an adviser", function()
    it("manages systems, requirements and profiles", function()
      local s = srv:system("Rådgivers system", t_adv)
      local r = srv:requirement(s, "rådgivers krav", 1, t_adv)
      srv:expect(200, "PATCH", "/systems/" .. s, { description = "endret" }, t_adv)
      srv:expect(200, "PATCH", "/requirements/" .. r, { text = "endret krav" }, t_adv)
      local p = srv:profile("Rådgivers profil", s, { [r] = 2 }, t_adv)
      local got = srv:expect(200, "PATCH", "/profiles/" .. p, { levels = H.levels({ [r] = 3 }) }, t_adv)
      assert.equal(3, got.sum)
      assert.equal(204, (srv:api("DELETE", "/profiles/" .. p, nil, t_adv)))
    end)

    it("records course and test assessments", function()
      local c = srv:assess(e3, "course", { [r2] = 2 }, t_adv)
      assert.equal(adv, c.items[1].recorded_by)
      srv:assess(e3, "test", { [r2] = 3 }, t_adv)
      local status, body = srv:api("POST", "/employees/" .. e3 .. "/assessments",
        { source = "self", levels = H.levels({ [r2] = 1 }) }, t_adv)
      check(status, body, 403, "forbidden")
    end)

    it("reads every employee and every roll-up", function()
      srv:expect(200, "GET", "/employees/" .. e1, nil, t_adv)
      local list = srv:expect(200, "GET", "/employees", nil, t_adv)
      assert.same(H.sorted({ srv.admin_id, boss, boss2, e1, e2, e3, e4, adv }), H.ids(list.items))
      for _, by in ipairs({ "employee", "department", "profile", "system", "requirement" }) do
        srv:expect(200, "GET", "/gaps?by=" .. by, nil, t_adv)
      end
    end)

    it("loses the adviser's rights at once when the role is taken away", function()
      srv:expect(200, "PATCH", "/employees/" .. adv, { roles = { "employee" } })
      local status, body = srv:api("POST", "/systems", { name = "Etter rolle" }, t_adv)
      check(status, body, 403, "forbidden")
      status, body = srv:api("GET", "/employees/" .. e1, nil, t_adv)
      check(status, body, 403, "forbidden")
      local e = srv:expect(200, "PATCH", "/employees/" .. adv, { roles = { "adviser" } })
      assert.is_true(contains(e.roles, "adviser"))
      assert.is_true(contains(e.roles, "employee"))
      srv:expect(200, "GET", "/employees/" .. e1, nil, t_adv)
    end)

    it("may not create or change employees", function()
      local status, body = srv:api("POST", "/employees", { employee_number = "A-9", name = "Ny",
        email = "ny@example.no", department_id = b }, t_adv)
      check(status, body, 403, "forbidden")
      status, body = srv:api("PATCH", "/employees/" .. e3, { name = "Omdøpt" }, t_adv)
      check(status, body, 403, "forbidden")
      status, body = srv:api("POST", "/departments", { name = "Ny", parent_id = b }, t_adv)
      check(status, body, 403, "forbidden")
      assert.equal("Tre", srv:expect(200, "GET", "/employees/" .. e3).name)
    end)
  end)

  describe("documented details", function()
    it("names the field source in the 403 for a source the caller may not record", function()
      local status, body = srv:api("POST", "/employees/" .. e1 .. "/assessments",
        { source = "test", levels = H.levels({ [r1] = 4 }) }, t_e1)
      check(status, body, 403, "forbidden", "source")
    end)

    it("lets an admin record no appraisal of themselves", function()
      local status, body = srv:api("POST", "/employees/" .. srv.admin_id .. "/assessments",
        { source = "appraisal", levels = H.levels({ [r1] = 4 }) })
      check(status, body, 403, "forbidden")
      assert.same({}, srv:history(srv.admin_id))
    end)
  end)

  describe("sessions", function()
    it("refuses a wrong password with 401", function()
      local status, body = srv:request("POST", "/api/v1/session", { login = "e2", password = "nope" })
      check(status, body, 401, "unauthorized")
      assert.is_nil(body.token)
    end)

    it("ends a session on logout; the token stops working, others do not", function()
      local token = srv:login("e2")
      srv:expect(200, "GET", "/employees/" .. e2, nil, token)
      local status = srv:api("DELETE", "/session", nil, token)
      assert.equal(204, status)
      local body
      status, body = srv:api("GET", "/employees/" .. e2, nil, token)
      check(status, body, 401, "unauthorized")
      srv:expect(200, "GET", "/employees/" .. e2, nil, t_e2)
    end)

    it("ends the tokens of an archived employee and refuses their login", function()
      local token = srv:login("e3")
      srv:expect(200, "GET", "/employees/" .. e3, nil, token)
      srv:expect(200, "PATCH", "/employees/" .. e3, { archived = true })
      local status, body = srv:api("GET", "/employees/" .. e3, nil, token)
      check(status, body, 401, "unauthorized")
      status, body = srv:request("POST", "/api/v1/session", { login = "e3", password = srv.passwords.e3 })
      check(status, body, 401, "unauthorized")
      srv:expect(200, "PATCH", "/employees/" .. e3, { archived = false })
      srv:login("e3")
    end)
  end)
end)
