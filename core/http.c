/* http: llhttp drives the parse; this file assembles requests and formats answers.
 *
 * Storage. A connection owns three growable buffers that are reused from one request to the
 * next, so a steady keep-alive connection allocates nothing per request but its answers:
 *   in    bytes received while a request was with the handler (pipelined), not yet parsed;
 *   head  the target, header names and values and the decoded path, NUL-separated (offsets are
 *         kept while parsing, since the buffer may move; pointers are set when the request is
 *         complete);
 *   body  the body.
 * The request handed to the handler is embedded in the connection: there is only ever one.
 *
 * Flow. llhttp is paused in on_headers_complete (to measure the head exactly and check
 * Content-Length before any body byte is stored) and in on_message_complete (to hand the request
 * out and parse nothing more until it is answered). `depth` counts the calls of this file on the
 * stack so that http_respond() from inside the handler only records the answer and the parse
 * loop below it goes on, and so that http_conn_free() from inside a callback is deferred.
 */
#include "http.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include "util.h"

enum fail_kind {
    FAIL_NONE,
    FAIL_HEAD_TOO_LARGE,
    FAIL_TOO_MANY_HEADERS,
    FAIL_BODY_TOO_LARGE,
    FAIL_BAD_PATH,
    FAIL_LARGE_BUSY,
};

/* Connections receiving or holding a body over HTTP_MAX_BODY_BYTES (a route's own limit), in the
 * whole process. The limit is granted before anyone is authenticated (the body comes before
 * the handler), so one such body at a time bounds what a stranger can make the server hold. */
#define HTTP_MAX_LARGE_BODIES 1
static int large_bodies;

struct http_conn {
    llhttp_t parser;
    http_handler_fn on_request;
    http_write_fn write;
    void *ctx;
    char *remote_addr;

    struct buf in;
    size_t in_off;              /* in.data[in_off .. in.len) is still to parse */
    struct buf head;
    struct buf body;

    size_t url_off;
    size_t name_off[HTTP_MAX_HEADERS];
    size_t value_off[HTTP_MAX_HEADERS];
    int nheaders;               /* complete name/value pairs */
    int field_open, value_open; /* a name or value span is being received */
    int have_url;
    size_t head_bytes;          /* raw bytes of request line and headers so far */

    enum http_conn_state state;
    uint64_t seq;
    int in_head;                /* between message begin and headers complete */
    int paused_at_headers;
    int paused_at_message;
    int keep_alive;             /* of the request being received or handled */
    int closing;
    int last_request;           /* close after the request being handled is answered */
    int draining;               /* http_conn_drain() was called */
    int dead;                   /* http_conn_free() was called */
    int depth;
    enum fail_kind fail;
    http_body_limit_fn body_limit_fn;
    size_t body_limit;          /* of the request being received */
    int large;                  /* counted in large_bodies */

    /* a streamed answer (http_respond_stream) in progress */
    int streaming;
    int stream_chunked;         /* 0: HTTP/1.0, the body ends when the connection does */
    int stream_status;
    http_produce_fn produce;
    http_stream_done_fn stream_done;
    void *stream_arg;

    struct http_request req;
    char empty[1];              /* the body of a request without one */
};

/* --- small helpers ------------------------------------------------------------------------- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes one byte of s[0..n) at *i, advancing *i; '%' not followed by two hex digits stays. */
static int decode_at(const char *s, size_t n, size_t *i, int plus_is_space)
{
    unsigned char ch = (unsigned char)s[*i];
    if (ch == '%' && n - *i >= 3) {
        int hi = hexval((unsigned char)s[*i + 1]), lo = hexval((unsigned char)s[*i + 2]);
        if (hi >= 0 && lo >= 0) {
            *i += 3;
            return hi * 16 + lo;
        }
    }
    (*i)++;
    if (ch == '+' && plus_is_space)
        return ' ';
    return ch;
}

