/* The admin's pages: users (employees, their roles and logins) and departments (the tree and its
 * managers). Every write goes through org.h, which validates and stores nothing on a failure;
 * its derr.field puts the message next to the field it names. A password is hashed off the loop
 * (as api_org.c does) before the write. Admin only; loop thread only.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "http.h"
#include "org.h"
#include "router.h"
#include "util.h"
#include "web.h"

#define USERS_PER_PAGE 100
#define MANAGER_CHOICES 100   /* a select longer than this is no use; the search narrows it */
#define SEARCH_MAX 100

/* --- small helpers ------------------------------------------------------------------------ */

/* A form's id field: 0 for empty or absent (no choice), the id, or -1 when it is not one. */
static int64_t form_id(const struct form *f, const char *key)
{
    const char *s = form_get(f, key);
    int64_t id;
    if (!s || !*s)
        return 0;
    return util_parse_i64(s, &id) == 0 && id > 0 ? id : -1;
}

/* A JSON string of text a request sent (a query need not be UTF-8; a form is, see web.c). */
static json_t *jtext(const char *s)
{
    char *c = util_utf8_clean(xstrdup(s ? s : ""));
    json_t *j = json_string(c);
    free(c);
    return j;
}

/* The form's value with surrounding blanks dropped, owned ("" when absent). */
static char *form_trimmed(const struct form *f, const char *key)
{
    const char *s = form_get(f, key);
    if (!s)
        return xstrdup("");
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    char *out = xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* body[key] = the form's trimmed text (web.c let only UTF-8 through). */
static void set_trimmed(json_t *body, const struct form *f, const char *key)
{
    char *v = form_trimmed(f, key);
    json_object_set_new(body, key, json_string(v));
    free(v);
}

/* "%q%" for LIKE ... ESCAPE '\', owned; q at most SEARCH_MAX bytes are used. */
static char *like_pattern(const char *q)
{
    struct buf b = {0};
    buf_puts(&b, "%");
    for (size_t i = 0; q[i] && i < SEARCH_MAX; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            buf_puts(&b, "\\");
        buf_append(&b, &q[i], 1);
    }
    buf_puts(&b, "%");
    return buf_steal(&b);
}

/* A search box's text (?name=), owned, "" when absent. */
static char *query_text(struct api_req *r, const char *name)
{
    char *q = http_query_param(r->http, name);
    if (!q)
        return xstrdup("");
    size_t n = strlen(q);
    if (n > SEARCH_MAX) {
        n = SEARCH_MAX;
        while (n && ((unsigned char)q[n] & 0xc0) == 0x80)   /* not inside a character */
            n--;
        q[n] = '\0';
    }
    char *clean = util_utf8_clean(xstrdup(q));
    free(q);
    return clean;
}

/* The flash a redirect asked for with ?done=, as a locale key, or JSON false. */
static json_t *flash_of(struct api_req *r)
{
    static const char *const known[][2] = {
        {"created", "admin.flash.created"},  {"saved", "admin.flash.saved"},
        {"dept_created", "admin.flash.dept_created"}, {"dept_saved", "admin.flash.dept_saved"},
        {"dept_deleted", "admin.flash.dept_deleted"},
    };
    char *done = http_query_param(r->http, "done");
    json_t *flash = json_false();
    for (size_t i = 0; done && i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(done, known[i][0])) {
            json_decref(flash);
            flash = json_string(known[i][1]);
        }
    free(done);
    return flash;
}

/* Something went wrong beneath a form: no form can show it. */
static void internal(struct api_req *r, const struct derr *e, const char *what)
{
    fprintf(stderr, "evne: admin page: %s: %s\n", what, e->message);
    page_error(r, e->status >= 500 ? e->status : 500, "error.internal");
}

/* --- the department tree ------------------------------------------------------------------ */

struct dept {
    int64_t id, parent, manager;   /* 0: none */
    char *name, *manager_name;     /* owned; manager_name NULL when none */
    int64_t employees;             /* active ones in its subtree (after depts_count) */
    int64_t own;                   /* active ones directly in it (after depts_count) */
    long first, next;              /* its first child and its next sibling, in name order; -1 */
};

struct depts {
    struct dept *d;                /* in name order */
    size_t n;
    struct dept **by_id;           /* the same, in id order */
    long first;                    /* the first top department; -1 */
};

static int by_id(const void *x, const void *y)
{
    int64_t a = (*(struct dept *const *)x)->id, b = (*(struct dept *const *)y)->id;
    return a < b ? -1 : a > b;
}

static struct dept *dept_find(const struct depts *ds, int64_t id)
{
    struct dept key = {.id = id}, *k = &key;
    struct dept **found = ds->n ? bsearch(&k, ds->by_id, ds->n, sizeof *ds->by_id, by_id) : NULL;
    return found ? *found : NULL;
}

/* Every department with its manager's name, linked into a tree in name order. A department
 * whose parent is missing stands at the top. */
static void depts_load(struct app *a, struct depts *ds)
{
    sqlite3_stmt *st = db_stmt(a->db,
                               "SELECT d.id, d.name, d.parent_id, d.manager_id, m.name "
                               "FROM department d LEFT JOIN employee m ON m.id = d.manager_id "
                               "ORDER BY d.name, d.id");
    size_t cap = 32;
    *ds = (struct depts){.d = xmalloc(cap * sizeof *ds->d), .first = -1};
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (ds->n == cap)
            ds->d = xrealloc(ds->d, (cap *= 2) * sizeof *ds->d);
        const char *mname = db_text(st, 4);
        ds->d[ds->n++] = (struct dept){
            .id = sqlite3_column_int64(st, 0),
            .name = xstrdup(db_text(st, 1) ? db_text(st, 1) : ""),
            .parent = sqlite3_column_int64(st, 2),   /* NULL reads as 0 */
            .manager = sqlite3_column_int64(st, 3),
            .manager_name = mname ? xstrdup(mname) : NULL,
            .first = -1,
            .next = -1,
        };
    }
    sqlite3_reset(st);
    ds->by_id = xmalloc((ds->n ? ds->n : 1) * sizeof *ds->by_id);
    for (size_t i = 0; i < ds->n; i++)
        ds->by_id[i] = &ds->d[i];
    util_sort(ds->by_id, ds->n, sizeof *ds->by_id, by_id);
    /* backwards, so that each list of children comes out in name order */
    for (size_t i = ds->n; i-- > 0;) {
        struct dept *p = ds->d[i].parent ? dept_find(ds, ds->d[i].parent) : NULL;
        long *head = p && p != &ds->d[i] ? &p->first : &ds->first;
        ds->d[i].next = *head;
        *head = (long)i;
    }
}

