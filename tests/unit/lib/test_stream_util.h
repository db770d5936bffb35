/*
 * Shared helpers of the stream socket tests (test_stream*.c, test_reconnect.c):
 * a configurable test protocol and factory that record everything they see,
 * bounded loop helpers, and the end-of-test leak check.
 *
 * Protocols are not freed in connection_lost so that tests can inspect them
 * afterwards; the context frees them at the end.
 */
#ifndef TWC_TESTS_STREAM_UTIL_H
#define TWC_TESTS_STREAM_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "limits.h"
#include "protocol.h"
#include "reactor.h"
#include "stream.h"
#include "transport_int.h"

/* Not every test program uses every helper. */
#define TU_UNUSED __attribute__((unused))

#define MAX_PROTOS 256

enum close_mode { CLOSE_NONE, CLOSE_LOSE, CLOSE_ABORT, CLOSE_SHUTDOWN };

typedef struct tproto {
    twc_protocol base;
    struct tctx *ctx;
    int id;
    twc_transport *t; /* remembered: stays readable in tests after lost */
    twc_buf in;       /* everything received */
    size_t received;
    int made, lost, eofs, pauses, drains, datas;
    int lost_code;
    int write_after_close_rc;
    /* behaviour */
    int echo;             /* write back what arrives */
    int keep_half_open;   /* eof_received's answer */
    int reply_on_eof;     /* on EOF: write "got N" then lose */
    enum close_mode on_data;  /* close from inside the first data_received */
    const void *greet;    /* written in connection_made */
    size_t greet_len;
    enum close_mode after_greet;
    int pause_on_made;    /* pause reading in connection_made */
    int small_buffers;    /* shrink SO_SNDBUF/SO_RCVBUF in connection_made */
    int keep_bytes;       /* store received bytes in `in` (else count only) */
} tproto;

typedef struct tfactory {
    twc_factory base;
    struct tctx *ctx;
    tproto tmpl;          /* behaviour copied into each new protocol */
    int refuse;
    int builds, starts, stops;
    int failed, failed_code;
    int client_lost, client_lost_code;
    int failed_inside_call; /* connection_failed ran inside a connector call */
    char order[256];      /* "lost;client_lost;" */
    tproto *last;
} tfactory;

struct tctx {
    twc_reactor *r;
    int in_call;           /* set around transport commands the test makes */
    int lost_inside_call;  /* connection_lost while in_call: a contract breach */
    tproto *protos[MAX_PROTOS];
    int nprotos;
};

static struct tctx ctx;

/* ---- protocol ----------------------------------------------------------- */

static TU_UNUSED void tp_note(tproto *p, const char *ev)
{
    tfactory *f = (tfactory *)p->base.factory;
    size_t n;

    if (f == NULL)
        return;
    n = strlen(f->order);
    snprintf(f->order + n, sizeof(f->order) - n, "%s;", ev);
}

static TU_UNUSED void tp_close(tproto *p, enum close_mode m)
{
    ctx.in_call++;
    if (m == CLOSE_LOSE)
        twc_transport_lose_connection(p->t);
    else if (m == CLOSE_ABORT)
        twc_transport_abort(p->t);
    else if (m == CLOSE_SHUTDOWN)
        assert_int_equal(twc_transport_shutdown_write(p->t), 0);
    ctx.in_call--;
}

