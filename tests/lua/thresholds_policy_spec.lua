-- The shipped thresholds policy (rules/thresholds.lua) in the server's sandbox, cell by cell,
-- and `evne check-rules` on the shipped folder (which runs every policy's examples).
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

describe("the shipped rules folder", function()
  it("passes check-rules, examples included", function()
    local out, rc = run(BIN .. " check-rules " .. q(RULES))
    assert.are.equal(0, rc, out)
  end)
end)

if not available then
  pending("rules/thresholds.lua through the sandbox: " .. BIN .. " has no `rules-eval` command "
          .. "yet (core/main.c registers it)")
  return
end

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
