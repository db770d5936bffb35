/*
 * The HTTP resource API (twisted.web.resource in C): a tree of resources that
 * answers the requests of an HTTP/1.1 server (proto/http/server.h).
 *
 * Traversal. The request path (raw, before '?') is split at '/'. Starting at
 * the root, each segment (percent-decoded for the comparison) is looked up
 * among the current resource's static children (put_child), then through its
 * get_child op; the walk stops at a leaf, at the end of the path, or at a
 * segment no child matches. The resource reached renders, with the consumed
 * part of the path as prepath and the rest (raw, starting with '/', or empty)
 * as postpath. "/" and "" are the root itself. A static file tree is a root
 * that renders its postpath; a reverse proxy is a leaf under "api".
 *
 * Rendering. render() answers at once (twc_http_response_send) or keeps the
 * request and answers later, from any callback, e.g. when a Deferred fires
 * (twc_http_request_notify_finish tells when the client went away). It may
 * stream: twc_http_response_write as often as needed (chunked when no length
 * was set), honouring flow control (set_producer), then
 * twc_http_response_finish. Exactly one finish per request, even after the
 * connection was lost (writes then return TWC_ECLOSED): the request stays
 * valid until then, and only then. The resource (and the whole tree) must
 * stay valid until that finish too: a server owner frees the tree only once
 * the server is gone (twc_http_server_free_notify). A handler that finishes
 * when notify_finish fails lets a shutdown complete without waiting on it.
 *
 * Request bodies are read incrementally: twc_http_request_read_body from
 * render (or before the first body byte arrives: render runs when the head is
 * complete, before any body byte is delivered). A body nobody reads is
 * discarded. "Expect: 100-continue" is answered with 100 Continue when the
 * body is first asked for; a response finished without reading such a body
 * closes the connection afterwards (RFC 9110 §10.1.1).
 *
 * Pipelining: one request per connection is in progress at a time; the next
 * one is parsed only after the response finished, so responses are in order.
 */
#ifndef TWC_PROTO_HTTP_RESOURCE_H
#define TWC_PROTO_HTTP_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/deferred.h"
#include "lib/err.h"
#include "lib/reactor.h"
#include "proto/http/http.h"

typedef struct twc_http_request twc_http_request;
typedef struct twc_http_resource twc_http_resource;

struct twc_http_resource_ops {
    /* Optional: a child for segment seg[0..len) (decoded; borrowed) not found
     * among the static children, or NULL to stop the walk here. The result is
     * borrowed (owned by r). */
    twc_http_resource *(*get_child)(twc_http_resource *r, const char *seg, size_t len,
                                    twc_http_request *req);
    /* Required: answer req (now or later). NULL is treated as 404. */
    void (*render)(twc_http_resource *r, twc_http_request *req);
    /* Optional: free the concrete object (children were freed already). */
    void (*free)(twc_http_resource *r);
};

struct twc__http_child; /* private to resource.c */

/* Embed first in a concrete resource. Fields are private: use the functions. */
struct twc_http_resource {
    const struct twc_http_resource_ops *ops;
    bool is_leaf; /* the walk stops here: everything below is postpath */
    struct twc__http_child *children;
    size_t nchildren, cap;
};

/* Initialise caller storage (ops borrowed). */
void twc_http_resource_init(twc_http_resource *r, const struct twc_http_resource_ops *ops,
                            bool is_leaf);
/* Add child under the segment name seg (copied, without '/'); takes child.
 * A second child with the same name replaces (and frees) the first. Returns 0
 * or TWC_ENOMEM / TWC_EINVAL (seg contains '/'); on error child is not taken. */
int twc_http_resource_put_child(twc_http_resource *parent, const char *seg,
                                twc_http_resource *child);
/* Put child at a multi-segment prefix such as "/api/v1": intermediate plain
 * resources (404 when rendered) are created as needed. Takes child. */
int twc_http_resource_put_path(twc_http_resource *root, const char *prefix,
                               twc_http_resource *child);
/* Free r's children, then r through its free op. NULL is a no-op. */
void twc_http_resource_free(twc_http_resource *r);

/* The resource that renders req, and req's prepath/postpath set (used by the
 * server; exposed for tests). */
twc_http_resource *twc_http_resource_find(twc_http_resource *root, twc_http_request *req);

/* A leaf calling fn(arg, req) for every request at or below where it is put
 * (the hook the reverse proxy and the mail API plug in). arg_free (may be
 * NULL) runs on arg when the resource is freed. Returns owned, or NULL. */
typedef void (*twc_http_handler_fn)(void *arg, twc_http_request *req);
twc_http_resource *twc_http_handler_resource_new(twc_http_handler_fn fn, void *arg,
                                                 void (*arg_free)(void *));

/* ---- Request (borrowed slices stay valid until finish) ------------------- */

