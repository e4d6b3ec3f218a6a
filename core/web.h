/* web: the pages people use. Cookie sessions, CSRF tokens, forms, language, static files and the
 * login; page modules (page_*.c) build a jansson tree of what a page shows and hand it to
 * page_render, which adds who is logged in, the navigation their roles allow, the CSRF token and
 * the language, and renders it through the view (Lua templates in web/templates).
 *
 * Pages check the same roles as the API (api.h's access rules). A form that changes something
 * carries the CSRF token in a field named "csrf"; without it or with a wrong one the answer is
 * 403 and nothing changes. Loop thread only.
 */
#ifndef EVNE_WEB_H
#define EVNE_WEB_H

#include <jansson.h>
#include <stddef.h>

#include "api.h"
#include "router.h"

struct app;
struct http_request;

#define WEB_SESSION_COOKIE "evne_session"
#define WEB_LANG_COOKIE "evne_lang"

/* Routes a request for a page or a static file. */
void web_dispatch(struct app *a, struct http_request *req);

/* A parsed application/x-www-form-urlencoded body (or query). */
struct form;
struct form *form_parse(const char *text, size_t len);   /* owned */
void form_free(struct form *f);
const char *form_get(const struct form *f, const char *key);  /* borrowed; NULL if absent */
size_t form_size(const struct form *f);
const char *form_key(const struct form *f, size_t i);
const char *form_value(const struct form *f, size_t i);

/* Answers with template tmpl rendered from data (consumed), adding user, nav, csrf, lang and
 * path; frees r. */
void page_render(struct api_req *r, int status, const char *tmpl, json_t *data);
/* 303 See Other to a local path; frees r. more_headers: complete header lines, e.g. a cookie. */
void page_redirect(struct api_req *r, const char *location);
void page_redirect_with(struct api_req *r, const char *location, const char *more_headers);
/* An error page: status and a message key from the locales; frees r. */
void page_error(struct api_req *r, int status, const char *message_key);

/* One employee's demanded requirements grouped by system, each system with its totals
 * (demanded, open_gaps, gap_sum, unassessed, coverage) and each requirement with its text,
 * required, actual, gap, unassessed, class, assessed_at and source: what Min side, the
 * self-assessment, a manager's and an adviser's view of an employee show. Owned. */
json_t *page_employee_systems(struct app *a, int64_t employee_id);

/* One entity's series (trend.h) as a line chart of metric ("coverage" or "gap_sum"): {svg,
 * title}, the title from the locales naming name (NULL: the organisation). page_trend.c; owned. */
json_t *page_trend_chart(struct api_req *r, const json_t *series, const char *metric,
                         const char *name);

/* Each page module has its routes: page_me.c (employee) below, and tables from page_team.c
 * (manager), page_adviser.c (systems, requirements, the profile matrix), page_reports.c (gap
 * reports, people search), page_admin.c (users, departments) and page_rules.c (the rules). */
extern const struct route page_team_routes[];
extern const size_t page_team_nroutes;
extern const struct route page_import_routes[];    /* the HR import's upload (admin) */
extern const size_t page_import_nroutes;
extern const struct route page_adviser_routes[];
extern const size_t page_adviser_nroutes;
extern const struct route page_admin_routes[];
extern const size_t page_admin_nroutes;
extern const struct route page_reports_routes[];
extern const size_t page_reports_nroutes;
extern const struct route page_jobs_routes[];
extern const size_t page_jobs_nroutes;
extern const struct route page_rules_routes[];
extern const size_t page_rules_nroutes;
extern const struct route page_audit_routes[];     /* the audit trail (admin) */
extern const size_t page_audit_nroutes;
extern const struct route page_courses_routes[];   /* the adviser's courses, matches, results */
extern const size_t page_courses_nroutes;
extern const struct route page_learning_routes[];  /* my courses, my CV, a manager's approvals */
extern const size_t page_learning_nroutes;

void page_home(struct api_req *r);
void page_me(struct api_req *r);
void page_assessment(struct api_req *r);
void page_assessment_save(struct api_req *r);
void page_password(struct api_req *r);
void page_password_save(struct api_req *r);

#endif