static void depts_free(struct depts *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->d[i].name);
        free(ds->d[i].manager_name);
    }
    free(ds->d);
    free(ds->by_id);
}

/* Each department's active employees, from the gap index (no scan of the employees): its
 * head counts are summed up the tree; a department's own are its sum less its children's. */
static void depts_count(struct app *a, struct depts *ds)
{
    struct gap_row *rows;
    size_t n;
    gap_rollup(a->gap, GAP_BY_DEPARTMENT, NULL, &rows, &n);
    for (size_t k = 0; k < n; k++) {
        struct dept *d = dept_find(ds, rows[k].id);
        if (d)
            d->employees = d->own = rows[k].employees;
    }
    free(rows);
    for (size_t i = 0; i < ds->n; i++)
        for (long c = ds->d[i].first; c >= 0; c = ds->d[c].next)
            ds->d[i].own -= ds->d[c].employees;
}

static int64_t dept_children(const struct dept *d, const struct depts *ds)
{
    int64_t n = 0;
    for (long c = d->first; c >= 0; c = ds->d[c].next)
        n++;
    return n;
}

static json_t *dept_item(const struct dept *d, int depth, int full)
{
    json_t *o = json_pack("{s:I, s:s, s:i}", "id", (json_int_t)d->id, "name", d->name, "depth",
                          depth);
    if (full) {
        json_object_set_new(o, "manager",
                            d->manager_name ? json_pack("{s:I, s:s}", "id", (json_int_t)d->manager,
                                                        "name", d->manager_name)
                                            : json_false());
        json_object_set_new(o, "employees", json_integer(d->own));
    }
    return o;
}

/* Depth first from the list starting at index first, leaving out skip's subtree. */
static void depts_walk(const struct depts *ds, long first, int depth, int64_t skip, int full,
                       json_t *out)
{
    for (long i = first; i >= 0; i = ds->d[i].next) {
        const struct dept *d = &ds->d[i];
        if (d->id == skip)
            continue;
        json_array_append_new(out, dept_item(d, depth, full));
        depts_walk(ds, d->first, depth + 1, skip, full, out);
    }
}

