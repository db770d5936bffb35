/*
 * Unit tests for proto/http/client.c: the agent against a scripted server on
 * real loopback sockets (127.0.0.1, port 0), with a fake-clock reactor so the
 * timeout tests advance time instead of sleeping. Every wait is bounded by a
 * number of loop iterations. URL parsing and reference resolution are pure.
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
#include "protocol.h"
#include "reactor.h"
#include "stream.h"
#include "tests/unit/lib/tls_certs.h"
#include "tls.h"

#include "tests/unit/proto/http/script_server.h"

/* ---- Fixture ------------------------------------------------------------- */

struct fx {
    twc_reactor *r;
    struct server s;
    struct server s2; /* another origin (127.0.0.2), for redirect tests */
    twc_http_agent *a;
    /* Outcome of the current request. */
    int status;
    bool head_failed;
    twc_buf body;
    size_t body_calls;
    bool ended;
    twc_err end_err;
    bool pause_in_body;
    bool free_in_body;
    twc_http_client_request *req;
};

static struct fx fx;

static int setup(void **state)
{
    struct twc_reactor_opts ro = {.fake_clock = 1};
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};
    struct twc_http_agent_opts ao;
    twc_addr addr;
    twc_err err;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.r = twc_reactor_new(&ro, &err);
    assert_non_null(fx.r);
    fx.s.base.ops = &s_factory_ops;
    twc_buf_init(&fx.s.log, 1 << 20);
    fx.s.l = twc_tcp_listen(fx.r, &lo, &fx.s.base, &err);
    assert_non_null(fx.s.l);
    assert_int_equal(twc_listener_addr(fx.s.l, &addr), 0);
    fx.s.port = twc_addr_port(&addr);
    memset(&ao, 0, sizeof(ao));
    ao.connect_timeout_ms = 1000;
    ao.head_timeout_ms = 2000;
    ao.body_idle_ms = 3000;
    fx.a = twc_http_agent_new(fx.r, &ao, &err);
    assert_non_null(fx.a);
    twc_buf_init(&fx.body, 1 << 24);
    return 0;
}

static void spin(int rounds)
{
    int i;

    for (i = 0; i < rounds; i++)
        twc_reactor_run_once(fx.r, 5);
}

static int teardown(void **state)
{
    (void)state;
    twc_http_client_request_free(fx.req);
    twc_http_agent_free(fx.a);
    twc_listener_free(fx.s.l);
    twc_listener_free(fx.s2.l);
    spin(20); /* closes and frees on the loop */
    assert_int_equal(fx.s.open, 0);
    assert_int_equal(fx.s2.open, 0);
    if (fx.s2.l != NULL)
        twc_buf_cleanup(&fx.s2.log);
    assert_int_equal(twc_reactor_live_handles(fx.r), 0);
    twc_reactor_free(fx.r);
    twc_buf_cleanup(&fx.s.log);
    twc_buf_cleanup(&fx.body);
    return 0;
}

static void on_head(void *arg, twc_result *r)
{
    const struct twc_http_client_response *resp = twc_result_value(r);

    (void)arg;
    fx.status = resp->status;
}

static void on_head_err(void *arg, twc_result *r)
{
    (void)arg;
    fx.head_failed = true;
    twc_result_set(r, NULL, NULL);
}

static void on_body(void *arg, const uint8_t *d, size_t n)
{
    (void)arg;
    fx.body_calls++;
    assert_int_equal(twc_buf_append(&fx.body, d, n), 0);
    if (fx.pause_in_body)
        twc_http_client_request_pause(fx.req);
    if (fx.free_in_body) {
        twc_http_client_request_free(fx.req); /* on_end runs inside, memory goes later */
        fx.req = NULL;
    }
}

static void on_end(void *arg, const twc_err *err)
{
    (void)arg;
    fx.ended = true;
    fx.end_err = *err;
}

static void url_of(char *out, size_t n, const char *path)
{
    snprintf(out, n, "http://127.0.0.1:%u%s", (unsigned)fx.s.port, path);
}

/* Start a request for an absolute url (opts may be pre-filled) and reset the
 * outcome. */
static void start_url(struct twc_http_client_request_opts *o, const char *url)
{
    twc_deferred *d;
    twc_err err;

    o->url = url;
    o->on_body = on_body;
    o->on_end = on_end;
    fx.status = 0;
    fx.head_failed = false;
    fx.ended = false;
    fx.body_calls = 0;
    twc_err_clear(&fx.end_err);
    twc_buf_reset(&fx.body);
    twc_http_client_request_free(fx.req);
    fx.req = twc_http_client_request_new(fx.a, o, &err);
    assert_non_null(fx.req);
    d = twc_http_client_request_head(fx.req);
    twc_deferred_add_callbacks(d, on_head, on_head_err, NULL);
    twc_deferred_unref(d);
}

/* Start a request for path on the scripted server. */
static void start(struct twc_http_client_request_opts *o, const char *path)
{
    static char url[256];

    url_of(url, sizeof(url), path);
    start_url(o, url);
}

static void run_until_end(void)
{
    int i;

    for (i = 0; i < 2000 && !fx.ended; i++)
        twc_reactor_run_once(fx.r, 5);
    assert_true(fx.ended);
}

static bool logged(const char *s)
{
    return twc_buf_len(&fx.s.log) > 0 &&
           memmem(twc_buf_data(&fx.s.log), twc_buf_len(&fx.s.log), s, strlen(s)) != NULL;
}

