/* Unit tests for core/trend: snapshots agree with the gap index they copy, series pick each
 * month's newest snapshot, the scheduled job takes one monthly snapshot per month, and the SVG
 * chart is well-formed XML (checked by python3's XML parser, a real one), escapes text, gives
 * every line its own marker shape and dash pattern, and copes with nothing to draw.
 */
#include <jansson.h>
#include <math.h>

#include "app.h"
#include "fixture.h"
#include "gap.h"
#include "oslo.h"
#include "schedule.h"
#include "trend.h"

/* --- snapshots ----------------------------------------------------------------------------- */

struct tfx {
    struct fx *f;
    struct app app;
};

static int setup(void **state)
{
    struct tfx *t = xcalloc(1, sizeof *t);
    t->f = fx_new();
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *t = *state;
    gap_free(t->app.gap);
    fx_free(t->f);
    free(t);
    return 0;
}

/* Two root departments (1 with children 2 and 3, and 4), six employees, two systems with two
 * requirements each, two profiles; some assessed. */
static void org(struct tfx *t)
{
    struct fx *f = t->f;
    fx_department(f, 1, "Helse", 0);
    fx_department(f, 2, "Sykehjem", 1);
    fx_department(f, 3, "Hjemmetjeneste", 2);
    fx_department(f, 4, "Skole", 0);
    fx_employee(f, 1, "Ada", 1);
    fx_employee(f, 2, "Bo", 2);
    fx_employee(f, 3, "Cy", 3);
    fx_employee(f, 4, "Di", 3);
    fx_employee(f, 5, "Eli", 4);
    fx_employee(f, 6, "Fa", 4);
    fx_system(f, 1, "Gerica");
    fx_system(f, 2, "Visma");
    fx_requirement(f, 1, 1, 1);
    fx_requirement(f, 2, 1, 2);
    fx_requirement(f, 3, 2, 1);
    fx_requirement(f, 4, 2, 2);
    fx_profile(f, 1, "Gerica-bruker", 1);
    fx_level(f, 1, 1, 3);
    fx_level(f, 1, 2, 2);
    fx_profile(f, 2, "Visma-bruker", 2);
    fx_level(f, 2, 3, 4);
    fx_level(f, 2, 4, 1);
    for (int e = 1; e <= 4; e++)
        fx_assign(f, e, 1);
    for (int e = 3; e <= 6; e++)
        fx_assign(f, e, 2);
    fx_assess(f, 0, 1, 1, 3, "self", 2000);
    fx_assess(f, 0, 2, 1, 1, "self", 2000);
    fx_assess(f, 0, 3, 3, 2, "self", 2000);
    fx_assess(f, 0, 5, 4, 1, "self", 2000);
    char *err = NULL;
    if (gap_build(f->db, &t->app.gap, &err))
        fail_msg("gap_build: %s", err);
    t->app.db = f->db;
}

/* 2026-11-15 12:00 UTC and the same day in later months. */
static int64_t mid_month(int months_later)
{
    int y = 2026, m = 11 + months_later;
    while (m > 12) {
        m -= 12;
        y++;
    }
    return oslo_days_from_civil(y, m, 15) * 86400 + 12 * 3600;
}

static int64_t take(struct tfx *t, const char *kind, int64_t now)
{
    int64_t id = 0;
    char *err = NULL;
    if (trend_snapshot(&t->app, kind, now, &id, &err))
        fail_msg("trend_snapshot: %s", err);
    assert_true(id > 0);
    return id;
}

