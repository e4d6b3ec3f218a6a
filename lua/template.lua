-- HTML templates, etlua-like:
--   <%= expr %>   the value of expr, HTML-escaped
--   <%- expr %>   the value of expr, raw (HTML made by include or h)
--   <% code %>    Lua statements (if/for/local/end)
--   ... -%>       also drops the newline right after the tag
-- A template compiles once into one Lua chunk whose line numbers are the template's, so that
-- Lua's own messages ("name:12: attempt to index a nil value") point into the template.
-- Names resolve through the env given to the render function, then a few safe globals; any
-- other name, and any nil (or table) written out, is an error naming template and line.
local template = {}

local concat, find, format, gsub, rep, sub =
  table.concat, string.find, string.format, string.gsub, string.rep, string.sub
local error, load, setfenv, setmetatable, tostring, type = error, load, setfenv, setmetatable, tostring, type
local loadstring = loadstring -- Lua 5.1 only; nil on 5.4

local allowed = {
  ipairs = ipairs, pairs = pairs, next = next, select = select, tostring = tostring,
  tonumber = tonumber, type = type, string = string, table = table, math = math,
}

local entities = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

function template.escape(s)
  s = tostring(s)
  if find(s, "[&<>\"']") then
    s = gsub(s, "[&<>\"']", entities)
  end
  return s
end
local escape = template.escape

-- The checks behind <%= %> and <%- %>; exprs[i] is the tag's source, for the message.
local function checker(exprs, wrap)
  return function(v, i)
    local t = type(v)
    if t == "string" then
      return wrap(v)
    elseif t == "number" or t == "boolean" then
      return tostring(v)
    end
    error(format("%s value in %s", t, exprs[i]), 2)
  end
end

local function identity(s) return s end

local function count(s, c)
  local _, n = gsub(s, c, "")
  return n
end

-- Returns the Lua source of name's chunk and the source of each output tag, or nil and an error.
-- Text becomes one statement with its newlines escaped, preceded by as many real newlines, so
-- that every tag's code sits on its template line and a -- comment in a tag ends before it.
local function translate(name, source)
  local out, exprs = {}, {}
  local pos, owed = 1, 0 -- owed: newlines already emitted after a tag with a comment
  local function newlines(n)
    local paid = n < owed and n or owed
    owed = owed - paid
    out[#out + 1] = rep("\n", n - paid)
  end
  local function text(s)
    if s ~= "" then
      newlines(count(s, "\n"))
      out[#out + 1] = " _n=_n+1 _b[_n]=" .. gsub(format("%q", s), "\\\n", "\\n")
    end
  end
  while true do
    local open = find(source, "<%", pos, true)
    if not open then
      text(sub(source, pos))
      break
    end
    text(sub(source, pos, open - 1))
    local close = find(source, "%>", open + 2, true)
    if not close then
      return nil, format("%s:%d: unclosed <%%", name, count(sub(source, 1, open), "\n") + 1)
    end
    local kind = sub(source, open + 2, open + 2)
    local output = kind == "=" or kind == "-"
    local trim = close - 1 > open + 2 and sub(source, close - 1, close - 1) == "-"
    local code = sub(source, output and open + 3 or open + 2, trim and close - 2 or close - 1)
    if output then
      exprs[#exprs + 1] = format("<%%%s %s %%>", kind, (gsub(code, "^%s*(.-)%s*$", "%1")))
      out[#out + 1] = format(" _n=_n+1 _b[_n]=%s((%s),%d)", kind == "=" and "_e" or "_r", code, #exprs)
    else
      out[#out + 1] = " " .. code
      if find(code, "--", 1, true) then
        out[#out + 1] = "\n"
        owed = owed + 1
      end
    end
    pos = close + 2
    if trim then
      local _, eol = find(source, "^\r?\n", pos)
      if eol then
        pos = eol + 1
        newlines(1)
      end
    end
  end
  return "local _ENV,_e,_r,_c=... local _b,_n={},0" .. concat(out) .. " return _c(_b)", exprs
end

-- compile(name, source) -> render(env) -> string; or nil, "name:line: message".
function template.compile(name, source)
  local lua, exprs = translate(name, source)
  if not lua then
    return nil, exprs
  end
  local chunk, err
  if setfenv then
    chunk, err = loadstring(lua, "=" .. name)
    if chunk then
      -- A factory of fresh closures: setfenv on one shared function would let a template that
      -- includes itself (a department tree) swap its caller's variables.
      chunk = loadstring("return function(...) " .. lua .. " end", "=" .. name)
    end
  else
    chunk, err = load(lua, "=" .. name, "t", {})
  end
  if not chunk then
    return nil, err
  end
  local esc, raw = checker(exprs, escape), checker(exprs, identity)
  return function(env)
    local scope = setmetatable({}, {
      __index = function(_, k)
        local v = env[k]
        if v == nil then
          v = allowed[k]
          if v == nil then
            error(format("unknown variable '%s'", tostring(k)), 2)
          end
        end
        return v
      end,
      __newindex = function(_, k)
        error(format("assignment to undeclared variable '%s' (use local)", tostring(k)), 2)
      end,
    })
    local fn = chunk
    if setfenv then
      fn = setfenv(chunk(), scope)
    end
    return fn(scope, esc, raw, concat)
  end
end

return template
