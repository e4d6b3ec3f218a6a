/* course: courses and the cycle that turns a gap into a raised competence: sessions, matching
 * (who the matching policy proposes), invitations, the enrolment workflow with its waitlist,
 * attendance, the reassessment and the evaluation after a course, the CV and the course's effect.
 *
 * Writes follow the domain pattern (domain.h): validate everything, then one transaction, then
 * update the indexes; a failure fills a derr and stores nothing. Every enrolment transition writes
 * an enrolment_event and queues, in the same transaction, the mail of everyone it concerns except
 * the person who made it (mail.h). Access is the caller's business (api_course.c); the state
 * machine is this module's:
 *
 *   from                                   action    to                        by (api_course.c)
 *   (none), declined, rejected, cancelled  invite    invited                   adviser, admin
 *   invited                                accept    accepted                  the employee
 *   invited                                decline   declined                  the employee
 *   invited, accepted                      approve   approved | waitlisted     manager, admin
 *   accepted                               reject    rejected                  manager, admin
 *   invited, accepted, approved,           cancel    cancelled                 the employee,
 *     waitlisted                                                                manager, adviser,
 *                                                                               admin
 *   approved                               attend    attended (+ a CV entry)   adviser, admin
 *   approved                               absent    absent                    adviser, admin
 *   waitlisted                             (a place frees up) approved         evne, oldest first
 *   invited, accepted, approved,           (the session is cancelled) cancelled
 *     waitlisted
 * approve waitlists when the approved places fill the capacity. attend and absent are possible
 * only once the session has started; every other action only before it starts, and none on a
 * cancelled session.
 *
 * Times cross the API as ISO 8601 UTC strings ("2026-12-03T08:00:00Z"); mail shows them in
 * Norwegian time (Europe/Oslo). Loop thread only.
 */
#ifndef EVNE_COURSE_H
#define EVNE_COURSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct buf;
struct derr;

/* --- courses ------------------------------------------------------------------------------ */

/* body: {title, description?, system_id?, hours?, elearning_during?, elearning_after?, series?,
 * series_order?, requirements?: [{requirement_id, target_level 1-4}], prerequisites?: [ids],
 * archived?}. PATCH replaces requirements and prerequisites when they are given. */
int course_create(struct app *a, const json_t *body, int64_t *id, struct derr *e);
int course_update(struct app *a, int64_t id, const json_t *body, struct derr *e);
/* 409 has_history once a session has enrolments; 409 while another course needs it first. */
int course_delete(struct app *a, int64_t id, struct derr *e);
json_t *course_json(struct app *a, int64_t id);       /* owned, or NULL */
json_t *course_list(struct app *a);                   /* owned array */

/* --- sessions ----------------------------------------------------------------------------- */

/* body: {starts_at, ends_at, place?, trainer?, capacity}. */
int course_session_create(struct app *a, int64_t course_id, const json_t *body, int64_t *id,
                          struct derr *e);
/* body: any of the above and cancelled (true cancels, for good: its open enrolments are
 * cancelled with a mail each). A new time or place is mailed to the open enrolments; a larger
 * capacity promotes the waitlist. by: who changes it. */
int course_session_update(struct app *a, int64_t id, int64_t by, const json_t *body,
                          struct derr *e);
json_t *course_session_json(struct app *a, int64_t id);          /* owned, or NULL */
json_t *course_session_list(struct app *a, int64_t course_id);   /* owned array */

/* --- matches ------------------------------------------------------------------------------ */

/* Who the matching policy proposes for course_id among the active employees of the departments'
 * subtrees (all when ndepartments is 0), for its session session_id when that is not 0. Only
 * employees with an open gap the course closes (the gap index says who) are considered; those
 * lacking a prerequisite (or an earlier course of its series) are listed as such and those with
 * an open enrolment in the course as enrolled, without asking the policy. Appends the answer as
 * JSON text to out: {course_id, session_id, items:[{employee_id, name, department_id, reason,
 * priority, session_id, gaps}] (highest priority first), lacking_prerequisite:[{employee_id,
 * name, department_id, missing, gaps}], enrolled:[{employee_id, name, department_id,
 * enrolment_id, session_id, state, gaps}]} (both by name); gaps are the requirement ids whose
 * gap the course closes. */
int course_matches(struct app *a, int64_t course_id, const int64_t *departments,
                   size_t ndepartments, int64_t session_id, struct buf *out, struct derr *e);

/* --- enrolments --------------------------------------------------------------------------- */

/* body: {employee_ids: [...]}: all or nothing. *created (owned): the enrolments. */
int course_invite(struct app *a, int64_t session_id, int64_t by, const json_t *body,
                  json_t **created, struct derr *e);

