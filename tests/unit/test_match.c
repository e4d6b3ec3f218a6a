/* The matching policy asked about many employees in one call (lh_match_many, which a course's
 * matches use): each employee's answer, each error message and each refusal is what lh_match
 * gives for that employee alone; the courses are read-only views in both; the watchdog counts
 * per employee. Rule folders other than the shipped one are written to temporary folders. */
#include "fixture.h"

#include <jansson.h>
#include <sys/stat.h>

#include "lua_host.h"

static const char *rules_dir(void)
{
    const char *d = getenv("EVNE_RULES");
    return d && *d ? d : "rules";
}

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad JSON in the test: %s: %s", e.text, text);
    return j;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* A rules folder: the shipped thresholds.lua and matching.lua with `source`. */
struct folder {
    char dir[64];
};

static struct lh *folder_with(struct folder *f, const char *matching)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/evne-match-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *cmd = xasprintf("cp %s/thresholds.lua %s/", rules_dir(), f->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *path = xasprintf("%s/matching.lua", f->dir);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fputs(matching, out);
    assert_int_equal(fclose(out), 0);
    free(path);
    struct lh *h = NULL;
    char *err = NULL;
    if (lh_load(f->dir, &h, &err))
        fail_msg("lh_load: %s", err);
    return h;
}

