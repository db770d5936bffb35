/*
 * UDP ports (Twisted's udp.Port): one non-blocking datagram socket per port,
 * watched for reading, delivering each datagram to a twc_datagram_protocol.
 *
 * This file owns the socket and its watcher. Received datagrams are read into
 * the reactor's shared read buffer (one per reactor, TWC_READ_CHUNK bytes), so
 * an idle port costs no buffer memory; the bytes are borrowed by
 * datagram_received for the call only.
 *
 * Address families: a port bound to the wildcard is an IPv6 socket with
 * IPV6_V6ONLY off, so IPv4 peers arrive as v4-mapped addresses (::ffff:a.b.c.d,
 * RFC 4291 section 2.5.5.2). Protocols never see those: received addresses are
 * turned back into plain AF_INET, and plain AF_INET destinations are mapped on
 * the way out, so a protocol can reply to `from` whatever the socket family.
 */
#define _GNU_SOURCE
#include "udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "reactor_int.h"

struct twc_udp {
    twc_reactor *reactor;
    twc_datagram_protocol *proto;
    twc_io *io;
    int fd;
    int family;               /* AF_INET or AF_INET6: the socket's own family */
    twc_addr peer;            /* the connected peer (peer.len == 0: unconnected) */
    unsigned paused : 1;      /* twc_udp_pause: no read interest */
    unsigned closed : 1;      /* twc_udp_free ran; memory kept while dispatching */
    unsigned dispatching : 1; /* inside on_io: free must not release the struct */
};

/* ---- Address helpers -------------------------------------------------------- */

/* A v4-mapped IPv6 address (from a dual-stack socket) as plain AF_INET. */
static void unmap_v4(twc_addr *a)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&a->ss;
    struct sockaddr_in s4;

    if (a->len < sizeof(*s6) || s6->sin6_family != AF_INET6 ||
        !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        return;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = s6->sin6_port;
    memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
    twc_addr_set(a, (const struct sockaddr *)(const void *)&s4, sizeof(s4));
}

/* The destination as the socket's family needs it: AF_INET on an AF_INET6
 * socket becomes v4-mapped. Other mismatches are left to the kernel, which
 * answers EAFNOSUPPORT or EINVAL. Returns `in` or `tmp`. */
static const twc_addr *map_for_socket(const twc_udp *u, const twc_addr *in, twc_addr *tmp)
{
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)&in->ss;
    struct sockaddr_in6 s6;

    if (u->family != AF_INET6 || in->len < sizeof(*s4) || s4->sin_family != AF_INET)
        return in;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_port = s4->sin_port;
    s6.sin6_addr.s6_addr[10] = 0xff;
    s6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s6.sin6_addr.s6_addr[12], &s4->sin_addr, 4);
    twc_addr_set(tmp, (const struct sockaddr *)(const void *)&s6, sizeof(s6));
    return tmp;
}

/* ---- Socket setup ----------------------------------------------------------- */

static int is_v6_any(const twc_addr *a)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&a->ss;

    return twc_addr_family(a) == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

/* Create a non-blocking socket bound to a. v6only < 0 leaves IPV6_V6ONLY at the
 * system default. Returns the fd, or a negative code with *err filled. */
static int bind_socket(const twc_addr *a, int v6only, int reuseport, twc_err *err)
{
    int fd, family = twc_addr_family(a);
    char buf[TWC_ADDR_STRLEN];

    fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return twc_err_sys(err, errno, "udp socket");
    if (family == AF_INET6 && v6only >= 0 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0) {
        int e = errno;

        close(fd);
        return twc_err_sys(err, e, "udp setsockopt IPV6_V6ONLY");
    }
    /* Workers (cmd/) each bind the same port; the kernel spreads datagrams by hash. */
    if (reuseport) {
        int one = 1;

        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
            int e = errno;

            close(fd);
            return twc_err_sys(err, e, "udp setsockopt SO_REUSEPORT");
        }
    }
    if (bind(fd, (const struct sockaddr *)(const void *)&a->ss, a->len) < 0) {
        int e = errno;

        close(fd);
        return twc_err_sys(err, e, "udp bind %s", twc_addr_format(a, buf, sizeof(buf)));
    }
    return fd;
}

