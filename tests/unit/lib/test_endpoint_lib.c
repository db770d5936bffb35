/*
 * lib/endpoint: every endpoint form of shared/CLI.md parsed and formatted,
 * every error message, and listening/connecting for real on loopback: tcp,
 * unix, ssl/tls (certificates from tls_certs.h), systemd socket activation,
 * udp, connect failures and cancellation.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "deferred.h"
#include "endpoint.h"
#include "err.h"
#include "protocol.h"
#include "reactor.h"
#include "tls.h"

#include "tls_certs.h"

static struct tls_certs certs;

/* ---- Parsing ----------------------------------------------------------------- */

struct form {
    int client;
    const char *in;
    const char *canonical; /* twc_endpoint_format of the parse */
};

static const struct form forms[] = {
    {0, "tcp:8080", "tcp:8080"},
    {0, "8080", "tcp:8080"},
    {0, "0", "tcp:0"},
    {0, "tcp:80:interface=127.0.0.1:backlog=64", "tcp:80:interface=127.0.0.1"},
    {0, "tcp:port=81", "tcp:81"},
    {0, "8080:interface=[::1]", "tcp:8080:interface=[::1]"},
    {0, "tcp:80:interface=[::1]", "tcp:80:interface=[::1]"},
    {0, "tcp:80:interface=\\:\\:1", "tcp:80:interface=[::1]"},
    {0, "udp:53", "udp:53"},
    {0, "udp:5353:interface=[fe80::1%lo]", "udp:5353:interface=[fe80::1%lo]"},
    {0, "ssl:8443:privateKey=k.pem", "ssl:8443"},
    {0,
     "ssl:443:privateKey=/a/k.pem:certKey=/a/c.pem:extraCertChain=ch.pem:sniCerts=/s"
     ":interface=127.0.0.1",
     "ssl:443:interface=127.0.0.1"},
    {0, "ssl:0:sniCerts=/etc/sni", "ssl:0"},
    {0, "ssl:8443:privateKey=C\\:\\\\k.pem:interface=::1]", NULL},
    {0, "unix:/run/twc.sock", "unix:/run/twc.sock"},
    {0, "unix:/run/twc.sock:mode=0660:lockfile=1", "unix:/run/twc.sock"},
    {0, "unix:/tmp/a=b", "unix:/tmp/a=b"},
    {0, "unix:/tmp/odd\\:name", "unix:/tmp/odd\\:name"},
    {0, "unix:/tmp/br\\[x", "unix:/tmp/br\\[x"},
    {0, "systemd:domain=INET:index=0", "systemd:domain=INET:index=0"},
    {0, "systemd:index=2:domain=INET6", "systemd:domain=INET6:index=2"},
    {0, "systemd:domain=UNIX:index=1", "systemd:domain=UNIX:index=1"},
    {1, "tcp:example.com:80", "tcp:example.com:80"},
    {1, "tcp:127.0.0.1:80:timeout=2.5", "tcp:127.0.0.1:80"},
    {1, "tcp:host=example.com:port=80:timeout=3", "tcp:example.com:80"},
    {1, "tcp:[::1]:8080", "tcp:[::1]:8080"},
    {1, "tcp:\\:\\:1:8080", "tcp:[::1]:8080"},
    {1, "tls:example.com:443", "tls:example.com:443"},
    {1, "tls:[::1]:443:caCerts=/ca.pem:timeout=0.25", "tls:[::1]:443"},
    {1, "unix:/run/x.sock", "unix:/run/x.sock"},
    {1, "unix:/run/x.sock:timeout=1", "unix:/run/x.sock"},
};

static void test_endpoint_parse_and_format_every_form(void **state)
{
    struct twc_endpoint ep, again;
    char buf[512], buf2[512];
    twc_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        const struct form *f = &forms[i];
        int rc = f->client ? twc_endpoint_parse_client(&ep, f->in, &err)
                           : twc_endpoint_parse_server(&ep, f->in, &err);

        if (f->canonical == NULL) { /* a malformed line kept out of this table */
            assert_int_equal(rc, TWC_EINVAL);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': %s", f->in, err.msg);
        assert_string_equal(twc_endpoint_format(&ep, f->client, buf, sizeof(buf)), f->canonical);
        if (ep.kind == TWC_EP_SSL)
            continue; /* the address alone is not a complete ssl: endpoint */
        /* The canonical string parses back to the same address. */
        rc = f->client ? twc_endpoint_parse_client(&again, buf, &err)
                       : twc_endpoint_parse_server(&again, buf, &err);
        assert_int_equal(rc, 0);
        assert_string_equal(twc_endpoint_format(&again, f->client, buf2, sizeof(buf2)), buf);
    }
}

