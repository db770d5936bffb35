/*
 * The reactor core: creation, the iteration, I/O watchers, the call-soon and
 * call-from-thread queues, the wake channel, and stop with shutdown hooks.
 * Timers live in lib/timer.c, signals in lib/reactor_signal.c, the kernel
 * interfaces in lib/backend_epoll.c and lib/backend_poll.c.
 *
 * One iteration (twc_reactor_run_once):
 *   1. wait in the backend (not at all when call-soon work is queued or a stop
 *      is pending; until the next timer on the real clock), collecting a ready
 *      list;
 *   2. refresh the cached time, run the I/O callbacks of the ready list;
 *   3. run due timers;
 *   4. run the call-soon callbacks queued before this step (those they queue
 *      wait for the next iteration, so call-soon cannot starve I/O);
 *   5. if a stop was asked for: shutdown hooks (latest first), then drain the
 *      queues, and twc_reactor_run returns.
 *
 * Freed watchers: twc_io_free removes the fd from the backend at once (the
 * caller closes it right after), but while the ready list is being
 * dispatched the watcher's memory stays allocated, marked dead, so a later
 * entry of the same batch naming it is skipped instead of read after free.
 *
 * The wake channel is an eventfd with the epoll backend and a self-pipe with
 * poll (the portable pair), so both paths are exercised on Linux. It carries
 * wakeups from other threads and from signal handlers alike.
 */
#define _GNU_SOURCE
#include "reactor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "limits.h"
#include "log.h"
#include "reactor_impl.h"
#include "reactor_int.h"

/* Passes of the call-soon queue when settling (stop, fake-clock advance): a
 * callback that keeps re-queueing itself must not hang the stop. */
#define SOON_DRAIN_PASSES 1024

#define WAIT_MS_MAX INT_MAX

static const struct twc__backend_ops *const backends[] = {
#ifdef __linux__
    &twc__backend_epoll,
#endif
    &twc__backend_poll,
};

static const struct twc__backend_ops *find_backend(const char *name, twc_err *err)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return backends[0];
    for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    }
#ifdef __linux__
    twc_err_set(err, TWC_EINVAL, "unknown reactor backend \"%s\" (expected epoll or poll)", name);
#else
    twc_err_set(err, TWC_EINVAL, "unknown reactor backend \"%s\" (expected poll)", name);
#endif
    return NULL;
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- wake channel ----------------------------------------------------------- */

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int open_wake(twc_reactor *r, twc_err *err)
{
    int fds[2];

#ifdef __linux__
    if (r->backend == &twc__backend_epoll) {
        int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

        if (fd < 0)
            return twc_err_sys(err, errno, "reactor: eventfd");
        r->wake_rd = r->wake_wr = fd;
        r->wake_eventfd = 1;
        return 0;
    }
#endif
    if (pipe(fds) < 0)
        return twc_err_sys(err, errno, "reactor: pipe");
    r->wake_rd = fds[0];
    r->wake_wr = fds[1];
    if (set_flags(fds[0]) < 0 || set_flags(fds[1]) < 0)
        return twc_err_sys(err, errno, "reactor: fcntl on wake pipe");
    return 0;
}

static void drain_wake(twc_reactor *r)
{
    uint64_t v;
    char sink[256];

    if (r->wake_eventfd) {
        (void)!read(r->wake_rd, &v, sizeof(v));
        return;
    }
    while (read(r->wake_rd, sink, sizeof(sink)) > 0)
        ;
}

void twc_reactor_wake(twc_reactor *r)
{
    int saved_errno = errno;

    /* Only write(2): async-signal-safe. EAGAIN means a wakeup is pending already. */
    if (r->wake_eventfd) {
        uint64_t one = 1;

        (void)!write(r->wake_wr, &one, sizeof(one));
    } else {
        char c = 0;

        (void)!write(r->wake_wr, &c, 1);
    }
    errno = saved_errno;
}

