/* Unit tests for lib/process.c with real child processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "process.h"
#include "reactor.h"

struct child {
    twc_buf out;
    twc_buf err;
    int exited_calls;
    int ended_calls;
    int exit_code;
    int term_signal;
};

static void on_out(twc_process *p, const uint8_t *data, size_t len, void *arg)
{
    struct child *c = arg;

    (void)p;
    assert_int_equal(twc_buf_append(&c->out, data, len), 0);
}

static void on_err(twc_process *p, const uint8_t *data, size_t len, void *arg)
{
    struct child *c = arg;

    (void)p;
    assert_int_equal(twc_buf_append(&c->err, data, len), 0);
}

static void on_exited(twc_process *p, int code, int sig, void *arg)
{
    struct child *c = arg;

    (void)p;
    assert_int_equal(c->ended_calls, 0); /* exited comes before ended */
    c->exited_calls++;
    c->exit_code = code;
    c->term_signal = sig;
}

static void on_ended(twc_process *p, int code, int sig, void *arg)
{
    struct child *c = arg;

    (void)p;
    c->ended_calls++;
    assert_int_equal(code, c->exit_code);
    assert_int_equal(sig, c->term_signal);
}

static const struct twc_process_ops ops = {
    .out_received = on_out,
    .err_received = on_err,
    .process_exited = on_exited,
    .process_ended = on_ended,
};

static void child_init(struct child *c)
{
    memset(c, 0, sizeof(*c));
    twc_buf_init(&c->out, 1 << 24);
    twc_buf_init(&c->err, 1 << 20);
}

static void child_cleanup(struct child *c)
{
    twc_buf_cleanup(&c->out);
    twc_buf_cleanup(&c->err);
}

static twc_reactor *new_reactor(void)
{
    twc_err err;
    twc_reactor *r = twc_reactor_new(NULL, &err);

    assert_non_null(r);
    return r;
}

/* Run the loop until the child ended (bounded: 10 s of 10 ms waits). */
static void run_until_ended(twc_reactor *r, struct child *c)
{
    int i;

    for (i = 0; i < 1000 && c->ended_calls == 0; i++)
        twc_reactor_run_once(r, 10);
    assert_int_equal(c->ended_calls, 1);
    assert_int_equal(c->exited_calls, 1);
}

static void test_process_echo_output_and_exit(void **state)
{
    const char *argv[] = {"/bin/echo", "hello", "world", NULL};
    struct twc_spawn_opts o = {.argv = argv};
    twc_reactor *r = new_reactor();
    struct child c;
    twc_err err;

    (void)state;
    child_init(&c);
    assert_non_null(twc_process_spawn(r, &o, &ops, &c, &err));
    run_until_ended(r, &c);
    assert_int_equal(c.exit_code, 0);
    assert_int_equal(c.term_signal, 0);
    assert_int_equal(twc_buf_len(&c.out), 12);
    assert_memory_equal(twc_buf_data(&c.out), "hello world\n", 12);
    child_cleanup(&c);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static void test_process_cat_stdin_roundtrip(void **state)
{
    const char *argv[] = {"/bin/cat", NULL};
    struct twc_spawn_opts o = {.argv = argv};
    twc_reactor *r = new_reactor();
    uint8_t *data;
    size_t i, n = 1 << 20; /* more than a pipe holds: exercises write interest */
    twc_process *p;
    struct child c;
    twc_err err;

    (void)state;
    child_init(&c);
    data = malloc(n);
    for (i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    p = twc_process_spawn(r, &o, &ops, &c, &err);
    assert_non_null(p);
    assert_int_equal(twc_process_write(p, data, n), 0);
    twc_process_close_stdin(p);
    assert_int_equal(twc_process_write(p, "x", 1), TWC_ECLOSED);
    run_until_ended(r, &c);
    assert_int_equal(c.exit_code, 0);
    assert_int_equal(twc_buf_len(&c.out), n);
    assert_memory_equal(twc_buf_data(&c.out), data, n);
    free(data);
    child_cleanup(&c);
    twc_reactor_free(r);
}

static void test_process_killed_by_signal(void **state)
{
    const char *argv[] = {"/bin/sleep", "30", NULL};
    struct twc_spawn_opts o = {.argv = argv};
    twc_reactor *r = new_reactor();
    twc_process *p;
    struct child c;
    twc_err err;

    (void)state;
    child_init(&c);
    p = twc_process_spawn(r, &o, &ops, &c, &err);
    assert_non_null(p);
    assert_true(twc_process_pid(p) > 0);
    assert_int_equal(twc_process_kill(p, SIGKILL), 0);
    run_until_ended(r, &c);
    assert_int_equal(c.exit_code, -1);
    assert_int_equal(c.term_signal, SIGKILL);
    child_cleanup(&c);
    twc_reactor_free(r);
}

static void test_process_self_signal_and_exit_status(void **state)
{
    const char *argv1[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    const char *argv2[] = {"/bin/sh", "-c", "echo oops >&2; exit 3", NULL};
    struct twc_spawn_opts o1 = {.argv = argv1}, o2 = {.argv = argv2};
    twc_reactor *r = new_reactor();
    struct child c1, c2;
    twc_err err;

    (void)state;
    child_init(&c1);
    child_init(&c2);
    /* Two children at once: one SIGCHLD handler reaps both. */
    assert_non_null(twc_process_spawn(r, &o1, &ops, &c1, &err));
    assert_non_null(twc_process_spawn(r, &o2, &ops, &c2, &err));
    run_until_ended(r, &c1);
    run_until_ended(r, &c2);
    assert_int_equal(c1.term_signal, SIGTERM);
    assert_int_equal(c2.exit_code, 3);
    assert_int_equal(twc_buf_len(&c2.err), 5);
    assert_memory_equal(twc_buf_data(&c2.err), "oops\n", 5);
    child_cleanup(&c1);
    child_cleanup(&c2);
    assert_int_equal(twc_reactor_live_handles(r), 0);
    twc_reactor_free(r);
}

static void test_process_env_dir_and_missing_program(void **state)
{
    const char *argv1[] = {"sh", "-c", "echo \"$TWC_X\"; pwd", NULL};
    const char *env[] = {"TWC_X=42", "PATH=/usr/bin:/bin", NULL};
    const char *argv2[] = {"/nonexistent/program", NULL};
    struct twc_spawn_opts o1 = {.argv = argv1, .env = env, .dir = "/"};
    struct twc_spawn_opts o2 = {.argv = argv2};
    twc_reactor *r = new_reactor();
    struct child c1, c2;
    twc_err err;

    (void)state;
    child_init(&c1);
    child_init(&c2);
    assert_non_null(twc_process_spawn(r, &o1, &ops, &c1, &err));
    run_until_ended(r, &c1);
    assert_int_equal(twc_buf_len(&c1.out), 5);
    assert_memory_equal(twc_buf_data(&c1.out), "42\n/\n", 5);
    assert_non_null(twc_process_spawn(r, &o2, &ops, &c2, &err));
    run_until_ended(r, &c2);
    assert_int_equal(c2.exit_code, 127);
    assert_true(twc_buf_len(&c2.err) > 0);
    child_cleanup(&c1);
    child_cleanup(&c2);
    twc_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_echo_output_and_exit),
        cmocka_unit_test(test_process_cat_stdin_roundtrip),
        cmocka_unit_test(test_process_killed_by_signal),
        cmocka_unit_test(test_process_self_signal_and_exit_status),
        cmocka_unit_test(test_process_env_dir_and_missing_program),
    };
    return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
