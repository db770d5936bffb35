/*
 * Unit tests for lib/reactor.c and its backends: backend choice, call-soon,
 * I/O readiness (pipes and socketpairs, on both backends), watchers freed in
 * callbacks, stop and shutdown hooks, call_from_thread, internals.
 * Signals are in test_reactor_signal.c.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "limits.h"
#include "reactor.h"
#include "reactor_impl.h"
#include "reactor_int.h"
#include "reactor_impl.h"
#include "reactor_int.h"

/* Every wait in these tests is bounded by this many ms per iteration. */
#define WAIT_MS 2000

static twc_reactor *new_reactor(const char *backend, int fake)
{
    struct twc_reactor_opts o = {.backend = backend, .fake_clock = fake};
    twc_err err = {0};
    twc_reactor *r = twc_reactor_new(&o, &err);

    if (r == NULL)
        fail_msg("twc_reactor_new(%s): %s", backend ? backend : "default", err.msg);
    if (backend != NULL)
        assert_string_equal(twc_reactor_backend(r), backend);
    return r;
}

static void finish(twc_reactor *r)
{
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static void nonblocking_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

/* ---- backend choice --------------------------------------------------------- */

static void test_reactor_backend_by_name(void **state)
{
    twc_reactor *r;

    (void)state;
    r = new_reactor("poll", 0);
    finish(r);
    r = new_reactor("epoll", 0);
    finish(r);
}

static void test_reactor_backend_unknown_is_einval(void **state)
{
    struct twc_reactor_opts o = {.backend = "kqueue", .fake_clock = 0};
    twc_err err = {0};

    (void)state;
    assert_null(twc_reactor_new(&o, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    assert_string_equal(err.msg, "unknown reactor backend \"kqueue\" (expected epoll or poll)");
}

static void test_reactor_backend_from_env(void **state)
{
    struct twc_reactor_opts o = {.backend = "epoll", .fake_clock = 0};
    char *saved = getenv("TWC_REACTOR") ? strdup(getenv("TWC_REACTOR")) : NULL;
    twc_err err = {0};
    twc_reactor *r;

    (void)state;
    setenv("TWC_REACTOR", "poll", 1);
    r = twc_reactor_new(NULL, &err);
    assert_non_null(r);
    assert_string_equal(twc_reactor_backend(r), "poll");
    finish(r);
    /* An explicit name wins over the environment. */
    r = twc_reactor_new(&o, &err);
    assert_non_null(r);
    assert_string_equal(twc_reactor_backend(r), "epoll");
    finish(r);
    setenv("TWC_REACTOR", "select", 1);
    assert_null(twc_reactor_new(NULL, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    /* Unset: the best available, epoll on Linux. */
    unsetenv("TWC_REACTOR");
    r = twc_reactor_new(NULL, &err);
    assert_non_null(r);
    assert_string_equal(twc_reactor_backend(r), "epoll");
    finish(r);
    if (saved != NULL) {
        setenv("TWC_REACTOR", saved, 1);
        free(saved);
    }
}

static void test_reactor_new_ignores_sigpipe(void **state)
{
    struct sigaction sa;
    twc_reactor *r;

    (void)state;
    signal(SIGPIPE, SIG_DFL);
    r = new_reactor(NULL, 0);
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, SIG_IGN);
    finish(r);
}

/* ---- call soon --------------------------------------------------------------- */

struct soon_log {
    twc_reactor *r;
    int order[64];
    int n;
    int in_call; /* set while twc_reactor_call_soon runs */
};

struct soon_item {
    struct soon_log *log;
    int id;
    struct soon_item *then; /* queued from inside this callback */
};

static void on_soon(void *arg)
{
    struct soon_item *it = arg;

    assert_int_equal(it->log->in_call, 0);
    it->log->order[it->log->n++] = it->id;
    if (it->then != NULL) {
        it->log->in_call = 1;
        assert_int_equal(twc_reactor_call_soon(it->log->r, on_soon, it->then), 0);
        it->log->in_call = 0;
    }
}

static void test_reactor_call_soon_fifo_next_pass(void **state)
{
    twc_reactor *r = new_reactor(state ? *state : NULL, 0);
    struct soon_log log = {.r = r};
    struct soon_item later = {&log, 9, NULL};
    struct soon_item items[5];
    int i;

    for (i = 0; i < 5; i++) {
        items[i] = (struct soon_item){&log, i, i == 1 ? &later : NULL};
        log.in_call = 1;
        assert_int_equal(twc_reactor_call_soon(r, on_soon, &items[i]), 0);
        log.in_call = 0;
    }
    assert_int_equal(log.n, 0); /* never from inside the call */
    /* Queued work: run_once does not block and reports work left. */
    assert_int_equal(twc_reactor_run_once(r, -1), 1);
    assert_int_equal(log.n, 5);
    for (i = 0; i < 5; i++)
        assert_int_equal(log.order[i], i);
    /* The callback queued while draining runs on the next pass. */
    assert_int_equal(twc_reactor_run_once(r, -1), 0);
    assert_int_equal(log.n, 6);
    assert_int_equal(log.order[5], 9);
    finish(r);
}

static void test_reactor_call_soon_ring_grows(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct soon_log log = {.r = r};
    struct soon_item items[2] = {{&log, 1, NULL}, {&log, 2, NULL}};
    int i;

    (void)state;
    /* Wrap the ring, then grow it while wrapped: order must survive. */
    for (i = 0; i < 40; i++)
        twc_reactor_call_soon(r, on_soon, &items[0]);
    twc_reactor_run_once(r, 0);
    log.n = 0;
    for (i = 0; i < 16; i++)
        twc_reactor_call_soon(r, on_soon, &items[i < 8 ? 0 : 1]);
    assert_int_equal(twc_reactor_run_once(r, 0), 0);
    assert_int_equal(log.n, 16);
    for (i = 0; i < 16; i++)
        assert_int_equal(log.order[i], i < 8 ? 1 : 2);
    finish(r);
}

/* Reserved slots (lib/reactor_int.h): other calls never take them, so a
 * reserved call needs no memory when it is made; FIFO order holds across
 * both kinds; an unused slot can be given back. */
static void test_reactor_call_soon_reserved(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct soon_log log = {.r = r};
    struct soon_item a = {&log, 1, NULL}, b = {&log, 2, NULL};
    size_t cap;
    int i;

    for (i = 0; i < 40; i++)
        assert_int_equal(twc__reactor_soon_reserve(r), 0);
    for (i = 0; i < 20; i++) {
        assert_int_equal(twc_reactor_call_soon(r, on_soon, &a), 0);
        assert_true(r->soon_cap >= r->soon_len + r->soon_reserved);
    }
    cap = r->soon_cap;
    for (i = 0; i < 40; i++)
        twc__reactor_call_soon_reserved(r, on_soon, &b);
    assert_int_equal(r->soon_cap, cap); /* the slots were there: no allocation */
    assert_int_equal(r->soon_reserved, 0);
    assert_int_equal(twc_reactor_run_once(r, 0), 0);
    assert_int_equal(log.n, 60);
    for (i = 0; i < 60; i++)
        assert_int_equal(log.order[i], i < 20 ? 1 : 2);
    assert_int_equal(twc__reactor_soon_reserve(r), 0);
    twc__reactor_soon_release(r);
    assert_int_equal(r->soon_reserved, 0);
    finish(r);
}

/* ---- I/O readiness -------------------------------------------------------------- */

struct io_log {
    int calls;
    unsigned events;
    char data[64];
    ssize_t got;
};

static void on_readable(twc_io *io, unsigned events, void *arg)
{
    struct io_log *l = arg;

    l->calls++;
    l->events = events;
    l->got = read(twc_io_fd(io), l->data, sizeof(l->data));
}

static void on_event(twc_io *io, unsigned events, void *arg)
{
    struct io_log *l = arg;

    (void)io;
    l->calls++;
    l->events = events;
}

static void test_reactor_io_pipe_readable(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct io_log l = {0};
    int fds[2];
    twc_io *io;

    nonblocking_pipe(fds);
    io = twc_io_new(r, fds[0], on_readable, &l);
    assert_non_null(io);
    assert_int_equal(twc_io_fd(io), fds[0]);
    assert_int_equal(twc_io_events(io), 0);
    assert_int_equal(twc_io_set(io, TWC_IO_READ), 0);
    assert_int_equal(twc_io_events(io), TWC_IO_READ);
    assert_int_equal(twc_reactor_run_once(r, 0), 1);
    assert_int_equal(l.calls, 0);
    assert_int_equal(write(fds[1], "ping", 4), 4);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.events, TWC_IO_READ);
    assert_int_equal(l.got, 4);
    assert_memory_equal(l.data, "ping", 4);
    /* Drained: nothing more. */
    twc_reactor_run_once(r, 0);
    assert_int_equal(l.calls, 1);
    /* Peer closes: readable, read says EOF. */
    close(fds[1]);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(l.calls, 2);
    assert_true(l.events & TWC_IO_READ);
    assert_int_equal(l.got, 0);
    twc_io_free(io);
    close(fds[0]);
    finish(r);
}

static void test_reactor_io_level_triggered(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct io_log l = {0};
    int fds[2];
    twc_io *io;

    nonblocking_pipe(fds);
    io = twc_io_new(r, fds[0], on_event, &l);
    twc_io_set(io, TWC_IO_READ);
    assert_int_equal(write(fds[1], "x", 1), 1);
    /* Not read: reported again on every iteration. */
    twc_reactor_run_once(r, WAIT_MS);
    twc_reactor_run_once(r, WAIT_MS);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(l.calls, 3);
    /* Interest 0: silent even though data is there. */
    assert_int_equal(twc_io_set(io, 0), 0);
    twc_reactor_run_once(r, 0);
    assert_int_equal(l.calls, 3);
    assert_int_equal(twc_io_set(io, TWC_IO_READ), 0);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(l.calls, 4);
    twc_io_free(io);
    close(fds[0]);
    close(fds[1]);
    finish(r);
}

static void test_reactor_io_socketpair_read_write(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct io_log la = {0}, lb = {0};
    int sv[2];
    twc_io *a, *b;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    a = twc_io_new(r, sv[0], on_event, &la);
    b = twc_io_new(r, sv[1], on_readable, &lb);
    assert_int_equal(twc_io_set(a, TWC_IO_WRITE), 0);
    assert_int_equal(twc_io_set(b, TWC_IO_READ), 0);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(la.calls, 1);
    assert_int_equal(la.events, TWC_IO_WRITE);
    assert_int_equal(lb.calls, 0);
    assert_int_equal(write(sv[0], "hello", 5), 5);
    /* Both directions in one watcher. */
    assert_int_equal(twc_io_set(a, TWC_IO_READ | TWC_IO_WRITE), 0);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(lb.calls, 1);
    assert_int_equal(lb.got, 5);
    assert_memory_equal(lb.data, "hello", 5);
    assert_int_equal(la.calls, 2);
    assert_int_equal(la.events, TWC_IO_WRITE);
    assert_int_equal(write(sv[1], "yo", 2), 2);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(la.events, TWC_IO_READ | TWC_IO_WRITE);
    /* Peer closes: the read side reports. */
    twc_io_free(b);
    close(sv[1]);
    twc_io_set(a, TWC_IO_READ);
    la.calls = 0;
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(la.calls, 1);
    assert_true(la.events & TWC_IO_READ);
    twc_io_free(a);
    close(sv[0]);
    finish(r);
}

static void test_reactor_io_set_unchanged_no_syscall(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct io_log l = {0};
    int fds[2];
    twc_io *io;
    uint64_t calls;

    nonblocking_pipe(fds);
    io = twc_io_new(r, fds[1], on_event, &l);
    calls = r->backend_calls;
    assert_int_equal(twc_io_set(io, 0), 0);
    assert_int_equal(r->backend_calls, calls);
    assert_int_equal(twc_io_set(io, TWC_IO_WRITE), 0);
    assert_int_equal(r->backend_calls, calls + 1);
    assert_int_equal(twc_io_set(io, TWC_IO_WRITE), 0);
    assert_int_equal(twc_io_set(io, TWC_IO_WRITE), 0);
    assert_int_equal(r->backend_calls, calls + 1);
    twc_io_free(io);
    close(fds[0]);
    close(fds[1]);
    finish(r);
}

/* Watchers that free each other (or themselves) inside their callbacks. */
struct killer {
    twc_io *self;
    struct killer *victim;
    int calls;
    int free_self;
};

static void on_kill(twc_io *io, unsigned events, void *arg)
{
    struct killer *k = arg;

    (void)events;
    assert_ptr_equal(io, k->self);
    k->calls++;
    if (k->victim != NULL && k->victim->self != NULL) {
        twc_io_free(k->victim->self);
        k->victim->self = NULL;
    }
    if (k->free_self) {
        twc_io_free(io);
        k->self = NULL;
        /* Freeing twice (e.g. from a close path) is a no-op. */
    }
}

static void test_reactor_io_freed_in_callback_gets_no_more(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct killer k[2] = {{0}, {0}};
    int p0[2], p1[2];

    nonblocking_pipe(p0);
    nonblocking_pipe(p1);
    k[0].self = twc_io_new(r, p0[0], on_kill, &k[0]);
    k[1].self = twc_io_new(r, p1[0], on_kill, &k[1]);
    /* Each frees the other: whichever runs first, the other must not run. */
    k[0].victim = &k[1];
    k[1].victim = &k[0];
    twc_io_set(k[0].self, TWC_IO_READ);
    twc_io_set(k[1].self, TWC_IO_READ);
    assert_int_equal(write(p0[1], "a", 1), 1);
    assert_int_equal(write(p1[1], "b", 1), 1);
    assert_int_equal(twc_reactor_live_handles(r), 2);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(k[0].calls + k[1].calls, 1);
    assert_int_equal(twc_reactor_live_handles(r), 1);
    twc_reactor_run_once(r, 0);
    twc_reactor_run_once(r, 0);
    assert_int_equal(k[0].calls + k[1].calls, 3);
    twc_io_free(k[0].self);
    twc_io_free(k[1].self);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    /* Self-free inside the callback. */
    k[0] = (struct killer){0};
    k[0].self = twc_io_new(r, p0[0], on_kill, &k[0]);
    k[0].free_self = 1;
    twc_io_set(k[0].self, TWC_IO_READ | TWC_IO_WRITE);
    twc_reactor_run_once(r, WAIT_MS);
    twc_reactor_run_once(r, 0);
    assert_int_equal(k[0].calls, 1);
    assert_null(k[0].self);
    close(p0[0]);
    close(p0[1]);
    close(p1[0]);
    close(p1[1]);
    finish(r);
}

static void test_reactor_io_many_fds(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct rlimit rl;
    size_t npipes = 5000, i, nlive;
    int(*fds)[2];
    twc_io **ios;
    struct io_log *logs;
    char c;

    /* 10,000 watched fds need the limit raised (to the hard cap at most). */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 2 * npipes + 64 && rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < 2 * npipes + 64 ? rl.rlim_max : 2 * npipes + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 2 * npipes + 64)
        npipes = (rl.rlim_cur - 64) / 2;
    fds = calloc(npipes, sizeof(*fds));
    ios = calloc(npipes, sizeof(*ios));
    logs = calloc(npipes, sizeof(*logs));
    for (i = 0; i < npipes; i++) {
        nonblocking_pipe(fds[i]);
        ios[i] = twc_io_new(r, fds[i][0], on_readable, &logs[i]);
        assert_int_equal(twc_io_set(ios[i], TWC_IO_READ), 0);
    }
    /* Free every third one (poll: holes filled from the end). */
    for (i = 0; i < npipes; i += 3) {
        twc_io_free(ios[i]);
        ios[i] = NULL;
    }
    nlive = npipes - (npipes + 2) / 3;
    assert_int_equal(twc_reactor_live_handles(r), nlive);
    /* Make a few pipes readable, including freed ones. */
    for (i = 0; i < npipes; i += 97)
        assert_int_equal(write(fds[i][1], "z", 1), 1);
    twc_reactor_run_once(r, WAIT_MS);
    for (i = 0; i < npipes; i++) {
        int want = (i % 97 == 0 && i % 3 != 0);

        assert_int_equal(logs[i].calls, want);
        if (want)
            assert_int_equal(logs[i].got, 1);
    }
    for (i = 0; i < npipes; i++) {
        twc_io_free(ios[i]);
        if (i % 97 == 0 && i % 3 == 0)
            assert_int_equal(read(fds[i][0], &c, 1), 1);
        close(fds[i][0]);
        close(fds[i][1]);
    }
    free(fds);
    free(ios);
    free(logs);
    finish(r);
}

static void test_reactor_io_regular_file(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct io_log l = {0};
    char path[] = "/tmp/twc-reactor-XXXXXX";
    int fd = mkstemp(path);
    twc_io *io;

    /* epoll refuses regular files; they must still read as always ready. */
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, "file", 4), 4);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    io = twc_io_new(r, fd, on_readable, &l);
    assert_int_equal(twc_io_set(io, TWC_IO_READ), 0);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.got, 4);
    assert_memory_equal(l.data, "file", 4);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(l.calls, 2);
    assert_int_equal(l.got, 0); /* EOF */
    assert_int_equal(twc_io_set(io, TWC_IO_READ | TWC_IO_WRITE), 0);
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(l.events, TWC_IO_READ | TWC_IO_WRITE);
    assert_int_equal(twc_io_set(io, 0), 0);
    twc_reactor_run_once(r, 0);
    assert_int_equal(l.calls, 3);
    twc_io_free(io);
    close(fd);
    finish(r);
}

