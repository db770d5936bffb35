/* Unit tests for lib/defer_list.c, lib/defer_sem.c and lib/defer_queue.c:
 * Twisted's DeferredList / gatherResults, DeferredSemaphore, DeferredQueue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferred.h"
#include "outcome.h"

/* Errback that swallows a failure, so freeing does not log it. */
static void eb_swallow(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, NULL, NULL);
}

static int cancels;

static void count_cancel(void *arg, twc_deferred *d)
{
    (void)arg;
    (void)d;
    cancels++;
}

static void setup(void)
{
    freed = 0;
    cancels = 0;
}

/* ---- DeferredList ---------------------------------------------------------- */

static void test_dlist_fires_when_all_fired_in_order(void **state)
{
    twc_deferred *a = twc_deferred_new(NULL, NULL);
    twc_deferred *b = twc_deferred_new(NULL, NULL);
    twc_deferred *c = twc_deferred_succeed(new_int(3), int_free);
    twc_deferred *ds[3] = {a, b, c};
    twc_deferred *l;
    twc_dlist *res;
    struct outcome o;

    (void)state;
    setup();
    /* The list takes our references; keep our own to fire a and b. */
    twc_deferred_ref(a);
    twc_deferred_ref(b);
    l = twc_deferred_list(ds, 3, 0);
    watch(l, &o);
    assert_int_equal(o.calls, 0);
    twc_deferred_resolve(b, new_int(2), int_free);
    assert_int_equal(o.calls, 0);
    twc_deferred_resolve(a, new_int(1), int_free);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    res = o.value;
    assert_int_equal(res->n, 3);
    assert_int_equal(res->index, 3);
    assert_int_equal(*(int *)res->items[0].value, 1);
    assert_int_equal(*(int *)res->items[1].value, 2);
    assert_int_equal(*(int *)res->items[2].value, 3);
    assert_true(res->items[0].fired && res->items[0].ok);
    /* Values moved into the list: the items continue with NULL. */
    assert_null(twc_result_value(twc_deferred_peek(a)));
    twc_deferred_unref(a);
    twc_deferred_unref(b);
    twc_deferred_unref(l);
    assert_int_equal(freed, 0);
    outcome_cleanup(&o);
    assert_int_equal(freed, 3);
}

static void test_dlist_records_failures_and_leaves_them(void **state)
{
    twc_deferred *a = twc_deferred_succeed(new_int(1), int_free);
    twc_deferred *b = twc_deferred_new(NULL, NULL);
    twc_deferred *ds[2] = {a, b};
    twc_deferred *l;
    twc_dlist *res;
    struct outcome o;

    (void)state;
    setup();
    twc_deferred_ref(b);
    l = twc_deferred_list(ds, 2, 0);
    watch(l, &o);
    twc_deferred_reject(b, TWC_EPROTO, "bad reply");
    assert_int_equal(o.calls, 1);
    assert_true(o.ok); /* a list without fire-on-one fires with values */
    res = o.value;
    assert_false(res->items[1].ok);
    assert_int_equal(res->items[1].err.code, TWC_EPROTO);
    assert_string_equal(res->items[1].err.msg, "bad reply");
    /* Without CONSUME_ERRORS the failure stays in b (Twisted). */
    assert_int_equal(twc_result_code(twc_deferred_peek(b)), TWC_EPROTO);
    twc_deferred_add_errback(b, eb_swallow, NULL);
    twc_deferred_unref(b);
    twc_deferred_unref(l);
    outcome_cleanup(&o);
    assert_int_equal(freed, 1);
}

