/*
 * The HTTP/1.1 client agent (client.h; URLs are in url.c): the connection
 * pool, one request at a time per connection (no pipelining: a request that
 * fails on a reused connection can then be retried safely, RFC 9112 §9.3.1),
 * redirects and timeouts.
 *
 * Objects:
 *   - a conn is one connection: a protocol on TCP or TLS, with the response
 *     parser. It lives from the connect attempt until connection_lost (or the
 *     failed attempt), then is freed from a call-soon callback so that no
 *     transport or TLS wrapper ever returns into freed memory;
 *   - a request owns its copies of the options, its response head and its
 *     deferred. It is attached to at most one conn at a time.
 *
 * Re-entrancy: user callbacks (the head deferred's links, on_body, on_end) may
 * free the request or the agent. Every path that calls out holds req->depth
 * and re-checks req->zombie when it returns; the memory goes only when the
 * outermost frame leaves.
 */
#define _GNU_SOURCE
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "connect.h"
#include "limits.h"
#include "log.h"
#include "protocol.h"
#include "stream.h"
#include "tls.h"

#define RESP_STORE_MAX (TWC_HTTP_HEADER_BYTES_MAX + TWC_HTTP_START_LINE_MAX + TWC_HTTP_URL_MAX + 64)
#define REQ_HEAD_MAX   (TWC_HTTP_HEADER_BYTES_MAX + TWC_HTTP_URL_MAX + 1024)

/* ---- Types ----------------------------------------------------------------- */

enum conn_state {
    C_CONNECTING,
    C_BUSY, /* serving conn->req */
    C_IDLE, /* in the pool */
    C_DEAD, /* closed or closing; waiting to be freed */
};

struct conn {
    twc_protocol proto; /* first: the transport calls us through it */
    twc_factory factory;
    twc_factory shim;  /* TLS: in front of the wrapper, to learn the inner protocol */
    twc_http_agent *a; /* NULL once the agent is gone */
    twc_reactor *r;
    struct conn *prev, *next;
    enum conn_state state;
    char key[300]; /* "https://host:port" */
    twc_tls_factory *tf;
    twc_connector *connector; /* numeric hosts */
    twc_deferred *connecting; /* host names: the consumer reference */
    twc_protocol *inner;      /* TLS: the protocol on the TCP transport */
    twc_timer *timer;         /* connect deadline, then pooled lifetime */
    twc_http_parser parser;
    twc_buf pending; /* response bytes held while the consumer is paused */
    struct twc_http_client_request *req;
    bool reused; /* served a request before this one */
    bool connected, lost, freeing;
    uint64_t got; /* response bytes seen for the current request */
    twc_err lost_why;
    twc_err preset; /* why we aborted (timeout), reported instead of the close */
};

struct twc_http_agent {
    twc_reactor *r;
    twc_resolver *resolver;
    twc_tls_ctx *tls;
    char *ca_certs;
    bool insecure;
    unsigned connect_ms, head_ms, body_idle_ms, idle_ms;
    size_t max_idle;
    struct twc_http_limits lim;
    struct conn *conns; /* every conn, any state */
    struct twc_http_client_request *reqs;
};

struct twc_http_client_request {
    twc_http_agent *a;
    struct twc_http_client_request *prev, *next;
    char *method;
    char *url; /* current absolute URL, without userinfo (it goes in logs) */
    struct twc_http_url u; /* u.credentials is always cleared */
    char *basic; /* "Basic ..." from the URL's userinfo; NULL once off its origin */
    twc_buf fields; /* the caller's fields, serialized */
    bool user_host, user_agent, user_accept, user_auth, conn_close;
    uint8_t *body;
    size_t body_len;
    bool has_body;
    bool stream;
    uint64_t stream_len, streamed;
    bool stream_ended;
    twc_buf prebuf; /* streamed bytes written before a connection was ready */
    bool want_drain;
    unsigned max_redirects, redirects;
    void (*on_body)(void *, const uint8_t *, size_t);
    void (*on_drain)(void *);
    void (*on_end)(void *, const twc_err *);
    void (*on_redirect)(void *, const struct twc_http_client_response *);
    void *arg;
    twc_deferred *d;  /* our consumer reference */
    bool head_fired;  /* the producer reference was used (or cancelled) */
    bool head_wanted; /* someone took a reference with ..._head() */
    bool ended;       /* on_end ran */
    bool zombie;      /* freed by the user while depth > 0 */
    bool paused;
    bool sent_all; /* the whole request went to the transport */
    bool retried;
    bool fresh; /* needs a new connection (retry) */
    int depth;
    struct conn *conn;
    twc_timer *timer; /* dispatch (0 ms), head timeout, body idle timeout */
    int timer_kind;
    /* Response head storage. */
    struct twc_http_client_response resp;
    twc_buf store;
    twc_http_header *hdrs;
    size_t nhdrs;
    bool redirecting;
    char *location;
};

enum {
    T_NONE,
    T_DISPATCH,
    T_HEAD,
    T_BODY
};

