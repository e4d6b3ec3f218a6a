-- The audit trail over HTTP: an entry for each kind of change, made through the API and through
-- the pages, with the actor, the address and the values before and after; logins, failed logins
-- and a rule reload; that nothing can change the trail (no route, and not even raw SQL on the
-- file); the API's filters and paging; and the admin's page, who may see it, in both languages.
local H = require "harness"
local P = require "pagekit"

local function array(t) return setmetatable(t or {}, { __jsontype = "array" }) end

describe("the audit trail", function()
  local srv
  local dept, emp, emp_login, adviser_login, adviser_token, emp_token
  local sys, req, prof

  -- The entries GET /api/v1/admin/audit answers for query (a string after "?").
  local function audit(query, token)
    return srv:expect(200, "GET", "/admin/audit" .. (query and ("?" .. query) or ""), nil, token)
  end

  -- The newest entry about entity #id (entity_id may be nil), asserting there is one.
  local function newest(entity, id, action)
    local q = "entity=" .. entity .. (id and ("&entity_id=" .. id) or "") .. "&limit=500"
    for _, e in ipairs(audit(q).items) do
      if not action or e.action == action then return e end
    end
    error(("no %s entry for %s #%s"):format(action or "", entity, tostring(id)))
  end

  local function sql(query)
    return H.run(("sqlite3 -cmd '.timeout 5000' %s %s"):format(H.shell_quote(srv.db),
      H.shell_quote(query)))
  end

  setup(function()
    srv = H.start()
    dept = srv:department("Helse og omsorg")
    local adviser, _
    emp, _, emp_login = srv:employee({ department_id = dept, name = "Kari Nordmann" })
    adviser, _, adviser_login = srv:employee({ department_id = dept, name = "Rita Rådgiver",
                                               roles = { "employee", "adviser" } })
    adviser_token = srv:login(adviser_login)
    emp_token = srv:login(emp_login)
    assert(adviser)
    sys = srv:system("Gerica")
    req = srv:requirement(sys, "Registrere besøk")
    prof = srv:profile("Gerica 1", sys, { [req] = 3 })
  end)

  teardown(function()
    srv:cleanup()
  end)

  describe("through the API", function()
    it("records each kind of change with the actor, the address and the values before and after", function()
      -- department: insert, update, delete
      local d2 = srv:department("Kortvarig")
      srv:expect(200, "PATCH", "/departments/" .. d2, { name = "Kortvarig avdeling" })
      local e = newest("department", d2, "update")
      assert.equal(srv.admin_id, e.actor_id)
      assert.equal("127.0.0.1", e.addr)
      assert.equal("Kortvarig", e.before.name)
      assert.equal("Kortvarig avdeling", e.after.name)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", e.at)
      srv:expect(204, "DELETE", "/departments/" .. d2)
      e = newest("department", d2, "delete")
      assert.equal("Kortvarig avdeling", e.before.name)
      assert.equal(H.null, e.after)
      assert.equal("insert", newest("department", d2, "insert").action)

      -- employee: the insert made in setup, an update
      e = newest("employee", emp, "insert")
      assert.equal("Kari Nordmann", e.after.name)
      assert.equal(emp, e.employee_id)
      assert.equal("Kari Nordmann", e.employee_name)
      srv:expect(200, "PATCH", "/employees/" .. emp, { name = "Kari Nordmann-Berg" })
      e = newest("employee", emp, "update")
      assert.equal("Kari Nordmann", e.before.name)
      assert.equal("Kari Nordmann-Berg", e.after.name)
      assert.equal(srv.admin_id, e.actor_id)

      -- system, requirement, profile and its levels (the adviser acts)
      srv:expect(200, "PATCH", "/systems/" .. sys, { description = "Pleie og omsorg" }, adviser_token)
      e = newest("system", sys, "update")
      assert.equal("e2e", e.before.description)
      assert.equal("Pleie og omsorg", e.after.description)
      assert.are_not.equal(srv.admin_id, e.actor_id)
      assert.equal("Rita Rådgiver", e.actor_name)
      srv:expect(200, "PATCH", "/requirements/" .. req, { text = "Registrere et besøk" }, adviser_token)
      e = newest("requirement", req, "update")
      assert.equal("Registrere besøk", e.before.text)
      assert.equal("Registrere et besøk", e.after.text)
      srv:expect(200, "PATCH", "/profiles/" .. prof, { levels = H.levels({ [req] = 4 }) }, adviser_token)
      e = newest("profile_level", prof, "update")
      assert.equal(3, e.before.level)
      assert.equal(4, e.after.level)
      assert.equal(req, e.after.requirement_id)
      srv:expect(200, "PATCH", "/profiles/" .. prof, { name = "Gerica grunnleggende" }, adviser_token)
      assert.equal("Gerica grunnleggende", newest("profile", prof, "update").after.name)

      -- an assignment and an assessment, about the employee
      srv:assign(emp, { prof })
      e = newest("assignment", emp, "insert")
      assert.equal(prof, e.after.profile_id)
      assert.equal(emp, e.employee_id)
      local a = srv:assess(emp, "self", { [req] = 2 }, emp_token).items[1]
      e = newest("assessment", a.id, "insert")
      assert.equal(emp, e.actor_id)           -- the employee assessed themselves
      assert.equal(emp, e.employee_id)
      assert.equal(2, e.after.level)
      assert.equal("self", e.after.source)
      assert.equal(H.null, e.before)

      -- a course, a session, an enrolment and its change, an evaluation question, a CV entry
      local course = srv:expect(201, "POST", "/courses", {
        title = "Gerica grunnkurs", system_id = sys,
        requirements = { { requirement_id = req, target_level = 3 } },
      }, adviser_token)
      assert.equal("Gerica grunnkurs", newest("course", course.id, "insert").after.title)
      assert.equal(3, newest("course_requirement", course.id, "insert").after.target_level)
      local session = srv:expect(201, "POST", "/courses/" .. course.id .. "/sessions", {
        starts_at = "2030-01-10T08:00:00Z", ends_at = "2030-01-10T11:00:00Z", capacity = 5,
      }, adviser_token)
      srv:expect(200, "PATCH", "/sessions/" .. session.id, { place = "Rådhuset" }, adviser_token)
      e = newest("session", session.id, "update")
      assert.equal("", e.before.place)
      assert.equal("Rådhuset", e.after.place)
      local inv = srv:expect(201, "POST", "/sessions/" .. session.id .. "/invitations",
        { employee_ids = array({ emp }) }, adviser_token)
      local en = inv.items[1].id
      assert.equal("invited", newest("enrolment", en, "insert").after.state)
      srv:expect(200, "POST", "/enrolments/" .. en .. "/accept", H.object(), emp_token)
      e = newest("enrolment", en, "update")
      assert.equal("invited", e.before.state)
      assert.equal("accepted", e.after.state)
      assert.equal(emp, e.actor_id)
      assert.equal(emp, e.employee_id)
      local q = srv:expect(201, "POST", "/courses/" .. course.id .. "/evaluation-questions",
        { text = "Hvor nyttig var kurset?", kind = "scale" }, adviser_token)
      assert.equal("Hvor nyttig var kurset?", newest("evaluation_question", q.id, "insert").after.text)
      local cv = srv:expect(201, "POST", "/employees/" .. emp .. "/cv",
        { title = "Førstehjelpskurs", happened_on = "2025-05-02" }, emp_token)
      e = newest("cv_entry", cv.id, "insert")
      assert.equal("Førstehjelpskurs", e.after.title)
      assert.equal(emp, e.employee_id)
    end)

    it("never holds a password, only that it was set or changed", function()
      local secret = "Hemmelig-passord-4711"
      srv:expect(200, "PATCH", "/employees/" .. emp, { password = secret })
      local e = newest("employee", emp, "update")
      assert.equal("set", e.before.password)
      assert.equal("changed", e.after.password)
      local _, _, raw = srv:api("GET", "/admin/audit?limit=500")
      assert.is_nil(raw:find(secret, 1, true))
      assert.is_nil(raw:find("argon2", 1, true))
      local out = sql("SELECT count(*) FROM audit WHERE old_values LIKE '%argon2%' OR new_values LIKE '%argon2%'")
      assert.equal("0", out:match("%d+"))
      srv.passwords[emp_login] = secret
    end)

    it("does not record an update that changes nothing", function()
      local before = #audit("entity=department&entity_id=" .. dept .. "&limit=500").items
      srv:expect(200, "PATCH", "/departments/" .. dept, { name = "Helse og omsorg" })
      assert.equal(before, #audit("entity=department&entity_id=" .. dept .. "&limit=500").items)
    end)
  end)

  describe("through the pages", function()
    it("records a change an admin makes in a form, and an employee's self-assessment", function()
      local cookie = P.login(srv, srv.admin_login, srv.admin_password)
      local _, html = P.page(srv, cookie, "GET", "/admin/departments")
      local status = P.page(srv, cookie, "POST", "/admin/departments",
        { { "csrf", P.csrf_of(html) }, { "name", "Laget i skjema" }, { "parent_id", tostring(dept) } })
      assert.equal(303, status)
      local e = audit("entity=department&limit=1").items[1]
      assert.equal("insert", e.action)
      assert.equal("Laget i skjema", e.after.name)
      assert.equal(dept, e.after.parent_id)
      assert.equal(srv.admin_id, e.actor_id)
      assert.equal("127.0.0.1", e.addr)

      local ec = P.login(srv, emp_login, srv.passwords[emp_login])
      _, html = P.page(srv, ec, "GET", "/me/assessment")
      status = P.page(srv, ec, "POST", "/me/assessment",
        { { "csrf", P.csrf_of(html) }, { "r" .. req, "3" } })
      assert.equal(303, status)
      e = audit("entity=assessment&employee_id=" .. emp .. "&limit=1").items[1]
      assert.equal(3, e.after.level)
      assert.equal(emp, e.actor_id)
      assert.equal("127.0.0.1", e.addr)
    end)
  end)

  describe("logins and rules", function()
    it("records logins and failed logins, through the API and the login form", function()
      local since = audit("limit=1").items[1].id
      srv:login(emp_login)
      local status = srv:request("POST", "/api/v1/session", { login = emp_login, password = "feil" })
      assert.equal(401, status)
      status = srv:request("POST", "/api/v1/session", { login = "finnes-ikke", password = "feil" })
      assert.equal(401, status)
      status = P.page(srv, nil, "POST", "/login",
        { { "login", emp_login }, { "password", "feil-igjen" }, { "next", "/" } })
      assert.equal(401, status)
      local got = {}
      for _, e in ipairs(audit("entity=login&limit=20").items) do
        if e.id > since then table.insert(got, 1, e) end
      end
      assert.equal(4, #got)
      assert.equal("login", got[1].action)
      assert.equal(emp, got[1].actor_id)
      assert.equal(emp, got[1].employee_id)
      assert.equal(emp_login, got[1].after.login)
      assert.equal("127.0.0.1", got[1].addr)
      assert.equal("login_failed", got[2].action)
      assert.equal(H.null, got[2].actor_id)
      assert.equal(emp, got[2].employee_id)
      assert.equal("login_failed", got[3].action)
      -- a login nobody has is not written down (people type passwords there now and then)
      assert.equal(H.null, got[3].after.login or H.null)
      assert.equal(true, got[3].after.unknown_login)
      assert.equal(H.null, got[3].employee_id)
      assert.equal("login_failed", got[4].action)   -- the form
      assert.equal(emp_login, got[4].after.login)
    end)

    it("records a rule reload with who asked and the policies now in force", function()
      srv:expect(200, "POST", "/admin/rules/reload", H.object())
      local e = newest("rules", nil, "reload")
      assert.equal(srv.admin_id, e.actor_id)
      assert.equal("an admin asked", e.after.reason)
      assert.is_true(e.after.ok)
      assert.is_true(#e.after.policies > 0)
      assert.matches("^%x+$", e.after.policies[1].sha256)
    end)
  end)

  describe("cannot be changed", function()
    it("has no route that changes it", function()
      for _, m in ipairs({ "POST", "PUT", "PATCH", "DELETE" }) do
        local status = srv:api(m, "/admin/audit", H.object())
        assert.equal(405, status)
      end
      assert.equal(404, (srv:api("DELETE", "/admin/audit/1")))
    end)

    it("refuses UPDATE and DELETE even in raw SQL on the database file", function()
      local n = #audit("limit=500").items
      local out, rc = sql("UPDATE audit SET actor_id = NULL, addr = 'forfalsket'")
      assert.are_not.equal(0, rc)
      assert.matches("append%-only", out)
      out, rc = sql("DELETE FROM audit")
      assert.are_not.equal(0, rc)
      assert.matches("append%-only", out)
      local after = audit("limit=500").items
      assert.equal(n, #after)
      for _, e in ipairs(after) do assert.are_not.equal("forfalsket", e.addr) end
      -- and a change to an audited table outside evne is refused: it would go unrecorded
      out, rc = sql("UPDATE department SET name = 'Uten spor' WHERE id = " .. dept)
      assert.are_not.equal(0, rc)
      assert.matches("evne_", out)
      assert.equal("Helse og omsorg", srv:expect(200, "GET", "/departments/" .. dept).name)
    end)
  end)

  describe("filters and paging", function()
    it("filters by person, actor, entity and time", function()
      for _, e in ipairs(audit("employee_id=" .. emp .. "&limit=500").items) do
        assert.equal(emp, e.employee_id)
      end
      local by_emp = audit("actor_id=" .. emp .. "&limit=500").items
      assert.is_true(#by_emp >= 4)
      for _, e in ipairs(by_emp) do assert.equal(emp, e.actor_id) end
      for _, e in ipairs(audit("entity=profile_level&limit=500").items) do
        assert.equal("profile_level", e.entity)
      end
      local all = audit("limit=500").items
      assert.equal(#all, #audit("from=2000-01-01&to=2099-12-31&limit=500").items)
      assert.equal(0, #audit("to=2000-01-01").items)
      -- an exact second: the entries of that second only
      local at = all[#all].at
      for _, e in ipairs(audit("from=" .. at .. "&to=" .. at .. "&limit=500").items) do
        assert.equal(at, e.at)
      end
    end)

    it("pages by id, newest first, without gaps or repeats", function()
      local all = audit("limit=500").items
      assert.is_true(#all > 10)
      local seen, before, pages = {}, nil, 0
      repeat
        local page = audit("limit=4" .. (before and ("&before_id=" .. before) or ""))
        for _, e in ipairs(page.items) do seen[#seen + 1] = e.id end
        before = page.next_before_id ~= H.null and page.next_before_id or nil
        pages = pages + 1
      until not before or pages > 200
      assert.equal(#all, #seen)
      for i, e in ipairs(all) do assert.equal(e.id, seen[i]) end
      for i = 2, #seen do assert.is_true(seen[i] < seen[i - 1]) end
    end)

    it("refuses bad filters, naming the parameter", function()
      for _, case in ipairs({
        { "employee_id=abc", "employee_id" }, { "actor_id=0", "actor_id" },
        { "entity=Employee;", "entity" }, { "entity_id=-3", "entity_id" },
        { "from=2026-02-30", "from" }, { "to=i-morgen", "to" },
        { "from=2026-05-02&to=2026-05-01", "to" }, { "limit=0", "limit" },
        { "limit=501", "limit" }, { "before_id=x", "before_id" },
      }) do
        local status, body = srv:api("GET", "/admin/audit?" .. case[1])
        H.check_error(status, body, 422, "invalid", case[2])
      end
    end)

    it("is for admins only", function()
      assert.equal(403, (srv:api("GET", "/admin/audit", nil, adviser_token)))
      assert.equal(403, (srv:api("GET", "/admin/audit", nil, srv:login(emp_login))))
      assert.equal(401, (srv:api("GET", "/admin/audit", nil, false)))
    end)
  end)

  describe("the admin's page", function()
    it("shows the entries with what changed, and links that filter", function()
      local cookie = P.login(srv, srv.admin_login, srv.admin_password)
      local status, html = P.page(srv, cookie, "GET", "/admin/audit?entity=requirement&entity_id=" .. req)
      assert.equal(200, status)
      assert.matches("<h1>Endringslogg</h1>", html, 1, true)
      assert.truthy(html:find("text: Registrere besøk → Registrere et besøk", 1, true))
      assert.truthy(html:find("Rita Rådgiver", 1, true))
      assert.truthy(html:find('href="/admin/audit?actor_id=', 1, true))
      -- the password as set or changed, never its value
      status, html = P.page(srv, cookie, "GET", "/admin/audit?entity=employee&entity_id=" .. emp)
      assert.equal(200, status)
      assert.truthy(html:find("password: satt → endret", 1, true))
      -- a login by the system's words, a failed one without an actor
      status, html = P.page(srv, cookie, "GET", "/admin/audit?entity=login&lang=en")
      assert.equal(200, status)
      assert.truthy(html:find("<h1>Audit trail</h1>", 1, true))
      assert.truthy(html:find("Failed login", 1, true))
    end)

    it("pages to older entries, keeping the filter", function()
      -- more than a page (50) of the admin's changes
      for i = 1, 55 do
        srv:expect(200, "PATCH", "/departments/" .. dept, { name = "Helse og omsorg " .. i })
      end
      srv:expect(200, "PATCH", "/departments/" .. dept, { name = "Helse og omsorg" })
      local cookie = P.login(srv, srv.admin_login, srv.admin_password)
      local _, html = P.page(srv, cookie, "GET", "/admin/audit?actor_id=" .. srv.admin_id)
      local older = html:match('href="([^"]+)" rel="next"')
      assert.truthy(older, "no link to older entries")
      older = older:gsub("&amp;", "&")
      assert.truthy(older:find("actor_id=" .. srv.admin_id, 1, true))
      local status, html2 = P.page(srv, cookie, "GET", older)
      assert.equal(200, status)
      local first_id = html:match('<tr id="audit%-(%d+)"')
      local next_id = html2:match('<tr id="audit%-(%d+)"')
      assert.is_true(tonumber(next_id) < tonumber(first_id))
      assert.truthy(html2:find('rel="first"', 1, true))
    end)

    it("shows a bad filter again with the message next to the field", function()
      local cookie = P.login(srv, srv.admin_login, srv.admin_password)
      local status, html = P.page(srv, cookie, "GET", "/admin/audit?from=2026-13-01&employee_id=" .. emp)
      assert.equal(422, status)
      assert.truthy(html:find('id="e-from"', 1, true))
      assert.truthy(html:find('aria-describedby="h-from e-from"', 1, true))
      assert.truthy(html:find('value="2026-13-01"', 1, true))
      assert.truthy(html:find('value="' .. emp .. '"', 1, true))
      assert.is_nil(html:find('<tr id="audit-', 1, true))
    end)

    it("answers 403 to everyone but admins, and sends the logged-out to the login", function()
      local ec = P.login(srv, emp_login, srv.passwords[emp_login])
      assert.equal(403, (P.page(srv, ec, "GET", "/admin/audit")))
      local ac = P.login(srv, adviser_login, srv.passwords[adviser_login])
      assert.equal(403, (P.page(srv, ac, "GET", "/admin/audit")))
      local status, _, headers = P.page(srv, nil, "GET", "/admin/audit")
      assert.equal(303, status)
      assert.truthy(headers.location:find("/login", 1, true))
    end)
  end)
end)
