-- reminders.lua: who is reminded of what, and when.
--
-- Every morning evne calls due(employee, facts, now) for each active employee and sends what it
-- answers: nil (nothing is due) or one reminder { to = "employee" or "manager",
-- template = the name of the message, ... }. docs/rules.md describes every field.
--   employee  { id, name, department_id, profiles = { profile ids } }
--   facts     { last_self_assessment = unix time, or nil when the employee never assessed,
--               open_invitations = { { enrolment_id, invited_at }, ... },
--               missing_evaluations = { { enrolment_id, course_ended_at }, ... },
--               pending_approvals = { { enrolment_id, employee_id, requested_at }, ... }
--                 (for a manager: enrolments of their people waiting for their approval),
--               reminders = { { sent_at, template, to, enrolment_id }, ... } (newest first),
--               has_manager = true/false }
--   now       the time now, in unix seconds
--
-- This policy:
--   * sends at most one reminder a week per employee (those to the manager included);
--   * reminds of, most urgent first: an enrolment waiting 2 days for the employee's approval as
--     a manager (template "approval": others wait for it), a course invitation unanswered for
--     7 days ("invitation"), a course evaluation still missing 3 days after the course
--     ("evaluation"), no self-assessment yet or the newest older than 180 days
--     ("self_assessment");
--   * after two reminders of the same thing without effect, reminds the manager instead, then
--     the employee twice again, and so on. Without a manager it keeps reminding the employee.
-- "Without effect": the reminders sent since the thing became due (since the approval was asked
-- for, since the invitation, since the course ended, since the last self-assessment) and since
-- the manager was last told.

local DAY = 24 * 60 * 60

local reminders = {}

reminders.PAUSE_DAYS = 7                  -- at most one reminder a week
reminders.APPROVAL_AFTER = 2 * DAY        -- an enrolment waiting this long for its approval
reminders.INVITATION_AFTER = 7 * DAY      -- an invitation unanswered this long
reminders.EVALUATION_AFTER = 3 * DAY      -- an evaluation missing this long after the course
reminders.SELF_ASSESSMENT_AFTER = 180 * DAY -- a self-assessment older than this
reminders.ESCALATE_AFTER = 2              -- reminders to the employee before the manager is told

