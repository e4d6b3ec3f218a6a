/* export: a small state machine over phases (head, departments, systems, requirements, profiles,
 * employees or assessments or gaps, roll-ups, tail). Each call of export_next goes on from where
 * the last stopped, reading the next rows by id (WHERE id > last ORDER BY id LIMIT n), so that no
 * statement stays open between two pieces and no piece holds more than a batch of rows; gaps come
 * from the gap index, one employee at a time; a roll-up dimension is written whole (its rows are
 * bounded by the number of departments, profiles, systems or requirements, not of employees).
 */
#include "export.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "catalog.h"
#include "db.h"
#include "gap.h"
#include "lua_host.h"
#include "util.h"

#define BATCH 256

enum phase {
    P_HEAD,
    P_DEPTS,
    P_SYSTEMS,
    P_REQS,
    P_PROFILES,
    P_EMPLOYEES,
    P_ASSESSMENTS,
    P_GAPS,
    P_ROLLUPS,
    P_TAIL,
    P_DONE,
};

/* What a row of the gaps and assessments needs of a requirement, by id. */
struct req_info {
    int64_t id, system_id;
    char *text;
    const char *system;         /* borrowed from systems */
};

struct sys_info {
    int64_t id;
    char *name;
};

struct export {
    struct app *a;
    enum export_format format;
    enum export_table table;
    const enum phase *phases;   /* the plan, ending with P_DONE */
    size_t at;                  /* index into phases */
    int64_t last;               /* the last id written in this phase */
    int started;                /* this phase wrote its opening already */
    int dim;                    /* roll-ups: the next dimension */
    struct req_info *reqs;
    size_t nreqs;
    struct sys_info *systems;
    size_t nsystems;
    int failed;
};

static const enum phase plan_json[] = {P_HEAD,     P_DEPTS,     P_SYSTEMS, P_REQS, P_PROFILES,
                                       P_EMPLOYEES, P_ROLLUPS, P_TAIL,    P_DONE};
static const enum phase plan_employees[] = {P_HEAD, P_EMPLOYEES, P_DONE};
static const enum phase plan_departments[] = {P_HEAD, P_DEPTS, P_DONE};
static const enum phase plan_assessments[] = {P_HEAD, P_ASSESSMENTS, P_DONE};
static const enum phase plan_gaps[] = {P_HEAD, P_GAPS, P_DONE};
static const enum phase plan_rollups[] = {P_HEAD, P_ROLLUPS, P_DONE};

static const struct {
    enum gap_dim dim;
    const char *name;
} rollup_dims[] = {{GAP_BY_DEPARTMENT, "department"},
                   {GAP_BY_PROFILE, "profile"},
                   {GAP_BY_SYSTEM, "system"},
                   {GAP_BY_REQUIREMENT, "requirement"}};
#define NDIMS (sizeof rollup_dims / sizeof rollup_dims[0])

static const char *const table_names[] = {
    [EXPORT_ALL] = "all",           [EXPORT_EMPLOYEES] = "employees",
    [EXPORT_DEPARTMENTS] = "departments", [EXPORT_ASSESSMENTS] = "assessments",
    [EXPORT_GAPS] = "gaps",         [EXPORT_ROLLUPS] = "rollups",
};

int export_parse(const char *format, const char *table, enum export_format *f,
                 enum export_table *t, const char **field, const char **why)
{
    if (!format || !*format || !strcmp(format, "json")) {
        *f = EXPORT_JSON;
    } else if (!strcmp(format, "csv")) {
        *f = EXPORT_CSV;
    } else {
        *field = "format";
        *why = "'format' is csv or json";
        return -1;
    }
    if (*f == EXPORT_JSON) {
        if (table && *table && strcmp(table, "all")) {
            *field = "table";
            *why = "JSON is one document with every table; 'table' is for format=csv";
            return -1;
        }
        *t = EXPORT_ALL;
        return 0;
    }
    if (!table || !*table) {
        *t = EXPORT_EMPLOYEES;
        return 0;
    }
    for (int i = EXPORT_EMPLOYEES; i <= EXPORT_ROLLUPS; i++)
        if (!strcmp(table, table_names[i])) {
            *t = (enum export_table)i;
            return 0;
        }
    *field = "table";
    *why = "'table' is employees, departments, assessments, gaps or rollups";
    return -1;
}

