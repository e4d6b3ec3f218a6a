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
 *
 * The policies on top of it:
 * - a call into a policy is one protected call of lh_call_policy(), which builds the arguments
 *   (they allocate, so they may fail too), calls the function and turns its answer into JSON
 *   (lua_json.c: raw reads, no script code runs); C then checks the JSON field by field;
 * - for those calls the hook also watches returns, to learn the line of the `return` whose answer
 *   was wrong: a message about a wrong answer points at the line to change;
 * - a report writes through a writer object whose methods escape for HTML and quote for CSV; it
 *   is cut off from its buffer when the render ends, so a writer kept by the script is harmless;
 * - require() is evne's own: it runs lib/NAME.lua of the rules folder once per state and caches
 *   a frozen copy of its answer in the registry, out of reach of the rules (like Lua's
 *   package.loaded, but with no path search and nothing a rule can write to).
 */
#include "lua_host.h"

#include "lua_json.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LH_THRESHOLDS "thresholds.lua"
#define LH_REPORTS "reports"
#define LH_LIBS "lib"                    /* the libraries' folder: lib/NAME.lua */
#define LH_FREEZE_DEPTH 32               /* how deeply a library's tables may nest */
#define LH_WATCHDOG_MSG "stopped: too many instructions in one call (an endless loop?)"
#define LH_WRITER "evne report writer"  /* the registry name of the writer's metatable */
#define LH_MAX_REASON 1000               /* bytes in a proposal's reason */
#define LH_MAX_NAME 64                   /* bytes in a template or report name */
#define LH_CSV_BOM "\xEF\xBB\xBF"
#define LH_STR(x) LH_STR2(x)
#define LH_STR2(x) #x

enum lh_kind { LH_KIND_THRESHOLDS, LH_KIND_EFFECTIVE, LH_KIND_MATCHING, LH_KIND_REMINDERS,
               LH_KIND_REPORT, LH_NKINDS };

static const struct {
    const char *file;   /* the file's name in the folder; NULL for reports (any name) */
    const char *fn;     /* the function its table must have */
    const char *args;   /* the arguments an example's `args` lists, for messages */
} lh_kinds[LH_NKINDS] = {
    [LH_KIND_THRESHOLDS] = {LH_THRESHOLDS, "classify", "required, actual, ctx"},
    [LH_KIND_EFFECTIVE] = {"effective_level.lua", "effective", "assessments, ctx"},
    [LH_KIND_MATCHING] = {"matching.lua", "match", "employee, gaps, courses"},
    [LH_KIND_REMINDERS] = {"reminders.lua", "due", "employee, facts, now"},
    [LH_KIND_REPORT] = {NULL, "render", "data"},
};

enum { LH_HTML = 1, LH_CSV = 2 };

/* One loaded policy file. */
struct lh_file {
    enum lh_kind kind;
    char *path;               /* "DIR/matching.lua": the name in every message about it */
    char *name;               /* "matching.lua", "reports/gaps.lua" */
    char sha256[65];
    int table_ref;            /* registry references to what the file returned ... */
    int fn_ref;               /* ... and to its function */
    int fn_line;              /* where that function starts (0: unknown) */
    int nexamples;
    char *report;             /* a report's name */
    unsigned formats;         /* a report's formats: LH_HTML | LH_CSV */
    unsigned first_format;    /* the one listed first: an example's default */
    json_t *about;            /* a report's {name, title, params, formats, file} */
};

/* One loaded library (lib/NAME.lua). */
struct lh_lib {
    char *path;               /* "DIR/lib/report_format.lua" */
    char *name;               /* "lib/report_format.lua" */
    char sha256[65];
};

struct lh {
    lua_State *L;
    size_t mem_used;          /* bytes the state holds; the allocator's bookkeeping */
    int watchdog_fired;       /* set by the count hook, cleared by each lh_pcall */
    char *thresholds_path;    /* "DIR/thresholds.lua" (borrowed from files[0]) */
    int classify_ref;         /* registry reference to thresholds' classify */
    int classes_declared;     /* thresholds returned a `classes` list: nothing else may appear */
    int nclasses;
    char *classes[LH_MAX_CLASSES];
    char *dir;                /* as given, ending in '/' */
    struct lh_file *files;    /* thresholds first, then as lh_policies lists them */
    int nfiles;
    int by_kind[LH_KIND_REPORT]; /* index in files of each single policy, -1 when absent */
    struct lh_lib *libs;      /* in the order they were loaded; by name once lh_load is done */
    int nlibs;
    const struct lh_file *returning; /* whose top-level returns the hook notes ... */
    int return_line;          /* ... and the line of the last one (0: unknown) */
};

/* Registry keys (their addresses are the keys). */
static const char lh_env_mt_key;  /* the metatable every rule file's environment shares */
static const char lh_frozen_key;  /* the set of frozen proxies, which rawset refuses */
static const char lh_libs_key;    /* library name -> what it returned (frozen), or ... */
static const char lh_loading_key; /* ... this key (light userdata) while it runs */
static const char lh_chain_key;   /* the names of the libraries running, outermost first */

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

/* The hook. Counting: the watchdog. Once it fires, it re-arms itself to fire on every
 * instruction, so a pcall inside the script that catches the first error only runs into the next
 * one (Redis's trick). Returns (armed for policy calls only): when the function lh_call_policy
 * called returns, the line of that return, if it lies in the policy's file. */
static void lh_hook(lua_State *L, lua_Debug *ar)
{
    struct lh *h = lh_from(L);
    if (ar->event == LUA_HOOKRET) {
        lua_Debug caller;
        // Level 1 is lh_call_policy and there is no level 2 only for the policy's own function
        // (or the function it tail-called); both lookups are O(1).
        if (h->returning && lua_getstack(L, 1, &caller) && !lua_getstack(L, 2, &caller) &&
            lua_getinfo(L, "Sl", ar) && ar->source[0] == '@' &&
            strcmp(ar->source + 1, h->returning->path) == 0)
            h->return_line = ar->currentline;
        return;
    }
    h->watchdog_fired = 1;
    lua_sethook(L, lh_hook, LUA_MASKCOUNT, 1);
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

/* Calls the function below the nargs arguments on top of the stack, as lua_pcall, with the hook
 * armed for this call only (mask: LUA_MASKCOUNT, plus LUA_MASKRET for a policy call). 0 on
 * success. Otherwise -1, nothing of the call is left on the stack, and *msg (owned) holds the
 * error with its traceback. */
static int lh_pcall_with(struct lh *h, int nargs, int nresults, int mask, char **msg)
{
    lua_State *L = h->L;
    int base = lua_gettop(L) - nargs; /* the function's index */

    lua_pushcfunction(L, lh_msghandler);
    lua_insert(L, base);
    h->watchdog_fired = 0;
    lua_sethook(L, lh_hook, mask, (int)LH_INSTRUCTION_LIMIT);
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

static int lh_pcall(struct lh *h, int nargs, int nresults, char **msg)
{
    return lh_pcall_with(h, nargs, nresults, LUA_MASKCOUNT, msg);
}

/* "path: msg" unless msg already starts with the path (Lua's "path:line: ..."). Owned. */
static char *lh_in_file(const char *path, const char *msg)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':')
        return xstrdup(msg);
    return xasprintf("%s: %s", path, msg);
}

/* --- the report writer ------------------------------------------------------------------ */

/* `out` in render(data, out). b is the caller's buffer while the render runs, NULL after. */
struct lh_writer {
    struct buf *b;
    size_t written;
    int csv;
};

static struct lh_writer *lh_writer_self(lua_State *L, const char *method)
{
    struct lh_writer *w = luaL_testudata(L, 1, LH_WRITER);
    if (!w)
        luaL_error(L, "out:%s: call it with a colon, out:%s(...)", method, method);
    if (!w->b)
        luaL_error(L, "out:%s: the render has ended; write only while render runs", method);
    return w;
}

static void lh_writer_put(lua_State *L, struct lh_writer *w, const char *s, size_t n)
{
    if (n > LH_REPORT_MAX_BYTES - w->written)
        luaL_error(L, "the report is larger than %d MB", (int)(LH_REPORT_MAX_BYTES >> 20));
    buf_append(w->b, s, n);
    w->written += n;
}

static const char *lh_writer_text(lua_State *L, int idx, const char *method, size_t *n)
{
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_error(L, "out:%s expects text or a number (got %s)", method, luaL_typename(L, idx));
    return lua_tolstring(L, idx, n);
}

/* out:write(text): as it is. */
static int lh_writer_write(lua_State *L)
{
    struct lh_writer *w = lh_writer_self(L, "write");
    size_t n;
    const char *s = lh_writer_text(L, 2, "write", &n);
    lh_writer_put(L, w, s, n);
    return 0;
}

/* out:html(text): escaped for HTML text and attribute values. */
static int lh_writer_html(lua_State *L)
{
    struct lh_writer *w = lh_writer_self(L, "html");
    size_t n;
    const char *s = lh_writer_text(L, 2, "html", &n);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        }
        if (!e)
            continue;
        lh_writer_put(L, w, s + from, i - from);
        lh_writer_put(L, w, e, strlen(e));
        from = i + 1;
    }
    lh_writer_put(L, w, s + from, n - from);
    return 0;
}

/* out:csv_row({cell, ...}): cells separated by semicolons, the row ended by CRLF, as Excel in
 * Norway reads it (and as page_reports.c writes its CSV). A cell is quoted when it holds ; " CR
 * or LF; a text that Excel would take for a formula (= + - @ first) gets a leading apostrophe;
 * a number with a fraction is written with a decimal comma; nil is an empty cell. */
static int lh_writer_csv_row(lua_State *L)
{
    struct lh_writer *w = lh_writer_self(L, "csv_row");
    if (!lua_istable(L, 2))
        return luaL_error(L, "out:csv_row expects a list of cells (got %s)", luaL_typename(L, 2));
    lua_Unsigned n = lua_rawlen(L, 2);
    for (lua_Unsigned i = 1; i <= n; i++) {
        if (i > 1)
            lh_writer_put(L, w, ";", 1);
        int t = lua_rawgeti(L, 2, (lua_Integer)i);
        if (t == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            int formula = len && strchr("=+-@\t\r", s[0]);
            if (!formula && !strpbrk(s, ";\"\r\n") && !memchr(s, '\0', len)) {
                lh_writer_put(L, w, s, len);
            } else {
                lh_writer_put(L, w, formula ? "\"'" : "\"", formula ? 2 : 1);
                size_t from = 0;
                for (size_t k = 0; k < len; k++) {
                    if (s[k] != '"')
                        continue;
                    lh_writer_put(L, w, s + from, k + 1 - from); /* the quote, then again */
                    from = k;
                }
                lh_writer_put(L, w, s + from, len - from);
                lh_writer_put(L, w, "\"", 1);
            }
        } else if (t == LUA_TNUMBER) {
            char num[64];
            if (lua_isinteger(L, -1)) {
                snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -1));
            } else {
                double d = lua_tonumber(L, -1);
                if (!isfinite(d))
                    return luaL_error(L, "out:csv_row: cell %d is not a finite number", (int)i);
                snprintf(num, sizeof num, "%.15g", d);
                char *dot = strchr(num, '.');
                if (dot)
                    *dot = ',';
            }
            lh_writer_put(L, w, num, strlen(num));
        } else if (t != LUA_TNIL) {
            return luaL_error(L, "out:csv_row: cell %d is a %s, expected text or a number",
                              (int)i, luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    lh_writer_put(L, w, "\r\n", 2);
    return 0;
}

/* __index of a writer: out.format, else the methods (upvalue 1). */
static int lh_writer_index(lua_State *L)
{
    struct lh_writer *w = luaL_testudata(L, 1, LH_WRITER);
    if (w && lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "format") == 0) {
        lua_pushstring(L, w->csv ? "csv" : "html");
        return 1;
    }
    lua_settop(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

/* The writer's metatable, in the registry under LH_WRITER; part of lh_setup. */
static void lh_writer_setup(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"write", lh_writer_write},
        {"html", lh_writer_html},
        {"csv_row", lh_writer_csv_row},
        {NULL, NULL},
    };
    luaL_newmetatable(L, LH_WRITER);
    luaL_newlib(L, methods);
    lua_pushcclosure(L, lh_writer_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
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

/* #proxy: the real table's length (upvalue 1), so that # and table.concat see a frozen list. */
static int lh_frozen_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, lua_upvalueindex(1)));
    return 1;
}

