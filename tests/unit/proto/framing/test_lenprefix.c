/*
 * Unit tests for proto/framing/lenprefix.c: parser and encoder, 1/2/4-byte prefixes.
 *
 * drive() feeds an input whole, one byte at a time, or in seeded random splits
 * (each chunk an exact-size heap copy, so ASan catches over-reads) and logs the
 * events: F<len>[payload]  E<code>  and, last, #<state> ("*" when not idle).
 * Every split must give the same log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "limits.h"
#include "proto/framing/lenprefix.h"

#define LOG_MAX       (4 * 1024 * 1024)
#define RANDOM_SPLITS 25

enum split {
    SPLIT_WHOLE,
    SPLIT_BYTES,
    SPLIT_RANDOM
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

static void drive(unsigned width, size_t max_len, const void *in, size_t len, enum split how,
                  uint32_t seed, twc_buf *log)
{
    struct twc_lenprefix_limits lim = {.max_len = max_len};
    const uint8_t *src = in;
    twc_lenprefix_parser lp;
    struct twc_lenprefix_event ev;
    size_t off = 0;
    bool dead = false;

    twc_buf_init(log, LOG_MAX);
    assert_int_equal(twc_lenprefix_parser_init(&lp, width, &lim), 0);
    while (off < len && !dead) {
        size_t n = len - off, c = 0;
        uint8_t *chunk;

        if (how == SPLIT_BYTES)
            n = 1;
        else if (how == SPLIT_RANDOM)
            n = 1 + rng_next(&seed) % (rng_next(&seed) % 4 == 0 ? n : (n < 8 ? n : 8));
        chunk = malloc(n); /* exact size: ASan flags any over-read */
        assert_non_null(chunk);
        memcpy(chunk, src + off, n);
        while (c < n) {
            ssize_t r = twc_lenprefix_parser_feed(&lp, chunk + c, n - c, &ev);

            if (r < 0) {
                assert_int_equal(twc_buf_printf(log, "E%zd", r), 0);
                assert_int_equal(twc_lenprefix_parser_feed(&lp, chunk, n, &ev), r);
                dead = true;
                break;
            }
            assert_in_range(r, 1, n - c);
            c += (size_t)r;
            if (ev.type == TWC_LENPREFIX_EV_FRAME) {
                assert_non_null(ev.payload.p);
                assert_int_equal(twc_buf_printf(log, "F%zu[", ev.payload.len), 0);
                assert_int_equal(twc_buf_append(log, ev.payload.p, ev.payload.len), 0);
                assert_int_equal(twc_buf_append(log, "]", 1), 0);
            } else {
                assert_int_equal(c, n);
            }
        }
        free(chunk);
        off += n;
    }
    assert_int_equal(twc_buf_printf(log, "#%s%s",
                                    twc_lenprefix_state_name(twc_lenprefix_parser_state(&lp)),
                                    twc_lenprefix_parser_idle(&lp) ? "" : "*"),
                     0);
    twc_lenprefix_parser_cleanup(&lp);
}

static void assert_same(const twc_buf *a, const twc_buf *b)
{
    if (twc_buf_len(a) != twc_buf_len(b) ||
        memcmp(twc_buf_data(a), twc_buf_data(b), twc_buf_len(a)) != 0)
        print_error("whole: %.*s\nsplit: %.*s\n", (int)twc_buf_len(a),
                    (const char *)twc_buf_data(a), (int)twc_buf_len(b),
                    (const char *)twc_buf_data(b));
    assert_int_equal(twc_buf_len(a), twc_buf_len(b));
    assert_memory_equal(twc_buf_data(a), twc_buf_data(b), twc_buf_len(a));
}

static void assert_log_is(const twc_buf *b, const char *expect)
{
    size_t n = strlen(expect);

    if (twc_buf_len(b) != n || memcmp(twc_buf_data(b), expect, n) != 0)
        print_error("got:  %.*s\nwant: %s\n", (int)twc_buf_len(b), (const char *)twc_buf_data(b),
                    expect);
    assert_int_equal(twc_buf_len(b), n);
    assert_memory_equal(twc_buf_data(b), expect, n);
}

