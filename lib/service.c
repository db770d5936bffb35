/*
 * The service tree (see service.h): Twisted's Service and MultiService.
 *
 * Only the tree walking lives here; what a service does when it binds,
 * starts, stops or reloads is in its ops. Stopping gathers the stop deferreds
 * of a subtree with twc_deferred_list, so the caller learns once when
 * everything drained, and can cancel the lot when a grace period runs out.
 */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const struct twc_service_ops no_ops = {.kind = "service"};

void twc_service_init(twc_service *s, const struct twc_service_ops *ops, twc_reactor *r,
                      const char *name)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops != NULL ? ops : &no_ops;
    s->reactor = r;
    snprintf(s->name, sizeof(s->name), "%s", name != NULL ? name : "");
}

static void free_multi(twc_service *s)
{
    free(s);
}

static const struct twc_service_ops multi_ops = {.kind = "multi", .free = free_multi};

twc_service *twc_multi_service_new(twc_reactor *r, const char *name)
{
    twc_service *s = malloc(sizeof(*s));

    if (s != NULL)
        twc_service_init(s, &multi_ops, r, name);
    return s;
}

twc_service *twc_service_find(const twc_service *parent, const char *name)
{
    size_t i;

    for (i = 0; i < parent->nchildren; i++) {
        if (strcmp(parent->children[i]->name, name) == 0)
            return parent->children[i];
    }
    return NULL;
}

size_t twc_service_count(const twc_service *s)
{
    return s->nchildren;
}

twc_service *twc_service_child(const twc_service *s, size_t i)
{
    return i < s->nchildren ? s->children[i] : NULL;
}

const char *twc_service_name(const twc_service *s)
{
    return s->name;
}

twc_service *twc_service_parent(const twc_service *s)
{
    return s->parent;
}

int twc_service_running(const twc_service *s)
{
    return s->running;
}

int twc_service_add(twc_service *parent, twc_service *child, twc_err *err)
{
    twc_service **arr;
    int rc;

    if (child->parent != NULL)
        return twc_err_set(err, TWC_EINVAL, "service '%s' already has a parent", child->name);
    if (twc_service_find(parent, child->name) != NULL)
        return twc_err_set(err, TWC_EINVAL, "service '%s' already has a child named '%s'",
                           parent->name, child->name);
    /* Twisted's setServiceParent: joining a live tree brings the child up to its state. */
    if (parent->bound && (rc = twc_service_bind(child, err)) < 0)
        return rc;
    if (parent->running && (rc = twc_service_start(child, err)) < 0)
        return rc;
    arr = realloc(parent->children, (parent->nchildren + 1) * sizeof(*arr));
    if (arr == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    parent->children = arr;
    parent->children[parent->nchildren++] = child;
    child->parent = parent;
    return 0;
}

int twc_service_bind(twc_service *s, twc_err *err)
{
    size_t i;
    int rc;

    if (!s->bound) {
        if (s->ops->bind != NULL && (rc = s->ops->bind(s, err)) < 0)
            return rc;
        s->bound = 1;
    }
    for (i = 0; i < s->nchildren; i++) {
        if ((rc = twc_service_bind(s->children[i], err)) < 0)
            return rc;
    }
    return 0;
}

static int start_walk(twc_service *s, twc_err *err)
{
    size_t i;
    int rc;

    if (!s->running) {
        if (s->ops->start != NULL && (rc = s->ops->start(s, err)) < 0)
            return rc;
        s->running = 1;
    }
    for (i = 0; i < s->nchildren; i++) {
        if ((rc = start_walk(s->children[i], err)) < 0)
            return rc;
    }
    return 0;
}

/* The whole tree binds before anything starts (Twisted's privilegedStartService
 * pass), so privileges can be dropped in between. */
int twc_service_start(twc_service *s, twc_err *err)
{
    int rc = twc_service_bind(s, err);

    return rc < 0 ? rc : start_walk(s, err);
}

/* A stop that failed is logged and counts as stopped: one service that cannot
 * drain must not keep the others' results from the caller. A cancelled stop
 * (the grace period ran out) is expected and not worth a line. */
static void on_stop_failed(void *arg, twc_result *r)
{
    twc_service *s = arg;

    if (twc_result_code(r) != TWC_ECANCELED)
        twc_log_errorx(s->reactor, s->name, "stop failed: %s", twc_result_err(r)->msg);
    twc_result_set(r, NULL, NULL);
}

static void on_all_stopped(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, NULL, NULL); /* frees the twc_dlist */
}

twc_deferred *twc_service_stop(twc_service *s)
{
    twc_deferred **ds, *d;
    size_t i, n = 0;

    if (!s->bound && !s->running)
        return twc_deferred_succeed(NULL, NULL);
    ds = calloc(s->nchildren + 1, sizeof(*ds));
    if (ds == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "out of memory");
    /* Children in reverse order, as Twisted's MultiService.stopService. */
    for (i = s->nchildren; i > 0; i--)
        ds[n++] = twc_service_stop(s->children[i - 1]);
    s->running = 0;
    s->bound = 0;
    if (s->ops->stop != NULL && (d = s->ops->stop(s)) != NULL) {
        twc_deferred_set_reactor(d, s->reactor);
        twc_deferred_add_errback(d, on_stop_failed, s);
        ds[n++] = d;
    }
    if (n == 0) {
        free(ds);
        return twc_deferred_succeed(NULL, NULL);
    }
    d = twc_deferred_list(ds, n, 0);
    free(ds);
    twc_deferred_set_reactor(d, s->reactor);
    twc_deferred_add_callback(d, on_all_stopped, NULL);
    return d;
}

size_t twc_service_reload(twc_service *s)
{
    size_t i, failed = 0;
    twc_err err;

    if (s->ops->reload != NULL) {
        twc_err_clear(&err);
        if (s->ops->reload(s, &err) < 0) {
            twc_log_errorx(s->reactor, s->name, "reload failed, keeping the old data: %s",
                           err.msg[0] != '\0' ? err.msg : twc_strerror(err.code));
            failed++;
        }
    }
    for (i = 0; i < s->nchildren; i++)
        failed += twc_service_reload(s->children[i]);
    return failed;
}

void twc_service_free(twc_service *s)
{
    twc_service *p;
    size_t i;

    if (s == NULL)
        return;
    while (s->nchildren > 0)
        twc_service_free(s->children[s->nchildren - 1]); /* removes itself from s */
    free(s->children);
    s->children = NULL;
    p = s->parent;
    if (p != NULL) {
        for (i = 0; i < p->nchildren; i++) {
            if (p->children[i] == s) {
                memmove(&p->children[i], &p->children[i + 1],
                        (p->nchildren - i - 1) * sizeof(*p->children));
                p->nchildren--;
                break;
            }
        }
        s->parent = NULL;
    }
    if (s->ops->free != NULL)
        s->ops->free(s);
}
