/* Unit tests for lib/timer.c: the timer heap under the fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "reactor.h"
#include "reactor_impl.h"

#define LOG_MAX 64

struct rec {
    twc_reactor *r;
    int ids[LOG_MAX];
    uint64_t at[LOG_MAX];
    size_t n;
};

struct tctx {
    struct rec *rec;
    int id;
    twc_timer *t;
    int action; /* what the callback does to its own timer */
    uint64_t arg;
};

enum { ACT_NONE, ACT_FREE, ACT_RESTART, ACT_STOP, ACT_STOP_AFTER };

static void on_fire(twc_timer *t, void *arg)
{
    struct tctx *c = arg;
    struct rec *rec = c->rec;

    assert_ptr_equal(t, c->t);
    assert_true(rec->n < LOG_MAX);
    rec->ids[rec->n] = c->id;
    rec->at[rec->n] = twc_reactor_now(rec->r);
    rec->n++;
    switch (c->action) {
    case ACT_FREE:
        twc_timer_free(t);
        c->t = NULL;
        break;
    case ACT_RESTART:
        c->action = ACT_NONE;
        twc_timer_start(t, c->arg, 0);
        break;
    case ACT_STOP:
        twc_timer_stop(t);
        break;
    case ACT_STOP_AFTER:
        if (--c->arg == 0)
            twc_timer_stop(t);
        break;
    default:
        break;
    }
}

static twc_reactor *fake_reactor(void)
{
    struct twc_reactor_opts o = {.backend = NULL, .fake_clock = 1};
    twc_err err;
    twc_reactor *r = twc_reactor_new(&o, &err);

    assert_non_null(r);
    assert_int_equal(twc_reactor_now(r), 0);
    return r;
}

static void finish(twc_reactor *r)
{
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static void mk(struct tctx *c, struct rec *rec, twc_reactor *r, int id)
{
    memset(c, 0, sizeof(*c));
    c->rec = rec;
    c->id = id;
    c->t = twc_timer_new(r, on_fire, c);
    assert_non_null(c->t);
}

static void test_timer_fires_in_due_order(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx c[4];
    static const uint64_t delays[4] = {30, 10, 40, 20};
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        mk(&c[i], &rec, r, i);
        twc_timer_start(c[i].t, delays[i], 0);
        assert_int_equal(twc_timer_active(c[i].t), 1);
        assert_int_equal(twc_timer_due(c[i].t), delays[i]);
    }
    assert_int_equal(twc_reactor_live_handles(r), 4);
    twc_reactor_advance(r, 25);
    assert_int_equal(rec.n, 2);
    assert_int_equal(twc_reactor_now(r), 25);
    twc_reactor_advance(r, 100);
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 3);
    assert_int_equal(rec.ids[2], 0);
    assert_int_equal(rec.ids[3], 2);
    /* Each callback saw now == its due time. */
    assert_int_equal(rec.at[0], 10);
    assert_int_equal(rec.at[1], 20);
    assert_int_equal(rec.at[2], 30);
    assert_int_equal(rec.at[3], 40);
    assert_int_equal(twc_reactor_now(r), 125);
    for (i = 0; i < 4; i++) {
        assert_int_equal(twc_timer_active(c[i].t), 0);
        assert_int_equal(twc_timer_due(c[i].t), 0);
        twc_timer_free(c[i].t);
    }
    finish(r);
}

static void test_timer_equal_due_fire_in_start_order(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx c[8];
    int i;

    (void)state;
    /* Same due time reached through different delays and start times. */
    for (i = 0; i < 8; i++) {
        mk(&c[i], &rec, r, i);
        twc_timer_start(c[i].t, 50, 0);
    }
    twc_reactor_advance(r, 50);
    assert_int_equal(rec.n, 8);
    for (i = 0; i < 8; i++)
        assert_int_equal(rec.ids[i], i);

    /* Re-arming one moves it to the back of its due-time group. */
    rec.n = 0;
    for (i = 0; i < 4; i++)
        twc_timer_start(c[i].t, 10, 0);
    twc_timer_start(c[0].t, 10, 0);
    twc_reactor_advance(r, 10);
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 2);
    assert_int_equal(rec.ids[2], 3);
    assert_int_equal(rec.ids[3], 0);
    for (i = 0; i < 8; i++)
        twc_timer_free(c[i].t);
    finish(r);
}