const char *export_content_type(enum export_format f)
{
    return f == EXPORT_CSV ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
}

void export_filename(enum export_format f, enum export_table t, char out[64])
{
    char day[21];
    util_iso8601(util_now(), day);
    day[10] = '\0';
    if (f == EXPORT_CSV)
        snprintf(out, 64, "evne-%s-%s.csv", table_names[t], day);
    else
        snprintf(out, 64, "evne-export-%s.json", day);
}

/* --- lookups ------------------------------------------------------------------------------- */

static int req_cmp(const void *k, const void *e)
{
    int64_t id = *(const int64_t *)k, other = ((const struct req_info *)e)->id;
    return id < other ? -1 : id > other;
}

static const struct req_info *req_of(const struct export *x, int64_t id)
{
    return x->nreqs ? bsearch(&id, x->reqs, x->nreqs, sizeof *x->reqs, req_cmp) : NULL;
}

static int sys_cmp(const void *k, const void *e)
{
    int64_t id = *(const int64_t *)k, other = ((const struct sys_info *)e)->id;
    return id < other ? -1 : id > other;
}

/* The end of a read that feeds a piece: anything but SQLITE_DONE fails the export, which then
 * ends without its last piece rather than looking whole with rows missing. */
static void read_end(struct export *x, sqlite3_stmt *st, int rc)
{
    if (rc != SQLITE_DONE) {
        db_log_error(x->a->db, st);
        x->failed = 1;
    }
}

static void load_catalogue(struct export *x)
{
    struct db *db = x->a->db;
    sqlite3_stmt *st = db_stmt(db, "SELECT id, name FROM system ORDER BY id");
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (x->nsystems == cap)
            x->systems = xrealloc(x->systems, (cap = cap ? cap * 2 : 64) * sizeof *x->systems);
        x->systems[x->nsystems++] =
            (struct sys_info){sqlite3_column_int64(st, 0), xstrdup(db_text(st, 1))};
    }
    read_end(x, st, rc);
    sqlite3_reset(st);
    st = db_stmt(db, "SELECT id, system_id, text FROM requirement ORDER BY id");
    cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (x->nreqs == cap)
            x->reqs = xrealloc(x->reqs, (cap = cap ? cap * 2 : 256) * sizeof *x->reqs);
        struct req_info *r = &x->reqs[x->nreqs++];
        r->id = sqlite3_column_int64(st, 0);
        r->system_id = sqlite3_column_int64(st, 1);
        r->text = xstrdup(db_text(st, 2));
        const struct sys_info *s =
            x->nsystems ? bsearch(&r->system_id, x->systems, x->nsystems, sizeof *x->systems,
                                  sys_cmp)
                        : NULL;
        r->system = s ? s->name : "";
    }
    read_end(x, st, rc);
    sqlite3_reset(st);
}

struct export *export_new(struct app *a, enum export_format f, enum export_table t)
{
    struct export *x = xcalloc(1, sizeof *x);
    x->a = a;
    x->format = f;
    x->table = t;
    x->phases = f == EXPORT_JSON            ? plan_json
                : t == EXPORT_DEPARTMENTS ? plan_departments
                : t == EXPORT_ASSESSMENTS ? plan_assessments
                : t == EXPORT_GAPS        ? plan_gaps
                : t == EXPORT_ROLLUPS     ? plan_rollups
                                          : plan_employees;
    load_catalogue(x);
    return x;
}

void export_free(struct export *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nreqs; i++)
        free(x->reqs[i].text);
    for (size_t i = 0; i < x->nsystems; i++)
        free(x->systems[i].name);
    free(x->reqs);
    free(x->systems);
    free(x);
}

/* --- writing ------------------------------------------------------------------------------- */

/* A fraction with a decimal comma, as Excel in Norway reads a number. */
static void csv_fraction(struct buf *b, double v)
{
    char num[32];
    snprintf(num, sizeof num, "%.4f", v);
    char *dot = strchr(num, '.');
    if (dot)
        *dot = ',';
    buf_puts(b, num);
}

