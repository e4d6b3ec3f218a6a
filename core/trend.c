/* trend: snapshots of the gap index's roll-ups, the series read back from them, and the SVG line
 * chart the pages and reports draw them with (see trend.h).
 *
 * A snapshot copies rows the index already keeps: gap_rollup's unfiltered department, system and
 * profile rows read running totals, so copying costs next to nothing; storing the rows (one per
 * department, system and profile) is the work, which the scheduled job does in steps
 * (bench/trend.sh measures both). The organisation's row is the sum of the root departments' rows:
 * every employee belongs to exactly one department and the subtrees of the roots are disjoint,
 * so the counts add up, and coverage is derived from them the way the index derives it.
 */
#include "trend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "db.h"
#include "gap.h"
#include "oslo.h"
#include "schedule.h"
#include "util.h"

/* --- snapshots ---------------------------------------------------------------------------- */

/* One row to store: a dimension's name (static) and the index's figures (the name not used). */
struct pending {
    const char *dimension;
    struct gap_row row;
};

struct rows {
    struct pending *v;
    size_t n;
};

static double coverage_of(int64_t demanded, int64_t open)
{
    return demanded ? 1.0 - (double)open / (double)demanded : 1.0;
}

static const struct {
    const char *name;
    enum gap_dim dim;
} snapshot_dims[] = {
    {"department", GAP_BY_DEPARTMENT},
    {"system", GAP_BY_SYSTEM},
    {"profile", GAP_BY_PROFILE},
};
#define NSNAPSHOT_DIMS (sizeof snapshot_dims / sizeof snapshot_dims[0])

/* Every row of a snapshot at this moment: the organisation, then each dimension's unfiltered
 * roll-up. The organisation is the root departments' rows (each its subtree) added up. 0, or -1
 * on an SQLite error (logged). */
