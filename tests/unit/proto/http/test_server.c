/*
 * Unit tests for proto/http/server.c: the HTTP/1.1 server protocol over the
 * string transport (lib/testing.h) with a fake-clock reactor.
 *
 * Inputs are fed whole, one byte at a time, and in 7-byte pieces; every split
 * must give the same output (Date lines are blanked before comparing).
 */
#define _GNU_SOURCE
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
#include "reactor.h"
#include "testing.h"
#include "proto/http/accesslog.h"
#include "proto/http/resource.h"
#include "proto/http/server.h"
#include "proto/http/server_int.h"

/* ---- A test resource tree ------------------------------------------------------ */

struct env {
    twc_reactor *r;
    twc_http_resource root;
    twc_http_server *srv;
    twc_http_request *later; /* the request /later keeps */
    twc_buf body;            /* what /echo read */
    int body_end_code;
    int body_ends;
    twc_buf access; /* access-log lines, Combined Log Format */
};

static struct env *E;

static void hello(void *arg, twc_http_request *req)
{
    (void)arg;
    twc_http_response_send(req, 200, "text/plain", "hi", 2);
}

static void echo_data(void *arg, twc_http_request *req, const uint8_t *d, size_t n)
{
    (void)arg;
    (void)req;
    twc_buf_append(&E->body, d, n);
}

static void echo_end(void *arg, twc_http_request *req, const twc_err *why)
{
    (void)arg;
    E->body_ends++;
    E->body_end_code = why != NULL ? why->code : 0;
    if (why != NULL) {
        twc_http_response_finish(req);
        return;
    }
    twc_http_response_send(req, 200, NULL, twc_buf_data(&E->body), twc_buf_len(&E->body));
}

static const struct twc_http_body_ops echo_ops = {echo_data, echo_end};

static void echo(void *arg, twc_http_request *req)
{
    (void)arg;
    twc_buf_reset(&E->body);
    twc_http_request_read_body(req, &echo_ops, NULL);
}

static void later(void *arg, twc_http_request *req)
{
    (void)arg;
    E->later = req;
}

static void stream(void *arg, twc_http_request *req)
{
    (void)arg;
    twc_http_response_write(req, "abc", 3);
    twc_http_response_write(req, "defgh", 5);
    twc_http_response_finish(req);
}

/* /flow: one piece now, the rest when resumed. */
static int flow_pauses, flow_resumes;

static void flow_pause(void *arg)
{
    (void)arg;
    flow_pauses++;
}

static void flow_resume(void *arg)
{
    twc_http_request *req = arg;

    flow_resumes++;
    twc_http_response_write(req, "second", 6);
    twc_http_response_finish(req);
}

static void flow(void *arg, twc_http_request *req)
{
    (void)arg;
    twc_http_response_set_producer(req, flow_pause, flow_resume, req);
    twc_http_response_write(req, "first", 5);
}

static void root_render(twc_http_resource *r, twc_http_request *req)
{
    twc_slice post = twc_http_request_postpath(req);
    char buf[64];
    int n;

    (void)r;
    n = snprintf(buf, sizeof(buf), "root:%.*s", (int)post.len, (const char *)post.p);
    twc_http_response_send(req, 200, "text/plain", buf, (size_t)n);
}

static const struct twc_http_resource_ops root_ops = {.render = root_render};

/* The server's access-log hook: format each finished request as the file
 * logger would (proto/http/accesslog.c) and keep the lines. */
static void capture_access(void *arg, twc_http_request *req)
{
    struct env *e = arg;

    assert_int_equal(twc_http_accesslog_format(&e->access, req), 0);
}

