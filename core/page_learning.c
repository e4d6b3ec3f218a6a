/* The course pages of the people who take the courses (see web.h): my invitations and
 * enrolments with their buttons, the reassessment and the evaluation after a course, my CV, and
 * a manager's approvals. Access mirrors api_course.c; every write goes through course.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "auth.h"
#include "course.h"
#include "domain.h"
#include "gap.h"
#include "http.h"
#include "oslo.h"
#include "router.h"
#include "util.h"
#include "web.h"

#define ANY (ROLE_EMPLOYEE | ROLE_MANAGER | ROLE_ADVISER | ROLE_ADMIN)
#define LEADERS (ROLE_MANAGER | ROLE_ADMIN)

/* "2030-01-10T08:00:00Z" -> "2030-01-10T09:00" in Norwegian time (into out[17]). */
static void wall_of(const char *iso, char out[17])
{
    int64_t t;
    out[0] = '\0';
    if (iso && course_parse_utc(iso, &t) == 0)
        oslo_wall(t, out);
}

static void add_local_times(json_t *o)
{
    char local[17];
    wall_of(json_string_value(json_object_get(o, "starts_at")), local);
    json_object_set_new(o, "starts_local", json_string(local));
    wall_of(json_string_value(json_object_get(o, "ends_at")), local);
    json_object_set_new(o, "ends_local", json_string(local));
}

static int started(const json_t *o)
{
    int64_t t;
    const char *s = json_string_value(json_object_get(o, "starts_at"));
    return s && course_parse_utc(s, &t) == 0 && util_now() >= t;
}

/* The flash key of ?done=<what>, or false. */
static json_t *flash_of(struct api_req *r, const char *const *known)
{
    char *v = http_query_param(r->http, "done");
    json_t *out = json_false();
    for (size_t i = 0; v && known[i]; i++) {
        if (!strcmp(v, known[i])) {
            char key[64];
            snprintf(key, sizeof key, "learning.done.%s", known[i]);
            out = json_string(key);
        }
    }
    free(v);
    return out;
}

static const char *const done_words[] = {"accepted", "declined", "cancelled", "reassessed",
                                         "evaluated", "approved", "rejected", "waitlisted",
                                         "added", NULL};

/* A refused domain write as an error page: the reason in words (a locale key per code). */
static void refused(struct api_req *r, const struct derr *e)
{
    const char *key = "learning.refused.other";
    if (e->status == 404)
        key = "error.not_found";
    else if (e->status == 403)
        key = "error.forbidden";
    else if (!strcmp(e->code, "wrong_state"))
        key = "learning.refused.wrong_state";
    else if (!strcmp(e->code, "too_early"))
        key = "learning.refused.too_early";
    else if (!strcmp(e->code, "session_started"))
        key = "learning.refused.started";
    else if (!strcmp(e->code, "conflict"))
        key = "learning.refused.conflict";
    else if (e->status >= 500)
        key = "error.internal";
    page_error(r, e->status, key);
}

/* Loads enrolment r->id and checks that it is the caller's own: 0, or the error page. */
static int own_enrolment(struct api_req *r, struct course_enrolment *en)
{
    if (course_enrolment_get(r->app, r->id, en)) {
        page_error(r, 404, "error.not_found");
        return -1;
    }
    if (en->employee_id != r->who.employee_id) {
        page_error(r, 403, "error.forbidden");
        return -1;
    }
    return 0;
}

/* --- my courses ------------------------------------------------------------------------------ */

static void page_my_courses(struct api_req *r)
{
    json_t *list = course_enrolments_of_employee(r->app, r->who.employee_id);
    size_t i;
    json_t *en;
    json_array_foreach(list, i, en) {
        add_local_times(en);
        const char *state = json_string_value(json_object_get(en, "state"));
        int before = !started(en) && !json_is_true(json_object_get(en, "session_cancelled"));
        json_t *can = json_array();
        static const enum course_action mine[] = {COURSE_ACCEPT, COURSE_DECLINE, COURSE_CANCEL};
        for (size_t k = 0; k < sizeof mine / sizeof mine[0]; k++)
            if (before && course_action_allowed(mine[k], state))
                json_array_append_new(can, json_string(course_action_name(mine[k])));
        json_object_set_new(en, "actions", can);
        json_object_set_new(en, "after", json_boolean(!strcmp(state, "attended")));
    }
    page_render(r, 200, "learning_courses.html",
                json_pack("{s:s, s:o, s:o}", "title", "learning.courses_title", "enrolments",
                          list, "flash", flash_of(r, done_words)));
}

