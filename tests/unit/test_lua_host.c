/* lua_host: the shipped rules, and the sandbox against broken or hostile rule files. Rule
 * folders other than the shipped one are written to temporary folders (mkdtemp). */
#include "lua_host.h"
#include "lua_json.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lualib.h>
#include <sodium.h>

static const struct lh_requirement sample = {
    .requirement_id = 17,
    .system_id = 3,
    .system = "Gerica",
    .requirement = "Registers a home visit",
};

static const char *rules_dir(void)
{
    const char *d = getenv("EVNE_RULES");
    return d && *d ? d : "rules";
}

/* A temporary rules folder holding thresholds.lua with `source` (none if source is NULL). */
struct rules {
    char dir[64];
    char path[96];
};

static void rules_write(struct rules *r, const char *source)
{
    strcpy(r->dir, "/tmp/evne-lh-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->path, sizeof r->path, "%s/thresholds.lua", r->dir);
    if (!source)
        return;
    FILE *f = fopen(r->path, "w");
    assert_non_null(f);
    fputs(source, f);
    assert_int_equal(fclose(f), 0);
}

static void rules_remove(struct rules *r)
{
    unlink(r->path);
    assert_int_equal(rmdir(r->dir), 0);
}

/* Loads source as thresholds.lua; the load must fail. Returns err (owned). */
static char *load_fails(struct rules *r, const char *source)
{
    struct lh *h = NULL;
    char *err = NULL;
    rules_write(r, source);
    assert_int_equal(lh_load(r->dir, &h, &err), -1);
    assert_null(h);
    assert_non_null(err);
    return err;
}

/* Loads source as thresholds.lua; the load must succeed. */
static struct lh *load_ok(struct rules *r, const char *source)
{
    struct lh *h = NULL;
    char *err = NULL;
    rules_write(r, source);
    if (lh_load(r->dir, &h, &err))
        fail_msg("lh_load: %s", err);
    assert_non_null(h);
    return h;
}

/* Tabulates the sample; it must fail, and every cell must be LH_CLASS_NONE. Returns err. */
static char *tabulate_fails(struct lh *h)
{
    uint8_t cells[5][5];
    char *err = NULL;
    memset(cells, 0, sizeof cells);
    assert_int_equal(lh_tabulate(h, &sample, cells, &err), -1);
    assert_non_null(err);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            assert_int_equal(cells[i][j], LH_CLASS_NONE);
    return err;
}

static void assert_starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s\" to start with \"%s\"", s, prefix);
}

static void assert_contains(const char *s, const char *part)
{
    if (!strstr(s, part))
        fail_msg("expected \"%s\" to contain \"%s\"", s, part);
}

/* --- the shipped rules ------------------------------------------------------------------ */

static void test_shipped_thresholds(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);

    // The classes list fixes the ids in display order.
    assert_int_equal(lh_class_count(h), 3);
    assert_string_equal(lh_class_name(h, 0), "ok");
    assert_string_equal(lh_class_name(h, 1), "minor");
    assert_string_equal(lh_class_name(h, 2), "major");
    assert_null(lh_class_name(h, 3));
    assert_null(lh_class_name(h, LH_CLASS_NONE));

    uint8_t cells[5][5];
    if (lh_tabulate(h, &sample, cells, &err))
        fail_msg("lh_tabulate: %s", err);
    assert_string_equal(lh_class_name(h, cells[3][1]), "major");
    assert_string_equal(lh_class_name(h, cells[2][1]), "minor");
    assert_string_equal(lh_class_name(h, cells[1][3]), "ok");
    assert_string_equal(lh_class_name(h, cells[4][0]), "major");
    assert_string_equal(lh_class_name(h, cells[0][0]), "ok");
    for (int required = 0; required < 5; required++)
        for (int actual = 0; actual < 5; actual++) {
            int gap = required - actual;
            const char *want = gap <= 0 ? "ok" : gap == 1 ? "minor" : "major";
            assert_string_equal(lh_class_name(h, cells[required][actual]), want);
        }
    assert_int_equal(lh_class_count(h), 3);
    lh_free(h);
}

static void test_check_shipped(void **state)
{
    (void)state;
    char *err = NULL;
    if (lh_check(rules_dir(), &err))
        fail_msg("lh_check: %s", err);
    assert_null(err);
}

/* --- loading: errors name the file, the line and the reason ------------------------------ */

static void test_syntax_error_names_file_and_line(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "local t = {}\n"
                               "\n"
                               "function t.classify(required, actual)\n"
                               "  if required > actual then\n"
                               "    return 'major'\n"
                               "  -- the 'end' of the if is missing\n"
                               "end\n"
                               "return t\n");
    char *prefix = xasprintf("%s:9:", r.path); /* the parser notices at the end of the file */
    assert_starts_with(err, prefix);
    assert_contains(err, "'end' expected");
    free(prefix);
    free(err);
    rules_remove(&r);
}

static void test_runtime_error_names_file_and_line(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "local limits = nil\n"
                               "local major = limits.major\n"
                               "return { classify = function() return 'ok' end }\n");
    char *prefix = xasprintf("%s:2: attempt to index", r.path);
    assert_starts_with(err, prefix);
    assert_contains(err, "stack traceback:");
    free(prefix);
    free(err);
    rules_remove(&r);
}

static void test_error_without_position_names_file(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "error('no position', 0)\n");
    char *want = xasprintf("%s: no position", r.path);
    assert_starts_with(err, want);
    free(want);
    free(err);
    rules_remove(&r);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, NULL);
    char *want = xasprintf("%s: cannot open (No such file or directory)", r.path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    rules_remove(&r);
}

static void test_wrong_return(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "local t = { classify = function() return 'ok' end }\n");
    char *want = xasprintf("%s: must return a table with a function 'classify' (got nil)", r.path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    rules_remove(&r);
}

static void test_classify_missing(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "return { clasify = function() return 'ok' end }\n");
    char *want = xasprintf("%s: must return a table with a function 'classify' "
                           "(its 'classify' is nil)", r.path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    rules_remove(&r);
}

static void test_bad_classes_list(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "return { classes = { 'ok', '' }, classify = function() end }\n");
    char *want = xasprintf("%s: classes[2] is an empty string, expected a class name", r.path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    rules_remove(&r);
}

static void test_trailing_slash(void **state)
{
    (void)state;
    struct rules r;
    rules_write(&r, NULL);
    char *dir = xasprintf("%s/", r.dir);
    char *err = NULL;
    struct lh *h = NULL;
    assert_int_equal(lh_load(dir, &h, &err), -1);
    char *want = xasprintf("%s: cannot open (No such file or directory)", r.path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(dir);
    rules_remove(&r);
}

/* --- tabulating ------------------------------------------------------------------------- */

static void test_wrong_return_type_names_the_cell(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(&r, "return { classify = function(required, actual)\n"
                               "  if required == 3 and actual == 1 then return 42 end\n"
                               "  return 'ok'\n"
                               "end }\n");
    char *err = tabulate_fails(h);
    char *want = xasprintf("%s: classify(3, 1) for requirement 17 returned a number, "
                           "expected a class name (string)", r.path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    lh_free(h);
    rules_remove(&r);
}

static void test_empty_and_long_names_refused(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(&r, "return { classify = function(required, actual)\n"
                               "  if required == 0 then return string.rep('x', 33) end\n"
                               "  return ''\n"
                               "end }\n");
    char *err = tabulate_fails(h);
    assert_contains(err, "classify(0, 0) for requirement 17 returned a string longer than 32 bytes");
    free(err);
    lh_free(h);
    rules_remove(&r);

    h = load_ok(&r, "return { classify = function() return '' end }\n");
    err = tabulate_fails(h);
    assert_contains(err, "returned an empty string");
    free(err);
    lh_free(h);
    rules_remove(&r);
}

static void test_class_not_listed(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(&r, "return { classes = { 'ok', 'major' },\n"
                               "  classify = function(required, actual)\n"
                               "    if required > actual then return 'mjaor' end\n"
                               "    return 'ok'\n"
                               "  end }\n");
    char *err = tabulate_fails(h);
    char *want = xasprintf("%s: classify(1, 0) for requirement 17 returned 'mjaor', which is not "
                           "in the table's 'classes'", r.path);
    assert_string_equal(err, want);
    free(want);
    free(err);
    lh_free(h);
    rules_remove(&r);
}

static void test_classes_interned_without_list(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(&r, "return { classify = function(required, actual)\n"
                               "  return required > actual and 'short' or 'fine'\n"
                               "end }\n");
    uint8_t cells[5][5];
    char *err = NULL;
    if (lh_tabulate(h, &sample, cells, &err))
        fail_msg("lh_tabulate: %s", err);
    assert_int_equal(lh_class_count(h), 2);
    assert_string_equal(lh_class_name(h, cells[0][0]), "fine"); /* met first: id 0 */
    assert_int_equal(cells[0][0], 0);
    assert_string_equal(lh_class_name(h, cells[1][0]), "short");
    assert_int_equal(cells[1][0], 1);
    lh_free(h);
    rules_remove(&r);
}

static void test_too_many_classes(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(&r, "return { classify = function(required, actual)\n"
                               "  return 'c' .. (required * 5 + actual)\n"
                               "end }\n");
    uint8_t cells[5][5];
    char *err = NULL;
    if (lh_tabulate(h, &sample, cells, &err)) /* 25 classes */
        fail_msg("lh_tabulate: %s", err);
    struct lh_requirement other = sample;
    other.requirement_id = 18;
    lh_free(h);
    rules_remove(&r);

    h = load_ok(&r, "local n = 0\n"
                    "return { classify = function() n = n + 1; return 'c' .. n end }\n");
    assert_int_equal(lh_tabulate(h, &sample, cells, &err), 0); /* c1 .. c25 */
    assert_int_equal(lh_tabulate(h, &other, cells, &err), -1); /* c26 .. c33 */
    assert_contains(err, "classify(1, 2) for requirement 18 returned 'c33', one class more than "
                         "the 32 allowed");
    free(err);
    lh_free(h);
    rules_remove(&r);
}

static void test_ctx(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(&r, "return { classify = function(required, actual, ctx)\n"
                               "  assert(ctx.requirement_id == 17, 'requirement_id')\n"
                               "  assert(ctx.system_id == 3, 'system_id')\n"
                               "  assert(ctx.system == 'Gerica', 'system')\n"
                               "  assert(ctx.requirement == 'Registers a home visit', 'text')\n"
                               "  assert(math.type(required) == 'integer', 'required')\n"
                               "  return 'ok'\n"
                               "end }\n");
    uint8_t cells[5][5];
    char *err = NULL;
    if (lh_tabulate(h, &sample, cells, &err))
        fail_msg("lh_tabulate: %s", err);
    lh_free(h);
    rules_remove(&r);
}

/* --- the watchdog ----------------------------------------------------------------------- */

static void expect_stopped(const char *source)
{
    struct rules r;
    struct lh *h = load_ok(&r, source);
    char *err = tabulate_fails(h);
    assert_contains(err, "classify(0, 0) for requirement 17: ");
    assert_contains(err, "too many instructions");
    free(err);

    // The state is still usable, and the watchdog is armed afresh for the next call.
    err = tabulate_fails(h);
    assert_contains(err, "too many instructions");
    free(err);
    lh_free(h);
    rules_remove(&r);
}

static void test_endless_loop_stopped(void **state)
{
    (void)state;
    expect_stopped("return { classify = function() while true do end end }\n");
}

static void test_endless_loop_stopped_through_pcall(void **state)
{
    (void)state;
    expect_stopped("return { classify = function()\n"
                   "  pcall(function() while true do end end)\n"
                   "  return 'ok'\n"
                   "end }\n");
    expect_stopped("return { classify = function()\n"
                   "  while true do pcall(function() while true do end end) end\n"
                   "end }\n");
    expect_stopped("return { classify = function()\n"
                   "  while true do\n"
                   "    xpcall(function() while true do end end, function() return 'ok' end)\n"
                   "  end\n"
                   "end }\n");
}

static void test_endless_loop_at_load(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "while true do end\n");
    char *want = xasprintf("%s:1: stopped: too many instructions", r.path);
    assert_starts_with(err, want);
    free(want);
    free(err);
    rules_remove(&r);
}

static void test_finalizers_refused(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "setmetatable({}, { __gc = function() while true do end end })\n");
    assert_contains(err, ":1: __gc metamethods are not allowed in rules");
    free(err);
    rules_remove(&r);
}

