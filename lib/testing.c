/*
 * Test helpers: the string transport and the in-memory loopback pair with its
 * pump (Twisted's StringTransport and iosim). See testing.h for the contract.
 *
 * Neither helper has a socket or a timer; whatever would happen "later, from the
 * loop" on a real transport happens here when the test asks for it (string
 * transport) or when the pump runs a round (pair). That keeps every protocol test
 * deterministic and free of real time.
 */
#include "testing.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "transport_int.h"

/* Recorded output may grow without a practical limit: the test decides. */
#define RECORD_MAX (SIZE_MAX / 2)

static void set_ipv4(twc_addr *a, uint32_t ip, uint16_t port)
{
    struct sockaddr_in s4;

    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = htons(port);
    s4.sin_addr.s_addr = htonl(ip);
    twc_addr_set(a, (const struct sockaddr *)(const void *)&s4, sizeof(s4));
}

/* Append iov to b; on failure b keeps whatever fitted before the failing buffer. */
static int append_iov(twc_buf *b, const struct iovec *iov, int iovcnt)
{
    int i, rc;

    for (i = 0; i < iovcnt; i++) {
        rc = twc_buf_append(b, iov[i].iov_base, iov[i].iov_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Hand len bytes to p->data_received from an exact-size heap copy, so that a
 * protocol reading past the end trips AddressSanitizer (c-ares, picohttpparser). */
static int deliver(twc_protocol *p, const uint8_t *data, size_t len)
{
    uint8_t *copy;

    if (len == 0)
        return 0;
    copy = malloc(len);
    if (copy == NULL)
        return TWC_ENOMEM;
    memcpy(copy, data, len);
    p->ops->data_received(p, copy, len);
    free(copy);
    return 0;
}

/* ============================================================================
 * String transport
 * ========================================================================== */

struct twc_string_transport {
    twc_transport base; /* first: protocols see &base */
    twc_buf written;
    size_t buffered;
    twc_addr host;
    twc_addr peer;
    int client_side;
    unsigned disconnecting : 1;
    unsigned aborted : 1;
    unsigned write_shut : 1;
    unsigned eof : 1;
    unsigned paused : 1;
    unsigned lost : 1;
};

static twc_string_transport *st_of(twc_transport *t)
{
    return container_of(t, twc_string_transport, base);
}

static const twc_string_transport *st_of_const(const twc_transport *t)
{
    return container_of(t, const twc_string_transport, base);
}

static int st_writev(twc_transport *t, const struct iovec *iov, int iovcnt)
{
    twc_string_transport *st = st_of(t);
    uint8_t *nul;
    int rc;

    if (st->lost || st->disconnecting || st->aborted || st->write_shut)
        return TWC_ECLOSED;
    rc = append_iov(&st->written, iov, iovcnt);
    if (rc < 0)
        return rc;
    /* Keep a NUL after the data (not committed) for twc_string_transport_value. */
    nul = twc_buf_reserve(&st->written, 1, &rc);
    if (nul == NULL)
        return rc;
    *nul = '\0';
    return 0;
}

static void st_lose_connection(twc_transport *t)
{
    st_of(t)->disconnecting = 1;
}

static void st_abort(twc_transport *t)
{
    st_of(t)->aborted = 1;
}

static int st_shutdown_write(twc_transport *t)
{
    st_of(t)->write_shut = 1;
    return 0;
}

static void st_pause_reading(twc_transport *t)
{
    st_of(t)->paused = 1;
}

static void st_resume_reading(twc_transport *t)
{
    st_of(t)->paused = 0;
}

static size_t st_buffered(const twc_transport *t)
{
    return st_of_const(t)->buffered;
}

static int st_peer(const twc_transport *t, twc_addr *out)
{
    *out = st_of_const(t)->peer;
    return 0;
}

static int st_host(const twc_transport *t, twc_addr *out)
{
    *out = st_of_const(t)->host;
    return 0;
}

static int no_fd(const twc_transport *t)
{
    (void)t;
    return -1;
}

static const struct twc_transport_ops string_ops = {
    .kind = "string",
    .writev = st_writev,
    .lose_connection = st_lose_connection,
    .abort = st_abort,
    .shutdown_write = st_shutdown_write,
    .pause_reading = st_pause_reading,
    .resume_reading = st_resume_reading,
    .buffered = st_buffered,
    .peer = st_peer,
    .host = st_host,
    .fd = no_fd,
};

twc_string_transport *twc_string_transport_new(twc_reactor *r)
{
    twc_string_transport *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return NULL;
    twc__transport_init(&st->base, &string_ops, r);
    twc_buf_init(&st->written, RECORD_MAX);
    set_ipv4(&st->host, 0x0a000001, 12345); /* 10.0.0.1, as Twisted's StringTransport */
    set_ipv4(&st->peer, 0xc0a80101, 54321); /* 192.168.1.1 */
    return st;
}

void twc_string_transport_free(twc_string_transport *st)
{
    if (st == NULL)
        return;
    twc_string_transport_close(st, NULL);
    twc_buf_cleanup(&st->written);
    free(st);
}

twc_transport *twc_string_transport_transport(twc_string_transport *st)
{
    return &st->base;
}

void twc_string_transport_attach(twc_string_transport *st, twc_protocol *p, twc_factory *f)
{
    twc__transport_attach(&st->base, p, f);
}

twc_protocol *twc_string_transport_build(twc_string_transport *st, twc_factory *f)
{
    twc_protocol *p = f->ops->build(f, &st->peer);

    if (p != NULL)
        twc__transport_attach(&st->base, p, f);
    return p;
}

twc_protocol *twc_string_transport_protocol(const twc_string_transport *st)
{
    return st->lost ? NULL : st->base.proto;
}

const uint8_t *twc_string_transport_value(const twc_string_transport *st, size_t *len)
{
    size_t n = twc_buf_len(&st->written);

    if (len != NULL)
        *len = n;
    return n == 0 ? (const uint8_t *)"" : twc_buf_data(&st->written);
}

void twc_string_transport_clear(twc_string_transport *st)
{
    twc_buf_reset(&st->written);
}

/* Nonzero when the protocol can still be given input. */
static int st_readable(const twc_string_transport *st)
{
    return st->base.proto != NULL && !st->lost && !st->disconnecting && !st->aborted && !st->eof;
}

int twc_string_transport_feed(twc_string_transport *st, const void *data, size_t len)
{
    if (!st_readable(st))
        return TWC_ECLOSED;
    return deliver(st->base.proto, data, len);
}

int twc_string_transport_feed_eof(twc_string_transport *st)
{
    twc_protocol *p = st->base.proto;

    if (!st_readable(st))
        return TWC_ECLOSED;
    st->eof = 1;
    if (p->ops->eof_received == NULL || p->ops->eof_received(p) == 0)
        st->disconnecting = 1;
    return 0;
}

void twc_string_transport_close(twc_string_transport *st, const twc_err *why)
{
    if (st->lost || st->base.proto == NULL)
        return;
    st->lost = 1;
    twc__transport_lost(&st->base, why, st->client_side);
}

void twc_string_transport_set_client_side(twc_string_transport *st, int client_side)
{
    st->client_side = client_side != 0;
}

void twc_string_transport_set_buffered(twc_string_transport *st, size_t bytes)
{
    st->buffered = bytes;
    if (st->base.proto != NULL && !st->lost)
        twc__transport_buffered_changed(&st->base);
}

void twc_string_transport_set_peer(twc_string_transport *st, const twc_addr *a)
{
    st->peer = *a;
}

void twc_string_transport_set_host(twc_string_transport *st, const twc_addr *a)
{
    st->host = *a;
}

int twc_string_transport_disconnecting(const twc_string_transport *st)
{
    return st->disconnecting;
}

int twc_string_transport_aborted(const twc_string_transport *st)
{
    return st->aborted;
}

int twc_string_transport_write_shut(const twc_string_transport *st)
{
    return st->write_shut;
}

int twc_string_transport_reading_paused(const twc_string_transport *st)
{
    return st->paused;
}

int twc_string_transport_lost(const twc_string_transport *st)
{
    return st->lost;
}

/* ============================================================================
 * Loopback pair and pump
 * ========================================================================== */

/* One end of the pair. Its out queue holds what its protocol wrote and the pump
 * has not yet delivered: that is what twc_transport_buffered reports, so flow
 * control behaves as over a socket whose peer reads slowly. */
struct pump_end {
    twc_transport base; /* first */
    struct pump_end *other;
    twc_buf out;
    twc_addr host;
    int client_side;
    unsigned closing : 1; /* lose_connection, or EOF that the protocol closed on */
    unsigned aborted : 1;
    unsigned write_shut : 1; /* shutdown_write */
    unsigned eof_sent : 1;   /* the other end has been told about write_shut */
    unsigned paused : 1;
    unsigned lost : 1;
};

struct twc_pump {
    twc_reactor *reactor;
    struct pump_end server;
    struct pump_end client;
    size_t chunk; /* 0: deliver everything queued at once */
};

static struct pump_end *end_of(twc_transport *t)
{
    return container_of(t, struct pump_end, base);
}

static const struct pump_end *end_of_const(const twc_transport *t)
{
    return container_of(t, const struct pump_end, base);
}

static int end_attached(const struct pump_end *e)
{
    return e->base.proto != NULL && !e->lost;
}

static int end_writev(twc_transport *t, const struct iovec *iov, int iovcnt)
{
    struct pump_end *e = end_of(t);
    int rc;

    if (e->lost || e->closing || e->aborted || e->write_shut)
        return TWC_ECLOSED;
    rc = append_iov(&e->out, iov, iovcnt);
    twc__transport_buffered_changed(t);
    return rc;
}

static void end_lose_connection(twc_transport *t)
{
    end_of(t)->closing = 1;
}

static void end_abort(twc_transport *t)
{
    struct pump_end *e = end_of(t);

    e->aborted = 1;
    twc_buf_cleanup(&e->out);
}

static int end_shutdown_write(twc_transport *t)
{
    end_of(t)->write_shut = 1;
    return 0;
}

static void end_pause_reading(twc_transport *t)
{
    end_of(t)->paused = 1;
}

static void end_resume_reading(twc_transport *t)
{
    end_of(t)->paused = 0;
}

static size_t end_buffered(const twc_transport *t)
{
    return twc_buf_len(&end_of_const(t)->out);
}

static int end_peer(const twc_transport *t, twc_addr *out)
{
    *out = end_of_const(t)->other->host;
    return 0;
}

static int end_host(const twc_transport *t, twc_addr *out)
{
    *out = end_of_const(t)->host;
    return 0;
}

static const struct twc_transport_ops pump_ops = {
    .kind = "string",
    .writev = end_writev,
    .lose_connection = end_lose_connection,
    .abort = end_abort,
    .shutdown_write = end_shutdown_write,
    .pause_reading = end_pause_reading,
    .resume_reading = end_resume_reading,
    .buffered = end_buffered,
    .peer = end_peer,
    .host = end_host,
    .fd = no_fd,
};

static void end_lost(struct pump_end *e, int code, const char *msg)
{
    twc_err why;

    if (!end_attached(e))
        return;
    e->lost = 1;
    twc_buf_cleanup(&e->out);
    if (code == 0) {
        twc__transport_lost(&e->base, NULL, e->client_side);
        return;
    }
    twc_err_set(&why, code, "%s", msg);
    twc__transport_lost(&e->base, &why, e->client_side);
}

/* The connection is over: first, then second, hear connection_lost. */
static void pump_close(struct pump_end *first, int code1, struct pump_end *second, int code2)
{
    end_lost(first, code1, "connection aborted");
    end_lost(second, code2, "connection reset by peer");
}

/* Move one chunk from e's queue to the other protocol. Returns 1 if it did. */
static int pump_move(twc_pump *pp, struct pump_end *e)
{
    struct pump_end *to = e->other;
    size_t n = twc_buf_len(&e->out);
    uint8_t *copy;

    /* A closing side stops reading (Twisted's loseConnection does stopReading);
     * a paused one is not read until it resumes. */
    if (n == 0 || !end_attached(e) || !end_attached(to) || to->paused || to->closing || to->aborted)
        return 0;
    if (pp->chunk != 0 && n > pp->chunk)
        n = pp->chunk;
    copy = malloc(n);
    if (copy == NULL)
        return 0;
    memcpy(copy, twc_buf_data(&e->out), n);
    twc_buf_consume(&e->out, n);
    to->base.proto->ops->data_received(to->base.proto, copy, n);
    free(copy);
    if (end_attached(e))
        twc__transport_buffered_changed(&e->base);
    return 1;
}

/* Let closes and half-closes take effect. Returns 1 if something happened. */
static int pump_settle(twc_pump *pp)
{
    struct pump_end *ends[2] = {&pp->server, &pp->client};
    struct pump_end *e, *o;
    twc_protocol *p;
    int i;

    if (!end_attached(&pp->server) && !end_attached(&pp->client))
        return 0;
    for (i = 0; i < 2; i++) {
        e = ends[i];
        if (e->aborted) {
            pump_close(e, -ECONNABORTED, e->other, -ECONNRESET);
            return 1;
        }
    }
    for (i = 0; i < 2; i++) {
        e = ends[i];
        if (e->closing && twc_buf_len(&e->out) == 0) {
            pump_close(e, 0, e->other, 0);
            return 1;
        }
    }
    for (i = 0; i < 2; i++) {
        e = ends[i];
        o = e->other;
        if (e->write_shut && !e->eof_sent && twc_buf_len(&e->out) == 0) {
            /* Our FIN reached the peer (RFC 9293 section 3.6): it may stay
             * half-open, or close once its own output is flushed. */
            e->eof_sent = 1;
            p = o->base.proto;
            if (end_attached(o) && !o->closing &&
                (p->ops->eof_received == NULL || p->ops->eof_received(p) == 0))
                o->closing = 1;
            return 1;
        }
    }
    /* Both directions shut: nothing more can move, the connection is done. */
    if (pp->server.eof_sent && pp->client.eof_sent) {
        pump_close(&pp->server, 0, &pp->client, 0);
        return 1;
    }
    return 0;
}

static void end_init(twc_pump *pp, struct pump_end *e, struct pump_end *other, int client_side)
{
    twc__transport_init(&e->base, &pump_ops, pp->reactor);
    e->other = other;
    e->client_side = client_side;
    twc_buf_init(&e->out, RECORD_MAX);
}

twc_pump *twc_pump_new(twc_reactor *r, twc_factory *server_f, twc_factory *client_f, twc_err *err)
{
    twc_pump *pp = calloc(1, sizeof(*pp));
    twc_protocol *sp, *cp;

    if (pp == NULL) {
        twc_err_set(err, TWC_ENOMEM, "pump: out of memory");
        return NULL;
    }
    pp->reactor = r;
    end_init(pp, &pp->server, &pp->client, 0);
    end_init(pp, &pp->client, &pp->server, 1);
    set_ipv4(&pp->server.host, 0x7f000001, 8000);  /* 127.0.0.1:8000 */
    set_ipv4(&pp->client.host, 0x7f000001, 40000); /* 127.0.0.1:40000 */

    sp = server_f->ops->build(server_f, &pp->client.host);
    if (sp == NULL) {
        twc_err_set(err, TWC_ECLOSED, "pump: server factory refused the connection");
        goto fail;
    }
    twc__transport_attach(&pp->server.base, sp, server_f);
    cp = client_f->ops->build(client_f, &pp->server.host);
    if (cp == NULL) {
        twc_err_set(err, TWC_ECLOSED, "pump: client factory refused the connection");
        end_lost(&pp->server, -ECONNRESET, "connection reset by peer");
        goto fail;
    }
    twc__transport_attach(&pp->client.base, cp, client_f);
    return pp;

fail:
    twc_buf_cleanup(&pp->server.out);
    twc_buf_cleanup(&pp->client.out);
    free(pp);
    return NULL;
}

void twc_pump_free(twc_pump *pp)
{
    if (pp == NULL)
        return;
    end_lost(&pp->server, 0, NULL);
    end_lost(&pp->client, 0, NULL);
    twc_buf_cleanup(&pp->server.out);
    twc_buf_cleanup(&pp->client.out);
    free(pp);
}

void twc_pump_set_chunk(twc_pump *pp, size_t n)
{
    pp->chunk = n;
}

int twc_pump_pump(twc_pump *pp)
{
    int did = 0;

    did |= pump_move(pp, &pp->client);
    did |= pump_move(pp, &pp->server);
    did |= pump_settle(pp);
    return did;
}

int twc_pump_flush(twc_pump *pp)
{
    int rounds = 0, idle = 0, i;

    /* Two idle rounds in a row: the second one gives call-soon work queued by the
     * reactor's own callbacks in the first a chance to write. */
    for (i = 0; i < TWC_PUMP_MAX_ROUNDS; i++) {
        if (pp->reactor != NULL)
            twc_reactor_run_once(pp->reactor, 0);
        if (twc_pump_pump(pp)) {
            rounds++;
            idle = 0;
        } else if (++idle == 2 || pp->reactor == NULL) {
            return rounds;
        }
    }
    return TWC_ETOOBIG;
}

twc_protocol *twc_pump_server(const twc_pump *pp)
{
    return end_attached(&pp->server) ? pp->server.base.proto : NULL;
}

twc_protocol *twc_pump_client(const twc_pump *pp)
{
    return end_attached(&pp->client) ? pp->client.base.proto : NULL;
}

twc_transport *twc_pump_server_transport(twc_pump *pp)
{
    return &pp->server.base;
}

twc_transport *twc_pump_client_transport(twc_pump *pp)
{
    return &pp->client.base;
}
