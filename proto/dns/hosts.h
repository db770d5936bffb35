/*
 * hosts(5) files as DNS data: each "ADDRESS NAME [ALIAS...]" line gives A or
 * AAAA records for every name, and a PTR record for the reverse name of the
 * address (in-addr.arpa, RFC 1035 §3.5; ip6.arpa, RFC 3596 §2.5) pointing at
 * the line's first (canonical) name.
 *
 * Pure: no sockets, no reactor, no logging.
 */
#ifndef TWC_PROTO_DNS_HOSTS_H
#define TWC_PROTO_DNS_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "proto/dns/zone.h"

/* Records from a hosts file get TWC_DNS_HOSTS_TTL (lib/limits.h). */

/* Parse hosts text data[0..len) (borrowed) and append its records to z.
 * Comments run from '#' to the end of the line; blank lines are skipped;
 * names are taken as absolute (a trailing dot is optional); an IPv6 address
 * may carry a "%zone" suffix, which is ignored. A line with an address and no
 * name is ignored, as the C library does. Errors: TWC_EINVAL (bad address or
 * name), TWC_ETOOBIG (a limit of z), with err->msg "FNAME:LINE: what is wrong".
 * Records read before the error stay in z. */
int twc_dns_hosts_parse(twc_dns_zone *z, const char *fname, const char *data, size_t len,
                        uint32_t ttl, twc_err *err);
/* The same over the file at path (read whole with open/read). */
int twc_dns_hosts_load(twc_dns_zone *z, const char *path, uint32_t ttl, twc_err *err);

/* The reverse name of an address (4 or 16 bytes): "4.3.2.1.in-addr.arpa." or
 * the 32 nibbles of ip6.arpa. Returns 0 or TWC_EINVAL for another length. */
int twc_dns_reverse_name(twc_dns_name *out, const uint8_t *addr, size_t len);
/* The same for an address in text form, addr[0..len) (borrowed): dotted-quad
 * IPv4 or IPv6 (a "%zone" suffix is ignored), as `dig -x`. Returns 0 or
 * TWC_EINVAL when it is not an address. */
int twc_dns_reverse_name_text(twc_dns_name *out, const char *addr, size_t len);

#endif