/* --- the memory cap --------------------------------------------------------------------- */

static void expect_out_of_memory(const char *source)
{
    struct rules r;
    struct lh *h = load_ok(&r, source);
    char *err = tabulate_fails(h);
    assert_contains(err, "not enough memory");
    assert_contains(err, "at most 64 MB");
    free(err);

    // The process and the state survive: the garbage is collected and a plain call works.
    err = tabulate_fails(h);
    assert_contains(err, "not enough memory");
    free(err);
    lh_free(h);
    rules_remove(&r);
}

static void test_string_doubling_runs_out_of_memory(void **state)
{
    (void)state;
    expect_out_of_memory("return { classify = function()\n"
                         "  local s = 'x'\n"
                         "  while true do s = s .. s end\n"
                         "end }\n");
}

static void test_table_growth_runs_out_of_memory(void **state)
{
    (void)state;
    expect_out_of_memory("return { classify = function()\n"
                         "  local t = {}\n"
                         "  for i = 1, 1000 do t[i] = string.rep('x', 1024 * 1024) .. i end\n"
                         "end }\n");
}

static void test_memory_bomb_at_load(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "local t = {}\n"
                               "for i = 1, 1e9 do t[i] = i end\n");
    char *want = xasprintf("%s: not enough memory", r.path);
    assert_starts_with(err, want);
    free(want);
    free(err);
    rules_remove(&r);
}

/* --- the sandbox ------------------------------------------------------------------------ */

static void test_removed_functions_are_nil(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(
        &r, "local present = {}\n"
            "for _, name in ipairs({ 'io', 'dofile', 'loadfile', 'collectgarbage',\n"
            "                        'package', 'debug', 'coroutine' }) do\n"
            "  if _G[name] ~= nil or _ENV[name] ~= nil then present[#present + 1] = name end\n"
            "end\n"
            "for _, name in ipairs({ 'execute', 'exit', 'getenv', 'remove', 'rename',\n"
            "                        'tmpname', 'setlocale' }) do\n"
            "  if os[name] ~= nil then present[#present + 1] = 'os.' .. name end\n"
            "end\n"
            "if #present > 0 then error('present: ' .. table.concat(present, ', '), 0) end\n"
            "assert(type(require) == 'function', 'require is evne\\'s own, for lib/')\n"
            "assert(type(os.time()) == 'number' and type(os.date('%Y')) == 'string')\n"
            "assert(type(os.clock()) == 'number')\n"
            "return { classify = function() return 'ok' end }\n");
    lh_free(h);
    rules_remove(&r);
}

static void test_binary_chunks_refused(void **state)
{
    (void)state;
    struct rules r;
    struct lh *h = load_ok(
        &r, "local bytecode = string.dump(function() return 1 end)\n"
            "for _, mode in ipairs({ 'b', 'bt', 't' }) do\n"
            "  local f, msg = load(bytecode, 'dumped', mode)\n"
            "  assert(f == nil, 'binary chunk loaded with mode ' .. mode)\n"
            "  assert(msg:find('binary chunk', 1, true), msg)\n"
            "end\n"
            "local f, msg = load(bytecode)\n"
            "assert(f == nil and msg:find('binary chunk', 1, true), 'default mode')\n"
            "assert(load('return 1 + 1')() == 2, 'text chunks still load')\n"
            "return { classify = function() return 'ok' end }\n");
    lh_free(h);
    rules_remove(&r);
}

static void test_shared_libraries_read_only(void **state)
{
    (void)state;
    struct rules r;
    char *err = load_fails(&r, "string.upper = string.lower\n");
    char *want = xasprintf("%s:1: cannot assign to string.upper", r.path);
    assert_starts_with(err, want);
    free(want);
    free(err);
    rules_remove(&r);

    err = load_fails(&r, "local x = 1\nmath.pi = 3\n");
    want = xasprintf("%s:2: cannot assign to math.pi", r.path);
    assert_starts_with(err, want);
    free(want);
    free(err);
    rules_remove(&r);

    // The ways around __newindex: rawset, setmetatable, the string metatable, table.insert,
    // and chunks from load(), whose environment is the shared globals.
    struct lh *h = load_ok(
        &r, "local function refused(f, ...)\n"
            "  local ok, msg = pcall(f, ...)\n"
            "  assert(not ok, 'a write went through')\n"
            "  return msg\n"
            "end\n"
            "refused(rawset, math, 'pi', 3)\n"
            "refused(rawset, string, 'upper', nil)\n"
            "refused(setmetatable, string, {})\n"
            "refused(table.insert, table, 1)\n"
            "refused(load('x = 1'))\n"
            "refused(load('string.upper = nil'))\n"
            "assert(getmetatable('') == false, 'string metatable is protected')\n"
            "assert(getmetatable(string) == false, 'library metatable is protected')\n"
            "assert(getmetatable(_ENV) == false, 'environment metatable is protected')\n"
            "assert(math.pi > 3.14 and string.upper('a') == 'A')\n"
            "local n = 0\n"
            "for _ in pairs(math) do n = n + 1 end\n"
            "assert(n > 20, 'pairs over a library')\n"
            "return { classify = function() return 'ok' end }\n");
    lh_free(h);
    rules_remove(&r);
}

static void test_globals_do_not_leak(void **state)
{
    (void)state;
    struct rules first, second;
    struct lh *h1 = load_ok(&first, "leaked = 'yes'\n"
                                    "_G.also_leaked = 'yes'\n"
                                    "return { classify = function() return 'ok' end }\n");
    struct lh *h2 = load_ok(&second,
                            "return { classify = function()\n"
                            "  if leaked ~= nil or also_leaked ~= nil then return 'leaked' end\n"
                            "  return 'clean'\n"
                            "end }\n");
    uint8_t cells[5][5];
    char *err = NULL;
    if (lh_tabulate(h2, &sample, cells, &err))
        fail_msg("lh_tabulate: %s", err);
    assert_string_equal(lh_class_name(h2, cells[2][2]), "clean");
    lh_free(h2);
    lh_free(h1);
    rules_remove(&second);
    rules_remove(&first);
}

/* === the policy engine ===================================================================== */

/* A temporary rules folder holding any files (reports/ made when needed). */
struct folder {
    char dir[64];
    int n;
    char *names[16];
};

static const char *const thresholds_ok = "return { classify = function() return 'ok' end }\n";

static void folder_make(struct folder *f)
{
    strcpy(f->dir, "/tmp/evne-lh-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->n = 0;
}

static void folder_put(struct folder *f, const char *name, const char *source)
{
    char path[160];
    const char *slash = strchr(name, '/');
    if (slash) {
        snprintf(path, sizeof path, "%s/%.*s", f->dir, (int)(slash - name), name);
        mkdir(path, 0700); /* may exist */
    }
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(source, file);
    assert_int_equal(fclose(file), 0);
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], name))
            return;
    assert_true(f->n < 16);
    f->names[f->n++] = xstrdup(name);
}

static void folder_remove(struct folder *f)
{
    char path[160];
    for (int i = 0; i < f->n; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, f->names[i]);
        unlink(path);
        free(f->names[i]);
    }
    snprintf(path, sizeof path, "%s/reports", f->dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/lib", f->dir);
    rmdir(path);
    assert_int_equal(rmdir(f->dir), 0);
}

/* A folder with thresholds_ok and one more file; loaded, which must succeed. */
static struct lh *folder_with(struct folder *f, const char *name, const char *source)
{
    folder_make(f);
    folder_put(f, "thresholds.lua", thresholds_ok);
    if (name)
        folder_put(f, name, source);
    struct lh *h = NULL;
    char *err = NULL;
    if (lh_load(f->dir, &h, &err))
        fail_msg("lh_load: %s", err);
    return h;
}

/* The same, but the load must fail; returns err (owned). The folder stays for the caller. */
static char *folder_fails(struct folder *f, const char *name, const char *source)
{
    folder_make(f);
    folder_put(f, "thresholds.lua", thresholds_ok);
    if (name)
        folder_put(f, name, source);
    struct lh *h = NULL;
    char *err = NULL;
    assert_int_equal(lh_load(f->dir, &h, &err), -1);
    assert_null(h);
    assert_non_null(err);
    return err;
}

/* Loads the folder as it is; the load must fail. Returns err (owned). */
static char *folder_load_fails(struct folder *f)
{
    struct lh *h = NULL;
    char *err = NULL;
    assert_int_equal(lh_load(f->dir, &h, &err), -1);
    assert_null(h);
    assert_non_null(err);
    return err;
}

/* Asserts err == "<dir>/<rest>" and frees err. */
static void assert_err(char *err, const struct folder *f, const char *rest)
{
    char *want = xasprintf("%s/%s", f->dir, rest);
    if (strcmp(err, want) != 0)
        fail_msg("expected \"%s\"\n     got \"%s\"", want, err);
    free(want);
    free(err);
}