static void json_key(struct buf *b, const char *key)
{
    buf_json_string(b, key);
    buf_puts(b, ":");
}

static void json_int_or_null(struct buf *b, int64_t v)
{
    if (v > 0)
        buf_putint(b, v);
    else
        buf_puts(b, "null");
}

static void json_text_or_null(struct buf *b, const char *s)
{
    if (s)
        buf_json_string(b, s);
    else
        buf_puts(b, "null");
}

static void iso(struct buf *b, int64_t t, int quoted)
{
    char at[21];
    util_iso8601(t, at);
    if (quoted)
        buf_puts(b, "\"");
    buf_append(b, at, 20);
    if (quoted)
        buf_puts(b, "\"");
}

/* Roles as stored (the employee role always): JSON names, or CSV words separated by spaces
 * (what the HR import reads). */
static void roles_out(struct buf *b, unsigned roles, int csv)
{
    static const struct {
        unsigned bit;
        const char *name;
    } all[] = {{ROLE_EMPLOYEE, "employee"}, {ROLE_MANAGER, "manager"},
               {ROLE_ADVISER, "adviser"},   {ROLE_ADMIN, "admin"}};
    roles |= ROLE_EMPLOYEE;
    int first = 1;
    if (!csv)
        buf_puts(b, "[");
    for (size_t i = 0; i < 4; i++) {
        if (!(roles & all[i].bit))
            continue;
        buf_puts(b, first ? "" : csv ? " " : ",");
        if (csv)
            buf_puts(b, all[i].name);
        else
            buf_json_string(b, all[i].name);
        first = 0;
    }
    if (!csv)
        buf_puts(b, "]");
}

static void row_json(struct buf *b, const struct gap_row *w, int with_id, const char *name)
{
    buf_puts(b, "{");
    if (with_id) {
        buf_puts(b, "\"id\":");
        buf_putint(b, w->id);
        buf_puts(b, ",\"name\":");
        json_text_or_null(b, name);
        buf_puts(b, ",");
    }
    buf_puts(b, "\"employees\":");
    buf_putint(b, w->employees);
    buf_puts(b, ",\"employees_with_gaps\":");
    buf_putint(b, w->employees_with_gaps);
    buf_puts(b, ",\"demanded\":");
    buf_putint(b, w->demanded);
    buf_puts(b, ",\"open_gaps\":");
    buf_putint(b, w->open_gaps);
    buf_puts(b, ",\"unassessed\":");
    buf_putint(b, w->unassessed);
    buf_puts(b, ",\"gap_sum\":");
    buf_putint(b, w->gap_sum);
    buf_printf(b, ",\"coverage\":%.15g}", w->coverage);
}

static const char *class_name(const struct export *x, uint8_t id)
{
    return x->a->rules ? lh_class_name(x->a->rules, id) : NULL;
}

/* --- the phases ---------------------------------------------------------------------------- */

/* Each answers 1 when its rows are all written, 0 when out is full and more remain, -1 on an
 * SQLite error (logged). */

static int step_error(struct export *x, sqlite3_stmt *st, int rc)
{
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    db_log_error(x->a->db, st);
    return -1;
}

static void json_open_list(struct export *x, struct buf *out, const char *key)
{
    if (x->started)
        return;
    x->started = 1;
    buf_puts(out, ",");
    json_key(out, key);
    buf_puts(out, "[");
}