/* stack: real -> proxy. The proxy reads through to the real table and refuses writes; its
 * metatable is protected, and it is recorded in the set at `frozen` so that rawset refuses it. */
static void lh_freeze(lua_State *L, const char *name, int frozen)
{
    lua_newtable(L);
    lua_createtable(L, 0, 5);
    // stack: real, proxy, mt
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, lh_readonly, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, lh_frozen_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, lh_frozen_len, 1);
    lua_setfield(L, -2, "__len");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, frozen);
    lua_remove(L, -2);
}

/* stack: name, value -> the value as a library hands it out. A table becomes the frozen proxy
 * (lh_freeze) of a copy of it in which every table is frozen the same way, so that nothing
 * reachable from a library's answer can be changed by one rule for the others; the library's
 * own functions keep working on the originals. A table met twice (or in a cycle) gets one proxy
 * (seen: original -> proxy); one frozen already (string, another library's answer) stays as it
 * is. Metatables are not carried over, and tables used as keys are not frozen. */
static void lh_freeze_deep(lua_State *L, int frozen, int seen, int depth)
{
    if (lua_type(L, -1) != LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    lua_pushvalue(L, -1);
    if (lua_rawget(L, frozen) != LUA_TNIL) {
        lua_pop(L, 1);
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, seen) != LUA_TNIL) {
        // stack: name, real, proxy
        lua_replace(L, -3);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (depth >= LH_FREEZE_DEPTH)
        luaL_error(L, "%s: tables nested more than " LH_STR(LH_FREEZE_DEPTH) " deep",
                   lua_tostring(L, -2));
    luaL_checkstack(L, 12, "freezing a library");
    int name = lua_gettop(L) - 1, real = name + 1, copy = name + 2;
    lua_newtable(L);
    lua_pushvalue(L, copy);
    lh_freeze(L, lua_tostring(L, name), frozen);
    // stack: name, real, copy, proxy
    lua_pushvalue(L, real);
    lua_pushvalue(L, -2);
    lua_rawset(L, seen);
    lua_pushnil(L);
    while (lua_next(L, real)) {
        // stack: ..., key, value
        int isint;
        lua_Integer i = lua_tointegerx(L, -2, &isint);
        if (lua_type(L, -2) == LUA_TSTRING)
            lua_pushfstring(L, "%s.%s", lua_tostring(L, name), lua_tostring(L, -2));
        else if (lua_type(L, -2) == LUA_TNUMBER && isint)
            lua_pushfstring(L, "%s[%I]", lua_tostring(L, name), i);
        else
            lua_pushfstring(L, "%s[...]", lua_tostring(L, name));
        lua_insert(L, -2);
        lh_freeze_deep(L, frozen, seen, depth + 1);
        // stack: ..., key, frozen value
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, copy);
    }
    lua_replace(L, name);
    lua_settop(L, name);
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
        return luaL_error(L, "cannot rawset a read-only table (the shared libraries, and what "
                             "evne hands a rule)");
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

static const char *const lh_removed[] = {"dofile", "loadfile", "collectgarbage", NULL};
static const char *const lh_os_kept[] = {"time", "date", "clock", NULL};
static const char *const lh_frozen_libs[] = {
    LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME, LUA_OSLIBNAME, NULL};

static int lh_require(lua_State *L);

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

    lua_pushcfunction(L, lh_require); /* evne's own: libraries from lib/ only */
    lua_setglobal(L, "require");
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lh_libs_key);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lh_chain_key);

    lua_newtable(L);
    int frozen = lua_gettop(L);
    /* weak keys: the read-only views a call gets (lh_view) go when the call is done */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, frozen);
    lua_pushvalue(L, frozen);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lh_frozen_key);
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
    lh_writer_setup(L);
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

/* Reads path whole into b. 0; 1 when optional and the file does not exist; -1 and *err (owned).
 * Worded here, not by luaL_loadfilex, so that "cannot open" reads like every other message
 * (file first); rule files are small. */
static int lh_read(const char *path, int optional, struct buf *b, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional && errno == ENOENT)
            return 1;
        *err = xasprintf("%s: cannot open (%s)", path, strerror(errno));
        return -1;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(b, chunk, n);
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        *err = xasprintf("%s: cannot read (%s)", path, strerror(saved));
        buf_free(b);
        return -1;
    }
    return 0;
}

/* Compiles the text of the file at path (read into b, which it frees) as a chunk named after
 * path, and fills sha256 with the hash of its bytes. Pushes the chunk, or the error, which
 * already reads "path:line: ..." for a syntax error; returns Lua's status. Never raises: Lua's
 * loader is protected by itself. */
static int lh_compile(lua_State *L, const char *path, struct buf *b, char sha256[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)(b->data ? b->data : ""), b->len);
    sodium_bin2hex(sha256, 65, digest, sizeof digest);

    const char *text = b->data ? b->data : "";
    size_t len = b->len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* editors on Windows add a BOM */
        text += 3;
        len -= 3;
    }
    char *name = xasprintf("@%s", path);
    int status = luaL_loadbufferx(L, text, len, name, "t");
    free(name);
    buf_free(b);
    return status;
}

/* Runs f's file as text, leaving its one result on the stack and its sha256 in f. 0; 1 when
 * optional and absent (nothing pushed); -1 and *err (owned). */
static int lh_run_file(struct lh *h, struct lh_file *f, int optional, char **err)
{
    struct buf b = {0};
    int rc = lh_read(f->path, optional, &b, err);
    if (rc)
        return rc;
    lua_State *L = h->L;
    lua_pushcfunction(L, lh_run_chunk);
    int status = lh_compile(L, f->path, &b, f->sha256);
    if (status != LUA_OK) {
        // stack: lh_run_chunk, error. A syntax error already reads "path:line: ...".
        *err = lh_in_file(f->path, lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    char *msg;
    if (lh_pcall(h, 1, 1, &msg)) {
        *err = lh_in_file(f->path, msg);
        free(msg);
        return -1;
    }
    return 0;
}

/* --- libraries: require("NAME") gets lib/NAME.lua ---------------------------------------- */

/* Is s a library's name: lowercase letters a-z, digits and _, starting with a letter? */
static int lh_is_name(const char *s, size_t len, int dash);

/* Raises "require("x"): a cycle: lib/x.lua requires lib/y.lua, which requires lib/x.lua" for
 * name (argument 1), which is running already, somewhere in the chain (a list, at chain). */
static int lh_cycle(lua_State *L, int chain)
{
    const char *name = lua_tostring(L, 1);
    lua_Integer n = (lua_Integer)lua_rawlen(L, chain), from = 1;
    for (lua_Integer i = n; i >= 1; i--) {
        lua_rawgeti(L, chain, i);
        int same = strcmp(lua_tostring(L, -1), name) == 0;
        lua_pop(L, 1);
        if (same) {
            from = i;
            break;
        }
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer i = from; i <= n + 1; i++) {
        const char *link = name;
        if (i <= n) {
            lua_rawgeti(L, chain, i);
            link = lua_tostring(L, -1);
            lua_pop(L, 1); /* the chain keeps the string */
        }
        luaL_addstring(&b, i == from ? "" : i == from + 1 ? " requires " : ", which requires ");
        luaL_addstring(&b, LH_LIBS "/");
        luaL_addstring(&b, link);
        luaL_addstring(&b, ".lua");
    }
    luaL_pushresult(&b);
    return luaL_error(L, "require(\"%s\"): a cycle: %s", name, lua_tostring(L, -1));
}

/* require(name): the library lib/NAME.lua of the rules folder. It runs once per state, in an
 * environment of its own like every rule file, on the first require (or at the end of lh_load);
 * every require after that gets what it returned, frozen (lh_freeze_deep), from the cache. */
static int lh_require(lua_State *L)
{
    struct lh *h = lh_from(L);
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "require expects the name of a library, such as "
                             "require(\"report_format\") for " LH_LIBS "/report_format.lua (got %s)",
                          luaL_typename(L, 1));
    const char *name = lua_tolstring(L, 1, &len);
    if (!lh_is_name(name, len, 0))
        return luaL_error(L, "require(\"%s\"): not the name of a library: lowercase letters a-z, "
                             "digits and _, starting with a letter, at most " LH_STR(LH_MAX_NAME)
                             " (the library is then " LH_LIBS "/NAME.lua in the rules folder)",
                          len > LH_MAX_NAME ? "..." : name);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lh_libs_key);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lh_chain_key);
    // stack: name, libs, chain
    lua_pushvalue(L, 1);
    int t = lua_rawget(L, 2);
    if (t == LUA_TLIGHTUSERDATA)
        return lh_cycle(L, 3);
    if (t != LUA_TNIL)
        return 1;
    lua_pop(L, 1);

    const char *path = lua_pushfstring(L, "%s" LH_LIBS "/%s.lua", h->dir, name); /* 4 */
    struct buf b = {0};
    char *err = NULL;
    int rc = lh_read(path, 1, &b, &err);
    if (rc == 1)
        return luaL_error(L, "require(\"%s\"): there is no library %s", name, path);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", err);
        free(err);
        return luaL_error(L, "require(\"%s\"): %s", name, msg);
    }
    char sha256[65];
    lua_pushcfunction(L, lh_run_chunk);
    if (lh_compile(L, path, &b, sha256) != LUA_OK)
        return lua_error(L); /* "path:line: ..." */

    // stack: name, libs, chain, path, lh_run_chunk, chunk. Run it marked as running, so that a
    // require of it from inside is a cycle; the mark goes whatever happens.
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, (void *)&lh_loading_key);
    lua_rawset(L, 2);
    lua_Integer depth = (lua_Integer)lua_rawlen(L, 3) + 1;
    lua_pushvalue(L, 1);
    lua_rawseti(L, 3, depth);
    int status = lua_pcall(L, 1, 1, 0);
    lua_pushnil(L);
    lua_rawseti(L, 3, depth);
    if (status == LUA_OK && lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushfstring(L, "%s: must return what the library offers, such as a table of "
                           "functions (got nil)", path);
        status = LUA_ERRRUN;
    }
    if (status != LUA_OK) {
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        lua_rawset(L, 2);
        if (status == LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING &&
            !strstr(lua_tostring(L, -1), "a rule may use at most")) {
            lua_pushfstring(L, " (a rule may use at most %d MB)", (int)(LH_MEMORY_LIMIT >> 20));
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    // stack: name, libs, chain, path, result
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lh_frozen_key);
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 5);
    lh_freeze_deep(L, 6, 7, 0);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, 2);
    // stack: name, libs, chain, path, result, frozen, seen, frozen result. Nothing below raises.
    h->libs = xrealloc(h->libs, (size_t)(h->nlibs + 1) * sizeof *h->libs);
    struct lh_lib *lib = &h->libs[h->nlibs++];
    lib->path = xstrdup(path);
    lib->name = xasprintf(LH_LIBS "/%s.lua", name);
    memcpy(lib->sha256, sha256, sizeof lib->sha256);
    return 1;
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

