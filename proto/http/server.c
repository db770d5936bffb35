/*
 * The HTTP/1.1 server protocol (see server.h).
 *
 * Input is parsed in place from the bytes data_received hands us; only what is
 * left over while a request is in progress is copied to the exchange's `in`
 * (pipelined requests, a body nobody reads yet). One request per connection is
 * active at a time (Twisted's HTTPChannel does the same): that keeps responses
 * in order with no per-request queue.
 *
 * A connection's request state (parser, request, buffers: the exchange) is
 * attached when bytes arrive and given back to the server's spare list when
 * the connection goes idle, so an idle keep-alive connection costs about a
 * hundred bytes here, and a request still costs no allocation.
 *
 * A response head is built in the server's out buffer and sent with its first body bytes in
 * one writev (one syscall for a small response). A handler that keeps the
 * request past render() gets its head copied first (save_head), since the
 * parser's slices die at the next feed.
 *
 * Timeouts use one deadline per connection and one repeating one-second timer
 * per server that scans the connections (nginx-like precision, no timer
 * operations per request).
 */
#define _GNU_SOURCE
#include "proto/http/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "lib/limits.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "lib/transport_int.h"
#include "proto/http/server_int.h"

enum deadline_kind { DL_NONE, DL_IDLE, DL_HEAD, DL_BODY, DL_SEND };

/* The state of one request and its response. A connection holds one only
 * while something is in progress (bytes of a head, a request, a body being
 * discarded, input kept while blocked) and gives it back when it goes idle:
 * an idle keep-alive connection is the small `conn` alone (idle RSS). Given
 * back exchanges wait in the server's spare list, parser tables included, so
 * a busy server allocates nothing per request. */
typedef struct exch {
    struct exch *next_spare;
    twc_http_parser parser;
    twc_buf in;    /* unparsed input kept while blocked */
    twc_buf *rhp;  /* where the handler's header lines go: srv->rh during a
                      synchronous render, else rh */
    twc_buf rh;    /* header lines of a handler answering later */
    twc_buf saved; /* the request head copied for an asynchronous handler */
    twc_http_header *saved_hdrs;
    size_t saved_cap;
    twc_http_request req;
} exch;

typedef struct twc__http_conn {
    twc_protocol base; /* first */
    twc_http_server *srv;
    struct twc__http_conn *prev, *next;
    exch *x;        /* NULL while idle (see exch) */
    twc_addr *peer; /* cached on first use (access logs) */
    uint64_t deadline;
    size_t last_queued; /* output queued at the last deadline check */
    unsigned long nreq;
    int dl_kind;
    bool active, msg_complete, discarding, lost, closing, out_paused, end_pending;
    bool in_parse, kick_queued, read_paused, held;
} conn;

struct twc_http_server {
    twc_factory factory; /* first */
    twc_reactor *reactor;
    struct twc_http_server_opts o;
    char *extra; /* the add_headers lines, CRLF-terminated */
    size_t extra_len;
    char server_line[128];
    size_t server_line_len;
    conn *conns;
    size_t nconns;
    /* Shared by every connection, since a head is built and handed to the
     * transport in one go, and a synchronous render's header lines are
     * moved to the connection when it returns without answering: no
     * per-connection memory for them (idle RSS). */
    twc_buf out;
    twc_buf rh;
    twc_timer *tick;
    time_t date_t;
    char date[TWC_HTTP_DATE_LEN + 1];
    exch *spare; /* given-back exchanges, at most TWC_HTTP_SPARE_EXCHANGES */
    size_t nspare;
    bool stopping, free_pending;
    twc_deferred *draining;
    twc_call_fn on_gone; /* twc_http_server_free_notify's done */
    void *on_gone_arg;
};

static void process_in(conn *c);
static void kick(conn *c);
static void on_kick(void *arg);
static void conn_maybe_free(conn *c);
static void destroy_soon(twc_http_server *s);

/* ---- Exchanges -------------------------------------------------------------- */

static exch *exch_new(twc_http_server *s)
{
    exch *x = s->spare;

    if (x != NULL) {
        s->spare = x->next_spare;
        s->nspare--;
        return x;
    }
    if ((x = calloc(1, sizeof(*x))) == NULL)
        return NULL;
    twc_http_request_parser_init(&x->parser, &s->o.limits);
    twc_buf_init(&x->in, SIZE_MAX);
    twc_buf_init(&x->rh, TWC_HTTP_HEADER_BYTES_MAX * 4);
    twc_buf_init(&x->saved, SIZE_MAX);
    return x;
}

/* Free the buffers a request may have grown; the parser's tables stay. */
static void exch_trim(exch *x)
{
    twc_http_parser_reset(&x->parser);
    if (x->parser.buf_cap > TWC_HTTP_SPARE_PARSER_BUF)
        twc_http_parser_shrink(&x->parser);
    twc_buf_cleanup(&x->in);
    twc_buf_cleanup(&x->rh);
    twc_buf_cleanup(&x->saved);
    free(x->saved_hdrs);
    x->saved_hdrs = NULL;
    x->saved_cap = 0;
}

static void exch_free(exch *x)
{
    exch_trim(x);
    twc_http_parser_cleanup(&x->parser);
    free(x);
}

/* Give x back: kept as a spare, or freed when there are enough. */
static void exch_put(twc_http_server *s, exch *x)
{
    if (s->nspare >= TWC_HTTP_SPARE_EXCHANGES || s->free_pending) {
        exch_free(x);
        return;
    }
    exch_trim(x);
    x->next_spare = s->spare;
    s->spare = x;
    s->nspare++;
}

/* Make sure c has an exchange, its request blank. 0 or TWC_ENOMEM. */
static int conn_attach(conn *c)
{
    exch *x;

    if (c->x != NULL)
        return 0;
    if ((x = exch_new(c->srv)) == NULL)
        return TWC_ENOMEM;
    memset(&x->req, 0, sizeof(x->req));
    x->req.conn = c;
    x->req.file_fd = -1;
    x->rhp = &x->rh;
    c->x = x;
    return 0;
}

