/* Unit tests for lib/coro.c: coroutines that wait on deferreds (Twisted's
 * inlineCallbacks), with sequential awaits, failures, cancellation and long
 * loops over already-fired deferreds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro.h"
#include "deferred.h"
#include "outcome.h"

/* A fake asynchronous operation the test completes by hand, with a canceller
 * (like a resolver query or a connect attempt). */
struct fake_op {
    twc_deferred *d; /* producer reference while pending */
    int started;
    int cancelled;
};

static void fake_cancel(void *arg, twc_deferred *d)
{
    struct fake_op *op = arg;

    (void)d;
    op->cancelled++;
    op->d = NULL; /* cancel fails it with TWC_ECANCELED */
}

static twc_deferred *fake_start(struct fake_op *op)
{
    op->started++;
    op->d = twc_deferred_new(fake_cancel, op);
    return op->d; /* the consumer's reference; op->d is the producer's */
}

static void fake_resolve(struct fake_op *op, int v)
{
    twc_deferred *d = op->d;

    assert_non_null(d);
    op->d = NULL;
    twc_deferred_resolve(d, new_int(v), int_free);
}

static void fake_reject(struct fake_op *op, int code, const char *msg)
{
    twc_deferred *d = op->d;

    assert_non_null(d);
    op->d = NULL;
    twc_deferred_reject(d, code, "%s", msg);
}

/* ---- A realistic three-step client: resolve, connect, read reply ----------- */

struct fetch {
    twc_coro coro; /* first member */
    struct fake_op ops[3];
    int *addr; /* values that live across awaits are in the struct */
    int *conn;
    int *reply;
    int step;
    int *report; /* [0]: fini calls, [1]: connect cancellations seen by fini */
};

static void fetch_run(twc_coro *c)
{
    struct fetch *f = (struct fetch *)c;

    TWC_CORO_BEGIN(c);
    f->step = 1;
    TWC_CORO_AWAIT(c, fake_start(&f->ops[0]), f->addr);
    f->step = 2;
    TWC_CORO_AWAIT(c, fake_start(&f->ops[1]), f->conn);
    f->step = 3;
    TWC_CORO_AWAIT(c, fake_start(&f->ops[2]), f->reply);
    f->step = 4;
    TWC_CORO_RETURN(c, new_int(*f->addr * 100 + *f->conn * 10 + *f->reply), int_free);
    TWC_CORO_END(c);
}

static void fetch_fini(twc_coro *c)
{
    struct fetch *f = (struct fetch *)c;

    f->report[0]++;
    f->report[1] = f->ops[1].cancelled;
    if (f->addr != NULL)
        int_free(f->addr);
    if (f->conn != NULL)
        int_free(f->conn);
    if (f->reply != NULL)
        int_free(f->reply);
    free(f);
}

static struct fetch *fetch_new(int *report)
{
    struct fetch *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->report = report;
    return f;
}

static void test_coro_three_sequential_awaits(void **state)
{
    int report[2] = {0, 0};
    struct fetch *f = fetch_new(report);
    twc_deferred *d;
    struct outcome o;

    (void)state;
    freed = 0;
    d = twc_coro_start(&f->coro, fetch_run, fetch_fini);
    watch(d, &o);
    assert_int_equal(f->step, 1);
    assert_int_equal(f->ops[0].started, 1);
    assert_int_equal(f->ops[1].started, 0);
    fake_resolve(&f->ops[0], 1);
    assert_int_equal(f->step, 2); /* re-entered when the await fired */
    assert_int_equal(*f->addr, 1);
    fake_resolve(&f->ops[1], 2);
    assert_int_equal(f->step, 3);
    assert_int_equal(o.calls, 0);
    fake_resolve(&f->ops[2], 3);
    /* Finished: the outcome fired, then fini freed the struct. */
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    assert_int_equal(*(int *)o.value, 123);
    assert_int_equal(report[0], 1);
    twc_deferred_unref(d);
    outcome_cleanup(&o);
    assert_int_equal(freed, 4);
}

