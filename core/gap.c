#include "gap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "util.h"

/* Sums over a set of (employee, requirement) pairs; one of these per department (its own
 * employees), system, profile and requirement, and one per employee. */
struct agg {
    int64_t employees, with_gaps, demanded, open, unassessed, gap_sum;
};

/* An employee's requirement that is demanded or assessed (or both). */
struct pair {
    int32_t req;
    uint32_t at;          /* recorded_at of the assessment that counts */
    uint8_t required;     /* max over the employee's active profiles; 0 if not demanded */
    uint8_t actual;
    uint8_t assessed;
};

struct emp {
    char *name;
    int64_t dept;
    int32_t *profiles;
    uint32_t nprofiles;
    struct pair *pairs;   /* sorted by req */
    uint32_t npairs, cap;
    struct agg me;        /* this employee's own roll-up, kept with the pairs */
    uint8_t present, active;
};

struct dept {
    char *name;
    int64_t parent;
    int32_t *emps;        /* its own employees (archived ones too), for scoped roll-ups */
    uint32_t nemps, cap;
    uint8_t present;
};

struct sys {
    char *name;
    uint8_t present, active;
};

struct req {
    char *text;
    int64_t system_id, position;
    uint8_t cls[5][5];
    uint8_t present, active;
};

struct level {
    int32_t req;
    uint8_t level;
};

struct prof {
    char *name;
    int64_t system_id;
    struct level *levels; /* level > 0 only, sorted by req */
    uint32_t nlevels;
    uint8_t present, active;
};

/* Running totals, each array indexed by id and as long as the matching entity array. */
struct totals {
    struct agg *dept, *sys, *prof, *req;
};

struct gap_index {
    struct emp *emps;
    struct dept *depts;
    struct sys *syss;
    struct req *reqs;
    struct prof *profs;
    size_t nemp, ndept, nsys, nreq, nprof;   /* array lengths: highest id + 1 */
    struct totals tot;
    /* scratch space for one employee at a time, as long as reqs / syss, kept zeroed */
    uint8_t *req_scratch;
    int32_t *req_touched;
    struct agg *sys_scratch;
    int32_t *sys_touched;
    /* departments ordered deepest first, for summing up the tree; rebuilt when the tree changes */
    int64_t *dept_order;
    size_t ndept_order;
    int dept_order_valid;
};

/* --- growing the id-indexed arrays ----------------------------------------------------- */

static void grow(void **arr, size_t elem, size_t old, size_t len)
{
    *arr = xrealloc(*arr, len * elem);
    memset((char *)*arr + old * elem, 0, (len - old) * elem);
}

static size_t next_len(size_t cur, int64_t id)
{
    if (id < 0 || id > (1 << 30))
        UTIL_ABORT("id %lld out of the index's range", (long long)id);
    size_t len = cur ? cur : 16;
    while (len <= (size_t)id)
        len *= 2;
    return len;
}

static struct emp *emp_at(struct gap_index *x, int64_t id)
{
    if ((size_t)id >= x->nemp) {
        size_t len = next_len(x->nemp, id);
        grow((void **)&x->emps, sizeof *x->emps, x->nemp, len);
        x->nemp = len;
    }
    return &x->emps[id];
}

static struct dept *dept_at(struct gap_index *x, int64_t id)
{
    if ((size_t)id >= x->ndept) {
        size_t len = next_len(x->ndept, id);
        grow((void **)&x->depts, sizeof *x->depts, x->ndept, len);
        grow((void **)&x->tot.dept, sizeof *x->tot.dept, x->ndept, len);
        x->ndept = len;
    }
    return &x->depts[id];
}

static struct sys *sys_at(struct gap_index *x, int64_t id)
{
    if ((size_t)id >= x->nsys) {
        size_t len = next_len(x->nsys, id);
        grow((void **)&x->syss, sizeof *x->syss, x->nsys, len);
        grow((void **)&x->tot.sys, sizeof *x->tot.sys, x->nsys, len);
        grow((void **)&x->sys_scratch, sizeof *x->sys_scratch, x->nsys, len);
        grow((void **)&x->sys_touched, sizeof *x->sys_touched, x->nsys, len);
        x->nsys = len;
    }
    return &x->syss[id];
}

static struct req *req_at(struct gap_index *x, int64_t id)
{
    if ((size_t)id >= x->nreq) {
        size_t len = next_len(x->nreq, id);
        grow((void **)&x->reqs, sizeof *x->reqs, x->nreq, len);
        grow((void **)&x->tot.req, sizeof *x->tot.req, x->nreq, len);
        grow((void **)&x->req_scratch, sizeof *x->req_scratch, x->nreq, len);
        grow((void **)&x->req_touched, sizeof *x->req_touched, x->nreq, len);
        for (size_t i = x->nreq; i < len; i++)
            memset(x->reqs[i].cls, 0xff, sizeof x->reqs[i].cls);
        x->nreq = len;
    }
    return &x->reqs[id];
}

static struct prof *prof_at(struct gap_index *x, int64_t id)
{
    if ((size_t)id >= x->nprof) {
        size_t len = next_len(x->nprof, id);
        grow((void **)&x->profs, sizeof *x->profs, x->nprof, len);
        grow((void **)&x->tot.prof, sizeof *x->tot.prof, x->nprof, len);
        x->nprof = len;
    }
    return &x->profs[id];
}

static const struct emp *emp_get(const struct gap_index *x, int64_t id)
{
    return id > 0 && (size_t)id < x->nemp && x->emps[id].present ? &x->emps[id] : NULL;
}

static void set_name(char **dst, const char *src)
{
    free(*dst);
    *dst = xstrdup(src ? src : "");
}

