/* Pages for the adviser (see web.h): the systems, one system with its requirements in order, and
 * the profile matrix, the municipality's own sheet (requirements down, profiles across, a level in
 * each cell, Sum and Average beneath).
 *
 * Reads come from catalog.c and every write goes through catalog_*; these pages only turn a form
 * into the JSON the catalog takes and a derr back into a message next to its field. Sum and
 * Average are catalog_profile_json's, computed from the stored levels, so that they can never
 * disagree with the cells. Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "catalog.h"
#include "db.h"
#include "domain.h"
#include "http.h"
#include "router.h"
#include "util.h"
#include "web.h"

#define ADVISER (ROLE_ADVISER | ROLE_ADMIN)
#define TYPED_IN_MESSAGE 16   /* bytes of a bad cell's value repeated in its message */

/* --- small helpers -------------------------------------------------------------------------- */

/* ?done=X after a redirect: the flash key adviser.flash.X, for the X we know only. Owned. */
static json_t *flash_of(const struct api_req *r)
{
    static const char *const known[] = {
        "created", "saved", "archived", "restored", "req_created", "req_saved", "req_moved",
        "req_not_moved", "req_archived", "req_restored", "matrix_saved", "matrix_unchanged",
        "profile_created", "profile_archived", "profile_restored", NULL};
    char *done = http_query_param(r->http, "done");
    json_t *flash = json_false();
    for (size_t i = 0; done && known[i]; i++) {
        if (!strcmp(done, known[i])) {
            json_decref(flash);
            flash = json_sprintf("adviser.flash.%s", known[i]);
            break;
        }
    }
    free(done);
    return flash;
}

static int blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

/* What someone typed, as a JSON string for the page: invalid UTF-8 bytes become '?', and at
 * most max bytes (0: all) are kept, cut at a character boundary. Owned. */
static json_t *typed_json(const char *s, size_t max)
{
    if (!s)
        return json_string("");
    size_t n = strlen(s);
    char *out = xmalloc(n + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                                   : (*p & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len > 0;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (ok && len > 1) {
            /* overlong forms, surrogates and code points past U+10FFFF are not UTF-8 */
            char buf[5] = {0};
            memcpy(buf, p, len);
            json_t *j = json_string(buf);
            ok = j != NULL;
            json_decref(j);
        }
        if (!ok)
            len = 1;
        if (max && (size_t)(o - out) + len > max)
            break;
        if (ok) {
            memcpy(o, p, len);
            o += len;
        } else {
            *o++ = '?';
        }
        p += len;
    }
    *o = '\0';
    json_t *j = json_string(out);
    free(out);
    return j;
}

/* A catalog failure that no field explains: its status and a general message. Frees r. */
static void fail(struct api_req *r, const struct derr *e)
{
    if (e->status == 404) {
        page_error(r, 404, "error.not_found");
        return;
    }
    fprintf(stderr, "evne: adviser page %s %s: %s\n", r->http->method, r->http->path,
            e->message);
    page_error(r, e->status >= 400 && e->status < 600 ? e->status : 500, "error.internal");
}

/* A 422 about one of the fields a page shows: errors[as] gets adviser.error.<field>_invalid.
 * 0 when the derr is about something else. */
static int field_error(json_t *errors, const struct derr *e, const char *field, const char *as)
{
    if (e->status != 422 || strcmp(e->field, field) != 0)
        return 0;
    json_object_set_new(errors, as, json_sprintf("adviser.error.%s_invalid", field));
    return 1;
}

/* archived=1 or archived=0 from a form; -1 for anything else. */
static int archived_field(const struct form *f)
{
    const char *v = form_get(f, "archived");
    return v && !strcmp(v, "1") ? 1 : v && !strcmp(v, "0") ? 0 : -1;
}

static int is_archived(const json_t *o)
{
    return json_is_true(json_object_get(o, "archived"));
}

static int64_t id_of(const json_t *o)
{
    return json_integer_value(json_object_get(o, "id"));
}

static void redirect_to(struct api_req *r, const char *fmt, long long id, const char *done,
                        const char *anchor_fmt, long long anchor)
{
    char path[160], frag[40] = "";
    if (anchor_fmt)
        snprintf(frag, sizeof frag, anchor_fmt, anchor);
    snprintf(path, sizeof path, fmt, id);
    char *to = xasprintf("%s?done=%s%s", path, done, frag);
    page_redirect(r, to);
    free(to);
}

/* --- the systems ---------------------------------------------------------------------------- */

/* Counts of active requirements and profiles per system, set on each item of systems. */
static void add_counts(struct app *a, json_t *systems)
{
    static const char *const sql[2] = {
        "SELECT system_id, count(*) FROM requirement WHERE archived = 0 GROUP BY system_id",
        "SELECT system_id, count(*) FROM profile WHERE archived = 0 AND system_id IS NOT NULL "
        "GROUP BY system_id"};
    static const char *const key[2] = {"requirements", "profiles"};
    size_t i;
    json_t *s;
    json_array_foreach(systems, i, s) {
        json_object_set_new(s, key[0], json_integer(0));
        json_object_set_new(s, key[1], json_integer(0));
    }
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st = db_stmt(a->db, sql[k]);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t sid = sqlite3_column_int64(st, 0);
            json_array_foreach(systems, i, s)
                if (id_of(s) == sid)
                    json_object_set_new(s, key[k], json_integer(sqlite3_column_int64(st, 1)));
        }
        sqlite3_reset(st);
    }
}

