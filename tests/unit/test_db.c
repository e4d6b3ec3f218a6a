/* Unit tests for core/db: opening, migrations, the statement cache and the schema's guarantees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

static int setup_dir(void **state)
{
    *state = fx_new_dir();
    return 0;
}

static int setup_db(void **state)
{
    *state = fx_new();
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

static int user_version(struct fx *f) { return (int)fx_int(f, -1, "PRAGMA user_version"); }

/* Sets user_version on a file with sqlite3 directly, bypassing db_open's migrations. */
static void raw_set_user_version(const char *path, int v)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void test_open_creates_schema(void **state)
{
    struct fx *f = *state;
    char *err = NULL;
    assert_int_equal(access(f->path, F_OK), -1);
    assert_int_equal(db_open(f->path, 1, &f->db, &err), 0);
    assert_null(err);
    assert_int_equal(access(f->path, F_OK), 0);
    assert_true(db_schema_version() >= 1);
    assert_int_equal(user_version(f), db_schema_version());

    static const char *const tables[] = {"department", "employee",   "system",
                                         "requirement", "profile",   "profile_level",
                                         "assignment",  "assessment", "token"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        int64_t n = fx_int(f, 0, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %Q",
                           tables[i]);
        if (n != 1)
            fail_msg("table %s missing after db_open", tables[i]);
    }
    /* history that cannot be changed: the assessments and the audit trail */
    assert_int_equal(fx_int(f, 0, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                  "AND name GLOB '*_no_*'"), 4);
}

static void test_open_settings(void **state)
{
    struct fx *f = *state;
    sqlite3_stmt *st = db_stmt(f->db, "PRAGMA journal_mode");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal(db_text(st, 0), "wal");
    sqlite3_reset(st);
    assert_int_equal(fx_int(f, -1, "PRAGMA foreign_keys"), 1);
    assert_int_equal(fx_int(f, -1, "PRAGMA synchronous"), 2); /* FULL */
}

static void test_reopen_does_not_migrate_again(void **state)
{
    struct fx *f = *state;
    char *err = NULL;
    assert_int_equal(db_open(f->path, 1, &f->db, &err), 0);
    fx_department(f, 1, "Kommune", 0);
    /* The schema cookie moves with every CREATE/DROP; a second migration run would move it (or
     * fail on the existing tables). */
    int64_t cookie = fx_int(f, -1, "PRAGMA schema_version");
    db_close(f->db);
    f->db = NULL;

    assert_int_equal(db_open(f->path, 0, &f->db, &err), 0);
    assert_null(err);
    assert_int_equal(user_version(f), db_schema_version());
    assert_int_equal(fx_int(f, -1, "PRAGMA schema_version"), cookie);
    assert_int_equal(fx_int(f, 0, "SELECT count(*) FROM department WHERE name = 'Kommune'"), 1);
    db_close(f->db);
    f->db = NULL;

    /* With create set, an existing file is opened, not recreated. */
    assert_int_equal(db_open(f->path, 1, &f->db, &err), 0);
    assert_int_equal(fx_int(f, -1, "PRAGMA schema_version"), cookie);
    assert_int_equal(fx_int(f, 0, "SELECT count(*) FROM department"), 1);
}

static void test_existing_empty_database_is_migrated(void **state)
{
    struct fx *f = *state;
    char *err = NULL;
    raw_set_user_version(f->path, 0); /* creates an empty database file */
    assert_int_equal(db_open(f->path, 0, &f->db, &err), 0);
    assert_null(err);
    assert_int_equal(user_version(f), db_schema_version());
    assert_int_equal(fx_int(f, 0, "SELECT count(*) FROM sqlite_master WHERE name = 'assessment'"), 1);
}

