/*
 * Listening services (see listen.h): bind endpoints, log them, hand their
 * connections and datagrams to a factory or datagram protocol.
 */
#define _GNU_SOURCE
#include "cmd/listen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/stream.h"

/* With port 0 the kernel picks a free UDP port that TCP may still hold: retry. */
#define PICK_PORT_TRIES 20

struct listen_service {
    twc_service base; /* first */
    struct twc_server *srv;
    char system[TWC_SERVICE_NAME_MAX];
    struct twc_endpoint *eps;
    size_t n;
    int same_port;
    twc_factory *factory;
    const struct twc_datagram_ops *dgram_ops;
    void *dgram_arg;
    twc_endpoint_listener **ls;  /* per endpoint: stream listener, or NULL */
    twc_udp **us;                /* per endpoint: UDP port, or NULL */
    struct twc_listen_dgram *dg; /* per endpoint: the UDP port's protocol */
};

void *twc_listen_dgram_arg(const twc_datagram_protocol *p)
{
    return ((const struct twc_listen_dgram *)(const void *)p)->arg;
}

static void close_all(struct listen_service *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        twc_endpoint_listener_free(l->ls[i]);
        l->ls[i] = NULL;
        twc_udp_free(l->us[i]);
        l->us[i] = NULL;
    }
}

/* Bind endpoint i on port; fills *a with the bound address. */
static int bind_one(struct listen_service *l, size_t i, uint16_t port, twc_addr *a, twc_err *err)
{
    const struct twc_endpoint *ep = &l->eps[i];
    twc_reactor *r = l->base.reactor;
    const char *iface = ep->host[0] != '\0' ? ep->host : NULL;

    if (ep->kind == TWC_EP_UDP) {
        struct twc_udp_listen_opts o = {iface, port, l->srv->reuseport};

        l->dg[i].base.ops = l->dgram_ops;
        l->dg[i].arg = l->dgram_arg;
        l->us[i] = twc_udp_listen_opts(r, &o, &l->dg[i].base, err);
        if (l->us[i] == NULL)
            return err->code;
        return twc_udp_addr(l->us[i], a) < 0
                   ? twc_err_set(err, TWC_EINTERNAL, "cannot read the bound UDP address")
                   : 0;
    }
    /* A UNIX socket file or an inherited systemd socket cannot be bound again
     * by each worker: they would need to share one socket, which this runtime
     * does not do (yet). */
    if (l->srv->reuseport && (ep->kind == TWC_EP_UNIX || ep->kind == TWC_EP_SYSTEMD))
        return twc_err_set(err, TWC_EINVAL, "%s endpoints cannot be shared by --workers",
                           twc_endpoint_kind_name(ep->kind));
    {
        struct twc_endpoint e = *ep;
        struct twc_endpoint_listen_opts o = {l->srv->reuseport, NULL};

        e.port = port;
        l->ls[i] = twc_endpoint_listen(r, &e, l->factory, &o, err);
    }
    if (l->ls[i] == NULL)
        return err->code;
    return twc_endpoint_listener_addr(l->ls[i], a) < 0
               ? twc_err_set(err, TWC_EINTERNAL, "cannot read the bound address")
               : 0;
}

static void announce(struct listen_service *l, size_t i, const twc_addr *a)
{
    struct twc_endpoint ep = l->eps[i];
    twc_reactor *r = l->base.reactor;
    char host[TWC_ADDR_STRLEN], str[512];
    const char *proto = l->ls[i] != NULL ? twc_endpoint_listener_proto(l->ls[i])
                                         : twc_endpoint_kind_name(ep.kind);
    int is_unix = strcmp(proto, "unix") == 0;

    if (!is_unix)
        ep.port = twc_addr_port(a);
    twc_endpoint_format(&ep, 0, str, sizeof(str));
    if (!l->srv->quiet) {
        if (is_unix)
            twc_log_listening(r, l->system, str, "unix", ep.path, 0);
        else
            twc_log_listening(r, l->system, str, proto, twc_addr_host(a, host, sizeof(host)),
                              ep.port);
    }
    if (l->srv->on_bound != NULL)
        l->srv->on_bound(l->srv->on_bound_arg, l->system, proto, a, is_unix ? ep.path : NULL);
}

