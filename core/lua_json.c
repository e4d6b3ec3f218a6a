/* lua_json: see lua_json.h. */
#include "lua_json.h"

#include "util.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many values in what lj_to_json converts: a table that holds the same sub-table
 * twice on each of 64 levels would otherwise be walked 2^64 times, with no watchdog in C. */
#define LJ_MAX_VALUES 1000000

/* --- JSON to Lua ------------------------------------------------------------------------ */

static void push(lua_State *L, const json_t *j, enum lj_nulls nulls, int depth)
{
    if (depth > LJ_MAX_DEPTH)
        luaL_error(L, "data nested deeper than %d levels", LJ_MAX_DEPTH);
    luaL_checkstack(L, 3, "data nested too deeply");
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        lua_createtable(L, 0, (int)json_object_size(j));
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it)) {
            json_t *v = json_object_iter_value(it);
            if (nulls == LJ_NULL_ABSENT && json_is_null(v))
                continue;
            lua_pushlstring(L, json_object_iter_key(it), json_object_iter_key_len(it));
            push(L, v, nulls, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push(L, json_array_get(j, i), nulls, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
    case JSON_NULL:
        lua_pushboolean(L, 0);
        break;
    }
}

void lj_push_as(lua_State *L, const json_t *j, enum lj_nulls nulls)
{
    UTIL_ASSERT(j);
    push(L, j, nulls, 0);
}

void lj_push(lua_State *L, const json_t *j) { lj_push_as(L, j, LJ_NULL_FALSE); }

/* --- Lua to JSON ------------------------------------------------------------------------ */

struct conv {
    lua_State *L;
    long values;
    char *err;          /* owned; set once, at the first problem */
    char path[200];     /* where we are, e.g. "[2].reason"; truncated when deeper */
    size_t plen;
};

/* One member of a table on its way into JSON. */
struct member {
    const char *key;    /* a string key (borrowed from the table, which keeps it); NULL for [i] */
    size_t klen;
    lua_Integer index;
    json_t *value;      /* owned */
};

static void fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct conv *c, const char *fmt, ...)
{
    if (c->err)
        return;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *p = c->path[0] == '.' ? c->path + 1 : c->path;
    int n = (int)strlen(p);
    c->err = !n ? xstrdup(why) : n <= 80 ? xasprintf("%s: %s", p, why)
                                         : xasprintf("%.60s...: %s", p, why); /* a deep place */
}

/* Appends a step to the path; returns the old length to restore. */
static size_t path_enter(struct conv *c, const char *key, size_t klen, lua_Integer index)
{
    size_t old = c->plen;
    size_t room = sizeof c->path - c->plen;
    int n;
    if (key)
        n = snprintf(c->path + c->plen, room, ".%.*s", (int)(klen > 40 ? 40 : klen), key);
    else
        n = snprintf(c->path + c->plen, room, "[%lld]", (long long)index);
    c->plen = n < 0 || (size_t)n >= room ? sizeof c->path - 1 : c->plen + (size_t)n;
    return old;
}

static void path_leave(struct conv *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    if (!x->key)
        return x->index < y->index ? -1 : x->index > y->index;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int d = memcmp(x->key, y->key, n);
    return d ? d : (x->klen > y->klen) - (x->klen < y->klen);
}

static json_t *convert(struct conv *c, int idx, int depth);

static json_t *convert_table(struct conv *c, int idx, int depth)
{
    lua_State *L = c->L;
    struct member *m = NULL;
    size_t n = 0, cap = 0, strings = 0;
    lua_Integer top = 0;
    json_t *result = NULL;

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        // stack: key, value
        struct member e = {0};
        int kt = lua_type(L, -2);
        if (kt == LUA_TSTRING) {
            e.key = lua_tolstring(L, -2, &e.klen);
            strings++;
        } else if (kt == LUA_TNUMBER && lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
            e.index = lua_tointeger(L, -2);
            if (e.index > top)
                top = e.index;
        } else {
            if (kt == LUA_TNUMBER)
                fail(c, "a table with the key %s (keys are names, or 1, 2, 3 ... in a list)",
                     lua_isinteger(L, -2) ? "0 or below" : "that is a fraction");
            else
                fail(c, "a table with a %s as a key (keys are names, or 1, 2, 3 ... in a list)",
                     luaL_typename(L, -2));
            lua_pop(L, 2);
            goto done;
        }
        size_t old = path_enter(c, e.key, e.klen, e.index);
        e.value = convert(c, lua_gettop(L), depth + 1);
        path_leave(c, old);
        lua_pop(L, 1);
        if (!e.value) {
            lua_pop(L, 1);
            goto done;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            m = xrealloc(m, cap * sizeof *m);
        }
        m[n++] = e;
    }

    if (strings && strings < n) {
        fail(c, "a table that mixes a list (1, 2, 3 ...) with named fields");
        goto done;
    }
    if (!strings && (lua_Integer)n != top) {
        fail(c, "a list with holes (its highest index is %lld, but it holds %zu values)",
             (long long)top, n);
        goto done;
    }
    if (n)
        util_sort(m, n, sizeof *m, member_cmp);
    result = strings ? json_object() : json_array();
    for (size_t i = 0; i < n; i++) {
        if (strings)
            json_object_setn_new_nocheck(result, m[i].key, m[i].klen, m[i].value);
        else
            json_array_append_new(result, m[i].value);
        m[i].value = NULL;
    }
    if (!result)
        UTIL_ABORT("out of memory (JSON)");

done:
    for (size_t i = 0; i < n; i++)
        json_decref(m[i].value);
    free(m);
    return result;
}

static json_t *convert(struct conv *c, int idx, int depth)
{
    lua_State *L = c->L;
    json_t *j = NULL;

    if (++c->values > LJ_MAX_VALUES) {
        fail(c, "more than %d values", LJ_MAX_VALUES);
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        j = json_null();
        break;
    case LUA_TBOOLEAN:
        j = json_boolean(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            j = json_integer((json_int_t)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d)) {
                fail(c, "a number that is not finite (%g)", d);
                return NULL;
            }
            j = json_real(d);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        j = json_stringn(s, len);
        if (!j) {
            fail(c, "text that is not valid UTF-8");
            return NULL;
        }
        break;
    }
    case LUA_TTABLE:
        if (depth >= LJ_MAX_DEPTH) {
            fail(c, "tables nested deeper than %d levels (a table that contains itself?)",
                 LJ_MAX_DEPTH);
            return NULL;
        }
        if (!lua_checkstack(L, 4)) {
            fail(c, "no room on the Lua stack");
            return NULL;
        }
        return convert_table(c, idx, depth);
    default:
        fail(c, "a %s, which JSON cannot hold (it holds text, numbers, true/false, lists and "
                "tables with named fields)", luaL_typename(L, idx));
        return NULL;
    }
    if (!j)
        UTIL_ABORT("out of memory (JSON)");
    return j;
}

int lj_to_json(lua_State *L, int idx, json_t **out, char **err)
{
    struct conv c = {.L = L};
    *out = convert(&c, lua_absindex(L, idx), 0);
    if (*out)
        return 0;
    *err = c.err ? c.err : xstrdup("cannot convert to JSON");
    return -1;
}
