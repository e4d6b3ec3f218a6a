/* course: the parts that need no database: times from the API, Norwegian time for mails, and the
 * calendar invitation's text (RFC 5545: CRLF, folding at 75 octets, escaping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "course.h"
#include "oslo.h"
#include "util.h"

static void test_parse_utc(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(course_parse_utc("2030-01-10T08:00:00Z", &t), 0);
    assert_int_equal(t, 1894262400);
    assert_int_equal(course_parse_utc("2030-01-10T08:00Z", &t), 0);
    assert_int_equal(t, 1894262400);
    assert_int_equal(course_parse_utc("2030-01-10T08:00:00+00:00", &t), 0);
    assert_int_equal(t, 1894262400);
    assert_int_equal(course_parse_utc("2028-02-29T23:59:59Z", &t), 0);   /* a leap day */
    char back[21];
    util_iso8601(t, back);
    assert_string_equal(back, "2028-02-29T23:59:59Z");
    static const char *const bad[] = {
        "2030-02-29T08:00:00Z",      /* 2030 has no leap day */
        "2030-13-01T08:00:00Z", "2030-01-32T08:00:00Z", "2030-01-10T24:00:00Z",
        "2030-01-10T08:60:00Z", "2030-01-10T08:00:60Z",
        "2030-01-10T08:00:00",       /* no zone: not UTC */
        "2030-01-10T08:00:00+01:00", /* UTC only */
        "2030-01-10 08:00:00Z", "2030-1-10T08:00:00Z", "2030-01-10T08:00:00Zx", "", "tomorrow",
        "1969-12-31T23:59:59Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = 42;
        assert_int_equal(course_parse_utc(bad[i], &t), -1);
        assert_int_equal(t, 42);
    }
}

static void test_parse_date(void **state)
{
    (void)state;
    assert_int_equal(course_parse_date("2029-05-02"), 0);
    assert_int_equal(course_parse_date("2000-02-29"), 0);
    assert_int_equal(course_parse_date("1900-02-29"), -1);
    assert_int_equal(course_parse_date("2029-02-29"), -1);
    assert_int_equal(course_parse_date("2029-04-31"), -1);
    assert_int_equal(course_parse_date("2029-05-02T00:00:00Z"), -1);
    assert_int_equal(course_parse_date("02.05.2029"), -1);
}

static void test_oslo_offset_at_the_changes(void **state)
{
    (void)state;
    /* 2030: summer time from Sunday 31 March 01:00 UTC to Sunday 27 October 01:00 UTC */
    int64_t spring = 1901149200, autumn = 1919293200;
    char s[21];
    util_iso8601(spring, s);
    assert_string_equal(s, "2030-03-31T01:00:00Z");
    util_iso8601(autumn, s);
    assert_string_equal(s, "2030-10-27T01:00:00Z");
    assert_int_equal(oslo_offset(spring - 1), 3600);
    assert_int_equal(oslo_offset(spring), 7200);
    assert_int_equal(oslo_offset(autumn - 1), 7200);
    assert_int_equal(oslo_offset(autumn), 3600);
    assert_int_equal(oslo_offset(1894262400), 3600);   /* January */
}

/* Against the C library's Europe/Oslo, where the system has the zone. */
static void test_oslo_offset_matches_tzdata(void **state)
{
    (void)state;
    if (access("/usr/share/zoneinfo/Europe/Oslo", R_OK) != 0)
        skip();
    setenv("TZ", "Europe/Oslo", 1);
    tzset();
    /* 1997-2037: the EU rule has held since 1996 */
    for (int64_t t = 852076800; t < 2114380800; t += 3607 * 7) {
        time_t tt = (time_t)t;
        struct tm tm;
        localtime_r(&tt, &tm);
        if (tm.tm_gmtoff != oslo_offset(t)) {
            char s[21];
            util_iso8601(t, s);
            fail_msg("%s: tzdata says %ld, oslo_offset %d", s, (long)tm.tm_gmtoff,
                     oslo_offset(t));
        }
    }
    unsetenv("TZ");
    tzset();
}

static int valid_utf8_prefix_cut(const char *line, size_t len)
{
    /* a line must not end inside a character, nor the next begin with a continuation byte */
    return len == 0 || ((unsigned char)line[0] & 0xC0) != 0x80;
}

