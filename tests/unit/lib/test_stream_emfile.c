/*
 * Unit test for the listener's fd-exhaustion reserve (lib/listener.c): with
 * RLIMIT_NOFILE lowered and the table full, a pending connection makes
 * accept(2) fail with EMFILE. The listener must log one line, stop watching
 * its socket (no busy loop: the loop really sleeps), retry from a
 * TWC_EMFILE_BACKOFF_MS timer (driven by the fake clock), and accept again
 * once descriptors are free.
 */
#include "test_stream_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "log.h"

static const char *backend_of(void **state)
{
    return (const char *)*state;
}

struct sink {
    int lines;
    char last[512];
};

static void on_line(void *arg, const char *line, size_t len)
{
    struct sink *s = arg;

    s->lines++;
    snprintf(s->last, sizeof(s->last), "%.*s", (int)len, line);
}

/* Descriptors used to fill the table (inherited fds may sit high, e.g. 255). */
#define MAXFILL 8192
static int fill[MAXFILL];

static int highest_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int max = 2, fd;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        fd = (int)strtol(e->d_name, NULL, 10);
        if (fd > max)
            max = fd;
    }
    closedir(d);
    return max;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_stream_emfile_listener_backs_off(void **state)
{
    struct twc_tcp_listen_opts o = {"127.0.0.1", 0, 0, 0};
    enum { CLIENTS = 3 };
    int clients[CLIENTS], nfill = 0, i, j;
    struct rlimit old, low;
    struct sink sink = {0, {0}};
    twc_listener *l;
    twc_log *lg;
    tfactory f;
    twc_addr a;
    twc_err err;
    uint64_t t0;

    ctx_begin(backend_of(state), 1);
    lg = twc_log_new(TWC_LOG_TEXT, TWC_LOG_DEBUG, NULL, &err);
    assert_non_null(lg);
    twc_log_set_sink(lg, on_line, &sink);
    twc_reactor_set_log(ctx.r, lg);
    tf_init(&f);
    f.tmpl.base.ops = &tp_noeof_ops;
    l = twc_tcp_listen(ctx.r, &o, &f.base, &err);
    assert_non_null(l);
    assert_int_equal(twc_listener_addr(l, &a), 0);

    /* Connections wait in the kernel's accept queue. */
    for (i = 0; i < CLIENTS; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(clients[i] >= 0);
        assert_int_equal(connect(clients[i], (struct sockaddr *)&a.ss, a.len), 0);
    }

    /* Fill the descriptor table under a low limit. */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)highest_fd() + 1 + 32;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        assert_true(nfill < MAXFILL);
        fill[nfill++] = fd;
    }

    /* accept fails: one warning, no connection, the listener stops watching. */
    assert_true(twc_reactor_run_once(ctx.r, 100) >= 0);
    assert_int_equal(f.builds, 0);
    assert_int_equal(sink.lines, 1);
    assert_non_null(strstr(sink.last, "warn"));
    assert_non_null(strstr(sink.last, "pausing the listener"));
    /* No busy loop: with nothing watched the loop sleeps its whole timeout,
     * although the connections are still pending. */
    t0 = mono_ms();
    for (i = 0; i < 5; i++)
        assert_true(twc_reactor_run_once(ctx.r, 20) >= 0);
    assert_true(mono_ms() - t0 >= 80);
    assert_int_equal(f.builds, 0);

    /* The backoff timer re-arms it; still exhausted: back off again, quietly. */
    for (j = 0; j < 3; j++) {
        twc_reactor_advance(ctx.r, TWC_EMFILE_BACKOFF_MS);
        assert_true(twc_reactor_run_once(ctx.r, 100) >= 0);
        assert_int_equal(f.builds, 0);
    }
    assert_int_equal(sink.lines, 1);

    /* Free some descriptors: after the next backoff, accepting resumes. */
    for (i = 0; i < 16; i++)
        close(fill[--nfill]);
    twc_reactor_advance(ctx.r, TWC_EMFILE_BACKOFF_MS);
    run_until(&f.builds, CLIENTS, 250);

    while (nfill > 0)
        close(fill[--nfill]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    for (i = 0; i < CLIENTS; i++)
        close(clients[i]);
    for (i = 0; i < CLIENTS; i++)
        run_until(&ctx.protos[i]->lost, 1, 250);
    twc_listener_free(l);
    ctx_end();
    twc_log_free(lg);
}

#define BOTH(t) cmocka_unit_test_prestate(t, (void *)"epoll"), \
                cmocka_unit_test_prestate(t, (void *)"poll")

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_stream_emfile_listener_backs_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
