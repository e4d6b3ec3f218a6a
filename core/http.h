/* http: one HTTP/1.1 connection's protocol state, without any I/O.
 *
 * Bytes read from a socket go in with http_conn_feed(); complete requests come out, one at a
 * time and in order, through the handler given at creation; the handler answers each with
 * http_respond(), at once or later (an answer that waits on a worker). Requests pipelined behind
 * an unanswered one wait in the input buffer, so answers always leave in request order. Each
 * answer (status line, headers and body) is handed to the `write` callback as one buffer.
 * Limits: request line and headers over HTTP_MAX_HEADER_BYTES answer 431, a body over
 * HTTP_MAX_BODY_BYTES answers 413, bytes llhttp rejects answer 400; each of these closes the
 * connection after the answer.
 *
 * Keeping the protocol apart from libuv lets the fuzz harness and the unit tests drive the exact
 * code that serves real sockets. Single-threaded: everything runs on the loop thread.
 */
#ifndef EVNE_HTTP_H
#define EVNE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADER_BYTES (16 * 1024)
#define HTTP_MAX_BODY_BYTES (1024 * 1024)
#define HTTP_MAX_HEADERS 64

struct http_conn;

struct http_header {
    char *name;  /* lower-cased */
    char *value;
};

/* One request. Everything in it is owned by the connection and lives until http_respond(). */
struct http_request {
    struct http_conn *conn;
    const char *method;          /* "GET", "POST" ... */
    char *target;                /* as sent: path and query */
    char *path;                  /* percent-decoded path, without the query */
    char *query;                 /* raw query string after '?', or "" */
    struct http_header headers[HTTP_MAX_HEADERS];
    int nheaders;
    char *body;                  /* NUL-terminated; body_len bytes */
    size_t body_len;
    const char *remote_addr;     /* borrowed from the connection */
    int64_t started_us;          /* util_monotonic_us() when the request was complete */
    void *user;                  /* free for the handler */
};

/* Called once per complete request, in order. Must lead to exactly one http_respond(). */
typedef void (*http_handler_fn)(struct http_request *req, void *ctx);
/* Hands one complete answer to the transport; the callee takes ownership of data (free()). */
typedef void (*http_write_fn)(struct http_conn *c, char *data, size_t len, void *ctx);

struct http_conn *http_conn_new(http_handler_fn on_request, http_write_fn write, void *ctx,
                                const char *remote_addr);
void http_conn_free(struct http_conn *c);

/* Parses what it can of data. Returns 0, or -1 when the connection must close once the answers
 * already handed to `write` are sent (a protocol error was answered, or the peer asked to close). */
int http_conn_feed(struct http_conn *c, const char *data, size_t len);

/* True while a request is being received or answered (not idle between requests). */
int http_conn_busy(const struct http_conn *c);
/* True once the connection should close after its pending writes (Connection: close, errors). */
int http_conn_closing(const struct http_conn *c);
void *http_conn_ctx(const struct http_conn *c);

/* Case-insensitive header lookup; borrowed; NULL when absent. */
const char *http_header(const struct http_request *req, const char *name);

/* Answers req. body is copied; extra_headers (borrowed, may be NULL) is zero or more complete
 * "Name: value\r\n" lines. Frees req; writes the request's log line to stderr. After the answer
 * the next pipelined request, if any, is parsed and handed to the handler. */
void http_respond(struct http_request *req, int status, const char *content_type,
                  const char *body, size_t body_len, const char *extra_headers);

/* The query parameter `name`, percent-decoded, into an owned string; NULL when absent. */
char *http_query_param(const struct http_request *req, const char *name);

const char *http_status_text(int status);

#endif
