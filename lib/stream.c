/*
 * The stream transport: one connected TCP or UNIX socket.
 *
 * Memory: an idle connection holds only this struct (about 120 bytes) and its
 * reactor watcher. Reads go into the reactor's shared 64 KiB buffer, and the
 * output queue (a twc_buf) owns memory only while bytes wait for the kernel.
 *
 * Input: at most TWC_READS_PER_WAKEUP reads per wakeup (libuv), and a short
 * read ends the batch, since the socket is then empty.
 *
 * Output: written straight to the socket when nothing is queued (the common
 * case costs one syscall and no copy); whatever the kernel does not take is
 * copied to the queue, and write interest is armed until it drains (Redis).
 * The water marks of lib/transport_int.h apply to the queue.
 *
 * Closing: the fd is closed at once, but connection_lost always comes from the
 * loop through a call-soon slot reserved when the stream was made, so a
 * protocol never sees it from inside its own write/lose/abort call, even out
 * of memory. The struct lives until then, which is what makes lose/abort from
 * inside data_received safe.
 */
#define _GNU_SOURCE
#include "stream_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "limits.h"
#include "reactor_int.h"

/* <limits.h> is shadowed by lib/limits.h on the include path; Linux's value. */
#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

typedef struct stream {
    twc_transport base; /* first: the transport is the stream */
    twc_io *io;
    struct twc__stream_hook *hook;
    twc_buf out; /* bytes the kernel has not taken yet; no memory while empty */
    int fd;      /* -1 once closed */
    int lost_code; /* why connection_lost: 0 clean, else a negative code */
    unsigned client : 1;       /* tell the factory client_connection_lost */
    unsigned read_paused : 1;  /* pause_reading op (protocol or flow control) */
    unsigned closing : 1;      /* lose_connection: close once out drains */
    unsigned shut_pending : 1; /* shutdown_write: SHUT_WR once out drains */
    unsigned shut_done : 1;    /* our write side is shut */
    unsigned eof : 1;          /* the peer's write side is shut */
    unsigned started : 1;      /* twc__stream_start ran */
    unsigned closed : 1;       /* fd closed; connection_lost queued */
    unsigned lowat : 1;        /* TCP_NOTSENT_LOWAT set (first sendfile) */
    /* twc_transport_sendfile: a file range sent after `out`, then `tail` (bytes
     * written while the file was pending). file_fd is -1 when none. */
    int file_fd;
    uint64_t file_off, file_len;
    twc_buf tail;
} stream;

/* Bytes (or file bytes) still waiting for the kernel. */
static size_t pending_output(const stream *s)
{
    return twc_buf_len(&s->out) + (s->file_fd >= 0 ? 1 : 0) + twc_buf_len(&s->tail);
}

static void close_now(stream *s, int code);

static int reading_wanted(const stream *s)
{
    return s->started && !s->closed && !s->closing && !s->read_paused && !s->eof &&
           s->base.proto != NULL;
}

/* Bring the watcher's mask in line with what the stream wants. */
static void update_io(stream *s)
{
    unsigned ev = 0;
    int rc;

    if (s->closed)
        return;
    if (reading_wanted(s))
        ev |= TWC_IO_READ;
    if (pending_output(s) > 0)
        ev |= TWC_IO_WRITE;
    rc = twc_io_set(s->io, ev);
    if (rc < 0)
        close_now(s, rc);
}

static void on_lost(void *arg)
{
    stream *s = arg;
    struct twc__stream_hook *hook = s->hook;
    twc_err why;

    if (s->lost_code != 0)
        twc_err_set(&why, s->lost_code, "%s", twc_strerror(s->lost_code));
    else
        twc_err_clear(&why);
    twc__transport_lost(&s->base, &why, s->client);
    if (hook != NULL)
        hook->lost(hook, &why);
    free(s);
}

/* Close the socket now; connection_lost follows from the loop. */
static void close_now(stream *s, int code)
{
    if (s->closed)
        return;
    s->closed = 1;
    s->lost_code = code;
    twc_io_free(s->io);
    s->io = NULL;
    close(s->fd);
    s->fd = -1;
    twc_buf_cleanup(&s->out);
    if (s->file_fd >= 0)
        close(s->file_fd);
    s->file_fd = -1;
    twc_buf_cleanup(&s->tail);
    if (!s->started) {
        /* Closed before start: no protocol, nothing to tell. */
        twc__reactor_soon_release(s->base.reactor);
        return;
    }
    /* The slot reserved in twc__stream_new: this cannot fail, even out of
     * memory, so connection_lost always comes, and always from the loop. */
    twc__reactor_call_soon_reserved(s->base.reactor, on_lost, s);
}

