/* Handlers for departments and employees. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "db.h"
#include "domain.h"
#include "org.h"

void api_departments_list(struct api_req *r)
{
    api_reply(r, 200, json_pack("{s:o}", "items", org_department_list(r->app)));
}

static void reply_department(struct api_req *r, int status, int64_t id)
{
    json_t *o = org_department_json(r->app, id);
    if (!o)
        api_error(r, 404, "not_found", NULL, "there is no department %lld", (long long)id);
    else
        api_reply(r, status, o);
}

void api_departments_create(struct api_req *r)
{
    struct derr e;
    int64_t id;
    if (org_department_create(r->app, r->body, &id, &e))
        api_derr(r, &e);
    else
        reply_department(r, 201, id);
}

void api_department_get(struct api_req *r) { reply_department(r, 200, r->id); }

void api_department_patch(struct api_req *r)
{
    struct derr e;
    if (org_department_update(r->app, r->id, r->body, &e))
        api_derr(r, &e);
    else
        reply_department(r, 200, r->id);
}

void api_department_delete(struct api_req *r)
{
    struct derr e;
    if (org_department_delete(r->app, r->id, &e))
        api_derr(r, &e);
    else
        api_reply(r, 204, NULL);
}

void api_employees_list(struct api_req *r)
{
    char *include = http_query_param(r->http, "include_archived");
    int with_archived = include && !strcmp(include, "true");
    free(include);
    json_t *items = json_array();
    sqlite3_stmt *st = db_stmt(r->app->db, "SELECT id, archived FROM employee ORDER BY name, id");
    size_t n = 0, cap = 256;
    int64_t *ids = xmalloc(cap * sizeof *ids);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!with_archived && sqlite3_column_int(st, 1))
            continue;
        if (n == cap)
            ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++)
        if (api_sees_employee(r, ids[i]))
            json_array_append_new(items, org_employee_json(r->app, ids[i]));
    free(ids);
    api_reply(r, 200, json_pack("{s:o}", "items", items));
}

static void reply_employee(struct api_req *r, int status, int64_t id)
{
    json_t *o = org_employee_json(r->app, id);
    if (!o)
        api_error(r, 404, "not_found", NULL, "there is no employee %lld", (long long)id);
    else
        api_reply(r, status, o);
}

void api_employee_get(struct api_req *r)
{
    if (org_employee_department(r->app, r->id) < 0)
        api_error(r, 404, "not_found", NULL, "there is no employee %lld", (long long)r->id);
    else if (!api_sees_employee(r, r->id))
        api_forbidden(r, "see this employee");
    else
        reply_employee(r, 200, r->id);
}

/* Creating or changing an employee with a password hashes it off the loop first. */
struct employee_work {
    char *password;
    char *hash;
};

static void hash_password(void *arg)
{
    struct api_req *r = arg;
    struct employee_work *w = r->work;
    if (auth_password_hash(w->password, &w->hash))
        w->hash = NULL;
}

static void employee_write(void *arg, int status)
{
    struct api_req *r = arg;
    struct employee_work *w = r->work;
    r->work = NULL;
    const char *hash = w ? w->hash : NULL;
    struct derr e;
    int64_t id = r->id;
    int rc;
    if (w && (status || !hash))
        rc = derr(&e, 500, "internal", "password", "the password could not be hashed");
    else if (r->id)
        rc = org_employee_update(r->app, r->id, r->body, hash, &e);
    else
        rc = org_employee_create(r->app, r->body, hash, &id, &e);
    if (w) {
        free(w->password);
        free(w->hash);
        free(w);
    }
    if (rc)
        api_derr(r, &e);
    else
        reply_employee(r, r->id ? 200 : 201, id);
}

static void employee_save(struct api_req *r)
{
    const char *password = json_string_value(json_object_get(r->body, "password"));
    struct derr e;
    if (!password) {
        employee_write(r, 0);
        return;
    }
    if (org_password_check(password, &e)) {
        api_derr(r, &e);
        return;
    }
    struct employee_work *w = xcalloc(1, sizeof *w);
    w->password = xstrdup(password);
    r->work = w;
    app_defer(r->app, hash_password, employee_write, r);
}

void api_employees_create(struct api_req *r) { employee_save(r); }

/* Only what an employee may change about themselves: their language. */
static int own_language_only(const struct api_req *r)
{
    if (r->id != r->who.employee_id || !json_is_object(r->body) || !json_object_size(r->body))
        return 0;
    const char *key;
    json_t *v;
    json_object_foreach(r->body, key, v)
        if (strcmp(key, "lang"))
            return 0;
    return 1;
}

/* An admin changes anyone; anyone else their own language (the route is open to all). */
void api_employee_patch(struct api_req *r)
{
    if (org_employee_department(r->app, r->id) < 0)
        api_error(r, 404, "not_found", NULL, "there is no employee %lld", (long long)r->id);
    else if (!api_is(r, ROLE_ADMIN) && !own_language_only(r))
        api_forbidden(r, r->id == r->who.employee_id ? "change more than your own language"
                                                     : "change this employee");
    else
        employee_save(r);
}
