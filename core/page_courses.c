/* Pages for the adviser's courses (see web.h): the courses with a form to add one, one course
 * (what it is, the requirements it raises, its prerequisites, its sessions), whom the matching
 * policy proposes for it with a form that invites a selection to a session, and its results
 * (the evaluation and the effect). And the admin's outbox: what mail is queued, sent, failing.
 *
 * Every read and write goes through course.c, as api_course.c's handlers do; these pages only
 * turn a form into the JSON the domain takes and a derr back into a message next to its field.
 * Times are typed and shown in Norwegian time (Europe/Oslo) and cross to the domain as UTC ISO
 * strings. Loop thread only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "catalog.h"
#include "course.h"
#include "db.h"
#include "oslo.h"
#include "domain.h"
#include "http.h"
#include "mail.h"
#include "org.h"
#include "router.h"
#include "util.h"
#include "web.h"

#define ADVISER (ROLE_ADVISER | ROLE_ADMIN)
#define MATCHES_SHOWN 150    /* proposals on one page; a department filter narrows the rest */
#define OUTBOX_SHOWN 50

/* --- small helpers -------------------------------------------------------------------------- */

/* ?done=X after a redirect: the flash key courses.flash.X, for the X we know only. Owned. */
static json_t *flash_of(const struct api_req *r)
{
    static const char *const known[] = {"created", "saved", "requirements_saved",
                                        "prerequisites_saved", "session_created",
                                        "session_saved", "session_cancelled",
                                        "question_created", "question_archived", NULL};
    char *done = http_query_param(r->http, "done");
    json_t *flash = json_false();
    for (size_t i = 0; done && known[i]; i++) {
        if (!strcmp(done, known[i])) {
            json_decref(flash);
            flash = json_sprintf("courses.flash.%s", known[i]);
            break;
        }
    }
    free(done);
    return flash;
}

static int blank(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* What someone typed, as a JSON string (invalid UTF-8 cleaned). Owned. */
static json_t *typed(const char *s)
{
    if (!s)
        return json_string("");
    if (util_utf8_valid(s))
        return json_string(s);
    char *c = util_utf8_clean(xstrdup(s));
    json_t *j = json_string(c);
    free(c);
    return j;
}

static int64_t id_of(const json_t *o)
{
    return json_integer_value(json_object_get(o, "id"));
}

/* A positive id from a form or query value; 0 when blank, -1 when not an id. */
static int64_t id_value(const char *s)
{
    int64_t v;
    if (blank(s))
        return 0;
    return util_parse_i64(s, &v) || v <= 0 ? -1 : v;
}

/* A failure that no field explains. Frees r. */
static void fail(struct api_req *r, const struct derr *e)
{
    if (e->status == 404) {
        page_error(r, 404, "error.not_found");
        return;
    }
    fprintf(stderr, "evne: course page %s %s: %s\n", r->http->method, r->http->path, e->message);
    page_error(r, e->status >= 400 && e->status < 600 ? e->status : 500, "error.internal");
}

static void redirect_fmt(struct api_req *r, const char *fmt, long long id, const char *query)
{
    char path[120];
    snprintf(path, sizeof path, fmt, id);
    char *to = xasprintf("%s%s%s", path, query ? "?" : "", query ? query : "");
    page_redirect(r, to);
    free(to);
}

/* "1", "2.5" or "2,5" -> a number above 0; -1 when it is not one. */
static double hours_value(const char *s)
{
    char tmp[32];
    if (!s || strlen(s) >= sizeof tmp)
        return -1;
    snprintf(tmp, sizeof tmp, "%s", s);
    for (char *p = tmp; *p; p++)
        if (*p == ',')
            *p = '.';
    char *end;
    double v = strtod(tmp, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == tmp || *end || !(v > 0) || v > 1000)
        return -1;
    return v;
}

/* system id -> name, of every system. Owned object. */
static json_t *system_names(struct app *a)
{
    json_t *systems = catalog_system_list(a), *names = json_object();
    size_t i;
    json_t *s;
    json_array_foreach(systems, i, s) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)id_of(s));
        json_object_set(names, key, json_object_get(s, "name"));
    }
    json_decref(systems);
    return names;
}

/* The active systems for a select: [{id, name}]. Owned. */
static json_t *active_systems(struct app *a)
{
    json_t *systems = catalog_system_list(a), *out = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(systems, i, s)
        if (!json_is_true(json_object_get(s, "archived")))
            json_array_append_new(out, json_pack("{s:I, s:O}", "id", (json_int_t)id_of(s), "name",
                                                 json_object_get(s, "name")));
    json_decref(systems);
    return out;
}

/* Norwegian time of an ISO UTC string: local_date "YYYY-MM-DD" and local_time "HH:MM" set on o
 * under prefix_date and prefix_time. */
static void set_local(json_t *o, const char *iso, const char *date_key, const char *time_key)
{
    int64_t t;
    if (!iso || course_parse_utc(iso, &t))
        return;
    char s[17];
    oslo_wall(t, s);
    char date[11], hm[6];
    memcpy(date, s, 10);
    date[10] = '\0';
    memcpy(hm, s + 11, 5);
    hm[5] = '\0';
    json_object_set_new(o, date_key, json_string(date));
    json_object_set_new(o, time_key, json_string(hm));
}

