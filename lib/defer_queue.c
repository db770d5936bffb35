/*
 * Twisted's DeferredQueue: get returns a deferred for the next value; put
 * hands a value to the oldest waiting getter or queues it. Both sides are
 * bounded (size values queued, backlog getters waiting).
 */
#include "deferred.h"

#include <stdlib.h>

struct qnode {
    struct qnode *next;
    struct qnode *prev;
    twc_dqueue *q;
    twc_deferred *d; /* waiting getter: the producer reference */
    void *value;     /* queued value */
    twc_free_fn value_free;
};

struct qlist {
    struct qnode *head;
    struct qnode *tail;
    size_t n;
};

struct twc_dqueue {
    size_t size;
    size_t backlog;
    struct qlist pending; /* values nobody asked for yet */
    struct qlist waiting; /* getters nobody served yet */
};

static void qlist_push(struct qlist *l, struct qnode *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    l->n++;
}

static void qlist_remove(struct qlist *l, struct qnode *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    l->n--;
}

twc_dqueue *twc_dqueue_new(size_t size, size_t backlog)
{
    twc_dqueue *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    q->size = size;
    q->backlog = backlog;
    return q;
}

void twc_dqueue_free(twc_dqueue *q)
{
    struct qnode *n;

    if (q == NULL)
        return;
    /* A rejected getter's chain may call get or put again: loop until both
     * lists stay empty. */
    while ((n = q->waiting.head) != NULL) {
        twc_deferred *d = n->d;

        qlist_remove(&q->waiting, n);
        free(n);
        twc_deferred_reject(d, TWC_ECANCELED, "queue freed");
    }
    while ((n = q->pending.head) != NULL) {
        qlist_remove(&q->pending, n);
        if (n->value_free != NULL && n->value != NULL)
            n->value_free(n->value);
        free(n);
    }
    free(q);
}

int twc_dqueue_put(twc_dqueue *q, void *value, twc_free_fn value_free)
{
    struct qnode *n = q->waiting.head;

    if (n != NULL) {
        twc_deferred *d = n->d;

        qlist_remove(&q->waiting, n);
        free(n);
        twc_deferred_resolve(d, value, value_free);
        return 0;
    }
    if (q->pending.n >= q->size)
        return TWC_ETOOBIG;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return TWC_ENOMEM;
    n->value = value;
    n->value_free = value_free;
    qlist_push(&q->pending, n);
    return 0;
}

/* Twisted's _cancelGet: leave the waiting list without firing; cancel then
 * fails the getter with TWC_ECANCELED, consuming the producer reference. */
static void cancel_get(void *arg, twc_deferred *d)
{
    struct qnode *n = arg;

    (void)d;
    qlist_remove(&n->q->waiting, n);
    free(n);
}

twc_deferred *twc_dqueue_get(twc_dqueue *q)
{
    struct qnode *n = q->pending.head;
    void *value;
    twc_free_fn value_free;

    if (n != NULL) {
        value = n->value;
        value_free = n->value_free;
        qlist_remove(&q->pending, n);
        free(n);
        return twc_deferred_succeed(value, value_free);
    }
    if (q->waiting.n >= q->backlog)
        return twc_deferred_fail(TWC_ETOOBIG, "queue backlog of %zu getters exceeded", q->backlog);
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "out of memory for a queue getter");
    n->q = q;
    n->d = twc_deferred_new(cancel_get, n);
    qlist_push(&q->waiting, n);
    return n->d;
}

size_t twc_dqueue_pending(const twc_dqueue *q)
{
    return q->pending.n;
}

size_t twc_dqueue_waiting(const twc_dqueue *q)
{
    return q->waiting.n;
}
