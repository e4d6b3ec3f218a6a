-- The shipped report layouts (rules/reports/*.lua), rendered in the server's sandbox with the
-- server's writer (out:html escapes, out:csv_row quotes).
local S = require("sandbox")
local RULES, eval = S.RULES, S.eval

local function render(data, format)
  local text, err = eval(RULES, "reports/gaps.lua", "render", { data, format })
  assert(err == nil, err)
  return text
end

local function row(id, name, coverage)
  return { id = id, name = name, employees = 10, employees_with_gaps = 4, demanded = 120,
           open_gaps = 30, unassessed = 5, gap_sum = 42, coverage = coverage }
end


describe("reports/gaps.lua", function()
  describe("as CSV", function()
    it("writes a heading named after the dimension and one line per row", function()
      local text = render({ title = "Kompetansegap", by = "system",
                            rows = { row(1, "Gerica", 0.75), row(2, "Excel", 1) } }, "csv")
      assert.are.equal("System;Ansatte;Ansatte med gap;Krav stilt;Åpne gap;Ikke vurdert;Gapsum;"
                       .. "Dekning (%)\r\n"
                       .. "Gerica;10;4;120;30;5;42;75\r\n"
                       .. "Excel;10;4;120;30;5;42;100\r\n", text)
    end)

    it("rounds coverage to one decimal, with a decimal comma", function()
      local text = render({ by = "employee", rows = { row(1, "Per", 2 / 3) } }, "csv")
      assert.truthy(text:find("\r\nPer;10;4;120;30;5;42;66,7\r\n", 1, true))
    end)

    it("quotes names with semicolons and quotes, and defuses formulas", function()
      local text = render({ by = "department",
                            rows = { row(1, 'Drift; "IT"', 1), row(2, "=1+2", 1) } }, "csv")
      assert.truthy(text:find('\r\n"Drift; ""IT""";', 1, true))
      assert.truthy(text:find("\r\n\"'=1+2\";", 1, true))
    end)

    it("writes only the heading without rows", function()
      local text = render({ by = "profile", rows = {} }, "csv")
      assert.are.equal("Kompetanseprofil;Ansatte;Ansatte med gap;Krav stilt;Åpne gap;"
                       .. "Ikke vurdert;Gapsum;Dekning (%)\r\n", text)
    end)
  end)

  describe("as HTML", function()
    it("writes a table with the title as caption", function()
      local text = render({ title = "Gap per avdeling", by = "department",
                            rows = { row(4, "Hjemmetjenesten", 0.504065040650407) } }, "html")
      assert.truthy(text:find("<table class=\"report\">\n<caption>Gap per avdeling</caption>", 1, true))
      assert.truthy(text:find('<th scope="col">Avdeling</th>', 1, true))
      assert.truthy(text:find('<th scope="row">Hjemmetjenesten</th><td class="num">10</td>', 1, true))
      assert.truthy(text:find('<td class="num">50,4 %</td></tr>', 1, true))
      assert.truthy(text:find("</tbody>\n</table>\n$"))
    end)

    it("escapes every name", function()
      local text = render({ title = "<script>", by = "employee",
                            rows = { row(1, [[<img src=x onerror="alert('x')">]], 1) } }, "html")
      assert.falsy(text:find("<script>", 1, true))
      assert.falsy(text:find("<img", 1, true))
      assert.truthy(text:find("&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;", 1, true))
    end)

    it("is the format asked for when none is named", function()
      assert.truthy(render({ by = "system", rows = {} }):find("<table", 1, true))
    end)
  end)
end)

-- The monthly report layouts (rules/reports/employee.lua, department.lua, organisation.lua).
local function render_as(file, data, format)
  local text, err = eval(RULES, "reports/" .. file, "render", { data, format })
  assert(err == nil, err)
  return text
end

local function rollup(name, extra)
  local r = { id = 1, name = name, employees = 2, employees_with_gaps = 1, demanded = 8,
              open_gaps = 2, unassessed = 1, gap_sum = 3, coverage = 0.75 }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

describe("reports/employee.lua", function()
  local base = {
    lang = "nb", period = "2026-02", generated_at = "2026-03-02T06:00:00Z",
    employee = { id = 3, name = "Kari", email = "k@x.no", department = "", position_title = "" },
    summary = { demanded = 0, open_gaps = 0, unassessed = 0, gap_sum = 0, coverage = 1 },
    gaps = {}, changes = {}, changes_summary = { assessed = 0, gaps_closed = 0, gap_change = 0 },
    proposals = {}, next_steps = {},
  }

  it("says so when there is nothing: no gaps, no changes, no proposals, no steps", function()
    local html = render_as("employee.lua", base, "html")
    assert.truthy(html:find("<h2>Månedsrapport for Kari – februar 2026</h2>", 1, true))
    assert.truthy(html:find("Du har ingen åpne gap. Bra!", 1, true))
    assert.truthy(html:find("Ingen vurderinger i februar 2026.", 1, true))
    assert.truthy(html:find("Ingen kurs å foreslå nå.", 1, true))
    assert.truthy(html:find("Ingenting du trenger å gjøre nå.", 1, true))
    assert.falsy(html:find("<table", 1, true))
  end)

  it("writes English with English dates and numbers", function()
    local data = {}
    for k, v in pairs(base) do data[k] = v end
    data.lang = "en"
    data.summary = { demanded = 3, open_gaps = 1, unassessed = 2, gap_sum = 2, coverage = 2 / 3 }
    data.gaps = { { system = "Excel", requirement = "Sum", required = 2, actual = 0, gap = 2,
                    unassessed = true } }
    data.next_steps = { { kind = "answer_invitation", course = "Excel 1",
                          starts_at = "2026-03-10T08:00:00Z", place = "Room 4" },
                        { kind = "assess", count = 2 } }
    local html = render_as("employee.lua", data, "html")
    assert.truthy(html:find("You have 1 open gaps of 3 requirements, with a gap sum of 2 and a "
      .. "coverage of 66.7%.", 1, true))
    assert.truthy(html:find("<li>Answer the invitation to “Excel 1” 2026-03-10, Room 4.</li>", 1, true))
    assert.truthy(html:find("<li>Assess yourself on the 2 requirements nobody has assessed yet.</li>",
      1, true))
    local csv = render_as("employee.lua", data, "csv")
    assert.truthy(csv:find("\r\nExcel;Sum;2;0;2;not assessed\r\n", 1, true))
  end)
end)

describe("reports/department.lua", function()
  it("has no trend, no change and nobody unassessed to tell of in a new department", function()
    local html = render_as("department.lua", {
      lang = "nb", period = "2026-02", generated_at = "2026-03-02T06:00:00Z",
      department = { id = 4, name = "Ny" }, summary = rollup("Ny", { unassessed = 0 }),
      trend = {}, not_assessed = {}, not_assessed_total = 0, systems = {}, requirements = {},
      courses = {},
    }, "html")
    assert.truthy(html:find("Ingen tidligere måned å sammenligne med ennå.", 1, true))
    assert.truthy(html:find("Ingen månedstall ennå.", 1, true))
    assert.truthy(html:find("Alle har vurdert alle kravene sine.", 1, true))
    assert.truthy(html:find("Ingen fra avdelingen har gjennomført kurs ennå.", 1, true))
    assert.falsy(html:find("Leder:", 1, true))
  end)

  it("says how many more there are than it lists", function()
    local html = render_as("department.lua", {
      lang = "en", period = "2026-02", generated_at = "2026-03-02T06:00:00Z",
      department = { id = 4, name = "Big" }, summary = rollup("Big"), trend = {},
      not_assessed = { { id = 1, name = "A", department = "Big", unassessed = 3, demanded = 4 } },
      not_assessed_total = 250, systems = {}, requirements = {}, courses = {},
    }, "html")
    assert.truthy(html:find("250 employees have requirements nobody has assessed.", 1, true))
    assert.truthy(html:find("The list shows the 1 with the most", 1, true))
  end)
end)

describe("reports/organisation.lua", function()
  it("leaves departments two levels down out of the HTML but not out of the CSV", function()
    local data = {
      lang = "nb", period = "2026-02", generated_at = "2026-03-02T06:00:00Z",
      summary = rollup(nil), trend = {}, systems = {},
      departments = { rollup("Topp", { depth = 0 }), rollup("Sektor", { depth = 1 }),
                      rollup("Team dypt nede", { depth = 2 }) },
    }
    local html = render_as("organisation.lua", data, "html")
    assert.truthy(html:find("– Sektor", 1, true))
    assert.falsy(html:find("Team dypt nede", 1, true))
    local csv = render_as("organisation.lua", data, "csv")
    assert.truthy(csv:find("\r\nTeam dypt nede;3;2;1;8;2;1;3;75\r\n", 1, true))
  end)
end)