static void do_shutdown(stream *s)
{
    s->shut_pending = 0;
    s->shut_done = 1;
    if (shutdown(s->fd, SHUT_WR) < 0) {
        close_now(s, -errno);
        return;
    }
    /* Both directions are done: nothing more can happen on this socket. */
    if (s->eof)
        close_now(s, 0);
}

/* Send the pending file range with sendfile(2). Returns 1 when it is done
 * (or there was none), 0 when the socket is full or this wakeup's share was
 * sent, -1 after close_now.
 *
 * One TWC_SENDFILE_CHUNK per wakeup, as lighttpd does: a single call that
 * fills a megabyte of socket buffer overruns the receiver's window, and the
 * rest is then pushed from the receiver's ACK processing on its CPU; smaller
 * turns keep the sending work here and let other connections in between.
 * Measured with wrk on loopback (tests/bench/web_bench.sh, 1 MiB file),
 * without the low mark below: 1 GiB per call ~3.2 GiB/s, 256 KiB ~3 to 4,
 * 128 KiB ~5.1, 64 KiB ~4.8.
 *
 * For the same reason the socket gets TCP_NOTSENT_LOWAT with its first file
 * (twc_transport_sendfile): the kernel then takes only what it can send about
 * now, and reports writable again when that is nearly gone, so file data
 * waits in the page cache rather than as unsent bytes in the socket, and
 * every byte goes out from our own call, on our CPU. With wrk on loopback
 * that took the 1 MiB figure from ~5 to ~6.6 GiB/s, and the client's CPU
 * time in softirq from ~20% to ~7%. With the low mark bounding what is
 * queued, larger turns only save wakeups: 256 KiB (lighttpd's) gives about
 * the same throughput as 128 KiB with ~18% of the server's CPU left idle
 * instead of none (512 KiB: no better). */
static int flush_file(stream *s)
{
    off_t off;
    size_t want;
    ssize_t n;

    while (s->file_fd >= 0) {
        if (s->file_len == 0) {
            close(s->file_fd);
            s->file_fd = -1;
            /* Bytes written meanwhile follow the file: they are the queue now. */
            twc_buf swap = s->out;
            s->out = s->tail;
            s->tail = swap;
            return 1;
        }
        want = s->file_len > TWC_SENDFILE_CHUNK ? TWC_SENDFILE_CHUNK : (size_t)s->file_len;
        off = (off_t)s->file_off;
        n = sendfile(s->fd, s->file_fd, &off, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            close_now(s, -errno);
            return -1;
        }
        if (n == 0) {
            /* The file shrank under us: the promised length cannot be kept. */
            close_now(s, TWC_EOF);
            return -1;
        }
        s->file_off += (uint64_t)n;
        s->file_len -= (uint64_t)n;
        if (s->file_len > 0)
            return 0; /* the socket is full, or this wakeup's share is sent */
    }
    return 1;
}

/* Write queued output until the kernel stops taking it. */
static void flush(stream *s)
{
    size_t len;
    ssize_t n;
    int rc;

again:
    while ((len = twc_buf_len(&s->out)) > 0) {
        n = write(s->fd, twc_buf_data(&s->out), len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            close_now(s, -errno);
            return;
        }
        twc_buf_consume(&s->out, (size_t)n);
        if ((size_t)n < len)
            break; /* the socket buffer is full: wait for writability */
    }
    if (twc_buf_len(&s->out) == 0 && s->file_fd >= 0) {
        rc = flush_file(s);
        if (rc < 0)
            return;
        if (rc > 0 && twc_buf_len(&s->out) > 0)
            goto again;
    }
    if (pending_output(s) == 0) {
        if (s->closing) {
            close_now(s, 0);
            return;
        }
        if (s->shut_pending) {
            do_shutdown(s);
            if (s->closed)
                return;
        }
    }
    update_io(s);
    if (!s->closed)
        twc__transport_buffered_changed(&s->base);
}

/* The peer shut down its write side (protocol.h: eof_received). */
static void on_eof(stream *s)
{
    twc_protocol *p = s->base.proto;
    int keep = 0;

    s->eof = 1;
    if (p->ops->eof_received != NULL)
        keep = p->ops->eof_received(p);
    if (s->closed || s->closing)
        return;
    if (!keep || s->shut_done) {
        twc_transport_lose_connection(&s->base);
        return;
    }
    update_io(s);
}

