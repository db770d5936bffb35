/*
 * twc client: netcat-like clients (tcp, udp, unix) and `wait`.
 *
 *   twc client tcp|udp HOST:PORT
 *   twc client unix PATH
 *   twc client wait [--timeout S] ENDPOINT... [-- COMMAND...]
 *
 * tcp/unix: stdin goes to the peer and the peer to stdout, both driven by the
 * reactor (cmd/stdstream.c). At stdin EOF we half-close (shutdown write) and keep
 * reading until the peer closes; then exit 0. Flow control runs both ways:
 * when the transport's output is above its high-water mark we stop reading
 * stdin, and while stdout has unwritten bytes we pause reading the peer.
 *
 * udp: each read(2) of stdin is one datagram (so a pipe gives what was written
 * at once, up to 65507 bytes); replies go to stdout. After stdin EOF we wait
 * --quit-after seconds without a reply, then exit 0.
 *
 * tcp/unix with a terminal on stdin: lines are edited with libedit (history,
 * cursor keys; cmd/lineedit.c) and each line goes to the peer when entered;
 * Ctrl-D on an empty line is stdin EOF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd/client.h"
#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/endpoint.h"
#include "cmd/netcat.h"
#include "cmd/stdstream.h"
#include "lib/addr.h"
#include "lib/limits.h"
#include "lib/protocol.h"
#include "lib/stream.h"
#include "lib/udp.h"

/* ---- Option tables -------------------------------------------------------------- */

static const struct twc_option stream_opts[] = {
    {"timeout", 'w', TWC_OPT_SECONDS, 0, NULL, "30", NULL, 0, 0,
     "give up connecting after SECONDS"},
};

static const struct twc_option udp_opts[] = {
    {"quit-after", 'q', TWC_OPT_SECONDS, 0, NULL, "1", NULL, 0, 0,
     "after stdin ends, exit once no reply came for SECONDS"},
};

static const struct twc_option wait_opts[] = {
    {"timeout", 't', TWC_OPT_SECONDS, 0, NULL, "30", NULL, 0, 0,
     "exit 69 if the endpoints do not all accept within SECONDS"},
};

static const struct twc_optset client_tcp_set = {
    "client tcp",
    "[-w SECONDS] HOST:PORT",
    "connect to HOST:PORT over TCP: stdin to the peer, the peer to stdout",
    stream_opts,
    sizeof(stream_opts) / sizeof(stream_opts[0]),
    0,
    NULL,
    "At stdin EOF the write side is shut down; exits 0 once the peer closes,\n"
    "69 if the connection fails. IPv6: [::1]:80.",
};

static const struct twc_optset client_unix_set = {
    "client unix",
    "[-w SECONDS] PATH",
    "connect to the UNIX socket PATH: stdin to the peer, the peer to stdout",
    stream_opts,
    sizeof(stream_opts) / sizeof(stream_opts[0]),
    0,
    NULL,
    "At stdin EOF the write side is shut down; exits 0 once the peer closes,\n"
    "69 if the connection fails.",
};

static const struct twc_optset client_udp_set = {
    "client udp",
    "[-q SECONDS] HOST:PORT",
    "send each read of stdin as one UDP datagram to HOST:PORT; print replies",
    udp_opts,
    sizeof(udp_opts) / sizeof(udp_opts[0]),
    0,
    NULL,
    "Each read(2) of stdin becomes one datagram (at most 65507 bytes). After stdin\n"
    "ends, exits 0 once no reply arrived for --quit-after seconds; 69 if the peer\n"
    "refuses (ICMP port unreachable).",
};

static const struct twc_optset client_wait_set = {
    "client wait",
    "[-t SECONDS] ENDPOINT... [-- COMMAND [ARGS]...]",
    "wait until every ENDPOINT accepts connections, then run COMMAND",
    wait_opts,
    sizeof(wait_opts) / sizeof(wait_opts[0]),
    0,
    NULL,
    "ENDPOINT is tcp:HOST:PORT, unix:PATH, or an http(s):// URL (up once it\n"
    "answers 2xx or 3xx). Retries every 100 ms. Exits 0 (or\n"
    "with COMMAND's status) once all accepted, 69 at the timeout.",
};

