/*
 * The answer cache of `twc dns -c` (RFC 1034 §4.3.4, RFC 2181 §8, RFC 2308).
 *
 * Whole response messages are cached, keyed by the question: the name
 * lowercased (RFC 4343), type and class, and by the query's DO and CD bits
 * (twc_dns_cache_variant), since those change what upstream answers. A positive answer lives for the
 * smallest TTL among its records; a negative one (NXDOMAIN, or NOERROR with
 * no answer: NODATA) for min(SOA TTL, SOA MINIMUM) of the SOA in its
 * authority section (RFC 2308 §5), and is not cached without one. TTLs count
 * down: an answer served N seconds after it was stored has every TTL lowered
 * by N (twc_dns_response_adapt). Truncated answers, other rcodes and TTL 0
 * are not cached.
 *
 * Bounded: at most max_entries answers and max_bytes message bytes; the least
 * recently used answer is evicted first. Time comes from the reactor's clock
 * (twc_reactor_now), so a fake-clock reactor drives expiry in tests.
 */
#ifndef TWC_PROTO_DNS_CACHE_H
#define TWC_PROTO_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "proto/dns/dns.h"
#include "reactor.h"

typedef struct twc_dns_cache twc_dns_cache;

struct twc_dns_cache_limits {
    size_t max_entries;   /* 0: TWC_DNS_CACHE_ENTRIES */
    size_t max_bytes;     /* 0: TWC_DNS_CACHE_BYTES */
    uint32_t max_ttl;     /* seconds; 0: TWC_DNS_CACHE_TTL_MAX */
    uint32_t max_neg_ttl; /* seconds; 0: TWC_DNS_NEG_TTL_MAX */
};

/* An empty cache on r's clock (r borrowed: it must outlive the cache). lim may
 * be NULL. Returns owned (twc_dns_cache_free), or NULL when out of memory. */
twc_dns_cache *twc_dns_cache_new(twc_reactor *r, const struct twc_dns_cache_limits *lim);
void twc_dns_cache_free(twc_dns_cache *c);

/* Bits of a cache key beyond the question: answers to queries that differ in
 * them are different answers and are kept apart (as Unbound and dnsmasq do). */
enum {
    /* RFC 3225 §3: DNSSEC records (RRSIG, NSEC...) come only when DO is set, so
     * an answer fetched with DO must not go to a client without it, nor the
     * reverse. */
    TWC_DNS_CACHE_DO = 1,
    /* RFC 4035 §3.2.2, RFC 6840 §5.9: with CD a validating upstream hands out
     * data that failed validation; that must not reach a CD=0 client, and a
     * CD=0 SERVFAIL must not hide the data from a CD=1 one. */
    TWC_DNS_CACHE_CD = 2,
};

/* The variant (TWC_DNS_CACHE_* bits) that a client query cq (borrowed) asks
 * for: DO from its OPT record (none: DO clear), CD from its header. */
unsigned twc_dns_cache_variant(const twc_dns_query *cq);

/* Offer a response (msg borrowed; copied when kept) fetched for a query of
 * the given variant (twc_dns_cache_variant of the query that was forwarded).
 * The key is msg's question and variant. Returns 1 when stored (replacing an
 * older answer to the same key), 0 when it is not cacheable (see the top of
 * this file, or malformed), or TWC_ENOMEM. */
int twc_dns_cache_put(twc_dns_cache *c, unsigned variant, const uint8_t *msg, size_t len);

/* Look the question and variant up. On a hit, *msg and *len are the stored
 * response (borrowed until the next put or free) and *age its age in whole
 * seconds; returns 1. Expired answers are dropped here; returns 0 on a miss. A
 * hit makes the answer the most recently used. */
int twc_dns_cache_lookup(twc_dns_cache *c, const twc_dns_question *q, unsigned variant,
                         const uint8_t **msg, size_t *len, uint32_t *age);

/* A hit, ready for the client that sent cq: twc_dns_cache_lookup with cq's
 * question and variant, then twc_dns_response_adapt into out. Returns the
 * length written, 0 on a miss, or a negative code from adapt. */
int twc_dns_cache_answer(twc_dns_cache *c, const twc_dns_query *cq, size_t limit, uint8_t *out,
                         size_t cap);

/* Answers held, and their bytes. */
size_t twc_dns_cache_count(const twc_dns_cache *c);
size_t twc_dns_cache_bytes(const twc_dns_cache *c);

/* Turn a response from upstream or from the cache (msg, borrowed) into the
 * reply to the client whose query is cq, in out (cap bytes):
 *   - the client's ID, and its RD bit;
 *   - every TTL lowered by age seconds, never below 0 (RFC 1035 §7.3; the
 *     OPT pseudo-record's TTL field is not a TTL and is left alone);
 *   - EDNS matched to the client (RFC 6891 §7): an OPT record dropped when
 *     the client sent none (when it is the last record, as it always is from
 *     a conforming sender), one added (TWC_DNS_EDNS_MAX, the client's DO bit)
 *     when it sent one and msg has none, and an existing one advertising
 *     TWC_DNS_EDNS_MAX;
 *   - when the result exceeds limit (twc_dns_response_limit), cut to the
 *     header and question with TC set (RFC 2181 §9), so the client retries
 *     over TCP.
 * Returns the length written, TWC_EPROTO for a malformed msg, or TWC_ETOOBIG
 * when even the truncated form does not fit cap. */
int twc_dns_response_adapt(const uint8_t *msg, size_t len, const twc_dns_query *cq, uint32_t age,
                           size_t limit, uint8_t *out, size_t cap);

#endif
