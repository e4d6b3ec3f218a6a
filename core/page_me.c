/* The employee's own pages ("Min side"): what my profiles demand and my gaps, the
 * self-assessment, and my password. */
#include <sodium.h>
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

json_t *page_employee_systems(struct app *a, int64_t employee_id)
{
    json_t *systems = json_array();
    struct gap_cell *cells;
    size_t n;
    if (gap_employee(a->gap, employee_id, &cells, &n, NULL))
        return systems;
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT r.text, s.name, (SELECT source FROM assessment WHERE employee_id = ?2 AND "
               "requirement_id = r.id ORDER BY recorded_at DESC, id DESC LIMIT 1) "
               "FROM requirement r JOIN system s ON s.id = r.system_id WHERE r.id = ?1");
    json_t *sys = NULL, *reqs = NULL;
    int64_t sys_id = -1, demanded = 0, open = 0, sum = 0, unassessed = 0;
    for (size_t i = 0; i <= n; i++) {
        if (sys && (i == n || cells[i].system_id != sys_id)) {
            json_object_set_new(sys, "demanded", json_integer(demanded));
            json_object_set_new(sys, "open_gaps", json_integer(open));
            json_object_set_new(sys, "gap_sum", json_integer(sum));
            json_object_set_new(sys, "unassessed", json_integer(unassessed));
            json_object_set_new(sys, "coverage",
                                json_real(demanded ? 1.0 - (double)open / (double)demanded : 1.0));
            json_array_append_new(systems, sys);
            sys = NULL;
        }
        if (i == n)
            break;
        const struct gap_cell *c = &cells[i];
        sqlite3_bind_int64(st, 1, c->requirement_id);
        sqlite3_bind_int64(st, 2, employee_id);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            continue;
        }
        if (!sys) {
            sys_id = c->system_id;
            reqs = json_array();
            sys = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)sys_id, "name", db_text(st, 1),
                            "requirements", reqs);
            demanded = open = sum = unassessed = 0;
        }
        char at[21] = "";
        if (!c->unassessed)
            util_iso8601(c->assessed_at, at);
        const char *cls = a->rules ? lh_class_name(a->rules, c->class_id) : NULL;
        const char *source = db_text(st, 2);
        json_array_append_new(
            reqs, json_pack("{s:I, s:s, s:i, s:i, s:i, s:b, s:o, s:o, s:o}", "id",
                            (json_int_t)c->requirement_id, "text", db_text(st, 0), "required",
                            c->required, "actual", c->actual, "gap", c->gap, "unassessed",
                            c->unassessed, "class", cls ? json_string(cls) : json_false(),
                            "assessed_at", c->unassessed ? json_false() : json_string(at),
                            "source", source && !c->unassessed ? json_string(source)
                                                               : json_false()));
        sqlite3_reset(st);
        demanded++;
        open += c->gap > 0;
        sum += c->gap;
        unassessed += c->unassessed;
    }
    free(cells);
    return systems;
}

void page_me(struct api_req *r)
{
    int64_t me = r->who.employee_id;
    struct gap_cell *cells;
    size_t n;
    struct gap_row summary = {0};
    if (gap_employee(r->app->gap, me, &cells, &n, &summary) == 0)
        free(cells);
    json_t *assigned = assess_assignments_json(r->app, me);
    json_t *data = json_pack(
        "{s:s, s:O, s:o, s:{s:I, s:I, s:I, s:I, s:f}}", "title", "me.title", "profiles",
        json_object_get(assigned, "items"), "systems", page_employee_systems(r->app, me), "summary",
        "demanded", (json_int_t)summary.demanded, "open_gaps", (json_int_t)summary.open_gaps,
        "unassessed", (json_int_t)summary.unassessed, "gap_sum", (json_int_t)summary.gap_sum,
        "coverage", summary.coverage);
    json_decref(assigned);
    char *flash = http_query_param(r->http, "changed");
    json_object_set_new(data, "flash", flash ? json_string("me.password_changed") : json_false());
    free(flash);
    page_render(r, 200, "me.html", data);
}

/* --- the self-assessment ------------------------------------------------------------------ */

/* Shows the form; errors (may be NULL) maps "r<id>" to a message key, typed (may be NULL) to
 * what the person chose, kept when the form comes back with an error. */
static void assessment_form(struct api_req *r, int status, json_t *errors, const struct form *typed)
{
    json_t *systems = page_employee_systems(r->app, r->who.employee_id);
    size_t i, k;
    json_t *sys, *req;
    json_array_foreach(systems, i, sys) {
        json_array_foreach(json_object_get(sys, "requirements"), k, req) {
            char field[32];
            snprintf(field, sizeof field, "r%lld",
                     (long long)json_integer_value(json_object_get(req, "id")));
            json_object_set_new(req, "field", json_string(field));
            const char *err = errors ? json_string_value(json_object_get(errors, field)) : NULL;
            json_object_set_new(req, "error", err ? json_string(err) : json_false());
            /* the level to preselect: what was typed, else the current one */
            const char *t = typed ? form_get(typed, field) : NULL;
            json_t *chosen = json_false();
            if (t && strlen(t) == 1 && t[0] >= '0' && t[0] <= '4')
                chosen = json_integer(t[0] - '0');
            else if (!t && !json_is_true(json_object_get(req, "unassessed")))
                chosen = json_integer(json_integer_value(json_object_get(req, "actual")));
            json_object_set_new(req, "chosen", chosen);
        }
    }
    char *saved = http_query_param(r->http, "saved");
    json_t *data = json_pack("{s:s, s:o, s:b, s:o}", "title", "assessment.title", "systems",
                             systems, "has_errors", errors && json_object_size(errors) > 0,
                             "flash",
                             saved && !strcmp(saved, "1")   ? json_string("assessment.saved")
                             : saved && !strcmp(saved, "0") ? json_string("assessment.unchanged")
                                                            : json_false());
    free(saved);
    json_decref(errors);
    page_render(r, status, "assessment.html", data);
}

