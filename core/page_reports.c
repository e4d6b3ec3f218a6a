/* Pages for the gap reports and the people search: the roll-up table (gap_rollup) with filters,
 * sorting, drill-down and a bar chart; the same report as CSV for Excel in Norway; one
 * employee's demanded requirements; and who has at least level N on a requirement, or on every
 * requirement of a system, within a department.
 *
 * Advisers and admins see everyone. A manager sees what lies within the subtrees they manage,
 * decided exactly as GET /api/v1/gaps decides (api_assess.c api_gaps): a department outside
 * them is refused, no department means all of them. Every page here only reads, so the filter
 * forms are GET and a report is a link that can be shared; no CSRF token is involved.
 */
#include <stdint.h>
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
#include "report.h"
#include "router.h"
#include "util.h"
#include "view.h"
#include "web.h"

#define REPORT_ROLES (ROLE_MANAGER | ROLE_ADVISER | ROLE_ADMIN)
#define PAGE_ROWS 50      /* table rows per page: a page stays small at thousands of employees */
#define CHART_ROWS 20
#define SEARCH_ROWS 100   /* search results shown; the count says how many there are */
#define OPTION_TEXT 90    /* bytes of a requirement's text in the search form's list */

/* In the order of enum gap_dim, as the API names them. */
static const char *const dims[] = {"employee", "department", "profile", "system", "requirement"};
#define NDIMS (sizeof dims / sizeof dims[0])

enum sort_key {
    SORT_NAME, SORT_EMPLOYEES, SORT_WITH_GAPS, SORT_DEMANDED, SORT_OPEN, SORT_UNASSESSED,
    SORT_GAP_SUM, SORT_COVERAGE, NSORT
};
static const char *const sort_names[NSORT] = {"name",       "employees", "employees_with_gaps",
                                              "demanded",   "open_gaps", "unassessed",
                                              "gap_sum",    "coverage"};

static int is_adviser(const struct api_req *r) { return api_is(r, ROLE_ADVISER | ROLE_ADMIN); }

/* A query parameter naming an id: 0 when absent or empty, the id, or -1 when it is not one. */
static int64_t id_param(const struct api_req *r, const char *name)
{
    char *v = http_query_param(r->http, name);
    int64_t id = 0;
    if (v && *v && (util_parse_i64(v, &id) || id <= 0))
        id = -1;
    free(v);
    return id;
}

/* A query parameter that is one of names[0..n): its index, `absent` when missing or empty, -1
 * when it is something else. */
static int word_param(const struct api_req *r, const char *name, const char *const *names,
                      size_t n, int absent)
{
    char *v = http_query_param(r->http, name);
    int got = absent;
    if (v && *v) {
        got = -1;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(v, names[i]))
                got = (int)i;
    }
    free(v);
    return got;
}

/* The item of a JSON array of objects whose "id" is id (borrowed), or NULL. */
static json_t *by_id(const json_t *items, int64_t id)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (json_integer_value(json_object_get(it, "id")) == id)
            return it;
    }
    return NULL;
}

static int archived(const json_t *item)
{
    return json_integer_value(json_object_get(item, "archived")) != 0;
}

/* --- Norwegian alphabetical order ----------------------------------------------------------- */

static uint32_t utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = *s++;
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (more)
        c &= 0x3fu >> more;
    while (more-- && (*s & 0xc0) == 0x80)
        c = (c << 6) | (*s++ & 0x3f);
    *p = s;
    return c;
}

/* Case does not count, é is an e, and æ, ø, å come after z: "Økonomi" after "Oppvekst". */
static uint32_t nb_weight(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z' ? c + 32 : c) * 4;
    switch (c) {
    case 0xc6: case 0xe6: case 0xc4: case 0xe4:   /* Æ æ Ä ä */
        return 'z' * 4 + 1;
    case 0xd8: case 0xf8: case 0xd6: case 0xf6:   /* Ø ø Ö ö */
        return 'z' * 4 + 2;
    case 0xc5: case 0xe5:                         /* Å å */
        return 'z' * 4 + 3;
    case 0xc8: case 0xc9: case 0xca: case 0xe8: case 0xe9: case 0xea:
        return 'e' * 4;
    case 0xdc: case 0xfc:
        return 'y' * 4;
    default:
        return c + 0x200;
    }
}

static int nb_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)(a ? a : ""),
                        *y = (const unsigned char *)(b ? b : "");
    while (*x && *y) {
        if (*x == *y && *x < 0x80) {   /* the common case, without decoding */
            x++, y++;
            continue;
        }
        uint32_t u = nb_weight(utf8_next(&x)), v = nb_weight(utf8_next(&y));
        if (u != v)
            return u < v ? -1 : 1;
    }
    return (*x != 0) - (*y != 0);
}

/* --- the report's parameters ------------------------------------------------------------------ */

struct report {
    int dim;                     /* enum gap_dim */
    int sort, desc;
    long page;
    int64_t department_id, system_id, profile_id;
};

/* Every row of a query without parameters, as objects keyed by column name. Owned array.
 *
 * The pages read the names their select lists offer in one statement each: the domain modules'
 * lists (org_department_list, catalog_*_list) build a whole object with a statement per row,
 * which at 140 profiles and 540 requirements takes milliseconds a page. These are reads of names
 * only; every count comes from the gap index. */
static json_t *rows_of(struct db *db, const char *sql)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    json_t *out = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            int type = sqlite3_column_type(st, c);
            json_object_set_new(o, sqlite3_column_name(st, c),
                                type == SQLITE_INTEGER ? json_integer(sqlite3_column_int64(st, c))
                                : type == SQLITE_NULL  ? json_null()
                                                       : json_string(db_text(st, c)));
        }
        json_array_append_new(out, o);
    }
    if (rc != SQLITE_DONE)
        db_log_error(db, st);
    sqlite3_reset(st);
    return out;
}

static json_t *departments_of(struct app *a)
{
    return rows_of(a->db, "SELECT id, name, parent_id FROM department ORDER BY id");
}