static void assert_body(const char *want)
{
    assert_int_equal(twc_buf_len(&fx.body), strlen(want));
    assert_memory_equal(twc_buf_data(&fx.body), want, strlen(want));
}

/* ---- Tests --------------------------------------------------------------- */

static void test_client_get_content_length(void **state)
{
    struct twc_http_client_request_opts o = {0};
    const struct twc_http_client_response *resp;
    twc_slice v;
    char host[64];

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    fx.s.nsteps = 1;
    start(&o, "/x?q=1#frag");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_body("hello");
    assert_true(logged("GET /x?q=1 HTTP/1.1\r\n"));
    snprintf(host, sizeof(host), "Host: 127.0.0.1:%u\r\n", (unsigned)fx.s.port);
    assert_true(logged(host));
    resp = twc_http_client_request_response(fx.req);
    assert_non_null(resp);
    assert_string_equal(resp->reason, "OK");
    assert_true(twc_http_client_response_get(resp, "x-a", &v));
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.p, "b", 1);
    assert_int_equal(twc_http_agent_idle(fx.a), 1); /* kept for reuse */
}

static void test_client_chunked_body(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n4\r\ndefg\r\n0\r\nT: 1\r\n\r\n";
    fx.s.nsteps = 1;
    start(&o, "/c");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_body("abcdefg");
    assert_int_equal(twc_http_agent_idle(fx.a), 1);
}

static void test_client_read_until_close(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
    fx.s.steps[0].close = 1;
    fx.s.nsteps = 1;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_body("until the end");
    assert_int_equal(twc_http_agent_idle(fx.a), 0);
}

static void test_client_keepalive_reuses_connection(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
    fx.s.steps[1].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb";
    fx.s.nsteps = 2;
    start(&o, "/1");
    run_until_end();
    assert_body("a");
    memset(&o, 0, sizeof(o));
    start(&o, "/2");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_body("b");
    assert_int_equal(fx.s.accepted, 1);
}

static void test_client_connection_close_not_pooled(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na";
    fx.s.nsteps = 1;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(twc_http_agent_idle(fx.a), 0);
}

static void test_client_retries_stale_pooled_connection(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
    fx.s.steps[1].close = 2; /* the pooled connection dies as it is reused */
    fx.s.steps[2].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc";
    fx.s.nsteps = 3;
    start(&o, "/1");
    run_until_end();
    memset(&o, 0, sizeof(o));
    start(&o, "/2");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_body("c");
    assert_int_equal(fx.s.accepted, 2);
    assert_int_equal(fx.s.nreq, 3);
}

static void test_client_redirect_303_turns_post_into_get(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply =
        "HTTP/1.1 303 See Other\r\nLocation: /b?x\r\nContent-Length: 3\r\n\r\nbye";
    fx.s.steps[1].reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    fx.s.nsteps = 2;
    o.body = "k=v";
    o.body_len = 3;
    o.max_redirects = 5;
    start(&o, "/a");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_body("ok"); /* the 303's body is not delivered */
    assert_true(logged("POST /a HTTP/1.1\r\n"));
    assert_true(logged("Content-Length: 3\r\n"));
    assert_true(logged("GET /b?x HTTP/1.1\r\n"));
    assert_int_equal(twc_http_client_request_response(fx.req)->redirects, 1);
}

static void test_client_redirect_307_keeps_method_and_body(void **state)
{
    struct twc_http_client_request_opts o = {0};
    const char *log, *start_of_log;
    size_t rest;

    (void)state;
    fx.s.steps[0].reply =
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: c\r\nContent-Length: 0\r\n\r\n";
    fx.s.steps[1].reply = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 2;
    o.method = "PUT";
    o.body = "data";
    o.body_len = 4;
    o.max_redirects = 1;
    start(&o, "/dir/a");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 201);
    /* The log is not NUL-terminated: search it with memmem only. */
    start_of_log = (const char *)twc_buf_data(&fx.s.log);
    log = memmem(start_of_log, twc_buf_len(&fx.s.log), "PUT /dir/c HTTP/1.1\r\n", 21);
    assert_non_null(log);
    rest = twc_buf_len(&fx.s.log) - (size_t)(log - start_of_log);
    assert_non_null(memmem(log, rest, "\r\n\r\ndata", 8));
}

static void test_client_redirect_not_followed_without_opt_in(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 2\r\n\r\nmv";
    fx.s.nsteps = 1;
    start(&o, "/a");
    run_until_end();
    assert_int_equal(fx.status, 302);
    assert_body("mv");
    assert_int_equal(fx.s.nreq, 1);
}

static void test_client_redirect_limit(void **state)
{
    struct twc_http_client_request_opts o = {0};
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++)
        fx.s.steps[i].reply = "HTTP/1.1 301 Moved\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 4;
    o.max_redirects = 2;
    start(&o, "/loop");
    run_until_end();
    assert_int_equal(fx.end_err.code, TWC_EPROTO);
    assert_true(fx.head_failed);
    assert_int_equal(fx.s.nreq, 3);
}

