#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "gap.h"
#include "lua_host.h"
#include "rules.h"
#include "util.h"
#include "view.h"
#include "web.h"

int app_open(const struct app_config *cfg, struct app **out, char **err)
{
    struct app *a = xcalloc(1, sizeof *a);
    a->loop = cfg->loop;
    a->rules_dir = xstrdup(cfg->rules_dir);
    a->auth = auth_cache_new();
    a->secure_cookies = cfg->secure_cookies;
    if (db_open(cfg->db_path, cfg->create, &a->db, err) || gap_build(a->db, &a->gap, err) ||
        rules_open(a, err) ||
        (cfg->web_dir && view_open(cfg->web_dir, cfg->lua_dir, &a->view, err))) {
        app_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

void app_close(struct app *a)
{
    if (!a)
        return;
    gap_free(a->gap);
    view_close(a->view);
    auth_cache_free(a->auth);
    lh_free(a->rules);
    rules_close(a);
    db_close(a->db);
    free(a->rules_dir);
    free(a);
}

static int64_t data_version(struct app *a)
{
    sqlite3_stmt *st = db_stmt(a->db, "PRAGMA data_version");
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return v;
}

int app_rebuild_index(struct app *a)
{
    int64_t t0 = util_monotonic_us();
    struct gap_index *x, *old = a->gap;
    char *err = NULL;
    if (gap_build(a->db, &x, &err)) {
        fprintf(stderr, "evne: the gap index could not be rebuilt; the old one stays: %s\n", err);
        free(err);
        return -1;
    }
    a->gap = x;
    rules_apply_all(a);
    gap_free(old);
    a->generation++;   /* roles, managers and logins may have changed too */
    fprintf(stderr, "evne: the database was changed by another process: the gap index is rebuilt "
                    "(%lld ms)\n", (long long)(util_monotonic_us() - t0) / 1000);
    return 0;
}

static void on_follow(uv_timer_t *t)
{
    struct app *a = t->data;
    int64_t v = data_version(a);
    if (v != a->data_version) {
        a->data_version = v;
        app_rebuild_index(a);
    }
}

void app_follow_database(struct app *a)
{
    UTIL_ASSERT(a->loop && !a->follow);
    a->follow = xmalloc(sizeof *a->follow);
    uv_timer_init(a->loop, a->follow);
    a->follow->data = a;
    a->data_version = data_version(a);
    uv_timer_start(a->follow, on_follow, 1000, 1000);
}

static void on_follow_closed(uv_handle_t *h) { free(h); }

void app_unfollow_database(struct app *a)
{
    if (!a->follow)
        return;
    uv_close((uv_handle_t *)a->follow, on_follow_closed);
    a->follow = NULL;
}

int app_healthy(struct app *a)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT count(*) FROM sqlite_schema");
    int ok = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return ok && a->rules && !a->rules_broken;
}

void app_handle_request(struct http_request *req, void *ctx)
{
    struct app *a = ctx;
    if (!strncmp(req->path, "/api/", 5) || !strcmp(req->path, "/healthz") || !a->view)
        api_dispatch(a, req);
    else
        web_dispatch(a, req);
}

struct deferred {
    uv_work_t work;           /* first: the uv_work_t pointer is the struct's */
    void (*fn)(void *);
    void (*done)(void *, int);
    void *arg;
    struct audit_context who; /* the request's, for the writes done() makes */
};

static void deferred_work(uv_work_t *w)
{
    struct deferred *d = (struct deferred *)w;
    d->fn(d->arg);
}

static void deferred_done(uv_work_t *w, int status)
{
    struct deferred *d = (struct deferred *)w;
    struct audit_context outside;
    audit_context_save(&outside);
    audit_context_restore(&d->who);
    d->done(d->arg, status);
    audit_context_restore(&outside);
    free(d);
}

void app_defer(struct app *a, void (*work)(void *arg), void (*done)(void *arg, int status),
               void *arg)
{
    if (!a->loop) {
        work(arg);
        done(arg, 0);
        return;
    }
    struct deferred *d = xcalloc(1, sizeof *d);
    d->fn = work;
    d->done = done;
    d->arg = arg;
    audit_context_save(&d->who);
    if (uv_queue_work(a->loop, &d->work, deferred_work, deferred_done) != 0) {
        free(d);
        done(arg, -1);
    }
}