static json_t *systems_of(struct app *a)
{
    return rows_of(a->db, "SELECT id, name, archived FROM system ORDER BY name, id");
}

/* What the forms offer: departments, systems and profiles (owned arrays). */
struct lists {
    json_t *departments, *systems, *profiles;
};

static void lists_load(struct app *a, struct lists *l, int with_profiles)
{
    l->departments = departments_of(a);
    l->systems = systems_of(a);
    l->profiles = with_profiles ? rows_of(a->db, "SELECT id, name, system_id, archived FROM "
                                                 "profile ORDER BY name, id")
                                : json_array();
}

static void lists_free(struct lists *l)
{
    json_decref(l->departments);
    json_decref(l->systems);
    json_decref(l->profiles);
}

static int default_desc(int sort) { return sort != SORT_NAME && sort != SORT_COVERAGE; }

/* Reads the parameters into q; errors (owned) maps each bad field to a message key. */
static json_t *report_parse(const struct api_req *r, struct report *q, const struct lists *l)
{
    static const char *const orders[] = {"asc", "desc"};
    json_t *errors = json_object();
    memset(q, 0, sizeof *q);
    q->dim = word_param(r, "by", dims, NDIMS, GAP_BY_DEPARTMENT);
    if (q->dim < 0) {
        q->dim = GAP_BY_DEPARTMENT;
        json_object_set_new(errors, "by", json_string("reports.bad_by"));
    }
    q->department_id = id_param(r, "department_id");
    if (q->department_id && !by_id(l->departments, q->department_id)) {
        q->department_id = 0;
        json_object_set_new(errors, "department_id", json_string("reports.bad_department"));
    }
    q->system_id = id_param(r, "system_id");
    if (q->system_id && !by_id(l->systems, q->system_id)) {
        q->system_id = 0;
        json_object_set_new(errors, "system_id", json_string("reports.bad_system"));
    }
    q->profile_id = id_param(r, "profile_id");
    if (q->profile_id && !by_id(l->profiles, q->profile_id)) {
        q->profile_id = 0;
        json_object_set_new(errors, "profile_id", json_string("reports.bad_profile"));
    }
    q->sort = word_param(r, "sort", sort_names, NSORT, SORT_GAP_SUM);
    if (q->sort < 0) {
        q->sort = SORT_GAP_SUM;
        json_object_set_new(errors, "sort", json_string("reports.bad_sort"));
    }
    int order = word_param(r, "order", orders, 2, -2);
    if (order == -1)
        json_object_set_new(errors, "order", json_string("reports.bad_order"));
    q->desc = order >= 0 ? order : default_desc(q->sort);
    char *page = http_query_param(r->http, "page");
    int64_t p;
    q->page = page && !util_parse_i64(page, &p) && p > 0 && p < 1000000 ? (long)p : 1;
    free(page);
    return errors;
}

/* The scope a person may see, as api_gaps decides it: 0, or a status (403) to refuse with.
 * dept must live as long as f. */
static int report_scope(const struct api_req *r, const int64_t *dept, struct gap_filter *f)
{
    memset(f, 0, sizeof *f);
    if (!is_adviser(r)) {
        if (!r->who.nmanaged)
            return 403;
        if (*dept && !api_manages_department(r, *dept))
            return 403;
        if (!*dept) {
            f->departments = r->who.managed;
            f->ndepartments = r->who.nmanaged;
        }
    }
    if (*dept) {
        f->departments = dept;
        f->ndepartments = 1;
    }
    return 0;
}

struct row_order {
    int key, desc;
};

static int64_t row_count(const struct gap_row *w, int key)
{
    switch (key) {
    case SORT_EMPLOYEES: return w->employees;
    case SORT_WITH_GAPS: return w->employees_with_gaps;
    case SORT_DEMANDED: return w->demanded;
    case SORT_OPEN: return w->open_gaps;
    case SORT_UNASSESSED: return w->unassessed;
    default: return w->gap_sum;
    }
}

static int row_cmp(const void *a, const void *b, void *arg)
{
    const struct gap_row *x = a, *y = b;
    const struct row_order *o = arg;
    int c;
    if (o->key == SORT_NAME) {
        c = nb_cmp(x->name, y->name);
    } else if (o->key == SORT_COVERAGE) {
        c = (x->coverage > y->coverage) - (x->coverage < y->coverage);
    } else {
        int64_t u = row_count(x, o->key), v = row_count(y, o->key);
        c = (u > v) - (u < v);
    }
    if (o->desc)
        c = -c;
    if (!c)
        c = nb_cmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* The rows of q within f, sorted as q asks. With a system chosen, a report by employee leaves
 * out those who have nothing demanded in it: they are not among the people behind a system's
 * row. *rows owned. */
static void report_rows(struct app *a, const struct report *q, const struct gap_filter *f,
                        struct gap_row **rows, size_t *n)
{
    gap_rollup(a->gap, (enum gap_dim)q->dim, f, rows, n);
    if (q->dim == GAP_BY_EMPLOYEE && q->system_id) {
        size_t k = 0;
        for (size_t i = 0; i < *n; i++)
            if ((*rows)[i].demanded)
                (*rows)[k++] = (*rows)[i];
        *n = k;
    }
    struct row_order o = {q->sort, q->desc};
    qsort_r(*rows, *n, sizeof **rows, row_cmp, &o);
}

/* The address of report q. Owned. */
static char *report_href(const char *path, const struct report *q, int with_page)
{
    struct buf b = {0};
    buf_printf(&b, "%s?by=%s", path, dims[q->dim]);
    if (q->department_id)
        buf_printf(&b, "&department_id=%lld", (long long)q->department_id);
    if (q->system_id)
        buf_printf(&b, "&system_id=%lld", (long long)q->system_id);
    if (q->profile_id)
        buf_printf(&b, "&profile_id=%lld", (long long)q->profile_id);
    buf_printf(&b, "&sort=%s&order=%s", sort_names[q->sort], q->desc ? "desc" : "asc");
    if (with_page && q->page > 1)
        buf_printf(&b, "&page=%ld", q->page);
    return buf_steal(&b);
}

/* Where a row leads: the people behind it, or for a person, their requirements (a manager's
 * own page for their employee, the adviser's view here). Owned. */
static char *drill_href(const struct api_req *r, const struct report *q, const struct gap_row *w,
                        const json_t *req_system)
{
    struct report d = *q;
    d.dim = GAP_BY_EMPLOYEE;
    d.page = 1;
    switch (q->dim) {
    case GAP_BY_EMPLOYEE:
        return xasprintf(is_adviser(r) ? "/reports/employees/%lld" : "/team/employees/%lld",
                         (long long)w->id);
    case GAP_BY_DEPARTMENT:
        d.department_id = w->id;
        break;
    case GAP_BY_PROFILE:
        d.profile_id = w->id;
        break;
    case GAP_BY_SYSTEM:
        d.system_id = w->id;
        break;
    case GAP_BY_REQUIREMENT: {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)w->id);
        d.system_id = json_integer_value(json_object_get(req_system, key));
        break;
    }
    }
    return report_href("/reports", &d, 0);
}

