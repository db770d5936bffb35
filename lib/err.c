/*
 * Error values: filling twc_err and static descriptions of every code.
 */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int twc_err_setv(twc_err *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->sys_errno = code > -1000 && code < 0 ? -code : 0;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int twc_err_set(twc_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    twc_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int twc_err_sys(twc_err *err, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (sys_errno <= 0)
        sys_errno = EIO;
    if (err == NULL)
        return -sys_errno;
    va_start(ap, fmt);
    twc_err_setv(err, -sys_errno, fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    if (n < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(sys_errno));
    err->sys_errno = sys_errno;
    return -sys_errno;
}

void twc_err_clear(twc_err *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}

struct code_desc {
    int code;
    const char *name;
    const char *desc;
};

static const struct code_desc twc_codes[] = {
    {0, "OK", "success"},
    {TWC_EPROTO, "TWC_EPROTO", "protocol error"},
    {TWC_ETOOBIG, "TWC_ETOOBIG", "limit exceeded"},
    {TWC_ETIMEDOUT, "TWC_ETIMEDOUT", "timed out"},
    {TWC_ECANCELED, "TWC_ECANCELED", "cancelled"},
    {TWC_EINVAL, "TWC_EINVAL", "invalid argument"},
    {TWC_ECLOSED, "TWC_ECLOSED", "connection closed"},
    {TWC_ENOMEM, "TWC_ENOMEM", "out of memory"},
    {TWC_EINTERNAL, "TWC_EINTERNAL", "internal error"},
    {TWC_EOF, "TWC_EOF", "unexpected end of input"},
    {TWC_ETLS, "TWC_ETLS", "tls error"},
    {TWC_ETLS_HANDSHAKE, "TWC_ETLS_HANDSHAKE", "tls handshake failed"},
    {TWC_ETLS_VERIFY, "TWC_ETLS_VERIFY", "tls certificate verification failed"},
    {TWC_ETLS_PROTOCOL, "TWC_ETLS_PROTOCOL", "tls protocol error"},
    {TWC_ETLS_TRUNCATED, "TWC_ETLS_TRUNCATED", "tls connection truncated"},
    {TWC_ETLS_CONFIG, "TWC_ETLS_CONFIG", "tls configuration error"},
    {TWC_EDNS, "TWC_EDNS", "dns error"},
    {TWC_EDNS_NOTFOUND, "TWC_EDNS_NOTFOUND", "host not found"},
    {TWC_EDNS_TIMEOUT, "TWC_EDNS_TIMEOUT", "dns timeout"},
    {TWC_EDNS_SERVFAIL, "TWC_EDNS_SERVFAIL", "dns server failure"},
    {TWC_EDNS_BADNAME, "TWC_EDNS_BADNAME", "bad host name"},
};

/* The errno names twc code paths actually produce; others print as "E<n>". */
static const struct code_desc sys_names[] = {
    {EPERM, "EPERM", NULL},           {ENOENT, "ENOENT", NULL},
    {EINTR, "EINTR", NULL},           {EIO, "EIO", NULL},
    {EBADF, "EBADF", NULL},           {EAGAIN, "EAGAIN", NULL},
    {ENOMEM, "ENOMEM", NULL},         {EACCES, "EACCES", NULL},
    {EEXIST, "EEXIST", NULL},         {ENOTDIR, "ENOTDIR", NULL},
    {EISDIR, "EISDIR", NULL},         {EINVAL, "EINVAL", NULL},
    {ENFILE, "ENFILE", NULL},         {EMFILE, "EMFILE", NULL},
    {ENOSPC, "ENOSPC", NULL},         {EPIPE, "EPIPE", NULL},
    {EADDRINUSE, "EADDRINUSE", NULL}, {EADDRNOTAVAIL, "EADDRNOTAVAIL", NULL},
    {ENETUNREACH, "ENETUNREACH", NULL}, {ECONNRESET, "ECONNRESET", NULL},
    {ECONNABORTED, "ECONNABORTED", NULL}, {ETIMEDOUT, "ETIMEDOUT", NULL},
    {ECONNREFUSED, "ECONNREFUSED", NULL}, {EHOSTUNREACH, "EHOSTUNREACH", NULL},
    {EINPROGRESS, "EINPROGRESS", NULL}, {ENOTCONN, "ENOTCONN", NULL},
    {EAFNOSUPPORT, "EAFNOSUPPORT", NULL}, {ENOTSOCK, "ENOTSOCK", NULL},
};

static const struct code_desc *find_twc(int code)
{
    size_t i;

    for (i = 0; i < sizeof(twc_codes) / sizeof(twc_codes[0]); i++)
        if (twc_codes[i].code == code)
            return &twc_codes[i];
    return NULL;
}

const char *twc_strerror(int code)
{
    const struct code_desc *d;

    if (code < 0 && code > -1000)
        return strerror(-code);
    d = find_twc(code);
    if (d != NULL)
        return d->desc;
    switch (twc_err_domain_of(code)) {
    case TWC_DOMAIN_TLS:
        return "tls error";
    case TWC_DOMAIN_DNS:
        return "dns error";
    default:
        return "unknown error";
    }
}

const char *twc_err_name(int code)
{
    const struct code_desc *d;
    size_t i;

    if (code < 0 && code > -1000) {
        for (i = 0; i < sizeof(sys_names) / sizeof(sys_names[0]); i++)
            if (sys_names[i].code == -code)
                return sys_names[i].name;
        return "ESYSTEM";
    }
    d = find_twc(code);
    if (d != NULL)
        return d->name;
    return "TWC_EUNKNOWN";
}

twc_err_domain twc_err_domain_of(int code)
{
    if (code == 0)
        return TWC_DOMAIN_OK;
    if (code < 0 && code > -1000)
        return TWC_DOMAIN_SYSTEM;
    if (code <= -1100 && code > -1200)
        return TWC_DOMAIN_TLS;
    if (code <= -1200 && code > -1300)
        return TWC_DOMAIN_DNS;
    return TWC_DOMAIN_GENERIC;
}
