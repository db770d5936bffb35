/*
 * twc client tls: the netcat-like client of cmd/client.c over TLS.
 *
 *   twc client tls [-k] [--ca FILE] [--servername NAME] [-w SECONDS] HOST:PORT
 *
 * stdin goes to the peer and the peer to stdout once the handshake is done,
 * with the flow control of `client tcp` both ways. At stdin EOF we send
 * close_notify and half-close the socket (TLS shutdown_write), then keep
 * reading until the peer's close_notify; exit 0. A peer that closes the socket
 * without close_notify may have been cut short (RFC 8446 §6.1): that is
 * reported and exits 1.
 *
 * Exit codes: 69 when the TCP connection cannot be made (or the name cannot be
 * resolved, or the handshake does not finish in time), and curl's codes for TLS
 * failures, as `client http` uses them (shared/CLI.md): 60 when the peer's
 * certificate fails verification (unknown CA, expired, wrong host name), 35 for
 * any other handshake failure (no common version, an alert). A CA file that
 * cannot be read or holds no certificate is 66.
 *
 * Built like `client tcp` (cmd/client.c): a connector for numeric hosts,
 * c-ares and Happy Eyeballs (lib/connect.h) for names, with the user factory
 * wrapped by twc_tls_factory_new, so the protocol below is built only once the
 * handshake is done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/stdstream.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/connect.h"
#include "lib/deferred.h"
#include "lib/limits.h"
#include "lib/protocol.h"
#include "lib/resolver.h"
#include "lib/stream.h"
#include "lib/tls.h"

/* Exit codes for TLS failures: curl's (shared/CLI.md, `client http`). */
enum {
    EXIT_TLS_HANDSHAKE = 35, /* CURLE_SSL_CONNECT_ERROR */
    EXIT_TLS_VERIFY = 60,    /* CURLE_PEER_FAILED_VERIFICATION */
};

extern const struct twc_optset twc_client_tls_set;
int twc_client_tls(int argc, char **argv);

static const struct twc_option tls_opts[] = {
    {"insecure", 'k', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "do not verify the peer's certificate or host name"},
    {"ca", 0, TWC_OPT_PATH, 0, "FILE", NULL, NULL, 0, 0,
     "trust the CA certificates in FILE (PEM) instead of the system store"},
    {"servername", 0, TWC_OPT_STRING, 0, "NAME", NULL, NULL, 0, 0,
     "send NAME in SNI and check the certificate against it (default: HOST)"},
    {"timeout", 'w', TWC_OPT_SECONDS, 0, NULL, "30", NULL, 0, 0,
     "give up connecting after SECONDS"},
};

const struct twc_optset twc_client_tls_set = {
    "client tls",
    "[-k] [--ca FILE] [--servername NAME] [-w SECONDS] HOST:PORT",
    "connect to HOST:PORT over TLS: stdin to the peer, the peer to stdout",
    tls_opts,
    sizeof(tls_opts) / sizeof(tls_opts[0]),
    0,
    NULL,
    "TLS 1.2 or 1.3; the peer is verified against the system CAs (or --ca) and\n"
    "HOST (or --servername) unless -k. At stdin EOF: close_notify and half-close;\n"
    "exits 0 once the peer closes, 69 if the connection fails, 60 if the\n"
    "certificate is rejected, 35 if the handshake fails otherwise.",
};

struct ncs {
    struct twc_app app;
    twc_factory factory; /* the user factory behind the TLS wrapper */
    twc_protocol proto;
    twc_tls_ctx *ctx;
    twc_tls_factory *tf;
    twc_connector *connector; /* numeric hosts */
    twc_resolver *resolver;   /* host names */
    twc_deferred *by_name;
    struct twc_stdio io;
    char host[256];
    uint16_t port;
    char target[TWC_ADDR_STRLEN + 256];
    int connected;
    int lost;
    int exit_code;
};

