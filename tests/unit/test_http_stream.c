/* Tests of core/http.c's streamed answers (http_respond_stream, http_conn_drained) and of the
 * per-route body limit (http_conn_set_body_limit): bytes in through http_conn_feed, every write
 * kept as it was handed to the transport, and the transport's "drained" said by the test, so that
 * each test decides when the client has read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "util.h"

#define MAX_WRITES 32

/* What a producer yields: pieces in order, then its last answer (0 done or -1 failed). */
struct producer {
    const char *pieces[8];
    int npieces;
    int at;
    int last_rc;
    int calls;
    int done_calls;
    int done_ok;
};

struct fake {
    char *writes[MAX_WRITES];
    size_t write_len[MAX_WRITES];
    int nwrites;
    int nrequests;
    struct http_conn *conn;
    struct producer *prod;           /* the next request that asks for /stream streams this */
};

static void fake_write(struct http_conn *c, char *data, size_t len, void *ctx)
{
    struct fake *f = ctx;
    assert_ptr_equal(c, f->conn);
    assert_true(f->nwrites < MAX_WRITES);
    char *s = xmalloc(len + 1);
    memcpy(s, data, len);
    s[len] = '\0';
    free(data);
    f->writes[f->nwrites] = s;
    f->write_len[f->nwrites++] = len;
}

static int produce(void *arg, struct buf *out)
{
    struct producer *p = arg;
    p->calls++;
    if (p->at < p->npieces) {
        buf_puts(out, p->pieces[p->at++]);
        return p->at < p->npieces || p->last_rc == 1 ? 1 : p->last_rc;
    }
    return p->last_rc;
}

static void stream_done(void *arg, int ok)
{
    struct producer *p = arg;
    p->done_calls++;
    p->done_ok = ok;
}

static void handler(struct http_request *req, void *ctx)
{
    struct fake *f = ctx;
    f->nrequests++;
    if (!strcmp(req->path, "/stream") && f->prod) {
        http_respond_stream(req, 200, "text/csv; charset=utf-8",
                            "Content-Disposition: attachment; filename=\"x.csv\"\r\n", produce,
                            stream_done, f->prod);
        return;
    }
    char *body = xasprintf("%s %s %zu", req->method, req->path, req->body_len);
    http_respond(req, 200, "text/plain", body, strlen(body), NULL);
    free(body);
}

static struct fake *fake_new(void)
{
    struct fake *f = xcalloc(1, sizeof *f);
    f->conn = http_conn_new(handler, fake_write, f, "192.0.2.7");
    return f;
}

static void fake_free(struct fake *f)
{
    http_conn_free(f->conn);
    for (int i = 0; i < f->nwrites; i++)
        free(f->writes[i]);
    free(f);
}

static int feed(struct fake *f, const char *s) { return http_conn_feed(f->conn, s, strlen(s)); }

/* The head is one write of its own with the chunked encoding and no length; no piece is made
 * before the transport says the head has left, and each piece waits for the previous one. */