static void append_lower(struct buf *b, const char *p, size_t n)
{
    buf_reserve(b, n);
    char *d = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        d[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

static void append_nul(struct buf *b)
{
    buf_reserve(b, 1);
    b->data[b->len++] = '\0';
    b->data[b->len] = '\0';
}

/* --- llhttp callbacks ---------------------------------------------------------------------- */

static int head_fail(struct http_conn *c, enum fail_kind kind)
{
    c->fail = kind;
    return HPE_USER;
}

/* Stored head bytes never exceed the raw ones, so this only bounds memory early; the exact
 * check is on the raw count in parse(). */
static int head_guard(struct http_conn *c, size_t n)
{
    if (c->head.len + n > HTTP_MAX_HEADER_BYTES)
        return head_fail(c, FAIL_HEAD_TOO_LARGE);
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->state = HTTP_CONN_RECEIVING;
    c->seq++;
    c->in_head = 1;
    c->head_bytes = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (head_guard(c, n))
        return HPE_USER;
    buf_append(&c->head, at, n);
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    append_nul(&c->head);
    c->have_url = 1;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (!c->field_open) {
        if (c->nheaders >= HTTP_MAX_HEADERS)
            return head_fail(c, FAIL_TOO_MANY_HEADERS);
        c->field_open = 1;
        c->name_off[c->nheaders] = c->head.len;
    }
    if (head_guard(c, n))
        return HPE_USER;
    append_lower(&c->head, at, n);
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    if (!c->field_open) {       /* an empty name: llhttp rejects it, but be safe */
        if (c->nheaders >= HTTP_MAX_HEADERS)
            return head_fail(c, FAIL_TOO_MANY_HEADERS);
        c->name_off[c->nheaders] = c->head.len;
    }
    append_nul(&c->head);
    c->field_open = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (!c->value_open) {
        c->value_open = 1;
        c->value_off[c->nheaders] = c->head.len;
    }
    if (head_guard(c, n))
        return HPE_USER;
    buf_append(&c->head, at, n);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    if (!c->value_open)
        c->value_off[c->nheaders] = c->head.len;
    append_nul(&c->head);
    c->value_open = 0;
    c->nheaders++;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->in_head = 0;
    c->keep_alive = llhttp_should_keep_alive(p);
    c->paused_at_headers = 1;
    return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->body.len + n > c->body_limit) {
        c->fail = FAIL_BODY_TOO_LARGE;
        return HPE_USER;
    }
    buf_append(&c->body, at, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    c->paused_at_message = 1;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* --- answers ------------------------------------------------------------------------------- */

/* The Date header's value, formatted once a second. */
static const char *date_now(void)
{
    static char text[40];
    static int64_t at = -1;
    int64_t now = util_now();
    if (now != at) {
        time_t t = (time_t)now;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        at = now;
    }
    return text;
}

/* One line per request on stderr; the path's control bytes are escaped (a path must not be able
 * to forge log lines) and a long path is cut. */
static void log_line(const char *method, const char *path, int status, int64_t us)
{
    char out[256];
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)path;
    for (; *s && o < 200; s++) {
        if (*s < 0x20 || *s == 0x7f || *s == '\\')
            o += (size_t)snprintf(out + o, 5, "\\x%02x", *s);
        else
            out[o++] = (char)*s;
    }
    if (*s) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    /* One write(2) per line: stderr is unbuffered, and fprintf to it would go piece by piece. */
    char line[320];
    int n = snprintf(line, sizeof line, "%s %s %d %lldus\n", method, out, status, (long long)us);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere to say so */
    }
}

/* Formats one whole answer into one allocation and hands it to the transport. */
static void send_answer(struct http_conn *c, int status, const char *content_type,
                        const char *body, size_t body_len, const char *extra_headers, int close,
                        int http10_keep_alive)
{
    char head[512];
    int bodyless = status == 204 || status == 304 || (status >= 100 && status < 200);
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
    if (!bodyless) {
        if (content_type)
            n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", content_type);
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
    }
    n += snprintf(head + n, sizeof head - (size_t)n, "Date: %s\r\n%s", date_now(),
                  close ? "Connection: close\r\n"
                        : http10_keep_alive ? "Connection: keep-alive\r\n" : "");
    if ((size_t)n >= sizeof head)
        UTIL_ABORT("answer head too long (content type of %zu bytes)",
                   content_type ? strlen(content_type) : 0);
    size_t extra_len = extra_headers ? strlen(extra_headers) : 0;
    if (bodyless)
        body_len = 0;
    size_t len = (size_t)n + extra_len + 2 + body_len;
    char *out = xmalloc(len);
    char *w = out;
    memcpy(w, head, (size_t)n);
    w += n;
    if (extra_len)
        memcpy(w, extra_headers, extra_len);
    w += extra_len;
    memcpy(w, "\r\n", 2);
    w += 2;
    if (body_len)
        memcpy(w, body, body_len);
    c->write(c, out, len, c->ctx);
}

static const char *fail_code(enum fail_kind kind, int *status, const char **message)
{
    switch (kind) {
    case FAIL_HEAD_TOO_LARGE:
        *status = 431;
        *message = "request line and headers exceed 16384 bytes";
        return "headers_too_large";
    case FAIL_TOO_MANY_HEADERS:
        *status = 431;
        *message = "more than 64 header fields";
        return "too_many_headers";
    case FAIL_BODY_TOO_LARGE:
        *status = 413;
        *message = "request body exceeds the limit";   /* fail_request names the limit */
        return "body_too_large";
    case FAIL_BAD_PATH:
        *status = 400;
        *message = "the path contains a NUL byte";
        return "bad_request";
    case FAIL_LARGE_BUSY:
        *status = 503;
        *message = "another large upload is being received; try again in a moment";
        return "busy";
    case FAIL_NONE:
        break;
    }
    *status = 400;
    *message = "malformed http request";
    return "bad_request";
}

/* Answers a request that never reached the handler, and closes. Every earlier request is
 * answered already: nothing is parsed while one is with the handler. */
static void fail_request(struct http_conn *c, enum fail_kind kind, const char *reason)
{
    int status;
    const char *message;
    const char *code = fail_code(kind, &status, &message);
    char body[320];
    if (kind == FAIL_NONE && reason && *reason) {
        /* llhttp's reasons are short ASCII sentences; keep letters, digits and plain punctuation
         * so the JSON needs no escaping, and lower-case the first letter */
        char r[160];
        size_t o = 0;
        for (const char *s = reason; *s && o < sizeof r - 1; s++) {
            char ch = *s;
            if (ch == '"' || ch == '\\' || (unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e)
                ch = '\'';
            r[o++] = ch;
        }
        r[o] = '\0';
        if (r[0] >= 'A' && r[0] <= 'Z')
            r[0] = (char)(r[0] + 32);
        snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s: %s\"}}", code,
                 message, r);
    } else if (kind == FAIL_BODY_TOO_LARGE) {
        snprintf(body, sizeof body,
                 "{\"error\":{\"code\":\"%s\",\"message\":\"request body exceeds %zu bytes\"}}",
                 code, c->body_limit);
    } else {
        snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                 message);
    }
    c->closing = 1;
    c->state = HTTP_CONN_IDLE;
    if (!c->dead)
        send_answer(c, status, "application/json", body, strlen(body), NULL, 1, 0);
    log_line(c->have_url ? llhttp_method_name(c->parser.method) : "-", "-", status, 0);
}

