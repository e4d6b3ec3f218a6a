/* http: one HTTP/1.1 connection's protocol state, without any I/O.
 *
 * Bytes read from a socket go in with http_conn_feed(); complete requests come out, one at a
 * time and in order, through the handler given at creation; the handler answers each with
 * http_respond(), at once or later (an answer that waits on a worker). Requests pipelined behind
 * an unanswered one wait in the input buffer, so answers always leave in request order. Each
 * answer (status line, headers and body) is handed to the `write` callback as one buffer, but a
 * streamed one (http_respond_stream), which goes piece by piece as the transport drains.
 * Limits: request line and headers over HTTP_MAX_HEADER_BYTES answer 431, a body over
 * HTTP_MAX_BODY_BYTES (or the route's own limit, http_conn_set_body_limit) answers 413 (a
 * Content-Length over it as soon as the headers are in, so such a body is never stored), bytes
 * llhttp rejects answer 400; each of these closes the connection after the answer, which is
 * JSON: {"error":{"code":"...","message":"..."}}. A request with "Expect: 100-continue" gets its
 * interim "100 Continue" as a write of its own.
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

/* A larger body for some routes (an HR file to import): fn(method, target) is asked once a
 * request's head is in (target as sent, query included) and answers that request's body limit,
 * or 0 for HTTP_MAX_BODY_BYTES. Without fn every request has HTTP_MAX_BODY_BYTES. */
typedef size_t (*http_body_limit_fn)(const char *method, const char *target);
void http_conn_set_body_limit(struct http_conn *c, http_body_limit_fn fn);

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

/* A streamed answer, for bodies too large to hold whole (an export of 50,000 employees). The
 * head goes out at once with Transfer-Encoding: chunked (to an HTTP/1.0 client: no length, and
 * the connection closes at the end); then, each time the transport says that everything handed
 * to `write` has left (http_conn_drained), produce(arg, out) appends the next piece of the body
 * to out and answers 1 when more follows, 0 after the last piece, or -1 when it failed: the body
 * then ends without its final chunk, which tells the client that it is incomplete, and the
 * connection closes. So at most one piece is in memory at a time, and a client that reads slowly
 * is sent no faster than it reads. done(arg, ok) runs exactly once, when the answer is complete
 * (ok 1) or abandoned (ok 0: produce failed, or the connection went away); it frees what arg
 * holds. Like http_respond it ends the request (the log line is written at the end, with the
 * whole duration) and the next pipelined request waits until then. content_type and
 * extra_headers are borrowed for the call. */
struct buf;
typedef int (*http_produce_fn)(void *arg, struct buf *out);
typedef void (*http_stream_done_fn)(void *arg, int ok);
void http_respond_stream(struct http_request *req, int status, const char *content_type,
                         const char *extra_headers, http_produce_fn produce,
                         http_stream_done_fn done, void *arg);
/* Called by the transport when every buffer handed to `write` has been written: a streamed
 * answer's next piece is produced then. Does nothing when no answer is streaming. */
void http_conn_drained(struct http_conn *c);
/* True while a streamed answer is being sent (the transport times its progress). */
int http_conn_streaming(const struct http_conn *c);

/* The client's address for limits: the peer's, or behind a reverse proxy on this machine (a
 * loopback peer), the last entry of X-Forwarded-For. */
void http_client_addr(const struct http_request *req, char out[64]);

/* The query parameter `name`, percent-decoded, into an owned string; NULL when absent. */
char *http_query_param(const struct http_request *req, const char *name);

const char *http_status_text(int status);

#endif