/* The tree as a list in reading order, each department with its depth (0 for a top one).
 * full: with manager and head count (after depts_count). skip (0: none): a department left out
 * with everything below it, as the choices of a new parent for it. */
static json_t *depts_tree(const struct depts *ds, int64_t skip, int full)
{
    json_t *out = json_array();
    depts_walk(ds, ds->first, 0, skip, full, out);
    return out;
}

/* The departments an employee form offers, in tree order. */
static json_t *department_choices(struct app *a)
{
    struct depts ds;
    depts_load(a, &ds);
    json_t *out = depts_tree(&ds, 0, 0);
    depts_free(&ds);
    return out;
}

/* --- users: the list and the new employee --------------------------------------------------- */

/* What an employee form shows: the typed values when given, else the stored ones (stored may be
 * NULL for a new employee). Owned. */
static json_t *user_form_values(const struct form *typed, const json_t *stored)
{
    json_t *roles = json_object();
    json_t *o = json_object();
    if (typed) {
        static const char *const keys[] = {"employee_number", "name", "email", "login"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            json_object_set_new(o, keys[i], jtext(form_get(typed, keys[i])));
        int64_t dept = form_id(typed, "department_id");
        json_object_set_new(o, "department_id", json_integer(dept > 0 ? dept : 0));
        for (size_t i = 0; i < form_size(typed); i++)
            if (!strcmp(form_key(typed, i), "roles"))
                json_object_set_new(roles, form_value(typed, i), json_true());
        json_object_set_new(o, "archived", json_boolean(form_get(typed, "archived") != NULL));
    } else if (stored) {
        static const char *const keys[] = {"employee_number", "name", "email"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            json_object_set(o, keys[i], json_object_get(stored, keys[i]));
        const char *login = json_string_value(json_object_get(stored, "login"));
        json_object_set_new(o, "login", json_string(login ? login : ""));
        json_object_set(o, "department_id", json_object_get(stored, "department_id"));
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(stored, "roles"), i, v)
            json_object_set_new(roles, json_string_value(v), json_true());
        json_object_set(o, "archived", json_object_get(stored, "archived"));
    } else {
        static const char *const keys[] = {"employee_number", "name", "email", "login"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            json_object_set_new(o, keys[i], json_string(""));
        json_object_set_new(o, "department_id", json_integer(0));
        json_object_set_new(o, "archived", json_false());
    }
    json_object_set_new(roles, "employee", json_true());   /* everyone is one */
    json_object_set_new(o, "roles", roles);
    return o;
}

/* The users page; errors (consumed, may be NULL) and typed (may be NULL) belong to the form for
 * a new employee when it comes back. */
static void users_page(struct api_req *r, int status, json_t *errors, const struct form *typed)
{
    char *q = query_text(r, "q"), *page_s = http_query_param(r->http, "page");
    char *pattern = like_pattern(q);
    int64_t page = 1, total = 0;
    if (page_s && (util_parse_i64(page_s, &page) || page < 1))
        page = 1;
    free(page_s);

    sqlite3_stmt *st = db_stmt(r->app->db, "SELECT count(*) FROM employee e"
                                           " WHERE ?1 = '' OR e.name LIKE ?2 ESCAPE '\\' "
                                           "OR e.employee_number LIKE ?2 ESCAPE '\\' "
                                           "OR e.login LIKE ?2 ESCAPE '\\'");
    sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, pattern, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    int64_t pages = total ? (total + USERS_PER_PAGE - 1) / USERS_PER_PAGE : 1;
    if (page > pages)
        page = pages;

    json_t *users = json_array();
    /* The page's ids are sorted alone, and only its rows read: sorting whole rows of every
     * employee costs more than the rest of the page. */
    st = db_stmt(r->app->db,
                 "SELECT e.id, e.employee_number, e.name, d.name, e.roles, e.login, e.archived, "
                 "EXISTS (SELECT 1 FROM department m WHERE m.manager_id = e.id) "
                 "FROM (SELECT id FROM employee e"
                 " WHERE ?1 = '' OR e.name LIKE ?2 ESCAPE '\\' "
                 "OR e.employee_number LIKE ?2 ESCAPE '\\' OR e.login LIKE ?2 ESCAPE '\\' "
                 "ORDER BY e.name, e.id LIMIT ?3 OFFSET ?4) page "
                 "JOIN employee e ON e.id = page.id "
                 "LEFT JOIN department d ON d.id = e.department_id ORDER BY e.name, e.id");
    sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, pattern, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, USERS_PER_PAGE);
    sqlite3_bind_int64(st, 4, (page - 1) * USERS_PER_PAGE);
    while (sqlite3_step(st) == SQLITE_ROW) {
        unsigned roles = (unsigned)sqlite3_column_int(st, 4) | ROLE_EMPLOYEE;
        if (sqlite3_column_int(st, 7))
            roles |= ROLE_MANAGER;
        const char *dept = db_text(st, 3), *login = db_text(st, 5);
        json_array_append_new(
            users, json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:b}", "id",
                             (json_int_t)sqlite3_column_int64(st, 0), "employee_number",
                             db_text(st, 1), "name", db_text(st, 2), "department",
                             dept ? dept : "", "roles", auth_roles_json(roles), "login",
                             login ? json_string(login) : json_false(), "archived",
                             sqlite3_column_int(st, 6)));
    }
    sqlite3_reset(st);
    free(pattern);

    if (!errors)
        errors = json_object();
    json_t *data = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "title", "admin.users.title",
        "q", q, "page", (json_int_t)page, "pages", (json_int_t)pages, "total", (json_int_t)total,
        "first", (json_int_t)(total ? (page - 1) * USERS_PER_PAGE + 1 : 0), "users", users,
        "departments", department_choices(r->app), "form", user_form_values(typed, NULL),
        "errors", errors, "flash", flash_of(r));
    free(q);
    page_render(r, status, "admin_users.html", data);
}

