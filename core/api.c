#include "api.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "http.h"
#include "org.h"
#include "router.h"
#include "rules.h"
#include "web.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define ANY (ROLE_EMPLOYEE | ROLE_MANAGER | ROLE_ADVISER | ROLE_ADMIN)
#define ADVISER (ROLE_ADVISER | ROLE_ADMIN)
#define ADMIN ROLE_ADMIN

static void healthz(struct api_req *r);

static const struct route routes[] = {
    {"GET", "/healthz", healthz, 0},
    {"POST", "/api/v1/session", api_session_create, 0},
    {"DELETE", "/api/v1/session", api_session_delete, ANY},
    {"GET", "/api/v1/me", api_me, ANY},
    {"GET", "/api/v1/departments", api_departments_list, ANY},
    {"POST", "/api/v1/departments", api_departments_create, ADMIN},
    {"GET", "/api/v1/departments/{id}", api_department_get, ANY},
    {"PATCH", "/api/v1/departments/{id}", api_department_patch, ADMIN},
    {"DELETE", "/api/v1/departments/{id}", api_department_delete, ADMIN},
    {"GET", "/api/v1/employees", api_employees_list, ANY},
    {"POST", "/api/v1/employees", api_employees_create, ADMIN},
    {"GET", "/api/v1/employees/{id}", api_employee_get, ANY},
    {"PATCH", "/api/v1/employees/{id}", api_employee_patch, ANY},   /* others: own lang */
    {"GET", "/api/v1/employees/{id}/profiles", api_assignments_get, ANY},
    {"PUT", "/api/v1/employees/{id}/profiles", api_assignments_put, ANY},
    {"GET", "/api/v1/employees/{id}/assessments", api_assessments_list, ANY},
    {"POST", "/api/v1/employees/{id}/assessments", api_assessments_create, ANY},
    {"GET", "/api/v1/employees/{id}/questions", api_questions, ANY},
    {"GET", "/api/v1/employees/{id}/gaps", api_employee_gaps, ANY},
    {"GET", "/api/v1/systems", api_systems_list, ANY},
    {"POST", "/api/v1/systems", api_systems_create, ADVISER},
    {"GET", "/api/v1/systems/{id}", api_system_get, ANY},
    {"PATCH", "/api/v1/systems/{id}", api_system_patch, ADVISER},
    {"DELETE", "/api/v1/systems/{id}", api_system_delete, ADVISER},
    {"GET", "/api/v1/systems/{id}/requirements", api_requirements_list, ANY},
    {"POST", "/api/v1/systems/{id}/requirements", api_requirements_create, ADVISER},
    {"GET", "/api/v1/requirements/{id}", api_requirement_get, ANY},
    {"PATCH", "/api/v1/requirements/{id}", api_requirement_patch, ADVISER},
    {"DELETE", "/api/v1/requirements/{id}", api_requirement_delete, ADVISER},
    {"GET", "/api/v1/profiles", api_profiles_list, ANY},
    {"POST", "/api/v1/profiles", api_profiles_create, ADVISER},
    {"GET", "/api/v1/profiles/{id}", api_profile_get, ANY},
    {"PATCH", "/api/v1/profiles/{id}", api_profile_patch, ADVISER},
    {"DELETE", "/api/v1/profiles/{id}", api_profile_delete, ADVISER},
    {"GET", "/api/v1/gaps", api_gaps, ANY},
    {"GET", "/api/v1/admin/rules", api_rules_status, ADMIN},
    {"POST", "/api/v1/admin/rules/reload", api_rules_reload, ADMIN},
    {"POST", "/api/v1/admin/rules/preview", api_rules_preview, ADMIN},
    {"GET", "/api/v1/admin/outbox", api_outbox_list, ADMIN},
    {"GET", "/api/v1/admin/audit", api_audit_list, ADMIN},
    {"POST", "/api/v1/admin/import", api_import, ADMIN},   /* a CSV body (api_import.c) */
    {"GET", "/api/v1/admin/export", api_export, ADVISER},  /* streamed (api_export.c) */
    {"GET", "/api/v1/admin/jobs", api_jobs_list, ADMIN},
    {"POST", "/api/v1/admin/jobs/{name}/run", api_job_run, ADMIN},
    {"GET", "/api/v1/admin/jobs/runs/{id}", api_job_run_get, ADMIN},
    {"POST", "/api/v1/admin/clock", api_clock_set, ADMIN},
    /* courses (api_course.c) */
    {"GET", "/api/v1/courses", api_courses_list, ANY},
    {"POST", "/api/v1/courses", api_courses_create, ADVISER},
    {"GET", "/api/v1/courses/{id}", api_course_get, ANY},
    {"PATCH", "/api/v1/courses/{id}", api_course_patch, ADVISER},
    {"DELETE", "/api/v1/courses/{id}", api_course_delete, ADVISER},
    {"GET", "/api/v1/courses/{id}/sessions", api_course_sessions_list, ANY},
    {"POST", "/api/v1/courses/{id}/sessions", api_course_sessions_create, ADVISER},
    {"POST", "/api/v1/courses/{id}/matches", api_course_matches, ADVISER | ROLE_MANAGER},
    {"GET", "/api/v1/courses/{id}/evaluation-questions", api_course_questions, ANY},
    {"POST", "/api/v1/courses/{id}/evaluation-questions", api_course_questions_create, ADVISER},
    {"GET", "/api/v1/courses/{id}/evaluations", api_course_evaluations, ADVISER},
    {"GET", "/api/v1/courses/{id}/effect", api_course_effect, ADVISER},
    {"PATCH", "/api/v1/evaluation-questions/{id}", api_question_patch, ADVISER},
    {"GET", "/api/v1/sessions/{id}", api_course_session_get, ANY},
    {"PATCH", "/api/v1/sessions/{id}", api_course_session_patch, ADVISER},
    {"POST", "/api/v1/sessions/{id}/invitations", api_session_invitations, ADVISER},
    {"GET", "/api/v1/sessions/{id}/enrolments", api_session_enrolments, ADVISER | ROLE_MANAGER},
    {"GET", "/api/v1/enrolments/{id}", api_enrolment_get, ANY},
    {"POST", "/api/v1/enrolments/{id}/accept", api_enrolment_accept, ANY},
    {"POST", "/api/v1/enrolments/{id}/decline", api_enrolment_decline, ANY},
    {"POST", "/api/v1/enrolments/{id}/approve", api_enrolment_approve, ANY},
    {"POST", "/api/v1/enrolments/{id}/reject", api_enrolment_reject, ANY},
    {"POST", "/api/v1/enrolments/{id}/cancel", api_enrolment_cancel, ANY},
    {"POST", "/api/v1/enrolments/{id}/attend", api_enrolment_attend, ANY},
    {"POST", "/api/v1/enrolments/{id}/absent", api_enrolment_absent, ANY},
    {"POST", "/api/v1/enrolments/{id}/reassessment", api_enrolment_reassess, ANY},
    {"POST", "/api/v1/enrolments/{id}/evaluation", api_enrolment_evaluate, ANY},
    {"GET", "/api/v1/employees/{id}/enrolments", api_employee_enrolments, ANY},
    {"GET", "/api/v1/employees/{id}/approvals", api_employee_approvals, ANY},
    {"GET", "/api/v1/employees/{id}/cv", api_employee_cv, ANY},
    {"POST", "/api/v1/employees/{id}/cv", api_employee_cv_add, ANY},
    /* the trend (api_trend.c) */
    {"POST", "/api/v1/admin/snapshots", api_snapshots_create, ADVISER},
    {"GET", "/api/v1/trend", api_trend, ANY},
    /* reports (api_report.c): who may see which is decided there */
    {"GET", "/api/v1/reports", api_reports_list, ANY},
    {"GET", "/api/v1/reports/{name}", api_report_get, ANY},
};