/* Sessions of a course with their Norwegian times. Owned. */
static json_t *sessions_of(struct app *a, int64_t course_id)
{
    json_t *list = course_session_list(a, course_id);
    size_t i;
    json_t *s;
    int64_t now = util_now();
    json_array_foreach(list, i, s) {
        set_local(s, json_string_value(json_object_get(s, "starts_at")), "local_date",
                  "local_start");
        const char *ends = json_string_value(json_object_get(s, "ends_at"));
        set_local(s, ends, "local_end_date", "local_end");
        int64_t t = 0;
        course_parse_utc(json_string_value(json_object_get(s, "starts_at")), &t);
        json_object_set_new(s, "coming", json_boolean(t > now));
    }
    return list;
}

/* "YYYY-MM-DD" and "HH:MM" in Norwegian time -> an ISO UTC string in out; -1 when not valid. */
static int oslo_to_utc(const char *date, const char *hm, char out[21])
{
    if (!date || !hm || strlen(date) != 10 || course_parse_date(date))
        return -1;
    if (strlen(hm) != 5 || !isdigit((unsigned char)hm[0]) || !isdigit((unsigned char)hm[1]) ||
        hm[2] != ':' || !isdigit((unsigned char)hm[3]) || !isdigit((unsigned char)hm[4]))
        return -1;
    int hour = (hm[0] - '0') * 10 + hm[1] - '0', minute = (hm[3] - '0') * 10 + hm[4] - '0';
    if (hour > 23 || minute > 59)
        return -1;
    util_iso8601(oslo_from_local(atoi(date), atoi(date + 5), atoi(date + 8), hour, minute), out);
    return 0;
}

/* --- the courses ---------------------------------------------------------------------------- */

/* Sessions (not cancelled) per course, set on each course of the list as "sessions". */
static void add_session_counts(struct app *a, json_t *courses)
{
    size_t i;
    json_t *c;
    json_array_foreach(courses, i, c)
        json_object_set_new(c, "sessions", json_integer(0));
    sqlite3_stmt *st = db_stmt(a->db, "SELECT course_id, count(*) FROM session WHERE "
                                      "cancelled = 0 GROUP BY course_id");
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t cid = sqlite3_column_int64(st, 0);
        json_array_foreach(courses, i, c)
            if (id_of(c) == cid)
                json_object_set_new(c, "sessions", json_integer(sqlite3_column_int64(st, 1)));
    }
    sqlite3_reset(st);
}

static void courses_page(struct api_req *r, int status, json_t *errors, const struct form *f)
{
    json_t *courses = course_list(r->app), *names = system_names(r->app);
    add_session_counts(r->app, courses);
    size_t i;
    json_t *c;
    json_array_foreach(courses, i, c) {
        json_t *sid = json_object_get(c, "system_id");
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(sid));
        json_t *name = json_is_integer(sid) ? json_object_get(names, key) : NULL;
        json_object_set(c, "system", name ? name : json_false());
    }
    json_decref(names);
    json_t *form = json_pack("{s:o, s:o, s:o, s:o}", "title",
                             typed(f ? form_get(f, "title") : NULL), "description",
                             typed(f ? form_get(f, "description") : NULL), "system_id",
                             typed(f ? form_get(f, "system_id") : NULL), "hours",
                             f ? typed(form_get(f, "hours")) : json_string("3"));
    json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "title", "courses.list.title",
                             "courses", courses, "systems", active_systems(r->app), "form", form,
                             "errors", errors ? errors : json_object(), "flash", flash_of(r));
    page_render(r, status, "courses_list.html", data);
}

static void courses_get(struct api_req *r) { courses_page(r, 200, NULL, NULL); }

/* errors[key] = courses.error.<field> for a derr about one of fields; 0 when about another. */
static int field_error(json_t *errors, const struct derr *e, const char *const *fields)
{
    if (e->status != 422)
        return 0;
    for (size_t i = 0; fields[i]; i++)
        if (!strcmp(e->field, fields[i])) {
            json_object_set_new(errors, fields[i], json_sprintf("courses.error.%s", fields[i]));
            return 1;
        }
    return 0;
}

static void course_create_post(struct api_req *r)
{
    static const char *const fields[] = {"title", "description", "system_id", "hours", NULL};
    const char *title = form_get(r->form, "title"), *description = form_get(r->form, "description");
    int64_t system_id = id_value(form_get(r->form, "system_id"));
    const char *hours_s = form_get(r->form, "hours");
    double hours = blank(hours_s) ? 0 : hours_value(hours_s);
    json_t *errors = json_object();
    if (blank(title))
        json_object_set_new(errors, "title", json_string("courses.error.title_missing"));
    if (system_id < 0)
        json_object_set_new(errors, "system_id", json_string("courses.error.system_id"));
    if (hours < 0)
        json_object_set_new(errors, "hours", json_string("courses.error.hours"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s, s:s}", "title", title, "description",
                                 description ? description : "");
        if (system_id > 0)
            json_object_set_new(body, "system_id", json_integer(system_id));
        if (hours > 0)
            json_object_set_new(body, "hours", json_real(hours));
        struct derr e;
        int64_t id = 0;
        int rc = course_create(r->app, body, &id, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            redirect_fmt(r, "/courses/%lld", (long long)id, "done=created");
            return;
        }
        if (!field_error(errors, &e, fields)) {
            json_decref(errors);
            fail(r, &e);
            return;
        }
    }
    courses_page(r, 422, errors, r->form);
}

/* --- one course ------------------------------------------------------------------------------ */

/* The requirements a course may raise: those of its system, or of every system when it has
 * none; active ones, and any it already covers. [{id, text, system, target}]. Owned. */
