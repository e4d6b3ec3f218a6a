/* Tests of core/multipart.c: bodies as browsers send them (Chromium's and Firefox's boundaries,
 * a file with CRLFs and æøå inside, an empty file input), and every malformation refused with
 * its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "multipart.h"
#include "util.h"

#define CHROME "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"
#define B "------WebKitFormBoundary7MA4YWxkTrZu0gW"

static int parse(const char *body, const char *ct, struct mp_form *f, char **err)
{
    *err = NULL;
    return mp_parse(body, strlen(body), ct, f, err);
}

/* Refused, with a reason that says what (a part of it given). */
static void refused(const char *body, const char *ct, const char *reason)
{
    struct mp_form f;
    char *err = NULL;
    assert_int_equal(mp_parse(body, strlen(body), ct, &f, &err), -1);
    assert_non_null(err);
    if (!strstr(err, reason))
        fail_msg("expected a reason with '%s', got '%s'", reason, err);
    assert_int_equal(f.n, 0);
    assert_null(f.parts);
    free(err);
}

static void test_browser_form(void **state)
{
    (void)state;
    const char *body =
        B "\r\n"
        "Content-Disposition: form-data; name=\"csrf\"\r\n"
        "\r\n"
        "0123456789abcdef0123456789abcdef\r\n" B "\r\n"
        "Content-Disposition: form-data; name=\"employees\"; filename=\"ansatte æøå.csv\"\r\n"
        "Content-Type: text/csv\r\n"
        "\r\n"
        "\xEF\xBB\xBF" "ansattnummer;navn\r\n1001;\"Åse\r\nØvre\"\r\n-- not a boundary\r\n\r\n" B "\r\n"
        "Content-Disposition: form-data; name=\"departments\"; filename=\"\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "\r\n" B "--\r\n";
    struct mp_form f;
    char *err;
    assert_int_equal(parse(body, CHROME, &f, &err), 0);
    assert_int_equal(f.n, 3);
    const struct mp_part *csrf = mp_get(&f, "csrf");
    assert_non_null(csrf);
    assert_null(csrf->filename);
    assert_null(csrf->content_type);
    assert_int_equal(csrf->len, 32);
    assert_memory_equal(csrf->data, "0123456789abcdef0123456789abcdef", 32);
    const struct mp_part *emp = mp_get(&f, "employees");
    assert_string_equal(emp->filename, "ansatte æøå.csv");
    assert_string_equal(emp->content_type, "text/csv");
    const char *want = "\xEF\xBB\xBF" "ansattnummer;navn\r\n1001;\"Åse\r\nØvre\"\r\n-- not a boundary\r\n";
    assert_int_equal(emp->len, strlen(want));
    assert_memory_equal(emp->data, want, emp->len);
    const struct mp_part *dep = mp_get(&f, "departments");
    assert_string_equal(dep->filename, "");
    assert_int_equal(dep->len, 0);
    assert_null(mp_get(&f, "nothing"));
    mp_free(&f);
    assert_int_equal(f.n, 0);
}

/* A quoted boundary (Firefox's are plain, others quote), header names in any case, an epilogue,
 * and an empty form. */
static void test_quoted_boundary_and_case(void **state)
{
    (void)state;
    const char *ct = "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b:c\"";
    const char *body = "--a b:c\r\n"
                       "content-disposition: FORM-DATA; filename=x.csv; name=file\r\n"
                       "CONTENT-TYPE: text/plain\r\n"
                       "Content-Transfer-Encoding: binary\r\n"
                       "X-Other: ignored\r\n"
                       "\r\n"
                       "a;b\r\n"
                       "--a b:c--\r\nthe epilogue, ignored\r\n";
    struct mp_form f;
    char *err;
    assert_int_equal(parse(body, ct, &f, &err), 0);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.parts[0].name, "file");
    assert_string_equal(f.parts[0].filename, "x.csv");
    assert_int_equal(f.parts[0].len, 3);
    mp_free(&f);
    assert_int_equal(parse("--xyz--", "multipart/form-data; boundary=xyz", &f, &err), 0);
    assert_int_equal(f.n, 0);
    mp_free(&f);
    assert_true(mp_is_form_data("multipart/form-data;boundary=x"));
    assert_true(mp_is_form_data("  multipart/form-data"));
    assert_false(mp_is_form_data("multipart/form-datax"));
    assert_false(mp_is_form_data("application/x-www-form-urlencoded"));
    assert_false(mp_is_form_data(NULL));
}

