/* Unit tests for lib/reactor_signal.c: signals as loop events, on both backends. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "reactor.h"

#define WAIT_MS 2000

struct sigrec {
    twc_reactor *r;
    int count[65];
    int order[16];
    int n;
    volatile int in_raise;
    int bad_context;
};

static void on_sig(twc_reactor *r, int signo, void *arg)
{
    struct sigrec *s = arg;

    if (r != s->r || s->in_raise)
        s->bad_context = 1;
    s->count[signo]++;
    s->order[s->n++] = signo;
}

static twc_reactor *new_reactor(const char *backend)
{
    struct twc_reactor_opts o = {.backend = backend, .fake_clock = 0};
    twc_err err = {0};
    twc_reactor *r = twc_reactor_new(&o, &err);

    if (r == NULL)
        fail_msg("twc_reactor_new(%s): %s", backend, err.msg);
    return r;
}

static void finish(twc_reactor *r)
{
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static void *disposition(int signo)
{
    struct sigaction sa;

    assert_int_equal(sigaction(signo, NULL, &sa), 0);
    return (void *)sa.sa_handler;
}

static void run_until(twc_reactor *r, const int *count, int want)
{
    int i;

    for (i = 0; i < 50 && *count < want; i++)
        twc_reactor_run_once(r, WAIT_MS / 50);
}

static void test_reactor_signal_runs_from_loop(void **state)
{
    twc_reactor *r = new_reactor(*state);
    struct sigrec s = {.r = r};
    twc_err err;

    assert_int_equal(twc_reactor_on_signal(r, SIGUSR1, on_sig, &s, &err), 0);
    assert_true(disposition(SIGUSR1) != (void *)SIG_DFL);
    s.in_raise = 1;
    assert_int_equal(raise(SIGUSR1), 0);
    s.in_raise = 0;
    /* Delivered as a loop event, not from the OS handler. */
    assert_int_equal(s.count[SIGUSR1], 0);
    run_until(r, &s.count[SIGUSR1], 1);
    assert_int_equal(s.count[SIGUSR1], 1);
    assert_int_equal(s.bad_context, 0);
    /* Nothing more pending. */
    twc_reactor_run_once(r, 0);
    assert_int_equal(s.count[SIGUSR1], 1);
    assert_int_equal(twc_reactor_on_signal(r, SIGUSR1, NULL, NULL, &err), 0);
    assert_ptr_equal(disposition(SIGUSR1), (void *)SIG_DFL);
    finish(r);
}

static void test_reactor_signal_coalesces(void **state)
{
    twc_reactor *r = new_reactor(*state);
    struct sigrec s = {.r = r};

    assert_int_equal(twc_reactor_on_signal(r, SIGUSR2, on_sig, &s, NULL), 0);
    raise(SIGUSR2);
    raise(SIGUSR2);
    raise(SIGUSR2);
    run_until(r, &s.count[SIGUSR2], 1);
    twc_reactor_run_once(r, 0);
    assert_int_equal(s.count[SIGUSR2], 1);
    /* A later delivery is a new event. */
    raise(SIGUSR2);
    run_until(r, &s.count[SIGUSR2], 2);
    assert_int_equal(s.count[SIGUSR2], 2);
    twc_reactor_free(r); /* also gives the signal back */
    assert_ptr_equal(disposition(SIGUSR2), (void *)SIG_DFL);
}

static void test_reactor_signal_several(void **state)
{
    twc_reactor *r = new_reactor(*state);
    struct sigrec s = {.r = r};

    twc_reactor_on_signal(r, SIGUSR1, on_sig, &s, NULL);
    twc_reactor_on_signal(r, SIGHUP, on_sig, &s, NULL);
    raise(SIGHUP);
    raise(SIGUSR1);
    run_until(r, &s.n, 2);
    assert_int_equal(s.count[SIGHUP], 1);
    assert_int_equal(s.count[SIGUSR1], 1);
    /* Replacing a handler keeps the signal; the new one gets it. */
    {
        struct sigrec s2 = {.r = r};

        twc_reactor_on_signal(r, SIGHUP, on_sig, &s2, NULL);
        raise(SIGHUP);
        run_until(r, &s2.n, 1);
        assert_int_equal(s2.count[SIGHUP], 1);
        assert_int_equal(s.count[SIGHUP], 1);
    }
    twc_reactor_on_signal(r, SIGUSR1, NULL, NULL, NULL);
    twc_reactor_on_signal(r, SIGHUP, NULL, NULL, NULL);
    finish(r);
}

struct remover {
    twc_reactor *r;
    int calls;
};

static void on_sig_remove_other(twc_reactor *r, int signo, void *arg)
{
    struct remover *m = arg;

    m->calls++;
    /* SIGUSR1 < SIGUSR2, so SIGUSR2's handler is next in this batch. */
    twc_reactor_on_signal(r, signo == SIGUSR1 ? SIGUSR2 : SIGUSR1, NULL, NULL, NULL);
}

