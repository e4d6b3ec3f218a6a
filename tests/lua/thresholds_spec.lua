-- The default policy (rules/thresholds.lua), cell by cell.
local thresholds = require("thresholds")

-- expected[required + 1][actual + 1]; written out, not computed, so it checks the rule.
local expected = {
  --  actual: 0        1        2        3        4
  { "ok",    "ok",    "ok",    "ok",    "ok" },   -- required 0
  { "minor", "ok",    "ok",    "ok",    "ok" },   -- required 1
  { "major", "minor", "ok",    "ok",    "ok" },   -- required 2
  { "major", "major", "minor", "ok",    "ok" },   -- required 3
  { "major", "major", "major", "minor", "ok" },   -- required 4
}

local ctx = { requirement_id = 17, system_id = 3, system = "Gerica", requirement = "Registers a visit" }

describe("thresholds.lua", function()
  for required = 0, 4 do
    for actual = 0, 4 do
      local want = expected[required + 1][actual + 1]
      it(("classifies required %d, actual %d as %s"):format(required, actual, want), function()
        assert.are.equal(want, thresholds.classify(required, actual, ctx))
      end)
    end
  end

  it("lists its classes in display order", function()
    assert.are.same({ "ok", "minor", "major" }, thresholds.classes)
  end)

  it("answers only with listed classes", function()
    local listed = {}
    for _, name in ipairs(thresholds.classes) do listed[name] = true end
    for required = 0, 4 do
      for actual = 0, 4 do
        assert.is_true(listed[thresholds.classify(required, actual, ctx)] == true)
      end
    end
  end)
end)
