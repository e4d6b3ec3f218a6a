-- The shipped library lib/report_format.lua, called through the server's own sandbox: a
-- throwaway rules folder holds the shipped thresholds.lua and library and a layout, probe.lua,
-- that calls the function data.fn names with data.args and writes what it answers.
local S = require("sandbox")

local dir

local PROBE = [[
local fmt = require("report_format")

return {
  name = "probe",
  title = "Probe",
  formats = { "html", "csv" },
  render = function(data, out)
    if data.assign then
      fmt.words.nb.months[1] = "x"
    end
    local args = {}
    if data.with_out then args[1] = out end
    local n = #args
    for i = 1, data.n or #(data.args or {}) do args[n + i] = data.args[i] end
    n = n + (data.n or #(data.args or {}))
    if data.fn == "rollup_table" then
      n = n + 1
      args[n] = function(row)
        if row.hide then return nil end
        return { row.name, row.extra }
      end
    end
    local answer = fmt[data.fn](table.unpack(args, 1, n))
    if type(answer) == "table" then
      out:csv_row(answer)
    elseif answer ~= nil then
      out:write(tostring(answer) .. " (" .. (math.type(answer) or type(answer)) .. ")")
    end
  end,
}
]]

-- What fmt[fn](args...) answers (the text written, or its value and type), in format.
local function call(fn, args, opts)
  opts = opts or {}
  local data = { fn = fn, args = args, n = opts.n, with_out = opts.with_out, assign = opts.assign }
  local text, err = S.eval(dir, "reports/probe.lua", "render", { data, opts.format or "html" })
  if opts.fails then
    assert.is_nil(text)
    return err
  end
  assert(err == nil, err)
  return text
end

local function html(fn, args, n)
  return call(fn, args, { with_out = true, n = n })
end

local function row(name, extra)
  local r = { id = 1, name = name, employees = 4, employees_with_gaps = 3, demanded = 40,
              open_gaps = 12, unassessed = 5, gap_sum = 20, coverage = 0.50847 }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

setup(function()
  local out = S.run("mktemp -d /tmp/evne-fmt.XXXXXX")
  dir = out:match("^(%S+)")
  assert(S.run(("mkdir -p %s/lib %s/reports && cp %s %s/ && cp %s %s/lib/"):format(
    S.q(dir), S.q(dir), S.q(S.RULES .. "/thresholds.lua"), S.q(dir),
    S.q(S.RULES .. "/lib/report_format.lua"), S.q(dir))) == "")
  local f = assert(io.open(dir .. "/reports/probe.lua", "w"))
  f:write(PROBE)
  f:close()
end)

teardown(function()
  if dir then S.run("rm -rf " .. S.q(dir)) end
end)

describe("lib/report_format.lua", function()
  describe("text", function()
    it("picks a layout's words for the language, bokmål for any other", function()
      local words = { nb = "hei", en = "hello" }
      assert.equal("hello (string)", call("pick", { words, "en" }))
      assert.equal("hei (string)", call("pick", { words, "nb" }))
      assert.equal("hei (string)", call("pick", { words, "sv" }))
      assert.equal("hei (string)", call("pick", { words }))
    end)

    it("writes dates the Norwegian or the ISO way", function()
      assert.equal("26.11.2026 (string)", call("date", { "2026-11-26T21:55:01Z", "nb" }))
      assert.equal("2026-11-26 (string)", call("date", { "2026-11-26T21:55:01Z", "en" }))
      assert.equal("26.11.2026 (string)", call("date", { "2026-11-26" }))
      assert.equal(" (string)", call("date", { nil, "nb" }, { n = 2 }))
      assert.equal("snart (string)", call("date", { "snart", "nb" }))
    end)

    it("names months in the language", function()
      assert.equal("februar 2026 (string)", call("month", { "2026-02", "nb" }))
      assert.equal("February 2026 (string)", call("month", { "2026-02", "en" }))
      assert.equal("desember 2025 (string)", call("month", { "2025-12", "da" }))
      assert.equal("2026-2 (string)", call("month", { "2026-2", "nb" }))
    end)

    it("turns fractions into percent with one decimal", function()
      assert.equal("50.8 (float)", call("pct_number", { 0.50847 }))
      assert.equal("66.7 (float)", call("pct_number", { 2 / 3 }))
      assert.equal("100.0 (float)", call("pct_number", { 1 }))
      assert.equal("0.0 (float)", call("pct_number", { 0 }))
      assert.equal("50,0 % (string)", call("percent", { 0.5, "nb" }))
      assert.equal("50.0% (string)", call("percent", { 0.5, "en" }))
      assert.equal("100,0 % (string)", call("percent", { 0.99996 }))
      assert.equal("-12,5 % (string)", call("percent", { -0.125, "nb" }))
    end)

    it("signs changes, with the language's decimal mark", function()
      assert.equal("-2 (string)", call("signed", { -2 }))
      assert.equal("+3 (string)", call("signed", { 3, "en" }))
      assert.equal("+0 (string)", call("signed", { 0, "nb" }))
      assert.equal("+1,5 (string)", call("signed", { 1.5, "nb", 1 }))
      assert.equal("+1.5 (string)", call("signed", { 1.5, "en", 1 }))
      assert.equal("-0,25 (string)", call("signed", { -0.25, "nb", 2 }))
    end)
  end)

  describe("HTML", function()
    it("writes cells, headings and paragraphs with every text escaped", function()
      assert.equal('<td class="num">a&lt;b</td><td class="num">3</td>',
                   html("cells", { "td", { "a<b", 3 }, "num" }))
      assert.equal("<td>x</td>", html("cells", { "td", { "x" } }))
      -- a tag with attributes closes with its name alone
      assert.equal('<th scope="col" class="num">N</th>',
                   html("cells", { 'th scope="col"', { "N" }, "num" }))
      assert.equal("<h3>Gap &amp; kurs</h3>\n", html("heading", { "Gap & kurs" }))
      assert.equal("<p>&quot;Hei&quot;</p>\n", html("para", { '"Hei"' }))
      assert.equal('<tr><th scope="row">A&amp;B</th>', html("row_head", { "A&B" }))
      assert.equal('<table class="report">\n<thead><tr>', html("table_start", {}))
      assert.equal("</tr></thead>\n<tbody>\n", html("table_body", {}))
      assert.equal("</tbody>\n</table>\n", html("table_end", {}))
    end)

    it("writes a roll-up table: the first columns, the counts and coverage; a row left out", function()
      local text = html("rollup_table", { "en", { "Requirement", "System" },
        { row("Skrive <journal>", { extra = "Gerica" }), row("Hidden", { hide = true }) } })
      assert.truthy(text:find('^<table class="report">\n<thead><tr>'))
      assert.truthy(text:find('>Requirement<', 1, true))
      assert.truthy(text:find('>Employees with gaps<', 1, true))
      assert.truthy(text:find('>Coverage<', 1, true))
      assert.truthy(text:find("</tr></thead>\n<tbody>\n", 1, true))
      assert.truthy(text:find('<tr><th scope="row">Skrive &lt;journal&gt;</th><td>Gerica</td>'
        .. '<td class="num">4</td><td class="num">3</td><td class="num">40</td>'
        .. '<td class="num">12</td><td class="num">5</td><td class="num">20</td>'
        .. '<td class="num">50.8%</td></tr>\n', 1, true))
      assert.falsy(text:find("Hidden", 1, true))
      assert.truthy(text:find("</tbody>\n</table>\n$"))
    end)

    it("writes the status, with the change since an earlier month or without one", function()
      local summary = row(nil, { coverage = 0.7 })
      local text = html("status", { "nb", summary,
                                    { since = "2026-10", coverage = -0.123, gap_sum = 0 } })
      assert.equal("<h3>Status nå</h3>\n<p>4 ansatte, 3 av dem med gap. Dekning 70,0 %, gapsum 20 "
        .. "(12 åpne gap av 40 krav stilt, 5 ikke vurdert).</p>\n"
        .. "<p>Siden oktober 2026: dekning -12,3 prosentpoeng, gapsum +0.</p>\n", text)
      text = html("status", { "en", summary }, 2)
      assert.truthy(text:find("<p>No earlier month to compare with yet.</p>\n$"))
    end)

    it("writes the trend, or says there is none yet", function()
      assert.equal("<h3>Month by month</h3>\n<p>No monthly figures yet.</p>\n",
                   html("trend", { "en", {} }))
      local text = html("trend", { "nb", { { period = "2026-10", coverage = 0.6, gap_sum = 26,
                                             open_gaps = 16 } } })
      assert.truthy(text:find("^<h3>Utvikling per måned</h3>\n<table"))
      assert.truthy(text:find('<tr><th scope="row">oktober 2026</th><td class="num">60,0 %</td>'
        .. '<td class="num">26</td><td class="num">16</td></tr>\n', 1, true))
    end)
  end)

  describe("CSV", function()
    it("writes a roll-up heading and rows, coverage as a number", function()
      assert.equal("Avdeling;Ansatte;Ansatte med gap;Krav stilt;Åpne gap;Ikke vurdert;Gapsum;"
                   .. "Dekning (%)\r\n",
                   call("rollup_heading", { "nb", { "Avdeling" } }, { format = "csv" }))
      assert.equal(";Employees;Employees with gaps;Demanded;Open gaps;Not assessed;Gap sum;"
                   .. "Coverage (%)\r\n",
                   call("rollup_heading", { "en", { "" } }, { format = "csv" }))
      assert.equal("\"Drift; IT\";2;4;3;40;12;5;20;50,8\r\n",
                   call("rollup_cells", { { "Drift; IT", 2 }, row("x") }, { format = "csv" }))
    end)

    it("writes the trend with its heading row", function()
      local text = call("trend_csv", { "en", { { period = "2026-10", coverage = 0.6, gap_sum = 26,
                                                 open_gaps = 16 } } },
                        { format = "csv", with_out = true })
      assert.equal("Month;Coverage (%);Gap sum;Open gaps\r\n2026-10;60;26;16\r\n", text)
    end)
  end)

  it("is read-only for the layouts that share it", function()
    local err = call("date", { "2026-01-01" }, { assign = true, fails = true })
    assert.truthy(err:find("reports/probe.lua:9: cannot assign to a number key of "
                           .. "report_format.words.nb.months", 1, true), err)
  end)
end)