/* requirement id -> its system id, for the drill-down of requirement rows. Owned object. */
static json_t *requirement_systems(struct app *a)
{
    json_t *rows = rows_of(a->db, "SELECT id, system_id FROM requirement"), *map = json_object(),
           *req;
    size_t i;
    json_array_foreach(rows, i, req) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(req, "id")));
        json_object_set(map, key, json_object_get(req, "system_id"));
    }
    json_decref(rows);
    return map;
}

/* --- what the forms offer ---------------------------------------------------------------------- */

struct dept_tree {
    const struct api_req *r;
    const json_t *all;
    int64_t *ids, *parents;
    int *root;
    size_t n;
    json_t *out;
    int min_depth;
};

static void dept_visit(struct dept_tree *t, int64_t parent, int depth)
{
    for (size_t i = 0; i < t->n; i++) {
        if (parent ? t->root[i] || t->parents[i] != parent : !t->root[i])
            continue;
        if (is_adviser(t->r) || api_manages_department(t->r, t->ids[i])) {
            json_t *d = json_array_get(t->all, i);
            json_array_append_new(t->out, json_pack("{s:I, s:O, s:i}", "id", (json_int_t)t->ids[i],
                                                    "name", json_object_get(d, "name"), "depth",
                                                    depth));
            if (depth < t->min_depth)
                t->min_depth = depth;
        }
        if (depth < 64)
            dept_visit(t, t->ids[i], depth + 1);
    }
}

/* The departments a person may choose, in tree order with their depth (from 0): all of them for
 * advisers and admins, the managed subtrees for a manager. Owned array of {id, name, depth}. */
static json_t *department_options(const struct api_req *r, const json_t *all)
{
    struct dept_tree t = {.r = r, .all = all, .n = json_array_size(all), .out = json_array(),
                          .min_depth = 1 << 20};
    t.ids = xmalloc((t.n ? t.n : 1) * sizeof *t.ids);
    t.parents = xmalloc((t.n ? t.n : 1) * sizeof *t.parents);
    t.root = xcalloc(t.n ? t.n : 1, sizeof *t.root);
    for (size_t i = 0; i < t.n; i++) {
        json_t *d = json_array_get(all, i);
        t.ids[i] = json_integer_value(json_object_get(d, "id"));
        t.parents[i] = json_integer_value(json_object_get(d, "parent_id"));
    }
    for (size_t i = 0; i < t.n; i++) {
        t.root[i] = 1;
        for (size_t j = 0; j < t.n && t.root[i]; j++)
            t.root[i] = !(t.parents[i] && t.ids[j] == t.parents[i]);
    }
    dept_visit(&t, 0, 0);
    size_t i;
    json_t *d;
    json_array_foreach(t.out, i, d) {
        json_object_set_new(d, "depth", json_integer(json_integer_value(json_object_get(d, "depth"))
                                                     - t.min_depth));
    }
    free(t.ids);
    free(t.parents);
    free(t.root);
    return t.out;
}

/* Active items as {id, name} options, and the chosen one even when it is archived. Owned. */
static json_t *options_of(const json_t *items, int64_t chosen, const json_t *systems)
{
    json_t *out = json_array(), *it;
    size_t i;
    json_array_foreach(items, i, it) {
        int64_t id = json_integer_value(json_object_get(it, "id"));
        if (archived(it) && id != chosen)
            continue;
        json_t *o = json_pack("{s:I, s:O}", "id", (json_int_t)id, "name",
                              json_object_get(it, "name"));
        if (systems) {   /* a profile: which system it belongs to */
            json_t *s = by_id(systems, json_integer_value(json_object_get(it, "system_id")));
            json_object_set(o, "system", s ? json_object_get(s, "name") : json_false());
        }
        json_array_append_new(out, o);
    }
    return out;
}

static json_t *id_or_false(int64_t id) { return id ? json_integer(id) : json_false(); }

/* A JSON string from an owned C string, which it frees. */
static json_t *string_taken(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* --- the report page ---------------------------------------------------------------------------- */

static json_t *row_json(const struct gap_row *w, char *href)
{
    json_t *o = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s}", "id",
                          (json_int_t)w->id, "name", w->name ? w->name : "", "employees",
                          (json_int_t)w->employees, "employees_with_gaps",
                          (json_int_t)w->employees_with_gaps, "demanded", (json_int_t)w->demanded,
                          "open_gaps", (json_int_t)w->open_gaps, "unassessed",
                          (json_int_t)w->unassessed, "gap_sum", (json_int_t)w->gap_sum,
                          "coverage", w->coverage, "href", href);
    free(href);
    return o;
}

