/*
 * Unit tests for lib/udp.c over real loopback sockets (127.0.0.1 and ::1 only).
 *
 * Datagrams need the kernel, so these tests run a real-clock reactor; every
 * wait is bounded (WAIT_MS) and none sleeps: the loop waits on the sockets.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "limits.h"
#include "reactor.h"
#include "udp.h"

#define WAIT_MS   5000
#define MAX_DGRAM 65507 /* largest UDP payload over IPv4: 65535 - 20 - 8 */

struct rec {
    twc_datagram_protocol base;
    int started;
    int stopped;
    int udp_null_in_stopped;
    size_t count;
    int errors;
    int last_err;
    int echo;          /* send every datagram back to its sender */
    int free_on_first; /* twc_udp_free from inside the first datagram_received */
    size_t batch;      /* datagrams since the test last reset it */
    uint8_t *last;     /* copy of the last datagram */
    size_t last_len;
    twc_addr last_from;
};

static void on_started(twc_datagram_protocol *p)
{
    struct rec *rc = (struct rec *)p;

    assert_non_null(p->udp);
    rc->started++;
}

static void on_datagram(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                        const twc_addr *from)
{
    struct rec *rc = (struct rec *)p;

    rc->count++;
    rc->batch++;
    free(rc->last);
    rc->last = malloc(len + 1);
    assert_non_null(rc->last);
    memcpy(rc->last, data, len);
    rc->last_len = len;
    rc->last_from = *from;
    if (rc->echo)
        assert_int_equal(twc_udp_send(p->udp, data, len, from), 0);
    if (rc->free_on_first)
        twc_udp_free(p->udp);
}

static void on_error(twc_datagram_protocol *p, const twc_err *err)
{
    struct rec *rc = (struct rec *)p;

    rc->errors++;
    rc->last_err = err->code;
}

static void on_stopped(twc_datagram_protocol *p)
{
    struct rec *rc = (struct rec *)p;

    rc->stopped++;
    rc->udp_null_in_stopped = p->udp == NULL;
}

static const struct twc_datagram_ops rec_ops = {
    .name = "rec",
    .started = on_started,
    .datagram_received = on_datagram,
    .error_received = on_error,
    .stopped = on_stopped,
};

static void rec_init(struct rec *rc)
{
    memset(rc, 0, sizeof(*rc));
    rc->base.ops = &rec_ops;
}

static void rec_cleanup(struct rec *rc)
{
    free(rc->last);
    rc->last = NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Run the loop until *counter reaches want, for at most WAIT_MS. */
static void run_until(twc_reactor *r, const size_t *counter, size_t want)
{
    uint64_t deadline = now_ms() + WAIT_MS;

    while (*counter < want && now_ms() < deadline)
        twc_reactor_run_once(r, 50);
    assert_int_equal(*counter, want);
}

static void run_until_error(twc_reactor *r, struct rec *rc)
{
    uint64_t deadline = now_ms() + WAIT_MS;

    while (rc->errors == 0 && now_ms() < deadline)
        twc_reactor_run_once(r, 50);
    assert_int_equal(rc->errors, 1);
}

/* Block (bounded) until fd has a datagram queued, without reading it. */
static void wait_readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
}

static twc_reactor *new_reactor(void)
{
    twc_err err;
    twc_reactor *r = twc_reactor_new(NULL, &err);

    assert_non_null(r);
    return r;
}

