/*
 * Unit tests for lib/testing.c: the string transport and the loopback pump,
 * exercised with a tiny echo protocol, a line-counting protocol and a bulk
 * producer. Input goes in whole, one byte at a time and in seeded random
 * splits; every way must give the same result. No sockets, no real time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "err.h"
#include "limits.h"
#include "protocol.h"
#include "reactor.h"
#include "testing.h"
#include "transport_int.h"

/* ---- Observations shared by a factory and the protocols it builds ---------- */

struct stats {
    twc_buf got;     /* every byte received */
    twc_buf lines;   /* line protocol: each complete line, '|'-terminated */
    size_t calls;    /* data_received calls */
    size_t max_call; /* largest data_received */
    int made;        /* connection_made calls */
    int lost;        /* connection_lost calls */
    int last_code;   /* why->code of the last connection_lost */
    int eofs;        /* eof_received calls */
    int paused;      /* pause_producing calls */
    int drained;     /* write_drained calls */
    int client_lost; /* factory client_connection_lost calls */
    int client_code; /* its why->code */
    size_t sent;     /* producer: bytes written */
    size_t live;     /* protocols built and not yet lost */
};

static void stats_init(struct stats *s)
{
    memset(s, 0, sizeof(*s));
    twc_buf_init(&s->got, SIZE_MAX / 2);
    twc_buf_init(&s->lines, SIZE_MAX / 2);
}

static void stats_cleanup(struct stats *s)
{
    /* Every protocol built was told its connection ended, and freed itself. */
    assert_int_equal(s->live, 0);
    twc_buf_cleanup(&s->got);
    twc_buf_cleanup(&s->lines);
}

/* What a test protocol does besides its ops' core behaviour. */
struct script {
    const char *greeting; /* written in connection_made */
    size_t greeting_len;
    int then; /* after the greeting: */
#define THEN_NOTHING  0
#define THEN_LOSE     1
#define THEN_SHUTDOWN 2
#define THEN_ABORT    3
    int eof_keep_open; /* eof_received returns 1 and answers with eof_reply */
    const char *eof_reply;
    size_t produce;  /* producer: bytes to write in total */
    int defer_reply; /* echo through twc_reactor_call_soon */
};

struct tfactory {
    twc_factory base;
    const struct twc_protocol_ops *ops;
    struct stats *st;
    struct script sc;
};

struct tproto {
    twc_protocol base;
    struct stats *st;
    const struct script *sc;
    twc_buf partial; /* line protocol: bytes of an unfinished line */
    twc_buf deferred;
    size_t line_count;
};

static struct tproto *tp(twc_protocol *p)
{
    return container_of(p, struct tproto, base);
}

static void record(struct tproto *t, const uint8_t *data, size_t len)
{
    assert_true(len > 0);
    assert_int_equal(twc_buf_append(&t->st->got, data, len), 0);
    t->st->calls++;
    if (len > t->st->max_call)
        t->st->max_call = len;
}

static void produce(struct tproto *t)
{
    static const uint8_t block[8192];
    twc_transport *tr = t->base.transport;
    size_t n;

    /* Write until the transport pushes back, like a Twisted push producer. */
    while (t->st->sent < t->sc->produce && !tr->producer_paused) {
        n = t->sc->produce - t->st->sent;
        if (n > sizeof(block))
            n = sizeof(block);
        assert_int_equal(twc_transport_write(tr, block, n), 0);
        t->st->sent += n;
    }
}

static void on_made(twc_protocol *p)
{
    struct tproto *t = tp(p);
    const struct script *sc = t->sc;

    assert_non_null(p->transport);
    t->st->made++;
    if (sc->greeting != NULL)
        assert_int_equal(twc_transport_write(p->transport, sc->greeting, sc->greeting_len), 0);
    produce(t);
    if (sc->then == THEN_LOSE)
        twc_transport_lose_connection(p->transport);
    else if (sc->then == THEN_SHUTDOWN)
        assert_int_equal(twc_transport_shutdown_write(p->transport), 0);
    else if (sc->then == THEN_ABORT)
        twc_transport_abort(p->transport);
}

static void flush_deferred(void *arg)
{
    struct tproto *t = arg;

    if (t->base.transport != NULL)
        twc_transport_write(t->base.transport, twc_buf_data(&t->deferred),
                            twc_buf_len(&t->deferred));
    twc_buf_reset(&t->deferred);
}

/* Echo (RFC 862 over a stream): send back what arrives. */
static void echo_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct tproto *t = tp(p);

    record(t, data, len);
    if (t->sc->defer_reply) {
        /* Reply from the loop, not from inside data_received. */
        if (twc_buf_len(&t->deferred) == 0)
            assert_int_equal(
                twc_reactor_call_soon(twc_transport_reactor(p->transport), flush_deferred, t), 0);
        assert_int_equal(twc_buf_append(&t->deferred, data, len), 0);
        return;
    }
    assert_int_equal(twc_transport_write(p->transport, data, len), 0);
}

