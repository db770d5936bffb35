/*
 * Stream listeners: TCP (IPv4, IPv6, dual-stack) and UNIX sockets, and
 * adopted listening fds. Each accepted socket becomes a stream transport with
 * a protocol from the listener's factory.
 *
 * Accepting is bounded (TWC_ACCEPTS_PER_WAKEUP per wakeup) so one busy
 * listener cannot starve the loop. When the process runs out of descriptors
 * (EMFILE/ENFILE), accept(2) keeps failing while the pending connection stays
 * in the queue, and a level-triggered loop would spin on it: instead the
 * listener stops watching its socket for TWC_EMFILE_BACKOFF_MS and logs one
 * line per episode (OpenBSD's accept_reserve does the same).
 */
#define _GNU_SOURCE
#include "stream_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"

struct twc_listener {
    twc_reactor *r;
    twc_factory *f;
    twc_io *io;
    twc_timer *backoff; /* EMFILE pause; created on first need */
    int fd;
    char *path;  /* UNIX socket file we created (unlinked on free), else NULL */
    dev_t dev;   /* identity of that file, so we never unlink a successor's */
    ino_t ino;
    unsigned is_unix : 1;
    unsigned paused : 1;      /* twc_listener_pause */
    unsigned backing_off : 1; /* EMFILE timer running */
    unsigned warned : 1;      /* logged this exhaustion episode */
    unsigned in_accept : 1;   /* inside on_accept: defer the free */
    unsigned dead : 1;        /* freed from inside on_accept */
};

static const char *sys_name(const twc_listener *l)
{
    return l->is_unix ? "unix" : "tcp";
}

static void update_io(twc_listener *l)
{
    unsigned ev = (l->paused || l->backing_off || l->dead) ? 0 : TWC_IO_READ;

    if (l->io != NULL)
        (void)twc_io_set(l->io, ev);
}

static void on_backoff(twc_timer *t, void *arg)
{
    twc_listener *l = arg;

    (void)t;
    l->backing_off = 0;
    update_io(l);
}

static void start_backoff(twc_listener *l, int e)
{
    char where[TWC_ADDR_STRLEN];
    twc_addr a;

    if (l->backoff == NULL)
        l->backoff = twc_timer_new(l->r, on_backoff, l);
    if (!l->warned) {
        l->warned = 1;
        if (twc_listener_addr(l, &a) == 0)
            twc_addr_format(&a, where, sizeof(where));
        else
            snprintf(where, sizeof(where), "fd %d", l->fd);
        twc_log_warnx(l->r, sys_name(l), "accept on %s: %s; pausing the listener for %d ms",
                      where, strerror(e), TWC_EMFILE_BACKOFF_MS);
    }
    if (l->backoff == NULL)
        return; /* out of memory: stay watching; the next wakeup retries */
    l->backing_off = 1;
    update_io(l);
    twc_timer_start(l->backoff, TWC_EMFILE_BACKOFF_MS, 0);
}

/* Errors accept(2) reports for one connection that died in the queue (Linux
 * passes pending network errors through accept): skip it, keep going. */
static int transient(int e)
{
    switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EPERM: /* firewall rules */
        return 1;
    default:
        return 0;
    }
}

static void serve(twc_listener *l, int fd, const struct sockaddr_storage *ss, socklen_t len)
{
    twc_transport *t;
    twc_protocol *p;
    twc_addr peer;
    int one = 1;

    if (!l->is_unix)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    t = twc__stream_new(l->r, fd, l->is_unix, NULL);
    if (t == NULL) {
        twc_log_warnx(l->r, sys_name(l), "out of memory: dropping a new connection");
        return;
    }
    twc_addr_set(&peer, (const struct sockaddr *)ss, len);
    p = l->f->ops->build(l->f, &peer);
    if (p == NULL) {
        twc__stream_discard(t);
        return;
    }
    twc__stream_start(t, p, l->f, 0);
}

static void destroy(twc_listener *l)
{
    twc_factory *f = l->f;

    free(l);
    twc_factory_do_stop(f);
}

static void on_accept(twc_io *io, unsigned events, void *arg)
{
    twc_listener *l = arg;
    struct sockaddr_storage ss;
    socklen_t len;
    int i, fd, e;

    (void)io;
    (void)events;
    l->in_accept = 1;
    for (i = 0; i < TWC_ACCEPTS_PER_WAKEUP; i++) {
        if (l->paused || l->backing_off || l->dead)
            break;
        len = sizeof(ss);
        fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                break;
            if (transient(e))
                continue;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or something unexpected: any of
             * them would repeat at once, so back off instead of spinning. */
            start_backoff(l, e);
            break;
        }
        l->warned = 0;
        serve(l, fd, &ss, len);
    }
    l->in_accept = 0;
    if (l->dead)
        destroy(l);
}

