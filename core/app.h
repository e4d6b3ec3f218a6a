/* app: one running evne: the database, the gap index, the rules, and the request entry point.
 *
 * app_open() opens (and migrates) the database, loads the rules, builds the gap index and
 * tabulates every requirement's gap classes. app_handle_request() routes every HTTP request to
 * its handler (see router.h). The struct is the composition root that the domain modules and
 * handlers share; it is used from the loop thread only.
 */
#ifndef EVNE_APP_H
#define EVNE_APP_H

#include <stdint.h>
#include <uv.h>

#include "http.h"

struct db;
struct gap_index;
struct lh;
struct rules_state;
struct view;
struct auth_cache;
struct mail_worker;
struct sched;

struct app {
    struct db *db;
    struct gap_index *gap;
    struct lh *rules;
    char *rules_dir;
    uv_loop_t *loop;          /* NULL when no loop runs (CLI tools): work then runs inline */
    int rules_broken;         /* set when a requirement could not be classified */
    struct rules_state *rules_state;   /* rules.c: reloads, watching, what admins see */
    struct view *view;        /* the pages' templates; NULL when the app serves no pages */
    int secure_cookies;       /* behind TLS: cookies get the Secure attribute */
    struct auth_cache *auth;  /* checked tokens */
    uint64_t generation;      /* bumped by every answered write: cached sessions are re-checked */
    struct mail_worker *mail; /* mail.c: the outbox's delivery; NULL when mail is not sent */
    struct sched *sched;      /* schedule.c: the jobs; NULL when nothing is scheduled */
    int clock_control;        /* serve --clock: POST /api/v1/admin/clock may move the clock */
    uv_timer_t *follow;       /* app_follow_database's timer; NULL when not following */
    int64_t data_version;     /* PRAGMA data_version when last looked at */
};

struct app_config {
    const char *db_path;      /* borrowed */
    const char *rules_dir;    /* borrowed */
    const char *web_dir;      /* borrowed; templates, locales, static files; NULL: no pages */
    const char *lua_dir;      /* borrowed; the shipped Lua modules (needed with web_dir) */
    int secure_cookies;
    uv_loop_t *loop;          /* borrowed; may be NULL */
    int create;               /* create the database file if missing */
};

/* 0 and *out (owned) on success; -1 and *err (owned) naming what is wrong. */
int app_open(const struct app_config *cfg, struct app **out, char **err);
void app_close(struct app *a);

/* The http_handler_fn for every request; ctx is the struct app. */
void app_handle_request(struct http_request *req, void *ctx);

/* Notices writes to the database by other processes (`evne import` run beside the server) once
 * a second, by SQLite's data_version, and then builds the gap index afresh from the database,
 * classes and effective levels included, and has cached sessions checked again. The server's
 * own writes keep the index current as they go and do not count. Needs a->loop. */
void app_follow_database(struct app *a);
/* Stops following; the timer is closed with the loop's next turn. */
void app_unfollow_database(struct app *a);
/* What app_follow_database does when it notices a change: 0, or -1 (logged; the old index
 * stays). */
int app_rebuild_index(struct app *a);

/* True when the database and the rules are usable (GET /healthz). */
int app_healthy(struct app *a);

/* Runs work(arg) off the loop (uv_queue_work), then done(arg, status) on the loop. Without a
 * loop both run at once. */
void app_defer(struct app *a, void (*work)(void *arg), void (*done)(void *arg, int status),
               void *arg);

#endif
