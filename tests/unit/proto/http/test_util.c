/*
 * Unit tests for proto/http/util.c: list values, percent-decoding, path
 * normalisation, Range, entity tags and HTTP-date parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "limits.h"
#include "proto/http/http.h"

/* ---- Lists. ---- */

static void test_util_list_next_elements(void **state)
{
    const char *v = " a, ,b ;q=1 ,\t\"x,y\" , c,";
    size_t pos = 0;
    twc_slice e;
    char got[128] = "";

    (void)state;
    while (twc_http_list_next((const uint8_t *)v, strlen(v), &pos, &e)) {
        strncat(got, "[", sizeof(got) - strlen(got) - 1);
        strncat(got, (const char *)e.p, e.len < sizeof(got) - strlen(got) - 1 ? e.len : 0);
        strncat(got, "]", sizeof(got) - strlen(got) - 1);
    }
    assert_string_equal(got, "[a][b ;q=1][\"x,y\"][c]");
    assert_int_equal(pos, strlen(v));
    pos = 0;
    assert_false(twc_http_list_next((const uint8_t *)" , ,", 4, &pos, &e));
}

static void test_util_list_has(void **state)
{
    const char *v = "Keep-Alive, Upgrade;x=1, foo";

    (void)state;
    assert_true(twc_http_list_has((const uint8_t *)v, strlen(v), "keep-alive"));
    assert_true(twc_http_list_has((const uint8_t *)v, strlen(v), "upgrade"));
    assert_true(twc_http_list_has((const uint8_t *)v, strlen(v), "FOO"));
    assert_false(twc_http_list_has((const uint8_t *)v, strlen(v), "close"));
    assert_false(twc_http_list_has((const uint8_t *)v, strlen(v), "keep"));
    assert_true(twc_http_slice_eq((twc_slice){(const uint8_t *)"Chunked", 7}, "chunked"));
    assert_false(twc_http_slice_eq((twc_slice){(const uint8_t *)"chunke", 6}, "chunked"));
}

/* ---- Percent-decoding and paths. ---- */