static int collect(struct app *a, struct rows *out)
{
    struct gap_row *rows[NSNAPSHOT_DIMS];
    size_t nrows[NSNAPSHOT_DIMS], total = 1;
    for (size_t d = 0; d < NSNAPSHOT_DIMS; d++) {
        gap_rollup(a->gap, snapshot_dims[d].dim, NULL, &rows[d], &nrows[d]);
        total += nrows[d];
    }
    out->v = xcalloc(total, sizeof *out->v);
    out->n = 1;
    struct gap_row *org = &out->v[0].row;
    out->v[0].dimension = "organisation";
    for (size_t d = 0; d < NSNAPSHOT_DIMS; d++)
        for (size_t i = 0; i < nrows[d]; i++) {
            out->v[out->n].dimension = snapshot_dims[d].name;
            out->v[out->n].row = rows[d][i];
            out->v[out->n++].row.name = NULL;   /* borrowed from the index: not kept */
        }
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id FROM department WHERE parent_id IS NULL");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t root = sqlite3_column_int64(st, 0);
        for (size_t i = 0; i < nrows[0]; i++) {
            const struct gap_row *r = &rows[0][i];
            if (r->id != root)
                continue;
            org->employees += r->employees;
            org->employees_with_gaps += r->employees_with_gaps;
            org->demanded += r->demanded;
            org->open_gaps += r->open_gaps;
            org->unassessed += r->unassessed;
            org->gap_sum += r->gap_sum;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        db_log_error(a->db, st);
    sqlite3_reset(st);
    org->coverage = coverage_of(org->demanded, org->open_gaps);
    for (size_t d = 0; d < NSNAPSHOT_DIMS; d++)
        free(rows[d]);
    if (rc != SQLITE_DONE) {
        free(out->v);
        out->v = NULL;
        return -1;
    }
    return 0;
}

static int insert_row(struct db *db, int64_t snapshot, const struct pending *p)
{
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO snapshot_row (snapshot_id, dimension, entity_id, "
                                   "employees, employees_with_gaps, demanded, open_gaps, "
                                   "unassessed, gap_sum, coverage) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    sqlite3_bind_int64(st, 1, snapshot);
    sqlite3_bind_text(st, 2, p->dimension, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, p->row.id);
    sqlite3_bind_int64(st, 4, p->row.employees);
    sqlite3_bind_int64(st, 5, p->row.employees_with_gaps);
    sqlite3_bind_int64(st, 6, p->row.demanded);
    sqlite3_bind_int64(st, 7, p->row.open_gaps);
    sqlite3_bind_int64(st, 8, p->row.unassessed);
    sqlite3_bind_int64(st, 9, p->row.gap_sum);
    sqlite3_bind_double(st, 10, p->row.coverage);
    return db_exec_stmt(db, st);
}

/* The snapshot's own row; period "" marks one still being written (by the job, in steps),
 * which no series reads. */
static int insert_snapshot(struct db *db, const char *kind, int64_t now, const char *period,
                           int64_t *id)
{
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO snapshot (taken_at, period, kind) "
                                   "VALUES (?1, ?2, ?3)");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    if (db_exec_stmt(db, st))
        return -1;
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return 0;
}

int trend_snapshot(struct app *a, const char *kind, int64_t now, int64_t *id, char **err)
{
    if (!kind || (strcmp(kind, "monthly") && strcmp(kind, "manual"))) {
        *err = xasprintf("a snapshot's kind is monthly or manual, not '%s'", kind ? kind : "");
        return -1;
    }
    struct rows rows;
    if (collect(a, &rows)) {
        *err = xasprintf("the snapshot could not be taken: %s", sqlite3_errmsg(db_handle(a->db)));
        return -1;
    }
    char period[8];
    oslo_month(now, period);
    int64_t sid = 0;
    int rc = db_begin(a->db) ? -1 : insert_snapshot(a->db, kind, now, period, &sid);
    for (size_t i = 0; rc == 0 && i < rows.n; i++)
        rc = insert_row(a->db, sid, &rows.v[i]);
    if (rc == 0)
        rc = db_commit(a->db);
    if (rc) {
        *err = xasprintf("the snapshot could not be stored: %s", sqlite3_errmsg(db_handle(a->db)));
        db_rollback(a->db);
    } else {
        *id = sid;
    }
    free(rows.v);
    return rc;
}

/* --- series ------------------------------------------------------------------------------- */

json_t *trend_series(struct app *a, const char *dimension, int64_t entity_id, int64_t since)
{
    json_t *items = json_array();
    if (!strcmp(dimension, "organisation"))
        entity_id = 0;
    /* Per month the newest snapshot (of any kind); the entity's row in it, when it has one. */
    sqlite3_stmt *st = db_stmt(
        a->db,
        "SELECT s.period, s.taken_at, r.employees, r.employees_with_gaps, r.demanded, "
        "r.open_gaps, r.unassessed, r.gap_sum, r.coverage "
        "FROM snapshot s JOIN snapshot_row r ON r.snapshot_id = s.id "
        "AND r.dimension = ?1 AND r.entity_id = ?2 "
        "WHERE s.taken_at >= ?3 AND s.period <> '' AND s.id = (SELECT n.id FROM snapshot n WHERE n.period = s.period "
        "ORDER BY n.taken_at DESC, n.id DESC LIMIT 1) "
        "ORDER BY s.period");
    sqlite3_bind_text(st, 1, dimension, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, entity_id);
    sqlite3_bind_int64(st, 3, since);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char at[21];
        util_iso8601(sqlite3_column_int64(st, 1), at);
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "period",
                             db_text(st, 0), "taken_at", at, "employees",
                             (json_int_t)sqlite3_column_int64(st, 2), "employees_with_gaps",
                             (json_int_t)sqlite3_column_int64(st, 3), "demanded",
                             (json_int_t)sqlite3_column_int64(st, 4), "open_gaps",
                             (json_int_t)sqlite3_column_int64(st, 5), "unassessed",
                             (json_int_t)sqlite3_column_int64(st, 6), "gap_sum",
                             (json_int_t)sqlite3_column_int64(st, 7), "coverage",
                             sqlite3_column_double(st, 8)));
    }
    if (rc != SQLITE_DONE)
        db_log_error(a->db, st);
    sqlite3_reset(st);
    return items;
}

/* --- the scheduled job -------------------------------------------------------------------- */