static void test_client_streamed_body_chunked(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 1;
    o.method = "POST";
    o.stream_body = true;
    o.stream_length = TWC_HTTP_LENGTH_UNKNOWN;
    start(&o, "/up");
    assert_int_equal(twc_http_client_request_write(fx.req, "abc", 3), 0); /* before connecting */
    spin(20);
    assert_int_equal(twc_http_client_request_write(fx.req, "de", 2), 0);
    assert_int_equal(twc_http_client_request_end(fx.req), 0);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_true(logged("Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
}

static void test_client_streamed_body_length_checked(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 204 No Content\r\n\r\n";
    fx.s.nsteps = 1;
    o.stream_body = true;
    o.stream_length = 4;
    start(&o, "/up");
    assert_int_equal(twc_http_client_request_write(fx.req, "abcde", 5), TWC_EINVAL);
    assert_int_equal(twc_http_client_request_write(fx.req, "ab", 2), 0);
    assert_int_equal(twc_http_client_request_end(fx.req), TWC_EINVAL); /* 2 of 4 */
    assert_int_equal(twc_http_client_request_write(fx.req, "cd", 2), 0);
    assert_int_equal(twc_http_client_request_end(fx.req), 0);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 204);
    assert_true(logged("POST /up HTTP/1.1\r\n"));
    assert_true(logged("Content-Length: 4\r\n\r\nabcd"));
}

static void test_client_pause_holds_body_until_resume(void **state)
{
    struct twc_http_client_request_opts o = {0};
    size_t calls;

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n";
    fx.s.nsteps = 1;
    fx.pause_in_body = true;
    start(&o, "/p");
    spin(100);
    assert_false(fx.ended);
    calls = fx.body_calls;
    assert_true(calls >= 1);
    spin(10);
    assert_int_equal(fx.body_calls, calls); /* nothing while paused */
    fx.pause_in_body = false;
    twc_http_client_request_resume(fx.req);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_body("abc");
}

static void test_client_connect_refused(void **state)
{
    struct twc_http_client_request_opts o = {0};
    twc_addr addr;

    (void)state;
    assert_int_equal(twc_listener_addr(fx.s.l, &addr), 0);
    twc_listener_free(fx.s.l); /* nobody listens on the port any more */
    fx.s.l = NULL;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, -ECONNREFUSED);
    assert_true(fx.head_failed);
}

static void test_client_head_timeout(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.nsteps = 0; /* never answers */
    start(&o, "/slow");
    spin(50);
    assert_int_equal(fx.s.nreq, 1);
    assert_false(fx.ended);
    twc_reactor_advance(fx.r, 2000);
    run_until_end();
    assert_int_equal(fx.end_err.code, TWC_ETIMEDOUT);
    assert_true(fx.head_failed);
}

static void test_client_body_idle_timeout(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf";
    fx.s.nsteps = 1;
    start(&o, "/stall");
    spin(50);
    assert_int_equal(fx.status, 200);
    assert_false(fx.ended);
    twc_reactor_advance(fx.r, 3000);
    run_until_end();
    assert_int_equal(fx.end_err.code, TWC_ETIMEDOUT);
    assert_body("half");
}

static void test_client_empty_reply(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].close = 1; /* closes without a byte */
    fx.s.nsteps = 1;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, TWC_EOF);
}

static void test_client_truncated_body(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
    fx.s.steps[0].close = 1;
    fx.s.nsteps = 1;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, TWC_EOF);
    assert_int_equal(fx.status, 200);
}

static void test_client_bad_response(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "SMTP 220 hello\r\n\r\n";
    fx.s.nsteps = 1;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, TWC_EPROTO);
}

static void test_client_skips_100_continue(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz";
    fx.s.nsteps = 1;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.status, 200);
    assert_body("z");
}

static void test_client_head_request_has_no_body(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    fx.s.nsteps = 1;
    o.method = "HEAD";
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_int_equal(twc_buf_len(&fx.body), 0);
    assert_int_equal(twc_http_agent_idle(fx.a), 1);
}

static void test_client_user_headers(void **state)
{
    struct twc_http_field f[] = {
        {"Host", "example.test"}, {"X-Y", "z"}, {"Content-Length", "99"}, {"Connection", "close"}};
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 1;
    o.headers = f;
    o.nheaders = 4;
    start(&o, "/");
    run_until_end();
    assert_true(logged("Host: example.test\r\n"));
    assert_true(logged("X-Y: z\r\n"));
    assert_false(logged("Content-Length: 99"));
    assert_true(logged("Connection: close\r\n"));
    assert_int_equal(twc_http_agent_idle(fx.a), 0);
}

static void test_client_free_cancels(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.nsteps = 0;
    start(&o, "/");
    spin(20);
    twc_http_client_request_free(fx.req);
    fx.req = NULL;
    assert_true(fx.ended);
    assert_int_equal(fx.end_err.code, TWC_ECANCELED);
    assert_true(fx.head_failed);
}

static void test_client_free_inside_on_body(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "1\r\na\r\n1\r\nb\r\n0\r\n\r\n";
    fx.s.nsteps = 1;
    fx.free_in_body = true;
    start(&o, "/");
    run_until_end();
    assert_int_equal(fx.end_err.code, TWC_ECANCELED);
    assert_int_equal(fx.body_calls, 1);
    assert_null(fx.req);
    spin(10);
    assert_int_equal(twc_http_agent_idle(fx.a), 0); /* the connection was aborted */
}

