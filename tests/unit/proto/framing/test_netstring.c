/*
 * Unit tests for proto/framing/netstring.c: parser and encoder.
 *
 * drive() feeds an input whole, one byte at a time, or in seeded random splits
 * (each chunk an exact-size heap copy, so ASan catches over-reads) and logs the
 * events: S<len>[payload]  E<code>  and, last, #<state> ("*" when not idle).
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
#include "proto/framing/netstring.h"

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

static void drive(size_t max_len, const void *in, size_t len, enum split how, uint32_t seed,
                  twc_buf *log)
{
    struct twc_netstring_limits lim = {.max_len = max_len};
    const uint8_t *src = in;
    twc_netstring_parser np;
    struct twc_netstring_event ev;
    size_t off = 0;
    bool dead = false;

    twc_buf_init(log, LOG_MAX);
    twc_netstring_parser_init(&np, &lim);
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
            ssize_t r = twc_netstring_parser_feed(&np, chunk + c, n - c, &ev);

            if (r < 0) {
                assert_int_equal(twc_buf_printf(log, "E%zd", r), 0);
                /* Sticky: the same code again, whatever comes next. */
                assert_int_equal(twc_netstring_parser_feed(&np, chunk, n, &ev), r);
                dead = true;
                break;
            }
            assert_in_range(r, 1, n - c);
            c += (size_t)r;
            if (ev.type == TWC_NETSTRING_EV_STRING) {
                assert_non_null(ev.payload.p);
                assert_int_equal(twc_buf_printf(log, "S%zu[", ev.payload.len), 0);
                assert_int_equal(twc_buf_append(log, ev.payload.p, ev.payload.len), 0);
                assert_int_equal(twc_buf_append(log, "]", 1), 0);
            } else {
                /* No event means everything offered was used. */
                assert_int_equal(c, n);
            }
        }
        free(chunk);
        off += n;
    }
    assert_int_equal(twc_buf_printf(log, "#%s%s",
                                    twc_netstring_state_name(twc_netstring_parser_state(&np)),
                                    twc_netstring_parser_idle(&np) ? "" : "*"),
                     0);
    twc_netstring_parser_cleanup(&np);
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

static void check_all_splits(size_t max_len, const void *in, size_t len, const char *expect)
{
    twc_buf whole, other;
    uint32_t seed;

    drive(max_len, in, len, SPLIT_WHOLE, 0, &whole);
    if (expect != NULL)
        assert_log_is(&whole, expect);
    drive(max_len, in, len, SPLIT_BYTES, 0, &other);
    assert_same(&whole, &other);
    twc_buf_cleanup(&other);
    for (seed = 1; seed <= RANDOM_SPLITS; seed++) {
        drive(max_len, in, len, SPLIT_RANDOM, seed * 2654435761u, &other);
        assert_same(&whole, &other);
        twc_buf_cleanup(&other);
    }
    twc_buf_cleanup(&whole);
}

#define CHECK(max, lit, expect) check_all_splits((max), (lit), sizeof(lit) - 1, (expect))

static void test_netstring_valid(void **state)
{
    (void)state;
    CHECK(0, "12:hello world!,", "S12[hello world!]#length");
    CHECK(0, "0:,3:a,b,1:,,", "S0[]S3[a,b]S1[,]#length");
    CHECK(0, "", "#length");
    /* Payloads are bytes: ':' and digits included. */
    CHECK(0, "4:\x01:9,,", "S4[\x01:9,]#length");
}

static void test_netstring_incomplete(void **state)
{
    (void)state;
    CHECK(0, "1", "#length*");
    CHECK(0, "12:hello", "#payload*");
    CHECK(0, "5:hello", "#comma*");
    CHECK(0, "0:", "#comma*");
    CHECK(0, "3:abc,4", "S3[abc]#length*");
}

static void test_netstring_rejects_leading_zero(void **state)
{
    (void)state;
    CHECK(0, "01:a,", "E-1000#failed*");
    CHECK(0, "00:,", "E-1000#failed*");
    CHECK(0, "1:a,007:abcdefg,", "S1[a]E-1000#failed*");
    CHECK(0, "10:abcdefghij,", "S10[abcdefghij]#length");
}

static void test_netstring_rejects_non_digits(void **state)
{
    (void)state;
    CHECK(0, ":,", "E-1000#failed*");
    CHECK(0, "a:", "E-1000#failed*");
    CHECK(0, "1a:b,", "E-1000#failed*");
    CHECK(0, " 1:a,", "E-1000#failed*");
    CHECK(0, "+1:a,", "E-1000#failed*");
    CHECK(0, "-1:a,", "E-1000#failed*");
    CHECK(0, "1 :a,", "E-1000#failed*");
}

