/* The admin's page for the rules: what runs (file, sha256, when loaded), the last reload and its
 * result, a button to reload now, and a preview of a candidate thresholds.lua against the live
 * gaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "http.h"
#include "router.h"
#include "rules.h"
#include "util.h"
#include "web.h"

#define PREVIEWABLE "thresholds.lua"

static char *read_rule(struct app *a, const char *name)
{
    char *path = xasprintf("%s/%s", a->rules_dir, name);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return xstrdup("");
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 256 * 1024)
        buf_append(&b, chunk, n);
    fclose(f);
    return util_utf8_clean(buf_steal(&b));
}

/* The page; preview (consumed, may be NULL) is a preview's result, error a message to show by
 * the form, source what the candidate was. */
static void rules_page(struct api_req *r, int status, json_t *preview, const char *error,
                       const char *source)
{
    char *current = source ? NULL : read_rule(r->app, PREVIEWABLE);
    char *flash = http_query_param(r->http, "done");
    json_t *data = json_pack("{s:s, s:o, s:s, s:s, s:s, s:o, s:o}", "title", "rules.title",
                             "status", rules_status(r->app), "file", PREVIEWABLE, "source",
                             source ? source : current, "error", error ? error : "", "preview",
                             preview ? preview : json_false(), "flash",
                             flash && !strcmp(flash, "reloaded") ? json_string("rules.reloaded")
                                                                 : json_false());
    free(flash);
    free(current);
    page_render(r, status, "rules.html", data);
}

static void rules_get(struct api_req *r) { rules_page(r, 200, NULL, NULL, NULL); }

static void rules_reload_post(struct api_req *r)
{
    char *err = NULL;
    if (rules_reload(r->app, "an admin asked", &err)) {
        rules_page(r, 422, NULL, err, NULL);
        free(err);
        return;
    }
    page_redirect(r, "/admin/rules?done=reloaded");
}

static void rules_preview_post(struct api_req *r)
{
    const char *source = form_get(r->form, "source");
    if (!source)
        source = "";
    json_t *out = NULL;
    char *err = NULL;
    if (rules_preview(r->app, PREVIEWABLE, source, &out, &err)) {
        util_utf8_clean(err);
        rules_page(r, 422, NULL, err, source);
        free(err);
        return;
    }
    /* one row per class that appears before or after */
    json_t *rows = json_array(), *before = json_object_get(out, "before"),
           *after = json_object_get(out, "after");
    const char *cls;
    json_t *v;
    json_object_foreach(before, cls, v) {
        json_array_append_new(rows, json_pack("{s:s, s:I, s:I}", "class", cls, "before",
                                              json_integer_value(v), "after",
                                              json_integer_value(json_object_get(after, cls))));
    }
    json_object_foreach(after, cls, v) {
        if (!json_object_get(before, cls))
            json_array_append_new(rows, json_pack("{s:s, s:i, s:I}", "class", cls, "before", 0,
                                                  "after", json_integer_value(v)));
    }
    json_decref(out);
    rules_page(r, 200, rows, NULL, source);
}

const struct route page_rules_routes[] = {
    {"GET", "/admin/rules", rules_get, ROLE_ADMIN},
    {"POST", "/admin/rules/reload", rules_reload_post, ROLE_ADMIN},
    {"POST", "/admin/rules/preview", rules_preview_post, ROLE_ADMIN},
};
const size_t page_rules_nroutes = sizeof page_rules_routes / sizeof page_rules_routes[0];
