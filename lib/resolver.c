/*
 * c-ares glue: the channel's sockets become reactor watchers, its timeouts a
 * reactor timer, and each finished lookup fires a deferred from the loop.
 *
 * c-ares may call a lookup's callback from inside ares_getaddrinfo (numeric
 * hosts, /etc/hosts hits, bad names), so results are always handed to the
 * deferred through twc_reactor_call_soon: a lookup never completes inside the
 * call that started it (shared/STYLE.md §3).
 */
#include "resolver.h"

#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolvconf.h"

struct watch {
    struct watch *next;
    ares_socket_t fd;
    twc_io *io;
};

struct twc_resolver {
    twc_reactor *reactor;
    ares_channel channel;
    struct watch *watches;
    twc_timer *timer;
    size_t pending;
};

/* One lookup. Freed exactly once: in deliver(), or in on_lookup() when it was
 * cancelled before c-ares answered. */
struct lookup {
    twc_deferred *d;     /* producer's reference, until fired or cancelled */
    twc_resolver *res;   /* valid until on_lookup returns */
    twc_reactor *reactor;
    uint16_t port;
    int cancelled;
    int answered;        /* on_lookup ran; deliver is queued */
    twc_addrlist *list;  /* the answer, or NULL with err set */
    twc_err err;
    char host[];         /* for error messages */
};

void twc_addrlist_free(void *list)
{
    free(list);
}

static void rearm_timer(twc_resolver *res)
{
    struct timeval tv, *tvp;
    uint64_t ms;

    tvp = ares_timeout(res->channel, NULL, &tv);
    if (tvp == NULL) {
        twc_timer_stop(res->timer);
        return;
    }
    /* Round up so the timer never fires just before c-ares considers it due. */
    ms = (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000;
    /* ares_timeout rounds down: "0" can mean "in under a millisecond". A 0 ms
     * timer would re-arm every iteration and spin until then. */
    if (ms == 0)
        ms = 1;
    twc_timer_start(res->timer, ms, 0);
}

static void on_timer(twc_timer *t, void *arg)
{
    twc_resolver *res = arg;

    (void)t;
    ares_process_fd(res->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timer(res);
}

static void on_socket(twc_io *io, unsigned events, void *arg)
{
    twc_resolver *res = arg;
    ares_socket_t fd = twc_io_fd(io);
    ares_socket_t rfd = events & (TWC_IO_READ | TWC_IO_ERROR) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = events & TWC_IO_WRITE ? fd : ARES_SOCKET_BAD;

    /* May close the socket: sock_state_cb then frees this watcher, which the
     * reactor allows from inside the watcher's own callback. */
    ares_process_fd(res->channel, rfd, wfd);
    rearm_timer(res);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    twc_resolver *res = data;
    struct watch **pp, *w;
    unsigned events = (readable ? TWC_IO_READ : 0u) | (writable ? TWC_IO_WRITE : 0u);

    for (pp = &res->watches; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->fd == fd)
            break;
    w = *pp;
    if (events == 0) {
        if (w != NULL) {
            *pp = w->next;
            twc_io_free(w->io);
            free(w);
        }
        return;
    }
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL)
            return; /* c-ares times the query out; nothing else we can do */
        w->fd = fd;
        w->io = twc_io_new(res->reactor, fd, on_socket, res);
        if (w->io == NULL) {
            free(w);
            return;
        }
        w->next = res->watches;
        res->watches = w;
    }
    twc_io_set(w->io, events);
}

static int map_status(int status)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return TWC_EDNS_NOTFOUND;
    case ARES_ETIMEOUT:
        return TWC_EDNS_TIMEOUT;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
        return TWC_EDNS_SERVFAIL;
    case ARES_EBADNAME:
        return TWC_EDNS_BADNAME;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        return TWC_ECANCELED;
    case ARES_ENOMEM:
        return TWC_ENOMEM;
    default:
        return TWC_EDNS;
    }
}

