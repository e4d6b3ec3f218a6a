/* The manager's pages ("Mitt team"): the profile buffet of the team, the team's gaps as a heatmap,
 * one employee's requirements, and the yearly appraisal ("medarbeidersamtale").
 *
 * A manager's team is the employees of the departments they manage and of those departments'
 * sub-departments; an admin may look at any department. The rules are the API's
 * (api_manages_department, api_manages_employee): a page about someone outside the team answers
 * 403 and a form naming someone outside it changes nothing. The team and who holds which profile
 * come from the gap index, so showing the buffet or the heatmap asks the database only for the
 * catalogue's names. Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "assess.h"
#include "auth.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "http.h"
#include "lua_host.h"
#include "org.h"
#include "util.h"
#include "web.h"

#define LEADERS (ROLE_MANAGER | ROLE_ADMIN)
/* Employees per page: the buffet has a checkbox per profile in each row, the heatmap a cell per
 * system. The demo's whole organisation fits in two pages of the buffet and one of the heatmap. */
#define BUFFET_PAGE 25
/* Profiles the buffet shows at once before it asks for a system (the demo has 13). */
#define BUFFET_COLUMNS 24
#define HEATMAP_PAGE 50

static const char SQL_DEPT_EXISTS[] = "SELECT 1 FROM department WHERE id = ?";
static const char SQL_PROFILE_ACTIVE[] = "SELECT 1 FROM profile WHERE id = ? AND archived = 0";

/* A manager is someone who manages a department; the role alone is not enough. */
static int may_lead(const struct api_req *r)
{
    return r->who.nmanaged > 0 || api_is(r, ROLE_ADMIN);
}

/* v (borrowed) as a new reference, or false when v is NULL. */
static json_t *or_false(json_t *v)
{
    return v ? json_incref(v) : json_false();
}

static int parse_id(const char *s, int64_t *out)
{
    return s && !util_parse_i64(s, out) && *out > 0 ? 0 : -1;
}

/* --- the team ----------------------------------------------------------------------------- */

/* One of the team: small, because a large team is sorted by name on every page. */
struct member {
    const char *name;            /* borrowed from the gap index */
    int64_t id;
};

struct team {
    int64_t department;          /* the chosen department_id, 0 for the whole team */
    struct gap_filter filter;    /* the team for the gap index; may point at department */
    int choose;                  /* an admin who manages nothing must choose a department first */
    struct gap_row *depts;       /* the departments the caller may choose */
    size_t ndepts;
    struct member *emps;         /* the team, by name */
    size_t nemps;
    size_t page, pages;          /* the page shown (1-based) of how many */
    size_t from, to;             /* emps[from..to) are on it */
    /* the buffet only: */
    int64_t system;              /* the system whose profiles are the columns, 0 for all */
    json_t *groups;              /* every active profile by system (profile_groups) */
    json_t *shown;               /* the groups that are the columns */
};

static void team_free(struct team *t)
{
    free(t->depts);
    free(t->emps);
    json_decref(t->groups);
    json_decref(t->shown);
    t->depts = NULL;
    t->emps = NULL;
    t->groups = t->shown = NULL;
    t->ndepts = t->nemps = t->from = t->to = 0;
}

