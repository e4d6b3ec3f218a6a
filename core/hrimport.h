/* hrimport: the organisation from the HR system's files: departments and employees, read from
 * CSV, checked whole, shown as a preview, and written in one transaction.
 *
 * Files (docs/operations.md, "HR import"): UTF-8 with or without a BOM, separated by semicolons
 * (Norwegian Excel), commas or tabs (the header line decides), quoted as CSV quotes, with a header
 * line of column names in Norwegian or English. A departments file has avdelingskode/code,
 * navn/name, overordnet/parent_code and leder/manager_employee_number; an employees file has
 * ansattnummer/employee_number, navn/name, epost/email, avdelingskode/department_code,
 * stilling/position_title, roller/roles and aktiv/active. An import takes one file of each kind at
 * most (the header tells which is which); other columns are ignored and named in the preview.
 *
 * Keys: departments by code, employees by employee number; the file is the truth for the columns
 * it has, so a second import of the same file changes nothing. An import with an employees file is
 * full unless asked to be partial: active employees it does not list are deactivated (archived,
 * never deleted), except holders of the admin role (local accounts HR does not know). Nothing is
 * written unless every line is good; the write is one transaction, after which the gap index and
 * the cached sessions agree with the database.
 *
 * The steps, so that a server can keep its loop free: hrimport_snapshot reads what evne holds (the
 * db's thread); hrimport_add_file and hrimport_plan parse, check and work out the changes
 * without touching the database (any thread: the server runs them in a worker);
 * hrimport_commit writes (the db's thread). The commit checks that each row it changes is still
 * as the snapshot read it; when someone changed one meanwhile it writes nothing and says so.
 */
#ifndef EVNE_HRIMPORT_H
#define EVNE_HRIMPORT_H

#include <jansson.h>
#include <stddef.h>

struct app;
struct db;
struct hrimport;

/* The import routes' body limit (a file of 50,000 employees is about 5 MB). */
#define HRIMPORT_MAX_BYTES (64 * 1024 * 1024)
#define HRIMPORT_MAX_PROBLEMS 1000     /* listed; all are counted */

/* partial: employees missing from the file keep their state. Owned. */
struct hrimport *hrimport_new(int partial);
void hrimport_free(struct hrimport *im);

/* Progress for long files: fn(ctx, file, lines) every 10,000 lines read, and once per phase
 * with file NULL and lines the number of rows ("checking", "writing" ... as what). */
typedef void (*hrimport_progress_fn)(void *ctx, const char *what, size_t lines);
void hrimport_set_progress(struct hrimport *im, hrimport_progress_fn fn, void *ctx);

/* Reads the departments and employees as they stand. 0, or -1 on an SQLite error (logged). */
int hrimport_snapshot(struct hrimport *im, struct db *db);
/* Adds one file: name (copied) is how problems name it; text[0..len) is borrowed for the call. */
void hrimport_add_file(struct hrimport *im, const char *name, const char *text, size_t len);
/* Checks everything and works out the changes; the number of problems found. */
size_t hrimport_plan(struct hrimport *im);

size_t hrimport_problems(const struct hrimport *im);
/* Departments and employees that the commit would change (0: the file changes nothing). */
size_t hrimport_changes(const struct hrimport *im);

/* The preview, or after a commit what was done (owned):
 * {dry_run, committed, full, files:[{name, kind, lines, rows, delimiter, bom, ignored_columns}],
 *  summary:{departments_added, departments_changed, employees_added, employees_changed,
 *           employees_moved, employees_deactivated, employees_reactivated, employees_unchanged,
 *           employees_kept, changes, problems},
 *  departments:{added:[{code, name, parent_code, manager_employee_number, line}],
 *               changed:[{code, name, line, changes:[{field, before, after}]}]},
 *  employees:{added:[{employee_number, name, email, department_code, position_title, roles,
 *                     active, line}],
 *             changed:[{employee_number, name, line, changes:[{field, before, after}]}],
 *             moved:[{employee_number, name, line, from, to, from_name, to_name}],
 *             deactivated:[{employee_number, name, line|null, reason: "missing"|"inactive"}],
 *             reactivated:[{employee_number, name, line}],
 *             kept:[{employee_number, name, reason: "admin"}]},
 *  problems:[{file, line|null, column|null, column_number|null, code, message, args}],
 *  problems_total}
 * A problem's message is English; code and args (strings) are for translated texts (the page's
 * locale keys import.problem.<code>). At most `limit` entries per list (0: all); the summary
 * always counts them all. */
json_t *hrimport_report(const struct hrimport *im, size_t limit);

/* Writes the plan in one transaction (loop thread, a->db), with an audit entry "import", then
 * reloads what changed into a->gap (when there is one) and bumps a->generation. 0, or -1 and
 * *status (409: the organisation changed since the snapshot; 422: the plan has problems; 500)
 * and *err (owned); nothing is written then. */
int hrimport_commit(struct hrimport *im, struct app *a, int *status, char **err);

/* The body limit for http_conn_set_body_limit: HRIMPORT_MAX_BYTES for POSTs to the import's API
 * route and page, 0 (the default) for everything else. */
size_t hrimport_body_limit(const char *method, const char *target);

/* `evne import`: its usage text and its main. */
extern const char hrimport_usage[];
int hrimport_main(int argc, char **argv);

#endif
