-- The shipped matching policy (rules/matching.lua), run in the server's sandbox.
local S = require("sandbox")
local RULES, eval = S.RULES, S.eval

local function match(employee, gaps, courses)
  return eval(RULES, "matching.lua", "match", { employee, gaps, courses })
end

local employee = { id = 5, name = "Per Hansen", department_id = 3, profiles = { 1 } }

local function gap(id, required, actual, text)
  return { requirement_id = id, system_id = 1, system = "Gerica", requirement = text or ("K" .. id),
           required = required, actual = actual, gap = math.max(0, required - actual),
           class = required - actual >= 2 and "major" or required > actual and "minor" or "ok" }
end

local function course(id, covers, fields)
  local c = { id = id, title = "Kurs " .. id, system_id = 1, prerequisites = {}, completed = false,
              requirements = {}, sessions = {} }
  for requirement_id, target in pairs(covers) do
    c.requirements[#c.requirements + 1] = { requirement_id = requirement_id, target_level = target }
  end
  for k, v in pairs(fields or {}) do
    c[k] = v
  end
  return c
end

local function ids(proposals)
  local out = {}
  for i, p in ipairs(proposals) do
    out[i] = p.course
  end
  return out
end


describe("matching.lua", function()
  it("proposes nothing without open gaps", function()
    local proposals = assert(match(employee, { gap(1, 2, 2), gap(2, 1, 3) },
                                   { course(1, { [1] = 4, [2] = 4 }) }))
    assert.are.same({}, proposals)
  end)

  it("proposes a course that brings a gap up to the required level", function()
    local proposals = assert(match(employee, { gap(1, 3, 1, "Skrive journal") },
                                   { course(1, { [1] = 3 }) }))
    assert.are.same({ { course = 1, priority = 2,
                        reason = "Tetter kompetansegap på 2 nivåer: Gerica: Skrive journal" } },
                    proposals)
  end)

  it("leaves out a course that only narrows every gap", function()
    assert.are.same({}, assert(match(employee, { gap(1, 3, 1) }, { course(1, { [1] = 2 }) })))
  end)

  it("ranks by the gap closed, counting what a course narrows as well", function()
    local gaps = { gap(1, 3, 1), gap(2, 4, 1), gap(3, 2, 0) }
    local proposals = assert(match(employee, gaps, {
      course(1, { [1] = 3 }),                 -- closes 2
      course(2, { [2] = 4, [3] = 1 }),        -- closes 3, narrows 1: 4
      course(3, { [3] = 2, [1] = 2 }),        -- closes 2, narrows 1: 3
    }))
    assert.are.same({ 2, 3, 1 }, ids(proposals))
    assert.are.same({ 4, 3, 2 }, { proposals[1].priority, proposals[2].priority,
                                   proposals[3].priority })
  end)

  it("orders equal priorities by course id", function()
    local proposals = assert(match(employee, { gap(1, 2, 1) },
                                   { course(9, { [1] = 2 }), course(4, { [1] = 3 }) }))
    assert.are.same({ 4, 9 }, ids(proposals))
  end)

  it("skips completed courses", function()
    local proposals = assert(match(employee, { gap(1, 2, 0) },
                                   { course(1, { [1] = 2 }, { completed = true }),
                                     course(2, { [1] = 2 }) }))
    assert.are.same({ 2 }, ids(proposals))
  end)

  it("waits for every prerequisite to be completed", function()
    local courses = { course(1, {}), course(2, {}), course(3, { [1] = 3 }, { prerequisites = { 1, 2 } }) }
    assert.are.same({}, assert(match(employee, { gap(1, 3, 0) }, courses)))
    courses[1].completed = true
    assert.are.same({}, assert(match(employee, { gap(1, 3, 0) }, courses)))
    courses[2].completed = true
    assert.are.same({ 3 }, ids(assert(match(employee, { gap(1, 3, 0) }, courses))))
  end)

  it("takes a series one step at a time", function()
    local courses = {
      course(1, { [1] = 2 }, { series = "Gerica", series_order = 1 }),
      course(2, { [1] = 4 }, { series = "Gerica", series_order = 2 }),
      course(3, { [1] = 4 }, { series = "Excel", series_order = 2 }),
    }
    assert.are.same({ 1, 3 }, ids(assert(match(employee, { gap(1, 2, 0) }, courses))))
    courses[1].completed = true
    assert.are.same({ 2, 3 }, ids(assert(match(employee, { gap(1, 2, 0) }, courses))))
  end)

  it("proposes the earliest session with a free place, or none", function()
    local sessions = {
      { id = 11, starts_at = 1800000300, capacity = 10, free = 4 },
      { id = 12, starts_at = 1800000100, capacity = 10, free = 0 },
      { id = 13, starts_at = 1800000200, capacity = 10, free = 1 },
    }
    local proposals = assert(match(employee, { gap(1, 2, 0) },
                                   { course(1, { [1] = 2 }, { sessions = sessions }) }))
    assert.are.equal(13, proposals[1].session)
    sessions[1].free, sessions[3].free = 0, 0
    proposals = assert(match(employee, { gap(1, 2, 0) },
                             { course(1, { [1] = 2 }, { sessions = sessions }) }))
    assert.is_nil(proposals[1].session)
  end)

  it("names a requirement by number when its text is not given", function()
    local g = gap(17, 1, 0)
    g.requirement, g.system = nil, nil
    local proposals = assert(match(employee, { g }, { course(1, { [17] = 1 }) }))
    assert.are.equal("Tetter kompetansegap på 1 nivå: krav 17", proposals[1].reason)
  end)
end)
