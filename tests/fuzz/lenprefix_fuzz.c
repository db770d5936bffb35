/*
 * libFuzzer target for proto/framing/lenprefix.c (and the corpus replay in plain CI).
 *
 * Input: byte 0 picks the prefix width (bits 0-1: 1, 2, 4, 4 bytes) and max_len
 * (bits 2-7: 0 means the default, else value * 4), byte 1 seeds the random
 * split, the rest is the stream.
 *
 * Invariants checked (abort on violation):
 *   - every feed consumes 0 < n <= len bytes, or returns TWC_ETOOBIG and then
 *     keeps returning it;
 *   - payloads are at most max_len bytes;
 *   - the whole input, the input one byte at a time and a seeded random split
 *     give the same events;
 *   - encoding the payloads reproduces exactly the input bytes they came from,
 *     and that encoding parses back to them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "proto/framing/lenprefix.h"
#include "tests/fuzz/fuzz_check.h"

#define LOG_MAX (64 * 1024 * 1024)

enum split {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_RANDOM
};

static void log_u32(twc_buf *log, char tag, uint32_t v)
{
    uint8_t b[5] = {(uint8_t)tag, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};

    log_put(log, b, sizeof(b));
}

/* Parse in[0..len) split as asked; events go to log, re-encoded payloads to enc
 * (when not NULL). Returns the offset just past the last complete frame. */
static size_t run(unsigned width, size_t max_len, const uint8_t *in, size_t len, enum split how,
                  uint32_t seed, twc_buf *log, twc_buf *enc)
{
    struct twc_lenprefix_limits lim = {.max_len = max_len};
    twc_lenprefix_parser lp;
    struct twc_lenprefix_event ev;
    size_t off = 0, last_end = 0;
    bool dead = false;

    CHECK(twc_lenprefix_parser_init(&lp, width, &lim) == 0);
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
            ssize_t r = twc_lenprefix_parser_feed(&lp, chunk + done, n - done, &ev);

            if (r < 0) {
                CHECK(r == TWC_ETOOBIG);
                CHECK(twc_lenprefix_parser_feed(&lp, chunk, n, &ev) == r);
                CHECK(twc_lenprefix_parser_state(&lp) == TWC_LENPREFIX_S_FAILED);
                log_u32(log, 'E', (uint32_t)-r);
                dead = true;
                break;
            }
            CHECK(r > 0 && (size_t)r <= n - done);
            done += (size_t)r;
            if (ev.type == TWC_LENPREFIX_EV_FRAME) {
                CHECK(ev.payload.p != NULL && ev.payload.len <= lp.max_len);
                log_u32(log, 'F', (uint32_t)ev.payload.len);
                log_put(log, ev.payload.p, ev.payload.len);
                if (enc != NULL)
                    CHECK(twc_lenprefix_encode(enc, width, ev.payload.p, ev.payload.len) == 0);
                last_end = off + done;
            } else {
                CHECK(ev.type == TWC_LENPREFIX_EV_NONE && done == n);
            }
        }
        free(chunk);
        off += n;
    }
    log_u32(log, 'Z',
            (uint32_t)twc_lenprefix_parser_state(&lp) * 2 + twc_lenprefix_parser_idle(&lp));
    twc_lenprefix_parser_cleanup(&lp);
    return last_end;
}

static void same(const twc_buf *a, const twc_buf *b)
{
    CHECK(twc_buf_len(a) == twc_buf_len(b));
    CHECK(twc_buf_len(a) == 0 || memcmp(twc_buf_data(a), twc_buf_data(b), twc_buf_len(a)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned widths[] = {1, 2, 4, 4};
    twc_buf whole, other, enc, reenc;
    const uint8_t *in;
    size_t len, max_len, end;
    unsigned width;

    if (size < 2)
        return 0;
    width = widths[data[0] & 3];
    max_len = (size_t)(data[0] >> 2) * 4;
    in = data + 2;
    len = size - 2;

    twc_buf_init(&whole, LOG_MAX);
    twc_buf_init(&other, LOG_MAX);
    twc_buf_init(&enc, LOG_MAX);
    twc_buf_init(&reenc, LOG_MAX);
    end = run(width, max_len, in, len, SPLIT_WHOLE, 0, &whole, &enc);
    run(width, max_len, in, len, SPLIT_BYTES, 0, &other, NULL);
    same(&whole, &other);
    twc_buf_reset(&other);
    run(width, max_len, in, len, SPLIT_RANDOM, data[1] * 2654435761u, &other, NULL);
    same(&whole, &other);

    /* The encoding is byte for byte the input that was parsed. */
    CHECK(twc_buf_len(&enc) == end);
    CHECK(end == 0 || memcmp(twc_buf_data(&enc), in, end) == 0);
    twc_buf_reset(&other);
    run(width, max_len, twc_buf_data(&enc), twc_buf_len(&enc), SPLIT_RANDOM, data[1], &other,
        &reenc);
    same(&enc, &reenc);

    twc_buf_cleanup(&whole);
    twc_buf_cleanup(&other);
    twc_buf_cleanup(&enc);
    twc_buf_cleanup(&reenc);
    return 0;
}