static void test_client_bad_url_and_method(void **state)
{
    struct twc_http_client_request_opts o = {0};
    twc_err err;

    (void)state;
    o.url = "ftp://x/";
    assert_null(twc_http_client_request_new(fx.a, &o, &err));
    assert_int_equal(err.code, TWC_EINVAL);
    o.url = "http://x/";
    o.method = "GE T";
    assert_null(twc_http_client_request_new(fx.a, &o, &err));
    assert_int_equal(err.code, TWC_EINVAL);
}

static void test_client_name_without_resolver_fails(void **state)
{
    struct twc_http_client_request_opts o = {0};
    twc_deferred *d;
    twc_err err;

    (void)state;
    o.url = "http://localhost:1/";
    o.on_end = on_end;
    fx.req = twc_http_client_request_new(fx.a, &o, &err);
    assert_non_null(fx.req);
    d = twc_http_client_request_head(fx.req);
    twc_deferred_add_callbacks(d, on_head, on_head_err, NULL);
    twc_deferred_unref(d);
    run_until_end();
    assert_int_equal(twc_err_domain_of(fx.end_err.code), TWC_DOMAIN_DNS);
}

static int nends;
static twc_err last_end;

static void count_end(void *arg, const twc_err *err)
{
    (void)arg;
    nends++;
    last_end = *err;
}

static void test_client_pool_bounded_per_host(void **state)
{
    struct twc_http_agent_opts ao = {.max_idle_per_host = 1};
    struct twc_http_client_request_opts o = {0};
    twc_http_client_request *r1, *r2;
    twc_http_agent *a;
    char url[128];
    twc_err err;
    int i;

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
    fx.s.steps[1].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb";
    fx.s.nsteps = 2;
    a = twc_http_agent_new(fx.r, &ao, &err);
    assert_non_null(a);
    url_of(url, sizeof(url), "/");
    o.url = url;
    o.on_end = count_end;
    nends = 0;
    r1 = twc_http_client_request_new(a, &o, &err);
    r2 = twc_http_client_request_new(a, &o, &err);
    assert_non_null(r1);
    assert_non_null(r2);
    for (i = 0; i < 2000 && nends < 2; i++)
        twc_reactor_run_once(fx.r, 5);
    assert_int_equal(nends, 2);
    assert_int_equal(fx.s.accepted, 2); /* both ran at once, on two connections */
    assert_int_equal(twc_http_agent_idle(a), 1);
    twc_http_client_request_free(r1);
    twc_http_client_request_free(r2);
    twc_http_agent_free(a);
}

static void test_client_pool_idle_expiry(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
    fx.s.nsteps = 1;
    start(&o, "/");
    run_until_end();
    assert_int_equal(twc_http_agent_idle(fx.a), 1);
    twc_reactor_advance(fx.r, 60000); /* TWC_HTTP_CLIENT_IDLE_MS */
    spin(20);
    assert_int_equal(twc_http_agent_idle(fx.a), 0);
    assert_int_equal(fx.s.open, 0);
}

static void test_client_cancel_head_deferred(void **state)
{
    struct twc_http_client_request_opts o = {0};
    twc_deferred *d;

    (void)state;
    fx.s.nsteps = 0;
    start(&o, "/");
    spin(20);
    d = twc_http_client_request_head(fx.req);
    twc_deferred_cancel(d);
    twc_deferred_unref(d);
    assert_true(fx.ended);
    assert_int_equal(fx.end_err.code, TWC_ECANCELED);
    assert_true(fx.head_failed);
}

static int nredirects;

static void on_redirect(void *arg, const struct twc_http_client_response *resp)
{
    (void)arg;
    assert_int_equal(resp->status, 302);
    nredirects++;
}

static void test_client_on_redirect_sees_each_hop(void **state)
{
    struct twc_http_client_request_opts o = {0};

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n";
    fx.s.steps[1].reply = "HTTP/1.1 302 Found\r\nLocation: /c\r\nContent-Length: 0\r\n\r\n";
    fx.s.steps[2].reply = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc";
    fx.s.nsteps = 3;
    o.max_redirects = 5;
    o.on_redirect = on_redirect;
    nredirects = 0;
    start(&o, "/a");
    run_until_end();
    assert_int_equal(fx.status, 200);
    assert_int_equal(nredirects, 2);
    assert_body("c");
    assert_int_equal(fx.s.accepted, 1); /* same host: one kept-alive connection */
}

/* https:// against a TLS listener with a throwaway CA. */
static void https_run(const char *ca, bool insecure, const char *host, int want)
{
    struct twc_tls_server_opts so = {0};
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};
    struct twc_http_agent_opts ao = {0};
    struct twc_http_client_request_opts o = {0};
    static struct tls_certs certs;
    twc_tls_ctx *sctx;
    twc_tls_factory *tf;
    twc_listener *l;
    twc_http_agent *a;
    twc_http_client_request *req;
    twc_addr addr;
    char url[128];
    twc_err err;
    int i;

    certs_create(&certs);
    so.private_key = certs_path(&certs, CERT_SERVER);
    sctx = twc_tls_ctx_new_server(&so, &err);
    assert_non_null(sctx);
    tf = twc_tls_factory_new(sctx, &fx.s.base, 1, NULL, &err);
    assert_non_null(tf);
    l = twc_tcp_listen(fx.r, &lo, twc_tls_factory_base(tf), &err);
    assert_non_null(l);
    assert_int_equal(twc_listener_addr(l, &addr), 0);
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret";
    fx.s.nsteps = 1;
    ao.ca_certs = ca != NULL ? certs_path(&certs, CERT_CA) : NULL;
    ao.insecure = insecure;
    a = twc_http_agent_new(fx.r, &ao, &err);
    assert_non_null(a);
    snprintf(url, sizeof(url), "https://%s:%u/s", host, (unsigned)twc_addr_port(&addr));
    o.url = url;
    o.on_body = on_body;
    o.on_end = count_end;
    nends = 0;
    twc_buf_reset(&fx.body);
    req = twc_http_client_request_new(a, &o, &err);
    assert_non_null(req);
    for (i = 0; i < 2000 && nends == 0; i++)
        twc_reactor_run_once(fx.r, 5);
    assert_int_equal(nends, 1);
    assert_int_equal(last_end.code, want);
    if (want == 0)
        assert_body("secret");
    twc_http_client_request_free(req);
    twc_http_agent_free(a);
    twc_listener_free(l);
    spin(20);
    twc_tls_factory_free(tf);
    twc_tls_ctx_free(sctx);
    certs_remove(&certs);
}

