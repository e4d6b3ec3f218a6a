#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "rules.h"
#include "util.h"

#define NAME_MAX_BYTES 200
#define TEXT_MAX_BYTES 2000

static const char SQL_SYS_EXISTS[] = "SELECT 1 FROM system WHERE id = ?";
static const char SQL_PROF_EXISTS[] = "SELECT 1 FROM profile WHERE id = ?";

static int commit_or_fail(struct app *a, int ok, struct derr *e)
{
    if (!ok || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    return 0;
}

/* --- systems ------------------------------------------------------------------------------ */

json_t *catalog_system_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(a->db, "SELECT name, description, archived FROM system WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        o = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)id, "name", db_text(st, 0),
                      "description", db_text(st, 1), "archived", sqlite3_column_int(st, 2));
    sqlite3_reset(st);
    return o;
}

static json_t *list_of(struct app *a, const char *sql, int64_t param,
                       json_t *(*one)(struct app *, int64_t))
{
    sqlite3_stmt *st = db_stmt(a->db, sql);
    if (param)
        sqlite3_bind_int64(st, 1, param);
    size_t n = 0, cap = 64;
    int64_t *ids = xmalloc(cap * sizeof *ids);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap)
            ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, one(a, ids[i]));
    free(ids);
    return items;
}

json_t *catalog_system_list(struct app *a)
{
    return list_of(a, "SELECT id FROM system ORDER BY name, id", 0, catalog_system_json);
}

int catalog_system_create(struct app *a, const json_t *body, int64_t *id, struct derr *e)
{
    static const char *const allowed[] = {"name", "description", NULL};
    const char *name = NULL, *description = "";
    if (dom_only(body, allowed, e) || dom_string(body, "name", 1, 1, NAME_MAX_BYTES, &name, e) < 0 ||
        dom_string(body, "description", 0, 0, TEXT_MAX_BYTES, &description, e) < 0)
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO system (name, description) VALUES (?, ?)");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, description, -1, SQLITE_TRANSIENT);
    if (commit_or_fail(a, db_exec_stmt(a->db, st) == 0, e))
        return -1;
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    gap_reload_system(a->gap, a->db, *id);
    return 0;
}

