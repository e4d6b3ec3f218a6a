/* Tests of core/http.c: bytes in through http_conn_feed, answers out through a fake transport
 * that keeps each answer (the Date header, whose value is the clock's, is checked and removed),
 * so that every test can compare whole answers byte for byte. */
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

#define MAX_ANSWERS 16
#define MAX_PENDING 8

struct fake {
    char *answers[MAX_ANSWERS];
    size_t answer_len[MAX_ANSWERS];
    int nanswers;
    int async;                              /* keep requests instead of answering them */
    struct http_request *pending[MAX_PENDING];
    int npending;
    int nrequests;
    struct http_conn *conn;
};

/* Removes "Date: ...\r\n" after checking its shape ("Thu, 26 Nov 2026 21:55:01 GMT"). */
static void strip_date(char *s, size_t *len)
{
    char *d = strstr(s, "\r\nDate: ");
    if (!d)
        return;
    d += 2;
    char *end = strstr(d, "\r\n");
    assert_non_null(end);
    assert_int_equal(end - d, 6 + 29);
    assert_memory_equal(end - 4, " GMT", 4);
    end += 2;
    memmove(d, end, (size_t)(s + *len - end) + 1);
    *len -= (size_t)(end - d);
}

static void fake_write(struct http_conn *c, char *data, size_t len, void *ctx)
{
    struct fake *f = ctx;
    assert_ptr_equal(c, f->conn);
    assert_true(f->nanswers < MAX_ANSWERS);
    char *s = xmalloc(len + 1);
    memcpy(s, data, len);
    s[len] = '\0';
    free(data);
    strip_date(s, &len);
    f->answers[f->nanswers] = s;
    f->answer_len[f->nanswers++] = len;
}

/* Answers "METHOD PATH [body]" in text/plain. */
static void echo(struct http_request *req)
{
    char *body = req->body_len ? xasprintf("%s %s %s", req->method, req->path, req->body)
                               : xasprintf("%s %s", req->method, req->path);
    http_respond(req, 200, "text/plain", body, strlen(body), NULL);
    free(body);
}

static void handler(struct http_request *req, void *ctx)
{
    struct fake *f = ctx;
    f->nrequests++;
    if (f->async) {
        assert_true(f->npending < MAX_PENDING);
        f->pending[f->npending++] = req;
        return;
    }
    echo(req);
}

static struct fake *fake_new(void)
{
    struct fake *f = xcalloc(1, sizeof *f);
    f->conn = http_conn_new(handler, fake_write, f, "192.0.2.7");
    return f;
}

static void fake_free(struct fake *f)
{
    if (f->conn)
        http_conn_free(f->conn);
    for (int i = 0; i < f->nanswers; i++)
        free(f->answers[i]);
    free(f);
}

static int feed(struct fake *f, const char *s) { return http_conn_feed(f->conn, s, strlen(s)); }

/* Answers the oldest kept request with echo() and forgets it. */
static void answer_oldest(struct fake *f)
{
    assert_true(f->npending > 0);
    struct http_request *req = f->pending[0];
    memmove(f->pending, f->pending + 1, (size_t)--f->npending * sizeof f->pending[0]);
    echo(req);
}

static void assert_answer(struct fake *f, int i, const char *expected)
{
    assert_true(i < f->nanswers);
    assert_string_equal(f->answers[i], expected);
    assert_int_equal(f->answer_len[i], strlen(expected));
}

static char *ok_text(const char *body, const char *connection)
{
    return xasprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "%s\r\n%s", strlen(body), connection ? connection : "", body);
}

static void assert_ok(struct fake *f, int i, const char *body, const char *connection)
{
    char *want = ok_text(body, connection);
    assert_answer(f, i, want);
    free(want);
}

static void assert_error(struct fake *f, int i, int status, const char *json)
{
    char *want = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           status, http_status_text(status), strlen(json), json);
    assert_answer(f, i, want);
    free(want);
}

/* --- tests --------------------------------------------------------------------------------- */

