/*
 * Unit tests for proto/http/proxy.c: a client agent talks to a twc HTTP
 * server whose tree mounts the proxy at /api, which forwards to a scripted
 * upstream; all on real loopback sockets (127.0.0.1, port 0) and one
 * fake-clock reactor, so the 504 test advances time instead of sleeping.
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

#include <cmocka.h>

#include "buf.h"
#include "deferred.h"
#include "err.h"
#include "proto/http/client.h"
#include "proto/http/proxy.h"
#include "proto/http/resource.h"
#include "proto/http/server.h"
#include "protocol.h"
#include "reactor.h"
#include "stream.h"

#include "tests/unit/proto/http/script_server.h"

/* ---- Fixture ------------------------------------------------------------- */

struct fx {
    twc_reactor *r;
    struct server up; /* the scripted upstream */
    twc_http_resource *root;
    twc_http_server *srv;
    twc_listener *front;
    uint16_t front_port;
    twc_http_agent *a; /* the test's client */
    int status;
    twc_buf body;
    bool ended;
    twc_err end_err;
    twc_http_client_request *req;
    struct twc_http_client_response resp_copy;
    char xup[64];
    char clen[32];
    bool keep_alive_seen;
};

static struct fx fx;

static void root_render(twc_http_resource *r, twc_http_request *req)
{
    (void)r;
    twc_http_response_send(req, 200, "text/plain", "root", 4);
}

static void root_free(twc_http_resource *r)
{
    free(r);
}

static const struct twc_http_resource_ops root_ops = {.render = root_render, .free = root_free};

static int setup_with(const char *upstream_path)
{
    struct twc_reactor_opts ro = {.fake_clock = 1};
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};
    struct twc_http_agent_opts ao;
    struct twc_http_server_opts so;
    twc_http_resource *px;
    char url[128];
    twc_addr addr;
    twc_err err;

    memset(&fx, 0, sizeof(fx));
    fx.r = twc_reactor_new(&ro, &err);
    assert_non_null(fx.r);
    fx.up.base.ops = &s_factory_ops;
    twc_buf_init(&fx.up.log, 1 << 20);
    fx.up.l = twc_tcp_listen(fx.r, &lo, &fx.up.base, &err);
    assert_non_null(fx.up.l);
    assert_int_equal(twc_listener_addr(fx.up.l, &addr), 0);
    fx.up.port = twc_addr_port(&addr);

    fx.root = calloc(1, sizeof(*fx.root));
    assert_non_null(fx.root);
    twc_http_resource_init(fx.root, &root_ops, false);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)fx.up.port, upstream_path);
    memset(&ao, 0, sizeof(ao));
    ao.head_timeout_ms = 2000;
    px = twc_http_proxy_new(fx.r, NULL, url, &ao, &err);
    assert_non_null(px);
    assert_int_equal(twc_http_resource_put_path(fx.root, "/api", px), 0);
    memset(&so, 0, sizeof(so));
    so.root = fx.root;
    fx.srv = twc_http_server_new(fx.r, &so, &err);
    assert_non_null(fx.srv);
    fx.front = twc_tcp_listen(fx.r, &lo, twc_http_server_factory(fx.srv), &err);
    assert_non_null(fx.front);
    assert_int_equal(twc_listener_addr(fx.front, &addr), 0);
    fx.front_port = twc_addr_port(&addr);

    memset(&ao, 0, sizeof(ao));
    ao.head_timeout_ms = 60000;
    fx.a = twc_http_agent_new(fx.r, &ao, &err);
    assert_non_null(fx.a);
    twc_buf_init(&fx.body, 1 << 24);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_with("/v1");
}

static void spin(int rounds)
{
    int i;

    for (i = 0; i < rounds; i++)
        twc_reactor_run_once(fx.r, 5);
}

