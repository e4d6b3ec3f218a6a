/* Handlers for assignments, assessments, questions and gaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "assess.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "http.h"
#include "lua_host.h"
#include "org.h"

/* 404 for an unknown employee, 403 for one the caller may not see; 0 when r may go on. */
static int check_sees(struct api_req *r)
{
    if (gap_employee_department(r->app->gap, r->id) < 0) {
        api_error(r, 404, "not_found", NULL, "there is no employee %lld", (long long)r->id);
        return -1;
    }
    if (!api_sees_employee(r, r->id)) {
        api_forbidden(r, "see this employee's competence");
        return -1;
    }
    return 0;
}

void api_assignments_get(struct api_req *r)
{
    if (check_sees(r) == 0)
        api_reply(r, 200, assess_assignments_json(r->app, r->id));
}

void api_assignments_put(struct api_req *r)
{
    if (check_sees(r))
        return;
    if (!api_manages_employee(r, r->id)) {
        api_forbidden(r, "choose profiles for this employee (their manager or an admin does)");
        return;
    }
    struct derr e;
    if (assess_assign(r->app, r->id, r->who.employee_id, r->body, &e))
        api_derr(r, &e);
    else
        api_reply(r, 200, assess_assignments_json(r->app, r->id));
}

void api_assessments_list(struct api_req *r)
{
    if (check_sees(r) == 0)
        api_reply(r, 200, json_pack("{s:o}", "items", assess_history(r->app, r->id)));
}

/* Who may record what: a self-assessment only the employee; an appraisal their manager or an
 * admin; a course or test result an adviser or admin. */
static int may_record(struct api_req *r, const char *source)
{
    if (!strcmp(source, "self"))
        return r->id == r->who.employee_id;
    if (!strcmp(source, "appraisal"))
        return api_manages_employee(r, r->id) && r->id != r->who.employee_id;
    return api_is(r, ROLE_ADVISER | ROLE_ADMIN);
}

void api_assessments_create(struct api_req *r)
{
    if (check_sees(r))
        return;
    const char *source = assess_source(r->body);
    if (source && !may_record(r, source)) {
        api_error(r, 403, "forbidden", "source", "you may not record a '%s' assessment for "
                  "this employee", source);
        return;
    }
    struct derr e;
    json_t *created = NULL;
    if (assess_record(r->app, r->id, r->who.employee_id, r->body, &created, &e))
        api_derr(r, &e);
    else
        api_reply(r, 201, json_pack("{s:o}", "items", created));
}

void api_questions(struct api_req *r)
{
    if (check_sees(r) == 0)
        api_reply(r, 200, json_pack("{s:o}", "items", assess_questions(r->app, r->id)));
}

static void put_field(struct buf *b, const char *name, int64_t v)
{
    buf_puts(b, name);
    buf_putint(b, v);
}

static void row_json(struct buf *b, const struct gap_row *row)
{
    put_field(b, "{\"id\":", row->id);
    buf_puts(b, ",\"name\":");
    buf_json_string(b, row->name);
    put_field(b, ",\"employees\":", row->employees);
    put_field(b, ",\"employees_with_gaps\":", row->employees_with_gaps);
    put_field(b, ",\"demanded\":", row->demanded);
    put_field(b, ",\"open_gaps\":", row->open_gaps);
    put_field(b, ",\"unassessed\":", row->unassessed);
    put_field(b, ",\"gap_sum\":", row->gap_sum);
    buf_printf(b, ",\"coverage\":%.15g}", row->coverage);
}

