/*
 * The forwarder: one query at a time per fwd_query, each try over a fresh
 * connected UDP socket (or TCP after TC), with a timer per try.
 *
 * This file owns the query state machine, the ID generator and the reply
 * checks. A try ends in one of: a matching reply (done, or TC -> TCP, or a
 * bad rcode -> next try), an ICMP refusal or a failed/closed TCP connection
 * (next try), or the timer (next try). When the tries run out the query
 * resolves with the last answer any server gave, else fails with
 * TWC_EDNS_TIMEOUT. A FORMERR or NOTIMP without OPT to a query with OPT asks
 * the same server once more without EDNS (RFC 6891 §7), within the same try.
 *
 * The deferred is fired only after the query has released everything it
 * holds, so a consumer may free the forwarder from inside its callback.
 */
#define _GNU_SOURCE
#include "proto/dns/forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "limits.h"
#include "log.h"
#include "proto/framing/lenprefix.h"
#include "protocol.h"
#include "stream.h"
#include "udp.h"

#define RAND_POOL 256

struct fwd_query;

struct twc_dns_forwarder {
    twc_reactor *r;
    struct twc_resolv_conf rc;
    size_t max_inflight;
    unsigned timeout_ms;
    unsigned attempts;
    int tcp;
    size_t inflight;
    size_t next_server; /* rotate: where the next query starts */
    struct fwd_query *head;
    int closing;
    uint8_t pool[RAND_POOL]; /* getrandom(2) bytes not yet used */
    size_t pool_used;
};

/* One TCP try. Owns itself: a reference for the connector (dropped when the
 * factory hears stop, after the connector's last callback) and one for the
 * protocol (dropped in client_connection_lost, the transport's last use of
 * the factory), so it outlives the query safely. */
struct fwd_tcp {
    twc_factory factory;
    twc_protocol proto;
    struct fwd_query *q; /* NULL once detached from its query */
    twc_connector *conn;
    twc_lenprefix_parser lp;
    int refs;
};

struct fwd_query {
    twc_dns_forwarder *f;
    struct fwd_query *prev, *next;
    twc_deferred *d; /* the producer's reference */
    twc_datagram_protocol dp;
    twc_udp *udp;        /* the current UDP try, or NULL */
    struct fwd_tcp *tcp; /* the current TCP try, or NULL */
    twc_timer *timer;    /* the current try's timeout */
    twc_dns_question q;
    uint16_t flags;
    uint16_t edns_flags;
    int edns;         /* our queries carry OPT (cleared by the EDNS retry) */
    int edns_dropped; /* asked again without OPT: never twice, and no OPT from then on */
    uint16_t id;      /* the current try's ID */
    uint8_t msg[TWC_DNS_UDP_MAX];
    size_t msglen;
    unsigned try;      /* tries started so far, minus one */
    unsigned ntries;   /* attempts * servers */
    size_t first;      /* server of the first try */
    size_t server;     /* server of the current try */
    uint8_t *fallback; /* the last unusable answer (SERVFAIL..., TC), owned */
    size_t fallback_len;
    twc_addr fallback_from;
    int fallback_tcp;
};

static void start_try(struct fwd_query *q);
static void next_try(struct fwd_query *q);

/* ---- Random IDs --------------------------------------------------------------- */

