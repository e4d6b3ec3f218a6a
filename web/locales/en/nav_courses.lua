-- Navigation labels of the course pages (English).
return {
  ["nav.my_courses"] = "My courses",
  ["nav.cv"] = "My CV",
  ["nav.approvals"] = "Approvals",
  ["nav.courses"] = "Courses",
  ["nav.outbox"] = "E-mail",
}