static void dept_add_emp(struct gap_index *x, int64_t d, int64_t id)
{
    struct dept *dp = dept_at(x, d);
    if (dp->nemps == dp->cap) {
        dp->cap = dp->cap ? dp->cap * 2 : 8;
        dp->emps = xrealloc(dp->emps, dp->cap * sizeof *dp->emps);
    }
    dp->emps[dp->nemps++] = (int32_t)id;
}

static void dept_remove_emp(struct gap_index *x, int64_t d, int64_t id)
{
    struct dept *dp = dept_at(x, d);
    for (uint32_t i = 0; i < dp->nemps; i++) {
        if (dp->emps[i] == id) {
            dp->emps[i] = dp->emps[--dp->nemps];
            return;
        }
    }
}

/* --- one employee ------------------------------------------------------------------------ */

static struct pair *pair_find(const struct emp *e, int32_t req)
{
    uint32_t lo = 0, hi = e->npairs;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (e->pairs[mid].req < req)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->npairs && e->pairs[lo].req == req ? &e->pairs[lo] : NULL;
}

/* Records an assessment made at `at`; the most recent counts, and among equal times the later
 * call (assessments are read and written in id order). */
static void pair_assess(struct emp *e, int32_t req, int level, int64_t at)
{
    struct pair *p = pair_find(e, req);
    if (!p) {
        if (e->npairs == e->cap) {
            e->cap = e->cap ? e->cap * 2 : 8;
            e->pairs = xrealloc(e->pairs, e->cap * sizeof *e->pairs);
        }
        uint32_t i = e->npairs;
        while (i > 0 && e->pairs[i - 1].req > req)
            i--;
        memmove(&e->pairs[i + 1], &e->pairs[i], (e->npairs - i) * sizeof *e->pairs);
        e->npairs++;
        p = &e->pairs[i];
        *p = (struct pair){.req = req};
    } else if (p->assessed && (uint32_t)at < p->at) {
        return;
    }
    p->actual = (uint8_t)level;
    p->at = (uint32_t)at;
    p->assessed = 1;
}

static int pair_cmp(const void *a, const void *b)
{
    int32_t x = ((const struct pair *)a)->req, y = ((const struct pair *)b)->req;
    return (x > y) - (x < y);
}

/* Sets every pair's required level from the employee's active profiles, adds a pair for each
 * newly demanded requirement and drops pairs that are neither demanded nor assessed. */
static void recompute_required(struct gap_index *x, struct emp *e)
{
    uint8_t *lvl = x->req_scratch;
    size_t ntouched = 0;
    for (uint32_t i = 0; i < e->nprofiles; i++) {
        const struct prof *p = &x->profs[e->profiles[i]];
        if (!p->present || !p->active)
            continue;
        for (uint32_t j = 0; j < p->nlevels; j++) {
            int32_t r = p->levels[j].req;
            if (!x->reqs[r].present || !x->reqs[r].active)
                continue;
            if (!lvl[r])
                x->req_touched[ntouched++] = r;
            if (p->levels[j].level > lvl[r])
                lvl[r] = p->levels[j].level;
        }
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < e->npairs; i++) {
        struct pair p = e->pairs[i];
        p.required = lvl[p.req] & 0x7f;
        if (!p.required && !p.assessed)
            continue;                      /* dropped; its scratch cell was never set */
        lvl[p.req] |= 0x80;                /* seen: no new pair needed; cleared below */
        e->pairs[kept++] = p;
    }
    e->npairs = kept;
    int added = 0;
    for (size_t i = 0; i < ntouched; i++) {
        int32_t r = x->req_touched[i];
        if (!(lvl[r] & 0x80)) {
            if (e->npairs == e->cap) {
                e->cap = e->cap ? e->cap * 2 : 8;
                e->pairs = xrealloc(e->pairs, e->cap * sizeof *e->pairs);
            }
            e->pairs[e->npairs++] = (struct pair){.req = r, .required = lvl[r]};
            added = 1;
        }
        lvl[r] = 0;
    }
    for (uint32_t i = 0; i < e->npairs; i++)
        lvl[e->pairs[i].req] = 0;
    if (added)
        util_sort(e->pairs, e->npairs, sizeof *e->pairs, pair_cmp);
}

static void agg_add(struct agg *a, const struct agg *b, int sign)
{
    a->employees += sign * b->employees;
    a->with_gaps += sign * b->with_gaps;
    a->demanded += sign * b->demanded;
    a->open += sign * b->open;
    a->unassessed += sign * b->unassessed;
    a->gap_sum += sign * b->gap_sum;
}

/* The measure of one demanded pair, as an aggregate over one employee. */
static struct agg pair_agg(int required, int assessed, int actual)
{
    int gap = assessed ? (required > actual ? required - actual : 0) : required;
    return (struct agg){.employees = 1, .with_gaps = gap > 0, .demanded = 1, .open = gap > 0,
                        .unassessed = !assessed, .gap_sum = gap};
}

/* Adds (sign +1) or subtracts (-1) one employee's share of every roll-up to t, counting only
 * requirements of only_system when it is set; *me (may be NULL) gets the employee's own row.
 * The global totals stay exact because every change to an employee is bracketed by a -1 and a
 * +1 of this function over the same state it reads. */
