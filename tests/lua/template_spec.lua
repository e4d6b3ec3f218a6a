-- The template engine (lua/template.lua): output, escaping, control flow, and errors that name
-- the template and the line.
local template = require("template")

local function render(source, env, name)
  local fn, err = template.compile(name or "t.html", source)
  assert(fn, err)
  return fn(env or {})
end

local function fails(source, env, name)
  local fn, err = template.compile(name or "t.html", source)
  assert(fn, err)
  local ok, msg = pcall(fn, env or {})
  assert.is_false(ok)
  return msg
end

describe("template output", function()
  it("escapes < > & \" ' in text", function()
    assert.are.equal("<p>a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;</p>",
      render([[<p><%= s %></p>]], { s = [[a <b> & "c" 'd']] }))
  end)

  it("escapes quotes inside attributes, so a value cannot leave its attribute", function()
    local html = render([[<input value="<%= v %>" title='<%= v %>'>]], { v = [[x" onfocus="alert(1)' y]] })
    local v = "x&quot; onfocus=&quot;alert(1)&#39; y"
    assert.are.equal('<input value="' .. v .. '" title=\'' .. v .. "'>", html)
  end)

  it("escapes an ampersand that already looks like an entity", function()
    assert.are.equal("&amp;lt;", render("<%= s %>", { s = "&lt;" }))
  end)

  it("writes <%- %> raw", function()
    assert.are.equal("<div><b>bold</b></div>", render("<div><%- html %></div>", { html = "<b>bold</b>" }))
  end)

  it("writes numbers and booleans as text", function()
    assert.are.equal("3 2.5 true false", render("<%= 3 %> <%= 2.5 %> <%= yes %> <%= no %>", { yes = true, no = false }))
  end)

  it("keeps text without tags as it is, newlines, quotes and backslashes included", function()
    local s = "a \"quoted\" \\ line\n\tand 'another'\r\n\0end\n"
    assert.are.equal(s, render(s))
  end)
end)

describe("template control flow", function()
  it("runs if and else", function()
    local src = "<% if n > 1 then %>many<% else %>one<% end %>"
    assert.are.equal("many", render(src, { n = 2 }))
    assert.are.equal("one", render(src, { n = 1 }))
  end)

  it("loops with for and local variables", function()
    local src = "<% for i, x in ipairs(xs) do local y = x * 2 %>[<%= i %>:<%= y %>]<% end %>"
    assert.are.equal("[1:2][2:4][3:6]", render(src, { xs = { 1, 2, 3 } }))
  end)

  it("drops the newline after -%>, and only that one", function()
    local src = "<ul>\n<% for _, x in ipairs(xs) do -%>\n<li><%= x %></li>\n<% end -%>\n</ul>\n"
    assert.are.equal("<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n", render(src, { xs = { "a", "b" } }))
    assert.are.equal("a\n\nb", render("a\n<% -%>\n\nb"))
  end)

  it("lets a -- comment in a tag end at the tag", function()
    assert.are.equal("1 2", render("<% local a = 1 -- one %><%= a %> <%= b %>", { b = 2 }))
  end)

  it("offers the allowed globals and nothing else", function()
    assert.are.equal("A,b 3",
      render([[<%= string.upper("a") .. "," .. table.concat({ "b" }) %> <%= math.max(1, 3) %>]]))
    for _, name in ipairs({ "os", "io", "require", "load", "dofile", "_G", "setmetatable" }) do
      assert.matches("t.html:1: unknown variable '" .. name .. "'", fails("<% local x = " .. name .. " %>"), 1, true)
    end
  end)

  it("gives a template that renders itself each level its own variables", function()
    local fn = assert(template.compile("tree.html",
      "<%= name %>(<% for _, c in ipairs(children) do %><%- sub(c) %><% end %>)<%= name %>"))
    local function env(node)
      return { name = node.name, children = node.children or {}, sub = function(c) return fn(env(c)) end }
    end
    local tree = { name = "a", children = { { name = "b", children = { { name = "c" } } }, { name = "d" } } }
    assert.are.equal("a(b(c()c)bd()d)a", fn(env(tree)))
  end)
end)

describe("template errors", function()
  it("names template and line for a missing variable", function()
    assert.are.equal("page.html:3: unknown variable 'usr'",
      fails("<h1>\n<%= title %>\n<%= usr.name %></h1>", { title = "x" }, "page.html"))
  end)

  it("names template and line for a missing variable inside an attribute or a control tag", function()
    assert.are.equal("t.html:2: unknown variable 'cls'", fails('<p>\n<a class="<%= cls %>">', {}))
    assert.are.equal("t.html:4: unknown variable 'show'", fails("a\n<% -%>\n<%= 1 %>\n<% if show then %>x<% end %>"))
  end)

  it("refuses to write nil, naming the tag", function()
    assert.are.equal("t.html:2: nil value in <%= user.nmae %>",
      fails("<p>\n<%= user.nmae %></p>", { user = { name = "Kari" } }))
    assert.are.equal("t.html:1: nil value in <%- page.body %>", fails("<%- page.body %>", { page = {} }))
  end)

  it("refuses to write a table", function()
    assert.are.equal("t.html:1: table value in <%= user %>", fails("<%= user %>", { user = {} }))
  end)

  it("refuses assignment to a variable that was not declared local", function()
    assert.matches("t.html:2: assignment to undeclared variable 'total'", fails("\n<% total = 1 %>"), 1, true)
  end)

  it("keeps Lua's own runtime errors on the template's line", function()
    local src = "a\n<% for _, x in ipairs(xs) do -%>\n<%= x.n %>\n<%= x.y.z %>\n<% end %>"
    assert.matches("^t%.html:4: .*nil value", fails(src, { xs = { { n = 1 } } }))
  end)

  it("names template and line for a syntax error", function()
    local fn, err = template.compile("form.html", "<form>\n<% if x then %>\n<p>\n</form>\n")
    assert.is_nil(fn)
    assert.matches("^form%.html:%d+: 'end' expected %(to close 'if' at line 2%)", err)
    fn, err = template.compile("form.html", "a\nb\n<%= x + %>\n")
    assert.is_nil(fn)
    assert.matches("^form%.html:3: ", err)
  end)

  it("names template and line for a tag that is never closed", function()
    local fn, err = template.compile("t.html", "a\nb <%= x\nc")
    assert.is_nil(fn)
    assert.are.equal("t.html:2: unclosed <%", err)
  end)
end)
