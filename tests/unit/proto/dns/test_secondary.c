/* Unit tests for proto/dns/secondary.c: AXFR from an in-test primary on
 * 127.0.0.1 (real TCP sockets), with the REFRESH / RETRY / EXPIRE timers
 * driven by a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/secondary.h"
#include "proto/framing/lenprefix.h"
#include "stream.h"

enum pmode {
    P_OK,       /* the zone, in one message (or two with split) */
    P_CLOSE,    /* close without answering */
    P_REFUSE,   /* REFUSED */
    P_BADSTART, /* records without the opening SOA */
    P_NOEND,    /* the opening SOA and records, then close (no closing SOA) */
};

struct primary {
    twc_factory fac;
    twc_listener *l;
    twc_addr addr;
    enum pmode mode;
    int split;
    uint32_t serial;
    const char *www; /* www's address */
    int queries;     /* AXFR queries */
    int soa_queries; /* SOA queries (the serial check before a refresh) */
};

struct pconn {
    twc_protocol p;
    struct primary *pr;
    twc_lenprefix_parser lp;
};

static twc_reactor *r;
static int changes;

static twc_dns_name name_of(const char *s)
{
    twc_dns_name n;

    assert_int_equal(twc_dns_name_parse(&n, s, strlen(s), NULL, NULL), 0);
    return n;
}

static void add_rr(twc_dns_writer *w, const char *name, uint16_t type, const char *text)
{
    uint8_t rd[256];
    twc_dns_rr rr;
    twc_err err;
    int n = twc_dns_rdata_parse_text(type, text, strlen(text), NULL, rd, sizeof(rd), &err);

    assert_true(n >= 0);
    memset(&rr, 0, sizeof(rr));
    rr.name = name_of(name);
    rr.type = type;
    rr.rclass = TWC_DNS_CLASS_IN;
    rr.ttl = 3600;
    rr.rdlen = (uint16_t)n;
    rr.rdata = rd;
    assert_int_equal(twc_dns_write_rr(w, TWC_DNS_AN, &rr), 0);
}

/* Send one framed message. */
static void send_msg(twc_protocol *p, twc_dns_writer *w, uint8_t *buf)
{
    size_t n = twc_dns_writer_finish(w);

    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;
    twc_transport_write(p->transport, buf, n + 2);
}

static void answer_axfr(struct pconn *c, const uint8_t *q, size_t qlen)
{
    struct primary *pr = c->pr;
    twc_dns_query dq;
    twc_dns_writer w;
    uint8_t buf[4096];
    char soa[128];

    assert_int_equal(twc_dns_query_parse(&dq, q, qlen), 0);
    assert_int_equal(dq.flags & TWC_DNS_F_RD, 0);
    if (dq.q.qtype == TWC_DNS_SOA)
        pr->soa_queries++;
    else
        pr->queries++;
    if (pr->mode == P_CLOSE) {
        twc_transport_lose_connection(c->p.transport);
        return;
    }
    snprintf(soa, sizeof(soa), "ns.example. host.example. %u 100 20 500 60", (unsigned)pr->serial);
    if (dq.q.qtype == TWC_DNS_SOA) {
        twc_dns_writer_init(&w, buf + 2, sizeof(buf) - 2, sizeof(buf) - 2);
        twc_dns_write_header(&w, dq.id, TWC_DNS_F_QR | TWC_DNS_F_AA);
        twc_dns_write_question(&w, &dq.q.name, TWC_DNS_SOA, TWC_DNS_CLASS_IN);
        add_rr(&w, "example.", TWC_DNS_SOA, soa);
        send_msg(&c->p, &w, buf);
        return;
    }
    assert_int_equal(dq.q.qtype, TWC_DNS_AXFR);
    twc_dns_writer_init(&w, buf + 2, sizeof(buf) - 2, sizeof(buf) - 2);
    twc_dns_write_header(&w, dq.id,
                         (uint16_t)(TWC_DNS_F_QR | TWC_DNS_F_AA |
                                    (pr->mode == P_REFUSE ? TWC_DNS_REFUSED : 0)));
    twc_dns_write_question(&w, &dq.q.name, TWC_DNS_AXFR, TWC_DNS_CLASS_IN);
    if (pr->mode == P_REFUSE) {
        send_msg(&c->p, &w, buf);
        return;
    }
    if (pr->mode != P_BADSTART)
        add_rr(&w, "example.", TWC_DNS_SOA, soa);
    add_rr(&w, "example.", TWC_DNS_NS, "ns.example.");
    add_rr(&w, "ns.example.", TWC_DNS_A, "192.0.2.53");
    if (pr->split) {
        /* RFC 5936 §2.2.1: later messages may leave the question out. */
        send_msg(&c->p, &w, buf);
        twc_dns_writer_init(&w, buf + 2, sizeof(buf) - 2, sizeof(buf) - 2);
        twc_dns_write_header(&w, dq.id, TWC_DNS_F_QR | TWC_DNS_F_AA);
    }
    add_rr(&w, "www.example.", TWC_DNS_A, pr->www);
    if (pr->mode != P_NOEND)
        add_rr(&w, "example.", TWC_DNS_SOA, soa);
    send_msg(&c->p, &w, buf);
    if (pr->mode == P_NOEND)
        twc_transport_lose_connection(c->p.transport);
}

