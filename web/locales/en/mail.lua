-- Strings of the mails evne sends (web/templates/mail/), and the calendar words that the when()
-- helper writes times with (English).
return {
  -- when(starts, ends): "Thursday 10 January 2030, 09:00–12:00"
  ["when.same_day"] = "{weekday} {day} {month} {year}, {from}–{to}",
  ["when.day"] = "{weekday} {day} {month} {year}, {time}",
  ["when.days"] = "{from} – {to}",
  ["when.time"] = "{h}:{m}",
  ["weekday.1"] = "Monday",
  ["weekday.2"] = "Tuesday",
  ["weekday.3"] = "Wednesday",
  ["weekday.4"] = "Thursday",
  ["weekday.5"] = "Friday",
  ["weekday.6"] = "Saturday",
  ["weekday.7"] = "Sunday",
  ["month.1"] = "January",
  ["month.2"] = "February",
  ["month.3"] = "March",
  ["month.4"] = "April",
  ["month.5"] = "May",
  ["month.6"] = "June",
  ["month.7"] = "July",
  ["month.8"] = "August",
  ["month.9"] = "September",
  ["month.10"] = "October",
  ["month.11"] = "November",
  ["month.12"] = "December",
  ["mail.decimal_mark"] = ".",
  ["mail.hello"] = "Hello %s,",
  ["mail.regards"] = "Regards,\nevne",
  -- every mail about a session
  ["mail.session.course"] = "Course: %s",
  ["mail.session.when"] = "When: %s (Norwegian time)",
  ["mail.session.place"] = "Where: %s",
  ["mail.session.trainer"] = "Trainer: %s",
  ["mail.session.hour"] = "Duration: %s hour",
  ["mail.session.hours"] = "Duration: %s hours",
  ["mail.reason"] = "Reason: %s",
  ["mail.elearning_during"] = "E-learning during the course: %s",
  ["mail.elearning_after"] = "Repetition after the course (e-learning): %s",
  ["mail.gaps.closes"] = "The course closes these competence gaps:",
  ["mail.gaps.gap"] = "%s: %s (level now %d, required %d, the course gives level %d)",
  ["mail.gaps.covers"] = "The course covers:",
  ["mail.gaps.cover"] = "%s: %s (target: level %d)",
  -- the calendar event (.ics): its summary
  ["mail.calendar.summary"] = "Course: %s",
  ["mail.calendar.summary_manager"] = "Course: %s (%s)",
  -- the mails: NAME.subject and NAME.text of web/templates/mail/NAME.txt
  ["mail.invitation.subject"] = "Invitation to a course: %s",
  ["mail.invitation.text"] = "You are invited to the course “%s”.",
  ["mail.invitation.answer"] = "Answer the invitation in evne: accept or decline. Once you have "
    .. "accepted, your manager approves your place.",
  ["mail.invitation_manager.subject"] = "%s is invited to a course: %s",
  ["mail.invitation_manager.text"] = "%s is invited to the course “%s”.",
  ["mail.invitation_manager.answer"] = "Once %s has accepted, the enrolment waits for your "
    .. "approval in evne. You can also enrol %s directly.",
  ["mail.approval_needed_manager.subject"] = "Approval needed: %s wants to attend %s",
  ["mail.approval_needed_manager.text"] = "%s has accepted the invitation to the course “%s” and "
    .. "waits for your approval in evne.",
  ["mail.enrolment_declined_manager.subject"] = "%s declined the course: %s",
  ["mail.enrolment_declined_manager.text"] = "%s declined the invitation to the course “%s”.",
  ["mail.enrolment_approved.subject"] = "You have a place on the course: %s",
  ["mail.enrolment_approved.text"] = "Your enrolment in the course “%s” is approved, and you have "
    .. "a place.",
  ["mail.enrolment_approved_manager.subject"] = "%s has a place on the course: %s",
  ["mail.enrolment_approved_manager.text"] = "The enrolment of %s is approved; %s has a place.",
  ["mail.enrolment_waitlisted.subject"] = "You are on the waiting list: %s",
  ["mail.enrolment_waitlisted.text"] = "Your enrolment in the course “%s” is approved, but the "
    .. "course is full. You are on the waiting list and get an e-mail if a place becomes free.",
  ["mail.enrolment_waitlisted_manager.subject"] = "%s is on the waiting list: %s",
  ["mail.enrolment_waitlisted_manager.text"] = "The enrolment of %s is approved, but the course "
    .. "is full; %s is on the waiting list.",
  ["mail.enrolment_rejected.subject"] = "Enrolment not approved: %s",
  ["mail.enrolment_rejected.text"] = "Your enrolment in the course “%s” is not approved.",
  ["mail.enrolment_rejected_manager.subject"] = "The enrolment of %s is not approved: %s",
  ["mail.enrolment_rejected_manager.text"] = "The enrolment of %s in the course “%s” is not "
    .. "approved.",
  ["mail.enrolment_cancelled.subject"] = "Enrolment cancelled: %s",
  ["mail.enrolment_cancelled.text"] = "Your enrolment in the course “%s” is cancelled.",
  ["mail.enrolment_cancelled_manager.subject"] = "The enrolment of %s is cancelled: %s",
  ["mail.enrolment_cancelled_manager.text"] = "The enrolment of %s in the course “%s” is "
    .. "cancelled.",
  ["mail.enrolment_promoted.subject"] = "You have a place on the course: %s",
  ["mail.enrolment_promoted.text"] = "A place became free, and you have been given a place from "
    .. "the waiting list.",
  ["mail.enrolment_promoted_manager.subject"] = "%s has a place on the course: %s",
  ["mail.enrolment_promoted_manager.text"] = "A place became free, and %s has been given a place "
    .. "from the waiting list.",
  ["mail.course_attended.subject"] = "Thank you for attending: %s",
  ["mail.course_attended.text"] = "Thank you for attending the course “%s”. The course is on your "
    .. "CV now.",
  ["mail.course_attended.next"] = "Assess yourself again on the requirements the course covers, "
    .. "and answer the course evaluation in evne.",
  ["mail.course_absent.subject"] = "Absence recorded: %s",
  ["mail.course_absent.text"] = "You are recorded as absent from the course “%s”.",
  ["mail.course_absent_manager.subject"] = "%s was absent: %s",
  ["mail.course_absent_manager.text"] = "%s is recorded as absent from the course “%s”.",
  ["mail.session_cancelled.subject"] = "Course cancelled: %s",
  ["mail.session_cancelled.text"] = "The course “%s” is cancelled, and your enrolment with it.",
  ["mail.session_changed.subject"] = "New time or place: %s",
  ["mail.session_changed.text"] = "The course “%s” has a new time or place. See below.",
}