static void contribute(struct gap_index *x, const struct emp *e, int sign, struct totals *t,
                       int64_t only_system, struct agg *me_out)
{
    struct agg me = {0};
    size_t nsys = 0;
    for (uint32_t i = 0; i < e->npairs; i++) {
        const struct pair *p = &e->pairs[i];
        if (!p->required)
            continue;
        int64_t s = x->reqs[p->req].system_id;
        if (only_system && s != only_system)
            continue;
        struct agg a = pair_agg(p->required, p->assessed, p->actual);
        agg_add(&me, &a, 1);
        if (!t)
            continue;
        agg_add(&t->req[p->req], &a, sign);
        struct agg *sa = &x->sys_scratch[s];
        if (!sa->demanded)
            x->sys_touched[nsys++] = (int32_t)s;
        agg_add(sa, &a, 1);
    }
    me.employees = 1;
    me.with_gaps = me.open > 0;
    if (me_out)
        *me_out = me;
    if (!t)
        return;
    for (size_t i = 0; i < nsys; i++) {
        struct agg *sa = &x->sys_scratch[x->sys_touched[i]];
        sa->employees = 1;
        sa->with_gaps = sa->open > 0;
        agg_add(&t->sys[x->sys_touched[i]], sa, sign);
        *sa = (struct agg){0};
    }
    agg_add(&t->dept[e->dept], &me, sign);
    /* by profile: each assigned employee against that profile's own levels */
    for (uint32_t i = 0; i < e->nprofiles; i++) {
        const struct prof *pr = &x->profs[e->profiles[i]];
        if (!pr->present || !pr->active)
            continue;
        struct agg pa = {.employees = 1};
        for (uint32_t j = 0; j < pr->nlevels; j++) {
            const struct req *r = &x->reqs[pr->levels[j].req];
            if (!r->present || !r->active || (only_system && r->system_id != only_system))
                continue;
            const struct pair *p = pair_find(e, pr->levels[j].req);
            struct agg a = pair_agg(pr->levels[j].level, p && p->assessed, p ? p->actual : 0);
            a.employees = 0;
            agg_add(&pa, &a, 1);
        }
        pa.with_gaps = pa.open > 0;
        agg_add(&t->prof[e->profiles[i]], &pa, sign);
    }
}

/* Brackets a change to employee e: take its share out before, put it back after. */
static void emp_out(struct gap_index *x, struct emp *e)
{
    if (e->present && e->active)
        contribute(x, e, -1, &x->tot, 0, NULL);
}

static void emp_in(struct gap_index *x, struct emp *e)
{
    if (e->present && e->active)
        contribute(x, e, +1, &x->tot, 0, &e->me);
    else
        e->me = (struct agg){0};
}

static void emp_clear(struct emp *e)
{
    free(e->name);
    free(e->profiles);
    free(e->pairs);
    *e = (struct emp){0};
}

/* --- loading from the database ----------------------------------------------------------- */

static int load_department(struct gap_index *x, sqlite3_stmt *st)
{
    struct dept *d = dept_at(x, sqlite3_column_int64(st, 0));
    set_name(&d->name, db_text(st, 1));
    d->parent = sqlite3_column_int64(st, 2);
    d->present = 1;
    x->dept_order_valid = 0;
    return 0;
}

static void load_system(struct gap_index *x, sqlite3_stmt *st)
{
    struct sys *s = sys_at(x, sqlite3_column_int64(st, 0));
    set_name(&s->name, db_text(st, 1));
    s->active = !sqlite3_column_int(st, 2);
    s->present = 1;
}

static void load_requirement(struct gap_index *x, sqlite3_stmt *st)
{
    int64_t sid = sqlite3_column_int64(st, 1);
    sys_at(x, sid);  /* the scratch arrays must cover every system id a requirement names */
    struct req *r = req_at(x, sqlite3_column_int64(st, 0));
    r->system_id = sid;
    set_name(&r->text, db_text(st, 2));
    r->position = sqlite3_column_int64(st, 3);
    r->active = !sqlite3_column_int(st, 4);
    r->present = 1;
}

static void load_profile(struct gap_index *x, sqlite3_stmt *st)
{
    struct prof *p = prof_at(x, sqlite3_column_int64(st, 0));
    set_name(&p->name, db_text(st, 1));
    p->system_id = sqlite3_column_int64(st, 2);
    p->active = !sqlite3_column_int(st, 3);
    p->present = 1;
}

static void profile_add_level(struct gap_index *x, struct prof *p, int64_t req, int level)
{
    req_at(x, req);
    p->levels = xrealloc(p->levels, (p->nlevels + 1) * sizeof *p->levels);
    p->levels[p->nlevels++] = (struct level){.req = (int32_t)req, .level = (uint8_t)level};
}

static int step_error(struct db *db, sqlite3_stmt *st, int rc)
{
    if (rc == SQLITE_DONE)
        return 0;
    db_log_error(db, st);
    return -1;
}

static const char SQL_DEPT_ALL[] = "SELECT id, name, parent_id FROM department";
static const char SQL_DEPT_ONE[] = "SELECT id, name, parent_id FROM department WHERE id = ?";
static const char SQL_SYS_ALL[] = "SELECT id, name, archived FROM system";
static const char SQL_SYS_ONE[] = "SELECT id, name, archived FROM system WHERE id = ?";
static const char SQL_REQ_ALL[] = "SELECT id, system_id, text, position, archived FROM requirement";
static const char SQL_REQ_ONE[] =
    "SELECT id, system_id, text, position, archived FROM requirement WHERE id = ?";
static const char SQL_REQ_OF_SYS[] =
    "SELECT id, system_id, text, position, archived FROM requirement WHERE system_id = ?";
static const char SQL_PROF_ALL[] = "SELECT id, name, system_id, archived FROM profile";
static const char SQL_PROF_ONE[] = "SELECT id, name, system_id, archived FROM profile WHERE id = ?";
static const char SQL_PROF_OF_SYS[] =
    "SELECT id, name, system_id, archived FROM profile WHERE system_id = ?";
static const char SQL_LEVEL_ALL[] =
    "SELECT profile_id, requirement_id, level FROM profile_level WHERE level > 0 "
    "ORDER BY profile_id, requirement_id";
