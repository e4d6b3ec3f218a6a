-- lib/report_format.lua: what the report layouts (reports/*.lua) share: dates, months and
-- percentages in Norwegian or English, the HTML pieces every report is built of, the roll-up
-- table, and the status and trend parts of the department and organisation reports.
--
-- A layout gets it with
--   local fmt = require("report_format")
-- It is loaded once and shared: every layout gets the same table, read-only.
--
-- lang is "nb" or "en" (data.lang); anything else counts as "nb".
--
-- Text:
--   fmt.pick(words, lang)       words[lang], or words.nb: a layout's own words for the language
--   fmt.date(iso, lang)         "2026-11-26T21:55:01Z" -> "26.11.2026" (nb), "2026-11-26" (en);
--                               "" for nil, and text that is no date as it is
--   fmt.month(period, lang)     "2026-11" -> "november 2026" (nb), "November 2026" (en)
--   fmt.pct_number(x)           0.5087 -> 50.9: a fraction in percent with one decimal, a number
--                               (for CSV, where out:csv_row writes the decimal comma)
--   fmt.percent(x, lang)        0.5 -> "50,0 %" (nb), "50.0%" (en)
--   fmt.signed(x, lang, decimals)  -2 -> "-2", 3 -> "+3", 0 -> "+0"; with decimals: 1.5 -> "+1,5"
--                               (nb) or "+1.5" (en)
--
-- HTML (out is render's out; every text goes through out:html):
--   fmt.cells(out, tag, list, class)  one <tag> per value of list, e.g. 'td' or 'th scope="col"',
--                               with class="..." when class is given
--   fmt.heading(out, text)      <h3>text</h3>
--   fmt.para(out, text)         <p>text</p>
--   fmt.table_start(out)        <table class="report"> and the heading row's <tr>: write its
--                               cells with fmt.cells, then
--   fmt.table_body(out)         ends the heading row and starts the rows, and
--   fmt.table_end(out)          ends the table
--   fmt.row_head(out, text)     starts a row with its heading cell: <tr><th scope="row">text</th>;
--                               the row's other cells follow, then out:write("</tr>\n")
--
-- Roll-up rows ({ name, employees, employees_with_gaps, demanded, open_gaps, unassessed,
-- gap_sum, coverage }, as docs/rules.md describes them):
--   fmt.COUNTS                  the fields counted, in the order of the columns
--   fmt.words[lang]             the shared words: months, month, col (a column title per field
--                               and coverage), coverage_pct, status, status_text, change,
--                               no_change, trend, no_trend
--   fmt.rollup_table(out, lang, first, rows, label)  an HTML table: the titles of the first
--                               columns (a list), then one column per count and coverage;
--                               label(row) gives a row's first cells (a list: the first one is the
--                               row's heading), or nil to leave the row out
--   fmt.rollup_heading(lang, first)  the same heading as a CSV row (coverage in percent)
--   fmt.rollup_cells(first, row)     a row as a CSV row: the cells of first, the counts, coverage
--
-- Parts of the department and organisation reports:
--   fmt.status(out, lang, summary, change)  "Status nå": the summary's figures, and the change
--                               since an earlier month (data.change, or nil when there is none)
--   fmt.trend(out, lang, trend)      "Utvikling per måned": a table of the months, oldest first
--   fmt.trend_csv(out, lang, trend)  the same as CSV rows, with its heading row

local fmt = {}

local words = {
  nb = {
    months = { "januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
               "september", "oktober", "november", "desember" },
    month = "Måned",
    col = { employees = "Ansatte", employees_with_gaps = "Ansatte med gap",
            demanded = "Krav stilt", open_gaps = "Åpne gap", unassessed = "Ikke vurdert",
            gap_sum = "Gapsum", coverage = "Dekning" },
    coverage_pct = "Dekning (%)",
    status = "Status nå",
    status_text = "%d ansatte, %d av dem med gap. Dekning %s, gapsum %d (%d åpne gap av %d "
      .. "krav stilt, %d ikke vurdert).",
    change = "Siden %s: dekning %s prosentpoeng, gapsum %s.",
    no_change = "Ingen tidligere måned å sammenligne med ennå.",
    trend = "Utvikling per måned",
    no_trend = "Ingen månedstall ennå.",
  },
  en = {
    months = { "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December" },
    month = "Month",
    col = { employees = "Employees", employees_with_gaps = "Employees with gaps",
            demanded = "Demanded", open_gaps = "Open gaps", unassessed = "Not assessed",
            gap_sum = "Gap sum", coverage = "Coverage" },
    coverage_pct = "Coverage (%)",
    status = "Where we stand",
    status_text = "%d employees, %d of them with gaps. Coverage %s, gap sum %d (%d open gaps of "
      .. "%d requirements demanded, %d not assessed).",
    change = "Since %s: coverage %s percentage points, gap sum %s.",
    no_change = "No earlier month to compare with yet.",
    trend = "Month by month",
    no_trend = "No monthly figures yet.",
  },
}
fmt.words = words

local COUNTS = { "employees", "employees_with_gaps", "demanded", "open_gaps", "unassessed",
                 "gap_sum" }
fmt.COUNTS = COUNTS

-- --- text ---------------------------------------------------------------------------------

local function pick(list, lang)
  return list[lang] or list.nb
end
fmt.pick = pick

function fmt.date(iso, lang)
  if not iso then return "" end
  local y, m, d = tostring(iso):match("^(%d%d%d%d)-(%d%d)-(%d%d)")
  if not y then return tostring(iso) end
  if lang == "en" then return y .. "-" .. m .. "-" .. d end
  return d .. "." .. m .. "." .. y
end

local function month(period, lang)
  local y, m = tostring(period):match("^(%d%d%d%d)-(%d%d)$")
  if not y then return tostring(period) end
  return pick(words, lang).months[tonumber(m)] .. " " .. y
end
fmt.month = month

local function pct_number(x)
  return math.floor(x * 1000 + 0.5) / 10
end
fmt.pct_number = pct_number

local function percent(x, lang)
  local s = ("%.1f"):format(pct_number(x))
  if lang == "en" then return s .. "%" end
  return (s:gsub("%.", ",")) .. " %"
end
fmt.percent = percent

local function signed(x, lang, decimals)
  local s = decimals and ("%+." .. decimals .. "f"):format(x) or ("%+d"):format(x)
  if lang ~= "en" then s = s:gsub("%.", ",") end
  return s
end
fmt.signed = signed

-- --- HTML ---------------------------------------------------------------------------------

local function cells(out, tag, list, class)
  for _, v in ipairs(list) do
    out:write("<" .. tag .. (class and (' class="' .. class .. '"') or "") .. ">")
    out:html(v)
    out:write("</" .. tag:match("^%a+") .. ">")   -- 'th scope="col"' closes with </th>
  end
end
fmt.cells = cells

local function heading(out, text)
  out:write("<h3>")
  out:html(text)
  out:write("</h3>\n")
end
fmt.heading = heading

local function para(out, text)
  out:write("<p>")
  out:html(text)
  out:write("</p>\n")
end
fmt.para = para

local function table_start(out)
  out:write('<table class="report">\n<thead><tr>')
end
fmt.table_start = table_start

local function table_body(out)
  out:write("</tr></thead>\n<tbody>\n")
end
fmt.table_body = table_body

local function table_end(out)
  out:write("</tbody>\n</table>\n")
end
fmt.table_end = table_end

local function row_head(out, text)
  out:write('<tr><th scope="row">')
  out:html(text)
  out:write("</th>")
end
fmt.row_head = row_head

-- --- roll-up rows -------------------------------------------------------------------------

function fmt.rollup_table(out, lang, first, rows, label)
  local col = pick(words, lang).col
  table_start(out)
  cells(out, 'th scope="col"', first)
  for _, key in ipairs(COUNTS) do cells(out, 'th scope="col" class="num"', { col[key] }) end
  cells(out, 'th scope="col" class="num"', { col.coverage })
  table_body(out)
  for _, row in ipairs(rows) do
    local names = label(row)
    if names then
      row_head(out, names[1])
      for i = 2, #names do cells(out, "td", { names[i] }) end
      for _, key in ipairs(COUNTS) do cells(out, "td", { row[key] }, "num") end
      cells(out, "td", { percent(row.coverage, lang) }, "num")
      out:write("</tr>\n")
    end
  end
  table_end(out)
end

function fmt.rollup_heading(lang, first)
  local w = pick(words, lang)
  local row = {}
  for _, f in ipairs(first) do row[#row + 1] = f end
  for _, key in ipairs(COUNTS) do row[#row + 1] = w.col[key] end
  row[#row + 1] = w.coverage_pct
  return row
end

function fmt.rollup_cells(first, row)
  local cells_of = {}
  for _, f in ipairs(first) do cells_of[#cells_of + 1] = f end
  for _, key in ipairs(COUNTS) do cells_of[#cells_of + 1] = row[key] end
  cells_of[#cells_of + 1] = pct_number(row.coverage)
  return cells_of
end

-- --- status and trend ---------------------------------------------------------------------

function fmt.status(out, lang, s, change)
  local w = pick(words, lang)
  heading(out, w.status)
  para(out, w.status_text:format(s.employees, s.employees_with_gaps, percent(s.coverage, lang),
                                 s.gap_sum, s.open_gaps, s.demanded, s.unassessed))
  if change then
    para(out, w.change:format(month(change.since, lang), signed(change.coverage * 100, lang, 1),
                              signed(change.gap_sum, lang)))
  else
    para(out, w.no_change)
  end
end

function fmt.trend(out, lang, trend)
  local w = pick(words, lang)
  heading(out, w.trend)
  if #trend == 0 then
    para(out, w.no_trend)
    return
  end
  table_start(out)
  cells(out, 'th scope="col"', { w.month })
  cells(out, 'th scope="col" class="num"', { w.col.coverage, w.col.gap_sum, w.col.open_gaps })
  table_body(out)
  for _, p in ipairs(trend) do
    row_head(out, month(p.period, lang))
    cells(out, "td", { percent(p.coverage, lang), p.gap_sum, p.open_gaps }, "num")
    out:write("</tr>\n")
  end
  table_end(out)
end

function fmt.trend_csv(out, lang, trend)
  local w = pick(words, lang)
  out:csv_row({ w.month, w.coverage_pct, w.col.gap_sum, w.col.open_gaps })
  for _, p in ipairs(trend) do
    out:csv_row({ p.period, pct_number(p.coverage), p.gap_sum, p.open_gaps })
  end
end

return fmt
