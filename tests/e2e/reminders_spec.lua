-- The daily reminders over HTTP, with the test clock walking through weeks of working days and a
-- real SMTP server (smtp_server.py on Debian's python3-aiosmtpd) receiving what is sent:
-- reminders due and not due, a week's pause, escalation to the manager after two reminders, an
-- approval waiting for a manager, the recipient's language, a reminder that stops when its
-- reason goes, catch-up after days without runs (one run), a policy that fails for one employee
-- while the others get theirs, and a run cut short by kill -9 that runs again for its slot
-- without mailing anyone twice.
local H = require "harness"
local MK = require "mailkit"
local socket = require "socket"

local q = H.shell_quote
local FROM = "evne@asker.kommune.no"
local sql = H.sql_rows   -- the rows of a query, as tables

local DAY = 86400
-- Monday 11 January 2027, 07:30 in Oslo (06:30 UTC): half an hour before the first run.
local START = 1799649000
local MONDAY = START - 6 * 3600 - 1800      -- 2027-01-11T00:00:00Z

-- --- the clock ------------------------------------------------------------------------------

-- 08:00:05 in Oslo (CET) on the day `day` days after Monday 11 January 2027.
local function morning(day) return MONDAY + day * DAY + 7 * 3600 + 5 end

-- "2027-01-11T07:00:00Z": the run's slot on that day.
local function slot_of(day) return os.date("!%Y-%m-%dT07:00:00Z", MONDAY + day * DAY) end

describe("reminders", function()
  local srv, dir, smtp
  local id, email, token = {}, {}, {}
  local names = {}            -- employee id -> login, for messages
  local course, session
  local enrolment = {}        -- login -> enrolment id
  local runs = 0              -- reminders runs so far
  local last_reminder = 0     -- reminder rows seen so far

  -- The reminder rows since the last call, each with its mail: "login template to", sorted.
  local function new_reminders()
    local rows = sql(srv.db, ("SELECT r.id, r.employee_id, r.template, r.recipient, "
      .. "r.enrolment_id, r.slot, o.id AS outbox_id, o.kind, o.to_addr, o.subject, o.body "
      .. "FROM reminder r JOIN outbox o ON o.id = r.outbox_id WHERE r.id > %d ORDER BY r.id")
      :format(last_reminder))
    local seen = {}
    for _, r in ipairs(rows) do
      last_reminder = math.max(last_reminder, r.id)
      r.who = names[r.employee_id] or tostring(r.employee_id)
      seen[#seen + 1] = ("%s %s %s"):format(r.who, r.template, r.recipient)
      rows[r.who .. " " .. r.template] = r
    end
    table.sort(seen)
    return seen, rows
  end

  -- Moves the clock to the morning of `day`, waits for its run, and returns what it sent.
  local function run_day(day, want_trigger)
    srv:set_clock(morning(day))
    runs = runs + 1
    local run = srv:wait_job_runs("reminders", runs)[1]
    assert.equal("ok", run.state)
    assert.equal(want_trigger or "schedule", run.trigger)
    local seen, rows = new_reminders()
    return seen, rows, run
  end

  setup(function()
    dir = H.mktemp_dir("evne-reminders")
    local port = H.free_port()
    smtp = MK.start(port, dir)
    srv = H.start({ args = MK.serve_args(port, FROM, { "--mail-retry-seconds", "1",
                                                       "--clock", tostring(START) }) })
    names[srv.admin_id] = "admin"
    id.admin = srv.admin_id
    email.admin = srv:expect(200, "GET", "/employees/" .. srv.admin_id).email
    local root = srv:expect(200, "GET", "/employees/" .. srv.admin_id).department_id
    local helse = srv:department("Helse og omsorg", root)
    for _, p in ipairs({ { "leder", "Lise Leder" }, { "per", "Per Hansen" },
                         { "kari", "Kari Nordmann" }, { "emma", "Emma Smith" },
                         { "ola", "Ola Berg" }, { "siri", "Siri Dahl" } }) do
      local login = p[1]
      email[login] = login .. "@example.no"
      id[login] = srv:employee({ department_id = helse, login = login, name = p[2],
                                 email = email[login], password = "pw-" .. login .. "-123" })
      names[id[login]] = login
    end
    srv:expect(200, "PATCH", "/departments/" .. helse, { manager_id = id.leder })
    -- Emma reads English
    assert.equal("en", srv:expect(200, "PATCH", "/employees/" .. id.emma, { lang = "en" }).lang)

    -- kari, leder, ola and siri assessed themselves this morning; per, emma and admin never did
    local sys = srv:system("Gerica")
    local req = srv:requirement(sys, "Skrive journal", 1)
    for _, who in ipairs({ "kari", "leder", "ola", "siri" }) do
      token[who] = srv:login(who)
      srv:assess(id[who], "self", { [req] = 2 }, token[who])
    end

    -- ola is invited to a course; siri is invited and accepts: it waits for leder's approval
    course = srv:expect(201, "POST", "/courses", { title = "Gerica grunnkurs", system_id = sys,
      requirements = { { requirement_id = req, target_level = 3 } } }).id
    session = srv:expect(201, "POST", "/courses/" .. course .. "/sessions", {
      starts_at = "2027-03-15T08:00:00Z", ends_at = "2027-03-15T11:00:00Z",
      place = "Rådhuset, møterom 2", capacity = 10 }).id
    local inv = srv:expect(201, "POST", "/sessions/" .. session .. "/invitations",
      { employee_ids = { id.ola, id.siri } })
    for _, e in ipairs(inv.items) do enrolment[names[e.employee_id]] = e.id end
    srv:expect(200, "POST", "/enrolments/" .. enrolment.siri .. "/accept", H.object(), token.siri)
  end)

  teardown(function()
    if srv then srv:cleanup() end
    MK.stop(smtp)
    H.remove_dir(dir)
  end)

  it("are not sent before their time", function()
    assert.same({}, srv:job_runs("reminders"))
    assert.same({}, (new_reminders()))
  end)

  it("remind who never assessed themselves, in their own language; nobody else yet", function()
    local seen, rows, run = run_day(0)
    assert.same({ "admin self_assessment employee", "emma self_assessment employee",
                  "per self_assessment employee" }, seen)
    assert.equal(slot_of(0), run.slot)
    assert.equal(7, run.summary.employees)
    assert.equal(3, run.summary.reminders)
    assert.equal(0, run.summary.to_managers)
    assert.equal(0, run.summary.errors)
    assert.equal(0, run.summary.skipped)
    assert.is_number(run.summary.longest_step_us)

    local per = rows["per self_assessment"]
    assert.equal("reminder", per.kind)
    assert.equal(email.per, per.to_addr)
    assert.equal("Påminnelse: oppdater egenvurderingen din i evne", per.subject)
    assert.truthy(per.body:find("Hei Per Hansen,", 1, true), per.body)
    assert.truthy(per.body:find("Du har ikke vurdert deg selv i evne ennå.", 1, true), per.body)
    assert.truthy(per.body:find("velg «Egenvurdering»", 1, true), per.body)
    assert.equal(H.null, per.enrolment_id)

    local emma = rows["emma self_assessment"]
    assert.equal(email.emma, emma.to_addr)
    assert.equal("Reminder: update your self-assessment in evne", emma.subject)
    assert.truthy(emma.body:find("Hello Emma Smith,", 1, true), emma.body)
    assert.truthy(emma.body:find("You have not assessed yourself in evne yet.", 1, true))
  end)

  it("pause a week, and remind a manager of an approval waiting two days", function()
    assert.same({}, (run_day(1)))                    -- Tuesday: nothing is due
    local seen, rows = run_day(2)                    -- Wednesday: siri has waited 2 days
    assert.same({ "leder approval employee" }, seen)
    local r = rows["leder approval"]
    assert.equal(enrolment.siri, r.enrolment_id)
    assert.equal(email.leder, r.to_addr)
    assert.equal("Påminnelse: Siri Dahl venter på godkjenning til kurset Gerica grunnkurs",
                 r.subject)
    assert.truthy(r.body:find("Hei Lise Leder,", 1, true), r.body)
    assert.truthy(r.body:find("Siri Dahl har takket ja til kurset «Gerica grunnkurs», mandag "
      .. "15. mars 2027 kl. 09.00–12.00, og har ventet på godkjenningen din siden 11.01.2027.",
      1, true), r.body)
    assert.truthy(r.body:find("velg «Godkjenninger»", 1, true), r.body)
    assert.same({}, (run_day(3)))
    assert.same({}, (run_day(4)))
  end)

  it("remind again after a week, and of an invitation unanswered for a week", function()
    local seen, rows = run_day(7)                    -- Monday, a week later
    assert.same({ "admin self_assessment employee", "emma self_assessment employee",
                  "ola invitation employee", "per self_assessment employee" }, seen)
    local ola = rows["ola invitation"]
    assert.equal(enrolment.ola, ola.enrolment_id)
    assert.equal("Påminnelse: svar på invitasjonen til kurset Gerica grunnkurs", ola.subject)
    assert.truthy(ola.body:find("Du er invitert til kurset «Gerica grunnkurs», mandag 15. mars "
      .. "2027 kl. 09.00–12.00, og har ikke svart ennå.", 1, true), ola.body)
    assert.truthy(ola.body:find("Sted: Rådhuset, møterom 2", 1, true), ola.body)

    -- ola answers: that invitation is no longer a reason to remind him
    srv:set_clock(morning(8) - 3600)
    srv:expect(200, "POST", "/enrolments/" .. enrolment.ola .. "/accept", H.object(),
               srv:login("ola"))
    assert.same({}, (run_day(8)))
    assert.same({ "leder approval employee" }, (run_day(9)))
    assert.same({}, (run_day(10)))
    assert.same({}, (run_day(11)))
  end)

  it("tell the manager after two reminders without effect, in the manager's language", function()
    local seen, rows = run_day(14)
    -- admin has no manager: still reminded; ola answered his invitation: nothing
    assert.same({ "admin self_assessment employee", "emma self_assessment manager",
                  "per self_assessment manager" }, seen)
    local per = rows["per self_assessment"]
    assert.equal(email.leder, per.to_addr)
    assert.equal("Påminnelse: Per Hansen har ikke oppdatert egenvurderingen sin", per.subject)
    assert.truthy(per.body:find("Hei Lise Leder,", 1, true), per.body)
    assert.truthy(per.body:find("Per Hansen har ikke vurdert seg selv i evne ennå", 1, true))
    -- emma reads English, but her manager reads bokmål
    local emma = rows["emma self_assessment"]
    assert.equal(email.leder, emma.to_addr)
    assert.equal("Påminnelse: Emma Smith har ikke oppdatert egenvurderingen sin", emma.subject)
    local run = srv:job_runs("reminders")[1]
    assert.equal(3, run.summary.reminders)
    assert.equal(2, run.summary.to_managers)
  end)

  it("catch up once after days without runs", function()
    -- No runs on Tuesday and Wednesday; on Thursday one run for Tuesday's slot. leder's approval
    -- is due again (Wednesday), to her: she has no manager above her.
    local seen, rows, run = run_day(17, "catch-up")
    assert.equal(slot_of(15), run.slot)
    assert.same({ "leder approval employee" }, seen)
    assert.equal(enrolment.siri, rows["leder approval"].enrolment_id)
    socket.sleep(0.5)
    assert.equal(runs, #srv:job_runs("reminders"))           -- one run, not three
  end)

  it("never reminded someone with nothing due, and mailed each reminder once", function()
    local all = sql(srv.db, "SELECT r.employee_id, r.outbox_id, o.to_addr, o.subject, o.body "
      .. "FROM reminder r JOIN outbox o ON o.id = r.outbox_id ORDER BY r.id")
    assert.equal(3 + 1 + 4 + 1 + 3 + 1, #all)
    for _, r in ipairs(all) do
      assert.is_not.equal(id.kari, r.employee_id)
      assert.is_not.equal(id.siri, r.employee_id)
    end
    H.wait_for("the outbox to empty", 30, function()
      local c = srv:expect(200, "GET", "/admin/outbox").counts
      return c.pending == 0 and c.sending == 0
    end)
    assert.equal(0, srv:expect(200, "GET", "/admin/outbox").counts.failed)
    local got = {}
    for _, m in ipairs(MK.messages(dir)) do
      local oid = MK.outbox_id(m)
      if oid then
        got[oid] = got[oid] or {}
        table.insert(got[oid], m)
      end
    end
    for _, r in ipairs(all) do
      local ms = got[r.outbox_id]
      assert.is_table(ms, "reminder mail " .. r.outbox_id .. " did not arrive")
      assert.equal(1, #ms)
      local m = ms[1]
      assert.same({ r.to_addr }, m.envelope.rcpt_tos)
      assert.equal(r.subject, m.headers.subject)
      assert.equal("text/plain", m.parts[1].content_type)
      assert.equal((r.body:gsub("\n", "\r\n")), m.parts[1].text)
    end
  end)
end)

describe("a reminders policy that fails for one employee", function()
  local srv, rules

  setup(function()
    rules = H.mktemp_dir("evne-reminders-rules")
    H.run(("cp -R %s/. %s"):format(q(H.RULES), q(rules)))
    local file = rules .. "/reminders.lua"
    local text = assert(H.read_file(file))
    local n
    text, n = text:gsub("function reminders%.due%(employee, facts, now%)[^\n]*\n",
      "%0  if employee.name == \"Feil Feilesen\" then error(\"broken for \" .. employee.name) end\n"
      .. "  if employee.name == \"Mal Mangler\" then return { to = \"employee\", "
      .. "template = \"no_such_text\" } end\n")
    assert.equal(1, n)
    local f = assert(io.open(file, "w"))
    f:write(text)
    f:close()
    srv = H.start({ args = { "--clock", tostring(START), "--rules", rules } })
  end)

  teardown(function()
    if srv then srv:cleanup() end
    H.remove_dir(rules)
  end)

  it("logs and counts the error, and the run goes on for the others", function()
    local dept = srv:department("Skole")
    local ids = {}
    for _, name in ipairs({ "Anne Aas", "Feil Feilesen", "Mal Mangler", "Bo Bakke" }) do
      ids[name] = srv:employee({ department_id = dept, name = name })
    end
    local run = srv:expect(202, "POST", "/admin/jobs/reminders/run", H.object())
    run = srv:wait_run(run.id)
    assert.equal("ok", run.state)
    assert.equal(5, run.summary.employees)
    assert.equal(2, run.summary.errors)
    assert.equal(3, run.summary.reminders)     -- Anne, Bo and the admin
    local first = run.summary.first_error
    assert.truthy(first:find(("employee %d: "):format(ids["Feil Feilesen"]), 1, true), first)
    assert.truthy(first:find("reminders.lua:%d+: broken for Feil Feilesen"), first)

    -- the log names each employee and what went wrong
    local log = H.read_file(srv.log)
    local function logged(name, pattern)
      local prefix = ("evne: reminders: employee %d (%s): "):format(ids[name], name)
      local at = log:find(prefix, 1, true)
      assert.truthy(at, "no log line starting " .. prefix .. "\n" .. log)
      local line = log:match("^[^\n]*", at)
      assert.truthy(line:find(pattern), line)
    end
    logged("Feil Feilesen", "reminders%.lua:%d+: broken for Feil Feilesen$")
    logged("Mal Mangler", "web/templates/mail/reminder_no_such_text%.txt: no such template$")

    local rows = sql(srv.db, "SELECT employee_id FROM reminder ORDER BY employee_id")
    local got = {}
    for _, r in ipairs(rows) do got[#got + 1] = r.employee_id end
    local want = { srv.admin_id, ids["Anne Aas"], ids["Bo Bakke"] }
    table.sort(want)
    assert.same(want, got)
    -- nothing half-made: no mail without its reminder row
    assert.equal(3, sql(srv.db, "SELECT count(*) AS n FROM outbox WHERE kind = 'reminder'")[1].n)
  end)
end)

describe("a reminders run cut short by kill -9", function()
  local srv
  local N = 20000

  setup(function()
    srv = H.start({ args = { "--clock", tostring(START) } })
    srv:stop()
    -- a large organisation, so that the run takes many steps: N people who never assessed,
    -- brought in as the HR system's files are
    local depts, emps = srv.dir .. "/avdelinger.csv", srv.dir .. "/ansatte.csv"
    local f = assert(io.open(depts, "w"))
    f:write("avdelingskode;navn;overordnet;leder\nK1;Kommunen;;\n")
    f:close()
    f = assert(io.open(emps, "w"))
    f:write("ansattnummer;navn;epost;avdelingskode;stilling;roller;aktiv\n")
    for i = 1, N do
      f:write(("k%d;Ansatt %d;ansatt%d@example.no;K1;Konsulent;employee;ja\n"):format(i, i, i))
    end
    f:close()
    local out, rc = H.run(("%s import --db %s --partial %s %s"):format(q(H.BIN), q(srv.db),
      q(depts), q(emps)))
    assert(rc == 0, "evne import: " .. out)
    srv:restart()
  end)

  teardown(function()
    if srv then srv:cleanup() end
  end)

  it("runs again for the same slot, and nobody gets two reminders", function()
    local run = srv:expect(202, "POST", "/admin/jobs/reminders/run", H.object())
    -- kill -9 as soon as some steps are committed
    H.wait_for("the first reminders", 30, function()
      return sql(srv.db, "SELECT count(*) AS n FROM reminder")[1].n > 0
    end)
    assert.equal(137, srv:kill9())
    local before = sql(srv.db, "SELECT count(*) AS n FROM reminder")[1].n
    local state = sql(srv.db, "SELECT state FROM job_run WHERE id = " .. run.id)[1].state
    assert.equal("running", state, "the run ended before the kill: the test proves nothing")
    assert.is_true(before > 0 and before < N + 1, "reminders before the kill: " .. before)

    srv:restart()
    local runs = srv:wait_job_runs("reminders", 2)
    local again = runs[1]
    assert.equal("ok", again.state)
    assert.equal("manual", again.trigger)
    assert.equal(run.slot, again.slot)
    assert.equal("interrupted", runs[2].state)
    assert.equal(run.id, runs[2].id)
    assert.equal(N + 1, again.summary.employees)
    assert.equal(before, again.summary.skipped)
    assert.equal(N + 1 - before, again.summary.reminders)

    local counts = sql(srv.db, "SELECT count(*) AS n, count(DISTINCT employee_id) AS people, "
      .. "count(DISTINCT outbox_id) AS mails FROM reminder")[1]
    assert.same({ n = N + 1, people = N + 1, mails = N + 1 }, counts)
    local outbox = sql(srv.db, "SELECT count(*) AS n, count(DISTINCT to_addr) AS addresses "
      .. "FROM outbox WHERE kind = 'reminder'")[1]
    assert.same({ n = N + 1, addresses = N + 1 }, outbox)
    assert.is_true(again.summary.longest_step_us > 0)
  end)
end)