static int listen_bind(twc_service *s, twc_err *err)
{
    struct listen_service *l = (struct listen_service *)s;
    twc_addr *addrs = calloc(l->n + 1, sizeof(*addrs));
    int tries, rc = 0;
    size_t i;

    if (addrs == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    for (tries = 0; tries < PICK_PORT_TRIES; tries++) {
        uint16_t first = 0;

        for (i = 0; i < l->n; i++) {
            uint16_t port = twc_server_plan_port(l->srv, l->eps[i].port);

            if (l->same_port && i > 0)
                port = first;
            if ((rc = bind_one(l, i, port, &addrs[i], err)) < 0)
                break;
            if (i == 0 && l->eps[0].kind != TWC_EP_UNIX)
                first = twc_addr_port(&addrs[0]);
        }
        if (rc == 0)
            break;
        close_all(l);
        /* Only the kernel's pick may be retried; a port the user named is taken. */
        if (!(l->same_port && i > 0 && rc == -EADDRINUSE && l->eps[0].port == 0 &&
              !l->srv->replay))
            break;
    }
    if (rc == 0) {
        for (i = 0; i < l->n; i++) {
            if (l->eps[i].kind != TWC_EP_UNIX && l->eps[i].kind != TWC_EP_SYSTEMD &&
                twc_server_bound(l->srv, twc_addr_port(&addrs[i])) < 0) {
                rc = twc_err_set(err, TWC_ENOMEM, "out of memory");
                break;
            }
            announce(l, i, &addrs[i]);
            /* Hold the port without serving until start. */
            if (l->ls[i] != NULL)
                twc_listener_pause(twc_endpoint_listener_base(l->ls[i]));
            if (l->us[i] != NULL)
                twc_udp_pause(l->us[i]);
        }
    }
    free(addrs);
    return rc;
}

static int listen_start(twc_service *s, twc_err *err)
{
    struct listen_service *l = (struct listen_service *)s;
    size_t i;

    (void)err;
    for (i = 0; i < l->n; i++) {
        if (l->ls[i] != NULL)
            twc_listener_resume(twc_endpoint_listener_base(l->ls[i]));
        if (l->us[i] != NULL)
            twc_udp_resume(l->us[i]);
    }
    return 0;
}

/* Stop listening at once: established connections belong to the factory's
 * service, which drains them. */
static twc_deferred *listen_stop(twc_service *s)
{
    close_all((struct listen_service *)s);
    return NULL;
}

static void listen_free(twc_service *s)
{
    struct listen_service *l = (struct listen_service *)s;

    close_all(l);
    free(l->eps);
    free(l->ls);
    free(l->us);
    free(l->dg);
    free(l);
}

static const struct twc_service_ops listen_ops = {
    .kind = "listen",
    .bind = listen_bind,
    .start = listen_start,
    .stop = listen_stop,
    .free = listen_free,
};

twc_service *twc_listen_service_new(struct twc_server *srv, const char *name, const char *system,
                                    const struct twc_endpoint *eps, size_t n, int same_port,
                                    twc_factory *factory, const struct twc_datagram_ops *dgram_ops,
                                    void *dgram_arg, twc_err *err)
{
    struct listen_service *l = calloc(1, sizeof(*l));

    if (l == NULL)
        goto oom;
    twc_service_init(&l->base, &listen_ops, srv->app->reactor, name);
    l->srv = srv;
    snprintf(l->system, sizeof(l->system), "%s", system);
    l->n = n;
    l->same_port = same_port;
    l->factory = factory;
    l->dgram_ops = dgram_ops;
    l->dgram_arg = dgram_arg;
    l->eps = calloc(n + 1, sizeof(*l->eps));
    l->ls = calloc(n + 1, sizeof(*l->ls));
    l->us = calloc(n + 1, sizeof(*l->us));
    l->dg = calloc(n + 1, sizeof(*l->dg));
    if (l->eps == NULL || l->ls == NULL || l->us == NULL || l->dg == NULL) {
        listen_free(&l->base);
        goto oom;
    }
    memcpy(l->eps, eps, n * sizeof(*eps));
    return &l->base;
oom:
    twc_err_set(err, TWC_ENOMEM, "out of memory");
    return NULL;
}