static int chart_gap_cmp(const void *a, const void *b)
{
    const struct gap_row *x = *(const struct gap_row *const *)a,
                         *y = *(const struct gap_row *const *)b;
    int c = (x->gap_sum < y->gap_sum) - (x->gap_sum > y->gap_sum);
    return c ? c : nb_cmp(x->name, y->name);
}

static int chart_coverage_cmp(const void *a, const void *b)
{
    const struct gap_row *x = *(const struct gap_row *const *)a,
                         *y = *(const struct gap_row *const *)b;
    int c = (x->coverage > y->coverage) - (x->coverage < y->coverage);
    return c ? c : nb_cmp(x->name, y->name);
}

/* The bar chart: the CHART_ROWS largest gap sums, or when the table is sorted by coverage, the
 * lowest coverages. Rows with nothing to show (no gap, nothing demanded) are left out. */
static json_t *chart_json(const struct api_req *r, const struct report *q,
                          const struct gap_row *rows, size_t n, const json_t *req_system)
{
    int coverage = q->sort == SORT_COVERAGE;
    const struct gap_row **pick = xmalloc((n ? n : 1) * sizeof *pick);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (coverage ? rows[i].demanded > 0 : rows[i].gap_sum > 0)
            pick[k++] = &rows[i];
    util_sort(pick, k, sizeof *pick, coverage ? chart_coverage_cmp : chart_gap_cmp);
    if (k > CHART_ROWS)
        k = CHART_ROWS;
    json_t *items = json_array();
    int64_t max = k ? pick[0]->gap_sum : 0;
    for (size_t i = 0; i < k; i++) {
        double width = coverage ? pick[i]->coverage : max ? (double)pick[i]->gap_sum / (double)max
                                                          : 0.0;
        char *href = drill_href(r, q, pick[i], req_system);
        json_array_append_new(items, json_pack("{s:s, s:s, s:I, s:f, s:f}", "name",
                                               pick[i]->name ? pick[i]->name : "", "href", href,
                                               "gap_sum", (json_int_t)pick[i]->gap_sum,
                                               "coverage", pick[i]->coverage, "width", width));
        free(href);
    }
    free(pick);
    return json_pack("{s:s, s:o}", "metric", coverage ? "coverage" : "gap_sum", "items", items);
}

/* The sortable column headers: each a link that sorts by it, again to turn the order. */
static json_t *columns_json(const struct report *q)
{
    json_t *cols = json_array();
    for (int k = 0; k < NSORT; k++) {
        struct report c = *q;
        c.sort = k;
        c.desc = k == q->sort ? !q->desc : default_desc(k);
        c.page = 1;
        char *href = report_href("/reports", &c, 0);
        char label[48];
        if (k == SORT_NAME)
            snprintf(label, sizeof label, "reports.dim.%s", dims[q->dim]);
        else
            snprintf(label, sizeof label, "reports.col.%s", sort_names[k]);
        json_array_append_new(
            cols, json_pack("{s:s, s:s, s:s, s:o, s:b}", "key", sort_names[k], "label", label,
                            "href", href,
                            "sorted", k != q->sort ? json_false()
                                      : json_string(q->desc ? "descending" : "ascending"),
                            "num", k != SORT_NAME));
        free(href);
    }
    return cols;
}

/* Renders the report page; rows (may be NULL on a 422) are sorted already. */
static void rollup_render(struct api_req *r, int status, const struct report *q,
                          const struct lists *l, json_t *errors, const struct gap_row *rows,
                          size_t n)
{
    json_t *dim_list = json_array();
    static const int dim_order[] = {GAP_BY_DEPARTMENT, GAP_BY_PROFILE, GAP_BY_SYSTEM,
                                    GAP_BY_REQUIREMENT, GAP_BY_EMPLOYEE};
    for (size_t i = 0; i < NDIMS; i++)
        json_array_append_new(dim_list, json_string(dims[dim_order[i]]));
    json_t *data = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:s, s:o, s:o, s:o, s:s, s:s}}", "title",
        "reports.title", "by", dims[q->dim], "dims", dim_list, "departments",
        department_options(r, l->departments), "systems", options_of(l->systems, q->system_id, NULL),
        "profiles", options_of(l->profiles, q->profile_id, l->systems), "errors", errors, "params",
        "by", dims[q->dim], "department_id", id_or_false(q->department_id), "system_id",
        id_or_false(q->system_id), "profile_id", id_or_false(q->profile_id), "sort",
        sort_names[q->sort], "order", q->desc ? "desc" : "asc");
    json_object_set_new(data, "scope_note", is_adviser(r) ? json_false()
                                                          : json_string("reports.scope_managed"));
    json_object_set_new(data, "system_note",
                        json_boolean(q->dim == GAP_BY_EMPLOYEE && q->system_id));
    if (!rows) {
        json_object_set_new(data, "rows", json_false());
        page_render(r, status, "reports.html", data);
        return;
    }
    json_t *req_system =
        q->dim == GAP_BY_REQUIREMENT ? requirement_systems(r->app) : json_object();
    long pages = n ? (long)((n + PAGE_ROWS - 1) / PAGE_ROWS) : 1;
    struct report at = *q;
    if (at.page > pages)
        at.page = pages;
    size_t from = (size_t)(at.page - 1) * PAGE_ROWS, to = from + PAGE_ROWS < n ? from + PAGE_ROWS : n;
    json_t *items = json_array();
    for (size_t i = from; i < to; i++)
        json_array_append_new(items, row_json(&rows[i], drill_href(r, q, &rows[i], req_system)));
    json_object_set_new(data, "rows", items);
    json_object_set_new(data, "total", json_integer((json_int_t)n));
    json_object_set_new(data, "first", json_integer((json_int_t)(n ? from + 1 : 0)));
    json_object_set_new(data, "last", json_integer((json_int_t)to));
    json_object_set_new(data, "page", json_integer(at.page));
    json_object_set_new(data, "pages", json_integer(pages));
    struct report nb = at;
    nb.page = at.page - 1;
    json_object_set_new(data, "prev_href", at.page > 1
                                               ? string_taken(report_href("/reports", &nb, 1))
                                               : json_false());
    nb.page = at.page + 1;
    json_object_set_new(data, "next_href", at.page < pages
                                               ? string_taken(report_href("/reports", &nb, 1))
                                               : json_false());
    json_object_set_new(data, "csv_href", string_taken(report_href("/reports.csv", q, 0)));
    json_object_set_new(data, "columns", columns_json(q));
    json_object_set_new(data, "chart", chart_json(r, q, rows, n, req_system));
    json_decref(req_system);
    page_render(r, status, "reports.html", data);
}

