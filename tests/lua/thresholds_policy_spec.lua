-- The shipped thresholds policy (rules/thresholds.lua) in the server's sandbox, cell by cell,
-- and `evne check-rules` on the shipped folder (which runs every policy's examples).
local S = require("sandbox")
local BIN, RULES, q, run, eval = S.BIN, S.RULES, S.q, S.run, S.eval

describe("the shipped rules folder", function()
  it("passes check-rules, examples included", function()
    local out, rc = run(BIN .. " check-rules " .. q(RULES))
    assert.are.equal(0, rc, out)
  end)
end)


-- expected[required + 1][actual + 1], written out as in thresholds_spec.lua
local expected = {
  { "ok",    "ok",    "ok",    "ok",    "ok" },
  { "minor", "ok",    "ok",    "ok",    "ok" },
  { "major", "minor", "ok",    "ok",    "ok" },
  { "major", "major", "minor", "ok",    "ok" },
  { "major", "major", "major", "minor", "ok" },
}

describe("thresholds.lua in the sandbox", function()
  for required = 0, 4 do
    for actual = 0, 4 do
      local want = expected[required + 1][actual + 1]
      it(("classifies required %d, actual %d as %s"):format(required, actual, want), function()
        local ctx = { requirement_id = 17, system_id = 3, system = "Gerica", requirement = "Besøk" }
        local class, err = eval(RULES, "thresholds.lua", "classify", { required, actual, ctx })
        assert(err == nil, err)
        assert.are.equal(want, class)
      end)
    end
  end
end)