/* Like assert_err, for the first line only (a traceback may follow). */
static void assert_err_line(char *err, const struct folder *f, const char *rest)
{
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
    assert_err(err, f, rest);
}

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad JSON in the test: %s: %s", e.text, text);
    return j;
}

static void assert_json(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (strcmp(g, w) != 0)
        fail_msg("expected %s\n     got %s", w, g);
    free(g);
    free(w);
    json_decref(want);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

/* --- what is loaded --------------------------------------------------------------------- */

static void test_shipped_policies_listed(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);
    struct lh_policy p[9];
    int n = lh_policies(h, p, 9);
    assert_int_equal(n, 8);
    const char *names[] = {"thresholds.lua",           "matching.lua",
                           "reminders.lua",            "reports/department.lua",
                           "reports/employee.lua",     "reports/gaps.lua",
                           "reports/organisation.lua", "lib/report_format.lua"};
    for (int i = 0; i < 8; i++) {
        assert_string_equal(p[i].name, names[i]);
        char *path = xasprintf("%s/%s", rules_dir(), names[i]);
        assert_string_equal(p[i].file, path);
        size_t len;
        char *text = read_all(path, &len);
        unsigned char d[crypto_hash_sha256_BYTES];
        char hex[65];
        crypto_hash_sha256(d, (const unsigned char *)text, len);
        sodium_bin2hex(hex, sizeof hex, d, sizeof d);
        assert_string_equal(p[i].sha256, hex);
        free(text);
        free(path);
    }
    assert_int_equal(lh_policies(h, p, 2), 8); /* fills 2, tells 8 */
    assert_false(lh_has_effective_level(h));   /* shipped as an example only */
    assert_true(lh_has_matching(h));
    assert_true(lh_has_reminders(h));

    json_t *reports;
    assert_int_equal(lh_reports(h, &reports), 0);
    assert_int_equal(json_array_size(reports), 4);   /* in name order: gaps is the third */
    assert_json(json_array_get(reports, 2), "{\"name\":\"gaps\",\"title\":\"Kompetansegap\",\"file\":\"reports/gaps.lua\","
                         "\"formats\":[\"html\",\"csv\"],\"params\":[{\"name\":\"by\",\"title\":"
                         "\"Vis per\",\"choices\":[\"department\",\"employee\",\"profile\","
                         "\"system\",\"requirement\"],\"default\":\"department\"}]}");
    json_decref(reports);
    lh_free(h);
}

struct heard {
    int passed, failed;
    char details[8][256];
};

static void hear(void *ctx, const char *file, int index, int passed, const char *detail)
{
    struct heard *w = ctx;
    int k = w->passed + w->failed;
    if (k < 8)
        snprintf(w->details[k], sizeof w->details[k], "%s example %d: %s: %s", file, index,
                 passed ? "pass" : "FAIL", detail ? detail : "-");
    if (passed)
        w->passed++;
    else
        w->failed++;
}

static void test_shipped_examples_pass(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);
    struct heard w = {0};
    assert_int_equal(lh_examples(h, hear, &w), 0);
    assert_int_equal(w.failed, 0);
    assert_true(w.passed >= 20); /* 5 thresholds, 3 matching, 10 reminders, 2 report */
    char *first = xasprintf("%s/thresholds.lua example 1: pass: -", rules_dir());
    assert_string_equal(w.details[0], first);
    free(first);
    lh_free(h);
}

static void test_shipped_effective_level_example(void **state)
{
    (void)state;
    struct folder f;
    folder_make(&f);
    size_t len;
    char *path = xasprintf("%s/examples/effective_level.lua", rules_dir());
    char *text = read_all(path, &len);
    folder_put(&f, "thresholds.lua", thresholds_ok);
    folder_put(&f, "effective_level.lua", text);
    free(text);
    free(path);
    struct lh *h;
    char *err = NULL;
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);
    assert_true(lh_has_effective_level(h));
    struct heard w = {0};
    assert_int_equal(lh_examples(h, hear, &w), 0);
    assert_int_equal(w.passed, 5);

    int64_t now = 1800000000, day = 86400;
    struct lh_assessment list[] = {
        {2, "appraisal", now - 60 * day, 9},
        {4, "self", now - 5 * day, 5},
    };
    int level = -2;
    assert_int_equal(lh_effective_level(h, list, 2, &sample, 5, now, &level, &err), 0);
    assert_int_equal(level, 2);
    assert_int_equal(lh_effective_level(h, list, 2, &sample, 5, now + 400 * day, &level, &err), 0);
    assert_int_equal(level, 4); /* the appraisal is older than 12 months by then */
    assert_int_equal(lh_effective_level(h, list, 0, &sample, 5, now, &level, &err), 0);
    assert_int_equal(level, -1);
    lh_free(h);
    folder_remove(&f);
}

/* --- shapes at load --------------------------------------------------------------------- */

static void test_policy_shapes_checked_at_load(void **state)
{
    (void)state;
    struct folder f;
    char *err = folder_fails(&f, "matching.lua", "local m = {}\n");
    assert_err(err, &f, "matching.lua: must return a table with a function 'match' (got nil)");
    folder_remove(&f);

    err = folder_fails(&f, "reminders.lua", "return { due = 3 }\n");
    assert_err(err, &f, "reminders.lua: must return a table with a function 'due' "
                        "(its 'due' is number)");
    folder_remove(&f);

    err = folder_fails(&f, "effective_level.lua", "return 'newest'\n");
    assert_err(err, &f, "effective_level.lua: must return a table with a function 'effective' "
                        "(got string)");
    folder_remove(&f);

    err = folder_fails(&f, "matching.lua", "return { match = function() end,\n"
                                           "  examples = { { args = 'x' } } }\n");
    assert_err(err, &f, "matching.lua: examples[1].args must be a list of the arguments "
                        "(employee, gaps, courses) to match (got string)");
    folder_remove(&f);

    err = folder_fails(&f, "reports/a.lua", "return { name = 'a', title = 'A', formats = { 'pdf' },\n"
                                            "  render = function() end }\n");
    assert_err(err, &f, "reports/a.lua: formats[1] must be \"html\" or \"csv\"");
    folder_remove(&f);

    err = folder_fails(&f, "reports/a.lua", "return { name = 'Gaps!', title = 'A', formats = { 'csv' },\n"
                                            "  render = function() end }\n");
    assert_contains(err, "reports/a.lua: 'name' must be the report's name");
    free(err);
    folder_remove(&f);

    err = folder_fails(&f, "reports/a.lua", "return { name = 'a', title = 'A', formats = { 'csv' },\n"
                                            "  params = { { title = 'no name' } },\n"
                                            "  render = function() end }\n");
    assert_err(err, &f, "reports/a.lua: params[1] must be a table with a 'name' (lowercase "
                        "letters, digits and _) and a 'title' (text)");
    folder_remove(&f);

    // Two layouts of one name, and a misspelt policy (it would be ignored without a word).
    folder_make(&f);
    folder_put(&f, "thresholds.lua", thresholds_ok);
    const char *report = "return { name = 'same', title = 'S', formats = { 'html' },\n"
                         "  render = function() end }\n";
    folder_put(&f, "reports/one.lua", report);
    folder_put(&f, "reports/two.lua", report);
    struct lh *h = NULL;
    assert_int_equal(lh_load(f.dir, &h, &err), -1);
    char *want = xasprintf("%s/reports/two.lua: a report named 'same' is already declared in "
                           "%s/reports/one.lua", f.dir, f.dir);
    assert_string_equal(err, want);
    free(want);
    free(err);
    folder_remove(&f);

    err = folder_fails(&f, "reminder.lua", "return { due = function() end }\n");
    assert_err(err, &f, "reminder.lua: not a policy evne knows: the policies are thresholds.lua, "
                        "effective_level.lua, matching.lua and reminders.lua, report layouts go "
                        "in reports/ (keep other files in a subfolder, such as examples/)");
    folder_remove(&f);

    // A syntax error in an optional policy names it like any other.
    err = folder_fails(&f, "reminders.lua", "return { due = function( }\n");
    assert_starts_with(err, f.dir);
    assert_contains(err, "/reminders.lua:1:");
    free(err);
    folder_remove(&f);
}

/* --- effective_level -------------------------------------------------------------------- */

static void test_effective_default_is_newest(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, NULL, NULL);
    assert_false(lh_has_effective_level(h));
    struct lh_assessment list[] = {{1, "appraisal", 100, 1}, {3, "self", 200, 2}};
    int level;
    char *err = NULL;
    assert_int_equal(lh_effective_level(h, list, 2, &sample, 5, 300, &level, &err), 0);
    assert_int_equal(level, 3);
    assert_int_equal(lh_effective_level(h, NULL, 0, &sample, 5, 300, &level, &err), 0);
    assert_int_equal(level, -1);
    lh_free(h);
    folder_remove(&f);
}

static void test_effective_gets_its_tables(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, "effective_level.lua",
        "return { effective = function(list, ctx)\n"
        "  assert(#list == 2 and list[1].level == 1 and list[2].source == 'self', 'list')\n"
        "  assert(list[1].recorded_at == 100 and list[1].recorded_by == 7, 'recorded')\n"
        "  assert(math.type(list[1].level) == 'integer', 'integer levels')\n"
        "  assert(ctx.employee_id == 5 and ctx.requirement_id == 17, 'ids')\n"
        "  assert(ctx.system_id == 3 and ctx.system == 'Gerica', 'system')\n"
        "  assert(ctx.requirement == 'Registers a home visit' and ctx.now == 300, 'now')\n"
        "  return 2.0\n" /* a whole float is a level */
        "end }\n");
    struct lh_assessment list[] = {{1, "appraisal", 100, 7}, {3, "self", 200, 5}};
    int level;
    char *err = NULL;
    if (lh_effective_level(h, list, 2, &sample, 5, 300, &level, &err))
        fail_msg("%s", err);
    assert_int_equal(level, 2);
    lh_free(h);
    folder_remove(&f);
}

