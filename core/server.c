/* server: libuv TCP around http_conn.
 *
 * Reads land in one buffer owned by the srv: read callbacks run one at a time on the loop
 * thread and http_conn_feed() keeps what it needs, so no read allocates. Each answer is one
 * uv_write of the buffer http.c made; the buffer is freed in the write callback.
 *
 * One timer per connection, armed from the http_conn's state each time the state may have
 * changed (after a read was fed, after a write completed):
 *   idle       idle_timeout_ms, started when the connection becomes idle;
 *   receiving  request_timeout_ms, started at the first byte of each request and never
 *              extended, so a request trickled in byte by byte still ends in time;
 *   handling   no timer: the handler owns the request and will answer.
 * A connection that is done (Connection: close, a protocol error, the peer's EOF, shutdown)
 * sends its last answers, then a FIN (uv_shutdown, queued behind the writes), then discards what
 * the peer still sends until its EOF or SRV_LINGER_MS: closing at once while the peer is still
 * sending would make the kernel reset the connection and could destroy the answer (a 413 sent
 * while the rejected body is still arriving).
 */
#include "server.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SRV_READ_BYTES (64 * 1024)
#define SRV_LINGER_MS 2000
#define SRV_BACKLOG 511

struct srv_conn;

struct srv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listener_open;          /* until its close callback */
    struct srv_config cfg;      /* cfg.host is not kept */
    http_handler_fn on_request;
    void *ctx;
    int port;
    struct srv_conn *conns;     /* every connection not yet freed */
    int nconns;
    int nrejected;              /* refused connections whose handle is still closing */
    int shutting_down;
    void (*on_done)(void *arg);
    void *done_arg;
    char readbuf[SRV_READ_BYTES];
};

struct srv_write {
    uv_write_t req;
    char *data;                 /* owned: the answer, from http.c */
};

struct srv_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    struct srv *srv;
    struct http_conn *http;
    struct srv_conn *prev, *next;
    int open_handles;           /* tcp and timer; the struct is freed when both are closed */
    int closing;                /* uv_close called */
    int lingering;              /* done: FIN queued, discarding input until the peer's EOF */
    int peer_eof;
    int pending_writes;
    struct srv_write write1;    /* the usual single write in flight needs no allocation */
    int write1_busy;
    enum http_conn_state seen_state;
    uint64_t seen_seq;
    char remote[64];
};

static void conn_update(struct srv_conn *cn);

/* --- ending ------------------------------------------------------------------------------- */

static void srv_maybe_done(struct srv *s)
{
    if (!s->shutting_down || s->listener_open || s->nconns || s->nrejected)
        return;
    void (*on_done)(void *) = s->on_done;
    void *arg = s->done_arg;
    free(s);
    if (on_done)
        on_done(arg);
}

static void conn_on_close(uv_handle_t *h)
{
    struct srv_conn *cn = h->data;
    if (--cn->open_handles > 0)
        return;
    struct srv *s = cn->srv;
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        s->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    s->nconns--;
    /* a request still with the handler keeps the http_conn alive until it is answered; its
     * answer is then dropped without calling conn_write (see http.h) */
    http_conn_free(cn->http);
    free(cn);
    srv_maybe_done(s);
}

static void conn_close(struct srv_conn *cn)
{
    if (cn->closing)
        return;
    cn->closing = 1;
    if (!uv_is_closing((uv_handle_t *)&cn->tcp))
        uv_close((uv_handle_t *)&cn->tcp, conn_on_close);
    if (!uv_is_closing((uv_handle_t *)&cn->timer))
        uv_close((uv_handle_t *)&cn->timer, conn_on_close);
}

static void conn_on_timeout(uv_timer_t *t)
{
    struct srv_conn *cn = t->data;
    if (!cn->lingering && http_conn_state(cn->http) == HTTP_CONN_HANDLING &&
        !http_conn_streaming(cn->http))
        return;
    conn_close(cn);
}

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    struct srv_conn *cn = req->handle->data;
    if (cn->closing)
        return;
    if (status < 0 || cn->peer_eof) {
        conn_close(cn);
        return;
    }
    uv_timer_start(&cn->timer, conn_on_timeout, SRV_LINGER_MS, 0);
}

/* The connection takes no more requests: send what is queued, then end it. */
static void conn_finish(struct srv_conn *cn)
{
    if (cn->peer_eof && cn->pending_writes == 0) {
        conn_close(cn);
        return;
    }
    cn->lingering = 1;
    if (uv_shutdown(&cn->shutdown, (uv_stream_t *)&cn->tcp, conn_on_shutdown) < 0) {
        conn_close(cn);
        return;
    }
    /* bounds the time the queued answers may take to leave; SRV_LINGER_MS follows */
    int ms = cn->srv->cfg.idle_timeout_ms > 0 ? cn->srv->cfg.idle_timeout_ms : SRV_LINGER_MS;
    uv_timer_start(&cn->timer, conn_on_timeout, (uint64_t)ms, 0);
}