static void test_refused(void **state)
{
    (void)state;
    const char *ok_part = "Content-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n";
    char body[512];
    refused("--x\r\n", "text/plain", "not multipart/form-data");
    refused("--x\r\n", "multipart/form-data", "no boundary");
    refused("--x--", "multipart/form-data; boundary=\"\"", "1 to 70");
    refused("--x--", "multipart/form-data; boundary=\"x \"", "not end in a space");
    refused("--x--", "multipart/form-data; boundary=x; boundary=y", "two boundaries");
    refused("--x--", "multipart/form-data; boundary=\"x\xc3\xa5\"", "may not");
    refused("--x--", "multipart/form-data; boundary=\"unclosed", "not closed");
    refused("--x--",
            "multipart/form-data; boundary="
            "01234567890123456789012345678901234567890123456789012345678901234567890",
            "1 to 70");
    refused("preamble\r\n--x\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "does not start with the boundary");
    snprintf(body, sizeof body, "--x\r\n%s--x", ok_part);
    refused(body, "multipart/form-data; boundary=x", "neither a line break nor --");
    snprintf(body, sizeof body, "--x\r\n%s", "Content-Disposition: form-data; name=a\r\n\r\nv");
    refused(body, "multipart/form-data; boundary=x", "ends before the closing boundary");
    refused("--x\r\nContent-Disposition: form-data; name=a\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "do not end");
    refused("--x\r\n\r\nv\r\n--x--", "multipart/form-data; boundary=x", "no Content-Disposition");
    refused("--x\r\nContent-Type: text/plain\r\n\r\nv\r\n--x--", "multipart/form-data; boundary=x",
            "no Content-Disposition");
    refused("--x\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "not form-data");
    refused("--x\r\nContent-Disposition: form-data; filename=a\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "has no name");
    refused("--x\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "has no name");
    refused("--x\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "repeats a parameter");
    refused("--x\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "not UTF-8");
    refused("--x\r\nContent-Disposition: form-data name=a\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "not separated by ';'");
    refused("--x\r\nContent-Disposition: form-data; name\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "no name=value");
    refused("--x\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "does not end in CRLF");
    refused("--x\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "folded");
    refused("--x\r\nContent-Disposition form-data; name=a\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "not Name: value");
    refused("--x\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
            "name=b\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "two Content-Disposition");
    refused("--x\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: base64"
            "\r\n\r\ndg==\r\n--x--",
            "multipart/form-data; boundary=x", "not 7bit, 8bit or binary");
    refused("--x\r\nContent-Disposition: form-data; name=a\r\nContent-Type: text/\x01"
            "\r\n\r\nv\r\n--x--",
            "multipart/form-data; boundary=x", "not plain text");
    /* a boundary inside the data that is not followed by CRLF or -- ends nothing well */
    refused("--x\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--xy\r\n--x--",
            "multipart/form-data; boundary=x", "neither a line break nor --");
}

static void test_limits(void **state)
{
    (void)state;
    struct buf b = {0};
    for (int i = 0; i <= MP_MAX_PARTS; i++)
        buf_printf(&b, "--x\r\nContent-Disposition: form-data; name=f%d\r\n\r\n%d\r\n", i, i);
    buf_puts(&b, "--x--\r\n");
    refused(b.data, "multipart/form-data; boundary=x", "more than 64 parts");
    buf_free(&b);

    buf_puts(&b, "--x\r\nContent-Disposition: form-data; name=a\r\nX-Long: ");
    for (int i = 0; i < MP_MAX_HEAD_BYTES; i++)
        buf_puts(&b, "y");
    buf_puts(&b, "\r\n\r\nv\r\n--x--");
    refused(b.data, "multipart/form-data; boundary=x", "exceed 4096 bytes");
    buf_free(&b);

    /* exactly 64 parts are fine, and binary data with NUL bytes is kept as it is */
    struct mp_form f;
    char *err = NULL;
    for (int i = 0; i < MP_MAX_PARTS - 1; i++)
        buf_printf(&b, "--x\r\nContent-Disposition: form-data; name=f%d\r\n\r\n%d\r\n", i, i);
    buf_puts(&b, "--x\r\nContent-Disposition: form-data; name=z\r\n\r\n");
    buf_append(&b, "a\0b", 3);
    buf_puts(&b, "\r\n--x--");
    assert_int_equal(mp_parse(b.data, b.len, "multipart/form-data; boundary=x", &f, &err), 0);
    assert_int_equal(f.n, MP_MAX_PARTS);
    const struct mp_part *z = mp_get(&f, "z");
    assert_int_equal(z->len, 3);
    assert_memory_equal(z->data, "a\0b", 3);
    assert_int_equal(mp_get(&f, "f7")->len, 1);
    assert_memory_equal(mp_get(&f, "f7")->data, "7", 1);
    mp_free(&f);
    buf_free(&b);
}

/* Every prefix of a good body is refused, never read past its end (make check runs this under
 * AddressSanitizer). */
static void test_every_prefix(void **state)
{
    (void)state;
    const char *body = "--x\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f.csv\"\r\n"
                       "Content-Type: text/csv\r\n\r\nx;y\r\n1;2\r\n--x--";
    size_t n = strlen(body);
    for (size_t i = 0; i < n - 1; i++) {
        char *copy = xmalloc(i ? i : 1);
        memcpy(copy, body, i);
        struct mp_form f;
        char *err = NULL;
        assert_int_equal(mp_parse(copy, i, "multipart/form-data; boundary=x", &f, &err), -1);
        free(err);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_form),
        cmocka_unit_test(test_quoted_boundary_and_case),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_every_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