static void pconn_made(twc_protocol *p)
{
    (void)p;
}

static void pconn_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct pconn *c = container_of(p, struct pconn, p);
    struct twc_lenprefix_event ev;

    while (len > 0) {
        ssize_t n = twc_lenprefix_parser_feed(&c->lp, data, len, &ev);

        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
        if (ev.type == TWC_LENPREFIX_EV_FRAME)
            answer_axfr(c, ev.payload.p, ev.payload.len);
    }
}

static void pconn_lost(twc_protocol *p, const twc_err *why)
{
    struct pconn *c = container_of(p, struct pconn, p);

    (void)why;
    twc_lenprefix_parser_cleanup(&c->lp);
    free(c);
}

static const struct twc_protocol_ops pconn_ops = {
    .name = "test-axfr",
    .connection_made = pconn_made,
    .data_received = pconn_data,
    .connection_lost = pconn_lost,
};

static twc_protocol *primary_build(twc_factory *f, const twc_addr *peer)
{
    struct pconn *c = calloc(1, sizeof(*c));

    (void)peer;
    assert_non_null(c);
    c->pr = container_of(f, struct primary, fac);
    c->p.ops = &pconn_ops;
    twc_lenprefix_parser_init(&c->lp, 2, NULL);
    return &c->p;
}

static const struct twc_factory_ops primary_ops = {.build = primary_build};

static void primary_start(struct primary *pr)
{
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};

    memset(pr, 0, sizeof(*pr));
    pr->fac.ops = &primary_ops;
    pr->serial = 1;
    pr->www = "192.0.2.80";
    pr->l = twc_tcp_listen(r, &lo, &pr->fac, NULL);
    assert_non_null(pr->l);
    assert_int_equal(twc_listener_addr(pr->l, &pr->addr), 0);
}

static void primary_stop(struct primary *pr)
{
    twc_listener_free(pr->l);
    pr->l = NULL;
}

static void on_change(void *arg, twc_dns_secondary *s)
{
    (void)arg;
    (void)s;
    changes++;
}

/* Poll I/O (the fake clock does not move) until cond() or 2000 polls. */
#define SPIN_UNTIL(cond)                                                                      \
    do {                                                                                      \
        for (int i_ = 0; i_ < 2000 && !(cond); i_++)                                          \
            twc_reactor_run_once(r, 5);                                                       \
    } while (0)