static int setup(void **state)
{
    struct twc_reactor_opts ro = {NULL, 1};
    struct twc_http_server_opts so;
    static const char *const extra[] = {"X-Test: yes"};
    twc_err err;

    E = calloc(1, sizeof(*E));
    E->r = twc_reactor_new(&ro, &err);
    assert_non_null(E->r);
    twc_http_resource_init(&E->root, &root_ops, false);
    assert_int_equal(twc_http_resource_put_child(
                         &E->root, "hello", twc_http_handler_resource_new(hello, NULL, NULL)),
                     0);
    twc_http_resource_put_child(&E->root, "echo", twc_http_handler_resource_new(echo, NULL, NULL));
    twc_http_resource_put_child(&E->root, "later",
                                twc_http_handler_resource_new(later, NULL, NULL));
    twc_http_resource_put_child(&E->root, "flow", twc_http_handler_resource_new(flow, NULL, NULL));
    twc_http_resource_put_child(&E->root, "stream",
                                twc_http_handler_resource_new(stream, NULL, NULL));
    memset(&so, 0, sizeof(so));
    so.root = &E->root;
    so.add_headers = extra;
    so.nadd_headers = 1;
    so.limits.max_body = 100;
    so.access_log = capture_access;
    so.access_log_arg = E;
    twc_buf_init(&E->access, 1 << 20);
    E->srv = twc_http_server_new(E->r, &so, &err);
    assert_non_null(E->srv);
    twc_buf_init(&E->body, 1 << 20);
    *state = E;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    twc_http_server_free(E->srv);
    twc_http_resource_free(&E->root);
    twc_buf_cleanup(&E->body);
    twc_buf_cleanup(&E->access);
    twc_reactor_free(E->r);
    free(E);
    return 0;
}

/* ---- Driving ---------------------------------------------------------------------- */

static twc_string_transport *connect_one(void)
{
    twc_string_transport *st = twc_string_transport_new(E->r);

    assert_non_null(st);
    assert_non_null(twc_string_transport_build(st, twc_http_server_factory(E->srv)));
    return st;
}

/* Run the loop's ready callbacks (kicks queued by asynchronous finishes). */
static void settle(void)
{
    int i;

    for (i = 0; i < 10; i++)
        twc_reactor_run_once(E->r, 0);
}

static void feed(twc_string_transport *st, const char *in, size_t chunk)
{
    size_t len = strlen(in), off = 0, n;

    if (chunk == 0)
        chunk = len;
    while (off < len) {
        n = len - off < chunk ? len - off : chunk;
        if (twc_string_transport_feed(st, in + off, n) < 0)
            break;
        settle();
        off += n;
    }
    settle();
}

/* The output so far with Date values blanked (owned). */
static char *output(twc_string_transport *st)
{
    size_t len;
    const char *v = (const char *)twc_string_transport_value(st, &len);
    char *o = malloc(len + 1), *d;

    memcpy(o, v, len + 1);
    for (d = o; (d = strstr(d, "Date: ")) != NULL; d += 6)
        memset(d + 6, 'D', 29);
    return o;
}

static char *run(const char *in, size_t chunk, int *disconnecting)
{
    twc_string_transport *st = connect_one();
    char *o;

    feed(st, in, chunk);
    o = output(st);
    if (disconnecting != NULL)
        *disconnecting = twc_string_transport_disconnecting(st) || twc_string_transport_aborted(st);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    settle();
    return o;
}

/* Feed whole, byte by byte, and in 7-byte pieces: same output each time. */
static char *run_splits(const char *in, int *disconnecting)
{
    static const size_t chunks[] = {1, 7};
    char *whole = run(in, 0, disconnecting), *o;
    size_t i;

    for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        o = run(in, chunks[i], NULL);
        assert_string_equal(o, whole);
        free(o);
    }
    return whole;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (; (hay = strstr(hay, needle)) != NULL; hay++)
        n++;
    return n;
}

/* ---- Tests ------------------------------------------------------------------------ */

