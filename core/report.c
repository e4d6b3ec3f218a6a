/* report: the reports' data, their rendering through the layouts, and the monthly job that mails
 * them (see report.h).
 *
 * What several reports of one run share (the names of requirements and departments, the course
 * catalogue as the matching policy gets it, who attended which course, each course's effect) is
 * read once into a struct report_ctx: a report on demand makes one for itself, the monthly job
 * one for the whole run, so that 50,000 employee reports do not read the catalogue 50,000 times.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "course.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "lua_host.h"
#include "mail.h"
#include "mailtext.h"
#include "oslo.h"
#include "schedule.h"
#include "trend.h"
#include "util.h"

#define TREND_POINTS 12                  /* months of trend a report shows */
#define TREND_SINCE (400 * 86400)        /* how far back the series is read */
#define OPEN_STATES "('invited', 'accepted', 'approved', 'waitlisted')"

int report_known(const char *name)
{
    return name && (!strcmp(name, REPORT_EMPLOYEE) || !strcmp(name, REPORT_DEPARTMENT) ||
                    !strcmp(name, REPORT_ORGANISATION) || !strcmp(name, REPORT_GAPS));
}

/* --- periods ------------------------------------------------------------------------------- */

static int period_parts(const char *s, int *y, int *m)
{
    if (!s || strlen(s) != 7 || s[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    return *y >= 2000 && *y <= 2999 && *m >= 1 && *m <= 12 ? 0 : -1;
}

int report_period_check(const char *s)
{
    int y, m;
    return period_parts(s, &y, &m);
}

void report_period_of(int64_t t, char out[8]) { oslo_month(t, out); }

void report_period_before(const char *period, char out[8])
{
    int y, m;
    if (period_parts(period, &y, &m)) {
        snprintf(out, 8, "%s", "2000-01");
        return;
    }
    if (--m == 0) {
        m = 12;
        y--;
    }
    snprintf(out, 8, "%04u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u);
}

void report_period_bounds(const char *period, int64_t *start, int64_t *end)
{
    int y = 2000, m = 1;
    period_parts(period, &y, &m);
    *start = oslo_from_local(y, m, 1, 0, 0);
    *end = m == 12 ? oslo_from_local(y + 1, 1, 1, 0, 0) : oslo_from_local(y, m + 1, 1, 0, 0);
}

/* --- small JSON helpers -------------------------------------------------------------------- */

static json_t *iso_json(int64_t t)
{
    char s[21];
    util_iso8601(t, s);
    return json_string(s);
}

static json_t *text_json(const char *s) { return json_string(s ? s : ""); }

static json_t *row_json(const struct gap_row *w)
{
    return json_pack("{s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "id", (json_int_t)w->id,
                     "name", text_json(w->name), "employees", (json_int_t)w->employees,
                     "employees_with_gaps", (json_int_t)w->employees_with_gaps, "demanded",
                     (json_int_t)w->demanded, "open_gaps", (json_int_t)w->open_gaps,
                     "unassessed", (json_int_t)w->unassessed, "gap_sum", (json_int_t)w->gap_sum,
                     "coverage", w->coverage);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int has_id(const int64_t *ids, size_t n, int64_t id)
{
    return n && bsearch(&id, ids, n, sizeof *ids, cmp_i64) != NULL;
}

/* Largest gap sum first, then by name: the order of "the largest gaps". */
static int cmp_gap_sum(const void *x, const void *y)
{
    const struct gap_row *a = x, *b = y;
    if (a->gap_sum != b->gap_sum)
        return a->gap_sum > b->gap_sum ? -1 : 1;
    int c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
    return c ? c : cmp_i64(&a->id, &b->id);
}

/* --- what a run shares --------------------------------------------------------------------- */

struct dept {
    int64_t id, parent, manager;
    char *name;
};

struct attended {
    int64_t employee_id, course_id, starts_at;
};

struct report_ctx {
    struct app *a;
    int64_t now;
    int read_failed;            /* a read ended in an error (logged): nothing is made of it */
    /* requirements by id: text, system name */
    size_t nreq;
    char **req_text, **req_system;
    int reqs_loaded;
    /* departments by id (sorted) */
    struct dept *depts;
    size_t ndepts, nroots;
    int depts_loaded;
    /* the course catalogue as the matching policy gets it, and what the reports show of it */
    json_t *courses;          /* array, "completed" set per employee */
    json_t *course_info;      /* {"<id>": {title, sessions: {"<id>": {starts_at, place}}}} */
    /* every attended enrolment, by employee */
    struct attended *att;
    size_t natt;
    int att_loaded;
    json_t *effects;          /* {"<course id>": course_effect's total} */
};

static void ctx_init(struct report_ctx *c, struct app *a, int64_t now)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->now = now;
    c->effects = json_object();
}

static void ctx_free(struct report_ctx *c)
{
    for (size_t i = 0; i < c->nreq; i++) {
        free(c->req_text[i]);
        free(c->req_system[i]);
    }
    free(c->req_text);
    free(c->req_system);
    for (size_t i = 0; i < c->ndepts; i++)
        free(c->depts[i].name);
    free(c->depts);
    json_decref(c->courses);
    json_decref(c->course_info);
    free(c->att);
    json_decref(c->effects);
    memset(c, 0, sizeof *c);
}

/* Steps st to its next row: 1 for a row, 0 at the end. An error ends it too; it is logged and
 * noted in c, so that no report is made from part of the data. */
static int row(struct report_ctx *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE) {
        db_log_error(c->a->db, st);
        c->read_failed = 1;
    }
    return 0;
}

static void ctx_requirements(struct report_ctx *c)
{
    if (c->reqs_loaded)
        return;
    c->reqs_loaded = 1;
    sqlite3_stmt *st = db_stmt(c->a->db, "SELECT r.id, r.text, s.name FROM requirement r "
                                         "JOIN system s ON s.id = r.system_id ORDER BY r.id DESC");
    while (row(c, st)) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (!c->nreq) {   /* the first row has the highest id */
            c->nreq = (size_t)id + 1;
            c->req_text = xcalloc(c->nreq, sizeof *c->req_text);
            c->req_system = xcalloc(c->nreq, sizeof *c->req_system);
        }
        if (id >= 0 && (size_t)id < c->nreq) {
            c->req_text[id] = xstrdup(db_text(st, 1) ? db_text(st, 1) : "");
            c->req_system[id] = xstrdup(db_text(st, 2) ? db_text(st, 2) : "");
        }
    }
    sqlite3_reset(st);
}

static const char *req_text(const struct report_ctx *c, int64_t id)
{
    return id >= 0 && (size_t)id < c->nreq && c->req_text[id] ? c->req_text[id] : "";
}

static const char *req_system(const struct report_ctx *c, int64_t id)
{
    return id >= 0 && (size_t)id < c->nreq && c->req_system[id] ? c->req_system[id] : "";
}

static void ctx_departments(struct report_ctx *c)
{
    if (c->depts_loaded)
        return;
    c->depts_loaded = 1;
    size_t cap = 64;
    c->depts = xmalloc(cap * sizeof *c->depts);
    sqlite3_stmt *st = db_stmt(c->a->db, "SELECT id, coalesce(parent_id, 0), "
                                         "coalesce(manager_id, 0), name FROM department "
                                         "ORDER BY id");
    while (row(c, st)) {
        if (c->ndepts == cap)
            c->depts = xrealloc(c->depts, (cap *= 2) * sizeof *c->depts);
        struct dept *d = &c->depts[c->ndepts++];
        d->id = sqlite3_column_int64(st, 0);
        d->parent = sqlite3_column_int64(st, 1);
        d->manager = sqlite3_column_int64(st, 2);
        d->name = xstrdup(db_text(st, 3) ? db_text(st, 3) : "");
        if (!d->parent)
            c->nroots++;
    }
    sqlite3_reset(st);
}

static const struct dept *dept_of(const struct report_ctx *c, int64_t id)
{
    size_t lo = 0, hi = c->ndepts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->depts[mid].id == id)
            return &c->depts[mid];
        if (c->depts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The catalogue as docs/rules.md gives it to match(): every active course with its
 * prerequisites, requirements and coming sessions with their free places. */
static void ctx_courses(struct report_ctx *c)
{
    if (c->courses)
        return;
    struct db *db = c->a->db;
    c->courses = json_array();
    c->course_info = json_object();
    json_t *by_id = json_object();   /* borrowed course objects */
    sqlite3_stmt *st = db_stmt(db, "SELECT id, title, system_id, series, series_order "
                                   "FROM course WHERE archived = 0 ORDER BY id");
    while (row(c, st)) {
        int64_t id = sqlite3_column_int64(st, 0);
        json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:b, s:[], s:[], s:[]}", "id",
                              (json_int_t)id, "title", text_json(db_text(st, 1)), "system_id",
                              sqlite3_column_type(st, 2) == SQLITE_NULL
                                  ? json_null() : json_integer(sqlite3_column_int64(st, 2)),
                              "series", db_text(st, 3) ? json_string(db_text(st, 3)) : json_null(),
                              "series_order", sqlite3_column_type(st, 4) == SQLITE_NULL
                                  ? json_null() : json_integer(sqlite3_column_int64(st, 4)),
                              "completed", 0, "prerequisites", "requirements", "sessions");
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)id);
        json_object_set(by_id, key, o);
        json_object_set_new(c->course_info, key,
                            json_pack("{s:O, s:{}}", "title", json_object_get(o, "title"),
                                      "sessions"));
        json_array_append_new(c->courses, o);
    }
    sqlite3_reset(st);
    char key[24];
    st = db_stmt(db, "SELECT course_id, prerequisite_id FROM course_prerequisite ORDER BY 1, 2");
    while (row(c, st)) {
        snprintf(key, sizeof key, "%lld", (long long)sqlite3_column_int64(st, 0));
        json_t *o = json_object_get(by_id, key);
        if (o)
            json_array_append_new(json_object_get(o, "prerequisites"),
                                  json_integer(sqlite3_column_int64(st, 1)));
    }
    sqlite3_reset(st);
    st = db_stmt(db, "SELECT course_id, requirement_id, target_level FROM course_requirement "
                     "ORDER BY 1, 2");
    while (row(c, st)) {
        snprintf(key, sizeof key, "%lld", (long long)sqlite3_column_int64(st, 0));
        json_t *o = json_object_get(by_id, key);
        if (o)
            json_array_append_new(json_object_get(o, "requirements"),
                                  json_pack("{s:I, s:i}", "requirement_id",
                                            (json_int_t)sqlite3_column_int64(st, 1),
                                            "target_level", sqlite3_column_int(st, 2)));
    }
    sqlite3_reset(st);
    st = db_stmt(db, "SELECT s.id, s.course_id, s.starts_at, s.capacity, s.place, "
                     "(SELECT count(*) FROM enrolment WHERE session_id = s.id AND state IN "
                     "('approved', 'attended', 'absent')) FROM session s "
                     "WHERE s.cancelled = 0 AND s.starts_at > ? ORDER BY s.starts_at, s.id");
    sqlite3_bind_int64(st, 1, c->now);
    while (row(c, st)) {
        snprintf(key, sizeof key, "%lld", (long long)sqlite3_column_int64(st, 1));
        json_t *o = json_object_get(by_id, key);
        if (!o)
            continue;
        int64_t sid = sqlite3_column_int64(st, 0), starts = sqlite3_column_int64(st, 2),
                capacity = sqlite3_column_int64(st, 3), taken = sqlite3_column_int64(st, 5);
        json_array_append_new(json_object_get(o, "sessions"),
                              json_pack("{s:I, s:I, s:I, s:I}", "id", (json_int_t)sid,
                                        "starts_at", (json_int_t)starts, "capacity",
                                        (json_int_t)capacity, "free",
                                        (json_int_t)(capacity > taken ? capacity - taken : 0)));
        char skey[24];
        snprintf(skey, sizeof skey, "%lld", (long long)sid);
        json_object_set_new(json_object_get(json_object_get(c->course_info, key), "sessions"),
                            skey, json_pack("{s:o, s:o}", "starts_at", iso_json(starts), "place",
                                            text_json(db_text(st, 4))));
    }
    sqlite3_reset(st);
    json_decref(by_id);
}

