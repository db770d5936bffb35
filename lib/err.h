/*
 * Errors: one small value type that every fallible call fills in.
 *
 * Functions that can fail return 0 or a negative TWC_E* code and, when the
 * caller passes a non-NULL twc_err, fill it with the code, the errno behind
 * it (if any) and a one-line message (lower case, no trailing period).
 *
 * Code ranges name the domain (twc_err_domain):
 *   -1    .. -999   system: the negated errno (-ENOENT, -EADDRINUSE, ...)
 *   -1000 .. -1099  generic twc conditions (TWC_EPROTO, TWC_ETOOBIG, ...)
 *   -1100 .. -1199  TLS
 *   -1200 .. -1299  DNS
 */
#ifndef TWC_LIB_ERR_H
#define TWC_LIB_ERR_H

#include <stdarg.h>

#define TWC_ERR_MSG_MAX 160

typedef struct twc_err {
    int code;      /* 0 == ok, else a negative TWC_E* or -errno */
    int sys_errno; /* errno behind the failure, 0 if none */
    char msg[TWC_ERR_MSG_MAX];
} twc_err;

enum {
    TWC_EPROTO = -1000,    /* peer violated the protocol */
    TWC_ETOOBIG = -1001,   /* a length or count limit was exceeded */
    TWC_ETIMEDOUT = -1002, /* a twc timer expired (not ETIMEDOUT from the kernel) */
    TWC_ECANCELED = -1003, /* the operation was cancelled or the reactor stopped */
    TWC_EINVAL = -1004,    /* bad argument or malformed configuration string */
    TWC_ECLOSED = -1005,   /* connection closed (cleanly) by the peer or by us */
    TWC_ENOMEM = -1006,    /* allocation failed */
    TWC_EINTERNAL = -1007, /* broken invariant (a bug) */
    TWC_EOF = -1008,       /* input ended before a complete unit */
    TWC_ETLS = -1100,      /* TLS failure; more specific TLS codes follow it */
    TWC_ETLS_HANDSHAKE = -1101, /* the TLS handshake failed (alert, no shared version) */
    TWC_ETLS_VERIFY = -1102,    /* the peer certificate failed verification */
    TWC_ETLS_PROTOCOL = -1103,  /* bad TLS record or alert after the handshake */
    TWC_ETLS_TRUNCATED = -1104, /* the peer closed without a TLS close_notify */
    TWC_ETLS_CONFIG = -1105,    /* bad certificate/key file or TLS configuration */
    TWC_EDNS = -1200,      /* DNS failure; more specific DNS codes follow it */
    TWC_EDNS_NOTFOUND = -1201, /* no such name, or no address of the asked family */
    TWC_EDNS_TIMEOUT = -1202,  /* no nameserver answered in time */
    TWC_EDNS_SERVFAIL = -1203, /* the nameserver failed or refused */
    TWC_EDNS_BADNAME = -1204,  /* malformed host name */
};

typedef enum twc_err_domain {
    TWC_DOMAIN_OK,
    TWC_DOMAIN_SYSTEM,
    TWC_DOMAIN_GENERIC, /* protocol, limits, timeout, cancel, ... */
    TWC_DOMAIN_TLS,
    TWC_DOMAIN_DNS,
} twc_err_domain;

/* Fill *err (when not NULL) with code and a printf-formatted message; returns code. */
int twc_err_set(twc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int twc_err_setv(twc_err *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like twc_err_set with code -sys_errno; appends ": strerror(sys_errno)" to the message. */
int twc_err_sys(twc_err *err, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset to "ok". */
void twc_err_clear(twc_err *err);

/* Static descriptions of a code: "connection refused", "limit exceeded". Never NULL. */
const char *twc_strerror(int code);
/* Static symbolic names: "ECONNREFUSED", "TWC_ETOOBIG". Never NULL. */
const char *twc_err_name(int code);
twc_err_domain twc_err_domain_of(int code);

#endif