static void assert_row(struct fx *f, int64_t sid, const char *dim, const struct gap_row *want)
{
    const char *where = "snapshot_id = %lld AND dimension = %Q AND entity_id = %lld";
    char sql[256];
#define COL(c, v)                                                                                \
    do {                                                                                         \
        snprintf(sql, sizeof sql, "SELECT %s FROM snapshot_row WHERE %s", c, where);             \
        assert_int_equal(fx_int(f, -1, sql, (long long)sid, dim, (long long)want->id), (v));     \
    } while (0)
    COL("employees", want->employees);
    COL("employees_with_gaps", want->employees_with_gaps);
    COL("demanded", want->demanded);
    COL("open_gaps", want->open_gaps);
    COL("unassessed", want->unassessed);
    COL("gap_sum", want->gap_sum);
    COL("CAST(round(coverage * 1000000) AS INTEGER)", (int64_t)llround(want->coverage * 1e6));
#undef COL
}

/* Every row of the snapshot is the gap index's row, and the organisation's row is every
 * employee's own roll-up added up (a witness independent of the department tree). */
static void test_snapshot_equals_index(void **state)
{
    struct tfx *t = *state;
    org(t);
    int64_t now = mid_month(0);
    int64_t sid = take(t, "monthly", now);
    struct fx *f = t->f;
    assert_int_equal(fx_int(f, 0, "SELECT taken_at FROM snapshot WHERE id = %lld", (long long)sid),
                     now);
    assert_int_equal(fx_int(f, 0, "SELECT period = '2026-11' AND kind = 'monthly' FROM snapshot "
                                  "WHERE id = %lld", (long long)sid), 1);
    static const struct {
        const char *name;
        enum gap_dim dim;
    } dims[] = {{"department", GAP_BY_DEPARTMENT}, {"system", GAP_BY_SYSTEM},
                {"profile", GAP_BY_PROFILE}};
    size_t total = 0;
    for (size_t d = 0; d < 3; d++) {
        struct gap_row *rows;
        size_t n;
        gap_rollup(t->app.gap, dims[d].dim, NULL, &rows, &n);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++)
            assert_row(f, sid, dims[d].name, &rows[i]);
        assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot_row WHERE snapshot_id = %lld "
                                       "AND dimension = %Q", (long long)sid, dims[d].name),
                         (int64_t)n);
        total += n;
        free(rows);
    }
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot_row WHERE snapshot_id = %lld",
                            (long long)sid), (int64_t)total + 1);

    struct gap_row *emps, org_row = {0};
    size_t n;
    gap_rollup(t->app.gap, GAP_BY_EMPLOYEE, NULL, &emps, &n);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        org_row.employees += emps[i].employees;
        org_row.employees_with_gaps += emps[i].employees_with_gaps;
        org_row.demanded += emps[i].demanded;
        org_row.open_gaps += emps[i].open_gaps;
        org_row.unassessed += emps[i].unassessed;
        org_row.gap_sum += emps[i].gap_sum;
    }
    free(emps);
    org_row.coverage = 1.0 - (double)org_row.open_gaps / (double)org_row.demanded;
    /* worked by hand: 4 with Gerica (2 demanded each), 4 with Visma (2 each) = 16 demanded;
     * met: Ada r1 (3>=3), Cy r3? no (2<4), Eli r4 (1>=1) -> 2 met, 14 open */
    assert_int_equal(org_row.employees, 6);
    assert_int_equal(org_row.demanded, 16);
    assert_int_equal(org_row.open_gaps, 14);
    assert_row(f, sid, "organisation", &org_row);
}

static void test_snapshot_bad_kind(void **state)
{
    struct tfx *t = *state;
    org(t);
    int64_t id = 0;
    char *err = NULL;
    assert_int_equal(trend_snapshot(&t->app, "weekly", mid_month(0), &id, &err), -1);
    assert_non_null(strstr(err, "weekly"));
    free(err);
    assert_int_equal(fx_int(t->f, -1, "SELECT count(*) FROM snapshot"), 0);
    assert_int_equal(fx_int(t->f, -1, "SELECT count(*) FROM snapshot_row"), 0);
}

static json_t *point(json_t *series, const char *period)
{
    size_t i;
    json_t *p;
    json_array_foreach(series, i, p) {
        if (!strcmp(json_string_value(json_object_get(p, "period")), period))
            return p;
    }
    return NULL;
}

