/*
 * Unit tests for twc_transport_sendfile (lib/stream.c, declared in
 * lib/transport_int.h): a file range sent with sendfile(2) between bytes
 * written before and after it, in order, over a real socket pair, with a
 * small socket buffer so the file goes out in several writable rounds.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "limits.h"
#include "protocol.h"
#include "reactor.h"
#include "stream_int.h"
#include "transport_int.h"

#define FILE_SIZE (3 * 1024 * 1024)

struct sink {
    twc_protocol base;
    int lost;
};

static void made(twc_protocol *p)
{
    (void)p;
}

static void data(twc_protocol *p, const uint8_t *d, size_t n)
{
    (void)p;
    (void)d;
    (void)n;
}

static void lost(twc_protocol *p, const twc_err *why)
{
    (void)why;
    ((struct sink *)p)->lost = 1;
}

static const struct twc_protocol_ops sink_ops = {
    .name = "sink", .connection_made = made, .data_received = data, .connection_lost = lost};

static twc_protocol *build(twc_factory *f, const twc_addr *peer)
{
    (void)f;
    (void)peer;
    return NULL;
}

static const struct twc_factory_ops fops = {.build = build};

static int temp_file(uint8_t **content)
{
    char name[] = "/tmp/twc-sendfile-XXXXXX";
    int fd = mkstemp(name);
    size_t i;

    assert_true(fd >= 0);
    unlink(name);
    *content = malloc(FILE_SIZE);
    for (i = 0; i < FILE_SIZE; i++)
        (*content)[i] = (uint8_t)(i * 7 + i / 251);
    assert_int_equal(write(fd, *content, FILE_SIZE), FILE_SIZE);
    return fd;
}

/* A stream transport on one end of a socket pair, the test reading the other. */
struct pair {
    twc_reactor *r;
    twc_transport *t;
    twc_factory f;
    struct sink p;
    int sv[2];
};

/* A connected TCP pair on loopback, both ends non-blocking. */
static void tcp_pair(int sv[2])
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
    sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(sv[0] >= 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    close(l);
}

static void pair_open(struct pair *x, int sndbuf, bool tcp)
{
    twc_err err;

    memset(x, 0, sizeof(*x));
    x->f.ops = &fops;
    x->r = twc_reactor_new(NULL, &err);
    assert_non_null(x->r);
    if (tcp)
        tcp_pair(x->sv);
    else
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, x->sv),
                         0);
    /* SO_SNDBUFFORCE (CAP_NET_ADMIN) passes the wmem_max cap when we may. */
    if (setsockopt(x->sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
        setsockopt(x->sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    x->t = twc__stream_new(x->r, x->sv[0], !tcp, &err);
    assert_non_null(x->t);
    x->p.base.ops = &sink_ops;
    twc__stream_start(x->t, &x->p.base, &x->f, 0);
}

/* Read want bytes into got while the loop runs; returns the loop turns
 * during which output was still queued. */
static int pair_read(struct pair *x, uint8_t *got, size_t want)
{
    size_t have = 0;
    int i, queued = 0;

    for (i = 0; i < 100000 && have < want; i++) {
        ssize_t n = read(x->sv[1], got + have, want - have);

        if (n > 0)
            have += (size_t)n;
        if (twc_transport_buffered(x->t) > 0)
            queued++;
        twc_reactor_run_once(x->r, 10);
    }
    assert_int_equal(have, want);
    return queued;
}

/* Close (after the output drained) and free everything. */
static void pair_close(struct pair *x)
{
    int i;

    twc_transport_lose_connection(x->t);
    for (i = 0; i < 100 && !x->p.lost; i++)
        twc_reactor_run_once(x->r, 10);
    assert_int_equal(x->p.lost, 1);
    close(x->sv[1]);
    twc_reactor_free(x->r);
}

static void test_stream_sendfile_in_order(void **state)
{
    struct pair x;
    uint8_t *content, *got = malloc(FILE_SIZE + 64);
    size_t want = 5 + (FILE_SIZE - 100) + 5;
    int fd;

    (void)state;
    pair_open(&x, 4096, false);
    fd = temp_file(&content);
    assert_int_equal(twc_transport_write(x.t, "HEAD:", 5), 0);
    assert_int_equal(twc_transport_sendfile(x.t, fd, 100, FILE_SIZE - 100), 0);
    /* One range at a time: a second is refused and stays the caller's. */
    assert_int_equal(twc_transport_sendfile(x.t, 0, 0, 1), TWC_EINVAL);
    assert_int_equal(twc_transport_write(x.t, ":TAIL", 5), 0);
    assert_true(twc_transport_buffered(x.t) > 0);
    pair_read(&x, got, want);
    assert_memory_equal(got, "HEAD:", 5);
    assert_memory_equal(got + 5, content + 100, FILE_SIZE - 100);
    assert_memory_equal(got + 5 + FILE_SIZE - 100, ":TAIL", 5);
    pair_close(&x);
    free(content);
    free(got);
}

/* One call sends at most TWC_SENDFILE_CHUNK, however much the socket would
 * take; the rest goes out from later wakeups, so one large file cannot hold
 * the loop (and the other connections) for the whole transfer. */
static void test_stream_sendfile_chunked_per_wakeup(void **state)
{
    struct pair x;
    uint8_t *content, *got = malloc(FILE_SIZE);
    int fd;

    (void)state;
    pair_open(&x, 8 * 1024 * 1024, false);
    fd = temp_file(&content);
    assert_int_equal(twc_transport_sendfile(x.t, fd, 0, FILE_SIZE), 0);
    assert_true(twc_transport_buffered(x.t) >= FILE_SIZE - TWC_SENDFILE_CHUNK);
    assert_true(pair_read(&x, got, FILE_SIZE) >= FILE_SIZE / TWC_SENDFILE_CHUNK - 1);
    assert_memory_equal(got, content, FILE_SIZE);
    pair_close(&x);
    free(content);
    free(got);
}

/* Over TCP the socket also gets TCP_NOTSENT_LOWAT with its first file, so
 * file bytes wait in the page cache rather than unsent in the socket (see
 * flush_file in lib/stream.c); the file still arrives whole. */
static void test_stream_sendfile_tcp_notsent_lowat(void **state)
{
    struct pair x;
    uint8_t *content, *got = malloc(FILE_SIZE);
    int fd, v = -1;
    socklen_t vlen = sizeof(v);

    (void)state;
    pair_open(&x, 1 << 20, true);
    fd = temp_file(&content);
    assert_int_equal(twc_transport_sendfile(x.t, fd, 0, FILE_SIZE), 0);
    assert_int_equal(getsockopt(x.sv[0], IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &vlen), 0);
    assert_int_equal(v, TWC_SENDFILE_NOTSENT_LOWAT);
    pair_read(&x, got, FILE_SIZE);
    assert_memory_equal(got, content, FILE_SIZE);
    pair_close(&x);
    free(content);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_sendfile_in_order),
        cmocka_unit_test(test_stream_sendfile_chunked_per_wakeup),
        cmocka_unit_test(test_stream_sendfile_tcp_notsent_lowat),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
