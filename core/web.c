#include "web.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "http.h"
#include "multipart.h"
#include "org.h"
#include "router.h"
#include "util.h"
#include "view.h"

#define HTML_TYPE "text/html; charset=utf-8"
#define ANY (ROLE_EMPLOYEE | ROLE_MANAGER | ROLE_ADVISER | ROLE_ADMIN)

/* --- forms -------------------------------------------------------------------------------- */

struct form {
    char **key, **value;
    size_t n, cap;
};

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0..n) with '+' as a space; a NUL byte is dropped, never stored. */
static char *form_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < n &&
                   (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
                   (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            char c = (char)(hi * 16 + lo);
            if (c)
                *o++ = c;
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

struct form *form_parse(const char *text, size_t len)
{
    struct form *f = xcalloc(1, sizeof *f);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p) {
            if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 16;
                f->key = xrealloc(f->key, f->cap * sizeof *f->key);
                f->value = xrealloc(f->value, f->cap * sizeof *f->value);
            }
            f->key[f->n] = form_decode(p, (size_t)((eq ? eq : stop) - p));
            f->value[f->n] = eq ? form_decode(eq + 1, (size_t)(stop - eq - 1)) : xstrdup("");
            f->n++;
        }
        p = stop + 1;
    }
    return f;
}

void form_free(struct form *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->key[i]);
        free(f->value[i]);
    }
    free(f->key);
    free(f->value);
    free(f);
}

const char *form_get(const struct form *f, const char *key)
{
    for (size_t i = 0; f && i < f->n; i++)
        if (!strcmp(f->key[i], key))
            return f->value[i];
    return NULL;
}

size_t form_size(const struct form *f) { return f ? f->n : 0; }
const char *form_key(const struct form *f, size_t i) { return f->key[i]; }
const char *form_value(const struct form *f, size_t i) { return f->value[i]; }

/* The plain fields of a multipart/form-data body (a page with a file upload; the handler reads
 * the files with mp_parse). A NUL byte in a field is dropped, as form_decode drops it. NULL when
 * the body is not well-formed multipart. */
static struct form *form_multipart(const char *body, size_t len, const char *content_type)
{
    struct mp_form mp;
    char *err = NULL;
    if (mp_parse(body, len, content_type, &mp, &err)) {
        free(err);
        return NULL;
    }
    struct form *f = xcalloc(1, sizeof *f);
    for (size_t i = 0; i < mp.n; i++) {
        const struct mp_part *p = &mp.parts[i];
        if (p->filename)
            continue;
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 16;
            f->key = xrealloc(f->key, f->cap * sizeof *f->key);
            f->value = xrealloc(f->value, f->cap * sizeof *f->value);
        }
        char *v = xmalloc(p->len + 1), *o = v;
        for (size_t k = 0; k < p->len; k++)
            if (p->data[k])
                *o++ = p->data[k];
        *o = '\0';
        f->key[f->n] = xstrdup(p->name);
        f->value[f->n++] = v;
    }
    mp_free(&mp);
    return f;
}

/* --- cookies, language, CSRF --------------------------------------------------------------- */

/* The value of cookie `name`, owned, or NULL. */
static char *cookie_get(const struct http_request *req, const char *name)
{
    const char *c = http_header(req, "cookie");
    size_t n = strlen(name);
    while (c && *c) {
        while (*c == ' ' || *c == ';')
            c++;
        const char *end = strchr(c, ';');
        if (!end)
            end = c + strlen(c);
        if ((size_t)(end - c) > n && !strncmp(c, name, n) && c[n] == '=') {
            size_t len = (size_t)(end - c) - n - 1;
            char *v = xmalloc(len + 1);
            memcpy(v, c + n + 1, len);
            v[len] = '\0';
            return v;
        }
        c = end;
    }
    return NULL;
}

static const char *known_lang(const char *s)
{
    if (!s)
        return NULL;
    if (!strncmp(s, "en", 2))
        return "en";
    if (!strncmp(s, "nb", 2) || !strncmp(s, "no", 2) || !strncmp(s, "nn", 2))
        return "nb";
    return NULL;
}

