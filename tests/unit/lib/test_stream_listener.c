/*
 * Unit tests for lib/listener.c: UNIX socket files (mode, stale replacement,
 * live collisions, unlink on free), TCP binding (port in use, SO_REUSEPORT,
 * dual-stack wildcard), adopted fds, pause/resume, the per-wakeup accept
 * bound, factory start/stop, and freeing a listener from inside its own
 * callbacks. Loopback only.
 */
#include "test_stream_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

static const char *backend_of(void **state)
{
    return (const char *)*state;
}

/* A blocking client connected to a (loopback or UNIX) address. */
static int raw_connect(const twc_addr *a)
{
    int fd = socket(twc_addr_family(a), SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)&a->ss, a->len), 0);
    return fd;
}

/* Read until EOF or error; returns bytes read (bounded wait). */
static void close_all(int *fds, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

/* Run until every protocol built so far has been lost. */
static void settle_lost(void)
{
    int i, j;

    for (i = 0; i < ctx.nprotos; i++) {
        for (j = 0; j < 250 && ctx.protos[i]->lost == 0; j++)
            assert_true(twc_reactor_run_once(ctx.r, 20) >= 0);
        assert_int_equal(ctx.protos[i]->lost, 1);
    }
}

static void test_stream_listener_unix_mode(void **state)
{
    char path[128];
    twc_listener *l;
    tfactory f;
    struct stat st;
    twc_err err;
    mode_t old;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    unix_path(path, sizeof(path), "mode");
    l = twc_unix_listen(ctx.r, path, 0600, &f.base, &err);
    assert_non_null(l);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    twc_listener_free(l);
    assert_int_equal(stat(path, &st), -1);

    /* mode 0: 0666 masked by the umask. */
    old = umask(027);
    l = twc_unix_listen(ctx.r, path, 0, &f.base, &err);
    umask(old);
    assert_non_null(l);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    twc_listener_free(l);

    assert_null(twc_unix_listen(ctx.r, path, 010000, &f.base, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_int_equal(f.starts, 2);
    assert_int_equal(f.stops, 2);
    ctx_end();
}

static void test_stream_listener_unix_stale_replaced(void **state)
{
    char path[128];
    twc_listener *l;
    tfactory f;
    twc_addr a;
    twc_err err;
    int fd, c;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.tmpl.base.ops = &tp_noeof_ops;
    unix_path(path, sizeof(path), "stale");
    /* A socket file whose owner is gone: bound, never listening, closed. */
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a.ss, a.len), 0);
    close(fd);

    l = twc_unix_listen(ctx.r, path, 0600, &f.base, &err);
    assert_non_null(l);
    c = raw_connect(&a);
    run_until(&f.builds, 1, 250);
    close(c);
    settle_lost();
    twc_listener_free(l);
    ctx_end();
}

static void test_stream_listener_unix_live_in_use(void **state)
{
    char path[128];
    twc_listener *l1, *l2;
    tfactory f;
    struct stat st;
    twc_addr a;
    twc_err err;
    int c, fd;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.tmpl.base.ops = &tp_noeof_ops;
    unix_path(path, sizeof(path), "live");
    l1 = twc_unix_listen(ctx.r, path, 0600, &f.base, &err);
    assert_non_null(l1);
    l2 = twc_unix_listen(ctx.r, path, 0600, &f.base, &err);
    assert_null(l2);
    assert_int_equal(err.code, -EADDRINUSE);
    assert_non_null(strstr(err.msg, "another process is listening"));
    /* The live listener kept its file and still works. */
    assert_int_equal(twc_addr_from_path(&a, path, NULL), 0);
    c = raw_connect(&a);
    /* Two connections: the liveness probe of the second listen, then ours. */
    run_until(&f.builds, 2, 250);
    close(c);
    settle_lost();
    twc_listener_free(l1);

    /* A file that is not a socket is never removed. */
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_null(twc_unix_listen(ctx.r, path, 0600, &f.base, &err));
    assert_int_equal(err.code, -EADDRINUSE);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(path);
    assert_int_equal(f.starts, 1);
    assert_int_equal(f.stops, 1);
    ctx_end();
}

static void test_stream_listener_tcp_port_in_use(void **state)
{
    struct twc_tcp_listen_opts o = {"127.0.0.1", 0, 0, 0};
    twc_listener *l1, *l2;
    tfactory f;
    twc_addr a;
    twc_err err;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    l1 = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(l1);
    assert_int_equal(twc_listener_addr(l1, &a), 0);
    o.port = twc_addr_port(&a);
    l2 = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_null(l2);
    assert_int_equal(err.code, -EADDRINUSE);
    assert_non_null(strstr(err.msg, "127.0.0.1"));
    twc_listener_free(l1);

    /* With SO_REUSEPORT on both, two listeners share the port (workers). */
    o.reuseport = 1;
    o.port = 0;
    l1 = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(l1);
    assert_int_equal(twc_listener_addr(l1, &a), 0);
    o.port = twc_addr_port(&a);
    l2 = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(l2);
    twc_listener_free(l1);
    twc_listener_free(l2);
    assert_int_equal(f.starts, 2);
    assert_int_equal(f.stops, 2);
    ctx_end();
}

static void test_stream_listener_tcp_bad_options(void **state)
{
    struct twc_tcp_listen_opts o = {"not-an-address", 0, 0, 0};
    tfactory f;
    twc_err err;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    assert_null(twc_tcp_listen(ctx.r, &o, &f.base, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    o.interface = "127.0.0.1";
    o.backlog = -1;
    assert_null(twc_tcp_listen(ctx.r, &o, &f.base, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_int_equal(f.starts, 0);
    ctx_end();
}

/* interface NULL: one dual-stack socket takes IPv4 and IPv6 clients. */
static void test_stream_listener_tcp_wildcard_dual_stack(void **state)
{
    struct twc_tcp_listen_opts o = {NULL, 0, 0, 0};
    twc_listener *l;
    tfactory f;
    twc_addr a, to;
    twc_err err;
    int c4, c6 = -1;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.tmpl.base.ops = &tp_noeof_ops;
    l = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(l);
    assert_int_equal(twc_listener_addr(l, &a), 0);
    assert_int_equal(twc_addr_family(&a), have_ipv6() ? AF_INET6 : AF_INET);
    assert_int_equal(twc_addr_from_ip(&to, "127.0.0.1", twc_addr_port(&a), NULL), 0);
    c4 = raw_connect(&to);
    run_until(&f.builds, 1, 250);
    if (have_ipv6()) {
        assert_int_equal(twc_addr_from_ip(&to, "::1", twc_addr_port(&a), NULL), 0);
        c6 = raw_connect(&to);
        run_until(&f.builds, 2, 250);
        close(c6);
    }
    close(c4);
    settle_lost();
    twc_listener_free(l);
    ctx_end();
}

static void test_stream_listener_adopt(void **state)
{
    twc_listener *l;
    tfactory f;
    twc_addr a, got;
    twc_err err;
    int fd, c;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.tmpl.base.ops = &tp_noeof_ops;
    /* A blocking, inheritable listening socket, as a supervisor would pass. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(twc_addr_from_ip(&a, "127.0.0.1", 0, NULL), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a.ss, a.len), 0);
    assert_int_equal(listen(fd, 16), 0);
    l = twc_listener_adopt(ctx.r, fd, &f.base, &err);
    assert_non_null(l);
    assert_int_equal(twc_listener_fd(l), fd);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(twc_listener_addr(l, &got), 0);
    c = raw_connect(&got);
    run_until(&f.builds, 1, 250);
    close(c);
    settle_lost();
    twc_listener_free(l);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* the listener owned and closed it */

    /* Not listening: refused (and the fd, taken, is closed). */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_null(twc_listener_adopt(ctx.r, fd, &f.base, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    ctx_end();
}

static void test_stream_listener_pause_resume(void **state)
{
    struct twc_tcp_listen_opts o = {"127.0.0.1", 0, 0, 0};
    twc_listener *l;
    tfactory f;
    twc_addr a;
    twc_err err;
    int c;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.tmpl.base.ops = &tp_noeof_ops;
    l = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(l);
    assert_int_equal(twc_listener_addr(l, &a), 0);
    twc_listener_pause(l);
    c = raw_connect(&a); /* completes in the kernel's queue */
    run_some(10);
    assert_int_equal(f.builds, 0);
    twc_listener_resume(l);
    run_until(&f.builds, 1, 250);
    close(c);
    settle_lost();
    twc_listener_free(l);
    ctx_end();
}

static void test_stream_listener_accepts_bounded_per_wakeup(void **state)
{
    struct twc_tcp_listen_opts o = {"127.0.0.1", 0, 200, 0};
    enum { N = 100 };
    int fds[N], i;
    twc_listener *l;
    tfactory f;
    twc_addr a;
    twc_err err;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.tmpl.base.ops = &tp_noeof_ops;
    l = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(l);
    assert_int_equal(twc_listener_addr(l, &a), 0);
    for (i = 0; i < N; i++)
        fds[i] = raw_connect(&a);
    assert_true(twc_reactor_run_once(ctx.r, 1000) >= 0);
    assert_int_equal(f.builds, TWC_ACCEPTS_PER_WAKEUP);
    run_until(&f.builds, N, 250);
    close_all(fds, N);
    settle_lost();
    twc_listener_free(l);
    ctx_end();
}

/* A protocol that frees its listener from connection_made. */
static twc_listener *to_free;

static void made_frees_listener(twc_protocol *p)
{
    tp_ops.connection_made(p);
    twc_listener_free(to_free);
    to_free = NULL;
}

static const struct twc_protocol_ops free_listener_ops = {
    .name = "free-listener",
    .connection_made = made_frees_listener,
    .data_received = tp_data,
    .connection_lost = tp_lost,
};

static void test_stream_listener_free_inside_callback(void **state)
{
    struct twc_tcp_listen_opts o = {"127.0.0.1", 0, 0, 0};
    int fds[4], i;
    tfactory f;
    twc_addr a;
    twc_err err;

    ctx_begin(backend_of(state), 0);
    tf_init(&f);
    f.tmpl.base.ops = &free_listener_ops;
    to_free = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(to_free);
    assert_int_equal(twc_listener_addr(to_free, &a), 0);
    for (i = 0; i < 4; i++)
        fds[i] = raw_connect(&a);
    run_until(&f.builds, 1, 250);
    run_some(10);
    /* Freed after the first accept: the others were never taken. */
    assert_int_equal(f.builds, 1);
    assert_null(to_free);
    assert_int_equal(f.stops, 1);
    close_all(fds, 4);
    settle_lost();
    ctx_end();
}

#define BOTH(t) cmocka_unit_test_prestate(t, (void *)"epoll"), \
                cmocka_unit_test_prestate(t, (void *)"poll")

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_stream_listener_unix_mode),
        BOTH(test_stream_listener_unix_stale_replaced),
        BOTH(test_stream_listener_unix_live_in_use),
        BOTH(test_stream_listener_tcp_port_in_use),
        BOTH(test_stream_listener_tcp_bad_options),
        BOTH(test_stream_listener_tcp_wildcard_dual_stack),
        BOTH(test_stream_listener_adopt),
        BOTH(test_stream_listener_pause_resume),
        BOTH(test_stream_listener_accepts_bounded_per_wakeup),
        BOTH(test_stream_listener_free_inside_callback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
