-- What the specs that send mail share: a real SMTP server (smtp_server.py, on Debian's
-- python3-aiosmtpd) on a loopback port, which writes each message it receives into a folder, and
-- those messages read back, parsed by Python's email package.
--
-- local MK = require "mailkit"
-- local dir = H.mktemp_dir("evne-mail")
-- local smtp = MK.start(H.free_port(), dir)          -- returns once it listens
-- local srv = H.start({ args = MK.serve_args(smtp.port, "evne@example.no") })
-- MK.received(dir) (the .eml files, oldest first), MK.parse(file), MK.messages(dir)
-- MK.stop(smtp); H.remove_dir(dir)
local H = require "harness"
local socket = require "socket"

local M = {}

local q = H.shell_quote
local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "tests/e2e/"
M.SMTP = HERE .. "smtp_server.py"
-- Debian's python3 has aiosmtpd; another python3 earlier on the PATH may not.
M.PY = io.open("/usr/bin/python3") and "/usr/bin/python3" or "python3"

local starts = 0

-- Starts smtp_server.py on port, writing what it receives to dir/mail (its log: dir/smtp.log),
-- and waits until it listens. opts: reject = "550 ..." (answers every mail so), stall = true
-- (takes the connection and never answers), starttls = {cert = FILE, key = FILE}. Returns
-- {pid, port} for M.stop.
function M.start(port, dir, opts)
  opts = opts or {}
  starts = starts + 1
  local ready = ("%s/smtp.ready.%d"):format(dir, starts) -- new each time: a restart waits anew
  local args = { q(M.SMTP), "serve", "--port", port, "--dir", q(dir .. "/mail"),
                 "--ready", q(ready) }
  if opts.reject then args[#args + 1] = "--reject " .. q(opts.reject) end
  if opts.stall then args[#args + 1] = "--stall" end
  if opts.starttls then
    args[#args + 1] = ("--starttls %s %s"):format(q(opts.starttls.cert), q(opts.starttls.key))
  end
  local f = assert(io.popen(("%s %s >>%s 2>&1 </dev/null & echo $!"):format(
    M.PY, table.concat(args, " "), q(dir .. "/smtp.log"))))
  local pid = tonumber(f:read("*l"))
  f:close()
  assert(pid, "could not start smtp_server.py")
  H.wait_for("the SMTP server to listen", 10, function() return H.read_file(ready) end)
  return { pid = pid, port = port }
end

local function port_refuses(port)
  local s = socket.tcp()
  s:settimeout(0.5)
  local ok = s:connect("127.0.0.1", port)
  s:close()
  return not ok
end

-- Takes the server down: SIGTERM, then SIGKILL if it lingers; waits until the port refuses.
function M.stop(s)
  if not s then return end
  os.execute(("kill -TERM %d 2>/dev/null"):format(s.pid))
  local deadline = socket.gettime() + 5
  while not port_refuses(s.port) and socket.gettime() < deadline do socket.sleep(0.05) end
  os.execute(("kill -KILL %d 2>/dev/null"):format(s.pid))
  H.wait_for("the SMTP server to go down", 5, function() return port_refuses(s.port) end)
end

-- The arguments of `evne serve` that send mail to the server on port, in plain text, from the
-- address `from`; the list `more` is added at the end.
function M.serve_args(port, from, more)
  local args = { "--smtp-host", "127.0.0.1", "--smtp-port", tostring(port), "--smtp-tls", "none",
                 "--mail-from", from }
  for _, a in ipairs(more or {}) do args[#args + 1] = a end
  return args
end

-- The .eml files received in dir so far, oldest first.
function M.received(dir)
  local out = H.run("ls -1 " .. q(dir .. "/mail") .. " 2>/dev/null")
  local files = {}
  for name in out:gmatch("[^\n]+") do
    if name:match("%.eml$") then files[#files + 1] = dir .. "/mail/" .. name end
  end
  table.sort(files)
  return files
end

-- One received message, parsed: {headers (lower-case names), parts, content_type, defects, ...}
-- as smtp_server.py's `parse` gives it, with file, raw (its bytes) and envelope (the SMTP
-- envelope: mail_from, rcpt_tos, tls).
function M.parse(file)
  local out, rc = H.run(("%s %s parse %s"):format(M.PY, q(M.SMTP), q(file)))
  assert(rc == 0, "smtp_server.py parse failed: " .. out)
  local m = H.decode(out)
  assert(type(m) == "table", "parse gave no JSON: " .. out)
  m.file, m.raw = file, H.read_file(file)
  m.envelope = H.decode(H.read_file((file:gsub("%.eml$", ".json"))))
  return m
end

-- Every message received in dir so far, parsed, oldest first.
function M.messages(dir)
  local list = {}
  for _, file in ipairs(M.received(dir)) do list[#list + 1] = M.parse(file) end
  return list
end

-- The part of a parsed message with the content type, or nil.
function M.part(m, content_type)
  for _, p in ipairs(m.parts) do
    if p.content_type == content_type then return p end
  end
end

-- The outbox row a message was sent from (its Message-ID names it), or nil.
function M.outbox_id(m)
  return tonumber((m.headers["message-id"] or ""):match("^<evne%.outbox%.(%d+)%.%d+@"))
end

return M
