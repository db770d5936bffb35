/* Unit tests for proto/dns/cache.c: TTLs under a fake clock, negative caching
 * (RFC 2308), LRU eviction, and the rewriting of responses for a client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/cache.h"

static twc_reactor *r;

static twc_dns_name name_of(const char *s)
{
    twc_dns_name n;

    assert_int_equal(twc_dns_name_parse(&n, s, strlen(s), NULL, NULL), 0);
    return n;
}

static twc_dns_question question(const char *name, uint16_t type)
{
    twc_dns_question q;

    q.name = name_of(name);
    q.qtype = type;
    q.qclass = TWC_DNS_CLASS_IN;
    return q;
}

/* A response: qname/qtype, rcode, `nans` A records with the given TTLs, an SOA
 * in authority when soa_ttl is nonzero (MINIMUM soa_min), and OPT when edns. */
struct resp {
    const char *qname;
    uint16_t qtype;
    uint16_t flags; /* rcode and extra bits */
    uint32_t ttls[4];
    size_t nans;
    uint32_t soa_ttl, soa_min;
    int edns;
};

static size_t build(const struct resp *rs, uint8_t *out, size_t cap)
{
    twc_dns_writer w;
    twc_dns_rr rr;
    twc_dns_name qn = name_of(rs->qname), zone = name_of("example.");
    uint8_t ip[4] = {192, 0, 2, 0};
    uint8_t soa[64];
    size_t sl = 0;

    twc_dns_writer_init(&w, out, cap, cap);
    assert_int_equal(twc_dns_write_header(&w, 0x4242,
                                          (uint16_t)(TWC_DNS_F_QR | TWC_DNS_F_RA | rs->flags)),
                     0);
    assert_int_equal(twc_dns_write_question(&w, &qn, rs->qtype, TWC_DNS_CLASS_IN), 0);
    for (size_t i = 0; i < rs->nans; i++) {
        memset(&rr, 0, sizeof(rr));
        rr.name = qn;
        rr.type = TWC_DNS_A;
        rr.rclass = TWC_DNS_CLASS_IN;
        rr.ttl = rs->ttls[i];
        ip[3] = (uint8_t)(i + 1);
        rr.rdlen = 4;
        rr.rdata = ip;
        assert_int_equal(twc_dns_write_rr(&w, TWC_DNS_AN, &rr), 0);
    }
    if (rs->soa_ttl != 0) {
        twc_dns_name mname = name_of("ns.example."), rname = name_of("host.example.");
        uint32_t vals[5] = {1, 7200, 900, 1209600, rs->soa_min};

        memcpy(soa + sl, mname.wire, mname.len);
        sl += mname.len;
        memcpy(soa + sl, rname.wire, rname.len);
        sl += rname.len;
        for (int i = 0; i < 5; i++) {
            soa[sl++] = (uint8_t)(vals[i] >> 24);
            soa[sl++] = (uint8_t)(vals[i] >> 16);
            soa[sl++] = (uint8_t)(vals[i] >> 8);
            soa[sl++] = (uint8_t)vals[i];
        }
        memset(&rr, 0, sizeof(rr));
        rr.name = zone;
        rr.type = TWC_DNS_SOA;
        rr.rclass = TWC_DNS_CLASS_IN;
        rr.ttl = rs->soa_ttl;
        rr.rdlen = (uint16_t)sl;
        rr.rdata = soa;
        assert_int_equal(twc_dns_write_rr(&w, TWC_DNS_NS_SECT, &rr), 0);
    }
    if (rs->edns)
        assert_int_equal(twc_dns_write_opt(&w, 4096, 0, 0), 0);
    return twc_dns_writer_finish(&w);
}

/* A client query with header flags (RD and more) and, when edns, an OPT
 * record with edns_flags, parsed as the server sees it. */
static void client_query_with(twc_dns_query *cq, uint8_t *buf, const char *name, uint16_t type,
                              uint16_t flags, int edns, uint16_t edns_flags)
{
    twc_dns_writer w;
    twc_dns_name n = name_of(name);

    twc_dns_writer_init(&w, buf, 512, 512);
    twc_dns_write_header(&w, 0x0101, flags);
    twc_dns_write_question(&w, &n, type, TWC_DNS_CLASS_IN);
    if (edns)
        twc_dns_write_opt(&w, 4096, 0, edns_flags);
    assert_int_equal(twc_dns_query_parse(cq, buf, twc_dns_writer_finish(&w)), 0);
}

