/* Unit tests for proto/dns/forward.c: the forwarder against in-test UDP/TCP
 * responders on 127.0.0.1 (real sockets, fake clock: timeouts are driven by
 * twc_reactor_advance, never by waiting). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/cache.h"
#include "proto/dns/forward.h"
#include "proto/framing/lenprefix.h"
#include "stream.h"
#include "udp.h"
#include "tests/unit/lib/outcome.h"

enum mode {
    M_ANSWER,        /* answer A 192.0.2.1 */
    M_SILENT,        /* never answer */
    M_SPOOF,         /* first a wrong ID, then a wrong name, then the answer */
    M_TC,            /* UDP: TC and no records; TCP: the answer */
    M_SERVFAIL,      /* SERVFAIL */
    M_NOEDNS,        /* no EDNS (RFC 6891 §7): srv.rcode to OPT, else the answer; UDP and TCP */
    M_NOEDNS_SILENT, /* srv.rcode to OPT, else never answer */
    M_FORMERR,       /* FORMERR without OPT to everything */
    M_FORMERR_OPT,   /* EDNS-aware: FORMERR with OPT to OPT, else the answer */
};

#define MAXQ 16

struct srv {
    twc_datagram_protocol dp;
    twc_factory fac;
    twc_udp *udp;
    twc_listener *tcp;
    twc_addr addr;
    enum mode mode;
    int udp_queries;
    int tcp_queries;
    int opt_queries;   /* queries that carried OPT (M_NOEDNS... modes) */
    int plain_queries; /* and those that did not */
    uint16_t rcode;    /* M_NOEDNS: FORMERR or NOTIMP */
    uint16_t ids[MAXQ];
    uint16_t sports[MAXQ];
};

struct tconn {
    twc_protocol p;
    struct srv *s;
    twc_lenprefix_parser lp;
};

static twc_reactor *r;

static twc_dns_name name_of(const char *s)
{
    twc_dns_name n;

    assert_int_equal(twc_dns_name_parse(&n, s, strlen(s), NULL, NULL), 0);
    return n;
}

/* An answer to the query in q: A record with address ip for the question,
 * or for `name` when not NULL; id overrides the query's when nonzero. */
static size_t make_answer(const uint8_t *qm, size_t qlen, uint8_t *out, size_t cap, uint32_t ip,
                          uint16_t id, const char *name, uint16_t rflags)
{
    twc_dns_query q;
    twc_dns_writer w;
    twc_dns_rr rr;
    uint8_t rd[4] = {(uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8), (uint8_t)ip};

    assert_int_equal(twc_dns_query_parse(&q, qm, qlen), 0);
    if (name != NULL)
        q.q.name = name_of(name);
    twc_dns_writer_init(&w, out, cap, cap);
    assert_int_equal(twc_dns_write_header(&w, id != 0 ? id : q.id,
                                          (uint16_t)(TWC_DNS_F_QR | TWC_DNS_F_RA | rflags |
                                                     (q.flags & TWC_DNS_F_RD))),
                     0);
    assert_int_equal(twc_dns_write_question(&w, &q.q.name, q.q.qtype, q.q.qclass), 0);
    if ((rflags & (TWC_DNS_F_TC | TWC_DNS_F_RCODE)) == 0) {
        memset(&rr, 0, sizeof(rr));
        rr.name = q.q.name;
        rr.type = TWC_DNS_A;
        rr.rclass = TWC_DNS_CLASS_IN;
        rr.ttl = 300;
        rr.rdlen = 4;
        rr.rdata = rd;
        assert_int_equal(twc_dns_write_rr(&w, TWC_DNS_AN, &rr), 0);
    }
    return twc_dns_writer_finish(&w);
}

/* Append an OPT record (payload 1232, no flags) to the finished message in
 * out, of len bytes. Returns the new length. */
static size_t append_opt(uint8_t *out, size_t len)
{
    const uint8_t opt[11] = {0, 0, TWC_DNS_OPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};

    memcpy(out + len, opt, sizeof(opt));
    out[11]++; /* ARCOUNT */
    return len + sizeof(opt);
}

/* The EDNS modes' reply to the query in data (counting OPT and plain queries):
 * its length in out, 0 to answer normally, or -1 to stay silent. */
