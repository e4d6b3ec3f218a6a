/* The admin's page for the HR import (/admin/import): upload a departments file and an employees
 * file, see the preview (what would be added, changed, moved and deactivated, and every problem
 * with its file, line and column), then commit the same files with one button.
 *
 * Between the preview and the commit the files stay here, in memory, under a random token that
 * only the admin who uploaded them can use (at most UPLOADS_MAX uploads, each for
 * UPLOAD_SECONDS; a restart forgets them and the admin uploads again). So what is committed is
 * byte for byte what was previewed, without trusting the browser to send it twice; it is checked
 * again at the commit, against the organisation as it is then. The checking runs in a worker, as
 * for the API (api_import.c). Admin only; loop thread only.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "hrimport.h"
#include "http.h"
#include "multipart.h"
#include "router.h"
#include "util.h"
#include "web.h"

#define UPLOADS_MAX 4
#define UPLOAD_SECONDS (30 * 60)
#define LIST_MAX 20               /* entries per list on the page; the counts are complete */

static const char *const file_fields[] = {"departments", "employees"};

struct upload {
    char token[33];               /* "" when the slot is free */
    int64_t owner;                /* the admin who uploaded */
    int64_t at;                   /* util_monotonic_us() of the upload */
    int partial;
    size_t nfiles;
    char *names[2];
    struct buf texts[2];
};

static struct upload uploads[UPLOADS_MAX];

static void upload_clear(struct upload *u)
{
    for (size_t i = 0; i < 2; i++) {
        free(u->names[i]);
        buf_free(&u->texts[i]);
    }
    *u = (struct upload){0};
}

/* A free slot (the oldest one goes when none is free); expired uploads are dropped first. */
static struct upload *upload_slot(void)
{
    int64_t now = util_monotonic_us();
    struct upload *oldest = &uploads[0];
    for (size_t i = 0; i < UPLOADS_MAX; i++) {
        struct upload *u = &uploads[i];
        if (u->token[0] && now - u->at > (int64_t)UPLOAD_SECONDS * 1000000)
            upload_clear(u);
        if (!u->token[0])
            return u;
        if (u->at < oldest->at)
            oldest = u;
    }
    upload_clear(oldest);
    return oldest;
}

static struct upload *upload_find(const char *token, int64_t owner)
{
    if (!token || strlen(token) != 32)
        return NULL;
    int64_t now = util_monotonic_us();
    for (size_t i = 0; i < UPLOADS_MAX; i++) {
        struct upload *u = &uploads[i];
        if (!u->token[0] || sodium_memcmp(u->token, token, 32) != 0)
            continue;
        if (u->owner != owner)
            return NULL;
        if (now - u->at > (int64_t)UPLOAD_SECONDS * 1000000) {
            upload_clear(u);
            return NULL;
        }
        return u;
    }
    return NULL;
}

/* --- the page ------------------------------------------------------------------------------ */

/* The page: the upload form, and the preview (consumed, may be NULL: a report) with the commit
 * button when token names an upload that can be committed. error: a locale key or NULL. */
static void import_page(struct api_req *r, int status, json_t *preview, const char *token,
                        const char *error, int partial)
{
    json_t *data = json_pack("{s:s, s:o, s:o, s:b}", "title", "import.title", "error",
                             error ? json_string(error) : json_false(), "preview",
                             preview ? preview : json_false(), "partial", partial);
    if (preview) {
        json_object_set_new(preview, "token", json_string(token ? token : ""));
        const json_t *s = json_object_get(preview, "summary");
        json_int_t problems = json_integer_value(json_object_get(s, "problems"));
        json_int_t changes = json_integer_value(json_object_get(s, "changes"));
        json_object_set_new(preview, "can_commit", json_boolean(token && !problems && changes));
    }
    char *done = http_query_param(r->http, "done");
    int64_t n;
    if (done && !util_parse_i64(done, &n) && n >= 0) {
        json_object_set_new(data, "flash", json_string("import.flash.done"));
        json_object_set_new(data, "done", json_integer(n));
    } else {
        json_object_set_new(data, "done", json_false());
    }
    free(done);
    page_render(r, status, "import.html", data);
}

static void import_get(struct api_req *r) { import_page(r, 200, NULL, NULL, NULL, 0); }

/* --- checking (in a worker) and committing -------------------------------------------------- */

struct page_work {
    struct hrimport *im;
    char *names[2];
    struct buf texts[2];
    size_t nfiles;
    int partial;
    int commit;
    char token[33];
    json_t *report;
};

