-- The shipped reminders policy (rules/reminders.lua), run in the server's sandbox.
local S = require("sandbox")
local json = require("dkjson")
local RULES, eval = S.RULES, S.eval

local DAY = 24 * 60 * 60
local NOW = 1800000000
local employee = { id = 5, name = "Per Hansen", department_id = 3, profiles = { 1 } }

-- facts with nothing due, changed by `changes`
local function facts(changes)
  local f = { last_self_assessment = NOW - 10 * DAY, open_invitations = {},
              missing_evaluations = {}, reminders = {}, has_manager = true }
  for k, v in pairs(changes or {}) do
    f[k] = v
  end
  return f
end

local function due(f, now)
  local answer, err = eval(RULES, "reminders.lua", "due", { employee, f, now or NOW })
  assert(err == nil, err)
  return answer
end

local function sent(days_ago, template, to, enrolment_id)
  return { sent_at = NOW - days_ago * DAY, template = template, to = to or "employee",
           enrolment_id = enrolment_id }
end


describe("reminders.lua", function()
  it("has nothing to say when all is in order", function()
    assert.is_nil(due(facts()))
  end)

  describe("the self-assessment", function()
    it("is due when there is none", function()
      assert.are.same({ to = "employee", template = "self_assessment" },
                      due(facts({ last_self_assessment = json.null })))
    end)

    it("is due when the newest is older than 180 days, not at 180 days", function()
      assert.is_nil(due(facts({ last_self_assessment = NOW - 180 * DAY })))
      assert.are.same({ to = "employee", template = "self_assessment" },
                      due(facts({ last_self_assessment = NOW - 180 * DAY - 1 })))
    end)
  end)

  describe("an invitation", function()
    it("is due when unanswered for 7 days", function()
      local invited = { { enrolment_id = 7, invited_at = NOW - 7 * DAY + 1 } }
      assert.is_nil(due(facts({ open_invitations = invited })))
      invited[1].invited_at = NOW - 7 * DAY
      assert.are.same({ to = "employee", template = "invitation", enrolment_id = 7 },
                      due(facts({ open_invitations = invited })))
    end)

    it("comes before an evaluation and a self-assessment, the oldest first", function()
      local f = facts({
        last_self_assessment = json.null,
        open_invitations = { { enrolment_id = 8, invited_at = NOW - 9 * DAY },
                             { enrolment_id = 7, invited_at = NOW - 20 * DAY } },
        missing_evaluations = { { enrolment_id = 9, course_ended_at = NOW - 30 * DAY } },
      })
      assert.are.same({ to = "employee", template = "invitation", enrolment_id = 7 }, due(f))
    end)
  end)

  describe("a course evaluation", function()
    it("is due 3 days after the course", function()
      local missing = { { enrolment_id = 9, course_ended_at = NOW - 3 * DAY + 1 } }
      assert.is_nil(due(facts({ missing_evaluations = missing })))
      missing[1].course_ended_at = NOW - 3 * DAY
      assert.are.same({ to = "employee", template = "evaluation", enrolment_id = 9 },
                      due(facts({ missing_evaluations = missing })))
    end)

    it("comes before a self-assessment", function()
      local f = facts({ last_self_assessment = json.null,
                        missing_evaluations = { { enrolment_id = 9, course_ended_at = 0 } } })
      assert.are.equal("evaluation", due(f).template)
    end)
  end)

  describe("at most one reminder a week", function()
    it("waits 7 days after any reminder, the manager's included", function()
      local f = facts({ last_self_assessment = json.null,
                        reminders = { sent(7, "evaluation", "manager", 3) } })
      f.reminders[1].sent_at = NOW - 6 * DAY
      assert.is_nil(due(f))
      f.reminders[1].sent_at = NOW - 7 * DAY
      assert.are.equal("self_assessment", due(f).template)
    end)

    it("counts whole days, so that a run a little later or a week across summer time counts",
       function()
      -- a week ago at 08:00 the run was late and sent at 08:00:40; today's runs at 08:00:00
      local f = facts({ last_self_assessment = json.null,
                        reminders = { sent(7, "self_assessment") } })
      f.reminders[1].sent_at = NOW - 7 * DAY + 40
      assert.are.equal("self_assessment", due(f).template)
      -- 7 days minus one hour: from winter time to summer time
      f.reminders[1].sent_at = NOW - 7 * DAY + 3600
      assert.are.equal("self_assessment", due(f).template)
      -- half a day short of a week is the day before
      f.reminders[1].sent_at = NOW - 7 * DAY + DAY / 2 + 1
      assert.is_nil(due(f))
    end)
  end)

  describe("an approval waiting for the employee as a manager", function()
    local function waiting(enrolment_id, days_ago)
      return { enrolment_id = enrolment_id, employee_id = 100 + enrolment_id,
               requested_at = NOW - days_ago * DAY }
    end

    it("is due when an enrolment has waited 2 days, the oldest first", function()
      assert.is_nil(due(facts({ pending_approvals = { waiting(21, 1) } })))
      assert.are.same({ to = "employee", template = "approval", enrolment_id = 22 },
                      due(facts({ pending_approvals = { waiting(21, 1), waiting(22, 2),
                                                        waiting(23, 2) } })))
    end)

    it("comes before the manager's own invitations, evaluations and self-assessment",
       function()
      local f = facts({
        last_self_assessment = json.null,
        open_invitations = { { enrolment_id = 7, invited_at = NOW - 20 * DAY } },
        missing_evaluations = { { enrolment_id = 9, course_ended_at = NOW - 30 * DAY } },
        pending_approvals = { waiting(21, 3) },
      })
      assert.are.same({ to = "employee", template = "approval", enrolment_id = 21 }, due(f))
    end)

    it("goes to the manager's own manager after two reminders without effect", function()
      local f = facts({ pending_approvals = { waiting(21, 30) },
                        reminders = { sent(7, "approval", "employee", 21),
                                      sent(14, "approval", "employee", 21) } })
      assert.are.same({ to = "manager", template = "approval", enrolment_id = 21 }, due(f))
      f.has_manager = false
      assert.are.same({ to = "employee", template = "approval", enrolment_id = 21 }, due(f))
    end)

    it("counts only the reminders since the approval was asked for", function()
      local f = facts({ pending_approvals = { waiting(21, 10) },
                        reminders = { sent(14, "approval", "employee", 21),
                                      sent(21, "approval", "employee", 21) } })
      assert.are.equal("employee", due(f).to)
    end)
  end)

  describe("escalation", function()
    local never = { last_self_assessment = json.null }

    it("tells the manager after two reminders without effect", function()
      never.reminders = { sent(7, "self_assessment") }
      assert.are.equal("employee", due(facts(never)).to)
      never.reminders = { sent(7, "self_assessment"), sent(14, "self_assessment") }
      assert.are.equal("manager", due(facts(never)).to)
    end)

    it("goes back to the employee after telling the manager", function()
      never.reminders = { sent(7, "self_assessment", "manager"), sent(14, "self_assessment"),
                          sent(21, "self_assessment") }
      assert.are.equal("employee", due(facts(never)).to)
      never.reminders = { sent(7, "self_assessment"), sent(14, "self_assessment"),
                          sent(21, "self_assessment", "manager"), sent(28, "self_assessment"),
                          sent(35, "self_assessment") }
      assert.are.equal("manager", due(facts(never)).to)
    end)

    it("counts only reminders of the same thing", function()
      local f = facts({ open_invitations = { { enrolment_id = 7, invited_at = NOW - 30 * DAY } },
                        reminders = { sent(7, "invitation", "employee", 6),
                                      sent(14, "self_assessment"),
                                      sent(21, "invitation", "employee", 7) } })
      assert.are.same({ to = "employee", template = "invitation", enrolment_id = 7 }, due(f))
    end)

    it("counts only reminders since the thing became due", function()
      local f = facts({ last_self_assessment = NOW - 200 * DAY,
                        reminders = { sent(250, "self_assessment"), sent(260, "self_assessment") } })
      assert.are.equal("employee", due(f).to)
    end)

    it("keeps to the employee when there is no manager", function()
      never.reminders = { sent(7, "self_assessment"), sent(14, "self_assessment") }
      never.has_manager = false
      assert.are.equal("employee", due(facts(never)).to)
      never.has_manager = nil
    end)
  end)
end)
