/* Unit tests for lib/deferred.c: the chain, ownership, chaining, pause, cancel,
 * double fire and unhandled failures (Twisted's test_defer, in C). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deferred.h"
#include "outcome.h"

/* ---- Helpers --------------------------------------------------------------- */

/* Values are heap ints; value_free counts what it frees. */

/* A log of what links saw: "c1:5" = callback 1 saw value 5, "e2:-1000" =
 * errback 2 saw code -1000. */
struct trace {
    char buf[512];
};

static void trace_add(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace_add(struct trace *t, const char *fmt, ...)
{
    size_t n = strlen(t->buf);
    va_list ap;

    if (n > 0 && n < sizeof(t->buf) - 1)
        t->buf[n++] = ' ';
    va_start(ap, fmt);
    vsnprintf(t->buf + n, sizeof(t->buf) - n, fmt, ap);
    va_end(ap);
}

static void trace_outcome(struct trace *t, const char *who, twc_result *r)
{
    if (twc_result_ok(r)) {
        int *v = twc_result_value(r);

        if (v != NULL)
            trace_add(t, "%s:%d", who, *v);
        else
            trace_add(t, "%s:null", who);
    } else {
        trace_add(t, "%s:%d", who, twc_result_code(r));
    }
}

/* Links for the trace, one per role. */
static struct trace tr;

static void cb_record(void *arg, twc_result *r)
{
    trace_outcome(&tr, arg, r);
}

/* Callback: value + 1 (replaces the value: the old one is freed). */
static void cb_increment(void *arg, twc_result *r)
{
    int *v = twc_result_value(r);

    trace_outcome(&tr, arg, r);
    twc_result_set(r, new_int(*v + 1), int_free);
}

/* Callback that fails ("raises"). */
static void cb_raise(void *arg, twc_result *r)
{
    trace_outcome(&tr, arg, r);
    twc_result_fail(r, TWC_EPROTO, "raised by %s", (const char *)arg);
}

/* Errback that recovers with 100. */
static void eb_recover(void *arg, twc_result *r)
{
    trace_outcome(&tr, arg, r);
    twc_result_set(r, new_int(100), int_free);
}

static void setup_trace(void)
{
    memset(&tr, 0, sizeof(tr));
    freed = 0;
}

/* Run fn in a child with stderr captured; it must die of SIGABRT. Returns the
 * captured output (static buffer). */
static char child_out[4096];

static const char *expect_abort(void (*fn)(void))
{
    int p[2];
    pid_t pid;
    int status = 0;
    size_t len = 0;
    ssize_t n;

    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        fn();
        _exit(0); /* not reached if fn aborts */
    }
    close(p[1]);
    while ((n = read(p[0], child_out + len, sizeof(child_out) - 1 - len)) > 0)
        len += (size_t)n;
    child_out[len] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    return child_out;
}

/* ---- Basic chain ----------------------------------------------------------- */

static void test_deferred_callbacks_run_in_order_on_resolve(void **state)
{
    twc_deferred *d;
    const twc_result *r;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_increment, "c1");
    twc_deferred_add_errback(d, cb_record, "e2");
    twc_deferred_add_callback(d, cb_increment, "c3");
    assert_false(twc_deferred_fired(d));
    assert_string_equal(tr.buf, "");
    twc_deferred_resolve(d, new_int(1), int_free);
    assert_true(twc_deferred_fired(d));
    assert_string_equal(tr.buf, "c1:1 c3:2");
    assert_int_equal(freed, 2); /* 1 and 2 were replaced */
    r = twc_deferred_peek(d);
    assert_non_null(r);
    assert_int_equal(*(int *)twc_result_value(r), 3);
    twc_deferred_unref(d);
    assert_int_equal(freed, 3); /* the last holder freed the final value */
}

