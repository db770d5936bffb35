/*
 * The deferred core: outcomes, links, firing, chaining, pause and cancel.
 *
 * The chain runner follows Twisted's Deferred._runCallbacks: when a link makes
 * its deferred wait on another one, a "continuation" link is appended to the
 * other deferred; when the other one's chain reaches that continuation, its
 * outcome moves into the waiting deferred, which is pushed on an explicit
 * stack and run by the same loop. No C recursion happens along a chain, so a
 * chain of any length runs in constant stack space.
 *
 * Reference rules inside this file: a deferred on the run stack holds one
 * reference (taken when pushed, dropped when popped), so a link may drop the
 * last outside reference to the deferred running it. A continuation link
 * holds a reference to the deferred it resumes; a waiting outcome holds a
 * reference to the deferred it waits on.
 */
#include "deferred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum result_state {
    RESULT_VALUE,
    RESULT_FAILURE,
    RESULT_WAIT,
};

struct twc_result {
    enum result_state state;
    void *value; /* RESULT_VALUE: owned, freed with value_free */
    twc_free_fn value_free;
    twc_err err;        /* RESULT_FAILURE */
    twc_deferred *wait; /* RESULT_WAIT: a reference to the deferred waited on */
};

struct link {
    struct link *next;
    twc_link_fn ok;
    twc_link_fn fail;
    void *arg;
    twc_deferred *chainee; /* non-NULL: a continuation resuming this deferred */
};

struct twc_deferred {
    unsigned refs;
    unsigned paused;  /* user pauses; waiting on a chain is result.state */
    bool fired;       /* Twisted's `called` */
    bool running;     /* on a run stack: its links are being run by a loop */
    bool suppress;    /* cancelled without canceller: ignore one late firing */
    twc_result result;
    struct link *head;
    struct link *tail;
    twc_cancel_fn canceller;
    void *cancel_arg;
    twc_reactor *reactor;
    const char *fired_file; /* first firing site, for the double-fire message */
    int fired_line;
    twc_deferred *stack_next; /* run stack linkage while running */
};

/* Log why, then abort: broken invariants are our callers' bugs. fflush(NULL)
 * makes sure a buffered log line reaches its file before the process dies. */
static void fatal(twc_reactor *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)))
__attribute__((noreturn));

static void fatal(twc_reactor *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    twc_log_errorx(r, "deferred", "%s", msg);
    fflush(NULL);
    abort();
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (p == NULL)
        fatal(NULL, "out of memory allocating %zu bytes", n * size);
    return p;
}

/* ---- Outcomes -------------------------------------------------------------- */

/* Release what the outcome owns; it becomes a NULL value. */
static void result_clear(twc_result *r)
{
    twc_deferred *w;

    switch (r->state) {
    case RESULT_VALUE:
        if (r->value_free != NULL && r->value != NULL)
            r->value_free(r->value);
        break;
    case RESULT_WAIT:
        w = r->wait;
        r->wait = NULL;
        twc_deferred_unref(w);
        break;
    case RESULT_FAILURE:
        break;
    }
    r->state = RESULT_VALUE;
    r->value = NULL;
    r->value_free = NULL;
    r->wait = NULL;
    twc_err_clear(&r->err);
}

bool twc_result_ok(const twc_result *r)
{
    return r->state == RESULT_VALUE;
}

void *twc_result_value(const twc_result *r)
{
    return r->state == RESULT_VALUE ? r->value : NULL;
}

twc_free_fn twc_result_free_fn(const twc_result *r)
{
    return r->state == RESULT_VALUE ? r->value_free : NULL;
}

void *twc_result_take(twc_result *r)
{
    void *v;

    if (r->state != RESULT_VALUE)
        return NULL;
    v = r->value;
    r->value = NULL;
    r->value_free = NULL;
    return v;
}

const twc_err *twc_result_err(const twc_result *r)
{
    return r->state == RESULT_FAILURE ? &r->err : NULL;
}

int twc_result_code(const twc_result *r)
{
    return r->state == RESULT_FAILURE ? r->err.code : 0;
}

void twc_result_set(twc_result *r, void *value, twc_free_fn value_free)
{
    /* Setting the value already held must not free it. */
    if (r->state == RESULT_VALUE && r->value == value) {
        r->value_free = value_free;
        return;
    }
    result_clear(r);
    r->value = value;
    r->value_free = value_free;
}