int catalog_system_update(struct app *a, int64_t id, const json_t *body, struct derr *e)
{
    static const char *const allowed[] = {"name", "description", "archived", NULL};
    const char *name = NULL, *description = NULL;
    int archived = -1;
    if (!dom_exists(a->db, SQL_SYS_EXISTS, id))
        return derr(e, 404, "not_found", NULL, "there is no system %lld", (long long)id);
    if (dom_only(body, allowed, e) || dom_string(body, "name", 0, 1, NAME_MAX_BYTES, &name, e) < 0 ||
        dom_string(body, "description", 0, 0, TEXT_MAX_BYTES, &description, e) < 0 ||
        dom_bool(body, "archived", &archived, e) < 0)
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(
        a->db, "UPDATE system SET name = coalesce(?2, name), description = coalesce(?3, "
               "description), archived = CASE WHEN ?4 >= 0 THEN ?4 ELSE archived END WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    if (name)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    if (description)
        sqlite3_bind_text(st, 3, description, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, archived);
    int ok = db_exec_stmt(a->db, st) == 0;
    if (ok && archived == 1) {
        /* An archived system takes its requirements and profiles with it. Unarchiving brings
         * back only the system: its parts are unarchived one by one, deliberately. */
        st = db_stmt(a->db, "UPDATE requirement SET archived = 1 WHERE system_id = ?");
        sqlite3_bind_int64(st, 1, id);
        ok = db_exec_stmt(a->db, st) == 0;
        st = db_stmt(a->db, "UPDATE profile SET archived = 1 WHERE system_id = ?");
        sqlite3_bind_int64(st, 1, id);
        ok = ok && db_exec_stmt(a->db, st) == 0;
    }
    if (commit_or_fail(a, ok, e))
        return -1;
    gap_reload_system(a->gap, a->db, id);
    if (name) {
        /* A rule may look at the system's name: classify its requirements again. */
        st = db_stmt(a->db, "SELECT id FROM requirement WHERE system_id = ?");
        sqlite3_bind_int64(st, 1, id);
        size_t n = 0, cap = 16;
        int64_t *ids = xmalloc(cap * sizeof *ids);
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n == cap)
                ids = xrealloc(ids, (cap *= 2) * sizeof *ids);
            ids[n++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        for (size_t i = 0; i < n; i++)
            rules_classify(a, ids[i]);
        free(ids);
    }
    return 0;
}

int catalog_system_delete(struct app *a, int64_t id, struct derr *e)
{
    if (!dom_exists(a->db, SQL_SYS_EXISTS, id))
        return derr(e, 404, "not_found", NULL, "there is no system %lld", (long long)id);
    if (dom_exists(a->db,
                   "SELECT 1 FROM assessment JOIN requirement r ON r.id = requirement_id "
                   "WHERE r.system_id = ? LIMIT 1", id))
        return derr(e, 409, "has_history", NULL,
                    "system %lld has requirements with recorded assessments; archive it instead "
                    "(PATCH {\"archived\": true})", (long long)id);
    if (dom_exists(a->db,
                   "SELECT 1 FROM assignment JOIN profile p ON p.id = profile_id "
                   "WHERE p.system_id = ? LIMIT 1", id))
        return derr(e, 409, "has_history", NULL,
                    "system %lld has profiles assigned to employees; archive it instead "
                    "(PATCH {\"archived\": true})", (long long)id);
    if (db_begin(a->db))
        return derr_db(e);
    static const char delete_levels[] =
        "DELETE FROM profile_level WHERE profile_id IN (SELECT id FROM profile WHERE system_id = ?1) "
        "OR requirement_id IN (SELECT id FROM requirement WHERE system_id = ?1)";
    static const char *const steps[] = {
        delete_levels,
        "DELETE FROM profile WHERE system_id = ?",
        "DELETE FROM requirement WHERE system_id = ?",
        "DELETE FROM system WHERE id = ?",
    };
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *st = db_stmt(a->db, steps[i]);
        sqlite3_bind_int64(st, 1, id);
        ok = db_exec_stmt(a->db, st) == 0;
    }
    if (commit_or_fail(a, ok, e))
        return -1;
    gap_reload_system(a->gap, a->db, id);
    return 0;
}

/* --- requirements --------------------------------------------------------------------------- */

json_t *catalog_requirement_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT system_id, text, position, archived FROM requirement WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        o = json_pack("{s:I, s:I, s:s, s:I, s:b}", "id", (json_int_t)id, "system_id",
                      (json_int_t)sqlite3_column_int64(st, 0), "text", db_text(st, 1), "position",
                      (json_int_t)sqlite3_column_int64(st, 2), "archived",
                      sqlite3_column_int(st, 3));
    sqlite3_reset(st);
    return o;
}

json_t *catalog_requirement_list(struct app *a, int64_t system_id)
{
    return list_of(a, "SELECT id FROM requirement WHERE system_id = ? ORDER BY position, id",
                   system_id, catalog_requirement_json);
}

/* A position is a sort key within the system, stored as given (ties go by id); without one a
 * requirement goes last. */
