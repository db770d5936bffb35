/*
 * Twisted's DeferredList and gatherResults: one deferred for many.
 *
 * A shared state records each deferred's outcome through a link added to it,
 * and owns the list deferred's producer reference until it fires. The state
 * lives until every item's link ran and the list fired (or was cancelled),
 * since items may fire after the list did in the fire-on-one modes.
 */
#include "deferred.h"

#include <stdlib.h>
#include <string.h>

struct dlist_state;

struct dlist_slot {
    struct dlist_state *st;
    size_t index;
};

struct dlist_state {
    twc_deferred *d;      /* producer reference; NULL once fired or cancelled */
    twc_dlist *result;    /* being filled; handed to d's outcome when it fires */
    twc_deferred **items; /* our reference to each item, NULL once its link ran */
    struct dlist_slot *slots;
    size_t n;
    size_t pending; /* item links not yet run */
    size_t fired;   /* items recorded */
    unsigned flags;
    unsigned busy; /* inside the canceller: do not free */
};

void twc_dlist_free(void *list)
{
    twc_dlist *l = list;
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->n; i++)
        if (l->items[i].value != NULL && l->items[i].value_free != NULL)
            l->items[i].value_free(l->items[i].value);
    free(l->items);
    free(l);
}

static twc_dlist *dlist_alloc(size_t n)
{
    twc_dlist *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->n = n;
    l->index = n;
    if (n > 0) {
        l->items = calloc(n, sizeof(*l->items));
        if (l->items == NULL) {
            free(l);
            return NULL;
        }
    }
    return l;
}

static void state_maybe_free(struct dlist_state *st)
{
    if (st->pending > 0 || st->d != NULL || st->busy > 0)
        return;
    twc_dlist_free(st->result);
    free(st->items);
    free(st->slots);
    free(st);
}

/* Hand the result to the list's outcome. */
static void fire_list(struct dlist_state *st, size_t index)
{
    twc_deferred *d = st->d;
    twc_dlist *l = st->result;

    st->d = NULL;
    st->result = NULL;
    l->index = index;
    twc_deferred_resolve(d, l, twc_dlist_free);
}

static void on_item(void *arg, twc_result *r)
{
    struct dlist_slot *slot = arg;
    struct dlist_state *st = slot->st;
    size_t i = slot->index;
    twc_deferred *item = st->items[i];
    twc_dlist_item *it;
    bool ok = twc_result_ok(r);

    st->items[i] = NULL;
    st->pending--;
    if (st->d != NULL) {
        it = &st->result->items[i];
        it->fired = true;
        it->ok = ok;
        if (ok) {
            it->value_free = twc_result_free_fn(r);
            it->value = twc_result_take(r);
        } else {
            it->err = *twc_result_err(r);
        }
        st->fired++;
    }
    /* Twisted: with consumeErrors the item's failure becomes None, so it is
     * not reported as unhandled; without it the failure stays in the item. */
    if (!ok && (st->flags & TWC_DLIST_CONSUME_ERRORS))
        twc_result_set(r, NULL, NULL);

    if (st->d != NULL) {
        if (ok && (st->flags & TWC_DLIST_FIRE_ON_ONE_CALLBACK)) {
            fire_list(st, i);
        } else if (!ok && (st->flags & TWC_DLIST_FIRE_ON_ONE_ERRBACK)) {
            twc_deferred *d = st->d;
            twc_err e = st->result->items[i].err;

            st->d = NULL;
            twc_err_set(&e, e.code, "item %zu: %s", i, st->result->items[i].err.msg);
            e.sys_errno = st->result->items[i].err.sys_errno;
            twc_deferred_reject_err(d, &e);
        } else if (st->fired == st->n) {
            fire_list(st, st->n);
        }
    }
    twc_deferred_unref(item); /* its run loop holds its own reference */
    state_maybe_free(st);
}

/* Twisted's DeferredList.cancel: cancel every item still pending. If the list
 * did not fire as a result, cancel rejects it with TWC_ECANCELED and that
 * consumes our producer reference. */
static void cancel_list(void *arg, twc_deferred *d)
{
    struct dlist_state *st = arg;
    size_t i;

    (void)d;
    st->busy++;
    for (i = 0; i < st->n; i++) {
        twc_deferred *item = st->items[i];

        if (item == NULL)
            continue;
        twc_deferred_ref(item);
        twc_deferred_cancel(item);
        twc_deferred_unref(item);
    }
    st->busy--;
    if (st->d != NULL) {
        st->d = NULL;
        twc_dlist_free(st->result);
        st->result = NULL;
    }
    state_maybe_free(st);
}

twc_deferred *twc_deferred_list(twc_deferred *const *ds, size_t n, unsigned flags)
{
    struct dlist_state *st = calloc(1, sizeof(*st));
    twc_deferred *d;
    size_t i;

    if (st == NULL)
        goto fail;
    st->n = n;
    st->flags = flags;
    st->result = dlist_alloc(n);
    if (st->result == NULL)
        goto fail;
    if (n > 0) {
        st->items = calloc(n, sizeof(*st->items));
        st->slots = calloc(n, sizeof(*st->slots));
        if (st->items == NULL || st->slots == NULL)
            goto fail;
    }
    d = twc_deferred_new(cancel_list, st);
    st->d = d;
    st->pending = n;
    for (i = 0; i < n; i++) {
        st->items[i] = ds[i];
        st->slots[i].st = st;
        st->slots[i].index = i;
    }
    /* Keep st alive while links added below may fire the list. */
    st->busy++;
    for (i = 0; i < n; i++)
        twc_deferred_add_both(ds[i], on_item, &st->slots[i]);
    st->busy--;
    if (n == 0 && !(flags & TWC_DLIST_FIRE_ON_ONE_CALLBACK))
        fire_list(st, 0);
    state_maybe_free(st);
    return d;

fail:
    if (st != NULL) {
        twc_dlist_free(st->result);
        free(st->items);
        free(st->slots);
        free(st);
    }
    for (i = 0; i < n; i++)
        twc_deferred_unref(ds[i]);
    return twc_deferred_fail(TWC_ENOMEM, "out of memory for a deferred list of %zu", n);
}

twc_deferred *twc_gather(twc_deferred *const *ds, size_t n, bool consume_errors)
{
    unsigned flags = TWC_DLIST_FIRE_ON_ONE_ERRBACK;

    if (consume_errors)
        flags |= TWC_DLIST_CONSUME_ERRORS;
    return twc_deferred_list(ds, n, flags);
}
