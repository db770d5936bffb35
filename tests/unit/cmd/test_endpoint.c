/* Unit tests for cmd/endpoint.h: the endpoint strings cmd/ relies on, now parsed
 * by lib/endpoint.c (tests/unit/lib/test_endpoint_lib.c covers the rest). */
#include "../../../cmd/endpoint.h"

#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* After the headers it needs (setjmp.h, stdarg.h, stddef.h). */
#include <cmocka.h>

static void test_endpoint_server_tcp(void **state)
{
    struct twc_endpoint ep;
    twc_err err;
    char buf[300];

    (void)state;
    assert_int_equal(twc_endpoint_parse_server(&ep, "tcp:8080", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_TCP);
    assert_int_equal(ep.port, 8080);
    assert_string_equal(ep.host, "");
    assert_string_equal(twc_endpoint_format(&ep, 0, buf, sizeof(buf)), "tcp:8080");

    assert_int_equal(twc_endpoint_parse_server(&ep, "tcp:0:interface=127.0.0.1:backlog=5", &err),
                     0);
    assert_int_equal(ep.port, 0);
    assert_int_equal(ep.backlog, 5);
    assert_string_equal(ep.host, "127.0.0.1");
    ep.port = 4242; /* the real port once bound */
    assert_string_equal(twc_endpoint_format(&ep, 0, buf, sizeof(buf)),
                        "tcp:4242:interface=127.0.0.1");

    /* A bare number is tcp:NUMBER. */
    assert_int_equal(twc_endpoint_parse_server(&ep, "8000", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_TCP);
    assert_int_equal(ep.port, 8000);
}

static void test_endpoint_ipv6_brackets_and_escapes(void **state)
{
    struct twc_endpoint ep;
    twc_err err;
    char buf[300];

    (void)state;
    assert_int_equal(twc_endpoint_parse_server(&ep, "udp:53:interface=[::1]", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_UDP);
    assert_string_equal(ep.host, "::1");
    assert_string_equal(twc_endpoint_format(&ep, 0, buf, sizeof(buf)), "udp:53:interface=[::1]");
    assert_int_equal(twc_endpoint_parse_server(&ep, "tcp:80:interface=fe80\\:\\:1%lo", &err), 0);
    assert_string_equal(ep.host, "fe80::1%lo");
    assert_int_equal(twc_endpoint_parse_client(&ep, "tcp:[::1]:443", &err), 0);
    assert_string_equal(ep.host, "::1");
    assert_int_equal(ep.port, 443);
    assert_string_equal(twc_endpoint_format(&ep, 1, buf, sizeof(buf)), "tcp:[::1]:443");
    assert_int_equal(twc_endpoint_parse_client(&ep, "tcp:\\:\\:1:443", &err), 0);
    assert_string_equal(ep.host, "::1");
}

static void test_endpoint_unix(void **state)
{
    struct twc_endpoint ep;
    twc_err err;
    char buf[300];

    (void)state;
    assert_int_equal(twc_endpoint_parse_server(&ep, "unix:/run/a.sock:mode=0660:lockfile=1", &err),
                     0);
    assert_int_equal(ep.kind, TWC_EP_UNIX);
    assert_string_equal(ep.path, "/run/a.sock");
    assert_int_equal(ep.mode, 0660);
    assert_int_equal(ep.lockfile, 1);
    assert_string_equal(twc_endpoint_format(&ep, 0, buf, sizeof(buf)), "unix:/run/a.sock");
    assert_int_equal(twc_endpoint_parse_server(&ep, "unix:/tmp/odd\\:name", &err), 0);
    assert_string_equal(ep.path, "/tmp/odd:name");
    assert_string_equal(twc_endpoint_format(&ep, 0, buf, sizeof(buf)), "unix:/tmp/odd\\:name");
    assert_int_equal(twc_endpoint_parse_client(&ep, "unix:/run/a.sock", &err), 0);
    assert_string_equal(ep.path, "/run/a.sock");
}

static void test_endpoint_client_tcp(void **state)
{
    struct twc_endpoint ep;
    twc_err err;

    (void)state;
    assert_int_equal(twc_endpoint_parse_client(&ep, "tcp:example.org:80:timeout=2.5", &err), 0);
    assert_string_equal(ep.host, "example.org");
    assert_int_equal(ep.port, 80);
    assert_int_equal(ep.timeout_ms, 2500);
    assert_int_equal(twc_endpoint_parse_client(&ep, "tcp:host=127.0.0.1:port=25", &err), 0);
    assert_string_equal(ep.host, "127.0.0.1");
    assert_int_equal(ep.port, 25);
}

static void expect_bad(int client, const char *s, const char *needle)
{
    struct twc_endpoint ep;
    twc_err err;
    int rc =
        client ? twc_endpoint_parse_client(&ep, s, &err) : twc_endpoint_parse_server(&ep, s, &err);

    assert_int_equal(rc, TWC_EINVAL);
    assert_int_equal(err.code, TWC_EINVAL);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' does not mention '%s'", err.msg, needle);
}

static void test_endpoint_errors(void **state)
{
    char longpath[300];

    (void)state;
    expect_bad(0, "gopher:443", "unknown endpoint type 'gopher'");
    expect_bad(0, "ssl:443", "missing privateKey");
    expect_bad(0, "tcp:65536", "port '65536' is not a number");
    expect_bad(0, "tcp:", "port '' is not a number");
    expect_bad(0, "tcp:80:color=red", "unknown parameter 'color'");
    expect_bad(0, "udp:53:backlog=5", "unknown parameter 'backlog'");
    expect_bad(0, "tcp:80:interface", "unexpected field 'interface'");
    expect_bad(0, "tcp:80:backlog=0", "backlog");
    expect_bad(0, "unix:/x:mode=0999", "octal");
    expect_bad(0, "unix:/x:lockfile=2", "lockfile");
    expect_bad(0, "tcp:80:interface=[::1", "'[' without ']'");
    expect_bad(0, "tcp:80:interface=::1", "IPv6 address goes in brackets");
    expect_bad(1, "udp:1.2.3.4:53", "udp is not a client endpoint");
    expect_bad(1, "tcp:127.0.0.1", "missing port");
    expect_bad(1, "tcp:127.0.0.1:0", "port '0' is not a number 1-65535");
    expect_bad(1, "tcp:h:1:timeout=0", "timeout");
    expect_bad(1, "tcp:h:1:timeout=x", "timeout");
    expect_bad(1, "tcp:port=80", "missing host");
    memset(longpath, 'a', sizeof(longpath) - 1);
    memcpy(longpath, "unix:/", 6);
    longpath[sizeof(longpath) - 1] = '\0';
    expect_bad(0, longpath, "longer than");
    expect_bad(0, "a:b:c:d:e:f:g:h:i:j:k:l:m", "unknown endpoint type 'a'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_server_tcp),
        cmocka_unit_test(test_endpoint_ipv6_brackets_and_escapes),
        cmocka_unit_test(test_endpoint_unix),
        cmocka_unit_test(test_endpoint_client_tcp),
        cmocka_unit_test(test_endpoint_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
