/* Unit tests for lib/addr.c: numeric parsing and formatting of IP and UNIX addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "err.h"

static void check_hostport(const char *in, int family, const char *host, uint16_t port,
                           const char *formatted)
{
    char buf[TWC_ADDR_STRLEN];
    twc_addr a;
    twc_err err;

    assert_int_equal(twc_addr_parse_hostport(&a, in, &err), 0);
    assert_int_equal(twc_addr_family(&a), family);
    assert_int_equal(twc_addr_port(&a), port);
    assert_string_equal(twc_addr_host(&a, buf, sizeof(buf)), host);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), formatted);
}

static void check_bad_hostport(const char *in)
{
    twc_addr a;
    twc_err err;

    twc_err_clear(&err);
    assert_int_equal(twc_addr_parse_hostport(&a, in, &err), TWC_EINVAL);
    assert_int_equal(err.code, TWC_EINVAL);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(a.len, 0);
}

static void test_addr_parse_ipv4(void **state)
{
    (void)state;
    check_hostport("127.0.0.1:80", AF_INET, "127.0.0.1", 80, "127.0.0.1:80");
    check_hostport("0.0.0.0:0", AF_INET, "0.0.0.0", 0, "0.0.0.0:0");
    check_hostport("10.1.2.3:65535", AF_INET, "10.1.2.3", 65535, "10.1.2.3:65535");
    /* An empty host is the IPv4 wildcard. */
    check_hostport(":8000", AF_INET, "0.0.0.0", 8000, "0.0.0.0:8000");
}

static void test_addr_parse_ipv6_brackets(void **state)
{
    (void)state;
    check_hostport("[::1]:80", AF_INET6, "::1", 80, "[::1]:80");
    check_hostport("[::]:8080", AF_INET6, "::", 8080, "[::]:8080");
    check_hostport("[2001:db8::1]:443", AF_INET6, "2001:db8::1", 443, "[2001:db8::1]:443");
    check_hostport("[::ffff:127.0.0.1]:1", AF_INET6, "::ffff:127.0.0.1", 1,
                   "[::ffff:127.0.0.1]:1");
}

static void test_addr_parse_ipv6_escaped_colons(void **state)
{
    (void)state;
    /* Twisted endpoint-string style: colons inside the host are escaped. */
    check_hostport("\\:\\:1:80", AF_INET6, "::1", 80, "[::1]:80");
    check_hostport("2001\\:db8\\:\\:2:25", AF_INET6, "2001:db8::2", 25, "[2001:db8::2]:25");
}

static void test_addr_parse_ipv6_zone(void **state)
{
    char buf[TWC_ADDR_STRLEN];
    twc_addr a;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)&a.ss;

    (void)state;
    assert_int_equal(twc_addr_from_ip(&a, "fe80::1%lo", 9, NULL), 0);
    assert_int_equal(twc_addr_family(&a), AF_INET6);
    assert_true(sin6->sin6_scope_id > 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "[fe80::1%lo]:9");
    assert_int_equal(twc_addr_parse_hostport(&a, "[fe80::1%lo]:9", NULL), 0);
    assert_string_equal(twc_addr_host(&a, buf, sizeof(buf)), "fe80::1%lo");
    assert_int_equal(twc_addr_from_ip(&a, "fe80::1%no-such-if0", 9, NULL), TWC_EINVAL);
}

static void test_addr_parse_rejects_malformed(void **state)
{
    (void)state;
    check_bad_hostport("127.0.0.1");      /* no port */
    check_bad_hostport("127.0.0.1:");     /* empty port */
    check_bad_hostport("127.0.0.1:65536"); /* port too large */
    check_bad_hostport("127.0.0.1:-1");
    check_bad_hostport("127.0.0.1:+80");
    check_bad_hostport("127.0.0.1:8x");
    check_bad_hostport("::1:80");         /* ambiguous without brackets */
    check_bad_hostport("localhost:80");   /* names go through the resolver */
    check_bad_hostport("256.0.0.1:80");
    check_bad_hostport("[127.0.0.1]:80"); /* brackets are for IPv6 only */
    check_bad_hostport("[::1:80");
    check_bad_hostport("");
}

static void test_addr_from_ip_wildcard_and_brackets(void **state)
{
    char buf[TWC_ADDR_STRLEN];
    twc_addr a;

    (void)state;
    assert_int_equal(twc_addr_from_ip(&a, NULL, 7, NULL), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "0.0.0.0:7");
    assert_int_equal(twc_addr_from_ip(&a, "", 7, NULL), 0);
    assert_int_equal(twc_addr_family(&a), AF_INET);
    assert_int_equal(twc_addr_from_ip(&a, "[::1]", 7, NULL), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "[::1]:7");
    assert_int_equal(twc_addr_from_ip(&a, "::", 0, NULL), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "[::]:0");
    assert_int_equal(twc_addr_from_ip(&a, "1.2.3", 7, NULL), TWC_EINVAL);
    assert_int_equal(twc_addr_from_ip(&a, "[]", 7, NULL), TWC_EINVAL);
}

