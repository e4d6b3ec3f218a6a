-- Backups over the real binary: `evne backup` while a server takes writes from a client in a
-- loop (the copy passes quick_check and holds every write answered before it began; the worst
-- request latency meanwhile is printed, not asserted: tests do not time), `evne restore` into a
-- new server that answers the same gaps, the refusals of restore (a running server, a newer
-- schema, a file that is no database), a database of a newer schema refused by serve (upgrades),
-- and the schedule's job "backup" with the test clock, keeping N copies.
local H = require "harness"
local P = require "pagekit"
local socket = require "socket"

local q = H.shell_quote

local sqlite = H.sql

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Every roll-up and every employee's gaps, as the API answers them.
local function gaps_of(srv)
  local out = {}
  for _, by in ipairs({ "employee", "department", "profile", "system", "requirement" }) do
    out[by] = srv:expect(200, "GET", "/gaps?by=" .. by).items
  end
  out.each = {}
  for _, e in ipairs(srv:expect(200, "GET", "/employees").items) do
    out.each[e.id] = srv:expect(200, "GET", "/employees/" .. e.id .. "/gaps")
  end
  return out
end

-- A second server on a database restored from copy (a folder of its own).
local function restored_server(copy)
  local srv2 = H.start()
  srv2:stop()
  for _, s in ipairs({ "", "-wal", "-shm" }) do os.remove(srv2.db .. s) end
  local out, rc = H.run(("%s restore --from %s --db %s"):format(q(H.BIN), q(copy), q(srv2.db)))
  assert(rc == 0, "evne restore: " .. out)
  srv2.admin_login, srv2.admin_password = "admin", P.DEMO_PASSWORD
  srv2.passwords = { admin = P.DEMO_PASSWORD }
  srv2:launch()
  return srv2, out
end