static int phase_head(struct export *x, struct buf *out)
{
    static const char *const headers[] = {
        [EXPORT_EMPLOYEES] = "employee_number;name;email;department_code;department_name;"
                             "position_title;roles;active;profiles;demanded;open_gaps;gap_sum;"
                             "unassessed;coverage",
        [EXPORT_DEPARTMENTS] = "code;name;parent_code;manager_employee_number;manager_name;id;"
                               "parent_id;employees",
        [EXPORT_ASSESSMENTS] = "employee_number;employee_name;system;requirement_id;requirement;"
                               "level;source;recorded_at;recorded_by;note",
        [EXPORT_GAPS] = "employee_number;employee_name;department_code;system;requirement_id;"
                        "requirement;required;actual;gap;class;unassessed;assessed_at",
        [EXPORT_ROLLUPS] = "dimension;id;name;employees;employees_with_gaps;demanded;open_gaps;"
                           "unassessed;gap_sum;coverage",
    };
    if (x->format == EXPORT_CSV) {
        buf_puts(out, "\xEF\xBB\xBF");
        buf_puts(out, headers[x->table]);
        buf_puts(out, "\r\n");
        return 1;
    }
    buf_puts(out, "{\"format\":\"evne-export\",\"version\":1,\"exported_at\":");
    iso(out, util_now(), 1);
    return 1;
}

static int phase_departments(struct export *x, struct buf *out)
{
    int csv = x->format == EXPORT_CSV;
    if (!csv)
        json_open_list(x, out, "departments");
    sqlite3_stmt *st = db_stmt(
        x->a->db, "SELECT d.id, d.code, d.name, d.parent_id, p.code, d.manager_id, "
                  "m.employee_number, m.name, (SELECT count(*) FROM employee e WHERE "
                  "e.department_id = d.id AND e.archived = 0) "
                  "FROM department d LEFT JOIN department p ON p.id = d.parent_id "
                  "LEFT JOIN employee m ON m.id = d.manager_id WHERE d.id > ? ORDER BY d.id "
                  "LIMIT 256");
    sqlite3_bind_int64(st, 1, x->last);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        x->last = sqlite3_column_int64(st, 0);
        if (csv) {
            buf_csv_cell(out, db_text(st, 1));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 2));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 4));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 6));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 7));
            buf_puts(out, ";");
            buf_putint(out, x->last);
            buf_puts(out, ";");
            if (sqlite3_column_type(st, 3) != SQLITE_NULL)
                buf_putint(out, sqlite3_column_int64(st, 3));
            buf_puts(out, ";");
            buf_putint(out, sqlite3_column_int64(st, 8));
            buf_puts(out, "\r\n");
        } else {
            buf_puts(out, x->started++ > 1 ? ",{\"id\":" : "{\"id\":");
            buf_putint(out, x->last);
            buf_puts(out, ",\"code\":");
            json_text_or_null(out, db_text(st, 1));
            buf_puts(out, ",\"name\":");
            buf_json_string(out, db_text(st, 2));
            buf_puts(out, ",\"parent_id\":");
            json_int_or_null(out, sqlite3_column_int64(st, 3));
            buf_puts(out, ",\"parent_code\":");
            json_text_or_null(out, db_text(st, 4));
            buf_puts(out, ",\"manager_id\":");
            json_int_or_null(out, sqlite3_column_int64(st, 5));
            buf_puts(out, ",\"manager_employee_number\":");
            json_text_or_null(out, db_text(st, 6));
            buf_puts(out, ",\"employees\":");
            buf_putint(out, sqlite3_column_int64(st, 8));
            buf_puts(out, "}");
        }
        if (out->len >= EXPORT_PIECE_BYTES)
            break;
    }
    if (step_error(x, st, rc)) {
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW || n == BATCH)
        return 0;
    if (!csv)
        buf_puts(out, "]");
    return 1;
}

/* The catalogue is small: its lists are written whole, as the API shows them. */
static void put_json(struct buf *out, const char *key, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    buf_printf(out, ",\"%s\":", key);
    buf_puts(out, text);
    free(text);
    json_decref(v);
}

static int phase_systems(struct export *x, struct buf *out)
{
    put_json(out, "systems", catalog_system_list(x->a));
    return 1;
}

static int phase_requirements(struct export *x, struct buf *out)
{
    json_t *systems = catalog_system_list(x->a), *all = json_array(), *sys;
    size_t i;
    json_array_foreach(systems, i, sys) {
        json_int_t id = json_integer_value(json_object_get(sys, "id"));
        json_t *reqs = catalog_requirement_list(x->a, id);
        json_array_extend(all, reqs);
        json_decref(reqs);
    }
    json_decref(systems);
    put_json(out, "requirements", all);
    return 1;
}