static int edns_mode_reply(struct srv *s, const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    twc_dns_query q;
    size_t n;

    assert_int_equal(twc_dns_query_parse(&q, data, len), 0);
    if (q.edns.present)
        s->opt_queries++;
    else
        s->plain_queries++;
    switch (s->mode) {
    case M_NOEDNS:
    case M_NOEDNS_SILENT:
        if (q.edns.present)
            return (int)make_answer(data, len, out, cap, 0, 0, NULL, s->rcode);
        return s->mode == M_NOEDNS ? 0 : -1;
    case M_FORMERR:
        return (int)make_answer(data, len, out, cap, 0, 0, NULL, TWC_DNS_FORMERR);
    case M_FORMERR_OPT:
        if (!q.edns.present)
            return 0;
        n = make_answer(data, len, out, cap, 0, 0, NULL, TWC_DNS_FORMERR);
        return (int)append_opt(out, n);
    default:
        return 0;
    }
}

static void srv_datagram(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                         const twc_addr *from)
{
    struct srv *s = container_of(p, struct srv, dp);
    uint8_t out[512];
    size_t n;

    if (s->udp_queries < MAXQ) {
        s->ids[s->udp_queries] = (uint16_t)(data[0] << 8 | data[1]);
        s->sports[s->udp_queries] = twc_addr_port(from);
    }
    s->udp_queries++;
    switch (s->mode) {
    case M_SILENT:
        return;
    case M_NOEDNS:
    case M_NOEDNS_SILENT:
    case M_FORMERR:
    case M_FORMERR_OPT: {
        int e = edns_mode_reply(s, data, len, out, sizeof(out));

        if (e < 0)
            return;
        n = e > 0 ? (size_t)e : make_answer(data, len, out, sizeof(out), 0xc0000201, 0, NULL, 0);
        break;
    }
    case M_SPOOF:
        n = make_answer(data, len, out, sizeof(out), 0x06060606,
                        (uint16_t)((data[0] << 8 | data[1]) ^ 0x5a5a), NULL, 0);
        twc_udp_send(s->udp, out, n, from);
        n = make_answer(data, len, out, sizeof(out), 0x06060606, 0, "evil.example.", 0);
        twc_udp_send(s->udp, out, n, from);
        n = make_answer(data, len, out, sizeof(out), 0xc0000201, 0, NULL, 0);
        break;
    case M_TC:
        n = make_answer(data, len, out, sizeof(out), 0, 0, NULL, TWC_DNS_F_TC);
        break;
    case M_SERVFAIL:
        n = make_answer(data, len, out, sizeof(out), 0, 0, NULL, TWC_DNS_SERVFAIL);
        break;
    default:
        n = make_answer(data, len, out, sizeof(out), 0xc0000201, 0, NULL, 0);
    }
    twc_udp_send(s->udp, out, n, from);
}

static const struct twc_datagram_ops srv_udp_ops = {
    .name = "test-dns",
    .datagram_received = srv_datagram,
};

static void tconn_made(twc_protocol *p)
{
    (void)p;
}

static void tconn_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct tconn *c = container_of(p, struct tconn, p);
    struct twc_lenprefix_event ev;
    uint8_t out[514];

    while (len > 0) {
        ssize_t n = twc_lenprefix_parser_feed(&c->lp, data, len, &ev);

        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
        if (ev.type == TWC_LENPREFIX_EV_FRAME) {
            int e = edns_mode_reply(c->s, ev.payload.p, ev.payload.len, out + 2, sizeof(out) - 2);
            size_t alen = e > 0 ? (size_t)e
                                : make_answer(ev.payload.p, ev.payload.len, out + 2,
                                              sizeof(out) - 2, 0xc0000202, 0, NULL, 0);

            c->s->tcp_queries++;
            if (e < 0)
                continue; /* silent */
            out[0] = (uint8_t)(alen >> 8);
            out[1] = (uint8_t)alen;
            twc_transport_write(p->transport, out, alen + 2);
        }
    }
}

static void tconn_lost(twc_protocol *p, const twc_err *why)
{
    struct tconn *c = container_of(p, struct tconn, p);

    (void)why;
    twc_lenprefix_parser_cleanup(&c->lp);
    free(c);
}

static const struct twc_protocol_ops tconn_ops = {
    .name = "test-dns-tcp",
    .connection_made = tconn_made,
    .data_received = tconn_data,
    .connection_lost = tconn_lost,
};

static twc_protocol *srv_build(twc_factory *f, const twc_addr *peer)
{
    struct tconn *c = calloc(1, sizeof(*c));

    (void)peer;
    assert_non_null(c);
    c->s = container_of(f, struct srv, fac);
    c->p.ops = &tconn_ops;
    twc_lenprefix_parser_init(&c->lp, 2, NULL);
    return &c->p;
}

static const struct twc_factory_ops srv_factory_ops = {.build = srv_build};

