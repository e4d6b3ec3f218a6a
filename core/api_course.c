/* Handlers for courses, sessions, matches, invitations, enrolments and their transitions, the
 * evaluation, the course's effect and the CV. Who may do what is decided here (course.h has the
 * state machine and says who does each step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "auth.h"
#include "course.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "http.h"

#define ADVISER (ROLE_ADVISER | ROLE_ADMIN)

static void reply_or_404(struct api_req *r, int status, json_t *o, const char *what, int64_t id)
{
    if (!o)
        api_error(r, 404, "not_found", NULL, "there is no %s %lld", what, (long long)id);
    else
        api_reply(r, status, o);
}

static void items(struct api_req *r, json_t *list)
{
    api_reply(r, 200, json_pack("{s:o}", "items", list));
}

/* 404 for an unknown employee, 403 for one the caller may not see; 0 when r may go on. */
static int check_sees(struct api_req *r, const char *what)
{
    if (gap_employee_department(r->app->gap, r->id) < 0) {
        api_error(r, 404, "not_found", NULL, "there is no employee %lld", (long long)r->id);
        return -1;
    }
    if (!api_sees_employee(r, r->id)) {
        api_forbidden(r, what);
        return -1;
    }
    return 0;
}

/* --- courses ----------------------------------------------------------------------------- */

void api_courses_list(struct api_req *r) { items(r, course_list(r->app)); }

void api_courses_create(struct api_req *r)
{
    struct derr e;
    int64_t id = 0;
    if (course_create(r->app, r->body, &id, &e))
        api_derr(r, &e);
    else
        reply_or_404(r, 201, course_json(r->app, id), "course", id);
}

void api_course_get(struct api_req *r)
{
    reply_or_404(r, 200, course_json(r->app, r->id), "course", r->id);
}

void api_course_patch(struct api_req *r)
{
    struct derr e;
    if (course_update(r->app, r->id, r->body, &e))
        api_derr(r, &e);
    else
        reply_or_404(r, 200, course_json(r->app, r->id), "course", r->id);
}

void api_course_delete(struct api_req *r)
{
    struct derr e;
    if (course_delete(r->app, r->id, &e))
        api_derr(r, &e);
    else
        api_reply(r, 204, NULL);
}

/* --- sessions ------------------------------------------------------------------------------ */

static int course_exists(struct api_req *r)
{
    if (dom_exists(r->app->db, "SELECT 1 FROM course WHERE id = ?", r->id))
        return 1;
    api_error(r, 404, "not_found", NULL, "there is no course %lld", (long long)r->id);
    return 0;
}

void api_course_sessions_list(struct api_req *r)
{
    if (course_exists(r))
        items(r, course_session_list(r->app, r->id));
}

void api_course_sessions_create(struct api_req *r)
{
    struct derr e;
    int64_t id = 0;
    if (course_session_create(r->app, r->id, r->body, &id, &e))
        api_derr(r, &e);
    else
        reply_or_404(r, 201, course_session_json(r->app, id), "session", id);
}

void api_course_session_get(struct api_req *r)
{
    reply_or_404(r, 200, course_session_json(r->app, r->id), "session", r->id);
}

void api_course_session_patch(struct api_req *r)
{
    struct derr e;
    if (course_session_update(r->app, r->id, r->who.employee_id, r->body, &e))
        api_derr(r, &e);
    else
        reply_or_404(r, 200, course_session_json(r->app, r->id), "session", r->id);
}

/* --- matches and invitations ---------------------------------------------------------------- */

/* body: {department_id?, session_id?}. Advisers and admins see everyone (or one department's
 * subtree); a manager sees the subtrees they manage. */
void api_course_matches(struct api_req *r)
{
    static const char *const allowed[] = {"department_id", "session_id", NULL};
    struct derr e;
    int64_t dept = 0, session_id = 0;
    if (dom_only(r->body, allowed, &e) || dom_id(r->body, "department_id", 0, 1, &dept, &e) < 0 ||
        dom_id(r->body, "session_id", 0, 1, &session_id, &e) < 0) {
        api_derr(r, &e);
        return;
    }
    if (dept && !dom_exists(r->app->db, "SELECT 1 FROM department WHERE id = ?", dept)) {
        api_error(r, 422, "invalid", "department_id", "there is no department %lld",
                  (long long)dept);
        return;
    }
    const int64_t *deps = NULL;
    size_t ndeps = 0;
    if (dept) {
        deps = &dept;
        ndeps = 1;
    }
    if (!api_is(r, ADVISER)) {
        if (dept && !api_manages_department(r, dept)) {
            api_forbidden(r, "see matches in a department you do not manage");
            return;
        }
        if (!dept) {
            deps = r->who.managed;
            ndeps = r->who.nmanaged;
        }
        if (!ndeps) {
            api_forbidden(r, "see matches (advisers, admins and managers do)");
            return;
        }
    }
    struct buf out = {0};
    if (course_matches(r->app, r->id, deps, ndeps, session_id, &out, &e))
        api_derr(r, &e);
    else
        api_reply_text(r, 200, out.data, out.len);
    buf_free(&out);
}

