/*
 * Protocols, transports and factories: Twisted's three roles as C vtables.
 *
 * A transport moves bytes (TCP, UNIX, TLS, or a string transport in tests); a
 * protocol interprets them; a factory builds one protocol per connection. A
 * protocol cannot tell which kind of transport it sits on.
 *
 * Lifetimes:
 * - The factory's build() returns a new protocol (or NULL to refuse). The
 *   transport sets p->transport and p->factory, then calls connection_made.
 * - connection_lost is the protocol's last call, exactly once, always from the
 *   loop (never from inside a transport call the protocol made): free it there.
 * - While the transport calls into a protocol, closing (lose/abort) from inside
 *   the callback is safe; the protocol stays valid until that callback returns.
 * - Bytes passed to data_received are borrowed for the call. Copy what you keep.
 */
#ifndef TWC_LIB_PROTOCOL_H
#define TWC_LIB_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "addr.h"
#include "err.h"
#include "reactor.h"

typedef struct twc_transport twc_transport;
typedef struct twc_protocol twc_protocol;
typedef struct twc_factory twc_factory;

struct twc_protocol_ops {
    const char *name; /* for logs: "echo", "http" */
    /* Required. The transport is connected and writable. */
    void (*connection_made)(twc_protocol *p);
    /* Required. len > 0; data borrowed for the call. */
    void (*data_received)(twc_protocol *p, const uint8_t *data, size_t len);
    /* Optional. The peer shut down its write side. Return nonzero to stay half-open
     * (keep writing, then lose_connection yourself); 0, or NULL op, closes after
     * pending output is flushed. */
    int (*eof_received)(twc_protocol *p);
    /* Optional. Buffered output rose above the high-water mark: stop producing.
     * When NULL, the transport pauses its own reading instead (a peer that sends
     * faster than it reads our replies is throttled). */
    void (*pause_producing)(twc_protocol *p);
    /* Optional. Buffered output fell below the low-water mark (after a pause). When
     * pause_producing is NULL the transport has already resumed reading. */
    void (*write_drained)(twc_protocol *p);
    /* Required, last call. why->code is 0 for a clean close (ours or the peer's), else
     * the error (TWC_ECLOSED is never used for clean closes here; 0 is). */
    void (*connection_lost)(twc_protocol *p, const twc_err *why);
};

/* First member of every concrete protocol (recover the outer struct with container_of). */
struct twc_protocol {
    const struct twc_protocol_ops *ops;
    twc_transport *transport; /* set before connection_made, NULL after connection_lost */
    twc_factory *factory;     /* the factory that built it (borrowed) */
};

struct twc_factory_ops {
    /* Required. A protocol for a new connection (peer borrowed), or NULL to refuse it. */
    twc_protocol *(*build)(twc_factory *f, const twc_addr *peer);
    /* Optional: the first listener/connector using this factory started / the last stopped. */
    void (*start)(twc_factory *f);
    void (*stop)(twc_factory *f);
    /* Optional, client side: a connection attempt failed (exactly once per attempt). */
    void (*connection_failed)(twc_factory *f, const twc_err *why);
    /* Optional, client side: an established connection ended (after the protocol's
     * connection_lost). */
    void (*client_connection_lost)(twc_factory *f, const twc_err *why);
};

/* Embed first in a concrete factory. users counts listeners/connectors (library-managed). */
struct twc_factory {
    const struct twc_factory_ops *ops;
    unsigned users;
};

#ifndef container_of
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Library hooks around factory users: call start() on the first, stop() on the last. */
void twc_factory_do_start(twc_factory *f);
void twc_factory_do_stop(twc_factory *f);

/* ---- Transport commands --------------------------------------------------- */

/* Queue len bytes (copied) for the peer. Never blocks; tries to write at once when
 * nothing is queued. Returns 0, or TWC_ECLOSED after lose/abort/close. */
int twc_transport_write(twc_transport *t, const void *data, size_t len);
/* Same for a sequence of buffers (Twisted's writeSequence), sent with writev. */
int twc_transport_writev(twc_transport *t, const struct iovec *iov, int iovcnt);
/* Flush pending output, then close. connection_lost follows later, from the loop. */
void twc_transport_lose_connection(twc_transport *t);
/* Close now, dropping pending output. connection_lost follows later, from the loop. */
void twc_transport_abort(twc_transport *t);
/* Half-close: shut down our write side once pending output is flushed; reading
 * goes on. Returns 0 or a negative code (TWC_EINVAL where unsupported). */
int twc_transport_shutdown_write(twc_transport *t);
/* Stop / restart delivering data_received. Nested pauses are not counted. */
void twc_transport_pause_reading(twc_transport *t);
void twc_transport_resume_reading(twc_transport *t);
/* Bytes queued but not yet written to the kernel. */
size_t twc_transport_buffered(const twc_transport *t);
/* Addresses of the peer and of our end. Return 0 or a negative code. */
int twc_transport_peer(const twc_transport *t, twc_addr *out);
int twc_transport_host(const twc_transport *t, twc_addr *out);
twc_reactor *twc_transport_reactor(const twc_transport *t);
/* The socket, or -1 for transports without one (string transport). */
int twc_transport_fd(const twc_transport *t);
/* One-line summary for debug logs ("tcp 127.0.0.1:5000 -> 127.0.0.1:8000 fd 7").
 * Returns buf. */
const char *twc_transport_describe(const twc_transport *t, char *buf, size_t len);

#endif
