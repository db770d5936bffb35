/* Unit tests for proto/dns: names, decompression safety, parse/write round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/dns.h"

static twc_dns_name name_of(const char *s)
{
    twc_dns_name n;
    twc_err err;

    if (twc_dns_name_parse(&n, s, strlen(s), NULL, &err) < 0)
        fail_msg("name %s: %s", s, err.msg);
    return n;
}

static void test_dns_name_parse_format(void **state)
{
    twc_dns_name n, origin = name_of("example.com.");
    char buf[TWC_DNS_NAME_TEXT_MAX];
    twc_err err;

    (void)state;
    n = name_of("www.Example.COM.");
    assert_int_equal(n.len, 17);
    assert_int_equal(twc_dns_name_format(&n, buf, sizeof(buf)), 16);
    assert_string_equal(buf, "www.Example.COM.");
    assert_int_equal(twc_dns_name_labels(&n), 3);
    assert_true(twc_dns_name_equal(&n, &(twc_dns_name){0}) == 0);
    assert_true(twc_dns_name_is_under(&n, &origin));
    assert_false(twc_dns_name_is_under(&origin, &n));
    /* relative, @, escapes */
    assert_int_equal(twc_dns_name_parse(&n, "mail", 4, &origin, &err), 0);
    twc_dns_name_format(&n, buf, sizeof(buf));
    assert_string_equal(buf, "mail.example.com.");
    assert_int_equal(twc_dns_name_parse(&n, "@", 1, &origin, &err), 0);
    assert_true(twc_dns_name_equal(&n, &origin));
    assert_int_equal(twc_dns_name_parse(&n, "a\\.b.c.", 7, NULL, &err), 0);
    assert_int_equal(twc_dns_name_labels(&n), 2);
    twc_dns_name_format(&n, buf, sizeof(buf));
    assert_string_equal(buf, "a\\.b.c.");
    assert_int_equal(twc_dns_name_parse(&n, "\\065\\032x.", 10, NULL, &err), 0);
    twc_dns_name_format(&n, buf, sizeof(buf));
    assert_string_equal(buf, "A\\032x.");
    n = name_of(".");
    assert_int_equal(n.len, 1);
    twc_dns_name_format(&n, buf, sizeof(buf));
    assert_string_equal(buf, ".");
}

static void test_dns_name_limits(void **state)
{
    char s[400];
    twc_dns_name n;
    twc_err err;
    size_t i;

    (void)state;
    memset(s, 'a', 64);
    s[64] = '.';
    assert_int_equal(twc_dns_name_parse(&n, s, 65, NULL, &err), TWC_ETOOBIG);
    assert_string_equal(err.msg, "label exceeds 63 bytes");
    /* 4 labels of 63 = 4*64 + 1 = 257 > 255 */
    for (i = 0; i < 4; i++) {
        memset(s + i * 64, 'b', 63);
        s[i * 64 + 63] = '.';
    }
    assert_int_equal(twc_dns_name_parse(&n, s, 256, NULL, &err), TWC_ETOOBIG);
    assert_int_equal(twc_dns_name_parse(&n, "a..b", 4, NULL, &err), TWC_EINVAL);
    assert_int_equal(twc_dns_name_parse(&n, "a\\25", 4, NULL, &err), TWC_EINVAL);
    assert_int_equal(twc_dns_name_parse(&n, "a\\999", 5, NULL, &err), TWC_EINVAL);
    assert_int_equal(twc_dns_name_parse(&n, "", 0, NULL, &err), TWC_EINVAL);
}