/* The wildcard: "::" dual-stack first, 0.0.0.0 when the host has no IPv6. */
static int bind_wildcard(uint16_t port, int reuseport, int *family, twc_err *err)
{
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    twc_addr a;
    int fd, rc;

    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(port);
    s6.sin6_addr = in6addr_any;
    twc_addr_set(&a, (const struct sockaddr *)(const void *)&s6, sizeof(s6));
    fd = bind_socket(&a, 0, reuseport, err);
    if (fd >= 0) {
        *family = AF_INET6;
        return fd;
    }
    /* Only "no IPv6 here" falls back; EADDRINUSE and EACCES are real answers. */
    if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL && fd != -EPROTONOSUPPORT)
        return fd;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = htons(port);
    s4.sin_addr.s_addr = htonl(INADDR_ANY);
    twc_addr_set(&a, (const struct sockaddr *)(const void *)&s4, sizeof(s4));
    rc = bind_socket(&a, -1, reuseport, err);
    if (rc >= 0)
        *family = AF_INET;
    return rc;
}

/* ---- Reading ---------------------------------------------------------------- */

static void deliver_error(twc_udp *u, int sys_errno, const char *what)
{
    twc_err e;

    if (u->proto->ops->error_received == NULL) {
        twc_log_debug(u->reactor, "udp", "fd %d: %s: %s (no error_received)", u->fd, what,
                      strerror(sys_errno));
        return;
    }
    twc_err_sys(&e, sys_errno, "udp %s", what);
    u->proto->ops->error_received(u->proto, &e);
}

/* One datagram into the shared buffer and out to the protocol. Returns 1 to go
 * on reading, 0 when the socket is drained (EAGAIN). */
static int read_one(twc_udp *u)
{
    struct sockaddr_storage from;
    struct msghdr mh;
    struct iovec iov;
    twc_addr a;
    size_t cap;
    uint8_t *buf;
    ssize_t n;

    buf = twc__reactor_read_buf(u->reactor, &cap);
    if (cap > TWC_UDP_MAX_DATAGRAM)
        cap = TWC_UDP_MAX_DATAGRAM;
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = buf;
    iov.iov_len = cap;
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    do {
        n = recvmsg(u->fd, &mh, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        /* A pending ICMP error (port unreachable -> ECONNREFUSED, host or net
         * unreachable) is reported once, by this read, on connected sockets;
         * Linux clears it as it reports it, so reading goes on afterwards. */
        deliver_error(u, errno, "receive");
        return 1;
    }
    if (mh.msg_flags & MSG_TRUNC) {
        /* Cannot happen with a 64 KiB buffer and IP's 65535-byte limit; if the
         * reactor's buffer ever shrinks, say so instead of passing a fragment. */
        twc_err e;

        twc_err_set(&e, TWC_ETOOBIG, "udp datagram exceeds %zu bytes", cap);
        if (u->proto->ops->error_received != NULL)
            u->proto->ops->error_received(u->proto, &e);
        return 1;
    }
    twc_addr_set(&a, (const struct sockaddr *)(const void *)&from, mh.msg_namelen);
    unmap_v4(&a);
    u->proto->ops->datagram_received(u->proto, buf, (size_t)n, &a);
    return 1;
}

/* An error condition with no read interest (paused): collect it with SO_ERROR,
 * which also clears it, so a level-triggered backend does not spin. */
static void collect_so_error(twc_udp *u)
{
    int e = 0;
    socklen_t len = sizeof(e);

    if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e != 0)
        deliver_error(u, e, "receive");
}

static void on_io(twc_io *io, unsigned events, void *arg)
{
    twc_udp *u = arg;
    int i;

    (void)io;
    /* The protocol may free or pause the port from inside its callbacks:
     * dispatching keeps the struct alive until we are done looking at it. */
    u->dispatching = 1;
    if (u->paused) {
        if (events & TWC_IO_ERROR)
            collect_so_error(u);
    } else if (events & (TWC_IO_READ | TWC_IO_ERROR)) {
        /* Bounded, so one busy port cannot starve the others (libuv's 32). */
        for (i = 0; i < TWC_READS_PER_WAKEUP && !u->closed && !u->paused; i++) {
            if (!read_one(u))
                break;
        }
    }
    u->dispatching = 0;
    if (u->closed)
        free(u);
}

/* ---- Public API ------------------------------------------------------------- */

twc_udp *twc_udp_listen(twc_reactor *r, const char *interface, uint16_t port,
                        twc_datagram_protocol *p, twc_err *err)
{
    struct twc_udp_listen_opts o = {interface, port, 0};

    return twc_udp_listen_opts(r, &o, p, err);
}