static void check_all_splits(unsigned width, size_t max_len, const void *in, size_t len,
                             const char *expect)
{
    twc_buf whole, other;
    uint32_t seed;

    drive(width, max_len, in, len, SPLIT_WHOLE, 0, &whole);
    if (expect != NULL)
        assert_log_is(&whole, expect);
    drive(width, max_len, in, len, SPLIT_BYTES, 0, &other);
    assert_same(&whole, &other);
    twc_buf_cleanup(&other);
    for (seed = 1; seed <= RANDOM_SPLITS; seed++) {
        drive(width, max_len, in, len, SPLIT_RANDOM, seed * 2654435761u, &other);
        assert_same(&whole, &other);
        twc_buf_cleanup(&other);
    }
    twc_buf_cleanup(&whole);
}

#define CHECK(w, max, lit, expect) check_all_splits((w), (max), (lit), sizeof(lit) - 1, (expect))

static void test_lenprefix_int16_frames(void **state)
{
    (void)state;
    CHECK(2, 0, "\x00\x05hello\x00\x00\x00\x01x", "F5[hello]F0[]F1[x]#prefix");
    CHECK(2, 0, "", "#prefix");
    CHECK(2, 0, "\x00", "#prefix*");
    CHECK(2, 0,
          "\x00\x03"
          "ab",
          "#payload*");
    /* Big-endian: 0x0102 = 258 bytes announced. */
    CHECK(2, 0, "\x01\x02", "#payload*");
}

static void test_lenprefix_int32_and_int8_frames(void **state)
{
    (void)state;
    CHECK(4, 0, "\x00\x00\x00\x02hi\x00\x00\x00\x00", "F2[hi]F0[]#prefix");
    CHECK(4, 0, "\x00\x00\x00", "#prefix*");
    CHECK(1, 0,
          "\x03"
          "abc\x00\x01z",
          "F3[abc]F0[]F1[z]#prefix");
}

static void test_lenprefix_length_limits(void **state)
{
    (void)state;
    CHECK(2, 4,
          "\x00\x04"
          "abcd",
          "F4[abcd]#prefix");
    /* Over the limit fails on the prefix, before any payload byte. */
    CHECK(2, 4, "\x00\x05", "E-1001#failed*");
    CHECK(2, 4, "\x00\x01x\xff\xff", "F1[x]E-1001#failed*");
    /* The default limit (1 MiB) with a 32-bit prefix; 16 bits can never reach it. */
    CHECK(4, 0, "\x00\x10\x00\x00", "#payload*");
    CHECK(4, 0, "\x00\x10\x00\x01", "E-1001#failed*");
    CHECK(4, 0, "\xff\xff\xff\xff", "E-1001#failed*");
    CHECK(2, 0, "\xff\xff", "#payload*");
}

static void test_lenprefix_init_rejects_width(void **state)
{
    twc_lenprefix_parser lp;

    (void)state;
    assert_int_equal(twc_lenprefix_parser_init(&lp, 0, NULL), TWC_EINVAL);
    assert_int_equal(twc_lenprefix_parser_init(&lp, 3, NULL), TWC_EINVAL);
    assert_int_equal(twc_lenprefix_parser_init(&lp, 8, NULL), TWC_EINVAL);
    assert_int_equal(twc_lenprefix_parser_init(&lp, 4, NULL), 0);
    twc_lenprefix_parser_cleanup(&lp);
}