static void test_addr_unix_path(void **state)
{
    char buf[TWC_ADDR_STRLEN], longpath[200];
    twc_addr a;
    twc_err err;

    (void)state;
    assert_int_equal(twc_addr_from_path(&a, "/tmp/twc.sock", &err), 0);
    assert_int_equal(twc_addr_family(&a), AF_UNIX);
    assert_int_equal(twc_addr_port(&a), 0);
    assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/twc.sock") + 1);
    assert_string_equal(twc_addr_host(&a, buf, sizeof(buf)), "/tmp/twc.sock");
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "unix:/tmp/twc.sock");

    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(twc_addr_from_path(&a, longpath, &err), TWC_EINVAL);
    assert_non_null(strstr(err.msg, "longer than"));
    assert_int_equal(twc_addr_from_path(&a, "", &err), TWC_EINVAL);
    assert_int_equal(twc_addr_from_path(&a, NULL, &err), TWC_EINVAL);
}

static void test_addr_set_and_equal(void **state)
{
    struct sockaddr_in sin;
    twc_addr a, b, u1, u2, none1, none2;

    (void)state;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(1234);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    twc_addr_set(&a, (const struct sockaddr *)&sin, sizeof(sin));
    assert_int_equal(twc_addr_parse_hostport(&b, "127.0.0.1:1234", NULL), 0);
    assert_int_equal(twc_addr_equal(&a, &b), 1);
    assert_int_equal(twc_addr_parse_hostport(&b, "127.0.0.1:1235", NULL), 0);
    assert_int_equal(twc_addr_equal(&a, &b), 0);
    assert_int_equal(twc_addr_parse_hostport(&b, "[::1]:1234", NULL), 0);
    assert_int_equal(twc_addr_equal(&a, &b), 0);
    assert_int_equal(twc_addr_parse_hostport(&a, "[::1]:1234", NULL), 0);
    assert_int_equal(twc_addr_equal(&a, &b), 1);

    assert_int_equal(twc_addr_from_path(&u1, "/a", NULL), 0);
    assert_int_equal(twc_addr_from_path(&u2, "/a", NULL), 0);
    assert_int_equal(twc_addr_equal(&u1, &u2), 1);
    assert_int_equal(twc_addr_from_path(&u2, "/b", NULL), 0);
    assert_int_equal(twc_addr_equal(&u1, &u2), 0);

    twc_addr_set(&none1, NULL, 0);
    twc_addr_set(&none2, NULL, 0);
    assert_int_equal(twc_addr_family(&none1), AF_UNSPEC);
    assert_int_equal(twc_addr_equal(&none1, &none2), 1);
    assert_int_equal(twc_addr_equal(&none1, &u1), 0);
}

static void test_addr_format_truncates_safely(void **state)
{
    char small[8];
    twc_addr a, none;

    (void)state;
    assert_int_equal(twc_addr_parse_hostport(&a, "[2001:db8::1]:443", NULL), 0);
    assert_string_equal(twc_addr_format(&a, small, sizeof(small)), "[2001:d");
    twc_addr_set(&none, NULL, 0);
    assert_string_equal(twc_addr_format(&none, small, sizeof(small)), "-");
    /* A zero-size buffer is left alone. */
    assert_ptr_equal(twc_addr_format(&a, small, 0), small);
}

static void test_addr_unnamed_unix_peer(void **state)
{
    char buf[TWC_ADDR_STRLEN];
    struct sockaddr_un sun;
    twc_addr a;

    (void)state;
    /* accept(2) on a UNIX listener reports an unbound client as the family alone. */
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    twc_addr_set(&a, (const struct sockaddr *)&sun, sizeof(sa_family_t));
    assert_int_equal(twc_addr_family(&a), AF_UNIX);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "unix:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse_ipv4),
        cmocka_unit_test(test_addr_parse_ipv6_brackets),
        cmocka_unit_test(test_addr_parse_ipv6_escaped_colons),
        cmocka_unit_test(test_addr_parse_ipv6_zone),
        cmocka_unit_test(test_addr_parse_rejects_malformed),
        cmocka_unit_test(test_addr_from_ip_wildcard_and_brackets),
        cmocka_unit_test(test_addr_unix_path),
        cmocka_unit_test(test_addr_set_and_equal),
        cmocka_unit_test(test_addr_format_truncates_safely),
        cmocka_unit_test(test_addr_unnamed_unix_peer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
