/*
 * Internals shared by proto/http/server.c, resource.c, static.c and their
 * tests: the request as the server embeds it in each connection.
 */
#ifndef TWC_PROTO_HTTP_SERVER_INT_H
#define TWC_PROTO_HTTP_SERVER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "proto/http/resource.h"
#include "proto/http/server.h"

struct twc__http_conn;

struct twc_http_request {
    struct twc__http_conn *conn;
    struct twc_http_head head; /* slices into the input, or into the saved copy */
    /* Offsets into head.target. */
    size_t path_off, path_len, query_off, query_len;
    size_t pre_len; /* prepath = path[0..pre_len), postpath = the rest */
    bool root_path; /* absolute-form target with an empty path: path is "/" */
    time_t time;
    /* Response. */
    int status;
    char reason[48];
    uint64_t length, bytes;
    bool has_length, head_sent, finished, chunked, no_body, close_after, is_head;
    bool saved, continue_sent, body_started, body_ended, body_paused, aborted, status_forced;
    const struct twc_http_body_ops *body_ops;
    void *body_arg;
    void (*p_pause)(void *);
    void (*p_resume)(void *);
    void *p_arg;
    twc_deferred *finish_d;
    /* A file copied (no zero-copy) in pieces as the output drains. */
    int file_fd;
    uint64_t file_off, file_left;
    bool finish_pending;
};

/* Append ready-made header lines ("Name: value\r\n"...; trusted bytes). */
int twc__http_response_add_raw(twc_http_request *req, const void *lines, size_t len);

/* Connections holding request state, and spare states kept for reuse (an
 * idle keep-alive connection holds none; for tests). */
void twc__http_server_exchanges(const twc_http_server *s, size_t *attached, size_t *spare);

/* Which resource renders, with req's prepath/postpath set (resource.c). */
twc_http_resource *twc__http_resource_walk(twc_http_resource *root, twc_http_request *req);

#endif
