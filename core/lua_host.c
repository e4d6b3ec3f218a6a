/* lua_host: see lua_host.h.
 *
 * The sandbox follows Redis (script_lua.c, function_lua.c) and Lua's own lua.c / linit.c:
 * - libraries come from an explicit list, and what a rule must not reach is removed, not hidden;
 * - the shared globals and the library tables are read-only proxies, and the real tables are
 *   reachable from C only, so one rule file cannot change what another one sees;
 * - every call into Lua (even the set-up, which allocates and so may fail) goes through
 *   lh_pcall(), which adds a traceback and arms the instruction watchdog for exactly that call;
 * - the allocator refuses to grow past LH_MEMORY_LIMIT, which Lua reports as a catchable
 *   "not enough memory" instead of the process running out.
 */
#include "lua_host.h"

#include "util.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LH_THRESHOLDS "thresholds.lua"
#define LH_WATCHDOG_MSG "stopped: too many instructions in one call (an endless loop?)"
#define LH_STR(x) LH_STR2(x)
#define LH_STR2(x) #x

struct lh {
    lua_State *L;
    size_t mem_used;          /* bytes the state holds; the allocator's bookkeeping */
    int watchdog_fired;       /* set by the count hook, cleared by each lh_pcall */
    char *thresholds_path;    /* "DIR/thresholds.lua": the name in every message about it */
    int classify_ref;         /* registry reference to thresholds' classify */
    int classes_declared;     /* thresholds returned a `classes` list: nothing else may appear */
    int nclasses;
    char *classes[LH_MAX_CLASSES];
};

/* Registry keys (their addresses are the keys). */
static const char lh_env_mt_key;  /* the metatable every rule file's environment shares */

static struct lh *lh_from(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* --- memory cap ------------------------------------------------------------------------- */

static void *lh_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lh *h = ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize is the kind of object, not a size */

    if (nsize == 0) {
        free(ptr);
        h->mem_used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > LH_MEMORY_LIMIT - h->mem_used)
        return NULL; /* Lua collects garbage, retries, then raises "not enough memory" */
    void *p = realloc(ptr, nsize);
    if (p)
        h->mem_used = h->mem_used - old + nsize;
    return p;
}

/* --- the one protected call ------------------------------------------------------------- */

/* The count hook. Once it fires, it re-arms itself to fire on every instruction, so a pcall
 * inside the script that catches the first error only runs into the next one (Redis's trick). */
static void lh_watchdog(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lh_from(L)->watchdog_fired = 1;
    lua_sethook(L, lh_watchdog, LUA_MASKCOUNT, 1);
    luaL_where(L, 0); /* the running function's line: the hook has no frame of its own */
    lua_pushliteral(L, LH_WATCHDOG_MSG);
    lua_concat(L, 2);
    lua_error(L);
}

/* Like lua.c's msghandler, but it never runs script code (no __tostring): after the watchdog
 * fired, any Lua code here would only raise again. */
static int lh_msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function below the nargs arguments on top of the stack, as lua_pcall, with the
 * watchdog armed for this call only. 0 on success. Otherwise -1, nothing of the call is left on
 * the stack, and *msg (owned) holds the error with its traceback. */
static int lh_pcall(struct lh *h, int nargs, int nresults, char **msg)
{
    lua_State *L = h->L;
    int base = lua_gettop(L) - nargs; /* the function's index */

    lua_pushcfunction(L, lh_msghandler);
    lua_insert(L, base);
    h->watchdog_fired = 0;
    lua_sethook(L, lh_watchdog, LUA_MASKCOUNT, (int)LH_INSTRUCTION_LIMIT);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_sethook(L, NULL, 0, 0);
    lua_remove(L, base);
    if (status == LUA_OK)
        return 0;

    // stack: error
    const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no error message)";
    if (h->watchdog_fired && !strstr(e, LH_WATCHDOG_MSG))
        *msg = xstrdup(LH_WATCHDOG_MSG); /* e.g. "error in error handling" from the script's xpcall */
    else if (status == LUA_ERRMEM)
        *msg = xasprintf("%s (a rule may use at most %u MB)", e, LH_MEMORY_LIMIT >> 20);
    else
        *msg = xstrdup(e);
    lua_pop(L, 1);
    return -1;
}