static void test_client_https_verified_with_ca(void **state)
{
    (void)state;
    https_run("ca", false, "127.0.0.1", 0);
}

static void test_client_https_unknown_ca_fails_verify(void **state)
{
    (void)state;
    https_run(NULL, false, "127.0.0.1", TWC_ETLS_VERIFY);
}

static void test_client_https_insecure(void **state)
{
    (void)state;
    https_run(NULL, true, "127.0.0.1", 0);
}

static void test_client_tls_handshake_timeout(void **state)
{
    struct twc_http_agent_opts ao = {.insecure = true, .connect_timeout_ms = 1000};
    struct twc_http_client_request_opts o = {0};
    twc_http_client_request *req;
    twc_http_agent *a;
    char url[128];
    twc_err err;
    int i;

    (void)state;
    fx.s.nsteps = 0; /* a plain TCP server: the ClientHello is never answered */
    a = twc_http_agent_new(fx.r, &ao, &err);
    assert_non_null(a);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/", (unsigned)fx.s.port);
    o.url = url;
    o.on_end = count_end;
    nends = 0;
    req = twc_http_client_request_new(a, &o, &err);
    assert_non_null(req);
    spin(50);
    assert_int_equal(nends, 0);
    assert_int_equal(fx.s.accepted, 1);
    twc_reactor_advance(fx.r, 1000);
    for (i = 0; i < 2000 && nends == 0; i++)
        twc_reactor_run_once(fx.r, 5);
    assert_int_equal(nends, 1);
    assert_int_equal(last_end.code, TWC_ETIMEDOUT);
    twc_http_client_request_free(req);
    twc_http_agent_free(a);
}

/* ---- URLs (pure) ------------------------------------------------------------ */

static void test_client_url_parse(void **state)
{
    struct twc_http_url u;
    twc_err err;

    (void)state;
    assert_int_equal(twc_http_url_parse(&u, "http://example.com", &err), 0);
    assert_string_equal(u.host, "example.com");
    assert_int_equal(u.port, 80);
    assert_true(u.default_port);
    assert_string_equal(u.target, "/");
    assert_int_equal(twc_http_url_parse(&u, "HTTPS://user:pw@[::1]:8443/a/b?c=d#e", &err), 0);
    assert_true(u.tls);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 8443);
    assert_false(u.default_port);
    assert_string_equal(u.target, "/a/b?c=d");
    assert_int_equal(twc_http_url_parse(&u, "http://h?q", &err), 0);
    assert_string_equal(u.target, "/?q");
    assert_int_equal(twc_http_url_parse(&u, "http://h:443/", &err), 0);
    assert_false(u.default_port);
    assert_int_equal(twc_http_url_parse(&u, "http://h:0/", &err), TWC_EINVAL);
    assert_int_equal(twc_http_url_parse(&u, "http://h:99999/", &err), TWC_EINVAL);
    assert_int_equal(twc_http_url_parse(&u, "http:///x", &err), TWC_EINVAL);
    assert_int_equal(twc_http_url_parse(&u, "http://h/a b", &err), TWC_EINVAL);
    assert_int_equal(twc_http_url_parse(&u, "gopher://h/", &err), TWC_EINVAL);
    assert_int_equal(twc_http_url_parse(&u, "http://[::1/", &err), TWC_EINVAL);
}

/* ---- URL credentials ------------------------------------------------------ */

/* Occurrences of s in the scripted server srv's log. */
static size_t count_in(const struct server *srv, const char *s)
{
    const char *p = (const char *)twc_buf_data(&srv->log), *end = p + twc_buf_len(&srv->log);
    size_t n = 0;

    while (p != NULL && p < end) {
        p = memmem(p, (size_t)(end - p), s, strlen(s));
        if (p != NULL) {
            n++;
            p += strlen(s);
        }
    }
    return n;
}

/* A second scripted server on 127.0.0.2: another host, same loopback. */
static void listen_s2(void)
{
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.2"};
    twc_addr addr;
    twc_err err;

    fx.s2.base.ops = &s_factory_ops;
    twc_buf_init(&fx.s2.log, 1 << 20);
    fx.s2.l = twc_tcp_listen(fx.r, &lo, &fx.s2.base, &err);
    assert_non_null(fx.s2.l);
    assert_int_equal(twc_listener_addr(fx.s2.l, &addr), 0);
    fx.s2.port = twc_addr_port(&addr);
}

