/* mail: the message as it goes over SMTP (headers, RFC 2047 subjects, quoted-printable, the
 * calendar part, HTML alternatives and attachments parsed back as a MIME reader would), the
 * backoff, and the outbox's states through claim, record and recover. */
#include "fixture.h"

#include "mail.h"

/* --- decoding what mail_format wrote, independently of it ------------------------------------- */

static int b64_value(char c)
{
    const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(abc, c);
    return c && p ? (int)(p - abc) : -1;
}

/* Base64 of s[0..n) (line breaks skipped) appended to out. */
static void b64_decode(struct buf *out, const char *s, size_t n)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i]);
        if (s[i] == '=' || s[i] == '\r' || s[i] == '\n')
            continue;
        assert_true(v >= 0);
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            buf_append(out, &c, 1);
        }
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Quoted-printable s[0..n) decoded; soft breaks removed. Owned. */
static char *qp_decode(const char *s, size_t n)
{
    struct buf b = {0};
    buf_reserve(&b, n);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '=') {
            buf_append(&b, s + i, 1);
        } else if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else {
            assert_true(i + 2 < n);
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            assert_true(hi >= 0 && lo >= 0);
            char c = (char)(hi * 16 + lo);
            buf_append(&b, &c, 1);
            i += 2;
        }
    }
    return buf_steal(&b);
}

/* The value of header `name` in msg, unfolded; for a value of encoded words, decoded (the
 * whitespace between two encoded words is dropped, as RFC 2047 says). Owned; NULL if absent. */
static char *header(const char *msg, const char *name)
{
    size_t nl = strlen(name);
    const char *end = strstr(msg, "\r\n\r\n");
    for (const char *p = msg; p && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL) {
        if (strncasecmp(p, name, nl) || p[nl] != ':')
            continue;
        struct buf raw = {0};
        const char *v = p + nl + 1;
        for (;;) {
            const char *eol = strstr(v, "\r\n");
            buf_append(&raw, v, (size_t)(eol - v));
            if (eol[2] != ' ' && eol[2] != '\t')
                break;
            v = eol + 2;
        }
        struct buf out = {0};
        buf_puts(&out, "");
        const char *s = raw.data;
        while (*s == ' ')
            s++;
        if (strncmp(s, "=?UTF-8?B?", 10)) {
            buf_puts(&out, s);
        } else {
            while (*s) {
                assert_memory_equal(s, "=?UTF-8?B?", 10);
                const char *q = strstr(s + 10, "?=");
                assert_non_null(q);
                assert_true(q - s + 2 <= 75);   /* an encoded word is at most 75 characters */
                b64_decode(&out, s + 10, (size_t)(q - s - 10));
                s = q + 2;
                while (*s == ' ')
                    s++;
            }
        }
        buf_free(&raw);
        return buf_steal(&out);
    }
    return NULL;
}

/* Every line ends in CRLF, none is longer than `max`, and every byte is printable ASCII. */
static void assert_wire_form(const char *msg, size_t max)
{
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '\r') {
            assert_int_equal(p[1], '\n');
            col = 0;
            p++;
            continue;
        }
        assert_true(*p != '\n');
        assert_true(*p >= 0x20 && *p < 0x7f);
        col++;
        if (col > max)
            fail_msg("a line longer than %zu: %.80s", max, (const char *)p - col + 1);
    }
    assert_true(strlen(msg) >= 2 && !strcmp(msg + strlen(msg) - 2, "\r\n"));
}

/* The body of a single-part message, or of the part whose headers contain `marker`. */
static const char *part_body(const char *msg, const char *marker, size_t *len)
{
    const char *start = marker ? strstr(msg, marker) : msg;
    assert_non_null(start);
    start = strstr(start, "\r\n\r\n");
    assert_non_null(start);
    start += 4;
    const char *end = strstr(start, "\r\n--=_evne_");   /* that CRLF is the delimiter's */
    *len = end ? (size_t)(end - start) : strlen(start);
    return start;
}

/* --- the message ------------------------------------------------------------------------------ */

static const char NORWEGIAN[] = "Invitasjon: Gerica – å føre journal, Æbleskiver på Øvre Åsen";