static int phase_profiles(struct export *x, struct buf *out)
{
    put_json(out, "profiles", catalog_profile_list(x->a));
    return 1;
}

/* One employee's assignments, as JSON ids or CSV names. */
static void employee_profiles(struct export *x, struct buf *out, int64_t id, int csv)
{
    sqlite3_stmt *st = db_stmt(x->a->db, "SELECT p.id, p.name FROM assignment a JOIN profile p "
                                         "ON p.id = a.profile_id WHERE a.employee_id = ? "
                                         "ORDER BY p.name, p.id");
    sqlite3_bind_int64(st, 1, id);
    int n = 0, rc;
    struct buf names = {0};
    if (!csv)
        buf_puts(out, "[");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (csv) {
            buf_puts(&names, n ? ", " : "");
            buf_puts(&names, db_text(st, 1));
        } else {
            buf_puts(out, n ? "," : "");
            buf_putint(out, sqlite3_column_int64(st, 0));
        }
        n++;
    }
    read_end(x, st, rc);
    sqlite3_reset(st);
    if (csv)
        buf_csv_cell(out, names.data ? names.data : "");
    else
        buf_puts(out, "]");
    buf_free(&names);
}

static void employee_assessments_json(struct export *x, struct buf *out, int64_t id)
{
    sqlite3_stmt *st = db_stmt(x->a->db, "SELECT id, requirement_id, level, source, recorded_at, "
                                         "recorded_by, note FROM assessment WHERE employee_id = ? "
                                         "ORDER BY recorded_at, id");
    sqlite3_bind_int64(st, 1, id);
    buf_puts(out, "[");
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        buf_puts(out, n++ ? ",{\"id\":" : "{\"id\":");
        buf_putint(out, sqlite3_column_int64(st, 0));
        buf_puts(out, ",\"requirement_id\":");
        buf_putint(out, sqlite3_column_int64(st, 1));
        buf_puts(out, ",\"level\":");
        buf_putint(out, sqlite3_column_int(st, 2));
        buf_puts(out, ",\"source\":");
        buf_json_string(out, db_text(st, 3));
        buf_puts(out, ",\"recorded_at\":");
        iso(out, sqlite3_column_int64(st, 4), 1);
        buf_puts(out, ",\"recorded_by\":");
        json_int_or_null(out, sqlite3_column_int64(st, 5));
        buf_puts(out, ",\"note\":");
        json_text_or_null(out, db_text(st, 6));
        buf_puts(out, "}");
    }
    read_end(x, st, rc);
    sqlite3_reset(st);
    buf_puts(out, "]");
}

static void employee_gaps_json(struct export *x, struct buf *out, const struct gap_cell *cells,
                               size_t n)
{
    buf_puts(out, "[");
    for (size_t i = 0; i < n; i++) {
        const struct gap_cell *c = &cells[i];
        buf_puts(out, i ? ",{\"requirement_id\":" : "{\"requirement_id\":");
        buf_putint(out, c->requirement_id);
        buf_puts(out, ",\"system_id\":");
        buf_putint(out, c->system_id);
        buf_puts(out, ",\"required\":");
        buf_putint(out, c->required);
        buf_puts(out, ",\"actual\":");
        buf_putint(out, c->actual);
        buf_puts(out, ",\"gap\":");
        buf_putint(out, c->gap);
        buf_puts(out, ",\"class\":");
        json_text_or_null(out, class_name(x, c->class_id));
        buf_puts(out, c->unassessed ? ",\"unassessed\":true,\"assessed_at\":null}"
                                    : ",\"unassessed\":false,\"assessed_at\":");
        if (!c->unassessed) {
            iso(out, c->assessed_at, 1);
            buf_puts(out, "}");
        }
    }
    buf_puts(out, "]");
}

