/* Unit tests for proto/dns/axfr.c: the AXFR query encoder and the response
 * sequence reader, fed whole messages, the whole TCP stream, one byte at a
 * time and in seeded random splits (each chunk from an exact-size heap copy
 * so ASan sees over-reads), plus every failure and limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/axfr.h"
#include "proto/dns/zone.h"

#define ID       0x1234
#define SOA_TEXT "ns.example. host.example. 7 100 20 500 60"

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

    assert_in_range(n, 0, 255);
    memset(&rr, 0, sizeof(rr));
    rr.name = name_of(name);
    rr.type = type;
    rr.rclass = TWC_DNS_CLASS_IN;
    rr.ttl = 3600;
    rr.rdlen = (uint16_t)n;
    rr.rdata = rd;
    assert_int_equal(twc_dns_write_rr(w, TWC_DNS_AN, &rr), 0);
}

/* One record for a message: "name TYPE rdata" split by the caller. */
struct rec {
    const char *name;
    uint16_t type;
    const char *text;
};

/* A message with id, flags (QR added), the question when with_q, and recs;
 * appended to out at *len with a two-byte prefix. Returns the message length. */
static size_t put_msg(uint8_t *out, size_t *len, uint16_t id, uint16_t flags, int with_q,
                      const struct rec *recs, size_t n)
{
    twc_dns_writer w;
    twc_dns_name zone = name_of("example.");
    size_t mlen;

    twc_dns_writer_init(&w, out + *len + 2, 4096, 4096);
    twc_dns_write_header(&w, id, (uint16_t)(TWC_DNS_F_QR | flags));
    if (with_q)
        twc_dns_write_question(&w, &zone, TWC_DNS_AXFR, TWC_DNS_CLASS_IN);
    for (size_t i = 0; i < n; i++)
        add_rr(&w, recs[i].name, recs[i].type, recs[i].text);
    mlen = twc_dns_writer_finish(&w);
    out[*len] = (uint8_t)(mlen >> 8);
    out[*len + 1] = (uint8_t)mlen;
    *len += mlen + 2;
    return mlen;
}

static const struct rec first[] = {
    {"example.", TWC_DNS_SOA, SOA_TEXT},
    {"example.", TWC_DNS_NS, "ns.example."},
    {"www.example.", TWC_DNS_A, "192.0.2.1"},
};
static const struct rec second[] = {
    {"mail.example.", TWC_DNS_A, "192.0.2.25"},
    {"example.", TWC_DNS_SOA, SOA_TEXT},
    {"after.example.", TWC_DNS_A, "192.0.2.99"}, /* after the closing SOA: ignored */
};

/* The good two-message stream; returns its length, *m1 the first message's. */
static size_t good_stream(uint8_t *buf, size_t *m1)
{
    size_t len = 0;

    *m1 = put_msg(buf, &len, ID, TWC_DNS_F_AA, 1, first, 3) + 2;
    put_msg(buf, &len, ID, TWC_DNS_F_AA, 0, second, 3);
    return len;
}

/* What the reader reported, as text: "TYPE owner|...;" per event, "done" at the end. */
struct seen {
    char text[1024];
    size_t off;
    int events;
};

static void record_event(struct seen *s, const struct twc_dns_axfr_event *ev)
{
    char name[TWC_DNS_NAME_TEXT_MAX], type[16];

    if (ev->type != TWC_DNS_AXFR_EV_MESSAGE)
        return;
    s->events++;
    for (size_t i = 0; i < ev->nrr; i++) {
        twc_dns_name_format(&ev->rr[i].name, name, sizeof(name));
        s->off += (size_t)snprintf(s->text + s->off, sizeof(s->text) - s->off, "%s %s|",
                                   twc_dns_type_name(ev->rr[i].type, type, sizeof(type)), name);
    }
    s->off +=
        (size_t)snprintf(s->text + s->off, sizeof(s->text) - s->off, "%s;", ev->done ? "done" : "");
}

static const char expected[] = "SOA example.|NS example.|A www.example.|;"
                               "A mail.example.|SOA example.|done;";

/* Feed data in chunks of sizes from next_size (each an exact heap copy). */
static int feed_chunks(twc_dns_axfr_reader *r, const uint8_t *data, size_t len, unsigned seed,
                       size_t fixed, struct seen *s, twc_err *err)
{
    size_t off = 0;

    srand(seed);
    while (off < len) {
        size_t n = fixed != 0 ? fixed : 1 + (size_t)rand() % 64;
        uint8_t *copy;
        size_t done = 0;

        if (n > len - off)
            n = len - off;
        copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, data + off, n);
        while (done < n) {
            struct twc_dns_axfr_event ev;
            ssize_t k = twc_dns_axfr_reader_feed(r, copy + done, n - done, &ev, err);

            if (k < 0) {
                free(copy);
                return (int)k;
            }
            assert_in_range(k, 1, n - done);
            record_event(s, &ev);
            done += (size_t)k;
        }
        free(copy);
        off += n;
    }
    return 0;
}

