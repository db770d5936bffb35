/*
 * Internals shared by lib/tls_ctx.c (contexts: certificates, SNI, ALPN,
 * session caches) and lib/tls.c (the filter transport), and reachable from
 * tests. Not a public header: it exposes OpenSSL types.
 */
#ifndef TWC_LIB_TLS_INT_H
#define TWC_LIB_TLS_INT_H

#include <openssl/ssl.h>

#include "tls.h"

/* Client sessions kept for resumption, one per server name (oldest replaced). */
#define TWC__TLS_CLIENT_SESSIONS 16

struct twc__tls_sni {
    char *name;   /* lower case host name, from HOSTNAME.pem */
    SSL_CTX *ssl; /* its certificate and key, configured like the default */
};

struct twc__tls_session {
    char *name;        /* server name ("" when none was given) */
    SSL_SESSION *sess; /* owned reference */
};

struct twc_tls_ctx {
    unsigned refs;
    int server;
    int insecure;
    SSL_CTX *ssl; /* default context (server: default certificate, may have none) */
    struct twc__tls_sni *sni;
    size_t nsni;
    unsigned char *alpn; /* wire format: length-prefixed names; NULL: no ALPN */
    unsigned alpn_len;
    struct twc__tls_session sessions[TWC__TLS_CLIENT_SESSIONS];
    size_t next_session; /* slot replaced next when all are used */
};

/* Take a reference (connections hold one each). */
void twc__tls_ctx_ref(twc_tls_ctx *ctx);

/* The default SSL_CTX, borrowed (tests adjust it: e.g. a TLS 1.1 client). */
SSL_CTX *twc__tls_ctx_ssl(twc_tls_ctx *ctx);

/* A new SSL for one connection: server or client state per the context; for a
 * client, server_name (borrowed, may be NULL) is sent as SNI (unless an IP
 * literal, RFC 6066 §3) and checked against the certificate, and a saved session
 * for that name is offered. app (borrowed) is stored with SSL_set_app_data.
 * Returns owned, or NULL with *err. */
SSL *twc__tls_ctx_new_ssl(twc_tls_ctx *ctx, const char *server_name, void *app, twc_err *err);

/* Client side: remember ssl's session (if resumable) for server_name (borrowed,
 * may be NULL), to offer it on the next connection to that name. No-op for
 * servers, whose sessions live in OpenSSL's cache and tickets. */
void twc__tls_ctx_save_session(twc_tls_ctx *ctx, const char *server_name, SSL *ssl);

/* Format OpenSSL's most recent error reason (clearing the queue) into buf;
 * "unknown error" when the queue is empty. Returns buf. */
const char *twc__tls_reason(char *buf, size_t len);

#endif