static void test_deferred_link_added_after_fire_runs_at_once(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_succeed(new_int(7), int_free);
    twc_deferred_add_callback(d, cb_record, "c1");
    /* Ran before add_callback returned. */
    assert_string_equal(tr.buf, "c1:7");
    twc_deferred_add_errback(d, cb_record, "e2");
    twc_deferred_add_both(d, cb_record, "b3");
    assert_string_equal(tr.buf, "c1:7 b3:7");
    twc_deferred_unref(d);
    assert_int_equal(freed, 1);
}

static void test_deferred_failing_callback_switches_to_errbacks(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_raise, "c1");
    twc_deferred_add_callback(d, cb_record, "c2"); /* skipped: failure path */
    twc_deferred_add_errback(d, cb_record, "e3");
    twc_deferred_add_callbacks(d, cb_record, eb_recover, "e4");
    twc_deferred_add_callback(d, cb_increment, "c5"); /* recovered */
    twc_deferred_add_errback(d, cb_record, "e6");    /* skipped */
    twc_deferred_resolve(d, new_int(1), int_free);
    assert_string_equal(tr.buf, "c1:1 e3:-1000 e4:-1000 c5:100");
    assert_int_equal(*(int *)twc_result_value(twc_deferred_peek(d)), 101);
    twc_deferred_unref(d);
    assert_int_equal(freed, 3); /* 1 (by the failure), 100, 101 */
}

static void test_deferred_reject_runs_errbacks_with_error(void **state)
{
    twc_deferred *d;
    const twc_err *e;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_record, "c1");
    twc_deferred_add_both(d, cb_record, "b2");
    twc_deferred_reject(d, -ECONNREFUSED, "connect %s", "127.0.0.1:1");
    assert_string_equal(tr.buf, "b2:-111");
    e = twc_result_err(twc_deferred_peek(d));
    assert_non_null(e);
    assert_int_equal(e->code, -ECONNREFUSED);
    assert_int_equal(e->sys_errno, ECONNREFUSED);
    assert_string_equal(e->msg, "connect 127.0.0.1:1");
    assert_int_equal(twc_err_domain_of(e->code), TWC_DOMAIN_SYSTEM);
    /* Handle it so freeing does not log it as unhandled. */
    twc_deferred_add_errback(d, eb_recover, "e3");
    twc_deferred_unref(d);
    assert_int_equal(freed, 1);
}

static void test_deferred_errback_leaving_failure_keeps_failing(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_fail(TWC_ETIMEDOUT, "slow");
    twc_deferred_add_errback(d, cb_record, "e1"); /* looks, does not recover */
    twc_deferred_add_errback(d, cb_record, "e2");
    twc_deferred_add_errback(d, eb_recover, "e3");
    twc_deferred_add_callback(d, cb_record, "c4");
    assert_string_equal(tr.buf, "e1:-1002 e2:-1002 e3:-1002 c4:100");
    twc_deferred_unref(d);
}

/* ---- Ownership ------------------------------------------------------------- */

static void cb_take(void *arg, twc_result *r)
{
    int **out = arg;

    *out = twc_result_take(r);
    assert_true(twc_result_ok(r));
    assert_null(twc_result_value(r));
}

static void cb_set_same(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, twc_result_value(r), int_free);
}

static void test_deferred_result_take_and_set_ownership(void **state)
{
    twc_deferred *d;
    int *taken = NULL;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_set_same, NULL); /* same pointer: not freed */
    twc_deferred_add_callback(d, cb_take, &taken);
    twc_deferred_add_callback(d, cb_record, "c3");
    twc_deferred_resolve(d, new_int(9), int_free);
    assert_int_equal(freed, 0);
    assert_non_null(taken);
    assert_int_equal(*taken, 9);
    assert_string_equal(tr.buf, "c3:null");
    twc_deferred_unref(d);
    assert_int_equal(freed, 0); /* the taker owns it */
    int_free(taken);
}

static void test_deferred_unfired_value_freed_with_deferred(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_unref(d); /* consumer lets go before the producer fires */
    twc_deferred_resolve(d, new_int(1), int_free);
    assert_int_equal(freed, 1);
}