void api_req_free(struct api_req *r)
{
    form_free(r->form);
    auth_principal_free(&r->who);
    json_decref(r->body);
    free(r);
}

void api_reply_text(struct api_req *r, int status, const char *json, size_t len)
{
    /* Any answered write may have changed a session, a role or who manages what. */
    if (strcmp(r->http->method, "GET") != 0)
        r->app->generation++;
    http_respond(r->http, status, json ? JSON_TYPE : NULL, json, json ? len : 0, NULL);
    api_req_free(r);
}

void api_reply(struct api_req *r, int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    api_reply_text(r, status, text, text ? strlen(text) : 0);
    free(text);
    json_decref(json);
}

static json_t *error_json(const char *code, const char *field, const char *message)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (field && *field)
        json_object_set_new(e, "field", json_string(field));
    return json_pack("{s:o}", "error", e);
}

void api_error(struct api_req *r, int status, const char *code, const char *field,
               const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    util_utf8_clean(msg);   /* a message may quote what the client sent */
    api_reply(r, status, error_json(code, field, msg));
}

void api_derr(struct api_req *r, const struct derr *e)
{
    api_error(r, e->status, e->code, e->field, "%s", e->message);
}

void api_forbidden(struct api_req *r, const char *what)
{
    api_error(r, 403, "forbidden", NULL, "you may not %s", what);
}

int api_is(const struct api_req *r, unsigned roles) { return (r->who.roles & roles) != 0; }