/* A recursive client query, with EDNS and DO when edns. */
static void client_query(twc_dns_query *cq, uint8_t *buf, const char *name, uint16_t type,
                         uint16_t id, int edns)
{
    client_query_with(cq, buf, name, type, TWC_DNS_F_RD, edns, 0x8000);
    cq->id = id;
}

/* The answer records the cache gives the client cq, or -1 on a miss. */
static int cached_answers(twc_dns_cache *c, const twc_dns_query *cq)
{
    uint8_t out[1232];
    twc_dns_msg m;
    int n = twc_dns_cache_answer(c, cq, sizeof(out), out, sizeof(out));

    if (n == 0)
        return -1;
    assert_true(n > 0);
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)n, NULL), 0);
    n = m.count[TWC_DNS_AN];
    /* The reply follows the client's own EDNS state whatever was stored. */
    assert_int_equal(m.edns.present, cq->edns.present);
    twc_dns_msg_cleanup(&m);
    return n;
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
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
    return 0;
}

static void test_cache_ttl_counts_down(void **state)
{
    twc_dns_cache *c = twc_dns_cache_new(r, NULL);
    struct resp rs = {"www.example.", TWC_DNS_A, 0, {300, 100}, 2, 0, 0, 0};
    uint8_t msg[512], qbuf[512], out[512];
    size_t len = build(&rs, msg, sizeof(msg));
    twc_dns_query cq;
    twc_dns_msg m;
    const uint8_t *p;
    size_t plen;
    uint32_t age;
    int n;

    (void)state;
    assert_int_equal(twc_dns_cache_put(c, 0, msg, len), 1);
    assert_int_equal(twc_dns_cache_count(c), 1);
    assert_int_equal(twc_dns_cache_bytes(c), len);
    twc_reactor_advance(r, 42500);
    client_query(&cq, qbuf, "WWW.Example.", TWC_DNS_A, 0x0707, 0);
    n = twc_dns_cache_answer(c, &cq, 512, out, sizeof(out));
    assert_int_equal(n, (int)len);
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)n, NULL), 0);
    assert_int_equal(m.id, 0x0707);
    assert_int_equal(m.count[TWC_DNS_AN], 2);
    assert_int_equal(m.rr[0].ttl, 300 - 42);
    assert_int_equal(m.rr[1].ttl, 100 - 42);
    twc_dns_msg_cleanup(&m);
    /* The stored copy is untouched. */
    {
        twc_dns_question q = question("www.example.", TWC_DNS_A);

        assert_int_equal(twc_dns_cache_lookup(c, &q, 0, &p, &plen, &age), 1);
        assert_int_equal(age, 42);
        assert_memory_equal(p, msg, len);
        /* Expires with the smallest TTL (100 s). */
        twc_reactor_advance(r, 100000 - 42500 - 1);
        assert_int_equal(twc_dns_cache_lookup(c, &q, 0, &p, &plen, &age), 1);
        assert_int_equal(age, 99);
        twc_reactor_advance(r, 1);
        assert_int_equal(twc_dns_cache_lookup(c, &q, 0, &p, &plen, &age), 0);
        assert_int_equal(twc_dns_cache_count(c), 0);
        /* Other types of the same name are other keys. */
        q.qtype = TWC_DNS_AAAA;
        assert_int_equal(twc_dns_cache_lookup(c, &q, 0, &p, &plen, &age), 0);
    }
    twc_dns_cache_free(c);
}