static void cb_unref_self(void *arg, twc_result *r)
{
    (void)r;
    twc_deferred_unref(arg); /* drops the last outside reference */
}

static void test_deferred_link_may_drop_last_reference(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_unref_self, d);
    twc_deferred_add_callback(d, cb_record, "c2"); /* still runs */
    twc_deferred_resolve(d, new_int(4), int_free);
    assert_string_equal(tr.buf, "c2:4");
    assert_int_equal(freed, 1);
}

static struct trace *inner_trace;

static void cb_add_more(void *arg, twc_result *r)
{
    twc_deferred *d = arg;

    trace_outcome(&tr, "c1", r);
    /* Added from inside a link of d: runs after this link returns. */
    twc_deferred_add_callback(d, cb_record, "c-late");
    trace_add(&tr, "c1-end");
}

static void test_deferred_link_added_inside_link_runs_after_it(void **state)
{
    twc_deferred *d;

    (void)state;
    (void)inner_trace;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_add_more, d);
    twc_deferred_add_callback(d, cb_record, "c2");
    twc_deferred_resolve(d, NULL, NULL);
    assert_string_equal(tr.buf, "c1:null c1-end c2:null c-late:null");
    twc_deferred_unref(d);
}

/* ---- Chaining -------------------------------------------------------------- */

static void cb_wait_on(void *arg, twc_result *r)
{
    trace_outcome(&tr, "w", r);
    twc_result_wait(r, twc_deferred_ref(arg));
}

static void test_deferred_chain_waits_for_other(void **state)
{
    twc_deferred *outer;
    twc_deferred *inner;
    const twc_result *r;

    (void)state;
    setup_trace();
    outer = twc_deferred_new(NULL, NULL);
    inner = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    twc_deferred_add_callback(outer, cb_increment, "c2");
    twc_deferred_resolve(outer, new_int(1), int_free);
    assert_string_equal(tr.buf, "w:1");
    assert_int_equal(freed, 1); /* replaced by the wait */
    assert_true(twc_deferred_paused(outer));
    assert_null(twc_deferred_peek(outer));
    twc_deferred_resolve(inner, new_int(20), int_free);
    assert_string_equal(tr.buf, "w:1 c2:20");
    assert_false(twc_deferred_paused(outer));
    assert_int_equal(*(int *)twc_result_value(twc_deferred_peek(outer)), 21);
    /* The value moved: inner keeps NULL. */
    r = twc_deferred_peek(inner);
    assert_non_null(r);
    assert_true(twc_result_ok(r));
    assert_null(twc_result_value(r));
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
    assert_int_equal(freed, 3);
}

static void test_deferred_chain_on_fired_deferred_continues_at_once(void **state)
{
    twc_deferred *outer;
    twc_deferred *inner;

    (void)state;
    setup_trace();
    inner = twc_deferred_succeed(new_int(5), int_free);
    outer = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    twc_deferred_add_callback(outer, cb_record, "c2");
    twc_deferred_resolve(outer, NULL, NULL);
    assert_string_equal(tr.buf, "w:null c2:5");
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
    assert_int_equal(freed, 1);
}

static void test_deferred_chain_failure_goes_to_errback(void **state)
{
    twc_deferred *outer;
    twc_deferred *inner;

    (void)state;
    setup_trace();
    outer = twc_deferred_new(NULL, NULL);
    inner = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    twc_deferred_add_callback(outer, cb_record, "c2");
    twc_deferred_add_errback(outer, eb_recover, "e3");
    twc_deferred_resolve(outer, NULL, NULL);
    twc_deferred_reject(inner, TWC_EDNS, "no such host");
    assert_string_equal(tr.buf, "w:null e3:-1200");
    /* inner's failure moved into outer, where e3 handled it: nothing is
     * unhandled (an unhandled failure would be logged; see below). */
    assert_null(twc_result_err(twc_deferred_peek(inner)));
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
}

