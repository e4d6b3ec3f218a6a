/* Handlers for the outbox (admin): what is queued, sent, failing, and why. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "db.h"
#include "http.h"
#include "mail.h"

#define OUTBOX_LIMIT_DEFAULT 100
#define OUTBOX_LIMIT_MAX 1000

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
    json_t *out = mail_outbox(r->app->db, state && *state ? state : NULL, (int)limit);
    free(state);
    api_reply(r, 200, out);
}