/* UDP on a kernel-chosen port, and TCP on the same port number. */
static void srv_start(struct srv *s, enum mode mode)
{
    twc_err err;

    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->dp.ops = &srv_udp_ops;
    s->fac.ops = &srv_factory_ops;
    for (int i = 0; i < 20 && s->tcp == NULL; i++) {
        struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};

        s->udp = twc_udp_listen(r, "127.0.0.1", 0, &s->dp, &err);
        assert_non_null(s->udp);
        assert_int_equal(twc_udp_addr(s->udp, &s->addr), 0);
        lo.port = twc_addr_port(&s->addr);
        s->tcp = twc_tcp_listen(r, &lo, &s->fac, &err);
        if (s->tcp == NULL) {
            twc_udp_free(s->udp);
            s->udp = NULL;
        }
    }
    assert_non_null(s->tcp);
}

static void srv_stop(struct srv *s)
{
    twc_udp_free(s->udp);
    twc_listener_free(s->tcp);
}

static void rc_init(struct twc_resolv_conf *rc, struct srv *a, struct srv *b)
{
    twc_resolv_conf_init(rc);
    rc->servers[rc->nservers++] = a->addr;
    if (b != NULL)
        rc->servers[rc->nservers++] = b->addr;
    rc->timeout_s = 2;
    rc->attempts = 2;
}

/* One responder in mode (answering rcode where the mode uses one), and a
 * forwarder asking it alone (fo may be NULL). */
static twc_dns_forwarder *fwd_open(struct srv *s, enum mode mode, uint16_t rcode,
                                   const struct twc_dns_forward_opts *fo)
{
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;

    srv_start(s, mode);
    if (rcode != 0)
        s->rcode = rcode;
    rc_init(&rc, s, NULL);
    f = twc_dns_forwarder_new(r, &rc, fo, NULL);
    assert_non_null(f);
    return f;
}

static void fwd_close(twc_dns_forwarder *f, struct srv *s, struct outcome *o)
{
    outcome_cleanup(o);
    twc_dns_forwarder_free(f);
    srv_stop(s);
}

/* Run the loop until o fired or 2000 polls of 5 ms went by (I/O only: the
 * fake clock never moves here). */
static void spin(struct outcome *o)
{
    for (int i = 0; i < 2000 && o->calls == 0; i++)
        twc_reactor_run_once(r, 5);
}

/* Run the loop for a few polls (to let datagrams arrive) without waiting for o. */
static void settle(int polls)
{
    for (int i = 0; i < polls; i++)
        twc_reactor_run_once(r, 5);
}

/* Let closing TCP connections finish, then check nothing is left. */
static void drain(void)
{
    for (int i = 0; i < 50 && twc_reactor_live_handles(r) > 0; i++)
        twc_reactor_run_once(r, 5);
    assert_int_equal(twc_reactor_live_handles(r), 0);
}

static uint32_t answer_ip(const twc_dns_forward_reply *rp)
{
    twc_dns_msg m;
    size_t n;
    const twc_dns_rr *an;
    uint32_t ip;

    assert_int_equal(twc_dns_msg_parse(&m, rp->data, rp->len, NULL), 0);
    an = twc_dns_msg_section(&m, TWC_DNS_AN, &n);
    assert_int_equal(n, 1);
    assert_int_equal(an->rdlen, 4);
    ip = (uint32_t)an->rdata[0] << 24 | (uint32_t)an->rdata[1] << 16 |
         (uint32_t)an->rdata[2] << 8 | an->rdata[3];
    twc_dns_msg_cleanup(&m);
    return ip;
}