static void simple_get(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_IDLE);
    assert_int_equal(feed(f, "GET /api/v1/systems HTTP/1.1\r\nHost: evne\r\n\r\n"), 0);
    assert_int_equal(f->nanswers, 1);
    assert_ok(f, 0, "GET /api/v1/systems", NULL);
    assert_false(http_conn_busy(f->conn));
    assert_false(http_conn_closing(f->conn));
    assert_int_equal(http_conn_seq(f->conn), 1);
    fake_free(f);
}

static void request_fields(struct http_request *req, void *ctx)
{
    struct fake *f = ctx;
    f->nrequests++;
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->target, "/api/v1/people/J%C3%B8rn%20H?x=%41&y=2");
    assert_string_equal(req->path, "/api/v1/people/J\xc3\xb8rn H");
    assert_string_equal(req->query, "x=%41&y=2");
    assert_string_equal(req->remote_addr, "192.0.2.7");
    assert_int_equal(req->nheaders, 3);
    assert_string_equal(req->headers[0].name, "host");
    assert_string_equal(req->headers[1].name, "x-mixed-case");
    assert_string_equal(req->headers[1].value, "Value Kept");
    assert_string_equal(http_header(req, "X-MIXED-CASE"), "Value Kept");
    assert_string_equal(http_header(req, "x-Mixed-case"), "Value Kept");
    assert_string_equal(http_header(req, "Content-Length"), "4");
    assert_null(http_header(req, "x-mixed"));
    assert_int_equal(req->body_len, 4);
    assert_string_equal(req->body, "{\"a\"");
    assert_true(req->started_us > 0);
    http_respond(req, 201, "application/json", "{}", 2, "Location: /x\r\n");
}

static void request_parts_and_headers(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct http_conn *c = http_conn_new(request_fields, fake_write, f, "192.0.2.7");
    http_conn_free(f->conn);
    f->conn = c;
    feed(f, "POST /api/v1/people/J%C3%B8rn%20H?x=%41&y=2 HTTP/1.1\r\nHost: evne\r\n"
            "X-Mixed-Case: Value Kept\r\nContent-Length: 4\r\n\r\n{\"a\"");
    assert_int_equal(f->nrequests, 1);
    assert_answer(f, 0, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\nLocation: /x\r\n\r\n{}");
    fake_free(f);
}

static void keep_alive_two_requests(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(feed(f, "GET /a HTTP/1.1\r\nHost: evne\r\n\r\n"), 0);
    assert_int_equal(feed(f, "POST /b HTTP/1.1\r\nHost: evne\r\nContent-Length: 3\r\n\r\nxyz"), 0);
    assert_int_equal(f->nanswers, 2);
    assert_ok(f, 0, "GET /a", NULL);
    assert_ok(f, 1, "POST /b xyz", NULL);
    assert_int_equal(http_conn_seq(f->conn), 2);
    assert_false(http_conn_closing(f->conn));
    fake_free(f);
}

static void pipelined_sync_in_order(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(feed(f, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
                             "POST /3 HTTP/1.1\r\nContent-Length: 1\r\n\r\nzGET /4 HT"), 0);
    assert_int_equal(f->nanswers, 3);
    assert_ok(f, 0, "GET /1", NULL);
    assert_ok(f, 1, "GET /2", NULL);
    assert_ok(f, 2, "POST /3 z", NULL);
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_RECEIVING);
    assert_int_equal(feed(f, "TP/1.1\r\n\r\n"), 0);
    assert_ok(f, 3, "GET /4", NULL);
    fake_free(f);
}