static int phase_employees(struct export *x, struct buf *out)
{
    int csv = x->format == EXPORT_CSV;
    if (!csv)
        json_open_list(x, out, "employees");
    sqlite3_stmt *st = db_stmt(
        x->a->db, "SELECT e.id, e.employee_number, e.name, e.email, e.department_id, d.code, "
                  "d.name, e.position_title, e.roles, e.archived FROM employee e "
                  "JOIN department d ON d.id = e.department_id WHERE e.id > ? ORDER BY e.id "
                  "LIMIT 256");
    sqlite3_bind_int64(st, 1, x->last);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        int64_t id = x->last = sqlite3_column_int64(st, 0);
        int archived = sqlite3_column_int(st, 9);
        struct gap_cell *cells = NULL;
        size_t ncells = 0;
        struct gap_row sum;
        int has_gaps = !archived && gap_employee(x->a->gap, id, &cells, &ncells, &sum) == 0;
        if (csv) {
            for (int col = 1; col <= 3; col++) {
                buf_csv_cell(out, db_text(st, col));
                buf_puts(out, ";");
            }
            buf_csv_cell(out, db_text(st, 5));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 6));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 7));
            buf_puts(out, ";");
            roles_out(out, (unsigned)sqlite3_column_int(st, 8), 1);
            buf_puts(out, archived ? ";0;" : ";1;");
            employee_profiles(x, out, id, 1);
            if (has_gaps) {
                int64_t nums[] = {sum.demanded, sum.open_gaps, sum.gap_sum, sum.unassessed};
                for (size_t k = 0; k < 4; k++) {
                    buf_puts(out, ";");
                    buf_putint(out, nums[k]);
                }
                buf_puts(out, ";");
                csv_fraction(out, sum.coverage);
            } else {
                buf_puts(out, ";;;;;");
            }
            buf_puts(out, "\r\n");
        } else {
            buf_puts(out, x->started++ > 1 ? ",{\"id\":" : "{\"id\":");
            buf_putint(out, id);
            buf_puts(out, ",\"employee_number\":");
            buf_json_string(out, db_text(st, 1));
            buf_puts(out, ",\"name\":");
            buf_json_string(out, db_text(st, 2));
            buf_puts(out, ",\"email\":");
            buf_json_string(out, db_text(st, 3));
            buf_puts(out, ",\"department_id\":");
            buf_putint(out, sqlite3_column_int64(st, 4));
            buf_puts(out, ",\"department_code\":");
            json_text_or_null(out, db_text(st, 5));
            buf_puts(out, ",\"position_title\":");
            buf_json_string(out, db_text(st, 7));
            buf_puts(out, ",\"roles\":");
            roles_out(out, (unsigned)sqlite3_column_int(st, 8), 0);
            buf_puts(out, archived ? ",\"archived\":true" : ",\"archived\":false");
            buf_puts(out, ",\"profile_ids\":");
            employee_profiles(x, out, id, 0);
            buf_puts(out, ",\"assessments\":");
            employee_assessments_json(x, out, id);
            buf_puts(out, ",\"gaps\":");
            employee_gaps_json(x, out, cells, ncells);
            buf_puts(out, ",\"summary\":");
            if (has_gaps)
                row_json(out, &sum, 0, NULL);
            else
                buf_puts(out, "null");
            buf_puts(out, "}");
        }
        free(cells);
        if (out->len >= EXPORT_PIECE_BYTES)
            break;
    }
    if (step_error(x, st, rc)) {
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW || n == BATCH)
        return 0;
    if (!csv)
        buf_puts(out, "]");
    return 1;
}

static int phase_assessments(struct export *x, struct buf *out)
{
    sqlite3_stmt *st = db_stmt(
        x->a->db, "SELECT a.id, e.employee_number, e.name, a.requirement_id, a.level, a.source, "
                  "a.recorded_at, b.employee_number, a.note FROM assessment a "
                  "JOIN employee e ON e.id = a.employee_id LEFT JOIN employee b ON "
                  "b.id = a.recorded_by WHERE a.id > ? ORDER BY a.id LIMIT 256");
    sqlite3_bind_int64(st, 1, x->last);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        x->last = sqlite3_column_int64(st, 0);
        const struct req_info *r = req_of(x, sqlite3_column_int64(st, 3));
        buf_csv_cell(out, db_text(st, 1));
        buf_puts(out, ";");
        buf_csv_cell(out, db_text(st, 2));
        buf_puts(out, ";");
        buf_csv_cell(out, r ? r->system : "");
        buf_puts(out, ";");
        buf_putint(out, sqlite3_column_int64(st, 3));
        buf_puts(out, ";");
        buf_csv_cell(out, r ? r->text : "");
        buf_puts(out, ";");
        buf_putint(out, sqlite3_column_int(st, 4));
        buf_puts(out, ";");
        buf_csv_cell(out, db_text(st, 5));
        buf_puts(out, ";");
        iso(out, sqlite3_column_int64(st, 6), 0);
        buf_puts(out, ";");
        buf_csv_cell(out, db_text(st, 7));
        buf_puts(out, ";");
        buf_csv_cell(out, db_text(st, 8));
        buf_puts(out, "\r\n");
        if (out->len >= EXPORT_PIECE_BYTES)
            break;
    }
    if (step_error(x, st, rc)) {
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || n == BATCH ? 0 : 1;
}

