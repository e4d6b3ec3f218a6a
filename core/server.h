/* server: the libuv side of HTTP. Listens, accepts, reads into http_conn, writes its answers,
 * closes idle and slow connections, and shuts down gracefully.
 *
 * Each connection's uv_tcp_t and timer are embedded in its struct, which is freed in the last
 * close callback. Limits: at most max_connections at once (more are accepted and closed at
 * once); a request must arrive whole within request_timeout_ms of its first byte (slow-loris);
 * a keep-alive connection idle for idle_timeout_ms is closed, and so is one whose streamed
 * answer (http_respond_stream) made no progress for as long.
 * Loop thread only.
 */
#ifndef EVNE_SERVER_H
#define EVNE_SERVER_H

#include <uv.h>

#include "http.h"

struct srv;

struct srv_config {
    const char *host;            /* borrowed */
    int port;                    /* 0: any free port (see srv_port) */
    int max_connections;
    int request_timeout_ms;
    int idle_timeout_ms;
    http_body_limit_fn body_limit;   /* NULL: HTTP_MAX_BODY_BYTES for every request (http.h) */
};

/* on_request as in http.h; ctx passed through. Returns NULL and fills *err (owned) on failure
 * (address in use, bad host). */
struct srv *srv_start(uv_loop_t *loop, const struct srv_config *cfg, http_handler_fn on_request,
                      void *ctx, char **err);
int srv_port(const struct srv *s);

/* Stops accepting, lets requests in flight finish, closes every connection; on_done runs when
 * the last handle is closed and the srv is freed. */
void srv_shutdown(struct srv *s, void (*on_done)(void *arg), void *arg);

#endif