static json_t *requirement_rows(struct app *a, const json_t *course, const json_t *levels)
{
    json_t *covered = json_object_get(course, "requirements");
    json_t *rows = json_array();
    json_t *sid = json_object_get(course, "system_id");
    json_t *systems = catalog_system_list(a);
    size_t i, j;
    json_t *s, *q, *c;
    json_array_foreach(systems, i, s) {
        if (json_is_integer(sid) ? id_of(s) != json_integer_value(sid)
                                 : json_is_true(json_object_get(s, "archived")))
            continue;
        json_t *reqs = catalog_requirement_list(a, id_of(s));
        json_array_foreach(reqs, j, q) {
            int target = 0;
            size_t k;
            json_array_foreach(covered, k, c)
                if (json_integer_value(json_object_get(c, "requirement_id")) == id_of(q))
                    target = (int)json_integer_value(json_object_get(c, "target_level"));
            if (json_is_true(json_object_get(q, "archived")) && !target)
                continue;
            char key[32];
            snprintf(key, sizeof key, "t%lld", (long long)id_of(q));
            json_t *t = levels ? json_object_get(levels, key) : NULL;
            json_array_append_new(rows, json_pack("{s:I, s:O, s:O, s:o}", "id",
                                                  (json_int_t)id_of(q), "text",
                                                  json_object_get(q, "text"), "system",
                                                  json_object_get(s, "name"), "target",
                                                  t ? json_incref(t) : json_sprintf("%d", target)));
        }
        json_decref(reqs);
    }
    json_decref(systems);
    return rows;
}

/* The page of course id. errors (consumed; may be NULL): field -> message key; f (borrowed; may
 * be NULL): the form posted, shown again; which: the form it came from ("edit", "requirements",
 * "prerequisites", "session", "question"), so that only that form shows what was typed. */
static void course_page(struct api_req *r, int64_t id, int status, json_t *errors,
                        const struct form *f, const char *which)
{
    json_t *course = course_json(r->app, id);
    if (!errors)
        errors = json_object();
    if (!course) {
        json_decref(errors);
        page_error(r, 404, "error.not_found");
        return;
    }
    if (!which)
        which = "";
    /* the edit form: what is stored, or what was typed */
    json_t *edit = json_object();
    static const char *const text_fields[] = {"title", "description", "elearning_during",
                                              "elearning_after", "series", NULL};
    for (size_t i = 0; text_fields[i]; i++) {
        json_t *v = json_object_get(course, text_fields[i]);
        json_object_set_new(edit, text_fields[i],
                            !strcmp(which, "edit") ? typed(form_get(f, text_fields[i]))
                            : json_is_string(v) ? json_incref(v) : json_string(""));
    }
    if (!strcmp(which, "edit")) {
        json_object_set_new(edit, "system_id", typed(form_get(f, "system_id")));
        json_object_set_new(edit, "hours", typed(form_get(f, "hours")));
        json_object_set_new(edit, "series_order", typed(form_get(f, "series_order")));
        json_object_set_new(edit, "archived", json_boolean(form_get(f, "archived") != NULL));
    } else {
        json_t *sid = json_object_get(course, "system_id"), *so = json_object_get(course,
                                                                                  "series_order");
        json_object_set_new(edit, "system_id", json_is_integer(sid)
                                ? json_sprintf("%lld", (long long)json_integer_value(sid))
                                : json_string(""));
        double h = json_number_value(json_object_get(course, "hours"));
        char hs[32];
        snprintf(hs, sizeof hs, "%g", h);
        if (!strcmp(r->lang, "nb"))
            for (char *p = hs; *p; p++)
                if (*p == '.')
                    *p = ',';
        json_object_set_new(edit, "hours", json_string(hs));
        json_object_set_new(edit, "series_order", json_is_integer(so)
                                ? json_sprintf("%lld", (long long)json_integer_value(so))
                                : json_string(""));
        json_object_set(edit, "archived", json_object_get(course, "archived"));
    }
    /* the requirements' target levels */
    json_t *levels = NULL;
    if (!strcmp(which, "requirements")) {
        levels = json_object();
        for (size_t i = 0; i < form_size(f); i++)
            if (form_key(f, i)[0] == 't')
                json_object_set_new(levels, form_key(f, i), typed(form_value(f, i)));
    }
    json_t *reqs = requirement_rows(r->app, course, levels);
    json_decref(levels);
    /* the prerequisites: every other course, checked as stored or as posted */
    json_t *all = course_list(r->app), *prereqs = json_array();
    json_t *stored = json_object_get(course, "prerequisites");
    size_t i, k;
    json_t *c, *p;
    json_array_foreach(all, i, c) {
        if (id_of(c) == id)
            continue;
        int checked = 0;
        if (!strcmp(which, "prerequisites")) {
            for (size_t n = 0; n < form_size(f); n++)
                if (!strcmp(form_key(f, n), "prerequisite") &&
                    id_value(form_value(f, n)) == id_of(c))
                    checked = 1;
        } else {
            json_array_foreach(stored, k, p)
                if (json_integer_value(p) == id_of(c))
                    checked = 1;
        }
        if (json_is_true(json_object_get(c, "archived")) && !checked)
            continue;
        json_array_append_new(prereqs, json_pack("{s:I, s:O, s:b, s:O}", "id",
                                                 (json_int_t)id_of(c), "title",
                                                 json_object_get(c, "title"), "checked", checked,
                                                 "archived", json_object_get(c, "archived")));
    }
    json_decref(all);
    /* the new session */
    static const char *const session_fields[] = {"date", "start", "end", "place", "trainer",
                                                 "capacity", NULL};
    json_t *session = json_object();
    for (size_t n = 0; session_fields[n]; n++)
        json_object_set_new(session, session_fields[n],
                            !strcmp(which, "session") ? typed(form_get(f, session_fields[n]))
                                                      : json_string(""));
    if (strcmp(which, "session")) {
        json_object_set_new(session, "start", json_string("09:00"));
        json_object_set_new(session, "end", json_string("12:00"));
        json_object_set_new(session, "capacity", json_string("12"));
    }
    /* the evaluation questions and the new one */
    int q_form = !strcmp(which, "question");
    const char *kind = q_form ? form_get(f, "kind") : NULL;
    json_t *question = json_pack("{s:o, s:s}", "text", typed(q_form ? form_get(f, "text") : NULL),
                                 "kind", kind && !strcmp(kind, "text") ? "text" : "scale");
    json_t *data = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "title",
        "courses.course.title", "questions", course_questions(r->app, id), "question", question,
        "course", course, "edit", edit, "requirements", reqs, "prerequisites", prereqs,
        "sessions", sessions_of(r->app, id), "session", session, "systems",
        active_systems(r->app), "errors", errors, "flash", flash_of(r));
    page_render(r, status, "courses_course.html", data);
}