static void run_split(size_t fixed, unsigned seed)
{
    uint8_t buf[8192];
    size_t m1, len = good_stream(buf, &m1);
    twc_dns_name zone = name_of("example.");
    twc_dns_axfr_reader r;
    struct seen s;
    twc_err err;

    memset(&s, 0, sizeof(s));
    twc_dns_axfr_reader_init(&r, ID, &zone, NULL);
    assert_int_equal(feed_chunks(&r, buf, len, seed, fixed, &s, &err), 0);
    assert_string_equal(s.text, expected);
    assert_int_equal(s.events, 2);
    assert_int_equal(twc_dns_axfr_reader_done(&r), 1);
    assert_int_equal(twc_dns_axfr_reader_stats(&r)->messages, 2);
    assert_int_equal(twc_dns_axfr_reader_stats(&r)->records, 5);
    assert_int_equal(twc_dns_axfr_reader_stats(&r)->bytes, len - 4);
    twc_dns_axfr_reader_cleanup(&r);
}

static void test_axfr_stream_whole(void **state)
{
    (void)state;
    run_split(sizeof(uint8_t[8192]), 0);
}

static void test_axfr_stream_byte_at_a_time(void **state)
{
    (void)state;
    run_split(1, 0);
}

static void test_axfr_stream_random_splits(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 50; seed++)
        run_split(0, seed);
}

static void test_axfr_one_message_at_a_time(void **state)
{
    uint8_t buf[8192];
    size_t m1, len = good_stream(buf, &m1);
    twc_dns_name zone = name_of("example.");
    twc_dns_axfr_reader r;
    struct twc_dns_axfr_event ev;
    struct seen s;
    twc_err err;

    (void)state;
    memset(&s, 0, sizeof(s));
    twc_dns_axfr_reader_init(&r, ID, &zone, NULL);
    assert_int_equal(twc_dns_axfr_reader_message(&r, buf + 2, m1 - 2, &ev, &err), 0);
    record_event(&s, &ev);
    assert_int_equal(twc_dns_axfr_reader_state(&r), TWC_DNS_AXFR_S_RECORDS);
    assert_int_equal(twc_dns_axfr_reader_message(&r, buf + m1 + 2, len - m1 - 2, &ev, &err), 0);
    record_event(&s, &ev);
    assert_string_equal(s.text, expected);
    assert_string_equal(twc_dns_axfr_state_name(twc_dns_axfr_reader_state(&r)), "done");
    /* Anything after the closing SOA is ignored. */
    assert_int_equal(twc_dns_axfr_reader_message(&r, buf + 2, m1 - 2, &ev, &err), 0);
    assert_int_equal(ev.type, TWC_DNS_AXFR_EV_NONE);
    assert_int_equal(twc_dns_axfr_reader_feed(&r, buf, 5, &ev, &err), 5);
    assert_int_equal(ev.type, TWC_DNS_AXFR_EV_NONE);
    twc_dns_axfr_reader_cleanup(&r);
}

/* Feed the stream whole; returns the first error (0 when none). */
static int feed_all(const uint8_t *buf, size_t len, const struct twc_dns_axfr_limits *lim,
                    twc_dns_axfr_reader *r, twc_err *err)
{
    twc_dns_name zone = name_of("example.");
    struct seen s;

    memset(&s, 0, sizeof(s));
    twc_dns_axfr_reader_init(r, ID, &zone, lim);
    return feed_chunks(r, buf, len, 0, len, &s, err);
}

static void test_axfr_refused_is_sticky(void **state)
{
    uint8_t buf[8192];
    size_t len = 0;
    twc_dns_axfr_reader r;
    struct twc_dns_axfr_event ev;
    twc_err err;

    (void)state;
    put_msg(buf, &len, ID, TWC_DNS_REFUSED, 1, NULL, 0);
    assert_int_equal(feed_all(buf, len, NULL, &r, &err), TWC_EDNS_SERVFAIL);
    assert_string_equal(err.msg, "server refused the transfer: REFUSED");
    assert_int_equal(twc_dns_axfr_reader_rcode(&r), TWC_DNS_REFUSED);
    assert_int_equal(twc_dns_axfr_reader_state(&r), TWC_DNS_AXFR_S_FAILED);
    assert_int_equal(twc_dns_axfr_reader_feed(&r, buf, len, &ev, &err), TWC_EDNS_SERVFAIL);
    twc_dns_axfr_reader_cleanup(&r);
    len = 0;
    put_msg(buf, &len, ID, 9 /* NOTAUTH */, 1, NULL, 0);
    assert_int_equal(feed_all(buf, len, NULL, &r, &err), TWC_EDNS_SERVFAIL);
    assert_int_equal(twc_dns_axfr_reader_rcode(&r), 9);
    twc_dns_axfr_reader_cleanup(&r);
}

