-- The course pages of employees and managers, over HTTP as a browser uses them: my invitations
-- and enrolments with their buttons, a manager's approvals, the reassessment and the evaluation
-- after attending, and my CV; with the refused ones (someone else's enrolment, a missing CSRF
-- token, a bad level or date, a second evaluation).
--
-- The server runs at a fixed clock (--clock) before the sessions, and is restarted "on the day"
-- after they began, when the adviser marks attendance through the API.
local H = require "harness"
local P = require "pagekit"

local BASE = 1893456000                          -- 2030-01-01T00:00:00Z
local ON_THE_DAY = BASE + 9 * 86400 + 15 * 3600  -- 2030-01-10T15:00:00Z, after both sessions began

local function find(items, pred)
  for _, it in ipairs(items or {}) do
    if pred(it) then return it end
  end
  return nil
end

describe("course pages", function()
  local srv, helse
  local id, tok, cookie = {}, {}, {}
  local r1, r2, B, D, S1, D1, q_scale, q_text
  local en = {}

  local function login_all()
    for login in pairs(id) do
      tok[login] = srv:login(login)
      cookie[login] = P.login(srv, login, srv.passwords[login])
    end
  end

  local function state_of(enrolment)
    return srv:expect(200, "GET", "/enrolments/" .. enrolment).state
  end

  local function history(who)
    return #srv:expect(200, "GET", "/employees/" .. id[who] .. "/assessments").items
  end

  local function gap(who, rid)
    local gaps = srv:expect(200, "GET", "/employees/" .. id[who] .. "/gaps").items
    return find(gaps, function(g) return g.requirement_id == rid end)
  end

  -- GET a page as who; returns html and its csrf token.
  local function get(who, path, want)
    local status, html = P.page(srv, cookie[who], "GET", path)
    assert.equal(want or 200, status, path .. ": " .. html:sub(1, 400))
    return html, html:match('name="csrf" value="(%x+)"')
  end

  local function post(who, path, fields, csrf)
    local f = { { "csrf", csrf } }
    for _, kv in ipairs(fields or {}) do f[#f + 1] = kv end
    if csrf == false then table.remove(f, 1) end
    return P.page(srv, cookie[who], "POST", path, f)
  end

  setup(function()
    srv = H.start({ args = { "--clock", tostring(BASE) } })
    local root = srv:expect(200, "GET", "/employees/" .. srv.admin_id).department_id
    helse = srv:department("Helse og omsorg", root)
    for _, login in ipairs({ "leder", "per", "kari", "radgiver" }) do
      id[login] = srv:employee({
        department_id = login == "radgiver" and root or helse, login = login,
        password = "pw-" .. login .. "-123",
        name = login:sub(1, 1):upper() .. login:sub(2) .. " Nordmann",
        email = login .. "@example.no", roles = login == "radgiver" and { "adviser" } or nil,
      })
    end
    srv:expect(200, "PATCH", "/departments/" .. helse, { manager_id = id.leder })
    local sys = srv:system("Gerica")
    r1 = srv:requirement(sys, "Skrive journal", 1)
    r2 = srv:requirement(sys, "Lese journal", 2)
    local profile = srv:profile("Gerica journal", sys, { [r1] = 3, [r2] = 3 })
    for _, who in ipairs({ "per", "kari" }) do
      srv:assign(id[who], { profile })
      srv:assess(id[who], "test", { [r1] = 1, [r2] = 1 })
    end
    login_all()
    local adv = tok.radgiver
    B = srv:expect(201, "POST", "/courses", {
      title = "Gerica journal", system_id = sys,
      requirements = { { requirement_id = r1, target_level = 3 },
                       { requirement_id = r2, target_level = 3 } },
    }, adv).id
    D = srv:expect(201, "POST", "/courses", { title = "Gerica oversikt", system_id = sys,
      requirements = { { requirement_id = r2, target_level = 2 } } }, adv).id
    q_scale = srv:expect(201, "POST", "/courses/" .. B .. "/evaluation-questions",
      { text = "Hvor nyttig var kurset?", kind = "scale" }, adv).id
    q_text = srv:expect(201, "POST", "/courses/" .. B .. "/evaluation-questions",
      { text = "Hva kan bli bedre?", kind = "text" }, adv).id
    S1 = srv:expect(201, "POST", "/courses/" .. B .. "/sessions", {
      starts_at = "2030-01-10T08:00:00Z", ends_at = "2030-01-10T11:00:00Z",
      place = "Rådhuset, møterom 2", capacity = 5 }, adv).id
    D1 = srv:expect(201, "POST", "/courses/" .. D .. "/sessions", {
      starts_at = "2030-01-10T12:00:00Z", ends_at = "2030-01-10T14:00:00Z",
      place = "Helsehuset", capacity = 5 }, adv).id
    for _, e in ipairs(srv:expect(201, "POST", "/sessions/" .. S1 .. "/invitations",
        { employee_ids = { id.per, id.kari } }, adv).items) do
      en[(e.employee_id == id.per and "per" or "kari") .. "@S1"] = e.id
    end
    en["per@D1"] = srv:expect(201, "POST", "/sessions/" .. D1 .. "/invitations",
      { employee_ids = { id.per } }, adv).items[1].id
  end)

  teardown(function() if srv then srv:cleanup() end end)

  describe("before the course", function()
    it("shows my invitations in Norwegian time with their buttons", function()
      local html = get("per", "/me/courses")
      assert.matches("Gerica journal", html, 1, true)
      assert.matches("10.01.2030 kl. 09:00–12:00", html, 1, true)   -- 08:00Z is 09:00 in Oslo
      assert.matches(P.escape("Rådhuset, møterom 2"), html, 1, true)
      assert.matches("Invitert", html, 1, true)
      assert.matches('action="/me/courses/' .. en["per@S1"] .. '/accept"', html, 1, true)
      assert.matches('action="/me/courses/' .. en["per@S1"] .. '/decline"', html, 1, true)
      assert.matches('action="/me/courses/' .. en["per@S1"] .. '/cancel"', html, 1, true)
      assert.is_nil(html:find("/reassessment", 1, true))
      -- kari's invitation is not on per's page
      assert.is_nil(html:find("/me/courses/" .. en["kari@S1"] .. "/", 1, true))
      local en_html = get("per", "/me/courses?lang=en")
      assert.matches("<h1>My courses</h1>", en_html, 1, true)
      assert.matches("2030-01-10 09:00–12:00", en_html, 1, true)
      assert.matches("Invited", en_html, 1, true)
      assert.matches(">Accept<", en_html, 1, true)
    end)

    it("refuses an accept without the CSRF token and someone else's enrolment", function()
      local _, csrf = get("per", "/me/courses")
      local status = post("per", "/me/courses/" .. en["per@S1"] .. "/accept", {}, false)
      assert.equal(403, status)
      status = post("per", "/me/courses/" .. en["per@S1"] .. "/accept", {}, "0123456789abcdef0123456789abcdef")
      assert.equal(403, status)
      assert.equal("invited", state_of(en["per@S1"]))
      status = post("per", "/me/courses/" .. en["kari@S1"] .. "/accept", {}, csrf)
      assert.equal(403, status)
      status = post("per", "/me/courses/" .. en["kari@S1"] .. "/decline", {}, csrf)
      assert.equal(403, status)
      assert.equal("invited", state_of(en["kari@S1"]))
      status = post("per", "/me/courses/999999/accept", {}, csrf)
      assert.equal(404, status)
    end)

    it("accepts an invitation, and refuses accepting twice with the reason", function()
      local _, csrf = get("per", "/me/courses")
      local status, _, headers = post("per", "/me/courses/" .. en["per@S1"] .. "/accept", {}, csrf)
      assert.equal(303, status)
      assert.equal("/me/courses?done=accepted", headers["location"])
      assert.equal("accepted", state_of(en["per@S1"]))
      local html = get("per", "/me/courses?done=accepted")
      assert.matches("Du har takket ja", html, 1, true)
      assert.matches("Takket ja, venter på godkjenning", html, 1, true)
      assert.is_nil(html:find('/me/courses/' .. en["per@S1"] .. '/accept"', 1, true))
      local st2, html2 = post("per", "/me/courses/" .. en["per@S1"] .. "/accept", {}, csrf)
      assert.equal(409, st2)
      assert.matches("påmeldingen har en annen status", html2, 1, true)
      assert.equal("accepted", state_of(en["per@S1"]))
    end)

    it("declines an invitation", function()
      local _, csrf = get("kari", "/me/courses")
      local status = post("kari", "/me/courses/" .. en["kari@S1"] .. "/decline", {}, csrf)
      assert.equal(303, status)
      assert.equal("declined", state_of(en["kari@S1"]))
    end)

    it("lists the approvals waiting for the manager, and only for managers", function()
      local html = get("leder", "/team/approvals")
      assert.matches("Per Nordmann", html, 1, true)
      assert.matches('action="/team/approvals/' .. en["per@S1"] .. '/approve"', html, 1, true)
      assert.matches('action="/team/approvals/' .. en["per@S1"] .. '/reject"', html, 1, true)
      -- the invitation to D not answered yet: approvable directly
      assert.matches('action="/team/approvals/' .. en["per@D1"] .. '/approve"', html, 1, true)
      assert.is_nil(html:find('/team/approvals/' .. en["per@D1"] .. '/reject"', 1, true))
      -- kari declined: nothing to approve
      assert.is_nil(html:find('/team/approvals/' .. en["kari@S1"] .. '/', 1, true))
      get("per", "/team/approvals", 403)
      local _, csrf = get("per", "/me/courses")
      assert.equal(403, (post("per", "/team/approvals/" .. en["per@S1"] .. "/approve", {}, csrf)))
      assert.equal("accepted", state_of(en["per@S1"]))
    end)

    it("approves on the manager's page; CSRF refused", function()
      local _, csrf = get("leder", "/team/approvals")
      assert.equal(403, (post("leder", "/team/approvals/" .. en["per@S1"] .. "/approve", {}, false)))
      assert.equal("accepted", state_of(en["per@S1"]))
      local status, _, headers = post("leder", "/team/approvals/" .. en["per@S1"] .. "/approve", {}, csrf)
      assert.equal(303, status)
      assert.equal("/team/approvals?done=approved", headers["location"])
      assert.equal("approved", state_of(en["per@S1"]))
      status = post("leder", "/team/approvals/" .. en["per@D1"] .. "/approve", {}, csrf)
      assert.equal(303, status)
      assert.equal("approved", state_of(en["per@D1"]))
      local html = get("leder", "/team/approvals?done=approved")
      assert.matches("Påmeldingen er godkjent", html, 1, true)
      assert.is_nil(html:find('/team/approvals/' .. en["per@S1"] .. '/', 1, true))
      -- a declined one cannot be rejected: 409 with the reason
      local st2, html2 = post("leder", "/team/approvals/" .. en["kari@S1"] .. "/reject", {}, csrf)
      assert.equal(409, st2)
      assert.matches("påmeldingen har en annen status", html2, 1, true)
      assert.equal(404, (post("leder", "/team/approvals/999999/approve", {}, csrf)))
    end)

    it("rejects an accepted enrolment on the manager's page", function()
      local adv = tok.radgiver
      en["kari@D1"] = srv:expect(201, "POST", "/sessions/" .. D1 .. "/invitations",
        { employee_ids = { id.kari } }, adv).items[1].id
      local _, kcsrf = get("kari", "/me/courses")
      assert.equal(303, (post("kari", "/me/courses/" .. en["kari@D1"] .. "/accept", {}, kcsrf)))
      local html, csrf = get("leder", "/team/approvals")
      assert.matches("Kari Nordmann", html, 1, true)
      local status, _, headers = post("leder", "/team/approvals/" .. en["kari@D1"] .. "/reject", {}, csrf)
      assert.equal(303, status)
      assert.equal("/team/approvals?done=rejected", headers["location"])
      assert.equal("rejected", state_of(en["kari@D1"]))
      assert.matches("Ikke godkjent", get("kari", "/me/courses"), 1, true)
    end)

    it("cancels my place while the session is to come", function()
      -- kari declined S1 and is invited again
      srv:expect(201, "POST", "/sessions/" .. S1 .. "/invitations", { employee_ids = { id.kari } },
        tok.radgiver)
      local html, csrf = get("kari", "/me/courses")
      assert.matches('action="/me/courses/' .. en["kari@S1"] .. '/cancel"', html, 1, true)
      assert.equal(403, (post("kari", "/me/courses/" .. en["kari@S1"] .. "/cancel", {}, false)))
      assert.equal("invited", state_of(en["kari@S1"]))
      local status, _, headers = post("kari", "/me/courses/" .. en["kari@S1"] .. "/cancel", {}, csrf)
      assert.equal(303, status)
      assert.equal("/me/courses?done=cancelled", headers["location"])
      assert.equal("cancelled", state_of(en["kari@S1"]))
      assert.matches("Du er meldt av", get("kari", "/me/courses?done=cancelled"), 1, true)
    end)

    it("has no reassessment or evaluation before attending", function()
      get("per", "/me/courses/" .. en["per@S1"] .. "/reassessment", 409)
      get("per", "/me/courses/" .. en["per@S1"] .. "/evaluation", 409)
    end)
  end)

  describe("after the course", function()
    setup(function()
      srv.opts.args = { "--clock", tostring(ON_THE_DAY) }
      srv:restart()
      login_all()
      for _, e in ipairs({ en["per@S1"], en["per@D1"] }) do
        srv:expect(200, "POST", "/enrolments/" .. e .. "/attend", H.object(), tok.radgiver)
      end
    end)

    it("offers the reassessment and the evaluation, and no more buttons", function()
      local html = get("per", "/me/courses")
      assert.matches("Deltok", html, 1, true)
      assert.matches('href="/me/courses/' .. en["per@S1"] .. '/reassessment"', html, 1, true)
      assert.matches('href="/me/courses/' .. en["per@S1"] .. '/evaluation"', html, 1, true)
      assert.is_nil(html:find('/me/courses/' .. en["per@S1"] .. '/cancel"', 1, true))
    end)

    it("refuses to cancel after attending, with the reason", function()
      local _, csrf = get("per", "/me/courses")
      local status, html = post("per", "/me/courses/" .. en["per@S1"] .. "/cancel", {}, csrf)
      assert.equal(409, status)
      assert.matches("påmeldingen har en annen status", html, 1, true)   -- attended
      assert.equal("attended", state_of(en["per@S1"]))
    end)

    it("keeps someone else from the reassessment and the evaluation", function()
      get("kari", "/me/courses/" .. en["per@S1"] .. "/reassessment", 403)
      get("kari", "/me/courses/" .. en["per@S1"] .. "/evaluation", 403)
      get("leder", "/me/courses/" .. en["per@S1"] .. "/evaluation", 403)
      get("per", "/me/courses/999999/reassessment", 404)
      local _, csrf = get("kari", "/me/courses")
      local before = history("per")
      assert.equal(403, (post("kari", "/me/courses/" .. en["per@S1"] .. "/reassessment",
        { { "r" .. r1, "3" } }, csrf)))
      assert.equal(before, history("per"))
    end)

    it("refuses a bad level with the form again and nothing stored; CSRF refused", function()
      local path = "/me/courses/" .. en["per@S1"] .. "/reassessment"
      local html, csrf = get("per", path)
      assert.matches("Skrive journal", html, 1, true)
      assert.matches('name="r' .. r1 .. '" value="4"', html, 1, true)
      assert.matches('name="r' .. r2 .. '" value="0"', html, 1, true)
      local before = history("per")
      local status, html2 = post("per", path, { { "r" .. r1, "7" }, { "r" .. r2, "2" } }, csrf)
      assert.equal(422, status)
      assert.matches("Velg et nivå fra 0 til 4", html2, 1, true)
      assert.matches('aria-describedby="e-r' .. r1 .. '"', html2, 1, true)
      assert.matches('name="r' .. r2 .. '" value="2" checked', html2, 1, true)   -- kept
      assert.equal(before, history("per"))
      assert.equal(403, (post("per", path, { { "r" .. r1, "3" } }, false)))
      assert.equal(before, history("per"))
      assert.equal(2, gap("per", r1).gap)
    end)

    it("records the reassessment as course assessments, and the gaps move", function()
      local path = "/me/courses/" .. en["per@S1"] .. "/reassessment"
      local _, csrf = get("per", path)
      local status, _, headers = post("per", path, { { "r" .. r1, "3" }, { "r" .. r2, "3" } }, csrf)
      assert.equal(303, status)
      assert.equal("/me/courses?done=reassessed", headers["location"])
      assert.equal(0, gap("per", r1).gap)
      assert.equal(0, gap("per", r2).gap)
      local items = srv:expect(200, "GET", "/employees/" .. id.per .. "/assessments").items
      local last = find(items, function(a) return a.requirement_id == r1 and a.level == 3 end)
      assert.is_table(last)
      assert.equal("course", last.source)
    end)

    it("takes the evaluation once", function()
      local path = "/me/courses/" .. en["per@S1"] .. "/evaluation"
      local html, csrf = get("per", path)
      assert.matches("Hvor nyttig var kurset?", html, 1, true)
      assert.matches('name="q' .. q_scale .. '" value="5"', html, 1, true)
      assert.matches('name="q' .. q_text .. '"', html, 1, true)
      -- a missing score: the form again, the text kept, nothing stored
      local status, html2 = post("per", path, { { "q" .. q_text, "Mer øving" } }, csrf)
      assert.equal(422, status)
      assert.matches("Velg et tall fra 1 til 5", html2, 1, true)
      assert.matches("Mer øving</textarea>", html2, 1, true)
      assert.equal(0, srv:expect(200, "GET", "/courses/" .. B .. "/evaluations", nil, tok.radgiver).responses)
      assert.equal(403, (post("per", path, { { "q" .. q_scale, "4" } }, false)))
      status = post("per", path, { { "q" .. q_scale, "4" }, { "q" .. q_text, "Mer øving" } }, csrf)
      assert.equal(303, status)
      local results = srv:expect(200, "GET", "/courses/" .. B .. "/evaluations", nil, tok.radgiver)
      assert.equal(1, results.responses)
      local text = find(results.items, function(it) return it.question_id == q_text end)
      assert.same({ "Mer øving" }, text.texts)
      -- the second time: it is done
      local again = get("per", path)
      assert.matches("Du har allerede evaluert dette kurset", again, 1, true)
      assert.is_nil(again:find('name="q' .. q_scale .. '"', 1, true))
      local st3, html3 = post("per", path, { { "q" .. q_scale, "1" } }, csrf)
      assert.equal(409, st3)
      assert.matches("Dette er allerede gjort", html3, 1, true)
      assert.equal(1, srv:expect(200, "GET", "/courses/" .. B .. "/evaluations", nil, tok.radgiver).responses)
      assert.matches("Kurset er evaluert", get("per", "/me/courses"), 1, true)
    end)

    it("asks for one free text when the course has no questions", function()
      local path = "/me/courses/" .. en["per@D1"] .. "/evaluation"
      local html, csrf = get("per", path)
      assert.matches('<textarea id="text" name="text"', html, 1, true)
      assert.equal(422, (post("per", path, { { "text", "  " } }, csrf)))
      assert.equal(303, (post("per", path, { { "text", "Nyttig oversikt" } }, csrf)))
      local results = srv:expect(200, "GET", "/courses/" .. D .. "/evaluations", nil, tok.radgiver)
      assert.equal(1, results.responses)
    end)

    it("shows the courses on my CV and adds a manual entry", function()
      local html, csrf = get("per", "/me/cv")
      assert.matches("Gerica journal", html, 1, true)
      assert.matches("Gerica oversikt", html, 1, true)
      assert.matches("kurs i evne", html, 1, true)
      local function cv() return srv:expect(200, "GET", "/employees/" .. id.per .. "/cv").items end
      local n = #cv()
      -- a bad date and bad hours: the form again with what was typed, nothing stored
      local status, html2 = post("per", "/me/cv", { { "title", "Førstehjelp" },
        { "happened_on", "2025-02-30" }, { "hours", "mange" }, { "detail", "Røde Kors" } }, csrf)
      assert.equal(422, status)
      assert.matches("Skriv en gyldig dato", html2, 1, true)
      assert.matches("Skriv et antall timer", html2, 1, true)
      assert.matches('value="Førstehjelp"', html2, 1, true)
      assert.equal(n, #cv())
      assert.equal(403, (post("per", "/me/cv", { { "title", "X" }, { "happened_on", "2025-06-12" } }, false)))
      assert.equal(n, #cv())
      local st, _, headers = post("per", "/me/cv", { { "title", "Førstehjelp" },
        { "happened_on", "2025-06-12" }, { "hours", "1,5" }, { "detail", "Røde Kors" } }, csrf)
      assert.equal(303, st)
      assert.equal("/me/cv?done=added", headers["location"])
      local entry = find(cv(), function(c) return c.title == "Førstehjelp" end)
      assert.is_table(entry)
      assert.equal("manual", entry.source)
      assert.equal("2025-06-12", entry.happened_on)
      assert.is_true(H.near(1.5, entry.hours))
      local html3 = get("per", "/me/cv?done=added")
      assert.matches("12.06.2025", html3, 1, true)
      assert.matches(">1,5<", html3, 1, true)
      assert.matches("Oppføringen er lagt til", html3, 1, true)
      -- kari's CV does not show per's courses
      assert.is_nil(get("kari", "/me/cv"):find("Gerica journal", 1, true))
    end)
  end)
end)
