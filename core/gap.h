/* gap: the in-memory gap index and its roll-ups.
 *
 * Built from the database at start-up (gap_build), then kept current by the domain modules: after
 * every committed write that changes an employee, a department, a system, a requirement, a
 * profile, an assignment or an assessment, they call the matching gap_reload_* or gap_assess, so
 * that no report ever scans the database.
 *
 * Semantics (DESIGN.md, exact): required(e,r) is the highest level any of e's active profiles
 * demands of active requirement r; actual(e,r) the level of e's most recent assessment of r (any
 * source; ties go to the later record), 0 and "unassessed" without one; gap = max(0, required -
 * actual). Archived employees, requirements and profiles take no part.
 *
 * How it stays fast: each employee keeps a sorted array of (requirement, required, actual) pairs
 * for what is demanded or assessed, and its own roll-up. The index keeps running totals per
 * department (its own employees), system, profile and requirement; a change to one employee
 * subtracts its old contribution and adds the new one. An unfiltered roll-up reads those totals
 * (departments summed up the tree); a filtered one measures the employees in scope.
 *
 * Names in rows and cells are borrowed from the index and stay valid until its next change.
 * Loop thread only.
 */
#ifndef EVNE_GAP_H
#define EVNE_GAP_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct gap_index;

enum gap_dim { GAP_BY_EMPLOYEE, GAP_BY_DEPARTMENT, GAP_BY_PROFILE, GAP_BY_SYSTEM, GAP_BY_REQUIREMENT };

struct gap_row {
    int64_t id;
    const char *name;            /* borrowed */
    int64_t employees, employees_with_gaps, demanded, open_gaps, unassessed, gap_sum;
    double coverage;             /* 1 - open/demanded; 1 when nothing is demanded */
};

/* One demanded requirement of one employee. */
struct gap_cell {
    int64_t requirement_id, system_id;
    int required, actual, gap;
    int unassessed;
    int64_t assessed_at;         /* 0 when unassessed */
    uint8_t class_id;            /* from gap_set_classes; 0xff when none */
};

/* Scope of a roll-up. Zero fields mean "no restriction". */
struct gap_filter {
    const int64_t *departments;  /* employees in the union of these subtrees; borrowed */
    size_t ndepartments;
    int64_t system_id;           /* only requirements (and profiles) of this system */
    int64_t profile_id;          /* only employees assigned this profile */
};

/* Builds the index from the database. -1 and *err (owned) on an SQLite error. */
int gap_build(struct db *db, struct gap_index **out, char **err);
void gap_free(struct gap_index *x);

/* Re-reads one entity (and what hangs on it) from the database after a committed change, or
 * drops it when it no longer exists. 0, or -1 on an SQLite error (logged). */
int gap_reload_department(struct gap_index *x, struct db *db, int64_t id);
int gap_reload_employee(struct gap_index *x, struct db *db, int64_t id);  /* incl. assignments */
int gap_reload_system(struct gap_index *x, struct db *db, int64_t id);    /* incl. requirements, profiles */
int gap_reload_requirement(struct gap_index *x, struct db *db, int64_t id);
int gap_reload_profile(struct gap_index *x, struct db *db, int64_t id);   /* incl. levels */

/* Records one committed assessment; the hot path, so it takes the values, not the database. */
void gap_assess(struct gap_index *x, int64_t employee_id, int64_t requirement_id, int level,
                int64_t recorded_at);

/* The class of each (required, actual) cell of a requirement, from the thresholds policy. */
void gap_set_classes(struct gap_index *x, int64_t requirement_id, const uint8_t cls[5][5]);

/* An effective-level policy (rules/effective_level.lua) decides actual(e,r) instead of "the
 * newest counts". It is handed one pair's history, oldest first, and answers the level that
 * counts or -1 for none (the pair is then unassessed); -1 from the function itself means the
 * policy failed, and the newest assessment counts for that pair. */
struct gap_assessment {
    int level;
    const char *source;          /* borrowed for the call */
    int64_t recorded_at, recorded_by;
};
typedef int (*gap_effective_fn)(void *ctx, int64_t employee_id, int64_t requirement_id,
                                const struct gap_assessment *history, size_t n, int *level);

/* Sets actual(e,r) as a policy decided it (level -1: unassessed). */
void gap_set_actual(struct gap_index *x, int64_t employee_id, int64_t requirement_id, int level,
                    int64_t at);
/* Recomputes actual(e,r) of every assessed pair from the database's history with fn, or with
 * "the newest counts" when fn is NULL (after a policy is removed). -1 on an SQLite error. */
int gap_recompute_actuals(struct gap_index *x, struct db *db, gap_effective_fn fn, void *ctx);

/* One employee's demanded requirements, ordered by system and position. *cells is owned by the
 * caller (free()); summary (may be NULL) gets the employee's roll-up row. -1 when the employee is
 * unknown or archived. */
int gap_employee(const struct gap_index *x, int64_t employee_id, struct gap_cell **cells,
                 size_t *ncells, struct gap_row *summary);

/* The roll-up rows of one dimension within filter (may be NULL). *rows owned by the caller. */
void gap_rollup(struct gap_index *x, enum gap_dim dim, const struct gap_filter *filter,
                struct gap_row **rows, size_t *nrows);

/* actual(e,r): 0 and the level/time when e has assessed r, -1 otherwise. */
int gap_actual(const struct gap_index *x, int64_t employee_id, int64_t requirement_id, int *level,
               int64_t *assessed_at);

/* The department of an employee (archived ones included); -1 when there is no such employee. */
int64_t gap_employee_department(const struct gap_index *x, int64_t employee_id);

/* Is department `d` within the subtree of `root` (itself included)? */
int gap_department_within(const struct gap_index *x, int64_t d, int64_t root);

/* Memory held by the index, in bytes (for the benchmarks). */
size_t gap_memory(const struct gap_index *x);

#endif
