/*
 * Connecting by host name (Twisted's HostnameEndpoint): resolve through the
 * c-ares resolver, then race connection attempts in the Happy Eyeballs manner
 * (RFC 8305): addresses interleaved by family, a new attempt every
 * TWC_HAPPY_EYEBALLS_DELAY_MS or as soon as the previous one fails, the first
 * to connect wins and the others are closed.
 */
#ifndef TWC_LIB_CONNECT_H
#define TWC_LIB_CONNECT_H

#include <stdint.h>

#include "deferred.h"
#include "protocol.h"
#include "reactor.h"
#include "resolver.h"

/* Connect to host:port and build the protocol with f (borrowed until the
 * connection ends; f hears client_connection_lost then). Returns the consumer's
 * reference to a deferred that fires, after connection_made, with the
 * twc_protocol (borrowed: it belongs to its transport), or fails with the
 * resolver's error, the last connect error (e.g. -ECONNREFUSED), TWC_ETIMEDOUT
 * after timeout_ms (0: TWC_CONNECT_TIMEOUT_MS) for the whole operation, or
 * TWC_EPROTO when f refused to build a protocol. Cancelling stops the lookup or
 * closes every attempt. host and res are borrowed for the call / until the
 * deferred fires. */
twc_deferred *twc_connect_host(twc_reactor *r, twc_resolver *res, const char *host, uint16_t port,
                               unsigned timeout_ms, twc_factory *f);

#endif
