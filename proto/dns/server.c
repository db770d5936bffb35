/*
 * DNS over UDP and TCP on top of an authority (proto/dns/server.h).
 *
 * Owns: the UDP ports and TCP listeners of one `twc dns`, its TCP connections
 * with their framing, ordering and idle timers, zone transfers in progress,
 * forwarded queries waiting for their answer, and the reference-counted
 * authority they answer from.
 *
 * One response buffer per server (TWC_DNS_TCP_MAX plus the 2-byte TCP prefix)
 * serves every answer: the loop is single-threaded and a response is handed to
 * sendto or copied by twc_transport_write before the next one is built.
 */
#define _GNU_SOURCE
#include "proto/dns/server.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "deferred.h"
#include "limits.h"
#include "log.h"
#include "proto/framing/lenprefix.h"
#include "protocol.h"
#include "stream.h"
#include "udp.h"

#define SYSTEM        "dns"
#define RCODE_NOTAUTH 9 /* RFC 2136 §2.2; RFC 5936 §2.2.1 for a zone we do not serve */

/* An authority with the transfers still reading it. */
struct auth_ref {
    twc_dns_auth *a;
    unsigned refs;
};

struct dns_udp {
    twc_datagram_protocol base; /* first: lib/udp hands us &base */
    twc_dns_server *s;
};

struct tcp_conn;

/* A query handed to the forwarder, waiting for its answer. */
struct fwd {
    twc_dns_server *s;  /* NULL once the server is gone */
    struct tcp_conn *c; /* TCP: the connection (NULL once it is gone); UDP: NULL */
    twc_deferred *d;    /* the forwarder's query while it runs (to cancel it) */
    int udp;
    int starting; /* inside twc_dns_forward: a failure now is synchronous */
    int sync_failed;
    twc_dns_query q;      /* the client's query as parsed (id, question, EDNS) */
    twc_addr from;        /* UDP: where to answer */
    struct dns_udp *port; /* UDP: the port it came on (checked against s->udps) */
    struct fwd *prev, *next;
};

/* A zone transfer in progress on a TCP connection (RFC 5936 §2.2). */
struct xfr {
    struct auth_ref *ref;
    twc_dns_axfr it;
    twc_dns_query q;
    twc_dns_rr held; /* a record that did not fit the previous message */
    int have_held;
    int first; /* the next message is the first: it carries the question */
};

struct tcp_conn {
    twc_protocol base; /* first: the transport hands us &base */
    twc_dns_server *s;
    struct tcp_conn *prev, *next;
    twc_lenprefix_parser lp;
    twc_buf backlog; /* bytes read while busy, not yet framed */
    twc_timer *idle;
    struct fwd *fwd; /* forwarded query in progress (answers stay in order) */
    struct xfr *xfr; /* zone transfer in progress */
    int out_paused;  /* output above high water (pause_producing) */
    int closing;
};

struct twc_dns_server {
    twc_reactor *r;
    twc_factory factory;
    struct auth_ref *auth;
    enum twc_dns_miss miss;
    twc_dns_forwarder *fwd;
    twc_dns_cache *cache;
    int forwarding;
    int verbose;
    struct dns_udp **udps;
    size_t nudps;
    twc_listener **listeners;
    size_t nlisteners;
    struct tcp_conn *conns;
    size_t nconns;
    struct fwd *fwds; /* pending forwarded queries */
    int stopping;
    void (*stopped)(void *arg);
    void *stopped_arg;
    uint64_t queries;
    uint8_t buf[2 + TWC_DNS_TCP_MAX]; /* TCP prefix, then the message */
};

/* ---- Authority references -------------------------------------------------- */

static struct auth_ref *auth_ref_get(struct auth_ref *ref)
{
    ref->refs++;
    return ref;
}

static void auth_ref_put(struct auth_ref *ref)
{
    if (ref != NULL && --ref->refs == 0) {
        twc_dns_auth_free(ref->a);
        free(ref);
    }
}

/* ---- Answering ------------------------------------------------------------- */

