/*
 * twc echo: the Echo Protocol (RFC 862) over TCP, UDP and UNIX sockets.
 *
 * RFC 862: "Once a connection is established any data received is sent back";
 * over UDP "each datagram received is sent back in an answering datagram".
 * The stream protocol writes back exactly what data_received hands it and
 * leaves flow control to the transport: it has no pause_producing, so a peer
 * that does not read its echoes is throttled by the transport pausing reads
 * above the high-water mark (lib/protocol.h).
 *
 * Defaults (shared/CLI.md): TCP and UDP on port 8000. -p sets both, binding UDP
 * first and giving TCP the same number, so `-p 0` yields one port for both.
 * --listen (repeatable) replaces the defaults (and -p).
 *
 * The command is assembled from services (lib/service.h): an echo service
 * that owns the connections (and drains them on stop) with one listening
 * service per endpoint group below it. twc_build_echo is what `twc serve`
 * calls for an "echo" entry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/endpoint.h"
#include "cmd/listen.h"
#include "cmd/server.h"
#include "cmd/servers.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/protocol.h"
#include "lib/service.h"
#include "lib/stream.h"
#include "lib/udp.h"

#define DEFAULT_PORT "8000"

static const struct twc_option echo_opts[] = {
    {"port", 'p', TWC_OPT_PORT, 0, NULL, DEFAULT_PORT, NULL, 0, 0,
     "TCP and UDP port of the default listeners (0: pick a free one, the same for both)"},
    {"listen", 0, TWC_OPT_ENDPOINT, TWC_OPT_REPEAT, NULL, NULL, NULL, 0, 0,
     "listen on ENDPOINT (tcp:PORT, udp:PORT, ssl:PORT:privateKey=PEM, unix:PATH); "
     "replaces the defaults"},
};

const struct twc_optset twc_optset_echo = {
    "echo",
    "[-p PORT] [--listen ENDPOINT]...",
    "echo server (RFC 862)",
    echo_opts,
    sizeof(echo_opts) / sizeof(echo_opts[0]),
    0,
    NULL,
    "Endpoints: tcp:PORT[:interface=ADDR][:backlog=N], udp:PORT[:interface=ADDR],\n"
    "ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem][:interface=ADDR], unix:PATH[:mode=0660],\n"
    "systemd:domain=INET:index=N. Stops cleanly on SIGTERM or SIGINT.",
};

struct echo_conn {
    twc_protocol base; /* first: the transport hands us &base */
    struct echo_conn *prev, *next;
};

/* The service that owns the factory and the live connections. */
struct echo_service {
    twc_service base; /* first */
    twc_factory factory;
    struct echo_conn *conns; /* live connections, to close them on stop */
    size_t nconns;
    twc_deferred *draining; /* producer's reference while stopping with connections */
    int stopping;
};

/* ---- TCP / UNIX --------------------------------------------------------------- */

static void on_connection_made(twc_protocol *p)
{
    (void)p;
}

static void on_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    twc_transport_write(p->transport, data, len);
}

static void on_connection_lost(twc_protocol *p, const twc_err *why)
{
    struct echo_conn *c = container_of(p, struct echo_conn, base);
    struct echo_service *s = container_of(p->factory, struct echo_service, factory);

    (void)why;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    free(c);
    if (s->nconns == 0 && s->draining != NULL) {
        twc_deferred *d = s->draining;

        s->draining = NULL;
        twc_deferred_resolve(d, NULL, NULL);
    }
}

static const struct twc_protocol_ops echo_ops = {
    .name = "echo",
    .connection_made = on_connection_made,
    .data_received = on_data_received,
    .connection_lost = on_connection_lost,
};

static twc_protocol *build(twc_factory *f, const twc_addr *peer)
{
    struct echo_service *s = container_of(f, struct echo_service, factory);
    struct echo_conn *c;

    (void)peer;
    if (s->stopping)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL; /* refuse the connection; the listener goes on */
    c->base.ops = &echo_ops;
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    return &c->base;
}

static const struct twc_factory_ops echo_factory_ops = {.build = build};

/* ---- UDP ---------------------------------------------------------------------- */

static void on_datagram(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                        const twc_addr *from)
{
    /* A reply the kernel cannot take now is dropped, as UDP may (lib/udp.h). */
    twc_udp_send(p->udp, data, len, from);
}

static const struct twc_datagram_ops echo_udp_ops = {
    .name = "echo",
    .datagram_received = on_datagram,
};

/* ---- The service -------------------------------------------------------------- */

