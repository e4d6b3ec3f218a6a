/* Handlers for the trend: a snapshot by hand, and one entity's series over months.
 *
 * Who sees a series is decided as GET /api/v1/gaps decides who sees a roll-up (api_assess.c
 * api_gaps): advisers and admins anything; a manager the departments within the subtrees they
 * manage (the organisation, a system or a profile as a whole reach beyond them, so no); an
 * employee nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "course.h"
#include "domain.h"
#include "http.h"
#include "oslo.h"
#include "trend.h"

/* POST /api/v1/admin/snapshots: 201 {id, taken_at, period}. */
void api_snapshots_create(struct api_req *r)
{
    static const char *const allowed[] = {NULL};
    struct derr e;
    if (dom_only(r->body, allowed, &e)) {
        api_derr(r, &e);
        return;
    }
    int64_t now = util_now(), id;
    char *err = NULL;
    if (trend_snapshot(r->app, "manual", now, &id, &err)) {
        api_error(r, 500, "internal", NULL, "%s", err);
        free(err);
        return;
    }
    char at[21], period[8];
    util_iso8601(now, at);
    oslo_month(now, period);
    api_reply(r, 201, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "taken_at", at,
                                "period", period));
}

static const struct {
    const char *name, *exists_sql;
} dimensions[] = {
    {"organisation", NULL},
    {"department", "SELECT 1 FROM department WHERE id = ?"},
    {"system", "SELECT 1 FROM system WHERE id = ?"},
    {"profile", "SELECT 1 FROM profile WHERE id = ?"},
};
#define NDIMENSIONS (sizeof dimensions / sizeof dimensions[0])

/* GET /api/v1/trend?dimension=organisation|department|system|profile&id=N[&since=ISO] */
void api_trend(struct api_req *r)
{
    char *dim_s = http_query_param(r->http, "dimension");
    int dim = -1;
    for (size_t i = 0; dim_s && i < NDIMENSIONS; i++)
        if (!strcmp(dim_s, dimensions[i].name))
            dim = (int)i;
    free(dim_s);
    if (dim < 0) {
        api_error(r, 422, "invalid", "dimension",
                  "'dimension' must be one of organisation, department, system, profile");
        return;
    }
    int64_t id = 0;
    char *id_s = http_query_param(r->http, "id");
    int bad_id = id_s && (util_parse_i64(id_s, &id) || id <= 0);
    free(id_s);
    if (dimensions[dim].exists_sql) {
        if (bad_id || !id) {
            api_error(r, 422, "invalid", "id", "'id' must be the positive integer id of a %s",
                      dimensions[dim].name);
            return;
        }
        if (!dom_exists(r->app->db, dimensions[dim].exists_sql, id)) {
            api_error(r, 422, "invalid", "id", "there is no %s %lld", dimensions[dim].name,
                      (long long)id);
            return;
        }
    } else {
        id = 0;
    }
    int64_t since = 0;
    char *since_s = http_query_param(r->http, "since");
    int bad_since = since_s && course_parse_utc(since_s, &since);
    free(since_s);
    if (bad_since) {
        api_error(r, 422, "invalid", "since", "'since' must be a UTC time like "
                                              "2026-11-01T00:00:00Z");
        return;
    }
    if (!api_is(r, ROLE_ADVISER | ROLE_ADMIN)) {
        if (!r->who.nmanaged) {
            api_forbidden(r, "see the trend (managers, advisers and admins do)");
            return;
        }
        if (strcmp(dimensions[dim].name, "department")) {
            api_forbidden(r, "see the trend beyond your departments (advisers and admins do)");
            return;
        }
        if (!api_manages_department(r, id)) {
            api_forbidden(r, "see the trend of a department you do not manage");
            return;
        }
    }
    json_t *o = json_pack("{s:s, s:o, s:o}", "dimension", dimensions[dim].name, "id",
                          id ? json_integer(id) : json_null(), "items",
                          trend_series(r->app, dimensions[dim].name, id, since));
    api_reply(r, 200, o);
}