static void test_lenprefix_borrows_and_buffers(void **state)
{
    static const uint8_t in[] = {0, 3, 'a', 'b', 'c', 0, 2, 'd'};
    static const uint8_t rest[] = {'e'};
    struct twc_lenprefix_event ev;
    twc_lenprefix_parser lp;

    (void)state;
    assert_int_equal(twc_lenprefix_parser_init(&lp, 2, NULL), 0);
    assert_int_equal(twc_lenprefix_parser_feed(&lp, in, sizeof(in), &ev), 5);
    assert_int_equal(ev.type, TWC_LENPREFIX_EV_FRAME);
    assert_ptr_equal(ev.payload.p, in + 2);
    assert_int_equal(ev.payload.len, 3);
    assert_int_equal(twc_lenprefix_parser_feed(&lp, in + 5, 3, &ev), 3);
    assert_int_equal(ev.type, TWC_LENPREFIX_EV_NONE);
    assert_false(twc_lenprefix_parser_idle(&lp));
    assert_int_equal(twc_lenprefix_parser_feed(&lp, rest, 1, &ev), 1);
    assert_int_equal(ev.type, TWC_LENPREFIX_EV_FRAME);
    assert_int_equal(ev.payload.len, 2);
    assert_memory_equal(ev.payload.p, "de", 2);
    assert_true(twc_lenprefix_parser_idle(&lp));
    twc_lenprefix_parser_cleanup(&lp);
}

static void test_lenprefix_reset_after_failure(void **state)
{
    struct twc_lenprefix_limits lim = {.max_len = 1};
    struct twc_lenprefix_event ev;
    twc_lenprefix_parser lp;

    (void)state;
    assert_int_equal(twc_lenprefix_parser_init(&lp, 1, &lim), 0);
    assert_int_equal(twc_lenprefix_parser_feed(&lp, (const uint8_t *)"\x02", 1, &ev), TWC_ETOOBIG);
    assert_int_equal(twc_lenprefix_parser_feed(&lp, (const uint8_t *)"\x01x", 2, &ev), TWC_ETOOBIG);
    assert_int_equal(twc_lenprefix_parser_state(&lp), TWC_LENPREFIX_S_FAILED);
    twc_lenprefix_parser_reset(&lp);
    assert_int_equal(twc_lenprefix_parser_feed(&lp, (const uint8_t *)"\x01x", 2, &ev), 2);
    assert_int_equal(ev.type, TWC_LENPREFIX_EV_FRAME);
    assert_memory_equal(ev.payload.p, "x", 1);
    twc_lenprefix_parser_cleanup(&lp);
}

static void test_lenprefix_encode(void **state)
{
    static uint8_t big[65536];
    twc_buf out, small;

    (void)state;
    twc_buf_init(&out, 1 << 20);
    assert_int_equal(twc_lenprefix_encode(&out, 2, "hello", 5), 0);
    assert_int_equal(twc_lenprefix_encode(&out, 4, "hi", 2), 0);
    assert_int_equal(twc_lenprefix_encode(&out, 1, NULL, 0), 0);
    assert_int_equal(twc_buf_len(&out), 7 + 6 + 1);
    assert_memory_equal(twc_buf_data(&out), "\x00\x05hello\x00\x00\x00\x02hi\x00", 14);
    twc_buf_reset(&out);
    /* Lengths the prefix cannot carry. */
    assert_int_equal(twc_lenprefix_encode(&out, 2, big, 65536), TWC_ETOOBIG);
    assert_int_equal(twc_lenprefix_encode(&out, 1, big, 256), TWC_ETOOBIG);
    assert_int_equal(twc_lenprefix_encode(&out, 3, big, 1), TWC_EINVAL);
    assert_int_equal(twc_buf_len(&out), 0);
    assert_int_equal(twc_lenprefix_encode(&out, 2, big, 65535), 0);
    assert_int_equal(twc_buf_len(&out), 65537);
    assert_memory_equal(twc_buf_data(&out), "\xff\xff", 2);
    twc_buf_cleanup(&out);
    /* All or nothing against the buffer's own maximum. */
    twc_buf_init(&small, 6);
    assert_int_equal(twc_lenprefix_encode(&small, 2, "ab", 2), 0);
    assert_int_equal(twc_lenprefix_encode(&small, 2, "ab", 2), TWC_ETOOBIG);
    assert_int_equal(twc_buf_len(&small), 4);
    twc_buf_cleanup(&small);
}