static void test_util_pct_decode(void **state)
{
    char out[64];
    size_t n;

    (void)state;
    assert_int_equal(twc_http_pct_decode("a%20b%2fc%41+", 13, out, &n, false), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "a b/cA+", 7);
    assert_int_equal(twc_http_pct_decode("%2F", 3, out, &n, true), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("%2f", 3, out, &n, true), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("%00", 3, out, &n, true), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("a\0b", 3, out, &n, true), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("%00", 3, out, &n, false), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(twc_http_pct_decode("%", 1, out, &n, false), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("%4", 2, out, &n, false), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("%zz", 3, out, &n, false), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("ab%", 3, out, &n, false), TWC_EINVAL);
    assert_int_equal(twc_http_pct_decode("", 0, out, &n, false), 0);
    assert_int_equal(n, 0);
}

static void expect_path(const char *in, const char *want)
{
    char out[256];
    size_t n = 999;

    assert_int_equal(twc_http_path_normalize(in, strlen(in), out, &n), 0);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void expect_path_refused(const char *in)
{
    char out[256];
    size_t n;

    assert_int_equal(twc_http_path_normalize(in, strlen(in), out, &n), TWC_EINVAL);
}

static void test_util_path_normalize(void **state)
{
    (void)state;
    expect_path("/", "/");
    expect_path("/a/b/c", "/a/b/c");
    expect_path("/a/b/", "/a/b/");
    expect_path("/a/./b", "/a/b");
    expect_path("/a/b/.", "/a/b/");
    expect_path("/a/b/..", "/a/");
    expect_path("/a/b/../c", "/a/c");
    expect_path("/a/b/../../../x", "/x");
    expect_path("/../../etc/passwd", "/etc/passwd");
    expect_path("/..", "/");
    expect_path("/.", "/");
    expect_path("/a/%2e%2e/%2E%2E/b", "/b");
    expect_path("/a/.../b", "/a/.../b");
    expect_path("/a/..b/c", "/a/..b/c");
    expect_path("/a//b", "/a//b");
    expect_path("/docs/file%20name.txt?q=/../x#frag", "/docs/file name.txt");
    expect_path("/%7Euser/", "/~user/");
    /* RFC 3986 §5.4.2 examples, as paths. */
    expect_path("/b/c/./../../g", "/g");
    expect_path("/b/c/g;x=1/./y", "/b/c/g;x=1/y");
    expect_path("/b/c/g;x=1/../y", "/b/c/y");
}

static void test_util_path_refusals(void **state)
{
    (void)state;
    expect_path_refused("/a%2fb");
    expect_path_refused("/a%2F..%2F..%2Fetc");
    expect_path_refused("/a%00b");
    expect_path_refused("/bad%zz");
    expect_path_refused("/trunc%2");
    expect_path_refused("a/b");
    expect_path_refused("");
    expect_path_refused("?x");
    expect_path_refused("http://h/x");
    {
        char out[8];
        size_t n;

        assert_int_equal(twc_http_path_normalize("/a\0b", 4, out, &n), TWC_EINVAL);
    }
}

/* ---- Range. ---- */

static enum twc_http_range_result range(const char *v, uint64_t size, struct twc_http_range *r,
                                        size_t *n)
{
    return twc_http_range_parse(v, strlen(v), size, r, 8, n);
}

static void test_util_range_single(void **state)
{
    struct twc_http_range r[8];
    size_t n;

    (void)state;
    assert_int_equal(range("bytes=0-499", 10000, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].first, 0);
    assert_int_equal(r[0].last, 499);
    assert_int_equal(range("bytes=-500", 10000, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].first, 9500);
    assert_int_equal(r[0].last, 9999);
    assert_int_equal(range("bytes=9500-", 10000, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].first, 9500);
    assert_int_equal(r[0].last, 9999);
    /* Clamped at the end; a suffix longer than the file is the whole file. */
    assert_int_equal(range("bytes=500-99999", 1000, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(r[0].first, 500);
    assert_int_equal(r[0].last, 999);
    assert_int_equal(range("bytes=-5000", 1000, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(r[0].first, 0);
    assert_int_equal(r[0].last, 999);
    assert_int_equal(range("Bytes = 0-0", 10, r, &n), TWC_HTTP_RANGE_IGNORE);
    assert_int_equal(range("BYTES=0-0", 10, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(r[0].last, 0);
}

static void test_util_range_multiple(void **state)
{
    struct twc_http_range r[8];
    size_t n;

    (void)state;
    assert_int_equal(range("bytes=0-99, 200-299 ,-10", 1000, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].first, 0);
    assert_int_equal(r[0].last, 99);
    assert_int_equal(r[1].first, 200);
    assert_int_equal(r[1].last, 299);
    assert_int_equal(r[2].first, 990);
    assert_int_equal(r[2].last, 999);
    /* Unsatisfiable members are dropped when another one is satisfiable. */
    assert_int_equal(range("bytes=5000-6000,10-19", 1000, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].first, 10);
    /* More than max ranges: ignored (RFC 9110 §14.2 allows it). */
    assert_int_equal(range("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8", 100, r, &n),
                     TWC_HTTP_RANGE_IGNORE);
    assert_int_equal(range("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7", 100, r, &n), TWC_HTTP_RANGE_OK);
    assert_int_equal(n, 8);
}

static void test_util_range_unsatisfiable(void **state)
{
    struct twc_http_range r[8];
    size_t n = 7;

    (void)state;
    assert_int_equal(range("bytes=10000-", 10000, r, &n), TWC_HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(n, 0);
    assert_int_equal(range("bytes=20000-30000", 10000, r, &n), TWC_HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=-0", 10000, r, &n), TWC_HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=0-", 0, r, &n), TWC_HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=-10", 0, r, &n), TWC_HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(range("bytes=100-200,300-", 50, r, &n), TWC_HTTP_RANGE_UNSATISFIABLE);
}

static void test_util_range_malformed_is_ignored(void **state)
{
    static const char *const bad[] = {
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "items=0-1",
        "bytes=a-b",
        "bytes=1",
        "bytes=-",
        "bytes=5-4",
        "bytes=0-1;x",
        "bytes=0-1 2",
        "bytes=--1",
        "bytes=0-99999999999999999999",
        "bytes=1-2,x",
    };
    struct twc_http_range r[8];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (range(bad[i], 1000, r, &n) != TWC_HTTP_RANGE_IGNORE)
            print_message("case: %s\n", bad[i]);
        assert_int_equal(range(bad[i], 1000, r, &n), TWC_HTTP_RANGE_IGNORE);
    }
}

/* ---- Entity tags. ---- */

static int match(const char *list, const char *etag, bool weak)
{
    return twc_http_etag_match(list, strlen(list), etag, strlen(etag), weak);
}

static void test_util_etag_match(void **state)
{
    (void)state;
    assert_int_equal(match("\"abc\"", "\"abc\"", true), 1);
    assert_int_equal(match("\"abc\"", "\"abd\"", true), 0);
    assert_int_equal(match("\"x\", W/\"abc\" , \"y\"", "\"abc\"", true), 1);
    assert_int_equal(match("\"x\", W/\"abc\"", "W/\"abc\"", true), 1);
    /* Strong comparison never matches weak tags (RFC 9110 §8.8.3.2). */
    assert_int_equal(match("W/\"abc\"", "\"abc\"", false), 0);
    assert_int_equal(match("\"abc\"", "W/\"abc\"", false), 0);
    assert_int_equal(match("\"abc\"", "\"abc\"", false), 1);
    assert_int_equal(match("*", "\"anything\"", true), 1);
    assert_int_equal(match(" * ", "\"anything\"", false), 1);
    assert_int_equal(match("\"\"", "\"\"", true), 1);
    assert_int_equal(match("\"a,b\"", "\"a,b\"", true), 1);
}

static void test_util_etag_malformed(void **state)
{
    (void)state;
    assert_int_equal(match("abc", "\"abc\"", true), TWC_EINVAL);
    assert_int_equal(match("\"abc", "\"abc\"", true), TWC_EINVAL);
    assert_int_equal(match("\"a\" \"b\"", "\"a\"", true), TWC_EINVAL);
    assert_int_equal(match("", "\"a\"", true), TWC_EINVAL);
    assert_int_equal(match("*, \"a\"", "\"a\"", true), TWC_EINVAL);
    assert_int_equal(match("w/\"a\"", "\"a\"", true), TWC_EINVAL);
    assert_int_equal(match("\"a b\"", "\"a b\"", true), TWC_EINVAL);
    assert_int_equal(match("\"a\"", "a", true), TWC_EINVAL);
}

/* ---- HTTP-date. ---- */

#define NOW_2026 ((time_t)1795000000) /* 2026-11-18 */

static time_t parse_date(const char *s)
{
    time_t t = -1;

    assert_int_equal(twc_http_date_parse(s, strlen(s), NOW_2026, &t), 0);
    return t;
}

static void test_util_date_parse_three_formats(void **state)
{
    (void)state;
    /* RFC 9110 §5.6.7's example: 784111777. */
    assert_int_equal(parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    assert_int_equal(parse_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    assert_int_equal(parse_date("Sun Nov  6 08:49:37 1994"), 784111777);
    assert_int_equal(parse_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    assert_int_equal(parse_date("Thu Jan 01 00:00:00 1970"), 0);
    assert_int_equal(parse_date("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799);
    /* RFC 850 two-digit years: more than 50 years ahead means last century. */
    assert_int_equal(parse_date("Monday, 01-Jan-24 00:00:00 GMT"), 1704067200);
    assert_int_equal(parse_date("Friday, 01-Jan-77 00:00:00 GMT"), 220924800);
}

static void test_util_date_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Funday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94  ",
        "1994-11-06T08:49:37Z",
    };
    size_t i;
    time_t t;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (twc_http_date_parse(bad[i], strlen(bad[i]), NOW_2026, &t) != TWC_EINVAL)
            print_message("case: %s\n", bad[i]);
        assert_int_equal(twc_http_date_parse(bad[i], strlen(bad[i]), NOW_2026, &t), TWC_EINVAL);
    }
}

static void test_util_date_round_trip(void **state)
{
    static const time_t times[] = {0,          784111777,  951868799,  951868800,
                                   1700000000, 2147483647, 4102444800, 253402300799};
    char buf[TWC_HTTP_DATE_LEN + 1];
    size_t i;

    (void)state;
    assert_int_equal(twc_http_date_format(784111777, buf), TWC_HTTP_DATE_LEN);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        time_t back = -1;

        assert_int_equal(twc_http_date_format(times[i], buf), TWC_HTTP_DATE_LEN);
        assert_int_equal(strlen(buf), TWC_HTTP_DATE_LEN);
        assert_int_equal(twc_http_date_parse(buf, strlen(buf), NOW_2026, &back), 0);
        assert_int_equal(back, times[i]);
    }
    /* Every day for ten years, one second before midnight. */
    for (i = 0; i < 3653; i++) {
        time_t t = (time_t)1600000000 + (time_t)i * 86400 + 86399, back = -1;

        assert_int_equal(twc_http_date_format(t, buf), TWC_HTTP_DATE_LEN);
        assert_int_equal(twc_http_date_parse(buf, strlen(buf), NOW_2026, &back), 0);
        assert_int_equal(back, t);
    }
    assert_int_equal(twc_http_date_format((time_t)253402300800, buf), TWC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_list_next_elements),
        cmocka_unit_test(test_util_list_has),
        cmocka_unit_test(test_util_pct_decode),
        cmocka_unit_test(test_util_path_normalize),
        cmocka_unit_test(test_util_path_refusals),
        cmocka_unit_test(test_util_range_single),
        cmocka_unit_test(test_util_range_multiple),
        cmocka_unit_test(test_util_range_unsatisfiable),
        cmocka_unit_test(test_util_range_malformed_is_ignored),
        cmocka_unit_test(test_util_etag_match),
        cmocka_unit_test(test_util_etag_malformed),
        cmocka_unit_test(test_util_date_parse_three_formats),
        cmocka_unit_test(test_util_date_parse_rejects),
        cmocka_unit_test(test_util_date_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