/* ?lang= (remembered in a cookie), else the cookie, else Accept-Language, else bokmål. 1 when
 * the language was chosen (by the query or the cookie), 0 when it was guessed: a login then
 * sets the person's own language. */
static int choose_lang(struct api_req *r)
{
    char *q = http_query_param(r->http, "lang");
    const char *l = known_lang(q);
    free(q);
    if (l) {
        r->lang = l;
        r->set_lang = 1;
        return 1;
    }
    char *c = cookie_get(r->http, WEB_LANG_COOKIE);
    l = known_lang(c);
    free(c);
    if (l) {
        r->lang = l;
        return 1;
    }
    /* the first language the browser names that we speak */
    const char *al = http_header(r->http, "accept-language");
    while (al && *al && !l) {
        while (*al == ' ' || *al == ',')
            al++;
        l = known_lang(al);
        al = strchr(al, ',');
    }
    r->lang = l ? l : "nb";
    return 0;
}

/* A session's CSRF token: derived from the session token, which only its browser holds. */
static void csrf_of(const char *token, char out[33])
{
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token),
                       (const unsigned char *)"evne-csrf-v1....", 16);
    sodium_bin2hex(out, 33, h, sizeof h);
}

/* The target to come back to after the login, percent-encoded as a query value. Static. */
static const char *login_next(const char *target)
{
    static char out[1024];
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)target; *p && o + 4 < sizeof out; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p)) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* --- answers ---------------------------------------------------------------------------------- */

static json_t *nav_item(const char *href, const char *label, const char *path)
{
    size_t n = strlen(href);
    int current = !strcmp(path, href) || (n > 1 && !strncmp(path, href, n) && path[n] == '/');
    return json_pack("{s:s, s:s, s:b}", "href", href, "label", label, "current", current);
}

/* Of the items that claim the page, only the most specific (longest href) is current: on
 * /team/gaps that is "the team's gaps", not "my team". */
static void nav_one_current(json_t *nav)
{
    size_t best = 0, i, n = 0;
    json_t *item;
    json_array_foreach(nav, i, item) {
        size_t len = strlen(json_string_value(json_object_get(item, "href")));
        if (json_is_true(json_object_get(item, "current")) && len > n) {
            n = len;
            best = i;
        }
    }
    json_array_foreach(nav, i, item) {
        if (n && i != best)
            json_object_set_new(item, "current", json_false());
    }
}

/* What a person's roles let them reach, in the order of their working day. */
/* Whether a request came from a page of this server: the browser says so (Sec-Fetch-Site), or,
 * for one too old to say, its Referer names this host. A GET with side effects (the language
 * switch) asks this, so that a link on another site cannot change what is stored. */
static int from_our_pages(const struct http_request *req)
{
    const char *site = http_header(req, "sec-fetch-site");
    if (site)
        return !strcmp(site, "same-origin");
    const char *referer = http_header(req, "referer"), *host = http_header(req, "host");
    if (!referer || !host || !*host)
        return 0;
    const char *p = strstr(referer, "://");
    if (!p)
        return 0;
    p += 3;
    size_t n = strlen(host);
    return !strncmp(p, host, n) && (p[n] == '/' || p[n] == '\0');
}

/* The query of a GET without its lang parameters, as sent (still percent-encoded): the language
 * links keep the page's other parameters (the chosen department, a search). "" for a POST. */
static char *query_without_lang(const struct http_request *req)
{
    const char *q = strcmp(req->method, "GET") ? NULL : strchr(req->target, '?');
    struct buf b = {0};
    buf_puts(&b, "");
    while (q && *q) {
        q++;
        size_t n = strcspn(q, "&");
        if (n && !(n >= 4 && !strncmp(q, "lang", 4) && (n == 4 || q[4] == '='))) {
            if (b.len)
                buf_puts(&b, "&");
            buf_append(&b, q, n);
        }
        q += n;
    }
    return buf_steal(&b);
}