static void test_single_part_headers(void **state)
{
    (void)state;
    struct mail_message m = {.id = 42, .created_at = 1795734327, .from = "evne@asker.kommune.no",
                             .to = "ola.nordmann@asker.kommune.no", .subject = NORWEGIAN,
                             .body = "Hei Ola,\n\nvelkommen på kurs.\n"};
    char *msg = mail_format(&m);
    assert_wire_form(msg, 78);
    char *v;
    assert_string_equal(v = header(msg, "From"), "evne@asker.kommune.no");
    free(v);
    assert_string_equal(v = header(msg, "To"), "ola.nordmann@asker.kommune.no");
    free(v);
    assert_string_equal(v = header(msg, "Subject"), NORWEGIAN);
    free(v);
    assert_string_equal(v = header(msg, "Date"), "Thu, 26 Nov 2026 23:05:27 +0000");
    free(v);
    assert_string_equal(v = header(msg, "Message-ID"),
                        "<evne.outbox.42.1795734327@asker.kommune.no>");
    free(v);
    assert_string_equal(v = header(msg, "MIME-Version"), "1.0");
    free(v);
    assert_string_equal(v = header(msg, "Content-Type"), "text/plain; charset=UTF-8");
    free(v);
    assert_string_equal(v = header(msg, "Content-Transfer-Encoding"), "quoted-printable");
    free(v);
    /* the raw Subject is encoded words only: no 8-bit byte reaches the header */
    assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
    size_t len;
    const char *body = part_body(msg, NULL, &len);
    char *text = qp_decode(body, len);
    assert_string_equal(text, "Hei Ola,\r\n\r\nvelkommen p\xc3\xa5 kurs.\r\n");
    free(text);
    free(msg);
}

static void test_the_same_row_makes_the_same_bytes(void **state)
{
    (void)state;
    struct mail_message m = {.id = 7, .created_at = 1000, .from = "a@b.no", .to = "c@d.no",
                             .subject = "Påminnelse", .body = "x"};
    char *one = mail_format(&m), *two = mail_format(&m);
    assert_string_equal(one, two);   /* a retry sends what the first attempt sent */
    free(one);
    free(two);
}

static void test_ascii_subjects_stay_plain_and_fold(void **state)
{
    (void)state;
    struct mail_message m = {.id = 1, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "Course invitation", .body = ""};
    char *msg = mail_format(&m);
    assert_non_null(strstr(msg, "\r\nSubject: Course invitation\r\n"));
    free(msg);
    const char *longer = "Invitation to the course on the electronic patient record for home "
                         "care nurses in the western district, spring term";
    m.subject = longer;
    msg = mail_format(&m);
    assert_wire_form(msg, 78);
    assert_null(strstr(msg, "=?UTF-8?"));
    char *v = header(msg, "Subject");
    assert_string_equal(v, longer);
    free(v);
    free(msg);
}

static void test_subjects_that_need_encoding(void **state)
{
    (void)state;
    const char *subjects[] = {
        "Hei\r\nBcc: everyone@example.org",       /* no header can be smuggled in */
        "=?UTF-8?B?Zm9v?= is not an encoded word here",
        "  two leading spaces",
        "ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå ÆØÅæøå",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞 𝄞",
    };
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
        struct mail_message m = {.id = 1, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                                 .subject = subjects[i], .body = "x"};
        char *msg = mail_format(&m);
        assert_wire_form(msg, 78);
        assert_null(strstr(msg, "\r\nBcc:"));
        char *v = header(msg, "Subject");
        assert_string_equal(v, subjects[i]);   /* each word is whole UTF-8, and all add up */
        assert_true(util_utf8_valid(v));
        free(v);
        free(msg);
    }
}

static void test_quoted_printable_body(void **state)
{
    (void)state;
    const char *body = "Linje med = og mellomrom på slutten \n"
                       "tab\t\n"
                       ".\n"
                       "Ei lang linje: Lorem ipsum dolor sit amet, consectetur adipiscing elit, "
                       "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua æøå.\r\n"
                       "ingen linjeskift til slutt";
    struct mail_message m = {.id = 3, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "x", .body = body};
    char *msg = mail_format(&m);
    assert_wire_form(msg, 76);   /* quoted-printable lines are at most 76 */
    size_t len;
    const char *qp = part_body(msg, NULL, &len);
    assert_non_null(strstr(qp, "slutten=20\r\n"));   /* trailing white space is encoded */
    assert_non_null(strstr(qp, "tab=09\r\n"));
    char *text = qp_decode(qp, len);
    assert_string_equal(text, "Linje med = og mellomrom p\xc3\xa5 slutten \r\n"
                              "tab\t\r\n"
                              ".\r\n"
                              "Ei lang linje: Lorem ipsum dolor sit amet, consectetur adipiscing "
                              "elit, sed do eiusmod tempor incididunt ut labore et dolore magna "
                              "aliqua \xc3\xa6\xc3\xb8\xc3\xa5.\r\n"
                              "ingen linjeskift til slutt\r\n");
    free(text);
    free(msg);
}

static void test_invalid_utf8_is_replaced(void **state)
{
    (void)state;
    struct mail_message m = {.id = 3, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "bad \xff byte", .body = "also \xc3 here"};
    char *msg = mail_format(&m);
    char *v = header(msg, "Subject");
    assert_string_equal(v, "bad ? byte");
    free(v);
    size_t len;
    const char *qp = part_body(msg, NULL, &len);
    char *text = qp_decode(qp, len);
    assert_string_equal(text, "also ? here\r\n");
    free(text);
    free(msg);
}