/* --- checking what a file returned ------------------------------------------------------ */

/* The binders below run inside lh_bind's protected call (__index may be script code, and every
 * push allocates). Each returns 0, or 1 with the reason pushed, which completes "FILE: ...". */

/* thresholds' `classes` (the table is argument 1). */
static int lh_bind_classes(lua_State *L, struct lh *h)
{
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
    lua_pop(L, 1);
    return 0;
}

/* Is s a name of lowercase letters, digits, '_' (and '-' when dash) starting with a letter? */
static int lh_is_name(const char *s, size_t len, int dash)
{
    if (len == 0 || len > LH_MAX_NAME || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              (dash && s[i] == '-')))
            return 0;
    return 1;
}

static unsigned lh_format_bit(const char *s)
{
    return !strcmp(s, "html") ? LH_HTML : !strcmp(s, "csv") ? LH_CSV : 0;
}

/* A report's name, title, params and formats (the table is argument 1). */
static int lh_bind_report(lua_State *L, struct lh_file *f)
{
    size_t len = 0;
    const char *name = lua_getfield(L, 1, "name") == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!name || !lh_is_name(name, len, 1)) {
        lua_pushfstring(L, "'name' must be the report's name: lowercase letters a-z, digits, - "
                           "and _, at most " LH_STR(LH_MAX_NAME) " (got %s)",
                        luaL_typename(L, -1));
        return 1;
    }
    f->report = xstrdup(lua_tostring(L, -1));
    if (lua_getfield(L, 1, "title") != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
        lua_pushfstring(L, "'title' must be the report's title as text (got %s)",
                        luaL_typename(L, -1));
        return 1;
    }
    const char *title = lua_tostring(L, -1);

    if (lua_getfield(L, 1, "formats") != LUA_TTABLE || luaL_len(L, -1) == 0) {
        lua_pushfstring(L, "'formats' must list the report's formats, e.g. { \"html\", \"csv\" } "
                           "(got %s)", luaL_typename(L, -1));
        return 1;
    }
    json_t *formats = json_array();
    f->about = json_pack("{s:s, s:s, s:o, s:s}", "name", f->report, "title", title, "formats",
                         formats, "file", f->name);
    if (!f->about)
        UTIL_ABORT("out of memory (JSON)");
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        unsigned bit = 0;
        if (lua_geti(L, -1, i) == LUA_TSTRING)
            bit = lh_format_bit(lua_tostring(L, -1));
        if (!bit) {
            lua_pushfstring(L, "formats[%I] must be \"html\" or \"csv\"", i);
            return 1;
        }
        if (f->formats & bit) {
            lua_pushfstring(L, "formats[%I] ('%s') is listed twice", i, lua_tostring(L, -1));
            return 1;
        }
        if (!f->formats)
            f->first_format = bit;
        f->formats |= bit;
        json_array_append_new(formats, json_string(lua_tostring(L, -1)));
        lua_pop(L, 1);
    }

    // params: a list of {name = ..., title = ..., more}, handed to whoever asks the user.
    int t = lua_getfield(L, 1, "params");
    json_t *params = NULL;
    char *why = NULL;
    if (t == LUA_TNIL) {
        params = json_array();
    } else if (t != LUA_TTABLE) {
        lua_pushfstring(L, "'params' must be a list of parameters (got %s)", luaL_typename(L, -1));
        return 1;
    } else if (lj_to_json(L, -1, &params, &why)) {
        lua_pushfstring(L, "'params' %s", why);
        free(why);
        return 1;
    }
    json_object_set_new(f->about, "params", params);
    if (!json_is_array(params)) {
        lua_pushliteral(L, "'params' must be a list of parameters, e.g. { {name = \"by\", "
                           "title = \"Vis per\"} }");
        return 1;
    }
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        json_t *pname = json_object_get(p, "name"), *ptitle = json_object_get(p, "title");
        if (!json_is_string(pname) ||
            !lh_is_name(json_string_value(pname), json_string_length(pname), 0) ||
            !json_is_string(ptitle)) {
            lua_pushfstring(L, "params[%d] must be a table with a 'name' (lowercase letters, "
                               "digits and _) and a 'title' (text)", (int)i + 1);
            return 1;
        }
    }
    return 0;
}

/* `examples` (the table is argument 1): their shape now, so that a typo shows at load; they run
 * in lh_examples. */
static int lh_bind_examples(lua_State *L, struct lh_file *f)
{
    int t = lua_getfield(L, 1, "examples");
    if (t == LUA_TNIL)
        return 0;
    if (t != LUA_TTABLE) {
        lua_pushfstring(L, "'examples' must be a list of examples (got %s)", luaL_typename(L, -1));
        return 1;
    }
    int list = lua_gettop(L);
    lua_Integer n = luaL_len(L, list);
    if (n > 10000) {
        lua_pushliteral(L, "'examples' lists more than 10000 examples");
        return 1;
    }
    for (lua_Integer i = 1; i <= n; i++) {
        lua_settop(L, list);
        if (lua_geti(L, list, i) != LUA_TTABLE) {
            lua_pushfstring(L, "examples[%I] is %s, expected a table", i, luaL_typename(L, -1));
            return 1;
        }
        int ex = lua_gettop(L);
        t = lua_getfield(L, ex, "name");
        if (t != LUA_TNIL && t != LUA_TSTRING) {
            lua_pushfstring(L, "examples[%I].name must be text (got %s)", i, luaL_typename(L, -1));
            return 1;
        }
        if (f->kind == LH_KIND_THRESHOLDS) {
            static const char *const levels[] = {"required", "actual"};
            for (int k = 0; k < 2; k++) {
                int isnum = 0;
                lua_getfield(L, ex, levels[k]);
                lua_Integer v = lua_tointegerx(L, -1, &isnum);
                if (!isnum || lua_type(L, -1) != LUA_TNUMBER || v < 0 || v > 4) {
                    lua_pushfstring(L, "examples[%I].%s must be a level 0-4", i, levels[k]);
                    return 1;
                }
            }
            if (lua_getfield(L, ex, "expect") != LUA_TSTRING) {
                lua_pushfstring(L, "examples[%I].expect must be the class classify should answer "
                                   "(got %s)", i, luaL_typename(L, -1));
                return 1;
            }
            t = lua_getfield(L, ex, "ctx");
            if (t != LUA_TNIL && t != LUA_TTABLE) {
                lua_pushfstring(L, "examples[%I].ctx must be a table (got %s)", i,
                                luaL_typename(L, -1));
                return 1;
            }
            continue;
        }
        if (lua_getfield(L, ex, "args") != LUA_TTABLE) {
            lua_pushfstring(L, "examples[%I].args must be a list of the arguments (%s) to %s "
                               "(got %s)", i, lh_kinds[f->kind].args, lh_kinds[f->kind].fn,
                            luaL_typename(L, -1));
            return 1;
        }
        if (f->kind != LH_KIND_REPORT)
            continue;
        if (lua_geti(L, -1, 1) != LUA_TTABLE) {
            lua_pushfstring(L, "examples[%I].args must be { data }, the data to render (its first "
                               "is %s)", i, luaL_typename(L, -1));
            return 1;
        }
        t = lua_getfield(L, ex, "format");
        if (t != LUA_TNIL && (t != LUA_TSTRING || !(f->formats & lh_format_bit(lua_tostring(L, -1))))) {
            lua_pushfstring(L, "examples[%I].format must be one of the report's formats", i);
            return 1;
        }
        int expect = lua_getfield(L, ex, "expect");
        if (expect != LUA_TNIL && expect != LUA_TSTRING) {
            lua_pushfstring(L, "examples[%I].expect must be the whole text the report writes "
                               "(got %s)", i, luaL_typename(L, -1));
            return 1;
        }
        t = lua_getfield(L, ex, "contains");
        if (t != LUA_TNIL && t != LUA_TSTRING && t != LUA_TTABLE) {
            lua_pushfstring(L, "examples[%I].contains must be text, or a list of texts, the report "
                               "writes (got %s)", i, luaL_typename(L, -1));
            return 1;
        }
        if (t == LUA_TNIL && expect == LUA_TNIL) {
            lua_pushfstring(L, "examples[%I] needs 'expect' (the whole text) or 'contains' (texts "
                               "it must hold)", i);
            return 1;
        }
    }
    f->nexamples = (int)n;
    lua_settop(L, list - 1);
    return 0;
}

/* Checks what a file returned (argument 1) against its kind (f, argument 2) and keeps its table
 * and function. Returns nothing on success and the reason otherwise. */
static int lh_bind(lua_State *L)
{
    struct lh *h = lh_from(L);
    struct lh_file *f = lua_touserdata(L, 2);
    const char *fn = lh_kinds[f->kind].fn;

    lua_settop(L, 1);
    if (!lua_istable(L, 1)) {
        lua_pushfstring(L, "must return a table with a function '%s' (got %s)", fn,
                        luaL_typename(L, 1));
        return 1;
    }
    if (lua_getfield(L, 1, fn) != LUA_TFUNCTION) {
        lua_pushfstring(L, "must return a table with a function '%s' (its '%s' is %s)", fn, fn,
                        luaL_typename(L, -1));
        return 1;
    }
    lua_Debug ar;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    f->fn_line = ar.linedefined > 0 ? ar.linedefined : 0;
    f->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, 1);
    f->table_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    if (f->kind == LH_KIND_THRESHOLDS) {
        h->classify_ref = f->fn_ref;
        if (lh_bind_classes(L, h))
            return 1;
    }
    if (f->kind == LH_KIND_REPORT && lh_bind_report(L, f))
        return 1;
    return lh_bind_examples(L, f);
}

/* --- the module ------------------------------------------------------------------------- */

static void lh_file_free(struct lh_file *f)
{
    free(f->path);
    free(f->name);
    free(f->report);
    json_decref(f->about);
}

