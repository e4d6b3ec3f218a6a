/* Unit tests for core/gap: the gap semantics of DESIGN.md, rule by rule, on small organisations
 * written with SQL, and the promise that an index kept current with gap_reload_* / gap_assess
 * equals one built afresh from the same database.
 *
 * Three witnesses are compared: hand-worked numbers (the org_a tests), a fresh gap_build, and a
 * plain reference model in this file (struct ref) that recomputes every roll-up from SQL rows
 * the slow, obvious way. Where DESIGN.md leaves a row's presence open (an empty department, a
 * profile outside a system filter, an employee with nothing demanded in scope), the reference
 * accepts the row's absence but, when the row is there, still checks every number in it.
 */
#include <math.h>

#include "fixture.h"
#include "gap.h"

static const char *const dim_name[] = {"employee", "department", "profile", "system", "requirement"};
static const enum gap_dim all_dims[] = {GAP_BY_EMPLOYEE, GAP_BY_DEPARTMENT, GAP_BY_PROFILE,
                                        GAP_BY_SYSTEM, GAP_BY_REQUIREMENT};
#define NDIMS 5

static int setup(void **state)
{
    *state = fx_new();
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

static struct gap_index *build(struct fx *f)
{
    struct gap_index *x = NULL;
    char *err = NULL;
    if (gap_build(f->db, &x, &err) != 0)
        fail_msg("gap_build: %s", err ? err : "?");
    assert_non_null(x);
    assert_null(err);
    return x;
}

static double coverage_of(int64_t demanded, int64_t open)
{
    return demanded ? 1.0 - (double)open / (double)demanded : 1.0;
}

static struct gap_row *rollup(struct gap_index *x, enum gap_dim dim, const struct gap_filter *flt,
                              size_t *n)
{
    struct gap_row *rows = NULL;
    *n = 0;
    gap_rollup(x, dim, flt, &rows, n);
    if (*n)
        assert_non_null(rows);
    return rows;
}

static const struct gap_row *find_row(const struct gap_row *rows, size_t n, int64_t id)
{
    const struct gap_row *hit = NULL;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].id == id) {
            if (hit)
                fail_msg("row %lld appears twice in one roll-up", (long long)id);
            hit = &rows[i];
        }
    }
    return hit;
}

static void format_row(char *out, size_t n, const struct gap_row *r)
{
    if (!r) {
        snprintf(out, n, "no row");
        return;
    }
    snprintf(out, n,
             "employees=%lld with_gaps=%lld demanded=%lld open=%lld unassessed=%lld sum=%lld "
             "coverage=%.6f name=%s",
             (long long)r->employees, (long long)r->employees_with_gaps, (long long)r->demanded,
             (long long)r->open_gaps, (long long)r->unassessed, (long long)r->gap_sum, r->coverage,
             r->name ? r->name : "(null)");
}

/* --- hand-worked expectations ------------------------------------------------------------ */

struct want {
    int64_t employees, with_gaps, demanded, open, unassessed, gap_sum;
};

static int row_is(const struct gap_row *r, struct want w)
{
    return r && r->employees == w.employees && r->employees_with_gaps == w.with_gaps &&
           r->demanded == w.demanded && r->open_gaps == w.open && r->unassessed == w.unassessed &&
           r->gap_sum == w.gap_sum && fabs(r->coverage - coverage_of(w.demanded, w.open)) < 1e-9;
}

enum presence { MUST, MUST_NOT, MAY };

/* MUST: the row is there with these numbers. MUST_NOT: no such row. MAY: either no row or a row
 * with these numbers. */
static void check_row(const char *file, int line, struct gap_index *x, enum gap_dim dim,
                      const struct gap_filter *flt, int64_t id, enum presence p, struct want w)
{
    size_t n;
    struct gap_row *rows = rollup(x, dim, flt, &n);
    const struct gap_row *r = find_row(rows, n, id);
    char got[256];
    format_row(got, sizeof got, r);
    int ok = p == MUST_NOT ? !r : p == MAY ? (!r || row_is(r, w)) : row_is(r, w);
    free(rows);
    if (!ok) {
        if (p == MUST_NOT)
            fail_msg("%s:%d: by %s, id %lld: want no row; got %s", file, line, dim_name[dim],
                     (long long)id, got);
        fail_msg("%s:%d: by %s, id %lld: want %semployees=%lld with_gaps=%lld demanded=%lld "
                 "open=%lld unassessed=%lld sum=%lld coverage=%.6f; got %s",
                 file, line, dim_name[dim], (long long)id, p == MAY ? "no row or " : "",
                 (long long)w.employees, (long long)w.with_gaps, (long long)w.demanded,
                 (long long)w.open, (long long)w.unassessed, (long long)w.gap_sum,
                 coverage_of(w.demanded, w.open), got);
    }
}

#define ROW(x, dim, flt, id, ...) \
    check_row(__FILE__, __LINE__, x, dim, flt, id, MUST, (struct want){__VA_ARGS__})
#define ROW_MAY(x, dim, flt, id, ...) \
    check_row(__FILE__, __LINE__, x, dim, flt, id, MAY, (struct want){__VA_ARGS__})
#define NO_ROW(x, dim, flt, id) \
    check_row(__FILE__, __LINE__, x, dim, flt, id, MUST_NOT, (struct want){0, 0, 0, 0, 0, 0})

static const char *row_name(struct gap_index *x, enum gap_dim dim, int64_t id, char *buf, size_t n)
{
    size_t nrows;
    struct gap_row *rows = rollup(x, dim, NULL, &nrows);
    const struct gap_row *r = find_row(rows, nrows, id);
    snprintf(buf, n, "%s", r ? (r->name ? r->name : "(null)") : "(no row)");
    free(rows);
    return buf;
}

struct wcell {
    int64_t requirement_id, system_id;
    int required, actual, gap, unassessed;
    int64_t assessed_at;
};

static void check_cells(const char *file, int line, struct gap_index *x, int64_t employee,
                        const struct wcell *w, size_t nw)
{
    struct gap_cell *cells = NULL;
    size_t n = 0;
    struct gap_row sum;
    memset(&sum, 0, sizeof sum);
    int rc = gap_employee(x, employee, &cells, &n, &sum);
    if (rc != 0)
        fail_msg("%s:%d: gap_employee(%lld) = %d", file, line, (long long)employee, rc);
    if (n != nw)
        fail_msg("%s:%d: employee %lld: want %zu cells, got %zu", file, line, (long long)employee,
                 nw, n);
    int64_t demanded = 0, open = 0, unassessed = 0, gap_sum = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gap_cell *c = &cells[i];
        if (c->requirement_id != w[i].requirement_id || c->system_id != w[i].system_id ||
            c->required != w[i].required || c->actual != w[i].actual || c->gap != w[i].gap ||
            !c->unassessed != !w[i].unassessed || c->assessed_at != w[i].assessed_at)
            fail_msg("%s:%d: employee %lld cell %zu: want r%lld s%lld required=%d actual=%d gap=%d "
                     "unassessed=%d at=%lld; got r%lld s%lld required=%d actual=%d gap=%d "
                     "unassessed=%d at=%lld",
                     file, line, (long long)employee, i, (long long)w[i].requirement_id,
                     (long long)w[i].system_id, w[i].required, w[i].actual, w[i].gap,
                     w[i].unassessed, (long long)w[i].assessed_at, (long long)c->requirement_id,
                     (long long)c->system_id, c->required, c->actual, c->gap, c->unassessed,
                     (long long)c->assessed_at);
        demanded++;
        open += w[i].gap > 0;
        unassessed += w[i].unassessed != 0;
        gap_sum += w[i].gap;
    }
    free(cells);
    struct want sw = {1, open > 0, demanded, open, unassessed, gap_sum};
    if (sum.id != employee || !row_is(&sum, sw)) {
        char got[256];
        format_row(got, sizeof got, &sum);
        fail_msg("%s:%d: employee %lld summary: id %lld, %s", file, line, (long long)employee,
                 (long long)sum.id, got);
    }
}

#define CELLS(x, e, ...)                                                                         \
    do {                                                                                         \
        static const struct wcell want_[] = {__VA_ARGS__};                                       \
        check_cells(__FILE__, __LINE__, x, e, want_, sizeof want_ / sizeof want_[0]);            \
    } while (0)
#define NO_CELLS(x, e) check_cells(__FILE__, __LINE__, x, e, NULL, 0)

static void check_actual(const char *file, int line, struct gap_index *x, int64_t e, int64_t r,
                         int rc_want, int level_want, int64_t at_want)
{
    int level = -7;
    int64_t at = -7;
    int rc = gap_actual(x, e, r, &level, &at);
    if (rc != rc_want || (rc_want == 0 && (level != level_want || at != at_want)))
        fail_msg("%s:%d: gap_actual(e%lld, r%lld): want %d level %d at %lld; got %d level %d at "
                 "%lld",
                 file, line, (long long)e, (long long)r, rc_want, level_want, (long long)at_want,
                 rc, level, (long long)at);
}
#define ACTUAL(x, e, r, level, at) check_actual(__FILE__, __LINE__, x, e, r, 0, level, at)
#define NO_ACTUAL(x, e, r) check_actual(__FILE__, __LINE__, x, e, r, -1, 0, 0)

/* --- the reference model --------------------------------------------------------------------
 * Everything read back from SQL, every roll-up recomputed by brute force. */

#define MAXD 64
#define MAXE 128
#define MAXS 16
#define MAXR 96
#define MAXP 40
#define NAMELEN 80

struct ref {
    int nd, ne, ns, nr, np;
    struct {
        int64_t id, parent;
        char name[NAMELEN];
    } d[MAXD];
    struct {
        int64_t id, dept;
        int archived;
        char name[NAMELEN];
    } e[MAXE];
    struct {
        int64_t id;
        char name[NAMELEN];
    } s[MAXS];
    struct {
        int64_t id, sys;
        int pos, archived;
    } r[MAXR];
    struct {
        int64_t id, sys;
        int archived;
        char name[NAMELEN];
    } p[MAXP];
    signed char level[MAXP][MAXR];     /* -1 without a profile_level row */
    unsigned char assigned[MAXE][MAXP];
    signed char actual[MAXE][MAXR];    /* -1 when never assessed */
    int64_t at[MAXE][MAXR];
    unsigned char required[MAXE][MAXR]; /* active profiles only; 0 for archived requirements */
    unsigned char within[MAXD][MAXD];   /* within[d][root] */
};

static int idx_of(const int64_t *ids, size_t stride, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (*(const int64_t *)((const char *)ids + stride * (size_t)i) == id)
            return i;
    return -1;
}
#define REF_IDX(R, arr, n, key) idx_of(&(R)->arr[0].id, sizeof (R)->arr[0], (R)->n, key)
#define DI(R, key) REF_IDX(R, d, nd, key)
#define EI(R, key) REF_IDX(R, e, ne, key)
#define RI(R, key) REF_IDX(R, r, nr, key)
#define PI(R, key) REF_IDX(R, p, np, key)

static sqlite3_stmt *ref_query(struct fx *f, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db_handle(f->db), sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("reference query %s: %s", sql, sqlite3_errmsg(db_handle(f->db)));
    return st;
}

static void copy_name(char *dst, sqlite3_stmt *st, int col)
{
    const char *s = db_text(st, col);
    snprintf(dst, NAMELEN, "%s", s ? s : "");
}

