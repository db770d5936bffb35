/*
 * The netcat core of `twc client tcp|unix|tls`: stdin to the peer, the peer
 * to stdout, both on the reactor. Each direction is throttled by the other
 * end: a slow stdout reader pauses reading the peer, a peer that does not read
 * pauses reading stdin, so memory stays bounded.
 */
#include "cmd/netcat.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/connect.h"
#include "lib/limits.h"

static void finish(struct twc_netcat *c)
{
    /* Everything written to stdout: now we may stop. */
    if (c->lost && twc_stdio_pending(&c->io) == 0)
        twc_reactor_stop(c->app.reactor);
}

static void on_input(void *arg, const uint8_t *data, size_t len)
{
    struct twc_netcat *c = arg;

    if (c->lost)
        return;
    if (len == 0) { /* stdin EOF: half-close (TLS: close_notify first), keep reading */
        if (twc_transport_shutdown_write(c->proto.transport) < 0)
            twc_log_debug(c->app.reactor, c->app.log_system, "half-close not supported");
        return;
    }
    twc_transport_write(c->proto.transport, data, len);
}

static void on_output_drained(void *arg)
{
    struct twc_netcat *c = arg;

    if (c->lost) {
        finish(c);
        return;
    }
    twc_transport_resume_reading(c->proto.transport);
}

static void on_output_error(void *arg, int sys_errno)
{
    struct twc_netcat *c = arg;

    /* EPIPE: whoever reads our stdout is gone (`| head`); stop quietly. */
    if (sys_errno != EPIPE)
        twc_fail(c->app.name, 0, "cannot write to stdout: %s", strerror(sys_errno));
    c->exit_code = TWC_EXIT_FAILURE;
    if (c->lost)
        twc_reactor_stop(c->app.reactor);
    else
        twc_transport_abort(c->proto.transport);
}

static void connection_made(twc_protocol *p)
{
    struct twc_netcat *c = container_of(p, struct twc_netcat, proto);

    c->connected = 1;
    if (c->log_connected != NULL)
        c->log_connected(c);
    else
        twc_log_debug(c->app.reactor, c->app.log_system, "connected to %s", c->target);
    twc_stdio_start_input(&c->io);
}

static void data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct twc_netcat *c = container_of(p, struct twc_netcat, proto);

    /* Anything stdout could not take yet: stop reading the peer until it drains,
     * so a slow reader of our stdout slows the peer instead of growing memory. */
    if (twc_stdio_write(&c->io, data, len) > 0)
        twc_transport_pause_reading(p->transport);
}

/* The transport's output is above its high-water mark: stop reading stdin. */
static void pause_producing(twc_protocol *p)
{
    twc_stdio_pause_input(&container_of(p, struct twc_netcat, proto)->io);
}

static void write_drained(twc_protocol *p)
{
    twc_stdio_resume_input(&container_of(p, struct twc_netcat, proto)->io);
}

static void connection_lost(twc_protocol *p, const twc_err *why)
{
    struct twc_netcat *c = container_of(p, struct twc_netcat, proto);

    c->lost = 1;
    twc_stdio_stop_input(&c->io);
    if (why != NULL && why->code != 0 && c->exit_code == 0) {
        twc_fail(c->app.name, 0, "connection to %s lost: %s", c->target,
                 why->msg[0] != '\0' ? why->msg : twc_strerror(why->code));
        c->exit_code = TWC_EXIT_FAILURE;
    }
    finish(c);
}

static const struct twc_protocol_ops netcat_ops = {
    .name = "client",
    .connection_made = connection_made,
    .data_received = data_received,
    .pause_producing = pause_producing,
    .write_drained = write_drained,
    .connection_lost = connection_lost,
};

static twc_protocol *build(twc_factory *f, const twc_addr *peer)
{
    struct twc_netcat *c = container_of(f, struct twc_netcat, factory);

    (void)peer;
    c->proto.ops = &netcat_ops;
    return &c->proto;
}

/* The connect (or, for TLS, the handshake) failed, or was cancelled. */
static void connection_failed(twc_factory *f, const twc_err *why)
{
    struct twc_netcat *c = container_of(f, struct twc_netcat, factory);

    if (c->exit_code == 0) {
        /* The transport's message names the target already. */
        if (why->msg[0] != '\0')
            twc_fail(c->app.name, 0, "%s", why->msg);
        else
            twc_fail(c->app.name, 0, "cannot connect to %s: %s", c->target,
                     twc_strerror(why->code));
        if (c->failure_exit != NULL)
            c->exit_code = c->failure_exit(why->code);
        else
            c->exit_code = why->code == TWC_ECANCELED ? 128 + SIGTERM : TWC_EXIT_UNAVAILABLE;
    }
    twc_reactor_stop(c->app.reactor);
}

