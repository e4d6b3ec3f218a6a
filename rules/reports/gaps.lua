-- reports/gaps.lua: the gap roll-up as a table, in HTML and for Excel (CSV).
--
-- evne calls render(data, out) with
--   data  { title = the report's heading, by = "employee" | "department" | "profile" |
--           "system" | "requirement",
--           rows = { { id, name, employees, employees_with_gaps, demanded, open_gaps,
--                      unassessed, gap_sum, coverage }, ... } }
--         (coverage is a fraction: 0.75 means 75 %)
--   out   where the report is written:
--           out.format      "html" or "csv": which one is asked for
--           out:write(text) writes text as it is (your own HTML tags)
--           out:html(text)  writes text escaped for HTML: use it for every name and number
--           out:csv_row({ cell, ... }) writes one CSV line: semicolons, quotes where needed,
--                                      a decimal comma in numbers with a fraction
-- docs/rules.md describes report layouts; lib/report_format.lua has the helpers used here.

local fmt = require("report_format")

local report = {
  name = "gaps",
  title = "Kompetansegap",
  params = {
    { name = "by", title = "Vis per",
      choices = { "department", "employee", "profile", "system", "requirement" },
      default = "department" },
  },
  formats = { "html", "csv" },
}

-- What the first column is called, by dimension.
local dimension = {
  employee = "Ansatt",
  department = "Avdeling",
  profile = "Kompetanseprofil",
  system = "System",
  requirement = "Krav",
}

-- The columns after the name are the roll-up's counts and coverage (fmt.COUNTS, with the
-- titles of fmt.words.nb.col); the CSV writes coverage in percent.
local function render_csv(data, out)
  out:csv_row(fmt.rollup_heading("nb", { dimension[data.by] or "Navn" }))
  for _, row in ipairs(data.rows) do
    out:csv_row(fmt.rollup_cells({ row.name }, row))
  end
end

local function render_html(data, out)
  local col = fmt.words.nb.col
  out:write('<table class="report">\n<caption>')
  out:html(data.title or report.title)
  out:write('</caption>\n<thead><tr><th scope="col">')
  out:html(dimension[data.by] or "Navn")
  out:write("</th>")
  for _, key in ipairs(fmt.COUNTS) do
    out:write('<th scope="col" class="num">')
    out:html(col[key])
    out:write("</th>")
  end
  out:write('<th scope="col" class="num">')
  out:html(col.coverage)
  out:write("</th></tr></thead>\n<tbody>\n")
  for _, row in ipairs(data.rows) do
    fmt.row_head(out, row.name)
    for _, key in ipairs(fmt.COUNTS) do
      out:write('<td class="num">')
      out:html(row[key])
      out:write("</td>")
    end
    out:write('<td class="num">')
    out:html(fmt.percent(row.coverage, "nb"))
    out:write("</td></tr>\n")
  end
  out:write("</tbody>\n</table>\n")
end

function report.render(data, out)
  if out.format == "csv" then
    render_csv(data, out)
  else
    render_html(data, out)
  end
end

-- Examples: `evne check-rules` renders args[1] in the format and compares the text.
local data = {
  title = "Kompetansegap per avdeling",
  by = "department",
  rows = {
    { id = 2, name = "Helse og omsorg", employees = 18, employees_with_gaps = 17, demanded = 234,
      open_gaps = 115, unassessed = 24, gap_sum = 190, coverage = 0.508547008547009 },
    { id = 7, name = "Drift; IT & <support>", employees = 3, employees_with_gaps = 0,
      demanded = 0, open_gaps = 0, unassessed = 0, gap_sum = 0, coverage = 1 },
  },
}

report.examples = {
  {
    name = "CSV for Excel: semicolons, a decimal comma, quotes where needed",
    args = { data },
    format = "csv",
    expect = "Avdeling;Ansatte;Ansatte med gap;Krav stilt;Åpne gap;Ikke vurdert;Gapsum;"
      .. "Dekning (%)\r\n"
      .. "Helse og omsorg;18;17;234;115;24;190;50,9\r\n"
      .. "\"Drift; IT & <support>\";3;0;0;0;0;0;100\r\n",
  },
  {
    name = "HTML: names escaped, coverage in percent",
    args = { data },
    format = "html",
    contains = {
      "<caption>Kompetansegap per avdeling</caption>",
      '<th scope="row">Drift; IT &amp; &lt;support&gt;</th>',
      '<td class="num">50,9 %</td>',
      '<td class="num">100,0 %</td>',
    },
  },
}

return report