static void test_cache_negative_nxdomain_uses_soa_minimum(void **state)
{
    twc_dns_cache *c = twc_dns_cache_new(r, NULL);
    struct resp rs = {"nope.example.", TWC_DNS_A, TWC_DNS_NXDOMAIN, {0}, 0, 3600, 60, 0};
    uint8_t msg[512], qbuf[512], out[512];
    size_t len = build(&rs, msg, sizeof(msg));
    twc_dns_query cq;
    twc_dns_msg m;
    int n;

    (void)state;
    assert_int_equal(twc_dns_cache_put(c, 0, msg, len), 1);
    twc_reactor_advance(r, 10000);
    client_query(&cq, qbuf, "nope.example.", TWC_DNS_A, 9, 0);
    n = twc_dns_cache_answer(c, &cq, 512, out, sizeof(out));
    assert_true(n > 0);
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)n, NULL), 0);
    assert_int_equal(twc_dns_msg_rcode(&m), TWC_DNS_NXDOMAIN);
    assert_int_equal(m.count[TWC_DNS_NS_SECT], 1);
    assert_int_equal(m.rr[0].ttl, 3600 - 10); /* the SOA's TTL counts down too */
    twc_dns_msg_cleanup(&m);
    twc_reactor_advance(r, 50000); /* min(3600, 60) = 60 s */
    assert_int_equal(twc_dns_cache_answer(c, &cq, 512, out, sizeof(out)), 0);
    twc_dns_cache_free(c);
}

static void test_cache_negative_nodata_uses_soa_ttl(void **state)
{
    twc_dns_cache *c = twc_dns_cache_new(r, NULL);
    struct resp rs = {"www.example.", TWC_DNS_AAAA, 0, {0}, 0, 30, 300, 0};
    uint8_t msg[512];
    size_t len = build(&rs, msg, sizeof(msg));
    twc_dns_question q = question("www.example.", TWC_DNS_AAAA);
    const uint8_t *p;
    size_t plen;
    uint32_t age;

    (void)state;
    assert_int_equal(twc_dns_cache_put(c, 0, msg, len), 1);
    twc_reactor_advance(r, 29999);
    assert_int_equal(twc_dns_cache_lookup(c, &q, 0, &p, &plen, &age), 1);
    twc_reactor_advance(r, 1);
    assert_int_equal(twc_dns_cache_lookup(c, &q, 0, &p, &plen, &age), 0);
    twc_dns_cache_free(c);
}

static void test_cache_refuses_uncacheable(void **state)
{
    twc_dns_cache *c = twc_dns_cache_new(r, NULL);
    uint8_t msg[512];
    struct resp no_soa = {"a.example.", TWC_DNS_A, TWC_DNS_NXDOMAIN, {0}, 0, 0, 0, 0};
    struct resp servfail = {"a.example.", TWC_DNS_A, TWC_DNS_SERVFAIL, {0}, 0, 0, 0, 0};
    struct resp tc = {"a.example.", TWC_DNS_A, TWC_DNS_F_TC, {300}, 1, 0, 0, 0};
    struct resp zero = {"a.example.", TWC_DNS_A, 0, {300, 0}, 2, 0, 0, 0};

    (void)state;
    /* RFC 2308 §5: no SOA, no negative caching. */
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&no_soa, msg, sizeof(msg))), 0);
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&servfail, msg, sizeof(msg))), 0);
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&tc, msg, sizeof(msg))), 0);
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&zero, msg, sizeof(msg))), 0);
    assert_int_equal(twc_dns_cache_put(c, 0, msg, 5), 0); /* malformed */
    assert_int_equal(twc_dns_cache_count(c), 0);
    twc_dns_cache_free(c);
}

static void test_cache_caps_ttl(void **state)
{
    struct twc_dns_cache_limits lim = {.max_ttl = 10, .max_neg_ttl = 5};
    twc_dns_cache *c = twc_dns_cache_new(r, &lim);
    struct resp pos = {"a.example.", TWC_DNS_A, 0, {86400}, 1, 0, 0, 0};
    struct resp neg = {"b.example.", TWC_DNS_A, TWC_DNS_NXDOMAIN, {0}, 0, 3600, 3600, 0};
    twc_dns_question qa = question("a.example.", TWC_DNS_A), qb = question("b.example.", TWC_DNS_A);
    uint8_t msg[512];
    const uint8_t *p;
    size_t plen;
    uint32_t age;

    (void)state;
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&pos, msg, sizeof(msg))), 1);
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&neg, msg, sizeof(msg))), 1);
    twc_reactor_advance(r, 5000);
    assert_int_equal(twc_dns_cache_lookup(c, &qa, 0, &p, &plen, &age), 1);
    assert_int_equal(twc_dns_cache_lookup(c, &qb, 0, &p, &plen, &age), 0);
    twc_reactor_advance(r, 5000);
    assert_int_equal(twc_dns_cache_lookup(c, &qa, 0, &p, &plen, &age), 0);
    twc_dns_cache_free(c);
}