static void test_invitation_with_calendar(void **state)
{
    (void)state;
    const char *ics = "BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:REQUEST\nPRODID:-//evne//NO\n"
                      "BEGIN:VEVENT\nUID:9@evne\nDTSTART:20261201T080000Z\n"
                      "SUMMARY:Gerica grunnkurs – øving\nEND:VEVENT\nEND:VCALENDAR";
    struct mail_message m = {.id = 9, .created_at = 1795734327, .from = "evne@asker.kommune.no",
                             .to = "kari@asker.kommune.no", .subject = "Invitasjon: Gerica",
                             .body = "Hei Kari,\nse vedlagt invitasjon.\n", .ics = ics};
    char *msg = mail_format(&m);
    assert_wire_form(msg, 78);
    char *v = header(msg, "Content-Type");
    assert_string_equal(v, "multipart/mixed; boundary=\"=_evne_9\"");
    free(v);
    /* two parts between the boundaries, and the closing one at the end */
    const char *first = strstr(msg, "\r\n\r\n--=_evne_9\r\n");
    assert_non_null(first);
    const char *second = strstr(first + 10, "\r\n--=_evne_9\r\n");
    assert_non_null(second);
    assert_non_null(strstr(second, "\r\n--=_evne_9--\r\n"));
    assert_string_equal(msg + strlen(msg) - strlen("\r\n--=_evne_9--\r\n"), "\r\n--=_evne_9--\r\n");
    size_t len;
    const char *text_qp = part_body(first, "Content-Type: text/plain; charset=UTF-8", &len);
    char *text = qp_decode(text_qp, len);
    assert_string_equal(text, "Hei Kari,\r\nse vedlagt invitasjon.\r\n");
    free(text);
    assert_non_null(strstr(second, "Content-Type: text/calendar; method=REQUEST; charset=UTF-8;\r\n"
                                   " name=\"invitation.ics\"\r\n"));
    assert_non_null(strstr(second, "Content-Disposition: attachment; filename=\"invitation.ics\""));
    assert_non_null(strstr(second, "Content-Transfer-Encoding: base64\r\n"));
    const char *cal = part_body(second, "text/calendar", &len);
    struct buf decoded = {0};
    buf_puts(&decoded, "");
    b64_decode(&decoded, cal, len);
    /* the calendar's lines end in CRLF (RFC 5545), whatever the caller wrote */
    assert_string_equal(decoded.data,
                        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nPRODID:-//evne//NO\r\n"
                        "BEGIN:VEVENT\r\nUID:9@evne\r\nDTSTART:20261201T080000Z\r\n"
                        "SUMMARY:Gerica grunnkurs \xe2\x80\x93 \xc3\xb8ving\r\nEND:VEVENT\r\n"
                        "END:VCALENDAR\r\n");
    buf_free(&decoded);
    free(msg);
}

static void test_a_cancellation_says_so(void **state)
{
    (void)state;
    struct mail_message m = {.id = 10, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "Avlyst", .body = "x",
                             .ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:CANCEL\r\n"
                                    "END:VCALENDAR\r\n"};
    char *msg = mail_format(&m);
    assert_non_null(strstr(msg, "Content-Type: text/calendar; method=CANCEL; charset=UTF-8;"));
    free(msg);
}


/* --- multipart: HTML alternatives and attachments, parsed back ------------------------------- */

/* One MIME entity: its header block and its body, as the text between two delimiters. */
struct entity {
    char *all;                /* headers, the empty line, the body; owned */
    const char *body;         /* inside all */
    size_t body_len;
};

static void entity_free(struct entity *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].all);
}

static struct entity entity_of(const char *p, size_t n)
{
    struct entity e = {.all = xmalloc(n + 1)};
    memcpy(e.all, p, n);
    e.all[n] = '\0';
    const char *sep = strstr(e.all, "\r\n\r\n");
    assert_non_null(sep);
    e.body = sep + 4;
    e.body_len = n - (size_t)(e.body - e.all);
    return e;
}

/* The boundary parameter of a multipart Content-Type value. Owned. */
static char *boundary_of(const char *content_type)
{
    const char *b = strstr(content_type, "boundary=\"");
    assert_non_null(b);
    b += 10;
    const char *end = strchr(b, '"');
    assert_non_null(end);
    /* RFC 2046: 1-70 characters, none that would need quoting inside the quotes */
    assert_true(end - b >= 1 && end - b <= 70);
    char *s = xmalloc((size_t)(end - b) + 1);
    memcpy(s, b, (size_t)(end - b));
    s[end - b] = '\0';
    return s;
}

/* The parts of a multipart body (RFC 2046 5.1.1): text before the first delimiter line is the
 * preamble; each part ends at the CRLF before the next delimiter; the close delimiter ends the
 * body (only a CRLF may follow). Fills out (at most max) and returns how many. */