/* Line counter: for each '\n'-terminated line, record it and answer "<n>:<len>\n". */
static void line_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct tproto *t = tp(p);
    const uint8_t *nl;
    char reply[64];
    int n;

    record(t, data, len);
    while (len > 0) {
        nl = memchr(data, '\n', len);
        if (nl == NULL) {
            assert_int_equal(twc_buf_append(&t->partial, data, len), 0);
            return;
        }
        assert_int_equal(twc_buf_append(&t->partial, data, (size_t)(nl - data)), 0);
        t->line_count++;
        if (twc_buf_len(&t->partial) > 0)
            assert_int_equal(
                twc_buf_append(&t->st->lines, twc_buf_data(&t->partial), twc_buf_len(&t->partial)),
                0);
        assert_int_equal(twc_buf_append(&t->st->lines, "|", 1), 0);
        n = snprintf(reply, sizeof(reply), "%zu:%zu\n", t->line_count, twc_buf_len(&t->partial));
        assert_int_equal(twc_transport_write(p->transport, reply, (size_t)n), 0);
        twc_buf_reset(&t->partial);
        len -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
}

static int on_eof(twc_protocol *p)
{
    struct tproto *t = tp(p);

    t->st->eofs++;
    if (!t->sc->eof_keep_open)
        return 0;
    if (t->sc->eof_reply != NULL) {
        assert_int_equal(
            twc_transport_write(p->transport, t->sc->eof_reply, strlen(t->sc->eof_reply)), 0);
        twc_transport_lose_connection(p->transport);
    }
    return 1;
}

static void on_pause_producing(twc_protocol *p)
{
    tp(p)->st->paused++;
}

static void on_write_drained(twc_protocol *p)
{
    struct tproto *t = tp(p);

    t->st->drained++;
    produce(t);
}

static void on_lost(twc_protocol *p, const twc_err *why)
{
    struct tproto *t = tp(p);

    assert_null(p->transport);
    t->st->lost++;
    t->st->last_code = why->code;
    t->st->live--;
    twc_buf_cleanup(&t->partial);
    twc_buf_cleanup(&t->deferred);
    free(t);
}

static const struct twc_protocol_ops echo_ops = {
    .name = "echo",
    .connection_made = on_made,
    .data_received = echo_data,
    .eof_received = on_eof,
    .connection_lost = on_lost,
};

static const struct twc_protocol_ops line_ops = {
    .name = "lines",
    .connection_made = on_made,
    .data_received = line_data,
    .eof_received = on_eof,
    .connection_lost = on_lost,
};

/* Echo plus a producer's pause/drain hooks: flow control reaches the protocol. */
static const struct twc_protocol_ops producer_ops = {
    .name = "producer",
    .connection_made = on_made,
    .data_received = echo_data,
    .pause_producing = on_pause_producing,
    .write_drained = on_write_drained,
    .connection_lost = on_lost,
};

static void sink_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    struct tproto *t = tp(p);

    record(t, data, len);
}

/* Records what arrives and never answers; can also produce bulk output. */
static const struct twc_protocol_ops sink_ops = {
    .name = "sink",
    .connection_made = on_made,
    .data_received = sink_data,
    .eof_received = on_eof,
    .pause_producing = on_pause_producing,
    .write_drained = on_write_drained,
    .connection_lost = on_lost,
};

static twc_protocol *tf_build(twc_factory *f, const twc_addr *peer)
{
    struct tfactory *tf = container_of(f, struct tfactory, base);
    struct tproto *t;

    assert_non_null(peer);
    if (tf->ops == NULL)
        return NULL; /* refuse */
    t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->base.ops = tf->ops;
    t->st = tf->st;
    t->sc = &tf->sc;
    twc_buf_init(&t->partial, TWC_LINE_MAX);
    twc_buf_init(&t->deferred, SIZE_MAX / 2);
    tf->st->live++;
    return &t->base;
}

static void tf_client_lost(twc_factory *f, const twc_err *why)
{
    struct tfactory *tf = container_of(f, struct tfactory, base);

    tf->st->client_lost++;
    tf->st->client_code = why->code;
}

static const struct twc_factory_ops tf_ops = {
    .build = tf_build,
    .client_connection_lost = tf_client_lost,
};

static void tf_init(struct tfactory *tf, const struct twc_protocol_ops *ops, struct stats *st)
{
    memset(tf, 0, sizeof(*tf));
    tf->base.ops = &tf_ops;
    tf->ops = ops;
    tf->st = st;
}

/* A deterministic PRNG (xorshift32) so "random" splits are the same every run. */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static twc_reactor *fake_reactor(void)
{
    struct twc_reactor_opts o = {.backend = NULL, .fake_clock = 1};
    twc_err err;
    twc_reactor *r = twc_reactor_new(&o, &err);

    assert_non_null(r);
    return r;
}

