/*
 * The TLS filter transport (Twisted's TLSMemoryBIOProtocol): one tls_conn is
 * both a protocol on the inner transport ("lower": ciphertext in and out) and
 * a transport of kind "tls" for the user's protocol ("upper": plaintext).
 *
 * OpenSSL reads ciphertext from a memory BIO we fill in lower's
 * data_received, and writes ciphertext to another that we drain into the inner
 * transport after every SSL call. Nothing blocks and nothing is ever WANT_WRITE
 * (a memory BIO always takes what it is given); WANT_READ just means "wait for
 * the next data_received".
 *
 * Lifetime: the struct lives until the inner transport delivers lower's
 * connection_lost, which always comes from the loop. That is where upper hears
 * its own connection_lost, so the protocol.h rule "never from inside a call the
 * protocol made" holds for free, and closing from inside data_received is safe.
 * A pending call-soon (resume_reading) postpones the free.
 *
 * Flow control: our buffered count is the plaintext waiting for the
 * handshake plus what the inner transport holds; the inner transport's water
 * marks reach lower's pause_producing/write_drained, which re-run the common
 * rules (twc__transport_buffered_changed) on our own transport.
 */
#include "tls_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "limits.h"
#include "log.h"
#include "transport_int.h"

/* One TLS record's worth of plaintext (RFC 8446 §5.1: 2^14 bytes). */
#define TLS_CHUNK 16384

/* A peer must finish the handshake within TWC_TLS_HANDSHAKE_TIMEOUT_MS: before
 * it does, no user protocol exists whose idle timer could drop it (slowloris). */

struct twc_tls_factory {
    twc_factory base;
    twc_tls_ctx *ctx;
    twc_factory *user;
    char *server_name;
    int server;
};

typedef struct tls_conn {
    twc_transport base;  /* first: what upper sees */
    twc_protocol lower;  /* attached to the inner transport */
    twc_tls_ctx *ctx;    /* one reference */
    twc_timer *hs_timer; /* handshake timeout; NULL once done or without a reactor */
    SSL *ssl;
    BIO *rbio, *wbio;    /* owned by ssl */
    twc_factory *user_f; /* factory mode: builds upper after the handshake */
    twc_addr peer;       /* factory mode: given to user_f->build */
    char *server_name;   /* client: SNI and verified name; may be NULL */
    char *subject;       /* peer certificate subject, after the handshake */
    char alpn[256];      /* negotiated ALPN, "" for none */
    twc_buf app_out;     /* plaintext written before the handshake finished */
    twc_err err;         /* first TLS failure, reported in connection_lost */
    unsigned server : 1;
    unsigned factory_mode : 1; /* made by a twc_tls_factory (else twc_tls_start) */
    unsigned hs_done : 1;
    unsigned closing : 1;       /* upper asked lose_connection (or we decided to close) */
    unsigned inner_closing : 1; /* the inner transport was told to close */
    unsigned got_notify : 1;    /* the peer's close_notify arrived */
    unsigned sent_notify : 1;   /* our close_notify went out */
    unsigned shut_pending : 1;  /* shutdown_write before the handshake finished */
    unsigned peer_eof : 1;      /* the inner transport saw EOF */
    unsigned paused : 1;        /* upper's reading is paused (user or flow) */
    unsigned soon : 1;          /* on_soon is queued */
    unsigned dead : 1;          /* lower lost: free once on_soon ran */
    unsigned in_advance : 1;    /* re-entrancy guard for advance() */
} tls_conn;

static const struct twc_transport_ops tls_ops;
static const struct twc_protocol_ops lower_ops;

static tls_conn *from_lower(twc_protocol *p)
{
    return container_of(p, tls_conn, lower);
}

static twc_transport *inner(const tls_conn *tc)
{
    return tc->lower.transport;
}

static const char *peer_name(tls_conn *tc, char *buf, size_t len)
{
    twc_addr a;

    if (tc->server_name != NULL)
        return tc->server_name;
    if (inner(tc) != NULL && twc_transport_peer(inner(tc), &a) == 0)
        return twc_addr_format(&a, buf, len);
    return "peer";
}

/* Move everything OpenSSL wrote to the inner transport. */
static void flush_wbio(tls_conn *tc)
{
    uint8_t buf[TLS_CHUNK];
    int n;

    while ((n = BIO_read(tc->wbio, buf, sizeof(buf))) > 0) {
        if (inner(tc) != NULL)
            (void)twc_transport_write(inner(tc), buf, (size_t)n);
    }
}