static void req_dispatch(struct twc_http_client_request *req);
static void req_fail(struct twc_http_client_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void req_fail_err(struct twc_http_client_request *req, const twc_err *err);
static void conn_close(struct conn *c, bool abort);
static void conn_process(struct conn *c, const uint8_t *data, size_t len);
static void follow_redirect(struct twc_http_client_request *req);

/* ---- Connections ----------------------------------------------------------- */

static void conn_unlink(struct conn *c)
{
    if (c->a == NULL)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->a->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->a = NULL;
}

static void conn_free_now(void *arg)
{
    struct conn *c = arg;

    twc_timer_free(c->timer);
    twc_connector_free(c->connector);
    twc_tls_factory_free(c->tf);
    twc_deferred_unref(c->connecting);
    twc_http_parser_cleanup(&c->parser);
    twc_buf_cleanup(&c->pending);
    free(c);
}

/* The conn is finished with its transport (or never got one): free it from the
 * loop, after whatever called us has returned. */
static void conn_destroy(struct conn *c, twc_reactor *r)
{
    if (c->freeing)
        return;
    c->freeing = true;
    c->state = C_DEAD;
    conn_unlink(c);
    twc_timer_stop(c->timer);
    if (twc_reactor_call_soon(r, conn_free_now, c) < 0)
        conn_free_now(c); /* out of memory: nothing of ours is on the stack */
}

static void conn_close(struct conn *c, bool abort)
{
    if (c->state == C_DEAD)
        return;
    c->state = C_DEAD;
    twc_timer_stop(c->timer);
    if (c->proto.transport != NULL) {
        if (abort)
            twc_transport_abort(c->proto.transport);
        else
            twc_transport_lose_connection(c->proto.transport);
    } else if (c->inner != NULL && c->inner->transport != NULL) {
        twc_transport_abort(c->inner->transport); /* mid-handshake */
    } else if (c->connector != NULL) {
        twc_connector_stop(c->connector); /* connection_failed follows */
    } else if (c->connecting != NULL && !twc_deferred_fired(c->connecting)) {
        twc_deferred_cancel(c->connecting); /* the errback follows */
    }
}

static size_t pool_count(twc_http_agent *a, const char *key)
{
    struct conn *c;
    size_t n = 0;

    for (c = a->conns; c != NULL; c = c->next)
        if (c->state == C_IDLE && strcmp(c->key, key) == 0)
            n++;
    return n;
}

static void on_conn_timer(twc_timer *t, void *arg)
{
    struct conn *c = arg;

    (void)t;
    if (c->state == C_CONNECTING) {
        twc_err_set(&c->preset, TWC_ETIMEDOUT, "connect to %s timed out", c->key);
        conn_close(c, true);
    } else if (c->state == C_IDLE) {
        conn_close(c, false); /* pooled too long: servers drop these anyway */
    }
}

/* Put a conn whose request finished back in the pool, or close it. */
static void conn_release(struct conn *c, bool keep)
{
    twc_http_agent *a = c->a;

    c->req = NULL;
    if (!keep || a == NULL || c->state != C_BUSY || pool_count(a, c->key) >= a->max_idle) {
        conn_close(c, false);
        return;
    }
    c->state = C_IDLE;
    c->reused = true;
    twc_http_parser_shrink(&c->parser);
    twc_buf_reset(&c->pending);
    twc_timer_start(c->timer, a->idle_ms, 0);
}

/* ---- Requests: sending ------------------------------------------------------- */

static int write_head(struct twc_http_client_request *req, twc_buf *b)
{
    const struct twc_http_url *u = &req->u;
    int rc;

    rc = twc_http_write_request_line(b, req->method, strlen(req->method), u->target,
                                     strlen(u->target), 1);
    if (rc == 0 && !req->user_host) {
        bool v6 = strchr(u->host, ':') != NULL;

        if (u->default_port)
            rc = twc_buf_printf(b, "Host: %s%s%s\r\n", v6 ? "[" : "", u->host, v6 ? "]" : "");
        else
            rc = twc_buf_printf(b, "Host: %s%s%s:%u\r\n", v6 ? "[" : "", u->host, v6 ? "]" : "",
                                (unsigned)u->port);
    }
    if (rc == 0 && !req->user_agent)
        rc = twc_http_write_header_str(b, "User-Agent", "twc");
    if (rc == 0 && !req->user_accept)
        rc = twc_http_write_header_str(b, "Accept", "*/*");
    if (rc == 0 && req->basic != NULL && !req->user_auth)
        rc = twc_http_write_header_str(b, "Authorization", req->basic);
    if (rc == 0 && twc_buf_len(&req->fields) > 0)
        rc = twc_buf_append(b, twc_buf_data(&req->fields), twc_buf_len(&req->fields));
    if (rc == 0 && req->conn_close)
        rc = twc_http_write_header_str(b, "Connection", "close");
    if (rc == 0 && req->stream && req->stream_len == TWC_HTTP_LENGTH_UNKNOWN)
        rc = twc_http_write_header_str(b, "Transfer-Encoding", "chunked");
    else if (rc == 0 && req->stream)
        rc = twc_buf_printf(b, "Content-Length: %llu\r\n", (unsigned long long)req->stream_len);
    else if (rc == 0 && req->has_body)
        rc = twc_buf_printf(b, "Content-Length: %zu\r\n", req->body_len);
    if (rc == 0)
        rc = twc_http_write_end_of_head(b);
    return rc;
}

static void req_timer_start(struct twc_http_client_request *req, int kind, uint64_t ms)
{
    req->timer_kind = kind;
    twc_timer_start(req->timer, ms, 0);
}

/* Write the streamed bytes buf (already framed or not) to the connection. */
static int stream_out(struct twc_http_client_request *req, const void *data, size_t len)
{
    twc_transport *t = req->conn->proto.transport;
    int rc = 0;

    if (len == 0)
        return 0;
    if (req->stream_len == TWC_HTTP_LENGTH_UNKNOWN) {
        twc_buf b;

        twc_buf_init(&b, 32);
        rc = twc_http_write_chunk_header(&b, len);
        if (rc == 0)
            rc = twc_transport_write(t, twc_buf_data(&b), twc_buf_len(&b));
        twc_buf_cleanup(&b);
        if (rc == 0)
            rc = twc_transport_write(t, data, len);
        if (rc == 0)
            rc = twc_transport_write(t, "\r\n", 2);
    } else {
        rc = twc_transport_write(t, data, len);
    }
    return rc;
}

static int stream_finish(struct twc_http_client_request *req)
{
    int rc = 0;

    if (req->stream_len == TWC_HTTP_LENGTH_UNKNOWN)
        rc = twc_transport_write(req->conn->proto.transport, "0\r\n\r\n", 5);
    req->sent_all = true;
    return rc;
}

/* A connection is ready for req: send the request. */
static void req_send(struct twc_http_client_request *req, struct conn *c)
{
    twc_buf head;
    int rc;

    c->req = req;
    c->state = C_BUSY;
    c->got = 0;
    req->conn = c;
    twc_timer_stop(c->timer);
    twc_http_parser_reset(&c->parser);
    twc_http_response_parser_set_method(&c->parser,
                                        twc_http_method_kind_of(req->method, strlen(req->method)));
    twc_buf_init(&head, REQ_HEAD_MAX);
    rc = write_head(req, &head);
    if (rc == 0)
        rc = twc_transport_write(c->proto.transport, twc_buf_data(&head), twc_buf_len(&head));
    twc_buf_cleanup(&head);
    if (rc == 0 && req->has_body && req->body_len > 0)
        rc = twc_transport_write(c->proto.transport, req->body, req->body_len);
    if (rc == 0 && !req->stream)
        req->sent_all = true;
    if (rc == 0 && req->stream) {
        rc = stream_out(req, twc_buf_data(&req->prebuf), twc_buf_len(&req->prebuf));
        twc_buf_reset(&req->prebuf);
        if (rc == 0 && req->stream_ended)
            rc = stream_finish(req);
    }
    if (rc < 0) {
        req_fail(req, rc, "cannot send the request to %s: %s", c->key, twc_strerror(rc));
        return;
    }
    req_timer_start(req, T_HEAD, req->a->head_ms);
    if (req->stream && req->want_drain && !req->stream_ended &&
        twc_transport_buffered(c->proto.transport) < TWC_WRITE_LOW_WATER) {
        req->want_drain = false;
        if (req->on_drain != NULL)
            req->on_drain(req->arg);
    }
}

/* ---- Requests: ending ------------------------------------------------------ */

static void req_unlink(struct twc_http_client_request *req)
{
    twc_http_agent *a = req->a;

    if (a == NULL)
        return;
    if (req->prev != NULL)
        req->prev->next = req->next;
    else
        a->reqs = req->next;
    if (req->next != NULL)
        req->next->prev = req->prev;
    req->prev = req->next = NULL;
}

static void drop_basic(struct twc_http_client_request *req)
{
    if (req->basic != NULL) {
        explicit_bzero(req->basic, strlen(req->basic));
        free(req->basic);
        req->basic = NULL;
    }
}

static void req_really_free(struct twc_http_client_request *req)
{
    req_unlink(req);
    drop_basic(req);
    twc_timer_free(req->timer);
    twc_deferred_unref(req->d);
    free(req->method);
    free(req->url);
    free(req->body);
    free(req->location);
    free(req->hdrs);
    twc_buf_cleanup(&req->fields);
    twc_buf_cleanup(&req->prebuf);
    twc_buf_cleanup(&req->store);
    free(req);
}

static void swallow_any(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, NULL, NULL);
}