static void my_act(struct api_req *r, enum course_action act, const char *done)
{
    struct course_enrolment en;
    if (own_enrolment(r, &en))
        return;
    struct derr e;
    json_t *body = json_object();
    int rc = course_act(r->app, r->id, act, r->who.employee_id, body, &e);
    json_decref(body);
    if (rc) {
        refused(r, &e);
        return;
    }
    char to[64];
    snprintf(to, sizeof to, "/me/courses?done=%s", done);
    page_redirect(r, to);
}

static void page_my_accept(struct api_req *r) { my_act(r, COURSE_ACCEPT, "accepted"); }
static void page_my_decline(struct api_req *r) { my_act(r, COURSE_DECLINE, "declined"); }
static void page_my_cancel(struct api_req *r) { my_act(r, COURSE_CANCEL, "cancelled"); }

/* --- the reassessment ------------------------------------------------------------------------ */

/* Own and attended: 0 and the enrolment as JSON in *out (owned), else the error page. */
static int attended_enrolment(struct api_req *r, struct course_enrolment *en, json_t **out)
{
    if (own_enrolment(r, en))
        return -1;
    if (strcmp(en->state, "attended")) {
        page_error(r, 409, "learning.refused.not_attended");
        return -1;
    }
    *out = course_enrolment_json(r->app, r->id);
    if (!*out) {
        page_error(r, 404, "error.not_found");
        return -1;
    }
    add_local_times(*out);
    return 0;
}

static void reassessment_form(struct api_req *r, int status, json_t *errors)
{
    struct course_enrolment en;
    json_t *enrolment;
    if (attended_enrolment(r, &en, &enrolment)) {
        json_decref(errors);
        return;
    }
    json_t *course = course_json(r->app, en.course_id);
    json_t *reqs = course ? json_incref(json_object_get(course, "requirements")) : json_array();
    json_decref(course);
    struct gap_cell *cells = NULL;
    size_t n = 0;
    if (gap_employee(r->app->gap, en.employee_id, &cells, &n, NULL))
        cells = NULL, n = 0;
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i, q) {
        int64_t rid = json_integer_value(json_object_get(q, "requirement_id"));
        char field[32];
        snprintf(field, sizeof field, "r%lld", (long long)rid);
        json_object_set_new(q, "field", json_string(field));
        const char *err = errors ? json_string_value(json_object_get(errors, field)) : NULL;
        json_object_set_new(q, "error", err ? json_string(err) : json_false());
        const char *t = r->form ? form_get(r->form, field) : NULL;
        json_t *chosen = json_false(), *current = json_false();
        for (size_t k = 0; k < n; k++)
            if (cells[k].requirement_id == rid && !cells[k].unassessed)
                current = json_integer(cells[k].actual);
        if (t && strlen(t) == 1 && t[0] >= '0' && t[0] <= '4')
            chosen = json_integer(t[0] - '0');
        else if (!t && json_is_integer(current))
            chosen = json_integer(json_integer_value(current));
        json_object_set_new(q, "chosen", chosen);
        json_object_set_new(q, "current", current);
    }
    free(cells);
    const char *general = errors ? json_string_value(json_object_get(errors, "")) : NULL;
    page_render(r, status, "learning_reassessment.html",
                json_pack("{s:s, s:o, s:o, s:b, s:o}", "title", "learning.reassess_title",
                          "enrolment", enrolment, "requirements", reqs, "has_errors",
                          errors && json_object_size(errors) > 0, "general",
                          general ? json_string(general) : json_false()));
    json_decref(errors);
}

static void page_reassessment(struct api_req *r) { reassessment_form(r, 200, NULL); }