static void test_dlist_fire_on_one_callback(void **state)
{
    twc_deferred *a = twc_deferred_new(NULL, NULL);
    twc_deferred *b = twc_deferred_new(NULL, NULL);
    twc_deferred *ds[2] = {a, b};
    twc_deferred *l;
    twc_dlist *res;
    struct outcome o;

    (void)state;
    setup();
    twc_deferred_ref(a);
    twc_deferred_ref(b);
    l = twc_deferred_list(ds, 2, TWC_DLIST_FIRE_ON_ONE_CALLBACK | TWC_DLIST_CONSUME_ERRORS);
    watch(l, &o);
    twc_deferred_reject(a, TWC_ETIMEDOUT, "slow"); /* a failure does not fire it */
    assert_int_equal(o.calls, 0);
    twc_deferred_resolve(b, new_int(2), int_free);
    assert_int_equal(o.calls, 1);
    res = o.value;
    assert_int_equal(res->index, 1);
    assert_int_equal(*(int *)res->items[1].value, 2);
    assert_false(res->items[0].ok);
    assert_int_equal(res->items[0].err.code, TWC_ETIMEDOUT);
    /* Consumed: a's failure became a NULL value. */
    assert_true(twc_result_ok(twc_deferred_peek(a)));
    twc_deferred_unref(a);
    twc_deferred_unref(b);
    twc_deferred_unref(l);
    outcome_cleanup(&o);
    assert_int_equal(freed, 1);
}

static void test_dlist_items_after_fire_keep_their_values(void **state)
{
    twc_deferred *a = twc_deferred_new(NULL, NULL);
    twc_deferred *b = twc_deferred_new(NULL, NULL);
    twc_deferred *ds[2] = {a, b};
    twc_deferred *l;
    twc_dlist *res;
    struct outcome o;

    (void)state;
    setup();
    twc_deferred_ref(a);
    twc_deferred_ref(b);
    l = twc_deferred_list(ds, 2, TWC_DLIST_FIRE_ON_ONE_CALLBACK);
    watch(l, &o);
    twc_deferred_resolve(a, new_int(1), int_free);
    res = o.value;
    assert_int_equal(res->index, 0);
    assert_false(res->items[1].fired);
    twc_deferred_unref(l); /* the list deferred is gone; b is still pending */
    twc_deferred_resolve(b, new_int(2), int_free);
    assert_int_equal(*(int *)twc_result_value(twc_deferred_peek(b)), 2);
    twc_deferred_unref(a);
    twc_deferred_unref(b);
    assert_int_equal(freed, 1);
    outcome_cleanup(&o);
    assert_int_equal(freed, 2);
}

static void test_gather_fails_on_first_error(void **state)
{
    twc_deferred *a = twc_deferred_new(NULL, NULL);
    twc_deferred *b = twc_deferred_new(NULL, NULL);
    twc_deferred *c = twc_deferred_new(NULL, NULL);
    twc_deferred *ds[3] = {a, b, c};
    twc_deferred *g;
    struct outcome o;

    (void)state;
    setup();
    twc_deferred_ref(a);
    twc_deferred_ref(b);
    twc_deferred_ref(c);
    g = twc_gather(ds, 3, true);
    watch(g, &o);
    twc_deferred_resolve(a, new_int(1), int_free);
    twc_deferred_reject(b, -ECONNREFUSED, "connect refused");
    assert_int_equal(o.calls, 1);
    assert_false(o.ok);
    assert_int_equal(o.err.code, -ECONNREFUSED);
    assert_int_equal(o.err.sys_errno, ECONNREFUSED);
    assert_string_equal(o.err.msg, "item 1: connect refused");
    /* Later failures are consumed too (no unhandled log when freed). */
    twc_deferred_reject(c, TWC_EPROTO, "late");
    assert_true(twc_result_ok(twc_deferred_peek(c)));
    twc_deferred_unref(a);
    twc_deferred_unref(b);
    twc_deferred_unref(c);
    twc_deferred_unref(g);
    assert_int_equal(freed, 1); /* a's value, freed with the list state */
}