static void test_effective_wrong_answers(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, "effective_level.lua",
        "local P = {}\n"
        "function P.effective(list, ctx)\n"
        "  local e = ctx.employee_id\n"
        "  if e == 1 then return 7 end\n"
        "  if e == 2 then return '3' end\n"
        "  if e == 3 then return 2.5 end\n"
        "  if e == 4 then return { 3 } end\n"
        "  if e == 5 then return true end\n"
        "  if e == 6 then return -1 end\n"
        "  if e == 7 then return nil end\n"
        "  if e == 8 then return false end\n"
        "  if e == 9 then error('no level for you') end\n"
        "  return list[#list].level\n"
        "end\n"
        "return P\n");
    struct lh_assessment list[] = {{3, "self", 200, 5}};
    static const char *const wrong[] = {
        "effective_level.lua:4: effective returned 7, expected a level 0-4 or nil",
        "effective_level.lua:5: effective returned '3', expected a level 0-4 or nil",
        "effective_level.lua:6: effective returned 2.5, expected a level 0-4 or nil",
        "effective_level.lua:7: effective returned a list, expected a level 0-4 or nil",
        "effective_level.lua:8: effective returned true, expected a level 0-4 or nil",
        "effective_level.lua:9: effective returned -1, expected a level 0-4 or nil",
    };
    int level;
    char *err = NULL;
    for (int e = 1; e <= 6; e++) {
        level = 9;
        assert_int_equal(lh_effective_level(h, list, 1, &sample, e, 0, &level, &err), -1);
        assert_int_equal(level, -1);
        assert_err(err, &f, wrong[e - 1]);
    }
    for (int e = 7; e <= 8; e++) {
        assert_int_equal(lh_effective_level(h, list, 1, &sample, e, 0, &level, &err), 0);
        assert_int_equal(level, -1);
    }
    assert_int_equal(lh_effective_level(h, list, 1, &sample, 9, 0, &level, &err), -1);
    assert_err_line(err, &f, "effective_level.lua:12: no level for you");
    // the state is still good
    assert_int_equal(lh_effective_level(h, list, 1, &sample, 10, 0, &level, &err), 0);
    assert_int_equal(level, 3);
    lh_free(h);
    folder_remove(&f);
}

/* --- matching --------------------------------------------------------------------------- */

static const char *const employee5 =
    "{\"id\":5,\"name\":\"Per Hansen\",\"department_id\":3,\"profiles\":[1,2]}";
static const char *const gaps5 =
    "[{\"requirement_id\":11,\"system_id\":1,\"system\":\"Gerica\",\"requirement\":\"Skrive journal\","
    "\"required\":3,\"actual\":1,\"gap\":2,\"class\":\"major\"},"
    "{\"requirement_id\":12,\"system_id\":1,\"system\":\"Gerica\",\"requirement\":\"Lese journal\","
    "\"required\":2,\"actual\":1,\"gap\":1,\"class\":\"minor\"}]";
static const char *const courses5 =
    "[{\"id\":1,\"title\":\"Gerica grunnkurs\",\"system_id\":1,\"series\":null,\"series_order\":null,"
    "\"prerequisites\":[],\"completed\":false,\"requirements\":[{\"requirement_id\":12,\"target_level\":2}],"
    "\"sessions\":[{\"id\":10,\"starts_at\":1800000000,\"capacity\":12,\"free\":0}]},"
    "{\"id\":2,\"title\":\"Gerica journal\",\"system_id\":1,\"series\":null,\"series_order\":null,"
    "\"prerequisites\":[],\"completed\":false,\"requirements\":[{\"requirement_id\":11,\"target_level\":3},"
    "{\"requirement_id\":12,\"target_level\":3}],"
    "\"sessions\":[{\"id\":21,\"starts_at\":1800600000,\"capacity\":10,\"free\":1},"
    "{\"id\":20,\"starts_at\":1800500000,\"capacity\":10,\"free\":2}]},"
    "{\"id\":3,\"title\":\"Gerica videregående\",\"system_id\":1,\"series\":null,\"series_order\":null,"
    "\"prerequisites\":[2],\"completed\":false,\"requirements\":[{\"requirement_id\":11,\"target_level\":4}],"
    "\"sessions\":[]}]";

static void test_match_shipped(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);
    json_t *e = J(employee5), *g = J(gaps5), *c = J(courses5), *p = NULL;
    if (lh_match(h, e, g, c, &p, &err))
        fail_msg("lh_match: %s", err);
    // null members (series) reach the policy as nil; course 3 waits for its prerequisite 2;
    // course 1 has no free session.
    assert_json(p, "[{\"course\":2,\"session\":20,\"priority\":3,\"reason\":\"Tetter kompetansegap "
                   "på 3 nivåer: Gerica: Skrive journal; Gerica: Lese journal\"},"
                   "{\"course\":1,\"session\":null,\"priority\":1,\"reason\":\"Tetter "
                   "kompetansegap på 1 nivå: Gerica: Lese journal\"}]");
    json_decref(p);
    json_decref(e);
    json_decref(g);
    json_decref(c);
    lh_free(h);
}

static void test_match_without_policy(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, NULL, NULL);
    assert_false(lh_has_matching(h));
    json_t *e = J(employee5), *g = J(gaps5), *c = J(courses5), *p = NULL;
    char *err = NULL;
    assert_int_equal(lh_match(h, e, g, c, &p, &err), 0);
    assert_json(p, "[]");
    json_decref(p);
    // the caller's courses are checked even then
    json_t *bad = J("[{\"title\":\"no id\"}]");
    assert_int_equal(lh_match(h, e, g, bad, &p, &err), -1);
    assert_string_equal(err, "lh_match: courses[1] has no integer id");
    free(err);
    json_decref(bad);
    json_decref(e);
    json_decref(g);
    json_decref(c);
    lh_free(h);
    folder_remove(&f);
}

static void test_match_wrong_answers(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, "matching.lua",
        "local M = {}\n"
        "local function helper() return { { course = 1, reason = 'r', priority = 1, session = 99 } } end\n"
        "function M.match(employee, gaps, courses)\n"
        "  local k = employee.id\n"
        "  if k == 1 then return { { course = 99, reason = 'x', priority = 1 } } end\n"
        "  if k == 2 then return { { course = 1, reason = 'x', priorty = 1 } } end\n"
        "  if k == 3 then return nil end\n"
        "  if k == 4 then return { { course = 1, reason = print, priority = 1 } } end\n"
        "  if k == 5 then return { { course = 1, priority = 1 } } end\n"
        "  if k == 6 then return { { course = 1, reason = '', priority = 1 } } end\n"
        "  if k == 7 then return { { course = '1', reason = 'x', priority = 1 } } end\n"
        "  if k == 8 then return { { course = 1, reason = 'x', priority = 'high' } } end\n"
        "  if k == 9 then return { { course = 1, reason = 'x', priority = 1 },\n"
        "                          { course = 1, reason = 'y', priority = 2 } } end\n"
        "  if k == 10 then return helper() end\n"
        "  if k == 11 then return { course = 1, reason = 'x', priority = 1 } end\n"
        "  if k == 12 then local t = {}; t[1] = t; return t end\n"
        "  if k == 13 then return { [1] = {course = 1, reason = 'x', priority = 1}, [3] = {} } end\n"
        "  if k == 14 then return { { course = 1, reason = 'x', priority = 0/0 } } end\n"
        "  if k == 15 then return { { course = 1, reason = 'x', priority = 1 }, 'more' } end\n"
        "  return { { course = 2, session = 20, reason = 'fits', priority = 2.5 } }\n"
        "end\n"
        "return M\n");
    static const char *const wrong[] = {
        "matching.lua:5: match returned [1].course = 99, which is not one of the courses given",
        "matching.lua:6: match returned [1] with a field 'priorty', which a proposal does not have "
        "(course, session, reason, priority)",
        "matching.lua:7: match returned nothing (nil), expected a list of proposals ({} when no "
        "course fits)",
        "matching.lua:8: match returned [1].reason: a function, which JSON cannot hold (it holds "
        "text, numbers, true/false, lists and tables with named fields)",
        "matching.lua:9: match returned [1] without 'reason' (text saying why it fits)",
        "matching.lua:10: match returned [1].reason as empty or too long text, expected text of 1 "
        "to 1000 bytes",
        "matching.lua:11: match returned [1].course as text, expected a course id",
        "matching.lua:12: match returned [1].priority as text, expected a number",
        "matching.lua:14: match returned [2].course = 1, which [1] proposes already",
        "matching.lua:2: match returned [1].session = 99, which is not a session of course 1",
        "matching.lua:16: match returned a table with named fields, expected a list of proposals "
        "({} when no course fits)",
        "matching.lua:17: match returned [1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1]"
        "[1]...: tables nested deeper than 64 levels (a table that contains itself?)",
        "matching.lua:18: match returned a list with holes (its highest index is 3, but it holds 2 "
        "values)",
        "matching.lua:19: match returned [1].priority: a number that is not finite (nan)",
        "matching.lua:20: match returned [2] = 'more', expected a proposal {course = ..., reason = "
        "..., priority = ...}",
    };
    json_t *g = J(gaps5), *c = J(courses5), *p = NULL;
    char *err = NULL;
    for (int k = 1; k <= 15; k++) {
        char text[32];
        snprintf(text, sizeof text, "{\"id\":%d}", k);
        json_t *e = J(text);
        p = (json_t *)1;
        assert_int_equal(lh_match(h, e, g, c, &p, &err), -1);
        assert_null(p);
        char *nan = strstr(err, "(-nan)"); /* printf's spelling of NaN's sign varies */
        if (nan)
            memmove(nan + 1, nan + 2, strlen(nan + 2) + 1);
        assert_err(err, &f, wrong[k - 1]);
        json_decref(e);
    }
    json_t *e = J("{\"id\":0}");
    if (lh_match(h, e, g, c, &p, &err))
        fail_msg("%s", err);
    assert_json(p, "[{\"course\":2,\"session\":20,\"reason\":\"fits\",\"priority\":2.5}]");
    json_decref(p);
    json_decref(e);
    json_decref(g);
    json_decref(c);
    lh_free(h);
    folder_remove(&f);
}

/* --- reminders -------------------------------------------------------------------------- */