static int row_by_name(const void *a, const void *b)
{
    const struct gap_row *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

static int member_by_name(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

static const char *dept_name(const struct team *t, int64_t id)
{
    for (size_t i = 0; i < t->ndepts; i++)
        if (t->depts[i].id == id)
            return t->depts[i].name;
    return "";
}

/* Finds the team for department_id (param may be NULL or ""). 0, or -1 after answering 403 (not
 * a manager, or a department outside the team) or 404 (no such department). Names in t are
 * borrowed from the gap index: valid until the next write. */
static int team_open(struct api_req *r, const char *param, struct team *t)
{
    memset(t, 0, sizeof *t);
    if (!may_lead(r)) {
        page_error(r, 403, "error.forbidden");
        return -1;
    }
    struct gap_filter mine = {.departments = r->who.managed, .ndepartments = r->who.nmanaged};
    /* The unfiltered roll-up reads running totals; a filtered one would measure every employee
     * of the team only to name their departments. */
    gap_rollup(r->app->gap, GAP_BY_DEPARTMENT, NULL, &t->depts, &t->ndepts);
    if (!api_is(r, ROLE_ADMIN)) {
        size_t n = 0;
        for (size_t i = 0; i < t->ndepts; i++)
            if (api_manages_department(r, t->depts[i].id))
                t->depts[n++] = t->depts[i];
        t->ndepts = n;
    }
    if (param && *param) {
        int64_t d = 0;
        int ok = parse_id(param, &d) == 0;
        int within = 0;
        for (size_t i = 0; ok && i < t->ndepts && !within; i++)
            within = t->depts[i].id == d;
        if (!within) {
            int known = ok && dom_exists(r->app->db, SQL_DEPT_EXISTS, d);
            team_free(t);
            page_error(r, known ? 403 : 404, known ? "error.forbidden" : "error.not_found");
            return -1;
        }
        t->department = d;
        t->filter.departments = &t->department;
        t->filter.ndepartments = 1;
    } else if (r->who.nmanaged) {
        t->filter = mine;
    } else {
        t->choose = 1;
    }
    if (!t->choose) {
        struct gap_row *rows;
        gap_rollup(r->app->gap, GAP_BY_EMPLOYEE, &t->filter, &rows, &t->nemps);
        t->emps = xmalloc((t->nemps + 1) * sizeof *t->emps);
        for (size_t i = 0; i < t->nemps; i++)
            t->emps[i] = (struct member){rows[i].name, rows[i].id};
        free(rows);
        util_sort(t->emps, t->nemps, sizeof *t->emps, member_by_name);
    }
    util_sort(t->depts, t->ndepts, sizeof *t->depts, row_by_name);
    return 0;
}

/* Shows the team a page of per_page at a time, so that a large team's page stays small; param
 * (may be NULL) is the page asked for, a bad or too high one gives the first or last. */
static void team_paginate(struct team *t, const char *param, size_t per_page)
{
    int64_t want = 1;
    if (parse_id(param, &want))
        want = 1;
    t->pages = t->nemps ? (t->nemps + per_page - 1) / per_page : 1;
    t->page = (size_t)want < t->pages ? (size_t)want : t->pages;
    t->from = (t->page - 1) * per_page;
    t->to = t->from + per_page < t->nemps ? t->from + per_page : t->nemps;
}

/* What every team page shows around its table: the department chooser and the pages. */
static void team_data(const struct team *t, json_t *data)
{
    json_t *depts = json_array();
    for (size_t i = 0; i < t->ndepts; i++)
        json_array_append_new(depts, json_pack("{s:I, s:s, s:b}", "id", (json_int_t)t->depts[i].id,
                                               "name", t->depts[i].name, "selected",
                                               t->depts[i].id == t->department));
    json_object_set_new(data, "departments", depts);
    json_object_set_new(data, "department_id",
                        t->department ? json_integer(t->department) : json_false());
    json_object_set_new(data, "choose", json_boolean(t->choose));
    json_object_set_new(data, "pager",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "page", (json_int_t)t->page,
                                  "pages", (json_int_t)t->pages, "total", (json_int_t)t->nemps,
                                  "from", (json_int_t)(t->from + 1), "to", (json_int_t)t->to));
}

/* 0 when the caller may change employee id; otherwise answers 404 or 403 and returns -1. */
static int check_member(struct api_req *r, int64_t id)
{
    if (gap_employee_department(r->app->gap, id) < 0) {
        page_error(r, 404, "error.not_found");
        return -1;
    }
    if (!api_manages_employee(r, id)) {
        page_error(r, 403, "error.forbidden");
        return -1;
    }
    return 0;
}

/* 303 to the team page the form came from (its department and page), with a flash. */
static void redirect_back(struct api_req *r, const char *flash, const struct team *t)
{
    struct buf b = {0};
    buf_printf(&b, "/team?%s", flash);
    if (t->department)
        buf_printf(&b, "&department_id=%lld", (long long)t->department);
    if (t->page > 1)
        buf_printf(&b, "&page=%zu", t->page);
    if (t->system)
        buf_printf(&b, "&system_id=%lld", (long long)t->system);
    page_redirect(r, b.data);
    buf_free(&b);
}

/* The flash of a GET after a redirect: the first of `params` present with value "1" or "0". */
static json_t *flash_of(struct api_req *r, const char *const params[][3], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *v = http_query_param(r->http, params[i][0]);
        const char *key = v && !strcmp(v, "1") ? params[i][1] : v && !strcmp(v, "0") ? params[i][2]
                                                                                     : NULL;
        free(v);
        if (key)
            return json_string(key);
    }
    return json_false();
}

/* --- ids: small sets of ids ------------------------------------------------------------------ */

struct ids {
    int64_t *v;
    size_t n, cap;
};

static int ids_has(const struct ids *s, int64_t id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return 1;
    return 0;
}

static void ids_add(struct ids *s, int64_t id)
{
    if (ids_has(s, id))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = id;
}

static int json_ids_has(const json_t *arr, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_integer_value(v) == id)
            return 1;
    return 0;
}

static int form_has(const struct form *f, const char *key, int64_t value)
{
    for (size_t i = 0; i < form_size(f); i++) {
        int64_t v;
        if (!strcmp(form_key(f, i), key) && parse_id(form_value(f, i), &v) == 0 && v == value)
            return 1;
    }
    return 0;
}

/* --- the profile buffet --------------------------------------------------------------------- */

/* Every active profile by system, as the buffet shows them: systems by name, then the profiles
 * without a system: [{id|false, name|false, profiles: [{id, name}]}]. One statement, because the
 * column heads need names only and catalog_profile_list would work out every profile's levels,
 * sum and average. Owned. */