static void test_netstring_requires_comma(void **state)
{
    (void)state;
    CHECK(0, "3:abcd", "E-1000#failed*");
    CHECK(0, "3:abc;", "E-1000#failed*");
    CHECK(0, "0:;", "E-1000#failed*");
    CHECK(0, "2:ab,2:cd\n", "S2[ab]E-1000#failed*");
}

static void test_netstring_length_limits(void **state)
{
    (void)state;
    CHECK(10, "10:0123456789,", "S10[0123456789]#length");
    /* Over the limit fails at the digit that proves it, before ':' arrives. */
    CHECK(10, "11", "E-1001#failed*");
    CHECK(10, "100", "E-1001#failed*");
    /* Digits that would overflow 64 bits, with no limit to speak of. */
    CHECK(SIZE_MAX, "99999999999999999999999:", "E-1001#failed*");
    CHECK(SIZE_MAX, "18446744073709551615", "#length*");
    CHECK(SIZE_MAX, "18446744073709551616", "E-1001#failed*");
    /* The default limit. */
    CHECK(0, "1048576:", "#payload*");
    CHECK(0, "1048577:", "E-1001#failed*");
}

static void test_netstring_large_payload_split(void **state)
{
    size_t n = 100000;
    twc_buf in, whole, bytes;

    (void)state;
    twc_buf_init(&in, n + 32);
    assert_int_equal(twc_buf_printf(&in, "%zu:", n), 0);
    while (twc_buf_len(&in) < n + 7)
        assert_int_equal(twc_buf_append(&in, "x", 1), 0);
    assert_int_equal(twc_buf_append(&in, ",", 1), 0);
    drive(0, twc_buf_data(&in), twc_buf_len(&in), SPLIT_WHOLE, 0, &whole);
    drive(0, twc_buf_data(&in), twc_buf_len(&in), SPLIT_RANDOM, 99, &bytes);
    assert_same(&whole, &bytes);
    assert_memory_equal(twc_buf_data(&whole), "S100000[xxx", 11);
    twc_buf_cleanup(&whole);
    twc_buf_cleanup(&bytes);
    twc_buf_cleanup(&in);
}

static void test_netstring_borrows_whole_input(void **state)
{
    static const uint8_t in[] = "5:hello,3:ab";
    static const uint8_t rest[] = "c,";
    struct twc_netstring_event ev;
    twc_netstring_parser np;

    (void)state;
    twc_netstring_parser_init(&np, NULL);
    assert_int_equal(twc_netstring_parser_feed(&np, in, sizeof(in) - 1, &ev), 8);
    assert_int_equal(ev.type, TWC_NETSTRING_EV_STRING);
    assert_ptr_equal(ev.payload.p, in + 2);
    assert_int_equal(twc_netstring_parser_feed(&np, in + 8, 4, &ev), 4);
    assert_int_equal(ev.type, TWC_NETSTRING_EV_NONE);
    assert_false(twc_netstring_parser_idle(&np));
    /* Split payload: it comes from the parser's buffer. */
    assert_int_equal(twc_netstring_parser_feed(&np, rest, 2, &ev), 2);
    assert_int_equal(ev.type, TWC_NETSTRING_EV_STRING);
    assert_int_equal(ev.payload.len, 3);
    assert_memory_equal(ev.payload.p, "abc", 3);
    assert_true(twc_netstring_parser_idle(&np));
    twc_netstring_parser_cleanup(&np);
}

static void test_netstring_reset_after_failure(void **state)
{
    struct twc_netstring_event ev;
    twc_netstring_parser np;

    (void)state;
    twc_netstring_parser_init(&np, NULL);
    assert_int_equal(twc_netstring_parser_feed(&np, (const uint8_t *)"x", 1, &ev), TWC_EPROTO);
    assert_int_equal(twc_netstring_parser_feed(&np, (const uint8_t *)"1:a,", 4, &ev), TWC_EPROTO);
    assert_int_equal(twc_netstring_parser_state(&np), TWC_NETSTRING_S_FAILED);
    twc_netstring_parser_reset(&np);
    assert_int_equal(twc_netstring_parser_feed(&np, (const uint8_t *)"1:a,", 4, &ev), 4);
    assert_int_equal(ev.type, TWC_NETSTRING_EV_STRING);
    assert_memory_equal(ev.payload.p, "a", 1);
    twc_netstring_parser_cleanup(&np);
}