static twc_addrlist *to_list(const struct ares_addrinfo *ai, uint16_t port)
{
    const struct ares_addrinfo_node *n;
    twc_addrlist *list;
    size_t count = 0;

    for (n = ai->nodes; n != NULL; n = n->ai_next)
        if ((n->ai_family == AF_INET || n->ai_family == AF_INET6) &&
            n->ai_addrlen <= sizeof(struct sockaddr_storage))
            count++;
    if (count == 0)
        return NULL;
    list = calloc(1, sizeof(*list) + count * sizeof(list->addrs[0]));
    if (list == NULL)
        return NULL;
    for (n = ai->nodes; n != NULL; n = n->ai_next) {
        twc_addr *a;

        if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
            n->ai_addrlen > sizeof(struct sockaddr_storage))
            continue;
        a = &list->addrs[list->n++];
        twc_addr_set(a, n->ai_addr, (socklen_t)n->ai_addrlen);
        if (n->ai_family == AF_INET)
            ((struct sockaddr_in *)(void *)&a->ss)->sin_port = htons(port);
        else
            ((struct sockaddr_in6 *)(void *)&a->ss)->sin6_port = htons(port);
    }
    return list;
}

static void deliver(void *arg)
{
    struct lookup *q = arg;

    if (q->cancelled)
        twc_addrlist_free(q->list);
    else if (q->list != NULL)
        twc_deferred_resolve(q->d, q->list, twc_addrlist_free);
    else
        twc_deferred_reject_err(q->d, &q->err);
    free(q);
}

static void on_lookup(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct lookup *q = arg;

    (void)timeouts;
    q->answered = 1;
    q->res->pending--;
    if (q->cancelled) {
        if (ai != NULL)
            ares_freeaddrinfo(ai);
        free(q);
        return;
    }
    if (status == ARES_SUCCESS && ai != NULL) {
        q->list = to_list(ai, q->port);
        if (q->list == NULL)
            twc_err_set(&q->err, TWC_EDNS_NOTFOUND, "cannot resolve '%s': no IPv4 or IPv6 address",
                        q->host);
    } else {
        twc_err_set(&q->err, map_status(status), "cannot resolve '%s': %s", q->host,
                    twc_strerror(map_status(status)));
    }
    if (ai != NULL)
        ares_freeaddrinfo(ai);
    if (status == ARES_EDESTRUCTION || twc_reactor_call_soon(q->reactor, deliver, q) < 0)
        deliver(q); /* resolver being freed (documented), or no memory to queue */
}

static void lookup_cancel(void *arg, twc_deferred *d)
{
    struct lookup *q = arg;

    (void)d;
    /* c-ares 1.18 cannot cancel one query; drop its answer when it comes. */
    q->cancelled = 1;
}

twc_deferred *twc_resolve(twc_resolver *res, const char *host, uint16_t port, int family)
{
    struct ares_addrinfo_hints hints;
    struct lookup *q;
    twc_deferred *d;

    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return twc_deferred_fail(TWC_EINVAL, "resolve %s: bad address family %d", host, family);
    q = calloc(1, sizeof(*q) + strlen(host) + 1);
    if (q == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "resolve %s: out of memory", host);
    memcpy(q->host, host, strlen(host) + 1);
    q->res = res;
    q->reactor = res->reactor;
    q->port = port;
    d = twc_deferred_new(lookup_cancel, q);
    twc_deferred_set_reactor(d, res->reactor);
    q->d = d;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    res->pending++;
    ares_getaddrinfo(res->channel, host, NULL, &hints, on_lookup, q);
    rearm_timer(res);
    return d;
}

