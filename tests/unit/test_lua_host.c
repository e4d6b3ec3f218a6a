/* lua_host: the shipped rules, and the sandbox against broken or hostile rule files. Rule
 * folders other than the shipped one are written to temporary folders (mkdtemp). */
#include "lua_host.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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
            "for _, name in ipairs({ 'io', 'dofile', 'loadfile', 'require', 'collectgarbage',\n"
            "                        'package', 'debug', 'coroutine' }) do\n"
            "  if _G[name] ~= nil or _ENV[name] ~= nil then present[#present + 1] = name end\n"
            "end\n"
            "for _, name in ipairs({ 'execute', 'exit', 'getenv', 'remove', 'rename',\n"
            "                        'tmpname', 'setlocale' }) do\n"
            "  if os[name] ~= nil then present[#present + 1] = 'os.' .. name end\n"
            "end\n"
            "if #present > 0 then error('present: ' .. table.concat(present, ', '), 0) end\n"
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
