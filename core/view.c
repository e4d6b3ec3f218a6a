#include "view.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_json.h"
#include "util.h"

struct view {
    lua_State *L;
    int view_ref;         /* the object view.new returned */
    char *web_dir;
};

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* The one way into Lua: a protected call with a traceback. On error *err gets the message. */
static int view_pcall(lua_State *L, int nargs, int nresults, char **err)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc != LUA_OK) {
        *err = xstrdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Adds dir's files ending in suffix to the table on top of the stack, as
 * { [prefix .. filename] = contents }. A missing folder is an error unless optional. */
static int add_files(lua_State *L, const char *dir, const char *suffix, const char *prefix,
                     int optional, char **err)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (optional && errno == ENOENT)
            return 0;
        *err = xasprintf("%s: cannot open the folder", dir);
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, suffix))
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        size_t len;
        char *text = read_file(path, &len);
        if (!text) {
            *err = xasprintf("%s: cannot read", path);
            free(path);
            closedir(d);
            return -1;
        }
        char *key = xasprintf("%s%s", prefix, de->d_name);
        lua_pushlstring(L, text, len);
        lua_setfield(L, -2, key);
        free(key);
        free(text);
        free(path);
    }
    closedir(d);
    return 0;
}

/* Pushes a table { [filename] = contents } of dir's files ending in suffix. */
static int push_files(lua_State *L, const char *dir, const char *suffix, char **err)
{
    lua_newtable(L);
    return add_files(L, dir, suffix, "", 0, err);
}

/* Loads lua_dir/name.lua as a module into package.loaded[name]. */
static int load_module(lua_State *L, const char *lua_dir, const char *name, char **err)
{
    char *path = xasprintf("%s/%s.lua", lua_dir, name);
    int rc = luaL_loadfilex(L, path, "t");
    if (rc != LUA_OK) {
        *err = xstrdup(lua_tostring(L, -1));
        lua_pop(L, 1);
        free(path);
        return -1;
    }
    free(path);
    if (view_pcall(L, 0, 1, err))
        return -1;
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 2);
    return 0;
}

/* Pushes { nb = {...}, en = {...} }: every .lua file in locales/<lang>/ returns a flat table of strings;
 * one language's files are merged. */
static int push_locales(lua_State *L, const char *web_dir, char **err)
{
    static const char *const langs[] = {"nb", "en"};
    lua_newtable(L);
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        char *dir = xasprintf("%s/locales/%s", web_dir, langs[i]);
        int rc = push_files(L, dir, ".lua", err);   /* stack: locales, files */
        if (rc) {
            free(dir);
            return -1;
        }
        lua_newtable(L);                             /* stack: locales, files, merged */
        lua_pushnil(L);
        while (lua_next(L, -3)) {                    /* stack: ..., merged, name, source */
            const char *fname = lua_tostring(L, -2);
            char *chunkname = xasprintf("@%s/%s", dir, fname);
            size_t len;
            const char *src = lua_tolstring(L, -1, &len);
            if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK) {
                *err = xstrdup(lua_tostring(L, -1));
                free(chunkname);
                free(dir);
                return -1;
            }
            free(chunkname);
            lua_newtable(L);                         /* an empty environment: data only */
            lua_setupvalue(L, -2, 1);
            if (view_pcall(L, 0, 1, err)) {
                free(dir);
                return -1;
            }
            if (!lua_istable(L, -1)) {
                *err = xasprintf("%s/%s: must return a table of strings", dir, fname);
                free(dir);
                return -1;
            }
            lua_pushnil(L);                          /* copy into merged */
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_settable(L, -7);   /* into merged */
            }
            lua_pop(L, 2);                           /* the table and the source */
        }
        lua_remove(L, -2);                           /* files */
        lua_setfield(L, -2, langs[i]);
        free(dir);
    }
    return 0;
}

int view_open(const char *web_dir, const char *lua_dir, struct view **out, char **err)
{
    struct view *v = xcalloc(1, sizeof *v);
    v->web_dir = xstrdup(web_dir);
    v->L = luaL_newstate();
    if (!v->L)
        UTIL_ABORT("cannot create a Lua state");
    lua_State *L = v->L;
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},      {LUA_LOADLIBNAME, luaopen_package},
                                    {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},
                                    {NULL, NULL}};
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    /* Modules come from lua_dir only, and never from C. */
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua", lua_dir);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    for (const char *const *g = (const char *const[]){"dofile", "loadfile", NULL}; *g; g++) {
        lua_pushnil(L);
        lua_setglobal(L, *g);
    }
    if (load_module(L, lua_dir, "template", err) || load_module(L, lua_dir, "view", err))
        goto fail;
    char *tdir = xasprintf("%s/templates", web_dir);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "view");
    lua_remove(L, -2);
    lua_getfield(L, -1, "new");
    lua_remove(L, -2);                               /* stack: view.new */
    /* the mails' texts (mail/NAME.txt) and HTML parts (mail/NAME.html) beside the pages */
    char *mdir = xasprintf("%s/mail", tdir);
    int rc = push_files(L, tdir, ".html", err) || add_files(L, mdir, ".txt", "mail/", 1, err) ||
             add_files(L, mdir, ".html", "mail/", 1, err);
    free(mdir);
    free(tdir);
    if (rc || push_locales(L, web_dir, err))
        goto fail;
    if (view_pcall(L, 2, 2, err))
        goto fail;
    if (lua_isnil(L, -2)) {
        *err = xstrdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "view.new failed");
        goto fail;
    }
    lua_pop(L, 1);
    v->view_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    *out = v;
    return 0;
fail:
    view_close(v);
    return -1;
}

void view_close(struct view *v)
{
    if (!v)
        return;
    if (v->L)
        lua_close(v->L);
    free(v->web_dir);
    free(v);
}

const char *view_web_dir(const struct view *v) { return v->web_dir; }

int view_has(struct view *v, const char *name)
{
    lua_State *L = v->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->view_ref);   /* stack: view */
    lua_getfield(L, -1, "compiled");                   /* stack: view, compiled */
    lua_getfield(L, -1, name);
    int found = !lua_isnil(L, -1);
    lua_pop(L, 3);
    return found;
}

int view_render(struct view *v, const char *name, const json_t *data, const char *lang,
                char **html, size_t *len, char **err)
{
    lua_State *L = v->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->view_ref);
    lua_getfield(L, -1, "render");
    lua_insert(L, -2);                               /* stack: render, view */
    lua_pushstring(L, name);
    lj_push(L, data);
    lua_pushstring(L, lang);
    if (view_pcall(L, 4, 1, err))
        return -1;
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (!s) {
        lua_pop(L, 1);
        *err = xasprintf("%s: render returned no text", name);
        return -1;
    }
    *html = xmalloc(n + 1);
    memcpy(*html, s, n + 1);
    *len = n;
    lua_pop(L, 1);
    return 0;
}
