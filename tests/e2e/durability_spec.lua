-- Durability: a write that was answered survives kill -9; SIGTERM shuts down cleanly.
local H = require "harness"
local socket = require "socket"

describe("durability", function()
  local srv, emp, reqs

  setup(function()
    srv = H.start()
    local admin = srv:expect(200, "GET", "/employees/" .. srv.admin_id)
    emp = srv:employee({ department_id = admin.department_id, login = false })
    local sys = srv:system("Varig")
    reqs = {}
    for i = 1, 3 do reqs[i] = srv:requirement(sys, "krav " .. i, i) end
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  local sent = {}     -- note -> {level, requirement} of every write sent
  local answered = {} -- note -> assessment id of every write answered 201

  local function body_for(i, round)
    local note = ("r%d-w%d"):format(round, i)
    local rid, level = reqs[i % 3 + 1], i % 5
    sent[note] = { level = level, requirement = rid }
    return note, { source = "test", levels = H.levels({ [rid] = level }), note = note }
  end

  -- Writes in steps of `width` requests, each on its own connection, all sent before any answer
  -- is read, so that several writes are in flight at once. Right after sending the writes of
  -- step kill_at + 1 (before reading their answers) the server gets SIGKILL.
  local function write_then_kill(round, steps, width, kill_at)
    local path = "/api/v1/employees/" .. emp .. "/assessments"
    local n_answered, seq = 0, 0
    for step = 1, steps do
      local socks, notes = {}, {}
      for k = 1, width do
        seq = seq + 1
        local note, body = body_for(seq, round)
        local sock = srv:connect()
        assert(sock:send(H.build_request("POST", path, body, srv.admin_token, { "Connection: close" })))
        socks[k], notes[k] = sock, note
      end
      if step == kill_at + 1 then srv:signal("KILL") end
      for k = 1, width do
        local r = H.read_response(socks[k], "POST")
        socks[k]:close()
        if r and r.status == 201 then
          answered[notes[k]] = H.decode(r.body).items[1].id
          n_answered = n_answered + 1
        elseif step <= kill_at then
          error(("write %s answered %s before the kill: %s"):format(notes[k],
            tostring(r and r.status), tostring(r and r.body)))
        end
      end
      if step == kill_at + 1 then break end
    end
    return n_answered
  end

  local function check_all_answered_present()
    local hist = srv:history(emp)
    local by_note = {}
    for _, it in ipairs(hist) do
      if it.note then
        assert.is_nil(by_note[it.note], "assessment stored twice: " .. tostring(it.note))
        by_note[it.note] = it
      end
    end
    local missing = {}
    for note, id in pairs(answered) do
      local it = by_note[note]
      if not it then
        missing[#missing + 1] = note
      else
        assert.equal(id, it.id, note)
        assert.equal(sent[note].level, it.level, note)
        assert.equal(sent[note].requirement, it.requirement_id, note)
      end
    end
    table.sort(missing)
    assert(#missing == 0, ("%d answered writes lost after kill -9: %s"):format(#missing,
      table.concat(missing, ", ")))
    for note in pairs(by_note) do
      assert(sent[note], "an assessment nobody sent: " .. note)
    end
    return #hist
  end

  it("keeps every answered write across kill -9 (three times, with writes in flight)", function()
    local total = 0
    for round = 1, 3 do
      local width = round == 1 and 1 or 4
      local steps = math.floor(200 / width)
      local kill_at = math.random(math.floor(steps / 10), steps - 2)
      local n = write_then_kill(round, steps, width, kill_at)
      total = total + n
      assert.is_true(n >= kill_at * width, ("round %d: only %d of %d writes answered"):format(
        round, n, kill_at * width))
      local rc = srv:wait_exit(10)
      assert.equal(128 + 9, rc, "the server was not killed by SIGKILL")
      srv:restart()
      local stored = check_all_answered_present()
      assert.is_true(stored >= total, ("%d stored, %d answered"):format(stored, total))
    end
  end)

  it("writes after recovery and stores them", function()
    local note, body = body_for(1, 4)
    local d = srv:expect(201, "POST", "/employees/" .. emp .. "/assessments", body)
    answered[note] = d.items[1].id
    check_all_answered_present()
  end)

  it("answers a request in flight before it stops on SIGTERM", function()
    -- logging in hashes a password off the loop, so the answer is still on its way at SIGTERM
    local sock = srv:connect()
    assert(sock:send(H.build_request("POST", "/api/v1/session",
      { login = srv.admin_login, password = srv.admin_password }, nil, { "Connection: close" })))
    srv:signal("TERM")
    local r, err = H.read_response(sock, "POST")
    sock:close()
    assert(r, "no answer to the request in flight: " .. tostring(err))
    assert.equal(201, r.status)
    assert.equal(0, srv:wait_exit(10))
    local ok = pcall(srv.connect, srv, 1)
    assert.is_false(ok, "still accepting connections after stopping")
    srv:launch()
  end)

  it("shuts down on SIGTERM with exit code 0 and opens the database again", function()
    -- an idle keep-alive connection must not hold the shutdown up
    local idle = srv:connect()
    assert(idle:send(H.build_request("GET", "/healthz")))
    assert.equal(200, assert(H.read_response(idle, "GET")).status)
    local count = #srv:history(emp)
    local t0 = socket.gettime()
    local rc = srv:stop(10)
    idle:close()
    assert.equal(0, rc, "exit code after SIGTERM\n" .. H.tail(srv.log, 15))
    assert.is_true(socket.gettime() - t0 < 10)
    srv:launch()
    assert.equal(count, #srv:history(emp))
    check_all_answered_present()
    assert.equal(0, srv:stop(10))
    local out, code = H.run(("sqlite3 %s 'PRAGMA integrity_check;'"):format(H.shell_quote(srv.db)))
    assert.equal(0, code, out)
    assert.equal("ok", out:match("^%s*(.-)%s*$"))
  end)
end)