static TU_UNUSED void tp_made(twc_protocol *bp)
{
    tproto *p = (tproto *)bp;
    int sz = 32 * 1024;
    int fd;

    p->made++;
    p->t = bp->transport;
    if (p->small_buffers) {
        fd = twc_transport_fd(p->t);
        assert_true(fd >= 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
    }
    if (p->pause_on_made)
        twc_transport_pause_reading(p->t);
    if (p->greet_len > 0) {
        ctx.in_call++;
        assert_int_equal(twc_transport_write(p->t, p->greet, p->greet_len), 0);
        ctx.in_call--;
    }
    tp_close(p, p->after_greet);
}

static TU_UNUSED void tp_data(twc_protocol *bp, const uint8_t *data, size_t len)
{
    tproto *p = (tproto *)bp;

    assert_true(len > 0);
    assert_int_equal(p->lost, 0);
    p->datas++;
    p->received += len;
    if (p->keep_bytes)
        assert_int_equal(twc_buf_append(&p->in, data, len), 0);
    if (p->echo) {
        ctx.in_call++;
        assert_int_equal(twc_transport_write(bp->transport, data, len), 0);
        ctx.in_call--;
    }
    if (p->on_data != CLOSE_NONE && p->datas == 1) {
        if (p->on_data != CLOSE_SHUTDOWN) {
            ctx.in_call++;
            assert_int_equal(twc_transport_write(bp->transport, "bye", 3), 0);
            ctx.in_call--;
        }
        tp_close(p, p->on_data);
        ctx.in_call++;
        p->write_after_close_rc = twc_transport_write(bp->transport, "x", 1);
        ctx.in_call--;
    }
}

static TU_UNUSED int tp_eof(twc_protocol *bp)
{
    tproto *p = (tproto *)bp;
    char msg[64];
    int n;

    p->eofs++;
    if (p->reply_on_eof) {
        n = snprintf(msg, sizeof(msg), "got %zu", p->received);
        ctx.in_call++;
        assert_int_equal(twc_transport_write(bp->transport, msg, (size_t)n), 0);
        twc_transport_lose_connection(bp->transport);
        ctx.in_call--;
        return 1;
    }
    return p->keep_half_open;
}

static TU_UNUSED void tp_pause(twc_protocol *bp)
{
    ((tproto *)bp)->pauses++;
}

static TU_UNUSED void tp_drained(twc_protocol *bp)
{
    ((tproto *)bp)->drains++;
}

static TU_UNUSED void tp_lost(twc_protocol *bp, const twc_err *why)
{
    tproto *p = (tproto *)bp;

    if (ctx.in_call)
        ctx.lost_inside_call++;
    p->lost++;
    p->lost_code = why->code;
    assert_null(bp->transport);
    tp_note(p, "lost");
}

static TU_UNUSED const struct twc_protocol_ops tp_ops = {
    .name = "test",
    .connection_made = tp_made,
    .data_received = tp_data,
    .eof_received = tp_eof,
    .write_drained = tp_drained,
    .connection_lost = tp_lost,
};

/* The same, and a producer: pause_producing instead of paused reading. */
static TU_UNUSED const struct twc_protocol_ops tp_producer_ops = {
    .name = "test-producer",
    .connection_made = tp_made,
    .data_received = tp_data,
    .eof_received = tp_eof,
    .pause_producing = tp_pause,
    .write_drained = tp_drained,
    .connection_lost = tp_lost,
};

/* No eof_received op: EOF closes after flushing. */
static TU_UNUSED const struct twc_protocol_ops tp_noeof_ops = {
    .name = "test-noeof",
    .connection_made = tp_made,
    .data_received = tp_data,
    .write_drained = tp_drained,
    .connection_lost = tp_lost,
};

/* ---- factory ------------------------------------------------------------ */

static TU_UNUSED twc_protocol *tf_build(twc_factory *bf, const twc_addr *peer)
{
    tfactory *f = (tfactory *)bf;
    tproto *p;

    assert_non_null(peer);
    f->builds++;
    if (f->refuse)
        return NULL;
    assert_true(ctx.nprotos < MAX_PROTOS);
    p = malloc(sizeof(*p));
    assert_non_null(p);
    *p = f->tmpl;
    if (p->base.ops == NULL)
        p->base.ops = &tp_ops;
    p->ctx = &ctx;
    p->id = ctx.nprotos;
    twc_buf_init(&p->in, SIZE_MAX);
    ctx.protos[ctx.nprotos++] = p;
    f->last = p;
    return &p->base;
}

static TU_UNUSED void tf_start(twc_factory *bf)
{
    ((tfactory *)bf)->starts++;
}

static TU_UNUSED void tf_stop(twc_factory *bf)
{
    ((tfactory *)bf)->stops++;
}

static TU_UNUSED void tf_failed(twc_factory *bf, const twc_err *why)
{
    tfactory *f = (tfactory *)bf;
    size_t n = strlen(f->order);

    if (ctx.in_call)
        f->failed_inside_call++;
    f->failed++;
    f->failed_code = why->code;
    assert_true(strlen(why->msg) > 0);
    snprintf(f->order + n, sizeof(f->order) - n, "failed;");
}

static TU_UNUSED void tf_client_lost(twc_factory *bf, const twc_err *why)
{
    tfactory *f = (tfactory *)bf;
    size_t n = strlen(f->order);

    f->client_lost++;
    f->client_lost_code = why->code;
    snprintf(f->order + n, sizeof(f->order) - n, "client_lost;");
}

static TU_UNUSED const struct twc_factory_ops tf_ops = {
    .build = tf_build,
    .start = tf_start,
    .stop = tf_stop,
    .connection_failed = tf_failed,
    .client_connection_lost = tf_client_lost,
};

static TU_UNUSED void tf_init(tfactory *f)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &tf_ops;
    f->ctx = &ctx;
    f->tmpl.keep_bytes = 1;
}