static void test_reminder_shipped(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);
    int64_t now = 1800000000, day = 86400;
    json_t *e = J(employee5), *r = NULL;
    char text[512];

    json_t *facts = J("{\"last_self_assessment\":null,\"open_invitations\":[],"
                      "\"missing_evaluations\":[],\"reminders\":[],\"has_manager\":true}");
    if (lh_reminder(h, e, facts, now, &r, &err))
        fail_msg("%s", err);
    assert_json(r, "{\"to\":\"employee\",\"template\":\"self_assessment\"}");
    json_decref(r);
    json_decref(facts);

    snprintf(text, sizeof text,
             "{\"last_self_assessment\":%lld,\"open_invitations\":[{\"enrolment_id\":7,"
             "\"invited_at\":%lld}],\"missing_evaluations\":[],\"reminders\":[],\"has_manager\":true}",
             (long long)(now - 10 * day), (long long)(now - 7 * day));
    facts = J(text);
    if (lh_reminder(h, e, facts, now, &r, &err))
        fail_msg("%s", err);
    assert_json(r, "{\"to\":\"employee\",\"template\":\"invitation\",\"enrolment_id\":7}");
    json_decref(r);
    if (lh_reminder(h, e, facts, now - 1, &r, &err)) /* one second short of 7 days */
        fail_msg("%s", err);
    assert_null(r);
    json_decref(facts);

    snprintf(text, sizeof text,
             "{\"last_self_assessment\":%lld,\"open_invitations\":[{\"enrolment_id\":7,"
             "\"invited_at\":%lld}],\"missing_evaluations\":[],\"reminders\":[{\"sent_at\":%lld,"
             "\"template\":\"invitation\",\"to\":\"employee\",\"enrolment_id\":7},{\"sent_at\":%lld,"
             "\"template\":\"invitation\",\"to\":\"employee\",\"enrolment_id\":7}],\"has_manager\":true}",
             (long long)(now - 10 * day), (long long)(now - 30 * day), (long long)(now - 8 * day),
             (long long)(now - 20 * day));
    facts = J(text);
    if (lh_reminder(h, e, facts, now, &r, &err))
        fail_msg("%s", err);
    assert_json(r, "{\"to\":\"manager\",\"template\":\"invitation\",\"enrolment_id\":7}");
    json_decref(r);
    json_decref(facts);

    /* a manager's approval waiting: its enrolment_id is one of the facts' too */
    snprintf(text, sizeof text,
             "{\"last_self_assessment\":%lld,\"open_invitations\":[],\"missing_evaluations\":[],"
             "\"pending_approvals\":[{\"enrolment_id\":12,\"employee_id\":6,"
             "\"requested_at\":%lld}],\"reminders\":[],\"has_manager\":false}",
             (long long)(now - 10 * day), (long long)(now - 2 * day));
    facts = J(text);
    if (lh_reminder(h, e, facts, now, &r, &err))
        fail_msg("%s", err);
    assert_json(r, "{\"to\":\"employee\",\"template\":\"approval\",\"enrolment_id\":12}");
    json_decref(r);
    json_decref(facts);
    json_decref(e);
    lh_free(h);
}

static void test_reminder_wrong_answers(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, "reminders.lua",
        "return { due = function(employee, facts, now)\n"
        "  local k = employee.id\n"
        "  if k == 1 then return { to = 'boss', template = 'x' } end\n"
        "  if k == 2 then return { to = 'manager', template = 'x' } end\n"
        "  if k == 3 then return { to = 'employee', template = 'Self Assessment' } end\n"
        "  if k == 4 then return { to = 'employee', template = 'x', enrolment_id = 99 } end\n"
        "  if k == 5 then return 'self_assessment' end\n"
        "  if k == 6 then return { template = 'x' } end\n"
        "  if k == 7 then return { to = 'employee' } end\n"
        "  if k == 8 then return false end\n"
        "  return { to = 'employee', template = 'evaluation', enrolment_id = 8,\n"
        "           course = 'Gerica', days = now - facts.missing_evaluations[1].course_ended_at }\n"
        "end }\n");
    static const char *const wrong[] = {
        "reminders.lua:3: due returned to = 'boss', expected \"employee\" or \"manager\"",
        "reminders.lua:4: due returned to = 'manager', but the employee has no manager "
        "(facts.has_manager is false)",
        "reminders.lua:5: due returned template = 'Self Assessment', expected the name of a "
        "message: lowercase letters a-z, digits and _, at most 64",
        "reminders.lua:6: due returned enrolment_id = 99, which is not one of the facts' open "
        "invitations, missing evaluations or pending approvals",
        "reminders.lua:7: due returned 'self_assessment', expected nothing (nil) or a reminder "
        "{to = ..., template = ...}",
        "reminders.lua:8: due returned a reminder without 'to' (\"employee\" or \"manager\")",
        "reminders.lua:9: due returned a reminder without 'template' (the name of the message)",
    };
    json_t *facts = J("{\"open_invitations\":[],\"missing_evaluations\":[{\"enrolment_id\":8,"
                      "\"course_ended_at\":1000}],\"reminders\":[],\"has_manager\":false}");
    json_t *r = NULL;
    char *err = NULL;
    for (int k = 1; k <= 7; k++) {
        char text[32];
        snprintf(text, sizeof text, "{\"id\":%d}", k);
        json_t *e = J(text);
        assert_int_equal(lh_reminder(h, e, facts, 5000, &r, &err), -1);
        assert_null(r);
        assert_err(err, &f, wrong[k - 1]);
        json_decref(e);
    }
    json_t *e = J("{\"id\":8}");
    assert_int_equal(lh_reminder(h, e, facts, 5000, &r, &err), 0);
    assert_null(r); /* false: nothing due */
    json_decref(e);
    e = J("{\"id\":0}");
    if (lh_reminder(h, e, facts, 5000, &r, &err))
        fail_msg("%s", err);
    assert_json(r, "{\"to\":\"employee\",\"template\":\"evaluation\",\"enrolment_id\":8,"
                   "\"course\":\"Gerica\",\"days\":4000}");
    json_decref(r);
    json_decref(e);
    json_decref(facts);
    lh_free(h);
    folder_remove(&f);
}

/* --- reports ---------------------------------------------------------------------------- */

static const char *const rows_json =
    "{\"title\":\"Kompetansegap per avdeling\",\"by\":\"department\",\"rows\":["
    "{\"id\":2,\"name\":\"Helse og omsorg\",\"employees\":18,\"employees_with_gaps\":17,"
    "\"demanded\":234,\"open_gaps\":115,\"unassessed\":24,\"gap_sum\":190,\"coverage\":0.508547008547009},"
    "{\"id\":3,\"name\":\"=HYPERLINK(\\\"x\\\")\",\"employees\":1,\"employees_with_gaps\":1,"
    "\"demanded\":2,\"open_gaps\":1,\"unassessed\":0,\"gap_sum\":1,\"coverage\":0.5}]}";

static void test_report_shipped(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);
    json_t *data = J(rows_json);
    struct buf out = {0};
    buf_puts(&out, "before|");
    if (lh_report_render(h, "gaps", "csv", data, &out, &err))
        fail_msg("%s", err);
    assert_string_equal(out.data,
                        "before|\xEF\xBB\xBF"
                        "Avdeling;Ansatte;Ansatte med gap;Krav stilt;Åpne gap;Ikke vurdert;Gapsum;"
                        "Dekning (%)\r\n"
                        "Helse og omsorg;18;17;234;115;24;190;50,9\r\n"
                        "\"'=HYPERLINK(\"\"x\"\")\";1;1;2;1;0;1;50\r\n");
    buf_free(&out);
    if (lh_report_render(h, "gaps", "html", data, &out, &err))
        fail_msg("%s", err);
    assert_contains(out.data, "<th scope=\"row\">=HYPERLINK(&quot;x&quot;)</th>");
    assert_contains(out.data, "<td class=\"num\">50,9 %</td>");
    buf_free(&out);

    assert_int_equal(lh_report_render(h, "gaps", "pdf", data, &out, &err), -1);
    char *want = xasprintf("%s/reports/gaps.lua: report 'gaps' has no format 'pdf' (it has html, "
                           "csv)", rules_dir());
    assert_string_equal(err, want);
    free(want);
    free(err);
    assert_int_equal(lh_report_render(h, "nope", "csv", data, &out, &err), -1);
    want = xasprintf("%s/reports: there is no report named 'nope'", rules_dir());
    assert_string_equal(err, want);
    free(want);
    free(err);
    assert_int_equal(out.len, 0);
    json_decref(data);
    lh_free(h);
}

static void test_report_writer(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, "reports/w.lua",
        "local kept\n"
        "return { name = 'w', title = 'W', formats = { 'html', 'csv' },\n"
        "  render = function(data, out)\n"
        "    local k = data.k\n"
        "    if k == 'kept' then kept = out; return end\n"
        "    if k == 'late' then kept:write('late') end\n"
        "    if k == 'dot' then out.write('x') end\n"
        "    if k == 'nil' then out:html(data.missing) end\n"
        "    if k == 'big' then for i = 1, 100 do out:write(string.rep('x', 1024 * 1024)) end end\n"
        "    if k == 'fail' then out:write('partial'); error('broken') end\n"
        "    if k == 'cells' then out:csv_row({ 'a;b', 'say \"hi\"', 1.5, 7, nil, '-1', 'line\\nbreak' }) end\n"
        "    if k == 'bad' then out:csv_row({ true }) end\n"
        "    if k == 'html' then out:write('<b>'); out:html([[<i>&'\"]]); out:write(out.format) end\n"
        "  end }\n");
    struct buf out = {0};
    char *err = NULL;
    json_t *d;
#define RENDER(json, format) (d = J(json), lh_report_render(h, "w", format, d, &out, &err))

    assert_int_equal(RENDER("{\"k\":\"html\"}", "html"), 0);
    assert_string_equal(out.data, "<b>&lt;i&gt;&amp;&#39;&quot;html");
    json_decref(d);
    buf_free(&out);

    assert_int_equal(RENDER("{\"k\":\"cells\"}", "csv"), 0);
    assert_string_equal(out.data, "\xEF\xBB\xBF\"a;b\";\"say \"\"hi\"\"\";1,5;7;;\"'-1\";\"line\nbreak\"\r\n");
    json_decref(d);
    buf_free(&out);

    // A writer kept past its render is cut off; the render that tries it fails, nothing written.
    assert_int_equal(RENDER("{\"k\":\"kept\"}", "html"), 0);
    json_decref(d);
    buf_puts(&out, "kept|");
    assert_int_equal(RENDER("{\"k\":\"late\"}", "html"), -1);
    assert_err_line(err, &f, "reports/w.lua:6: out:write: the render has ended; write only while "
                             "render runs");
    assert_string_equal(out.data, "kept|");
    json_decref(d);

    assert_int_equal(RENDER("{\"k\":\"fail\"}", "csv"), -1);
    assert_err_line(err, &f, "reports/w.lua:10: broken");
    assert_string_equal(out.data, "kept|"); /* neither the BOM nor 'partial' stays */
    json_decref(d);
    buf_free(&out);

    assert_int_equal(RENDER("{\"k\":\"dot\"}", "html"), -1);
    assert_err_line(err, &f, "reports/w.lua:7: out:write: call it with a colon, out:write(...)");
    json_decref(d);
    assert_int_equal(RENDER("{\"k\":\"nil\"}", "html"), -1);
    assert_err_line(err, &f, "reports/w.lua:8: out:html expects text or a number (got nil)");
    json_decref(d);
    assert_int_equal(RENDER("{\"k\":\"bad\"}", "csv"), -1);
    assert_err_line(err, &f, "reports/w.lua:12: out:csv_row: cell 1 is a boolean, expected text "
                             "or a number");
    json_decref(d);
    assert_int_equal(RENDER("{\"k\":\"big\"}", "html"), -1);
    assert_err_line(err, &f, "reports/w.lua:9: the report is larger than 32 MB");
    assert_int_equal(out.len, 0);
    json_decref(d);
    buf_free(&out);