static void test_dns_name_read_compression_safety(void **state)
{
    /* header (12) + "a" + pointer to 12, then several hostile names */
    uint8_t msg[64] = {0};
    twc_dns_name n;
    size_t off;

    (void)state;
    memcpy(msg + 12, "\x01" "a\x00", 3);        /* 12: a. */
    memcpy(msg + 15, "\x01" "b\xc0\x0c", 4);    /* 15: b. -> 12 */
    off = 15;
    assert_int_equal(twc_dns_name_read(msg, 40, &off, &n), 0);
    assert_int_equal(off, 19);
    assert_int_equal(n.len, 5);
    assert_memory_equal(n.wire, "\x01" "b\x01" "a\x00", 5);
    /* a pointer to itself */
    memcpy(msg + 20, "\xc0\x14", 2);
    off = 20;
    assert_int_equal(twc_dns_name_read(msg, 40, &off, &n), TWC_EPROTO);
    /* a forward pointer */
    memcpy(msg + 22, "\xc0\x1e", 2);
    off = 22;
    assert_int_equal(twc_dns_name_read(msg, 40, &off, &n), TWC_EPROTO);
    /* two pointers pointing at each other: the second is forward */
    memcpy(msg + 24, "\xc0\x1a\xc0\x18", 4);
    off = 26;
    assert_int_equal(twc_dns_name_read(msg, 40, &off, &n), TWC_EPROTO);
    /* extended label type 0x40 */
    memcpy(msg + 30, "\x41" "x\x00", 3);
    off = 30;
    assert_int_equal(twc_dns_name_read(msg, 40, &off, &n), TWC_EPROTO);
    /* label running past the end */
    memcpy(msg + 36, "\x09" "abc", 4);
    off = 36;
    assert_int_equal(twc_dns_name_read(msg, 40, &off, &n), TWC_EPROTO);
    /* a pointer cut in half */
    off = 39;
    msg[39] = 0xc0;
    assert_int_equal(twc_dns_name_read(msg, 40, &off, &n), TWC_EPROTO);
}

static void test_dns_name_read_rejects_overlong_expansion(void **state)
{
    /* A chain of backward pointers each adding a 63-byte label: the expansion
     * passes 255 bytes and must be refused. */
    uint8_t msg[1024] = {0};
    size_t pos = 12, prev = 0, off;
    twc_dns_name n;
    int i;

    (void)state;
    msg[pos] = 0; /* root at 12 */
    prev = pos++;
    for (i = 0; i < 5; i++) {
        size_t here = pos;

        msg[pos++] = 63;
        memset(msg + pos, 'x', 63);
        pos += 63;
        msg[pos++] = (uint8_t)(0xc0 | (prev >> 8));
        msg[pos++] = (uint8_t)prev;
        prev = here;
    }
    off = prev;
    assert_int_equal(twc_dns_name_read(msg, pos, &off, &n), TWC_EPROTO);
}