/* --- requests ------------------------------------------------------------------------------ */

static void release_large(struct http_conn *c)
{
    if (c->large) {
        c->large = 0;
        large_bodies--;
    }
}

static void reset_request(struct http_conn *c)
{
    release_large(c);
    c->head.len = 0;
    c->body.len = 0;
    /* a one-off large body should not stay allocated for the connection's life */
    if (c->body.cap > 64 * 1024)
        buf_free(&c->body);
    c->nheaders = 0;
    c->field_open = c->value_open = c->have_url = 0;
    c->in_head = 0;
    c->paused_at_headers = c->paused_at_message = 0;
    c->fail = FAIL_NONE;
    c->req = (struct http_request){0};
}

/* Fills c->req from the stored head and body. Fails only on a path with an encoded NUL. */
static int build_request(struct http_conn *c)
{
    const char *target = c->head.data + c->url_off;
    size_t tlen = strlen(target);
    const char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;
    size_t query_off = q ? plen + 1 : tlen;
    size_t pstart = 0;
    /* absolute-form (proxies): skip scheme and authority */
    if (plen && target[0] != '/') {
        const char *sep = strstr(target, "://");
        if (sep && sep < target + plen) {
            const char *slash = memchr(sep + 3, '/', (size_t)(target + plen - (sep + 3)));
            pstart = slash ? (size_t)(slash - target) : plen;
        }
    }
    size_t url_off = c->url_off;
    size_t path_off = c->head.len;
    buf_reserve(&c->head, plen - pstart + 2);
    /* target may have moved with the reserve */
    target = c->head.data + url_off;
    char *d = c->head.data + c->head.len;
    size_t i = pstart, o = 0;
    while (i < plen) {
        int ch = decode_at(target, plen, &i, 0);
        if (ch == 0)
            return -1;
        d[o++] = (char)ch;
    }
    if (pstart == plen)     /* "http://host" alone means "/" */
        d[o++] = '/';
    d[o] = '\0';
    c->head.len += o + 1;
    c->head.data[c->head.len] = '\0';

    struct http_request *r = &c->req;
    r->conn = c;
    r->method = llhttp_method_name(c->parser.method);
    r->target = c->head.data + url_off;
    r->path = c->head.data + path_off;
    r->query = r->target + query_off;
    for (int h = 0; h < c->nheaders; h++) {
        r->headers[h].name = c->head.data + c->name_off[h];
        r->headers[h].value = c->head.data + c->value_off[h];
    }
    r->nheaders = c->nheaders;
    r->body = c->body.len ? c->body.data : c->empty;
    r->body_len = c->body.len;
    r->remote_addr = c->remote_addr;
    r->started_us = util_monotonic_us();
    r->user = NULL;
    return 0;
}

