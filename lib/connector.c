/*
 * Client connectors: a non-blocking connect(2) with a timeout, ending in
 * exactly one outcome per attempt, always delivered from the loop:
 * build() + connection_made, or connection_failed.
 *
 * TCP connects report EINPROGRESS, then writability, then SO_ERROR tells the
 * result. A UNIX connect completes (or fails) at once, except that a listener
 * with a full backlog gives EAGAIN, and nothing signals when room appears:
 * we retry on a short timer until the timeout, as a blocking connect would
 * wait. Results known inside connect(2) itself (ECONNREFUSED, ENOENT, an
 * immediate success) are queued with twc_reactor_call_soon (STYLE.md §3).
 */
#define _GNU_SOURCE
#include "stream_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "limits.h"
#include "reactor_int.h"

/* First and largest pause between UNIX connect retries after EAGAIN. */
#define UNIX_RETRY_MIN_MS 5
#define UNIX_RETRY_MAX_MS 100

enum conn_state {
    IDLE,       /* no attempt */
    CONNECTING, /* connect(2) in flight: io and/or timers armed */
    QUEUED,     /* outcome decided, delivery queued with call_soon */
};

struct twc_connector {
    twc_reactor *r;
    twc_factory *f;
    struct twc__connector_hook *hook;
    twc_addr to;
    unsigned timeout_ms;
    int fd;               /* the attempt's socket, -1 when none */
    twc_io *io;           /* watches fd for writability (TCP) */
    twc_timer *timeout;   /* TWC_ETIMEDOUT */
    twc_timer *retry;     /* UNIX EAGAIN retries; created on first need */
    uint64_t retry_ms;
    int outcome;          /* QUEUED: 0 connected (fd kept), else the error */
    enum conn_state state;
    unsigned in_callback : 1; /* inside the factory's callbacks */
    unsigned dead : 1;        /* freed: destroy after the queued outcome */
    unsigned call_queued : 1; /* deliver() is in the call-soon queue */
    unsigned slot : 1;        /* a reserved call-soon slot for the outcome;
                                 always held while CONNECTING */
};

static void destroy(twc_connector *c)
{
    twc_factory *f = c->f;

    if (c->slot)
        twc__reactor_soon_release(c->r);
    twc_timer_free(c->timeout);
    twc_timer_free(c->retry);
    free(c);
    twc_factory_do_stop(f);
}

/* Drop the attempt's watchers (the fd stays). */
static void disarm(twc_connector *c)
{
    twc_io_free(c->io);
    c->io = NULL;
    twc_timer_stop(c->timeout);
    if (c->retry != NULL)
        twc_timer_stop(c->retry);
}

static void fail(twc_connector *c, int code)
{
    char where[TWC_ADDR_STRLEN];
    twc_err why;

    twc_addr_format(&c->to, where, sizeof(where));
    if (code == TWC_ETIMEDOUT)
        twc_err_set(&why, code, "connect to %s timed out after %u ms", where, c->timeout_ms);
    else if (code == TWC_ECANCELED)
        twc_err_set(&why, code, "connect to %s cancelled", where);
    else
        twc_err_set(&why, code, "connect to %s: %s", where, twc_strerror(code));
    if (c->f->ops->connection_failed != NULL)
        c->f->ops->connection_failed(c->f, &why);
    if (c->hook != NULL)
        c->hook->failed(c->hook, &why);
}

static void succeed(twc_connector *c, int fd)
{
    twc_transport *t;
    twc_protocol *p;
    twc_err e;

    t = twc__stream_new(c->r, fd, twc_addr_family(&c->to) == AF_UNIX, &e);
    if (t == NULL) {
        fail(c, e.code);
        return;
    }
    p = c->f->ops->build(c->f, &c->to);
    if (p == NULL) {
        /* The factory refused its own connection: the attempt is over. */
        twc__stream_discard(t);
        fail(c, TWC_ECANCELED);
        return;
    }
    twc__stream_start(t, p, c->f, 1);
    if (c->hook != NULL)
        c->hook->made(c->hook, t);
}

/* The attempt is over: tell the factory (from the loop, by construction). */
static void finish(twc_connector *c, int code)
{
    int fd = c->fd;

    disarm(c);
    c->fd = -1;
    c->state = IDLE;
    c->in_callback = 1;
    if (code == 0 && !c->dead) {
        succeed(c, fd);
    } else {
        if (fd >= 0)
            close(fd);
        if (code == 0)
            code = TWC_ECANCELED;
        fail(c, code);
    }
    c->in_callback = 0;
    if (c->dead && c->state == IDLE && !c->call_queued)
        destroy(c);
}

static void deliver(void *arg)
{
    twc_connector *c = arg;

    c->call_queued = 0;
    if (c->state != QUEUED) {
        if (c->dead && c->state == IDLE)
            destroy(c);
        return;
    }
    finish(c, c->outcome);
}