static void do_read(stream *s)
{
    size_t cap;
    uint8_t *buf = twc__reactor_read_buf(s->base.reactor, &cap);
    ssize_t n;
    int i;

    for (i = 0; i < TWC_READS_PER_WAKEUP; i++) {
        n = read(s->fd, buf, cap);
        if (n > 0) {
            s->base.proto->ops->data_received(s->base.proto, buf, (size_t)n);
            /* The protocol may have closed, paused or half-closed us. */
            if (!reading_wanted(s) || (size_t)n < cap)
                break;
            continue;
        }
        if (n == 0) {
            on_eof(s);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            close_now(s, -errno);
        return;
    }
    /* Reading stopped for a reason the watcher must hear about (pause). */
    update_io(s);
}

static void on_io(twc_io *io, unsigned events, void *arg)
{
    stream *s = arg;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    (void)io;
    /* A hang-up is reported as readable even when we only wait to write:
     * the write will tell what happened. */
    if (pending_output(s) > 0 &&
        (events & (TWC_IO_WRITE | TWC_IO_ERROR) ||
         ((events & TWC_IO_READ) && !reading_wanted(s))))
        flush(s);
    if (s->closed)
        return;
    if ((events & (TWC_IO_READ | TWC_IO_ERROR)) && reading_wanted(s)) {
        do_read(s);
        return;
    }
    if (events & TWC_IO_ERROR) {
        /* An error nobody else will read: take it from the socket. */
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr != 0)
            close_now(s, -soerr);
    }
}

/* ---- Transport ops -------------------------------------------------------- */

static int stream_writev(twc_transport *t, const struct iovec *iov, int iovcnt)
{
    stream *s = (stream *)t;
    size_t total = 0, skip = 0, chunk;
    ssize_t n;
    int i, rc;

    if (s->closed || s->closing || s->shut_pending || s->shut_done)
        return TWC_ECLOSED;
    for (i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SIZE_MAX - total)
            return TWC_ETOOBIG;
        total += iov[i].iov_len;
    }
    if (total == 0)
        return 0;
    if (s->file_fd >= 0) {
        /* After a pending file: queue behind it, in order. */
        for (i = 0; i < iovcnt; i++) {
            rc = twc_buf_append(&s->tail, iov[i].iov_base, iov[i].iov_len);
            if (rc < 0) {
                close_now(s, rc);
                return rc;
            }
        }
        twc__transport_buffered_changed(t);
        return 0;
    }
    if (twc_buf_len(&s->out) == 0) {
        /* One buffer (the echo and request/response common case): write(2) is
         * measurably cheaper in the kernel than writev(2) (bench: -1.5%/msg). */
        do {
            n = iovcnt == 1 ? write(s->fd, iov[0].iov_base, iov[0].iov_len)
                            : writev(s->fd, iov, iovcnt < IOV_MAX ? iovcnt : IOV_MAX);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* The protocol hears about it in connection_lost. */
                close_now(s, -errno);
                return 0;
            }
            n = 0;
        }
        if ((size_t)n == total)
            return 0;
        skip = (size_t)n;
    }
    for (i = 0; i < iovcnt; i++) {
        chunk = iov[i].iov_len;
        if (skip >= chunk) {
            skip -= chunk;
            continue;
        }
        rc = twc_buf_append(&s->out, (const uint8_t *)iov[i].iov_base + skip, chunk - skip);
        skip = 0;
        if (rc < 0) {
            close_now(s, rc);
            return rc;
        }
    }
    update_io(s);
    if (!s->closed)
        twc__transport_buffered_changed(t);
    return 0;
}

static void stream_lose_connection(twc_transport *t)
{
    stream *s = (stream *)t;

    if (s->closed || s->closing)
        return;
    s->closing = 1;
    if (pending_output(s) == 0)
        close_now(s, 0);
    else
        update_io(s); /* Twisted stops reading too: nothing more is wanted */
}

/* Twisted's abortConnection reports ConnectionAborted; the string transport's
 * pump in lib/testing.c agrees: -ECONNABORTED, not a clean 0. */
static void stream_abort(twc_transport *t)
{
    close_now((stream *)t, -ECONNABORTED);
}

static int stream_shutdown_write(twc_transport *t)
{
    stream *s = (stream *)t;

    if (s->closed || s->closing)
        return TWC_ECLOSED;
    if (s->shut_pending || s->shut_done)
        return 0;
    s->shut_pending = 1;
    if (pending_output(s) == 0)
        do_shutdown(s);
    return 0;
}

static void stream_pause_reading(twc_transport *t)
{
    stream *s = (stream *)t;

    s->read_paused = 1;
    update_io(s);
}

static void stream_resume_reading(twc_transport *t)
{
    stream *s = (stream *)t;

    s->read_paused = 0;
    update_io(s);
}

