/* api: the JSON API under /api/v1 (and /healthz): one request's context, how handlers answer,
 * and the access rules they share. The route table is in api.c; handlers live in api_org.c,
 * api_catalog.c and api_assess.c.
 *
 * A handler gets a struct api_req whose caller is authenticated (unless the route is public)
 * and whose body, for POST/PUT/PATCH, is a parsed JSON object. It answers exactly once, with
 * api_reply or api_error (which free the api_req), at once or after deferred work.
 * Loop thread only.
 */
#ifndef EVNE_API_H
#define EVNE_API_H

#include <jansson.h>
#include <stdint.h>

#include "auth.h"
#include "util.h"

struct app;
struct derr;
struct form;
struct http_request;

struct api_req {
    struct app *app;
    struct http_request *http;
    struct principal who;        /* employee_id 0 on a public route */
    int64_t id, id2;             /* the path's {id}s */
    json_t *body;                /* owned; NULL unless POST/PUT/PATCH */
    char token[AUTH_TOKEN_HEX + 1];
    void *work;                  /* free for deferred handlers */
    /* pages only (web.h): */
    struct form *form;           /* owned; the parsed form of a POST */
    const char *lang;            /* "nb" or "en" */
    char csrf[33];               /* the session's CSRF token */
    int set_lang;                /* the language came from ?lang=: remember it in a cookie */
    int lang_chosen;             /* by ?lang= or the cookie (not guessed from the browser) */
};

/* Frees a request context without answering (the answer went out another way). */
void api_req_free(struct api_req *r);

/* Routes one request (the part of app_handle_request under /api and /healthz). */
void api_dispatch(struct app *a, struct http_request *req);

/* Answers with json (consumed; NULL for no body) and frees r. */
void api_reply(struct api_req *r, int status, json_t *json);
/* Answers with a JSON text already made (borrowed) and frees r. */
void api_reply_text(struct api_req *r, int status, const char *json, size_t len);
/* Answers {"error":{"code","message","field"?}} and frees r. field may be NULL. */
void api_error(struct api_req *r, int status, const char *code, const char *field,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void api_derr(struct api_req *r, const struct derr *e);
/* 403 with a message saying what the caller may not do. */
void api_forbidden(struct api_req *r, const char *what);

/* Access rules (DESIGN.md): */
int api_is(const struct api_req *r, unsigned roles);                 /* holds any of roles */
int api_manages_department(const struct api_req *r, int64_t dept);  /* within a managed subtree */
int api_sees_employee(const struct api_req *r, int64_t employee_id);
int api_manages_employee(const struct api_req *r, int64_t employee_id);


/* Handlers (one per route). */
void api_session_create(struct api_req *r);
void api_session_delete(struct api_req *r);
void api_me(struct api_req *r);
void api_departments_list(struct api_req *r);
void api_departments_create(struct api_req *r);
void api_department_get(struct api_req *r);
void api_department_patch(struct api_req *r);
void api_department_delete(struct api_req *r);
void api_employees_list(struct api_req *r);
void api_employees_create(struct api_req *r);
void api_employee_get(struct api_req *r);
void api_employee_patch(struct api_req *r);
void api_systems_list(struct api_req *r);
void api_systems_create(struct api_req *r);
void api_system_get(struct api_req *r);
void api_system_patch(struct api_req *r);
void api_system_delete(struct api_req *r);
void api_requirements_list(struct api_req *r);
void api_requirements_create(struct api_req *r);
void api_requirement_get(struct api_req *r);
void api_requirement_patch(struct api_req *r);
void api_requirement_delete(struct api_req *r);
void api_profiles_list(struct api_req *r);
void api_profiles_create(struct api_req *r);
void api_profile_get(struct api_req *r);
void api_profile_patch(struct api_req *r);
void api_profile_delete(struct api_req *r);
void api_assignments_get(struct api_req *r);
void api_assignments_put(struct api_req *r);
void api_assessments_list(struct api_req *r);
void api_assessments_create(struct api_req *r);
void api_questions(struct api_req *r);
void api_employee_gaps(struct api_req *r);
void api_gaps(struct api_req *r);
void api_rules_status(struct api_req *r);
void api_rules_reload(struct api_req *r);
void api_rules_preview(struct api_req *r);
void api_outbox_list(struct api_req *r);
void api_audit_list(struct api_req *r);
void api_import(struct api_req *r);
void api_export(struct api_req *r);
void api_jobs_list(struct api_req *r);
void api_job_run(struct api_req *r);
void api_job_run_get(struct api_req *r);
void api_clock_set(struct api_req *r);

void api_courses_list(struct api_req *r);
void api_courses_create(struct api_req *r);
void api_course_get(struct api_req *r);
void api_course_patch(struct api_req *r);
void api_course_delete(struct api_req *r);
void api_course_sessions_list(struct api_req *r);
void api_course_sessions_create(struct api_req *r);
void api_course_session_get(struct api_req *r);
void api_course_session_patch(struct api_req *r);
void api_course_matches(struct api_req *r);
void api_course_questions(struct api_req *r);
void api_course_questions_create(struct api_req *r);
void api_question_patch(struct api_req *r);
void api_course_evaluations(struct api_req *r);
void api_course_effect(struct api_req *r);
void api_session_invitations(struct api_req *r);
void api_session_enrolments(struct api_req *r);
void api_enrolment_get(struct api_req *r);
void api_enrolment_accept(struct api_req *r);
void api_enrolment_decline(struct api_req *r);
void api_enrolment_approve(struct api_req *r);
void api_enrolment_reject(struct api_req *r);
void api_enrolment_cancel(struct api_req *r);
void api_enrolment_attend(struct api_req *r);
void api_enrolment_absent(struct api_req *r);
void api_enrolment_reassess(struct api_req *r);
void api_enrolment_evaluate(struct api_req *r);
void api_employee_enrolments(struct api_req *r);
void api_employee_approvals(struct api_req *r);
void api_employee_cv(struct api_req *r);
void api_employee_cv_add(struct api_req *r);

void api_snapshots_create(struct api_req *r);   /* api_trend.c */
void api_trend(struct api_req *r);

/* Reports (api_report.c). */
struct report_params;
void api_reports_list(struct api_req *r);
void api_report_get(struct api_req *r);
/* Reads report `name`'s query parameters (format, period, lang and the report's own) and checks
 * that the caller may see that report. 0 and *p, *format ("html", "csv" or "json"; borrowed);
 * or -1 and e: 404 for an unknown report, 422 naming a bad or unknown parameter, 403. p may
 * borrow the caller's managed departments from r. The report pages use it too. */
int api_report_request(struct api_req *r, const char *name, struct report_params *p,
                       const char **format, struct derr *e);
#endif