static int teardown(void **state)
{
    twc_deferred *d;
    int i;

    (void)state;
    twc_http_client_request_free(fx.req);
    twc_http_agent_free(fx.a);
    twc_listener_free(fx.front);
    twc_listener_free(fx.up.l);
    d = fx.srv != NULL ? twc_http_server_stop(fx.srv) : NULL;
    for (i = 0; i < 200 && d != NULL && !twc_deferred_fired(d); i++)
        twc_reactor_run_once(fx.r, 5);
    twc_deferred_unref(d);
    spin(10);
    twc_http_server_free(fx.srv);
    twc_http_resource_free(fx.root); /* frees the proxy and its agent */
    spin(10);
    assert_int_equal(fx.up.open, 0);
    assert_int_equal(twc_reactor_live_handles(fx.r), 0);
    twc_reactor_free(fx.r);
    twc_buf_cleanup(&fx.up.log);
    twc_buf_cleanup(&fx.body);
    return 0;
}

static void on_head(void *arg, twc_result *r)
{
    const struct twc_http_client_response *resp = twc_result_value(r);
    twc_slice v;

    (void)arg;
    fx.status = resp->status;
    if (twc_http_client_response_get(resp, "X-Up", &v) && v.len < sizeof(fx.xup)) {
        memcpy(fx.xup, v.p, v.len);
        fx.xup[v.len] = '\0';
    }
    fx.keep_alive_seen = twc_http_client_response_get(resp, "Keep-Alive", &v);
    fx.clen[0] = '\0';
    if (twc_http_client_response_get(resp, "Content-Length", &v) && v.len < sizeof(fx.clen)) {
        memcpy(fx.clen, v.p, v.len);
        fx.clen[v.len] = '\0';
    }
}

static void on_head_err(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, NULL, NULL);
}

static void on_body(void *arg, const uint8_t *d, size_t n)
{
    (void)arg;
    assert_int_equal(twc_buf_append(&fx.body, d, n), 0);
}

static void on_end(void *arg, const twc_err *err)
{
    (void)arg;
    fx.ended = true;
    fx.end_err = *err;
}

static void start(struct twc_http_client_request_opts *o, const char *path)
{
    static char url[256];
    twc_deferred *d;
    twc_err err;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)fx.front_port, path);
    o->url = url;
    o->on_body = on_body;
    o->on_end = on_end;
    fx.status = 0;
    fx.ended = false;
    twc_buf_reset(&fx.body);
    twc_http_client_request_free(fx.req);
    fx.req = twc_http_client_request_new(fx.a, o, &err);
    assert_non_null(fx.req);
    d = twc_http_client_request_head(fx.req);
    twc_deferred_add_callbacks(d, on_head, on_head_err, NULL);
    twc_deferred_unref(d);
}

static void run_until_end(void)
{
    int i;

    for (i = 0; i < 4000 && !fx.ended; i++)
        twc_reactor_run_once(fx.r, 5);
    assert_true(fx.ended);
}

static bool up_logged(const char *s)
{
    return twc_buf_len(&fx.up.log) > 0 &&
           memmem(twc_buf_data(&fx.up.log), twc_buf_len(&fx.up.log), s, strlen(s)) != NULL;
}

static void assert_body(const char *want)
{
    assert_int_equal(twc_buf_len(&fx.body), strlen(want));
    assert_memory_equal(twc_buf_data(&fx.body), want, strlen(want));
}

/* ---- Tests --------------------------------------------------------------- */

static void test_proxy_get_rewrites_prefix_and_headers(void **state)
{
    struct twc_http_field f[] = {
        {"Keep-Alive", "timeout=5"}, {"TE", "trailers"}, {"X-Custom", "yes"}};
    struct twc_http_client_request_opts o = {0};
    char host[64];

    (void)state;
    fx.up.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: 1\r\n"
                           "Keep-Alive: timeout=9\r\n\r\nhello";
    fx.up.nsteps = 1;
    o.headers = f;
    o.nheaders = 3;
    start(&o, "/api/x?q=1");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_body("hello");
    assert_string_equal(fx.xup, "1");
    assert_false(fx.keep_alive_seen);
    assert_true(up_logged("GET /v1/x?q=1 HTTP/1.1\r\n"));
    snprintf(host, sizeof(host), "Host: 127.0.0.1:%u\r\n", (unsigned)fx.front_port);
    assert_true(up_logged(host)); /* the original Host */
    assert_true(up_logged("X-Forwarded-For: 127.0.0.1\r\n"));
    assert_true(up_logged("X-Forwarded-Proto: http\r\n"));
    assert_true(up_logged("X-Custom: yes\r\n"));
    assert_false(up_logged("Keep-Alive"));
    assert_false(up_logged("TE:"));
}