static size_t stream_buffered(const twc_transport *t)
{
    const stream *s = (const stream *)t;
    uint64_t n = twc_buf_len(&s->out) + twc_buf_len(&s->tail);

    if (s->file_fd >= 0)
        n += s->file_len;
    return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

static int stream_addr(const twc_transport *t, twc_addr *out, int peer)
{
    const stream *s = (const stream *)t;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc;

    twc_addr_set(out, NULL, 0);
    if (s->fd < 0)
        return TWC_ECLOSED;
    if (peer)
        rc = getpeername(s->fd, (struct sockaddr *)&ss, &len);
    else
        rc = getsockname(s->fd, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return -errno;
    twc_addr_set(out, (struct sockaddr *)&ss, len);
    return 0;
}

static int stream_peer(const twc_transport *t, twc_addr *out)
{
    return stream_addr(t, out, 1);
}

static int stream_host(const twc_transport *t, twc_addr *out)
{
    return stream_addr(t, out, 0);
}

static int stream_fd(const twc_transport *t)
{
    return ((const stream *)t)->fd;
}

static const struct twc_transport_ops tcp_ops = {
    .kind = "tcp",
    .writev = stream_writev,
    .lose_connection = stream_lose_connection,
    .abort = stream_abort,
    .shutdown_write = stream_shutdown_write,
    .pause_reading = stream_pause_reading,
    .resume_reading = stream_resume_reading,
    .buffered = stream_buffered,
    .peer = stream_peer,
    .host = stream_host,
    .fd = stream_fd,
};

static const struct twc_transport_ops unix_ops = {
    .kind = "unix",
    .writev = stream_writev,
    .lose_connection = stream_lose_connection,
    .abort = stream_abort,
    .shutdown_write = stream_shutdown_write,
    .pause_reading = stream_pause_reading,
    .resume_reading = stream_resume_reading,
    .buffered = stream_buffered,
    .peer = stream_peer,
    .host = stream_host,
    .fd = stream_fd,
};

/* ---- Internal API --------------------------------------------------------- */

twc_transport *twc__stream_new(twc_reactor *r, int fd, int is_unix, twc_err *err)
{
    stream *s = calloc(1, sizeof(*s));

    if (s == NULL)
        goto fail;
    s->io = twc_io_new(r, fd, on_io, s);
    if (s->io == NULL)
        goto fail;
    if (twc__reactor_soon_reserve(r) < 0) { /* for connection_lost (close_now) */
        twc_io_free(s->io);
        goto fail;
    }
    twc__transport_init(&s->base, is_unix ? &unix_ops : &tcp_ops, r);
    /* No cap of our own: the water marks bound the queue for protocols that
     * honour pause_producing, and the others have their reading paused. */
    twc_buf_init(&s->out, SIZE_MAX);
    twc_buf_init(&s->tail, SIZE_MAX);
    s->fd = fd;
    s->file_fd = -1;
    return &s->base;

fail:
    free(s);
    close(fd);
    twc_err_set(err, TWC_ENOMEM, "out of memory for a connection");
    return NULL;
}

void twc__stream_start(twc_transport *t, twc_protocol *p, twc_factory *f, int client_side)
{
    stream *s = (stream *)t;

    s->client = client_side ? 1 : 0;
    s->started = 1;
    twc__transport_attach(t, p, f);
    update_io(s);
}

void twc__stream_discard(twc_transport *t)
{
    stream *s = (stream *)t;

    close_now(s, 0);
    free(s);
}

void twc__stream_set_hook(twc_transport *t, struct twc__stream_hook *h)
{
    ((stream *)t)->hook = h;
}

/* ---- Zero-copy file output (lib/transport_int.h) --------------------------- */

int twc_transport_sendfile(twc_transport *t, int fd, uint64_t off, uint64_t len)
{
    stream *s = (stream *)t;

    if (t->ops != &tcp_ops && t->ops != &unix_ops)
        return TWC_EINVAL;
    if (s->file_fd >= 0)
        return TWC_EINVAL; /* one file at a time: the caller copies instead */
    if (s->closed || s->closing || s->shut_pending || s->shut_done)
        return TWC_ECLOSED;
    if (t->ops == &tcp_ops && !s->lowat) {
        int lowat = TWC_SENDFILE_NOTSENT_LOWAT;

        /* See flush_file. Best effort: kernels before 3.12 lack it. */
        (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
        s->lowat = 1;
    }
    s->file_fd = fd;
    s->file_off = off;
    s->file_len = len;
    if (twc_buf_len(&s->out) == 0)
        flush(s);
    else {
        update_io(s);
        twc__transport_buffered_changed(t);
    }
    return 0;
}
