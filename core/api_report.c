/* api_report: GET /api/v1/reports (the report layouts) and GET /api/v1/reports/{name} (one
 * report rendered by its layout, in HTML or CSV), and what the report pages share with them:
 * reading a report's parameters and deciding who may see it.
 *
 * Who may see what: an employee their own employee report; a manager the employee reports of the
 * people in the departments they manage, those departments' reports and the gap roll-up within
 * them; advisers and admins every report. The organisation report is the advisers' and admins'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "http.h"
#include "lua_host.h"
#include "org.h"
#include "report.h"
#include "util.h"
#include "web.h"

#define ADVISER (ROLE_ADVISER | ROLE_ADMIN)

/* The parameters each report takes besides format, period and lang. */
static const char *const extra_params[][3] = {
    {REPORT_EMPLOYEE, "employee_id", NULL},
    {REPORT_DEPARTMENT, "department_id", NULL},
    {REPORT_ORGANISATION, NULL, NULL},
    {REPORT_GAPS, "by", "department_id"},
};

static int takes(const char *report, const char *param)
{
    if (!strcmp(param, "format") || !strcmp(param, "period") || !strcmp(param, "lang"))
        return 1;
    for (size_t i = 0; i < sizeof extra_params / sizeof extra_params[0]; i++)
        if (!strcmp(extra_params[i][0], report))
            for (int k = 1; k < 3 && extra_params[i][k]; k++)
                if (!strcmp(extra_params[i][k], param))
                    return 1;
    return 0;
}

/* An id parameter: 0 when absent or empty, -1 (and e) when it is not a positive integer. */
static int id_param(const struct form *q, const char *name, int64_t *out, struct derr *e)
{
    const char *v = form_get(q, name);
    *out = 0;
    if (!v || !*v)
        return 0;
    if (util_parse_i64(v, out) || *out <= 0)
        return derr(e, 422, "invalid", name, "'%s' must be a positive integer id", name);
    return 0;
}

/* The language of the caller: the page's, else the one stored on them. */
static const char *caller_lang(const struct api_req *r)
{
    return r->lang ? r->lang : org_employee_lang(r->app, r->who.employee_id);
}

int api_report_request(struct api_req *r, const char *name, struct report_params *p,
                       const char **format, struct derr *e)
{
    memset(p, 0, sizeof *p);
    *format = "html";
    if (!report_known(name))
        return derr(e, 404, "not_found", NULL, "there is no report named '%s'", name);
    const char *query = r->http->query ? r->http->query : "";
    struct form *q = form_parse(query, strlen(query));
    int rc = -1;
    for (size_t i = 0; i < form_size(q); i++)
        if (!takes(name, form_key(q, i))) {
            derr(e, 422, "invalid", form_key(q, i), "the %s report takes no parameter '%s'",
                 name, form_key(q, i));
            goto out;
        }
    const char *v = form_get(q, "format");
    if (v && *v) {
        if (strcmp(v, "html") && strcmp(v, "csv") && strcmp(v, "json")) {
            derr(e, 422, "invalid", "format", "'format' is html, csv or json, not '%s'", v);
            goto out;
        }
        *format = !strcmp(v, "csv") ? "csv" : !strcmp(v, "json") ? "json" : "html";
    }
    v = form_get(q, "period");
    if (v && *v) {
        if (report_period_check(v)) {
            derr(e, 422, "invalid", "period", "'period' is a month written YYYY-MM, not '%s'", v);
            goto out;
        }
        snprintf(p->period, sizeof p->period, "%s", v);
    }
    v = form_get(q, "lang");
    if (v && *v && strcmp(v, "nb") && strcmp(v, "en")) {
        derr(e, 422, "invalid", "lang", "'lang' is nb or en, not '%s'", v);
        goto out;
    }
    snprintf(p->lang, sizeof p->lang, "%s", v && *v ? v : caller_lang(r));
    v = form_get(q, "by");
    if (v && *v)
        snprintf(p->by, sizeof p->by, "%.15s", v);
    if (id_param(q, "employee_id", &p->employee_id, e) ||
        id_param(q, "department_id", &p->department_id, e))
        goto out;

    struct app *a = r->app;
    int adviser = api_is(r, ADVISER);
    if (!strcmp(name, REPORT_EMPLOYEE)) {
        if (!p->employee_id)
            p->employee_id = r->who.employee_id;
        if (!dom_exists(a->db, "SELECT 1 FROM employee WHERE id = ? AND archived = 0",
                        p->employee_id)) {
            derr(e, 422, "invalid", "employee_id", "there is no active employee %lld",
                 (long long)p->employee_id);
            goto out;
        }
        if (!api_sees_employee(r, p->employee_id)) {
            derr(e, 403, "forbidden", NULL, "you may not see the report of employee %lld",
                 (long long)p->employee_id);
            goto out;
        }
    } else if (!strcmp(name, REPORT_DEPARTMENT)) {
        if (!p->department_id && r->who.nmanaged)
            p->department_id = r->who.managed[0];
        if (!p->department_id) {
            if (adviser)
                derr(e, 422, "invalid", "department_id", "'department_id' names the department");
            else
                derr(e, 403, "forbidden", NULL, "you manage no department");
            goto out;
        }
        if (!dom_exists(a->db, "SELECT 1 FROM department WHERE id = ?", p->department_id)) {
            derr(e, 422, "invalid", "department_id", "there is no department %lld",
                 (long long)p->department_id);
            goto out;
        }
        if (!adviser && !api_manages_department(r, p->department_id)) {
            derr(e, 403, "forbidden", NULL, "you may not see the report of department %lld",
                 (long long)p->department_id);
            goto out;
        }
    } else if (!strcmp(name, REPORT_ORGANISATION)) {
        if (!adviser) {
            derr(e, 403, "forbidden", NULL, "the organisation report is for advisers");
            goto out;
        }
    } else {   /* gaps: as GET /api/v1/gaps decides */
        if (p->department_id &&
            !dom_exists(a->db, "SELECT 1 FROM department WHERE id = ?", p->department_id)) {
            derr(e, 422, "invalid", "department_id", "there is no department %lld",
                 (long long)p->department_id);
            goto out;
        }
        if (!adviser) {
            if (!r->who.nmanaged ||
                (p->department_id && !api_manages_department(r, p->department_id))) {
                derr(e, 403, "forbidden", NULL, "you may see the gaps of the departments you "
                                                "manage only");
                goto out;
            }
            if (!p->department_id) {
                p->departments = r->who.managed;
                p->ndepartments = r->who.nmanaged;
            }
        }
    }
    rc = 0;
out:
    form_free(q);
    return rc;
}