static void test_ics_lines_are_folded_and_escaped(void **state)
{
    (void)state;
    const char *summary = "Kurs: Gerica journalføring for hjemmetjenesten, del 2; "
                          "øving på å skrive gode journaler (æøå ÆØÅ)";
    struct course_ics ev = {
        .method = "REQUEST", .session_id = 17, .employee_id = 4242,
        .starts_at = 1894262400, .ends_at = 1894273200, .stamp = 1893456000, .sequence = 0,
        .summary = summary, .location = "Rådhuset, møterom 2",
        .description = "Linje én\nLinje to med \\ og ;",
        .organizer_name = "Rådgiver, Kari", .organizer_email = "kari@example.no",
        .attendee_name = "Per Ås", .attendee_email = "per@example.no",
    };
    char *ics = course_ics_text(&ev);
    size_t n = strlen(ics);
    assert_true(n > 2 && ics[n - 2] == '\r' && ics[n - 1] == '\n');
    /* every line ends in CRLF, is at most 75 octets, and no UTF-8 character is cut */
    int folded = 0;
    for (const char *p = ics; *p;) {
        const char *end = strstr(p, "\r\n");
        assert_non_null(end);
        size_t len = (size_t)(end - p);
        assert_true(len <= 75);
        assert_null(memchr(p, '\n', len));
        assert_null(memchr(p, '\r', len));
        if (*p == ' ') {
            folded = 1;
            assert_true(valid_utf8_prefix_cut(p + 1, len - 1));
        }
        if (len)
            assert_true(((unsigned char)p[len - 1] & 0xC0) != 0xC0);   /* not a lead byte */
        p = end + 2;
    }
    assert_true(folded);
    /* unfolded, the properties read back */
    struct buf u = {0};
    for (const char *p = ics; *p; p++) {
        if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
            p += 2;
            continue;
        }
        buf_append(&u, p, 1);
    }
    assert_non_null(strstr(u.data, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert_non_null(strstr(u.data, "\r\nMETHOD:REQUEST\r\n"));
    assert_non_null(strstr(u.data, "\r\nUID:evne-session-17-4242@evne\r\n"));
    assert_non_null(strstr(u.data, "\r\nDTSTART:20300110T080000Z\r\n"));
    assert_non_null(strstr(u.data, "\r\nDTEND:20300110T110000Z\r\n"));
    assert_non_null(strstr(u.data, "\r\nDTSTAMP:20300101T000000Z\r\n"));
    assert_non_null(strstr(u.data, "\r\nSUMMARY:Kurs: Gerica journalføring for hjemmetjenesten\\, "
                                   "del 2\\; øving på å skrive gode journaler (æøå ÆØÅ)\r\n"));
    assert_non_null(strstr(u.data, "\r\nLOCATION:Rådhuset\\, møterom 2\r\n"));
    assert_non_null(strstr(u.data, "\r\nDESCRIPTION:Linje én\\nLinje to med \\\\ og \\;\r\n"));
    assert_non_null(strstr(u.data, "\r\nORGANIZER;CN=\"Rådgiver, Kari\":mailto:kari@example.no\r\n"));
    assert_non_null(strstr(u.data, "\r\nATTENDEE;CN=Per Ås;"));
    assert_non_null(strstr(u.data, "\r\nSTATUS:CONFIRMED\r\n"));
    assert_non_null(strstr(u.data, "END:VEVENT\r\nEND:VCALENDAR\r\n"));
    buf_free(&u);
    free(ics);

    ev.method = "CANCEL";
    ev.sequence = 1894000000;
    ev.organizer_email = NULL;
    ics = course_ics_text(&ev);
    assert_non_null(strstr(ics, "\r\nMETHOD:CANCEL\r\n"));
    assert_non_null(strstr(ics, "\r\nSTATUS:CANCELLED\r\n"));
    assert_non_null(strstr(ics, "\r\nSEQUENCE:1894000000\r\n"));
    assert_null(strstr(ics, "ORGANIZER"));
    free(ics);
}

/* A line of only multi-byte characters is cut between them, never inside one. */
static void test_ics_fold_never_cuts_a_character(void **state)
{
    (void)state;
    char summary[400] = "";
    for (int i = 0; i < 60; i++)
        strcat(summary, i % 2 ? "å" : "€");   /* 2 and 3 octets */
    struct course_ics ev = {.method = "REQUEST", .session_id = 1, .employee_id = 1,
                            .starts_at = 1894262400, .ends_at = 1894273200,
                            .stamp = 1893456000, .summary = summary};
    char *ics = course_ics_text(&ev);
    const char *p = strstr(ics, "SUMMARY:");
    assert_non_null(p);
    struct buf u = {0};
    for (;;) {
        const char *end = strstr(p, "\r\n");
        assert_true(end - p <= 75);
        if (p[0] == ' ')
            assert_true(((unsigned char)p[1] & 0xC0) != 0x80);
        buf_append(&u, p[0] == ' ' ? p + 1 : p, (size_t)(end - p) - (p[0] == ' '));
        p = end + 2;
        if (*p != ' ')
            break;
    }
    assert_string_equal(u.data + strlen("SUMMARY:"), summary);
    assert_true(util_utf8_valid(u.data));
    buf_free(&u);
    free(ics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_utc),
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_oslo_offset_at_the_changes),
        cmocka_unit_test(test_oslo_offset_matches_tzdata),
        cmocka_unit_test(test_ics_lines_are_folded_and_escaped),
        cmocka_unit_test(test_ics_fold_never_cuts_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