/* errors (consumed; may be NULL) maps a field to a message key; typed (may be NULL) is the form
 * to show again. */
static void systems_page(struct api_req *r, int status, json_t *errors, const struct form *typed)
{
    json_t *systems = catalog_system_list(r->app);
    add_counts(r->app, systems);
    json_t *data = json_pack(
        "{s:s, s:o, s:o, s:{s:o, s:o}, s:o}", "title", "adviser.systems.title", "systems", systems,
        "errors", errors ? errors : json_object(), "form", "name",
        typed_json(typed ? form_get(typed, "name") : NULL, 0), "description",
        typed_json(typed ? form_get(typed, "description") : NULL, 0), "flash", flash_of(r));
    page_render(r, status, "adviser_systems.html", data);
}

static void systems_get(struct api_req *r) { systems_page(r, 200, NULL, NULL); }

static void system_create(struct api_req *r)
{
    const char *name = form_get(r->form, "name"), *description = form_get(r->form, "description");
    json_t *errors = json_object();
    if (blank(name))
        json_object_set_new(errors, "name", json_string("adviser.error.name_missing"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s, s:s}", "name", name, "description",
                                 description ? description : "");
        struct derr e;
        int64_t id = 0;
        int rc = catalog_system_create(r->app, body, &id, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            redirect_to(r, "/systems/%lld", (long long)id, "created", NULL, 0);
            return;
        }
        if (!field_error(errors, &e, "name", "name") &&
            !field_error(errors, &e, "description", "description")) {
            json_decref(errors);
            fail(r, &e);
            return;
        }
    }
    systems_page(r, 422, errors, r->form);
}

/* --- one system and its requirements ------------------------------------------------------ */

/* The page of system id. errors (consumed; may be NULL): "name", "description", "new_text",
 * "r<id>" (a requirement's text) and "general" to message keys; typed (consumed; may be NULL):
 * the same fields to what was typed. */
