/*
 * Unit tests for the HTTP server's shutdown lifetime rule (server.h,
 * twc_http_server_free_notify): after stop and the grace period's cancel, a
 * handler may still hold its request, and the resource tree it lives in must
 * outlive it. Real loopback sockets (127.0.0.1, port 0), a plain blocking
 * client socket, and a fake-clock reactor, so "later" is a clock advance.
 * Run under ASan (make SANITIZE=address,undefined): freeing the tree too
 * early is a use-after-free in the handler's timer, too late a leak.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>

#include "deferred.h"
#include "err.h"
#include "protocol.h"
#include "reactor.h"
#include "stream.h"
#include "proto/http/resource.h"
#include "proto/http/server.h"

#define SLOW_MS 5000 /* the slow handler answers this long after its request */

/* A resource whose handler answers later from its own timer, ignoring the
 * client's loss, and reads the resource's data when it does: a tree freed
 * before that timer fires is a use-after-free. */
struct slow {
    twc_http_resource base; /* first */
    char greeting[16];
    int renders;
};

struct pending {
    struct slow *res; /* borrowed: the tree must outlive the request */
    twc_http_request *req;
    twc_timer *t;
};

struct fx {
    twc_reactor *r;
    twc_http_resource root;
    struct slow *slow;
    twc_http_server *srv;
    twc_listener *l;
    uint16_t port;
    int fd;             /* the client */
    int finished;       /* slow requests answered */
    int write_code;     /* what their write returned */
    bool gone;          /* free_notify's done ran */
    bool in_handler;    /* the slow handler's timer callback is on the stack */
    bool gone_in_handler;
};

static struct fx fx;

static void on_later(twc_timer *t, void *arg)
{
    struct pending *p = arg;

    (void)t;
    fx.in_handler = true;
    fx.write_code = twc_http_response_write(p->req, p->res->greeting, strlen(p->res->greeting));
    twc_http_response_finish(p->req);
    fx.in_handler = false;
    fx.finished++;
    twc_timer_free(p->t);
    free(p);
}

static void slow_render(twc_http_resource *r, twc_http_request *req)
{
    struct pending *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    p->res = (struct slow *)r;
    p->res->renders++;
    p->req = req;
    p->t = twc_timer_new(twc_http_request_reactor(req), on_later, p);
    assert_non_null(p->t);
    twc_timer_start(p->t, SLOW_MS, 0);
}

static void slow_free(twc_http_resource *r)
{
    free(r);
}

static const struct twc_http_resource_ops slow_ops = {.render = slow_render, .free = slow_free};

static void root_render(twc_http_resource *r, twc_http_request *req)
{
    (void)r;
    twc_http_response_send(req, 200, "text/plain", "root", 4);
}

static const struct twc_http_resource_ops root_ops = {.render = root_render};

static int setup(void **state)
{
    struct twc_reactor_opts ro = {.fake_clock = 1};
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};
    struct twc_http_server_opts so;
    twc_addr addr;
    twc_err err;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.fd = -1;
    fx.r = twc_reactor_new(&ro, &err);
    assert_non_null(fx.r);
    twc_http_resource_init(&fx.root, &root_ops, false);
    fx.slow = calloc(1, sizeof(*fx.slow));
    assert_non_null(fx.slow);
    twc_http_resource_init(&fx.slow->base, &slow_ops, true);
    snprintf(fx.slow->greeting, sizeof(fx.slow->greeting), "late");
    assert_int_equal(twc_http_resource_put_child(&fx.root, "slow", &fx.slow->base), 0);
    memset(&so, 0, sizeof(so));
    so.root = &fx.root;
    fx.srv = twc_http_server_new(fx.r, &so, &err);
    assert_non_null(fx.srv);
    fx.l = twc_tcp_listen(fx.r, &lo, twc_http_server_factory(fx.srv), &err);
    assert_non_null(fx.l);
    assert_int_equal(twc_listener_addr(fx.l, &addr), 0);
    fx.port = twc_addr_port(&addr);
    return 0;
}

/* Whatever a test left: the tree (unless done freed it), the reactor with no
 * handle left (a leaked connection or timer shows here and under LSan). */
static int teardown(void **state)
{
    (void)state;
    if (fx.fd >= 0)
        close(fx.fd);
    twc_listener_free(fx.l);
    if (!fx.gone)
        twc_http_resource_free(&fx.root);
    assert_int_equal(twc_reactor_live_handles(fx.r), 0);
    twc_reactor_free(fx.r);
    return 0;
}