/* --- reading and writing ------------------------------------------------------------------ */

static void conn_on_write(uv_write_t *req, int status)
{
    struct srv_write *w = (struct srv_write *)req;
    struct srv_conn *cn = req->handle->data;
    free(w->data);
    if (w == &cn->write1)
        cn->write1_busy = 0;
    else
        free(w);
    cn->pending_writes--;
    if (cn->closing)
        return;
    if (status < 0) {
        conn_close(cn);
        return;
    }
    /* a streamed answer's next piece goes out only when the last one has left: the client's
     * reading paces the producer */
    if (cn->pending_writes == 0 && !cn->lingering)
        http_conn_drained(cn->http);
    conn_update(cn);
}

/* The http_write_fn: consumes data. */
static void conn_write(struct http_conn *c, char *data, size_t len, void *ctx)
{
    (void)c;
    struct srv_conn *cn = ctx;
    if (cn->closing || cn->lingering || len > UINT32_MAX) {
        free(data);
        return;
    }
    struct srv_write *w;
    if (!cn->write1_busy) {
        w = &cn->write1;
        cn->write1_busy = 1;
    } else {
        w = xmalloc(sizeof *w);
    }
    w->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned int)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&cn->tcp, &b, 1, conn_on_write);
    if (rc < 0) {
        /* a failed uv_write never calls its callback */
        free(data);
        if (w == &cn->write1)
            cn->write1_busy = 0;
        else
            free(w);
        conn_close(cn);
        return;
    }
    cn->pending_writes++;
}

/* The handler given to http_conn: its ctx is the connection, the app's is the srv's. */
static void conn_on_request(struct http_request *req, void *ctx)
{
    struct srv_conn *cn = ctx;
    cn->srv->on_request(req, cn->srv->ctx);
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct srv_conn *cn = h->data;
    *buf = uv_buf_init(cn->srv->readbuf, sizeof cn->srv->readbuf);
}

static void conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct srv_conn *cn = stream->data;
    if (nread == 0 || cn->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(cn);
            return;
        }
        cn->peer_eof = 1;
        uv_read_stop(stream);
        if (cn->lingering) {
            if (cn->pending_writes == 0)
                conn_close(cn);
            return;
        }
        conn_update(cn);
        return;
    }
    if (cn->lingering)
        return;
    http_conn_feed(cn->http, buf->base, (size_t)nread);
    conn_update(cn);
}

/* Arms the timer from the http state, or ends a connection that is done. */
static void conn_update(struct srv_conn *cn)
{
    if (cn->closing || cn->lingering)
        return;
    struct srv *s = cn->srv;
    enum http_conn_state st = http_conn_state(cn->http);
    uint64_t seq = http_conn_seq(cn->http);
    if (st == HTTP_CONN_HANDLING) {
        /* a streamed answer must keep moving: a client that stops reading is let go after
         * idle_timeout_ms without progress */
        if (http_conn_streaming(cn->http) && s->cfg.idle_timeout_ms > 0)
            uv_timer_start(&cn->timer, conn_on_timeout, (uint64_t)s->cfg.idle_timeout_ms, 0);
        else
            uv_timer_stop(&cn->timer);
    } else if (http_conn_closing(cn->http) || cn->peer_eof ||
               (s->shutting_down && st == HTTP_CONN_IDLE)) {
        conn_finish(cn);
        return;
    } else if (st != cn->seen_state || seq != cn->seen_seq) {
        int ms = st == HTTP_CONN_RECEIVING ? s->cfg.request_timeout_ms : s->cfg.idle_timeout_ms;
        if (ms > 0)
            uv_timer_start(&cn->timer, conn_on_timeout, (uint64_t)ms, 0);
        else
            uv_timer_stop(&cn->timer);
    }
    cn->seen_state = st;
    cn->seen_seq = seq;
}

/* --- accepting ---------------------------------------------------------------------------- */

static void peer_name(uv_tcp_t *tcp, char *out, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, n, "-");
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, out, n);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        /* a v4 client of a dual-stack listener is named as v4, as it would be on a v4 one */
        if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
            uv_inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], out, n);
        else
            uv_ip6_name(a6, out, n);
    }
}

static void reject_on_close(uv_handle_t *h)
{
    struct srv *s = h->data;
    free(h);
    s->nrejected--;
    srv_maybe_done(s);
}

