/*
 * Unit tests for lib/tls.c and lib/tls_ctx.c: the TLS filter transport over the
 * in-memory pump of lib/testing.h (deterministic, no real time) and over real
 * TCP sockets on 127.0.0.1. Certificates are generated at run time
 * (tls_certs.h) in a temporary folder removed at the end.
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
#include <time.h>

#include "buf.h"
#include "err.h"
#include "protocol.h"
#include "reactor.h"
#include "stream.h"
#include "testing.h"
#include "tls.h"
#include "tls_int.h"
#include "transport_int.h"

#include "tls_certs.h"

static struct tls_certs certs;

#define MAX_PROTOS 8
#define BIG        (4u * 1024 * 1024)

/* ---- A recording test protocol --------------------------------------------- */

enum role {
    PLAIN,
    STARTTLS_SERVER,
    STARTTLS_CLIENT
};

struct tf;

typedef struct tp {
    twc_protocol base;
    struct tf *f;
    twc_buf in;
    twc_buf line; /* starttls roles: a partial plaintext line */
    size_t got;   /* bytes received (also when not kept) */
    int made, lost, lost_code, eofs, pauses, drains;
    char lost_msg[TWC_ERR_MSG_MAX];
    char version[16], alpn[32], sni[64], subject[128];
    int reused;
    int tls_on;  /* starttls roles: TLS was started */
    size_t sent; /* bulk bytes written so far */
} tp;

typedef struct tf {
    twc_factory base;
    /* behaviour */
    enum role role;
    int echo;
    size_t bulk;       /* write this many pattern bytes in connection_made */
    int pipelined;     /* STARTTLS client: send STARTTLS and the hello in one go */
    int pause_on_data; /* pause reading in the first data_received */
    twc_tls_ctx *tls;  /* starttls roles */
    const char *name;  /* starttls client: server name (NULL: "localhost") */
    /* observations */
    tp *protos[MAX_PROTOS];
    int nprotos;
    int failed, failed_code;
    char failed_msg[TWC_ERR_MSG_MAX];
    int client_lost, client_lost_code;
} tf;

static uint8_t pattern_byte(size_t i)
{
    return (uint8_t)((i * 131u + (i >> 12)) & 0xff);
}

static void write_bulk(tp *p, size_t n)
{
    uint8_t chunk[65536];
    size_t i, len;

    while (p->sent < n) {
        len = n - p->sent < sizeof(chunk) ? n - p->sent : sizeof(chunk);
        for (i = 0; i < len; i++)
            chunk[i] = pattern_byte(p->sent + i);
        assert_int_equal(twc_transport_write(p->base.transport, chunk, len), 0);
        p->sent += len;
    }
}

static void note_tls(tp *p)
{
    twc_transport *t = p->base.transport;
    const char *s;

    s = twc_tls_version(t);
    snprintf(p->version, sizeof(p->version), "%s", s != NULL ? s : "");
    s = twc_tls_alpn(t);
    snprintf(p->alpn, sizeof(p->alpn), "%s", s != NULL ? s : "");
    s = twc_tls_server_name(t);
    snprintf(p->sni, sizeof(p->sni), "%s", s != NULL ? s : "");
    s = twc_tls_peer_subject(t);
    snprintf(p->subject, sizeof(p->subject), "%s", s != NULL ? s : "");
    p->reused = twc_tls_session_reused(t);
}

static void tp_made(twc_protocol *base)
{
    tp *p = (tp *)base;
    twc_err err;

    p->made++;
    note_tls(p);
    if (p->f->role == STARTTLS_CLIENT) {
        assert_int_equal(twc_transport_write(base->transport, "HELLO\r\nSTARTTLS\r\n", 17), 0);
        if (p->f->pipelined) {
            /* Start at once: the ClientHello follows STARTTLS in the same write
             * batch, so the server reads both in one data_received. */
            assert_int_equal(twc_tls_start(base, p->f->tls, 0,
                                           p->f->name != NULL ? p->f->name : "localhost", NULL, 0,
                                           &err),
                             0);
            p->tls_on = 1;
            assert_int_equal(twc_transport_write(base->transport, "secret\r\n", 8), 0);
        }
        return;
    }
    if (p->f->bulk > 0)
        write_bulk(p, p->f->bulk);
}

/* The STARTTLS server: plaintext lines until "STARTTLS", then TLS; whatever
 * followed that line in the same read is handed to TLS as pending. */
static void starttls_server_data(tp *p, const uint8_t *data, size_t len)
{
    const uint8_t *buf, *nl;
    size_t n;
    twc_err err;

    if (p->tls_on) {
        assert_int_equal(twc_buf_append(&p->in, data, len), 0);
        return;
    }
    assert_int_equal(twc_buf_append(&p->line, data, len), 0);
    while (twc_buf_len(&p->line) > 0 &&
           (nl = memchr(twc_buf_data(&p->line), '\n', twc_buf_len(&p->line))) != NULL) {
        buf = twc_buf_data(&p->line);
        n = (size_t)(nl - buf) + 1;
        assert_int_equal(twc_buf_append(&p->in, buf, n), 0);
        if (n == 10 && memcmp(buf, "STARTTLS\r\n", 10) == 0) {
            if (!p->f->pipelined)
                assert_int_equal(twc_transport_write(p->base.transport, "220 go\r\n", 8), 0);
            assert_int_equal(twc_tls_start(&p->base, p->f->tls, 1, NULL, buf + n,
                                           twc_buf_len(&p->line) - n, &err),
                             0);
            twc_buf_consume(&p->line, twc_buf_len(&p->line));
            p->tls_on = 1;
            assert_int_equal(twc_tls_is_tls(p->base.transport), 1);
            return;
        }
        twc_buf_consume(&p->line, n);
    }
}