static json_t *profile_groups(struct app *a)
{
    json_t *groups = json_array(), *group = NULL;
    sqlite3_stmt *st = db_stmt(a->db, "SELECT p.id, p.name, s.id, s.name FROM profile p "
                                      "LEFT JOIN system s ON s.id = p.system_id "
                                      "WHERE p.archived = 0 "
                                      "ORDER BY s.id IS NULL, s.name, s.id, p.name, p.id");
    int64_t current = -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t sid = sqlite3_column_type(st, 2) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 2);
        if (!group || sid != current) {
            group = json_pack("{s:o, s:o, s:[]}", "id", sid ? json_integer(sid) : json_false(),
                              "name", sid ? json_string(db_text(st, 3)) : json_false(),
                              "profiles");
            json_array_append_new(groups, group);
            current = sid;
        }
        json_array_append_new(json_object_get(group, "profiles"),
                              json_pack("{s:I, s:s}", "id",
                                        (json_int_t)sqlite3_column_int64(st, 0), "name",
                                        db_text(st, 1)));
    }
    sqlite3_reset(st);
    return groups;
}

/* Which of groups the grid shows, as a new array: the chosen system's; without a choice all of
 * them while there are at most BUFFET_COLUMNS profiles, else the first system's (*system gets
 * it). NULL when the chosen system has no active profile. */
static json_t *shown_groups(const json_t *groups, int64_t *system)
{
    size_t i, total = 0;
    json_t *g;
    json_array_foreach(groups, i, g)
        total += json_array_size(json_object_get(g, "profiles"));
    if (!*system && total <= BUFFET_COLUMNS)
        return json_deep_copy(groups);
    json_array_foreach(groups, i, g) {
        int64_t id = json_integer_value(json_object_get(g, "id"));
        if (id && (id == *system || !*system)) {
            *system = id;
            return json_pack("[O]", g);
        }
    }
    return *system ? NULL : json_array();
}

static int row_id_cmp(const void *key, const void *row)
{
    int64_t id = *(const int64_t *)key, other = ((const struct gap_row *)row)->id;
    return (id > other) - (id < other);
}

/* held[(i - from) * ncols + j]: does team member i of the page hold profile j. One pass of the gap
 * index per profile over the page's departments, no database. Owned. */
static uint8_t *holdings(struct app *a, const struct team *t, const struct ids *cols)
{
    uint8_t *held = xcalloc((t->to - t->from) * cols->n + 1, 1);
    /* Only the page's people are looked up, so only their departments need measuring. */
    struct ids depts = {0};
    for (size_t i = t->from; i < t->to; i++)
        ids_add(&depts, gap_employee_department(a->gap, t->emps[i].id));
    for (size_t j = 0; j < cols->n && depts.n; j++) {
        struct gap_filter f = {.departments = depts.v, .ndepartments = depts.n,
                               .profile_id = cols->v[j]};
        struct gap_row *rows;
        size_t n;
        gap_rollup(a->gap, GAP_BY_EMPLOYEE, &f, &rows, &n);   /* ordered by id */
        for (size_t i = t->from; i < t->to; i++)
            held[(i - t->from) * cols->n + j] =
                bsearch(&t->emps[i].id, rows, n, sizeof *rows, row_id_cmp) != NULL;
        free(rows);
    }
    free(depts.v);
    return held;
}

/* The buffet page. grid (may be NULL) is a POST /team/profiles form whose ticks are shown again,
 * grid_error its message key; assign (may be NULL) a POST /team/assign form shown again with
 * assign_errors ({employees?, profile?} message keys; consumed, may be NULL). */