void lh_free(struct lh *h)
{
    if (!h)
        return;
    if (h->L)
        lua_close(h->L);
    for (int i = 0; i < h->nclasses; i++)
        free(h->classes[i]);
    for (int i = 0; i < h->nfiles; i++)
        lh_file_free(&h->files[i]);
    free(h->files);
    for (int i = 0; i < h->nlibs; i++) {
        free(h->libs[i].path);
        free(h->libs[i].name);
    }
    free(h->libs);
    free(h->dir);
    free(h);
}

/* Loads name (within the folder) as a policy of kind. 0; 1 when optional and absent; -1 and
 * *err (owned). */
static int lh_add_file(struct lh *h, enum lh_kind kind, const char *name, int optional, char **err)
{
    h->files = xrealloc(h->files, (size_t)(h->nfiles + 1) * sizeof *h->files);
    struct lh_file *f = &h->files[h->nfiles];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->name = xstrdup(name);
    f->path = xasprintf("%s%s", h->dir, name);
    f->table_ref = f->fn_ref = LUA_NOREF;
    h->nfiles++;

    int rc = lh_run_file(h, f, optional, err);
    if (rc) {
        if (rc == 1) {
            lh_file_free(f);
            h->nfiles--;
        }
        return rc;
    }
    // stack: what the file returned
    char *msg;
    lua_pushcfunction(h->L, lh_bind);
    lua_insert(h->L, -2);
    lua_pushlightuserdata(h->L, f);
    if (lh_pcall(h, 2, 1, &msg)) {
        *err = lh_in_file(f->path, msg);
        free(msg);
        return -1;
    }
    if (lua_type(h->L, -1) == LUA_TSTRING) {
        *err = xasprintf("%s: %s", f->path, lua_tostring(h->L, -1));
        lua_pop(h->L, 1);
        return -1;
    }
    lua_pop(h->L, 1);
    if (kind != LH_KIND_REPORT)
        h->by_kind[kind] = h->nfiles - 1;
    return 0;
}

static int lh_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the .lua files in dir (hidden ones left out), sorted. -1 when dir cannot be
 * read; *names is then NULL. */
static int lh_list(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *names = xrealloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n)
        util_sort(*names, *n, sizeof **names, lh_name_cmp);
    return 0;
}

static void lh_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Everything but thresholds: the optional policies, a check that no other .lua file lies in the
 * folder, the reports. */
static int lh_load_rest(struct lh *h, char **err)
{
    for (int k = LH_KIND_EFFECTIVE; k < LH_KIND_REPORT; k++)
        if (lh_add_file(h, (enum lh_kind)k, lh_kinds[k].file, 1, err) < 0)
            return -1;

    char **names;
    size_t n;
    if (lh_list(h->dir, &names, &n)) {
        *err = xasprintf("%s: cannot list the folder (%s)", h->dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (int k = 0; k < LH_KIND_REPORT; k++)
            known |= strcmp(names[i], lh_kinds[k].file) == 0;
        if (!known) {
            *err = xasprintf("%s%s: not a policy evne knows: the policies are thresholds.lua, "
                             "effective_level.lua, matching.lua and reminders.lua, report layouts "
                             "go in " LH_REPORTS "/ (keep other files in a subfolder, such as "
                             "examples/)", h->dir, names[i]);
            lh_list_free(names, n);
            return -1;
        }
    }
    lh_list_free(names, n);

    char *reports = xasprintf("%s" LH_REPORTS, h->dir);
    int rc = lh_list(reports, &names, &n);
    int listed_errno = errno;
    free(reports);
    if (rc) {
        if (listed_errno == ENOENT)
            return 0;
        *err = xasprintf("%s" LH_REPORTS ": cannot list the folder (%s)", h->dir,
                         strerror(listed_errno));
        return -1;
    }
    rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *name = xasprintf(LH_REPORTS "/%s", names[i]);
        rc = lh_add_file(h, LH_KIND_REPORT, name, 0, err);
        free(name);
        if (rc)
            break;
        struct lh_file *f = &h->files[h->nfiles - 1];
        for (int k = 0; k < h->nfiles - 1; k++) {
            if (h->files[k].report && strcmp(h->files[k].report, f->report) == 0) {
                *err = xasprintf("%s: a report named '%s' is already declared in %s", f->path,
                                 f->report, h->files[k].path);
                rc = -1;
                break;
            }
        }
    }
    lh_list_free(names, n);
    return rc ? -1 : 0;
}

/* require(name) from C: the name (argument 1) is a light userdata, since pushing a string may
 * fail, and only inside a protected call may anything fail. */
static int lh_require_named(lua_State *L)
{
    const char *name = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_pushcfunction(L, lh_require);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
    return 0;
}

static int lh_lib_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lh_lib *)a)->name, ((const struct lh_lib *)b)->name);
}

/* Loads every library in lib/ that no rule has required yet, so that a broken library fails
 * the load (and a reload keeps the running rules) before anything needs it; then puts the
 * libraries in name order, as lh_policies lists them. */
static int lh_load_libs(struct lh *h, char **err)
{
    char *dir = xasprintf("%s" LH_LIBS, h->dir);
    char **names;
    size_t n;
    int rc = lh_list(dir, &names, &n);
    int listed_errno = errno;
    free(dir);
    if (rc) {
        if (listed_errno == ENOENT)
            return 0;
        *err = xasprintf("%s" LH_LIBS ": cannot list the folder (%s)", h->dir,
                         strerror(listed_errno));
        return -1;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = strlen(names[i]) - 4;
        names[i][len] = '\0'; /* without .lua */
        if (!lh_is_name(names[i], len, 0)) {
            *err = xasprintf("%s" LH_LIBS "/%s.lua: not the name of a library: lowercase letters "
                             "a-z, digits and _, starting with a letter, at most "
                             LH_STR(LH_MAX_NAME) " (require(\"NAME\") gets " LH_LIBS "/NAME.lua)",
                             h->dir, names[i]);
            rc = -1;
            break;
        }
        char *msg;
        lua_pushcfunction(h->L, lh_require_named);
        lua_pushlightuserdata(h->L, names[i]);
        if (lh_pcall(h, 1, 0, &msg)) {
            char *path = xasprintf("%s" LH_LIBS "/%s.lua", h->dir, names[i]);
            *err = lh_in_file(path, msg);
            free(path);
            free(msg);
            rc = -1;
        }
    }
    lh_list_free(names, n);
    if (h->nlibs > 1)
        util_sort(h->libs, (size_t)h->nlibs, sizeof *h->libs, lh_lib_cmp);
    return rc;
}

int lh_load(const char *dir, struct lh **out, char **err)
{
    UTIL_ASSERT(dir && out && err);
    *out = NULL;
    *err = NULL;
    if (sodium_init() < 0)
        UTIL_ABORT("libsodium cannot start");

    struct lh *h = xcalloc(1, sizeof *h);
    h->classify_ref = LUA_NOREF;
    for (int k = 0; k < LH_KIND_REPORT; k++)
        h->by_kind[k] = -1;
    size_t dl = strlen(dir);
    h->dir = xasprintf("%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/");
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
    int rc = lh_add_file(h, LH_KIND_THRESHOLDS, LH_THRESHOLDS, 0, err);
    h->thresholds_path = h->files[0].path;
    if (rc || lh_load_rest(h, err) || lh_load_libs(h, err))
        goto fail;
    UTIL_ASSERT(lua_gettop(h->L) == 0);
    *out = h;
    return 0;

fail:
    lh_free(h);
    return -1;
}

int lh_policies(const struct lh *h, struct lh_policy *out, int max)
{
    for (int i = 0; i < h->nfiles && i < max; i++) {
        out[i].file = h->files[i].path;
        out[i].name = h->files[i].name;
        memcpy(out[i].sha256, h->files[i].sha256, sizeof out[i].sha256);
    }
    for (int i = 0; i < h->nlibs && h->nfiles + i < max; i++) {
        struct lh_policy *p = &out[h->nfiles + i];
        p->file = h->libs[i].path;
        p->name = h->libs[i].name;
        memcpy(p->sha256, h->libs[i].sha256, sizeof p->sha256);
    }
    return h->nfiles + h->nlibs;
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


/* --- calling a policy ------------------------------------------------------------------- */

/* One call into a policy: lh_call_policy builds the arguments with push_args, calls the
 * function and converts its answer to JSON, all in one protected call. */
struct lh_call {
    const struct lh_file *f;
    void (*push_args)(lua_State *L, struct lh_call *c); /* pushes them, sets nargs */
    int nargs;
    const void *in;           /* what push_args reads */
    int ignore_result;        /* render: the answer does not matter */
    int writer_ref;           /* render: registry reference to `out` */
    json_t *result;           /* owned: the answer */
    char *why;                /* owned: why the answer cannot become JSON */
    int line;                 /* of the return that answered; 0 when unknown */
};

static int lh_call_policy(lua_State *L)
{
    struct lh_call *c = lua_touserdata(L, 1);
    struct lh *h = lh_from(L);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->f->fn_ref);
    c->push_args(L, c);
    h->returning = c->f;
    h->return_line = 0;
    lua_call(L, c->nargs, 1);
    h->returning = NULL;
    c->line = h->return_line;
    if (!c->ignore_result && lj_to_json(L, -1, &c->result, &c->why))
        c->result = NULL;
    return 0;
}

/* Runs c. 0 and c->result (owned by c's caller); -1 and *err (owned). */
static int lh_run(struct lh *h, struct lh_call *c, char **err)
{
    char *msg;
    c->result = NULL;
    c->why = NULL;
    c->line = 0;
    lua_pushcfunction(h->L, lh_call_policy);
    lua_pushlightuserdata(h->L, c);
    int rc = lh_pcall_with(h, 1, 0, LUA_MASKCOUNT | LUA_MASKRET, &msg);
    h->returning = NULL;
    if (rc) {
        *err = lh_in_file(c->f->path, msg);
        free(msg);
        json_decref(c->result);
        c->result = NULL;
        free(c->why);
        c->why = NULL;
        return -1;
    }
    if (c->why) {
        int line = c->line ? c->line : c->f->fn_line;
        *err = line ? xasprintf("%s:%d: %s returned %s", c->f->path, line, lh_kinds[c->f->kind].fn,
                                c->why)
                    : xasprintf("%s: %s returned %s", c->f->path, lh_kinds[c->f->kind].fn, c->why);
        free(c->why);
        c->why = NULL;
        return -1;
    }
    return 0;
}

/* The message about a wrong answer: "path:line: fn returned <why>". Owned. */
static char *lh_wrong(const struct lh_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *lh_wrong(const struct lh_call *c, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    int line = c->line ? c->line : c->f->fn_line;
    if (line)
        return xasprintf("%s:%d: %s returned %s", c->f->path, line, lh_kinds[c->f->kind].fn, why);
    return xasprintf("%s: %s returned %s", c->f->path, lh_kinds[c->f->kind].fn, why);
}

/* A JSON value as a message shows it: 7, 'text', true, a list, a table, nothing (nil). */
static void lh_show(const json_t *v, char *out, size_t size)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(out, size, "%.14g", json_real_value(v));
        break;
    case JSON_STRING: {
        int n = (int)json_string_length(v);
        snprintf(out, size, "'%.*s'%s", n > 40 ? 40 : n, json_string_value(v), n > 40 ? "..." : "");
        break;
    }
    case JSON_TRUE:
        snprintf(out, size, "true");
        break;
    case JSON_FALSE:
        snprintf(out, size, "false");
        break;
    case JSON_NULL:
        snprintf(out, size, "nothing (nil)");
        break;
    case JSON_ARRAY:
        snprintf(out, size, json_array_size(v) ? "a list" : "an empty table");
        break;
    case JSON_OBJECT:
        snprintf(out, size, "a table with named fields");
        break;
    }
}

