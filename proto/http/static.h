/*
 * Static files (twisted.web.static.File in C): a resource serving a folder
 * (or one file) under an HTTP server (proto/http/server.h).
 *
 * GET and HEAD (OPTIONS answers Allow; other methods get 405 with Allow):
 *   - files: Content-Type from a built-in table, then /etc/mime.types, then the
 *     default type; ETag and Last-Modified; If-Match, If-Unmodified-Since
 *     (412), If-None-Match, If-Modified-Since (304), If-Range, Range (206 with
 *     Content-Range, multipart/byteranges for several ranges, 416) per RFC
 *     9110 §13 and §14; bodies with sendfile(2) where the transport allows,
 *     small files from an in-memory cache re-checked on disk every second;
 *   - folders: a path without its trailing slash is redirected (301); then
 *     the first index file found; else a sorted listing (names HTML-escaped
 *     and URL-encoded, sizes, dates), or 403 when listings are off.
 * Safety: the path is percent-decoded (refusing "%2F" and NUL) and its dot
 * segments removed, and every open goes through openat2(RESOLVE_BENEATH) on
 * the root folder, so neither "..", absolute symlinks nor symlinks climbing
 * out of the root can reach outside it (404 or 403).
 */
#ifndef TWC_PROTO_HTTP_STATIC_H
#define TWC_PROTO_HTTP_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/reactor.h"
#include "proto/http/resource.h"

struct twc_http_static_opts {
    const char *root;               /* folder or file (copied) */
    const char *const *index;       /* index file names (copied); NULL: index.html, index.htm */
    size_t nindex;
    bool no_listing;                /* folders without an index: 403 */
    const char *default_type;       /* NULL: application/octet-stream */
    const char *mime_types;         /* NULL: /etc/mime.types when present; "": none */
};

/* A static file resource. Returns owned (free with twc_http_resource_free), or
 * NULL with *err: -ENOENT / -EACCES... naming the root. */
twc_http_resource *twc_http_static_new(twc_reactor *r, const struct twc_http_static_opts *o,
                                       twc_err *err);

/* The Content-Type the resource gives a file name (borrowed static or owned by
 * res). */
const char *twc_http_static_type(twc_http_resource *res, const char *name);

#endif
