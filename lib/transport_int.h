/*
 * Internals shared by transport implementations (stream sockets, TLS, the
 * string transport in lib/testing). Not a public header.
 *
 * Every concrete transport embeds struct twc_transport first and fills in ops.
 * The public twc_transport_* functions in lib/protocol.c dispatch through ops;
 * twc_transport_write is writev with one buffer.
 *
 * Flow control is common: implementations call twc__transport_buffered_changed
 * after their output queue grows or shrinks, and it applies the high/low-water
 * rules of lib/protocol.h (pause_producing or pause reading; write_drained).
 */
#ifndef TWC_LIB_TRANSPORT_INT_H
#define TWC_LIB_TRANSPORT_INT_H

#include "protocol.h"

struct twc_transport_ops {
    const char *kind; /* "tcp", "unix", "tls", "string" */
    int (*writev)(twc_transport *t, const struct iovec *iov, int iovcnt);
    void (*lose_connection)(twc_transport *t);
    void (*abort)(twc_transport *t);
    int (*shutdown_write)(twc_transport *t);
    void (*pause_reading)(twc_transport *t);
    void (*resume_reading)(twc_transport *t);
    size_t (*buffered)(const twc_transport *t);
    int (*peer)(const twc_transport *t, twc_addr *out);
    int (*host)(const twc_transport *t, twc_addr *out);
    int (*fd)(const twc_transport *t);
};

struct twc_transport {
    const struct twc_transport_ops *ops;
    twc_reactor *reactor;
    twc_protocol *proto;       /* NULL once connection_lost was delivered */
    size_t high_water;         /* TWC_WRITE_HIGH_WATER unless changed */
    size_t low_water;          /* TWC_WRITE_LOW_WATER unless changed */
    unsigned producer_paused : 1; /* above high water, waiting to drain */
    unsigned reading_paused_by_flow : 1; /* we paused reading for flow control */
    unsigned reading_paused_by_user : 1; /* the protocol paused reading (public call) */
};

/* Initialise the base part (ops, reactor, water marks). */
void twc__transport_init(twc_transport *t, const struct twc_transport_ops *ops, twc_reactor *r);

/* Attach proto (sets proto->transport/factory) and call connection_made. */
void twc__transport_attach(twc_transport *t, twc_protocol *proto, twc_factory *f);

/* Call after the queued byte count changed: pauses the producer above high water,
 * and resumes it (write_drained) once below low water. */
void twc__transport_buffered_changed(twc_transport *t);

/* Deliver connection_lost once (why NULL: clean), detach the protocol, and, for
 * client connections, tell the factory (client_connection_lost). The protocol
 * is detached first (t->proto and p->transport are NULL during the call), since
 * connection_lost usually frees it. */
void twc__transport_lost(twc_transport *t, const twc_err *why, int client_side);

/* Hand t to another protocol (STARTTLS inserts the TLS filter this way): attach
 * p (sets p->transport = t and p->factory to the old protocol's factory) without
 * calling connection_made, and return the old protocol, now detached
 * (old->transport is left for the caller to repoint). Bytes arriving after the
 * call reach p. */
twc_protocol *twc__transport_swap_protocol(twc_transport *t, twc_protocol *p);

/* Zero-copy file output (sendfile(2)) on TCP and UNIX stream transports:
 * queue len bytes of the regular file fd from offset off, sent after the output
 * already queued and before anything written later. On success the transport
 * takes fd (closes it once sent or when the connection closes) and the bytes
 * count in twc_transport_buffered(), so the water marks apply. Returns 0,
 * TWC_ECLOSED, or TWC_EINVAL when this transport cannot (TLS, string, or a
 * file range already pending): fd stays the caller's, who copies instead. */
int twc_transport_sendfile(twc_transport *t, int fd, uint64_t off, uint64_t len);

#endif