static void maybe_continue(struct http_conn *c)
{
    if (c->parser.http_major != 1 || c->parser.http_minor < 1)
        return;
    for (int h = 0; h < c->nheaders; h++) {
        if (!strcmp(c->head.data + c->name_off[h], "expect") &&
            !strcasecmp(c->head.data + c->value_off[h], "100-continue")) {
            static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
            char *out = xmalloc(sizeof line - 1);
            memcpy(out, line, sizeof line - 1);
            c->write(c, out, sizeof line - 1, c->ctx);
            return;
        }
    }
}

/* Parses data[0..len) until it is used up, a request is with the handler, or the connection
 * closes. Returns the number of bytes used. */
static size_t parse(struct http_conn *c, const char *data, size_t len)
{
    size_t off = 0;
    /* after the pause in on_headers_complete, llhttp must run once more even with no bytes
     * left: a request without a body completes without consuming any */
    int again = 0;
    while ((off < len || again) && !c->closing && !c->dead && c->state != HTTP_CONN_HANDLING) {
        again = 0;
        int was_in_head = c->in_head;
        const char *start = data + off;
        enum llhttp_errno e = llhttp_execute(&c->parser, start, len - off);
        size_t used = e == HPE_OK ? len - off : (size_t)(llhttp_get_error_pos(&c->parser) - start);
        off += used;
        if (was_in_head || c->in_head || c->paused_at_headers) {
            c->head_bytes += used;
            if (c->head_bytes > HTTP_MAX_HEADER_BYTES) {
                fail_request(c, FAIL_HEAD_TOO_LARGE, NULL);
                break;
            }
        }
        if (e == HPE_OK)
            continue;
        if (e != HPE_PAUSED) {
            fail_request(c, c->fail, c->fail == FAIL_NONE ? llhttp_get_error_reason(&c->parser)
                                                          : NULL);
            break;
        }
        if (c->paused_at_headers) {
            c->paused_at_headers = 0;
            size_t limit = c->body_limit_fn && c->have_url
                               ? c->body_limit_fn(llhttp_method_name(c->parser.method),
                                                  c->head.data + c->url_off)
                               : 0;
            c->body_limit = limit ? limit : HTTP_MAX_BODY_BYTES;
            if (c->body_limit > HTTP_MAX_BODY_BYTES &&
                (c->parser.content_length > HTTP_MAX_BODY_BYTES ||
                 (c->parser.flags & F_CHUNKED))) {
                if (large_bodies >= HTTP_MAX_LARGE_BODIES) {
                    fail_request(c, FAIL_LARGE_BUSY, NULL);
                    break;
                }
                c->large = 1;
                large_bodies++;
            }
            if (c->parser.content_length > c->body_limit &&
                (c->parser.flags & F_CONTENT_LENGTH)) {
                fail_request(c, FAIL_BODY_TOO_LARGE, NULL);
                break;
            }
            if (c->parser.content_length || (c->parser.flags & F_CHUNKED)) {
                buf_reserve(&c->body, (size_t)c->parser.content_length);
                maybe_continue(c);
            }
            llhttp_resume(&c->parser);
            again = 1;
            continue;
        }
        /* paused at message complete: hand the request out */
        c->paused_at_message = 0;
        if (build_request(c) < 0) {
            fail_request(c, FAIL_BAD_PATH, NULL);
            break;
        }
        c->last_request = !c->keep_alive || c->parser.upgrade || c->draining;
        c->state = HTTP_CONN_HANDLING;
        c->on_request(&c->req, c->ctx);
        /* answered at once: http_respond() resumed the parser; go on with the next request */
    }
    return off;
}