static const struct twc_factory_ops netcat_factory_ops = {
    .build = build,
    .connection_failed = connection_failed,
};

/* Connect by name failed (lookup, every attempt, timeout or cancel): report it
 * as the factory hears a numeric connect fail. */
static void on_by_name_failed(void *arg, twc_result *res)
{
    struct twc_netcat *c = arg;

    connection_failed(&c->factory, twc_result_err(res));
    twc_result_set(res, NULL, NULL); /* handled */
}

static void on_signal(twc_reactor *r, int signo, void *arg)
{
    struct twc_netcat *c = arg;

    c->exit_code = 128 + signo;
    if (c->connected && !c->lost) {
        twc_transport_abort(c->proto.transport);
        return;
    }
    /* Connecting (or, for TLS, handshaking): nothing to flush. A cancelled
     * attempt reports later; the exit code is already set, so it prints nothing. */
    if (!c->connected) {
        if (c->by_name != NULL && !twc_deferred_fired(c->by_name))
            twc_deferred_cancel(c->by_name);
        else if (c->connector != NULL)
            twc_connector_stop(c->connector);
    }
    twc_reactor_stop(r);
}

void twc_netcat_init(struct twc_netcat *nc)
{
    memset(nc, 0, sizeof(*nc));
    nc->factory.ops = &netcat_factory_ops;
    nc->app.log_system = "client";
}

twc_factory *twc_netcat_factory(struct twc_netcat *nc)
{
    return &nc->factory;
}

int twc_netcat_start(struct twc_netcat *c, twc_factory *f, const twc_addr *to, const char *host,
                     uint16_t port)
{
    unsigned timeout_ms = (unsigned)twc_opts_num(&c->app.opts, "timeout");
    twc_err err;

    if (twc_stdio_init(&c->io, c->app.reactor, TWC_UDP_MAX_DATAGRAM, c) < 0)
        return twc_fail(c->app.name, TWC_EXIT_SOFTWARE, "out of memory");
    c->io.on_input = on_input;
    c->io.on_output_drained = on_output_drained;
    c->io.on_output_error = on_output_error;
    twc_stdio_edit_lines(&c->io, ""); /* line editing when stdin is a tty */
    twc_err_clear(&err);
    if (to != NULL) {
        c->connector = twc_connector_new(c->app.reactor, to, timeout_ms, f, &err);
        if (c->connector == NULL)
            return twc_fail_err(c->app.name, &err, 1);
        return 0;
    }
    {
        /* /etc/hosts, then the nameservers of resolv.conf ($TWC_RESOLV_CONF, else
         * /etc/resolv.conf; tests point it at a loopback server), on the loop. */
        struct twc_resolver_opts ro = {.resolv_conf = getenv("TWC_RESOLV_CONF")};

        c->resolver = twc_resolver_new(c->app.reactor, &ro, &err);
        if (c->resolver == NULL)
            return twc_fail_err(c->app.name, &err, 1);
    }
    c->by_name = twc_connect_host(c->app.reactor, c->resolver, host, port, timeout_ms, f);
    twc_deferred_add_errback(c->by_name, on_by_name_failed, c);
    return 0;
}

int twc_netcat_run(struct twc_netcat *c)
{
    twc_reactor_on_signal(c->app.reactor, SIGINT, on_signal, c, NULL);
    twc_reactor_on_signal(c->app.reactor, SIGTERM, on_signal, c, NULL);
    if (twc_reactor_run(c->app.reactor) < 0 && c->exit_code == 0)
        c->exit_code = TWC_EXIT_SOFTWARE;
    twc_reactor_on_signal(c->app.reactor, SIGINT, NULL, NULL, NULL);
    twc_reactor_on_signal(c->app.reactor, SIGTERM, NULL, NULL, NULL);
    return c->exit_code;
}

void twc_netcat_cleanup(struct twc_netcat *c)
{
    twc_deferred_unref(c->by_name);
    twc_resolver_free(c->resolver);
    twc_connector_free(c->connector);
    twc_stdio_cleanup(&c->io);
}