struct muter {
    twc_io *other;
    int calls;
};

static void on_mute_other(twc_io *io, unsigned events, void *arg)
{
    struct muter *m = arg;

    (void)io;
    (void)events;
    m->calls++;
    if (m->other != NULL)
        twc_io_set(m->other, 0);
}

static void test_reactor_io_interest_dropped_in_batch(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct muter m[2] = {{0}, {0}};
    twc_io *io[2];
    int p[2][2], i;

    for (i = 0; i < 2; i++) {
        nonblocking_pipe(p[i]);
        io[i] = twc_io_new(r, p[i][0], on_mute_other, &m[i]);
        assert_int_equal(write(p[i][1], "x", 1), 1);
    }
    m[0].other = io[1];
    m[1].other = io[0];
    twc_io_set(io[0], TWC_IO_READ);
    twc_io_set(io[1], TWC_IO_READ);
    /* Both ready in one batch; whichever runs first silences the other. */
    twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(m[0].calls + m[1].calls, 1);
    for (i = 0; i < 2; i++) {
        twc_io_free(io[i]);
        close(p[i][0]);
        close(p[i][1]);
    }
    finish(r);
}

static void test_reactor_io_error_reported_with_interest(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    struct io_log l = {0};
    int probe, fd, i;
    twc_io *io;

    /* A loopback UDP port with nobody on it: the ICMP refusal queues a socket
     * error (POLLERR/EPOLLERR) on a connected socket. */
    probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(probe, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(probe, (struct sockaddr *)&sin, &len), 0);
    close(probe);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(send(fd, "x", 1, 0), 1);
    io = twc_io_new(r, fd, on_event, &l);
    twc_io_set(io, TWC_IO_READ);
    for (i = 0; i < 50 && l.calls == 0; i++)
        twc_reactor_run_once(r, WAIT_MS / 50);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.events & (TWC_IO_ERROR | TWC_IO_READ), TWC_IO_ERROR | TWC_IO_READ);
    assert_int_equal(recv(fd, &i, sizeof(i), 0), -1);
    assert_int_equal(errno, ECONNREFUSED);
    twc_io_free(io);
    close(fd);
    finish(r);
}