void page_assessment(struct api_req *r) { assessment_form(r, 200, NULL, NULL); }

void page_assessment_save(struct api_req *r)
{
    int64_t me = r->who.employee_id;
    json_t *errors = json_object(), *levels = json_object();
    /* Only what the profiles demand is asked, so only that is taken. */
    struct gap_cell *cells;
    size_t n;
    if (gap_employee(r->app->gap, me, &cells, &n, NULL)) {
        json_decref(errors);
        json_decref(levels);
        page_error(r, 404, "error.not_found");
        return;
    }
    for (size_t i = 0; i < form_size(r->form); i++) {
        const char *key = form_key(r->form, i), *val = form_value(r->form, i);
        if (key[0] != 'r')
            continue;
        int64_t rid;
        if (util_parse_i64(key + 1, &rid))
            continue;
        const struct gap_cell *c = NULL;
        for (size_t k = 0; k < n && !c; k++)
            if (cells[k].requirement_id == rid)
                c = &cells[k];
        if (!c) {
            json_object_set_new(errors, key, json_string("assessment.not_asked"));
            continue;
        }
        if (strlen(val) != 1 || val[0] < '0' || val[0] > '4') {
            json_object_set_new(errors, key, json_string("assessment.bad_level"));
            continue;
        }
        int level = val[0] - '0';
        if (c->unassessed || c->actual != level)
            json_object_set_new(levels, key + 1, json_integer(level));
    }
    free(cells);
    if (json_object_size(errors)) {
        json_decref(levels);
        assessment_form(r, 422, errors, r->form);
        return;
    }
    json_decref(errors);
    if (!json_object_size(levels)) {
        json_decref(levels);
        page_redirect(r, "/me/assessment?saved=0");
        return;
    }
    json_t *body = json_pack("{s:s, s:o}", "source", "self", "levels", levels), *created = NULL;
    struct derr e;
    int rc = assess_record(r->app, me, me, body, &created, &e);
    json_decref(body);
    json_decref(created);
    if (rc) {
        fprintf(stderr, "evne: self-assessment of %lld: %s\n", (long long)me, e.message);
        page_error(r, e.status, "error.internal");
        return;
    }
    page_redirect(r, "/me/assessment?saved=1");
}

/* --- my password -------------------------------------------------------------------------- */

static void password_form(struct api_req *r, int status, const char *error)
{
    page_render(r, status, "password.html",
                json_pack("{s:s, s:s}", "title", "password.title", "error", error ? error : ""));
}

void page_password(struct api_req *r) { password_form(r, 200, NULL); }

struct password_work {
    char *hash, *current, *fresh, *new_hash;
    int ok;
};

static void password_work(void *arg)
{
    struct api_req *r = arg;
    struct password_work *w = r->work;
    w->ok = auth_password_verify(w->hash, w->current);
    if (w->ok && auth_password_hash(w->fresh, &w->new_hash))
        w->ok = 0;
}

static void password_work_free(struct password_work *w)
{
    free(w->hash);
    sodium_memzero(w->current, strlen(w->current));
    sodium_memzero(w->fresh, strlen(w->fresh));
    free(w->current);
    free(w->fresh);
    free(w->new_hash);
    free(w);
}

static void password_done(void *arg, int status)
{
    struct api_req *r = arg;
    struct password_work *w = r->work;
    r->work = NULL;
    struct derr e;
    char token[AUTH_TOKEN_HEX + 1];
    json_t *none = json_object();
    if (status || !w->ok) {
        password_form(r, 422, "password.wrong_current");
    } else if (org_employee_update(r->app, r->who.employee_id, none, w->new_hash, &e) ||
               db_begin(r->app->db) ||
               auth_token_create(r->app->db, r->who.employee_id, token) || db_commit(r->app->db)) {
        /* The change ended every session; this one goes on with a new token. */
        db_rollback(r->app->db);
        password_form(r, 500, "error.internal");
    } else {
        r->app->generation++;
        char cookie[256];
        snprintf(cookie, sizeof cookie,
                 "Set-Cookie: " WEB_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; "
                 "SameSite=Lax%s\r\n", token, AUTH_TOKEN_SECONDS,
                 r->app->secure_cookies ? "; Secure" : "");
        page_redirect_with(r, "/me?changed=password", cookie);
    }
    json_decref(none);
    password_work_free(w);
}

void page_password_save(struct api_req *r)
{
    const char *current = form_get(r->form, "current"), *fresh = form_get(r->form, "new"),
               *repeat = form_get(r->form, "repeat");
    struct derr e;
    if (!current || !fresh || !repeat || !*current) {
        password_form(r, 422, "password.missing");
        return;
    }
    if (strcmp(fresh, repeat) != 0) {
        password_form(r, 422, "password.mismatch");
        return;
    }
    if (org_password_check(fresh, &e)) {
        password_form(r, 422, "password.too_short");
        return;
    }
    sqlite3_stmt *st = db_stmt(r->app->db, "SELECT password_hash FROM employee WHERE id = ?");
    sqlite3_bind_int64(st, 1, r->who.employee_id);
    const char *hash = sqlite3_step(st) == SQLITE_ROW ? db_text(st, 0) : NULL;
    struct password_work *w = xcalloc(1, sizeof *w);
    w->hash = xstrdup(hash ? hash : "");
    sqlite3_reset(st);
    w->current = xstrdup(current);
    w->fresh = xstrdup(fresh);
    r->work = w;
    app_defer(r->app, password_work, password_done, r);
}
