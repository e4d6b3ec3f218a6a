-- reports/employee.lua: an employee's monthly report: my gaps, what changed this month, the
-- courses proposed to me and my next steps. Mailed to every active employee each month, and
-- shown on demand (GET /api/v1/reports/employee, the page /reports/monthly/employee).
--
-- evne calls render(data, out); docs/rules.md lists every field of data. In short:
--   data.lang            "nb" or "en": the language to write in
--   data.period          "2026-11": the month reported
--   data.generated_at    when the report was made (ISO time, UTC)
--   data.employee        { id, name, email, department, position_title }
--   data.summary         { demanded, open_gaps, unassessed, gap_sum, coverage }
--   data.gaps            my open gaps: { system, requirement, required, actual, gap, class,
--                        unassessed, assessed_at }, by system
--   data.changes         what was assessed in the month: { system, requirement, before, after,
--                        source, recorded_at, required, gap_before, gap_after }
--                        (before is nil when it had never been assessed)
--   data.changes_summary { assessed, gaps_closed, gap_change }
--   data.proposals       courses the matching policy proposes: { course_id, title, starts_at,
--                        place, reason, priority } (starts_at and place nil without a session)
--   data.next_steps      { kind = "answer_invitation" | "attend" | "evaluate" | "assess" |
--                        "enrol", course, starts_at, place, count }
-- out:write, out:html and out:csv_row as in reports/gaps.lua; dates, months, percentages and
-- the HTML pieces come from lib/report_format.lua.

local fmt = require("report_format")
local date, month, percent = fmt.date, fmt.month, fmt.percent
local cells, heading, para = fmt.cells, fmt.heading, fmt.para
local table_start, table_body, table_end = fmt.table_start, fmt.table_body, fmt.table_end

local report = {
  name = "employee",
  title = "Månedsrapport for ansatt",
  params = {
    { name = "employee_id", title = "Ansatt" },
    { name = "period", title = "Måned (ÅÅÅÅ-MM)" },
    { name = "lang", title = "Språk", choices = { "nb", "en" }, default = "nb" },
  },
  formats = { "html", "csv" },
}

local words = {
  nb = {
    heading = "Månedsrapport for %s – %s",
    made = "Laget %s.",
    department = "Avdeling: %s",
    gaps = "Mine kompetansegap",
    gaps_summary = "Du har %d åpne gap av %d krav, med gapsum %d og dekning %s.",
    unassessed = "%d av kravene har ingen vurdert ennå.",
    no_gaps = "Du har ingen åpne gap. Bra!",
    system = "System",
    requirement = "Krav",
    required = "Kreves",
    level = "Nivå nå",
    gap = "Gap",
    assessed = "Sist vurdert",
    not_assessed = "ikke vurdert",
    changes = "Hva som har endret seg i %s",
    changes_summary = "%d krav vurdert, %d gap lukket, gapsum endret med %s.",
    no_changes = "Ingen vurderinger i %s.",
    before = "Før",
    after = "Etter",
    source = "Kilde",
    date = "Dato",
    never = "–",
    sources = { self = "egenvurdering", appraisal = "medarbeidersamtale", course = "kurs",
                test = "test" },
    proposals = "Kurs foreslått for meg",
    no_proposals = "Ingen kurs å foreslå nå.",
    course = "Kurs",
    session = "Neste kurs",
    place = "Sted",
    why = "Hvorfor",
    no_session = "ingen dato ennå",
    steps = "Mine neste steg",
    no_steps = "Ingenting du trenger å gjøre nå.",
    step = {
      answer_invitation = "Svar på invitasjonen til «%s» %s.",
      attend = "Møt opp på «%s» %s.",
      evaluate = "Evaluer kurset «%s».",
      assess = "Vurder deg selv på %d krav som ingen har vurdert ennå.",
      assess_one = "Vurder deg selv på det ene kravet som ingen har vurdert ennå.",
      enrol = "Meld deg på «%s»%s.",
    },
    on = "%s",
    at_place = "%s, %s",
    section = "Del",
    sections = { gaps = "Gap", changes = "Endringer", proposals = "Kursforslag",
                 steps = "Neste steg" },
    csv_value = "Merknad",
  },
  en = {
    heading = "Monthly report for %s – %s",
    made = "Made %s.",
    department = "Department: %s",
    gaps = "My competence gaps",
    gaps_summary = "You have %d open gaps of %d requirements, with a gap sum of %d and a "
      .. "coverage of %s.",
    unassessed = "%d of the requirements have not been assessed by anyone yet.",
    no_gaps = "You have no open gaps. Well done!",
    system = "System",
    requirement = "Requirement",
    required = "Required",
    level = "Level now",
    gap = "Gap",
    assessed = "Last assessed",
    not_assessed = "not assessed",
    changes = "What changed in %s",
    changes_summary = "%d requirements assessed, %d gaps closed, gap sum changed by %s.",
    no_changes = "No assessments in %s.",
    before = "Before",
    after = "After",
    source = "Source",
    date = "Date",
    never = "–",
    sources = { self = "self-assessment", appraisal = "appraisal", course = "course",
                test = "test" },
    proposals = "Courses proposed to me",
    no_proposals = "No course to propose now.",
    course = "Course",
    session = "Next session",
    place = "Place",
    why = "Why",
    no_session = "no date yet",
    steps = "My next steps",
    no_steps = "Nothing you need to do now.",
    step = {
      answer_invitation = "Answer the invitation to “%s” %s.",
      attend = "Attend “%s” %s.",
      evaluate = "Evaluate the course “%s”.",
      assess = "Assess yourself on the %d requirements nobody has assessed yet.",
      assess_one = "Assess yourself on the one requirement nobody has assessed yet.",
      enrol = "Sign up for “%s”%s.",
    },
    on = "%s",
    at_place = "%s, %s",
    section = "Part",
    sections = { gaps = "Gaps", changes = "Changes", proposals = "Course proposals",
                 steps = "Next steps" },
    csv_value = "Note",
  },
}