static void course_get(struct api_req *r) { course_page(r, r->id, 200, NULL, NULL, NULL); }

static int course_known(struct api_req *r)
{
    if (dom_exists(r->app->db, "SELECT 1 FROM course WHERE id = ?", r->id))
        return 1;
    page_error(r, 404, "error.not_found");
    return 0;
}

static void course_save(struct api_req *r)
{
    static const char *const fields[] = {"title", "description", "system_id", "hours",
                                         "elearning_during", "elearning_after", "series",
                                         "series_order", NULL};
    if (!course_known(r))
        return;
    const struct form *f = r->form;
    const char *title = form_get(f, "title");
    int64_t system_id = id_value(form_get(f, "system_id"));
    const char *hours_s = form_get(f, "hours"), *order_s = form_get(f, "series_order");
    double hours = hours_value(hours_s);
    int64_t order = 0;
    int bad_order = !blank(order_s) && (util_parse_i64(order_s, &order) || order < 1);
    json_t *errors = json_object();
    if (blank(title))
        json_object_set_new(errors, "title", json_string("courses.error.title_missing"));
    if (system_id < 0)
        json_object_set_new(errors, "system_id", json_string("courses.error.system_id"));
    if (hours < 0)
        json_object_set_new(errors, "hours", json_string("courses.error.hours"));
    if (bad_order)
        json_object_set_new(errors, "series_order", json_string("courses.error.series_order"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s, s:s, s:f, s:b}", "title", title, "description",
                                 form_get(f, "description") ? form_get(f, "description") : "",
                                 "hours", hours, "archived", form_get(f, "archived") != NULL);
        json_object_set_new(body, "system_id", system_id > 0 ? json_integer(system_id)
                                                             : json_null());
        static const char *const nullable[] = {"elearning_during", "elearning_after", "series",
                                               NULL};
        for (size_t i = 0; nullable[i]; i++) {
            const char *v = form_get(f, nullable[i]);
            json_object_set_new(body, nullable[i], blank(v) ? json_null() : json_string(v));
        }
        json_object_set_new(body, "series_order", blank(order_s) ? json_null()
                                                                 : json_integer(order));
        struct derr e;
        int rc = course_update(r->app, r->id, body, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=saved");
            return;
        }
        if (!field_error(errors, &e, fields)) {
            if (e.status != 422 && e.status != 409) {
                json_decref(errors);
                fail(r, &e);
                return;
            }
            json_object_set_new(errors, "general", json_string(
                !strncmp(e.field, "requirements", 12) ? "courses.error.system_requirements"
                                                      : "courses.error.conflict"));
        }
    }
    course_page(r, r->id, 422, errors, f, "edit");
}

static void requirements_save(struct api_req *r)
{
    json_t *course = course_json(r->app, r->id);
    if (!course) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *rows = requirement_rows(r->app, course, NULL);
    json_decref(course);
    json_t *errors = json_object(), *list = json_array();
    json_t *ids = json_array();   /* the requirement of each item of list */
    for (size_t i = 0; i < form_size(r->form); i++) {
        const char *key = form_key(r->form, i), *val = form_value(r->form, i);
        int64_t rid;
        if (key[0] != 't')
            continue;
        int known = util_parse_i64(key + 1, &rid) == 0;
        size_t j;
        json_t *row;
        int found = 0;
        json_array_foreach(rows, j, row)
            found |= known && id_of(row) == rid;
        if (!found) {
            json_object_set_new(errors, "general", json_string("courses.error.unknown_requirement"));
            continue;
        }
        if (blank(val) || !strcmp(val, "0"))
            continue;
        if (strlen(val) != 1 || val[0] < '1' || val[0] > '4') {
            json_object_set_new(errors, key, json_string("courses.error.target_level"));
            continue;
        }
        json_array_append_new(list, json_pack("{s:I, s:i}", "requirement_id", (json_int_t)rid,
                                              "target_level", val[0] - '0'));
        json_array_append_new(ids, json_integer(rid));
    }
    json_decref(rows);
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:O}", "requirements", list);
        struct derr e;
        int rc = course_update(r->app, r->id, body, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            json_decref(list);
            json_decref(ids);
            redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=requirements_saved");
            return;
        }
        size_t n;
        if (e.status == 422 && sscanf(e.field, "requirements.%zu", &n) == 1 &&
            n < json_array_size(ids)) {
            char key[32];
            snprintf(key, sizeof key, "t%lld",
                     (long long)json_integer_value(json_array_get(ids, n)));
            json_object_set_new(errors, key, json_string("courses.error.requirement"));
        } else if (e.status == 422 || e.status == 409) {
            json_object_set_new(errors, "general", json_string("courses.error.conflict"));
        } else {
            json_decref(errors);
            json_decref(list);
            json_decref(ids);
            fail(r, &e);
            return;
        }
    }
    json_decref(list);
    json_decref(ids);
    course_page(r, r->id, 422, errors, r->form, "requirements");
}

