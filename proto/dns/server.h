/*
 * The DNS server's protocol glue (twisted.names.server.DNSServerFactory and
 * DNSDatagramProtocol in C): queries over UDP (RFC 1035 §4.2.1) and TCP (RFC
 * 1035 §4.2.2, RFC 7766), answered from an authority (proto/dns/authority.h),
 * zone transfers over TCP (RFC 5936), and an optional forwarder for names the
 * authority does not hold.
 *
 * UDP is the hot path: a query is parsed without allocating
 * (twc_dns_query_parse), answered into a buffer the server owns, and sent with
 * one sendto; nothing is allocated per query unless it is forwarded.
 *
 * TCP connections read length-prefixed messages, answer them in the order
 * they came, close after TWC_DNS_TCP_IDLE_MS without a query, and stop reading
 * while their output is above the transport's high-water mark or a forwarded
 * answer or a zone transfer is in progress (bounded memory per connection).
 *
 * The authority can be replaced at any time (SIGHUP reload): queries from then
 * on use the new one; a transfer in progress finishes from the data it started
 * with (authorities are reference-counted here).
 */
#ifndef TWC_PROTO_DNS_SERVER_H
#define TWC_PROTO_DNS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"
#include "proto/dns/authority.h"
#include "proto/dns/cache.h"
#include "proto/dns/forward.h"
#include "reactor.h"

typedef struct twc_dns_server twc_dns_server;

/* What to answer for a name the authority does not hold when no forwarder is set
 * (shared/CLI.md): NXDOMAIN when hosts-file or --record data is served (as
 * dnsmasq and twistd do), REFUSED when only zone files are (as NSD does). */
enum twc_dns_miss {
    TWC_DNS_MISS_REFUSED,
    TWC_DNS_MISS_NXDOMAIN
};

/* A server with no listeners and an empty authority. Returns owned
 * (twc_dns_server_free), or NULL with *err (TWC_ENOMEM). */
twc_dns_server *twc_dns_server_new(twc_reactor *r, twc_err *err);

/* Serve a (takes it: finished with twc_dns_auth_finish). The previous authority
 * is released once no transfer uses it. miss says what a name outside a is
 * answered when no forwarder is set. */
void twc_dns_server_set_authority(twc_dns_server *s, twc_dns_auth *a, enum twc_dns_miss miss);

/* Forward what the authority does not hold to f (-r), answering from cache
 * first and storing answers there when cache is not NULL (-c). Both borrowed:
 * keep them alive until twc_dns_server_free (free the server first, which
 * cancels its queries still in flight). f NULL: stop forwarding. Responses then
 * carry RA (RFC 1035 §4.1.1). */
void twc_dns_server_set_forwarder(twc_dns_server *s, twc_dns_forwarder *f, twc_dns_cache *cache);

/* Log every query (qname, type, client, rcode) at info level under system. */
void twc_dns_server_set_verbose(twc_dns_server *s, int verbose);

/* Listen for queries on UDP or TCP at interface (numeric, NULL: all) and port
 * (0: the kernel picks), with SO_REUSEPORT when reuseport is set (workers
 * sharing one port). *bound (may be NULL) receives the bound address.
 * Returns 0, or a negative code with *err (-EADDRINUSE, -EACCES, -EADDRNOTAVAIL,
 * TWC_ENOMEM). */
int twc_dns_server_listen_udp(twc_dns_server *s, const char *interface, uint16_t port,
                              int reuseport, twc_addr *bound, twc_err *err);
int twc_dns_server_listen_tcp(twc_dns_server *s, const char *interface, uint16_t port,
                              int reuseport, twc_addr *bound, twc_err *err);
/* Hold the ports without serving (a --workers supervisor) / serve again. New
 * listeners start serving. */
void twc_dns_server_pause_listening(twc_dns_server *s);
void twc_dns_server_resume_listening(twc_dns_server *s);
/* Close the most recently added UDP listener (a `-p 0` retry whose port TCP
 * could not get). */
void twc_dns_server_drop_last_udp(twc_dns_server *s);

/* Graceful stop (shared/CLI.md SIGTERM): close every listener, close idle TCP
 * connections now and busy ones once their answer is written. done(arg) runs
 * once, from the loop, when no connection is left (borrowed until then). */
void twc_dns_server_shutdown(twc_dns_server *s, void (*done)(void *arg), void *arg);
/* Abort every TCP connection still open (the shutdown grace ran out). */
void twc_dns_server_abort_connections(twc_dns_server *s);
size_t twc_dns_server_connection_count(const twc_dns_server *s);

/* Queries answered (every transport) and dropped (unreadable), for logs. */
uint64_t twc_dns_server_queries(const twc_dns_server *s);

/* Close listeners and connections at once and free. Forwarded queries still
 * pending are cancelled. NULL is a no-op. */
void twc_dns_server_free(twc_dns_server *s);

#endif
