/* The reminders job (remind.c) run step by step on a real database with the shipped rules and
 * mail texts, without a loop: whom a reminder to "the manager" reaches up the department tree,
 * the approvals that wait for a manager, the recipient's language, runs of more than one chunk,
 * a step budget too small for one employee, and a run again for its slot. */
#include "fixture.h"

#include <jansson.h>
#include <sys/stat.h>

#include "app.h"
#include "lua_host.h"
#include "remind.h"
#include "schedule.h"

#define DAY 86400
#define NOW 1800000000LL           /* Friday 15 January 2027, 08:00 UTC */

struct ctx {
    struct fx *f;
    struct app app;
};

static int setup(void **state)
{
    struct ctx *c = xcalloc(1, sizeof *c);
    c->f = fx_new();
    const char *dir = getenv("EVNE_RULES");
    char *err = NULL;
    if (lh_load(dir ? dir : "rules", &c->app.rules, &err))
        fail_msg("lh_load: %s", err);
    c->app.db = c->f->db;
    util_clock_set(NOW);
    fx_system(c->f, 1, "Gerica");
    fx_requirement(c->f, 1, 1, 1);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    lh_free(c->app.rules);
    fx_free(c->f);
    free(c);
    return 0;
}

/* Runs the job for slot with the step budget; the summary (owned); *steps how many it took. */
static json_t *run_job(struct ctx *c, int64_t slot, int64_t budget, int *steps)
{
    struct sched_run run = {.id = 1, .slot = slot, .now = util_now(), .trigger = "manual"};
    char *err = NULL;
    void *st = remind_job.start(&c->app, &run, &err);
    if (!st)
        fail_msg("start: %s", err);
    int rc, n = 0;
    while ((rc = remind_job.step(&c->app, st, &run, budget, &err)) == 1)
        if (++n > 100000)
            fail_msg("the run does not end");
    if (rc)
        fail_msg("step: %s", err);
    if (steps)
        *steps = n + 1;
    return remind_job.finish(&c->app, st);
}

static int64_t count(const json_t *summary, const char *key)
{
    const json_t *v = json_object_get(summary, key);
    if (!json_is_integer(v))
        fail_msg("the summary has no %s", key);
    return json_integer_value(v);
}

static void self_assessed(struct ctx *c, int64_t employee, int64_t at)
{
    FX_SQL(c->f, "INSERT INTO assessment(employee_id, requirement_id, level, source, recorded_at) "
                 "VALUES (%lld, 1, 2, 'self', %lld)", (long long)employee, (long long)at);
}

/* Two reminders of the self-assessment to the employee, a week apart: the next goes up. */
static void reminded_twice(struct ctx *c, int64_t employee)
{
    for (int k = 1; k <= 2; k++)
        FX_SQL(c->f, "INSERT INTO reminder(employee_id, slot, sent_at, template, recipient) "
                     "VALUES (%lld, %lld, %lld, 'self_assessment', 'employee')",
               (long long)employee, (long long)(NOW - 7 * k * DAY), (long long)(NOW - 7 * k * DAY));
}