static void test_newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    char *err = NULL;
    assert_int_equal(db_open(f->path, 1, &f->db, &err), 0);
    db_close(f->db);
    f->db = NULL;
    int newer = db_schema_version() + 1;
    raw_set_user_version(f->path, newer);

    struct db *d = NULL;
    assert_int_equal(db_open(f->path, 0, &d, &err), -1);
    assert_null(d);
    assert_non_null(err);
    if (!strstr(err, "newer"))
        fail_msg("error does not say the schema is newer: %s", err);
    free(err);
    err = NULL;
    assert_int_equal(db_open(f->path, 1, &d, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "newer"));
    free(err);

    /* Refusing leaves the file as it was. */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), newer);
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void test_missing_file_without_create_is_refused(void **state)
{
    struct fx *f = *state;
    char *err = NULL;
    struct db *d = NULL;
    assert_int_equal(db_open(f->path, 0, &d, &err), -1);
    assert_null(d);
    assert_non_null(err);
    assert_true(strlen(err) > 0);
    free(err);
    assert_int_equal(access(f->path, F_OK), -1); /* and nothing was created */
}

static void test_statements_are_cached(void **state)
{
    struct fx *f = *state;
    static const char q1[] = "SELECT ?1 + 1";
    static const char q2[] = "SELECT ?1 + 1"; /* same text, another literal */
    sqlite3_stmt *a = db_stmt(f->db, q1);
    assert_non_null(a);
    assert_ptr_equal(db_stmt(f->db, q1), a);
    sqlite3_stmt *b = db_stmt(f->db, q2);
    assert_non_null(b);
    assert_ptr_not_equal(b, a);
    assert_ptr_equal(db_stmt(f->db, q2), b);
    assert_ptr_equal(db_stmt(f->db, q1), a);

    /* Returned reset and with its bindings cleared. */
    a = db_stmt(f->db, q1);
    sqlite3_bind_int(a, 1, 41);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(a, 0), 42);
    a = db_stmt(f->db, q1); /* mid-result: must come back reset */
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(a, 0), SQLITE_NULL); /* NULL + 1: the 41 is gone */
    assert_int_equal(sqlite3_step(a), SQLITE_DONE);
    sqlite3_reset(a);

    /* Many statements (more than the buckets) stay distinct and retrievable. */
    static const char *const many[] = {
        "SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4", "SELECT 5", "SELECT 6", "SELECT 7",
        "SELECT 8", "SELECT 9", "SELECT 10", "SELECT 11", "SELECT 12",
    };
    sqlite3_stmt *got[sizeof many / sizeof many[0]];
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++)
        got[i] = db_stmt(f->db, many[i]);
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++) {
        assert_ptr_equal(db_stmt(f->db, many[i]), got[i]);
        assert_int_equal(sqlite3_step(got[i]), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(got[i], 0), (int)i + 1);
        sqlite3_reset(got[i]);
    }
}

static void test_transactions(void **state)
{
    struct fx *f = *state;
    assert_int_equal(db_begin(f->db), 0);
    fx_department(f, 1, "Kommune", 0);
    db_rollback(f->db);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM department"), 0);

    assert_int_equal(db_begin(f->db), 0);
    fx_department(f, 2, "Helse", 0);
    assert_int_equal(db_commit(f->db), 0);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM department"), 1);
    db_rollback(f->db); /* outside a transaction: harmless */
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM department"), 1);

    sqlite3_stmt *st = db_stmt(f->db, "INSERT INTO department(id, name) VALUES (?1, ?2)");
    sqlite3_bind_int(st, 1, 3);
    sqlite3_bind_text(st, 2, "Skole", -1, SQLITE_STATIC);
    assert_int_equal(db_exec_stmt(f->db, st), 0);
    st = db_stmt(f->db, "INSERT INTO department(id, name) VALUES (?1, ?2)");
    sqlite3_bind_int(st, 1, 3); /* duplicate key */
    sqlite3_bind_text(st, 2, "Skole", -1, SQLITE_STATIC);
    assert_int_equal(db_exec_stmt(f->db, st), -1);
    assert_int_equal(db_exec(f->db, "INSERT INTO department(id, name) VALUES (4, 'x')"), 0);
    assert_int_equal(db_exec(f->db, "INSERT INTO nowhere VALUES (1)"), -1);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM department"), 3);
}