/* The layout's title (owned), or the report's name. */
static char *layout_title(struct app *a, const char *name)
{
    json_t *list = NULL;
    char *title = NULL;
    if (a->rules && lh_reports(a->rules, &list) == 0) {
        size_t i;
        json_t *l;
        json_array_foreach(list, i, l) {
            if (!strcmp(json_string_value(json_object_get(l, "name")), name))
                title = xstrdup(json_string_value(json_object_get(l, "title")));
        }
    }
    json_decref(list);
    return title ? title : xstrdup(name);
}

void api_reports_list(struct api_req *r)
{
    json_t *list = NULL;
    if (!r->app->rules || lh_reports(r->app->rules, &list)) {
        api_error(r, 503, "unavailable", NULL, "the rules are not loaded");
        return;
    }
    size_t i;
    json_t *l;
    json_array_foreach(list, i, l) {
        json_object_set_new(l, "available",
                            json_boolean(report_known(json_string_value(json_object_get(l, "name")))));
    }
    api_reply(r, 200, json_pack("{s:o}", "items", list));
}

void api_report_get(struct api_req *r)
{
    const char *prefix = "/api/v1/reports/";
    const char *name = r->http->path + strlen(prefix);
    struct report_params p;
    const char *format;
    struct derr e;
    json_t *data = NULL;
    if (api_report_request(r, name, &p, &format, &e) ||
        report_data(r->app, name, &p, util_now(), &data, &e)) {
        api_derr(r, &e);
        return;
    }
    if (!strcmp(format, "json")) {   /* the data the layout gets, for integrations */
        api_reply(r, 200, data);
        return;
    }
    struct buf out = {0};
    char *err = NULL;
    if (report_render(r->app, name, format, data, &out, &err)) {
        size_t line = strcspn(err, "\n");
        fprintf(stderr, "evne: report %s: %s\n", name, err);
        api_error(r, 500, "report_failed", NULL, "the report layout failed: %.*s",
                  (int)(line > 300 ? 300 : line), err);
        free(err);
        json_decref(data);
        return;
    }
    const char *period = json_string_value(json_object_get(data, "period"));
    char *headers;
    if (!strcmp(format, "csv")) {
        headers = xasprintf("Content-Disposition: attachment; filename=\"evne-%s-%s.csv\"\r\n"
                            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
                            name, period ? period : "");
        http_respond(r->http, 200, "text/csv; charset=utf-8", out.data, out.len, headers);
    } else {
        char *title = layout_title(r->app, name);
        char *doc = report_document(title, p.lang, out.data);
        headers = xstrdup("Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
        http_respond(r->http, 200, "text/html; charset=utf-8", doc, strlen(doc), headers);
        free(doc);
        free(title);
    }
    free(headers);
    buf_free(&out);
    json_decref(data);
    api_req_free(r);
}