/* ---- stop and shutdown hooks ------------------------------------------------------ */

struct hooks {
    twc_reactor *r;
    int order[8];
    int n;
    int stopping_seen;
};

struct hook {
    struct hooks *h;
    int id;
};

static void on_soon_after_hooks(void *arg)
{
    struct hooks *h = arg;

    h->order[h->n++] = 99;
}

static void on_hook(void *arg)
{
    struct hook *k = arg;

    k->h->order[k->h->n++] = k->id;
    k->h->stopping_seen += twc_reactor_stopping(k->h->r);
    if (k->id == 1)
        twc_reactor_call_soon(k->h->r, on_soon_after_hooks, k->h);
}

static void test_reactor_stop_before_run_runs_hooks(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct hooks h = {.r = r};
    struct hook k[4] = {{&h, 1}, {&h, 2}, {&h, 3}, {&h, 4}};
    int i;

    for (i = 0; i < 4; i++)
        assert_int_equal(twc_reactor_add_shutdown_hook(r, on_hook, &k[i]), 0);
    twc_reactor_remove_shutdown_hook(r, on_hook, &k[2]);
    twc_reactor_remove_shutdown_hook(r, on_hook, &h); /* absent: no-op */
    assert_int_equal(twc_reactor_stopping(r), 0);
    twc_reactor_stop(r);
    twc_reactor_stop(r); /* idempotent */
    assert_int_equal(twc_reactor_stopping(r), 1);
    assert_int_equal(twc_reactor_run(r), 0);
    /* Latest first, then the call-soon queue drains before run returns. */
    assert_int_equal(h.n, 4);
    assert_int_equal(h.order[0], 4);
    assert_int_equal(h.order[1], 2);
    assert_int_equal(h.order[2], 1);
    assert_int_equal(h.order[3], 99);
    assert_int_equal(h.stopping_seen, 3);
    assert_int_equal(twc_reactor_stopping(r), 0);
    /* Hooks run once: a second stop finds none. */
    twc_reactor_stop(r);
    assert_int_equal(twc_reactor_run(r), 0);
    assert_int_equal(h.n, 4);
    finish(r);
}

