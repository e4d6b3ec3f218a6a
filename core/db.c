#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "util.h"

/* Numbered migrations: migrations[i] takes user_version i to i + 1. Never edit one that has
 * shipped; add the next. */
static const char *const migrations[] = {
    /* 1: the organisation, the catalogue, assignments, assessments, sessions */
    "CREATE TABLE department (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  parent_id INTEGER REFERENCES department(id),\n"
    "  manager_id INTEGER REFERENCES employee(id),\n"
    "  code TEXT UNIQUE\n"
    ");\n"
    "CREATE INDEX department_parent ON department(parent_id);\n"
    "CREATE TABLE employee (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  employee_number TEXT NOT NULL UNIQUE,\n"
    "  name TEXT NOT NULL,\n"
    "  email TEXT NOT NULL,\n"
    "  department_id INTEGER NOT NULL REFERENCES department(id),\n"
    "  login TEXT UNIQUE,\n"
    "  password_hash TEXT,\n"
    "  roles INTEGER NOT NULL DEFAULT 1,\n"
    "  archived INTEGER NOT NULL DEFAULT 0,\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX employee_department ON employee(department_id);\n"
    "CREATE TABLE system (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  description TEXT NOT NULL DEFAULT '',\n"
    "  archived INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE requirement (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  system_id INTEGER NOT NULL REFERENCES system(id),\n"
    "  text TEXT NOT NULL,\n"
    "  position INTEGER NOT NULL,\n"
    "  archived INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX requirement_system ON requirement(system_id, position);\n"
    "CREATE TABLE profile (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  system_id INTEGER REFERENCES system(id),\n"
    "  description TEXT NOT NULL DEFAULT '',\n"
    "  archived INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE profile_level (\n"
    "  profile_id INTEGER NOT NULL REFERENCES profile(id),\n"
    "  requirement_id INTEGER NOT NULL REFERENCES requirement(id),\n"
    "  level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 4),\n"
    "  PRIMARY KEY (profile_id, requirement_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX profile_level_requirement ON profile_level(requirement_id);\n"
    "CREATE TABLE assignment (\n"
    "  employee_id INTEGER NOT NULL REFERENCES employee(id),\n"
    "  profile_id INTEGER NOT NULL REFERENCES profile(id),\n"
    "  assigned_at INTEGER NOT NULL,\n"
    "  assigned_by INTEGER REFERENCES employee(id),\n"
    "  PRIMARY KEY (employee_id, profile_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX assignment_profile ON assignment(profile_id);\n"
    "CREATE TABLE assessment (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  employee_id INTEGER NOT NULL REFERENCES employee(id),\n"
    "  requirement_id INTEGER NOT NULL REFERENCES requirement(id),\n"
    "  level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 4),\n"
    "  source TEXT NOT NULL CHECK (source IN ('self', 'course', 'appraisal', 'test')),\n"
    "  recorded_at INTEGER NOT NULL,\n"
    "  recorded_by INTEGER REFERENCES employee(id),\n"
    "  note TEXT\n"
    ");\n"
    "CREATE INDEX assessment_employee ON assessment(employee_id, requirement_id, recorded_at);\n"
    "CREATE INDEX assessment_requirement ON assessment(requirement_id);\n"
    /* History is append-only, whatever a future bug or a hand-written statement tries. */
    "CREATE TRIGGER assessment_no_update BEFORE UPDATE ON assessment\n"
    "  BEGIN SELECT RAISE(ABORT, 'assessments are history and cannot be changed'); END;\n"
    "CREATE TRIGGER assessment_no_delete BEFORE DELETE ON assessment\n"
    "  BEGIN SELECT RAISE(ABORT, 'assessments are history and cannot be deleted'); END;\n"
    "CREATE TABLE token (\n"
    "  hash BLOB PRIMARY KEY,\n"
    "  employee_id INTEGER NOT NULL REFERENCES employee(id),\n"
    "  created_at INTEGER NOT NULL,\n"
    "  expires_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n",
    /* 2: who manages what is asked on every login and token check */
    "CREATE INDEX department_manager ON department(manager_id);\n",
    /* 3: lists of people are ordered by name */
    "CREATE INDEX employee_name ON employee(name);\n",
    /* 4: courses, their sessions, enrolments and evaluations, the CV, and the mail outbox */
    "CREATE TABLE course (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  title TEXT NOT NULL,\n"
    "  description TEXT NOT NULL DEFAULT '',\n"
    "  system_id INTEGER REFERENCES system(id),\n"
    "  hours REAL NOT NULL DEFAULT 3,\n"
    "  elearning_during TEXT,\n"
    "  elearning_after TEXT,\n"
    "  series TEXT,\n"
    "  series_order INTEGER,\n"
    "  archived INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE course_requirement (\n"
    "  course_id INTEGER NOT NULL REFERENCES course(id),\n"
    "  requirement_id INTEGER NOT NULL REFERENCES requirement(id),\n"
    "  target_level INTEGER NOT NULL CHECK (target_level BETWEEN 1 AND 4),\n"
    "  PRIMARY KEY (course_id, requirement_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE course_prerequisite (\n"
    "  course_id INTEGER NOT NULL REFERENCES course(id),\n"
    "  prerequisite_id INTEGER NOT NULL REFERENCES course(id),\n"
    "  PRIMARY KEY (course_id, prerequisite_id),\n"
    "  CHECK (course_id != prerequisite_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE session (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  course_id INTEGER NOT NULL REFERENCES course(id),\n"
    "  starts_at INTEGER NOT NULL,\n"
    "  ends_at INTEGER NOT NULL CHECK (ends_at > starts_at),\n"
    "  place TEXT NOT NULL DEFAULT '',\n"
    "  trainer TEXT NOT NULL DEFAULT '',\n"
    "  capacity INTEGER NOT NULL CHECK (capacity > 0),\n"
    "  cancelled INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX session_course ON session(course_id, starts_at);\n"
    /* one employee's place in one session; its history is enrolment_event */
    "CREATE TABLE enrolment (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  session_id INTEGER NOT NULL REFERENCES session(id),\n"
    "  employee_id INTEGER NOT NULL REFERENCES employee(id),\n"
    "  state TEXT NOT NULL CHECK (state IN ('invited', 'accepted', 'declined', 'approved',\n"
    "    'rejected', 'waitlisted', 'cancelled', 'attended', 'absent')),\n"
    "  reason TEXT,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  updated_at INTEGER NOT NULL,\n"
    "  UNIQUE (session_id, employee_id)\n"
    ");\n"
    "CREATE INDEX enrolment_employee ON enrolment(employee_id);\n"
    "CREATE TABLE enrolment_event (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  enrolment_id INTEGER NOT NULL REFERENCES enrolment(id),\n"
    "  from_state TEXT,\n"
    "  to_state TEXT NOT NULL,\n"
    "  at INTEGER NOT NULL,\n"
    "  by INTEGER REFERENCES employee(id)\n"
    ");\n"
    "CREATE INDEX enrolment_event_enrolment ON enrolment_event(enrolment_id);\n"
    /* the questions of the course evaluation; course_id NULL: asked of every course */
    "CREATE TABLE evaluation_question (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  course_id INTEGER REFERENCES course(id),\n"
    "  text TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('scale', 'text')),\n"
    "  position INTEGER NOT NULL,\n"
    "  archived INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE evaluation_answer (\n"
    "  enrolment_id INTEGER NOT NULL REFERENCES enrolment(id),\n"
    "  question_id INTEGER NOT NULL REFERENCES evaluation_question(id),\n"
    "  score INTEGER CHECK (score BETWEEN 1 AND 5),\n"
    "  text TEXT,\n"
    "  answered_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY (enrolment_id, question_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE cv_entry (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  employee_id INTEGER NOT NULL REFERENCES employee(id),\n"
    "  title TEXT NOT NULL,\n"
    "  happened_on TEXT NOT NULL,\n"
    "  hours REAL,\n"
    "  detail TEXT NOT NULL DEFAULT '',\n"
    "  enrolment_id INTEGER UNIQUE REFERENCES enrolment(id),\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX cv_entry_employee ON cv_entry(employee_id, happened_on);\n"
    /* mail waits here, written in the transaction of the event that causes it */
    "CREATE TABLE outbox (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL,\n"
    "  to_addr TEXT NOT NULL,\n"
    "  subject TEXT NOT NULL,\n"
    "  body TEXT NOT NULL,\n"
    "  ics TEXT,\n"
    "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent',\n"
    "    'failed')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  next_attempt_at INTEGER NOT NULL,\n"
    "  last_error TEXT,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  sent_at INTEGER\n"
    ");\n"
    "CREATE INDEX outbox_due ON outbox(state, next_attempt_at);\n",

    /* 5: the HR system's fields, each person's language, the scheduler, reminders, monthly
     * reports and the trend's snapshots; mail with an HTML part and an attachment */
    "ALTER TABLE employee ADD COLUMN position_title TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE employee ADD COLUMN lang TEXT NOT NULL DEFAULT 'nb' CHECK (lang IN ('nb', 'en'));\n"
    "ALTER TABLE outbox ADD COLUMN html TEXT;\n"
    "ALTER TABLE outbox ADD COLUMN attachment_name TEXT;\n"
    "ALTER TABLE outbox ADD COLUMN attachment_type TEXT;\n"
    "ALTER TABLE outbox ADD COLUMN attachment TEXT;\n"
    /* one row per scheduled job: when it is next due (unix seconds) */
    "CREATE TABLE job (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  next_run_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n"
    /* every run, scheduled or by hand; slot is the due time it runs for (for a run by hand, the
     * time it was asked for), so that work already done in a slot is not done again */
    "CREATE TABLE job_run (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  job TEXT NOT NULL,\n"
    "  slot INTEGER NOT NULL,\n"
    "  trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'catch-up', 'manual')),\n"
    "  started_at INTEGER NOT NULL,\n"
    "  finished_at INTEGER,\n"
    "  state TEXT NOT NULL CHECK (state IN ('running', 'ok', 'failed', 'interrupted')),\n"
    "  summary TEXT NOT NULL DEFAULT '',\n"
    "  error TEXT,\n"
    "  by INTEGER REFERENCES employee(id)\n"
    ");\n"
    "CREATE INDEX job_run_job ON job_run(job, id);\n"
    /* every reminder sent: one per employee per run slot at most */
    "CREATE TABLE reminder (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  employee_id INTEGER NOT NULL REFERENCES employee(id),\n"
    "  slot INTEGER NOT NULL,\n"
    "  sent_at INTEGER NOT NULL,\n"
    "  template TEXT NOT NULL,\n"
    "  recipient TEXT NOT NULL CHECK (recipient IN ('employee', 'manager')),\n"
    "  enrolment_id INTEGER REFERENCES enrolment(id),\n"
    "  outbox_id INTEGER REFERENCES outbox(id),\n"
    "  UNIQUE (employee_id, slot)\n"
    ");\n"
    "CREATE INDEX reminder_employee ON reminder(employee_id, sent_at);\n"
    /* every report mailed: one per report, period and recipient */
    "CREATE TABLE report_sent (\n"
    "  report TEXT NOT NULL,\n"
    "  period TEXT NOT NULL,\n"
    "  recipient_id INTEGER NOT NULL REFERENCES employee(id),\n"
    "  subject_id INTEGER NOT NULL,\n"
    "  outbox_id INTEGER REFERENCES outbox(id),\n"
    "  sent_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY (report, period, recipient_id, subject_id)\n"
    ") WITHOUT ROWID;\n"
    /* the trend: the roll-ups as they were at taken_at */
    "CREATE TABLE snapshot (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  taken_at INTEGER NOT NULL,\n"
    "  period TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('monthly', 'manual'))\n"
    ");\n"
    "CREATE INDEX snapshot_taken ON snapshot(taken_at);\n"
    "CREATE TABLE snapshot_row (\n"
    "  snapshot_id INTEGER NOT NULL REFERENCES snapshot(id),\n"
    "  dimension TEXT NOT NULL CHECK (dimension IN ('organisation', 'department', 'system',\n"
    "    'profile')),\n"
    "  entity_id INTEGER NOT NULL,\n"
    "  employees INTEGER NOT NULL,\n"
    "  employees_with_gaps INTEGER NOT NULL,\n"
    "  demanded INTEGER NOT NULL,\n"
    "  open_gaps INTEGER NOT NULL,\n"
    "  unassessed INTEGER NOT NULL,\n"
    "  gap_sum INTEGER NOT NULL,\n"
    "  coverage REAL NOT NULL,\n"
    "  PRIMARY KEY (snapshot_id, dimension, entity_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX snapshot_row_entity ON snapshot_row(dimension, entity_id, snapshot_id);\n",
    /* 6: the audit trail. Every change people make, with who (actor_id; NULL: the system, a job
     * or the CLI), from where (addr), what (entity, entity_id, and employee_id: the person it is
     * about) and the row's values before and after as JSON objects (an employee's password only
     * as "set" or "changed"), written by triggers in the change's own transaction; the context
     * comes from functions core/audit.c puts on each connection. Append-only, like assessments. */
    "CREATE TABLE audit (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  at INTEGER NOT NULL,\n"
    "  actor_id INTEGER,\n"
    "  addr TEXT,\n"
    "  action TEXT NOT NULL,\n"
    "  entity TEXT NOT NULL,\n"
    "  entity_id INTEGER,\n"
    "  employee_id INTEGER,\n"
    "  old_values TEXT,\n"
    "  new_values TEXT\n"
    ");\n"
    "CREATE INDEX audit_employee ON audit(employee_id) WHERE employee_id IS NOT NULL;\n"
    "CREATE INDEX audit_actor ON audit(actor_id) WHERE actor_id IS NOT NULL;\n"
    "CREATE INDEX audit_entity ON audit(entity, entity_id);\n"
    "CREATE INDEX audit_at ON audit(at);\n"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
    "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only and cannot be changed'); END;\n"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
    "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only and cannot be deleted'); END;\n"
    "CREATE TRIGGER audit_department_insert AFTER INSERT ON department WHEN evne_audit_on() "
    "BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'department', NEW.id, NULL,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'name', NEW.name, 'parent_id', NEW.parent_id, "
    "'manager_id', NEW.manager_id, 'code', NEW.code));\n"
    "END;\n"
    "CREATE TRIGGER audit_department_update AFTER UPDATE ON department WHEN evne_audit_on() "
    "AND (OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.parent_id IS NOT "
    "NEW.parent_id OR OLD.manager_id IS NOT NEW.manager_id OR OLD.code IS NOT NEW.code) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'department', NEW.id, NULL,\n"
    "    json_object('id', OLD.id, 'name', OLD.name, 'parent_id', OLD.parent_id, "
    "'manager_id', OLD.manager_id, 'code', OLD.code),\n"
    "    json_object('id', NEW.id, 'name', NEW.name, 'parent_id', NEW.parent_id, "
    "'manager_id', NEW.manager_id, 'code', NEW.code));\n"
    "END;\n"
    "CREATE TRIGGER audit_department_delete AFTER DELETE ON department WHEN evne_audit_on() "
    "BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'department', OLD.id, NULL,\n"
    "    json_object('id', OLD.id, 'name', OLD.name, 'parent_id', OLD.parent_id, "
    "'manager_id', OLD.manager_id, 'code', OLD.code),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_employee_insert AFTER INSERT ON employee WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'employee', NEW.id, NEW.id,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'employee_number', NEW.employee_number, 'name', NEW.name, "
    "'email', NEW.email, 'department_id', NEW.department_id, 'login', NEW.login, 'roles', "
    "NEW.roles, 'archived', NEW.archived, 'created_at', NEW.created_at, 'position_title', "
    "NEW.position_title, 'lang', NEW.lang, 'password', CASE WHEN NEW.password_hash IS NULL "
    "THEN NULL ELSE 'set' END));\n"
    "END;\n"
    "CREATE TRIGGER audit_employee_update AFTER UPDATE ON employee WHEN evne_audit_on() AND "
    "(OLD.id IS NOT NEW.id OR OLD.employee_number IS NOT NEW.employee_number OR OLD.name IS "
    "NOT NEW.name OR OLD.email IS NOT NEW.email OR OLD.department_id IS NOT "
    "NEW.department_id OR OLD.login IS NOT NEW.login OR OLD.roles IS NOT NEW.roles OR "
    "OLD.archived IS NOT NEW.archived OR OLD.created_at IS NOT NEW.created_at OR "
    "OLD.position_title IS NOT NEW.position_title OR OLD.lang IS NOT NEW.lang OR "
    "OLD.password_hash IS NOT NEW.password_hash) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'employee', NEW.id, NEW.id,\n"
    "    json_object('id', OLD.id, 'employee_number', OLD.employee_number, 'name', OLD.name, "
    "'email', OLD.email, 'department_id', OLD.department_id, 'login', OLD.login, 'roles', "
    "OLD.roles, 'archived', OLD.archived, 'created_at', OLD.created_at, 'position_title', "
    "OLD.position_title, 'lang', OLD.lang, 'password', CASE WHEN OLD.password_hash IS NULL "
    "THEN NULL ELSE 'set' END),\n"
    "    json_object('id', NEW.id, 'employee_number', NEW.employee_number, 'name', NEW.name, "
    "'email', NEW.email, 'department_id', NEW.department_id, 'login', NEW.login, 'roles', "
    "NEW.roles, 'archived', NEW.archived, 'created_at', NEW.created_at, 'position_title', "
    "NEW.position_title, 'lang', NEW.lang, 'password', CASE WHEN NEW.password_hash IS NULL "
    "THEN NULL WHEN NEW.password_hash IS OLD.password_hash THEN 'set' ELSE 'changed' END));\n"
    "END;\n"
    "CREATE TRIGGER audit_employee_delete AFTER DELETE ON employee WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'employee', OLD.id, OLD.id,\n"
    "    json_object('id', OLD.id, 'employee_number', OLD.employee_number, 'name', OLD.name, "
    "'email', OLD.email, 'department_id', OLD.department_id, 'login', OLD.login, 'roles', "
    "OLD.roles, 'archived', OLD.archived, 'created_at', OLD.created_at, 'position_title', "
    "OLD.position_title, 'lang', OLD.lang, 'password', CASE WHEN OLD.password_hash IS NULL "
    "THEN NULL ELSE 'set' END),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_system_insert AFTER INSERT ON system WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'system', NEW.id, NULL,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, "
    "'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_system_update AFTER UPDATE ON system WHEN evne_audit_on() AND "
    "(OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.description IS NOT "
    "NEW.description OR OLD.archived IS NOT NEW.archived) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'system', NEW.id, NULL,\n"
    "    json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, "
    "'archived', OLD.archived),\n"
    "    json_object('id', NEW.id, 'name', NEW.name, 'description', NEW.description, "
    "'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_system_delete AFTER DELETE ON system WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'system', OLD.id, NULL,\n"
    "    json_object('id', OLD.id, 'name', OLD.name, 'description', OLD.description, "
    "'archived', OLD.archived),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_requirement_insert AFTER INSERT ON requirement WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'requirement', NEW.id, NULL,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'system_id', NEW.system_id, 'text', NEW.text, 'position', "
    "NEW.position, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_requirement_update AFTER UPDATE ON requirement WHEN "
    "evne_audit_on() AND (OLD.id IS NOT NEW.id OR OLD.system_id IS NOT NEW.system_id OR "
    "OLD.text IS NOT NEW.text OR OLD.position IS NOT NEW.position OR OLD.archived IS NOT "
    "NEW.archived) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'requirement', NEW.id, NULL,\n"
    "    json_object('id', OLD.id, 'system_id', OLD.system_id, 'text', OLD.text, 'position', "
    "OLD.position, 'archived', OLD.archived),\n"
    "    json_object('id', NEW.id, 'system_id', NEW.system_id, 'text', NEW.text, 'position', "
    "NEW.position, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_requirement_delete AFTER DELETE ON requirement WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'requirement', OLD.id, NULL,\n"
    "    json_object('id', OLD.id, 'system_id', OLD.system_id, 'text', OLD.text, 'position', "
    "OLD.position, 'archived', OLD.archived),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_profile_insert AFTER INSERT ON profile WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'profile', NEW.id, NULL,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'name', NEW.name, 'system_id', NEW.system_id, "
    "'description', NEW.description, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_profile_update AFTER UPDATE ON profile WHEN evne_audit_on() AND "
    "(OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.system_id IS NOT NEW.system_id "
    "OR OLD.description IS NOT NEW.description OR OLD.archived IS NOT NEW.archived) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'profile', NEW.id, NULL,\n"
    "    json_object('id', OLD.id, 'name', OLD.name, 'system_id', OLD.system_id, "
    "'description', OLD.description, 'archived', OLD.archived),\n"
    "    json_object('id', NEW.id, 'name', NEW.name, 'system_id', NEW.system_id, "
    "'description', NEW.description, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_profile_delete AFTER DELETE ON profile WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'profile', OLD.id, NULL,\n"
    "    json_object('id', OLD.id, 'name', OLD.name, 'system_id', OLD.system_id, "
    "'description', OLD.description, 'archived', OLD.archived),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_profile_level_insert AFTER INSERT ON profile_level WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'profile_level', "
    "NEW.profile_id, NULL,\n"
    "    NULL,\n"
    "    json_object('profile_id', NEW.profile_id, 'requirement_id', NEW.requirement_id, "
    "'level', NEW.level));\n"
    "END;\n"
    "CREATE TRIGGER audit_profile_level_update AFTER UPDATE ON profile_level WHEN "
    "evne_audit_on() AND (OLD.profile_id IS NOT NEW.profile_id OR OLD.requirement_id IS NOT "
    "NEW.requirement_id OR OLD.level IS NOT NEW.level) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'profile_level', "
    "NEW.profile_id, NULL,\n"
    "    json_object('profile_id', OLD.profile_id, 'requirement_id', OLD.requirement_id, "
    "'level', OLD.level),\n"
    "    json_object('profile_id', NEW.profile_id, 'requirement_id', NEW.requirement_id, "
    "'level', NEW.level));\n"
    "END;\n"
    "CREATE TRIGGER audit_profile_level_delete AFTER DELETE ON profile_level WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'profile_level', "
    "OLD.profile_id, NULL,\n"
    "    json_object('profile_id', OLD.profile_id, 'requirement_id', OLD.requirement_id, "
    "'level', OLD.level),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_assignment_insert AFTER INSERT ON assignment WHEN evne_audit_on() "
    "BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'assignment', "
    "NEW.employee_id, NEW.employee_id,\n"
    "    NULL,\n"
    "    json_object('employee_id', NEW.employee_id, 'profile_id', NEW.profile_id, "
    "'assigned_at', NEW.assigned_at, 'assigned_by', NEW.assigned_by));\n"
    "END;\n"
    "CREATE TRIGGER audit_assignment_update AFTER UPDATE ON assignment WHEN evne_audit_on() "
    "AND (OLD.employee_id IS NOT NEW.employee_id OR OLD.profile_id IS NOT NEW.profile_id OR "
    "OLD.assigned_at IS NOT NEW.assigned_at OR OLD.assigned_by IS NOT NEW.assigned_by) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'assignment', "
    "NEW.employee_id, NEW.employee_id,\n"
    "    json_object('employee_id', OLD.employee_id, 'profile_id', OLD.profile_id, "
    "'assigned_at', OLD.assigned_at, 'assigned_by', OLD.assigned_by),\n"
    "    json_object('employee_id', NEW.employee_id, 'profile_id', NEW.profile_id, "
    "'assigned_at', NEW.assigned_at, 'assigned_by', NEW.assigned_by));\n"
    "END;\n"
    "CREATE TRIGGER audit_assignment_delete AFTER DELETE ON assignment WHEN evne_audit_on() "
    "BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'assignment', "
    "OLD.employee_id, OLD.employee_id,\n"
    "    json_object('employee_id', OLD.employee_id, 'profile_id', OLD.profile_id, "
    "'assigned_at', OLD.assigned_at, 'assigned_by', OLD.assigned_by),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_assessment_insert AFTER INSERT ON assessment WHEN evne_audit_on() "
    "BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'assessment', NEW.id, "
    "NEW.employee_id,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'employee_id', NEW.employee_id, 'requirement_id', "
    "NEW.requirement_id, 'level', NEW.level, 'source', NEW.source, 'recorded_at', "
    "NEW.recorded_at, 'recorded_by', NEW.recorded_by, 'note', NEW.note));\n"
    "END;\n"
    "CREATE TRIGGER audit_course_insert AFTER INSERT ON course WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'course', NEW.id, NULL,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'title', NEW.title, 'description', NEW.description, "
    "'system_id', NEW.system_id, 'hours', NEW.hours, 'elearning_during', "
    "NEW.elearning_during, 'elearning_after', NEW.elearning_after, 'series', NEW.series, "
    "'series_order', NEW.series_order, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_course_update AFTER UPDATE ON course WHEN evne_audit_on() AND "
    "(OLD.id IS NOT NEW.id OR OLD.title IS NOT NEW.title OR OLD.description IS NOT "
    "NEW.description OR OLD.system_id IS NOT NEW.system_id OR OLD.hours IS NOT NEW.hours OR "
    "OLD.elearning_during IS NOT NEW.elearning_during OR OLD.elearning_after IS NOT "
    "NEW.elearning_after OR OLD.series IS NOT NEW.series OR OLD.series_order IS NOT "
    "NEW.series_order OR OLD.archived IS NOT NEW.archived) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'course', NEW.id, NULL,\n"
    "    json_object('id', OLD.id, 'title', OLD.title, 'description', OLD.description, "
    "'system_id', OLD.system_id, 'hours', OLD.hours, 'elearning_during', "
    "OLD.elearning_during, 'elearning_after', OLD.elearning_after, 'series', OLD.series, "
    "'series_order', OLD.series_order, 'archived', OLD.archived),\n"
    "    json_object('id', NEW.id, 'title', NEW.title, 'description', NEW.description, "
    "'system_id', NEW.system_id, 'hours', NEW.hours, 'elearning_during', "
    "NEW.elearning_during, 'elearning_after', NEW.elearning_after, 'series', NEW.series, "
    "'series_order', NEW.series_order, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_course_delete AFTER DELETE ON course WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'course', OLD.id, NULL,\n"
    "    json_object('id', OLD.id, 'title', OLD.title, 'description', OLD.description, "
    "'system_id', OLD.system_id, 'hours', OLD.hours, 'elearning_during', "
    "OLD.elearning_during, 'elearning_after', OLD.elearning_after, 'series', OLD.series, "
    "'series_order', OLD.series_order, 'archived', OLD.archived),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_course_requirement_insert AFTER INSERT ON course_requirement WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'course_requirement', "
    "NEW.course_id, NULL,\n"
    "    NULL,\n"
    "    json_object('course_id', NEW.course_id, 'requirement_id', NEW.requirement_id, "
    "'target_level', NEW.target_level));\n"
    "END;\n"
    "CREATE TRIGGER audit_course_requirement_update AFTER UPDATE ON course_requirement WHEN "
    "evne_audit_on() AND (OLD.course_id IS NOT NEW.course_id OR OLD.requirement_id IS NOT "
    "NEW.requirement_id OR OLD.target_level IS NOT NEW.target_level) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'course_requirement', "
    "NEW.course_id, NULL,\n"
    "    json_object('course_id', OLD.course_id, 'requirement_id', OLD.requirement_id, "
    "'target_level', OLD.target_level),\n"
    "    json_object('course_id', NEW.course_id, 'requirement_id', NEW.requirement_id, "
    "'target_level', NEW.target_level));\n"
    "END;\n"
    "CREATE TRIGGER audit_course_requirement_delete AFTER DELETE ON course_requirement WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'course_requirement', "
    "OLD.course_id, NULL,\n"
    "    json_object('course_id', OLD.course_id, 'requirement_id', OLD.requirement_id, "
    "'target_level', OLD.target_level),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_course_prerequisite_insert AFTER INSERT ON course_prerequisite "
    "WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'course_prerequisite', "
    "NEW.course_id, NULL,\n"
    "    NULL,\n"
    "    json_object('course_id', NEW.course_id, 'prerequisite_id', NEW.prerequisite_id));\n"
    "END;\n"
    "CREATE TRIGGER audit_course_prerequisite_update AFTER UPDATE ON course_prerequisite "
    "WHEN evne_audit_on() AND (OLD.course_id IS NOT NEW.course_id OR OLD.prerequisite_id IS "
    "NOT NEW.prerequisite_id) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'course_prerequisite', "
    "NEW.course_id, NULL,\n"
    "    json_object('course_id', OLD.course_id, 'prerequisite_id', OLD.prerequisite_id),\n"
    "    json_object('course_id', NEW.course_id, 'prerequisite_id', NEW.prerequisite_id));\n"
    "END;\n"
    "CREATE TRIGGER audit_course_prerequisite_delete AFTER DELETE ON course_prerequisite "
    "WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'course_prerequisite', "
    "OLD.course_id, NULL,\n"
    "    json_object('course_id', OLD.course_id, 'prerequisite_id', OLD.prerequisite_id),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_session_insert AFTER INSERT ON session WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'session', NEW.id, NULL,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'course_id', NEW.course_id, 'starts_at', NEW.starts_at, "
    "'ends_at', NEW.ends_at, 'place', NEW.place, 'trainer', NEW.trainer, 'capacity', "
    "NEW.capacity, 'cancelled', NEW.cancelled));\n"
    "END;\n"
    "CREATE TRIGGER audit_session_update AFTER UPDATE ON session WHEN evne_audit_on() AND "
    "(OLD.id IS NOT NEW.id OR OLD.course_id IS NOT NEW.course_id OR OLD.starts_at IS NOT "
    "NEW.starts_at OR OLD.ends_at IS NOT NEW.ends_at OR OLD.place IS NOT NEW.place OR "
    "OLD.trainer IS NOT NEW.trainer OR OLD.capacity IS NOT NEW.capacity OR OLD.cancelled IS "
    "NOT NEW.cancelled) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'session', NEW.id, NULL,\n"
    "    json_object('id', OLD.id, 'course_id', OLD.course_id, 'starts_at', OLD.starts_at, "
    "'ends_at', OLD.ends_at, 'place', OLD.place, 'trainer', OLD.trainer, 'capacity', "
    "OLD.capacity, 'cancelled', OLD.cancelled),\n"
    "    json_object('id', NEW.id, 'course_id', NEW.course_id, 'starts_at', NEW.starts_at, "
    "'ends_at', NEW.ends_at, 'place', NEW.place, 'trainer', NEW.trainer, 'capacity', "
    "NEW.capacity, 'cancelled', NEW.cancelled));\n"
    "END;\n"
    "CREATE TRIGGER audit_session_delete AFTER DELETE ON session WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'session', OLD.id, NULL,\n"
    "    json_object('id', OLD.id, 'course_id', OLD.course_id, 'starts_at', OLD.starts_at, "
    "'ends_at', OLD.ends_at, 'place', OLD.place, 'trainer', OLD.trainer, 'capacity', "
    "OLD.capacity, 'cancelled', OLD.cancelled),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_enrolment_insert AFTER INSERT ON enrolment WHEN evne_audit_on() "
    "BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'enrolment', NEW.id, "
    "NEW.employee_id,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'session_id', NEW.session_id, 'employee_id', "
    "NEW.employee_id, 'state', NEW.state, 'reason', NEW.reason, 'created_at', "
    "NEW.created_at, 'updated_at', NEW.updated_at));\n"
    "END;\n"
    "CREATE TRIGGER audit_enrolment_update AFTER UPDATE ON enrolment WHEN evne_audit_on() "
    "AND (OLD.id IS NOT NEW.id OR OLD.session_id IS NOT NEW.session_id OR OLD.employee_id IS "
    "NOT NEW.employee_id OR OLD.state IS NOT NEW.state OR OLD.reason IS NOT NEW.reason OR "
    "OLD.created_at IS NOT NEW.created_at OR OLD.updated_at IS NOT NEW.updated_at) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'enrolment', NEW.id, "
    "NEW.employee_id,\n"
    "    json_object('id', OLD.id, 'session_id', OLD.session_id, 'employee_id', "
    "OLD.employee_id, 'state', OLD.state, 'reason', OLD.reason, 'created_at', "
    "OLD.created_at, 'updated_at', OLD.updated_at),\n"
    "    json_object('id', NEW.id, 'session_id', NEW.session_id, 'employee_id', "
    "NEW.employee_id, 'state', NEW.state, 'reason', NEW.reason, 'created_at', "
    "NEW.created_at, 'updated_at', NEW.updated_at));\n"
    "END;\n"
    "CREATE TRIGGER audit_enrolment_delete AFTER DELETE ON enrolment WHEN evne_audit_on() "
    "BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'enrolment', OLD.id, "
    "OLD.employee_id,\n"
    "    json_object('id', OLD.id, 'session_id', OLD.session_id, 'employee_id', "
    "OLD.employee_id, 'state', OLD.state, 'reason', OLD.reason, 'created_at', "
    "OLD.created_at, 'updated_at', OLD.updated_at),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_evaluation_question_insert AFTER INSERT ON evaluation_question "
    "WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'evaluation_question', "
    "NEW.id, NULL,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'course_id', NEW.course_id, 'text', NEW.text, 'kind', "
    "NEW.kind, 'position', NEW.position, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_evaluation_question_update AFTER UPDATE ON evaluation_question "
    "WHEN evne_audit_on() AND (OLD.id IS NOT NEW.id OR OLD.course_id IS NOT NEW.course_id OR "
    "OLD.text IS NOT NEW.text OR OLD.kind IS NOT NEW.kind OR OLD.position IS NOT "
    "NEW.position OR OLD.archived IS NOT NEW.archived) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'evaluation_question', "
    "NEW.id, NULL,\n"
    "    json_object('id', OLD.id, 'course_id', OLD.course_id, 'text', OLD.text, 'kind', "
    "OLD.kind, 'position', OLD.position, 'archived', OLD.archived),\n"
    "    json_object('id', NEW.id, 'course_id', NEW.course_id, 'text', NEW.text, 'kind', "
    "NEW.kind, 'position', NEW.position, 'archived', NEW.archived));\n"
    "END;\n"
    "CREATE TRIGGER audit_evaluation_question_delete AFTER DELETE ON evaluation_question "
    "WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'evaluation_question', "
    "OLD.id, NULL,\n"
    "    json_object('id', OLD.id, 'course_id', OLD.course_id, 'text', OLD.text, 'kind', "
    "OLD.kind, 'position', OLD.position, 'archived', OLD.archived),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_evaluation_answer_insert AFTER INSERT ON evaluation_answer WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'evaluation_answer', "
    "NEW.enrolment_id, (SELECT employee_id FROM enrolment WHERE id = NEW.enrolment_id),\n"
    "    NULL,\n"
    "    json_object('enrolment_id', NEW.enrolment_id, 'question_id', NEW.question_id, "
    "'score', NEW.score, 'text', NEW.text, 'answered_at', NEW.answered_at));\n"
    "END;\n"
    "CREATE TRIGGER audit_evaluation_answer_update AFTER UPDATE ON evaluation_answer WHEN "
    "evne_audit_on() AND (OLD.enrolment_id IS NOT NEW.enrolment_id OR OLD.question_id IS NOT "
    "NEW.question_id OR OLD.score IS NOT NEW.score OR OLD.text IS NOT NEW.text OR "
    "OLD.answered_at IS NOT NEW.answered_at) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'evaluation_answer', "
    "NEW.enrolment_id, (SELECT employee_id FROM enrolment WHERE id = NEW.enrolment_id),\n"
    "    json_object('enrolment_id', OLD.enrolment_id, 'question_id', OLD.question_id, "
    "'score', OLD.score, 'text', OLD.text, 'answered_at', OLD.answered_at),\n"
    "    json_object('enrolment_id', NEW.enrolment_id, 'question_id', NEW.question_id, "
    "'score', NEW.score, 'text', NEW.text, 'answered_at', NEW.answered_at));\n"
    "END;\n"
    "CREATE TRIGGER audit_evaluation_answer_delete AFTER DELETE ON evaluation_answer WHEN "
    "evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'evaluation_answer', "
    "OLD.enrolment_id, (SELECT employee_id FROM enrolment WHERE id = OLD.enrolment_id),\n"
    "    json_object('enrolment_id', OLD.enrolment_id, 'question_id', OLD.question_id, "
    "'score', OLD.score, 'text', OLD.text, 'answered_at', OLD.answered_at),\n"
    "    NULL);\n"
    "END;\n"
    "CREATE TRIGGER audit_cv_entry_insert AFTER INSERT ON cv_entry WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'insert', 'cv_entry', NEW.id, "
    "NEW.employee_id,\n"
    "    NULL,\n"
    "    json_object('id', NEW.id, 'employee_id', NEW.employee_id, 'title', NEW.title, "
    "'happened_on', NEW.happened_on, 'hours', NEW.hours, 'detail', NEW.detail, "
    "'enrolment_id', NEW.enrolment_id, 'created_at', NEW.created_at));\n"
    "END;\n"
    "CREATE TRIGGER audit_cv_entry_update AFTER UPDATE ON cv_entry WHEN evne_audit_on() AND "
    "(OLD.id IS NOT NEW.id OR OLD.employee_id IS NOT NEW.employee_id OR OLD.title IS NOT "
    "NEW.title OR OLD.happened_on IS NOT NEW.happened_on OR OLD.hours IS NOT NEW.hours OR "
    "OLD.detail IS NOT NEW.detail OR OLD.enrolment_id IS NOT NEW.enrolment_id OR "
    "OLD.created_at IS NOT NEW.created_at) BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'update', 'cv_entry', NEW.id, "
    "NEW.employee_id,\n"
    "    json_object('id', OLD.id, 'employee_id', OLD.employee_id, 'title', OLD.title, "
    "'happened_on', OLD.happened_on, 'hours', OLD.hours, 'detail', OLD.detail, "
    "'enrolment_id', OLD.enrolment_id, 'created_at', OLD.created_at),\n"
    "    json_object('id', NEW.id, 'employee_id', NEW.employee_id, 'title', NEW.title, "
    "'happened_on', NEW.happened_on, 'hours', NEW.hours, 'detail', NEW.detail, "
    "'enrolment_id', NEW.enrolment_id, 'created_at', NEW.created_at));\n"
    "END;\n"
    "CREATE TRIGGER audit_cv_entry_delete AFTER DELETE ON cv_entry WHEN evne_audit_on() BEGIN\n"
    "  INSERT INTO audit (at, actor_id, addr, action, entity, entity_id, employee_id, "
    "old_values, new_values)\n"
    "  VALUES (evne_now(), evne_actor(), evne_addr(), 'delete', 'cv_entry', OLD.id, "
    "OLD.employee_id,\n"
    "    json_object('id', OLD.id, 'employee_id', OLD.employee_id, 'title', OLD.title, "
    "'happened_on', OLD.happened_on, 'hours', OLD.hours, 'detail', OLD.detail, "
    "'enrolment_id', OLD.enrolment_id, 'created_at', OLD.created_at),\n"
    "    NULL);\n"
    "END;\n",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
#define CACHE_BUCKETS 256

struct cached {
    const char *sql;
    sqlite3_stmt *st;
    struct cached *next;
};

struct db {
    sqlite3 *h;
    struct cached *cache[CACHE_BUCKETS];
};

int db_schema_version(void) { return NMIGRATIONS; }

sqlite3 *db_handle(struct db *d) { return d->h; }

void db_log_error(struct db *d, sqlite3_stmt *st)
{
    const char *sql = st ? sqlite3_sql(st) : NULL;
    fprintf(stderr, "evne: sqlite error %d (%s)%s%s\n", sqlite3_extended_errcode(d->h),
            sqlite3_errmsg(d->h), sql ? " in: " : "", sql ? sql : "");
}

int db_exec(struct db *d, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "evne: sqlite error %d (%s) in: %.200s\n", sqlite3_extended_errcode(d->h),
                msg ? msg : "?", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int migrate(struct db *d, char **err)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > NMIGRATIONS) {
        *err = xasprintf("database schema version %d is newer than this evne understands (%d); "
                         "run the evne release that wrote it, or a newer one",
                         version, NMIGRATIONS);
        return -1;
    }
    for (; version < NMIGRATIONS; version++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
        /* One migration, one transaction: a crash leaves the previous version intact. */
        if (db_begin(d) || db_exec(d, migrations[version]) || db_exec(d, pragma) || db_commit(d)) {
            db_rollback(d);
            *err = xasprintf("migration %d failed: %s", version + 1, sqlite3_errmsg(d->h));
            return -1;
        }
    }
    return 0;
sqlerr:
    *err = xasprintf("cannot read the schema version: %s", sqlite3_errmsg(d->h));
    return -1;
}