/* ---- loop helpers ------------------------------------------------------- */

static TU_UNUSED twc_reactor *ctx_begin(const char *backend, int fake_clock)
{
    struct twc_reactor_opts o = {backend, fake_clock};
    twc_err err;

    memset(&ctx, 0, sizeof(ctx));
    ctx.r = twc_reactor_new(&o, &err);
    assert_non_null(ctx.r);
    return ctx.r;
}

/* Run the loop until *flag reaches want, at most max_iters iterations of at
 * most 20 ms each. */
static TU_UNUSED void run_until(const int *flag, int want, int max_iters)
{
    int i;

    for (i = 0; i < max_iters && *flag < want; i++)
        assert_true(twc_reactor_run_once(ctx.r, 20) >= 0);
    assert_int_equal(*flag, want);
}

static TU_UNUSED void run_until_size(const size_t *n, size_t want, int max_iters)
{
    int i;

    for (i = 0; i < max_iters && *n < want; i++)
        assert_true(twc_reactor_run_once(ctx.r, 20) >= 0);
    assert_int_equal(*n, want);
}

/* A few idle iterations: lets queued callbacks (that must not change the
 * outcome) run. */
static TU_UNUSED void run_some(int iters)
{
    int i;

    for (i = 0; i < iters; i++)
        assert_true(twc_reactor_run_once(ctx.r, 0) >= 0);
}

/* Every protocol heard connection_lost exactly once, never from inside a
 * command; nothing is left on the loop; free everything. */
static TU_UNUSED void ctx_end(void)
{
    int i;

    run_some(3);
    for (i = 0; i < ctx.nprotos; i++) {
        assert_int_equal(ctx.protos[i]->made, 1);
        assert_int_equal(ctx.protos[i]->lost, 1);
        twc_buf_cleanup(&ctx.protos[i]->in);
        free(ctx.protos[i]);
    }
    assert_int_equal(ctx.lost_inside_call, 0);
    assert_int_equal(twc_reactor_live_handles(ctx.r), 0);
    twc_reactor_free(ctx.r);
    memset(&ctx, 0, sizeof(ctx));
}

/* Deterministic pseudo-random bytes (xorshift), so transfers can be checked. */
static TU_UNUSED void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    size_t i;

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* Whether this host has a usable IPv6 loopback. */
static TU_UNUSED int have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    twc_addr a;
    int ok;

    if (fd < 0)
        return 0;
    twc_addr_from_ip(&a, "::1", 0, NULL);
    ok = bind(fd, (struct sockaddr *)&a.ss, a.len) == 0;
    close(fd);
    return ok;
}

/* A fresh path for a UNIX socket under the temp dir (removed first). */
static TU_UNUSED void unix_path(char *buf, size_t len, const char *tag)
{
    const char *dir = getenv("TMPDIR");

    if (dir == NULL || *dir == '\0' || strlen(dir) > 60)
        dir = "/tmp";
    snprintf(buf, len, "%s/twc-test-%ld-%s.sock", dir, (long)getpid(), tag);
    unlink(buf);
}

#endif