struct unhook {
    twc_reactor *r;
    struct hook *victim;
    int calls;
};

static void on_hook_remove(void *arg)
{
    struct unhook *u = arg;

    u->calls++;
    twc_reactor_remove_shutdown_hook(u->r, on_hook, u->victim);
}

static void test_reactor_hook_removed_by_earlier_hook(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct hooks h = {.r = r};
    struct hook k = {&h, 5};
    struct unhook u = {r, &k, 0};

    twc_reactor_add_shutdown_hook(r, on_hook, &k);
    twc_reactor_add_shutdown_hook(r, on_hook_remove, &u);
    twc_reactor_stop(r);
    /* run_once performs the stop too. */
    assert_int_equal(twc_reactor_run_once(r, -1), 0);
    assert_int_equal(u.calls, 1);
    assert_int_equal(h.n, 0);
    finish(r);
}

static void on_stop_timer(twc_timer *t, void *arg)
{
    twc_reactor *r = arg;

    twc_timer_free(t);
    twc_reactor_stop(r);
}

static void test_reactor_stop_from_timer_in_run(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    twc_timer *t = twc_timer_new(r, on_stop_timer, r);
    uint64_t start = twc_reactor_now(r);

    /* The one real-clock wait in this file: the loop must sleep until the
     * timer is due, and wake for it. */
    twc_timer_start(t, 5, 0);
    assert_int_equal(twc_reactor_run(r), 0);
    assert_true(twc_reactor_now(r) >= start + 5);
    finish(r);
}