static size_t parts_of(const struct entity *e, struct entity *out, size_t max)
{
    char *ct = header(e->all, "Content-Type");
    assert_non_null(ct);
    char *boundary = boundary_of(ct);
    char *delim = xasprintf("--%s", boundary);
    size_t dl = strlen(delim), n = 0;
    const char *body = e->body, *end = e->body + e->body_len;
    const char *part = NULL;
    int closed = 0;
    for (const char *line = body; line < end;) {
        /* the last line of a nested multipart has no CRLF: it belongs to the outer delimiter */
        const char *eol = strstr(line, "\r\n");
        if (!eol || eol > end)
            eol = end;
        size_t len = (size_t)(eol - line);
        int is_delim = len == dl && !memcmp(line, delim, dl);
        int is_close = len == dl + 2 && !memcmp(line, delim, dl) && !memcmp(line + dl, "--", 2);
        /* a line that merely starts with the delimiter would fool a lenient parser */
        if (!is_delim && !is_close)
            assert_false(len >= dl && !memcmp(line, delim, dl));
        if (is_delim || is_close) {
            if (part) {
                assert_true(n < max);
                out[n++] = entity_of(part, (size_t)(line - 2 - part));
            }
            part = eol + 2;
            if (is_close) {
                assert_true(eol == end || eol + 2 == end);   /* nothing after the close one */
                closed = 1;
                break;
            }
        }
        line = eol == end ? end : eol + 2;
    }
    assert_true(closed);
    free(delim);
    free(boundary);
    free(ct);
    return n;
}

/* The decoded body of a leaf entity: quoted-printable or base64, as it says. Owned. */
static char *decoded(const struct entity *e)
{
    char *cte = header(e->all, "Content-Transfer-Encoding");
    assert_non_null(cte);
    char *out;
    if (!strcmp(cte, "quoted-printable")) {
        out = qp_decode(e->body, e->body_len);
    } else {
        assert_string_equal(cte, "base64");
        for (size_t i = 0; i < e->body_len; i++)   /* 76 characters a line, then CRLF */
            assert_true(strchr("\r\n", e->body[i]) || b64_value(e->body[i]) >= 0 ||
                        e->body[i] == '=');
        struct buf b = {0};
        buf_puts(&b, "");
        b64_decode(&b, e->body, e->body_len);
        out = buf_steal(&b);
    }
    free(cte);
    return out;
}

static void assert_header(const char *all, const char *name, const char *want)
{
    char *v = header(all, name);
    if (!v || strcmp(v, want))
        fail_msg("%s: '%s', not '%s'", name, v ? v : "(none)", want);
    free(v);
}

static const char HTML[] = "<!doctype html><html><body><h1>Månedsrapport – Helse og omsorg</h1>"
                           "<p>Dekning 87 %, gapsum 12. En lang linje som må brytes fordi "
                           "quoted-printable tillater høyst 76 tegn per linje.</p></body></html>\n";
static const char CSV[] = "avdeling;dekning;gapsum\r\nHelse og omsorg;0,87;12\nØst;1;0\n"
                          "=?x?= --=_evne_1 \xe2\x80\x93 \x01\t\n";
