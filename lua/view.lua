-- Pages for people: every template compiled once, rendered with the data C hands over, the
-- translations of one language and a few helpers, and wrapped in layout.html.
--   local v, err = view.new({ ["me.html"] = source, ... }, { nb = { key = "tekst" }, en = {...} })
--   local html = v:render("me.html", data, "nb")   -- raises "name:line: message"
-- A template whose name ends in .txt (a mail's plain text, mail/NAME.txt) is text, not HTML:
-- nothing in it is escaped, <%= %> and h included.
local template = require("template")

local view = {}
view.__index = view

local concat, floor, format, gsub, match, sort =
  table.concat, math.floor, string.format, string.gsub, string.match, table.sort
local sub = string.sub
local error, pairs, ipairs, select, tonumber, tostring, type =
  error, pairs, ipairs, select, tonumber, tostring, type

local function is_text(name) return sub(name, -4) == ".txt" end

local function merge(into, from)
  for k, v in pairs(from) do into[k] = v end
  return into
end

local function encode(v)
  return (gsub(tostring(v), "[^%w%-%._~]", function(c) return format("%%%02X", c:byte()) end))
end

-- The helpers that depend on the language only. A failing helper names the template line that
-- called it: error level 2 is the helper's caller, 3 its caller's caller.
local function helpers(strings, lang)
  local function lookup(key, level)
    local s = strings[key]
    if s == nil then
      error(format("missing translation '%s' for language '%s'", tostring(key), lang), level)
    end
    return s
  end

  local h = { h = template.escape }

  function h.t(key, ...)
    local s = lookup(key, 3)
    return select("#", ...) > 0 and format(s, ...) or s
  end

  function h.level_text(n)
    if type(n) ~= "number" or n % 1 ~= 0 or n < 0 or n > 4 then
      error(format("level_text: not a level 0-4: %s", tostring(n)), 2)
    end
    local s = lookup(format("level.%d", n), 3)
    return s
  end

  -- 0.4286 -> "43 %" (nb) or "43%" (en), from the key "format.percent".
  function h.pct(x)
    if type(x) ~= "number" then
      error(format("pct: not a number: %s", tostring(x)), 2)
    end
    return format(lookup("format.percent", 3), floor(x * 100 + 0.5))
  end

  -- "2026-11-26T21:55:01Z" -> "26.11.2026" (nb) or "2026-11-26" (en), from "format.date".
  -- The calendar date as written: a UTC time late in the evening keeps its UTC date.
  function h.date(iso)
    local y, m, d = match(tostring(iso), "^(%d%d%d%d)-(%d%d)-(%d%d)")
    if not y then
      error(format("date: not an ISO date: %s", tostring(iso)), 2)
    end
    return (gsub(lookup("format.date", 3), "{(%a)}", { y = y, m = m, d = d }))
  end

  -- url("/reports", { by = "system", id = { 3, 4 } }) -> "/reports?by=system&id=3&id=4".
  -- Keys sorted so the same link is always the same text; false leaves a parameter out.
  -- The result is plain text: write it with <%= %>, which escapes & for the attribute.
  function h.url(path, params)
    local keys, parts = {}, {}
    for k in pairs(params or {}) do keys[#keys + 1] = k end
    sort(keys)
    for _, k in ipairs(keys) do
      local v = params[k]
      for _, x in ipairs(type(v) == "table" and v or { v }) do
        if x ~= false then parts[#parts + 1] = encode(k) .. "=" .. encode(x) end
      end
    end
    if #parts == 0 then return path end
    return path .. (path:find("?", 1, true) and "&" or "?") .. concat(parts, "&")
  end

  -- when("2030-01-10T09:00", "2030-01-10T12:00") -> "torsdag 10. januar 2030 kl. 09.00–12.00"
  -- (nb) or "Thursday 10 January 2030, 09:00–12:00" (en): a span of local wall-clock times
  -- (C hands them over in Norwegian time), from the keys when.same_day, when.days, when.time,
  -- weekday.1-7 (Monday first) and month.1-12.
  local function day_text(y, m, d, hh, mm)
    -- the weekday of a civil date (days_from_civil; 1970-01-01 was a Thursday)
    local yy = m <= 2 and y - 1 or y
    local era = floor(yy / 400)
    local yoe = yy - era * 400
    local doy = floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
    local days = era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
    local weekday = (days + 3) % 7 + 1
    local time = gsub(lookup("when.time", 5), "{(%a)}",
      { h = format("%02d", hh), m = format("%02d", mm) })
    return {
      weekday = lookup("weekday." .. weekday, 5), day = tostring(d),
      month = lookup("month." .. m, 5), year = tostring(y), time = time,
    }
  end
  local function parse_local(s)
    local y, m, d, hh, mm = match(tostring(s), "^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d)")
    if not y then
      error(format("when: not a local time YYYY-MM-DDTHH:MM: %s", tostring(s)), 3)
    end
    local t = day_text(tonumber(y), tonumber(m), tonumber(d), tonumber(hh), tonumber(mm))
    return t, sub(s, 1, 10)
  end
  function h.when(starts, ends)
    local a, day_a = parse_local(starts)
    local b, day_b = parse_local(ends)
    if day_a == day_b then
      return (gsub(lookup("when.same_day", 3), "{(%a+)}", {
        weekday = a.weekday, day = a.day, month = a.month, year = a.year,
        from = a.time, to = b.time,
      }))
    end
    local function one(x)
      return (gsub(lookup("when.day", 4), "{(%a+)}", x))
    end
    return (gsub(lookup("when.days", 3), "{(%a+)}", { from = one(a), to = one(b) }))
  end

  return h
end

-- view.new(templates, locales) -> view, or nil and "name:line: message" for the first template
-- (in name order) that does not compile.
function view.new(templates, locales)
  local self = setmetatable({ compiled = {}, helpers = {} }, view)
  local names = {}
  for name in pairs(templates) do names[#names + 1] = name end
  sort(names)
  for _, name in ipairs(names) do
    local source = templates[name]
    if is_text(name) then
      -- text: every output tag writes its value as it is (a tag starts at "<%", so nothing
      -- else in the source has this shape)
      source = gsub(source, "<%%=", "<%%-")
    end
    local fn, err = template.compile(name, source)
    if not fn then
      return nil, err
    end
    self.compiled[name] = fn
  end
  for lang, strings in pairs(locales) do
    for key, s in pairs(strings) do
      if type(s) ~= "string" then
        return nil, format("locale %s: '%s' is a %s, not a string", lang, tostring(key), type(s))
      end
    end
    self.helpers[lang] = helpers(strings, lang)
  end
  return self
end

-- Renders name with vars; state is shared by the includes of one page (its title).
local function render(self, name, vars, lang, state)
  local fn = self.compiled[name]
  if not fn then
    error(format("unknown template '%s'", tostring(name)), 3)
  end
  local env = merge(merge({}, vars), self.helpers[lang])
  if is_text(name) then
    env.h = tostring
  end
  env.lang = lang
  env.opt = vars -- opt.x: x or nil, for what a page may leave out (opt.user, opt.flash)
  function env.include(other, more)
    local html = render(self, other, merge(merge({}, vars), more or {}), lang, state)
    return html -- not a tail call, which would drop the frame that error levels count on
  end
  function env.set_title(s)
    state.title = s
    return s
  end
  return fn(env)
end

-- v:has(name) -> whether template name exists (a mail's optional .html).
function view:has(name)
  return self.compiled[name] ~= nil
end

-- v:render(name, data, lang) -> html. The page's body goes into layout.html as content, with
-- every field of data, unless data.bare. The document title is "<page> – <app.name>", the page
-- title being what the body gave set_title(), else the translation of the locale key data.title;
-- lang defaults to "nb".
function view:render(name, data, lang)
  lang = lang or "nb"
  data = data or {}
  if not self.helpers[lang] then
    error(format("unknown language '%s'", tostring(lang)), 2)
  end
  local state = {}
  local body = render(self, name, data, lang, state)
  if data.bare then
    return body
  end
  local app = self.helpers[lang].t("app.name")
  local page = state.title or (data.title and self.helpers[lang].t(data.title))
  local vars = merge({}, data)
  vars.content = body
  vars.title = page and format("%s – %s", page, app) or app
  local html = render(self, "layout.html", vars, lang, state)
  return html
end

return view
