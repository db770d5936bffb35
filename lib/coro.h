/*
 * Coroutines over deferreds: write an asynchronous operation as straight-line
 * steps that wait on deferreds (what inlineCallbacks gives Twisted), in the
 * protothreads style (Dunkels): a switch on the line number of the last wait,
 * stored in a struct, jumps back into the function when the awaited deferred
 * fires.
 *
 *   struct fetch {
 *       twc_coro coro;          // first member
 *       twc_reactor *r;
 *       struct addrs *addrs;    // state that lives across waits
 *       struct conn *conn;
 *   };
 *
 *   static void fetch_run(twc_coro *c)
 *   {
 *       struct fetch *f = (struct fetch *)c;
 *
 *       TWC_CORO_BEGIN(c);
 *       TWC_CORO_AWAIT(c, resolve(f->r, "example.org"), f->addrs);
 *       TWC_CORO_AWAIT_TRY(c, connect(f->r, f->addrs), f->conn);
 *       if (twc_coro_err(c)->code == TWC_ECANCELED)
 *           TWC_CORO_FAIL(c, TWC_ECANCELED, "fetch cancelled");
 *       ...
 *       TWC_CORO_RETURN(c, reply, reply_free);
 *       TWC_CORO_END(c);
 *   }
 *
 *   twc_deferred *d = twc_coro_start(&f->coro, fetch_run, fetch_free);
 *
 * Rules (break one and the compiler may not tell you):
 *   - Local variables do not survive a wait: the function returns at each
 *     pending TWC_CORO_AWAIT and is called again from the top when the
 *     deferred fires. Keep every value that crosses a wait in the struct.
 *   - No switch statement may span an await (the await's case label would
 *     belong to the inner switch). A switch entirely between two awaits is
 *     fine; so are loops and ifs around awaits.
 *   - At most one await per source line (the line number is the label).
 *   - Declare any locals before TWC_CORO_BEGIN (a declaration right after a
 *     case label is not C11), and treat them as garbage after each await.
 *   - The function returns void and finishes only through TWC_CORO_RETURN,
 *     TWC_CORO_FAIL, a propagating TWC_CORO_AWAIT failure, or by reaching
 *     TWC_CORO_END (a NULL value). A bare `return` is a bug: the coroutine
 *     then fails with TWC_EINTERNAL.
 *   - Each await takes the consumer's reference to the deferred it is given.
 *   - The struct must stay valid until fini runs (with a NULL fini: until the
 *     outcome deferred fired and its links ran); free it in fini.
 *
 * An await of a deferred that already fired continues at once, without
 * returning, so a loop over already-fired deferreds uses no stack per step.
 *
 * Cancelling the deferred twc_coro_start returned cancels the deferred the
 * coroutine is waiting on; the coroutine resumes with that TWC_ECANCELED
 * failure. TWC_CORO_AWAIT propagates it (the coroutine fails with it);
 * TWC_CORO_AWAIT_TRY lets the coroutine handle it and go on, and the returned
 * deferred then fires with whatever the coroutine finally produces (Twisted's
 * inlineCallbacks cancellation).
 */
#ifndef TWC_LIB_CORO_H
#define TWC_LIB_CORO_H

#include <stdbool.h>

#include "deferred.h"
#include "err.h"

typedef struct twc_coro twc_coro;
typedef void (*twc_coro_fn)(twc_coro *c);
/* Called once after the coroutine finished and its deferred fired: free the
 * enclosing struct here. */
typedef void (*twc_coro_fini_fn)(twc_coro *c);

/* Embed as the first member of the coroutine's state struct. Set by
 * twc_coro_start; only the macros below touch the fields. */
struct twc_coro {
    int line; /* resume point: the __LINE__ of the pending await, 0 at start */
    twc_coro_fn fn;
    twc_coro_fini_fn fini;
    twc_deferred *d;        /* the outcome: our producer reference */
    twc_deferred *awaiting; /* the deferred being waited on (our reference) */
    void *value;            /* last await: its value, until the macro takes it */
    twc_free_fn value_free;
    twc_err err;    /* last await: its failure (code 0 on success) */
    void *ret;      /* final outcome */
    twc_free_fn ret_free;
    twc_err ret_err;
    unsigned holds; /* outcome links pending + cancellers running: keep alive */
    bool in_fn;     /* the coroutine function is on the C stack */
    bool ready;     /* the awaited deferred fired while in_fn */
    bool done;      /* finished: ret / ret_err is the outcome */
    bool final_pending; /* finished while the cancelled outcome was paused */
    bool finalized;     /* fini ran */
};

/* Start running fn (synchronously, up to its first pending await) and return
 * the consumer's reference to a deferred for its final outcome. c is borrowed
 * until fini(c) runs (fini may be NULL). */
twc_deferred *twc_coro_start(twc_coro *c, twc_coro_fn fn, twc_coro_fini_fn fini);

/* The failure of the last TWC_CORO_AWAIT_TRY (code 0 if it succeeded). */
const twc_err *twc_coro_err(const twc_coro *c);
/* The free function of the value the last await produced. */
twc_free_fn twc_coro_value_free(const twc_coro *c);

/* Finish with a value (taken) or a failure. Prefer the macros, which return. */
void twc_coro_return(twc_coro *c, void *value, twc_free_fn value_free);
void twc_coro_fail(twc_coro *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TWC_CORO_BEGIN(c)                                                                         \
    switch ((c)->line) {                                                                          \
    case 0:

/* Wait for deferred; store its value (now owned by the coroutine) in value_out,
 * an lvalue assignable from void *. On failure the coroutine finishes with that
 * failure, like an exception propagating out of an inlineCallbacks generator. */
#define TWC_CORO_AWAIT(c, deferred, value_out)                                                    \
    do {                                                                                          \
        (c)->line = __LINE__;                                                                     \
        if (twc__coro_await((c), (deferred)))                                                     \
            return;                                                                               \
        __attribute__((fallthrough));                                                             \
    case __LINE__:                                                                                \
        if (twc__coro_propagate(c))                                                               \
            return;                                                                               \
        (value_out) = twc__coro_take(c);                                                          \
    } while (0)

/* Like TWC_CORO_AWAIT, but a failure does not finish the coroutine: value_out
 * is set to NULL and twc_coro_err(c) describes the failure (consumed: it is
 * not logged as unhandled). */
#define TWC_CORO_AWAIT_TRY(c, deferred, value_out)                                                \
    do {                                                                                          \
        (c)->line = __LINE__;                                                                     \
        if (twc__coro_await((c), (deferred)))                                                     \
            return;                                                                               \
        __attribute__((fallthrough));                                                             \
    case __LINE__:                                                                                \
        (value_out) = twc__coro_take(c);                                                          \
    } while (0)

#define TWC_CORO_RETURN(c, value, value_free)                                                     \
    do {                                                                                          \
        twc_coro_return((c), (value), (value_free));                                              \
        return;                                                                                   \
    } while (0)

#define TWC_CORO_FAIL(c, ...)                                                                     \
    do {                                                                                          \
        twc_coro_fail((c), __VA_ARGS__);                                                          \
        return;                                                                                   \
    } while (0)

#define TWC_CORO_END(c)                                                                           \
    }                                                                                             \
    twc__coro_end(c)

/* Internals behind the macros. */
int twc__coro_await(twc_coro *c, twc_deferred *d);
int twc__coro_propagate(twc_coro *c);
void *twc__coro_take(twc_coro *c);
void twc__coro_end(twc_coro *c);

#endif