int api_manages_department(const struct api_req *r, int64_t dept)
{
    for (size_t i = 0; i < r->who.nmanaged; i++)
        if (gap_department_within(r->app->gap, dept, r->who.managed[i]))
            return 1;
    return 0;
}

int api_manages_employee(const struct api_req *r, int64_t employee_id)
{
    if (api_is(r, ROLE_ADMIN))
        return 1;
    int64_t dept = gap_employee_department(r->app->gap, employee_id);
    return dept > 0 && api_manages_department(r, dept);
}

int api_sees_employee(const struct api_req *r, int64_t employee_id)
{
    return employee_id == r->who.employee_id || api_is(r, ADVISER) ||
           api_manages_employee(r, employee_id);
}


static void healthz(struct api_req *r)
{
    if (app_healthy(r->app))
        api_reply(r, 200, json_pack("{s:s}", "status", "ok"));
    else
        api_reply(r, 503, json_pack("{s:s}", "status", "unavailable"));
}

/* --- sessions ------------------------------------------------------------------------------ */

struct login_work {
    char *login;
    char *hash;                 /* NULL when the login is unknown */
    char *password;
    int64_t employee_id;
    int ok;
};

static void login_verify(void *arg)
{
    struct api_req *r = arg;
    struct login_work *w = r->work;
    w->ok = auth_login_check(w->hash, w->password);
}

static void login_done(void *arg, int status)
{
    struct api_req *r = arg;
    struct login_work *w = r->work;
    r->work = NULL;
    int ok = status == 0 && w->ok, stored = 0;
    int64_t id = w->employee_id;
    char addr[64];
    http_client_addr(r->http, addr);
    char token[AUTH_TOKEN_HEX + 1];
    if (!ok) {
        auth_login_failed(w->login, addr);
        audit_login(r->app->db, 0, id, w->login, addr);
    } else if (db_begin(r->app->db) || auth_token_create(r->app->db, id, token) ||
               audit_login(r->app->db, 1, id, w->login, addr) || db_commit(r->app->db)) {
        db_rollback(r->app->db);
    } else {
        stored = 1;
    }
    free(w->login);
    free(w->hash);
    sodium_memzero(w->password, strlen(w->password));
    free(w->password);
    free(w);
    if (!ok) {
        api_error(r, 401, "unauthorized", NULL, "wrong login or password");
        return;
    }
    if (!stored) {
        api_error(r, 500, "internal", NULL, "could not store the session; see the server log");
        return;
    }
    struct principal who;
    if (auth_principal_load(r->app->db, id, &who)) {
        api_error(r, 401, "unauthorized", NULL, "wrong login or password");
        return;
    }
    json_t *o = json_pack("{s:s, s:I, s:o, s:I}", "token", token, "employee_id", (json_int_t)id,
                          "roles", auth_roles_json(who.roles), "expires_in",
                          (json_int_t)AUTH_TOKEN_SECONDS);
    auth_principal_free(&who);
    api_reply(r, 201, o);
}

void api_session_create(struct api_req *r)
{
    static const char *const allowed[] = {"login", "password", NULL};
    struct derr e;
    const char *login = NULL, *password = NULL;
    if (dom_only(r->body, allowed, &e) || dom_string(r->body, "login", 1, 1, 64, &login, &e) < 0 ||
        dom_string(r->body, "password", 1, 0, 1000, &password, &e) < 0) {
        api_derr(r, &e);
        return;
    }
    char addr[64];
    http_client_addr(r->http, addr);
    if (auth_login_blocked(login, addr)) {
        api_error(r, 429, "too_many_attempts", NULL,
                  "too many failed logins for this login or address; wait a minute");
        return;
    }
    struct login_work *w = xcalloc(1, sizeof *w);
    w->login = xstrdup(login);
    sqlite3_stmt *st = db_stmt(r->app->db, "SELECT id, password_hash FROM employee "
                                           "WHERE login = ? AND archived = 0");
    sqlite3_bind_text(st, 1, login, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && db_text(st, 1)) {
        w->employee_id = sqlite3_column_int64(st, 0);
        w->hash = xstrdup(db_text(st, 1));
    }
    sqlite3_reset(st);
    w->password = xstrdup(password);
    r->work = w;
    app_defer(r->app, login_verify, login_done, r);
}

void api_session_delete(struct api_req *r)
{
    if (auth_token_revoke(r->app->db, r->token))
        api_error(r, 500, "internal", NULL, "could not end the session; see the server log");
    else
        api_reply(r, 204, NULL);
}

void api_me(struct api_req *r)
{
    json_t *o = org_employee_json(r->app, r->who.employee_id);
    json_t *managed = json_array();
    for (size_t i = 0; i < r->who.nmanaged; i++)
        json_array_append_new(managed, json_integer(r->who.managed[i]));
    json_object_set_new(o, "managed_department_ids", managed);
    api_reply(r, 200, o);
}