static int cmp_attended(const void *x, const void *y)
{
    const struct attended *a = x, *b = y;
    if (a->employee_id != b->employee_id)
        return a->employee_id < b->employee_id ? -1 : 1;
    return cmp_i64(&a->course_id, &b->course_id);
}

static void ctx_attended(struct report_ctx *c)
{
    if (c->att_loaded)
        return;
    c->att_loaded = 1;
    size_t cap = 64;
    c->att = xmalloc(cap * sizeof *c->att);
    sqlite3_stmt *st = db_stmt(c->a->db, "SELECT en.employee_id, s.course_id, s.starts_at "
                                         "FROM enrolment en JOIN session s ON s.id = en.session_id "
                                         "WHERE en.state = 'attended'");
    while (row(c, st)) {
        if (c->natt == cap)
            c->att = xrealloc(c->att, (cap *= 2) * sizeof *c->att);
        c->att[c->natt++] = (struct attended){sqlite3_column_int64(st, 0),
                                              sqlite3_column_int64(st, 1),
                                              sqlite3_column_int64(st, 2)};
    }
    sqlite3_reset(st);
    util_sort(c->att, c->natt, sizeof *c->att, cmp_attended);
}

/* The course's effect over all its attendees (course_effect's total), read once per ctx. */
static json_t *effect_of(struct report_ctx *c, int64_t course_id)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)course_id);
    json_t *e = json_object_get(c->effects, key);
    if (!e) {
        json_t *all = course_effect(c->a, course_id);
        json_t *total = all ? json_object_get(all, "total") : NULL;
        e = total ? json_deep_copy(total) : json_null();
        if (total)
            json_object_set(e, "attendees", json_object_get(all, "attendees"));
        json_object_set_new(c->effects, key, e);
        json_decref(all);
    }
    return e;
}

/* The trend of one entity: its last TREND_POINTS monthly points, and how the figures now differ
 * from the newest point of a month before now's. */
static void trend_put(struct report_ctx *c, json_t *data, const char *dimension, int64_t id,
                      const struct gap_row *now_row)
{
    json_t *series = trend_series(c->a, dimension, id, c->now - TREND_SINCE);
    size_t n = json_array_size(series);
    json_t *points = json_array();
    for (size_t i = n > TREND_POINTS ? n - TREND_POINTS : 0; i < n; i++)
        json_array_append(points, json_array_get(series, i));
    char month[8];
    report_period_of(c->now, month);
    json_t *then = NULL;
    for (size_t i = n; i-- > 0;) {
        const char *p = json_string_value(json_object_get(json_array_get(series, i), "period"));
        if (p && strcmp(p, month) < 0) {
            then = json_array_get(series, i);
            break;
        }
    }
    json_object_set_new(data, "trend", points);
    json_object_set_new(
        data, "change",
        then ? json_pack("{s:O, s:f, s:I, s:I}", "since", json_object_get(then, "period"),
                         "coverage",
                         now_row->coverage - json_real_value(json_object_get(then, "coverage")),
                         "gap_sum",
                         (json_int_t)(now_row->gap_sum -
                                      json_integer_value(json_object_get(then, "gap_sum"))),
                         "open_gaps",
                         (json_int_t)(now_row->open_gaps -
                                      json_integer_value(json_object_get(then, "open_gaps"))))
             : json_null());
    json_decref(series);
}