static void prerequisites_save(struct api_req *r)
{
    if (!course_known(r))
        return;
    json_t *errors = json_object(), *list = json_array();
    for (size_t i = 0; i < form_size(r->form); i++) {
        if (strcmp(form_key(r->form, i), "prerequisite"))
            continue;
        int64_t v = id_value(form_value(r->form, i));
        if (v <= 0)
            json_object_set_new(errors, "prerequisites",
                                json_string("courses.error.prerequisite"));
        else
            json_array_append_new(list, json_integer(v));
    }
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:O}", "prerequisites", list);
        struct derr e;
        int rc = course_update(r->app, r->id, body, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            json_decref(list);
            redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=prerequisites_saved");
            return;
        }
        if (e.status != 422 && e.status != 409) {
            json_decref(errors);
            json_decref(list);
            fail(r, &e);
            return;
        }
        json_object_set_new(errors, "prerequisites", json_string("courses.error.prerequisite"));
    }
    json_decref(list);
    course_page(r, r->id, 422, errors, r->form, "prerequisites");
}

/* The session form (date, start, end in Norwegian time, place, trainer, capacity) as the body
 * the domain takes; NULL with errors set when a field is not valid. Owned. */
static json_t *session_body(const struct form *f, json_t *errors)
{
    const char *date = form_get(f, "date"), *start = form_get(f, "start"),
               *end = form_get(f, "end"), *cap_s = form_get(f, "capacity");
    char starts_at[21], ends_at[21];
    int64_t capacity = 0;
    if (!date || course_parse_date(date) || strlen(date) != 10)
        json_object_set_new(errors, "date", json_string(blank(date) ? "courses.error.date_missing"
                                                                    : "courses.error.date"));
    else if (oslo_to_utc(date, start, starts_at))
        json_object_set_new(errors, "start", json_string("courses.error.time"));
    if (!json_object_get(errors, "date") && oslo_to_utc(date, end, ends_at))
        json_object_set_new(errors, "end", json_string("courses.error.time"));
    if (blank(cap_s) || util_parse_i64(cap_s, &capacity) || capacity < 1)
        json_object_set_new(errors, "capacity", json_string("courses.error.capacity"));
    if (!json_object_size(errors) && strcmp(ends_at, starts_at) <= 0)
        json_object_set_new(errors, "end", json_string("courses.error.end_before_start"));
    if (json_object_size(errors))
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "starts_at", starts_at, "ends_at", ends_at,
                     "place", form_get(f, "place") ? form_get(f, "place") : "", "trainer",
                     form_get(f, "trainer") ? form_get(f, "trainer") : "", "capacity",
                     (json_int_t)capacity);
}

/* A derr of a session write as a message next to its field (or "session"); 0 when it is a
 * failure no field explains (the caller answers it with fail). */
static int session_error(json_t *errors, const struct derr *e)
{
    static const char *const map[][2] = {{"starts_at", "start"}, {"ends_at", "end"},
                                         {"place", "place"}, {"trainer", "trainer"},
                                         {"capacity", "capacity"}};
    for (size_t i = 0; e->status == 422 && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(e->field, map[i][0])) {
            json_object_set_new(errors, map[i][1], json_sprintf("courses.error.session_%s",
                                                                map[i][1]));
            return 1;
        }
    if (e->status != 409 && e->status != 422)
        return 0;
    json_object_set_new(errors, "session", json_string(e->status == 409
                            ? "courses.error.course_archived" : "courses.error.conflict"));
    return 1;
}

static void session_create_post(struct api_req *r)
{
    if (!course_known(r))
        return;
    json_t *errors = json_object();
    json_t *body = session_body(r->form, errors);
    if (body) {
        struct derr e;
        int64_t sid = 0;
        int rc = course_session_create(r->app, r->id, body, &sid, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=session_created");
            return;
        }
        if (!session_error(errors, &e)) {
            json_decref(errors);
            fail(r, &e);
            return;
        }
    }
    course_page(r, r->id, 422, errors, r->form, "session");
}

/* --- evaluation questions -------------------------------------------------------------------- */

static void question_create_post(struct api_req *r)
{
    if (!course_known(r))
        return;
    const char *text = form_get(r->form, "text"), *kind = form_get(r->form, "kind");
    json_t *errors = json_object();
    if (blank(text))
        json_object_set_new(errors, "question_text", json_string("courses.error.question_text"));
    if (!kind || (strcmp(kind, "scale") && strcmp(kind, "text")))
        json_object_set_new(errors, "question_kind", json_string("courses.error.question_kind"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:s, s:s}", "text", text, "kind", kind);
        struct derr e;
        int64_t qid = 0;
        int rc = course_question_create(r->app, r->id, body, &qid, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=question_created");
            return;
        }
        if (e.status != 422 && e.status != 409) {
            json_decref(errors);
            fail(r, &e);
            return;
        }
        json_object_set_new(errors, !strcmp(e.field, "kind") ? "question_kind" : "question_text",
                            json_string(!strcmp(e.field, "kind") ? "courses.error.question_kind"
                                                                 : "courses.error.question_text"));
    }
    course_page(r, r->id, 422, errors, r->form, "question");
}

