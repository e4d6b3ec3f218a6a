-- Strings of one employee's requirements per system (employee_systems.html), English.
return {
  ["employee.coverage"] = "Coverage %s, %d gaps, gap sum %d",
  ["employee.caption"] = "Requirements of %s",
  ["employee.col_requirement"] = "Requirement",
  ["employee.col_required"] = "Required",
  ["employee.col_actual"] = "Level",
  ["employee.col_gap"] = "Gap",
  ["employee.col_assessed"] = "Assessed",
  ["employee.unassessed"] = "not assessed",
}