static void spin(int rounds)
{
    int i;

    for (i = 0; i < rounds; i++)
        twc_reactor_run_once(fx.r, 5);
}

/* A blocking client socket (1 s receive timeout) with one request sent. */
static void client_request(const char *path)
{
    struct sockaddr_in sa;
    struct timeval tv = {1, 0};
    char req[128];
    int n;

    fx.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fx.fd >= 0);
    setsockopt(fx.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(fx.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fx.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(write(fx.fd, req, (size_t)n), n);
}

/* The client sees its connection end (EOF or reset) without a response. */
static void assert_client_cut(void)
{
    char buf[256];
    ssize_t n;

    n = read(fx.fd, buf, sizeof(buf));
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void on_gone(void *arg)
{
    (void)arg;
    fx.gone = true;
    fx.gone_in_handler = fx.in_handler;
    /* What the owner does here (cmd/web.c web_release): free the tree. */
    twc_http_resource_free(&fx.root);
}

static void wait_renders(int n)
{
    int i;

    for (i = 0; i < 400 && fx.slow->renders < n; i++)
        spin(1);
    assert_int_equal(fx.slow->renders, n);
}

static void on_stop_failed(void *arg, twc_result *r)
{
    int *code = arg;

    *code = twc_result_err(r)->code;
    twc_result_set(r, NULL, NULL);
}

/* What SIGTERM does in cmd/server.c: the listener goes first (the
 * listening services are the web service's children), the server drains,
 * and the grace period runs out: cancel, which aborts the client's
 * connection. */
static void stop_and_cancel(void)
{
    twc_deferred *d;
    int code = 0;

    twc_listener_free(fx.l);
    fx.l = NULL;
    d = twc_http_server_stop(fx.srv);
    assert_non_null(d);
    twc_deferred_add_errback(d, on_stop_failed, &code);
    spin(5);
    assert_false(twc_deferred_fired(d));
    twc_deferred_cancel(d);
    twc_deferred_unref(d);
    assert_int_equal(code, TWC_ECANCELED);
    spin(5);
}

static void test_shutdown_tree_outlives_slow_handler(void **state)
{
    (void)state;
    client_request("/slow");
    wait_renders(1);
    stop_and_cancel();
    assert_client_cut();
    /* The handler still holds its request: the connection stays counted. */
    assert_int_equal(twc_http_server_connections(fx.srv), 1);
    twc_http_server_free_notify(fx.srv, on_gone, NULL);
    fx.srv = NULL;
    spin(5);
    assert_false(fx.gone); /* the tree is still in use */
    twc_reactor_advance(fx.r, SLOW_MS);
    spin(5);
    assert_int_equal(fx.finished, 1);
    assert_int_equal(fx.write_code, TWC_ECLOSED);
    assert_true(fx.gone);
    assert_false(fx.gone_in_handler); /* from the loop, not under the finish */
}

static void test_shutdown_free_notify_without_connections_is_at_once(void **state)
{
    (void)state;
    twc_listener_free(fx.l);
    fx.l = NULL;
    assert_null(twc_http_server_stop(fx.srv));
    twc_http_server_free_notify(fx.srv, on_gone, NULL);
    fx.srv = NULL;
    assert_true(fx.gone);
}

static void test_shutdown_null_server_calls_done(void **state)
{
    (void)state;
    twc_http_server_free_notify(NULL, on_gone, NULL);
    assert_true(fx.gone);
    twc_listener_free(fx.l);
    fx.l = NULL;
    twc_http_server_free(fx.srv); /* the fixture's, unused */
    fx.srv = NULL;
}

/* The plain free with a request still held: the server frees itself once
 * the handler finished (nothing leaks); the owner kept the tree until then. */
static void test_shutdown_plain_free_with_request_held(void **state)
{
    (void)state;
    client_request("/slow");
    wait_renders(1);
    stop_and_cancel();
    assert_int_equal(twc_http_server_connections(fx.srv), 1);
    twc_http_server_free(fx.srv); /* pending: the connection still is held */
    fx.srv = NULL;
    twc_reactor_advance(fx.r, SLOW_MS);
    spin(5);
    assert_int_equal(fx.finished, 1);
    assert_false(fx.gone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shutdown_tree_outlives_slow_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_free_notify_without_connections_is_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_null_server_calls_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_plain_free_with_request_held, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