static void test_client_url_credentials_sent_as_basic(void **state)
{
    struct twc_http_client_request_opts o = {0};
    char url[256], host[64];

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    fx.s.nsteps = 1;
    snprintf(url, sizeof(url), "http://user:p%%40ss@127.0.0.1:%u/a?b", (unsigned)fx.s.port);
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%u\r\n", (unsigned)fx.s.port);
    start_url(&o, url);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    /* base64("user:p@ss"), never the userinfo itself. */
    assert_true(logged("GET /a?b HTTP/1.1\r\n"));
    assert_true(logged(host));
    assert_true(logged("\r\nAuthorization: Basic dXNlcjpwQHNz\r\n"));
    assert_false(logged("user"));
    assert_false(logged("p%40ss"));
    assert_false(logged("@"));
    assert_null(strstr(twc_http_client_request_response(fx.req)->url, "user"));
}

static void test_client_url_user_without_password(void **state)
{
    struct twc_http_client_request_opts o = {0};
    char url[256];

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 1;
    snprintf(url, sizeof(url), "http://user@127.0.0.1:%u/", (unsigned)fx.s.port);
    start_url(&o, url);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_true(logged("\r\nAuthorization: Basic dXNlcjo=\r\n")); /* "user:" */
}

static void test_client_user_authorization_wins_over_url(void **state)
{
    struct twc_http_field f[] = {{"Authorization", "Bearer tok"}};
    struct twc_http_client_request_opts o = {0};
    char url[256];

    (void)state;
    fx.s.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 1;
    o.headers = f;
    o.nheaders = 1;
    snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%u/", (unsigned)fx.s.port);
    start_url(&o, url);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_true(logged("\r\nAuthorization: Bearer tok\r\n"));
    assert_int_equal(count_in(&fx.s, "Authorization:"), 1);
    assert_false(logged("Basic"));
}

static void test_client_url_credentials_kept_on_same_origin_redirect(void **state)
{
    struct twc_http_client_request_opts o = {0};
    static char loc[256];
    char url[256];

    (void)state;
    /* A Location with its own userinfo: the origin is the same, so the
     * original credentials go on; the Location's are ignored. */
    snprintf(loc, sizeof(loc),
             "HTTP/1.1 302 Found\r\nLocation: http://other:pw@127.0.0.1:%u/c\r\n"
             "Content-Length: 0\r\n\r\n",
             (unsigned)fx.s.port);
    fx.s.steps[0].reply = "HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n";
    fx.s.steps[1].reply = loc;
    fx.s.steps[2].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 3;
    o.max_redirects = 5;
    snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%u/a", (unsigned)fx.s.port);
    start_url(&o, url);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_int_equal(fx.s.nreq, 3);
    assert_int_equal(count_in(&fx.s, "\r\nAuthorization: Basic dXNlcjpwdw==\r\n"), 3);
    assert_false(logged("b3RoZXI6cHc=")); /* base64("other:pw") */
    assert_null(strstr(twc_http_client_request_response(fx.req)->url, "other"));
}

static void test_client_url_credentials_dropped_on_other_host(void **state)
{
    struct twc_http_client_request_opts o = {0};
    static char to_s2[256], back[256];
    char url[256];

    (void)state;
    listen_s2();
    snprintf(to_s2, sizeof(to_s2),
             "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:%u/x\r\nContent-Length: 0\r\n\r\n",
             (unsigned)fx.s2.port);
    snprintf(back, sizeof(back),
             "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%u/y\r\nContent-Length: 0\r\n\r\n",
             (unsigned)fx.s.port);
    fx.s.steps[0].reply = to_s2;
    fx.s.steps[1].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.s.nsteps = 2;
    fx.s2.steps[0].reply = back;
    fx.s2.nsteps = 1;
    o.max_redirects = 5;
    snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%u/a", (unsigned)fx.s.port);
    start_url(&o, url);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.status, 200);
    assert_int_equal(fx.s.nreq, 2);
    assert_int_equal(fx.s2.nreq, 1);
    assert_int_equal(count_in(&fx.s, "Authorization:"), 1); /* the first request only */
    assert_int_equal(count_in(&fx.s2, "Authorization:"), 0);
    /* Back on the first host: once they left their origin, they stay gone. */
    assert_int_equal(count_in(&fx.s, "GET /y HTTP/1.1\r\n"), 1);
}

static void test_client_url_credentials_dropped_on_other_port(void **state)
{
    struct twc_http_client_request_opts o = {0};
    struct twc_tcp_listen_opts lo = {.interface = "127.0.0.1"};
    static char to_s2[256];
    char url[256];
    twc_addr addr;
    twc_err err;

    (void)state;
    fx.s2.base.ops = &s_factory_ops;
    twc_buf_init(&fx.s2.log, 1 << 20);
    fx.s2.l = twc_tcp_listen(fx.r, &lo, &fx.s2.base, &err);
    assert_non_null(fx.s2.l);
    assert_int_equal(twc_listener_addr(fx.s2.l, &addr), 0);
    fx.s2.port = twc_addr_port(&addr);
    snprintf(to_s2, sizeof(to_s2),
             "HTTP/1.1 307 Temporary\r\nLocation: http://127.0.0.1:%u/x\r\nContent-Length: 0\r\n\r\n",
             (unsigned)fx.s2.port);
    fx.s.steps[0].reply = to_s2;
    fx.s.nsteps = 1;
    fx.s2.steps[0].reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    fx.s2.nsteps = 1;
    o.max_redirects = 5;
    snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%u/a", (unsigned)fx.s.port);
    start_url(&o, url);
    run_until_end();
    assert_int_equal(fx.end_err.code, 0);
    assert_int_equal(fx.s2.nreq, 1);
    assert_int_equal(count_in(&fx.s, "Authorization: Basic dXNlcjpwdw==\r\n"), 1);
    assert_int_equal(count_in(&fx.s2, "Authorization:"), 0);
}