static const char SQL_LEVEL_ONE[] =
    "SELECT profile_id, requirement_id, level FROM profile_level WHERE profile_id = ? "
    "AND level > 0 ORDER BY requirement_id";
static const char SQL_EMP_ALL[] = "SELECT id, name, department_id, archived FROM employee";
static const char SQL_EMP_ONE[] =
    "SELECT id, name, department_id, archived FROM employee WHERE id = ?";
static const char SQL_ASSIGN_ALL[] =
    "SELECT employee_id, profile_id FROM assignment ORDER BY employee_id, profile_id";
static const char SQL_ASSIGN_ONE[] =
    "SELECT employee_id, profile_id FROM assignment WHERE employee_id = ? ORDER BY profile_id";
static const char SQL_ASSESS_ALL[] =
    "SELECT employee_id, requirement_id, level, recorded_at FROM assessment ORDER BY id";
static const char SQL_ASSESS_ONE[] =
    "SELECT employee_id, requirement_id, level, recorded_at FROM assessment "
    "WHERE employee_id = ? ORDER BY id";

static void load_employee_row(struct gap_index *x, sqlite3_stmt *st)
{
    int64_t id = sqlite3_column_int64(st, 0);
    struct emp *e = emp_at(x, id);
    set_name(&e->name, db_text(st, 1));
    e->dept = sqlite3_column_int64(st, 2);
    dept_add_emp(x, e->dept, id);
    e->active = !sqlite3_column_int(st, 3);
    e->present = 1;
}

static void assign_row(struct gap_index *x, sqlite3_stmt *st)
{
    struct emp *e = emp_at(x, sqlite3_column_int64(st, 0));
    int64_t pid = sqlite3_column_int64(st, 1);
    prof_at(x, pid);
    e->profiles = xrealloc(e->profiles, (e->nprofiles + 1) * sizeof *e->profiles);
    e->profiles[e->nprofiles++] = (int32_t)pid;
}

static void assess_row(struct gap_index *x, sqlite3_stmt *st)
{
    int64_t eid = sqlite3_column_int64(st, 0), rid = sqlite3_column_int64(st, 1);
    req_at(x, rid);
    pair_assess(emp_at(x, eid), (int32_t)rid, sqlite3_column_int(st, 2),
                sqlite3_column_int64(st, 3));
}

int gap_build(struct db *db, struct gap_index **out, char **err)
{
    struct gap_index *x = xcalloc(1, sizeof *x);
    sqlite3_stmt *st;
    int rc;
#define EACH(sql, body)                                                                        \
    do {                                                                                       \
        st = db_stmt(db, sql);                                                                 \
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {                                        \
            body;                                                                              \
        }                                                                                      \
        if (step_error(db, st, rc))                                                            \
            goto fail;                                                                         \
    } while (0)
    EACH(SQL_DEPT_ALL, load_department(x, st));
    EACH(SQL_SYS_ALL, load_system(x, st));
    EACH(SQL_REQ_ALL, load_requirement(x, st));
    EACH(SQL_PROF_ALL, load_profile(x, st));
    EACH(SQL_LEVEL_ALL, profile_add_level(x, prof_at(x, sqlite3_column_int64(st, 0)),
                                          sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2)));
    EACH(SQL_EMP_ALL, load_employee_row(x, st));
    EACH(SQL_ASSIGN_ALL, assign_row(x, st));
    EACH(SQL_ASSESS_ALL, assess_row(x, st));
#undef EACH
    for (size_t i = 0; i < x->nemp; i++) {
        struct emp *e = &x->emps[i];
        if (!e->present)
            continue;
        recompute_required(x, e);
        emp_in(x, e);
    }
    *out = x;
    return 0;
fail:
    *err = xasprintf("building the gap index: %s", sqlite3_errmsg(db_handle(db)));
    gap_free(x);
    return -1;
}

void gap_free(struct gap_index *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nemp; i++)
        emp_clear(&x->emps[i]);
    for (size_t i = 0; i < x->ndept; i++) {
        free(x->depts[i].name);
        free(x->depts[i].emps);
    }
    for (size_t i = 0; i < x->nsys; i++)
        free(x->syss[i].name);
    for (size_t i = 0; i < x->nreq; i++)
        free(x->reqs[i].text);
    for (size_t i = 0; i < x->nprof; i++) {
        free(x->profs[i].name);
        free(x->profs[i].levels);
    }
    free(x->emps);
    free(x->depts);
    free(x->syss);
    free(x->reqs);
    free(x->profs);
    free(x->tot.dept);
    free(x->tot.sys);
    free(x->tot.prof);
    free(x->tot.req);
    free(x->req_scratch);
    free(x->req_touched);
    free(x->sys_scratch);
    free(x->sys_touched);
    free(x->dept_order);
    free(x);
}

/* --- changes ------------------------------------------------------------------------------ */

