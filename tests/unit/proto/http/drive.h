/*
 * Test driver shared by the proto/http parser tests (included, not built alone).
 *
 * drive() feeds an input to a fresh parser whole, one byte at a time, and in
 * RANDOM_SPLITS seeded random splits, each chunk an exact-size heap copy (so
 * ASan catches a read past a chunk), records the events as text, checks that
 * every split gives the same text, and returns it (caller frees).
 *
 * Log lines:
 *   request head   "H <method> <target> 1.<minor> <form> <framing>[:<len>] ka=<0|1>[ ec][ up]"
 *   response head  "R <status> [<reason>] 1.<minor> <framing>[:<len>] ka=<0|1>[ up]"
 *                  then one "  <name>: <value>" line per field
 *   body           "B <bytes>" (pieces coalesced)
 *   end            "E" then one line per trailer field
 *   error          "X <status> <why>"
 * A trailing "!" marks an event that completes its message. The log ends with
 * "#idle" or "#busy".
 */
#ifndef TWC_TESTS_HTTP_DRIVE_H
#define TWC_TESTS_HTTP_DRIVE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "proto/http/http.h"

#define LOG_MAX       (4 * 1024 * 1024)
#define RANDOM_SPLITS 25

struct drive_opts {
    bool response;
    enum twc_http_method_kind method;
    const struct twc_http_limits *lim;
    bool eof; /* call twc_http_parser_eof at the end */
};

struct log {
    twc_buf b;
    bool in_body;
};

static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u; /* xorshift32 */

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static void log_put(struct log *l, const void *p, size_t n)
{
    assert_int_equal(twc_buf_append(&l->b, p, n), 0);
}

static void log_str(struct log *l, const char *s)
{
    log_put(l, s, strlen(s));
}

static void log_fmt(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_fmt(struct log *l, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    log_put(l, tmp, (size_t)n);
}

static void end_body(struct log *l)
{
    if (l->in_body) {
        log_str(l, "\n");
        l->in_body = false;
    }
}

static const char *framing_name(enum twc_http_framing f)
{
    static const char *const names[] = {"none", "length", "chunked", "close"};

    return names[f];
}

static const char *form_name(enum twc_http_target_form f)
{
    static const char *const names[] = {"origin", "absolute", "authority", "asterisk"};

    return names[f];
}

static void log_fields(struct log *l, const twc_http_header *h, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        log_str(l, "  ");
        log_put(l, h[i].name.p, h[i].name.len);
        log_str(l, ": ");
        log_put(l, h[i].value.p, h[i].value.len);
        log_str(l, "\n");
    }
}

static void log_event(struct log *l, const struct twc_http_event *ev)
{
    const struct twc_http_head *h = ev->head;

    switch (ev->type) {
    case TWC_HTTP_EV_NONE:
        return;
    case TWC_HTTP_EV_HEAD:
        end_body(l);
        assert_non_null(h);
        if (h->method.len > 0) {
            log_str(l, "H ");
            log_put(l, h->method.p, h->method.len);
            log_str(l, " ");
            log_put(l, h->target.p, h->target.len);
            log_fmt(l, " 1.%d %s ", h->version_minor, form_name(h->target_form));
        } else {
            log_fmt(l, "R %d ", h->status);
            if (h->reason.len > 0) {
                log_put(l, h->reason.p, h->reason.len);
                log_str(l, " ");
            }
            log_fmt(l, "1.%d ", h->version_minor);
        }
        log_str(l, framing_name(h->framing));
        if (h->framing == TWC_HTTP_BODY_LENGTH)
            log_fmt(l, ":%llu", (unsigned long long)h->content_length);
        log_fmt(l, " ka=%d%s%s%s\n", h->keep_alive, h->expect_continue ? " ec" : "",
                h->upgrade ? " up" : "", ev->complete ? "!" : "");
        log_fields(l, h->headers, h->nheaders);
        break;
    case TWC_HTTP_EV_BODY:
        assert_true(ev->body.len > 0);
        if (!l->in_body)
            log_str(l, "B ");
        l->in_body = true;
        log_put(l, ev->body.p, ev->body.len);
        if (ev->complete) {
            log_str(l, "!\n");
            l->in_body = false;
        }
        break;
    case TWC_HTTP_EV_END:
        end_body(l);
        log_fmt(l, "E%s\n", ev->complete ? "!" : "");
        log_fields(l, ev->trailers, ev->ntrailers);
        break;
    }
}