static void buffet_page(struct api_req *r, struct team *t, int status, const struct form *grid,
                        const char *grid_error, const struct form *assign, json_t *assign_errors)
{
    json_t *data = json_pack("{s:s}", "title", "team.title");
    team_data(t, data);
    struct ids cols = {0};
    json_t *flat = json_array(), *systems = json_array();
    size_t g, k, total = 0;
    json_t *group, *p;
    json_array_foreach(t->shown, g, group) {
        json_array_foreach(json_object_get(group, "profiles"), k, p) {
            json_array_append(flat, p);
            ids_add(&cols, json_integer_value(json_object_get(p, "id")));
        }
    }
    json_array_foreach(t->groups, g, group) {
        int64_t id = json_integer_value(json_object_get(group, "id"));
        total += json_array_size(json_object_get(group, "profiles"));
        if (id)
            json_array_append_new(systems, json_pack("{s:I, s:O, s:b}", "id", (json_int_t)id,
                                                     "name", json_object_get(group, "name"),
                                                     "selected", id == t->system));
    }
    uint8_t *held = holdings(r->app, t, &cols);
    json_t *emps = json_array();
    for (size_t i = t->from; i < t->to; i++) {
        int64_t id = t->emps[i].id;
        char field[32];
        snprintf(field, sizeof field, "p%lld", (long long)id);
        int typed = grid && form_has(grid, "e", id);
        json_t *checked = json_array();
        for (size_t j = 0; j < cols.n; j++)
            json_array_append_new(checked, json_boolean(typed ? form_has(grid, field, cols.v[j])
                                                               : held[(i - t->from) * cols.n + j]));
        json_array_append_new(
            emps, json_pack("{s:I, s:s, s:s, s:s, s:o, s:b}", "id", (json_int_t)id, "name",
                            t->emps[i].name, "department",
                            dept_name(t, gap_employee_department(r->app->gap, id)), "field", field,
                            "checked", checked, "selected",
                            assign && form_has(assign, "employee", id)));
    }
    free(held);
    free(cols.v);
    const char *chosen = assign ? form_get(assign, "profile") : NULL;
    int64_t chosen_id = 0;
    json_t *errs = assign_errors ? assign_errors : json_object();
    json_object_set_new(data, "groups", json_incref(t->shown));
    json_object_set_new(data, "all_groups", json_incref(t->groups));
    json_object_set_new(data, "profiles", flat);
    json_object_set_new(data, "systems", systems);
    json_object_set_new(data, "system_id", t->system ? json_integer(t->system) : json_false());
    json_object_set_new(data, "all_columns", json_boolean(total <= BUFFET_COLUMNS));
    json_object_set_new(data, "employees", emps);
    json_object_set_new(data, "grid_error", grid_error ? json_string(grid_error) : json_false());
    json_object_set_new(data, "assign_error_employees", or_false(json_object_get(errs, "employees")));
    json_object_set_new(data, "assign_error_profile", or_false(json_object_get(errs, "profile")));
    json_object_set_new(data, "assign_profile",
                        parse_id(chosen, &chosen_id) == 0 ? json_integer(chosen_id) : json_false());
    json_decref(errs);
    static const char *const flashes[][3] = {{"saved", "team.saved", "team.unchanged"},
                                             {"assigned", "team.assigned",
                                              "team.assign_unchanged"}};
    json_object_set_new(data, "flash", status == 200 ? flash_of(r, flashes, 2) : json_false());
    team_free(t);
    page_render(r, status, "team_buffet.html", data);
}

/* The team and the columns of the buffet for department_id, system_id and page (each may be
 * NULL). 0, or -1 after answering 403 or 404. */
static int buffet_open(struct api_req *r, const char *dept, const char *system, const char *page,
                       struct team *t)
{
    if (team_open(r, dept, t))
        return -1;
    team_paginate(t, page, BUFFET_PAGE);
    t->groups = profile_groups(r->app);
    if (system && *system && parse_id(system, &t->system))
        t->system = -1;
    t->shown = t->system >= 0 ? shown_groups(t->groups, &t->system) : NULL;
    if (!t->shown) {
        team_free(t);
        page_error(r, 404, "error.not_found");
        return -1;
    }
    return 0;
}

static void page_team_buffet(struct api_req *r)
{
    char *dept = http_query_param(r->http, "department_id"), *page = http_query_param(r->http, "page");
    char *system = http_query_param(r->http, "system_id");
    struct team t;
    if (buffet_open(r, dept, system, page, &t) == 0)
        buffet_page(r, &t, 200, NULL, NULL, NULL, NULL);
    free(dept);
    free(page);
    free(system);
}

/* One employee's new set of profiles, waiting until every one has been checked. */
struct change {
    int64_t employee_id;
    json_t *body;                /* {profile_ids: [...]}; owned */
};

struct changes {
    struct change *v;
    size_t n, cap;
};

static void changes_add(struct changes *c, int64_t id, json_t *profile_ids)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = (struct change){id, json_pack("{s:o}", "profile_ids", profile_ids)};
}

static void changes_free(struct changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        json_decref(c->v[i].body);
    free(c->v);
}

/* Writes every change in one transaction (assess_assign_many). Everything was checked before,
 * so only the database can fail here. 0, or -1 after answering. */
static int changes_apply(struct api_req *r, struct changes *c)
{
    int64_t *ids = xmalloc((c->n ? c->n : 1) * sizeof *ids);
    const json_t **bodies = xmalloc((c->n ? c->n : 1) * sizeof *bodies);
    for (size_t i = 0; i < c->n; i++) {
        ids[i] = c->v[i].employee_id;
        bodies[i] = c->v[i].body;
    }
    struct derr e;
    int rc = assess_assign_many(r->app, ids, bodies, c->n, r->who.employee_id, &e);
    free(ids);
    free(bodies);
    if (rc) {
        fprintf(stderr, "evne: team profiles: %s\n", e.message);
        page_error(r, e.status >= 500 ? e.status : 500, "error.internal");
        return -1;
    }
    return 0;
}

static int same_set(const json_t *a, const json_t *b)
{
    size_t i;
    json_t *v;
    if (json_array_size(a) != json_array_size(b))
        return 0;
    json_array_foreach(a, i, v)
        if (!json_ids_has(b, json_integer_value(v)))
            return 0;
    return 1;
}

/* POST /team/profiles: the whole grid at once. The form names each employee it shows (e=<id>),
 * each profile column (cols=<id>) and each tick (p<employee>=<profile>); an employee's new set is
 * what was ticked plus what they hold outside the columns (an archived profile stays). */