static void test_chunked_pieces_follow_the_drain(void **state)
{
    (void)state;
    struct producer p = {.pieces = {"aaa", "bb", "cccccccccccccccccccc"}, .npieces = 3};
    struct fake *f = fake_new();
    f->prod = &p;
    assert_int_equal(feed(f, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    assert_int_equal(f->nwrites, 1);
    assert_int_equal(p.calls, 0);
    assert_true(http_conn_streaming(f->conn));
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_HANDLING);
    assert_non_null(strstr(f->writes[0], "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(f->writes[0], "Content-Type: text/csv; charset=utf-8\r\n"));
    assert_non_null(strstr(f->writes[0], "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(f->writes[0], "Content-Disposition: attachment; filename=\"x.csv\"\r\n"));
    assert_null(strstr(f->writes[0], "Content-Length"));
    assert_null(strstr(f->writes[0], "Connection: close"));
    assert_int_equal(strcmp(f->writes[0] + f->write_len[0] - 4, "\r\n\r\n"), 0);

    http_conn_drained(f->conn);
    assert_int_equal(p.calls, 1);
    assert_int_equal(f->nwrites, 2);
    assert_string_equal(f->writes[1], "3\r\naaa\r\n");
    http_conn_drained(f->conn);
    assert_string_equal(f->writes[2], "2\r\nbb\r\n");
    assert_int_equal(p.done_calls, 0);
    /* the last piece and the end of the body leave together */
    http_conn_drained(f->conn);
    assert_int_equal(f->nwrites, 4);
    assert_string_equal(f->writes[3], "14\r\ncccccccccccccccccccc\r\n0\r\n\r\n");
    assert_int_equal(p.done_calls, 1);
    assert_int_equal(p.done_ok, 1);
    assert_false(http_conn_streaming(f->conn));
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_IDLE);
    assert_false(http_conn_closing(f->conn));
    /* more drains change nothing */
    http_conn_drained(f->conn);
    assert_int_equal(f->nwrites, 4);
    assert_int_equal(p.calls, 3);
    fake_free(f);
}

/* A request pipelined behind a streamed answer is handled only once the stream has ended, and
 * its answer follows the stream's last bytes. */
static void test_pipelined_request_waits_for_the_stream(void **state)
{
    (void)state;
    struct producer p = {.pieces = {"one", "two"}, .npieces = 2};
    struct fake *f = fake_new();
    f->prod = &p;
    assert_int_equal(feed(f, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /after HTTP/1.1\r\nHost: x\r\n\r\n"),
                     0);
    assert_int_equal(f->nrequests, 1);
    http_conn_drained(f->conn);
    assert_int_equal(f->nrequests, 1);
    http_conn_drained(f->conn);
    assert_int_equal(f->nrequests, 2);
    assert_int_equal(f->nwrites, 4);
    assert_string_equal(f->writes[2], "3\r\ntwo\r\n0\r\n\r\n");
    assert_non_null(strstr(f->writes[3], "\r\n\r\nGET /after 0"));
    assert_int_equal(p.done_ok, 1);
    fake_free(f);
}

/* HTTP/1.0 has no chunks: the pieces go as they are, and the connection closes at the end. */
static void test_http10_ends_with_the_connection(void **state)
{
    (void)state;
    struct producer p = {.pieces = {"x;y\r\n", "1;2\r\n"}, .npieces = 2};
    struct fake *f = fake_new();
    f->prod = &p;
    assert_int_equal(feed(f, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    assert_non_null(strstr(f->writes[0], "Connection: close\r\n"));
    assert_null(strstr(f->writes[0], "Transfer-Encoding"));
    http_conn_drained(f->conn);
    http_conn_drained(f->conn);
    assert_int_equal(f->nwrites, 3);
    assert_string_equal(f->writes[1], "x;y\r\n");
    assert_string_equal(f->writes[2], "1;2\r\n");
    assert_int_equal(p.done_ok, 1);
    assert_true(http_conn_closing(f->conn));
    assert_int_equal(feed(f, "GET /more HTTP/1.0\r\n\r\n"), -1);
    assert_int_equal(f->nrequests, 1);
    fake_free(f);
}

/* A producer that fails after a piece: that piece is sent, the final chunk is not (the client
 * sees a cut body), done says so, and the connection closes. */
static void test_failed_producer_cuts_and_closes(void **state)
{
    (void)state;
    struct producer p = {.pieces = {"partial"}, .npieces = 1, .last_rc = -1};
    struct fake *f = fake_new();
    f->prod = &p;
    assert_int_equal(feed(f, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /after HTTP/1.1\r\nHost: x\r\n\r\n"),
                     0);
    http_conn_drained(f->conn);
    assert_string_equal(f->writes[1], "7\r\npartial\r\n");
    assert_int_equal(p.done_calls, 1);
    assert_int_equal(p.done_ok, 0);
    assert_int_equal(f->nwrites, 2);
    assert_true(http_conn_closing(f->conn));
    assert_int_equal(f->nrequests, 1);
    fake_free(f);
}

/* A producer that says "more" but adds nothing would stall the stream; it counts as failed. */
static void test_empty_producer_fails(void **state)
{
    (void)state;
    struct producer p = {.npieces = 0, .last_rc = 1};
    struct fake *f = fake_new();
    f->prod = &p;
    feed(f, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    http_conn_drained(f->conn);
    assert_int_equal(p.calls, 64);
    assert_int_equal(p.done_calls, 1);
    assert_int_equal(p.done_ok, 0);
    assert_int_equal(f->nwrites, 1);
    assert_true(http_conn_closing(f->conn));
    fake_free(f);
}

/* The peer goes away in the middle: done runs once with ok 0 and nothing leaks (make check). */
static void test_free_in_the_middle(void **state)
{
    (void)state;
    struct producer p = {.pieces = {"a", "b", "c"}, .npieces = 3};
    struct fake *f = fake_new();
    f->prod = &p;
    feed(f, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    http_conn_drained(f->conn);
    assert_int_equal(p.done_calls, 0);
    fake_free(f);
    assert_int_equal(p.done_calls, 1);
    assert_int_equal(p.done_ok, 0);
    assert_int_equal(p.calls, 1);
}

/* An empty body is a chunked body of no chunks. */
static void test_empty_stream(void **state)
{
    (void)state;
    struct producer p = {.npieces = 0, .last_rc = 0};
    struct fake *f = fake_new();
    f->prod = &p;
    feed(f, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    http_conn_drained(f->conn);
    assert_int_equal(f->nwrites, 2);
    assert_string_equal(f->writes[1], "0\r\n\r\n");
    assert_int_equal(p.done_ok, 1);
    fake_free(f);
}

/* --- body limits ------------------------------------------------------------------------------ */

#define BIG_LIMIT (3 * 1024 * 1024)

static size_t import_limit(const char *method, const char *target)
{
    return !strcmp(method, "POST") && !strncmp(target, "/import", 7) &&
                   (target[7] == '\0' || target[7] == '?')
               ? BIG_LIMIT
               : 0;
}

static char *post_of(const char *path, size_t n)
{
    struct buf b = {0};
    buf_printf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", path, n);
    buf_reserve(&b, n);
    memset(b.data + b.len, 'x', n);
    b.len += n;
    b.data[b.len] = '\0';
    return buf_steal(&b);
}

/* One large body at a time in the whole process: a second waits its turn with 503. */
static void test_one_large_body_at_a_time(void **state)
{
    (void)state;
    size_t two_mib = 2 * 1024 * 1024;
    char head[160];
    snprintf(head, sizeof head, "POST /import HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
             two_mib);
    struct fake *a = fake_new(), *b = fake_new();
    http_conn_set_body_limit(a->conn, import_limit);
    http_conn_set_body_limit(b->conn, import_limit);
    assert_int_equal(feed(a, head), 0);          /* a's body is on its way */
    assert_int_equal(feed(b, head), -1);
    assert_non_null(strstr(b->writes[0], "HTTP/1.1 503 "));
    assert_non_null(strstr(b->writes[0], "another large upload"));
    fake_free(b);
    /* a small body meanwhile is not held up */
    struct fake *small = fake_new();
    http_conn_set_body_limit(small->conn, import_limit);
    char *req = post_of("/elsewhere", 10);
    assert_int_equal(http_conn_feed(small->conn, req, strlen(req)), 0);
    free(req);
    assert_int_equal(small->nrequests, 1);
    fake_free(small);
    /* a's body arrives and is answered: the next large one is taken */
    char *body = xmalloc(two_mib);
    memset(body, 'x', two_mib);
    assert_int_equal(http_conn_feed(a->conn, body, two_mib), 0);
    free(body);
    assert_int_equal(a->nrequests, 1);
    b = fake_new();
    http_conn_set_body_limit(b->conn, import_limit);
    req = post_of("/import", two_mib);
    assert_int_equal(http_conn_feed(b->conn, req, strlen(req)), 0);
    free(req);
    assert_int_equal(b->nrequests, 1);
    fake_free(b);
    /* a connection that goes away with its body half-sent gives the turn back */
    a->nrequests = 0;
    fake_free(a);
    a = fake_new();
    http_conn_set_body_limit(a->conn, import_limit);
    assert_int_equal(feed(a, head), 0);
    fake_free(a);
    b = fake_new();
    http_conn_set_body_limit(b->conn, import_limit);
    assert_int_equal(feed(b, head), 0);
    fake_free(b);
}

static void test_route_body_limit(void **state)
{
    (void)state;
    size_t two_mib = 2 * 1024 * 1024;
    /* the import route takes 2 MiB */
    struct fake *f = fake_new();
    http_conn_set_body_limit(f->conn, import_limit);
    char *req = post_of("/import?dry_run=true", two_mib);
    assert_int_equal(http_conn_feed(f->conn, req, strlen(req)), 0);
    free(req);
    assert_int_equal(f->nrequests, 1);
    assert_non_null(strstr(f->writes[0], "POST /import 2097152"));
    fake_free(f);

    /* any other route keeps 1 MiB, and says so */
    f = fake_new();
    http_conn_set_body_limit(f->conn, import_limit);
    req = post_of("/importer", two_mib);
    assert_int_equal(http_conn_feed(f->conn, req, strlen(req)), -1);
    free(req);
    assert_int_equal(f->nrequests, 0);
    assert_non_null(strstr(f->writes[0], "HTTP/1.1 413 "));
    assert_non_null(strstr(f->writes[0], "request body exceeds 1048576 bytes"));
    fake_free(f);

    /* over the route's own limit: refused from the Content-Length, naming that limit */
    f = fake_new();
    http_conn_set_body_limit(f->conn, import_limit);
    char head[160];
    snprintf(head, sizeof head, "POST /import HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
             BIG_LIMIT + 1);
    assert_int_equal(feed(f, head), -1);
    assert_non_null(strstr(f->writes[0], "request body exceeds 3145728 bytes"));
    fake_free(f);

    /* a chunked body over the limit is cut off as it arrives */
    f = fake_new();
    http_conn_set_body_limit(f->conn, import_limit);
    struct buf b = {0};
    buf_puts(&b, "POST /elsewhere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 17; i++) {
        buf_printf(&b, "%x\r\n", 65536);
        buf_reserve(&b, 65536);
        memset(b.data + b.len, 'y', 65536);
        b.len += 65536;
        buf_puts(&b, "\r\n");
    }
    buf_puts(&b, "0\r\n\r\n");
    assert_int_equal(http_conn_feed(f->conn, b.data, b.len), -1);
    buf_free(&b);
    assert_int_equal(f->nrequests, 0);
    assert_non_null(strstr(f->writes[0], "HTTP/1.1 413 "));
    fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_pieces_follow_the_drain),
        cmocka_unit_test(test_pipelined_request_waits_for_the_stream),
        cmocka_unit_test(test_http10_ends_with_the_connection),
        cmocka_unit_test(test_failed_producer_cuts_and_closes),
        cmocka_unit_test(test_empty_producer_fails),
        cmocka_unit_test(test_free_in_the_middle),
        cmocka_unit_test(test_empty_stream),
        cmocka_unit_test(test_route_body_limit),
        cmocka_unit_test(test_one_large_body_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
