/* Unit tests for lib/deferred_util.c on a fake-clock reactor: deferLater,
 * addTimeout, and unhandled failures logged through the reactor's logger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro.h"
#include "deferred.h"
#include "log.h"
#include "outcome.h"

static twc_reactor *reactor;

/* Log lines captured from the reactor's logger. */
static char logged[4096];

static void log_sink(void *arg, const char *line, size_t len)
{
    size_t n = strlen(logged);

    (void)arg;
    if (n + len + 2 < sizeof(logged)) {
        memcpy(logged + n, line, len);
        logged[n + len] = '\n';
        logged[n + len + 1] = '\0';
    }
}

static twc_log *log_;

static int setup(void **state)
{
    struct twc_reactor_opts o = {.fake_clock = 1};
    twc_err err;

    (void)state;
    reactor = twc_reactor_new(&o, &err);
    outcome_clock = reactor;
    assert_non_null(reactor);
    log_ = twc_log_new(TWC_LOG_TEXT, TWC_LOG_DEBUG, NULL, &err);
    assert_non_null(log_);
    twc_log_set_sink(log_, log_sink, NULL);
    twc_reactor_set_log(reactor, log_);
    logged[0] = '\0';
    freed = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Every timer was stopped and freed (libuv's lifetime check). */
    assert_int_equal(twc_reactor_live_handles(reactor), 0);
    twc_reactor_free(reactor);
    twc_log_free(log_);
    return 0;
}

/* ---- deferLater ------------------------------------------------------------ */

static void cb_compute(void *arg, twc_result *r)
{
    twc_result_set(r, new_int(*(int *)arg * 2), int_free);
}

static void test_defer_later_fires_after_delay(void **state)
{
    int in = 21;
    twc_deferred *d = twc_defer_later(reactor, 100, cb_compute, &in);
    struct outcome o;

    (void)state;
    watch(d, &o);
    assert_int_equal(o.calls, 0); /* never from inside the call */
    twc_reactor_advance(reactor, 99);
    assert_int_equal(o.calls, 0);
    twc_reactor_advance(reactor, 1);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.at, 100);
    assert_int_equal(*(int *)o.value, 42);
    twc_deferred_unref(d);
    outcome_cleanup(&o);
    assert_int_equal(freed, 1);
}

static void test_defer_later_cancel_stops_timer(void **state)
{
    int in = 1;
    twc_deferred *d = twc_defer_later(reactor, 100, cb_compute, &in);
    struct outcome o;

    (void)state;
    watch(d, &o);
    assert_int_equal(twc_reactor_live_handles(reactor), 1);
    twc_deferred_cancel(d);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    assert_int_equal(twc_reactor_live_handles(reactor), 0);
    twc_reactor_advance(reactor, 1000);
    assert_int_equal(o.calls, 1);
    twc_deferred_unref(d);
}

/* ---- addTimeout ------------------------------------------------------------ */

static int cancels;

static void count_cancel(void *arg, twc_deferred *d)
{
    (void)arg;
    (void)d;
    cancels++;
}

static void test_timeout_fails_with_etimedout(void **state)
{
    twc_deferred *d = twc_deferred_new(count_cancel, NULL);
    struct outcome o;

    (void)state;
    cancels = 0;
    assert_int_equal(twc_deferred_add_timeout(d, reactor, 500), 0);
    watch(d, &o);
    twc_reactor_advance(reactor, 499);
    assert_int_equal(o.calls, 0);
    twc_reactor_advance(reactor, 1);
    assert_int_equal(cancels, 1);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.at, 500);
    assert_int_equal(o.err.code, TWC_ETIMEDOUT);
    assert_string_equal(o.err.msg, "deferred timed out after 500 ms");
    assert_int_equal(twc_err_domain_of(o.err.code), TWC_DOMAIN_GENERIC);
    twc_deferred_unref(d);
}

static void test_timeout_stops_when_fired_in_time(void **state)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);
    struct outcome o;

    (void)state;
    assert_int_equal(twc_deferred_add_timeout(d, reactor, 500), 0);
    watch(d, &o);
    twc_reactor_advance(reactor, 200);
    twc_deferred_resolve(d, new_int(1), int_free);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    assert_int_equal(twc_reactor_live_handles(reactor), 0); /* timer stopped */
    twc_reactor_advance(reactor, 1000);
    assert_int_equal(o.calls, 1);
    twc_deferred_unref(d);
    outcome_cleanup(&o);
}

static void test_timeout_on_fired_deferred_stops_at_once(void **state)
{
    twc_deferred *d = twc_deferred_succeed(NULL, NULL);

    (void)state;
    assert_int_equal(twc_deferred_add_timeout(d, reactor, 500), 0);
    assert_int_equal(twc_reactor_live_handles(reactor), 0);
    twc_deferred_unref(d);
}

