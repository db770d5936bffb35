/*
 * Unit tests for twc_udp_listen_opts (lib/udp.c): SO_REUSEPORT lets --workers
 * processes bind one UDP port each, and without it the port stays exclusive.
 * Loopback only; nothing is sent, so no wait is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "reactor.h"
#include "udp.h"

static void on_datagram(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                        const twc_addr *from)
{
    (void)p;
    (void)data;
    (void)len;
    (void)from;
}

static const struct twc_datagram_ops ops = {.name = "test", .datagram_received = on_datagram};

static void test_udp_reuseport_shares_a_port(void **state)
{
    twc_datagram_protocol p1 = {&ops, NULL}, p2 = {&ops, NULL}, p3 = {&ops, NULL};
    struct twc_udp_listen_opts o = {"127.0.0.1", 0, 1};
    twc_reactor *r;
    twc_udp *a, *b, *c;
    twc_addr addr;
    twc_err err;

    (void)state;
    r = twc_reactor_new(NULL, &err);
    assert_non_null(r);
    a = twc_udp_listen_opts(r, &o, &p1, &err);
    assert_non_null(a);
    assert_int_equal(twc_udp_addr(a, &addr), 0);
    o.port = twc_addr_port(&addr);
    assert_int_not_equal(o.port, 0);
    /* A second socket with SO_REUSEPORT joins the same port... */
    b = twc_udp_listen_opts(r, &o, &p2, &err);
    assert_non_null(b);
    assert_int_equal(twc_udp_addr(b, &addr), 0);
    assert_int_equal(twc_addr_port(&addr), o.port);
    /* ...one without it is refused. */
    o.reuseport = 0;
    c = twc_udp_listen_opts(r, &o, &p3, &err);
    assert_null(c);
    assert_int_equal(err.code, -EADDRINUSE);
    twc_udp_free(a);
    twc_udp_free(b);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static void test_udp_listen_opts_wildcard(void **state)
{
    twc_datagram_protocol p = {&ops, NULL};
    struct twc_udp_listen_opts o = {NULL, 0, 1};
    twc_reactor *r;
    twc_udp *u;
    twc_addr addr;
    twc_err err;

    (void)state;
    r = twc_reactor_new(NULL, &err);
    assert_non_null(r);
    u = twc_udp_listen_opts(r, &o, &p, &err);
    assert_non_null(u);
    assert_int_equal(twc_udp_addr(u, &addr), 0);
    assert_int_not_equal(twc_addr_port(&addr), 0);
    twc_udp_free(u);
    twc_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_reuseport_shares_a_port),
        cmocka_unit_test(test_udp_listen_opts_wildcard),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