static void page_reassessment_save(struct api_req *r)
{
    struct course_enrolment en;
    if (own_enrolment(r, &en))
        return;
    if (strcmp(en.state, "attended")) {
        page_error(r, 409, "learning.refused.not_attended");
        return;
    }
    json_t *course = course_json(r->app, en.course_id);
    json_t *errors = json_object(), *levels = json_object();
    size_t i;
    json_t *q;
    json_array_foreach(course ? json_object_get(course, "requirements") : NULL, i, q) {
        int64_t rid = json_integer_value(json_object_get(q, "requirement_id"));
        char field[32], key[32];
        snprintf(field, sizeof field, "r%lld", (long long)rid);
        snprintf(key, sizeof key, "%lld", (long long)rid);
        const char *v = form_get(r->form, field);
        if (!v || !*v)
            continue;
        if (strlen(v) != 1 || v[0] < '0' || v[0] > '4')
            json_object_set_new(errors, field, json_string("learning.bad_level"));
        else
            json_object_set_new(levels, key, json_integer(v[0] - '0'));
    }
    json_decref(course);
    if (!json_object_size(errors) && !json_object_size(levels))
        json_object_set_new(errors, "", json_string("learning.nothing_chosen"));
    if (json_object_size(errors)) {
        json_decref(levels);
        reassessment_form(r, 422, errors);
        return;
    }
    json_decref(errors);
    json_t *body = json_pack("{s:o}", "levels", levels), *created = NULL;
    struct derr e;
    int rc = course_reassess(r->app, r->id, r->who.employee_id, body, &created, &e);
    json_decref(body);
    json_decref(created);
    if (rc) {
        if (e.status == 422) {
            json_t *err = json_object();
            const char *f = !strncmp(e.field, "levels.", 7) ? e.field + 7 : NULL;
            char field[128];
            snprintf(field, sizeof field, "r%.40s", f ? f : "");
            json_object_set_new(err, f ? field : "", json_string("learning.bad_level"));
            reassessment_form(r, 422, err);
            return;
        }
        refused(r, &e);
        return;
    }
    page_redirect(r, "/me/courses?done=reassessed");
}

/* --- the evaluation -------------------------------------------------------------------------- */

static void evaluation_form(struct api_req *r, int status, json_t *errors)
{
    struct course_enrolment en;
    json_t *enrolment;
    if (attended_enrolment(r, &en, &enrolment)) {
        json_decref(errors);
        return;
    }
    json_t *questions = course_questions(r->app, en.course_id);
    size_t i;
    json_t *q;
    json_array_foreach(questions, i, q) {
        char field[32];
        snprintf(field, sizeof field, "q%lld",
                 (long long)json_integer_value(json_object_get(q, "id")));
        json_object_set_new(q, "field", json_string(field));
        const char *err = errors ? json_string_value(json_object_get(errors, field)) : NULL;
        json_object_set_new(q, "error", err ? json_string(err) : json_false());
        const char *t = r->form ? form_get(r->form, field) : NULL;
        json_object_set_new(q, "typed", json_string(t ? t : ""));
    }
    const char *free_err = errors ? json_string_value(json_object_get(errors, "text")) : NULL;
    const char *free_typed = r->form ? form_get(r->form, "text") : NULL;
    page_render(r, status, "learning_evaluation.html",
                json_pack("{s:s, s:o, s:o, s:b, s:b, s:o, s:s}", "title",
                          "learning.evaluate_title", "enrolment", enrolment, "questions",
                          questions, "has_errors", errors && json_object_size(errors) > 0,
                          "done", json_is_true(json_object_get(enrolment, "evaluated")),
                          "free_error", free_err ? json_string(free_err) : json_false(),
                          "free_typed", free_typed ? free_typed : ""));
    json_decref(errors);
}

static void page_evaluation(struct api_req *r) { evaluation_form(r, 200, NULL); }

static int blank(const char *s) { return !s || strspn(s, " \t\r\n") == strlen(s); }

