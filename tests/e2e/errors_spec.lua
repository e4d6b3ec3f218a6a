-- Error answers of the API: status, {"error":{code,message,field?}}, and that a refused write
-- stores nothing.
local H = require "harness"

local check = H.check_error

describe("errors", function()
  local srv, dept, emp, emp_login, sys, r1, r2, other_sys, other_req, prof

  setup(function()
    srv = H.start()
    dept = srv:department("Feilavdeling")
    local _
    emp, _, emp_login = srv:employee({ department_id = dept, employee_number = "E-1",
                                       login = "feil1" })
    sys = srv:system("Feilsystem")
    r1 = srv:requirement(sys, "krav 1", 1)
    r2 = srv:requirement(sys, "krav 2", 2)
    other_sys = srv:system("Annet system")
    other_req = srv:requirement(other_sys, "annet krav", 1)
    prof = srv:profile("Feilprofil", sys, { [r1] = 2 })
    srv:assess(emp, "appraisal", { [r1] = 1 })
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  local function history_ids()
    return H.ids(srv:history(emp))
  end

  local function post_assessment(levels, source)
    return srv:api("POST", "/employees/" .. emp .. "/assessments",
      { source = source or "appraisal", levels = levels })
  end

  describe("levels", function()
    for _, case in ipairs({ { 5, "5" }, { -1, "-1" }, { "3", "the string \"3\"" }, { 2.5, "2.5" },
                            { H.null, "null" }, { true, "true" } }) do
      it("refuses level " .. case[2] .. " with 422 naming levels.<id>, storing nothing", function()
        local before = history_ids()
        local levels = H.object()
        levels[tostring(r1)] = case[1]
        local status, body = post_assessment(levels)
        check(status, body, 422, "invalid", "levels." .. r1)
        assert.same(before, history_ids())
      end)
    end

    it("stores nothing of a batch with one bad level (no partial write)", function()
      local before = history_ids()
      local levels = H.object()
      levels[tostring(r1)] = 3
      levels[tostring(r2)] = 7
      local status, body = post_assessment(levels)
      check(status, body, 422, "invalid", "levels." .. r2)
      assert.same(before, history_ids())
    end)

    it("refuses a bad level in a profile and stores no profile", function()
      local before = #srv:expect(200, "GET", "/profiles").items
      local status, body = srv:api("POST", "/profiles",
        { name = "Ugyldig", system_id = sys, levels = H.levels({ [r1] = 5 }) })
      check(status, body, 422, "invalid", "levels." .. r1)
      status, body = srv:api("POST", "/profiles",
        { name = "Ugyldig", system_id = sys, levels = H.levels({ [r1] = 1.5 }) })
      check(status, body, 422, "invalid", "levels." .. r1)
      assert.equal(before, #srv:expect(200, "GET", "/profiles").items)
      status, body = srv:api("PATCH", "/profiles/" .. prof, { levels = H.levels({ [r1] = -1 }) })
      check(status, body, 422, "invalid", "levels." .. r1)
      assert.equal(2, srv:expect(200, "GET", "/profiles/" .. prof).levels[tostring(r1)])
    end)

    it("refuses a profile level on another system's requirement", function()
      local status, body = srv:api("POST", "/profiles",
        { name = "Feil system", system_id = sys, levels = H.levels({ [other_req] = 2 }) })
      check(status, body, 422, "invalid", "levels." .. other_req)
    end)

    it("refuses levels that are not an object", function()
      local status, body = post_assessment(3)
      check(status, body, 422, "invalid", "levels")
      status, body = post_assessment({ 1, 2 })
      check(status, body, 422, "invalid", "levels")
    end)
  end)

  describe("sources", function()
    it("refuses an unknown source", function()
      local before = history_ids()
      local status, body = post_assessment(H.levels({ [r1] = 2 }), "guess")
      check(status, body, 422, "invalid", "source")
      assert.same(before, history_ids())
    end)

    it("refuses a missing source", function()
      local status, body = srv:api("POST", "/employees/" .. emp .. "/assessments",
        { levels = H.levels({ [r1] = 2 }) })
      check(status, body, 422, "invalid", "source")
    end)
  end)

  describe("unknown ids", function()
    local paths = {
      { "GET", "/employees/999999" }, { "PATCH", "/employees/999999", { name = "x" } },
      { "GET", "/departments/999999" }, { "PATCH", "/departments/999999", { name = "x" } },
      { "DELETE", "/departments/999999" },
      { "GET", "/systems/999999" }, { "PATCH", "/systems/999999", { name = "x" } },
      { "DELETE", "/systems/999999" },
      { "GET", "/systems/999999/requirements" },
      { "POST", "/systems/999999/requirements", { text = "x" } },
      { "PATCH", "/requirements/999999", { text = "x" } }, { "DELETE", "/requirements/999999" },
      { "GET", "/profiles/999999" }, { "PATCH", "/profiles/999999", { name = "x" } },
      { "DELETE", "/profiles/999999" },
      { "GET", "/employees/999999/profiles" },
      { "PUT", "/employees/999999/profiles", { profile_ids = setmetatable({}, { __jsontype = "array" }) } },
      { "GET", "/employees/999999/assessments" },
      { "POST", "/employees/999999/assessments", { source = "appraisal", levels = H.object() } },
      { "GET", "/employees/999999/questions" },
      { "GET", "/employees/999999/gaps" },
    }
    for _, p in ipairs(paths) do
      it(("answers 404 not_found for %s %s"):format(p[1], p[2]), function()
        local status, body = srv:api(p[1], p[2], p[3])
        check(status, body, 404, "not_found")
      end)
    end

    it("answers 422 naming the field for unknown ids in the body", function()
      local status, body = srv:api("POST", "/employees", { employee_number = "X-1", name = "X",
        email = "x@example.no", department_id = 999999 })
      check(status, body, 422, "invalid", "department_id")
      status, body = srv:api("POST", "/departments", { name = "X", parent_id = 999999 })
      check(status, body, 422, "invalid", "parent_id")
      status, body = srv:api("PATCH", "/departments/" .. dept, { manager_id = 999999 })
      check(status, body, 422, "invalid", "manager_id")
      status, body = srv:api("POST", "/profiles", { name = "X", system_id = 999999,
        levels = H.object() })
      check(status, body, 422, "invalid", "system_id")
      status, body = post_assessment(H.levels({ [999999] = 2 }))
      check(status, body, 422, "invalid", "levels.999999")
      status, body = srv:api("PUT", "/employees/" .. emp .. "/profiles", { profile_ids = { 999999 } })
      local e = check(status, body, 422, "invalid")
      assert.truthy(tostring(e.field):find("^profile_ids"), "field " .. tostring(e.field))
      assert.same({}, srv:expect(200, "GET", "/employees/" .. emp .. "/profiles").profile_ids)
      status, body = srv:api("GET", "/gaps?by=employee&department_id=999999")
      check(status, body, 422, "invalid", "department_id")
    end)
  end)

  describe("bodies", function()
    it("answers 400 bad_json for malformed JSON", function()
      for _, raw in ipairs({ '{"name": ', "{name: 'x'}", "not json", '{"name":"a",}' }) do
        local status, body = srv:request("POST", "/api/v1/systems", raw, srv.admin_token)
        check(status, body, 400, "bad_json")
      end
      assert.equal(2, #srv:expect(200, "GET", "/systems").items)
    end)

    it("answers 400 bad_json for a body that is not an object", function()
      for _, raw in ipairs({ "[1,2]", '"Excel"', "42", "null" }) do
        local status, body = srv:request("POST", "/api/v1/systems", raw, srv.admin_token)
        check(status, body, 400, "bad_json")
      end
    end)

    it("answers 422 for wrong types, naming the field", function()
      local cases = {
        { "POST", "/systems", { name = 5 }, "name" },
        { "POST", "/systems", { name = "ok", description = { 1 } }, "description" },
        { "POST", "/employees", { employee_number = "T-1", name = "T", email = "t@example.no",
                                  department_id = "abc" }, "department_id" },
        { "POST", "/employees", { employee_number = 12, name = "T", email = "t@example.no",
                                  department_id = dept }, "employee_number" },
        { "PATCH", "/employees/" .. emp, { archived = "yes" }, "archived" },
        { "POST", "/systems/" .. sys .. "/requirements", { text = "x", position = "first" }, "position" },
        { "PATCH", "/requirements/" .. r1, { text = false }, "text" },
        { "PUT", "/employees/" .. emp .. "/profiles", { profile_ids = "1" }, "profile_ids" },
        { "POST", "/departments", { name = { "x" } }, "name" },
        { "POST", "/employees/" .. emp .. "/assessments",
          { source = "appraisal", levels = H.levels({ [r1] = 1 }), note = 7 }, "note" },
      }
      for _, c in ipairs(cases) do
        local status, body = srv:api(c[1], c[2], c[3])
        local ok, err = pcall(check, status, body, 422, "invalid", c[4])
        assert(ok, ("%s %s: %s"):format(c[1], c[2], tostring(err)))
      end
      assert.equal("Feilsystem", srv:expect(200, "GET", "/systems/" .. sys).name)
      assert.is_false(srv:expect(200, "GET", "/employees/" .. emp).archived)
    end)

    it("answers 422 for a missing required field", function()
      local status, body = srv:api("POST", "/systems", H.object())
      check(status, body, 422, "invalid", "name")
      status, body = srv:api("POST", "/employees", { employee_number = "M-1",
        email = "m@example.no", department_id = dept })
      check(status, body, 422, "invalid", "name")
      status, body = srv:api("POST", "/systems/" .. sys .. "/requirements", H.object())
      check(status, body, 422, "invalid", "text")
      status, body = srv:api("POST", "/departments", { parent_id = dept })
      check(status, body, 422, "invalid", "name")
    end)

    it("answers 409 conflict for a taken employee number or login", function()
      local status, body = srv:api("POST", "/employees", { employee_number = "E-1", name = "Dobbel",
        email = "d@example.no", department_id = dept })
      check(status, body, 409, "conflict", "employee_number")
      status, body = srv:api("POST", "/employees", { employee_number = "E-2", name = "Dobbel",
        email = "d@example.no", department_id = dept, login = emp_login, password = "pw-pw-pw" })
      check(status, body, 409, "conflict", "login")
    end)

    it("answers 409 conflict when a PATCH takes a used employee number or login", function()
      local other = srv:employee({ department_id = dept, login = "feil2" })
      local status, body = srv:api("PATCH", "/employees/" .. other, { employee_number = "E-1" })
      check(status, body, 409, "conflict", "employee_number")
      status, body = srv:api("PATCH", "/employees/" .. other, { login = emp_login })
      check(status, body, 409, "conflict", "login")
      assert.equal("feil2", srv:expect(200, "GET", "/employees/" .. other).login)
    end)

    it("refuses a department cycle with 422 on parent_id", function()
      local a = srv:department("A", dept)
      local b = srv:department("B", a)
      local status, body = srv:api("PATCH", "/departments/" .. dept, { parent_id = b })
      check(status, body, 422, "invalid", "parent_id")
      status, body = srv:api("PATCH", "/departments/" .. a, { parent_id = a })
      check(status, body, 422, "invalid", "parent_id")
      assert.equal(a, srv:expect(200, "GET", "/departments/" .. b).parent_id)
    end)

    it("refuses an unknown roll-up dimension with 422 on by", function()
      local status, body = srv:api("GET", "/gaps?by=colour")
      check(status, body, 422, "invalid", "by")
      status, body = srv:api("GET", "/gaps?by=employee&system_id=abc")
      check(status, body, 422, "invalid", "system_id")
    end)
  end)

  describe("more refusals", function()
    it("refuses a field the route does not know, naming it", function()
      local status, body = srv:api("POST", "/systems", { name = "Skrivefeil", descripton = "x" })
      check(status, body, 422, "invalid", "descripton")
      status, body = srv:api("PATCH", "/employees/" .. emp, { nmae = "x" })
      check(status, body, 422, "invalid", "nmae")
      for _, s in ipairs(srv:expect(200, "GET", "/systems").items) do
        assert.are_not.equal("Skrivefeil", s.name)
      end
    end)

    it("answers 400 bad_json for a repeated key", function()
      local status, body = srv:request("POST", "/api/v1/systems", '{"name":"a","name":"b"}',
        srv.admin_token)
      check(status, body, 400, "bad_json")
    end)

    it("answers 404 for ids in the path that are not positive integers", function()
      for _, p in ipairs({ "/systems/abc", "/systems/0", "/systems/-1", "/systems/1.5",
                           "/employees/1e3", "/systems/99999999999999999999999" }) do
        local status, body = srv:api("GET", p)
        local ok, err = pcall(check, status, body, 404, "not_found")
        assert(ok, p .. ": " .. tostring(err))
      end
    end)

    it("refuses an empty levels object in an assessment", function()
      local before = history_ids()
      local status, body = post_assessment(H.object())
      check(status, body, 422, "invalid", "levels")
      assert.same(before, history_ids())
    end)

  end)

  describe("routes and methods", function()
    it("answers 404 not_found for an unknown route", function()
      local status, body = srv:api("GET", "/no-such-thing")
      check(status, body, 404, "not_found")
      status = srv:request("GET", "/no/such/page", nil, srv.admin_token)
      assert.equal(404, status)
      status, body = srv:api("GET", "/employees/" .. emp .. "/no-such-thing")
      check(status, body, 404, "not_found")
    end)

    it("answers 405 method_not_allowed with an Allow header", function()
      local cases = {
        { "DELETE", "/api/v1/employees/" .. emp, { "GET", "PATCH" } },
        { "PUT", "/api/v1/systems", { "GET", "POST" } },
        { "DELETE", "/api/v1/employees/" .. emp .. "/assessments", { "GET", "POST" } },
        { "POST", "/api/v1/employees/" .. emp .. "/gaps", { "GET" } },
        { "POST", "/healthz", { "GET" } },
      }
      for _, c in ipairs(cases) do
        local status, body, _, headers = srv:request(c[1], c[2], nil, srv.admin_token)
        local ok, err = pcall(check, status, body, 405, "method_not_allowed")
        assert(ok, ("%s %s: %s"):format(c[1], c[2], tostring(err)))
        local allow = headers["allow"]
        assert(allow, c[1] .. " " .. c[2] .. ": no Allow header")
        for _, m in ipairs(c[3]) do
          assert(allow:find(m, 1, true), ("%s %s: Allow %q lacks %s"):format(c[1], c[2], allow, m))
        end
        assert(not allow:find(c[1], 1, true), ("%s %s: Allow %q names the refused method"):format(
          c[1], c[2], allow))
      end
    end)
  end)

  describe("authentication", function()
    it("answers 401 unauthorized without a token", function()
      local systems = #srv:expect(200, "GET", "/systems").items
      for _, c in ipairs({ { "GET", "/systems" }, { "POST", "/systems", { name = "x" } },
                           { "GET", "/employees/" .. emp }, { "GET", "/gaps?by=employee" } }) do
        local status, body = srv:api(c[1], c[2], c[3], false)
        check(status, body, 401, "unauthorized")
      end
      assert.equal(systems, #srv:expect(200, "GET", "/systems").items)
    end)

    it("answers 401 for a bad or malformed token", function()
      local status, body = srv:api("GET", "/systems", nil, "not-a-real-token")
      check(status, body, 401, "unauthorized")
      status, body = srv:api("GET", "/systems", nil, srv.admin_token .. "x")
      check(status, body, 401, "unauthorized")
      status, body = srv:request("GET", "/api/v1/systems", nil, nil,
        { "Authorization: Basic YWRtaW46YWRtaW4=" })
      check(status, body, 401, "unauthorized")
      status, body = srv:request("GET", "/api/v1/systems", nil, nil, { "Authorization: Bearer" })
      check(status, body, 401, "unauthorized")
    end)

    it("answers 401 for a wrong password or unknown login", function()
      local status, body = srv:request("POST", "/api/v1/session",
        { login = "admin", password = "wrong" })
      check(status, body, 401, "unauthorized")
      assert.is_nil(body.token)
      status, body = srv:request("POST", "/api/v1/session", { login = "nobody", password = "x" })
      check(status, body, 401, "unauthorized")
    end)
  end)

  -- last: random bodies may create and change things
  describe("robustness", function()
    it("never answers 5xx to random bodies, and stays up", function()
      local values = { H.null, true, false, 0, -1, 1, 4, 5, 2.5, 1e300, "", "x", "3",
                       string.rep("å", 3000), H.object(), { 1, 2 }, { "a" },
                       H.levels({ [r1] = 2 }), H.levels({ [r1] = "2" }), { 999999 } }
      local routes = {
        { "POST", "/departments", { "name", "parent_id", "manager_id" } },
        { "PATCH", "/departments/" .. dept, { "name", "parent_id", "manager_id" } },
        { "POST", "/employees", { "employee_number", "name", "email", "department_id", "roles",
                                  "login", "password" } },
        { "PATCH", "/employees/" .. emp, { "name", "email", "department_id", "roles", "archived",
                                           "login", "password" } },
        { "POST", "/systems", { "name", "description" } },
        { "PATCH", "/systems/" .. other_sys, { "name", "description" } },
        { "POST", "/systems/" .. sys .. "/requirements", { "text", "position" } },
        { "PATCH", "/requirements/" .. r2, { "text", "position" } },
        { "POST", "/profiles", { "name", "system_id", "description", "levels" } },
        { "PATCH", "/profiles/" .. prof, { "name", "description", "levels" } },
        { "PUT", "/employees/" .. emp .. "/profiles", { "profile_ids" } },
        { "POST", "/employees/" .. emp .. "/assessments", { "source", "levels", "note" } },
        { "POST", "/session", { "login", "password" } },
      }
      local n = 0
      for round = 1, tonumber(os.getenv("EVNE_E2E_ROUNDS") or "") or 12 do
        for _, rt in ipairs(routes) do
          local body = H.object()
          for _, f in ipairs(rt[3]) do
            if math.random(3) > 1 then body[f] = values[math.random(#values)] end
          end
          if rt[1] == "POST" and rt[2] == "/session" and round > 2 then body = { login = "admin",
            password = values[math.random(#values)] } end
          local status, _, raw = srv:api(rt[1], rt[2], body)
          n = n + 1
          assert(status < 500, ("%s %s %s -> %d %s"):format(rt[1], rt[2], H.json.encode(body),
            status, tostring(raw)))
        end
      end
      assert.truthy(n > 50)
      assert.equal(200, (srv:request("GET", "/healthz")))
    end)
  end)
end)
