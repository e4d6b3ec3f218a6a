/* Handlers for the outbox (admin): what is queued, sent, failing, and why. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "db.h"
#include "http.h"

#define OUTBOX_LIMIT_DEFAULT 100
#define OUTBOX_LIMIT_MAX 1000

static json_t *time_or_null(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    char at[21];
    util_iso8601(sqlite3_column_int64(st, col), at);
    return json_string(at);
}

/* Text from the outbox as JSON; a server's answer is cleaned when stored, but a row may have
 * been written by other hands. */
static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const char *s = db_text(st, col);
    if (!s)
        return json_null();
    if (util_utf8_valid(s))
        return json_string(s);
    char *c = util_utf8_clean(xstrdup(s));
    json_t *j = json_string(c);
    free(c);
    return j;
}

/* GET /api/v1/admin/outbox?state=pending|sending|sent|failed&limit=N: the newest rows first,
 * and how many rows are in each state. */
void api_outbox_list(struct api_req *r)
{
    static const char *const states[] = {"pending", "sending", "sent", "failed"};
    char *state = http_query_param(r->http, "state");
    char *limit_s = http_query_param(r->http, "limit");
    int known = !state || !*state;
    for (size_t i = 0; !known && i < 4; i++)
        known = !strcmp(state, states[i]);
    int64_t limit = OUTBOX_LIMIT_DEFAULT;
    int bad_limit = limit_s && *limit_s &&
                    (util_parse_i64(limit_s, &limit) || limit < 1 || limit > OUTBOX_LIMIT_MAX);
    free(limit_s);
    if (!known || bad_limit) {
        free(state);
        if (!known)
            api_error(r, 422, "invalid", "state",
                      "'state' must be one of pending, sending, sent, failed");
        else
            api_error(r, 422, "invalid", "limit", "'limit' must be a number from 1 to %d",
                      OUTBOX_LIMIT_MAX);
        return;
    }
    struct db *db = r->app->db;
    sqlite3_stmt *st;
    if (state && *state) {
        st = db_stmt(db, "SELECT id, kind, to_addr, subject, state, attempts, next_attempt_at, "
                         "last_error, created_at, sent_at FROM outbox WHERE state = ? "
                         "ORDER BY id DESC LIMIT ?");
        sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, limit);
    } else {
        st = db_stmt(db, "SELECT id, kind, to_addr, subject, state, attempts, next_attempt_at, "
                         "last_error, created_at, sent_at FROM outbox ORDER BY id DESC LIMIT ?");
        sqlite3_bind_int64(st, 1, limit);
    }
    free(state);
    json_t *items = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *row_state = db_text(st, 4);
        int waiting = row_state && !strcmp(row_state, "pending");
        json_array_append_new(
            items, json_pack("{s:I, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o, s:o}",
                             "id", (json_int_t)sqlite3_column_int64(st, 0),
                             "kind", text_or_null(st, 1),
                             "to", text_or_null(st, 2),
                             "subject", text_or_null(st, 3),
                             "state", text_or_null(st, 4),
                             "attempts", sqlite3_column_int(st, 5),
                             "next_attempt_at", waiting ? time_or_null(st, 6) : json_null(),
                             "last_error", text_or_null(st, 7),
                             "created_at", time_or_null(st, 8),
                             "sent_at", time_or_null(st, 9)));
    }
    sqlite3_reset(st);
    json_t *counts = json_pack("{s:i, s:i, s:i, s:i}", "pending", 0, "sending", 0, "sent", 0,
                               "failed", 0);
    st = db_stmt(db, "SELECT state, count(*) FROM outbox GROUP BY state");
    while (sqlite3_step(st) == SQLITE_ROW)
        if (db_text(st, 0))
            json_object_set_new(counts, db_text(st, 0),
                                json_integer(sqlite3_column_int64(st, 1)));
    sqlite3_reset(st);
    api_reply(r, 200, json_pack("{s:o, s:o}", "items", items, "counts", counts));
}
