/* app: one running evne: the database, the gap index, the rules, and the request entry point.
 *
 * app_open() opens (and migrates) the database, loads the rules, builds the gap index. The
 * request handler routes every HTTP request to its API handler. Loop thread only.
 */
#ifndef EVNE_APP_H
#define EVNE_APP_H

#include "http.h"

struct app;

struct app_config {
    const char *db_path;     /* borrowed */
    const char *rules_dir;   /* borrowed */
};

/* 0 and *out (owned) on success; -1 and *err (owned) naming what is wrong. */
int app_open(const struct app_config *cfg, struct app **out, char **err);
void app_close(struct app *a);

/* The http_handler_fn for every request; ctx is the struct app. */
void app_handle_request(struct http_request *req, void *ctx);

/* True when the database and the rules are usable (GET /healthz). */
int app_healthy(struct app *a);

#endif
