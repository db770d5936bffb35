/* Unit tests for lib/buf.c: bounded growth, lazy compaction, parsing helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"
#include "err.h"

static void test_buf_append_and_consume(void **state)
{
    twc_buf b;

    (void)state;
    twc_buf_init(&b, 64);
    assert_int_equal(twc_buf_len(&b), 0);
    assert_null(twc_buf_data(&b));
    assert_int_equal(twc_buf_append(&b, "hello ", 6), 0);
    assert_int_equal(twc_buf_append(&b, "world", 5), 0);
    assert_int_equal(twc_buf_len(&b), 11);
    assert_memory_equal(twc_buf_data(&b), "hello world", 11);
    twc_buf_consume(&b, 6);
    assert_int_equal(twc_buf_len(&b), 5);
    assert_memory_equal(twc_buf_data(&b), "world", 5);
    twc_buf_consume(&b, 5);
    assert_int_equal(twc_buf_len(&b), 0);
    /* Emptying gives the memory back: idle holders cost nothing. */
    assert_null(b.mem);
    twc_buf_cleanup(&b);
}

static void test_buf_max_enforced(void **state)
{
    twc_buf b;
    char big[100];

    (void)state;
    memset(big, 'x', sizeof(big));
    twc_buf_init(&b, 10);
    assert_int_equal(twc_buf_append(&b, big, 10), 0);
    assert_int_equal(twc_buf_append(&b, big, 1), TWC_ETOOBIG);
    assert_int_equal(twc_buf_len(&b), 10);
    twc_buf_consume(&b, 4);
    /* Consumed space counts again: the limit is on unconsumed bytes. */
    assert_int_equal(twc_buf_append(&b, big, 4), 0);
    assert_int_equal(twc_buf_len(&b), 10);
    assert_int_equal(twc_buf_append(&b, big, SIZE_MAX), TWC_ETOOBIG);
    twc_buf_cleanup(&b);
}

static void test_buf_compaction_keeps_bytes(void **state)
{
    twc_buf b;
    uint8_t in[4096], out[4096];
    size_t i, have = 0, got = 0;

    (void)state;
    for (i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 3);
    twc_buf_init(&b, 512);
    /* Interleave appends and consumes so the window slides through the allocation. */
    while (got < sizeof(in)) {
        size_t n = sizeof(in) - have < 100 ? sizeof(in) - have : 100;
        if (n > 0 && twc_buf_len(&b) + n <= 512) {
            assert_int_equal(twc_buf_append(&b, in + have, n), 0);
            have += n;
        }
        size_t c = twc_buf_len(&b) < 37 ? twc_buf_len(&b) : 37;
        memcpy(out + got, twc_buf_data(&b), c);
        twc_buf_consume(&b, c);
        got += c;
    }
    assert_memory_equal(in, out, sizeof(in));
    assert_true(b.cap <= 512);
    twc_buf_cleanup(&b);
}

static void test_buf_reserve_commit(void **state)
{
    twc_buf b;
    uint8_t *p;
    int rc;

    (void)state;
    twc_buf_init(&b, 1000);
    p = twc_buf_reserve(&b, 100, &rc);
    assert_non_null(p);
    assert_int_equal(rc, 0);
    memcpy(p, "abc", 3);
    twc_buf_commit(&b, 3);
    assert_int_equal(twc_buf_len(&b), 3);
    assert_memory_equal(twc_buf_data(&b), "abc", 3);
    p = twc_buf_reserve(&b, 998, &rc);
    assert_null(p);
    assert_int_equal(rc, TWC_ETOOBIG);
    twc_buf_cleanup(&b);
}

static void test_buf_printf(void **state)
{
    twc_buf b;
    char longs[600];

    (void)state;
    memset(longs, 'y', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    twc_buf_init(&b, 4096);
    assert_int_equal(twc_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_int_equal(twc_buf_len(&b), 4);
    assert_memory_equal(twc_buf_data(&b), "42-x", 4);
    assert_int_equal(twc_buf_printf(&b, "%s", longs), 0);
    assert_int_equal(twc_buf_len(&b), 4 + 599);
    assert_memory_equal(twc_buf_data(&b) + 4, longs, 599);
    twc_buf_cleanup(&b);
    twc_buf_init(&b, 8);
    assert_int_equal(twc_buf_printf(&b, "%s", "123456789"), TWC_ETOOBIG);
    twc_buf_cleanup(&b);
}

static void test_buf_parse_u64(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(twc_parse_u64("123", 3, 0, 1000, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(twc_parse_u64("18446744073709551615", 20, 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(twc_parse_u64("18446744073709551616", 20, 0, UINT64_MAX, &v), TWC_EINVAL);
    assert_int_equal(twc_parse_u64("", 0, 0, 10, &v), TWC_EINVAL);
    assert_int_equal(twc_parse_u64("-1", 2, 0, 10, &v), TWC_EINVAL);
    assert_int_equal(twc_parse_u64("+1", 2, 0, 10, &v), TWC_EINVAL);
    assert_int_equal(twc_parse_u64(" 1", 2, 0, 10, &v), TWC_EINVAL);
    assert_int_equal(twc_parse_u64("11", 2, 0, 10, &v), TWC_EINVAL);
    assert_int_equal(twc_parse_u64("4", 1, 5, 10, &v), TWC_EINVAL);
    /* Only len bytes are read, whatever follows. */
    assert_int_equal(twc_parse_u64("65536x", 5, 0, 65535, &v), TWC_EINVAL);
    assert_int_equal(twc_parse_u64("65535x", 5, 0, 65535, &v), 0);
    assert_int_equal(v, 65535);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_and_consume),
        cmocka_unit_test(test_buf_max_enforced),
        cmocka_unit_test(test_buf_compaction_keeps_bytes),
        cmocka_unit_test(test_buf_reserve_commit),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_parse_u64),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