static void folder_remove(struct folder *f)
{
    char *cmd = xasprintf("rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* --- employees, as lh_match_many and as lh_match get them ------------------------------------- */

static const char *const COURSES =
    "[{\"id\":1,\"title\":\"Gerica grunnkurs\",\"system_id\":1,\"series\":null,"
    "\"series_order\":null,\"prerequisites\":[],\"completed\":false,"
    "\"requirements\":[{\"requirement_id\":12,\"target_level\":2}],"
    "\"sessions\":[{\"id\":10,\"starts_at\":1800000000,\"capacity\":12,\"free\":0}]},"
    "{\"id\":2,\"title\":\"Gerica journal\",\"system_id\":1,\"series\":null,\"series_order\":null,"
    "\"prerequisites\":[],\"completed\":false,\"requirements\":[{\"requirement_id\":11,"
    "\"target_level\":3},{\"requirement_id\":12,\"target_level\":3}],"
    "\"sessions\":[{\"id\":21,\"starts_at\":1800600000,\"capacity\":10,\"free\":1},"
    "{\"id\":20,\"starts_at\":1800500000,\"capacity\":10,\"free\":2}]},"
    "{\"id\":3,\"title\":\"Gerica videregående\",\"system_id\":1,\"series\":null,"
    "\"series_order\":null,\"prerequisites\":[2],\"completed\":false,"
    "\"requirements\":[{\"requirement_id\":11,\"target_level\":4}],\"sessions\":[]}]";

struct person {
    struct lh_match_employee e;
    struct lh_gap gaps[3];
    int64_t profiles[2];
    unsigned char completed[3];
};

/* Employee id with gaps varying by id, and course 2 completed by every third. */
static void person_make(struct person *p, int64_t id)
{
    *p = (struct person){0};
    int level = (int)(id % 3);   /* 0, 1, 2 */
    p->gaps[0] = (struct lh_gap){.requirement_id = 11, .system_id = 1,
                                 .requirement = "Skrive journal", .system = "Gerica",
                                 .required = 3, .actual = level, .gap = 3 - level,
                                 .class_id = level == 0 ? 1 : 0};
    p->gaps[1] = (struct lh_gap){.requirement_id = 12, .system_id = 1,
                                 .requirement = "Lese journal", .system = "Gerica",
                                 .required = 2, .actual = level % 2, .gap = 2 - level % 2,
                                 .class_id = LH_CLASS_NONE};
    p->gaps[2] = (struct lh_gap){.requirement_id = 40, .system_id = 7, .requirement = NULL,
                                 .system = "Excel", .required = 4, .actual = 1, .gap = 3,
                                 .class_id = 0};
    p->profiles[0] = 1;
    p->profiles[1] = 100 + id;
    p->completed[1] = id % 3 == 2;
    p->e = (struct lh_match_employee){.id = id, .department_id = 3 + id % 2,
                                      .name = id % 2 ? "Per Hansen" : "Kari Nordmann",
                                      .profiles = p->profiles, .nprofiles = id % 4 ? 2 : 0,
                                      .gaps = p->gaps, .ngaps = 3, .completed = p->completed};
}

/* The same employee as lh_match gets it: employee, gaps and the courses with `completed`. */
static void person_json(const struct lh *h, const struct person *p, const json_t *courses,
                        json_t **employee, json_t **gaps, json_t **with_completed)
{
    const struct lh_match_employee *e = &p->e;
    json_t *profiles = json_array();
    for (size_t i = 0; i < e->nprofiles; i++)
        json_array_append_new(profiles, json_integer(e->profiles[i]));
    *employee = json_pack("{s:I, s:s, s:I, s:o}", "id", (json_int_t)e->id, "name", e->name,
                          "department_id", (json_int_t)e->department_id, "profiles", profiles);
    *gaps = json_array();
    for (size_t i = 0; i < e->ngaps; i++) {
        const struct lh_gap *g = &e->gaps[i];
        const char *class = g->class_id < lh_class_count(h) ? lh_class_name(h, (uint8_t)g->class_id)
                                                             : NULL;
        json_array_append_new(
            *gaps, json_pack("{s:I, s:I, s:s?, s:s?, s:i, s:i, s:i, s:s?}", "requirement_id",
                             (json_int_t)g->requirement_id, "system_id", (json_int_t)g->system_id,
                             "requirement", g->requirement, "system", g->system, "required",
                             g->required, "actual", g->actual, "gap", g->gap, "class", class));
    }
    *with_completed = json_deep_copy(courses);
    size_t i;
    json_t *c;
    json_array_foreach(*with_completed, i, c)
        json_object_set_new(c, "completed", json_boolean(e->completed && e->completed[i]));
}

/* A feed over people[0..n): what was taken and what came back. */
struct feed_state {
    struct person *people;
    size_t n, taken, answered;
    json_t **answers;        /* [i]: people[i]'s proposals (owned) */
};

static int next_person(void *arg, struct lh_match_employee *e)
{
    struct feed_state *s = arg;
    if (s->taken == s->n)
        return 0;
    *e = s->people[s->taken++].e;
    return 1;
}

static void person_done(void *arg, const struct lh_match_employee *e, const json_t *proposals)
{
    struct feed_state *s = arg;
    assert_int_equal(e->id, s->people[s->taken - 1].e.id);   /* the one given last */
    assert_int_equal(s->answered, s->taken - 1);
    s->answers[s->answered++] = json_incref((json_t *)proposals);
}

static void feed_free(struct feed_state *s)
{
    for (size_t i = 0; i < s->answered; i++)
        json_decref(s->answers[i]);
    free(s->answers);
    free(s->people);
}

static struct feed_state feed_of(const int64_t *ids, size_t n)
{
    struct feed_state s = {.people = xcalloc(n, sizeof(struct person)), .n = n,
                           .answers = xcalloc(n, sizeof(json_t *))};
    for (size_t i = 0; i < n; i++)
        person_make(&s.people[i], ids[i]);
    return s;
}

/* lh_match's answer (or error, then *err) for one person. */
static json_t *match_one(struct lh *h, const struct person *p, const json_t *courses, char **err)
{
    json_t *employee, *gaps, *with_completed, *proposals = NULL;
    person_json(h, p, courses, &employee, &gaps, &with_completed);
    *err = NULL;
    if (lh_match(h, employee, gaps, with_completed, &proposals, err))
        proposals = NULL;
    json_decref(employee);
    json_decref(gaps);
    json_decref(with_completed);
    return proposals;
}

static int lh_many(struct lh *h, const json_t *courses, struct feed_state *s, int64_t *failed,
                   char **err)
{
    struct lh_match_feed feed = {.next = next_person, .done = person_done, .arg = s};
    return lh_match_many(h, courses, &feed, failed, err);
}

/* --- the tests --------------------------------------------------------------------------------- */

/* The shipped policy: each employee's proposals are lh_match's for them. */
static void test_the_same_answers_as_one_at_a_time(void **state)
{
    (void)state;
    struct lh *h;
    char *err = NULL;
    if (lh_load(rules_dir(), &h, &err))
        fail_msg("lh_load: %s", err);
    json_t *courses = J(COURSES);
    int64_t ids[300];
    for (size_t i = 0; i < 300; i++)
        ids[i] = (int64_t)i + 1;
    struct feed_state s = feed_of(ids, 300);
    int64_t failed = -1;
    if (lh_many(h, courses, &s, &failed, &err))
        fail_msg("lh_match_many: %s", err);
    assert_int_equal(failed, 0);
    assert_int_equal(s.taken, 300);
    assert_int_equal(s.answered, 300);
    int with_course3 = 0;
    for (size_t i = 0; i < 300; i++) {
        json_t *one = match_one(h, &s.people[i], courses, &err);
        if (!one)
            fail_msg("lh_match: %s", err);
        char *a = dump(s.answers[i]), *b = dump(one);
        if (strcmp(a, b))
            fail_msg("employee %zu: many %s, one %s", i + 1, a, b);
        with_course3 += strstr(a, "\"course\":3") != NULL;
        free(a);
        free(b);
        json_decref(one);
    }
    /* course 3 needs course 2 first: proposed to those who completed it (every third), and
     * the flags of one employee did not stay for the next */
    assert_int_equal(with_course3, 100);
    /* the courses given are the caller's still */
    char *after = dump(courses);
    json_t *before = J(COURSES);
    char *want = dump(before);
    assert_string_equal(after, want);
    free(after);
    free(want);
    json_decref(before);
    feed_free(&s);
    json_decref(courses);
    lh_free(h);
}

static const char *const WRONG =
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
    "  if k == 13 then error('no match for employee ' .. k) end\n"
    "  if k == 14 then return { { course = 1, reason = 'x', priority = 0/0 } } end\n"
    "  if k == 15 then while true do end end\n"
    "  if k == 16 then courses[1].completed = true end\n"
    "  if k == 17 then table.sort(courses, function(a, b) return a.id > b.id end) end\n"
    "  if k == 18 then courses[2].sessions[1].free = 0 end\n"
    "  if k == 19 then setmetatable(courses, nil) end\n"
    "  if k == 20 then rawset(courses[1], 'completed', true) end\n"
    "  return { { course = 2, session = 20, reason = 'fits ' .. k, priority = 2.5 } }\n"
    "end\n"
    "return M\n";

/* Every wrong answer and every error: the message lh_match gives for that employee, the
 * employee named, nobody after them asked, everyone before them answered. */
static void test_the_same_refusals_naming_the_employee(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f, WRONG);
    json_t *courses = J(COURSES);
    for (int64_t k = 1; k <= 20; k++) {
        int64_t ids[] = {100, 101, k, 102};
        struct feed_state s = feed_of(ids, 4);
        int64_t failed = 0;
        char *err = NULL, *want = NULL;
        assert_int_equal(lh_many(h, courses, &s, &failed, &err), -1);
        assert_int_equal(failed, k);
        assert_int_equal(s.taken, 3);      /* 102 never asked */
        assert_int_equal(s.answered, 2);   /* 100 and 101 answered */
        json_t *one = match_one(h, &s.people[2], courses, &want);
        assert_null(one);
        /* the first line: a traceback that follows names the frames of each way in */
        size_t n = strcspn(want, "\n");
        if (strncmp(err, want, n) || (err[n] != '\n' && err[n] != '\0'))
            fail_msg("employee %lld: many \"%s\"\n             one \"%.*s\"", (long long)k, err,
                     (int)n, want);
        if (k >= 16) {
            /* the courses are read-only, and say so where the policy tried */
            char *line = xasprintf("%s/matching.lua:%d:", f.dir, (int)k + 5);
            if (k == 19) {
                assert_non_null(strstr(err, "cannot change a protected metatable"));
            } else if (k == 20) {
                /* rawset too: the views are shared by every employee's call */
                assert_non_null(strstr(err, "cannot rawset"));
            } else {
                assert_non_null(strstr(err, "the courses are read-only"));
                if (k != 17 && strncmp(err, line, strlen(line)))
                    fail_msg("employee %lld: \"%s\" is not at %s", (long long)k, err, line);
            }
            free(line);
        }
        free(err);
        free(want);
        feed_free(&s);
    }
    /* a Lua error and the watchdog leave the state usable: the next call answers */
    int64_t ids[] = {100, 101};
    struct feed_state s = feed_of(ids, 2);
    int64_t failed = -1;
    char *err = NULL;
    if (lh_many(h, courses, &s, &failed, &err))
        fail_msg("%s", err);
    assert_int_equal(s.answered, 2);
    char *a = dump(s.answers[1]);
    assert_string_equal(a, "[{\"course\":2,\"priority\":2.5,\"reason\":\"fits 101\",\"session\":20}]");
    free(a);
    feed_free(&s);
    json_decref(courses);
    lh_free(h);
    folder_remove(&f);
}

/* The courses as views: read through ipairs, #, pairs, table.concat and indexing, the same in
 * both ways in; completed is each employee's own. */
static void test_reading_the_courses(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f,
        "local M = {}\n"
        "function M.match(employee, gaps, courses)\n"
        "  local fields = 0\n"
        "  for _ in pairs(courses[2]) do fields = fields + 1 end\n"
        "  local done = {}\n"
        "  for _, c in ipairs(courses) do done[#done + 1] = c.completed and 'y' or 'n' end\n"
        "  local classes = {}\n"
        "  for _, g in ipairs(gaps) do\n"
        "    classes[#classes + 1] = tostring(g.class) .. '/' .. tostring(g.requirement)\n"
        "  end\n"
        "  local text = table.concat({ #courses, #courses[2].sessions, fields,\n"
        "    table.concat(courses[3].prerequisites, ','), courses[2].requirements[2].target_level,\n"
        "    tostring(courses[1].series), type(getmetatable(courses)), table.concat(done),\n"
        "    #employee.profiles, employee.name, table.concat(classes, ' ') }, ';')\n"
        "  return { { course = 1, reason = text, priority = 1 } }\n"
        "end\n"
        "return M\n");
    json_t *courses = J(COURSES);
    int64_t ids[] = {1, 2, 3, 4};
    struct feed_state s = feed_of(ids, 4);
    int64_t failed = 0;
    char *err = NULL;
    if (lh_many(h, courses, &s, &failed, &err))
        fail_msg("%s", err);
    /* person_make: requirement 11's class is 1 at level 0, else 0; 12 has none; 40 has 0 */
    const char *c0 = lh_class_name(h, 0), *c1 = lh_class_name(h, 1);
    char *want[4] = {
        xasprintf("3;2;7;2;3;nil;string;nnn;2;Per Hansen;%s/Skrive journal nil/Lese journal "
                  "%s/nil", c0, c0),
        xasprintf("3;2;7;2;3;nil;string;nyn;2;Kari Nordmann;%s/Skrive journal nil/Lese journal "
                  "%s/nil", c0, c0),
        xasprintf("3;2;7;2;3;nil;string;nnn;2;Per Hansen;%s/Skrive journal nil/Lese journal "
                  "%s/nil", c1, c0),
        xasprintf("3;2;7;2;3;nil;string;nnn;0;Kari Nordmann;%s/Skrive journal nil/Lese journal "
                  "%s/nil", c0, c0),
    };
    for (size_t i = 0; i < 4; i++) {
        const char *reason = json_string_value(json_object_get(json_array_get(s.answers[i], 0),
                                                               "reason"));
        assert_string_equal(reason, want[i]);
        char *one_err = NULL;
        json_t *one = match_one(h, &s.people[i], courses, &one_err);
        if (!one)
            fail_msg("%s", one_err);
        assert_string_equal(json_string_value(json_object_get(json_array_get(one, 0), "reason")),
                            reason);
        json_decref(one);
        free(want[i]);
    }
    feed_free(&s);
    json_decref(courses);
    lh_free(h);
    folder_remove(&f);
}