int gap_reload_department(struct gap_index *x, struct db *db, int64_t id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_DEPT_ONE);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        load_department(x, st);
    } else if (rc == SQLITE_DONE) {
        struct dept *d = dept_at(x, id);
        free(d->name);
        free(d->emps);
        *d = (struct dept){0};
        x->dept_order_valid = 0;
    } else {
        db_log_error(db, st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

int gap_reload_employee(struct gap_index *x, struct db *db, int64_t id)
{
    struct emp *e = emp_at(x, id);
    emp_out(x, e);
    if (e->present)
        dept_remove_emp(x, e->dept, id);
    emp_clear(e);
    sqlite3_stmt *st = db_stmt(db, SQL_EMP_ONE);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        load_employee_row(x, st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : (db_log_error(db, st), -1);
    st = db_stmt(db, SQL_ASSIGN_ONE);
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        assign_row(x, st);
    if (step_error(db, st, rc))
        goto fail;
    st = db_stmt(db, SQL_ASSESS_ONE);
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        assess_row(x, st);
    if (step_error(db, st, rc))
        goto fail;
    e = emp_at(x, id);   /* the rows above may have grown the array */
    recompute_required(x, e);
    emp_in(x, e);
    return 0;
fail:
    /* Leave the employee out of every roll-up rather than half-loaded. */
    e = emp_at(x, id);
    dept_remove_emp(x, e->dept, id);
    emp_clear(e);
    return -1;
}

/* Takes every active employee's share out, so that a change to the catalogue (a requirement or
 * system archived, say) can be made and everything recomputed. Rare: an adviser's edit. */
static void all_out(struct gap_index *x)
{
    for (size_t i = 0; i < x->nemp; i++)
        emp_out(x, &x->emps[i]);
}

static void all_in(struct gap_index *x)
{
    for (size_t i = 0; i < x->nemp; i++) {
        struct emp *e = &x->emps[i];
        if (e->present) {
            recompute_required(x, e);
            emp_in(x, e);
        }
    }
}

/* A requirement row as read, before it is applied to the index. */
struct req_row {
    int64_t id, system_id, position;
    char *text;
    int active;
};

/* Re-reads requirements (one, or all of a system) and applies them. Only a change of what counts
 * (a requirement appearing, disappearing, archived or restored) needs every employee measured
 * again; a new text or position does not. */
static int reload_requirements(struct gap_index *x, struct db *db, const char *sql, int64_t id,
                               int *affects)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    sqlite3_bind_int64(st, 1, id);
    size_t n = 0, cap = 16;
    struct req_row *rows = xmalloc(cap * sizeof *rows);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap)
            rows = xrealloc(rows, (cap *= 2) * sizeof *rows);
        rows[n++] = (struct req_row){
            .id = sqlite3_column_int64(st, 0), .system_id = sqlite3_column_int64(st, 1),
            .text = xstrdup(db_text(st, 2) ? db_text(st, 2) : ""),
            .position = sqlite3_column_int64(st, 3), .active = !sqlite3_column_int(st, 4)};
    }
    int fail = step_error(db, st, rc);
    int was_out = *affects;
    int gone = !fail && !n && sql == SQL_REQ_ONE && (size_t)id < x->nreq && x->reqs[id].present;
    for (size_t i = 0; i < n; i++) {
        const struct req *r = req_at(x, rows[i].id);
        if (!r->present || r->active != rows[i].active || r->system_id != rows[i].system_id)
            *affects = 1;
    }
    if (gone)
        *affects = 1;
    if (*affects && !was_out)
        all_out(x);
    for (size_t i = 0; i < n; i++) {
        sys_at(x, rows[i].system_id);
        struct req *r = req_at(x, rows[i].id);
        free(r->text);
        r->text = rows[i].text;
        r->system_id = rows[i].system_id;
        r->position = rows[i].position;
        r->active = (uint8_t)rows[i].active;
        r->present = 1;
    }
    if (gone) {
        free(x->reqs[id].text);
        x->reqs[id].text = NULL;
        x->reqs[id].present = x->reqs[id].active = 0;
        /* Its levels went with it in the database; they must go here too, or a new requirement
         * that SQLite gives the same id would inherit them. */
        for (size_t p = 0; p < x->nprof; p++) {
            struct prof *pr = &x->profs[p];
            uint32_t kept = 0;
            for (uint32_t i = 0; i < pr->nlevels; i++)
                if (pr->levels[i].req != id)
                    pr->levels[kept++] = pr->levels[i];
            pr->nlevels = kept;
        }
    }
    free(rows);
    return fail;
}

static void profile_clear(struct prof *p)
{
    free(p->name);
    free(p->levels);
    *p = (struct prof){0};
}

static int reload_profiles(struct gap_index *x, struct db *db, const char *sql, int64_t id)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    sqlite3_bind_int64(st, 1, id);
    int rc;
    size_t n = 0, cap = 8;
    int64_t *ids = xmalloc(cap * sizeof *ids);
    if (sql == SQL_PROF_ONE && (size_t)id < x->nprof)
        profile_clear(&x->profs[id]);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t pid = sqlite3_column_int64(st, 0);
        profile_clear(prof_at(x, pid));
        load_profile(x, st);
        if (n == cap)
            ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = pid;
    }
    if (step_error(db, st, rc))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        st = db_stmt(db, SQL_LEVEL_ONE);
        sqlite3_bind_int64(st, 1, ids[i]);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            profile_add_level(x, prof_at(x, ids[i]), sqlite3_column_int64(st, 1),
                              sqlite3_column_int(st, 2));
        if (step_error(db, st, rc))
            goto fail;
    }
    free(ids);
    return 0;
fail:
    free(ids);
    return -1;
}

int gap_reload_system(struct gap_index *x, struct db *db, int64_t id)
{
    sqlite3_stmt *st = db_stmt(db, SQL_SYS_ONE);
    sqlite3_bind_int64(st, 1, id);
    /* The system's profiles are re-read too (archived with it, or a level deleted), so every
     * employee is measured again: rare, an adviser's edit. */
    int affects = 1;
    all_out(x);
    int rc = sqlite3_step(st);
    struct sys *s = sys_at(x, id);
    if (rc == SQLITE_ROW) {
        load_system(x, st);
    } else if (rc == SQLITE_DONE) {
        free(s->name);
        *s = (struct sys){0};
    }
    sqlite3_reset(st);
    int fail = (rc != SQLITE_ROW && rc != SQLITE_DONE) ||
               reload_requirements(x, db, SQL_REQ_OF_SYS, id, &affects) ||
               reload_profiles(x, db, SQL_PROF_OF_SYS, id);
    all_in(x);
    return fail ? -1 : 0;
}