static void reject(struct srv *s)
{
    uv_tcp_t *t = xmalloc(sizeof *t);
    uv_tcp_init(s->loop, t);
    t->data = s;
    uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
    s->nrejected++;
    uv_close((uv_handle_t *)t, reject_on_close);
}

static void srv_on_connection(uv_stream_t *listener, int status)
{
    struct srv *s = listener->data;
    if (status < 0) {
        fprintf(stderr, "evne: accept failed: %s\n", uv_strerror(status));
        return;
    }
    if (s->shutting_down)
        return;
    if (s->cfg.max_connections > 0 && s->nconns >= s->cfg.max_connections) {
        reject(s);
        return;
    }
    struct srv_conn *cn = xcalloc(1, sizeof *cn);
    cn->srv = s;
    uv_tcp_init(s->loop, &cn->tcp);
    uv_timer_init(s->loop, &cn->timer);
    cn->tcp.data = cn->timer.data = cn;
    cn->open_handles = 2;
    cn->next = s->conns;
    if (s->conns)
        s->conns->prev = cn;
    s->conns = cn;
    s->nconns++;
    if (uv_accept(listener, (uv_stream_t *)&cn->tcp) < 0) {
        conn_close(cn);
        return;
    }
    uv_tcp_nodelay(&cn->tcp, 1);
    peer_name(&cn->tcp, cn->remote, sizeof cn->remote);
    cn->http = http_conn_new(conn_on_request, conn_write, cn, cn->remote);
    if (s->cfg.body_limit)
        http_conn_set_body_limit(cn->http, s->cfg.body_limit);
    if (uv_read_start((uv_stream_t *)&cn->tcp, conn_on_alloc, conn_on_read) < 0) {
        conn_close(cn);
        return;
    }
    cn->seen_seq = UINT64_MAX;      /* arms the idle timer */
    conn_update(cn);
}

/* --- public ------------------------------------------------------------------------------- */

static void srv_on_listener_close(uv_handle_t *h)
{
    struct srv *s = h->data;
    s->listener_open = 0;
    srv_maybe_done(s);
}

struct srv *srv_start(uv_loop_t *loop, const struct srv_config *cfg, http_handler_fn on_request,
                      void *ctx, char **err)
{
    char host[INET6_ADDRSTRLEN + 16];
    snprintf(host, sizeof host, "%s", cfg->host && *cfg->host ? cfg->host : "0.0.0.0");
    /* "[::1]" as in URLs */
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        *err = xasprintf("bad port %d: want 0 to 65535", cfg->port);
        return NULL;
    }
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, cfg->port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, cfg->port, (struct sockaddr_in6 *)&addr) != 0) {
        *err = xasprintf("bad host '%s': want an IPv4 or IPv6 address", cfg->host);
        return NULL;
    }

    struct srv *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->cfg = *cfg;
    s->cfg.host = NULL;
    s->on_request = on_request;
    s->ctx = ctx;
    int rc = uv_tcp_init(loop, &s->listener);
    if (rc < 0) {
        *err = xasprintf("cannot listen on %s port %d: %s", host, cfg->port, uv_strerror(rc));
        free(s);
        return NULL;
    }
    s->listener.data = s;
    s->listener_open = 1;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, SRV_BACKLOG, srv_on_connection);
    if (rc == 0) {
        struct sockaddr_storage bound;
        int len = sizeof bound;
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
        if (rc == 0)
            s->port = ntohs(bound.ss_family == AF_INET6
                                ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                : ((struct sockaddr_in *)&bound)->sin_port);
    }
    if (rc < 0) {
        *err = xasprintf("cannot listen on %s port %d: %s", host, cfg->port, uv_strerror(rc));
        /* the handle's memory is freed in its close callback, when the loop runs next */
        s->shutting_down = 1;
        uv_close((uv_handle_t *)&s->listener, srv_on_listener_close);
        return NULL;
    }
    return s;
}

int srv_port(const struct srv *s) { return s->port; }

void srv_shutdown(struct srv *s, void (*on_done)(void *arg), void *arg)
{
    UTIL_ASSERT(!s->shutting_down);
    s->shutting_down = 1;
    s->on_done = on_done;
    s->done_arg = arg;
    if (!uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, srv_on_listener_close);
    /* conn_close only starts closing: the list stays whole during the walk */
    for (struct srv_conn *cn = s->conns; cn; cn = cn->next) {
        if (cn->closing)
            continue;
        if (cn->http)
            http_conn_drain(cn->http);
        if (!cn->http || (http_conn_state(cn->http) == HTTP_CONN_IDLE && cn->pending_writes == 0))
            conn_close(cn);     /* idle: nothing to say, no need to linger */
        else
            conn_update(cn);
    }
}
