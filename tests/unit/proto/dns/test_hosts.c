/* Unit tests for proto/dns/hosts.c: hosts(5) lines into A/AAAA and PTR records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns/hosts.h"

#define DUMP_MAX (64 * 1024)

static const char *dump(const twc_dns_zone *z)
{
    static char out[DUMP_MAX];
    size_t i, o = 0;

    out[0] = '\0';
    for (i = 0; i < twc_dns_zone_count(z); i++) {
        char name[TWC_DNS_NAME_TEXT_MAX], type[16], rdata[1024];
        twc_dns_rr rr;

        twc_dns_zone_get(z, i, &rr);
        assert_true(twc_dns_name_format(&rr.name, name, sizeof(name)) > 0);
        assert_true(twc_dns_rdata_format(rr.type, rr.rdata, rr.rdlen, rdata, sizeof(rdata)) >= 0);
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s %u %s %s\n", name, rr.ttl,
                              twc_dns_type_name(rr.type, type, sizeof(type)), rdata);
        assert_true(o < sizeof(out));
    }
    return out;
}

static int parse(twc_dns_zone **z, const char *text, twc_err *err)
{
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1); /* exact size: ASan catches over-reads */
    int rc;

    assert_non_null(copy);
    memcpy(copy, text, len);
    *z = twc_dns_zone_new(NULL);
    assert_non_null(*z);
    rc = twc_dns_hosts_parse(*z, "hosts", copy, len, 60, err);
    free(copy);
    return rc;
}

static void test_hosts_sample_file(void **state)
{
    static const char want[] =
        "localhost. 3600 A 127.0.0.1\n"
        "1.0.0.127.in-addr.arpa. 3600 PTR localhost.\n"
        "localhost. 3600 AAAA ::1\n"
        "ip6-localhost. 3600 AAAA ::1\n"
        "ip6-loopback. 3600 AAAA ::1\n"
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. 3600 PTR "
        "localhost.\n"
        "host1.test. 3600 A 192.0.2.10\n"
        "host1. 3600 A 192.0.2.10\n"
        "alias1.test. 3600 A 192.0.2.10\n"
        "10.2.0.192.in-addr.arpa. 3600 PTR host1.test.\n"
        "host2.test. 3600 A 192.0.2.11\n"
        "11.2.0.192.in-addr.arpa. 3600 PTR host2.test.\n"
        "host2.test. 3600 AAAA 2001:db8::11\n"
        "1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 3600 PTR "
        "host2.test.\n"
        "linklocal.test. 3600 AAAA fe80::1\n"
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa. 3600 PTR "
        "linklocal.test.\n";
    const char *dir = getenv("TWC_SRCDIR");
    char path[1024];
    twc_dns_zone *z = twc_dns_zone_new(NULL);
    twc_err err;

    (void)state;
    snprintf(path, sizeof(path), "%s/tests/data/dns/hosts", dir != NULL ? dir : ".");
    if (twc_dns_hosts_load(z, path, TWC_DNS_HOSTS_TTL, &err) < 0)
        fail_msg("%s", err.msg);
    assert_string_equal(dump(z), want);
    twc_dns_zone_free(z);
}

static void test_hosts_comments_and_blanks(void **state)
{
    twc_dns_zone *z;
    twc_err err;

    (void)state;
    /* No final newline, CRLF, tabs, a comment glued to a name, an address
     * alone (ignored, as the C library does). */
    assert_int_equal(parse(&z,
                           "#only a comment\r\n\r\n \t\n192.0.2.1\tA.Test#c\r\n"
                           "192.0.2.2\n192.0.2.3 b c",
                           &err),
                     0);
    assert_string_equal(dump(z), "A.Test. 60 A 192.0.2.1\n"
                                 "1.2.0.192.in-addr.arpa. 60 PTR A.Test.\n"
                                 "b. 60 A 192.0.2.3\n"
                                 "c. 60 A 192.0.2.3\n"
                                 "3.2.0.192.in-addr.arpa. 60 PTR b.\n");
    twc_dns_zone_free(z);
    assert_int_equal(parse(&z, "", &err), 0);
    assert_int_equal(twc_dns_zone_count(z), 0);
    twc_dns_zone_free(z);
}

