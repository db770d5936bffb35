/*
 * TLS (OpenSSL 3) as a filter transport, Twisted's TLSMemoryBIOProtocol.
 *
 * A TLS connection is two objects in one: a protocol for the inner transport
 * (TCP, UNIX, the string transport in tests), which receives and writes
 * ciphertext, and a transport of kind "tls" for the user's protocol, which
 * cannot tell it from TCP. OpenSSL only ever sees memory BIOs, so the handshake
 * never blocks: it advances whenever ciphertext arrives.
 *
 * Two ways in:
 * - twc_tls_factory_new wraps a user factory, for twc_tcp_listen /
 *   twc_connector_new. The user's protocol is built, attached and told
 *   connection_made only once the handshake is complete, so the accessors below
 *   (ALPN, version, peer certificate) are valid from connection_made on. A
 *   failed handshake never reaches a server's user factory (it is logged); a
 *   client's user factory hears connection_failed with the TLS error.
 * - twc_tls_start inserts TLS under an established protocol (STARTTLS). The
 *   protocol keeps its transport pointer semantics (p->transport changes to the
 *   TLS transport); what it writes before the handshake completes is buffered
 *   and sent encrypted afterwards; a failed handshake ends in its
 *   connection_lost with the TLS error.
 *
 * Safe defaults: TLS 1.2 and 1.3 only, OpenSSL's default secure ciphers, no
 * compression, no renegotiation, session resumption on (tickets and the server
 * session cache). Clients verify the peer against the system CA store (or
 * ca_certs) and check the host name; `insecure` turns that off explicitly.
 *
 * Closing: lose_connection flushes, sends close_notify and closes the inner
 * transport; abort closes it without close_notify. connection_lost reports 0
 * after either end's close_notify (or our own clean close), TWC_ETLS_TRUNCATED
 * when the peer closed the socket without close_notify, TWC_ETLS_PROTOCOL for a
 * bad record, and the inner transport's error otherwise. The peer's close_notify
 * reaches the protocol as eof_received (return nonzero to keep writing, as over
 * TCP); shutdown_write sends our close_notify and half-closes the socket.
 * A handshake unfinished after TWC_TLS_HANDSHAKE_TIMEOUT_MS (30 s) fails with
 * TWC_ETIMEDOUT.
 *
 * Flow control is TCP's: twc_transport_buffered counts plaintext waiting for the
 * handshake plus the inner transport's queue, pause_producing/write_drained
 * fire at the usual water marks, and pause/resume_reading pass through.
 *
 * Contexts and connections belong to one reactor thread (reference counts are
 * not atomic); separate worker processes each build their own.
 *
 * Errors: TWC_ETLS_CONFIG (message names the file) for contexts;
 * TWC_ETLS_HANDSHAKE, TWC_ETLS_VERIFY (names the host and OpenSSL's reason, e.g.
 * "certificate has expired", "hostname mismatch") for handshakes.
 */
#ifndef TWC_LIB_TLS_H
#define TWC_LIB_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "protocol.h"

typedef struct twc_tls_ctx twc_tls_ctx;
typedef struct twc_tls_factory twc_tls_factory;

/* Protocol versions for the *_version options (0: the default). */
enum {
    TWC_TLS_1_2 = 0x0303,
    TWC_TLS_1_3 = 0x0304,
};

struct twc_tls_server_opts {
    /* Field names follow the endpoint options of shared/CLI.md:
     * privateKey, certKey, extraCertChain, sniCerts. */
    /* PEM file with the private key. Required unless sni_dir holds certificates
     * and no default is wanted (then a client without a matching SNI name fails
     * the handshake). */
    const char *private_key;
    /* PEM file with the certificate (and possibly its chain); NULL: private_key,
     * a PEM holding both. */
    const char *cert_key;
    /* PEM file of intermediate certificates sent after the leaf; may be NULL. */
    const char *extra_cert_chain;
    /* Folder of HOSTNAME.pem files (certificate + key each), chosen by the SNI
     * name the client sends (case-insensitive, exact match); may be NULL. */
    const char *sni_dir;
    /* ALPN protocols the server accepts, comma-separated, in its order of
     * preference: "h2,http/1.1". NULL: "http/1.1"; "": no ALPN. A client
     * offering none of them is served without ALPN (RFC 7301 §3.2 allows
     * either; we stay lenient like nginx). */
    const char *alpn;
    /* TWC_TLS_1_2 or TWC_TLS_1_3; 0: TLS 1.2 minimum, no maximum. Values below
     * TLS 1.2 are refused with TWC_EINVAL. */
    int min_version;
    int max_version;
};