/* Leave a callback frame; true when req is gone (freed by the user). */
static bool req_leave(struct twc_http_client_request *req)
{
    if (--req->depth == 0 && req->zombie) {
        req_really_free(req);
        return true;
    }
    return req->zombie;
}

/* The request is over: detach from its connection and tell the user. */
static void req_end(struct twc_http_client_request *req, const twc_err *err)
{
    twc_err e;

    if (req->ended)
        return;
    req->ended = true;
    twc_timer_stop(req->timer);
    if (req->conn != NULL) {
        struct conn *c = req->conn;

        req->conn = NULL;
        c->req = NULL;
        if (c->lost)
            conn_destroy(c, c->r); /* closed while we held its last bytes */
        else if (err != NULL && err->code != 0)
            conn_close(c, true);
    }
    if (err != NULL)
        e = *err;
    else
        twc_err_clear(&e);
    req->depth++;
    if (!req->head_fired) {
        req->head_fired = true;
        /* on_end reports the failure too: a deferred nobody asked for must
         * not log it as unhandled. */
        if (!req->head_wanted)
            twc_deferred_add_errback(req->d, swallow_any, NULL);
        twc_deferred_reject_err(req->d, &e);
    }
    if (!req->zombie && req->on_end != NULL)
        req->on_end(req->arg, &e);
    req_leave(req);
}

static void req_fail_err(struct twc_http_client_request *req, const twc_err *err)
{
    req_end(req, err);
}

static void req_fail(struct twc_http_client_request *req, int code, const char *fmt, ...)
{
    twc_err e;
    va_list ap;

    va_start(ap, fmt);
    twc_err_setv(&e, code, fmt, ap);
    va_end(ap);
    req_end(req, &e);
}

static void on_req_timer(twc_timer *t, void *arg)
{
    struct twc_http_client_request *req = arg;

    (void)t;
    switch (req->timer_kind) {
    case T_DISPATCH:
        req_dispatch(req);
        break;
    case T_HEAD:
        req_fail(req, TWC_ETIMEDOUT, "no response head from %s within %u ms", req->url,
                 req->a->head_ms);
        break;
    case T_BODY:
        req_fail(req, TWC_ETIMEDOUT, "response body from %s stalled for %u ms", req->url,
                 req->a->body_idle_ms);
        break;
    default:
        break;
    }
}

/* ---- Connection protocol --------------------------------------------------- */

static void conn_connection_made(twc_protocol *p)
{
    struct conn *c = container_of(p, struct conn, proto);
    struct twc_http_client_request *req = c->req;

    c->connected = true;
    twc_timer_stop(c->timer);
    if (c->state != C_CONNECTING) {
        conn_close(c, true); /* nobody wants it any more */
        return;
    }
    if (req == NULL) {
        conn_close(c, false);
        return;
    }
    req_send(req, c);
}

static void conn_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct conn *c = container_of(p, struct conn, proto);

    if (c->state == C_IDLE || c->req == NULL) {
        /* RFC 9112 §9.3: bytes with no request outstanding are an error (or
         * a server's stray 408): this connection cannot be trusted. */
        conn_close(c, true);
        return;
    }
    if (twc_buf_len(&c->pending) > 0 || c->req->paused) {
        if (twc_buf_append(&c->pending, data, len) < 0) {
            req_fail(c->req, TWC_ENOMEM, "out of memory");
            return;
        }
        twc_transport_pause_reading(p->transport);
        return;
    }
    conn_process(c, data, len);
}

static void conn_pause_producing(twc_protocol *p)
{
    struct conn *c = container_of(p, struct conn, proto);

    if (c->req != NULL)
        c->req->want_drain = true;
}

static void conn_write_drained(twc_protocol *p)
{
    struct conn *c = container_of(p, struct conn, proto);
    struct twc_http_client_request *req = c->req;

    if (req != NULL && req->want_drain && !req->stream_ended) {
        req->want_drain = false;
        if (req->on_drain != NULL) {
            req->depth++;
            req->on_drain(req->arg);
            req_leave(req);
        }
    }
}