/* Record the first failure and close the inner transport (after sending any
 * alert OpenSSL queued). Upper hears it in connection_lost, from the loop. */
static void fail(tls_conn *tc, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(tls_conn *tc, int code, const char *fmt, ...)
{
    va_list ap;

    if (tc->err.code == 0) {
        va_start(ap, fmt);
        twc_err_setv(&tc->err, code, fmt, ap);
        va_end(ap);
    }
    flush_wbio(tc);
    tc->closing = 1;
    if (!tc->inner_closing && inner(tc) != NULL) {
        tc->inner_closing = 1;
        twc_transport_lose_connection(inner(tc));
    }
}

/* Turn a failed handshake into TWC_ETLS_VERIFY (our check of the peer
 * certificate failed: say which host and why) or TWC_ETLS_HANDSHAKE. */
static void fail_handshake(tls_conn *tc)
{
    char why[128], name[TWC_ADDR_STRLEN];
    long v = SSL_get_verify_result(tc->ssl);

    twc__tls_reason(why, sizeof(why));
    if (!tc->server && v != X509_V_OK) {
        fail(tc, TWC_ETLS_VERIFY, "certificate verify failed for %s: %s",
             peer_name(tc, name, sizeof(name)), X509_verify_cert_error_string(v));
        return;
    }
    fail(tc, TWC_ETLS_HANDSHAKE, "tls handshake with %s failed: %s",
         peer_name(tc, name, sizeof(name)), why);
}

/* Encrypt len bytes. Anything OpenSSL cannot take now (WANT_READ while a
 * post-handshake message is pending) waits in app_out; the moving-buffer mode
 * makes the retry from there legal. */
static void ssl_write(tls_conn *tc, const uint8_t *data, size_t len)
{
    int n, chunk, e;
    char why[128];

    while (len > 0) {
        chunk = len > INT32_MAX ? INT32_MAX : (int)len;
        ERR_clear_error();
        n = SSL_write(tc->ssl, data, chunk);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        e = SSL_get_error(tc->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (twc_buf_append(&tc->app_out, data, len) < 0)
                fail(tc, TWC_ENOMEM, "out of memory for tls output");
            return;
        }
        fail(tc, TWC_ETLS_PROTOCOL, "tls write failed: %s", twc__tls_reason(why, sizeof(why)));
        return;
    }
}

/* Send what upper wrote while the handshake ran. */
static void flush_app_out(tls_conn *tc)
{
    twc_buf pending;

    if (twc_buf_len(&tc->app_out) == 0)
        return;
    /* ssl_write may append to app_out again: write from a moved-out copy. */
    pending = tc->app_out;
    twc_buf_init(&tc->app_out, SIZE_MAX);
    ssl_write(tc, twc_buf_data(&pending), twc_buf_len(&pending));
    twc_buf_cleanup(&pending);
}

/* Flush, say close_notify (RFC 8446 §6.1), close the inner transport. */
static void close_tls(tls_conn *tc)
{
    tc->closing = 1;
    if (tc->inner_closing || inner(tc) == NULL)
        return;
    if (tc->hs_done) {
        flush_app_out(tc);
        if (!tc->sent_notify) {
            tc->sent_notify = 1;
            ERR_clear_error();
            (void)SSL_shutdown(tc->ssl);
            ERR_clear_error();
        }
        flush_wbio(tc);
    }
    tc->inner_closing = 1;
    twc_transport_lose_connection(inner(tc));
}

static int upper_readable(const tls_conn *tc)
{
    return tc->base.proto != NULL && !tc->paused && !tc->closing && !tc->inner_closing;
}

static void handshake_done(tls_conn *tc)
{
    const unsigned char *a;
    unsigned alen;
    X509 *cert;
    BIO *b;
    char *mem;
    long n;
    twc_protocol *p;

    tc->hs_done = 1;
    twc_timer_free(tc->hs_timer);
    tc->hs_timer = NULL;
    /* Upper paused reading while the handshake needed input (start_tls): the
     * pause reaches the inner transport only now. */
    if (tc->paused && inner(tc) != NULL)
        twc_transport_pause_reading(inner(tc));
    SSL_get0_alpn_selected(tc->ssl, &a, &alen);
    if (alen > 0 && alen < sizeof(tc->alpn)) {
        memcpy(tc->alpn, a, alen);
        tc->alpn[alen] = '\0';
    }
    cert = SSL_get1_peer_certificate(tc->ssl);
    if (cert != NULL) {
        b = BIO_new(BIO_s_mem());
        if (b != NULL &&
            X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
            /* The memory is not NUL-terminated (strndup would read past it). */
            n = BIO_get_mem_data(b, &mem);
            tc->subject = n >= 0 ? malloc((size_t)n + 1) : NULL;
            if (tc->subject != NULL) {
                memcpy(tc->subject, mem, (size_t)n);
                tc->subject[n] = '\0';
            }
        }
        BIO_free(b);
        X509_free(cert);
    }
    twc_log_debug(tc->base.reactor, "tls", "handshake done: %s alpn %s%s", SSL_get_version(tc->ssl),
                  tc->alpn[0] != '\0' ? tc->alpn : "-",
                  SSL_session_reused(tc->ssl) ? " (resumed)" : "");
    if (tc->factory_mode) {
        p = tc->user_f->ops->build(tc->user_f, &tc->peer);
        if (p == NULL) {
            close_tls(tc); /* refused: a clean TLS close */
            return;
        }
        twc__transport_attach(&tc->base, p, tc->user_f);
    }
    if (tc->inner_closing)
        return;
    flush_app_out(tc);
    flush_wbio(tc);
    if (tc->shut_pending) {
        tc->shut_pending = 0;
        (void)twc_transport_shutdown_write(&tc->base);
    }
    if (tc->closing)
        close_tls(tc);
}

/* The peer's close_notify: like TCP's EOF (protocol.h eof_received). */
static void on_close_notify(tls_conn *tc)
{
    twc_protocol *p = tc->base.proto;
    int keep = 0;

    tc->got_notify = 1;
    if (p != NULL && p->ops->eof_received != NULL && !tc->sent_notify)
        keep = p->ops->eof_received(p);
    if (!keep)
        close_tls(tc);
}

/* Run the handshake until it waits for input. Returns 1 once it is done. */
static int handshake_step(tls_conn *tc)
{
    int rc, e;

    ERR_clear_error();
    rc = SSL_do_handshake(tc->ssl);
    if (rc == 1) {
        flush_wbio(tc);
        return 1;
    }
    e = SSL_get_error(tc->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        flush_wbio(tc);
        return 0;
    }
    fail_handshake(tc);
    return 0;
}

/* Drive the connection with whatever ciphertext has arrived: finish the
 * handshake, then decrypt records to upper while it is willing to read. */
static void advance(tls_conn *tc)
{
    uint8_t buf[TLS_CHUNK];
    char why[128];
    int n, e;

    if (tc->in_advance || tc->inner_closing)
        return;
    tc->in_advance = 1;
    if (!tc->hs_done) {
        if (!handshake_step(tc))
            goto out;
        handshake_done(tc);
    }
    while (upper_readable(tc)) {
        ERR_clear_error();
        n = SSL_read(tc->ssl, buf, sizeof(buf));
        if (n > 0) {
            tc->base.proto->ops->data_received(tc->base.proto, buf, (size_t)n);
            continue;
        }
        e = SSL_get_error(tc->ssl, n);
        flush_wbio(tc); /* post-handshake replies (key update, RFC 8446 §4.6.3) */
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            on_close_notify(tc);
            break;
        }
        fail(tc, TWC_ETLS_PROTOCOL, "tls error from peer: %s", twc__tls_reason(why, sizeof(why)));
        break;
    }
    if (!tc->inner_closing)
        flush_wbio(tc);
out:
    tc->in_advance = 0;
}