static void log_query(twc_dns_server *s, const char *proto, const twc_dns_query *q,
                      const twc_addr *peer, const uint8_t *resp, size_t len)
{
    char name[TWC_DNS_NAME_TEXT_MAX], type[16], addr[TWC_ADDR_STRLEN];
    int parsed = q->qdcount == 1 && q->question_end > TWC_DNS_HEADER_LEN;

    if (parsed)
        twc_dns_name_format(&q->q.name, name, sizeof(name));
    else
        memcpy(name, "-", 2);
    twc_log_info(s->r, SYSTEM, "%s %s %s %s from %s: %s%s", proto, name,
                 parsed ? twc_dns_type_name(q->q.qtype, type, sizeof(type)) : "-",
                 parsed ? "query" : "message",
                 peer != NULL ? twc_addr_format(peer, addr, sizeof(addr)) : "?",
                 len >= 4 ? twc_dns_rcode_name(resp[3] & 0xf) : "dropped",
                 len >= 4 && (resp[2] & (TWC_DNS_F_TC >> 8)) ? " (truncated)" : "");
}

/* Set RA when we offer recursion (the authority never does, authority.h). */
static void mark_recursion(twc_dns_server *s, uint8_t *resp, size_t len)
{
    if (s->forwarding && len >= 4)
        resp[3] |= (uint8_t)TWC_DNS_F_RA;
}

/*
 * Answer one query into w (whose buffer is s->buf at some offset). Returns 1
 * with a finished response in w, 0 when the query goes to the forwarder (the
 * caller starts it), or -1 to send nothing.
 */
static int answer(twc_dns_server *s, const twc_dns_query *q, int rc, int tcp, twc_dns_writer *w)
{
    enum twc_dns_auth_result res;

    s->queries++;
    /* A response (QR set) is never answered: two servers must not ping-pong. */
    if (rc != TWC_EOF && (q->flags & TWC_DNS_F_QR))
        return -1;
    if (rc == 0 && !tcp && q->q.qtype == TWC_DNS_AXFR && TWC_DNS_OPCODE(q->flags) == 0) {
        /* RFC 5936 §4.2: AXFR is a TCP-only exchange; over UDP the request
         * is malformed, FORMERR as BIND answers it (NSD says NOTIMP). */
        twc_dns_reply_rcode(q, TWC_DNS_FORMERR, w);
        return 1;
    }
    res = twc_dns_auth_answer(s->auth->a, q, rc, w);
    if (res == TWC_DNS_AUTH_DROP)
        return -1;
    if (res == TWC_DNS_AUTH_NOT_AUTHORITATIVE) {
        if (s->forwarding)
            return 0;
        twc_dns_reply_rcode(
            q, s->miss == TWC_DNS_MISS_NXDOMAIN ? TWC_DNS_NXDOMAIN : TWC_DNS_REFUSED, w);
        /* Our own data decides NXDOMAIN: it is an authoritative answer. */
        if (s->miss == TWC_DNS_MISS_NXDOMAIN && w->len >= 4)
            w->buf[2] |= (uint8_t)(TWC_DNS_F_AA >> 8);
    }
    mark_recursion(s, w->buf, w->len);
    return 1;
}

/*
 * The reply to f's client in s->buf + off: the forwarded (or cached) response
 * adapted to the client (its id, TTLs aged, EDNS matched, truncated to limit
 * with TC, cache.h), or SERVFAIL when there is none. Returns its length.
 */
static size_t shape_forwarded(twc_dns_server *s, const twc_dns_query *q, const uint8_t *resp,
                              size_t len, size_t off, size_t limit)
{
    uint8_t *out = s->buf + off;
    twc_dns_writer w;
    int n = -1;

    if (resp != NULL)
        n = twc_dns_response_adapt(resp, len, q, 0, limit, out, TWC_DNS_TCP_MAX);
    if (n <= 0) {
        twc_dns_writer_init(&w, out, TWC_DNS_TCP_MAX, limit);
        twc_dns_reply_rcode(q, TWC_DNS_SERVFAIL, &w);
        n = (int)w.len;
    }
    mark_recursion(s, out, (size_t)n);
    return (size_t)n;
}

