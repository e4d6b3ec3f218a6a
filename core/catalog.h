/* catalog: what the advisers describe: systems, their requirements (ordered by a position key), and competence
 * profiles (a level 0-4 per requirement; sum and average derived, never stored).
 *
 * Writes validate first, then commit one transaction, then update the gap index (and tabulate a
 * new requirement's gap classes); a failure fills a derr and stores nothing. Something history
 * refers to is archived (PATCH archived=true), not deleted: such a delete answers 409.
 * Loop thread only.
 */
#ifndef EVNE_CATALOG_H
#define EVNE_CATALOG_H

#include <jansson.h>
#include <stdint.h>

struct app;
struct derr;

int catalog_system_create(struct app *a, const json_t *body, int64_t *id, struct derr *e);
int catalog_system_update(struct app *a, int64_t id, const json_t *body, struct derr *e);
int catalog_system_delete(struct app *a, int64_t id, struct derr *e);
json_t *catalog_system_json(struct app *a, int64_t id);      /* owned, or NULL */
json_t *catalog_system_list(struct app *a);                  /* owned array */

/* body: {text, position?}; position is a sort key (default: last). */
int catalog_requirement_create(struct app *a, int64_t system_id, const json_t *body, int64_t *id,
                               struct derr *e);
int catalog_requirement_update(struct app *a, int64_t id, const json_t *body, struct derr *e);
int catalog_requirement_delete(struct app *a, int64_t id, struct derr *e);
json_t *catalog_requirement_json(struct app *a, int64_t id);
json_t *catalog_requirement_list(struct app *a, int64_t system_id);

/* body: {name, system_id?, description?, levels?: {"<requirement_id>": level}}; PATCH merges
 * levels. */
int catalog_profile_create(struct app *a, const json_t *body, int64_t *id, struct derr *e);
int catalog_profile_update(struct app *a, int64_t id, const json_t *body, struct derr *e);
int catalog_profile_delete(struct app *a, int64_t id, struct derr *e);
/* The profile matrix of a system saved at once: changes = {"<profile_id>": {"<requirement_id>":
 * level}}; every profile must be of system_id. All of it is checked, then written in one
 * transaction, or nothing is. */
int catalog_matrix_update(struct app *a, int64_t system_id, const json_t *changes, struct derr *e);
json_t *catalog_profile_json(struct app *a, int64_t id);      /* with levels, sum, average */
json_t *catalog_profile_list(struct app *a);

#endif