static void report_csv_answer(struct api_req *r, const struct report *q, const struct gap_row *rows,
                              size_t n)
{
    /* the header's words come from the locales, one per line */
    json_t *data = json_pack("{s:b, s:s}", "bare", 1, "by", dims[q->dim]);
    char *header = NULL, *err = NULL;
    size_t hlen = 0;
    if (view_render(r->app->view, "reports_csv.html", data, r->lang, &header, &hlen, &err)) {
        fprintf(stderr, "evne: page reports_csv.html: %s\n", err);
        free(err);
        json_decref(data);
        page_error(r, 500, "error.internal");
        return;
    }
    json_decref(data);
    struct buf b = {0};
    buf_reserve(&b, 256 + n * 96);
    buf_puts(&b, "\xEF\xBB\xBF");
    int first = 1;
    char *save = NULL;
    for (char *line = strtok_r(header, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        while (*line == ' ')
            line++;
        if (!*line)
            continue;
        if (!first)
            buf_puts(&b, ";");
        buf_csv_cell(&b, line);
        first = 0;
    }
    free(header);
    buf_puts(&b, "\r\n");
    for (size_t i = 0; i < n; i++) {
        const struct gap_row *w = &rows[i];
        buf_csv_cell(&b, w->name);
        int64_t nums[] = {w->employees, w->employees_with_gaps, w->demanded,
                          w->open_gaps, w->unassessed,          w->gap_sum};
        for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
            buf_puts(&b, ";");
            buf_putint(&b, nums[k]);
        }
        /* coverage in percent with a decimal comma, as Excel in Norway reads a number */
        char pct[32];
        snprintf(pct, sizeof pct, ";%.1f;", w->coverage * 100.0);
        char *dot = strchr(pct, '.');
        if (dot)
            *dot = ',';
        buf_puts(&b, pct);
        buf_putint(&b, w->id);
        buf_puts(&b, "\r\n");
    }
    char *headers = xasprintf("Content-Disposition: attachment; filename=\"evne-gaps-%s.csv\"\r\n"
                              "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
                              dims[q->dim]);
    http_respond(r->http, 200, "text/csv; charset=utf-8", b.data, b.len, headers);
    free(headers);
    buf_free(&b);
    api_req_free(r);
}

/* GET /reports and GET /reports.csv (or /reports?format=csv). */
static void reports(struct api_req *r, int csv)
{
    struct lists l;
    struct report q;
    lists_load(r->app, &l, 1);
    json_t *errors = report_parse(r, &q, &l);
    if (json_object_size(errors)) {
        rollup_render(r, 422, &q, &l, errors, NULL, 0);
        lists_free(&l);
        return;
    }
    struct gap_filter f;
    int64_t dept = q.department_id;
    if (report_scope(r, &dept, &f)) {
        json_decref(errors);
        lists_free(&l);
        page_error(r, 403, "error.forbidden");
        return;
    }
    f.system_id = q.system_id;
    f.profile_id = q.profile_id;
    struct gap_row *rows;
    size_t n;
    report_rows(r->app, &q, &f, &rows, &n);
    if (csv) {
        json_decref(errors);
        report_csv_answer(r, &q, rows, n);
    } else {
        rollup_render(r, 200, &q, &l, errors, rows, n);
    }
    free(rows);
    lists_free(&l);
}

static void page_reports(struct api_req *r)
{
    char *format = http_query_param(r->http, "format");
    int csv = format && !strcmp(format, "csv");
    free(format);
    reports(r, csv);
}

static void page_reports_csv(struct api_req *r) { reports(r, 1); }

/* --- one employee's requirements --------------------------------------------------------------- */

/* GET /reports/employees/{id}: what the employee's profiles demand, system by system, with
 * their levels and gaps; for those who may see the employee (api_sees_employee). */
static void page_report_employee(struct api_req *r)
{
    int64_t dept = gap_employee_department(r->app->gap, r->id);
    if (dept < 0) {
        page_error(r, 404, "error.not_found");
        return;
    }
    if (!api_sees_employee(r, r->id)) {
        page_error(r, 403, "error.forbidden");
        return;
    }
    struct gap_cell *cells;
    size_t n;
    struct gap_row summary;
    if (gap_employee(r->app->gap, r->id, &cells, &n, &summary)) {
        page_error(r, 404, "error.not_found");   /* archived */
        return;
    }
    json_t *employee = org_employee_json(r->app, r->id);
    json_t *department = org_department_json(r->app, dept);
    free(cells);
    json_t *systems = page_employee_systems(r->app, r->id);
    struct report back = {.dim = GAP_BY_EMPLOYEE, .sort = SORT_GAP_SUM, .desc = 1,
                          .department_id = dept};
    char *back_href = report_href("/reports", &back, 0);
    json_t *data = json_pack(
        "{s:s, s:{s:I, s:O, s:O}, s:o, s:{s:I, s:I, s:I, s:I, s:f}, s:s}", "title",
        "reports.employee_title", "employee", "id", (json_int_t)r->id, "name",
        json_object_get(employee, "name"), "department",
        department ? json_object_get(department, "name") : json_false(), "systems", systems,
        "summary", "demanded", (json_int_t)summary.demanded, "open_gaps",
        (json_int_t)summary.open_gaps, "unassessed", (json_int_t)summary.unassessed, "gap_sum",
        (json_int_t)summary.gap_sum, "coverage", summary.coverage, "back_href", back_href);
    free(back_href);
    json_decref(employee);
    json_decref(department);
    page_render(r, 200, "reports_employee.html", data);
}

