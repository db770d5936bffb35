/*
 * Shared driver for the HTTP parser fuzz targets (http_request_fuzz.c,
 * http_response_fuzz.c); included, not built alone.
 *
 * Input: byte 0 picks the configuration, byte 1 seeds the random split, the
 * rest is the stream.
 *   byte 0, bit 0:    small limits (start line 64, header bytes 256, 8 fields,
 *                     body 1000, chunk line 16), else the defaults
 *           bits 1-2: responses: the request method (other, HEAD, CONNECT)
 *
 * Invariants checked (abort on violation):
 *   - feed consumes 0 < n <= len bytes or fails with TWC_EPROTO / TWC_ETOOBIG /
 *     TWC_ENOMEM and an HTTP status; body pieces are never empty;
 *   - the whole input, the input one byte at a time and a seeded random split
 *     give the same events;
 *   - every head, serialized with twc_http_write_head, parses back to the same
 *     head (serialize(parse(x)) re-parses the same).
 */
#ifndef TWC_TESTS_FUZZ_HTTP_FUZZ_COMMON_H
#define TWC_TESTS_FUZZ_HTTP_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "proto/http/http.h"
#include "tests/fuzz/fuzz_check.h"

#define LOG_MAX (64 * 1024 * 1024)

enum split {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_RANDOM
};

struct cfg {
    bool response;
    enum twc_http_method_kind method;
    struct twc_http_limits lim;
};