static void test_axfr_protocol_errors(void **state)
{
    static const struct rec no_soa[] = {{"www.example.", TWC_DNS_A, "192.0.2.1"}};
    static const uint8_t junk[] = {0x00, 0x03, 'a', 'b', 'c'};
    uint8_t buf[8192];
    size_t len;
    twc_dns_axfr_reader r;
    twc_err err;

    (void)state;
    len = 0; /* another ID */
    put_msg(buf, &len, ID + 1, 0, 1, first, 3);
    assert_int_equal(feed_all(buf, len, NULL, &r, &err), TWC_EPROTO);
    assert_string_equal(err.msg, "reply with another id");
    twc_dns_axfr_reader_cleanup(&r);
    len = 0; /* records before the opening SOA */
    put_msg(buf, &len, ID, 0, 1, no_soa, 1);
    assert_int_equal(feed_all(buf, len, NULL, &r, &err), TWC_EPROTO);
    assert_string_equal(err.msg, "transfer does not start with the zone's SOA");
    twc_dns_axfr_reader_cleanup(&r);
    len = 0; /* RFC 5936 §2.2.1: the first message echoes the question */
    put_msg(buf, &len, ID, 0, 0, first, 3);
    assert_int_equal(feed_all(buf, len, NULL, &r, &err), TWC_EPROTO);
    assert_string_equal(err.msg, "first message without the question");
    twc_dns_axfr_reader_cleanup(&r);
    len = 0; /* not a DNS message at all */
    assert_int_equal(feed_all(junk, sizeof(junk), NULL, &r, &err), TWC_EPROTO);
    twc_dns_axfr_reader_cleanup(&r);
}

static void test_axfr_limits(void **state)
{
    uint8_t buf[8192];
    size_t m1, len = good_stream(buf, &m1);
    struct twc_dns_axfr_limits lim;
    twc_dns_axfr_reader r;
    twc_err err;

    (void)state;
    memset(&lim, 0, sizeof(lim));
    lim.max_messages = 1;
    assert_int_equal(feed_all(buf, len, &lim, &r, &err), TWC_ETOOBIG);
    assert_string_equal(err.msg, "transfer exceeds 1 messages");
    twc_dns_axfr_reader_cleanup(&r);
    memset(&lim, 0, sizeof(lim));
    lim.max_records = 4; /* the transfer has 5 */
    assert_int_equal(feed_all(buf, len, &lim, &r, &err), TWC_ETOOBIG);
    assert_string_equal(err.msg, "transfer exceeds 4 records");
    twc_dns_axfr_reader_cleanup(&r);
    memset(&lim, 0, sizeof(lim));
    lim.max_bytes = len - 5; /* one byte short of both messages */
    assert_int_equal(feed_all(buf, len, &lim, &r, &err), TWC_ETOOBIG);
    twc_dns_axfr_reader_cleanup(&r);
    /* Exactly at the limits: accepted. */
    lim.max_messages = 2;
    lim.max_records = 5;
    lim.max_bytes = len - 4;
    assert_int_equal(feed_all(buf, len, &lim, &r, &err), 0);
    assert_int_equal(twc_dns_axfr_reader_done(&r), 1);
    twc_dns_axfr_reader_cleanup(&r);
}

static void test_axfr_query_encode(void **state)
{
    uint8_t buf[TWC_DNS_XFR_QUERY_MAX];
    twc_dns_name zone = name_of("example.test.");
    twc_dns_query q;
    size_t n;

    (void)state;
    n = twc_dns_xfr_query_encode(buf, sizeof(buf), 0xbeef, &zone, TWC_DNS_AXFR);
    assert_int_equal(n, 2 + 12 + zone.len + 4);
    assert_int_equal((size_t)(buf[0] << 8 | buf[1]), n - 2);
    assert_int_equal(twc_dns_query_parse(&q, buf + 2, n - 2), 0);
    assert_int_equal(q.id, 0xbeef);
    assert_int_equal(q.flags, 0);
    assert_int_equal(q.qdcount, 1);
    assert_int_equal(q.q.qtype, TWC_DNS_AXFR);
    assert_int_equal(q.q.qclass, TWC_DNS_CLASS_IN);
    assert_int_equal(twc_dns_name_equal(&q.q.name, &zone), 1);
    assert_int_equal(twc_dns_xfr_query_encode(buf, sizeof(buf) - 1, 1, &zone, TWC_DNS_AXFR), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axfr_stream_whole),
        cmocka_unit_test(test_axfr_stream_byte_at_a_time),
        cmocka_unit_test(test_axfr_stream_random_splits),
        cmocka_unit_test(test_axfr_one_message_at_a_time),
        cmocka_unit_test(test_axfr_refused_is_sticky),
        cmocka_unit_test(test_axfr_protocol_errors),
        cmocka_unit_test(test_axfr_limits),
        cmocka_unit_test(test_axfr_query_encode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
