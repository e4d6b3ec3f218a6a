/* util: the hand-written date formatter against the C library, and the growable buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

static void test_iso8601_matches_gmtime(void **state)
{
    (void)state;
    /* from before the epoch to 2100, through leap days and century years */
    for (int64_t t = -86400LL * 800; t < 4102444800LL; t += 12345 + (t & 7) * 1111) {
        char got[21], want[21];
        util_iso8601(t, got);
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
        assert_string_equal(got, want);
    }
    char s[21];
    util_iso8601(951782400, s);   /* 2000-02-29, a leap day of a century year */
    assert_string_equal(s, "2000-02-29T00:00:00Z");
}

static void test_buf_printf_grows(void **state)
{
    (void)state;
    struct buf b = {0};
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    assert_string_equal(b.data + b.len - 4, "999,");
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.len, strlen(b.data));
    buf_free(&b);
}

static void test_utf8_clean(void **state)
{
    (void)state;
    char ok[] = "Bråset – æøå 𝄞";
    assert_string_equal(util_utf8_clean(ok), "Bråset – æøå 𝄞");
    char bad[] = "a\xff b\xc3 c\xc0\xaf d\xed\xa0\x80 e\xe2\x82";
    assert_string_equal(util_utf8_clean(bad), "a? b? c?? d??? e??");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso8601_matches_gmtime),
        cmocka_unit_test(test_buf_printf_grows),
        cmocka_unit_test(test_utf8_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