static const char ICS[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n";

/* The whole message as an entity (headers and body). */
static struct entity message_of(const struct mail_message *m)
{
    char *msg = mail_format(m);
    assert_wire_form(msg, 78);
    struct entity e = entity_of(msg, strlen(msg));
    free(msg);
    return e;
}

static void assert_text_part(const struct entity *e, const char *subtype, const char *want)
{
    char *ct = xasprintf("text/%s; charset=UTF-8", subtype);
    assert_header(e->all, "Content-Type", ct);
    free(ct);
    char *got = decoded(e);
    assert_string_equal(got, want);
    free(got);
}

static void test_text_and_html_are_alternatives(void **state)
{
    (void)state;
    struct mail_message m = {.id = 5, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "Månedsrapport", .body = "Dekning 87 %\n",
                             .html = HTML};
    struct entity msg = message_of(&m);
    assert_header(msg.all, "Content-Type",
                  "multipart/alternative; boundary=\"=_evne_alt_5\"");
    assert_header(msg.all, "MIME-Version", "1.0");
    struct entity parts[4];
    size_t n = parts_of(&msg, parts, 4);
    assert_int_equal(n, 2);
    /* the plainest first (RFC 2046 5.1.4): a client shows the last it can */
    assert_text_part(&parts[0], "plain", "Dekning 87 %\r\n");
    assert_text_part(&parts[1], "html",
                     "<!doctype html><html><body><h1>M\xc3\xa5nedsrapport \xe2\x80\x93 Helse og "
                     "omsorg</h1><p>Dekning 87 %, gapsum 12. En lang linje som m\xc3\xa5 brytes "
                     "fordi quoted-printable tillater h\xc3\xb8yst 76 tegn per linje.</p></body>"
                     "</html>\r\n");
    entity_free(parts, n);
    entity_free(&msg, 1);
}

static void test_text_and_an_attachment(void **state)
{
    (void)state;
    struct mail_message m = {.id = 6, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "Rapport", .body = "Se vedlegget.",
                             .attachment_name = "rapport.csv",
                             .attachment_type = "text/csv; charset=UTF-8", .attachment = CSV};
    struct entity msg = message_of(&m);
    assert_header(msg.all, "Content-Type", "multipart/mixed; boundary=\"=_evne_6\"");
    struct entity parts[4];
    size_t n = parts_of(&msg, parts, 4);
    assert_int_equal(n, 2);
    assert_text_part(&parts[0], "plain", "Se vedlegget.\r\n");
    assert_header(parts[1].all, "Content-Type", "text/csv; charset=UTF-8");
    assert_header(parts[1].all, "Content-Disposition", "attachment; filename=\"rapport.csv\"");
    char *bytes = decoded(&parts[1]);
    assert_string_equal(bytes, CSV);   /* byte for byte: line ends and all */
    free(bytes);
    entity_free(parts, n);
    entity_free(&msg, 1);
}

static void test_html_and_an_attachment(void **state)
{
    (void)state;
    struct mail_message m = {.id = 7, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "Rapport", .body = "Tekst", .html = "<p>HTML</p>",
                             .attachment_name = "rapport.csv",
                             .attachment_type = "text/csv; charset=UTF-8", .attachment = CSV};
    struct entity msg = message_of(&m);
    assert_header(msg.all, "Content-Type", "multipart/mixed; boundary=\"=_evne_7\"");
    struct entity parts[4], alt[4];
    size_t n = parts_of(&msg, parts, 4);
    assert_int_equal(n, 2);
    assert_header(parts[0].all, "Content-Type",
                  "multipart/alternative; boundary=\"=_evne_alt_7\"");
    size_t na = parts_of(&parts[0], alt, 4);
    assert_int_equal(na, 2);
    assert_text_part(&alt[0], "plain", "Tekst\r\n");
    assert_text_part(&alt[1], "html", "<p>HTML</p>\r\n");
    char *bytes = decoded(&parts[1]);
    assert_string_equal(bytes, CSV);
    free(bytes);
    entity_free(alt, na);
    entity_free(parts, n);
    entity_free(&msg, 1);
}

static void test_everything_at_once(void **state)
{
    (void)state;
    struct mail_message m = {.id = 8, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "Alt", .body = "Tekst", .html = "<p>HTML</p>", .ics = ICS,
                             .attachment_name = "kurs.pdf", .attachment_type = "application/pdf",
                             .attachment = "%PDF-1.4 tekst"};
    struct entity msg = message_of(&m);
    struct entity parts[4], alt[4];
    size_t n = parts_of(&msg, parts, 4);
    assert_int_equal(n, 3);
    size_t na = parts_of(&parts[0], alt, 4);
    assert_int_equal(na, 2);
    assert_text_part(&alt[0], "plain", "Tekst\r\n");
    assert_text_part(&alt[1], "html", "<p>HTML</p>\r\n");
    assert_header(parts[1].all, "Content-Type",
                  "text/calendar; method=REQUEST; charset=UTF-8; name=\"invitation.ics\"");
    char *cal = decoded(&parts[1]);
    assert_string_equal(cal, ICS);
    free(cal);
    assert_header(parts[2].all, "Content-Type", "application/pdf");
    assert_header(parts[2].all, "Content-Disposition", "attachment; filename=\"kurs.pdf\"");
    char *pdf = decoded(&parts[2]);
    assert_string_equal(pdf, "%PDF-1.4 tekst");
    free(pdf);
    entity_free(alt, na);
    entity_free(parts, n);
    entity_free(&msg, 1);
    /* and the calendar with the text alone, as an invitation is */
    m.html = NULL;
    m.attachment_name = NULL;
    msg = message_of(&m);
    n = parts_of(&msg, parts, 4);
    assert_int_equal(n, 2);
    assert_text_part(&parts[0], "plain", "Tekst\r\n");
    cal = decoded(&parts[1]);
    assert_string_equal(cal, ICS);
    free(cal);
    entity_free(parts, n);
    entity_free(&msg, 1);
}

/* RFC 2231 percent-decoding of filename*0*=UTF-8''...; filename*1*=... Owned. */
static char *rfc2231_name(const char *disposition)
{
    struct buf b = {0};
    buf_puts(&b, "");
    for (int i = 0;; i++) {
        char *key = xasprintf("filename*%d*=", i);
        const char *p = strstr(disposition, key);
        size_t kl = strlen(key);
        free(key);
        if (!p)
            break;
        p += kl;
        if (i == 0) {
            assert_memory_equal(p, "UTF-8''", 7);
            p += 7;
        }
        for (; *p && *p != ';'; p++) {
            if (*p == '%') {
                int hi = hexval(p[1]), lo = hexval(p[2]);
                assert_true(hi >= 0 && lo >= 0);
                char c = (char)(hi * 16 + lo);
                buf_append(&b, &c, 1);
                p += 2;
            } else {
                assert_true(*p > 0x20 && *p < 0x7f && !strchr("\"'()<>@,;:\\/[]?={} ", *p));
                buf_append(&b, p, 1);
            }
        }
    }
    return buf_steal(&b);
}

static void test_attachment_names_and_types_that_need_care(void **state)
{
    (void)state;
    const char *name = "Månedsrapport for Helse og omsorg, november 2026 – med alle "
                       "avdelingene under (endelig versjon).csv";
    struct mail_message m = {.id = 9, .created_at = 0, .from = "a@b.no", .to = "c@d.no",
                             .subject = "x", .body = "x", .attachment_name = name,
                             .attachment_type = "text/csv\r\nBcc: all@example.org",
                             .attachment = ""};
    struct entity msg = message_of(&m);   /* lines of at most 78 */
    assert_null(strstr(msg.all, "\r\nBcc:"));
    struct entity parts[4];
    size_t n = parts_of(&msg, parts, 4);
    assert_int_equal(n, 2);
    assert_header(parts[1].all, "Content-Type", "application/octet-stream");
    char *disp = header(parts[1].all, "Content-Disposition");
    assert_true(!strncmp(disp, "attachment; filename*0*=UTF-8''", 31));
    assert_non_null(strstr(disp, "filename*1*="));
    char *back = rfc2231_name(disp);
    assert_string_equal(back, name);
    free(back);
    free(disp);
    char *bytes = decoded(&parts[1]);
    assert_string_equal(bytes, "");   /* an empty file is a file */
    free(bytes);
    entity_free(parts, n);
    entity_free(&msg, 1);
    /* a path is not a name to save under, a quote not one to put between quotes */
    m.attachment_name = "../../etc/\"passwd\"";
    m.attachment_type = NULL;
    msg = message_of(&m);
    n = parts_of(&msg, parts, 4);
    disp = header(parts[1].all, "Content-Disposition");
    back = rfc2231_name(disp);
    assert_string_equal(back, ".._.._etc_\"passwd\"");
    free(back);
    free(disp);
    assert_header(parts[1].all, "Content-Type", "application/octet-stream");
    entity_free(parts, n);
    entity_free(&msg, 1);
}

static void test_queue_keeps_html_and_attachment(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct mail m = {.kind = "report", .to = "a@x.no", .subject = "Rapport", .body = "Tekst",
                     .html = "<p>Rapport</p>", .attachment_name = "rapport.csv",
                     .attachment_type = "text/csv; charset=UTF-8", .attachment = CSV};
    assert_int_equal(mail_queue(f->db, &m), 0);
    struct mail plain = {.kind = "reminder", .to = "b@x.no", .subject = "Husk", .body = "Hei"};
    assert_int_equal(mail_queue(f->db, &plain), 0);
    struct mail_row *rows;
    size_t n;
    assert_int_equal(mail_claim(f->db, util_now(), 10, &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].html, "<p>Rapport</p>");
    assert_string_equal(rows[0].attachment_name, "rapport.csv");
    assert_string_equal(rows[0].attachment_type, "text/csv; charset=UTF-8");
    assert_string_equal(rows[0].attachment, CSV);
    assert_null(rows[0].ics);
    assert_null(rows[1].html);
    assert_null(rows[1].attachment_name);
    assert_null(rows[1].attachment_type);
    assert_null(rows[1].attachment);
    mail_rows_free(rows, n);
    fx_free(f);
}

/* Sent mail older than the cut-off loses its contents, keeps its row; nothing else is touched. */
static void test_prune_empties_old_sent_mail_only(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct mail m = {.kind = "report", .to = "a@x.no", .subject = "Rapport", .body = "Tekst",
                     .html = "<p>Rapport</p>", .attachment_name = "rapport.csv",
                     .attachment_type = "text/csv; charset=UTF-8", .attachment = CSV,
                     .ics = "BEGIN:VCALENDAR"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(mail_queue(f->db, &m), 0);
    /* 1 and 2 sent long ago, 3 sent lately, 4 failed long ago, 5 still pending */
    fx_int(f, 0, "UPDATE outbox SET state = 'sent', sent_at = 1000 WHERE id IN (1, 2)");
    fx_int(f, 0, "UPDATE outbox SET state = 'sent', sent_at = 5000 WHERE id = 3");
    fx_int(f, 0, "UPDATE outbox SET state = 'failed' WHERE id = 4");
    assert_int_equal(mail_prune(f->db, 2000, 1), 1);   /* at most max at a time */
    assert_int_equal(mail_prune(f->db, 2000, 10), 1);
    assert_int_equal(mail_prune(f->db, 2000, 10), 0);  /* nothing left to empty */
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM outbox WHERE body = '' AND html IS NULL "
                                   "AND attachment IS NULL AND ics IS NULL"), 2);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM outbox WHERE id IN (1, 2) AND "
                                   "subject = 'Rapport' AND to_addr = 'a@x.no' AND "
                                   "state = 'sent' AND sent_at = 1000"), 2);
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM outbox WHERE id IN (3, 4, 5) AND "
                                   "html = '<p>Rapport</p>' AND attachment IS NOT NULL AND "
                                   "body = 'Tekst' AND ics IS NOT NULL"), 3);
    fx_free(f);
}