static void test_timeout_keeps_other_cancellations(void **state)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);
    struct outcome o;

    (void)state;
    assert_int_equal(twc_deferred_add_timeout(d, reactor, 500), 0);
    watch(d, &o);
    twc_deferred_cancel(d); /* cancelled by us, not timed out */
    assert_int_equal(o.err.code, TWC_ECANCELED);
    assert_int_equal(twc_reactor_live_handles(reactor), 0);
    twc_deferred_unref(d);
    /* d was created without a canceller: its producer fires late, ignored. */
    twc_deferred_resolve(d, NULL, NULL);
}

static void cb_wait_on(void *arg, twc_result *r)
{
    twc_result_wait(r, twc_deferred_ref(arg));
}

static void test_timeout_covers_chained_deferred(void **state)
{
    twc_deferred *outer = twc_deferred_new(NULL, NULL);
    twc_deferred *inner = twc_deferred_new(count_cancel, NULL);
    struct outcome o;

    (void)state;
    cancels = 0;
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    assert_int_equal(twc_deferred_add_timeout(outer, reactor, 50), 0);
    watch(outer, &o);
    twc_deferred_resolve(outer, NULL, NULL); /* now waits on inner */
    twc_reactor_advance(reactor, 50);
    /* The timeout cancelled the chained deferred, and reported a timeout. */
    assert_int_equal(cancels, 1);
    assert_int_equal(o.err.code, TWC_ETIMEDOUT);
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
}

/* A coroutine that sleeps between steps, under a timeout. */
struct sleeper {
    twc_coro coro;
    int steps;
    void *ignored;
};

static void sleeper_run(twc_coro *c)
{
    struct sleeper *s = (struct sleeper *)c;

    TWC_CORO_BEGIN(c);
    for (s->steps = 0; s->steps < 10; s->steps++)
        TWC_CORO_AWAIT(c, twc_defer_later(reactor, 100, NULL, NULL), s->ignored);
    TWC_CORO_END(c);
}

static void test_timeout_cancels_sleeping_coroutine(void **state)
{
    struct sleeper s;
    twc_deferred *d;
    struct outcome o;

    (void)state;
    memset(&s, 0, sizeof(s));
    d = twc_coro_start(&s.coro, sleeper_run, NULL);
    assert_int_equal(twc_deferred_add_timeout(d, reactor, 350), 0);
    watch(d, &o);
    twc_reactor_advance(reactor, 1000);
    /* Steps 0..2 slept 300 ms; the 4th sleep was cancelled at 350. */
    assert_int_equal(s.steps, 3);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.at, 350);
    assert_int_equal(o.err.code, TWC_ETIMEDOUT);
    twc_deferred_unref(d);
}

/* ---- Unhandled failures ---------------------------------------------------- */

static void test_unhandled_failure_logged_to_reactor_log(void **state)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);

    (void)state;
    twc_deferred_set_reactor(d, reactor);
    twc_deferred_reject(d, TWC_EPROTO, "bad greeting from 127.0.0.1:25");
    assert_string_equal(logged, ""); /* still held: not yet unhandled */
    twc_deferred_unref(d);
    assert_non_null(strstr(logged, "[deferred] error: Unhandled error in Deferred: TWC_EPROTO: "
                                   "bad greeting from 127.0.0.1:25"));
}

static void test_timed_out_and_unhandled_is_logged(void **state)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);

    (void)state;
    /* add_timeout gives d the reactor (and its logger). */
    assert_int_equal(twc_deferred_add_timeout(d, reactor, 10), 0);
    twc_deferred_unref(d); /* nobody handles the outcome */
    twc_reactor_advance(reactor, 10);
    /* The producer (no canceller) still holds d; it fires late: ignored, and
     * its reference was the last one, so d is freed and its failure logged. */
    assert_string_equal(logged, "");
    twc_deferred_resolve(d, NULL, NULL);
    assert_non_null(strstr(logged, "Unhandled error in Deferred: TWC_ETIMEDOUT: deferred timed "
                                   "out after 10 ms"));
}

static void test_handled_failure_not_logged(void **state)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);
    struct outcome o;

    (void)state;
    twc_deferred_set_reactor(d, reactor);
    watch(d, &o);
    twc_deferred_reject(d, TWC_EPROTO, "handled");
    twc_deferred_unref(d);
    assert_string_equal(logged, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defer_later_fires_after_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defer_later_cancel_stops_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_fails_with_etimedout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_stops_when_fired_in_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_on_fired_deferred_stops_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_keeps_other_cancellations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_covers_chained_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_cancels_sleeping_coroutine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unhandled_failure_logged_to_reactor_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timed_out_and_unhandled_is_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handled_failure_not_logged, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