/* --- dispatch ------------------------------------------------------------------------------ */

static int wants_body(const char *method)
{
    return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
}

void api_dispatch(struct app *a, struct http_request *req)
{
    struct api_req *r = xcalloc(1, sizeof *r);
    r->app = a;
    r->http = req;
    const struct route *route = NULL;
    int64_t ids[ROUTER_MAX_IDS] = {0};
    char allow[128];
    switch (router_match(routes, sizeof routes / sizeof routes[0], req->method, req->path, &route,
                         ids, allow, sizeof allow)) {
    case ROUTER_NOT_FOUND:
        api_error(r, 404, "not_found", NULL, "no such resource: %.200s", req->path);
        return;
    case ROUTER_BAD_METHOD: {
        char headers[160];
        snprintf(headers, sizeof headers, "Allow: %s\r\n", allow);
        char *body = xasprintf("{\"error\":{\"code\":\"method_not_allowed\",\"message\":"
                               "\"%s is not allowed here; allowed: %s\"}}",
                               req->method, allow);
        http_respond(req, 405, JSON_TYPE, body, strlen(body), headers);
        free(body);
        api_req_free(r);
        return;
    }
    case ROUTER_FOUND:
        break;
    }
    r->id = ids[0];
    r->id2 = ids[1];
    if (route->roles) {
        const char *auth = http_header(req, "authorization");
        if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
            api_error(r, 401, "unauthorized", NULL,
                      "log in first: POST /api/v1/session, then send Authorization: Bearer <token>");
            return;
        }
        const char *tok = auth + 7;
        while (*tok == ' ')
            tok++;
        snprintf(r->token, sizeof r->token, "%s", tok);
        if (strlen(tok) != AUTH_TOKEN_HEX ||
            auth_cache_check(a->auth, a->db, r->token, a->generation, &r->who)) {
            api_error(r, 401, "unauthorized", NULL, "the token is unknown or has expired");
            return;
        }
        if (!api_is(r, route->roles)) {
            api_forbidden(r, "use this resource with your roles");
            return;
        }
    }
    if (route->handler == api_import) {
        /* its body is CSV, read by the handler */
    } else if (wants_body(req->method) && req->body_len == 0) {
        r->body = json_object();   /* no body: the handler says which fields it misses */
    } else if (wants_body(req->method)) {
        json_error_t jerr;
        r->body = json_loadb(req->body ? req->body : "", req->body_len,
                             JSON_REJECT_DUPLICATES, &jerr);
        if (!r->body) {
            api_error(r, 400, "bad_json", NULL, "the body is not valid JSON: %s (line %d, column %d)",
                      jerr.text, jerr.line, jerr.column);
            return;
        }
        if (!json_is_object(r->body)) {
            api_error(r, 400, "bad_json", NULL, "the body must be a JSON object");
            return;
        }
    }
    /* The audit triggers record who changed what from where (audit.h). */
    char addr[64];
    http_client_addr(req, addr);
    audit_context_set(r->who.employee_id, addr);
    route->handler(r);
    audit_context_clear();
}

/* --- rules (admin) ----------------------------------------------------------------------- */

void api_rules_status(struct api_req *r) { api_reply(r, 200, rules_status(r->app)); }

void api_rules_reload(struct api_req *r)
{
    static const char *const allowed[] = {NULL};
    struct derr e;
    if (dom_only(r->body, allowed, &e)) {
        api_derr(r, &e);
        return;
    }
    char *err = NULL;
    if (rules_reload(r->app, "an admin asked", &err)) {
        json_t *o = rules_status(r->app);
        json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", "rules_invalid",
                                                  "message", err));
        free(err);
        api_reply(r, 422, o);
        return;
    }
    api_reply(r, 200, rules_status(r->app));
}

void api_rules_preview(struct api_req *r)
{
    static const char *const allowed[] = {"file", "source", NULL};
    struct derr e;
    const char *file = NULL, *source = NULL;
    if (dom_only(r->body, allowed, &e) || dom_string(r->body, "file", 1, 1, 100, &file, &e) < 0 ||
        dom_string(r->body, "source", 1, 0, 256 * 1024, &source, &e) < 0) {
        api_derr(r, &e);
        return;
    }
    if (strchr(file, '/') || file[0] == '.') {
        api_error(r, 422, "invalid", "file", "'file' is a file name in the rules folder");
        return;
    }
    json_t *out = NULL;
    char *err = NULL;
    if (rules_preview(r->app, file, source, &out, &err)) {
        api_error(r, 422, "rules_invalid", "source", "%s", err);
        free(err);
        return;
    }
    api_reply(r, 200, out);
}