static void conn_free(tls_conn *tc)
{
    twc_timer_free(tc->hs_timer);
    SSL_free(tc->ssl);
    twc_tls_ctx_free(tc->ctx);
    twc_buf_cleanup(&tc->app_out);
    free(tc->server_name);
    free(tc->subject);
    free(tc);
}

static void on_soon(void *arg)
{
    tls_conn *tc = arg;

    tc->soon = 0;
    if (tc->dead) {
        conn_free(tc);
        return;
    }
    advance(tc);
}

static void on_hs_timeout(twc_timer *t, void *arg)
{
    tls_conn *tc = arg;
    char name[TWC_ADDR_STRLEN];

    (void)t;
    if (tc->hs_done || tc->inner_closing)
        return;
    fail(tc, TWC_ETIMEDOUT, "tls handshake with %s timed out after %u ms",
         peer_name(tc, name, sizeof(name)), (unsigned)TWC_TLS_HANDSHAKE_TIMEOUT_MS);
}

/* Arm the handshake timeout (no reactor, as on a bare string transport: none). */
static void arm_hs_timer(tls_conn *tc)
{
    if (tc->base.reactor == NULL)
        return;
    tc->hs_timer = twc_timer_new(tc->base.reactor, on_hs_timeout, tc);
    if (tc->hs_timer != NULL)
        twc_timer_start(tc->hs_timer, TWC_TLS_HANDSHAKE_TIMEOUT_MS, 0);
}