/* From the cache (-c): the adapted answer in s->buf + off, or 0 on a miss. */
static size_t from_cache(twc_dns_server *s, const twc_dns_query *q, size_t off, size_t limit)
{
    int n;

    if (s->cache == NULL)
        return 0;
    n = twc_dns_cache_answer(s->cache, q, limit, s->buf + off, TWC_DNS_TCP_MAX);
    if (n <= 0)
        return 0;
    mark_recursion(s, s->buf + off, (size_t)n);
    return (size_t)n;
}

static void fwd_unlink(struct fwd *f)
{
    if (f->s == NULL)
        return;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        f->s->fwds = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    f->prev = f->next = NULL;
}

static void tcp_forward_done(struct tcp_conn *c, struct fwd *f, const uint8_t *resp, size_t len);

/* The forwarder's outcome (either way: add_both). */
static void on_forward_result(void *arg, twc_result *r)
{
    struct fwd *f = arg;
    twc_dns_server *s = f->s;
    const twc_dns_forward_reply *rep = NULL;
    size_t i, n;

    if (twc_result_ok(r))
        rep = twc_result_value(r);
    if (f->starting) {
        /* Failed before twc_dns_forward returned (inflight limit, memory): the
         * caller answers SERVFAIL itself. */
        f->sync_failed = 1;
        if (!twc_result_ok(r))
            twc_result_set(r, NULL, NULL);
        return;
    }
    fwd_unlink(f);
    f->d = NULL;
    if (s != NULL && rep != NULL && s->cache != NULL)
        twc_dns_cache_put(s->cache, twc_dns_cache_variant(&f->q), rep->data, rep->len);
    if (s != NULL && f->udp) {
        /* The port may have been closed (shutdown) while we waited. */
        for (i = 0; i < s->nudps && s->udps[i] != f->port; i++)
            continue;
        if (i < s->nudps) {
            n = shape_forwarded(s, &f->q, rep != NULL ? rep->data : NULL,
                                rep != NULL ? rep->len : 0, 0, twc_dns_response_limit(&f->q, 0));
            if (s->verbose)
                log_query(s, "udp", &f->q, &f->from, s->buf, n);
            twc_udp_send(f->port->base.udp, s->buf, n, &f->from);
        }
    } else if (s != NULL && f->c != NULL) {
        tcp_forward_done(f->c, f, rep != NULL ? rep->data : NULL, rep != NULL ? rep->len : 0);
    }
    if (!twc_result_ok(r))
        twc_result_set(r, NULL, NULL); /* handled: SERVFAIL was sent */
    free(f);
}

/* Hand q to the forwarder. Returns the pending record, or NULL when forwarding
 * could not start (the caller answers SERVFAIL). */
static struct fwd *forward(twc_dns_server *s, const twc_dns_query *q)
{
    struct fwd *f = calloc(1, sizeof(*f));
    twc_deferred *d;

    if (f == NULL)
        return NULL;
    f->s = s;
    f->q = *q;
    f->starting = 1;
    d = twc_dns_forward(s->fwd, q);
    twc_deferred_add_both(d, on_forward_result, f);
    f->starting = 0;
    if (f->sync_failed) {
        twc_deferred_unref(d);
        free(f);
        return NULL;
    }
    /* The forwarder holds its own reference until it fires; ours is only
     * needed to cancel, which on_forward_result makes moot by clearing f->d. */
    f->d = d;
    twc_deferred_unref(d);
    f->next = s->fwds;
    if (s->fwds != NULL)
        s->fwds->prev = f;
    s->fwds = f;
    return f;
}

/* ---- UDP ------------------------------------------------------------------- */

static void on_datagram(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                        const twc_addr *from)
{
    struct dns_udp *u = container_of(p, struct dns_udp, base);
    twc_dns_server *s = u->s;
    twc_dns_query q;
    twc_dns_writer w;
    struct fwd *f;
    int rc, what;

    /* Under 12 bytes the parser fills nothing but EDNS: keep the rest defined. */
    q.id = q.flags = q.qdcount = 0;
    q.question_end = 0;
    rc = twc_dns_query_parse(&q, data, len);
    twc_dns_writer_init(&w, s->buf, TWC_DNS_TCP_MAX, twc_dns_response_limit(&q, 0));
    what = answer(s, &q, rc, 0, &w);
    if (what == 0) {
        w.len = from_cache(s, &q, 0, twc_dns_response_limit(&q, 0));
        if (w.len > 0) {
            what = 1;
        } else {
            f = forward(s, &q);
            if (f != NULL) {
                f->udp = 1;
                f->port = u;
                f->from = *from;
                return;
            }
            twc_dns_reply_rcode(&q, TWC_DNS_SERVFAIL, &w);
            mark_recursion(s, w.buf, w.len);
            what = 1;
        }
    }
    if (s->verbose)
        log_query(s, "udp", &q, from, s->buf, what > 0 ? w.len : 0);
    /* A reply the kernel cannot take now is dropped; the client retries. */
    if (what > 0 && w.len > 0)
        twc_udp_send(p->udp, s->buf, w.len, from);
}