/* "path: msg" unless msg already starts with the path (Lua's "path:line: ..."). Owned. */
static char *lh_in_file(const char *path, const char *msg)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':')
        return xstrdup(msg);
    return xasprintf("%s: %s", path, msg);
}

/* --- the sandbox ------------------------------------------------------------------------ */

/* __newindex of a frozen table; upvalue 1 is the table's name. */
static int lh_readonly(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "cannot assign to %s.%s: the shared libraries are read-only "
                             "(keep your own values in local variables)", name, lua_tostring(L, 2));
    return luaL_error(L, "cannot assign to a %s key of %s: the shared libraries are read-only",
                      luaL_typename(L, 2), name);
}

/* The iterator __pairs hands out; upvalue 1 is the real table, which must not escape to Lua. */
static int lh_frozen_next(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    // stack: proxy, key, real, key
    return lua_next(L, -2) ? 2 : 0;
}

static int lh_frozen_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, lh_frozen_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* stack: real -> proxy. The proxy reads through to the real table and refuses writes; its
 * metatable is protected, and it is recorded in the set at `frozen` so that rawset refuses it. */
static void lh_freeze(lua_State *L, const char *name, int frozen)
{
    lua_newtable(L);
    lua_createtable(L, 0, 4);
    // stack: real, proxy, mt
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, lh_readonly, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, lh_frozen_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, frozen);
    lua_remove(L, -2);
}

/* load() that accepts text only: mode is forced to "t" whatever the script asks. Upvalue 1 is
 * the original load. An absent env stays absent, so the chunk sees the frozen shared globals. */
static int lh_load_text(lua_State *L)
{
    int n = lua_gettop(L);
    if (n < 3) {
        lua_settop(L, 3);
        n = 3;
    }
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* rawset() that refuses the frozen tables (set of them in upvalue 1); otherwise lbaselib's. */
static int lh_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return luaL_error(L, "cannot rawset a shared library: they are read-only");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* setmetatable() without __gc: finalizers run with hooks off (lgc.c's GCTM), so the watchdog
 * could not stop one that loops, and lua_close would hang. Upvalue 1 is the original. */
static int lh_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in rules");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static const luaL_Reg lh_libs[] = {
    {LUA_GNAME, luaopen_base},
    {LUA_STRLIBNAME, luaopen_string},
    {LUA_TABLIBNAME, luaopen_table},
    {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8},
    {NULL, NULL},
};

static const char *const lh_removed[] = {"dofile", "loadfile", "collectgarbage", "require", NULL};
static const char *const lh_os_kept[] = {"time", "date", "clock", NULL};
static const char *const lh_frozen_libs[] = {
    LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME, LUA_OSLIBNAME, NULL};

/* Builds the shared globals; run through lh_pcall since every step allocates. */
static int lh_setup(lua_State *L)
{
    for (const luaL_Reg *lib = lh_libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    // os is opened whole and copied in part; the whole table stays in the registry's _LOADED,
    // which no rule can reach without package or debug.
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_createtable(L, 0, 3);
    for (const char *const *k = lh_os_kept; *k; k++) {
        lua_getfield(L, -2, *k);
        lua_setfield(L, -2, *k);
    }
    lua_setglobal(L, LUA_OSLIBNAME);
    lua_pop(L, 1);

    for (const char *const *k = lh_removed; *k; k++) {
        lua_pushnil(L);
        lua_setglobal(L, *k);
    }
    lua_getglobal(L, "load");
    lua_pushcclosure(L, lh_load_text, 1);
    lua_setglobal(L, "load");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, lh_setmetatable, 1);
    lua_setglobal(L, "setmetatable");

    lua_newtable(L);
    int frozen = lua_gettop(L);
    lua_pushvalue(L, frozen);
    lua_pushcclosure(L, lh_rawset, 1);
    lua_setglobal(L, "rawset");

    lua_pushglobaltable(L);
    int real = lua_gettop(L);
    for (const char *const *k = lh_frozen_libs; *k; k++) {
        lua_getfield(L, real, *k);
        lh_freeze(L, *k, frozen);
        lua_setfield(L, real, *k);
    }
    // The string metatable's __index is the real string table: protect it from getmetatable("").
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    // The shared globals become a frozen proxy too, and take the real table's place in the
    // registry, so chunks from load() without an env cannot write into what every rule reads.
    lua_pushvalue(L, real);
    lh_freeze(L, LUA_GNAME, frozen);
    lua_pushvalue(L, -1);
    lua_setfield(L, real, LUA_GNAME);
    // stack: frozen, real, shared
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lh_env_mt_key);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    return 0;
}

