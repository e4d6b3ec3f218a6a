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
-- out:write, out:html and out:csv_row as in reports/gaps.lua.

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
    months = { "januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
               "september", "oktober", "november", "desember" },
    status = "Status nå",
    status_text = "%d ansatte, %d av dem med gap. Dekning %s, gapsum %d (%d åpne gap av %d "
      .. "krav stilt, %d ikke vurdert).",
    change = "Siden %s: dekning %s prosentpoeng, gapsum %s.",
    no_change = "Ingen tidligere måned å sammenligne med ennå.",
    trend = "Utvikling per måned",
    no_trend = "Ingen månedstall ennå.",
    month = "Måned",
    systems = "Per system",
    departments = "Per avdeling",
    departments_note = "Avdelingene på de to øverste nivåene; CSV-filen har alle.",
    none = "Ingen.",
    system = "System",
    department = "Avdeling",
    level = "Nivå",
    col = { employees = "Ansatte", employees_with_gaps = "Ansatte med gap",
            demanded = "Krav stilt", open_gaps = "Åpne gap", unassessed = "Ikke vurdert",
            gap_sum = "Gapsum", coverage = "Dekning" },
    coverage_pct = "Dekning (%)",
    organisation = "Hele organisasjonen",
  },
  en = {
    heading = "Competence across the organisation – %s",
    made = "Made %s.",
    months = { "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December" },
    status = "Where we stand",
    status_text = "%d employees, %d of them with gaps. Coverage %s, gap sum %d (%d open gaps of "
      .. "%d requirements demanded, %d not assessed).",
    change = "Since %s: coverage %s percentage points, gap sum %s.",
    no_change = "No earlier month to compare with yet.",
    trend = "Month by month",
    no_trend = "No monthly figures yet.",
    month = "Month",
    systems = "By system",
    departments = "By department",
    departments_note = "The departments of the two top levels; the CSV file has all of them.",
    none = "None.",
    system = "System",
    department = "Department",
    level = "Level",
    col = { employees = "Employees", employees_with_gaps = "Employees with gaps",
            demanded = "Demanded", open_gaps = "Open gaps", unassessed = "Not assessed",
            gap_sum = "Gap sum", coverage = "Coverage" },
    coverage_pct = "Coverage (%)",
    organisation = "The whole organisation",
  },
}

local COUNTS = { "employees", "employees_with_gaps", "demanded", "open_gaps", "unassessed",
                 "gap_sum" }

local function words_of(data)
  return words[data.lang] or words.nb
end

local function date(iso, lang)
  if not iso then return "" end
  local y, m, d = tostring(iso):match("^(%d%d%d%d)-(%d%d)-(%d%d)")
  if not y then return tostring(iso) end
  if lang == "en" then return y .. "-" .. m .. "-" .. d end
  return d .. "." .. m .. "." .. y
end

local function month(period, w)
  local y, m = tostring(period):match("^(%d%d%d%d)-(%d%d)$")
  if not y then return tostring(period) end
  return w.months[tonumber(m)] .. " " .. y
end

local function pct_number(x)
  return math.floor(x * 1000 + 0.5) / 10
end

local function percent(x, lang)
  local s = ("%.1f"):format(pct_number(x))
  if lang == "en" then return s .. "%" end
  return (s:gsub("%.", ",")) .. " %"
end

local function signed(x, lang, decimals)
  local s = decimals and ("%+." .. decimals .. "f"):format(x) or ("%+d"):format(x)
  if lang ~= "en" then s = s:gsub("%.", ",") end
  return s
end

local function cells(out, tag, list, class)
  for _, v in ipairs(list) do
    out:write("<" .. tag .. (class and (' class="' .. class .. '"') or "") .. ">")
    out:html(v)
    out:write("</" .. tag .. ">")
  end
end

local function para(out, text)
  out:write("<p>")
  out:html(text)
  out:write("</p>\n")
end

local function heading(out, text)
  out:write("<h3>")
  out:html(text)
  out:write("</h3>\n")
end