static const struct twc_datagram_ops dns_udp_ops = {
    .name = "dns",
    .datagram_received = on_datagram,
};

/*
 * A burst of queries (a resolver's retries, dnsperf's window) arrives faster
 * than one wakeup drains it; the kernel's default receive buffer (about 200
 * KiB, a few hundred small datagrams once skb overhead counts) then drops
 * queries. Ask for TWC_DNS_UDP_SOCKBUF, past rmem_max when privileged (as NSD
 * and Unbound do); failure only leaves the default.
 */
static void grow_buffers(int fd)
{
    int size = TWC_DNS_UDP_SOCKBUF;

    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int twc_dns_server_listen_udp(twc_dns_server *s, const char *interface, uint16_t port,
                              int reuseport, twc_addr *bound, twc_err *err)
{
    struct twc_udp_listen_opts o = {interface, port, reuseport};
    struct dns_udp **arr;
    struct dns_udp *u;

    arr = realloc(s->udps, (s->nudps + 1) * sizeof(*arr));
    if (arr == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    s->udps = arr;
    u = calloc(1, sizeof(*u));
    if (u == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    u->base.ops = &dns_udp_ops;
    u->s = s;
    if (twc_udp_listen_opts(s->r, &o, &u->base, err) == NULL) {
        free(u);
        return err->code;
    }
    s->udps[s->nudps++] = u;
    grow_buffers(twc_udp_fd(u->base.udp));
    if (bound != NULL && twc_udp_addr(u->base.udp, bound) < 0)
        return twc_err_set(err, TWC_EINTERNAL, "cannot read the bound UDP address");
    return 0;
}

void twc_dns_server_drop_last_udp(twc_dns_server *s)
{
    struct dns_udp *u;

    if (s->nudps == 0)
        return;
    u = s->udps[--s->nudps];
    twc_udp_free(u->base.udp);
    free(u);
}

/* ---- TCP ------------------------------------------------------------------- */

static void process_backlog(struct tcp_conn *c);
static void log_tcp_query(struct tcp_conn *c, const twc_dns_query *q, const uint8_t *resp,
                          size_t len);

static int busy(const struct tcp_conn *c)
{
    return c->fwd != NULL || c->xfr != NULL || c->out_paused || c->closing;
}

/* Queue one response (s->buf + 2, len bytes) with its 2-byte prefix. */
static void tcp_send(struct tcp_conn *c, size_t len)
{
    uint8_t *p = c->s->buf;

    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    twc_transport_write(c->base.transport, p, len + 2);
}

static void idle_restart(struct tcp_conn *c)
{
    if (c->idle != NULL)
        twc_timer_start(c->idle, TWC_DNS_TCP_IDLE_MS, 0);
}

/* A connection with nothing left to do during shutdown closes. */
static void maybe_close_for_shutdown(struct tcp_conn *c)
{
    if (c->s->stopping && c->fwd == NULL && c->xfr == NULL && !c->closing) {
        c->closing = 1;
        twc_transport_lose_connection(c->base.transport);
    }
}

static void xfr_end(struct tcp_conn *c)
{
    auth_ref_put(c->xfr->ref);
    free(c->xfr);
    c->xfr = NULL;
}

/*
 * Send zone-transfer messages until the zone is done or the output is above
 * high water (write_drained brings us back). Each message holds as many
 * records as fit in 65535 bytes (RFC 5936 §2.2); the first carries the
 * question (§2.2.1), and all have the query's id, QR and AA.
 */
static void xfr_pump(struct tcp_conn *c)
{
    twc_dns_server *s = c->s;
    struct xfr *x = c->xfr;
    twc_dns_writer w;
    twc_dns_rr rr;
    int more = 1;

    while (c->xfr != NULL && !c->out_paused && !c->closing) {
        twc_dns_writer_init(&w, s->buf + 2, TWC_DNS_TCP_MAX, TWC_DNS_TCP_MAX);
        twc_dns_write_header(
            &w, x->q.id,
            (uint16_t)(TWC_DNS_F_QR | TWC_DNS_F_AA | (x->q.flags & (TWC_DNS_F_RD | TWC_DNS_F_CD))));
        if (x->first)
            twc_dns_write_question(&w, &x->q.q.name, x->q.q.qtype, x->q.q.qclass);
        for (;;) {
            if (x->have_held) {
                rr = x->held;
            } else if (!twc_dns_axfr_next(&x->it, &rr)) {
                more = 0;
                break;
            }
            if (twc_dns_write_rr(&w, TWC_DNS_AN, &rr) == 0) {
                x->have_held = 0;
                continue;
            }
            if (w.count[TWC_DNS_AN] == 0) {
                /* A record that fits no message (not a servable zone): stop with
                 * what RFC 5936 §2.2 has for a failed transfer. */
                twc_log_warnx(s->r, SYSTEM, "axfr: a record exceeds %d bytes; transfer aborted",
                              TWC_DNS_TCP_MAX);
                twc_dns_reply_rcode(&x->q, TWC_DNS_SERVFAIL, &w);
                tcp_send(c, w.len);
                xfr_end(c);
                return;
            }
            x->held = rr;
            x->have_held = 1;
            break;
        }
        w.truncated = 0; /* full messages continue in the next one: not TC */
        if (x->q.edns.present)
            twc_dns_write_opt(&w, TWC_DNS_EDNS_MAX, 0, (uint16_t)(x->q.edns.flags & 0x8000));
        w.truncated = 0;
        tcp_send(c, twc_dns_writer_finish(&w));
        x->first = 0;
        if (!more) {
            xfr_end(c);
            break;
        }
    }
}

/* Start an AXFR (or an IXFR, answered with the whole zone, RFC 1995 §4). */
static void xfr_start(struct tcp_conn *c, const twc_dns_query *q)
{
    twc_dns_server *s = c->s;
    twc_dns_writer w;
    struct xfr *x;

    x = calloc(1, sizeof(*x));
    if (x == NULL || twc_dns_auth_axfr_start(s->auth->a, &q->q.name, &x->it) < 0) {
        twc_dns_writer_init(&w, s->buf + 2, TWC_DNS_TCP_MAX, TWC_DNS_TCP_MAX);
        twc_dns_reply_rcode(q, x == NULL ? TWC_DNS_SERVFAIL : RCODE_NOTAUTH, &w);
        tcp_send(c, w.len);
        free(x);
        return;
    }
    x->ref = auth_ref_get(s->auth);
    x->q = *q;
    x->first = 1;
    c->xfr = x;
    xfr_pump(c);
}

static void tcp_forward_done(struct tcp_conn *c, struct fwd *f, const uint8_t *resp, size_t len)
{
    size_t n;

    c->fwd = NULL;
    if (!c->closing) {
        n = shape_forwarded(c->s, &f->q, resp, len, 2, TWC_DNS_TCP_MAX);
        if (c->s->verbose)
            log_tcp_query(c, &f->q, c->s->buf + 2, n);
        tcp_send(c, n);
        idle_restart(c);
    }
    maybe_close_for_shutdown(c);
    process_backlog(c);
}

static void log_tcp_query(struct tcp_conn *c, const twc_dns_query *q, const uint8_t *resp,
                          size_t len)
{
    twc_addr peer;
    int have = twc_transport_peer(c->base.transport, &peer) == 0;

    log_query(c->s, "tcp", q, have ? &peer : NULL, resp, len);
}

/* One framed query. */
static void tcp_query(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
    twc_dns_server *s = c->s;
    twc_dns_query q;
    twc_dns_writer w;
    int rc, what;

    q.id = q.flags = q.qdcount = 0;
    q.question_end = 0;
    rc = twc_dns_query_parse(&q, msg, len);
    if (rc == 0 && q.qdcount == 1 && !(q.flags & TWC_DNS_F_QR) && TWC_DNS_OPCODE(q.flags) == 0 &&
        (q.q.qtype == TWC_DNS_AXFR || q.q.qtype == TWC_DNS_IXFR) &&
        q.q.qclass == TWC_DNS_CLASS_IN) {
        s->queries++;
        if (s->verbose)
            log_tcp_query(c, &q, (const uint8_t *)"\0\0\0\0", 4);
        xfr_start(c, &q);
        return;
    }
    twc_dns_writer_init(&w, s->buf + 2, TWC_DNS_TCP_MAX, TWC_DNS_TCP_MAX);
    what = answer(s, &q, rc, 1, &w);
    if (what == 0) {
        w.len = from_cache(s, &q, 2, TWC_DNS_TCP_MAX);
        if (w.len > 0) {
            what = 1;
        } else {
            c->fwd = forward(s, &q);
            if (c->fwd != NULL) {
                c->fwd->c = c;
                return;
            }
            twc_dns_reply_rcode(&q, TWC_DNS_SERVFAIL, &w);
            mark_recursion(s, w.buf, w.len);
            what = 1;
        }
    }
    if (s->verbose)
        log_tcp_query(c, &q, w.buf, what > 0 ? w.len : 0);
    if (what > 0 && w.len > 0)
        tcp_send(c, w.len);
    else if (rc == TWC_EOF) {
        /* Not even a header: nothing to answer, and the stream is suspect. */
        c->closing = 1;
        twc_transport_lose_connection(c->base.transport);
    }
}

/* Frame and answer data until it is used up or the connection gets busy.
 * Returns the bytes consumed, or -1 after aborting the connection. */
static ssize_t feed(struct tcp_conn *c, const uint8_t *data, size_t len)
{
    struct twc_lenprefix_event ev;
    size_t used = 0;
    ssize_t n;

    while (used < len && !busy(c)) {
        n = twc_lenprefix_parser_feed(&c->lp, data + used, len - used, &ev);
        if (n < 0) {
            c->closing = 1;
            twc_transport_abort(c->base.transport);
            return -1;
        }
        used += (size_t)n;
        if (ev.type == TWC_LENPREFIX_EV_FRAME)
            tcp_query(c, ev.payload.p, ev.payload.len);
    }
    return (ssize_t)used;
}

/* Read on only when idle: a busy connection keeps at most one read chunk. */
static void update_reading(struct tcp_conn *c)
{
    if (c->closing)
        return;
    if (busy(c))
        twc_transport_pause_reading(c->base.transport);
    else
        twc_transport_resume_reading(c->base.transport);
}

static void process_backlog(struct tcp_conn *c)
{
    ssize_t n;

    while (twc_buf_len(&c->backlog) > 0 && !busy(c)) {
        n = feed(c, twc_buf_data(&c->backlog), twc_buf_len(&c->backlog));
        if (n < 0)
            return;
        twc_buf_consume(&c->backlog, (size_t)n);
    }
    update_reading(c);
}

static void on_tcp_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct tcp_conn *c = container_of(p, struct tcp_conn, base);
    ssize_t n = 0;

    if (c->closing)
        return;
    idle_restart(c);
    if (twc_buf_len(&c->backlog) == 0) {
        n = feed(c, data, len);
        if (n < 0)
            return;
    }
    if ((size_t)n < len && !c->closing) {
        if (twc_buf_append(&c->backlog, data + n, len - (size_t)n) < 0) {
            c->closing = 1;
            twc_transport_abort(p->transport);
            return;
        }
        process_backlog(c);
        return;
    }
    update_reading(c);
}

static void on_tcp_pause(twc_protocol *p)
{
    struct tcp_conn *c = container_of(p, struct tcp_conn, base);

    c->out_paused = 1;
    update_reading(c);
}

static void on_tcp_drained(twc_protocol *p)
{
    struct tcp_conn *c = container_of(p, struct tcp_conn, base);

    c->out_paused = 0;
    if (c->xfr != NULL)
        xfr_pump(c);
    maybe_close_for_shutdown(c);
    process_backlog(c);
}

/* RFC 7766 §6.2.3: a client that keeps an idle connection open is closed. A
 * connection waiting on the forwarder is not idle. */
static void on_idle(twc_timer *t, void *arg)
{
    struct tcp_conn *c = arg;

    (void)t;
    if (c->closing)
        return;
    if (c->fwd != NULL) {
        idle_restart(c);
        return;
    }
    c->closing = 1;
    if (c->out_paused)
        twc_transport_abort(c->base.transport); /* it does not read its answers */
    else
        twc_transport_lose_connection(c->base.transport);
}

static void on_tcp_made(twc_protocol *p)
{
    struct tcp_conn *c = container_of(p, struct tcp_conn, base);

    idle_restart(c);
}

static void maybe_stopped(twc_dns_server *s)
{
    void (*fn)(void *);

    if (s->stopping && s->nconns == 0 && s->stopped != NULL) {
        fn = s->stopped;
        s->stopped = NULL;
        fn(s->stopped_arg);
    }
}

static void on_tcp_lost(twc_protocol *p, const twc_err *why)
{
    struct tcp_conn *c = container_of(p, struct tcp_conn, base);
    twc_dns_server *s = c->s;

    (void)why;
    if (s != NULL) {
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            s->conns = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        s->nconns--;
    }
    if (c->fwd != NULL)
        c->fwd->c = NULL; /* its answer will go nowhere */
    if (c->xfr != NULL)
        xfr_end(c);
    twc_timer_free(c->idle);
    twc_lenprefix_parser_cleanup(&c->lp);
    twc_buf_cleanup(&c->backlog);
    free(c);
    if (s != NULL)
        maybe_stopped(s);
}

static const struct twc_protocol_ops dns_tcp_ops = {
    .name = "dns",
    .connection_made = on_tcp_made,
    .data_received = on_tcp_data,
    .pause_producing = on_tcp_pause,
    .write_drained = on_tcp_drained,
    .connection_lost = on_tcp_lost,
};

static twc_protocol *build(twc_factory *f, const twc_addr *peer)
{
    twc_dns_server *s = container_of(f, twc_dns_server, factory);
    struct twc_lenprefix_limits lim = {TWC_DNS_TCP_MAX};
    struct tcp_conn *c;

    (void)peer;
    if (s->stopping)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->idle = twc_timer_new(s->r, on_idle, c);
    if (c->idle == NULL) {
        free(c);
        return NULL;
    }
    c->base.ops = &dns_tcp_ops;
    c->s = s;
    twc_lenprefix_parser_init(&c->lp, 2, &lim);
    /* While busy, reading is paused: at most one read chunk waits here. */
    twc_buf_init(&c->backlog, 2 * TWC_READ_CHUNK);
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    return &c->base;
}

static const struct twc_factory_ops dns_factory_ops = {.build = build};

int twc_dns_server_listen_tcp(twc_dns_server *s, const char *interface, uint16_t port,
                              int reuseport, twc_addr *bound, twc_err *err)
{
    struct twc_tcp_listen_opts o = {interface, port, 0, reuseport};
    twc_listener **arr;
    twc_listener *l;

    arr = realloc(s->listeners, (s->nlisteners + 1) * sizeof(*arr));
    if (arr == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    s->listeners = arr;
    l = twc_tcp_listen(s->r, &o, &s->factory, err);
    if (l == NULL)
        return err->code;
    s->listeners[s->nlisteners++] = l;
    if (bound != NULL && twc_listener_addr(l, bound) < 0)
        return twc_err_set(err, TWC_EINTERNAL, "cannot read the bound address");
    return 0;
}

/* ---- Life cycle ------------------------------------------------------------ */

void twc_dns_server_pause_listening(twc_dns_server *s)
{
    size_t i;

    for (i = 0; i < s->nlisteners; i++)
        twc_listener_pause(s->listeners[i]);
    for (i = 0; i < s->nudps; i++)
        twc_udp_pause(s->udps[i]->base.udp);
}

void twc_dns_server_resume_listening(twc_dns_server *s)
{
    size_t i;

    for (i = 0; i < s->nlisteners; i++)
        twc_listener_resume(s->listeners[i]);
    for (i = 0; i < s->nudps; i++)
        twc_udp_resume(s->udps[i]->base.udp);
}

twc_dns_server *twc_dns_server_new(twc_reactor *r, twc_err *err)
{
    twc_dns_server *s = calloc(1, sizeof(*s));

    if (s == NULL)
        goto nomem;
    s->r = r;
    s->factory.ops = &dns_factory_ops;
    s->auth = calloc(1, sizeof(*s->auth));
    if (s->auth == NULL)
        goto nomem;
    s->auth->refs = 1;
    s->auth->a = twc_dns_auth_new();
    if (s->auth->a == NULL || twc_dns_auth_finish(s->auth->a, err) < 0)
        goto nomem;
    return s;
nomem:
    if (s != NULL && s->auth != NULL) {
        twc_dns_auth_free(s->auth->a);
        free(s->auth);
    }
    free(s);
    twc_err_set(err, TWC_ENOMEM, "out of memory");
    return NULL;
}

void twc_dns_server_set_authority(twc_dns_server *s, twc_dns_auth *a, enum twc_dns_miss miss)
{
    struct auth_ref *ref = calloc(1, sizeof(*ref));

    if (ref == NULL) {
        /* Keep serving the old data rather than nothing. */
        twc_log_errorx(s->r, SYSTEM, "out of memory: keeping the old data");
        twc_dns_auth_free(a);
        return;
    }
    ref->a = a;
    ref->refs = 1;
    auth_ref_put(s->auth);
    s->auth = ref;
    s->miss = miss;
}

void twc_dns_server_set_forwarder(twc_dns_server *s, twc_dns_forwarder *f, twc_dns_cache *cache)
{
    s->fwd = f;
    s->cache = f != NULL ? cache : NULL;
    s->forwarding = f != NULL;
}

void twc_dns_server_set_verbose(twc_dns_server *s, int verbose)
{
    s->verbose = verbose;
}

static void close_listeners(twc_dns_server *s)
{
    size_t i;

    for (i = 0; i < s->nlisteners; i++)
        twc_listener_free(s->listeners[i]);
    s->nlisteners = 0;
    while (s->nudps > 0)
        twc_dns_server_drop_last_udp(s);
}

void twc_dns_server_shutdown(twc_dns_server *s, void (*done)(void *arg), void *arg)
{
    struct tcp_conn *c, *next;

    s->stopping = 1;
    s->stopped = done;
    s->stopped_arg = arg;
    close_listeners(s);
    for (c = s->conns; c != NULL; c = next) {
        next = c->next;
        maybe_close_for_shutdown(c);
    }
    if (s->nconns == 0 && s->stopped != NULL) {
        /* Never from inside the call (shared/STYLE.md §3). */
        s->stopped = NULL;
        twc_reactor_call_soon(s->r, done, arg);
    }
}

void twc_dns_server_abort_connections(twc_dns_server *s)
{
    struct tcp_conn *c;

    for (c = s->conns; c != NULL; c = c->next) {
        c->closing = 1;
        twc_transport_abort(c->base.transport);
    }
}

size_t twc_dns_server_connection_count(const twc_dns_server *s)
{
    return s->nconns;
}

uint64_t twc_dns_server_queries(const twc_dns_server *s)
{
    return s->queries;
}

void twc_dns_server_free(twc_dns_server *s)
{
    struct tcp_conn *c;
    struct fwd *f, *next;

    if (s == NULL)
        return;
    close_listeners(s);
    /* Connections outlive s until their connection_lost (from the loop): cut
     * them loose so they free only themselves then. */
    for (c = s->conns; c != NULL; c = c->next) {
        if (c->fwd != NULL)
            c->fwd->c = NULL;
        c->fwd = NULL;
        if (c->xfr != NULL)
            xfr_end(c);
        c->s = NULL;
        c->closing = 1;
        twc_transport_abort(c->base.transport);
    }
    /* Cancelling runs each chain from inside the call: detach first. */
    for (f = s->fwds; f != NULL; f = next) {
        next = f->next;
        f->s = NULL;
        f->prev = f->next = NULL;
        if (f->d != NULL)
            twc_deferred_cancel(f->d); /* on_forward_result frees f */
    }
    s->fwds = NULL;
    auth_ref_put(s->auth);
    free(s->listeners);
    free(s->udps);
    free(s);
}
