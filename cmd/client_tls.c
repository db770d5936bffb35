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
#include "cmd/netcat.h"
#include "cmd/stdstream.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/protocol.h"
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

/* The netcat core (cmd/netcat.c) connected through a TLS factory wrapper. */
struct ncs {
    struct twc_netcat nc; /* first: its factory is the user factory behind the wrapper */
    twc_tls_ctx *ctx;
    twc_tls_factory *tf;
    char host[256];
    uint16_t port;
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

static void log_connected(struct twc_netcat *nc)
{
    twc_transport *t = nc->proto.transport;
    const char *subject = twc_tls_peer_subject(t);

    twc_log_debug(nc->app.reactor, nc->app.log_system, "connected to %s: %s, peer %s%s", nc->target,
                  twc_tls_version(t), subject != NULL ? subject : "(no certificate)",
                  twc_tls_session_reused(t) ? ", resumed" : "");
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

/* The TLS context from the options. Returns 0 or an exit code (printed). */
static int make_context(struct ncs *c)
{
    struct twc_tls_client_opts co;
    const char *sni = twc_opts_str(&c->nc.app.opts, "servername");
    twc_err err;

    memset(&co, 0, sizeof(co));
    co.ca_certs = twc_opts_str(&c->nc.app.opts, "ca");
    co.insecure = twc_opts_num(&c->nc.app.opts, "insecure") > 0;
    co.alpn = ""; /* a byte stream: offer no application protocol */
    twc_err_clear(&err);
    c->ctx = twc_tls_ctx_new_client(&co, &err);
    if (c->ctx == NULL)
        return twc_fail(c->nc.app.name,
                        err.code == TWC_ETLS_CONFIG ? TWC_EXIT_NOINPUT : twc_exit_code(err.code, 1),
                        "%s", err.msg);
    c->tf = twc_tls_factory_new(c->ctx, twc_netcat_factory(&c->nc), 0, sni != NULL ? sni : c->host,
                                &err);
    if (c->tf == NULL)
        return twc_fail(c->nc.app.name, TWC_EXIT_SOFTWARE, "%s", err.msg);
    return 0;
}

int twc_client_tls(int argc, char **argv)
{
    struct ncs c;
    twc_addr to;
    twc_err err;
    int rc;

    memset(&c, 0, sizeof(c));
    twc_netcat_init(&c.nc);
    c.nc.failure_exit = failure_exit;
    c.nc.log_connected = log_connected;
    rc = twc_app_parse(&c.nc.app, &twc_client_tls_set, argc, argv);
    if (rc >= 0)
        goto out;
    if (c.nc.app.args.n != 1) {
        rc = twc_fail(c.nc.app.name, TWC_EXIT_USAGE,
                      "expected one HOST:PORT (see twc client tls --help)");
        goto out;
    }
    twc_err_clear(&err);
    if (split_target(c.nc.app.args.v[0], c.host, sizeof(c.host), &c.port, &err) < 0) {
        rc = twc_fail_err(c.nc.app.name, &err, 1);
        goto out;
    }
    snprintf(c.nc.target, sizeof(c.nc.target), "%s%s%s:%u", strchr(c.host, ':') ? "[" : "", c.host,
             strchr(c.host, ':') ? "]" : "", (unsigned)c.port);
    rc = make_context(&c);
    if (rc != 0)
        goto cleanup;
    rc = twc_app_start(&c.nc.app);
    if (rc >= 0)
        goto cleanup;
    /* A numeric host needs no lookup; a name goes through c-ares. */
    rc = twc_netcat_start(&c.nc, twc_tls_factory_base(c.tf),
                          twc_addr_from_ip(&to, c.host, c.port, NULL) == 0 ? &to : NULL, c.host,
                          c.port);
    if (rc == 0)
        rc = twc_netcat_run(&c.nc);
    twc_netcat_cleanup(&c.nc);
cleanup:
    twc_tls_factory_free(c.tf);
    twc_tls_ctx_free(c.ctx);
out:
    twc_app_cleanup(&c.nc.app);
    return rc;
}