static json_t *base_data(struct report_ctx *c, const char *name, const struct report_params *p)
{
    char period[8];
    if (p->period[0])
        snprintf(period, sizeof period, "%s", p->period);
    else
        report_period_of(c->now, period);
    int64_t start, end;
    report_period_bounds(period, &start, &end);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "report", name, "lang",
                     !strcmp(p->lang, "en") ? "en" : "nb", "period", period, "period_start",
                     iso_json(start), "period_end", iso_json(end), "generated_at",
                     iso_json(c->now));
}

/* --- the employee report ------------------------------------------------------------------- */

/* What changed in [start, end): each requirement assessed then, its level before and after. */
static json_t *changes_of(struct report_ctx *c, int64_t employee_id, int64_t start, int64_t end,
                          const struct gap_cell *cells, size_t ncells, json_t **summary)
{
    json_t *items = json_array();
    int64_t closed = 0, change = 0;
    sqlite3_stmt *st = db_stmt(c->a->db, "SELECT requirement_id, level, source, recorded_at "
                                         "FROM assessment WHERE employee_id = ?1 AND "
                                         "recorded_at < ?2 ORDER BY requirement_id, "
                                         "recorded_at, id");
    sqlite3_bind_int64(st, 1, employee_id);
    sqlite3_bind_int64(st, 2, end);
    int rc = sqlite3_step(st);
    while (rc == SQLITE_ROW) {
        int64_t rid = sqlite3_column_int64(st, 0), at = 0;
        int before = -1, after = -1;
        char source[16] = "";
        while (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == rid) {
            int64_t t = sqlite3_column_int64(st, 3);
            if (t < start) {
                before = sqlite3_column_int(st, 1);
            } else {
                after = sqlite3_column_int(st, 1);
                at = t;
                snprintf(source, sizeof source, "%s", db_text(st, 2) ? db_text(st, 2) : "");
            }
            rc = sqlite3_step(st);
        }
        if (after < 0)
            continue;
        int required = 0;
        for (size_t i = 0; i < ncells; i++)
            if (cells[i].requirement_id == rid)
                required = cells[i].required;
        int gap_before = required - (before < 0 ? 0 : before), gap_after = required - after;
        gap_before = gap_before > 0 ? gap_before : 0;
        gap_after = gap_after > 0 ? gap_after : 0;
        if (gap_before > 0 && gap_after == 0)
            closed++;
        change += gap_after - gap_before;
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s, s:o, s:i, s:s, s:o, s:i, s:i, s:i}",
                             "requirement_id", (json_int_t)rid, "system", req_system(c, rid),
                             "requirement", req_text(c, rid), "before",
                             before < 0 ? json_null() : json_integer(before), "after", after,
                             "source", source, "recorded_at", iso_json(at), "required", required,
                             "gap_before", gap_before, "gap_after", gap_after));
    }
    if (rc != SQLITE_DONE)
        db_log_error(c->a->db, st);
    sqlite3_reset(st);
    *summary = json_pack("{s:I, s:I, s:I}", "assessed", (json_int_t)json_array_size(items),
                         "gaps_closed", (json_int_t)closed, "gap_change", (json_int_t)change);
    return items;
}

/* An employee's enrolments: what they attended (sorted course ids), the courses they have an
 * open place in, and the next steps those make. */
struct enrolments {
    int64_t *attended, *open;
    size_t nattended, nopen;
};

static void enrolments_read(struct report_ctx *c, int64_t employee_id, struct enrolments *en,
                            json_t *steps)
{
    memset(en, 0, sizeof *en);
    size_t cap = 0, capo = 0;
    sqlite3_stmt *st = db_stmt(
        c->a->db, "SELECT en.id, en.state, s.course_id, s.starts_at, s.ends_at, c.title, s.place, "
                  "EXISTS (SELECT 1 FROM evaluation_answer WHERE enrolment_id = en.id) "
                  "FROM enrolment en JOIN session s ON s.id = en.session_id "
                  "JOIN course c ON c.id = s.course_id WHERE en.employee_id = ? "
                  "ORDER BY s.starts_at, en.id");
    sqlite3_bind_int64(st, 1, employee_id);
    while (row(c, st)) {
        const char *state = db_text(st, 1);
        int64_t course = sqlite3_column_int64(st, 2), starts = sqlite3_column_int64(st, 3),
                ends = sqlite3_column_int64(st, 4);
        const char *kind = NULL;
        if (!strcmp(state, "attended")) {
            if (en->nattended == cap)
                en->attended = xrealloc(en->attended, (cap = cap ? 2 * cap : 8) * sizeof(int64_t));
            en->attended[en->nattended++] = course;
            if (!sqlite3_column_int(st, 7))
                kind = "evaluate";
        } else if (strstr(OPEN_STATES, state) && ends > c->now) {
            if (en->nopen == capo)
                en->open = xrealloc(en->open, (capo = capo ? 2 * capo : 8) * sizeof(int64_t));
            en->open[en->nopen++] = course;
            if (starts > c->now)
                kind = !strcmp(state, "invited") ? "answer_invitation"
                       : !strcmp(state, "approved") ? "attend" : NULL;
        }
        if (kind && steps)
            json_array_append_new(
                steps, json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "kind", kind, "enrolment_id",
                                 (json_int_t)sqlite3_column_int64(st, 0), "course_id",
                                 (json_int_t)course, "course", text_json(db_text(st, 5)),
                                 "starts_at", iso_json(starts), "place",
                                 text_json(db_text(st, 6))));
    }
    sqlite3_reset(st);
    util_sort(en->attended, en->nattended, sizeof(int64_t), cmp_i64);
    util_sort(en->open, en->nopen, sizeof(int64_t), cmp_i64);
}

/* The matching policy's proposals for one employee's open gaps, without the courses they have
 * an open place in already. */
static json_t *proposals_of(struct report_ctx *c, int64_t employee_id, const char *name,
                            int64_t department_id, const struct gap_cell *cells, size_t ncells,
                            const struct enrolments *en)
{
    json_t *out = json_array();
    struct lh *rules = c->a->rules;
    int open = 0;
    for (size_t i = 0; i < ncells; i++)
        open += cells[i].gap > 0;
    if (!rules || !lh_has_matching(rules) || !open)
        return out;
    ctx_courses(c);
    if (!json_array_size(c->courses))
        return out;
    ctx_requirements(c);
    json_t *gaps = json_array();
    for (size_t i = 0; i < ncells; i++) {
        const struct gap_cell *g = &cells[i];
        if (g->gap <= 0)
            continue;
        const char *cls = lh_class_name(rules, g->class_id);
        json_array_append_new(
            gaps, json_pack("{s:I, s:I, s:s, s:s, s:i, s:i, s:i, s:o}", "requirement_id",
                            (json_int_t)g->requirement_id, "system_id", (json_int_t)g->system_id,
                            "requirement", req_text(c, g->requirement_id), "system",
                            req_system(c, g->requirement_id), "required", g->required, "actual",
                            g->actual, "gap", g->gap, "class",
                            cls ? json_string(cls) : json_null()));
    }
    json_t *profiles = json_array();
    sqlite3_stmt *st = db_stmt(c->a->db, "SELECT profile_id FROM assignment WHERE "
                                         "employee_id = ? ORDER BY profile_id");
    sqlite3_bind_int64(st, 1, employee_id);
    while (row(c, st))
        json_array_append_new(profiles, json_integer(sqlite3_column_int64(st, 0)));
    sqlite3_reset(st);
    json_t *employee = json_pack("{s:I, s:s, s:I, s:o}", "id", (json_int_t)employee_id, "name",
                                 name, "department_id", (json_int_t)department_id, "profiles",
                                 profiles);
    size_t i;
    json_t *course;
    json_array_foreach(c->courses, i, course) {
        int64_t id = json_integer_value(json_object_get(course, "id"));
        json_object_set_new(course, "completed",
                            json_boolean(has_id(en->attended, en->nattended, id)));
    }
    json_t *proposals = NULL;
    char *err = NULL;
    if (lh_match(rules, employee, gaps, c->courses, &proposals, &err)) {
        fprintf(stderr, "evne: report: matching employee %lld: %s\n", (long long)employee_id, err);
        free(err);
    } else {
        json_t *p;
        json_array_foreach(proposals, i, p) {
            int64_t id = json_integer_value(json_object_get(p, "course"));
            if (has_id(en->open, en->nopen, id))
                continue;
            char key[24];
            snprintf(key, sizeof key, "%lld", (long long)id);
            json_t *info = json_object_get(c->course_info, key);
            json_t *sid = json_object_get(p, "session");
            json_t *session = NULL;
            if (json_is_integer(sid)) {
                char skey[24];
                snprintf(skey, sizeof skey, "%lld", (long long)json_integer_value(sid));
                session = json_object_get(json_object_get(info, "sessions"), skey);
            }
            json_array_append_new(
                out, json_pack("{s:I, s:O, s:O, s:O, s:O, s:O, s:O}", "course_id",
                               (json_int_t)id, "title", json_object_get(info, "title"),
                               "session_id", json_is_integer(sid) ? sid : json_null(),
                               "starts_at",
                               session ? json_object_get(session, "starts_at") : json_null(),
                               "place", session ? json_object_get(session, "place") : json_null(),
                               "reason", json_object_get(p, "reason"), "priority",
                               json_object_get(p, "priority")));
        }
        json_decref(proposals);
    }
    json_decref(employee);
    json_decref(gaps);
    return out;
}