static int setup(void **state)
{
    struct twc_reactor_opts o = {.fake_clock = 1};

    (void)state;
    r = twc_reactor_new(&o, NULL);
    assert_non_null(r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    drain();
    twc_reactor_free(r);
    return 0;
}

static twc_dns_question question(const char *name, uint16_t type)
{
    twc_dns_question q;

    q.name = name_of(name);
    q.qtype = type;
    q.qclass = TWC_DNS_CLASS_IN;
    return q;
}

static void test_forward_answers_from_server(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_question q = question("www.Example.com.", TWC_DNS_A);
    struct outcome o;
    twc_dns_forward_reply *rp;

    (void)state;
    f = fwd_open(&s, M_ANSWER, 0, NULL);
    assert_non_null(f);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD | TWC_DNS_F_AA, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    assert_int_equal(o.calls, 0); /* never from inside the call */
    assert_int_equal(twc_dns_forwarder_inflight(f), 1);
    spin(&o);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    rp = o.value;
    assert_int_equal(rp->tcp, 0);
    assert_int_equal(twc_addr_equal(&rp->server, &s.addr), 1);
    assert_int_equal(answer_ip(rp), 0xc0000201);
    /* Our query carried RD (copied) but not AA (not ours to send). */
    assert_int_equal(rp->data[2] & 0x05, 0x01);
    assert_int_equal(twc_dns_forwarder_inflight(f), 0);
    assert_int_equal(s.udp_queries, 1);
    fwd_close(f, &s, &o);
}

static void test_forward_ignores_spoofed_replies(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_question q = question("www.example.com.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    f = fwd_open(&s, M_SPOOF, 0, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    /* The wrong-ID and wrong-name replies (6.6.6.6) came first and were dropped. */
    assert_int_equal(answer_ip(o.value), 0xc0000201);
    assert_int_equal(s.udp_queries, 1);
    fwd_close(f, &s, &o);
}

static void test_forward_timeout_retries_second_server(void **state)
{
    struct srv silent, good;
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    twc_dns_question q = question("a.example.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    srv_start(&silent, M_SILENT);
    srv_start(&good, M_ANSWER);
    rc_init(&rc, &silent, &good);
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    settle(20);
    assert_int_equal(silent.udp_queries, 1);
    assert_int_equal(good.udp_queries, 0);
    twc_reactor_advance(r, 1999);
    settle(5);
    assert_int_equal(good.udp_queries, 0); /* not before resolv.conf's timeout */
    twc_reactor_advance(r, 1);
    spin(&o);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    assert_int_equal(twc_addr_equal(&((twc_dns_forward_reply *)o.value)->server, &good.addr), 1);
    assert_int_equal(good.udp_queries, 1);
    outcome_cleanup(&o);
    twc_dns_forwarder_free(f);
    srv_stop(&silent);
    srv_stop(&good);
}

static void test_forward_fresh_id_and_port_per_try(void **state)
{
    struct srv silent;
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    twc_dns_question q = question("a.example.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    srv_start(&silent, M_SILENT);
    rc_init(&rc, &silent, NULL);
    rc.attempts = 4;
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    for (int i = 0; i < 4; i++) {
        settle(20);
        twc_reactor_advance(r, 2000);
    }
    settle(5);
    assert_int_equal(o.calls, 1);
    assert_false(o.ok);
    assert_int_equal(o.err.code, TWC_EDNS_TIMEOUT);
    assert_int_equal(silent.udp_queries, 4);
    /* Four tries, four sockets: the source ports all differ, and four 16-bit
     * random IDs are all equal with probability 2^-48. */
    for (int i = 1; i < 4; i++) {
        assert_int_not_equal(silent.sports[i], silent.sports[0]);
        assert_int_not_equal(silent.sports[i], 0);
    }
    assert_false(silent.ids[0] == silent.ids[1] && silent.ids[1] == silent.ids[2] &&
                 silent.ids[2] == silent.ids[3]);
    outcome_cleanup(&o);
    twc_dns_forwarder_free(f);
    srv_stop(&silent);
}

static void test_forward_truncated_retries_over_tcp(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_question q = question("big.example.", TWC_DNS_A);
    struct outcome o;
    twc_dns_forward_reply *rp;

    (void)state;
    f = fwd_open(&s, M_TC, 0, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 1, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    rp = o.value;
    assert_int_equal(rp->tcp, 1);
    assert_int_equal(rp->data[2] & 0x02, 0); /* no TC */
    assert_int_equal(answer_ip(rp), 0xc0000202);
    assert_int_equal(s.udp_queries, 1);
    assert_int_equal(s.tcp_queries, 1);
    fwd_close(f, &s, &o);
}

static void test_forward_truncated_kept_when_tcp_fails(void **state)
{
    struct srv s;
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    twc_dns_question q = question("big.example.", TWC_DNS_A);
    struct outcome o;
    twc_dns_forward_reply *rp;

    (void)state;
    srv_start(&s, M_TC);
    twc_listener_free(s.tcp); /* TCP connections are refused */
    s.tcp = NULL;
    rc_init(&rc, &s, NULL);
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o); /* refused connections move on at once: no clock needed */
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    rp = o.value;
    /* Both tries got TC over UDP and no TCP answer: the truncated reply it is. */
    assert_int_equal(rp->tcp, 0);
    assert_int_equal(rp->data[2] & 0x02, 0x02);
    assert_int_equal(s.udp_queries, 2);
    fwd_close(f, &s, &o);
}

static void test_forward_tcp_only(void **state)
{
    struct srv s;
    struct twc_dns_forward_opts fo = {.tcp = 1};
    twc_dns_forwarder *f;
    twc_dns_question q = question("t.example.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    f = fwd_open(&s, M_ANSWER, 0, &fo);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o);
    assert_true(o.ok);
    assert_int_equal(((twc_dns_forward_reply *)o.value)->tcp, 1);
    assert_int_equal(s.udp_queries, 0);
    assert_int_equal(s.tcp_queries, 1);
    fwd_close(f, &s, &o);
}

static void test_forward_servfail_moves_to_next_server(void **state)
{
    struct srv bad, good;
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    twc_dns_question q = question("x.example.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    srv_start(&bad, M_SERVFAIL);
    srv_start(&good, M_ANSWER);
    rc_init(&rc, &bad, &good);
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o); /* no clock movement: SERVFAIL moves on at once */
    assert_true(o.ok);
    assert_int_equal(answer_ip(o.value), 0xc0000201);
    assert_int_equal(bad.udp_queries, 1);
    assert_int_equal(good.udp_queries, 1);
    outcome_cleanup(&o);
    twc_dns_forwarder_free(f);
    srv_stop(&bad);
    srv_stop(&good);
}

static void test_forward_servfail_everywhere_returns_it(void **state)
{
    struct srv bad;
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    twc_dns_question q = question("x.example.", TWC_DNS_A);
    struct outcome o;
    twc_dns_forward_reply *rp;

    (void)state;
    srv_start(&bad, M_SERVFAIL);
    rc_init(&rc, &bad, NULL);
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o);
    assert_true(o.ok);
    rp = o.value;
    assert_int_equal(rp->data[3] & 0x0f, TWC_DNS_SERVFAIL);
    assert_int_equal(bad.udp_queries, 1);
    outcome_cleanup(&o);
    twc_dns_forwarder_free(f);
    srv_stop(&bad);
}

static void test_forward_refused_port_moves_on(void **state)
{
    struct srv gone, good;
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    twc_dns_question q = question("x.example.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    srv_start(&gone, M_ANSWER);
    srv_start(&good, M_ANSWER);
    rc_init(&rc, &gone, &good);
    srv_stop(&gone); /* nobody listens there now: ICMP port unreachable */
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 0, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o);
    assert_true(o.ok);
    assert_int_equal(twc_addr_equal(&((twc_dns_forward_reply *)o.value)->server, &good.addr), 1);
    outcome_cleanup(&o);
    twc_dns_forwarder_free(f);
    srv_stop(&good);
}

static void test_forward_inflight_limit(void **state)
{
    struct srv silent;
    struct twc_resolv_conf rc;
    struct twc_dns_forward_opts fo = {.max_inflight = 1};
    twc_dns_forwarder *f;
    twc_dns_question q = question("x.example.", TWC_DNS_A);
    struct outcome o1, o2;

    (void)state;
    srv_start(&silent, M_SILENT);
    rc_init(&rc, &silent, NULL);
    f = twc_dns_forwarder_new(r, &rc, &fo, NULL);
    twc_deferred *d1 = twc_dns_forward_query(f, &q, 0, 0, 0);
    twc_deferred *d2 = twc_dns_forward_query(f, &q, 0, 0, 0);
    watch(d1, &o1);
    watch(d2, &o2);
    assert_int_equal(o1.calls, 0);
    assert_int_equal(o2.calls, 1);
    assert_int_equal(o2.err.code, TWC_ETOOBIG);
    /* Freeing the forwarder fails what is still in flight. */
    twc_dns_forwarder_free(f);
    assert_int_equal(o1.calls, 1);
    assert_int_equal(o1.err.code, TWC_ECANCELED);
    twc_deferred_unref(d1);
    twc_deferred_unref(d2);
    srv_stop(&silent);
}

static void test_forward_cancel(void **state)
{
    struct srv silent;
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    twc_dns_question q = question("x.example.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    srv_start(&silent, M_SILENT);
    rc_init(&rc, &silent, NULL);
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    twc_deferred *d = twc_dns_forward_query(f, &q, 0, 0, 0);
    watch(d, &o);
    settle(5);
    twc_deferred_cancel(d);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    assert_int_equal(twc_dns_forwarder_inflight(f), 0);
    twc_deferred_unref(d);
    twc_dns_forwarder_free(f);
    srv_stop(&silent);
}

static void test_forward_forwards_client_query(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_query cq;
    struct outcome o;
    twc_dns_msg m;
    uint8_t qbuf[512];
    twc_dns_writer w;
    twc_dns_name n = name_of("edns.example.");

    (void)state;
    twc_dns_writer_init(&w, qbuf, sizeof(qbuf), sizeof(qbuf));
    twc_dns_write_header(&w, 0x1234, TWC_DNS_F_RD | TWC_DNS_F_CD);
    twc_dns_write_question(&w, &n, TWC_DNS_AAAA, TWC_DNS_CLASS_IN);
    twc_dns_write_opt(&w, 4096, 0, 0x8000);
    assert_int_equal(twc_dns_query_parse(&cq, qbuf, twc_dns_writer_finish(&w)), 0);
    f = fwd_open(&s, M_ANSWER, 0, NULL);
    twc_deferred *d = twc_dns_forward(f, &cq);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o);
    assert_true(o.ok);
    assert_int_equal(twc_dns_msg_parse(&m, ((twc_dns_forward_reply *)o.value)->data,
                                       ((twc_dns_forward_reply *)o.value)->len, NULL),
                     0);
    assert_int_equal(m.qd[0].qtype, TWC_DNS_AAAA);
    /* Our ID, not the client's (the server puts the client's back). */
    assert_int_equal(m.id, s.ids[0]);
    twc_dns_msg_cleanup(&m);
    fwd_close(f, &s, &o);
}

/* The rcode and EDNS presence of a reply, and its answer count. */
static void reply_shape(const twc_dns_forward_reply *rp, unsigned *rcode, int *edns, size_t *nan)
{
    twc_dns_msg m;

    assert_int_equal(twc_dns_msg_parse(&m, rp->data, rp->len, NULL), 0);
    *rcode = twc_dns_msg_rcode(&m);
    *edns = m.edns.present;
    (void)twc_dns_msg_section(&m, TWC_DNS_AN, nan);
    twc_dns_msg_cleanup(&m);
}

/* Forward q with (edns) or without OPT and wait for the outcome in o. */
static void ask(twc_dns_forwarder *f, const twc_dns_question *q, int edns, struct outcome *o)
{
    twc_deferred *d = twc_dns_forward_query(f, q, TWC_DNS_F_RD, edns, edns ? 0x8000 : 0);

    watch(d, o);
    twc_deferred_unref(d);
    spin(o);
    assert_int_equal(o->calls, 1);
}

/* RFC 6891 §7: FORMERR (or NOTIMP) without OPT to a query with OPT: asked once
 * more without OPT, at once (no timeout), and that answer is the reply. */
static void test_forward_edns_refused_retries_without_opt(void **state)
{
    const uint16_t rcodes[] = {TWC_DNS_FORMERR, TWC_DNS_NOTIMP};
    twc_dns_question q = question("old.example.", TWC_DNS_A);

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct srv s;
        twc_dns_forwarder *f;
        struct outcome o;
        unsigned rcode;
        int edns;
        size_t nan;

        f = fwd_open(&s, M_NOEDNS, rcodes[i], NULL);
        ask(f, &q, 1, &o);
        assert_true(o.ok);
        reply_shape(o.value, &rcode, &edns, &nan);
        assert_int_equal(rcode, TWC_DNS_NOERROR);
        assert_int_equal(edns, 0);
        assert_int_equal(answer_ip(o.value), 0xc0000201);
        assert_int_equal(s.udp_queries, 2);
        assert_int_equal(s.opt_queries, 1);
        assert_int_equal(s.plain_queries, 1);
        assert_int_not_equal(s.ids[0], s.ids[1]); /* a fresh ID for the retry */
        fwd_close(f, &s, &o);
    }
}

/* A query that had no OPT gets FORMERR passed through, as before; one with OPT
 * is retried once, and the second FORMERR is passed through too. */
static void test_forward_formerr_without_opt_passes_through(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_question q = question("bad.example.", TWC_DNS_A);
    struct outcome o;
    unsigned rcode;
    int edns;
    size_t nan;

    (void)state;
    f = fwd_open(&s, M_FORMERR, 0, NULL);
    ask(f, &q, 0, &o);
    assert_true(o.ok);
    reply_shape(o.value, &rcode, &edns, &nan);
    assert_int_equal(rcode, TWC_DNS_FORMERR);
    assert_int_equal(s.udp_queries, 1);
    assert_int_equal(s.plain_queries, 1);
    outcome_cleanup(&o);
    ask(f, &q, 1, &o);
    assert_true(o.ok);
    reply_shape(o.value, &rcode, &edns, &nan);
    assert_int_equal(rcode, TWC_DNS_FORMERR);
    assert_int_equal(s.udp_queries, 3); /* one retry, never two */
    assert_int_equal(s.opt_queries, 1);
    assert_int_equal(s.plain_queries, 2);
    fwd_close(f, &s, &o);
}

/* A FORMERR that carries OPT comes from a server that knows EDNS: no retry. */
static void test_forward_formerr_with_opt_passes_through(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_question q = question("opt.example.", TWC_DNS_A);
    struct outcome o;
    unsigned rcode;
    int edns;
    size_t nan;

    (void)state;
    f = fwd_open(&s, M_FORMERR_OPT, 0, NULL);
    ask(f, &q, 1, &o);
    assert_true(o.ok);
    reply_shape(o.value, &rcode, &edns, &nan);
    assert_int_equal(rcode, TWC_DNS_FORMERR);
    assert_int_equal(edns, 1);
    assert_int_equal(s.udp_queries, 1);
    fwd_close(f, &s, &o);
}

/* Over TCP the retry goes over TCP too. */
static void test_forward_edns_refused_over_tcp(void **state)
{
    struct srv s;
    struct twc_dns_forward_opts fo = {.tcp = 1};
    twc_dns_forwarder *f;
    twc_dns_question q = question("old.example.", TWC_DNS_A);
    struct outcome o;

    (void)state;
    f = fwd_open(&s, M_NOEDNS, TWC_DNS_FORMERR, &fo);
    ask(f, &q, 1, &o);
    assert_true(o.ok);
    assert_int_equal(((twc_dns_forward_reply *)o.value)->tcp, 1);
    assert_int_equal(answer_ip(o.value), 0xc0000202);
    assert_int_equal(s.tcp_queries, 2);
    assert_int_equal(s.opt_queries, 1);
    assert_int_equal(s.plain_queries, 1);
    assert_int_equal(s.udp_queries, 0);
    fwd_close(f, &s, &o);
}

/* The retry is bounded in time as well: when it goes unanswered the query
 * ends, after its tries run out (still without OPT), with the FORMERR. */
static void test_forward_edns_retry_unanswered_returns_formerr(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_question q = question("old.example.", TWC_DNS_A);
    struct outcome o;
    unsigned rcode;
    int edns;
    size_t nan;

    (void)state;
    f = fwd_open(&s, M_NOEDNS_SILENT, TWC_DNS_FORMERR, NULL); /* one server, 2 attempts, 2 s each */
    twc_deferred *d = twc_dns_forward_query(f, &q, TWC_DNS_F_RD, 1, 0);
    watch(d, &o);
    twc_deferred_unref(d);
    for (int i = 0; i < 400 && s.udp_queries < 2; i++)
        twc_reactor_run_once(r, 5);
    assert_int_equal(s.udp_queries, 2);
    assert_int_equal(o.calls, 0);
    twc_reactor_advance(r, 2000); /* the retry's try times out: the second attempt */
    for (int i = 0; i < 400 && s.udp_queries < 3; i++)
        twc_reactor_run_once(r, 5);
    assert_int_equal(s.udp_queries, 3);
    assert_int_equal(o.calls, 0);
    twc_reactor_advance(r, 2000);
    spin(&o);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    reply_shape(o.value, &rcode, &edns, &nan);
    assert_int_equal(rcode, TWC_DNS_FORMERR);
    assert_int_equal(s.opt_queries, 1);
    assert_int_equal(s.plain_queries, 2);
    fwd_close(f, &s, &o);
}

/* The client sent EDNS with DO; the answer came back without OPT (retried
 * without EDNS): what the client gets carries an OPT with its DO bit again. */
static void test_forward_edns_retry_reply_fits_client(void **state)
{
    struct srv s;
    twc_dns_forwarder *f;
    twc_dns_query cq;
    struct outcome o;
    twc_dns_msg m;
    twc_dns_writer w;
    twc_dns_name n = name_of("old.example.");
    uint8_t qbuf[512], out[TWC_DNS_EDNS_MAX];
    twc_dns_forward_reply *rp;
    int len;

    (void)state;
    twc_dns_writer_init(&w, qbuf, sizeof(qbuf), sizeof(qbuf));
    twc_dns_write_header(&w, 0x2222, TWC_DNS_F_RD);
    twc_dns_write_question(&w, &n, TWC_DNS_A, TWC_DNS_CLASS_IN);
    twc_dns_write_opt(&w, 4096, 0, 0x8000);
    assert_int_equal(twc_dns_query_parse(&cq, qbuf, twc_dns_writer_finish(&w)), 0);
    f = fwd_open(&s, M_NOEDNS, TWC_DNS_FORMERR, NULL);
    twc_deferred *d = twc_dns_forward(f, &cq);
    watch(d, &o);
    twc_deferred_unref(d);
    spin(&o);
    assert_true(o.ok);
    rp = o.value;
    len = twc_dns_response_adapt(rp->data, rp->len, &cq, 0, sizeof(out), out, sizeof(out));
    assert_true(len > 0);
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)len, NULL), 0);
    assert_int_equal(m.id, 0x2222);
    assert_int_equal(twc_dns_msg_rcode(&m), TWC_DNS_NOERROR);
    assert_int_equal(m.count[TWC_DNS_AN], 1);
    assert_int_equal(m.edns.present, 1);
    assert_int_equal(m.edns.flags, 0x8000);
    assert_int_equal(m.edns.udp_size, TWC_DNS_EDNS_MAX);
    twc_dns_msg_cleanup(&m);
    assert_int_equal(s.opt_queries, 1);
    assert_int_equal(s.plain_queries, 1);
    fwd_close(f, &s, &o);
}