/* What the end of the connection means for the request it carried. */
static void conn_lost_req(struct conn *c)
{
    struct twc_http_client_request *req = c->req;
    struct twc_http_event ev;
    twc_err e;
    int rc;

    if (req == NULL)
        return;
    if (c->got == 0 && c->reused && !req->retried && !req->stream) {
        /* The server closed a pooled connection as we reused it (RFC 9112
         * §9.3.1): retry once on a new connection. */
        req->retried = true;
        req->fresh = true;
        req->conn = NULL;
        c->req = NULL;
        twc_timer_stop(req->timer);
        req_dispatch(req);
        return;
    }
    rc = twc_http_parser_eof(&c->parser, &ev);
    if (rc == 0 && ev.type == TWC_HTTP_EV_END) {
        /* A read-until-close body ended; TLS without close_notify is common
         * for these and accepted like curl does. */
        req->conn = NULL;
        c->req = NULL;
        if (req->redirecting) {
            follow_redirect(req);
            return;
        }
        req_end(req, NULL);
        return;
    }
    if (c->preset.code != 0)
        e = c->preset;
    else if (c->lost_why.code != 0 && c->lost_why.code != TWC_ETLS_TRUNCATED)
        e = c->lost_why;
    else if (c->got == 0)
        twc_err_set(&e, TWC_EOF, "%s closed the connection without a response", c->key);
    else
        twc_err_set(&e, TWC_EOF, "%s closed the connection in the middle of the response", c->key);
    req_fail_err(req, &e);
}

static void conn_connection_lost(twc_protocol *p, const twc_err *why)
{
    struct conn *c = container_of(p, struct conn, proto);

    c->lost = true;
    c->state = C_DEAD;
    if (why != NULL)
        c->lost_why = *why;
    if (c->req != NULL && twc_buf_len(&c->pending) > 0) {
        /* Paused with unread bytes: the request finishes them first, then sees
         * the close (resume_soon does both). */
        return;
    }
    conn_lost_req(c);
    conn_destroy(c, c->r);
}

static const struct twc_protocol_ops conn_ops = {
    .name = "http-client",
    .connection_made = conn_connection_made,
    .data_received = conn_data_received,
    .pause_producing = conn_pause_producing,
    .write_drained = conn_write_drained,
    .connection_lost = conn_connection_lost,
};

static twc_protocol *conn_build(twc_factory *f, const twc_addr *peer)
{
    struct conn *c = container_of(f, struct conn, factory);

    (void)peer;
    c->proto.ops = &conn_ops;
    return &c->proto;
}

/* The attempt failed before connection_made (TCP or TLS). */
static void conn_failed(struct conn *c, const twc_err *why)
{
    struct twc_http_client_request *req = c->req;
    twc_err e = c->preset.code != 0 ? c->preset : *why;

    c->state = C_DEAD;
    c->req = NULL;
    if (req != NULL) {
        req->conn = NULL;
        req_fail_err(req, &e);
    }
    conn_destroy(c, c->r);
}

static void conn_connection_failed(twc_factory *f, const twc_err *why)
{
    conn_failed(container_of(f, struct conn, factory), why);
}

static const struct twc_factory_ops conn_factory_ops = {
    .build = conn_build,
    .connection_failed = conn_connection_failed,
};

static void on_connect_ok(void *arg, twc_result *res)
{
    (void)arg;
    (void)res; /* connection_made (TCP) or the handshake (TLS) takes it from here */
}

/* The TLS shim: build the wrapper's protocol for the TCP connection and keep
 * it, so a connect timeout can abort a handshake in progress. */
static twc_protocol *shim_build(twc_factory *f, const twc_addr *peer)
{
    struct conn *c = container_of(f, struct conn, shim);
    twc_factory *tls = twc_tls_factory_base(c->tf);

    c->inner = tls->ops->build(tls, peer);
    return c->inner;
}

static void shim_connection_failed(twc_factory *f, const twc_err *why)
{
    struct conn *c = container_of(f, struct conn, shim);
    twc_factory *tls = twc_tls_factory_base(c->tf);

    if (tls->ops->connection_failed != NULL)
        tls->ops->connection_failed(tls, why);
    else
        conn_failed(c, why);
}

static void shim_client_connection_lost(twc_factory *f, const twc_err *why)
{
    struct conn *c = container_of(f, struct conn, shim);
    twc_factory *tls = twc_tls_factory_base(c->tf);

    c->inner = NULL;
    if (tls->ops->client_connection_lost != NULL)
        tls->ops->client_connection_lost(tls, why);
}

static const struct twc_factory_ops shim_ops = {
    .build = shim_build,
    .connection_failed = shim_connection_failed,
    .client_connection_lost = shim_client_connection_lost,
};

static void on_connect_err(void *arg, twc_result *res)
{
    struct conn *c = arg;
    twc_err e = *twc_result_err(res);

    twc_result_set(res, NULL, NULL); /* handled */
    conn_failed(c, &e);
}

static struct conn *conn_new(twc_http_agent *a, struct twc_http_client_request *req, twc_err *err)
{
    struct conn *c = calloc(1, sizeof(*c));
    twc_factory *f;
    twc_addr to;

