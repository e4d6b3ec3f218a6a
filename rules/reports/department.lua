-- reports/department.lua: a department's monthly report to its manager: coverage and gap sum
-- and their trend, who has not assessed themselves, the largest gaps by system and requirement,
-- and the courses attended with their effect. Counts include the sub-departments.
--
-- evne calls render(data, out); docs/rules.md lists every field of data. In short:
--   data.lang, data.period ("2026-11"), data.generated_at (ISO, UTC)
--   data.department   { id, name, parent_id, manager = { id, name } or nil }
--   data.summary      the department's roll-up: { employees, employees_with_gaps, demanded,
--                     open_gaps, unassessed, gap_sum, coverage }
--   data.trend        up to 12 months, oldest first: { period, coverage, gap_sum, open_gaps, ... }
--   data.change       { since = "2026-10", coverage, gap_sum, open_gaps }: now minus that month's
--                     snapshot; nil when there is no earlier snapshot
--   data.not_assessed { name, department, unassessed, demanded, open_gaps,
--                     last_self_assessment }, most unassessed first (at most 100);
--                     data.not_assessed_total says how many there are in all
--   data.systems      every system demanded here, as roll-up rows, largest gap sum first
--   data.requirements the 10 requirements with the largest gap sum: rows with system, requirement
--   data.courses      { title, attendees, in_period, last_session_at, effect = { attendees,
--                     targeted_gap_before, targeted_gap_after, gap_closed, share_closed } }
--                     (the effect is over all the course's attendees, not only this department's)
-- out:write, out:html and out:csv_row as in reports/gaps.lua; dates, percentages, the HTML
-- pieces, the roll-up tables and the status and trend parts come from lib/report_format.lua.

local fmt = require("report_format")
local date, month, percent, pct_number = fmt.date, fmt.month, fmt.percent, fmt.pct_number
local cells, heading, para = fmt.cells, fmt.heading, fmt.para
local table_start, table_body, table_end = fmt.table_start, fmt.table_body, fmt.table_end
local row_head = fmt.row_head

local report = {
  name = "department",
  title = "Månedsrapport for avdeling",
  params = {
    { name = "department_id", title = "Avdeling" },
    { name = "period", title = "Måned (ÅÅÅÅ-MM)" },
    { name = "lang", title = "Språk", choices = { "nb", "en" }, default = "nb" },
  },
  formats = { "html", "csv" },
}

local words = {
  nb = {
    heading = "Månedsrapport for %s – %s",
    made = "Laget %s. Tallene gjelder avdelingen med underavdelinger.",
    manager = "Leder: %s.",
    not_assessed = "Hvem som ikke har vurdert seg selv",
    not_assessed_text = "%d ansatte har krav som ingen har vurdert.",
    not_assessed_more = "Listen viser de %d med flest; CSV-filen viser de samme.",
    all_assessed = "Alle har vurdert alle kravene sine.",
    name = "Navn",
    department = "Avdeling",
    last_self = "Sist egenvurdert",
    never = "aldri",
    systems = "Største gap per system",
    requirements = "Største gap per krav",
    no_gaps = "Ingen åpne gap.",
    courses = "Kurs gjennomført og effekten av dem",
    no_courses = "Ingen fra avdelingen har gjennomført kurs ennå.",
    course = "Kurs",
    attendees = "Deltakere herfra",
    in_period = "I %s",
    last_session = "Siste kurs",
    closed = "Gap lukket (alle deltakere)",
    share = "Andel lukket",
    system = "System",
    requirement = "Krav",
    summary = "Status",
  },
  en = {
    heading = "Monthly report for %s – %s",
    made = "Made %s. The figures include the sub-departments.",
    manager = "Manager: %s.",
    not_assessed = "Who has not assessed themselves",
    not_assessed_text = "%d employees have requirements nobody has assessed.",
    not_assessed_more = "The list shows the %d with the most; so does the CSV file.",
    all_assessed = "Everyone has assessed all their requirements.",
    name = "Name",
    department = "Department",
    last_self = "Last self-assessment",
    never = "never",
    systems = "Largest gaps by system",
    requirements = "Largest gaps by requirement",
    no_gaps = "No open gaps.",
    courses = "Courses attended and their effect",
    no_courses = "Nobody from the department has attended a course yet.",
    course = "Course",
    attendees = "Attendees from here",
    in_period = "In %s",
    last_session = "Last session",
    closed = "Gap closed (all attendees)",
    share = "Share closed",
    system = "System",
    requirement = "Requirement",
    summary = "Status",
  },
}

