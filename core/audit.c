#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "oslo.h"
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
    /* A login nobody has is not written down: people type their password into the login
     * field now and then, and this table can never be cleaned. The attempt itself is. */
    json_t *o = employee_id ? json_pack("{s:s}", "login", login ? login : "")
                            : json_pack("{s:b}", "unknown_login", 1);
    if (!o)   /* not UTF-8: say only that one was tried */
        o = json_object();
    char *detail = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int rc = note(d, ok ? employee_id : 0, addr, ok ? "login" : "login_failed", "login", 0,
                  employee_id, detail);
    free(detail);
    return rc;
}

/* --- reading ------------------------------------------------------------------------------ */

/* "2026-11-26" (the day in Norwegian time: its first second, or with end set its last) or
 * "2026-11-26T21:55:01Z". 0, or -1 when s is neither. */
static int parse_time(const char *s, int end, int64_t *out)
{
    int y, m, d, hh, mm, ss, n = 0;
    if (strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10) {
        if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > oslo_days_in_month(y, m))
            return -1;
        if (!end) {
            *out = oslo_from_local(y, m, d, 0, 0);
        } else {
            int64_t days = oslo_days_from_civil(y, m, d) + 1;
            oslo_civil_from_days(days, &y, &m, &d);
            *out = oslo_from_local(y, m, d, 0, 0) - 1;
        }
        return 0;
    }
    if (strlen(s) == 20 &&
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &m, &d, &hh, &mm, &ss, &n) == 6 && n == 20) {
        if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > oslo_days_in_month(y, m) ||
            hh > 23 || mm > 59 || ss > 59 || hh < 0 || mm < 0 || ss < 0)
            return -1;
        *out = oslo_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
        return 0;
    }
    return -1;
}

/* A positive id parameter; absent or empty leaves *out 0. */
static int id_param(const struct http_request *req, const char *name, int64_t *out)
{
    char *v = http_query_param(req, name);
    int rc = 0;
    if (v && *v && (util_parse_i64(v, out) || *out < 1))
        rc = -1;
    free(v);
    return rc;
}

int audit_filter_from_query(const struct http_request *req, struct audit_filter *f,
                            const char **field, char **msg)
{
    memset(f, 0, sizeof *f);
    f->limit = AUDIT_LIMIT_DEFAULT;
    static const char *const ids[] = {"employee_id", "actor_id", "entity_id", "before_id"};
    int64_t *slots[] = {&f->employee_id, &f->actor_id, &f->entity_id, &f->before_id};
    for (size_t i = 0; i < 4; i++) {
        if (id_param(req, ids[i], slots[i])) {
            *field = ids[i];
            *msg = xasprintf("'%s' must be a positive whole number", ids[i]);
            return -1;
        }
    }
    char *v = http_query_param(req, "entity");
    if (v && *v) {
        int ok = strlen(v) < sizeof f->entity;
        for (const char *c = v; ok && *c; c++)
            ok = (*c >= 'a' && *c <= 'z') || *c == '_';
        if (!ok) {
            free(v);
            *field = "entity";
            *msg = xasprintf("'entity' is a name such as employee, assessment or login");
            return -1;
        }
        snprintf(f->entity, sizeof f->entity, "%s", v);
    }
    free(v);
    static const char *const times[] = {"from", "to"};
    int64_t *tslots[] = {&f->from, &f->to};
    for (int i = 0; i < 2; i++) {
        v = http_query_param(req, times[i]);
        if (v && *v && parse_time(v, i == 1, tslots[i])) {
            free(v);
            *field = times[i];
            *msg = xasprintf("'%s' must be a date (2026-11-26) or a UTC time "
                             "(2026-11-26T21:55:01Z)", times[i]);
            return -1;
        }
        free(v);
    }
    if (f->from && f->to && f->from > f->to) {
        *field = "to";
        *msg = xstrdup("'to' is before 'from'");
        return -1;
    }
    v = http_query_param(req, "limit");
    int64_t limit = 0;
    if (v && *v && (util_parse_i64(v, &limit) || limit < 1 || limit > AUDIT_LIMIT_MAX)) {
        free(v);
        *field = "limit";
        *msg = xasprintf("'limit' must be a number from 1 to %d", AUDIT_LIMIT_MAX);
        return -1;
    }
    if (v && *v)
        f->limit = (int)limit;
    free(v);
    return 0;
}