static void conn_destroy(struct http_conn *c)
{
    release_large(c);
    buf_free(&c->in);
    buf_free(&c->head);
    buf_free(&c->body);
    free(c->remote_addr);
    free(c);
}

/* Leaves a call of this file; frees the connection if it died meanwhile and nothing holds it. */
static void leave(struct http_conn *c)
{
    if (--c->depth == 0 && c->dead && c->state != HTTP_CONN_HANDLING)
        conn_destroy(c);
}

/* Parses what waits in c->in, then compacts it. */
static void parse_pending(struct http_conn *c)
{
    if (c->in_off < c->in.len)
        c->in_off += parse(c, c->in.data + c->in_off, c->in.len - c->in_off);
    if (c->in_off == c->in.len || c->closing) {
        c->in.len = c->in_off = 0;
        if (c->in.cap > 64 * 1024)
            buf_free(&c->in);
    } else if (c->in_off) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
}

/* --- public -------------------------------------------------------------------------------- */

struct http_conn *http_conn_new(http_handler_fn on_request, http_write_fn write, void *ctx,
                                const char *remote_addr)
{
    struct http_conn *c = xcalloc(1, sizeof *c);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    c->on_request = on_request;
    c->write = write;
    c->ctx = ctx;
    c->remote_addr = xstrdup(remote_addr ? remote_addr : "");
    c->state = HTTP_CONN_IDLE;
    c->body_limit = HTTP_MAX_BODY_BYTES;
    return c;
}

void http_conn_set_body_limit(struct http_conn *c, http_body_limit_fn fn) { c->body_limit_fn = fn; }

static void stream_end(struct http_conn *c, int ok);

void http_conn_free(struct http_conn *c)
{
    if (!c)
        return;
    c->dead = 1;
    if (c->streaming && c->depth == 0) {
        /* the peer went away in the middle of a streamed answer: abandon it */
        c->depth++;
        stream_end(c, 0);
        c->depth--;
    }
    if (c->depth > 0 || c->state == HTTP_CONN_HANDLING)
        return;
    conn_destroy(c);
}

