/* Unit tests for proto/dns/server.c: the TCP protocol (RFC 7766 framing,
 * ordered answers, FORMERR, AXFR over several messages, idle timeout, back
 * pressure, graceful shutdown) over the string transport, on a fake clock.
 * The UDP path needs a socket and is covered by tests/cli/dns.bats and
 * tests/interop/dns.bats. */
#define _GNU_SOURCE /* server.c needs SO_RCVBUFFORCE: before the first include */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/server.c" /* the factory and connection state are static */
#include "testing.h"

static const char zone_text[] = "$ORIGIN example.com.\n"
                                "$TTL 3600\n"
                                "@ SOA ns1 host 1 7200 900 1209600 300\n"
                                "@ NS ns1\n"
                                "ns1 A 192.0.2.1\n"
                                "www A 192.0.2.80\n";

struct fx {
    twc_reactor *r;
    twc_dns_server *s;
    twc_string_transport *st;
    int stopped;
};

/* An authority serving zone_text plus `extra` TXT records of 200 bytes each
 * (to make a zone transfer span several 64 KiB messages). */
static twc_dns_auth *make_auth(size_t extra)
{
    twc_dns_auth *a = twc_dns_auth_new();
    twc_dns_zone *z = twc_dns_zone_new(NULL);
    twc_buf text;
    twc_err err;
    size_t i;

    assert_non_null(a);
    assert_non_null(z);
    twc_buf_init(&text, 64 * 1024 * 1024);
    assert_int_equal(twc_buf_append(&text, zone_text, strlen(zone_text)), 0);
    for (i = 0; i < extra; i++)
        assert_int_equal(twc_buf_printf(&text, "t%zu TXT \"%0200zu\"\n", i, i), 0);
    assert_int_equal(twc_dns_zone_parse_buf(z, "test.zone", NULL, (const char *)twc_buf_data(&text),
                                            twc_buf_len(&text), NULL, &err),
                     0);
    twc_buf_cleanup(&text);
    assert_int_equal(twc_dns_zone_check(z, &err), 0);
    assert_int_equal(twc_dns_auth_add_zone(a, z, &err), 0);
    assert_int_equal(twc_dns_auth_finish(a, &err), 0);
    return a;
}

static void fx_start(struct fx *f, size_t extra)
{
    struct twc_reactor_opts ro = {NULL, 1};
    twc_err err;

    memset(f, 0, sizeof(*f));
    f->r = twc_reactor_new(&ro, &err);
    assert_non_null(f->r);
    f->s = twc_dns_server_new(f->r, &err);
    assert_non_null(f->s);
    twc_dns_server_set_authority(f->s, make_auth(extra), TWC_DNS_MISS_REFUSED);
    f->st = twc_string_transport_new(f->r);
    assert_non_null(f->st);
    assert_non_null(twc_string_transport_build(f->st, &f->s->factory));
}

static void fx_stop(struct fx *f)
{
    twc_string_transport_free(f->st); /* connection_lost if still attached */
    twc_dns_server_free(f->s);
    twc_reactor_run_once(f->r, 0);
    assert_int_equal(twc_reactor_live_handles(f->r), 0);
    twc_reactor_free(f->r);
}

/* A framed query (2-byte length, then the message) appended to out. */
static void add_query(twc_buf *out, uint16_t id, const char *name, uint16_t qtype)
{
    uint8_t msg[512];
    twc_dns_writer w;
    twc_dns_name n;
    twc_err err;
    size_t len;

    assert_int_equal(twc_dns_name_parse(&n, name, strlen(name), NULL, &err), 0);
    twc_dns_writer_init(&w, msg, sizeof(msg), sizeof(msg));
    assert_int_equal(twc_dns_write_header(&w, id, TWC_DNS_F_RD), 0);
    assert_int_equal(twc_dns_write_question(&w, &n, qtype, TWC_DNS_CLASS_IN), 0);
    len = twc_dns_writer_finish(&w);
    assert_int_equal(twc_lenprefix_encode(out, 2, msg, len), 0);
}