static void free_reactor(twc_reactor *r)
{
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

/* ============================================================================
 * String transport
 * ========================================================================== */

static void test_testing_string_echo_records_writes(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;
    twc_protocol *p;
    size_t len;

    (void)state;
    stats_init(&st);
    tf_init(&f, &echo_ops, &st);
    f.sc.greeting = "hi\n";
    f.sc.greeting_len = 3;
    s = twc_string_transport_new(NULL);
    assert_non_null(s);
    assert_null(twc_string_transport_protocol(s));
    p = twc_string_transport_build(s, &f.base);
    assert_non_null(p);
    assert_ptr_equal(twc_string_transport_protocol(s), p);
    assert_ptr_equal(p->transport, twc_string_transport_transport(s));
    assert_ptr_equal(p->factory, &f.base);
    assert_int_equal(st.made, 1);
    assert_string_equal((const char *)twc_string_transport_value(s, &len), "hi\n");
    assert_int_equal(len, 3);

    twc_string_transport_clear(s);
    assert_string_equal((const char *)twc_string_transport_value(s, &len), "");
    assert_int_equal(len, 0);
    assert_int_equal(twc_string_transport_feed(s, "hello", 5), 0);
    assert_int_equal(twc_string_transport_feed(s, "", 0), 0); /* nothing delivered */
    assert_int_equal(twc_string_transport_feed(s, " world", 6), 0);
    assert_string_equal((const char *)twc_string_transport_value(s, &len), "hello world");
    assert_int_equal(len, 11);
    assert_int_equal(st.calls, 2);
    assert_int_equal(twc_transport_fd(twc_string_transport_transport(s)), -1);
    assert_int_equal(twc_transport_buffered(twc_string_transport_transport(s)), 0);

    twc_string_transport_close(s, NULL);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.last_code, 0);
    assert_int_equal(twc_string_transport_lost(s), 1);
    assert_null(twc_string_transport_protocol(s));
    twc_string_transport_close(s, NULL); /* once only */
    assert_int_equal(st.lost, 1);
    assert_int_equal(twc_string_transport_feed(s, "x", 1), TWC_ECLOSED);
    twc_string_transport_free(s);
    twc_string_transport_free(NULL);
    stats_cleanup(&st);
}

/* Feed text in pieces chosen by mode, return the protocol's output and lines. */
enum split {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_RANDOM
};

static void run_lines(const char *text, enum split mode, uint32_t seed, twc_buf *out,
                      twc_buf *lines, size_t *calls)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;
    size_t len = strlen(text), off = 0, n, vlen;
    const uint8_t *v;

    stats_init(&st);
    tf_init(&f, &line_ops, &st);
    s = twc_string_transport_new(NULL);
    assert_non_null(twc_string_transport_build(s, &f.base));
    while (off < len) {
        if (mode == SPLIT_WHOLE)
            n = len;
        else if (mode == SPLIT_BYTES)
            n = 1;
        else
            n = 1 + next_rand(&seed) % 17;
        if (n > len - off)
            n = len - off;
        assert_int_equal(twc_string_transport_feed(s, text + off, n), 0);
        off += n;
    }
    v = twc_string_transport_value(s, &vlen);
    assert_int_equal(twc_buf_append(out, v, vlen), 0);
    assert_int_equal(twc_buf_append(lines, twc_buf_data(&st.lines), twc_buf_len(&st.lines)), 0);
    assert_int_equal(twc_buf_len(&st.got), len);
    assert_memory_equal(twc_buf_data(&st.got), text, len);
    *calls = st.calls;
    twc_string_transport_free(s); /* delivers connection_lost: no leak */
    assert_int_equal(st.lost, 1);
    stats_cleanup(&st);
}

static void test_testing_string_line_count_any_split(void **state)
{
    static const char text[] = "first line\nsecond\n\nfourth, after an empty one\n"
                               "a longer line that will be split in many places\nend\npartial";
    static const char want_lines[] = "first line|second||fourth, after an empty one|"
                                     "a longer line that will be split in many places|end|";
    static const char want_out[] = "1:10\n2:6\n3:0\n4:26\n5:47\n6:3\n";
    twc_buf out, lines;
    size_t calls;
    uint32_t seed;

    (void)state;
    twc_buf_init(&out, 4096);
    twc_buf_init(&lines, 4096);
    run_lines(text, SPLIT_WHOLE, 0, &out, &lines, &calls);
    assert_int_equal(calls, 1);
    assert_int_equal(twc_buf_len(&out), strlen(want_out));
    assert_memory_equal(twc_buf_data(&out), want_out, strlen(want_out));
    assert_int_equal(twc_buf_len(&lines), strlen(want_lines));
    assert_memory_equal(twc_buf_data(&lines), want_lines, strlen(want_lines));

    twc_buf_reset(&out);
    twc_buf_reset(&lines);
    run_lines(text, SPLIT_BYTES, 0, &out, &lines, &calls);
    assert_int_equal(calls, strlen(text));
    assert_int_equal(twc_buf_len(&out), strlen(want_out));
    assert_memory_equal(twc_buf_data(&out), want_out, strlen(want_out));
    assert_memory_equal(twc_buf_data(&lines), want_lines, strlen(want_lines));

    for (seed = 1; seed <= 20; seed++) {
        twc_buf_reset(&out);
        twc_buf_reset(&lines);
        run_lines(text, SPLIT_RANDOM, seed * 2654435761u, &out, &lines, &calls);
        assert_int_equal(twc_buf_len(&out), strlen(want_out));
        assert_memory_equal(twc_buf_data(&out), want_out, strlen(want_out));
        assert_int_equal(twc_buf_len(&lines), strlen(want_lines));
        assert_memory_equal(twc_buf_data(&lines), want_lines, strlen(want_lines));
    }
    twc_buf_cleanup(&out);
    twc_buf_cleanup(&lines);
}