/* The grace period ran out (the stop was cancelled): drop what is left. */
static void on_drain_cancelled(void *arg, twc_deferred *d)
{
    struct echo_service *s = arg;
    struct echo_conn *c;

    (void)d;
    s->draining = NULL; /* the cancel's rejection consumes the producer's reference */
    twc_log_warnx(s->base.reactor, s->base.name, "aborting %zu connections still open", s->nconns);
    for (c = s->conns; c != NULL; c = c->next)
        twc_transport_abort(c->base.transport);
}

/* SIGTERM/SIGINT (shared/CLI.md): the listeners (children) close; an echo
 * connection has no request in progress beyond its queued output, which
 * lose_connection still flushes, so every connection is closed now and the
 * stop completes once they are gone. */
static twc_deferred *echo_stop(twc_service *svc)
{
    struct echo_service *s = (struct echo_service *)svc;
    struct echo_conn *c;

    s->stopping = 1;
    if (s->nconns == 0)
        return NULL;
    s->draining = twc_deferred_new(on_drain_cancelled, s);
    for (c = s->conns; c != NULL; c = c->next)
        twc_transport_lose_connection(c->base.transport);
    return s->draining; /* our reference is the producer's: the consumer gets the other */
}

static void echo_free(twc_service *svc)
{
    free(svc);
}

static const struct twc_service_ops echo_service_ops = {
    .kind = "echo",
    .stop = echo_stop,
    .free = echo_free,
};

/* Add a listening service for eps[0..n) below the echo service. */
static int add_listen(struct echo_service *s, struct twc_server *srv, const char *system,
                      const struct twc_endpoint *eps, size_t n, int same_port, size_t index,
                      twc_err *err)
{
    char name[32];
    twc_service *l;
    int rc;

    snprintf(name, sizeof(name), "listen%zu", index);
    l = twc_listen_service_new(srv, name, system, eps, n, same_port, &s->factory, &echo_udp_ops,
                               s, err);
    if (l == NULL)
        return err->code;
    if ((rc = twc_service_add(&s->base, l, err)) < 0)
        twc_service_free(l);
    return rc;
}

int twc_build_echo(struct twc_server *srv, const struct twc_opts *opts, twc_service *parent,
                   twc_err *err)
{
    const struct twc_optval *listen = twc_opts_get(opts, "listen");
    const char *system = twc_service_name(parent);
    struct echo_service *s;
    struct twc_endpoint ep[2];
    size_t i;
    int rc;

    /* Check every endpoint before building anything. */
    for (i = 0; i < listen->nlist; i++) {
        twc_err e;

        if (twc_endpoint_parse_server(&ep[0], listen->list[i], &e) < 0)
            return twc_err_set(err, TWC_EINVAL, "--listen: %s", e.msg);
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    twc_service_init(&s->base, &echo_service_ops, srv->app->reactor, "echo");
    s->factory.ops = &echo_factory_ops;
    if ((rc = twc_service_add(parent, &s->base, err)) < 0) {
        free(s);
        return rc;
    }
    if (listen->nlist == 0) {
        /* -p PORT: UDP first, then TCP on the port UDP got (shared/CLI.md). */
        memset(ep, 0, sizeof(ep));
        ep[0].kind = TWC_EP_UDP;
        ep[0].port = (uint16_t)twc_opts_num(opts, "port");
        ep[1].kind = TWC_EP_TCP;
        ep[1].port = ep[0].port;
        return add_listen(s, srv, system, ep, 2, 1, 0, err);
    }
    for (i = 0; i < listen->nlist; i++) {
        twc_endpoint_parse_server(&ep[0], listen->list[i], err);
        if ((rc = add_listen(s, srv, system, ep, 1, 0, i, err)) < 0)
            return rc;
    }
    return 0;
}

int twc_cmd_echo(int argc, char **argv)
{
    struct twc_app app;
    struct twc_server_spec spec;
    int rc;

    memset(&app, 0, sizeof(app));
    rc = twc_app_parse(&app, &twc_optset_echo, argc, argv);
    if (rc >= 0)
        goto out;
    if (app.args.n > 0) {
        rc = twc_fail(app.name, TWC_EXIT_USAGE, "unexpected argument '%s' (see twc echo --help)",
                      app.args.v[0]);
        goto out;
    }
    spec.command = "echo";
    spec.build = twc_build_echo;
    spec.opts = &app.opts;
    rc = twc_server_main(&app, &spec, 1);
out:
    twc_app_cleanup(&app);
    return rc;
}