#undef RENDER
    lh_free(h);
    folder_remove(&f);
}

/* --- examples --------------------------------------------------------------------------- */

static void test_examples_fail_and_check_says_so(void **state)
{
    (void)state;
    struct folder f;
    folder_make(&f);
    folder_put(&f, "thresholds.lua",
               "return { classes = { 'ok', 'gap' },\n"
               "  classify = function(r, a) return r > a and 'gap' or 'ok' end,\n"
               "  examples = { { required = 3, actual = 1, expect = 'gap' },\n"
               "               { required = 3, actual = 1, expect = 'ok' } } }\n");
    folder_put(&f, "matching.lua",
               "return { match = function() return {} end,\n"
               "  examples = { { name = 'nothing', args = { {}, {}, {} }, expect = {} },\n"
               "               { name = 'a course', args = { {}, {}, {} },\n"
               "                 expect = { { course = 1, reason = 'x', priority = 1 } } },\n"
               "               { args = { {}, {}, { { title = 'no id' } } } } } }\n");
    folder_put(&f, "reminders.lua",
               "return { due = function(e, facts, now) if now > 10 then return { to = 'employee',\n"
               "  template = 'self_assessment' } end end,\n"
               "  examples = { { args = { {}, {}, 5 } },\n"
               "               { args = { {}, {}, 50 }, expect = { to = 'employee', template = 'self_assessment' } },\n"
               "               { args = { {}, {}, 50 } } } }\n");
    struct lh *h;
    char *err = NULL;
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);
    struct heard w = {0};
    assert_int_equal(lh_examples(h, hear, &w), 4);
    assert_int_equal(w.passed, 4);
    char *want[] = {
        xasprintf("%s/thresholds.lua example 1: pass: -", f.dir),
        xasprintf("%s/thresholds.lua example 2: FAIL: expected \"ok\", got \"gap\"", f.dir),
        xasprintf("%s/matching.lua example 1: pass: nothing", f.dir),
        xasprintf("%s/matching.lua example 2: FAIL: a course: expected [{\"course\":1,"
                  "\"priority\":1,\"reason\":\"x\"}], got []", f.dir),
        xasprintf("%s/matching.lua example 3: FAIL: lh_match: courses[1] has no integer id", f.dir),
        xasprintf("%s/reminders.lua example 1: pass: -", f.dir),
        xasprintf("%s/reminders.lua example 2: pass: -", f.dir),
        xasprintf("%s/reminders.lua example 3: FAIL: expected null, got {\"template\":"
                  "\"self_assessment\",\"to\":\"employee\"}", f.dir),
    };
    for (int i = 0; i < 8; i++) {
        assert_string_equal(w.details[i], want[i]);
        free(want[i]);
    }
    lh_free(h);

    assert_int_equal(lh_check(f.dir, &err), -1);
    char *msg = xasprintf("4 examples failed; the first: %s/thresholds.lua example 2: expected "
                          "\"ok\", got \"gap\"", f.dir);
    assert_string_equal(err, msg);
    free(msg);
    free(err);
    struct heard v = {0};
    assert_int_equal(lh_check_verbose(f.dir, hear, &v, &err), -1);
    free(err);
    assert_int_equal(v.failed, 4);
    assert_int_equal(v.passed, 4);
    folder_remove(&f);
}

/* --- calls by hand ---------------------------------------------------------------------- */

static void test_eval(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);
    json_t *args = J("[3, 1]"), *r;
    assert_int_equal(lh_eval(h, "thresholds.lua", "classify", args, &r, &err), 0);
    assert_json(r, "\"major\"");
    json_decref(r);
    assert_int_equal(lh_eval(h, "thresholds.lua", "match", args, &r, &err), -1);
    char *want = xasprintf("%s/thresholds.lua: has no function 'match' to call (its policy "
                           "function is 'classify')", rules_dir());
    assert_string_equal(err, want);
    free(want);
    free(err);
    assert_int_equal(lh_eval(h, "effective_level.lua", NULL, args, &r, &err), -1);
    want = xasprintf("%s/effective_level.lua: no such policy is loaded", rules_dir());
    assert_string_equal(err, want);
    free(want);
    free(err);
    json_decref(args);

    args = J("[7, 1]");
    assert_int_equal(lh_eval(h, "thresholds.lua", NULL, args, &r, &err), -1);
    assert_contains(err, "classify takes [required, actual, ctx?]");
    free(err);
    json_decref(args);

    args = J("[{\"rows\":[]}, \"csv\"]");
    char *path = xasprintf("%s/reports/gaps.lua", rules_dir()); /* by path, too */
    assert_int_equal(lh_eval(h, path, "render", args, &r, &err), 0);
    free(path);
    assert_json(r, "\"Navn;Ansatte;Ansatte med gap;Krav stilt;Åpne gap;Ikke vurdert;Gapsum;"
                   "Dekning (%)\\r\\n\""); /* no BOM by hand */
    json_decref(r);
    json_decref(args);
    lh_free(h);
}


/* --- libraries: require("NAME") gets lib/NAME.lua ------------------------------------------ */

/* One library for everyone: run once, the same table for each rule, and read-only for all. */
static const char *const lib_shared =
    "local calls = 0\n"
    "return {\n"
    "  count = function() calls = calls + 1; return calls end,\n"
    "  list = { 1, 2, 3, nested = { x = 1 } },\n"
    "}\n";

static void test_library_loaded_once_and_frozen(void **state)
{
    (void)state;
    struct folder f;
    folder_make(&f);
    folder_put(&f, "lib/shared.lua", lib_shared);
    folder_put(&f, "lib/wrap.lua", "return { shared = require('shared'), upper = string.upper }\n");
    folder_put(&f, "thresholds.lua",
               "local shared = require('shared')\n"
               "assert(rawequal(require('shared'), shared), 'a second require: the cached one')\n"
               "assert(shared.count() == 1)\n"
               "local wrap = require('wrap')   -- hands on what is frozen already, as it is\n"
               "assert(rawequal(wrap.shared, shared) and wrap.upper('a') == 'A')\n"
               "return { classify = function() return tostring(shared) end }\n");
    folder_put(&f, "reports/a.lua",
               "local shared = require('shared')\n"
               "local seen = shared.count()   -- 2: the library did not run again for this file\n"
               "local function refused(fn, ...)\n"
               "  local ok, msg = pcall(fn, ...)\n"
               "  assert(not ok, 'a write went through')\n"
               "  return msg\n"
               "end\n"
               "assert(refused(function() shared.count = nil end)\n"
               "  :find('cannot assign to shared.count', 1, true))\n"
               "assert(refused(function() shared.list.nested.x = 2 end)\n"
               "  :find('cannot assign to shared.list.nested.x', 1, true))\n"
               "refused(table.insert, shared.list, 4)\n"
               "refused(rawset, shared.list, 1, 0)\n"
               "refused(setmetatable, shared, {})\n"
               "assert(getmetatable(shared) == false)\n"
               "assert(#shared.list == 3 and table.concat(shared.list, ',') == '1,2,3')\n"
               "local keys = 0\n"
               "for _ in pairs(shared.list) do keys = keys + 1 end\n"
               "assert(keys == 4, 'pairs over a library table')\n"
               "return { name = 'a', title = 'A', formats = { 'html' },\n"
               "  render = function(data, out)\n"
               "    out:write(tostring(shared) .. ' ' .. seen .. ' ' .. shared.list[1] .. ' '\n"
               "              .. shared.list.nested.x)\n"
               "  end }\n");
    folder_put(&f, "reports/b.lua",
               "local shared = require('shared')\n"
               "return { name = 'b', title = 'B', formats = { 'html' },\n"
               "  render = function(data, out) shared.list[1] = 9; shared.list.nested.x = 9 end }\n");
    struct lh *h;
    char *err = NULL;
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);

    uint8_t cells[5][5];
    if (lh_tabulate(h, &sample, cells, &err))
        fail_msg("lh_tabulate: %s", err);
    const char *table = lh_class_name(h, cells[0][0]); /* "table: 0x..." as thresholds saw it */
    assert_non_null(table);
    assert_starts_with(table, "table: ");

    // b cannot change what a gets, not even in a call
    json_t *data = J("{}");
    struct buf out = {0};
    assert_int_equal(lh_report_render(h, "b", "html", data, &out, &err), -1);
    char *want = xasprintf("%s/reports/b.lua:3: cannot assign to a number key of shared.list: the "
                           "shared libraries are read-only", f.dir);
    assert_starts_with(err, want);
    free(want);
    free(err);
    if (lh_report_render(h, "a", "html", data, &out, &err))
        fail_msg("render: %s", err);
    char *text = xasprintf("%s 2 1 1", table); /* the same table, the library run once */
    assert_string_equal(out.data, text);
    free(text);
    buf_free(&out);
    json_decref(data);
    lh_free(h);
    folder_remove(&f);
}

static void test_library_cycle(void **state)
{
    (void)state;
    struct folder f;
    folder_make(&f);
    folder_put(&f, "lib/a.lua", "local b = require('b')\nreturn { b = b }\n");
    folder_put(&f, "lib/b.lua", "local x = 1\nlocal a = require('a')\nreturn { a = a, x = x }\n");
    folder_put(&f, "thresholds.lua",
               "local a = require('a')\nreturn { classify = function() return 'ok' end }\n");
    char *err = folder_load_fails(&f);
    char *rest = xasprintf("thresholds.lua: %s/lib/b.lua:2: require(\"a\"): a cycle: lib/a.lua "
                           "requires lib/b.lua, which requires lib/a.lua", f.dir);
    assert_err_line(err, &f, rest);
    free(rest);
    folder_remove(&f);

    // found by the load's own pass over lib/ too, and a library requiring itself
    err = folder_fails(&f, "lib/self.lua", "return require('self')\n");
    assert_err_line(err, &f, "lib/self.lua:1: require(\"self\"): a cycle: lib/self.lua requires "
                             "lib/self.lua");
    folder_remove(&f);
}

