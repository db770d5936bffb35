/*
 * The HTTP/1.1 server protocol (RFC 9110, RFC 9112) on any stream transport
 * (tcp, unix, tls, string): twisted.web.server.Site in C.
 *
 * A server holds the options and a resource tree (proto/http/resource.h); its
 * factory builds one protocol per connection. Per connection:
 *   - persistent connections and pipelining: requests are parsed in place
 *     from the transport's buffer and answered strictly in order (the next one
 *     is parsed once the current response finished);
 *   - Expect: 100-continue (sent when the handler asks for the body);
 *   - timeouts: the whole head (slowloris), each pause in a body, an idle
 *     keep-alive connection, and a client that stopped reading our output;
 *   - every response gets Date and Server; HEAD never sends a body; a length
 *     is announced, else chunked (HTTP/1.1) or close-delimited (HTTP/1.0);
 *   - 501 for methods the server does not know, "OPTIONS *" answered here,
 *     505 and the parser's 4xx for malformed requests (then close).
 * Memory: no allocation per request in the steady state (the parser, head
 * and output buffers are kept per connection; the request is embedded in it).
 */
#ifndef TWC_PROTO_HTTP_SERVER_H
#define TWC_PROTO_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/deferred.h"
#include "lib/err.h"
#include "lib/protocol.h"
#include "lib/reactor.h"
#include "proto/http/http.h"
#include "proto/http/resource.h"

typedef struct twc_http_server twc_http_server;

/* Called when a response finished (req borrowed for the call), for access logs. */
typedef void (*twc_http_access_fn)(void *arg, twc_http_request *req);

struct twc_http_server_opts {
    twc_http_resource *root;  /* borrowed; must outlive every request (free_notify) */
    const char *server_name;  /* Server field value; NULL: "twc" */
    struct twc_http_limits limits; /* zero fields: lib/limits.h defaults */
    unsigned head_timeout_ms; /* whole request head; 0: TWC_HTTP_HEAD_TIMEOUT_MS */
    unsigned body_timeout_ms; /* between body bytes; 0: TWC_HTTP_BODY_TIMEOUT_MS */
    unsigned idle_timeout_ms; /* keep-alive wait; 0: TWC_HTTP_IDLE_TIMEOUT_MS */
    unsigned send_timeout_ms; /* output stalled; 0: TWC_HTTP_SEND_TIMEOUT_MS */
    /* Extra "Name: value" lines for every response (--add-header); borrowed. */
    const char *const *add_headers;
    size_t nadd_headers;
    twc_http_access_fn access_log; /* may be NULL */
    void *access_log_arg;
};

/* A server (opts copied; pointers in it borrowed). Returns owned, or NULL with
 * *err (TWC_EINVAL for a malformed add_headers line, TWC_ENOMEM). */
twc_http_server *twc_http_server_new(twc_reactor *r, const struct twc_http_server_opts *opts,
                                     twc_err *err);
/* The factory to listen with (borrowed from s). */
twc_factory *twc_http_server_factory(twc_http_server *s);
/* Graceful shutdown: idle connections close now, busy ones after their
 * current response (with Connection: close), new connections are refused.
 * Returns the consumer's reference to a deferred firing once every
 * connection is gone, or NULL when there is none. Cancelling it aborts the
 * connections that are left. */
twc_deferred *twc_http_server_stop(twc_http_server *s);
/* Live connections. */
size_t twc_http_server_connections(const twc_http_server *s);
/* Free. Normally after stop's deferred fired; connections still closing
 * (aborted when the grace period ran out) delay the free until the last one
 * is gone, and no longer call into the root or the access log. NULL no-op.
 * An owner that frees the root, the log or what handlers borrow right after
 * this must be sure no connection is left; else use free_notify. */
void twc_http_server_free(twc_http_server *s);
/* Free, and call done(arg) once s is really gone. The lifetime rule: the root
 * (and every resource in it), the access log, and whatever their handlers
 * borrow (an HTTP agent, a resolver) must outlive every request the server
 * handed to a handler, i.e. until the handler's one finish. After the grace
 * period a request may still be held by a handler that has not finished
 * (aborting the connection only makes its writes fail with TWC_ECLOSED), so
 * its owner frees those things from done, not before:
 *   - no connection left: done runs from inside this call;
 *   - else the root and the access log stay in use, and done runs from the
 *     loop once the last connection is freed (never from inside a handler's
 *     finish, so done may free the handler's resource). The loop must keep
 *     running until then; a handler that never finishes keeps everything.
 * s NULL: done runs at once. done may be NULL (then: twc_http_server_free). */
void twc_http_server_free_notify(twc_http_server *s, twc_call_fn done, void *arg);

#endif