static void test_testing_string_commands_recorded(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;
    twc_transport *t;

    (void)state;
    stats_init(&st);
    tf_init(&f, &sink_ops, &st);
    s = twc_string_transport_new(NULL);
    t = twc_string_transport_transport(s);
    twc_string_transport_build(s, &f.base);

    twc_transport_pause_reading(t);
    assert_int_equal(twc_string_transport_reading_paused(s), 1);
    twc_transport_resume_reading(t);
    assert_int_equal(twc_string_transport_reading_paused(s), 0);

    assert_int_equal(twc_string_transport_write_shut(s), 0);
    assert_int_equal(twc_transport_shutdown_write(t), 0);
    assert_int_equal(twc_string_transport_write_shut(s), 1);
    /* Half-closed: no more output, but input still arrives. */
    assert_int_equal(twc_transport_write(t, "x", 1), TWC_ECLOSED);
    assert_int_equal(twc_string_transport_feed(s, "in", 2), 0);
    assert_int_equal(twc_buf_len(&st.got), 2);

    assert_int_equal(twc_string_transport_disconnecting(s), 0);
    twc_transport_lose_connection(t);
    assert_int_equal(twc_string_transport_disconnecting(s), 1);
    /* lose_connection only records: connection_lost waits for the test. */
    assert_int_equal(st.lost, 0);
    assert_int_equal(twc_string_transport_feed(s, "late", 4), TWC_ECLOSED);
    assert_int_equal(twc_string_transport_aborted(s), 0);
    twc_transport_abort(t);
    assert_int_equal(twc_string_transport_aborted(s), 1);
    assert_int_equal(st.lost, 0);
    twc_string_transport_free(s);
    assert_int_equal(st.lost, 1);
    stats_cleanup(&st);
}

static void test_testing_string_eof(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;

    (void)state;
    stats_init(&st);
    /* eof_received returns 0: the transport closes (after flushing). */
    tf_init(&f, &echo_ops, &st);
    s = twc_string_transport_new(NULL);
    twc_string_transport_build(s, &f.base);
    assert_int_equal(twc_string_transport_feed_eof(s), 0);
    assert_int_equal(st.eofs, 1);
    assert_int_equal(twc_string_transport_disconnecting(s), 1);
    assert_int_equal(twc_string_transport_feed_eof(s), TWC_ECLOSED);
    twc_string_transport_free(s);

    /* eof_received returns 1: half-open, the protocol may still write. */
    f.sc.eof_keep_open = 1;
    s = twc_string_transport_new(NULL);
    twc_string_transport_build(s, &f.base);
    assert_int_equal(twc_string_transport_feed_eof(s), 0);
    assert_int_equal(st.eofs, 2);
    assert_int_equal(twc_string_transport_disconnecting(s), 0);
    assert_int_equal(twc_string_transport_feed(s, "more", 4), TWC_ECLOSED);
    assert_int_equal(twc_transport_write(twc_string_transport_transport(s), "reply", 5), 0);
    assert_string_equal((const char *)twc_string_transport_value(s, NULL), "reply");
    twc_string_transport_free(s);
    assert_int_equal(st.lost, 2);
    stats_cleanup(&st);
}

