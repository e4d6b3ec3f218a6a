-- gapmodel: DESIGN.md's gap semantics computed in plain Lua from what a test created, and the
-- checks that compare it with the server's answers. Independent of the server's code.
--
-- local model = require("gapmodel").new()
-- model.M.depts[id] = {name=, parent=}; model.M.emps[id] = {name=, dept=, archived=}
-- model.M.systems[id] = {name=, archived=}; model.M.reqs[id] = {system=, text=, archived=}
-- model.M.profiles[id] = {name=, system=, levels={[rid]=level}, archived=}
-- model.M.assigned[eid] = {pid, ...}; model.M.latest[eid] = {[rid]=level}
-- model.check_employee(srv, eid); model.check_rollup(srv, by, filters)
local H = require "harness"

local G = {}

function G.new()
  -- The classes come from the rules the server runs (EVNE_RULES/thresholds.lua).
  local thresholds = dofile(H.RULES .. "/thresholds.lua")

  -- ---------------------------------------------------------------------------------------------
  -- The model: what the test created, and the semantics computed from it.

  local M = {
    depts = {},       -- id -> {name, parent}
    emps = {},        -- id -> {name, dept, archived}
    systems = {},     -- id -> {name, archived}
    reqs = {},        -- id -> {system, text, archived}
    profiles = {},    -- id -> {name, system, levels = {rid -> level}, archived}
    assigned = {},    -- employee id -> {profile ids}
    latest = {},      -- employee id -> {rid -> level} (the most recent assessment, any source)
  }

  local function in_subtree(dept, top)
    for _ = 1, 100 do
      if dept == nil then return false end
      if dept == top then return true end
      dept = M.depts[dept].parent
    end
    error("department tree deeper than 100 or cyclic")
  end

  local function live_emps(scope)
    local out = {}
    for id, e in pairs(M.emps) do
      if not e.archived and (not scope or scope(id)) then out[#out + 1] = id end
    end
    table.sort(out)
    return out
  end

  local function live_reqs(system)
    local out = {}
    for id, r in pairs(M.reqs) do
      if not r.archived and (not system or r.system == system) then out[#out + 1] = id end
    end
    table.sort(out)
    return out
  end

  local function has_profile(e, p)
    for _, q in ipairs(M.assigned[e] or {}) do
      if q == p then return true end
    end
    return false
  end

  local function required(e, r)
    local best = 0
    if M.reqs[r].archived then return 0 end
    for _, p in ipairs(M.assigned[e] or {}) do
      local prof = M.profiles[p]
      if not prof.archived then
        best = math.max(best, prof.levels[r] or 0)
      end
    end
    return best
  end

  local function actual(e, r)
    local l = (M.latest[e] or {})[r]
    return l or 0, l == nil
  end

  -- A roll-up row over pairs; employees is counted by the caller's rule.
  local function new_row()
    return { demanded = 0, open_gaps = 0, unassessed = 0, gap_sum = 0, with_gaps = {},
             demanding = {} }
  end

  local function add_pair(row, e, r, req)
    if req <= 0 then return end
    local act, unassessed = actual(e, r)
    local gap = math.max(0, req - act)
    row.demanded = row.demanded + 1
    row.demanding[e] = true
    if gap > 0 then
      row.open_gaps = row.open_gaps + 1
      row.gap_sum = row.gap_sum + gap
      row.with_gaps[e] = true
    end
    if unassessed then row.unassessed = row.unassessed + 1 end
  end

  local function count(set)
    local n = 0
    for _ in pairs(set) do n = n + 1 end
    return n
  end

  local function finish(row, id, name, employees)
    local out = {
      id = id, name = name, demanded = row.demanded, open_gaps = row.open_gaps,
      unassessed = row.unassessed, gap_sum = row.gap_sum,
      employees_with_gaps = count(row.with_gaps),
      employees = employees or count(row.demanding),
      coverage = row.demanded == 0 and 1 or 1 - row.open_gaps / row.demanded,
    }
    return out
  end

  -- filters: department_id, system_id, profile_id (as in the query)
  local function scope_of(f)
    return function(e)
      if f.department_id and not in_subtree(M.emps[e].dept, f.department_id) then return false end
      if f.profile_id and not has_profile(e, f.profile_id) then return false end
      return true
    end
  end

  local function expected_rows(by, f)
    f = f or {}
    local scope = scope_of(f)
    local reqs = live_reqs(f.system_id)
    local rows = {}
    if by == "employee" then
      for _, e in ipairs(live_emps(scope)) do
        local row = new_row()
        for _, r in ipairs(reqs) do add_pair(row, e, r, required(e, r)) end
        rows[e] = finish(row, e, M.emps[e].name, 1)
      end
    elseif by == "department" then
      for d, dept in pairs(M.depts) do
        if not f.department_id or in_subtree(d, f.department_id) then
          local emps = live_emps(function(e)
            return in_subtree(M.emps[e].dept, d) and (not f.profile_id or has_profile(e, f.profile_id))
          end)
          local row = new_row()
          for _, e in ipairs(emps) do
            for _, r in ipairs(reqs) do add_pair(row, e, r, required(e, r)) end
          end
          rows[d] = finish(row, d, dept.name, #emps)
        end
      end
    elseif by == "profile" then
      for p, prof in pairs(M.profiles) do
        -- by=profile with profile_id: that profile's row only
        if not prof.archived and (not f.system_id or prof.system == f.system_id)
            and (not f.profile_id or p == f.profile_id) then
          local emps = live_emps(function(e) return scope(e) and has_profile(e, p) end)
          local row = new_row()
          for _, e in ipairs(emps) do
            for r, level in pairs(prof.levels) do
              if not M.reqs[r].archived then add_pair(row, e, r, level) end
            end
          end
          rows[p] = finish(row, p, prof.name, #emps)
        end
      end
    elseif by == "system" then
      for s, sys in pairs(M.systems) do
        if not sys.archived and (not f.system_id or s == f.system_id) then
          local row = new_row()
          for _, e in ipairs(live_emps(scope)) do
            for _, r in ipairs(live_reqs(s)) do add_pair(row, e, r, required(e, r)) end
          end
          rows[s] = finish(row, s, sys.name)
        end
      end
    elseif by == "requirement" then
      for _, r in ipairs(reqs) do
        local row = new_row()
        for _, e in ipairs(live_emps(scope)) do add_pair(row, e, r, required(e, r)) end
        rows[r] = finish(row, r, M.reqs[r].text)
      end
    end
    return rows
  end

  local FIELDS = { "employees", "employees_with_gaps", "demanded", "open_gaps", "unassessed",
                   "gap_sum" }

  local function compare_row(where, want, got)
    assert(type(got) == "table", where .. ": row missing")
    for _, f in ipairs(FIELDS) do
      assert(got[f] == want[f], ("%s: %s is %s, expected %s"):format(where, f, tostring(got[f]),
        tostring(want[f])))
    end
    assert(H.near(want.coverage, got.coverage),
      ("%s: coverage is %s, expected %.12g"):format(where, tostring(got.coverage), want.coverage))
    if want.name then
      assert(got.name == want.name, ("%s: name is %q, expected %q"):format(where,
        tostring(got.name), want.name))
    end
  end

  local function query(by, f)
    local parts = { "by=" .. by }
    for _, k in ipairs({ "department_id", "system_id", "profile_id" }) do
      if f and f[k] then parts[#parts + 1] = k .. "=" .. f[k] end
    end
    return "/gaps?" .. table.concat(parts, "&")
  end

  local function check_rollup(srv, by, f)
    local path = query(by, f)
    local items = srv:expect(200, "GET", path).items
    local want = expected_rows(by, f)
    local seen = {}
    for _, row in ipairs(items) do
      assert(want[row.id], ("%s: unexpected row id %s (%s)"):format(path, tostring(row.id),
        tostring(row.name)))
      assert(not seen[row.id], path .. ": row id " .. row.id .. " twice")
      seen[row.id] = true
      compare_row(("%s row %d"):format(path, row.id), want[row.id], row)
    end
    for id in pairs(want) do
      assert(seen[id], ("%s: row id %d missing"):format(path, id))
    end
  end

  local function check_employee(srv, e)
    local body = srv:expect(200, "GET", "/employees/" .. e .. "/gaps")
    local got = {}
    for _, it in ipairs(body.items) do
      assert(got[it.requirement_id] == nil, "requirement twice in the gaps of employee " .. e)
      got[it.requirement_id] = it
    end
    local n = 0
    for _, r in ipairs(live_reqs()) do
      local req = required(e, r)
      local where = ("employee %d requirement %d"):format(e, r)
      if req > 0 then
        n = n + 1
        local act, unassessed = actual(e, r)
        local g = got[r]
        assert(g, where .. ": demanded but missing from the gaps")
        assert(g.system_id == M.reqs[r].system, where .. ": system_id")
        assert(g.required == req, ("%s: required %s, expected %d"):format(where, tostring(g.required), req))
        assert(g.actual == act, ("%s: actual %s, expected %d"):format(where, tostring(g.actual), act))
        assert(g.gap == math.max(0, req - act), ("%s: gap %s, expected %d"):format(where,
          tostring(g.gap), math.max(0, req - act)))
        assert(g.unassessed == unassessed, where .. ": unassessed " .. tostring(g.unassessed))
        local class = thresholds.classify(req, act, { requirement_id = r, system_id = M.reqs[r].system })
        assert(g.class == class, ("%s: class %s, expected %s"):format(where, tostring(g.class), class))
      else
        assert(got[r] == nil, where .. ": not demanded but listed")
      end
    end
    assert(#body.items == n, ("employee %d: %d gap rows, expected %d"):format(e, #body.items, n))
    local want = expected_rows("employee")[e]
    compare_row("summary of employee " .. e, want, body.summary)
    assert(body.summary.id == e, "summary id")
  end

  -- ---------------------------------------------------------------------------------------------

  return {
    M = M, in_subtree = in_subtree, live_emps = live_emps, live_reqs = live_reqs,
    required = required, actual = actual, expected_rows = expected_rows, query = query,
    check_rollup = check_rollup, check_employee = check_employee,
  }
end

return G
