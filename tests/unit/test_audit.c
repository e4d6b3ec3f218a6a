/* The audit trail at the level of the database: what the triggers write, with which actor and
 * address, that a rolled-back change leaves nothing, that a password's value never gets in,
 * that the trail refuses UPDATE and DELETE on the very connection evne writes with, and the
 * bench's switch. Also the backup's copy of a database that is written to meanwhile. */
#include "fixture.h"

#include <sys/stat.h>

#include <jansson.h>

#include "audit.h"
#include "backup.h"

static int setup_db(void **state)
{
    *state = fx_new();
    audit_context_clear();
    return 0;
}

static int teardown(void **state)
{
    audit_context_clear();
    fx_free(*state);
    return 0;
}

/* The text of column col of the newest audit row (owned; NULL for NULL). */
static char *last_text(struct fx *f, const char *col)
{
    char *sql = sqlite3_mprintf("SELECT %s FROM audit ORDER BY id DESC LIMIT 1", col);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(f->db), sql, -1, &st, NULL) != SQLITE_OK)
        UTIL_ABORT("cannot prepare %s", sql);
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        out = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return out;
}

static void test_changes_are_recorded_with_actor_and_address(void **state)
{
    struct fx *f = *state;
    fx_department(f, 1, "Helse", 0);
    /* no context: the system */
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit WHERE entity = 'department' "
                                   "AND action = 'insert' AND entity_id = 1 AND actor_id IS NULL "
                                   "AND addr IS NULL"),
                     1);
    audit_context_set(7, "192.0.2.10");
    FX_SQL(f, "UPDATE department SET name = 'Helse og omsorg' WHERE id = 1");
    assert_int_equal(fx_int(f, -1, "SELECT actor_id FROM audit ORDER BY id DESC LIMIT 1"), 7);
    char *addr = last_text(f, "addr"), *before = last_text(f, "old_values"),
         *after = last_text(f, "new_values"), *action = last_text(f, "action");
    assert_string_equal(addr, "192.0.2.10");
    assert_string_equal(action, "update");
    json_t *b = json_loads(before, 0, NULL), *a = json_loads(after, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "name")), "Helse");
    assert_string_equal(json_string_value(json_object_get(a, "name")), "Helse og omsorg");
    json_decref(b);
    json_decref(a);
    free(addr), free(before), free(after), free(action);

    /* an UPDATE that changes nothing writes nothing */
    int64_t n = fx_int(f, -1, "SELECT count(*) FROM audit");
    FX_SQL(f, "UPDATE department SET name = name WHERE id = 1");
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit"), n);

    /* a delete keeps the values it had */
    FX_SQL(f, "DELETE FROM department WHERE id = 1");
    char *gone = last_text(f, "old_values"), *none = last_text(f, "new_values");
    assert_non_null(strstr(gone, "Helse og omsorg"));
    assert_null(none);
    free(gone);
}

static void test_an_employees_password_is_never_written(void **state)
{
    struct fx *f = *state;
    fx_department(f, 1, "Helse", 0);
    FX_SQL(f, "INSERT INTO employee(id, employee_number, name, email, department_id, login, "
              "password_hash, created_at) VALUES (1, 'N1', 'Per', 'p@example.org', 1, 'per', "
              "'$argon2id$v=19$secret-hash-one', 1000)");
    FX_SQL(f, "UPDATE employee SET password_hash = '$argon2id$v=19$secret-hash-two' WHERE id = 1");
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit WHERE entity = 'employee'"), 2);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit WHERE old_values LIKE '%%secret%%' "
                                   "OR new_values LIKE '%%secret%%' OR old_values LIKE "
                                   "'%%argon%%' OR new_values LIKE '%%argon%%'"),
                     0);
    char *after = last_text(f, "new_values"), *before = last_text(f, "old_values");
    json_t *a = json_loads(after, 0, NULL), *b = json_loads(before, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "password")), "set");
    assert_string_equal(json_string_value(json_object_get(a, "password")), "changed");
    assert_int_equal(fx_int(f, -1, "SELECT employee_id FROM audit ORDER BY id DESC LIMIT 1"), 1);
    json_decref(a);
    json_decref(b);
    free(after);
    free(before);
}

static void test_a_rolled_back_change_leaves_no_entry(void **state)
{
    struct fx *f = *state;
    fx_department(f, 1, "Helse", 0);
    int64_t n = fx_int(f, -1, "SELECT count(*) FROM audit");
    assert_int_equal(db_begin(f->db), 0);
    FX_SQL(f, "UPDATE department SET name = 'Skole' WHERE id = 1");
    assert_int_equal(audit_note(f->db, "import", "import", 0, 0, "{\"rows\":1}"), 0);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit"), n + 2);
    db_rollback(f->db);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit"), n);
}

