/* Unit tests for lib/service.c: the service tree (bind/start order, named
 * children, stop as a deferred that waits for draining, cancellation of a
 * slow stop, reload hooks and their failures), on a fake-clock reactor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferred.h"
#include "log.h"
#include "service.h"

static twc_reactor *reactor;
static twc_log *logger;
static char trace[512]; /* "bind:a start:a stop:b ..." */
static char logged[2048];

static void log_sink(void *arg, const char *line, size_t len)
{
    (void)arg;
    strncat(logged, line, len < sizeof(logged) - strlen(logged) - 2 ? len : 0);
    strcat(logged, "\n");
}

static void note(const char *what, const twc_service *s)
{
    char w[96];

    snprintf(w, sizeof(w), "%s%s:%s", trace[0] != '\0' ? " " : "", what, twc_service_name(s));
    strncat(trace, w, sizeof(trace) - strlen(trace) - 1);
}

/* A test service: records its hooks; its stop can be made to wait (drain). */
struct fake {
    twc_service base;
    int fail_bind, fail_start, fail_reload;
    int slow_stop;          /* stop returns a deferred fired by finish_stop */
    twc_deferred *stopping; /* producer's reference while slow */
    int cancelled;
    int data; /* "loaded data": reload changes it only on success */
    int *freed;
};

static int fake_bind(twc_service *s, twc_err *err)
{
    struct fake *f = (struct fake *)s;

    note("bind", s);
    return f->fail_bind ? twc_err_set(err, -13, "cannot bind %s", s->name) : 0;
}

static int fake_start(twc_service *s, twc_err *err)
{
    struct fake *f = (struct fake *)s;

    note("start", s);
    return f->fail_start ? twc_err_set(err, TWC_EINVAL, "cannot start %s", s->name) : 0;
}

static void fake_cancel(void *arg, twc_deferred *d)
{
    struct fake *f = arg;

    (void)d;
    f->cancelled++;
    f->stopping = NULL; /* the rejection that follows consumes the producer's reference */
}

static twc_deferred *fake_stop(twc_service *s)
{
    struct fake *f = (struct fake *)s;
    twc_deferred *d;

    note("stop", s);
    if (!f->slow_stop)
        return NULL;
    d = twc_deferred_new(fake_cancel, f);
    f->stopping = d;
    return d;
}

static int fake_reload(twc_service *s, twc_err *err)
{
    struct fake *f = (struct fake *)s;

    note("reload", s);
    if (f->fail_reload)
        return twc_err_set(err, TWC_EPROTO, "zones/%s.zone:3: bad TTL", s->name);
    f->data++;
    return 0;
}

static void fake_free(twc_service *s)
{
    struct fake *f = (struct fake *)s;

    note("free", s);
    if (f->freed != NULL)
        (*f->freed)++;
    free(f);
}

static const struct twc_service_ops fake_ops = {
    .kind = "fake",
    .bind = fake_bind,
    .start = fake_start,
    .stop = fake_stop,
    .reload = fake_reload,
    .free = fake_free,
};

static struct fake *fake_new(const char *name)
{
    struct fake *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    twc_service_init(&f->base, &fake_ops, reactor, name);
    return f;
}

struct outcome {
    int calls;
    bool ok;
    int code;
};

static void on_outcome(void *arg, twc_result *r)
{
    struct outcome *o = arg;

    o->calls++;
    o->ok = twc_result_ok(r);
    o->code = twc_result_code(r);
    if (!o->ok)
        twc_result_set(r, NULL, NULL); /* handled */
}

static int setup(void **state)
{
    struct twc_reactor_opts o = {NULL, 1};
    twc_err err;

    (void)state;
    trace[0] = '\0';
    logged[0] = '\0';
    reactor = twc_reactor_new(&o, &err);
    assert_non_null(reactor);
    logger = twc_log_new(TWC_LOG_TEXT, TWC_LOG_DEBUG, NULL, &err);
    assert_non_null(logger);
    twc_log_set_sink(logger, log_sink, NULL);
    twc_reactor_set_log(reactor, logger);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(twc_reactor_live_handles(reactor), 0);
    twc_reactor_set_log(reactor, NULL);
    twc_reactor_free(reactor);
    twc_log_free(logger);
    return 0;
}