static void free_reactor(twc_reactor *r)
{
    /* Every test ends with no live watchers (libuv's lifetime check). */
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static twc_udp *listen_ok(twc_reactor *r, const char *iface, struct rec *rc)
{
    twc_err err;
    twc_udp *u = twc_udp_listen(r, iface, 0, &rc->base, &err);

    if (u == NULL)
        fail_msg("twc_udp_listen(%s): %s", iface ? iface : "NULL", err.msg);
    return u;
}

/* The port's address with the host replaced by a loopback one (for wildcards). */
static void loopback_addr(twc_udp *u, const char *host, twc_addr *out)
{
    twc_addr a;
    twc_err err;

    assert_int_equal(twc_udp_addr(u, &a), 0);
    assert_int_equal(twc_addr_from_ip(out, host, twc_addr_port(&a), &err), 0);
}

/* Is ::1 usable here? (Containers sometimes run without IPv6.) */
static int have_ipv6_loopback(void)
{
    struct sockaddr_in6 s6;
    int fd, ok;

    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;
    close(fd);
    return ok;
}

static void echo_roundtrip(const char *host)
{
    twc_reactor *r = new_reactor();
    struct rec srv, cli;
    twc_udp *s, *c;
    twc_addr to, saddr;
    char a[TWC_ADDR_STRLEN], b[TWC_ADDR_STRLEN];

    rec_init(&srv);
    rec_init(&cli);
    srv.echo = 1;
    s = listen_ok(r, host, &srv);
    c = listen_ok(r, host, &cli);
    assert_int_equal(twc_udp_addr(s, &to), 0);
    assert_int_equal(twc_udp_send(c, "hello", 5, &to), 0);
    run_until(r, &cli.count, 1);
    assert_int_equal(srv.count, 1);
    assert_int_equal(cli.last_len, 5);
    assert_memory_equal(cli.last, "hello", 5);
    /* The reply comes from the server's address, exactly. */
    assert_int_equal(twc_udp_addr(s, &saddr), 0);
    assert_string_equal(twc_addr_format(&cli.last_from, a, sizeof(a)),
                        twc_addr_format(&saddr, b, sizeof(b)));
    twc_udp_free(s);
    twc_udp_free(c);
    assert_int_equal(srv.stopped, 1);
    assert_int_equal(cli.stopped, 1);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void test_udp_echo_ipv4(void **state)
{
    (void)state;
    echo_roundtrip("127.0.0.1");
}

static void test_udp_echo_ipv6(void **state)
{
    (void)state;
    if (!have_ipv6_loopback())
        skip();
    echo_roundtrip("::1");
}

static void test_udp_wildcard_dual_stack(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec srv, cli;
    twc_udp *s, *c;
    twc_addr a, to;
    char buf[TWC_ADDR_STRLEN];

    (void)state;
    rec_init(&srv);
    rec_init(&cli);
    srv.echo = 1;
    s = listen_ok(r, NULL, &srv);
    assert_int_equal(twc_udp_addr(s, &a), 0);
    if (have_ipv6_loopback())
        assert_int_equal(twc_addr_family(&a), AF_INET6);
    /* An IPv4 client reaches the wildcard port; the server sees a plain IPv4
     * sender (not ::ffff:127.0.0.1) and can reply to it. */
    c = listen_ok(r, "127.0.0.1", &cli);
    loopback_addr(s, "127.0.0.1", &to);
    assert_int_equal(twc_udp_send(c, "v4", 2, &to), 0);
    run_until(r, &cli.count, 1);
    assert_int_equal(twc_addr_family(&srv.last_from), AF_INET);
    assert_string_equal(twc_addr_host(&srv.last_from, buf, sizeof(buf)), "127.0.0.1");
    assert_memory_equal(cli.last, "v4", 2);
    twc_udp_free(c);
    if (have_ipv6_loopback()) {
        rec_cleanup(&cli);
        rec_init(&cli);
        c = listen_ok(r, "::1", &cli);
        loopback_addr(s, "::1", &to);
        assert_int_equal(twc_udp_send(c, "v6", 2, &to), 0);
        run_until(r, &cli.count, 1);
        assert_int_equal(twc_addr_family(&srv.last_from), AF_INET6);
        assert_memory_equal(cli.last, "v6", 2);
        twc_udp_free(c);
    }
    twc_udp_free(s);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void test_udp_explicit_v6_any_dual_stack(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec srv, cli;
    twc_udp *s, *c;
    twc_addr to;

    (void)state;
    if (!have_ipv6_loopback()) {
        free_reactor(r);
        skip();
    }
    rec_init(&srv);
    rec_init(&cli);
    srv.echo = 1;
    /* "::" named explicitly serves IPv4 as well, as TCP listeners do. */
    s = listen_ok(r, "::", &srv);
    c = listen_ok(r, "127.0.0.1", &cli);
    loopback_addr(s, "127.0.0.1", &to);
    assert_int_equal(twc_udp_send(c, "mapped", 6, &to), 0);
    run_until(r, &cli.count, 1);
    assert_int_equal(twc_addr_family(&srv.last_from), AF_INET);
    assert_memory_equal(cli.last, "mapped", 6);
    twc_udp_free(c);
    twc_udp_free(s);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void close_on_start(twc_datagram_protocol *p)
{
    struct rec *rc = (struct rec *)p;

    rc->started++;
    twc_udp_free(p->udp);
}

static void test_udp_free_inside_started(void **state)
{
    static const struct twc_datagram_ops ops = {
        .name = "quitter",
        .started = close_on_start,
        .datagram_received = on_datagram,
        .stopped = on_stopped,
    };
    twc_reactor *r = new_reactor();
    struct rec rc;
    twc_err err;

    (void)state;
    rec_init(&rc);
    rc.base.ops = &ops;
    assert_null(twc_udp_listen(r, "127.0.0.1", 0, &rc.base, &err));
    assert_int_equal(err.code, TWC_ECANCELED);
    assert_int_equal(rc.started, 1);
    assert_int_equal(rc.stopped, 1);
    assert_null(rc.base.udp);
    rec_cleanup(&rc);
    free_reactor(r);
}

static void test_udp_port_zero_real_port(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec rc;
    twc_udp *u;
    twc_addr a;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd;

    (void)state;
    rec_init(&rc);
    u = listen_ok(r, "127.0.0.1", &rc);
    assert_int_equal(rc.started, 1);
    assert_ptr_equal(rc.base.udp, u);
    assert_int_equal(twc_udp_addr(u, &a), 0);
    assert_int_not_equal(twc_addr_port(&a), 0);
    fd = twc_udp_fd(u);
    assert_true(fd >= 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    assert_int_equal(ntohs(sin.sin_port), twc_addr_port(&a));
    /* Every fd is non-blocking and close-on-exec (STYLE 7). */
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    twc_udp_free(u);
    assert_int_equal(rc.stopped, 1);
    assert_int_equal(rc.udp_null_in_stopped, 1);
    assert_null(rc.base.udp);
    twc_udp_free(NULL);
    rec_cleanup(&rc);
    free_reactor(r);
}

static void test_udp_connected_send_recv(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec srv, cli, other;
    twc_udp *s, *c, *o;
    twc_addr saddr, caddr, oaddr;
    twc_err err;

    (void)state;
    rec_init(&srv);
    rec_init(&cli);
    rec_init(&other);
    srv.echo = 1;
    s = listen_ok(r, "127.0.0.1", &srv);
    c = listen_ok(r, "127.0.0.1", &cli);
    o = listen_ok(r, "127.0.0.1", &other);
    assert_int_equal(twc_udp_addr(s, &saddr), 0);
    assert_int_equal(twc_udp_addr(c, &caddr), 0);
    assert_int_equal(twc_udp_addr(o, &oaddr), 0);

    /* Unconnected: a destination is required. */
    assert_int_equal(twc_udp_send(c, "x", 1, NULL), TWC_EINVAL);
    assert_int_equal(twc_udp_connect(c, &saddr, &err), 0);
    /* Connected: NULL or the peer itself, nothing else. */
    assert_int_equal(twc_udp_send(c, "x", 1, &oaddr), TWC_EINVAL);
    /* A stranger's datagram is filtered by the kernel; the peer's arrives. */
    assert_int_equal(twc_udp_send(o, "stranger", 8, &caddr), 0);
    assert_int_equal(twc_udp_send(c, "ping", 4, NULL), 0);
    run_until(r, &cli.count, 1);
    assert_int_equal(cli.last_len, 4);
    assert_memory_equal(cli.last, "ping", 4);
    assert_int_equal(twc_addr_equal(&cli.last_from, &saddr), 1);
    assert_int_equal(twc_udp_send(c, "pong", 4, &saddr), 0);
    run_until(r, &cli.count, 2);
    assert_memory_equal(cli.last, "pong", 4);
    assert_int_equal(srv.count, 2);
    assert_int_equal(twc_addr_equal(&srv.last_from, &caddr), 1);
    assert_int_equal(cli.errors, 0);

    twc_udp_free(o);
    twc_udp_free(c);
    twc_udp_free(s);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    rec_cleanup(&other);
    free_reactor(r);
}

/* A port number nobody listens on: bind one, note it, close it. */
static uint16_t closed_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void test_udp_connection_refused_error_received(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec cli;
    twc_udp *c;
    twc_addr dead;
    twc_err err;

    (void)state;
    rec_init(&cli);
    c = listen_ok(r, "127.0.0.1", &cli);
    assert_int_equal(twc_addr_from_ip(&dead, "127.0.0.1", closed_port(), &err), 0);
    assert_int_equal(twc_udp_connect(c, &dead, &err), 0);
    assert_int_equal(twc_udp_send(c, "anyone?", 7, NULL), 0);
    /* The ICMP port unreachable comes back as ECONNREFUSED (RFC 1122 4.1.3.3). */
    run_until_error(r, &cli);
    assert_int_equal(cli.last_err, -ECONNREFUSED);
    assert_int_equal(cli.count, 0);
    twc_udp_free(c);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void test_udp_large_datagram(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec srv, cli;
    twc_udp *s, *c;
    twc_addr to;
    uint8_t *big;
    size_t i;
    int sz = 1 << 20;

    (void)state;
    big = malloc(MAX_DGRAM + 1);
    assert_non_null(big);
    for (i = 0; i < MAX_DGRAM + 1; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    rec_init(&srv);
    rec_init(&cli);
    srv.echo = 1;
    s = listen_ok(r, "127.0.0.1", &srv);
    c = listen_ok(r, "127.0.0.1", &cli);
    /* Room for a whole maximum datagram whatever the system defaults are. */
    setsockopt(twc_udp_fd(s), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    setsockopt(twc_udp_fd(s), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(twc_udp_fd(c), SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    setsockopt(twc_udp_fd(c), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    assert_int_equal(twc_udp_addr(s, &to), 0);
    assert_int_equal(twc_udp_send(c, big, MAX_DGRAM, &to), 0);
    run_until(r, &cli.count, 1);
    assert_int_equal(srv.last_len, MAX_DGRAM);
    assert_int_equal(cli.last_len, MAX_DGRAM);
    assert_memory_equal(cli.last, big, MAX_DGRAM);
    /* One byte more does not fit in an IPv4 datagram: the send says so. */
    assert_int_equal(twc_udp_send(c, big, MAX_DGRAM + 1, &to), -EMSGSIZE);
    twc_udp_free(s);
    twc_udp_free(c);
    free(big);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void test_udp_pause_stops_delivery(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec srv, cli;
    twc_udp *s, *c;
    twc_addr to;
    int i;

    (void)state;
    rec_init(&srv);
    rec_init(&cli);
    s = listen_ok(r, "127.0.0.1", &srv);
    c = listen_ok(r, "127.0.0.1", &cli);
    assert_int_equal(twc_udp_addr(s, &to), 0);
    twc_udp_pause(s);
    twc_udp_pause(s); /* nested pauses are not counted */
    assert_int_equal(twc_udp_send(c, "held", 4, &to), 0);
    /* The datagram is in the socket, yet the loop does not deliver it. */
    wait_readable(twc_udp_fd(s));
    for (i = 0; i < 5; i++)
        twc_reactor_run_once(r, 0);
    assert_int_equal(srv.count, 0);
    twc_udp_resume(s);
    run_until(r, &srv.count, 1);
    assert_memory_equal(srv.last, "held", 4);
    twc_udp_free(s);
    twc_udp_free(c);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void test_udp_reads_per_wakeup_bounded(void **state)
{
    const size_t n = TWC_READS_PER_WAKEUP + 8;
    twc_reactor *r = new_reactor();
    struct rec srv, cli;
    twc_udp *s, *c;
    twc_addr to;
    uint64_t deadline;
    size_t max_batch = 0;
    size_t i;
    int wakeups = 0;

    (void)state;
    rec_init(&srv);
    rec_init(&cli);
    s = listen_ok(r, "127.0.0.1", &srv);
    c = listen_ok(r, "127.0.0.1", &cli);
    assert_int_equal(twc_udp_addr(s, &to), 0);
    for (i = 0; i < n; i++)
        assert_int_equal(twc_udp_send(c, &i, sizeof(i), &to), 0);
    wait_readable(twc_udp_fd(s));
    deadline = now_ms() + WAIT_MS;
    while (srv.count < n && now_ms() < deadline) {
        srv.batch = 0;
        twc_reactor_run_once(r, 50);
        if (srv.batch > 0)
            wakeups++;
        if (srv.batch > max_batch)
            max_batch = srv.batch;
    }
    assert_int_equal(srv.count, n);
    /* One busy port yields to the others after TWC_READS_PER_WAKEUP datagrams. */
    assert_in_range(max_batch, 1, TWC_READS_PER_WAKEUP);
    assert_in_range(wakeups, 2, n);
    twc_udp_free(s);
    twc_udp_free(c);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void test_udp_free_inside_datagram_received(void **state)
{
    twc_reactor *r = new_reactor();
    struct rec srv, cli;
    twc_udp *s, *c;
    twc_addr to;
    int i;

    (void)state;
    rec_init(&srv);
    rec_init(&cli);
    srv.free_on_first = 1;
    s = listen_ok(r, "127.0.0.1", &srv);
    c = listen_ok(r, "127.0.0.1", &cli);
    assert_int_equal(twc_udp_addr(s, &to), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(twc_udp_send(c, "bye", 3, &to), 0);
    run_until(r, &srv.count, 1);
    /* Closed from its own callback: stopped ran once, nothing more arrived. */
    assert_int_equal(srv.stopped, 1);
    assert_null(srv.base.udp);
    for (i = 0; i < 3; i++)
        twc_reactor_run_once(r, 0);
    assert_int_equal(srv.count, 1);
    twc_udp_free(c);
    rec_cleanup(&srv);
    rec_cleanup(&cli);
    free_reactor(r);
}

static void test_udp_listen_errors(void **state)
{
    static const struct twc_datagram_ops no_recv_ops = {.name = "broken"};
    twc_reactor *r = new_reactor();
    twc_datagram_protocol broken = {.ops = &no_recv_ops, .udp = NULL};
    struct rec a, b;
    twc_udp *u;
    twc_addr addr;
    twc_err err;

    (void)state;
    rec_init(&a);
    rec_init(&b);
    assert_null(twc_udp_listen(r, "not-an-ip", 0, &a.base, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_null(twc_udp_listen(r, "127.0.0.1", 0, &broken, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    u = listen_ok(r, "127.0.0.1", &a);
    assert_int_equal(twc_udp_addr(u, &addr), 0);
    assert_null(twc_udp_listen(r, "127.0.0.1", twc_addr_port(&addr), &b.base, &err));
    assert_int_equal(err.code, -EADDRINUSE);
    assert_int_equal(b.started, 0);
    assert_int_equal(b.stopped, 0);
    twc_udp_free(u);
    rec_cleanup(&a);
    rec_cleanup(&b);
    free_reactor(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_echo_ipv4),
        cmocka_unit_test(test_udp_echo_ipv6),
        cmocka_unit_test(test_udp_wildcard_dual_stack),
        cmocka_unit_test(test_udp_explicit_v6_any_dual_stack),
        cmocka_unit_test(test_udp_port_zero_real_port),
        cmocka_unit_test(test_udp_connected_send_recv),
        cmocka_unit_test(test_udp_connection_refused_error_received),
        cmocka_unit_test(test_udp_large_datagram),
        cmocka_unit_test(test_udp_pause_stops_delivery),
        cmocka_unit_test(test_udp_reads_per_wakeup_bounded),
        cmocka_unit_test(test_udp_free_inside_datagram_received),
        cmocka_unit_test(test_udp_free_inside_started),
        cmocka_unit_test(test_udp_listen_errors),
    };

    return cmocka_run_group_tests_name("udp", tests, NULL, NULL);
}