static void test_reactor_signal_removed_in_same_batch(void **state)
{
    twc_reactor *r = new_reactor(*state);
    struct remover m = {.r = r};
    sigset_t block, old;

    twc_reactor_on_signal(r, SIGUSR1, on_sig_remove_other, &m, NULL);
    twc_reactor_on_signal(r, SIGUSR2, on_sig_remove_other, &m, NULL);
    /* Deliver both before the loop looks. */
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    raise(SIGUSR1);
    raise(SIGUSR2);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    run_until(r, &m.calls, 1);
    twc_reactor_run_once(r, 0);
    assert_int_equal(m.calls, 1);
    twc_reactor_on_signal(r, SIGUSR1, NULL, NULL, NULL);
    assert_ptr_equal(disposition(SIGUSR1), (void *)SIG_DFL);
    assert_ptr_equal(disposition(SIGUSR2), (void *)SIG_DFL);
    finish(r);
}

static void *kill_main(void *arg)
{
    (void)arg;
    usleep(10000);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void test_reactor_signal_from_other_thread(void **state)
{
    twc_reactor *r = new_reactor(*state);
    struct sigrec s = {.r = r};
    pthread_t th;

    twc_reactor_on_signal(r, SIGUSR1, on_sig, &s, NULL);
    assert_int_equal(pthread_create(&th, NULL, kill_main, NULL), 0);
    /* Nothing else is watched: the signal's wakeup ends the wait. */
    run_until(r, &s.count[SIGUSR1], 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(s.count[SIGUSR1], 1);
    twc_reactor_on_signal(r, SIGUSR1, NULL, NULL, NULL);
    finish(r);
}

static void on_sig_stop(twc_reactor *r, int signo, void *arg)
{
    int *calls = arg;

    (void)signo;
    (*calls)++;
    twc_reactor_stop(r);
}

static void test_reactor_signal_stops_run(void **state)
{
    twc_reactor *r = new_reactor(*state);
    pthread_t th;
    int calls = 0;

    /* The SIGTERM pattern: a handler that stops the loop ends twc_reactor_run. */
    twc_reactor_on_signal(r, SIGUSR1, on_sig_stop, &calls, NULL);
    assert_int_equal(pthread_create(&th, NULL, kill_main, NULL), 0);
    assert_int_equal(twc_reactor_run(r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(calls, 1);
    twc_reactor_on_signal(r, SIGUSR1, NULL, NULL, NULL);
    finish(r);
}

static void test_reactor_signal_bad_signo(void **state)
{
    twc_reactor *r = new_reactor(*state);
    struct sigrec s = {.r = r};
    twc_err err = {0};

    assert_int_equal(twc_reactor_on_signal(r, 0, on_sig, &s, &err), TWC_EINVAL);
    assert_int_equal(err.code, TWC_EINVAL);
    assert_string_equal(err.msg, "cannot handle signal 0");
    assert_int_equal(twc_reactor_on_signal(r, SIGKILL, on_sig, &s, NULL), TWC_EINVAL);
    assert_int_equal(twc_reactor_on_signal(r, 1000, on_sig, &s, NULL), TWC_EINVAL);
    assert_int_equal(twc_reactor_on_signal(r, -3, NULL, NULL, NULL), TWC_EINVAL);
    finish(r);
}

static void test_reactor_signal_sigpipe_stays_ignored(void **state)
{
    twc_reactor *r = new_reactor(*state);
    struct sigrec s = {.r = r};

    assert_ptr_equal(disposition(SIGPIPE), (void *)SIG_IGN);
    twc_reactor_on_signal(r, SIGPIPE, on_sig, &s, NULL);
    raise(SIGPIPE);
    run_until(r, &s.count[SIGPIPE], 1);
    assert_int_equal(s.count[SIGPIPE], 1);
    /* Letting go restores what was there before: ignored. */
    twc_reactor_on_signal(r, SIGPIPE, NULL, NULL, NULL);
    assert_ptr_equal(disposition(SIGPIPE), (void *)SIG_IGN);
    finish(r);
}

static void test_reactor_signal_moves_between_reactors(void **state)
{
    twc_reactor *a = new_reactor(*state), *b = new_reactor(*state);
    struct sigrec sa = {.r = a}, sb = {.r = b};

    /* Only one reactor per process should own a signal; the last taker wins. */
    twc_reactor_on_signal(a, SIGUSR1, on_sig, &sa, NULL);
    twc_reactor_on_signal(b, SIGUSR1, on_sig, &sb, NULL);
    raise(SIGUSR1);
    run_until(b, &sb.count[SIGUSR1], 1);
    twc_reactor_run_once(a, 0);
    assert_int_equal(sb.count[SIGUSR1], 1);
    assert_int_equal(sa.count[SIGUSR1], 0);
    /* The former owner letting go does not disturb the new one. */
    twc_reactor_on_signal(a, SIGUSR1, NULL, NULL, NULL);
    assert_true(disposition(SIGUSR1) != (void *)SIG_DFL);
    twc_reactor_free(b);
    assert_ptr_equal(disposition(SIGUSR1), (void *)SIG_DFL);
    finish(a);
}

#define BOTH(f)                                                                          \
    {#f "_epoll", f, NULL, NULL, (void *)"epoll"}, { #f "_poll", f, NULL, NULL, (void *)"poll" }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_reactor_signal_runs_from_loop),
        BOTH(test_reactor_signal_coalesces),
        BOTH(test_reactor_signal_several),
        BOTH(test_reactor_signal_removed_in_same_batch),
        BOTH(test_reactor_signal_from_other_thread),
        BOTH(test_reactor_signal_stops_run),
        BOTH(test_reactor_signal_bad_signo),
        BOTH(test_reactor_signal_sigpipe_stays_ignored),
        BOTH(test_reactor_signal_moves_between_reactors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
