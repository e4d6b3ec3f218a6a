-- Mail for real: evne's delivery worker against a real SMTP server (smtp_server.py, on Debian's
-- python3-aiosmtpd) on a free loopback port, which writes what it receives to a folder. Rows go
-- into the outbox with the sqlite3 command line while evne runs (WAL allows it), as an
-- invitation's transaction would put them there; the worker finds them at its next tick.
-- Covered: the message as it arrives (headers, a Norwegian subject, the .ics), a server that is
-- down and comes back, a 4xx and a 5xx answer, GET /api/v1/admin/outbox, a graceful stop and a
-- kill -9 while mails are on their way, and that no mail arrives twice.
local H = require("harness")
local MK = require("mailkit")
local socket = require("socket")

local q = H.shell_quote
local FROM = "evne@asker.kommune.no"
local WAIT = 10 -- seconds, at most, for anything the worker does (its tick is 2 s)

local function sleep(s) socket.sleep(s) end

-- --- what arrived ---------------------------------------------------------------------------

local function message_id(id) return "^<evne%.outbox%." .. id .. "%.%d+@asker%.kommune%.no>$" end

-- The parsed messages whose Message-ID is outbox row `id`'s.
local function arrived(dir, id)
  local found = {}
  for _, m in ipairs(MK.messages(dir)) do
    if (m.headers["message-id"] or ""):match(message_id(id)) then found[#found + 1] = m end
  end
  return found
end

local function wait_arrived(dir, id)
  return H.wait_for("mail " .. id .. " to arrive", WAIT, function()
    local found = arrived(dir, id)
    return #found > 0 and found
  end)
end

-- --- the outbox, through the sqlite3 command line ------------------------------------------

local function lit(s)
  if s == nil then return "NULL" end
  return "'" .. (s:gsub("'", "''")) .. "'"
end

-- Puts one mail in the outbox, due now, the way mail_queue does; returns its id.
local function queue(db, m)
  local out = H.sql(db, ("INSERT INTO outbox (kind, to_addr, subject, body, ics, html, "
    .. "attachment_name, attachment_type, attachment, next_attempt_at, created_at) VALUES "
    .. "(%s, %s, %s, %s, %s, %s, %s, %s, %s, strftime('%%s', 'now'), strftime('%%s', 'now')); "
    .. "SELECT last_insert_rowid();"):format(lit(m.kind or "reminder"), lit(m.to), lit(m.subject),
    lit(m.body or "Hei"), lit(m.ics), lit(m.html), lit(m.attachment_name), lit(m.attachment_type),
    lit(m.attachment)))
  return assert(tonumber(out:match("(%d+)%s*$")), "no id from sqlite3: " .. out)
end

local function row(db, id)
  local out = H.sql(db, ("SELECT state, attempts, coalesce(last_error, ''), coalesce(sent_at, 0) "
    .. "FROM outbox WHERE id = %d"):format(id))
  local state, attempts, err, sent_at = out:match("^(%a+)|(%d+)|(.-)|(%d+)%s*$")
  assert(state, "no outbox row " .. id .. ": " .. out)
  return { state = state, attempts = tonumber(attempts), last_error = err,
           sent_at = tonumber(sent_at) }
end

local function wait_row(db, id, what, pred)
  return H.wait_for(("mail %d to be %s"):format(id, what), WAIT, function()
    local r = row(db, id)
    return pred(r) and r
  end)
end

-- --- checks on a message --------------------------------------------------------------------

-- SMTP's wire form: ASCII only, CRLF line ends, lines of at most 78 characters.
local function assert_wire_form(raw)
  assert.is_nil(raw:find("[\128-\255]"), "a byte that is not ASCII")
  assert.is_nil(raw:find("[^\r]\n"), "a line that does not end in CRLF")
  assert.is_nil(raw:find("\r[^\n]"), "a bare CR")
  for line in raw:gmatch("([^\n]*)\n") do
    assert(#line <= 79, "a line longer than 78 characters: " .. line)
  end
end

-- An iCalendar text (RFC 5545): CRLF lines, unfolded; BEGIN/END nest and close; returns the
-- properties of the first VEVENT and of the VCALENDAR.
local function parse_ics(text)
  assert.is_nil(text:find("[^\r]\n"), "an .ics line that does not end in CRLF")
  local unfolded = text:gsub("\r\n[ \t]", "")
  local stack, cal, event = {}, {}, nil
  for line in unfolded:gmatch("([^\r\n]+)\r\n") do
    local name, value = line:match("^([%w%-]+)[^:]*:(.*)$")
    assert(name, "not a content line: " .. line)
    if name == "BEGIN" then
      stack[#stack + 1] = value
      if value == "VEVENT" and not event then event = {} end
    elseif name == "END" then
      assert.equal(stack[#stack], value)
      stack[#stack] = nil
    elseif stack[#stack] == "VCALENDAR" then
      cal[name] = value
    elseif stack[#stack] == "VEVENT" then
      event[name] = value
    end
  end
  assert.equal(0, #stack)
  return cal, event
end

local SUBJECT = "Invitasjon: Gerica grunnkurs – å føre journal (ÆØÅ æøå)"
local BODY = "Hei Kari,\n\ndu er invitert til «Gerica grunnkurs» på Kommunegården, rom 3.\n"
  .. "Kurset lukker gapet på «Føre journal» (nivå 3).\n.\nHilsen evne\n"
local ICS = table.concat({
  "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//evne//kurs//NO", "METHOD:REQUEST",
  "BEGIN:VEVENT", "UID:session-17@evne", "DTSTAMP:20261126T120000Z",
  "DTSTART:20261201T080000Z", "DTEND:20261201T110000Z",
  "SUMMARY:Gerica grunnkurs – øving på å føre journal",
  "LOCATION:Kommunegården\\, rom 3", "ORGANIZER:mailto:evne@asker.kommune.no",
  "ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:kari@asker.kommune.no",
  "END:VEVENT", "END:VCALENDAR" }, "\r\n") .. "\r\n"

describe("mail", function()
  local srv, dir, port, smtp

  setup(function()
    dir = H.mktemp_dir("evne-mail")
    port = H.free_port()
    smtp = MK.start(port, dir)
    srv = H.start({ args = MK.serve_args(port, FROM, { "--mail-retry-seconds", "1" }) })
  end)

  teardown(function()
    if srv then srv:cleanup() end
    MK.stop(smtp)
    H.remove_dir(dir)
  end)

  it("delivers an invitation with its headers, a Norwegian subject and the calendar", function()
    local inv = queue(srv.db, { kind = "invitation", to = "kari@asker.kommune.no",
                                subject = SUBJECT, body = BODY, ics = ICS })
    local plain = queue(srv.db, { kind = "approval", to = "ola@asker.kommune.no",
                                  subject = "Approved: Gerica basics", body = "Approved." })
    local m = wait_arrived(dir, inv)[1]
    assert_wire_form(m.raw)
    -- the subject went as encoded words and reads back letter for letter
    assert.truthy(m.raw:find("\r\nSubject: =?UTF-8?B?", 1, true))
    assert.equal(SUBJECT, m.headers.subject)
    assert.equal(FROM, m.headers.from)
    assert.equal("kari@asker.kommune.no", m.headers.to)
    assert.equal("1.0", m.headers["mime-version"])
    assert.truthy(m.headers.date:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d %+0000$"),
      m.headers.date)
    assert.same({ mail_from = FROM, rcpt_tos = { "kari@asker.kommune.no" }, tls = false },
      m.envelope)
    assert.equal("multipart/mixed", m.content_type)
    assert.same({}, m.defects)
    assert.equal(2, #m.parts)
    local text, cal = m.parts[1], m.parts[2]
    assert.same({}, text.defects)
    assert.equal("text/plain", text.content_type)
    assert.equal("utf-8", text.charset)
    assert.equal((BODY:gsub("\n", "\r\n")), text.text) -- to its last line break
    assert.same({}, cal.defects)
    assert.equal("text/calendar", cal.content_type)
    assert.equal("REQUEST", cal.params.method)
    assert.equal("attachment", cal.disposition)
    assert.equal("invitation.ics", cal.filename)
    assert.equal(ICS, cal.text)
    local vcal, event = parse_ics(cal.text)
    assert.equal("REQUEST", vcal.METHOD)
    assert.equal("Gerica grunnkurs – øving på å føre journal", event.SUMMARY)
    assert.equal("20261201T080000Z", event.DTSTART)

    local p = wait_arrived(dir, plain)[1]
    assert_wire_form(p.raw)
    assert.truthy(p.raw:find("\r\nSubject: Approved: Gerica basics\r\n", 1, true))
    assert.equal("text/plain", p.content_type)
    assert.equal("Approved.\r\n", p.parts[1].text)

    for _, id in ipairs({ inv, plain }) do
      local r = wait_row(srv.db, id, "sent", function(x) return x.state == "sent" end)
      assert.equal(1, r.attempts)
      assert.is_true(r.sent_at > 0)
    end
    local out = srv:expect(200, "GET", "/admin/outbox?state=sent")
    local item
    for _, it in ipairs(out.items) do if it.id == inv then item = it end end
    assert.truthy(item, "the invitation in GET /admin/outbox?state=sent")
    assert.equal("invitation", item.kind)
    assert.equal(SUBJECT, item.subject)
    assert.equal("kari@asker.kommune.no", item.to)
    assert.equal(1, item.attempts)
    assert.truthy(item.sent_at:match("^%d%d%d%d%-%d%d%-%d%dT"))
    assert.equal(H.null, item.last_error)
    assert.equal(2, out.counts.sent)
  end)

  it("delivers a report: text and HTML as alternatives, with a CSV attached", function()
    local html = "<!doctype html><html><body><h1>Månedsrapport – Helse og omsorg</h1>"
      .. "<p>Dekning 87&nbsp;%, gapsum 12.</p></body></html>\n"
    local csv = "avdeling;dekning;gapsum\r\nHelse og omsorg;0,87;12\r\nØst – hjemmetjeneste;1;0\r\n"
    local id = queue(srv.db, { kind = "report", to = "leder@asker.kommune.no",
                               subject = "Månedsrapport november 2026", body = "Dekning 87 %.\n",
                               html = html, attachment_name = "månedsrapport-2026-11.csv",
                               attachment_type = "text/csv; charset=UTF-8", attachment = csv })
    local m = wait_arrived(dir, id)[1]
    assert_wire_form(m.raw)
    assert.equal("multipart/mixed", m.content_type)
    assert.same({}, m.defects)
    assert.equal(3, #m.parts)
    local text, page, file = m.parts[1], m.parts[2], m.parts[3]
    for _, part in ipairs(m.parts) do assert.same({}, part.defects) end
    assert.truthy(m.raw:find("Content-Type: multipart/alternative;", 1, true))
    assert.equal("text/plain", text.content_type)
    assert.equal("Dekning 87 %.\r\n", text.text)
    assert.equal("text/html", page.content_type)
    assert.equal("utf-8", page.charset)
    assert.equal((html:gsub("\n", "\r\n")), page.text)
    assert.equal("text/csv", file.content_type)
    assert.equal("attachment", file.disposition)
    assert.equal("månedsrapport-2026-11.csv", file.filename)
    assert.equal("base64", file.transfer_encoding)
    assert.equal(csv, file.text)
    wait_row(srv.db, id, "sent", function(x) return x.state == "sent" end)
  end)

  it("retries while the server is down and delivers once when it is back", function()
    MK.stop(smtp)
    smtp = nil
    local id = queue(srv.db, { to = "per@asker.kommune.no", subject = "Påminnelse: kurs i morgen" })
    local r = wait_row(srv.db, id, "tried", function(x) return x.attempts >= 1 end)
    assert.equal("pending", r.state)
    assert.truthy(r.last_error:find("connect", 1, true), r.last_error)
    local out = srv:expect(200, "GET", "/admin/outbox?state=pending")
    assert.equal(id, out.items[1].id)
    assert.equal(r.last_error, out.items[1].last_error)
    assert.truthy(out.items[1].next_attempt_at:match("^%d%d%d%d%-"))
    assert.is_true(out.counts.pending >= 1)

    smtp = MK.start(port, dir)
    local m = wait_arrived(dir, id)[1]
    assert.equal("Påminnelse: kurs i morgen", m.headers.subject)
    r = wait_row(srv.db, id, "sent", function(x) return x.state == "sent" end)
    assert.is_true(r.attempts >= 2)
    sleep(2.5) -- more than a tick: a second copy would be here by now
    assert.equal(1, #arrived(dir, id))
  end)

  it("retries after a 4xx answer and keeps the answer until it goes", function()
    MK.stop(smtp)
    smtp = MK.start(port, dir, { reject = "451 4.3.0 Mailbox busy, try again later" })
    local id = queue(srv.db, { to = "liv@asker.kommune.no", subject = "Venteliste" })
    local r = wait_row(srv.db, id, "refused for now", function(x) return x.attempts >= 1 end)
    assert.equal("pending", r.state)
    assert.truthy(r.last_error:find("451 4.3.0 Mailbox busy, try again later", 1, true),
      r.last_error)
    assert.equal(0, #arrived(dir, id))
    MK.stop(smtp)
    smtp = MK.start(port, dir)
    assert.equal(1, #wait_arrived(dir, id))
    wait_row(srv.db, id, "sent", function(x) return x.state == "sent" end)
  end)

  it("fails a mail on a 5xx answer, with the answer in the outbox", function()
    MK.stop(smtp)
    local answer = "550 5.1.1 <ukjent@asker.kommune.no>: Recipient address rejected: User unknown"
    smtp = MK.start(port, dir, { reject = answer })
    local id = queue(srv.db, { to = "ukjent@asker.kommune.no", subject = "Påminnelse: evaluering" })
    local r = wait_row(srv.db, id, "failed", function(x) return x.state ~= "sending" and
      x.attempts >= 1 end)
    assert.equal("failed", r.state)
    assert.equal(1, r.attempts)
    assert.truthy(r.last_error:find(answer, 1, true), r.last_error)

    local out = srv:expect(200, "GET", "/admin/outbox?state=failed")
    assert.equal(1, #out.items)
    local it = out.items[1]
    assert.equal(id, it.id)
    assert.equal("failed", it.state)
    assert.equal("ukjent@asker.kommune.no", it.to)
    assert.equal("Påminnelse: evaluering", it.subject)
    assert.equal(r.last_error, it.last_error)
    assert.equal(H.null, it.sent_at)
    assert.equal(H.null, it.next_attempt_at)
    assert.equal(1, out.counts.failed)
    assert.equal(0, out.counts.sending)

    local status, body = srv:api("GET", "/admin/outbox?state=lost")
    H.check_error(status, body, 422, "invalid", "state")
    local dept = srv:department()
    local _, _, login = srv:employee({ department_id = dept })
    status, body = srv:api("GET", "/admin/outbox", nil, srv:login(login))
    H.check_error(status, body, 403, "forbidden")
  end)

  it("stops gracefully and survives kill -9 while mails are on their way: each arrives once",
    function()
      MK.stop(smtp)
      smtp = MK.start(port, dir, { stall = true }) -- takes the connection, never answers
      local ids = {}
      for i = 1, 3 do
        ids[i] = queue(srv.db, { kind = "invitation", to = ("deltaker%d@asker.kommune.no"):format(i),
                                 subject = ("Invitasjon %d: Gerica – øving"):format(i), ics = ICS })
      end
      local function all(state)
        return function()
          for _, id in ipairs(ids) do
            if row(srv.db, id).state ~= state then return false end
          end
          return true
        end
      end
      H.wait_for("the mails to be claimed", WAIT, all("sending"))

      -- SIGTERM with a send stuck: evne stops at once, and nothing was sent, so nothing counts
      local t0 = socket.gettime()
      assert.equal(0, srv:stop())
      assert.is_true(socket.gettime() - t0 < 8, "the stop took too long")
      for _, id in ipairs(ids) do
        local r = row(srv.db, id)
        assert.equal("pending", r.state)
        assert.equal(0, r.attempts)
      end

      -- kill -9 with a send stuck: the rows stay 'sending' in the database
      srv:restart()
      H.wait_for("the mails to be claimed again", WAIT, all("sending"))
      assert.equal(137, srv:kill9())
      assert.is_true(all("sending")())

      MK.stop(smtp)
      smtp = MK.start(port, dir)
      srv:restart()
      for _, id in ipairs(ids) do wait_arrived(dir, id) end
      for _, id in ipairs(ids) do
        wait_row(srv.db, id, "sent", function(x) return x.state == "sent" end)
      end
      sleep(2.5) -- more than a tick
      for i, id in ipairs(ids) do
        local got = arrived(dir, id)
        assert.equal(1, #got)
        assert.equal(("deltaker%d@asker.kommune.no"):format(i), got[1].headers.to)
        assert.equal("invitation.ics", got[1].parts[2].filename)
      end
      assert.truthy((H.read_file(srv.log) or ""):find("being sent when evne last stopped",
        1, true))
    end)

  it("delivered every mail of the run at most once", function()
    local seen = {}
    for _, file in ipairs(MK.received(dir)) do
      local mid = MK.parse(file).headers["message-id"]
      assert.is_nil(seen[mid], "arrived twice: " .. tostring(mid))
      seen[mid] = true
    end
    local out = srv:expect(200, "GET", "/admin/outbox")
    assert.equal(0, out.counts.pending)
    assert.equal(0, out.counts.sending)
    assert.equal(1, out.counts.failed)
    assert.equal(#MK.received(dir), out.counts.sent)
  end)
end)

-- --- STARTTLS --------------------------------------------------------------------------------

-- A self-signed certificate for 127.0.0.1, made now with the openssl command: {cert, key}.
local function make_certificate(dir, name)
  local cert, key = ("%s/%s.pem"):format(dir, name), ("%s/%s.key"):format(dir, name)
  local out, rc = H.run(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
    .. "-nodes -days 2 -subj '/CN=evne test SMTP %s' "
    .. "-addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' -keyout %s -out %s 2>&1")
    :format(name, q(key), q(cert)))
  assert(rc == 0, "openssl: " .. out)
  return { cert = cert, key = key }
end

describe("mail over STARTTLS", function()
  local dir, port, smtp, trusted, other
  local servers = {}

  -- evne delivering to the SMTP server with STARTTLS, trusting the certificates in ca_file
  -- (the system's when nil).
  local function evne(ca_file)
    local args = { "--smtp-host", "127.0.0.1", "--smtp-port", tostring(port), "--smtp-tls",
                   "starttls", "--mail-from", FROM, "--mail-retry-seconds", "1" }
    if ca_file then
      args[#args + 1] = "--smtp-ca-file"
      args[#args + 1] = ca_file
    end
    local srv = H.start({ args = args })
    servers[#servers + 1] = srv
    return srv
  end

  -- The mail is not sent: it waits, tried and refused, with the reason in the outbox.
  local function refused(srv, to, why)
    local id = queue(srv.db, { to = to, subject = "Påminnelse: kurs i morgen" })
    local r = wait_row(srv.db, id, "tried", function(x) return x.attempts >= 1 end)
    assert.equal("pending", r.state)
    assert.truthy(r.last_error:find(why, 1, true), r.last_error)
    local out = srv:expect(200, "GET", "/admin/outbox?state=pending")
    local item
    for _, it in ipairs(out.items) do if it.id == id then item = it end end
    assert.truthy(item, "the mail in GET /admin/outbox?state=pending")
    assert.equal(r.last_error, item.last_error)
    assert.equal(0, out.counts.sent)
    sleep(1.5) -- a retry has come and gone by now
    for _, file in ipairs(MK.received(dir)) do
      assert.are_not.equal(to, MK.parse(file).headers.to, "it arrived: " .. file)
    end
    return r
  end

  setup(function()
    dir = H.mktemp_dir("evne-tls")
    trusted = make_certificate(dir, "smtp")
    other = make_certificate(dir, "other")
    port = H.free_port()
    smtp = MK.start(port, dir, { starttls = trusted })
  end)

  teardown(function()
    for _, srv in ipairs(servers) do srv:cleanup() end
    MK.stop(smtp)
    H.remove_dir(dir)
  end)

  it("delivers through STARTTLS to a server whose certificate it is told to trust", function()
    local srv = evne(trusted.cert)
    assert.truthy(H.read_file(srv.log):find("(STARTTLS) as " .. FROM .. ", trusting the "
      .. "certificates in " .. trusted.cert, 1, true))
    local id = queue(srv.db, { kind = "invitation", to = "kari@asker.kommune.no",
                               subject = SUBJECT, body = BODY, ics = ICS })
    local m = wait_arrived(dir, id)[1]
    assert.is_true(m.envelope.tls) -- upgraded before a word of the mail went out
    assert.same({ "kari@asker.kommune.no" }, m.envelope.rcpt_tos)
    assert.equal(SUBJECT, m.headers.subject)
    assert.equal(ICS, m.parts[2].text)
    local r = wait_row(srv.db, id, "sent", function(x) return x.state == "sent" end)
    assert.equal(1, r.attempts)
    srv:stop()
  end)

  it("sends nothing to a server whose certificate it does not trust, and says why", function()
    -- another self-signed certificate as the only one trusted
    local srv = evne(other.cert)
    local r = refused(srv, "per@asker.kommune.no", "certificate")
    assert.truthy(r.last_error:lower():find("self%-signed") or r.last_error:find("verify"),
      r.last_error)
    srv:stop()
    -- the system's certificates, as a server runs by default
    srv = evne(nil)
    refused(srv, "liv@asker.kommune.no", "certificate")
    srv:stop()
  end)

  it("sends nothing in the clear to a server that offers no STARTTLS", function()
    local plain_port = H.free_port()
    local plain = MK.start(plain_port, dir)
    local srv = H.start({ args = { "--smtp-host", "127.0.0.1", "--smtp-port",
      tostring(plain_port), "--smtp-tls", "starttls", "--smtp-ca-file", trusted.cert,
      "--mail-from", FROM, "--mail-retry-seconds", "1" } })
    servers[#servers + 1] = srv
    local ok, err = pcall(refused, srv, "ola@asker.kommune.no", "STARTTLS")
    MK.stop(plain)
    assert(ok, err)
    srv:stop()
  end)

  it("refuses a CA file without TLS, and one it cannot read", function()
    local srv = servers[1]
    local out, rc = H.run(("%s serve --db %s --port 0 --smtp-host 127.0.0.1 --smtp-tls none "
      .. "--smtp-ca-file %s --mail-from %s 2>&1"):format(q(H.BIN), q(srv.db), q(trusted.cert), FROM))
    assert.equal(2, rc)
    assert.truthy(out:find("--smtp-ca-file needs --smtp-tls starttls or tls", 1, true), out)
    out, rc = H.run(("%s serve --db %s --port 0 --smtp-host 127.0.0.1 --smtp-ca-file %s "
      .. "--mail-from %s 2>&1"):format(q(H.BIN), q(srv.db), q(dir .. "/missing.pem"), FROM))
    assert.equal(1, rc)
    assert.truthy(out:find("cannot read the CA certificates in " .. dir .. "/missing.pem", 1,
      true), out)
  end)
end)