static void test_library_missing_and_bad_names(void **state)
{
    (void)state;
    struct folder f;
    char *err = folder_fails(&f, "reports/r.lua", "local x = 1\nlocal m = require('nope')\n");
    char *rest = xasprintf("reports/r.lua:2: require(\"nope\"): there is no library %s/lib/nope.lua",
                           f.dir);
    assert_err_line(err, &f, rest);
    free(rest);
    folder_remove(&f);

    const char *bad[] = {"../thresholds", "lib/x", "Report", "x.lua", "9lives", "", "a-b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *source = xasprintf("require('%s')\n", bad[i]);
        err = folder_fails(&f, "reports/r.lua", source);
        free(source);
        rest = xasprintf("reports/r.lua:1: require(\"%s\"): not the name of a library: lowercase "
                         "letters a-z, digits and _, starting with a letter",
                         bad[i]);
        char *want = xasprintf("%s/%s", f.dir, rest);
        assert_starts_with(err, want);
        free(want);
        free(rest);
        free(err);
        folder_remove(&f);
    }
    err = folder_fails(&f, "reports/r.lua", "require(7)\n");
    assert_err_line(err, &f, "reports/r.lua:1: require expects the name of a library, such as "
                             "require(\"report_format\") for lib/report_format.lua (got number)");
    folder_remove(&f);

    // a file in lib/ that require could never name
    err = folder_fails(&f, "lib/Report.lua", "return {}\n");
    assert_err(err, &f, "lib/Report.lua: not the name of a library: lowercase letters a-z, digits "
                        "and _, starting with a letter, at most 64 (require(\"NAME\") gets "
                        "lib/NAME.lua)");
    folder_remove(&f);
}

static void test_library_errors_name_its_file_and_line(void **state)
{
    (void)state;
    struct folder f;
    const char *broken = "local M = {}\n"
                         "function M.half(x)\n"
                         "  return x / 2\n"
                         "end\n"
                         "local y = M.nothing + 1\n"
                         "return M\n";
    folder_make(&f);
    folder_put(&f, "lib/broken.lua", broken);
    folder_put(&f, "thresholds.lua",
               "local b = require('broken')\nreturn { classify = function() return 'ok' end }\n");
    char *err = folder_load_fails(&f);
    char *rest = xasprintf("thresholds.lua: %s/lib/broken.lua:5: attempt to perform arithmetic on "
                           "a nil value (field 'nothing')", f.dir);
    assert_err_line(err, &f, rest);
    free(rest);
    folder_remove(&f);

    // at a call: the library's line, inside the policy's call
    folder_make(&f);
    folder_put(&f, "lib/half.lua", "local M = {}\nfunction M.half(x)\n  return x / 2\nend\nreturn M\n");
    folder_put(&f, "thresholds.lua",
               "local half = require('half').half\n"
               "return { classify = function(r, a, ctx) return half(ctx.nothing) end }\n");
    struct lh *h;
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);
    err = tabulate_fails(h);
    char *want = xasprintf("%s/thresholds.lua: classify(0, 0) for requirement 17: %s/lib/half.lua:3: "
                           "attempt to perform arithmetic on a nil value (local 'x')", f.dir, f.dir);
    assert_starts_with(err, want);
    free(want);
    free(err);
    lh_free(h);
    folder_remove(&f);

    // a library that answers nothing, and one that never ends (pcall does not help)
    err = folder_fails(&f, "lib/empty.lua", "local x = 1\n");
    assert_err_line(err, &f, "lib/empty.lua: must return what the library offers, such as a "
                             "table of functions (got nil)");
    folder_remove(&f);
    folder_make(&f);
    folder_put(&f, "lib/loop.lua", "while true do end\n");
    folder_put(&f, "thresholds.lua", "local ok = pcall(require, 'loop')\n"
                                     "return { classify = function() return 'ok' end }\n");
    err = folder_load_fails(&f);
    assert_contains(err, "stopped: too many instructions in one call");
    free(err);
    folder_remove(&f);
}

static void test_library_unrequired_still_loaded(void **state)
{
    (void)state;
    struct folder f;
    // broken, and required by nobody: the load fails all the same (a reload keeps the rules)
    char *err = folder_fails(&f, "lib/unused.lua", "local M = {}\nfunction M.f(\nreturn M\n");
    assert_starts_with(err, f.dir);
    char *want = xasprintf("%s/lib/unused.lua:3: ", f.dir);
    assert_starts_with(err, want);
    free(want);
    free(err);
    folder_remove(&f);
}

static void test_library_listed(void **state)
{
    (void)state;
    struct folder f;
    folder_make(&f);
    folder_put(&f, "thresholds.lua", "local z = require('zeta')\n"
                                     "return { classify = function() return 'ok' end }\n");
    folder_put(&f, "reports/r.lua", "return { name = 'r', title = 'R', formats = { 'csv' },\n"
                                    "  render = function() end }\n");
    folder_put(&f, "lib/zeta.lua", "return { z = true }\n");   /* required first */
    folder_put(&f, "lib/alpha.lua", "return 'alpha'\n");       /* required by nobody */
    folder_put(&f, "lib/notes.txt", "not Lua: left alone\n");
    struct lh *h;
    char *err = NULL;
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);
    struct lh_policy p[8];
    assert_int_equal(lh_policies(h, p, 8), 4);
    const char *names[] = {"thresholds.lua", "reports/r.lua", "lib/alpha.lua", "lib/zeta.lua"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(p[i].name, names[i]);
        char *path = xasprintf("%s/%s", f.dir, names[i]);
        assert_string_equal(p[i].file, path);
        size_t len;
        char *text = read_all(path, &len);
        unsigned char d[crypto_hash_sha256_BYTES];
        char hex[65];
        crypto_hash_sha256(d, (const unsigned char *)text, len);
        sodium_bin2hex(hex, sizeof hex, d, sizeof d);
        assert_string_equal(p[i].sha256, hex);
        free(text);
        free(path);
    }
    assert_int_equal(lh_policies(h, p, 3), 4); /* fills 3, tells 4 */

    json_t *args = J("[]"), *r = NULL;
    assert_int_equal(lh_eval(h, "lib/alpha.lua", NULL, args, &r, &err), -1);
    char *want = xasprintf("%s/lib/alpha.lua: a library has no function evne calls; call a policy "
                           "or a report that requires it", f.dir);
    assert_string_equal(err, want);
    free(want);
    free(err);
    json_decref(args);
    lh_free(h);
    folder_remove(&f);
}

/* The shipped layouts through the shipped library: what the month helpers write. */
static void test_library_shipped_report_format(void **state)
{
    (void)state;
    struct folder f;
    folder_make(&f);
    size_t len;
    char *path = xasprintf("%s/lib/report_format.lua", rules_dir());
    char *text = read_all(path, &len);
    free(path);
    folder_put(&f, "lib/report_format.lua", text);
    free(text);
    folder_put(&f, "thresholds.lua", thresholds_ok);
    folder_put(&f, "reports/t.lua",
               "local fmt = require('report_format')\n"
               "return { name = 't', title = 'T', formats = { 'html' },\n"
               "  render = function(data, out)\n"
               "    out:write(fmt.month(data.period, data.lang) .. '|' ..\n"
               "              fmt.date(data.at, data.lang) .. '|' ..\n"
               "              fmt.percent(data.x, data.lang) .. '|' ..\n"
               "              fmt.signed(data.x * 100, data.lang, 1) .. '|')\n"
               "    fmt.para(out, '<b>')\n"
               "  end }\n");
    struct lh *h;
    char *err = NULL;
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);
    const char *cases[][2] = {
        {"{\"lang\":\"nb\",\"period\":\"2026-02\",\"at\":\"2026-03-02T06:00:00Z\",\"x\":0.1234}",
         "februar 2026|02.03.2026|12,3 %|+12,3|<p>&lt;b&gt;</p>\n"},
        {"{\"lang\":\"en\",\"period\":\"2026-02\",\"at\":\"2026-03-02T06:00:00Z\",\"x\":-0.5}",
         "February 2026|2026-03-02|-50.0%|-50.0|<p>&lt;b&gt;</p>\n"},
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *data = J(cases[i][0]);
        struct buf out = {0};
        if (lh_report_render(h, "t", "html", data, &out, &err))
            fail_msg("render: %s", err);
        assert_string_equal(out.data, cases[i][1]);
        buf_free(&out);
        json_decref(data);
    }
    lh_free(h);
    folder_remove(&f);
}

/* --- the sandbox inside policy calls ---------------------------------------------------- */

static void test_sandbox_inside_calls(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, "matching.lua",
        "return { match = function()\n"
        "  local escaped = {}\n"
        "  local function try(what, fn) if pcall(fn) then escaped[#escaped + 1] = what end end\n"
        "  try('io', function() return io.open('/etc/passwd') end)\n"
        "  try('os.execute', function() return os.execute('true') end)\n"
        "  try('os.getenv', function() return os.getenv('HOME') end)\n"
        "  try('require io', function() return require('io') end)\n"
        "  try('require C', function() return require('lfs') end)\n"
        "  try('package.loadlib', function() return package.loadlib('libc.so.6', 'system') end)\n"
        "  try('debug', function() return debug.getregistry() end)\n"
        "  try('dofile', function() return dofile('/etc/passwd') end)\n"
        "  try('setmetatable string', function() setmetatable(string, {}) end)\n"
        "  try('string.x', function() string.x = 1 end)\n"
        "  try('rawset math', function() rawset(math, 'pi', 3) end)\n"
        "  try('getmetatable string', function() getmetatable('').__index.upper = nil end)\n"
        "  try('bytecode', function() assert(load(string.dump(function() end)))() end)\n"
        "  try('global', function() load('leak = 1')() end)\n"
        "  try('collectgarbage', function() collectgarbage() end)\n"
        "  if #escaped > 0 then error('escaped: ' .. table.concat(escaped, ', ')) end\n"
        "  return {}\n"
        "end }\n");
    json_t *e = J("{}"), *l = J("[]"), *p;
    char *err = NULL;
    if (lh_match(h, e, l, l, &p, &err))
        fail_msg("%s", err);
    json_decref(p);
    json_decref(e);
    json_decref(l);
    lh_free(h);
    folder_remove(&f);
}