static void test_deferred_chain_with_paused_inner(void **state)
{
    twc_deferred *outer;
    twc_deferred *inner;

    (void)state;
    setup_trace();
    outer = twc_deferred_new(NULL, NULL);
    inner = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(inner, cb_increment, "i1");
    twc_deferred_pause(inner);
    twc_deferred_resolve(inner, new_int(1), int_free);
    assert_string_equal(tr.buf, ""); /* paused: no link runs */
    assert_true(twc_deferred_fired(inner));
    assert_true(twc_deferred_paused(inner));
    /* Fired but paused: outer must wait, not take the unfinished value. */
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    twc_deferred_add_callback(outer, cb_record, "o2");
    twc_deferred_resolve(outer, NULL, NULL);
    assert_string_equal(tr.buf, "w:null");
    assert_true(twc_deferred_paused(outer));
    twc_deferred_unpause(inner);
    assert_string_equal(tr.buf, "w:null i1:1 o2:2");
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
    assert_int_equal(freed, 2);
}

static void test_deferred_pause_outer_while_chained(void **state)
{
    twc_deferred *outer;
    twc_deferred *inner;

    (void)state;
    setup_trace();
    outer = twc_deferred_new(NULL, NULL);
    inner = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    twc_deferred_add_callback(outer, cb_record, "o2");
    twc_deferred_resolve(outer, NULL, NULL);
    twc_deferred_pause(outer);
    twc_deferred_resolve(inner, new_int(3), int_free);
    /* The value arrived but outer is paused by its user. */
    assert_string_equal(tr.buf, "w:null");
    assert_true(twc_deferred_paused(outer));
    twc_deferred_unpause(outer);
    assert_string_equal(tr.buf, "w:null o2:3");
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
}

static void cb_wait_self(void *arg, twc_result *r)
{
    twc_result_wait(r, twc_deferred_ref(arg));
}

static void test_deferred_wait_on_itself_fails_einval(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_wait_self, d);
    twc_deferred_add_errback(d, cb_record, "e2");
    twc_deferred_add_errback(d, eb_recover, "e3");
    twc_deferred_resolve(d, NULL, NULL);
    assert_string_equal(tr.buf, "e2:-1004 e3:-1004");
    twc_deferred_unref(d);
}

static void test_deferred_inner_links_after_continuation_see_null(void **state)
{
    twc_deferred *outer;
    twc_deferred *inner;

    (void)state;
    setup_trace();
    outer = twc_deferred_new(NULL, NULL);
    inner = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(inner, cb_increment, "i1");
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    twc_deferred_add_callback(outer, cb_record, "o2");
    twc_deferred_resolve(outer, NULL, NULL);
    /* Added after outer started waiting: runs after the hand-over. */
    twc_deferred_add_callback(inner, cb_record, "i3");
    twc_deferred_resolve(inner, new_int(1), int_free);
    /* i1 ran first; outer took 2 (and ran o2) before i3 saw NULL (Twisted). */
    assert_string_equal(tr.buf, "w:null i1:1 o2:2 i3:null");
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
    assert_int_equal(freed, 2);
}

static void eb_fail_again(void *arg, twc_result *r)
{
    (void)arg;
    /* The error may be re-raised from its own storage. */
    twc_result_fail_err(r, twc_result_err(r));
}

static void test_deferred_reject_err_keeps_errno(void **state)
{
    twc_deferred *d;
    twc_err e;
    const twc_err *got;

    (void)state;
    setup_trace();
    twc_err_sys(&e, EHOSTUNREACH, "connect %s", "[::1]:9");
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_errback(d, eb_fail_again, NULL);
    twc_deferred_reject_err(d, &e);
    got = twc_result_err(twc_deferred_peek(d));
    assert_int_equal(got->code, -EHOSTUNREACH);
    assert_int_equal(got->sys_errno, EHOSTUNREACH);
    assert_string_equal(got->msg, e.msg);
    twc_deferred_add_errback(d, eb_recover, "e");
    twc_deferred_unref(d);
}

