/*
 * Unit tests for lib/connector.c: refused and missing targets, timeouts (a
 * listener whose backlog is full makes connects hang: TCP silently, UNIX with
 * EAGAIN), cancel and free while pending, success delivered from the loop,
 * bad addresses, a factory refusing its own connection, and callbacks that
 * free or restart their connector. Every outcome must come exactly once and
 * from the loop. Loopback only.
 */
#include "test_stream_util.h"
#include "reactor_impl.h"

#include <netinet/in.h>

static const char *backend_of(void **state)
{
    return (const char *)*state;
}

/* A target whose connects hang: listen(2) backlog 0 already holding one
 * connection that nobody accepts. */
struct hang {
    int lfd, filler;
    twc_addr addr;
    char path[128];
};

static void hang_open(struct hang *h, int family)
{
    socklen_t len = sizeof(h->addr.ss);

    memset(h, 0, sizeof(*h));
    if (family == AF_UNIX) {
        unix_path(h->path, sizeof(h->path), "hang");
        assert_int_equal(twc_addr_from_path(&h->addr, h->path, NULL), 0);
    } else {
        assert_int_equal(twc_addr_from_ip(&h->addr, "127.0.0.1", 0, NULL), 0);
    }
    h->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(h->lfd >= 0);
    assert_int_equal(bind(h->lfd, (struct sockaddr *)&h->addr.ss, h->addr.len), 0);
    assert_int_equal(listen(h->lfd, 0), 0);
    if (family != AF_UNIX) {
        assert_int_equal(getsockname(h->lfd, (struct sockaddr *)&h->addr.ss, &len), 0);
        h->addr.len = len;
    }
    h->filler = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(h->filler, (struct sockaddr *)&h->addr.ss, h->addr.len), 0);
}

static void hang_close(struct hang *h)
{
    close(h->filler);
    close(h->lfd);
    if (h->path[0] != '\0')
        unlink(h->path);
}

static twc_connector *connect_to(const twc_addr *a, unsigned timeout_ms, tfactory *f)
{
    twc_connector *c;
    twc_err err;

    ctx.in_call++;
    c = twc_connector_new(ctx.r, a, timeout_ms, &f->base, &err);
    ctx.in_call--;
    assert_non_null(c);
    /* Never from inside the call that started the attempt. */
    assert_int_equal(f->failed, 0);
    assert_int_equal(f->builds, 0);
    return c;
}

static void test_stream_connector_refused(void **state)
{
    twc_connector *c;
    tfactory f;
    twc_addr a;
    socklen_t len = sizeof(a.ss);
    twc_err err;
    int fd;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    /* A bound port nobody listens on (held, so nobody else takes it). */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(twc_addr_from_ip(&a, "127.0.0.1", 0, NULL), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a.ss, a.len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a.ss, &len), 0);

    c = connect_to(&a, 5000, &f);
    assert_int_equal(f.starts, 1);
    run_until(&f.failed, 1, 250);
    assert_int_equal(f.failed_code, -ECONNREFUSED);
    assert_int_equal(f.builds, 0);
    /* Again, with the same connector. */
    ctx.in_call++;
    assert_int_equal(twc_connector_connect(c, &err), 0);
    ctx.in_call--;
    run_until(&f.failed, 2, 250);
    assert_int_equal(f.failed_code, -ECONNREFUSED);
    assert_int_equal(f.failed_inside_call, 0);
    twc_connector_free(c);
    assert_int_equal(f.stops, 1);
    close(fd);
    run_some(5);
    assert_int_equal(f.failed, 2);
    ctx_end();
}

static void test_stream_connector_unix_missing(void **state)
{
    char path[128];
    twc_connector *c;
    tfactory f;
    twc_addr a;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    unix_path(path, sizeof(path), "missing");
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    c = connect_to(&a, 5000, &f);
    run_until(&f.failed, 1, 10);
    assert_int_equal(f.failed_code, -ENOENT);
    assert_non_null(strstr(f.order, "failed"));
    twc_connector_free(c);
    ctx_end();
}