static void test_coro_error_in_the_middle_propagates(void **state)
{
    int report[2] = {0, 0};
    struct fetch *f = fetch_new(report);
    twc_deferred *d;
    struct outcome o;

    (void)state;
    freed = 0;
    d = twc_coro_start(&f->coro, fetch_run, fetch_fini);
    watch(d, &o);
    fake_resolve(&f->ops[0], 1);
    assert_int_equal(f->ops[2].started, 0);
    fake_reject(&f->ops[1], -ECONNREFUSED, "connect 127.0.0.1:9: refused");
    /* Step 3 never ran; the coroutine failed with the connect error. */
    assert_int_equal(o.calls, 1);
    assert_false(o.ok);
    assert_int_equal(o.err.code, -ECONNREFUSED);
    assert_int_equal(o.err.sys_errno, ECONNREFUSED);
    assert_string_equal(o.err.msg, "connect 127.0.0.1:9: refused");
    assert_int_equal(report[0], 1);
    twc_deferred_unref(d);
    assert_int_equal(freed, 1); /* addr, freed by fini */
}

static void test_coro_cancel_cancels_awaited_and_propagates(void **state)
{
    int report[2] = {0, 0};
    struct fetch *f = fetch_new(report);
    twc_deferred *d;
    struct outcome o;

    (void)state;
    freed = 0;
    d = twc_coro_start(&f->coro, fetch_run, fetch_fini);
    watch(d, &o);
    fake_resolve(&f->ops[0], 1);
    twc_deferred_cancel(d);
    /* The connect in progress was cancelled; its TWC_ECANCELED propagated. */
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    assert_int_equal(report[0], 1);
    assert_int_equal(report[1], 1);
    twc_deferred_unref(d);
    assert_int_equal(freed, 1);
}

/* Catches the cancellation and does a last step before finishing: the
 * returned deferred waits for it (Twisted's inlineCallbacks). */
struct careful {
    twc_coro coro;
    struct fake_op op;
    struct fake_op quit;
    int *v;
    int saw_cancel;
    int *fini_calls;
};

static void careful_run(twc_coro *c)
{
    struct careful *k = (struct careful *)c;

    TWC_CORO_BEGIN(c);
    TWC_CORO_AWAIT_TRY(c, fake_start(&k->op), k->v);
    if (twc_coro_err(c)->code == TWC_ECANCELED) {
        k->saw_cancel = 1;
        TWC_CORO_AWAIT(c, fake_start(&k->quit), k->v); /* say goodbye first */
        TWC_CORO_FAIL(c, TWC_ECANCELED, "careful cancelled after goodbye %d", *k->v);
    }
    TWC_CORO_RETURN(c, k->v, int_free);
    TWC_CORO_END(c);
}

static void careful_fini(twc_coro *c)
{
    struct careful *k = (struct careful *)c;

    (*k->fini_calls)++;
    /* After TWC_CORO_RETURN the value belongs to the outcome; here we own it
     * only on the failure path. */
    if (k->saw_cancel && k->v != NULL)
        int_free(k->v);
}

static void test_coro_cancel_caught_outcome_waits_for_end(void **state)
{
    int fini_calls = 0;
    struct careful k;
    twc_deferred *d;
    struct outcome o;

    (void)state;
    freed = 0;
    memset(&k, 0, sizeof(k));
    k.fini_calls = &fini_calls;
    d = twc_coro_start(&k.coro, careful_run, careful_fini);
    watch(d, &o);
    twc_deferred_cancel(d);
    assert_int_equal(k.op.cancelled, 1);
    assert_int_equal(k.saw_cancel, 1);
    assert_int_equal(k.quit.started, 1);
    /* The coroutine survived the cancel: the outcome waits for its end. */
    assert_int_equal(o.calls, 0);
    assert_true(twc_deferred_paused(d));
    fake_resolve(&k.quit, 7);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    assert_string_equal(o.err.msg, "careful cancelled after goodbye 7");
    assert_int_equal(fini_calls, 1);
    twc_deferred_unref(d);
    assert_int_equal(freed, 1);
}

