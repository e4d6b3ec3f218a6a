-- The rules' life in a running server: hot reload on a save (also by rename, also of a library
-- in lib/), a broken edit keeping the running rules, the admin API (status, reload, preview),
-- and reloads under load without a failed request.
local H = require("harness")
local P = require("pagekit")

local function write_file(path, text)
  -- an editor's save: write a temporary file, then rename it over the old one
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
end

local function read_file(path)
  local f = assert(io.open(path))
  local s = f:read("*a")
  f:close()
  return s
end

local function sleep(s) os.execute("sleep " .. s) end

local SHIPPED = read_file((os.getenv("EVNE_RULES") or "rules") .. "/thresholds.lua")

-- every gap of 1 or more is "serious"; nothing else changes
local STRICT = [[
return {
  classes = { "ok", "serious" },
  classify = function(required, actual)
    if required - actual >= 1 then return "serious" end
    return "ok"
  end,
}
]]

local BROKEN = "return { classify = function(required, actual) return 'ok' \n"

describe("rules", function()
  local srv, dir, emp

  setup(function()
    local f = assert(io.popen("mktemp -d /tmp/evne-rules.XXXXXX"))
    dir = f:read("*l")
    f:close()
    os.execute(("cp -R %s/. %s/"):format(os.getenv("EVNE_RULES") or "rules", dir))
    srv = H.start({ args = { "--rules", dir } })
    local dept = srv:department("Regelavdelingen")
    local sys = srv:system("Regelsystem")
    local req = srv:requirement(sys, "Bruke regelsystemet")
    local prof = srv:profile("Regelprofil", sys, { [tostring(req)] = 3 })
    emp = srv:employee({ department_id = dept })
    srv:assign(emp, { prof })
    srv:assess(emp, "course", { [tostring(req)] = 1 })
  end)

  teardown(function()
    if srv then srv:cleanup() end
    if dir then os.execute("rm -rf " .. dir) end
  end)

  local function class_now()
    local gaps = srv:expect(200, "GET", "/employees/" .. emp .. "/gaps")
    return gaps.items[1].class
  end

  -- waits (bounded) until the class of the one cell is `want`
  local function wait_class(want)
    for _ = 1, 40 do
      if class_now() == want then return true end
      sleep(0.1)
    end
    return class_now() == want
  end

  it("classifies with the shipped rules to begin with", function()
    assert.equal("major", class_now())
    local st = srv:expect(200, "GET", "/admin/rules")
    assert.is_true(st.last_attempt.ok)
    assert.equal(dir, st.dir)
  end)

  it("reloads by itself when a file is saved by rename", function()
    write_file(dir .. "/thresholds.lua", STRICT)
    assert.is_true(wait_class("serious"))
    local st = srv:expect(200, "GET", "/admin/rules")
    assert.is_true(st.last_attempt.ok)
    assert.is_true(st.reloads >= 1)
  end)

  it("keeps the running rules when an edit is broken, and says where", function()
    write_file(dir .. "/thresholds.lua", BROKEN)
    local st
    for _ = 1, 40 do
      st = srv:expect(200, "GET", "/admin/rules")
      if st.last_attempt.ok == false then break end
      sleep(0.1)
    end
    assert.is_false(st.last_attempt.ok)
    assert.matches("thresholds.lua:%d+:", st.last_attempt.error)
    assert.equal("serious", class_now())
    -- the admin's reload says the same, with 422
    local status, body = srv:api("POST", "/admin/rules/reload")
    assert.equal(422, status)
    assert.equal("rules_invalid", body.error.code)
    assert.matches("thresholds.lua:%d+:", body.error.message)
    assert.equal("serious", class_now())
  end)

  it("previews a candidate without swapping it in", function()
    write_file(dir .. "/thresholds.lua", SHIPPED)
    assert.equal(200, (srv:api("POST", "/admin/rules/reload")))
    assert.equal("major", class_now())
    local preview = srv:expect(200, "POST", "/admin/rules/preview",
      { file = "thresholds.lua", source = STRICT })
    assert.equal(1, preview.before.major)
    assert.is_nil(preview.before.serious)
    assert.equal(1, preview.after.serious)
    assert.is_nil(preview.after.major)
    assert.equal("major", class_now())
    local status, body = srv:api("POST", "/admin/rules/preview",
      { file = "thresholds.lua", source = BROKEN })
    H.check_error(status, body, 422, "rules_invalid", "source")
    assert.matches("thresholds.lua:%d+:", body.error.message)
  end)

  it("follows an effective-level policy when one is added, and the newest again without it", function()
    local dept = srv:department("Vurderingsavdelingen")
    local sys = srv:system("Vurderingssystem")
    local req = srv:requirement(sys, "Vurdere")
    local prof = srv:profile("Vurderingsprofil", sys, { [tostring(req)] = 4 })
    local login = H.unique("vurdert")
    local id = srv:employee({ department_id = dept, login = login, password = "passord-123" })
    srv:assign(id, { prof })
    local own = srv:login(login, "passord-123")
    local function actual()
      return srv:expect(200, "GET", "/employees/" .. id .. "/gaps").items[1].actual
    end
    srv:assess(id, "appraisal", { [tostring(req)] = 3 })
    sleep(1.1)   -- a later second, so the self-assessment is the newest
    srv:assess(id, "self", { [tostring(req)] = 1 }, own)
    assert.equal(1, actual())                      -- the newest counts
    local policy = read_file((os.getenv("EVNE_RULES") or "rules") .. "/examples/effective_level.lua")
    write_file(dir .. "/effective_level.lua", policy)
    assert.equal(200, (srv:api("POST", "/admin/rules/reload")))
    assert.equal(3, actual())                      -- the recent appraisal outranks the self
    srv:assess(id, "self", { [tostring(req)] = 2 }, own)
    assert.equal(3, actual())                      -- and goes on doing so for new writes
    assert.is_true(os.remove(dir .. "/effective_level.lua"))
    assert.equal(200, (srv:api("POST", "/admin/rules/reload")))
    assert.equal(2, actual())                      -- without the policy: the newest again
    -- a preview of the policy shows the gap it would close, and changes nothing
    local preview = srv:expect(200, "POST", "/admin/rules/preview",
      { file = "effective_level.lua", source = policy })
    assert.equal(preview.before.gap_sum - 1, preview.after.gap_sum)
    assert.equal(preview.before.demanded, preview.after.demanded)
    assert.equal(2, actual())
  end)

  it("reloads when a library changes, and keeps the running rules when one breaks", function()
    local path = dir .. "/lib/report_format.lua"
    local original = read_file(path)
    local function organisation()
      local status, _, raw = srv:api("GET", "/reports/organisation?period=2026-12&format=html")
      assert.equal(200, status)
      return raw
    end
    local function sha256_of(file)
      local f = assert(io.popen("sha256sum " .. file))
      local sum = f:read("*l"):match("^(%x+)")
      f:close()
      return sum
    end
    local function listed(st)
      for _, p in ipairs(st.policies) do
        if p.name == "lib/report_format.lua" then return p.sha256 end
      end
    end
    local function wait_for(fn)
      for _ = 1, 40 do
        if fn() then return true end
        sleep(0.1)
      end
      return fn()
    end
    assert.truthy(organisation():find("desember 2026", 1, true))
    local before = srv:expect(200, "GET", "/admin/rules")
    assert.equal(sha256_of(path), listed(before))

    -- the layouts' month names live in the library: saving it is enough (a month that none of
    -- the layouts' examples shows, so that they still pass)
    write_file(path, (original:gsub('"desember"', '"DESEMBER"')))
    assert.is_true(wait_for(function() return organisation():find("DESEMBER 2026", 1, true) end))
    local st = srv:expect(200, "GET", "/admin/rules")
    assert.is_true(st.last_attempt.ok)
    assert.equal(sha256_of(path), listed(st))
    assert.are_not.equal(listed(before), listed(st))

    -- a broken library: the reload names its file and line, and the layouts keep the last good one
    write_file(path, "local broken = nil .. 'x'\n" .. original)
    assert.is_true(wait_for(function()
      return srv:expect(200, "GET", "/admin/rules").last_attempt.ok == false
    end))
    st = srv:expect(200, "GET", "/admin/rules")
    assert.matches("lib/report_format.lua:1: attempt to concatenate a nil value", st.last_attempt.error,
                   1, true)
    assert.truthy(organisation():find("DESEMBER 2026", 1, true))

    write_file(path, original)
    assert.is_true(wait_for(function() return organisation():find("desember 2026", 1, true) end))
    assert.equal(sha256_of(path), listed(srv:expect(200, "GET", "/admin/rules")))
  end)

  it("refuses rules whose own examples fail, keeping the running ones", function()
    -- the adviser's own example says a gap of 2 is "ok"; the rule says otherwise
    write_file(dir .. "/thresholds.lua", [[
return {
  classes = { "ok", "serious" },
  classify = function(required, actual)
    if required - actual >= 1 then return "serious" end
    return "ok"
  end,
  examples = { { required = 3, actual = 1, expect = "ok" } },
}
]])
    local status, body = srv:api("POST", "/admin/rules/reload")
    assert.equal(422, status)
    assert.matches("example 1 failed", body.error.message)
    assert.equal("major", class_now())
    write_file(dir .. "/thresholds.lua", SHIPPED)
    assert.equal(200, (srv:api("POST", "/admin/rules/reload")))
  end)

  it("has an admin page: what runs, a reload button and a preview", function()
    write_file(dir .. "/thresholds.lua", SHIPPED)
    local cookie = P.login(srv, srv.admin_login, srv.admin_password)
    local status, html = P.page(srv, cookie, "GET", "/admin/rules")
    assert.equal(200, status)
    local f = assert(io.popen("sha256sum " .. dir .. "/thresholds.lua"))
    local sum = f:read("*l"):match("^(%x+)")
    f:close()
    assert.matches("<td>thresholds.lua</td><td><code>" .. sum .. "</code></td>", html, 1, true)
    assert.matches("<td>matching.lua</td>", html, 1, true)
    local csrf = P.csrf_of(html)
    assert.equal(403, (P.page(srv, cookie, "POST", "/admin/rules/reload", {})))
    local s2, _, headers = P.page(srv, cookie, "POST", "/admin/rules/reload", { { "csrf", csrf } })
    assert.equal(303, s2)
    assert.equal("/admin/rules?done=reloaded", headers["location"])
    local s3, shown = P.page(srv, cookie, "POST", "/admin/rules/preview",
      { { "csrf", csrf }, { "source", STRICT } })
    assert.equal(200, s3)
    assert.matches('<tr><td>serious</td><td class="num">0</td><td class="num">%d+</td></tr>', shown)
    local s4, refused = P.page(srv, cookie, "POST", "/admin/rules/preview",
      { { "csrf", csrf }, { "source", BROKEN } })
    assert.equal(422, s4)
    assert.matches("thresholds.lua:%d+:", refused)
    assert.equal("major", class_now())
  end)

  it("is for admins only", function()
    local dept = srv:department("Andre")
    local login = H.unique("vanlig")
    local id = srv:employee({ department_id = dept, login = login, password = "passord-123",
                              roles = { "employee", "adviser" } })
    assert.is_number(id)
    local token = srv:login(login, "passord-123")
    assert.equal(403, (srv:api("GET", "/admin/rules", nil, token)))
    local cookie = P.login(srv, login, "passord-123")
    assert.equal(403, (P.page(srv, cookie, "GET", "/admin/rules")))
    assert.equal(403, (srv:api("POST", "/admin/rules/reload", nil, token)))
  end)

  it("fails no request while rules are reloaded 20 times, some broken", function()
    local n = 1500
    local out = dir .. "/load.txt"
    -- a client hammering the gaps endpoint from another process, bounded in count and time
    local cmd = ("(for i in $(seq 1 %d); do curl -s -m 5 -o /dev/null -w '%%{http_code}\\n' "
      .. "-H 'Authorization: Bearer %s' http://127.0.0.1:%d/api/v1/employees/%d/gaps; done > %s; "
      .. "echo done >> %s) &"):format(n, srv.admin_token, srv.port, emp, out, out)
    os.execute(cmd)
    for i = 1, 20 do
      write_file(dir .. "/thresholds.lua", i % 3 == 0 and BROKEN or (i % 2 == 0 and STRICT or SHIPPED))
      srv:api("POST", "/admin/rules/reload")
      sleep(0.05)
    end
    local text
    for _ = 1, 600 do
      text = read_file(out)
      if text:find("done") then break end
      sleep(0.1)
    end
    assert.matches("done", text)
    local ok, other = 0, {}
    for line in text:gmatch("[^\n]+") do
      if line == "200" then ok = ok + 1 elseif line ~= "done" then other[#other + 1] = line end
    end
    assert.same({}, other)
    assert.equal(n, ok)
    write_file(dir .. "/thresholds.lua", SHIPPED)
  end)
end)