static void test_gather_all_values(void **state)
{
    twc_deferred *ds[2] = {twc_deferred_succeed(new_int(1), int_free), twc_deferred_succeed(new_int(2), int_free)};
    twc_deferred *g;
    twc_dlist *res;
    struct outcome o;

    (void)state;
    setup();
    g = twc_gather(ds, 2, false);
    watch(g, &o); /* fired during twc_gather: the link ran at once */
    assert_int_equal(o.calls, 1);
    res = o.value;
    assert_int_equal(*(int *)res->items[0].value, 1);
    assert_int_equal(*(int *)res->items[1].value, 2);
    twc_deferred_unref(g);
    outcome_cleanup(&o);
    assert_int_equal(freed, 2);
}

static void test_dlist_empty_fires_at_once(void **state)
{
    twc_deferred *l;
    struct outcome o;

    (void)state;
    setup();
    l = twc_deferred_list(NULL, 0, 0);
    watch(l, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(((twc_dlist *)o.value)->n, 0);
    twc_deferred_unref(l);
    outcome_cleanup(&o);
}

static void test_dlist_empty_fire_on_one_callback_waits_for_cancel(void **state)
{
    twc_deferred *l;
    struct outcome o;

    (void)state;
    setup();
    l = twc_deferred_list(NULL, 0, TWC_DLIST_FIRE_ON_ONE_CALLBACK);
    watch(l, &o);
    assert_int_equal(o.calls, 0); /* Twisted: never fires by itself */
    twc_deferred_cancel(l);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    twc_deferred_unref(l);
}

static void test_dlist_cancel_cancels_every_item(void **state)
{
    twc_deferred *a = twc_deferred_new(count_cancel, NULL);
    twc_deferred *b = twc_deferred_new(count_cancel, NULL);
    twc_deferred *c = twc_deferred_succeed(new_int(3), int_free);
    twc_deferred *ds[3] = {a, b, c};
    twc_deferred *l;
    twc_dlist *res;
    struct outcome o;

    (void)state;
    setup();
    l = twc_deferred_list(ds, 3, TWC_DLIST_CONSUME_ERRORS);
    watch(l, &o);
    twc_deferred_cancel(l);
    assert_int_equal(cancels, 2);
    /* Twisted: the list fires with every item's outcome, cancelled ones
     * failed with TWC_ECANCELED. */
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    res = o.value;
    assert_int_equal(res->items[0].err.code, TWC_ECANCELED);
    assert_int_equal(res->items[1].err.code, TWC_ECANCELED);
    assert_int_equal(*(int *)res->items[2].value, 3);
    twc_deferred_unref(l);
    outcome_cleanup(&o);
    assert_int_equal(freed, 1);
}

static void test_dlist_cancel_with_paused_item_rejects_list(void **state)
{
    twc_deferred *a = twc_deferred_new(NULL, NULL);
    twc_deferred *ds[1] = {a};
    twc_deferred *l;
    struct outcome o;

    (void)state;
    setup();
    twc_deferred_ref(a);
    twc_deferred_pause(a);
    twc_deferred_resolve(a, new_int(1), int_free);
    l = twc_deferred_list(ds, 1, 0);
    watch(l, &o);
    /* a fired but is paused: it cannot be cancelled, so the list is. */
    twc_deferred_cancel(l);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    twc_deferred_unpause(a); /* its list link runs now; the list ignores it */
    assert_int_equal(*(int *)twc_result_value(twc_deferred_peek(a)), 1);
    twc_deferred_unref(a);
    twc_deferred_unref(l);
    assert_int_equal(freed, 1);
}

/* ---- DeferredSemaphore ----------------------------------------------------- */

static void test_dsem_acquire_release_fifo(void **state)
{
    twc_err err;
    twc_dsem *s = twc_dsem_new(2, &err);
    twc_deferred *d[4];
    struct outcome o[4];
    int i;

    (void)state;
    setup();
    assert_non_null(s);
    for (i = 0; i < 4; i++) {
        d[i] = twc_dsem_acquire(s);
        watch(d[i], &o[i]);
    }
    assert_int_equal(o[0].calls, 1);
    assert_ptr_equal(o[0].value, s);
    assert_int_equal(o[1].calls, 1);
    assert_int_equal(o[2].calls, 0);
    assert_int_equal(twc_dsem_tokens(s), 0);
    assert_int_equal(twc_dsem_waiting(s), 2);
    assert_int_equal(twc_dsem_release(s), 0);
    assert_int_equal(o[2].calls, 1); /* first waiter first */
    assert_int_equal(o[3].calls, 0);
    assert_int_equal(twc_dsem_release(s), 0);
    assert_int_equal(o[3].calls, 1);
    assert_int_equal(twc_dsem_release(s), 0);
    assert_int_equal(twc_dsem_release(s), 0);
    assert_int_equal(twc_dsem_tokens(s), 2);
    assert_int_equal(twc_dsem_release(s), TWC_EINVAL); /* more than acquired */
    for (i = 0; i < 4; i++)
        twc_deferred_unref(d[i]);
    twc_dsem_free(s);
}

static void test_dsem_zero_tokens_rejected(void **state)
{
    twc_err err;

    (void)state;
    assert_null(twc_dsem_new(0, &err));
    assert_int_equal(err.code, TWC_EINVAL);
}

static void test_dsem_cancel_waiting_acquire(void **state)
{
    twc_dsem *s = twc_dsem_new(1, NULL);
    twc_deferred *first = twc_dsem_acquire(s);
    twc_deferred *second = twc_dsem_acquire(s);
    twc_deferred *third = twc_dsem_acquire(s);
    struct outcome o2;
    struct outcome o3;

    (void)state;
    setup();
    watch(second, &o2);
    watch(third, &o3);
    twc_deferred_cancel(second);
    assert_int_equal(o2.calls, 1);
    assert_int_equal(o2.err.code, TWC_ECANCELED);
    assert_int_equal(twc_dsem_waiting(s), 1);
    twc_dsem_release(s); /* goes to third, skipping the cancelled one */
    assert_int_equal(o3.calls, 1);
    assert_true(o3.ok);
    twc_dsem_release(s);
    twc_deferred_unref(first);
    twc_deferred_unref(second);
    twc_deferred_unref(third);
    twc_dsem_free(s);
}

static void test_dsem_free_rejects_waiters(void **state)
{
    twc_dsem *s = twc_dsem_new(1, NULL);
    twc_deferred *first = twc_dsem_acquire(s);
    twc_deferred *second = twc_dsem_acquire(s);
    struct outcome o;

    (void)state;
    watch(second, &o);
    twc_dsem_free(s);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
    twc_deferred_unref(first);
    twc_deferred_unref(second);
}

/* A job for twc_dsem_run: returns a deferred the test fires by hand. */
struct job {
    int started;
    twc_deferred *d; /* the producer's reference, plus one the test drops */
};

static twc_deferred *job_start(void *arg)
{
    struct job *j = arg;

    j->started++;
    j->d = twc_deferred_new(NULL, NULL);
    /* new gives the producer's and the consumer's references; the extra one
     * keeps j->d valid for the test after it fires. */
    return twc_deferred_ref(j->d);
}

static void test_dsem_run_limits_concurrency(void **state)
{
    twc_dsem *s = twc_dsem_new(1, NULL);
    struct job j1 = {0, NULL};
    struct job j2 = {0, NULL};
    twc_deferred *r1;
    twc_deferred *r2;
    struct outcome o1;
    struct outcome o2;

    (void)state;
    setup();
    r1 = twc_dsem_run(s, job_start, &j1);
    r2 = twc_dsem_run(s, job_start, &j2);
    watch(r1, &o1);
    watch(r2, &o2);
    assert_int_equal(j1.started, 1);
    assert_int_equal(j2.started, 0); /* waits for the token */
    twc_deferred_resolve(j1.d, new_int(1), int_free);
    assert_int_equal(o1.calls, 1);
    assert_int_equal(*(int *)o1.value, 1);
    assert_int_equal(j2.started, 1); /* the release started job 2 */
    twc_deferred_reject(j2.d, TWC_EPROTO, "job 2 failed");
    assert_int_equal(o2.err.code, TWC_EPROTO);
    assert_int_equal(twc_dsem_tokens(s), 1); /* released on failure too */
    /* The producer's references went with the firings: drop the extra ones. */
    twc_deferred_unref(j1.d);
    twc_deferred_unref(j2.d);
    twc_deferred_unref(r1);
    twc_deferred_unref(r2);
    outcome_cleanup(&o1);
    twc_dsem_free(s);
    assert_int_equal(freed, 1);
}

/* ---- DeferredQueue --------------------------------------------------------- */

static void test_dqueue_put_then_get(void **state)
{
    twc_dqueue *q = twc_dqueue_new(TWC_DQUEUE_UNBOUNDED, TWC_DQUEUE_UNBOUNDED);
    twc_deferred *d;
    struct outcome o;

    (void)state;
    setup();
    assert_int_equal(twc_dqueue_put(q, new_int(1), int_free), 0);
    assert_int_equal(twc_dqueue_put(q, new_int(2), int_free), 0);
    assert_int_equal(twc_dqueue_pending(q), 2);
    d = twc_dqueue_get(q);
    watch(d, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(*(int *)o.value, 1);
    assert_int_equal(twc_dqueue_pending(q), 1);
    twc_deferred_unref(d);
    outcome_cleanup(&o);
    twc_dqueue_free(q); /* frees the queued 2 */
    assert_int_equal(freed, 2);
}

static void test_dqueue_get_then_put(void **state)
{
    twc_dqueue *q = twc_dqueue_new(TWC_DQUEUE_UNBOUNDED, TWC_DQUEUE_UNBOUNDED);
    twc_deferred *d1 = twc_dqueue_get(q);
    twc_deferred *d2 = twc_dqueue_get(q);
    struct outcome o1;
    struct outcome o2;

    (void)state;
    setup();
    watch(d1, &o1);
    watch(d2, &o2);
    assert_int_equal(twc_dqueue_waiting(q), 2);
    assert_int_equal(twc_dqueue_put(q, new_int(1), int_free), 0);
    assert_int_equal(o1.calls, 1);
    assert_int_equal(*(int *)o1.value, 1);
    assert_int_equal(o2.calls, 0);
    assert_int_equal(twc_dqueue_put(q, new_int(2), int_free), 0);
    assert_int_equal(*(int *)o2.value, 2);
    assert_int_equal(twc_dqueue_pending(q), 0);
    twc_deferred_unref(d1);
    twc_deferred_unref(d2);
    outcome_cleanup(&o1);
    outcome_cleanup(&o2);
    twc_dqueue_free(q);
    assert_int_equal(freed, 2);
}

static void test_dqueue_size_limit_overflows(void **state)
{
    twc_dqueue *q = twc_dqueue_new(1, TWC_DQUEUE_UNBOUNDED);
    int *two = new_int(2);

    (void)state;
    setup();
    assert_int_equal(twc_dqueue_put(q, new_int(1), int_free), 0);
    assert_int_equal(twc_dqueue_put(q, two, int_free), TWC_ETOOBIG);
    int_free(two); /* still ours after the error */
    twc_dqueue_free(q);
    assert_int_equal(freed, 2);
}

static void test_dqueue_size_zero_needs_a_waiting_getter(void **state)
{
    twc_dqueue *q = twc_dqueue_new(0, TWC_DQUEUE_UNBOUNDED);
    twc_deferred *d;
    struct outcome o;
    int v = 5;

    (void)state;
    assert_int_equal(twc_dqueue_put(q, &v, NULL), TWC_ETOOBIG);
    d = twc_dqueue_get(q);
    watch(d, &o);
    assert_int_equal(twc_dqueue_put(q, &v, NULL), 0);
    assert_ptr_equal(o.value, &v);
    twc_deferred_unref(d);
    twc_dqueue_free(q);
}

static void test_dqueue_backlog_limit_underflows(void **state)
{
    twc_dqueue *q = twc_dqueue_new(TWC_DQUEUE_UNBOUNDED, 1);
    twc_deferred *d1 = twc_dqueue_get(q);
    twc_deferred *d2 = twc_dqueue_get(q);
    struct outcome o1;
    struct outcome o2;

    (void)state;
    watch(d1, &o1);
    watch(d2, &o2);
    assert_int_equal(o1.calls, 0);
    assert_int_equal(o2.calls, 1);
    assert_int_equal(o2.err.code, TWC_ETOOBIG);
    assert_string_equal(o2.err.msg, "queue backlog of 1 getters exceeded");
    twc_deferred_unref(d2);
    twc_dqueue_free(q); /* the waiting getter fails with TWC_ECANCELED */
    assert_int_equal(o1.calls, 1);
    assert_int_equal(o1.err.code, TWC_ECANCELED);
    twc_deferred_unref(d1);
}

static void test_dqueue_cancel_waiting_get(void **state)
{
    twc_dqueue *q = twc_dqueue_new(TWC_DQUEUE_UNBOUNDED, TWC_DQUEUE_UNBOUNDED);
    twc_deferred *d1 = twc_dqueue_get(q);
    twc_deferred *d2 = twc_dqueue_get(q);
    struct outcome o1;
    struct outcome o2;

    (void)state;
    setup();
    watch(d1, &o1);
    watch(d2, &o2);
    twc_deferred_cancel(d1);
    assert_int_equal(o1.err.code, TWC_ECANCELED);
    assert_int_equal(twc_dqueue_waiting(q), 1);
    twc_dqueue_put(q, new_int(7), int_free); /* to d2, not the cancelled d1 */
    assert_int_equal(*(int *)o2.value, 7);
    twc_deferred_unref(d1);
    twc_deferred_unref(d2);
    outcome_cleanup(&o2);
    twc_dqueue_free(q);
    assert_int_equal(freed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dlist_fires_when_all_fired_in_order),
        cmocka_unit_test(test_dlist_records_failures_and_leaves_them),
        cmocka_unit_test(test_dlist_fire_on_one_callback),
        cmocka_unit_test(test_dlist_items_after_fire_keep_their_values),
        cmocka_unit_test(test_gather_fails_on_first_error),
        cmocka_unit_test(test_gather_all_values),
        cmocka_unit_test(test_dlist_empty_fires_at_once),
        cmocka_unit_test(test_dlist_empty_fire_on_one_callback_waits_for_cancel),
        cmocka_unit_test(test_dlist_cancel_cancels_every_item),
        cmocka_unit_test(test_dlist_cancel_with_paused_item_rejects_list),
        cmocka_unit_test(test_dsem_acquire_release_fifo),
        cmocka_unit_test(test_dsem_zero_tokens_rejected),
        cmocka_unit_test(test_dsem_cancel_waiting_acquire),
        cmocka_unit_test(test_dsem_free_rejects_waiters),
        cmocka_unit_test(test_dsem_run_limits_concurrency),
        cmocka_unit_test(test_dqueue_put_then_get),
        cmocka_unit_test(test_dqueue_get_then_put),
        cmocka_unit_test(test_dqueue_size_limit_overflows),
        cmocka_unit_test(test_dqueue_size_zero_needs_a_waiting_getter),
        cmocka_unit_test(test_dqueue_backlog_limit_underflows),
        cmocka_unit_test(test_dqueue_cancel_waiting_get),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
