/* POST /api/v1/admin/import[?dry_run=true][&partial=true] (admin): the HR import (hrimport.h).
 *
 * The body is one CSV file (Content-Type text/csv, or text/plain), or multipart/form-data with
 * a departments file and an employees file as parts with a filename. The snapshot is read on the
 * loop; parsing and checking, the slow part, run in a worker (app_defer); the commit runs on the
 * loop again, and finds it out when someone changed a row meanwhile (409, nothing written).
 * Answers: 200 with the preview (dry run, problems included) or with what was done; 422 with the
 * same report and an "error" when the files have problems (nothing written); 409; 415.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "app.h"
#include "hrimport.h"
#include "http.h"
#include "multipart.h"
#include "util.h"

struct import_work {
    struct hrimport *im;
    struct mp_form form;        /* the parts, when the body is multipart */
    int dry_run;
    json_t *report;             /* made in the worker */
};

/* A boolean query parameter: 0 or 1, or -1 when it is neither (absent is 0). */
static int bool_param(struct api_req *r, const char *name)
{
    char *v = http_query_param(r->http, name);
    int out = !v || !*v || !strcmp(v, "false") || !strcmp(v, "0")  ? 0
              : !strcmp(v, "true") || !strcmp(v, "1") ? 1 : -1;
    free(v);
    return out;
}

static void import_check(void *arg)
{
    struct api_req *r = arg;
    struct import_work *w = r->work;
    if (w->form.n) {
        for (size_t i = 0; i < w->form.n; i++) {
            const struct mp_part *p = &w->form.parts[i];
            if (p->filename && (p->len || *p->filename))
                hrimport_add_file(w->im, *p->filename ? p->filename : p->name, p->data, p->len);
        }
    } else {
        hrimport_add_file(w->im, "import.csv", r->http->body, r->http->body_len);
    }
    hrimport_plan(w->im);
    w->report = hrimport_report(w->im, 0);
}

static void import_work_free(struct import_work *w)
{
    hrimport_free(w->im);
    mp_free(&w->form);
    json_decref(w->report);
    free(w);
}

static void import_done(void *arg, int status)
{
    struct api_req *r = arg;
    struct import_work *w = r->work;
    r->work = NULL;
    if (status) {
        import_work_free(w);
        api_error(r, 500, "internal", NULL, "the import could not be checked; see the server log");
        return;
    }
    json_t *rep = json_incref(w->report);
    int dry_run = w->dry_run;
    if (hrimport_problems(w->im)) {
        /* a dry run shows the problems as part of the preview; a commit is refused */
        if (!dry_run)
            json_object_set_new(rep, "error",
                                json_pack("{s:s, s:s}", "code", "invalid", "message",
                                          "the files have problems (see problems); nothing was "
                                          "written"));
        import_work_free(w);
        api_reply(r, dry_run ? 200 : 422, rep);
        return;
    }
    if (dry_run) {
        import_work_free(w);
        api_reply(r, 200, rep);
        return;
    }
    int code = 0;
    char *err = NULL;
    if (hrimport_commit(w->im, r->app, &code, &err)) {
        json_decref(rep);
        import_work_free(w);
        api_error(r, code, code == 409 ? "conflict" : "internal", NULL, "%s", err);
        free(err);
        return;
    }
    json_object_set_new(rep, "dry_run", json_false());
    json_object_set_new(rep, "committed", json_true());
    import_work_free(w);
    api_reply(r, 200, rep);
}

void api_import(struct api_req *r)
{
    int dry_run = bool_param(r, "dry_run"), partial = bool_param(r, "partial");
    if (dry_run < 0 || partial < 0) {
        api_error(r, 422, "invalid", dry_run < 0 ? "dry_run" : "partial",
                  "'%s' is true or false", dry_run < 0 ? "dry_run" : "partial");
        return;
    }
    const char *ct = http_header(r->http, "content-type");
    struct import_work *w = xcalloc(1, sizeof *w);
    w->dry_run = dry_run;
    if (mp_is_form_data(ct)) {
        char *err = NULL;
        if (mp_parse(r->http->body, r->http->body_len, ct, &w->form, &err)) {
            free(w);
            api_error(r, 400, "bad_request", NULL, "the multipart body is malformed: %s", err);
            free(err);
            return;
        }
        int files = 0;
        for (size_t i = 0; i < w->form.n; i++)
            files += w->form.parts[i].filename != NULL && w->form.parts[i].len > 0;
        if (!files) {
            import_work_free(w);
            api_error(r, 422, "invalid", "file", "the form holds no file to import");
            return;
        }
    } else if (!ct || !(strncasecmp(ct, "text/csv", 8) == 0 ||
                        strncasecmp(ct, "text/plain", 10) == 0)) {
        free(w);
        api_error(r, 415, "unsupported_media_type", NULL,
                  "send the CSV file as text/csv, or the files as multipart/form-data");
        return;
    } else if (r->http->body_len == 0) {
        free(w);
        api_error(r, 422, "invalid", "file", "the body is empty: send the CSV file");
        return;
    }
    w->im = hrimport_new(partial);
    if (hrimport_snapshot(w->im, r->app->db)) {
        import_work_free(w);
        api_error(r, 500, "internal", NULL, "cannot read the organisation; see the server log");
        return;
    }
    r->work = w;
    app_defer(r->app, import_check, import_done, r);
}
