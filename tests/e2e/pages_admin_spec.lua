-- The admin's pages over HTTP: /admin/users (the list, search, paging, a new employee, editing
-- one) and /admin/departments (the tree, a new department, rename, move, manager, delete), each
-- for the roles that may and may not see them, with CSRF refused, bad values refused with the
-- form shown again and nothing stored, and the happy paths checked through the API.
local H = require "harness"
local P = require "pagekit"
local encode_form, urlencode, csrf_in, web_login = P.encode_form, P.urlencode, P.csrf_of, P.login

-- One request as a browser sends it: the session cookie, a form body. Returns status, body,
-- headers.
local function page(srv, method, path, cookie, fields)
  return P.page(srv, cookie, method, path, fields)
end

-- --- a browser without a browser ----------------------------------------------------------






-- GET path and read its CSRF token; insists on 200.
local function form_page(srv, cookie, path)
  local status, html = page(srv, "GET", path, cookie)
  assert(status == 200, ("GET %s answered %d"):format(path, status))
  return html, csrf_in(html)
end

local function plain(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

local function contains(html, text)
  return html:find(text, 1, true) ~= nil
end

-- The error message shown next to field: the <span|p class="error" id="e-FIELD"> text, and the
-- control pointing at it with aria-describedby. nil when there is none.
local function field_error(html, field)
  local msg = html:match('class="error" id="e%-' .. plain(field) .. '">([^<]*)<')
  if not msg then return nil end
  local described = html:find('aria%-describedby="[^"]*e%-' .. plain(field) .. '[^"]*"')
  assert(described, "no control points at the error of " .. field)
  return msg
end

-- The value attribute of the input named name.
local function input_value(html, name)
  return html:match('<input[^>]-name="' .. plain(name) .. '"[^>]-value="([^"]*)"')
end

local function selected_value(html, name)
  local select = html:match('<select[^>]-name="' .. plain(name) .. '".-</select>')
  return select and select:match('<option value="(%d*)" selected>')
end

local function has(list, x)
  for _, v in ipairs(list or {}) do
    if v == x then return true end
  end
  return false
end

local function employee_count(srv)
  return #srv:expect(200, "GET", "/employees?include_archived=true").items
end

local function department_count(srv)
  return #srv:expect(200, "GET", "/departments").items
end

-- The fields of the new-employee form; over: {name = value} replacing the defaults; roles: a list.
local function employee_fields(csrf, over, roles)
  local n = H.unique("P")
  local t = { csrf = csrf, employee_number = n, name = "Ny Ansatt " .. n,
              email = n:lower() .. "@example.no", department_id = "1", login = "",
              password = "" }
  for k, v in pairs(over or {}) do t[k] = v end
  local fields = {}
  for _, k in ipairs({ "csrf", "employee_number", "name", "email", "department_id", "login",
                       "password", "archived" }) do
    if t[k] ~= nil and t[k] ~= false then fields[#fields + 1] = { k, t[k] } end
  end
  for _, r in ipairs(roles or {}) do fields[#fields + 1] = { "roles", r } end
  return fields, t
end

-- The fields of an employee's edit form from what the API says of them now, with changes.
local function edit_fields(srv, csrf, id, over, roles)
  local e = srv:expect(200, "GET", "/employees/" .. id)
  local t = { csrf = csrf, employee_number = e.employee_number, name = e.name, email = e.email,
              department_id = tostring(e.department_id),
              login = e.login ~= H.null and e.login or "", password = "",
              archived = e.archived and "1" or false }
  for k, v in pairs(over or {}) do t[k] = v end
  if not roles then
    roles = {}
    for _, r in ipairs(e.roles) do
      if r == "adviser" or r == "admin" then roles[#roles + 1] = r end
    end
  end
  local fields = {}
  for _, k in ipairs({ "csrf", "employee_number", "name", "email", "department_id", "login",
                       "password", "archived" }) do
    if t[k] ~= nil and t[k] ~= false then fields[#fields + 1] = { k, t[k] } end
  end
  for _, r in ipairs(roles) do fields[#fields + 1] = { "roles", r } end
  return fields
end

local function dept_fields(csrf, name, parent_id, manager_id)
  return { { "csrf", csrf }, { "name", name }, { "parent_id", parent_id and tostring(parent_id) or "" },
           { "manager_id", manager_id and tostring(manager_id) or "" } }
end

-- --- the organisation ------------------------------------------------------------------------

describe("the admin's pages", function()
  local srv, org, admin

  setup(function()
    srv = H.start()
    org = {}
    org.helse = srv:department("Helse og omsorg", 1)
    org.hjemme = srv:department("Hjemmetjenesten", org.helse)
    org.skole = srv:department("Hvalstad skole", 1)
    org.radgiver = srv:employee { department_id = 1, login = "radgiver", password = "demo-pass-1",
                                  roles = { "adviser" }, name = "Randi Gulbrandsen" }
    org.leder = srv:employee { department_id = org.helse, login = "leder", password = "demo-pass-2",
                               name = "Lene Dahl" }
    srv:expect(200, "PATCH", "/departments/" .. org.helse, { manager_id = org.leder })
    org.ansatt = srv:employee { department_id = org.hjemme, login = "ansatt",
                                password = "demo-pass-3", name = "Per Hansen" }
    org.kari = srv:employee { department_id = org.hjemme, login = "kari",
                              password = "demo-pass-4", name = "Kari Olsen" }
    admin = web_login(srv, srv.admin_login, srv.admin_password)
  end)

  -- 103 more people in Hvalstad skole, named "<tag> 001" ... (made once); returns the tag.
  local many_tag
  local function many()
    if not many_tag then
      many_tag = H.unique("Mange")
      for i = 1, 103 do
        srv:employee { department_id = org.skole, login = false,
                       name = ("%s %03d"):format(many_tag, i) }
      end
    end
    return many_tag
  end

  teardown(function()
    if srv then srv:cleanup() end
  end)

  describe("who may see them", function()
    it("shows the admin the users and the department tree with its managers", function()
      local status, html = page(srv, "GET", "/admin/users", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "<h1>Brukere og roller</h1>"))
      assert.is_true(contains(html, 'href="/admin/users/' .. org.ansatt .. '">Per Hansen</a>'))
      assert.is_true(contains(html, 'action="/admin/users"'))
      assert.is_true(contains(html, 'aria-current="page">Brukere</a>'))

      status, html = page(srv, "GET", "/admin/departments", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "<h1>Avdelinger og ledere</h1>"))
      -- Hjemmetjenesten sits in a list inside Helse og omsorg's item, which names its manager
      local helse_item = html:match('<li><a id="d' .. org.helse .. '".-</ul></li>')
      assert.is_truthy(helse_item)
      assert.is_true(contains(helse_item, "leder: Lene Dahl, ansatte: 1"))   -- its own, not below
      assert.is_truthy(helse_item:find('id="d' .. org.hjemme .. '"[^\n]*\n[^\n]*ingen leder, ansatte: 2'))
      assert.is_true(contains(helse_item, 'id="d' .. org.hjemme .. '"'))
      assert.is_false(contains(helse_item, 'id="d' .. org.skole .. '"'))

      status = page(srv, "GET", "/admin/users/" .. org.ansatt, admin)
      assert.equals(200, status)
      status = page(srv, "GET", "/admin/departments/" .. org.helse, admin)
      assert.equals(200, status)
      status, html = page(srv, "GET", "/admin/users?lang=en", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "<h1>Users and roles</h1>"))
      for path, heading in pairs({ ["/admin/departments"] = "Departments and managers",
                                   ["/admin/departments/" .. org.helse] = "Department: Helse og omsorg",
                                   ["/admin/users/" .. org.ansatt] = "Employee: Per Hansen" }) do
        status, html = page(srv, "GET", path .. "?lang=en", admin)
        assert.equals(200, status, path)
        assert.is_true(contains(html, "<h1>" .. heading .. "</h1>"), path)
      end
      status, html = page(srv, "GET", "/admin/departments?lang=nb", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Legg til en avdeling"))
    end)

    it("answers 404 for an employee or department that does not exist", function()
      assert.equals(404, (page(srv, "GET", "/admin/users/999999", admin)))
      assert.equals(404, (page(srv, "GET", "/admin/departments/999999", admin)))
      local _, csrf = form_page(srv, admin, "/admin/users")
      assert.equals(404, (page(srv, "POST", "/admin/departments/999999/delete", admin,
        { { "csrf", csrf } })))
    end)

    it("refuses the adviser, the manager and the employee with 403, and changes nothing", function()
      local before_e, before_d = employee_count(srv), department_count(srv)
      for _, who in ipairs({ { "radgiver", "demo-pass-1" }, { "leder", "demo-pass-2" },
                             { "ansatt", "demo-pass-3" } }) do
        local cookie = web_login(srv, who[1], who[2])
        -- their own page works, so the refusal is about the admin's pages
        local _, csrf = form_page(srv, cookie, "/me/password")
        for _, path in ipairs({ "/admin/users", "/admin/departments",
                                "/admin/users/" .. org.ansatt,
                                "/admin/departments/" .. org.helse }) do
          local status, html = page(srv, "GET", path, cookie)
          assert.equals(403, status, who[1] .. " GET " .. path)
          assert.is_true(contains(html, "Du har ikke tilgang"))
        end
        -- and the navigation does not offer them
        local _, me = page(srv, "GET", "/me", cookie)
        assert.is_false(contains(me, 'href="/admin/users"'))
        assert.equals(403, (page(srv, "POST", "/admin/users", cookie,
          employee_fields(csrf, { login = "sneaky-" .. who[1] }))))
        assert.equals(403, (page(srv, "POST", "/admin/departments", cookie,
          dept_fields(csrf, "Snik " .. who[1], 1))))
        assert.equals(403, (page(srv, "POST", "/admin/departments/" .. org.skole .. "/delete",
          cookie, { { "csrf", csrf } })))
        assert.equals(403, (page(srv, "POST", "/admin/users/" .. org.ansatt, cookie,
          edit_fields(srv, csrf, org.ansatt, nil, { "admin" }))))
      end
      assert.equals(before_e, employee_count(srv))
      assert.equals(before_d, department_count(srv))
      assert.is_false(has(srv:expect(200, "GET", "/employees/" .. org.ansatt).roles, "admin"))
      srv:expect(200, "GET", "/departments/" .. org.skole)
    end)

    it("sends someone who is not logged in to the login page", function()
      local status, _, headers = page(srv, "GET", "/admin/users")
      assert.equals(303, status)
      assert.equals("/login?next=/admin/users", headers.location)
    end)
  end)

  describe("the users", function()
    it("searches by name, employee number and login", function()
      local status, html = page(srv, "GET", "/admin/users?q=Hansen", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Per Hansen"))
      assert.is_false(contains(html, "Kari Olsen"))
      assert.equals("Hansen", input_value(html, "q"))
      status, html = page(srv, "GET", "/admin/users?q=radgiv", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Randi Gulbrandsen"))
      assert.is_false(contains(html, "Per Hansen"))
      local e = srv:expect(200, "GET", "/employees/" .. org.kari)
      status, html = page(srv, "GET", "/admin/users?q=" .. urlencode(e.employee_number), admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Kari Olsen"))
      assert.is_false(contains(html, "Randi Gulbrandsen"))
      status, html = page(srv, "GET", "/admin/users?q=%25", admin)
      assert.equals(200, status)   -- a literal %, not a wildcard
      assert.is_true(contains(html, "Ingen ansatte passer til «%»"))
    end)

    it("pages through many employees, 100 at a time", function()
      local tag = many()
      local status, html = page(srv, "GET", "/admin/users?q=" .. urlencode(tag), admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Viser 1–100 av 103 ansatte."))
      assert.is_true(contains(html, tag .. " 100"))
      assert.is_false(contains(html, tag .. " 101"))
      local next_link = html:match('<a href="([^"]+)" rel="next">')
      assert.equals("/admin/users?page=2&amp;q=" .. urlencode(tag), next_link)
      status, html = page(srv, "GET", "/admin/users?page=2&q=" .. urlencode(tag), admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Viser 101–103 av 103 ansatte."))
      assert.is_true(contains(html, tag .. " 103"))
      assert.is_false(contains(html, tag .. " 100<"))
      assert.is_truthy(html:find('rel="prev"', 1, true))
      assert.is_falsy(html:find('rel="next"', 1, true))
      -- a page past the end shows the last one
      status, html = page(srv, "GET", "/admin/users?page=99&q=" .. urlencode(tag), admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Viser 101–103 av 103 ansatte."))
    end)

    it("adds an employee with a login and a password that works", function()
      local _, csrf = form_page(srv, admin, "/admin/users")
      local login = H.unique("ny"):lower()
      local fields, t = employee_fields(csrf, { department_id = tostring(org.hjemme),
                                                login = login, password = "et-godt-passord" },
                                        { "adviser" })
      local status, _, headers = page(srv, "POST", "/admin/users", admin, fields)
      assert.equals(303, status)
      local id = tonumber(headers.location:match("^/admin/users/(%d+)%?done=created$"))
      assert.is_number(id)
      local e = srv:expect(200, "GET", "/employees/" .. id)
      assert.equals(t.employee_number, e.employee_number)
      assert.equals(t.name, e.name)
      assert.equals(t.email, e.email)
      assert.equals(org.hjemme, e.department_id)
      assert.equals(login, e.login)
      assert.same({ "employee", "adviser" }, e.roles)
      -- the page it leads to says so
      local html
      status, html = page(srv, "GET", headers.location, admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Den ansatte er lagt til."))
      assert.equals(t.name, input_value(html, "name"))
      -- the password works through the login form, and a wrong one does not
      local cookie = web_login(srv, login, "et-godt-passord")
      local me
      status, me = page(srv, "GET", "/me", cookie)
      assert.equals(200, status)
      assert.is_true(contains(me, t.name))
      assert.equals(401, (page(srv, "POST", "/login", nil,
        { { "login", login }, { "password", "et-galt-passord" } })))
    end)

    it("adds an employee without a login, who then cannot log in", function()
      local _, csrf = form_page(srv, admin, "/admin/users")
      local fields, t = employee_fields(csrf)
      local status, _, headers = page(srv, "POST", "/admin/users", admin, fields)
      assert.equals(303, status)
      local id = tonumber(headers.location:match("^/admin/users/(%d+)"))
      local e = srv:expect(200, "GET", "/employees/" .. id)
      assert.equals(t.name, e.name)
      assert.equals(H.null, e.login)
      assert.same({ "employee" }, e.roles)
    end)

    it("refuses a duplicate employee number next to its field, keeps what was typed, stores nothing", function()
      local before = employee_count(srv)
      local taken = srv:expect(200, "GET", "/employees/" .. org.kari).employee_number
      local _, csrf = form_page(srv, admin, "/admin/users")
      local login = H.unique("dup"):lower()
      local fields, t = employee_fields(csrf, { employee_number = taken, login = login,
                                                password = "passord-123",
                                                department_id = tostring(org.skole) },
                                        { "admin" })
      local status, html = page(srv, "POST", "/admin/users", admin, fields)
      assert.is_true(status == 409 or status == 422, "status " .. status)
      assert.equals("Dette ansattnummeret brukes allerede av en annen ansatt.",
        field_error(html, "employee_number"))
      assert.is_truthy(html:find('name="employee_number"[^>]-aria%-invalid="true"'))
      assert.is_nil(field_error(html, "name"))
      assert.equals(taken, input_value(html, "employee_number"))
      assert.equals(t.name, input_value(html, "name"))
      assert.equals(t.email, input_value(html, "email"))
      assert.equals(login, input_value(html, "login"))
      assert.equals("", input_value(html, "password"))   -- a password is never sent back
      assert.equals(tostring(org.skole), selected_value(html, "department_id"))
      assert.is_truthy(html:find('value="admin" checked', 1, true))
      assert.is_falsy(html:find('value="adviser" checked', 1, true))
      assert.is_true(contains(html, "Den ansatte ble ikke lagt til."))
      assert.equals(before, employee_count(srv))
      assert.equals(401, (page(srv, "POST", "/login", nil,
        { { "login", login }, { "password", "passord-123" } })))
    end)

    it("refuses a taken login, a bad e-mail, a short password and no department, storing nothing", function()
      local before = employee_count(srv)
      local _, csrf = form_page(srv, admin, "/admin/users")
      local cases = {
        { { login = "kari", password = "passord-123" }, "login",
          "Dette brukernavnet brukes allerede av en annen ansatt.", 409 },
        { { email = "ikke-en-adresse" }, "email",
          "Skriv inn en gyldig e-postadresse, for eksempel navn@kommune.no.", 422 },
        { { login = H.unique("kort"):lower(), password = "kort" }, "password",
          "Passordet må ha minst 8 og høyst 200 tegn.", 422 },
        { { department_id = "" }, "department_id", "Velg en avdeling.", 422 },
        { { name = "   " }, "name", "Skriv inn navnet (høyst 200 tegn).", 422 },
      }
      for _, c in ipairs(cases) do
        local fields = employee_fields(csrf, c[1])
        local status, html = page(srv, "POST", "/admin/users", admin, fields)
        assert.equals(c[4], status, c[2])
        assert.equals(c[3], field_error(html, c[2]))
      end
      -- text that is not UTF-8, sent raw (a browser never does): refused before any handler
      -- (web.c), and nothing stored
      local raw = encode_form(employee_fields(csrf)):gsub("&name=[^&]*", "&name=Ola%%FFNordmann")
      local sock = srv:connect()
      assert(sock:send(("POST /admin/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        .. "Cookie: evne_session=%s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        .. "Content-Length: %d\r\n\r\n%s"):format(admin, #raw, raw)))
      local resp = H.read_response(sock, "POST")
      sock:close()
      assert.equals(422, resp.status)
      assert.truthy(resp.body:find("ikke UTF-8", 1, true))
      for _, e in ipairs(srv:expect(200, "GET", "/employees").items) do
        assert.falsy(e.name:find("Nordmann", 1, true))
      end
      assert.equals(200, (page(srv, "GET", "/admin/users?q=%FF%FE", admin)))
      assert.equals(200, (page(srv, "GET", "/admin/departments?mq=%C3", admin)))
      local fields = employee_fields(csrf, nil, { "manager" })
      local status, html = page(srv, "POST", "/admin/users", admin, fields)
      assert.equals(422, status)
      assert.equals("Velg bare blant rollene i listen.", field_error(html, "roles"))
      assert.equals(before, employee_count(srv))
    end)

    it("changes roles, and the API shows them", function()
      local _, csrf = form_page(srv, admin, "/admin/users/" .. org.ansatt)
      local status, _, headers = page(srv, "POST", "/admin/users/" .. org.ansatt, admin,
        edit_fields(srv, csrf, org.ansatt, nil, { "adviser", "admin" }))
      assert.equals(303, status)
      assert.equals("/admin/users/" .. org.ansatt .. "?done=saved", headers.location)
      assert.same({ "employee", "adviser", "admin" },
        srv:expect(200, "GET", "/employees/" .. org.ansatt).roles)
      -- the change reaches the session the employee already has
      local cookie = web_login(srv, "ansatt", "demo-pass-3")
      assert.equals(200, (page(srv, "GET", "/admin/users", cookie)))
      status = page(srv, "POST", "/admin/users/" .. org.ansatt, admin,
        edit_fields(srv, csrf, org.ansatt, nil, {}))
      assert.equals(303, status)
      assert.same({ "employee" }, srv:expect(200, "GET", "/employees/" .. org.ansatt).roles)
      assert.equals(403, (page(srv, "GET", "/admin/users", cookie)))
      local html
      status, html = page(srv, "GET", "/admin/users/" .. org.ansatt .. "?done=saved", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Endringene er lagret."))
      assert.is_falsy(html:find('value="admin" checked', 1, true))
    end)

    it("keeps the manager role and shows what they manage", function()
      local _, html = page(srv, "GET", "/admin/users/" .. org.leder, admin)
      assert.is_true(contains(html, "Leder for: Helse og omsorg."))
      local csrf = csrf_in(html)
      local status = page(srv, "POST", "/admin/users/" .. org.leder, admin,
        edit_fields(srv, csrf, org.leder, { name = "Lene Dahl" }, { "adviser" }))
      assert.equals(303, status)
      local e = srv:expect(200, "GET", "/employees/" .. org.leder)
      assert.is_true(has(e.roles, "manager"))
      assert.is_true(has(e.roles, "adviser"))
      -- a manager role stored without a department (made through the API) is not dropped by a
      -- form that never showed it
      local id = srv:employee { department_id = org.skole, login = false, roles = { "manager" } }
      _, html = page(srv, "GET", "/admin/users/" .. id, admin)
      assert.is_false(contains(html, "Leder for:"))
      status = page(srv, "POST", "/admin/users/" .. id, admin,
        edit_fields(srv, csrf, id, { name = "Fortsatt Leder" }, {}))
      assert.equals(303, status)
      e = srv:expect(200, "GET", "/employees/" .. id)
      assert.equals("Fortsatt Leder", e.name)
      assert.same({ "employee", "manager" }, e.roles)
    end)

    it("edits name, e-mail, department, login and password", function()
      local id = srv:employee { department_id = org.skole, login = "endres",
                                password = "gammelt-pw" }
      local old = web_login(srv, "endres", "gammelt-pw")
      local _, csrf = form_page(srv, admin, "/admin/users/" .. id)
      local status = page(srv, "POST", "/admin/users/" .. id, admin,
        edit_fields(srv, csrf, id, { name = "Endret Navn", email = "endret@example.no",
                                     department_id = tostring(org.hjemme), login = "endret",
                                     password = "nytt-passord" }))
      assert.equals(303, status)
      local e = srv:expect(200, "GET", "/employees/" .. id)
      assert.equals("Endret Navn", e.name)
      assert.equals("endret@example.no", e.email)
      assert.equals(org.hjemme, e.department_id)
      assert.equals("endret", e.login)
      -- the new password works, the old session ended
      web_login(srv, "endret", "nytt-passord")
      local s, _, headers = page(srv, "GET", "/me", old)
      assert.equals(303, s)
      assert.is_truthy(headers.location:find("^/login"))
      -- an empty password field keeps the password
      status = page(srv, "POST", "/admin/users/" .. id, admin,
        edit_fields(srv, csrf, id, { name = "Endret Igjen" }))
      assert.equals(303, status)
      web_login(srv, "endret", "nytt-passord")
      -- archiving ends the login
      status = page(srv, "POST", "/admin/users/" .. id, admin,
        edit_fields(srv, csrf, id, { archived = "1" }))
      assert.equals(303, status)
      assert.is_true(srv:expect(200, "GET", "/employees/" .. id).archived)
      assert.equals(401, (page(srv, "POST", "/login", nil,
        { { "login", "endret" }, { "password", "nytt-passord" } })))
      local html
      status, html = page(srv, "GET", "/admin/users/" .. id, admin)
      assert.equals(200, status)
      assert.is_truthy(html:find('name="archived" value="1" checked', 1, true))
    end)

    it("refuses a clash on the edit form next to its field and changes nothing", function()
      local before = srv:expect(200, "GET", "/employees/" .. org.kari)
      local taken = srv:expect(200, "GET", "/employees/" .. org.ansatt).employee_number
      local _, csrf = form_page(srv, admin, "/admin/users/" .. org.kari)
      local status, html = page(srv, "POST", "/admin/users/" .. org.kari, admin,
        edit_fields(srv, csrf, org.kari, { employee_number = taken, name = "Kari Endret" }))
      assert.equals(409, status)
      assert.equals("Dette ansattnummeret brukes allerede av en annen ansatt.",
        field_error(html, "employee_number"))
      assert.equals("Kari Endret", input_value(html, "name"))
      assert.is_true(contains(html, "Endringene ble ikke lagret."))
      status, html = page(srv, "POST", "/admin/users/" .. org.kari, admin,
        edit_fields(srv, csrf, org.kari, { login = "radgiver", name = "Kari Endret" }))
      assert.equals(409, status)
      assert.equals("Dette brukernavnet brukes allerede av en annen ansatt.",
        field_error(html, "login"))
      assert.equals("radgiver", input_value(html, "login"))
      assert.same(before, srv:expect(200, "GET", "/employees/" .. org.kari))
    end)

    it("does not let the admin take away their own admin role or archive themselves", function()
      local _, csrf = form_page(srv, admin, "/admin/users/" .. srv.admin_id)
      local status, html = page(srv, "POST", "/admin/users/" .. srv.admin_id, admin,
        edit_fields(srv, csrf, srv.admin_id, nil, {}))
      assert.equals(422, status)
      assert.equals("Du kan ikke ta fra deg selv administratorrollen.", field_error(html, "roles"))
      status, html = page(srv, "POST", "/admin/users/" .. srv.admin_id, admin,
        edit_fields(srv, csrf, srv.admin_id, { archived = "1" }))
      assert.equals(422, status)
      assert.equals("Du kan ikke arkivere deg selv.", field_error(html, "archived"))
      local e = srv:expect(200, "GET", "/employees/" .. srv.admin_id)
      assert.is_true(has(e.roles, "admin"))
      assert.is_false(e.archived)
      assert.equals(200, (page(srv, "GET", "/admin/users", admin)))
    end)
  end)

  describe("the departments", function()
    it("adds a department under a parent with a manager, and renames it", function()
      local _, csrf = form_page(srv, admin, "/admin/departments")
      local status, _, headers = page(srv, "POST", "/admin/departments", admin,
        dept_fields(csrf, "Bråset bo- og behandlingssenter", org.helse, org.ansatt))
      assert.equals(303, status)
      local id = tonumber(headers.location:match("#d(%d+)$"))
      local d = srv:expect(200, "GET", "/departments/" .. id)
      assert.equals("Bråset bo- og behandlingssenter", d.name)
      assert.equals(org.helse, d.parent_id)
      assert.equals(org.ansatt, d.manager_id)
      local html
      status, html = page(srv, "GET", "/admin/departments?done=dept_created", admin)
      assert.equals(200, status)
      assert.is_true(contains(html, "Avdelingen er lagt til."))
      assert.is_true(contains(html, 'id="d' .. id .. '"'))
      status = page(srv, "POST", "/admin/departments/" .. id, admin,
        dept_fields(csrf, "Bråset", org.helse, ""))
      assert.equals(303, status)
      d = srv:expect(200, "GET", "/departments/" .. id)
      assert.equals("Bråset", d.name)
      assert.equals(H.null, d.manager_id)
      -- an empty department can go
      status, _, headers = page(srv, "POST", "/admin/departments/" .. id .. "/delete", admin,
        { { "csrf", csrf } })
      assert.equals(303, status)
      assert.equals("/admin/departments?done=dept_deleted", headers.location)
      srv:expect(404, "GET", "/departments/" .. id)
    end)

    it("refuses a department without a name, storing nothing", function()
      local before = department_count(srv)
      local _, csrf = form_page(srv, admin, "/admin/departments")
      local status, html = page(srv, "POST", "/admin/departments", admin,
        dept_fields(csrf, "", org.helse, org.kari))
      assert.equals(422, status)
      assert.equals("Skriv inn et navn på avdelingen (høyst 200 tegn).", field_error(html, "name"))
      assert.equals(tostring(org.helse), selected_value(html, "parent_id"))
      assert.equals(tostring(org.kari), selected_value(html, "manager_id"))
      assert.equals(before, department_count(srv))
    end)

    it("makes someone a manager, and their team pages open to them", function()
      local kari = web_login(srv, "kari", "demo-pass-4")
      local token = srv:login("kari", "demo-pass-4")
      assert.same({}, srv:expect(200, "GET", "/me", nil, token).managed_department_ids)
      local before = page(srv, "GET", "/team", kari)
      assert.is_true(before == 403 or before == 404, "GET /team before: " .. before)

      local html, csrf = form_page(srv, admin, "/admin/departments/" .. org.hjemme)
      -- she is among the choices, her own department's people first
      assert.is_truthy(html:find('<option value="' .. org.kari .. '">Kari Olsen', 1, true))
      local status = page(srv, "POST", "/admin/departments/" .. org.hjemme, admin,
        dept_fields(csrf, "Hjemmetjenesten", org.helse, org.kari))
      assert.equals(303, status)
      assert.equals(org.kari, srv:expect(200, "GET", "/departments/" .. org.hjemme).manager_id)
      assert.same({ org.hjemme }, srv:expect(200, "GET", "/me", nil, token).managed_department_ids)
      local after = page(srv, "GET", "/team", kari)
      if before == 404 then
        -- the team pages are not built yet: the API above is what shows the change
        assert.equals(404, after)
      else
        assert.equals(200, after)
      end
      local _, users = page(srv, "GET", "/admin/users?q=Kari", admin)
      assert.is_true(contains(users, "ansatt, leder"))
      local _, tree = page(srv, "GET", "/admin/departments", admin)
      assert.is_true(contains(tree, "leder: Kari Olsen"))
    end)

    it("offers the department's own people as managers, and others through a search", function()
      -- with over a hundred people the list holds the department's own
      many()
      local _, html = page(srv, "GET", "/admin/departments/" .. org.skole, admin)
      local select = html:match('<select[^>]-name="manager_id".-</select>')
      assert.is_truthy(select:find("Mange", 1, true))
      assert.is_falsy(select:find("Randi Gulbrandsen", 1, true))
      assert.is_true(contains(html, "Listen viser ikke alle"))
      _, html = page(srv, "GET", "/admin/departments/" .. org.skole .. "?mq=Randi", admin)
      select = html:match('<select[^>]-name="manager_id".-</select>')
      assert.is_truthy(select:find("Randi Gulbrandsen", 1, true))
      assert.is_falsy(select:find("Per Hansen", 1, true))
      assert.is_falsy(select:find("Mange", 1, true))
      assert.equals("Randi", input_value(html, "mq"))
    end)

    it("refuses a move that makes a cycle, next to the parent field, and changes nothing", function()
      local before = srv:expect(200, "GET", "/departments/" .. org.helse)
      local html, csrf = form_page(srv, admin, "/admin/departments/" .. org.helse)
      -- the form does not offer its own subtree
      local parents = html:match('<select[^>]-name="parent_id".-</select>')
      assert.is_falsy(parents:find('value="' .. org.hjemme .. '"', 1, true))
      assert.is_falsy(parents:find('value="' .. org.helse .. '"', 1, true))
      assert.is_truthy(parents:find('value="' .. org.skole .. '"', 1, true))
      -- a stale or crafted form is refused by the server
      for _, target in ipairs({ org.hjemme, org.helse }) do
        local status
        status, html = page(srv, "POST", "/admin/departments/" .. org.helse, admin,
          dept_fields(csrf, "Helse og omsorg (ny)", target, org.leder))
        assert.equals(422, status)
        assert.is_truthy(field_error(html, "parent_id"):find("kan ikke flyttes inn under seg selv", 1, true))
        assert.equals(tostring(target), selected_value(html, "parent_id"))
        assert.equals("Helse og omsorg (ny)", input_value(html, "name"))
      end
      assert.same(before, srv:expect(200, "GET", "/departments/" .. org.helse))
    end)

    it("refuses to delete a department with employees or sub-departments, saying why", function()
      local _, csrf = form_page(srv, admin, "/admin/departments/" .. org.hjemme)
      local status, html = page(srv, "POST", "/admin/departments/" .. org.hjemme .. "/delete",
        admin, { { "csrf", csrf } })
      assert.equals(409, status)
      assert.equals("Avdelingen kan ikke slettes fordi den har ansatte (også arkiverte). "
        .. "Flytt dem til en annen avdeling først.",
        html:match('id="delete%-error">([^<]*)<'))
      srv:expect(200, "GET", "/departments/" .. org.hjemme)
      -- a department whose only content is a sub-department
      local top = srv:department("Tom overavdeling", 1)
      local sub = srv:department("Tom underavdeling", top)
      status, html = page(srv, "POST", "/admin/departments/" .. top .. "/delete", admin,
        { { "csrf", csrf } })
      assert.equals(409, status)
      assert.is_true(contains(html, "fordi den har underavdelinger"))
      srv:expect(200, "GET", "/departments/" .. top)
      assert.equals(303, (page(srv, "POST", "/admin/departments/" .. sub .. "/delete", admin,
        { { "csrf", csrf } })))
      assert.equals(303, (page(srv, "POST", "/admin/departments/" .. top .. "/delete", admin,
        { { "csrf", csrf } })))
      srv:expect(404, "GET", "/departments/" .. top)
    end)
  end)

  describe("CSRF", function()
    it("refuses every admin form without the token or with a wrong one, and changes nothing", function()
      local before_e, before_d = employee_count(srv), department_count(srv)
      local before_skole = srv:expect(200, "GET", "/departments/" .. org.skole)
      local before_kari = srv:expect(200, "GET", "/employees/" .. org.kari)
      for _, token in ipairs({ false, string.rep("0", 32) }) do
        local function strip(fields)
          local out = {}
          for _, kv in ipairs(fields) do
            if kv[1] ~= "csrf" then out[#out + 1] = kv end
          end
          if token then out[#out + 1] = { "csrf", token } end
          return out
        end
        local status, html = page(srv, "POST", "/admin/users", admin,
          strip(employee_fields("x", { login = H.unique("csrf"):lower(), password = "passord-123" })))
        assert.equals(403, status)
        assert.is_true(contains(html, "Ingenting ble endret"))
        assert.equals(403, (page(srv, "POST", "/admin/users/" .. org.kari, admin,
          strip(edit_fields(srv, "x", org.kari, { name = "Hacket" }, { "admin" })))))
        assert.equals(403, (page(srv, "POST", "/admin/departments", admin,
          strip(dept_fields("x", "CSRF-avdeling", 1)))))
        assert.equals(403, (page(srv, "POST", "/admin/departments/" .. org.skole, admin,
          strip(dept_fields("x", "Hacket skole", 1, org.kari)))))
        assert.equals(403, (page(srv, "POST", "/admin/departments/" .. org.skole .. "/delete",
          admin, strip({}))))
      end
      assert.equals(before_e, employee_count(srv))
      assert.equals(before_d, department_count(srv))
      assert.same(before_skole, srv:expect(200, "GET", "/departments/" .. org.skole))
      assert.same(before_kari, srv:expect(200, "GET", "/employees/" .. org.kari))
    end)
  end)
end)