/* --- the people search ------------------------------------------------------------------------- */

/* A requirement's text for a select list: at most OPTION_TEXT bytes, cut at a space and
 * marked with an ellipsis, so that 500 requirements make a list one can read and a page one can
 * send. Owned. */
static json_t *shortened(const char *text)
{
    text = text ? text : "";
    size_t n = strlen(text);
    if (n <= OPTION_TEXT)
        return json_string(text);
    size_t cut = OPTION_TEXT;
    while (cut > OPTION_TEXT / 2 && text[cut] != ' ')
        cut--;
    while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
        cut--;   /* never inside a character */
    while (cut > 0 && (text[cut - 1] == ' ' || text[cut - 1] == ',' || text[cut - 1] == '.'))
        cut--;
    char *s = xasprintf("%.*s…", (int)cut, text);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* GET /search?requirement_id=|system_id=&level=&department_id=: who has at least `level` on the
 * requirement, or on every active requirement of the system, by their current level (their most
 * recent assessment; someone never assessed is at level 0). Employees within the department's
 * subtree, and for a manager only within what they manage. */
static void page_search(struct api_req *r)
{
    struct lists l;
    lists_load(r->app, &l, 0);
    json_t *errors = json_object();
    int64_t req_id = id_param(r, "requirement_id"), sys_id = id_param(r, "system_id"),
            dept = id_param(r, "department_id");
    json_t *full_text = NULL;   /* of the chosen requirement: the select shows it shortened */
    /* the requirements to choose from, grouped by active system */
    json_t *active = rows_of(r->app->db, "SELECT id, system_id, text FROM requirement "
                                       "WHERE archived = 0 ORDER BY system_id, position, id");
    json_t *groups = json_array(), *s, *row;
    size_t i;
    json_array_foreach(l.systems, i, s) {
        if (archived(s))
            continue;
        json_int_t id = json_integer_value(json_object_get(s, "id"));
        json_t *opts = json_array();
        for (size_t k = 0; k < json_array_size(active); k++) {
            row = json_array_get(active, k);
            if (json_integer_value(json_object_get(row, "id")) == req_id && !full_text)
                full_text = json_incref(json_object_get(row, "text"));
            if (json_integer_value(json_object_get(row, "system_id")) == id)
                json_array_append_new(opts, json_pack("{s:O, s:o}", "id", json_object_get(row, "id"),
                                                      "text", shortened(json_string_value(
                                                                  json_object_get(row, "text")))));
        }
        json_array_append_new(groups, json_pack("{s:I, s:O, s:o}", "id", id, "name",
                                                json_object_get(s, "name"), "requirements", opts));
    }
    json_decref(active);
    char *lv = http_query_param(r->http, "level");
    int submitted = lv || req_id || sys_id || dept;
    int64_t level = 3;
    if (lv && (util_parse_i64(lv, &level) || level < 0 || level > 4))
        json_object_set_new(errors, "level", json_string("search.bad_level"));
    free(lv);
    /* the requirements to meet, and what the results show for them */
    int64_t *need = NULL;
    size_t nneed = 0;
    json_t *group = NULL, *chosen_req = NULL;
    json_array_foreach(groups, i, s) {
        if (json_integer_value(json_object_get(s, "id")) == sys_id)
            group = s;
        json_t *found = by_id(json_object_get(s, "requirements"), req_id);
        if (req_id > 0 && found)
            chosen_req = found;
    }
    if (req_id && sys_id) {
        json_object_set_new(errors, "system_id", json_string("search.both"));
    } else if (req_id) {
        if (!chosen_req) {
            json_object_set_new(errors, "requirement_id", json_string("search.bad_requirement"));
        } else {
            need = xmalloc(sizeof *need);
            need[nneed++] = req_id;
        }
    } else if (sys_id) {
        if (!group) {
            json_object_set_new(errors, "system_id", json_string("search.bad_system"));
        } else {
            json_t *reqs = json_object_get(group, "requirements"), *q;
            size_t k;
            need = xmalloc((json_array_size(reqs) + 1) * sizeof *need);
            json_array_foreach(reqs, k, q) {
                need[nneed++] = json_integer_value(json_object_get(q, "id"));
            }
        }
    } else if (submitted) {
        json_object_set_new(errors, "requirement_id", json_string("search.choose"));
    }
    if (dept && !by_id(l.departments, dept))
        json_object_set_new(errors, "department_id", json_string("reports.bad_department"));
    json_t *data = json_pack(
        "{s:s, s:o, s:o, s:O, s:{s:o, s:o, s:I, s:o}, s:o}", "title", "search.title", "groups",
        groups, "departments", department_options(r, l.departments), "errors", errors, "params",
        "requirement_id", id_or_false(req_id > 0 ? req_id : 0), "system_id",
        id_or_false(sys_id > 0 ? sys_id : 0), "level", (json_int_t)level, "department_id",
        id_or_false(dept > 0 ? dept : 0), "scope_note",
        is_adviser(r) ? json_false() : json_string("search.scope_managed"));
    json_object_set_new(data, "results", json_false());
    int invalid = json_object_size(errors) > 0;
    json_decref(errors);
    if (invalid || !submitted) {
        json_decref(full_text);
        free(need);
        lists_free(&l);
        page_render(r, invalid ? 422 : 200, "reports_search.html", data);
        return;
    }
    struct gap_filter f;
    if (report_scope(r, &dept, &f)) {
        json_decref(full_text);
        free(need);
        json_decref(data);
        lists_free(&l);
        page_error(r, 403, "error.forbidden");
        return;
    }
    /* everyone active within the scope, from the gap index; kept when every level is enough */
    struct gap_row *people;
    size_t n, nfound = 0;
    gap_rollup(r->app->gap, GAP_BY_EMPLOYEE, &f, &people, &n);
    for (size_t e = 0; e < n; e++) {
        int ok = nneed > 0;
        for (size_t k = 0; k < nneed && ok; k++) {
            int lvl = 0;
            int64_t at;
            if (gap_actual(r->app->gap, people[e].id, need[k], &lvl, &at))
                lvl = 0;   /* never assessed */
            ok = lvl >= level;
        }
        if (ok)
            people[nfound++] = people[e];
    }
    struct row_order by_name = {SORT_NAME, 0};
    qsort_r(people, nfound, sizeof *people, row_cmp, &by_name);
    /* what the page shows of the first ones: department, each level and when it was assessed */
    json_t *dept_names = json_object(), *d;
    json_array_foreach(l.departments, i, d) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(d, "id")));
        json_object_set(dept_names, key, json_object_get(d, "name"));
    }
    json_t *shown = json_array();
    for (size_t e = 0; e < nfound && e < SEARCH_ROWS; e++) {
        int lowest = 4;
        json_t *levels = json_array();
        for (size_t k = 0; k < nneed; k++) {
            int lvl = 0;
            int64_t at = 0;
            int assessed = gap_actual(r->app->gap, people[e].id, need[k], &lvl, &at) == 0;
            if (!assessed)
                lvl = 0;
            lowest = lvl < lowest ? lvl : lowest;
            char iso[21] = "";
            if (assessed)
                util_iso8601(at, iso);
            json_array_append_new(levels, json_pack("{s:i, s:o}", "level", lvl, "assessed_at",
                                                    assessed ? json_string(iso) : json_false()));
        }
        char key[24];
        snprintf(key, sizeof key, "%lld",
                 (long long)gap_employee_department(r->app->gap, people[e].id));
        json_t *dn = json_object_get(dept_names, key);
        char *href = xasprintf(is_adviser(r) ? "/reports/employees/%lld" : "/team/employees/%lld",
                               (long long)people[e].id);
        json_array_append_new(shown, json_pack("{s:I, s:s, s:O, s:s, s:i, s:o}", "id",
                                               (json_int_t)people[e].id, "name",
                                               people[e].name ? people[e].name : "", "department",
                                               dn ? dn : json_false(), "href", href, "lowest",
                                               lowest, "levels", levels));
        free(href);
    }
    free(people);
    free(need);
    json_decref(dept_names);
    json_object_set_new(data, "results", shown);
    json_object_set_new(data, "total", json_integer((json_int_t)nfound));
    json_object_set_new(data, "whole_system", json_boolean(sys_id > 0));
    json_object_set_new(data, "what", sys_id > 0 ? json_incref(json_object_get(group, "name"))
                                                 : full_text);
    lists_free(&l);
    page_render(r, 200, "reports_search.html", data);
}

