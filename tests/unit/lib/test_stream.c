/*
 * Unit tests for lib/stream.c over real loopback sockets (127.0.0.1, ::1 and
 * UNIX sockets): echo round trips, half-close, lose vs abort, closing from
 * inside data_received, flow control against a peer that does not read, a
 * 1 MiB transfer, resets. Each test runs on both reactor backends.
 */
#include "test_stream_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>

static const char *backend_of(void **state)
{
    return (const char *)*state;
}

struct pair {
    twc_listener *l;
    twc_connector *c;
    twc_addr addr;
    char path[128];
};

/* Listen for family (AF_INET, AF_INET6 or AF_UNIX) with sf, connect with cf. */
static void open_pair(struct pair *pp, int family, tfactory *sf, tfactory *cf)
{
    struct twc_tcp_listen_opts o = {0};
    twc_err err;

    memset(pp, 0, sizeof(*pp));
    if (family == AF_UNIX) {
        unix_path(pp->path, sizeof(pp->path), "stream");
        pp->l = twc_unix_listen(ctx.r, pp->path, 0600, &sf->base, &err);
    } else {
        o.interface = family == AF_INET ? "127.0.0.1" : "::1";
        pp->l = twc_tcp_listen(ctx.r, &o, &sf->base, &err);
    }
    assert_non_null(pp->l);
    assert_int_equal(twc_listener_addr(pp->l, &pp->addr), 0);
    assert_int_equal(twc_addr_family(&pp->addr), family);
    if (family != AF_UNIX)
        assert_true(twc_addr_port(&pp->addr) != 0); /* port 0 asked, real port given */
    pp->c = twc_connector_new(ctx.r, &pp->addr, 5000, &cf->base, &err);
    assert_non_null(pp->c);
}

static void close_pair(struct pair *pp)
{
    struct stat st;

    twc_connector_free(pp->c);
    twc_listener_free(pp->l);
    if (pp->path[0] != '\0')
        assert_int_equal(stat(pp->path, &st), -1); /* unlinked on free */
}