/* A folder whose every policy loops, or allocates without end, when asked to. */
static void test_watchdog_and_memory_inside_calls(void **state)
{
    (void)state;
    struct folder f;
    folder_make(&f);
    folder_put(&f, "thresholds.lua", thresholds_ok);
    const char *body =
        "  if k == 'loop' then while true do end end\n"
        "  if k == 'caught' then while true do pcall(function() while true do end end) end end\n"
        "  if k == 'rep' then return string.rep('x', 1 << 30) end\n"
        "  if k == 'grow' then local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end end\n";
    char *src = xasprintf("return { match = function(e)\n  local k = e.k\n%s  return {} end }\n", body);
    folder_put(&f, "matching.lua", src);
    free(src);
    src = xasprintf("return { due = function(e)\n  local k = e.k\n%s  return nil end }\n", body);
    folder_put(&f, "reminders.lua", src);
    free(src);
    src = xasprintf("return { name = 'r', title = 'R', formats = { 'html' },\n"
                    "  render = function(e, out)\n  local k = e.k\n%s  out:write('ok') end }\n", body);
    folder_put(&f, "reports/r.lua", src);
    free(src);
    struct lh *h;
    char *err = NULL;
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);

    static const char *const kinds[] = {"loop", "caught", "rep", "grow"};
    json_t *l = J("[]"), *facts = J("{}"), *r;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++) {
            char text[64];
            snprintf(text, sizeof text, "{\"k\":\"%s\"}", kinds[i]);
            json_t *e = J(text);
            const char *want = i < 2 ? "too many instructions" : "not enough memory";
            struct buf out = {0};
            assert_int_equal(lh_match(h, e, l, l, &r, &err), -1);
            assert_contains(err, "/matching.lua");
            assert_contains(err, want);
            free(err);
            assert_int_equal(lh_reminder(h, e, facts, 0, &r, &err), -1);
            assert_contains(err, "/reminders.lua");
            assert_contains(err, want);
            free(err);
            assert_int_equal(lh_report_render(h, "r", "html", e, &out, &err), -1);
            assert_contains(err, "/reports/r.lua");
            assert_contains(err, want);
            assert_int_equal(out.len, 0);
            free(err);
            json_decref(e);

            // and the state still answers
            e = J("{\"k\":\"fine\"}");
            assert_int_equal(lh_match(h, e, l, l, &r, &err), 0);
            json_decref(r);
            assert_int_equal(lh_report_render(h, "r", "html", e, &out, &err), 0);
            assert_string_equal(out.data, "ok");
            buf_free(&out);
            json_decref(e);
        }
    }
    json_decref(l);
    json_decref(facts);
    lh_free(h);
    folder_remove(&f);
}

/* --- lua_json --------------------------------------------------------------------------- */

/* Runs `return <expr>` in a plain state and converts the answer. */
static int to_json(lua_State *L, const char *expr, json_t **out, char **err)
{
    char *chunk = xasprintf("return %s", expr);
    if (luaL_dostring(L, chunk))
        fail_msg("%s: %s", chunk, lua_tostring(L, -1));
    free(chunk);
    int rc = lj_to_json(L, -1, out, err);
    lua_settop(L, 0);
    return rc;
}

static void test_lua_json(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    json_t *j;
    char *err;
    assert_int_equal(to_json(L, "{ b = 1, a = { 1, 2.5, 'x', true }, c = {} }", &j, &err), 0);
    char *text = json_dumps(j, JSON_COMPACT); /* keys sorted by lj_to_json itself */
    assert_string_equal(text, "{\"a\":[1,2.5,\"x\",true],\"b\":1,\"c\":[]}");
    free(text);
    json_decref(j);
    assert_int_equal(to_json(L, "nil", &j, &err), 0);
    assert_true(json_is_null(j));

    static const struct { const char *expr, *err; } bad[] = {
        {"{ 1, 2, x = 3 }", "a table that mixes a list (1, 2, 3 ...) with named fields"},
        {"{ a = { [1] = 1, [3] = 3 } }", "a: a list with holes (its highest index is 3, but it holds 2 values)"},
        {"{ [true] = 1 }", "a table with a boolean as a key (keys are names, or 1, 2, 3 ... in a list)"},
        {"{ [0] = 1 }", "a table with the key 0 or below (keys are names, or 1, 2, 3 ... in a list)"},
        {"{ x = { y = print } }", "x.y: a function, which JSON cannot hold (it holds text, numbers, true/false, lists and tables with named fields)"},
        {"{ 1/0 }", "[1]: a number that is not finite (inf)"},
        {"'\\xff'", "text that is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(to_json(L, bad[i].expr, &j, &err), -1);
        assert_string_equal(err, bad[i].err);
        free(err);
    }
    // The same sub-table twice on each of 40 levels: 2^40 paths, refused after a million values.
    assert_int_equal(to_json(L, "(function() local t = {} for i = 1, 40 do t = { t, t } end "
                                "return t end)()", &j, &err), -1);
    assert_contains(err, "more than 1000000 values");
    free(err);

    // JSON into Lua: null as false for the view, left out for policies.
    j = J("{\"a\":null,\"b\":[1,null],\"c\":{\"d\":\"e\"}}");
    lj_push(L, j);
    lua_setglobal(L, "v");
    lj_push_as(L, j, LJ_NULL_ABSENT);
    lua_setglobal(L, "p");
    json_decref(j);
    assert_int_equal(luaL_dostring(L, "assert(v.a == false and v.b[2] == false and v.c.d == 'e')\n"
                                      "assert(p.a == nil and p.b[2] == false and #p.b == 2)\n"
                                      "assert(math.type(p.b[1]) == 'integer')"), 0);
    lua_close(L);
}

/* --- how long: printed, never asserted ---------------------------------------------------- */

static void test_timings(void **state)
{
    (void)state;
    char *err = NULL;
    struct lh *h = NULL;
    int loads = 20;
    int64_t t0 = util_monotonic_us();
    for (int i = 0; i < loads; i++) {
        lh_free(h);
        if (lh_load(rules_dir(), &h, &err))
            fail_msg("lh_load: %s", err);
    }
    int64_t t1 = util_monotonic_us();
    uint8_t cells[5][5];
    struct lh_requirement r = sample;
    for (int i = 0; i < 540; i++) {
        r.requirement_id = i + 1;
        if (lh_tabulate(h, &r, cells, &err))
            fail_msg("lh_tabulate: %s", err);
    }
    int64_t t2 = util_monotonic_us();
    json_t *e = J(employee5), *g = J(gaps5), *c = J(courses5), *p;
    for (int i = 0; i < 1000; i++) {
        if (lh_match(h, e, g, c, &p, &err))
            fail_msg("lh_match: %s", err);
        json_decref(p);
    }
    int64_t t3 = util_monotonic_us();
    json_t *facts = J("{\"last_self_assessment\":1700000000,\"open_invitations\":[],"
                      "\"missing_evaluations\":[],\"reminders\":[{\"sent_at\":1700000000,"
                      "\"template\":\"self_assessment\",\"to\":\"employee\"}],\"has_manager\":true}");
    for (int i = 0; i < 1000; i++) {
        if (lh_reminder(h, e, facts, 1800000000, &p, &err))
            fail_msg("lh_reminder: %s", err);
        json_decref(p);
    }
    int64_t t4 = util_monotonic_us();
    lh_free(h);

    // The example effective-level policy, as the gap index would ask it once per assessed pair.
    struct folder f;
    folder_make(&f);
    size_t len;
    char *path = xasprintf("%s/examples/effective_level.lua", rules_dir());
    char *text = read_all(path, &len);
    folder_put(&f, "thresholds.lua", thresholds_ok);
    folder_put(&f, "effective_level.lua", text);
    free(text);
    free(path);
    if (lh_load(f.dir, &h, &err))
        fail_msg("lh_load: %s", err);
    struct lh_assessment list[] = {
        {1, "self", 1700000000, 5}, {2, "appraisal", 1790000000, 9}, {4, "self", 1799000000, 5}};
    int level;
    int64_t t5 = util_monotonic_us();
    for (int i = 0; i < 10000; i++)
        if (lh_effective_level(h, list, 3, &sample, 5, 1800000000, &level, &err))
            fail_msg("lh_effective_level: %s", err);
    int64_t t6 = util_monotonic_us();
    lh_free(h);
    folder_remove(&f);

    printf("[ TIMING   ] lh_load of %s: %.2f ms; thresholds tabulated for 540 requirements: "
           "%.2f ms; lh_match (3 courses, 2 gaps): %.1f us; lh_reminder: %.1f us; "
           "lh_effective_level (example policy, 3 assessments): %.2f us a call\n",
           rules_dir(), (double)(t1 - t0) / loads / 1000.0, (double)(t2 - t1) / 1000.0,
           (double)(t3 - t2) / 1000.0, (double)(t4 - t3) / 1000.0, (double)(t6 - t5) / 10000.0);
    json_decref(facts);
    json_decref(e);
    json_decref(g);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_thresholds),
        cmocka_unit_test(test_check_shipped),
        cmocka_unit_test(test_syntax_error_names_file_and_line),
        cmocka_unit_test(test_runtime_error_names_file_and_line),
        cmocka_unit_test(test_error_without_position_names_file),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_wrong_return),
        cmocka_unit_test(test_classify_missing),
        cmocka_unit_test(test_bad_classes_list),
        cmocka_unit_test(test_trailing_slash),
        cmocka_unit_test(test_wrong_return_type_names_the_cell),
        cmocka_unit_test(test_empty_and_long_names_refused),
        cmocka_unit_test(test_class_not_listed),
        cmocka_unit_test(test_classes_interned_without_list),
        cmocka_unit_test(test_too_many_classes),
        cmocka_unit_test(test_ctx),
        cmocka_unit_test(test_endless_loop_stopped),
        cmocka_unit_test(test_endless_loop_stopped_through_pcall),
        cmocka_unit_test(test_endless_loop_at_load),
        cmocka_unit_test(test_finalizers_refused),
        cmocka_unit_test(test_string_doubling_runs_out_of_memory),
        cmocka_unit_test(test_table_growth_runs_out_of_memory),
        cmocka_unit_test(test_memory_bomb_at_load),
        cmocka_unit_test(test_removed_functions_are_nil),
        cmocka_unit_test(test_binary_chunks_refused),
        cmocka_unit_test(test_shared_libraries_read_only),
        cmocka_unit_test(test_globals_do_not_leak),
        cmocka_unit_test(test_shipped_policies_listed),
        cmocka_unit_test(test_shipped_examples_pass),
        cmocka_unit_test(test_shipped_effective_level_example),
        cmocka_unit_test(test_policy_shapes_checked_at_load),
        cmocka_unit_test(test_effective_default_is_newest),
        cmocka_unit_test(test_effective_gets_its_tables),
        cmocka_unit_test(test_effective_wrong_answers),
        cmocka_unit_test(test_match_shipped),
        cmocka_unit_test(test_match_without_policy),
        cmocka_unit_test(test_match_wrong_answers),
        cmocka_unit_test(test_reminder_shipped),
        cmocka_unit_test(test_reminder_wrong_answers),
        cmocka_unit_test(test_report_shipped),
        cmocka_unit_test(test_report_writer),
        cmocka_unit_test(test_examples_fail_and_check_says_so),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_library_loaded_once_and_frozen),
        cmocka_unit_test(test_library_cycle),
        cmocka_unit_test(test_library_missing_and_bad_names),
        cmocka_unit_test(test_library_errors_name_its_file_and_line),
        cmocka_unit_test(test_library_unrequired_still_loaded),
        cmocka_unit_test(test_library_listed),
        cmocka_unit_test(test_library_shipped_report_format),
        cmocka_unit_test(test_sandbox_inside_calls),
        cmocka_unit_test(test_watchdog_and_memory_inside_calls),
        cmocka_unit_test(test_lua_json),
        cmocka_unit_test(test_timings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