static json_t *nav_for(const struct api_req *r)
{
    json_t *nav = json_array();
    const char *path = r->http->path;
    json_array_append_new(nav, nav_item("/me", "nav.me", path));
    json_array_append_new(nav, nav_item("/me/assessment", "nav.assessment", path));
    json_array_append_new(nav, nav_item("/me/courses", "nav.my_courses", path));
    json_array_append_new(nav, nav_item("/me/cv", "nav.cv", path));
    json_array_append_new(nav, nav_item("/reports/monthly", "nav.monthly", path));
    if (api_is(r, ROLE_MANAGER | ROLE_ADMIN) && r->who.nmanaged) {
        json_array_append_new(nav, nav_item("/team", "nav.team", path));
        json_array_append_new(nav, nav_item("/team/gaps", "nav.team_gaps", path));
        json_array_append_new(nav, nav_item("/team/approvals", "nav.approvals", path));
    }
    if (api_is(r, ROLE_ADVISER | ROLE_ADMIN)) {
        json_array_append_new(nav, nav_item("/systems", "nav.systems", path));
        json_array_append_new(nav, nav_item("/courses", "nav.courses", path));
    }
    /* reports and the search: advisers for everyone, managers for their own departments */
    if (api_is(r, ROLE_ADVISER | ROLE_ADMIN) || r->who.nmanaged) {
        json_array_append_new(nav, nav_item("/reports", "nav.reports", path));
        json_array_append_new(nav, nav_item("/reports/trend", "nav.trend", path));
        json_array_append_new(nav, nav_item("/search", "nav.search", path));
    }
    if (api_is(r, ROLE_ADMIN)) {
        json_array_append_new(nav, nav_item("/admin/users", "nav.users", path));
        json_array_append_new(nav, nav_item("/admin/import", "nav.import", path));
        json_array_append_new(nav, nav_item("/admin/departments", "nav.departments", path));
        json_array_append_new(nav, nav_item("/admin/rules", "nav.rules", path));
        json_array_append_new(nav, nav_item("/admin/outbox", "nav.outbox", path));
        json_array_append_new(nav, nav_item("/admin/audit", "nav.audit", path));
        json_array_append_new(nav, nav_item("/admin/jobs", "nav.jobs", path));
    }
    nav_one_current(nav);
    return nav;
}

static void respond_html(struct api_req *r, int status, const char *html, size_t len,
                         const char *more_headers)
{
    /* As for the API: any answered form may have changed a session, a role or who manages
     * what, so cached sessions are checked again. */
    if (!strcmp(r->http->method, "POST"))
        r->app->generation++;
    struct buf h = {0};
    buf_puts(&h, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                 "Referrer-Policy: same-origin\r\n"
                 "Content-Security-Policy: default-src 'self'; style-src 'self' 'unsafe-inline'; "
                 "frame-ancestors 'none'; form-action 'self'\r\n");
    if (r->set_lang)
        buf_printf(&h, "Set-Cookie: " WEB_LANG_COOKIE "=%s; Path=/; Max-Age=31536000; "
                       "SameSite=Lax\r\n", r->lang);
    if (more_headers)
        buf_puts(&h, more_headers);
    http_respond(r->http, status, html ? HTML_TYPE : NULL, html, html ? len : 0, h.data);
    buf_free(&h);
    api_req_free(r);
}

static void render_with(struct api_req *r, int status, const char *tmpl, json_t *data,
                        const char *more_headers)
{
    if (!data) {
        /* json_pack refused something (a bug in a page module): say so, do not crash */
        fprintf(stderr, "evne: page %s: no data to render\n", tmpl);
        data = json_object();
        status = 500;
        tmpl = "error.html";
        json_object_set_new(data, "status", json_integer(500));
        json_object_set_new(data, "message", json_string("error.internal"));
        json_object_set_new(data, "title", json_string("error.title"));
    }
    if (r->who.employee_id) {
        json_t *me = org_employee_json(r->app, r->who.employee_id);
        if (me) {
            json_object_set_new(me, "roles", auth_roles_json(r->who.roles));
            json_object_set_new(data, "user", me);
        }
        json_object_set_new(data, "nav", nav_for(r));
        json_object_set_new(data, "csrf", json_string(r->csrf));
    }
    json_object_set_new(data, "lang", json_string(r->lang));
    json_object_set_new(data, "path", json_string(r->http->path));
    char *keep = query_without_lang(r->http);
    json_object_set_new(data, "query_keep", json_string(keep));
    free(keep);
    char *html = NULL, *err = NULL;
    size_t len = 0;
    if (view_render(r->app->view, tmpl, data, r->lang, &html, &len, &err)) {
        fprintf(stderr, "evne: page %s: %s\n", tmpl, err);
        free(err);
        static const char fallback[] = "<!doctype html><title>evne</title>"
                                       "<p>Siden kunne ikke vises. The page could not be shown.";
        respond_html(r, 500, fallback, sizeof fallback - 1, more_headers);
    } else {
        respond_html(r, status, html, len, more_headers);
    }
    free(html);
    json_decref(data);
}

