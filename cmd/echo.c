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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/endpoint.h"
#include "lib/addr.h"
#include "lib/limits.h"
#include "lib/protocol.h"
#include "lib/stream.h"
#include "lib/udp.h"

#define SYSTEM          "echo"
#define DEFAULT_PORT    "8000"
/* With -p 0 the kernel picks a free UDP port that TCP may still hold: retry. */
#define PICK_PORT_TRIES 20

static const struct twc_option echo_opts[] = {
    {"port", 'p', TWC_OPT_PORT, 0, NULL, DEFAULT_PORT, NULL, 0, 0,
     "TCP and UDP port of the default listeners (0: pick a free one, the same for both)"},
    {"listen", 0, TWC_OPT_ENDPOINT, TWC_OPT_REPEAT, NULL, NULL, NULL, 0, 0,
     "listen on ENDPOINT (tcp:PORT, udp:PORT, unix:PATH); replaces the defaults"},
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
    "unix:PATH[:mode=0660]. Stops cleanly on SIGTERM or SIGINT.",
};

struct echo_conn {
    twc_protocol base; /* first: the transport hands us &base */
    struct echo_conn *prev, *next;
};

struct echo_udp {
    twc_datagram_protocol base;
    twc_udp *udp;
};

struct echo_server {
    struct twc_app app;
    twc_factory factory;
    twc_listener **listeners;
    size_t nlisteners;
    struct echo_udp **udps;
    size_t nudps;
    struct echo_conn *conns; /* live connections, to close them on stop */
    size_t nconns;
    twc_timer *grace; /* SIGTERM: deadline for connections to finish */
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

static void maybe_finish(struct echo_server *s)
{
    if (s->stopping && s->nconns == 0)
        twc_reactor_stop(s->app.reactor);
}

static void on_connection_lost(twc_protocol *p, const twc_err *why)
{
    struct echo_conn *c = container_of(p, struct echo_conn, base);
    struct echo_server *s = container_of(p->factory, struct echo_server, factory);

    (void)why;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    free(c);
    maybe_finish(s);
}

static const struct twc_protocol_ops echo_ops = {
    .name = "echo",
    .connection_made = on_connection_made,
    .data_received = on_data_received,
    .connection_lost = on_connection_lost,
};

static twc_protocol *build(twc_factory *f, const twc_addr *peer)
{
    struct echo_server *s = container_of(f, struct echo_server, factory);
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

/* ---- Listeners ---------------------------------------------------------------- */

/* Bind a UDP port and keep it. Returns 0 or a negative code with *err. */
static int add_udp(struct echo_server *s, const char *iface, uint16_t port, twc_addr *bound,
                   twc_err *err)
{
    struct echo_udp **arr = realloc(s->udps, (s->nudps + 1) * sizeof(*arr));
    struct echo_udp *u;

    if (arr == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    s->udps = arr;
    u = calloc(1, sizeof(*u));
    if (u == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    u->base.ops = &echo_udp_ops;
    u->udp = twc_udp_listen(s->app.reactor, iface, port, &u->base, err);
    if (u->udp == NULL) {
        free(u);
        return err->code;
    }
    s->udps[s->nudps++] = u;
    if (twc_udp_addr(u->udp, bound) < 0)
        return twc_err_set(err, TWC_EINTERNAL, "cannot read the bound UDP address");
    return 0;
}

/* Start a TCP (ep->kind TWC_EP_TCP) or UNIX listener and keep it. */
static int add_stream(struct echo_server *s, const struct twc_endpoint *ep, twc_addr *bound,
                      twc_err *err)
{
    twc_listener **arr = realloc(s->listeners, (s->nlisteners + 1) * sizeof(*arr));
    twc_listener *l;

    if (arr == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    s->listeners = arr;
    if (ep->kind == TWC_EP_TCP) {
        struct twc_tcp_listen_opts o = {ep->host[0] != '\0' ? ep->host : NULL, ep->port,
                                        ep->backlog, 0};

        l = twc_tcp_listen(s->app.reactor, &o, &s->factory, err);
    } else {
        l = twc_unix_listen(s->app.reactor, ep->path, ep->mode, &s->factory, err);
    }
    if (l == NULL)
        return err->code;
    s->listeners[s->nlisteners++] = l;
    if (twc_listener_addr(l, bound) < 0)
        return twc_err_set(err, TWC_EINTERNAL, "cannot read the bound address");
    return 0;
}

/* Drop the most recent UDP port (the -p 0 retry). */
static void drop_last_udp(struct echo_server *s)
{
    struct echo_udp *u = s->udps[--s->nudps];

    twc_udp_free(u->udp);
    free(u);
}

static void log_listening(struct echo_server *s, struct twc_endpoint *ep, const twc_addr *a)
{
    char host[TWC_ADDR_STRLEN], str[512];

    if (ep->kind != TWC_EP_UNIX)
        ep->port = twc_addr_port(a);
    twc_endpoint_format(ep, 0, str, sizeof(str));
    if (ep->kind == TWC_EP_UNIX)
        twc_log_listening(s->app.reactor, SYSTEM, str, "unix", ep->path, 0);
    else
        twc_log_listening(s->app.reactor, SYSTEM, str, twc_endpoint_kind_name(ep->kind),
                          twc_addr_host(a, host, sizeof(host)), ep->port);
}

/* Bind one --listen endpoint. Returns 0 or a negative code with *err filled. */
static int listen_on(struct echo_server *s, struct twc_endpoint *ep, twc_err *err)
{
    twc_addr a;
    int rc;

    if (ep->kind == TWC_EP_UDP)
        rc = add_udp(s, ep->host[0] != '\0' ? ep->host : NULL, ep->port, &a, err);
    else
        rc = add_stream(s, ep, &a, err);
    if (rc < 0)
        return rc;
    log_listening(s, ep, &a);
    return 0;
}

/* -p PORT: UDP first, then TCP on the port UDP got (shared/CLI.md). */
static int listen_default(struct echo_server *s, uint16_t port, twc_err *err)
{
    struct twc_endpoint udp, tcp;
    twc_addr ua, ta;
    int tries, rc = 0;

    memset(&udp, 0, sizeof(udp));
    udp.kind = TWC_EP_UDP;
    memset(&tcp, 0, sizeof(tcp));
    tcp.kind = TWC_EP_TCP;
    for (tries = 0; tries < PICK_PORT_TRIES; tries++) {
        rc = add_udp(s, NULL, port, &ua, err);
        if (rc < 0)
            return rc;
        tcp.port = twc_addr_port(&ua);
        rc = add_stream(s, &tcp, &ta, err);
        if (rc == 0) {
            /* Log only now: a retried UDP port was never really ours. */
            log_listening(s, &udp, &ua);
            log_listening(s, &tcp, &ta);
            return 0;
        }
        if (port != 0 || rc != -EADDRINUSE)
            return rc;
        drop_last_udp(s); /* the kernel's UDP pick is taken for TCP: pick again */
    }
    return rc;
}

/* ---- Stop --------------------------------------------------------------------- */

static void close_listeners(struct echo_server *s)
{
    size_t i;

    for (i = 0; i < s->nlisteners; i++)
        twc_listener_free(s->listeners[i]);
    s->nlisteners = 0;
    for (i = 0; i < s->nudps; i++) {
        twc_udp_free(s->udps[i]->udp);
        free(s->udps[i]);
    }
    s->nudps = 0;
}

static void on_grace_expired(twc_timer *t, void *arg)
{
    struct echo_server *s = arg;
    struct echo_conn *c;

    (void)t;
    twc_log_warnx(s->app.reactor, SYSTEM, "aborting %zu connections still open after %d ms",
                  s->nconns, TWC_SHUTDOWN_GRACE_MS);
    for (c = s->conns; c != NULL; c = c->next)
        twc_transport_abort(c->base.transport);
}

/* SIGTERM/SIGINT (shared/CLI.md): stop accepting, close connections (an echo
 * connection has no request in progress beyond its queued output, which
 * lose_connection still flushes), stop once they are gone or the grace ends. */
static void on_stop_signal(twc_reactor *r, int signo, void *arg)
{
    struct echo_server *s = arg;
    struct echo_conn *c;

    if (s->stopping)
        return;
    s->stopping = 1;
    twc_log_info(r, SYSTEM, "received %s, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
    close_listeners(s);
    for (c = s->conns; c != NULL; c = c->next)
        twc_transport_lose_connection(c->base.transport);
    if (s->nconns > 0) {
        s->grace = twc_timer_new(r, on_grace_expired, s);
        if (s->grace != NULL)
            twc_timer_start(s->grace, TWC_SHUTDOWN_GRACE_MS, 0);
    }
    maybe_finish(s);
}

int twc_cmd_echo(int argc, char **argv)
{
    struct echo_server s;
    const struct twc_optval *listen;
    struct twc_endpoint *eps = NULL;
    twc_err err;
    size_t i;
    int rc;

    memset(&s, 0, sizeof(s));
    s.factory.ops = &echo_factory_ops;
    rc = twc_app_parse(&s.app, &twc_optset_echo, argc, argv);
    if (rc >= 0)
        goto out;
    if (s.app.args.n > 0) {
        rc = twc_fail(s.app.name, TWC_EXIT_USAGE, "unexpected argument '%s' (see twc echo --help)",
                      s.app.args.v[0]);
        goto out;
    }
    /* Check every endpoint before binding anything. */
    listen = twc_opts_get(&s.app.opts, "listen");
    eps = calloc(listen->nlist + 1, sizeof(*eps));
    if (eps == NULL) {
        rc = twc_fail(s.app.name, TWC_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    for (i = 0; i < listen->nlist; i++) {
        if (twc_endpoint_parse_server(&eps[i], listen->list[i], &err) < 0) {
            rc = twc_fail(s.app.name, TWC_EXIT_USAGE, "--listen: %s", err.msg);
            goto out;
        }
    }
    rc = twc_app_start(&s.app);
    if (rc >= 0)
        goto out;
    twc_err_clear(&err);
    if (listen->nlist == 0) {
        rc = listen_default(&s, (uint16_t)twc_opts_num(&s.app.opts, "port"), &err);
    } else {
        rc = 0;
        for (i = 0; i < listen->nlist && rc == 0; i++)
            rc = listen_on(&s, &eps[i], &err);
    }
    if (rc < 0) {
        close_listeners(&s);
        rc = twc_fail_err(s.app.name, &err, 0);
        goto out;
    }
    if (twc_reactor_on_signal(s.app.reactor, SIGTERM, on_stop_signal, &s, &err) < 0 ||
        twc_reactor_on_signal(s.app.reactor, SIGINT, on_stop_signal, &s, &err) < 0) {
        close_listeners(&s);
        rc = twc_fail_err(s.app.name, &err, 0);
        goto out;
    }
    twc_app_ready(&s.app);
    rc = twc_reactor_run(s.app.reactor) < 0 ? TWC_EXIT_SOFTWARE : TWC_EXIT_OK;
    close_listeners(&s);
    twc_timer_free(s.grace);
    twc_reactor_on_signal(s.app.reactor, SIGTERM, NULL, NULL, NULL);
    twc_reactor_on_signal(s.app.reactor, SIGINT, NULL, NULL, NULL);
    twc_log_stopped(s.app.reactor, SYSTEM);
out:
    free(eps);
    free(s.listeners);
    free(s.udps);
    twc_app_cleanup(&s.app);
    return rc;
}