/* ---- Pause ----------------------------------------------------------------- */

static void test_deferred_pause_holds_links_until_unpause(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_pause(d);
    twc_deferred_pause(d); /* nests */
    twc_deferred_add_callback(d, cb_record, "c1");
    twc_deferred_resolve(d, new_int(1), int_free);
    twc_deferred_add_callback(d, cb_record, "c2");
    assert_string_equal(tr.buf, "");
    assert_null(twc_deferred_peek(d));
    twc_deferred_unpause(d);
    assert_string_equal(tr.buf, "");
    twc_deferred_unpause(d);
    assert_string_equal(tr.buf, "c1:1 c2:1");
    twc_deferred_unref(d);
}

static void cb_pause_self(void *arg, twc_result *r)
{
    trace_outcome(&tr, "p", r);
    twc_deferred_pause(arg);
}

static void test_deferred_pause_inside_link_stops_chain(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_callback(d, cb_pause_self, d);
    twc_deferred_add_callback(d, cb_record, "c2");
    twc_deferred_resolve(d, NULL, NULL);
    assert_string_equal(tr.buf, "p:null");
    twc_deferred_unpause(d);
    assert_string_equal(tr.buf, "p:null c2:null");
    twc_deferred_unref(d);
}

/* ---- Cancel ---------------------------------------------------------------- */

struct op {
    int cancelled;
    int fire_on_cancel; /* the canceller fires with its own value */
};

static void op_cancel(void *arg, twc_deferred *d)
{
    struct op *op = arg;

    op->cancelled++;
    if (op->fire_on_cancel)
        twc_deferred_resolve(d, new_int(-5), int_free);
}

static void test_deferred_cancel_rejects_ecanceled(void **state)
{
    struct op op = {0, 0};
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(op_cancel, &op);
    twc_deferred_add_errback(d, cb_record, "e1");
    twc_deferred_add_errback(d, eb_recover, "e2");
    twc_deferred_cancel(d);
    assert_int_equal(op.cancelled, 1);
    assert_string_equal(tr.buf, "e1:-1003 e2:-1003");
    /* Cancelling again (fired) does nothing. */
    twc_deferred_cancel(d);
    assert_int_equal(op.cancelled, 1);
    twc_deferred_unref(d); /* the producer's reference went with the cancel */
}

static void test_deferred_cancel_canceller_may_fire(void **state)
{
    struct op op = {0, 1};
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(op_cancel, &op);
    twc_deferred_add_both(d, cb_record, "b1");
    twc_deferred_cancel(d);
    assert_string_equal(tr.buf, "b1:-5");
    twc_deferred_unref(d);
    assert_int_equal(freed, 1);
}

static void test_deferred_cancel_without_canceller_ignores_late_fire(void **state)
{
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    twc_deferred_add_both(d, cb_record, "b1");
    twc_deferred_add_errback(d, eb_recover, "e2");
    twc_deferred_cancel(d);
    twc_deferred_unref(d); /* consumer done; the producer still holds d */
    assert_string_equal(tr.buf, "b1:-1003 e2:-1003");
    /* The producer fires later: ignored, its value freed, its reference gone. */
    twc_deferred_resolve(d, new_int(1), int_free);
    assert_int_equal(freed, 2); /* 100 from e2 when d was freed, and the 1 */
}

static void test_deferred_cancel_propagates_to_chained(void **state)
{
    struct op op = {0, 0};
    twc_deferred *outer;
    twc_deferred *inner;

    (void)state;
    setup_trace();
    outer = twc_deferred_new(NULL, NULL);
    inner = twc_deferred_new(op_cancel, &op);
    twc_deferred_add_callback(outer, cb_wait_on, inner);
    twc_deferred_add_errback(outer, eb_recover, "e2");
    twc_deferred_resolve(outer, NULL, NULL);
    /* outer has fired but waits on inner: cancelling outer cancels inner. */
    twc_deferred_cancel(outer);
    assert_int_equal(op.cancelled, 1);
    assert_string_equal(tr.buf, "w:null e2:-1003");
    twc_deferred_unref(inner);
    twc_deferred_unref(outer);
}