static void users_get(struct api_req *r) { users_page(r, 200, NULL, NULL); }

/* The edit page of one employee; errors (consumed, may be NULL) and typed (may be NULL) when the
 * form comes back. */
static void user_page(struct api_req *r, int status, json_t *errors, const struct form *typed)
{
    json_t *stored = org_employee_json(r->app, r->id);
    if (!stored) {
        json_decref(errors);
        page_error(r, 404, "error.not_found");
        return;
    }
    /* the departments this employee manages, for the hint beside the roles */
    json_t *managed = json_array();
    sqlite3_stmt *st =
        db_stmt(r->app->db, "SELECT id, name FROM department WHERE manager_id = ? ORDER BY name");
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(managed, json_pack("{s:I, s:s}", "id",
                                                 (json_int_t)sqlite3_column_int64(st, 0), "name",
                                                 db_text(st, 1)));
    sqlite3_reset(st);
    json_t *data = json_pack("{s:s, s:O, s:o, s:o, s:o, s:o, s:o}", "title", "admin.user.title",
                             "employee", stored, "managed", managed, "departments",
                             department_choices(r->app), "form", user_form_values(typed, stored),
                             "errors", errors ? errors : json_object(), "flash", flash_of(r));
    json_decref(stored);
    page_render(r, status, "admin_user.html", data);
}

static void user_get(struct api_req *r) { user_page(r, 200, NULL, NULL); }

/* The message key for a refusal of org_employee_*, or NULL when no field of the form is at
 * fault. */
static const char *employee_error_key(const struct derr *e)
{
    int clash = e->status == 409;
    const char *f = e->field;
    if (!strcmp(f, "employee_number"))
        return clash ? "admin.err.number_taken" : "admin.err.number";
    if (!strcmp(f, "login"))
        return clash ? "admin.err.login_taken" : "admin.err.login";
    if (!strcmp(f, "name"))
        return "admin.err.name";
    if (!strcmp(f, "email"))
        return "admin.err.email";
    if (!strcmp(f, "department_id"))
        return "admin.err.department";
    if (!strcmp(f, "roles"))
        return "admin.err.roles";
    if (!strcmp(f, "password") && e->status < 500)
        return "admin.err.password";
    return NULL;
}

