/* The admin's page of the audit trail, /admin/audit: the same filters as GET /api/v1/admin/audit
 * in a GET form, newest first, each entry's values shown as the fields that changed (field: old
 * -> new). Read only: there is nothing to change here. Admin only; loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "http.h"
#include "oslo.h"
#include "router.h"
#include "util.h"
#include "web.h"

/* What the entity select offers: the audited tables and the explicit entries' entities. */
static const char *const entities[] = {
    "employee", "department", "assignment", "assessment", "system", "requirement", "profile",
    "profile_level", "course", "course_requirement", "course_prerequisite", "session",
    "enrolment", "evaluation_question", "evaluation_answer", "cv_entry", "login", "rules",
    "import", NULL};

/* The actions the locales name; another (a later module's) is shown as it is written. */
static const char *const actions[] = {"insert", "update", "delete", "login", "login_failed",
                                      "reload", "reload_failed", "import", NULL};

/* "audit.PREFIX.name" when name is one of known, else null (the page shows the name itself). */
static json_t *label(const char *prefix, const char *const *known, const char *name)
{
    for (size_t i = 0; name && known[i]; i++)
        if (!strcmp(known[i], name))
            return json_sprintf("audit.%s.%s", prefix, name);
    return json_null();
}

static const char *const filter_names[] = {"employee_id", "actor_id", "entity", "entity_id",
                                           "from", "to", NULL};

/* A value as the page shows it: text, or null for none. Times (fields named *_at) in Norwegian
 * time; lists and objects as compact JSON. Owned. */
static json_t *shown(const char *field, json_t *v)
{
    if (!v || json_is_null(v))
        return json_null();
    if (json_is_string(v))
        return json_incref(v);
    size_t n = strlen(field);
    if (json_is_integer(v) && n > 3 && !strcmp(field + n - 3, "_at")) {
        char t[20];
        oslo_wall(json_integer_value(v), t);
        t[10] = ' ';
        return json_string(t);
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *out = json_string(s ? s : "");
    free(s);
    return out;
}

/* The fields an entry changed, in the row's column order: [{field, old, new}], and for roles
 * (a bit set) old_roles/new_roles as lists of role names the page translates. */
static json_t *changes_of(json_t *before, json_t *after)
{
    json_t *out = json_array();
    json_t *keys = json_is_object(after) ? after : before;
    const char *k;
    json_t *v;
    json_object_foreach(keys, k, v) {
        json_t *o = json_is_object(before) ? json_object_get(before, k) : NULL;
        json_t *n = json_is_object(after) ? json_object_get(after, k) : NULL;
        /* an update lists what changed; a new or deleted row every field it had */
        if (json_is_object(before) && json_is_object(after) && json_equal(o, n))
            continue;
        if ((!o || json_is_null(o)) && (!n || json_is_null(n)))
            continue;
        json_t *c = json_pack("{s:s, s:o, s:o}", "field", k, "old", shown(k, o), "new",
                              shown(k, n));
        if (!strcmp(k, "roles")) {
            if (json_is_integer(o))
                json_object_set_new(c, "old_roles",
                                    auth_roles_json((unsigned)json_integer_value(o)));
            if (json_is_integer(n))
                json_object_set_new(c, "new_roles",
                                    auth_roles_json((unsigned)json_integer_value(n)));
        }
        json_array_append_new(out, c);
    }
    /* the keys only a deleted field had (none today, but a later schema may drop one) */
    if (json_is_object(before) && json_is_object(after)) {
        json_object_foreach(before, k, v) {
            if (!json_object_get(after, k) && !json_is_null(v))
                json_array_append_new(out, json_pack("{s:s, s:o, s:n}", "field", k, "old",
                                                     shown(k, v), "new"));
        }
    }
    return out;
}

/* The entries as the page shows them: local times and the changes. Consumes list's items. */
static json_t *page_items(json_t *items)
{
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e) {
        const char *at = json_string_value(json_object_get(e, "at"));
        int y, m, d, hh, mm, ss;
        if (at && sscanf(at, "%d-%d-%dT%d:%d:%dZ", &y, &m, &d, &hh, &mm, &ss) == 6) {
            char t[20];
            oslo_wall(oslo_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss, t);
            json_object_set_new(e, "local_at", json_string(t));
        }
        json_object_set_new(e, "action_label", label("action", actions,
                                                     json_string_value(json_object_get(e, "action"))));
        json_object_set_new(e, "entity_label", label("entity", entities,
                                                     json_string_value(json_object_get(e, "entity"))));
        json_object_set_new(e, "changes", changes_of(json_object_get(e, "before"),
                                                     json_object_get(e, "after")));
        json_object_del(e, "before");
        json_object_del(e, "after");
    }
    return items;
}

/* The locale key of the message for a filter the query got wrong. */
static const char *error_key(const char *field)
{
    if (!strcmp(field, "from") || !strcmp(field, "to"))
        return "audit.error.time";
    if (!strcmp(field, "entity"))
        return "audit.error.entity";
    if (!strcmp(field, "limit"))
        return "audit.error.limit";
    return "audit.error.id";
}

static void page_audit(struct api_req *r)
{
    json_t *filter = json_object();
    for (size_t i = 0; filter_names[i]; i++) {
        char *v = http_query_param(r->http, filter_names[i]);
        json_object_set_new(filter, filter_names[i], json_string(v ? util_utf8_clean(v) : ""));
        free(v);
    }
    json_t *opts = json_array();
    for (size_t i = 0; entities[i]; i++)
        json_array_append_new(opts, json_string(entities[i]));
    json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:b}", "title", "audit.title", "filter",
                             filter, "entities", opts, "errors", json_object(), "paged", 0);
    struct audit_filter f;
    const char *field = NULL;
    char *msg = NULL;
    if (audit_filter_from_query(r->http, &f, &field, &msg)) {
        free(msg);
        /* "to is before from" is about the pair: the message goes next to "to" */
        if (!strcmp(field, "to") && f.from && f.to && f.from > f.to)
            json_object_set_new(json_object_get(data, "errors"), field,
                                json_string("audit.error.order"));
        else
            json_object_set_new(json_object_get(data, "errors"), field,
                                json_string(error_key(field)));
        json_object_set_new(data, "items", json_array());
        json_object_set_new(data, "next_before_id", json_null());
        page_render(r, 422, "audit.html", data);
        return;
    }
    f.limit = AUDIT_LIMIT_DEFAULT;   /* a page shows 50, whatever the query asks */
    json_t *list = audit_list(r->app->db, &f);
    if (!list) {
        json_decref(data);
        page_error(r, 500, "error.internal");
        return;
    }
    json_object_set(data, "items", page_items(json_object_get(list, "items")));
    json_object_set(data, "next_before_id", json_object_get(list, "next_before_id"));
    json_object_set_new(data, "paged", json_boolean(f.before_id > 0));   /* a page past the first */
    json_decref(list);
    page_render(r, 200, "audit.html", data);
}

const struct route page_audit_routes[] = {
    {"GET", "/admin/audit", page_audit, ROLE_ADMIN},
};
const size_t page_audit_nroutes = sizeof page_audit_routes / sizeof page_audit_routes[0];