static void test_deferred_cancel_paused_unfired_runs_links_on_unpause(void **state)
{
    struct op op = {0, 0};
    twc_deferred *d;

    (void)state;
    setup_trace();
    d = twc_deferred_new(op_cancel, &op);
    twc_deferred_add_errback(d, eb_recover, "e1");
    twc_deferred_pause(d);
    twc_deferred_cancel(d);
    assert_int_equal(op.cancelled, 1);
    assert_true(twc_deferred_fired(d));
    assert_string_equal(tr.buf, "");
    twc_deferred_unpause(d);
    assert_string_equal(tr.buf, "e1:-1003");
    twc_deferred_unref(d);
}

/* ---- Deep chains ----------------------------------------------------------- */

#define DEEP 100000

static uintptr_t depth_mark;

static void cb_mark_depth(void *arg, twc_result *r)
{
    (void)arg;
    (void)r;
    /* The frame address, not a local's: ASan may move locals to a fake stack. */
    depth_mark = (uintptr_t)__builtin_frame_address(0);
}

/* Twisted's test_boundedStackDepth: ds[0] waits on ds[1], which waits on
 * ds[2], ... on ds[n]. Firing ds[n] resumes all of them. Returns the stack
 * address seen by the last link of ds[0]. */
static uintptr_t chain_depth(size_t n, bool fail, bool cancel)
{
    twc_deferred **ds = calloc(n + 1, sizeof(*ds));
    struct op op = {0, 0};
    uintptr_t mark;
    size_t i;

    assert_non_null(ds);
    for (i = 0; i <= n; i++)
        ds[i] = twc_deferred_new(i == n ? op_cancel : NULL, &op);
    for (i = 0; i < n; i++)
        twc_deferred_add_callback(ds[i], cb_wait_on, ds[i + 1]);
    twc_deferred_add_both(ds[0], cb_mark_depth, NULL);
    twc_deferred_add_both(ds[0], cb_record, "top");
    twc_deferred_add_errback(ds[0], eb_recover, "top-e");
    for (i = 0; i < n; i++)
        twc_deferred_resolve(ds[i], NULL, NULL);
    for (i = 0; i < n; i++)
        assert_true(twc_deferred_paused(ds[i]));
    depth_mark = 0;
    memset(&tr, 0, sizeof(tr));
    if (cancel)
        twc_deferred_cancel(ds[0]);
    else if (fail)
        twc_deferred_reject(ds[n], TWC_EPROTO, "deep failure");
    else
        twc_deferred_resolve(ds[n], new_int(42), int_free);
    mark = depth_mark;
    assert_true(mark != 0);
    assert_int_equal(op.cancelled, cancel ? 1 : 0);
    for (i = 0; i <= n; i++)
        twc_deferred_unref(ds[i]);
    free(ds);
    return mark;
}

static void test_deferred_deep_chain_100k_bounded_stack(void **state)
{
    uintptr_t one;
    uintptr_t two;
    uintptr_t deep;

    (void)state;
    setup_trace();
    one = chain_depth(1, false, false);
    assert_string_equal(tr.buf, "top:42");
    two = chain_depth(2, false, false);
    deep = chain_depth(DEEP, false, false);
    assert_string_equal(tr.buf, "top:42");
    /* Same stack depth whatever the length (Twisted's assertion). */
    assert_int_equal(one, two);
    assert_int_equal(one, deep);
    assert_int_equal(freed, 3);
}