static void tp_data(twc_protocol *base, const uint8_t *data, size_t len)
{
    tp *p = (tp *)base;
    twc_err err;

    p->got += len;
    if (p->f->role == STARTTLS_SERVER) {
        starttls_server_data(p, data, len);
        return;
    }
    if (p->f->role == STARTTLS_CLIENT && !p->tls_on) {
        /* Non-pipelined: start once the server said go. */
        assert_int_equal(twc_buf_append(&p->line, data, len), 0);
        if (twc_buf_len(&p->line) < 8)
            return;
        assert_int_equal(twc_buf_len(&p->line), 8);
        assert_memory_equal(twc_buf_data(&p->line), "220 go\r\n", 8);
        assert_int_equal(twc_tls_start(base, p->f->tls, 0,
                                       p->f->name != NULL ? p->f->name : "localhost", NULL, 0,
                                       &err),
                         0);
        p->tls_on = 1;
        assert_int_equal(twc_transport_write(base->transport, "secret\r\n", 8), 0);
        return;
    }
    if (p->f->bulk == 0)
        assert_int_equal(twc_buf_append(&p->in, data, len), 0);
    else
        for (size_t i = 0; i < len; i++)
            if (data[i] != pattern_byte(p->got - len + i))
                fail_msg("bulk byte %zu differs", p->got - len + i);
    if (p->f->echo)
        assert_int_equal(twc_transport_write(base->transport, data, len), 0);
    if (p->f->pause_on_data && p->got == len)
        twc_transport_pause_reading(base->transport);
}

static int tp_eof(twc_protocol *base)
{
    ((tp *)base)->eofs++;
    return 0;
}

static void tp_pause(twc_protocol *base)
{
    ((tp *)base)->pauses++;
}

static void tp_drained(twc_protocol *base)
{
    ((tp *)base)->drains++;
}

static void tp_lost(twc_protocol *base, const twc_err *why)
{
    tp *p = (tp *)base;

    p->lost++;
    p->lost_code = why->code;
    snprintf(p->lost_msg, sizeof(p->lost_msg), "%s", why->msg);
}

static const struct twc_protocol_ops tp_ops = {
    .name = "test",
    .connection_made = tp_made,
    .data_received = tp_data,
    .eof_received = tp_eof,
    .pause_producing = tp_pause,
    .write_drained = tp_drained,
    .connection_lost = tp_lost,
};

static twc_protocol *tf_build(twc_factory *base, const twc_addr *peer)
{
    tf *f = (tf *)base;
    tp *p = calloc(1, sizeof(*p));

    (void)peer;
    assert_non_null(p);
    assert_true(f->nprotos < MAX_PROTOS);
    p->base.ops = &tp_ops;
    p->f = f;
    twc_buf_init(&p->in, SIZE_MAX / 2);
    twc_buf_init(&p->line, 4096);
    f->protos[f->nprotos++] = p;
    return &p->base;
}

static void tf_failed(twc_factory *base, const twc_err *why)
{
    tf *f = (tf *)base;

    f->failed++;
    f->failed_code = why->code;
    snprintf(f->failed_msg, sizeof(f->failed_msg), "%s", why->msg);
}

static void tf_client_lost(twc_factory *base, const twc_err *why)
{
    tf *f = (tf *)base;

    f->client_lost++;
    f->client_lost_code = why->code;
}

static const struct twc_factory_ops tf_ops = {
    .build = tf_build,
    .connection_failed = tf_failed,
    .client_connection_lost = tf_client_lost,
};

static void tf_init(tf *f)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &tf_ops;
}

static void tf_cleanup(tf *f)
{
    int i;

    for (i = 0; i < f->nprotos; i++) {
        twc_buf_cleanup(&f->protos[i]->in);
        twc_buf_cleanup(&f->protos[i]->line);
        free(f->protos[i]);
    }
    f->nprotos = 0;
}

static tp *last(tf *f)
{
    assert_true(f->nprotos > 0);
    return f->protos[f->nprotos - 1];
}

/* ---- Contexts --------------------------------------------------------------- */

static twc_tls_ctx *server_ctx(const char *pem, const char *alpn, int max_version)
{
    struct twc_tls_server_opts o = {0};
    twc_tls_ctx *ctx;
    twc_err err;

    o.private_key = pem;
    o.alpn = alpn;
    o.max_version = max_version;
    ctx = twc_tls_ctx_new_server(&o, &err);
    if (ctx == NULL)
        fail_msg("server ctx: %s", err.msg);
    return ctx;
}

static twc_tls_ctx *client_ctx(const char *ca, const char *alpn, int insecure)
{
    struct twc_tls_client_opts o = {0};
    twc_tls_ctx *ctx;
    twc_err err;

    o.ca_certs = ca;
    o.alpn = alpn;
    o.insecure = insecure;
    ctx = twc_tls_ctx_new_client(&o, &err);
    if (ctx == NULL)
        fail_msg("client ctx: %s", err.msg);
    return ctx;
}

/* ---- Pump fixture ----------------------------------------------------------- */

struct pair {
    twc_reactor *r;
    twc_tls_factory *stf, *ctf;
    twc_pump *pp;
};

static void pair_open(struct pair *pr, twc_tls_ctx *sctx, tf *server, twc_tls_ctx *cctx, tf *client,
                      const char *name)
{
    struct twc_reactor_opts ro = {.fake_clock = 1};
    twc_err err;

    pr->r = twc_reactor_new(&ro, &err);
    assert_non_null(pr->r);
    pr->stf = twc_tls_factory_new(sctx, &server->base, 1, NULL, &err);
    assert_non_null(pr->stf);
    pr->ctf = twc_tls_factory_new(cctx, &client->base, 0, name, &err);
    assert_non_null(pr->ctf);
    pr->pp =
        twc_pump_new(pr->r, twc_tls_factory_base(pr->stf), twc_tls_factory_base(pr->ctf), &err);
    assert_non_null(pr->pp);
}

