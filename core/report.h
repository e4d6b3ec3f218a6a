/* report: what the reports say. For each report evne knows, the data its layout
 * (rules/reports/NAME.lua) is handed, as a jansson tree: the monthly reports (an employee's own,
 * a department's to its manager, the organisation's to the advisers) and the gap roll-up. The
 * numbers come from the gap index (gap_employee, gap_rollup: no per-cell SQL), the trend's
 * snapshots (trend_series) and, for what changed in a month and for courses, a few indexed
 * statements per report. docs/rules.md lists every field of each report's data.
 *
 * A report is about a period, a calendar month in Norwegian time ("2026-11"): what changed is
 * what was assessed in that month (up to now, for the month that is running); gaps, coverage and
 * course proposals are as they are now. The monthly job (report_job) sends the month that has
 * just ended: the run on the first working day of December sends November's reports.
 *
 * The schedule's job "reports" mails every active employee their employee report, every
 * department's manager their department report and every adviser the organisation report: the
 * report's HTML as the mail's HTML part, a short text from web/templates/mail/report_NAME.txt in
 * the recipient's language, the CSV attached. Each mail and its report_sent row are written in
 * the same transaction; a recipient already in report_sent for the report, period and subject is
 * skipped, so that a run cut short and run again sends each report once.
 *
 * Access is the caller's business (api_report.c, page_reports.c). Loop thread only.
 */
#ifndef EVNE_REPORT_H
#define EVNE_REPORT_H

#include <jansson.h>
#include <stdint.h>

struct app;
struct buf;
struct derr;
struct sched_job;

/* The reports evne gathers data for, by layout name. */
#define REPORT_EMPLOYEE "employee"
#define REPORT_DEPARTMENT "department"
#define REPORT_ORGANISATION "organisation"
#define REPORT_GAPS "gaps"

/* People listed by name in a department report ("who has not assessed themselves"), and
 * requirements in its largest gaps; the totals are always given. */
#define REPORT_MAX_PEOPLE 100
#define REPORT_MAX_REQUIREMENTS 10

/* Whether evne gathers data for a report of this name. */
int report_known(const char *name);

/* What a report is asked for. Zero fields take their defaults. */
struct report_params {
    int64_t employee_id;          /* employee: whose report */
    int64_t department_id;        /* department: which (with its subtree); gaps: the scope */
    const int64_t *departments;   /* gaps without department_id: a manager's subtrees; borrowed */
    size_t ndepartments;
    char period[8];               /* "2026-11"; "" is the month of now */
    char lang[3];                 /* "nb" or "en"; "" is "nb" */
    char by[16];                  /* gaps: employee, department, profile, system, requirement */
};

/* A period's text: 0 when s is "YYYY-MM" with a month 01-12 and a year 2000-2999. */
int report_period_check(const char *s);
/* The month of t in Norwegian time, and the month before it. */
void report_period_of(int64_t t, char out[8]);
void report_period_before(const char *period, char out[8]);
/* The period's first and last instant + 1 (unix seconds, Norwegian midnights). */
void report_period_bounds(const char *period, int64_t *start, int64_t *end);

/* Builds report `name`'s data for p at time now. 0 and *data (owned), or -1 and e: 404
 * not_found when the report is unknown, 422 invalid naming the parameter (an unknown or
 * archived employee or department, a bad `by`). */
int report_data(struct app *a, const char *name, const struct report_params *p, int64_t now,
                json_t **data, struct derr *e);

/* Renders data with the layout in format "html" or "csv" (with its byte order mark), appended
 * to out. -1 and *err (owned) when the layout fails or is missing. */
int report_render(struct app *a, const char *name, const char *format, const json_t *data,
                  struct buf *out, char **err);

/* A whole HTML document around a layout's HTML (for a mail and the API's format=html): a head
 * with the title and a little inline style that mail clients keep. Owned. */
char *report_document(const char *title, const char *lang, const char *html);

/* The schedule's job "reports". */
extern const struct sched_job report_job;

#endif