static void page_team_profiles_save(struct api_req *r)
{
    struct team t;
    if (buffet_open(r, form_get(r->form, "department_id"), form_get(r->form, "system_id"),
                    form_get(r->form, "page"), &t))
        return;
    struct ids emps = {0}, cols = {0};
    int bad = 0;
    for (size_t i = 0; i < form_size(r->form); i++) {
        const char *key = form_key(r->form, i), *val = form_value(r->form, i);
        int64_t id, v;
        if (!strcmp(key, "e")) {
            bad |= parse_id(val, &id);
            if (!bad)
                ids_add(&emps, id);
        } else if (!strcmp(key, "cols")) {
            bad |= parse_id(val, &v);
            if (!bad)
                ids_add(&cols, v);
        } else if (key[0] == 'p' && parse_id(key + 1, &id) == 0) {
            bad |= parse_id(val, &v);
            ids_add(&emps, id);
        }
    }
    /* Nobody outside the team, before anything else. */
    for (size_t i = 0; !bad && i < emps.n; i++) {
        if (check_member(r, emps.v[i])) {
            free(emps.v);
            free(cols.v);
            team_free(&t);
            return;
        }
    }
    struct changes changes = {0};
    for (size_t i = 0; !bad && i < emps.n; i++) {
        int64_t id = emps.v[i];
        char field[32];
        snprintf(field, sizeof field, "p%lld", (long long)id);
        json_t *held = assess_assignments_json(r->app, id), *now = json_object_get(held, "profile_ids");
        json_t *next = json_array();
        size_t k;
        json_t *v;
        json_array_foreach(now, k, v)
            if (!ids_has(&cols, json_integer_value(v)))
                json_array_append(next, v);
        for (size_t f = 0; !bad && f < form_size(r->form); f++) {
            int64_t pid;
            if (strcmp(form_key(r->form, f), field) || parse_id(form_value(r->form, f), &pid))
                continue;
            if (json_ids_has(next, pid))
                continue;
            /* As assess_assign: an archived profile may stay, not be handed out anew. */
            if (!json_ids_has(now, pid) && !dom_exists(r->app->db, SQL_PROFILE_ACTIVE, pid))
                bad = 1;
            json_array_append_new(next, json_integer(pid));
        }
        if (!bad && !same_set(now, next))
            changes_add(&changes, id, json_incref(next));
        json_decref(next);
        json_decref(held);
    }
    free(emps.v);
    free(cols.v);
    if (bad) {
        changes_free(&changes);
        buffet_page(r, &t, 422, r->form, "team.bad_grid", NULL, NULL);
        return;
    }
    team_free(&t);   /* its names do not outlive the writes */
    if (changes_apply(r, &changes) == 0)
        redirect_back(r, changes.n ? "saved=1" : "saved=0", &t);
    changes_free(&changes);
}

/* POST /team/assign: one profile to the selected employees (to=selected, employee=<id>...) or
 * to everyone in the table (to=all), keeping what they hold. */
static void page_team_assign(struct api_req *r)
{
    struct team t;
    if (buffet_open(r, form_get(r->form, "department_id"), form_get(r->form, "system_id"),
                    form_get(r->form, "page"), &t))
        return;
    const char *to = form_get(r->form, "to"), *profile = form_get(r->form, "profile");
    int all = to && !strcmp(to, "all");
    struct ids emps = {0};
    int bad_employee = 0;
    if (all) {
        for (size_t i = 0; i < t.nemps; i++)
            ids_add(&emps, t.emps[i].id);
    } else {
        for (size_t i = 0; i < form_size(r->form); i++) {
            int64_t id;
            if (strcmp(form_key(r->form, i), "employee"))
                continue;
            if (parse_id(form_value(r->form, i), &id))
                bad_employee = 1;
            else
                ids_add(&emps, id);
        }
    }
    for (size_t i = 0; !bad_employee && i < emps.n; i++) {
        if (check_member(r, emps.v[i])) {
            free(emps.v);
            team_free(&t);
            return;
        }
    }
    json_t *errors = json_object();
    int64_t pid = 0;
    if (!profile || !*profile)
        json_object_set_new(errors, "profile", json_string("team.assign_no_profile"));
    else if (parse_id(profile, &pid) || !dom_exists(r->app->db, SQL_PROFILE_ACTIVE, pid))
        json_object_set_new(errors, "profile", json_string("team.assign_bad_profile"));
    if (bad_employee)
        json_object_set_new(errors, "employees", json_string("team.bad_grid"));
    else if (!emps.n)
        json_object_set_new(errors, "employees", json_string("team.assign_no_employees"));
    if (json_object_size(errors)) {
        free(emps.v);
        buffet_page(r, &t, 422, NULL, NULL, r->form, errors);
        return;
    }
    json_decref(errors);
    struct changes changes = {0};
    for (size_t i = 0; i < emps.n; i++) {
        json_t *held = assess_assignments_json(r->app, emps.v[i]);
        json_t *now = json_object_get(held, "profile_ids");
        if (!json_ids_has(now, pid)) {
            json_t *next = json_copy(now);
            json_array_append_new(next, json_integer(pid));
            changes_add(&changes, emps.v[i], next);
        }
        json_decref(held);
    }
    free(emps.v);
    team_free(&t);
    if (changes_apply(r, &changes) == 0)
        redirect_back(r, changes.n ? "assigned=1" : "assigned=0", &t);
    changes_free(&changes);
}

