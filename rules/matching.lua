-- matching.lua: which courses to propose to an employee for their open gaps.
--
-- evne calls match(employee, gaps, courses) for one employee and shows what it returns as
-- course proposals, in the order returned. docs/rules.md describes every field.
--   employee  { id, name, department_id, profiles = { profile ids } }
--   gaps      the employee's open gaps: { requirement_id, system_id, requirement, system,
--             required, actual, gap, class }, ...
--   courses   the catalogue: { id, title, system_id, series, series_order,
--             prerequisites = { course ids }, completed = true/false,
--             requirements = { { requirement_id, target_level }, ... },
--             sessions = { { id, starts_at, capacity, free }, ... } }, ...
-- match returns a list of proposals { course = id, session = id or nil, reason = text,
-- priority = number }; {} when no course fits.
--
-- This policy proposes a course when
--   * the employee has not completed it,
--   * every course it lists as a prerequisite is completed, and so is every earlier course of
--     its series (a series is taken one step at a time),
--   * it brings at least one open gap all the way up to the required level.
-- It ranks the courses by how much gap they close: for every open gap the course covers,
-- min(target level, required level) - actual level, added up. The session proposed is the
-- earliest one with free places (none when no session has a free place).
--
-- Check a change with `evne check-rules`, which also runs the examples at the end of the file.

local matching = {}

-- Has the employee completed every course in ids? (by_id: the courses by their id)
local function all_completed(ids, by_id)
  for _, id in ipairs(ids or {}) do
    local course = by_id[id]
    if not (course and course.completed) then
      return false
    end
  end
  return true
end

-- Is every earlier course of the same series completed?
local function earlier_in_series_completed(course, courses)
  if course.series == nil then
    return true
  end
  for _, other in ipairs(courses) do
    if other.series == course.series and (other.series_order or 0) < (course.series_order or 0)
        and not other.completed then
      return false
    end
  end
  return true
end

-- The earliest session with a free place, or nil.
local function first_free_session(course)
  local best
  for _, session in ipairs(course.sessions or {}) do
    if session.free > 0 and (best == nil or session.starts_at < best.starts_at) then
      best = session
    end
  end
  return best and best.id
end

-- "Gerica: Registrere besøk" for a gap, or "krav 17" when evne gave no names.
local function describe(gap)
  local text = gap.requirement or ("krav " .. gap.requirement_id)
  if gap.system then
    text = gap.system .. ": " .. text
  end
  return text
end

function matching.match(employee, gaps, courses) -- luacheck: no unused args
  local open = {}                  -- the open gaps, by requirement
  for _, gap in ipairs(gaps) do
    if gap.gap > 0 then
      open[gap.requirement_id] = gap
    end
  end
  local by_id = {}
  for _, course in ipairs(courses) do
    by_id[course.id] = course
  end

  local proposals = {}
  for _, course in ipairs(courses) do
    if not course.completed and all_completed(course.prerequisites, by_id)
        and earlier_in_series_completed(course, courses) then
      local closed, reaches, names = 0, false, {}
      for _, covered in ipairs(course.requirements or {}) do
        local gap = open[covered.requirement_id]
        if gap and covered.target_level > gap.actual then
          closed = closed + math.min(covered.target_level, gap.required) - gap.actual
          reaches = reaches or covered.target_level >= gap.required
          names[#names + 1] = describe(gap)
        end
      end
      if reaches then
        proposals[#proposals + 1] = {
          course = course.id,
          session = first_free_session(course),
          reason = ("Tetter kompetansegap på %d %s: %s"):format(
            closed, closed == 1 and "nivå" or "nivåer", table.concat(names, "; ")),
          priority = closed,
        }
      end
    end
  end

  -- the most gap closed first; equal ones by course id, so the order never changes by chance
  table.sort(proposals, function(a, b)
    if a.priority ~= b.priority then
      return a.priority > b.priority
    end
    return a.course < b.course
  end)
  return proposals
end

-- Examples: `evne check-rules` calls match with args and compares the answer with expect.
local employee = { id = 5, name = "Per Hansen", department_id = 3, profiles = { 1 } }
local gaps = {
  { requirement_id = 11, system_id = 1, system = "Gerica", requirement = "Skrive journal",
    required = 3, actual = 1, gap = 2, class = "major" },
  { requirement_id = 12, system_id = 1, system = "Gerica", requirement = "Lese journal",
    required = 2, actual = 1, gap = 1, class = "minor" },
}
local day = 24 * 60 * 60

matching.examples = {
  {
    name = "the course that closes most comes first, with its earliest free session",
    args = { employee, gaps, {
      { id = 1, title = "Gerica grunnkurs", system_id = 1, prerequisites = {}, completed = false,
        requirements = { { requirement_id = 12, target_level = 2 } },
        sessions = { { id = 10, starts_at = 1800000000, capacity = 12, free = 3 } } },
      { id = 2, title = "Gerica journal", system_id = 1, prerequisites = {}, completed = false,
        requirements = { { requirement_id = 11, target_level = 3 },
                         { requirement_id = 12, target_level = 3 } },
        sessions = { { id = 21, starts_at = 1800000000 + 14 * day, capacity = 10, free = 0 },
                     { id = 22, starts_at = 1800000000 + 28 * day, capacity = 10, free = 2 },
                     { id = 20, starts_at = 1800000000 + 21 * day, capacity = 10, free = 1 } } },
    } },
    expect = {
      { course = 2, session = 20, priority = 3,
        reason = "Tetter kompetansegap på 3 nivåer: Gerica: Skrive journal; Gerica: Lese journal" },
      { course = 1, session = 10, priority = 1,
        reason = "Tetter kompetansegap på 1 nivå: Gerica: Lese journal" },
    },
  },
  {
    name = "completed courses, missing prerequisites and later steps of a series are left out",
    args = { employee, gaps, {
      { id = 1, title = "Gerica grunnkurs", system_id = 1, prerequisites = {}, completed = true,
        requirements = { { requirement_id = 12, target_level = 2 } }, sessions = {} },
      { id = 2, title = "Gerica videregående", system_id = 1, prerequisites = { 3 },
        completed = false, requirements = { { requirement_id = 11, target_level = 3 } },
        sessions = {} },
      { id = 3, title = "Gerica for ledere", system_id = 1, prerequisites = {}, completed = false,
        requirements = {}, sessions = {} },
      { id = 4, title = "Journal, del 1", system_id = 1, series = "journal", series_order = 1,
        prerequisites = {}, completed = false,
        requirements = { { requirement_id = 12, target_level = 1 } }, sessions = {} },
      { id = 5, title = "Journal, del 2", system_id = 1, series = "journal", series_order = 2,
        prerequisites = {}, completed = false,
        requirements = { { requirement_id = 11, target_level = 4 } }, sessions = {} },
    } },
    expect = {},
  },
  {
    name = "a course that only narrows a gap is not proposed; no free session gives none",
    args = { employee, gaps, {
      { id = 7, title = "Gerica kort", system_id = 1, prerequisites = {}, completed = false,
        requirements = { { requirement_id = 11, target_level = 2 } },
        sessions = { { id = 70, starts_at = 1800000000, capacity = 8, free = 0 } } },
      { id = 8, title = "Gerica lang", system_id = 1, prerequisites = {}, completed = false,
        requirements = { { requirement_id = 11, target_level = 4 } },
        sessions = { { id = 80, starts_at = 1800000000, capacity = 8, free = 0 } } },
    } },
    expect = {
      { course = 8, priority = 2,
        reason = "Tetter kompetansegap på 2 nivåer: Gerica: Skrive journal" },
    },
  },
}

return matching
