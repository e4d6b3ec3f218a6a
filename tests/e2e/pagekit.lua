-- What the page specs share: a server on the demo organisation, requests as a browser sends
-- them (form bodies, the session cookie), logging in through the login form, and the CSRF
-- token of a page.
local H = require "harness"

local P = { DEMO_PASSWORD = "demo" }

-- A server on a fresh demo database (`evne demo`), with admin's API token for checking.
function P.demo_server(opts)
  local srv = H.start(opts)
  srv:stop()
  for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(srv.db .. suffix) end
  local out, rc = H.run(("%s demo --db %s"):format(H.shell_quote(H.BIN), H.shell_quote(srv.db)))
  assert(rc == 0, "evne demo failed: " .. out)
  srv.admin_login, srv.admin_password = "admin", P.DEMO_PASSWORD
  srv.passwords = { admin = P.DEMO_PASSWORD, leder = P.DEMO_PASSWORD,
                    ansatt = P.DEMO_PASSWORD, radgiver = P.DEMO_PASSWORD }
  srv:launch()
  return srv
end

function P.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- fields: a list of {name, value} pairs (a name may repeat, as a browser sends checkboxes), or
-- a table of name = value (sent in name order).
function P.encode_form(fields)
  local pairs_list = fields
  if fields[1] == nil and next(fields) ~= nil then
    pairs_list = {}
    for k, v in pairs(fields) do pairs_list[#pairs_list + 1] = { k, v } end
    table.sort(pairs_list, function(a, b) return a[1] < b[1] end)
  end
  local parts = {}
  for _, f in ipairs(pairs_list) do
    parts[#parts + 1] = P.urlencode(f[1]) .. "=" .. P.urlencode(f[2])
  end
  return table.concat(parts, "&")
end

-- One request with the session cookie (may be nil); extra: more header lines; raw: a body sent
-- as it is (its headers in extra) when there are no fields. Returns status, body, headers.
function P.page(srv, cookie, method, path, fields, extra, raw)
  local body = fields and P.encode_form(fields) or nil
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: 127.0.0.1", "Connection: close",
                  "Accept: text/html" }
  if cookie then lines[#lines + 1] = "Cookie: evne_session=" .. cookie end
  for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
  if body then
    lines[#lines + 1] = "Content-Type: application/x-www-form-urlencoded"
    lines[#lines + 1] = "Content-Length: " .. #body
  elseif method == "POST" and not raw then
    lines[#lines + 1] = "Content-Length: 0"
  end
  local sock = srv:connect()
  assert(sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or raw or "")))
  local resp, err = H.read_response(sock, method)
  sock:close()
  assert(resp, ("%s %s: no answer (%s)"):format(method, path, tostring(err)))
  return resp.status, resp.body, resp.headers
end

-- Logs in through the login form; returns the session cookie's value.
function P.login(srv, name, password)
  local status, _, headers = P.page(srv, nil, "POST", "/login",
    { { "login", name }, { "password", password or P.DEMO_PASSWORD }, { "next", "/" } })
  assert(status == 303, "login " .. name .. " answered " .. status)
  local cookie = (headers["set-cookie"] or ""):match("evne_session=(%x+)")
  assert(cookie, "login " .. name .. " set no session cookie")
  return cookie
end

function P.csrf_of(html)
  local token = html:match('name="csrf" value="(%x+)"')
  assert(token, "no csrf field in the page")
  return token
end

local entities = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
                   ["'"] = "&#39;" }
function P.escape(s)
  return (s:gsub("[&<>\"']", entities))
end

return P
