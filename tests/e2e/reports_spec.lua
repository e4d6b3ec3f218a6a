-- The monthly reports over real HTTP: each report's content against data made through the API
-- (numbers worked out by hand below), who may see which, the html, csv and json formats, bad
-- parameters, and the monthly run on the schedule with the test clock and a real SMTP server
-- (smtp_server.py): the mails arrive with their HTML part and the CSV attached, in the
-- recipient's language, a recipient already sent to is skipped, and a second run for the same
-- month sends nothing again.
--
-- The story (Oslo, 2026): on 15 October e1 assesses herself at 1 on r1, and a snapshot is taken;
-- on 10 November e1 assesses 3 on r1 and e2 2 on r1; e2 attends course K (r2, target 2) on
-- 12 November and reassesses r2 at 2 after it. The profile demands r1 = 3 and r2 = 2 of e1, e2
-- and e3. Departments: the root (admin, V), A "Helse & omsorg" (M, its manager, and e1), B "Natt"
-- under A (e2), C "Skole" (e3).
local H = require("harness")
local MK = require("mailkit")
local socket = require("socket")

local part = MK.part

local BOM = "\239\187\191"

local OCT_15 = 1792058400   -- 2026-10-15T10:00:00Z
local NOV_10 = "2026-11-10T09:00:00Z"
local NOV_12 = "2026-11-12T12:00:00Z"
local DEC_1_DUE = "2026-12-01T06:00:30Z" -- 07:00:30 in Oslo on the first working day

-- --- CSV ---------------------------------------------------------------------------------------

