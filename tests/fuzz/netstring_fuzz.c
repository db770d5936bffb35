/*
 * libFuzzer target for proto/framing/netstring.c (and the corpus replay in plain CI).
 *
 * Input: byte 0 picks max_len (the default when its top bit is set, else
 * byte 0 itself, 0 meaning the default too), byte 1 seeds the random split,
 * the rest is the stream.
 *
 * Invariants checked (abort on violation):
 *   - every feed consumes 0 < n <= len bytes, or returns TWC_EPROTO/TWC_ETOOBIG
 *     and then keeps returning it;
 *   - payloads are at most max_len bytes;
 *   - the whole input, the input one byte at a time and a seeded random split
 *     give the same events;
 *   - netstrings are canonical, so encoding the payloads reproduces exactly the
 *     input bytes they came from, and that encoding parses back to them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "proto/framing/netstring.h"
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
 * (when not NULL). Returns the offset just past the last complete netstring. */
static size_t run(size_t max_len, const uint8_t *in, size_t len, enum split how, uint32_t seed,
                  twc_buf *log, twc_buf *enc)
{
    struct twc_netstring_limits lim = {.max_len = max_len};
    twc_netstring_parser np;
    struct twc_netstring_event ev;
    size_t off = 0, last_end = 0;
    bool dead = false;

    twc_netstring_parser_init(&np, &lim);
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
            ssize_t r = twc_netstring_parser_feed(&np, chunk + done, n - done, &ev);

            if (r < 0) {
                CHECK(r == TWC_EPROTO || r == TWC_ETOOBIG);
                CHECK(twc_netstring_parser_feed(&np, chunk, n, &ev) == r);
                CHECK(twc_netstring_parser_state(&np) == TWC_NETSTRING_S_FAILED);
                log_u32(log, 'E', (uint32_t)-r);
                dead = true;
                break;
            }
            CHECK(r > 0 && (size_t)r <= n - done);
            done += (size_t)r;
            if (ev.type == TWC_NETSTRING_EV_STRING) {
                CHECK(ev.payload.p != NULL && ev.payload.len <= np.max_len);
                log_u32(log, 'S', (uint32_t)ev.payload.len);
                log_put(log, ev.payload.p, ev.payload.len);
                if (enc != NULL)
                    CHECK(twc_netstring_encode(enc, ev.payload.p, ev.payload.len) == 0);
                last_end = off + done;
            } else {
                CHECK(ev.type == TWC_NETSTRING_EV_NONE && done == n);
            }
        }
        free(chunk);
        off += n;
    }
    log_u32(log, 'Z',
            (uint32_t)twc_netstring_parser_state(&np) * 2 + twc_netstring_parser_idle(&np));
    twc_netstring_parser_cleanup(&np);
    return last_end;
}

static void same(const twc_buf *a, const twc_buf *b)
{
    CHECK(twc_buf_len(a) == twc_buf_len(b));
    CHECK(twc_buf_len(a) == 0 || memcmp(twc_buf_data(a), twc_buf_data(b), twc_buf_len(a)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    twc_buf whole, other, enc, reenc;
    const uint8_t *in;
    size_t len, max_len, end;

    if (size < 2)
        return 0;
    max_len = (data[0] & 0x80) ? 0 : data[0];
    in = data + 2;
    len = size - 2;

    twc_buf_init(&whole, LOG_MAX);
    twc_buf_init(&other, LOG_MAX);
    twc_buf_init(&enc, LOG_MAX);
    twc_buf_init(&reenc, LOG_MAX);
    end = run(max_len, in, len, SPLIT_WHOLE, 0, &whole, &enc);
    run(max_len, in, len, SPLIT_BYTES, 0, &other, NULL);
    same(&whole, &other);
    twc_buf_reset(&other);
    run(max_len, in, len, SPLIT_RANDOM, data[1] * 2654435761u, &other, NULL);
    same(&whole, &other);

    /* Canonical form: the encoding is byte for byte the input that was parsed. */
    CHECK(twc_buf_len(&enc) == end);
    CHECK(end == 0 || memcmp(twc_buf_data(&enc), in, end) == 0);
    twc_buf_reset(&other);
    run(max_len, twc_buf_data(&enc), twc_buf_len(&enc), SPLIT_RANDOM, data[1], &other, &reenc);
    same(&enc, &reenc);

    twc_buf_cleanup(&whole);
    twc_buf_cleanup(&other);
    twc_buf_cleanup(&enc);
    twc_buf_cleanup(&reenc);
    return 0;
}