static void test_server_get_keepalive(void **state)
{
    int disc;
    char *o = run_splits("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &disc);

    (void)state;
    assert_string_equal(o, "HTTP/1.1 200 OK\r\nServer: twc\r\n"
                           "Date: DDDDDDDDDDDDDDDDDDDDDDDDDDDDD\r\n"
                           "Content-Type: text/plain\r\nX-Test: yes\r\nContent-Length: 2\r\n\r\nhi");
    assert_int_equal(disc, 0);
    free(o);
}

static void test_server_accesslog_combined_format(void **state)
{
    static const char want[] = "\"GET /hello?x=1 HTTP/1.1\" 200 2 \"http://ref/\" \"agent 1.0\"\n";
    const char *log, *nl;
    int disc;
    char *o = run("GET /hello?x=1 HTTP/1.1\r\nHost: x\r\nReferer: http://ref/\r\n"
                  "User-Agent: agent 1.0\r\n\r\n",
                  0, &disc);

    (void)state;
    free(o);
    /* One line: HOST - - [dd/Mon/yyyy:hh:mm:ss +0000] "REQUEST" STATUS BYTES "REF" "UA" */
    assert_true(twc_buf_len(&E->access) > 0);
    log = (const char *)twc_buf_data(&E->access);
    nl = memchr(log, '\n', twc_buf_len(&E->access));
    assert_non_null(nl);
    assert_int_equal((size_t)(nl - log) + 1, twc_buf_len(&E->access));
    assert_non_null(memmem(log, twc_buf_len(&E->access), " - - [", 6));
    assert_non_null(memmem(log, twc_buf_len(&E->access), "] \"GET", 6));
    assert_true(twc_buf_len(&E->access) > sizeof(want) - 1);
    assert_memory_equal(nl + 1 - (sizeof(want) - 1), want, sizeof(want) - 1);
}

static void test_server_pipelined_in_order(void **state)
{
    int disc;
    char *o = run_splits("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /a/b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                         &disc);
    const char *a = strstr(o, "\r\n\r\nhi"), *b = strstr(o, "root:/a/b"), *c = strstr(o, "abc");

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
    assert_int_equal(count(o, "HTTP/1.1 200"), 3); /* nothing after Connection: close */
    assert_non_null(strstr(o, "Connection: close\r\n"));
    assert_int_equal(disc, 1);
    free(o);
}

static void test_server_head_has_no_body(void **state)
{
    char *o = run_splits("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL);

    (void)state;
    assert_non_null(strstr(o, "Content-Length: 2\r\n"));
    assert_int_equal(strlen(strstr(o, "\r\n\r\n")), 4);
    free(o);
}

static void test_server_http10_closes(void **state)
{
    int disc;
    char *o = run_splits("GET /hello HTTP/1.0\r\n\r\n", &disc);

    (void)state;
    assert_non_null(strstr(o, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(o, "Connection: close\r\n"));
    assert_int_equal(disc, 1);
    free(o);
    o = run("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, &disc);
    assert_non_null(strstr(o, "Connection: keep-alive\r\n"));
    assert_int_equal(disc, 0);
    free(o);
}

static void test_server_unknown_method_501(void **state)
{
    char *o = run_splits("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", NULL);

    (void)state;
    assert_non_null(strstr(o, "HTTP/1.1 501 Not Implemented\r\n"));
    free(o);
}

static void test_server_bad_version_505(void **state)
{
    int disc;
    char *o = run("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 0, &disc);

    (void)state;
    assert_non_null(strstr(o, " 505 "));
    assert_int_equal(disc, 1);
    free(o);
}

static void test_server_malformed_400_closes(void **state)
{
    int disc;
    char *o = run_splits("GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n"
                         "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                         &disc);

    (void)state;
    assert_non_null(strstr(o, "HTTP/1.1 400 Bad Request\r\n"));
    assert_non_null(strstr(o, "Connection: close\r\n"));
    assert_null(strstr(o, "\r\n\r\nhi"));
    assert_int_equal(disc, 1);
    free(o);
}

static void test_server_body_too_big_413(void **state)
{
    char *o = run("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 0, NULL);

    (void)state;
    assert_non_null(strstr(o, " 413 "));
    free(o);
}

static void test_server_chunked_body_too_big_413(void **state)
{
    int disc;
    char *o = run_splits("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "64\r\n" "0123456789012345678901234567890123456789012345678901234567890123456789"
                         "012345678901234567890123456789\r\n1\r\nx\r\n0\r\n\r\n",
                         &disc);

    (void)state;
    assert_non_null(strstr(o, "HTTP/1.1 413 "));
    assert_non_null(strstr(o, "Connection: close\r\n"));
    assert_int_equal(disc, 1);
    assert_int_equal(E->body_end_code, TWC_ETOOBIG);
    free(o);
}

static void test_server_options_star(void **state)
{
    char *o = run_splits("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", NULL);

    (void)state;
    assert_non_null(strstr(o, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(o, "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n"));
    free(o);
}

static void test_server_request_body_length_and_chunked(void **state)
{
    char *o = run_splits("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                         "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                         NULL);

    (void)state;
    assert_non_null(strstr(o, "Content-Length: 5\r\n\r\nhello"));
    assert_non_null(strstr(o, "Content-Length: 5\r\n\r\nabcde"));
    assert_true(strstr(o, "hello") < strstr(o, "abcde"));
    free(o);
}

static void test_server_expect_continue(void **state)
{
    twc_string_transport *st = connect_one();
    char *o;

    (void)state;
    feed(st, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 0);
    o = output(st);
    assert_string_equal(o, "HTTP/1.1 100 Continue\r\n\r\n");
    free(o);
    feed(st, "xyz", 1);
    o = output(st);
    assert_non_null(strstr(o, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(o, "\r\n\r\nxyz"));
    free(o);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    settle();
}

static void test_server_chunked_response(void **state)
{
    char *o = run_splits("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", NULL);

    (void)state;
    assert_non_null(strstr(o, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(o, "\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"));
    free(o);
    /* HTTP/1.0 has no chunked coding: the close ends the body. */
    o = run("GET /stream HTTP/1.0\r\n\r\n", 0, NULL);
    assert_null(strstr(o, "chunked"));
    assert_non_null(strstr(o, "\r\n\r\nabcdefgh"));
    free(o);
}

static void test_server_async_response_keeps_order(void **state)
{
    twc_string_transport *st = connect_one();
    twc_deferred *d;
    char *o;

    (void)state;
    E->later = NULL;
    feed(st, "GET /later HTTP/1.1\r\nHost: x\r\nX-Id: 1\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
         5);
    assert_non_null(E->later);
    o = output(st);
    assert_string_equal(o, ""); /* the second waits for the first */
    free(o);
    {
        twc_slice v;

        /* The head was saved: still readable after more input was parsed. */
        assert_true(twc_http_request_header(E->later, "X-Id", &v));
        assert_memory_equal(v.p, "1", 1);
    }
    d = twc_http_request_notify_finish(E->later);
    assert_false(twc_deferred_fired(d));
    twc_http_response_send(E->later, 202, NULL, "late", 4);
    assert_true(twc_deferred_fired(d));
    twc_deferred_unref(d);
    settle();
    o = output(st);
    assert_non_null(strstr(o, "HTTP/1.1 202 Accepted"));
    assert_true(strstr(o, "late") < strstr(o, "\r\n\r\nhi"));
    free(o);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    settle();
}

static void test_server_async_after_lost(void **state)
{
    twc_string_transport *st = connect_one();

    (void)state;
    E->later = NULL;
    feed(st, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_non_null(E->later);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    assert_int_equal(twc_http_server_connections(E->srv), 1); /* the handler holds it */
    assert_int_equal(twc_http_response_write(E->later, "x", 1), TWC_ECLOSED);
    twc_http_response_finish(E->later);
    assert_int_equal(twc_http_server_connections(E->srv), 0);
    settle();
}

static void test_server_head_timeout_408(void **state)
{
    twc_string_transport *st = connect_one();
    char *o;

    (void)state;
    feed(st, "GET /hello HTTP/1.1\r\nHo", 0);
    twc_reactor_advance(E->r, 29000);
    assert_int_equal(twc_string_transport_disconnecting(st), 0);
    twc_reactor_advance(E->r, 3000);
    o = output(st);
    assert_non_null(strstr(o, " 408 "));
    assert_int_equal(twc_string_transport_disconnecting(st), 1);
    free(o);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
}

static void test_server_idle_timeout(void **state)
{
    twc_string_transport *st = connect_one();

    (void)state;
    feed(st, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    twc_reactor_advance(E->r, 59000);
    assert_int_equal(twc_string_transport_aborted(st), 0);
    twc_reactor_advance(E->r, 2000);
    assert_int_equal(twc_string_transport_aborted(st), 1);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
}

static void test_server_slow_download_not_idle(void **state)
{
    twc_string_transport *st = connect_one();

    (void)state;
    feed(st, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    /* The response is still going out, slowly: progress keeps it alive. */
    twc_string_transport_set_buffered(st, 500000);
    twc_reactor_advance(E->r, 61000);
    twc_string_transport_set_buffered(st, 400000);
    twc_reactor_advance(E->r, 59000);
    assert_int_equal(twc_string_transport_aborted(st), 0);
    /* No progress for a whole send timeout: aborted. */
    twc_reactor_advance(E->r, 62000);
    assert_int_equal(twc_string_transport_aborted(st), 1);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
}

static void test_server_body_timeout(void **state)
{
    twc_string_transport *st = connect_one();

    (void)state;
    E->body_ends = 0;
    feed(st, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab", 0);
    twc_reactor_advance(E->r, 61000);
    assert_int_equal(twc_string_transport_aborted(st), 1);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    assert_int_equal(E->body_ends, 1);
    assert_int_equal(E->body_end_code, TWC_ECLOSED);
    settle();
}

static void test_server_graceful_stop(void **state)
{
    twc_string_transport *idle = connect_one(), *busy = connect_one();
    twc_deferred *d;
    char *o;

    (void)state;
    E->later = NULL;
    feed(busy, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    d = twc_http_server_stop(E->srv);
    assert_non_null(d);
    assert_int_equal(twc_string_transport_disconnecting(idle), 1);
    assert_int_equal(twc_string_transport_disconnecting(busy), 0);
    twc_string_transport_close(idle, NULL);
    twc_http_response_send(E->later, 200, NULL, "ok", 2);
    o = output(busy);
    assert_non_null(strstr(o, "Connection: close\r\n"));
    free(o);
    assert_int_equal(twc_string_transport_disconnecting(busy), 1);
    assert_false(twc_deferred_fired(d));
    twc_string_transport_close(busy, NULL);
    assert_true(twc_deferred_fired(d));
    twc_deferred_unref(d);
    twc_string_transport_free(idle);
    twc_string_transport_free(busy);
    settle();
}

static void test_server_resource_paths(void **state)
{
    char *o = run("GET /hello/x HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"
                  "GET /zz%2Fy?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                  0, NULL);

    (void)state;
    assert_non_null(strstr(o, "\r\n\r\nhi"));       /* a leaf takes the rest */
    assert_non_null(strstr(o, "\r\n\r\nroot:/"));   /* absolute-form, empty path */
    assert_non_null(strstr(o, "root:/zz%2Fy"));      /* raw postpath, query cut */
    free(o);
}

static void test_server_flow_control(void **state)
{
    twc_string_transport *st = connect_one();
    char *o;

    (void)state;
    flow_pauses = flow_resumes = 0;
    feed(st, "GET /flow HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    twc_string_transport_set_buffered(st, 2 * 1024 * 1024);
    assert_int_equal(flow_pauses, 1);
    assert_int_equal(flow_resumes, 0);
    twc_string_transport_set_buffered(st, 0);
    assert_int_equal(flow_resumes, 1);
    settle();
    o = output(st);
    assert_non_null(strstr(o, "5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n"));
    assert_non_null(strstr(o, "\r\n\r\nhi")); /* the pipelined one after it */
    free(o);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    settle();
}

/* ---- Request state and idle connections ---------------------------------------- */

static size_t attached(size_t *spare)
{
    size_t a, sp;

    twc__http_server_exchanges(E->srv, &a, &sp);
    if (spare != NULL)
        *spare = sp;
    return a;
}

/* An idle keep-alive connection gives its request state back; bytes of a
 * head (even a lone empty line) keep it until the head completes. */
static void test_server_idle_conn_holds_no_state(void **state)
{
    twc_string_transport *st = connect_one();
    size_t spare;
    char *o;

    (void)state;
    assert_int_equal(attached(NULL), 0);
    feed(st, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(attached(&spare), 0);
    assert_int_equal(spare, 1);
    feed(st, "GET /hel", 0);
    assert_int_equal(attached(&spare), 1);
    assert_int_equal(spare, 0); /* the spare was reused */
    feed(st, "lo HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(attached(&spare), 0);
    assert_int_equal(spare, 1);
    feed(st, "\r\n", 0);
    assert_int_equal(attached(NULL), 1);
    feed(st, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_int_equal(attached(&spare), 0);
    assert_int_equal(spare, 1);
    o = output(st);
    assert_int_equal(count(o, "HTTP/1.1 200 OK"), 3);
    free(o);
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    settle();
}

/* A handler answering later holds its connection's state; so does a request
 * pipelined behind it. Both are given back once everything is answered. */
static void test_server_async_holds_state_until_done(void **state)
{
    twc_string_transport *a = connect_one(), *b = connect_one();
    twc_http_request *ra;
    size_t spare;
    char *o;

    (void)state;
    E->later = NULL;
    feed(a, "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    ra = E->later;
    feed(b, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_non_null(ra);
    assert_ptr_not_equal(ra, E->later);
    assert_int_equal(attached(&spare), 2);
    assert_int_equal(spare, 0);
    twc_http_response_send(E->later, 200, NULL, "b", 1);
    settle();
    assert_int_equal(attached(&spare), 1);
    assert_int_equal(spare, 1);
    twc_http_response_send(ra, 200, NULL, "a", 1);
    settle();
    assert_int_equal(attached(&spare), 0);
    assert_int_equal(spare, 2);
    o = output(a);
    assert_int_equal(count(o, "HTTP/1.1 200 OK"), 2); /* the pipelined one too */
    free(o);
    twc_string_transport_close(a, NULL);
    twc_string_transport_free(a);
    twc_string_transport_close(b, NULL);
    twc_string_transport_free(b);
    settle();
    assert_int_equal(twc_http_server_connections(E->srv), 0);
}

/* read_body on a request without a body ends it from the loop; when the
 * client leaves before that, the end still comes (once), the handler
 * finishes, and the connection is freed after it (ASan checks the order). */
static void test_server_empty_body_end_after_lost(void **state)
{
    twc_string_transport *st = connect_one();
    static const char req[] = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";

    (void)state;
    E->body_ends = 0;
    assert_int_equal(twc_string_transport_feed(st, req, sizeof(req) - 1), 0);
    assert_int_equal(E->body_ends, 0); /* never from inside read_body */
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    assert_int_equal(twc_http_server_connections(E->srv), 1);
    settle();
    assert_int_equal(E->body_ends, 1);
    assert_int_equal(E->body_end_code, 0);
    assert_int_equal(twc_http_server_connections(E->srv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_get_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_pipelined_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_accesslog_combined_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_head_has_no_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_http10_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_unknown_method_501, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_bad_version_505, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_malformed_400_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_body_too_big_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_chunked_body_too_big_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_options_star, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_request_body_length_and_chunked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_chunked_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_async_response_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_async_after_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_head_timeout_408, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_body_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_slow_download_not_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_graceful_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_resource_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_flow_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_idle_conn_holds_no_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_async_holds_state_until_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_empty_body_end_after_lost, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