static void ref_load(struct fx *f, struct ref *R)
{
    memset(R, 0, sizeof *R);
    memset(R->level, -1, sizeof R->level);
    memset(R->actual, -1, sizeof R->actual);
    sqlite3_stmt *st;

    st = ref_query(f, "SELECT id, coalesce(parent_id, 0), name FROM department ORDER BY id");
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(R->nd < MAXD);
        R->d[R->nd].id = sqlite3_column_int64(st, 0);
        R->d[R->nd].parent = sqlite3_column_int64(st, 1);
        copy_name(R->d[R->nd++].name, st, 2);
    }
    sqlite3_finalize(st);
    st = ref_query(f, "SELECT id, department_id, archived, name FROM employee ORDER BY id");
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(R->ne < MAXE);
        R->e[R->ne].id = sqlite3_column_int64(st, 0);
        R->e[R->ne].dept = sqlite3_column_int64(st, 1);
        R->e[R->ne].archived = sqlite3_column_int(st, 2);
        copy_name(R->e[R->ne++].name, st, 3);
    }
    sqlite3_finalize(st);
    st = ref_query(f, "SELECT id, name FROM system ORDER BY id");
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(R->ns < MAXS);
        R->s[R->ns].id = sqlite3_column_int64(st, 0);
        copy_name(R->s[R->ns++].name, st, 1);
    }
    sqlite3_finalize(st);
    st = ref_query(f, "SELECT id, system_id, position, archived FROM requirement ORDER BY id");
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(R->nr < MAXR);
        R->r[R->nr].id = sqlite3_column_int64(st, 0);
        R->r[R->nr].sys = sqlite3_column_int64(st, 1);
        R->r[R->nr].pos = sqlite3_column_int(st, 2);
        R->r[R->nr++].archived = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    st = ref_query(f, "SELECT id, coalesce(system_id, 0), archived, name FROM profile ORDER BY id");
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(R->np < MAXP);
        R->p[R->np].id = sqlite3_column_int64(st, 0);
        R->p[R->np].sys = sqlite3_column_int64(st, 1);
        R->p[R->np].archived = sqlite3_column_int(st, 2);
        copy_name(R->p[R->np++].name, st, 3);
    }
    sqlite3_finalize(st);
    st = ref_query(f, "SELECT profile_id, requirement_id, level FROM profile_level");
    while (sqlite3_step(st) == SQLITE_ROW)
        R->level[PI(R, sqlite3_column_int64(st, 0))][RI(R, sqlite3_column_int64(st, 1))] =
            (signed char)sqlite3_column_int(st, 2);
    sqlite3_finalize(st);
    st = ref_query(f, "SELECT employee_id, profile_id FROM assignment");
    while (sqlite3_step(st) == SQLITE_ROW)
        R->assigned[EI(R, sqlite3_column_int64(st, 0))][PI(R, sqlite3_column_int64(st, 1))] = 1;
    sqlite3_finalize(st);
    /* The most recent assessment of each pair, whatever its source; on equal times the later
     * row. */
    st = ref_query(f,
                   "SELECT employee_id, requirement_id, level, recorded_at FROM assessment a "
                   "WHERE NOT EXISTS (SELECT 1 FROM assessment b WHERE b.employee_id = "
                   "a.employee_id AND b.requirement_id = a.requirement_id AND (b.recorded_at > "
                   "a.recorded_at OR (b.recorded_at = a.recorded_at AND b.id > a.id)))");
    while (sqlite3_step(st) == SQLITE_ROW) {
        int ei = EI(R, sqlite3_column_int64(st, 0)), ri = RI(R, sqlite3_column_int64(st, 1));
        assert_true(R->actual[ei][ri] < 0);
        R->actual[ei][ri] = (signed char)sqlite3_column_int(st, 2);
        R->at[ei][ri] = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);

    for (int d = 0; d < R->nd; d++) {
        int cur = d;
        for (int steps = 0; cur >= 0 && steps <= R->nd; steps++) {
            R->within[d][cur] = 1;
            cur = R->d[cur].parent ? DI(R, R->d[cur].parent) : -1;
        }
        assert_true(cur < 0); /* the test never makes a cycle */
    }
    for (int e = 0; e < R->ne; e++)
        for (int r = 0; r < R->nr; r++) {
            int req = 0;
            for (int p = 0; p < R->np && !R->r[r].archived; p++)
                if (R->assigned[e][p] && !R->p[p].archived && R->level[p][r] > req)
                    req = R->level[p][r];
            R->required[e][r] = (unsigned char)req;
        }
}

static int ref_employee_in(const struct ref *R, int e, const struct gap_filter *flt)
{
    if (R->e[e].archived)
        return 0;
    if (flt && flt->ndepartments) {
        int d = DI(R, R->e[e].dept), in = 0;
        for (size_t k = 0; k < flt->ndepartments; k++) {
            int root = DI(R, flt->departments[k]);
            in |= root >= 0 && R->within[d][root];
        }
        if (!in)
            return 0;
    }
    if (flt && flt->profile_id) {
        int p = PI(R, flt->profile_id);
        if (p < 0 || !R->assigned[e][p])
            return 0;
    }
    return 1;
}

static int ref_requirement_in(const struct ref *R, int r, const struct gap_filter *flt)
{
    return !R->r[r].archived && (!flt || !flt->system_id || R->r[r].sys == flt->system_id);
}

static int ref_count(const struct ref *R, enum gap_dim dim)
{
    switch (dim) {
    case GAP_BY_EMPLOYEE: return R->ne;
    case GAP_BY_DEPARTMENT: return R->nd;
    case GAP_BY_PROFILE: return R->np;
    case GAP_BY_SYSTEM: return R->ns;
    case GAP_BY_REQUIREMENT: return R->nr;
    }
    return 0;
}

static int64_t ref_id(const struct ref *R, enum gap_dim dim, int i)
{
    switch (dim) {
    case GAP_BY_EMPLOYEE: return R->e[i].id;
    case GAP_BY_DEPARTMENT: return R->d[i].id;
    case GAP_BY_PROFILE: return R->p[i].id;
    case GAP_BY_SYSTEM: return R->s[i].id;
    case GAP_BY_REQUIREMENT: return R->r[i].id;
    }
    return 0;
}

/* The row's name as the reference knows it; NULL where the model does not say (requirements). */
static const char *ref_name(const struct ref *R, enum gap_dim dim, int i)
{
    switch (dim) {
    case GAP_BY_EMPLOYEE: return R->e[i].name;
    case GAP_BY_DEPARTMENT: return R->d[i].name;
    case GAP_BY_PROFILE: return R->p[i].name;
    case GAP_BY_SYSTEM: return R->s[i].name;
    case GAP_BY_REQUIREMENT: return NULL;
    }
    return NULL;
}

/* May the roll-up carry a row for entity i at all? */
static int ref_row_possible(const struct ref *R, enum gap_dim dim, int i, const struct gap_filter *flt)
{
    switch (dim) {
    case GAP_BY_EMPLOYEE: return ref_employee_in(R, i, flt);
    case GAP_BY_DEPARTMENT: return 1;
    case GAP_BY_PROFILE: return !R->p[i].archived;
    case GAP_BY_SYSTEM: return 1;
    case GAP_BY_REQUIREMENT: return ref_requirement_in(R, i, flt);
    }
    return 0;
}

static struct want ref_row(const struct ref *R, enum gap_dim dim, int i, const struct gap_filter *flt)
{
    struct want w = {0, 0, 0, 0, 0, 0};
    for (int e = 0; e < R->ne; e++) {
        if (!ref_employee_in(R, e, flt))
            continue;
        if (dim == GAP_BY_EMPLOYEE && e != i)
            continue;
        if (dim == GAP_BY_DEPARTMENT && !R->within[DI(R, R->e[e].dept)][i])
            continue;
        if (dim == GAP_BY_PROFILE && !R->assigned[e][i])
            continue;
        int64_t demanded = 0, open = 0, unassessed = 0, sum = 0;
        for (int r = 0; r < R->nr; r++) {
            if (!ref_requirement_in(R, r, flt))
                continue;
            if (dim == GAP_BY_SYSTEM && R->r[r].sys != R->s[i].id)
                continue;
            if (dim == GAP_BY_REQUIREMENT && r != i)
                continue;
            int req = dim == GAP_BY_PROFILE ? (R->level[i][r] > 0 ? R->level[i][r] : 0)
                                            : R->required[e][r];
            if (req <= 0)
                continue;
            int act = R->actual[e][r] < 0 ? 0 : R->actual[e][r];
            demanded++;
            unassessed += R->actual[e][r] < 0;
            if (req > act) {
                open++;
                sum += req - act;
            }
        }
        if (dim == GAP_BY_SYSTEM || dim == GAP_BY_REQUIREMENT)
            w.employees += demanded > 0;
        else
            w.employees++;
        w.with_gaps += open > 0;
        w.demanded += demanded;
        w.open += open;
        w.unassessed += unassessed;
        w.gap_sum += sum;
    }
    return w;
}

/* Where DESIGN.md does not say whether the row is listed, its absence is accepted. */
static int ref_may_be_absent(const struct ref *R, enum gap_dim dim, int i, const struct gap_filter *flt,
                             struct want w)
{
    if (w.demanded == 0)
        return 1;
    if (dim == GAP_BY_DEPARTMENT && flt && flt->ndepartments) {
        int in = 0;
        for (size_t k = 0; k < flt->ndepartments; k++) {
            int root = DI(R, flt->departments[k]);
            in |= root >= 0 && R->within[i][root];
        }
        return !in;
    }
    if (dim == GAP_BY_PROFILE && flt && flt->profile_id && R->p[i].id != flt->profile_id)
        return 1;
    if (dim == GAP_BY_PROFILE && flt && flt->system_id && R->p[i].sys != flt->system_id)
        return 1;
    return 0;
}

static char why[4096];

__attribute__((format(printf, 1, 2))) static int mismatch(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return -1;
}

static void describe_filter(char *out, size_t n, const struct gap_filter *flt)
{
    if (!flt) {
        snprintf(out, n, "no filter");
        return;
    }
    size_t len = (size_t)snprintf(out, n, "departments={");
    for (size_t k = 0; k < flt->ndepartments && len < n; k++)
        len += (size_t)snprintf(out + len, n - len, "%s%lld", k ? "," : "",
                                (long long)flt->departments[k]);
    if (len < n)
        snprintf(out + len, n - len, "} system=%lld profile=%lld", (long long)flt->system_id,
                 (long long)flt->profile_id);
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int row_equal(const struct gap_row *a, const struct gap_row *b)
{
    return a->id == b->id && same_str(a->name, b->name) && a->employees == b->employees &&
           a->employees_with_gaps == b->employees_with_gaps && a->demanded == b->demanded &&
           a->open_gaps == b->open_gaps && a->unassessed == b->unassessed &&
           a->gap_sum == b->gap_sum && fabs(a->coverage - b->coverage) < 1e-9;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = ((const struct gap_row *)a)->id, y = ((const struct gap_row *)b)->id;
    return (x > y) - (x < y);
}

/* The roll-up of `got` against the reference. */
static int compare_rollup_with_ref(struct gap_index *got, const struct ref *R, enum gap_dim dim,
                                   const struct gap_filter *flt)
{
    char fdesc[256], rdesc[256];
    describe_filter(fdesc, sizeof fdesc, flt);
    size_t n;
    struct gap_row *rows = rollup(got, dim, flt, &n);
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        const struct gap_row *row = &rows[k];
        int i = -1;
        for (int j = 0; j < ref_count(R, dim); j++)
            if (ref_id(R, dim, j) == row->id)
                i = j;
        format_row(rdesc, sizeof rdesc, row);
        if (i < 0 || !ref_row_possible(R, dim, i, flt)) {
            rc = mismatch("by %s, %s: unexpected row id %lld (%s)", dim_name[dim], fdesc,
                          (long long)row->id, rdesc);
            break;
        }
        for (size_t m = k + 1; m < n; m++)
            if (rows[m].id == row->id)
                rc = mismatch("by %s, %s: row id %lld twice", dim_name[dim], fdesc,
                              (long long)row->id);
        struct want w = ref_row(R, dim, i, flt);
        const char *name = ref_name(R, dim, i);
        if (!rc && (!row_is(row, w) || (name && !same_str(row->name, name))))
            rc = mismatch("by %s, %s, id %lld: reference says employees=%lld with_gaps=%lld "
                          "demanded=%lld open=%lld unassessed=%lld sum=%lld coverage=%.6f name=%s; "
                          "index says %s",
                          dim_name[dim], fdesc, (long long)row->id, (long long)w.employees,
                          (long long)w.with_gaps, (long long)w.demanded, (long long)w.open,
                          (long long)w.unassessed, (long long)w.gap_sum,
                          coverage_of(w.demanded, w.open), name ? name : "?", rdesc);
    }
    for (int i = 0; i < ref_count(R, dim) && !rc; i++) {
        if (!ref_row_possible(R, dim, i, flt) || find_row(rows, n, ref_id(R, dim, i)))
            continue;
        struct want w = ref_row(R, dim, i, flt);
        if (!ref_may_be_absent(R, dim, i, flt, w))
            rc = mismatch("by %s, %s: row id %lld missing; reference says employees=%lld "
                          "with_gaps=%lld demanded=%lld open=%lld unassessed=%lld sum=%lld",
                          dim_name[dim], fdesc, (long long)ref_id(R, dim, i),
                          (long long)w.employees, (long long)w.with_gaps, (long long)w.demanded,
                          (long long)w.open, (long long)w.unassessed, (long long)w.gap_sum);
    }
    free(rows);
    return rc;
}