-- The change of the gap sum: "+2", "-1", and "0" without a sign.
local function signed(n)
  if n == 0 then return "0" end
  return fmt.signed(n)
end

-- The text of one next step.
local function step_text(step, w, lang)
  local when = date(step.starts_at, lang)
  if step.place and step.place ~= "" and when ~= "" then
    when = w.at_place:format(when, step.place)
  end
  if step.kind == "assess" then
    return step.count == 1 and w.step.assess_one or w.step.assess:format(step.count)
  elseif step.kind == "enrol" then
    return w.step.enrol:format(step.course, when ~= "" and (" (" .. when .. ")") or "")
  elseif step.kind == "evaluate" then
    return w.step.evaluate:format(step.course)
  end
  return (w.step[step.kind] or "%s %s"):format(step.course or "", when)
end

local function render_html(data, out)
  local w, lang = fmt.pick(words, data.lang), data.lang
  local s = data.summary
  out:write('<section class="report report-employee">\n<h2>')
  out:html(w.heading:format(data.employee.name, month(data.period, lang)))
  out:write("</h2>\n<p>")
  if data.employee.department ~= "" then
    out:html(w.department:format(data.employee.department))
    out:write(". ")
  end
  out:html(w.made:format(date(data.generated_at, lang)))
  out:write("</p>\n")

  heading(out, w.gaps)
  out:write("<p>")
  if #data.gaps == 0 then
    out:html(w.no_gaps)
  else
    out:html(w.gaps_summary:format(s.open_gaps, s.demanded, s.gap_sum, percent(s.coverage, lang)))
    if s.unassessed > 0 then
      out:write(" ")
      out:html(w.unassessed:format(s.unassessed))
    end
  end
  out:write("</p>\n")
  if #data.gaps > 0 then
    table_start(out)
    cells(out, 'th scope="col"', { w.system, w.requirement })
    cells(out, 'th scope="col" class="num"', { w.required, w.level, w.gap })
    cells(out, 'th scope="col"', { w.assessed })
    table_body(out)
    for _, g in ipairs(data.gaps) do
      out:write("<tr>")
      cells(out, "td", { g.system, g.requirement })
      cells(out, "td", { g.required, g.actual, g.gap }, "num")
      cells(out, "td", { g.unassessed and w.not_assessed or date(g.assessed_at, lang) })
      out:write("</tr>\n")
    end
    table_end(out)
  end

  local m = month(data.period, lang)
  heading(out, w.changes:format(m))
  out:write("<p>")
  if #data.changes == 0 then
    out:html(w.no_changes:format(m))
  else
    local cs = data.changes_summary
    out:html(w.changes_summary:format(cs.assessed, cs.gaps_closed, signed(cs.gap_change)))
  end
  out:write("</p>\n")
  if #data.changes > 0 then
    table_start(out)
    cells(out, 'th scope="col"', { w.system, w.requirement })
    cells(out, 'th scope="col" class="num"', { w.before, w.after, w.required, w.gap })
    cells(out, 'th scope="col"', { w.source, w.date })
    table_body(out)
    for _, c in ipairs(data.changes) do
      out:write("<tr>")
      cells(out, "td", { c.system, c.requirement })
      cells(out, "td", { c.before or w.never, c.after, c.required, c.gap_after }, "num")
      cells(out, "td", { w.sources[c.source] or c.source, date(c.recorded_at, lang) })
      out:write("</tr>\n")
    end
    table_end(out)
  end

  heading(out, w.proposals)
  if #data.proposals == 0 then
    para(out, w.no_proposals)
  else
    table_start(out)
    cells(out, 'th scope="col"', { w.course, w.session, w.place, w.why })
    table_body(out)
    for _, p in ipairs(data.proposals) do
      out:write("<tr>")
      cells(out, "td", { p.title, p.starts_at and date(p.starts_at, lang) or w.no_session,
                         p.place or "", p.reason })
      out:write("</tr>\n")
    end
    table_end(out)
  end

  heading(out, w.steps)
  if #data.next_steps == 0 then
    para(out, w.no_steps)
  else
    out:write("<ol>\n")
    for _, step in ipairs(data.next_steps) do
      out:write("<li>")
      out:html(step_text(step, w, lang))
      out:write("</li>\n")
    end
    out:write("</ol>\n")
  end
  out:write("</section>\n")
