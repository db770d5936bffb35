/*
 * A small program on the twc resource API (proto/http/resource.h): an HTTP
 * server with four handlers, showing each way of answering.
 *
 *   GET  /hello          answers at once
 *   GET  /slow           answers later, when a Deferred fires (500 ms timer)
 *   POST /upload         reads the request body incrementally, answers its size
 *   GET  /stream?n=N     streams N KiB (default 10240) with flow control, chunked
 *   anything else        static files from the current folder
 *
 * Built by `make check` (build/release/examples/resource_example); by hand,
 * against an installed libtwc:
 *   cc -std=c11 examples/resource_example.c $(pkg-config --cflags --libs twc)
 * Run:  build/release/examples/resource_example 8080   then   curl localhost:8080/slow
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/deferred.h"
#include "lib/reactor.h"
#include "lib/stream.h"
#include "proto/http/resource.h"
#include "proto/http/server.h"
#include "proto/http/static.h"

/* /hello: the whole response at once. */
static void hello(void *arg, twc_http_request *req)
{
    (void)arg;
    twc_http_response_send(req, 200, "text/plain", "hello\n", 6);
}

/* /slow: keep the request, answer when a deferred fires. */
static void slow_ready(void *arg, twc_result *r)
{
    twc_http_request *req = arg;

    (void)r;
    twc_http_response_send(req, 200, "text/plain", "sorry for the wait\n", 19);
}

static void slow(void *arg, twc_http_request *req)
{
    twc_deferred *d = twc_defer_later(twc_http_request_reactor(req), 500, NULL, NULL);

    (void)arg;
    twc_deferred_add_callback(d, slow_ready, req);
    twc_deferred_unref(d);
}

/* /upload: count the body as it arrives. */
struct upload {
    unsigned long long bytes;
};

static void upload_data(void *arg, twc_http_request *req, const uint8_t *data, size_t len)
{
    struct upload *u = arg;

    (void)req;
    (void)data;
    u->bytes += len;
}

static void upload_end(void *arg, twc_http_request *req, const twc_err *why)
{
    struct upload *u = arg;
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "%llu bytes\n", u->bytes);

    free(u);
    if (why != NULL) { /* the client went away: just finish */
        twc_http_response_finish(req);
        return;
    }
    twc_http_response_send(req, 200, "text/plain", msg, (size_t)n);
}

static const struct twc_http_body_ops upload_ops = {upload_data, upload_end};

static void upload(void *arg, twc_http_request *req)
{
    struct upload *u = calloc(1, sizeof(*u));

    (void)arg;
    if (u == NULL || twc_http_request_read_body(req, &upload_ops, u) < 0) {
        free(u);
        twc_http_response_error(req, 500);
    }
}

/* /stream: write while the client keeps up; pause/resume on the water marks. */
struct streamer {
    twc_http_request *req;
    unsigned long left; /* KiB */
    int paused;
};

static void stream_more(void *arg)
{
    struct streamer *s = arg;
    static char kib[1024];

    s->paused = 0;
    while (s->left > 0 && !s->paused) {
        memset(kib, 'a' + (int)(s->left % 26), sizeof(kib));
        if (twc_http_response_write(s->req, kib, sizeof(kib)) < 0)
            s->left = 1; /* the client left: finish below */
        s->left--;
    }
    if (s->left == 0) {
        twc_http_response_finish(s->req);
        free(s);
    }
}

static void stream_pause(void *arg)
{
    ((struct streamer *)arg)->paused = 1;
}

static void stream(void *arg, twc_http_request *req)
{
    struct streamer *s = calloc(1, sizeof(*s));
    twc_slice q = twc_http_request_query(req);

    (void)arg;
    if (s == NULL) {
        twc_http_response_error(req, 500);
        return;
    }
    s->req = req;
    s->left = 10240;
    if (q.len > 2 && memcmp(q.p, "n=", 2) == 0)
        s->left = strtoul((const char *)q.p + 2, NULL, 10);
    twc_http_response_add_header(req, "Content-Type", "application/octet-stream");
    twc_http_response_set_producer(req, stream_pause, stream_more, s);
    stream_more(s);
}

static void on_signal(twc_reactor *r, int signo, void *arg)
{
    (void)signo;
    (void)arg;
    twc_reactor_stop(r);
}

int main(int argc, char **argv)
{
    struct twc_tcp_listen_opts lo = {"127.0.0.1", 8080, 0, 0};
    struct twc_http_static_opts so = {".", NULL, 0, false, NULL, NULL};
    struct twc_http_server_opts ho;
    twc_http_resource *root;
    twc_http_server *srv;
    twc_listener *l;
    twc_reactor *r;
    twc_err err;

    if (argc > 1)
        lo.port = (uint16_t)atoi(argv[1]);
    r = twc_reactor_new(NULL, &err);
    if (r == NULL)
        return 1;
    root = twc_http_static_new(r, &so, &err);
    if (root == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    twc_http_resource_put_child(root, "hello", twc_http_handler_resource_new(hello, NULL, NULL));
    twc_http_resource_put_child(root, "slow", twc_http_handler_resource_new(slow, NULL, NULL));
    twc_http_resource_put_child(root, "upload", twc_http_handler_resource_new(upload, NULL, NULL));
    twc_http_resource_put_child(root, "stream", twc_http_handler_resource_new(stream, NULL, NULL));
    memset(&ho, 0, sizeof(ho));
    ho.root = root;
    srv = twc_http_server_new(r, &ho, &err);
    l = srv != NULL ? twc_tcp_listen(r, &lo, twc_http_server_factory(srv), &err) : NULL;
    if (l == NULL) {
        fprintf(stderr, "resource_example: %s\n", err.msg);
        return 1;
    }
    twc_reactor_on_signal(r, SIGINT, on_signal, NULL, &err);
    twc_reactor_on_signal(r, SIGTERM, on_signal, NULL, &err);
    printf("listening on http://127.0.0.1:%u/\n", (unsigned)lo.port);
    fflush(stdout);
    twc_reactor_run(r);
    twc_listener_free(l);
    twc_http_server_free(srv);
    twc_http_resource_free(root);
    twc_reactor_free(r);
    return 0;
}