/* --- rule files ------------------------------------------------------------------------- */

/* Runs the loaded chunk (argument 1) in a fresh environment of its own, whose globals read
 * through to the shared ones; returns what the chunk returns (one value). */
static int lh_run_chunk(lua_State *L)
{
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, LUA_GNAME); /* _G.x in a rule means its own x */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lh_env_mt_key);
    lua_setmetatable(L, -2);
    // stack: chunk, env
    if (!lua_setupvalue(L, 1, 1)) /* a main chunk's only upvalue is _ENV */
        lua_pop(L, 1);
    lua_call(L, 0, 1);
    return 1;
}

/* Reads path and runs it as text, leaving its one result on the stack. The file is read here,
 * not by luaL_loadfilex, to word "cannot open" the way every other message is worded (file
 * first) and because rule files are small. 0, or -1 and *err (owned). */
static int lh_run_file(struct lh *h, const char *path, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = xasprintf("%s: cannot open (%s)", path, strerror(errno));
        return -1;
    }
    struct buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        *err = xasprintf("%s: cannot read (%s)", path, strerror(errno));
        buf_free(&b);
        return -1;
    }
    const char *text = b.data ? b.data : "";
    if (b.len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* editors on Windows add a BOM */
        text += 3;
        b.len -= 3;
    }

    char *name = xasprintf("@%s", path);
    lua_State *L = h->L;
    lua_pushcfunction(L, lh_run_chunk);
    int status = luaL_loadbufferx(L, text, b.len, name, "t"); /* protected by Lua itself */
    free(name);
    buf_free(&b);
    if (status != LUA_OK) {
        // stack: lh_run_chunk, error. A syntax error already reads "path:line: ...".
        *err = lh_in_file(path, lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    char *msg;
    if (lh_pcall(h, 1, 1, &msg)) {
        *err = lh_in_file(path, msg);
        free(msg);
        return -1;
    }
    return 0;
}

/* --- classes ---------------------------------------------------------------------------- */

static int lh_class_find(const struct lh *h, const char *name, size_t len)
{
    for (int i = 0; i < h->nclasses; i++)
        if (strlen(h->classes[i]) == len && memcmp(h->classes[i], name, len) == 0)
            return i;
    return -1;
}

/* Why the string is no class name, or NULL if it is one. */
static const char *lh_class_invalid(const char *name, size_t len)
{
    if (len == 0)
        return "an empty string";
    if (len > LH_MAX_CLASS_NAME)
        return "a string longer than " LH_STR(LH_MAX_CLASS_NAME) " bytes";
    if (memchr(name, '\0', len))
        return "a string with a NUL byte";
    return NULL;
}

static int lh_class_add(struct lh *h, const char *name, size_t len)
{
    char *copy = xmalloc(len + 1);
    memcpy(copy, name, len);
    copy[len] = '\0';
    h->classes[h->nclasses] = copy;
    return h->nclasses++;
}

/* Checks thresholds' table (argument 1) and keeps its classify and classes. Returns nothing on
 * success and the reason otherwise; run through lh_pcall since __index may be script code. */
static int lh_bind_thresholds(lua_State *L)
{
    struct lh *h = lh_from(L);

    if (!lua_istable(L, 1)) {
        lua_pushfstring(L, "must return a table with a function 'classify' (got %s)",
                        luaL_typename(L, 1));
        return 1;
    }
    if (lua_getfield(L, 1, "classify") != LUA_TFUNCTION) {
        lua_pushfstring(L, "must return a table with a function 'classify' (its 'classify' is %s)",
                        luaL_typename(L, -1));
        return 1;
    }
    h->classify_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    int t = lua_getfield(L, 1, "classes");
    if (t == LUA_TNIL)
        return 0;
    if (t != LUA_TTABLE) {
        lua_pushfstring(L, "'classes' must be a list of class names (got %s)", luaL_typename(L, -1));
        return 1;
    }
    h->classes_declared = 1;
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > LH_MAX_CLASSES) {
            lua_pushliteral(L, "'classes' lists more than " LH_STR(LH_MAX_CLASSES) " classes");
            return 1;
        }
        if (lua_geti(L, -1, i) != LUA_TSTRING) {
            lua_pushfstring(L, "classes[%I] is %s, expected a class name (string)", i,
                            luaL_typename(L, -1));
            return 1;
        }
        size_t len;
        const char *name = lua_tolstring(L, -1, &len);
        const char *why = lh_class_invalid(name, len);
        if (why) {
            lua_pushfstring(L, "classes[%I] is %s, expected a class name", i, why);
            return 1;
        }
        if (lh_class_find(h, name, len) >= 0) {
            lua_pushfstring(L, "classes[%I] ('%s') is listed twice", i, name);
            return 1;
        }
        lh_class_add(h, name, len);
        lua_pop(L, 1);
    }
    return 0;
}

