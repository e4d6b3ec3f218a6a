#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