static void test_forward_reply_matches(void **state)
{
    uint8_t qbuf[512], abuf[512];
    twc_dns_writer w;
    twc_dns_name n = name_of("MiXeD.Example.");
    twc_dns_question q = question("mixed.example.", TWC_DNS_A);
    size_t qlen, alen;

    (void)state;
    twc_dns_writer_init(&w, qbuf, sizeof(qbuf), sizeof(qbuf));
    twc_dns_write_header(&w, 77, TWC_DNS_F_RD);
    twc_dns_write_question(&w, &n, TWC_DNS_A, TWC_DNS_CLASS_IN);
    qlen = twc_dns_writer_finish(&w);
    alen = make_answer(qbuf, qlen, abuf, sizeof(abuf), 1, 0, NULL, 0);
    assert_int_equal(twc_dns_reply_matches(abuf, alen, 77, &q), 1); /* case ignored */
    assert_int_equal(twc_dns_reply_matches(abuf, alen, 78, &q), 0);
    q.qtype = TWC_DNS_AAAA;
    assert_int_equal(twc_dns_reply_matches(abuf, alen, 77, &q), 0);
    q.qtype = TWC_DNS_A;
    q.qclass = TWC_DNS_CLASS_CH;
    assert_int_equal(twc_dns_reply_matches(abuf, alen, 77, &q), 0);
    q.qclass = TWC_DNS_CLASS_IN;
    /* A query (QR clear) is not a reply. */
    assert_int_equal(twc_dns_reply_matches(qbuf, qlen, 77, &q), 0);
    assert_int_equal(twc_dns_reply_matches(abuf, 11, 77, &q), 0);
    assert_int_equal(twc_dns_reply_matches(abuf, alen - 16, 77, &q), 1); /* question intact */
    assert_int_equal(twc_dns_reply_matches(abuf, 14, 77, &q), 0);
}