int http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
    UTIL_ASSERT(!c->dead);
    if (c->closing)
        return c->state == HTTP_CONN_HANDLING ? 0 : -1;
    c->depth++;
    if (c->state == HTTP_CONN_HANDLING || c->in_off < c->in.len) {
        if (c->in.len - c->in_off + len > HTTP_MAX_PENDING_BYTES) {
            /* a peer that keeps sending while its request is handled: answer it, then close */
            c->closing = 1;
            c->in.len = c->in_off = 0;
        } else {
            buf_append(&c->in, data, len);
            if (c->state != HTTP_CONN_HANDLING)
                parse_pending(c);
        }
    } else {
        size_t used = parse(c, data, len);
        if (used < len && !c->closing && !c->dead)
            buf_append(&c->in, data + used, len - used);
    }
    int rc = c->closing && c->state != HTTP_CONN_HANDLING ? -1 : 0;
    leave(c);
    return rc;
}

/* The request is answered: the next one may be parsed. */
static void request_done(struct http_conn *c)
{
    reset_request(c);
    c->state = HTTP_CONN_IDLE;
    if (!c->closing && !c->dead) {
        llhttp_resume(&c->parser);
        /* when the handler answered from inside parse(), parse() goes on by itself */
        if (c->depth == 1)
            parse_pending(c);
    }
}

void http_respond(struct http_request *req, int status, const char *content_type,
                  const char *body, size_t body_len, const char *extra_headers)
{
    struct http_conn *c = req->conn;
    UTIL_ASSERT(c && req == &c->req && c->state == HTTP_CONN_HANDLING && !c->streaming);
    c->depth++;
    if (c->last_request)
        c->closing = 1;
    log_line(req->method, req->path, status, util_monotonic_us() - req->started_us);
    if (!c->dead)
        send_answer(c, status, content_type, body, body_len, extra_headers, c->closing,
                    c->keep_alive && c->parser.http_major == 1 && c->parser.http_minor == 0);
    request_done(c);
    leave(c);
}

/* --- streamed answers ---------------------------------------------------------------------- */

/* Ends a streamed answer: complete (ok) or abandoned, in which case the connection closes so
 * that the client cannot take a cut body for a whole one. */
static void stream_end(struct http_conn *c, int ok)
{
    c->streaming = 0;
    if (!ok)
        c->closing = 1;
    log_line(c->req.method, c->req.path, c->stream_status,
             util_monotonic_us() - c->req.started_us);
    http_stream_done_fn done = c->stream_done;
    void *arg = c->stream_arg;
    c->produce = NULL;
    c->stream_done = NULL;
    c->stream_arg = NULL;
    done(arg, ok);
    request_done(c);
}