static double num(const json_t *p, const char *key)
{
    return json_number_value(json_object_get(p, key));
}

/* Assess, snapshot, assess again a month later: the series rises; within a month the newest
 * snapshot counts; since leaves out the months before it. */
static void test_series(void **state)
{
    struct tfx *t = *state;
    org(t);
    struct fx *f = t->f;
    take(t, "monthly", mid_month(0));
    /* December: Bo meets r1 and r2 (department 2's subtree gains two) */
    fx_assess(f, 0, 2, 1, 3, "self", mid_month(1) - 100);
    gap_assess(t->app.gap, 2, 1, 3, mid_month(1) - 100);
    fx_assess(f, 0, 2, 2, 2, "self", mid_month(1) - 100);
    gap_assess(t->app.gap, 2, 2, 2, mid_month(1) - 100);
    take(t, "manual", mid_month(1) - 50);
    /* later the same month Cy meets r3: the newest December snapshot must be the one shown */
    fx_assess(f, 0, 3, 3, 4, "self", mid_month(1));
    gap_assess(t->app.gap, 3, 3, 4, mid_month(1));
    take(t, "monthly", mid_month(1) + 3600);

    json_t *s = trend_series(&t->app, "organisation", 99, 0);
    assert_int_equal(json_array_size(s), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(s, 0), "period")),
                        "2026-11");
    json_t *nov = point(s, "2026-11"), *dec = point(s, "2026-12");
    assert_non_null(nov);
    assert_non_null(dec);
    assert_int_equal(num(nov, "open_gaps"), 14);
    assert_int_equal(num(dec, "open_gaps"), 11);
    assert_true(num(dec, "coverage") > num(nov, "coverage"));
    assert_int_equal(num(dec, "demanded"), 16);
    char at[21];
    util_iso8601(mid_month(1) + 3600, at);
    assert_string_equal(json_string_value(json_object_get(dec, "taken_at")), at);
    json_decref(s);

    /* department 2 with its subtree (2 and 3: Bo, Cy, Di) */
    s = trend_series(&t->app, "department", 2, 0);
    assert_int_equal(json_array_size(s), 2);
    assert_int_equal(num(point(s, "2026-11"), "employees"), 3);
    /* Bo 2 demanded, Cy 4, Di 4 = 10; November met: none (Bo r1 1<3, Cy r3 2<4) */
    assert_int_equal(num(point(s, "2026-11"), "open_gaps"), 10);
    assert_int_equal(num(point(s, "2026-12"), "open_gaps"), 7);
    json_decref(s);

    s = trend_series(&t->app, "department", 4, 0);   /* Skole: untouched */
    assert_int_equal(num(point(s, "2026-11"), "gap_sum"), num(point(s, "2026-12"), "gap_sum"));
    json_decref(s);

    s = trend_series(&t->app, "system", 2, mid_month(1) - 60);   /* since: December only */
    assert_int_equal(json_array_size(s), 1);
    assert_non_null(point(s, "2026-12"));
    json_decref(s);

    s = trend_series(&t->app, "profile", 1, 0);
    assert_int_equal(json_array_size(s), 2);
    assert_true(num(point(s, "2026-12"), "gap_sum") < num(point(s, "2026-11"), "gap_sum"));
    json_decref(s);

    s = trend_series(&t->app, "profile", 777, 0);   /* nothing: an empty array */
    assert_true(json_is_array(s));
    assert_int_equal(json_array_size(s), 0);
    json_decref(s);
}

/* The job takes the month's snapshot once: a second run in the month does nothing, a manual
 * snapshot does not count as the monthly one, and the next month gets its own. */