static tls_conn *conn_new(twc_tls_ctx *ctx, int server, const char *server_name, twc_err *err)
{
    tls_conn *tc = calloc(1, sizeof(*tc));

    if (tc == NULL)
        goto oom;
    if (!server && server_name != NULL) {
        tc->server_name = strdup(server_name);
        if (tc->server_name == NULL)
            goto oom;
    }
    if (!!server != !!ctx->server) {
        twc_err_set(err, TWC_EINVAL, "tls %s context used on the %s side",
                    ctx->server ? "server" : "client", server ? "server" : "client");
        goto fail;
    }
    tc->ssl = twc__tls_ctx_new_ssl(ctx, tc->server_name, tc, err);
    if (tc->ssl == NULL)
        goto fail;
    tc->rbio = BIO_new(BIO_s_mem());
    tc->wbio = BIO_new(BIO_s_mem());
    if (tc->rbio == NULL || tc->wbio == NULL) {
        BIO_free(tc->rbio);
        BIO_free(tc->wbio);
        goto oom;
    }
    /* An empty read BIO means "no data yet", not EOF (-1 = retry). */
    BIO_set_mem_eof_return(tc->rbio, -1);
    SSL_set_bio(tc->ssl, tc->rbio, tc->wbio);
    twc__tls_ctx_ref(ctx);
    tc->ctx = ctx;
    tc->server = server ? 1 : 0;
    tc->lower.ops = &lower_ops;
    twc_buf_init(&tc->app_out, SIZE_MAX);
    return tc;

oom:
    twc_err_set(err, TWC_ENOMEM, "out of memory for a tls connection");
fail:
    if (tc != NULL) {
        SSL_free(tc->ssl);
        free(tc->server_name);
        free(tc);
    }
    return NULL;
}

/* ---- Lower: the protocol on the inner transport --------------------------- */

static void lower_connection_made(twc_protocol *p)
{
    tls_conn *tc = from_lower(p);

    twc__transport_init(&tc->base, &tls_ops, twc_transport_reactor(p->transport));
    arm_hs_timer(tc);
    if (!tc->server)
        advance(tc); /* the ClientHello */
}

static void lower_data_received(twc_protocol *p, const uint8_t *data, size_t len)
{
    tls_conn *tc = from_lower(p);

    if (tc->inner_closing)
        return;
    if (len > INT32_MAX || BIO_write(tc->rbio, data, (int)len) != (int)len) {
        fail(tc, TWC_ENOMEM, "out of memory for tls input");
        return;
    }
    advance(tc);
}

/* TCP EOF. Without close_notify first, the stream was cut;
 * lower_connection_lost reports it as TWC_ETLS_TRUNCATED. */
static int lower_eof_received(twc_protocol *p)
{
    tls_conn *tc = from_lower(p);

    tc->peer_eof = 1;
    tc->inner_closing = 1; /* the inner transport closes itself on return */
    return 0;
}

static void lower_pause_producing(twc_protocol *p)
{
    twc__transport_buffered_changed(&from_lower(p)->base);
}

static void lower_write_drained(twc_protocol *p)
{
    twc__transport_buffered_changed(&from_lower(p)->base);
}