/* --- the team's gaps ------------------------------------------------------------------------- */

/* GET /team/gaps: employees down, systems across; each cell the employee's gap sum in the system,
 * classed by the worst class among its requirements ("ok" when nothing is open). */
static void page_team_gaps(struct api_req *r)
{
    char *param = http_query_param(r->http, "department_id"), *page = http_query_param(r->http, "page");
    struct team t;
    int rc = team_open(r, param, &t);
    if (rc == 0)
        team_paginate(&t, page, HEATMAP_PAGE);
    free(param);
    free(page);
    if (rc)
        return;
    struct app *a = r->app;
    json_t *data = json_pack("{s:s}", "title", "team.gaps_title");
    team_data(&t, data);
    /* The columns: the systems that demand something of someone on the page. Measuring the
     * page's people, not the whole team, keeps a large team's page as cheap as a small one's. */
    struct gap_row *sys = NULL;
    size_t nsys = 0, ncol = 0, npage = t.to - t.from;
    gap_rollup(a->gap, GAP_BY_SYSTEM, NULL, &sys, &nsys);   /* names only; no walk */
    struct gap_cell **cells = xcalloc(npage + 1, sizeof *cells);
    size_t *ncells = xcalloc(npage + 1, sizeof *ncells);
    uint8_t *used = xcalloc(nsys + 1, 1);
    for (size_t i = 0; i < npage; i++) {
        if (gap_employee(a->gap, t.emps[t.from + i].id, &cells[i], &ncells[i], NULL)) {
            cells[i] = NULL;
            ncells[i] = 0;
        }
        for (size_t c = 0; c < ncells[i]; c++)
            for (size_t s = 0; s < nsys; s++)
                if (sys[s].id == cells[i][c].system_id)
                    used[s] = 1;
    }
    for (size_t s = 0; s < nsys; s++)
        if (used[s])
            sys[ncol++] = sys[s];
    free(used);
    util_sort(sys, ncol, sizeof *sys, row_by_name);
    json_t *systems = json_array(), *rows = json_array();
    for (size_t j = 0; j < ncol; j++)
        json_array_append_new(systems, json_pack("{s:I, s:s}", "id", (json_int_t)sys[j].id,
                                                 "name", sys[j].name));
    int64_t *sum = xcalloc(ncol + 1, sizeof *sum), *col_sum = xcalloc(ncol + 1, sizeof *col_sum);
    int *worst = xcalloc(ncol + 1, sizeof *worst), *demanded = xcalloc(ncol + 1, sizeof *demanded);
    int64_t total = 0;
    for (size_t i = 0; i < npage; i++) {
        for (size_t j = 0; j < ncol; j++) {
            sum[j] = 0;
            worst[j] = -1;
            demanded[j] = 0;
        }
        for (size_t c = 0; c < ncells[i]; c++) {
            const struct gap_cell *cell = &cells[i][c];
            size_t j = 0;
            while (j < ncol && sys[j].id != cell->system_id)
                j++;
            if (j == ncol)
                continue;
            demanded[j] = 1;
            sum[j] += cell->gap;
            if (cell->class_id != 0xff && cell->class_id > worst[j])
                worst[j] = cell->class_id;
        }
        free(cells[i]);
        json_t *row = json_array();
        int64_t row_total = 0;
        for (size_t j = 0; j < ncol; j++) {
            if (!demanded[j]) {
                json_array_append_new(row, json_false());
                continue;
            }
            const char *cls = !sum[j] ? "ok"
                              : a->rules && worst[j] >= 0 ? lh_class_name(a->rules, (uint8_t)worst[j])
                                                          : NULL;
            json_array_append_new(row, json_pack("{s:I, s:o}", "sum", (json_int_t)sum[j], "class",
                                                 cls ? json_string(cls) : json_false()));
            row_total += sum[j];
            col_sum[j] += sum[j];
        }
        total += row_total;
        const struct member *e = &t.emps[t.from + i];
        json_array_append_new(rows, json_pack("{s:I, s:s, s:o, s:I}", "id", (json_int_t)e->id,
                                              "name", e->name, "cells", row, "total",
                                              (json_int_t)row_total));
    }
    free(cells);
    free(ncells);
    json_t *sums = json_array();
    for (size_t j = 0; j < ncol; j++)
        json_array_append_new(sums, json_integer(col_sum[j]));
    json_t *classes = json_array();
    for (int c = 0; a->rules && c < lh_class_count(a->rules); c++)
        json_array_append_new(classes, json_string(lh_class_name(a->rules, (uint8_t)c)));
    json_object_set_new(data, "systems", systems);
    json_object_set_new(data, "rows", rows);
    json_object_set_new(data, "sums", sums);
    json_object_set_new(data, "total", json_integer(total));
    json_object_set_new(data, "classes", classes);
    free(sum);
    free(col_sum);
    free(worst);
    free(demanded);
    free(sys);
    team_free(&t);
    page_render(r, 200, "team_gaps.html", data);
}