/* UNIX, fake clock: EAGAIN retries until the timer says TWC_ETIMEDOUT. */
static void test_stream_connector_timeout_unix(void **state)
{
    twc_connector *c;
    struct hang h;
    tfactory f;

    ctx_begin(backend_of(state), 1);
    tf_init(&f);
    hang_open(&h, AF_UNIX);
    c = connect_to(&h.addr, 50, &f);
    run_some(5);
    twc_reactor_advance(ctx.r, 49);
    run_some(5);
    assert_int_equal(f.failed, 0);
    twc_reactor_advance(ctx.r, 1);
    run_some(2);
    assert_int_equal(f.failed, 1);
    assert_int_equal(f.failed_code, TWC_ETIMEDOUT);
    /* Later time brings nothing more. */
    twc_reactor_advance(ctx.r, 1000);
    run_some(5);
    assert_int_equal(f.failed, 1);
    twc_connector_free(c);
    hang_close(&h);
    ctx_end();
}

/* TCP, real clock: the SYN is never answered while the backlog is full. */
static void test_stream_connector_timeout_tcp(void **state)
{
    twc_connector *c;
    struct hang h;
    tfactory f;
    twc_err err;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    hang_open(&h, AF_INET);
    c = connect_to(&h.addr, 100, &f);
    assert_int_equal(twc_connector_connect(c, &err), TWC_EINVAL); /* one at a time */
    run_until(&f.failed, 1, 100);
    assert_int_equal(f.failed_code, TWC_ETIMEDOUT);
    assert_non_null(strstr(f.order, "failed"));
    twc_connector_free(c);
    hang_close(&h);
    ctx_end();
}

static void test_stream_connector_cancel(void **state)
{
    twc_connector *c;
    struct hang h;
    tfactory f;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    hang_open(&h, AF_INET);
    c = connect_to(&h.addr, 5000, &f);
    run_some(3);
    ctx.in_call++;
    twc_connector_stop(c);
    twc_connector_stop(c); /* twice: still one outcome */
    ctx.in_call--;
    assert_int_equal(f.failed, 0);
    run_until(&f.failed, 1, 10);
    assert_int_equal(f.failed_code, TWC_ECANCELED);
    run_some(5);
    assert_int_equal(f.failed, 1);
    assert_int_equal(f.failed_inside_call, 0);
    twc_connector_free(c);
    hang_close(&h);
    ctx_end();
}

/* Free with an attempt pending: the factory still hears ECANCELED, from the
 * loop, and only then is the connector gone (factory stop follows). */
static void test_stream_connector_free_pending(void **state)
{
    twc_connector *c;
    struct hang h;
    tfactory f;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    hang_open(&h, AF_UNIX);
    c = connect_to(&h.addr, 5000, &f);
    ctx.in_call++;
    twc_connector_free(c);
    ctx.in_call--;
    assert_int_equal(f.failed, 0);
    run_until(&f.failed, 1, 10);
    assert_int_equal(f.failed_code, TWC_ECANCELED);
    assert_int_equal(f.stops, 1);
    hang_close(&h);
    ctx_end();
}

/* A UNIX connect succeeds inside connect(2); the factory hears it from the loop. */
static void test_stream_connector_success_from_loop(void **state)
{
    char path[128];
    twc_listener *l;
    twc_connector *c;
    tfactory sf, cf;
    twc_addr a;
    twc_err err;
    int i;

    ctx_begin(backend_of(state), 0);
    tf_init(&sf);
    tf_init(&cf);
    cf.tmpl.base.ops = &tp_noeof_ops;
    unix_path(path, sizeof(path), "success");
    l = twc_unix_listen(ctx.r, path, 0600, &sf.base, &err);
    assert_non_null(l);
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    c = connect_to(&a, 5000, &cf);
    run_until(&cf.builds, 1, 10);
    assert_int_equal(cf.last->made, 1);
    /* The connector is free for another attempt: a second connection. */
    assert_int_equal(twc_connector_connect(c, &err), 0);
    run_until(&cf.builds, 2, 10);
    run_until(&sf.builds, 2, 250);
    /* The server closes both; the client factory hears each end after the protocol. */
    ctx.in_call++;
    for (i = 0; i < ctx.nprotos; i++) {
        if (ctx.protos[i]->base.factory == &sf.base)
            twc_transport_lose_connection(ctx.protos[i]->t);
    }
    ctx.in_call--;
    run_until(&cf.client_lost, 2, 250);
    assert_string_equal(cf.order, "lost;client_lost;lost;client_lost;");
    assert_int_equal(cf.failed, 0);
    twc_connector_free(c);
    twc_listener_free(l);
    for (i = 0; i < 10; i++)
        twc_reactor_run_once(ctx.r, 0);
    /* Every slot reserved (the attempts', the four streams') was used or
     * given back. */
    assert_int_equal(ctx.r->soon_reserved, 0);
    ctx_end();
}

