/*
 * Unit tests for lib/reconnect.c (Twisted's ReconnectingClientFactory) on a
 * fake-clock reactor: the jittered exponential backoff sequence and its cap,
 * the reset once a connection is made, retrying after a lost connection, and
 * freeing while waiting or while connected. Targets are UNIX socket paths, so
 * connects finish inside connect(2) and no real time passes.
 */
#include "test_stream_util.h"

static const char *backend_of(void **state)
{
    return (const char *)*state;
}

/* The undelayed, unjittered delay of retry n. */
static double base_delay(unsigned n)
{
    double d = TWC_RECONNECT_INITIAL_MS;

    while (n-- > 0 && d < TWC_RECONNECT_MAX_MS)
        d *= TWC_RECONNECT_FACTOR;
    return d < TWC_RECONNECT_MAX_MS ? d : TWC_RECONNECT_MAX_MS;
}

static void assert_jittered(uint64_t got, unsigned n)
{
    double b = base_delay(n);
    double lo = b * (1.0 - TWC_RECONNECT_JITTER) - 1;
    double hi = b * (1.0 + TWC_RECONNECT_JITTER);

    if (hi > TWC_RECONNECT_MAX_MS)
        hi = TWC_RECONNECT_MAX_MS;
    if ((double)got < lo || (double)got > hi)
        fail_msg("retry %u: delay %llu outside [%.0f, %.0f]", n, (unsigned long long)got, lo,
                 hi);
}

static void test_reconnect_backoff_sequence(void **state)
{
    char path[128];
    twc_reconnect *rc;
    tfactory f;
    twc_addr a;
    twc_err err;
    uint64_t d, next, seen[10];
    unsigned n;
    int distinct = 0;

    ctx_begin(backend_of(state), 1);
    tf_init(&f);
    unix_path(path, sizeof(path), "backoff");
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    rc = twc_reconnect_new(ctx.r, &a, &f.base, &err);
    assert_non_null(rc);
    assert_int_equal(f.failed, 0); /* the first attempt's outcome comes from the loop */
    d = twc_reconnect_next_delay(rc);
    assert_jittered(d, 0);
    run_some(2);
    assert_int_equal(f.failed, 1);
    assert_int_equal(f.failed_code, -ENOENT);
    for (n = 0; n < 10; n++) {
        /* The pending retry waits d; the one after it will wait `next`. */
        seen[n] = d;
        next = twc_reconnect_next_delay(rc);
        assert_jittered(next, n + 1);
        /* Nothing before the delay is up... */
        twc_reactor_advance(ctx.r, d - 1);
        assert_int_equal(f.failed, (int)n + 1);
        /* ...then the retry, which fails again at once. */
        twc_reactor_advance(ctx.r, 1);
        assert_int_equal(f.failed, (int)n + 2);
        assert_int_equal(f.failed_code, -ENOENT);
        d = next;
    }
    /* From retry 5 on the cap holds: 1000 * 2.718^5 > 60000. */
    for (n = 5; n < 10; n++)
        assert_true(seen[n] <= TWC_RECONNECT_MAX_MS);
    /* Jitter really varies the capped delays. */
    for (n = 6; n < 10; n++)
        distinct += seen[n] != seen[5];
    assert_true(distinct > 0);
    twc_reconnect_free(rc);
    run_some(3);
    assert_int_equal(f.failed, 11); /* nothing pending: no cancel needed */
    assert_int_equal(f.stops, 1);
    ctx_end();
}