/* --- the module ------------------------------------------------------------------------- */

void lh_free(struct lh *h)
{
    if (!h)
        return;
    if (h->L)
        lua_close(h->L);
    for (int i = 0; i < h->nclasses; i++)
        free(h->classes[i]);
    free(h->thresholds_path);
    free(h);
}

int lh_load(const char *dir, struct lh **out, char **err)
{
    UTIL_ASSERT(dir && out && err);
    *out = NULL;
    *err = NULL;

    struct lh *h = xcalloc(1, sizeof *h);
    h->classify_ref = LUA_NOREF;
    size_t dl = strlen(dir);
    h->thresholds_path = xasprintf("%s%s" LH_THRESHOLDS, dir,
                                   dl && dir[dl - 1] == '/' ? "" : "/");
    h->L = lua_newstate(lh_alloc, h);
    if (!h->L)
        UTIL_ABORT("out of memory (a new Lua state)");

    char *msg;
    lua_pushcfunction(h->L, lh_setup);
    if (lh_pcall(h, 0, 0, &msg)) {
        *err = xasprintf("%s: cannot set up the Lua sandbox: %s", dir, msg);
        free(msg);
        goto fail;
    }

    if (lh_run_file(h, h->thresholds_path, err))
        goto fail;
    // stack: thresholds' table
    lua_pushcfunction(h->L, lh_bind_thresholds);
    lua_insert(h->L, -2);
    if (lh_pcall(h, 1, 1, &msg)) {
        *err = lh_in_file(h->thresholds_path, msg);
        free(msg);
        goto fail;
    }
    if (lua_type(h->L, -1) == LUA_TSTRING) {
        *err = xasprintf("%s: %s", h->thresholds_path, lua_tostring(h->L, -1));
        goto fail;
    }
    lua_pop(h->L, 1);
    UTIL_ASSERT(lua_gettop(h->L) == 0);
    *out = h;
    return 0;

fail:
    lh_free(h);
    return -1;
}

/* Pushes classify's ctx for r (a light userdata); run through lh_pcall since it allocates. */
static int lh_push_ctx(lua_State *L)
{
    const struct lh_requirement *r = lua_touserdata(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)r->requirement_id);
    lua_setfield(L, -2, "requirement_id");
    lua_pushinteger(L, (lua_Integer)r->system_id);
    lua_setfield(L, -2, "system_id");
    if (r->system) {
        lua_pushstring(L, r->system);
        lua_setfield(L, -2, "system");
    }
    if (r->requirement) {
        lua_pushstring(L, r->requirement);
        lua_setfield(L, -2, "requirement");
    }
    return 1;
}

