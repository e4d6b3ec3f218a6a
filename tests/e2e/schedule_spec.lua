-- The scheduler over HTTP, with the test clock: what runs when (Norwegian time), a run by hand,
-- a due run when the clock passes it, one catch-up run after downtime and none repeated at the
-- next start, the schedule file and its errors, and the admin's jobs page. The job used is the
-- trend's "snapshot" (quick, and it mails nobody); the jobs that mail have their own specs.
local H = require "harness"
local P = require "pagekit"
local socket = require "socket"

-- Thursday 26 November 2026 10:20 in Oslo.
local START = 1795684800

local function job_named(list, name)
  for _, j in ipairs(list.jobs) do
    if j.name == name then return j end
  end
end

local function runs_of(list, name)
  local out = {}
  for _, r in ipairs(list.runs) do
    if r.job == name then out[#out + 1] = r end
  end
  return out
end

-- Waits until job has count runs and the newest has ended; returns the jobs list.
local function wait_runs(srv, name, count)
  return H.wait_for(("%d runs of the job %s"):format(count, name), 10, function()
    local list = srv:expect(200, "GET", "/admin/jobs")
    local runs = runs_of(list, name)
    return #runs >= count and runs[1].state ~= "running" and list
  end)
end

describe("the scheduler", function()
  local srv

  before_each(function()
    srv = H.start({ args = { "--clock", tostring(START) } })
  end)

  after_each(function()
    if srv then srv:cleanup() end
    srv = nil
  end)

  it("lists the jobs with their schedule and next run, for admins only", function()
    local list = srv:expect(200, "GET", "/admin/jobs")
    local snap = job_named(list, "snapshot")
    assert.is_table(snap, "no snapshot job")
    assert.equal("monthly 1 00:30", snap.schedule)
    assert.is_false(snap.mails)
    assert.is_false(snap.running)
    -- 1 December 2026 00:30 in Oslo is 23:30 UTC the day before.
    assert.equal("2026-11-30T23:30:00Z", snap.next_run_at)
    assert.same({}, list.runs)

    local dept = srv:department(H.unique("Avd "))
    local _, _, login = srv:employee({ department_id = dept, password = "Passord-123" })
    local token = srv:login(login, "Passord-123")
    srv:expect(403, "GET", "/admin/jobs", nil, token)
    srv:expect(403, "POST", "/admin/jobs/snapshot/run", H.object(), token)
    srv:expect(403, "POST", "/admin/clock", { now = "2027-01-01T00:00:00Z" }, token)
  end)

  it("runs a job by hand and records what it did", function()
    local run = srv:expect(202, "POST", "/admin/jobs/snapshot/run", H.object())
    assert.equal("snapshot", run.job)
    assert.equal("manual", run.trigger)
    assert.equal(srv.admin_id, run.by)
    run = srv:wait_run(run.id, 10)
    assert.equal("ok", run.state)
    assert.equal(H.null, run.error)
    assert.is_number(run.summary.steps)
    assert.is_number(run.summary.longest_step_us)
    assert.is_number(run.summary.duration_ms)
    -- A run by hand leaves the schedule as it was.
    assert.equal("2026-11-30T23:30:00Z",
                 job_named(srv:expect(200, "GET", "/admin/jobs"), "snapshot").next_run_at)

    -- the outbox's tidying: nothing sent 30 days ago yet, nothing emptied
    local tidy = srv:wait_run(srv:expect(202, "POST", "/admin/jobs/outbox/run", H.object()).id, 10)
    assert.equal("ok", tidy.state)
    assert.equal(0, tidy.summary.emptied)

    local status, body = srv:api("POST", "/admin/jobs/nothing/run", H.object())
    H.check_error(status, body, 404, "not_found")
    assert.truthy(body.error.message:find("nothing", 1, true))
    srv:expect(404, "GET", "/admin/jobs/runs/999999")
  end)

  it("runs a job when the clock passes its time, once, and moves its next run", function()
    srv:set_clock("2026-11-30T23:29:00Z")
    socket.sleep(0.3)
    assert.same({}, runs_of(srv:expect(200, "GET", "/admin/jobs"), "snapshot"))
    srv:set_clock("2026-11-30T23:30:05Z")
    local list = wait_runs(srv, "snapshot", 1)
    local runs = runs_of(list, "snapshot")
    assert.equal(1, #runs)
    assert.equal("schedule", runs[1].trigger)
    assert.equal("2026-11-30T23:30:00Z", runs[1].slot)
    assert.equal("ok", runs[1].state)
    assert.equal("2026-12-31T23:30:00Z", job_named(list, "snapshot").next_run_at)
    socket.sleep(0.3)
    assert.equal(1, #runs_of(srv:expect(200, "GET", "/admin/jobs"), "snapshot"))
  end)

  it("catches up once after downtime and repeats nothing at the next start", function()
    srv:stop()
    -- Down from November until 15 February 2027: December's, January's and February's runs
    -- were missed; one run catches up.
    srv.opts.args = { "--clock", "1802692800" }   -- 2027-02-15T12:00:00Z
    srv:launch()
    local list = wait_runs(srv, "snapshot", 1)
    local runs = runs_of(list, "snapshot")
    assert.equal(1, #runs)
    assert.equal("catch-up", runs[1].trigger)
    assert.equal("2026-11-30T23:30:00Z", runs[1].slot)
    assert.equal("2027-02-28T23:30:00Z", job_named(list, "snapshot").next_run_at)

    srv:stop()
    srv.opts.args = { "--clock", "1802692900" }
    srv:launch()
    socket.sleep(0.3)
    assert.equal(1, #runs_of(srv:expect(200, "GET", "/admin/jobs"), "snapshot"))
  end)

  it("takes its schedule from a file, and follows a changed one at the next start", function()
    local file = srv.dir .. "/schedule"
    local f = assert(io.open(file, "w"))
    f:write("# every day at three\nsnapshot daily 03:00\nreminders off\nquiet 22:00-06:00\n")
    f:close()
    srv:stop()
    srv.opts.args = { "--clock", tostring(START), "--schedule", file }
    srv:launch()
    local list = srv:expect(200, "GET", "/admin/jobs")
    assert.equal("daily 03:00", job_named(list, "snapshot").schedule)
    assert.equal("2026-11-27T02:00:00Z", job_named(list, "snapshot").next_run_at)
    local reminders = job_named(list, "reminders")
    if reminders then assert.equal(H.null, reminders.next_run_at) end
  end)

  it("runs a failed slot again a quarter of an hour later, three times in all", function()
    -- rules without the organisation's report layout: the reports job cannot start
    local rules = srv.dir .. "/rules"
    assert(H.run(("cp -R %s %s && rm %s/reports/organisation.lua"):format(
      H.shell_quote(os.getenv("EVNE_RULES") or "rules"), H.shell_quote(rules),
      H.shell_quote(rules))) ~= nil)
    local file = srv.dir .. "/schedule"
    local f = assert(io.open(file, "w"))
    f:write("reports daily 10:05\nquiet 21:00-07:00\n")
    f:close()
    srv:stop()
    -- Tuesday 1 December 2026 10:00 in Oslo: a working day, out of the quiet hours
    srv.opts.args = { "--clock", "1796115600", "--schedule", file, "--rules", rules }
    srv:launch()
    -- At start, the default schedule's reports run due at 07:00 catches up and fails; at 10:06
    -- today's 10:05 run fails too. Each slot is tried again at +16 and +32 minutes, no more.
    local function by_slot()
      local count = {}
      for _, r in ipairs(srv:job_runs("reports")) do
        assert.equal("failed", r.state)
        assert.truthy(r.error:find("organisation", 1, true), r.error)
        count[r.slot] = (count[r.slot] or 0) + 1
      end
      return count
    end
    srv:wait_job_runs("reports", 1)
    srv:set_clock("2026-12-01T09:06:00Z")
    srv:wait_job_runs("reports", 2)
    assert.same({ ["2026-12-01T06:00:00Z"] = 1, ["2026-12-01T09:05:00Z"] = 1 }, by_slot())
    srv:set_clock("2026-12-01T09:22:00Z")
    srv:wait_job_runs("reports", 4)
    srv:set_clock("2026-12-01T09:38:00Z")
    srv:wait_job_runs("reports", 6)
    assert.same({ ["2026-12-01T06:00:00Z"] = 3, ["2026-12-01T09:05:00Z"] = 3 }, by_slot())
    -- three tries in all: no fourth
    srv:set_clock("2026-12-01T09:54:00Z")
    socket.sleep(0.5)
    assert.equal(6, #srv:job_runs("reports"))
  end)

  it("refuses a schedule file with a mistake, naming the line", function()
    local file = srv.dir .. "/bad-schedule"
    local f = assert(io.open(file, "w"))
    f:write("snapshot daily 03:00\n\nreports monthly 31 07:00\n")
    f:close()
    local out, rc = H.run(("%s serve --db %s --port 0 --schedule %s 2>&1"):format(
      H.shell_quote(H.BIN), H.shell_quote(srv.db), H.shell_quote(file)))
    assert.are_not.equal(0, rc)
    assert.truthy(out:find("schedule line 3: monthly takes a day from 1 to 28", 1, true), out)
  end)

  it("shows the jobs page to admins, runs a job from it, and refuses others", function()
    srv:stop()
    for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(srv.db .. suffix) end
    local out, rc = H.run(("%s demo --db %s"):format(H.shell_quote(H.BIN),
                                                    H.shell_quote(srv.db)))
    assert(rc == 0, "evne demo failed: " .. out)
    srv.admin_login, srv.admin_password = "admin", P.DEMO_PASSWORD
    srv.passwords = { admin = "demo", leder = "demo", ansatt = "demo", radgiver = "demo" }
    srv:launch()
    local admin = P.login(srv, "admin")
    local status, html = P.page(srv, admin, "GET", "/admin/jobs")
    assert.equal(200, status)
    assert.truthy(html:find("Øyeblikksbilde av gapene", 1, true))
    assert.truthy(html:find("monthly 1 00:30", 1, true))
    assert.truthy(html:find("01.12.2026 00:30", 1, true), "the next run in Norwegian time")
    local csrf = P.csrf_of(html)

    -- Without the CSRF token nothing runs.
    status = P.page(srv, admin, "POST", "/admin/jobs/run", { job = "snapshot" })
    assert.equal(403, status)
    assert.same({}, srv:expect(200, "GET", "/admin/jobs").runs)

    local _, headers
    status, _, headers = P.page(srv, admin, "POST", "/admin/jobs/run",
                                { csrf = csrf, job = "snapshot" })
    assert.equal(303, status)
    assert.equal("/admin/jobs?started=1", headers["location"])
    wait_runs(srv, "snapshot", 1)
    status, html = P.page(srv, admin, "GET", "/admin/jobs?started=1&lang=en")
    assert.equal(200, status)
    assert.truthy(html:find("Snapshot of the gaps", 1, true))
    assert.truthy(html:find("By hand", 1, true))
    assert.truthy(html:find("Done", 1, true))
    -- The language links keep the page's other parameters (the layout's, on every page).
    assert.truthy(html:find('href="?started=1&amp;lang=nb"', 1, true), "the bokmål link")
    assert.is_nil(html:find('lang=en&amp;lang', 1, true))

    status, html = P.page(srv, admin, "POST", "/admin/jobs/run", { csrf = csrf, job = "nope" })
    assert.equal(422, status)
    assert.truthy(html:find("nope", 1, true))

    for _, who in ipairs({ "radgiver", "leder", "ansatt" }) do
      status = P.page(srv, P.login(srv, who), "GET", "/admin/jobs")
      assert.equal(403, status, who)
    end
  end)
end)