twc_slice twc_http_request_method(const twc_http_request *req);
twc_slice twc_http_request_target(const twc_http_request *req); /* as received */
twc_slice twc_http_request_path(const twc_http_request *req);   /* raw, before '?' */
twc_slice twc_http_request_query(const twc_http_request *req);  /* after '?', or empty */
twc_slice twc_http_request_prepath(const twc_http_request *req);
twc_slice twc_http_request_postpath(const twc_http_request *req);
int twc_http_request_version_minor(const twc_http_request *req);
/* The parsed head (header fields in arrival order); borrowed. */
const struct twc_http_head *twc_http_request_head(const twc_http_request *req);
/* First field named name (case-insensitive). */
bool twc_http_request_header(const twc_http_request *req, const char *name, twc_slice *value);
/* Client address (cached per connection). Returns 0 or a code. */
int twc_http_request_peer(twc_http_request *req, twc_addr *out);
/* Over TLS ("https")? */
bool twc_http_request_is_secure(const twc_http_request *req);
bool twc_http_request_is_head(const twc_http_request *req);
twc_reactor *twc_http_request_reactor(const twc_http_request *req);
/* Unix time when the request head arrived (for logs and dates). */
time_t twc_http_request_time(const twc_http_request *req);

/* Consume the request body: data(arg, piece) for every decoded piece, then
 * end(arg, NULL) at its end, or end(arg, why) when it cannot complete (the
 * connection was lost, a timeout, a malformed chunk). For a request without a
 * body, end(arg, NULL) comes from the loop. Returns 0 or TWC_EINVAL (called
 * twice). ops and arg are borrowed until end. */
struct twc_http_body_ops {
    void (*data)(void *arg, twc_http_request *req, const uint8_t *data, size_t len);
    void (*end)(void *arg, twc_http_request *req, const twc_err *why);
};
int twc_http_request_read_body(twc_http_request *req, const struct twc_http_body_ops *ops,
                               void *arg);
/* Stop / restart body delivery (flow control towards the client). */
void twc_http_request_pause_body(twc_http_request *req);
void twc_http_request_resume_body(twc_http_request *req);
/* Does the request carry a body (Content-Length > 0 or chunked)? */
bool twc_http_request_has_body(const twc_http_request *req);

/* A deferred (consumer's reference) that fires with NULL once the response is
 * finished and handed to the transport, or fails with TWC_ECLOSED when the
 * connection is lost first (Twisted's notifyFinish). */
twc_deferred *twc_http_request_notify_finish(twc_http_request *req);

/* ---- Response ------------------------------------------------------------ */

/* Status and reason (NULL: the standard phrase). Before the first write.
 * Default 200. Returns 0 or TWC_EINVAL (status outside 200..999, or head
 * already sent). */
int twc_http_response_set_status(twc_http_request *req, int status, const char *reason);
/* Add a header field (copied); Date, Server, Connection, Content-Length and
 * Transfer-Encoding are the server's. Returns 0, TWC_EINVAL (CR/LF/NUL or
 * head already sent), TWC_ENOMEM. */
int twc_http_response_add_header(twc_http_request *req, const char *name, const char *value);
int twc_http_response_add_header_n(twc_http_request *req, const char *name, size_t nlen,
                                   const char *value, size_t vlen);
/* Announce the body length (Content-Length) instead of chunked encoding. */
int twc_http_response_set_length(twc_http_request *req, uint64_t len);
/* Send body bytes (copied; the head goes first). Nothing is sent for HEAD,
 * 204 and 304. Returns 0, or TWC_ECLOSED once the connection is gone. */
int twc_http_response_write(twc_http_request *req, const void *data, size_t len);
/* Send len bytes of file fd from off, zero-copy where the transport can (takes
 * fd in every case). Returns 0 or a code (TWC_ECLOSED, -errno of pread). */
int twc_http_response_sendfile(twc_http_request *req, int fd, uint64_t off, uint64_t len);
/* The response is complete. Exactly once per request. */
void twc_http_response_finish(twc_http_request *req);
/* Convenience: status, Content-Type (may be NULL), body, finish. */
int twc_http_response_send(twc_http_request *req, int status, const char *content_type,
                           const void *body, size_t len);
/* A small HTML error page for status, then finish. */
int twc_http_response_error(twc_http_request *req, int status);
/* Close the connection after this response (no keep-alive). */
void twc_http_response_close_after(twc_http_request *req);
/* Abort the connection now (e.g. a proxied upstream failed mid-body); the
 * handler must still call finish. */
void twc_http_request_abort(twc_http_request *req);
/* Streaming flow control: pause(arg) when the client's output queue passed
 * the high-water mark, resume(arg) once it drained. Either may be NULL. When
 * the connection is lost while paused, resume(arg) is called once more so the
 * producer sees its next write fail (TWC_ECLOSED) and finishes. */
void twc_http_response_set_producer(twc_http_request *req, void (*pause)(void *arg),
                                    void (*resume)(void *arg), void *arg);
/* Output bytes queued for the client. */
size_t twc_http_response_buffered(const twc_http_request *req);
/* Status sent (or to be sent) and body bytes sent so far (for logs). */
int twc_http_response_status(const twc_http_request *req);
uint64_t twc_http_response_bytes(const twc_http_request *req);
bool twc_http_response_head_sent(const twc_http_request *req);

#endif