static void test_coro_cancel_twice_reaches_the_new_await(void **state)
{
    int fini_calls = 0;
    struct careful k;
    twc_deferred *d;
    struct outcome o;

    (void)state;
    freed = 0;
    memset(&k, 0, sizeof(k));
    k.fini_calls = &fini_calls;
    d = twc_coro_start(&k.coro, careful_run, careful_fini);
    watch(d, &o);
    twc_deferred_cancel(d);
    assert_int_equal(o.calls, 0);
    /* Cancelling again reaches the goodbye await through the chain. */
    twc_deferred_cancel(d);
    assert_int_equal(k.quit.cancelled, 1);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    assert_string_equal(o.err.msg, "deferred cancelled");
    assert_int_equal(fini_calls, 1);
    twc_deferred_unref(d);
}

static void test_coro_cancel_while_outcome_paused(void **state)
{
    int fini_calls = 0;
    struct careful k;
    twc_deferred *d;
    struct outcome o;

    (void)state;
    freed = 0;
    memset(&k, 0, sizeof(k));
    k.fini_calls = &fini_calls;
    d = twc_coro_start(&k.coro, careful_run, careful_fini);
    watch(d, &o);
    twc_deferred_pause(d);
    twc_deferred_cancel(d);
    fake_resolve(&k.quit, 8); /* the coroutine ends while d is paused */
    assert_int_equal(o.calls, 0);
    assert_int_equal(fini_calls, 0); /* kept until its outcome is delivered */
    twc_deferred_unpause(d);
    assert_int_equal(o.calls, 1);
    assert_string_equal(o.err.msg, "careful cancelled after goodbye 8");
    assert_int_equal(fini_calls, 1);
    twc_deferred_unref(d);
    assert_int_equal(freed, 1);
}

static void test_coro_try_await_success_returns_value(void **state)
{
    int fini_calls = 0;
    struct careful k;
    twc_deferred *d;
    struct outcome o;

    (void)state;
    freed = 0;
    memset(&k, 0, sizeof(k));
    k.fini_calls = &fini_calls;
    d = twc_coro_start(&k.coro, careful_run, careful_fini);
    watch(d, &o);
    fake_resolve(&k.op, 5);
    assert_int_equal(o.calls, 1);
    assert_int_equal(*(int *)o.value, 5);
    assert_int_equal(twc_coro_err(&k.coro)->code, 0);
    assert_int_equal(fini_calls, 1);
    twc_deferred_unref(d);
    outcome_cleanup(&o);
    assert_int_equal(freed, 1);
}

/* ---- Loops ------------------------------------------------------------------ */

struct summer {
    twc_coro coro;
    twc_dqueue *q; /* NULL: await already-fired deferreds */
    long i;
    long n;
    long sum;
    int *v;
    uintptr_t mark;
};

static void sum_run(twc_coro *c)
{
    struct summer *s = (struct summer *)c;

    TWC_CORO_BEGIN(c);
    for (s->i = 0; s->i < s->n; s->i++) {
        if (s->q != NULL)
            TWC_CORO_AWAIT(c, twc_dqueue_get(s->q), s->v);
        else
            TWC_CORO_AWAIT(c, twc_deferred_succeed(new_int(1), int_free), s->v);
        s->sum += *s->v;
        int_free(s->v);
        s->v = NULL;
    }
    s->mark = (uintptr_t)__builtin_frame_address(0);
    TWC_CORO_RETURN(c, new_int((int)s->sum), int_free);
    TWC_CORO_END(c);
}

static uintptr_t sum_fired(long n, struct outcome *o)
{
    struct summer s;
    twc_deferred *d;

    memset(&s, 0, sizeof(s));
    s.n = n;
    d = twc_coro_start(&s.coro, sum_run, NULL);
    watch(d, o);
    assert_int_equal(o->calls, 1);
    assert_int_equal(*(int *)o->value, n);
    twc_deferred_unref(d);
    outcome_cleanup(o);
    return s.mark;
}