/* Shows the employee form again with the domain's refusal next to its field. */
static void user_refused(struct api_req *r, const struct derr *e)
{
    const char *key = employee_error_key(e);
    if (e->status == 404 && r->id) {
        page_error(r, 404, "error.not_found");
        return;
    }
    if (!key || e->status >= 500) {
        internal(r, e, r->id ? "saving an employee" : "adding an employee");
        return;
    }
    json_t *errors = json_pack("{s:s}", e->field, key);
    if (r->id)
        user_page(r, e->status, errors, r->form);
    else
        users_page(r, e->status, errors, r->form);
}

/* A write with a new password: the hash is made off the loop, then the write runs on it. */
struct user_work {
    json_t *body;      /* what the form asks for; owned */
    char *password;    /* owned; NULL: no new password */
    char *hash;        /* owned; made by user_hash */
};

static void user_work_free(struct user_work *w)
{
    json_decref(w->body);
    if (w->password) {
        sodium_memzero(w->password, strlen(w->password));
        free(w->password);
    }
    free(w->hash);
    free(w);
}

static void user_hash(void *arg)
{
    struct api_req *r = arg;
    struct user_work *w = r->work;
    if (auth_password_hash(w->password, &w->hash))
        w->hash = NULL;
}

static void user_write(void *arg, int status)
{
    struct api_req *r = arg;
    struct user_work *w = r->work;
    r->work = NULL;
    struct derr e;
    int64_t id = r->id;
    int rc;
    if (w->password && (status || !w->hash))
        rc = derr(&e, 500, "internal", "password", "the password could not be hashed");
    else if (r->id)
        rc = org_employee_update(r->app, r->id, w->body, w->hash, &e);
    else
        rc = org_employee_create(r->app, w->body, w->hash, &id, &e);
    int new_password = w->hash != NULL;
    user_work_free(w);
    if (rc) {
        user_refused(r, &e);
        return;
    }
    /* roles, logins and archiving change who may do what: cached sessions are checked again */
    r->app->generation++;
    char *to = xasprintf("/admin/users/%lld?done=%s", (long long)id, r->id ? "saved" : "created");
    char token[AUTH_TOKEN_HEX + 1];
    if (r->id && r->id == r->who.employee_id && new_password) {
        /* A new password ends every session of its owner; this one goes on with a new token. */
        if (db_begin(r->app->db) || auth_token_create(r->app->db, id, token) ||
            db_commit(r->app->db)) {
            db_rollback(r->app->db);
            page_redirect(r, "/login");
        } else {
            char cookie[256];
            snprintf(cookie, sizeof cookie,
                     "Set-Cookie: " WEB_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; "
                     "SameSite=Lax%s\r\n", token, AUTH_TOKEN_SECONDS,
                     r->app->secure_cookies ? "; Secure" : "");
            page_redirect_with(r, to, cookie);
        }
    } else {
        page_redirect(r, to);
    }
    free(to);
}

/* Reads the employee form into the body org_employee_* takes. Refusals the form can see before
 * the domain does go into errors (field -> key). */
static json_t *user_body(struct api_req *r, json_t *errors)
{
    json_t *body = json_object();
    set_trimmed(body, r->form, "employee_number");
    set_trimmed(body, r->form, "name");
    set_trimmed(body, r->form, "email");
    int64_t dept = form_id(r->form, "department_id");
    if (dept <= 0)
        json_object_set_new(errors, "department_id", json_string("admin.err.department"));
    else
        json_object_set_new(body, "department_id", json_integer(dept));

    /* Roles come from the checkboxes; manager is not one of them: it follows from managing a
     * department. A stored manager role the form never showed is kept. */
    json_t *roles = json_array();
    int admin = 0;
    for (size_t i = 0; i < form_size(r->form); i++) {
        if (strcmp(form_key(r->form, i), "roles"))
            continue;
        const char *v = form_value(r->form, i);
        if (strcmp(v, "employee") && strcmp(v, "adviser") && strcmp(v, "admin"))
            json_object_set_new(errors, "roles", json_string("admin.err.roles"));
        else if (strcmp(v, "employee"))
            json_array_append_new(roles, json_string(v));
        admin |= !strcmp(v, "admin");
    }
    if (r->id) {
        sqlite3_stmt *st = db_stmt(r->app->db, "SELECT roles FROM employee WHERE id = ?");
        sqlite3_bind_int64(st, 1, r->id);
        if (sqlite3_step(st) == SQLITE_ROW && (sqlite3_column_int(st, 0) & ROLE_MANAGER))
            json_array_append_new(roles, json_string("manager"));
        sqlite3_reset(st);
    }
    json_object_set_new(body, "roles", roles);

    char *login = form_trimmed(r->form, "login");
    if (*login)
        json_object_set_new(body, "login", json_string(login));
    else if (r->id)
        json_object_set_new(body, "login", json_null());   /* an emptied login is taken away */
    free(login);

    if (r->id) {
        int archived = form_get(r->form, "archived") != NULL;
        json_object_set_new(body, "archived", json_boolean(archived));
        /* An admin cannot lock themselves out. */
        if (r->id == r->who.employee_id && !admin)
            json_object_set_new(errors, "roles", json_string("admin.err.own_admin"));
        if (r->id == r->who.employee_id && archived)
            json_object_set_new(errors, "archived", json_string("admin.err.own_archive"));
    }

    const char *password = form_get(r->form, "password");
    struct derr e;
    if (password && *password && org_password_check(password, &e))
        json_object_set_new(errors, "password", json_string("admin.err.password"));
    return body;
}

