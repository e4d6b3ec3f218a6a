-- Calls a policy through the server's own sandbox: `evne rules-eval DIR FILE FUNCTION JSON_ARGS`
-- (core/rules_cli.c), so that what passes in the policy specs passes in the server.
-- The specs need the built binary (EVNE_BIN, default build/evne); without it they fail.
local json = require("dkjson")

local S = {
  BIN = os.getenv("EVNE_BIN") or "build/evne",
  RULES = os.getenv("EVNE_RULES") or "rules",
}

function S.q(s)
  return "'" .. (tostring(s):gsub("'", "'\\''")) .. "'"
end

-- Runs a shell command; returns its output (stdout and stderr) and exit status.
function S.run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1; echo \"__rc=$?\""))
  local out = f:read("*a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return (out:gsub("__rc=%d+%s*$", "")), rc
end

-- The decoded answer of FUNCTION in FILE of the rules folder DIR, or nil and the error.
function S.eval(dir, file, fn, args)
  local out, rc = S.run(table.concat({ S.BIN, "rules-eval", S.q(dir), S.q(file), S.q(fn),
                                       S.q(json.encode(args)) }, " "))
  if rc ~= 0 then
    return nil, out
  end
  local answer, _, err = json.decode(out)
  if err then
    return nil, err .. ": " .. out
  end
  return answer
end

-- The binary must be there and know rules-eval: a spec that cannot run the sandbox fails.
local probe = S.run(S.BIN .. " rules-eval " .. S.q(S.RULES) .. " thresholds.lua classify '[3, 1]'")
assert(probe:match('^"major"'), S.BIN .. " rules-eval does not answer (build it: make all): " .. probe)

return S
