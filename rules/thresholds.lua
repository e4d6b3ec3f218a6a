-- thresholds.lua: how serious is a gap?
--
-- For every requirement, evne asks classify() about each pair of levels from 0 to 4:
--   required  the level the requirement asks for
--   actual    the level the employee has
-- classify answers with the name of a class. Reports count and colour gaps by class.
--
-- You may change the numbers and the names below. Check your change with `evne check-rules`,
-- which also runs the examples at the end of this file. A broken change is refused with the
-- file, the line and the reason, and the rules that were running stay in force.

local thresholds = {}

-- Every class classify may answer, in the order pages show them (least serious first).
-- A name that is not in this list is an error (this catches typing mistakes).
thresholds.classes = { "ok", "minor", "major" }

-- ctx tells which requirement is asked about (ctx.requirement_id, ctx.system_id, ctx.system,
-- ctx.requirement), should some systems ever need other limits. This policy does not use it.
function thresholds.classify(required, actual, ctx) -- luacheck: no unused args
  local gap = required - actual

  if gap <= 0 then
    return "ok"      -- the employee meets the requirement, or does better
  elseif gap == 1 then
    return "minor"   -- one level short
  else
    return "major"   -- two levels or more short
  end
end

-- Examples: `evne check-rules` asks classify(required, actual) and compares with expect.
-- Change them along with the rule, so that they say what the rule is meant to do.
thresholds.examples = {
  { required = 3, actual = 3, expect = "ok" },
  { required = 2, actual = 4, expect = "ok" },      -- doing better than required
  { required = 3, actual = 2, expect = "minor" },
  { required = 3, actual = 1, expect = "major" },
  { required = 4, actual = 0, expect = "major" },
}

return thresholds