static int configure_servers(twc_resolver *res, const struct twc_resolv_conf *rc, twc_err *err)
{
    char csv[TWC_RESOLV_MAX_SERVERS * (TWC_ADDR_STRLEN + 1)] = "";
    char one[TWC_ADDR_STRLEN];
    size_t i, off = 0;
    int st;

    /* No nameserver line means the local one, as the C library does. */
    if (rc->nservers == 0)
        snprintf(csv, sizeof(csv), "127.0.0.1:53");
    for (i = 0; i < rc->nservers; i++) {
        twc_addr_format(&rc->servers[i], one, sizeof(one));
        off += (size_t)snprintf(csv + off, sizeof(csv) - off, "%s%s", i ? "," : "", one);
    }
    st = ares_set_servers_ports_csv(res->channel, csv);
    if (st != ARES_SUCCESS)
        return twc_err_set(err, TWC_EDNS, "resolver: cannot use nameservers %s: %s", csv,
                           ares_strerror(st));
    return 0;
}

twc_resolver *twc_resolver_new(twc_reactor *r, const struct twc_resolver_opts *o, twc_err *err)
{
    struct twc_resolv_conf rc;
    struct ares_options ao;
    char *domains[TWC_RESOLV_MAX_SEARCH];
    const char *path = o != NULL && o->resolv_conf != NULL ? o->resolv_conf : "/etc/resolv.conf";
    twc_resolver *res;
    size_t i;
    int st, mask;

    twc_resolv_conf_init(&rc);
    if (twc_resolv_conf_load(&rc, path, err) < 0) {
        /* A missing system file is normal in containers: use the defaults.
         * A file the caller named must exist. */
        if (o != NULL && o->resolv_conf != NULL)
            return NULL;
        twc_resolv_conf_init(&rc);
    }
    res = calloc(1, sizeof(*res));
    if (res == NULL) {
        twc_err_set(err, TWC_ENOMEM, "resolver: out of memory");
        return NULL;
    }
    res->reactor = r;
    res->timer = twc_timer_new(r, on_timer, res);
    if (res->timer == NULL) {
        free(res);
        twc_err_set(err, TWC_ENOMEM, "resolver: out of memory");
        return NULL;
    }
    memset(&ao, 0, sizeof(ao));
    ao.sock_state_cb = sock_state_cb;
    ao.sock_state_cb_data = res;
    ao.timeout = o != NULL && o->timeout_ms ? (int)o->timeout_ms : (int)rc.timeout_s * 1000;
    ao.tries = o != NULL && o->tries ? (int)o->tries : (int)rc.attempts;
    ao.ndots = (int)rc.ndots;
    ao.lookups = (char *)"fb"; /* /etc/hosts, then DNS */
    for (i = 0; i < rc.nsearch; i++)
        domains[i] = rc.search[i];
    ao.domains = domains;
    ao.ndomains = (int)rc.nsearch;
    mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS |
           ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS;
    if (rc.rotate)
        mask |= ARES_OPT_ROTATE;
    st = ares_library_init(ARES_LIB_INIT_ALL);
    if (st == ARES_SUCCESS) {
        st = ares_init_options(&res->channel, &ao, mask);
        if (st != ARES_SUCCESS)
            ares_library_cleanup();
    }
    if (st != ARES_SUCCESS) {
        twc_err_set(err, TWC_EDNS, "resolver: c-ares: %s", ares_strerror(st));
        twc_timer_free(res->timer);
        free(res);
        return NULL;
    }
    if (configure_servers(res, &rc, err) < 0) {
        twc_resolver_free(res);
        return NULL;
    }
    return res;
}

void twc_resolver_free(twc_resolver *res)
{
    struct watch *w;

    if (res == NULL)
        return;
    /* Fails every pending lookup with ARES_EDESTRUCTION (delivered at once) and
     * reports each socket closed through sock_state_cb. */
    ares_destroy(res->channel);
    ares_library_cleanup();
    while ((w = res->watches) != NULL) {
        res->watches = w->next;
        twc_io_free(w->io);
        free(w);
    }
    twc_timer_free(res->timer);
    free(res);
}

size_t twc_resolver_pending(const twc_resolver *res)
{
    return res->pending;
}
