-- The adviser's course pages and the admin's outbox page over HTTP, on the demo organisation:
-- a course and a session made through the forms (seen through the API), whom the matching
-- policy proposes (and who lacks a prerequisite), invitations sent from the page (enrolments
-- and mails seen through the API), the results page, the outbox page; every refused write
-- (wrong role, no CSRF token, a bad value) is checked to have stored nothing.
local H = require "harness"
local P = require "pagekit"

local function has(html, text) return html:find(text, 1, true) ~= nil end

describe("course pages", function()
  local srv, adv, admin, leder, ansatt
  local gerica, gerica_reqs
  local course, course2   -- made through the forms below

  local function get(path, session)
    local status, html = P.page(srv, session, "GET", path)
    assert.equal(200, status, "GET " .. path .. ": " .. html:sub(1, 300))
    return html, P.csrf_of(html)
  end

  local function post(path, session, fields)
    return P.page(srv, session, "POST", path, fields)
  end

  local function api_courses() return srv:expect(200, "GET", "/courses").items end
  local function api_sessions(id) return srv:expect(200, "GET", "/courses/" .. id .. "/sessions").items end
  local function api_outbox() return srv:expect(200, "GET", "/admin/outbox") end

  setup(function()
    srv = P.demo_server()
    adv = P.login(srv, "radgiver")
    admin = P.login(srv, "admin")
    leder = P.login(srv, "leder")
    ansatt = P.login(srv, "ansatt")
    for _, s in ipairs(srv:expect(200, "GET", "/systems").items) do
      if s.name == "Gerica" then gerica = s.id end
    end
    assert(gerica, "the demo has no Gerica system")
    gerica_reqs = srv:expect(200, "GET", "/systems/" .. gerica .. "/requirements").items
    assert(#gerica_reqs >= 2, "Gerica has too few requirements")
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  describe("access", function()
    it("refuses an employee and a manager with 403 on every course page", function()
      local c = srv:expect(201, "POST", "/courses", { title = H.unique("Tilgang ") })
      for _, session in ipairs({ ansatt, leder }) do
        for _, path in ipairs({ "/courses", "/courses/" .. c.id, "/courses/" .. c.id .. "/matches",
                                "/courses/" .. c.id .. "/results", "/admin/outbox" }) do
          local status, html = P.page(srv, session, "GET", path)
          assert.equal(403, status, path)
          assert.is_true(has(html, "Du har ikke tilgang"))
        end
        local before = #api_courses()
        local _, csrf = get("/me", session)
        assert.equal(403, (post("/courses", session, { csrf = csrf, title = "Ikke lov" })))
        assert.equal(403, (post("/courses/" .. c.id .. "/sessions", session,
          { csrf = csrf, date = "2031-06-10", start = "09:00", ["end"] = "12:00", capacity = "5" })))
        assert.equal(before, #api_courses())
        assert.equal(0, #api_sessions(c.id))
      end
    end)

    it("shows the outbox to an admin only", function()
      local html = get("/admin/outbox", admin)
      local counts = api_outbox().counts
      for _, state in ipairs({ "pending", "sending", "sent", "failed" }) do
        assert.equal(tostring(counts[state]), html:match('id="count%-' .. state .. '">(%d+)<'))
      end
      assert.equal(403, (P.page(srv, adv, "GET", "/admin/outbox")))
    end)

    it("answers 404 for a course that does not exist", function()
      for _, path in ipairs({ "/courses/999999", "/courses/999999/matches", "/courses/999999/results" }) do
        assert.equal(404, (P.page(srv, adv, "GET", path)), path)
      end
    end)
  end)

  describe("courses and sessions", function()
    it("adds a course through the form, seen through the API and on the list", function()
      local _, csrf = get("/courses", adv)
      local title = H.unique("Gerica for viderekomne æøå ")
      local status, _, headers = post("/courses", adv,
        { csrf = csrf, title = title, description = "Fra skjemaet", system_id = tostring(gerica),
          hours = "2,5" })
      assert.equal(303, status)
      course = tonumber(headers.location:match("^/courses/(%d+)%?done=created$"))
      assert(course, "redirect to the new course: " .. tostring(headers.location))
      local c = srv:expect(200, "GET", "/courses/" .. course)
      assert.equal(title, c.title)
      assert.equal("Fra skjemaet", c.description)
      assert.equal(gerica, c.system_id)
      assert.equal(2.5, c.hours)
      local html = get(headers.location, adv)
      assert.is_true(has(html, "Kurset er lagt til."))
      html = get("/courses", adv)
      assert.is_true(has(html, '<a href="/courses/' .. course .. '">' .. P.escape(title) .. '</a>'))
    end)

    it("refuses a course without a title with 422, keeps what was typed, stores nothing", function()
      local before = #api_courses()
      local _, csrf = get("/courses", adv)
      local status, html = post("/courses", adv,
        { csrf = csrf, title = "  ", description = "Beholdes <b>", hours = "tre" })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="title-error"'))
      assert.is_true(has(html, 'aria-describedby="hours-error"'))
      assert.is_true(has(html, "Beholdes &lt;b&gt;"))
      assert.is_true(has(html, 'value="tre"'))
      assert.equal(before, #api_courses())
    end)

    it("refuses a form without the CSRF token or with a wrong one", function()
      local before = #api_courses()
      assert.equal(403, (post("/courses", adv, { title = "Uten token" })))
      assert.equal(403, (post("/courses", adv, { csrf = string.rep("0", 32), title = "Feil token" })))
      assert.equal(403, (post("/courses/" .. course .. "/sessions", adv,
        { date = "2031-06-10", start = "09:00", ["end"] = "12:00", capacity = "5" })))
      assert.equal(before, #api_courses())
      assert.equal(0, #api_sessions(course))
    end)

    it("edits the course and sets its requirements with target levels", function()
      local _, csrf = get("/courses/" .. course, adv)
      local status, _, headers = post("/courses/" .. course, adv,
        { csrf = csrf, title = "Gerica videre", description = "Endret", system_id = tostring(gerica),
          hours = "3", elearning_during = "https://laering.example.no/g", elearning_after = "",
          series = "Gerica", series_order = "2" })
      assert.equal(303, status)
      assert.equal("/courses/" .. course .. "?done=saved", headers.location)
      local c = srv:expect(200, "GET", "/courses/" .. course)
      assert.equal("Gerica videre", c.title)
      assert.equal("https://laering.example.no/g", c.elearning_during)
      assert.equal("Gerica", c.series)
      assert.equal(2, c.series_order)
      -- a bad link: 422 next to the field, nothing stored
      status = post("/courses/" .. course, adv,
        { csrf = csrf, title = "Skal ikke lagres", system_id = tostring(gerica), hours = "3",
          elearning_during = "ftp://x" })
      assert.equal(422, status)
      assert.equal("Gerica videre", srv:expect(200, "GET", "/courses/" .. course).title)
      -- every Gerica requirement to level 4: someone in the demo has a gap there
      local fields = { { "csrf", csrf } }
      for _, q in ipairs(gerica_reqs) do
        if not q.archived then fields[#fields + 1] = { "t" .. q.id, "4" } end
      end
      status = post("/courses/" .. course .. "/requirements", adv, fields)
      assert.equal(303, status)
      c = srv:expect(200, "GET", "/courses/" .. course)
      assert.equal(#fields - 1, #c.requirements)
      assert.equal(4, c.requirements[1].target_level)
      -- a level 7 is refused, nothing changes
      status = post("/courses/" .. course .. "/requirements", adv,
        { { "csrf", csrf }, { "t" .. gerica_reqs[1].id, "7" } })
      assert.equal(422, status)
      assert.equal(#fields - 1, #srv:expect(200, "GET", "/courses/" .. course).requirements)
    end)

    it("adds a session in Norwegian time, stored in UTC", function()
      local _, csrf = get("/courses/" .. course, adv)
      local status, _, headers = post("/courses/" .. course .. "/sessions", adv,
        { csrf = csrf, date = "2031-06-10", start = "09:00", ["end"] = "12:00", place = "Rådhuset",
          trainer = "Kari Kursholder", capacity = "8" })
      assert.equal(303, status)
      assert.equal("/courses/" .. course .. "?done=session_created", headers.location)
      local sessions = api_sessions(course)
      assert.equal(1, #sessions)
      assert.equal("2031-06-10T07:00:00Z", sessions[1].starts_at)   -- summer time
      assert.equal("2031-06-10T10:00:00Z", sessions[1].ends_at)
      assert.equal("Rådhuset", sessions[1].place)
      assert.equal(8, sessions[1].capacity)
      status = post("/courses/" .. course .. "/sessions", adv,
        { csrf = csrf, date = "2031-01-15", start = "13:30", ["end"] = "16:30", capacity = "8" })
      assert.equal(303, status)
      sessions = api_sessions(course)
      assert.equal("2031-01-15T12:30:00Z", sessions[1].starts_at)   -- winter time, sorted first
      local html = get("/courses/" .. course, adv)
      assert.is_true(has(html, "09:00–12:00"))
      assert.is_true(has(html, "Rådhuset"))
    end)

    it("refuses a bad session with 422 next to the field and stores nothing", function()
      local _, csrf = get("/courses/" .. course, adv)
      local before = #api_sessions(course)
      local status, html = post("/courses/" .. course .. "/sessions", adv,
        { csrf = csrf, date = "2031-06-11", start = "25:00", ["end"] = "12:00", place = "Beholdt sted",
          capacity = "0" })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="start-error"'))
      assert.is_true(has(html, 'id="capacity-error"'))
      assert.is_true(has(html, 'value="Beholdt sted"'))
      status, html = post("/courses/" .. course .. "/sessions", adv,
        { csrf = csrf, date = "2031-06-11", start = "12:00", ["end"] = "09:00", capacity = "5" })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="end-error"'))
      assert.equal(before, #api_sessions(course))
    end)
  end)

  describe("matches and invitations", function()
    local proposed   -- an employee id the page proposes

    it("lists whom the policy proposes, with reason and priority, as the API does", function()
      local html = get("/courses/" .. course .. "/matches", adv)
      local api = srv:expect(200, "POST", "/courses/" .. course .. "/matches", H.object())
      assert(#api.items > 0, "the demo has no one with a gap the course closes")
      local first = api.items[1]
      proposed = first.employee_id
      assert.is_true(has(html, 'name="employee_id" value="' .. proposed .. '"'))
      assert.is_true(has(html, P.escape(first.name)))
      assert.is_true(has(html, P.escape(first.reason)))
      assert.is_true(has(html, "Tetter kompetansegap"))
    end)

    it("shows those lacking a prerequisite separately, not selectable", function()
      local _, csrf = get("/courses", adv)
      local status, _, headers = post("/courses", adv,
        { csrf = csrf, title = H.unique("Gerica etter forkurs "), system_id = tostring(gerica), hours = "3" })
      assert.equal(303, status)
      course2 = tonumber(headers.location:match("^/courses/(%d+)"))
      local fields = { { "csrf", csrf }, { "t" .. gerica_reqs[1].id, "4" } }
      assert.equal(303, (post("/courses/" .. course2 .. "/requirements", adv, fields)))
      assert.equal(303, (post("/courses/" .. course2 .. "/prerequisites", adv,
        { { "csrf", csrf }, { "prerequisite", tostring(course) } })))
      assert.same({ course }, srv:expect(200, "GET", "/courses/" .. course2).prerequisites)
      local api = srv:expect(200, "POST", "/courses/" .. course2 .. "/matches", H.object())
      assert(#api.lacking_prerequisite > 0, "no one lacks the prerequisite")
      local html = get("/courses/" .. course2 .. "/matches", adv)
      local lacking = api.lacking_prerequisite[1].employee_id
      assert.is_true(has(html, 'id="lacking-' .. lacking .. '"'))
      assert.is_false(has(html, 'name="employee_id" value="' .. lacking .. '"'))
      -- a course cannot need itself through another: refused, nothing stored
      status = post("/courses/" .. course .. "/prerequisites", adv,
        { { "csrf", csrf }, { "prerequisite", tostring(course2) } })
      assert.equal(422, status)
      assert.same({}, srv:expect(200, "GET", "/courses/" .. course).prerequisites)
    end)

    it("filters by department", function()
      local api = srv:expect(200, "POST", "/courses/" .. course .. "/matches", H.object())
      local dept = api.items[1].department_id
      local html = get("/courses/" .. course .. "/matches?department_id=" .. dept, adv)
      local filtered = srv:expect(200, "POST", "/courses/" .. course .. "/matches",
        { department_id = dept })
      assert.is_true(has(html, "(" .. #filtered.items .. ")"))
      assert.equal(404, (P.page(srv, adv, "GET", "/courses/" .. course .. "/matches?department_id=999999")))
    end)

    it("refuses an invitation without a session or a selection, inviting no one", function()
      local _, csrf = get("/courses/" .. course .. "/matches", adv)
      local session = api_sessions(course)[1].id
      local mails = api_outbox().counts.pending
      local status, html
      status, html = post("/courses/" .. course .. "/invite", adv,
        { { "csrf", csrf }, { "employee_id", tostring(proposed) }, { "session_id", "" } })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="session_id-error"'))
      assert.is_true(has(html, 'value="' .. proposed .. '" checked'))
      status, html = post("/courses/" .. course .. "/invite", adv,
        { { "csrf", csrf }, { "session_id", tostring(session) } })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="employees-error"'))
      assert.equal(403, (post("/courses/" .. course .. "/invite", adv,
        { { "employee_id", tostring(proposed) }, { "session_id", tostring(session) } })))
      assert.same({}, srv:expect(200, "GET", "/employees/" .. proposed .. "/enrolments").items)
      assert.equal(mails, api_outbox().counts.pending)
    end)

    it("invites the selection: invited enrolments and mails in the outbox", function()
      local api = srv:expect(200, "POST", "/courses/" .. course .. "/matches", H.object())
      local second = api.items[2] and api.items[2].employee_id
      local _, csrf = get("/courses/" .. course .. "/matches", adv)
      local session = api_sessions(course)[1].id
      local before = api_outbox()
      local fields = { { "csrf", csrf }, { "session_id", tostring(session) },
                       { "employee_id", tostring(proposed) } }
      if second then fields[#fields + 1] = { "employee_id", tostring(second) } end
      local status, _, headers = post("/courses/" .. course .. "/invite", adv, fields)
      assert.equal(303, status)
      local n = second and 2 or 1
      assert.equal("/courses/" .. course .. "/matches?invited=" .. n, headers.location)
      local html = get(headers.location, adv)
      assert.is_true(has(html, n == 1 and "1 invitasjon er sendt." or n .. " invitasjoner er sendt."))
      assert.is_true(has(html, 'id="enrolled-' .. proposed .. '"'))
      local enrolments = srv:expect(200, "GET", "/employees/" .. proposed .. "/enrolments").items
      assert.equal(1, #enrolments)
      assert.equal("invited", enrolments[1].state)
      assert.equal(session, enrolments[1].session_id)
      local after = api_outbox()
      local total = function(o) local s = 0; for _, v in pairs(o.counts) do s = s + v end; return s end
      assert.is_true(total(after) >= total(before) + n)
      local invitations = 0
      for _, m in ipairs(after.items) do
        if m.kind == "invitation" then invitations = invitations + 1 end
      end
      assert.is_true(invitations >= n)
      -- the outbox page shows the new counts and the invitation mails
      local page = get("/admin/outbox", admin)
      assert.equal(tostring(after.counts.pending), page:match('id="count%-pending">(%d+)<'))
      assert.is_true(has(page, "invitation"))
      -- inviting the same person again: 422, nothing new
      _, csrf = get("/courses/" .. course .. "/matches", adv)
      status = post("/courses/" .. course .. "/invite", adv,
        { { "csrf", csrf }, { "session_id", tostring(session) }, { "employee_id", tostring(proposed) } })
      assert.equal(422, status)
      assert.equal(1, #srv:expect(200, "GET", "/employees/" .. proposed .. "/enrolments").items)
    end)
  end)

  describe("results", function()
    it("shows the evaluation and the course's effect per covered requirement", function()
      local html = get("/courses/" .. course .. "/results", adv)
      local effect = srv:expect(200, "GET", "/courses/" .. course .. "/effect")
      assert.equal(#effect.items, select(2, html:gsub('<tr id="effect%-', "")))
      assert.is_true(has(html, "Evaluering"))
      assert.is_true(has(html, 'id="effect-total-closed"'))
      html = get("/courses/" .. course .. "/results", admin)
      assert.is_true(has(html, "Effekt"))
    end)

    it("speaks English on request", function()
      local html = get("/courses?lang=en", adv)
      assert.is_true(has(html, "Add a course"))
      assert.is_true(has(get("/courses/" .. course .. "?lang=en", adv), "Add the session"))
      assert.is_true(has(get("/courses/" .. course2 .. "?lang=en", adv), "Courses one must have taken first"))
      assert.is_true(has(get("/courses/" .. course .. "/matches?lang=en", adv), "Already enrolled"))
      assert.is_true(has(get("/courses/" .. course2 .. "/matches?lang=en", adv), "Lacking a prerequisite"))
      assert.is_true(has(get("/courses/" .. course .. "/results?lang=en", adv), "Effect"))
      assert.is_true(has(get("/admin/outbox?lang=en", admin), "Outgoing mail"))
    end)
  end)
end)

-- The results page with something to show: one attendee who reassessed and evaluated. The
-- server runs at a fixed clock and is restarted after the session began, so that the
-- attendance, the reassessment and the evaluation are possible.
describe("course results page", function()
  local BASE = 1924992000                          -- 2031-01-01T00:00:00Z
  local AFTER = BASE + 9 * 86400 + 15 * 3600       -- 2031-01-10T15:00:00Z, the session is over
  local srv

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("shows averages, counts and free texts per question, and the effect per requirement", function()
    srv = P.demo_server({ args = { "--clock", tostring(BASE) } })
    local gerica
    for _, s in ipairs(srv:expect(200, "GET", "/systems").items) do
      if s.name == "Gerica" then gerica = s.id end
    end
    local reqs = {}
    for _, q in ipairs(srv:expect(200, "GET", "/systems/" .. gerica .. "/requirements").items) do
      if not q.archived then reqs[#reqs + 1] = { requirement_id = q.id, target_level = 4 } end
    end
    local course = srv:expect(201, "POST", "/courses",
      { title = "Gerica med evaluering", system_id = gerica, requirements = reqs }).id
    local session = srv:expect(201, "POST", "/courses/" .. course .. "/sessions",
      { starts_at = "2031-01-10T08:00:00Z", ends_at = "2031-01-10T11:00:00Z", capacity = 5 }).id
    local q_scale = srv:expect(201, "POST", "/courses/" .. course .. "/evaluation-questions",
      { text = "Hvor nyttig var kurset?", kind = "scale" }).id
    local q_text = srv:expect(201, "POST", "/courses/" .. course .. "/evaluation-questions",
      { text = "Hva savnet du?", kind = "text" }).id
    local ansatt = srv:login("ansatt", "demo")
    local me = srv:expect(200, "GET", "/me", nil, ansatt).id
    local enrolment = srv:expect(201, "POST", "/sessions/" .. session .. "/invitations",
      { employee_ids = { me } }).items[1].id
    srv:expect(200, "POST", "/enrolments/" .. enrolment .. "/accept", H.object(), ansatt)
    srv:expect(200, "POST", "/enrolments/" .. enrolment .. "/approve", H.object())

    srv.opts.args = { "--clock", tostring(AFTER) }
    srv:restart()
    srv:relogin()
    ansatt = srv:login("ansatt", "demo")
    srv:expect(200, "POST", "/enrolments/" .. enrolment .. "/attend", H.object())
    local raised = reqs[1].requirement_id
    srv:expect(201, "POST", "/enrolments/" .. enrolment .. "/reassessment",
      { levels = H.levels({ [raised] = 4 }) }, ansatt)
    srv:expect(201, "POST", "/enrolments/" .. enrolment .. "/evaluation",
      { answers = { { question_id = q_scale, score = 4 }, { question_id = q_text, text = "Mer tid <takk>" } } },
      ansatt)

    local adv = P.login(srv, "radgiver")
    local status, html = P.page(srv, adv, "GET", "/courses/" .. course .. "/results")
    assert.equal(200, status)
    assert.is_true(has(html, "1 av 1 deltakere har svart."))
    local row = html:match('<tr id="question%-' .. q_scale .. '">(.-)</tr>')
    assert.is_truthy(row)
    assert.is_true(has(row, ">4,0<"))
    assert.is_true(has(row, '<td class="num">1</td>'))
    row = html:match('<tr id="question%-' .. q_text .. '">(.-)</tr>')
    assert.is_true(has(row, "<li>Mer tid &lt;takk&gt;</li>"))
    local effect = srv:expect(200, "GET", "/courses/" .. course .. "/effect")
    assert.equal(1, effect.attendees)
    row = html:match('<tr id="effect%-' .. raised .. '">(.-)</tr>')
    assert.is_truthy(row)
    local item
    for _, it in ipairs(effect.items) do if it.requirement_id == raised then item = it end end
    assert.is_true(has(row, '<td class="num">' .. item.gap_closed))
    assert.is_true(has(row, ">4,0<"))   -- the level now
    assert.is_true(has(html, 'id="effect-total-closed">' .. effect.total.gap_closed))

    -- per session: the evaluation of that session only, as the API answers it
    local other = srv:expect(201, "POST", "/courses/" .. course .. "/sessions",
      { starts_at = "2031-02-10T08:00:00Z", ends_at = "2031-02-10T11:00:00Z", capacity = 5 }).id
    local path = "/courses/" .. course .. "/results?session_id="
    status, html = P.page(srv, adv, "GET", path .. session)
    assert.equal(200, status)
    assert.is_true(has(html, "1 av 1 deltakere har svart."))
    assert.is_true(has(html, '<option value="' .. session .. '" selected>'))
    local api = srv:expect(200, "GET", "/courses/" .. course .. "/evaluations?session_id=" .. other)
    assert.equal(0, api.responses)
    status, html = P.page(srv, adv, "GET", path .. other)
    assert.equal(200, status)
    assert.is_true(has(html, "0 av 0 deltakere har svart."))
    assert.is_true(has(html, '<option value="' .. other .. '" selected>'))
    row = html:match('<tr id="question%-' .. q_scale .. '">(.-)</tr>')
    assert.is_true(has(row, '<td class="num">0</td>'))
    assert.equal(404, (P.page(srv, adv, "GET", path .. "abc")))
    assert.equal(404, (P.page(srv, adv, "GET", path .. "999999")))
  end)
end)

describe("a session changed and cancelled from its page", function()
  local srv, adv, course, session

  local function api_session() return srv:expect(200, "GET", "/sessions/" .. session) end

  setup(function()
    srv = P.demo_server()
    adv = P.login(srv, "radgiver")
    course = srv:expect(201, "POST", "/courses", { title = H.unique("Endres ") }).id
    session = srv:expect(201, "POST", "/courses/" .. course .. "/sessions",
      { starts_at = "2031-06-10T07:00:00Z", ends_at = "2031-06-10T10:00:00Z", place = "Rådhuset",
        capacity = 8 }).id
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("links each session from the course page and shows its form in Norwegian time", function()
    local status, html = P.page(srv, adv, "GET", "/courses/" .. course)
    assert.equal(200, status)
    assert.is_true(has(html, 'href="/courses/' .. course .. '/sessions/' .. session .. '"'))
    status, html = P.page(srv, adv, "GET", "/courses/" .. course .. "/sessions/" .. session)
    assert.equal(200, status)
    assert.is_true(has(html, 'value="2031-06-10"'))
    assert.is_true(has(html, 'value="09:00"'))
    assert.is_true(has(html, 'value="Rådhuset"'))
    assert.equal(404, (P.page(srv, adv, "GET", "/courses/" .. course .. "/sessions/999999")))
    local ansatt = P.login(srv, "ansatt")
    assert.equal(403, (P.page(srv, ansatt, "GET", "/courses/" .. course .. "/sessions/" .. session)))
  end)

  it("refuses a bad change with 422 next to the field and stores nothing", function()
    local path = "/courses/" .. course .. "/sessions/" .. session
    local _, html = P.page(srv, adv, "GET", path)
    local csrf = P.csrf_of(html)
    local before = api_session()
    local status
    status, html = P.page(srv, adv, "POST", path,
      { csrf = csrf, date = "2031-06-11", start = "12:00", ["end"] = "09:00", place = "Nytt sted",
        capacity = "0" })
    assert.equal(422, status)
    assert.is_true(has(html, 'id="capacity-error"'))
    assert.is_true(has(html, 'value="Nytt sted"'))
    assert.same(before, api_session())
    -- without the CSRF token: refused, nothing changed
    assert.equal(403, (P.page(srv, adv, "POST", path,
      { date = "2031-06-12", start = "09:00", ["end"] = "12:00", capacity = "8" })))
    assert.equal(403, (P.page(srv, adv, "POST", path .. "/cancel", { confirm = "1" })))
    assert.same(before, api_session())
  end)

  it("changes the session in Norwegian time, seen through the API", function()
    local path = "/courses/" .. course .. "/sessions/" .. session
    local _, html = P.page(srv, adv, "GET", path)
    local status, _, headers = P.page(srv, adv, "POST", path,
      { csrf = P.csrf_of(html), date = "2031-01-15", start = "13:30", ["end"] = "16:00",
        place = "Biblioteket", trainer = "Kari Kursholder", capacity = "10" })
    assert.equal(303, status)
    assert.equal("/courses/" .. course .. "?done=session_saved", headers.location)
    local s = api_session()
    assert.equal("2031-01-15T12:30:00Z", s.starts_at)   -- winter time
    assert.equal("2031-01-15T15:00:00Z", s.ends_at)
    assert.equal("Biblioteket", s.place)
    assert.equal("Kari Kursholder", s.trainer)
    assert.equal(10, s.capacity)
    _, html = P.page(srv, adv, "GET", headers.location)
    assert.is_true(has(html, "Kursdagen er lagret."))
  end)

  it("cancels only when confirmed, and then mails the invited", function()
    local me = srv:expect(200, "GET", "/me", nil, srv:login("ansatt", "demo")).id
    srv:expect(201, "POST", "/sessions/" .. session .. "/invitations", { employee_ids = { me } })
    local path = "/courses/" .. course .. "/sessions/" .. session
    local _, html = P.page(srv, adv, "GET", path)
    local csrf = P.csrf_of(html)
    assert.is_true(has(html, 'id="cancel-text"'))
    local status
    status, html = P.page(srv, adv, "POST", path .. "/cancel", { csrf = csrf })
    assert.equal(422, status)
    assert.is_true(has(html, 'id="confirm-error"'))
    assert.is_false(api_session().cancelled)
    local mails = srv:expect(200, "GET", "/admin/outbox").counts
    local total = function(c) local n = 0; for _, v in pairs(c) do n = n + v end; return n end
    local status2, _, headers = P.page(srv, adv, "POST", path .. "/cancel", { csrf = csrf, confirm = "1" })
    assert.equal(303, status2)
    assert.equal("/courses/" .. course .. "?done=session_cancelled", headers.location)
    assert.is_true(api_session().cancelled)
    assert.equal("cancelled", srv:expect(200, "GET", "/employees/" .. me .. "/enrolments").items[1].state)
    assert.is_true(total(srv:expect(200, "GET", "/admin/outbox").counts) > total(mails))
    -- a cancelled session is not changed again
    status = P.page(srv, adv, "POST", path, { csrf = csrf, date = "2031-01-16", start = "09:00",
      ["end"] = "12:00", capacity = "8" })
    assert.equal(422, status)
    assert.equal("2031-01-15T12:30:00Z", api_session().starts_at)
  end)
end)

describe("evaluation questions on the course page", function()
  local srv, adv, course

  local function api_questions()
    return srv:expect(200, "GET", "/courses/" .. course .. "/evaluation-questions").items
  end

  setup(function()
    srv = P.demo_server()
    adv = P.login(srv, "radgiver")
    course = srv:expect(201, "POST", "/courses", { title = H.unique("Spørsmål ") }).id
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("lists the course's questions and the global ones, marked", function()
    local global = srv:expect(201, "POST", "/courses/" .. course .. "/evaluation-questions",
      { text = "Felles spørsmål", kind = "scale", global = true }).id
    local status, html = P.page(srv, adv, "GET", "/courses/" .. course)
    assert.equal(200, status)
    local row = html:match('<li id="q%-' .. global .. '">(.-)</li>')
    assert.is_truthy(row)
    assert.is_true(has(row, "stilles etter alle kurs"))
    assert.is_false(has(row, "/archive"))
  end)

  it("adds a question through the form, seen through the API", function()
    local _, html = P.page(srv, adv, "GET", "/courses/" .. course)
    local status, _, headers = P.page(srv, adv, "POST", "/courses/" .. course .. "/questions",
      { csrf = P.csrf_of(html), text = "Hva tar du med deg?", kind = "text" })
    assert.equal(303, status)
    assert.equal("/courses/" .. course .. "?done=question_created", headers.location)
    local found
    for _, q in ipairs(api_questions()) do
      if q.text == "Hva tar du med deg?" then found = q end
    end
    assert.is_truthy(found)
    assert.equal("text", found.kind)
    assert.equal(course, found.course_id)
    _, html = P.page(srv, adv, "GET", headers.location)
    assert.is_true(has(html, "Spørsmålet er lagt til."))
    assert.is_true(has(html, 'action="/courses/' .. course .. '/questions/' .. found.id .. '/archive"'))
  end)

  it("refuses a question without text or kind with 422, and without CSRF with 403", function()
    local _, html = P.page(srv, adv, "GET", "/courses/" .. course)
    local csrf = P.csrf_of(html)
    local before = #api_questions()
    local status
    status, html = P.page(srv, adv, "POST", "/courses/" .. course .. "/questions",
      { csrf = csrf, text = " ", kind = "scale" })
    assert.equal(422, status)
    assert.is_true(has(html, 'id="question_text-error"'))
    status, html = P.page(srv, adv, "POST", "/courses/" .. course .. "/questions",
      { csrf = csrf, text = "Beholdt tekst", kind = "essay" })
    assert.equal(422, status)
    assert.is_true(has(html, 'id="question_kind-error"'))
    assert.is_true(has(html, 'value="Beholdt tekst"'))
    assert.equal(403, (P.page(srv, adv, "POST", "/courses/" .. course .. "/questions",
      { text = "Uten token", kind = "scale" })))
    assert.equal(before, #api_questions())
  end)

  it("archives a question of the course, refusing one without CSRF", function()
    local qid = srv:expect(201, "POST", "/courses/" .. course .. "/evaluation-questions",
      { text = "Arkiveres", kind = "scale" }).id
    local path = "/courses/" .. course .. "/questions/" .. qid .. "/archive"
    assert.equal(403, (P.page(srv, adv, "POST", path, {})))
    local listed = function()
      for _, q in ipairs(api_questions()) do if q.id == qid then return true end end
      return false
    end
    assert.is_true(listed())
    local _, html = P.page(srv, adv, "GET", "/courses/" .. course)
    local status, _, headers = P.page(srv, adv, "POST", path, { csrf = P.csrf_of(html) })
    assert.equal(303, status)
    assert.equal("/courses/" .. course .. "?done=question_archived", headers.location)
    assert.is_false(listed())   -- archived: no longer asked
    assert.equal(404, (P.page(srv, adv, "POST", "/courses/" .. course .. "/questions/999999/archive",
      { csrf = P.csrf_of(html) })))
  end)
end)