/* --- one employee ---------------------------------------------------------------------------- */

/* 0 when the caller may look at employee r->id as their manager (and, appraising, is not that
 * employee); otherwise answers 403 or 404 and returns -1. */
static int check_employee(struct api_req *r, int appraising)
{
    if (!may_lead(r)) {
        page_error(r, 403, "error.forbidden");
        return -1;
    }
    if (check_member(r, r->id))
        return -1;
    /* As the API: nobody appraises themselves. */
    if (appraising && r->id == r->who.employee_id) {
        page_error(r, 403, "error.forbidden");
        return -1;
    }
    return 0;
}

/* {id, name, department} of employee id; owned, or NULL when unknown. */
static json_t *person_json(struct app *a, int64_t id)
{
    json_t *e = org_employee_json(a, id);
    if (!e)
        return NULL;
    json_t *d = org_department_json(a, json_integer_value(json_object_get(e, "department_id")));
    json_t *out = json_pack("{s:I, s:O, s:o}", "id", (json_int_t)id, "name",
                            json_object_get(e, "name"), "department",
                            or_false(d ? json_object_get(d, "name") : NULL));
    json_decref(d);
    json_decref(e);
    return out;
}

static void page_team_employee(struct api_req *r)
{
    if (check_employee(r, 0))
        return;
    struct gap_cell *cells;
    size_t n;
    struct gap_row summary = {0};
    json_t *person = person_json(r->app, r->id);
    if (!person || gap_employee(r->app->gap, r->id, &cells, &n, &summary)) {
        json_decref(person);
        page_error(r, 404, "error.not_found");   /* archived */
        return;
    }
    free(cells);
    json_t *held = assess_assignments_json(r->app, r->id), *profiles = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(held, "items"), i, p)
        json_array_append(profiles, json_object_get(p, "name"));
    json_decref(held);
    json_t *data = json_pack(
        "{s:s, s:o, s:o, s:o, s:b, s:{s:I, s:I, s:I, s:I, s:f}}", "title", "team.employee_title",
        "employee", person, "profiles", profiles, "systems", page_employee_systems(r->app, r->id),
        "can_appraise", r->id != r->who.employee_id, "summary", "demanded",
        (json_int_t)summary.demanded, "open_gaps", (json_int_t)summary.open_gaps, "unassessed",
        (json_int_t)summary.unassessed, "gap_sum", (json_int_t)summary.gap_sum, "coverage",
        summary.coverage);
    page_render(r, 200, "team_employee.html", data);
}

/* --- the appraisal ------------------------------------------------------------------------- */

/* The newest assessment of each requirement from one source, {"<requirement_id>": assessment},
 * from a history that is newest first. Owned. */
static json_t *latest_from(const json_t *history, const char *source)
{
    json_t *out = json_object();
    size_t i;
    json_t *h;
    json_array_foreach(history, i, h) {
        const char *s = json_string_value(json_object_get(h, "source"));
        if (!s || strcmp(s, source))
            continue;
        char key[24];
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(json_object_get(h, "requirement_id")));
        if (!json_object_get(out, key))
            json_object_set(out, key, h);
    }
    return out;
}

/* The appraisal form; errors (consumed, may be NULL) maps "r<id>" to a message key, typed (may be
 * NULL) is the form sent, whose choices are shown again. */