static void log_u64(twc_buf *log, char tag, uint64_t v)
{
    uint8_t b[9];
    int i;

    b[0] = (uint8_t)tag;
    for (i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(v >> (56 - 8 * i));
    log_put(log, b, sizeof(b));
}

static void parser_init(const struct cfg *c, const struct twc_http_limits *lim, twc_http_parser *p)
{
    if (c->response) {
        twc_http_response_parser_init(p, lim);
        twc_http_response_parser_set_method(p, c->method);
    } else {
        twc_http_request_parser_init(p, lim);
    }
}

/* The facts of a head other than its bytes. */
static uint64_t head_facts(const struct twc_http_head *h)
{
    return (uint64_t)h->framing | (uint64_t)h->target_form << 4 | (uint64_t)h->keep_alive << 8 |
           (uint64_t)h->expect_continue << 9 | (uint64_t)h->upgrade << 10 |
           (uint64_t)h->version_minor << 11 | (uint64_t)h->status << 16;
}

static bool slice_same(twc_slice a, twc_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* serialize(parse(x)) parses back to the same head. */
static void check_round_trip(const struct cfg *c, const struct twc_http_head *h)
{
    struct twc_http_limits lim = c->lim;
    twc_http_parser p;
    struct twc_http_event ev;
    twc_buf b;
    ssize_t r;
    size_t i;

    twc_buf_init(&b, LOG_MAX);
    CHECK(twc_http_write_head(&b, h) == 0);
    /* Serializing may add a space after each colon: allow for it. */
    lim.max_header_bytes = (lim.max_header_bytes ? lim.max_header_bytes : 16384) * 2 + 4;
    parser_init(c, &lim, &p);
    r = twc_http_parser_feed(&p, twc_buf_data(&b), twc_buf_len(&b), &ev);
    CHECK(r == (ssize_t)twc_buf_len(&b));
    CHECK(ev.type == TWC_HTTP_EV_HEAD);
    CHECK(head_facts(ev.head) == head_facts(h));
    CHECK(ev.head->content_length == h->content_length);
    CHECK(slice_same(ev.head->method, h->method));
    CHECK(slice_same(ev.head->target, h->target));
    CHECK(slice_same(ev.head->reason, h->reason));
    CHECK(slice_same(ev.head->host, h->host));
    CHECK(ev.head->nheaders == h->nheaders);
    for (i = 0; i < h->nheaders; i++) {
        CHECK(slice_same(ev.head->headers[i].name, h->headers[i].name));
        CHECK(slice_same(ev.head->headers[i].value, h->headers[i].value));
    }
    twc_http_parser_cleanup(&p);
    twc_buf_cleanup(&b);
}

static void log_fields(twc_buf *log, const twc_http_header *f, size_t n)
{
    size_t i;

    log_u64(log, 'n', n);
    for (i = 0; i < n; i++) {
        log_u64(log, 'f', f[i].name.len);
        log_put(log, f[i].name.p, f[i].name.len);
        log_u64(log, 'v', f[i].value.len);
        log_put(log, f[i].value.p, f[i].value.len);
    }
}

/* Parse in[0..len) split as asked; the events go to log. */
static void run(const struct cfg *c, const uint8_t *in, size_t len, enum split how, uint32_t seed,
                twc_buf *log, bool round_trip)
{
    twc_http_parser p;
    struct twc_http_event ev;
    size_t off = 0;
    bool dead = false, in_body = false;
    int rc;

    parser_init(c, &c->lim, &p);
    while (off < len && !dead) {
        size_t n = len - off, done = 0;
        uint8_t *chunk;

        if (how == SPLIT_BYTES)
            n = 1;
        else if (how == SPLIT_RANDOM)
            n = 1 + rng_next(&seed) % n;
        chunk = malloc(n); /* exact size: ASan catches over-reads */
        CHECK(chunk != NULL);
        memcpy(chunk, in + off, n);
        while (done < n) {
            ssize_t r = twc_http_parser_feed(&p, chunk + done, n - done, &ev);

            if (r < 0) {
                CHECK(r == TWC_EPROTO || r == TWC_ETOOBIG || r == TWC_ENOMEM);
                CHECK(ev.status >= 400 && ev.status <= 599 && ev.why != NULL);
                log_u64(log, 'X', (uint64_t)ev.status);
                log_put(log, ev.why, strlen(ev.why));
                dead = true;
                break;
            }
            CHECK(r > 0 && (size_t)r <= n - done);
            done += (size_t)r;
            /* NONE (framing bytes only) does not end a run of body bytes. */
            if ((ev.type == TWC_HTTP_EV_HEAD || ev.type == TWC_HTTP_EV_END) && in_body) {
                log_put(log, "/", 1);
                in_body = false;
            }
            switch (ev.type) {
            case TWC_HTTP_EV_NONE:
                CHECK(done == n);
                break;
            case TWC_HTTP_EV_HEAD:
                log_u64(log, 'H', head_facts(ev.head));
                log_u64(log, 'l', ev.head->content_length);
                log_put(log, ev.head->method.p, ev.head->method.len);
                log_u64(log, 'm', ev.head->method.len);
                log_put(log, ev.head->target.p, ev.head->target.len);
                log_u64(log, 't', ev.head->target.len);
                log_put(log, ev.head->reason.p, ev.head->reason.len);
                log_u64(log, 'r', ev.head->reason.len);
                log_fields(log, ev.head->headers, ev.head->nheaders);
                log_u64(log, 'c', ev.complete);
                if (round_trip)
                    check_round_trip(c, ev.head);
                break;
            case TWC_HTTP_EV_BODY:
                CHECK(ev.body.len > 0);
                if (!in_body)
                    log_put(log, "B", 1);
                in_body = true;
                log_put(log, ev.body.p, ev.body.len);
                if (ev.complete) {
                    log_put(log, "!", 1);
                    in_body = false;
                }
                break;
            case TWC_HTTP_EV_END:
                CHECK(ev.complete);
                log_put(log, "E", 1);
                log_fields(log, ev.trailers, ev.ntrailers);
                break;
            }
        }
        free(chunk);
        off += n;
    }
    if (in_body)
        log_put(log, "/", 1);
    if (!dead) {
        rc = twc_http_parser_eof(&p, &ev);
        CHECK(rc == 0 || rc == TWC_EOF || rc == TWC_ETOOBIG);
        log_u64(log, 'F', (uint64_t)-rc);
        log_u64(log, 'T', ev.type);
    }
    log_u64(log, 'S', twc_http_parser_idle(&p));
    twc_http_parser_cleanup(&p);
}

static void same(const twc_buf *a, const twc_buf *b)
{
    CHECK(twc_buf_len(a) == twc_buf_len(b));
    CHECK(twc_buf_len(a) == 0 || memcmp(twc_buf_data(a), twc_buf_data(b), twc_buf_len(a)) == 0);
}

static int fuzz_one(const uint8_t *data, size_t size, bool response)
{
    struct cfg c;
    twc_buf whole, other;
    const uint8_t *in;
    size_t len;

    if (size < 2)
        return 0;
    memset(&c, 0, sizeof(c));
    c.response = response;
    c.method = (enum twc_http_method_kind)((data[0] >> 1) % 3);
    if (data[0] & 1) {
        c.lim.max_start_line = 64;
        c.lim.max_header_bytes = 256;
        c.lim.max_headers = 8;
        c.lim.max_body = 1000;
        c.lim.max_chunk_line = 16;
    }
    in = data + 2;
    len = size - 2;

    twc_buf_init(&whole, LOG_MAX);
    twc_buf_init(&other, LOG_MAX);
    run(&c, in, len, SPLIT_WHOLE, 0, &whole, true);
    run(&c, in, len, SPLIT_BYTES, 0, &other, false);
    same(&whole, &other);
    twc_buf_reset(&other);
    run(&c, in, len, SPLIT_RANDOM, data[1] * 2654435761u, &other, false);
    same(&whole, &other);
    twc_buf_cleanup(&whole);
    twc_buf_cleanup(&other);
    return 0;
}

#endif