static void pipelined_async_in_order(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->async = 1;
    assert_int_equal(feed(f, "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n"
                             "\r\nhi"), 0);
    /* the second request waits until the first is answered */
    assert_int_equal(f->nrequests, 1);
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_HANDLING);
    assert_string_equal(f->pending[0]->path, "/1");
    assert_int_equal(feed(f, "GET /3 HTTP/1.1\r\n\r"), 0);
    assert_int_equal(f->nrequests, 1);
    assert_int_equal(f->nanswers, 0);

    answer_oldest(f);
    assert_int_equal(f->nanswers, 1);
    assert_ok(f, 0, "GET /1", NULL);
    assert_int_equal(f->nrequests, 2);
    assert_string_equal(f->pending[0]->path, "/2");
    assert_string_equal(f->pending[0]->body, "hi");

    answer_oldest(f);
    assert_ok(f, 1, "POST /2 hi", NULL);
    /* the third is still incomplete */
    assert_int_equal(f->nrequests, 2);
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_RECEIVING);
    assert_int_equal(feed(f, "\n"), 0);
    assert_int_equal(f->nrequests, 3);
    f->async = 0;
    answer_oldest(f);
    assert_ok(f, 2, "GET /3", NULL);
    assert_int_equal(f->nanswers, 3);
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_IDLE);
    fake_free(f);
}

/* A handler that answers later while the next request is already buffered, and the next one is
 * answered at once from inside the first's http_respond(). */
static void pipelined_async_then_sync(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->async = 1;
    feed(f, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    assert_int_equal(f->nrequests, 1);
    f->async = 0;
    answer_oldest(f);
    assert_int_equal(f->nrequests, 3);
    assert_int_equal(f->nanswers, 3);
    assert_ok(f, 0, "GET /1", NULL);
    assert_ok(f, 1, "GET /2", NULL);
    assert_ok(f, 2, "GET /3", NULL);
    fake_free(f);
}

static void chunked_body(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    feed(f, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
    assert_int_equal(f->nanswers, 1);
    assert_ok(f, 0, "POST /c hello world", NULL);
    fake_free(f);
}

static void byte_at_a_time(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    const char *in = "POST /one%20by%20one?k=v HTTP/1.1\r\nHost: evne\r\nContent-Length: 11\r\n\r\n"
                     "hello world"
                     "PUT /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (size_t i = 0; in[i]; i++) {
        assert_int_equal(http_conn_feed(f->conn, in + i, 1), 0);
        if (f->nanswers == 0)
            assert_int_equal(http_conn_state(f->conn), HTTP_CONN_RECEIVING);
    }
    assert_int_equal(f->nanswers, 2);
    assert_ok(f, 0, "POST /one by one hello world", NULL);
    assert_ok(f, 1, "PUT /chunks abcde", NULL);
    fake_free(f);
}

static void head_too_large(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    char *big = xmalloc(HTTP_MAX_HEADER_BYTES + 64);
    memset(big, 'a', HTTP_MAX_HEADER_BYTES + 63);
    big[HTTP_MAX_HEADER_BYTES + 63] = '\0';
    feed(f, "GET / HTTP/1.1\r\nX-Big: ");
    int rc = feed(f, big);
    assert_int_equal(rc, -1);
    assert_int_equal(f->nrequests, 0);
    assert_int_equal(f->nanswers, 1);
    assert_error(f, 0, 431, "{\"error\":{\"code\":\"headers_too_large\",\"message\":"
                            "\"request line and headers exceed 16384 bytes\"}}");
    assert_true(http_conn_closing(f->conn));
    /* nothing more is read */
    assert_int_equal(feed(f, "\r\n\r\nGET / HTTP/1.1\r\n\r\n"), -1);
    assert_int_equal(f->nanswers, 1);
    free(big);
    fake_free(f);
}

/* A head of exactly HTTP_MAX_HEADER_BYTES passes; one byte more does not. */
static void head_limit_is_exact(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 1; extra++) {
        struct fake *f = fake_new();
        const char *pre = "GET / HTTP/1.1\r\nX-Fill: ";
        size_t fill = HTTP_MAX_HEADER_BYTES - strlen(pre) - 4 + (size_t)extra;
        struct buf b = {0};
        buf_puts(&b, pre);
        for (size_t i = 0; i < fill; i++)
            buf_append(&b, "v", 1);
        buf_puts(&b, "\r\n\r\n");
        assert_int_equal(b.len, HTTP_MAX_HEADER_BYTES + (size_t)extra);
        feed(f, b.data);
        assert_int_equal(f->nanswers, 1);
        assert_int_equal(f->nrequests, extra ? 0 : 1);
        assert_memory_equal(f->answers[0], extra ? "HTTP/1.1 431 " : "HTTP/1.1 200 ", 13);
        buf_free(&b);
        fake_free(f);
    }
}