static void question_archive_post(struct api_req *r)
{
    json_t *q = course_question_json(r->app, r->id2);
    int ours = q && json_integer_value(json_object_get(q, "course_id")) == r->id &&
               !json_is_true(json_object_get(q, "global"));
    json_decref(q);
    if (!ours) {
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *body = json_pack("{s:b}", "archived", 1);
    struct derr e;
    int rc = course_question_update(r->app, r->id2, body, &e);
    json_decref(body);
    if (rc) {
        fail(r, &e);
        return;
    }
    redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=question_archived");
}

/* --- one session: edit, cancel ---------------------------------------------------------------- */

/* Session r->id2 of course r->id with its Norwegian times, or NULL after a 404. Owned. */
static json_t *session_known(struct api_req *r)
{
    json_t *s = course_session_json(r->app, r->id2);
    if (s && json_integer_value(json_object_get(s, "course_id")) == r->id) {
        set_local(s, json_string_value(json_object_get(s, "starts_at")), "local_date",
                  "local_start");
        set_local(s, json_string_value(json_object_get(s, "ends_at")), "local_end_date",
                  "local_end");
        return s;
    }
    json_decref(s);
    page_error(r, 404, "error.not_found");
    return NULL;
}

/* The page of one session: its form (what is stored, or f as posted) and the cancel form.
 * session: owned; errors: consumed (may be NULL). */
static void session_page(struct api_req *r, json_t *session, int status, json_t *errors,
                         const struct form *f)
{
    json_t *form = json_object();
    static const char *const fields[][2] = {{"date", "local_date"}, {"start", "local_start"},
                                            {"end", "local_end"}, {"place", "place"},
                                            {"trainer", "trainer"}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(session, fields[i][1]);
        json_object_set_new(form, fields[i][0], f ? typed(form_get(f, fields[i][0]))
                                                : json_is_string(v) ? json_incref(v)
                                                                    : json_string(""));
    }
    json_object_set_new(form, "capacity", f ? typed(form_get(f, "capacity"))
        : json_sprintf("%lld", (long long)json_integer_value(json_object_get(session,
                                                                             "capacity"))));
    char *done = http_query_param(r->http, "done");
    json_t *flash = done && !strcmp(done, "session_saved") ? json_string("courses.flash.session_saved")
                                                           : json_false();
    free(done);
    json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:o}", "title", "courses.session.title",
                             "session", session, "form", form, "errors",
                             errors ? errors : json_object(), "flash", flash);
    page_render(r, status, "courses_session.html", data);
}

static void session_get(struct api_req *r)
{
    json_t *s = session_known(r);
    if (s)
        session_page(r, s, 200, NULL, NULL);
}

static void session_save(struct api_req *r)
{
    json_t *s = session_known(r);
    if (!s)
        return;
    json_t *errors = json_object();
    if (json_is_true(json_object_get(s, "cancelled")))
        json_object_set_new(errors, "session", json_string("courses.error.session_cancelled"));
    json_t *body = json_object_size(errors) ? NULL : session_body(r->form, errors);
    if (body) {
        struct derr e;
        int rc = course_session_update(r->app, r->id2, r->who.employee_id, body, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            json_decref(s);
            redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=session_saved");
            return;
        }
        if (!session_error(errors, &e)) {
            json_decref(errors);
            json_decref(s);
            fail(r, &e);
            return;
        }
    }
    session_page(r, s, 422, errors, r->form);
}

static void session_cancel(struct api_req *r)
{
    json_t *s = session_known(r);
    if (!s)
        return;
    json_t *errors = json_object();
    if (json_is_true(json_object_get(s, "cancelled")))
        json_object_set_new(errors, "session", json_string("courses.error.session_cancelled"));
    else if (!form_get(r->form, "confirm"))
        json_object_set_new(errors, "confirm", json_string("courses.error.confirm_cancel"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:b}", "cancelled", 1);
        struct derr e;
        int rc = course_session_update(r->app, r->id2, r->who.employee_id, body, &e);
        json_decref(body);
        if (rc == 0) {
            json_decref(errors);
            json_decref(s);
            redirect_fmt(r, "/courses/%lld", (long long)r->id, "done=session_cancelled");
            return;
        }
        if (!session_error(errors, &e)) {
            json_decref(errors);
            json_decref(s);
            fail(r, &e);
            return;
        }
    }
    session_page(r, s, 422, errors, NULL);
}

/* --- matches and invitations ------------------------------------------------------------------ */

/* The matches page. dept: the department filter (0: all). errors (consumed; may be NULL);
 * f (borrowed; may be NULL): the invitation form posted, its selection shown again. */