local function rollup_table(out, w, lang, first, rows, keep)
  out:write('<table class="report">\n<thead><tr>')
  cells(out, 'th scope="col"', { first })
  for _, key in ipairs(COUNTS) do cells(out, 'th scope="col" class="num"', { w.col[key] }) end
  cells(out, 'th scope="col" class="num"', { w.col.coverage })
  out:write("</tr></thead>\n<tbody>\n")
  for _, row in ipairs(rows) do
    if keep(row) then
      -- a department below the top is indented with its level, readable without the style too
      local indent = ("– "):rep(row.depth or 0)
      out:write('<tr><th scope="row">')
      out:html(indent .. row.name)
      out:write("</th>")
      for _, key in ipairs(COUNTS) do cells(out, "td", { row[key] }, "num") end
      cells(out, "td", { percent(row.coverage, lang) }, "num")
      out:write("</tr>\n")
    end
  end
  out:write("</tbody>\n</table>\n")
end

local function render_html(data, out)
  local w, lang = words_of(data), data.lang
  local s = data.summary
  out:write('<section class="report report-organisation">\n<h2>')
  out:html(w.heading:format(month(data.period, w)))
  out:write("</h2>\n")
  para(out, w.made:format(date(data.generated_at, lang)))

  heading(out, w.status)
  para(out, w.status_text:format(s.employees, s.employees_with_gaps, percent(s.coverage, lang),
                                 s.gap_sum, s.open_gaps, s.demanded, s.unassessed))
  if data.change then
    para(out, w.change:format(month(data.change.since, w),
                              signed(data.change.coverage * 100, lang, 1),
                              signed(data.change.gap_sum, lang)))
  else
    para(out, w.no_change)
  end

  heading(out, w.trend)
  if #data.trend == 0 then
    para(out, w.no_trend)
  else
    out:write('<table class="report">\n<thead><tr>')
    cells(out, 'th scope="col"', { w.month })
    cells(out, 'th scope="col" class="num"', { w.col.coverage, w.col.gap_sum, w.col.open_gaps })
    out:write("</tr></thead>\n<tbody>\n")
    for _, p in ipairs(data.trend) do
      out:write('<tr><th scope="row">')
      out:html(month(p.period, w))
      out:write("</th>")
      cells(out, "td", { percent(p.coverage, lang), p.gap_sum, p.open_gaps }, "num")
      out:write("</tr>\n")
    end
    out:write("</tbody>\n</table>\n")
  end

  heading(out, w.systems)
  if #data.systems == 0 then
    para(out, w.none)
  else
    rollup_table(out, w, lang, w.system, data.systems, function() return true end)
  end

  heading(out, w.departments)
  if #data.departments == 0 then
    para(out, w.none)
  else
    local deep = false
    for _, d in ipairs(data.departments) do deep = deep or d.depth >= HTML_DEPTH end
    if deep then para(out, w.departments_note) end
    rollup_table(out, w, lang, w.department, data.departments,
                 function(d) return d.depth < HTML_DEPTH end)
  end
  out:write("</section>\n")
end

local function render_csv(data, out)
  local w = words_of(data)
  local function head(first)
    local row = first
    for _, key in ipairs(COUNTS) do row[#row + 1] = w.col[key] end
    row[#row + 1] = w.coverage_pct
    return row
  end
  local function line(first, r)
    local row = first
    for _, key in ipairs(COUNTS) do row[#row + 1] = r[key] end
    row[#row + 1] = pct_number(r.coverage)
    return row
  end
  out:csv_row(head({ "" }))
  out:csv_row(line({ w.organisation }, data.summary))
  out:csv_row({})
  out:csv_row({ w.month, w.coverage_pct, w.col.gap_sum, w.col.open_gaps })
  for _, p in ipairs(data.trend) do
    out:csv_row({ p.period, pct_number(p.coverage), p.gap_sum, p.open_gaps })
  end
  out:csv_row({})
  out:csv_row(head({ w.system }))
  for _, r in ipairs(data.systems) do out:csv_row(line({ r.name }, r)) end
  out:csv_row({})
  out:csv_row(head({ w.department, w.level }))
  for _, r in ipairs(data.departments) do out:csv_row(line({ r.name, r.depth + 1 }, r)) end
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