static void test_the_trail_cannot_be_changed_or_deleted(void **state)
{
    struct fx *f = *state;
    fx_department(f, 1, "Helse", 0);
    audit_context_set(3, "198.51.100.4");
    assert_int_equal(audit_login(f->db, 0, 0, "nobody", "198.51.100.4"), 0);
    int64_t n = fx_int(f, -1, "SELECT count(*) FROM audit");
    assert_true(n >= 2);
    char *msg = NULL;
    int rc = fx_try(f, &msg, "UPDATE audit SET actor_id = 99");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    rc = fx_try(f, &msg, "DELETE FROM audit");
    assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit"), n);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit WHERE actor_id = 99"), 0);
    /* the failed login of a login nobody has: no actor, and not what was typed (a password,
     * now and then) */
    char *action = last_text(f, "action"), *after = last_text(f, "new_values");
    assert_string_equal(action, "login_failed");
    assert_string_equal(after, "{\"unknown_login\":true}");
    free(action);
    free(after);
}

static void test_the_bulk_load_switch_is_per_connection(void **state)
{
    struct fx *f = *state;
    fx_department(f, 1, "Helse", 0);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit"), 1);
    /* another connection to the same file, switched off: its writes are not recorded */
    struct db *other;
    char *err = NULL;
    assert_int_equal(db_open(f->path, 0, &other, &err), 0);
    assert_int_equal(audit_disable_for_bulk_load(db_handle(other)), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db_handle(other), "INSERT INTO department(id, name) "
                                                    "VALUES (2, 'Skole')", NULL, NULL, NULL),
                     SQLITE_OK);
    db_close(other);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM department"), 2);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit"), 1);
    /* and this one still records */
    fx_department(f, 3, "Kultur", 0);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM audit"), 2);
}

static void test_list_filters_and_pages(void **state)
{
    struct fx *f = *state;
    fx_department(f, 1, "Helse", 0);
    fx_employee(f, 1, "Per", 1);
    fx_employee(f, 2, "Kari", 1);
    audit_context_set(2, "127.0.0.1");
    for (int i = 0; i < 5; i++)
        FX_SQL(f, "UPDATE employee SET name = 'Per %d' WHERE id = 1", i);
    struct audit_filter flt = {.employee_id = 1, .limit = 2};
    json_t *page1 = audit_list(f->db, &flt);
    assert_non_null(page1);
    json_t *items = json_object_get(page1, "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *first = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(first, "actor_name")), "Kari");
    assert_string_equal(json_string_value(json_object_get(json_object_get(first, "after"), "name")),
                        "Per 4");
    flt.before_id = json_integer_value(json_object_get(page1, "next_before_id"));
    assert_true(flt.before_id > 0);
    json_t *page2 = audit_list(f->db, &flt);
    json_t *second = json_array_get(json_object_get(page2, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(second, "after"), "name")),
                        "Per 2");
    /* 6 entries about Per (the insert and 5 changes): the third page of two is the last */
    flt.before_id = json_integer_value(json_object_get(page2, "next_before_id"));
    json_t *page3 = audit_list(f->db, &flt);
    assert_int_equal(json_array_size(json_object_get(page3, "items")), 2);
    assert_true(json_is_null(json_object_get(page3, "next_before_id")));
    json_decref(page1);
    json_decref(page2);
    json_decref(page3);
    /* by actor: the system made the department and both employees */
    struct audit_filter sys = {.actor_id = 2, .entity = "department", .limit = 50};
    json_t *none = audit_list(f->db, &sys);
    assert_int_equal(json_array_size(json_object_get(none, "items")), 0);
    json_decref(none);
}

/* A copy made while the source is written to through the same connection holds those writes. */
static void test_backup_copies_a_database_written_meanwhile(void **state)
{
    struct fx *f = *state;
    fx_department(f, 1, "Helse", 0);
    for (int i = 1; i <= 300; i++)
        FX_SQL(f, "INSERT INTO employee(id, employee_number, name, email, department_id, "
                  "created_at) VALUES (%d, 'N%d', '%0500d', 'e@example.org', 1, 1)", i, i, i);
    char to[200];
    snprintf(to, sizeof to, "%s/copy.db", f->dir);
    struct backup *b;
    char *err = NULL;
    assert_int_equal(backup_open(db_handle(f->db), to, &b, &err), 0);
    assert_int_equal(backup_step(b, 4, &err), 1);
    FX_SQL(f, "INSERT INTO department(id, name) VALUES (2, 'Skrevet under kopien')");
    int rc;
    while ((rc = backup_step(b, 4, &err)) == 1)
        ;
    assert_int_equal(rc, 0);
    struct backup_result res;
    assert_int_equal(backup_commit(b, &res, &err), 0);
    assert_true(res.bytes > 150 * 1024);
    assert_true(res.pages > 30);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(to, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT (SELECT count(*) FROM employee), (SELECT name "
                                           "FROM department WHERE id = 2)", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 300);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "Skrevet under kopien");
    sqlite3_finalize(st);
    sqlite3_close(h);
    unlink(to);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changes_are_recorded_with_actor_and_address, setup_db,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_employees_password_is_never_written, setup_db,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_rolled_back_change_leaves_no_entry, setup_db,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_trail_cannot_be_changed_or_deleted, setup_db,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_bulk_load_switch_is_per_connection, setup_db,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_and_pages, setup_db, teardown),
        cmocka_unit_test_setup_teardown(test_backup_copies_a_database_written_meanwhile, setup_db,
                                        teardown),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