/* "HOST:PORT", "[V6]:PORT" or "V6\:ESCAPED:PORT" into host and port. */
static int split_target(const char *s, char *host, size_t hostlen, uint16_t *port, twc_err *err)
{
    const char *colon = NULL, *p;
    size_t at = 0;
    uint64_t v;
    int depth = 0;

    /* The port follows the last ':' that is not escaped and not in brackets. */
    for (p = s; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '[')
            depth++;
        else if (*p == ']' && depth > 0)
            depth--;
        else if (*p == ':' && depth == 0)
            colon = p;
    }
    if (colon == NULL || colon == s)
        return twc_err_set(err, TWC_EINVAL, "'%s' is not HOST:PORT", s);
    if (twc_parse_u64(colon + 1, strlen(colon + 1), 1, 65535, &v) < 0)
        return twc_err_set(err, TWC_EINVAL, "'%s': port '%s' is not a number 1-65535", s,
                           colon + 1);
    for (p = s; p < colon; p++) {
        if (*p == '\\' && p + 1 < colon)
            p++;
        if (at + 1 >= hostlen)
            return twc_err_set(err, TWC_EINVAL, "'%s': host name too long", s);
        host[at++] = *p;
    }
    host[at] = '\0';
    if (at >= 2 && host[0] == '[' && host[at - 1] == ']') {
        memmove(host, host + 1, at - 2);
        host[at - 2] = '\0';
    }
    if (host[0] == '\0')
        return twc_err_set(err, TWC_EINVAL, "'%s' is not HOST:PORT", s);
    *port = (uint16_t)v;
    return 0;
}

static void ncs_finish(struct ncs *c)
{
    if (c->lost && twc_stdio_pending(&c->io) == 0)
        twc_reactor_stop(c->app.reactor);
}

static void ncs_on_input(void *arg, const uint8_t *data, size_t len)
{
    struct ncs *c = arg;

    if (c->lost)
        return;
    if (len == 0) { /* stdin EOF: close_notify, then half-close the socket */
        if (twc_transport_shutdown_write(c->proto.transport) < 0)
            twc_log_debug(c->app.reactor, c->app.log_system, "half-close not supported");
        return;
    }
    twc_transport_write(c->proto.transport, data, len);
}

static void ncs_on_output_drained(void *arg)
{
    struct ncs *c = arg;

    if (c->lost) {
        ncs_finish(c);
        return;
    }
    twc_transport_resume_reading(c->proto.transport);
}

static void ncs_on_output_error(void *arg, int sys_errno)
{
    struct ncs *c = arg;

    if (sys_errno != EPIPE)
        twc_fail(c->app.name, 0, "cannot write to stdout: %s", strerror(sys_errno));
    c->exit_code = TWC_EXIT_FAILURE;
    if (c->lost)
        twc_reactor_stop(c->app.reactor);
    else
        twc_transport_abort(c->proto.transport);
}

static void ncs_connection_made(twc_protocol *p)
{
    struct ncs *c = container_of(p, struct ncs, proto);
    const char *subject = twc_tls_peer_subject(p->transport);

    c->connected = 1;
    twc_log_debug(c->app.reactor, c->app.log_system, "connected to %s: %s, peer %s%s", c->target,
                  twc_tls_version(p->transport), subject != NULL ? subject : "(no certificate)",
                  twc_tls_session_reused(p->transport) ? ", resumed" : "");
    twc_stdio_start_input(&c->io);
}

static void ncs_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct ncs *c = container_of(p, struct ncs, proto);

    if (twc_stdio_write(&c->io, data, len) > 0)
        twc_transport_pause_reading(p->transport);
}

static void ncs_pause_producing(twc_protocol *p)
{
    twc_stdio_pause_input(&container_of(p, struct ncs, proto)->io);
}

static void ncs_write_drained(twc_protocol *p)
{
    twc_stdio_resume_input(&container_of(p, struct ncs, proto)->io);
}