end

-- CSV: one part after the other, each with its own heading row, an empty line between them.
local function render_csv(data, out)
  local w, lang = fmt.pick(words, data.lang), data.lang
  out:csv_row({ w.sections.gaps, data.employee.name, month(data.period, lang) })
  out:csv_row({ w.system, w.requirement, w.required, w.level, w.gap, w.assessed })
  for _, g in ipairs(data.gaps) do
    out:csv_row({ g.system, g.requirement, g.required, g.actual, g.gap,
                  g.unassessed and w.not_assessed or date(g.assessed_at, lang) })
  end
  out:csv_row({})
  out:csv_row({ w.sections.changes })
  out:csv_row({ w.system, w.requirement, w.before, w.after, w.required, w.gap, w.source, w.date })
  for _, c in ipairs(data.changes) do
    out:csv_row({ c.system, c.requirement, c.before or "", c.after, c.required, c.gap_after,
                  w.sources[c.source] or c.source, date(c.recorded_at, lang) })
  end
  out:csv_row({})
  out:csv_row({ w.sections.proposals })
  out:csv_row({ w.course, w.session, w.place, w.why })
  for _, p in ipairs(data.proposals) do
    out:csv_row({ p.title, date(p.starts_at, lang), p.place or "", p.reason })
  end
  out:csv_row({})
  out:csv_row({ w.sections.steps })
  for _, step in ipairs(data.next_steps) do
    out:csv_row({ step_text(step, w, lang) })
  end
end

function report.render(data, out)
  if out.format == "csv" then
    render_csv(data, out)
  else
    render_html(data, out)
  end
end

-- Examples: `evne check-rules` renders args[1] in the format and compares the text.
local example = {
  lang = "nb", period = "2026-11", generated_at = "2026-12-01T06:00:00Z",
  employee = { id = 5, name = "Per <Hansen>", email = "per@example.no",
               department = "Hjemmetjenesten", position_title = "" },
  summary = { demanded = 12, open_gaps = 2, unassessed = 1, gap_sum = 3, coverage = 10 / 12 },
  gaps = {
    { system = "Gerica", requirement = "Skrive journal", required = 3, actual = 1, gap = 2,
      class = "major", unassessed = false, assessed_at = "2026-11-03T09:00:00Z" },
    { system = "Gerica", requirement = "Lese journal", required = 1, actual = 0, gap = 1,
      class = "minor", unassessed = true },
  },
  changes = {
    { system = "Gerica", requirement = "Skrive journal", after = 1, source = "self",
      recorded_at = "2026-11-03T09:00:00Z", required = 3, gap_before = 3, gap_after = 2 },
  },
  changes_summary = { assessed = 1, gaps_closed = 0, gap_change = -1 },
  proposals = {
    { course_id = 2, title = "Gerica journal", starts_at = "2026-12-10T08:00:00Z",
      place = "Rom 3", reason = "Tetter kompetansegap på 2 nivåer", priority = 2 },
  },
  next_steps = {
    { kind = "assess", count = 1 },
    { kind = "enrol", course = "Gerica journal", starts_at = "2026-12-10T08:00:00Z",
      place = "Rom 3" },
  },
}

report.examples = {
  {
    name = "HTML: the gaps, the month's changes, a proposal and the next steps, names escaped",
    args = { example },
    format = "html",
    contains = {
      "<h2>Månedsrapport for Per &lt;Hansen&gt; – november 2026</h2>",
      "Du har 2 åpne gap av 12 krav, med gapsum 3 og dekning 83,3 %.",
      '<td>Gerica</td><td>Lese journal</td><td class="num">1</td><td class="num">0</td>'
        .. '<td class="num">1</td><td>ikke vurdert</td>',
      '<td class="num">–</td><td class="num">1</td><td class="num">3</td><td class="num">2</td>'
        .. "<td>egenvurdering</td><td>03.11.2026</td>",
      "<li>Vurder deg selv på det ene kravet som ingen har vurdert ennå.</li>",
      "<li>Meld deg på «Gerica journal» (10.12.2026, Rom 3).</li>",
    },
  },
  {
    name = "CSV: each part with its heading row",
    args = { example },
    format = "csv",
    contains = {
      "System;Krav;Kreves;Nivå nå;Gap;Sist vurdert\r\nGerica;Skrive journal;3;1;2;03.11.2026\r\n",
      "Gerica;Skrive journal;;1;3;2;egenvurdering;03.11.2026\r\n",
      "Gerica journal;10.12.2026;Rom 3;Tetter kompetansegap på 2 nivåer\r\n",
    },
  },
}

return report