static void test_job_once_a_month(void **state)
{
    struct tfx *t = *state;
    org(t);
    struct fx *f = t->f;
    take(t, "manual", mid_month(0) - 86400);
    for (int round = 0; round < 3; round++) {
        int64_t now = round < 2 ? mid_month(0) + round * 3600 : mid_month(1);
        struct sched_run run = {.id = 1, .slot = now, .now = now, .trigger = "schedule"};
        char *err = NULL;
        void *st = trend_job.start(&t->app, &run, &err);
        assert_non_null(st);
        int rc, steps = 0;
        while ((rc = trend_job.step(&t->app, st, &run, SCHED_STEP_US, &err)) == 1 && steps < 100)
            steps++;
        assert_int_equal(rc, 0);
        json_t *sum = trend_job.finish(&t->app, st);
        assert_int_equal(json_is_true(json_object_get(sum, "skipped")), round == 1);
        assert_string_equal(json_string_value(json_object_get(sum, "period")),
                            round < 2 ? "2026-11" : "2026-12");
        assert_true(json_integer_value(json_object_get(sum, "snapshot_id")) > 0);
        json_decref(sum);
    }
    assert_string_equal(trend_job.name, "snapshot");
    assert_int_equal(trend_job.mails, 0);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot WHERE kind = 'monthly'"), 2);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot WHERE kind = 'manual'"), 1);
}

/* A large organisation, written by the job in small steps: no series sees the month until the
 * last step; a run cut short leaves nothing a series sees, and the next run clears it and takes
 * the month whole. */
static void test_job_in_steps(void **state)
{
    struct tfx *t = *state;
    struct fx *f = t->f;
    FX_SQL(f, "BEGIN");
    fx_department(f, 1, "Kommune", 0);
    for (int d = 2; d <= 400; d++)
        fx_department(f, d, "Enhet", 1 + d / 20);
    fx_system(f, 1, "Gerica");
    fx_requirement(f, 1, 1, 1);
    fx_profile(f, 1, "Bruker", 1);
    fx_level(f, 1, 1, 2);
    for (int e = 1; e <= 800; e++) {
        fx_employee(f, e, "Ansatt", 1 + e % 400);
        fx_assign(f, e, 1);
        if (e % 3 == 0)
            fx_assess(f, 0, e, 1, 2, "self", 2000);
    }
    FX_SQL(f, "COMMIT");
    char *err = NULL;
    if (gap_build(f->db, &t->app.gap, &err))
        fail_msg("gap_build: %s", err);
    t->app.db = f->db;

    /* a run cut short after two steps (as by a crash: its state is simply lost) */
    int64_t now = mid_month(0);
    struct sched_run run = {.id = 1, .slot = now, .now = now, .trigger = "schedule"};
    void *st = trend_job.start(&t->app, &run, &err);
    assert_int_equal(trend_job.step(&t->app, st, &run, 1, &err), 1);
    assert_int_equal(trend_job.step(&t->app, st, &run, 1, &err), 1);
    assert_true(fx_int(f, 0, "SELECT count(*) FROM snapshot_row") > 0);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot WHERE period = ''"), 1);
    json_t *s = trend_series(&t->app, "organisation", 0, 0);
    assert_int_equal(json_array_size(s), 0);
    json_decref(s);
    s = trend_series(&t->app, "department", 2, 0);
    assert_int_equal(json_array_size(s), 0);
    json_decref(s);
    json_decref(trend_job.finish(&t->app, st));

    /* the run again, for the same slot: the leftover goes, the month comes whole */
    run.id = 2;
    run.trigger = "schedule";
    st = trend_job.start(&t->app, &run, &err);
    int rc, steps = 0;
    while ((rc = trend_job.step(&t->app, st, &run, 1, &err)) == 1) {
        steps++;
        s = trend_series(&t->app, "organisation", 0, 0);
        assert_int_equal(json_array_size(s), 0);   /* nothing before the last step */
        json_decref(s);
    }
    assert_int_equal(rc, 0);
    assert_true(steps >= 5);   /* 403 rows, 16 or so per step with a 1 us budget */
    json_t *sum = trend_job.finish(&t->app, st);
    assert_false(json_is_true(json_object_get(sum, "skipped")));
    assert_int_equal(json_integer_value(json_object_get(sum, "rows")), 1 + 400 + 1 + 1);
    int64_t sid = json_integer_value(json_object_get(sum, "snapshot_id"));
    json_decref(sum);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot"), 1);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot_row"), 403);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM snapshot WHERE id = %lld AND "
                                   "period = '2026-11' AND taken_at = %lld", (long long)sid,
                            (long long)now), 1);
    struct gap_row *rows;
    size_t n;
    gap_rollup(t->app.gap, GAP_BY_DEPARTMENT, NULL, &rows, &n);
    assert_int_equal(n, 400);
    for (size_t i = 0; i < n; i++)
        assert_row(f, sid, "department", &rows[i]);
    free(rows);
    s = trend_series(&t->app, "organisation", 0, 0);
    assert_int_equal(json_array_size(s), 1);
    assert_int_equal(num(json_array_get(s, 0), "employees"), 800);
    assert_int_equal(num(json_array_get(s, 0), "demanded"), 800);
    assert_int_equal(num(json_array_get(s, 0), "open_gaps"), 800 - 266);
    json_decref(s);
}