static twc_dns_secondary *secondary(struct primary *pr, uint32_t first_retry_s)
{
    struct twc_dns_secondary_opts o = {.first_retry_s = first_retry_s};
    twc_dns_name zone = name_of("Example.");
    twc_dns_secondary *s = twc_dns_secondary_new(r, &pr->addr, &zone, &o, on_change, NULL, NULL);

    assert_non_null(s);
    return s;
}

/* The address of www in the copy, as text. */
static void www_of(const twc_dns_zone *z, char *buf, size_t len)
{
    twc_dns_name www = name_of("www.example.");

    buf[0] = '\0';
    for (size_t i = 0; i < twc_dns_zone_count(z); i++) {
        twc_dns_rr rr;

        twc_dns_zone_get(z, i, &rr);
        if (rr.type == TWC_DNS_A && twc_dns_name_equal(&rr.name, &www))
            assert_true(twc_dns_rdata_format(rr.type, rr.rdata, rr.rdlen, buf, len) > 0);
    }
}

static int setup(void **state)
{
    struct twc_reactor_opts o = {.fake_clock = 1};

    (void)state;
    r = twc_reactor_new(&o, NULL);
    assert_non_null(r);
    changes = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 50 && twc_reactor_live_handles(r) > 0; i++)
        twc_reactor_run_once(r, 5);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
    return 0;
}

static void test_secondary_transfers_at_start(void **state)
{
    struct primary pr;
    twc_dns_secondary *s;
    const twc_dns_zone *z;
    twc_dns_zone *copy;
    twc_dns_rr rr;
    char www[64];

    (void)state;
    primary_start(&pr);
    s = secondary(&pr, 0);
    assert_null(twc_dns_secondary_zone(s));
    assert_int_equal(twc_dns_secondary_attempts(s), 0); /* starts from the loop */
    SPIN_UNTIL(changes == 1);
    assert_int_equal(changes, 1);
    assert_int_equal(pr.queries, 1);
    z = twc_dns_secondary_zone(s);
    assert_non_null(z);
    assert_int_equal(twc_dns_zone_count(z), 4); /* SOA once, NS, two A */
    assert_int_equal(twc_dns_zone_check(z, NULL), 0);
    twc_dns_zone_get(z, 0, &rr);
    assert_int_equal(rr.type, TWC_DNS_SOA);
    assert_int_equal(twc_dns_secondary_serial(s), 1);
    www_of(z, www, sizeof(www));
    assert_string_equal(www, "192.0.2.80");
    /* RFC 1035 §3.3.13: the next transfer after REFRESH seconds. */
    assert_int_equal(twc_dns_secondary_next_due(s), twc_reactor_now(r) + 100000);
    copy = twc_dns_secondary_zone_copy(s, NULL);
    assert_non_null(copy);
    assert_int_equal(twc_dns_zone_count(copy), 4);
    assert_int_equal(twc_dns_zone_check(copy, NULL), 0);
    assert_true(twc_dns_name_equal(twc_dns_zone_origin(copy), twc_dns_secondary_origin(s)));
    twc_dns_zone_free(copy);
    twc_dns_secondary_free(s);
    primary_stop(&pr);
}