/* The same roll-up from two indexes, row for row (order aside). */
static int compare_rollups(struct gap_index *a, struct gap_index *b, enum gap_dim dim,
                           const struct gap_filter *flt)
{
    char fdesc[256], da[256], dbuf[256];
    describe_filter(fdesc, sizeof fdesc, flt);
    size_t na, nb;
    struct gap_row *ra = rollup(a, dim, flt, &na), *rb = rollup(b, dim, flt, &nb);
    int rc = 0;
    if (na)
        qsort(ra, na, sizeof *ra, by_id);
    if (nb)
        qsort(rb, nb, sizeof *rb, by_id);
    for (size_t i = 0, j = 0; (i < na || j < nb) && !rc;) {
        if (j >= nb || (i < na && ra[i].id < rb[j].id)) {
            format_row(da, sizeof da, &ra[i]);
            rc = mismatch("by %s, %s: incremental has row %lld (%s), rebuild has none",
                          dim_name[dim], fdesc, (long long)ra[i].id, da);
        } else if (i >= na || rb[j].id < ra[i].id) {
            format_row(dbuf, sizeof dbuf, &rb[j]);
            rc = mismatch("by %s, %s: rebuild has row %lld (%s), incremental has none",
                          dim_name[dim], fdesc, (long long)rb[j].id, dbuf);
        } else {
            if (!row_equal(&ra[i], &rb[j])) {
                format_row(da, sizeof da, &ra[i]);
                format_row(dbuf, sizeof dbuf, &rb[j]);
                rc = mismatch("by %s, %s, id %lld: incremental %s; rebuild %s", dim_name[dim],
                              fdesc, (long long)ra[i].id, da, dbuf);
            }
            i++;
            j++;
        }
    }
    free(ra);
    free(rb);
    return rc;
}

static int cell_equal(const struct gap_cell *a, const struct gap_cell *b)
{
    return a->requirement_id == b->requirement_id && a->system_id == b->system_id &&
           a->required == b->required && a->actual == b->actual && a->gap == b->gap &&
           !a->unassessed == !b->unassessed && a->assessed_at == b->assessed_at &&
           a->class_id == b->class_id;
}

static void format_cell(char *out, size_t n, const struct gap_cell *c)
{
    snprintf(out, n, "r%lld s%lld required=%d actual=%d gap=%d unassessed=%d at=%lld class=%d",
             (long long)c->requirement_id, (long long)c->system_id, c->required, c->actual, c->gap,
             c->unassessed, (long long)c->assessed_at, c->class_id);
}

static void list_cells(char *out, size_t n, const struct gap_cell *c, size_t nc)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t k = 0; k < nc && len < n; k++)
        len += (size_t)snprintf(out + len, n - len, "%sr%lld %d/%d%s", k ? ", " : "",
                                (long long)c[k].requirement_id, c[k].required, c[k].actual,
                                c[k].unassessed ? " unassessed" : "");
}

/* One employee's cells from two indexes and against the reference. */
static int compare_employee(struct gap_index *a, struct gap_index *b, const struct ref *R, int e)
{
    int64_t id = R->e[e].id;
    struct gap_cell *ca = NULL, *cb = NULL;
    size_t na = 0, nb = 0;
    struct gap_row sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    int rca = gap_employee(a, id, &ca, &na, &sa);
    int rcb = gap_employee(b, id, &cb, &nb, &sb);
    int want_rc = R->e[e].archived ? -1 : 0;
    int rc = 0;
    char x1[200], x2[200];
    if (rca != want_rc || rcb != want_rc) {
        rc = mismatch("gap_employee(%lld) (archived=%d): incremental %d, rebuild %d", (long long)id,
                      R->e[e].archived, rca, rcb);
        goto out;
    }
    if (want_rc)
        goto out;
    if (na != nb) {
        char la[1024] = "", lb[1024] = "";
        list_cells(la, sizeof la, ca, na);
        list_cells(lb, sizeof lb, cb, nb);
        rc = mismatch("employee %lld: incremental has %zu cells [%s], rebuild %zu [%s]",
                      (long long)id, na, la, nb, lb);
        goto out;
    }
    for (size_t k = 0; k < na; k++)
        if (!cell_equal(&ca[k], &cb[k])) {
            format_cell(x1, sizeof x1, &ca[k]);
            format_cell(x2, sizeof x2, &cb[k]);
            rc = mismatch("employee %lld cell %zu: incremental %s; rebuild %s", (long long)id, k, x1, x2);
            goto out;
        }
    if (!row_equal(&sa, &sb)) {
        format_row(x1, sizeof x1, &sa);
        format_row(x2, sizeof x2, &sb);
        rc = mismatch("employee %lld summary: incremental %s; rebuild %s", (long long)id, x1, x2);
        goto out;
    }
    /* Against the reference: exactly the demanded active requirements, each right, grouped by
     * system and ordered by position within one. */
    size_t want_n = 0;
    for (int r = 0; r < R->nr; r++)
        want_n += !R->r[r].archived && R->required[e][r] > 0;
    if (na != want_n) {
        rc = mismatch("employee %lld: %zu cells, reference says %zu demanded requirements",
                      (long long)id, na, want_n);
        goto out;
    }
    for (size_t k = 0; k < na; k++) {
        const struct gap_cell *c = &ca[k];
        int r = RI(R, c->requirement_id);
        format_cell(x1, sizeof x1, c);
        if (r < 0 || R->r[r].archived || R->required[e][r] == 0) {
            rc = mismatch("employee %lld: cell for a requirement not demanded: %s", (long long)id, x1);
            goto out;
        }
        int act = R->actual[e][r] < 0 ? 0 : R->actual[e][r];
        int req = R->required[e][r];
        if (c->system_id != R->r[r].sys || c->required != req || c->actual != act ||
            c->gap != (req > act ? req - act : 0) || !c->unassessed != !(R->actual[e][r] < 0) ||
            c->assessed_at != (R->actual[e][r] < 0 ? 0 : R->at[e][r])) {
            rc = mismatch("employee %lld: cell %s; reference says s%lld required=%d actual=%d "
                          "unassessed=%d at=%lld",
                          (long long)id, x1, (long long)R->r[r].sys, req, act, R->actual[e][r] < 0,
                          (long long)(R->actual[e][r] < 0 ? 0 : R->at[e][r]));
            goto out;
        }
        if (k > 0) {
            int prev = RI(R, ca[k - 1].requirement_id);
            int same_sys = R->r[prev].sys == R->r[r].sys;
            int sys_seen_before = 0;
            for (size_t m = 0; m + 1 < k; m++)
                sys_seen_before |= ca[m].system_id == c->system_id;
            if ((same_sys && R->r[prev].pos > R->r[r].pos) || (!same_sys && sys_seen_before)) {
                rc = mismatch("employee %lld: cells not ordered by system and position at %zu (%s)",
                              (long long)id, k, x1);
                goto out;
            }
        }
    }
    struct want w = ref_row(R, GAP_BY_EMPLOYEE, e, NULL);
    if (sa.id != id || !row_is(&sa, w)) {
        format_row(x1, sizeof x1, &sa);
        rc = mismatch("employee %lld summary %s (id %lld); reference says demanded=%lld open=%lld "
                      "unassessed=%lld sum=%lld",
                      (long long)id, x1, (long long)sa.id, (long long)w.demanded, (long long)w.open,
                      (long long)w.unassessed, (long long)w.gap_sum);
    }
out:
    free(ca);
    free(cb);
    return rc;
}

/* A small deterministic generator (xorshift64*), so that a failure can be replayed. */
static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}
static int rnd(uint64_t *s, int n) { return n > 0 ? (int)(rnd_next(s) % (uint64_t)n) : 0; }

static int pick_active_profile(const struct ref *R, uint64_t *s)
{
    int n = 0;
    for (int p = 0; p < R->np; p++)
        n += !R->p[p].archived;
    if (!n)
        return -1;
    int k = rnd(s, n);
    for (int p = 0; p < R->np; p++)
        if (!R->p[p].archived && k-- == 0)
            return p;
    return -1;
}

/* Everything `x` answers, against a fresh gap_build of the same database and the reference.
 * exhaustive: every single-department, single-system and single-profile filter too. */
static int compare_everything(struct fx *f, struct gap_index *x, int exhaustive, uint64_t seed)
{
    struct ref *R = xcalloc(1, sizeof *R);
    ref_load(f, R);
    struct gap_index *fresh = build(f);
    int rc = 0;

    enum { MAXF = 160 };
    struct gap_filter *flts = xcalloc(MAXF, sizeof *flts);
    int64_t (*depts)[2] = xcalloc(MAXF, sizeof *depts);
    int nf = 0;
    nf++; /* flts[0] stays all zero: the same as no filter */
    uint64_t s = seed | 1;
#define ADD_FILTER(nd_, d0_, d1_, sys_, prof_)                                                  \
    do {                                                                                         \
        if (nf < MAXF) {                                                                         \
            depts[nf][0] = (d0_);                                                                \
            depts[nf][1] = (d1_);                                                                \
            flts[nf].departments = (nd_) ? depts[nf] : NULL;                                     \
            flts[nf].ndepartments = (size_t)(nd_);                                               \
            flts[nf].system_id = (sys_);                                                         \
            flts[nf].profile_id = (prof_);                                                       \
            nf++;                                                                                \
        }                                                                                        \
    } while (0)
    if (exhaustive) {
        for (int d = 0; d < R->nd; d++)
            ADD_FILTER(1, R->d[d].id, 0, 0, 0);
        for (int sy = 0; sy < R->ns; sy++)
            ADD_FILTER(0, 0, 0, R->s[sy].id, 0);
        for (int p = 0; p < R->np; p++)
            if (!R->p[p].archived)
                ADD_FILTER(0, 0, 0, 0, R->p[p].id);
    }
    for (int k = 0; k < 3; k++) {
        int p = pick_active_profile(R, &s);
        int64_t pid = p >= 0 ? R->p[p].id : 0;
        int64_t d0 = R->d[rnd(&s, R->nd)].id, d1 = R->d[rnd(&s, R->nd)].id;
        int64_t sy = R->s[rnd(&s, R->ns)].id;
        if (!exhaustive) {
            ADD_FILTER(1, d0, 0, 0, 0);
            ADD_FILTER(0, 0, 0, sy, 0);
            if (pid)
                ADD_FILTER(0, 0, 0, 0, pid);
        }
        ADD_FILTER(2, d0, d1, 0, 0);
        ADD_FILTER(1, d1, 0, sy, 0);
        if (pid) {
            ADD_FILTER(0, 0, 0, sy, pid);
            ADD_FILTER(2, d0, d1, sy, pid);
        }
    }
#undef ADD_FILTER

    /* cells first: their mismatches say the most */
    for (int e = 0; e < R->ne && !rc; e++)
        rc = compare_employee(x, fresh, R, e);
    for (int k = -1; k < nf && !rc; k++) {
        const struct gap_filter *flt = k < 0 ? NULL : &flts[k];
        for (int d = 0; d < NDIMS && !rc; d++) {
            rc = compare_rollups(x, fresh, all_dims[d], flt);
            if (!rc)
                rc = compare_rollup_with_ref(x, R, all_dims[d], flt);
        }
    }
    if (!rc) {
        struct gap_cell *c = NULL;
        size_t n = 0;
        if (gap_employee(x, 987654321, &c, &n, NULL) != -1)
            rc = mismatch("gap_employee of an unknown employee did not answer -1");
        free(c);
    }
    for (int e = 0; e < R->ne && !rc; e++) {
        if (R->e[e].archived)
            continue;
        for (int r = 0; r < R->nr && !rc; r++) {
            if (R->r[r].archived)
                continue;
            int la = -9, lb = -9;
            int64_t ta = -9, tb = -9;
            int rca = gap_actual(x, R->e[e].id, R->r[r].id, &la, &ta);
            int rcb = gap_actual(fresh, R->e[e].id, R->r[r].id, &lb, &tb);
            int want = R->actual[e][r] < 0 ? -1 : 0;
            if (rca != want || rcb != want ||
                (!want && (la != R->actual[e][r] || lb != la || ta != R->at[e][r] || tb != ta)))
                rc = mismatch("gap_actual(e%lld, r%lld): incremental %d level %d at %lld; rebuild "
                              "%d level %d at %lld; reference %d level %d at %lld",
                              (long long)R->e[e].id, (long long)R->r[r].id, rca, la, (long long)ta,
                              rcb, lb, (long long)tb, want, R->actual[e][r],
                              (long long)R->at[e][r]);
        }
    }
    for (int d = 0; d < R->nd && !rc; d++)
        for (int root = 0; root < R->nd && !rc; root++) {
            int wa = gap_department_within(x, R->d[d].id, R->d[root].id);
            int wb = gap_department_within(fresh, R->d[d].id, R->d[root].id);
            if (!wa != !R->within[d][root] || !wb != !R->within[d][root])
                rc = mismatch("gap_department_within(%lld, %lld): incremental %d, rebuild %d, "
                              "reference %d",
                              (long long)R->d[d].id, (long long)R->d[root].id, wa, wb,
                              R->within[d][root]);
        }

    gap_free(fresh);
    free(flts);
    free(depts);
    free(R);
    return rc;
}