static void test_endpoint_parse_fields(void **state)
{
    struct twc_endpoint ep;
    twc_err err;

    (void)state;
    assert_int_equal(twc_endpoint_parse_server(&ep, "tcp:80:interface=[::1]:backlog=9", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_TCP);
    assert_int_equal(ep.port, 80);
    assert_string_equal(ep.host, "::1");
    assert_int_equal(ep.backlog, 9);
    assert_int_equal(twc_endpoint_parse_server(&ep, "ssl:1:privateKey=k:certKey=c", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_SSL);
    assert_string_equal(ep.private_key, "k");
    assert_string_equal(ep.cert_key, "c");
    assert_string_equal(ep.extra_cert_chain, "");
    /* Escapes: "\:" is a colon and "\\" a backslash inside a value. */
    assert_int_equal(twc_endpoint_parse_server(&ep, "ssl:1:privateKey=C\\:\\\\k.pem", &err), 0);
    assert_string_equal(ep.private_key, "C:\\k.pem");
    assert_int_equal(twc_endpoint_parse_server(&ep, "unix:/x:mode=0600", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_UNIX);
    assert_string_equal(ep.path, "/x");
    assert_int_equal(ep.mode, 0600);
    assert_int_equal(twc_endpoint_parse_server(&ep, "systemd:domain=INET6:index=3", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_SYSTEMD);
    assert_int_equal(ep.sd_family, AF_INET6);
    assert_int_equal(ep.sd_index, 3);
    assert_int_equal(twc_endpoint_parse_client(&ep, "tls:h.example:443:caCerts=ca.pem", &err), 0);
    assert_int_equal(ep.kind, TWC_EP_TLS);
    assert_int_equal(ep.client, 1);
    assert_string_equal(ep.host, "h.example");
    assert_int_equal(ep.port, 443);
    assert_string_equal(ep.ca_certs, "ca.pem");
    assert_int_equal(twc_endpoint_parse_client(&ep, "tcp:[fe80::1%eth0]:22:timeout=0.5", &err), 0);
    assert_string_equal(ep.host, "fe80::1%eth0");
    assert_int_equal(ep.timeout_ms, 500);
    assert_int_equal(twc_endpoint_is_stream(&ep), 1);
    assert_int_equal(twc_endpoint_parse_server(&ep, "udp:53", &err), 0);
    assert_int_equal(twc_endpoint_is_stream(&ep), 0);
    assert_string_equal(twc_endpoint_kind_name(TWC_EP_SYSTEMD), "systemd");
    assert_string_equal(twc_endpoint_kind_name(TWC_EP_SSL), "ssl");
}

#define V6_HINT "an IPv6 address goes in brackets, [::1], or escapes its colons, \\:\\:1"

struct bad {
    int client;
    const char *in;
    const char *msg;
};

static const struct bad bads[] = {
    {0, "", ": empty endpoint (expected e.g. tcp:8080)"},
    {0, "tcp:abc", "tcp:abc: port 'abc' is not a number 0-65535"},
    {0, "tcp:65536", "tcp:65536: port '65536' is not a number 0-65535"},
    {0, "99999", "99999: port '99999' is not a number 0-65535"},
    {0, "tcp", "tcp: missing port (expected tcp:PORT[:interface=ADDR][:backlog=N])"},
    {0, "tcp:127.0.0.1:80", "tcp:127.0.0.1:80: port '127.0.0.1' is not a number 0-65535"},
    {0, "tcp:80:81",
     "tcp:80:81: unexpected field '81' (expected "
     "tcp:PORT[:interface=ADDR][:backlog=N])"},
    {0, "tcp:80:interface=localhost",
     "tcp:80:interface=localhost: interface 'localhost' is not a numeric IPv4 or IPv6 address"},
    {0, "tcp:80:interface=", "tcp:80:interface=: interface is empty (" V6_HINT ")"},
    {0, "8080:interface=::1", "8080:interface=::1: interface is empty (" V6_HINT ")"},
    {0, "tcp:80:backlog=0", "tcp:80:backlog=0: backlog '0' is not a number 1-65535"},
    {0, "tcp:80:mode=0660",
     "tcp:80:mode=0660: unknown parameter 'mode' (tcp takes port, interface, backlog)"},
    {0, "tcp:80:port=81", "tcp:80:port=81: port given twice"},
    {0, "tcp:80:interface=[::1", "tcp:80:interface=[::1: '[' without ']'"},
    {0, "tcp:80:interface=::1]", "tcp:80:interface=::1]: ']' without '['"},
    {0, "tcp:80\\", "tcp:80\\: a '\\' ends the string (escape what?)"},
    {0, "udp:x", "udp:x: port 'x' is not a number 0-65535"},
    {0, "udp:53:backlog=5",
     "udp:53:backlog=5: unknown parameter 'backlog' (udp takes port, interface)"},
    {0, "ssl:8443", "ssl:8443: missing privateKey= (or sniCerts=)"},
    {0, "ssl:8443:certKey=c.pem", "ssl:8443:certKey=c.pem: certKey= needs privateKey="},
    {0, "ssl:8443:privateKey=", "ssl:8443:privateKey=: privateKey is empty"},
    {0, "ssl:privateKey=k.pem",
     "ssl:privateKey=k.pem: missing port (expected ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem]"
     "[:extraCertChain=PEM][:sniCerts=DIR][:interface=ADDR])"},
    {0, "unix:", "unix:: path is empty"},
    {0, "unix:/x:mode=999", "unix:/x:mode=999: mode '999' is not octal (e.g. 0660)"},
    {0, "unix:/x:mode=17777", "unix:/x:mode=17777: mode '17777' is not octal (e.g. 0660)"},
    {0, "unix:/x:lockfile=yes", "unix:/x:lockfile=yes: lockfile 'yes' is not 0 or 1"},
    {0, "systemd:domain=INET",
     "systemd:domain=INET: missing index= (the socket's position, from 0)"},
    {0, "systemd:index=0", "systemd:index=0: missing domain= (INET, INET6 or UNIX)"},
    {0, "systemd:domain=IPX:index=0",
     "systemd:domain=IPX:index=0: domain 'IPX' is not INET, "
     "INET6 or UNIX"},
    {0, "systemd:domain=INET:index=-1",
     "systemd:domain=INET:index=-1: index '-1' is not a number 0-65535"},
    {0, "systemd:3", "systemd:3: '3' is not key=value (expected systemd:domain=INET:index=N)"},
    {0, "http:80",
     "http:80: unknown endpoint type 'http' (expected tcp, udp, ssl, unix, systemd "
     "or a port number)"},
    {0, "tls:h:443", "tls:h:443: tls is a client endpoint; a TLS server is ssl:PORT:..."},
    {1, "tcp:example.com", "tcp:example.com: missing port (expected tcp:HOST:PORT[:timeout=S])"},
    {1, "tcp:example.com:0", "tcp:example.com:0: port '0' is not a number 1-65535"},
    {1, "tcp:port=80", "tcp:port=80: missing host (expected tcp:HOST:PORT[:timeout=S])"},
    {1, "tcp:h:80:timeout=x",
     "tcp:h:80:timeout=x: timeout 'x' is not a number of seconds (e.g. 5 or 0.5, at most 86400)"},
    {1, "tcp:h:80:timeout=0",
     "tcp:h:80:timeout=0: timeout '0' is not a number of seconds (e.g. 5 or 0.5, at most 86400)"},
    {1, "tcp:::1:80", "tcp:::1:80: host is empty (" V6_HINT ")"},
    {1, "tls:h:443:privateKey=k",
     "tls:h:443:privateKey=k: unknown parameter 'privateKey' (tls takes port, host, timeout, "
     "caCerts)"},
    {1, "ssl:h:443", "ssl:h:443: ssl is a server endpoint; a TLS client is tls:HOST:PORT"},
    {1, "udp:h:53", "udp:h:53: udp is not a client endpoint (expected tcp, tls or unix)"},
    {1, "8080", "8080: unknown endpoint type '8080' (expected tcp, tls or unix)"},
    {1, "unix:/x:mode=0600",
     "unix:/x:mode=0600: unknown parameter 'mode' (unix takes path, timeout)"},
};

static void test_endpoint_parse_errors_say_what_is_wrong(void **state)
{
    struct twc_endpoint ep;
    twc_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        const struct bad *b = &bads[i];
        int rc = b->client ? twc_endpoint_parse_client(&ep, b->in, &err)
                           : twc_endpoint_parse_server(&ep, b->in, &err);

        if (rc != TWC_EINVAL)
            fail_msg("'%s' parsed (rc %d)", b->in, rc);
        assert_int_equal(err.code, TWC_EINVAL);
        assert_string_equal(err.msg, b->msg);
    }
}

static void test_endpoint_parse_long_values(void **state)
{
    struct twc_endpoint ep;
    char in[400];
    twc_err err;

    (void)state;
    /* A unix path longer than sun_path. */
    memset(in, 0, sizeof(in));
    memcpy(in, "unix:/", 6);
    memset(in + 6, 'a', 200);
    assert_int_equal(twc_endpoint_parse_server(&ep, in, &err), TWC_EINVAL);
    assert_non_null(strstr(err.msg, "path is longer than 107 bytes"));
    /* The input is quoted short so the reason fits the message. */
    assert_non_null(strstr(err.msg, "...: "));
}

/* ---- Loopback helpers ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Server side: echo. */
struct echo_proto {
    twc_protocol base;
};

static void echo_made(twc_protocol *p)
{
    (void)p;
}

static void echo_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    twc_transport_write(p->transport, data, len);
}

static void echo_lost(twc_protocol *p, const twc_err *why)
{
    (void)why;
    free(p);
}

static const struct twc_protocol_ops echo_ops = {
    .name = "echo",
    .connection_made = echo_made,
    .data_received = echo_data,
    .connection_lost = echo_lost,
};

static twc_protocol *echo_build(twc_factory *f, const twc_addr *peer)
{
    struct echo_proto *e = calloc(1, sizeof(*e));

    (void)f;
    (void)peer;
    e->base.ops = &echo_ops;
    return &e->base;
}

static const struct twc_factory_ops echo_factory_ops = {.build = echo_build};

/* Client side: one protocol, recording what it got. */
struct client {
    twc_factory f;
    twc_protocol p;
    int refuse;
    int built, made, lost, client_lost;
    int lost_code;
    char got[256];
    size_t ngot;
    /* the connect deferred's outcome */
    int fired, code;
    twc_protocol *value;
    char msg[TWC_ERR_MSG_MAX];
};

static void cl_made(twc_protocol *p)
{
    struct client *c = container_of(p, struct client, p);

    c->made = 1;
}

static void cl_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct client *c = container_of(p, struct client, p);

    if (c->ngot + len <= sizeof(c->got)) {
        memcpy(c->got + c->ngot, data, len);
        c->ngot += len;
    }
}

static void cl_lost(twc_protocol *p, const twc_err *why)
{
    struct client *c = container_of(p, struct client, p);

    c->lost = 1;
    c->lost_code = why != NULL ? why->code : 0;
}

static const struct twc_protocol_ops cl_ops = {
    .name = "client",
    .connection_made = cl_made,
    .data_received = cl_data,
    .connection_lost = cl_lost,
};

static twc_protocol *cl_build(twc_factory *f, const twc_addr *peer)
{
    struct client *c = container_of(f, struct client, f);

    (void)peer;
    if (c->refuse)
        return NULL;
    c->built++;
    c->p.ops = &cl_ops;
    return &c->p;
}

static void cl_client_lost(twc_factory *f, const twc_err *why)
{
    struct client *c = container_of(f, struct client, f);

    (void)why;
    c->client_lost++;
}

static const struct twc_factory_ops cl_factory_ops = {
    .build = cl_build,
    .client_connection_lost = cl_client_lost,
};

static void on_connected(void *arg, twc_result *r)
{
    struct client *c = arg;

    c->fired = 1;
    if (twc_result_ok(r)) {
        c->value = twc_result_value(r);
        /* connection_made ran before the deferred fired. */
        c->code = c->made ? 0 : -9999;
    } else {
        c->code = twc_result_code(r);
        snprintf(c->msg, sizeof(c->msg), "%s", twc_result_err(r)->msg);
        twc_result_set(r, NULL, NULL);
    }
}

static void client_init(struct client *c)
{
    memset(c, 0, sizeof(*c));
    c->f.ops = &cl_factory_ops;
}

static void run_until(twc_reactor *r, const int *flag)
{
    double end = now_s() + 20;

    while (!*flag) {
        if (now_s() > end)
            fail_msg("timed out waiting on the loop");
        twc_reactor_run_once(r, 50);
    }
}

/* Let closes and queued frees finish, then check nothing is left. */
static void drain_and_free(twc_reactor *r)
{
    int i;

    for (i = 0; i < 20; i++)
        twc_reactor_run_once(r, 5);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

/* Connect c to the endpoint string s and wait for the deferred. */
static void connect_str(twc_reactor *r, struct client *c, const char *s,
                        const struct twc_endpoint_connect_opts *o)
{
    struct twc_endpoint ep;
    twc_deferred *d;
    twc_err err;

    if (twc_endpoint_parse_client(&ep, s, &err) < 0)
        fail_msg("%s", err.msg);
    d = twc_endpoint_connect(r, &ep, &c->f, o);
    twc_deferred_add_callbacks(d, on_connected, on_connected, c);
    twc_deferred_unref(d);
    run_until(r, &c->fired);
}

/* Send "ping" and wait for the echo, then close and wait for the end. */
static void ping_and_close(twc_reactor *r, struct client *c)
{
    double end = now_s() + 20;

    assert_int_equal(c->code, 0);
    assert_ptr_equal(c->value, &c->p);
    twc_transport_write(c->p.transport, "ping", 4);
    while (c->ngot < 4) {
        if (now_s() > end)
            fail_msg("no echo");
        twc_reactor_run_once(r, 50);
    }
    assert_memory_equal(c->got, "ping", 4);
    twc_transport_lose_connection(c->p.transport);
    run_until(r, &c->lost);
    assert_int_equal(c->lost_code, 0);
    run_until(r, &c->client_lost);
    assert_int_equal(c->client_lost, 1);
}

static twc_endpoint_listener *listen_str(twc_reactor *r, const char *s, twc_factory *f)
{
    struct twc_endpoint ep;
    twc_endpoint_listener *l;
    twc_err err;

    if (twc_endpoint_parse_server(&ep, s, &err) < 0)
        fail_msg("%s", err.msg);
    l = twc_endpoint_listen(r, &ep, f, NULL, &err);
    if (l == NULL)
        fail_msg("listen %s: %s", s, err.msg);
    return l;
}

/* ---- Listening and connecting ------------------------------------------------------ */

static void test_endpoint_tcp_listen_reports_real_port(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_str(r, "tcp:0:interface=127.0.0.1", &ef);
    struct client c;
    char buf[128], want[64], target[64];
    twc_addr a;
    uint16_t port = twc_endpoint_listener_port(l);

    (void)state;
    assert_true(port != 0);
    assert_int_equal(twc_endpoint_listener_addr(l, &a), 0);
    assert_int_equal(twc_addr_port(&a), port);
    snprintf(want, sizeof(want), "tcp:%u:interface=127.0.0.1", (unsigned)port);
    assert_string_equal(twc_endpoint_format(twc_endpoint_listener_endpoint(l), 0, buf, sizeof(buf)),
                        want);
    assert_string_equal(twc_endpoint_listener_proto(l), "tcp");
    assert_non_null(twc_endpoint_listener_base(l));
    client_init(&c);
    snprintf(target, sizeof(target), "tcp:127.0.0.1:%u", (unsigned)port);
    connect_str(r, &c, target, NULL);
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

static void test_endpoint_unix_listen_and_connect(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    char path[128], s[160];
    twc_endpoint_listener *l;
    struct client c;

    (void)state;
    snprintf(path, sizeof(path), "%s/ep.sock", certs.dir);
    snprintf(s, sizeof(s), "unix:%s:mode=0600", path);
    l = listen_str(r, s, &ef);
    assert_int_equal(twc_endpoint_listener_port(l), 0);
    assert_string_equal(twc_endpoint_listener_proto(l), "unix");
    assert_int_equal(access(path, F_OK), 0);
    client_init(&c);
    snprintf(s, sizeof(s), "unix:%s", path);
    connect_str(r, &c, s, NULL);
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    assert_int_equal(access(path, F_OK), -1); /* removed with the listener */
    drain_and_free(r);
}

static twc_endpoint_listener *listen_ssl(twc_reactor *r, twc_factory *f, const char *extra)
{
    char s[1200];

    snprintf(s, sizeof(s), "ssl:0:privateKey=%s:certKey=%s:interface=127.0.0.1%s",
             certs_path(&certs, CERT_SERVER_KEY), certs_path(&certs, CERT_SERVER_CRT), extra);
    return listen_str(r, s, f);
}

static void test_endpoint_ssl_listen_tls_connect_with_ca(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_ssl(r, &ef, "");
    struct client c;
    char s[300];

    (void)state;
    assert_string_equal(twc_endpoint_listener_proto(l), "tls");
    client_init(&c);
    /* The certificate has IP:127.0.0.1, so the numeric host verifies. */
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u:caCerts=%s", twc_endpoint_listener_port(l),
             certs_path(&certs, CERT_CA));
    connect_str(r, &c, s, NULL);
    assert_int_equal(c.code, 0);
    assert_int_equal(twc_tls_is_tls(c.p.transport), 1);
    assert_string_equal(twc_tls_version(c.p.transport), "TLSv1.3");
    assert_string_equal(twc_tls_peer_subject(c.p.transport), "CN=localhost");
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

static void test_endpoint_tls_shared_context_resumes(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_ssl(r, &ef, "");
    struct twc_tls_client_opts co = {.ca_certs = certs_path(&certs, CERT_CA)};
    struct twc_endpoint_connect_opts o = {0};
    struct client c;
    char s[64];
    twc_err err;
    int i;

    (void)state;
    o.tls_ctx = twc_tls_ctx_new_client(&co, &err);
    assert_non_null(o.tls_ctx);
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u", twc_endpoint_listener_port(l));
    /* The second connection through the same context resumes the session of
     * the first (caCerts in the string is not needed: the context has it). */
    for (i = 0; i < 2; i++) {
        client_init(&c);
        connect_str(r, &c, s, &o);
        if (c.code != 0)
            fail_msg("connect %d: %s", i, c.msg);
        assert_int_equal(twc_tls_session_reused(c.p.transport), i);
        ping_and_close(r, &c);
    }
    twc_tls_ctx_free(o.tls_ctx);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

static void test_endpoint_tls_connect_by_name(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_ssl(r, &ef, "");
    struct twc_endpoint_connect_opts o = {0};
    char s[300], conf[160];
    struct client c;
    FILE *f;

    (void)state;
    /* "localhost" comes from /etc/hosts; the nameserver is never asked. */
    snprintf(conf, sizeof(conf), "%s/resolv.conf", certs.dir);
    f = fopen(conf, "w");
    assert_non_null(f);
    fputs("nameserver 127.0.0.1\n", f);
    fclose(f);
    o.resolv_conf = conf;
    client_init(&c);
    snprintf(s, sizeof(s), "tls:localhost:%u:caCerts=%s:timeout=5", twc_endpoint_listener_port(l),
             certs_path(&certs, CERT_CA));
    connect_str(r, &c, s, &o);
    if (c.code != 0)
        fail_msg("connect: %s", c.msg);
    assert_string_equal(twc_tls_server_name(c.p.transport), "localhost");
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    /* Plain TCP by name. */
    l = listen_str(r, "tcp:0:interface=127.0.0.1", &ef);
    client_init(&c);
    snprintf(s, sizeof(s), "tcp:localhost:%u", twc_endpoint_listener_port(l));
    connect_str(r, &c, s, &o);
    if (c.code != 0)
        fail_msg("connect: %s", c.msg);
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
    unlink(conf);
}

static void test_endpoint_tls_hostname_mismatch_fails(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_ssl(r, &ef, "");
    struct twc_endpoint_connect_opts o = {.server_name = "wrong.example"};
    struct client c;
    char s[300];

    (void)state;
    client_init(&c);
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u:caCerts=%s", twc_endpoint_listener_port(l),
             certs_path(&certs, CERT_CA));
    connect_str(r, &c, s, &o);
    assert_int_equal(c.code, TWC_ETLS_VERIFY);
    assert_non_null(strstr(c.msg, "wrong.example"));
    assert_int_equal(c.built, 0); /* the user's protocol never existed */
    assert_int_equal(c.client_lost, 0);
    /* Without a CA file the system store does not know our test CA either. */
    client_init(&c);
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u", twc_endpoint_listener_port(l));
    connect_str(r, &c, s, NULL);
    assert_int_equal(c.code, TWC_ETLS_VERIFY);
    /* -k: no verification at all. */
    client_init(&c);
    o.insecure = 1;
    connect_str(r, &c, s, &o);
    assert_int_equal(c.code, 0);
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

static void test_endpoint_ssl_sni_certs(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    struct twc_endpoint_connect_opts o = {.server_name = "beta.example"};
    twc_endpoint_listener *l;
    struct client c;
    char s[600];

    (void)state;
    snprintf(s, sizeof(s), ":sniCerts=%s", certs_path(&certs, CERT_SNI_DIR));
    l = listen_ssl(r, &ef, s);
    client_init(&c);
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u:caCerts=%s", twc_endpoint_listener_port(l),
             certs_path(&certs, CERT_CA));
    connect_str(r, &c, s, &o);
    if (c.code != 0)
        fail_msg("connect: %s", c.msg);
    assert_string_equal(twc_tls_peer_subject(c.p.transport), "CN=beta.example");
    ping_and_close(r, &c);
    /* No SNI match: the default certificate. */
    client_init(&c);
    o.server_name = "localhost";
    connect_str(r, &c, s, &o);
    assert_int_equal(c.code, 0);
    assert_string_equal(twc_tls_peer_subject(c.p.transport), "CN=localhost");
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

static void test_endpoint_ssl_config_errors(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    struct twc_endpoint ep;
    twc_err err;
    char s[300];

    (void)state;
    snprintf(s, sizeof(s), "ssl:0:privateKey=%s/missing.pem", certs.dir);
    assert_int_equal(twc_endpoint_parse_server(&ep, s, &err), 0);
    assert_null(twc_endpoint_listen(r, &ep, &ef, NULL, &err));
    assert_int_equal(err.code, TWC_ETLS_CONFIG);
    assert_non_null(strstr(err.msg, "missing.pem"));
    snprintf(s, sizeof(s), "ssl:0:privateKey=%s:certKey=%s", certs_path(&certs, CERT_OTHER_KEY),
             certs_path(&certs, CERT_SERVER_CRT));
    assert_int_equal(twc_endpoint_parse_server(&ep, s, &err), 0);
    assert_null(twc_endpoint_listen(r, &ep, &ef, NULL, &err));
    assert_int_equal(err.code, TWC_ETLS_CONFIG);
    /* Endpoints that do not listen on streams. */
    assert_int_equal(twc_endpoint_parse_server(&ep, "udp:0", &err), 0);
    assert_null(twc_endpoint_listen(r, &ep, &ef, NULL, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_string_equal(err.msg, "cannot listen on a udp endpoint");
    assert_int_equal(twc_endpoint_parse_client(&ep, "tcp:127.0.0.1:80", &err), 0);
    assert_null(twc_endpoint_listen(r, &ep, &ef, NULL, &err));
    assert_string_equal(err.msg, "cannot listen on a client tcp endpoint");
    drain_and_free(r);
}

static void test_endpoint_listen_address_in_use(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_str(r, "tcp:0:interface=127.0.0.1", &ef);
    struct twc_endpoint ep;
    char s[64];
    twc_err err;

    (void)state;
    snprintf(s, sizeof(s), "tcp:%u:interface=127.0.0.1", twc_endpoint_listener_port(l));
    assert_int_equal(twc_endpoint_parse_server(&ep, s, &err), 0);
    assert_null(twc_endpoint_listen(r, &ep, &ef, NULL, &err));
    assert_int_equal(err.code, -EADDRINUSE);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

/* A port nothing listens on: bind, read the port, close. */
static uint16_t dead_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_endpoint_connect_refused_and_bad(void **state)
{
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    struct twc_endpoint ep;
    struct client c;
    twc_deferred *d;
    char s[64];
    twc_err err;

    (void)state;
    client_init(&c);
    snprintf(s, sizeof(s), "tcp:127.0.0.1:%u", dead_port());
    connect_str(r, &c, s, NULL);
    assert_int_equal(c.code, -ECONNREFUSED);
    assert_int_equal(c.built, 0);
    client_init(&c);
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u", dead_port());
    connect_str(r, &c, s, NULL);
    assert_int_equal(c.code, -ECONNREFUSED);
    /* A server endpoint cannot be connected to: fails at once. */
    client_init(&c);
    assert_int_equal(twc_endpoint_parse_server(&ep, "tcp:80", &err), 0);
    d = twc_endpoint_connect(r, &ep, &c.f, NULL);
    twc_deferred_add_callbacks(d, on_connected, on_connected, &c);
    twc_deferred_unref(d);
    assert_int_equal(c.fired, 1);
    assert_int_equal(c.code, TWC_EINVAL);
    assert_string_equal(c.msg, "cannot connect to a server tcp endpoint");
    /* A bad CA file fails at once too, naming the file. */
    client_init(&c);
    assert_int_equal(
        twc_endpoint_parse_client(&ep, "tls:127.0.0.1:1:caCerts=/nonexistent.pem", &err), 0);
    d = twc_endpoint_connect(r, &ep, &c.f, NULL);
    twc_deferred_add_callbacks(d, on_connected, on_connected, &c);
    twc_deferred_unref(d);
    assert_int_equal(c.code, TWC_ETLS_CONFIG);
    assert_non_null(strstr(c.msg, "/nonexistent.pem"));
    drain_and_free(r);
}

static void test_endpoint_connect_refused_by_factory(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_ssl(r, &ef, "");
    struct twc_endpoint_connect_opts o = {.insecure = 1};
    struct client c;
    char s[64];

    (void)state;
    client_init(&c);
    c.refuse = 1;
    snprintf(s, sizeof(s), "tcp:127.0.0.1:%u", twc_endpoint_listener_port(l));
    connect_str(r, &c, s, NULL);
    assert_int_equal(c.code, TWC_EPROTO);
    client_init(&c);
    c.refuse = 1;
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u", twc_endpoint_listener_port(l));
    connect_str(r, &c, s, &o);
    assert_int_equal(c.code, TWC_EPROTO);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

static void test_endpoint_connect_cancel(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l = listen_ssl(r, &ef, "");
    struct twc_endpoint_connect_opts o = {.insecure = 1};
    struct twc_endpoint ep;
    struct client c;
    twc_deferred *d;
    char s[64];
    twc_err err;
    int i;

    (void)state;
    /* Before the TCP connect completes. */
    client_init(&c);
    snprintf(s, sizeof(s), "tls:127.0.0.1:%u", twc_endpoint_listener_port(l));
    assert_int_equal(twc_endpoint_parse_client(&ep, s, &err), 0);
    d = twc_endpoint_connect(r, &ep, &c.f, &o);
    twc_deferred_add_callbacks(d, on_connected, on_connected, &c);
    twc_deferred_cancel(d);
    twc_deferred_unref(d);
    assert_int_equal(c.fired, 1);
    assert_int_equal(c.code, TWC_ECANCELED);
    /* Mid-handshake: run the loop until the TCP connection is up but the
     * handshake is not done (a few iterations), then cancel. */
    client_init(&c);
    d = twc_endpoint_connect(r, &ep, &c.f, &o);
    twc_deferred_add_callbacks(d, on_connected, on_connected, &c);
    for (i = 0; i < 2 && !c.fired; i++)
        twc_reactor_run_once(r, 5);
    if (!c.fired)
        twc_deferred_cancel(d);
    twc_deferred_unref(d);
    run_until(r, &c.fired);
    if (c.code != TWC_ECANCELED && c.code != 0)
        fail_msg("cancel mid-connect: %d %s", c.code, c.msg);
    if (c.code == 0) /* the handshake won the race */
        ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    drain_and_free(r);
}

/* ---- systemd socket activation ----------------------------------------------------- */

#define SD_INDEX 40 /* fd 43: far from the test's own descriptors */

static int tcp_socket(int do_listen)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static void pass_fd(int fd, const char *nfds, long pid)
{
    char buf[32];

    assert_int_equal(dup2(fd, 3 + SD_INDEX), 3 + SD_INDEX);
    close(fd);
    snprintf(buf, sizeof(buf), "%ld", pid);
    setenv("LISTEN_PID", buf, 1);
    setenv("LISTEN_FDS", nfds, 1);
}

static void test_endpoint_systemd_adopts_listening_socket(void **state)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_endpoint_listener *l;
    struct client c;
    char s[64];

    (void)state;
    pass_fd(tcp_socket(1), "41", (long)getpid());
    snprintf(s, sizeof(s), "systemd:domain=INET:index=%d", SD_INDEX);
    l = listen_str(r, s, &ef);
    assert_string_equal(twc_endpoint_listener_proto(l), "tcp");
    assert_true(twc_endpoint_listener_port(l) != 0);
    client_init(&c);
    snprintf(s, sizeof(s), "tcp:127.0.0.1:%u", twc_endpoint_listener_port(l));
    connect_str(r, &c, s, NULL);
    ping_and_close(r, &c);
    twc_endpoint_listener_free(l);
    /* The inherited fd stays open (listening on it again works). */
    snprintf(s, sizeof(s), "systemd:domain=INET:index=%d", SD_INDEX);
    l = listen_str(r, s, &ef);
    twc_endpoint_listener_free(l);
    close(3 + SD_INDEX);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    drain_and_free(r);
}

static void expect_sd_error(twc_reactor *r, const char *s, const char *msg)
{
    twc_factory ef = {.ops = &echo_factory_ops};
    struct twc_endpoint ep;
    twc_err err;

    assert_int_equal(twc_endpoint_parse_server(&ep, s, &err), 0);
    assert_null(twc_endpoint_listen(r, &ep, &ef, NULL, &err));
    assert_string_equal(err.msg, msg);
}

static void test_endpoint_systemd_errors(void **state)
{
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    char want[128], s[64];

    (void)state;
    snprintf(s, sizeof(s), "systemd:domain=INET:index=%d", SD_INDEX);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    expect_sd_error(r, s,
                    "systemd:index=40: no sockets were passed (LISTEN_FDS and LISTEN_PID are "
                    "not set)");
    /* Not for us. */
    pass_fd(tcp_socket(1), "41", 1);
    snprintf(want, sizeof(want), "systemd:index=40: LISTEN_PID=1 is not this process (%ld)",
             (long)getpid());
    expect_sd_error(r, s, want);
    /* Too few fds passed. */
    snprintf(want, sizeof(want), "%ld", (long)getpid());
    setenv("LISTEN_PID", want, 1);
    setenv("LISTEN_FDS", "2", 1);
    expect_sd_error(r, s, "systemd:index=40: LISTEN_FDS=2 passes no socket at that index");
    /* Wrong family. */
    setenv("LISTEN_FDS", "41", 1);
    snprintf(s, sizeof(s), "systemd:domain=INET6:index=%d", SD_INDEX);
    expect_sd_error(r, s, "systemd:index=40: fd 43 is not an INET6 socket");
    close(3 + SD_INDEX);
    /* Not listening. */
    pass_fd(tcp_socket(0), "41", (long)getpid());
    snprintf(s, sizeof(s), "systemd:domain=INET:index=%d", SD_INDEX);
    expect_sd_error(r, s, "systemd:index=40: fd 43 is not listening");
    close(3 + SD_INDEX);
    /* Not a stream socket. */
    pass_fd(socket(AF_INET, SOCK_DGRAM, 0), "41", (long)getpid());
    expect_sd_error(r, s, "systemd:index=40: fd 43 is not a stream socket");
    close(3 + SD_INDEX);
    /* Not open at all. */
    expect_sd_error(r, s, "systemd:index=40: fd 43: Bad file descriptor");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    drain_and_free(r);
}

/* ---- udp --------------------------------------------------------------------------- */

struct dg {
    twc_datagram_protocol base;
    int got;
};

static void dg_received(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                        const twc_addr *from)
{
    struct dg *g = container_of(p, struct dg, base);

    (void)from;
    if (len == 2 && memcmp(data, "hi", 2) == 0)
        g->got = 1;
}

static const struct twc_datagram_ops dg_ops = {.name = "dg", .datagram_received = dg_received};

static void test_endpoint_udp_listen(void **state)
{
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    struct dg g = {.base.ops = &dg_ops};
    struct twc_endpoint ep;
    twc_udp *u;
    twc_addr a;
    twc_err err;
    int fd;

    (void)state;
    assert_int_equal(twc_endpoint_parse_server(&ep, "udp:0:interface=127.0.0.1", &err), 0);
    u = twc_endpoint_udp_listen(r, &ep, &g.base, &err);
    assert_non_null(u);
    assert_int_equal(twc_udp_addr(u, &a), 0);
    assert_true(twc_addr_port(&a) != 0);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(sendto(fd, "hi", 2, 0, (struct sockaddr *)&a.ss, a.len), 2);
    close(fd);
    run_until(r, &g.got);
    twc_udp_free(u);
    assert_int_equal(twc_endpoint_parse_server(&ep, "tcp:0", &err), 0);
    assert_null(twc_endpoint_udp_listen(r, &ep, &g.base, &err));
    assert_string_equal(err.msg, "tcp is not a udp endpoint");
    drain_and_free(r);
}

static int group_setup(void **state)
{
    (void)state;
    certs_create(&certs);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    certs_remove(&certs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_parse_and_format_every_form),
        cmocka_unit_test(test_endpoint_parse_fields),
        cmocka_unit_test(test_endpoint_parse_errors_say_what_is_wrong),
        cmocka_unit_test(test_endpoint_parse_long_values),
        cmocka_unit_test(test_endpoint_tcp_listen_reports_real_port),
        cmocka_unit_test(test_endpoint_unix_listen_and_connect),
        cmocka_unit_test(test_endpoint_ssl_listen_tls_connect_with_ca),
        cmocka_unit_test(test_endpoint_tls_shared_context_resumes),
        cmocka_unit_test(test_endpoint_tls_connect_by_name),
        cmocka_unit_test(test_endpoint_tls_hostname_mismatch_fails),
        cmocka_unit_test(test_endpoint_ssl_sni_certs),
        cmocka_unit_test(test_endpoint_ssl_config_errors),
        cmocka_unit_test(test_endpoint_listen_address_in_use),
        cmocka_unit_test(test_endpoint_connect_refused_and_bad),
        cmocka_unit_test(test_endpoint_connect_refused_by_factory),
        cmocka_unit_test(test_endpoint_connect_cancel),
        cmocka_unit_test(test_endpoint_systemd_adopts_listening_socket),
        cmocka_unit_test(test_endpoint_systemd_errors),
        cmocka_unit_test(test_endpoint_udp_listen),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