static void test_forward_needs_a_server(void **state)
{
    struct twc_resolv_conf rc;
    twc_err err;

    (void)state;
    twc_resolv_conf_init(&rc);
    assert_null(twc_dns_forwarder_new(r, &rc, NULL, &err));
    assert_int_equal(err.code, TWC_EINVAL);
}

static void test_forward_random_ids_spread(void **state)
{
    struct twc_resolv_conf rc;
    twc_dns_forwarder *f;
    unsigned seen_high = 0, seen_low = 0;
    uint16_t first;
    int differ = 0;

    (void)state;
    twc_resolv_conf_init(&rc);
    twc_addr_from_ip(&rc.servers[rc.nservers++], "127.0.0.1", 53, NULL);
    f = twc_dns_forwarder_new(r, &rc, NULL, NULL);
    first = twc_dns_forwarder_random_id(f);
    /* 1000 IDs across several pool refills: both halves of the range show up. */
    for (int i = 0; i < 1000; i++) {
        uint16_t id = twc_dns_forwarder_random_id(f);

        if (id != first)
            differ++;
        if (id & 0x8000)
            seen_high++;
        else
            seen_low++;
    }
    assert_true(differ > 990);
    assert_true(seen_high > 350 && seen_low > 350);
    twc_dns_forwarder_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forward_answers_from_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_ignores_spoofed_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_timeout_retries_second_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_fresh_id_and_port_per_try, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_truncated_retries_over_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_truncated_kept_when_tcp_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_tcp_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_servfail_moves_to_next_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_servfail_everywhere_returns_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_refused_port_moves_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_inflight_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_forwards_client_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_edns_refused_retries_without_opt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_formerr_without_opt_passes_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_formerr_with_opt_passes_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_edns_refused_over_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_edns_retry_unanswered_returns_formerr, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_edns_retry_reply_fits_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_reply_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_needs_a_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_random_ids_spread, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