/* --- the monthly reports on demand ------------------------------------------------------------ */

#define EMPLOYEE_SELECT 300   /* a manager chooses among at most this many by name */

static const char *const monthly_names[] = {REPORT_EMPLOYEE, REPORT_DEPARTMENT,
                                            REPORT_ORGANISATION};

static int may_see_monthly(const struct api_req *r, const char *name)
{
    if (!strcmp(name, REPORT_EMPLOYEE))
        return 1;
    if (!strcmp(name, REPORT_DEPARTMENT))
        return is_adviser(r) || r->who.nmanaged > 0;
    return is_adviser(r);
}

/* GET /reports/monthly: the monthly reports this person may see. */
static void page_monthly_index(struct api_req *r)
{
    json_t *items = json_array();
    for (size_t i = 0; i < sizeof monthly_names / sizeof monthly_names[0]; i++)
        if (may_see_monthly(r, monthly_names[i]))
            json_array_append_new(items, json_pack("{s:s, s:s}", "name", monthly_names[i], "href",
                                                   monthly_names[i]));
    page_render(r, 200, "reports_monthly.html",
                json_pack("{s:s, s:o}", "title", "monthly.title", "items", items));
}

/* The people a manager may choose by name, when they are few enough for a select list: the
 * employees within the departments they manage, and themselves. Owned array, or false. */
static json_t *employee_options(struct api_req *r)
{
    if (is_adviser(r) || !r->who.nmanaged)
        return json_false();
    struct gap_filter f = {.departments = r->who.managed, .ndepartments = r->who.nmanaged};
    struct gap_row *rows;
    size_t n;
    gap_rollup(r->app->gap, GAP_BY_EMPLOYEE, &f, &rows, &n);
    if (n > EMPLOYEE_SELECT) {
        free(rows);
        return json_false();
    }
    struct row_order by_name = {SORT_NAME, 0};
    qsort_r(rows, n, sizeof *rows, row_cmp, &by_name);
    json_t *out = json_array();
    int self = 0;
    for (size_t i = 0; i < n; i++) {
        self |= rows[i].id == r->who.employee_id;
        json_array_append_new(out, json_pack("{s:I, s:s}", "id", (json_int_t)rows[i].id, "name",
                                             rows[i].name ? rows[i].name : ""));
    }
    free(rows);
    if (!self) {
        json_t *me = org_employee_json(r->app, r->who.employee_id);
        json_array_insert_new(out, 0, json_pack("{s:I, s:O}", "id", (json_int_t)r->who.employee_id,
                                                "name", json_object_get(me, "name")));
        json_decref(me);
    }
    return out;
}

/* The department report's trend as two line charts: coverage and gap sum. Owned array of
 * {metric, svg, title}. */
static json_t *monthly_charts(struct api_req *r, const json_t *data)
{
    const json_t *trend = json_object_get(data, "trend");
    const char *name = json_string_value(json_object_get(json_object_get(data, "department"),
                                                         "name"));
    json_t *charts = json_array();
    static const char *const metrics[] = {"coverage", "gap_sum"};
    for (size_t m = 0; m < 2; m++) {
        json_t *o = page_trend_chart(r, trend, metrics[m], name ? name : "");
        json_object_set_new(o, "metric", json_string(metrics[m]));
        json_array_append_new(charts, o);
    }
    return charts;
}

