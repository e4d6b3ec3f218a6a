#include "assess.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "catalog.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "rules.h"
#include "util.h"

#define QUESTION_NB "På en skala fra 0 til 4, i hvor stor grad er du i stand til å: "

static const char *const sources[] = {"self", "course", "appraisal", "test", NULL};

json_t *assess_assignments_json(struct app *a, int64_t employee_id)
{
    json_t *items = json_array(), *ids = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT profile_id FROM assignment WHERE employee_id = ? "
                                      "ORDER BY profile_id");
    sqlite3_bind_int64(st, 1, employee_id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(ids, json_integer(sqlite3_column_int64(st, 0)));
    sqlite3_reset(st);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        json_t *p = catalog_profile_json(a, json_integer_value(v));
        if (p)
            json_array_append_new(items, p);
    }
    return json_pack("{s:o, s:o}", "items", items, "profile_ids", ids);
}

/* Checks one employee's new profile list; 0 or -1 with e. */
static int assign_check(struct app *a, int64_t employee_id, const json_t *body, struct derr *e)
{
    static const char *const allowed[] = {"profile_ids", NULL};
    if (!dom_exists(a->db, "SELECT 1 FROM employee WHERE id = ?", employee_id))
        return derr(e, 404, "not_found", NULL, "there is no employee %lld", (long long)employee_id);
    const json_t *ids = json_object_get(body, "profile_ids");
    if (dom_only(body, allowed, e))
        return -1;
    if (!ids)
        return derr(e, 422, "invalid", "profile_ids", "'profile_ids' is required");
    if (!json_is_array(ids))
        return derr(e, 422, "invalid", "profile_ids", "'profile_ids' must be a list of ids");
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        char field[40];
        snprintf(field, sizeof field, "profile_ids.%zu", i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            return derr(e, 422, "invalid", field, "'%s' must be a profile id", field);
        /* An archived profile may stay where it is, but not be handed out anew. */
        sqlite3_stmt *st = db_stmt(a->db, "SELECT 1 FROM profile p WHERE p.id = ?1 AND "
                                          "(p.archived = 0 OR EXISTS (SELECT 1 FROM assignment "
                                          "WHERE employee_id = ?2 AND profile_id = ?1))");
        sqlite3_bind_int64(st, 1, json_integer_value(v));
        sqlite3_bind_int64(st, 2, employee_id);
        int usable = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (!usable)
            return derr(e, 422, "invalid", field, "there is no active profile %lld",
                        (long long)json_integer_value(v));
    }
    return 0;
}

/* Writes one employee's checked list inside the caller's transaction; 0 or -1 (logged). */
static int assign_write(struct app *a, int64_t employee_id, int64_t by, const json_t *body)
{
    char *list = json_dumps(json_object_get(body, "profile_ids"), JSON_COMPACT);
    /* Rows of profiles that stay keep their assigned_at. */
    sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM assignment WHERE employee_id = ?1 AND "
                                      "profile_id NOT IN (SELECT value FROM json_each(?2))");
    sqlite3_bind_int64(st, 1, employee_id);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_TRANSIENT);
    int ok = db_exec_stmt(a->db, st) == 0;
    st = db_stmt(a->db, "INSERT OR IGNORE INTO assignment (employee_id, profile_id, assigned_at, "
                        "assigned_by) SELECT ?1, value, ?3, ?4 FROM json_each(?2)");
    sqlite3_bind_int64(st, 1, employee_id);
    sqlite3_bind_text(st, 2, list, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, util_now());
    sqlite3_bind_int64(st, 4, by);
    ok = ok && db_exec_stmt(a->db, st) == 0;
    free(list);
    return ok ? 0 : -1;
}

