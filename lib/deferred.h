/*
 * Deferreds: one-shot results with a chain of callbacks, Twisted's
 * twisted.internet.defer in C.
 *
 * A deferred fires once, with a value or a failure. Its chain is a list of
 * links, each a (callback, errback, arg) triple. Firing runs the links in order;
 * each link sees the chain's current outcome (a twc_result) and may replace it
 * or leave it alone (pass-through). The callback runs when the outcome is a
 * value, the errback when it is a failure, so the chain reads as
 * try / except / finally:
 *
 *   - a callback that calls twc_result_fail switches the chain to errbacks;
 *   - an errback that calls twc_result_set recovers: later callbacks run;
 *   - a link that calls twc_result_wait(r, other) pauses the chain until
 *     `other` fires, then the chain continues with other's outcome (chaining).
 *     Chains are run iteratively (Twisted's _runCallbacks with a chain
 *     stack), so any number of chained deferreds costs no C stack.
 *   - adding a link to a deferred that already fired runs it at once, from
 *     inside the add call (the one exception to shared/STYLE.md §3's "never
 *     from inside the call"). A link added from inside another link of the
 *     same deferred runs after the current link returns.
 *
 * Ownership of values. The outcome owns its value together with the function
 * that frees it (value_free; NULL means "nothing to free"). Whoever holds the
 * outcome owns the value:
 *   - twc_deferred_resolve takes the producer's value;
 *   - twc_result_set / twc_result_fail / twc_result_wait free the previous
 *     value with its value_free before replacing it (setting the same pointer
 *     again frees nothing);
 *   - twc_result_take hands the value to the caller (the chain continues with
 *     a NULL value);
 *   - when a chain waits on another deferred, the other deferred's final
 *     outcome moves into the waiting chain (the other keeps a NULL value);
 *   - the last holder frees it: when a deferred is freed, its outcome's value
 *     is freed with value_free.
 *
 * References. A deferred is reference counted. twc_deferred_new returns two
 * references: the producer's, which firing consumes (resolve, reject, or the
 * TWC_ECANCELED rejection that cancel performs, see twc_deferred_cancel), and
 * the caller's, returned to the consumer. A function that returns a deferred
 * returns the consumer's reference: the consumer attaches its links, then
 * drops it with twc_deferred_unref (it may keep it to cancel later). Links
 * and a pending chain keep the deferred alive as needed, so dropping the
 * consumer's reference before the deferred fires is fine.
 *
 * Failures are twc_err values (lib/err.h): a code whose range names the
 * domain (twc_err_domain_of), errno where one applies, and a message. A
 * deferred freed while its outcome is still a failure logs
 * "Unhandled error in Deferred: <name>: <message>" at error level through
 * twc_log_errorx on the deferred's reactor (twc_deferred_set_reactor; NULL:
 * the default logger).
 *
 * Programming errors abort in every build, after logging the reason: firing
 * twice (the message names both firing sites), unpausing a deferred that is
 * not paused, waiting on NULL. Running out of memory inside the core (a link
 * or a deferred) also aborts: a silently dropped link would break the
 * "every link runs exactly once" contract. Helpers that can report an error
 * (lists, queues, timers) return TWC_ENOMEM instead.
 *
 * Single-threaded: a deferred belongs to the thread that runs its reactor.
 */
#ifndef TWC_LIB_DEFERRED_H
#define TWC_LIB_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "reactor.h"

typedef struct twc_deferred twc_deferred;
/* The chain's current outcome: a value (with the function that frees it), a
 * failure, or "waiting on another deferred". Only links see it. */
typedef struct twc_result twc_result;

/* Frees a value; NULL as a twc_free_fn means the value needs no freeing. */
typedef void (*twc_free_fn)(void *value);
/* A callback or errback. r is borrowed for the call; read and replace the
 * outcome through the twc_result_* functions. */
typedef void (*twc_link_fn)(void *arg, twc_result *r);
/* A canceller: stop the operation behind d (see twc_deferred_cancel). */
typedef void (*twc_cancel_fn)(void *arg, twc_deferred *d);
/* Starts an operation; returns the consumer's reference to its deferred. */
typedef twc_deferred *(*twc_defer_fn)(void *arg);

/* ---- The outcome, as seen by a link ---------------------------------------- */

/* True when the outcome is a value (callbacks run), false for a failure. */
bool twc_result_ok(const twc_result *r);
/* The value (borrowed: the outcome still owns it), or NULL on failure. */
void *twc_result_value(const twc_result *r);
/* The value's free function (NULL when none or on failure). */
twc_free_fn twc_result_free_fn(const twc_result *r);
/* Take the value: the caller owns it now and the chain continues with a NULL
 * value. Returns NULL (and changes nothing) on failure. */
