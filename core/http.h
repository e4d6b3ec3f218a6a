/* http: one HTTP/1.1 connection's protocol state, without any I/O.
 *
 * Bytes read from a socket go in with http_conn_feed(); complete requests come out, one at a
 * time and in order, through the handler given at creation; the handler answers each with
 * http_respond(), at once or later (an answer that waits on a worker). Requests pipelined behind
 * an unanswered one wait in the input buffer, so answers always leave in request order. Each
 * answer (status line, headers and body) is handed to the `write` callback as one buffer.
 * Limits: request line and headers over HTTP_MAX_HEADER_BYTES answer 431, a body over
 * HTTP_MAX_BODY_BYTES answers 413 (a Content-Length over it as soon as the headers are in, so
 * such a body is never stored), bytes llhttp rejects answer 400; each of these closes the
 * connection after the answer, which is JSON: {"error":{"code":"...","message":"..."}}. A request
 * with "Expect: 100-continue" gets its interim "100 Continue" as a write of its own.
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
/* Pipelined bytes held while a request is with the handler. */
#define HTTP_MAX_PENDING_BYTES (HTTP_MAX_HEADER_BYTES + HTTP_MAX_BODY_BYTES)

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

/* remote_addr is copied. */
struct http_conn *http_conn_new(http_handler_fn on_request, http_write_fn write, void *ctx,
                                const char *remote_addr);
/* Ends the connection for its transport: `write` is never called again. When a request is still
 * with the handler (the peer went away while an answer was being prepared), the connection is
 * only marked dead and lives on until that request's http_respond(), which frees it without
 * writing; the handler need not know. Safe to call from inside the callbacks. */
void http_conn_free(struct http_conn *c);

/* Parses what it can of data; data is borrowed for the call only. Bytes that arrive while a
 * request is with the handler wait in the connection (at most HTTP_MAX_PENDING_BYTES; beyond that
 * the connection closes after the answer). Returns 0, or -1 when the connection must close once
 * the answers already handed to `write` are sent (a protocol error was answered, or the peer
 * asked to close and its last request is answered). */
int http_conn_feed(struct http_conn *c, const char *data, size_t len);

/* Where the connection stands; the transport arms its timers from it. */
enum http_conn_state {
    HTTP_CONN_IDLE,         /* between requests: nothing of the next one parsed yet */
    HTTP_CONN_RECEIVING,    /* part of a request parsed, not all of it */
    HTTP_CONN_HANDLING,     /* a complete request is with the handler, unanswered */
};
enum http_conn_state http_conn_state(const struct http_conn *c);
/* Requests begun so far: tells the transport one request's bytes from the next one's. */
uint64_t http_conn_seq(const struct http_conn *c);

/* True while a request is being received or answered (not idle between requests). */
int http_conn_busy(const struct http_conn *c);
/* True once the connection should close after its pending writes (Connection: close, errors):
 * no request will be handed to the handler any more, though one already handed out may still
 * be answered (its answer then carries Connection: close). */
int http_conn_closing(const struct http_conn *c);
/* Makes the connection close after the request in progress, if any, is answered (server
 * shutdown); bytes of further requests are ignored. */
void http_conn_drain(struct http_conn *c);
void *http_conn_ctx(const struct http_conn *c);

/* Case-insensitive header lookup; borrowed; NULL when absent. */
const char *http_header(const struct http_request *req, const char *name);

/* Answers req. body is copied; content_type (borrowed) may be NULL; extra_headers (borrowed, may
 * be NULL) is zero or more complete "Name: value\r\n" lines. Content-Length and Date are added,
 * and Connection: close when the connection ends after this answer; a 204 or 304 answer has no
 * body. Frees req; writes the request's log line ("GET /path 200 153us") to stderr. After the
 * answer the next pipelined request, if any, is parsed and handed to the handler (from inside
 * this call when the answer comes later than the handler's return). */
void http_respond(struct http_request *req, int status, const char *content_type,
                  const char *body, size_t body_len, const char *extra_headers);

/* The client's address for limits: the peer's, or behind a reverse proxy on this machine (a
 * loopback peer), the last entry of X-Forwarded-For. */
void http_client_addr(const struct http_request *req, char out[64]);

/* The query parameter `name`, percent-decoded, into an owned string; NULL when absent. */
char *http_query_param(const struct http_request *req, const char *name);

const char *http_status_text(int status);

#endif