/* The address the reminder about employee in slot went to; "" when there is none. */
static const char *sent_to(struct ctx *c, int64_t employee, int64_t slot)
{
    static char addr[128];
    addr[0] = '\0';
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db_handle(c->f->db), "SELECT o.to_addr FROM reminder r JOIN outbox o ON "
                       "o.id = r.outbox_id WHERE r.employee_id = ? AND r.slot = ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, employee);
    sqlite3_bind_int64(st, 2, slot);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(addr, sizeof addr, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return addr;
}

/* Mona manages the root, Arne the sector A below it; unit B has no manager; team C below B is
 * managed by Xena, who sits in it with Yngve. */
static void tree(struct ctx *c)
{
    fx_department(c->f, 1, "Kommunen", 0);
    fx_department(c->f, 2, "Sektor A", 1);
    fx_department(c->f, 3, "Enhet B", 2);
    fx_department(c->f, 4, "Team C", 3);
    fx_employee(c->f, 10, "Mona", 1);
    fx_employee(c->f, 11, "Arne", 2);
    fx_employee(c->f, 12, "Xena", 4);
    fx_employee(c->f, 13, "Yngve", 4);
    FX_SQL(c->f, "UPDATE department SET manager_id = CASE id WHEN 1 THEN 10 WHEN 2 THEN 11 "
                 "WHEN 4 THEN 12 END");
    self_assessed(c, 10, NOW - 10 * DAY);
    self_assessed(c, 11, NOW - 10 * DAY);
    reminded_twice(c, 12);
    reminded_twice(c, 13);
}

static void test_manager_up_the_tree(void **state)
{
    struct ctx *c = *state;
    tree(c);
    json_t *s = run_job(c, NOW, SCHED_STEP_US, NULL);
    assert_int_equal(count(s, "employees"), 4);
    assert_int_equal(count(s, "reminders"), 2);
    assert_int_equal(count(s, "to_managers"), 2);
    assert_int_equal(count(s, "errors"), 0);
    json_decref(s);
    /* Xena manages her own team: her manager is the nearest one above, past B without one */
    assert_string_equal(sent_to(c, 12, NOW), "e11@example.org");
    assert_string_equal(sent_to(c, 13, NOW), "e12@example.org");
    assert_int_equal(fx_int(c->f, -1, "SELECT count(*) FROM reminder WHERE slot = %lld AND "
                                      "recipient = 'manager'", NOW), 2);
}

static void test_archived_manager_passed_over(void **state)
{
    struct ctx *c = *state;
    tree(c);
    FX_SQL(c->f, "UPDATE employee SET archived = 1 WHERE id = 11");
    json_t *s = run_job(c, NOW, SCHED_STEP_US, NULL);
    assert_int_equal(count(s, "employees"), 3);   /* Arne is not asked either */
    json_decref(s);
    assert_string_equal(sent_to(c, 12, NOW), "e10@example.org");
    assert_string_equal(sent_to(c, 11, NOW), "");
}

static void test_approval_waiting_in_english(void **state)
{
    struct ctx *c = *state;
    fx_department(c->f, 1, "Kommunen", 0);
    fx_employee(c->f, 10, "Mona Leder", 1);
    fx_employee(c->f, 20, "Per Hansen", 1);
    fx_employee(c->f, 21, "Kari Lie", 1);
    FX_SQL(c->f, "UPDATE department SET manager_id = 10");
    FX_SQL(c->f, "UPDATE employee SET lang = 'en' WHERE id = 10");
    self_assessed(c, 10, NOW - 10 * DAY);
    self_assessed(c, 20, NOW - 10 * DAY);
    self_assessed(c, 21, NOW - 10 * DAY);
    FX_SQL(c->f, "INSERT INTO course(id, title) VALUES (1, 'Gerica grunnkurs')");
    FX_SQL(c->f, "INSERT INTO session(id, course_id, starts_at, ends_at, capacity) VALUES "
                 "(1, 1, %lld, %lld, 10), (2, 1, %lld, %lld, 10)",
           NOW + 30 * DAY, NOW + 30 * DAY + 3 * 3600, NOW + 40 * DAY, NOW + 40 * DAY + 3 * 3600);
    /* Per's waits since 3 days; Kari's since yesterday; one in a cancelled session is no more */
    FX_SQL(c->f, "INSERT INTO enrolment(id, session_id, employee_id, state, created_at, "
                 "updated_at) VALUES (7, 1, 20, 'accepted', %lld, %lld), "
                 "(8, 1, 21, 'accepted', %lld, %lld), (9, 2, 21, 'accepted', %lld, %lld)",
           NOW - 9 * DAY, NOW - 3 * DAY, NOW - 9 * DAY, NOW - 1 * DAY, NOW - 9 * DAY,
           NOW - 9 * DAY);
    FX_SQL(c->f, "UPDATE session SET cancelled = 1 WHERE id = 2");
    json_t *s = run_job(c, NOW, SCHED_STEP_US, NULL);
    assert_int_equal(count(s, "reminders"), 1);
    json_decref(s);
    assert_int_equal(fx_int(c->f, -1, "SELECT enrolment_id FROM reminder WHERE employee_id = 10 "
                                      "AND template = 'approval' AND recipient = 'employee'"), 7);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db_handle(c->f->db), "SELECT o.to_addr, o.subject, o.body FROM reminder r "
                       "JOIN outbox o ON o.id = r.outbox_id WHERE r.employee_id = 10", -1, &st,
                       NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "e10@example.org");
    assert_string_equal((const char *)sqlite3_column_text(st, 1),
                        "Reminder: Per Hansen is waiting for approval for the course Gerica "
                        "grunnkurs");
    const char *body = (const char *)sqlite3_column_text(st, 2);
    assert_non_null(strstr(body, "Hello Mona Leder,"));
    assert_non_null(strstr(body, "and has been waiting for your approval since 2027-01-12."));
    /* two wait for her (the cancelled session's does not count) */
    assert_non_null(strstr(body, "In all, 2 enrolments are waiting for your approval."));
    sqlite3_finalize(st);
}