static int64_t last_position(struct app *a, int64_t system_id)
{
    sqlite3_stmt *st =
        db_stmt(a->db, "SELECT coalesce(max(position), 0) FROM requirement WHERE system_id = ?");
    sqlite3_bind_int64(st, 1, system_id);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

static int position_field(const json_t *body, int64_t *pos, struct derr *e)
{
    const json_t *v = json_object_get(body, "position");
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
        return derr(e, 422, "invalid", "position",
                    "'position' must be an integer from 1 to 1000000");
    *pos = json_integer_value(v);
    return 0;
}

int catalog_requirement_create(struct app *a, int64_t system_id, const json_t *body, int64_t *id,
                               struct derr *e)
{
    static const char *const allowed[] = {"text", "position", NULL};
    if (!dom_exists(a->db, SQL_SYS_EXISTS, system_id))
        return derr(e, 404, "not_found", NULL, "there is no system %lld", (long long)system_id);
    const char *text = NULL;
    int64_t pos = last_position(a, system_id) + 1;
    if (dom_only(body, allowed, e) || dom_string(body, "text", 1, 1, TEXT_MAX_BYTES, &text, e) < 0 ||
        position_field(body, &pos, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st =
        db_stmt(a->db, "INSERT INTO requirement (system_id, text, position) VALUES (?, ?, ?)");
    sqlite3_bind_int64(st, 1, system_id);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, pos);
    if (commit_or_fail(a, db_exec_stmt(a->db, st) == 0, e))
        return -1;
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    gap_reload_requirement(a->gap, a->db, *id);
    rules_classify(a, *id);
    return 0;
}

int catalog_requirement_update(struct app *a, int64_t id, const json_t *body, struct derr *e)
{
    static const char *const allowed[] = {"text", "position", "archived", NULL};
    sqlite3_stmt *st = db_stmt(a->db, "SELECT system_id, position FROM requirement WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return derr(e, 404, "not_found", NULL, "there is no requirement %lld", (long long)id);
    }
    int64_t pos = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    const char *text = NULL;
    int archived = -1;
    if (dom_only(body, allowed, e) || dom_string(body, "text", 0, 1, TEXT_MAX_BYTES, &text, e) < 0 ||
        position_field(body, &pos, e) || dom_bool(body, "archived", &archived, e) < 0)
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    st = db_stmt(a->db, "UPDATE requirement SET text = coalesce(?2, text), position = ?3, "
                        "archived = CASE WHEN ?4 >= 0 THEN ?4 ELSE archived END WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, pos);
    sqlite3_bind_int(st, 4, archived);
    if (commit_or_fail(a, db_exec_stmt(a->db, st) == 0, e))
        return -1;
    gap_reload_requirement(a->gap, a->db, id);
    if (text)
        rules_classify(a, id);   /* a rule may look at the text */
    return 0;
}

int catalog_requirement_delete(struct app *a, int64_t id, struct derr *e)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT system_id FROM requirement WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return derr(e, 404, "not_found", NULL, "there is no requirement %lld", (long long)id);
    }
    int64_t system_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (dom_exists(a->db, "SELECT 1 FROM assessment WHERE requirement_id = ? LIMIT 1", id))
        return derr(e, 409, "has_history", NULL,
                    "requirement %lld has recorded assessments; archive it instead "
                    "(PATCH {\"archived\": true})", (long long)id);
    if (db_begin(a->db))
        return derr_db(e);
    st = db_stmt(a->db, "DELETE FROM profile_level WHERE requirement_id = ?");
    sqlite3_bind_int64(st, 1, id);
    int ok = db_exec_stmt(a->db, st) == 0;
    st = db_stmt(a->db, "DELETE FROM requirement WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    ok = ok && db_exec_stmt(a->db, st) == 0;
    if (commit_or_fail(a, ok, e))
        return -1;
    /* profiles lost a level: reload them as well as the system's requirements */
    gap_reload_system(a->gap, a->db, system_id);
    gap_reload_requirement(a->gap, a->db, id);
    return 0;
}

/* --- profiles ------------------------------------------------------------------------------- */

json_t *catalog_profile_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(a->db, "SELECT name, system_id, description, archived FROM profile WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return NULL;
    }
    int64_t system_id = sqlite3_column_int64(st, 1);
    json_t *o = json_pack("{s:I, s:s, s:o, s:s, s:b}", "id", (json_int_t)id, "name",
                          db_text(st, 0), "system_id",
                          system_id ? json_integer(system_id) : json_null(), "description",
                          db_text(st, 2), "archived", sqlite3_column_int(st, 3));
    sqlite3_reset(st);

    json_t *levels = json_object();
    st = db_stmt(a->db, "SELECT pl.requirement_id, pl.level FROM profile_level pl "
                        "JOIN requirement r ON r.id = pl.requirement_id "
                        "WHERE pl.profile_id = ? AND r.archived = 0 ORDER BY r.position");
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)sqlite3_column_int64(st, 0));
        json_object_set_new(levels, key, json_integer(sqlite3_column_int(st, 1)));
    }
    sqlite3_reset(st);
    json_object_set_new(o, "levels", levels);

    /* sum and average over the requirements of the profile's system(s): its own system, or
     * for a profile without one, every system one of its levels belongs to. */
    st = db_stmt(a->db,
                 "WITH systems AS (SELECT ?2 AS id WHERE ?2 > 0 UNION "
                 "  SELECT r.system_id FROM profile_level pl JOIN requirement r "
                 "  ON r.id = pl.requirement_id WHERE pl.profile_id = ?1 AND ?2 = 0) "
                 "SELECT count(*), coalesce(sum(pl.level), 0) FROM requirement r "
                 "LEFT JOIN profile_level pl ON pl.requirement_id = r.id AND pl.profile_id = ?1 "
                 "WHERE r.archived = 0 AND r.system_id IN (SELECT id FROM systems)");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, system_id);
    int64_t count = 0, sum = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        count = sqlite3_column_int64(st, 0);
        sum = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    json_object_set_new(o, "sum", json_integer(sum));
    json_object_set_new(o, "average", json_real(count ? (double)sum / (double)count : 0.0));
    json_object_set_new(o, "requirements", json_integer(count));
    return o;
}

