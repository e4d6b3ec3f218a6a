#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "util.h"

static _Thread_local struct audit_context current;

void audit_context_set(int64_t actor_id, const char *addr)
{
    current.actor_id = actor_id;
    snprintf(current.addr, sizeof current.addr, "%s", addr ? addr : "");
    current.set = 1;
}

void audit_context_clear(void) { memset(&current, 0, sizeof current); }
void audit_context_save(struct audit_context *out) { *out = current; }
void audit_context_restore(const struct audit_context *c) { current = *c; }

/* --- the SQL functions the triggers call --------------------------------------------------- */

static void fn_actor(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    if (current.actor_id > 0)
        sqlite3_result_int64(ctx, current.actor_id);
    else
        sqlite3_result_null(ctx);
}

static void fn_addr(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    if (current.set && current.addr[0])
        sqlite3_result_text(ctx, current.addr, -1, SQLITE_TRANSIENT);
    else
        sqlite3_result_null(ctx);
}

static void fn_now(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int64(ctx, util_now());
}

static void fn_on(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int(ctx, 1);
}

static void fn_off(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int(ctx, 0);
}

/* INNOCUOUS: the functions have no side effects, so the schema's triggers may call them even
 * where SQLite is built with trusted_schema off. */
#define FN_FLAGS (SQLITE_UTF8 | SQLITE_INNOCUOUS)

int audit_register(sqlite3 *h)
{
    int rc;
    if ((rc = sqlite3_create_function(h, "evne_actor", 0, FN_FLAGS, NULL, fn_actor, NULL, NULL)) ||
        (rc = sqlite3_create_function(h, "evne_addr", 0, FN_FLAGS, NULL, fn_addr, NULL, NULL)) ||
        (rc = sqlite3_create_function(h, "evne_now", 0, FN_FLAGS, NULL, fn_now, NULL, NULL)) ||
        (rc = sqlite3_create_function(h, "evne_audit_on", 0, FN_FLAGS, NULL, fn_on, NULL, NULL)))
        return rc;
    return 0;
}

int audit_disable_for_bulk_load(sqlite3 *h)
{
    return sqlite3_create_function(h, "evne_audit_on", 0, FN_FLAGS, NULL, fn_off, NULL, NULL);
}

/* --- explicit entries ---------------------------------------------------------------------- */

static int note(struct db *d, int64_t actor_id, const char *addr, const char *action,
                const char *entity, int64_t entity_id, int64_t employee_id, const char *detail)
{
    sqlite3_stmt *st = db_stmt(d, "INSERT INTO audit (at, actor_id, addr, action, entity, "
                                  "entity_id, employee_id, new_values) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?, json(?))");
    sqlite3_bind_int64(st, 1, util_now());
    if (actor_id > 0)
        sqlite3_bind_int64(st, 2, actor_id);
    if (addr && *addr)
        sqlite3_bind_text(st, 3, addr, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, entity, -1, SQLITE_STATIC);
    if (entity_id > 0)
        sqlite3_bind_int64(st, 6, entity_id);
    if (employee_id > 0)
        sqlite3_bind_int64(st, 7, employee_id);
    if (detail)
        sqlite3_bind_text(st, 8, detail, -1, SQLITE_STATIC);
    return db_exec_stmt(d, st);
}

int audit_note(struct db *d, const char *action, const char *entity, int64_t entity_id,
               int64_t employee_id, const char *detail)
{
    return note(d, current.actor_id, current.set ? current.addr : NULL, action, entity, entity_id,
                employee_id, detail);
}

int audit_login(struct db *d, int ok, int64_t employee_id, const char *login, const char *addr)
{
    json_t *o = json_pack("{s:s}", "login", login ? login : "");
    if (!o)   /* not UTF-8: say only that one was tried */
        o = json_object();
    char *detail = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int rc = note(d, ok ? employee_id : 0, addr, ok ? "login" : "login_failed", "session", 0,
                  employee_id, detail);
    free(detail);
    return rc;
}
