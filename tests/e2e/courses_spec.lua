-- Courses over HTTP, the whole cycle: courses and sessions, matches from the gaps (with the
-- reason and priority of the shipped matching policy, and the people lacking a prerequisite),
-- invitations with their mails and calendar events, every enrolment transition (the refused
-- ones too: 403 for the wrong person, 409 for the wrong state), the waitlist and its promotion,
-- attendance with the CV entry, the reassessment that moves the gaps, the evaluation, the
-- course's effect, and bad input (422 naming the field).
--
-- The server runs at a fixed clock (--clock), 2030-01-01, and is restarted later "on the day"
-- of the sessions, so that dates in mails and calendar events are known in advance.
local H = require "harness"
local null = H.null

local BASE = 1893456000                      -- 2030-01-01T00:00:00Z
local ON_THE_DAY = BASE + 9 * 86400 + 15 * 3600  -- 2030-01-10T15:00:00Z, after S1 and A1 began

local function find(items, pred)
  for _, it in ipairs(items or {}) do
    if pred(it) then return it end
  end
  return nil
end

local function by_id(items, id)
  return find(items, function(it) return it.id == id end)
end

local function contains(list, value)
  for _, v in ipairs(list or {}) do
    if v == value then return true end
  end
  return false
end

local function array(t)
  return setmetatable(t or {}, { __jsontype = "array" })
end

