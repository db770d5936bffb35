/*
 * resolv.conf(5) parsing, shared by the host-name resolver (c-ares glue) and
 * the DNS server's forwarder.
 *
 * As a twc extension (shared/CLI.md), a nameserver may carry a port:
 * "nameserver 127.0.0.1:5354", "nameserver [::1]:5354". Unknown keywords are
 * ignored, as the C library does; malformed nameserver lines are errors that
 * name the line.
 */
#ifndef TWC_LIB_RESOLVCONF_H
#define TWC_LIB_RESOLVCONF_H

#include <stddef.h>

#include "addr.h"
#include "err.h"

#define TWC_RESOLV_MAX_SERVERS 8   /* nameservers kept (glibc keeps 3; we allow more) */
#define TWC_RESOLV_MAX_SEARCH 6    /* search domains kept, as glibc */
#define TWC_RESOLV_NAME_MAX 256    /* longest search domain */

struct twc_resolv_conf {
    twc_addr servers[TWC_RESOLV_MAX_SERVERS]; /* port 53 unless one was given */
    size_t nservers;
    char search[TWC_RESOLV_MAX_SEARCH][TWC_RESOLV_NAME_MAX];
    size_t nsearch;
    unsigned ndots;      /* options ndots:N (default 1, max 15) */
    unsigned timeout_s;  /* options timeout:N (default 5, max 30) */
    unsigned attempts;   /* options attempts:N (default 2, max 5) */
    int rotate;          /* options rotate */
};

/* Defaults: no servers, ndots 1, timeout 5, attempts 2. */
void twc_resolv_conf_init(struct twc_resolv_conf *rc);

/* Parse text of len bytes. On error returns TWC_EINVAL with *err naming the line
 * ("line 3: bad nameserver address 'x'") and *line set when not NULL. */
int twc_resolv_conf_parse(struct twc_resolv_conf *rc, const char *text, size_t len, size_t *line,
                          twc_err *err);

/* Read and parse a file (startup or reload only: this blocks on disk). Errors name
 * the path: -errno when unreadable, TWC_EINVAL when malformed. */
int twc_resolv_conf_load(struct twc_resolv_conf *rc, const char *path, twc_err *err);

#endif