static void test_deferred_deep_chain_100k_failure(void **state)
{
    (void)state;
    setup_trace();
    chain_depth(DEEP, true, false);
    assert_string_equal(tr.buf, "top:-1000 top-e:-1000");
}

static void test_deferred_deep_chain_100k_cancel_propagates(void **state)
{
    (void)state;
    setup_trace();
    /* Cancelling the top walks down 100k waiting deferreds to the one with
     * the canceller; its TWC_ECANCELED flows back up. */
    chain_depth(DEEP, false, true);
    assert_string_equal(tr.buf, "top:-1003 top-e:-1003");
}

static void cb_wait_fired(void *arg, twc_result *r)
{
    int *sum = arg;
    int *v = twc_result_value(r);

    if (v != NULL)
        *sum += *v;
    twc_result_wait(r, twc_deferred_succeed(new_int(1), int_free));
}

static void test_deferred_100k_links_waiting_on_fired_deferreds(void **state)
{
    twc_deferred *d;
    int sum = 0;
    size_t i;

    (void)state;
    setup_trace();
    d = twc_deferred_new(NULL, NULL);
    for (i = 0; i < DEEP; i++)
        twc_deferred_add_callback(d, cb_wait_fired, &sum);
    twc_deferred_resolve(d, NULL, NULL);
    assert_int_equal(sum, DEEP - 1);
    assert_int_equal(*(int *)twc_result_value(twc_deferred_peek(d)), 1);
    twc_deferred_unref(d);
    assert_int_equal(freed, DEEP);
}

/* ---- Programming errors ---------------------------------------------------- */

static void fire_twice(void)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);
    int l1;
    int l2;

    /* Each site and the record of its line share one line. */
    /* clang-format off */
    l1 = __LINE__; twc_deferred_resolve(d, NULL, NULL);
    l2 = __LINE__; fprintf(stderr, "lines %d %d\n", l1, l2); twc_deferred_reject(d, -1000, "x");
    /* clang-format on */
}

static void test_deferred_double_fire_aborts_naming_both_sites(void **state)
{
    const char *out;
    const char *lines;
    char want[256];
    int l1 = 0;
    int l2 = 0;

    (void)state;
    out = expect_abort(fire_twice);
    lines = strstr(out, "lines ");
    assert_non_null(lines);
    assert_int_equal(sscanf(lines, "lines %d %d", &l1, &l2), 2);
    assert_int_equal(l2, l1 + 1);
    snprintf(want, sizeof(want), "deferred fired twice: first at %s:%d, again at %s:%d", __FILE__,
             l1, __FILE__, l2);
    assert_non_null(strstr(out, want));
}

static void fire_twice_resolve(void)
{
    twc_deferred *d = twc_deferred_succeed(NULL, NULL);

    twc_deferred_resolve(d, NULL, NULL);
}

static void test_deferred_double_resolve_of_succeed_aborts(void **state)
{
    const char *out;

    (void)state;
    out = expect_abort(fire_twice_resolve);
    assert_non_null(strstr(out, "deferred fired twice: first at lib/deferred_util.c:"));
    assert_non_null(strstr(out, __FILE__));
}

static void cancel_then_fire_with_canceller(void)
{
    struct op op = {0, 0};
    twc_deferred *d = twc_deferred_new(op_cancel, &op);

    twc_deferred_add_errback(d, eb_recover, "e");
    twc_deferred_cancel(d);
    /* A producer with a canceller must not fire after cancel. */
    twc_deferred_resolve(d, NULL, NULL);
}

static void test_deferred_fire_after_cancel_with_canceller_aborts(void **state)
{
    const char *out;

    (void)state;
    out = expect_abort(cancel_then_fire_with_canceller);
    assert_non_null(strstr(out, "deferred fired twice"));
}

static void unpause_unpaused(void)
{
    twc_deferred *d = twc_deferred_new(NULL, NULL);

    twc_deferred_unpause(d);
}