int db_open(const char *path, int create, struct db **out, char **err)
{
    if (!create && access(path, F_OK) != 0) {
        *err = xasprintf("%s: no such database (create one with `evne init` or `evne demo`)", path);
        return -1;
    }
    struct db *d = xcalloc(1, sizeof *d);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &d->h, flags, NULL) != SQLITE_OK) {
        *err = xasprintf("%s: %s", path, d->h ? sqlite3_errmsg(d->h) : "cannot open");
        db_close(d);
        return -1;
    }
    sqlite3_extended_result_codes(d->h, 1);
    sqlite3_busy_timeout(d->h, 5000);
    /* The audit triggers call these; without them no audited table could be written. */
    if (audit_register(d->h) != SQLITE_OK) {
        *err = xasprintf("%s: %s", path, sqlite3_errmsg(d->h));
        db_close(d);
        return -1;
    }
    /* The file must be a database before pragmas can say so. */
    if (db_exec(d, "PRAGMA journal_mode = WAL") || db_exec(d, "PRAGMA synchronous = FULL") ||
        db_exec(d, "PRAGMA foreign_keys = ON")) {
        *err = xasprintf("%s: %s", path, sqlite3_errmsg(d->h));
        db_close(d);
        return -1;
    }
    if (migrate(d, err)) {
        char *e = *err;
        *err = xasprintf("%s: %s", path, e);
        free(e);
        db_close(d);
        return -1;
    }
    *out = d;
    return 0;
}