/* Split the transport's output into messages; parse message i into m.
 * Returns the number of whole messages. */
static size_t responses(struct fx *f, size_t want, twc_dns_msg *m)
{
    size_t len, off = 0, n = 0, mlen;
    const uint8_t *p = twc_string_transport_value(f->st, &len);
    twc_err err;

    while (off + 2 <= len) {
        mlen = (size_t)p[off] << 8 | p[off + 1];
        assert_true(off + 2 + mlen <= len);
        if (m != NULL && n == want)
            assert_int_equal(twc_dns_msg_parse(m, p + off + 2, mlen, &err), 0);
        off += 2 + mlen;
        n++;
    }
    assert_int_equal(off, len);
    return n;
}

static void test_server_tcp_answers_in_order_whole_and_bytewise(void **state)
{
    struct fx f;
    twc_buf in;
    twc_dns_msg m;
    size_t i, len, whole_len;
    uint8_t *whole;
    const uint8_t *v;
    static const unsigned rcodes[] = {TWC_DNS_NOERROR, TWC_DNS_NXDOMAIN, TWC_DNS_REFUSED};

    (void)state;
    twc_buf_init(&in, 4096);
    add_query(&in, 1, "www.example.com.", TWC_DNS_A);
    add_query(&in, 2, "nothere.example.com.", TWC_DNS_A);
    add_query(&in, 3, "www.example.org.", TWC_DNS_A);

    fx_start(&f, 0);
    assert_int_equal(twc_string_transport_feed(f.st, twc_buf_data(&in), twc_buf_len(&in)), 0);
    assert_int_equal(responses(&f, 0, NULL), 3);
    for (i = 0; i < 3; i++) {
        responses(&f, i, &m);
        assert_int_equal(m.id, i + 1);
        assert_int_equal(twc_dns_msg_rcode(&m), rcodes[i]);
        twc_dns_msg_cleanup(&m);
    }
    v = twc_string_transport_value(f.st, &whole_len);
    whole = malloc(whole_len);
    assert_non_null(whole);
    memcpy(whole, v, whole_len);
    fx_stop(&f);

    /* One byte at a time: the same bytes out. */
    fx_start(&f, 0);
    for (i = 0; i < twc_buf_len(&in); i++)
        assert_int_equal(twc_string_transport_feed(f.st, twc_buf_data(&in) + i, 1), 0);
    v = twc_string_transport_value(f.st, &len);
    assert_int_equal(len, whole_len);
    assert_memory_equal(v, whole, len);
    assert_int_equal(twc_string_transport_reading_paused(f.st), 0);
    fx_stop(&f);
    free(whole);
    twc_buf_cleanup(&in);
}

static void test_server_tcp_formerr_then_short_frame_closes(void **state)
{
    struct fx f;
    twc_dns_msg m;
    /* A header announcing one question, then a label running past the end. */
    static const uint8_t bad[] = {0, 17, 0xbe, 0xef, 0x01, 0,   0,   1,   0,  0,
                                  0, 0,  0,    0,    9,    'a', 'b', 'c', 'd'};
    static const uint8_t tiny[] = {0, 3, 1, 2, 3};

    (void)state;
    fx_start(&f, 0);
    assert_int_equal(twc_string_transport_feed(f.st, bad, sizeof(bad)), 0);
    assert_int_equal(responses(&f, 0, &m), 1);
    assert_int_equal(m.id, 0xbeef);
    assert_int_equal(twc_dns_msg_rcode(&m), TWC_DNS_FORMERR);
    twc_dns_msg_cleanup(&m);
    assert_int_equal(twc_string_transport_disconnecting(f.st), 0);
    /* Not even a header: nothing to answer, the connection is closed. */
    assert_int_equal(twc_string_transport_feed(f.st, tiny, sizeof(tiny)), 0);
    assert_int_equal(responses(&f, 0, NULL), 1);
    assert_int_equal(twc_string_transport_disconnecting(f.st), 1);
    fx_stop(&f);
}