void http_respond_stream(struct http_request *req, int status, const char *content_type,
                         const char *extra_headers, http_produce_fn produce,
                         http_stream_done_fn done, void *arg)
{
    struct http_conn *c = req->conn;
    UTIL_ASSERT(c && req == &c->req && c->state == HTTP_CONN_HANDLING && !c->streaming);
    UTIL_ASSERT(produce && done && status >= 200 && status != 204 && status != 304);
    c->depth++;
    int http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    /* without chunks, only the end of the connection can end the body */
    if (c->last_request || http10)
        c->closing = 1;
    c->streaming = 1;
    c->stream_chunked = !http10;
    c->stream_status = status;
    c->produce = produce;
    c->stream_done = done;
    c->stream_arg = arg;
    if (c->dead) {
        stream_end(c, 0);
        leave(c);
        return;
    }
    struct buf h = {0};
    buf_printf(&h, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
    if (content_type)
        buf_printf(&h, "Content-Type: %s\r\n", content_type);
    buf_printf(&h, "%sDate: %s\r\n%s%s\r\n",
               c->stream_chunked ? "Transfer-Encoding: chunked\r\n" : "", date_now(),
               c->closing ? "Connection: close\r\n" : "", extra_headers ? extra_headers : "");
    size_t len = h.len;
    c->write(c, buf_steal(&h), len, c->ctx);
    leave(c);
}

void http_conn_drained(struct http_conn *c)
{
    if (!c->streaming || c->dead)
        return;
    c->depth++;
    struct buf piece = {0};
    int rc;
    /* a producer that answers "more" without adding anything would never be called again (no
     * write, no drain): a few retries, then it counts as failed */
    int tries = 0;
    do
        rc = c->produce(c->stream_arg, &piece);
    while (rc == 1 && piece.len == 0 && ++tries < 64);
    if (rc == 1 && piece.len == 0)
        rc = -1;
    if (piece.len || (rc == 0 && c->stream_chunked)) {
        struct buf out = {0};
        buf_reserve(&out, piece.len + 32);
        if (c->stream_chunked && piece.len)
            buf_printf(&out, "%zx\r\n", piece.len);
        if (piece.len)
            buf_append(&out, piece.data, piece.len);
        if (c->stream_chunked && piece.len)
            buf_puts(&out, "\r\n");
        if (c->stream_chunked && rc == 0)
            buf_puts(&out, "0\r\n\r\n");
        size_t len = out.len;
        if (!c->dead)
            c->write(c, buf_steal(&out), len, c->ctx);
        buf_free(&out);
    }
    buf_free(&piece);
    if (rc != 1)
        stream_end(c, rc == 0);
    else if (c->dead)
        stream_end(c, 0);
    leave(c);
}

int http_conn_streaming(const struct http_conn *c) { return c->streaming; }

enum http_conn_state http_conn_state(const struct http_conn *c) { return c->state; }

uint64_t http_conn_seq(const struct http_conn *c) { return c->seq; }

int http_conn_busy(const struct http_conn *c) { return c->state != HTTP_CONN_IDLE; }

int http_conn_closing(const struct http_conn *c) { return c->closing; }

void http_conn_drain(struct http_conn *c)
{
    c->draining = 1;
    if (c->state == HTTP_CONN_HANDLING)
        c->last_request = 1;
    else if (c->state == HTTP_CONN_IDLE)
        c->closing = 1;
}

void *http_conn_ctx(const struct http_conn *c) { return c->ctx; }

const char *http_header(const struct http_request *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

/* True when s[0..n), percent-decoded with '+' as space, equals name. */
static int decoded_equals(const char *s, size_t n, const char *name)
{
    size_t i = 0;
    while (i < n) {
        int ch = decode_at(s, n, &i, 1);
        if (*name == '\0' || (unsigned char)*name != ch)
            return 0;
        name++;
    }
    return *name == '\0';
}

char *http_query_param(const struct http_request *req, const char *name)
{
    const char *s = req->query;
    while (s && *s) {
        const char *amp = strchr(s, '&');
        size_t n = amp ? (size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', n);
        size_t klen = eq ? (size_t)(eq - s) : n;
        if (decoded_equals(s, klen, name)) {
            const char *v = eq ? eq + 1 : s + n;
            size_t vlen = (size_t)(s + n - v);
            char *out = xmalloc(vlen + 1);
            size_t i = 0, o = 0;
            while (i < vlen)
                out[o++] = (char)decode_at(v, vlen, &i, 1);
            out[o] = '\0';
            return out;
        }
        s = amp ? amp + 1 : NULL;
    }
    return NULL;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* The address a failed login is counted against. Behind a reverse proxy on the same machine
 * (the TLS set-up docs/operations.md describes) every request comes from loopback, so the
 * proxy's X-Forwarded-For names the client; from anywhere else the header is not trusted. */
void http_client_addr(const struct http_request *req, char out[64])
{
    const char *peer = req->remote_addr ? req->remote_addr : "";
    const char *xff = http_header(req, "x-forwarded-for");
    if (xff && (!strcmp(peer, "127.0.0.1") || !strcmp(peer, "::1"))) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        snprintf(out, 64, "%.*s", (int)strcspn(last, " "), last);
        return;
    }
    snprintf(out, 64, "%s", peer);
}