static void test_testing_string_flow_control_pause_producing(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;
    twc_transport *t;

    (void)state;
    stats_init(&st);
    tf_init(&f, &producer_ops, &st);
    s = twc_string_transport_new(NULL);
    t = twc_string_transport_transport(s);
    twc_string_transport_build(s, &f.base);

    twc_string_transport_set_buffered(s, TWC_WRITE_HIGH_WATER);
    assert_int_equal(st.paused, 0); /* at the mark is not above it */
    twc_string_transport_set_buffered(s, TWC_WRITE_HIGH_WATER + 1);
    assert_int_equal(twc_transport_buffered(t), TWC_WRITE_HIGH_WATER + 1);
    assert_int_equal(st.paused, 1);
    twc_string_transport_set_buffered(s, TWC_WRITE_HIGH_WATER + 100);
    assert_int_equal(st.paused, 1); /* no flapping */
    /* The producer was paused, not the reading side. */
    assert_int_equal(twc_string_transport_reading_paused(s), 0);
    twc_string_transport_set_buffered(s, TWC_WRITE_LOW_WATER + 1);
    assert_int_equal(st.drained, 0);
    twc_string_transport_set_buffered(s, TWC_WRITE_LOW_WATER);
    assert_int_equal(st.drained, 1);
    twc_string_transport_set_buffered(s, 0);
    assert_int_equal(st.drained, 1);
    twc_string_transport_free(s);
    stats_cleanup(&st);
}

static void test_testing_string_flow_control_pauses_reading(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;
    twc_transport *t;

    (void)state;
    stats_init(&st);
    tf_init(&f, &echo_ops, &st); /* no pause_producing: reading is throttled */
    s = twc_string_transport_new(NULL);
    t = twc_string_transport_transport(s);
    twc_string_transport_build(s, &f.base);

    twc_string_transport_set_buffered(s, TWC_WRITE_HIGH_WATER + 1);
    assert_int_equal(twc_string_transport_reading_paused(s), 1);
    twc_string_transport_set_buffered(s, TWC_WRITE_LOW_WATER);
    assert_int_equal(twc_string_transport_reading_paused(s), 0);

    /* A pause the protocol asked for survives the drain. */
    twc_string_transport_set_buffered(s, TWC_WRITE_HIGH_WATER + 1);
    twc_transport_pause_reading(t);
    twc_string_transport_set_buffered(s, 0);
    assert_int_equal(twc_string_transport_reading_paused(s), 1);
    twc_transport_resume_reading(t);
    assert_int_equal(twc_string_transport_reading_paused(s), 0);
    twc_string_transport_free(s);
    stats_cleanup(&st);
}

static void test_testing_string_close_error_client_side(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;
    twc_err why;

    (void)state;
    stats_init(&st);
    tf_init(&f, &echo_ops, &st);
    s = twc_string_transport_new(NULL);
    twc_string_transport_set_client_side(s, 1);
    twc_string_transport_build(s, &f.base);
    twc_err_sys(&why, ECONNRESET, "read");
    twc_string_transport_close(s, &why);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.last_code, -ECONNRESET);
    assert_int_equal(st.client_lost, 1);
    assert_int_equal(st.client_code, -ECONNRESET);
    twc_string_transport_free(s);

    /* Server side (the default): the factory hears nothing. */
    s = twc_string_transport_new(NULL);
    twc_string_transport_build(s, &f.base);
    twc_string_transport_close(s, NULL);
    assert_int_equal(st.lost, 2);
    assert_int_equal(st.client_lost, 1);
    twc_string_transport_free(s);
    stats_cleanup(&st);
}

static void test_testing_string_addresses(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;
    twc_transport *t;
    twc_addr a;
    twc_err err;
    char buf[256];
    twc_reactor *r = fake_reactor();

    (void)state;
    stats_init(&st);
    tf_init(&f, &echo_ops, &st);
    s = twc_string_transport_new(r);
    t = twc_string_transport_transport(s);
    twc_string_transport_build(s, &f.base);
    assert_ptr_equal(twc_transport_reactor(t), r);
    assert_int_equal(twc_transport_peer(t, &a), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "192.168.1.1:54321");
    assert_int_equal(twc_transport_host(t, &a), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "10.0.0.1:12345");
    assert_string_equal(twc_transport_describe(t, buf, sizeof(buf)),
                        "string 10.0.0.1:12345 -> 192.168.1.1:54321 fd -1");
    assert_int_equal(twc_addr_from_ip(&a, "::1", 7, &err), 0);
    twc_string_transport_set_peer(s, &a);
    assert_int_equal(twc_addr_from_ip(&a, "127.0.0.1", 80, &err), 0);
    twc_string_transport_set_host(s, &a);
    assert_string_equal(twc_transport_describe(t, buf, sizeof(buf)),
                        "string 127.0.0.1:80 -> [::1]:7 fd -1");
    twc_string_transport_free(s);
    stats_cleanup(&st);
    free_reactor(r);
}

static void test_testing_string_build_refused(void **state)
{
    struct stats st;
    struct tfactory f;
    twc_string_transport *s;

    (void)state;
    stats_init(&st);
    tf_init(&f, NULL, &st); /* build() returns NULL */
    s = twc_string_transport_new(NULL);
    assert_null(twc_string_transport_build(s, &f.base));
    assert_null(twc_string_transport_protocol(s));
    assert_int_equal(twc_string_transport_feed(s, "x", 1), TWC_ECLOSED);
    twc_string_transport_free(s);
    assert_int_equal(st.lost, 0);
    stats_cleanup(&st);
}

/* ============================================================================
 * Pump
 * ========================================================================== */

