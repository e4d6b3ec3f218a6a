-- The page renderer (lua/view.lua) with the shipped layout and locales, loaded the way the
-- server loads them: every web/templates/*.html, every web/locales/<lang>/*.lua merged per language.
local view = require("view")
local lfs = require("lfs")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function each_file(dir, suffix)
  local names = {}
  for name in lfs.dir(dir) do
    if name:sub(-#suffix) == suffix then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  return ipairs(names)
end

local function shipped_templates()
  local t = {}
  for _, name in each_file("web/templates", ".html") do
    t[name] = read("web/templates/" .. name)
  end
  return t
end

local function shipped_locales()
  local all = {}
  for _, lang in ipairs({ "nb", "en" }) do
    all[lang] = {}
    for _, name in each_file("web/locales/" .. lang, ".lua") do
      for k, v in pairs(dofile("web/locales/" .. lang .. "/" .. name)) do
        assert(all[lang][k] == nil, lang .. ": key defined twice: " .. k)
        all[lang][k] = v
      end
    end
  end
  return all
end

-- The shipped layout and locales, plus the pages a test brings.
local function make(pages, extra)
  local templates = shipped_templates()
  for k, v in pairs(pages or {}) do
    templates[k] = v
  end
  local locales = shipped_locales()
  for lang, strings in pairs(extra or {}) do
    for k, v in pairs(strings) do
      locales[lang][k] = v
    end
  end
  return assert(view.new(templates, locales))
end

local function fails(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  return err
end

local user = { name = "Kari <Nordmann>", roles = { "employee", "manager" } }
local nav = {
  { href = "/me", label = "nav.me", current = true },
  { href = "/team?x=1&y=2", label = "nav.team" },
}

describe("view.new", function()
  it("compiles every shipped template", function()
    assert.is_table(view.new(shipped_templates(), shipped_locales()))
  end)

  it("refuses a template that does not compile, naming template and line", function()
    local v, err = view.new({ ["ok.html"] = "x", ["bad.html"] = "a\n<% if x then %>\n" }, { nb = {} })
    assert.is_nil(v)
    assert.matches("^bad%.html:%d+: 'end' expected", err)
  end)

  it("refuses a translation that is not a string", function()
    local v, err = view.new({}, { nb = { ["a.b"] = 3 } })
    assert.is_nil(v)
    assert.are.equal("locale nb: 'a.b' is a number, not a string", err)
  end)
end)

describe("view:render with the layout", function()
  local v = make({ ["me.html"] = "<h1><%= set_title(t('nav.me')) %></h1>\n" })

  it("wraps the page in the layout, in bokmål by default", function()
    local html = v:render("me.html", { user = user, nav = nav, csrf = "tok&en" })
    assert.matches('^<!doctype html>\n<html lang="nb">', html)
    assert.matches('<meta charset="utf-8">', html, 1, true)
    assert.matches('<meta name="viewport"', html, 1, true)
    assert.matches("<title>Min side – evne</title>", html, 1, true)
    assert.matches('<link rel="stylesheet" href="/static/style.css">', html, 1, true)
    assert.matches('<a class="skip" href="#main">Hopp til innholdet</a>', html, 1, true)
    assert.matches('<main id="main" tabindex="-1">\n<h1>Min side</h1>\n', html, 1, true)
  end)

  it("shows who I am and my roles, escaped", function()
    local html = v:render("me.html", { user = user, nav = nav, csrf = "t" })
    assert.matches("<strong>Kari &lt;Nordmann&gt;</strong>", html, 1, true)
    assert.matches("ansatt, leder</span>", html, 1, true)
    assert.matches("employee, manager</span>", v:render("me.html", { user = user, csrf = "t" }, "en"), 1, true)
  end)

  it("marks the current page in the navigation and escapes links", function()
    local html = v:render("me.html", { user = user, nav = nav, csrf = "t" })
    assert.matches('<a href="/me" aria-current="page">Min side</a>', html, 1, true)
    assert.matches('<a href="/team?x=1&amp;y=2">Mitt team</a>', html, 1, true)
  end)

  it("offers a logout form with the CSRF token when logged in", function()
    local html = v:render("me.html", { user = user, nav = nav, csrf = 'a"b' })
    assert.matches('<form class="logout" method="post" action="/logout">', html, 1, true)
    assert.matches('<input type="hidden" name="csrf" value="a&quot;b">', html, 1, true)
  end)

  it("leaves out who I am, logout and navigation when nobody is logged in", function()
    local html = v:render("me.html", {})
    assert.is_nil(html:find("logout", 1, true))
    assert.is_nil(html:find('class="who"', 1, true))
    assert.is_nil(html:find('class="main"', 1, true))
  end)

  it("refuses a logged-in page without a CSRF token, rather than a logout that cannot work", function()
    assert.matches("^layout%.html:%d+: unknown variable 'csrf'", fails(v.render, v, "me.html", { user = user }))
  end)

  it("switches language by link, marking the current one", function()
    local html = v:render("me.html", {}, "en")
    assert.matches('<html lang="en">', html, 1, true)
    assert.matches('<a href="?lang=en" hreflang="en" lang="en" aria-current="true">English</a>', html, 1, true)
    assert.matches('<a href="?lang=nb" hreflang="nb" lang="nb">Norsk</a>', html, 1, true)
    assert.matches("<title>My page – evne</title>", html, 1, true)
  end)

  it("shows the flash message as a status", function()
    local html = v:render("me.html", { flash = "flash.saved" })
    assert.matches('<p class="flash" role="status">Endringene er lagret</p>', html, 1, true)
  end)

  it("titles a page from the locale key data.title when the page sets none, and the app alone otherwise", function()
    local w = make({ ["p.html"] = "<p>x</p>" }, { nb = { ["p.title"] = "Kari & Ola" } })
    assert.matches("<title>Kari &amp; Ola – evne</title>", w:render("p.html", { title = "p.title" }), 1, true)
    assert.matches("<title>evne</title>", w:render("p.html", {}), 1, true)
  end)

  it("renders the page alone when data.bare is set", function()
    assert.are.equal("<h1>Min side</h1>\n", v:render("me.html", { bare = true }))
  end)

  it("refuses an unknown language and an unknown template", function()
    assert.matches("unknown language 'de'", fails(v.render, v, "me.html", {}, "de"))
    assert.matches("unknown template 'nope.html'", fails(v.render, v, "nope.html", {}))
  end)
end)

describe("view helpers", function()
  local function page(source, data, lang, extra)
    local w = make({ ["p.html"] = source }, extra)
    data = data or {}
    data.bare = true
    return w:render("p.html", data, lang)
  end

  it("translates with t, formatting arguments", function()
    local extra = { nb = { ["n.people"] = "%d personer i %s" }, en = { ["n.people"] = "%d people in %s" } }
    assert.are.equal("3 personer i &lt;IT&gt;", page("<%= t('n.people', 3, d) %>", { d = "<IT>" }, "nb", extra))
    assert.are.equal("3 people in &lt;IT&gt;", page("<%= t('n.people', 3, d) %>", { d = "<IT>" }, "en", extra))
  end)

  it("names the key, the language and the line of a missing translation", function()
    local w = make({ ["p.html"] = "<p>\n<%= t('only.nb') %></p>" }, { nb = { ["only.nb"] = "bare norsk" } })
    assert.are.equal("<p>\nbare norsk</p>", w:render("p.html", { bare = true }, "nb"))
    assert.are.equal("p.html:2: missing translation 'only.nb' for language 'en'",
      fails(w.render, w, "p.html", { bare = true }, "en"))
  end)

  it("gives the meaning of each level from data/levels.csv", function()
    local csv = read("data/levels.csv")
    local n = 0
    for level, nb, en in csv:gmatch('\n(%d),"([^"]*)","([^"]*)"') do
      n = n + 1
      assert.are.equal(nb, page("<%= level_text(n) %>", { n = tonumber(level) }, "nb"))
      assert.are.equal(en, page("<%= level_text(n) %>", { n = tonumber(level) }, "en"))
    end
    assert.are.equal(5, n)
    assert.matches("p.html:1: level_text: not a level 0-4: 5", fails(page, "<%= level_text(5) %>"), 1, true)
    local w = assert(view.new({ ["p.html"] = "\n<%= level_text(2) %>" }, { nb = {} }))
    assert.are.equal("p.html:2: missing translation 'level.2' for language 'nb'",
      fails(w.render, w, "p.html", { bare = true }))
  end)

  it("writes percentages per language", function()
    assert.are.equal("43 % 100 % 0 %", page("<%= pct(0.4286) %> <%= pct(1) %> <%= pct(0) %>", {}, "nb"))
    assert.are.equal("43%", page("<%= pct(0.4286) %>", {}, "en"))
    assert.matches("p.html:1: pct: not a number: nil", fails(page, "<%= pct(x.y) %>", { x = {} }), 1, true)
  end)

  it("writes dates per language", function()
    assert.are.equal("26.11.2026", page("<%= date('2026-11-26T21:55:01Z') %>", {}, "nb"))
    assert.are.equal("2026-11-26", page("<%= date('2026-11-26T21:55:01Z') %>", {}, "en"))
    assert.matches("p.html:1: date: not an ISO date: 26.11.2026", fails(page, "<%= date('26.11.2026') %>"), 1, true)
  end)

  it("builds URLs with sorted, encoded parameters, escaped in the attribute", function()
    local src = [[<a href="<%= url('/reports', { by = 'system', q = 'Æ & ø', id = { 3, 4 }, off = false }) %>">]]
    assert.are.equal('<a href="/reports?by=system&amp;id=3&amp;id=4&amp;q=%C3%86%20%26%20%C3%B8">', page(src))
    assert.are.equal("/a?x=1&amp;y=2", page("<%= url('/a?x=1', { y = 2 }) %>"))
    assert.are.equal("/a", page("<%= url('/a') %>"))
  end)

  it("escapes with h for raw output", function()
    assert.are.equal("<b>&lt;i&gt;</b>", page("<%- '<b>' .. h(s) .. '</b>' %>", { s = "<i>" }))
  end)

  it("has the language as lang, and the optional fields as opt", function()
    assert.are.equal("en: none", page("<%= lang %>: <%= opt.flash or 'none' %>", {}, "en"))
  end)
end)

describe("include", function()
  local v = make({
    ["row.html"] = "<tr><td><%= name %></td><td><%= dept %></td></tr>",
    ["list.html"] = "<table>\n<% for _, p in ipairs(people) do %><%- include('row.html', p) %><% end %>\n</table>",
    ["broken.html"] = "a\n<%- include('row.html', { dept = 'x' }) %>",
    ["missing.html"] = "a\n\n<%- include('nope.html') %>",
  })

  it("renders another template with its variables over the current data", function()
    local people = { { name = "<Kari>" }, { name = "Ola", dept = "HR" } }
    local html = v:render("list.html", { bare = true, dept = "IT", people = people })
    assert.are.equal("<table>\n<tr><td>&lt;Kari&gt;</td><td>IT</td></tr>"
      .. "<tr><td>Ola</td><td>HR</td></tr>\n</table>", html)
  end)

  it("names the included template's line when it fails", function()
    assert.are.equal("row.html:1: unknown variable 'name'", fails(v.render, v, "broken.html", { bare = true }))
  end)

  it("names the including line for an unknown template", function()
    assert.are.equal("missing.html:3: unknown template 'nope.html'",
      fails(v.render, v, "missing.html", { bare = true }))
  end)
end)

describe("locales", function()
  it("have the same keys in every language", function()
    local all = shipped_locales()
    for _, pair in ipairs({ { "nb", "en" }, { "en", "nb" } }) do
      local a, b = pair[1], pair[2]
      for k in pairs(all[a]) do
        assert(all[b][k], ("key '%s' is in %s but not in %s"):format(k, a, b))
      end
    end
  end)
end)

describe("a realistic page", function()
  -- A manager's team of 30 across 8 systems, with the layout: a measurement, printed, not asserted.
  local page = [[
<h1><%= set_title(t("nav.team_gaps")) %></h1>
<div class="scroll">
<table>
<thead><tr><th><%= t("role.employee") %></th>
<% for _, s in ipairs(systems) do %><th><%= s.name %></th><% end %></tr></thead>
<tbody>
<% for _, e in ipairs(employees) do -%>
<tr><th><a href="<%= url('/employees/' .. e.id, { tab = 'gaps' }) %>"><%= e.name %></a></th>
<% for _, c in ipairs(e.cells) do -%>
<td class="class-<%= c.class %>"><%= c.gap %> (<%= pct(c.coverage) %>)
<span class="bar-track"><span class="bar" style="width: <%= math.floor(c.coverage * 100 + 0.5) %>%"></span></span></td>
<% end -%>
</tr>
<% end -%>
</tbody>
</table>
</div>
<p><%= level_text(3) %> · <%= date(updated) %></p>
]]
  local data = { user = user, nav = nav, csrf = "token", flash = "flash.saved", updated = "2026-11-26T21:55:01Z",
                 systems = {}, employees = {} }
  local classes = { "ok", "minor", "major" }
  for s = 1, 8 do
    data.systems[s] = { name = "System " .. s }
  end
  for e = 1, 30 do
    local cells = {}
    for s = 1, 8 do
      cells[s] = { class = classes[(e + s) % 3 + 1], gap = (e * s) % 7, coverage = ((e + s) % 10) / 10 }
    end
    data.employees[e] = { id = e, name = "Ansatt nr. " .. e .. " & co", cells = cells }
  end

  it("renders, and prints how long it takes", function()
    local v = make({ ["team_gaps.html"] = page })
    local html = v:render("team_gaps.html", data)
    assert.matches("<title>Teamets kompetansegap – evne</title>", html, 1, true)
    assert.matches("Ansatt nr. 30 &amp; co", html, 1, true)
    local n = 200
    local t0 = os.clock()
    for _ = 1, n do
      v:render("team_gaps.html", data)
    end
    print(("\nrealistic page (30 x 8, layout, %d bytes): %.3f ms per render on %s"):format(
      #html, (os.clock() - t0) * 1000 / n, _VERSION))
  end)
end)