#define SAME_AS_REBUILD(f, x, label)                                                             \
    do {                                                                                         \
        if (compare_everything(f, x, 1, 7) != 0)                                                 \
            fail_msg("%s:%d: after %s: %s", __FILE__, __LINE__, label, why);                    \
    } while (0)

/* --- organisation A, worked by hand ----------------------------------------------------------
 *
 *  d1 Kommune ── d2 Helse ── d3 Sykehjem       systems: s1 Gerica (r11, r12, r13)
 *             └─ d4 Skole ── d5 Arkiv (empty)            s2 Excel  (r21, r22)
 *
 *  profiles  r11 r12 r13 | r21 r22      employees  dept  profiles
 *  p1 G1      2   1   0  |               e1 Kari    d3    p1 p2
 *  p2 G2      1   3   2  |               e2 Ola     d3    p1
 *  p3 Excel              |  2   1        e3 Per     d2    p3
 *                                        e4 Lise    d4    p1 p3
 *                                        e5 Nils    d4    -
 *                                        e6 Anne    d1    p2
 */
enum { D1 = 1, D2, D3, D4, D5 };
enum { S1 = 1, S2 };
enum { R11 = 11, R12, R13, R14, R21 = 21, R22 };
enum { P1 = 1, P2, P3, P4 };
enum { E1 = 1, E2, E3, E4, E5, E6, E7 };

static void org_a(struct fx *f)
{
    fx_department(f, D1, "Kommune", 0);
    fx_department(f, D2, "Helse", D1);
    fx_department(f, D3, "Sykehjem", D2);
    fx_department(f, D4, "Skole", D1);
    fx_department(f, D5, "Arkiv", D4);
    fx_system(f, S1, "Gerica");
    fx_system(f, S2, "Excel");
    fx_requirement(f, R11, S1, 1);
    fx_requirement(f, R12, S1, 2);
    fx_requirement(f, R13, S1, 3);
    fx_requirement(f, R21, S2, 1);
    fx_requirement(f, R22, S2, 2);
    fx_profile(f, P1, "Gerica 1", S1);
    fx_level(f, P1, R11, 2);
    fx_level(f, P1, R12, 1);
    fx_level(f, P1, R13, 0); /* a row that demands nothing */
    fx_profile(f, P2, "Gerica 2", S1);
    fx_level(f, P2, R11, 1);
    fx_level(f, P2, R12, 3);
    fx_level(f, P2, R13, 2);
    fx_profile(f, P3, "Excel", S2);
    fx_level(f, P3, R21, 2);
    fx_level(f, P3, R22, 1);
    fx_employee(f, E1, "Kari", D3);
    fx_employee(f, E2, "Ola", D3);
    fx_employee(f, E3, "Per", D2);
    fx_employee(f, E4, "Lise", D4);
    fx_employee(f, E5, "Nils", D4);
    fx_employee(f, E6, "Anne", D1);
    fx_assign(f, E1, P1);
    fx_assign(f, E1, P2);
    fx_assign(f, E2, P1);
    fx_assign(f, E3, P3);
    fx_assign(f, E4, P1);
    fx_assign(f, E4, P3);
    fx_assign(f, E6, P2);
    /* e1 r11: a later appraisal beats an earlier self-assessment; e1 r12: the other way round */
    fx_assess(f, 1, E1, R11, 1, "self", 100);
    fx_assess(f, 2, E1, R11, 3, "appraisal", 200);
    fx_assess(f, 3, E1, R12, 3, "appraisal", 100);
    fx_assess(f, 4, E1, R12, 1, "self", 200);
    /* e2 r11: equal times, the later row (id 50, written first) wins */
    fx_assess(f, 50, E2, R11, 0, "test", 100);
    fx_assess(f, 40, E2, R11, 2, "self", 100);
    fx_assess(f, 5, E2, R12, 4, "self", 50);  /* above what is required */
    fx_assess(f, 6, E2, R13, 2, "self", 50);  /* not demanded of e2 (p1 asks 0) */
    fx_assess(f, 7, E3, R21, 1, "course", 300);
    fx_assess(f, 8, E4, R11, 2, "self", 100);
    fx_assess(f, 9, E4, R12, 0, "self", 100); /* assessed at 0: an open gap, not unassessed */
    fx_assess(f, 10, E4, R21, 4, "appraisal", 100);
    fx_assess(f, 11, E4, R22, 1, "self", 100);
    fx_assess(f, 12, E5, R11, 3, "self", 100); /* nothing demanded of e5 */
    fx_assess(f, 13, E6, R11, 1, "self", 100);
    fx_assess(f, 60, E6, R11, 4, "appraisal", 90); /* a later row with an earlier time loses */
    fx_assess(f, 14, E6, R12, 3, "self", 100);
    fx_assess(f, 15, E6, R13, 2, "self", 100);
}

/* Every number of organisation A, worked out by hand (see the comments). */
static void check_org_a(struct gap_index *x, const struct gap_filter *flt)
{
    /* cells: required = max over profiles, actual = the most recent assessment */
    CELLS(x, E1, {R11, S1, 2, 3, 0, 0, 200}, {R12, S1, 3, 1, 2, 0, 200}, {R13, S1, 2, 0, 2, 1, 0});
    CELLS(x, E2, {R11, S1, 2, 0, 2, 0, 100}, {R12, S1, 1, 4, 0, 0, 50});
    CELLS(x, E3, {R21, S2, 2, 1, 1, 0, 300}, {R22, S2, 1, 0, 1, 1, 0});
    CELLS(x, E4, {R11, S1, 2, 2, 0, 0, 100}, {R12, S1, 1, 0, 1, 0, 100}, {R21, S2, 2, 4, 0, 0, 100},
          {R22, S2, 1, 1, 0, 0, 100});
    NO_CELLS(x, E5);
    CELLS(x, E6, {R11, S1, 1, 1, 0, 0, 100}, {R12, S1, 3, 3, 0, 0, 100}, {R13, S1, 2, 2, 0, 0, 100});

    ACTUAL(x, E1, R11, 3, 200);
    ACTUAL(x, E1, R12, 1, 200);
    NO_ACTUAL(x, E1, R13);
    ACTUAL(x, E2, R11, 0, 100);
    ACTUAL(x, E2, R13, 2, 50); /* assessed though not demanded */
    ACTUAL(x, E5, R11, 3, 100);
    ACTUAL(x, E6, R11, 1, 100);
    NO_ACTUAL(x, E5, R21);

    /*                                  emp gaps dem open unass sum */
    ROW(x, GAP_BY_EMPLOYEE, flt, E1, 1, 1, 3, 2, 1, 4);
    ROW(x, GAP_BY_EMPLOYEE, flt, E2, 1, 1, 2, 1, 0, 2);
    ROW(x, GAP_BY_EMPLOYEE, flt, E3, 1, 1, 2, 2, 1, 2);
    ROW(x, GAP_BY_EMPLOYEE, flt, E4, 1, 1, 4, 1, 0, 1);
    ROW(x, GAP_BY_EMPLOYEE, flt, E5, 1, 0, 0, 0, 0, 0);
    ROW(x, GAP_BY_EMPLOYEE, flt, E6, 1, 0, 3, 0, 0, 0);

    /* departments: the whole subtree; employees counts everyone in it */
    ROW(x, GAP_BY_DEPARTMENT, flt, D1, 6, 4, 14, 6, 2, 9);
    ROW(x, GAP_BY_DEPARTMENT, flt, D2, 3, 3, 7, 5, 2, 8);
    ROW(x, GAP_BY_DEPARTMENT, flt, D3, 2, 2, 5, 3, 1, 6);
    ROW(x, GAP_BY_DEPARTMENT, flt, D4, 2, 1, 4, 1, 0, 1);
    ROW_MAY(x, GAP_BY_DEPARTMENT, flt, D5, 0, 0, 0, 0, 0, 0);

    /* systems: employees with a demanded pair in it (s1: e1 e2 e4 e6; s2: e3 e4) */
    ROW(x, GAP_BY_SYSTEM, flt, S1, 4, 3, 10, 4, 1, 7);
    ROW(x, GAP_BY_SYSTEM, flt, S2, 2, 1, 4, 2, 1, 2);

    /* requirements (r13 is not demanded of e2: p1 asks level 0) */
    ROW(x, GAP_BY_REQUIREMENT, flt, R11, 4, 1, 4, 1, 0, 2);
    ROW(x, GAP_BY_REQUIREMENT, flt, R12, 4, 2, 4, 2, 0, 3);
    ROW(x, GAP_BY_REQUIREMENT, flt, R13, 2, 1, 2, 1, 1, 2);
    ROW(x, GAP_BY_REQUIREMENT, flt, R21, 2, 1, 2, 1, 0, 1);
    ROW(x, GAP_BY_REQUIREMENT, flt, R22, 2, 1, 2, 1, 1, 1);

    /* profiles, each against its own levels: against p1, e1 has no gap (r12 asks 1, e1 has 1),
     * though against the maximum of p1 and p2 e1 lacks 2 on r12 */
    ROW(x, GAP_BY_PROFILE, flt, P1, 3, 2, 6, 2, 0, 3);
    ROW(x, GAP_BY_PROFILE, flt, P2, 2, 1, 6, 2, 1, 4);
    ROW(x, GAP_BY_PROFILE, flt, P3, 2, 1, 4, 2, 1, 2);
}