static void test_proxy_prefix_alone_and_xff_append(void **state)
{
    struct twc_http_field f[] = {{"X-Forwarded-For", "10.0.0.9"}};
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.up.steps[0].reply = "HTTP/1.1 204 No Content\r\n\r\n";
    fx.up.nsteps = 1;
    o.headers = f;
    o.nheaders = 1;
    start(&o, "/api");
    run_until_end();
    assert_int_equal(fx.status, 204);
    assert_true(up_logged("GET /v1 HTTP/1.1\r\n"));
    assert_true(up_logged("X-Forwarded-For: 10.0.0.9, 127.0.0.1\r\n"));
}

static void test_proxy_streams_request_body_up(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.up.steps[0].reply = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "2\r\nok\r\n0\r\n\r\n";
    fx.up.nsteps = 1;
    o.method = "POST";
    o.body = "a=1&b=2";
    o.body_len = 7;
    start(&o, "/api/form");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 201);
    assert_body("ok");
    assert_true(up_logged("POST /v1/form HTTP/1.1\r\n"));
    assert_true(up_logged("Content-Length: 7\r\n"));
    assert_true(up_logged("\r\n\r\na=1&b=2"));
}

static void test_proxy_streams_chunked_request_body(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.up.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.up.nsteps = 1;
    o.method = "PUT";
    o.stream_body = true;
    o.stream_length = TWC_HTTP_LENGTH_UNKNOWN;
    start(&o, "/api/up");
    assert_int_equal(twc_http_client_request_write(fx.req, "abc", 3), 0);
    spin(30);
    assert_int_equal(twc_http_client_request_write(fx.req, "def", 3), 0);
    assert_int_equal(twc_http_client_request_end(fx.req), 0);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_true(up_logged("PUT /v1/up HTTP/1.1\r\n"));
    assert_true(up_logged("Transfer-Encoding: chunked\r\n"));
    assert_true(up_logged("abc"));
    assert_true(up_logged("def"));
    assert_true(up_logged("0\r\n\r\n"));
}

static void test_proxy_head_keeps_content_length(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.up.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    fx.up.nsteps = 1;
    o.method = "HEAD";
    start(&o, "/api/file");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_string_equal(fx.clen, "1234");
    assert_int_equal(twc_buf_len(&fx.body), 0);
    assert_true(up_logged("HEAD /v1/file HTTP/1.1\r\n"));
}

static void test_proxy_large_body_streams_down(void **state)
{
    struct twc_http_client_request_opts o = {0};
    static char reply[64 + 3 * 1024 * 1024];
    size_t n, body = 3 * 1024 * 1024;

    (void)state;
    n = (size_t)snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                         body);
    memset(reply + n, 'x', body);
    reply[n + body] = '\0';
    fx.up.steps[0].reply = reply;
    fx.up.nsteps = 1;
    start(&o, "/api/big");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_int_equal(twc_buf_len(&fx.body), body);
    assert_int_equal(twc_buf_data(&fx.body)[body - 1], 'x');
}

static void test_proxy_upstream_down_is_502(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    twc_listener_free(fx.up.l);
    fx.up.l = NULL;
    start(&o, "/api/x");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 502);
}

static void test_proxy_upstream_garbage_is_502(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.up.steps[0].reply = "garbage\r\n\r\n";
    fx.up.nsteps = 1;
    start(&o, "/api/x");
    run_until_end();
    assert_int_equal(fx.status, 502);
}