/* Client greets an echo server; returns what came back. */
static void pump_echo(size_t chunk, const char *msg, struct stats *cli_out)
{
    struct stats ss;
    struct tfactory sf, cf;
    twc_pump *pp;
    twc_err err;

    stats_init(&ss);
    tf_init(&sf, &echo_ops, &ss);
    tf_init(&cf, &sink_ops, cli_out);
    cf.sc.greeting = msg;
    cf.sc.greeting_len = strlen(msg);
    cf.sc.then = THEN_SHUTDOWN; /* the echo server closes on EOF */
    pp = twc_pump_new(NULL, &sf.base, &cf.base, &err);
    assert_non_null(pp);
    twc_pump_set_chunk(pp, chunk);
    assert_true(twc_pump_flush(pp) > 0);
    assert_int_equal(twc_buf_len(&ss.got), strlen(msg));
    assert_memory_equal(twc_buf_data(&ss.got), msg, strlen(msg));
    assert_int_equal(ss.eofs, 1);
    assert_int_equal(ss.lost, 1);
    assert_int_equal(ss.last_code, 0);
    assert_null(twc_pump_server(pp));
    assert_null(twc_pump_client(pp));
    assert_int_equal(twc_pump_flush(pp), 0);
    twc_pump_free(pp);
    stats_cleanup(&ss);
}

static void test_testing_pump_echo_chunked(void **state)
{
    static const char msg[] = "The quick brown fox jumps over the lazy dog.\r\n0123456789";
    static const size_t chunks[] = {0, 1, 2, 7, 64};
    struct stats cs;
    size_t i, len = strlen(msg);

    (void)state;
    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        stats_init(&cs);
        pump_echo(chunks[i], msg, &cs);
        /* Same bytes whatever the chunking; the chunk size bounds each call. */
        assert_int_equal(twc_buf_len(&cs.got), len);
        assert_memory_equal(twc_buf_data(&cs.got), msg, len);
        if (chunks[i] != 0) {
            assert_in_range(cs.max_call, 1, chunks[i]);
            assert_int_equal(cs.calls, (len + chunks[i] - 1) / chunks[i]);
        } else {
            assert_int_equal(cs.calls, 1);
        }
        assert_int_equal(cs.lost, 1);
        assert_int_equal(cs.last_code, 0);
        assert_int_equal(cs.client_lost, 1);
        stats_cleanup(&cs);
    }
}

static void test_testing_pump_line_count_chunked(void **state)
{
    static const char text[] = "alpha\nbeta\n\ngamma delta\nepsilon\n";
    static const char want_out[] = "1:5\n2:4\n3:0\n4:11\n5:7\n";
    static const size_t chunks[] = {0, 1, 3, 5};
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_pump *pp;
    twc_err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        stats_init(&ss);
        stats_init(&cs);
        tf_init(&sf, &line_ops, &ss);
        tf_init(&cf, &sink_ops, &cs);
        cf.sc.greeting = text;
        cf.sc.greeting_len = strlen(text);
        pp = twc_pump_new(NULL, &sf.base, &cf.base, &err);
        assert_non_null(pp);
        twc_pump_set_chunk(pp, chunks[i]);
        assert_true(twc_pump_flush(pp) > 0);
        assert_int_equal(twc_buf_len(&ss.lines), strlen("alpha|beta||gamma delta|epsilon|"));
        assert_memory_equal(twc_buf_data(&ss.lines), "alpha|beta||gamma delta|epsilon|",
                            twc_buf_len(&ss.lines));
        assert_int_equal(twc_buf_len(&cs.got), strlen(want_out));
        assert_memory_equal(twc_buf_data(&cs.got), want_out, strlen(want_out));
        /* Still connected: freeing the pump ends both connections cleanly. */
        assert_non_null(twc_pump_server(pp));
        assert_non_null(twc_pump_client(pp));
        twc_pump_free(pp);
        assert_int_equal(ss.lost, 1);
        assert_int_equal(cs.lost, 1);
        stats_cleanup(&ss);
        stats_cleanup(&cs);
    }
}