static void test_cache_evicts_least_recently_used(void **state)
{
    struct twc_dns_cache_limits lim = {.max_entries = 2};
    twc_dns_cache *c = twc_dns_cache_new(r, &lim);
    struct resp a = {"a.example.", TWC_DNS_A, 0, {300}, 1, 0, 0, 0};
    struct resp b = {"b.example.", TWC_DNS_A, 0, {300}, 1, 0, 0, 0};
    struct resp cc = {"c.example.", TWC_DNS_A, 0, {300}, 1, 0, 0, 0};
    twc_dns_question qa = question("a.example.", TWC_DNS_A), qb = question("b.example.", TWC_DNS_A),
                     qc = question("c.example.", TWC_DNS_A);
    uint8_t msg[512];
    const uint8_t *p;
    size_t plen;
    uint32_t age;

    (void)state;
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&a, msg, sizeof(msg))), 1);
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&b, msg, sizeof(msg))), 1);
    assert_int_equal(twc_dns_cache_lookup(c, &qa, 0, &p, &plen, &age), 1); /* a is now recent */
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&cc, msg, sizeof(msg))), 1);
    assert_int_equal(twc_dns_cache_count(c), 2);
    assert_int_equal(twc_dns_cache_lookup(c, &qb, 0, &p, &plen, &age), 0); /* b went */
    assert_int_equal(twc_dns_cache_lookup(c, &qa, 0, &p, &plen, &age), 1);
    assert_int_equal(twc_dns_cache_lookup(c, &qc, 0, &p, &plen, &age), 1);
    /* Replacing an answer keeps one entry per key. */
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&cc, msg, sizeof(msg))), 1);
    assert_int_equal(twc_dns_cache_count(c), 2);
    twc_dns_cache_free(c);
}

static void test_cache_evicts_by_bytes(void **state)
{
    uint8_t msg[512];
    struct resp a = {"a.example.", TWC_DNS_A, 0, {300}, 1, 0, 0, 0};
    size_t one = build(&a, msg, sizeof(msg));
    struct twc_dns_cache_limits lim = {.max_bytes = one * 2 + one / 2};
    twc_dns_cache *c = twc_dns_cache_new(r, &lim);
    const char *names[] = {"a.example.", "b.example.", "c.example.", "d.example."};

    (void)state;
    for (int i = 0; i < 4; i++) {
        struct resp x = {names[i], TWC_DNS_A, 0, {300}, 1, 0, 0, 0};

        assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&x, msg, sizeof(msg))), 1);
        assert_true(twc_dns_cache_bytes(c) <= lim.max_bytes);
    }
    assert_int_equal(twc_dns_cache_count(c), 2);
    twc_dns_cache_free(c);
}

static void test_cache_variant_of_query(void **state)
{
    uint8_t qbuf[512];
    twc_dns_query cq;

    (void)state;
    client_query_with(&cq, qbuf, "v.example.", TWC_DNS_A, TWC_DNS_F_RD, 0, 0);
    assert_int_equal(twc_dns_cache_variant(&cq), 0);
    client_query_with(&cq, qbuf, "v.example.", TWC_DNS_A, TWC_DNS_F_RD, 1, 0);
    assert_int_equal(twc_dns_cache_variant(&cq), 0);
    client_query_with(&cq, qbuf, "v.example.", TWC_DNS_A, TWC_DNS_F_RD, 1, 0x8000);
    assert_int_equal(twc_dns_cache_variant(&cq), TWC_DNS_CACHE_DO);
    client_query_with(&cq, qbuf, "v.example.", TWC_DNS_A, TWC_DNS_F_RD | TWC_DNS_F_CD, 0, 0);
    assert_int_equal(twc_dns_cache_variant(&cq), TWC_DNS_CACHE_CD);
    client_query_with(&cq, qbuf, "v.example.", TWC_DNS_A, TWC_DNS_F_CD, 1, 0x8000);
    assert_int_equal(twc_dns_cache_variant(&cq), TWC_DNS_CACHE_DO | TWC_DNS_CACHE_CD);
}

