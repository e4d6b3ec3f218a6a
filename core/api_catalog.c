/* Handlers for systems, requirements and profiles. */
#include "api.h"
#include "app.h"
#include "catalog.h"
#include "domain.h"

typedef json_t *(*to_json_fn)(struct app *, int64_t);

static void reply_one(struct api_req *r, int status, int64_t id, to_json_fn fn, const char *what)
{
    json_t *o = fn(r->app, id);
    if (!o)
        api_error(r, 404, "not_found", NULL, "there is no %s %lld", what, (long long)id);
    else
        api_reply(r, status, o);
}

static void created(struct api_req *r, int rc, const struct derr *e, int64_t id, to_json_fn fn,
                    const char *what)
{
    if (rc)
        api_derr(r, e);
    else
        reply_one(r, 201, id, fn, what);
}

static void updated(struct api_req *r, int rc, const struct derr *e, to_json_fn fn,
                    const char *what)
{
    if (rc)
        api_derr(r, e);
    else
        reply_one(r, 200, r->id, fn, what);
}

static void deleted(struct api_req *r, int rc, const struct derr *e)
{
    if (rc)
        api_derr(r, e);
    else
        api_reply(r, 204, NULL);
}

void api_systems_list(struct api_req *r)
{
    api_reply(r, 200, json_pack("{s:o}", "items", catalog_system_list(r->app)));
}

void api_systems_create(struct api_req *r)
{
    struct derr e;
    int64_t id = 0;
    int rc = catalog_system_create(r->app, r->body, &id, &e);
    created(r, rc, &e, id, catalog_system_json, "system");
}

void api_system_get(struct api_req *r) { reply_one(r, 200, r->id, catalog_system_json, "system"); }

void api_system_patch(struct api_req *r)
{
    struct derr e;
    int rc = catalog_system_update(r->app, r->id, r->body, &e);
    updated(r, rc, &e, catalog_system_json, "system");
}

void api_system_delete(struct api_req *r)
{
    struct derr e;
    int rc = catalog_system_delete(r->app, r->id, &e);
    deleted(r, rc, &e);
}

void api_requirements_list(struct api_req *r)
{
    json_t *sys = catalog_system_json(r->app, r->id);
    if (!sys) {
        api_error(r, 404, "not_found", NULL, "there is no system %lld", (long long)r->id);
        return;
    }
    json_decref(sys);
    api_reply(r, 200, json_pack("{s:o}", "items", catalog_requirement_list(r->app, r->id)));
}

void api_requirements_create(struct api_req *r)
{
    struct derr e;
    int64_t id = 0;
    int rc = catalog_requirement_create(r->app, r->id, r->body, &id, &e);
    created(r, rc, &e, id, catalog_requirement_json, "requirement");
}

void api_requirement_get(struct api_req *r)
{
    reply_one(r, 200, r->id, catalog_requirement_json, "requirement");
}

void api_requirement_patch(struct api_req *r)
{
    struct derr e;
    int rc = catalog_requirement_update(r->app, r->id, r->body, &e);
    updated(r, rc, &e, catalog_requirement_json, "requirement");
}

void api_requirement_delete(struct api_req *r)
{
    struct derr e;
    int rc = catalog_requirement_delete(r->app, r->id, &e);
    deleted(r, rc, &e);
}

void api_profiles_list(struct api_req *r)
{
    api_reply(r, 200, json_pack("{s:o}", "items", catalog_profile_list(r->app)));
}

void api_profiles_create(struct api_req *r)
{
    struct derr e;
    int64_t id = 0;
    int rc = catalog_profile_create(r->app, r->body, &id, &e);
    created(r, rc, &e, id, catalog_profile_json, "profile");
}

void api_profile_get(struct api_req *r) { reply_one(r, 200, r->id, catalog_profile_json, "profile"); }

void api_profile_patch(struct api_req *r)
{
    struct derr e;
    int rc = catalog_profile_update(r->app, r->id, r->body, &e);
    updated(r, rc, &e, catalog_profile_json, "profile");
}

void api_profile_delete(struct api_req *r)
{
    struct derr e;
    int rc = catalog_profile_delete(r->app, r->id, &e);
    deleted(r, rc, &e);
}