static void test_client_url_userinfo_parse(void **state)
{
    struct twc_http_url u;
    twc_err err;

    (void)state;
    assert_int_equal(twc_http_url_parse(&u, "http://user:pass@h:81/p", &err), 0);
    assert_true(u.has_credentials);
    assert_string_equal(u.credentials, "user:pass");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 81);
    assert_string_equal(u.target, "/p");
    /* Percent-decoding; "%40" and "%3A" in the password are plain bytes. */
    assert_int_equal(twc_http_url_parse(&u, "https://us%65r:p%40ss%3aw%25@h/", &err), 0);
    assert_string_equal(u.credentials, "user:p@ss:w%");
    assert_string_equal(u.host, "h");
    /* No password, or an empty one: both mean an empty password (curl). */
    assert_int_equal(twc_http_url_parse(&u, "http://user@h", &err), 0);
    assert_string_equal(u.credentials, "user:");
    assert_int_equal(twc_http_url_parse(&u, "http://user:@h", &err), 0);
    assert_string_equal(u.credentials, "user:");
    assert_int_equal(twc_http_url_parse(&u, "http://:pw@h", &err), 0);
    assert_string_equal(u.credentials, ":pw");
    assert_int_equal(twc_http_url_parse(&u, "http://@h/", &err), 0); /* as curl: ":" */
    assert_true(u.has_credentials);
    assert_string_equal(u.credentials, ":");
    assert_string_equal(u.host, "h");
    assert_int_equal(twc_http_url_parse(&u, "http://h/a@b", &err), 0); /* '@' in the path */
    assert_false(u.has_credentials);
    assert_string_equal(u.target, "/a@b");
}

/* A malformed userinfo is refused, and the message does not quote it. */
static void check_bad_userinfo_shown(const char *url, const char *shown)
{
    struct twc_http_url u;
    twc_err err;

    assert_int_equal(twc_http_url_parse(&u, url, &err), TWC_EINVAL);
    assert_false(u.has_credentials);
    assert_string_equal(u.credentials, "");
    assert_null(strstr(err.msg, "secret"));
    assert_non_null(strstr(err.msg, shown));
}

static void check_bad_userinfo(const char *url)
{
    check_bad_userinfo_shown(url, "'http://h/'");
}

static void test_client_url_userinfo_malformed(void **state)
{
    char url[TWC_HTTP_USERINFO_MAX + 32];
    struct twc_http_url u;
    twc_err err;

    (void)state;
    check_bad_userinfo("http://u:secret@x@h/"); /* raw '@': write %40 */
    check_bad_userinfo("http://u:secret%zz@h/");
    check_bad_userinfo("http://u:secret%4@h/");
    check_bad_userinfo("http://u:secret%@h/");
    check_bad_userinfo("http://u:secret%0d%0a@h/"); /* RFC 7617 §2: no CTLs */
    check_bad_userinfo("http://u:secret%00@h/");
    check_bad_userinfo("http://u:secret%7f@h/");
    check_bad_userinfo("http://u%3asecret:p@h/"); /* RFC 7617 §2: no ':' in a user-id */
    check_bad_userinfo("http://u:secret\x01@h/"); /* raw control byte */
    check_bad_userinfo("http://u:secret @h/");
    check_bad_userinfo("http://u:sec[ret@h/");
    /* The rest is bad: the message still leaves the userinfo out. */
    check_bad_userinfo_shown("http://u:secret@h:0/", "'http://h:0/': port");
    check_bad_userinfo_shown("ftp://u:secret@h/", "'ftp://h/': scheme");
    /* The length bound: TWC_HTTP_USERINFO_MAX bytes as written. */
    memcpy(url, "http://", 7);
    memset(url + 7, 'a', TWC_HTTP_USERINFO_MAX);
    memcpy(url + 7 + TWC_HTTP_USERINFO_MAX, "@h/", 4);
    assert_int_equal(twc_http_url_parse(&u, url, &err), 0);
    assert_int_equal(strlen(u.credentials), TWC_HTTP_USERINFO_MAX + 1);
    memset(url + 7, 'a', TWC_HTTP_USERINFO_MAX + 1);
    memcpy(url + 8 + TWC_HTTP_USERINFO_MAX, "@h/", 4);
    assert_int_equal(twc_http_url_parse(&u, url, &err), TWC_EINVAL);
    assert_non_null(strstr(err.msg, "exceed 1024 bytes"));
    assert_null(strstr(err.msg, "aaaa"));
}

