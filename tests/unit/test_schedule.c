/* Unit tests for core/oslo (the Norwegian calendar) and core/schedule's pure parts: the schedule
 * file and when each job is next due, on days checked against a wall calendar. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oslo.h"
#include "schedule.h"

/* Unix time of a Norwegian wall-clock time, and back as "YYYY-MM-DD HH:MM weekday". */
static int64_t at(int y, int m, int d, int h, int mi) { return oslo_from_local(y, m, d, h, mi); }

static const char *show(int64_t t)
{
    static char out[64];
    static const char *const wd[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    struct oslo_time lt = oslo_local(t);
    snprintf(out, sizeof out, "%04d-%02d-%02d %02d:%02d %s", lt.year, lt.month, lt.day, lt.hour,
             lt.minute, wd[lt.weekday]);
    return out;
}

static void test_offsets_and_local_time(void **state)
{
    (void)state;
    /* 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC. */
    assert_int_equal(oslo_offset(1774745999), 3600);     /* 2026-03-29T00:59:59Z */
    assert_int_equal(oslo_offset(1774746000), 7200);     /* 2026-03-29T01:00:00Z */
    assert_int_equal(oslo_offset(1792890000 - 1), 7200); /* 2026-10-25T00:59:59Z */
    assert_int_equal(oslo_offset(1792890000), 3600);
    assert_string_equal(show(1795684800), "2026-11-26 10:20 thu"); /* 2026-11-26T09:20:00Z */
    assert_int_equal(at(2026, 11, 26, 10, 20), 1795684800);
    assert_int_equal(at(2026, 7, 1, 12, 0), 1782900000);          /* 10:00Z in summer time */
    /* The hour skipped in March: 02:30 is taken as 03:30 summer time (01:30Z). */
    assert_int_equal(at(2026, 3, 29, 2, 30), 1774747800);
    /* The hour that comes twice in October: the first, 02:30 summer time (00:30Z). */
    assert_int_equal(at(2026, 10, 25, 2, 30), 1792888200);
    char wall[17];
    oslo_wall(1795684800, wall);
    assert_string_equal(wall, "2026-11-26T10:20");
    oslo_wall(1782900000, wall);
    assert_string_equal(wall, "2026-07-01T12:00");
    char month[8];
    oslo_month(at(2026, 12, 1, 0, 30), month);
    assert_string_equal(month, "2026-12");
    oslo_month(1798758000 - 1, month);                            /* 2026-12-31 23:59:59 */
    assert_string_equal(month, "2026-12");
}

static void test_holidays(void **state)
{
    (void)state;
    /* Easter 2026 is 5 April; 2027: 28 March. */
    assert_true(oslo_is_holiday(2026, 4, 2));    /* Maundy Thursday */
    assert_true(oslo_is_holiday(2026, 4, 3));    /* Good Friday */
    assert_true(oslo_is_holiday(2026, 4, 6));    /* Easter Monday */
    assert_true(oslo_is_holiday(2026, 5, 14));   /* Ascension */
    assert_true(oslo_is_holiday(2026, 5, 25));   /* Whit Monday */
    assert_true(oslo_is_holiday(2027, 3, 25));
    assert_true(oslo_is_holiday(2027, 5, 17));
    assert_true(oslo_is_holiday(2026, 12, 25) && oslo_is_holiday(2026, 12, 26));
    assert_false(oslo_is_holiday(2026, 4, 7));
    assert_false(oslo_is_holiday(2026, 12, 24));
    assert_true(oslo_is_workday(2026, 11, 27));  /* a Friday */
    assert_false(oslo_is_workday(2026, 11, 28)); /* Saturday */
    assert_false(oslo_is_workday(2027, 1, 1));   /* New Year's Day, a Friday */
}

static struct sched_config *parse(const char *text)
{
    struct sched_config *c = NULL;
    char *err = NULL;
    if (sched_config_parse(text, &c, &err))
        fail_msg("parse failed: %s", err);
    return c;
}

static void expect_error(const char *text, const char *message)
{
    struct sched_config *c = NULL;
    char *err = NULL;
    assert_int_equal(sched_config_parse(text, &c, &err), -1);
    assert_null(c);
    assert_string_equal(err, message);
    free(err);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("reminders daily 08:00\n\nreports dayly 08:00\n",
                 "schedule line 3: 'dayly' is not daily, weekly, monthly or off");
    expect_error("reminders daily 8:00\n",
                 "schedule line 1: daily takes a time, e.g. 'daily 08:00'");
    expect_error("reminders daily 24:00\n",
                 "schedule line 1: daily takes a time, e.g. 'daily 08:00'");
    expect_error("reports monthly 31 07:00\n",
                 "schedule line 1: monthly takes a day from 1 to 28 and a time ('monthly 1 "
                 "00:30'), or 'monthly workday N HH:MM'");
    expect_error("quiet 21-07\n",
                 "schedule line 1: quiet takes a span of time, e.g. 'quiet 21:00-07:00'");
    expect_error("a off\na daily 08:00\n", "schedule line 2: job 'a' is already scheduled");
    expect_error("x weekly funday 08:00\n",
                 "schedule line 1: weekly takes a day and a time, e.g. 'weekly monday 08:00'");
    struct sched_config *c = parse("# comments and blank lines\n\n" SCHED_DEFAULT);
    sched_config_free(c);
}

static void test_next_due(void **state)
{
    (void)state;
    struct sched_config *c = parse(SCHED_DEFAULT "weekly weekly monday 09:15\nnow off\n");
    /* Thursday 26 November 2026 10:20. */
    int64_t t = at(2026, 11, 26, 10, 20);
    assert_string_equal(show(sched_next(c, "reminders", 1, t)), "2026-11-27 08:00 fri");
    /* From Friday after the run: the weekend's runs become Monday's one. */
    assert_string_equal(show(sched_next(c, "reminders", 1, at(2026, 11, 27, 8, 0))),
                        "2026-11-30 08:00 mon");
    /* A job that does not mail runs on Saturday. */
    assert_string_equal(show(sched_next(c, "reminders", 0, at(2026, 11, 27, 8, 0))),
                        "2026-11-28 08:00 sat");
    /* The first working day of January 2027: the 1st is a holiday (Friday), the 4th Monday. */
    assert_string_equal(show(sched_next(c, "reports", 1, at(2026, 12, 2, 0, 0))),
                        "2027-01-04 07:00 mon");
    /* Easter 2026: 1 April is a Wednesday and a working day. */
    assert_string_equal(show(sched_next(c, "reports", 1, at(2026, 3, 3, 0, 0))),
                        "2026-04-01 07:00 wed");
    assert_string_equal(show(sched_next(c, "snapshot", 0, t)), "2026-12-01 00:30 tue");
    /* ... which, were it to mail, would wait for the quiet hours to end. */
    assert_string_equal(show(sched_next(c, "snapshot", 1, t)), "2026-12-01 07:00 tue");
    assert_string_equal(show(sched_next(c, "weekly", 0, t)), "2026-11-30 09:15 mon");
    assert_true(sched_next(c, "now", 0, t) == INT64_MAX);
    assert_true(sched_next(c, "backup", 0, t) == INT64_MAX);
    assert_true(sched_next(c, "unknown", 0, t) == INT64_MAX);
    /* Across the change to summer time: 08:00 stays 08:00 on the clock. */
    assert_string_equal(show(sched_next(c, "reminders", 0, at(2026, 3, 28, 9, 0))),
                        "2026-03-29 08:00 sun");
    assert_int_equal(sched_next(c, "reminders", 0, at(2026, 3, 28, 9, 0)), 1774764000);
    sched_config_free(c);
    /* Quiet hours that end after the run's time hold it. */
    c = parse("reminders daily 06:00\nquiet 22:00-07:30\n");
    assert_string_equal(show(sched_next(c, "reminders", 1, t)), "2026-11-27 07:30 fri");
    sched_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_and_local_time),
        cmocka_unit_test(test_holidays),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_next_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