static int phase_gaps(struct export *x, struct buf *out)
{
    sqlite3_stmt *st = db_stmt(
        x->a->db, "SELECT e.id, e.employee_number, e.name, d.code FROM employee e "
                  "JOIN department d ON d.id = e.department_id WHERE e.id > ? AND "
                  "e.archived = 0 ORDER BY e.id LIMIT 256");
    sqlite3_bind_int64(st, 1, x->last);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        int64_t id = x->last = sqlite3_column_int64(st, 0);
        struct gap_cell *cells = NULL;
        size_t ncells = 0;
        if (gap_employee(x->a->gap, id, &cells, &ncells, NULL))
            continue;
        for (size_t i = 0; i < ncells; i++) {
            const struct gap_cell *c = &cells[i];
            const struct req_info *r = req_of(x, c->requirement_id);
            buf_csv_cell(out, db_text(st, 1));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 2));
            buf_puts(out, ";");
            buf_csv_cell(out, db_text(st, 3));
            buf_puts(out, ";");
            buf_csv_cell(out, r ? r->system : "");
            buf_puts(out, ";");
            buf_putint(out, c->requirement_id);
            buf_puts(out, ";");
            buf_csv_cell(out, r ? r->text : "");
            int nums[] = {c->required, c->actual, c->gap};
            for (size_t k = 0; k < 3; k++) {
                buf_puts(out, ";");
                buf_putint(out, nums[k]);
            }
            buf_puts(out, ";");
            buf_csv_cell(out, class_name(x, c->class_id));
            buf_puts(out, c->unassessed ? ";1;" : ";0;");
            if (!c->unassessed)
                iso(out, c->assessed_at, 0);
            buf_puts(out, "\r\n");
        }
        free(cells);
        if (out->len >= EXPORT_PIECE_BYTES)
            break;
    }
    if (step_error(x, st, rc)) {
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || n == BATCH ? 0 : 1;
}

/* One dimension per call: its rows are named by the index, valid until the index changes. */
static int phase_rollups(struct export *x, struct buf *out)
{
    int csv = x->format == EXPORT_CSV;
    if (!csv && x->dim == 0)
        buf_puts(out, ",\"rollups\":{");
    struct gap_row *rows = NULL;
    size_t n = 0;
    gap_rollup(x->a->gap, rollup_dims[x->dim].dim, NULL, &rows, &n);
    if (!csv) {
        buf_puts(out, x->dim ? "," : "");
        json_key(out, rollup_dims[x->dim].name);
        buf_puts(out, "[");
    }
    for (size_t i = 0; i < n; i++) {
        const struct gap_row *w = &rows[i];
        if (csv) {
            buf_puts(out, rollup_dims[x->dim].name);
            buf_puts(out, ";");
            buf_putint(out, w->id);
            buf_puts(out, ";");
            buf_csv_cell(out, w->name);
            int64_t nums[] = {w->employees, w->employees_with_gaps, w->demanded,
                              w->open_gaps, w->unassessed,          w->gap_sum};
            for (size_t k = 0; k < 6; k++) {
                buf_puts(out, ";");
                buf_putint(out, nums[k]);
            }
            buf_puts(out, ";");
            csv_fraction(out, w->coverage);
            buf_puts(out, "\r\n");
        } else {
            buf_puts(out, i ? "," : "");
            row_json(out, w, 1, w->name);
        }
    }
    free(rows);
    if (!csv)
        buf_puts(out, "]");
    if (++x->dim < (int)NDIMS)
        return 0;
    if (!csv)
        buf_puts(out, "}");
    return 1;
}