static void test_proxy_upstream_timeout_is_504(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.up.nsteps = 0; /* never answers */
    start(&o, "/api/slow");
    spin(50);
    assert_int_equal(fx.up.nreq, 1);
    assert_false(fx.ended);
    twc_reactor_advance(fx.r, 2000);
    run_until_end();
    assert_int_equal(fx.status, 504);
}

static void test_proxy_outside_prefix_not_proxied(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    start(&o, "/other");
    run_until_end();
    assert_int_equal(fx.status, 200);
    assert_body("root");
    assert_int_equal(fx.up.nreq, 0);
}

static void swallow(void *arg, twc_result *r)
{
    int *code = arg;

    *code = twc_result_err(r)->code;
    twc_result_set(r, NULL, NULL);
}

static void on_server_gone(void *arg)
{
    bool *gone = arg;

    *gone = true;
    twc_http_resource_free(fx.root); /* cmd/web.c's web_release */
    fx.root = NULL;
}

/* SIGTERM while a request waits on an upstream that never answers: the
 * grace period's cancel aborts the client, and the proxy must cancel its
 * upstream request and finish at once, so the server is gone without the
 * loop waiting on the upstream, and the tree (with the agent) can go. */
static void test_proxy_shutdown_cancels_upstream(void **state)
{
    struct twc_http_client_request_opts o = {0};
    twc_deferred *d;
    bool gone = false;
    int code = 0, i;

    (void)state;
    fx.up.nsteps = 0; /* never answers */
    start(&o, "/api/slow");
    for (i = 0; i < 400 && fx.up.nreq < 1; i++)
        spin(1);
    assert_int_equal(fx.up.nreq, 1);
    assert_int_equal(fx.up.open, 1);
    twc_listener_free(fx.front);
    fx.front = NULL;
    d = twc_http_server_stop(fx.srv);
    assert_non_null(d);
    twc_deferred_add_errback(d, swallow, &code);
    spin(5);
    assert_false(twc_deferred_fired(d)); /* the request keeps it busy */
    twc_deferred_cancel(d);
    twc_deferred_unref(d);
    assert_int_equal(code, TWC_ECANCELED);
    spin(10);
    assert_int_equal(twc_http_server_connections(fx.srv), 0);
    assert_true(fx.ended);
    assert_int_not_equal(fx.end_err.code, 0); /* cut off, no response */
    assert_int_equal(fx.status, 0);
    assert_int_equal(fx.up.open, 0); /* the upstream request was cancelled */
    twc_http_server_free_notify(fx.srv, on_server_gone, &gone);
    fx.srv = NULL;
    assert_true(gone);
}

static void test_proxy_target_join(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(twc_http_proxy_target("/v1", "/x", 2, "q", 1, true, out, sizeof(out)), 0);
    assert_string_equal(out, "/v1/x?q");
    assert_int_equal(twc_http_proxy_target("/v1/", "/x", 2, "", 0, false, out, sizeof(out)), 0);
    assert_string_equal(out, "/v1/x");
    assert_int_equal(twc_http_proxy_target("", "", 0, "", 0, false, out, sizeof(out)), 0);
    assert_string_equal(out, "/");
    assert_int_equal(twc_http_proxy_target("", "/a/b", 4, "", 0, true, out, sizeof(out)), 0);
    assert_string_equal(out, "/a/b?");
    assert_int_equal(twc_http_proxy_target("/v1", "", 0, "", 0, false, out, sizeof(out)), 0);
    assert_string_equal(out, "/v1");
    assert_int_equal(twc_http_proxy_target("/v1", "/xxxxxxxx", 9, "", 0, false, out, 8),
                     TWC_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_proxy_get_rewrites_prefix_and_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_proxy_prefix_alone_and_xff_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_streams_request_body_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_streams_chunked_request_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_head_keeps_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_large_body_streams_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_upstream_down_is_502, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_upstream_garbage_is_502, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_upstream_timeout_is_504, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_outside_prefix_not_proxied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_shutdown_cancels_upstream, setup, teardown),
        cmocka_unit_test(test_proxy_target_join),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
