-- Strings of the page frame (layout.html) and of the view helpers, in English.
-- Every language has the same keys; a key missing from one is an error when it is used.
return {
  ["app.name"] = "evne",
  ["skip"] = "Skip to content",

  -- data.nav labels are these keys
  ["nav.label"] = "Main menu",
  ["nav.me"] = "My page",
  ["nav.assessment"] = "Self-assessment",
  ["nav.my_gaps"] = "My competence gaps",
  ["nav.team"] = "My team",
  ["nav.team_gaps"] = "Team gaps",
  ["nav.systems"] = "Systems and requirements",
  ["nav.profiles"] = "Competence profiles",
  ["nav.reports"] = "Reports",
  ["nav.search"] = "Find competence",
  ["nav.users"] = "Users",
  ["nav.departments"] = "Departments",
  ["nav.password"] = "Change password",

  ["user.signed_in_as"] = "Signed in as",
  ["user.roles"] = "Roles",
  ["role.employee"] = "employee",
  ["role.manager"] = "manager",
  ["role.adviser"] = "adviser",
  ["role.admin"] = "administrator",

  ["action.logout"] = "Log out",
  ["action.login"] = "Log in",
  ["action.save"] = "Save",
  ["action.cancel"] = "Cancel",

  -- data.flash is one of these keys (or another page's)
  ["flash.saved"] = "Your changes are saved",
  ["flash.logged_out"] = "You are logged out",

  ["lang.label"] = "Language",
  ["lang.nb"] = "Norsk",
  ["lang.en"] = "English",

  -- data/levels.csv, meaning_en
  ["level.0"] = "The employee needs to know nothing of this",
  ["level.1"] = "The employee should know a little that is relevant about this topic",
  ["level.2"] = "The employee should know a fair part of what is relevant about this topic",
  ["level.3"] = "The employee should know most of what is relevant about this topic",
  ["level.4"] = "The employee should know all that is relevant about this topic and be able to guide others",

  -- used by pct() and date(): string.format of a whole percent; {d}, {m}, {y} of a date
  ["format.percent"] = "%d%%",
  ["format.date"] = "{y}-{m}-{d}",
}
