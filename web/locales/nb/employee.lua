-- Strings of one employee's requirements per system (employee_systems.html), bokmål.
return {
  ["employee.coverage"] = "Dekning %s, %d gap, gapsum %d",
  ["employee.caption"] = "Krav i %s",
  ["employee.col_requirement"] = "Krav",
  ["employee.col_required"] = "Kreves",
  ["employee.col_actual"] = "Nivå",
  ["employee.col_gap"] = "Gap",
  ["employee.col_assessed"] = "Vurdert",
  ["employee.unassessed"] = "ikke vurdert",
}
