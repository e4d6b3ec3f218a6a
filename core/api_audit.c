/* The audit trail for admins: GET /api/v1/admin/audit (audit.h says what it holds). There is no
 * other route: nobody changes the trail through evne. */
#include <stdlib.h>

#include "api.h"
#include "app.h"
#include "audit.h"

void api_audit_list(struct api_req *r)
{
    struct audit_filter f;
    const char *field = NULL;
    char *msg = NULL;
    if (audit_filter_from_query(r->http, &f, &field, &msg)) {
        api_error(r, 422, "invalid", field, "%s", msg);
        free(msg);
        return;
    }
    json_t *out = audit_list(r->app->db, &f);
    if (!out) {
        api_error(r, 500, "internal", NULL, "could not read the audit trail; see the server log");
        return;
    }
    api_reply(r, 200, out);
}