/* RFC 3225 §3, RFC 4035 §3.2.2, RFC 6840 §5.9: answers fetched with DO or CD
 * are separate entries, each served only to clients that ask the same way.
 * The stored answers differ in their number of A records so that a hit shows
 * which entry served it. */
static void test_cache_keeps_do_and_cd_apart(void **state)
{
    twc_dns_cache *c = twc_dns_cache_new(r, NULL);
    struct resp plain = {"s.example.", TWC_DNS_A, 0, {300}, 1, 0, 0, 0};
    struct resp dnssec = {"s.example.", TWC_DNS_A, 0, {300, 300}, 2, 0, 0, 1};
    struct resp cd = {"s.example.", TWC_DNS_A, 0, {300, 300, 300}, 3, 0, 0, 1};
    uint8_t msg[512], qbuf[512];
    twc_dns_query no_edns, do0, do1, cd1, cd1_do1;

    (void)state;
    client_query_with(&no_edns, qbuf, "s.example.", TWC_DNS_A, TWC_DNS_F_RD, 0, 0);
    client_query_with(&do0, qbuf, "s.example.", TWC_DNS_A, TWC_DNS_F_RD, 1, 0);
    client_query_with(&do1, qbuf, "s.example.", TWC_DNS_A, TWC_DNS_F_RD, 1, 0x8000);
    client_query_with(&cd1, qbuf, "s.example.", TWC_DNS_A, TWC_DNS_F_RD | TWC_DNS_F_CD, 0, 0);
    client_query_with(&cd1_do1, qbuf, "S.Example.", TWC_DNS_A, TWC_DNS_F_RD | TWC_DNS_F_CD, 1,
                      0x8000);
    /* A DO=0 answer is no answer for a DO=1 client. */
    assert_int_equal(twc_dns_cache_put(c, 0, msg, build(&plain, msg, sizeof(msg))), 1);
    assert_int_equal(cached_answers(c, &do1), -1);
    assert_int_equal(cached_answers(c, &cd1), -1);
    assert_int_equal(cached_answers(c, &no_edns), 1);
    assert_int_equal(cached_answers(c, &do0), 1); /* EDNS without DO: the same entry */
    /* And a DO=1 answer (with its RRSIGs, upstream's OPT) none for DO=0. */
    assert_int_equal(twc_dns_cache_put(c, TWC_DNS_CACHE_DO, msg, build(&dnssec, msg, sizeof(msg))),
                     1);
    assert_int_equal(twc_dns_cache_count(c), 2);
    assert_int_equal(cached_answers(c, &do1), 2);
    assert_int_equal(cached_answers(c, &no_edns), 1);
    assert_int_equal(cached_answers(c, &do0), 1);
    /* CD=1 data (possibly bogus) stays with CD=1 clients, per DO as well. */
    assert_int_equal(twc_dns_cache_put(c, TWC_DNS_CACHE_CD, msg, build(&cd, msg, sizeof(msg))), 1);
    assert_int_equal(twc_dns_cache_count(c), 3);
    assert_int_equal(cached_answers(c, &cd1), 3);
    assert_int_equal(cached_answers(c, &cd1_do1), -1);
    assert_int_equal(cached_answers(c, &no_edns), 1);
    assert_int_equal(cached_answers(c, &do1), 2);
    /* Replacing one variant leaves the others alone. */
    assert_int_equal(twc_dns_cache_put(c, TWC_DNS_CACHE_DO, msg, build(&plain, msg, sizeof(msg))),
                     1);
    assert_int_equal(twc_dns_cache_count(c), 3);
    assert_int_equal(cached_answers(c, &do1), 1);
    assert_int_equal(cached_answers(c, &cd1), 3);
    /* Each expires on its own; all three share the TTL here. */
    twc_reactor_advance(r, 300000);
    assert_int_equal(cached_answers(c, &do1), -1);
    assert_int_equal(cached_answers(c, &no_edns), -1);
    assert_int_equal(cached_answers(c, &cd1), -1);
    assert_int_equal(twc_dns_cache_count(c), 0);
    twc_dns_cache_free(c);
}