static void test_client_url_basic_auth(void **state)
{
    struct twc_http_url u;
    char out[64];
    twc_err err;

    (void)state;
    /* RFC 7617 §2's example. */
    assert_int_equal(twc_http_url_parse(&u, "http://Aladdin:open%20sesame@h/", &err), 0);
    assert_int_equal(twc_http_url_basic_auth(&u, out, sizeof(out)), 34);
    assert_string_equal(out, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_int_equal(twc_http_url_parse(&u, "http://ab:c@h/", &err), 0);
    assert_int_equal(twc_http_url_basic_auth(&u, out, sizeof(out)), 14);
    assert_string_equal(out, "Basic YWI6Yw==");
    assert_int_equal(twc_http_url_parse(&u, "http://ab@h/", &err), 0); /* no padding */
    assert_int_equal(twc_http_url_basic_auth(&u, out, sizeof(out)), 10);
    assert_string_equal(out, "Basic YWI6");
    assert_int_equal(twc_http_url_basic_auth(&u, out, 10), TWC_ETOOBIG);
    assert_int_equal(twc_http_url_parse(&u, "http://h/", &err), 0);
    assert_int_equal(twc_http_url_basic_auth(&u, out, sizeof(out)), TWC_EINVAL);
}

static void test_client_url_redact(void **state)
{
    char out[64], inplace[64];

    (void)state;
    twc_http_url_redact("http://u:p@h:1/a@b?c@d", out, sizeof(out));
    assert_string_equal(out, "http://h:1/a@b?c@d");
    twc_http_url_redact("https://u:p@x@h", out, sizeof(out)); /* up to the last '@' */
    assert_string_equal(out, "https://h");
    twc_http_url_redact("http://h/p", out, sizeof(out));
    assert_string_equal(out, "http://h/p");
    twc_http_url_redact("u:p@h/x", out, sizeof(out)); /* no scheme */
    assert_string_equal(out, "h/x");
    snprintf(inplace, sizeof(inplace), "%s", "http://user:pw@host/");
    assert_int_equal(twc_http_url_redact(inplace, inplace, sizeof(inplace)), 12);
    assert_string_equal(inplace, "http://host/");
    assert_int_equal(twc_http_url_redact("http://u:p@abcdef", out, 10), 9);
    assert_string_equal(out, "http://ab");
    assert_int_equal(twc_http_url_redact("http://u:p@abcdef", out, 4), 3);
    assert_string_equal(out, "htt");
}

static void check_resolve(const char *base, const char *ref, const char *want)
{
    char out[256];

    assert_int_equal(twc_http_url_resolve(base, ref, strlen(ref), out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_client_url_resolve(void **state)
{
    char small[8];

    (void)state;
    /* RFC 3986 §5.4.1 examples, base http://a/b/c/d;p?q */
    check_resolve("http://a/b/c/d;p?q", "g", "http://a/b/c/g");
    check_resolve("http://a/b/c/d;p?q", "./g", "http://a/b/c/g");
    check_resolve("http://a/b/c/d;p?q", "g/", "http://a/b/c/g/");
    check_resolve("http://a/b/c/d;p?q", "/g", "http://a/g");
    check_resolve("http://a/b/c/d;p?q", "//g", "http://g");
    check_resolve("http://a/b/c/d;p?q", "?y", "http://a/b/c/d;p?y");
    check_resolve("http://a/b/c/d;p?q", "g?y", "http://a/b/c/g?y");
    check_resolve("http://a/b/c/d;p?q", "..", "http://a/b/");
    check_resolve("http://a/b/c/d;p?q", "../g", "http://a/b/g");
    check_resolve("http://a/b/c/d;p?q", "../../g", "http://a/g");
    check_resolve("http://a/b/c/d;p?q", "../../../g", "http://a/g");
    check_resolve("http://a/b/c/d;p?q", "https://x:1/y", "https://x:1/y");
    check_resolve("http://a:8080", "p", "http://a:8080/p");
    assert_int_equal(twc_http_url_resolve("http://a/", "/long/path", 10, small, sizeof(small)),
                     TWC_ETOOBIG);
    assert_int_equal(twc_http_url_resolve("http://a/", "a b", 3, small, sizeof(small)), TWC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_get_content_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_chunked_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_read_until_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_keepalive_reuses_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_connection_close_not_pooled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_retries_stale_pooled_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_redirect_303_turns_post_into_get, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_redirect_307_keeps_method_and_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_redirect_not_followed_without_opt_in, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_redirect_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_streamed_body_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_streamed_body_length_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_pause_holds_body_until_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_head_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_body_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_empty_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_truncated_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_bad_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_skips_100_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_head_request_has_no_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_user_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_free_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_free_inside_on_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_bad_url_and_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_name_without_resolver_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_pool_bounded_per_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_pool_idle_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_cancel_head_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_on_redirect_sees_each_hop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_https_verified_with_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_https_unknown_ca_fails_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_https_insecure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_tls_handshake_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_url_credentials_sent_as_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_url_user_without_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_user_authorization_wins_over_url, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_url_credentials_kept_on_same_origin_redirect,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_url_credentials_dropped_on_other_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_url_credentials_dropped_on_other_port, setup,
                                        teardown),
        cmocka_unit_test(test_client_url_parse),
        cmocka_unit_test(test_client_url_userinfo_parse),
        cmocka_unit_test(test_client_url_userinfo_malformed),
        cmocka_unit_test(test_client_url_basic_auth),
        cmocka_unit_test(test_client_url_redact),
        cmocka_unit_test(test_client_url_resolve),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