static json_t *json_or_null(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null()
                                                       : json_integer(sqlite3_column_int64(st, col));
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const char *s = db_text(st, col);
    return s ? json_string(s) : json_null();
}

json_t *audit_list(struct db *d, const struct audit_filter *f)
{
    /* The filters present make the statement, so that each can use its index: an admin's
     * question, asked now and then, is worth a fresh prepare. */
    struct buf sql = {0};
    buf_puts(&sql, "SELECT a.id, a.at, a.actor_id, actor.name, a.addr, a.action, a.entity, "
                   "a.entity_id, a.employee_id, subject.name, a.old_values, a.new_values "
                   "FROM audit a LEFT JOIN employee actor ON actor.id = a.actor_id "
                   "LEFT JOIN employee subject ON subject.id = a.employee_id WHERE 1");
    if (f->employee_id)
        buf_puts(&sql, " AND a.employee_id = :employee");
    if (f->actor_id)
        buf_puts(&sql, " AND a.actor_id = :actor");
    if (f->entity[0])
        buf_puts(&sql, " AND a.entity = :entity");
    if (f->entity_id)
        buf_puts(&sql, " AND a.entity_id = :entity_id");
    if (f->from)
        buf_puts(&sql, " AND a.at >= :from");
    if (f->to)
        buf_puts(&sql, " AND a.at <= :to");
    if (f->before_id)
        buf_puts(&sql, " AND a.id < :before");
    buf_puts(&sql, " ORDER BY a.id DESC LIMIT :limit");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(d), sql.data, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "evne: sqlite error %d (%s) in: %s\n", sqlite3_extended_errcode(db_handle(d)),
                sqlite3_errmsg(db_handle(d)), sql.data);
        buf_free(&sql);
        return NULL;
    }
    buf_free(&sql);
#define BIND(name, v) sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, name), v)
    if (f->employee_id)
        BIND(":employee", f->employee_id);
    if (f->actor_id)
        BIND(":actor", f->actor_id);
    if (f->entity[0])
        sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":entity"), f->entity, -1,
                          SQLITE_STATIC);
    if (f->entity_id)
        BIND(":entity_id", f->entity_id);
    if (f->from)
        BIND(":from", f->from);
    if (f->to)
        BIND(":to", f->to);
    if (f->before_id)
        BIND(":before", f->before_id);
    int limit = f->limit > 0 && f->limit <= AUDIT_LIMIT_MAX ? f->limit : AUDIT_LIMIT_DEFAULT;
    BIND(":limit", limit + 1);   /* one more says whether an older page exists */
#undef BIND
    json_t *items = json_array();
    int rc, n = 0;
    int64_t last_id = 0, more = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = 1;
            continue;
        }
        char at[21];
        util_iso8601(sqlite3_column_int64(st, 1), at);
        last_id = sqlite3_column_int64(st, 0);
        json_t *e = json_object();
        json_object_set_new(e, "id", json_integer(last_id));
        json_object_set_new(e, "at", json_string(at));
        json_object_set_new(e, "actor_id", int_or_null(st, 2));
        json_object_set_new(e, "actor_name", text_or_null(st, 3));
        json_object_set_new(e, "addr", text_or_null(st, 4));
        json_object_set_new(e, "action", text_or_null(st, 5));
        json_object_set_new(e, "entity", text_or_null(st, 6));
        json_object_set_new(e, "entity_id", int_or_null(st, 7));
        json_object_set_new(e, "employee_id", int_or_null(st, 8));
        json_object_set_new(e, "employee_name", text_or_null(st, 9));
        json_object_set_new(e, "before", json_or_null(db_text(st, 10)));
        json_object_set_new(e, "after", json_or_null(db_text(st, 11)));
        json_array_append_new(items, e);
        n++;
    }
    if (rc != SQLITE_DONE) {
        db_log_error(d, st);
        sqlite3_finalize(st);
        json_decref(items);
        return NULL;
    }
    sqlite3_finalize(st);
    return json_pack("{s:o, s:o}", "items", items, "next_before_id",
                     more ? json_integer(last_id) : json_null());
}