/* --- the rules of delivery -------------------------------------------------------------------- */

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(mail_backoff(30, 1), 30);
    assert_int_equal(mail_backoff(30, 2), 120);
    assert_int_equal(mail_backoff(30, 3), 600);
    assert_int_equal(mail_backoff(30, 4), 3600);
    assert_int_equal(mail_backoff(30, 9), 3600);
    assert_int_equal(mail_backoff(1, 2), 4);
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(mail_classify(0, 250, 0), MAIL_SENT);
    assert_int_equal(mail_classify(55, 550, 0), MAIL_FAILED);        /* RCPT refused */
    assert_int_equal(mail_classify(8, 554, 0), MAIL_FAILED);         /* DATA refused */
    assert_int_equal(mail_classify(55, 451, 0), MAIL_RETRY);         /* try again later */
    assert_int_equal(mail_classify(7, 0, 0), MAIL_RETRY);            /* no server */
    assert_int_equal(mail_classify(28, 0, 0), MAIL_RETRY);           /* a timeout */
    assert_int_equal(mail_classify(42, 0, 1), MAIL_RELEASED);        /* our own stop */
}

static void test_addresses(void **state)
{
    (void)state;
    assert_true(mail_address_ok("ola.nordmann@asker.kommune.no"));
    assert_true(mail_address_ok("x+tag@example.org"));
    assert_false(mail_address_ok(""));
    assert_false(mail_address_ok("nobody"));
    assert_false(mail_address_ok("@example.org"));
    assert_false(mail_address_ok("ola@"));
    assert_false(mail_address_ok("ola@example.org\r\nRCPT TO:<x@y>"));
    assert_false(mail_address_ok("Ola <ola@example.org>"));
    assert_false(mail_address_ok("åse@example.org"));
    enum mail_tls t;
    assert_int_equal(mail_tls_parse("starttls", &t), 0);
    assert_int_equal(t, MAIL_TLS_STARTTLS);
    assert_int_equal(mail_tls_parse("ssl", &t), -1);
}

