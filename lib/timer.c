/*
 * Timers: a binary min-heap of twc_timer pointers ordered by (due, seq).
 *
 * Each timer keeps its heap index, so stop, reset and delay are O(log n)
 * without searching. seq is a per-reactor counter taken at each start, which
 * makes timers with equal due times fire in the order they were started
 * (FIFO), whatever the heap's shape.
 *
 * A repeating timer is re-armed (now + repeat) before its callback runs, as
 * libuv does, so the callback may stop, restart or free it like any other
 * timer. A timer freed inside its own callback is only marked dead; the
 * dispatcher frees it when the callback returns.
 */
#include "reactor.h"

#include <stdlib.h>

#include "reactor_impl.h"

#define NOT_IN_HEAP SIZE_MAX

/* Strict order: earlier due first, then earlier start. */
static int before(const twc_timer *a, const twc_timer *b)
{
    if (a->due != b->due)
        return a->due < b->due;
    return a->seq < b->seq;
}

static void heap_place(twc_reactor *r, size_t i, twc_timer *t)
{
    r->heap[i] = t;
    t->heap_idx = i;
}

static void sift_up(twc_reactor *r, size_t i)
{
    twc_timer *t = r->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!before(t, r->heap[parent]))
            break;
        heap_place(r, i, r->heap[parent]);
        i = parent;
    }
    heap_place(r, i, t);
}

static void sift_down(twc_reactor *r, size_t i)
{
    twc_timer *t = r->heap[i];
    size_t n = r->nheap;

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= n)
            break;
        if (child + 1 < n && before(r->heap[child + 1], r->heap[child]))
            child++;
        if (!before(r->heap[child], t))
            break;
        heap_place(r, i, r->heap[child]);
        i = child;
    }
    heap_place(r, i, t);
}

static int heap_push(twc_reactor *r, twc_timer *t)
{
    if (r->nheap == r->heap_cap) {
        size_t cap = r->heap_cap ? r->heap_cap * 2 : 64;
        twc_timer **h = realloc(r->heap, cap * sizeof(*h));

        if (h == NULL)
            return TWC_ENOMEM;
        r->heap = h;
        r->heap_cap = cap;
    }
    heap_place(r, r->nheap++, t);
    sift_up(r, t->heap_idx);
    return 0;
}

static void heap_remove(twc_reactor *r, twc_timer *t)
{
    size_t i = t->heap_idx;
    twc_timer *last;

    t->heap_idx = NOT_IN_HEAP;
    last = r->heap[--r->nheap];
    if (last == t)
        return;
    /* Move the last leaf into the hole, then restore order either way. */
    heap_place(r, i, last);
    if (i > 0 && before(last, r->heap[(i - 1) / 2]))
        sift_up(r, i);
    else
        sift_down(r, i);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

twc_timer *twc_timer_new(twc_reactor *r, twc_timer_fn cb, void *arg)
{
    twc_timer *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->reactor = r;
    t->cb = cb;
    t->arg = arg;
    t->heap_idx = NOT_IN_HEAP;
    r->live_timers++;
    return t;
}

/* Arm (or move) t to fire at due. Returns 0 or TWC_ENOMEM (t stays stopped). */
static int arm(twc_timer *t, uint64_t due)
{
    twc_reactor *r = t->reactor;

    t->due = due;
    t->seq = r->timer_seq++;
    if (t->heap_idx == NOT_IN_HEAP)
        return heap_push(r, t);
    /* Already queued: the new key may be earlier or later than the old. */
    sift_up(r, t->heap_idx);
    sift_down(r, t->heap_idx);
    return 0;
}

void twc_timer_start(twc_timer *t, uint64_t delay_ms, uint64_t repeat_ms)
{
    if (t == NULL || t->dead)
        return;
    t->repeat = repeat_ms;
    /* The only failure is growing the heap; the timer then stays stopped, which
     * twc_timer_active lets a caller detect. */
    (void)arm(t, add_sat(t->reactor->now, delay_ms));
}

void twc_timer_delay(twc_timer *t, uint64_t ms)
{
    if (t == NULL || t->heap_idx == NOT_IN_HEAP)
        return;
    /* Later only, so the timer can only move down; keeps its start order. */
    t->due = add_sat(t->due, ms);
    sift_down(t->reactor, t->heap_idx);
}

void twc_timer_stop(twc_timer *t)
{
    if (t == NULL || t->heap_idx == NOT_IN_HEAP)
        return;
    heap_remove(t->reactor, t);
}

int twc_timer_active(const twc_timer *t)
{
    return t != NULL && t->heap_idx != NOT_IN_HEAP;
}

uint64_t twc_timer_due(const twc_timer *t)
{
    return twc_timer_active(t) ? t->due : 0;
}

void twc_timer_free(twc_timer *t)
{
    if (t == NULL || t->dead)
        return;
    twc_timer_stop(t);
    t->dead = 1;
    t->reactor->live_timers--;
    if (t->in_cb == 0)
        free(t);
}

/* Pop the earliest timer, re-arm it if it repeats, and run its callback. */
static void fire(twc_reactor *r, twc_timer *t)
{
    heap_remove(r, t);
    if (t->repeat > 0)
        (void)arm(t, add_sat(r->now, t->repeat));
    t->in_cb++;
    t->cb(t, t->arg);
    t->in_cb--;
    if (t->dead && t->in_cb == 0)
        free(t);
}

void twc__timers_run(twc_reactor *r)
{
    /* A timer (re)started by a callback of this pass, even with delay 0, gets a
     * seq at or above limit and waits for the next iteration: a timer that keeps
     * re-arming itself with delay 0 cannot starve I/O. On the real clock now is
     * fixed during the pass, so every such timer sorts after every older due one. */
    uint64_t limit = r->timer_seq;

    while (r->nheap > 0) {
        twc_timer *t = r->heap[0];

        if (t->due > r->now || t->seq >= limit)
            break;
        fire(r, t);
    }
}

int twc__timers_next(const twc_reactor *r, uint64_t *due)
{
    if (r->nheap == 0)
        return 0;
    *due = r->heap[0]->due;
    return 1;
}

void twc__timers_advance(twc_reactor *r, uint64_t target)
{
    /* Twisted's Clock.advance, one due time at a time: every timer due at T
     * runs seeing now == T, then call-soon callbacks queued by them run (still
     * at T), so a Deferred chain fired by a timeout settles before time moves. */
    while (r->nheap > 0 && r->heap[0]->due <= target) {
        r->now = r->heap[0]->due;
        while (r->nheap > 0 && r->heap[0]->due == r->now)
            fire(r, r->heap[0]);
        twc__soon_drain(r);
    }
    r->now = target;
}

void twc__timers_cleanup(twc_reactor *r)
{
    /* Timers still alive belong to the caller (a leak it is told about); just
     * detach them from the heap we are about to free. */
    while (r->nheap > 0)
        r->heap[--r->nheap]->heap_idx = NOT_IN_HEAP;
    free(r->heap);
    r->heap = NULL;
    r->heap_cap = 0;
}