local function render_html(data, out)
  local w, lang = fmt.pick(words, data.lang), data.lang
  local col = fmt.pick(fmt.words, lang).col
  local d = data.department
  out:write('<section class="report report-department">\n<h2>')
  out:html(w.heading:format(d.name, month(data.period, lang)))
  out:write("</h2>\n<p>")
  if d.manager then
    out:html(w.manager:format(d.manager.name))
    out:write(" ")
  end
  out:html(w.made:format(date(data.generated_at, lang)))
  out:write("</p>\n")

  fmt.status(out, lang, data.summary, data.change)
  fmt.trend(out, lang, data.trend)

  heading(out, w.not_assessed)
  if data.not_assessed_total == 0 then
    para(out, w.all_assessed)
  else
    para(out, w.not_assessed_text:format(data.not_assessed_total))
    if data.not_assessed_total > #data.not_assessed then
      para(out, w.not_assessed_more:format(#data.not_assessed))
    end
    table_start(out)
    cells(out, 'th scope="col"', { w.name, w.department })
    cells(out, 'th scope="col" class="num"', { col.unassessed, col.demanded })
    cells(out, 'th scope="col"', { w.last_self })
    table_body(out)
    for _, p in ipairs(data.not_assessed) do
      row_head(out, p.name)
      cells(out, "td", { p.department })
      cells(out, "td", { p.unassessed, p.demanded }, "num")
      cells(out, "td", { p.last_self_assessment and date(p.last_self_assessment, lang)
                         or w.never })
      out:write("</tr>\n")
    end
    table_end(out)
  end

  heading(out, w.systems)
  if #data.systems == 0 then
    para(out, w.no_gaps)
  else
    fmt.rollup_table(out, lang, { w.system }, data.systems, function(r) return { r.name } end)
  end

  heading(out, w.requirements)
  if #data.requirements == 0 then
    para(out, w.no_gaps)
  else
    fmt.rollup_table(out, lang, { w.requirement, w.system }, data.requirements,
                     function(r) return { r.requirement, r.system } end)
  end

  heading(out, w.courses)
  if #data.courses == 0 then
    para(out, w.no_courses)
  else
    table_start(out)
    cells(out, 'th scope="col"', { w.course })
    cells(out, 'th scope="col" class="num"', { w.attendees,
                                               w.in_period:format(month(data.period, lang)) })
    cells(out, 'th scope="col"', { w.last_session })
    cells(out, 'th scope="col" class="num"', { w.closed, w.share })
    table_body(out)
    for _, c in ipairs(data.courses) do
      local e = c.effect or {}
      row_head(out, c.title)
      cells(out, "td", { c.attendees, c.in_period }, "num")
      cells(out, "td", { date(c.last_session_at, lang) })
      cells(out, "td", { e.gap_closed or "", e.share_closed and percent(e.share_closed, lang)
                         or "" }, "num")
      out:write("</tr>\n")
    end
    table_end(out)
  end
  out:write("</section>\n")
end

-- CSV: one part after the other, each with its own heading row, an empty line between them.
local function render_csv(data, out)
  local w, lang = fmt.pick(words, data.lang), data.lang
  local col = fmt.pick(fmt.words, lang).col
  out:csv_row(fmt.rollup_heading(lang, { w.department }))
  out:csv_row(fmt.rollup_cells({ data.department.name }, data.summary))
  out:csv_row({})
  fmt.trend_csv(out, lang, data.trend)
  out:csv_row({})
  out:csv_row({ w.name, w.department, col.unassessed, col.demanded, w.last_self })
  for _, p in ipairs(data.not_assessed) do
    out:csv_row({ p.name, p.department, p.unassessed, p.demanded,
                  p.last_self_assessment and date(p.last_self_assessment, lang) or w.never })
  end
  out:csv_row({})
  out:csv_row(fmt.rollup_heading(lang, { w.system }))
  for _, r in ipairs(data.systems) do out:csv_row(fmt.rollup_cells({ r.name }, r)) end
  out:csv_row({})
  out:csv_row(fmt.rollup_heading(lang, { w.requirement, w.system }))
  for _, r in ipairs(data.requirements) do
    out:csv_row(fmt.rollup_cells({ r.requirement, r.system }, r))
  end
  out:csv_row({})
  out:csv_row({ w.course, w.attendees, w.in_period:format(data.period), w.last_session, w.closed,
                w.share .. " (%)" })
  for _, c in ipairs(data.courses) do
    local e = c.effect or {}
    out:csv_row({ c.title, c.attendees, c.in_period, date(c.last_session_at, lang),
                  e.gap_closed or "", e.share_closed and pct_number(e.share_closed) or "" })
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
local function row(name, gap_sum, coverage)
  return { id = 1, name = name, employees = 4, employees_with_gaps = 3, demanded = 40,
           open_gaps = 12, unassessed = 5, gap_sum = gap_sum, coverage = coverage }
end

local example = {
  lang = "nb", period = "2026-11", generated_at = "2026-12-01T06:00:00Z",
  department = { id = 3, name = "Hjemmetjenesten", manager = { id = 2, name = "Lise Leder" } },
  summary = row("Hjemmetjenesten", 20, 0.7),
  trend = {
    { period = "2026-10", coverage = 0.6, gap_sum = 26, open_gaps = 16 },
    { period = "2026-11", coverage = 0.65, gap_sum = 22, open_gaps = 14 },
  },
  change = { since = "2026-11", coverage = 0.05, gap_sum = -2, open_gaps = -2 },
  not_assessed = {
    { id = 9, name = "Kari; Nordmann", department = "Natt", unassessed = 5, demanded = 10,
      open_gaps = 6 },
  },
  not_assessed_total = 1,
  systems = { row("Gerica", 15, 0.6) },
  requirements = { { id = 11, name = "Skrive journal", requirement = "Skrive journal",
                     system = "Gerica", employees = 4, employees_with_gaps = 2, demanded = 4,
                     open_gaps = 2, unassessed = 1, gap_sum = 4, coverage = 0.5 } },
  courses = { { course_id = 2, title = "Gerica journal", attendees = 2, in_period = 1,
                last_session_at = "2026-11-12T08:00:00Z",
                effect = { attendees = 6, gap_closed = 5, share_closed = 0.625 } } },
}

report.examples = {
  {
    name = "HTML: status and change, trend, who has not assessed, largest gaps, courses",
    args = { example },
    format = "html",
    contains = {
      "<h2>Månedsrapport for Hjemmetjenesten – november 2026</h2>",
      "<p>Siden november 2026: dekning +5,0 prosentpoeng, gapsum -2.</p>",
      '<tr><th scope="row">oktober 2026</th><td class="num">60,0 %</td><td class="num">26</td>',
      '<tr><th scope="row">Kari; Nordmann</th><td>Natt</td><td class="num">5</td>'
        .. '<td class="num">10</td><td>aldri</td></tr>',
      '<tr><th scope="row">Skrive journal</th><td>Gerica</td><td class="num">4</td>',
      '<td class="num">5</td><td class="num">62,5 %</td>',
    },
  },
  {
    name = "CSV: parts with heading rows, percent as a number with a decimal comma",
    args = { example },
    format = "csv",
    contains = {
      "Avdeling;Ansatte;Ansatte med gap;Krav stilt;Åpne gap;Ikke vurdert;Gapsum;Dekning (%)\r\n"
        .. "Hjemmetjenesten;4;3;40;12;5;20;70\r\n",
      "2026-10;60;26;16\r\n2026-11;65;22;14\r\n",
      '"Kari; Nordmann";Natt;5;10;aldri\r\n',
      "Gerica journal;2;1;12.11.2026;5;62,5\r\n",
    },
  },
}

return report