static void page_evaluation_save(struct api_req *r)
{
    struct course_enrolment en;
    if (own_enrolment(r, &en))
        return;
    if (strcmp(en.state, "attended")) {
        page_error(r, 409, "learning.refused.not_attended");
        return;
    }
    json_t *questions = course_questions(r->app, en.course_id);
    json_t *errors = json_object(), *answers = json_array();
    if (json_array_size(questions) == 0) {
        const char *t = form_get(r->form, "text");
        if (blank(t))
            json_object_set_new(errors, "text", json_string("learning.text_missing"));
        else
            json_array_append_new(answers, json_pack("{s:s}", "text", t));
    }
    size_t i;
    json_t *q;
    json_array_foreach(questions, i, q) {
        json_int_t qid = json_integer_value(json_object_get(q, "id"));
        char field[32];
        snprintf(field, sizeof field, "q%lld", (long long)qid);
        const char *v = form_get(r->form, field);
        if (!strcmp(json_string_value(json_object_get(q, "kind")), "scale")) {
            if (!v || strlen(v) != 1 || v[0] < '1' || v[0] > '5')
                json_object_set_new(errors, field, json_string("learning.bad_score"));
            else
                json_array_append_new(answers, json_pack("{s:I, s:i}", "question_id", qid,
                                                         "score", v[0] - '0'));
        } else if (!blank(v)) {
            json_array_append_new(answers, json_pack("{s:I, s:s}", "question_id", qid, "text", v));
        }
    }
    json_decref(questions);
    if (!json_object_size(errors) && !json_array_size(answers))
        json_object_set_new(errors, "text", json_string("learning.text_missing"));
    if (json_object_size(errors)) {
        json_decref(answers);
        evaluation_form(r, 422, errors);
        return;
    }
    json_decref(errors);
    json_t *body = json_pack("{s:o}", "answers", answers), *stored = NULL;
    struct derr e;
    int rc = course_evaluate(r->app, r->id, body, &stored, &e);
    json_decref(body);
    json_decref(stored);
    if (rc) {
        if (e.status == 422) {
            evaluation_form(r, 422, json_pack("{s:s}", "text", "learning.text_too_long"));
            return;
        }
        refused(r, &e);
        return;
    }
    page_redirect(r, "/me/courses?done=evaluated");
}

/* --- my CV ----------------------------------------------------------------------------------- */

static void cv_page(struct api_req *r, int status, json_t *errors)
{
    json_t *entries = course_cv(r->app, r->who.employee_id);
    json_t *typed = json_object();
    static const char *const fields[] = {"title", "happened_on", "hours", "detail", NULL};
    for (size_t i = 0; fields[i]; i++) {
        const char *v = r->form ? form_get(r->form, fields[i]) : NULL;
        json_object_set_new(typed, fields[i], json_string(v ? v : ""));
    }
    page_render(r, status, "learning_cv.html",
                json_pack("{s:s, s:o, s:o, s:o, s:b, s:o}", "title", "learning.cv_title",
                          "entries", entries, "typed", typed, "errors",
                          errors ? json_incref(errors) : json_object(), "has_errors",
                          errors && json_object_size(errors) > 0, "flash",
                          flash_of(r, done_words)));
    json_decref(errors);
}

static void page_cv(struct api_req *r) { cv_page(r, 200, NULL); }

static void page_cv_add(struct api_req *r)
{
    const char *title = form_get(r->form, "title"), *day = form_get(r->form, "happened_on"),
               *hours = form_get(r->form, "hours"), *detail = form_get(r->form, "detail");
    json_t *errors = json_object();
    json_t *body = json_pack("{s:s, s:s, s:s}", "title", title ? title : "", "happened_on",
                             day ? day : "", "detail", detail ? detail : "");
    if (!blank(hours)) {
        char buf[32], *end;
        snprintf(buf, sizeof buf, "%s", hours);
        for (char *p = buf; *p; p++)
            if (*p == ',')
                *p = '.';
        double h = strtod(buf, &end);
        while (*end == ' ')
            end++;
        if (end == buf || *end || strlen(hours) >= sizeof buf || h < 0 || h > 100000)
            json_object_set_new(errors, "hours", json_string("learning.bad_hours"));
        else
            json_object_set_new(body, "hours", json_real(h));
    }
    if (blank(title))
        json_object_set_new(errors, "title", json_string("learning.title_missing"));
    if (!day || course_parse_date(day))
        json_object_set_new(errors, "happened_on", json_string("learning.bad_date"));
    if (json_object_size(errors)) {
        json_decref(body);
        cv_page(r, 422, errors);
        return;
    }
    struct derr e;
    int64_t id = 0;
    int rc = course_cv_add(r->app, r->who.employee_id, body, &id, &e);
    json_decref(body);
    if (rc) {
        if (e.status == 422 && e.field[0]) {
            const char *f = !strcmp(e.field, "hours") || !strcmp(e.field, "happened_on") ||
                                    !strcmp(e.field, "detail")
                                ? e.field : "title";
            json_object_set_new(errors, f, json_string("learning.bad_entry"));
            cv_page(r, 422, errors);
            return;
        }
        json_decref(errors);
        refused(r, &e);
        return;
    }
    json_decref(errors);
    page_redirect(r, "/me/cv?done=added");
}

