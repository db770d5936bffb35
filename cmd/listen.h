/*
 * Listening services (Twisted's strports.service): one service owns the
 * listeners of a group of endpoints and the factory or datagram protocol
 * that serves them.
 *
 * Binding happens in the service's bind hook (before privileges are dropped)
 * and leaves the listeners paused; start resumes them, so a --workers
 * supervisor can hold the ports without accepting. Every bound listener is
 * logged as a `listening` event (not in a worker) and recorded in the
 * server's port plan (server.h).
 */
#ifndef TWC_CMD_LISTEN_H
#define TWC_CMD_LISTEN_H

#include "cmd/endpoint.h"
#include "cmd/server.h"
#include "lib/protocol.h"
#include "lib/udp.h"

/* A UDP port's protocol as the listen service makes it: dgram ops, plus the
 * caller's arg (twc_listen_dgram_arg). */
struct twc_listen_dgram {
    twc_datagram_protocol base; /* first */
    void *arg;
};

/* A service named name (unique among its siblings) binding eps[0..n) (copied)
 * for system (the log system). Stream endpoints (tcp, unix) get protocols from
 * factory (borrowed), datagram endpoints (udp) deliver to dgram_ops with
 * dgram_arg (borrowed). same_port: the endpoints share the port the first one
 * gets (UDP first, then TCP on its port: shared/CLI.md), retrying when the
 * kernel's pick for port 0 is taken for a later one. Returns owned (a
 * twc_service), or NULL with *err. */
twc_service *twc_listen_service_new(struct twc_server *srv, const char *name, const char *system,
                                    const struct twc_endpoint *eps, size_t n, int same_port,
                                    twc_factory *factory, const struct twc_datagram_ops *dgram_ops,
                                    void *dgram_arg, twc_err *err);

/* The dgram_arg given for the service of p. */
void *twc_listen_dgram_arg(const twc_datagram_protocol *p);

#endif