static void user_save(struct api_req *r)
{
    if (r->id && org_employee_department(r->app, r->id) < 0) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *errors = json_object();
    json_t *body = user_body(r, errors);
    if (json_object_size(errors)) {
        json_decref(body);
        if (r->id)
            user_page(r, 422, errors, r->form);
        else
            users_page(r, 422, errors, r->form);
        return;
    }
    json_decref(errors);
    struct user_work *w = xcalloc(1, sizeof *w);
    w->body = body;
    const char *password = form_get(r->form, "password");
    r->work = w;
    if (!password || !*password) {
        user_write(r, 0);
        return;
    }
    w->password = xstrdup(password);
    app_defer(r->app, user_hash, user_write, r);
}

/* --- departments ---------------------------------------------------------------------------- */

/* Active employees to choose a manager from, `keep` (0: none) always among them: those matching
 * q; without q everybody while they are few, else only the people of department `home` (none
 * for a new department), for a list of thousands helps nobody and costs a sort of them all.
 * *more is set when not everyone who could be chosen is listed. Owned. */
static json_t *manager_choices(struct app *a, const char *q, int64_t home, int64_t keep, int *more)
{
    json_t *out = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT count(*) FROM employee WHERE archived = 0");
    int64_t active = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    char *pattern = NULL;
    if (*q || active <= MANAGER_CHOICES) {
        pattern = like_pattern(q);
        st = db_stmt(a->db,
                     "SELECT id, name, employee_number FROM employee WHERE archived = 0 AND "
                     "(?1 = '' OR name LIKE ?2 ESCAPE '\\' OR employee_number LIKE ?2 ESCAPE '\\' "
                     "OR login LIKE ?2 ESCAPE '\\') "
                     "ORDER BY department_id = ?3 DESC, name, id LIMIT ?4");
        sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, pattern, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, home);
        sqlite3_bind_int(st, 4, MANAGER_CHOICES + 1);
        *more = 0;
    } else {
        st = db_stmt(a->db, "SELECT id, name, employee_number FROM employee "
                            "WHERE department_id = ?1 AND archived = 0 ORDER BY name, id LIMIT ?2");
        sqlite3_bind_int64(st, 1, home);
        sqlite3_bind_int(st, 2, MANAGER_CHOICES + 1);
        *more = 1;
    }
    int n = 0, kept = keep <= 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (++n > MANAGER_CHOICES) {
            *more = 1;
            break;
        }
        int64_t id = sqlite3_column_int64(st, 0);
        kept |= id == keep;
        json_array_append_new(out, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name",
                                             db_text(st, 1), "employee_number", db_text(st, 2)));
    }
    sqlite3_reset(st);
    free(pattern);
    if (!kept) {
        json_t *e = org_employee_json(a, keep);
        if (e)
            json_array_insert_new(out, 0, json_pack("{s:I, s:O, s:O}", "id", (json_int_t)keep,
                                                    "name", json_object_get(e, "name"),
                                                    "employee_number",
                                                    json_object_get(e, "employee_number")));
        json_decref(e);
    }
    return out;
}

