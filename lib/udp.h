/*
 * UDP ports, connected or not, IPv4 or IPv6 (Twisted's DatagramProtocol).
 *
 * A datagram protocol is bound to one port for that port's life. Sends never
 * block: a datagram the kernel cannot take right now is dropped and the send
 * returns the error, as for any lossy datagram transport.
 */
#ifndef TWC_LIB_UDP_H
#define TWC_LIB_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"
#include "reactor.h"

typedef struct twc_udp twc_udp;
typedef struct twc_datagram_protocol twc_datagram_protocol;

struct twc_datagram_ops {
    const char *name;
    /* Optional: the port is bound (p->udp set). */
    void (*started)(twc_datagram_protocol *p);
    /* Required. data and from are borrowed for the call. */
    void (*datagram_received)(twc_datagram_protocol *p, const uint8_t *data, size_t len,
                              const twc_addr *from);
    /* Optional: an asynchronous error, e.g. ECONNREFUSED on a connected port. */
    void (*error_received)(twc_datagram_protocol *p, const twc_err *err);
    /* Optional, last call: the port was freed (p->udp is NULL after). */
    void (*stopped)(twc_datagram_protocol *p);
};

/* First member of a concrete datagram protocol. */
struct twc_datagram_protocol {
    const struct twc_datagram_ops *ops;
    twc_udp *udp;
};

/* Bind interface (numeric; NULL/"" = all, dual-stack when possible) and port (0:
 * the kernel picks) and deliver datagrams to p (borrowed until stopped()).
 * Returns owned, or NULL with *err. */
twc_udp *twc_udp_listen(twc_reactor *r, const char *interface, uint16_t port,
                        twc_datagram_protocol *p, twc_err *err);
struct twc_udp_listen_opts {
    const char *interface; /* numeric address; NULL or "" = all (dual-stack when possible) */
    uint16_t port;         /* 0: the kernel picks; read it with twc_udp_addr */
    int reuseport;         /* set SO_REUSEPORT (workers sharing one port) */
};

/* twc_udp_listen with options. Same returns. */
twc_udp *twc_udp_listen_opts(twc_reactor *r, const struct twc_udp_listen_opts *o,
                             twc_datagram_protocol *p, twc_err *err);
/* Connect the port to one peer: only its datagrams arrive, and send may pass NULL. */
int twc_udp_connect(twc_udp *u, const twc_addr *peer, twc_err *err);
/* Send one datagram to `to` (NULL when connected). Returns 0 or a negative code
 * (-EAGAIN when the socket buffer is full: the datagram was dropped). */
int twc_udp_send(twc_udp *u, const void *data, size_t len, const twc_addr *to);
int twc_udp_addr(const twc_udp *u, twc_addr *out);
int twc_udp_fd(const twc_udp *u);
void twc_udp_pause(twc_udp *u);
void twc_udp_resume(twc_udp *u);
/* Close; the protocol's stopped() runs from inside this call if set. NULL no-op. */
void twc_udp_free(twc_udp *u);

#endif