/* Wrap a bound, listening, non-blocking fd (taken). */
static twc_listener *listener_new(twc_reactor *r, int fd, int is_unix, twc_factory *f,
                                  twc_err *err)
{
    twc_listener *l = calloc(1, sizeof(*l));

    if (l == NULL)
        goto nomem;
    l->io = twc_io_new(r, fd, on_accept, l);
    if (l->io == NULL)
        goto nomem;
    l->r = r;
    l->f = f;
    l->fd = fd;
    l->is_unix = is_unix ? 1 : 0;
    update_io(l);
    twc_factory_do_start(f);
    return l;

nomem:
    free(l);
    close(fd);
    twc_err_set(err, TWC_ENOMEM, "out of memory for a listener");
    return NULL;
}

/* ---- TCP --------------------------------------------------------------------- */

static twc_listener *listen_ip(twc_reactor *r, const twc_addr *a, int backlog, int reuseport,
                               twc_factory *f, twc_err *err)
{
    char where[TWC_ADDR_STRLEN];
    int fd, one = 1, zero = 0, e;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)&a->ss;

    twc_addr_format(a, where, sizeof(where));
    fd = socket(twc_addr_family(a), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        twc_err_sys(err, errno, "cannot listen on %s", where);
        return NULL;
    }
    /* Restarting must not wait out TIME_WAIT connections of the old process. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    /* The IPv6 wildcard serves IPv4 too (mapped addresses, RFC 4291 section
     * 2.5.5.2) whatever net.ipv6.bindv6only says. */
    if (twc_addr_family(a) == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
        goto fail;
    if (listen(fd, backlog) < 0)
        goto fail;
    return listener_new(r, fd, 0, f, err);

fail:
    e = errno;
    close(fd);
    twc_err_sys(err, e, "cannot listen on %s", where);
    return NULL;
}

twc_listener *twc_tcp_listen(twc_reactor *r, const struct twc_tcp_listen_opts *o,
                             twc_factory *f, twc_err *err)
{
    const char *iface = o->interface;
    int backlog = o->backlog != 0 ? o->backlog : TWC_LISTEN_BACKLOG;
    twc_listener *l;
    twc_err e;
    twc_addr a;

    if (o->backlog < 0) {
        twc_err_set(err, TWC_EINVAL, "negative listen backlog %d", o->backlog);
        return NULL;
    }
    if (iface == NULL || *iface == '\0') {
        /* All interfaces: dual-stack "::", or 0.0.0.0 where IPv6 is missing. */
        (void)twc_addr_from_ip(&a, "::", o->port, NULL);
        l = listen_ip(r, &a, backlog, o->reuseport, f, &e);
        if (l != NULL)
            return l;
        if (e.code != -EAFNOSUPPORT && e.code != -EADDRNOTAVAIL && e.code != -EPROTONOSUPPORT) {
            if (err != NULL)
                *err = e;
            return NULL;
        }
        iface = "0.0.0.0";
    }
    if (twc_addr_from_ip(&a, iface, o->port, err) < 0)
        return NULL;
    return listen_ip(r, &a, backlog, o->reuseport, f, err);
}

/* ---- UNIX -------------------------------------------------------------------- */

/* The process umask, read without changing it (umask(2) can only set it, and
 * set-then-restore would race with other threads creating files). -1 when
 * unknown. */
static int read_umask(void)
{
    char buf[2048];
    const char *p;
    ssize_t n;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    uint64_t v = 0;

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strstr(buf, "\nUmask:");
    if (p == NULL)
        return -1;
    p += 7;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '7')
        return -1;
    while (*p >= '0' && *p <= '7')
        v = v * 8 + (uint64_t)(*p++ - '0');
    return (int)(v & 0777);
}

/*
 * bind(2) said EADDRINUSE. A socket file left by a dead process refuses
 * connections (ECONNREFUSED): remove it. Anything else (a live listener, a
 * file that is not a socket) stays. Returns 0 when the path was freed.
 */
