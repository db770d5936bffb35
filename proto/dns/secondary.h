/*
 * A secondary zone (`twc dns --secondary IP[:PORT]/DOMAIN`): the zone is
 * transferred from its primary with AXFR over TCP (RFC 5936) at start, then
 * again when the SOA REFRESH interval has passed, or RETRY after a failed
 * attempt (RFC 1035 §3.3.13, RFC 1034 §4.3.5). Until a new transfer succeeds
 * the last good copy is served; after EXPIRE seconds without a successful
 * transfer the copy is dropped (no longer authoritative, RFC 1035 §3.3.13).
 *
 * A transfer is checked before it replaces anything: every message carries
 * our query's ID and NOERROR, the first record is the zone's SOA, the
 * transfer ends with that SOA again (RFC 5936 §2.2), and the result passes
 * twc_dns_zone_check. With a copy in hand, a refresh first asks the SOA on
 * the same connection (RFC 1034 §4.3.5) and transfers only when the
 * primary's serial is newer in RFC 1982 arithmetic; a current serial counts
 * as a successful refresh (the EXPIRE clock restarts).
 *
 * The copy is a twc_dns_zone (proto/dns/zone.h): the opening SOA first, then
 * the records in the order the primary sent them. A server serves it by
 * adding twc_dns_secondary_zone_copy() to a new twc_dns_auth.
 */
#ifndef TWC_PROTO_DNS_SECONDARY_H
#define TWC_PROTO_DNS_SECONDARY_H

#include <stdint.h>

#include "addr.h"
#include "err.h"
#include "proto/dns/dns.h"
#include "proto/dns/zone.h"
#include "reactor.h"

typedef struct twc_dns_secondary twc_dns_secondary;

/* The copy changed: a new serial was installed, or the zone expired
 * (twc_dns_secondary_zone() is then NULL). Runs from the loop, never from
 * inside a twc_dns_secondary_* call. */
typedef void (*twc_dns_secondary_fn)(void *arg, twc_dns_secondary *s);

struct twc_dns_secondary_opts {
    unsigned xfr_timeout_ms; /* a whole transfer, connect included; 0: TWC_DNS_XFR_TIMEOUT_MS */
    uint32_t first_retry_s;  /* retry while no copy is held; 0: TWC_DNS_SECONDARY_RETRY_S */
    const struct twc_dns_zone_limits *zone_limits; /* borrowed during new(); NULL: defaults */
};

/* Parse "IP[:PORT]/DOMAIN" (IPv6 as "[::1]:5353/example.com" or "::1/example.com";
 * port 53 by default; DOMAIN absolute with or without the trailing dot).
 * Returns 0 or TWC_EINVAL with *err naming what is wrong. */
int twc_dns_secondary_parse(const char *spec, twc_addr *primary, twc_dns_name *zone, twc_err *err);

/* A secondary for zone (copied) from primary (copied). The first transfer
 * starts from the loop. on_change (may be NULL) borrows arg. opts may be NULL.
 * Returns owned (twc_dns_secondary_free), or NULL with *err (TWC_ENOMEM,
 * -errno when getrandom(2) fails). */
twc_dns_secondary *twc_dns_secondary_new(twc_reactor *r, const twc_addr *primary,
                                         const twc_dns_name *zone,
                                         const struct twc_dns_secondary_opts *opts,
                                         twc_dns_secondary_fn on_change, void *arg, twc_err *err);
/* Stop any transfer and timers and free the copy. NULL is a no-op. */
void twc_dns_secondary_free(twc_dns_secondary *s);

/* The current copy (borrowed: valid until the next on_change or free), or
 * NULL before the first successful transfer and after expiry. */
const twc_dns_zone *twc_dns_secondary_zone(const twc_dns_secondary *s);
/* A copy of the current copy, for twc_dns_auth_add_zone (which takes it).
 * Returns owned, or NULL with *err: TWC_EDNS_NOTFOUND when no copy is held,
 * TWC_ENOMEM. */
twc_dns_zone *twc_dns_secondary_zone_copy(const twc_dns_secondary *s, twc_err *err);
/* The held copy's SOA serial (0 when none). */
uint32_t twc_dns_secondary_serial(const twc_dns_secondary *s);
/* The zone's origin and the primary (borrowed). */
const twc_dns_name *twc_dns_secondary_origin(const twc_dns_secondary *s);
const twc_addr *twc_dns_secondary_primary(const twc_dns_secondary *s);

/* Transfers attempted, and of those, failed (for logs and tests). */
unsigned twc_dns_secondary_attempts(const twc_dns_secondary *s);
unsigned twc_dns_secondary_failures(const twc_dns_secondary *s);
/* When the next transfer starts (twc_reactor_now scale), 0 while one runs. */
uint64_t twc_dns_secondary_next_due(const twc_dns_secondary *s);

/* Transfer now (SIGHUP, a NOTIFY): starts from the loop unless one is
 * already running. */
void twc_dns_secondary_refresh(twc_dns_secondary *s);

#endif
