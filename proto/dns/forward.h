/*
 * Forwarding DNS queries to upstream nameservers (`twc dns -r`, `twc client
 * dns`), with our own codec and UDP/TCP transports (not c-ares).
 *
 * Spoofing defences (RFC 5452): each query gets a random ID from a
 * per-forwarder generator fed by getrandom(2), and goes out from a fresh UDP
 * socket bound to port 0 (a kernel-chosen random ephemeral port) and
 * connected to the server. A reply is taken only when its ID, its question
 * (name case-insensitively, type, class) and its source address all match;
 * anything else is ignored and the query keeps waiting.
 *
 * Retries follow resolv.conf(5): `attempts` rounds over the nameservers, each
 * try waiting `timeout` seconds; `rotate` starts each query at the next
 * server. A refused port (ICMP), a malformed reply, or SERVFAIL/REFUSED/NOTIMP
 * from one server while others remain moves on to the next try at once. A
 * reply with TC set is asked again over TCP from the same server (RFC 1035
 * §4.2.1, RFC 7766 §5), with the 2-byte length framing of RFC 1035 §4.2.2.
 * A FORMERR or NOTIMP without OPT to a query with OPT means the server does
 * not implement EDNS (RFC 6891 §7): the same server is asked once more
 * without OPT, and the query goes without OPT from then on. Nothing about the
 * server is remembered across queries.
 *
 * The number of queries in flight is bounded (TWC_DNS_FORWARD_INFLIGHT).
 */
#ifndef TWC_PROTO_DNS_FORWARD_H
#define TWC_PROTO_DNS_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "deferred.h"
#include "err.h"
#include "proto/dns/dns.h"
#include "reactor.h"
#include "resolvconf.h"

typedef struct twc_dns_forwarder twc_dns_forwarder;

struct twc_dns_forward_opts {
    size_t max_inflight; /* 0: TWC_DNS_FORWARD_INFLIGHT */
    unsigned timeout_ms; /* per try; 0: resolv.conf's timeout */
    unsigned attempts;   /* rounds over the servers; 0: resolv.conf's attempts */
    int tcp;             /* nonzero: every try over TCP (dig +tcp) */
};

/* What a forwarded query resolves with. */
typedef struct twc_dns_forward_reply {
    uint8_t *data; /* the whole response message, as the server sent it (owned) */
    size_t len;
    twc_addr server; /* who answered */
    int tcp;         /* nonzero when the answer came over TCP */
} twc_dns_forward_reply;

/* Free a reply (a twc_free_fn for the deferred's value). NULL is a no-op. */
void twc_dns_forward_reply_free(void *reply);

/* A forwarder for the nameservers of rc (copied; at least one). opts may be
 * NULL. Returns owned (twc_dns_forwarder_free), or NULL with *err: TWC_EINVAL
 * (no nameserver), -errno when getrandom(2) fails, TWC_ENOMEM. */
twc_dns_forwarder *twc_dns_forwarder_new(twc_reactor *r, const struct twc_resolv_conf *rc,
                                         const struct twc_dns_forward_opts *opts, twc_err *err);
/* Queries still in flight fail with TWC_ECANCELED (their chains run from inside
 * this call), then the forwarder is freed. NULL is a no-op. */
void twc_dns_forwarder_free(twc_dns_forwarder *f);

/* Ask the question q (borrowed). flags: only RD and CD are copied into our
 * query. edns nonzero adds an OPT record (RFC 6891) advertising
 * TWC_DNS_EDNS_MAX bytes with edns_flags (DO, 0x8000, is the one defined);
 * the reply may then lack OPT, when the server did not implement EDNS (above).
 *
 * Returns the consumer's reference to a deferred that fires exactly once:
 *   - with a twc_dns_forward_reply (value_free twc_dns_forward_reply_free) for
 *     the first matching reply with a usable rcode; when every try failed but
 *     some server answered (SERVFAIL..., or TC and TCP failed), with the last
 *     such answer;
 *   - failed with TWC_EDNS_TIMEOUT when no server answered in time,
 *     TWC_ETOOBIG when max_inflight queries are already waiting (already
 *     fired), TWC_ECANCELED when cancelled or the forwarder is freed.
 * Cancelling stops the query at once. Never fires from inside this call except
 * in the TWC_ETOOBIG / TWC_ENOMEM cases (an already-fired deferred). */
twc_deferred *twc_dns_forward_query(twc_dns_forwarder *f, const twc_dns_question *q, uint16_t flags,
                                    int edns, uint16_t edns_flags);

/* Forward a client's query as the server parsed it (twc_dns_query_parse): its
 * question, RD and CD bits, and EDNS presence and DO bit. */
twc_deferred *twc_dns_forward(twc_dns_forwarder *f, const twc_dns_query *cq);

/* Queries waiting for an answer. */
size_t twc_dns_forwarder_inflight(const twc_dns_forwarder *f);

/* The next query ID from f's generator (uniform over 0..65535). For tests and
 * for callers that build their own queries (zone transfers). */
uint16_t twc_dns_forwarder_random_id(twc_dns_forwarder *f);

/* Check that msg (a response, borrowed) answers the question: QR set, opcode
 * QUERY, the same id, exactly one question equal to q (name without regard to
 * ASCII case, RFC 4343; type; class). Returns 1 when it matches, else 0. */
int twc_dns_reply_matches(const uint8_t *msg, size_t len, uint16_t id, const twc_dns_question *q);

#endif