void page_render(struct api_req *r, int status, const char *tmpl, json_t *data)
{
    render_with(r, status, tmpl, data, NULL);
}

static int local_path(const char *p)
{
    return p && p[0] == '/' && p[1] != '/' && p[1] != '\\' && !strpbrk(p, "\r\n");
}

void page_redirect_with(struct api_req *r, const char *location, const char *more_headers)
{
    struct buf h = {0};
    buf_printf(&h, "Location: %s\r\n", local_path(location) ? location : "/");
    if (more_headers)
        buf_puts(&h, more_headers);
    respond_html(r, 303, NULL, 0, h.data);
    buf_free(&h);
}

void page_redirect(struct api_req *r, const char *location)
{
    page_redirect_with(r, location, NULL);
}

void page_error(struct api_req *r, int status, const char *message_key)
{
    page_render(r, status, "error.html",
                json_pack("{s:i, s:s, s:s}", "status", status, "message", message_key, "title",
                          "error.title"));
}

/* --- login and logout ------------------------------------------------------------------------- */

static void login_form(struct api_req *r, int status, const char *error, const char *login,
                       const char *next)
{
    page_render(r, status, "login.html",
                json_pack("{s:s, s:s, s:s, s:s}", "title", "login.title", "error",
                          error ? error : "", "login", login ? login : "", "next",
                          local_path(next) ? next : "/"));
}

static void page_login(struct api_req *r)
{
    char *next = http_query_param(r->http, "next");
    if (next)
        util_utf8_clean(next);
    if (r->who.employee_id)
        page_redirect(r, local_path(next) ? next : "/");
    else
        login_form(r, 200, NULL, NULL, next);
    free(next);
}

struct login_work {
    char *login, *password, *hash, *next;
    int64_t employee_id;
    int ok;
};

static void login_verify(void *arg)
{
    struct api_req *r = arg;
    struct login_work *w = r->work;
    w->ok = auth_login_check(w->hash, w->password);
}

static void login_work_free(struct login_work *w)
{
    free(w->login);
    if (w->password)
        sodium_memzero(w->password, strlen(w->password));
    free(w->password);
    free(w->hash);
    free(w->next);
    free(w);
}

static void login_done(void *arg, int status)
{
    struct api_req *r = arg;
    struct login_work *w = r->work;
    r->work = NULL;
    char token[AUTH_TOKEN_HEX + 1];
    char addr[64];
    http_client_addr(r->http, addr);
    if (status || !w->ok) {
        auth_login_failed(w->login, addr);
        audit_login(r->app->db, 0, w->employee_id, w->login, addr);
        login_form(r, 401, "login.wrong", w->login, w->next);
    } else if (db_begin(r->app->db) || auth_token_create(r->app->db, w->employee_id, token) ||
               audit_login(r->app->db, 1, w->employee_id, w->login, addr) ||
               db_commit(r->app->db)) {
        db_rollback(r->app->db);
        login_form(r, 500, "error.internal", w->login, w->next);
    } else {
        char cookie[384];
        int n = snprintf(cookie, sizeof cookie,
                         "Set-Cookie: " WEB_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; "
                         "SameSite=Lax%s\r\n",
                         token, AUTH_TOKEN_SECONDS, r->app->secure_cookies ? "; Secure" : "");
        /* A browser that has not chosen a language gets the person's own (their mail's). */
        if (!r->lang_chosen)
            snprintf(cookie + n, sizeof cookie - (size_t)n,
                     "Set-Cookie: " WEB_LANG_COOKIE "=%s; Path=/; Max-Age=31536000; "
                     "SameSite=Lax\r\n", org_employee_lang(r->app, w->employee_id));
        page_redirect_with(r, local_path(w->next) ? w->next : "/", cookie);
    }
    login_work_free(w);
}

