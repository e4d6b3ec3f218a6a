/* GET /api/v1/admin/export?format=json|csv[&table=...] (admin, adviser): the export (export.h),
 * streamed as the client reads it (http_respond_stream), as an attachment. */
#include <stdlib.h>

#include "api.h"
#include "app.h"
#include "export.h"
#include "http.h"
#include "util.h"

static int produce(void *arg, struct buf *out) { return export_next(arg, out); }

static void finished(void *arg, int ok)
{
    (void)ok;   /* a cut export is the client's to notice: the chunked body has no end */
    export_free(arg);
}

void api_export(struct api_req *r)
{
    char *format = http_query_param(r->http, "format"), *table = http_query_param(r->http, "table");
    enum export_format f;
    enum export_table t;
    const char *field, *why;
    int bad = export_parse(format, table, &f, &t, &field, &why);
    free(format);
    free(table);
    if (bad) {
        api_error(r, 422, "invalid", field, "%s", why);
        return;
    }
    char name[64], headers[160];
    export_filename(f, t, name);
    snprintf(headers, sizeof headers,
             "Content-Disposition: attachment; filename=\"%s\"\r\nCache-Control: no-store\r\n",
             name);
    struct export *x = export_new(r->app, f, t);
    http_respond_stream(r->http, 200, export_content_type(f), headers, produce, finished, x);
    api_req_free(r);
}