static void test_deferred_unpause_without_pause_aborts(void **state)
{
    const char *out;

    (void)state;
    out = expect_abort(unpause_unpaused);
    assert_non_null(strstr(out, "not paused"));
}

static void unhandled_to_stderr(void)
{
    twc_deferred *d = twc_deferred_fail(TWC_EDNS, "no answer for example.invalid");

    twc_deferred_unref(d);
    abort(); /* expect_abort wants SIGABRT: the message came before it */
}

static void test_deferred_unhandled_failure_logged_on_default_logger(void **state)
{
    const char *out;

    (void)state;
    out = expect_abort(unhandled_to_stderr);
    assert_non_null(
        strstr(out, "Unhandled error in Deferred: TWC_EDNS: no answer for example.invalid"));
}

static void handled_not_logged(void)
{
    twc_deferred *d = twc_deferred_fail(TWC_EDNS, "no answer");

    twc_deferred_add_errback(d, eb_recover, "e");
    twc_deferred_unref(d);
    abort();
}

static void test_deferred_handled_failure_not_logged(void **state)
{
    const char *out;

    (void)state;
    out = expect_abort(handled_not_logged);
    assert_null(strstr(out, "Unhandled"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deferred_callbacks_run_in_order_on_resolve),
        cmocka_unit_test(test_deferred_link_added_after_fire_runs_at_once),
        cmocka_unit_test(test_deferred_failing_callback_switches_to_errbacks),
        cmocka_unit_test(test_deferred_reject_runs_errbacks_with_error),
        cmocka_unit_test(test_deferred_errback_leaving_failure_keeps_failing),
        cmocka_unit_test(test_deferred_result_take_and_set_ownership),
        cmocka_unit_test(test_deferred_unfired_value_freed_with_deferred),
        cmocka_unit_test(test_deferred_link_may_drop_last_reference),
        cmocka_unit_test(test_deferred_link_added_inside_link_runs_after_it),
        cmocka_unit_test(test_deferred_chain_waits_for_other),
        cmocka_unit_test(test_deferred_chain_on_fired_deferred_continues_at_once),
        cmocka_unit_test(test_deferred_chain_failure_goes_to_errback),
        cmocka_unit_test(test_deferred_chain_with_paused_inner),
        cmocka_unit_test(test_deferred_pause_outer_while_chained),
        cmocka_unit_test(test_deferred_wait_on_itself_fails_einval),
        cmocka_unit_test(test_deferred_inner_links_after_continuation_see_null),
        cmocka_unit_test(test_deferred_reject_err_keeps_errno),
        cmocka_unit_test(test_deferred_cancel_paused_unfired_runs_links_on_unpause),
        cmocka_unit_test(test_deferred_pause_holds_links_until_unpause),
        cmocka_unit_test(test_deferred_pause_inside_link_stops_chain),
        cmocka_unit_test(test_deferred_cancel_rejects_ecanceled),
        cmocka_unit_test(test_deferred_cancel_canceller_may_fire),
        cmocka_unit_test(test_deferred_cancel_without_canceller_ignores_late_fire),
        cmocka_unit_test(test_deferred_cancel_propagates_to_chained),
        cmocka_unit_test(test_deferred_deep_chain_100k_bounded_stack),
        cmocka_unit_test(test_deferred_deep_chain_100k_failure),
        cmocka_unit_test(test_deferred_deep_chain_100k_cancel_propagates),
        cmocka_unit_test(test_deferred_100k_links_waiting_on_fired_deferreds),
        cmocka_unit_test(test_deferred_double_fire_aborts_naming_both_sites),
        cmocka_unit_test(test_deferred_double_resolve_of_succeed_aborts),
        cmocka_unit_test(test_deferred_fire_after_cancel_with_canceller_aborts),
        cmocka_unit_test(test_deferred_unpause_without_pause_aborts),
        cmocka_unit_test(test_deferred_unhandled_failure_logged_on_default_logger),
        cmocka_unit_test(test_deferred_handled_failure_not_logged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