/* --- the chart ----------------------------------------------------------------------------- */

/* Parses svg with python3's XML parser and answers what it found (owned), or fails the test
 * when it is not well-formed. */
static const char check_py[] =
    "import json, sys, xml.etree.ElementTree as ET\n"
    "S = '{http://www.w3.org/2000/svg}'\n"
    "root = ET.parse(sys.argv[1]).getroot()\n"
    "ids = {e.get('id') for e in root.iter() if e.get('id')}\n"
    "lines = []\n"
    "for g in root.iter(S + 'g'):\n"
    "    if 'trend-line' not in (g.get('class') or '').split(): continue\n"
    "    marks = [c for c in g if c.tag != S + 'title' and c.get('stroke-width') != '2']\n"
    "    paths = [c for c in g if c.tag == S + 'path' and c.get('stroke-width') == '2']\n"
    "    lines.append({'name': g.find(S + 'title').text, 'marker': g.get('data-marker'),\n"
    "                  'tags': sorted({c.tag[len(S):] for c in marks}), 'marks': len(marks),\n"
    "                  'dash': paths[0].get('stroke-dasharray', 'solid') if paths else None})\n"
    "labels = [t for g in root.iter(S + 'g') if g.get('class') == 'trend-labels'\n"
    "          for t in g.iter(S + 'text')]\n"
    "print(json.dumps({'tag': root.tag, 'role': root.get('role'),\n"
    "  'labelledby': [i in ids for i in root.get('aria-labelledby', '').split()],\n"
    "  'title': root.find(S + 'title').text, 'desc': root.find(S + 'desc').text,\n"
    "  'texts': [''.join(t.itertext()) for t in root.iter(S + 'text')],\n"
    "  'labels': [''.join(t.itertext()) for t in labels], 'lines': lines,\n"
    "  'scripts': len(list(root.iter(S + 'script')))}))\n";

static json_t *parse_svg(const char *svg)
{
    char dir[] = "/tmp/evne-svg-XXXXXX";
    if (!mkdtemp(dir))
        fail_msg("mkdtemp");
    char svgp[64], pyp[64], cmd[256];
    snprintf(svgp, sizeof svgp, "%s/c.svg", dir);
    snprintf(pyp, sizeof pyp, "%s/check.py", dir);
    FILE *o = fopen(svgp, "w");
    fputs(svg, o);
    fclose(o);
    o = fopen(pyp, "w");
    fputs(check_py, o);
    fclose(o);
    snprintf(cmd, sizeof cmd, "python3 %s %s 2>&1", pyp, svgp);
    FILE *p = popen(cmd, "r");
    struct buf out = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        buf_append(&out, chunk, n);
    int rc = pclose(p);
    unlink(svgp);
    unlink(pyp);
    rmdir(dir);
    if (rc != 0)
        fail_msg("python3's XML parser refused the chart: %s\n%s", out.data ? out.data : "",
                 svg);
    json_error_t jerr;
    json_t *facts = json_loads(out.data, 0, &jerr);
    buf_free(&out);
    assert_non_null(facts);
    return facts;
}

