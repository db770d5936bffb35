/*
 * Test helpers shared by the deferred, coroutine, resolver and connect tests
 * (included by test files; not part of libtwc): counted int values, and a
 * recorder that captures one deferred's outcome.
 */
#ifndef TWC_TESTS_OUTCOME_H
#define TWC_TESTS_OUTCOME_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "deferred.h"
#include "reactor.h"

/* Values freed through int_free, so tests can assert ownership. */
static int freed;

static inline void int_free(void *p)
{
    freed++;
    free(p);
}

static inline int *new_int(int v)
{
    int *p = malloc(sizeof(*p));

    assert_non_null(p);
    *p = v;
    return p;
}

/* A deferred's outcome: its value (taken, with its free function) or a copy of
 * its failure (consumed, so it is not logged as unhandled). */
struct outcome {
    int calls;
    bool ok;
    void *value;
    twc_free_fn value_free;
    twc_err err;
    uint64_t at; /* outcome_clock's time when it fired */
};

/* When set, on_outcome records the time on this reactor's clock. */
static twc_reactor *outcome_clock;

static inline void on_outcome(void *arg, twc_result *r)
{
    struct outcome *o = arg;

    o->calls++;
    if (outcome_clock != NULL)
        o->at = twc_reactor_now(outcome_clock);
    o->ok = twc_result_ok(r);
    if (o->ok) {
        o->value_free = twc_result_free_fn(r);
        o->value = twc_result_take(r);
    } else {
        o->err = *twc_result_err(r);
        twc_result_set(r, NULL, NULL);
    }
}

/* Attach the recorder as d's next link ("finally"). */
static inline void watch(twc_deferred *d, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    twc_deferred_add_both(d, on_outcome, o);
}

static inline void outcome_cleanup(struct outcome *o)
{
    if (o->value != NULL && o->value_free != NULL)
        o->value_free(o->value);
    o->value = NULL;
}

/* Run r until o fired (bounded: 5 s of 10 ms waits). */
static inline void run_until_fired(twc_reactor *r, struct outcome *o)
{
    int i;

    for (i = 0; i < 500 && o->calls == 0; i++)
        twc_reactor_run_once(r, 10);
    assert_int_equal(o->calls, 1);
}

#endif