static void too_many_headers(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct buf b = {0};
    buf_puts(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        buf_printf(&b, "X-H%d: %d\r\n", i, i);
    buf_puts(&b, "\r\n");
    feed(f, b.data);
    assert_int_equal(f->nrequests, 1);      /* 64 are fine */
    b.len -= 2;
    buf_puts(&b, "X-One-More: 1\r\n\r\n");
    assert_int_equal(feed(f, b.data), -1);
    assert_int_equal(f->nanswers, 2);
    assert_error(f, 1, 431, "{\"error\":{\"code\":\"too_many_headers\",\"message\":"
                            "\"more than 64 header fields\"}}");
    buf_free(&b);
    fake_free(f);
}

static void content_length_too_large(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    /* answered at the end of the head, before any of the body arrives */
    assert_int_equal(feed(f, "POST /import HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n"), -1);
    assert_int_equal(f->nrequests, 0);
    assert_error(f, 0, 413, "{\"error\":{\"code\":\"body_too_large\",\"message\":"
                            "\"request body exceeds 1048576 bytes\"}}");
    fake_free(f);
}

static void chunked_body_too_large(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    feed(f, "POST /import HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    char *chunk = xmalloc(64 * 1024);
    memset(chunk, 'x', 64 * 1024);
    int rc = 0;
    for (int i = 0; i < 17 && rc == 0; i++) {
        feed(f, "10000\r\n");
        rc = http_conn_feed(f->conn, chunk, 64 * 1024);
        if (rc == 0)
            rc = feed(f, "\r\n");
    }
    assert_int_equal(rc, -1);
    assert_int_equal(f->nrequests, 0);
    assert_int_equal(f->nanswers, 1);
    assert_memory_equal(f->answers[0], "HTTP/1.1 413 ", 13);
    free(chunk);
    fake_free(f);
}

static void garbage_is_400(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(feed(f, "\x16\x03\x01\x02\x00 hello\r\n\r\n"), -1);
    assert_int_equal(f->nrequests, 0);
    assert_int_equal(f->nanswers, 1);
    assert_memory_equal(f->answers[0], "HTTP/1.1 400 Bad Request\r\n"
                                       "Content-Type: application/json\r\n", 58);
    assert_non_null(strstr(f->answers[0], "Connection: close\r\n\r\n"
                                          "{\"error\":{\"code\":\"bad_request\",\"message\":"
                                          "\"malformed http request: "));
    fake_free(f);
}

static void garbage_after_good_request(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->async = 1;
    assert_int_equal(feed(f, "GET /ok HTTP/1.1\r\n\r\nGET / HTTP/9.9 junk\r\n\r\n"), 0);
    assert_int_equal(f->nanswers, 0);
    answer_oldest(f);
    /* the good request is answered first, then the error, then the connection ends */
    assert_int_equal(f->nanswers, 2);
    assert_ok(f, 0, "GET /ok", NULL);
    assert_memory_equal(f->answers[1], "HTTP/1.1 400 ", 13);
    assert_true(http_conn_closing(f->conn));
    fake_free(f);
}

static void encoded_nul_in_path_is_400(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(feed(f, "GET /a%00b HTTP/1.1\r\n\r\n"), -1);
    assert_int_equal(f->nrequests, 0);
    assert_error(f, 0, 400, "{\"error\":{\"code\":\"bad_request\",\"message\":"
                            "\"the path contains a NUL byte\"}}");
    fake_free(f);
}

static void connection_close(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(feed(f, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\nGET /no HTTP/1.1\r\n\r\n"),
                     -1);
    assert_int_equal(f->nrequests, 1);
    assert_int_equal(f->nanswers, 1);
    assert_ok(f, 0, "GET /bye", "Connection: close\r\n");
    fake_free(f);
}

static void connection_close_async(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->async = 1;
    /* the connection may not be closed before the answer is out */
    assert_int_equal(feed(f, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
    assert_true(http_conn_closing(f->conn) == 0 || http_conn_busy(f->conn));
    answer_oldest(f);
    assert_ok(f, 0, "GET /bye", "Connection: close\r\n");
    assert_true(http_conn_closing(f->conn));
    assert_int_equal(feed(f, "GET / HTTP/1.1\r\n\r\n"), -1);
    fake_free(f);
}

static void http10(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(feed(f, "GET /old HTTP/1.0\r\n\r\n"), -1);
    assert_ok(f, 0, "GET /old", "Connection: close\r\n");
    fake_free(f);

    f = fake_new();
    assert_int_equal(feed(f, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    assert_ok(f, 0, "GET /old", "Connection: keep-alive\r\n");
    fake_free(f);
}

static void no_content(struct http_request *req, void *ctx)
{
    (void)ctx;
    http_respond(req, 204, "application/json", "ignored", 7, NULL);
}

static void status_204_has_no_body(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct http_conn *c = http_conn_new(no_content, fake_write, f, NULL);
    http_conn_free(f->conn);
    f->conn = c;
    feed(f, "DELETE /x HTTP/1.1\r\n\r\n");
    assert_answer(f, 0, "HTTP/1.1 204 No Content\r\n\r\n");
    fake_free(f);
}

static void expect_continue(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    feed(f, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    assert_int_equal(f->nanswers, 1);
    assert_answer(f, 0, "HTTP/1.1 100 Continue\r\n\r\n");
    feed(f, "ok");
    assert_ok(f, 1, "POST /e ok", NULL);
    fake_free(f);
}

/* The transport lets go of the connection (the peer went away) while the handler still holds a
 * request: the answer comes later and must neither write nor touch freed memory. */
static void free_while_handling(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->async = 1;
    feed(f, "GET /slow HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n");
    assert_int_equal(f->npending, 1);
    http_conn_free(f->conn);
    f->conn = NULL;
    answer_oldest(f);                     /* frees the connection; under ASan, visibly */
    assert_int_equal(f->nanswers, 0);
    assert_int_equal(f->nrequests, 1);
    fake_free(f);
}

static void drain(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->async = 1;
    feed(f, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    http_conn_drain(f->conn);
    answer_oldest(f);
    assert_ok(f, 0, "GET /1", "Connection: close\r\n");
    assert_int_equal(f->nrequests, 1);
    assert_true(http_conn_closing(f->conn));
    fake_free(f);

    f = fake_new();
    http_conn_drain(f->conn);
    assert_true(http_conn_closing(f->conn));
    assert_int_equal(feed(f, "GET / HTTP/1.1\r\n\r\n"), -1);
    assert_int_equal(f->nrequests, 0);
    fake_free(f);
}

static void query_params(void **state)
{
    (void)state;
    struct http_request req = {0};
    req.query = "by=department&name=J%C3%B8rn+Hansen&empty=&flag&x%20y=z&pct=100%25&bad=%zz%4&by=2";
    char *v;
    assert_string_equal(v = http_query_param(&req, "by"), "department");
    free(v);
    assert_string_equal(v = http_query_param(&req, "name"), "J\xc3\xb8rn Hansen");
    free(v);
    assert_string_equal(v = http_query_param(&req, "empty"), "");
    free(v);
    assert_string_equal(v = http_query_param(&req, "flag"), "");
    free(v);
    assert_string_equal(v = http_query_param(&req, "x y"), "z");
    free(v);
    assert_string_equal(v = http_query_param(&req, "pct"), "100%");
    free(v);
    assert_string_equal(v = http_query_param(&req, "bad"), "%zz%4");
    free(v);
    assert_null(http_query_param(&req, "missing"));
    assert_null(http_query_param(&req, "b"));
    assert_null(http_query_param(&req, "nam"));
    req.query = "";
    assert_null(http_query_param(&req, "by"));
}

static void query_param_from_request(struct http_request *req, void *ctx)
{
    struct fake *f = ctx;
    f->nrequests++;
    char *by = http_query_param(req, "by");
    http_respond(req, 200, "text/plain", by ? by : "-", by ? strlen(by) : 1, NULL);
    free(by);
}

static void query_of_parsed_request(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct http_conn *c = http_conn_new(query_param_from_request, fake_write, f, NULL);
    http_conn_free(f->conn);
    f->conn = c;
    feed(f, "GET /api/v1/gaps?by=depart%6dent HTTP/1.1\r\n\r\nGET /api/v1/gaps HTTP/1.1\r\n\r\n");
    assert_ok(f, 0, "department", NULL);
    assert_ok(f, 1, "-", NULL);
    fake_free(f);
}

static void status_texts(void **state)
{
    (void)state;
    static const int codes[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429,
                                431, 500, 503};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_string_not_equal(http_status_text(codes[i]), "Unknown");
    assert_string_equal(http_status_text(404), "Not Found");
    assert_string_equal(http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(http_status_text(299), "Unknown");
}

/* A peer that keeps sending while its request is handled is answered, then cut off. */
static void pending_input_is_bounded(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->async = 1;
    feed(f, "GET /1 HTTP/1.1\r\n\r\n");
    char *junk = xmalloc(64 * 1024);
    memset(junk, 'G', 64 * 1024);
    size_t sent = 0;
    while (sent <= HTTP_MAX_PENDING_BYTES) {
        assert_int_equal(http_conn_feed(f->conn, junk, 64 * 1024), 0);
        sent += 64 * 1024;
    }
    assert_true(http_conn_closing(f->conn));
    assert_int_equal(http_conn_state(f->conn), HTTP_CONN_HANDLING);
    answer_oldest(f);
    assert_ok(f, 0, "GET /1", "Connection: close\r\n");
    assert_int_equal(f->nrequests, 1);
    assert_int_equal(feed(f, "GET / HTTP/1.1\r\n\r\n"), -1);
    free(junk);
    fake_free(f);
}

/* Upgrades are not spoken: the request is answered like any other, then the connection ends. */
static void upgrade_is_answered_then_closed(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    assert_int_equal(feed(f, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                             "\r\n\x81\x05hello"), -1);
    assert_int_equal(f->nrequests, 1);
    assert_ok(f, 0, "GET /ws", "Connection: close\r\n");
    fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_get),
        cmocka_unit_test(request_parts_and_headers),
        cmocka_unit_test(keep_alive_two_requests),
        cmocka_unit_test(pipelined_sync_in_order),
        cmocka_unit_test(pipelined_async_in_order),
        cmocka_unit_test(pipelined_async_then_sync),
        cmocka_unit_test(chunked_body),
        cmocka_unit_test(byte_at_a_time),
        cmocka_unit_test(head_too_large),
        cmocka_unit_test(head_limit_is_exact),
        cmocka_unit_test(too_many_headers),
        cmocka_unit_test(content_length_too_large),
        cmocka_unit_test(chunked_body_too_large),
        cmocka_unit_test(garbage_is_400),
        cmocka_unit_test(garbage_after_good_request),
        cmocka_unit_test(encoded_nul_in_path_is_400),
        cmocka_unit_test(connection_close),
        cmocka_unit_test(connection_close_async),
        cmocka_unit_test(http10),
        cmocka_unit_test(status_204_has_no_body),
        cmocka_unit_test(expect_continue),
        cmocka_unit_test(free_while_handling),
        cmocka_unit_test(drain),
        cmocka_unit_test(pending_input_is_bounded),
        cmocka_unit_test(upgrade_is_answered_then_closed),
        cmocka_unit_test(query_params),
        cmocka_unit_test(query_of_parsed_request),
        cmocka_unit_test(status_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
