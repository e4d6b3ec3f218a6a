-- The example effective-level policy (rules/examples/effective_level.lua: "an appraisal or a
-- test outranks a self-assessment for 12 months"), activated the way an adviser does it: copied
-- into a rules folder beside thresholds.lua, and run in the server's sandbox.
local S = require("sandbox")
local BIN, RULES, q, run, eval = S.BIN, S.RULES, S.q, S.run, S.eval

local DAY = 24 * 60 * 60
local YEAR = 365 * DAY
local NOW = 1800000000
local ctx = { employee_id = 5, requirement_id = 17, system_id = 1, system = "Gerica",
              requirement = "Skrive journal", now = NOW }

local function a(level, source, days_ago)
  return { level = level, source = source, recorded_at = NOW - days_ago * DAY, recorded_by = 9 }
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