static void pair_close(struct pair *pr)
{
    twc_pump_free(pr->pp);
    twc_tls_factory_free(pr->stf);
    twc_tls_factory_free(pr->ctf);
    twc_reactor_run_once(pr->r, 0);
    assert_int_equal(twc_reactor_live_handles(pr->r), 0);
    twc_reactor_free(pr->r);
}

/* ---- Handshakes ------------------------------------------------------------- */

static void test_tls_handshake_tls13_default(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    struct pair pr;
    tf server, client;
    tp *s, *c;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    server.echo = 1;
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    /* Contexts are reference-counted: the factories keep them alive. */
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    assert_true(twc_pump_flush(pr.pp) > 0);
    s = last(&server);
    c = last(&client);
    assert_int_equal(s->made, 1);
    assert_int_equal(c->made, 1);
    assert_string_equal(s->version, "TLSv1.3");
    assert_string_equal(c->version, "TLSv1.3");
    assert_string_equal(s->alpn, "http/1.1");
    assert_string_equal(c->alpn, "http/1.1");
    assert_string_equal(s->sni, "localhost");
    assert_string_equal(c->subject, "CN=localhost");
    assert_string_equal(s->subject, ""); /* no client certificate */
    assert_string_equal(s->base.transport->ops->kind, "tls");
    assert_int_equal(twc_tls_is_tls(c->base.transport), 1);
    assert_int_equal(twc_tls_is_tls(twc_pump_client_transport(pr.pp)), 0);

    assert_int_equal(twc_transport_write(c->base.transport, "ping\n", 5), 0);
    twc_pump_flush(pr.pp);
    assert_int_equal(twc_buf_len(&s->in), 5);
    assert_memory_equal(twc_buf_data(&s->in), "ping\n", 5);
    assert_int_equal(twc_buf_len(&c->in), 5);
    assert_memory_equal(twc_buf_data(&c->in), "ping\n", 5);

    /* Clean close: close_notify, code 0 on both ends. */
    twc_transport_lose_connection(c->base.transport);
    assert_int_equal(twc_transport_write(c->base.transport, "x", 1), TWC_ECLOSED);
    assert_int_equal(c->lost, 0); /* never from inside the call */
    twc_pump_flush(pr.pp);
    assert_int_equal(c->lost, 1);
    assert_int_equal(c->lost_code, 0);
    assert_int_equal(s->lost, 1);
    assert_int_equal(s->lost_code, 0);
    assert_int_equal(client.client_lost, 1);
    assert_int_equal(client.client_lost_code, 0);
    pair_close(&pr);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

/* Records split anywhere (one byte at a time, odd chunks) give the same
 * handshake and the same bytes (STYLE.md §11). */
static void test_tls_split_input(void **state)
{
    static const size_t chunks[] = {1, 7, 1000};
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    struct pair pr;
    tf server, client;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        tf_init(&server);
        tf_init(&client);
        server.echo = 1;
        pair_open(&pr, sctx, &server, cctx, &client, "localhost");
        twc_pump_set_chunk(pr.pp, chunks[i]);
        twc_pump_flush(pr.pp);
        assert_string_equal(last(&client)->version, "TLSv1.3");
        assert_int_equal(twc_transport_write(last(&client)->base.transport, "hello, split", 12), 0);
        twc_pump_flush(pr.pp);
        assert_int_equal(twc_buf_len(&last(&client)->in), 12);
        assert_memory_equal(twc_buf_data(&last(&client)->in), "hello, split", 12);
        twc_transport_lose_connection(last(&client)->base.transport);
        twc_pump_flush(pr.pp);
        assert_int_equal(last(&server)->lost_code, 0);
        assert_int_equal(last(&client)->lost_code, 0);
        pair_close(&pr);
        tf_cleanup(&server);
        tf_cleanup(&client);
    }
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
}

static void test_tls_forced_tls12(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, TWC_TLS_1_2);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    struct pair pr;
    tf server, client;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    server.echo = 1;
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    assert_string_equal(last(&server)->version, "TLSv1.2");
    assert_string_equal(last(&client)->version, "TLSv1.2");
    assert_string_equal(last(&client)->alpn, "http/1.1");
    assert_int_equal(twc_transport_write(last(&client)->base.transport, "twelve", 6), 0);
    twc_pump_flush(pr.pp);
    assert_int_equal(twc_buf_len(&last(&client)->in), 6);
    assert_memory_equal(twc_buf_data(&last(&client)->in), "twelve", 6);
    twc_transport_lose_connection(last(&server)->base.transport);
    twc_pump_flush(pr.pp);
    assert_int_equal(last(&server)->lost_code, 0);
    assert_int_equal(last(&client)->lost_code, 0);
    pair_close(&pr);
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

/* Bulk both ways through the pump: flow control pauses both producers at the
 * high-water mark and drains them, and every byte arrives in order. */