twc_udp *twc_udp_listen_opts(twc_reactor *r, const struct twc_udp_listen_opts *o,
                             twc_datagram_protocol *p, twc_err *err)
{
    const char *interface = o->interface;
    uint16_t port = o->port;
    twc_udp *u;
    twc_addr a;
    int fd, family;

    if (p == NULL || p->ops == NULL || p->ops->datagram_received == NULL) {
        twc_err_set(err, TWC_EINVAL, "udp protocol has no datagram_received");
        return NULL;
    }
    if (interface == NULL || interface[0] == '\0') {
        fd = bind_wildcard(port, o->reuseport, &family, err);
    } else {
        if (twc_addr_from_ip(&a, interface, port, err) < 0)
            return NULL;
        family = twc_addr_family(&a);
        /* An explicit "::" is dual-stack too, whatever net.ipv6.bindv6only
         * says, as for TCP listeners (lib/listener.c). */
        fd = bind_socket(&a, is_v6_any(&a) ? 0 : -1, o->reuseport, err);
    }
    if (fd < 0)
        return NULL;
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        close(fd);
        twc_err_set(err, TWC_ENOMEM, "udp port: out of memory");
        return NULL;
    }
    u->reactor = r;
    u->proto = p;
    u->fd = fd;
    u->family = family;
    u->io = twc_io_new(r, fd, on_io, u);
    if (u->io == NULL || twc_io_set(u->io, TWC_IO_READ) < 0) {
        twc_io_free(u->io);
        close(fd);
        free(u);
        twc_err_set(err, TWC_ENOMEM, "udp port: cannot watch socket");
        return NULL;
    }
    p->udp = u;
    if (p->ops->started != NULL) {
        /* started() may already give up the port; then so do we. */
        u->dispatching = 1;
        p->ops->started(p);
        u->dispatching = 0;
        if (u->closed) {
            free(u);
            twc_err_set(err, TWC_ECANCELED, "udp port closed by its protocol while starting");
            return NULL;
        }
    }
    return u;
}

int twc_udp_connect(twc_udp *u, const twc_addr *peer, twc_err *err)
{
    const twc_addr *to;
    twc_addr tmp;
    char buf[TWC_ADDR_STRLEN];

    if (peer == NULL || peer->len == 0)
        return twc_err_set(err, TWC_EINVAL, "udp connect: no address");
    to = map_for_socket(u, peer, &tmp);
    /* UDP connect(2) only records the peer and filters what arrives: it never
     * blocks, so no EINPROGRESS dance here. */
    if (connect(u->fd, (const struct sockaddr *)(const void *)&to->ss, to->len) < 0)
        return twc_err_sys(err, errno, "udp connect %s", twc_addr_format(peer, buf, sizeof(buf)));
    u->peer = *peer;
    return 0;
}

int twc_udp_send(twc_udp *u, const void *data, size_t len, const twc_addr *to)
{
    const struct sockaddr *sa = NULL;
    const twc_addr *dst;
    twc_addr tmp;
    socklen_t salen = 0;
    ssize_t n;

    if (u->closed)
        return TWC_ECLOSED;
    if (to == NULL) {
        if (u->peer.len == 0)
            return TWC_EINVAL;
    } else if (u->peer.len != 0) {
        /* Twisted refuses a different address on a connected port: the
         * kernel would send it, but replies could never come back. */
        if (!twc_addr_equal(to, &u->peer))
            return TWC_EINVAL;
    } else {
        dst = map_for_socket(u, to, &tmp);
        sa = (const struct sockaddr *)(const void *)&dst->ss;
        salen = dst->len;
    }
    do {
        n = sendto(u->fd, data, len, 0, sa, salen);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        /* Full socket buffer: the datagram is dropped, never queued (lossy by
         * design, so a flood cannot grow the process). */
        if (errno == EWOULDBLOCK)
            return -EAGAIN;
        return -errno;
    }
    return 0;
}

int twc_udp_addr(const twc_udp *u, twc_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(u->fd, (struct sockaddr *)(void *)&ss, &len) < 0)
        return -errno;
    twc_addr_set(out, (const struct sockaddr *)(const void *)&ss, len);
    return 0;
}

int twc_udp_fd(const twc_udp *u)
{
    return u->fd;
}

void twc_udp_pause(twc_udp *u)
{
    if (u->paused || u->closed)
        return;
    u->paused = 1;
    twc_io_set(u->io, 0);
}

void twc_udp_resume(twc_udp *u)
{
    if (!u->paused || u->closed)
        return;
    u->paused = 0;
    twc_io_set(u->io, TWC_IO_READ);
}

void twc_udp_free(twc_udp *u)
{
    twc_datagram_protocol *p;

    if (u == NULL || u->closed)
        return;
    u->closed = 1;
    twc_io_free(u->io);
    u->io = NULL;
    close(u->fd);
    u->fd = -1;
    p = u->proto;
    p->udp = NULL;
    if (p->ops->stopped != NULL)
        p->ops->stopped(p);
    /* From inside datagram_received, on_io releases the struct on its way out. */
    if (!u->dispatching)
        free(u);
}
