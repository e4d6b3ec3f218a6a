/* rules: the running policies and their life: the first load, reloads (on an admin's request
 * and when a file in the rules folder changes), the swap, and what admins see of it.
 *
 * A reload builds a complete new Lua state beside the running one (lh_load), runs the examples
 * the policies declare, classifies every requirement with it, and only when all of that
 * succeeded swaps it in, hands the new classes to the gap index and, when an effective-level
 * policy comes or goes, recomputes the actual levels; on any error the running rules stay and the error is kept for the admin page
 * and GET /api/v1/admin/rules. Nothing else holds the state across a callback (calls into Lua are
 * synchronous on the loop), so the old state is closed at the swap. Loop thread only.
 */
#ifndef EVNE_RULES_H
#define EVNE_RULES_H

#include <jansson.h>
#include <stdint.h>

struct app;

/* The first load, at start-up: any error is returned (serve refuses to start). */
int rules_open(struct app *a, char **err);
/* Reload now. 0 when the new rules run; -1 and *err (owned) when the old ones stay. */
int rules_reload(struct app *a, const char *why, char **err);
/* Watches the rules folder (and rules/reports) and reloads shortly after a change settles. */
void rules_watch(struct app *a);
/* Stops watching; on_closed runs when the handles are closed. */
void rules_unwatch(struct app *a, void (*on_closed)(void *arg), void *arg);
void rules_close(struct app *a);

/* Classifies one requirement with the running rules into the gap index (after it is created or
 * renamed, or its system renamed); logs and leaves the classes empty when the rule fails, and
 * /healthz reports it until the next good reload. */
void rules_classify(struct app *a, int64_t requirement_id);

/* Classifies every requirement into a->gap with the running rules and applies an effective-level
 * policy, as at start-up: for an index built afresh (app_rebuild_index). */
void rules_apply_all(struct app *a);

/* Puts a committed assessment into the gap index: "the newest counts" natively, or through the
 * running effective-level policy over the pair's whole history. */
void rules_assessed(struct app *a, int64_t employee_id, int64_t requirement_id, int level,
                    int64_t recorded_at);

/* {dir, loaded_at, reloads, watching, policies:[{file, name, sha256}],
 *  last_attempt:{at, ok, reason, error?}}; owned. */
json_t *rules_status(struct app *a);

/* Runs a candidate version of one policy file against the live data without swapping:
 * thresholds.lua -> the number of gaps per class before and after; effective_level.lua -> the
 * organisation's gap totals before and after. *out owned. */
int rules_preview(struct app *a, const char *file, const char *source, json_t **out, char **err);

#endif
