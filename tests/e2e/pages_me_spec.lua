-- The login, the employee's own pages (Min side, the self-assessment, the password), the
-- language and the session's end, over HTTP as a browser uses them.
local H = require "harness"
local P = require "pagekit"

local function count(s, pattern)
  local n = 0
  for _ in s:gmatch(pattern) do n = n + 1 end
  return n
end

describe("employee pages", function()
  local srv, cookie, me, token

  setup(function()
    srv = P.demo_server()
    token, me = srv:login("ansatt")
    me = me.employee_id
    cookie = P.login(srv, "ansatt")
  end)

  teardown(function() if srv then srv:cleanup() end end)

  local function history() return srv:expect(200, "GET", "/employees/" .. me .. "/assessments").items end

  it("sends someone not logged in to the login form, and back afterwards", function()
    local status, _, headers = P.page(srv, nil, "GET", "/me/assessment")
    assert.equal(303, status)
    assert.equal("/login?next=/me/assessment", headers["location"])
    local st, html = P.page(srv, nil, "GET", "/login?next=/me/assessment")
    assert.equal(200, st)
    assert.matches('name="next" value="/me/assessment"', html, 1, true)
    local s2, _, h2 = P.page(srv, nil, "POST", "/login",
      { { "login", "ansatt" }, { "password", "demo" }, { "next", "/me/assessment" } })
    assert.equal(303, s2)
    assert.equal("/me/assessment", h2["location"])
    assert.matches("HttpOnly", h2["set-cookie"], 1, true)
    assert.matches("SameSite=Lax", h2["set-cookie"], 1, true)
    -- a next that leaves the site is not followed
    local s3, _, h3 = P.page(srv, nil, "POST", "/login",
      { { "login", "ansatt" }, { "password", "demo" }, { "next", "//evil.example/" } })
    assert.equal(303, s3)
    assert.equal("/", h3["location"])
  end)

  it("refuses a wrong password with the login kept, and text that is not UTF-8", function()
    local status, html = P.page(srv, nil, "POST", "/login",
      { { "login", "ansatt" }, { "password", "feil-passord" } })
    assert.equal(401, status)
    assert.matches("Feil brukernavn eller passord", html, 1, true)
    assert.matches('name="login" value="ansatt"', html, 1, true)
    local s2, html2 = P.page(srv, nil, "POST", "/login", { { "login", "" }, { "password", "" } })
    assert.equal(422, s2)
    assert.matches("Skriv inn både brukernavn og passord", html2, 1, true)
    local body = "login=%FF%FEx&password=abc"
    local sock = srv:connect()
    sock:send(("POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      .. "Content-Length: %d\r\nConnection: close\r\n\r\n%s"):format(#body, body))
    local resp = H.read_response(sock, "POST")
    sock:close()
    assert.equal(422, resp.status)
    assert.matches("ikke UTF-8", resp.body, 1, true)
    assert.equal(200, (srv:request("GET", "/healthz")))
  end)

  it("shows Min side with the numbers of the API", function()
    local gaps = srv:expect(200, "GET", "/employees/" .. me .. "/gaps", nil, token)
    local status, html = P.page(srv, cookie, "GET", "/me")
    assert.equal(200, status)
    assert.matches("Min side: Per Hansen", html, 1, true)
    assert.matches(("Du har %d kompetansegap av %d krav. %d krav er ikke vurdert"):format(
      gaps.summary.open_gaps, gaps.summary.demanded, gaps.summary.unassessed), html, 1, true)
    local profiles = srv:expect(200, "GET", "/employees/" .. me .. "/profiles", nil, token)
    for _, p in ipairs(profiles.items) do
      assert.matches("<li>" .. P.escape(p.name) .. "</li>", html, 1, true)
    end
    assert.is_true(#html < 60 * 1024)
    -- the navigation offers an employee's pages only
    assert.matches('href="/me/assessment"', html, 1, true)
    assert.is_nil(html:find('href="/systems"', 1, true))
    assert.is_nil(html:find('href="/admin/users"', 1, true))
  end)

  it("asks exactly what the profiles demand, worded as the municipality asks", function()
    local questions = srv:expect(200, "GET", "/employees/" .. me .. "/questions", nil, token).items
    local status, html = P.page(srv, cookie, "GET", "/me/assessment")
    assert.equal(200, status)
    assert.equal(#questions, count(html, "<legend>"))
    assert.equal(#questions * 5, count(html, 'type="radio"'))
    assert.matches("På en skala fra 0 til 4, i hvor stor grad er du i stand til å: "
      .. P.escape(questions[1].text), html, 1, true)
    -- the current level is chosen already
    for _, q in ipairs(questions) do
      if q.current ~= H.null and q.current ~= nil then
        assert.matches(('name="r%d" value="%d" checked'):format(q.requirement_id, q.current),
          html, 1, true)
      end
    end
  end)

  it("refuses a form without the CSRF token and changes nothing", function()
    local before = #history()
    local status = P.page(srv, cookie, "POST", "/me/assessment", { { "r1", "4" } })
    assert.equal(403, status)
    local s2 = P.page(srv, cookie, "POST", "/me/assessment",
      { { "csrf", string.rep("0", 32) }, { "r1", "4" } })
    assert.equal(403, s2)
    assert.equal(before, #history())
  end)

  it("shows the form again for a bad level, with the choice kept and nothing stored", function()
    local before = #history()
    local _, html = P.page(srv, cookie, "GET", "/me/assessment")
    local csrf = P.csrf_of(html)
    local q = srv:expect(200, "GET", "/employees/" .. me .. "/questions", nil, token).items
    local status, again = P.page(srv, cookie, "POST", "/me/assessment",
      { { "csrf", csrf }, { "r" .. q[1].requirement_id, "7" }, { "r" .. q[2].requirement_id, "1" } })
    assert.equal(422, status)
    assert.matches("Velg et nivå fra 0 til 4", again, 1, true)
    assert.matches(('name="r%d" value="1" checked'):format(q[2].requirement_id), again, 1, true)
    assert.equal(before, #history())
    local s2, again2 = P.page(srv, cookie, "POST", "/me/assessment",
      { { "csrf", csrf }, { "r999999", "2" } })
    assert.equal(422, s2)
    assert.matches("Noen svar mangler eller er ugyldige", again2, 1, true)
    assert.equal(before, #history())
  end)

  it("saves what changed as a self-assessment and the gap moves", function()
    local q = srv:expect(200, "GET", "/employees/" .. me .. "/questions", nil, token).items
    local target
    for _, x in ipairs(q) do
      if x.current == H.null or x.current == nil or x.current < x.required then target = x break end
    end
    assert.is_table(target, "the demo's Per Hansen has a gap to close")
    local gaps_before = srv:expect(200, "GET", "/employees/" .. me .. "/gaps", nil, token).summary
    local before = #history()
    local _, html = P.page(srv, cookie, "GET", "/me/assessment")
    local status, _, headers = P.page(srv, cookie, "POST", "/me/assessment",
      { { "csrf", P.csrf_of(html) }, { "r" .. target.requirement_id, tostring(target.required) } })
    assert.equal(303, status)
    assert.equal("/me/assessment?saved=1", headers["location"])
    local h = history()
    assert.equal(before + 1, #h)
    assert.equal("self", h[1].source)
    assert.equal(target.requirement_id, h[1].requirement_id)
    assert.equal(target.required, h[1].level)
    local gaps_after = srv:expect(200, "GET", "/employees/" .. me .. "/gaps", nil, token).summary
    assert.is_true(gaps_after.gap_sum < gaps_before.gap_sum)
    local _, saved = P.page(srv, cookie, "GET", "/me/assessment?saved=1")
    assert.matches("Vurderingen er lagret", saved, 1, true)
    -- the same answers again store nothing
    local s2, _, h2 = P.page(srv, cookie, "POST", "/me/assessment",
      { { "csrf", P.csrf_of(html) }, { "r" .. target.requirement_id, tostring(target.required) } })
    assert.equal(303, s2)
    assert.equal("/me/assessment?saved=0", h2["location"])
    assert.equal(before + 1, #history())
  end)

  it("speaks English on request and remembers it", function()
    local status, html, headers = P.page(srv, cookie, "GET", "/me?lang=en")
    assert.equal(200, status)
    assert.matches("My page: Per Hansen", html, 1, true)
    assert.matches('<html lang="en">', html, 1, true)
    assert.matches("evne_lang=en", headers["set-cookie"], 1, true)
    local _, by_browser = P.page(srv, cookie, "GET", "/me", nil, { "Accept-Language: en-GB,en;q=0.8" })
    assert.matches("My page: Per Hansen", by_browser, 1, true)
    local _, default = P.page(srv, cookie, "GET", "/me?lang=nb")
    assert.matches("Min side: Per Hansen", default, 1, true)
    _, default = P.page(srv, cookie, "GET", "/me")
    assert.matches("Min side: Per Hansen", default, 1, true)
  end)

  it("serves the stylesheet", function()
    local status, css, headers = P.page(srv, nil, "GET", "/static/style.css")
    assert.equal(200, status)
    assert.matches("text/css", headers["content-type"], 1, true)
    assert.matches(":focus", css, 1, true)
    assert.equal(404, (P.page(srv, nil, "GET", "/static/../evne.db")))
  end)

  it("changes my password, ending my other sessions", function()
    local other = P.login(srv, "ansatt")
    local _, html = P.page(srv, cookie, "GET", "/me/password")
    local csrf = P.csrf_of(html)
    local s1, wrong = P.page(srv, cookie, "POST", "/me/password",
      { { "csrf", csrf }, { "current", "not-it" }, { "new", "nytt-passord-1" }, { "repeat", "nytt-passord-1" } })
    assert.equal(422, s1)
    assert.matches("Nåværende passord er feil", wrong, 1, true)
    local s2, differ = P.page(srv, cookie, "POST", "/me/password",
      { { "csrf", csrf }, { "current", "demo" }, { "new", "nytt-passord-1" }, { "repeat", "nytt-passord-2" } })
    assert.equal(422, s2)
    assert.matches("ikke like", differ, 1, true)
    local s3, _, headers = P.page(srv, cookie, "POST", "/me/password",
      { { "csrf", csrf }, { "current", "demo" }, { "new", "nytt-passord-1" }, { "repeat", "nytt-passord-1" } })
    assert.equal(303, s3)
    local fresh = headers["set-cookie"]:match("evne_session=(%x+)")
    assert.is_string(fresh)
    assert.equal(200, (P.page(srv, fresh, "GET", "/me")))
    assert.equal(303, (P.page(srv, other, "GET", "/me")))   -- the other session ended
    assert.equal(303, (P.page(srv, nil, "POST", "/login",
      { { "login", "ansatt" }, { "password", "nytt-passord-1" } })))
    cookie = fresh
  end)

  it("logs out", function()
    local _, html = P.page(srv, cookie, "GET", "/me")
    local status, _, headers = P.page(srv, cookie, "POST", "/logout", { { "csrf", P.csrf_of(html) } })
    assert.equal(303, status)
    assert.equal("/login", headers["location"])
    assert.matches("Max%-Age=0", headers["set-cookie"])
    assert.equal(303, (P.page(srv, cookie, "GET", "/me")))
  end)
end)

describe("failed logins", function()
  local srv
  setup(function() srv = P.demo_server() end)
  teardown(function() if srv then srv:cleanup() end end)

  it("answer 429 after five in a minute, even with the right password", function()
    for _ = 1, 5 do
      assert.equal(401, (P.page(srv, nil, "POST", "/login",
        { { "login", "leder" }, { "password", "gjett" } })))
    end
    local status, html = P.page(srv, nil, "POST", "/login",
      { { "login", "leder" }, { "password", "demo" } })
    assert.equal(429, status)
    assert.matches("For mange mislykkede forsøk", html, 1, true)
  end)

  it("count per client behind a local proxy (X-Forwarded-For), not per proxy", function()
    local function try(login, password, client)
      return (P.page(srv, nil, "POST", "/login", { { "login", login }, { "password", password } },
        { "X-Forwarded-For: 192.0.2.1, " .. client }))
    end
    for _ = 1, 5 do assert.equal(401, try("admin", "gjett", "198.51.100.7")) end
    -- another client through the same proxy is not locked out
    assert.equal(303, try("radgiver", "demo", "198.51.100.8"))
    -- the first one is, whatever login it tries
    assert.equal(429, try("radgiver", "demo", "198.51.100.7"))
  end)

  it("count the API's logins too, in the same tally as the page's", function()
    local client = { "X-Forwarded-For: 198.51.100.20" }
    for _ = 1, 5 do
      assert.equal(401, (srv:request("POST", "/api/v1/session",
        { login = "ansatt", password = "gjett" }, nil, client)))
    end
    local status, body = srv:request("POST", "/api/v1/session",
      { login = "ansatt", password = "demo" }, nil, client)
    H.check_error(status, body, 429, "too_many_attempts")
    assert.equal(429, (P.page(srv, nil, "POST", "/login",
      { { "login", "radgiver" }, { "password", "demo" } }, client)))
  end)
end)