static void lower_connection_lost(twc_protocol *p, const twc_err *why)
{
    tls_conn *tc = from_lower(p);
    twc_err e;

    if (tc->err.code != 0)
        e = tc->err;
    else if (tc->got_notify)
        twc_err_clear(&e); /* the session ended cleanly; a late reset is noise */
    else if (why->code != 0)
        e = *why;
    else if (!tc->hs_done && !tc->closing)
        twc_err_set(&e, TWC_ETLS_HANDSHAKE, "tls handshake with %s failed: connection closed",
                    tc->server_name != NULL ? tc->server_name : "peer");
    else if (!tc->closing)
        /* Closed under us without close_notify (EOF or the inner transport
         * closed): possibly a truncation attack, RFC 8446 §6.1. */
        twc_err_set(&e, TWC_ETLS_TRUNCATED, "connection closed without tls close_notify");
    else
        twc_err_clear(&e);
    twc_timer_free(tc->hs_timer);
    tc->hs_timer = NULL;
    if (tc->hs_done && e.code == 0)
        twc__tls_ctx_save_session(tc->ctx, tc->server_name, tc->ssl);
    if (tc->base.proto != NULL) {
        /* Factory mode, client side: tell the user factory too (in start_tls
         * mode the inner transport does that after we return). */
        twc__transport_lost(&tc->base, &e, tc->factory_mode && !tc->server);
    } else if (tc->factory_mode && !tc->server && !tc->hs_done) {
        if (tc->user_f->ops->connection_failed != NULL)
            tc->user_f->ops->connection_failed(tc->user_f, &e);
    } else if (e.code != 0) {
        twc_log_info(tc->base.reactor, "tls", "%s", e.msg);
    }
    if (tc->soon)
        tc->dead = 1;
    else
        conn_free(tc);
}

static const struct twc_protocol_ops lower_ops = {
    .name = "tls",
    .connection_made = lower_connection_made,
    .data_received = lower_data_received,
    .eof_received = lower_eof_received,
    .pause_producing = lower_pause_producing,
    .write_drained = lower_write_drained,
    .connection_lost = lower_connection_lost,
};

/* ---- Upper: the transport the user's protocol sees ------------------------ */