static json_t *line(const char *name, const char *const *periods, const double *values, size_t n)
{
    json_t *pts = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(pts, json_pack("{s:s, s:f}", "period", periods[i], "value",
                                             values[i]));
    return json_pack("{s:s, s:o}", "name", name, "points", pts);
}

static const char *const months4[] = {"2026-11", "2026-12", "2027-01", "2027-02"};

static int has_text(const json_t *texts, const char *want)
{
    size_t i;
    json_t *s;
    json_array_foreach(texts, i, s) {
        if (!strcmp(json_string_value(s), want))
            return 1;
    }
    return 0;
}

/* Eight lines: each parses into its own group with its own marker shape and dash pattern, one
 * marker per point, and a label at its end. */
static void test_svg_shapes_per_line(void **state)
{
    (void)state;
    json_t *lines = json_array();
    char names[8][24];
    for (int l = 0; l < 8; l++) {
        double v[4] = {0.1 + l * 0.05, 0.2 + l * 0.05, 0.3 + l * 0.05, 0.35 + l * 0.06};
        snprintf(names[l], sizeof names[l], "Avdeling %d", l + 1);
        json_array_append_new(lines, line(names[l], months4, v, 4));
    }
    char *svg = trend_svg(lines, "coverage", "Dekning over tid", "nb");
    json_t *facts = parse_svg(svg);
    assert_string_equal(json_string_value(json_object_get(facts, "tag")),
                        "{http://www.w3.org/2000/svg}svg");
    assert_string_equal(json_string_value(json_object_get(facts, "role")), "img");
    json_t *lb = json_object_get(facts, "labelledby");
    assert_int_equal(json_array_size(lb), 2);
    assert_true(json_is_true(json_array_get(lb, 0)) && json_is_true(json_array_get(lb, 1)));
    assert_int_equal(json_integer_value(json_object_get(facts, "scripts")), 0);
    json_t *ls = json_object_get(facts, "lines");
    assert_int_equal(json_array_size(ls), 8);
    for (size_t i = 0; i < 8; i++) {
        json_t *li = json_array_get(ls, i);
        assert_string_equal(json_string_value(json_object_get(li, "name")), names[i]);
        assert_int_equal(json_integer_value(json_object_get(li, "marks")), 4);
        assert_int_equal(json_array_size(json_object_get(li, "tags")), 1);
        for (size_t k = 0; k < i; k++) {
            json_t *lk = json_array_get(ls, k);
            assert_string_not_equal(json_string_value(json_object_get(li, "marker")),
                                    json_string_value(json_object_get(lk, "marker")));
            assert_string_not_equal(json_string_value(json_object_get(li, "dash")),
                                    json_string_value(json_object_get(lk, "dash")));
        }
    }
    json_t *labels = json_object_get(facts, "labels");
    assert_int_equal(json_array_size(labels), 8);
    for (int l = 0; l < 8; l++)
        assert_true(has_text(labels, names[l]));
    json_t *texts = json_object_get(facts, "texts");
    assert_true(has_text(texts, "Dekning (%)"));
    assert_true(has_text(texts, "Måned"));
    assert_true(has_text(texts, "100 %"));
    assert_true(has_text(texts, "nov. 2026"));
    assert_string_equal(json_string_value(json_object_get(facts, "title")), "Dekning over tid");
    const char *desc = json_string_value(json_object_get(facts, "desc"));
    assert_non_null(strstr(desc, "Avdeling 1 (sirkel): 10 % til 35 %"));
    json_decref(facts);
    free(svg);

    svg = trend_svg(lines, "gap_sum", "Gap sum", "en");
    facts = parse_svg(svg);
    texts = json_object_get(facts, "texts");
    assert_true(has_text(texts, "Gap sum"));
    assert_true(has_text(texts, "Month"));
    assert_true(has_text(texts, "Nov 2026"));
    assert_true(has_text(texts, "4"));   /* small sums get an axis of 0 to 4, in whole steps */
    json_decref(facts);
    free(svg);
    json_decref(lines);
}