-- Whole days from t to now, rounded. evne runs once a day at about the same hour, but a run may
-- start a little later than the one a week before, and a week across the change to or from
-- summer time is an hour shorter or longer: a reminder sent 6 days and 23 hours ago was sent a
-- week ago.
local function days_since(t, now)
  return (now - t + DAY // 2) // DAY
end

-- The oldest entry of list whose field `at` lies at least `after` seconds before now.
local function oldest_due(list, at, after, now)
  local found
  for _, entry in ipairs(list or {}) do
    if now - entry[at] >= after and (found == nil or entry[at] < found[at]) then
      found = entry
    end
  end
  return found
end

-- To the employee, or to the manager after ESCALATE_AFTER reminders of the same thing (same
-- template, same enrolment) sent since `since` and since the manager was last told.
local function addressed(reminder, since, facts)
  local to_employee, manager_told = 0, since
  for _, sent in ipairs(facts.reminders or {}) do
    if sent.template == reminder.template and sent.enrolment_id == reminder.enrolment_id
        and sent.to == "manager" and sent.sent_at >= manager_told then
      manager_told = sent.sent_at
    end
  end
  for _, sent in ipairs(facts.reminders or {}) do
    if sent.template == reminder.template and sent.enrolment_id == reminder.enrolment_id
        and sent.to == "employee" and sent.sent_at >= manager_told then
      to_employee = to_employee + 1
    end
  end
  if to_employee >= reminders.ESCALATE_AFTER and facts.has_manager then
    reminder.to = "manager"
  else
    reminder.to = "employee"
  end
  return reminder
end

function reminders.due(employee, facts, now) -- luacheck: no unused args
  for _, sent in ipairs(facts.reminders or {}) do
    if days_since(sent.sent_at, now) < reminders.PAUSE_DAYS then
      return nil -- one reminder a week is enough
    end
  end

  local approval = oldest_due(facts.pending_approvals, "requested_at",
                              reminders.APPROVAL_AFTER, now)
  if approval then
    return addressed({ template = "approval", enrolment_id = approval.enrolment_id },
                     approval.requested_at, facts)
  end

  local invitation = oldest_due(facts.open_invitations, "invited_at",
                                reminders.INVITATION_AFTER, now)
  if invitation then
    return addressed({ template = "invitation", enrolment_id = invitation.enrolment_id },
                     invitation.invited_at, facts)
  end

  local evaluation = oldest_due(facts.missing_evaluations, "course_ended_at",
                                reminders.EVALUATION_AFTER, now)
  if evaluation then
    return addressed({ template = "evaluation", enrolment_id = evaluation.enrolment_id },
                     evaluation.course_ended_at, facts)
  end

  local last = facts.last_self_assessment
  if last == nil or now - last > reminders.SELF_ASSESSMENT_AFTER then
    return addressed({ template = "self_assessment" }, last or 0, facts)
  end
  return nil
end

-- Examples: `evne check-rules` calls due with args and compares the answer with expect
-- (no expect: nothing is due).
local employee = { id = 5, name = "Per Hansen", department_id = 3, profiles = { 1 } }
local now = 1800000000

reminders.examples = {
  {
    name = "a recent self-assessment and nothing open: nothing is due",
    args = { employee, { last_self_assessment = now - 10 * DAY, open_invitations = {},
                         missing_evaluations = {}, reminders = {}, has_manager = true }, now },
  },
  {
    name = "never assessed: remind the employee",
    args = { employee, { open_invitations = {}, missing_evaluations = {}, reminders = {},
                         has_manager = true }, now },
    expect = { to = "employee", template = "self_assessment" },
  },
  {
    name = "a self-assessment 181 days old",
    args = { employee, { last_self_assessment = now - 181 * DAY, open_invitations = {},
                         missing_evaluations = {}, reminders = {}, has_manager = false }, now },
    expect = { to = "employee", template = "self_assessment" },
  },
  {
    name = "an invitation unanswered for 6 days is not due yet; one of 8 days is",
    args = { employee, { last_self_assessment = now - 10 * DAY,
                         open_invitations = { { enrolment_id = 41, invited_at = now - 6 * DAY },
                                              { enrolment_id = 42, invited_at = now - 8 * DAY } },
                         missing_evaluations = {}, reminders = {}, has_manager = true }, now },
    expect = { to = "employee", template = "invitation", enrolment_id = 42 },
  },
  {
    name = "an evaluation missing 3 days after the course",
    args = { employee, { last_self_assessment = now - 10 * DAY, open_invitations = {},
                         missing_evaluations = { { enrolment_id = 43,
                                                   course_ended_at = now - 3 * DAY } },
                         reminders = {}, has_manager = true }, now },
    expect = { to = "employee", template = "evaluation", enrolment_id = 43 },
  },
  {
    name = "an approval asked for 2 days ago: remind the manager who is to give it",
    args = { employee, { last_self_assessment = now - 10 * DAY, open_invitations = {},
                         missing_evaluations = {},
                         pending_approvals = { { enrolment_id = 51, employee_id = 9,
                                                 requested_at = now - 1 * DAY },
                                               { enrolment_id = 52, employee_id = 8,
                                                 requested_at = now - 2 * DAY } },
                         reminders = {}, has_manager = true }, now },
    expect = { to = "employee", template = "approval", enrolment_id = 52 },
  },
  {
    name = "an approval asked for yesterday is not due yet",
    args = { employee, { last_self_assessment = now - 10 * DAY, open_invitations = {},
                         missing_evaluations = {},
                         pending_approvals = { { enrolment_id = 51, employee_id = 9,
                                                 requested_at = now - 1 * DAY } },
                         reminders = {}, has_manager = true }, now },
  },
  {
    name = "an approval comes before the manager's own invitation",
    args = { employee, { last_self_assessment = now - 10 * DAY,
                         open_invitations = { { enrolment_id = 42, invited_at = now - 20 * DAY } },
                         missing_evaluations = {},
                         pending_approvals = { { enrolment_id = 51, employee_id = 9,
                                                 requested_at = now - 3 * DAY } },
                         reminders = {}, has_manager = true }, now },
    expect = { to = "employee", template = "approval", enrolment_id = 51 },
  },
  {
    name = "two approval reminders without effect: the manager's own manager is told",
    args = { employee, { last_self_assessment = now - 10 * DAY, open_invitations = {},
                         missing_evaluations = {},
                         pending_approvals = { { enrolment_id = 51, employee_id = 9,
                                                 requested_at = now - 20 * DAY } },
                         reminders = { { sent_at = now - 7 * DAY, template = "approval",
                                         to = "employee", enrolment_id = 51 },
                                       { sent_at = now - 14 * DAY, template = "approval",
                                         to = "employee", enrolment_id = 51 } },
                         has_manager = true }, now },
    expect = { to = "manager", template = "approval", enrolment_id = 51 },
  },
  {
    name = "a reminder 6 days ago: wait",
    args = { employee, { open_invitations = {}, missing_evaluations = {},
                         reminders = { { sent_at = now - 6 * DAY, template = "self_assessment",
                                         to = "employee" } },
                         has_manager = true }, now },
  },
  {
    name = "a reminder 6 days and 23 hours ago (a week across summer time) was a week ago",
    args = { employee, { open_invitations = {}, missing_evaluations = {},
                         reminders = { { sent_at = now - 7 * DAY + 3600, template = "self_assessment",
                                         to = "employee" } },
                         has_manager = true }, now },
    expect = { to = "employee", template = "self_assessment" },
  },
  {
    name = "two reminders without effect: the manager is told",
    args = { employee, { open_invitations = {}, missing_evaluations = {},
                         reminders = { { sent_at = now - 7 * DAY, template = "self_assessment",
                                         to = "employee" },
                                       { sent_at = now - 14 * DAY, template = "self_assessment",
                                         to = "employee" } },
                         has_manager = true }, now },
    expect = { to = "manager", template = "self_assessment" },
  },
  {
    name = "after the manager was told, the employee is reminded again",
    args = { employee, { open_invitations = {}, missing_evaluations = {},
                         reminders = { { sent_at = now - 7 * DAY, template = "self_assessment",
                                         to = "manager" },
                                       { sent_at = now - 14 * DAY, template = "self_assessment",
                                         to = "employee" },
                                       { sent_at = now - 21 * DAY, template = "self_assessment",
                                         to = "employee" } },
                         has_manager = true }, now },
    expect = { to = "employee", template = "self_assessment" },
  },
  {
    name = "reminders from before the last self-assessment do not count",
    args = { employee, { last_self_assessment = now - 200 * DAY, open_invitations = {},
                         missing_evaluations = {},
                         reminders = { { sent_at = now - 300 * DAY, template = "self_assessment",
                                         to = "employee" },
                                       { sent_at = now - 310 * DAY, template = "self_assessment",
                                         to = "employee" } },
                         has_manager = true }, now },
    expect = { to = "employee", template = "self_assessment" },
  },
  {
    name = "no manager: keep reminding the employee",
    args = { employee, { open_invitations = {}, missing_evaluations = {},
                         reminders = { { sent_at = now - 7 * DAY, template = "self_assessment",
                                         to = "employee" },
                                       { sent_at = now - 14 * DAY, template = "self_assessment",
                                         to = "employee" } },
                         has_manager = false }, now },
    expect = { to = "employee", template = "self_assessment" },
  },
}

return reminders