/* Build a response holding one record of every supported type, parse it back. */
static size_t build_response(uint8_t *buf, size_t cap, size_t limit, twc_dns_writer *w)
{
    twc_dns_name q = name_of("example.com."), mx = name_of("mail.example.com.");
    uint8_t a[4] = {192, 0, 2, 1}, aaaa[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    uint8_t mxrd[64], soard[128], srvrd[64], txtrd[] = "\x05hello\x05world";
    uint8_t caard[] = "\x00\x05issueletsencrypt.org", unk[3] = {1, 2, 3};
    size_t o;
    twc_dns_rr rr;

    twc_dns_writer_init(w, buf, cap, limit);
    assert_int_equal(twc_dns_write_header(w, 0x1234, TWC_DNS_F_QR | TWC_DNS_F_AA), 0);
    assert_int_equal(twc_dns_write_question(w, &q, TWC_DNS_ANY, TWC_DNS_CLASS_IN), 0);
    memset(&rr, 0, sizeof(rr));
    rr.name = q;
    rr.rclass = TWC_DNS_CLASS_IN;
    rr.ttl = 3600;
#define ADD(t, p, l)                                                                              \
    do {                                                                                          \
        rr.type = (t);                                                                            \
        rr.rdata = (p);                                                                           \
        rr.rdlen = (uint16_t)(l);                                                                 \
        assert_int_equal(twc_dns_write_rr(w, TWC_DNS_AN, &rr), 0);                                \
    } while (0)
    ADD(TWC_DNS_A, a, 4);
    ADD(TWC_DNS_AAAA, aaaa, 16);
    mxrd[0] = 0;
    mxrd[1] = 10;
    memcpy(mxrd + 2, mx.wire, mx.len);
    ADD(TWC_DNS_MX, mxrd, 2 + mx.len);
    o = 0;
    memcpy(soard, mx.wire, mx.len);
    o += mx.len;
    memcpy(soard + o, q.wire, q.len);
    o += q.len;
    memcpy(soard + o, "\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x03\x84\x00\x09\x3a\x80\x00\x00\x01\x2c", 20);
    o += 20;
    ADD(TWC_DNS_SOA, soard, o);
    ADD(TWC_DNS_TXT, txtrd, sizeof(txtrd) - 1);
    memcpy(srvrd, "\x00\x0a\x00\x05\x14\x95", 6);
    memcpy(srvrd + 6, mx.wire, mx.len);
    ADD(TWC_DNS_SRV, srvrd, 6 + mx.len);
    ADD(TWC_DNS_CAA, caard, sizeof(caard) - 1);
    ADD(4321, unk, 3);
#undef ADD
    assert_int_equal(twc_dns_write_opt(w, 1232, 0, 0x8000), 0);
    return twc_dns_writer_finish(w);
}

static void test_dns_roundtrip_all_types(void **state)
{
    static const char *want[] = {
        "192.0.2.1", "2001:db8::1", "10 mail.example.com.",
        "mail.example.com. example.com. 1 3600 900 604800 300", "\"hello\" \"world\"",
        "10 5 5269 mail.example.com.", "0 issue \"letsencrypt.org\"", "\\# 3 010203",
    };
    uint8_t buf[1024];
    twc_dns_writer w;
    twc_dns_msg m;
    const twc_dns_rr *an;
    char text[512];
    size_t len, n, i;
    twc_err err;

    (void)state;
    len = build_response(buf, sizeof(buf), sizeof(buf), &w);
    assert_true(len > 12);
    assert_int_equal(twc_dns_msg_parse(&m, buf, len, &err), 0);
    assert_int_equal(m.id, 0x1234);
    assert_true(m.flags & TWC_DNS_F_AA);
    assert_int_equal(m.count[TWC_DNS_QD], 1);
    assert_true(m.edns.present);
    assert_int_equal(m.edns.udp_size, 1232);
    assert_int_equal(m.edns.flags, 0x8000);
    an = twc_dns_msg_section(&m, TWC_DNS_AN, &n);
    assert_int_equal(n, 8);
    for (i = 0; i < n; i++) {
        assert_int_equal(an[i].ttl, 3600);
        assert_true(twc_dns_rdata_format(an[i].type, an[i].rdata, an[i].rdlen, text,
                                         sizeof(text)) > 0);
        assert_string_equal(text, want[i]);
    }
    twc_dns_msg_cleanup(&m);
}

static void test_dns_writer_compresses_names(void **state)
{
    uint8_t buf[1024];
    twc_dns_writer w;
    size_t len;
    const uint8_t *p;

    (void)state;
    len = build_response(buf, sizeof(buf), sizeof(buf), &w);
    /* The first answer's owner is example.com again: a pointer to the question
     * name at offset 12 right after the question (12 + 13 + 4). */
    p = buf + 12 + 13 + 4;
    assert_int_equal(p[0], 0xc0);
    assert_int_equal(p[1], 12);
    assert_true(len < 300);
}

static void test_dns_writer_truncates_whole_records(void **state)
{
    uint8_t buf[600];
    twc_dns_name q = name_of("many.example.");
    twc_dns_writer w;
    twc_dns_rr rr;
    twc_dns_msg m;
    uint8_t a[4] = {10, 0, 0, 0};
    int i, added = 0;
    size_t len;
    twc_err err;

    (void)state;
    twc_dns_writer_init(&w, buf, sizeof(buf), TWC_DNS_UDP_MAX);
    twc_dns_write_header(&w, 7, TWC_DNS_F_QR);
    twc_dns_write_question(&w, &q, TWC_DNS_A, TWC_DNS_CLASS_IN);
    memset(&rr, 0, sizeof(rr));
    rr.name = q;
    rr.type = TWC_DNS_A;
    rr.rclass = TWC_DNS_CLASS_IN;
    rr.rdata = a;
    rr.rdlen = 4;
    for (i = 0; i < 100; i++) {
        a[3] = (uint8_t)i;
        if (twc_dns_write_rr(&w, TWC_DNS_AN, &rr) == 0)
            added++;
    }
    len = twc_dns_writer_finish(&w);
    assert_true(len <= TWC_DNS_UDP_MAX);
    assert_int_equal(added, (TWC_DNS_UDP_MAX - 12 - 18) / 16); /* 16 bytes per compressed A */
    assert_true(buf[2] & (TWC_DNS_F_TC >> 8));
    assert_int_equal(twc_dns_msg_parse(&m, buf, len, &err), 0);
    assert_int_equal(m.count[TWC_DNS_AN], added);
    twc_dns_msg_cleanup(&m);
}

static void test_dns_query_parse(void **state)
{
    uint8_t q[64] = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    size_t len = 12;
    twc_dns_query qq;

    (void)state;
    memcpy(q + len, "\x03www\x04test\x00\x00\x01\x00\x01", 14);
    len += 14;
    memcpy(q + len, "\x00\x00\x29\x10\x00\x00\x00\x80\x00\x00\x00", 11);
    len += 11;
    assert_int_equal(twc_dns_query_parse(&qq, q, len), 0);
    assert_int_equal(qq.id, 0xabcd);
    assert_int_equal(qq.q.qtype, TWC_DNS_A);
    assert_int_equal(qq.q.name.len, 10);
    assert_true(qq.edns.present);
    assert_int_equal(qq.edns.udp_size, 4096);
    assert_int_equal(qq.edns.flags, 0x8000);
    assert_int_equal(qq.question_end, 26);
    /* every strict prefix fails cleanly: TWC_EOF without a header, else FORMERR */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);

        memcpy(copy, q, cut);
        assert_int_equal(twc_dns_query_parse(&qq, copy, cut), cut < 12 ? TWC_EOF : TWC_EPROTO);
        free(copy);
    }
    q[5] = 2; /* two questions */
    assert_int_equal(twc_dns_query_parse(&qq, q, len), TWC_EPROTO);
    q[5] = 1;
    q[11] = 2; /* two OPT records claimed; the second is missing */
    assert_int_equal(twc_dns_query_parse(&qq, q, len), TWC_EPROTO);
}

