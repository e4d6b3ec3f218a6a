-- Strings of the reminders (web/templates/mail/reminder_*.txt), bokmål. A reminder goes to the
-- employee, or to their manager when reminders to the employee had no effect (_manager keys).
return {
  ["reminder.self_assessment.subject"] = "Påminnelse: oppdater egenvurderingen din i evne",
  ["reminder.self_assessment.subject_manager"] =
    "Påminnelse: %s har ikke oppdatert egenvurderingen sin",
  ["reminder.self_assessment.never"] =
    "Du har ikke vurdert deg selv i evne ennå. Egenvurderingen viser hva du kan, og hvilke kurs som kan hjelpe deg videre.",
  ["reminder.self_assessment.since"] =
    "Den siste egenvurderingen din er fra %s. Se over den og oppdater det som har endret seg, så viser evne riktige kompetansegap og riktige kurs for deg.",
  ["reminder.self_assessment.how"] = "Logg inn i evne og velg «%s».",
  ["reminder.self_assessment.manager_never"] =
    "%s har ikke vurdert seg selv i evne ennå, og påminnelsene om det har ikke hjulpet. Kanskje dere kan ta en prat om det?",
  ["reminder.self_assessment.manager_since"] =
    "Den siste egenvurderingen til %s er fra %s, og påminnelsene om å oppdatere den har ikke hjulpet. Kanskje dere kan ta en prat om det?",
  ["reminder.self_assessment.manager_how"] =
    "Du ser teamets egenvurderinger under «%s» i evne.",

  ["reminder.invitation.subject"] = "Påminnelse: svar på invitasjonen til kurset %s",
  ["reminder.invitation.subject_manager"] =
    "Påminnelse: %s har ikke svart på invitasjonen til kurset %s",
  ["reminder.invitation.text"] =
    "Du er invitert til kurset «%s», %s, og har ikke svart ennå.",
  ["reminder.invitation.how"] = "Logg inn i evne og velg «%s» for å takke ja eller nei.",
  ["reminder.invitation.manager_text"] =
    "%s er invitert til kurset «%s», %s, og har ikke svart på invitasjonen, heller ikke etter påminnelser.",
  ["reminder.invitation.manager_how"] = "Ta gjerne en prat om kurset.",

  ["reminder.evaluation.subject"] = "Påminnelse: hvordan var kurset %s?",
  ["reminder.evaluation.subject_manager"] =
    "Påminnelse: %s har ikke evaluert kurset %s",
  ["reminder.evaluation.text"] =
    "Du deltok på kurset «%s», %s. Svar gjerne på kursevalueringen: det tar et par minutter og gjør kursene bedre.",
  ["reminder.evaluation.how"] = "Logg inn i evne og velg «%s».",
  ["reminder.evaluation.manager_text"] =
    "%s deltok på kurset «%s», %s, men har ikke svart på kursevalueringen, heller ikke etter påminnelser.",
  ["reminder.evaluation.manager_how"] = "Minn gjerne om evalueringen: den gjør kursene bedre.",

  ["reminder.approval.subject"] = "Påminnelse: %s venter på godkjenning til kurset %s",
  ["reminder.approval.subject_manager"] =
    "Påminnelse: påmeldinger venter på godkjenning hos %s",
  ["reminder.approval.text"] =
    "%s har takket ja til kurset «%s», %s, og har ventet på godkjenningen din siden %s.",
  ["reminder.approval.more"] = "I alt venter %d påmeldinger på godkjenningen din.",
  ["reminder.approval.how"] =
    "Logg inn i evne og velg «%s» for å godkjenne eller avslå.",
  ["reminder.approval.manager_text"] =
    "%s har takket ja til kurset «%s», %s, og har ventet på godkjenning fra %s siden %s, også etter påminnelser.",
  ["reminder.approval.manager_how"] =
    "Påmeldinger som ikke blir godkjent før kurset starter, får ikke plass.",

  ["reminder.place"] = "Sted: %s",
}