static int employee_data(struct report_ctx *c, const struct report_params *p, json_t **out,
                         struct derr *e)
{
    int64_t id = p->employee_id;
    sqlite3_stmt *st = db_stmt(c->a->db, "SELECT name, email, department_id, position_title, "
                                         "archived FROM employee WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 4)) {
        sqlite3_reset(st);
        return derr(e, 422, "invalid", "employee_id", "there is no active employee %lld",
                    (long long)id);
    }
    char *name = xstrdup(db_text(st, 0) ? db_text(st, 0) : "");
    json_t *employee = json_pack("{s:I, s:s, s:o, s:I, s:o}", "id", (json_int_t)id, "name", name,
                                 "email", text_json(db_text(st, 1)), "department_id",
                                 (json_int_t)sqlite3_column_int64(st, 2), "position_title",
                                 text_json(db_text(st, 3)));
    int64_t dept_id = sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    ctx_departments(c);
    const struct dept *d = dept_of(c, dept_id);
    json_object_set_new(employee, "department", text_json(d ? d->name : ""));

    struct gap_cell *cells = NULL;
    size_t ncells = 0;
    struct gap_row sum;
    if (gap_employee(c->a->gap, id, &cells, &ncells, &sum)) {
        free(name);
        json_decref(employee);
        return derr(e, 422, "invalid", "employee_id", "there is no active employee %lld",
                    (long long)id);
    }
    ctx_requirements(c);
    json_t *data = base_data(c, REPORT_EMPLOYEE, p);
    json_object_set_new(data, "employee", employee);
    json_object_set_new(data, "summary",
                        json_pack("{s:I, s:I, s:I, s:I, s:f}", "demanded", (json_int_t)sum.demanded,
                                  "open_gaps", (json_int_t)sum.open_gaps, "unassessed",
                                  (json_int_t)sum.unassessed, "gap_sum", (json_int_t)sum.gap_sum,
                                  "coverage", sum.coverage));
    json_t *gaps = json_array();
    struct lh *rules = c->a->rules;
    for (size_t i = 0; i < ncells; i++) {
        const struct gap_cell *g = &cells[i];
        if (g->gap <= 0)
            continue;
        const char *cls = rules ? lh_class_name(rules, g->class_id) : NULL;
        json_array_append_new(
            gaps, json_pack("{s:I, s:I, s:s, s:s, s:i, s:i, s:i, s:o, s:b, s:o}",
                            "requirement_id", (json_int_t)g->requirement_id, "system_id",
                            (json_int_t)g->system_id, "system", req_system(c, g->requirement_id),
                            "requirement", req_text(c, g->requirement_id), "required",
                            g->required, "actual", g->actual, "gap", g->gap, "class",
                            cls ? json_string(cls) : json_null(), "unassessed", g->unassessed,
                            "assessed_at", g->unassessed ? json_null() : iso_json(g->assessed_at)));
    }
    json_object_set_new(data, "gaps", gaps);

    int64_t start, end;
    report_period_bounds(json_string_value(json_object_get(data, "period")), &start, &end);
    json_t *changes_summary;
    /* up to now, this second included, for the month that is running */
    json_object_set_new(data, "changes", changes_of(c, id, start, end <= c->now ? end : c->now + 1,
                                                    cells, ncells, &changes_summary));
    json_object_set_new(data, "changes_summary", changes_summary);

    json_t *steps = json_array();
    struct enrolments en;
    enrolments_read(c, id, &en, steps);
    json_t *proposals = proposals_of(c, id, name, dept_id, cells, ncells, &en);
    json_object_set_new(data, "proposals", proposals);
    if (sum.unassessed > 0)
        json_array_append_new(steps, json_pack("{s:s, s:I}", "kind", "assess", "count",
                                               (json_int_t)sum.unassessed));
    if (json_array_size(proposals)) {
        json_t *first = json_array_get(proposals, 0);
        json_array_append_new(steps, json_pack("{s:s, s:O, s:O, s:O, s:O}", "kind", "enrol",
                                               "course_id", json_object_get(first, "course_id"),
                                               "course", json_object_get(first, "title"),
                                               "starts_at", json_object_get(first, "starts_at"),
                                               "place", json_object_get(first, "place")));
    }
    json_object_set_new(data, "next_steps", steps);
    free(en.attended);
    free(en.open);
    free(cells);
    free(name);
    *out = data;
    return 0;
}

/* --- the department report ----------------------------------------------------------------- */

static int cmp_unassessed(const void *x, const void *y)
{
    const struct gap_row *a = x, *b = y;
    if (a->unassessed != b->unassessed)
        return a->unassessed > b->unassessed ? -1 : 1;
    int c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
    return c ? c : cmp_i64(&a->id, &b->id);
}

/* The courses the employees (sorted ids) attended: per course how many of them, how many in the
 * period, the last session, and the course's effect over all its attendees. */
static json_t *courses_attended(struct report_ctx *c, const int64_t *emps, size_t nemps,
                                int64_t start, int64_t end)
{
    ctx_attended(c);
    ctx_courses(c);
    struct tally {
        int64_t course, people, in_period, last, seen_employee;
    } *t = NULL;
    size_t nt = 0;
    for (size_t i = 0; i < c->natt; i++) {
        const struct attended *at = &c->att[i];
        if (!has_id(emps, nemps, at->employee_id))
            continue;
        struct tally *x = NULL;
        for (size_t k = 0; k < nt && !x; k++)
            if (t[k].course == at->course_id)
                x = &t[k];
        if (!x) {
            t = xrealloc(t, (nt + 1) * sizeof *t);
            x = &t[nt++];
            *x = (struct tally){at->course_id, 0, 0, 0, -1};
        }
        /* att is sorted by employee, then course: one employee's rows of a course are together */
        if (x->seen_employee != at->employee_id) {
            x->people++;
            x->seen_employee = at->employee_id;
        }
        if (at->starts_at >= start && at->starts_at < end)
            x->in_period++;
        if (at->starts_at > x->last)
            x->last = at->starts_at;
    }
    json_t *out = json_array();
    for (size_t k = 0; k < nt; k++) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)t[k].course);
        json_t *info = json_object_get(c->course_info, key);
        const char *title = NULL;
        if (!info) {   /* archived: not in the catalogue the policy gets */
            sqlite3_stmt *st = db_stmt(c->a->db, "SELECT title FROM course WHERE id = ?");
            sqlite3_bind_int64(st, 1, t[k].course);
            if (row(c, st) && db_text(st, 0)) {
                json_object_set_new(c->course_info, key,
                                    json_pack("{s:s, s:{}}", "title", db_text(st, 0), "sessions"));
                info = json_object_get(c->course_info, key);
            }
            sqlite3_reset(st);
        }
        title = info ? json_string_value(json_object_get(info, "title")) : "";
        json_array_append_new(out, json_pack("{s:I, s:s, s:I, s:I, s:o, s:O}", "course_id",
                                             (json_int_t)t[k].course, "title", title ? title : "",
                                             "attendees", (json_int_t)t[k].people, "in_period",
                                             (json_int_t)t[k].in_period, "last_session_at",
                                             iso_json(t[k].last), "effect",
                                             effect_of(c, t[k].course)));
    }
    free(t);
    return out;
}