static void test_org_a_by_hand(void **state)
{
    struct fx *f = *state;
    org_a(f);
    struct gap_index *x = build(f);
    check_org_a(x, NULL);
    struct gap_filter none = {0};
    check_org_a(x, &none);

    /* coverage, spelled out once */
    size_t n;
    struct gap_row *rows = rollup(x, GAP_BY_EMPLOYEE, NULL, &n);
    assert_true(fabs(find_row(rows, n, E1)->coverage - 1.0 / 3.0) < 1e-9);
    assert_true(fabs(find_row(rows, n, E3)->coverage - 0.0) < 1e-9);
    assert_true(fabs(find_row(rows, n, E5)->coverage - 1.0) < 1e-9); /* nothing demanded */
    assert_true(fabs(find_row(rows, n, E6)->coverage - 1.0) < 1e-9);
    free(rows);
    rows = rollup(x, GAP_BY_DEPARTMENT, NULL, &n);
    assert_true(fabs(find_row(rows, n, D1)->coverage - 8.0 / 14.0) < 1e-9);
    assert_true(fabs(find_row(rows, n, D2)->coverage - 2.0 / 7.0) < 1e-9);
    free(rows);

    /* names are the users' names */
    char buf[128];
    assert_string_equal(row_name(x, GAP_BY_EMPLOYEE, E1, buf, sizeof buf), "Kari");
    assert_string_equal(row_name(x, GAP_BY_DEPARTMENT, D3, buf, sizeof buf), "Sykehjem");
    assert_string_equal(row_name(x, GAP_BY_SYSTEM, S2, buf, sizeof buf), "Excel");
    assert_string_equal(row_name(x, GAP_BY_PROFILE, P2, buf, sizeof buf), "Gerica 2");

    /* no row for what does not exist */
    NO_ROW(x, GAP_BY_EMPLOYEE, NULL, 99);
    NO_ROW(x, GAP_BY_REQUIREMENT, NULL, 99);
    struct gap_cell *c = NULL;
    size_t nc = 0;
    assert_int_equal(gap_employee(x, 99, &c, &nc, NULL), -1);
    free(c);
    NO_ACTUAL(x, 99, R11);

    assert_true(gap_department_within(x, D3, D1));
    assert_true(gap_department_within(x, D3, D2));
    assert_true(gap_department_within(x, D3, D3));
    assert_false(gap_department_within(x, D3, D4));
    assert_false(gap_department_within(x, D1, D3));
    assert_false(gap_department_within(x, D2, D4));
    assert_true(gap_department_within(x, D5, D1));
    assert_true(gap_memory(x) > 0);

    if (compare_everything(f, x, 1, 1) != 0)
        fail_msg("organisation A against the reference: %s", why);
    gap_free(x);
}

static void test_archived_take_no_part(void **state)
{
    struct fx *f = *state;
    org_a(f);
    /* Everything below would change organisation A's numbers if it were counted. */
    fx_employee(f, E7, "Gammel", D3);
    fx_assign(f, E7, P1);
    fx_assign(f, E7, P2);
    fx_assess(f, 0, E7, R11, 0, "self", 100);
    FX_SQL(f, "UPDATE employee SET archived = 1 WHERE id = %d", E7);

    fx_requirement(f, R14, S1, 4);
    fx_level(f, P1, R14, 3);
    fx_level(f, P2, R14, 4);
    fx_assess(f, 0, E6, R14, 1, "self", 100);
    FX_SQL(f, "UPDATE requirement SET archived = 1 WHERE id = %d", R14);

    fx_profile(f, P4, "Gerica 3", S1);
    fx_level(f, P4, R11, 4);
    fx_level(f, P4, R12, 4);
    fx_level(f, P4, R13, 4);
    fx_assign(f, E2, P4);
    fx_assign(f, E5, P4);
    fx_assign(f, E6, P4);
    FX_SQL(f, "UPDATE profile SET archived = 1 WHERE id = %d", P4);

    struct gap_index *x = build(f);
    check_org_a(x, NULL);
    NO_ROW(x, GAP_BY_EMPLOYEE, NULL, E7);
    NO_ROW(x, GAP_BY_REQUIREMENT, NULL, R14);
    NO_ROW(x, GAP_BY_PROFILE, NULL, P4);
    struct gap_cell *c = NULL;
    size_t n = 0;
    assert_int_equal(gap_employee(x, E7, &c, &n, NULL), -1);
    free(c);
    /* filtering on an archived profile's assignments does not bring them back */
    struct gap_filter by_p1 = {.profile_id = P1};
    NO_ROW(x, GAP_BY_EMPLOYEE, &by_p1, E7);
    ROW(x, GAP_BY_DEPARTMENT, &by_p1, D3, 2, 2, 5, 3, 1, 6);
    if (compare_everything(f, x, 1, 2) != 0)
        fail_msg("archived organisation against the reference: %s", why);
    gap_free(x);
}

static void test_filters(void **state)
{
    struct fx *f = *state;
    org_a(f);
    struct gap_index *x = build(f);

    /* departments {d2}: e1 e2 (d3) and e3 (d2) */
    const int64_t d2[] = {D2};
    struct gap_filter flt = {.departments = d2, .ndepartments = 1};
    ROW(x, GAP_BY_EMPLOYEE, &flt, E1, 1, 1, 3, 2, 1, 4);
    ROW(x, GAP_BY_EMPLOYEE, &flt, E3, 1, 1, 2, 2, 1, 2);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E4);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E5);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E6);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D2, 3, 3, 7, 5, 2, 8);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D3, 2, 2, 5, 3, 1, 6);
    ROW_MAY(x, GAP_BY_DEPARTMENT, &flt, D1, 3, 3, 7, 5, 2, 8); /* if listed, only the scope */
    ROW_MAY(x, GAP_BY_DEPARTMENT, &flt, D4, 0, 0, 0, 0, 0, 0);
    ROW(x, GAP_BY_SYSTEM, &flt, S1, 2, 2, 5, 3, 1, 6);
    ROW(x, GAP_BY_SYSTEM, &flt, S2, 1, 1, 2, 2, 1, 2);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R11, 2, 1, 2, 1, 0, 2);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R12, 2, 1, 2, 1, 0, 2);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R13, 1, 1, 1, 1, 1, 2);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R21, 1, 1, 1, 1, 0, 1);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R22, 1, 1, 1, 1, 1, 1);
    ROW(x, GAP_BY_PROFILE, &flt, P1, 2, 1, 4, 1, 0, 2);
    ROW(x, GAP_BY_PROFILE, &flt, P2, 1, 1, 3, 2, 1, 4);
    ROW(x, GAP_BY_PROFILE, &flt, P3, 1, 1, 2, 2, 1, 2);

    /* overlapping subtrees {d2, d3} count each employee once */
    const int64_t d23[] = {D2, D3};
    flt = (struct gap_filter){.departments = d23, .ndepartments = 2};
    ROW(x, GAP_BY_SYSTEM, &flt, S1, 2, 2, 5, 3, 1, 6);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D2, 3, 3, 7, 5, 2, 8);
    ROW(x, GAP_BY_PROFILE, &flt, P1, 2, 1, 4, 1, 0, 2);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R11, 2, 1, 2, 1, 0, 2);

    /* disjoint subtrees {d3, d4}: e1 e2 e4 e5 */
    const int64_t d34[] = {D3, D4};
    flt = (struct gap_filter){.departments = d34, .ndepartments = 2};
    ROW(x, GAP_BY_EMPLOYEE, &flt, E5, 1, 0, 0, 0, 0, 0);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E3);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E6);
    ROW(x, GAP_BY_SYSTEM, &flt, S1, 3, 3, 7, 4, 1, 7);
    ROW(x, GAP_BY_SYSTEM, &flt, S2, 1, 0, 2, 0, 0, 0);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D3, 2, 2, 5, 3, 1, 6);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D4, 2, 1, 4, 1, 0, 1);
    ROW_MAY(x, GAP_BY_DEPARTMENT, &flt, D1, 4, 3, 9, 4, 1, 7);
    ROW_MAY(x, GAP_BY_DEPARTMENT, &flt, D2, 2, 2, 5, 3, 1, 6);
    ROW(x, GAP_BY_PROFILE, &flt, P1, 3, 2, 6, 2, 0, 3);
    ROW(x, GAP_BY_PROFILE, &flt, P3, 1, 0, 2, 0, 0, 0);

    /* system s2: only its requirements and profiles; employees are not restricted */
    flt = (struct gap_filter){.system_id = S2};
    ROW(x, GAP_BY_SYSTEM, &flt, S2, 2, 1, 4, 2, 1, 2);
    ROW_MAY(x, GAP_BY_SYSTEM, &flt, S1, 0, 0, 0, 0, 0, 0);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R21, 2, 1, 2, 1, 0, 1);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R22, 2, 1, 2, 1, 1, 1);
    NO_ROW(x, GAP_BY_REQUIREMENT, &flt, R11);
    NO_ROW(x, GAP_BY_REQUIREMENT, &flt, R12);
    NO_ROW(x, GAP_BY_REQUIREMENT, &flt, R13);
    ROW(x, GAP_BY_PROFILE, &flt, P3, 2, 1, 4, 2, 1, 2);
    NO_ROW(x, GAP_BY_PROFILE, &flt, P1);
    NO_ROW(x, GAP_BY_PROFILE, &flt, P2);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D1, 6, 1, 4, 2, 1, 2);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D2, 3, 1, 2, 2, 1, 2);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D4, 2, 0, 2, 0, 0, 0);
    ROW(x, GAP_BY_EMPLOYEE, &flt, E3, 1, 1, 2, 2, 1, 2);
    ROW(x, GAP_BY_EMPLOYEE, &flt, E4, 1, 0, 2, 0, 0, 0);
    ROW_MAY(x, GAP_BY_EMPLOYEE, &flt, E1, 1, 0, 0, 0, 0, 0);
    ROW_MAY(x, GAP_BY_EMPLOYEE, &flt, E6, 1, 0, 0, 0, 0, 0);

    /* profile p1: e1 e2 e4, each still measured against all their profiles */
    flt = (struct gap_filter){.profile_id = P1};
    ROW(x, GAP_BY_EMPLOYEE, &flt, E1, 1, 1, 3, 2, 1, 4);
    ROW(x, GAP_BY_EMPLOYEE, &flt, E2, 1, 1, 2, 1, 0, 2);
    ROW(x, GAP_BY_EMPLOYEE, &flt, E4, 1, 1, 4, 1, 0, 1);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E3);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E5);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E6);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D1, 3, 3, 9, 4, 1, 7);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D2, 2, 2, 5, 3, 1, 6);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D3, 2, 2, 5, 3, 1, 6);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D4, 1, 1, 4, 1, 0, 1);
    ROW(x, GAP_BY_SYSTEM, &flt, S1, 3, 3, 7, 4, 1, 7);
    ROW(x, GAP_BY_SYSTEM, &flt, S2, 1, 0, 2, 0, 0, 0);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R13, 1, 1, 1, 1, 1, 2);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R22, 1, 0, 1, 0, 0, 0);
    ROW(x, GAP_BY_PROFILE, &flt, P1, 3, 2, 6, 2, 0, 3);
    ROW_MAY(x, GAP_BY_PROFILE, &flt, P2, 1, 1, 3, 2, 1, 4); /* e1 only */
    ROW_MAY(x, GAP_BY_PROFILE, &flt, P3, 1, 0, 2, 0, 0, 0); /* e4 only */

    /* combined: d4 and s2 */
    const int64_t d4[] = {D4};
    flt = (struct gap_filter){.departments = d4, .ndepartments = 1, .system_id = S2};
    ROW(x, GAP_BY_REQUIREMENT, &flt, R21, 1, 0, 1, 0, 0, 0);
    ROW(x, GAP_BY_REQUIREMENT, &flt, R22, 1, 0, 1, 0, 0, 0);
    ROW(x, GAP_BY_SYSTEM, &flt, S2, 1, 0, 2, 0, 0, 0);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D4, 2, 0, 2, 0, 0, 0);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E3);

    /* combined: d2 and p3: e3 only */
    flt = (struct gap_filter){.departments = d2, .ndepartments = 1, .profile_id = P3};
    ROW(x, GAP_BY_SYSTEM, &flt, S2, 1, 1, 2, 2, 1, 2);
    ROW(x, GAP_BY_DEPARTMENT, &flt, D2, 1, 1, 2, 2, 1, 2);
    ROW(x, GAP_BY_PROFILE, &flt, P3, 1, 1, 2, 2, 1, 2);
    NO_ROW(x, GAP_BY_EMPLOYEE, &flt, E1);
    ROW_MAY(x, GAP_BY_SYSTEM, &flt, S1, 0, 0, 0, 0, 0, 0);

    gap_free(x);
}