static void test_server_tcp_axfr_spans_messages_soa_first_and_last(void **state)
{
    struct fx f;
    twc_buf in;
    twc_dns_msg m;
    const twc_dns_rr *rr;
    size_t i, n, nmsg, total = 0, extra = 1000;

    (void)state;
    fx_start(&f, extra);
    twc_buf_init(&in, 4096);
    add_query(&in, 77, "example.com.", TWC_DNS_AXFR);
    add_query(&in, 78, "www.example.com.", TWC_DNS_A); /* answered after the transfer */
    assert_int_equal(twc_string_transport_feed(f.st, twc_buf_data(&in), twc_buf_len(&in)), 0);
    nmsg = responses(&f, 0, NULL);
    assert_true(nmsg >= 4); /* ~210 KB of TXT: at least 4 messages of 64 KiB */
    for (i = 0; i + 1 < nmsg; i++) {
        responses(&f, i, &m);
        assert_int_equal(m.id, 77);
        assert_int_equal(m.flags & (TWC_DNS_F_QR | TWC_DNS_F_AA | TWC_DNS_F_TC),
                         TWC_DNS_F_QR | TWC_DNS_F_AA);
        assert_int_equal(m.count[TWC_DNS_QD], i == 0 ? 1 : 0); /* RFC 5936 §2.2.1 */
        rr = twc_dns_msg_section(&m, TWC_DNS_AN, &n);
        if (i == 0)
            assert_int_equal(rr[0].type, TWC_DNS_SOA);
        if (i + 2 == nmsg)
            assert_int_equal(rr[n - 1].type, TWC_DNS_SOA);
        total += n;
        twc_dns_msg_cleanup(&m);
    }
    /* SOA, NS, 2 A, the TXTs, SOA again. */
    assert_int_equal(total, extra + 5);
    responses(&f, nmsg - 1, &m);
    assert_int_equal(m.id, 78);
    assert_int_equal(m.count[TWC_DNS_AN], 1);
    twc_dns_msg_cleanup(&m);
    twc_buf_cleanup(&in);
    fx_stop(&f);
}

static void test_server_tcp_axfr_of_unserved_zone_is_notauth(void **state)
{
    struct fx f;
    twc_buf in;
    twc_dns_msg m;

    (void)state;
    fx_start(&f, 0);
    twc_buf_init(&in, 512);
    add_query(&in, 9, "example.org.", TWC_DNS_AXFR);
    assert_int_equal(twc_string_transport_feed(f.st, twc_buf_data(&in), twc_buf_len(&in)), 0);
    assert_int_equal(responses(&f, 0, &m), 1);
    assert_int_equal(twc_dns_msg_rcode(&m), RCODE_NOTAUTH);
    twc_dns_msg_cleanup(&m);
    twc_buf_cleanup(&in);
    fx_stop(&f);
}

static void test_server_tcp_idle_timeout_closes(void **state)
{
    struct fx f;
    twc_buf in;

    (void)state;
    fx_start(&f, 0);
    twc_reactor_advance(f.r, TWC_DNS_TCP_IDLE_MS - 1000);
    twc_buf_init(&in, 512);
    add_query(&in, 1, "www.example.com.", TWC_DNS_A);
    /* A query restarts the idle time. */
    assert_int_equal(twc_string_transport_feed(f.st, twc_buf_data(&in), twc_buf_len(&in)), 0);
    twc_reactor_advance(f.r, TWC_DNS_TCP_IDLE_MS - 1);
    assert_int_equal(twc_string_transport_disconnecting(f.st), 0);
    twc_reactor_advance(f.r, 1);
    assert_int_equal(twc_string_transport_disconnecting(f.st), 1);
    assert_int_equal(twc_string_transport_aborted(f.st), 0);
    twc_buf_cleanup(&in);
    fx_stop(&f);
}

