/*
 * Deferred helpers built on the public core: already-fired constructors
 * (succeed, fail), deferLater, and addTimeout on the reactor clock.
 */
#include "deferred.h"

#include <stdarg.h>
#include <stdlib.h>

twc_deferred *twc_deferred_succeed(void *value, twc_free_fn value_free)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);

    twc_deferred_resolve(d, value, value_free);
    return d;
}

twc_deferred *twc_deferred_fail_err(const twc_err *err)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);

    twc_deferred_reject_err(d, err);
    return d;
}

twc_deferred *twc_deferred_fail(int code, const char *fmt, ...)
{
    twc_err e;
    va_list ap;

    va_start(ap, fmt);
    twc_err_setv(&e, code, fmt, ap);
    va_end(ap);
    return twc_deferred_fail_err(&e);
}

/* ---- deferLater ------------------------------------------------------------ */

struct later {
    twc_deferred *d; /* the producer's reference */
    twc_timer *timer;
};

static void on_later_due(twc_timer *t, void *arg)
{
    struct later *lt = arg;
    twc_deferred *d = lt->d;

    (void)t;
    twc_timer_free(lt->timer); /* safe from inside its own callback */
    free(lt);
    twc_deferred_resolve(d, NULL, NULL);
}

/* The canceller stops the timer and does not fire: cancel then fails the
 * deferred with TWC_ECANCELED, consuming our producer reference. */
static void cancel_later(void *arg, twc_deferred *d)
{
    struct later *lt = arg;

    (void)d;
    twc_timer_free(lt->timer);
    free(lt);
}

twc_deferred *twc_defer_later(twc_reactor *r, uint64_t ms, twc_link_fn fn, void *arg)
{
    struct later *lt = calloc(1, sizeof(*lt));
    twc_deferred *d;

    if (lt == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "out of memory for a delayed call");
    lt->timer = twc_timer_new(r, on_later_due, lt);
    if (lt->timer == NULL) {
        free(lt);
        return twc_deferred_fail(TWC_ENOMEM, "out of memory for a delayed call");
    }
    d = twc_deferred_new(cancel_later, lt);
    twc_deferred_set_reactor(d, r);
    lt->d = d;
    if (fn != NULL)
        twc_deferred_add_callback(d, fn, arg);
    twc_timer_start(lt->timer, ms, 0);
    return d;
}

/* ---- addTimeout ------------------------------------------------------------ */

struct timeout {
    twc_deferred *d; /* a reference, dropped when the chain reaches us */
    twc_timer *timer;
    uint64_t ms;
    bool timed_out;
};

static void on_timeout_due(twc_timer *t, void *arg)
{
    struct timeout *to = arg;

    (void)t;
    to->timed_out = true;
    /* Cancelling runs the chain up to on_timeout_reached, which frees us. */
    twc_deferred_cancel(to->d);
}

/* Twisted's convertCancelled + cancelTimeout, in one link that runs either way. */
static void on_timeout_reached(void *arg, twc_result *r)
{
    struct timeout *to = arg;

    if (to->timed_out && twc_result_code(r) == TWC_ECANCELED)
        twc_result_fail(r, TWC_ETIMEDOUT, "deferred timed out after %llu ms",
                        (unsigned long long)to->ms);
    twc_timer_free(to->timer); /* may be the timer running us: that is safe */
    twc_deferred_unref(to->d); /* the run loop holds its own reference */
    free(to);
}

int twc_deferred_add_timeout(twc_deferred *d, twc_reactor *r, uint64_t ms)
{
    struct timeout *to = calloc(1, sizeof(*to));

    if (to == NULL)
        return TWC_ENOMEM;
    to->timer = twc_timer_new(r, on_timeout_due, to);
    if (to->timer == NULL) {
        free(to);
        return TWC_ENOMEM;
    }
    to->d = twc_deferred_ref(d);
    to->ms = ms;
    if (twc_deferred_reactor(d) == NULL)
        twc_deferred_set_reactor(d, r);
    twc_timer_start(to->timer, ms, 0);
    /* If d already fired this runs now and stops the timer at once. */
    twc_deferred_add_both(d, on_timeout_reached, to);
    return 0;
}
