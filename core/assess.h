/* assess: which profiles each employee holds (the manager's "buffet") and the assessments that
 * record what they can (append-only history: self, course, appraisal, test).
 *
 * Writes validate, commit one transaction, then update the gap index. Loop thread only.
 */
#ifndef EVNE_ASSESS_H
#define EVNE_ASSESS_H

#include <jansson.h>
#include <stdint.h>

struct app;
struct derr;

/* body: {profile_ids: [..]} replaces the employee's profiles. */
int assess_assign(struct app *a, int64_t employee_id, int64_t by, const json_t *body,
                  struct derr *e);
/* Several employees' profiles replaced at once (bodies[i] as for assess_assign): all are
 * checked, then written in one transaction, or none is. */
int assess_assign_many(struct app *a, const int64_t *employee_ids, const json_t *const *bodies,
                       size_t n, int64_t by, struct derr *e);
/* {"items": [profile...], "profile_ids": [...]}; owned. */
json_t *assess_assignments_json(struct app *a, int64_t employee_id);

/* body: {source, levels: {"<requirement_id>": level}, note?}. *created (owned) gets the list of
 * stored assessments. */
int assess_record(struct app *a, int64_t employee_id, int64_t by, const json_t *body,
                  json_t **created, struct derr *e);
/* The source named in a valid body, or NULL; for the caller's access check before recording. */
const char *assess_source(const json_t *body);
/* History, newest first; owned array. */
json_t *assess_history(struct app *a, int64_t employee_id);

/* The requirements the employee's profiles demand, with the current level; owned array. */
json_t *assess_questions(struct app *a, int64_t employee_id);

#endif