static void test_timer_reset_moves_earlier_and_later(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx a, b;

    (void)state;
    mk(&a, &rec, r, 1);
    mk(&b, &rec, r, 2);
    twc_timer_start(a.t, 100, 0);
    twc_timer_start(b.t, 50, 0);
    twc_reactor_advance(r, 10);
    twc_timer_start(a.t, 20, 0); /* earlier: now due at 30 */
    assert_int_equal(twc_timer_due(a.t), 30);
    twc_timer_start(b.t, 200, 0); /* later: due at 210 */
    twc_reactor_advance(r, 100);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.at[0], 30);
    twc_reactor_advance(r, 100);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.ids[1], 2);
    assert_int_equal(rec.at[1], 210);
    twc_timer_free(a.t);
    twc_timer_free(b.t);
    finish(r);
}

static void test_timer_delay_pushes_later(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx a, b;

    (void)state;
    mk(&a, &rec, r, 1);
    mk(&b, &rec, r, 2);
    twc_timer_start(a.t, 10, 0);
    twc_timer_start(b.t, 20, 0);
    twc_timer_delay(a.t, 15);
    assert_int_equal(twc_timer_due(a.t), 25);
    twc_reactor_advance(r, 30);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.ids[0], 2);
    assert_int_equal(rec.ids[1], 1);
    assert_int_equal(rec.at[1], 25);
    /* Delaying a stopped timer does nothing. */
    twc_timer_delay(a.t, 5);
    assert_int_equal(twc_timer_active(a.t), 0);
    twc_timer_free(a.t);
    twc_timer_free(b.t);
    finish(r);
}

static void test_timer_stop_prevents_fire(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx c[5];
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        mk(&c[i], &rec, r, i);
        twc_timer_start(c[i].t, (uint64_t)(10 * (i + 1)), 0);
    }
    twc_timer_stop(c[0].t);
    twc_timer_stop(c[2].t);
    twc_timer_stop(c[2].t); /* stopping twice is harmless */
    assert_int_equal(twc_timer_active(c[2].t), 0);
    twc_reactor_advance(r, 100);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 3);
    assert_int_equal(rec.ids[2], 4);
    for (i = 0; i < 5; i++)
        twc_timer_free(c[i].t);
    finish(r);
}

static void test_timer_repeat_fires_each_period(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx a;

    (void)state;
    mk(&a, &rec, r, 7);
    twc_timer_start(a.t, 5, 10);
    twc_reactor_advance(r, 36);
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.at[0], 5);
    assert_int_equal(rec.at[1], 15);
    assert_int_equal(rec.at[2], 25);
    assert_int_equal(rec.at[3], 35);
    assert_int_equal(twc_timer_active(a.t), 1);
    assert_int_equal(twc_timer_due(a.t), 45);
    /* Stopping from inside the callback ends the repetition. */
    a.action = ACT_STOP_AFTER;
    a.arg = 2;
    twc_reactor_advance(r, 1000);
    assert_int_equal(rec.n, 6);
    assert_int_equal(rec.at[5], 55);
    assert_int_equal(twc_timer_active(a.t), 0);
    twc_timer_free(a.t);
    finish(r);
}

static void test_timer_free_in_own_callback(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx a, b;

    (void)state;
    mk(&a, &rec, r, 1);
    mk(&b, &rec, r, 2);
    a.action = ACT_FREE;
    b.action = ACT_FREE;
    twc_timer_start(a.t, 10, 0);
    twc_timer_start(b.t, 10, 10); /* repeating, freed on its first run */
    assert_int_equal(twc_reactor_live_handles(r), 2);
    twc_reactor_advance(r, 100);
    assert_int_equal(rec.n, 2);
    assert_null(a.t);
    assert_null(b.t);
    finish(r);
}

static void on_free_other(twc_timer *t, void *arg)
{
    struct tctx *other = arg;

    twc_timer_free(t);
    twc_timer_free(other->t);
    other->t = NULL;
}

static void test_timer_free_other_due_in_same_advance(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx b;
    twc_timer *a;

    (void)state;
    mk(&b, &rec, r, 2);
    a = twc_timer_new(r, on_free_other, &b);
    twc_timer_start(a, 10, 0);
    twc_timer_start(b.t, 10, 0);
    twc_reactor_advance(r, 20);
    assert_int_equal(rec.n, 0);
    finish(r);
}