static int department_data(struct report_ctx *c, const struct report_params *p, json_t **out,
                           struct derr *e)
{
    ctx_departments(c);
    const struct dept *d = dept_of(c, p->department_id);
    if (!d)
        return derr(e, 422, "invalid", "department_id", "there is no department %lld",
                    (long long)p->department_id);
    struct gap_index *gx = c->a->gap;
    ctx_requirements(c);
    json_t *data = base_data(c, REPORT_DEPARTMENT, p);
    json_t *manager = json_null();
    if (d->manager) {
        sqlite3_stmt *st = db_stmt(c->a->db, "SELECT name FROM employee WHERE id = ?");
        sqlite3_bind_int64(st, 1, d->manager);
        if (row(c, st))
            manager = json_pack("{s:I, s:o}", "id", (json_int_t)d->manager, "name",
                                text_json(db_text(st, 0)));
        sqlite3_reset(st);
    }
    json_object_set_new(data, "department",
                        json_pack("{s:I, s:s, s:o, s:o}", "id", (json_int_t)d->id, "name",
                                  d->name, "parent_id",
                                  d->parent ? json_integer(d->parent) : json_null(), "manager",
                                  manager));
    /* The only root's subtree is everyone: the index's running totals answer that at once,
     * where a filter would measure every employee. */
    int64_t id = d->id;
    struct gap_filter scope = {.departments = &id, .ndepartments = 1};
    const struct gap_filter *f = !d->parent && c->nroots == 1 ? NULL : &scope;

    struct gap_row *rows, summary = {.id = d->id, .name = d->name, .coverage = 1};
    size_t n;
    gap_rollup(gx, GAP_BY_DEPARTMENT, NULL, &rows, &n);
    for (size_t i = 0; i < n; i++)
        if (rows[i].id == d->id)
            summary = rows[i];
    json_object_set_new(data, "summary", row_json(&summary));
    trend_put(c, data, "department", d->id, &summary);
    free(rows);

    /* who has not assessed themselves: demanded requirements that nobody has assessed; the
     * REPORT_MAX_PEOPLE with the most kept in a heap whose top is the least of them, so that a
     * department of 50,000 is not sorted for its first hundred */
    gap_rollup(gx, GAP_BY_EMPLOYEE, f, &rows, &n);
    int64_t *emps = xmalloc((n ? n : 1) * sizeof *emps);
    struct gap_row top[REPORT_MAX_PEOPLE];
    size_t k = 0, ntop = 0;
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        emps[i] = rows[i].id;
        sorted &= i == 0 || emps[i - 1] < emps[i];
        if (rows[i].unassessed <= 0)
            continue;
        k++;
        if (ntop < REPORT_MAX_PEOPLE) {
            size_t at = ntop++;   /* sift up: the least (in report order) at the top */
            while (at && cmp_unassessed(&rows[i], &top[(at - 1) / 2]) > 0) {
                top[at] = top[(at - 1) / 2];
                at = (at - 1) / 2;
            }
            top[at] = rows[i];
        } else if (cmp_unassessed(&rows[i], &top[0]) < 0) {
            size_t at = 0;   /* sift down from the top */
            for (;;) {
                size_t l = 2 * at + 1, r = l + 1, worst = at;
                const struct gap_row *w = &rows[i];
                if (l < ntop && cmp_unassessed(&top[l], w) > 0)
                    w = &top[worst = l];
                if (r < ntop && cmp_unassessed(&top[r], w) > 0)
                    w = &top[worst = r];
                if (worst == at)
                    break;
                top[at] = top[worst];
                at = worst;
            }
            top[at] = rows[i];
        }
    }
    if (!sorted)
        util_sort(emps, n, sizeof *emps, cmp_i64);
    size_t nemps = n;
    util_sort(top, ntop, sizeof *top, cmp_unassessed);
    json_t *people = json_array();
    for (size_t i = 0; i < ntop; i++) {
        sqlite3_stmt *st = db_stmt(c->a->db, "SELECT max(recorded_at) FROM assessment WHERE "
                                             "employee_id = ? AND source = 'self'");
        sqlite3_bind_int64(st, 1, top[i].id);
        json_t *last = json_null();
        if (row(c, st) && sqlite3_column_type(st, 0) != SQLITE_NULL)
            last = iso_json(sqlite3_column_int64(st, 0));
        sqlite3_reset(st);
        const struct dept *ed = dept_of(c, gap_employee_department(gx, top[i].id));
        json_array_append_new(people, json_pack("{s:I, s:o, s:o, s:I, s:I, s:I, s:o}", "id",
                                                 (json_int_t)top[i].id, "name",
                                                 text_json(top[i].name), "department",
                                                 text_json(ed ? ed->name : ""), "unassessed",
                                                 (json_int_t)top[i].unassessed, "demanded",
                                                 (json_int_t)top[i].demanded, "open_gaps",
                                                 (json_int_t)top[i].open_gaps, "last_self_assessment",
                                                 last));
    }
    json_object_set_new(data, "not_assessed", people);
    json_object_set_new(data, "not_assessed_total", json_integer((json_int_t)k));
    free(rows);

    /* the largest gaps by system (every system demanded here) and by requirement */
    gap_rollup(gx, GAP_BY_SYSTEM, f, &rows, &n);
    util_sort(rows, n, sizeof *rows, cmp_gap_sum);
    json_t *systems = json_array();
    for (size_t i = 0; i < n; i++)
        if (rows[i].demanded > 0)
            json_array_append_new(systems, row_json(&rows[i]));
    json_object_set_new(data, "systems", systems);
    free(rows);
    gap_rollup(gx, GAP_BY_REQUIREMENT, f, &rows, &n);
    util_sort(rows, n, sizeof *rows, cmp_gap_sum);
    json_t *reqs = json_array();
    for (size_t i = 0; i < n && json_array_size(reqs) < REPORT_MAX_REQUIREMENTS; i++) {
        if (rows[i].gap_sum <= 0)
            break;
        json_t *o = row_json(&rows[i]);
        json_object_set_new(o, "system", json_string(req_system(c, rows[i].id)));
        json_object_set_new(o, "requirement", json_string(req_text(c, rows[i].id)));
        json_array_append_new(reqs, o);
    }
    json_object_set_new(data, "requirements", reqs);
    free(rows);

    int64_t start, end;
    report_period_bounds(json_string_value(json_object_get(data, "period")), &start, &end);
    json_object_set_new(data, "courses", courses_attended(c, emps, nemps, start, end));
    free(emps);
    *out = data;
    return 0;
}

/* --- the organisation report --------------------------------------------------------------- */

struct tree {
    const struct dept **kids;      /* every department, by parent, then name */
    size_t n;
    const struct gap_row *rows;    /* sorted by id */
    size_t nrows;
    json_t *out;
};

