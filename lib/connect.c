/*
 * Connect by name: a coroutine (lib/coro.h) awaits the lookup, then a race of
 * connection attempts (RFC 8305).
 *
 * The race owns raw non-blocking sockets until one connects; only the winner
 * becomes a stream transport (lib/stream_int.h), so losers never reach the
 * factory and need no protocol.
 */
#define _GNU_SOURCE
#include "connect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro.h"
#include "limits.h"
#include "stream_int.h"

struct race;

struct attempt {
    struct race *race;
    int fd; /* -1 when not started or finished */
    twc_io *io;
    twc_addr addr;
};

struct race {
    twc_reactor *reactor;
    twc_factory *factory;
    twc_deferred *d;      /* producer's reference */
    twc_timer *stagger;   /* starts the next attempt */
    twc_timer *deadline;  /* the whole connect */
    size_t n, next, inflight;
    twc_err last;         /* most recent failure */
    struct attempt a[];   /* n attempts, in the order to try them */
};

static void race_free(struct race *rc)
{
    size_t i;

    for (i = 0; i < rc->n; i++) {
        twc_io_free(rc->a[i].io);
        if (rc->a[i].fd >= 0)
            close(rc->a[i].fd);
    }
    twc_timer_free(rc->stagger);
    twc_timer_free(rc->deadline);
    free(rc);
}

static void race_fail(struct race *rc, const twc_err *why)
{
    twc_deferred *d = rc->d;
    twc_err copy = *why;

    race_free(rc);
    twc_deferred_reject_err(d, &copy);
}

static void attempt_close(struct attempt *at)
{
    twc_io_free(at->io);
    at->io = NULL;
    if (at->fd >= 0)
        close(at->fd);
    at->fd = -1;
}

static void start_next(struct race *rc);

/* An attempt failed: RFC 8305 §5 starts the next one at once. */
static void attempt_failed(struct attempt *at, int sys_errno)
{
    struct race *rc = at->race;
    char buf[TWC_ADDR_STRLEN];

    attempt_close(at);
    rc->inflight--;
    twc_err_sys(&rc->last, sys_errno, "connect %s", twc_addr_format(&at->addr, buf, sizeof(buf)));
    start_next(rc);
}

static void attempt_won(struct attempt *at)
{
    struct race *rc = at->race;
    twc_reactor *r = rc->reactor;
    twc_factory *f = rc->factory;
    twc_deferred *d = rc->d;
    twc_addr peer = at->addr;
    twc_transport *t;
    twc_protocol *p;
    twc_err err;
    int fd = at->fd;

    /* Detach the winning socket, then close every other attempt. */
    twc_io_free(at->io);
    at->io = NULL;
    at->fd = -1;
    race_free(rc);
    t = twc__stream_new(r, fd, 0, &err); /* closes fd on failure */
    if (t == NULL) {
        twc_deferred_reject_err(d, &err);
        return;
    }
    p = f->ops->build(f, &peer);
    if (p == NULL) {
        twc__stream_discard(t);
        twc_deferred_reject(d, TWC_EPROTO, "connect: the factory refused the connection");
        return;
    }
    twc__stream_start(t, p, f, 1);
    twc_deferred_resolve(d, p, NULL);
}