static void page_login_post(struct api_req *r)
{
    const char *login = form_get(r->form, "login"), *password = form_get(r->form, "password");
    const char *next = form_get(r->form, "next");
    if (!login || !*login || !password || !*password) {
        login_form(r, 422, "login.missing", login, next);
        return;
    }
    char addr[64];
    http_client_addr(r->http, addr);
    if (auth_login_blocked(login, addr)) {
        login_form(r, 429, "login.too_many", login, next);
        return;
    }
    struct login_work *w = xcalloc(1, sizeof *w);
    w->login = xstrdup(login);
    w->password = xstrdup(password);
    w->next = xstrdup(next ? next : "/");
    sqlite3_stmt *st = db_stmt(r->app->db, "SELECT id, password_hash FROM employee "
                                           "WHERE login = ? AND archived = 0");
    sqlite3_bind_text(st, 1, login, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && db_text(st, 1)) {
        w->employee_id = sqlite3_column_int64(st, 0);
        w->hash = xstrdup(db_text(st, 1));
    }
    sqlite3_reset(st);
    r->work = w;
    app_defer(r->app, login_verify, login_done, r);
}

static void page_logout(struct api_req *r)
{
    auth_token_revoke(r->app->db, r->token);
    r->app->generation++;
    page_redirect_with(r, "/login",
                  "Set-Cookie: " WEB_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax\r\n");
}

void page_home(struct api_req *r) { page_redirect(r, "/me"); }

/* --- static files ------------------------------------------------------------------------------ */

static void static_file(struct app *a, struct http_request *req)
{
    const char *name = req->path + strlen("/static/");
    static const struct {
        const char *ext, *type;
    } types[] = {{".css", "text/css; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
                 {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"}};
    const char *type = NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(name), m = strlen(types[i].ext);
        if (n > m && !strcmp(name + n - m, types[i].ext))
            type = types[i].type;
    }
    int safe = *name && strlen(name) < 100;
    for (const char *c = name; *c && safe; c++)
        safe = isalnum((unsigned char)*c) || *c == '.' || *c == '-' || *c == '_';
    if (!safe || !type || name[0] == '.') {
        http_respond(req, 404, "text/plain; charset=utf-8", "not found\n", 10, NULL);
        return;
    }
    char *path = xasprintf("%s/static/%s", view_web_dir(a->view), name);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) {
        http_respond(req, 404, "text/plain; charset=utf-8", "not found\n", 10, NULL);
        return;
    }
    struct buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 4 * 1024 * 1024)
        buf_append(&b, chunk, n);
    fclose(f);
    http_respond(req, 200, type, b.data ? b.data : "", b.len,
                 "Cache-Control: public, max-age=3600\r\nX-Content-Type-Options: nosniff\r\n");
    buf_free(&b);
}

/* --- dispatch ---------------------------------------------------------------------------------- */

static const struct route web_routes[] = {
    {"GET", "/", page_home, ANY},
    {"GET", "/login", page_login, 0},
    {"POST", "/login", page_login_post, 0},
    {"POST", "/logout", page_logout, ANY},
    {"GET", "/me", page_me, ANY},
    {"GET", "/me/assessment", page_assessment, ANY},
    {"POST", "/me/assessment", page_assessment_save, ANY},
    {"GET", "/me/password", page_password, ANY},
    {"POST", "/me/password", page_password_save, ANY},
};

extern const struct route page_trend_routes[];   /* page_trend.c: the trend over months */
extern const size_t page_trend_nroutes;

static const struct {
    const struct route *table;
    const size_t *n;
} route_tables[] = {
    {web_routes, NULL},
    {page_import_routes, &page_import_nroutes},
    {page_team_routes, &page_team_nroutes},
    {page_adviser_routes, &page_adviser_nroutes},
    {page_admin_routes, &page_admin_nroutes},
    {page_reports_routes, &page_reports_nroutes},
    {page_rules_routes, &page_rules_nroutes},
    {page_audit_routes, &page_audit_nroutes},
    {page_courses_routes, &page_courses_nroutes},
    {page_learning_routes, &page_learning_nroutes},
    {page_trend_routes, &page_trend_nroutes},
    {page_jobs_routes, &page_jobs_nroutes},
};

void web_dispatch(struct app *a, struct http_request *req)
{
    if (!strncmp(req->path, "/static/", 8) && !strcmp(req->method, "GET")) {
        static_file(a, req);
        return;
    }
    struct api_req *r = xcalloc(1, sizeof *r);
    r->app = a;
    r->http = req;
    r->lang_chosen = choose_lang(r);
    const struct route *route = NULL;
    int64_t ids[ROUTER_MAX_IDS] = {0};
    char allow[128];
    enum router_result res = ROUTER_NOT_FOUND;
    for (size_t i = 0; i < sizeof route_tables / sizeof route_tables[0]; i++) {
        size_t n = route_tables[i].n ? *route_tables[i].n
                                     : sizeof web_routes / sizeof web_routes[0];
        enum router_result got = router_match(route_tables[i].table, n, req->method, req->path,
                                              &route, ids, allow, sizeof allow);
        if (got == ROUTER_FOUND) {
            res = got;
            break;
        }
        if (got == ROUTER_BAD_METHOD)
            res = got;
    }
    /* who is asking, if anyone */
    char *cookie = cookie_get(req, WEB_SESSION_COOKIE);
    if (cookie && strlen(cookie) == AUTH_TOKEN_HEX &&
        auth_cache_check(a->auth, a->db, cookie, a->generation, &r->who) == 0) {
        snprintf(r->token, sizeof r->token, "%s", cookie);
        csrf_of(r->token, r->csrf);
    }
    free(cookie);
    if (res == ROUTER_NOT_FOUND) {
        page_error(r, 404, "error.not_found");
        return;
    }
    if (res == ROUTER_BAD_METHOD) {
        page_error(r, 405, "error.method");
        return;
    }
    r->id = ids[0];
    r->id2 = ids[1];
    if (route->roles && !r->who.employee_id) {
        /* back to the same page afterwards, its filters included */
        char *to = xasprintf("/login?next=%s", login_next(req->target));
        page_redirect(r, to);
        free(to);
        return;
    }
    if (route->roles && !api_is(r, route->roles)) {
        page_error(r, 403, "error.forbidden");
        return;
    }
    if (!strcmp(req->method, "POST")) {
        const char *ctype = http_header(req, "content-type");
        r->form = mp_is_form_data(ctype)
                      ? form_multipart(req->body ? req->body : "", req->body_len, ctype)
                      : form_parse(req->body ? req->body : "", req->body_len);
        if (!r->form) {
            page_error(r, 400, "error.upload");
            return;
        }
        /* Browsers send forms as UTF-8; anything else is refused before a handler sees it. */
        for (size_t i = 0; i < form_size(r->form); i++) {
            if (!util_utf8_valid(form_key(r->form, i)) || !util_utf8_valid(form_value(r->form, i))) {
                page_error(r, 422, "error.encoding");
                return;
            }
        }
        /* Every form that changes something carries the session's token; the login form has
         * no session yet. */
        const char *sent = form_get(r->form, "csrf");
        if (route->roles &&
            (!sent || strlen(sent) != 32 || sodium_memcmp(sent, r->csrf, 32) != 0)) {
            page_error(r, 403, "error.csrf");
            return;
        }
    }
    /* The audit triggers record who changed what from where (audit.h). */
    char addr[64];
    http_client_addr(req, addr);
    audit_context_set(r->who.employee_id, addr);
    /* Switching the language on our own pages switches it for the person's mail too; a link
     * from elsewhere changes only what this browser shows. */
    if (r->set_lang && r->who.employee_id && from_our_pages(req))
        org_employee_set_lang(a, r->who.employee_id, r->lang);
    route->handler(r);
    audit_context_clear();
}