static void test_hosts_errors(void **state)
{
    static const char *const cases[][2] = {
        {"\n\n192.0.2 host\n", "hosts:3: bad address '192.0.2'"},
        {"localhost 127.0.0.1\n", "hosts:1: bad address 'localhost'"},
        {"::1::2 h\n", "hosts:1: bad address '::1::2'"},
        {"192.0.2.1 a..b\n", "hosts:1: bad name 'a..b'"},
        {"192.0.2.1 ok bad\\name\n", "hosts:1: bad name 'bad\\name'"},
        {"192.0.2.1 .\n", "hosts:1: bad name '.'"},
    };
    twc_dns_zone *z;
    twc_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(&z, cases[i][0], &err), TWC_EINVAL);
        assert_string_equal(err.msg, cases[i][1]);
        twc_dns_zone_free(z);
    }
    z = twc_dns_zone_new(NULL);
    assert_int_equal(twc_dns_hosts_load(z, "/nonexistent/hosts", 1, &err), -2);
    assert_string_equal(err.msg, "/nonexistent/hosts: No such file or directory");
    twc_dns_zone_free(z);
}

static void test_hosts_record_limit(void **state)
{
    struct twc_dns_zone_limits lim = {.max_records = 3};
    twc_dns_zone *z = twc_dns_zone_new(&lim);
    static const char text[] = "192.0.2.1 a b\n192.0.2.2 c\n";
    twc_err err;

    (void)state;
    assert_int_equal(twc_dns_hosts_parse(z, "h", text, strlen(text), 1, &err), TWC_ETOOBIG);
    assert_string_equal(err.msg, "h:2: more than 3 records");
    twc_dns_zone_free(z);
}

static void test_hosts_reverse_names(void **state)
{
    static const uint8_t v4[] = {10, 0, 200, 255};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0xab};
    char text[TWC_DNS_NAME_TEXT_MAX];
    twc_dns_name n;

    (void)state;
    assert_int_equal(twc_dns_reverse_name(&n, v4, 4), 0);
    twc_dns_name_format(&n, text, sizeof(text));
    assert_string_equal(text, "255.200.0.10.in-addr.arpa.");
    assert_int_equal(twc_dns_reverse_name(&n, v6, 16), 0);
    twc_dns_name_format(&n, text, sizeof(text));
    assert_string_equal(
        text, "b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
    assert_int_equal(n.len, 74); /* 32 nibble labels, "ip6", "arpa", root */
    assert_int_equal(twc_dns_reverse_name(&n, v4, 5), TWC_EINVAL);
}

/* The text form `twc client dns -x` uses (dig -x). */
static void test_hosts_reverse_name_text(void **state)
{
    static const struct {
        const char *addr, *name;
    } good[] = {
        {"127.0.0.1", "1.0.0.127.in-addr.arpa."},
        {"192.0.2.10", "10.2.0.192.in-addr.arpa."},
        {"::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."},
        {"2001:db8::11",
         "1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
        {"fe80::1%eth0",
         "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa."},
        {"::ffff:192.0.2.1",
         "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."},
    };
    static const char *const bad[] = {"",          "bogus",     "1.2.3",
                                      "1.2.3.256", "1.2.3.4.5", "2001:db8::g",
                                      ":::",       "%eth0",     "192.0.2.1 "};
    char text[TWC_DNS_NAME_TEXT_MAX];
    twc_dns_name n;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(twc_dns_reverse_name_text(&n, good[i].addr, strlen(good[i].addr)), 0);
        twc_dns_name_format(&n, text, sizeof(text));
        assert_string_equal(text, good[i].name);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(twc_dns_reverse_name_text(&n, bad[i], strlen(bad[i])), TWC_EINVAL);
    /* Only len bytes are read: "10.0.0.1" cut after "10.0.0.1" of a longer string. */
    assert_int_equal(twc_dns_reverse_name_text(&n, "10.0.0.1999", 8), 0);
    twc_dns_name_format(&n, text, sizeof(text));
    assert_string_equal(text, "1.0.0.10.in-addr.arpa.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts_sample_file),
        cmocka_unit_test(test_hosts_comments_and_blanks),
        cmocka_unit_test(test_hosts_errors),
        cmocka_unit_test(test_hosts_record_limit),
        cmocka_unit_test(test_hosts_reverse_names),
        cmocka_unit_test(test_hosts_reverse_name_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