static void work_free(struct page_work *w)
{
    hrimport_free(w->im);
    for (size_t i = 0; i < 2; i++) {
        free(w->names[i]);
        buf_free(&w->texts[i]);
    }
    json_decref(w->report);
    free(w);
}

static void check_work(void *arg)
{
    struct api_req *r = arg;
    struct page_work *w = r->work;
    for (size_t i = 0; i < w->nfiles; i++)
        hrimport_add_file(w->im, w->names[i], w->texts[i].data, w->texts[i].len);
    hrimport_plan(w->im);
    w->report = hrimport_report(w->im, LIST_MAX);
}

static void check_done(void *arg, int status)
{
    struct api_req *r = arg;
    struct page_work *w = r->work;
    r->work = NULL;
    if (status) {
        work_free(w);
        page_error(r, 500, "error.internal");
        return;
    }
    json_t *rep = json_incref(w->report);
    int problems = hrimport_problems(w->im) != 0;
    if (!w->commit || problems) {
        import_page(r, problems ? 422 : 200, rep, w->token, NULL, w->partial);
        work_free(w);
        return;
    }
    int code = 0;
    char *err = NULL;
    if (hrimport_commit(w->im, r->app, &code, &err)) {
        free(err);
        import_page(r, code == 409 ? 409 : 500, rep, w->token,
                    code == 409 ? "import.conflict" : "error.internal", w->partial);
        work_free(w);
        return;
    }
    json_decref(rep);
    char *to = xasprintf("/admin/import?done=%zu", hrimport_changes(w->im));
    struct upload *u = upload_find(w->token, r->who.employee_id);
    if (u)
        upload_clear(u);
    work_free(w);
    page_redirect(r, to);
    free(to);
}

/* Checks (and with commit, writes) the upload's files; answers later. */
static void start(struct api_req *r, const struct upload *u, int commit)
{
    struct page_work *w = xcalloc(1, sizeof *w);
    w->nfiles = u->nfiles;
    w->partial = u->partial;
    w->commit = commit;
    memcpy(w->token, u->token, sizeof w->token);
    for (size_t i = 0; i < u->nfiles; i++) {
        w->names[i] = xstrdup(u->names[i]);
        buf_append(&w->texts[i], u->texts[i].data ? u->texts[i].data : "", u->texts[i].len);
    }
    w->im = hrimport_new(u->partial);
    if (hrimport_snapshot(w->im, r->app->db)) {
        work_free(w);
        page_error(r, 500, "error.internal");
        return;
    }
    r->work = w;
    app_defer(r->app, check_work, check_done, r);
}

static void import_post(struct api_req *r)
{
    int partial = form_get(r->form, "partial") != NULL;
    const char *ctype = http_header(r->http, "content-type");
    struct mp_form mp = {0};
    char *err = NULL;
    if (!mp_is_form_data(ctype) ||
        mp_parse(r->http->body, r->http->body_len, ctype, &mp, &err)) {
        free(err);
        import_page(r, 422, NULL, NULL, "import.no_file", partial);
        return;
    }
    struct upload *u = upload_slot();
    for (size_t k = 0; k < 2; k++) {
        const struct mp_part *p = mp_get(&mp, file_fields[k]);
        if (!p || !p->filename || !p->len)
            continue;
        u->names[u->nfiles] = xstrdup(*p->filename ? p->filename : file_fields[k]);
        buf_append(&u->texts[u->nfiles], p->data, p->len);
        u->nfiles++;
    }
    mp_free(&mp);
    if (!u->nfiles) {
        upload_clear(u);
        import_page(r, 422, NULL, NULL, "import.no_file", partial);
        return;
    }
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(u->token, sizeof u->token, raw, sizeof raw);
    u->owner = r->who.employee_id;
    u->at = util_monotonic_us();
    u->partial = partial;
    start(r, u, 0);
}

static void import_commit(struct api_req *r)
{
    struct upload *u = upload_find(form_get(r->form, "token"), r->who.employee_id);
    if (!u) {
        import_page(r, 409, NULL, NULL, "import.expired", 0);
        return;
    }
    start(r, u, 1);
}

const struct route page_import_routes[] = {
    {"GET", "/admin/import", import_get, ROLE_ADMIN},
    {"POST", "/admin/import", import_post, ROLE_ADMIN},
    {"POST", "/admin/import/commit", import_commit, ROLE_ADMIN},
};
const size_t page_import_nroutes = sizeof page_import_routes / sizeof page_import_routes[0];