void api_session_invitations(struct api_req *r)
{
    struct derr e;
    json_t *created = NULL;
    if (course_invite(r->app, r->id, r->who.employee_id, r->body, &created, &e))
        api_derr(r, &e);
    else
        api_reply(r, 201, json_pack("{s:o}", "items", created));
}

/* --- enrolments ------------------------------------------------------------------------------ */

static int may_act(const struct api_req *r, const struct course_enrolment *en,
                   enum course_action act)
{
    int self = en->employee_id == r->who.employee_id;
    switch (act) {
    case COURSE_ACCEPT:
    case COURSE_DECLINE:
        return self;
    case COURSE_APPROVE:
    case COURSE_REJECT:
        /* a manager does not approve their own place: the one above them (or an admin) does */
        return api_is(r, ROLE_ADMIN) || (!self && api_manages_employee(r, en->employee_id));
    case COURSE_CANCEL:
        return self || api_is(r, ADVISER) || api_manages_employee(r, en->employee_id);
    case COURSE_ATTEND:
    case COURSE_ABSENT:
        return api_is(r, ADVISER);
    case COURSE_NACTIONS:
        break;
    }
    return 0;
}

static const char *who_may(enum course_action act)
{
    switch (act) {
    case COURSE_ACCEPT:
    case COURSE_DECLINE:
        return "the employee invited";
    case COURSE_APPROVE:
    case COURSE_REJECT:
        return "the employee's manager or an admin";
    case COURSE_CANCEL:
        return "the employee, their manager, an adviser or an admin";
    default:
        return "an adviser or an admin";
    }
}

/* The enrolment with the actions the caller may take now (by role and state). */
static json_t *enrolment_for(struct api_req *r, const struct course_enrolment *en)
{
    json_t *o = course_enrolment_json(r->app, en->id);
    if (!o)
        return NULL;
    json_t *can = json_array();
    for (int a = 0; a < COURSE_NACTIONS; a++)
        if (course_action_allowed((enum course_action)a, en->state) &&
            may_act(r, en, (enum course_action)a))
            json_array_append_new(can, json_string(course_action_name((enum course_action)a)));
    json_object_set_new(o, "actions", can);
    return o;
}

static int load_enrolment(struct api_req *r, struct course_enrolment *en)
{
    if (course_enrolment_get(r->app, r->id, en) == 0)
        return 0;
    api_error(r, 404, "not_found", NULL, "there is no enrolment %lld", (long long)r->id);
    return -1;
}

void api_enrolment_get(struct api_req *r)
{
    struct course_enrolment en;
    if (load_enrolment(r, &en))
        return;
    if (!api_sees_employee(r, en.employee_id)) {
        api_forbidden(r, "see this enrolment");
        return;
    }
    reply_or_404(r, 200, enrolment_for(r, &en), "enrolment", r->id);
}

static void act(struct api_req *r, enum course_action action)
{
    struct course_enrolment en;
    if (load_enrolment(r, &en))
        return;
    if (!may_act(r, &en, action)) {
        api_error(r, 403, "forbidden", NULL, "you may not %s enrolment %lld; %s does",
                  course_action_name(action), (long long)r->id, who_may(action));
        return;
    }
    struct derr e;
    if (course_act(r->app, r->id, action, r->who.employee_id, r->body, &e)) {
        api_derr(r, &e);
        return;
    }
    course_enrolment_get(r->app, r->id, &en);
    reply_or_404(r, 200, enrolment_for(r, &en), "enrolment", r->id);
}

void api_enrolment_accept(struct api_req *r) { act(r, COURSE_ACCEPT); }
void api_enrolment_decline(struct api_req *r) { act(r, COURSE_DECLINE); }
void api_enrolment_approve(struct api_req *r) { act(r, COURSE_APPROVE); }
void api_enrolment_reject(struct api_req *r) { act(r, COURSE_REJECT); }
void api_enrolment_cancel(struct api_req *r) { act(r, COURSE_CANCEL); }
void api_enrolment_attend(struct api_req *r) { act(r, COURSE_ATTEND); }
void api_enrolment_absent(struct api_req *r) { act(r, COURSE_ABSENT); }

void api_session_enrolments(struct api_req *r)
{
    if (!dom_exists(r->app->db, "SELECT 1 FROM session WHERE id = ?", r->id)) {
        api_error(r, 404, "not_found", NULL, "there is no session %lld", (long long)r->id);
        return;
    }
    if (api_is(r, ADVISER))
        items(r, course_enrolments_of_session(r->app, r->id, NULL, 0));
    else if (!r->who.nmanaged)   /* no departments would read as "everyone" below */
        api_forbidden(r, "see a session's enrolments (advisers, and managers for their people)");
    else
        items(r, course_enrolments_of_session(r->app, r->id, r->who.managed, r->who.nmanaged));
}

void api_employee_enrolments(struct api_req *r)
{
    if (check_sees(r, "see this employee's enrolments") == 0)
        items(r, course_enrolments_of_employee(r->app, r->id));
}