static void test_reconnect_reset_after_connection_made(void **state)
{
    char path[128];
    twc_reconnect *rc;
    twc_listener *l;
    tfactory cf, sf;
    twc_addr a;
    twc_err err;
    uint64_t d;

    ctx_begin(backend_of(state), 1);
    tf_init(&cf);
    tf_init(&sf);
    sf.tmpl.base.ops = &tp_noeof_ops;
    cf.tmpl.base.ops = &tp_noeof_ops;
    unix_path(path, sizeof(path), "reset");
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    rc = twc_reconnect_new(ctx.r, &a, &cf.base, &err);
    assert_non_null(rc);
    /* The first attempt fails; its retry waits retry 0's delay. */
    run_some(2);
    assert_int_equal(cf.failed, 1);
    assert_jittered(twc_reconnect_next_delay(rc), 1);

    /* The server comes up; the retry connects. */
    l = twc_unix_listen(ctx.r, path, 0600, &sf.base, &err);
    assert_non_null(l);
    twc_reactor_advance(ctx.r, 2 * TWC_RECONNECT_INITIAL_MS);
    run_until(&cf.builds, 1, 10);
    assert_int_equal(cf.last->made, 1);
    assert_jittered(twc_reconnect_next_delay(rc), 0); /* reset */
    run_until(&sf.builds, 1, 250);

    /* The server drops it: the client retries after about the initial delay. */
    d = twc_reconnect_next_delay(rc);
    ctx.in_call++;
    twc_transport_lose_connection(sf.last->t);
    ctx.in_call--;
    run_until(&cf.client_lost, 1, 250);
    assert_string_equal(cf.order, "failed;lost;client_lost;");
    twc_reactor_advance(ctx.r, d - 1);
    run_some(2);
    assert_int_equal(cf.builds, 1);
    twc_reactor_advance(ctx.r, 1);
    run_until(&cf.builds, 2, 10);
    run_until(&sf.builds, 2, 250);

    /* Freed while connected: the connection lives on, and its end starts nothing. */
    twc_reconnect_free(rc);
    assert_int_equal(cf.last->lost, 0);
    ctx.in_call++;
    twc_transport_lose_connection(cf.last->t);
    ctx.in_call--;
    run_until(&cf.client_lost, 2, 250);
    run_until(&sf.last->lost, 1, 250);
    twc_reactor_advance(ctx.r, 10 * TWC_RECONNECT_MAX_MS);
    run_some(3);
    assert_int_equal(cf.builds, 2);
    twc_listener_free(l);
    ctx_end();
}

static void test_reconnect_free_while_waiting(void **state)
{
    char path[128];
    twc_reconnect *rc;
    tfactory f;
    twc_addr a;
    twc_err err;

    ctx_begin(backend_of(state), 1);
    tf_init(&f);
    unix_path(path, sizeof(path), "wait");
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    rc = twc_reconnect_new(ctx.r, &a, &f.base, &err);
    assert_non_null(rc);
    run_some(2);
    assert_int_equal(f.failed, 1);
    /* A retry timer is pending; freeing stops it. */
    twc_reconnect_free(rc);
    twc_reactor_advance(ctx.r, 10 * TWC_RECONNECT_MAX_MS);
    run_some(2);
    assert_int_equal(f.failed, 1);
    twc_reconnect_free(NULL);
    ctx_end();
}

static void test_reconnect_free_while_connecting(void **state)
{
    char path[128];
    twc_reconnect *rc;
    tfactory f;
    twc_addr a;
    twc_err err;

    ctx_begin(backend_of(state), 1);
    tf_init(&f);
    unix_path(path, sizeof(path), "connecting");
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    rc = twc_reconnect_new(ctx.r, &a, &f.base, &err);
    assert_non_null(rc);
    /* The first attempt's outcome is still queued: the factory hears "cancelled". */
    twc_reconnect_free(rc);
    run_some(2);
    assert_int_equal(f.failed, 1);
    assert_int_equal(f.failed_code, TWC_ECANCELED);
    assert_int_equal(f.stops, 1);
    ctx_end();
}

#define BOTH(t) cmocka_unit_test_prestate(t, (void *)"epoll"), \
                cmocka_unit_test_prestate(t, (void *)"poll")

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_reconnect_backoff_sequence),
        BOTH(test_reconnect_reset_after_connection_made),
        BOTH(test_reconnect_free_while_waiting),
        BOTH(test_reconnect_free_while_connecting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