static void test_server_tcp_backpressure_holds_queries_until_drained(void **state)
{
    struct fx f;
    twc_buf in;
    twc_dns_msg m;

    (void)state;
    fx_start(&f, 0);
    twc_string_transport_set_buffered(f.st, TWC_WRITE_HIGH_WATER + 1);
    assert_int_equal(twc_string_transport_reading_paused(f.st), 1);
    twc_buf_init(&in, 512);
    add_query(&in, 5, "www.example.com.", TWC_DNS_A);
    add_query(&in, 6, "ns1.example.com.", TWC_DNS_A);
    assert_int_equal(twc_string_transport_feed(f.st, twc_buf_data(&in), twc_buf_len(&in)), 0);
    assert_int_equal(responses(&f, 0, NULL), 0); /* held while the peer does not read */
    twc_string_transport_set_buffered(f.st, 0);
    assert_int_equal(responses(&f, 1, &m), 2);
    assert_int_equal(m.id, 6);
    twc_dns_msg_cleanup(&m);
    assert_int_equal(twc_string_transport_reading_paused(f.st), 0);
    twc_buf_cleanup(&in);
    fx_stop(&f);
}

static void on_stopped(void *arg)
{
    ((struct fx *)arg)->stopped++;
}

static void test_server_shutdown_closes_idle_and_reports_once(void **state)
{
    struct fx f;

    (void)state;
    fx_start(&f, 0);
    twc_dns_server_shutdown(f.s, on_stopped, &f);
    assert_int_equal(twc_string_transport_disconnecting(f.st), 1);
    assert_int_equal(f.stopped, 0);
    twc_string_transport_close(f.st, NULL);
    assert_int_equal(f.stopped, 1);
    assert_int_equal(twc_dns_server_connection_count(f.s), 0);
    fx_stop(&f);
    assert_int_equal(f.stopped, 1);
}

static void test_server_reload_swaps_authority(void **state)
{
    struct fx f;
    twc_buf in;
    twc_dns_msg m;
    twc_dns_auth *empty = twc_dns_auth_new();
    twc_err err;

    (void)state;
    assert_non_null(empty);
    assert_int_equal(twc_dns_auth_finish(empty, &err), 0);
    fx_start(&f, 0);
    /* Queries from now on use the new data: here none, with NXDOMAIN for misses. */
    twc_dns_server_set_authority(f.s, empty, TWC_DNS_MISS_NXDOMAIN);
    twc_buf_init(&in, 512);
    add_query(&in, 4, "www.example.com.", TWC_DNS_A);
    assert_int_equal(twc_string_transport_feed(f.st, twc_buf_data(&in), twc_buf_len(&in)), 0);
    assert_int_equal(responses(&f, 0, &m), 1);
    assert_int_equal(twc_dns_msg_rcode(&m), TWC_DNS_NXDOMAIN);
    assert_int_equal(m.flags & TWC_DNS_F_AA, TWC_DNS_F_AA);
    twc_dns_msg_cleanup(&m);
    twc_buf_cleanup(&in);
    fx_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_tcp_answers_in_order_whole_and_bytewise),
        cmocka_unit_test(test_server_tcp_formerr_then_short_frame_closes),
        cmocka_unit_test(test_server_tcp_axfr_spans_messages_soa_first_and_last),
        cmocka_unit_test(test_server_tcp_axfr_of_unserved_zone_is_notauth),
        cmocka_unit_test(test_server_tcp_idle_timeout_closes),
        cmocka_unit_test(test_server_tcp_backpressure_holds_queries_until_drained),
        cmocka_unit_test(test_server_shutdown_closes_idle_and_reports_once),
        cmocka_unit_test(test_server_reload_swaps_authority),
    };

    return cmocka_run_group_tests_name("proto/dns/server", tests, NULL, NULL);
}