/* The hot path of the API: written straight into one buffer, no JSON tree, no printf per cell. */
void api_employee_gaps(struct api_req *r)
{
    if (check_sees(r))
        return;
    struct gap_cell *cells;
    size_t n;
    struct gap_row summary;
    if (gap_employee(r->app->gap, r->id, &cells, &n, &summary)) {
        api_error(r, 404, "not_found", NULL, "employee %lld is archived", (long long)r->id);
        return;
    }
    struct buf b = {0};
    buf_reserve(&b, 256 + n * 192);
    put_field(&b, "{\"employee_id\":", r->id);
    buf_puts(&b, ",\"items\":[");
    for (size_t i = 0; i < n; i++) {
        const struct gap_cell *c = &cells[i];
        const char *cls = r->app->rules ? lh_class_name(r->app->rules, c->class_id) : NULL;
        put_field(&b, i ? ",{\"requirement_id\":" : "{\"requirement_id\":", c->requirement_id);
        put_field(&b, ",\"system_id\":", c->system_id);
        put_field(&b, ",\"required\":", c->required);
        put_field(&b, ",\"actual\":", c->actual);
        put_field(&b, ",\"gap\":", c->gap);
        buf_puts(&b, ",\"class\":");
        if (cls)
            buf_json_string(&b, cls);
        else
            buf_puts(&b, "null");
        buf_puts(&b, c->unassessed ? ",\"unassessed\":true,\"assessed_at\":null}"
                                   : ",\"unassessed\":false,\"assessed_at\":\"");
        if (!c->unassessed) {
            char at[21];
            util_iso8601(c->assessed_at, at);
            buf_append(&b, at, 20);
            buf_puts(&b, "\"}");
        }
    }
    buf_puts(&b, "],\"summary\":");
    row_json(&b, &summary);
    buf_puts(&b, "}");
    free(cells);
    api_reply_text(r, 200, b.data, b.len);
    buf_free(&b);
}

/* Reads an optional id parameter; 0 when absent, -1 after answering an error. */
static int id_param(struct api_req *r, const char *name, const char *exists_sql, int64_t *out)
{
    char *v = http_query_param(r->http, name);
    *out = 0;
    if (!v)
        return 0;
    int64_t id;
    int bad = util_parse_i64(v, &id) || id <= 0;
    free(v);
    if (bad) {
        api_error(r, 422, "invalid", name, "'%s' must be a positive integer id", name);
        return -1;
    }
    if (!dom_exists(r->app->db, exists_sql, id)) {
        api_error(r, 422, "invalid", name, "there is no %.*s %lld", (int)(strlen(name) - 3), name,
                  (long long)id);
        return -1;
    }
    *out = id;
    return 0;
}

void api_gaps(struct api_req *r)
{
    static const char *const dims[] = {"employee", "department", "profile", "system",
                                       "requirement"};
    char *by = http_query_param(r->http, "by");
    int dim = -1;
    for (int i = 0; by && i < 5; i++)
        if (!strcmp(by, dims[i]))
            dim = i;
    free(by);
    if (dim < 0) {
        api_error(r, 422, "invalid", "by",
                  "'by' must be one of employee, department, profile, system, requirement");
        return;
    }
    struct gap_filter f = {0};
    int64_t dept;
    if (id_param(r, "department_id", "SELECT 1 FROM department WHERE id = ?", &dept) ||
        id_param(r, "system_id", "SELECT 1 FROM system WHERE id = ?", &f.system_id) ||
        id_param(r, "profile_id", "SELECT 1 FROM profile WHERE id = ?", &f.profile_id))
        return;
    if (!api_is(r, ROLE_ADVISER | ROLE_ADMIN)) {
        if (!r->who.nmanaged) {
            api_forbidden(r, "see roll-ups (managers, advisers and admins do)");
            return;
        }
        if (dept && !api_manages_department(r, dept)) {
            api_forbidden(r, "see roll-ups of a department you do not manage");
            return;
        }
        if (!dept) {
            f.departments = r->who.managed;
            f.ndepartments = r->who.nmanaged;
        }
    }
    if (dept) {
        f.departments = &dept;
        f.ndepartments = 1;
    }
    struct gap_row *rows;
    size_t n;
    gap_rollup(r->app->gap, (enum gap_dim)dim, &f, &rows, &n);
    struct buf b = {0};
    buf_reserve(&b, 64 + n * 200);
    buf_printf(&b, "{\"by\":\"%s\",\"items\":[", dims[dim]);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_puts(&b, ",");
        row_json(&b, &rows[i]);
    }
    buf_puts(&b, "]}");
    free(rows);
    api_reply_text(r, 200, b.data, b.len);
    buf_free(&b);
}