static int cmp_by_parent(const void *x, const void *y)
{
    const struct dept *a = *(const struct dept *const *)x, *b = *(const struct dept *const *)y;
    if (a->parent != b->parent)
        return a->parent < b->parent ? -1 : 1;
    int c = strcmp(a->name, b->name);
    return c ? c : cmp_i64(&a->id, &b->id);
}

static int cmp_row_id(const void *x, const void *y)
{
    return cmp_i64(&((const struct gap_row *)x)->id, &((const struct gap_row *)y)->id);
}

/* The departments under parent (0: the roots) by name, each followed by its own. */
static void tree_visit(struct tree *t, int64_t parent, int depth)
{
    size_t lo = 0, hi = t->n;   /* the first child of parent */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->kids[mid]->parent < parent)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < t->n && t->kids[i]->parent == parent; i++) {
        const struct dept *d = t->kids[i];
        if (d->id == parent || depth >= 64)
            continue;
        struct gap_row key = {.id = d->id}, r = {.id = d->id, .name = d->name, .coverage = 1};
        const struct gap_row *found = bsearch(&key, t->rows, t->nrows, sizeof *t->rows,
                                              cmp_row_id);
        if (found)
            r = *found;
        json_t *o = row_json(&r);
        json_object_set_new(o, "depth", json_integer(depth));
        json_object_set_new(o, "parent_id", parent ? json_integer(parent) : json_null());
        json_array_append_new(t->out, o);
        tree_visit(t, d->id, depth + 1);
    }
}

static int organisation_data(struct report_ctx *c, const struct report_params *p, json_t **out)
{
    ctx_departments(c);
    struct gap_index *gx = c->a->gap;
    json_t *data = base_data(c, REPORT_ORGANISATION, p);
    struct gap_row *rows, total = {.coverage = 1};
    size_t n;
    gap_rollup(gx, GAP_BY_DEPARTMENT, NULL, &rows, &n);
    /* the whole organisation: the roots' subtrees are disjoint, so their rows add up */
    for (size_t i = 0; i < n; i++) {
        const struct dept *d = dept_of(c, rows[i].id);
        if (!d || d->parent)
            continue;
        total.employees += rows[i].employees;
        total.employees_with_gaps += rows[i].employees_with_gaps;
        total.demanded += rows[i].demanded;
        total.open_gaps += rows[i].open_gaps;
        total.unassessed += rows[i].unassessed;
        total.gap_sum += rows[i].gap_sum;
    }
    total.coverage = total.demanded ? 1.0 - (double)total.open_gaps / (double)total.demanded : 1;
    json_t *sum = row_json(&total);
    json_object_del(sum, "id");
    json_object_del(sum, "name");
    json_object_set_new(data, "summary", sum);
    trend_put(c, data, "organisation", 0, &total);
    util_sort(rows, n, sizeof *rows, cmp_row_id);
    struct tree t = {xmalloc((c->ndepts ? c->ndepts : 1) * sizeof *t.kids), c->ndepts, rows, n,
                     json_array()};
    for (size_t i = 0; i < c->ndepts; i++)
        t.kids[i] = &c->depts[i];
    util_sort(t.kids, t.n, sizeof *t.kids, cmp_by_parent);
    tree_visit(&t, 0, 0);
    free(t.kids);
    json_object_set_new(data, "departments", t.out);
    free(rows);
    gap_rollup(gx, GAP_BY_SYSTEM, NULL, &rows, &n);
    util_sort(rows, n, sizeof *rows, cmp_gap_sum);
    json_t *systems = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(systems, row_json(&rows[i]));
    json_object_set_new(data, "systems", systems);
    free(rows);
    *out = data;
    return 0;
}

/* --- the gap roll-up ----------------------------------------------------------------------- */

static int gaps_data(struct report_ctx *c, const struct report_params *p, json_t **out,
                     struct derr *e)
{
    static const char *const dims[] = {"employee", "department", "profile", "system",
                                       "requirement"};
    int dim = -1;
    const char *by = p->by[0] ? p->by : "department";
    for (int i = 0; i < 5; i++)
        if (!strcmp(by, dims[i]))
            dim = i;
    if (dim < 0)
        return derr(e, 422, "invalid", "by", "'by' is employee, department, profile, system or "
                                             "requirement, not '%s'", by);
    int64_t id = p->department_id;
    struct gap_filter f = {.departments = p->departments, .ndepartments = p->ndepartments};
    if (id) {
        ctx_departments(c);
        if (!dept_of(c, id))
            return derr(e, 422, "invalid", "department_id", "there is no department %lld",
                        (long long)id);
        f.departments = &id;
        f.ndepartments = 1;
    }
    struct gap_row *rows;
    size_t n;
    gap_rollup(c->a->gap, (enum gap_dim)dim, f.ndepartments ? &f : NULL, &rows, &n);
    util_sort(rows, n, sizeof *rows, cmp_gap_sum);
    json_t *data = base_data(c, REPORT_GAPS, p);
    json_object_set_new(data, "by", json_string(by));
    json_object_set_new(data, "title", json_string(!strcmp(p->lang, "en") ? "Competence gaps"
                                                                          : "Kompetansegap"));
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, row_json(&rows[i]));
    json_object_set_new(data, "rows", items);
    free(rows);
    *out = data;
    return 0;
}

static int data_in(struct report_ctx *c, const char *name, const struct report_params *p,
                   json_t **data, struct derr *e)
{
    *data = NULL;
    c->read_failed = 0;
    int rc;
    if (!strcmp(name, REPORT_EMPLOYEE))
        rc = employee_data(c, p, data, e);
    else if (!strcmp(name, REPORT_DEPARTMENT))
        rc = department_data(c, p, data, e);
    else if (!strcmp(name, REPORT_ORGANISATION))
        rc = organisation_data(c, p, data);
    else if (!strcmp(name, REPORT_GAPS))
        rc = gaps_data(c, p, data, e);
    else
        return derr(e, 404, "not_found", NULL, "there is no report named '%s'", name);
    if (rc == 0 && c->read_failed) {
        json_decref(*data);
        *data = NULL;
        return derr(e, 500, "internal", NULL, "the database could not be read (see the log)");
    }
    return rc;
}

int report_data(struct app *a, const char *name, const struct report_params *p, int64_t now,
                json_t **data, struct derr *e)
{
    if (p->period[0] && report_period_check(p->period))
        return derr(e, 422, "invalid", "period", "'period' is a month written YYYY-MM, not '%s'",
                    p->period);
    struct report_ctx c;
    ctx_init(&c, a, now);
    /* one read transaction: one consistent picture, and no lock taken per statement */
    int reading = db_exec(a->db, "BEGIN") == 0;
    int rc = data_in(&c, name, p, data, e);
    if (reading)
        db_exec(a->db, "COMMIT");
    ctx_free(&c);
    return rc;
}

int report_render(struct app *a, const char *name, const char *format, const json_t *data,
                  struct buf *out, char **err)
{
    if (!a->rules) {
        *err = xstrdup("the rules are not loaded");
        return -1;
    }
    return lh_report_render(a->rules, name, format, data, out, err);
}