/* What kind of value v is, for "[2].course is text, expected ...". */
static const char *lh_kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_STRING: return "text";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "nil";
    case JSON_ARRAY: return "a list";
    case JSON_OBJECT: return "a table";
    }
    return "?";
}

static int lh_json_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
        fabs(json_real_value(v)) < 9e15) {
        *out = (int64_t)json_real_value(v);
        return 1;
    }
    return 0;
}

static const struct lh_file *lh_single(const struct lh *h, enum lh_kind kind)
{
    return h->by_kind[kind] < 0 ? NULL : &h->files[h->by_kind[kind]];
}

/* --- effective_level.lua ---------------------------------------------------------------- */

struct lh_effective_in {
    const struct lh_assessment *list;
    size_t n;
    const struct lh_requirement *r;
    int64_t employee_id, now;
};

static void lh_push_effective(lua_State *L, struct lh_call *c)
{
    const struct lh_effective_in *in = c->in;
    luaL_checkstack(L, 4, NULL);
    lua_createtable(L, in->n > INT32_MAX ? 0 : (int)in->n, 0);
    for (size_t i = 0; i < in->n; i++) {
        const struct lh_assessment *a = &in->list[i];
        lua_createtable(L, 0, 4);
        lua_pushinteger(L, a->level);
        lua_setfield(L, -2, "level");
        if (a->source) {
            lua_pushstring(L, a->source);
            lua_setfield(L, -2, "source");
        }
        lua_pushinteger(L, (lua_Integer)a->recorded_at);
        lua_setfield(L, -2, "recorded_at");
        lua_pushinteger(L, (lua_Integer)a->recorded_by);
        lua_setfield(L, -2, "recorded_by");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)in->employee_id);
    lua_setfield(L, -2, "employee_id");
    lua_pushinteger(L, (lua_Integer)in->r->requirement_id);
    lua_setfield(L, -2, "requirement_id");
    lua_pushinteger(L, (lua_Integer)in->r->system_id);
    lua_setfield(L, -2, "system_id");
    if (in->r->system) {
        lua_pushstring(L, in->r->system);
        lua_setfield(L, -2, "system");
    }
    if (in->r->requirement) {
        lua_pushstring(L, in->r->requirement);
        lua_setfield(L, -2, "requirement");
    }
    lua_pushinteger(L, (lua_Integer)in->now);
    lua_setfield(L, -2, "now");
    c->nargs = 2;
}

int lh_has_effective_level(const struct lh *h) { return lh_single(h, LH_KIND_EFFECTIVE) != NULL; }

int lh_effective_level(struct lh *h, const struct lh_assessment *list, size_t n,
                       const struct lh_requirement *ctx, int64_t employee_id, int64_t now,
                       int *level, char **err)
{
    UTIL_ASSERT(h && (list || !n) && ctx && level && err);
    *err = NULL;
    *level = -1;
    const struct lh_file *f = lh_single(h, LH_KIND_EFFECTIVE);
    if (!f) {
        *level = n ? list[n - 1].level : -1; /* the newest counts */
        return 0;
    }
    struct lh_effective_in in = {list, n, ctx, employee_id, now};
    struct lh_call c = {.f = f, .push_args = lh_push_effective, .in = &in};
    if (lh_run(h, &c, err))
        return -1;
    const json_t *r = c.result;
    int64_t v;
    int rc = 0;
    if (json_is_null(r) || json_is_false(r)) {
        *level = -1;
    } else if (json_is_number(r) && lh_json_int(r, &v) && v >= 0 && v <= 4) {
        *level = (int)v;
    } else {
        char shown[64];
        lh_show(r, shown, sizeof shown);
        *err = lh_wrong(&c, "%s, expected a level 0-4 or nil", shown);
        rc = -1;
    }
    json_decref(c.result);
    return rc;
}

/* --- matching.lua ----------------------------------------------------------------------- */

struct lh_json_in {
    const json_t *a, *b, *c;  /* the arguments, pushed with null members left out */
    int64_t now;              /* reminders: the third argument */
    int has_now;
};

static void lh_push_json_args(lua_State *L, struct lh_call *c)
{
    const struct lh_json_in *in = c->in;
    lj_push_as(L, in->a, LJ_NULL_ABSENT);
    lj_push_as(L, in->b, LJ_NULL_ABSENT);
    if (in->has_now)
        lua_pushinteger(L, (lua_Integer)in->now);
    else
        lj_push_as(L, in->c, LJ_NULL_ABSENT);
    c->nargs = 3;
}

/* Read-only views: an empty table whose metatable reads through to the backing table (__index,
 * __len, __pairs) and refuses every assignment (__newindex). Lua 5.4's ipairs, #, pairs and
 * table.concat all go through those; only raw access (rawget, next) sees the empty table. */

static int lh_ro_newindex(lua_State *L)
{
    return luaL_error(L, "the courses are read-only: match gets the same ones for every "
                         "employee (copy what you need to change)");
}

/* stack: view -> its backing table */
static void lh_ro_backing(lua_State *L, int idx)
{
    lua_getmetatable(L, idx);   /* the C API ignores __metatable */
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
}

