#include "domain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

int derr(struct derr *e, int status, const char *code, const char *field, const char *fmt, ...)
{
    e->status = status;
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

int derr_db(struct derr *e)
{
    return derr(e, 500, "internal", NULL, "the database refused the change; see the server log");
}

int dom_only(const json_t *obj, const char *const *allowed, struct derr *e)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, key);
        if (!ok)
            return derr(e, 422, "invalid", key, "unknown field '%s'", key);
    }
    return 0;
}

int dom_string(const json_t *obj, const char *key, int required, int nonempty, size_t max,
               const char **out, struct derr *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return derr(e, 422, "invalid", key, "'%s' is required", key);
        return 0;
    }
    if (!json_is_string(v))
        return derr(e, 422, "invalid", key, "'%s' must be a string", key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n)
        return derr(e, 422, "invalid", key, "'%s' must not contain NUL characters", key);
    if (nonempty) {
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i == n)
            return derr(e, 422, "invalid", key, "'%s' must not be empty", key);
    }
    if (n > max)
        return derr(e, 422, "invalid", key, "'%s' is longer than %zu bytes", key, max);
    *out = s;
    return 1;
}

int dom_id(const json_t *obj, const char *key, int required, int nullable, int64_t *out,
           struct derr *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return derr(e, 422, "invalid", key, "'%s' is required", key);
        return 0;
    }
    if (json_is_null(v)) {
        if (!nullable)
            return derr(e, 422, "invalid", key, "'%s' must be an id, not null", key);
        *out = 0;
        return 1;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return derr(e, 422, "invalid", key, "'%s' must be a positive integer id", key);
    *out = json_integer_value(v);
    return 1;
}

int dom_bool(const json_t *obj, const char *key, int *out, struct derr *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return derr(e, 422, "invalid", key, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return 1;
}

int dom_level(const json_t *v, const char *field, int *out, struct derr *e)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4)
        return derr(e, 422, "invalid", field, "'%s' must be a level: an integer from 0 to 4",
                    field);
    *out = (int)json_integer_value(v);
    return 0;
}

int dom_key_id(const char *key, const char *field, int64_t *out, struct derr *e)
{
    char *end;
    long long v = strtoll(key, &end, 10);
    if (!*key || *end || v <= 0 || key[0] < '1' || key[0] > '9')
        return derr(e, 422, "invalid", field, "'%s' is not a requirement id", key);
    *out = v;
    return 0;
}

int dom_exists(struct db *db, const char *sql, int64_t id)
{
    sqlite3_stmt *st = db_stmt(db, sql);
    sqlite3_bind_int64(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}