static void test_classes(void **state)
{
    struct fx *f = *state;
    org_a(f);
    struct gap_index *x = build(f);
    uint8_t cls[5][5], seven[5][5];
    for (int req = 0; req < 5; req++)
        for (int act = 0; act < 5; act++) {
            cls[req][act] = (uint8_t)(req * 5 + act);
            seven[req][act] = 7;
        }

    struct gap_cell *c = NULL;
    size_t n = 0;
    assert_int_equal(gap_employee(x, E1, &c, &n, NULL), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(c[i].class_id, 0xff); /* none set yet */
    free(c);

    gap_set_classes(x, R11, cls);
    gap_set_classes(x, R12, seven);
    assert_int_equal(gap_employee(x, E1, &c, &n, NULL), 0);
    assert_int_equal(c[0].requirement_id, R11);
    assert_int_equal(c[0].class_id, 2 * 5 + 3); /* required 2, actual 3 */
    assert_int_equal(c[1].class_id, 7);
    assert_int_equal(c[2].requirement_id, R13);
    assert_int_equal(c[2].class_id, 0xff);
    free(c);
    assert_int_equal(gap_employee(x, E2, &c, &n, NULL), 0);
    assert_int_equal(c[0].class_id, 2 * 5 + 0);
    free(c);

    /* the class follows the cell's values */
    fx_assess(f, 0, E2, R11, 1, "self", 600);
    gap_assess(x, E2, R11, 1, 600);
    assert_int_equal(gap_employee(x, E2, &c, &n, NULL), 0);
    assert_int_equal(c[0].class_id, 2 * 5 + 1);
    free(c);
    FX_SQL(f, "UPDATE profile_level SET level = 3 WHERE profile_id = %d AND requirement_id = %d", P1,
           R11);
    assert_int_equal(gap_reload_profile(x, f->db, P1), 0);
    assert_int_equal(gap_employee(x, E2, &c, &n, NULL), 0);
    assert_int_equal(c[0].required, 3);
    assert_int_equal(c[0].class_id, 3 * 5 + 1);
    free(c);
    FX_SQL(f, "UPDATE employee SET department_id = %d WHERE id = %d", D4, E1);
    assert_int_equal(gap_reload_employee(x, f->db, E1), 0);
    assert_int_equal(gap_employee(x, E1, &c, &n, NULL), 0);
    assert_int_equal(c[0].class_id, 3 * 5 + 3); /* max(p1 3, p2 1) = 3, actual 3 */
    assert_int_equal(c[1].class_id, 7);
    free(c);
    gap_free(x);
}

static void test_assess_ordering(void **state)
{
    struct fx *f = *state;
    org_a(f);
    struct gap_index *x = build(f);

    /* a later assessment of any source replaces the current one */
    fx_assess(f, 0, E1, R11, 1, "self", 300);
    gap_assess(x, E1, R11, 1, 300);
    ACTUAL(x, E1, R11, 1, 300);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 3, 3, 1, 5);
    fx_assess(f, 0, E1, R11, 2, "appraisal", 301);
    gap_assess(x, E1, R11, 2, 301);
    ACTUAL(x, E1, R11, 2, 301);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 3, 2, 1, 4);
    /* a backdated one does not */
    fx_assess(f, 0, E1, R11, 0, "course", 150);
    gap_assess(x, E1, R11, 0, 150);
    ACTUAL(x, E1, R11, 2, 301);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 3, 2, 1, 4);
    /* one at the same time does: it is the later record */
    fx_assess(f, 0, E1, R11, 0, "test", 301);
    gap_assess(x, E1, R11, 0, 301);
    ACTUAL(x, E1, R11, 0, 301);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 3, 3, 1, 6);
    ROW(x, GAP_BY_REQUIREMENT, NULL, R11, 4, 2, 4, 2, 0, 4);
    /* the first assessment of an unassessed pair */
    fx_assess(f, 0, E1, R13, 2, "self", 50);
    gap_assess(x, E1, R13, 2, 50);
    ACTUAL(x, E1, R13, 2, 50);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 3, 2, 0, 4);
    ROW(x, GAP_BY_SYSTEM, NULL, S1, 4, 3, 10, 4, 0, 7);
    /* an assessment of what nobody demands of e5 is remembered, not counted */
    fx_assess(f, 0, E5, R21, 1, "self", 700);
    gap_assess(x, E5, R21, 1, 700);
    ACTUAL(x, E5, R21, 1, 700);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E5, 1, 0, 0, 0, 0, 0);
    ROW(x, GAP_BY_REQUIREMENT, NULL, R21, 2, 1, 2, 1, 0, 1);
    SAME_AS_REBUILD(f, x, "the assessments");
    /* ... and counts once a profile demands it */
    fx_assign(f, E5, P3);
    assert_int_equal(gap_reload_employee(x, f->db, E5), 0);
    CELLS(x, E5, {R21, S2, 2, 1, 1, 0, 700}, {R22, S2, 1, 0, 1, 1, 0});
    SAME_AS_REBUILD(f, x, "assigning p3 to e5");
    gap_free(x);
}

/* The incremental path, step by step on organisation A, each step checked by hand and against a
 * rebuild. */
static void test_incremental_by_hand(void **state)
{
    struct fx *f = *state;
    org_a(f);
    struct gap_index *x = build(f);
    SAME_AS_REBUILD(f, x, "building");

    /* 1. new assessment: e1 r13 at 1 */
    fx_assess(f, 0, E1, R13, 1, "self", 400);
    gap_assess(x, E1, R13, 1, 400);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 3, 2, 0, 3);
    ROW(x, GAP_BY_REQUIREMENT, NULL, R13, 2, 1, 2, 1, 0, 1);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D3, 2, 2, 5, 3, 0, 5);
    SAME_AS_REBUILD(f, x, "step 1 (assessment)");

    /* 2. e4 assesses r13, which nobody demands of e4 yet */
    fx_assess(f, 0, E4, R13, 1, "self", 500);
    gap_assess(x, E4, R13, 1, 500);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E4, 1, 1, 4, 1, 0, 1);
    SAME_AS_REBUILD(f, x, "step 2 (assessment of an undemanded pair)");

    /* 3. profile levels: p1 now asks 2 of r13 (e1 e2 e4) */
    FX_SQL(f, "UPDATE profile_level SET level = 2 WHERE profile_id = %d AND requirement_id = %d", P1,
           R13);
    assert_int_equal(gap_reload_profile(x, f->db, P1), 0);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E2, 1, 1, 3, 1, 0, 2);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E4, 1, 1, 5, 2, 0, 2); /* r13: 2 against 1 */
    ROW(x, GAP_BY_REQUIREMENT, NULL, R13, 4, 2, 4, 2, 0, 2);  /* e1 has 1 since step 1 */
    ROW(x, GAP_BY_PROFILE, NULL, P1, 3, 3, 9, 4, 0, 5);
    CELLS(x, E4, {R11, S1, 2, 2, 0, 0, 100}, {R12, S1, 1, 0, 1, 0, 100}, {R13, S1, 2, 1, 1, 0, 500},
          {R21, S2, 2, 4, 0, 0, 100}, {R22, S2, 1, 1, 0, 0, 100});
    SAME_AS_REBUILD(f, x, "step 3 (profile level raised)");

    /* 4. assignment: e5 gets p3 */
    fx_assign(f, E5, P3);
    assert_int_equal(gap_reload_employee(x, f->db, E5), 0);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E5, 1, 1, 2, 2, 2, 3);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D4, 2, 2, 7, 4, 2, 5);
    ROW(x, GAP_BY_PROFILE, NULL, P3, 3, 2, 6, 4, 3, 5);
    SAME_AS_REBUILD(f, x, "step 4 (profile assigned)");

    /* 5. assignment: e1 loses p2, keeping p1 (2, 1, 2) */
    FX_SQL(f, "DELETE FROM assignment WHERE employee_id = %d AND profile_id = %d", E1, P2);
    assert_int_equal(gap_reload_employee(x, f->db, E1), 0);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 3, 1, 0, 1);
    ROW(x, GAP_BY_PROFILE, NULL, P2, 1, 0, 3, 0, 0, 0);
    SAME_AS_REBUILD(f, x, "step 5 (profile unassigned)");

    /* 6. profile levels: p3 asks 3 of r22 (e3 e4 e5) */
    FX_SQL(f, "UPDATE profile_level SET level = 3 WHERE profile_id = %d AND requirement_id = %d", P3,
           R22);
    assert_int_equal(gap_reload_profile(x, f->db, P3), 0);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E3, 1, 1, 2, 2, 1, 4);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E4, 1, 1, 5, 3, 0, 4);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E5, 1, 1, 2, 2, 2, 5);
    ROW(x, GAP_BY_REQUIREMENT, NULL, R22, 3, 3, 3, 3, 2, 8);
    SAME_AS_REBUILD(f, x, "step 6 (profile level raised)");

    /* 7. requirement archived: r12 */
    FX_SQL(f, "UPDATE requirement SET archived = 1 WHERE id = %d", R12);
    assert_int_equal(gap_reload_requirement(x, f->db, R12), 0);
    NO_ROW(x, GAP_BY_REQUIREMENT, NULL, R12);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E1, 1, 1, 2, 1, 0, 1);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E2, 1, 1, 2, 1, 0, 2);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E4, 1, 1, 4, 2, 0, 3);
    ROW(x, GAP_BY_SYSTEM, NULL, S1, 4, 3, 8, 3, 0, 4);
    CELLS(x, E1, {R11, S1, 2, 3, 0, 0, 200}, {R13, S1, 2, 1, 1, 0, 400});
    SAME_AS_REBUILD(f, x, "step 7 (requirement archived)");

    /* 8. employee moved: e3 from d2 to d4 */
    FX_SQL(f, "UPDATE employee SET department_id = %d WHERE id = %d", D4, E3);
    assert_int_equal(gap_reload_employee(x, f->db, E3), 0);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D2, 2, 2, 4, 2, 0, 3);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D3, 2, 2, 4, 2, 0, 3);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D4, 3, 3, 8, 6, 3, 12);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D1, 6, 5, 14, 8, 3, 15);
    SAME_AS_REBUILD(f, x, "step 8 (employee moved)");

    /* 9. employee archived: e2 */
    FX_SQL(f, "UPDATE employee SET archived = 1 WHERE id = %d", E2);
    assert_int_equal(gap_reload_employee(x, f->db, E2), 0);
    NO_ROW(x, GAP_BY_EMPLOYEE, NULL, E2);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D3, 1, 1, 2, 1, 0, 1);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D1, 5, 4, 12, 7, 3, 13);
    ROW(x, GAP_BY_PROFILE, NULL, P1, 2, 2, 4, 2, 0, 2);
    SAME_AS_REBUILD(f, x, "step 9 (employee archived)");

    /* 10. department re-parented: d3 from d2 to d4 */
    FX_SQL(f, "UPDATE department SET parent_id = %d WHERE id = %d", D4, D3);
    assert_int_equal(gap_reload_department(x, f->db, D3), 0);
    assert_true(gap_department_within(x, D3, D4));
    assert_true(gap_department_within(x, D3, D1));
    assert_false(gap_department_within(x, D3, D2));
    ROW_MAY(x, GAP_BY_DEPARTMENT, NULL, D2, 0, 0, 0, 0, 0, 0);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D4, 4, 4, 10, 7, 3, 13);
    ROW(x, GAP_BY_DEPARTMENT, NULL, D1, 5, 4, 12, 7, 3, 13);
    const int64_t d4[] = {D4};
    struct gap_filter in_d4 = {.departments = d4, .ndepartments = 1};
    ROW(x, GAP_BY_SYSTEM, &in_d4, S1, 2, 2, 4, 2, 0, 2);
    ROW(x, GAP_BY_EMPLOYEE, &in_d4, E1, 1, 1, 2, 1, 0, 1);
    SAME_AS_REBUILD(f, x, "step 10 (department re-parented)");

    /* 11. renamed department and employee */
    FX_SQL(f, "UPDATE department SET name = 'Skule' WHERE id = %d", D4);
    assert_int_equal(gap_reload_department(x, f->db, D4), 0);
    FX_SQL(f, "UPDATE employee SET name = 'Kari Nordmann' WHERE id = %d", E1);
    assert_int_equal(gap_reload_employee(x, f->db, E1), 0);
    char buf[128];
    assert_string_equal(row_name(x, GAP_BY_DEPARTMENT, D4, buf, sizeof buf), "Skule");
    assert_string_equal(row_name(x, GAP_BY_EMPLOYEE, E1, buf, sizeof buf), "Kari Nordmann");
    SAME_AS_REBUILD(f, x, "step 11 (renames)");

    /* 12. profile archived: p3 */
    FX_SQL(f, "UPDATE profile SET archived = 1 WHERE id = %d", P3);
    assert_int_equal(gap_reload_profile(x, f->db, P3), 0);
    NO_ROW(x, GAP_BY_PROFILE, NULL, P3);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E3, 1, 0, 0, 0, 0, 0);
    ROW(x, GAP_BY_EMPLOYEE, NULL, E4, 1, 1, 2, 1, 0, 1);
    ROW_MAY(x, GAP_BY_SYSTEM, NULL, S2, 0, 0, 0, 0, 0, 0);
    SAME_AS_REBUILD(f, x, "step 12 (profile archived)");

    /* 13. a new department with a new employee in it, a new requirement demanded of them */
    fx_department(f, 6, "Kantine", D2);
    assert_int_equal(gap_reload_department(x, f->db, 6), 0);
    fx_requirement(f, 23, S2, 3);
    assert_int_equal(gap_reload_requirement(x, f->db, 23), 0);
    fx_profile(f, 5, "Excel kantine", S2);
    fx_level(f, 5, 23, 3);
    fx_level(f, 5, R21, 1);
    assert_int_equal(gap_reload_profile(x, f->db, 5), 0);
    fx_employee(f, 8, "Nina", 6);
    fx_assign(f, 8, 5);
    assert_int_equal(gap_reload_employee(x, f->db, 8), 0);
    CELLS(x, 8, {R21, S2, 1, 0, 1, 1, 0}, {23, S2, 3, 0, 3, 1, 0});
    ROW(x, GAP_BY_DEPARTMENT, NULL, D2, 1, 1, 2, 2, 2, 4);
    ROW(x, GAP_BY_REQUIREMENT, NULL, 23, 1, 1, 1, 1, 1, 3);
    SAME_AS_REBUILD(f, x, "step 13 (new department, requirement, profile, employee)");

    /* 14. the requirement comes back; the profile too */
    FX_SQL(f, "UPDATE requirement SET archived = 0 WHERE id = %d", R12);
    assert_int_equal(gap_reload_requirement(x, f->db, R12), 0);
    FX_SQL(f, "UPDATE profile SET archived = 0 WHERE id = %d", P3);
    assert_int_equal(gap_reload_profile(x, f->db, P3), 0);
    SAME_AS_REBUILD(f, x, "step 14 (requirement and profile restored)");

    /* 15. an empty department goes */
    FX_SQL(f, "DELETE FROM department WHERE id = %d", D5);
    assert_int_equal(gap_reload_department(x, f->db, D5), 0);
    NO_ROW(x, GAP_BY_DEPARTMENT, NULL, D5);
    SAME_AS_REBUILD(f, x, "step 15 (department deleted)");
    gap_free(x);
}

