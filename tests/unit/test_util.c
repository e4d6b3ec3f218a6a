/* Unit tests for core/util's CSV cell, which the export and the reports' CSV share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util.h"

static char *cell(const char *s)
{
    struct buf b = {0};
    buf_puts(&b, "");
    buf_csv_cell(&b, s);
    return buf_steal(&b);
}

static void check(const char *in, const char *want)
{
    char *got = cell(in);
    assert_string_equal(got, want);
    free(got);
}

static void test_csv_cells(void **state)
{
    (void)state;
    check(NULL, "");
    check("", "");
    check("Åse Ødegård", "Åse Ødegård");                 /* plain text as it is */
    check("Skole; oppvekst", "\"Skole; oppvekst\"");     /* the separator: quoted */
    check("Per \"Pelle\" Hansen", "\"Per \"\"Pelle\"\" Hansen\"");
    check("to\nlinjer", "\"to\nlinjer\"");
    check("=SUM(A1:A9)", "\"'=SUM(A1:A9)\"");            /* never a formula in Excel */
    check("+47 99", "\"'+47 99\"");
    check("-1", "\"'-1\"");
    check("@kari", "\"'@kari\"");
    check("a=b", "a=b");                                 /* only a leading sign counts */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_cells),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