static int tls_writev(twc_transport *t, const struct iovec *iov, int iovcnt)
{
    tls_conn *tc = (tls_conn *)t;
    uint8_t small[TLS_CHUNK];
    size_t total = 0, off = 0;
    int i, rc;

    if (tc->closing || tc->inner_closing || tc->sent_notify || tc->shut_pending ||
        inner(tc) == NULL)
        return TWC_ECLOSED;
    for (i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SIZE_MAX - total)
            return TWC_ETOOBIG;
        total += iov[i].iov_len;
    }
    if (total == 0)
        return 0;
    if (!tc->hs_done || twc_buf_len(&tc->app_out) > 0) {
        for (i = 0; i < iovcnt; i++) {
            rc = twc_buf_append(&tc->app_out, iov[i].iov_base, iov[i].iov_len);
            if (rc < 0)
                return rc;
        }
    } else if (iovcnt > 1 && total <= sizeof(small)) {
        /* Many small pieces: one record, not one per piece. */
        for (i = 0; i < iovcnt; i++) {
            memcpy(small + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
        ssl_write(tc, small, total);
        flush_wbio(tc);
    } else {
        for (i = 0; i < iovcnt; i++)
            ssl_write(tc, iov[i].iov_base, iov[i].iov_len);
        flush_wbio(tc);
    }
    twc__transport_buffered_changed(t);
    return 0;
}

static void tls_lose_connection(twc_transport *t)
{
    tls_conn *tc = (tls_conn *)t;

    if (tc->closing || tc->inner_closing)
        return;
    tc->closing = 1;
    /* Mid-handshake with output waiting: finish the handshake, send it, then
     * close (handshake_done). With nothing to send, just close. */
    if (!tc->hs_done && twc_buf_len(&tc->app_out) > 0)
        return;
    close_tls(tc);
}

static void tls_abort(twc_transport *t)
{
    tls_conn *tc = (tls_conn *)t;

    tc->closing = 1;
    tc->inner_closing = 1;
    if (inner(tc) != NULL)
        twc_transport_abort(inner(tc));
}

/* Half-close: close_notify, then shut the inner write side; reading goes on
 * (TLS 1.3 allows it, RFC 8446 §6.1). */
static int tls_shutdown_write(twc_transport *t)
{
    tls_conn *tc = (tls_conn *)t;

    if (tc->closing || tc->inner_closing || inner(tc) == NULL)
        return TWC_ECLOSED;
    if (!tc->hs_done) {
        tc->shut_pending = 1;
        return 0;
    }
    if (tc->sent_notify)
        return 0;
    flush_app_out(tc);
    tc->sent_notify = 1;
    ERR_clear_error();
    (void)SSL_shutdown(tc->ssl);
    ERR_clear_error();
    flush_wbio(tc);
    if (tc->got_notify) {
        close_tls(tc);
        return 0;
    }
    return twc_transport_shutdown_write(inner(tc));
}

static void tls_pause_reading(twc_transport *t)
{
    tls_conn *tc = (tls_conn *)t;

    tc->paused = 1;
    /* The handshake still needs input: handshake_done pauses the inner side. */
    if (inner(tc) != NULL && tc->hs_done)
        twc_transport_pause_reading(inner(tc));
}

static void tls_resume_reading(twc_transport *t)
{
    tls_conn *tc = (tls_conn *)t;

    tc->paused = 0;
    if (inner(tc) == NULL)
        return;
    twc_transport_resume_reading(inner(tc));
    /* Records already decrypted or received wait in OpenSSL: deliver them from
     * the loop, not from inside this call. */
    if (!tc->soon && tc->hs_done && (SSL_pending(tc->ssl) > 0 || BIO_pending(tc->rbio) > 0) &&
        tc->base.reactor != NULL && twc_reactor_call_soon(tc->base.reactor, on_soon, tc) == 0)
        tc->soon = 1;
}

static size_t tls_buffered(const twc_transport *t)
{
    const tls_conn *tc = (const tls_conn *)t;
    size_t n = twc_buf_len(&tc->app_out) + BIO_pending(tc->wbio);

    if (inner(tc) != NULL)
        n += twc_transport_buffered(inner(tc));
    return n;
}

static int tls_peer(const twc_transport *t, twc_addr *out)
{
    const tls_conn *tc = (const tls_conn *)t;

    return inner(tc) != NULL ? twc_transport_peer(inner(tc), out) : TWC_ECLOSED;
}

static int tls_host(const twc_transport *t, twc_addr *out)
{
    const tls_conn *tc = (const tls_conn *)t;

    return inner(tc) != NULL ? twc_transport_host(inner(tc), out) : TWC_ECLOSED;
}

static int tls_fd(const twc_transport *t)
{
    const tls_conn *tc = (const tls_conn *)t;

    return inner(tc) != NULL ? twc_transport_fd(inner(tc)) : -1;
}

static const struct twc_transport_ops tls_ops = {
    .kind = "tls",
    .writev = tls_writev,
    .lose_connection = tls_lose_connection,
    .abort = tls_abort,
    .shutdown_write = tls_shutdown_write,
    .pause_reading = tls_pause_reading,
    .resume_reading = tls_resume_reading,
    .buffered = tls_buffered,
    .peer = tls_peer,
    .host = tls_host,
    .fd = tls_fd,
};

/* ---- STARTTLS ------------------------------------------------------------- */

int twc_tls_start(twc_protocol *upper, twc_tls_ctx *ctx, int server_side, const char *server_name,
                  const uint8_t *pending, size_t pending_len, twc_err *err)
{
    twc_transport *t = upper->transport;
    tls_conn *tc;

    if (t == NULL)
        return twc_err_set(err, TWC_ECLOSED, "start_tls on a closed connection");
    if (t->ops == &tls_ops)
        return twc_err_set(err, TWC_EINVAL, "start_tls on a connection already using tls");
    tc = conn_new(ctx, server_side, server_name, err);
    if (tc == NULL)
        return err != NULL ? err->code : TWC_ENOMEM;
    if (pending_len > 0 && (pending_len > INT32_MAX ||
                            BIO_write(tc->rbio, pending, (int)pending_len) != (int)pending_len)) {
        conn_free(tc);
        return twc_err_set(err, TWC_ENOMEM, "out of memory for tls input");
    }
    twc__transport_init(&tc->base, &tls_ops, twc_transport_reactor(t));
    /* Upper keeps its flow-control state: a pause it is in ends with our
     * write_drained, and reading it paused stays paused. */
    tc->base.high_water = t->high_water;
    tc->base.low_water = t->low_water;
    tc->base.producer_paused = t->producer_paused;
    tc->base.reading_paused_by_user = t->reading_paused_by_user;
    tc->paused = t->reading_paused_by_user;
    (void)twc__transport_swap_protocol(t, &tc->lower);
    tc->base.proto = upper;
    upper->transport = &tc->base;
    if (tc->paused)
        twc_transport_resume_reading(t); /* the handshake needs input */
    arm_hs_timer(tc);
    /* Only the handshake runs now (a ClientHello may be in pending); records
     * for upper wait until the next data arrives. */
    handshake_step(tc);
    return 0;
}

/* ---- Factory wrapper ------------------------------------------------------ */

static twc_protocol *tf_build(twc_factory *f, const twc_addr *peer)
{
    twc_tls_factory *tf = container_of(f, twc_tls_factory, base);
    char name[TWC_ADDR_STRLEN];
    tls_conn *tc;
    twc_err err;

    tc = conn_new(tf->ctx, tf->server, tf->server_name, &err);
    if (tc == NULL) {
        twc_log_warnx(NULL, "tls", "connection from %s refused: %s",
                      twc_addr_format(peer, name, sizeof(name)), err.msg);
        return NULL;
    }
    tc->factory_mode = 1;
    tc->user_f = tf->user;
    tc->peer = *peer;
    return &tc->lower;
}

static void tf_start(twc_factory *f)
{
    twc_factory_do_start(container_of(f, twc_tls_factory, base)->user);
}

static void tf_stop(twc_factory *f)
{
    twc_factory_do_stop(container_of(f, twc_tls_factory, base)->user);
}

static void tf_connection_failed(twc_factory *f, const twc_err *why)
{
    twc_factory *user = container_of(f, twc_tls_factory, base)->user;

    if (user->ops->connection_failed != NULL)
        user->ops->connection_failed(user, why);
}

static const struct twc_factory_ops tf_ops = {
    .build = tf_build,
    .start = tf_start,
    .stop = tf_stop,
    .connection_failed = tf_connection_failed,
    /* client_connection_lost: the connection itself tells the user factory. */
};

twc_tls_factory *twc_tls_factory_new(twc_tls_ctx *ctx, twc_factory *user, int server_side,
                                     const char *server_name, twc_err *err)
{
    twc_tls_factory *tf;

    if (!!server_side != !!ctx->server) {
        twc_err_set(err, TWC_EINVAL, "tls %s context used on the %s side",
                    ctx->server ? "server" : "client", server_side ? "server" : "client");
        return NULL;
    }
    tf = calloc(1, sizeof(*tf));
    if (tf == NULL)
        goto oom;
    if (server_name != NULL) {
        tf->server_name = strdup(server_name);
        if (tf->server_name == NULL)
            goto oom;
    }
    tf->base.ops = &tf_ops;
    tf->ctx = ctx;
    twc__tls_ctx_ref(ctx);
    tf->user = user;
    tf->server = server_side ? 1 : 0;
    return tf;

oom:
    free(tf);
    twc_err_set(err, TWC_ENOMEM, "out of memory for a tls factory");
    return NULL;
}

twc_factory *twc_tls_factory_base(twc_tls_factory *tf)
{
    return &tf->base;
}

void twc_tls_factory_free(twc_tls_factory *tf)
{
    if (tf == NULL)
        return;
    twc_tls_ctx_free(tf->ctx);
    free(tf->server_name);
    free(tf);
}

/* ---- Accessors ------------------------------------------------------------ */

static const tls_conn *as_tls(const twc_transport *t)
{
    return t != NULL && t->ops == &tls_ops ? (const tls_conn *)t : NULL;
}

int twc_tls_is_tls(const twc_transport *t)
{
    return as_tls(t) != NULL;
}

const char *twc_tls_alpn(const twc_transport *t)
{
    const tls_conn *tc = as_tls(t);

    return tc != NULL && tc->hs_done && tc->alpn[0] != '\0' ? tc->alpn : NULL;
}

const char *twc_tls_version(const twc_transport *t)
{
    const tls_conn *tc = as_tls(t);

    return tc != NULL && tc->hs_done ? SSL_get_version(tc->ssl) : NULL;
}

const char *twc_tls_server_name(const twc_transport *t)
{
    const tls_conn *tc = as_tls(t);

    if (tc == NULL)
        return NULL;
    if (!tc->server)
        return tc->server_name;
    return tc->hs_done ? SSL_get_servername(tc->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}

const char *twc_tls_peer_subject(const twc_transport *t)
{
    const tls_conn *tc = as_tls(t);

    return tc != NULL ? tc->subject : NULL;
}

int twc_tls_session_reused(const twc_transport *t)
{
    const tls_conn *tc = as_tls(t);

    return tc != NULL && tc->hs_done ? SSL_session_reused(tc->ssl) : 0;
}