static void matches_page(struct api_req *r, int64_t id, int64_t dept, int status, json_t *errors,
                         const struct form *f)
{
    json_t *course = course_json(r->app, id);
    if (!errors)
        errors = json_object();
    if (!course) {
        json_decref(errors);
        page_error(r, 404, "error.not_found");
        return;
    }
    struct buf out = {0};
    struct derr e;
    if (course_matches(r->app, id, dept ? &dept : NULL, dept ? 1 : 0, 0, &out, &e)) {
        buf_free(&out);
        json_decref(course);
        json_decref(errors);
        fail(r, &e);
        return;
    }
    json_t *m = json_loadb(out.data, out.len, 0, NULL);
    buf_free(&out);
    if (!m) {
        json_decref(course);
        json_decref(errors);
        page_error(r, 500, "error.internal");
        return;
    }
    /* names of the departments and of the requirements a gap is on */
    json_t *depts = org_department_list(r->app), *dept_names = json_object();
    size_t i, k;
    json_t *d, *it, *g;
    json_array_foreach(depts, i, d) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)id_of(d));
        json_object_set(dept_names, key, json_object_get(d, "name"));
    }
    json_t *req_names = json_object();
    json_array_foreach(json_object_get(course, "requirements"), i, d) {
        char key[24];
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(json_object_get(d, "requirement_id")));
        json_object_set(req_names, key, json_object_get(d, "text"));
    }
    json_t *titles = json_object(), *courses = course_list(r->app);
    json_array_foreach(courses, i, d) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)id_of(d));
        json_object_set(titles, key, json_object_get(d, "title"));
    }
    json_decref(courses);
    static const char *const lists[] = {"items", "lacking_prerequisite", "enrolled"};
    for (int l = 0; l < 3; l++) {
        json_array_foreach(json_object_get(m, lists[l]), i, it) {
            char key[24];
            snprintf(key, sizeof key, "%lld",
                     (long long)json_integer_value(json_object_get(it, "department_id")));
            json_t *dn = json_object_get(dept_names, key);
            json_object_set(it, "department", dn ? dn : json_string(""));
            json_t *gaps = json_array();
            json_array_foreach(json_object_get(it, "gaps"), k, g) {
                snprintf(key, sizeof key, "%lld", (long long)json_integer_value(g));
                json_t *t = json_object_get(req_names, key);
                if (t)
                    json_array_append(gaps, t);
            }
            json_object_set_new(it, "gap_texts", gaps);
            if (l == 1) {
                json_t *miss = json_array();
                json_array_foreach(json_object_get(it, "missing"), k, g) {
                    snprintf(key, sizeof key, "%lld", (long long)json_integer_value(g));
                    json_t *t = json_object_get(titles, key);
                    if (t)
                        json_array_append(miss, t);
                }
                json_object_set_new(it, "missing_titles", miss);
            }
            int checked = 0;
            for (size_t n = 0; l == 0 && f && n < form_size(f); n++)
                if (!strcmp(form_key(f, n), "employee_id") &&
                    id_value(form_value(f, n)) ==
                        json_integer_value(json_object_get(it, "employee_id")))
                    checked = 1;
            json_object_set_new(it, "checked", json_boolean(checked));
        }
    }
    json_decref(req_names);
    json_decref(dept_names);
    json_decref(titles);
    json_t *items = json_object_get(m, "items");
    size_t total = json_array_size(items);
    while (json_array_size(items) > MATCHES_SHOWN)
        json_array_remove(items, json_array_size(items) - 1);
    /* the sessions one can invite to: coming, not cancelled */
    json_t *sessions = sessions_of(r->app, id), *coming = json_array();
    const char *picked = f ? form_get(f, "session_id") : NULL;
    json_array_foreach(sessions, i, d) {
        if (!json_is_true(json_object_get(d, "coming")) ||
            json_is_true(json_object_get(d, "cancelled")))
            continue;
        json_object_set_new(d, "selected", json_boolean(picked && id_value(picked) == id_of(d)));
        json_array_append(coming, d);
    }
    json_decref(sessions);
    json_t *dlist = json_array();
    json_array_foreach(depts, i, d)
        json_array_append_new(dlist, json_pack("{s:I, s:O, s:b}", "id", (json_int_t)id_of(d),
                                               "name", json_object_get(d, "name"), "selected",
                                               id_of(d) == dept));
    json_decref(depts);
    json_t *invited = json_false();
    char *inv = http_query_param(r->http, "invited");
    int64_t n_inv;
    if (inv && util_parse_i64(inv, &n_inv) == 0 && n_inv >= 0)
        invited = json_integer(n_inv);
    free(inv);
    json_t *data = json_pack(
        "{s:s, s:o, s:O, s:O, s:O, s:I, s:I, s:o, s:o, s:I, s:o, s:o}", "title",
        "courses.matches.title", "course", course, "items", items, "lacking",
        json_object_get(m, "lacking_prerequisite"), "enrolled", json_object_get(m, "enrolled"),
        "total", (json_int_t)total, "shown", (json_int_t)json_array_size(items), "sessions",
        coming, "departments", dlist, "department_id", (json_int_t)dept, "errors", errors,
        "invited", invited);
    json_decref(m);
    page_render(r, status, "courses_matches.html", data);
}

static void matches_get(struct api_req *r)
{
    char *d = http_query_param(r->http, "department_id");
    int64_t dept = id_value(d);
    free(d);
    if (dept < 0 ||
        (dept > 0 && !dom_exists(r->app->db, "SELECT 1 FROM department WHERE id = ?", dept))) {
        page_error(r, 404, "error.not_found");
        return;
    }
    matches_page(r, r->id, dept, 200, NULL, NULL);
}