/* Give the exchange back if nothing is in progress. Bytes of a head (even
 * the empty lines allowed before one) keep it, so the head timeout that
 * started with them still runs to the end. */
static void conn_detach_idle(conn *c)
{
    exch *x = c->x;

    if (x == NULL || c->active || c->discarding || c->in_parse || c->kick_queued ||
        c->end_pending || c->dl_kind == DL_HEAD || twc_buf_len(&x->in) > 0 ||
        !twc_http_parser_idle(&x->parser))
        return;
    c->x = NULL;
    exch_put(c->srv, x);
}

/* ---- Helpers --------------------------------------------------------------- */

static const char *date_now(twc_http_server *s)
{
    time_t now = time(NULL);

    if (now != s->date_t) {
        s->date_t = now;
        if (twc_http_date_format(now, s->date) < 0)
            snprintf(s->date, sizeof(s->date), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
    return s->date;
}

static void set_deadline(conn *c, int kind)
{
    unsigned ms = 0;

    c->dl_kind = kind;
    switch (kind) {
    case DL_IDLE: ms = c->srv->o.idle_timeout_ms; break;
    case DL_HEAD: ms = c->srv->o.head_timeout_ms; break;
    case DL_BODY: ms = c->srv->o.body_timeout_ms; break;
    case DL_SEND: ms = c->srv->o.send_timeout_ms; break;
    default: c->deadline = 0; return;
    }
    c->deadline = twc_reactor_now(c->srv->reactor) + ms;
}

/* RFC 9110 §9: the methods we know; anything else is 501 (§15.6.2). */
static bool method_known(twc_slice m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE",
                                        "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    size_t i, n;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        n = strlen(known[i]);
        if (m.len == n && memcmp(m.p, known[i], n) == 0)
            return true;
    }
    return false;
}

/* Where the path starts in the target: origin-form as is; absolute-form after
 * "scheme://authority" (RFC 9112 §3.2.2). */
static void split_target(twc_http_request *req)
{
    const uint8_t *t = req->head.target.p;
    size_t len = req->head.target.len, i = 0, q;

    req->root_path = false;
    if (req->head.target_form == TWC_HTTP_TARGET_ABSOLUTE) {
        const uint8_t *sep = memchr(t, ':', len);

        i = sep != NULL ? (size_t)(sep - t) + 1 : len;
        if (i + 2 <= len && t[i] == '/' && t[i + 1] == '/')
            i += 2;
        while (i < len && t[i] != '/' && t[i] != '?')
            i++;
        if (i == len || t[i] == '?')
            req->root_path = true;
    } else if (req->head.target_form != TWC_HTTP_TARGET_ORIGIN) {
        i = len; /* "*" or authority-form: no path */
        req->root_path = true;
    }
    req->path_off = i;
    for (q = i; q < len && t[q] != '?' && t[q] != '#'; q++)
        ;
    req->path_len = q - i;
    if (q < len && t[q] == '?') {
        size_t e = q + 1;

        while (e < len && t[e] != '#')
            e++;
        req->query_off = q + 1;
        req->query_len = e - q - 1;
    } else {
        req->query_off = q;
        req->query_len = 0;
    }
    req->pre_len = 0;
}

/* Copy the request head out of the parser's reach (an asynchronous handler). */
static int save_head(conn *c)
{
    twc_http_request *req = &c->x->req;
    struct twc_http_head *h = &req->head;
    size_t total = h->method.len + h->target.len + h->host.len, i, off;
    uint8_t *dst;
    int rc = 0;

    if (req->saved)
        return 0;
    for (i = 0; i < h->nheaders; i++)
        total += h->headers[i].name.len + h->headers[i].value.len;
    if (h->nheaders > c->x->saved_cap) {
        twc_http_header *n = realloc(c->x->saved_hdrs, h->nheaders * sizeof(*n));

        if (n == NULL)
            return TWC_ENOMEM;
        c->x->saved_hdrs = n;
        c->x->saved_cap = h->nheaders;
    }
    twc_buf_reset(&c->x->saved);
    dst = twc_buf_reserve(&c->x->saved, total + 1, &rc);
    if (dst == NULL)
        return rc;
    off = 0;
#define COPY(sl)                                                                                   \
    do {                                                                                           \
        if ((sl).len > 0)                                                                          \
            memcpy(dst + off, (sl).p, (sl).len);                                                   \
        (sl).p = dst + off;                                                                        \
        off += (sl).len;                                                                           \
    } while (0)
    COPY(h->method);
    COPY(h->target);
    COPY(h->host);
    for (i = 0; i < h->nheaders; i++) {
        c->x->saved_hdrs[i] = h->headers[i];
        COPY(c->x->saved_hdrs[i].name);
        COPY(c->x->saved_hdrs[i].value);
    }
#undef COPY
    twc_buf_commit(&c->x->saved, off);
    h->headers = c->x->saved_hdrs;
    req->saved = true;
    return 0;
}

/* ---- Output ---------------------------------------------------------------- */

static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

/* Build the head in srv->out. body_len: bytes about to be written with it when
 * no length was set (finish with everything known). */
static int build_head(conn *c, bool final, uint64_t body_len)
{
    twc_http_request *req = &c->x->req;
    twc_http_server *s = c->srv;
    twc_buf *b = &s->out;
    bool keep;
    int rc;

    req->no_body = req->is_head || !status_has_body(req->status);
    if (!req->has_length && final && !req->is_head) {
        req->has_length = true;
        req->length = body_len;
    }
    if (!req->no_body && !req->has_length) {
        if (req->head.version_minor >= 1)
            req->chunked = true;
        else
            req->close_after = true; /* HTTP/1.0: the close ends the body */
    }
    keep = c->x->req.head.keep_alive && !req->close_after && !s->stopping && !c->closing;
    if (!keep)
        req->close_after = true;
    twc_buf_reset(b);
    rc = twc_http_write_status_line(b, 1, req->status, req->reason[0] ? req->reason : NULL);
    if (rc < 0)
        return rc;
    rc = twc_buf_append(b, s->server_line, s->server_line_len);
    rc = rc < 0 ? rc : twc_buf_append(b, "Date: ", 6);
    rc = rc < 0 ? rc : twc_buf_append(b, date_now(s), TWC_HTTP_DATE_LEN);
    rc = rc < 0 ? rc : twc_buf_append(b, "\r\n", 2);
    if (rc == 0 && twc_buf_len(c->x->rhp) > 0)
        rc = twc_buf_append(b, twc_buf_data(c->x->rhp), twc_buf_len(c->x->rhp));
    if (rc == 0 && s->extra_len > 0)
        rc = twc_buf_append(b, s->extra, s->extra_len);
    if (rc == 0 && req->status != 204 && req->status != 304 && req->status >= 200) {
        if (req->has_length)
            rc = twc_buf_printf(b, "Content-Length: %llu\r\n", (unsigned long long)req->length);
        else if (req->chunked)
            rc = twc_buf_append(b, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (rc == 0) {
        if (!keep)
            rc = twc_buf_append(b, "Connection: close\r\n", 19);
        else if (req->head.version_minor == 0)
            rc = twc_buf_append(b, "Connection: keep-alive\r\n", 24);
    }
    if (rc == 0)
        rc = twc_http_write_end_of_head(b);
    req->head_sent = true;
    return rc;
}

static int send_iov(conn *c, struct iovec *iov, int n)
{
    if (c->lost || c->base.transport == NULL)
        return TWC_ECLOSED;
    return twc_transport_writev(c->base.transport, iov, n);
}

/* Write the head (if still in srv->out) and body bytes, framed. Nothing
 * builds another head while the transport call runs (transports call no
 * other connection back), so the shared buffer is safe. */
static int emit(conn *c, const void *data, size_t len)
{
    twc_http_request *req = &c->x->req;
    struct iovec iov[4];
    char chunk[24];
    int n = 0, rc;

    if (twc_buf_len(&c->srv->out) > 0) {
        iov[n].iov_base = (void *)twc_buf_data(&c->srv->out);
        iov[n++].iov_len = twc_buf_len(&c->srv->out);
    }
    if (len > 0 && !req->no_body) {
        if (req->chunked) {
            iov[n].iov_base = chunk;
            iov[n++].iov_len = (size_t)snprintf(chunk, sizeof(chunk), "%zx\r\n", len);
        }
        iov[n].iov_base = (void *)data;
        iov[n++].iov_len = len;
        if (req->chunked) {
            iov[n].iov_base = (void *)"\r\n";
            iov[n++].iov_len = 2;
        }
        req->bytes += len;
    }
    if (n == 0)
        return 0;
    rc = send_iov(c, iov, n);
    twc_buf_reset(&c->srv->out);
    return rc;
}

/* ---- Response API ---------------------------------------------------------- */

int twc_http_response_set_status(twc_http_request *req, int status, const char *reason)
{
    if (req->head_sent || status < 200 || status > 999)
        return TWC_EINVAL;
    if (req->status_forced)
        return 0;
    req->status = status;
    req->reason[0] = '\0';
    if (reason != NULL) {
        size_t i;

        for (i = 0; reason[i] != '\0' && i + 1 < sizeof(req->reason); i++) {
            if (reason[i] == '\r' || reason[i] == '\n')
                return TWC_EINVAL;
            req->reason[i] = reason[i];
        }
        req->reason[i] = '\0';
    }
    return 0;
}

int twc_http_response_add_header_n(twc_http_request *req, const char *name, size_t nlen,
                                   const char *value, size_t vlen)
{
    if (req->head_sent)
        return TWC_EINVAL;
    return twc_http_write_header(req->conn->x->rhp, name, nlen, value, vlen);
}

int twc__http_response_add_raw(twc_http_request *req, const void *lines, size_t len)
{
    if (req->head_sent)
        return TWC_EINVAL;
    return twc_buf_append(req->conn->x->rhp, lines, len);
}

int twc_http_response_add_header(twc_http_request *req, const char *name, const char *value)
{
    return twc_http_response_add_header_n(req, name, strlen(name), value, strlen(value));
}

int twc_http_response_set_length(twc_http_request *req, uint64_t len)
{
    if (req->head_sent)
        return TWC_EINVAL;
    req->has_length = true;
    req->length = len;
    return 0;
}

int twc_http_response_write(twc_http_request *req, const void *data, size_t len)
{
    conn *c = req->conn;
    int rc;

    if (req->finished)
        return TWC_EINVAL;
    if (c->lost || req->aborted)
        return TWC_ECLOSED;
    if (!req->head_sent && (rc = build_head(c, false, 0)) < 0)
        return rc;
    if (len == 0 && twc_buf_len(&c->srv->out) == 0)
        return 0;
    return emit(c, data, len);
}

static void do_finish(twc_http_request *req);

/* Copy the pending file range to the transport until it is sent or the output
 * passes the high-water mark (write_drained calls us again). */
static int pump_file(conn *c)
{
    twc_http_request *req = &c->x->req;
    uint8_t buf[16384];
    int rc = 0;

    while (req->file_fd >= 0 && !c->out_paused && !c->lost && !req->aborted) {
        size_t want = req->file_left < sizeof(buf) ? (size_t)req->file_left : sizeof(buf);
        ssize_t n = want > 0 ? pread(req->file_fd, buf, want, (off_t)req->file_off) : 0;

        if (want > 0 && n <= 0) {
            /* The file shrank or failed: the promised length cannot be kept. */
            rc = TWC_EOF;
            twc_http_request_abort(req);
            break;
        }
        if (n > 0) {
            rc = emit(c, buf, (size_t)n);
            req->file_off += (uint64_t)n;
            req->file_left -= (uint64_t)n;
        }
        if (req->file_left == 0 || rc < 0) {
            close(req->file_fd);
            req->file_fd = -1;
        }
    }
    if ((c->lost || req->aborted) && req->file_fd >= 0) {
        close(req->file_fd);
        req->file_fd = -1;
    }
    if (req->file_fd < 0 && req->finish_pending) {
        req->finish_pending = false;
        do_finish(req);
    }
    return rc;
}

int twc_http_response_sendfile(twc_http_request *req, int fd, uint64_t off, uint64_t len)
{
    conn *c = req->conn;
    int rc;

    if (c->lost || req->aborted || req->finished || req->file_fd >= 0) {
        close(fd);
        return req->file_fd >= 0 ? TWC_EINVAL : TWC_ECLOSED;
    }
    if (!req->head_sent && (rc = build_head(c, false, 0)) < 0) {
        close(fd);
        return rc;
    }
    if (req->no_body || len == 0) {
        close(fd);
        return emit(c, NULL, 0);
    }
    if (!req->chunked) {
        int sock = twc_transport_fd(c->base.transport), one = 1, zero = 0;

        /* Cork so the head leaves in the file's first segment (nginx's
         * tcp_nopush); uncorking below pushes whatever is still held. */
        if (sock >= 0 && len >= 65536)
            setsockopt(sock, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
        else
            sock = -1;
        if ((rc = emit(c, NULL, 0)) < 0) {
            close(fd);
            return rc;
        }
        rc = twc_transport_sendfile(c->base.transport, fd, off, len);
        if (sock >= 0 && !c->lost)
            setsockopt(sock, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
        if (rc == 0) {
            req->bytes += len;
            return 0;
        }
        if (rc != TWC_EINVAL) {
            close(fd);
            return rc;
        }
    }
    /* No zero-copy here (TLS, tests, chunked): copy in pieces as the output
     * drains (pump_file), so a large file never sits in memory whole. */
    req->file_fd = fd;
    req->file_off = off;
    req->file_left = len;
    return pump_file(c);
}

int twc_http_response_send(twc_http_request *req, int status, const char *content_type,
                           const void *body, size_t len)
{
    int rc;

    if (req->head_sent || req->finished)
        return TWC_EINVAL;
    if ((rc = twc_http_response_set_status(req, status, NULL)) < 0)
        return rc;
    if (content_type != NULL &&
        (rc = twc_http_response_add_header(req, "Content-Type", content_type)) < 0)
        return rc;
    if (!req->has_length)
        twc_http_response_set_length(req, len);
    rc = twc_http_response_write(req, body, len);
    twc_http_response_finish(req);
    return rc;
}

int twc_http_response_error(twc_http_request *req, int status)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, twc_http_reason(status), status, twc_http_reason(status));

    return twc_http_response_send(req, status, "text/html; charset=utf-8", body, (size_t)n);
}

void twc_http_response_close_after(twc_http_request *req)
{
    req->close_after = true;
}

void twc_http_request_abort(twc_http_request *req)
{
    req->aborted = true;
    if (!req->conn->lost && req->conn->base.transport != NULL)
        twc_transport_abort(req->conn->base.transport);
}

void twc_http_response_set_producer(twc_http_request *req, void (*pause)(void *),
                                    void (*resume)(void *), void *arg)
{
    req->p_pause = pause;
    req->p_resume = resume;
    req->p_arg = arg;
}

size_t twc_http_response_buffered(const twc_http_request *req)
{
    const conn *c = req->conn;

    return c->lost || c->base.transport == NULL ? 0 : twc_transport_buffered(c->base.transport);
}

int twc_http_response_status(const twc_http_request *req)
{
    return req->status;
}

uint64_t twc_http_response_bytes(const twc_http_request *req)
{
    return req->bytes;
}

bool twc_http_response_head_sent(const twc_http_request *req)
{
    return req->head_sent;
}

static void end_body(conn *c, const twc_err *why)
{
    twc_http_request *req = &c->x->req;

    if (req->body_ops != NULL && !req->body_ended) {
        req->body_ended = true;
        req->body_ops->end(req->body_arg, req, why);
    }
}

/* The connection can take the next request. */
static void next_request(conn *c)
{
    c->active = false;
    c->discarding = false;
    c->msg_complete = false;
    memset(&c->x->req, 0, sizeof(c->x->req));
    c->x->req.conn = c;
    c->x->req.file_fd = -1;
    twc_buf_reset(&c->x->rh);
    c->x->rhp = &c->x->rh;
    if (c->srv->stopping && !c->lost) {
        c->closing = true;
        twc_transport_lose_connection(c->base.transport);
        return;
    }
    set_deadline(c, DL_IDLE);
}

void twc_http_response_finish(twc_http_request *req)
{
    if (req->finished || req->finish_pending)
        return;
    if (req->file_fd >= 0) {
        req->finish_pending = true; /* pump_file finishes once the file is sent */
        return;
    }
    do_finish(req);
}

static void do_finish(twc_http_request *req)
{
    conn *c = req->conn;
    twc_http_server *s = c->srv;
    twc_deferred *d;

    req->finished = true;
    if (!c->lost && !req->aborted) {
        if (!req->head_sent)
            build_head(c, true, 0);
        if (req->chunked && !req->no_body) {
            twc_buf_append(&c->srv->out, "0\r\n\r\n", 5);
        }
        emit(c, NULL, 0);
    }
    c->nreq++;
    if (s->o.access_log != NULL)
        s->o.access_log(s->o.access_log_arg, req);
    {
        /* The request event (shared/CLI.md); returns at once above debug. */
        const twc_log_field f[] = {
            {"status", NULL, req->status},
            {"bytes", NULL, (long long)req->bytes},
        };

        twc_log_event(s->reactor, TWC_LOG_DEBUG, "http", "request", f, 2, "%.*s %.*s HTTP/1.%d %d",
                      (int)req->head.method.len, (const char *)req->head.method.p,
                      (int)req->head.target.len, (const char *)req->head.target.p,
                      req->head.version_minor, req->status);
    }
    d = req->finish_d;
    req->finish_d = NULL;
    if (d != NULL) {
        if (c->lost)
            twc_deferred_reject(d, TWC_ECLOSED, "connection lost");
        else
            twc_deferred_resolve(d, NULL, NULL);
    }
    if (req->body_ops != NULL && !req->body_ended && c->lost) {
        twc_err e;

        twc_err_set(&e, TWC_ECLOSED, "connection lost");
        end_body(c, &e);
    }
    req->body_ops = NULL;
    c->active = false;
    if (c->lost) {
        conn_maybe_free(c);
        return;
    }
    if (req->close_after || req->aborted ||
        (!c->msg_complete && req->head.expect_continue && !req->continue_sent)) {
        c->closing = true;
        twc_transport_lose_connection(c->base.transport);
        return;
    }
    if (c->msg_complete)
        next_request(c);
    else {
        c->discarding = true; /* the rest of the body is read and dropped */
        set_deadline(c, DL_BODY);
    }
    kick(c);
    conn_detach_idle(c);
}

/* ---- Request API ----------------------------------------------------------- */

twc_slice twc_http_request_method(const twc_http_request *req)
{
    return req->head.method;
}

twc_slice twc_http_request_target(const twc_http_request *req)
{
    return req->head.target;
}

static twc_slice sub(const twc_http_request *req, size_t off, size_t len)
{
    twc_slice s = {req->head.target.p + off, len};

    return s;
}

twc_slice twc_http_request_path(const twc_http_request *req)
{
    if (req->root_path) {
        twc_slice s = {(const uint8_t *)"/", 1};

        return s;
    }
    return sub(req, req->path_off, req->path_len);
}

twc_slice twc_http_request_query(const twc_http_request *req)
{
    return sub(req, req->query_off, req->query_len);
}

twc_slice twc_http_request_prepath(const twc_http_request *req)
{
    twc_slice p = twc_http_request_path(req);

    p.len = req->pre_len;
    return p;
}

twc_slice twc_http_request_postpath(const twc_http_request *req)
{
    twc_slice p = twc_http_request_path(req);

    p.p += req->pre_len;
    p.len -= req->pre_len;
    return p;
}

int twc_http_request_version_minor(const twc_http_request *req)
{
    return req->head.version_minor;
}

const struct twc_http_head *twc_http_request_head(const twc_http_request *req)
{
    return &req->head;
}

bool twc_http_request_header(const twc_http_request *req, const char *name, twc_slice *value)
{
    return twc_http_head_get(&req->head, name, value);
}

int twc_http_request_peer(twc_http_request *req, twc_addr *out)
{
    conn *c = req->conn;
    int rc;

    if (c->peer == NULL) {
        twc_addr a;

        if (c->lost || c->base.transport == NULL)
            return TWC_ECLOSED;
        if ((rc = twc_transport_peer(c->base.transport, &a)) < 0)
            return rc;
        if ((c->peer = malloc(sizeof(*c->peer))) == NULL)
            return TWC_ENOMEM;
        *c->peer = a;
    }
    *out = *c->peer;
    return 0;
}

bool twc_http_request_is_secure(const twc_http_request *req)
{
    const conn *c = req->conn;

    return c->base.transport != NULL && twc_tls_is_tls(c->base.transport);
}

bool twc_http_request_is_head(const twc_http_request *req)
{
    return req->is_head;
}

twc_reactor *twc_http_request_reactor(const twc_http_request *req)
{
    return req->conn->srv->reactor;
}

time_t twc_http_request_time(const twc_http_request *req)
{
    return req->time;
}

bool twc_http_request_has_body(const twc_http_request *req)
{
    return req->head.framing == TWC_HTTP_BODY_CHUNKED ||
           (req->head.framing == TWC_HTTP_BODY_LENGTH && req->head.content_length > 0);
}

int twc_http_request_read_body(twc_http_request *req, const struct twc_http_body_ops *ops,
                               void *arg)
{
    conn *c = req->conn;

    if (req->body_ops != NULL || req->body_started || req->finished)
        return TWC_EINVAL;
    req->body_ops = ops;
    req->body_arg = arg;
    if (c->msg_complete) {
        /* No body, or all of it was read: end(NULL) from the loop (on_kick),
         * never from inside this call. */
        if (!c->kick_queued) {
            if (twc_reactor_call_soon(c->srv->reactor, on_kick, c) < 0) {
                req->body_ops = NULL;
                return TWC_ENOMEM;
            }
            c->kick_queued = true;
        }
        c->end_pending = true;
        return 0;
    }
    /* RFC 9110 §10.1.1: the client waits for 100 before sending the body. */
    if (req->head.expect_continue && !req->continue_sent && !c->lost) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

        req->continue_sent = true;
        twc_transport_write(c->base.transport, cont, sizeof(cont) - 1);
    }
    kick(c);
    return 0;
}

void twc_http_request_pause_body(twc_http_request *req)
{
    req->body_paused = true;
}

void twc_http_request_resume_body(twc_http_request *req)
{
    req->body_paused = false;
    kick(req->conn);
}

twc_deferred *twc_http_request_notify_finish(twc_http_request *req)
{
    twc_deferred *d;

    if (req->finish_d != NULL)
        return twc_deferred_ref(req->finish_d);
    /* Two references: the producer's (kept until we fire) and the caller's. */
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_set_reactor(d, req->conn->srv->reactor);
    if (req->conn->lost || req->finished) {
        if (req->finished && !req->conn->lost)
            twc_deferred_resolve(d, NULL, NULL);
        else
            twc_deferred_reject(d, TWC_ECLOSED, "connection lost");
        return d;
    }
    req->finish_d = d;
    return d;
}

/* ---- Input ------------------------------------------------------------------ */

/* Answer an error found by the parser (or by us) and close. */
static void fail_request(conn *c, int code, int status, const char *why)
{
    twc_http_request *req;

    if (conn_attach(c) < 0) {
        c->closing = true;
        twc_transport_abort(c->base.transport);
        return;
    }
    req = &c->x->req;
    twc_log_debug(c->srv->reactor, "http", "bad request: %d %s", status, why);
    c->closing = true;
    if (!c->active) {
        memset(req, 0, sizeof(*req));
        req->conn = c;
        req->file_fd = -1;
        req->head.version_minor = 1;
        req->close_after = true;
        req->time = time(NULL);
        c->x->rhp = &c->srv->rh;
        twc_buf_reset(c->x->rhp);
        req->head.method.p = (const uint8_t *)"-";
        req->head.method.len = 1;
        c->active = true;
        twc_http_response_error(req, status);
        c->active = false;
    } else {
        twc_err e;

        /* The body went wrong under a handler: whatever it answers, the
         * status is the parser's (413, 400), and the connection closes. */
        if (!req->head_sent) {
            req->status = status;
            req->reason[0] = '\0';
            req->status_forced = true;
        }
        req->close_after = true;
        twc_err_set(&e, code, "%s", why);
        end_body(c, &e);
    }
    twc_transport_lose_connection(c->base.transport);
}

static void start_request(conn *c, const struct twc_http_head *h, bool complete)
{
    twc_http_request *req = &c->x->req;
    twc_http_resource *res;

    memset(req, 0, sizeof(*req));
    req->conn = c;
    req->file_fd = -1;
    req->head = *h;
    req->status = 200;
    req->time = time(NULL);
    req->is_head = h->method.len == 4 && memcmp(h->method.p, "HEAD", 4) == 0;
    c->x->rhp = &c->srv->rh;
    twc_buf_reset(c->x->rhp);
    split_target(req);
    c->active = true;
    c->msg_complete = complete;
    set_deadline(c, complete ? DL_NONE : DL_BODY);
    if (!method_known(h->method)) {
        req->close_after = !complete;
        twc_http_response_error(req, 501);
        return;
    }
    if (h->target_form == TWC_HTTP_TARGET_ASTERISK) {
        /* "OPTIONS *": the server as a whole (RFC 9110 §9.3.7). */
        twc_http_response_add_header(req, "Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
        twc_http_response_send(req, 200, NULL, NULL, 0);
        return;
    }
    res = c->srv->o.root != NULL ? twc__http_resource_walk(c->srv->o.root, req) : NULL;
    if (res == NULL || res->ops == NULL || res->ops->render == NULL) {
        twc_http_response_error(req, 404);
        return;
    }
    res->ops->render(res, req);
    if (c->active && !req->finished) {
        /* Answering later: keep the head and the header lines. */
        if (c->x->rhp == &c->srv->rh) {
            twc_buf_reset(&c->x->rh);
            if (!req->head_sent && twc_buf_len(&c->srv->rh) > 0 &&
                twc_buf_append(&c->x->rh, twc_buf_data(&c->srv->rh), twc_buf_len(&c->srv->rh)) < 0)
                twc_http_request_abort(req);
            c->x->rhp = &c->x->rh;
        }
        if (save_head(c) < 0) {
            req->close_after = true;
            twc_http_request_abort(req);
        }
    }
}

static bool blocked(const conn *c)
{
    if (c->closing || c->lost)
        return true;
    if (c->active)
        return c->msg_complete || c->x->req.body_ops == NULL || c->x->req.body_paused;
    return !c->discarding && c->out_paused;
}

/* Feed data to the parser while nothing blocks it. Returns bytes consumed. */
static size_t parse(conn *c, const uint8_t *data, size_t len)
{
    struct twc_http_event ev;
    size_t off = 0;
    ssize_t n;

    c->in_parse = true;
    while (off < len && !blocked(c)) {
        bool was_idle = !c->active && !c->discarding && twc_http_parser_idle(&c->x->parser);

        n = twc_http_parser_feed(&c->x->parser, data + off, len - off, &ev);
        if (n < 0) {
            fail_request(c, (int)n, ev.status != 0 ? ev.status : 400, ev.why ? ev.why : "bad request");
            break;
        }
        off += (size_t)n;
        if (was_idle && ev.type == TWC_HTTP_EV_NONE)
            set_deadline(c, DL_HEAD);
        switch (ev.type) {
        case TWC_HTTP_EV_HEAD:
            start_request(c, ev.head, ev.complete);
            break;
        case TWC_HTTP_EV_BODY:
            if (c->active) {
                c->x->req.body_started = true;
                set_deadline(c, DL_BODY);
                if (c->x->req.body_ops != NULL)
                    c->x->req.body_ops->data(c->x->req.body_arg, &c->x->req, ev.body.p, ev.body.len);
            }
            break;
        default:
            break;
        }
        if (ev.complete && ev.type != TWC_HTTP_EV_HEAD) {
            if (c->active) {
                c->msg_complete = true;
                set_deadline(c, DL_NONE);
                end_body(c, NULL);
            } else if (c->discarding) {
                next_request(c);
            }
        }
    }
    c->in_parse = false;
    return off;
}

static void update_reading(conn *c)
{
    bool want_pause = c->x != NULL && twc_buf_len(&c->x->in) > 0 && blocked(c);

    if (c->lost || c->closing || c->base.transport == NULL)
        return;
    if (want_pause && !c->read_paused) {
        c->read_paused = true;
        twc_transport_pause_reading(c->base.transport);
    } else if (!want_pause && c->read_paused && !blocked(c)) {
        c->read_paused = false;
        twc_transport_resume_reading(c->base.transport);
    }
}

static void process_in(conn *c)
{
    size_t n;

    if (c->x != NULL && twc_buf_len(&c->x->in) > 0 && !c->in_parse) {
        n = parse(c, twc_buf_data(&c->x->in), twc_buf_len(&c->x->in));
        if (!c->lost)
            twc_buf_consume(&c->x->in, n);
    }
    update_reading(c);
}

static void on_kick(void *arg)
{
    conn *c = arg;

    c->kick_queued = false;
    if (c->end_pending) {
        /* A body-less request's end comes from the loop (read_body). */
        c->end_pending = false;
        if (c->active) {
            c->held = true; /* the handler may finish, even on a lost connection */
            end_body(c, NULL);
            c->held = false;
        }
    }
    if (c->lost) {
        conn_maybe_free(c);
        return;
    }
    process_in(c);
    conn_detach_idle(c);
}

/* Something that blocked parsing went away: go on from the loop (never from
 * inside the handler's call). */
static void kick(conn *c)
{
    if (c->in_parse || c->kick_queued || c->lost)
        return;
    if (c->x == NULL || twc_buf_len(&c->x->in) == 0) {
        update_reading(c);
        return;
    }
    if (twc_reactor_call_soon(c->srv->reactor, on_kick, c) == 0)
        c->kick_queued = true;
}

/* ---- Protocol ops ---------------------------------------------------------- */

static void on_connection_made(twc_protocol *p)
{
    conn *c = (conn *)p;

    set_deadline(c, DL_IDLE);
}

static void on_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    conn *c = (conn *)p;
    size_t n = 0;
    int rc;

    if (c->closing)
        return;
    if (conn_attach(c) < 0) {
        twc_transport_abort(c->base.transport);
        return;
    }
    if (twc_buf_len(&c->x->in) == 0 && !c->in_parse)
        n = parse(c, data, len);
    if (n < len && !c->closing && !c->lost) {
        if ((rc = twc_buf_append(&c->x->in, data + n, len - n)) < 0) {
            twc_transport_abort(c->base.transport);
            return;
        }
        if (n == 0 && !blocked(c))
            process_in(c);
    }
    update_reading(c);
    conn_detach_idle(c);
}

static void on_pause_producing(twc_protocol *p)
{
    conn *c = (conn *)p;

    c->out_paused = true;
    if (c->dl_kind == DL_NONE)
        set_deadline(c, DL_SEND);
    if (c->active && c->x->req.p_pause != NULL)
        c->x->req.p_pause(c->x->req.p_arg);
}

static void on_write_drained(twc_protocol *p)
{
    conn *c = (conn *)p;

    c->out_paused = false;
    if (c->dl_kind == DL_SEND)
        set_deadline(c, c->active ? DL_NONE : DL_IDLE);
    if (c->active && c->x->req.file_fd >= 0)
        pump_file(c);
    if (c->active && c->x->req.p_resume != NULL)
        c->x->req.p_resume(c->x->req.p_arg);
    kick(c);
}

static void conn_free(conn *c)
{
    twc_http_server *s = c->srv;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    if (c->x != NULL)
        exch_put(s, c->x);
    free(c->peer);
    free(c);
    if (s->nconns == 0) {
        twc_timer_stop(s->tick);
        if (s->draining != NULL) {
            twc_deferred *d = s->draining;

            s->draining = NULL;
            twc_deferred_resolve(d, NULL, NULL);
        }
        if (s->free_pending)
            destroy_soon(s);
    }
}

/* Free once the transport is gone and no handler holds the request. */
static void conn_maybe_free(conn *c)
{
    if (!c->lost || c->active || c->held)
        return;
    if (c->kick_queued)
        return; /* on_kick frees it */
    conn_free(c);
}

static void on_connection_lost(twc_protocol *p, const twc_err *why)
{
    conn *c = (conn *)p;
    twc_err e;

    (void)why;
    c->lost = true;
    c->held = true; /* handlers called below may finish: free at the end */
    if (c->active) {
        twc_http_request *req = &c->x->req;

        twc_err_set(&e, TWC_ECLOSED, "connection lost");
        if (req->finish_d != NULL) {
            twc_deferred *d = req->finish_d;

            req->finish_d = NULL;
            twc_deferred_reject(d, TWC_ECLOSED, "connection lost");
        }
        if (!c->msg_complete)
            end_body(c, &e);
        /* A paused producer must learn the client left: resumed, its next
         * write fails with TWC_ECLOSED and it finishes. */
        if (req->p_resume != NULL && c->out_paused && !req->finished)
            req->p_resume(req->p_arg);
        if (req->file_fd >= 0) {
            close(req->file_fd);
            req->file_fd = -1;
            if (req->finish_pending) {
                req->finish_pending = false;
                do_finish(req);
            }
        }
    }
    c->held = false;
    conn_maybe_free(c);
}

static const struct twc_protocol_ops http_ops = {
    .name = "http",
    .connection_made = on_connection_made,
    .data_received = on_data_received,
    .pause_producing = on_pause_producing,
    .write_drained = on_write_drained,
    .connection_lost = on_connection_lost,
};

/* ---- Timeouts ---------------------------------------------------------------- */

static void on_tick(twc_timer *t, void *arg)
{
    twc_http_server *s = arg;
    uint64_t now = twc_reactor_now(s->reactor);
    conn *c, *next;

    (void)t;
    for (c = s->conns; c != NULL; c = next) {
        next = c->next;
        conn_detach_idle(c); /* a safety net: every path going idle does it */
        if (c->lost || c->closing || c->dl_kind == DL_NONE || now < c->deadline)
            continue;
        int kind = c->dl_kind;
        size_t queued = twc_transport_buffered(c->base.transport);

        if ((kind == DL_IDLE || kind == DL_SEND) && queued > 0 && queued != c->last_queued) {
            /* Still sending a response (a large file to a slow client) and
             * making progress: not idle, not stalled. */
            c->last_queued = queued;
            c->deadline = now + s->o.send_timeout_ms;
            continue;
        }

        twc_log_debug(s->reactor, "http", "connection timed out (%s)",
                      kind == DL_IDLE ? "idle" : kind == DL_HEAD ? "head"
                                           : kind == DL_BODY ? "body" : "send");
        c->dl_kind = DL_NONE;
        if (kind == DL_HEAD && !c->active) {
            fail_request(c, TWC_ETIMEDOUT, 408, "request head timeout");
            continue;
        }
        c->closing = true;
        twc_transport_abort(c->base.transport);
    }
}

/* ---- Factory and server --------------------------------------------------------- */

static twc_protocol *build(twc_factory *f, const twc_addr *peer)
{
    twc_http_server *s = (twc_http_server *)f;
    conn *c;

    if (s->stopping)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->base.ops = &http_ops;
    c->srv = s;
    (void)peer; /* asked for only when needed (access logs) */
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    if (s->nconns++ == 0)
        twc_timer_start(s->tick, 1000, 1000);
    return &c->base;
}

static const struct twc_factory_ops factory_ops = {.build = build};

twc_http_server *twc_http_server_new(twc_reactor *r, const struct twc_http_server_opts *opts,
                                     twc_err *err)
{
    twc_http_server *s = calloc(1, sizeof(*s));
    twc_buf b;
    size_t i;
    int rc = 0;

    if (s == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    s->factory.ops = &factory_ops;
    s->reactor = r;
    twc_buf_init(&s->out, SIZE_MAX);
    twc_buf_init(&s->rh, TWC_HTTP_HEADER_BYTES_MAX * 4);
    s->o = *opts;
    if (s->o.head_timeout_ms == 0)
        s->o.head_timeout_ms = TWC_HTTP_HEAD_TIMEOUT_MS;
    if (s->o.body_timeout_ms == 0)
        s->o.body_timeout_ms = TWC_HTTP_BODY_TIMEOUT_MS;
    if (s->o.idle_timeout_ms == 0)
        s->o.idle_timeout_ms = TWC_HTTP_IDLE_TIMEOUT_MS;
    if (s->o.send_timeout_ms == 0)
        s->o.send_timeout_ms = TWC_HTTP_SEND_TIMEOUT_MS;
    if (opts->server_name != NULL && (strpbrk(opts->server_name, "\r\n") != NULL ||
                                      strlen(opts->server_name) > sizeof(s->server_line) - 16)) {
        twc_err_set(err, TWC_EINVAL, "bad server name");
        goto fail;
    }
    snprintf(s->server_line, sizeof(s->server_line), "Server: %s\r\n",
             opts->server_name != NULL ? opts->server_name : "twc");
    s->server_line_len = strlen(s->server_line);
    twc_buf_init(&b, 65536);
    for (i = 0; i < opts->nadd_headers && rc == 0; i++) {
        const char *line = opts->add_headers[i], *colon = strchr(line, ':');
        const char *v;

        if (colon == NULL || colon == line) {
            twc_err_set(err, TWC_EINVAL, "--add-header '%s': expected \"Name: value\"", line);
            twc_buf_cleanup(&b);
            goto fail;
        }
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        rc = twc_http_write_header(&b, line, (size_t)(colon - line), v, strlen(v));
        if (rc < 0) {
            twc_err_set(err, TWC_EINVAL, "--add-header '%s': not a valid header field", line);
            twc_buf_cleanup(&b);
            goto fail;
        }
    }
    if (twc_buf_len(&b) > 0) {
        s->extra = malloc(twc_buf_len(&b));
        if (s->extra == NULL) {
            twc_buf_cleanup(&b);
            twc_err_set(err, TWC_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(s->extra, twc_buf_data(&b), twc_buf_len(&b));
        s->extra_len = twc_buf_len(&b);
    }
    twc_buf_cleanup(&b);
    s->tick = twc_timer_new(r, on_tick, s);
    if (s->tick == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        goto fail;
    }
    return s;

fail:
    free(s->extra);
    free(s);
    return NULL;
}

twc_factory *twc_http_server_factory(twc_http_server *s)
{
    return &s->factory;
}

static void on_drain_cancelled(void *arg, twc_deferred *d)
{
    twc_http_server *s = arg;
    conn *c;

    (void)d;
    s->draining = NULL;
    for (c = s->conns; c != NULL; c = c->next)
        if (!c->lost)
            twc_transport_abort(c->base.transport);
}

twc_deferred *twc_http_server_stop(twc_http_server *s)
{
    conn *c;

    s->stopping = true;
    if (s->nconns == 0)
        return NULL;
    if (s->draining != NULL)
        return twc_deferred_ref(s->draining);
    s->draining = twc_deferred_new(on_drain_cancelled, s);
    twc_deferred_set_reactor(s->draining, s->reactor);
    for (c = s->conns; c != NULL; c = c->next) {
        if (c->lost || c->closing)
            continue;
        if (!c->active && !c->discarding) {
            /* Idle or mid-head: no response owed (shared/CLI.md). */
            c->closing = true;
            twc_transport_lose_connection(c->base.transport);
        } else if (c->x != NULL) {
            c->x->req.close_after = true;
        }
    }
    return s->draining; /* the consumer's reference; ours is the producer's */
}

void twc__http_server_exchanges(const twc_http_server *s, size_t *attached, size_t *spare)
{
    const conn *c;

    *attached = 0;
    for (c = s->conns; c != NULL; c = c->next)
        *attached += c->x != NULL;
    *spare = s->nspare;
}

size_t twc_http_server_connections(const twc_http_server *s)
{
    return s->nconns;
}

/* Free s for good, then tell the owner (whose root and log we no longer use). */
static void server_destroy(twc_http_server *s)
{
    twc_call_fn done = s->on_gone;
    void *arg = s->on_gone_arg;

    while (s->spare != NULL) {
        exch *x = s->spare;

        s->spare = x->next_spare;
        exch_free(x);
    }
    twc_timer_free(s->tick);
    twc_buf_cleanup(&s->out);
    twc_buf_cleanup(&s->rh);
    free(s->extra);
    free(s);
    if (done != NULL)
        done(arg);
}

static void on_destroy(void *arg)
{
    server_destroy(arg);
}

/* The last connection went while its handler may be on the stack (a finish):
 * the owner frees the tree from the loop, never under the handler. */
static void destroy_soon(twc_http_server *s)
{
    if (twc_reactor_call_soon(s->reactor, on_destroy, s) < 0)
        server_destroy(s); /* out of memory: better now than never */
}

void twc_http_server_free_notify(twc_http_server *s, twc_call_fn done, void *arg)
{
    if (s == NULL) {
        if (done != NULL)
            done(arg);
        return;
    }
    s->on_gone = done;
    s->on_gone_arg = arg;
    if (s->nconns > 0) {
        /* Connections still wait for their handler's finish or for
         * connection_lost (the grace period ran out): the last one frees us
         * (conn_free). An owner that is not told when cannot keep the root
         * and the access log alive until then: stop using them. */
        s->free_pending = true;
        s->stopping = true;
        if (done == NULL) {
            s->o.root = NULL;
            s->o.access_log = NULL;
        }
        return;
    }
    server_destroy(s);
}

void twc_http_server_free(twc_http_server *s)
{
    twc_http_server_free_notify(s, NULL, NULL);
}