/* A query parameter as it was typed (for the form), or false. */
static json_t *typed(const struct api_req *r, const char *name)
{
    char *v = http_query_param(r->http, name);
    json_t *j = v && *v ? json_string(util_utf8_clean(v)) : json_false();
    free(v);
    return j;
}

/* GET /reports/monthly/{name}[?...&format=csv]: the report's parameters as a form, the report as
 * its layout renders it, a link to its CSV; the department report with its trend as charts and a
 * table beside them. The same parameters and access rules as GET /api/v1/reports/{name}. */
static void page_monthly(struct api_req *r)
{
    const char *name = r->http->path + strlen("/reports/monthly/");
    if (!report_known(name) || !strcmp(name, REPORT_GAPS)) {
        page_error(r, 404, "error.not_found");
        return;
    }
    if (!may_see_monthly(r, name)) {
        page_error(r, 403, "error.forbidden");
        return;
    }
    struct report_params p;
    const char *format;
    struct derr e;
    json_t *report = NULL;
    json_t *errors = json_object();
    if (api_report_request(r, name, &p, &format, &e) ||
        report_data(r->app, name, &p, util_now(), &report, &e)) {
        if (e.status == 403) {
            json_decref(errors);
            page_error(r, 403, "error.forbidden");
            return;
        }
        if (e.status != 422) {
            json_decref(errors);
            page_error(r, e.status == 404 ? 404 : 500,
                       e.status == 404 ? "error.not_found" : "error.internal");
            return;
        }
        static const char *const fields[] = {"employee_id", "department_id", "period", "lang",
                                             "format"};
        const char *key = "monthly.bad.param";
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (!strcmp(e.field, fields[i]))
                key = NULL;
        char k[128];
        snprintf(k, sizeof k, "monthly.bad.%s", e.field);
        json_object_set_new(errors, key ? "param" : e.field, json_string(key ? key : k));
    }
    if (strcmp(format, "csv"))
        format = "html";   /* the page shows the report; its data is the API's (format=json) */
    struct buf out = {0};
    char *err = NULL;
    if (report && report_render(r->app, name, format, report, &out, &err)) {
        fprintf(stderr, "evne: report %s: %s\n", name, err);
        free(err);
        buf_free(&out);
        json_decref(report);
        json_decref(errors);
        page_error(r, 500, "monthly.failed");
        return;
    }
    if (report && !strcmp(format, "csv")) {
        const char *period = json_string_value(json_object_get(report, "period"));
        char *headers = xasprintf("Content-Disposition: attachment; filename=\"evne-%s-%s.csv\"\r\n"
                                  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
                                  name, period ? period : "");
        http_respond(r->http, 200, "text/csv; charset=utf-8", out.data, out.len, headers);
        free(headers);
        buf_free(&out);
        json_decref(report);
        json_decref(errors);
        api_req_free(r);
        return;
    }
    json_t *data = json_pack("{s:s, s:s, s:o}", "title", "monthly.title", "report", name,
                             "errors", errors);
    json_t *params = json_pack("{s:o, s:o, s:o, s:s}", "employee_id", typed(r, "employee_id"),
                               "department_id", typed(r, "department_id"), "period",
                               typed(r, "period"), "lang", p.lang[0] ? p.lang : r->lang);
    if (report) {   /* what the report was made for, as the form shows it */
        json_object_set(params, "period", json_object_get(report, "period"));
        if (p.employee_id)
            json_object_set_new(params, "employee_id", json_integer(p.employee_id));
        if (p.department_id)
            json_object_set_new(params, "department_id", json_integer(p.department_id));
    }
    json_object_set_new(data, "params", params);
    json_object_set_new(data, "adviser", json_boolean(is_adviser(r)));
    if (!strcmp(name, REPORT_EMPLOYEE))
        json_object_set_new(data, "employees",
                            is_adviser(r) || r->who.nmanaged ? employee_options(r) : json_false());
    if (!strcmp(name, REPORT_DEPARTMENT)) {
        json_t *all = departments_of(r->app);
        json_object_set_new(data, "departments", department_options(r, all));
        json_decref(all);
    }
    if (report) {
        json_object_set_new(data, "html", json_string(out.data ? out.data : ""));
        /* the same report as CSV: these parameters and format=csv */
        struct buf href = {0};
        buf_printf(&href, "/reports/monthly/%s?format=csv&period=%s&lang=%s", name,
                   json_string_value(json_object_get(report, "period")), p.lang);
        if (!strcmp(name, REPORT_EMPLOYEE))
            buf_printf(&href, "&employee_id=%lld", (long long)p.employee_id);
        if (!strcmp(name, REPORT_DEPARTMENT))
            buf_printf(&href, "&department_id=%lld", (long long)p.department_id);
        json_object_set_new(data, "csv_href", json_string(href.data));
        buf_free(&href);
        if (!strcmp(name, REPORT_DEPARTMENT)) {
            json_object_set_new(data, "charts", monthly_charts(r, report));
            json_object_set(data, "trend", json_object_get(report, "trend"));
            json_object_set(data, "department_name",
                            json_object_get(json_object_get(report, "department"), "name"));
        }
    }
    buf_free(&out);
    int status = json_object_size(errors) ? 422 : 200;
    json_decref(report);
    page_render(r, status, "reports_monthly_report.html", data);
}

const struct route page_reports_routes[] = {
    {"GET", "/reports", page_reports, REPORT_ROLES},
    {"GET", "/reports.csv", page_reports_csv, REPORT_ROLES},
    {"GET", "/reports/employees/{id}", page_report_employee, REPORT_ROLES},
    {"GET", "/search", page_search, REPORT_ROLES},
    {"GET", "/reports/monthly", page_monthly_index, ROLE_EMPLOYEE | REPORT_ROLES},
    {"GET", "/reports/monthly/{name}", page_monthly, ROLE_EMPLOYEE | REPORT_ROLES},
};
const size_t page_reports_nroutes = sizeof page_reports_routes / sizeof page_reports_routes[0];