static void result_failv(twc_result *r, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void result_failv(twc_result *r, int code, const char *fmt, va_list ap)
{
    twc_err e;

    /* Format first: the arguments may point into the old value. */
    twc_err_setv(&e, code, fmt, ap);
    result_clear(r);
    r->state = RESULT_FAILURE;
    r->err = e;
}

void twc_result_fail(twc_result *r, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    result_failv(r, code, fmt, ap);
    va_end(ap);
}

void twc_result_fail_err(twc_result *r, const twc_err *err)
{
    twc_err e = *err;

    result_clear(r);
    r->state = RESULT_FAILURE;
    r->err = e;
}

void twc_result_wait(twc_result *r, twc_deferred *other)
{
    if (other == NULL)
        fatal(NULL, "twc_result_wait: NULL deferred");
    result_clear(r);
    r->state = RESULT_WAIT;
    r->wait = other;
}

/* ---- References ------------------------------------------------------------ */

twc_deferred *twc_deferred_new(twc_cancel_fn canceller, void *cancel_arg)
{
    twc_deferred *d = xcalloc(1, sizeof(*d));

    d->refs = 2; /* the producer's and the consumer's */
    d->canceller = canceller;
    d->cancel_arg = cancel_arg;
    d->result.state = RESULT_VALUE;
    return d;
}

twc_deferred *twc_deferred_ref(twc_deferred *d)
{
    d->refs++;
    return d;
}

static void destroy(twc_deferred *d)
{
    struct link *l;
    struct link *next;

    if (d->result.state == RESULT_FAILURE)
        twc_log_errorx(d->reactor, "deferred", "Unhandled error in Deferred: %s: %s",
                       twc_err_name(d->result.err.code), d->result.err.msg);
    /* Links that never ran (a deferred freed while paused or never fired): a
     * continuation still owns a reference to the deferred it would resume. */
    for (l = d->head; l != NULL; l = next) {
        next = l->next;
        if (l->chainee != NULL)
            twc_deferred_unref(l->chainee);
        free(l);
    }
    result_clear(&d->result);
    free(d);
}

void twc_deferred_unref(twc_deferred *d)
{
    if (d == NULL)
        return;
    if (--d->refs == 0)
        destroy(d);
}

void twc_deferred_set_reactor(twc_deferred *d, twc_reactor *r)
{
    d->reactor = r;
}

twc_reactor *twc_deferred_reactor(const twc_deferred *d)
{
    return d->reactor;
}

bool twc_deferred_fired(const twc_deferred *d)
{
    return d->fired;
}

static bool blocked(const twc_deferred *d)
{
    return d->paused > 0 || d->result.state == RESULT_WAIT;
}

bool twc_deferred_paused(const twc_deferred *d)
{
    return blocked(d);
}

const twc_result *twc_deferred_peek(const twc_deferred *d)
{
    if (!d->fired || blocked(d) || d->head != NULL)
        return NULL;
    return &d->result;
}

/* ---- Running the chain ----------------------------------------------------- */

static void append_link(twc_deferred *d, struct link *l)
{
    l->next = NULL;
    if (d->tail != NULL)
        d->tail->next = l;
    else
        d->head = l;
    d->tail = l;
}

static struct link *pop_link(twc_deferred *d)
{
    struct link *l = d->head;

    d->head = l->next;
    if (d->head == NULL)
        d->tail = NULL;
    return l;
}

/* A link of cur made it wait on another deferred: take that one's outcome now
 * if it is final (Twisted "steals" it), else append a continuation to it and
 * leave cur blocked. */
static void chain_to(twc_deferred *cur)
{
    twc_deferred *other = cur->result.wait;
    struct link *l;

    if (other == cur) {
        twc_result_fail(&cur->result, TWC_EINVAL, "a link waited on its own deferred");
        return;
    }
    if (other->fired && !other->running && !blocked(other)) {
        /* Not running and not blocked: every link of other has run, so its
         * outcome is final. Move it here; other keeps a NULL value. */
        cur->result = other->result;
        other->result.state = RESULT_VALUE;
        other->result.value = NULL;
        other->result.value_free = NULL;
        twc_err_clear(&other->result.err);
        twc_deferred_unref(other);
        return;
    }
    l = xcalloc(1, sizeof(*l));
    l->chainee = twc_deferred_ref(cur);
    append_link(other, l);
}

static void push(twc_deferred **stack, twc_deferred *d)
{
    d->running = true;
    d->stack_next = *stack;
    *stack = d;
}

/* Run d's pending links, and those of every deferred its outcome flows into.
 * The caller keeps its own reference; the stack takes one per entry. */
static void run(twc_deferred *d)
{
    twc_deferred *stack = NULL;

    /* Already being run by a loop further up the C stack: that loop will
     * reach the new links. Blocked: unpause or the chained deferred resumes. */
    if (d->running || blocked(d))
        return;
    push(&stack, twc_deferred_ref(d));
    while (stack != NULL) {
        twc_deferred *cur = stack;
        bool finished = true;

        while (cur->head != NULL && !blocked(cur)) {
            struct link *l = pop_link(cur);
            twc_link_fn fn;
            void *arg;

            if (l->chainee != NULL) {
                twc_deferred *ch = l->chainee;

                free(l);
                /* ch waits on cur: drop its reference to cur (the stack keeps
                 * cur alive), move cur's outcome into ch and resume ch first,
                 * then come back to cur's remaining links. The continuation's
                 * reference to ch becomes the stack's. */
                ch->result.wait = NULL;
                twc_deferred_unref(cur);
                ch->result = cur->result;
                cur->result.state = RESULT_VALUE;
                cur->result.value = NULL;
                cur->result.value_free = NULL;
                twc_err_clear(&cur->result.err);
                push(&stack, ch);
                finished = false;
                break;
            }
            fn = cur->result.state == RESULT_FAILURE ? l->fail : l->ok;
            arg = l->arg;
            free(l);
            if (fn == NULL)
                continue;
            fn(arg, &cur->result);
            if (cur->result.state == RESULT_WAIT)
                chain_to(cur);
        }
        if (finished) {
            stack = cur->stack_next;
            cur->stack_next = NULL;
            cur->running = false;
            twc_deferred_unref(cur);
        }
    }
}

/* ---- Firing ---------------------------------------------------------------- */

/* d fired already: ignore one late firing after a canceller-less cancel
 * (releasing the producer's reference), else abort naming both sites. */
static void already_fired(twc_deferred *d, const char *file, int line)
{
    if (d->suppress) {
        d->suppress = false;
        twc_deferred_unref(d);
        return;
    }
    fatal(d->reactor, "deferred fired twice: first at %s:%d, again at %s:%d",
          d->fired_file != NULL ? d->fired_file : "?", d->fired_line, file, line);
}

/* The outcome is set: run the chain. The caller still holds the reference it
 * fired with and drops it afterwards. */
static void start(twc_deferred *d, const char *file, int line)
{
    d->fired = true;
    d->fired_file = file;
    d->fired_line = line;
    run(d);
}

void twc__deferred_resolve(twc_deferred *d, void *value, twc_free_fn value_free,
                           const char *file, int line)
{
    if (d->fired) {
        if (d->suppress && value_free != NULL && value != NULL)
            value_free(value);
        already_fired(d, file, line);
        return;
    }
    d->result.state = RESULT_VALUE;
    d->result.value = value;
    d->result.value_free = value_free;
    start(d, file, line);
    twc_deferred_unref(d); /* the producer's reference */
}

static void reject_err(twc_deferred *d, const twc_err *err, const char *file, int line)
{
    if (d->fired) {
        already_fired(d, file, line);
        return;
    }
    d->result.state = RESULT_FAILURE;
    d->result.err = *err;
    start(d, file, line);
    twc_deferred_unref(d); /* the producer's reference */
}

void twc__deferred_reject(twc_deferred *d, const char *file, int line, int code, const char *fmt,
                          ...)
{
    twc_err e;
    va_list ap;

    va_start(ap, fmt);
    twc_err_setv(&e, code, fmt, ap);
    va_end(ap);
    reject_err(d, &e, file, line);
}

void twc__deferred_reject_err(twc_deferred *d, const twc_err *err, const char *file, int line)
{
    twc_err e = *err;

    reject_err(d, &e, file, line);
}

/* ---- Links, pause, cancel -------------------------------------------------- */

void twc_deferred_add_callbacks(twc_deferred *d, twc_link_fn ok, twc_link_fn fail, void *arg)
{
    struct link *l = xcalloc(1, sizeof(*l));

    l->ok = ok;
    l->fail = fail;
    l->arg = arg;
    append_link(d, l);
    if (d->fired)
        run(d);
}

void twc_deferred_add_callback(twc_deferred *d, twc_link_fn fn, void *arg)
{
    twc_deferred_add_callbacks(d, fn, NULL, arg);
}

void twc_deferred_add_errback(twc_deferred *d, twc_link_fn fn, void *arg)
{
    twc_deferred_add_callbacks(d, NULL, fn, arg);
}

void twc_deferred_add_both(twc_deferred *d, twc_link_fn fn, void *arg)
{
    twc_deferred_add_callbacks(d, fn, fn, arg);
}

void twc_deferred_pause(twc_deferred *d)
{
    d->paused++;
}

void twc_deferred_unpause(twc_deferred *d)
{
    if (d->paused == 0)
        fatal(d->reactor, "twc_deferred_unpause on a deferred that is not paused");
    if (--d->paused == 0 && d->fired)
        run(d);
}

void twc__deferred_cancel(twc_deferred *d, const char *file, int line)
{
    twc_err e;

    /* Waiting on a chain: the deferred at its end is the one to cancel (a loop,
     * not Twisted's recursion, so long chains cost no stack). */
    while (d->fired && d->result.state == RESULT_WAIT)
        d = d->result.wait;
    if (d->fired)
        return;
    twc_deferred_ref(d); /* the canceller may drop every other reference */
    if (d->canceller != NULL)
        d->canceller(d->cancel_arg, d);
    else
        d->suppress = true;
    if (!d->fired) {
        twc_err_set(&e, TWC_ECANCELED, "deferred cancelled");
        d->result.state = RESULT_FAILURE;
        d->result.err = e;
        start(d, file, line);
        /* With a canceller, the operation is over: this firing was the
         * producer's. Without one, the producer still fires later (ignored). */
        if (d->canceller != NULL)
            twc_deferred_unref(d);
    }
    twc_deferred_unref(d);
}