/* The department form's values: typed ones when it comes back, else the stored ones. */
static json_t *dept_form_values(const struct form *typed, const struct dept *stored)
{
    if (typed) {
        int64_t parent = form_id(typed, "parent_id"), manager = form_id(typed, "manager_id");
        return json_pack("{s:o, s:I, s:I}", "name", jtext(form_get(typed, "name")), "parent_id",
                         (json_int_t)(parent > 0 ? parent : 0), "manager_id",
                         (json_int_t)(manager > 0 ? manager : 0));
    }
    return json_pack("{s:s, s:I, s:I}", "name", stored ? stored->name : "", "parent_id",
                     (json_int_t)(stored ? stored->parent : 0), "manager_id",
                     (json_int_t)(stored ? stored->manager : 0));
}

/* The tree and the form for a new department. */
static void depts_page(struct api_req *r, int status, json_t *errors, const struct form *typed)
{
    struct depts ds;
    depts_load(r->app, &ds);
    depts_count(r->app, &ds);
    char *mq = query_text(r, "mq");
    json_t *form = dept_form_values(typed, NULL);
    int more;
    json_t *managers = manager_choices(
        r->app, mq, 0, json_integer_value(json_object_get(form, "manager_id")), &more);
    json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:b, s:s, s:o, s:o, s:o}", "title",
                             "admin.depts.title", "tree", depts_tree(&ds, 0, 1), "parents",
                             depts_tree(&ds, 0, 0), "managers", managers, "managers_more", more,
                             "mq", mq, "form", form, "errors", errors ? errors : json_object(),
                             "flash", flash_of(r));
    free(mq);
    depts_free(&ds);
    page_render(r, status, "admin_departments.html", data);
}

static void depts_get(struct api_req *r) { depts_page(r, 200, NULL, NULL); }

/* One department's page. errors (consumed, may be NULL) and typed (may be NULL) belong to its
 * form when it comes back; refusal (may be NULL) is why a delete was refused. */