/* cmd/client_tls.c */
extern const struct twc_optset twc_client_tls_set;
int twc_client_tls(int argc, char **argv);
/* cmd/client_dns.c */
extern const struct twc_optset twc_client_dns_set;
int twc_client_dns(int argc, char **argv);
/* cmd/client_http.c */
extern const struct twc_optset twc_client_http_set;
int twc_client_http(int argc, char **argv);

static const struct twc_optset *const client_subs[] = {
    &client_tcp_set,  &twc_client_tls_set, &client_udp_set,
    &client_unix_set, &client_wait_set,    &twc_client_dns_set, &twc_client_http_set, NULL,
};

const struct twc_optset twc_optset_client = {
    "client",
    "tcp|tls|udp|unix|wait|dns|http [OPTIONS] [ARGS]",
    "scripted protocol clients: tcp, udp, unix, wait",
    NULL,
    0,
    1,
    client_subs,
    NULL,
};

/* ---- Addresses ------------------------------------------------------------------ */

int twc_client_resolve(const char *host, uint16_t port, int socktype, twc_addr *out, twc_err *err)
{
    struct addrinfo hints, *res = NULL;
    char serv[8];
    int rc;

    if (twc_addr_from_ip(out, host, port, NULL) == 0)
        return 0;
    /* A host name for udp and wait, which need one address. This runs before the
     * reactor starts, so a blocking lookup stalls nothing; `client tcp` connects
     * by name on the loop instead (c-ares and Happy Eyeballs, lib/connect.h). */
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    snprintf(serv, sizeof(serv), "%u", (unsigned)port);
    rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0 || res == NULL)
        return twc_err_set(err, TWC_EDNS, "cannot resolve '%s': %s", host,
                           rc != 0 ? gai_strerror(rc) : "no address");
    twc_addr_set(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* Split "HOST:PORT", "[V6]:PORT", "V6\:ESCAPED:PORT" or "name:80". A numeric
 * host fills *out and returns 0; a name fills host/port and returns 1. */
static int split_hostport(const char *s, twc_addr *out, char *host, size_t hostlen,
                          uint16_t *port, twc_err *err)
{
    const char *colon = strrchr(s, ':');
    uint64_t p;
    size_t hlen;

    if (twc_addr_parse_hostport(out, s, NULL) == 0 && twc_addr_port(out) != 0)
        return 0;
    if (colon == NULL || colon == s || (s[0] == '[' && colon[-1] != ']'))
        return twc_err_set(err, TWC_EINVAL, "'%s' is not HOST:PORT", s);
    hlen = (size_t)(colon - s);
    if (twc_parse_u64(colon + 1, strlen(colon + 1), 1, 65535, &p) < 0)
        return twc_err_set(err, TWC_EINVAL, "'%s': '%s' is not a port number (1-65535)", s,
                           colon + 1);
    if (hlen >= hostlen)
        return twc_err_set(err, TWC_EINVAL, "'%s': host name too long", s);
    if (s[0] == '[') { /* [name-or-v6]:port */
        s++;
        hlen -= 2;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 1;
}

/* HOST:PORT to one address, looking a name up before the loop starts. */
static int parse_hostport(const char *s, int socktype, twc_addr *out, twc_err *err)
{
    char host[256];
    uint16_t port;
    int rc = split_hostport(s, out, host, sizeof(host), &port, err);

    if (rc <= 0)
        return rc;
    return twc_client_resolve(host, port, socktype, out, err);
}

/* ---- tcp / unix: the netcat core (cmd/netcat.c) over a plain connection ---------- */

static int run_stream(const struct twc_optset *set, int argc, char **argv)
{
    struct twc_netcat c;
    twc_addr to;
    twc_err err;
    char host[256];
    uint16_t port = 0;
    int rc, by_name, unix_socket = set == &client_unix_set;

    twc_netcat_init(&c);
    rc = twc_app_parse(&c.app, set, argc, argv);
    if (rc >= 0)
        goto out;
    if (c.app.args.n != 1) {
        rc = twc_fail(c.app.name, TWC_EXIT_USAGE, "expected one %s (see twc %s --help)",
                      unix_socket ? "PATH" : "HOST:PORT", set->name);
        goto out;
    }
    twc_err_clear(&err);
    rc = unix_socket ? twc_addr_from_path(&to, c.app.args.v[0], &err)
                     : split_hostport(c.app.args.v[0], &to, host, sizeof(host), &port, &err);
    if (rc < 0) {
        rc = twc_fail_err(c.app.name, &err, 1);
        goto out;
    }
    by_name = rc == 1;
    if (by_name)
        snprintf(c.target, sizeof(c.target), "%s:%u", host, (unsigned)port);
    else
        twc_addr_format(&to, c.target, sizeof(c.target));
    rc = twc_app_start(&c.app);
    if (rc >= 0)
        goto out;
    rc = twc_netcat_start(&c, twc_netcat_factory(&c), by_name ? NULL : &to, host, port);
    if (rc == 0)
        rc = twc_netcat_run(&c);
    twc_netcat_cleanup(&c);
out:
    twc_app_cleanup(&c.app);
    return rc;
}

/* ---- udp ------------------------------------------------------------------------ */

struct ncu {
    struct twc_app app;
    twc_datagram_protocol proto;
    twc_udp *udp;
    struct twc_stdio io;
    twc_timer *quit; /* after stdin EOF: exit when no reply came for quit_ms */
    uint64_t quit_ms;
    int eof;
    int done;
    int exit_code;
    char target[TWC_ADDR_STRLEN];
};

static void ncu_stop(struct ncu *u)
{
    u->done = 1;
    if (twc_stdio_pending(&u->io) == 0)
        twc_reactor_stop(u->app.reactor);
}

static void ncu_on_quit(twc_timer *t, void *arg)
{
    (void)t;
    ncu_stop(arg);
}

static void ncu_on_input(void *arg, const uint8_t *data, size_t len)
{
    struct ncu *u = arg;
    int rc;

    if (len == 0) {
        u->eof = 1;
        twc_timer_start(u->quit, u->quit_ms, 0);
        return;
    }
    rc = twc_udp_send(u->udp, data, len, NULL);
    if (rc < 0 && rc != -EAGAIN)
        twc_log_warnx(u->app.reactor, u->app.log_system, "cannot send %zu bytes to %s: %s", len,
                      u->target, twc_strerror(rc));
}

static void ncu_on_output_drained(void *arg)
{
    struct ncu *u = arg;

    if (u->done) {
        twc_reactor_stop(u->app.reactor);
        return;
    }
    twc_udp_resume(u->udp);
}

static void ncu_on_output_error(void *arg, int sys_errno)
{
    struct ncu *u = arg;

    if (sys_errno != EPIPE)
        twc_fail(u->app.name, 0, "cannot write to stdout: %s", strerror(sys_errno));
    u->exit_code = TWC_EXIT_FAILURE;
    u->done = 1;
    twc_reactor_stop(u->app.reactor);
}

static void ncu_datagram(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                         const twc_addr *from)
{
    struct ncu *u = container_of(p, struct ncu, proto);

    (void)from; /* connected: only the peer's datagrams arrive */
    if (u->eof)
        twc_timer_start(u->quit, u->quit_ms, 0); /* a reply: wait quit_ms more */
    if (twc_stdio_write(&u->io, data, len) > 0)
        twc_udp_pause(u->udp);
}

static void ncu_error(twc_datagram_protocol *p, const twc_err *err)
{
    struct ncu *u = container_of(p, struct ncu, proto);

    if (u->exit_code != 0)
        return;
    twc_fail(u->app.name, 0, "%s: %s", u->target,
             err->msg[0] != '\0' ? err->msg : twc_strerror(err->code));
    u->exit_code = twc_exit_code(err->code, 1);
    twc_stdio_stop_input(&u->io);
    ncu_stop(u);
}

static const struct twc_datagram_ops ncu_ops = {
    .name = "client",
    .datagram_received = ncu_datagram,
    .error_received = ncu_error,
};

static void ncu_on_signal(twc_reactor *r, int signo, void *arg)
{
    struct ncu *u = arg;

    u->exit_code = 128 + signo;
    u->done = 1;
    twc_reactor_stop(r);
}

static int run_udp(int argc, char **argv)
{
    struct ncu u;
    twc_addr to;
    twc_err err;
    int rc;

    memset(&u, 0, sizeof(u));
    u.proto.ops = &ncu_ops;
    u.app.log_system = "client";
    rc = twc_app_parse(&u.app, &client_udp_set, argc, argv);
    if (rc >= 0)
        goto out;
    if (u.app.args.n != 1) {
        rc = twc_fail(u.app.name, TWC_EXIT_USAGE,
                      "expected one HOST:PORT (see twc client udp --help)");
        goto out;
    }
    twc_err_clear(&err);
    if (parse_hostport(u.app.args.v[0], SOCK_DGRAM, &to, &err) < 0) {
        rc = twc_fail_err(u.app.name, &err, 1);
        goto out;
    }
    twc_addr_format(&to, u.target, sizeof(u.target));
    u.quit_ms = (uint64_t)twc_opts_num(&u.app.opts, "quit-after");
    rc = twc_app_start(&u.app);
    if (rc >= 0)
        goto out;
    if (twc_stdio_init(&u.io, u.app.reactor, TWC_UDP_MAX_DATAGRAM - 28, &u) < 0 ||
        (u.quit = twc_timer_new(u.app.reactor, ncu_on_quit, &u)) == NULL) {
        rc = twc_fail(u.app.name, TWC_EXIT_SOFTWARE, "out of memory");
        goto cleanup;
    }
    u.io.on_input = ncu_on_input;
    u.io.on_output_drained = ncu_on_output_drained;
    u.io.on_output_error = ncu_on_output_error;
    /* Bind the wildcard of the peer's family, then connect: only the peer's
     * datagrams arrive, and ICMP errors are reported (error_received). */
    u.udp = twc_udp_listen(u.app.reactor, twc_addr_family(&to) == AF_INET6 ? "::" : "0.0.0.0", 0,
                           &u.proto, &err);
    if (u.udp == NULL || twc_udp_connect(u.udp, &to, &err) < 0) {
        rc = twc_fail(u.app.name, twc_exit_code(err.code, 1), "%s: %s", u.target, err.msg);
        goto cleanup;
    }
    twc_reactor_on_signal(u.app.reactor, SIGINT, ncu_on_signal, &u, NULL);
    twc_reactor_on_signal(u.app.reactor, SIGTERM, ncu_on_signal, &u, NULL);
    twc_stdio_start_input(&u.io);
    if (twc_reactor_run(u.app.reactor) < 0 && u.exit_code == 0)
        u.exit_code = TWC_EXIT_SOFTWARE;
    rc = u.exit_code;
    twc_reactor_on_signal(u.app.reactor, SIGINT, NULL, NULL, NULL);
    twc_reactor_on_signal(u.app.reactor, SIGTERM, NULL, NULL, NULL);
cleanup:
    twc_udp_free(u.udp);
    twc_timer_free(u.quit);
    twc_stdio_cleanup(&u.io);
out:
    twc_app_cleanup(&u.app);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------- */

int twc_cmd_client(int argc, char **argv)
{
    struct twc_app app;
    const char *sub;
    int rc, i;

    memset(&app, 0, sizeof(app));
    rc = twc_app_parse(&app, &twc_optset_client, argc, argv);
    if (rc >= 0)
        goto out;
    if (app.args.n == 0) {
        twc_opts_help(stderr, &twc_optset_client, NULL);
        rc = TWC_EXIT_USAGE;
        goto out;
    }
    sub = app.args.v[0];
    /* Hand the subcommand its words, global options given before it included:
     * argv = [sub, (words before sub), (words after sub)]. */
    for (i = 1; i < argc && argv[i] != sub; i++)
        ;
    {
        char **v = calloc((size_t)argc + 1, sizeof(*v));
        int n = 0, j;

        if (v == NULL) {
            rc = twc_fail("client", TWC_EXIT_SOFTWARE, "out of memory");
            goto out;
        }
        v[n++] = argv[i];
        for (j = 1; j < i; j++)
            v[n++] = argv[j];
        for (j = i + 1; j < argc; j++)
            v[n++] = argv[j];
        if (strcmp(sub, "tcp") == 0)
            rc = run_stream(&client_tcp_set, n, v);
        else if (strcmp(sub, "tls") == 0)
            rc = twc_client_tls(n, v);
        else if (strcmp(sub, "unix") == 0)
            rc = run_stream(&client_unix_set, n, v);
        else if (strcmp(sub, "udp") == 0)
            rc = run_udp(n, v);
        else if (strcmp(sub, "dns") == 0)
            rc = twc_client_dns(n, v);
        else if (strcmp(sub, "http") == 0)
            rc = twc_client_http(n, v);
        else if (strcmp(sub, "wait") == 0)
            rc = twc_client_wait(&client_wait_set, n, v);
        else
            rc = twc_fail("client", TWC_EXIT_USAGE, "unknown client '%s' (see twc client --help)",
                          sub);
        free(v);
    }
out:
    twc_app_cleanup(&app);
    return rc;
}