static void html_escape(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

char *report_document(const char *title, const char *lang, const char *html)
{
    struct buf b = {0};
    buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>", lang && !strcmp(lang, "en") ? "en" : "nb");
    html_escape(&b, title);
    buf_puts(&b, "</title>\n<style>\n"
                 "body { font-family: Arial, Helvetica, sans-serif; color: #1a1a1a; "
                 "line-height: 1.4; margin: 1em; max-width: 60em; }\n"
                 "table { border-collapse: collapse; margin: 0.5em 0 1.5em; }\n"
                 "caption { text-align: left; font-weight: bold; padding: 0.25em 0; }\n"
                 "th, td { border: 1px solid #b0b0b0; padding: 0.25em 0.5em; text-align: left; "
                 "vertical-align: top; }\n"
                 "th.num, td.num { text-align: right; }\n"
                 "thead th { background: #eeeeee; }\n"
                 "</style>\n</head>\n<body>\n");
    buf_puts(&b, html ? html : "");
    buf_puts(&b, "</body>\n</html>\n");
    return buf_steal(&b);
}

/* --- the monthly job ------------------------------------------------------------------------ */

enum phase { PHASE_EMPLOYEES, PHASE_DEPARTMENTS, PHASE_ADVISERS, PHASE_DONE };

#define FAILS_IN_A_ROW 20           /* the run stops after this many reports failed in a row */

static const char *const phase_report[] = {REPORT_EMPLOYEE, REPORT_DEPARTMENT,
                                           REPORT_ORGANISATION};

/* One recipient of one report. */
struct item {
    int64_t recipient, subject;
    char *name, *email;
    char lang[3];
    char *department;              /* the department report's department */
};

static void item_free(struct item *it)
{
    free(it->name);
    free(it->email);
    free(it->department);
    memset(it, 0, sizeof *it);
}

/* One report mail is made in stages, each done in one go but the next perhaps in the next
 * step, so that no step holds the loop for a whole large report (the organisation's: its data,
 * HTML and CSV take 3, 2 and 5 ms at 50,000 employees): the data, then the HTML, then the CSV,
 * then the mail with its report_sent row. */
enum stage { STAGE_DATA, STAGE_HTML, STAGE_CSV, STAGE_QUEUE, NSTAGES };

struct making {
    int active;
    const char *report;
    struct item it;
    enum stage stage;
    json_t *data;
    struct buf html, csv;
};

static void making_free(struct making *m)
{
    item_free(&m->it);
    json_decref(m->data);
    buf_free(&m->html);
    buf_free(&m->csv);
    memset(m, 0, sizeof *m);
}

struct job {
    struct report_ctx ctx;
    char period[8];
    enum phase phase;
    int64_t after;                 /* the last id (employee, department) done in this phase */
    int64_t cost_us[3][NSTAGES];   /* what each stage of the last item of a phase took */
    int64_t commit_us;             /* what the last step's commit took */
    int warm;                      /* what the reports share is read (the first step) */
    int64_t counts[3], mails, errors, skipped;
    /* where the time of long steps goes, for the summary: the first step's reading, the
     * longest report (all its stages) and the longest commit */
    int64_t warm_us, longest_item_us, longest_item_subject, longest_commit_us;
    enum phase longest_item_phase;
    int64_t item_us;               /* the report being made, so far */
    size_t effects_at;             /* the courses' effects measured so far, by ctx.att */
    struct making making;          /* the report being made, between steps */
    int in_a_row;                  /* reports that failed since the last one sent */
    char *last_error;
};

/* The next recipient of the phase after j->after, by id: 1 and *it, or 0 when the phase is
 * done. One indexed statement per item, so that a step never reads a whole table. */
static int next_item(struct job *j, struct item *it)
{
    struct db *db = j->ctx.a->db;
    sqlite3_stmt *st;
    switch (j->phase) {
    case PHASE_EMPLOYEES:
        st = db_stmt(db, "SELECT id, id, name, email, lang, NULL FROM employee "
                         "WHERE id > ? AND archived = 0 ORDER BY id LIMIT 1");
        break;
    case PHASE_DEPARTMENTS:
        st = db_stmt(db, "SELECT e.id, d.id, e.name, e.email, e.lang, d.name FROM department d "
                         "JOIN employee e ON e.id = d.manager_id AND e.archived = 0 "
                         "WHERE d.id > ? ORDER BY d.id LIMIT 1");
        break;
    case PHASE_ADVISERS:
        st = db_stmt(db, "SELECT id, 0, name, email, lang, NULL FROM employee WHERE id > ? AND "
                         "archived = 0 AND (roles & 4) != 0 ORDER BY id LIMIT 1");
        break;
    default:
        return 0;
    }
    sqlite3_bind_int64(st, 1, j->after);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        it->recipient = sqlite3_column_int64(st, 0);
        it->subject = sqlite3_column_int64(st, 1);
        it->name = xstrdup(db_text(st, 2) ? db_text(st, 2) : "");
        it->email = xstrdup(db_text(st, 3) ? db_text(st, 3) : "");
        snprintf(it->lang, sizeof it->lang, "%s",
                 db_text(st, 4) && !strcmp(db_text(st, 4), "en") ? "en" : "nb");
        it->department = db_text(st, 5) ? xstrdup(db_text(st, 5)) : NULL;
        j->after = j->phase == PHASE_DEPARTMENTS ? it->subject : it->recipient;
    }
    sqlite3_reset(st);
    return found;
}

static int already_sent(struct job *j, const char *report, const struct item *it)
{
    sqlite3_stmt *st = db_stmt(j->ctx.a->db, "SELECT 1 FROM report_sent WHERE report = ? AND "
                                             "period = ? AND recipient_id = ? AND subject_id = ?");
    sqlite3_bind_text(st, 1, report, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->period, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, it->recipient);
    sqlite3_bind_int64(st, 4, it->subject);
    int sent = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return sent;
}

/* Queues the finished report as one mail with its report_sent row, inside the step's
 * transaction (a savepoint of its own, so that a failure leaves nothing of it). 0, or -1 with
 * *err (owned) saying why. */
static int queue_one(struct job *j, struct making *mk, char **err)
{
    struct app *a = j->ctx.a;
    const struct item *it = &mk->it;
    const char *report = mk->report;
    struct mail_text text = {0};
    char *doc = NULL, *attachment = NULL;
    int rc = -1;
    json_t *vars = json_pack("{s:s, s:s, s:s, s:O}", "name", it->name, "period", j->period,
                             "report", report, "summary", json_object_get(mk->data, "summary"));
    int y = atoi(j->period), m = atoi(j->period + 5);
    json_object_set_new(vars, "year", json_integer(y));
    json_object_set_new(vars, "month", json_integer(m));
    if (it->department)
        json_object_set_new(vars, "department", json_string(it->department));
    char tmpl[32];
    snprintf(tmpl, sizeof tmpl, "report_%s", report);
    int trc = mail_text_render(a, tmpl, it->lang, vars, &text, err);
    json_decref(vars);
    if (trc)
        goto out;
    doc = report_document(text.subject, it->lang, mk->html.data);
    attachment = xasprintf("evne-%s-%s.csv", report, j->period);
    struct mail m_ = {.kind = "report", .to = it->email, .subject = text.subject,
                      .body = text.text, .html = doc, .attachment_name = attachment,
                      .attachment_type = "text/csv; charset=UTF-8", .attachment = mk->csv.data};
    struct db *db = a->db;
    if (db_exec(db, "SAVEPOINT report_mail")) {
        *err = xstrdup("the database refused a savepoint (see the log)");
        goto out;
    }
    int ok = mail_queue(db, &m_) == 0;
    if (ok) {
        int64_t outbox = sqlite3_last_insert_rowid(db_handle(db));
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO report_sent (report, period, recipient_id, "
                                       "subject_id, outbox_id, sent_at) VALUES (?, ?, ?, ?, ?, ?)");
        sqlite3_bind_text(st, 1, report, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, j->period, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, it->recipient);
        sqlite3_bind_int64(st, 4, it->subject);
        sqlite3_bind_int64(st, 5, outbox);
        sqlite3_bind_int64(st, 6, util_now());
        ok = db_exec_stmt(db, st) == 0;
    }
    if (!ok) {
        db_exec(db, "ROLLBACK TO report_mail");
        *err = xstrdup("the mail could not be stored (see the log)");
    }
    db_exec(db, "RELEASE report_mail");
    rc = ok ? 0 : -1;
out:
    free(attachment);
    free(doc);
    mail_text_free(&text);
    return rc;
}

/* Does the next stage of mk: 1 when the mail was queued, 0 when a stage was done and more
 * remain, -1 with *err (owned) when this report cannot be sent. */