/* Turns classify's result (top of the stack, left there) into a class id; or -1 and *why
 * (owned), which completes "classify(...) returned ...". */
static int lh_class_of(struct lh *h, char **why)
{
    lua_State *L = h->L;
    if (lua_type(L, -1) != LUA_TSTRING) {
        *why = lua_isnil(L, -1) ? xstrdup("nothing (nil), expected a class name (string)")
                                : xasprintf("a %s, expected a class name (string)",
                                            luaL_typename(L, -1));
        return -1;
    }
    size_t len;
    const char *name = lua_tolstring(L, -1, &len);
    const char *invalid = lh_class_invalid(name, len);
    if (invalid) {
        *why = xasprintf("%s, expected a class name", invalid);
        return -1;
    }
    int id = lh_class_find(h, name, len);
    if (id >= 0)
        return id;
    if (h->classes_declared) {
        *why = xasprintf("'%s', which is not in the table's 'classes'", name);
        return -1;
    }
    if (h->nclasses == LH_MAX_CLASSES) {
        *why = xasprintf("'%s', one class more than the " LH_STR(LH_MAX_CLASSES) " allowed", name);
        return -1;
    }
    return lh_class_add(h, name, len);
}

int lh_tabulate(struct lh *h, const struct lh_requirement *r, uint8_t out[5][5], char **err)
{
    UTIL_ASSERT(h && r && out && err);
    lua_State *L = h->L;
    char *msg;

    *err = NULL;
    memset(out, LH_CLASS_NONE, sizeof(uint8_t[5][5]));
    lua_pushcfunction(L, lh_push_ctx);
    lua_pushlightuserdata(L, (void *)r);
    if (lh_pcall(h, 1, 1, &msg)) {
        *err = xasprintf("%s: requirement %lld: %s", h->thresholds_path,
                         (long long)r->requirement_id, msg);
        free(msg);
        return -1;
    }
    // stack: ctx
    uint8_t cells[5][5];
    for (int required = 0; required < 5; required++) {
        for (int actual = 0; actual < 5; actual++) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, h->classify_ref);
            lua_pushinteger(L, required);
            lua_pushinteger(L, actual);
            lua_pushvalue(L, -4);
            if (lh_pcall(h, 3, 1, &msg)) {
                *err = xasprintf("%s: classify(%d, %d) for requirement %lld: %s",
                                 h->thresholds_path, required, actual,
                                 (long long)r->requirement_id, msg);
                free(msg);
                lua_pop(L, 1);
                return -1;
            }
            char *why = NULL;
            int id = lh_class_of(h, &why);
            lua_pop(L, 1);
            if (id < 0) {
                *err = xasprintf("%s: classify(%d, %d) for requirement %lld returned %s",
                                 h->thresholds_path, required, actual,
                                 (long long)r->requirement_id, why);
                free(why);
                lua_pop(L, 1);
                return -1;
            }
            cells[required][actual] = (uint8_t)id;
        }
    }
    lua_pop(L, 1);
    memcpy(out, cells, sizeof cells);
    return 0;
}

int lh_class_count(const struct lh *h) { return h->nclasses; }

const char *lh_class_name(const struct lh *h, uint8_t id)
{
    return id < h->nclasses ? h->classes[id] : NULL;
}

int lh_check(const char *dir, char **err)
{
    struct lh *h;
    if (lh_load(dir, &h, err))
        return -1;
    const struct lh_requirement sample = {
        .requirement_id = 0,
        .system_id = 0,
        .system = "(sample system)",
        .requirement = "(sample requirement)",
    };
    uint8_t cells[5][5];
    int rc = lh_tabulate(h, &sample, cells, err);
    lh_free(h);
    return rc;
}