json_t *catalog_profile_list(struct app *a)
{
    return list_of(a, "SELECT id FROM profile ORDER BY name, id", 0, catalog_profile_json);
}

/* Checks a levels object: every key a live requirement (of system_id when set), every value a
 * level. */
static int levels_check(struct app *a, const json_t *levels, int64_t system_id, struct derr *e)
{
    if (!json_is_object(levels))
        return derr(e, 422, "invalid", "levels",
                    "'levels' must be an object of requirement id to level");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)levels, key, v) {
        char field[64];
        snprintf(field, sizeof field, "levels.%.40s", key);
        int64_t rid;
        int level;
        if (dom_key_id(key, field, &rid, e) || dom_level(v, field, &level, e))
            return -1;
        sqlite3_stmt *st =
            db_stmt(a->db, "SELECT system_id, archived FROM requirement WHERE id = ?");
        sqlite3_bind_int64(st, 1, rid);
        int found = sqlite3_step(st) == SQLITE_ROW;
        int64_t sid = found ? sqlite3_column_int64(st, 0) : 0;
        int archived = found && sqlite3_column_int(st, 1);
        sqlite3_reset(st);
        if (!found || archived)
            return derr(e, 422, "invalid", field, "there is no %srequirement %lld",
                        archived ? "active " : "", (long long)rid);
        if (system_id > 0 && sid != system_id)
            return derr(e, 422, "invalid", field,
                        "requirement %lld belongs to system %lld, not to the profile's system %lld",
                        (long long)rid, (long long)sid, (long long)system_id);
    }
    return 0;
}

static int levels_write(struct app *a, int64_t profile_id, const json_t *levels)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)levels, key, v) {
        sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO profile_level (profile_id, requirement_id, "
                                          "level) VALUES (?1, ?2, ?3) ON CONFLICT "
                                          "(profile_id, requirement_id) DO UPDATE SET level = ?3");
        sqlite3_bind_int64(st, 1, profile_id);
        sqlite3_bind_int64(st, 2, strtoll(key, NULL, 10));
        sqlite3_bind_int64(st, 3, json_integer_value(v));
        if (db_exec_stmt(a->db, st))
            return -1;
    }
    return 0;
}

static const char *const profile_fields[] = {"name", "system_id", "description", "levels", NULL};