static void test_service_named_children(void **state)
{
    twc_service *root = twc_multi_service_new(reactor, "root");
    struct fake *a = fake_new("a"), *b = fake_new("b"), *dup = fake_new("a");
    twc_err err;
    int freed = 0;

    (void)state;
    assert_non_null(root);
    a->freed = &freed;
    b->freed = &freed;
    assert_int_equal(twc_service_add(root, &a->base, &err), 0);
    assert_int_equal(twc_service_add(root, &b->base, &err), 0);
    assert_int_equal(twc_service_add(root, &dup->base, &err), TWC_EINVAL);
    assert_string_equal(err.msg, "service 'root' already has a child named 'a'");
    assert_ptr_equal(twc_service_find(root, "b"), &b->base);
    assert_null(twc_service_find(root, "c"));
    assert_int_equal(twc_service_count(root), 2);
    assert_ptr_equal(twc_service_child(root, 0), &a->base);
    assert_ptr_equal(twc_service_parent(&b->base), root);
    /* Freeing a child detaches it from its parent. */
    twc_service_free(&a->base);
    assert_int_equal(twc_service_count(root), 1);
    assert_int_equal(freed, 1);
    twc_service_free(&dup->base);
    twc_service_free(root);
    assert_int_equal(freed, 2);
    twc_service_free(NULL);
}

static void test_service_bind_start_order(void **state)
{
    twc_service *root = twc_multi_service_new(reactor, "root");
    twc_service *mid = twc_multi_service_new(reactor, "mid");
    struct fake *a = fake_new("a"), *b = fake_new("b"), *c = fake_new("c");
    twc_deferred *d;
    struct outcome o = {0, false, 0};
    twc_err err;

    (void)state;
    assert_int_equal(twc_service_add(root, &a->base, &err), 0);
    assert_int_equal(twc_service_add(mid, &b->base, &err), 0);
    assert_int_equal(twc_service_add(root, mid, &err), 0);
    assert_int_equal(twc_service_bind(root, &err), 0);
    assert_string_equal(trace, "bind:a bind:b");
    assert_int_equal(twc_service_start(root, &err), 0);
    assert_string_equal(trace, "bind:a bind:b start:a start:b");
    assert_int_equal(twc_service_running(&a->base), 1);
    /* A child added to a running tree is bound and started at once. */
    assert_int_equal(twc_service_add(mid, &c->base, &err), 0);
    assert_string_equal(trace, "bind:a bind:b start:a start:b bind:c start:c");
    /* Stop: children in reverse order, depth first. */
    trace[0] = '\0';
    d = twc_service_stop(root);
    twc_deferred_add_both(d, on_outcome, &o);
    twc_deferred_unref(d);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    assert_string_equal(trace, "stop:c stop:b stop:a");
    assert_int_equal(twc_service_running(&a->base), 0);
    /* Stopping again is a no-op that still fires. */
    trace[0] = '\0';
    d = twc_service_stop(root);
    twc_deferred_add_both(d, on_outcome, &o);
    twc_deferred_unref(d);
    assert_int_equal(o.calls, 2);
    assert_string_equal(trace, "");
    twc_service_free(root);
    assert_string_equal(trace, "free:c free:b free:a");
}

static void test_service_bind_failure_stops_walk(void **state)
{
    twc_service *root = twc_multi_service_new(reactor, "root");
    struct fake *a = fake_new("a"), *b = fake_new("b"), *c = fake_new("c");
    twc_err err;

    (void)state;
    b->fail_bind = 1;
    assert_int_equal(twc_service_add(root, &a->base, &err), 0);
    assert_int_equal(twc_service_add(root, &b->base, &err), 0);
    assert_int_equal(twc_service_add(root, &c->base, &err), 0);
    assert_int_equal(twc_service_start(root, &err), -13);
    assert_string_equal(err.msg, "cannot bind b");
    assert_string_equal(trace, "bind:a bind:b");
    assert_int_equal(twc_service_running(&c->base), 0);
    twc_service_free(root);
}

static void test_service_add_to_running_fails(void **state)
{
    twc_service *root = twc_multi_service_new(reactor, "root");
    struct fake *a = fake_new("a");
    twc_err err;

    (void)state;
    assert_int_equal(twc_service_start(root, &err), 0);
    a->fail_start = 1;
    assert_int_equal(twc_service_add(root, &a->base, &err), TWC_EINVAL);
    assert_string_equal(err.msg, "cannot start a");
    assert_int_equal(twc_service_count(root), 0);
    twc_service_free(&a->base); /* the caller kept it */
    twc_service_free(root);
}

