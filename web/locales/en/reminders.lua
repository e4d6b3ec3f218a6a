-- Strings of the reminders (web/templates/mail/reminder_*.txt), English. A reminder goes to the
-- employee, or to their manager when reminders to the employee had no effect (_manager keys).
return {
  ["reminder.self_assessment.subject"] = "Reminder: update your self-assessment in evne",
  ["reminder.self_assessment.subject_manager"] =
    "Reminder: %s has not updated their self-assessment",
  ["reminder.self_assessment.never"] =
    "You have not assessed yourself in evne yet. Your self-assessment shows what you can do, and which courses can take you further.",
  ["reminder.self_assessment.since"] =
    "Your latest self-assessment is from %s. Please look it over and update what has changed, so that evne shows the right competence gaps and the right courses for you.",
  ["reminder.self_assessment.how"] = "Log in to evne and choose “%s”.",
  ["reminder.self_assessment.manager_never"] =
    "%s has not assessed themselves in evne yet, and the reminders about it have not helped. Perhaps you could talk about it?",
  ["reminder.self_assessment.manager_since"] =
    "The latest self-assessment of %s is from %s, and the reminders to update it have not helped. Perhaps you could talk about it?",
  ["reminder.self_assessment.manager_how"] =
    "You see your team's self-assessments under “%s” in evne.",

  ["reminder.invitation.subject"] = "Reminder: please answer the invitation to the course %s",
  ["reminder.invitation.subject_manager"] =
    "Reminder: %s has not answered the invitation to the course %s",
  ["reminder.invitation.text"] =
    "You are invited to the course “%s”, %s, and have not answered yet.",
  ["reminder.invitation.how"] = "Log in to evne and choose “%s” to accept or decline.",
  ["reminder.invitation.manager_text"] =
    "%s is invited to the course “%s”, %s, and has not answered the invitation, not even after reminders.",
  ["reminder.invitation.manager_how"] = "Perhaps you could talk about the course.",

  ["reminder.evaluation.subject"] = "Reminder: how was the course %s?",
  ["reminder.evaluation.subject_manager"] =
    "Reminder: %s has not evaluated the course %s",
  ["reminder.evaluation.text"] =
    "You attended the course “%s”, %s. Please answer the course evaluation: it takes a couple of minutes and makes the courses better.",
  ["reminder.evaluation.how"] = "Log in to evne and choose “%s”.",
  ["reminder.evaluation.manager_text"] =
    "%s attended the course “%s”, %s, but has not answered the course evaluation, not even after reminders.",
  ["reminder.evaluation.manager_how"] =
    "Perhaps you could mention the evaluation: it makes the courses better.",

  ["reminder.approval.subject"] = "Reminder: %s is waiting for approval for the course %s",
  ["reminder.approval.subject_manager"] =
    "Reminder: enrolments are waiting for approval by %s",
  ["reminder.approval.text"] =
    "%s has accepted the course “%s”, %s, and has been waiting for your approval since %s.",
  ["reminder.approval.more"] = "In all, %d enrolments are waiting for your approval.",
  ["reminder.approval.how"] = "Log in to evne and choose “%s” to approve or reject.",
  ["reminder.approval.manager_text"] =
    "%s has accepted the course “%s”, %s, and has been waiting for approval by %s since %s, also after reminders.",
  ["reminder.approval.manager_how"] =
    "Enrolments that are not approved before the course starts get no place.",

  ["reminder.place"] = "Place: %s",
}