static void system_page(struct api_req *r, int64_t id, int status, json_t *errors, json_t *typed)
{
    json_t *system = catalog_system_json(r->app, id);
    if (!errors)
        errors = json_object();
    if (!typed)
        typed = json_object();
    if (!system) {
        json_decref(errors);
        json_decref(typed);
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *active = json_array(), *archived = json_array();
    json_t *all = catalog_requirement_list(r->app, id);
    size_t i;
    json_t *q;
    json_array_foreach(all, i, q) {
        char field[32];
        snprintf(field, sizeof field, "r%lld", (long long)id_of(q));
        json_t *text = json_object_get(typed, field);
        json_t *err = json_object_get(errors, field);
        json_t *row = json_pack("{s:I, s:O, s:O}", "id", (json_int_t)id_of(q), "text",
                                text ? text : json_object_get(q, "text"), "error",
                                err ? err : json_false());
        if (is_archived(q)) {
            json_array_append_new(archived, row);
        } else {
            json_object_set_new(row, "n", json_integer((json_int_t)json_array_size(active) + 1));
            json_array_append_new(active, row);
        }
    }
    json_decref(all);
    json_t *name = json_object_get(typed, "name"), *description = json_object_get(typed, "description"),
           *new_text = json_object_get(typed, "new_text");
    json_t *form = json_pack("{s:O, s:O, s:o}", "name", name ? name : json_object_get(system, "name"),
                             "description",
                             description ? description : json_object_get(system, "description"),
                             "new_text", new_text ? json_incref(new_text) : json_string(""));
    json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "title",
                             "adviser.system.title", "system", system, "requirements", active,
                             "archived_requirements", archived, "form", form, "errors", errors,
                             "flash", flash_of(r));
    json_decref(typed);
    page_render(r, status, "adviser_system.html", data);
}

static void system_get(struct api_req *r) { system_page(r, r->id, 200, NULL, NULL); }

static void system_save(struct api_req *r)
{
    json_t *system = catalog_system_json(r->app, r->id);
    if (!system) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_decref(system);
    const char *name = form_get(r->form, "name"), *description = form_get(r->form, "description");
    json_t *errors = json_object(), *typed = json_object();
    json_object_set_new(typed, "name", typed_json(name, 0));
    if (description)
        json_object_set_new(typed, "description", typed_json(description, 0));
    if (blank(name))
        json_object_set_new(errors, "name", json_string("adviser.error.name_missing"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s}", "name", name);
        if (description)
            json_object_set_new(body, "description", json_string(description));
        struct derr e;
        int rc = catalog_system_update(r->app, r->id, body, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            json_decref(typed);
            redirect_to(r, "/systems/%lld", (long long)r->id, "saved", NULL, 0);
            return;
        }
        if (!field_error(errors, &e, "name", "name") &&
            !field_error(errors, &e, "description", "description")) {
            json_decref(errors);
            json_decref(typed);
            fail(r, &e);
            return;
        }
    }
    system_page(r, r->id, 422, errors, typed);
}

static void system_archive(struct api_req *r)
{
    json_t *system = catalog_system_json(r->app, r->id);
    if (!system) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_decref(system);
    int archived = archived_field(r->form);
    if (archived < 0) {
        system_page(r, r->id, 422, json_pack("{s:s}", "general", "adviser.error.bad_request"),
                    NULL);
        return;
    }
    json_t *body = json_pack("{s:b}", "archived", archived);
    struct derr e;
    int rc = catalog_system_update(r->app, r->id, body, &e);
    json_decref(body);
    if (rc)
        fail(r, &e);
    else
        redirect_to(r, "/systems/%lld", (long long)r->id, archived ? "archived" : "restored",
                    NULL, 0);
}

static void requirement_create(struct api_req *r)
{
    json_t *system = catalog_system_json(r->app, r->id);
    if (!system) {
        page_error(r, 404, "error.not_found");
        return;
    }
    int sys_archived = is_archived(system);
    json_decref(system);
    const char *text = form_get(r->form, "text");
    json_t *errors = json_object(), *typed = json_object();
    json_object_set_new(typed, "new_text", typed_json(text, 0));
    /* An archived system takes no new requirements, as it takes no new profiles. */
    if (sys_archived)
        json_object_set_new(errors, "general", json_string("adviser.error.system_archived"));
    else if (blank(text))
        json_object_set_new(errors, "new_text", json_string("adviser.error.text_missing"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s}", "text", text);
        struct derr e;
        int64_t id = 0;
        int rc = catalog_requirement_create(r->app, r->id, body, &id, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            json_decref(typed);
            redirect_to(r, "/systems/%lld", (long long)r->id, "req_created", "#req-%lld",
                        (long long)id);
            return;
        }
        if (!field_error(errors, &e, "text", "new_text")) {
            json_decref(errors);
            json_decref(typed);
            fail(r, &e);
            return;
        }
    }
    system_page(r, r->id, 422, errors, typed);
}