void db_close(struct db *d)
{
    if (!d)
        return;
    for (int i = 0; i < CACHE_BUCKETS; i++) {
        struct cached *c = d->cache[i];
        while (c) {
            struct cached *next = c->next;
            sqlite3_finalize(c->st);
            free(c);
            c = next;
        }
    }
    if (d->h && sqlite3_close(d->h) != SQLITE_OK)
        fprintf(stderr, "evne: closing the database: %s\n", sqlite3_errmsg(d->h));
    free(d);
}

sqlite3_stmt *db_stmt(struct db *d, const char *sql)
{
    size_t b = ((uintptr_t)sql >> 4) % CACHE_BUCKETS;
    for (struct cached *c = d->cache[b]; c; c = c->next) {
        if (c->sql == sql) {
            sqlite3_reset(c->st);
            sqlite3_clear_bindings(c->st);
            return c->st;
        }
    }
    struct cached *c = xcalloc(1, sizeof *c);
    if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st, NULL) != SQLITE_OK)
        UTIL_ABORT("sqlite cannot prepare (%s): %s", sqlite3_errmsg(d->h), sql);
    c->sql = sql;
    c->next = d->cache[b];
    d->cache[b] = c;
    return c->st;
}

int db_exec_stmt(struct db *d, sqlite3_stmt *st)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE) {
        db_log_error(d, st);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

int db_begin(struct db *d) { return db_exec_stmt(d, db_stmt(d, "BEGIN IMMEDIATE")); }
int db_commit(struct db *d) { return db_exec_stmt(d, db_stmt(d, "COMMIT")); }

void db_rollback(struct db *d)
{
    if (!sqlite3_get_autocommit(d->h))
        db_exec_stmt(d, db_stmt(d, "ROLLBACK"));
}

const char *db_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}