enum split {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_RANDOM
};

static char *run_split(const uint8_t *in, size_t len, const struct drive_opts *o, enum split how,
                       uint32_t seed)
{
    twc_http_parser p;
    struct twc_http_event ev;
    struct log l = {.in_body = false};
    size_t off = 0;
    bool dead = false;
    char *out;

    twc_buf_init(&l.b, LOG_MAX);
    if (o->response) {
        twc_http_response_parser_init(&p, o->lim);
        twc_http_response_parser_set_method(&p, o->method);
    } else {
        twc_http_request_parser_init(&p, o->lim);
    }
    while (off < len && !dead) {
        size_t n = len - off, done = 0;
        uint8_t *chunk;

        if (how == SPLIT_BYTES)
            n = 1;
        else if (how == SPLIT_RANDOM)
            n = 1 + rng_next(&seed) % n;
        chunk = malloc(n);
        assert_non_null(chunk);
        memcpy(chunk, in + off, n);
        while (done < n) {
            ssize_t r = twc_http_parser_feed(&p, chunk + done, n - done, &ev);

            if (r < 0) {
                end_body(&l);
                assert_non_null(ev.why);
                log_fmt(&l, "X %d %s\n", ev.status, ev.why);
                dead = true;
                break;
            }
            assert_true(r > 0);
            assert_true((size_t)r <= n - done);
            done += (size_t)r;
            log_event(&l, &ev);
        }
        free(chunk);
        off += n;
    }
    if (o->eof && !dead) {
        int rc = twc_http_parser_eof(&p, &ev);

        if (rc < 0) {
            end_body(&l);
            log_fmt(&l, "X %d %s\n", ev.status, ev.why);
        } else {
            log_event(&l, &ev);
        }
    }
    end_body(&l);
    log_str(&l, twc_http_parser_idle(&p) ? "#idle" : "#busy");
    log_put(&l, "", 1);
    twc_http_parser_cleanup(&p);
    out = strdup((const char *)twc_buf_data(&l.b));
    assert_non_null(out);
    twc_buf_cleanup(&l.b);
    return out;
}

static char *drive_opts(const void *in, size_t len, const struct drive_opts *o)
{
    char *whole = run_split(in, len, o, SPLIT_WHOLE, 0), *other;
    uint32_t i;

    other = run_split(in, len, o, SPLIT_BYTES, 0);
    assert_string_equal(other, whole);
    free(other);
    for (i = 1; i <= RANDOM_SPLITS; i++) {
        other = run_split(in, len, o, SPLIT_RANDOM, i * 2654435761u);
        assert_string_equal(other, whole);
        free(other);
    }
    return whole;
}

/* Drive a request input (NUL-terminated) with default limits. */
__attribute__((unused)) static char *drive_req(const char *in)
{
    struct drive_opts o = {.response = false};

    return drive_opts(in, strlen(in), &o);
}

/* Compare the log of a request input with the expected text. */
__attribute__((unused)) static void expect_req(const char *in, const char *want)
{
    char *got = drive_req(in);

    assert_string_equal(got, want);
    free(got);
}

/* The last event line (before "#idle"/"#busy") of a log, copied into out. */
__attribute__((unused)) static const char *last_line(const char *log, char *out, size_t cap)
{
    const char *end = strrchr(log, '\n'), *start;
    size_t n;

    if (end == NULL) {
        out[0] = '\0';
        return out;
    }
    start = end;
    while (start > log && start[-1] != '\n')
        start--;
    n = (size_t)(end - start);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, start, n);
    out[n] = '\0';
    return out;
}

#endif