/* The job writes its snapshot in steps, so that the loop is never held for long however large
 * the organisation (a snapshot at 50,000 employees is about 2,200 rows): the first step copies
 * every row from the index (one moment, however long the writing takes) and stores the
 * snapshot's own row marked as being written (period ""); each step then stores rows for about
 * its budget and commits; the last sets the period, in the same transaction as the last rows,
 * and only then do series see it. A run cut short leaves a marked snapshot, which the next run
 * removes before it starts. */
struct job_state {
    char period[8];
    int64_t id;          /* the snapshot taken (or found); 0 when none */
    int skipped;         /* the month had its monthly snapshot already */
    struct rows rows;    /* what remains to store, from rows.v[next] on */
    size_t next;
};

static void *job_start(struct app *a, const struct sched_run *run, char **err)
{
    (void)a;
    (void)err;
    struct job_state *s = xcalloc(1, sizeof *s);
    oslo_month(run->now, s->period);
    return s;
}

/* First step: is the month done? If not, clear what an interrupted run left, copy the rows and
 * store the marked snapshot row. 1 when rows are to be written, 0 when skipped, -1. */
static int job_begin(struct app *a, struct job_state *s, const struct sched_run *run, char **err)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id FROM snapshot WHERE period = ?1 AND "
                                      "kind = 'monthly' LIMIT 1");
    sqlite3_bind_text(st, 1, s->period, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->id = sqlite3_column_int64(st, 0);
        s->skipped = 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto failed;
    if (s->skipped)
        return 0;
    if (collect(a, &s->rows))
        goto failed;
    if (db_begin(a->db))
        goto failed;
    if (db_exec_stmt(a->db, db_stmt(a->db, "DELETE FROM snapshot_row WHERE snapshot_id IN "
                                           "(SELECT id FROM snapshot WHERE period = '')")) ||
        db_exec_stmt(a->db, db_stmt(a->db, "DELETE FROM snapshot WHERE period = ''")) ||
        insert_snapshot(a->db, "monthly", run->now, "", &s->id) || db_commit(a->db)) {
        db_rollback(a->db);
        goto failed;
    }
    return 1;
failed:
    *err = xasprintf("the month's snapshot could not be taken: %s",
                     sqlite3_errmsg(db_handle(a->db)));
    return -1;
}

static int job_step(struct app *a, void *state, const struct sched_run *run, int64_t budget_us,
                    char **err)
{
    struct job_state *s = state;
    int64_t t0 = util_monotonic_us();
    if (!s->rows.v)
        return job_begin(a, s, run, err);   /* a commit of its own: enough for one step */
    /* Rows for a third of the budget: the commit's flush of what they wrote takes about as
     * long again (bench/trend.sh). At least a few, so that a run always moves on. */
    if (db_begin(a->db))
        goto failed;
    size_t done = 0;
    while (s->next < s->rows.n && (done < 16 || util_monotonic_us() - t0 < budget_us / 3)) {
        if (insert_row(a->db, s->id, &s->rows.v[s->next]))
            goto rollback;
        s->next++;
        done++;
    }
    if (s->next == s->rows.n) {
        sqlite3_stmt *st = db_stmt(a->db, "UPDATE snapshot SET period = ?1 WHERE id = ?2");
        sqlite3_bind_text(st, 1, s->period, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, s->id);
        if (db_exec_stmt(a->db, st))
            goto rollback;
    }
    if (db_commit(a->db))
        goto rollback;
    return s->next < s->rows.n;
rollback:
    db_rollback(a->db);
failed:
    *err = xasprintf("the month's snapshot could not be stored: %s",
                     sqlite3_errmsg(db_handle(a->db)));
    return -1;
}

static json_t *job_finish(struct app *a, void *state)
{
    (void)a;
    struct job_state *s = state;
    json_t *o = json_pack("{s:s, s:b, s:I}", "period", s->period, "skipped", s->skipped, "rows",
                          (json_int_t)s->next);
    int complete = s->skipped || (s->rows.v && s->next == s->rows.n);
    json_object_set_new(o, "snapshot_id", complete && s->id ? json_integer(s->id) : json_null());
    free(s->rows.v);
    free(s);
    return o;
}

const struct sched_job trend_job = {
    .name = "snapshot",
    .mails = 0,
    .start = job_start,
    .step = job_step,
    .finish = job_finish,
};