static void test_secondary_refresh_timer(void **state)
{
    struct primary pr;
    twc_dns_secondary *s;
    char www[64];

    (void)state;
    primary_start(&pr);
    pr.split = 1;
    s = secondary(&pr, 0);
    SPIN_UNTIL(changes == 1);
    assert_int_equal(twc_dns_secondary_serial(s), 1);
    pr.serial = 2;
    pr.www = "192.0.2.81";
    twc_reactor_advance(r, 99999);
    for (int i = 0; i < 20; i++)
        twc_reactor_run_once(r, 5);
    assert_int_equal(pr.queries, 1); /* not before REFRESH */
    twc_reactor_advance(r, 1);
    SPIN_UNTIL(changes == 2);
    assert_int_equal(changes, 2);
    assert_int_equal(twc_dns_secondary_serial(s), 2);
    www_of(twc_dns_secondary_zone(s), www, sizeof(www));
    assert_string_equal(www, "192.0.2.81");
    assert_int_equal(pr.soa_queries, 1); /* serial checked first, then AXFR */
    assert_int_equal(pr.queries, 2);
    /* The same serial again: the SOA check finds it current, no transfer, and
     * the next check is REFRESH later. */
    twc_reactor_advance(r, 100000);
    SPIN_UNTIL(pr.soa_queries == 2 && twc_dns_secondary_next_due(s) != 0);
    assert_int_equal(pr.soa_queries, 2);
    assert_int_equal(pr.queries, 2);
    assert_int_equal(twc_dns_secondary_attempts(s), 3);
    assert_int_equal(twc_dns_secondary_failures(s), 0);
    assert_int_equal(changes, 2);
    assert_int_equal(twc_dns_secondary_next_due(s), twc_reactor_now(r) + 100000);
    /* An older serial (RFC 1982) is not transferred either. */
    pr.serial = 1;
    twc_reactor_advance(r, 100000);
    SPIN_UNTIL(pr.soa_queries == 3 && twc_dns_secondary_next_due(s) != 0);
    assert_int_equal(pr.queries, 2);
    assert_int_equal(twc_dns_secondary_serial(s), 2);
    /* RFC 1982 wraps: 2^32 - 1 is older than 2 (not transferred), 3 newer. */
    pr.serial = 0xffffffffu;
    twc_reactor_advance(r, 100000);
    SPIN_UNTIL(pr.soa_queries == 4 && twc_dns_secondary_next_due(s) != 0);
    assert_int_equal(pr.queries, 2);
    assert_int_equal(twc_dns_secondary_serial(s), 2);
    pr.serial = 3;
    twc_reactor_advance(r, 100000);
    SPIN_UNTIL(changes == 3);
    assert_int_equal(twc_dns_secondary_serial(s), 3);
    twc_dns_secondary_free(s);
    primary_stop(&pr);
}

static void test_secondary_retry_keeps_old_copy(void **state)
{
    struct primary pr;
    twc_dns_secondary *s;
    char www[64];

    (void)state;
    primary_start(&pr);
    s = secondary(&pr, 0);
    SPIN_UNTIL(changes == 1);
    pr.mode = P_CLOSE;
    twc_reactor_advance(r, 100000);
    SPIN_UNTIL(twc_dns_secondary_failures(s) == 1);
    assert_int_equal(twc_dns_secondary_failures(s), 1);
    /* The old copy is still served, and RETRY (20 s) schedules the next try. */
    assert_non_null(twc_dns_secondary_zone(s));
    assert_int_equal(twc_dns_secondary_serial(s), 1);
    assert_int_equal(changes, 1);
    assert_int_equal(twc_dns_secondary_next_due(s), twc_reactor_now(r) + 20000);
    /* A transfer that ends without the closing SOA fails too. */
    pr.mode = P_NOEND;
    pr.serial = 9;
    twc_reactor_advance(r, 20000);
    SPIN_UNTIL(twc_dns_secondary_failures(s) == 2);
    assert_int_equal(twc_dns_secondary_failures(s), 2);
    assert_int_equal(twc_dns_secondary_serial(s), 1);
    www_of(twc_dns_secondary_zone(s), www, sizeof(www));
    assert_string_equal(www, "192.0.2.80");
    pr.mode = P_OK;
    pr.serial = 5;
    twc_reactor_advance(r, 20000);
    SPIN_UNTIL(changes == 2);
    assert_int_equal(twc_dns_secondary_serial(s), 5);
    twc_dns_secondary_free(s);
    primary_stop(&pr);
}