static void test_cache_adapt_edns(void **state)
{
    struct resp with_opt = {"e.example.", TWC_DNS_A, 0, {300}, 1, 0, 0, 1};
    struct resp without = {"e.example.", TWC_DNS_A, 0, {300}, 1, 0, 0, 0};
    uint8_t msg[512], qbuf[512], out[512];
    size_t len;
    twc_dns_query plain, edns;
    twc_dns_msg m;
    int n;

    (void)state;
    client_query(&plain, qbuf, "e.example.", TWC_DNS_A, 1, 0);
    len = build(&with_opt, msg, sizeof(msg));
    /* RFC 6891 §7: no OPT back to a client that sent none. */
    n = twc_dns_response_adapt(msg, len, &plain, 0, 512, out, sizeof(out));
    assert_int_equal(n, (int)len - 11);
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)n, NULL), 0);
    assert_int_equal(m.edns.present, 0);
    assert_int_equal(m.id, 1);
    twc_dns_msg_cleanup(&m);
    /* One added for a client that sent one, carrying its DO bit. */
    client_query(&edns, qbuf, "e.example.", TWC_DNS_A, 2, 1);
    len = build(&without, msg, sizeof(msg));
    n = twc_dns_response_adapt(msg, len, &edns, 0, 1232, out, sizeof(out));
    assert_int_equal(n, (int)len + 11);
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)n, NULL), 0);
    assert_int_equal(m.edns.present, 1);
    assert_int_equal(m.edns.udp_size, 1232);
    assert_int_equal(m.edns.flags, 0x8000);
    assert_int_equal(m.count[TWC_DNS_AN], 1);
    twc_dns_msg_cleanup(&m);
    /* Upstream's OPT kept for an EDNS client, advertising our size. */
    len = build(&with_opt, msg, sizeof(msg));
    n = twc_dns_response_adapt(msg, len, &edns, 0, 1232, out, sizeof(out));
    assert_int_equal(n, (int)len);
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)n, NULL), 0);
    assert_int_equal(m.edns.present, 1);
    assert_int_equal(m.edns.udp_size, 1232);
    assert_int_equal(m.id, 2);
    twc_dns_msg_cleanup(&m);
}

static void test_cache_adapt_truncates_to_limit(void **state)
{
    struct resp big = {"t.example.", TWC_DNS_A, 0, {300, 300, 300, 300}, 4, 0, 0, 0};
    uint8_t msg[512], qbuf[512], out[512];
    size_t len = build(&big, msg, sizeof(msg));
    twc_dns_query cq;
    twc_dns_msg m;
    int n;

    (void)state;
    client_query(&cq, qbuf, "t.example.", TWC_DNS_A, 3, 0);
    n = twc_dns_response_adapt(msg, len, &cq, 0, len - 1, out, sizeof(out));
    assert_int_equal(n, (int)(cq.question_end));
    assert_int_equal(twc_dns_msg_parse(&m, out, (size_t)n, NULL), 0);
    assert_int_equal(m.flags & TWC_DNS_F_TC, TWC_DNS_F_TC);
    assert_int_equal(m.count[TWC_DNS_AN], 0);
    assert_int_equal(m.count[TWC_DNS_QD], 1);
    twc_dns_msg_cleanup(&m);
    assert_int_equal(twc_dns_response_adapt(msg, len, &cq, 0, 10, out, sizeof(out)),
                     TWC_ETOOBIG);
    assert_int_equal(twc_dns_response_adapt(msg, 7, &cq, 0, 512, out, sizeof(out)), TWC_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_ttl_counts_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_negative_nxdomain_uses_soa_minimum, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_negative_nodata_uses_soa_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_refuses_uncacheable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_caps_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_evicts_least_recently_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_evicts_by_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_variant_of_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_keeps_do_and_cd_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_adapt_edns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_adapt_truncates_to_limit, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