static void requirement_save(struct api_req *r)
{
    json_t *q = catalog_requirement_json(r->app, r->id);
    if (!q) {
        page_error(r, 404, "error.not_found");
        return;
    }
    int64_t sid = json_integer_value(json_object_get(q, "system_id"));
    /* an archived requirement shows no text field: its error goes on top of the page */
    int archived = is_archived(q);
    json_decref(q);
    char field[32];
    snprintf(field, sizeof field, "r%lld", (long long)r->id);
    const char *where = archived ? "general" : field;
    const char *text = form_get(r->form, "text");
    json_t *errors = json_object(), *typed = json_object();
    json_object_set_new(typed, field, typed_json(text, 0));
    if (blank(text))
        json_object_set_new(errors, where, json_string("adviser.error.text_missing"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s}", "text", text);
        struct derr e;
        int rc = catalog_requirement_update(r->app, r->id, body, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            json_decref(typed);
            redirect_to(r, "/systems/%lld", (long long)sid, "req_saved", "#req-%lld",
                        (long long)r->id);
            return;
        }
        if (!field_error(errors, &e, "text", where)) {
            json_decref(errors);
            json_decref(typed);
            fail(r, &e);
            return;
        }
    }
    system_page(r, sid, 422, errors, typed);
}

static int set_position(struct api_req *r, int64_t id, int64_t position, struct derr *e)
{
    json_t *body = json_pack("{s:I}", "position", (json_int_t)position);
    int rc = catalog_requirement_update(r->app, id, body, e);
    json_decref(body);
    return rc;
}

/* Moves a requirement one step among the system's active requirements. Positions are sort keys
 * (ties go by id), so the usual move swaps the two keys. When a key is shared, swapping cannot
 * say the new order; the system's requirements are then numbered 1..n in the new order, and
 * only those whose key changes are written. */
static void requirement_move(struct api_req *r)
{
    json_t *q = catalog_requirement_json(r->app, r->id);
    if (!q) {
        page_error(r, 404, "error.not_found");
        return;
    }
    int64_t sid = json_integer_value(json_object_get(q, "system_id"));
    int archived = is_archived(q);
    json_decref(q);
    const char *dir = form_get(r->form, "dir");
    int step = dir && !strcmp(dir, "up") ? -1 : dir && !strcmp(dir, "down") ? 1 : 0;
    if (!step) {
        system_page(r, sid, 422, json_pack("{s:s}", "general", "adviser.error.bad_request"), NULL);
        return;
    }
    json_t *all = catalog_requirement_list(r->app, sid);   /* ordered by position, id */
    size_t n = json_array_size(all), me = n, other = n;
    int64_t *ids = xmalloc((n + 1) * sizeof *ids), *pos = xmalloc((n + 1) * sizeof *pos);
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(all, i);
        ids[i] = id_of(it);
        pos[i] = json_integer_value(json_object_get(it, "position"));
        if (ids[i] == r->id)
            me = i;
    }
    /* the neighbour: the next active requirement in that direction */
    if (!archived && me < n) {
        for (size_t i = me; other == n && (step < 0 ? i > 0 : i + 1 < n);) {
            i = step < 0 ? i - 1 : i + 1;
            if (!is_archived(json_array_get(all, i)))
                other = i;
        }
    }
    json_decref(all);
    if (other == n) {
        free(ids);
        free(pos);
        redirect_to(r, "/systems/%lld", (long long)sid, "req_not_moved", "#req-%lld",
                    (long long)r->id);
        return;
    }
    int shared = pos[me] == pos[other];
    for (size_t i = 0; i < n && !shared; i++)
        shared = i != me && i != other && (pos[i] == pos[me] || pos[i] == pos[other]);
    struct derr e;
    int rc = 0;
    if (!shared) {
        rc = set_position(r, ids[me], pos[other], &e) ||
             set_position(r, ids[other], pos[me], &e);
    } else {
        int64_t t = ids[me];
        ids[me] = ids[other];
        ids[other] = t;
        for (size_t i = 0; i < n && !rc; i++)
            if (pos[i] != (int64_t)i + 1 || i == me || i == other)
                rc = set_position(r, ids[i], (int64_t)i + 1, &e);
    }
    free(ids);
    free(pos);
    if (rc)
        fail(r, &e);
    else
        redirect_to(r, "/systems/%lld", (long long)sid, "req_moved", "#req-%lld",
                    (long long)r->id);
}