static void on_nested_run(void *arg)
{
    twc_reactor *r = arg;

    assert_int_equal(twc_reactor_run_once(r, 0), TWC_EINVAL);
    assert_int_equal(twc_reactor_run(r), TWC_EINVAL);
}

static void test_reactor_run_once_not_reentrant(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);

    twc_reactor_call_soon(r, on_nested_run, r);
    assert_int_equal(twc_reactor_run_once(r, 0), 0);
    finish(r);
}

/* ---- threads ------------------------------------------------------------------------- */

#define THREAD_CALLS 200

struct tstate {
    twc_reactor *r;
    int seen[THREAD_CALLS];
    int n;
    int ordered;
};

struct tcall {
    struct tstate *s;
    int i;
};

static void on_thread_call(void *arg)
{
    struct tcall *c = arg;

    if (c->i != c->s->n)
        c->s->ordered = 0;
    c->s->seen[c->s->n++] = c->i;
}

static struct tcall calls[THREAD_CALLS];

static void *thread_main(void *arg)
{
    struct tstate *s = arg;
    int i;

    for (i = 0; i < THREAD_CALLS; i++) {
        calls[i].s = s;
        calls[i].i = i;
        if (twc_reactor_call_from_thread(s->r, on_thread_call, &calls[i]) != 0)
            break;
        if (i % 50 == 0)
            usleep(1000);
    }
    return NULL;
}