/* Names and titles with markup characters come back from the parser exactly as they went in. */
static void test_svg_escapes(void **state)
{
    (void)state;
    const char *evil = "R&D <script>alert('x')</script> \"quoted\"";
    double v[2] = {3, 12};
    json_t *lines = json_array();
    json_array_append_new(lines, line(evil, months4, v, 2));
    char *svg = trend_svg(lines, "gap_sum", "Gaps & <gains>", "en");
    assert_null(strstr(svg, "<script"));
    json_t *facts = parse_svg(svg);
    assert_string_equal(json_string_value(json_object_get(facts, "title")), "Gaps & <gains>");
    json_t *l0 = json_array_get(json_object_get(facts, "lines"), 0);
    assert_string_equal(json_string_value(json_object_get(l0, "name")), evil);
    assert_int_equal(json_integer_value(json_object_get(facts, "scripts")), 0);
    assert_non_null(strstr(json_string_value(json_object_get(facts, "desc")), evil));
    /* the end label is shortened with an ellipsis, the whole name in the line's title */
    json_t *labels = json_object_get(facts, "labels");
    assert_string_equal(json_string_value(json_array_get(labels, 0)), "R&D <script>alert('x')…");
    assert_true(has_text(json_object_get(facts, "texts"), "20"));   /* a round top above 12 */
    json_decref(facts);
    free(svg);
    json_decref(lines);
}

/* No lines, lines without points, one point: still a chart that parses and says so. */
static void test_svg_empty(void **state)
{
    (void)state;
    json_t *lines = json_array();
    char *svg = trend_svg(lines, "coverage", "Dekning", "nb");
    json_t *facts = parse_svg(svg);
    assert_string_equal(json_string_value(json_object_get(facts, "desc")), "Ingen målinger ennå.");
    assert_true(has_text(json_object_get(facts, "texts"), "Ingen målinger ennå."));
    assert_int_equal(json_array_size(json_object_get(facts, "lines")), 0);
    json_decref(facts);
    free(svg);

    json_array_append_new(lines, json_pack("{s:s, s:[]}", "name", "Tom", "points"));
    svg = trend_svg(lines, "gap_sum", "Gap sum", "en");
    facts = parse_svg(svg);
    assert_string_equal(json_string_value(json_object_get(facts, "desc")), "No measurements yet.");
    assert_int_equal(json_array_size(json_object_get(facts, "labels")), 0);
    json_decref(facts);
    free(svg);

    double one = 0.5;
    json_array_append_new(lines, line("Én måned", months4, &one, 1));
    svg = trend_svg(lines, "coverage", "Dekning", "nb");
    facts = parse_svg(svg);
    json_t *l1 = json_array_get(json_object_get(facts, "lines"), 1);
    assert_int_equal(json_integer_value(json_object_get(l1, "marks")), 1);
    assert_true(json_is_null(json_object_get(l1, "dash")));   /* one point: no path */
    assert_true(has_text(json_object_get(facts, "labels"), "Én måned"));
    json_decref(facts);
    free(svg);
    json_decref(lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_equals_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_bad_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_once_a_month, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_in_steps, setup, teardown),
        cmocka_unit_test(test_svg_shapes_per_line),
        cmocka_unit_test(test_svg_escapes),
        cmocka_unit_test(test_svg_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
