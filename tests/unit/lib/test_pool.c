/* Unit tests for lib/pool.c: real threads, completions on the loop thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deferred.h"
#include "pool.h"
#include "reactor.h"

struct job {
    int input;
    int output;
    pthread_t ran_on;
    int done_status;
    int done_calls;
    pthread_mutex_t *gate; /* work blocks on it when set */
};

static pthread_t loop_thread;
static int jobs_done;

static void work_square(void *arg)
{
    struct job *j = arg;

    if (j->gate != NULL) {
        pthread_mutex_lock(j->gate);
        pthread_mutex_unlock(j->gate);
    }
    j->output = j->input * j->input;
    j->ran_on = pthread_self();
}

static void done_count(void *arg, int status)
{
    struct job *j = arg;

    /* done always runs on the loop thread. */
    assert_true(pthread_equal(pthread_self(), loop_thread));
    j->done_status = status;
    j->done_calls++;
    jobs_done++;
}

static twc_reactor *new_reactor(void)
{
    twc_err err;
    twc_reactor *r = twc_reactor_new(NULL, &err);

    assert_non_null(r);
    loop_thread = pthread_self();
    jobs_done = 0;
    return r;
}

static void run_until(twc_reactor *r, int *counter, int want)
{
    int i;

    for (i = 0; i < 5000 && *counter < want; i++)
        twc_reactor_run_once(r, 10);
    assert_int_equal(*counter, want);
}