/* Run the callbacks other threads queued so far, in order. */
static size_t run_thread_calls(twc_reactor *r)
{
    struct twc__tcall *c, *next;
    size_t n = 0;

    pthread_mutex_lock(&r->tlock);
    c = r->thead;
    r->thead = r->ttail = NULL;
    pthread_mutex_unlock(&r->tlock);
    for (; c != NULL; c = next) {
        next = c->next;
        c->fn(c->arg);
        free(c);
        n++;
    }
    return n;
}

static void on_wake(twc_io *io, unsigned events, void *arg)
{
    twc_reactor *r = arg;

    (void)io;
    (void)events;
    /* Drain first: a wakeup written while we run the callbacks below stays
     * pending and brings us back. */
    drain_wake(r);
    twc__signals_dispatch(r);
    run_thread_calls(r);
}

int twc_reactor_call_from_thread(twc_reactor *r, twc_call_fn fn, void *arg)
{
    struct twc__tcall *c = malloc(sizeof(*c));

    if (c == NULL)
        return TWC_ENOMEM;
    c->next = NULL;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&r->tlock);
    if (r->ttail != NULL)
        r->ttail->next = c;
    else
        r->thead = c;
    r->ttail = c;
    pthread_mutex_unlock(&r->tlock);
    twc_reactor_wake(r);
    return 0;
}

/* ---- creation --------------------------------------------------------------- */

twc_reactor *twc_reactor_new(const struct twc_reactor_opts *opts, twc_err *err)
{
    const char *name = opts != NULL ? opts->backend : NULL;
    const struct twc__backend_ops *be;
    twc_reactor *r;

    if (name == NULL)
        name = getenv("TWC_REACTOR");
    be = find_backend(name, err);
    if (be == NULL)
        return NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        twc_err_set(err, TWC_ENOMEM, "reactor: out of memory");
        return NULL;
    }
    r->backend = be;
    r->fake_clock = opts != NULL && opts->fake_clock;
    r->now = r->fake_clock ? 0 : monotonic_ms();
    r->wake_rd = r->wake_wr = -1;
    pthread_mutex_init(&r->tlock, NULL);
    r->readbuf = malloc(TWC_READ_CHUNK);
    if (r->readbuf == NULL) {
        twc_err_set(err, TWC_ENOMEM, "reactor: out of memory");
        goto fail;
    }
    if (be->init(r, err) < 0)
        goto fail;
    if (open_wake(r, err) < 0)
        goto fail;
    r->wake_io = twc_io_new(r, r->wake_rd, on_wake, r);
    if (r->wake_io == NULL) {
        twc_err_set(err, TWC_ENOMEM, "reactor: out of memory");
        goto fail;
    }
    /* The reactor's own watcher is not a handle the caller must free. */
    r->wake_io->internal = 1;
    r->live_ios--;
    if (twc_io_set(r->wake_io, TWC_IO_READ) < 0) {
        twc_err_set(err, TWC_EINTERNAL, "reactor: cannot watch the wake fd");
        goto fail;
    }
    twc__signals_ignore_sigpipe();
    return r;

fail:
    twc_reactor_free(r);
    return NULL;
}