    if (c == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    c->a = a;
    c->r = a->r;
    c->factory.ops = &conn_factory_ops;
    c->state = C_CONNECTING;
    c->req = req;
    twc_http_response_parser_init(&c->parser, &a->lim);
    twc_buf_init(&c->pending, TWC_WRITE_HIGH_WATER);
    snprintf(c->key, sizeof(c->key), "%s://%s:%u", req->u.tls ? "https" : "http", req->u.host,
             (unsigned)req->u.port);
    c->timer = twc_timer_new(a->r, on_conn_timer, c);
    if (c->timer == NULL)
        goto nomem;
    f = &c->factory;
    if (req->u.tls) {
        if (a->tls == NULL) {
            struct twc_tls_client_opts o;

            memset(&o, 0, sizeof(o));
            o.ca_certs = a->ca_certs;
            o.insecure = a->insecure;
            o.alpn = "http/1.1";
            a->tls = twc_tls_ctx_new_client(&o, err);
            if (a->tls == NULL)
                goto fail;
        }
        c->tf = twc_tls_factory_new(a->tls, &c->factory, 0, req->u.host, err);
        if (c->tf == NULL)
            goto fail;
        c->shim.ops = &shim_ops;
        f = &c->shim;
    }
    /* Link first: the attempt may report through the loop only, never inside. */
    c->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = c;
    a->conns = c;
    twc_timer_start(c->timer, a->connect_ms, 0);
    if (twc_addr_from_ip(&to, req->u.host, req->u.port, NULL) == 0) {
        c->connector = twc_connector_new(a->r, &to, a->connect_ms, f, err);
        if (c->connector == NULL) {
            conn_unlink(c);
            goto fail;
        }
        return c;
    }
    if (a->resolver == NULL) {
        conn_unlink(c);
        twc_err_set(err, TWC_EDNS, "cannot resolve '%s': no resolver", req->u.host);
        goto fail;
    }
    c->connecting = twc_connect_host(a->r, a->resolver, req->u.host, req->u.port, a->connect_ms, f);
    twc_deferred_add_callbacks(c->connecting, on_connect_ok, on_connect_err, c);
    return c;
nomem:
    twc_err_set(err, TWC_ENOMEM, "out of memory");
fail:
    c->req = NULL;
    conn_free_now(c);
    return NULL;
}

/* ---- Requests: dispatch and response --------------------------------------- */

static void req_dispatch(struct twc_http_client_request *req)
{
    twc_http_agent *a = req->a;
    struct conn *c;
    char key[300];
    twc_err err;

    if (a == NULL) {
        req_fail(req, TWC_ECANCELED, "agent freed");
        return;
    }
    snprintf(key, sizeof(key), "%s://%s:%u", req->u.tls ? "https" : "http", req->u.host,
             (unsigned)req->u.port);
    if (!req->fresh) {
        for (c = a->conns; c != NULL; c = c->next) {
            if (c->state == C_IDLE && strcmp(c->key, key) == 0) {
                req_send(req, c);
                return;
            }
        }
    }
    req->fresh = false;
    twc_err_clear(&err);
    c = conn_new(a, req, &err);
    if (c == NULL) {
        req_fail_err(req, &err);
        return;
    }
    req->conn = c;
}

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Copy the head into the request's storage. */
static int store_head(struct twc_http_client_request *req, const struct twc_http_head *h)
{
    size_t i, *offs;
    int rc = 0;

    twc_buf_reset(&req->store);
    free(req->hdrs);
    req->hdrs = calloc(h->nheaders + 1, sizeof(*req->hdrs));
    offs = calloc(2 * h->nheaders + 3, sizeof(*offs));
    if (req->hdrs == NULL || offs == NULL) {
        free(offs);
        return TWC_ENOMEM;
    }
    /* Offsets first (the buffer may move while it grows), pointers after. */
    offs[0] = 0;
    rc = twc_buf_append(&req->store, h->reason.p, h->reason.len);
    if (rc == 0)
        rc = twc_buf_append(&req->store, "", 1);
    offs[1] = twc_buf_len(&req->store);
    if (rc == 0)
        rc = twc_buf_append(&req->store, req->url, strlen(req->url) + 1);
    for (i = 0; i < h->nheaders && rc == 0; i++) {
        offs[2 + 2 * i] = twc_buf_len(&req->store);
        rc = twc_buf_append(&req->store, h->headers[i].name.p, h->headers[i].name.len);
        if (rc == 0)
            rc = twc_buf_append(&req->store, "", 1);
        offs[3 + 2 * i] = twc_buf_len(&req->store);
        if (rc == 0)
            rc = twc_buf_append(&req->store, h->headers[i].value.p, h->headers[i].value.len);
        if (rc == 0)
            rc = twc_buf_append(&req->store, "", 1);
    }
    if (rc == 0) {
        const char *base = (const char *)twc_buf_data(&req->store);

        for (i = 0; i < h->nheaders; i++) {
            req->hdrs[i].name.p = (const uint8_t *)base + offs[2 + 2 * i];
            req->hdrs[i].name.len = h->headers[i].name.len;
            req->hdrs[i].value.p = (const uint8_t *)base + offs[3 + 2 * i];
            req->hdrs[i].value.len = h->headers[i].value.len;
        }
        req->nhdrs = h->nheaders;
        req->resp.status = h->status;
        req->resp.version_minor = h->version_minor;
        req->resp.reason = base + offs[0];
        req->resp.url = base + offs[1];
        req->resp.headers = req->hdrs;
        req->resp.nheaders = h->nheaders;
        req->resp.redirects = req->redirects;
        req->resp.framing = h->framing;
        req->resp.content_length = h->content_length;
    }
    free(offs);
    return rc;
}

/* A redirect to follow? Sets req->location and rewrites the method/body. */
static bool want_redirect(struct twc_http_client_request *req, const struct twc_http_head *h)
{
    twc_slice loc;
    char *next;
    bool to_get;

    if (!is_redirect(h->status) || req->max_redirects == 0)
        return false;
    if (!twc_http_head_get(h, "Location", &loc) || loc.len == 0)
        return false;
    to_get = (h->status == 303 && strcmp(req->method, "HEAD") != 0) ||
             ((h->status == 301 || h->status == 302) && strcmp(req->method, "POST") == 0);
    if (req->stream && !to_get)
        return false; /* a streamed body cannot be sent again */
    next = malloc(TWC_HTTP_URL_MAX + 1);
    if (next == NULL)
        return false;
    if (twc_http_url_resolve(req->url, (const char *)loc.p, loc.len, next, TWC_HTTP_URL_MAX + 1) <
        0) {
        free(next);
        return false;
    }
    free(req->location);
    req->location = next;
    req->redirecting = true;
    if (to_get) {
        /* RFC 9110 §15.4.4: "the user agent ... changes the method to GET";
         * the body and the fields that describe it go too. */
        char *m = strdup("GET");

        if (m != NULL) {
            free(req->method);
            req->method = m;
        }
        free(req->body);
        req->body = NULL;
        req->body_len = 0;
        req->has_body = false;
        req->stream = false;
    }
    return true;
}

/* The redirected request starts over on the new URL. */
static void follow_redirect(struct twc_http_client_request *req)
{
    struct twc_http_url nu;
    twc_err err;

    req->redirecting = false;
    if (req->redirects >= req->max_redirects) {
        req_fail(req, TWC_EPROTO, "maximum (%u) redirects followed", req->max_redirects);
        return;
    }
    twc_err_clear(&err);
    if (twc_http_url_parse(&nu, req->location, &err) < 0) {
        req_fail_err(req, &err);
        return;
    }
    /* A Location's own userinfo is not used, and not logged either. */
    explicit_bzero(nu.credentials, sizeof(nu.credentials));
    nu.has_credentials = false;
    twc_http_url_redact(req->location, req->location, strlen(req->location) + 1);
    if (nu.tls != req->u.tls || strcasecmp(nu.host, req->u.host) != 0 || nu.port != req->u.port) {
        /* Credentials stay with the origin (scheme, host and port) they were
         * meant for, as curl does (RFC 9110 §15.4 security considerations):
         * once a redirect leaves it they are gone for good. */
        drop_basic(req);
        twc_buf kept;
        const uint8_t *p = twc_buf_data(&req->fields), *end = p + twc_buf_len(&req->fields);

        twc_buf_init(&kept, twc_buf_len(&req->fields) + 1);
        while (p != NULL && p < end) {
            const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
            size_t n = eol != NULL ? (size_t)(eol - p) + 1 : (size_t)(end - p);

            if (!(n > 14 && strncasecmp((const char *)p, "authorization:", 14) == 0) &&
                !(n > 7 && strncasecmp((const char *)p, "cookie:", 7) == 0) &&
                !(n > 5 && strncasecmp((const char *)p, "host:", 5) == 0))
                twc_buf_append(&kept, p, n);
            p += n;
        }
        twc_buf_cleanup(&req->fields);
        req->fields = kept;
        req->user_host = false;
    }
    free(req->url);
    req->url = req->location;
    req->location = NULL;
    req->u = nu;
    req->redirects++;
    req->sent_all = false;
    req->retried = false;
    req_dispatch(req);
}

/* The response ended completely on c. */
static void message_end(struct conn *c, bool keep)
{
    struct twc_http_client_request *req = c->req;
    bool reusable = keep && req->sent_all && !req->conn_close;

    twc_timer_stop(req->timer);
    req->conn = NULL;
    conn_release(c, reusable);
    if (req->redirecting) {
        follow_redirect(req);
        return;
    }
    req_end(req, NULL);
}

/* Feed response bytes; stops early when the consumer pauses (the rest goes to
 * c->pending) or the request ends. */
static void conn_process(struct conn *c, const uint8_t *data, size_t len)
{
    size_t off = 0;

    while (off < len) {
        struct twc_http_client_request *req = c->req;
        struct twc_http_event ev;
        ssize_t n;

        if (req == NULL) {
            conn_close(c, true); /* bytes after the response: untrusted */
            return;
        }
        if (req->paused) {
            if (twc_buf_append(&c->pending, data + off, len - off) < 0)
                req_fail(req, TWC_ENOMEM, "out of memory");
            else if (c->proto.transport != NULL)
                twc_transport_pause_reading(c->proto.transport);
            return;
        }
        n = twc_http_parser_feed(&c->parser, data + off, len - off, &ev);
        if (n < 0) {
            req_fail(req, TWC_EPROTO, "bad response from %s: %s", c->key, ev.why);
            return;
        }
        off += (size_t)n;
        c->got += (uint64_t)n;
        if (ev.type == TWC_HTTP_EV_HEAD) {
            const struct twc_http_head *h = ev.head;

            if (h->status < 200) {
                if (h->status == 101) {
                    req_fail(req, TWC_EPROTO, "%s switched protocols (101) unasked", c->key);
                    return;
                }
                continue; /* 100 Continue, 103 Early Hints: the final one follows */
            }
            if (store_head(req, h) < 0) {
                req_fail(req, TWC_ENOMEM, "out of memory");
                return;
            }
            twc_timer_stop(req->timer);
            if (!want_redirect(req, h)) {
                req->head_fired = true;
                req->depth++;
                twc_deferred_resolve(req->d, &req->resp, NULL);
                if (req_leave(req) || req->ended || c->req != req)
                    return;
            } else if (req->on_redirect != NULL) {
                req->depth++;
                req->on_redirect(req->arg, &req->resp);
                if (req_leave(req) || req->ended || c->req != req)
                    return;
            }
            if (ev.complete) {
                message_end(c, h->keep_alive);
                continue;
            }
            req_timer_start(req, T_BODY, req->a->body_idle_ms);
        } else if (ev.type == TWC_HTTP_EV_BODY || ev.type == TWC_HTTP_EV_END) {
            if (ev.type == TWC_HTTP_EV_BODY && !req->redirecting && req->on_body != NULL) {
                req->depth++;
                req->on_body(req->arg, ev.body.p, ev.body.len);
                if (req_leave(req) || req->ended || c->req != req)
                    return;
            }
            if (ev.complete) {
                message_end(c, c->parser.head.keep_alive);
                continue;
            }
            if (!req->paused)
                req_timer_start(req, T_BODY, req->a->body_idle_ms);
        }
    }
}

/* After resume: the held bytes, then a close that arrived meanwhile. */
static void resume_soon(void *arg)
{
    struct twc_http_client_request *req = arg;
    struct conn *c = req->conn;
    twc_buf held;

    req->depth--;
    if (req->zombie) {
        if (req->depth == 0)
            req_really_free(req);
        return;
    }
    if (c == NULL || req->paused)
        return;
    if (twc_buf_len(&c->pending) > 0) {
        held = c->pending;
        twc_buf_init(&c->pending, TWC_WRITE_HIGH_WATER);
        req->depth++;
        conn_process(c, twc_buf_data(&held), twc_buf_len(&held));
        twc_buf_cleanup(&held);
        if (req_leave(req))
            return;
        if (req->conn != c || twc_buf_len(&c->pending) > 0)
            return;
    }
    if (c->lost) {
        conn_lost_req(c);
        conn_destroy(c, c->r);
    } else if (c->proto.transport != NULL) {
        twc_transport_resume_reading(c->proto.transport);
        if (req->conn == c && !req->ended)
            req_timer_start(req, T_BODY, req->a->body_idle_ms);
    }
}

/* ---- Public request API ---------------------------------------------------- */

static bool token_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return false;
    return true;
}

