-- Strings of the page frame (layout.html) and of the view helpers, in Norwegian bokmål.
-- Every language has the same keys; a key missing from one is an error when it is used.
return {
  ["app.name"] = "evne",
  ["skip"] = "Hopp til innholdet",

  -- data.nav labels are these keys
  ["nav.label"] = "Hovedmeny",
  ["nav.me"] = "Min side",
  ["nav.assessment"] = "Egenvurdering",
  ["nav.my_gaps"] = "Mine kompetansegap",
  ["nav.team"] = "Mitt team",
  ["nav.team_gaps"] = "Teamets kompetansegap",
  ["nav.systems"] = "Systemer og krav",
  ["nav.profiles"] = "Kompetanseprofiler",
  ["nav.reports"] = "Rapporter",
  ["nav.search"] = "Finn kompetanse",
  ["nav.users"] = "Brukere",
  ["nav.departments"] = "Avdelinger",
  ["nav.password"] = "Bytt passord",

  ["user.signed_in_as"] = "Innlogget som",
  ["user.roles"] = "Roller",
  ["role.employee"] = "ansatt",
  ["role.manager"] = "leder",
  ["role.adviser"] = "rådgiver",
  ["role.admin"] = "administrator",

  ["action.logout"] = "Logg ut",
  ["action.login"] = "Logg inn",
  ["action.save"] = "Lagre",
  ["action.cancel"] = "Avbryt",

  -- data.flash is one of these keys (or another page's)
  ["flash.saved"] = "Endringene er lagret",
  ["flash.logged_out"] = "Du er logget ut",

  ["lang.label"] = "Språk",
  ["lang.nb"] = "Norsk",
  ["lang.en"] = "English",

  -- data/levels.csv, meaning_nb
  ["level.0"] = "Den ansatte trenger ikke å kunne noe av dette",
  ["level.1"] = "Den ansatte skal kjenne til litt som er relevant å vite om dette temaet",
  ["level.2"] = "Den ansatte skal kunne en del som er relevant om dette temaet",
  ["level.3"] = "Den ansatte skal kunne det meste av det som er relevant å kunne om dette temaet",
  ["level.4"] = "Den ansatte skal kunne alt som er relevant om dette temaet og kunne veilede andre",

  -- used by pct() and date(): string.format of a whole percent; {d}, {m}, {y} of a date
  ["format.percent"] = "%d %%",
  ["format.date"] = "{d}.{m}.{y}",
}