/* --- the line chart ----------------------------------------------------------------------- */

#define W 680
#define H 320
#define LEFT 64          /* room for the y axis' numbers and word */
#define RIGHT 190        /* room for the lines' end labels */
#define TOP 20
#define BOTTOM 56        /* room for the months and the x axis' word */
#define PLOT_W (W - LEFT - RIGHT)
#define PLOT_H (H - TOP - BOTTOM)
#define LABEL_GAP 13     /* the least distance between two end labels' baselines */
#define LABEL_CHARS 22   /* characters of a name shown at a line's end; the whole in its title */

/* Okabe & Ito's colours, told apart by most colour-blind readers; the shapes and dashes carry
 * the difference for everyone else. */
static const char *const colours[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                      "#e69f00", "#56b4e9", "#000000", "#999933"};
static const char *const dashes[] = {NULL, "8 4", "2 3", "10 3 2 3", "4 4", "1 5", "12 4 4 4",
                                     "6 2 2 2 2 2"};
enum marker { M_CIRCLE, M_SQUARE, M_TRIANGLE, M_DIAMOND, M_CROSS, M_TRIANGLE_DOWN, M_PLUS, M_STAR };
static const char *const marker_names[] = {"circle", "square", "triangle", "diamond", "cross",
                                           "triangle-down", "plus", "star"};
#define NSTYLES 8
#define PI 3.14159265358979323846

static const char *const months_nb[] = {"jan.", "feb.", "mars", "apr.", "mai", "juni",
                                        "juli", "aug.", "sep.", "okt.", "nov.", "des."};