static void swallow_cancel(void *arg, twc_result *r)
{
    (void)arg;
    if (twc_result_code(r) == TWC_ECANCELED)
        twc_result_set(r, NULL, NULL);
}

static void on_cancel(void *arg, twc_deferred *d)
{
    struct twc_http_client_request *req = arg;

    (void)d;
    /* The deferred fails with TWC_ECANCELED after we return: do not fire it. */
    req->head_fired = true;
    req_fail(req, TWC_ECANCELED, "request cancelled");
}

static int copy_fields(struct twc_http_client_request *req,
                       const struct twc_http_client_request_opts *o, twc_err *err)
{
    size_t i;

    for (i = 0; i < o->nheaders; i++) {
        const char *n = o->headers[i].name, *v = o->headers[i].value;

        if (strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "Transfer-Encoding") == 0)
            continue;
        if (strcasecmp(n, "Connection") == 0) {
            if (twc_http_list_has((const uint8_t *)v, strlen(v), "close"))
                req->conn_close = true;
            continue;
        }
        if (strcasecmp(n, "Host") == 0)
            req->user_host = true;
        else if (strcasecmp(n, "Authorization") == 0)
            req->user_auth = true; /* wins over the URL's credentials (curl) */
        else if (strcasecmp(n, "User-Agent") == 0)
            req->user_agent = true;
        else if (strcasecmp(n, "Accept") == 0)
            req->user_accept = true;
        if (twc_http_write_header_str(&req->fields, n, v) < 0)
            return twc_err_set(err, TWC_EINVAL, "bad request header '%s'", n);
    }
    return 0;
}