static int lh_ro_len(lua_State *L)
{
    lh_ro_backing(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

static int lh_ro_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int lh_ro_pairs(lua_State *L)
{
    lua_pushcfunction(L, lh_ro_next);
    lh_ro_backing(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Replaces the table on top of the stack with a read-only view of it, and every table in it
 * with one of its own (made once; a view costs a policy only a metamethod's lookup). */
static void lh_view(lua_State *L)
{
    luaL_checkstack(L, 8, "lh_view");
    lua_pushnil(L);                                  /* stack: t, key */
    while (lua_next(L, -2)) {                        /* stack: t, key, value */
        if (lua_type(L, -1) == LUA_TTABLE) {
            lh_view(L);                              /* stack: t, key, view */
            lua_pushvalue(L, -2);
            lua_insert(L, -2);                       /* stack: t, key, key, view */
            lua_rawset(L, -4);   /* an existing field: allowed while lua_next walks */
        } else {
            lua_pop(L, 1);
        }
    }
    lua_newtable(L);                                 /* stack: t, view */
    lua_createtable(L, 0, 5);                        /* stack: t, view, mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lh_ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, lh_ro_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, lh_ro_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "read-only");
    lua_setfield(L, -2, "__metatable");              /* getmetatable/setmetatable refused */
    lua_setmetatable(L, -2);
    lua_remove(L, -2);                               /* stack: view */
    /* rawset refuses it too: lh_match_many hands the same views to every employee's call */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lh_frozen_key);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* match's arguments: the courses as a read-only view, as lh_match_many hands them. */
static void lh_push_match_args(lua_State *L, struct lh_call *c)
{
    lh_push_json_args(L, c);
    lh_view(L);
}

int lh_has_matching(const struct lh *h) { return lh_single(h, LH_KIND_MATCHING) != NULL; }

/* The course in courses with this id, or NULL. */
static const json_t *lh_course(const json_t *courses, int64_t id, size_t *index)
{
    size_t i;
    json_t *course;
    json_array_foreach(courses, i, course) {
        if (json_integer_value(json_object_get(course, "id")) == id) {
            *index = i;
            return course;
        }
    }
    return NULL;
}

static int lh_has_session(const json_t *course, int64_t id)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(course, "sessions"), i, s)
        if (json_integer_value(json_object_get(s, "id")) == id)
            return 1;
    return 0;
}

/* Checks the caller's courses: every one an object with an integer id, sessions likewise. */
static int lh_courses_valid(const json_t *courses, char **err)
{
    if (!json_is_array(courses)) {
        *err = xstrdup("lh_match: courses must be an array");
        return -1;
    }
    size_t i, k;
    json_t *course, *s;
    json_array_foreach(courses, i, course) {
        if (!json_is_integer(json_object_get(course, "id"))) {
            *err = xasprintf("lh_match: courses[%zu] has no integer id", i + 1);
            return -1;
        }
        json_t *sessions = json_object_get(course, "sessions");
        if (sessions && !json_is_array(sessions) && !json_is_null(sessions)) {
            *err = xasprintf("lh_match: courses[%zu].sessions must be an array", i + 1);
            return -1;
        }
        json_array_foreach(sessions, k, s) {
            if (!json_is_integer(json_object_get(s, "id"))) {
                *err = xasprintf("lh_match: courses[%zu].sessions[%zu] has no integer id", i + 1,
                                 k + 1);
                return -1;
            }
        }
    }
    return 0;
}

/* Checks match's answer against the courses given; *out (owned) the proposals, or an error. */
static int lh_proposals(const struct lh_call *c, const json_t *courses, json_t **out, char **err)
{
    const json_t *r = c->result;
    char shown[64];
    if (!json_is_array(r)) {
        lh_show(r, shown, sizeof shown);
        *err = lh_wrong(c, "%s, expected a list of proposals ({} when no course fits)", shown);
        return -1;
    }
    size_t ncourses = json_array_size(courses);
    size_t *proposed_at = xcalloc(ncourses ? ncourses : 1, sizeof *proposed_at);
    json_t *list = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(r, i, p) {
        size_t at = i + 1;
        if (!json_is_object(p)) {
            lh_show(p, shown, sizeof shown);
            *err = lh_wrong(c, "[%zu] = %s, expected a proposal {course = ..., reason = ..., "
                               "priority = ...}", at, shown);
            goto fail;
        }
        const char *key;
        json_t *v;
        json_object_foreach(p, key, v) {
            if (strcmp(key, "course") && strcmp(key, "session") && strcmp(key, "reason") &&
                strcmp(key, "priority")) {
                *err = lh_wrong(c, "[%zu] with a field '%s', which a proposal does not have "
                                   "(course, session, reason, priority)", at, key);
                goto fail;
            }
        }
        json_t *course = json_object_get(p, "course"), *session = json_object_get(p, "session");
        json_t *reason = json_object_get(p, "reason"), *priority = json_object_get(p, "priority");
        int64_t course_id, session_id = 0;
        size_t ci = 0;
        const json_t *given;
        if (!course) {
            *err = lh_wrong(c, "[%zu] without 'course' (the id of one of the courses given)", at);
            goto fail;
        }
        if (!lh_json_int(course, &course_id)) {
            *err = lh_wrong(c, "[%zu].course as %s, expected a course id", at, lh_kind_of(course));
            goto fail;
        }
        if (!(given = lh_course(courses, course_id, &ci))) {
            *err = lh_wrong(c, "[%zu].course = %lld, which is not one of the courses given", at,
                            (long long)course_id);
            goto fail;
        }
        if (proposed_at[ci]) {
            *err = lh_wrong(c, "[%zu].course = %lld, which [%zu] proposes already", at,
                            (long long)course_id, proposed_at[ci]);
            goto fail;
        }
        proposed_at[ci] = at;
        if (session && !lh_json_int(session, &session_id)) {
            *err = lh_wrong(c, "[%zu].session as %s, expected a session id or nil", at,
                            lh_kind_of(session));
            goto fail;
        }
        if (session && !lh_has_session(given, session_id)) {
            *err = lh_wrong(c, "[%zu].session = %lld, which is not a session of course %lld", at,
                            (long long)session_id, (long long)course_id);
            goto fail;
        }
        if (!json_is_string(reason) || json_string_length(reason) == 0 ||
            json_string_length(reason) > LH_MAX_REASON) {
            *err = reason ? lh_wrong(c, "[%zu].reason as %s, expected text of 1 to "
                                        LH_STR(LH_MAX_REASON) " bytes", at,
                                     json_is_string(reason) ? "empty or too long text"
                                                            : lh_kind_of(reason))
                          : lh_wrong(c, "[%zu] without 'reason' (text saying why it fits)", at);
            goto fail;
        }
        if (!json_is_number(priority)) {
            *err = priority ? lh_wrong(c, "[%zu].priority as %s, expected a number", at,
                                       lh_kind_of(priority))
                            : lh_wrong(c, "[%zu] without 'priority' (a number: the higher, the "
                                          "more it fits)", at);
            goto fail;
        }
        json_array_append_new(list, json_pack("{s:I, s:o, s:O, s:O}", "course",
                                              (json_int_t)course_id, "session",
                                              session ? json_integer(session_id) : json_null(),
                                              "reason", reason, "priority", priority));
    }
    free(proposed_at);
    *out = list;
    return 0;

fail:
    free(proposed_at);
    json_decref(list);
    return -1;
}

int lh_match(struct lh *h, const json_t *employee, const json_t *gaps, const json_t *courses,
             json_t **proposals, char **err)
{
    UTIL_ASSERT(h && employee && gaps && courses && proposals && err);
    *proposals = NULL;
    *err = NULL;
    if (lh_courses_valid(courses, err))
        return -1;
    const struct lh_file *f = lh_single(h, LH_KIND_MATCHING);
    if (!f) {
        *proposals = json_array();
        return 0;
    }
    struct lh_json_in in = {employee, gaps, courses, 0, 0};
    struct lh_call c = {.f = f, .push_args = lh_push_match_args, .in = &in};
    if (lh_run(h, &c, err))
        return -1;
    int rc = lh_proposals(&c, courses, proposals, err);
    json_decref(c.result);
    return rc;
}

/* lh_match_many's state, read by the function that runs inside the call into Lua. */
struct lh_many {
    struct lh *h;
    const struct lh_file *f;
    const json_t *courses;
    size_t ncourses;
    const struct lh_match_feed *feed;
    struct lh_match_employee e;   /* the employee being asked */
    int asking;                   /* e is being asked (a Lua error is theirs) */
    char *err;                    /* a wrong answer's message; owned */
};

/* Pushes t[id], the string made of s the first time (a string pushed once is not hashed again
 * for every employee). stack: ... cache -> ... cache, string | nothing pushed when s is NULL */
static int lh_push_cached(lua_State *L, int cache, lua_Integer id, const char *s)
{
    if (!s)
        return 0;
    if (lua_rawgeti(L, cache, id) == LUA_TSTRING)
        return 1;
    lua_pop(L, 1);
    lua_pushstring(L, s);
    lua_pushvalue(L, -1);
    lua_rawseti(L, cache, id);
    return 1;
}

#define LH_MANY_COURSES 1     /* the read-only courses */
#define LH_MANY_BACKING 2     /* each course's backing table, where `completed` is set */
#define LH_MANY_TEXTS 3       /* requirement texts by requirement id */
#define LH_MANY_SYSTEMS 4     /* system names by system id */
#define LH_MANY_CLASSES 5     /* class names by class id + 1 */

static void lh_push_employee(lua_State *L, const struct lh_match_employee *e)
{
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)e->id);
    lua_setfield(L, -2, "id");
    if (e->name) {
        lua_pushstring(L, e->name);
        lua_setfield(L, -2, "name");
    }
    lua_pushinteger(L, (lua_Integer)e->department_id);
    lua_setfield(L, -2, "department_id");
    lua_createtable(L, (int)e->nprofiles, 0);
    for (size_t i = 0; i < e->nprofiles; i++) {
        lua_pushinteger(L, (lua_Integer)e->profiles[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "profiles");
}

static void lh_push_gaps(lua_State *L, struct lh *h, const struct lh_match_employee *e)
{
    luaL_checkstack(L, 4, "lh_push_gaps");
    lua_createtable(L, (int)e->ngaps, 0);
    for (size_t i = 0; i < e->ngaps; i++) {
        const struct lh_gap *g = &e->gaps[i];
        lua_createtable(L, 0, 8);
        lua_pushinteger(L, (lua_Integer)g->requirement_id);
        lua_setfield(L, -2, "requirement_id");
        lua_pushinteger(L, (lua_Integer)g->system_id);
        lua_setfield(L, -2, "system_id");
        if (lh_push_cached(L, LH_MANY_TEXTS, (lua_Integer)g->requirement_id, g->requirement))
            lua_setfield(L, -2, "requirement");
        if (lh_push_cached(L, LH_MANY_SYSTEMS, (lua_Integer)g->system_id, g->system))
            lua_setfield(L, -2, "system");
        lua_pushinteger(L, g->required);
        lua_setfield(L, -2, "required");
        lua_pushinteger(L, g->actual);
        lua_setfield(L, -2, "actual");
        lua_pushinteger(L, g->gap);
        lua_setfield(L, -2, "gap");
        if (g->class_id >= 0 && g->class_id < h->nclasses &&
            lh_push_cached(L, LH_MANY_CLASSES, g->class_id + 1, h->classes[g->class_id]))
            lua_setfield(L, -2, "class");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* Runs inside lh_pcall_with: asks match about each employee the feed gives, with the courses
 * made once. A Lua error ends the call (m->asking says whose it was); a wrong answer ends the
 * loop with m->err. */
static int lh_many_run(lua_State *L)
{
    struct lh_many *m = lua_touserdata(L, 1);
    struct lh *h = m->h;
    lua_settop(L, 0);
    lj_push_as(L, m->courses, LJ_NULL_ABSENT);       /* stack: courses */
    lua_createtable(L, (int)m->ncourses, 0);         /* stack: courses, backing */
    for (size_t i = 0; i < m->ncourses; i++) {
        lua_rawgeti(L, LH_MANY_COURSES, (lua_Integer)i + 1);
        lua_rawseti(L, LH_MANY_BACKING, (lua_Integer)i + 1);
    }
    lua_pushvalue(L, LH_MANY_COURSES);
    lh_view(L);
    lua_replace(L, LH_MANY_COURSES);
    lua_newtable(L);
    lua_newtable(L);
    lua_newtable(L);                                 /* stack: courses, backing, texts, systems,
                                                      * classes */
    while (m->feed->next(m->feed->arg, &m->e)) {
        for (size_t i = 0; i < m->ncourses; i++) {
            lua_rawgeti(L, LH_MANY_BACKING, (lua_Integer)i + 1);
            lua_pushboolean(L, m->e.completed && m->e.completed[i]);
            lua_setfield(L, -2, "completed");
            lua_pop(L, 1);
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, m->f->fn_ref);
        lh_push_employee(L, &m->e);
        lh_push_gaps(L, h, &m->e);
        lua_pushvalue(L, LH_MANY_COURSES);
        m->asking = 1;
        h->returning = m->f;
        h->return_line = 0;
        /* the watchdog counts each employee's call from 0 */
        lua_sethook(L, lh_hook, LUA_MASKCOUNT | LUA_MASKRET, (int)LH_INSTRUCTION_LIMIT);
        lua_call(L, 3, 1);
        h->returning = NULL;
        m->asking = 0;
        struct lh_call c = {.f = m->f, .line = h->return_line};
        if (lj_to_json(L, -1, &c.result, &c.why))
            c.result = NULL;
        lua_pop(L, 1);
        json_t *proposals = NULL;
        if (c.why) {
            int line = c.line ? c.line : c.f->fn_line;
            m->err = line ? xasprintf("%s:%d: %s returned %s", c.f->path, line,
                                      lh_kinds[c.f->kind].fn, c.why)
                          : xasprintf("%s: %s returned %s", c.f->path, lh_kinds[c.f->kind].fn,
                                      c.why);
            free(c.why);
            break;
        }
        int rc = lh_proposals(&c, m->courses, &proposals, &m->err);
        json_decref(c.result);
        if (rc)
            break;
        m->feed->done(m->feed->arg, &m->e, proposals);
        json_decref(proposals);
    }
    return 0;
}

int lh_match_many(struct lh *h, const json_t *courses, const struct lh_match_feed *feed,
                  int64_t *failed, char **err)
{
    UTIL_ASSERT(h && courses && feed && failed && err);
    *err = NULL;
    *failed = 0;
    if (lh_courses_valid(courses, err))
        return -1;
    struct lh_many m = {.h = h, .f = lh_single(h, LH_KIND_MATCHING), .courses = courses,
                        .ncourses = json_array_size(courses), .feed = feed};
    if (!m.f) {
        while (feed->next(feed->arg, &m.e))
            ;
        return 0;
    }
    char *msg;
    /* Thousands of calls, each leaving its employee's tables behind at once: the young die
     * young, which is what the generational collector is for. */
    int mode = lua_gc(h->L, LUA_GCGEN, 0, 0);
    lua_pushcfunction(h->L, lh_many_run);
    lua_pushlightuserdata(h->L, &m);
    int rc = lh_pcall_with(h, 1, 0, LUA_MASKCOUNT | LUA_MASKRET, &msg);
    h->returning = NULL;
    if (mode == LUA_GCINC)
        lua_gc(h->L, LUA_GCINC, 0, 0, 0);
    if (rc) {
        /* an error in match, or (not asking) in making the courses: nobody's in particular */
        *failed = m.asking ? m.e.id : 0;
        *err = lh_in_file(m.f->path, msg);
        free(msg);
        free(m.err);
        return -1;
    }
    if (m.err) {
        *failed = m.e.id;
        *err = m.err;
        return -1;
    }
    return 0;
}

/* --- reminders.lua ---------------------------------------------------------------------- */

int lh_has_reminders(const struct lh *h) { return lh_single(h, LH_KIND_REMINDERS) != NULL; }

/* Is id the enrolment_id of an entry of facts[list]? */
static int lh_facts_enrolment(const json_t *facts, const char *list, int64_t id)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(facts, list), i, e) {
        int64_t v;
        if (lh_json_int(json_object_get(e, "enrolment_id"), &v) && v == id)
            return 1;
    }
    return 0;
}

/* Checks due's answer; *out (owned) the reminder, NULL when nothing is due, or an error. */
static int lh_reminder_of(const struct lh_call *c, const json_t *facts, json_t **out, char **err)
{
    const json_t *r = c->result;
    char shown[64];
    *out = NULL;
    if (json_is_null(r) || json_is_false(r))
        return 0;
    if (!json_is_object(r)) {
        lh_show(r, shown, sizeof shown);
        *err = lh_wrong(c, "%s, expected nothing (nil) or a reminder {to = ..., template = ...}",
                        shown);
        return -1;
    }
    json_t *to = json_object_get(r, "to"), *template = json_object_get(r, "template");
    json_t *enrolment = json_object_get(r, "enrolment_id");
    if (!json_is_string(to) ||
        (strcmp(json_string_value(to), "employee") && strcmp(json_string_value(to), "manager"))) {
        if (to)
            lh_show(to, shown, sizeof shown);
        *err = to ? lh_wrong(c, "to = %s, expected \"employee\" or \"manager\"", shown)
                  : lh_wrong(c, "a reminder without 'to' (\"employee\" or \"manager\")");
        return -1;
    }
    if (!strcmp(json_string_value(to), "manager") && !json_is_true(json_object_get(facts, "has_manager"))) {
        *err = lh_wrong(c, "to = 'manager', but the employee has no manager (facts.has_manager "
                           "is false)");
        return -1;
    }
    if (!json_is_string(template) ||
        !lh_is_name(json_string_value(template), json_string_length(template), 0)) {
        if (template)
            lh_show(template, shown, sizeof shown);
        *err = template ? lh_wrong(c, "template = %s, expected the name of a message: lowercase "
                                      "letters a-z, digits and _, at most " LH_STR(LH_MAX_NAME),
                                   shown)
                        : lh_wrong(c, "a reminder without 'template' (the name of the message)");
        return -1;
    }
    int64_t id;
    if (enrolment && (!lh_json_int(enrolment, &id) ||
                      (!lh_facts_enrolment(facts, "open_invitations", id) &&
                       !lh_facts_enrolment(facts, "missing_evaluations", id) &&
                       !lh_facts_enrolment(facts, "pending_approvals", id)))) {
        lh_show(enrolment, shown, sizeof shown);
        *err = lh_wrong(c, "enrolment_id = %s, which is not one of the facts' open invitations, "
                           "missing evaluations or pending approvals", shown);
        return -1;
    }
    json_t *reminder = json_pack("{s:O, s:O}", "to", to, "template", template);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)r, key, v) {
        if (strcmp(key, "to") && strcmp(key, "template"))
            json_object_set(reminder, key, v);
    }
    *out = reminder;
    return 0;
}

int lh_reminder(struct lh *h, const json_t *employee, const json_t *facts, int64_t now,
                json_t **reminder, char **err)
{
    UTIL_ASSERT(h && employee && facts && reminder && err);
    *reminder = NULL;
    *err = NULL;
    const struct lh_file *f = lh_single(h, LH_KIND_REMINDERS);
    if (!f)
        return 0;
    struct lh_json_in in = {employee, facts, NULL, now, 1};
    struct lh_call c = {.f = f, .push_args = lh_push_json_args, .in = &in};
    if (lh_run(h, &c, err))
        return -1;
    int rc = lh_reminder_of(&c, facts, reminder, err);
    json_decref(c.result);
    return rc;
}

/* --- reports ---------------------------------------------------------------------------- */

int lh_reports(const struct lh *h, json_t **list)
{
    *list = json_array();
    for (int i = 0; i < h->nfiles; i++)
        if (h->files[i].about)
            json_array_append_new(*list, json_deep_copy(h->files[i].about));
    return 0;
}

static const struct lh_file *lh_report(const struct lh *h, const char *name)
{
    for (int i = 0; i < h->nfiles; i++)
        if (h->files[i].report && strcmp(h->files[i].report, name) == 0)
            return &h->files[i];
    return NULL;
}

struct lh_render_in {
    const json_t *data;
    struct buf *out;
    int csv;
};

static void lh_push_render(lua_State *L, struct lh_call *c)
{
    const struct lh_render_in *in = c->in;
    lj_push_as(L, in->data, LJ_NULL_ABSENT);
    struct lh_writer *w = lua_newuserdatauv(L, sizeof *w, 0);
    w->b = NULL;
    w->written = 0;
    w->csv = in->csv;
    luaL_setmetatable(L, LH_WRITER);
    lua_pushvalue(L, -1);
    c->writer_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    w->b = in->out; /* only once nothing can fail before the call */
    c->nargs = 2;
}

/* Renders f in format (LH_HTML or LH_CSV) into out, without a BOM. */
static int lh_render(struct lh *h, const struct lh_file *f, unsigned format, const json_t *data,
                     struct buf *out, char **err)
{
    size_t start = out->len;
    struct lh_render_in in = {data, out, format == LH_CSV};
    struct lh_call c = {.f = f, .push_args = lh_push_render, .in = &in, .ignore_result = 1,
                        .writer_ref = LUA_NOREF};
    int rc = lh_run(h, &c, err);
    if (c.writer_ref != LUA_NOREF) { /* cut the writer off its buffer, whatever the script kept */
        lua_rawgeti(h->L, LUA_REGISTRYINDEX, c.writer_ref);
        struct lh_writer *w = lua_touserdata(h->L, -1);
        w->b = NULL;
        lua_pop(h->L, 1);
        luaL_unref(h->L, LUA_REGISTRYINDEX, c.writer_ref);
    }
    json_decref(c.result);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

int lh_report_render(struct lh *h, const char *name, const char *format, const json_t *data,
                     struct buf *out, char **err)
{
    UTIL_ASSERT(h && name && format && data && out && err);
    *err = NULL;
    const struct lh_file *f = lh_report(h, name);
    if (!f) {
        *err = xasprintf("%s" LH_REPORTS ": there is no report named '%s'", h->dir, name);
        return -1;
    }
    unsigned bit = lh_format_bit(format);
    if (!(f->formats & bit)) {
        *err = xasprintf("%s: report '%s' has no format '%s' (it has %s%s%s)", f->path, name,
                         format, f->formats & LH_HTML ? "html" : "",
                         f->formats == (LH_HTML | LH_CSV) ? ", " : "",
                         f->formats & LH_CSV ? "csv" : "");
        return -1;
    }
    size_t start = out->len;
    if (bit == LH_CSV)
        buf_puts(out, LH_CSV_BOM);
    if (lh_render(h, f, bit, data, out, err)) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}

/* --- one call by hand ------------------------------------------------------------------- */

static const struct lh_file *lh_file_named(const struct lh *h, const char *file)
{
    for (int i = 0; i < h->nfiles; i++)
        if (strcmp(h->files[i].name, file) == 0 || strcmp(h->files[i].path, file) == 0)
            return &h->files[i];
    return NULL;
}

/* An object, or the empty array that an empty Lua table becomes. */
static int lh_is_table(const json_t *v)
{
    return json_is_object(v) || (json_is_array(v) && json_array_size(v) == 0);
}

struct lh_classify_in {
    int required, actual;
    const json_t *ctx;        /* NULL: the sample requirement */
};

static void lh_push_classify(lua_State *L, struct lh_call *c)
{
    const struct lh_classify_in *in = c->in;
    lua_pushinteger(L, in->required);
    lua_pushinteger(L, in->actual);
    if (in->ctx) {
        lj_push_as(L, in->ctx, LJ_NULL_ABSENT);
    } else {
        lua_createtable(L, 0, 4);
        lua_pushinteger(L, 0);
        lua_setfield(L, -2, "requirement_id");
        lua_pushinteger(L, 0);
        lua_setfield(L, -2, "system_id");
        lua_pushliteral(L, "(sample system)");
        lua_setfield(L, -2, "system");
        lua_pushliteral(L, "(sample requirement)");
        lua_setfield(L, -2, "requirement");
    }
    c->nargs = 3;
}

static int lh_eval_classify(struct lh *h, const struct lh_file *f, const json_t *args,
                            json_t **result, char **err)
{
    int64_t required, actual;
    const json_t *ctx = json_array_get(args, 2);
    if (json_array_size(args) < 2 || json_array_size(args) > 3 ||
        !lh_json_int(json_array_get(args, 0), &required) ||
        !lh_json_int(json_array_get(args, 1), &actual) || required < 0 || required > 4 ||
        actual < 0 || actual > 4 || (ctx && !json_is_null(ctx) && !lh_is_table(ctx))) {
        *err = xasprintf("%s: classify takes [required, actual, ctx?]: two levels 0-4 and a table",
                         f->path);
        return -1;
    }
    struct lh_classify_in in = {(int)required, (int)actual, json_is_null(ctx) ? NULL : ctx};
    struct lh_call c = {.f = f, .push_args = lh_push_classify, .in = &in};
    if (lh_run(h, &c, err))
        return -1;
    const json_t *r = c.result;
    char shown[64];
    const char *why = json_is_string(r) ? lh_class_invalid(json_string_value(r), json_string_length(r))
                                        : NULL;
    if (!json_is_string(r)) {
        lh_show(r, shown, sizeof shown);
        *err = lh_wrong(&c, "%s, expected a class name (string)", shown);
    } else if (why) {
        *err = lh_wrong(&c, "%s, expected a class name", why);
    } else if (h->classes_declared &&
               lh_class_find(h, json_string_value(r), json_string_length(r)) < 0) {
        *err = lh_wrong(&c, "'%s', which is not in the table's 'classes'", json_string_value(r));
    } else {
        *result = c.result;
        return 0;
    }
    json_decref(c.result);
    return -1;
}

/* effective_level.lua by hand: [[assessment, ...], ctx]. */
static int lh_eval_effective(struct lh *h, const struct lh_file *f, const json_t *args,
                             json_t **result, char **err)
{
    const json_t *list = json_array_get(args, 0), *ctx = json_array_get(args, 1);
    if (json_array_size(args) != 2 || !json_is_array(list) || !lh_is_table(ctx)) {
        *err = xasprintf("%s: effective takes [assessments, ctx]: a list and a table", f->path);
        return -1;
    }
    size_t n = json_array_size(list);
    struct lh_assessment *a = xcalloc(n ? n : 1, sizeof *a);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(list, i);
        int64_t level, at, by = 0;
        const json_t *source = json_object_get(e, "source"), *rb = json_object_get(e, "recorded_by");
        if (!lh_json_int(json_object_get(e, "level"), &level) || !json_is_string(source) ||
            !lh_json_int(json_object_get(e, "recorded_at"), &at) || (rb && !lh_json_int(rb, &by))) {
            *err = xasprintf("%s: effective takes [assessments, ctx]: assessments[%zu] must be "
                             "{level = 0-4, source = text, recorded_at = unix time, recorded_by "
                             "= user id}", f->path, i + 1);
            free(a);
            return -1;
        }
        a[i] = (struct lh_assessment){(int)level, json_string_value(source), at, by};
    }
    int64_t employee_id = 0, now = util_now();
    struct lh_requirement r = {0};
    lh_json_int(json_object_get(ctx, "employee_id"), &employee_id);
    lh_json_int(json_object_get(ctx, "requirement_id"), &r.requirement_id);
    lh_json_int(json_object_get(ctx, "system_id"), &r.system_id);
    lh_json_int(json_object_get(ctx, "now"), &now);
    r.system = json_string_value(json_object_get(ctx, "system"));
    r.requirement = json_string_value(json_object_get(ctx, "requirement"));
    int level;
    int rc = lh_effective_level(h, a, n, &r, employee_id, now, &level, err);
    free(a);
    if (rc)
        return -1;
    *result = level < 0 ? json_null() : json_integer(level);
    return 0;
}

/* A report by hand: [data, format?], answered with the text written (no BOM). */
static int lh_eval_render(struct lh *h, const struct lh_file *f, const json_t *args,
                          json_t **result, char **err)
{
    const json_t *data = json_array_get(args, 0), *format = json_array_get(args, 1);
    unsigned bit = format ? (json_is_string(format) ? lh_format_bit(json_string_value(format)) : 0)
                          : f->first_format;
    if (json_array_size(args) < 1 || json_array_size(args) > 2 || !lh_is_table(data) ||
        !(bit & f->formats)) {
        *err = xasprintf("%s: render takes [data, format?]: a table and one of the report's "
                         "formats", f->path);
        return -1;
    }
    struct buf out = {0};
    if (lh_render(h, f, bit, data, &out, err)) {
        buf_free(&out);
        return -1;
    }
    *result = json_stringn(out.data ? out.data : "", out.len);
    buf_free(&out);
    if (!*result) {
        *err = xasprintf("%s: render wrote text that is not valid UTF-8", f->path);
        return -1;
    }
    return 0;
}

int lh_eval(struct lh *h, const char *file, const char *function, const json_t *args,
            json_t **result, char **err)
{
    UTIL_ASSERT(h && file && args && result && err);
    *result = NULL;
    *err = NULL;
    const struct lh_file *f = lh_file_named(h, file);
    for (int i = 0; !f && i < h->nlibs; i++) {
        if (strcmp(h->libs[i].name, file) == 0 || strcmp(h->libs[i].path, file) == 0) {
            *err = xasprintf("%s: a library has no function evne calls; call a policy or a report "
                             "that requires it", h->libs[i].path);
            return -1;
        }
    }
    if (!f) {
        *err = xasprintf("%s%s: no such policy is loaded", strncmp(file, h->dir, strlen(h->dir))
                                                              ? h->dir : "", file);
        return -1;
    }
    const char *fn = lh_kinds[f->kind].fn;
    if (function && strcmp(function, fn)) {
        *err = xasprintf("%s: has no function '%s' to call (its policy function is '%s')",
                         f->path, function, fn);
        return -1;
    }
    if (!json_is_array(args)) {
        *err = xasprintf("%s: the arguments to %s must be a JSON array: [%s]", f->path, fn,
                         lh_kinds[f->kind].args);
        return -1;
    }
    const json_t *a0 = json_array_get(args, 0), *a1 = json_array_get(args, 1),
                 *a2 = json_array_get(args, 2);
    int64_t now;
    switch (f->kind) {
    case LH_KIND_THRESHOLDS:
        return lh_eval_classify(h, f, args, result, err);
    case LH_KIND_EFFECTIVE:
        return lh_eval_effective(h, f, args, result, err);
    case LH_KIND_MATCHING:
        if (json_array_size(args) != 3 || !lh_is_table(a0) || !json_is_array(a1) ||
            !json_is_array(a2)) {
            *err = xasprintf("%s: match takes [employee, gaps, courses]: a table and two lists",
                             f->path);
            return -1;
        }
        return lh_match(h, a0, a1, a2, result, err);
    case LH_KIND_REMINDERS:
        if (json_array_size(args) != 3 || !lh_is_table(a0) || !lh_is_table(a1) ||
            !lh_json_int(a2, &now)) {
            *err = xasprintf("%s: due takes [employee, facts, now]: two tables and a unix time",
                             f->path);
            return -1;
        }
        if (lh_reminder(h, a0, a1, now, result, err))
            return -1;
        if (!*result)
            *result = json_null();
        return 0;
    case LH_KIND_REPORT:
        return lh_eval_render(h, f, args, result, err);
    case LH_NKINDS:
        break;
    }
    UTIL_ABORT("unknown policy kind %d", (int)f->kind);
}

/* --- examples --------------------------------------------------------------------------- */

struct lh_example {
    const struct lh_file *f;
    lua_Integer index;
    json_t *ex;               /* owned: the example as JSON */
    char *why;                /* owned: why it cannot become JSON */
};

static int lh_example_fetch(lua_State *L)
{
    struct lh_example *e = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->f->table_ref);
    lua_getfield(L, -1, "examples");
    lua_geti(L, -1, e->index);
    if (lj_to_json(L, -1, &e->ex, &e->why))
        e->ex = NULL;
    return 0;
}