/* The stop deferred waits for every service to drain. */
static void test_service_stop_waits_for_drain(void **state)
{
    twc_service *root = twc_multi_service_new(reactor, "root");
    struct fake *a = fake_new("a"), *b = fake_new("b");
    struct outcome o = {0, false, 0};
    twc_deferred *d;
    twc_err err;

    (void)state;
    a->slow_stop = 1;
    b->slow_stop = 1;
    assert_int_equal(twc_service_add(root, &a->base, &err), 0);
    assert_int_equal(twc_service_add(root, &b->base, &err), 0);
    assert_int_equal(twc_service_start(root, &err), 0);
    d = twc_service_stop(root);
    twc_deferred_add_both(d, on_outcome, &o);
    twc_deferred_unref(d);
    assert_int_equal(o.calls, 0);
    twc_deferred_resolve(a->stopping, NULL, NULL);
    assert_int_equal(o.calls, 0);
    /* A failed stop is logged and does not fail the whole. */
    twc_deferred_reject(b->stopping, TWC_EPROTO, "3 connections would not close");
    assert_int_equal(o.calls, 1);
    assert_true(o.ok);
    assert_non_null(strstr(logged, "[b] error: stop failed: 3 connections would not close"));
    twc_service_free(root);
}

/* The caller's grace period: cancelling the stop cancels every slow stop. */
static void test_service_stop_cancel_after_grace(void **state)
{
    twc_service *root = twc_multi_service_new(reactor, "root");
    struct fake *a = fake_new("a"), *b = fake_new("b");
    struct outcome o = {0, false, 0};
    twc_deferred *d;
    twc_err err;

    (void)state;
    a->slow_stop = 1;
    assert_int_equal(twc_service_add(root, &a->base, &err), 0);
    assert_int_equal(twc_service_add(root, &b->base, &err), 0);
    assert_int_equal(twc_service_start(root, &err), 0);
    d = twc_service_stop(root);
    assert_int_equal(twc_deferred_add_timeout(d, reactor, 10000), 0);
    twc_deferred_add_both(d, on_outcome, &o);
    twc_deferred_unref(d);
    twc_reactor_advance(reactor, 9999);
    assert_int_equal(o.calls, 0);
    assert_int_equal(a->cancelled, 0);
    twc_reactor_advance(reactor, 1);
    assert_int_equal(a->cancelled, 1);
    assert_int_equal(o.calls, 1);
    assert_true(o.ok); /* the cancelled stop counts as stopped, without a log line */
    assert_null(strstr(logged, "stop failed"));
    twc_service_free(root);
}

static void test_service_reload_failure_keeps_data(void **state)
{
    twc_service *root = twc_multi_service_new(reactor, "root");
    struct fake *a = fake_new("dns"), *b = fake_new("irc");
    twc_err err;

    (void)state;
    assert_int_equal(twc_service_add(root, &a->base, &err), 0);
    assert_int_equal(twc_service_add(root, &b->base, &err), 0);
    a->fail_reload = 1;
    assert_int_equal(twc_service_reload(root), 1);
    assert_string_equal(trace, "reload:dns reload:irc");
    assert_int_equal(a->data, 0);
    assert_int_equal(b->data, 1);
    assert_non_null(
        strstr(logged, "[dns] error: reload failed, keeping the old data: zones/dns.zone:3: bad TTL"));
    a->fail_reload = 0;
    assert_int_equal(twc_service_reload(root), 0);
    assert_int_equal(a->data, 1);
    twc_service_free(root);
}

static void test_service_name_truncated(void **state)
{
    struct fake *f = fake_new("a-very-long-service-name-that-goes-on-and-on-and-on-past-the-limit");

    (void)state;
    assert_int_equal(strlen(twc_service_name(&f->base)), TWC_SERVICE_NAME_MAX - 1);
    twc_service_free(&f->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_named_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_bind_start_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_bind_failure_stops_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_add_to_running_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_stop_waits_for_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_stop_cancel_after_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_reload_failure_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_name_truncated, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
