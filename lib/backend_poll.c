/*
 * The poll(2) backend: portable POSIX, used where epoll is missing or when
 * asked for with TWC_REACTOR=poll.
 *
 * The pollfd array holds only watchers with a non-empty mask, densely, with a
 * parallel array of watcher pointers; each watcher keeps its index (bidx), so
 * adding, changing and removing are O(1) (removal moves the last entry into
 * the hole). poll(2) itself is O(n) in the number of watched fds, which is
 * the price of portability; the scan after it stops once it has seen as many
 * ready entries as poll returned.
 */
#include "reactor.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "reactor_impl.h"

struct poll_state {
    struct pollfd *fds;
    twc_io **ios;
    size_t n;
    size_t cap;
};

static int poll_init(twc_reactor *r, twc_err *err)
{
    struct poll_state *ps = calloc(1, sizeof(*ps));

    if (ps == NULL)
        return twc_err_set(err, TWC_ENOMEM, "reactor: out of memory");
    r->bdata = ps;
    return 0;
}

static void poll_cleanup(twc_reactor *r)
{
    struct poll_state *ps = r->bdata;

    if (ps == NULL)
        return;
    free(ps->fds);
    free(ps->ios);
    free(ps);
    r->bdata = NULL;
}

static short to_poll(unsigned events)
{
    short ev = 0;

    if (events & TWC_IO_READ)
        ev |= POLLIN;
    if (events & TWC_IO_WRITE)
        ev |= POLLOUT;
    return ev;
}

static int grow(struct poll_state *ps)
{
    size_t cap = ps->cap ? ps->cap * 2 : 64;
    struct pollfd *fds = realloc(ps->fds, cap * sizeof(*fds));
    twc_io **ios;

    if (fds == NULL)
        return -ENOMEM;
    ps->fds = fds;
    ios = realloc(ps->ios, cap * sizeof(*ios));
    if (ios == NULL)
        return -ENOMEM;
    ps->ios = ios;
    ps->cap = cap;
    return 0;
}

static int poll_set(twc_reactor *r, twc_io *io, unsigned old)
{
    struct poll_state *ps = r->bdata;
    size_t i;

    (void)old;
    if (io->events == 0) {
        /* Remove: move the last entry into the hole. */
        if (io->bidx < 0)
            return 0;
        i = (size_t)io->bidx;
        ps->n--;
        if (i != ps->n) {
            ps->fds[i] = ps->fds[ps->n];
            ps->ios[i] = ps->ios[ps->n];
            ps->ios[i]->bidx = (int)i;
        }
        io->bidx = -1;
        return 0;
    }
    if (io->bidx < 0) {
        if (ps->n == ps->cap && grow(ps) < 0)
            return -ENOMEM;
        i = ps->n++;
        ps->fds[i].fd = io->fd;
        ps->ios[i] = io;
        io->bidx = (int)i;
    }
    ps->fds[io->bidx].events = to_poll(io->events);
    ps->fds[io->bidx].revents = 0;
    return 0;
}

static int poll_wait(twc_reactor *r, int timeout_ms)
{
    struct poll_state *ps = r->bdata;
    int n, seen = 0;
    size_t i;

    n = poll(ps->fds, (nfds_t)ps->n, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (i = 0; i < ps->n && seen < n; i++) {
        short re = ps->fds[i].revents;
        unsigned ev = 0;

        if (re == 0)
            continue;
        seen++;
        /* POLLHUP means "read will return EOF": report it as readable. */
        if (re & (POLLIN | POLLHUP))
            ev |= TWC_IO_READ;
        if (re & POLLOUT)
            ev |= TWC_IO_WRITE;
        if (re & (POLLERR | POLLNVAL))
            ev |= TWC_IO_ERROR;
        if (twc__reactor_ready(r, ps->ios[i], ev) < 0)
            return -ENOMEM;
    }
    return 0;
}

const struct twc__backend_ops twc__backend_poll = {
    .name = "poll",
    .init = poll_init,
    .cleanup = poll_cleanup,
    .set = poll_set,
    .wait = poll_wait,
};
