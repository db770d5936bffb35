/*
 * libFuzzer target for proto/framing/line.c (and the corpus replay in plain CI).
 *
 * Input: byte 0 picks the configuration, byte 1 seeds the random split, the
 * rest is the stream.
 *   byte 0, bits 0-1: delimiter "\r\n", "\n", "\r\n\r\n" or "aab" (self-overlapping)
 *           bit 2:    overflow mode RESYNC (else FAIL)
 *           bits 3-7: max_line = 1 + value * 4 (1..125), or the default when 31
 * The driver reacts to lines like a protocol: "...{N}" switches to raw mode for
 * N bytes (an IMAP literal), "RAW" to raw mode for good, "DELIM x" changes the
 * delimiter to x (1-4 bytes).
 *
 * Invariants checked (abort on violation):
 *   - every feed consumes 0 < n <= len bytes or returns TWC_ETOOBIG, nothing else;
 *   - a line is at most max_line bytes and does not contain the delimiter; raw
 *     chunks are not empty;
 *   - the whole input, the input one byte at a time and a seeded random split
 *     give the same events;
 *   - lines re-encoded with their delimiter parse back to the same lines.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "limits.h"
#include "proto/framing/line.h"
#include "tests/fuzz/fuzz_check.h"

#define LOG_MAX (64 * 1024 * 1024)

static const struct {
    const char *s;
    size_t len;
} delims[] = {{"\r\n", 2}, {"\n", 1}, {"\r\n\r\n", 4}, {"aab", 3}};

enum split {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_RANDOM
};

struct cfg {
    const char *delim;
    size_t dlen;
    bool resync;
    size_t max_line;
    bool rules; /* react to {N}, RAW and DELIM lines */
};

static void log_u32(twc_buf *log, char tag, uint32_t v)
{
    uint8_t b[5] = {(uint8_t)tag, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};

    log_put(log, b, sizeof(b));
}

static bool contains(const uint8_t *p, size_t n, const uint8_t *d, size_t dl)
{
    size_t i;

    for (i = 0; i + dl <= n; i++) {
        if (memcmp(p + i, d, dl) == 0)
            return true;
    }
    return false;
}

static void apply_rules(twc_line_parser *lp, const uint8_t *p, size_t n)
{
    if (n == 3 && memcmp(p, "RAW", 3) == 0) {
        CHECK(twc_line_parser_set_raw(lp) == 0);
    } else if (n > 6 && n <= 10 && memcmp(p, "DELIM ", 6) == 0) {
        CHECK(twc_line_parser_set_delimiter(lp, p + 6, n - 6) == 0);
    } else if (n >= 3 && p[n - 1] == '}') {
        size_t open = n - 1;
        uint64_t count;

        while (open > 0 && p[open - 1] != '{')
            open--;
        if (open > 0 && open < n - 1 &&
            twc_parse_u64((const char *)p + open, n - 1 - open, 0, 100000, &count) == 0)
            CHECK(twc_line_parser_set_raw_count(lp, count) == 0);
    }
}

/* Parse in[0..len) split as asked; the event log goes to log, and, when lines
 * is not NULL, each line followed by the delimiter goes to lines. */