static void test_netstring_encode(void **state)
{
    twc_buf out, small;

    (void)state;
    twc_buf_init(&out, 1024);
    assert_int_equal(twc_netstring_encode(&out, "hello world!", 12), 0);
    assert_int_equal(twc_netstring_encode(&out, NULL, 0), 0);
    assert_int_equal(twc_buf_len(&out), 19);
    assert_memory_equal(twc_buf_data(&out), "12:hello world!,0:,", 19);
    twc_buf_cleanup(&out);
    /* All or nothing: a netstring that does not fit leaves the buffer alone. */
    twc_buf_init(&small, 8);
    assert_int_equal(twc_netstring_encode(&small, "ab", 2), 0);
    assert_int_equal(twc_netstring_encode(&small, "abc", 3), TWC_ETOOBIG);
    assert_int_equal(twc_buf_len(&small), 5);
    assert_memory_equal(twc_buf_data(&small), "2:ab,", 5);
    twc_buf_cleanup(&small);
}

static void test_netstring_random_roundtrip(void **state)
{
    uint32_t seed = 777;
    uint8_t payload[300];
    twc_buf wire, expect, whole;
    size_t round, k, i;

    (void)state;
    for (round = 0; round < 40; round++) {
        size_t count = rng_next(&seed) % 6;

        twc_buf_init(&wire, 1 << 20);
        twc_buf_init(&expect, 1 << 20);
        for (k = 0; k < count; k++) {
            size_t n = rng_next(&seed) % sizeof(payload);

            for (i = 0; i < n; i++)
                payload[i] = (uint8_t)rng_next(&seed);
            assert_int_equal(twc_netstring_encode(&wire, payload, n), 0);
            assert_int_equal(twc_buf_printf(&expect, "S%zu[", n), 0);
            assert_int_equal(twc_buf_append(&expect, payload, n), 0);
            assert_int_equal(twc_buf_append(&expect, "]", 1), 0);
        }
        assert_int_equal(twc_buf_printf(&expect, "#length"), 0);
        check_all_splits(0, twc_buf_data(&wire), twc_buf_len(&wire), NULL);
        drive(0, twc_buf_data(&wire), twc_buf_len(&wire), SPLIT_WHOLE, 0, &whole);
        assert_same(&expect, &whole);
        twc_buf_cleanup(&whole);
        twc_buf_cleanup(&wire);
        twc_buf_cleanup(&expect);
    }
}

static void test_netstring_random_garbage_agrees(void **state)
{
    static const char alphabet[] = "0123:,ab";
    uint32_t seed = 4242;
    char in[64];
    size_t round, i;

    (void)state;
    for (round = 0; round < 300; round++) {
        size_t len = rng_next(&seed) % sizeof(in);

        for (i = 0; i < len; i++)
            in[i] = alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
        check_all_splits(rng_next(&seed) % 40, in, len, NULL);
    }
}

static void on_trace(void *arg, const char *parser, const char *from, const char *to)
{
    twc_buf *t = arg;

    assert_int_equal(twc_buf_printf(t, "%s:%s>%s ", parser, from, to), 0);
}

static void test_netstring_trace_transitions(void **state)
{
    struct twc_netstring_event ev;
    twc_netstring_parser np;
    twc_buf t;

    (void)state;
    twc_buf_init(&t, 1024);
    twc_netstring_parser_init(&np, NULL);
    twc_netstring_parser_set_trace(&np, on_trace, &t);
    assert_int_equal(twc_netstring_parser_feed(&np, (const uint8_t *)"1:a", 3, &ev), 3);
    assert_int_equal(twc_netstring_parser_feed(&np, (const uint8_t *)",x", 2, &ev), 1);
    assert_int_equal(twc_netstring_parser_feed(&np, (const uint8_t *)"x", 1, &ev), TWC_EPROTO);
    assert_int_equal(twc_buf_append(&t, "", 1), 0);
    assert_string_equal((const char *)twc_buf_data(&t),
                        "netstring:length>payload netstring:payload>comma "
                        "netstring:comma>length netstring:length>failed ");
    assert_string_equal(twc_netstring_state_name((enum twc_netstring_state)9), "unknown");
    twc_netstring_parser_cleanup(&np);
    twc_buf_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netstring_valid),
        cmocka_unit_test(test_netstring_incomplete),
        cmocka_unit_test(test_netstring_rejects_leading_zero),
        cmocka_unit_test(test_netstring_rejects_non_digits),
        cmocka_unit_test(test_netstring_requires_comma),
        cmocka_unit_test(test_netstring_length_limits),
        cmocka_unit_test(test_netstring_large_payload_split),
        cmocka_unit_test(test_netstring_borrows_whole_input),
        cmocka_unit_test(test_netstring_reset_after_failure),
        cmocka_unit_test(test_netstring_encode),
        cmocka_unit_test(test_netstring_random_roundtrip),
        cmocka_unit_test(test_netstring_random_garbage_agrees),
        cmocka_unit_test(test_netstring_trace_transitions),
    };
    return cmocka_run_group_tests_name("netstring", tests, NULL, NULL);
}