static void test_secondary_first_failure_retries(void **state)
{
    struct primary pr;
    twc_dns_secondary *s;

    (void)state;
    primary_start(&pr);
    pr.mode = P_REFUSE;
    s = secondary(&pr, 7);
    SPIN_UNTIL(twc_dns_secondary_failures(s) == 1);
    assert_int_equal(twc_dns_secondary_failures(s), 1);
    assert_null(twc_dns_secondary_zone(s));
    assert_int_equal(twc_dns_secondary_next_due(s), twc_reactor_now(r) + 7000);
    pr.mode = P_BADSTART;
    twc_reactor_advance(r, 7000);
    SPIN_UNTIL(twc_dns_secondary_failures(s) == 2);
    assert_int_equal(twc_dns_secondary_failures(s), 2);
    assert_null(twc_dns_secondary_zone(s));
    pr.mode = P_OK;
    twc_reactor_advance(r, 7000);
    SPIN_UNTIL(changes == 1);
    assert_non_null(twc_dns_secondary_zone(s));
    twc_dns_secondary_free(s);
    primary_stop(&pr);
}

static void test_secondary_expires(void **state)
{
    struct primary pr;
    twc_dns_secondary *s;

    (void)state;
    primary_start(&pr);
    s = secondary(&pr, 0);
    SPIN_UNTIL(changes == 1);
    primary_stop(&pr); /* connections are refused from now on */
    /* REFRESH at 100 s, then RETRY every 20 s, all failing; EXPIRE at 500 s. */
    for (int t = 0; t < 20; t++) { /* up to 480 s */
        unsigned before = twc_dns_secondary_failures(s);

        twc_reactor_advance(r, t == 0 ? 100000 : 20000);
        SPIN_UNTIL(twc_dns_secondary_failures(s) > before);
        assert_non_null(twc_dns_secondary_zone(s));
    }
    assert_int_equal(changes, 1);
    twc_reactor_advance(r, 20000); /* 500 s */
    assert_null(twc_dns_secondary_zone(s));
    assert_int_equal(changes, 2);
    assert_int_equal(twc_dns_secondary_serial(s), 0);
    twc_dns_secondary_free(s);
}

static void test_secondary_free_during_transfer(void **state)
{
    struct primary pr;
    twc_dns_secondary *s;

    (void)state;
    primary_start(&pr);
    s = secondary(&pr, 0);
    twc_reactor_run_once(r, 0); /* the transfer starts: connect in flight */
    twc_dns_secondary_free(s);
    for (int i = 0; i < 20; i++)
        twc_reactor_run_once(r, 5);
    assert_int_equal(changes, 0);
    primary_stop(&pr);
}

static void test_secondary_parse_spec(void **state)
{
    twc_addr a;
    twc_dns_name z, want = name_of("example.com.");
    twc_err err;
    char buf[TWC_ADDR_STRLEN];

    (void)state;
    assert_int_equal(twc_dns_secondary_parse("127.0.0.1/example.com", &a, &z, NULL), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "127.0.0.1:53");
    assert_true(twc_dns_name_equal(&z, &want));
    assert_int_equal(twc_dns_secondary_parse("127.0.0.1:5353/example.com.", &a, &z, NULL), 0);
    assert_int_equal(twc_addr_port(&a), 5353);
    assert_int_equal(twc_dns_secondary_parse("[::1]:5354/example.com", &a, &z, NULL), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "[::1]:5354");
    assert_int_equal(twc_dns_secondary_parse("::1/example.com", &a, &z, NULL), 0);
    assert_int_equal(twc_addr_port(&a), 53);
    assert_int_equal(twc_dns_secondary_parse("example.com", &a, &z, &err), TWC_EINVAL);
    assert_int_equal(twc_dns_secondary_parse("host.name/example.com", &a, &z, &err),
                     TWC_EINVAL);
    assert_int_equal(twc_dns_secondary_parse("127.0.0.1/", &a, &z, &err), TWC_EINVAL);
    assert_int_equal(twc_dns_secondary_parse("/example.com", &a, &z, &err), TWC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_secondary_transfers_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secondary_refresh_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secondary_retry_keeps_old_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secondary_first_failure_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secondary_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secondary_free_during_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secondary_parse_spec, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