describe("courses", function()
  local srv, root, helse, skole
  local tok = {}          -- login -> token
  local id = {}           -- login -> employee id
  local email = {}        -- login -> address
  local sys, excel, r1, r2, r3, rx
  local A, B, C           -- courses: A grunnkurs, B journal, C videregående (needs A)
  local S1, S2, S3, A1    -- sessions
  local en = {}           -- "<who>@<session>" -> enrolment id
  local q_scale, q_text

  -- The outbox as rows {id, kind, to_addr, subject, body, ics}, read from the database file.
  local function outbox(where)
    local sql = "SELECT id, kind, to_addr, subject, body, ics FROM outbox"
      .. (where and (" WHERE " .. where) or "") .. " ORDER BY id"
    local out, rc = H.run(("sqlite3 -json %s %s"):format(H.shell_quote(srv.db), H.shell_quote(sql)))
    assert(rc == 0, "sqlite3: " .. out)
    if out:match("^%s*$") then return {} end
    return assert(H.decode(out), "sqlite3 -json: " .. out)
  end

  local function last_outbox_id()
    local rows = outbox()
    return #rows > 0 and rows[#rows].id or 0
  end

  local function mails_since(since, kind)
    return outbox(("id > %d%s"):format(since, kind and (" AND kind = '" .. kind .. "'") or ""))
  end

  local function as(login) return tok[login] end

  local function post(login, path, body)
    return srv:api("POST", path, body or H.object(), login and tok[login] or nil)
  end

  local function transition(login, enrolment, action, body)
    return post(login, "/enrolments/" .. enrolment .. "/" .. action, body)
  end

  local function expect_transition(login, enrolment, action, state, body)
    local status, data, raw = transition(login, enrolment, action, body)
    assert(status == 200, ("%s %s on enrolment %d: expected 200, got %d: %s"):format(login,
      action, enrolment, status, tostring(raw)))
    assert.equal(state, data.state)
    return data
  end

  local function login_all()
    for login in pairs(id) do tok[login] = srv:login(login) end
    tok.admin = srv.admin_token
  end

  setup(function()
    srv = H.start({ args = { "--clock", tostring(BASE) } })
    root = srv:expect(200, "GET", "/employees/" .. srv.admin_id).department_id
    helse = srv:department("Helse og omsorg", root)
    skole = srv:department("Skole", root)
    for _, p in ipairs({
      { "leder", helse }, { "kari", helse }, { "per", helse }, { "lise", helse },
      { "ola", helse }, { "rektor", skole }, { "radgiver", root },
    }) do
      local login, dept = p[1], p[2]
      email[login] = login .. "@example.no"
      id[login] = srv:employee({
        department_id = dept, login = login, password = "pw-" .. login .. "-123",
        name = login:sub(1, 1):upper() .. login:sub(2) .. " Nordmann", email = email[login],
        roles = login == "radgiver" and { "adviser" } or nil,
      })
    end
    srv:expect(200, "PATCH", "/departments/" .. helse, { manager_id = id.leder })
    srv:expect(200, "PATCH", "/departments/" .. skole, { manager_id = id.rektor })
    email.admin = srv:expect(200, "GET", "/employees/" .. srv.admin_id).email

    sys = srv:system("Gerica")
    r1 = srv:requirement(sys, "Skrive journal", 1)
    r2 = srv:requirement(sys, "Lese journal", 2)
    r3 = srv:requirement(sys, "Registrere besøk", 3)
    excel = srv:system("Excel")
    rx = srv:requirement(excel, "Lage formler", 1)
    local profile = srv:profile("Gerica journal", sys, { [r1] = 3, [r2] = 2, [r3] = 2 })
    for _, who in ipairs({ "kari", "per", "lise", "ola" }) do srv:assign(id[who], { profile }) end
    -- what they can before the course: lise has assessed nothing but r3
    srv:assess(id.kari, "test", { [r1] = 1, [r2] = 1, [r3] = 2 })
    srv:assess(id.per, "test", { [r1] = 1, [r3] = 2 })
    srv:assess(id.ola, "test", { [r1] = 3, [r2] = 2, [r3] = 2 })
    srv:assess(id.lise, "test", { [r3] = 2 })
    login_all()
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  describe("courses and sessions", function()
    it("creates courses with requirements, prerequisites and a series", function()
      local a = srv:expect(201, "POST", "/courses", {
        title = "Gerica grunnkurs", system_id = sys, hours = 2,
        requirements = { { requirement_id = r3, target_level = 2 } },
        elearning_during = "https://laering.example.no/gerica/1",
      }, as("radgiver"))
      A = a.id
      assert.equal("Gerica grunnkurs", a.title)
      assert.equal(2, a.hours)
      assert.equal(sys, a.system_id)
      assert.equal("https://laering.example.no/gerica/1", a.elearning_during)
      assert.equal(null, a.elearning_after)
      assert.same({}, a.prerequisites)
      assert.equal(1, #a.requirements)
      assert.equal(r3, a.requirements[1].requirement_id)
      assert.equal("Registrere besøk", a.requirements[1].text)
      assert.is_false(a.archived)

      local b = srv:expect(201, "POST", "/courses", {
        title = "Gerica journal", description = "Journalføring i praksis", system_id = sys,
        requirements = { { requirement_id = r1, target_level = 3 },
                         { requirement_id = r2, target_level = 3 } },
        series = "Gerica", series_order = 1,
      }, as("radgiver"))
      B = b.id
      assert.equal(3, b.hours)   -- the default: a three-hour course
      assert.equal("Gerica", b.series)
      assert.equal(1, b.series_order)

      local c = srv:expect(201, "POST", "/courses", {
        title = "Gerica journal videregående", system_id = sys,
        requirements = { { requirement_id = r1, target_level = 3 } }, prerequisites = { A },
      }, as("radgiver"))
      C = c.id
      assert.same({ A }, c.prerequisites)

      local list = srv:expect(200, "GET", "/courses", nil, as("kari")).items
      assert.is_table(by_id(list, A))
      assert.is_table(by_id(list, C))
      assert.equal("Gerica journal", srv:expect(200, "GET", "/courses/" .. B, nil, as("per")).title)
    end)

    it("patches a course and keeps what the patch does not name", function()
      local b = srv:expect(200, "PATCH", "/courses/" .. B,
        { elearning_after = "https://laering.example.no/gerica/repetisjon" }, as("radgiver"))
      assert.equal("https://laering.example.no/gerica/repetisjon", b.elearning_after)
      assert.equal(2, #b.requirements)
      assert.equal("Journalføring i praksis", b.description)
      b = srv:expect(200, "PATCH", "/courses/" .. B, { series = null }, as("radgiver"))
      assert.equal(null, b.series)
      assert.equal(null, b.series_order)
    end)

    it("refuses bad course input with 422 naming the field", function()
      local cases = {
        { H.object(), "title" },
        { { title = "x", requirements = { { requirement_id = r1, target_level = 5 } } },
          "requirements.0.target_level" },
        { { title = "x", requirements = { { requirement_id = 999999, target_level = 2 } } },
          "requirements.0.requirement_id" },
        { { title = "x", system_id = sys, requirements = { { requirement_id = rx, target_level = 2 } } },
          "requirements.0.requirement_id" },
        { { title = "x", requirements = { { requirement_id = r1, target_level = 2 },
                                          { requirement_id = r1, target_level = 3 } } },
          "requirements.1.requirement_id" },
        { { title = "x", prerequisites = { 999999 } }, "prerequisites.0" },
        { { title = "x", hours = 0 }, "hours" },
        { { title = "x", elearning_during = "ftp://example.no/x" }, "elearning_during" },
        { { title = "x", series_order = 2 }, "series_order" },
        { { title = "x", system_id = 999999 }, "system_id" },
        { { title = "x", colour = "red" }, "colour" },
      }
      for _, case in ipairs(cases) do
        local status, body = srv:api("POST", "/courses", case[1], as("radgiver"))
        H.check_error(status, body, 422, "invalid", case[2])
      end
      local status, body = srv:api("PATCH", "/courses/" .. A, { prerequisites = { A } }, as("radgiver"))
      H.check_error(status, body, 422, "invalid", "prerequisites.0")
      -- C needs A: A needing C would be a cycle
      status, body = srv:api("PATCH", "/courses/" .. A, { prerequisites = { C } }, as("radgiver"))
      local err = H.check_error(status, body, 422, "invalid", "prerequisites.0")
      assert.truthy(err.message:find("cycle", 1, true), err.message)
      assert.same({}, srv:expect(200, "GET", "/courses/" .. A).prerequisites)
      status, body = srv:api("POST", "/courses", { title = "Mitt kurs" }, as("kari"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("PATCH", "/courses/" .. A, { title = "Mitt kurs" }, as("leder"))
      H.check_error(status, body, 403, "forbidden")
    end)

    it("creates sessions and refuses bad ones", function()
      local s = srv:expect(201, "POST", "/courses/" .. B .. "/sessions", {
        starts_at = "2030-01-10T08:00:00Z", ends_at = "2030-01-10T11:00:00Z",
        place = "Rådhuset, møterom 2", trainer = "Trude Kursholder", capacity = 2,
      }, as("radgiver"))
      S1 = s.id
      assert.equal("2030-01-10T08:00:00Z", s.starts_at)
      assert.equal("2030-01-10T11:00:00Z", s.ends_at)
      assert.equal(2, s.capacity)
      assert.equal(2, s.free)
      assert.is_false(s.cancelled)
      S2 = srv:expect(201, "POST", "/courses/" .. B .. "/sessions", {
        starts_at = "2030-02-05T08:00Z", ends_at = "2030-02-05T11:00Z", place = "Helsehuset",
        capacity = 10,
      }, as("radgiver")).id
      S3 = srv:expect(201, "POST", "/courses/" .. B .. "/sessions", {
        starts_at = "2030-03-01T08:00:00Z", ends_at = "2030-03-01T11:00:00Z", capacity = 1,
      }, as("radgiver")).id
      A1 = srv:expect(201, "POST", "/courses/" .. A .. "/sessions", {
        starts_at = "2030-01-10T12:00:00Z", ends_at = "2030-01-10T14:00:00Z", capacity = 5,
      }, as("radgiver")).id
      local list = srv:expect(200, "GET", "/courses/" .. B .. "/sessions", nil, as("kari")).items
      assert.same({ S1, S2, S3 }, { list[1].id, list[2].id, list[3].id })
      assert.equal(3, srv:expect(200, "GET", "/courses/" .. B).coming_sessions)

      local path = "/courses/" .. B .. "/sessions"
      local cases = {
        { { starts_at = "10.01.2030 08:00", ends_at = "2030-01-10T11:00:00Z", capacity = 2 }, "starts_at" },
        { { starts_at = "2030-02-30T08:00:00Z", ends_at = "2030-03-01T11:00:00Z", capacity = 2 }, "starts_at" },
        { { starts_at = "2030-01-10T08:00:00Z", ends_at = "2030-01-10T07:00:00Z", capacity = 2 }, "ends_at" },
        { { starts_at = "2030-01-10T08:00:00Z", ends_at = "2030-01-10T11:00:00Z", capacity = 0 }, "capacity" },
        { { starts_at = "2030-01-10T08:00:00Z", ends_at = "2030-01-10T11:00:00Z" }, "capacity" },
        { { ends_at = "2030-01-10T11:00:00Z", capacity = 3 }, "starts_at" },
      }
      for _, case in ipairs(cases) do
        local status, body = srv:api("POST", path, case[1], as("radgiver"))
        H.check_error(status, body, 422, "invalid", case[2])
      end
      local status, body = srv:api("POST", "/courses/999999/sessions", { starts_at = "2030-01-10T08:00:00Z",
        ends_at = "2030-01-10T11:00:00Z", capacity = 2 }, as("radgiver"))
      H.check_error(status, body, 404, "not_found")
    end)
  end)

  describe("matches", function()
    it("proposes the course to those whose gaps it closes, by priority, with the reason", function()
      local m = srv:expect(200, "POST", "/courses/" .. B .. "/matches", H.object(), as("radgiver"))
      assert.equal(B, m.course_id)
      -- lise: 3 + 2 levels, per: 2 + 2, kari: 2 + 1; ola has no gap
      local order = {}
      for i, it in ipairs(m.items) do order[i] = it.employee_id end
      assert.same({ id.lise, id.per, id.kari }, order)
      local lise = m.items[1]
      assert.equal(5, lise.priority)
      assert.equal("Lise Nordmann", lise.name)
      assert.equal(helse, lise.department_id)
      assert.equal(S1, lise.session_id)
      assert.same(H.sorted({ r1, r2 }), H.sorted(lise.gaps))
      assert.equal("Tetter kompetansegap på 5 nivåer: Gerica: Skrive journal; Gerica: Lese journal",
        lise.reason)
      assert.equal(3, m.items[3].priority)
      assert.same({}, m.lacking_prerequisite)
    end)

    it("lists people who lack a prerequisite as such, not as proposals", function()
      local m = srv:expect(200, "POST", "/courses/" .. C .. "/matches", H.object(), as("radgiver"))
      assert.same({}, m.items)
      local lacking = {}
      for _, it in ipairs(m.lacking_prerequisite) do lacking[#lacking + 1] = it.employee_id end
      assert.same(H.sorted({ id.kari, id.per, id.lise }), H.sorted(lacking))
      local kari = find(m.lacking_prerequisite, function(it) return it.employee_id == id.kari end)
      assert.same({ A }, kari.missing)
      assert.same({ r1 }, kari.gaps)
    end)

    it("filters by department and keeps managers within their own", function()
      local m = srv:expect(200, "POST", "/courses/" .. B .. "/matches", { department_id = skole },
        as("radgiver"))
      assert.same({}, m.items)
      m = srv:expect(200, "POST", "/courses/" .. B .. "/matches", H.object(), as("leder"))
      assert.equal(3, #m.items)
      m = srv:expect(200, "POST", "/courses/" .. B .. "/matches", H.object(), as("rektor"))
      assert.same({}, m.items)
      local status, body = srv:api("POST", "/courses/" .. B .. "/matches", { department_id = helse },
        as("rektor"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("POST", "/courses/" .. B .. "/matches", H.object(), as("kari"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("POST", "/courses/" .. B .. "/matches", { department_id = 999999 },
        as("radgiver"))
      H.check_error(status, body, 422, "invalid", "department_id")
      status, body = srv:api("POST", "/courses/999999/matches", H.object(), as("radgiver"))
      H.check_error(status, body, 404, "not_found")
    end)
  end)

  describe("invitations", function()
    it("invites employees: an enrolment each, and a mail with a calendar event to each and their manager", function()
      local since = last_outbox_id()
      local data = srv:expect(201, "POST", "/sessions/" .. S1 .. "/invitations",
        { employee_ids = { id.kari, id.per, id.lise } }, as("radgiver"))
      assert.equal(3, #data.items)
      for _, e in ipairs(data.items) do
        assert.equal("invited", e.state)
        assert.equal(S1, e.session_id)
        assert.equal(B, e.course_id)
        for who in pairs(id) do
          if id[who] == e.employee_id then en[who .. "@S1"] = e.id end
        end
      end
      local mails = mails_since(since)
      assert.equal(6, #mails)
      for _, who in ipairs({ "kari", "per", "lise" }) do
        local own = find(mails, function(m) return m.to_addr == email[who] end)
        assert.is_table(own, "no invitation to " .. who)
        assert.equal("invitation", own.kind)
        assert.equal("Invitasjon til kurs: Gerica journal", own.subject)
        assert.truthy(own.body:find("torsdag 10. januar 2030 kl. 09.00–12.00", 1, true), own.body)
        assert.truthy(own.body:find("Rådhuset, møterom 2", 1, true))
        assert.truthy(own.body:find("Gerica: Skrive journal", 1, true), own.body)
        local ics = own.ics
        assert.is_string(ics)
        assert.truthy(ics:find("\r\nMETHOD:REQUEST\r\n", 1, true))
        assert.truthy(ics:find(("\r\nUID:evne-session-%d-%d@evne\r\n"):format(S1, id[who]), 1, true))
        assert.truthy(ics:find("\r\nDTSTART:20300110T080000Z\r\n", 1, true))
        assert.truthy(ics:find("\r\nDTEND:20300110T110000Z\r\n", 1, true))
        assert.truthy(ics:find("\r\nLOCATION:Rådhuset\\, møterom 2\r\n", 1, true))
        assert.equal("END:VCALENDAR\r\n", ics:sub(-15))
        -- CRLF everywhere, no line over 75 octets, long ones folded
        assert.is_nil(ics:gsub("\r\n", ""):find("[\r\n]"))
        local folded = false
        for line in ics:gmatch("(.-)\r\n") do
          assert.is_true(#line <= 75, "line of " .. #line .. " octets: " .. line)
          folded = folded or line:sub(1, 1) == " "
        end
        assert.is_true(folded)
        local unfolded = ics:gsub("\r\n ", "")
        assert.truthy(unfolded:find("SUMMARY:Kurs: Gerica journal\r\n", 1, true))
      end
      local to_manager = outbox(("id > %d AND to_addr = '%s'"):format(since, email.leder))
      assert.equal(3, #to_manager)
      assert.equal("Kari Nordmann er invitert til kurs: Gerica journal",
        find(to_manager, function(m) return m.body:find("Kari Nordmann", 1, true) end).subject)
      assert.is_string(to_manager[1].ics)
    end)

    it("is all or nothing, and names the employee already enrolled", function()
      local status, body = srv:api("POST", "/sessions/" .. S1 .. "/invitations",
        { employee_ids = { id.ola, id.kari } }, as("radgiver"))
      local err = H.check_error(status, body, 409, "conflict", "employee_ids.1")
      assert.truthy(err.message:find("Kari Nordmann", 1, true), err.message)
      status, body = srv:api("POST", "/sessions/" .. S2 .. "/invitations",
        { employee_ids = { id.ola, 999999 } }, as("radgiver"))
      H.check_error(status, body, 422, "invalid", "employee_ids.1")
      status, body = srv:api("POST", "/sessions/" .. S2 .. "/invitations",
        { employee_ids = { id.ola, id.ola } }, as("radgiver"))
      H.check_error(status, body, 422, "invalid", "employee_ids.1")
      status, body = srv:api("POST", "/sessions/" .. S2 .. "/invitations", H.object(), as("radgiver"))
      H.check_error(status, body, 422, "invalid", "employee_ids")
      status, body = srv:api("POST", "/sessions/" .. S2 .. "/invitations", { employee_ids = array() },
        as("radgiver"))
      H.check_error(status, body, 422, "invalid", "employee_ids")
      -- nobody was invited by the refused calls
      assert.same({}, srv:expect(200, "GET", "/sessions/" .. S2 .. "/enrolments", nil, as("radgiver")).items)
      assert.equal(3, srv:expect(200, "GET", "/sessions/" .. S1).enrolments.invited)
      status, body = srv:api("POST", "/sessions/" .. S1 .. "/invitations", { employee_ids = { id.ola } },
        as("leder"))
      H.check_error(status, body, 403, "forbidden")
    end)

    it("shows the invited as enrolled in the matches, not as proposals", function()
      local m = srv:expect(200, "POST", "/courses/" .. B .. "/matches", H.object(), as("radgiver"))
      assert.same({}, m.items)
      assert.equal(3, #m.enrolled)
      assert.equal("invited", m.enrolled[1].state)
    end)
  end)

  describe("the enrolment workflow", function()
    it("accept by the employee, approve by the manager, each with a mail to the other", function()
      local since = last_outbox_id()
      local e = expect_transition("kari", en["kari@S1"], "accept", "accepted")
      assert.same({ "cancel" }, e.actions)
      local mails = mails_since(since)
      assert.equal(1, #mails)
      assert.equal("approval_needed", mails[1].kind)
      assert.equal(email.leder, mails[1].to_addr)
      assert.truthy(mails[1].body:find("Kari Nordmann har takket ja", 1, true), mails[1].body)

      local approvals = srv:expect(200, "GET", "/employees/" .. id.leder .. "/approvals", nil,
        as("leder")).items
      assert.equal(1, #approvals)
      assert.equal(en["kari@S1"], approvals[1].id)

      since = last_outbox_id()
      expect_transition("leder", en["kari@S1"], "approve", "approved")
      mails = mails_since(since)
      assert.equal(1, #mails)   -- the manager who approved gets none
      assert.equal("enrolment_approved", mails[1].kind)
      assert.equal(email.kari, mails[1].to_addr)
      assert.same({}, srv:expect(200, "GET", "/employees/" .. id.leder .. "/approvals", nil,
        as("leder")).items)
      local events = srv:expect(200, "GET", "/enrolments/" .. en["kari@S1"], nil, as("kari")).events
      assert.same({ "invited", "accepted", "approved" }, { events[1].to, events[2].to, events[3].to })
      assert.equal(id.leder, events[3].by)
    end)

    it("lets a manager enrol someone directly, and waitlists when the session is full", function()
      expect_transition("leder", en["lise@S1"], "approve", "approved")
      expect_transition("per", en["per@S1"], "accept", "accepted")
      local since = last_outbox_id()
      expect_transition("leder", en["per@S1"], "approve", "waitlisted")
      local mails = mails_since(since)
      assert.equal("enrolment_waitlisted", mails[1].kind)
      assert.equal(email.per, mails[1].to_addr)
      local s = srv:expect(200, "GET", "/sessions/" .. S1)
      assert.equal(2, s.taken)
      assert.equal(0, s.free)
      assert.equal(1, s.enrolments.waitlisted)
    end)

    it("promotes the longest waiting when a place frees up, with a mail", function()
      local since = last_outbox_id()
      expect_transition("kari", en["kari@S1"], "cancel", "cancelled")
      local per = srv:expect(200, "GET", "/enrolments/" .. en["per@S1"], nil, as("per"))
      assert.equal("approved", per.state)
      local last = per.events[#per.events]
      assert.same({ "waitlisted", "approved", null }, { last.from, last.to, last.by })
      local promoted = mails_since(since, "enrolment_promoted")
      assert.truthy(find(promoted, function(m) return m.to_addr == email.per end))
      local cancelled = mails_since(since, "enrolment_cancelled")
      assert.equal(1, #cancelled)   -- to the manager; kari cancelled it herself
      assert.equal(email.leder, cancelled[1].to_addr)
      assert.truthy(cancelled[1].ics:find("METHOD:CANCEL", 1, true))
    end)

    it("decline, invite again, reject with a reason", function()
      local data = srv:expect(201, "POST", "/sessions/" .. S1 .. "/invitations",
        { employee_ids = { id.ola, id.leder } }, as("radgiver"))
      en["ola@S1"], en["leder@S1"] = data.items[1].id, data.items[2].id
      expect_transition("ola", en["ola@S1"], "decline", "declined")
      local again = srv:expect(201, "POST", "/sessions/" .. S1 .. "/invitations",
        { employee_ids = { id.ola } }, as("radgiver"))
      assert.equal(en["ola@S1"], again.items[1].id)
      assert.equal("invited", again.items[1].state)
      expect_transition("ola", en["ola@S1"], "accept", "accepted")
      local since = last_outbox_id()
      local e = expect_transition("leder", en["ola@S1"], "reject", "rejected",
        { reason = "Turnusen går ikke opp den dagen" })
      assert.equal("Turnusen går ikke opp den dagen", e.reason)
      local mails = mails_since(since)
      assert.equal(1, #mails)
      assert.equal(email.ola, mails[1].to_addr)
      assert.equal("enrolment_rejected", mails[1].kind)
      assert.truthy(mails[1].body:find("Begrunnelse: Turnusen går ikke opp den dagen", 1, true))
      assert.truthy(mails[1].ics:find("\r\nMETHOD:CANCEL\r\n", 1, true))
      local status, body = transition("leder", en["ola@S1"], "approve", { reason = 7 })
      H.check_error(status, body, 422, "invalid", "reason")
    end)

    it("sets up one enrolment in each open state for the checks below", function()
      local data = srv:expect(201, "POST", "/sessions/" .. S3 .. "/invitations",
        { employee_ids = { id.kari, id.per, id.lise, id.ola, id.leder } }, as("radgiver"))
      for i, who in ipairs({ "kari", "per", "lise", "ola", "leder" }) do
        en[who .. "@S3"] = data.items[i].id
      end
      expect_transition("per", en["per@S3"], "accept", "accepted")
      expect_transition("leder", en["lise@S3"], "approve", "approved")
      expect_transition("ola", en["ola@S3"], "accept", "accepted")
      expect_transition("admin", en["ola@S3"], "approve", "waitlisted")
      expect_transition("leder", en["leder@S3"], "decline", "declined")
      -- a manager may not approve their own place; an admin may
      local status, body = transition("leder", en["leder@S1"], "approve")
      H.check_error(status, body, 403, "forbidden")
    end)

    it("lists an approval for the nearest manager, who got the mail", function()
      local hjemme = srv:department("Hjemmetjenesten", helse)
      local sjef, sjef_obj = srv:employee({ department_id = hjemme, login = "sjef" })
      srv:expect(200, "PATCH", "/departments/" .. hjemme, { manager_id = sjef })
      local nina = srv:employee({ department_id = hjemme, login = "nina" })
      local e = srv:expect(201, "POST", "/sessions/" .. S3 .. "/invitations",
        { employee_ids = { nina } }, as("radgiver")).items[1].id
      local since = last_outbox_id()
      local status = srv:api("POST", "/enrolments/" .. e .. "/accept", H.object(), srv:login("nina"))
      assert.equal(200, status)
      local mails = mails_since(since)
      assert.equal(1, #mails)
      assert.equal(sjef_obj.email, mails[1].to_addr)
      local theirs = srv:expect(200, "GET", "/employees/" .. sjef .. "/approvals", nil,
        srv:login("sjef")).items
      assert.same({ e }, H.ids(theirs))
      local leders = srv:expect(200, "GET", "/employees/" .. id.leder .. "/approvals", nil,
        as("leder")).items
      assert.same({ en["per@S3"] }, H.ids(leders))
      -- an admin sees what waits for anyone
      assert.same({ e }, H.ids(srv:expect(200, "GET", "/employees/" .. sjef .. "/approvals").items))
    end)

    it("refuses the wrong person with 403, whatever the state", function()
      local e = en["lise@S3"]
      local refused = {
        { "leder", "accept" }, { "radgiver", "accept" }, { "admin", "accept" }, { "per", "accept" },
        { "per", "decline" }, { "leder", "decline" },
        { "lise", "approve" }, { "radgiver", "approve" }, { "per", "approve" }, { "rektor", "approve" },
        { "lise", "reject" }, { "radgiver", "reject" }, { "rektor", "reject" },
        { "per", "cancel" }, { "rektor", "cancel" },
        { "leder", "attend" }, { "lise", "attend" }, { "leder", "absent" }, { "lise", "absent" },
      }
      for _, r in ipairs(refused) do
        local status, body = transition(r[1], e, r[2])
        local err = H.check_error(status, body, 403, "forbidden")
        assert.truthy(err.message:find(r[2], 1, true), err.message)
      end
      assert.equal("approved", srv:expect(200, "GET", "/enrolments/" .. e).state)
      local status, body = srv:api("GET", "/enrolments/" .. e, nil, as("per"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("GET", "/enrolments/" .. e, nil, as("rektor"))
      H.check_error(status, body, 403, "forbidden")
      status, body = transition("admin", 999999, "cancel")
      H.check_error(status, body, 404, "not_found")
      status, body = srv:api("GET", "/employees/" .. id.leder .. "/approvals", nil, as("kari"))
      H.check_error(status, body, 403, "forbidden")
    end)

    it("refuses attendance before the session starts", function()
      local status, body = transition("radgiver", en["lise@S1"], "attend")
      local err = H.check_error(status, body, 409, "too_early")
      assert.truthy(err.message:find("2030-01-10T08:00:00Z", 1, true), err.message)
    end)

    it("enrols kari in the prerequisite course", function()
      en["kari@A1"] = srv:expect(201, "POST", "/sessions/" .. A1 .. "/invitations",
        { employee_ids = { id.kari } }, as("radgiver")).items[1].id
      expect_transition("leder", en["kari@A1"], "approve", "approved")
    end)

    it("lists enrolments by employee and by session, managers seeing only their own people", function()
      local mine = srv:expect(200, "GET", "/employees/" .. id.kari .. "/enrolments", nil, as("kari")).items
      assert.equal(3, #mine)
      local status, body = srv:api("GET", "/employees/" .. id.kari .. "/enrolments", nil, as("per"))
      H.check_error(status, body, 403, "forbidden")
      local all = srv:expect(200, "GET", "/sessions/" .. S1 .. "/enrolments", nil, as("leder")).items
      assert.equal(5, #all)
      assert.same({}, srv:expect(200, "GET", "/sessions/" .. S1 .. "/enrolments", nil, as("rektor")).items)
      status, body = srv:api("GET", "/sessions/" .. S1 .. "/enrolments", nil, as("kari"))
      H.check_error(status, body, 403, "forbidden")
      -- the manager role alone, managing no department, sees nobody's enrolments
      local nobody = H.unique("rolle")
      srv:employee({ department_id = helse, login = nobody, password = "pw-rolle-123",
                     roles = { "employee", "manager" } })
      status, body = srv:api("GET", "/sessions/" .. S1 .. "/enrolments", nil,
        srv:login(nobody, "pw-rolle-123"))
      H.check_error(status, body, 403, "forbidden")
    end)
  end)

  describe("sessions change", function()
    it("mails a new place to the open enrolments, and a cancellation to each", function()
      local data = srv:expect(201, "POST", "/sessions/" .. S2 .. "/invitations",
        { employee_ids = { id.ola, id.kari } }, as("radgiver"))
      local since = last_outbox_id()
      local s = srv:expect(200, "PATCH", "/sessions/" .. S2, { place = "Kantina" }, as("radgiver"))
      assert.equal("Kantina", s.place)
      local moved = mails_since(since, "session_changed")
      assert.equal(2, #moved)
      assert.truthy(moved[1].ics:find("LOCATION:Kantina", 1, true))
      assert.is_nil(moved[1].ics:find("SEQUENCE:0\r\n", 1, true))

      since = last_outbox_id()
      s = srv:expect(200, "PATCH", "/sessions/" .. S2, { cancelled = true }, as("radgiver"))
      assert.is_true(s.cancelled)
      for _, e in ipairs(data.items) do
        assert.equal("cancelled", srv:expect(200, "GET", "/enrolments/" .. e.id).state)
      end
      local cancelled = mails_since(since, "session_cancelled")
      assert.equal(2, #cancelled)
      assert.truthy(cancelled[1].ics:find("\r\nMETHOD:CANCEL\r\n", 1, true))
      assert.truthy(cancelled[1].ics:find("\r\nSTATUS:CANCELLED\r\n", 1, true))
      local status, body = srv:api("PATCH", "/sessions/" .. S2, { place = "Biblioteket" }, as("radgiver"))
      H.check_error(status, body, 409, "wrong_state")
      status, body = srv:api("POST", "/sessions/" .. S2 .. "/invitations", { employee_ids = { id.per } },
        as("radgiver"))
      H.check_error(status, body, 409, "wrong_state")
      status, body = srv:api("PATCH", "/sessions/" .. S1, { capacity = 1 }, as("radgiver"))
      H.check_error(status, body, 422, "invalid", "capacity")
      status, body = srv:api("PATCH", "/sessions/" .. S1, { ends_at = "2030-01-09T08:00:00Z" },
        as("radgiver"))
      H.check_error(status, body, 422, "invalid", "ends_at")
    end)
  end)

  describe("evaluation questions", function()
    it("are made by advisers per course", function()
      q_scale = srv:expect(201, "POST", "/courses/" .. B .. "/evaluation-questions",
        { text = "Hvor nyttig var kurset for deg?", kind = "scale" }, as("radgiver")).id
      q_text = srv:expect(201, "POST", "/courses/" .. B .. "/evaluation-questions",
        { text = "Hva kan bli bedre?", kind = "text" }, as("radgiver")).id
      local qs = srv:expect(200, "GET", "/courses/" .. B .. "/evaluation-questions", nil, as("lise")).items
      assert.same({ q_scale, q_text }, { qs[1].id, qs[2].id })
      assert.is_false(qs[1].global)
      assert.same({}, srv:expect(200, "GET", "/courses/" .. A .. "/evaluation-questions").items)
      local status, body = srv:api("POST", "/courses/" .. B .. "/evaluation-questions",
        { text = "Stjerner?", kind = "stars" }, as("radgiver"))
      H.check_error(status, body, 422, "invalid", "kind")
      status, body = srv:api("POST", "/courses/" .. B .. "/evaluation-questions",
        { text = "Stjerner?", kind = "scale" }, as("lise"))
      H.check_error(status, body, 403, "forbidden")
    end)
  end)

  describe("on the day", function()
    setup(function()
      srv.opts.args = { "--clock", tostring(ON_THE_DAY) }
      srv:restart()
      login_all()   -- the day is past the tokens' lifetime
    end)

    it("takes no more answers once the session has started", function()
      local status, body = transition("leder", en["leder@S1"], "accept")
      local err = H.check_error(status, body, 409, "session_started")
      assert.truthy(err.message:find("only attend and absent", 1, true), err.message)
    end)

    it("marks attendance and absence, and writes the attended course to the CV", function()
      local since = last_outbox_id()
      local e = expect_transition("radgiver", en["lise@S1"], "attend", "attended")
      assert.same({}, e.actions)
      expect_transition("admin", en["per@S1"], "absent", "absent")
      expect_transition("radgiver", en["kari@A1"], "attend", "attended")
      local attended = mails_since(since, "course_attended")
      assert.truthy(find(attended, function(m) return m.to_addr == email.lise end))
      assert.truthy(attended[1].body:find("repetisjon", 1, true) or
        attended[1].body:find("Repetisjon", 1, true))
      local absent = mails_since(since, "course_absent")
      assert.equal(2, #absent)   -- per and the manager

      local cv = srv:expect(200, "GET", "/employees/" .. id.lise .. "/cv", nil, as("lise")).items
      assert.equal(1, #cv)
      assert.equal("Gerica journal", cv[1].title)
      assert.equal("2030-01-10", cv[1].happened_on)
      assert.equal(3, cv[1].hours)
      assert.equal("course", cv[1].source)
      assert.truthy(cv[1].detail:find("Gerica: Skrive journal", 1, true), cv[1].detail)
      assert.same({}, srv:expect(200, "GET", "/employees/" .. id.per .. "/cv", nil, as("per")).items)
      local status, body = transition("radgiver", en["lise@S1"], "attend")
      local err = H.check_error(status, body, 409, "wrong_state")
      assert.truthy(err.message:find("is attended", 1, true), err.message)
    end)

    it("refuses every action from a state that does not allow it, saying why", function()
      local states = {
        invited = en["kari@S3"], accepted = en["per@S3"], declined = en["leder@S3"],
        approved = en["lise@S3"], rejected = en["ola@S1"], waitlisted = en["ola@S3"],
        cancelled = en["kari@S1"], attended = en["lise@S1"], absent = en["per@S1"],
      }
      local from = {
        accept = { "invited" }, decline = { "invited" }, approve = { "invited", "accepted" },
        reject = { "accepted" }, cancel = { "invited", "accepted", "approved", "waitlisted" },
        attend = { "approved" }, absent = { "approved" },
      }
      local owner = {}
      for key, e in pairs(en) do owner[e] = key:match("^(.-)@") end
      local checked = 0
      for action, allowed in pairs(from) do
        for state, e in pairs(states) do
          if not contains(allowed, state) then
            -- someone the role check lets through, so that the state is what refuses
            local who = (action == "accept" or action == "decline") and owner[e] or "admin"
            local status, body = transition(who, e, action)
            local err = H.check_error(status, body, 409, "wrong_state")
            assert.truthy(err.message:find("is " .. state .. ";", 1, true), err.message)
            assert.truthy(err.message:find(action .. " is possible only from " .. allowed[1], 1, true),
              err.message)
            checked = checked + 1
          end
        end
      end
      assert.equal(7 * 9 - 11, checked)
      assert.equal("waitlisted", srv:expect(200, "GET", "/enrolments/" .. states.waitlisted).state)
    end)

    it("promotes the waitlist when the capacity grows", function()
      local s = srv:expect(200, "PATCH", "/sessions/" .. S3, { capacity = 2 }, as("radgiver"))
      assert.equal(2, s.taken)
      assert.equal("approved", srv:expect(200, "GET", "/enrolments/" .. en["ola@S3"]).state)
    end)

    it("takes the reassessment of the covered requirements as course assessments; the gaps move", function()
      local gaps = srv:expect(200, "GET", "/employees/" .. id.lise .. "/gaps", nil, as("lise")).items
      assert.equal(3, find(gaps, function(g) return g.requirement_id == r1 end).gap)
      local path = "/enrolments/" .. en["lise@S1"] .. "/reassessment"
      local status, body = srv:api("POST", path, { levels = H.levels({ [r3] = 3 }) }, as("lise"))
      H.check_error(status, body, 422, "invalid", "levels." .. r3)
      status, body = srv:api("POST", path, { levels = H.levels({ [r1] = 9 }) }, as("lise"))
      H.check_error(status, body, 422, "invalid", "levels." .. r1)
      status, body = srv:api("POST", path, { levels = H.levels({ [r1] = 3 }) }, as("leder"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("POST", "/enrolments/" .. en["per@S1"] .. "/reassessment",
        { levels = H.levels({ [r1] = 3 }) }, as("per"))
      H.check_error(status, body, 409, "wrong_state")
      local created = srv:expect(201, "POST", path, { levels = H.levels({ [r1] = 3, [r2] = 3 }) },
        as("lise")).items
      assert.equal(2, #created)
      assert.equal("course", created[1].source)
      gaps = srv:expect(200, "GET", "/employees/" .. id.lise .. "/gaps", nil, as("lise")).items
      assert.equal(0, find(gaps, function(g) return g.requirement_id == r1 end).gap)
      assert.equal(0, find(gaps, function(g) return g.requirement_id == r2 end).gap)
      assert.equal(3, find(gaps, function(g) return g.requirement_id == r1 end).actual)
    end)

    it("takes the evaluation once, after attending", function()
      local path = "/enrolments/" .. en["lise@S1"] .. "/evaluation"
      local good = { answers = { { question_id = q_scale, score = 5 },
                                 { question_id = q_text, text = "Mer tid til øving" } } }
      local cases = {
        { { answers = { { question_id = q_scale, score = 7 } } }, "answers.0.score" },
        { { answers = { { question_id = q_scale, score = 4 }, { question_id = q_scale, score = 3 } } },
          "answers.1.question_id" },
        { { answers = { { question_id = q_text, score = 3 } } }, "answers.0.score" },
        { { answers = { { score = 3 } } }, "answers.0.question_id" },
        { { answers = { { question_id = 999999, score = 3 } } }, "answers.0.question_id" },
        { { answers = array() }, "answers" },
        { H.object(), "answers" },
      }
      for _, case in ipairs(cases) do
        local status, body = srv:api("POST", path, case[1], as("lise"))
        H.check_error(status, body, 422, "invalid", case[2])
      end
      local status, body = srv:api("POST", path, good, as("kari"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("POST", "/enrolments/" .. en["per@S1"] .. "/evaluation",
        { answers = { { question_id = q_scale, score = 1 } } }, as("per"))
      H.check_error(status, body, 409, "wrong_state")
      local data = srv:expect(201, "POST", path, good, as("lise"))
      assert.equal(2, #data.items)
      status, body = srv:api("POST", path, good, as("lise"))
      H.check_error(status, body, 409, "conflict")
      assert.is_true(srv:expect(200, "GET", "/enrolments/" .. en["lise@S1"], nil, as("lise")).evaluated)

      local results = srv:expect(200, "GET", "/courses/" .. B .. "/evaluations", nil, as("radgiver"))
      assert.equal(1, results.responses)
      assert.equal(1, results.attended)
      local scale = find(results.items, function(it) return it.question_id == q_scale end)
      assert.equal(1, scale.count)
      assert.is_true(H.near(5, scale.average))
      local text = find(results.items, function(it) return it.question_id == q_text end)
      assert.same({ "Mer tid til øving" }, text.texts)
      local per_session = srv:expect(200, "GET", "/courses/" .. B .. "/evaluations?session_id=" .. S3,
        nil, as("radgiver"))
      assert.equal(0, per_session.responses)
      status, body = srv:api("GET", "/courses/" .. B .. "/evaluations?session_id=" .. A1, nil,
        as("radgiver"))
      H.check_error(status, body, 422, "invalid", "session_id")
      status, body = srv:api("GET", "/courses/" .. B .. "/evaluations", nil, as("lise"))
      H.check_error(status, body, 403, "forbidden")
    end)

    it("takes one free text as the evaluation of a course without questions", function()
      local path = "/enrolments/" .. en["kari@A1"] .. "/evaluation"
      local status, body = srv:api("POST", path, { answers = { { question_id = q_scale, score = 4 } } },
        as("kari"))
      H.check_error(status, body, 422, "invalid", "answers.0")
      srv:expect(201, "POST", path, { answers = { { text = "Nyttig og konkret" } } }, as("kari"))
      local qs = srv:expect(200, "GET", "/courses/" .. A .. "/evaluation-questions").items
      assert.equal(1, #qs)
      assert.equal("text", qs[1].kind)
      local results = srv:expect(200, "GET", "/courses/" .. A .. "/evaluations", nil, as("radgiver"))
      assert.same({ "Nyttig og konkret" }, results.items[1].texts)
    end)

    it("proposes the next course once the prerequisite is attended", function()
      local m = srv:expect(200, "POST", "/courses/" .. C .. "/matches", H.object(), as("radgiver"))
      assert.equal(1, #m.items)
      assert.equal(id.kari, m.items[1].employee_id)
      assert.equal(2, m.items[1].priority)
      assert.equal(null, m.items[1].session_id)   -- C has no session yet
      assert.equal(1, #m.lacking_prerequisite)
      assert.equal(id.per, m.lacking_prerequisite[1].employee_id)
    end)

    it("shows the course's effect on the attendees' levels", function()
      local eff = srv:expect(200, "GET", "/courses/" .. B .. "/effect", nil, as("radgiver"))
      assert.equal(1, eff.attendees)
      local one = find(eff.items, function(it) return it.requirement_id == r1 end)
      assert.is_true(H.near(0, one.average_before))
      assert.is_true(H.near(3, one.average_after))
      assert.equal(3, one.targeted_gap_before)
      assert.equal(0, one.targeted_gap_after)
      assert.equal(3, one.gap_closed)
      assert.equal(1, one.unassessed_before)
      local two = find(eff.items, function(it) return it.requirement_id == r2 end)
      assert.equal(2, two.targeted_gap_before)   -- min(target 3, required 2) - 0
      assert.equal(5, eff.total.gap_closed)
      assert.is_true(H.near(1, eff.total.share_closed))
      local none = srv:expect(200, "GET", "/courses/" .. C .. "/effect", nil, as("radgiver"))
      assert.equal(0, none.attendees)
      local status, body = srv:api("GET", "/courses/" .. B .. "/effect", nil, as("leder"))
      H.check_error(status, body, 403, "forbidden")
    end)

    it("adds CV entries by hand, for the employee themselves or an admin", function()
      local e = srv:expect(201, "POST", "/employees/" .. id.lise .. "/cv",
        { title = "Førstehjelp", happened_on = "2029-05-02", hours = 6, detail = "Røde Kors" },
        as("lise"))
      assert.equal("manual", e.source)
      assert.equal(6, e.hours)
      srv:expect(201, "POST", "/employees/" .. id.lise .. "/cv",
        { title = "Brannvern", happened_on = "2028-11-20" }, as("admin"))
      local cv = srv:expect(200, "GET", "/employees/" .. id.lise .. "/cv", nil, as("leder")).items
      assert.same({ "Gerica journal", "Førstehjelp", "Brannvern" }, { cv[1].title, cv[2].title, cv[3].title })
      local status, body = srv:api("POST", "/employees/" .. id.lise .. "/cv",
        { title = "Falsk", happened_on = "2029-01-01" }, as("leder"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("POST", "/employees/" .. id.lise .. "/cv",
        { title = "Kurs", happened_on = "2029-02-30" }, as("lise"))
      H.check_error(status, body, 422, "invalid", "happened_on")
      status, body = srv:api("POST", "/employees/" .. id.lise .. "/cv", { happened_on = "2029-02-03" },
        as("lise"))
      H.check_error(status, body, 422, "invalid", "title")
      status, body = srv:api("GET", "/employees/" .. id.lise .. "/cv", nil, as("per"))
      H.check_error(status, body, 403, "forbidden")
    end)

    it("keeps a course with history: delete answers has_history, archive works", function()
      local status, body = srv:api("DELETE", "/courses/" .. B, nil, as("radgiver"))
      H.check_error(status, body, 409, "has_history")
      local needed = srv:expect(201, "POST", "/courses", { title = "Del 1" }, as("radgiver")).id
      srv:expect(201, "POST", "/courses", { title = "Del 2", prerequisites = { needed } }, as("radgiver"))
      status, body = srv:api("DELETE", "/courses/" .. needed, nil, as("radgiver"))
      H.check_error(status, body, 409, "conflict")
      local lone = srv:expect(201, "POST", "/courses", { title = "Enkeltkurs" }, as("radgiver")).id
      srv:expect(201, "POST", "/courses/" .. lone .. "/sessions", { starts_at = "2030-04-01T08:00:00Z",
        ends_at = "2030-04-01T10:00:00Z", capacity = 3 }, as("radgiver"))
      assert.equal(204, (srv:api("DELETE", "/courses/" .. lone, nil, as("radgiver"))))
      assert.equal(404, (srv:api("GET", "/courses/" .. lone)))
      local b = srv:expect(200, "PATCH", "/courses/" .. B, { archived = true }, as("radgiver"))
      assert.is_true(b.archived)
      status, body = srv:api("POST", "/courses/" .. B .. "/matches", H.object(), as("radgiver"))
      H.check_error(status, body, 409, "conflict")
    end)
  end)

  describe("a person's language", function()
    local emma, tom, L, S4

    -- Words of the other language that must not be in a mail.
    local NORWEGIAN = { "Hei ", "Kurs:", "Tid:", "Sted:", "Varighet", "Hilsen", "kurset", " kl. " }
    local ENGLISH = { "Hello ", "Course:", "When:", "Where:", "Duration", "Regards", "course" }
    local function none_of(words, text)
      for _, w in ipairs(words) do
        assert.is_nil(text:find(w, 1, true), ("'%s' in: %s"):format(w, text))
      end
    end

    it("shows lang, which the employee changes for themselves and an admin for anyone", function()
      local _, login
      emma, _, login = srv:employee({ department_id = helse, name = "Emma Nordmann",
                                      email = "emma@example.no", login = "emma" })
      tok.emma = srv:login(login)
      tom = srv:employee({ department_id = skole, name = "Tom Nordmann", email = "tom@example.no",
                           login = "tom" })
      tok.tom = srv:login("tom")
      assert.equal("nb", srv:expect(200, "GET", "/employees/" .. emma, nil, as("emma")).lang)
      local e = srv:expect(200, "PATCH", "/employees/" .. emma, { lang = "en" }, as("emma"))
      assert.equal("en", e.lang)
      assert.equal("Emma Nordmann", e.name)
      -- nothing else about themselves, and nothing about others
      local status, body = srv:api("PATCH", "/employees/" .. emma, { lang = "nb", name = "Emma" },
        as("emma"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("PATCH", "/employees/" .. tom, { lang = "en" }, as("emma"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("PATCH", "/employees/" .. tom, { lang = "en" }, as("rektor"))
      H.check_error(status, body, 403, "forbidden")
      status, body = srv:api("PATCH", "/employees/" .. emma, H.object(), as("emma"))
      H.check_error(status, body, 403, "forbidden")
      for _, bad in ipairs({ "de", "EN", "", "english" }) do
        status, body = srv:api("PATCH", "/employees/" .. emma, { lang = bad }, as("emma"))
        H.check_error(status, body, 422, "invalid", "lang")
      end
      status, body = srv:api("PATCH", "/employees/" .. emma, { lang = 1 }, as("emma"))
      H.check_error(status, body, 422, "invalid", "lang")
      status, body = srv:api("POST", "/employees", { employee_number = H.unique("E"), name = "X",
        email = "x@example.no", department_id = helse, lang = "sv" })
      H.check_error(status, body, 422, "invalid", "lang")
      -- nothing of it was stored
      assert.equal("en", srv:expect(200, "GET", "/employees/" .. emma).lang)
      assert.equal("nb", srv:expect(200, "GET", "/employees/" .. tom).lang)
      -- an admin sets anyone's, also when creating them
      assert.equal("en", srv:expect(200, "PATCH", "/employees/" .. id.rektor, { lang = "en" }).lang)
      local created = srv:expect(201, "POST", "/employees", { employee_number = H.unique("E"),
        name = "Ann Nordmann", email = "ann@example.no", department_id = helse, lang = "en" })
      assert.equal("en", created.lang)
    end)

    it("stores the language a logged-in person switches to on the pages", function()
      local P = require("pagekit")
      local cookie = P.login(srv, "tom", srv.passwords.tom)
      -- the language links of our own pages (a browser says so, or names the page it came from)
      local ours = { "Sec-Fetch-Site: same-origin" }
      local status, html, headers = P.page(srv, cookie, "GET", "/me?lang=en", nil, ours)
      assert.equal(200, status)
      assert.truthy(html:find('lang="en"', 1, true))
      assert.truthy((headers["set-cookie"] or ""):find("evne_lang=en", 1, true))
      assert.equal("en", srv:expect(200, "GET", "/employees/" .. tom).lang)
      status = P.page(srv, cookie, "GET", "/me?lang=nb", nil,
                      { "Referer: http://127.0.0.1/me?lang=en" })
      assert.equal(200, status)
      assert.equal("nb", srv:expect(200, "GET", "/employees/" .. tom).lang)
      -- a link from another site changes what this browser shows, not what is stored
      status, html = P.page(srv, cookie, "GET", "/me?lang=en", nil, { "Sec-Fetch-Site: cross-site" })
      assert.equal(200, status)
      assert.truthy(html:find('lang="en"', 1, true))
      assert.equal("nb", srv:expect(200, "GET", "/employees/" .. tom).lang)
      status = P.page(srv, cookie, "GET", "/me?lang=en", nil,
                      { "Referer: https://elsewhere.example/evne-link" })
      assert.equal(200, status)
      assert.equal("nb", srv:expect(200, "GET", "/employees/" .. tom).lang)
      -- without a session the switch is the browser's alone
      status = P.page(srv, nil, "GET", "/login?lang=en")
      assert.equal(200, status)
      assert.equal("nb", srv:expect(200, "GET", "/employees/" .. tom).lang)
    end)

    it("gives a browser that has not chosen a language the person's own at login", function()
      local P = require("pagekit")
      srv:expect(200, "PATCH", "/employees/" .. tom, { lang = "en" })
      local status, _, headers = P.page(srv, nil, "POST", "/login",
        { { "login", "tom" }, { "password", srv.passwords.tom }, { "next", "/me" } })
      assert.equal(303, status)
      assert.truthy((headers["set-cookie"] or ""):find("evne_lang=en", 1, true))
      -- a browser that chose bokmål keeps it
      status, _, headers = P.page(srv, "x; evne_lang=nb", "POST", "/login",
        { { "login", "tom" }, { "password", srv.passwords.tom }, { "next", "/me" } })
      assert.equal(303, status)
      assert.is_nil((headers["set-cookie"] or ""):find("evne_lang", 1, true))
      srv:expect(200, "PATCH", "/employees/" .. tom, { lang = "nb" })
    end)

    it("mails each person in their own language: invitation, calendar, transitions", function()
      L = srv:expect(201, "POST", "/courses", {
        title = "Gerica for nyansatte", system_id = sys, hours = 2.5,
        requirements = { { requirement_id = r1, target_level = 3 } },
        elearning_during = "https://laering.example.no/gerica/ny",
      }, as("radgiver")).id
      -- summer time: 07:00 UTC is 09:00 in Norway
      S4 = srv:expect(201, "POST", "/courses/" .. L .. "/sessions", {
        starts_at = "2030-06-04T07:00:00Z", ends_at = "2030-06-04T09:30:00Z",
        place = "Rådhuset, møterom 2", trainer = "Trude Trener", capacity = 10,
      }, as("radgiver")).id
      srv:assign(emma, { (srv:profile("Gerica for nyansatte", sys, { [r1] = 3 })) })
      srv:assess(emma, "test", { [r1] = 1 })
      local since = last_outbox_id()
      local data = srv:expect(201, "POST", "/sessions/" .. S4 .. "/invitations",
        { employee_ids = { emma, tom } }, as("radgiver"))
      local mails = mails_since(since)
      assert.equal(4, #mails)
      local function to(addr)
        return assert(find(mails, function(m) return m.to_addr == addr end), "no mail to " .. addr)
      end

      local m = to("emma@example.no")                       -- English
      assert.equal("invitation", m.kind)
      assert.equal("Invitation to a course: Gerica for nyansatte", m.subject)
      assert.truthy(m.body:find("^Hello Emma Nordmann,\n\nYou are invited to the course " ..
        "“Gerica for nyansatte”%."), m.body)
      assert.truthy(m.body:find("The course closes these competence gaps:\n- Gerica: Skrive " ..
        "journal (level now 1, required 3, the course gives level 3)\n", 1, true), m.body)
      assert.truthy(m.body:find("E-learning during the course: https://laering.example.no/gerica/ny",
        1, true), m.body)
      assert.truthy(m.body:find("When: Tuesday 4 June 2030, 09:00–11:30 (Norwegian time)\n", 1,
        true), m.body)
      assert.truthy(m.body:find("Where: Rådhuset, møterom 2\nTrainer: Trude Trener\n" ..
        "Duration: 2.5 hours\n", 1, true), m.body)
      assert.truthy(m.body:find("\nRegards,\nevne\n$"), m.body)
      none_of(NORWEGIAN, m.body)
      local ics = m.ics:gsub("\r\n ", "")
      assert.truthy(ics:find("\r\nSUMMARY:Course: Gerica for nyansatte\r\n", 1, true), ics)
      assert.truthy(ics:find("\r\nDESCRIPTION:Course: Gerica for nyansatte\\nWhen: Tuesday 4 " ..
        "June 2030\\, 09:00–11:30 (Norwegian time)\\n", 1, true), ics)
      none_of(NORWEGIAN, ics)

      m = to(email.leder)                                   -- her manager: bokmål
      assert.equal("Emma Nordmann er invitert til kurs: Gerica for nyansatte", m.subject)
      assert.truthy(m.body:find("Tid: tirsdag 4. juni 2030 kl. 09.00–11.30\n", 1, true), m.body)
      assert.truthy(m.body:find("Varighet: 2,5 timer\n", 1, true), m.body)
      none_of(ENGLISH, m.body)
      assert.truthy(m.ics:gsub("\r\n ", ""):find("\r\nSUMMARY:Kurs: Gerica for nyansatte " ..
        "(Emma Nordmann)\r\n", 1, true))

      m = to("tom@example.no")                              -- bokmål: tom switched back
      assert.equal("Invitasjon til kurs: Gerica for nyansatte", m.subject)
      assert.truthy(m.body:find("^Hei Tom Nordmann,\n"), m.body)
      assert.truthy(m.body:find("Kurset dekker:\n- Gerica: Skrive journal (mål: nivå 3)\n", 1,
        true), m.body)
      none_of(ENGLISH, m.body)

      m = to(email.rektor)                                  -- his manager: English
      assert.equal("Tom Nordmann is invited to a course: Gerica for nyansatte", m.subject)
      assert.truthy(m.body:find("Once Tom Nordmann has accepted, the enrolment waits for your " ..
        "approval in evne. You can also enrol Tom Nordmann directly.", 1, true), m.body)
      assert.truthy(m.body:find("The course covers:\n- Gerica: Skrive journal (target: level 3)\n",
        1, true), m.body)
      none_of(NORWEGIAN, m.body)
      assert.truthy(m.ics:gsub("\r\n ", ""):find("\r\nSUMMARY:Course: Gerica for nyansatte " ..
        "(Tom Nordmann)\r\n", 1, true))

      local e_emma, e_tom = data.items[1].id, data.items[2].id
      since = last_outbox_id()
      expect_transition("emma", e_emma, "accept", "accepted")
      expect_transition("tom", e_tom, "accept", "accepted")
      mails = mails_since(since)
      assert.equal(2, #mails)
      assert.equal("Godkjenning trengs: Emma Nordmann vil delta på Gerica for nyansatte",
        to(email.leder).subject)
      assert.equal("Approval needed: Tom Nordmann wants to attend Gerica for nyansatte",
        to(email.rektor).subject)
      none_of(NORWEGIAN, to(email.rektor).body)

      since = last_outbox_id()
      expect_transition("leder", e_emma, "approve", "approved")
      expect_transition("rektor", e_tom, "reject", "rejected", { reason = "Ikke denne gangen" })
      mails = mails_since(since)
      assert.equal(2, #mails)
      m = to("emma@example.no")
      assert.equal("You have a place on the course: Gerica for nyansatte", m.subject)
      assert.truthy(m.body:find("Your enrolment in the course “Gerica for nyansatte” is approved, " ..
        "and you have a place.", 1, true), m.body)
      none_of(NORWEGIAN, m.body)
      m = to("tom@example.no")
      assert.equal("Påmeldingen er ikke godkjent: Gerica for nyansatte", m.subject)
      assert.truthy(m.body:find("\nBegrunnelse: Ikke denne gangen\n", 1, true), m.body)
      assert.truthy(m.ics:gsub("\r\n ", ""):find("\r\nSUMMARY:Kurs: Gerica for nyansatte\r\n", 1,
        true))

      -- a new place: the calendar and the mail in her language
      since = last_outbox_id()
      srv:expect(200, "PATCH", "/sessions/" .. S4, { place = "Biblioteket" }, as("radgiver"))
      mails = mails_since(since)
      assert.equal(1, #mails)
      m = to("emma@example.no")
      assert.equal("session_changed", m.kind)
      assert.equal("New time or place: Gerica for nyansatte", m.subject)
      assert.truthy(m.body:find("\nWhere: Biblioteket\n", 1, true), m.body)
      assert.truthy(m.ics:find("\r\nLOCATION:Biblioteket\r\n", 1, true))
      none_of(NORWEGIAN, m.body)
    end)
  end)
end)
