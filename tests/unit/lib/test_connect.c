/*
 * Unit tests for lib/connect.c: connect by name with Happy Eyeballs (RFC 8305)
 * against listeners on ::1 and 127.0.0.1, names served by the test's own DNS
 * responder through a test resolv.conf.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "connect.h"
#include "dns_responder.h"
#include "outcome.h"
#include "stream.h"

/* A client protocol that records its life. */
struct client {
    twc_protocol base;
    int made, lost;
};

struct client_factory {
    twc_factory base;
    struct client clients[4];
    int built;
    int refuse;
};

static void c_made(twc_protocol *p)
{
    container_of(p, struct client, base)->made++;
}

static void c_data(twc_protocol *p, const uint8_t *d, size_t n)
{
    (void)p;
    (void)d;
    (void)n;
}

static void c_lost(twc_protocol *p, const twc_err *why)
{
    (void)why;
    container_of(p, struct client, base)->lost++;
}

static const struct twc_protocol_ops client_ops = {
    .name = "test-client",
    .connection_made = c_made,
    .data_received = c_data,
    .connection_lost = c_lost,
};

static twc_protocol *cf_build(twc_factory *f, const twc_addr *peer)
{
    struct client_factory *cf = container_of(f, struct client_factory, base);
    struct client *c;

    (void)peer;
    if (cf->refuse || cf->built == 4)
        return NULL;
    c = &cf->clients[cf->built++];
    memset(c, 0, sizeof(*c));
    c->base.ops = &client_ops;
    return &c->base;
}

static const struct twc_factory_ops cf_ops = {.build = cf_build};

/* The server side: accept and keep connections until the listener's factory
 * is told to drop them. */
struct sconn {
    twc_protocol base;
};

static void s_made(twc_protocol *p)
{
    (void)p;
}

static void s_lost(twc_protocol *p, const twc_err *why)
{
    (void)why;
    free(container_of(p, struct sconn, base));
}

static const struct twc_protocol_ops server_ops = {
    .name = "test-server",
    .connection_made = s_made,
    .data_received = c_data,
    .connection_lost = s_lost,
};

static twc_protocol *sf_build(twc_factory *f, const twc_addr *peer)
{
    struct sconn *s = calloc(1, sizeof(*s));

    (void)f;
    (void)peer;
    s->base.ops = &server_ops;
    return &s->base;
}

static const struct twc_factory_ops sf_ops = {.build = sf_build};

struct fixture {
    twc_reactor *r;
    struct responder rs;
    twc_resolver *res;
    char conf[64];
    twc_factory server_factory;
    struct client_factory cf;
};

static const struct dns_entry table[] = {
    {"dual.test.", "127.0.0.1", "::1"},
    {"v4.test.", "127.0.0.1", NULL},
    {NULL, NULL, NULL},
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct twc_resolver_opts o = {0};
    twc_err err;

    fx->r = twc_reactor_new(NULL, &err);
    assert_int_equal(responder_start(fx->r, &fx->rs, table), 0);
    assert_int_equal(responder_write_conf(&fx->rs, fx->conf, sizeof(fx->conf)), 0);
    o.resolv_conf = fx->conf;
    o.timeout_ms = 500;
    o.tries = 1;
    fx->res = twc_resolver_new(fx->r, &o, &err);
    assert_non_null(fx->res);
    fx->server_factory.ops = &sf_ops;
    fx->cf.base.ops = &cf_ops;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    int i;

    /* Let closing connections finish. */
    for (i = 0; i < 20; i++)
        twc_reactor_run_once(fx->r, 5);
    twc_resolver_free(fx->res);
    responder_stop(&fx->rs);
    unlink(fx->conf);
    assert_int_equal(twc_reactor_live_handles(fx->r), 0);
    twc_reactor_free(fx->r);
    free(fx);
    return 0;
}

static void connect_into(struct fixture *fx, const char *host, uint16_t port, unsigned ms,
                         struct outcome *o)
{
    twc_deferred *d = twc_connect_host(fx->r, fx->res, host, port, ms, &fx->cf.base);

    watch(d, o);
    twc_deferred_unref(d);
}

/* The connected protocol (borrowed: it belongs to its transport). */
static twc_protocol *proto_of(const struct outcome *o)
{
    return o->value;
}

static twc_listener *listen_on(struct fixture *fx, const char *iface, uint16_t port,
                               uint16_t *bound)
{
    struct twc_tcp_listen_opts lo = {.interface = iface, .port = port};
    twc_listener *l;
    twc_addr a;
    twc_err err;

    l = twc_tcp_listen(fx->r, &lo, &fx->server_factory, &err);
    if (l == NULL)
        fail_msg("listen %s: %s", iface, err.msg);
    twc_listener_addr(l, &a);
    *bound = twc_addr_port(&a);
    return l;
}

static void close_client(struct fixture *fx, struct outcome *o)
{
    twc_transport_lose_connection(proto_of(o)->transport);
    while (fx->cf.clients[0].lost == 0)
        twc_reactor_run_once(fx->r, 10);
}

/* ::1 refuses (nothing listens there on that port), so the IPv4 attempt starts
 * at once and wins (RFC 8305 §5: a failed attempt starts the next one). */