int gap_reload_requirement(struct gap_index *x, struct db *db, int64_t id)
{
    int affects = 0;
    int rc = reload_requirements(x, db, SQL_REQ_ONE, id, &affects);
    if (affects)
        all_in(x);
    return rc;
}

static int has_profile(const struct emp *e, int64_t pid)
{
    for (uint32_t i = 0; i < e->nprofiles; i++)
        if (e->profiles[i] == pid)
            return 1;
    return 0;
}

int gap_reload_profile(struct gap_index *x, struct db *db, int64_t id)
{
    for (size_t i = 0; i < x->nemp; i++)
        if (x->emps[i].present && has_profile(&x->emps[i], id))
            emp_out(x, &x->emps[i]);
    int rc = reload_profiles(x, db, SQL_PROF_ONE, id);
    for (size_t i = 0; i < x->nemp; i++) {
        struct emp *e = &x->emps[i];
        if (e->present && has_profile(e, id)) {
            recompute_required(x, e);
            emp_in(x, e);
        }
    }
    return rc;
}

void gap_assess(struct gap_index *x, int64_t employee_id, int64_t requirement_id, int level,
                int64_t recorded_at)
{
    if (!emp_get(x, employee_id) || requirement_id <= 0)
        return;
    req_at(x, requirement_id);
    struct emp *e = &x->emps[employee_id];
    emp_out(x, e);
    pair_assess(e, (int32_t)requirement_id, level, recorded_at);
    emp_in(x, e);
}

void gap_set_actual(struct gap_index *x, int64_t employee_id, int64_t requirement_id, int level,
                    int64_t at)
{
    if (!emp_get(x, employee_id) || requirement_id <= 0)
        return;
    req_at(x, requirement_id);
    struct emp *e = &x->emps[employee_id];
    emp_out(x, e);
    if (level >= 0) {
        pair_assess(e, (int32_t)requirement_id, 0, 0);   /* make sure the pair exists */
        struct pair *p = pair_find(e, (int32_t)requirement_id);
        p->actual = (uint8_t)level;
        p->at = (uint32_t)at;
        p->assessed = 1;
    } else {
        struct pair *p = pair_find(e, (int32_t)requirement_id);
        if (p) {
            p->assessed = 0;
            p->actual = 0;
            p->at = 0;
        }
    }
    recompute_required(x, e);   /* drops the pair if it is now neither demanded nor assessed */
    emp_in(x, e);
}

/* One pair's history while recomputing: grown as rows come. */
struct history {
    struct gap_assessment *v;
    char **sources;
    size_t n, cap;
};

static void history_flush(struct gap_index *x, struct history *h, int64_t e, int64_t r,
                          gap_effective_fn fn, void *ctx)
{
    if (!h->n || !emp_get(x, e))
        goto done;
    struct emp *em = &x->emps[e];
    struct pair *p = pair_find(em, (int32_t)r);
    int level = -1;
    if (!fn || fn(ctx, e, r, h->v, h->n, &level) != 0) {
        /* the newest counts: the last row, as rows come oldest first */
        level = h->v[h->n - 1].level;
    }
    if (level >= 0 && p) {
        p->actual = (uint8_t)level;
        p->at = (uint32_t)h->v[h->n - 1].recorded_at;
        p->assessed = 1;
    } else if (p) {
        p->assessed = 0;
        p->actual = 0;
        p->at = 0;
    }
done:
    for (size_t i = 0; i < h->n; i++)
        free(h->sources[i]);
    h->n = 0;
}

int gap_recompute_actuals(struct gap_index *x, struct db *db, gap_effective_fn fn, void *ctx)
{
    all_out(x);
    /* Every assessed pair gets a pair in the index (they exist already: pairs are kept for
     * what is demanded or assessed); the policy then decides each one. */
    sqlite3_stmt *st = db_stmt(db, "SELECT employee_id, requirement_id, level, source, "
                                   "recorded_at, coalesce(recorded_by, 0) FROM assessment "
                                   "ORDER BY employee_id, requirement_id, recorded_at, id");
    struct history h = {0};
    int64_t cur_e = -1, cur_r = -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t e = sqlite3_column_int64(st, 0), r = sqlite3_column_int64(st, 1);
        if (e != cur_e || r != cur_r) {
            history_flush(x, &h, cur_e, cur_r, fn, ctx);
            cur_e = e;
            cur_r = r;
            if (emp_get(x, e))
                pair_assess(&x->emps[e], (int32_t)r, sqlite3_column_int(st, 2),
                            sqlite3_column_int64(st, 4));
        }
        if (h.n == h.cap) {
            h.cap = h.cap ? h.cap * 2 : 8;
            h.v = xrealloc(h.v, h.cap * sizeof *h.v);
            h.sources = xrealloc(h.sources, h.cap * sizeof *h.sources);
        }
        h.sources[h.n] = xstrdup(db_text(st, 3) ? db_text(st, 3) : "");
        h.v[h.n] = (struct gap_assessment){.level = sqlite3_column_int(st, 2),
                                           .source = h.sources[h.n],
                                           .recorded_at = sqlite3_column_int64(st, 4),
                                           .recorded_by = sqlite3_column_int64(st, 5)};
        h.n++;
    }
    history_flush(x, &h, cur_e, cur_r, fn, ctx);
    free(h.v);
    free(h.sources);
    int fail = step_error(db, st, rc);
    all_in(x);
    return fail ? -1 : 0;
}

void gap_set_classes(struct gap_index *x, int64_t requirement_id, const uint8_t cls[5][5])
{
    memcpy(req_at(x, requirement_id)->cls, cls, sizeof x->reqs[0].cls);
}

/* --- queries ------------------------------------------------------------------------------ */

