/*
 * Twisted's DeferredSemaphore: acquire returns a deferred that fires when a
 * token is ours; release hands the token to the first waiter.
 */
#include "deferred.h"

#include <stdlib.h>

struct waiter {
    struct waiter *next;
    struct waiter *prev;
    twc_deferred *d; /* producer reference */
    twc_dsem *sem;
};

struct twc_dsem {
    unsigned tokens; /* free tokens */
    unsigned limit;
    size_t nwaiting;
    struct waiter *head; /* FIFO of acquirers */
    struct waiter *tail;
};

twc_dsem *twc_dsem_new(unsigned tokens, twc_err *err)
{
    twc_dsem *s;

    if (tokens == 0) {
        twc_err_set(err, TWC_EINVAL, "a semaphore needs at least 1 token");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory for a semaphore");
        return NULL;
    }
    s->tokens = tokens;
    s->limit = tokens;
    return s;
}

static void unlink_waiter(twc_dsem *s, struct waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        s->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        s->tail = w->prev;
    s->nwaiting--;
}

void twc_dsem_free(twc_dsem *s)
{
    struct waiter *w;

    if (s == NULL)
        return;
    /* Each rejection runs its chain, which may queue new acquirers: they are
     * rejected too before the semaphore goes. */
    while ((w = s->head) != NULL) {
        twc_deferred *d = w->d;

        unlink_waiter(s, w);
        free(w);
        twc_deferred_reject(d, TWC_ECANCELED, "semaphore freed");
    }
    free(s);
}

/* Twisted's _cancelAcquire: leave the queue without firing; cancel then fails
 * the deferred with TWC_ECANCELED, consuming the producer reference. */
static void cancel_acquire(void *arg, twc_deferred *d)
{
    struct waiter *w = arg;

    (void)d;
    unlink_waiter(w->sem, w);
    free(w);
}

twc_deferred *twc_dsem_acquire(twc_dsem *s)
{
    struct waiter *w;
    twc_deferred *d;

    if (s->tokens > 0) {
        s->tokens--;
        return twc_deferred_succeed(s, NULL);
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "out of memory for a semaphore waiter");
    d = twc_deferred_new(cancel_acquire, w);
    w->d = d;
    w->sem = s;
    w->prev = s->tail;
    if (s->tail != NULL)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    s->nwaiting++;
    return d;
}

int twc_dsem_release(twc_dsem *s)
{
    struct waiter *w;
    twc_deferred *d;

    if (s->tokens >= s->limit)
        return TWC_EINVAL;
    w = s->head;
    if (w == NULL) {
        s->tokens++;
        return 0;
    }
    /* The token goes straight to the first waiter. */
    d = w->d;
    unlink_waiter(s, w);
    free(w);
    twc_deferred_resolve(d, s, NULL);
    return 0;
}

unsigned twc_dsem_tokens(const twc_dsem *s)
{
    return s->tokens;
}

size_t twc_dsem_waiting(const twc_dsem *s)
{
    return s->nwaiting;
}

/* ---- run ------------------------------------------------------------------- */

struct sem_run {
    twc_dsem *sem;
    twc_defer_fn fn;
    void *arg;
};

static void on_run_done(void *arg, twc_result *r)
{
    (void)r;
    twc_dsem_release(arg);
}

/* The acquire fired: a token is ours. Start fn and wait for it; release when
 * its deferred fires, whatever the outcome. */
static void on_run_acquired(void *arg, twc_result *r)
{
    struct sem_run *run = arg;
    twc_deferred *inner;

    if (!twc_result_ok(r)) { /* cancelled or failed acquire: fn never runs */
        free(run);
        return;
    }
    inner = run->fn(run->arg);
    twc_deferred_add_both(inner, on_run_done, run->sem);
    free(run);
    twc_result_wait(r, inner);
}

twc_deferred *twc_dsem_run(twc_dsem *s, twc_defer_fn fn, void *arg)
{
    struct sem_run *run = calloc(1, sizeof(*run));
    twc_deferred *d;

    if (run == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "out of memory for a semaphore run");
    run->sem = s;
    run->fn = fn;
    run->arg = arg;
    d = twc_dsem_acquire(s);
    twc_deferred_add_both(d, on_run_acquired, run);
    return d;
}
