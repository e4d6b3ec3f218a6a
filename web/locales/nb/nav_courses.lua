-- Navigation labels of the course pages (bokmål).
return {
  ["nav.my_courses"] = "Mine kurs",
  ["nav.cv"] = "Min CV",
  ["nav.approvals"] = "Godkjenninger",
  ["nav.courses"] = "Kurs",
  ["nav.outbox"] = "E-post",
}