int assess_assign_many(struct app *a, const int64_t *employee_ids, const json_t *const *bodies,
                       size_t n, int64_t by, struct derr *e)
{
    for (size_t i = 0; i < n; i++)
        if (assign_check(a, employee_ids[i], bodies[i], e))
            return -1;
    if (db_begin(a->db))
        return derr_db(e);
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = assign_write(a, employee_ids[i], by, bodies[i]) == 0;
    if (!ok || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    for (size_t i = 0; i < n; i++)
        gap_reload_employee(a->gap, a->db, employee_ids[i]);
    return 0;
}

int assess_assign(struct app *a, int64_t employee_id, int64_t by, const json_t *body,
                  struct derr *e)
{
    return assess_assign_many(a, &employee_id, &body, 1, by, e);
}

const char *assess_source(const json_t *body)
{
    const char *s = json_string_value(json_object_get(body, "source"));
    for (const char *const *k = sources; s && *k; k++)
        if (!strcmp(*k, s))
            return *k;
    return NULL;
}

static json_t *assessment_json(sqlite3_stmt *st)
{
    char at[21];
    util_iso8601(sqlite3_column_int64(st, 5), at);
    const char *note = db_text(st, 7);
    return json_pack("{s:I, s:I, s:I, s:i, s:s, s:s, s:o, s:o}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "employee_id",
                     (json_int_t)sqlite3_column_int64(st, 1), "requirement_id",
                     (json_int_t)sqlite3_column_int64(st, 2), "level", sqlite3_column_int(st, 3),
                     "source", db_text(st, 4), "recorded_at", at, "recorded_by",
                     sqlite3_column_type(st, 6) == SQLITE_NULL
                         ? json_null() : json_integer(sqlite3_column_int64(st, 6)),
                     "note", note ? json_string(note) : json_null());
}

#define ASSESSMENT_COLUMNS \
    "id, employee_id, requirement_id, level, source, recorded_at, recorded_by, note"

int assess_record(struct app *a, int64_t employee_id, int64_t by, const json_t *body,
                  json_t **created, struct derr *e)
{
    static const char *const allowed[] = {"source", "levels", "note", NULL};
    if (!dom_exists(a->db, "SELECT 1 FROM employee WHERE id = ? AND archived = 0", employee_id))
        return derr(e, 404, "not_found", NULL, "there is no active employee %lld",
                    (long long)employee_id);
    const char *source = NULL, *note = NULL;
    if (dom_only(body, allowed, e) || dom_string(body, "source", 1, 1, 20, &source, e) < 0 ||
        dom_string(body, "note", 0, 0, 2000, &note, e) < 0)
        return -1;
    if (!assess_source(body))
        return derr(e, 422, "invalid", "source",
                    "unknown source '%s' (sources are self, course, appraisal, test)", source);
    const json_t *levels = json_object_get(body, "levels");
    if (!levels)
        return derr(e, 422, "invalid", "levels", "'levels' is required");
    if (!json_is_object(levels) || json_object_size(levels) == 0)
        return derr(e, 422, "invalid", "levels",
                    "'levels' must be a non-empty object of requirement id to level");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)levels, key, v) {
        char field[64];
        snprintf(field, sizeof field, "levels.%.40s", key);
        int64_t rid;
        int level;
        if (dom_key_id(key, field, &rid, e) || dom_level(v, field, &level, e))
            return -1;
        if (!dom_exists(a->db, "SELECT 1 FROM requirement WHERE id = ? AND archived = 0", rid))
            return derr(e, 422, "invalid", field, "there is no active requirement %lld",
                        (long long)rid);
    }
    int64_t now = util_now();
    if (db_begin(a->db))
        return derr_db(e);
    json_t *items = json_array();
    int ok = 1;
    json_object_foreach((json_t *)levels, key, v) {
        sqlite3_stmt *st = db_stmt(a->db,
                                   "INSERT INTO assessment (employee_id, requirement_id, level, "
                                   "source, recorded_at, recorded_by, note) VALUES "
                                   "(?, ?, ?, ?, ?, ?, ?) RETURNING " ASSESSMENT_COLUMNS);
        sqlite3_bind_int64(st, 1, employee_id);
        sqlite3_bind_int64(st, 2, strtoll(key, NULL, 10));
        sqlite3_bind_int64(st, 3, json_integer_value(v));
        sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now);
        if (by > 0)
            sqlite3_bind_int64(st, 6, by);
        if (note)
            sqlite3_bind_text(st, 7, note, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW) {
            db_log_error(a->db, st);
            sqlite3_reset(st);
            ok = 0;
            break;
        }
        json_array_append_new(items, assessment_json(st));
        ok = db_exec_stmt(a->db, st) == 0;   /* finishes the RETURNING statement */
        if (!ok)
            break;
    }
    if (!ok || db_commit(a->db)) {
        db_rollback(a->db);
        json_decref(items);
        return derr_db(e);
    }
    size_t i;
    json_array_foreach(items, i, v) {
        rules_assessed(a, employee_id, json_integer_value(json_object_get(v, "requirement_id")),
                       (int)json_integer_value(json_object_get(v, "level")), now);
    }
    *created = items;
    return 0;
}

json_t *assess_history(struct app *a, int64_t employee_id)
{
    json_t *items = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT " ASSESSMENT_COLUMNS " FROM assessment "
                                      "WHERE employee_id = ? ORDER BY recorded_at DESC, id DESC");
    sqlite3_bind_int64(st, 1, employee_id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(items, assessment_json(st));
    sqlite3_reset(st);
    return items;
}

json_t *assess_questions(struct app *a, int64_t employee_id)
{
    json_t *items = json_array();
    struct gap_cell *cells;
    size_t n;
    if (gap_employee(a->gap, employee_id, &cells, &n, NULL))
        return items;
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT r.text, s.name, (SELECT source FROM assessment WHERE employee_id = ?2 AND "
               "requirement_id = r.id ORDER BY recorded_at DESC, id DESC LIMIT 1) "
               "FROM requirement r JOIN system s ON s.id = r.system_id WHERE r.id = ?1");
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, cells[i].requirement_id);
        sqlite3_bind_int64(st, 2, employee_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *text = db_text(st, 0), *source = db_text(st, 2);
            char at[21];
            if (!cells[i].unassessed)
                util_iso8601(cells[i].assessed_at, at);
            char *question = xasprintf(QUESTION_NB "%s", text);
            json_array_append_new(
                items,
                json_pack("{s:I, s:I, s:s, s:s, s:s, s:i, s:o, s:o, s:o}", "requirement_id",
                          (json_int_t)cells[i].requirement_id, "system_id",
                          (json_int_t)cells[i].system_id, "system_name", db_text(st, 1), "text",
                          text, "question", question, "required", cells[i].required, "current",
                          cells[i].unassessed ? json_null() : json_integer(cells[i].actual),
                          "assessed_at", cells[i].unassessed ? json_null() : json_string(at),
                          "source", source && !cells[i].unassessed ? json_string(source)
                                                                   : json_null()));
            free(question);
        }
        sqlite3_reset(st);
    }
    free(cells);
    return items;
}