/* Turn the URL's credentials into the Authorization value, then forget them. */
static int take_credentials(struct twc_http_client_request *req, twc_err *err)
{
    size_t cap = 8 + (sizeof(req->u.credentials) + 2) / 3 * 4;
    int rc = 0;

    if (req->u.has_credentials) {
        req->basic = malloc(cap);
        if (req->basic == NULL)
            rc = twc_err_set(err, TWC_ENOMEM, "out of memory");
        else if (twc_http_url_basic_auth(&req->u, req->basic, cap) < 0)
            rc = twc_err_set(err, TWC_EINVAL, "url credentials too long");
        if (rc < 0) {
            free(req->basic); /* never filled: nothing secret in it */
            req->basic = NULL;
        }
    }
    explicit_bzero(req->u.credentials, sizeof(req->u.credentials));
    req->u.has_credentials = false;
    return rc;
}

twc_http_client_request *twc_http_client_request_new(twc_http_agent *a,
                                                     const struct twc_http_client_request_opts *o,
                                                     twc_err *err)
{
    struct twc_http_client_request *req;
    const char *method = o->method;

    if (method == NULL)
        method = o->has_body || o->body != NULL || o->stream_body ? "POST" : "GET";
    if (!token_ok(method)) {
        twc_err_set(err, TWC_EINVAL, "bad method '%s'", method);
        return NULL;
    }
    if (o->url == NULL || (o->stream_body && o->body != NULL)) {
        twc_err_set(err, TWC_EINVAL, "a request needs a url and at most one kind of body");
        return NULL;
    }
    req = calloc(1, sizeof(*req));
    if (req == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    req->a = a;
    twc_buf_init(&req->fields, TWC_HTTP_HEADER_BYTES_MAX);
    twc_buf_init(&req->prebuf, TWC_HTTP_CLIENT_PREBUF + TWC_WRITE_HIGH_WATER);
    twc_buf_init(&req->store, RESP_STORE_MAX);
    if (twc_http_url_parse(&req->u, o->url, err) < 0 || copy_fields(req, o, err) < 0)
        goto fail;
    if (take_credentials(req, err) < 0)
        goto fail;
    req->method = strdup(method);
    req->url = strdup(o->url);
    req->timer = twc_timer_new(a->r, on_req_timer, req);
    if (req->method == NULL || req->url == NULL || req->timer == NULL)
        goto nomem;
    twc_http_url_redact(req->url, req->url, strlen(req->url) + 1);
    if (o->body != NULL || o->has_body) {
        req->has_body = true;
        req->body_len = o->body != NULL ? o->body_len : 0;
        if (req->body_len > 0) {
            req->body = malloc(req->body_len);
            if (req->body == NULL)
                goto nomem;
            memcpy(req->body, o->body, req->body_len);
        }
    }
    req->stream = o->stream_body;
    req->stream_len = o->stream_length;
    req->max_redirects = o->max_redirects;
    req->on_body = o->on_body;
    req->on_drain = o->on_drain;
    req->on_end = o->on_end;
    req->on_redirect = o->on_redirect;
    req->arg = o->arg;
    req->d = twc_deferred_new(on_cancel, req);
    twc_deferred_set_reactor(req->d, a->r);
    req->next = a->reqs;
    if (a->reqs != NULL)
        a->reqs->prev = req;
    a->reqs = req;
    /* Start from the loop: no callback runs inside this call. */
    req_timer_start(req, T_DISPATCH, 0);
    return req;
nomem:
    twc_err_set(err, TWC_ENOMEM, "out of memory");
fail:
    req->a = NULL;
    req_really_free(req);
    return NULL;
}

twc_deferred *twc_http_client_request_head(twc_http_client_request *req)
{
    req->head_wanted = true;
    return twc_deferred_ref(req->d);
}

const struct twc_http_client_response *
twc_http_client_request_response(const twc_http_client_request *req)
{
    return req->resp.status != 0 && req->head_fired ? &req->resp : NULL;
}

bool twc_http_client_response_get(const struct twc_http_client_response *resp, const char *name,
                                  twc_slice *value)
{
    size_t i;

    for (i = 0; i < resp->nheaders; i++) {
        if (twc_http_slice_eq(resp->headers[i].name, name)) {
            *value = resp->headers[i].value;
            return true;
        }
    }
    return false;
}

int twc_http_client_request_write(twc_http_client_request *req, const void *data, size_t len)
{
    if (!req->stream || req->stream_ended)
        return TWC_EINVAL;
    if (req->ended)
        return TWC_ECLOSED;
    if (req->stream_len != TWC_HTTP_LENGTH_UNKNOWN && len > req->stream_len - req->streamed)
        return TWC_EINVAL;
    req->streamed += len;
    if (req->conn == NULL || req->conn->state != C_BUSY) {
        if (twc_buf_append(&req->prebuf, data, len) < 0)
            return TWC_ENOMEM;
        if (twc_buf_len(&req->prebuf) >= TWC_HTTP_CLIENT_PREBUF)
            req->want_drain = true;
        return req->want_drain ? 1 : 0;
    }
    if (req->sent_all)
        return 0; /* the server answered early: the rest is not wanted */
    if (stream_out(req, data, len) < 0)
        return TWC_ECLOSED;
    if (twc_transport_buffered(req->conn->proto.transport) >= TWC_WRITE_HIGH_WATER)
        req->want_drain = true;
    return req->want_drain ? 1 : 0;
}

int twc_http_client_request_end(twc_http_client_request *req)
{
    if (!req->stream || req->stream_ended)
        return TWC_EINVAL;
    if (req->stream_len != TWC_HTTP_LENGTH_UNKNOWN && req->streamed != req->stream_len)
        return TWC_EINVAL;
    req->stream_ended = true;
    if (req->ended)
        return TWC_ECLOSED;
    if (req->conn != NULL && req->conn->state == C_BUSY && !req->sent_all)
        return stream_finish(req) < 0 ? TWC_ECLOSED : 0;
    return 0;
}

void twc_http_client_request_pause(twc_http_client_request *req)
{
    if (req->paused || req->ended)
        return;
    req->paused = true;
    if (req->timer_kind == T_BODY)
        twc_timer_stop(req->timer);
    if (req->conn != NULL && req->conn->proto.transport != NULL)
        twc_transport_pause_reading(req->conn->proto.transport);
}

void twc_http_client_request_resume(twc_http_client_request *req)
{
    if (!req->paused || req->ended)
        return;
    req->paused = false;
    if (req->conn == NULL)
        return;
    req->depth++; /* held by the queued call */
    if (twc_reactor_call_soon(req->a->r, resume_soon, req) < 0)
        req->depth--;
}

void twc_http_client_request_free(twc_http_client_request *req)
{
    if (req == NULL)
        return;
    if (req->zombie)
        return;
    if (!req->ended) {
        /* Freeing is not an error to report: swallow the cancellation unless
         * a link the user added handles it first. */
        if (!req->head_fired)
            twc_deferred_add_errback(req->d, swallow_cancel, NULL);
        req->depth++;
        req_fail(req, TWC_ECANCELED, "request cancelled");
        req->depth--;
    }
    req->zombie = true;
    if (req->depth == 0)
        req_really_free(req);
}

/* ---- Agent ------------------------------------------------------------------- */

twc_http_agent *twc_http_agent_new(twc_reactor *r, const struct twc_http_agent_opts *o,
                                   twc_err *err)
{
    struct twc_http_agent_opts def;
    twc_http_agent *a;

    if (o == NULL) {
        memset(&def, 0, sizeof(def));
        o = &def;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    a->r = r;
    a->resolver = o->resolver;
    a->insecure = o->insecure;
    a->connect_ms = o->connect_timeout_ms != 0 ? o->connect_timeout_ms : TWC_HTTP_CLIENT_CONNECT_MS;
    a->head_ms = o->head_timeout_ms != 0 ? o->head_timeout_ms : TWC_HTTP_CLIENT_HEAD_MS;
    a->body_idle_ms = o->body_idle_ms != 0 ? o->body_idle_ms : TWC_HTTP_CLIENT_BODY_IDLE_MS;
    a->idle_ms = o->idle_ms != 0 ? o->idle_ms : TWC_HTTP_CLIENT_IDLE_MS;
    a->max_idle = o->max_idle_per_host != 0 ? o->max_idle_per_host : TWC_HTTP_CLIENT_POOL_PER_HOST;
    if (o->limits != NULL) {
        a->lim = *o->limits;
    } else {
        memset(&a->lim, 0, sizeof(a->lim));
        a->lim.max_body = UINT64_MAX; /* a client downloads what it asked for */
    }
    if (o->ca_certs != NULL) {
        a->ca_certs = strdup(o->ca_certs);
        if (a->ca_certs == NULL) {
            free(a);
            twc_err_set(err, TWC_ENOMEM, "out of memory");
            return NULL;
        }
        /* Load it now so a bad file is a startup error, not a request error. */
        {
            struct twc_tls_client_opts to;

            memset(&to, 0, sizeof(to));
            to.ca_certs = a->ca_certs;
            to.insecure = a->insecure;
            to.alpn = "http/1.1";
            a->tls = twc_tls_ctx_new_client(&to, err);
            if (a->tls == NULL) {
                free(a->ca_certs);
                free(a);
                return NULL;
            }
        }
    }
    return a;
}

void twc_http_agent_free(twc_http_agent *a)
{
    if (a == NULL)
        return;
    while (a->reqs != NULL) {
        struct twc_http_client_request *req = a->reqs;

        req_unlink(req);
        if (!req->ended)
            req_fail(req, TWC_ECANCELED, "agent freed");
        req->a = NULL;
    }
    while (a->conns != NULL) {
        struct conn *c = a->conns;

        conn_close(c, true);
        if (c->a != NULL) {
            if (c->connected || c->inner != NULL || c->connector != NULL ||
                (c->connecting != NULL && !twc_deferred_fired(c->connecting)))
                conn_unlink(c); /* its close arrives from the loop and frees it */
            else
                conn_destroy(c, a->r);
        }
    }
    twc_tls_ctx_free(a->tls);
    free(a->ca_certs);
    free(a);
}

size_t twc_http_agent_idle(const twc_http_agent *a)
{
    const struct conn *c;
    size_t n = 0;

    for (c = a->conns; c != NULL; c = c->next)
        if (c->state == C_IDLE)
            n++;
    return n;
}