/* --- the outbox's states ---------------------------------------------------------------------- */

static int64_t outbox_row(struct fx *f, const char *to, int64_t due)
{
    FX_SQL(f, "INSERT INTO outbox (kind, to_addr, subject, body, next_attempt_at, created_at) "
              "VALUES ('reminder', %Q, 'Påminnelse', 'x', %lld, 100)", to, (long long)due);
    return sqlite3_last_insert_rowid(db_handle(f->db));
}

static const char *row_state(struct fx *f, int64_t id, char out[16])
{
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db_handle(f->db), "SELECT state FROM outbox WHERE id = ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, id);
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, 16, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static void test_claim_takes_due_rows_oldest_first(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    int64_t later = outbox_row(f, "a@x.no", 2000);
    int64_t second = outbox_row(f, "b@x.no", 900);
    int64_t first = outbox_row(f, "c@x.no", 500);
    int64_t third = outbox_row(f, "d@x.no", 1000);
    struct mail_row *rows;
    size_t n;
    assert_int_equal(mail_claim(f->db, 1000, 2, &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, first);
    assert_int_equal(rows[1].id, second);
    assert_string_equal(rows[0].to, "c@x.no");
    assert_string_equal(rows[0].subject, "Påminnelse");
    assert_null(rows[0].ics);
    char s[16];
    assert_string_equal(row_state(f, first, s), "sending");
    assert_string_equal(row_state(f, second, s), "sending");
    assert_string_equal(row_state(f, third, s), "pending");
    mail_rows_free(rows, n);
    /* a claimed row is not claimed again; a row not due is not claimed yet */
    assert_int_equal(mail_claim(f->db, 1000, 10, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, third);
    mail_rows_free(rows, n);
    assert_int_equal(mail_claim(f->db, 1000, 10, &rows, &n), 0);
    assert_int_equal(n, 0);
    assert_null(rows);
    /* a crash: every row left sending goes back, due now */
    assert_int_equal(mail_recover(f->db), 3);
    assert_string_equal(row_state(f, first, s), "pending");
    assert_string_equal(row_state(f, later, s), "pending");
    assert_int_equal(fx_int(f, -1, "SELECT count(*) FROM outbox WHERE state = 'sending'"), 0);
    fx_free(f);
}

static void test_record_outcomes(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    int64_t sent = outbox_row(f, "a@x.no", 0), retry = outbox_row(f, "b@x.no", 0),
            refused = outbox_row(f, "c@x.no", 0), released = outbox_row(f, "d@x.no", 0);
    struct mail_row *rows;
    size_t n;
    assert_int_equal(mail_claim(f->db, 1000, 10, &rows, &n), 0);
    assert_int_equal(n, 4);
    mail_rows_free(rows, n);
    char s[16];

    assert_int_equal(mail_record(f->db, sent, MAIL_SENT, NULL, 1001, 30), 0);
    assert_string_equal(row_state(f, sent, s), "sent");
    assert_int_equal(fx_int(f, -1, "SELECT sent_at FROM outbox WHERE id = %lld", sent), 1001);
    assert_int_equal(fx_int(f, -1, "SELECT attempts FROM outbox WHERE id = %lld", sent), 1);
    /* an outcome for a row that is not sending any more changes nothing */
    assert_int_equal(mail_record(f->db, sent, MAIL_RETRY, "late", 1002, 30), 0);
    assert_string_equal(row_state(f, sent, s), "sent");

    assert_int_equal(mail_record(f->db, retry, MAIL_RETRY, "451 4.3.0 busy", 1000, 30), 0);
    assert_string_equal(row_state(f, retry, s), "pending");
    assert_int_equal(fx_int(f, -1, "SELECT next_attempt_at FROM outbox WHERE id = %lld", retry),
                     1030);
    assert_int_equal(fx_int(f, -1, "SELECT last_error = '451 4.3.0 busy' FROM outbox "
                                   "WHERE id = %lld", retry), 1);

    assert_int_equal(mail_record(f->db, refused, MAIL_FAILED, "550 no such user", 1000, 30), 0);
    assert_string_equal(row_state(f, refused, s), "failed");
    assert_int_equal(fx_int(f, -1, "SELECT attempts FROM outbox WHERE id = %lld", refused), 1);

    assert_int_equal(mail_record(f->db, released, MAIL_RELEASED, NULL, 1000, 30), 0);
    assert_string_equal(row_state(f, released, s), "pending");
    assert_int_equal(fx_int(f, -1, "SELECT attempts FROM outbox WHERE id = %lld", released), 0);
    fx_free(f);
}

static void test_gives_up_after_max_attempts(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    int64_t id = outbox_row(f, "a@x.no", 0);
    int64_t now = 1000;
    char s[16];
    for (int i = 1; i <= MAIL_MAX_ATTEMPTS; i++) {
        struct mail_row *rows;
        size_t n;
        assert_int_equal(mail_claim(f->db, now, 10, &rows, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].attempts, i - 1);
        mail_rows_free(rows, n);
        assert_int_equal(mail_record(f->db, id, MAIL_RETRY, "no server", now, 30), 0);
        if (i < MAIL_MAX_ATTEMPTS) {
            assert_string_equal(row_state(f, id, s), "pending");
            int64_t due = fx_int(f, -1, "SELECT next_attempt_at FROM outbox WHERE id = %lld", id);
            assert_int_equal(due - now, mail_backoff(30, i));
            /* not due a second before its time */
            assert_int_equal(mail_claim(f->db, due - 1, 10, &rows, &n), 0);
            assert_int_equal(n, 0);
            now = due;
        }
    }
    assert_string_equal(row_state(f, id, s), "failed");
    assert_int_equal(fx_int(f, -1, "SELECT attempts FROM outbox WHERE id = %lld", id),
                     MAIL_MAX_ATTEMPTS);
    assert_int_equal(fx_int(f, -1, "SELECT last_error = 'no server (gave up after 10 attempts)' "
                                   "FROM outbox WHERE id = %lld", id), 1);
    fx_free(f);
}

static void test_queue_writes_a_due_row(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct mail m = {.kind = "invitation", .to = "a@x.no", .subject = "Invitasjon",
                     .body = "Hei", .ics = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"};
    assert_int_equal(mail_queue(f->db, &m), 0);
    struct mail_row *rows;
    size_t n;
    assert_int_equal(mail_claim(f->db, util_now(), 10, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].kind, "invitation");
    assert_string_equal(rows[0].ics, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n");
    mail_rows_free(rows, n);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_part_headers),
        cmocka_unit_test(test_the_same_row_makes_the_same_bytes),
        cmocka_unit_test(test_ascii_subjects_stay_plain_and_fold),
        cmocka_unit_test(test_subjects_that_need_encoding),
        cmocka_unit_test(test_quoted_printable_body),
        cmocka_unit_test(test_invalid_utf8_is_replaced),
        cmocka_unit_test(test_invitation_with_calendar),
        cmocka_unit_test(test_a_cancellation_says_so),
        cmocka_unit_test(test_text_and_html_are_alternatives),
        cmocka_unit_test(test_text_and_an_attachment),
        cmocka_unit_test(test_html_and_an_attachment),
        cmocka_unit_test(test_everything_at_once),
        cmocka_unit_test(test_attachment_names_and_types_that_need_care),
        cmocka_unit_test(test_queue_keeps_html_and_attachment),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_claim_takes_due_rows_oldest_first),
        cmocka_unit_test(test_record_outcomes),
        cmocka_unit_test(test_gives_up_after_max_attempts),
        cmocka_unit_test(test_queue_writes_a_due_row),
        cmocka_unit_test(test_prune_empties_old_sent_mail_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