static int refill(twc_dns_forwarder *f)
{
    size_t got = 0;

    while (got < RAND_POOL) {
        ssize_t n = getrandom(f->pool + got, RAND_POOL - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    f->pool_used = 0;
    return 0;
}

uint16_t twc_dns_forwarder_random_id(twc_dns_forwarder *f)
{
    uint16_t v;

    if (f->pool_used + 2 > RAND_POOL && refill(f) < 0) {
        /* getrandom(2) worked when the forwarder was made and cannot fail with
         * a valid buffer afterwards; if it ever does, stir what we have rather
         * than hand out a predictable constant. */
        for (size_t i = 0; i < RAND_POOL; i++)
            f->pool[i] = (uint8_t)(f->pool[i] * 167u + f->pool[(i + 1) % RAND_POOL] + i);
        f->pool_used = 0;
    }
    v = (uint16_t)(f->pool[f->pool_used] << 8 | f->pool[f->pool_used + 1]);
    /* Used bytes are wiped: nothing that reads the struct later learns past IDs. */
    memset(f->pool + f->pool_used, 0, 2);
    f->pool_used += 2;
    return v;
}

/* ---- Replies ------------------------------------------------------------------ */

void twc_dns_forward_reply_free(void *reply)
{
    twc_dns_forward_reply *rp = reply;

    if (rp == NULL)
        return;
    free(rp->data);
    free(rp);
}

int twc_dns_reply_matches(const uint8_t *msg, size_t len, uint16_t id, const twc_dns_question *q)
{
    twc_dns_name name;
    size_t off = TWC_DNS_HEADER_LEN;
    uint16_t flags;

    if (len < TWC_DNS_HEADER_LEN)
        return 0;
    flags = (uint16_t)(msg[2] << 8 | msg[3]);
    if ((uint16_t)(msg[0] << 8 | msg[1]) != id || !(flags & TWC_DNS_F_QR) ||
        TWC_DNS_OPCODE(flags) != 0)
        return 0;
    if ((msg[4] << 8 | msg[5]) != 1)
        return 0;
    if (twc_dns_name_read(msg, len, &off, &name) < 0 || off + 4 > len)
        return 0;
    if ((uint16_t)(msg[off] << 8 | msg[off + 1]) != q->qtype ||
        (uint16_t)(msg[off + 2] << 8 | msg[off + 3]) != q->qclass)
        return 0;
    return twc_dns_name_equal(&name, &q->name);
}

/* ---- Query life ---------------------------------------------------------------- */

static void tcp_release(struct fwd_tcp *t)
{
    if (--t->refs > 0)
        return;
    twc_lenprefix_parser_cleanup(&t->lp);
    free(t);
}

/* Cut the TCP try loose from its query: it closes and frees itself later. */
static void tcp_detach(struct fwd_tcp *t)
{
    t->q = NULL;
    if (t->proto.transport != NULL)
        twc_transport_abort(t->proto.transport);
    twc_connector_free(t->conn); /* its factory stop releases the connector's ref */
    t->conn = NULL;
}

/* Close the current try's sockets (the timer stays). */
static void stop_transports(struct fwd_query *q)
{
    twc_udp_free(q->udp); /* safe from inside its own callback */
    q->udp = NULL;
    if (q->tcp != NULL) {
        tcp_detach(q->tcp);
        q->tcp = NULL;
    }
}

/* Release everything but the deferred and unlink from the forwarder. */
static twc_deferred *query_release(struct fwd_query *q)
{
    twc_dns_forwarder *f = q->f;
    twc_deferred *d = q->d;

    stop_transports(q);
    twc_timer_free(q->timer);
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        f->head = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    f->inflight--;
    free(q->fallback);
    free(q);
    return d;
}

static twc_dns_forward_reply *reply_new(const uint8_t *data, size_t len, const twc_addr *from,
                                        int tcp)
{
    twc_dns_forward_reply *rp = calloc(1, sizeof(*rp));

    if (rp == NULL)
        return NULL;
    rp->data = malloc(len);
    if (rp->data == NULL) {
        free(rp);
        return NULL;
    }
    memcpy(rp->data, data, len);
    rp->len = len;
    rp->server = *from;
    rp->tcp = tcp;
    return rp;
}

static void succeed(struct fwd_query *q, const uint8_t *data, size_t len, int tcp)
{
    twc_dns_forward_reply *rp = reply_new(data, len, &q->f->rc.servers[q->server], tcp);
    twc_deferred *d = query_release(q);

    if (rp == NULL)
        twc_deferred_reject(d, TWC_ENOMEM, "out of memory for a %zu-byte dns reply", len);
    else
        twc_deferred_resolve(d, rp, twc_dns_forward_reply_free);
}

/* Every try is spent: the last answer anyone gave, else a timeout. */
static void give_up(struct fwd_query *q)
{
    twc_dns_forwarder *f = q->f;
    unsigned tries = q->ntries;
    twc_dns_forward_reply *rp = NULL;
    twc_deferred *d;

    if (q->fallback != NULL) {
        rp = calloc(1, sizeof(*rp));
        if (rp != NULL) {
            rp->data = q->fallback; /* moves */
            rp->len = q->fallback_len;
            rp->server = q->fallback_from;
            rp->tcp = q->fallback_tcp;
            q->fallback = NULL;
        }
    }
    d = query_release(q);
    if (rp != NULL)
        twc_deferred_resolve(d, rp, twc_dns_forward_reply_free);
    else
        twc_deferred_reject(d, TWC_EDNS_TIMEOUT, "no answer from %zu nameserver%s after %u tries",
                            f->rc.nservers, f->rc.nservers == 1 ? "" : "s", tries);
}

static void keep_fallback(struct fwd_query *q, const uint8_t *data, size_t len, int tcp)
{
    uint8_t *copy = malloc(len);

    if (copy == NULL)
        return;
    memcpy(copy, data, len);
    free(q->fallback);
    q->fallback = copy;
    q->fallback_len = len;
    q->fallback_from = q->f->rc.servers[q->server];
    q->fallback_tcp = tcp;
}

static void start_tcp(struct fwd_query *q);
static void send_query(struct fwd_query *q, int tcp);

/*
 * RFC 6891 §7: a server that does not implement EDNS answers a query with OPT
 * by FORMERR without OPT (some say NOTIMP, as BIND and Unbound also accept);
 * the requester then asks again without it. A FORMERR that carries OPT comes
 * from a server that knows EDNS and objects to something else: pass it on.
 */
static int edns_refused(const struct fwd_query *q, const twc_dns_msg *m)
{
    unsigned rcode = twc_dns_msg_rcode(m);

    return q->edns && !q->edns_dropped && !m->edns.present &&
           (rcode == TWC_DNS_FORMERR || rcode == TWC_DNS_NOTIMP);
}

/* Ask the current server again, over the same transport, without OPT. The
 * refusal is kept as the fallback, so that if the retry goes unanswered the
 * query still ends with what the server said. Bounded: once per query (the
 * rest of its tries go without OPT too), and the current try's timer restarts,
 * so a query waits at most one timeout longer than before. */
static void retry_without_edns(struct fwd_query *q, const uint8_t *data, size_t len, int tcp)
{
    char who[TWC_ADDR_STRLEN];

    twc_log_debug(q->f->r, "dns", "nameserver %s answered %s to EDNS: asking again without OPT",
                  twc_addr_format(&q->f->rc.servers[q->server], who, sizeof(who)),
                  twc_dns_rcode_name(data[3] & 0x0fu));
    keep_fallback(q, data, len, tcp);
    stop_transports(q);
    q->edns = 0;
    q->edns_dropped = 1;
    send_query(q, tcp);
}

/* A datagram or TCP message from the current try's server. */
static void handle_reply(struct fwd_query *q, const uint8_t *data, size_t len, int tcp)
{
    twc_dns_msg m;
    twc_err err;
    uint16_t flags;
    unsigned rcode;
    int no_edns;
    char who[TWC_ADDR_STRLEN];

    if (!twc_dns_reply_matches(data, len, q->id, &q->q)) {
        /* RFC 5452 §9.1: not our question or not our ID: a stray or a forgery. */
        twc_log_debug(q->f->r, "dns", "ignored a %zu-byte reply from %s: id or question mismatch",
                      len, twc_addr_format(&q->f->rc.servers[q->server], who, sizeof(who)));
        return;
    }
    if (twc_dns_msg_parse(&m, data, len, &err) < 0) {
        twc_log_debug(q->f->r, "dns", "ignored a malformed reply from %s: %s",
                      twc_addr_format(&q->f->rc.servers[q->server], who, sizeof(who)), err.msg);
        return;
    }
    rcode = twc_dns_msg_rcode(&m);
    no_edns = edns_refused(q, &m);
    twc_dns_msg_cleanup(&m);
    if (no_edns) {
        retry_without_edns(q, data, len, tcp);
        return;
    }
    flags = (uint16_t)(data[2] << 8 | data[3]);
    if ((flags & TWC_DNS_F_TC) && !tcp) {
        /* RFC 7766 §5: truncated over UDP, ask the same server over TCP. */
        keep_fallback(q, data, len, 0);
        stop_transports(q);
        start_tcp(q);
        return;
    }
    if ((rcode == TWC_DNS_SERVFAIL || rcode == TWC_DNS_REFUSED || rcode == TWC_DNS_NOTIMP) &&
        q->f->rc.nservers > 1 && q->try + 1 < q->ntries) {
        keep_fallback(q, data, len, tcp);
        next_try(q);
        return;
    }
    succeed(q, data, len, tcp);
}

/* ---- UDP ------------------------------------------------------------------------ */

static void on_datagram(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                        const twc_addr *from)
{
    struct fwd_query *q = container_of(p, struct fwd_query, dp);

    /* The socket is connected, so the kernel already filters; check anyway. */
    if (!twc_addr_equal(from, &q->f->rc.servers[q->server]))
        return;
    handle_reply(q, data, len, 0);
}

static void on_udp_error(twc_datagram_protocol *p, const twc_err *err)
{
    struct fwd_query *q = container_of(p, struct fwd_query, dp);
    char who[TWC_ADDR_STRLEN];

    twc_log_debug(q->f->r, "dns", "nameserver %s: %s",
                  twc_addr_format(&q->f->rc.servers[q->server], who, sizeof(who)), err->msg);
    next_try(q); /* ECONNREFUSED: nobody listens there, do not wait for the timer */
}

static const struct twc_datagram_ops fwd_udp_ops = {
    .name = "dns-forward",
    .datagram_received = on_datagram,
    .error_received = on_udp_error,
};

static int start_udp(struct fwd_query *q)
{
    const twc_addr *to = &q->f->rc.servers[q->server];
    twc_err err;
    int rc;

    /* A new socket per query and per try: a fresh random source port each time
     * (bind to port 0), connected so only the server's datagrams arrive. */
    q->dp.ops = &fwd_udp_ops;
    q->udp = twc_udp_listen(q->f->r, twc_addr_family(to) == AF_INET6 ? "::" : "0.0.0.0", 0, &q->dp,
                            &err);
    if (q->udp == NULL)
        return err.code;
    if (twc_udp_connect(q->udp, to, &err) < 0)
        return err.code;
    rc = twc_udp_send(q->udp, q->msg, q->msglen, NULL);
    if (rc == -EAGAIN)
        rc = 0; /* dropped like a lost datagram: the timer retries */
    return rc;
}

/* ---- TCP ------------------------------------------------------------------------ */

static void tcp_connection_made(twc_protocol *p)
{
    struct fwd_tcp *t = container_of(p, struct fwd_tcp, proto);
    uint8_t prefix[2];
    struct iovec iov[2];

    if (t->q == NULL) {
        twc_transport_abort(p->transport);
        return;
    }
    prefix[0] = (uint8_t)(t->q->msglen >> 8);
    prefix[1] = (uint8_t)t->q->msglen;
    iov[0].iov_base = prefix;
    iov[0].iov_len = 2;
    iov[1].iov_base = t->q->msg;
    iov[1].iov_len = t->q->msglen;
    twc_transport_writev(p->transport, iov, 2);
}

static void tcp_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct fwd_tcp *t = container_of(p, struct fwd_tcp, proto);
    struct twc_lenprefix_event ev;

    while (len > 0 && t->q != NULL) {
        ssize_t n = twc_lenprefix_parser_feed(&t->lp, data, len, &ev);

        if (n < 0) {
            struct fwd_query *q = t->q;

            next_try(q); /* detaches and aborts us */
            return;
        }
        data += n;
        len -= (size_t)n;
        if (ev.type == TWC_LENPREFIX_EV_FRAME)
            handle_reply(t->q, ev.payload.p, ev.payload.len, 1);
    }
}

static void tcp_connection_lost(twc_protocol *p, const twc_err *why)
{
    struct fwd_tcp *t = container_of(p, struct fwd_tcp, proto);

    struct fwd_query *q = t->q;

    (void)why;
    if (q != NULL) {
        /* Closed before a matching answer: detach by hand (the transport is
         * going away already), then move on. */
        q->tcp = NULL;
        t->q = NULL;
        twc_connector_free(t->conn);
        t->conn = NULL;
        next_try(q);
    }
    /* Our reference goes in client_connection_lost: the transport reads the
     * factory (embedded in t) after this returns. */
}

static void tcp_client_connection_lost(twc_factory *fac, const twc_err *why)
{
    (void)why;
    tcp_release(container_of(fac, struct fwd_tcp, factory));
}

static const struct twc_protocol_ops fwd_tcp_ops = {
    .name = "dns-forward",
    .connection_made = tcp_connection_made,
    .data_received = tcp_data_received,
    .connection_lost = tcp_connection_lost,
};

static twc_protocol *tcp_build(twc_factory *fac, const twc_addr *peer)
{
    struct fwd_tcp *t = container_of(fac, struct fwd_tcp, factory);

    (void)peer;
    if (t->q == NULL)
        return NULL;
    t->refs++;
    t->proto.ops = &fwd_tcp_ops;
    return &t->proto;
}

static void tcp_connection_failed(twc_factory *fac, const twc_err *why)
{
    struct fwd_tcp *t = container_of(fac, struct fwd_tcp, factory);

    if (t->q == NULL)
        return;
    twc_log_debug(t->q->f->r, "dns", "%s", why->msg);
    next_try(t->q);
}

static void tcp_factory_stop(twc_factory *fac)
{
    tcp_release(container_of(fac, struct fwd_tcp, factory));
}

static const struct twc_factory_ops fwd_tcp_factory_ops = {
    .build = tcp_build,
    .connection_failed = tcp_connection_failed,
    .client_connection_lost = tcp_client_connection_lost,
    .stop = tcp_factory_stop,
};

static void start_tcp(struct fwd_query *q)
{
    struct fwd_tcp *t = calloc(1, sizeof(*t));
    struct twc_lenprefix_limits lim = {.max_len = TWC_DNS_TCP_MAX};
    twc_err err;

    twc_timer_start(q->timer, q->f->timeout_ms, 0);
    if (t == NULL) {
        twc_timer_start(q->timer, 0, 0);
        return;
    }
    t->factory.ops = &fwd_tcp_factory_ops;
    t->q = q;
    t->refs = 1;
    twc_lenprefix_parser_init(&t->lp, 2, &lim);
    q->tcp = t;
    t->conn = twc_connector_new(q->f->r, &q->f->rc.servers[q->server], q->f->timeout_ms,
                                &t->factory, &err);
    if (t->conn == NULL) {
        /* Refused before the factory was used: no stop will come. */
        q->tcp = NULL;
        tcp_release(t);
        twc_timer_start(q->timer, 0, 0); /* move on from the loop */
    }
}

/* ---- Tries ---------------------------------------------------------------------- */

static int build_query(struct fwd_query *q)
{
    twc_dns_writer w;
    int rc;

    q->id = twc_dns_forwarder_random_id(q->f);
    twc_dns_writer_init(&w, q->msg, sizeof(q->msg), sizeof(q->msg));
    rc = twc_dns_write_header(&w, q->id, q->flags);
    if (rc == 0)
        rc = twc_dns_write_question(&w, &q->q.name, q->q.qtype, q->q.qclass);
    if (rc == 0 && q->edns)
        rc = twc_dns_write_opt(&w, TWC_DNS_EDNS_MAX, 0, q->edns_flags);
    if (rc < 0)
        return rc;
    q->msglen = twc_dns_writer_finish(&w);
    return 0;
}

/* Build the query (a fresh ID each time) and send it to the current server. */
static void send_query(struct fwd_query *q, int tcp)
{
    int rc = build_query(q);

    if (rc == 0 && tcp) {
        start_tcp(q);
        return;
    }
    if (rc == 0)
        rc = start_udp(q);
    /* A socket that could not be made is a failed try; move on from the loop,
     * never from inside the call that started the query. */
    twc_timer_start(q->timer, rc < 0 ? 0 : q->f->timeout_ms, 0);
}

static void start_try(struct fwd_query *q)
{
    twc_dns_forwarder *f = q->f;

    if (q->try >= q->ntries) {
        give_up(q);
        return;
    }
    q->server = (q->first + q->try) % f->rc.nservers;
    send_query(q, f->tcp);
}

static void next_try(struct fwd_query *q)
{
    stop_transports(q);
    q->try++;
    start_try(q);
}

static void on_timeout(twc_timer *tm, void *arg)
{
    struct fwd_query *q = arg;

    (void)tm;
    next_try(q);
}

static void on_cancel(void *arg, twc_deferred *d)
{
    struct fwd_query *q = arg;

    (void)d;
    (void)query_release(q); /* the deferred then fails with TWC_ECANCELED */
}

twc_deferred *twc_dns_forward_query(twc_dns_forwarder *f, const twc_dns_question *qq,
                                    uint16_t flags, int edns, uint16_t edns_flags)
{
    struct fwd_query *q;
    twc_deferred *d;

    if (f->closing)
        return twc_deferred_fail(TWC_ECANCELED, "forwarder is closing");
    if (f->inflight >= f->max_inflight)
        return twc_deferred_fail(TWC_ETOOBIG, "%zu forwarded queries already in flight",
                                 f->max_inflight);
    q = calloc(1, sizeof(*q));
    if (q == NULL || (q->timer = twc_timer_new(f->r, on_timeout, q)) == NULL) {
        free(q);
        return twc_deferred_fail(TWC_ENOMEM, "out of memory for a forwarded query");
    }
    q->f = f;
    q->q = *qq;
    q->flags = flags & (TWC_DNS_F_RD | TWC_DNS_F_CD);
    q->edns = edns;
    q->edns_flags = edns_flags;
    q->ntries = f->attempts * (unsigned)f->rc.nservers;
    q->first = 0;
    if (f->rc.rotate) {
        q->first = f->next_server;
        f->next_server = (f->next_server + 1) % f->rc.nservers;
    }
    d = twc_deferred_new(on_cancel, q);
    twc_deferred_set_reactor(d, f->r);
    q->d = d;
    q->next = f->head;
    if (f->head != NULL)
        f->head->prev = q;
    f->head = q;
    f->inflight++;
    start_try(q);
    return d;
}

twc_deferred *twc_dns_forward(twc_dns_forwarder *f, const twc_dns_query *cq)
{
    return twc_dns_forward_query(f, &cq->q, cq->flags, cq->edns.present,
                                 (uint16_t)(cq->edns.flags & 0x8000));
}

size_t twc_dns_forwarder_inflight(const twc_dns_forwarder *f)
{
    return f->inflight;
}

twc_dns_forwarder *twc_dns_forwarder_new(twc_reactor *r, const struct twc_resolv_conf *rc,
                                         const struct twc_dns_forward_opts *opts, twc_err *err)
{
    twc_dns_forwarder *f;
    int code;

    if (rc->nservers == 0) {
        twc_err_set(err, TWC_EINVAL, "no nameserver to forward to");
        return NULL;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory for a forwarder");
        return NULL;
    }
    code = refill(f);
    if (code < 0) {
        twc_err_sys(err, -code, "getrandom");
        free(f);
        return NULL;
    }
    f->r = r;
    f->rc = *rc;
    f->max_inflight =
        opts != NULL && opts->max_inflight != 0 ? opts->max_inflight : TWC_DNS_FORWARD_INFLIGHT;
    f->timeout_ms =
        opts != NULL && opts->timeout_ms != 0 ? opts->timeout_ms : rc->timeout_s * 1000u;
    if (f->timeout_ms == 0)
        f->timeout_ms = 5000;
    f->attempts = opts != NULL && opts->attempts != 0 ? opts->attempts : rc->attempts;
    if (f->attempts == 0)
        f->attempts = 1;
    f->tcp = opts != NULL && opts->tcp;
    return f;
}

void twc_dns_forwarder_free(twc_dns_forwarder *f)
{
    if (f == NULL)
        return;
    f->closing = 1;
    while (f->head != NULL) {
        twc_deferred *d = query_release(f->head);

        twc_deferred_reject(d, TWC_ECANCELED, "forwarder closed");
    }
    memset(f->pool, 0, sizeof(f->pool));
    free(f);
}