static void test_tls_large_transfer_pump(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    struct pair pr;
    tf server, client;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    server.bulk = BIG;
    client.bulk = BIG;
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_set_chunk(pr.pp, 100000);
    assert_true(twc_pump_flush(pr.pp) > 0);
    assert_int_equal(last(&server)->got, BIG);
    assert_int_equal(last(&client)->got, BIG);
    assert_true(last(&server)->pauses >= 1);
    assert_int_equal(last(&server)->drains, last(&server)->pauses);
    assert_true(last(&client)->pauses >= 1);
    assert_int_equal(last(&client)->drains, last(&client)->pauses);
    assert_int_equal(twc_transport_buffered(last(&client)->base.transport), 0);
    twc_transport_lose_connection(last(&client)->base.transport);
    twc_pump_flush(pr.pp);
    assert_int_equal(last(&server)->lost_code, 0);
    pair_close(&pr);
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

/* ---- Closing ---------------------------------------------------------------- */

static void test_tls_abort_and_truncation(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    struct pair pr;
    tf server, client;

    (void)state;
    tf_init(&server);
    tf_init(&client);

    /* Abort: no close_notify; our side hears ECONNABORTED as over TCP. */
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    twc_transport_abort(last(&client)->base.transport);
    twc_pump_flush(pr.pp);
    assert_int_equal(last(&client)->lost, 1);
    assert_int_equal(last(&client)->lost_code, -ECONNABORTED);
    assert_int_equal(last(&server)->lost, 1);
    assert_true(last(&server)->lost_code != 0);
    pair_close(&pr);

    /* The peer's socket closes without close_notify: a truncation. */
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    twc_transport_lose_connection(twc_pump_client_transport(pr.pp)); /* under TLS */
    twc_pump_flush(pr.pp);
    assert_int_equal(last(&server)->lost, 1);
    assert_int_equal(last(&server)->lost_code, TWC_ETLS_TRUNCATED);
    assert_non_null(strstr(last(&server)->lost_msg, "close_notify"));
    pair_close(&pr);

    /* Half-close: the client's close_notify is the server's EOF; the server
     * (eof_received returns 0) closes, and both ends are clean. */
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    assert_int_equal(twc_transport_shutdown_write(last(&client)->base.transport), 0);
    assert_int_equal(twc_transport_write(last(&client)->base.transport, "x", 1), TWC_ECLOSED);
    twc_pump_flush(pr.pp);
    assert_int_equal(last(&server)->eofs, 1);
    assert_int_equal(last(&server)->lost_code, 0);
    assert_int_equal(last(&client)->lost_code, 0);
    pair_close(&pr);

    /* Server closes cleanly with output pending: the data, then close_notify. */
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    assert_int_equal(twc_transport_write(last(&server)->base.transport, "bye", 3), 0);
    twc_transport_lose_connection(last(&server)->base.transport);
    twc_pump_flush(pr.pp);
    assert_int_equal(twc_buf_len(&last(&client)->in), 3);
    assert_int_equal(last(&client)->lost_code, 0);
    assert_int_equal(last(&client)->eofs, 1); /* close_notify reads as EOF */
    assert_int_equal(last(&server)->lost_code, 0);
    pair_close(&pr);

    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

/* Pausing reading holds decrypted records back; resuming delivers them from
 * the loop, not from inside resume_reading. */
static void test_tls_pause_resume_reading(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    struct pair pr;
    tf server, client;
    tp *s;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    server.pause_on_data = 1;
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    assert_int_equal(twc_transport_write(last(&client)->base.transport, "one", 3), 0);
    assert_int_equal(twc_transport_write(last(&client)->base.transport, "two", 3), 0);
    twc_pump_flush(pr.pp);
    s = last(&server);
    assert_int_equal(s->got, 3); /* the second record waits */
    twc_transport_resume_reading(s->base.transport);
    assert_int_equal(s->got, 3);
    twc_pump_flush(pr.pp);
    assert_int_equal(s->got, 6);
    assert_memory_equal(twc_buf_data(&s->in), "onetwo", 6);
    pair_close(&pr);
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

/* A client that never says hello is dropped after the handshake timeout, on
 * the fake clock; no user protocol was ever built for it. */
static void test_tls_handshake_timeout(void **state)
{
    struct twc_reactor_opts ro = {.fake_clock = 1};
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_reactor *r = twc_reactor_new(&ro, NULL);
    twc_tls_factory *stf;
    tf server, silent;
    twc_pump *pp;

    (void)state;
    tf_init(&server);
    tf_init(&silent);
    stf = twc_tls_factory_new(sctx, &server.base, 1, NULL, NULL);
    pp = twc_pump_new(r, twc_tls_factory_base(stf), &silent.base, NULL);
    assert_non_null(pp);
    twc_pump_flush(pp);
    twc_reactor_advance(r, 29999);
    twc_pump_flush(pp);
    assert_int_equal(last(&silent)->lost, 0);
    twc_reactor_advance(r, 1);
    twc_pump_flush(pp);
    assert_int_equal(last(&silent)->lost, 1);
    assert_int_equal(last(&silent)->lost_code, 0);
    assert_int_equal(server.nprotos, 0);
    twc_pump_free(pp);
    twc_reactor_run_once(r, 0);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
    twc_tls_factory_free(stf);
    twc_tls_ctx_free(sctx);
    tf_cleanup(&server);
    tf_cleanup(&silent);
}

/* ---- STARTTLS --------------------------------------------------------------- */

/* One STARTTLS exchange over plain pump transports (no TLS factory). */
static void starttls_run(int pipelined, size_t chunk)
{
    struct twc_reactor_opts ro = {.fake_clock = 1};
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    twc_reactor *r = twc_reactor_new(&ro, NULL);
    tf server, client;
    twc_pump *pp;
    tp *s, *c;

    tf_init(&server);
    tf_init(&client);
    server.role = STARTTLS_SERVER;
    server.tls = sctx;
    server.pipelined = pipelined;
    client.role = STARTTLS_CLIENT;
    client.tls = cctx;
    client.pipelined = pipelined;
    client.echo = 0;
    pp = twc_pump_new(r, &server.base, &client.base, NULL);
    assert_non_null(pp);
    twc_pump_set_chunk(pp, chunk);
    twc_pump_flush(pp);
    s = last(&server);
    c = last(&client);
    assert_int_equal(s->tls_on, 1);
    assert_int_equal(c->tls_on, 1);
    /* Plain lines, then the line sent under TLS, all seen by one protocol. */
    assert_int_equal(twc_buf_len(&s->in), 25);
    assert_memory_equal(twc_buf_data(&s->in), "HELLO\r\nSTARTTLS\r\nsecret\r\n", 25);
    assert_string_equal(twc_tls_version(s->base.transport), "TLSv1.3");
    assert_string_equal(twc_tls_peer_subject(c->base.transport), "CN=localhost");
    assert_string_equal(twc_tls_server_name(s->base.transport), "localhost");
    assert_int_equal(twc_transport_write(s->base.transport, "250 ok\r\n", 8), 0);
    twc_pump_flush(pp);
    assert_int_equal(twc_buf_len(&c->in), 8);
    assert_memory_equal(twc_buf_data(&c->in), "250 ok\r\n", 8);
    twc_transport_lose_connection(c->base.transport);
    twc_pump_flush(pp);
    assert_int_equal(c->lost, 1);
    assert_int_equal(c->lost_code, 0);
    assert_int_equal(s->lost, 1);
    assert_int_equal(s->lost_code, 0);
    twc_pump_free(pp);
    twc_reactor_run_once(r, 0);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

static void test_tls_starttls_pipelined_hello(void **state)
{
    (void)state;
    starttls_run(1, 0); /* "HELLO\r\nSTARTTLS\r\n" + ClientHello in one read */
    starttls_run(1, 1); /* the same one byte at a time */
    starttls_run(1, 7);
}

static void test_tls_starttls_after_reply(void **state)
{
    (void)state;
    starttls_run(0, 0);
    starttls_run(0, 3);
}

/* A failed STARTTLS handshake ends the protocol's connection with the TLS error
 * (here: our check of the server's name). */
static void test_tls_starttls_verify_failure(void **state)
{
    struct twc_reactor_opts ro = {.fake_clock = 1};
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    twc_reactor *r = twc_reactor_new(&ro, NULL);
    tf server, client;
    twc_pump *pp;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    server.role = STARTTLS_SERVER;
    server.tls = sctx;
    client.role = STARTTLS_CLIENT;
    client.tls = cctx;
    client.name = "mail.wrong.example";
    pp = twc_pump_new(r, &server.base, &client.base, NULL);
    assert_non_null(pp);
    twc_pump_flush(pp);
    assert_int_equal(last(&client)->lost, 1);
    assert_int_equal(last(&client)->lost_code, TWC_ETLS_VERIFY);
    assert_string_equal(last(&client)->lost_msg,
                        "certificate verify failed for mail.wrong.example: hostname mismatch");
    assert_int_equal(last(&server)->lost, 1);
    assert_int_equal(last(&server)->lost_code, TWC_ETLS_HANDSHAKE);
    assert_int_equal(twc_buf_len(&last(&server)->in), 17); /* only the plaintext */
    twc_pump_free(pp);
    twc_reactor_run_once(r, 0);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

/* ---- SNI, ALPN, resumption --------------------------------------------------- */

static void sni_connect(twc_tls_ctx *sctx, twc_tls_ctx *cctx, const char *name,
                        const char *want_subject, const char *want_sni)
{
    struct pair pr;
    tf server, client;

    tf_init(&server);
    tf_init(&client);
    pair_open(&pr, sctx, &server, cctx, &client, name);
    twc_pump_flush(pr.pp);
    assert_int_equal(client.failed, 0);
    assert_string_equal(last(&client)->subject, want_subject);
    assert_string_equal(last(&server)->sni, want_sni);
    pair_close(&pr);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

static void test_tls_sni_selects_certificate(void **state)
{
    struct twc_tls_server_opts o = {0};
    twc_tls_ctx *sctx, *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    twc_err err;

    (void)state;
    o.private_key = certs_path(&certs, CERT_SERVER);
    o.sni_dir = certs_path(&certs, CERT_SNI_DIR);
    sctx = twc_tls_ctx_new_server(&o, &err);
    assert_non_null(sctx);
    sni_connect(sctx, cctx, "alpha.example", "CN=alpha.example", "alpha.example");
    sni_connect(sctx, cctx, "beta.example", "CN=beta.example", "beta.example");
    sni_connect(sctx, cctx, "BETA.example", "CN=beta.example", "BETA.example");
    sni_connect(sctx, cctx, "localhost", "CN=localhost", "localhost"); /* default */
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
}

static void alpn_case(const char *server_alpn, const char *client_alpn, const char *want)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), server_alpn, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), client_alpn, 0);
    struct pair pr;
    tf server, client;

    tf_init(&server);
    tf_init(&client);
    pair_open(&pr, sctx, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    assert_string_equal(last(&server)->alpn, want);
    assert_string_equal(last(&client)->alpn, want);
    pair_close(&pr);
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

static void test_tls_alpn_negotiation(void **state)
{
    (void)state;
    alpn_case(NULL, "h2,http/1.1", "http/1.1");
    alpn_case("h2,http/1.1", "http/1.1,h2", "h2"); /* the server's preference wins */
    alpn_case("imap", "http/1.1", "");             /* no overlap: no ALPN */
    alpn_case("", NULL, "");
}

static void test_tls_session_resumption(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    struct pair pr;
    tf server, client;
    int i;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    for (i = 0; i < 2; i++) {
        pair_open(&pr, sctx, &server, cctx, &client, "localhost");
        twc_pump_flush(pr.pp);
        assert_string_equal(last(&client)->version, "TLSv1.3");
        assert_int_equal(last(&client)->reused, i);
        assert_int_equal(last(&server)->reused, i);
        twc_transport_lose_connection(last(&client)->base.transport);
        twc_pump_flush(pr.pp);
        assert_int_equal(last(&client)->lost_code, 0);
        pair_close(&pr);
    }
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

/* ---- Verification ------------------------------------------------------------ */

/* Connect and expect the client to fail; returns the client factory's code
 * and copies its message. The server's user factory never builds anything. */
static int failing_connect(const char *server_pem, twc_tls_ctx *cctx, const char *name, char *msg,
                           size_t msglen)
{
    twc_tls_ctx *sctx = server_ctx(server_pem, NULL, 0);
    struct pair pr;
    tf server, client;
    int code;

    tf_init(&server);
    tf_init(&client);
    pair_open(&pr, sctx, &server, cctx, &client, name);
    twc_pump_flush(pr.pp);
    assert_int_equal(client.failed, 1);
    assert_int_equal(client.nprotos, 0);
    assert_int_equal(server.nprotos, 0);
    code = client.failed_code;
    snprintf(msg, msglen, "%s", client.failed_msg);
    pair_close(&pr);
    twc_tls_ctx_free(sctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
    return code;
}

static void test_tls_verify_with_ca_file(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);

    (void)state;
    sni_connect(sctx, cctx, "localhost", "CN=localhost", "localhost");
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
}

static void test_tls_verify_ip_address(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);

    (void)state;
    /* Checked against the IP SAN, and not sent as SNI (RFC 6066 §3). */
    sni_connect(sctx, cctx, "127.0.0.1", "CN=localhost", "");
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
}

static void test_tls_verify_hostname_mismatch(void **state)
{
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    char msg[TWC_ERR_MSG_MAX];

    (void)state;
    assert_int_equal(
        failing_connect(certs_path(&certs, CERT_SERVER), cctx, "wrong.example", msg, sizeof(msg)),
        TWC_ETLS_VERIFY);
    assert_string_equal(msg, "certificate verify failed for wrong.example: hostname mismatch");
    twc_tls_ctx_free(cctx);
}

static void test_tls_verify_expired(void **state)
{
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    char msg[TWC_ERR_MSG_MAX];

    (void)state;
    assert_int_equal(
        failing_connect(certs_path(&certs, CERT_EXPIRED), cctx, "localhost", msg, sizeof(msg)),
        TWC_ETLS_VERIFY);
    assert_string_equal(msg, "certificate verify failed for localhost: certificate has expired");
    twc_tls_ctx_free(cctx);
}

static void test_tls_verify_unknown_ca(void **state)
{
    twc_tls_ctx *cctx = client_ctx(NULL, NULL, 0); /* the system store */
    char msg[TWC_ERR_MSG_MAX];

    (void)state;
    assert_int_equal(
        failing_connect(certs_path(&certs, CERT_SERVER), cctx, "localhost", msg, sizeof(msg)),
        TWC_ETLS_VERIFY);
    assert_non_null(strstr(msg, "for localhost: unable to get local issuer certificate"));
    twc_tls_ctx_free(cctx);
}

static void test_tls_insecure_skips_verification(void **state)
{
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_EXPIRED), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(NULL, NULL, 1);

    (void)state;
    sni_connect(sctx, cctx, "wrong.example", "CN=localhost", "wrong.example");
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
}

/* The server refuses TLS 1.1 by itself: the same client completes a TLS 1.1
 * handshake with a server that allows it. */
static void tls11_client(SSL_CTX *s)
{
    assert_int_equal(SSL_CTX_set_min_proto_version(s, TLS1_1_VERSION), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(s, TLS1_1_VERSION), 1);
    assert_int_equal(SSL_CTX_set_cipher_list(s, "DEFAULT@SECLEVEL=0"), 1);
}

static void test_tls_tls11_client_refused(void **state)
{
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    twc_tls_ctx *old = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    char msg[TWC_ERR_MSG_MAX];
    struct pair pr;
    tf server, client;

    (void)state;
    tls11_client(twc__tls_ctx_ssl(cctx));
    assert_int_equal(
        failing_connect(certs_path(&certs, CERT_SERVER), cctx, "localhost", msg, sizeof(msg)),
        TWC_ETLS_HANDSHAKE);
    assert_non_null(strstr(msg, "protocol version"));

    /* Control: a server opened up to TLS 1.1 (only possible through the
     * internal SSL_CTX) does complete the handshake with this client. */
    tls11_client(twc__tls_ctx_ssl(old));
    tf_init(&server);
    tf_init(&client);
    pair_open(&pr, old, &server, cctx, &client, "localhost");
    twc_pump_flush(pr.pp);
    assert_int_equal(client.failed, 0);
    assert_string_equal(last(&client)->version, "TLSv1.1");
    pair_close(&pr);
    tf_cleanup(&server);
    tf_cleanup(&client);
    twc_tls_ctx_free(old);
    twc_tls_ctx_free(cctx);
}

/* ---- Configuration errors ---------------------------------------------------- */

static void expect_server_error(const char *key, const char *cert, int code, const char *needle1,
                                const char *needle2)
{
    struct twc_tls_server_opts o = {0};
    twc_err err;

    o.private_key = key;
    o.cert_key = cert;
    assert_null(twc_tls_ctx_new_server(&o, &err));
    assert_int_equal(err.code, code);
    if (strstr(err.msg, needle1) == NULL || (needle2 != NULL && strstr(err.msg, needle2) == NULL))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, needle1,
                 needle2 != NULL ? needle2 : "");
}

static void test_tls_config_errors_name_the_file(void **state)
{
    char missing[200];
    struct twc_tls_server_opts o = {0};
    struct twc_tls_client_opts co = {0};
    twc_tls_ctx *ctx;
    twc_err err;

    (void)state;
    snprintf(missing, sizeof(missing), "%s/nope.pem", certs.dir);
    expect_server_error(missing, NULL, TWC_ETLS_CONFIG, missing, "No such file");
    expect_server_error(certs_path(&certs, CERT_GARBAGE), NULL, TWC_ETLS_CONFIG,
                        certs_path(&certs, CERT_GARBAGE), "no PEM certificate found");
    /* A certificate file without a key. */
    expect_server_error(certs_path(&certs, CERT_SERVER_CRT), NULL, TWC_ETLS_CONFIG,
                        certs_path(&certs, CERT_SERVER_CRT), "private key");
    expect_server_error(certs_path(&certs, CERT_OTHER_KEY), certs_path(&certs, CERT_SERVER_CRT),
                        TWC_ETLS_CONFIG, "does not match", certs_path(&certs, CERT_OTHER_KEY));
    /* Split key and certificate files work. */
    o.private_key = certs_path(&certs, CERT_SERVER_KEY);
    o.cert_key = certs_path(&certs, CERT_SERVER_CRT);
    ctx = twc_tls_ctx_new_server(&o, &err);
    assert_non_null(ctx);
    twc_tls_ctx_free(ctx);
    /* A missing SNI folder, an extra chain that holds no certificate. */
    o.sni_dir = missing;
    assert_null(twc_tls_ctx_new_server(&o, &err));
    assert_int_equal(err.code, TWC_ETLS_CONFIG);
    assert_non_null(strstr(err.msg, missing));
    o.sni_dir = NULL;
    o.extra_cert_chain = certs_path(&certs, CERT_OTHER_KEY);
    assert_null(twc_tls_ctx_new_server(&o, &err));
    assert_int_equal(err.code, TWC_ETLS_CONFIG);
    assert_non_null(strstr(err.msg, certs_path(&certs, CERT_OTHER_KEY)));
    o.extra_cert_chain = certs_path(&certs, CERT_CA);
    ctx = twc_tls_ctx_new_server(&o, &err);
    assert_non_null(ctx);
    twc_tls_ctx_free(ctx);
    /* Versions below 1.2 are not configurable. */
    o.extra_cert_chain = NULL;
    o.min_version = 0x0302;
    assert_null(twc_tls_ctx_new_server(&o, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_null(twc_tls_ctx_new_server(NULL, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    /* Client CA file. */
    co.ca_certs = missing;
    assert_null(twc_tls_ctx_new_client(&co, &err));
    assert_int_equal(err.code, TWC_ETLS_CONFIG);
    assert_non_null(strstr(err.msg, missing));
    co.ca_certs = certs_path(&certs, CERT_GARBAGE);
    assert_null(twc_tls_ctx_new_client(&co, &err));
    assert_int_equal(err.code, TWC_ETLS_CONFIG);
    assert_non_null(strstr(err.msg, certs_path(&certs, CERT_GARBAGE)));
    co.ca_certs = NULL;
    co.alpn = "h2,,x";
    assert_null(twc_tls_ctx_new_client(&co, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    /* A client context cannot serve. */
    ctx = twc_tls_ctx_new_client(NULL, &err);
    assert_non_null(ctx);
    assert_null(twc_tls_factory_new(ctx, NULL, 1, NULL, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    twc_tls_ctx_free(ctx);
    twc_tls_ctx_free(NULL);
    twc_tls_factory_free(NULL);
    assert_string_equal(twc_err_name(TWC_ETLS_VERIFY), "TWC_ETLS_VERIFY");
    assert_string_equal(twc_strerror(TWC_ETLS_TRUNCATED), "tls connection truncated");
    assert_int_equal(twc_err_domain_of(TWC_ETLS_CONFIG), TWC_DOMAIN_TLS);
}

/* ---- Real sockets ------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the loop until *a and *b are both nonzero, at most 20 s. */
static void run_until(twc_reactor *r, const int *a, const int *b)
{
    double end = now_s() + 20;

    while (!(*a && *b)) {
        if (now_s() > end)
            fail_msg("timed out waiting on the loop");
        twc_reactor_run_once(r, 50);
    }
}

struct tcp_fixture {
    twc_reactor *r;
    twc_tls_ctx *sctx, *cctx;
    twc_tls_factory *stf, *ctf;
    twc_listener *l;
    twc_connector *c;
};

static void tcp_open(struct tcp_fixture *fx, tf *server, tf *client)
{
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};
    twc_addr a;
    twc_err err;

    fx->r = twc_reactor_new(NULL, &err);
    assert_non_null(fx->r);
    fx->sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    fx->cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    fx->stf = twc_tls_factory_new(fx->sctx, &server->base, 1, NULL, &err);
    fx->ctf = twc_tls_factory_new(fx->cctx, &client->base, 0, "localhost", &err);
    assert_non_null(fx->stf);
    assert_non_null(fx->ctf);
    fx->l = twc_tcp_listen(fx->r, &lo, twc_tls_factory_base(fx->stf), &err);
    if (fx->l == NULL)
        fail_msg("listen: %s", err.msg);
    assert_int_equal(twc_listener_addr(fx->l, &a), 0);
    fx->c = twc_connector_new(fx->r, &a, 5000, twc_tls_factory_base(fx->ctf), &err);
    assert_non_null(fx->c);
}

static void tcp_close(struct tcp_fixture *fx)
{
    twc_listener_free(fx->l);
    twc_connector_free(fx->c);
    twc_reactor_run_once(fx->r, 0);
    assert_int_equal(twc_reactor_live_handles(fx->r), 0);
    twc_reactor_free(fx->r);
    twc_tls_factory_free(fx->stf);
    twc_tls_factory_free(fx->ctf);
    twc_tls_ctx_free(fx->sctx);
    twc_tls_ctx_free(fx->cctx);
}

static void test_tls_tcp_large_transfer_and_close(void **state)
{
    struct tcp_fixture fx;
    tf server, client;
    int done_s = 0, done_c = 0;
    double end;
    tp *s, *c;
    twc_addr peer;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    server.bulk = BIG;
    client.bulk = BIG;
    tcp_open(&fx, &server, &client);
    while (server.nprotos == 0 || client.nprotos == 0)
        twc_reactor_run_once(fx.r, 50);
    s = last(&server);
    c = last(&client);
    assert_string_equal(c->version, "TLSv1.3");
    assert_int_equal(twc_transport_peer(c->base.transport, &peer), 0);
    assert_true(twc_transport_fd(c->base.transport) >= 0);
    /* Wait until both have everything (bounded). */
    end = now_s() + 30;
    while (!(done_s && done_c)) {
        if (now_s() > end)
            fail_msg("transfer stalled: server got %zu, client got %zu", s->got, c->got);
        twc_reactor_run_once(fx.r, 50);
        done_s = s->got == BIG;
        done_c = c->got == BIG;
    }
    assert_int_equal(s->got, BIG);
    assert_int_equal(c->got, BIG);
    twc_transport_lose_connection(c->base.transport);
    run_until(fx.r, &c->lost, &s->lost);
    assert_int_equal(c->lost_code, 0);
    assert_int_equal(s->lost_code, 0);
    assert_int_equal(client.client_lost, 1);
    tcp_close(&fx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

static void test_tls_tcp_abort_is_truncation(void **state)
{
    struct tcp_fixture fx;
    tf server, client;
    tp *s, *c;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    tcp_open(&fx, &server, &client);
    while (server.nprotos == 0 || client.nprotos == 0)
        twc_reactor_run_once(fx.r, 50);
    s = last(&server);
    c = last(&client);
    twc_transport_abort(c->base.transport);
    run_until(fx.r, &c->lost, &s->lost);
    assert_int_equal(c->lost_code, -ECONNABORTED);
    /* The socket closed without close_notify. */
    if (s->lost_code != TWC_ETLS_TRUNCATED && s->lost_code != -ECONNRESET)
        fail_msg("server lost with %d (%s)", s->lost_code, s->lost_msg);
    tcp_close(&fx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

static void test_tls_tcp_handshake_failure_reaches_connection_failed(void **state)
{
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};
    twc_reactor *r = twc_reactor_new(NULL, NULL);
    twc_tls_ctx *sctx = server_ctx(certs_path(&certs, CERT_SERVER), NULL, 0);
    twc_tls_ctx *cctx = client_ctx(certs_path(&certs, CERT_CA), NULL, 0);
    twc_tls_factory *stf, *ctf;
    twc_listener *l;
    twc_connector *c;
    tf server, client;
    twc_addr a;
    double end;

    (void)state;
    tf_init(&server);
    tf_init(&client);
    stf = twc_tls_factory_new(sctx, &server.base, 1, NULL, NULL);
    ctf = twc_tls_factory_new(cctx, &client.base, 0, "nothere.example", NULL);
    l = twc_tcp_listen(r, &lo, twc_tls_factory_base(stf), NULL);
    assert_non_null(l);
    assert_int_equal(twc_listener_addr(l, &a), 0);
    c = twc_connector_new(r, &a, 5000, twc_tls_factory_base(ctf), NULL);
    assert_non_null(c);
    end = now_s() + 20;
    while (client.failed == 0) {
        if (now_s() > end)
            fail_msg("no connection_failed");
        twc_reactor_run_once(r, 50);
    }
    assert_int_equal(client.failed_code, TWC_ETLS_VERIFY);
    assert_non_null(strstr(client.failed_msg, "nothere.example: hostname mismatch"));
    /* Let the server side notice and clean up. */
    end = now_s() + 2;
    while (now_s() < end && twc_reactor_live_handles(r) > 1)
        twc_reactor_run_once(r, 20);
    assert_int_equal(server.nprotos, 0);
    twc_listener_free(l);
    twc_connector_free(c);
    twc_reactor_run_once(r, 0);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
    twc_tls_factory_free(stf);
    twc_tls_factory_free(ctf);
    twc_tls_ctx_free(sctx);
    twc_tls_ctx_free(cctx);
    tf_cleanup(&server);
    tf_cleanup(&client);
}

static int setup(void **state)
{
    (void)state;
    certs_create(&certs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    certs_remove(&certs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_handshake_tls13_default),
        cmocka_unit_test(test_tls_split_input),
        cmocka_unit_test(test_tls_forced_tls12),
        cmocka_unit_test(test_tls_large_transfer_pump),
        cmocka_unit_test(test_tls_abort_and_truncation),
        cmocka_unit_test(test_tls_pause_resume_reading),
        cmocka_unit_test(test_tls_handshake_timeout),
        cmocka_unit_test(test_tls_starttls_pipelined_hello),
        cmocka_unit_test(test_tls_starttls_after_reply),
        cmocka_unit_test(test_tls_starttls_verify_failure),
        cmocka_unit_test(test_tls_sni_selects_certificate),
        cmocka_unit_test(test_tls_alpn_negotiation),
        cmocka_unit_test(test_tls_session_resumption),
        cmocka_unit_test(test_tls_verify_with_ca_file),
        cmocka_unit_test(test_tls_verify_ip_address),
        cmocka_unit_test(test_tls_verify_hostname_mismatch),
        cmocka_unit_test(test_tls_verify_expired),
        cmocka_unit_test(test_tls_verify_unknown_ca),
        cmocka_unit_test(test_tls_insecure_skips_verification),
        cmocka_unit_test(test_tls_tls11_client_refused),
        cmocka_unit_test(test_tls_config_errors_name_the_file),
        cmocka_unit_test(test_tls_tcp_large_transfer_and_close),
        cmocka_unit_test(test_tls_tcp_abort_is_truncation),
        cmocka_unit_test(test_tls_tcp_handshake_failure_reaches_connection_failed),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