static void test_stream_connector_bad_address(void **state)
{
    tfactory f;
    twc_addr a;
    twc_err err;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    twc_addr_set(&a, NULL, 0);
    assert_null(twc_connector_new(ctx.r, &a, 0, &f.base, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_int_equal(twc_addr_from_ip(&a, "127.0.0.1", 0, NULL), 0);
    assert_null(twc_connector_new(ctx.r, &a, 0, &f.base, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_int_equal(f.starts, 0);
    ctx_end();
}

static void test_stream_connector_factory_refuses(void **state)
{
    struct twc_tcp_listen_opts o = {"127.0.0.1", 0, 0, 0};
    twc_listener *l;
    twc_connector *c;
    tfactory sf, cf;
    twc_addr a;
    twc_err err;

    ctx_begin(backend_of(state), 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.base.ops = &tp_noeof_ops;
    cf.refuse = 1;
    l = twc_tcp_listen(ctx.r, &o, &sf.base, &err);
    assert_non_null(l);
    assert_int_equal(twc_listener_addr(l, &a), 0);
    c = connect_to(&a, 5000, &cf);
    run_until(&cf.failed, 1, 250);
    assert_int_equal(cf.failed_code, TWC_ECANCELED);
    assert_int_equal(cf.builds, 1);
    /* The server saw the connection open and close. */
    run_until(&sf.builds, 1, 250);
    run_until(&sf.last->lost, 1, 250);
    twc_connector_free(c);
    twc_listener_free(l);
    ctx_end();
}

/* Callbacks may restart or free their connector. */
static twc_connector *reenter_c;
static int reenter_retries;

static void failed_reenters(twc_factory *bf, const twc_err *why)
{
    tf_ops.connection_failed(bf, why);
    if (reenter_retries-- > 0) {
        assert_int_equal(twc_connector_connect(reenter_c, NULL), 0);
    } else {
        twc_connector_free(reenter_c);
        reenter_c = NULL;
    }
}

static const struct twc_factory_ops reenter_ops = {
    .build = tf_build,
    .start = tf_start,
    .stop = tf_stop,
    .connection_failed = failed_reenters,
};

static void test_stream_connector_reenter_from_callback(void **state)
{
    char path[128];
    tfactory f;
    twc_addr a;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.base.ops = &reenter_ops;
    unix_path(path, sizeof(path), "reenter");
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    reenter_retries = 3;
    reenter_c = connect_to(&a, 5000, &f);
    run_until(&f.failed, 4, 20);
    assert_null(reenter_c);
    assert_int_equal(f.stops, 1);
    run_some(5);
    assert_int_equal(f.failed, 4);
    ctx_end();
}

#define BOTH(t) cmocka_unit_test_prestate(t, (void *)"epoll"), \
                cmocka_unit_test_prestate(t, (void *)"poll")

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_stream_connector_refused),
        BOTH(test_stream_connector_unix_missing),
        BOTH(test_stream_connector_timeout_unix),
        BOTH(test_stream_connector_timeout_tcp),
        BOTH(test_stream_connector_cancel),
        BOTH(test_stream_connector_free_pending),
        BOTH(test_stream_connector_success_from_loop),
        BOTH(test_stream_connector_bad_address),
        BOTH(test_stream_connector_factory_refuses),
        BOTH(test_stream_connector_reenter_from_callback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