static void test_pool_runs_jobs_off_loop(void **state)
{
    twc_reactor *r = new_reactor();
    struct job jobs[64];
    twc_pool *p;
    twc_err err;
    int i;

    (void)state;
    p = twc_pool_new(r, 3, &err);
    assert_non_null(p);
    memset(jobs, 0, sizeof(jobs));
    for (i = 0; i < 64; i++) {
        jobs[i].input = i;
        assert_non_null(twc_pool_submit(p, work_square, done_count, &jobs[i], &err));
    }
    assert_int_equal(twc_pool_pending(p), 64);
    run_until(r, &jobs_done, 64);
    for (i = 0; i < 64; i++) {
        assert_int_equal(jobs[i].output, i * i);
        assert_int_equal(jobs[i].done_status, 0);
        assert_int_equal(jobs[i].done_calls, 1);
        assert_false(pthread_equal(jobs[i].ran_on, loop_thread));
    }
    assert_int_equal(twc_pool_pending(p), 0);
    twc_pool_free(p);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static void test_pool_cancel_queued_job(void **state)
{
    twc_reactor *r = new_reactor();
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    struct job blocker, victim;
    twc_pool_job *vj;
    twc_pool *p;
    twc_err err;

    (void)state;
    memset(&blocker, 0, sizeof(blocker));
    memset(&victim, 0, sizeof(victim));
    p = twc_pool_new(r, 1, &err);
    assert_non_null(p);
    pthread_mutex_lock(&gate);
    blocker.gate = &gate;
    blocker.input = 2;
    assert_non_null(twc_pool_submit(p, work_square, done_count, &blocker, &err));
    victim.input = 3;
    vj = twc_pool_submit(p, work_square, done_count, &victim, &err);
    assert_non_null(vj);
    /* With one thread busy on the blocker, the victim is still queued. */
    assert_int_equal(twc_pool_cancel(p, vj), 0);
    pthread_mutex_unlock(&gate);
    run_until(r, &jobs_done, 2);
    assert_int_equal(victim.done_status, TWC_ECANCELED);
    assert_int_equal(victim.output, 0); /* work never ran */
    assert_int_equal(blocker.output, 4);
    twc_pool_free(p);
    twc_reactor_free(r);
}

static void test_pool_free_cancels_pending(void **state)
{
    twc_reactor *r = new_reactor();
    struct job jobs[8];
    twc_pool *p;
    twc_err err;
    int i;

    (void)state;
    memset(jobs, 0, sizeof(jobs));
    p = twc_pool_new(r, 2, &err);
    for (i = 0; i < 8; i++)
        assert_non_null(twc_pool_submit(p, work_square, done_count, &jobs[i], &err));
    /* Free at once: each done runs exactly once, inside free, ran or cancelled. */
    twc_pool_free(p);
    assert_int_equal(jobs_done, 8);
    for (i = 0; i < 8; i++) {
        assert_int_equal(jobs[i].done_calls, 1);
        assert_true(jobs[i].done_status == 0 || jobs[i].done_status == TWC_ECANCELED);
    }
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

/* ---- deferToThread ---- */

static int thread_sum(void *arg, void **value, twc_err *err)
{
    int *n = arg;
    long *out;

    if (*n < 0)
        return twc_err_set(err, TWC_EINVAL, "negative input %d", *n);
    out = malloc(sizeof(*out));
    if (out == NULL)
        return TWC_ENOMEM;
    *out = (long)*n * (*n + 1) / 2;
    *value = out;
    return 0;
}

struct seen {
    int fired;
    long value;
    int code;
    char msg[TWC_ERR_MSG_MAX];
};

static void on_value(void *arg, twc_result *res)
{
    struct seen *s = arg;

    s->fired++;
    s->value = *(long *)twc_result_value(res);
}

static void on_failure(void *arg, twc_result *res)
{
    struct seen *s = arg;

    s->fired++;
    s->code = twc_result_code(res);
    snprintf(s->msg, sizeof(s->msg), "%s", twc_result_err(res)->msg);
    twc_result_set(res, NULL, NULL); /* handled */
}

static void test_pool_defer_to_thread_value_and_failure(void **state)
{
    twc_reactor *r = new_reactor();
    struct seen ok = {0}, bad = {0};
    int n_ok = 100, n_bad = -1;
    twc_deferred *d1, *d2;
    twc_pool *p;
    twc_err err;

    (void)state;
    p = twc_pool_new(r, 2, &err);
    d1 = twc_defer_to_thread(p, thread_sum, &n_ok, free);
    d2 = twc_defer_to_thread(p, thread_sum, &n_bad, free);
    twc_deferred_add_callbacks(d1, on_value, on_failure, &ok);
    twc_deferred_add_callbacks(d2, on_value, on_failure, &bad);
    twc_deferred_unref(d1);
    twc_deferred_unref(d2);
    run_until(r, &ok.fired, 1);
    run_until(r, &bad.fired, 1);
    assert_int_equal(ok.value, 5050);
    assert_int_equal(bad.code, TWC_EINVAL);
    assert_string_equal(bad.msg, "negative input -1");
    twc_pool_free(p);
    twc_reactor_free(r);
}

static void test_pool_defer_to_thread_cancel(void **state)
{
    twc_reactor *r = new_reactor();
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    struct job blocker = {0};
    struct seen s = {0};
    int n = 10;
    twc_deferred *d;
    twc_pool *p;
    twc_err err;

    (void)state;
    p = twc_pool_new(r, 1, &err);
    pthread_mutex_lock(&gate);
    blocker.gate = &gate;
    assert_non_null(twc_pool_submit(p, work_square, done_count, &blocker, &err));
    d = twc_defer_to_thread(p, thread_sum, &n, free);
    twc_deferred_add_callbacks(d, on_value, on_failure, &s);
    twc_deferred_cancel(d);
    assert_int_equal(s.fired, 1);
    assert_int_equal(s.code, TWC_ECANCELED);
    twc_deferred_unref(d);
    pthread_mutex_unlock(&gate);
    run_until(r, &jobs_done, 1);
    twc_pool_free(p);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_runs_jobs_off_loop),
        cmocka_unit_test(test_pool_cancel_queued_job),
        cmocka_unit_test(test_pool_free_cancels_pending),
        cmocka_unit_test(test_pool_defer_to_thread_value_and_failure),
        cmocka_unit_test(test_pool_defer_to_thread_cancel),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