static void on_attempt(twc_io *io, unsigned events, void *arg)
{
    struct attempt *at = arg;
    socklen_t len = sizeof(int);
    int soerr = 0;

    (void)io;
    (void)events;
    if (getsockopt(at->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == 0)
        attempt_won(at);
    else
        attempt_failed(at, soerr);
}

/* Open a socket and start connecting. Returns 0 when in progress (or done), or
 * the errno of an immediate failure. */
static int attempt_start(struct race *rc, struct attempt *at)
{
    int fd, one = 1;

    fd = socket(twc_addr_family(&at->addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&at->addr.ss, at->addr.len) < 0 &&
        errno != EINPROGRESS) {
        int e = errno;

        close(fd);
        return e;
    }
    at->fd = fd;
    at->io = twc_io_new(rc->reactor, fd, on_attempt, at);
    if (at->io == NULL || twc_io_set(at->io, TWC_IO_WRITE) < 0) {
        attempt_close(at);
        return ENOMEM;
    }
    rc->inflight++;
    return 0;
}

/* Start attempts until one is in flight (immediate failures move on), arm the
 * stagger timer for the one after, or fail the race once nothing is left. */
static void start_next(struct race *rc)
{
    char buf[TWC_ADDR_STRLEN];

    while (rc->next < rc->n) {
        struct attempt *at = &rc->a[rc->next++];
        int e = attempt_start(rc, at);

        if (e == 0) {
            if (rc->next < rc->n)
                twc_timer_start(rc->stagger, TWC_HAPPY_EYEBALLS_DELAY_MS, 0);
            return;
        }
        twc_err_sys(&rc->last, e, "connect %s", twc_addr_format(&at->addr, buf, sizeof(buf)));
    }
    if (rc->inflight == 0)
        race_fail(rc, &rc->last);
}

static void on_stagger(twc_timer *t, void *arg)
{
    (void)t;
    start_next(arg);
}

static void on_deadline(twc_timer *t, void *arg)
{
    struct race *rc = arg;
    twc_err err;

    (void)t;
    twc_err_set(&err, TWC_ETIMEDOUT, "connect: timed out");
    race_fail(rc, &err);
}

static void race_cancel(void *arg, twc_deferred *d)
{
    (void)d;
    /* The deferred fails with TWC_ECANCELED when we return. */
    race_free(arg);
}

/* RFC 8305 §4: alternate address families, starting with the family of the
 * first (most preferred, RFC 6724-sorted by c-ares) address. */
static void interleave(const twc_addrlist *in, struct attempt *out)
{
    int first = twc_addr_family(&in->addrs[0]);
    size_t i, j = 0, k = 0, o = 0;

    while (o < in->n) {
        int want = o % 2 == 0 ? first : (first == AF_INET ? AF_INET6 : AF_INET);
        size_t *cur = want == first ? &j : &k;

        while (*cur < in->n && twc_addr_family(&in->addrs[*cur]) != want)
            (*cur)++;
        if (*cur == in->n) {
            /* This family is exhausted: take the rest of the other in order. */
            size_t *other = cur == &j ? &k : &j;

            for (i = *other; i < in->n && o < in->n; i++)
                if (twc_addr_family(&in->addrs[i]) != want)
                    out[o++].addr = in->addrs[i];
            break;
        }
        out[o++].addr = in->addrs[(*cur)++];
    }
}

static twc_deferred *race_start(twc_reactor *r, const twc_addrlist *list, unsigned timeout_ms,
                                twc_factory *f)
{
    struct race *rc;
    size_t i;

    rc = calloc(1, sizeof(*rc) + list->n * sizeof(rc->a[0]));
    if (rc == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "connect: out of memory");
    rc->reactor = r;
    rc->factory = f;
    rc->n = list->n;
    for (i = 0; i < rc->n; i++) {
        rc->a[i].race = rc;
        rc->a[i].fd = -1;
    }
    interleave(list, rc->a);
    rc->stagger = twc_timer_new(r, on_stagger, rc);
    rc->deadline = twc_timer_new(r, on_deadline, rc);
    if (rc->stagger == NULL || rc->deadline == NULL) {
        race_free(rc);
        return twc_deferred_fail(TWC_ENOMEM, "connect: out of memory");
    }
    rc->d = twc_deferred_new(race_cancel, rc);
    twc_deferred_set_reactor(rc->d, r);
    twc_timer_start(rc->deadline, timeout_ms, 0);
    {
        twc_deferred *d = rc->d;

        start_next(rc); /* may fail the race (and free rc) at once */
        return d;
    }
}

/* ---- The coroutine: resolve, then race ---------------------------------- */

struct hconnect {
    twc_coro coro; /* first member */
    twc_reactor *reactor;
    twc_resolver *res;
    twc_factory *factory;
    char *host;
    uint16_t port;
    unsigned timeout_ms;
    uint64_t started;
    twc_addrlist *addrs;
    twc_protocol *proto;
};

/* The lookup, bounded by the connect timeout (c-ares' own retries may be longer). */
static twc_deferred *resolve_bounded(struct hconnect *h)
{
    twc_deferred *d = twc_resolve(h->res, h->host, h->port, AF_UNSPEC);

    if (twc_deferred_add_timeout(d, h->reactor, h->timeout_ms) < 0) {
        twc_deferred_cancel(d);
        twc_deferred_unref(d);
        return twc_deferred_fail(TWC_ENOMEM, "connect %s: out of memory", h->host);
    }
    return d;
}

static void hconnect_run(twc_coro *c)
{
    struct hconnect *h = (struct hconnect *)c;
    uint64_t spent;

    TWC_CORO_BEGIN(c);
    TWC_CORO_AWAIT(c, resolve_bounded(h), h->addrs);
    /* The timeout covers the lookup too. */
    spent = twc_reactor_now(h->reactor) - h->started;
    if (spent >= h->timeout_ms)
        TWC_CORO_FAIL(c, TWC_ETIMEDOUT, "connect %s: timed out", h->host);
    TWC_CORO_AWAIT(c, race_start(h->reactor, h->addrs, (unsigned)(h->timeout_ms - spent), h->factory),
                   h->proto);
    TWC_CORO_RETURN(c, h->proto, NULL);
    TWC_CORO_END(c);
}

static void hconnect_fini(twc_coro *c)
{
    struct hconnect *h = (struct hconnect *)c;

    twc_addrlist_free(h->addrs);
    free(h->host);
    free(h);
}

twc_deferred *twc_connect_host(twc_reactor *r, twc_resolver *res, const char *host, uint16_t port,
                               unsigned timeout_ms, twc_factory *f)
{
    struct hconnect *h = calloc(1, sizeof(*h));

    if (h == NULL || (h->host = strdup(host)) == NULL) {
        free(h);
        return twc_deferred_fail(TWC_ENOMEM, "connect %s: out of memory", host);
    }
    h->reactor = r;
    h->res = res;
    h->factory = f;
    h->port = port;
    h->timeout_ms = timeout_ms ? timeout_ms : TWC_CONNECT_TIMEOUT_MS;
    h->started = twc_reactor_now(r);
    return twc_coro_start(&h->coro, hconnect_run, hconnect_fini);
}