/* A demand that goes away and comes back: the index must forget the first and see the second,
 * for every employee of the profile, whatever the order in which they are measured. */
static void test_demand_dropped_then_restored(void **state)
{
    struct fx *f = *state;
    org_a(f);
    fx_assign(f, E5, P3); /* p3: e3 (r22 unassessed), e4 (r22 assessed), e5 (r22 unassessed) */
    struct gap_index *x = build(f);

    FX_SQL(f, "DELETE FROM profile_level WHERE profile_id = %d AND requirement_id = %d", P3, R22);
    assert_int_equal(gap_reload_profile(x, f->db, P3), 0);
    CELLS(x, E3, {R21, S2, 2, 1, 1, 0, 300});
    CELLS(x, E4, {R11, S1, 2, 2, 0, 0, 100}, {R12, S1, 1, 0, 1, 0, 100}, {R21, S2, 2, 4, 0, 0, 100});
    CELLS(x, E5, {R21, S2, 2, 0, 2, 1, 0});
    ROW_MAY(x, GAP_BY_REQUIREMENT, NULL, R22, 0, 0, 0, 0, 0, 0);
    SAME_AS_REBUILD(f, x, "p3 no longer asks anything of r22");

    fx_level(f, P3, R22, 1);
    assert_int_equal(gap_reload_profile(x, f->db, P3), 0);
    CELLS(x, E3, {R21, S2, 2, 1, 1, 0, 300}, {R22, S2, 1, 0, 1, 1, 0});
    CELLS(x, E4, {R11, S1, 2, 2, 0, 0, 100}, {R12, S1, 1, 0, 1, 0, 100}, {R21, S2, 2, 4, 0, 0, 100},
          {R22, S2, 1, 1, 0, 0, 100});
    CELLS(x, E5, {R21, S2, 2, 0, 2, 1, 0}, {R22, S2, 1, 0, 1, 1, 0});
    ROW(x, GAP_BY_REQUIREMENT, NULL, R22, 3, 2, 3, 2, 2, 2);
    SAME_AS_REBUILD(f, x, "p3 asks 1 of r22 again");
    gap_free(x);
}

/* --- randomized: a few hundred operations, each followed by the full comparison ------------ */

static int64_t next_id(struct fx *f, const char *table)
{
    char sql[80];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) + 1 FROM %s", table);
    return fx_int(f, 1, "%s", sql);
}

static int pick_employee(const struct ref *R, uint64_t *s, int archived)
{
    int n = 0;
    for (int e = 0; e < R->ne; e++)
        n += R->e[e].archived == archived;
    if (!n)
        return -1;
    int k = rnd(s, n);
    for (int e = 0; e < R->ne; e++)
        if (R->e[e].archived == archived && k-- == 0)
            return e;
    return -1;
}

static int pick_requirement(const struct ref *R, uint64_t *s, int archived, int64_t sys)
{
    int n = 0;
    for (int r = 0; r < R->nr; r++)
        n += R->r[r].archived == archived && (!sys || R->r[r].sys == sys);
    if (!n)
        return -1;
    int k = rnd(s, n);
    for (int r = 0; r < R->nr; r++)
        if (R->r[r].archived == archived && (!sys || R->r[r].sys == sys) && k-- == 0)
            return r;
    return -1;
}

static int count_active(const struct ref *R, char what)
{
    int n = 0;
    for (int i = 0; what == 'e' && i < R->ne; i++)
        n += !R->e[i].archived;
    for (int i = 0; what == 'r' && i < R->nr; i++)
        n += !R->r[i].archived;
    for (int i = 0; what == 'p' && i < R->np; i++)
        n += !R->p[i].archived;
    return n;
}

static void random_organisation(struct fx *f, uint64_t *s)
{
    fx_department(f, 1, "Kommune", 0);
    for (int d = 2; d <= 8; d++) {
        char name[32];
        snprintf(name, sizeof name, "Avdeling %d", d);
        fx_department(f, d, name, 1 + rnd(s, d - 1));
    }
    for (int sy = 1; sy <= 3; sy++) {
        char name[32];
        snprintf(name, sizeof name, "System %d", sy);
        fx_system(f, sy, name);
        for (int k = 1; k <= 5; k++)
            fx_requirement(f, (sy - 1) * 5 + k, sy, k);
    }
    for (int p = 1; p <= 6; p++) {
        int sy = (p + 1) / 2;
        char name[32];
        snprintf(name, sizeof name, "Profil %d", p);
        fx_profile(f, p, name, sy);
        for (int k = 1; k <= 5; k++)
            if (rnd(s, 3))
                fx_level(f, p, (sy - 1) * 5 + k, rnd(s, 5));
    }
    /* one profile across systems */
    fx_profile(f, 7, "Grunnleggende", 0);
    for (int r = 1; r <= 15; r += 3)
        fx_level(f, 7, r, 1 + rnd(s, 2));
    for (int e = 1; e <= 30; e++) {
        char name[32];
        snprintf(name, sizeof name, "Ansatt %d", e);
        fx_employee(f, e, name, 1 + rnd(s, 8));
        for (int k = rnd(s, 3); k > 0; k--)
            fx_assign(f, e, 1 + rnd(s, 7));
    }
    static const char *const sources[] = {"self", "course", "appraisal", "test"};
    for (int k = 0; k < 80; k++)
        fx_assess(f, 0, 1 + rnd(s, 30), 1 + rnd(s, 15), rnd(s, 5), sources[rnd(s, 4)],
                  1 + rnd(s, 1000));
}