static void requirement_archive(struct api_req *r)
{
    json_t *q = catalog_requirement_json(r->app, r->id);
    if (!q) {
        page_error(r, 404, "error.not_found");
        return;
    }
    int64_t sid = json_integer_value(json_object_get(q, "system_id"));
    json_decref(q);
    int archived = archived_field(r->form);
    if (archived < 0) {
        system_page(r, sid, 422, json_pack("{s:s}", "general", "adviser.error.bad_request"), NULL);
        return;
    }
    json_t *body = json_pack("{s:b}", "archived", archived);
    struct derr e;
    int rc = catalog_requirement_update(r->app, r->id, body, &e);
    json_decref(body);
    if (rc)
        fail(r, &e);
    else
        redirect_to(r, "/systems/%lld", (long long)sid, archived ? "req_archived" : "req_restored",
                    "#req-%lld", (long long)r->id);
}

/* --- the profile matrix --------------------------------------------------------------------- */

/* What the matrix shows of a system: its active requirements in order and its profiles (by id,
 * the order they were added, as columns in the sheet), each with levels, sum and average. */
struct matrix {
    json_t *system, *requirements, *profiles, *archived_profiles;   /* owned */
};

static int matrix_load(struct app *a, int64_t sid, struct matrix *m)
{
    memset(m, 0, sizeof *m);
    m->system = catalog_system_json(a, sid);
    if (!m->system)
        return -1;
    m->requirements = json_array();
    json_t *all = catalog_requirement_list(a, sid);
    size_t i;
    json_t *q;
    json_array_foreach(all, i, q)
        if (!is_archived(q))
            json_array_append(m->requirements, q);
    json_decref(all);
    m->profiles = json_array();
    m->archived_profiles = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id FROM profile WHERE system_id = ? ORDER BY id");
    sqlite3_bind_int64(st, 1, sid);
    size_t n = 0, cap = 16;
    int64_t *ids = xmalloc(cap * sizeof *ids);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap)
            ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    for (size_t k = 0; k < n; k++) {
        json_t *p = catalog_profile_json(a, ids[k]);
        if (p)
            json_array_append_new(is_archived(p) ? m->archived_profiles : m->profiles, p);
    }
    free(ids);
    return 0;
}

static void matrix_free(struct matrix *m)
{
    json_decref(m->system);
    json_decref(m->requirements);
    json_decref(m->profiles);
    json_decref(m->archived_profiles);
}

static int stored_level(const json_t *profile, int64_t rid)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)rid);
    return (int)json_integer_value(json_object_get(json_object_get(profile, "levels"), key));
}

static void cell_field(char *out, size_t len, int64_t pid, int64_t rid)
{
    snprintf(out, len, "l%lld_%lld", (long long)pid, (long long)rid);
}

/* errors (consumed; may be NULL): a cell's field, "general" or "profile_name" to a message key;
 * typed (may be NULL): the posted form, whose cells and profile name are shown again. */
