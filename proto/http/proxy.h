/*
 * Reverse proxy resource for `twc web --proxy PREFIX=URL` (nginx's proxy_pass
 * with a URI): mounted at PREFIX in the resource tree, it sends
 * PREFIX/rest?query to URL's host as URLPATH/rest?query, e.g. with
 * `--proxy /api=http://127.0.0.1:9000/v1`, "/api/x?q" goes upstream as
 * "/v1/x?q".
 *
 * Both directions stream with flow control: the request body goes up as it
 * arrives (Content-Length kept, else chunked), the response body comes down
 * as it arrives. Headers: the original Host is passed on; X-Forwarded-For gets
 * the client's address appended; X-Forwarded-Proto is set to http or https;
 * hop-by-hop fields (RFC 9110 §7.6.1: Connection and the fields it names,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) are
 * dropped both ways. Redirects are passed to the client, not followed.
 *
 * Failures: an upstream that cannot be reached or answers garbage gives 502
 * Bad Gateway; no response head within the head timeout (or a connect
 * timeout) gives 504 Gateway Timeout. A failure after the head was sent
 * aborts the client connection (the body cannot be completed honestly).
 *
 * Usage (httpserver's cmd/web.c):
 *
 *     twc_http_resource *p = twc_http_proxy_new(r, resolver, "http://127.0.0.1:9000/v1",
 *                                               NULL, &err);
 *     twc_http_resource_put_path(root, "/api", p);   // takes p
 */
#ifndef TWC_PROTO_HTTP_PROXY_H
#define TWC_PROTO_HTTP_PROXY_H

#include "lib/err.h"
#include "lib/reactor.h"
#include "lib/resolver.h"
#include "proto/http/client.h"
#include "proto/http/resource.h"

/* A proxy leaf for the upstream url (http:// or https://; its path replaces
 * the mount prefix). It owns an agent (a keep-alive pool) built from ao (may
 * be NULL: defaults; its resolver field is replaced by resolver, borrowed,
 * which may be NULL for numeric upstream hosts). Returns owned (free with
 * twc_http_resource_free, or hand it to the tree), or NULL with *err
 * (TWC_EINVAL for a bad url, TWC_ENOMEM, TLS configuration errors). */
twc_http_resource *twc_http_proxy_new(twc_reactor *r, twc_resolver *resolver, const char *url,
                                      const struct twc_http_agent_opts *ao, twc_err *err);

/* The upstream target for a request path below the prefix: base_path (the
 * URL's path, e.g. "/v1") joined with postpath ("/x" or "") plus "?query"
 * when query_len > 0 (query without '?'). Writes a NUL-terminated string to
 * out. Returns 0 or TWC_ETOOBIG. Exposed for tests. */
int twc_http_proxy_target(const char *base_path, const char *postpath, size_t post_len,
                          const char *query, size_t query_len, bool has_query, char *out,
                          size_t outlen);

#endif
