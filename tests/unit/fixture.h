/* fixture: a temporary database for unit tests.
 *
 * Each test gets a fresh folder from mkdtemp with one SQLite file in it, opened (and migrated)
 * through db_open, and removed again at teardown. Rows are written with plain SQL so that a test
 * states its data in the database's own terms, independent of the domain modules.
 * Self-contained: includes cmocka and the core headers it needs.
 */
#ifndef EVNE_TEST_FIXTURE_H
#define EVNE_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db.h"
#include "util.h"

struct fx {
    char dir[64];
    char path[128];
    struct db *db;
};

/* A fresh folder; the database is not opened (tests of db_open open it themselves). */
static inline struct fx *fx_new_dir(void)
{
    struct fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/evne-unit-XXXXXX");
    if (!mkdtemp(f->dir))
        UTIL_ABORT("mkdtemp failed");
    snprintf(f->path, sizeof f->path, "%s/evne.db", f->dir);
    return f;
}

/* A fresh folder with a created and migrated database in it. */
static inline struct fx *fx_new(void)
{
    struct fx *f = fx_new_dir();
    char *err = NULL;
    if (db_open(f->path, 1, &f->db, &err) != 0)
        UTIL_ABORT("db_open(%s): %s", f->path, err ? err : "?");
    return f;
}

static inline void fx_free(struct fx *f)
{
    if (!f)
        return;
    db_close(f->db);
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
}

/* Formats are sqlite3_mprintf's (%q, %Q, %lld), which gcc's printf checking does not know. */

/* Runs formatted SQL; returns SQLite's result code and, when errmsg is set, its message (owned,
 * sqlite3_free). Does not fail the test: callers assert what they expect. */
static inline int fx_try(struct fx *f, char **errmsg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    int rc = sqlite3_exec(db_handle(f->db), sql, NULL, NULL, &msg);
    sqlite3_free(sql);
    if (errmsg)
        *errmsg = msg;
    else
        sqlite3_free(msg);
    return rc;
}

/* Runs formatted SQL (sqlite3_mprintf: %q, %Q, %lld) that must succeed. */
#define FX_SQL(f, ...)                                                                           \
    do {                                                                                         \
        char *fx_msg_ = NULL;                                                                    \
        int fx_rc_ = fx_try((f), &fx_msg_, __VA_ARGS__);                                         \
        if (fx_rc_ != SQLITE_OK)                                                                 \
            fail_msg("sql failed (%d: %s)", fx_rc_, fx_msg_ ? fx_msg_ : "?");                    \
    } while (0)

/* The first column of the first row of formatted SQL, as an integer; `dflt` without a row. */
static inline int64_t fx_int(struct fx *f, int64_t dflt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(f->db), sql, -1, &st, NULL) != SQLITE_OK)
        UTIL_ABORT("cannot prepare %s: %s", sql, sqlite3_errmsg(db_handle(f->db)));
    int64_t v = dflt;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return v;
}

/* --- the organisation, row by row (ids chosen by the test; 0 means NULL for references) --- */

static inline void fx_department(struct fx *f, int64_t id, const char *name, int64_t parent)
{
    if (parent)
        FX_SQL(f, "INSERT INTO department(id, name, parent_id) VALUES (%lld, %Q, %lld)",
               (long long)id, name, (long long)parent);
    else
        FX_SQL(f, "INSERT INTO department(id, name) VALUES (%lld, %Q)", (long long)id, name);
}

static inline void fx_employee(struct fx *f, int64_t id, const char *name, int64_t department)
{
    FX_SQL(f,
           "INSERT INTO employee(id, employee_number, name, email, department_id, created_at) "
           "VALUES (%lld, 'N%lld', %Q, 'e%lld@example.org', %lld, 1000)",
           (long long)id, (long long)id, name, (long long)id, (long long)department);
}

static inline void fx_system(struct fx *f, int64_t id, const char *name)
{
    FX_SQL(f, "INSERT INTO system(id, name) VALUES (%lld, %Q)", (long long)id, name);
}

static inline void fx_requirement(struct fx *f, int64_t id, int64_t system, int position)
{
    FX_SQL(f,
           "INSERT INTO requirement(id, system_id, text, position) "
           "VALUES (%lld, %lld, 'requirement %lld', %d)",
           (long long)id, (long long)system, (long long)id, position);
}

static inline void fx_profile(struct fx *f, int64_t id, const char *name, int64_t system)
{
    if (system)
        FX_SQL(f, "INSERT INTO profile(id, name, system_id) VALUES (%lld, %Q, %lld)",
               (long long)id, name, (long long)system);
    else
        FX_SQL(f, "INSERT INTO profile(id, name) VALUES (%lld, %Q)", (long long)id, name);
}

static inline void fx_level(struct fx *f, int64_t profile, int64_t requirement, int level)
{
    FX_SQL(f,
           "INSERT OR REPLACE INTO profile_level(profile_id, requirement_id, level) "
           "VALUES (%lld, %lld, %d)",
           (long long)profile, (long long)requirement, level);
}

static inline void fx_assign(struct fx *f, int64_t employee, int64_t profile)
{
    FX_SQL(f,
           "INSERT OR IGNORE INTO assignment(employee_id, profile_id, assigned_at) "
           "VALUES (%lld, %lld, 1000)",
           (long long)employee, (long long)profile);
}

/* Appends an assessment; id 0 lets SQLite choose. Returns the row id. */
static inline int64_t fx_assess(struct fx *f, int64_t id, int64_t employee, int64_t requirement,
                                int level, const char *source, int64_t recorded_at)
{
    if (id)
        FX_SQL(f,
               "INSERT INTO assessment(id, employee_id, requirement_id, level, source, recorded_at) "
               "VALUES (%lld, %lld, %lld, %d, %Q, %lld)",
               (long long)id, (long long)employee, (long long)requirement, level, source,
               (long long)recorded_at);
    else
        FX_SQL(f,
               "INSERT INTO assessment(employee_id, requirement_id, level, source, recorded_at) "
               "VALUES (%lld, %lld, %d, %Q, %lld)",
               (long long)employee, (long long)requirement, level, source,
               (long long)recorded_at);
    return (int64_t)sqlite3_last_insert_rowid(db_handle(f->db));
}

#endif