static void test_lenprefix_random_roundtrip(void **state)
{
    static const unsigned widths[] = {1, 2, 4};
    uint32_t seed = 31337;
    uint8_t payload[255];
    twc_buf wire, expect, whole;
    size_t w, round, k, i;

    (void)state;
    for (w = 0; w < 3; w++) {
        for (round = 0; round < 30; round++) {
            size_t count = rng_next(&seed) % 6;

            twc_buf_init(&wire, 1 << 20);
            twc_buf_init(&expect, 1 << 20);
            for (k = 0; k < count; k++) {
                size_t n = rng_next(&seed) % sizeof(payload);

                for (i = 0; i < n; i++)
                    payload[i] = (uint8_t)rng_next(&seed);
                assert_int_equal(twc_lenprefix_encode(&wire, widths[w], payload, n), 0);
                assert_int_equal(twc_buf_printf(&expect, "F%zu[", n), 0);
                assert_int_equal(twc_buf_append(&expect, payload, n), 0);
                assert_int_equal(twc_buf_append(&expect, "]", 1), 0);
            }
            assert_int_equal(twc_buf_printf(&expect, "#prefix"), 0);
            check_all_splits(widths[w], 0, twc_buf_data(&wire), twc_buf_len(&wire), NULL);
            drive(widths[w], 0, twc_buf_data(&wire), twc_buf_len(&wire), SPLIT_WHOLE, 0, &whole);
            assert_same(&expect, &whole);
            twc_buf_cleanup(&whole);
            twc_buf_cleanup(&wire);
            twc_buf_cleanup(&expect);
        }
    }
}

static void test_lenprefix_random_garbage_agrees(void **state)
{
    static const unsigned widths[] = {1, 2, 4};
    uint32_t seed = 99;
    uint8_t in[64];
    size_t round, i;

    (void)state;
    for (round = 0; round < 300; round++) {
        size_t len = rng_next(&seed) % sizeof(in);

        for (i = 0; i < len; i++)
            in[i] = (uint8_t)(rng_next(&seed) % 8); /* small lengths: many frames */
        check_all_splits(widths[round % 3], 1 + rng_next(&seed) % 8, in, len, NULL);
    }
}

static void on_trace(void *arg, const char *parser, const char *from, const char *to)
{
    twc_buf *t = arg;

    assert_int_equal(twc_buf_printf(t, "%s:%s>%s ", parser, from, to), 0);
}

static void test_lenprefix_trace_transitions(void **state)
{
    struct twc_lenprefix_limits lim = {.max_len = 2};
    struct twc_lenprefix_event ev;
    twc_lenprefix_parser lp;
    twc_buf t;

    (void)state;
    twc_buf_init(&t, 1024);
    assert_int_equal(twc_lenprefix_parser_init(&lp, 1, &lim), 0);
    twc_lenprefix_parser_set_trace(&lp, on_trace, &t);
    assert_int_equal(twc_lenprefix_parser_feed(&lp, (const uint8_t *)"\x01x\x03", 3, &ev), 2);
    assert_int_equal(twc_lenprefix_parser_feed(&lp, (const uint8_t *)"\x03", 1, &ev), TWC_ETOOBIG);
    assert_int_equal(twc_buf_append(&t, "", 1), 0);
    assert_string_equal(
        (const char *)twc_buf_data(&t),
        "lenprefix:prefix>payload lenprefix:payload>prefix lenprefix:prefix>failed ");
    assert_string_equal(twc_lenprefix_state_name((enum twc_lenprefix_state)7), "unknown");
    twc_lenprefix_parser_cleanup(&lp);
    twc_buf_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenprefix_int16_frames),
        cmocka_unit_test(test_lenprefix_int32_and_int8_frames),
        cmocka_unit_test(test_lenprefix_length_limits),
        cmocka_unit_test(test_lenprefix_init_rejects_width),
        cmocka_unit_test(test_lenprefix_borrows_and_buffers),
        cmocka_unit_test(test_lenprefix_reset_after_failure),
        cmocka_unit_test(test_lenprefix_encode),
        cmocka_unit_test(test_lenprefix_random_roundtrip),
        cmocka_unit_test(test_lenprefix_random_garbage_agrees),
        cmocka_unit_test(test_lenprefix_trace_transitions),
    };
    return cmocka_run_group_tests_name("lenprefix", tests, NULL, NULL);
}
