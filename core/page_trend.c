/* The trend page: coverage and gap sum of one entity over months, as two line charts
 * (trend_svg) and a table with the same numbers, which is the charts' accessible equivalent;
 * and, for advisers and admins, a snapshot by hand.
 *
 * What to show is one choice, `entity`: "organisation", or "department:ID", "system:ID",
 * "profile:ID" (one select with a group per dimension: one control, no script). Access is the
 * API's (api_trend.c): advisers and admins anything; a manager the departments within the
 * subtrees they manage, their first one by default; an employee nothing. The form is GET, so a
 * chart is a link that can be shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "db.h"
#include "gap.h"
#include "http.h"
#include "router.h"
#include "trend.h"
#include "util.h"
#include "view.h"
#include "web.h"

#define TREND_ROLES (ROLE_MANAGER | ROLE_ADVISER | ROLE_ADMIN)

static int is_adviser(const struct api_req *r) { return api_is(r, ROLE_ADVISER | ROLE_ADMIN); }

struct choice {
    char dimension[16];
    int64_t id;
};

/* "department:12" -> {department, 12}; -1 when it is nothing of the sort. */
static int parse_choice(const char *s, struct choice *c)
{
    memset(c, 0, sizeof *c);
    if (!strcmp(s, "organisation")) {
        strcpy(c->dimension, "organisation");
        return 0;
    }
    static const char *const dims[] = {"department", "system", "profile"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(dims[i]);
        if (!strncmp(s, dims[i], n) && s[n] == ':' && !util_parse_i64(s + n + 1, &c->id) &&
            c->id > 0) {
            strcpy(c->dimension, dims[i]);
            return 0;
        }
    }
    return -1;
}

struct dept {
    int64_t id, parent;          /* parent 0 for a root */
    char *name;                  /* owned */
};

static int dept_cmp(const void *x, const void *y)
{
    const struct dept *a = x, *b = y;
    if (a->parent != b->parent)
        return (a->parent > b->parent) - (a->parent < b->parent);
    int c = strcmp(a->name, b->name);
    return c ? c : (a->id > b->id) - (a->id < b->id);
}

/* Appends the children of parent (sorted by parent, then name: they are one run found by binary
 * search) and their subtrees, in tree order. */
static void add_departments(struct api_req *r, json_t *out, const struct dept *d, size_t n,
                            int64_t parent, int depth)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d[mid].parent < parent)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && d[i].parent == parent; i++) {
        int mine = is_adviser(r) || api_manages_department(r, d[i].id);
        if (mine) {
            char value[40];
            snprintf(value, sizeof value, "department:%lld", (long long)d[i].id);
            json_array_append_new(out, json_pack("{s:s, s:s, s:i}", "value", value, "name",
                                                 d[i].name, "depth", depth));
        }
        if (depth < 64)
            add_departments(r, out, d, n, d[i].id, mine ? depth + 1 : depth);
    }
}

/* The departments this person may choose, in tree order with their depth: [{value, name,
 * depth}]. */
static json_t *departments(struct api_req *r)
{
    struct dept *d = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = db_stmt(r->app->db, "SELECT id, coalesce(parent_id, 0), name FROM "
                                           "department");
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            d = xrealloc(d, cap * sizeof *d);
        }
        d[n++] = (struct dept){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                               xstrdup(db_text(st, 2))};
    }
    sqlite3_reset(st);
    if (n)
        util_sort(d, n, sizeof *d, dept_cmp);
    json_t *out = json_array();
    add_departments(r, out, d, n, 0, 0);
    for (size_t i = 0; i < n; i++)
        free(d[i].name);
    free(d);
    return out;
}

/* The active systems or profiles, named as the gap index names them (no statement per row). */
static json_t *entities(struct app *a, enum gap_dim dim, const char *prefix)
{
    struct gap_row *rows;
    size_t n;
    gap_rollup(a->gap, dim, NULL, &rows, &n);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        char value[48];
        snprintf(value, sizeof value, "%s:%lld", prefix, (long long)rows[i].id);
        json_array_append_new(out, json_pack("{s:s, s:s}", "value", value, "name", rows[i].name));
    }
    free(rows);
    return out;
}

/* The name of the chosen entity among the choices (borrowed), or NULL when it is not one. */
static const char *chosen_name(const json_t *choices, const char *value)
{
    static const char *const groups[] = {"departments", "systems", "profiles"};
    for (size_t g = 0; g < 3; g++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(choices, groups[g]), i, c) {
            if (!strcmp(json_string_value(json_object_get(c, "value")), value))
                return json_string_value(json_object_get(c, "name"));
        }
    }
    return NULL;
}

/* A chart's title from the locales ("Dekning per måned: NAME"), or with metric "name" the name
 * alone; name NULL is the organisation. Rendered bare by the view: strings live in the locales. */
