-- The example effective-level policy (rules/examples/effective_level.lua: "an appraisal or a
-- test outranks a self-assessment for 12 months"), activated the way an adviser does it: copied
-- into a rules folder beside thresholds.lua, and run in the server's sandbox.
-- Calls a policy through the server's own sandbox: `evne rules-eval DIR FILE FUNCTION JSON_ARGS`
-- (core/rules_cli.c), so that what passes here passes in the server. Returns the decoded answer,
-- or nil and the error.
local json = require("dkjson")
local BIN = os.getenv("EVNE_BIN") or "build/evne"
local RULES = os.getenv("EVNE_RULES") or "rules"

local function q(s)
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end

local function run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__rc=$?\""))
  local out = f:read("*a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return (out:gsub("__rc=%d+%s*$", "")), rc
end

local function eval(dir, file, fn, args)
  local out, rc = run(table.concat({ BIN, "rules-eval", q(dir), q(file), q(fn),
                                     q(json.encode(args)) }, " "))
  if rc ~= 0 then
    return nil, out
  end
  local answer, _, err = json.decode(out)
  if err then
    return nil, err .. ": " .. out
  end
  return answer
end

-- Is `evne rules-eval` there? (core/main.c must register it)
local probe = run(BIN .. " rules-eval " .. q(RULES) .. " thresholds.lua classify '[3, 1]'")
local available = probe:match('^"major"') ~= nil

local DAY = 24 * 60 * 60
local YEAR = 365 * DAY
local NOW = 1800000000
local ctx = { employee_id = 5, requirement_id = 17, system_id = 1, system = "Gerica",
              requirement = "Skrive journal", now = NOW }

local function a(level, source, days_ago)
  return { level = level, source = source, recorded_at = NOW - days_ago * DAY, recorded_by = 9 }
end

if not available then
  pending("rules/examples/effective_level.lua through the sandbox: " .. BIN .. " has no "
          .. "`rules-eval` command yet (core/main.c registers it)")
  return
end

describe("examples/effective_level.lua", function()
  local dir

  setup(function()
    dir = run("mktemp -d"):gsub("%s+$", "")
    assert(run("cp " .. q(RULES .. "/thresholds.lua") .. " "
               .. q(RULES .. "/examples/effective_level.lua") .. " " .. q(dir)))
  end)

  teardown(function()
    run("rm -r " .. q(dir))
  end)

  local function effective(list)
    local answer, err = eval(dir, "effective_level.lua", "effective", { list, ctx })
    assert(err == nil, err)
    return answer
  end

  it("loads beside thresholds.lua and passes check-rules", function()
    local out, rc = run(BIN .. " check-rules " .. q(dir))
    assert.are.equal(0, rc, out)
  end)

  it("answers nothing for a requirement never assessed", function()
    assert.is_nil(effective({}))
  end)

  it("counts the newest of self-assessments", function()
    assert.are.equal(1, effective({ a(3, "self", 100), a(1, "self", 10) }))
  end)

  it("keeps an appraisal or a test over a newer self-assessment for 12 months", function()
    assert.are.equal(2, effective({ a(2, "appraisal", 300), a(4, "self", 10) }))
    assert.are.equal(1, effective({ a(1, "test", 364), a(4, "self", 10) }))
  end)

  it("lets the newest count again after 12 months", function()
    local list = { a(1, "test", 365), a(4, "self", 10) }
    assert.are.equal(4, effective(list))
    list[1].recorded_at = NOW - YEAR + 1
    assert.are.equal(1, effective(list))
  end)

  it("counts a newer appraisal, test or course result over an older one", function()
    assert.are.equal(3, effective({ a(2, "appraisal", 200), a(3, "test", 100), a(4, "self", 5) }))
    assert.are.equal(4, effective({ a(2, "appraisal", 200), a(4, "course", 100), a(1, "self", 5) }))
  end)

  it("counts a self-assessment made before the appraisal only if it is the newest", function()
    assert.are.equal(2, effective({ a(4, "self", 300), a(2, "appraisal", 200) }))
  end)
end)