static void ncs_connection_lost(twc_protocol *p, const twc_err *why)
{
    struct ncs *c = container_of(p, struct ncs, proto);

    c->lost = 1;
    twc_stdio_stop_input(&c->io);
    if (why != NULL && why->code != 0 && c->exit_code == 0) {
        twc_fail(c->app.name, 0, "connection to %s lost: %s", c->target,
                 why->msg[0] != '\0' ? why->msg : twc_strerror(why->code));
        c->exit_code = TWC_EXIT_FAILURE;
    }
    ncs_finish(c);
}

static const struct twc_protocol_ops ncs_ops = {
    .name = "client",
    .connection_made = ncs_connection_made,
    .data_received = ncs_data_received,
    .pause_producing = ncs_pause_producing,
    .write_drained = ncs_write_drained,
    .connection_lost = ncs_connection_lost,
};

static twc_protocol *ncs_build(twc_factory *f, const twc_addr *peer)
{
    struct ncs *c = container_of(f, struct ncs, factory);

    (void)peer;
    c->proto.ops = &ncs_ops;
    return &c->proto;
}

/* TLS failures get curl's codes; everything before the handshake is 69. */
static int failure_exit(int code)
{
    switch (code) {
    case TWC_ECANCELED:
        return 128 + SIGTERM;
    case TWC_ETLS_VERIFY:
        return EXIT_TLS_VERIFY;
    default:
        return twc_err_domain_of(code) == TWC_DOMAIN_TLS ? EXIT_TLS_HANDSHAKE
                                                         : TWC_EXIT_UNAVAILABLE;
    }
}

/* The TCP connect (numeric host) or the handshake failed. */
static void ncs_connection_failed(twc_factory *f, const twc_err *why)
{
    struct ncs *c = container_of(f, struct ncs, factory);

    if (c->exit_code == 0) {
        if (why->msg[0] != '\0')
            twc_fail(c->app.name, 0, "%s", why->msg);
        else
            twc_fail(c->app.name, 0, "cannot connect to %s: %s", c->target,
                     twc_strerror(why->code));
        c->exit_code = failure_exit(why->code);
    }
    twc_reactor_stop(c->app.reactor);
}

static const struct twc_factory_ops ncs_factory_ops = {
    .build = ncs_build,
    .connection_failed = ncs_connection_failed,
};

static void on_by_name_failed(void *arg, twc_result *res)
{
    struct ncs *c = arg;

    ncs_connection_failed(&c->factory, twc_result_err(res));
    twc_result_set(res, NULL, NULL); /* handled */
}

static void ncs_on_signal(twc_reactor *r, int signo, void *arg)
{
    struct ncs *c = arg;

    c->exit_code = 128 + signo;
    if (c->connected && !c->lost) {
        twc_transport_abort(c->proto.transport);
        return;
    }
    /* Connecting or handshaking: nothing to flush. */
    if (c->by_name != NULL && !twc_deferred_fired(c->by_name))
        twc_deferred_cancel(c->by_name);
    twc_reactor_stop(r);
}

/* The TLS context from the options. Returns 0 or an exit code (printed). */
static int make_context(struct ncs *c)
{
    struct twc_tls_client_opts co;
    const char *sni = twc_opts_str(&c->app.opts, "servername");
    twc_err err;

    memset(&co, 0, sizeof(co));
    co.ca_certs = twc_opts_str(&c->app.opts, "ca");
    co.insecure = twc_opts_num(&c->app.opts, "insecure") > 0;
    co.alpn = ""; /* a byte stream: offer no application protocol */
    twc_err_clear(&err);
    c->ctx = twc_tls_ctx_new_client(&co, &err);
    if (c->ctx == NULL)
        return twc_fail(c->app.name,
                        err.code == TWC_ETLS_CONFIG ? TWC_EXIT_NOINPUT : twc_exit_code(err.code, 1),
                        "%s", err.msg);
    c->tf = twc_tls_factory_new(c->ctx, &c->factory, 0, sni != NULL ? sni : c->host, &err);
    if (c->tf == NULL)
        return twc_fail(c->app.name, TWC_EXIT_SOFTWARE, "%s", err.msg);
    return 0;
}

/* Start connecting (numeric: a connector; a name: c-ares + Happy Eyeballs).
 * Returns 0 or an exit code (printed). */
