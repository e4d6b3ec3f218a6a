-- Pages for people: every template compiled once, rendered with the data C hands over, the
-- translations of one language and a few helpers, and wrapped in layout.html.
--   local v, err = view.new({ ["me.html"] = source, ... }, { nb = { key = "tekst" }, en = {...} })
--   local html = v:render("me.html", data, "nb")   -- raises "name:line: message"
local template = require("template")

local view = {}
view.__index = view

local concat, floor, format, gsub, match, sort =
  table.concat, math.floor, string.format, string.gsub, string.match, table.sort
local error, pairs, ipairs, select, tostring, type = error, pairs, ipairs, select, tostring, type

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
    local fn, err = template.compile(name, templates[name])
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