static char *chart_title(struct api_req *r, const char *metric, const char *name)
{
    json_t *d = json_pack("{s:b, s:s, s:o}", "bare", 1, "metric", metric, "name",
                          name ? json_string(name) : json_null());
    char *html = NULL, *err = NULL;
    size_t len;
    if (view_render(r->app->view, "trend_title.html", d, r->lang, &html, &len, &err)) {
        fprintf(stderr, "evne: trend_title.html: %s\n", err);
        free(err);
        html = xstrdup(name ? name : "");
    }
    json_decref(d);
    for (size_t n = strlen(html); n && (html[n - 1] == '\n' || html[n - 1] == ' '); n--)
        html[n - 1] = '\0';
    return html;
}

static json_t *line_of(const json_t *series, const char *metric, const char *name)
{
    json_t *points = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(series, i, p) {
        json_array_append_new(points, json_pack("{s:O, s:O}", "period",
                                                json_object_get(p, "period"), "value",
                                                json_object_get(p, metric)));
    }
    return json_pack("[{s:s, s:o}]", "name", name, "points", points);
}

json_t *page_trend_chart(struct api_req *r, const json_t *series, const char *metric,
                         const char *name)
{
    char *title = chart_title(r, metric, name);
    json_t *lines = line_of(series, metric, name);
    char *svg = trend_svg(lines, metric, title, r->lang);
    json_t *o = json_pack("{s:s, s:s}", "svg", svg, "title", title);
    json_decref(lines);
    free(svg);
    free(title);
    return o;
}

/* GET /reports/trend[?entity=...] */
static void page_trend(struct api_req *r)
{
    if (!is_adviser(r) && !r->who.nmanaged) {
        page_error(r, 403, "error.forbidden");
        return;
    }
    json_t *choices = json_pack("{s:b, s:o, s:o, s:o}", "organisation", is_adviser(r),
                                "departments", departments(r), "systems",
                                is_adviser(r) ? entities(r->app, GAP_BY_SYSTEM, "system")
                                              : json_array(),
                                "profiles",
                                is_adviser(r) ? entities(r->app, GAP_BY_PROFILE, "profile")
                                              : json_array());
    char *param = http_query_param(r->http, "entity");
    char value[64];
    if (param && *param) {
        snprintf(value, sizeof value, "%s", param);
    } else if (is_adviser(r)) {
        strcpy(value, "organisation");
    } else {
        /* a manager: the first of their departments */
        json_t *first = json_array_get(json_object_get(choices, "departments"), 0);
        snprintf(value, sizeof value, "%s",
                 first ? json_string_value(json_object_get(first, "value")) : "");
    }
    free(param);
    json_t *data = json_pack("{s:s, s:s, s:o}", "title", "trend.title", "entity", value,
                             "choices", choices);
    json_object_set_new(data, "can_snapshot", json_boolean(is_adviser(r)));
    char *flash = http_query_param(r->http, "done");
    json_object_set_new(data, "flash", flash && !strcmp(flash, "snapshot")
                                           ? json_string("trend.flash.snapshot")
                                           : json_false());
    free(flash);

    struct choice c;
    const char *name = NULL;
    int ok = parse_choice(value, &c) == 0;
    if (ok && !strcmp(c.dimension, "organisation"))
        ok = is_adviser(r);
    else if (ok)
        ok = (name = chosen_name(choices, value)) != NULL;
    if (!ok) {
        /* Not something this person may choose (or nothing at all): the form alone, saying so. */
        json_object_set_new(data, "error", json_string("trend.error.entity"));
        page_render(r, 422, "trend.html", data);
        return;
    }
    json_t *series = trend_series(r->app, c.dimension, c.id, 0);
    json_object_set_new(data, "dimension", json_string(c.dimension));
    json_object_set_new(data, "name", name ? json_string(name) : json_false());
    if (json_array_size(series)) {
        /* the line's end label names the organisation as the page does */
        char *label = chart_title(r, "name", name);
        json_object_set_new(data, "coverage", page_trend_chart(r, series, "coverage", label));
        json_object_set_new(data, "gap_sum", page_trend_chart(r, series, "gap_sum", label));
        free(label);
    }
    json_object_set_new(data, "points", series);
    page_render(r, 200, "trend.html", data);
}

/* POST /reports/trend/snapshot: a snapshot now (advisers and admins), back to the page. */
static void page_trend_snapshot(struct api_req *r)
{
    int64_t id;
    char *err = NULL;
    if (trend_snapshot(r->app, "manual", util_now(), &id, &err)) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        page_error(r, 500, "error.internal");
        return;
    }
    const char *entity = form_get(r->form, "entity");
    struct choice c;
    char location[128];
    if (entity && parse_choice(entity, &c) == 0)
        snprintf(location, sizeof location, "/reports/trend?entity=%s&done=snapshot", entity);
    else
        snprintf(location, sizeof location, "/reports/trend?done=snapshot");
    page_redirect(r, location);
}

const struct route page_trend_routes[] = {
    {"GET", "/reports/trend", page_trend, TREND_ROLES},
    {"POST", "/reports/trend/snapshot", page_trend_snapshot, ROLE_ADVISER | ROLE_ADMIN},
};
const size_t page_trend_nroutes = sizeof page_trend_routes / sizeof page_trend_routes[0];
