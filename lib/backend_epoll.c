/*
 * The epoll(7) backend (Linux), the default there.
 *
 * Level-triggered: a watcher is told again on every iteration while its fd
 * stays ready and its mask asks for it. That is the simplest correct contract
 * for the transports above (they may stop reading after TWC_READS_PER_WAKEUP
 * reads and rely on being called again), and because twc_io_set does no
 * syscall when the mask is unchanged, transports arm write interest only while
 * output is queued (Redis), so level triggering costs no extra wakeups.
 *
 * The kernel keeps the watcher pointer (data.ptr). A mask going to 0 removes
 * the fd (EPOLL_CTL_DEL), so an idle paused fd costs the kernel nothing.
 *
 * epoll refuses regular files and some character devices with EPERM, yet poll
 * reports them always ready, and `twc client tcp < file` must work: such
 * watchers go on an "always ready" list that is reported on every wait (which
 * then does not block), the way libev and Node handle files.
 */
#define _GNU_SOURCE
#include "reactor.h"

#ifdef __linux__

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "limits.h"
#include "reactor_impl.h"

struct epoll_state {
    int epfd;
    struct epoll_event events[TWC_EPOLL_EVENTS];
    twc_io **always; /* watchers epoll refused (EPERM): always ready */
    size_t nalways;
    size_t always_cap;
};

/* bidx for epoll: -1 not registered, 0 registered with the kernel, k+1 at
 * always[k]. */
enum {
    IN_KERNEL = 0
};

static int epoll_init_backend(twc_reactor *r, twc_err *err)
{
    struct epoll_state *es = calloc(1, sizeof(*es));

    if (es == NULL)
        return twc_err_set(err, TWC_ENOMEM, "reactor: out of memory");
    es->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (es->epfd < 0) {
        int e = errno;

        free(es);
        return twc_err_sys(err, e, "reactor: epoll_create1");
    }
    r->bdata = es;
    return 0;
}

static void epoll_cleanup(twc_reactor *r)
{
    struct epoll_state *es = r->bdata;

    if (es == NULL)
        return;
    close(es->epfd);
    free(es->always);
    free(es);
    r->bdata = NULL;
}

static uint32_t to_epoll(unsigned events)
{
    uint32_t ev = 0;

    if (events & TWC_IO_READ)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (events & TWC_IO_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

static int always_add(struct epoll_state *es, twc_io *io)
{
    if (es->nalways == es->always_cap) {
        size_t cap = es->always_cap ? es->always_cap * 2 : 8;
        twc_io **a = realloc(es->always, cap * sizeof(*a));

        if (a == NULL)
            return -ENOMEM;
        es->always = a;
        es->always_cap = cap;
    }
    es->always[es->nalways] = io;
    io->bidx = (int)++es->nalways;
    return 0;
}

static void always_remove(struct epoll_state *es, twc_io *io)
{
    size_t i = (size_t)io->bidx - 1;

    es->nalways--;
    if (i != es->nalways) {
        es->always[i] = es->always[es->nalways];
        es->always[i]->bidx = (int)i + 1;
    }
    io->bidx = -1;
}

static int epoll_set(twc_reactor *r, twc_io *io, unsigned old)
{
    struct epoll_state *es = r->bdata;
    struct epoll_event ev;

    (void)old;
    if (io->bidx > IN_KERNEL) {
        /* An always-ready fd: the mask is all there is to change. */
        if (io->events == 0)
            always_remove(es, io);
        return 0;
    }
    if (io->events == 0) {
        if (io->bidx < 0)
            return 0;
        io->bidx = -1;
        /* Can only fail with EBADF/ENOENT, when the fd was closed before
         * twc_io_free (a caller bug): there is nothing left to undo then. */
        (void)epoll_ctl(es->epfd, EPOLL_CTL_DEL, io->fd, NULL);
        return 0;
    }
    ev.events = to_epoll(io->events);
    ev.data.ptr = io;
    if (io->bidx == IN_KERNEL)
        return epoll_ctl(es->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno : 0;
    if (epoll_ctl(es->epfd, EPOLL_CTL_ADD, io->fd, &ev) == 0) {
        io->bidx = IN_KERNEL;
        return 0;
    }
    if (errno == EPERM)
        return always_add(es, io);
    return -errno;
}

static int epoll_wait_backend(twc_reactor *r, int timeout_ms)
{
    struct epoll_state *es = r->bdata;
    int n, i;
    size_t k;

    if (es->nalways > 0)
        timeout_ms = 0;
    n = epoll_wait(es->epfd, es->events, TWC_EPOLL_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0;
    }
    for (i = 0; i < n; i++) {
        uint32_t re = es->events[i].events;
        unsigned ev = 0;

        /* Hang-ups read as EOF (or an error) on the next read. */
        if (re & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
            ev |= TWC_IO_READ;
        if (re & EPOLLOUT)
            ev |= TWC_IO_WRITE;
        if (re & EPOLLERR)
            ev |= TWC_IO_ERROR;
        if (twc__reactor_ready(r, es->events[i].data.ptr, ev) < 0)
            return -ENOMEM;
    }
    for (k = 0; k < es->nalways; k++) {
        if (twc__reactor_ready(r, es->always[k], es->always[k]->events) < 0)
            return -ENOMEM;
    }
    return 0;
}

const struct twc__backend_ops twc__backend_epoll = {
    .name = "epoll",
    .init = epoll_init_backend,
    .cleanup = epoll_cleanup,
    .set = epoll_set,
    .wait = epoll_wait_backend,
};

#else

/* ISO C forbids an empty translation unit. */
typedef int twc__backend_epoll_unavailable;

#endif