static void test_testing_pump_lose_connection_flushes_first(void **state)
{
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_pump *pp;
    twc_err err;
    twc_addr a;
    char buf[TWC_ADDR_STRLEN];

    (void)state;
    stats_init(&ss);
    stats_init(&cs);
    tf_init(&sf, &sink_ops, &ss);
    tf_init(&cf, &sink_ops, &cs);
    cf.sc.greeting = "last words";
    cf.sc.greeting_len = 10;
    cf.sc.then = THEN_LOSE;
    pp = twc_pump_new(NULL, &sf.base, &cf.base, &err);
    assert_non_null(pp);
    /* Addresses of the pair, as each side sees them. */
    assert_int_equal(twc_transport_peer(twc_pump_server_transport(pp), &a), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "127.0.0.1:40000");
    assert_int_equal(twc_transport_peer(twc_pump_client_transport(pp), &a), 0);
    assert_string_equal(twc_addr_format(&a, buf, sizeof(buf)), "127.0.0.1:8000");
    assert_int_equal(twc_transport_buffered(twc_pump_client_transport(pp)), 10);
    assert_int_equal(ss.lost + cs.lost, 0); /* nothing happens until the pump runs */
    twc_pump_set_chunk(pp, 3);
    /* Four chunks of at most 3 bytes; the close takes effect in the last round. */
    assert_int_equal(twc_pump_flush(pp), 4);
    assert_int_equal(twc_buf_len(&ss.got), 10);
    assert_memory_equal(twc_buf_data(&ss.got), "last words", 10);
    assert_int_equal(ss.lost, 1);
    assert_int_equal(ss.last_code, 0);
    assert_int_equal(cs.lost, 1);
    assert_int_equal(cs.last_code, 0);
    assert_int_equal(cs.client_lost, 1);
    twc_pump_free(pp);
    stats_cleanup(&ss);
    stats_cleanup(&cs);
}

static void test_testing_pump_half_close(void **state)
{
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_pump *pp;
    twc_err err;

    (void)state;
    stats_init(&ss);
    stats_init(&cs);
    tf_init(&sf, &sink_ops, &ss);
    tf_init(&cf, &sink_ops, &cs);
    cf.sc.greeting = "request";
    cf.sc.greeting_len = 7;
    cf.sc.then = THEN_SHUTDOWN;
    sf.sc.eof_keep_open = 1; /* answer after the request's end, then close */
    sf.sc.eof_reply = "response";
    pp = twc_pump_new(NULL, &sf.base, &cf.base, &err);
    assert_non_null(pp);
    twc_pump_flush(pp);
    assert_int_equal(ss.eofs, 1);
    assert_memory_equal(twc_buf_data(&ss.got), "request", 7);
    assert_int_equal(twc_buf_len(&cs.got), 8);
    assert_memory_equal(twc_buf_data(&cs.got), "response", 8);
    assert_int_equal(cs.eofs, 0);
    assert_int_equal(ss.lost, 1);
    assert_int_equal(cs.lost, 1);
    assert_int_equal(ss.last_code, 0);
    assert_int_equal(cs.last_code, 0);
    twc_pump_free(pp);
    stats_cleanup(&ss);
    stats_cleanup(&cs);
}

static void test_testing_pump_abort_drops_output(void **state)
{
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_pump *pp;
    twc_err err;

    (void)state;
    stats_init(&ss);
    stats_init(&cs);
    tf_init(&sf, &sink_ops, &ss);
    tf_init(&cf, &sink_ops, &cs);
    cf.sc.greeting = "never sent";
    cf.sc.greeting_len = 10;
    cf.sc.then = THEN_ABORT;
    pp = twc_pump_new(NULL, &sf.base, &cf.base, &err);
    assert_non_null(pp);
    assert_int_equal(twc_transport_buffered(twc_pump_client_transport(pp)), 0);
    assert_int_equal(twc_pump_flush(pp), 1);
    assert_int_equal(twc_buf_len(&ss.got), 0);
    assert_int_equal(cs.last_code, -ECONNABORTED);
    assert_int_equal(ss.last_code, -ECONNRESET);
    assert_int_equal(cs.client_lost, 1);
    assert_int_equal(cs.client_code, -ECONNABORTED);
    twc_pump_free(pp);
    stats_cleanup(&ss);
    stats_cleanup(&cs);
}

static void test_testing_pump_flow_control(void **state)
{
    const size_t total = 3 * 1024 * 1024 + 17;
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_pump *pp;
    twc_err err;

    (void)state;
    stats_init(&ss);
    stats_init(&cs);
    tf_init(&sf, &sink_ops, &ss);
    tf_init(&cf, &sink_ops, &cs);
    cf.sc.produce = total;
    pp = twc_pump_new(NULL, &sf.base, &cf.base, &err);
    assert_non_null(pp);
    /* The producer stopped itself just above high water... */
    assert_int_equal(cs.paused, 1);
    assert_in_range(cs.sent, TWC_WRITE_HIGH_WATER, TWC_WRITE_HIGH_WATER + 8192);
    twc_pump_set_chunk(pp, 16 * 1024);
    assert_true(twc_pump_flush(pp) > 0);
    /* ...and resumed on each drain until everything was through. */
    assert_int_equal(cs.sent, total);
    assert_int_equal(twc_buf_len(&ss.got), total);
    assert_in_range(cs.drained, 2, 100);
    assert_int_equal(cs.paused, cs.drained);
    twc_pump_free(pp);
    stats_cleanup(&ss);
    stats_cleanup(&cs);
}

