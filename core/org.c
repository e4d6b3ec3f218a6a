#include "org.h"

#include <string.h>

#include "app.h"
#include "auth.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "util.h"

#define NAME_MAX_BYTES 200

static const char SQL_DEPT_EXISTS[] = "SELECT 1 FROM department WHERE id = ?";
static const char SQL_EMP_ACTIVE[] = "SELECT 1 FROM employee WHERE id = ? AND archived = 0";

static void bind_id_or_null(sqlite3_stmt *st, int col, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(st, col, id);
    else
        sqlite3_bind_null(st, col);
}

json_t *org_department_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(a->db, "SELECT id, name, parent_id, manager_id FROM department WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        o = json_pack("{s:I, s:s, s:o, s:o}", "id", (json_int_t)id, "name", db_text(st, 1),
                      "parent_id",
                      sqlite3_column_type(st, 2) == SQLITE_NULL
                          ? json_null() : json_integer(sqlite3_column_int64(st, 2)),
                      "manager_id",
                      sqlite3_column_type(st, 3) == SQLITE_NULL
                          ? json_null() : json_integer(sqlite3_column_int64(st, 3)));
    }
    sqlite3_reset(st);
    return o;
}

json_t *org_department_list(struct app *a)
{
    json_t *items = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id FROM department ORDER BY id");
    size_t n = 0, cap = 64;
    int64_t *ids = xmalloc(cap * sizeof *ids);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap)
            ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, org_department_json(a, ids[i]));
    free(ids);
    return items;
}

/* The checks create and update share. parent and manager get 0 for null, -1 when absent. */
static int department_fields(struct app *a, const json_t *body, int creating, const char **name,
                             int64_t *parent, int64_t *manager, struct derr *e)
{
    static const char *const allowed[] = {"name", "parent_id", "manager_id", NULL};
    *parent = *manager = -1;
    if (dom_only(body, allowed, e) ||
        dom_string(body, "name", creating, 1, NAME_MAX_BYTES, name, e) < 0 ||
        dom_id(body, "parent_id", 0, 1, parent, e) < 0 ||
        dom_id(body, "manager_id", 0, 1, manager, e) < 0)
        return -1;
    if (*parent > 0 && !dom_exists(a->db, SQL_DEPT_EXISTS, *parent))
        return derr(e, 422, "invalid", "parent_id", "there is no department %lld",
                    (long long)*parent);
    if (*manager > 0 && !dom_exists(a->db, SQL_EMP_ACTIVE, *manager))
        return derr(e, 422, "invalid", "manager_id", "there is no active employee %lld",
                    (long long)*manager);
    return 0;
}