void *twc_result_take(twc_result *r);
/* The failure (borrowed, valid until the outcome changes), or NULL on success. */
const twc_err *twc_result_err(const twc_result *r);
/* The failure's code, or 0 on success. */
int twc_result_code(const twc_result *r);

/* Replace the outcome with a value (takes value; value_free may be NULL). The
 * previous value, if any, is freed first unless it is the same pointer. On the
 * errback path this recovers: the next link's callback runs. */
void twc_result_set(twc_result *r, void *value, twc_free_fn value_free);
/* Replace the outcome with a failure (frees the previous value). On the
 * callback path this switches the chain to errbacks. */
void twc_result_fail(twc_result *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, copying an existing error (code, errno and message); err is borrowed and
 * may point into r itself. */
void twc_result_fail_err(twc_result *r, const twc_err *err);
/* Chaining: replace the outcome with "wait for other" (frees the previous
 * value). Takes one reference to other (the caller's). When the link returns,
 * the chain pauses until other fires, then continues with other's final
 * outcome, which moves into this chain. If other already fired and all its
 * links ran, the chain continues at once. Waiting on the deferred that runs the link fails the
 * chain with TWC_EINVAL. other must not be NULL (aborts). */
void twc_result_wait(twc_result *r, twc_deferred *other);

/* ---- Deferreds ------------------------------------------------------------- */

/* A new deferred, not fired, holding the producer's and the consumer's
 * references (see the top of this file). canceller may be NULL; it borrows
 * cancel_arg. Never returns NULL (aborts when out of memory). */
twc_deferred *twc_deferred_new(twc_cancel_fn canceller, void *cancel_arg);

/* Take another reference; returns d. */
twc_deferred *twc_deferred_ref(twc_deferred *d);
/* Drop a reference; the last one frees d: its value is freed, and a failure
 * still held is logged as unhandled. NULL is a no-op. */
void twc_deferred_unref(twc_deferred *d);

/* The reactor whose log receives d's unhandled-failure and abort messages
 * (borrowed: it must outlive d). Helpers that take a reactor set it. */
void twc_deferred_set_reactor(twc_deferred *d, twc_reactor *r);
twc_reactor *twc_deferred_reactor(const twc_deferred *d);

/* Append a link. Exactly one of ok / fail runs for it, once, when the chain
 * reaches it: ok for a value, fail for a failure. NULL means pass-through, in
 * which case nothing runs for this link, so a link that owns arg (and frees it
 * when called) should set both (twc_deferred_add_both). arg is borrowed until
 * then. If d already fired (and is not paused or waiting), the link runs before
 * this call returns. */
void twc_deferred_add_callbacks(twc_deferred *d, twc_link_fn ok, twc_link_fn fail, void *arg);
/* add_callbacks(d, fn, NULL, arg): runs on a value only ("try"). */
void twc_deferred_add_callback(twc_deferred *d, twc_link_fn fn, void *arg);
/* add_callbacks(d, NULL, fn, arg): runs on a failure only ("except"). */
void twc_deferred_add_errback(twc_deferred *d, twc_link_fn fn, void *arg);
/* add_callbacks(d, fn, fn, arg): runs either way ("finally"). */
void twc_deferred_add_both(twc_deferred *d, twc_link_fn fn, void *arg);

/* Fire d with a value (takes value; value_free may be NULL) or a failure, and
 * run the chain. Consumes the producer's reference. Firing a deferred that
 * already fired aborts with a message naming both sites (file:line), except
 * once after a cancel of a deferred created without a canceller: that late
 * firing is ignored (its value freed), as Twisted does. These are macros so
 * the site is the caller's. */
#define twc_deferred_resolve(d, value, value_free) \
    twc__deferred_resolve((d), (value), (value_free), __FILE__, __LINE__)
#define twc_deferred_reject(d, ...) twc__deferred_reject((d), __FILE__, __LINE__, __VA_ARGS__)
/* Reject with a copy of err (borrowed). */
#define twc_deferred_reject_err(d, err) twc__deferred_reject_err((d), (err), __FILE__, __LINE__)

/* Cancel (Twisted's Deferred.cancel):
 *   - not fired: run the canceller; if d still has not fired when it returns,
 *     reject d with TWC_ECANCELED ("deferred cancelled"). With a canceller,
 *     that rejection consumes the producer's reference, so the canceller must
 *     have stopped the operation: the producer may not fire d afterwards.
 *     Without a canceller, the producer keeps its reference and its one later
 *     resolve/reject is ignored (and releases the reference);
 *   - fired and waiting on a chained deferred: cancel that one instead (down
 *     the whole chain, iteratively);
 *   - fired otherwise: nothing.
 * The caller must hold a reference. A macro: the site is recorded as the
 * firing site of the TWC_ECANCELED rejection. */
#define twc_deferred_cancel(d) twc__deferred_cancel((d), __FILE__, __LINE__)

/* Pause: no link runs until the matching unpause. Pauses nest. Pausing from
 * inside a link stops the chain after that link (Twisted would finish the
 * current run first; this follows its documented "stop processing"). Unpausing
 * a deferred that is not paused aborts. */
void twc_deferred_pause(twc_deferred *d);
void twc_deferred_unpause(twc_deferred *d);

/* True once d fired (Twisted's `called`), even if links are still pending. */
bool twc_deferred_fired(const twc_deferred *d);
/* True while links cannot run: paused, or waiting on a chained deferred. */
bool twc_deferred_paused(const twc_deferred *d);
/* The outcome after every link ran (borrowed, valid until d changes), or NULL
 * while d has not fired, is paused, or is waiting on another deferred. For
 * tests and for code that inspects a finished deferred (Twisted's d.result). */
const twc_result *twc_deferred_peek(const twc_deferred *d);

/* ---- Constructors and time ------------------------------------------------- */

/* An already fired deferred (Twisted's succeed / fail). Returns the consumer's
 * reference. twc_deferred_succeed takes value. */
twc_deferred *twc_deferred_succeed(void *value, twc_free_fn value_free);
twc_deferred *twc_deferred_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
twc_deferred *twc_deferred_fail_err(const twc_err *err);

/* Twisted's deferLater: a deferred that fires with a NULL value after ms on r's
 * clock (from the loop, never from inside this call). fn, when not NULL, is
 * added as its first callback, so it can compute the value (twc_result_set) or
 * fail; fn borrows arg and does not run if the deferred is cancelled first.
 * Cancelling stops the timer and fails with TWC_ECANCELED. Returns the
 * consumer's reference; a failed deferred (TWC_ENOMEM) if no timer could be
 * made. */
twc_deferred *twc_defer_later(twc_reactor *r, uint64_t ms, twc_link_fn fn, void *arg);

/* Twisted's addTimeout: if d has not produced its outcome after ms on r's clock,
 * cancel it (twc_deferred_cancel), and turn the resulting TWC_ECANCELED failure
 * into TWC_ETIMEDOUT ("deferred timed out after <ms> ms"). The timeout covers
 * the links added before this call (a chain they wait on is cancelled too),
 * not those added after. The timer stops when d's chain reaches this point.
 * Holds a reference to d until then. Sets d's reactor when it has none.
 * Returns 0, or TWC_ENOMEM (nothing added). */
int twc_deferred_add_timeout(twc_deferred *d, twc_reactor *r, uint64_t ms);

/* ---- Deferred list / gather (Twisted's DeferredList, gatherResults) --------- */

enum {
    TWC_DLIST_FIRE_ON_ONE_CALLBACK = 1u << 0, /* fire with the first value */
    TWC_DLIST_FIRE_ON_ONE_ERRBACK = 1u << 1,  /* fail with the first failure */
    TWC_DLIST_CONSUME_ERRORS = 1u << 2,       /* item failures become NULL values */
};

/* One deferred's outcome as recorded by a list. */
typedef struct twc_dlist_item {
    bool fired;           /* false: had not fired when the list fired */
    bool ok;              /* value (true) or failure in err (false) */
    void *value;          /* owned by the list result; take it by setting NULL */
    twc_free_fn value_free;
    twc_err err; /* the failure when fired && !ok */
} twc_dlist_item;

/* The value a list fires with. Free with twc_dlist_free (its value_free). */
typedef struct twc_dlist {
    size_t n;              /* items, in the order the deferreds were given */
    size_t index;          /* fire-on-one modes: the item that fired the list; else n */
    twc_dlist_item *items; /* n items */
} twc_dlist;

/* Frees the list result and the values it still owns. NULL is a no-op. */
void twc_dlist_free(void *list);

/* A deferred for n deferreds (takes one reference to each; borrows the array).
 * Each one's value is taken out of its deferred into the list (that deferred
 * continues with NULL); a failure is copied, and left in its deferred (logged
 * as unhandled when freed, as Twisted does) unless TWC_DLIST_CONSUME_ERRORS
 * turns it into a NULL value. The list fires with a twc_dlist when every one
 * has fired; with FIRE_ON_ONE_CALLBACK as soon as one has a value (index names
 * it); with FIRE_ON_ONE_ERRBACK it fails as soon as one fails, with that code
 * and errno and the message "item <i>: <message>". The result is a snapshot:
 * deferreds that fire after the list did keep their values. An empty list fires
 * at once, unless FIRE_ON_ONE_CALLBACK is set (then it never fires; Twisted).
 * Cancelling the list, before it fired, cancels each deferred; if that does not
 * fire the list (an item had fired but is paused), the list fails with
 * TWC_ECANCELED (Twisted would keep waiting). Returns the consumer's reference;
 * a failed deferred (TWC_ENOMEM) on allocation failure. */
twc_deferred *twc_deferred_list(twc_deferred *const *ds, size_t n, unsigned flags);
/* Twisted's gatherResults: twc_deferred_list with FIRE_ON_ONE_ERRBACK, plus
 * CONSUME_ERRORS when consume_errors. */
twc_deferred *twc_gather(twc_deferred *const *ds, size_t n, bool consume_errors);

/* ---- Deferred semaphore (Twisted's DeferredSemaphore) ---------------------- */

typedef struct twc_dsem twc_dsem;

/* A semaphore with tokens >= 1 tokens. Returns owned, or NULL with *err
 * (TWC_EINVAL for 0 tokens, TWC_ENOMEM). */
twc_dsem *twc_dsem_new(unsigned tokens, twc_err *err);
/* Free; waiters still queued fail with TWC_ECANCELED. NULL is a no-op. */
void twc_dsem_free(twc_dsem *s);
/* A deferred that fires (value: s, borrowed) once a token is taken: at once if
 * one is free, else when released to this waiter (FIFO). Cancelling a waiting
 * acquire removes it from the queue. Returns the consumer's reference. */
twc_deferred *twc_dsem_acquire(twc_dsem *s);
/* Return a token; the first waiter, if any, takes it (its chain runs now).
 * Returns 0, or TWC_EINVAL if every token is already free. */
int twc_dsem_release(twc_dsem *s);
/* Acquire, then call fn(arg) and wait for its deferred, then release; the
 * returned deferred has fn's outcome. fn does not run if the acquire is
 * cancelled. s and arg are borrowed until then. */
twc_deferred *twc_dsem_run(twc_dsem *s, twc_defer_fn fn, void *arg);
/* Free tokens, and acquirers waiting. */
unsigned twc_dsem_tokens(const twc_dsem *s);
size_t twc_dsem_waiting(const twc_dsem *s);

/* ---- Deferred queue (Twisted's DeferredQueue) ------------------------------ */

#define TWC_DQUEUE_UNBOUNDED SIZE_MAX

typedef struct twc_dqueue twc_dqueue;

/* A queue holding at most size values not yet taken, and at most backlog
 * getters waiting (TWC_DQUEUE_UNBOUNDED: no limit). Returns owned or NULL. */
twc_dqueue *twc_dqueue_new(size_t size, size_t backlog);
/* Free: queued values are freed, waiting getters fail with TWC_ECANCELED.
 * NULL is a no-op. */
void twc_dqueue_free(twc_dqueue *q);
/* Hand value to the first waiting getter (its chain runs now), else queue it.
 * Takes value on success. Returns 0, or TWC_ETOOBIG when size values are
 * already queued (the caller keeps value), or TWC_ENOMEM. */
int twc_dqueue_put(twc_dqueue *q, void *value, twc_free_fn value_free);
/* A deferred for the next value (which the deferred's outcome then owns): fired
 * at once if one is queued, else when put. Fails at once with TWC_ETOOBIG when
 * backlog getters are already waiting. Cancelling a waiting get removes it.
 * Returns the consumer's reference. */
twc_deferred *twc_dqueue_get(twc_dqueue *q);
/* Values queued, and getters waiting. */
size_t twc_dqueue_pending(const twc_dqueue *q);
size_t twc_dqueue_waiting(const twc_dqueue *q);

/* ---- Internals behind the macros above ------------------------------------- */

void twc__deferred_resolve(twc_deferred *d, void *value, twc_free_fn value_free,
                           const char *file, int line);
void twc__deferred_reject(twc_deferred *d, const char *file, int line, int code, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));
void twc__deferred_reject_err(twc_deferred *d, const twc_err *err, const char *file, int line);
void twc__deferred_cancel(twc_deferred *d, const char *file, int line);

#endif
