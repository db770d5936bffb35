/*
 * Internals shared by lib/stream.c (the fd-based TCP/UNIX transport),
 * lib/listener.c, lib/connector.c and lib/reconnect.c. Not a public header.
 */
#ifndef TWC_LIB_STREAM_INT_H
#define TWC_LIB_STREAM_INT_H

#include "stream.h"
#include "transport_int.h"

/* Told after an established connection's connection_lost (and the factory's
 * client_connection_lost) ran: the reconnecting client hangs its retry here.
 * Embed it and recover the outer struct with container_of. */
struct twc__stream_hook {
    void (*lost)(struct twc__stream_hook *h, const twc_err *why);
};

/* Told about a connector's outcomes, after the factory heard them. */
struct twc__connector_hook {
    /* The connection is up; connection_made already ran. t is borrowed until
     * its connection_lost. */
    void (*made)(struct twc__connector_hook *h, twc_transport *t);
    /* The attempt failed (after f->ops->connection_failed). */
    void (*failed)(struct twc__connector_hook *h, const twc_err *why);
};

/* A stream transport over a connected socket (takes fd, which must already be
 * non-blocking and close-on-exec); is_unix picks the kind ("unix" or "tcp").
 * Nothing is watched until twc__stream_start. Returns owned, or NULL with *err
 * (fd is then closed). */
twc_transport *twc__stream_new(twc_reactor *r, int fd, int is_unix, twc_err *err);

/* Attach p (built by f), call connection_made and start reading. client_side:
 * the factory hears client_connection_lost after the protocol's connection_lost.
 * From here on the transport frees itself after connection_lost. */
void twc__stream_start(twc_transport *t, twc_protocol *p, twc_factory *f, int client_side);

/* Close and free a stream that was never started (the factory refused it). */
void twc__stream_discard(twc_transport *t);

/* Set (or clear with NULL) the hook told after connection_lost. */
void twc__stream_set_hook(twc_transport *t, struct twc__stream_hook *h);

/* Set (or clear with NULL) the hook told about c's outcomes. */
void twc__connector_set_hook(twc_connector *c, struct twc__connector_hook *h);

#endif