static int make_stage(struct job *j, struct making *mk, char **err)
{
    struct app *a = j->ctx.a;
    switch (mk->stage) {
    case STAGE_DATA: {
        if (!mail_address_ok(mk->it.email)) {
            *err = xasprintf("'%s' is not an address mail can be sent to", mk->it.email);
            return -1;
        }
        struct report_params p = {.employee_id = mk->it.subject,
                                  .department_id = mk->it.subject};
        snprintf(p.period, sizeof p.period, "%s", j->period);
        snprintf(p.lang, sizeof p.lang, "%s", mk->it.lang);
        struct derr e;
        if (data_in(&j->ctx, mk->report, &p, &mk->data, &e)) {
            *err = xstrdup(e.message);
            return -1;
        }
        break;
    }
    case STAGE_HTML:
        if (report_render(a, mk->report, "html", mk->data, &mk->html, err))
            return -1;
        break;
    case STAGE_CSV:
        if (report_render(a, mk->report, "csv", mk->data, &mk->csv, err))
            return -1;
        break;
    case STAGE_QUEUE:
        return queue_one(j, mk, err) ? -1 : 1;
    case NSTAGES: break;
    }
    mk->stage++;
    return 0;
}

static void *job_start(struct app *a, const struct sched_run *run, char **err)
{
    /* a missing layout fails the whole run, not each of its thousands of mails */
    json_t *layouts = NULL;
    if (!a->rules) {
        *err = xstrdup("the rules are not loaded");
        return NULL;
    }
    lh_reports(a->rules, &layouts);
    for (int k = 0; k < 3; k++) {
        int found = 0;
        size_t i;
        json_t *l;
        json_array_foreach(layouts, i, l) {
            found |= !strcmp(json_string_value(json_object_get(l, "name")), phase_report[k]);
        }
        if (!found) {
            json_decref(layouts);
            *err = xasprintf("there is no report layout named '%s' in the rules' reports/ folder",
                             phase_report[k]);
            return NULL;
        }
    }
    json_decref(layouts);
    struct job *j = xcalloc(1, sizeof *j);
    ctx_init(&j->ctx, a, run->now);
    char month[8];
    report_period_of(run->slot, month);
    report_period_before(month, j->period);
    return j;
}

static int job_step(struct app *a, void *state, const struct sched_run *run, int64_t budget_us,
                    char **err)
{
    (void)run;
    struct job *j = state;
    if (j->in_a_row >= FAILS_IN_A_ROW) {
        /* a layout that fails for everyone: the run stops, and is tried again later */
        *err = xasprintf("%d reports in a row could not be made; the last: %s", j->in_a_row,
                         j->last_error ? j->last_error : "");
        return -1;
    }
    int64_t t0 = util_monotonic_us();
    if (!j->warm) {   /* a step of its own: the names, the catalogue, who attended what */
        ctx_requirements(&j->ctx);
        ctx_departments(&j->ctx);
        ctx_courses(&j->ctx);
        ctx_attended(&j->ctx);
        j->warm = 1;
        j->warm_us = util_monotonic_us() - t0;
        if (j->ctx.read_failed) {
            *err = xstrdup("the names, courses and attendance could not be read (see the log)");
            return -1;
        }
        return 1;
    }
    /* Then the effect of each course attended, one course at a time (course_effect reads each
     * attendee's levels), so that the department reports find them measured. */
    if (j->effects_at < j->ctx.natt) {
        int measured = 0;
        while (j->effects_at < j->ctx.natt) {
            if (measured && util_monotonic_us() - t0 > budget_us / 2)
                return 1;
            int64_t course = j->ctx.att[j->effects_at++].course_id;
            char key[24];
            snprintf(key, sizeof key, "%lld", (long long)course);
            if (!json_object_get(j->ctx.effects, key)) {
                effect_of(&j->ctx, course);
                measured++;
            }
        }
        return 1;
    }
    /* the commit (a sync to disk) is part of the step: leave it its time */
    int64_t item_budget = budget_us - j->commit_us;
    if (item_budget < budget_us / 4)
        item_budget = budget_us / 4;
    if (db_begin(a->db)) {
        *err = xstrdup("the database refused a transaction (see the log)");
        return -1;
    }
    int queued = 0, stages = 0, looked = 0;
    struct making *mk = &j->making;
    while (j->phase != PHASE_DONE) {
        /* skipping those sent already (a run again) takes time too */
        if (looked++ && util_monotonic_us() - t0 > item_budget)
            break;
        if (!mk->active) {
            if (!next_item(j, &mk->it)) {
                j->phase++;
                j->after = 0;
                continue;
            }
            mk->report = phase_report[j->phase];
            if (already_sent(j, mk->report, &mk->it)) {
                j->skipped++;
                making_free(mk);
                continue;
            }
            mk->active = 1;
            j->item_us = 0;
        }
        /* stop before a stage that would likely take the step past its budget */
        int64_t elapsed = util_monotonic_us() - t0;
        if (stages && elapsed + j->cost_us[j->phase][mk->stage] > item_budget)
            break;
        stages++;
        int64_t t = util_monotonic_us();
        enum stage stage = mk->stage;
        char *why = NULL;
        int rc = make_stage(j, mk, &why);
        int64_t took = util_monotonic_us() - t;
        j->cost_us[j->phase][stage] = took;
        j->item_us += took;
        if (rc == 0)
            continue;
        if (rc < 0) {
            fprintf(stderr, "evne: reports %s: the %s report for %s (%lld) was not sent: %s\n",
                    j->period, mk->report, mk->it.name, (long long)mk->it.recipient, why);
            free(j->last_error);
            j->last_error = why;
            j->errors++;
            j->in_a_row++;
        } else {
            j->in_a_row = 0;
            j->counts[j->phase]++;
            j->mails++;
            queued++;
        }
        if (j->item_us > j->longest_item_us) {
            j->longest_item_us = j->item_us;
            j->longest_item_phase = j->phase;
            j->longest_item_subject = mk->it.subject;
        }
        making_free(mk);
    }
    int64_t tc = util_monotonic_us();
    int crc = db_commit(a->db);
    j->commit_us = util_monotonic_us() - tc;
    if (j->commit_us > j->longest_commit_us)
        j->longest_commit_us = j->commit_us;
    if (crc) {
        db_rollback(a->db);
        *err = xstrdup("the database refused to commit the reports' mail (see the log)");
        return -1;
    }
    if (queued)
        mail_kick(a);
    return j->phase == PHASE_DONE ? 0 : 1;
}

static json_t *job_finish(struct app *a, void *state)
{
    (void)a;
    struct job *j = state;
    if (!j)
        return json_object();
    json_t *summary = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "period", j->period,
                                "employees", (json_int_t)j->counts[PHASE_EMPLOYEES],
                                "departments", (json_int_t)j->counts[PHASE_DEPARTMENTS],
                                "advisers", (json_int_t)j->counts[PHASE_ADVISERS], "mails",
                                (json_int_t)j->mails, "errors", (json_int_t)j->errors,
                                "skipped", (json_int_t)j->skipped);
    making_free(&j->making);
    free(j->last_error);
    json_object_set_new(summary, "warm_us", json_integer(j->warm_us));
    json_object_set_new(summary, "longest_commit_us", json_integer(j->longest_commit_us));
    json_object_set_new(summary, "longest_item_us", json_integer(j->longest_item_us));
    json_object_set_new(summary, "longest_item_report",
                        json_string(phase_report[j->longest_item_phase]));
    json_object_set_new(summary, "longest_item_subject", json_integer(j->longest_item_subject));
    ctx_free(&j->ctx);
    free(j);
    return summary;
}

const struct sched_job report_job = {
    .name = "reports",
    .mails = 1,
    .start = job_start,
    .step = job_step,
    .finish = job_finish,
};