static void test_chunks_small_steps_and_a_run_again(void **state)
{
    struct ctx *c = *state;
    fx_department(c->f, 1, "Kommunen", 0);
    int n = 3 * REMIND_CHUNK + 17;
    for (int i = 0; i < n; i++)
        fx_employee(c->f, 100 + i, "Ansatt", 1);
    FX_SQL(c->f, "UPDATE employee SET archived = 1 WHERE id = 150");
    /* a budget too small for anything: each step still reminds one employee */
    int steps;
    json_t *s = run_job(c, NOW, 1, &steps);
    assert_int_equal(count(s, "employees"), n - 1);
    assert_int_equal(count(s, "reminders"), n - 1);
    assert_int_equal(count(s, "skipped"), 0);
    assert_true(steps >= n - 1);
    json_decref(s);
    assert_int_equal(fx_int(c->f, -1, "SELECT count(DISTINCT employee_id) FROM reminder WHERE "
                                      "slot = %lld", NOW), n - 1);
    assert_int_equal(fx_int(c->f, -1, "SELECT count(*) FROM reminder WHERE employee_id = 150"),
                     0);
    /* the same slot again (a run cut short and started again): everybody is done already */
    s = run_job(c, NOW, SCHED_STEP_US, &steps);
    assert_int_equal(count(s, "employees"), n - 1);
    assert_int_equal(count(s, "skipped"), n - 1);
    assert_int_equal(count(s, "reminders"), 0);
    json_decref(s);
    assert_int_equal(fx_int(c->f, -1, "SELECT count(*) FROM outbox WHERE kind = 'reminder'"),
                     n - 1);
    /* the next day: the week's pause holds everybody back */
    util_clock_set(NOW + DAY);
    s = run_job(c, NOW + DAY, SCHED_STEP_US, NULL);
    assert_int_equal(count(s, "reminders"), 0);
    assert_int_equal(count(s, "skipped"), 0);
    json_decref(s);
    util_clock_set(NOW);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A policy that fails for everyone: the run stops after POLICY_FAILS_IN_A_ROW of them rather
 * than holding every step to the watchdog's limit for 50,000 people. */
static void test_a_policy_failing_for_everyone_stops_the_run(void **state)
{
    struct ctx *c = *state;
    char dir[160];
    snprintf(dir, sizeof dir, "%s/broken-rules", c->f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(dir, "thresholds.lua", "return { classify = function(required, actual)\n"
                                      "  return actual >= required and 'ok' or 'gap' end }\n");
    write_file(dir, "reminders.lua", "return { due = function(employee)\n"
                                     "  error('broken for ' .. employee.id) end }\n");
    lh_free(c->app.rules);
    char *err = NULL;
    if (lh_load(dir, &c->app.rules, &err))
        fail_msg("lh_load: %s", err);
    fx_department(c->f, 1, "Kommunen", 0);
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof name, "Ansatt %d", i);
        fx_employee(c->f, 100 + i, name, 1);
    }
    struct sched_run run = {.id = 1, .slot = NOW, .now = util_now(), .trigger = "schedule"};
    void *st = remind_job.start(&c->app, &run, &err);
    assert_non_null(st);
    int rc, steps = 0;
    while ((rc = remind_job.step(&c->app, st, &run, 1, &err)) == 1)
        assert_true(++steps < 1000);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "failed for 20 employees in a row"));
    assert_non_null(strstr(err, "broken for 100"));
    free(err);
    json_t *summary = remind_job.finish(&c->app, st);
    assert_int_equal(count(summary, "errors"), 20);
    json_decref(summary);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manager_up_the_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archived_manager_passed_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approval_waiting_in_english, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunks_small_steps_and_a_run_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_policy_failing_for_everyone_stops_the_run, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