static const char *const months_en[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static const char *const shapes_nb[] = {"sirkel", "firkant", "trekant", "rute", "kryss",
                                        "trekant ned", "pluss", "stjerne"};
static const char *const shapes_en[] = {"circle", "square", "triangle", "diamond", "cross",
                                        "triangle down", "plus", "star"};

/* The chart's own words; the title comes from the caller. */
struct words {
    const char *month, *coverage, *gap_sum, *empty, *to;
    const char *const *months, *const *shapes;
};
static const struct words words_nb = {
    "Måned", "Dekning (%)", "Gapsum", "Ingen målinger ennå.", "til", months_nb, shapes_nb,
};
static const struct words words_en = {
    "Month", "Coverage (%)", "Gap sum", "No measurements yet.", "to", months_en, shapes_en,
};

static void put_escaped(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default:
            /* control characters other than tab and newline are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                buf_puts(b, " ");
            else
                buf_append(b, s, 1);
        }
    }
}

/* At most `chars` characters of UTF-8 s (escaped), with an ellipsis when cut. */
static void put_shortened(struct buf *b, const char *s, int chars)
{
    const unsigned char *p = (const unsigned char *)s;
    int n = 0;
    while (*p && n < chars) {
        p++;
        while ((*p & 0xc0) == 0x80)
            p++;
        n++;
    }
    if (!*p) {
        put_escaped(b, s);
        return;
    }
    char *part = xmalloc((size_t)(p - (const unsigned char *)s) + 1);
    memcpy(part, s, (size_t)(p - (const unsigned char *)s));
    part[p - (const unsigned char *)s] = '\0';
    put_escaped(b, part);
    free(part);
    buf_puts(b, "…");
}

/* "2026-11" -> months since year 0; -1 when it is not such a period. */
static int64_t month_index(const char *period)
{
    int y, m;
    char tail;
    if (!period || sscanf(period, "%4d-%2d%c", &y, &m, &tail) != 2 || m < 1 || m > 12 ||
        strlen(period) != 7)
        return -1;
    return (int64_t)y * 12 + (m - 1);
}

static void put_month(struct buf *b, int64_t mi, const struct words *w)
{
    buf_printf(b, "%s %lld", w->months[mi % 12], (long long)(mi / 12));
}

/* A value as the chart's words say it: coverage in whole per cent, a gap sum as an integer. */
static void put_value(struct buf *b, int coverage, double v, const char *lang)
{
    /* rounded half up, as the pages' pct() does, so that a chart and its table agree */
    double r = floor((coverage ? v * 100.0 : v) + 0.5);
    buf_printf(b, coverage && strcmp(lang, "en") ? "%.0f %%" : coverage ? "%.0f%%" : "%.0f", r);
}

/* A round top for the gap sum's axis (1, 2 or 5 times a power of ten, at or above max), and the
 * step between its ticks. */
static void nice_axis(double max, double *top, double *step)
{
    if (max <= 0) {
        *top = 4;
        *step = 1;
        return;
    }
    double p = pow(10, floor(log10(max)));
    double m = max / p;
    double f = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
    *top = f * p;
    *step = *top / (f == 1 || f == 10 ? 5 : f == 2 ? 4 : 5);
    if (*step < 1) {
        *step = 1;
        *top = ceil(max) < 4 ? 4 : ceil(max);
    }
}

static void put_marker(struct buf *b, int shape, double x, double y)
{
    const double r = 4.5;
    switch ((enum marker)shape) {
    case M_CIRCLE:
        buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>", x, y, r);
        break;
    case M_SQUARE:
        buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", x - r * 0.85,
                   y - r * 0.85, r * 1.7, r * 1.7);
        break;
    case M_TRIANGLE:
        buf_printf(b, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>", x, y - r * 1.15,
                   x + r, y + r * 0.75, x - r, y + r * 0.75);
        break;
    case M_DIAMOND:
        buf_printf(b, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>", x,
                   y - r * 1.2, x + r, y, x, y + r * 1.2, x - r, y);
        break;
    case M_CROSS:
        buf_printf(b, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" fill=\"none\" "
                      "stroke-width=\"2.5\" stroke-dasharray=\"none\"/>",
                   x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r);
        break;
    case M_TRIANGLE_DOWN:
        buf_printf(b, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>", x, y + r * 1.15,
                   x + r, y - r * 0.75, x - r, y - r * 0.75);
        break;
    case M_PLUS:
        buf_printf(b, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" fill=\"none\" "
                      "stroke-width=\"2.5\" stroke-dasharray=\"none\"/>",
                   x - r * 1.2, y, x + r * 1.2, y, x, y - r * 1.2, x, y + r * 1.2);
        break;
    case M_STAR: {
        buf_puts(b, "<polygon points=\"");
        for (int k = 0; k < 10; k++) {
            double rr = k % 2 ? r * 0.5 : r * 1.3, ang = -PI / 2 + k * PI / 5;
            buf_printf(b, "%s%.1f,%.1f", k ? " " : "", x + rr * cos(ang), y + rr * sin(ang));
        }
        buf_puts(b, "\"/>");
        break;
    }
    }
}

/* FNV-1a: ids for the title and description that differ between two charts on one page. */
static uint32_t fnv(uint32_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct end_label {
    size_t line;
    double y;
};

static int end_label_cmp(const void *a, const void *b)
{
    double x = ((const struct end_label *)a)->y, y = ((const struct end_label *)b)->y;
    return (x > y) - (x < y);
}

static int point_value(const json_t *pt, double *v)
{
    const json_t *jv = json_object_get(pt, "value");
    if (!json_is_number(jv))
        return -1;
    *v = json_number_value(jv);
    return isfinite(*v) ? 0 : -1;
}

char *trend_svg(const json_t *lines, const char *metric, const char *title, const char *lang)
{
    const struct words *w = lang && !strcmp(lang, "en") ? &words_en : &words_nb;
    lang = w == &words_en ? "en" : "nb";
    int coverage = !metric || strcmp(metric, "gap_sum") != 0;
    size_t nlines = json_is_array(lines) ? json_array_size(lines) : 0;

    /* The months the chart spans and the largest value. */
    int64_t first = INT64_MAX, last = -1;
    double max = 0;
    size_t npoints = 0;
    for (size_t l = 0; l < nlines; l++) {
        const json_t *pts = json_object_get(json_array_get(lines, l), "points");
        for (size_t i = 0; i < json_array_size(pts); i++) {
            const json_t *pt = json_array_get(pts, i);
            int64_t mi = month_index(json_string_value(json_object_get(pt, "period")));
            double v;
            if (mi < 0 || point_value(pt, &v))
                continue;
            first = mi < first ? mi : first;
            last = mi > last ? mi : last;
            max = v > max ? v : max;
            npoints++;
        }
    }
    double top = 1, step = 0.25;
    if (!coverage)
        nice_axis(max, &top, &step);

    char id[24];
    snprintf(id, sizeof id, "trend-%08x",
             fnv(fnv(fnv(2166136261u, title), metric), lang) ^ (uint32_t)(npoints * 2654435761u));
    struct buf b = {0};
    buf_printf(&b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"trend-chart\" viewBox=\"0 0 %d %d\" "
               "width=\"%d\" height=\"%d\" role=\"img\" aria-labelledby=\"%s-title %s-desc\" "
               "font-family=\"sans-serif\" font-size=\"12\">",
               W, H, W, H, id, id);
    buf_printf(&b, "<title id=\"%s-title\">", id);
    put_escaped(&b, title ? title : "");
    buf_printf(&b, "</title><desc id=\"%s-desc\">", id);
    /* What the chart shows, in words: each line's first and last value. */
    if (!npoints) {
        put_escaped(&b, w->empty);
    } else {
        buf_printf(&b, "%s, ", coverage ? w->coverage : w->gap_sum);
        put_month(&b, first, w);
        buf_printf(&b, " %s ", w->to);
        put_month(&b, last, w);
        buf_puts(&b, ".");
        for (size_t l = 0; l < nlines; l++) {
            const json_t *line = json_array_get(lines, l);
            const json_t *pts = json_object_get(line, "points");
            const json_t *p0 = NULL, *p1 = NULL;
            double v0 = 0, v1 = 0, v;
            for (size_t i = 0; i < json_array_size(pts); i++) {
                const json_t *pt = json_array_get(pts, i);
                if (month_index(json_string_value(json_object_get(pt, "period"))) < 0 ||
                    point_value(pt, &v))
                    continue;
                if (!p0) {
                    p0 = pt;
                    v0 = v;
                }
                p1 = pt;
                v1 = v;
            }
            if (!p0)
                continue;
            buf_puts(&b, " ");
            put_escaped(&b, json_string_value(json_object_get(line, "name")));
            buf_printf(&b, " (%s): ", w->shapes[l % NSTYLES]);
            put_value(&b, coverage, v0, lang);
            if (p1 != p0) {
                buf_printf(&b, " %s ", w->to);
                put_value(&b, coverage, v1, lang);
            }
            buf_puts(&b, ".");
        }
    }
    buf_puts(&b, "</desc>");

    /* The axes, the grid and their words. */
    buf_printf(&b, "<g class=\"trend-axes\" fill=\"#333333\" stroke=\"none\">");
    int nticks = (int)(top / step + 0.5);
    for (int k = 0; k <= nticks; k++) {
        double t = k * step, y = TOP + PLOT_H - t / top * PLOT_H;
        buf_printf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>", LEFT, y,
                   LEFT + PLOT_W, y, k == 0 ? "#333333" : "#dddddd");
        buf_printf(&b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 6, y + 4);
        put_value(&b, coverage, t, lang);
        buf_puts(&b, "</text>");
    }
    buf_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>", LEFT, TOP,
               LEFT, TOP + PLOT_H);
    int64_t span = npoints ? last - first : 0;
    double xstep = span ? (double)PLOT_W / (double)span : 0;
#define XPOS(mi) (span ? LEFT + (double)((mi) - first) * xstep : LEFT + PLOT_W / 2.0)
    if (npoints) {
        int64_t every = span / 6 + 1;   /* at most seven month labels */
        for (int64_t mi = first; mi <= last; mi++) {
            double x = XPOS(mi);
            buf_printf(&b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333333\"/>",
                       x, TOP + PLOT_H, x, TOP + PLOT_H + 4);
            if ((mi - first) % every)
                continue;
            buf_printf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x,
                       TOP + PLOT_H + 18);
            put_month(&b, mi, w);
            buf_puts(&b, "</text>");
        }
    } else {
        buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", LEFT + PLOT_W / 2,
                   TOP + PLOT_H / 2);
        put_escaped(&b, w->empty);
        buf_puts(&b, "</text>");
    }
    buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>", LEFT + PLOT_W / 2,
               H - 12, w->month);
    buf_printf(&b, "<text x=\"14\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">"
                   "%s</text>",
               TOP + PLOT_H / 2, TOP + PLOT_H / 2, coverage ? w->coverage : w->gap_sum);
    buf_puts(&b, "</g>");

    /* The lines, each with its colour, dash pattern and marker shape. */
    struct end_label *ends = xcalloc(nlines ? nlines : 1, sizeof *ends);
    size_t nends = 0;
    for (size_t l = 0; l < nlines; l++) {
        const json_t *line = json_array_get(lines, l);
        const json_t *pts = json_object_get(line, "points");
        const char *colour = colours[l % NSTYLES], *dash = dashes[l % NSTYLES];
        buf_printf(&b, "<g class=\"trend-line trend-line-%zu\" data-marker=\"%s\" stroke=\"%s\" "
                       "fill=\"%s\">",
                   l % NSTYLES, marker_names[l % NSTYLES], colour, colour);
        buf_puts(&b, "<title>");
        put_escaped(&b, json_string_value(json_object_get(line, "name")));
        buf_puts(&b, "</title>");
        struct buf path = {0};
        double y = 0;
        int n = 0;
        for (size_t i = 0; i < json_array_size(pts); i++) {
            const json_t *pt = json_array_get(pts, i);
            int64_t mi = month_index(json_string_value(json_object_get(pt, "period")));
            double v;
            if (mi < 0 || point_value(pt, &v))
                continue;
            v = v < 0 ? 0 : v > top ? top : v;
            y = TOP + PLOT_H - v / top * PLOT_H;
            buf_printf(&path, "%s%.1f %.1f", n++ ? "L" : "M", XPOS(mi), y);
        }
        if (n > 1) {
            buf_printf(&b, "<path d=\"%s\" fill=\"none\" stroke-width=\"2\"", path.data);
            if (dash)
                buf_printf(&b, " stroke-dasharray=\"%s\"", dash);
            buf_puts(&b, "/>");
        }
        buf_free(&path);
        for (size_t i = 0; i < json_array_size(pts); i++) {
            const json_t *pt = json_array_get(pts, i);
            int64_t mi = month_index(json_string_value(json_object_get(pt, "period")));
            double v;
            if (mi < 0 || point_value(pt, &v))
                continue;
            v = v < 0 ? 0 : v > top ? top : v;
            put_marker(&b, (int)(l % NSTYLES), XPOS(mi), TOP + PLOT_H - v / top * PLOT_H);
        }
        buf_puts(&b, "</g>");
        if (n)
            ends[nends++] = (struct end_label){l, y};
    }