static void matrix_page(struct api_req *r, int64_t sid, int status, json_t *errors,
                        const struct form *typed)
{
    struct matrix m;
    if (!errors)
        errors = json_object();
    if (matrix_load(r->app, sid, &m)) {
        json_decref(errors);
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *rows = json_array(), *cols = json_array(), *archived = json_array();
    size_t i, k;
    json_t *q, *p;
    int bad_cells = 0;
    json_array_foreach(m.profiles, k, p)
        json_array_append_new(cols, json_pack("{s:I, s:O, s:O, s:O}", "id", (json_int_t)id_of(p),
                                              "name", json_object_get(p, "name"), "sum",
                                              json_object_get(p, "sum"), "average",
                                              json_object_get(p, "average")));
    json_array_foreach(m.archived_profiles, k, p)
        json_array_append_new(archived, json_pack("{s:I, s:O}", "id", (json_int_t)id_of(p),
                                                  "name", json_object_get(p, "name")));
    json_array_foreach(m.requirements, i, q) {
        json_t *cells = json_array();
        json_array_foreach(m.profiles, k, p) {
            char field[64];
            cell_field(field, sizeof field, id_of(p), id_of(q));
            const char *t = typed ? form_get(typed, field) : NULL;
            json_t *err = json_object_get(errors, field);
            bad_cells += err != NULL;
            json_array_append_new(
                cells, json_pack("{s:s, s:O, s:o, s:O, s:o}", "field", field, "profile",
                                 json_object_get(p, "name"), "value",
                                 t ? typed_json(t, 0) : json_integer(stored_level(p, id_of(q))),
                                 "error", err ? err : json_false(), "typed",
                                 t ? typed_json(t, TYPED_IN_MESSAGE) : json_string("")));
        }
        json_array_append_new(rows, json_pack("{s:I, s:I, s:O, s:o}", "id", (json_int_t)id_of(q),
                                              "n", (json_int_t)i + 1, "text",
                                              json_object_get(q, "text"), "cells", cells));
    }
    json_t *data = json_pack(
        "{s:s, s:O, s:o, s:o, s:o, s:o, s:b, s:o, s:o}", "title", "adviser.matrix.title",
        "system", m.system, "rows", rows, "profiles", cols, "archived_profiles", archived,
        "errors", errors, "bad_cells", bad_cells > 0, "new_profile",
        typed_json(typed ? form_get(typed, "name") : NULL, 0), "flash", flash_of(r));
    matrix_free(&m);
    page_render(r, status, "adviser_matrix.html", data);
}

static void matrix_get(struct api_req *r) { matrix_page(r, r->id, 200, NULL, NULL); }

/* "l<profile>_<requirement>" -> the two ids; -1 when it is not a cell's name. */
static int parse_cell(const char *key, int64_t *pid, int64_t *rid)
{
    const char *us = strchr(key, '_');
    if (key[0] != 'l' || !us || us - key - 1 <= 0 || us - key - 1 > 20)
        return -1;
    char left[24];
    memcpy(left, key + 1, (size_t)(us - key - 1));
    left[us - key - 1] = '\0';
    return util_parse_i64(left, pid) || util_parse_i64(us + 1, rid) || *pid <= 0 || *rid <= 0
               ? -1 : 0;
}

static json_t *find_by_id(const json_t *arr, int64_t id)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
        if (id_of(o) == id)
            return o;
    return NULL;
}

/* Saves every changed cell: each posted cell is checked first (a level 0-4 of an active profile
 * and requirement of this system); any bad one shows the matrix again with 422 and stores
 * nothing. Then every changed cell in one transaction (catalog_matrix_update). */
static void matrix_save(struct api_req *r)
{
    struct matrix m;
    if (matrix_load(r->app, r->id, &m)) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *errors = json_object(), *changes = json_object();   /* "<pid>" -> {"<rid>": level} */
    for (size_t i = 0; i < form_size(r->form); i++) {
        const char *key = form_key(r->form, i), *val = form_value(r->form, i);
        int64_t pid, rid;
        if (key[0] != 'l')
            continue;
        json_t *p = NULL;
        if (parse_cell(key, &pid, &rid) || !(p = find_by_id(m.profiles, pid)) ||
            !find_by_id(m.requirements, rid)) {
            json_object_set_new(errors, "general", json_string("adviser.matrix.unknown_cell"));
            continue;
        }
        if (strlen(val) != 1 || val[0] < '0' || val[0] > '4') {
            json_object_set_new(errors, key, json_string(*val ? "adviser.matrix.bad_level"
                                                              : "adviser.matrix.missing_level"));
            continue;
        }
        char pkey[24], rkey[24];
        snprintf(pkey, sizeof pkey, "%lld", (long long)pid);
        snprintf(rkey, sizeof rkey, "%lld", (long long)rid);
        json_t *levels = json_object_get(changes, pkey);
        if (!levels) {
            levels = json_object();
            json_object_set_new(changes, pkey, levels);
        }
        int level = val[0] - '0';
        if (level != stored_level(p, rid))
            json_object_set_new(levels, rkey, json_integer(level));
        else
            json_object_del(levels, rkey);   /* a cell posted twice: the last one counts */
    }
    matrix_free(&m);
    if (json_object_size(errors)) {
        json_decref(changes);
        matrix_page(r, r->id, 422, errors, r->form);
        return;
    }
    json_decref(errors);
    const char *pkey;
    json_t *levels;
    int changed = 0;
    json_object_foreach(changes, pkey, levels) {
        changed |= json_object_size(levels) > 0;
    }
    struct derr e;
    int rc = changed ? catalog_matrix_update(r->app, r->id, changes, &e) : 0;
    json_decref(changes);
    if (rc)
        fail(r, &e);
    else
        redirect_to(r, "/systems/%lld/matrix", (long long)r->id,
                    changed ? "matrix_saved" : "matrix_unchanged", NULL, 0);
}