static struct gap_row make_row(int64_t id, const char *name, const struct agg *a)
{
    return (struct gap_row){
        .id = id,
        .name = name ? name : "",
        .employees = a->employees,
        .employees_with_gaps = a->with_gaps,
        .demanded = a->demanded,
        .open_gaps = a->open,
        .unassessed = a->unassessed,
        .gap_sum = a->gap_sum,
        .coverage = a->demanded ? 1.0 - (double)a->open / (double)a->demanded : 1.0,
    };
}

struct cell_sort {
    struct gap_cell cell;
    int64_t position;
};

static int cell_cmp(const void *a, const void *b)
{
    const struct cell_sort *x = a, *y = b;
    if (x->cell.system_id != y->cell.system_id)
        return x->cell.system_id < y->cell.system_id ? -1 : 1;
    if (x->position != y->position)
        return x->position < y->position ? -1 : 1;
    return (x->cell.requirement_id > y->cell.requirement_id) -
           (x->cell.requirement_id < y->cell.requirement_id);
}

int gap_employee(const struct gap_index *x, int64_t employee_id, struct gap_cell **cells,
                 size_t *ncells, struct gap_row *summary)
{
    const struct emp *e = emp_get(x, employee_id);
    if (!e || !e->active)
        return -1;
    struct cell_sort *cs = xmalloc((e->npairs ? e->npairs : 1) * sizeof *cs);
    size_t n = 0;
    for (uint32_t i = 0; i < e->npairs; i++) {
        const struct pair *p = &e->pairs[i];
        if (!p->required)
            continue;
        const struct req *r = &x->reqs[p->req];
        int actual = p->assessed ? p->actual : 0;
        cs[n].position = r->position;
        cs[n++].cell = (struct gap_cell){
            .requirement_id = p->req,
            .system_id = r->system_id,
            .required = p->required,
            .actual = actual,
            .gap = p->required > actual ? p->required - actual : 0,
            .unassessed = !p->assessed,
            .assessed_at = p->assessed ? p->at : 0,
            .class_id = r->cls[p->required][actual],
        };
    }
    util_sort(cs, n, sizeof *cs, cell_cmp);
    struct gap_cell *out = xmalloc((n ? n : 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = cs[i].cell;
    free(cs);
    *cells = out;
    *ncells = n;
    if (summary)
        *summary = make_row(employee_id, e->name, &e->me);
    return 0;
}

int gap_actual(const struct gap_index *x, int64_t employee_id, int64_t requirement_id, int *level,
               int64_t *assessed_at)
{
    const struct emp *e = emp_get(x, employee_id);
    const struct pair *p = e ? pair_find(e, (int32_t)requirement_id) : NULL;
    if (!p || !p->assessed)
        return -1;
    *level = p->actual;
    *assessed_at = p->at;
    return 0;
}

int64_t gap_employee_department(const struct gap_index *x, int64_t employee_id)
{
    const struct emp *e = emp_get(x, employee_id);
    return e ? e->dept : -1;
}

int gap_department_within(const struct gap_index *x, int64_t d, int64_t root)
{
    for (size_t steps = 0; d > 0 && (size_t)d < x->ndept && steps <= x->ndept; steps++) {
        if (d == root)
            return 1;
        d = x->depts[d].parent;
    }
    return 0;
}

static size_t dept_depth(const struct gap_index *x, int64_t d)
{
    size_t depth = 0;
    while (d > 0 && (size_t)d < x->ndept && x->depts[d].present && depth <= x->ndept) {
        d = x->depts[d].parent;
        depth++;
    }
    return depth;
}

static const struct gap_index *order_x;
static size_t *order_depth;

static int depth_cmp(const void *a, const void *b)
{
    size_t da = order_depth[*(const int64_t *)a], db = order_depth[*(const int64_t *)b];
    (void)order_x;
    return (da < db) - (da > db);   /* deepest first */
}

/* Departments deepest first, so that adding each one's total into its parent's, in this order,
 * sums every subtree. */
static void dept_order(struct gap_index *x)
{
    if (x->dept_order_valid)
        return;
    free(x->dept_order);
    x->dept_order = xmalloc((x->ndept ? x->ndept : 1) * sizeof *x->dept_order);
    order_depth = xcalloc(x->ndept ? x->ndept : 1, sizeof *order_depth);
    x->ndept_order = 0;
    for (size_t i = 0; i < x->ndept; i++) {
        if (x->depts[i].present) {
            order_depth[i] = dept_depth(x, (int64_t)i);
            x->dept_order[x->ndept_order++] = (int64_t)i;
        }
    }
    order_x = x;
    util_sort(x->dept_order, x->ndept_order, sizeof *x->dept_order, depth_cmp);
    free(order_depth);
    order_depth = NULL;
    x->dept_order_valid = 1;
}

/* in[d] for every department within the union of the filter's subtrees. Owned. */
static uint8_t *dept_scope(const struct gap_index *x, const struct gap_filter *f)
{
    uint8_t *in = xcalloc(x->ndept ? x->ndept : 1, 1);
    for (size_t d = 0; d < x->ndept; d++) {
        if (!x->depts[d].present)
            continue;
        for (size_t i = 0; i < f->ndepartments && !in[d]; i++)
            in[d] = (uint8_t)gap_department_within(x, (int64_t)d, f->departments[i]);
    }
    return in;
}

static int emp_in_scope(const struct emp *e, const uint8_t *in, const struct gap_filter *f)
{
    if (!e->present || !e->active)
        return 0;
    if (in && !in[e->dept])
        return 0;
    return !f || !f->profile_id || has_profile(e, f->profile_id);
}

static int int32_cmp(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

struct rows {
    struct gap_row *v;
    size_t n, cap;
};

static void rows_push(struct rows *r, struct gap_row row)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = xrealloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n++] = row;
}

void gap_rollup(struct gap_index *x, enum gap_dim dim, const struct gap_filter *f,
                struct gap_row **rows_out, size_t *nrows)
{
    struct rows rows = {0};
    int filtered = f && (f->ndepartments || f->system_id || f->profile_id);
    int64_t only_system = f ? f->system_id : 0;
    uint8_t *in = f && f->ndepartments ? dept_scope(x, f) : NULL;

    /* The employees to measure: those of the departments in scope, or everyone. */
    size_t nscope = 0;
    int32_t *scope = NULL;
    if (in) {
        for (size_t d = 0; d < x->ndept; d++)
            nscope += in[d] ? x->depts[d].nemps : 0;
        scope = xmalloc((nscope ? nscope : 1) * sizeof *scope);
        nscope = 0;
        for (size_t d = 0; d < x->ndept; d++)
            for (uint32_t i = 0; in[d] && i < x->depts[d].nemps; i++)
                scope[nscope++] = x->depts[d].emps[i];
        util_sort(scope, nscope, sizeof *scope, int32_cmp);
    }
    size_t nwalk = in ? nscope : x->nemp;
#define WALK_ID(i) (in ? (size_t)scope[i] : (i))

    if (dim == GAP_BY_EMPLOYEE) {
        for (size_t i = 0; i < nwalk; i++) {
            const struct emp *e = &x->emps[WALK_ID(i)];
            if (!emp_in_scope(e, in, f))
                continue;
            struct agg me = e->me;
            if (only_system)
                contribute(x, e, 0, NULL, only_system, &me);
            rows_push(&rows, make_row((int64_t)WALK_ID(i), e->name, &me));
        }
        goto done;
    }

    struct totals tmp = {0}, *t = &x->tot;
    if (filtered) {
        tmp.dept = xcalloc(x->ndept ? x->ndept : 1, sizeof *tmp.dept);
        tmp.sys = xcalloc(x->nsys ? x->nsys : 1, sizeof *tmp.sys);
        tmp.prof = xcalloc(x->nprof ? x->nprof : 1, sizeof *tmp.prof);
        tmp.req = xcalloc(x->nreq ? x->nreq : 1, sizeof *tmp.req);
        for (size_t i = 0; i < nwalk; i++)
            if (emp_in_scope(&x->emps[WALK_ID(i)], in, f))
                contribute(x, &x->emps[WALK_ID(i)], +1, &tmp, only_system, NULL);
        t = &tmp;
    }
    switch (dim) {
    case GAP_BY_DEPARTMENT: {
        dept_order(x);
        struct agg *sub = xmalloc((x->ndept ? x->ndept : 1) * sizeof *sub);
        memcpy(sub, t->dept, x->ndept * sizeof *sub);
        for (size_t i = 0; i < x->ndept_order; i++) {
            int64_t d = x->dept_order[i], p = x->depts[d].parent;
            if (p > 0 && (size_t)p < x->ndept && x->depts[p].present)
                agg_add(&sub[p], &sub[d], 1);
        }
        for (size_t d = 0; d < x->ndept; d++)
            if (x->depts[d].present && (!in || in[d]))
                rows_push(&rows, make_row((int64_t)d, x->depts[d].name, &sub[d]));
        free(sub);
        break;
    }
    case GAP_BY_SYSTEM:
        for (size_t s = 0; s < x->nsys; s++)
            if (x->syss[s].present && x->syss[s].active &&
                (!only_system || (int64_t)s == only_system))
                rows_push(&rows, make_row((int64_t)s, x->syss[s].name, &t->sys[s]));
        break;
    case GAP_BY_PROFILE:
        for (size_t p = 0; p < x->nprof; p++)
            if (x->profs[p].present && x->profs[p].active &&
                (!only_system || x->profs[p].system_id == only_system) &&
                (!f || !f->profile_id || (int64_t)p == f->profile_id))
                rows_push(&rows, make_row((int64_t)p, x->profs[p].name, &t->prof[p]));
        break;
    case GAP_BY_REQUIREMENT:
        for (size_t r = 0; r < x->nreq; r++)
            if (x->reqs[r].present && x->reqs[r].active &&
                (!only_system || x->reqs[r].system_id == only_system))
                rows_push(&rows, make_row((int64_t)r, x->reqs[r].text, &t->req[r]));
        break;
    case GAP_BY_EMPLOYEE:
        break;
    }
    if (filtered) {
        free(tmp.dept);
        free(tmp.sys);
        free(tmp.prof);
        free(tmp.req);
    }
done:
#undef WALK_ID
    free(scope);
    free(in);
    *rows_out = rows.v ? rows.v : xmalloc(sizeof *rows.v);
    *nrows = rows.n;
}

size_t gap_memory(const struct gap_index *x)
{
    size_t n = sizeof *x;
    n += x->nemp * sizeof *x->emps + x->ndept * (sizeof *x->depts + 2 * sizeof(struct agg));
    n += x->nsys * (sizeof *x->syss + 2 * sizeof(struct agg) + sizeof(int32_t));
    n += x->nreq * (sizeof *x->reqs + sizeof(struct agg) + 1 + sizeof(int32_t));
    n += x->nprof * (sizeof *x->profs + sizeof(struct agg));
    for (size_t i = 0; i < x->nemp; i++) {
        const struct emp *e = &x->emps[i];
        n += e->cap * sizeof *e->pairs + e->nprofiles * sizeof *e->profiles;
        n += e->name ? strlen(e->name) + 1 : 0;
    }
    for (size_t i = 0; i < x->nprof; i++)
        n += x->profs[i].nlevels * sizeof *x->profs[i].levels;
    return n;
}
