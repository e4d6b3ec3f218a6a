/* export: the organisation's data for the municipality's own analysis tools: employees with
 * their profiles, assessments (the whole history), gaps and roll-ups, as CSV or JSON, produced
 * piece by piece so that 50,000 employees never need the whole export in memory (the API streams
 * it, http_respond_stream; the CLI writes it to stdout).
 *
 * JSON is one document: {format, version, exported_at, departments, systems, requirements,
 * profiles, employees: [{..., profile_ids, assessments, gaps, summary}], rollups: {department,
 * profile, system, requirement}}. CSV is one table per export (?table=): employees (the default),
 * departments, assessments, gaps or rollups; UTF-8 with a BOM, semicolons, CRLF, a decimal comma,
 * quotes where needed, as Excel in Norway reads it; the employees and departments tables have the
 * HR import's column names, so that an export can be imported again. docs/api.md has every
 * column.
 *
 * Rows are read in batches by id between two pieces, not in one transaction: a change made
 * while an export runs may be in it or not, but every row is whole. Loop thread only (it reads
 * a->db and a->gap).
 */
#ifndef EVNE_EXPORT_H
#define EVNE_EXPORT_H

#include <stddef.h>

struct app;
struct buf;
struct export;

#define EXPORT_PIECE_BYTES (64 * 1024)   /* what one export_next adds, about */

enum export_format { EXPORT_JSON, EXPORT_CSV };
enum export_table {
    EXPORT_ALL,                 /* JSON: everything */
    EXPORT_EMPLOYEES,
    EXPORT_DEPARTMENTS,
    EXPORT_ASSESSMENTS,
    EXPORT_GAPS,
    EXPORT_ROLLUPS,
};

/* format "csv" or "json" (NULL: json); table as above by name (NULL: employees for CSV; JSON
 * takes none). 0, or -1 and *field ("format" or "table") and *why (static text). */
int export_parse(const char *format, const char *table, enum export_format *f,
                 enum export_table *t, const char **field, const char **why);

/* Owned; a borrowed until export_free. */
struct export *export_new(struct app *a, enum export_format f, enum export_table t);
/* Appends the next piece (about EXPORT_PIECE_BYTES) to out: 1 when more follows, 0 when that was
 * the last, -1 when reading failed (logged). */
int export_next(struct export *x, struct buf *out);
void export_free(struct export *x);

/* "text/csv; charset=utf-8" or "application/json; charset=utf-8" (static). */
const char *export_content_type(enum export_format f);
/* "evne-employees-2026-11-26.csv", "evne-export-2026-11-26.json" into out. */
void export_filename(enum export_format f, enum export_table t, char out[64]);

/* `evne export`: its usage and its main; rules_dir the folder serve would use (for the gap
 * classes). */
extern const char export_usage[];
int export_main(int argc, char **argv, const char *rules_dir);

#endif