static void profile_create(struct api_req *r)
{
    json_t *system = catalog_system_json(r->app, r->id);
    if (!system) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_decref(system);
    const char *name = form_get(r->form, "name");
    json_t *errors = json_object();
    if (blank(name))
        json_object_set_new(errors, "profile_name", json_string("adviser.error.name_missing"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s, s:I}", "name", name, "system_id", (json_int_t)r->id);
        struct derr e;
        int64_t id = 0;
        int rc = catalog_profile_create(r->app, body, &id, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            redirect_to(r, "/systems/%lld/matrix", (long long)r->id, "profile_created", NULL, 0);
            return;
        }
        if (e.status == 422 && !strcmp(e.field, "system_id")) {
            json_object_set_new(errors, "general", json_string("adviser.error.system_archived"));
        } else if (!field_error(errors, &e, "name", "profile_name")) {
            json_decref(errors);
            fail(r, &e);
            return;
        }
    }
    matrix_page(r, r->id, 422, errors, r->form);
}

static void profile_archive(struct api_req *r)
{
    json_t *p = catalog_profile_json(r->app, r->id);
    int64_t sid = p ? json_integer_value(json_object_get(p, "system_id")) : 0;
    json_decref(p);
    if (sid <= 0) {   /* a profile without a system has no matrix to come back to */
        page_error(r, 404, "error.not_found");
        return;
    }
    int archived = archived_field(r->form);
    if (archived < 0) {
        matrix_page(r, sid, 422, json_pack("{s:s}", "general", "adviser.error.bad_request"),
                    NULL);
        return;
    }
    json_t *body = json_pack("{s:b}", "archived", archived);
    struct derr e;
    int rc = catalog_profile_update(r->app, r->id, body, &e);
    json_decref(body);
    if (rc)
        fail(r, &e);
    else
        redirect_to(r, "/systems/%lld/matrix", (long long)sid,
                    archived ? "profile_archived" : "profile_restored", NULL, 0);
}

const struct route page_adviser_routes[] = {
    {"GET", "/systems", systems_get, ADVISER},
    {"POST", "/systems", system_create, ADVISER},
    {"GET", "/systems/{id}", system_get, ADVISER},
    {"POST", "/systems/{id}", system_save, ADVISER},
    {"POST", "/systems/{id}/archive", system_archive, ADVISER},
    {"POST", "/systems/{id}/requirements", requirement_create, ADVISER},
    {"GET", "/systems/{id}/matrix", matrix_get, ADVISER},
    {"POST", "/systems/{id}/matrix", matrix_save, ADVISER},
    {"POST", "/systems/{id}/profiles", profile_create, ADVISER},
    {"POST", "/requirements/{id}", requirement_save, ADVISER},
    {"POST", "/requirements/{id}/move", requirement_move, ADVISER},
    {"POST", "/requirements/{id}/archive", requirement_archive, ADVISER},
    {"POST", "/profiles/{id}/archive", profile_archive, ADVISER},
};
const size_t page_adviser_nroutes = sizeof page_adviser_routes / sizeof page_adviser_routes[0];