describe("backups", function()
  local srv, ansatt, ansatt_token, req_ids

  -- Writes one self-assessment; returns its id and how long the request took (seconds).
  local function write(level)
    local levels = {}
    for _, r in ipairs(req_ids) do levels[r] = level end
    local t0 = socket.gettime()
    local status, body = srv:api("POST", "/employees/" .. ansatt .. "/assessments",
      { source = "self", levels = H.levels(levels) }, ansatt_token)
    local dt = socket.gettime() - t0
    assert(status == 201, "write answered " .. tostring(status))
    return body.items[1].id, dt
  end

  setup(function()
    srv = P.demo_server()
    local me
    ansatt_token, me = srv:login("ansatt", P.DEMO_PASSWORD)
    ansatt = me.employee_id
    req_ids = {}
    for _, g in ipairs(srv:expect(200, "GET", "/employees/" .. ansatt .. "/gaps").items) do
      req_ids[#req_ids + 1] = g.requirement_id
      if #req_ids == 3 then break end
    end
    assert(#req_ids > 0, "ansatt has no demanded requirements")
    -- Some tens of megabytes of sent mail, so that a copy takes long enough for writes to
    -- happen during it (the outbox is not audited, so plain SQL may write it).
    sqlite(srv.db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) "
      .. "INSERT INTO outbox (kind, to_addr, subject, body, state, next_attempt_at, created_at, "
      .. "sent_at) SELECT 'fill', 'fyll@example.no', 'fyll', hex(randomblob(2000)), 'sent', 0, 0, 0 "
      .. "FROM n")
  end)

  teardown(function()
    srv:cleanup()
  end)

  it("copies a database that a server is writing to, holding every write answered before", function()
    local before, calm = {}, 0
    for i = 1, 60 do
      local id, dt = write(i % 5)
      before[#before + 1] = id
      if dt > calm then calm = dt end
    end
    local copy = srv.dir .. "/copy-under-load.db"
    local rcfile = srv.dir .. "/backup.rc"
    local outfile = srv.dir .. "/backup.out"
    os.remove(rcfile)
    -- the backup in the background; the writes in the foreground until it has finished
    os.execute(("(%s backup --db %s --to %s >%s 2>&1; echo $? >%s.tmp; mv %s.tmp %s) &"):format(
      q(H.BIN), q(srv.db), q(copy), q(outfile), q(rcfile), q(rcfile), q(rcfile)))
    local during, worst, n = {}, 0, 0
    local deadline = socket.gettime() + 120
    while not exists(rcfile) do
      local id, dt = write(n % 5)
      during[#during + 1] = id
      n = n + 1
      if dt > worst then worst = dt end
      assert(socket.gettime() < deadline, "evne backup did not finish in 120 s")
    end
    local rc = tonumber(H.read_file(rcfile):match("%d+"))
    local out = H.read_file(outfile)
    assert.equal(0, rc, out)
    assert.matches("quick_check ok", out)
    print(("\n  backup under load: %d writes answered while `evne backup` ran, the slowest in "
      .. "%.1f ms (of the 60 before it, without a backup: %.1f ms); %s"):format(n, worst * 1000,
      calm * 1000, (out:gsub("%s+$", ""))))
    assert.is_true(n > 0, "no write happened during the backup")

    assert.equal("ok", sqlite(copy, "PRAGMA quick_check"))
    assert.equal("delete", sqlite(copy, "PRAGMA journal_mode"))
    local held = sqlite(copy, "SELECT count(*) FROM assessment WHERE id IN ("
      .. table.concat(before, ",") .. ")")
    assert.equal(tostring(#before), held)
    -- no temporary file left beside it
    local ls = H.run("ls " .. q(srv.dir))
    assert.is_nil(ls:find("copy-under-load.db.tmp", 1, true))
    -- and the server went on: every write is there
    local hist = srv:history(ansatt, ansatt_token)
    local ids = {}
    for _, a in ipairs(hist) do ids[a.id] = true end
    for _, id in ipairs(during) do assert.is_true(ids[id]) end
  end)

  it("restores into a new server that answers the same gaps", function()
    local copy = srv.dir .. "/quiet.db"
    local out, rc = H.run(("%s backup --db %s --to %s"):format(q(H.BIN), q(srv.db), q(copy)))
    assert.equal(0, rc, out)
    local srv2, said = restored_server(copy)
    local ok, err = pcall(function()
      assert.matches("restored", said)
      assert.same(gaps_of(srv), gaps_of(srv2))
      -- the restored server takes writes and answers them like the original
      local hist1 = srv:history(ansatt, ansatt_token)
      local hist2 = srv2:history(ansatt, srv2:login("ansatt", P.DEMO_PASSWORD))
      assert.equal(#hist1, #hist2)
      assert.equal(hist1[1].id, hist2[1].id)
    end)
    srv2:cleanup()
    assert(ok, err)
  end)

  it("refuses to restore over a database a running server uses, and leaves it as it was", function()
    local copy = srv.dir .. "/quiet.db"
    local count = sqlite(srv.db, "SELECT count(*) FROM assessment")
    local out, rc = H.run(("%s restore --from %s --db %s"):format(q(H.BIN), q(copy), q(srv.db)))
    assert.equal(1, rc)
    assert.matches("running evne serve", out)
    assert.matches("nothing was changed", out)
    assert.is_false(exists(srv.db .. ".before-restore"))
    assert.is_false(exists(srv.db .. ".restoring"))
    assert.equal(count, sqlite(srv.db, "SELECT count(*) FROM assessment"))
    assert.equal(200, (srv:request("GET", "/healthz")))
  end)

  it("refuses a copy of a newer schema, and a file that is no database", function()
    local newer = srv.dir .. "/newer.db"
    local out, rc = H.run(("cp %s %s && sqlite3 %s 'PRAGMA user_version = 99'"):format(
      q(srv.dir .. "/quiet.db"), q(newer), q(newer)))
    assert.equal(0, rc, out)
    local target = srv.dir .. "/target.db"
    out, rc = H.run(("%s restore --from %s --db %s"):format(q(H.BIN), q(newer), q(target)))
    assert.equal(1, rc)
    assert.matches("schema version 99, newer than this evne", out)
    assert.is_false(exists(target))
    local junk = srv.dir .. "/junk.db"
    local f = assert(io.open(junk, "wb"))
    f:write(("no database here\n"):rep(400))
    f:close()
    out, rc = H.run(("%s restore --from %s --db %s"):format(q(H.BIN), q(junk), q(target)))
    assert.equal(1, rc)
    assert.matches("not a database", out)
    assert.is_false(exists(target))
  end)

  it("upgrades: serve refuses a database of a newer schema, saying so", function()
    local newer = srv.dir .. "/newer.db"
    local out, rc = H.run(("%s serve --db %s --port 0 --rules %s"):format(q(H.BIN), q(newer),
      q(H.RULES)))
    assert.are_not.equal(0, rc)
    assert.matches("schema version 99 is newer than this evne understands", out)
    assert.equal("99", sqlite(newer, "PRAGMA user_version"))   -- and left as it was
  end)
end)

describe("the scheduled backup", function()
  -- Thursday 26 November 2026 10:20 in Oslo.
  local START = 1795684800
  local srv, dir

  setup(function()
    local tmp = H.start()   -- only for a folder and a database made by init
    tmp:stop()
    dir = tmp.dir .. "/backups"
    os.execute("mkdir " .. q(dir))
    local schedule = tmp.dir .. "/schedule.txt"
    local f = assert(io.open(schedule, "w"))
    f:write("backup daily 02:30\n")
    f:close()
    srv = tmp
    srv.opts.args = { "--clock", tostring(START), "--schedule", schedule, "--backup-dir", dir,
                      "--backup-keep", "2" }
    srv:launch()
  end)

  teardown(function()
    srv:cleanup()
  end)

  it("runs at its time in Norwegian time, names the copy by the time, and keeps the newest N", function()
    local job
    for _, j in ipairs(srv:expect(200, "GET", "/admin/jobs").jobs) do
      if j.name == "backup" then job = j end
    end
    assert.is_table(job)
    assert.is_false(job.mails)
    assert.equal("2026-11-27T01:30:00Z", job.next_run_at)   -- 02:30 in Oslo

    local names = {}
    for day = 27, 29 do
      srv:department("Før kopi " .. day)
      srv:set_clock(("2026-11-%02dT01:30:05Z"):format(day))
      local r = srv:wait_job_runs("backup", day - 26, 20)[1]
      assert.equal("ok", r.state, r.error)
      assert.equal("schedule", r.trigger)
      local s = r.summary
      assert.matches("/evne%-202611" .. day .. "T013005Z%.db$", s.file)
      assert.is_true(s.bytes > 0)
      assert.is_true(s.pages > 0)
      assert.is_number(s.duration_ms)
      assert.equal(math.min(day - 26, 2), s.kept)
      names[#names + 1] = s.file
      assert.equal("ok", sqlite(s.file, "PRAGMA quick_check"))
      -- it holds what was written before it ran
      assert.equal("1", sqlite(s.file, "SELECT count(*) FROM department WHERE name = 'Før kopi "
        .. day .. "'"))
    end
    local ls = H.run("ls " .. q(dir))
    assert.is_nil(ls:find("20261127", 1, true))
    assert.is_false(exists(names[1]))
    assert.is_true(exists(names[2]))
    assert.is_true(exists(names[3]))
    local last = srv:job_runs("backup")[1]
    assert.same({ "evne-20261127T013005Z.db" }, last.summary.deleted)
  end)

  it("fails a run, saying why, when the folder is gone", function()
    os.execute("rm -rf " .. q(dir))
    local status, run = srv:api("POST", "/admin/jobs/backup/run", H.object())
    assert.is_true(status == 201 or status == 202, "the run answered " .. tostring(status))
    local r = srv:wait_run(run.id, 10)
    assert.equal("failed", r.state)
    assert.matches("backup folder", r.error)
  end)
end)