static void test_timer_restart_in_own_callback(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx a;

    (void)state;
    mk(&a, &rec, r, 1);
    a.action = ACT_RESTART;
    a.arg = 25;
    twc_timer_start(a.t, 10, 0);
    twc_reactor_advance(r, 100);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.at[0], 10);
    assert_int_equal(rec.at[1], 35);
    /* Restarting a repeating timer from its callback replaces the repeat. */
    rec.n = 0;
    a.action = ACT_RESTART;
    a.arg = 7;
    twc_timer_start(a.t, 5, 100);
    twc_reactor_advance(r, 50);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.at[0], 105);
    assert_int_equal(rec.at[1], 112);
    assert_int_equal(twc_timer_active(a.t), 0);
    twc_timer_free(a.t);
    finish(r);
}

static void on_soon(void *arg)
{
    struct rec *rec = arg;

    rec->ids[rec->n] = 100;
    rec->at[rec->n] = twc_reactor_now(rec->r);
    rec->n++;
}

static void on_fire_then_soon(twc_timer *t, void *arg)
{
    struct rec *rec = arg;

    (void)t;
    rec->ids[rec->n] = 1;
    rec->at[rec->n] = twc_reactor_now(rec->r);
    rec->n++;
    assert_int_equal(twc_reactor_call_soon(rec->r, on_soon, rec), 0);
}

static void test_timer_advance_runs_call_soon_at_due_time(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    twc_timer *a = twc_timer_new(r, on_fire_then_soon, &rec);

    (void)state;
    twc_timer_start(a, 10, 20);
    twc_reactor_advance(r, 35);
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 100);
    assert_int_equal(rec.at[1], 10);
    assert_int_equal(rec.ids[2], 1);
    assert_int_equal(rec.ids[3], 100);
    assert_int_equal(rec.at[3], 30);
    twc_timer_free(a);
    finish(r);
}

static void test_timer_run_once_fake_clock_does_not_sleep(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx a, b;

    (void)state;
    mk(&a, &rec, r, 1);
    mk(&b, &rec, r, 2);
    twc_timer_start(a.t, 0, 0);
    twc_timer_start(b.t, 1000000, 0);
    /* A due timer runs; a future one neither fires nor makes run_once wait. */
    assert_int_equal(twc_reactor_run_once(r, 0), 1);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(twc_reactor_now(r), 0);
    /* update_time is a no-op on the fake clock. */
    twc_reactor_update_time(r);
    assert_int_equal(twc_reactor_now(r), 0);
    twc_timer_free(a.t);
    twc_timer_free(b.t);
    assert_int_equal(twc_reactor_run_once(r, 0), 0);
    finish(r);
}

static void test_timer_zero_delay_rearm_does_not_starve(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    struct tctx a;

    (void)state;
    mk(&a, &rec, r, 1);
    twc_timer_start(a.t, 0, 0);
    /* Re-armed with delay 0 in its callback: once per iteration, not forever. */
    a.action = ACT_RESTART;
    a.arg = 0;
    twc_reactor_run_once(r, 0);
    assert_int_equal(rec.n, 1);
    assert_int_equal(twc_timer_active(a.t), 1);
    twc_reactor_run_once(r, 0);
    assert_int_equal(rec.n, 2);
    twc_timer_free(a.t);
    finish(r);
}

/* ---- many timers --------------------------------------------------------------- */

#define MANY 100000

struct many {
    twc_reactor *r;
    uint64_t last_due;
    uint64_t last_seq_id;
    size_t fired;
    int order_ok;
};

struct many_timer {
    struct many *m;
    twc_timer *t;
    uint64_t due;
    size_t id; /* start order */
    int stopped;
};