int export_next(struct export *x, struct buf *out)
{
    if (x->failed)
        return -1;
    size_t start = out->len;
    while (x->phases[x->at] != P_DONE && out->len - start < EXPORT_PIECE_BYTES) {
        int rc = 0;
        switch (x->phases[x->at]) {
        case P_HEAD: rc = phase_head(x, out); break;
        case P_DEPTS: rc = phase_departments(x, out); break;
        case P_SYSTEMS: rc = phase_systems(x, out); break;
        case P_REQS: rc = phase_requirements(x, out); break;
        case P_PROFILES: rc = phase_profiles(x, out); break;
        case P_EMPLOYEES: rc = phase_employees(x, out); break;
        case P_ASSESSMENTS: rc = phase_assessments(x, out); break;
        case P_GAPS: rc = phase_gaps(x, out); break;
        case P_ROLLUPS: rc = phase_rollups(x, out); break;
        case P_TAIL: buf_puts(out, "}\n"); rc = 1; break;
        case P_DONE: break;
        }
        if (rc < 0 || x->failed) {
            x->failed = 1;
            return -1;
        }
        if (rc == 1) {
            x->at++;
            x->last = 0;
            x->started = 0;
        }
    }
    return x->phases[x->at] != P_DONE;
}

/* --- evne export ----------------------------------------------------------------------------- */

const char export_usage[] =
    "usage: evne export --db PATH [--format json|csv] [--table TABLE] [--rules DIR]\n"
    "\n"
    "Writes the organisation's data to stdout for analysis elsewhere: JSON (the default), one\n"
    "document with departments, systems, requirements, profiles, every employee with their\n"
    "profiles, assessments (the whole history), gaps and summary, and the roll-ups by department,\n"
    "profile, system and requirement; or CSV, one TABLE of employees (the default),\n"
    "departments, assessments, gaps or rollups, in UTF-8 with a BOM and semicolons, as Excel in\n"
    "Norway reads it. The gap classes come from the rules in DIR (the folder serve would use).\n"
    "Example: evne export --db evne.db --format csv --table gaps > gaps.csv\n";

int export_main(int argc, char **argv, const char *rules_dir)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"format", required_argument, 0, 'f'},
                                         {"table", required_argument, 0, 't'},
                                         {"rules", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *format = NULL, *table = NULL, *rules = rules_dir;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 'f': format = optarg; break;
        case 't': table = optarg; break;
        case 'r': rules = optarg; break;
        default:
            fprintf(stderr, "evne: unknown or incomplete option '%s'\n\n%s", argv[optind - 1],
                    export_usage);
            return 2;
        }
    }
    if (!path || optind < argc) {
        fprintf(stderr, "evne: %s\n\n%s", path ? "unexpected argument" : "--db is needed",
                export_usage);
        return 2;
    }
    enum export_format f;
    enum export_table t;
    const char *field, *why;
    if (export_parse(format, table, &f, &t, &field, &why)) {
        fprintf(stderr, "evne: --%s: %s\n", field, why);
        return 2;
    }
    struct app *a;
    char *err = NULL;
    struct app_config cfg = {.db_path = path, .rules_dir = rules};
    if (app_open(&cfg, &a, &err)) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        return 1;
    }
    struct export *x = export_new(a, f, t);
    struct buf b = {0};
    int rc;
    do {
        b.len = 0;
        rc = export_next(x, &b);
        if (b.len && fwrite(b.data, 1, b.len, stdout) != b.len) {
            fprintf(stderr, "evne: cannot write the export\n");
            rc = -1;
        }
    } while (rc == 1);
    buf_free(&b);
    export_free(x);
    app_close(a);
    if (rc < 0 || fflush(stdout)) {
        fprintf(stderr, "evne: the export failed; see above\n");
        return 1;
    }
    return 0;
}