static void invite_post(struct api_req *r)
{
    if (!course_known(r))
        return;
    const struct form *f = r->form;
    int64_t dept = id_value(form_get(f, "department_id"));
    if (dept < 0 ||
        (dept > 0 && !dom_exists(r->app->db, "SELECT 1 FROM department WHERE id = ?", dept)))
        dept = 0;
    int64_t session_id = id_value(form_get(f, "session_id"));
    json_t *errors = json_object(), *ids = json_array();
    sqlite3_stmt *st = db_stmt(r->app->db, "SELECT 1 FROM session WHERE id = ? AND course_id = ? "
                                           "AND cancelled = 0 AND starts_at > ?");
    sqlite3_bind_int64(st, 1, session_id);
    sqlite3_bind_int64(st, 2, r->id);
    sqlite3_bind_int64(st, 3, util_now());
    int session_ok = session_id > 0 && sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (!session_ok)
        json_object_set_new(errors, "session_id", json_string(session_id ? "courses.error.session"
                                                              : "courses.error.session_missing"));
    for (size_t i = 0; i < form_size(f); i++) {
        if (strcmp(form_key(f, i), "employee_id"))
            continue;
        int64_t v = id_value(form_value(f, i));
        if (v <= 0)
            json_object_set_new(errors, "employees", json_string("courses.error.invite_invalid"));
        else
            json_array_append_new(ids, json_integer(v));
    }
    if (!json_array_size(ids) && !json_object_get(errors, "employees"))
        json_object_set_new(errors, "employees", json_string("courses.error.none_selected"));
    if (!json_object_size(errors)) {
        json_t *body = json_pack("{s:O}", "employee_ids", ids);
        struct derr e;
        json_t *created = NULL;
        int rc = course_invite(r->app, session_id, r->who.employee_id, body, &created, &e);
        json_decref(body);
        if (rc == 0) {
            size_t n = json_array_size(created);
            json_decref(created);
            json_decref(errors);
            json_decref(ids);
            char q[64];
            if (dept)
                snprintf(q, sizeof q, "invited=%zu&department_id=%lld", n, (long long)dept);
            else
                snprintf(q, sizeof q, "invited=%zu", n);
            redirect_fmt(r, "/courses/%lld/matches", (long long)r->id, q);
            return;
        }
        if (e.status == 422 && !strcmp(e.field, "session_id")) {
            json_object_set_new(errors, "session_id", json_string("courses.error.session"));
        } else if (e.status == 409 || e.status == 422) {
            json_object_set_new(errors, "employees", json_string(
                e.status == 409 ? "courses.error.invite_conflict" : "courses.error.invite_invalid"));
        } else {
            json_decref(errors);
            json_decref(ids);
            fail(r, &e);
            return;
        }
    }
    json_decref(ids);
    matches_page(r, r->id, dept, 422, errors, f);
}

/* --- results ---------------------------------------------------------------------------------- */

static void results_get(struct api_req *r)
{
    char *v = http_query_param(r->http, "session_id");
    int64_t session_id = id_value(v);
    free(v);
    json_t *course = course_json(r->app, r->id);
    json_t *picked = session_id > 0 ? course_session_json(r->app, session_id) : NULL;
    int known = !session_id ||
                (picked && json_integer_value(json_object_get(picked, "course_id")) == r->id);
    json_decref(picked);
    if (!course || session_id < 0 || !known) {
        json_decref(course);
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *evaluations = course_evaluations(r->app, r->id, session_id);
    json_t *effect = course_effect(r->app, r->id);
    if (!evaluations || !effect) {
        json_decref(course);
        json_decref(evaluations);
        json_decref(effect);
        page_error(r, 404, "error.not_found");
        return;
    }
    json_t *sessions = sessions_of(r->app, r->id);
    size_t i;
    json_t *s;
    json_array_foreach(sessions, i, s)
        json_object_set_new(s, "selected", json_boolean(id_of(s) == session_id));
    json_t *data = json_pack("{s:s, s:o, s:o, s:o, s:o, s:I}", "title", "courses.results.title",
                             "course", course, "evaluations", evaluations, "effect", effect,
                             "sessions", sessions, "session_id", (json_int_t)session_id);
    page_render(r, 200, "courses_results.html", data);
}

/* --- the outbox (admin) ----------------------------------------------------------------------- */

static void outbox_get(struct api_req *r)
{
    json_t *outbox = mail_outbox(r->app->db, NULL, OUTBOX_SHOWN);
    json_t *data = json_pack("{s:s, s:O, s:O, s:i}", "title", "outbox.title", "counts",
                             json_object_get(outbox, "counts"), "items",
                             json_object_get(outbox, "items"), "limit", OUTBOX_SHOWN);
    json_decref(outbox);
    page_render(r, 200, "outbox.html", data);
}

const struct route page_courses_routes[] = {
    {"GET", "/courses", courses_get, ADVISER},
    {"POST", "/courses", course_create_post, ADVISER},
    {"GET", "/courses/{id}", course_get, ADVISER},
    {"POST", "/courses/{id}", course_save, ADVISER},
    {"POST", "/courses/{id}/requirements", requirements_save, ADVISER},
    {"POST", "/courses/{id}/prerequisites", prerequisites_save, ADVISER},
    {"POST", "/courses/{id}/sessions", session_create_post, ADVISER},
    {"GET", "/courses/{id}/sessions/{id}", session_get, ADVISER},
    {"POST", "/courses/{id}/sessions/{id}", session_save, ADVISER},
    {"POST", "/courses/{id}/sessions/{id}/cancel", session_cancel, ADVISER},
    {"POST", "/courses/{id}/questions", question_create_post, ADVISER},
    {"POST", "/courses/{id}/questions/{id}/archive", question_archive_post, ADVISER},
    {"GET", "/courses/{id}/matches", matches_get, ADVISER},
    {"POST", "/courses/{id}/invite", invite_post, ADVISER},
    {"GET", "/courses/{id}/results", results_get, ADVISER},
    {"GET", "/admin/outbox", outbox_get, ROLE_ADMIN},
};
const size_t page_courses_nroutes = sizeof page_courses_routes / sizeof page_courses_routes[0];