static void on_many(twc_timer *t, void *arg)
{
    struct many_timer *mt = arg;
    struct many *m = mt->m;
    uint64_t now = twc_reactor_now(m->r);

    (void)t;
    if (now != mt->due || now < m->last_due || mt->stopped)
        m->order_ok = 0;
    /* Equal due times: start order. */
    if (now == m->last_due && m->fired > 0 && mt->id < m->last_seq_id)
        m->order_ok = 0;
    m->last_due = now;
    m->last_seq_id = mt->id;
    m->fired++;
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static int heap_ok(const twc_reactor *r)
{
    size_t i;

    for (i = 0; i < r->nheap; i++) {
        const twc_timer *t = r->heap[i], *p;

        if (t->heap_idx != i)
            return 0;
        if (i == 0)
            continue;
        p = r->heap[(i - 1) / 2];
        if (p->due > t->due || (p->due == t->due && p->seq > t->seq))
            return 0;
    }
    return 1;
}

static void test_timer_100k_timers(void **state)
{
    twc_reactor *r = fake_reactor();
    struct many m = {.r = r, .order_ok = 1};
    struct many_timer *mts = calloc(MANY, sizeof(*mts));
    uint32_t seed = 12345;
    size_t i, expect = 0;

    (void)state;
    assert_non_null(mts);
    for (i = 0; i < MANY; i++) {
        mts[i].m = &m;
        mts[i].id = i;
        mts[i].t = twc_timer_new(r, on_many, &mts[i]);
        assert_non_null(mts[i].t);
        /* Few distinct due times, so ties are common. */
        mts[i].due = lcg(&seed) % 5000;
        twc_timer_start(mts[i].t, mts[i].due, 0);
    }
    assert_int_equal(heap_ok(r), 1);
    /* Stop a third, delay and restart some others (restart = new start order). */
    for (i = 0; i < MANY; i++) {
        if (i % 3 == 0) {
            twc_timer_stop(mts[i].t);
            mts[i].stopped = 1;
        } else if (i % 7 == 0) {
            twc_timer_delay(mts[i].t, 100);
            mts[i].due += 100;
        }
    }
    assert_int_equal(heap_ok(r), 1);
    for (i = 0; i < MANY; i++)
        expect += !mts[i].stopped;
    assert_int_equal(twc_reactor_live_handles(r), MANY);
    twc_reactor_advance(r, 2500);
    assert_int_equal(heap_ok(r), 1);
    twc_reactor_advance(r, 10000);
    assert_int_equal(m.fired, expect);
    assert_int_equal(m.order_ok, 1);
    assert_int_equal(r->nheap, 0);
    for (i = 0; i < MANY; i++)
        twc_timer_free(mts[i].t);
    free(mts);
    finish(r);
}

static void test_timer_random_ops_keep_heap(void **state)
{
    twc_reactor *r = fake_reactor();
    struct rec rec = {.r = r};
    twc_timer *ts[500];
    uint32_t seed = 99;
    int i, k;

    (void)state;
    for (i = 0; i < 500; i++)
        ts[i] = twc_timer_new(r, on_fire, NULL);
    for (k = 0; k < 20000; k++) {
        twc_timer *t = ts[lcg(&seed) % 500];

        switch (lcg(&seed) % 4) {
        case 0:
        case 1:
            twc_timer_start(t, lcg(&seed) % 1000, 0);
            break;
        case 2:
            twc_timer_stop(t);
            break;
        default:
            twc_timer_delay(t, lcg(&seed) % 100);
            break;
        }
    }
    assert_int_equal(heap_ok(r), 1);
    (void)rec;
    for (i = 0; i < 500; i++)
        twc_timer_free(ts[i]);
    assert_int_equal(r->nheap, 0);
    finish(r);
}

static void test_timer_free_null_and_saturating_delay(void **state)
{
    twc_reactor *r = fake_reactor();
    twc_timer *t = twc_timer_new(r, on_fire, NULL);

    (void)state;
    twc_timer_free(NULL);
    twc_reactor_advance(r, 10);
    twc_timer_start(t, UINT64_MAX, 0);
    assert_int_equal(twc_timer_due(t), UINT64_MAX);
    twc_timer_delay(t, 5);
    assert_int_equal(twc_timer_due(t), UINT64_MAX);
    twc_timer_free(t);
    finish(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_fires_in_due_order),
        cmocka_unit_test(test_timer_equal_due_fire_in_start_order),
        cmocka_unit_test(test_timer_reset_moves_earlier_and_later),
        cmocka_unit_test(test_timer_delay_pushes_later),
        cmocka_unit_test(test_timer_stop_prevents_fire),
        cmocka_unit_test(test_timer_repeat_fires_each_period),
        cmocka_unit_test(test_timer_free_in_own_callback),
        cmocka_unit_test(test_timer_free_other_due_in_same_advance),
        cmocka_unit_test(test_timer_restart_in_own_callback),
        cmocka_unit_test(test_timer_advance_runs_call_soon_at_due_time),
        cmocka_unit_test(test_timer_run_once_fake_clock_does_not_sleep),
        cmocka_unit_test(test_timer_zero_delay_rearm_does_not_starve),
        cmocka_unit_test(test_timer_100k_timers),
        cmocka_unit_test(test_timer_random_ops_keep_heap),
        cmocka_unit_test(test_timer_free_null_and_saturating_delay),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