int org_department_create(struct app *a, const json_t *body, int64_t *id, struct derr *e)
{
    const char *name = NULL;
    int64_t parent, manager;
    if (department_fields(a, body, 1, &name, &parent, &manager, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st =
        db_stmt(a->db, "INSERT INTO department (name, parent_id, manager_id) VALUES (?, ?, ?)");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    bind_id_or_null(st, 2, parent);
    bind_id_or_null(st, 3, manager);
    if (db_exec_stmt(a->db, st) || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    gap_reload_department(a->gap, a->db, *id);
    return 0;
}

int org_department_update(struct app *a, int64_t id, const json_t *body, struct derr *e)
{
    if (!dom_exists(a->db, SQL_DEPT_EXISTS, id))
        return derr(e, 404, "not_found", NULL, "there is no department %lld", (long long)id);
    const char *name = NULL;
    int64_t parent, manager;
    if (department_fields(a, body, 0, &name, &parent, &manager, e))
        return -1;
    if (parent > 0 && gap_department_within(a->gap, parent, id))
        return derr(e, 422, "invalid", "parent_id",
                    "department %lld is within department %lld; that would make a cycle",
                    (long long)parent, (long long)id);
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(
        a->db, "UPDATE department SET name = coalesce(?2, name), "
               "parent_id = CASE WHEN ?3 < 0 THEN parent_id WHEN ?3 = 0 THEN NULL ELSE ?3 END, "
               "manager_id = CASE WHEN ?4 < 0 THEN manager_id WHEN ?4 = 0 THEN NULL ELSE ?4 END "
               "WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    if (name)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, parent);
    sqlite3_bind_int64(st, 4, manager);
    if (db_exec_stmt(a->db, st) || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    gap_reload_department(a->gap, a->db, id);
    return 0;
}

int org_department_delete(struct app *a, int64_t id, struct derr *e)
{
    if (!dom_exists(a->db, SQL_DEPT_EXISTS, id))
        return derr(e, 404, "not_found", NULL, "there is no department %lld", (long long)id);
    if (dom_exists(a->db, "SELECT 1 FROM employee WHERE department_id = ? LIMIT 1", id))
        return derr(e, 409, "has_history", NULL,
                    "department %lld has employees (archived ones included); move them first",
                    (long long)id);
    if (dom_exists(a->db, "SELECT 1 FROM department WHERE parent_id = ? LIMIT 1", id))
        return derr(e, 409, "conflict", NULL,
                    "department %lld has sub-departments; move or delete them first",
                    (long long)id);
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM department WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (db_exec_stmt(a->db, st) || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    gap_reload_department(a->gap, a->db, id);
    return 0;
}

/* --- employees ------------------------------------------------------------------------------ */

json_t *org_employee_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT employee_number, name, email, department_id, roles, login, archived, "
               "EXISTS (SELECT 1 FROM department WHERE manager_id = employee.id), lang "
               "FROM employee WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        unsigned roles = (unsigned)sqlite3_column_int(st, 4) | ROLE_EMPLOYEE;
        if (sqlite3_column_int(st, 7))
            roles |= ROLE_MANAGER;
        const char *login = db_text(st, 5);
        o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:o, s:o, s:b}", "id", (json_int_t)id,
                      "employee_number", db_text(st, 0), "name", db_text(st, 1), "email",
                      db_text(st, 2), "department_id", (json_int_t)sqlite3_column_int64(st, 3),
                      "roles", auth_roles_json(roles), "login",
                      login ? json_string(login) : json_null(), "archived",
                      sqlite3_column_int(st, 6));
        json_object_set_new(o, "lang", json_string(db_text(st, 8) ? db_text(st, 8) : "nb"));
    }
    sqlite3_reset(st);
    return o;
}

int64_t org_employee_department(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT department_id FROM employee WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    int64_t d = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return d;
}

int org_employee_set_lang(struct app *a, int64_t id, const char *lang)
{
    if (strcmp(lang, "nb") && strcmp(lang, "en"))
        return -1;
    sqlite3_stmt *st = db_stmt(a->db, "UPDATE employee SET lang = ?2 WHERE id = ?1 AND "
                                      "lang IS NOT ?2");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, lang, -1, SQLITE_STATIC);
    return db_exec_stmt(a->db, st);
}

const char *org_employee_lang(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT lang FROM employee WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    int en = sqlite3_step(st) == SQLITE_ROW && db_text(st, 0) && !strcmp(db_text(st, 0), "en");
    sqlite3_reset(st);
    return en ? "en" : "nb";
}

int org_password_check(const char *password, struct derr *e)
{
    if (strlen(password) < 8)
        return derr(e, 422, "invalid", "password", "a password needs at least 8 characters");
    if (strlen(password) > 200)
        return derr(e, 422, "invalid", "password", "a password may have at most 200 characters");
    return 0;
}

int org_email_valid(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.')
        return 0;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '<' || *s == '>' || *s == ',' || *s == ';')
            return 0;
    return s[-1] != '.';
}

struct emp_fields {
    const char *number, *name, *email, *login, *password, *lang;
    int64_t department;     /* -1 absent */
    unsigned roles;
    int has_roles, has_login, archived;   /* archived: -1 absent */
};

static int employee_fields(struct app *a, int64_t id, const json_t *body, struct emp_fields *f,
                           struct derr *e)
{
    static const char *const allowed[] = {"employee_number", "name", "email", "department_id",
                                          "roles", "login", "password", "archived", "lang",
                                          NULL};
    int creating = id == 0;
    *f = (struct emp_fields){.department = -1, .archived = -1};
    if (dom_only(body, allowed, e) ||
        dom_string(body, "employee_number", creating, 1, 64, &f->number, e) < 0 ||
        dom_string(body, "name", creating, 1, NAME_MAX_BYTES, &f->name, e) < 0 ||
        dom_string(body, "email", creating, 1, 254, &f->email, e) < 0 ||
        dom_id(body, "department_id", creating, 0, &f->department, e) < 0 ||
        dom_string(body, "password", 0, 0, 1000, &f->password, e) < 0 ||
        dom_bool(body, "archived", &f->archived, e) < 0 ||
        dom_string(body, "lang", 0, 1, 8, &f->lang, e) < 0)
        return -1;
    if (f->lang && strcmp(f->lang, "nb") && strcmp(f->lang, "en"))
        return derr(e, 422, "invalid", "lang", "'lang' is nb (bokmål) or en (English), not '%s'",
                    f->lang);
    if (f->email && !org_email_valid(f->email))
        return derr(e, 422, "invalid", "email", "'%s' is not an e-mail address", f->email);
    if (f->department > 0 && !dom_exists(a->db, SQL_DEPT_EXISTS, f->department))
        return derr(e, 422, "invalid", "department_id", "there is no department %lld",
                    (long long)f->department);
    const json_t *roles = json_object_get(body, "roles");
    if (roles) {
        const char *bad = NULL;
        if (!json_is_array(roles))
            return derr(e, 422, "invalid", "roles", "'roles' must be a list of role names");
        if (auth_roles_parse(roles, &f->roles, &bad))
            return derr(e, 422, "invalid", "roles",
                        "unknown role '%s' (roles are employee, manager, adviser, admin)", bad);
        f->has_roles = 1;
    }
    const json_t *login = json_object_get(body, "login");
    if (login) {
        f->has_login = 1;
        if (!json_is_null(login) && dom_string(body, "login", 0, 1, 64, &f->login, e) < 0)
            return -1;
    }
    if (f->password && org_password_check(f->password, e))
        return -1;
    if (f->number) {
        sqlite3_stmt *st =
            db_stmt(a->db, "SELECT 1 FROM employee WHERE employee_number = ? AND id != ?");
        sqlite3_bind_text(st, 1, f->number, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, id);
        int clash = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (clash)
            return derr(e, 409, "conflict", "employee_number",
                        "employee number '%s' is already in use", f->number);
    }
    if (f->login) {
        sqlite3_stmt *st = db_stmt(a->db, "SELECT 1 FROM employee WHERE login = ? AND id != ?");
        sqlite3_bind_text(st, 1, f->login, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, id);
        int clash = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (clash)
            return derr(e, 409, "conflict", "login", "login '%s' is already in use", f->login);
    }
    return 0;
}

