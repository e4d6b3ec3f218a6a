-- The adviser's catalogue pages over HTTP, on the demo organisation: the systems, one system
-- with its requirements (add, edit, move, archive), and the profile matrix of Gerica with its
-- derived Sum and Average rows. Every write is checked through the API afterwards; every refused
-- write (wrong role, no CSRF token, a bad value) is checked to have stored nothing.
local H = require "harness"
local P = require "pagekit"
local csrf_of, start_demo = P.csrf_of, P.demo_server

-- One page request; returns status, body, headers.
local function page(srv, method, path, session, fields)
  return P.page(srv, session, method, path, fields)
end

local function web_login(srv, login) return P.login(srv, login) end

-- --- a browser, roughly: forms, cookies, pages ---------------------------------------------






-- GET a page that must answer 200; returns its HTML and its CSRF token.
local function get(srv, path, session)
  local status, html = page(srv, "GET", path, session)
  assert.equal(200, status, "GET " .. path .. ": " .. html:sub(1, 300))
  return html, csrf_of(html)
end

-- A literal string as a Lua pattern.
local function lit(s)
  return (s:gsub("%p", "%%%0"))
end

local function has(html, text)
  return html:find(text, 1, true) ~= nil
end

-- The text of the element with id (a td or th holding text only).
local function cell(html, id)
  return html:match(lit('id="' .. id .. '"') .. '[^>]*>([^<]*)<')
end