static void test_dns_msg_parse_every_prefix(void **state)
{
    uint8_t buf[1024];
    twc_dns_writer w;
    twc_dns_msg m;
    size_t len, cut;
    twc_err err;

    (void)state;
    len = build_response(buf, sizeof(buf), sizeof(buf), &w);
    for (cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);

        memcpy(copy, buf, cut);
        assert_true(twc_dns_msg_parse(&m, copy, cut, &err) < 0);
        free(copy);
    }
}

static void test_dns_msg_parse_rejects_bad_shapes(void **state)
{
    uint8_t msg[64] = {0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0};
    size_t len = 12;
    twc_dns_msg m;
    twc_err err;

    (void)state;
    /* An A record with a 5-byte rdata */
    memcpy(msg + len, "\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x05\x01\x02\x03\x04\x05", 16);
    len += 16;
    assert_int_equal(twc_dns_msg_parse(&m, msg, len, &err), TWC_EPROTO);
    /* counts far beyond the message */
    msg[6] = 0xff;
    assert_true(twc_dns_msg_parse(&m, msg, len, &err) < 0);
    /* OPT in the answer section */
    msg[6] = 0;
    msg[7] = 1;
    memcpy(msg + 12, "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 11);
    assert_int_equal(twc_dns_msg_parse(&m, msg, 23, &err), TWC_EPROTO);
}

static void test_dns_type_names(void **state)
{
    char buf[16];
    uint16_t t;

    (void)state;
    assert_string_equal(twc_dns_type_name(TWC_DNS_AAAA, buf, sizeof(buf)), "AAAA");
    assert_string_equal(twc_dns_type_name(65280, buf, sizeof(buf)), "TYPE65280");
    assert_int_equal(twc_dns_type_parse("mx", 2, &t), 0);
    assert_int_equal(t, TWC_DNS_MX);
    assert_int_equal(twc_dns_type_parse("TYPE99", 6, &t), 0);
    assert_int_equal(t, 99);
    assert_int_equal(twc_dns_type_parse("TYPE70000", 9, &t), TWC_EINVAL);
    assert_int_equal(twc_dns_type_parse("BOGUS", 5, &t), TWC_EINVAL);
    assert_string_equal(twc_dns_rcode_name(3), "NXDOMAIN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_name_parse_format),
        cmocka_unit_test(test_dns_name_limits),
        cmocka_unit_test(test_dns_name_read_compression_safety),
        cmocka_unit_test(test_dns_name_read_rejects_overlong_expansion),
        cmocka_unit_test(test_dns_roundtrip_all_types),
        cmocka_unit_test(test_dns_writer_compresses_names),
        cmocka_unit_test(test_dns_writer_truncates_whole_records),
        cmocka_unit_test(test_dns_query_parse),
        cmocka_unit_test(test_dns_msg_parse_every_prefix),
        cmocka_unit_test(test_dns_msg_parse_rejects_bad_shapes),
        cmocka_unit_test(test_dns_type_names),
    };
    return cmocka_run_group_tests_name("dns_codec", tests, NULL, NULL);
}
