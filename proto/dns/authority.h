/*
 * Authoritative data and answers (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC
 * 6891, RFC 8482): the zones a server serves (--bindzone, secondaries) and a
 * table of records that belong to no zone (--hosts-file, --record), indexed
 * for answering without allocation.
 *
 * Life cycle: twc_dns_auth_new, any number of add_zone/add_records, then
 * twc_dns_auth_finish builds the index; from then on the object is read only
 * (answer, axfr) and can be shared. A reload builds a new one and swaps it.
 *
 * Pure: no sockets, no reactor, no logging.
 */
#ifndef TWC_PROTO_DNS_AUTHORITY_H
#define TWC_PROTO_DNS_AUTHORITY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "proto/dns/dns.h"
#include "proto/dns/zone.h"

#define TWC_DNS_CNAME_HOPS     8  /* CNAMEs followed in one answer */
#define TWC_DNS_ADDITIONAL_MAX 32 /* MX/NS/SRV targets looked up for the additional section */

typedef struct twc_dns_auth twc_dns_auth;

enum twc_dns_auth_result {
    TWC_DNS_AUTH_ANSWERED,          /* a complete response is in the writer */
    TWC_DNS_AUTH_NOT_AUTHORITATIVE, /* qname is in no zone and has no table entry: the
                                     * writer is empty; the server forwards (-r), or
                                     * answers NXDOMAIN (hosts/--record loaded) or REFUSED
                                     * (zone files only) with twc_dns_reply_rcode */
    TWC_DNS_AUTH_DROP,              /* not even a header: send nothing (RFC 1035 §4.1.1) */
};

/* An empty authority. Returns owned (twc_dns_auth_free), NULL when out of memory. */
twc_dns_auth *twc_dns_auth_new(void);
void twc_dns_auth_free(twc_dns_auth *a);

/* Serve z as a zone. Takes z (freed with a, or at once on error). z must pass
 * twc_dns_zone_check (so a zone built from an AXFR holds the SOA once: drop
 * the closing copy); a second zone with the same origin is TWC_EINVAL. Data of
 * a zone whose names lie inside another served zone's apex (a child zone) is
 * answered from the child, as RFC 1034 §4.3.2 step 2 asks; AXFR of the parent
 * still sends its own records. */
int twc_dns_auth_add_zone(twc_dns_auth *a, twc_dns_zone *z, twc_err *err);
/* Records outside any zone file (hosts file, --record lines). Takes z. Records
 * under a served zone's apex join that zone's answers. "*" owners are
 * wildcards (RFC 4592) here too. */
int twc_dns_auth_add_records(twc_dns_auth *a, twc_dns_zone *z, twc_err *err);
/* Build the index. Must be called once, after the adds and before answering.
 * Returns 0, TWC_ENOMEM or TWC_ETOOBIG (more than 2^31 names). */
int twc_dns_auth_finish(twc_dns_auth *a, twc_err *err);

/* What was added: zones, and records outside zone files. */
size_t twc_dns_auth_zone_count(const twc_dns_auth *a);
size_t twc_dns_auth_record_count(const twc_dns_auth *a);

/* The response size limit for a query (RFC 1035 §4.2.1, RFC 6891 §6.2.5,
 * RFC 7766): 65535 over TCP; else the EDNS size the client advertised, at most
 * TWC_DNS_EDNS_MAX; else 512. */
size_t twc_dns_response_limit(const twc_dns_query *q, int tcp);

/* Answer a query. q (borrowed) and parse_rc come from twc_dns_query_parse; w
 * must be freshly initialized (twc_dns_writer_init, with the limit above).
 * Writes a whole response (finished: counts patched) and returns ANSWERED, or
 * returns NOT_AUTHORITATIVE / DROP with w empty. Never allocates.
 *
 *   - TWC_EOF: DROP. TWC_EPROTO (or qdcount != 1): FORMERR.
 *   - opcode other than QUERY: NOTIMP. Class other than IN: REFUSED.
 *   - EDNS version above 0: BADVERS (RFC 6891 §6.1.3). A query with OPT gets
 *     an OPT back (size TWC_DNS_EDNS_MAX, DO copied, RFC 3225 §3).
 *   - AXFR/IXFR here (not over TCP through twc_dns_auth_axfr_start): NOTIMP.
 *   - In a zone (AA): the RRset; CNAMEs followed inside the zone (at most
 *     TWC_DNS_CNAME_HOPS); wildcards at the closest encloser, not when the
 *     name is an empty non-terminal; NODATA and NXDOMAIN with the zone's SOA
 *     in authority, its TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 §3); at or
 *     below a delegation a referral (no AA, NS in authority, glue).
 *   - ANY (RFC 8482 §4.2): one RRset, the one with the lowest type code.
 *   - Table entries (AA): the RRset, or NODATA when the name has other types;
 *     a name with no entry (or only names below it) is NOT_AUTHORITATIVE.
 *   - A/AAAA of NS, MX and SRV targets we hold go in the additional section.
 *   - A response that does not fit the limit has TC set (the writer's rule).
 * RA is never set: a server offering recursion sets it in the buffer. */
enum twc_dns_auth_result twc_dns_auth_answer(const twc_dns_auth *a, const twc_dns_query *q,
                                             int parse_rc, twc_dns_writer *w);

/* A response with no records and the given rcode (FORMERR, NXDOMAIN, REFUSED,
 * SERVFAIL, BADVERS...): the query's id, opcode, RD and CD, its question when
 * it was parsed, and an OPT when the query had one. w as for answer. */
void twc_dns_reply_rcode(const twc_dns_query *q, unsigned rcode, twc_dns_writer *w);

/* ---- Zone transfer (RFC 5936) ------------------------------------------------ */

typedef struct twc_dns_axfr {
    const twc_dns_zone *z;
    size_t soa;  /* index of the SOA record */
    size_t next; /* 0: the opening SOA; 1..count: records; count + 1: closing SOA */
} twc_dns_axfr;

/* Start iterating the zone whose origin is zone (borrowed; case ignored).
 * Returns 0, or TWC_EDNS_NOTFOUND when no served zone has that origin (the
 * server answers NOTAUTH or REFUSED). it borrows from a. */
int twc_dns_auth_axfr_start(const twc_dns_auth *a, const twc_dns_name *zone, twc_dns_axfr *it);
/* The next record in AXFR order (RFC 5936 §2.2: the SOA first and last, the
 * other records once each in between). rr->rdata borrows from a. Returns 1
 * with a record, 0 at the end. */
int twc_dns_axfr_next(twc_dns_axfr *it, twc_dns_rr *rr);

#endif