/* Decide the outcome now, deliver it from the loop. */
static void queue_outcome(twc_connector *c, int code)
{
    disarm(c);
    if (code != 0 && c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->outcome = code;
    c->state = QUEUED;
    if (c->call_queued)
        return;
    /* The slot the attempt reserved when it started: this cannot fail, so
     * the outcome always comes from the loop, even out of memory. */
    c->slot = 0;
    c->call_queued = 1;
    twc__reactor_call_soon_reserved(c->r, deliver, c);
}

static void on_writable(twc_io *io, unsigned events, void *arg)
{
    twc_connector *c = arg;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    (void)io;
    (void)events;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return;
    finish(c, soerr == 0 ? 0 : -soerr);
}

static void on_timeout(twc_timer *t, void *arg)
{
    (void)t;
    finish(arg, TWC_ETIMEDOUT);
}

static int try_connect(twc_connector *c);

static void on_retry(twc_timer *t, void *arg)
{
    twc_connector *c = arg;
    int rc;

    (void)t;
    rc = try_connect(c);
    if (rc != 1)
        finish(c, rc);
}

/* Returns 1 while in progress, 0 connected, or a negative code. */
static int try_connect(twc_connector *c)
{
    if (connect(c->fd, (const struct sockaddr *)&c->to.ss, c->to.len) == 0)
        return 0;
    if (errno == EINPROGRESS || errno == EINTR) {
        /* EINTR: the connect goes on in the background (POSIX connect()). */
        if (c->io == NULL) {
            c->io = twc_io_new(c->r, c->fd, on_writable, c);
            if (c->io == NULL)
                return TWC_ENOMEM;
        }
        return twc_io_set(c->io, TWC_IO_WRITE) < 0 ? TWC_ENOMEM : 1;
    }
    if (errno == EAGAIN && twc_addr_family(&c->to) == AF_UNIX) {
        if (c->retry == NULL) {
            c->retry = twc_timer_new(c->r, on_retry, c);
            if (c->retry == NULL)
                return TWC_ENOMEM;
            c->retry_ms = UNIX_RETRY_MIN_MS;
        }
        twc_timer_start(c->retry, c->retry_ms, 0);
        if (c->retry_ms < UNIX_RETRY_MAX_MS)
            c->retry_ms *= 2;
        return 1;
    }
    return -errno;
}

int twc_connector_connect(twc_connector *c, twc_err *err)
{
    int one = 1, rc;

    if (c->state != IDLE || c->dead)
        return twc_err_set(err, TWC_EINVAL, "a connection attempt is already in progress");
    if (!c->slot) {
        /* The outcome's call-soon slot, taken now so that queueing it later
         * cannot fail: out of memory is refused here, before the attempt. */
        if (twc__reactor_soon_reserve(c->r) < 0)
            return twc_err_set(err, TWC_ENOMEM, "out of memory for a connection attempt");
        c->slot = 1;
    }
    c->state = CONNECTING;
    c->retry_ms = UNIX_RETRY_MIN_MS;
    c->fd = socket(twc_addr_family(&c->to), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        /* EMFILE and friends: still an outcome of this attempt. */
        queue_outcome(c, -errno);
        return 0;
    }
    if (twc_addr_family(&c->to) != AF_UNIX)
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rc = try_connect(c);
    if (rc != 1) {
        queue_outcome(c, rc);
        return 0;
    }
    twc_timer_start(c->timeout, c->timeout_ms, 0);
    return 0;
}

twc_connector *twc_connector_new(twc_reactor *r, const twc_addr *to, unsigned timeout_ms,
                                 twc_factory *f, twc_err *err)
{
    twc_connector *c;
    int fam = twc_addr_family(to);

    if (fam != AF_INET && fam != AF_INET6 && fam != AF_UNIX) {
        twc_err_set(err, TWC_EINVAL, "cannot connect: no ip or unix address");
        return NULL;
    }
    if (twc_addr_port(to) == 0 && fam != AF_UNIX) {
        twc_err_set(err, TWC_EINVAL, "cannot connect to port 0");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto nomem;
    c->timeout = twc_timer_new(r, on_timeout, c);
    if (c->timeout == NULL)
        goto nomem;
    c->r = r;
    c->f = f;
    c->to = *to;
    c->timeout_ms = timeout_ms != 0 ? timeout_ms : TWC_CONNECT_TIMEOUT_MS;
    c->fd = -1;
    c->state = IDLE;
    twc_factory_do_start(f);
    if (twc_connector_connect(c, err) < 0) {
        destroy(c); /* stops the factory again */
        return NULL;
    }
    return c;

nomem:
    free(c);
    twc_err_set(err, TWC_ENOMEM, "out of memory for a connector");
    return NULL;
}

void twc_connector_stop(twc_connector *c)
{
    if (c == NULL)
        return;
    if (c->state == CONNECTING) {
        queue_outcome(c, TWC_ECANCELED);
    } else if (c->state == QUEUED) {
        /* Decided, but the factory has not heard: after a stop it always
         * hears "cancelled" (a connected socket is closed unused). */
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        c->outcome = TWC_ECANCELED;
    }
}

void twc_connector_free(twc_connector *c)
{
    if (c == NULL || c->dead)
        return;
    twc_connector_stop(c);
    c->dead = 1;
    c->hook = NULL;
    /* With an outcome queued or a callback running, the last of them frees. */
    if (c->state == IDLE && !c->in_callback && !c->call_queued)
        destroy(c);
}

void twc__connector_set_hook(twc_connector *c, struct twc__connector_hook *h)
{
    c->hook = h;
}