static void appraisal_form(struct api_req *r, int status, json_t *errors, const struct form *typed)
{
    struct app *a = r->app;
    json_t *person = person_json(a, r->id);
    if (!person) {
        json_decref(errors);
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *history = assess_history(a, r->id);
    json_t *self = latest_from(history, "self"), *appraisal = latest_from(history, "appraisal");
    json_decref(history);
    json_t *questions = assess_questions(a, r->id), *systems = json_array(), *sys = NULL;
    int differing = 0;
    size_t i;
    json_t *q;
    json_array_foreach(questions, i, q) {
        int64_t rid = json_integer_value(json_object_get(q, "requirement_id"));
        int64_t sid = json_integer_value(json_object_get(q, "system_id"));
        if (!sys || json_integer_value(json_object_get(sys, "id")) != sid) {
            sys = json_pack("{s:I, s:O, s:[]}", "id", (json_int_t)sid, "name",
                            json_object_get(q, "system_name"), "requirements");
            json_array_append_new(systems, sys);
        }
        char key[24], field[32];
        snprintf(key, sizeof key, "%lld", (long long)rid);
        snprintf(field, sizeof field, "r%lld", (long long)rid);
        json_t *s = json_object_get(self, key), *ap = json_object_get(appraisal, key);
        const char *t = typed ? form_get(typed, field) : NULL;
        json_t *chosen = json_false();
        if (t && strlen(t) == 1 && t[0] >= '0' && t[0] <= '4')
            chosen = json_integer(t[0] - '0');
        else if (!t && ap)
            chosen = json_integer(json_integer_value(json_object_get(ap, "level")));
        int differs = s && json_is_integer(chosen) &&
                      json_integer_value(chosen) != json_integer_value(json_object_get(s, "level"));
        differing += differs;
        const char *err = errors ? json_string_value(json_object_get(errors, field)) : NULL;
        json_array_append_new(
            json_object_get(sys, "requirements"),
            json_pack("{s:I, s:s, s:O, s:O, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "id",
                      (json_int_t)rid, "field", field, "text", json_object_get(q, "text"),
                      "required", json_object_get(q, "required"), "self",
                      s ? json_copy(json_object_get(s, "level")) : json_false(), "self_at",
                      s ? json_copy(json_object_get(s, "recorded_at")) : json_false(),
                      "appraised", ap ? json_copy(json_object_get(ap, "level")) : json_false(),
                      "appraised_at",
                      ap ? json_copy(json_object_get(ap, "recorded_at")) : json_false(),
                      "chosen", chosen, "differs", differs, "error",
                      err ? json_string(err) : json_false()));
    }
    json_decref(questions);
    json_decref(self);
    json_decref(appraisal);
    char *saved = status == 200 ? http_query_param(r->http, "saved") : NULL;
    json_t *data = json_pack(
        "{s:s, s:o, s:o, s:i, s:b, s:o}", "title", "team.appraisal_title", "employee", person,
        "systems", systems, "differing", differing, "has_errors",
        errors && json_object_size(errors) > 0, "flash",
        saved && !strcmp(saved, "1")   ? json_string("team.appraisal_saved")
        : saved && !strcmp(saved, "0") ? json_string("team.appraisal_unchanged")
                                       : json_false());
    free(saved);
    json_decref(errors);
    page_render(r, status, "team_appraisal.html", data);
}

static void page_team_appraisal(struct api_req *r)
{
    if (check_employee(r, 1) == 0)
        appraisal_form(r, 200, NULL, NULL);
}

/* Records an appraisal of the levels that differ from the current appraisal of each requirement
 * (all that were answered, where there is none yet). Nothing is stored when any answer is bad. */
static void page_team_appraisal_save(struct api_req *r)
{
    if (check_employee(r, 1))
        return;
    struct gap_cell *cells;
    size_t n;
    if (gap_employee(r->app->gap, r->id, &cells, &n, NULL)) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *history = assess_history(r->app, r->id);
    json_t *current = latest_from(history, "appraisal");
    json_decref(history);
    json_t *errors = json_object(), *levels = json_object();
    for (size_t i = 0; i < form_size(r->form); i++) {
        const char *key = form_key(r->form, i), *val = form_value(r->form, i);
        int64_t rid;
        if (key[0] != 'r' || util_parse_i64(key + 1, &rid))
            continue;
        int asked = 0;
        for (size_t k = 0; k < n && !asked; k++)
            asked = cells[k].requirement_id == rid;
        if (!asked) {
            json_object_set_new(errors, key, json_string("team.appraisal_not_asked"));
            continue;
        }
        if (strlen(val) != 1 || val[0] < '0' || val[0] > '4') {
            json_object_set_new(errors, key, json_string("team.appraisal_bad_level"));
            continue;
        }
        int level = val[0] - '0';
        json_t *now = json_object_get(current, key + 1);
        if (!now || json_integer_value(json_object_get(now, "level")) != level)
            json_object_set_new(levels, key + 1, json_integer(level));
    }
    free(cells);
    json_decref(current);
    if (json_object_size(errors)) {
        json_decref(levels);
        appraisal_form(r, 422, errors, r->form);
        return;
    }
    json_decref(errors);
    char *back = xasprintf("/team/employees/%lld/appraisal?saved=%d", (long long)r->id,
                           json_object_size(levels) > 0);
    if (!json_object_size(levels)) {
        json_decref(levels);
        page_redirect(r, back);
        free(back);
        return;
    }
    json_t *body = json_pack("{s:s, s:o}", "source", "appraisal", "levels", levels), *created = NULL;
    struct derr e;
    int rc = assess_record(r->app, r->id, r->who.employee_id, body, &created, &e);
    json_decref(body);
    json_decref(created);
    if (rc) {
        fprintf(stderr, "evne: appraisal of %lld: %s\n", (long long)r->id, e.message);
        page_error(r, e.status == 404 ? 404 : 500, e.status == 404 ? "error.not_found"
                                                                   : "error.internal");
    } else {
        page_redirect(r, back);
    }
    free(back);
}

const struct route page_team_routes[] = {
    {"GET", "/team", page_team_buffet, LEADERS},
    {"POST", "/team/profiles", page_team_profiles_save, LEADERS},
    {"POST", "/team/assign", page_team_assign, LEADERS},
    {"GET", "/team/gaps", page_team_gaps, LEADERS},
    {"GET", "/team/employees/{id}", page_team_employee, LEADERS},
    {"GET", "/team/employees/{id}/appraisal", page_team_appraisal, LEADERS},
    {"POST", "/team/employees/{id}/appraisal", page_team_appraisal_save, LEADERS},
};
const size_t page_team_nroutes = sizeof page_team_routes / sizeof page_team_routes[0];