struct twc_tls_client_opts {
    /* PEM file of trusted CAs; NULL: the system store. */
    const char *ca_certs;
    /* ALPN protocols offered, comma-separated; NULL: "http/1.1"; "": none. */
    const char *alpn;
    /* Nonzero: do not verify the peer certificate or host name (`-k`). */
    int insecure;
    int min_version; /* as for the server */
    int max_version;
};

/* A server context. o is borrowed. Returns owned (twc_tls_ctx_free), or NULL
 * with *err: TWC_ETLS_CONFIG naming the file for a missing or unreadable file,
 * a file without a key or certificate, or a key that does not match its
 * certificate; TWC_EINVAL for bad options; TWC_ENOMEM. */
twc_tls_ctx *twc_tls_ctx_new_server(const struct twc_tls_server_opts *o, twc_err *err);

/* A client context (o borrowed; NULL: all defaults). Errors as for the server. */
twc_tls_ctx *twc_tls_ctx_new_client(const struct twc_tls_client_opts *o, twc_err *err);

/* Drop the caller's reference. Connections hold their own, so the context may be
 * freed while they run. NULL no-op. */
void twc_tls_ctx_free(twc_tls_ctx *ctx);

/* Wrap user (borrowed; keep it alive until the wrapper is freed and its
 * connections are gone) so that connections made by a listener or connector
 * using the returned factory speak TLS. ctx is borrowed (a reference is taken).
 * server_name (copied; may be NULL) is, for a client wrapper, the name sent in
 * SNI and checked against the certificate (a literal IP address is checked
 * against the IP SANs and not sent); NULL verifies the chain only. A handshake
 * not finished within TWC_TLS_HANDSHAKE_TIMEOUT_MS (30 s) fails with
 * TWC_ETIMEDOUT. Pass the wrapper's factory
 * (twc_tls_factory_base) to twc_tcp_listen or twc_connector_new. Returns
 * owned, or NULL with *err (TWC_ENOMEM). */
twc_tls_factory *twc_tls_factory_new(twc_tls_ctx *ctx, twc_factory *user, int server_side,
                                     const char *server_name, twc_err *err);
/* The factory to hand to listeners and connectors (borrowed from tf). */
twc_factory *twc_tls_factory_base(twc_tls_factory *tf);
/* Free the wrapper (after its listeners/connectors). Connections already made
 * live on. NULL no-op. */
void twc_tls_factory_free(twc_tls_factory *tf);

/* STARTTLS: insert TLS between upper (borrowed; attached to an established
 * transport) and its transport. pending (borrowed, copied) are bytes upper
 * already received after its STARTTLS exchange, such as a pipelined
 * ClientHello: they are fed to TLS first. server_name (client side) as for the
 * factory. Call it from inside upper's data_received or any time after; no
 * callback of upper runs inside this call. Returns 0, or a negative code with
 * *err (TWC_ECLOSED if upper has no transport, TWC_ENOMEM); on failure nothing
 * changed. */
int twc_tls_start(twc_protocol *upper, twc_tls_ctx *ctx, int server_side, const char *server_name,
                  const uint8_t *pending, size_t pending_len, twc_err *err);

/* ---- Accessors (t is the transport a protocol got; NULL or 0 when t is not a
 * TLS transport or the handshake has not finished). Strings are borrowed from
 * the connection until its connection_lost. */

/* Nonzero if t is a TLS transport. */
int twc_tls_is_tls(const twc_transport *t);
/* The ALPN protocol agreed on ("http/1.1"), or NULL. */
const char *twc_tls_alpn(const twc_transport *t);
/* "TLSv1.3", "TLSv1.2", or NULL. */
const char *twc_tls_version(const twc_transport *t);
/* The SNI name: the one the client sent (server side) or sends (client side). */
const char *twc_tls_server_name(const twc_transport *t);
/* The peer certificate's subject, one line ("CN=localhost"), or NULL when the
 * peer sent none. */
const char *twc_tls_peer_subject(const twc_transport *t);
/* 1 if the session was resumed. */
int twc_tls_session_reused(const twc_transport *t);

#endif