/* --- a manager's approvals -------------------------------------------------------------------- */

/* May the caller approve or reject this enrolment (as api_course.c's may_act)? */
static int may_approve(struct api_req *r, const struct course_enrolment *en)
{
    int self = en->employee_id == r->who.employee_id;
    return api_is(r, ROLE_ADMIN) || (!self && api_manages_employee(r, en->employee_id));
}

static void page_approvals(struct api_req *r)
{
    json_t *accepted = course_approvals(r->app, r->who.managed, r->who.nmanaged,
                                        r->who.employee_id);
    /* the invitations not yet answered, in sessions still to come, that I may approve directly */
    json_t *invited = json_array();
    if (r->who.nmanaged) {
        json_t *courses = course_list(r->app);
        size_t i, k, m;
        json_t *c, *s, *en;
        json_array_foreach(courses, i, c) {
            json_t *sessions = course_session_list(
                r->app, json_integer_value(json_object_get(c, "id")));
            json_array_foreach(sessions, k, s) {
                if (started(s) || json_is_true(json_object_get(s, "cancelled")))
                    continue;
                json_t *list = course_enrolments_of_session(
                    r->app, json_integer_value(json_object_get(s, "id")), r->who.managed,
                    r->who.nmanaged);
                json_array_foreach(list, m, en) {
                    int64_t emp = json_integer_value(json_object_get(en, "employee_id"));
                    if (!strcmp(json_string_value(json_object_get(en, "state")), "invited") &&
                        emp != r->who.employee_id && api_manages_employee(r, emp))
                        json_array_append(invited, en);
                }
                json_decref(list);
            }
            json_decref(sessions);
        }
        json_decref(courses);
    }
    size_t i;
    json_t *en;
    json_array_foreach(accepted, i, en) add_local_times(en);
    json_array_foreach(invited, i, en) add_local_times(en);
    page_render(r, 200, "learning_approvals.html",
                json_pack("{s:s, s:o, s:o, s:o}", "title", "learning.approvals_title",
                          "accepted", accepted, "invited", invited, "flash",
                          flash_of(r, done_words)));
}

static void approval_act(struct api_req *r, enum course_action act)
{
    struct course_enrolment en;
    if (course_enrolment_get(r->app, r->id, &en)) {
        page_error(r, 404, "error.not_found");
        return;
    }
    if (!may_approve(r, &en)) {
        page_error(r, 403, "error.forbidden");
        return;
    }
    struct derr e;
    json_t *body = json_object();
    int rc = course_act(r->app, r->id, act, r->who.employee_id, body, &e);
    json_decref(body);
    if (rc) {
        refused(r, &e);
        return;
    }
    course_enrolment_get(r->app, r->id, &en);
    char to[64];
    snprintf(to, sizeof to, "/team/approvals?done=%s", en.state);
    page_redirect(r, to);
}

static void page_approve(struct api_req *r) { approval_act(r, COURSE_APPROVE); }
static void page_reject(struct api_req *r) { approval_act(r, COURSE_REJECT); }

const struct route page_learning_routes[] = {
    {"GET", "/me/courses", page_my_courses, ANY},
    {"POST", "/me/courses/{id}/accept", page_my_accept, ANY},
    {"POST", "/me/courses/{id}/decline", page_my_decline, ANY},
    {"POST", "/me/courses/{id}/cancel", page_my_cancel, ANY},
    {"GET", "/me/courses/{id}/reassessment", page_reassessment, ANY},
    {"POST", "/me/courses/{id}/reassessment", page_reassessment_save, ANY},
    {"GET", "/me/courses/{id}/evaluation", page_evaluation, ANY},
    {"POST", "/me/courses/{id}/evaluation", page_evaluation_save, ANY},
    {"GET", "/me/cv", page_cv, ANY},
    {"POST", "/me/cv", page_cv_add, ANY},
    {"GET", "/team/approvals", page_approvals, LEADERS},
    {"POST", "/team/approvals/{id}/approve", page_approve, LEADERS},
    {"POST", "/team/approvals/{id}/reject", page_reject, LEADERS},
};
const size_t page_learning_nroutes = sizeof page_learning_routes / sizeof page_learning_routes[0];