/* What waits for manager {id}'s approval; for them and for admins. */
void api_employee_approvals(struct api_req *r)
{
    if (gap_employee_department(r->app->gap, r->id) < 0) {
        api_error(r, 404, "not_found", NULL, "there is no employee %lld", (long long)r->id);
        return;
    }
    if (r->id != r->who.employee_id && !api_is(r, ROLE_ADMIN)) {
        api_forbidden(r, "see another manager's approvals");
        return;
    }
    if (r->id == r->who.employee_id) {
        items(r, course_approvals(r->app, r->who.managed, r->who.nmanaged, r->id));
        return;
    }
    struct principal p;
    if (auth_principal_load(r->app->db, r->id, &p)) {
        items(r, json_array());   /* archived: manages nothing */
        return;
    }
    json_t *list = course_approvals(r->app, p.managed, p.nmanaged, r->id);
    auth_principal_free(&p);
    items(r, list);
}

/* --- after the course ------------------------------------------------------------------------ */

static int only_the_employee(struct api_req *r, struct course_enrolment *en, const char *what)
{
    if (load_enrolment(r, en))
        return -1;
    if (en->employee_id != r->who.employee_id) {
        api_error(r, 403, "forbidden", NULL, "you may not %s enrolment %lld; the employee who "
                  "attended does", what, (long long)r->id);
        return -1;
    }
    return 0;
}

void api_enrolment_reassess(struct api_req *r)
{
    struct course_enrolment en;
    if (only_the_employee(r, &en, "reassess after"))
        return;
    struct derr e;
    json_t *created = NULL;
    if (course_reassess(r->app, r->id, r->who.employee_id, r->body, &created, &e))
        api_derr(r, &e);
    else
        api_reply(r, 201, json_pack("{s:o}", "items", created));
}

void api_enrolment_evaluate(struct api_req *r)
{
    struct course_enrolment en;
    if (only_the_employee(r, &en, "evaluate the course of"))
        return;
    struct derr e;
    json_t *answers = NULL;
    if (course_evaluate(r->app, r->id, r->body, &answers, &e))
        api_derr(r, &e);
    else
        api_reply(r, 201, json_pack("{s:I, s:o}", "enrolment_id", (json_int_t)r->id, "items",
                                    answers));
}

void api_course_questions(struct api_req *r)
{
    if (course_exists(r))
        items(r, course_questions(r->app, r->id));
}

void api_course_questions_create(struct api_req *r)
{
    struct derr e;
    int64_t id = 0;
    if (course_question_create(r->app, r->id, r->body, &id, &e))
        api_derr(r, &e);
    else
        reply_or_404(r, 201, course_question_json(r->app, id), "evaluation question", id);
}

void api_question_patch(struct api_req *r)
{
    struct derr e;
    if (course_question_update(r->app, r->id, r->body, &e))
        api_derr(r, &e);
    else
        reply_or_404(r, 200, course_question_json(r->app, r->id), "evaluation question", r->id);
}

/* ?session_id= narrows the results to one session of the course. */
void api_course_evaluations(struct api_req *r)
{
    int64_t session_id = 0;
    char *v = http_query_param(r->http, "session_id");
    if (v) {
        int bad = util_parse_i64(v, &session_id) || session_id <= 0;
        free(v);
        if (bad) {
            api_error(r, 422, "invalid", "session_id", "'session_id' must be a session id");
            return;
        }
        sqlite3_stmt *st = db_stmt(r->app->db, "SELECT 1 FROM session WHERE id = ? AND "
                                               "course_id = ?");
        sqlite3_bind_int64(st, 1, session_id);
        sqlite3_bind_int64(st, 2, r->id);
        int ok = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (!ok && course_exists(r)) {
            api_error(r, 422, "invalid", "session_id", "course %lld has no session %lld",
                      (long long)r->id, (long long)session_id);
            return;
        }
        if (!ok)
            return;
    }
    reply_or_404(r, 200, course_evaluations(r->app, r->id, session_id), "course", r->id);
}

void api_course_effect(struct api_req *r)
{
    reply_or_404(r, 200, course_effect(r->app, r->id), "course", r->id);
}

/* --- the CV ---------------------------------------------------------------------------------- */

void api_employee_cv(struct api_req *r)
{
    if (check_sees(r, "see this employee's CV") == 0)
        items(r, course_cv(r->app, r->id));
}

void api_employee_cv_add(struct api_req *r)
{
    if (gap_employee_department(r->app->gap, r->id) < 0) {
        api_error(r, 404, "not_found", NULL, "there is no employee %lld", (long long)r->id);
        return;
    }
    if (r->id != r->who.employee_id && !api_is(r, ROLE_ADMIN)) {
        api_forbidden(r, "add to another employee's CV (the employee or an admin does)");
        return;
    }
    struct derr e;
    int64_t id = 0;
    if (course_cv_add(r->app, r->id, r->body, &id, &e)) {
        api_derr(r, &e);
        return;
    }
    json_t *list = course_cv(r->app, r->id), *entry = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (json_integer_value(json_object_get(v, "id")) == id)
            entry = json_incref(v);
    }
    json_decref(list);
    reply_or_404(r, 201, entry, "CV entry", id);
}