static void test_reactor_call_from_thread(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    struct tstate s = {.r = r, .ordered = 1};
    pthread_t th;
    int iter;

    assert_int_equal(pthread_create(&th, NULL, thread_main, &s), 0);
    /* Nothing else is watched: only the thread's wakeups end each wait. */
    for (iter = 0; iter < 1000 && s.n < THREAD_CALLS; iter++)
        twc_reactor_run_once(r, WAIT_MS);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(s.n, THREAD_CALLS);
    assert_int_equal(s.ordered, 1);
    assert_int_equal(twc_reactor_run_once(r, 0), 0);
    finish(r);
}

static void *waker_main(void *arg)
{
    usleep(20000);
    twc_reactor_wake(arg);
    return NULL;
}

static void test_reactor_wake_ends_wait(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    pthread_t th;
    uint64_t start;
    struct pollfd pfd;

    assert_int_equal(pthread_create(&th, NULL, waker_main, r), 0);
    start = twc_reactor_now(r);
    /* Would block for 10 s without the wakeup. */
    assert_int_equal(twc_reactor_run_once(r, 10000), 0);
    twc_reactor_update_time(r);
    assert_true(twc_reactor_now(r) - start < 5000);
    assert_int_equal(pthread_join(th, NULL), 0);
    /* Wakeups coalesce: many before a wait end it once, then it is quiet. */
    twc_reactor_wake(r);
    twc_reactor_wake(r);
    twc_reactor_run_once(r, 0);
    pfd.fd = r->wake_rd;
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 0), 0);
    finish(r);
}