int catalog_profile_create(struct app *a, const json_t *body, int64_t *id, struct derr *e)
{
    const char *name = NULL, *description = "";
    int64_t system_id = 0;
    const json_t *levels = json_object_get(body, "levels");
    if (dom_only(body, profile_fields, e) ||
        dom_string(body, "name", 1, 1, NAME_MAX_BYTES, &name, e) < 0 ||
        dom_string(body, "description", 0, 0, TEXT_MAX_BYTES, &description, e) < 0 ||
        dom_id(body, "system_id", 0, 1, &system_id, e) < 0)
        return -1;
    if (system_id > 0 &&
        !dom_exists(a->db, "SELECT 1 FROM system WHERE id = ? AND archived = 0", system_id))
        return derr(e, 422, "invalid", "system_id", "there is no active system %lld",
                    (long long)system_id);
    if (levels && levels_check(a, levels, system_id, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st =
        db_stmt(a->db, "INSERT INTO profile (name, system_id, description) VALUES (?, ?, ?)");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (system_id > 0)
        sqlite3_bind_int64(st, 2, system_id);
    sqlite3_bind_text(st, 3, description, -1, SQLITE_TRANSIENT);
    int ok = db_exec_stmt(a->db, st) == 0;
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    ok = ok && (!levels || levels_write(a, *id, levels) == 0);
    if (commit_or_fail(a, ok, e))
        return -1;
    gap_reload_profile(a->gap, a->db, *id);
    return 0;
}

int catalog_profile_update(struct app *a, int64_t id, const json_t *body, struct derr *e)
{
    static const char *const allowed[] = {"name", "system_id", "description", "levels",
                                          "archived", NULL};
    sqlite3_stmt *st = db_stmt(a->db, "SELECT coalesce(system_id, 0) FROM profile WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return derr(e, 404, "not_found", NULL, "there is no profile %lld", (long long)id);
    }
    int64_t system_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    const char *name = NULL, *description = NULL;
    int archived = -1;
    const json_t *levels = json_object_get(body, "levels");
    if (dom_only(body, allowed, e) || dom_string(body, "name", 0, 1, NAME_MAX_BYTES, &name, e) < 0 ||
        dom_string(body, "description", 0, 0, TEXT_MAX_BYTES, &description, e) < 0 ||
        dom_bool(body, "archived", &archived, e) < 0)
        return -1;
    if (json_object_get(body, "system_id")) {
        int64_t s = 0;
        if (dom_id(body, "system_id", 0, 1, &s, e) < 0)
            return -1;
        if (s != system_id)
            return derr(e, 422, "invalid", "system_id",
                        "a profile's system cannot change; create a new profile instead");
    }
    if (levels && levels_check(a, levels, system_id, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    st = db_stmt(a->db, "UPDATE profile SET name = coalesce(?2, name), description = "
                        "coalesce(?3, description), archived = CASE WHEN ?4 >= 0 THEN ?4 ELSE "
                        "archived END WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    if (name)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    if (description)
        sqlite3_bind_text(st, 3, description, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, archived);
    int ok = db_exec_stmt(a->db, st) == 0 && (!levels || levels_write(a, id, levels) == 0);
    if (commit_or_fail(a, ok, e))
        return -1;
    gap_reload_profile(a->gap, a->db, id);
    return 0;
}

int catalog_profile_delete(struct app *a, int64_t id, struct derr *e)
{
    if (!dom_exists(a->db, SQL_PROF_EXISTS, id))
        return derr(e, 404, "not_found", NULL, "there is no profile %lld", (long long)id);
    if (dom_exists(a->db, "SELECT 1 FROM assignment WHERE profile_id = ? LIMIT 1", id))
        return derr(e, 409, "has_history", NULL,
                    "profile %lld is assigned to employees; archive it instead "
                    "(PATCH {\"archived\": true})", (long long)id);
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM profile_level WHERE profile_id = ?");
    sqlite3_bind_int64(st, 1, id);
    int ok = db_exec_stmt(a->db, st) == 0;
    st = db_stmt(a->db, "DELETE FROM profile WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    ok = ok && db_exec_stmt(a->db, st) == 0;
    if (commit_or_fail(a, ok, e))
        return -1;
    gap_reload_profile(a->gap, a->db, id);
    return 0;
}


int catalog_matrix_update(struct app *a, int64_t system_id, const json_t *changes, struct derr *e)
{
    const char *pkey;
    json_t *levels;
    json_object_foreach((json_t *)changes, pkey, levels) {
        int64_t pid;
        if (dom_key_id(pkey, "profile", &pid, e))
            return -1;
        sqlite3_stmt *st = db_stmt(a->db, "SELECT coalesce(system_id, 0) FROM profile WHERE id = ?");
        sqlite3_bind_int64(st, 1, pid);
        int64_t sid = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        if (sid != system_id)
            return derr(e, 422, "invalid", pkey, "profile %lld is not a profile of system %lld",
                        (long long)pid, (long long)system_id);
        if (levels_check(a, levels, system_id, e))
            return -1;
    }
    if (db_begin(a->db))
        return derr_db(e);
    int ok = 1;
    json_object_foreach((json_t *)changes, pkey, levels) {
        if (ok)
            ok = levels_write(a, strtoll(pkey, NULL, 10), levels) == 0;
    }
    if (commit_or_fail(a, ok, e))
        return -1;
    json_object_foreach((json_t *)changes, pkey, levels) {
        gap_reload_profile(a->gap, a->db, strtoll(pkey, NULL, 10));
    }
    return 0;
}