void twc_reactor_free(twc_reactor *r)
{
    struct twc__tcall *c, *next;
    twc_io *io;

    if (r == NULL)
        return;
#ifndef NDEBUG
    if (r->live_ios + r->live_timers > 0)
        twc_log_warnx(r, "reactor", "freed with %zu live handles (%zu watchers, %zu timers)",
                      r->live_ios + r->live_timers, r->live_ios, r->live_timers);
#endif
    twc__signals_cleanup(r);
    twc_io_free(r->wake_io);
    while ((io = r->dead) != NULL) {
        r->dead = io->next_dead;
        free(io);
    }
    if (r->wake_rd >= 0)
        close(r->wake_rd);
    if (r->wake_wr >= 0 && r->wake_wr != r->wake_rd)
        close(r->wake_wr);
    if (r->bdata != NULL)
        r->backend->cleanup(r);
    twc__timers_cleanup(r);
    for (c = r->thead; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    pthread_mutex_destroy(&r->tlock);
    free(r->ready);
    free(r->soon);
    free(r->hooks);
    free(r->readbuf);
    free(r);
}

const char *twc_reactor_backend(const twc_reactor *r)
{
    return r->backend->name;
}

/* ---- internals for other modules (reactor_int.h) ------------------------------ */

uint8_t *twc__reactor_read_buf(twc_reactor *r, size_t *len)
{
    *len = TWC_READ_CHUNK;
    return r->readbuf;
}

void **twc__reactor_slot(twc_reactor *r, enum twc__reactor_slot_id id)
{
    return &r->slots[id];
}

int twc__reactor_fake_clock(const twc_reactor *r)
{
    return r->fake_clock;
}

/* ---- time --------------------------------------------------------------------- */

uint64_t twc_reactor_now(const twc_reactor *r)
{
    return r->now;
}

void twc_reactor_update_time(twc_reactor *r)
{
    uint64_t t;

    if (r->fake_clock)
        return;
    /* CLOCK_MONOTONIC never goes back, but keep the cache monotonic anyway:
     * timers rely on now never decreasing. */
    t = monotonic_ms();
    if (t > r->now)
        r->now = t;
}

void twc_reactor_advance(twc_reactor *r, uint64_t ms)
{
    uint64_t target;

    if (!r->fake_clock)
        return;
    target = r->now > UINT64_MAX - ms ? UINT64_MAX : r->now + ms;
    twc__timers_advance(r, target);
    twc__soon_drain(r);
}

/* ---- call soon ---------------------------------------------------------------- */

/* Make room for n more calls beside the reserved slots. */
static int soon_room(twc_reactor *r, size_t n)
{
    size_t need = r->soon_len + r->soon_reserved + n, cap, i;
    struct twc__call *q;

    if (need <= r->soon_cap)
        return 0;
    for (cap = r->soon_cap ? r->soon_cap * 2 : 64; cap < need; cap *= 2)
        ;
    if ((q = malloc(cap * sizeof(*q))) == NULL)
        return TWC_ENOMEM;
    /* Unwrap the ring into the new array, oldest first. */
    for (i = 0; i < r->soon_len; i++)
        q[i] = r->soon[(r->soon_head + i) % r->soon_cap];
    free(r->soon);
    r->soon = q;
    r->soon_cap = cap;
    r->soon_head = 0;
    return 0;
}

static void soon_push(twc_reactor *r, twc_call_fn fn, void *arg)
{
    r->soon[(r->soon_head + r->soon_len) % r->soon_cap] = (struct twc__call){fn, arg};
    r->soon_len++;
}

int twc_reactor_call_soon(twc_reactor *r, twc_call_fn fn, void *arg)
{
    if (soon_room(r, 1) < 0)
        return TWC_ENOMEM;
    soon_push(r, fn, arg);
    return 0;
}

int twc__reactor_soon_reserve(twc_reactor *r)
{
    if (soon_room(r, 1) < 0)
        return TWC_ENOMEM;
    r->soon_reserved++;
    return 0;
}

void twc__reactor_call_soon_reserved(twc_reactor *r, twc_call_fn fn, void *arg)
{
    /* soon_len + soon_reserved <= soon_cap held before: the slot is there. */
    r->soon_reserved--;
    soon_push(r, fn, arg);
}

void twc__reactor_soon_release(twc_reactor *r)
{
    r->soon_reserved--;
}

size_t twc__soon_pass(twc_reactor *r)
{
    size_t n = r->soon_len, i;

    /* Only what was queued before the pass: callbacks queued by these run on
     * the next pass. Pop before calling, since a callback may grow the ring. */
    for (i = 0; i < n; i++) {
        struct twc__call c = r->soon[r->soon_head];

        r->soon_head = (r->soon_head + 1) % r->soon_cap;
        r->soon_len--;
        c.fn(c.arg);
    }
    return n;
}

void twc__soon_drain(twc_reactor *r)
{
    int pass;

    for (pass = 0; pass < SOON_DRAIN_PASSES; pass++) {
        if (run_thread_calls(r) + twc__soon_pass(r) == 0)
            break;
    }
}

/* ---- stop and shutdown hooks --------------------------------------------------- */

void twc_reactor_stop(twc_reactor *r)
{
    r->stopping = 1;
}

int twc_reactor_stopping(const twc_reactor *r)
{
    return r->stopping;
}

int twc_reactor_add_shutdown_hook(twc_reactor *r, twc_call_fn fn, void *arg)
{
    if (r->nhooks == r->hooks_cap) {
        size_t cap = r->hooks_cap ? r->hooks_cap * 2 : 8;
        struct twc__call *h = realloc(r->hooks, cap * sizeof(*h));

        if (h == NULL)
            return TWC_ENOMEM;
        r->hooks = h;
        r->hooks_cap = cap;
    }
    r->hooks[r->nhooks++] = (struct twc__call){fn, arg};
    return 0;
}

void twc_reactor_remove_shutdown_hook(twc_reactor *r, twc_call_fn fn, void *arg)
{
    size_t i;

    /* The latest matching registration, mirroring the run order. */
    for (i = r->nhooks; i-- > 0;) {
        if (r->hooks[i].fn == fn && r->hooks[i].arg == arg) {
            memmove(&r->hooks[i], &r->hooks[i + 1], (r->nhooks - i - 1) * sizeof(r->hooks[0]));
            r->nhooks--;
            return;
        }
    }
}

static void stop_sequence(twc_reactor *r)
{
    /* Latest first, popping each before its call: a hook may add or remove
     * hooks (a removed one then never runs). */
    while (r->nhooks > 0) {
        struct twc__call h = r->hooks[--r->nhooks];

        h.fn(h.arg);
    }
    twc__soon_drain(r);
    r->stopping = 0;
    r->stopped = 1;
}

/* ---- I/O watchers -------------------------------------------------------------- */

twc_io *twc_io_new(twc_reactor *r, int fd, twc_io_fn cb, void *arg)
{
    twc_io *io;

    if (fd < 0)
        return NULL;
    io = calloc(1, sizeof(*io));
    if (io == NULL)
        return NULL;
    io->reactor = r;
    io->fd = fd;
    io->cb = cb;
    io->arg = arg;
    io->bidx = -1;
    r->live_ios++;
    return io;
}

int twc_io_set(twc_io *io, unsigned events)
{
    twc_reactor *r = io->reactor;
    unsigned old = io->events;
    int rc;

    events &= TWC_IO_READ | TWC_IO_WRITE;
    if (io->dead)
        return TWC_EINVAL;
    if (events == old)
        return 0; /* the common case on every write: no syscall */
    io->events = events;
    r->backend_calls++;
    rc = r->backend->set(r, io, old);
    if (rc < 0)
        io->events = old;
    return rc;
}

unsigned twc_io_events(const twc_io *io)
{
    return io->events;
}

int twc_io_fd(const twc_io *io)
{
    return io->fd;
}

void twc_io_free(twc_io *io)
{
    twc_reactor *r;

    if (io == NULL || io->dead)
        return;
    r = io->reactor;
    (void)twc_io_set(io, 0);
    io->dead = 1;
    if (!io->internal)
        r->live_ios--;
    if (r->dispatching) {
        io->next_dead = r->dead;
        r->dead = io;
    } else {
        free(io);
    }
}

int twc__reactor_ready(twc_reactor *r, twc_io *io, unsigned events)
{
    if (r->nready == r->ready_cap) {
        size_t cap = r->ready_cap ? r->ready_cap * 2 : 256;
        struct twc__ready *rd = realloc(r->ready, cap * sizeof(*rd));

        if (rd == NULL)
            return TWC_ENOMEM;
        r->ready = rd;
        r->ready_cap = cap;
    }
    r->ready[r->nready++] = (struct twc__ready){io, events};
    return 0;
}

static void dispatch_ready(twc_reactor *r)
{
    size_t i;
    twc_io *io;

    r->dispatching = 1;
    for (i = 0; i < r->nready; i++) {
        unsigned ev;

        io = r->ready[i].io;
        if (io->dead || io->events == 0)
            continue;
        /* Deliver what the watcher still asks for (an earlier callback of this
         * batch may have changed its mask); an error goes with its interest so
         * the read or write that follows reports it. */
        ev = r->ready[i].events;
        if (ev & TWC_IO_ERROR)
            ev |= io->events;
        ev &= io->events | TWC_IO_ERROR;
        if (ev != 0)
            io->cb(io, ev, io->arg);
    }
    r->nready = 0;
    r->dispatching = 0;
    while ((io = r->dead) != NULL) {
        r->dead = io->next_dead;
        free(io);
    }
}

/* ---- the loop ------------------------------------------------------------------- */

static int has_work(twc_reactor *r)
{
    int queued;

    if (r->live_ios + r->live_timers > 0 || r->soon_len > 0)
        return 1;
    pthread_mutex_lock(&r->tlock);
    queued = r->thead != NULL;
    pthread_mutex_unlock(&r->tlock);
    return queued;
}

/* How long the backend may block: timeout_ms (-1: no limit), shortened by the
 * next timer on the real clock, 0 when work is already queued. */
static int wait_timeout(twc_reactor *r, int timeout_ms)
{
    uint64_t due, delta;

    if (r->soon_len > 0 || r->stopping)
        return 0;
    if (r->fake_clock || !twc__timers_next(r, &due))
        return timeout_ms;
    delta = due > r->now ? due - r->now : 0;
    if (delta > (uint64_t)WAIT_MS_MAX)
        delta = (uint64_t)WAIT_MS_MAX;
    if (timeout_ms < 0 || (uint64_t)timeout_ms > delta)
        return (int)delta;
    return timeout_ms;
}

/* One iteration. Returns 0, or a negative code when the backend failed. */
static int iterate(twc_reactor *r, int timeout_ms)
{
    int rc;

    twc_reactor_update_time(r);
    rc = r->backend->wait(r, wait_timeout(r, timeout_ms));
    twc_reactor_update_time(r);
    if (rc < 0) {
        r->nready = 0;
        return rc;
    }
    dispatch_ready(r);
    twc__timers_run(r);
    twc__soon_pass(r);
    if (r->stopping)
        stop_sequence(r);
    return 0;
}

int twc_reactor_run_once(twc_reactor *r, int timeout_ms)
{
    int rc;

    if (r->in_iteration)
        return TWC_EINVAL; /* not reentrant: a callback cannot run the loop */
    r->in_iteration = 1;
    rc = iterate(r, timeout_ms);
    r->in_iteration = 0;
    if (rc < 0) {
        twc_log_errorx(r, "reactor", "%s wait failed: %s", r->backend->name, twc_strerror(rc));
        return rc;
    }
    return has_work(r);
}

int twc_reactor_run(twc_reactor *r)
{
    int rc = 0;

    if (r->in_iteration)
        return TWC_EINVAL;
    r->in_iteration = 1;
    r->stopped = 0;
    while (!r->stopped) {
        rc = iterate(r, -1);
        if (rc < 0)
            break;
    }
    r->stopped = 0;
    r->in_iteration = 0;
    if (rc < 0)
        twc_log_errorx(r, "reactor", "%s wait failed: %s", r->backend->name, twc_strerror(rc));
    return rc;
}

/* ---- misc ------------------------------------------------------------------------- */

size_t twc_reactor_live_handles(const twc_reactor *r)
{
    return r->live_ios + r->live_timers;
}

void twc_reactor_set_log(twc_reactor *r, twc_log *log)
{
    r->log = log;
}

twc_log *twc_reactor_log(const twc_reactor *r)
{
    return r->log;
}
