/*
 * The coroutine runner behind lib/coro.h: re-enters the coroutine function
 * when the deferred it awaits fires, and turns its end into the outcome of
 * the deferred twc_coro_start returned.
 *
 * Cancellation follows Twisted's _cancellableInlineCallbacks. The outcome
 * deferred's canceller cancels the awaited deferred. If the coroutine did
 * not finish as a result, cancel rejects the outcome with TWC_ECANCELED;
 * the first link of every outcome deferred (on_outcome) catches that
 * rejection and makes the chain wait on a fresh outcome deferred that the
 * coroutine will fire when it really finishes.
 *
 * Lifetime: the struct stays alive while an outcome link is pending or a
 * canceller runs (c->holds), and until the coroutine finished; then fini runs.
 */
#include "coro.h"

#include <stdarg.h>
#include <string.h>

static void on_outcome(void *arg, twc_result *r);
static void cancel_coro(void *arg, twc_deferred *d);

static void maybe_fini(twc_coro *c)
{
    if (!c->done || c->final_pending || c->holds > 0 || c->finalized)
        return;
    c->finalized = true;
    if (c->fini != NULL)
        c->fini(c);
}

/* A new outcome deferred, with on_outcome as its first link. */
static twc_deferred *new_outcome(twc_coro *c)
{
    twc_deferred *d = twc_deferred_new(cancel_coro, c);

    c->d = d;
    c->holds++;
    twc_deferred_add_both(d, on_outcome, c);
    return d;
}

static void deliver(twc_coro *c, twc_result *r)
{
    if (c->ret_err.code != 0) {
        twc_result_fail_err(r, &c->ret_err);
    } else {
        twc_result_set(r, c->ret, c->ret_free);
        c->ret = NULL;
        c->ret_free = NULL;
    }
}

static void on_outcome(void *arg, twc_result *r)
{
    twc_coro *c = arg;

    if (c->final_pending) {
        /* Cancelled while paused by its consumer, then finished: the
         * cancellation's TWC_ECANCELED gives way to the real outcome. */
        c->final_pending = false;
        deliver(c, r);
    } else if (!c->done) {
        /* The TWC_ECANCELED of a cancel the coroutine survived: wait for
         * its real end. new_outcome gives us its consumer reference. */
        twc_result_wait(r, new_outcome(c));
    }
    /* Else the coroutine fired this deferred with its outcome: pass it on. */
    c->holds--;
    maybe_fini(c);
}

/* The coroutine finished: fire the outcome. c may be freed when this returns. */
static void finish(twc_coro *c)
{
    twc_deferred *d = c->d;

    c->d = NULL;
    if (d == NULL) {
        /* Cancelled and rejected already; on_outcome has yet to run. */
        c->final_pending = true;
        return;
    }
    c->holds++; /* keep c for the deliveries below; maybe_fini after */
    if (c->ret_err.code != 0) {
        twc_deferred_reject_err(d, &c->ret_err);
    } else {
        void *v = c->ret;

        c->ret = NULL;
        twc_deferred_resolve(d, v, c->ret_free);
    }
    c->holds--;
    maybe_fini(c);
}

/* Run the coroutine from its resume point until it waits or finishes. */
static void step(twc_coro *c)
{
    c->in_fn = true;
    c->fn(c);
    c->in_fn = false;
    if (!c->done && c->awaiting == NULL)
        twc_coro_fail(c, TWC_EINTERNAL, "coroutine returned without TWC_CORO_END");
    if (c->done)
        finish(c);
}

static void on_awaited(void *arg, twc_result *r)
{
    twc_coro *c = arg;
    twc_deferred *d = c->awaiting;

    c->awaiting = NULL;
    if (twc_result_ok(r)) {
        c->value_free = twc_result_free_fn(r);
        c->value = twc_result_take(r);
        twc_err_clear(&c->err);
    } else {
        /* The coroutine handles (or propagates) it: not unhandled here. */
        c->err = *twc_result_err(r);
        c->value = NULL;
        c->value_free = NULL;
        twc_result_set(r, NULL, NULL);
    }
    twc_deferred_unref(d); /* its run loop holds its own reference */
    if (c->in_fn) {
        c->ready = true; /* fired inside twc__coro_await: continue inline */
        return;
    }
    step(c);
}

static void cancel_coro(void *arg, twc_deferred *d)
{
    twc_coro *c = arg;

    c->holds++;
    if (c->awaiting != NULL)
        twc_deferred_cancel(c->awaiting);
    /* Still not fired: cancel rejects d with TWC_ECANCELED, consuming our
     * producer reference; on_outcome will chain to a fresh one. */
    if (c->d == d)
        c->d = NULL;
    c->holds--;
    maybe_fini(c);
}

twc_deferred *twc_coro_start(twc_coro *c, twc_coro_fn fn, twc_coro_fini_fn fini)
{
    twc_deferred *d;

    memset(c, 0, sizeof(*c));
    c->fn = fn;
    c->fini = fini;
    d = new_outcome(c);
    step(c); /* may finish, fire d and free c */
    return d;
}

int twc__coro_await(twc_coro *c, twc_deferred *d)
{
    c->ready = false;
    c->awaiting = d;
    twc_deferred_add_both(d, on_awaited, c);
    return !c->ready;
}

int twc__coro_propagate(twc_coro *c)
{
    if (c->err.code == 0)
        return 0;
    c->ret_err = c->err;
    c->done = true;
    return 1;
}

void *twc__coro_take(twc_coro *c)
{
    void *v = c->value;

    c->value = NULL;
    return v;
}

void twc__coro_end(twc_coro *c)
{
    if (!c->done)
        twc_coro_return(c, NULL, NULL);
}

const twc_err *twc_coro_err(const twc_coro *c)
{
    return &c->err;
}

twc_free_fn twc_coro_value_free(const twc_coro *c)
{
    return c->value_free;
}

void twc_coro_return(twc_coro *c, void *value, twc_free_fn value_free)
{
    c->ret = value;
    c->ret_free = value_free;
    twc_err_clear(&c->ret_err);
    c->done = true;
}

void twc_coro_fail(twc_coro *c, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    twc_err_setv(&c->ret_err, code, fmt, ap);
    va_end(ap);
    c->done = true;
}