static int replace_stale(const twc_addr *a, const char *path, twc_err *err)
{
    struct stat st;
    int fd, rc, e;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0; /* gone meanwhile */
        return twc_err_sys(err, errno, "cannot listen on unix:%s", path);
    }
    if (!S_ISSOCK(st.st_mode))
        return twc_err_set(err, -EADDRINUSE, "cannot listen on unix:%s: not a socket file",
                           path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return twc_err_sys(err, errno, "cannot listen on unix:%s", path);
    rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
    e = errno;
    close(fd);
    if (rc < 0 && e == ECONNREFUSED) {
        if (unlink(path) < 0 && errno != ENOENT)
            return twc_err_sys(err, errno, "cannot remove stale socket unix:%s", path);
        return 0;
    }
    if (rc < 0 && e == ENOENT)
        return 0;
    /* Connected, or EAGAIN (a live listener with a full backlog). */
    return twc_err_set(err, -EADDRINUSE, "cannot listen on unix:%s: %s", path,
                       rc == 0 || e == EAGAIN ? "another process is listening" : strerror(e));
}

twc_listener *twc_unix_listen(twc_reactor *r, const char *path, unsigned mode, twc_factory *f,
                              twc_err *err)
{
    twc_listener *l;
    struct stat st;
    twc_addr a;
    int fd, e, um, tries;

    if (twc_addr_from_path(&a, path, err) < 0)
        return NULL;
    if (mode > 07777) {
        twc_err_set(err, TWC_EINVAL, "bad file mode %o for unix:%s", mode, path);
        return NULL;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        twc_err_sys(err, errno, "cannot listen on unix:%s", path);
        return NULL;
    }
    for (tries = 0;; tries++) {
        if (bind(fd, (const struct sockaddr *)&a.ss, a.len) == 0)
            break;
        e = errno;
        if (e != EADDRINUSE || tries > 0) {
            twc_err_sys(err, e, "cannot listen on unix:%s", path);
            goto fail;
        }
        if (replace_stale(&a, path, err) < 0)
            goto fail;
    }
    if (mode == 0) {
        um = read_umask();
        mode = um < 0 ? 0 : 0666u & ~(unsigned)um;
    }
    /* chmod before listen(2): until then nobody can connect anyway. */
    if ((mode != 0 && chmod(path, (mode_t)mode) < 0) || stat(path, &st) < 0) {
        twc_err_sys(err, errno, "cannot set the mode of unix:%s", path);
        goto fail_unlink;
    }
    if (listen(fd, TWC_LISTEN_BACKLOG) < 0) {
        twc_err_sys(err, errno, "cannot listen on unix:%s", path);
        goto fail_unlink;
    }
    l = listener_new(r, fd, 1, f, err);
    if (l == NULL) {
        unlink(path);
        return NULL;
    }
    l->path = strdup(path);
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    return l;

fail_unlink:
    unlink(path);
fail:
    close(fd);
    return NULL;
}

/* ---- Any listening socket ---------------------------------------------------- */

twc_listener *twc_listener_adopt(twc_reactor *r, int fd, twc_factory *f, twc_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int acc = 0, fl, e;
    socklen_t alen = sizeof(acc);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0) {
        e = errno;
        twc_err_sys(err, e, "cannot adopt fd %d", fd);
        if (e != EBADF)
            close(fd);
        return NULL;
    }
    if (!acc) {
        twc_err_set(err, TWC_EINVAL, "cannot adopt fd %d: not a listening socket", fd);
        close(fd);
        return NULL;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        twc_err_sys(err, errno, "cannot adopt fd %d", fd);
        close(fd);
        return NULL;
    }
    return listener_new(r, fd, ss.ss_family == AF_UNIX, f, err);
}

int twc_listener_addr(const twc_listener *l, twc_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    twc_addr_set(out, NULL, 0);
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    twc_addr_set(out, (struct sockaddr *)&ss, len);
    return 0;
}

int twc_listener_fd(const twc_listener *l)
{
    return l->fd;
}

void twc_listener_pause(twc_listener *l)
{
    l->paused = 1;
    update_io(l);
}

void twc_listener_resume(twc_listener *l)
{
    l->paused = 0;
    update_io(l);
}

void twc_listener_free(twc_listener *l)
{
    struct stat st;

    if (l == NULL || l->dead)
        return;
    l->dead = 1;
    twc_io_free(l->io);
    l->io = NULL;
    twc_timer_free(l->backoff);
    l->backoff = NULL;
    /* Remove our socket file, unless another listener has replaced it since. */
    if (l->path != NULL && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
        st.st_ino == l->ino)
        unlink(l->path);
    free(l->path);
    close(l->fd);
    l->fd = -1;
    if (!l->in_accept)
        destroy(l);
}