/* The watchdog counts each employee's call from zero: many calls that each take most of the
 * budget all answer. */
static void test_the_watchdog_counts_per_employee(void **state)
{
    (void)state;
    struct folder f;
    struct lh *h = folder_with(&f,
        "local M = {}\n"
        "function M.match(employee, gaps, courses)\n"
        "  local x = 0\n"
        "  for i = 1, 2500000 do x = x + i end\n"   /* some millions of instructions */
        "  return { { course = 1, reason = tostring(x), priority = employee.id } }\n"
        "end\n"
        "return M\n");
    json_t *courses = J(COURSES);
    int64_t ids[] = {1, 2, 3, 4, 5, 6};
    struct feed_state s = feed_of(ids, 6);
    int64_t failed = 0;
    char *err = NULL;
    if (lh_many(h, courses, &s, &failed, &err))
        fail_msg("%s", err);
    assert_int_equal(s.answered, 6);
    feed_free(&s);
    json_decref(courses);
    lh_free(h);
    folder_remove(&f);
}

/* Without matching.lua, everyone is taken and nobody answered; bad courses are refused first. */
static void test_without_a_policy_and_with_bad_courses(void **state)
{
    (void)state;
    struct folder f;
    snprintf(f.dir, sizeof f.dir, "/tmp/evne-match-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    char *cmd = xasprintf("cp %s/thresholds.lua %s/", rules_dir(), f.dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    struct lh *h = NULL;
    char *err = NULL;
    if (lh_load(f.dir, &h, &err))
        fail_msg("%s", err);
    json_t *courses = J(COURSES);
    int64_t ids[] = {1, 2, 3};
    struct feed_state s = feed_of(ids, 3);
    int64_t failed = -1;
    assert_int_equal(lh_many(h, courses, &s, &failed, &err), 0);
    assert_int_equal(failed, 0);
    assert_int_equal(s.taken, 3);
    assert_int_equal(s.answered, 0);
    feed_free(&s);
    json_t *bad = J("[{\"title\":\"no id\"}]");
    s = feed_of(ids, 3);
    assert_int_equal(lh_many(h, bad, &s, &failed, &err), -1);
    assert_string_equal(err, "lh_match: courses[1] has no integer id");
    assert_int_equal(s.taken, 0);
    free(err);
    feed_free(&s);
    json_decref(bad);
    json_decref(courses);
    lh_free(h);
    folder_remove(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_same_answers_as_one_at_a_time),
        cmocka_unit_test(test_the_same_refusals_naming_the_employee),
        cmocka_unit_test(test_reading_the_courses),
        cmocka_unit_test(test_the_watchdog_counts_per_employee),
        cmocka_unit_test(test_without_a_policy_and_with_bad_courses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