/* The smallest organisation an assessment can hang on. */
static void one_assessment(struct fx *f)
{
    fx_department(f, 1, "Kommune", 0);
    fx_employee(f, 1, "Kari", 1);
    fx_system(f, 1, "Gerica");
    fx_requirement(f, 1, 1, 1);
    fx_assess(f, 1, 1, 1, 2, "self", 100);
}

static void test_assessments_are_append_only(void **state)
{
    struct fx *f = *state;
    one_assessment(f);
    char *msg = NULL;

    int rc = fx_try(f, &msg, "UPDATE assessment SET level = 4 WHERE id = 1");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "cannot be changed"));
    sqlite3_free(msg);
    rc = fx_try(f, &msg, "UPDATE assessment SET recorded_at = recorded_at + 1");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    sqlite3_free(msg);

    rc = fx_try(f, &msg, "DELETE FROM assessment WHERE id = 1");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "cannot be deleted"));
    sqlite3_free(msg);
    rc = fx_try(f, &msg, "DELETE FROM assessment");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    sqlite3_free(msg);

    /* The row is untouched, and appending still works. */
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM assessment"), 1);
    assert_int_equal(fx_int(f, -1, "SELECT level FROM assessment WHERE id = 1"), 2);
    assert_int_equal(fx_int(f, -1, "SELECT recorded_at FROM assessment WHERE id = 1"), 100);
    fx_assess(f, 0, 1, 1, 4, "appraisal", 200);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM assessment"), 2);

    /* Levels and sources are checked. */
    assert_int_equal(fx_try(f, NULL,
                            "INSERT INTO assessment(employee_id, requirement_id, level, source, "
                            "recorded_at) VALUES (1, 1, 5, 'self', 1)") & 0xff,
                     SQLITE_CONSTRAINT);
    assert_int_equal(fx_try(f, NULL,
                            "INSERT INTO assessment(employee_id, requirement_id, level, source, "
                            "recorded_at) VALUES (1, 1, 2, 'gossip', 1)") & 0xff,
                     SQLITE_CONSTRAINT);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM assessment"), 2);
}

static void test_foreign_keys_are_enforced(void **state)
{
    struct fx *f = *state;
    one_assessment(f);
    char *msg = NULL;
    int rc;

    rc = fx_try(f, &msg,
                "INSERT INTO employee(id, employee_number, name, email, department_id, created_at) "
                "VALUES (2, 'N2', 'Ola', 'o@example.org', 99, 1)");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "FOREIGN KEY"));
    sqlite3_free(msg);

    rc = fx_try(f, NULL,
                "INSERT INTO assessment(employee_id, requirement_id, level, source, recorded_at) "
                "VALUES (1, 99, 1, 'self', 1)");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    rc = fx_try(f, NULL, "INSERT INTO requirement(system_id, text, position) VALUES (99, 'x', 1)");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    rc = fx_try(f, NULL, "INSERT INTO assignment(employee_id, profile_id, assigned_at) VALUES (1, 99, 1)");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    rc = fx_try(f, NULL, "INSERT INTO department(name, parent_id) VALUES ('x', 99)");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    rc = fx_try(f, NULL, "UPDATE employee SET department_id = 99 WHERE id = 1");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    /* A parent cannot go while something still refers to it. */
    rc = fx_try(f, NULL, "DELETE FROM department WHERE id = 1");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    rc = fx_try(f, NULL, "DELETE FROM requirement WHERE id = 1");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);

    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM employee"), 1);
    assert_int_equal(fx_int(f, -1, "SELECT department_id FROM employee WHERE id = 1"), 1);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM department"), 1);
    assert_int_equal(fx_int(f, -1, "PRAGMA foreign_key_check"), -1); /* no violations */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_open_settings, setup_db, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_does_not_migrate_again, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_existing_empty_database_is_migrated, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_without_create_is_refused, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_statements_are_cached, setup_db, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup_db, teardown),
        cmocka_unit_test_setup_teardown(test_assessments_are_append_only, setup_db, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys_are_enforced, setup_db, teardown),
    };
    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