enum course_action {
    COURSE_ACCEPT, COURSE_DECLINE, COURSE_APPROVE, COURSE_REJECT, COURSE_CANCEL, COURSE_ATTEND,
    COURSE_ABSENT, COURSE_NACTIONS
};
const char *course_action_name(enum course_action act);   /* "accept" ... */
/* Whether act is possible from state (the state machine only: not time, not who). */
int course_action_allowed(enum course_action act, const char *state);

/* What access checks need of an enrolment. */
struct course_enrolment {
    int64_t id, session_id, course_id, employee_id;
    char state[16];
};
/* 0 and *out, or -1 when there is no such enrolment. */
int course_enrolment_get(struct app *a, int64_t id, struct course_enrolment *out);

/* One transition. body: {reason?} (shown in the mail; kept on the enrolment). */
int course_act(struct app *a, int64_t id, enum course_action act, int64_t by, const json_t *body,
               struct derr *e);
/* With its history (events); owned, or NULL. */
json_t *course_enrolment_json(struct app *a, int64_t id);
json_t *course_enrolments_of_employee(struct app *a, int64_t employee_id);   /* owned array */
/* Of one session; only employees within departments when ndepartments > 0. */
json_t *course_enrolments_of_session(struct app *a, int64_t session_id,
                                     const int64_t *departments, size_t ndepartments);
/* What waits for manager_id's approval: the accepted enrolments (in sessions still to come) of
 * the employees within departments (the ones they manage) whose nearest manager they are, the
 * one asked by mail. Owned array. */
json_t *course_approvals(struct app *a, const int64_t *departments, size_t ndepartments,
                         int64_t manager_id);

/* --- after the course --------------------------------------------------------------------- */

/* body: {levels: {"<requirement_id>": level}} for requirements the course covers, recorded as
 * `course` assessments (assess_record) so that the gap index moves. Only after attending. */
int course_reassess(struct app *a, int64_t enrolment_id, int64_t by, const json_t *body,
                    json_t **created, struct derr *e);
/* body: {answers: [{question_id, score 1-5 | text}]}, once, only after attending. Without any
 * question for the course, one answer {text} is accepted and kept as the answer to a free-text
 * question made for the course then. */
int course_evaluate(struct app *a, int64_t enrolment_id, const json_t *body, json_t **answers,
                    struct derr *e);
/* body: {text, kind: "scale"|"text", position?, global?}; global questions (course_id NULL) are
 * asked after every course. */
int course_question_create(struct app *a, int64_t course_id, const json_t *body, int64_t *id,
                           struct derr *e);
/* body: {text?, position?, archived?}. */
int course_question_update(struct app *a, int64_t id, const json_t *body, struct derr *e);
json_t *course_question_json(struct app *a, int64_t id);               /* owned, or NULL */
json_t *course_questions(struct app *a, int64_t course_id);            /* owned array */
/* Per question: count, average (scale), free texts; of one session when session_id is not 0.
 * Owned, or NULL when there is no such course. */
json_t *course_evaluations(struct app *a, int64_t course_id, int64_t session_id);
/* Per covered requirement, the attendees' average level before the session and now, and how much
 * of the targeted gap closed. Owned, or NULL when there is no such course. */
json_t *course_effect(struct app *a, int64_t course_id);

/* --- the CV ------------------------------------------------------------------------------- */

json_t *course_cv(struct app *a, int64_t employee_id);   /* owned array */
/* body: {title, happened_on: "YYYY-MM-DD", hours?, detail?}. */
int course_cv_add(struct app *a, int64_t employee_id, const json_t *body, int64_t *id,
                  struct derr *e);

/* --- reachable from the unit tests -------------------------------------------------------- */

/* "2026-12-03T08:00:00Z" (seconds optional, "Z" required) -> unix seconds; 0 or -1. */
int course_parse_utc(const char *s, int64_t *out);
/* "2026-12-03" -> 0 when it is a real date, else -1. */
int course_parse_date(const char *s);

/* One calendar event (RFC 5545). All strings borrowed; NULL or "" leaves the field out. */
struct course_ics {
    const char *method;       /* "REQUEST" or "CANCEL" */
    int64_t session_id, employee_id;
    int64_t starts_at, ends_at, stamp;
    int64_t sequence;
    const char *summary, *location, *description;
    const char *organizer_name, *organizer_email;
    const char *attendee_name, *attendee_email;
};
/* VCALENDAR text: CRLF line ends, lines folded at 75 octets (never inside a UTF-8 character),
 * text escaped. Owned. */
char *course_ics_text(const struct course_ics *ev);

#endif