#undef XPOS

    /* The end labels, in the order of their lines' ends, pushed apart so that none overlap. */
    util_sort(ends, nends, sizeof *ends, end_label_cmp);
    for (size_t i = 1; i < nends; i++)
        if (ends[i].y < ends[i - 1].y + LABEL_GAP)
            ends[i].y = ends[i - 1].y + LABEL_GAP;
    if (nends && ends[nends - 1].y > H - 4) {
        double shift = ends[nends - 1].y - (H - 4);
        for (size_t i = 0; i < nends; i++)
            ends[i].y -= shift;
    }
    buf_puts(&b, "<g class=\"trend-labels\" stroke=\"none\">");
    for (size_t i = 0; i < nends; i++) {
        size_t l = ends[i].line;
        const json_t *line = json_array_get(lines, l);
        buf_printf(&b, "<g fill=\"%s\" stroke=\"%s\">", colours[l % NSTYLES],
                   colours[l % NSTYLES]);
        put_marker(&b, (int)(l % NSTYLES), LEFT + PLOT_W + 14, ends[i].y);
        buf_printf(&b, "<text x=\"%d\" y=\"%.1f\" stroke=\"none\" fill=\"#222222\">",
                   LEFT + PLOT_W + 24, ends[i].y + 4);
        put_shortened(&b, json_string_value(json_object_get(line, "name")), LABEL_CHARS);
        buf_puts(&b, "</text></g>");
    }
    buf_puts(&b, "</g></svg>");
    free(ends);
    return buf_steal(&b);
}
