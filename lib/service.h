/*
 * Services: Twisted's IService / MultiService in C (twisted.application.service).
 *
 * A service is something with a lifetime: it binds (privileged work such as
 * opening ports below 1024, done before privileges are dropped), starts, stops
 * and reloads. Services form a tree: every service may hold named children,
 * and each lifecycle call walks the tree, so an application is one root
 * service whatever number of commands it runs (`twc serve`).
 *
 *   bind:   own bind hook, then each child's, in the order they were added
 *           (Twisted's privilegedStartService)
 *   start:  own start hook, then each child's (startService)
 *   stop:   children in reverse order, then the own stop hook, all at once; the
 *           returned deferred fires when every one of them has finished, so a
 *           server drains its connections before the process exits
 *   reload: every reload hook of the tree (SIGHUP); a failure is logged with
 *           the service's name and leaves the other services alone
 *
 * A concrete service embeds struct twc_service as its FIRST member and
 * recovers itself with container_of (shared/STYLE.md §3). The fields of struct
 * twc_service are private to lib/service.c: use the functions.
 */
#ifndef TWC_LIB_SERVICE_H
#define TWC_LIB_SERVICE_H

#include <stddef.h>

#include "deferred.h"
#include "err.h"
#include "reactor.h"

#define TWC_SERVICE_NAME_MAX 64 /* bytes of a service name, NUL included */

typedef struct twc_service twc_service;

/* Every hook is optional (NULL: nothing to do). */
struct twc_service_ops {
    const char *kind; /* "multi", "listen", "echo": for debug logs */
    /* Acquire what needs privileges (bind ports). Returns 0 or a negative code
     * with *err. */
    int (*bind)(twc_service *s, twc_err *err);
    /* Start serving. Returns 0 or a negative code with *err. */
    int (*start)(twc_service *s, twc_err *err);
    /* Stop. Returns the consumer's reference to a deferred that fires once the
     * service has drained (a failure is logged), or NULL when it stopped at
     * once. Cancelling that deferred asks the service to give up draining (abort
     * what is left); its canceller must do so. */
    twc_deferred *(*stop)(twc_service *s);
    /* Reload files (SIGHUP). On failure returns a negative code with *err (the
     * message names FILE:LINE where one applies) and must keep the old data. */
    int (*reload)(twc_service *s, twc_err *err);
    /* Free the concrete object. Runs after the children were freed. */
    void (*free)(twc_service *s);
};

struct twc_service {
    const struct twc_service_ops *ops;
    char name[TWC_SERVICE_NAME_MAX];
    twc_reactor *reactor; /* for logs and deferreds; borrowed */
    twc_service *parent;
    twc_service **children;
    size_t nchildren;
    int bound, running;
};

/* Initialise caller-provided storage (the first member of a concrete service).
 * name is copied (truncated to TWC_SERVICE_NAME_MAX - 1 bytes); ops is borrowed
 * and may be NULL for a plain container. */
void twc_service_init(twc_service *s, const struct twc_service_ops *ops, twc_reactor *r,
                      const char *name);

/* A plain MultiService: a container with no hooks of its own. Returns owned
 * (free with twc_service_free), or NULL when out of memory. */
twc_service *twc_multi_service_new(twc_reactor *r, const char *name);

/* Add child to parent (takes child on success). Names are unique among
 * siblings: a duplicate gives TWC_EINVAL. If parent is already bound or
 * running, child is bound and started now, as Twisted's setServiceParent
 * does; if that fails, child is not added (the caller keeps it). Returns 0 or
 * a negative code with *err. */
int twc_service_add(twc_service *parent, twc_service *child, twc_err *err);

/* The child named name, or NULL (Twisted's getServiceNamed). Borrowed. */
twc_service *twc_service_find(const twc_service *parent, const char *name);
/* Number of children, and the i-th one in the order they were added. */
size_t twc_service_count(const twc_service *s);
twc_service *twc_service_child(const twc_service *s, size_t i);
const char *twc_service_name(const twc_service *s);
twc_service *twc_service_parent(const twc_service *s);
int twc_service_running(const twc_service *s);

/* Bind s and its subtree (see the top of the file). Stops at the first failure
 * and returns it (what was bound stays bound: stop or free the tree). */
int twc_service_bind(twc_service *s, twc_err *err);
/* Start s and its subtree (binding first what is not bound yet). Stops at the
 * first failure and returns it. */
int twc_service_start(twc_service *s, twc_err *err);

/* Stop s and its subtree. Returns the consumer's reference to a deferred that
 * fires with a NULL value once every service finished stopping; a service
 * whose stop failed is logged and does not fail the whole. Cancelling the
 * deferred cancels every stop still in progress. Never NULL. Stopping a service
 * that is not running returns an already fired deferred. */
twc_deferred *twc_service_stop(twc_service *s);

/* Call every reload hook of the subtree, logging each failure at error level
 * ("reload failed, keeping the old data: MSG") with the service's name as the
 * log system. Returns the number of failed reloads. */
size_t twc_service_reload(twc_service *s);

/* Free s and its subtree, children first (last added first). Services still
 * running are freed as they are (listeners closed, connections dropped): stop
 * first for a graceful end. Removes s from its parent. NULL is a no-op. */
void twc_service_free(twc_service *s);

#endif