-- Every level input of the matrix form, in page order: {name, value}.
local function matrix_inputs(html)
  local out = {}
  for tag in html:gmatch('<input type="number"[^>]*>') do
    out[#out + 1] = { tag:match('name="([^"]+)"'), tag:match('value="([^"]*)"') }
  end
  return out
end

-- Requirement ids in the order of the system page's table (active ones).
local function page_order(html)
  local ids = {}
  local tbody = html:match("<tbody>(.-)</tbody>") or ""
  for id in tbody:gmatch('<tr id="req%-(%d+)"') do ids[#ids + 1] = tonumber(id) end
  return ids
end


describe("adviser pages", function()
  local srv, adv, admin, leder, ansatt
  local gerica                     -- the demo's Gerica system
  local gerica_profiles = {}       -- its five profiles, by name "Gerica 1" .. "Gerica 5"
  local gerica_reqs                -- its requirements in order (API objects)

  local function api_system(id) return srv:expect(200, "GET", "/systems/" .. id) end
  local function api_reqs(id) return srv:expect(200, "GET", "/systems/" .. id .. "/requirements").items end
  local function api_profile(id) return srv:expect(200, "GET", "/profiles/" .. id) end
  local function api_ids(items)
    local ids = {}
    for i, it in ipairs(items) do ids[i] = it.id end
    return ids
  end
  local function active_ids(items)
    local ids = {}
    for _, it in ipairs(items) do if not it.archived then ids[#ids + 1] = it.id end end
    return ids
  end

  setup(function()
    srv = start_demo()
    adv = web_login(srv, "radgiver")
    admin = web_login(srv, "admin")
    leder = web_login(srv, "leder")
    ansatt = web_login(srv, "ansatt")
    for _, s in ipairs(srv:expect(200, "GET", "/systems").items) do
      if s.name == "Gerica" then gerica = s.id end
    end
    assert(gerica, "the demo has no Gerica system")
    for _, p in ipairs(srv:expect(200, "GET", "/profiles").items) do
      if p.system_id == gerica then gerica_profiles[p.name] = p end
    end
    gerica_reqs = api_reqs(gerica)
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  describe("access", function()
    it("shows the systems to an adviser and an admin", function()
      for _, session in ipairs({ adv, admin }) do
        local html = get(srv, "/systems", session)
        assert.is_true(has(html, '<a href="/systems/' .. gerica .. '">Gerica</a>'))
        assert.is_true(has(html, 'action="/systems"'))
        get(srv, "/systems/" .. gerica, session)
        get(srv, "/systems/" .. gerica .. "/matrix", session)
      end
    end)

    it("refuses an employee and a manager with 403, and changes nothing for them", function()
      local before = #srv:expect(200, "GET", "/systems").items
      local level_before = api_profile(gerica_profiles["Gerica 1"].id).levels
      for _, session in ipairs({ ansatt, leder }) do
        for _, path in ipairs({ "/systems", "/systems/" .. gerica, "/systems/" .. gerica .. "/matrix" }) do
          local status, html = page(srv, "GET", path, session)
          assert.equal(403, status, path)
          assert.is_true(has(html, "Du har ikke tilgang"))
        end
        -- with their own valid CSRF token, so that only the role refuses
        local _, csrf = get(srv, "/me", session)
        local status = page(srv, "POST", "/systems", session,
          { csrf = csrf, name = "Ikke lov", description = "" })
        assert.equal(403, status)
        local cell_name = ("l%d_%d"):format(gerica_profiles["Gerica 1"].id, gerica_reqs[1].id)
        status = page(srv, "POST", "/systems/" .. gerica .. "/matrix", session,
          { csrf = csrf, [cell_name] = "0" })
        assert.equal(403, status)
      end
      assert.equal(before, #srv:expect(200, "GET", "/systems").items)
      assert.same(level_before, api_profile(gerica_profiles["Gerica 1"].id).levels)
    end)

    it("sends someone not logged in to the login form", function()
      local status, _, headers = page(srv, "GET", "/systems")
      assert.equal(303, status)
      assert.equal("/login?next=/systems", headers.location)
    end)

    it("answers 404 for a system that does not exist", function()
      assert.equal(404, (page(srv, "GET", "/systems/999999", adv)))
      assert.equal(404, (page(srv, "GET", "/systems/999999/matrix", adv)))
    end)
  end)

  describe("systems and requirements", function()
    local sys -- made through the form below

    it("adds a system through the form, seen through the API and on the list", function()
      local _, csrf = get(srv, "/systems", adv)
      local name = H.unique("Fagsystem æøå ")
      local status, _, headers = page(srv, "POST", "/systems", adv,
        { csrf = csrf, name = name, description = "Laget fra skjemaet" })
      assert.equal(303, status)
      sys = tonumber(headers.location:match("^/systems/(%d+)%?done=created$"))
      assert(sys, "redirect to the new system: " .. tostring(headers.location))
      local s = api_system(sys)
      assert.equal(name, s.name)
      assert.equal("Laget fra skjemaet", s.description)
      local html = get(srv, headers.location, adv)
      assert.is_true(has(html, "Systemet er lagt til."))
      html = get(srv, "/systems", adv)
      assert.is_true(has(html, '<a href="/systems/' .. sys .. '">' .. name .. "</a>"))
    end)

    it("refuses a system without a name with 422, keeps what was typed and stores nothing", function()
      local _, csrf = get(srv, "/systems", adv)
      local before = #srv:expect(200, "GET", "/systems").items
      local status, html = page(srv, "POST", "/systems", adv,
        { csrf = csrf, name = "   ", description = "Beskrivelse <beholdt>" })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="name-error"'))
      assert.is_true(has(html, 'aria-describedby="name-error"'))
      assert.is_true(has(html, "Skriv et navn."))
      assert.is_true(has(html, "Beskrivelse &lt;beholdt&gt;</textarea>"))
      assert.equal(before, #srv:expect(200, "GET", "/systems").items)
    end)

    it("refuses a form without its CSRF token with 403 and stores nothing", function()
      local before = #srv:expect(200, "GET", "/systems").items
      local status = page(srv, "POST", "/systems", adv, { name = "Uten token" })
      assert.equal(403, status)
      status = page(srv, "POST", "/systems", adv, { csrf = string.rep("0", 32), name = "Feil token" })
      assert.equal(403, status)
      assert.equal(before, #srv:expect(200, "GET", "/systems").items)
    end)

    it("adds requirements through the form, in order, seen through the API", function()
      local texts = { "Første krav", "Andre krav", "Tredje krav" }
      for _, text in ipairs(texts) do
        local _, csrf = get(srv, "/systems/" .. sys, adv)
        local status, _, headers = page(srv, "POST", "/systems/" .. sys .. "/requirements", adv,
          { csrf = csrf, text = text })
        assert.equal(303, status)
        assert.truthy(headers.location:match("^/systems/" .. sys .. "%?done=req_created#req%-%d+$"))
      end
      local items = api_reqs(sys)
      assert.equal(3, #items)
      for i, text in ipairs(texts) do assert.equal(text, items[i].text) end
      local html = get(srv, "/systems/" .. sys, adv)
      assert.same(api_ids(items), page_order(html))
      -- the list counts them
      html = get(srv, "/systems", adv)
      assert.truthy(html:find('<tr id="system%-' .. sys .. '">.-<td class="num">3</td>'))
    end)

    it("refuses an empty requirement with 422 next to its field and stores nothing", function()
      local _, csrf = get(srv, "/systems/" .. sys, adv)
      local status, html = page(srv, "POST", "/systems/" .. sys .. "/requirements", adv,
        { csrf = csrf, text = "" })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="new-text-error"'))
      assert.equal(3, #api_reqs(sys))
    end)

    it("edits a requirement's text, and refuses an empty one keeping the old one stored", function()
      local first = api_reqs(sys)[1]
      local _, csrf = get(srv, "/systems/" .. sys, adv)
      local status = page(srv, "POST", "/requirements/" .. first.id, adv,
        { csrf = csrf, text = "Første krav, omskrevet" })
      assert.equal(303, status)
      assert.equal("Første krav, omskrevet", srv:expect(200, "GET", "/requirements/" .. first.id).text)
      local html
      status, html = page(srv, "POST", "/requirements/" .. first.id, adv, { csrf = csrf, text = " " })
      assert.equal(422, status)
      assert.is_true(has(html, 'aria-describedby="text-' .. first.id .. '-error"'))
      assert.equal("Første krav, omskrevet", srv:expect(200, "GET", "/requirements/" .. first.id).text)
    end)

    it("moves a requirement down and up, and the order changes in the API and on the page", function()
      local a, b, c = table.unpack(api_ids(api_reqs(sys)))
      local _, csrf = get(srv, "/systems/" .. sys, adv)
      local status, _, headers = page(srv, "POST", "/requirements/" .. a .. "/move", adv,
        { csrf = csrf, dir = "down" })
      assert.equal(303, status)
      assert.equal("/systems/" .. sys .. "?done=req_moved#req-" .. a, headers.location)
      assert.same({ b, a, c }, api_ids(api_reqs(sys)))
      local html = get(srv, "/systems/" .. sys, adv)
      assert.same({ b, a, c }, page_order(html))
      page(srv, "POST", "/requirements/" .. c .. "/move", adv, { csrf = csrf, dir = "up" })
      assert.same({ b, c, a }, api_ids(api_reqs(sys)))
      -- the last one cannot go further down: nothing changes
      status, _, headers = page(srv, "POST", "/requirements/" .. a .. "/move", adv,
        { csrf = csrf, dir = "down" })
      assert.equal(303, status)
      assert.truthy(headers.location:find("done=req_not_moved", 1, true))
      assert.same({ b, c, a }, api_ids(api_reqs(sys)))
      -- neither a bad direction nor a missing token moves anything
      status = page(srv, "POST", "/requirements/" .. b .. "/move", adv, { csrf = csrf, dir = "sideways" })
      assert.equal(422, status)
      status = page(srv, "POST", "/requirements/" .. b .. "/move", adv, { dir = "down" })
      assert.equal(403, status)
      assert.same({ b, c, a }, api_ids(api_reqs(sys)))
    end)

    it("moves a requirement among shared positions (ties go by id)", function()
      local s = srv:system(H.unique("Likt "))
      local r1 = srv:requirement(s, "en", 5)
      local r2 = srv:requirement(s, "to", 5)
      local r3 = srv:requirement(s, "tre", 5)
      assert.same({ r1, r2, r3 }, api_ids(api_reqs(s)))
      local _, csrf = get(srv, "/systems/" .. s, adv)
      page(srv, "POST", "/requirements/" .. r3 .. "/move", adv, { csrf = csrf, dir = "up" })
      assert.same({ r1, r3, r2 }, api_ids(api_reqs(s)))
      page(srv, "POST", "/requirements/" .. r1 .. "/move", adv, { csrf = csrf, dir = "down" })
      assert.same({ r3, r1, r2 }, api_ids(api_reqs(s)))
    end)

    it("moves past an archived requirement to the next active one", function()
      local s = srv:system(H.unique("Hopp "))
      local r1 = srv:requirement(s, "en")
      local r2 = srv:requirement(s, "to")
      local r3 = srv:requirement(s, "tre")
      srv:expect(200, "PATCH", "/requirements/" .. r2, { archived = true })
      local _, csrf = get(srv, "/systems/" .. s, adv)
      page(srv, "POST", "/requirements/" .. r1 .. "/move", adv, { csrf = csrf, dir = "down" })
      assert.same({ r3, r1 }, active_ids(api_reqs(s)))
    end)

    it("archives a requirement and restores it", function()
      local ids = api_ids(api_reqs(sys))
      local victim = ids[2]
      local _, csrf = get(srv, "/systems/" .. sys, adv)
      local status, _, headers = page(srv, "POST", "/requirements/" .. victim .. "/archive", adv,
        { csrf = csrf, archived = "1" })
      assert.equal(303, status)
      assert.truthy(headers.location:find("done=req_archived", 1, true))
      assert.is_true(srv:expect(200, "GET", "/requirements/" .. victim).archived)
      local html = get(srv, "/systems/" .. sys, adv)
      assert.same({ ids[1], ids[3] }, page_order(html))
      assert.is_true(has(html, "Arkiverte krav"))
      -- gone from the matrix too, once the system has a profile
      srv:profile("Matriseprofil", sys, {})
      html = get(srv, "/systems/" .. sys .. "/matrix", adv)
      assert.is_nil(html:find('_' .. victim .. '"', 1, true))
      assert.is_truthy(html:find('_' .. ids[1] .. '"', 1, true))
      -- restored, it is back in its place
      status = page(srv, "POST", "/requirements/" .. victim .. "/archive", adv,
        { csrf = csrf, archived = "0" })
      assert.equal(303, status)
      assert.is_false(srv:expect(200, "GET", "/requirements/" .. victim).archived)
      assert.same(ids, page_order((get(srv, "/systems/" .. sys, adv))))
      -- a bad value changes nothing
      status = page(srv, "POST", "/requirements/" .. victim .. "/archive", adv,
        { csrf = csrf, archived = "yes" })
      assert.equal(422, status)
      assert.is_false(srv:expect(200, "GET", "/requirements/" .. victim).archived)
    end)

    it("edits a system and archives it, marked on the list", function()
      local _, csrf = get(srv, "/systems/" .. sys, adv)
      local status = page(srv, "POST", "/systems/" .. sys, adv,
        { csrf = csrf, name = "Omdøpt system", description = "Ny beskrivelse" })
      assert.equal(303, status)
      local s = api_system(sys)
      assert.equal("Omdøpt system", s.name)
      assert.equal("Ny beskrivelse", s.description)
      status = page(srv, "POST", "/systems/" .. sys, adv, { csrf = csrf, name = "", description = "x" })
      assert.equal(422, status)
      assert.equal("Omdøpt system", api_system(sys).name)
      status = page(srv, "POST", "/systems/" .. sys .. "/archive", adv, { csrf = csrf, archived = "1" })
      assert.equal(303, status)
      assert.is_true(api_system(sys).archived)
      local html = get(srv, "/systems", adv)
      local row = html:match('<tr id="system%-' .. sys .. '"(.-)</tr>')
      assert.truthy(row and row:find("arkivert", 1, true))
      assert.truthy(row:find('class="muted"', 1, true))
      -- an archived system takes no new requirements
      status = page(srv, "POST", "/systems/" .. sys .. "/requirements", adv, { csrf = csrf, text = "Nytt" })
      assert.equal(422, status)
      assert.equal(3, #api_reqs(sys))
      status = page(srv, "POST", "/systems/" .. sys .. "/archive", adv, { csrf = csrf, archived = "0" })
      assert.equal(303, status)
      assert.is_false(api_system(sys).archived)
    end)
  end)

  describe("the profile matrix", function()
    local sums = { 4, 14, 19, 34, 24 }
    local nb = { "0,31", "1,08", "1,46", "2,62", "1,85" }
    local en = { "0.31", "1.08", "1.46", "2.62", "1.85" }

    it("shows Gerica's sums and averages, in each language's decimals", function()
      local html = get(srv, "/systems/" .. gerica .. "/matrix", adv)
      local html_en = get(srv, "/systems/" .. gerica .. "/matrix?lang=en", adv)
      for i = 1, 5 do
        local p = gerica_profiles["Gerica " .. i]
        assert(p, "no profile Gerica " .. i)
        assert.equal(tostring(sums[i]), cell(html, "sum-" .. p.id))
        assert.equal(nb[i], cell(html, "avg-" .. p.id))
        assert.equal(en[i], cell(html_en, "avg-" .. p.id))
        assert.equal(sums[i], api_profile(p.id).sum)
      end
      assert.is_true(has(html, "Gjennomsnitt"))
      assert.is_true(has(html_en, "Average"))
      -- requirements down, numbered 1..n in their order, a cell per profile
      local active = active_ids(gerica_reqs)
      assert.equal(#active * 5, #matrix_inputs(html))
      for n, rid in ipairs(active) do
        assert.truthy(html:find('<tr id="req%-' .. rid .. '">%s*<th scope="row" class="num">' .. n .. "</th>"))
      end
      assert(#html < 60 * 1024, "the matrix page is " .. #html .. " bytes")
    end)

    it("saves one changed cell: that profile's level, sum and average change in the API and on the page", function()
      local p = gerica_profiles["Gerica 1"]
      local rid = gerica_reqs[2].id
      local before = api_profile(p.id)
      local old = before.levels[tostring(rid)] or 0
      local new = old == 4 and 3 or old + 1
      local html, csrf = get(srv, "/systems/" .. gerica .. "/matrix", adv)
      local fields = { { "csrf", csrf } }
      local name = ("l%d_%d"):format(p.id, rid)
      for _, kv in ipairs(matrix_inputs(html)) do
        fields[#fields + 1] = { kv[1], kv[1] == name and tostring(new) or kv[2] }
      end
      local status, _, headers = page(srv, "POST", "/systems/" .. gerica .. "/matrix", adv, fields)
      assert.equal(303, status)
      assert.equal("/systems/" .. gerica .. "/matrix?done=matrix_saved", headers.location)
      local after = api_profile(p.id)
      assert.equal(new, after.levels[tostring(rid)])
      assert.equal(before.sum - old + new, after.sum)
      assert.is_true(H.near(after.sum / after.requirements, after.average, 1e-9))
      assert.is_false(H.near(before.average, after.average, 1e-9))
      -- the other profiles did not move
      for i = 2, 5 do
        assert.equal(sums[i], api_profile(gerica_profiles["Gerica " .. i].id).sum)
      end
      html = get(srv, "/systems/" .. gerica .. "/matrix?lang=en", adv)
      assert.equal(tostring(after.sum), cell(html, "sum-" .. p.id))
      assert.equal(("%.2f"):format(after.average), cell(html, "avg-" .. p.id))
      assert.truthy(html:find('name="' .. name .. '" value="' .. new .. '"', 1, true))
      -- the same form again changes nothing
      status, _, headers = page(srv, "POST", "/systems/" .. gerica .. "/matrix", adv,
        { csrf = csrf, [name] = tostring(new) })
      assert.equal(303, status)
      assert.truthy(headers.location:find("done=matrix_unchanged", 1, true))
    end)

    it("refuses a bad value (5, text, empty) with 422, marks the cell, keeps the input, stores nothing", function()
      local p1, p2 = gerica_profiles["Gerica 2"], gerica_profiles["Gerica 3"]
      local r1, r2 = gerica_reqs[1].id, gerica_reqs[3].id
      local before1, before2 = api_profile(p1.id), api_profile(p2.id)
      local _, csrf = get(srv, "/systems/" .. gerica .. "/matrix", adv)
      local good = ("l%d_%d"):format(p2.id, r2)
      local good_new = (before2.levels[tostring(r2)] or 0) == 0 and "1" or "0"
      for _, bad in ipairs({ "5", "tre", "", "-1", "2.5" }) do
        local bad_name = ("l%d_%d"):format(p1.id, r1)
        -- a good change beside the bad one must not be stored either
        local status, html = page(srv, "POST", "/systems/" .. gerica .. "/matrix", adv,
          { { "csrf", csrf }, { good, good_new }, { bad_name, bad } })
        assert.equal(422, status, "value " .. bad)
        assert.truthy(html:find(lit('name="' .. bad_name .. '" value="' .. bad .. '"') .. '[^>]*'
          .. lit('aria-invalid="true" aria-describedby="e-' .. bad_name .. '"')))
        assert.truthy(html:find('id="e-' .. bad_name .. '"', 1, true))
        assert.truthy(html:find('name="' .. good .. '" value="' .. good_new .. '"', 1, true))
        assert.truthy(html:find('role="alert"', 1, true))
        -- Sum and Average still show what is stored
        assert.equal(tostring(before1.sum), cell(html, "sum-" .. p1.id))
        assert.same(before1.levels, api_profile(p1.id).levels)
        assert.same(before2.levels, api_profile(p2.id).levels)
      end
    end)

    it("refuses a cell of another system's profile or requirement and stores nothing", function()
      local other
      for _, p in ipairs(srv:expect(200, "GET", "/profiles").items) do
        if p.system_id and p.system_id ~= gerica and not p.archived then other = p end
      end
      local before = api_profile(other.id)
      local _, csrf = get(srv, "/systems/" .. gerica .. "/matrix", adv)
      local status = page(srv, "POST", "/systems/" .. gerica .. "/matrix", adv,
        { csrf = csrf, [("l%d_%d"):format(other.id, gerica_reqs[1].id)] = "4" })
      assert.equal(422, status)
      assert.same(before.levels, api_profile(other.id).levels)
    end)

    it("refuses a matrix without its CSRF token with 403 and changes nothing", function()
      local p = gerica_profiles["Gerica 4"]
      local rid = gerica_reqs[1].id
      local before = api_profile(p.id)
      local name = ("l%d_%d"):format(p.id, rid)
      local new = (before.levels[tostring(rid)] or 0) == 0 and "1" or "0"
      local status = page(srv, "POST", "/systems/" .. gerica .. "/matrix", adv, { [name] = new })
      assert.equal(403, status)
      status = page(srv, "POST", "/systems/" .. gerica .. "/matrix", adv,
        { csrf = string.rep("a", 32), [name] = new })
      assert.equal(403, status)
      assert.same(before.levels, api_profile(p.id).levels)
      assert.equal(before.sum, api_profile(p.id).sum)
    end)

    it("adds a profile to the system as a new column, and refuses one without a name", function()
      local _, csrf = get(srv, "/systems/" .. gerica .. "/matrix", adv)
      local count = #srv:expect(200, "GET", "/profiles").items
      local status, html = page(srv, "POST", "/systems/" .. gerica .. "/profiles", adv,
        { csrf = csrf, name = "" })
      assert.equal(422, status)
      assert.is_true(has(html, 'id="profile-name-error"'))
      assert.equal(count, #srv:expect(200, "GET", "/profiles").items)
      local headers
      status, _, headers = page(srv, "POST", "/systems/" .. gerica .. "/profiles", adv,
        { csrf = csrf, name = "Gerica 6" })
      assert.equal(303, status)
      assert.equal("/systems/" .. gerica .. "/matrix?done=profile_created", headers.location)
      local made
      for _, p in ipairs(srv:expect(200, "GET", "/profiles").items) do
        if p.name == "Gerica 6" then made = p end
      end
      assert.equal(gerica, made.system_id)
      html = get(srv, "/systems/" .. gerica .. "/matrix", adv)
      assert.equal("0", cell(html, "sum-" .. made.id))
      assert.equal("0,00", cell(html, "avg-" .. made.id))
      assert.equal(#active_ids(gerica_reqs) * 6, #matrix_inputs(html))
      -- archived, its column goes; restored, it comes back
      status = page(srv, "POST", "/profiles/" .. made.id .. "/archive", adv, { csrf = csrf, archived = "1" })
      assert.equal(303, status)
      assert.is_true(api_profile(made.id).archived)
      html = get(srv, "/systems/" .. gerica .. "/matrix", adv)
      assert.is_nil(cell(html, "sum-" .. made.id))
      status = page(srv, "POST", "/profiles/" .. made.id .. "/archive", adv, { csrf = csrf, archived = "0" })
      assert.equal(303, status)
      assert.is_false(api_profile(made.id).archived)
    end)
  end)
end)