/* Like, for an example: numbers by value, a missing member the same as null, and {} the same
 * whether it came out as a list or a table. */
static int lh_json_like(const json_t *a, const json_t *b)
{
    a = a ? a : json_null();
    b = b ? b : json_null();
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (lh_is_table(a) && lh_is_table(b) && (json_is_array(a) || json_is_array(b)))
        return json_is_array(a) ? json_object_size(b) == 0 || json_array_size(b) == 0
                                : json_object_size(a) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    const char *key;
    json_t *v;
    size_t i;
    switch (json_typeof(a)) {
    case JSON_OBJECT:
        json_object_foreach((json_t *)a, key, v)
            if (!lh_json_like(v, json_object_get(b, key)))
                return 0;
        json_object_foreach((json_t *)b, key, v)
            if (!json_object_get(a, key) && !json_is_null(v))
                return 0;
        return 1;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        json_array_foreach(a, i, v)
            if (!lh_json_like(v, json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_STRING:
        return json_equal(a, b);
    default:
        return 1;
    }
}

/* Compact JSON of v, cut to about 300 bytes, for a message. Owned. */
static char *lh_dump(const json_t *v)
{
    char *s = json_dumps(v ? v : json_null(), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s)
        return xstrdup("?");
    if (strlen(s) > 300)
        strcpy(s + 290, " ...");
    char *copy = xstrdup(s);
    free(s);
    return copy;
}

/* The first line of s. Owned. */
static char *lh_first_line(const char *s)
{
    size_t n = strcspn(s, "\n");
    char *line = xmalloc(n + 1);
    memcpy(line, s, n);
    line[n] = '\0';
    return line;
}

/* Runs example index of f. 1 when it passes, else 0 and *detail (owned). */
static int lh_example_run(struct lh *h, const struct lh_file *f, lua_Integer index, char **detail)
{
    struct lh_example e = {f, index, NULL, NULL};
    char *msg = NULL;
    lua_pushcfunction(h->L, lh_example_fetch);
    lua_pushlightuserdata(h->L, &e);
    if (lh_pcall(h, 1, 0, &msg)) {
        *detail = lh_first_line(msg);
        free(msg);
        json_decref(e.ex);
        free(e.why);
        return 0;
    }
    if (!e.ex) {
        *detail = xasprintf("the example cannot be used: %s", e.why);
        free(e.why);
        return 0;
    }

    const json_t *ex = e.ex, *expect = json_object_get(ex, "expect");
    const json_t *contains = json_object_get(ex, "contains");
    json_t *args;
    switch (f->kind) {
    case LH_KIND_THRESHOLDS:
        args = json_pack("[OO]", json_object_get(ex, "required"), json_object_get(ex, "actual"));
        if (json_object_get(ex, "ctx"))
            json_array_append(args, json_object_get(ex, "ctx"));
        break;
    case LH_KIND_REPORT: {
        const json_t *format = json_object_get(ex, "format");
        args = json_pack("[Os]", json_array_get(json_object_get(ex, "args"), 0),
                         format ? json_string_value(format)
                                : f->first_format == LH_CSV ? "csv" : "html");
        break;
    }
    default:
        args = json_incref(json_object_get(ex, "args"));
        break;
    }

    json_t *got = NULL;
    char *err = NULL;
    int passed = 0;
    if (!json_is_array(args)) {
        *detail = xasprintf("args must be a list of the arguments (%s)", lh_kinds[f->kind].args);
    } else if (lh_eval(h, f->name, NULL, args, &got, &err)) {
        *detail = lh_first_line(err);
        free(err);
    } else if (f->kind == LH_KIND_REPORT) {
        const char *text = json_string_value(got);
        passed = !expect || strcmp(text, json_string_value(expect)) == 0;
        if (!passed) {
            char *want = lh_dump(expect), *have = lh_dump(got);
            *detail = xasprintf("expected %s, got %s", want, have);
            free(want);
            free(have);
        }
        size_t n = json_is_array(contains) ? json_array_size(contains) : contains ? 1 : 0;
        for (size_t i = 0; passed && i < n; i++) {
            const json_t *part = json_is_array(contains) ? json_array_get(contains, i) : contains;
            if (!json_is_string(part) || !strstr(text, json_string_value(part))) {
                char *want = lh_dump(part), *have = lh_dump(got);
                *detail = xasprintf("expected the text to contain %s, got %s", want, have);
                free(want);
                free(have);
                passed = 0;
            }
        }
    } else if (!(passed = lh_json_like(expect, got))) {
        char *want = lh_dump(expect), *have = lh_dump(got);
        *detail = xasprintf("expected %s, got %s", want, have);
        free(want);
        free(have);
    }
    const char *name = json_string_value(json_object_get(ex, "name"));
    if (name) {
        char *named = *detail ? xasprintf("%s: %s", name, *detail) : xstrdup(name);
        free(*detail);
        *detail = named;
    }
    json_decref(got);
    json_decref(args);
    json_decref(e.ex);
    return passed;
}

int lh_examples(struct lh *h, lh_example_fn each, void *ctx)
{
    UTIL_ASSERT(h);
    int failed = 0;
    for (int i = 0; i < h->nfiles; i++) {
        const struct lh_file *f = &h->files[i];
        for (int k = 1; k <= f->nexamples; k++) {
            char *detail = NULL;
            int passed = lh_example_run(h, f, k, &detail);
            failed += !passed;
            if (each)
                each(ctx, f->path, k, passed, detail);
            free(detail);
        }
    }
    return failed;
}

/* --- checks ----------------------------------------------------------------------------- */

struct lh_tally {
    lh_example_fn each;
    void *ctx;
    char *first;              /* owned: the first failure */
};

static void lh_tally(void *ctx, const char *file, int index, int passed, const char *detail)
{
    struct lh_tally *t = ctx;
    if (t->each)
        t->each(t->ctx, file, index, passed, detail);
    if (!passed && !t->first)
        t->first = xasprintf("%s example %d: %s", file, index, detail ? detail : "failed");
}

int lh_check_verbose(const char *dir, lh_example_fn each, void *ctx, char **err)
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
    if (lh_tabulate(h, &sample, cells, err)) {
        lh_free(h);
        return -1;
    }
    struct lh_tally t = {each, ctx, NULL};
    int failed = lh_examples(h, lh_tally, &t);
    lh_free(h);
    if (failed) {
        *err = xasprintf("%d example%s failed; the first: %s", failed, failed == 1 ? "" : "s",
                         t.first);
        free(t.first);
        return -1;
    }
    return 0;
}

int lh_check(const char *dir, char **err) { return lh_check_verbose(dir, NULL, NULL, err); }
