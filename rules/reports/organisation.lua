-- reports/organisation.lua: the whole organisation for the advisers, each month: the totals and
-- their trend, every system and every department.
--
-- evne calls render(data, out); docs/rules.md lists every field of data. In short:
--   data.lang, data.period ("2026-11"), data.generated_at (ISO, UTC)
--   data.summary      the whole organisation: { employees, employees_with_gaps, demanded,
--                     open_gaps, unassessed, gap_sum, coverage }
--   data.trend        up to 12 months, oldest first: { period, coverage, gap_sum, open_gaps, ... }
--   data.change       { since, coverage, gap_sum, open_gaps }, or nil
--   data.systems      every system as a roll-up row, largest gap sum first
--   data.departments  every department as a roll-up row (each with its subtree), in tree order
--                     (by name under each parent), with depth (0 for the top) and parent_id
-- out:write, out:html and out:csv_row as in reports/gaps.lua; dates, the HTML pieces, the
-- roll-up tables and the status and trend parts come from lib/report_format.lua.

local fmt = require("report_format")

local report = {
  name = "organisation",
  title = "Månedsrapport for organisasjonen",
  params = {
    { name = "period", title = "Måned (ÅÅÅÅ-MM)" },
    { name = "lang", title = "Språk", choices = { "nb", "en" }, default = "nb" },
  },
  formats = { "html", "csv" },
}

-- Departments this deep and deeper are left out of the HTML (they are all in the CSV), so that
-- a mail to the advisers stays readable in a large municipality.
local HTML_DEPTH = 2

local words = {
  nb = {
    heading = "Kompetanse i organisasjonen – %s",
    made = "Laget %s.",
    systems = "Per system",
    departments = "Per avdeling",
    departments_note = "Avdelingene på de to øverste nivåene; CSV-filen har alle.",
    none = "Ingen.",
    system = "System",
    department = "Avdeling",
    level = "Nivå",
    organisation = "Hele organisasjonen",
  },
  en = {
    heading = "Competence across the organisation – %s",
    made = "Made %s.",
    systems = "By system",
    departments = "By department",
    departments_note = "The departments of the two top levels; the CSV file has all of them.",
    none = "None.",
    system = "System",
    department = "Department",
    level = "Level",
    organisation = "The whole organisation",
  },
}

-- A department's row in HTML: indented with its level, readable without the style too; nil
-- for a department too deep to show.
local function department_row(d)
  if d.depth >= HTML_DEPTH then return nil end
  return { ("– "):rep(d.depth) .. d.name }
end

local function render_html(data, out)
  local w, lang = fmt.pick(words, data.lang), data.lang
  out:write('<section class="report report-organisation">\n<h2>')
  out:html(w.heading:format(fmt.month(data.period, lang)))
  out:write("</h2>\n")
  fmt.para(out, w.made:format(fmt.date(data.generated_at, lang)))

  fmt.status(out, lang, data.summary, data.change)
  fmt.trend(out, lang, data.trend)

  fmt.heading(out, w.systems)
  if #data.systems == 0 then
    fmt.para(out, w.none)
  else
    fmt.rollup_table(out, lang, { w.system }, data.systems, function(r) return { r.name } end)
  end

  fmt.heading(out, w.departments)
  if #data.departments == 0 then
    fmt.para(out, w.none)
  else
    local deep = false
    for _, d in ipairs(data.departments) do deep = deep or d.depth >= HTML_DEPTH end
    if deep then fmt.para(out, w.departments_note) end
    fmt.rollup_table(out, lang, { w.department }, data.departments, department_row)
  end
  out:write("</section>\n")
end

local function render_csv(data, out)
  local w, lang = fmt.pick(words, data.lang), data.lang
  out:csv_row(fmt.rollup_heading(lang, { "" }))
  out:csv_row(fmt.rollup_cells({ w.organisation }, data.summary))
  out:csv_row({})
  fmt.trend_csv(out, lang, data.trend)
  out:csv_row({})
  out:csv_row(fmt.rollup_heading(lang, { w.system }))
  for _, r in ipairs(data.systems) do out:csv_row(fmt.rollup_cells({ r.name }, r)) end
  out:csv_row({})
  out:csv_row(fmt.rollup_heading(lang, { w.department, w.level }))
  for _, r in ipairs(data.departments) do
    out:csv_row(fmt.rollup_cells({ r.name, r.depth + 1 }, r))
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
local function row(name, depth, gap_sum, coverage)
  return { id = 1, name = name, depth = depth, employees = 10, employees_with_gaps = 4,
           demanded = 100, open_gaps = 30, unassessed = 5, gap_sum = gap_sum,
           coverage = coverage }
end

local example = {
  lang = "en", period = "2026-11", generated_at = "2026-12-01T06:00:00Z",
  summary = row(nil, nil, 120, 0.7),
  trend = { { period = "2026-11", coverage = 0.68, gap_sum = 130, open_gaps = 32 } },
  change = { since = "2026-11", coverage = 0.02, gap_sum = -10, open_gaps = -2 },
  systems = { row("Gerica", nil, 80, 0.55) },
  departments = { row("Kommunen", 0, 120, 0.7), row("Helse & omsorg", 1, 90, 0.6),
                  row("Natt", 2, 20, 0.5) },
}

report.examples = {
  {
    name = "HTML in English: the two top levels of departments, indented",
    args = { example },
    format = "html",
    contains = {
      "<h2>Competence across the organisation – November 2026</h2>",
      "<p>Since November 2026: coverage +2.0 percentage points, gap sum -10.</p>",
      '<tr><th scope="row">– Helse &amp; omsorg</th><td class="num">10</td>',
      "The departments of the two top levels; the CSV file has all of them.",
    },
  },
  {
    name = "CSV: every department with its level",
    args = { example },
    format = "csv",
    contains = {
      "The whole organisation;10;4;100;30;5;120;70\r\n",
      "Gerica;10;4;100;30;5;80;55\r\n",
      "Natt;3;10;4;100;30;5;20;50\r\n",
    },
  },
}

return report