static void test_coro_100k_fired_awaits_use_no_stack(void **state)
{
    struct outcome o;
    uintptr_t one;
    uintptr_t many;

    (void)state;
    freed = 0;
    one = sum_fired(1, &o);
    many = sum_fired(100000, &o);
    /* Already-fired awaits continue inline: same frame, whatever the count. */
    assert_int_equal(one, many);
    assert_int_equal(freed, 100000 + 1 + 2);
}

static void test_coro_loop_over_queue_reentered_each_put(void **state)
{
    struct summer s;
    twc_deferred *d;
    struct outcome o;
    int i;

    (void)state;
    freed = 0;
    memset(&s, 0, sizeof(s));
    s.q = twc_dqueue_new(TWC_DQUEUE_UNBOUNDED, 1);
    s.n = 5;
    d = twc_coro_start(&s.coro, sum_run, NULL);
    watch(d, &o);
    for (i = 1; i <= 5; i++) {
        assert_int_equal(twc_dqueue_waiting(s.q), 1);
        assert_int_equal(twc_dqueue_put(s.q, new_int(i), int_free), 0);
    }
    assert_int_equal(o.calls, 1);
    assert_int_equal(*(int *)o.value, 15);
    twc_deferred_unref(d);
    outcome_cleanup(&o);
    twc_dqueue_free(s.q);
    assert_int_equal(freed, 6);
}

/* ---- Edge cases ------------------------------------------------------------- */

struct tiny {
    twc_coro coro;
    int fini_calls;
};

static void immediate_run(twc_coro *c)
{
    TWC_CORO_BEGIN(c);
    TWC_CORO_END(c);
}

static void tiny_fini(twc_coro *c)
{
    ((struct tiny *)c)->fini_calls++;
}

static void test_coro_finishing_synchronously(void **state)
{
    struct tiny t;
    twc_deferred *d;
    const twc_result *r;

    (void)state;
    memset(&t, 0, sizeof(t));
    d = twc_coro_start(&t.coro, immediate_run, tiny_fini);
    assert_int_equal(t.fini_calls, 1);
    r = twc_deferred_peek(d);
    assert_non_null(r);
    assert_true(twc_result_ok(r));
    assert_null(twc_result_value(r));
    twc_deferred_unref(d);
}

static void bare_return_run(twc_coro *c)
{
    TWC_CORO_BEGIN(c);
    if (c->line == 0)
        return; /* a bug: neither awaiting nor finished */
    TWC_CORO_END(c);
}

static void test_coro_bare_return_fails_einternal(void **state)
{
    struct tiny t;
    twc_deferred *d;
    struct outcome o;

    (void)state;
    memset(&t, 0, sizeof(t));
    d = twc_coro_start(&t.coro, bare_return_run, tiny_fini);
    watch(d, &o);
    assert_int_equal(o.err.code, TWC_EINTERNAL);
    assert_int_equal(t.fini_calls, 1);
    twc_deferred_unref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coro_three_sequential_awaits),
        cmocka_unit_test(test_coro_error_in_the_middle_propagates),
        cmocka_unit_test(test_coro_cancel_cancels_awaited_and_propagates),
        cmocka_unit_test(test_coro_cancel_caught_outcome_waits_for_end),
        cmocka_unit_test(test_coro_cancel_twice_reaches_the_new_await),
        cmocka_unit_test(test_coro_cancel_while_outcome_paused),
        cmocka_unit_test(test_coro_try_await_success_returns_value),
        cmocka_unit_test(test_coro_100k_fired_awaits_use_no_stack),
        cmocka_unit_test(test_coro_loop_over_queue_reentered_each_put),
        cmocka_unit_test(test_coro_finishing_synchronously),
        cmocka_unit_test(test_coro_bare_return_fails_einternal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