static int start_connect(struct ncs *c)
{
    unsigned timeout_ms = (unsigned)twc_opts_num(&c->app.opts, "timeout");
    twc_factory *f = twc_tls_factory_base(c->tf);
    twc_addr to;
    twc_err err;

    twc_err_clear(&err);
    if (twc_addr_from_ip(&to, c->host, c->port, NULL) == 0) {
        c->connector = twc_connector_new(c->app.reactor, &to, timeout_ms, f, &err);
        if (c->connector == NULL)
            return twc_fail_err(c->app.name, &err, 1);
        return 0;
    }
    {
        /* /etc/hosts, then the nameservers of $TWC_RESOLV_CONF or /etc/resolv.conf. */
        struct twc_resolver_opts ro = {.resolv_conf = getenv("TWC_RESOLV_CONF")};

        c->resolver = twc_resolver_new(c->app.reactor, &ro, &err);
        if (c->resolver == NULL)
            return twc_fail_err(c->app.name, &err, 1);
    }
    c->by_name = twc_connect_host(c->app.reactor, c->resolver, c->host, c->port, timeout_ms, f);
    twc_deferred_add_errback(c->by_name, on_by_name_failed, c);
    return 0;
}

int twc_client_tls(int argc, char **argv)
{
    struct ncs c;
    twc_err err;
    int rc;

    memset(&c, 0, sizeof(c));
    c.factory.ops = &ncs_factory_ops;
    c.app.log_system = "client";
    rc = twc_app_parse(&c.app, &twc_client_tls_set, argc, argv);
    if (rc >= 0)
        goto out;
    if (c.app.args.n != 1) {
        rc = twc_fail(c.app.name, TWC_EXIT_USAGE,
                      "expected one HOST:PORT (see twc client tls --help)");
        goto out;
    }
    twc_err_clear(&err);
    if (split_target(c.app.args.v[0], c.host, sizeof(c.host), &c.port, &err) < 0) {
        rc = twc_fail_err(c.app.name, &err, 1);
        goto out;
    }
    snprintf(c.target, sizeof(c.target), "%s%s%s:%u", strchr(c.host, ':') ? "[" : "", c.host,
             strchr(c.host, ':') ? "]" : "", (unsigned)c.port);
    rc = make_context(&c);
    if (rc != 0)
        goto cleanup;
    rc = twc_app_start(&c.app);
    if (rc >= 0)
        goto cleanup;
    if (twc_stdio_init(&c.io, c.app.reactor, TWC_UDP_MAX_DATAGRAM, &c) < 0) {
        rc = twc_fail(c.app.name, TWC_EXIT_SOFTWARE, "out of memory");
        goto cleanup;
    }
    c.io.on_input = ncs_on_input;
    c.io.on_output_drained = ncs_on_output_drained;
    c.io.on_output_error = ncs_on_output_error;
    twc_stdio_edit_lines(&c.io, ""); /* line editing when stdin is a tty */
    rc = start_connect(&c);
    if (rc != 0)
        goto cleanup;
    twc_reactor_on_signal(c.app.reactor, SIGINT, ncs_on_signal, &c, NULL);
    twc_reactor_on_signal(c.app.reactor, SIGTERM, ncs_on_signal, &c, NULL);
    if (twc_reactor_run(c.app.reactor) < 0 && c.exit_code == 0)
        c.exit_code = TWC_EXIT_SOFTWARE;
    rc = c.exit_code;
    twc_reactor_on_signal(c.app.reactor, SIGINT, NULL, NULL, NULL);
    twc_reactor_on_signal(c.app.reactor, SIGTERM, NULL, NULL, NULL);
cleanup:
    twc_deferred_unref(c.by_name);
    twc_resolver_free(c.resolver);
    twc_connector_free(c.connector);
    twc_stdio_cleanup(&c.io);
    twc_tls_factory_free(c.tf);
    twc_tls_ctx_free(c.ctx);
out:
    twc_app_cleanup(&c.app);
    return rc;
}