static void run(const struct cfg *c, const uint8_t *in, size_t len, enum split how, uint32_t seed,
                twc_buf *log, twc_buf *lines)
{
    struct twc_line_limits lim = {.max_line = c->max_line};
    twc_line_parser lp;
    struct twc_line_event ev;
    size_t off = 0;
    bool dead = false;

    twc_line_parser_init(&lp, &lim);
    CHECK(twc_line_parser_set_delimiter(&lp, c->delim, c->dlen) == 0);
    twc_line_parser_set_overflow(&lp,
                                 c->resync ? TWC_LINE_OVERFLOW_RESYNC : TWC_LINE_OVERFLOW_FAIL);
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
            ssize_t r = twc_line_parser_feed(&lp, chunk + done, n - done, &ev);

            if (r < 0) {
                CHECK(r == TWC_ETOOBIG);
                log_u32(log, 'E', (uint32_t)-r);
                if (c->resync) {
                    CHECK(twc_line_parser_state(&lp) == TWC_LINE_S_DISCARD);
                    continue;
                }
                CHECK(twc_line_parser_state(&lp) == TWC_LINE_S_FAILED);
                dead = true;
                break;
            }
            CHECK(r > 0 && (size_t)r <= n - done);
            done += (size_t)r;
            if (ev.type == TWC_LINE_EV_LINE) {
                CHECK(ev.line.len <= lp.max_line);
                CHECK(!contains(ev.line.p, ev.line.len, lp.delim, lp.dlen));
                log_u32(log, 'L', (uint32_t)ev.line.len);
                log_put(log, ev.line.p, ev.line.len);
                if (lines != NULL) {
                    log_put(lines, ev.line.p, ev.line.len);
                    log_put(lines, lp.delim, lp.dlen);
                }
                if (c->rules)
                    apply_rules(&lp, ev.line.p, ev.line.len);
            } else if (ev.type == TWC_LINE_EV_RAW) {
                size_t i;

                CHECK(ev.line.len > 0 && ev.line.len == (size_t)r);
                /* Byte by byte, so that raw chunks coalesce whatever the split. */
                for (i = 0; i < ev.line.len; i++) {
                    log_put(log, "r", 1);
                    log_put(log, ev.line.p + i, 1);
                }
                if (ev.raw_done)
                    log_put(log, "D", 1);
            } else {
                CHECK(ev.type == TWC_LINE_EV_NONE);
            }
        }
        free(chunk);
        off += n;
    }
    log_u32(log, 'S', (uint32_t)twc_line_parser_state(&lp) * 2 + twc_line_parser_idle(&lp));
    twc_line_parser_cleanup(&lp);
}

static void same(const twc_buf *a, const twc_buf *b)
{
    CHECK(twc_buf_len(a) == twc_buf_len(b));
    CHECK(twc_buf_len(a) == 0 || memcmp(twc_buf_data(a), twc_buf_data(b), twc_buf_len(a)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg c;
    twc_buf whole, other, lines, relines, scratch;
    const uint8_t *in;
    size_t len;
    unsigned maxsel;

    if (size < 2)
        return 0;
    c.delim = delims[data[0] & 3].s;
    c.dlen = delims[data[0] & 3].len;
    c.resync = (data[0] & 4) != 0;
    maxsel = data[0] >> 3;
    c.max_line = maxsel == 31 ? 0 : 1 + (size_t)maxsel * 4;
    c.rules = true;
    in = data + 2;
    len = size - 2;

    twc_buf_init(&whole, LOG_MAX);
    twc_buf_init(&other, LOG_MAX);
    run(&c, in, len, SPLIT_WHOLE, 0, &whole, NULL);
    run(&c, in, len, SPLIT_BYTES, 0, &other, NULL);
    same(&whole, &other);
    twc_buf_reset(&other);
    run(&c, in, len, SPLIT_RANDOM, data[1] * 2654435761u, &other, NULL);
    same(&whole, &other);

    /* Round trip, without mode switches: lines joined by the delimiter parse back
     * to the same lines, and the parser ends idle. */
    c.rules = false;
    twc_buf_init(&lines, LOG_MAX);
    twc_buf_init(&relines, LOG_MAX);
    twc_buf_init(&scratch, LOG_MAX);
    twc_buf_reset(&whole);
    run(&c, in, len, SPLIT_WHOLE, 0, &whole, &lines);
    run(&c, twc_buf_data(&lines), twc_buf_len(&lines), SPLIT_RANDOM, data[1], &scratch, &relines);
    same(&lines, &relines);

    twc_buf_cleanup(&whole);
    twc_buf_cleanup(&other);
    twc_buf_cleanup(&lines);
    twc_buf_cleanup(&relines);
    twc_buf_cleanup(&scratch);
    return 0;
}
