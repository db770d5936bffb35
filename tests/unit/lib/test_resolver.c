/*
 * Unit tests for lib/resolver.c: c-ares on the reactor, against a tiny DNS
 * responder on 127.0.0.1 started by the test and named in a test resolv.conf.
 * Never the machine's resolv.conf, never an address off this machine.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver.h"
#include "dns_responder.h"
#include "outcome.h"

static const struct dns_entry table[] = {
    {"www.test.", "192.0.2.7", NULL},
    {"slow.test.", "192.0.2.7", NULL},
    {"cancel.test.", "192.0.2.7", NULL},
    {"pending.test.", "192.0.2.7", NULL},
    {"v6.test.", "192.0.2.7", "2001:db8::7"},
    {NULL, NULL, NULL},
};

struct fixture {
    twc_reactor *r;
    struct responder rs;
    twc_resolver *res;
    char conf[64];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct twc_resolver_opts o = {0};
    twc_err err;

    fx->r = twc_reactor_new(NULL, &err);
    assert_int_equal(responder_start(fx->r, &fx->rs, table), 0);
    assert_int_equal(responder_write_conf(&fx->rs, fx->conf, sizeof(fx->conf)), 0);
    o.resolv_conf = fx->conf;
    o.timeout_ms = 300;
    o.tries = 1;
    fx->res = twc_resolver_new(fx->r, &o, &err);
    if (fx->res == NULL)
        fail_msg("resolver: %s", err.msg);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    twc_resolver_free(fx->res);
    responder_stop(&fx->rs);
    unlink(fx->conf);
    assert_int_equal(twc_reactor_live_handles(fx->r), 0);
    twc_reactor_free(fx->r);
    free(fx);
    return 0;
}

static void resolve_into(struct fixture *fx, const char *host, uint16_t port, int family,
                         struct outcome *o)
{
    twc_deferred *d = twc_resolve(fx->res, host, port, family);

    watch(d, o);
    twc_deferred_unref(d);
}

static twc_addrlist *list_of(const struct outcome *o)
{
    return o->value;
}

static void test_resolver_a_record(void **state)
{
    struct fixture *fx = *state;
    char buf[TWC_ADDR_STRLEN];
    struct outcome o;

    resolve_into(fx, "www.test", 8080, AF_INET, &o);
    assert_int_equal(o.calls, 0); /* never from inside the call */
    run_until_fired(fx->r, &o);
    assert_non_null(o.value);
    assert_int_equal(list_of(&o)->n, 1);
    assert_string_equal(twc_addr_format(&list_of(&o)->addrs[0], buf, sizeof(buf)), "192.0.2.7:8080");
    assert_true(fx->rs.queries >= 1);
    assert_int_equal(twc_resolver_pending(fx->res), 0);
    outcome_cleanup(&o);
}

static void test_resolver_aaaa_and_unspec(void **state)
{
    struct fixture *fx = *state;
    char buf[TWC_ADDR_STRLEN];
    struct outcome o;
    size_t i;
    int v4 = 0, v6 = 0;

    resolve_into(fx, "v6.test", 443, AF_UNSPEC, &o);
    run_until_fired(fx->r, &o);
    assert_non_null(o.value);
    for (i = 0; i < list_of(&o)->n; i++) {
        twc_addr_format(&list_of(&o)->addrs[i], buf, sizeof(buf));
        if (strcmp(buf, "192.0.2.7:443") == 0)
            v4++;
        if (strcmp(buf, "[2001:db8::7]:443") == 0)
            v6++;
    }
    assert_int_equal(v4, 1);
    assert_int_equal(v6, 1);
    outcome_cleanup(&o);
}

static void test_resolver_nxdomain(void **state)
{
    struct fixture *fx = *state;
    struct outcome o;

    resolve_into(fx, "nowhere.invalid", 80, AF_INET, &o);
    run_until_fired(fx->r, &o);
    assert_null(o.value);
    assert_int_equal(o.err.code, TWC_EDNS_NOTFOUND);
    assert_string_equal(o.err.msg, "cannot resolve 'nowhere.invalid': host not found");
}

static void test_resolver_numeric_needs_no_query(void **state)
{
    struct fixture *fx = *state;
    char buf[TWC_ADDR_STRLEN];
    struct outcome o;

    resolve_into(fx, "::1", 53, AF_UNSPEC, &o);
    assert_int_equal(o.calls, 0);
    run_until_fired(fx->r, &o);
    assert_string_equal(twc_addr_format(&list_of(&o)->addrs[0], buf, sizeof(buf)), "[::1]:53");
    assert_int_equal(fx->rs.queries, 0);
    outcome_cleanup(&o);
}

static void test_resolver_timeout(void **state)
{
    struct fixture *fx = *state;
    struct outcome o;

    fx->rs.silent = 1;
    resolve_into(fx, "slow.test", 80, AF_INET, &o);
    run_until_fired(fx->r, &o);
    assert_int_equal(o.err.code, TWC_EDNS_TIMEOUT);
    assert_true(fx->rs.queries >= 1);
}

static void test_resolver_cancel_and_free_pending(void **state)
{
    struct fixture *fx = *state;
    struct outcome o1, o2;
    twc_deferred *d;
    int i;

    fx->rs.silent = 1;
    d = twc_resolve(fx->res, "cancel.test", 80, AF_INET);
    watch(d, &o1);
    twc_deferred_cancel(d);
    twc_deferred_unref(d);
    assert_int_equal(o1.calls, 1);
    assert_int_equal(o1.err.code, TWC_ECANCELED);
    for (i = 0; i < 5; i++)
        twc_reactor_run_once(fx->r, 10);
    /* Freeing the resolver fails what is still pending, exactly once. */
    resolve_into(fx, "pending.test", 80, AF_INET, &o2);
    twc_resolver_free(fx->res);
    fx->res = NULL;
    assert_int_equal(o2.calls, 1);
    assert_int_equal(o2.err.code, TWC_ECANCELED);
    assert_int_equal(o1.calls, 1);
}

static void test_resolver_bad_conf_file(void **state)
{
    struct twc_resolver_opts o = {.resolv_conf = "/nonexistent/resolv.conf"};
    twc_reactor *r;
    twc_err err;

    (void)state;
    r = twc_reactor_new(NULL, &err);
    assert_null(twc_resolver_new(r, &o, &err));
    assert_int_equal(err.sys_errno, 2);
    twc_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolver_a_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolver_aaaa_and_unspec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolver_nxdomain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolver_numeric_needs_no_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolver_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolver_cancel_and_free_pending, setup, teardown),
        cmocka_unit_test(test_resolver_bad_conf_file),
    };
    return cmocka_run_group_tests_name("resolver", tests, NULL, NULL);
}