static void test_connect_falls_back_to_ipv4_on_refusal(void **state)
{
    struct fixture *fx = *state;
    char buf[TWC_ADDR_STRLEN];
    twc_listener *l;
    struct outcome o;
    uint16_t port;
    twc_addr peer;

    l = listen_on(fx, "127.0.0.1", 0, &port);
    connect_into(fx, "dual.test", port, 5000, &o);
    run_until_fired(fx->r, &o);
    assert_int_equal(o.err.code, 0);
    assert_non_null(o.value);
    assert_int_equal(fx->cf.built, 1);
    assert_int_equal(fx->cf.clients[0].made, 1);
    assert_int_equal(twc_transport_peer(proto_of(&o)->transport, &peer), 0);
    assert_string_equal(twc_addr_format(&peer, buf, sizeof(buf)),
                        (snprintf(buf + 64, 64, "127.0.0.1:%u", port), buf + 64));
    close_client(fx, &o);
    twc_listener_free(l);
}

/* Both families listen: the preferred (first sorted, IPv6 for ::1) wins. */
static void test_connect_prefers_first_family(void **state)
{
    struct fixture *fx = *state;
    twc_listener *l4, *l6;
    struct outcome o;
    uint16_t port, port6;
    twc_addr peer;

    l4 = listen_on(fx, "127.0.0.1", 0, &port);
    l6 = listen_on(fx, "::1", port, &port6);
    assert_int_equal(port, port6);
    connect_into(fx, "dual.test", port, 5000, &o);
    run_until_fired(fx->r, &o);
    assert_non_null(o.value);
    assert_int_equal(twc_transport_peer(proto_of(&o)->transport, &peer), 0);
    assert_int_equal(twc_addr_family(&peer), AF_INET6);
    assert_int_equal(fx->cf.built, 1);
    close_client(fx, &o);
    twc_listener_free(l4);
    twc_listener_free(l6);
}

/* A hanging first attempt (::1 listener whose accept queue is full, so SYNs are
 * dropped) does not block: after the 250 ms attempt delay, IPv4 starts and wins. */
static void test_connect_staggers_past_a_hanging_attempt(void **state)
{
    struct fixture *fx = *state;
    struct sockaddr_in6 s6;
    socklen_t len = sizeof(s6);
    int lfd, fillers[4], nfill = 0, i;
    twc_listener *l4;
    struct outcome o;
    uint16_t port;
    uint64_t t0, spent;
    twc_addr peer;

    l4 = listen_on(fx, "127.0.0.1", 0, &port);
    lfd = socket(AF_INET6, SOCK_STREAM, 0);
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_loopback;
    s6.sin6_port = htons(port);
    assert_int_equal(bind(lfd, (struct sockaddr *)&s6, sizeof(s6)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    getsockname(lfd, (struct sockaddr *)&s6, &len);
    /* Fill the accept queue (backlog 0 admits one) with non-blocking connects. */
    for (i = 0; i < 2; i++) {
        fillers[nfill] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[nfill], (struct sockaddr *)&s6, sizeof(s6));
        nfill++;
    }
    twc_reactor_update_time(fx->r);
    t0 = twc_reactor_now(fx->r);
    connect_into(fx, "dual.test", port, 5000, &o);
    run_until_fired(fx->r, &o);
    twc_reactor_update_time(fx->r);
    spent = twc_reactor_now(fx->r) - t0;
    assert_non_null(o.value);
    assert_int_equal(twc_transport_peer(proto_of(&o)->transport, &peer), 0);
    assert_int_equal(twc_addr_family(&peer), AF_INET);
    assert_true(spent >= 240);
    close_client(fx, &o);
    for (i = 0; i < nfill; i++)
        close(fillers[i]);
    close(lfd);
    twc_listener_free(l4);
}

static void test_connect_refused_everywhere(void **state)
{
    struct fixture *fx = *state;
    twc_listener *l;
    struct outcome o;
    uint16_t port;

    /* Learn a free port, then close it so both families refuse. */
    l = listen_on(fx, "127.0.0.1", 0, &port);
    twc_listener_free(l);
    connect_into(fx, "dual.test", port, 5000, &o);
    run_until_fired(fx->r, &o);
    assert_null(o.value);
    assert_int_equal(o.err.code, -ECONNREFUSED);
    assert_int_equal(fx->cf.built, 0);
}

static void test_connect_unknown_name_and_refusing_factory(void **state)
{
    struct fixture *fx = *state;
    twc_listener *l;
    struct outcome o;
    uint16_t port;
    int i;

    connect_into(fx, "missing.test", 80, 5000, &o);
    run_until_fired(fx->r, &o);
    assert_int_equal(o.err.code, TWC_EDNS_NOTFOUND);
    l = listen_on(fx, "127.0.0.1", 0, &port);
    fx->cf.refuse = 1;
    connect_into(fx, "v4.test", port, 5000, &o);
    run_until_fired(fx->r, &o);
    assert_int_equal(o.err.code, TWC_EPROTO);
    for (i = 0; i < 10; i++)
        twc_reactor_run_once(fx->r, 5);
    twc_listener_free(l);
}

static void test_connect_cancel(void **state)
{
    struct fixture *fx = *state;
    struct outcome o;
    twc_deferred *d;

    fx->rs.silent = 1; /* the lookup hangs: cancel it */
    d = twc_connect_host(fx->r, fx->res, "dual.test", 80, 5000, &fx->cf.base);
    watch(d, &o);
    twc_reactor_run_once(fx->r, 5);
    twc_deferred_cancel(d);
    twc_deferred_unref(d);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err.code, TWC_ECANCELED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_falls_back_to_ipv4_on_refusal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connect_prefers_first_family, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_staggers_past_a_hanging_attempt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_unknown_name_and_refusing_factory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connect_cancel, setup, teardown),
    };
    return cmocka_run_group_tests_name("connect", tests, NULL, NULL);
}