static void dept_page(struct api_req *r, int status, json_t *errors, const struct form *typed,
                      const char *refusal)
{
    struct depts ds;
    depts_load(r->app, &ds);
    depts_count(r->app, &ds);
    const struct dept *d = dept_find(&ds, r->id);
    if (!d) {
        depts_free(&ds);
        json_decref(errors);
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *form = dept_form_values(typed, d);
    /* a new parent can be anything but itself and what is below it; a choice from a stale or
     * crafted form stays visible beside its error */
    json_t *parents = depts_tree(&ds, d->id, 0);
    int64_t chosen = json_integer_value(json_object_get(form, "parent_id"));
    size_t i;
    json_t *p;
    int offered = chosen == 0;
    json_array_foreach(parents, i, p)
        offered |= json_integer_value(json_object_get(p, "id")) == chosen;
    const struct dept *cd = offered ? NULL : dept_find(&ds, chosen);
    if (cd)
        json_array_append_new(parents, dept_item(cd, 0, 0));
    char *mq = query_text(r, "mq");
    int more;
    json_t *managers = manager_choices(
        r->app, mq, d->id, json_integer_value(json_object_get(form, "manager_id")), &more);
    const struct dept *parent = d->parent ? dept_find(&ds, d->parent) : NULL;
    json_t *data = json_pack(
        "{s:s, s:{s:I, s:s, s:o, s:o, s:I, s:I}, s:o, s:o, s:b, s:s, s:o, s:o, s:o, s:o}",
        "title", "admin.dept.title", "dept", "id", (json_int_t)d->id, "name", d->name, "parent",
        parent ? json_pack("{s:I, s:s}", "id", (json_int_t)parent->id, "name", parent->name)
               : json_false(),
        "manager",
        d->manager_name
            ? json_pack("{s:I, s:s}", "id", (json_int_t)d->manager, "name", d->manager_name)
            : json_false(),
        "employees", (json_int_t)d->own, "children", (json_int_t)dept_children(d, &ds),
        "parents", parents, "managers", managers, "managers_more", more, "mq", mq, "form", form,
        "errors", errors ? errors : json_object(), "refusal",
        refusal ? json_string(refusal) : json_false(), "flash", flash_of(r));
    free(mq);
    depts_free(&ds);
    page_render(r, status, "admin_department.html", data);
}

static void dept_get(struct api_req *r) { dept_page(r, 200, NULL, NULL, NULL); }

/* Reads the department form into the body org_department_* takes; errors as in user_body. */
static json_t *dept_body(struct api_req *r, json_t *errors)
{
    json_t *body = json_object();
    set_trimmed(body, r->form, "name");
    /* an empty choice is "none"; a field the request left out stays as it is */
    static const char *const fields[][2] = {{"parent_id", "admin.err.parent"},
                                            {"manager_id", "admin.err.manager"}};
    for (size_t i = 0; i < 2; i++) {
        int64_t id = form_id(r->form, fields[i][0]);
        if (id < 0)
            json_object_set_new(errors, fields[i][0], json_string(fields[i][1]));
        else if (form_get(r->form, fields[i][0]))
            json_object_set_new(body, fields[i][0], id ? json_integer(id) : json_null());
    }
    return body;
}

static const char *dept_error_key(struct api_req *r, const struct derr *e, const json_t *body)
{
    if (!strcmp(e->field, "name"))
        return "admin.err.dept_name";
    if (!strcmp(e->field, "manager_id"))
        return "admin.err.manager";
    if (!strcmp(e->field, "parent_id")) {
        /* refused for a parent that exists: the move would make a cycle */
        int64_t parent = json_integer_value(json_object_get(body, "parent_id"));
        int exists = parent > 0 &&
                     dom_exists(r->app->db, "SELECT 1 FROM department WHERE id = ?", parent);
        return r->id && exists ? "admin.err.cycle" : "admin.err.parent";
    }
    return NULL;
}

static void dept_save(struct api_req *r)
{
    json_t *errors = json_object();
    json_t *body = dept_body(r, errors);
    struct derr e;
    int64_t id = r->id;
    int rc = 0;
    if (!json_object_size(errors))
        rc = r->id ? org_department_update(r->app, r->id, body, &e)
                   : org_department_create(r->app, body, &id, &e);
    if (rc) {
        const char *key = dept_error_key(r, &e, body);
        if (e.status == 404 && r->id) {
            json_decref(body);
            json_decref(errors);
            page_error(r, 404, "error.not_found");
            return;
        }
        if (!key || e.status >= 500) {
            json_decref(body);
            json_decref(errors);
            internal(r, &e, "saving a department");
            return;
        }
        json_object_set_new(errors, e.field, json_string(key));
    }
    json_decref(body);
    if (json_object_size(errors)) {
        int status = rc ? e.status : 422;
        if (r->id)
            dept_page(r, status, errors, r->form, NULL);
        else
            depts_page(r, status, errors, r->form);
        return;
    }
    json_decref(errors);
    /* who manages what decides who sees whom: cached sessions are checked again */
    r->app->generation++;
    char *to = r->id ? xasprintf("/admin/departments/%lld?done=dept_saved", (long long)id)
                     : xasprintf("/admin/departments?done=dept_created#d%lld", (long long)id);
    page_redirect(r, to);
    free(to);
}

static void dept_delete(struct api_req *r)
{
    struct derr e;
    if (org_department_delete(r->app, r->id, &e)) {
        if (e.status == 404)
            page_error(r, 404, "error.not_found");
        else if (e.status == 409)
            dept_page(r, 409, NULL, NULL,
                      !strcmp(e.code, "has_history") ? "admin.err.delete_employees"
                                                     : "admin.err.delete_children");
        else
            internal(r, &e, "deleting a department");
        return;
    }
    r->app->generation++;
    page_redirect(r, "/admin/departments?done=dept_deleted");
}

static void admin_home(struct api_req *r) { page_redirect(r, "/admin/users"); }

const struct route page_admin_routes[] = {
    {"GET", "/admin", admin_home, ROLE_ADMIN},
    {"GET", "/admin/users", users_get, ROLE_ADMIN},
    {"POST", "/admin/users", user_save, ROLE_ADMIN},
    {"GET", "/admin/users/{id}", user_get, ROLE_ADMIN},
    {"POST", "/admin/users/{id}", user_save, ROLE_ADMIN},
    {"GET", "/admin/departments", depts_get, ROLE_ADMIN},
    {"POST", "/admin/departments", dept_save, ROLE_ADMIN},
    {"GET", "/admin/departments/{id}", dept_get, ROLE_ADMIN},
    {"POST", "/admin/departments/{id}", dept_save, ROLE_ADMIN},
    {"POST", "/admin/departments/{id}/delete", dept_delete, ROLE_ADMIN},
};
const size_t page_admin_nroutes = sizeof page_admin_routes / sizeof page_admin_routes[0];
