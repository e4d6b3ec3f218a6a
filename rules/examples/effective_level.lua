-- effective_level.lua: which assessment counts when sources disagree.
--
-- NOT ACTIVE HERE. This file is an example. Without an effective_level.lua in the rules folder,
-- evne counts the newest assessment of each requirement, whatever its source. To use this
-- policy instead, copy the file into the rules folder (next to thresholds.lua), check it with
-- `evne check-rules`, and reload the rules. To go back, delete the copy.
--
-- The rule of this example: an appraisal or a test outranks a self-assessment for 12 months.
-- While an employee has an appraisal (medarbeidersamtale) or a test of a requirement from the
-- last 12 months, a self-assessment made after it does not change the level; the newest
-- appraisal, test or course result counts. After 12 months the newest assessment of any kind
-- counts again.
--
-- evne calls effective(assessments, ctx) for one employee and one requirement:
--   assessments  the employee's assessments of the requirement, oldest first, each
--                { level = 0-4, source = "self" | "course" | "appraisal" | "test",
--                  recorded_at = unix time, recorded_by = the id of the user who recorded it }
--   ctx          { employee_id, requirement_id, system_id, system, requirement, now }
-- and effective answers the level that counts (0-4), or nil when none does (the requirement then
-- shows as not assessed). evne asks again for every pair when the rules are reloaded.

local YEAR = 365 * 24 * 60 * 60

local effective_level = {}

function effective_level.effective(assessments, ctx)
  local newest = assessments[#assessments]
  if newest == nil then
    return nil                        -- never assessed
  end

  -- Is there an appraisal or a test from the last 12 months?
  local checked_recently = false
  for _, a in ipairs(assessments) do
    if (a.source == "appraisal" or a.source == "test") and ctx.now - a.recorded_at < YEAR then
      checked_recently = true
    end
  end
  if not checked_recently then
    return newest.level               -- the newest counts, whatever its source
  end

  -- The newest assessment that is not a self-assessment counts.
  for i = #assessments, 1, -1 do
    if assessments[i].source ~= "self" then
      return assessments[i].level
    end
  end
end

-- Examples: `evne check-rules` calls effective with args and compares the answer with expect
-- (no expect: the answer must be nil).
local DAY = 24 * 60 * 60
local now = 1800000000
local ctx = { employee_id = 5, requirement_id = 17, system_id = 1, system = "Gerica",
              requirement = "Skrive journal", now = now }

effective_level.examples = {
  {
    name = "never assessed: no level",
    args = { {}, ctx },
  },
  {
    name = "self-assessments only: the newest counts",
    args = { { { level = 1, source = "self", recorded_at = now - 400 * DAY, recorded_by = 5 },
               { level = 3, source = "self", recorded_at = now - 10 * DAY, recorded_by = 5 } },
             ctx },
    expect = 3,
  },
  {
    name = "an appraisal 2 months ago outranks a newer self-assessment",
    args = { { { level = 2, source = "appraisal", recorded_at = now - 60 * DAY, recorded_by = 9 },
               { level = 4, source = "self", recorded_at = now - 5 * DAY, recorded_by = 5 } },
             ctx },
    expect = 2,
  },
  {
    name = "a test 13 months ago no longer does",
    args = { { { level = 2, source = "test", recorded_at = now - 395 * DAY, recorded_by = 9 },
               { level = 4, source = "self", recorded_at = now - 5 * DAY, recorded_by = 5 } },
             ctx },
    expect = 4,
  },
  {
    name = "a course result after the appraisal counts",
    args = { { { level = 2, source = "appraisal", recorded_at = now - 90 * DAY, recorded_by = 9 },
               { level = 3, source = "course", recorded_at = now - 30 * DAY, recorded_by = 9 },
               { level = 4, source = "self", recorded_at = now - 5 * DAY, recorded_by = 5 } },
             ctx },
    expect = 3,
  },
}

return effective_level