-- The parts of a report's CSV: lists of rows (each a list of cells), split at empty lines.
local function csv_parts(text)
  assert.equal(BOM, text:sub(1, 3))
  assert.is_nil(text:sub(4):find("[^\r]\n"), "a line that does not end in CRLF")
  local parts, rows = {}, {}
  for line in text:sub(4):gmatch("([^\r\n]*)\r\n") do
    if line == "" then
      parts[#parts + 1] = rows
      rows = {}
    else
      local cells, pos = {}, 1
      while pos <= #line + 1 do
        if line:sub(pos, pos) == '"' then
          local value, i = {}, pos + 1
          while true do
            local c = line:sub(i, i)
            if c == '"' and line:sub(i + 1, i + 1) == '"' then
              value[#value + 1] = '"'
              i = i + 2
            elseif c == '"' then
              i = i + 1
              break
            else
              value[#value + 1] = c
              i = i + 1
            end
          end
          cells[#cells + 1] = table.concat(value)
          pos = i + 1
        else
          local stop = line:find(";", pos, true) or (#line + 1)
          cells[#cells + 1] = line:sub(pos, stop - 1)
          pos = stop + 1
        end
      end
      rows[#rows + 1] = cells
    end
  end
  parts[#parts + 1] = rows
  return parts
end

describe("the monthly reports", function()
  local srv, dir, port, smtp, schedule
  local id, tok = {}, {}
  local R = {}        -- requirement ids
  local K, S1, S2     -- the course and its sessions
  local A, B, C       -- departments

  local function as(who) return tok[who] end

  local function login_all()
    for _, who in ipairs({ "m", "v", "e1", "e2", "e3" }) do tok[who] = srv:login(id[who .. "_login"]) end
  end

  local function set_clock(iso)
    srv:set_clock(iso)
    login_all()
  end

  local function report(who, name, query, want)
    local status, body, raw, headers = srv:api("GET", "/reports/" .. name .. (query or ""), nil,
      as(who))
    if want and status ~= want then
      error(("GET /reports/%s%s as %s: expected %d, got %d: %s"):format(name, query or "", who,
        want, status, tostring(raw)), 2)
    end
    return status, body, raw, headers
  end

  local function data(who, name, query)
    local sep = (query and query ~= "") and "&" or "?"
    local _, body = report(who, name, (query or "") .. sep .. "format=json", 200)
    return body
  end

  setup(function()
    port = H.free_port()
    dir = H.mktemp_dir("evne-reports")
    smtp = MK.start(port, dir)
    schedule = dir .. "/schedule"
    local f = assert(io.open(schedule, "w"))
    f:write("reports monthly workday 1 07:00\nquiet 21:00-07:00\n")
    f:close()
    srv = H.start({ args = MK.serve_args(port, "evne@example.no", { "--clock", tostring(OCT_15),
                                                                     "--schedule", schedule }) })
    A = srv:department("Helse & omsorg", 1)
    B = srv:department("Natt", A)
    C = srv:department("Skole", 1)
    local function person(key, dept, name, roles)
      local eid, _, login = srv:employee({ department_id = dept, name = name, roles = roles })
      id[key], id[key .. "_login"] = eid, login
    end
    person("m", A, "Mona Leder")
    person("v", 1, "Vera Rådgiver", { "employee", "adviser" })
    person("e1", A, "Eva Én")
    person("e2", B, "Emil To")
    person("e3", C, "Åse <Tre>")
    srv:expect(200, "PATCH", "/departments/" .. A, { manager_id = id.m })
    local sys = srv:system("Gerica")
    R[1] = srv:requirement(sys, "Skrive journal")
    R[2] = srv:requirement(sys, "Lese journal")
    R[3] = srv:requirement(sys, "Skrive ut")
    local p = srv:profile("Gerica 2", sys, { [R[1]] = 3, [R[2]] = 2, [R[3]] = 0 })
    for _, e in ipairs({ "e1", "e2", "e3" }) do srv:assign(id[e], { p }) end
    login_all()
    srv:assess(id.e1, "self", { [R[1]] = 1 }, as("e1"))
    srv:expect(201, "POST", "/admin/snapshots", nil, as("v"))

    set_clock(NOV_10)
    srv:assess(id.e1, "self", { [R[1]] = 3 }, as("e1"))
    srv:assess(id.e2, "self", { [R[1]] = 2 }, as("e2"))
    K = srv:expect(201, "POST", "/courses", { title = "Gerica: lese journal", system_id = sys,
      requirements = { { requirement_id = R[2], target_level = 2 } } }, as("v")).id
    S1 = srv:expect(201, "POST", "/courses/" .. K .. "/sessions", { starts_at = "2026-11-12T08:00:00Z",
      ends_at = "2026-11-12T11:00:00Z", capacity = 10, place = "Rom 1" }, as("v")).id
    S2 = srv:expect(201, "POST", "/courses/" .. K .. "/sessions", { starts_at = "2026-12-10T08:00:00Z",
      ends_at = "2026-12-10T11:00:00Z", capacity = 10, place = "Rom 2" }, as("v")).id
    local en = srv:expect(201, "POST", "/sessions/" .. S1 .. "/invitations",
      { employee_ids = { id.e2 } }, as("v")).items[1].id
    srv:expect(200, "POST", "/enrolments/" .. en .. "/accept", H.object(), as("e2"))
    srv:expect(200, "POST", "/enrolments/" .. en .. "/approve", H.object(), as("m"))

    set_clock(NOV_12)
    srv:expect(200, "POST", "/enrolments/" .. en .. "/attend", H.object(), as("v"))
    srv:expect(201, "POST", "/enrolments/" .. en .. "/reassessment",
      { levels = H.levels({ [R[2]] = 2 }) }, as("e2"))
  end)

  teardown(function()
    if srv then srv:cleanup() end
    MK.stop(smtp)
    H.remove_dir(dir)
  end)

  describe("the employee report", function()
    it("has my gaps, what changed in the month, the course proposed to me and my next steps", function()
      local d = data("e1", "employee", "?period=2026-11")
      assert.equal("2026-11", d.period)
      assert.equal(id.e1, d.employee.id)
      assert.equal("Helse & omsorg", d.employee.department)
      -- r1 closed (3 of 3), r2 never assessed: one open gap of 2
      assert.same({ demanded = 2, open_gaps = 1, unassessed = 1, gap_sum = 2, coverage = 0.5 },
        d.summary)
      assert.equal(1, #d.gaps)
      local g = d.gaps[1]
      assert.equal(R[2], g.requirement_id)
      assert.same({ 2, 0, 2, true, "Lese journal", "Gerica" },
        { g.required, g.actual, g.gap, g.unassessed, g.requirement, g.system })
      -- November: r1 from 1 to 3, which closed a gap of 2
      assert.equal(1, #d.changes)
      local c = d.changes[1]
      assert.same({ R[1], 1, 3, "self", 2, 0 },
        { c.requirement_id, c.before, c.after, c.source, c.gap_before, c.gap_after })
      assert.same({ assessed = 1, gaps_closed = 1, gap_change = -2 }, d.changes_summary)
      -- course K closes r2 (target 2 = required 2): proposed with its coming session
      assert.equal(1, #d.proposals)
      local p = d.proposals[1]
      assert.same({ K, S2, "2026-12-10T08:00:00Z", "Rom 2", 2 },
        { p.course_id, p.session_id, p.starts_at, p.place, p.priority })
      local kinds = {}
      for _, s in ipairs(d.next_steps) do kinds[#kinds + 1] = s.kind end
      assert.same({ "assess", "enrol" }, kinds)
      assert.equal(1, d.next_steps[1].count)
    end)

    it("knows what an earlier month changed, and that a month without assessments changed nothing", function()
      local d = data("e1", "employee", "?period=2026-10")
      assert.equal(1, #d.changes)
      assert.same({ H.null, 1, 3, 2 }, { d.changes[1].before or H.null, d.changes[1].after,
        d.changes[1].gap_before, d.changes[1].gap_after })
      d = data("e1", "employee", "?period=2026-09")
      assert.equal(0, #d.changes)
    end)

    it("leaves a completed course out and asks for its evaluation", function()
      local d = data("e2", "employee", "?period=2026-11")
      assert.same({ demanded = 2, open_gaps = 1, unassessed = 0, gap_sum = 1, coverage = 0.5 },
        d.summary)
      assert.same({ assessed = 2, gaps_closed = 1, gap_change = -4 }, d.changes_summary)
      assert.equal(0, #d.proposals)
      assert.equal(1, #d.next_steps)
      assert.same({ "evaluate", K }, { d.next_steps[1].kind, d.next_steps[1].course_id })
    end)

    it("is HTML with the names escaped and the numbers in it, or CSV for Excel", function()
      local _, _, html, headers = report("e3", "employee", "?period=2026-11", 200)
      assert.equal("text/html; charset=utf-8", headers["content-type"])
      assert.truthy(html:find("<!DOCTYPE html>", 1, true))
      assert.truthy(html:find("<h2>Månedsrapport for Åse &lt;Tre&gt; – november 2026</h2>", 1, true))
      assert.is_nil(html:find("<Tre>", 1, true))
      assert.truthy(html:find("Du har 2 åpne gap av 2 krav, med gapsum 5 og dekning 0,0 %.", 1, true))
      local _, _, csv, h2 = report("e3", "employee", "?period=2026-11&format=csv", 200)
      assert.equal("text/csv; charset=utf-8", h2["content-type"])
      assert.equal('attachment; filename="evne-employee-2026-11.csv"', h2["content-disposition"])
      local parts = csv_parts(csv)
      assert.same({ "System", "Krav", "Kreves", "Nivå nå", "Gap", "Sist vurdert" }, parts[1][2])
      assert.same({ "Gerica", "Skrive journal", "3", "0", "3", "ikke vurdert" }, parts[1][3])
      assert.same({ "Gerica", "Lese journal", "2", "0", "2", "ikke vurdert" }, parts[1][4])
      assert.equal(4, #parts[1])
    end)

    it("speaks English when asked", function()
      local _, _, html = report("e1", "employee", "?period=2026-11&lang=en", 200)
      assert.truthy(html:find('<html lang="en">', 1, true))
      assert.truthy(html:find("You have 1 open gaps of 2 requirements, with a gap sum of 2", 1, true))
      assert.truthy(html:find("Sign up for “Gerica: lese journal” (2026-12-10, Rom 2).", 1, true))
    end)
  end)

  describe("the department report", function()
    it("has coverage and gap sum with their trend, who has not assessed, the largest gaps and "
      .. "the course's effect", function()
      local d = data("m", "department", "?department_id=" .. A .. "&period=2026-11")
      -- A with B: Mona (nothing demanded), e1 (r2 open, 2) and e2 (r1 open, 1)
      assert.same({ id = A, name = "Helse & omsorg", employees = 3, employees_with_gaps = 2,
                    demanded = 4, open_gaps = 2, unassessed = 1, gap_sum = 3, coverage = 0.5 },
        d.summary)
      assert.equal("Mona Leder", d.department.manager.name)
      -- October's snapshot: every pair open, gap sum 2+2 (e1) + 3+2 (e2)
      assert.equal(1, #d.trend)
      assert.same({ "2026-10", 9, 4, 0 }, { d.trend[1].period, d.trend[1].gap_sum,
        d.trend[1].open_gaps, d.trend[1].coverage })
      assert.same({ "2026-10", -6, -2 }, { d.change.since, d.change.gap_sum, d.change.open_gaps })
      assert.is_true(math.abs(d.change.coverage - 0.5) < 1e-9)
      assert.equal(1, d.not_assessed_total)
      assert.same({ id.e1, 1, 2 }, { d.not_assessed[1].id, d.not_assessed[1].unassessed,
        d.not_assessed[1].demanded })
      -- she assessed r1 herself on 10 November, never r2
      assert.truthy(d.not_assessed[1].last_self_assessment:find("^2026%-11%-10T09:00:"))
      assert.equal(1, #d.systems)
      assert.same({ "Gerica", 2, 4, 2, 3 }, { d.systems[1].name, d.systems[1].employees,
        d.systems[1].demanded, d.systems[1].open_gaps, d.systems[1].gap_sum })
      assert.equal(2, #d.requirements)
      assert.same({ R[2], 2 }, { d.requirements[1].id, d.requirements[1].gap_sum })
      assert.same({ R[1], 1 }, { d.requirements[2].id, d.requirements[2].gap_sum })
      assert.equal(1, #d.courses)
      local k = d.courses[1]
      assert.same({ K, 1, 1, "2026-11-12T08:00:00Z" },
        { k.course_id, k.attendees, k.in_period, k.last_session_at })
      assert.same({ 1, 2, 0, 2, 1 }, { k.effect.attendees, k.effect.targeted_gap_before,
        k.effect.targeted_gap_after, k.effect.gap_closed, k.effect.share_closed })
    end)

    it("counts only the sub-department below", function()
      local d = data("m", "department", "?department_id=" .. B .. "&period=2026-11")
      assert.same({ 1, 1, 2, 1, 0, 1 }, { d.summary.employees, d.summary.employees_with_gaps,
        d.summary.demanded, d.summary.open_gaps, d.summary.unassessed, d.summary.gap_sum })
      assert.equal(0, d.not_assessed_total)
      assert.equal(1, #d.courses)
    end)

    it("is the manager's own department by default, and CSV with the same figures", function()
      local _, _, csv = report("m", "department", "?format=csv&period=2026-11", 200)
      local parts = csv_parts(csv)
      assert.same({ "Helse & omsorg", "3", "2", "4", "2", "1", "3", "50" }, parts[1][2])
      assert.same({ "2026-10", "0", "9", "4" }, parts[2][2])
      assert.same({ "Eva Én", "Helse & omsorg", "1", "2", "10.11.2026" }, parts[3][2])
      assert.same({ "Lese journal", "Gerica" }, { parts[5][2][1], parts[5][2][2] })
      assert.same({ "Gerica: lese journal", "1", "1", "12.11.2026", "2", "100" }, parts[6][2])
      local _, _, html = report("m", "department", "?period=2026-11", 200)
      assert.truthy(html:find("<h2>Månedsrapport for Helse &amp; omsorg – november 2026</h2>", 1, true))
      assert.truthy(html:find("Siden oktober 2026: dekning +50,0 prosentpoeng, gapsum -6.", 1, true))
    end)
  end)

  describe("the organisation report", function()
    it("has the whole organisation by system and by department, in tree order", function()
      local d = data("v", "organisation", "?period=2026-11")
      assert.equal(6, d.summary.employees)
      assert.same({ 3, 6, 4, 3, 8 }, { d.summary.employees_with_gaps, d.summary.demanded,
        d.summary.open_gaps, d.summary.unassessed, d.summary.gap_sum })
      assert.is_true(math.abs(d.summary.coverage - 2 / 6) < 1e-9)
      assert.same({ "2026-10", 14 }, { d.trend[1].period, d.trend[1].gap_sum })
      assert.equal(-6, d.change.gap_sum)
      local names, depths = {}, {}
      for _, row in ipairs(d.departments) do
        names[#names + 1] = row.name
        depths[#depths + 1] = row.depth
      end
      assert.same({ "Organisasjon", "Helse & omsorg", "Natt", "Skole" }, names)
      assert.same({ 0, 1, 2, 1 }, depths)
      local employees, gap_sums = {}, {}
      for _, row in ipairs(d.departments) do
        employees[#employees + 1] = row.employees
        gap_sums[#gap_sums + 1] = row.gap_sum
      end
      assert.same({ 6, 3, 1, 1 }, employees)   -- each with its subtree
      assert.same({ 8, 3, 1, 5 }, gap_sums)
      assert.equal(1, #d.systems)
      assert.same({ "Gerica", 3, 8 }, { d.systems[1].name, d.systems[1].employees,
        d.systems[1].gap_sum })
      local _, _, csv = report("v", "organisation", "?format=csv&period=2026-11", 200)
      local parts = csv_parts(csv)
      assert.same({ "Hele organisasjonen", "6", "3", "6", "4", "3", "8", "33,3" }, parts[1][2])
      assert.same({ "Natt", "3", "1", "1", "2", "1", "0", "1", "50" }, parts[4][4])
    end)
  end)

  describe("access and parameters", function()
    it("lists the layouts", function()
      local list = srv:expect(200, "GET", "/reports", nil, as("e1")).items
      local names = {}
      for _, l in ipairs(list) do names[l.name] = l.available end
      assert.same({ employee = true, department = true, organisation = true, gaps = true }, names)
    end)

    it("gives each their own: refuses others' reports with 403", function()
      report("e1", "employee", "?employee_id=" .. id.e2, 403)
      report("e1", "department", "?department_id=" .. A, 403)
      report("e1", "department", "", 403)
      report("e1", "organisation", "", 403)
      report("e1", "gaps", "", 403)
      report("m", "employee", "?employee_id=" .. id.e2, 200)   -- in B, below A
      report("m", "employee", "?employee_id=" .. id.e3, 403)
      report("m", "department", "?department_id=" .. C, 403)
      report("m", "department", "?department_id=1", 403)
      report("m", "organisation", "", 403)
      report("m", "gaps", "?department_id=" .. C, 403)
      report("v", "employee", "?employee_id=" .. id.e3, 200)
      report("v", "department", "?department_id=" .. C, 200)
      report("v", "organisation", "", 200)
      local status = srv:api("GET", "/reports/employee", nil, false)
      assert.equal(401, status)
    end)

    it("answers 422 naming the parameter at fault, and 404 for a report that does not exist", function()
      local cases = {
        { "employee", "?period=2026-13", "period" },
        { "employee", "?period=november", "period" },
        { "employee", "?format=pdf", "format" },
        { "employee", "?lang=de", "lang" },
        { "employee", "?employee_id=abc", "employee_id" },
        { "employee", "?employee_id=999999", "employee_id" },
        { "employee", "?department_id=" .. A, "department_id" },
        { "employee", "?color=red", "color" },
        { "department", "", "department_id" },
        { "department", "?department_id=999999", "department_id" },
        { "gaps", "?by=colour", "by" },
      }
      for _, case in ipairs(cases) do
        local status, body = report("v", case[1], case[2])
        H.check_error(status, body, 422, "invalid", case[3])
      end
      local status, body = report("v", "weekly", "")
      H.check_error(status, body, 404, "not_found")
    end)
  end)

  describe("the monthly run", function()
    it("mails every report with its HTML and the CSV attached, once a month", function()
      -- e3 reads English; e2's report was sent already by a run cut short
      srv:expect(200, "PATCH", "/employees/" .. id.e3, { lang = "en" })
      H.sql(srv.db, ("INSERT INTO report_sent (report, period, recipient_id, subject_id, sent_at) "
        .. "VALUES ('employee', '2026-11', %d, %d, 0)"):format(id.e2, id.e2))
      set_clock(DEC_1_DUE)
      -- the second run: the first caught up with October when the clock jumped past 2 November
      local run = srv:wait_job_runs("reports", 2, 20)[1]
      assert.equal("ok", run.state)
      assert.equal("schedule", run.trigger)
      local s = run.summary
      assert.same({ "2026-11", 5, 1, 1, 7, 0, 1 }, { s.period, s.employees, s.departments,
        s.advisers, s.mails, s.errors, s.skipped })
      assert.is_number(s.longest_step_us)

      -- Other mails arrived before: the course's, and the October reports of the run that
      -- caught up when the clock jumped past 2 November. November's have their CSV attached.
      local parsed = {}
      local function november()
        local out = {}
        for _, file in ipairs(MK.received(dir)) do
          parsed[file] = parsed[file] or MK.parse(file)
          local csv = part(parsed[file], "text/csv")
          if csv and type(csv.filename) == "string" and csv.filename:find("%-2026%-11%.csv$") then
            out[#out + 1] = parsed[file]
          end
        end
        return out
      end
      H.wait_for("7 report mails", 20, function() return #november() >= 7 end)
      local got = november()
      assert.equal(7, #got)
      local before = #MK.received(dir)
      local function mail(to, subject)
        for _, x in ipairs(got) do
          if x.envelope.rcpt_tos[1] == to and x.headers.subject == subject then return x end
        end
        error(("no mail to %s with the subject %q"):format(to, subject), 2)
      end
      local emails = {}
      for _, who in ipairs({ "m", "v", "e1", "e2", "e3" }) do
        emails[who] = srv:expect(200, "GET", "/employees/" .. id[who]).email
      end
      for _, x in ipairs(got) do
        assert.is_true(x.envelope.rcpt_tos[1] ~= emails.e2, "e2 was sent to already")
      end

      local m = mail(emails.e1, "Din månedsrapport for november 2026")
      assert.equal("multipart/mixed", m.content_type)
      assert.same({}, m.defects)
      local text = assert(part(m, "text/plain"), "no text part")
      assert.truthy(text.text:find("Hei Eva Én,", 1, true))
      assert.truthy(text.text:find("Du har 1 åpne gap av 2 krav, med gapsum 2.", 1, true))
      local html = assert(part(m, "text/html"), "no HTML part")
      assert.truthy(html.text:find("<h2>Månedsrapport for Eva Én – november 2026</h2>", 1, true))
      assert.truthy(html.text:find("Meld deg på «Gerica: lese journal» (10.12.2026, Rom 2).", 1, true))
      local csv = assert(part(m, "text/csv"), "no CSV attached")
      assert.equal("attachment", csv.disposition)
      assert.equal("evne-employee-2026-11.csv", csv.filename)
      local parts = csv_parts(csv.text)
      assert.same({ "Gerica", "Lese journal", "2", "0", "2", "ikke vurdert" }, parts[1][3])
      assert.same({ "Gerica", "Skrive journal", "1", "3", "3", "0", "egenvurdering", "10.11.2026" },
        parts[2][3])

      m = mail(emails.e3, "Your monthly report for November 2026")
      assert.truthy(part(m, "text/html").text:find("Monthly report for Åse &lt;Tre&gt; – November 2026", 1, true))
      assert.truthy(part(m, "text/plain").text:find("You have 2 open gaps of 2 requirements", 1, true))

      -- the manager: her own report and her department's
      mail(emails.m, "Din månedsrapport for november 2026")
      local dept = mail(emails.m, "Månedsrapport for Helse & omsorg – november 2026")
      local dcsv = csv_parts(part(dept, "text/csv").text)
      assert.same({ "Helse & omsorg", "3", "2", "4", "2", "1", "3", "50" }, dcsv[1][2])
      assert.equal("evne-department-2026-11.csv", part(dept, "text/csv").filename)
      assert.truthy(part(dept, "text/plain").text:find("3 ansatte, dekning 50 %, gapsum 3", 1, true))

      -- the adviser: her own report and the organisation's
      mail(emails.v, "Din månedsrapport for november 2026")
      local org = mail(emails.v, "Månedsrapport for organisasjonen – november 2026")
      local ocsv = csv_parts(part(org, "text/csv").text)
      assert.same({ "Hele organisasjonen", "6", "3", "6", "4", "3", "8", "33,3" }, ocsv[1][2])

      assert.equal("8", (H.sql(srv.db, "SELECT count(*) FROM report_sent WHERE period = '2026-11'")
        :gsub("%s+", "")))

      -- again for the same month: everyone is skipped, nothing is sent
      local again = srv:expect(202, "POST", "/admin/jobs/reports/run")
      local done = srv:wait_run(again.id, 20)
      assert.equal("ok", done.state)
      assert.same({ 0, 8, 0 }, { done.summary.mails, done.summary.skipped, done.summary.errors })
      socket.sleep(2.5)   -- longer than the delivery worker's tick
      assert.equal(before, #MK.received(dir))
      assert.equal(7, #november())
    end)
  end)
end)