/* Client sends, half-closes; the server echoes and closes after its EOF. */
static void echo_roundtrip(const char *backend, int family)
{
    static const char msg[] = "hello, world";
    tfactory sf, cf;
    struct pair pp;
    tproto *s, *c;

    ctx_begin(backend, 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.echo = 1;
    cf.tmpl.greet = msg;
    cf.tmpl.greet_len = strlen(msg);
    cf.tmpl.after_greet = CLOSE_SHUTDOWN;
    open_pair(&pp, family, &sf, &cf);
    assert_int_equal(sf.starts, 1);
    assert_int_equal(cf.starts, 1);

    run_until(&cf.builds, 1, 250);
    c = cf.last;
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until_size(&c->received, strlen(msg), 250);
    assert_memory_equal(twc_buf_data(&c->in), msg, strlen(msg));

    run_until(&c->lost, 1, 250);
    run_until(&s->lost, 1, 250);
    assert_int_equal(s->eofs, 1);
    assert_int_equal(c->eofs, 1);
    assert_int_equal(s->lost_code, 0);
    assert_int_equal(c->lost_code, 0);
    assert_string_equal(cf.order, "lost;client_lost;");
    assert_int_equal(cf.client_lost, 1);
    assert_int_equal(cf.failed, 0);
    assert_int_equal(sf.client_lost, 0);
    close_pair(&pp);
    assert_int_equal(sf.stops, 1);
    assert_int_equal(cf.stops, 1);
    ctx_end();
}

static void test_stream_echo_tcp_v4(void **state)
{
    echo_roundtrip(backend_of(state), AF_INET);
}

static void test_stream_echo_tcp_v6(void **state)
{
    if (!have_ipv6())
        skip();
    echo_roundtrip(backend_of(state), AF_INET6);
}

static void test_stream_echo_unix(void **state)
{
    echo_roundtrip(backend_of(state), AF_UNIX);
}

static void test_stream_half_close_reply_after_eof(void **state)
{
    tfactory sf, cf;
    struct pair pp;
    tproto *s, *c;

    ctx_begin(backend_of(state), 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.reply_on_eof = 1; /* stays half-open, answers, then closes */
    cf.tmpl.greet = "ping";
    cf.tmpl.greet_len = 4;
    cf.tmpl.after_greet = CLOSE_SHUTDOWN;
    cf.tmpl.keep_half_open = 1; /* the client keeps its read side open after EOF too */
    open_pair(&pp, AF_INET, &sf, &cf);
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    run_until(&c->lost, 1, 250);
    run_until(&s->lost, 1, 250);
    /* The server read all of the client's data after the client shut its write side,
     * and the client read the answer after that. */
    assert_int_equal(s->eofs, 1);
    assert_int_equal(s->received, 4);
    assert_int_equal(c->received, 5);
    assert_memory_equal(twc_buf_data(&c->in), "got 4", 5);
    /* Its write side already shut, the client closes at EOF despite keep_half_open. */
    assert_int_equal(c->eofs, 1);
    assert_int_equal(c->lost_code, 0);
    assert_int_equal(s->lost_code, 0);
    close_pair(&pp);
    ctx_end();
}

static void test_stream_write_after_shutdown_refused(void **state)
{
    tfactory sf, cf;
    struct pair pp;
    tproto *c;

    ctx_begin(backend_of(state), 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.base.ops = &tp_noeof_ops; /* closes at EOF */
    cf.tmpl.after_greet = CLOSE_SHUTDOWN;
    open_pair(&pp, AF_UNIX, &sf, &cf);
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    if (!c->lost) {
        assert_int_equal(twc_transport_write(c->t, "late", 4), TWC_ECLOSED);
        assert_int_equal(twc_transport_shutdown_write(c->t), 0); /* idempotent */
    }
    run_until(&c->lost, 1, 250);
    run_until(&sf.builds, 1, 250);
    run_until(&sf.last->lost, 1, 250);
    assert_int_equal(c->lost_code, 0);
    close_pair(&pp);
    ctx_end();
}

/* The server writes 4 MiB at once (most of it queued: small socket buffers),
 * then loses or aborts. */
static void lose_or_abort(const char *backend, enum close_mode how)
{
    const size_t total = 4 * 1024 * 1024;
    uint8_t *data = malloc(total);
    tfactory sf, cf;
    struct pair pp;
    tproto *s, *c;
    int i;

    assert_non_null(data);
    fill_pattern(data, total, 7);
    ctx_begin(backend, 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.base.ops = &tp_producer_ops;
    sf.tmpl.small_buffers = 1;
    sf.tmpl.greet = data;
    sf.tmpl.greet_len = total;
    sf.tmpl.after_greet = how;
    cf.tmpl.base.ops = &tp_noeof_ops;
    open_pair(&pp, AF_INET, &sf, &cf);
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    for (i = 0; i < 2000 && !c->lost; i++)
        assert_true(twc_reactor_run_once(ctx.r, 20) >= 0);
    run_until(&c->lost, 1, 1);
    run_until(&s->lost, 1, 250);
    if (how == CLOSE_LOSE) {
        /* Everything queued was flushed before the close. */
        assert_int_equal(c->received, total);
        assert_memory_equal(twc_buf_data(&c->in), data, total);
        assert_int_equal(s->lost_code, 0);
        assert_int_equal(c->lost_code, 0);
    } else {
        /* The queue was dropped: the peer saw at most what the kernel had. */
        assert_true(c->received < total);
        assert_memory_equal(twc_buf_data(&c->in), data, c->received);
        assert_int_equal(s->lost_code, -ECONNABORTED);
    }
    assert_int_equal(s->pauses, 1); /* 4 MiB is above the high-water mark */
    close_pair(&pp);
    ctx_end();
    free(data);
}

static void test_stream_lose_flushes_pending_output(void **state)
{
    lose_or_abort(backend_of(state), CLOSE_LOSE);
}

static void test_stream_abort_drops_pending_output(void **state)
{
    lose_or_abort(backend_of(state), CLOSE_ABORT);
}

/* Closing from inside data_received: no further data_received, writes after
 * the close are refused, connection_lost comes later from the loop. */
static void close_inside_data(const char *backend, enum close_mode how)
{
    const size_t n = 256 * 1024;
    uint8_t *data = malloc(n);
    tfactory sf, cf;
    struct pair pp;
    tproto *s, *c;

    assert_non_null(data);
    fill_pattern(data, n, 3);
    ctx_begin(backend, 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.on_data = how;
    cf.tmpl.greet = data;
    cf.tmpl.greet_len = n;
    cf.tmpl.base.ops = &tp_producer_ops;
    open_pair(&pp, AF_INET, &sf, &cf);
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until(&s->datas, 1, 250);
    /* (ctx_end checks that lost never came from inside the close call.) */
    run_until(&s->lost, 1, 250);
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    run_until(&c->lost, 1, 250);
    assert_int_equal(s->datas, 1);
    assert_int_equal(s->write_after_close_rc, TWC_ECLOSED);
    if (how == CLOSE_LOSE) {
        assert_int_equal(s->lost_code, 0);
        assert_true(c->received == 3);
        assert_memory_equal(twc_buf_data(&c->in), "bye", 3);
    } else {
        assert_int_equal(s->lost_code, -ECONNABORTED);
    }
    close_pair(&pp);
    ctx_end();
    free(data);
}

static void test_stream_lose_inside_data_received(void **state)
{
    close_inside_data(backend_of(state), CLOSE_LOSE);
}

static void test_stream_abort_inside_data_received(void **state)
{
    close_inside_data(backend_of(state), CLOSE_ABORT);
}

/* A 1 MiB round trip through an echo server arrives intact. */
static void transfer_1mib(const char *backend, int family)
{
    const size_t total = 1024 * 1024;
    uint8_t *data = malloc(total);
    tfactory sf, cf;
    struct pair pp;
    tproto *c;

    assert_non_null(data);
    fill_pattern(data, total, 11);
    ctx_begin(backend, 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.echo = 1;
    sf.tmpl.keep_bytes = 0;
    cf.tmpl.greet = data;
    cf.tmpl.greet_len = total;
    cf.tmpl.after_greet = CLOSE_SHUTDOWN;
    open_pair(&pp, family, &sf, &cf);
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    run_until(&c->lost, 1, 2000);
    assert_int_equal(c->received, total);
    assert_memory_equal(twc_buf_data(&c->in), data, total);
    assert_int_equal(c->lost_code, 0);
    run_until(&sf.last->lost, 1, 250);
    assert_int_equal(sf.last->received, total);
    close_pair(&pp);
    ctx_end();
    free(data);
}

static void test_stream_transfer_1mib_tcp(void **state)
{
    transfer_1mib(backend_of(state), AF_INET);
}

static void test_stream_transfer_1mib_unix(void **state)
{
    transfer_1mib(backend_of(state), AF_UNIX);
}

/*
 * A client that writes 8 MiB but does not read: the echo server's output
 * backs up past the high-water mark, so it must stop (pause reading, or
 * pause_producing for a producer), then resume once the client drains.
 */
static void flow_control(const char *backend, int producer)
{
    const size_t total = 8 * 1024 * 1024;
    uint8_t *data = malloc(total);
    tfactory sf, cf;
    struct pair pp;
    tproto *s, *c;
    size_t got;
    int i;

    assert_non_null(data);
    fill_pattern(data, total, 5);
    ctx_begin(backend, 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.echo = 1;
    sf.tmpl.keep_bytes = 0;
    sf.tmpl.small_buffers = 1;
    sf.tmpl.base.ops = producer ? &tp_producer_ops : &tp_ops;
    cf.tmpl.base.ops = &tp_producer_ops; /* the client's own queue must not block its reads */
    cf.tmpl.greet = data;
    cf.tmpl.greet_len = total;
    cf.tmpl.pause_on_made = 1;
    cf.tmpl.small_buffers = 1;
    open_pair(&pp, AF_INET, &sf, &cf);
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until(&cf.builds, 1, 250);
    c = cf.last;

    if (producer) {
        run_until(&s->pauses, 1, 1000);
        assert_true(twc_transport_buffered(s->t) > TWC_WRITE_HIGH_WATER);
        assert_int_equal(s->t->reading_paused_by_flow, 0);
    } else {
        for (i = 0; i < 1000 && !s->t->reading_paused_by_flow; i++)
            assert_true(twc_reactor_run_once(ctx.r, 20) >= 0);
        assert_int_equal(s->t->reading_paused_by_flow, 1);
        assert_true(twc_transport_buffered(s->t) > TWC_WRITE_HIGH_WATER);
        /* Paused means paused: the server reads nothing more. */
        got = s->received;
        for (i = 0; i < 10; i++)
            assert_true(twc_reactor_run_once(ctx.r, 5) >= 0);
        assert_int_equal(s->received, got);
        assert_true(got < total);
    }
    assert_int_equal(c->received, 0);
    assert_int_equal(s->drains, 0);

    /* The client starts reading: everything flows, the server resumes. */
    twc_transport_resume_reading(c->t);
    run_until_size(&c->received, total, 3000);
    assert_memory_equal(twc_buf_data(&c->in), data, total);
    assert_true(s->drains >= 1);
    assert_int_equal(s->t->reading_paused_by_flow, 0);
    assert_int_equal(s->received, total);

    ctx.in_call++;
    twc_transport_lose_connection(c->t);
    ctx.in_call--;
    run_until(&c->lost, 1, 250);
    run_until(&s->lost, 1, 250);
    close_pair(&pp);
    ctx_end();
    free(data);
}

static void test_stream_flow_control_pauses_reading(void **state)
{
    flow_control(backend_of(state), 0);
}

static void test_stream_flow_control_pauses_producer(void **state)
{
    flow_control(backend_of(state), 1);
}

static void test_stream_pause_and_resume_reading(void **state)
{
    tfactory sf, cf;
    struct pair pp;
    tproto *s;

    ctx_begin(backend_of(state), 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.pause_on_made = 1;
    cf.tmpl.greet = "abc";
    cf.tmpl.greet_len = 3;
    open_pair(&pp, AF_UNIX, &sf, &cf);
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until(&cf.builds, 1, 250);
    run_some(20);
    assert_int_equal(s->datas, 0);
    twc_transport_resume_reading(s->t);
    run_until_size(&s->received, 3, 250);
    /* Nested pauses are not counted: one resume undoes two pauses. */
    twc_transport_pause_reading(s->t);
    twc_transport_pause_reading(s->t);
    twc_transport_resume_reading(s->t);
    ctx.in_call++;
    twc_transport_lose_connection(cf.last->t);
    ctx.in_call--;
    run_until(&s->lost, 1, 250);
    assert_int_equal(s->eofs, 1);
    run_until(&cf.last->lost, 1, 250);
    close_pair(&pp);
    ctx_end();
}

/* The peer resets (aborts with our data unread): the server hears ECONNRESET
 * (or EPIPE when its write comes first). */
static void test_stream_peer_reset_reported(void **state)
{
    tfactory sf, cf;
    struct pair pp;
    tproto *s, *c;
    int i;

    ctx_begin(backend_of(state), 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.tmpl.greet = "unread data";
    sf.tmpl.greet_len = 11;
    cf.tmpl.pause_on_made = 1;
    open_pair(&pp, AF_INET, &sf, &cf);
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    run_some(5);
    /* Closing with unread bytes makes the kernel send RST (RFC 2525 section 2.17). */
    ctx.in_call++;
    twc_transport_abort(c->t);
    ctx.in_call--;
    assert_int_equal(c->lost, 0);
    run_until(&c->lost, 1, 250);
    assert_int_equal(c->lost_code, -ECONNABORTED);
    for (i = 0; i < 250 && !s->lost; i++) {
        /* Keep writing so the reset surfaces even if a read would not see it. */
        if (i > 5 && s->t != NULL && s->base.transport != NULL)
            (void)twc_transport_write(s->t, "x", 1);
        assert_true(twc_reactor_run_once(ctx.r, 20) >= 0);
    }
    assert_int_equal(s->lost, 1);
    assert_true(s->lost_code == -ECONNRESET || s->lost_code == -EPIPE);
    close_pair(&pp);
    ctx_end();
}

/* peer/host/describe while the connection is up, for TCP and UNIX. */
static void addresses(const char *backend, int family)
{
    char desc[256], want[64];
    tfactory sf, cf;
    struct pair pp;
    tproto *s, *c;
    twc_addr a;
    int i;

    ctx_begin(backend, 0);
    tf_init(&sf);
    tf_init(&cf);
    open_pair(&pp, family, &sf, &cf);
    run_until(&sf.builds, 1, 250);
    s = sf.last;
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    assert_int_equal(twc_transport_host(s->t, &a), 0);
    assert_int_equal(twc_addr_equal(&a, &pp.addr), 1);
    assert_int_equal(twc_transport_peer(c->t, &a), 0);
    assert_int_equal(twc_addr_equal(&a, &pp.addr), 1);
    if (family != AF_UNIX) {
        /* The server's peer is the client's host. */
        twc_addr b;

        assert_int_equal(twc_transport_peer(s->t, &a), 0);
        assert_int_equal(twc_transport_host(c->t, &b), 0);
        assert_int_equal(twc_addr_equal(&a, &b), 1);
    }
    /* Every socket is non-blocking and close-on-exec; TCP ones have Nagle off. */
    for (i = 0; i < 2; i++) {
        int fd = twc_transport_fd(i == 0 ? s->t : c->t), one = 0;
        socklen_t len = sizeof(one);

        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        if (family != AF_UNIX) {
            assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, &len), 0);
            assert_int_equal(one, 1);
        }
    }
    assert_int_equal(twc_transport_reactor(c->t), ctx.r);
    assert_true(twc_transport_fd(c->t) >= 0);
    assert_int_equal(twc_transport_buffered(c->t), 0);
    twc_transport_describe(c->t, desc, sizeof(desc));
    twc_addr_format(&pp.addr, want, sizeof(want));
    assert_non_null(strstr(desc, want));
    assert_memory_equal(desc, family == AF_UNIX ? "unix " : "tcp ", family == AF_UNIX ? 5 : 4);
    ctx.in_call++;
    twc_transport_lose_connection(c->t);
    twc_transport_lose_connection(c->t); /* twice is harmless */
    twc_transport_abort(c->t);           /* and so is abort after lose */
    ctx.in_call--;
    run_until(&c->lost, 1, 250);
    run_until(&s->lost, 1, 250);
    assert_int_equal(c->lost_code, 0);
    close_pair(&pp);
    ctx_end();
}

static void test_stream_addresses_tcp(void **state)
{
    addresses(backend_of(state), AF_INET);
}

static void test_stream_addresses_unix(void **state)
{
    addresses(backend_of(state), AF_UNIX);
}

static void test_stream_refused_by_factory(void **state)
{
    tfactory sf, cf;
    struct pair pp;
    tproto *c;

    ctx_begin(backend_of(state), 0);
    tf_init(&sf);
    tf_init(&cf);
    sf.refuse = 1;
    cf.tmpl.base.ops = &tp_noeof_ops;
    open_pair(&pp, AF_INET, &sf, &cf);
    run_until(&cf.builds, 1, 250);
    c = cf.last;
    run_until(&sf.builds, 1, 250);
    /* The server closed the socket: the client sees the end. */
    run_until(&c->lost, 1, 250);
    assert_true(c->lost_code == 0 || c->lost_code == -ECONNRESET);
    assert_int_equal(c->received, 0);
    close_pair(&pp);
    ctx_end();
}

#define BOTH(t) cmocka_unit_test_prestate(t, (void *)"epoll"), \
                cmocka_unit_test_prestate(t, (void *)"poll")

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_stream_echo_tcp_v4),
        BOTH(test_stream_echo_tcp_v6),
        BOTH(test_stream_echo_unix),
        BOTH(test_stream_half_close_reply_after_eof),
        BOTH(test_stream_write_after_shutdown_refused),
        BOTH(test_stream_lose_flushes_pending_output),
        BOTH(test_stream_abort_drops_pending_output),
        BOTH(test_stream_lose_inside_data_received),
        BOTH(test_stream_abort_inside_data_received),
        BOTH(test_stream_transfer_1mib_tcp),
        BOTH(test_stream_transfer_1mib_unix),
        BOTH(test_stream_flow_control_pauses_reading),
        BOTH(test_stream_flow_control_pauses_producer),
        BOTH(test_stream_pause_and_resume_reading),
        BOTH(test_stream_peer_reset_reported),
        BOTH(test_stream_refused_by_factory),
        BOTH(test_stream_addresses_tcp),
        BOTH(test_stream_addresses_unix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
