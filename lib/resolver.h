/*
 * Host-name resolution for clients: c-ares driven by the reactor.
 *
 * c-ares never waits on its own: its sockets are watched by the loop
 * (ARES_OPT_SOCK_STATE_CB) and its timeouts run on a reactor timer, then
 * ares_process_fd does the work (shared/STYLE.md §7: c-ares 1.18 glue).
 * Lookups consult /etc/hosts first, then DNS through the nameservers of a
 * resolv.conf file (lib/resolvconf.h syntax, ports allowed).
 */
#ifndef TWC_LIB_RESOLVER_H
#define TWC_LIB_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "deferred.h"
#include "err.h"
#include "reactor.h"

typedef struct twc_resolver twc_resolver;

struct twc_resolver_opts {
    const char *resolv_conf; /* NULL: /etc/resolv.conf */
    unsigned timeout_ms;     /* per try; 0: the file's timeout (default 5 s) */
    unsigned tries;          /* 0: the file's attempts (default 2) */
};

/* The value a resolution fires with: addresses in the order to try them. */
typedef struct twc_addrlist {
    size_t n;
    twc_addr addrs[]; /* n entries, each with the port asked for */
} twc_addrlist;

/* Frees a twc_addrlist (the deferred's value_free). NULL is a no-op. */
void twc_addrlist_free(void *list);

/* A resolver on r. Reads the resolv.conf file now (startup: this blocks on
 * disk). Returns owned, or NULL with *err (file unreadable or malformed,
 * c-ares failed to start). */
twc_resolver *twc_resolver_new(twc_reactor *r, const struct twc_resolver_opts *o, twc_err *err);

/* Free; lookups still pending fail with TWC_ECANCELED (from inside this call).
 * NULL is a no-op. */
void twc_resolver_free(twc_resolver *res);

/* Resolve host (a name, or a numeric address which needs no query) for port and
 * family (AF_UNSPEC, AF_INET or AF_INET6). Returns the consumer's reference to a
 * deferred that fires from the loop with a twc_addrlist (never empty), or fails
 * with TWC_EDNS_NOTFOUND, TWC_EDNS_TIMEOUT, TWC_EDNS_SERVFAIL, TWC_EDNS_BADNAME
 * or TWC_EDNS. Cancelling it stops delivery (the query itself may still finish
 * inside c-ares; its answer is dropped). */
twc_deferred *twc_resolve(twc_resolver *res, const char *host, uint16_t port, int family);

/* Lookups in flight (for tests and shutdown). */
size_t twc_resolver_pending(const twc_resolver *res);

#endif
