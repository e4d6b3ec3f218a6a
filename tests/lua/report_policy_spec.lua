-- The shipped gap report layout (rules/reports/gaps.lua), rendered in the server's sandbox with
-- the server's writer (out:html escapes, out:csv_row quotes).
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