/* One random committed change and the index calls the domain would make after it. */
static void random_change(struct fx *f, struct gap_index *x, const struct ref *R, uint64_t *s,
                          int restores, int64_t *clock, char *desc, size_t dn)
{
    static const char *const sources[] = {"self", "course", "appraisal", "test"};
    snprintf(desc, dn, "nothing");
    for (int tries = 0; tries < 50; tries++) {
        int op = rnd(s, restores ? 100 : 95);
        if (op < 30) { /* an assessment, sometimes backdated, sometimes at the same time */
            int e = pick_employee(R, s, 0), r = pick_requirement(R, s, 0, 0);
            if (e < 0 || r < 0)
                continue;
            int level = rnd(s, 5), how = rnd(s, 10);
            int64_t at;
            if (how < 6 || R->actual[e][r] < 0)
                at = ++*clock;
            else if (how < 8)
                at = 1 + rnd(s, (int)*clock);
            else
                at = R->at[e][r];
            int64_t id = fx_assess(f, 0, R->e[e].id, R->r[r].id, level, sources[rnd(s, 4)], at);
            gap_assess(x, R->e[e].id, R->r[r].id, level, at);
            snprintf(desc, dn, "assessment #%lld e%lld r%lld level %d at %lld", (long long)id,
                     (long long)R->e[e].id, (long long)R->r[r].id, level, (long long)at);
            return;
        } else if (op < 38) { /* assign a profile */
            int e = pick_employee(R, s, 0), p = pick_active_profile(R, s);
            if (e < 0 || p < 0 || R->assigned[e][p])
                continue;
            fx_assign(f, R->e[e].id, R->p[p].id);
            assert_int_equal(gap_reload_employee(x, f->db, R->e[e].id), 0);
            snprintf(desc, dn, "assign p%lld to e%lld", (long long)R->p[p].id, (long long)R->e[e].id);
            return;
        } else if (op < 44) { /* unassign one */
            int e = pick_employee(R, s, 0);
            if (e < 0)
                continue;
            int p = rnd(s, R->np);
            if (!R->assigned[e][p])
                continue;
            FX_SQL(f, "DELETE FROM assignment WHERE employee_id = %lld AND profile_id = %lld",
                   (long long)R->e[e].id, (long long)R->p[p].id);
            assert_int_equal(gap_reload_employee(x, f->db, R->e[e].id), 0);
            snprintf(desc, dn, "unassign p%lld from e%lld", (long long)R->p[p].id,
                     (long long)R->e[e].id);
            return;
        } else if (op < 52) { /* set a profile level */
            int p = pick_active_profile(R, s);
            if (p < 0)
                continue;
            int r = pick_requirement(R, s, 0, R->p[p].sys);
            if (r < 0)
                continue;
            int level = rnd(s, 5);
            fx_level(f, R->p[p].id, R->r[r].id, level);
            assert_int_equal(gap_reload_profile(x, f->db, R->p[p].id), 0);
            snprintf(desc, dn, "p%lld asks %d of r%lld", (long long)R->p[p].id, level,
                     (long long)R->r[r].id);
            return;
        } else if (op < 55) { /* drop a profile level */
            int p = pick_active_profile(R, s);
            if (p < 0)
                continue;
            int r = rnd(s, R->nr);
            if (R->level[p][r] < 0)
                continue;
            FX_SQL(f, "DELETE FROM profile_level WHERE profile_id = %lld AND requirement_id = %lld",
                   (long long)R->p[p].id, (long long)R->r[r].id);
            assert_int_equal(gap_reload_profile(x, f->db, R->p[p].id), 0);
            snprintf(desc, dn, "p%lld no longer names r%lld", (long long)R->p[p].id,
                     (long long)R->r[r].id);
            return;
        } else if (op < 57) { /* archive a requirement */
            if (count_active(R, 'r') <= 8)
                continue;
            int r = pick_requirement(R, s, 0, 0);
            FX_SQL(f, "UPDATE requirement SET archived = 1 WHERE id = %lld", (long long)R->r[r].id);
            assert_int_equal(gap_reload_requirement(x, f->db, R->r[r].id), 0);
            snprintf(desc, dn, "archive r%lld", (long long)R->r[r].id);
            return;
        } else if (op < 60) { /* a new requirement */
            if (R->nr >= MAXR - 2)
                continue;
            int64_t sys = R->s[rnd(s, R->ns)].id, id = next_id(f, "requirement");
            int pos = (int)fx_int(f, 0, "SELECT coalesce(max(position), 0) + 1 FROM requirement "
                                        "WHERE system_id = %lld", (long long)sys);
            fx_requirement(f, id, sys, pos);
            assert_int_equal(gap_reload_requirement(x, f->db, id), 0);
            snprintf(desc, dn, "new requirement r%lld in s%lld", (long long)id, (long long)sys);
            return;
        } else if (op < 63) { /* two requirements swap places */
            int a = pick_requirement(R, s, 0, 0);
            if (a < 0)
                continue;
            int b = pick_requirement(R, s, 0, R->r[a].sys);
            if (b == a)
                continue;
            FX_SQL(f, "UPDATE requirement SET position = %d WHERE id = %lld", R->r[b].pos,
                   (long long)R->r[a].id);
            FX_SQL(f, "UPDATE requirement SET position = %d WHERE id = %lld", R->r[a].pos,
                   (long long)R->r[b].id);
            assert_int_equal(gap_reload_requirement(x, f->db, R->r[a].id), 0);
            assert_int_equal(gap_reload_requirement(x, f->db, R->r[b].id), 0);
            snprintf(desc, dn, "r%lld and r%lld swap positions", (long long)R->r[a].id,
                     (long long)R->r[b].id);
            return;
        } else if (op < 68) { /* move an employee */
            int e = pick_employee(R, s, 0);
            int64_t d = R->d[rnd(s, R->nd)].id;
            if (e < 0 || d == R->e[e].dept)
                continue;
            FX_SQL(f, "UPDATE employee SET department_id = %lld WHERE id = %lld", (long long)d,
                   (long long)R->e[e].id);
            assert_int_equal(gap_reload_employee(x, f->db, R->e[e].id), 0);
            snprintf(desc, dn, "move e%lld to d%lld", (long long)R->e[e].id, (long long)d);
            return;
        } else if (op < 70) { /* archive an employee */
            if (count_active(R, 'e') <= 15)
                continue;
            int e = pick_employee(R, s, 0);
            FX_SQL(f, "UPDATE employee SET archived = 1 WHERE id = %lld", (long long)R->e[e].id);
            assert_int_equal(gap_reload_employee(x, f->db, R->e[e].id), 0);
            snprintf(desc, dn, "archive e%lld", (long long)R->e[e].id);
            return;
        } else if (op < 73) { /* a new employee with profiles */
            if (R->ne >= MAXE - 2)
                continue;
            int64_t id = next_id(f, "employee"), d = R->d[rnd(s, R->nd)].id;
            char name[32];
            snprintf(name, sizeof name, "Ny %lld", (long long)id);
            fx_employee(f, id, name, d);
            for (int k = rnd(s, 3); k > 0; k--) {
                int p = pick_active_profile(R, s);
                if (p >= 0)
                    fx_assign(f, id, R->p[p].id);
            }
            assert_int_equal(gap_reload_employee(x, f->db, id), 0);
            snprintf(desc, dn, "new employee e%lld in d%lld", (long long)id, (long long)d);
            return;
        } else if (op < 77) { /* re-parent a department */
            int d = rnd(s, R->nd), q = rnd(s, R->nd);
            if (!R->d[d].parent || R->within[q][d] || R->d[q].id == R->d[d].parent)
                continue;
            FX_SQL(f, "UPDATE department SET parent_id = %lld WHERE id = %lld", (long long)R->d[q].id,
                   (long long)R->d[d].id);
            assert_int_equal(gap_reload_department(x, f->db, R->d[d].id), 0);
            snprintf(desc, dn, "d%lld moves under d%lld", (long long)R->d[d].id,
                     (long long)R->d[q].id);
            return;
        } else if (op < 79) { /* a new department */
            if (R->nd >= MAXD - 2)
                continue;
            int64_t id = next_id(f, "department"), parent = R->d[rnd(s, R->nd)].id;
            char name[32];
            snprintf(name, sizeof name, "Ny avdeling %lld", (long long)id);
            fx_department(f, id, name, parent);
            assert_int_equal(gap_reload_department(x, f->db, id), 0);
            snprintf(desc, dn, "new department d%lld under d%lld", (long long)id, (long long)parent);
            return;
        } else if (op < 82) { /* a rename */
            int kind = rnd(s, 4);
            int64_t id;
            const char *table;
            if (kind == 0) {
                id = R->d[rnd(s, R->nd)].id;
                table = "department";
            } else if (kind == 1) {
                int e = pick_employee(R, s, 0);
                if (e < 0)
                    continue;
                id = R->e[e].id;
                table = "employee";
            } else if (kind == 2) {
                int p = pick_active_profile(R, s);
                if (p < 0)
                    continue;
                id = R->p[p].id;
                table = "profile";
            } else {
                id = R->s[rnd(s, R->ns)].id;
                table = "system";
            }
            FX_SQL(f, "UPDATE %s SET name = name || ' (ny)' WHERE id = %lld", table, (long long)id);
            int rc = kind == 0   ? gap_reload_department(x, f->db, id)
                     : kind == 1 ? gap_reload_employee(x, f->db, id)
                     : kind == 2 ? gap_reload_profile(x, f->db, id)
                                 : gap_reload_system(x, f->db, id);
            assert_int_equal(rc, 0);
            snprintf(desc, dn, "rename %s %lld", table, (long long)id);
            return;
        } else if (op < 85) { /* a new profile, assigned to a few */
            if (R->np >= MAXP - 2)
                continue;
            int64_t id = next_id(f, "profile"), sys = R->s[rnd(s, R->ns)].id;
            char name[32];
            snprintf(name, sizeof name, "Ny profil %lld", (long long)id);
            fx_profile(f, id, name, sys);
            for (int k = 1 + rnd(s, 3); k > 0; k--) {
                int r = pick_requirement(R, s, 0, sys);
                if (r >= 0)
                    fx_level(f, id, R->r[r].id, rnd(s, 5));
            }
            assert_int_equal(gap_reload_profile(x, f->db, id), 0);
            for (int k = rnd(s, 4); k > 0; k--) {
                int e = pick_employee(R, s, 0);
                if (e < 0)
                    continue;
                fx_assign(f, R->e[e].id, id);
                assert_int_equal(gap_reload_employee(x, f->db, R->e[e].id), 0);
            }
            snprintf(desc, dn, "new profile p%lld in s%lld", (long long)id, (long long)sys);
            return;
        } else if (op < 86) { /* archive a profile */
            if (count_active(R, 'p') <= 3)
                continue;
            int p = pick_active_profile(R, s);
            FX_SQL(f, "UPDATE profile SET archived = 1 WHERE id = %lld", (long long)R->p[p].id);
            assert_int_equal(gap_reload_profile(x, f->db, R->p[p].id), 0);
            snprintf(desc, dn, "archive p%lld", (long long)R->p[p].id);
            return;
        } else if (op < 88) { /* delete an empty leaf department */
            int d = rnd(s, R->nd);
            if (!R->d[d].parent)
                continue;
            int used = 0;
            for (int k = 0; k < R->nd; k++)
                used |= R->d[k].parent == R->d[d].id;
            for (int e = 0; e < R->ne; e++)
                used |= R->e[e].dept == R->d[d].id;
            if (used)
                continue;
            FX_SQL(f, "DELETE FROM department WHERE id = %lld", (long long)R->d[d].id);
            assert_int_equal(gap_reload_department(x, f->db, R->d[d].id), 0);
            snprintf(desc, dn, "delete department d%lld", (long long)R->d[d].id);
            return;
        } else if (op < 89) { /* a new system with one requirement */
            if (R->ns >= MAXS - 1 || R->nr >= MAXR - 2)
                continue;
            int64_t id = next_id(f, "system"), rid = next_id(f, "requirement");
            char name[32];
            snprintf(name, sizeof name, "Nytt system %lld", (long long)id);
            fx_system(f, id, name);
            fx_requirement(f, rid, id, 1);
            assert_int_equal(gap_reload_system(x, f->db, id), 0);
            snprintf(desc, dn, "new system s%lld with r%lld", (long long)id, (long long)rid);
            return;
        } else if (op < 95) { /* several changes in one system, then one gap_reload_system */
            int p = pick_active_profile(R, s);
            if (p < 0 || !R->p[p].sys)
                continue;
            int64_t sys = R->p[p].sys;
            int r = pick_requirement(R, s, 0, sys), level = rnd(s, 5);
            if (r < 0)
                continue;
            fx_level(f, R->p[p].id, R->r[r].id, level);
            int gone = pick_requirement(R, s, 0, sys);
            if (gone >= 0 && gone != r && count_active(R, 'r') > 8)
                FX_SQL(f, "UPDATE requirement SET archived = 1 WHERE id = %lld",
                       (long long)R->r[gone].id);
            else
                gone = -1;
            FX_SQL(f, "UPDATE system SET name = name || '+' WHERE id = %lld", (long long)sys);
            assert_int_equal(gap_reload_system(x, f->db, sys), 0);
            snprintf(desc, dn, "in s%lld: p%lld asks %d of r%lld, r%lld archived", (long long)sys,
                     (long long)R->p[p].id, level, (long long)R->r[r].id,
                     gone >= 0 ? (long long)R->r[gone].id : 0LL);
            return;
        } else { /* restore something archived */
            int kind = rnd(s, 3);
            if (kind == 0) {
                int e = pick_employee(R, s, 1);
                if (e < 0)
                    continue;
                FX_SQL(f, "UPDATE employee SET archived = 0 WHERE id = %lld", (long long)R->e[e].id);
                assert_int_equal(gap_reload_employee(x, f->db, R->e[e].id), 0);
                snprintf(desc, dn, "restore e%lld", (long long)R->e[e].id);
            } else if (kind == 1) {
                int r = pick_requirement(R, s, 1, 0);
                if (r < 0)
                    continue;
                FX_SQL(f, "UPDATE requirement SET archived = 0 WHERE id = %lld", (long long)R->r[r].id);
                assert_int_equal(gap_reload_requirement(x, f->db, R->r[r].id), 0);
                snprintf(desc, dn, "restore r%lld", (long long)R->r[r].id);
            } else {
                int p = -1;
                for (int k = 0; k < R->np; k++)
                    if (R->p[k].archived && (p < 0 || rnd(s, 2)))
                        p = k;
                if (p < 0)
                    continue;
                FX_SQL(f, "UPDATE profile SET archived = 0 WHERE id = %lld", (long long)R->p[p].id);
                assert_int_equal(gap_reload_profile(x, f->db, R->p[p].id), 0);
                snprintf(desc, dn, "restore p%lld", (long long)R->p[p].id);
            }
            return;
        }
    }
}

static void random_run(struct fx *f, uint64_t seed, int steps, int restores)
{
    uint64_t s = seed;
    random_organisation(f, &s);
    struct gap_index *x = build(f);
    if (compare_everything(f, x, 0, seed) != 0)
        fail_msg("seed %llu, after building: %s", (unsigned long long)seed, why);
    struct ref *R = xcalloc(1, sizeof *R);
    int64_t clock = 1000;
    char desc[256];
    for (int step = 1; step <= steps; step++) {
        ref_load(f, R);
        random_change(f, x, R, &s, restores, &clock, desc, sizeof desc);
        if (compare_everything(f, x, step % 25 == 0, seed + (uint64_t)step) != 0) {
            free(R);
            fail_msg("seed %llu, step %d (%s): %s", (unsigned long long)seed, step, desc, why);
        }
    }
    free(R);
    gap_free(x);
}

static void test_random_incremental(void **state)
{
    random_run(*state, 0x9e3779b97f4a7c15ULL, 400, 0);
}

static void test_random_incremental_with_restores(void **state)
{
    random_run(*state, 20261126, 300, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_org_a_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archived_take_no_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assess_ordering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demand_dropped_then_restored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_incremental_with_restores, setup, teardown),
    };
    return cmocka_run_group_tests_name("gap", tests, NULL, NULL);
}