static void test_testing_pump_paused_reader_throttles_echo(void **state)
{
    const size_t total = 4 * 1024 * 1024;
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_pump *pp;
    twc_transport *ct, *st;
    twc_err err;

    (void)state;
    stats_init(&ss);
    stats_init(&cs);
    tf_init(&sf, &echo_ops, &ss); /* no pause_producing: its reading is throttled */
    tf_init(&cf, &sink_ops, &cs);
    cf.sc.produce = total;
    pp = twc_pump_new(NULL, &sf.base, &cf.base, &err);
    assert_non_null(pp);
    ct = twc_pump_client_transport(pp);
    st = twc_pump_server_transport(pp);
    twc_transport_pause_reading(ct);
    twc_pump_set_chunk(pp, 64 * 1024);
    twc_pump_flush(pp);
    /* The client reads nothing, so the echo backs up past high water, the server
     * stops reading, and the client's own output backs up behind it. */
    assert_int_equal(twc_buf_len(&cs.got), 0);
    assert_true(twc_transport_buffered(st) > TWC_WRITE_HIGH_WATER);
    assert_int_equal(st->reading_paused_by_flow, 1);
    assert_true(twc_buf_len(&ss.got) < total);
    assert_true(cs.sent < total);
    twc_transport_resume_reading(ct);
    twc_pump_flush(pp);
    assert_int_equal(cs.sent, total);
    assert_int_equal(twc_buf_len(&ss.got), total);
    assert_int_equal(twc_buf_len(&cs.got), total);
    assert_int_equal(st->reading_paused_by_flow, 0);
    twc_pump_free(pp);
    stats_cleanup(&ss);
    stats_cleanup(&cs);
}

static void test_testing_pump_runs_call_soon(void **state)
{
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_reactor *r = fake_reactor();
    twc_pump *pp;
    twc_err err;

    (void)state;
    stats_init(&ss);
    stats_init(&cs);
    tf_init(&sf, &echo_ops, &ss);
    sf.sc.defer_reply = 1;
    tf_init(&cf, &sink_ops, &cs);
    cf.sc.greeting = "later";
    cf.sc.greeting_len = 5;
    pp = twc_pump_new(r, &sf.base, &cf.base, &err);
    assert_non_null(pp);
    assert_ptr_equal(twc_transport_reactor(twc_pump_server_transport(pp)), r);
    twc_pump_flush(pp);
    /* The echo was written from a call-soon callback, and still arrived. */
    assert_int_equal(twc_buf_len(&cs.got), 5);
    assert_memory_equal(twc_buf_data(&cs.got), "later", 5);
    twc_pump_free(pp);
    stats_cleanup(&ss);
    stats_cleanup(&cs);
    free_reactor(r);
}

static void test_testing_pump_refused(void **state)
{
    struct stats ss, cs;
    struct tfactory sf, cf;
    twc_err err;

    (void)state;
    stats_init(&ss);
    stats_init(&cs);
    tf_init(&sf, NULL, &ss);
    tf_init(&cf, &sink_ops, &cs);
    assert_null(twc_pump_new(NULL, &sf.base, &cf.base, &err));
    assert_int_equal(err.code, TWC_ECLOSED);
    assert_int_equal(cs.made, 0);
    /* The client refuses after the server was connected: the server is told. */
    tf_init(&sf, &sink_ops, &ss);
    tf_init(&cf, NULL, &cs);
    assert_null(twc_pump_new(NULL, &sf.base, &cf.base, &err));
    assert_int_equal(err.code, TWC_ECLOSED);
    assert_int_equal(ss.made, 1);
    assert_int_equal(ss.lost, 1);
    assert_int_equal(ss.last_code, -ECONNRESET);
    twc_pump_free(NULL);
    stats_cleanup(&ss);
    stats_cleanup(&cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_testing_string_echo_records_writes),
        cmocka_unit_test(test_testing_string_line_count_any_split),
        cmocka_unit_test(test_testing_string_commands_recorded),
        cmocka_unit_test(test_testing_string_eof),
        cmocka_unit_test(test_testing_string_flow_control_pause_producing),
        cmocka_unit_test(test_testing_string_flow_control_pauses_reading),
        cmocka_unit_test(test_testing_string_close_error_client_side),
        cmocka_unit_test(test_testing_string_addresses),
        cmocka_unit_test(test_testing_string_build_refused),
        cmocka_unit_test(test_testing_pump_echo_chunked),
        cmocka_unit_test(test_testing_pump_line_count_chunked),
        cmocka_unit_test(test_testing_pump_lose_connection_flushes_first),
        cmocka_unit_test(test_testing_pump_half_close),
        cmocka_unit_test(test_testing_pump_abort_drops_output),
        cmocka_unit_test(test_testing_pump_flow_control),
        cmocka_unit_test(test_testing_pump_paused_reader_throttles_echo),
        cmocka_unit_test(test_testing_pump_runs_call_soon),
        cmocka_unit_test(test_testing_pump_refused),
    };

    return cmocka_run_group_tests_name("testing", tests, NULL, NULL);
}