/* ---- internals --------------------------------------------------------------------------- */

static void test_reactor_internals(void **state)
{
    twc_reactor *r = new_reactor(*state, 1);
    size_t len = 0;
    uint8_t *buf = twc__reactor_read_buf(r, &len);
    int i;

    assert_non_null(buf);
    assert_int_equal(len, TWC_READ_CHUNK);
    memset(buf, 0xab, len); /* ASan: the whole buffer is ours */
    assert_ptr_equal(twc__reactor_read_buf(r, &len), buf);
    for (i = 0; i < TWC__SLOT_COUNT; i++)
        assert_null(*twc__reactor_slot(r, (enum twc__reactor_slot_id)i));
    *twc__reactor_slot(r, TWC__SLOT_PROCESS) = &len;
    assert_ptr_equal(*twc__reactor_slot(r, TWC__SLOT_PROCESS), &len);
    *twc__reactor_slot(r, TWC__SLOT_PROCESS) = NULL;
    assert_int_equal(twc__reactor_fake_clock(r), 1);
    assert_null(twc_reactor_log(r));
    twc_reactor_set_log(r, (twc_log *)&len);
    assert_ptr_equal(twc_reactor_log(r), (twc_log *)&len);
    twc_reactor_set_log(r, NULL);
    assert_null(twc_io_new(r, -1, on_event, NULL));
    twc_io_free(NULL);
    twc_reactor_free(NULL);
    finish(r);
}

static void test_reactor_real_clock_is_monotonic_ms(void **state)
{
    twc_reactor *r = new_reactor(*state, 0);
    uint64_t a = twc_reactor_now(r), b;

    assert_true(a > 0);
    twc_reactor_update_time(r);
    b = twc_reactor_now(r);
    assert_true(b >= a);
    /* advance is for fake clocks only. */
    twc_reactor_advance(r, 100000);
    assert_true(twc_reactor_now(r) < b + 100000);
    finish(r);
}

#define BOTH(f)                                                                          \
    {#f "_epoll", f, NULL, NULL, (void *)"epoll"}, { #f "_poll", f, NULL, NULL, (void *)"poll" }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reactor_backend_by_name),
        cmocka_unit_test(test_reactor_backend_unknown_is_einval),
        cmocka_unit_test(test_reactor_backend_from_env),
        cmocka_unit_test(test_reactor_new_ignores_sigpipe),
        BOTH(test_reactor_call_soon_fifo_next_pass),
        BOTH(test_reactor_call_soon_ring_grows),
        BOTH(test_reactor_call_soon_reserved),
        BOTH(test_reactor_io_pipe_readable),
        BOTH(test_reactor_io_level_triggered),
        BOTH(test_reactor_io_socketpair_read_write),
        BOTH(test_reactor_io_set_unchanged_no_syscall),
        BOTH(test_reactor_io_freed_in_callback_gets_no_more),
        BOTH(test_reactor_io_interest_dropped_in_batch),
        BOTH(test_reactor_io_error_reported_with_interest),
        BOTH(test_reactor_io_many_fds),
        BOTH(test_reactor_io_regular_file),
        BOTH(test_reactor_stop_before_run_runs_hooks),
        BOTH(test_reactor_hook_removed_by_earlier_hook),
        BOTH(test_reactor_stop_from_timer_in_run),
        BOTH(test_reactor_run_once_not_reentrant),
        BOTH(test_reactor_call_from_thread),
        BOTH(test_reactor_wake_ends_wait),
        BOTH(test_reactor_internals),
        BOTH(test_reactor_real_clock_is_monotonic_ms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