int org_employee_create(struct app *a, const json_t *body, const char *password_hash,
                        int64_t *id, struct derr *e)
{
    struct emp_fields f;
    if (employee_fields(a, 0, body, &f, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(
        a->db, "INSERT INTO employee (employee_number, name, email, department_id, roles, login, "
               "password_hash, archived, created_at, lang) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, f.number, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, f.name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, f.email, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, f.department);
    sqlite3_bind_int(st, 5, (int)(f.has_roles ? f.roles : ROLE_EMPLOYEE));
    if (f.login)
        sqlite3_bind_text(st, 6, f.login, -1, SQLITE_TRANSIENT);
    if (password_hash)
        sqlite3_bind_text(st, 7, password_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 8, f.archived > 0);
    sqlite3_bind_int64(st, 9, util_now());
    sqlite3_bind_text(st, 10, f.lang ? f.lang : "nb", -1, SQLITE_TRANSIENT);
    if (db_exec_stmt(a->db, st) || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    gap_reload_employee(a->gap, a->db, *id);
    return 0;
}

int org_employee_update(struct app *a, int64_t id, const json_t *body, const char *password_hash,
                        struct derr *e)
{
    if (!dom_exists(a->db, "SELECT 1 FROM employee WHERE id = ?", id))
        return derr(e, 404, "not_found", NULL, "there is no employee %lld", (long long)id);
    struct emp_fields f;
    if (employee_fields(a, id, body, &f, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(
        a->db, "UPDATE employee SET employee_number = coalesce(?2, employee_number), "
               "name = coalesce(?3, name), email = coalesce(?4, email), "
               "department_id = CASE WHEN ?5 > 0 THEN ?5 ELSE department_id END, "
               "roles = CASE WHEN ?6 >= 0 THEN ?6 ELSE roles END, "
               "login = CASE WHEN ?7 THEN ?8 ELSE login END, "
               "password_hash = coalesce(?9, password_hash), "
               "archived = CASE WHEN ?10 >= 0 THEN ?10 ELSE archived END, "
               "lang = coalesce(?11, lang) WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    if (f.number)
        sqlite3_bind_text(st, 2, f.number, -1, SQLITE_TRANSIENT);
    if (f.name)
        sqlite3_bind_text(st, 3, f.name, -1, SQLITE_TRANSIENT);
    if (f.email)
        sqlite3_bind_text(st, 4, f.email, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, f.department);
    sqlite3_bind_int(st, 6, f.has_roles ? (int)f.roles : -1);
    sqlite3_bind_int(st, 7, f.has_login);
    if (f.login)
        sqlite3_bind_text(st, 8, f.login, -1, SQLITE_TRANSIENT);
    if (password_hash)
        sqlite3_bind_text(st, 9, password_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 10, f.archived);
    if (f.lang)
        sqlite3_bind_text(st, 11, f.lang, -1, SQLITE_TRANSIENT);
    int ok = db_exec_stmt(a->db, st) == 0;
    if (ok && (f.archived > 0 || password_hash)) {
        /* An archived person, or one whose password was reset, can no longer use the tokens
         * handed out before. */
        ok = auth_tokens_revoke_all(a->db, id) == 0;
    }
    if (!ok || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    gap_reload_employee(a->gap, a->db, id);
    return 0;
}
