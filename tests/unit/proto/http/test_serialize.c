/*
 * Unit tests for proto/http/serialize.c: start lines, fields, the chunked
 * coding, reason phrases, and the round trip serialize(parse(x)) == x.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "proto/http/http.h"

static void expect_buf(twc_buf *b, const char *want)
{
    assert_int_equal(twc_buf_len(b), strlen(want));
    assert_memory_equal(twc_buf_data(b), want, strlen(want));
    twc_buf_reset(b);
}

static void test_serialize_status_line(void **state)
{
    twc_buf b;

    (void)state;
    twc_buf_init(&b, 4096);
    assert_int_equal(twc_http_write_status_line(&b, 1, 200, NULL), 0);
    expect_buf(&b, "HTTP/1.1 200 OK\r\n");
    assert_int_equal(twc_http_write_status_line(&b, 0, 404, "Nope"), 0);
    expect_buf(&b, "HTTP/1.0 404 Nope\r\n");
    assert_int_equal(twc_http_write_status_line(&b, 1, 299, NULL), 0);
    expect_buf(&b, "HTTP/1.1 299 Unknown\r\n");
    assert_int_equal(twc_http_write_status_line(&b, 1, 99, NULL), TWC_EINVAL);
    assert_int_equal(twc_http_write_status_line(&b, 1, 1000, NULL), TWC_EINVAL);
    assert_int_equal(twc_http_write_status_line(&b, 1, 200, "OK\r\nX: y"), TWC_EINVAL);
    assert_int_equal(twc_buf_len(&b), 0);
    twc_buf_cleanup(&b);
}

static void test_serialize_request_line(void **state)
{
    twc_buf b;

    (void)state;
    twc_buf_init(&b, 4096);
    assert_int_equal(twc_http_write_request_line(&b, "GET", 3, "/x?y", 4, 1), 0);
    expect_buf(&b, "GET /x?y HTTP/1.1\r\n");
    assert_int_equal(twc_http_write_request_line(&b, "G T", 3, "/", 1, 1), TWC_EINVAL);
    assert_int_equal(twc_http_write_request_line(&b, "GET", 3, "/a b", 4, 1), TWC_EINVAL);
    assert_int_equal(twc_http_write_request_line(&b, "GET", 3, "", 0, 1), TWC_EINVAL);
    twc_buf_cleanup(&b);
}

static void test_serialize_header_injection_refused(void **state)
{
    twc_buf b;

    (void)state;
    twc_buf_init(&b, 4096);
    assert_int_equal(twc_http_write_header_str(&b, "Content-Type", "text/html"), 0);
    expect_buf(&b, "Content-Type: text/html\r\n");
    assert_int_equal(twc_http_write_header_str(&b, "X", ""), 0);
    expect_buf(&b, "X: \r\n");
    assert_int_equal(twc_http_write_header_str(&b, "X", "a\r\nSet-Cookie: evil"), TWC_EINVAL);
    assert_int_equal(twc_http_write_header_str(&b, "X", "a\nb"), TWC_EINVAL);
    assert_int_equal(twc_http_write_header(&b, "X", 1, "a\0b", 3), TWC_EINVAL);
    assert_int_equal(twc_http_write_header_str(&b, "X Y", "v"), TWC_EINVAL);
    assert_int_equal(twc_http_write_header_str(&b, "X:", "v"), TWC_EINVAL);
    assert_int_equal(twc_http_write_header_str(&b, "", "v"), TWC_EINVAL);
    assert_int_equal(twc_http_write_header_str(&b, "X", " v"), TWC_EINVAL);
    assert_int_equal(twc_buf_len(&b), 0);
    twc_buf_cleanup(&b);
}

static void test_serialize_chunks(void **state)
{
    twc_buf b;
    const twc_http_header tr[] = {
        {{(const uint8_t *)"Checksum", 8}, {(const uint8_t *)"abc", 3}},
    };

    (void)state;
    twc_buf_init(&b, 4096);
    assert_int_equal(twc_http_write_chunk(&b, "hello", 5), 0);
    assert_int_equal(twc_http_write_chunk(&b, "", 0), 0);
    assert_int_equal(twc_http_write_chunk(&b, "0123456789abcdefghij", 20), 0);
    assert_int_equal(twc_http_write_last_chunk(&b, NULL, 0), 0);
    expect_buf(&b, "5\r\nhello\r\n14\r\n0123456789abcdefghij\r\n0\r\n\r\n");
    assert_int_equal(twc_http_write_chunk_header(&b, 0xdeadbeefULL), 0);
    assert_int_equal(twc_http_write_chunk_end(&b), 0);
    assert_int_equal(twc_http_write_last_chunk(&b, tr, 1), 0);
    expect_buf(&b, "deadbeef\r\n\r\n0\r\nChecksum: abc\r\n\r\n");
    assert_int_equal(twc_http_write_chunk_header(&b, 0), TWC_EINVAL);
    twc_buf_cleanup(&b);
}

static void test_serialize_buffer_limit(void **state)
{
    twc_buf b;

    (void)state;
    twc_buf_init(&b, 8);
    assert_int_equal(twc_http_write_status_line(&b, 1, 200, NULL), TWC_ETOOBIG);
    twc_buf_cleanup(&b);
}

static void test_serialize_reasons(void **state)
{
    (void)state;
    assert_string_equal(twc_http_reason(100), "Continue");
    assert_string_equal(twc_http_reason(206), "Partial Content");
    assert_string_equal(twc_http_reason(304), "Not Modified");
    assert_string_equal(twc_http_reason(413), "Content Too Large");
    assert_string_equal(twc_http_reason(414), "URI Too Long");
    assert_string_equal(twc_http_reason(416), "Range Not Satisfiable");
    assert_string_equal(twc_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(twc_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(twc_http_reason(799), "Unknown");
}

/* Parse one head from in, serialize it, and compare with want. */
static void round_trip(const char *in, bool response, const char *want)
{
    twc_http_parser p;
    struct twc_http_event ev;
    twc_buf b;
    ssize_t r;

    if (response)
        twc_http_response_parser_init(&p, NULL);
    else
        twc_http_request_parser_init(&p, NULL);
    twc_buf_init(&b, 65536);
    r = twc_http_parser_feed(&p, (const uint8_t *)in, strlen(in), &ev);
    assert_true(r > 0);
    assert_int_equal(ev.type, TWC_HTTP_EV_HEAD);
    assert_int_equal(twc_http_write_head(&b, ev.head), 0);
    assert_int_equal(twc_buf_len(&b), strlen(want));
    assert_memory_equal(twc_buf_data(&b), want, strlen(want));
    twc_buf_cleanup(&b);
    twc_http_parser_cleanup(&p);
}

static void test_serialize_head_round_trip(void **state)
{
    (void)state;
    round_trip("GET /a?b HTTP/1.1\r\nHost: h\r\nX:   spaced  \r\n\r\n", false,
               "GET /a?b HTTP/1.1\r\nHost: h\r\nX: spaced\r\n\r\n");
    round_trip("\r\nOPTIONS * HTTP/1.0\r\nContent-Length: 0\r\n\r\n", false,
               "OPTIONS * HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    round_trip("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", true,
               "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    round_trip("HTTP/1.0 200\r\nA: b\r\n\r\n", true, "HTTP/1.0 200 \r\nA: b\r\n\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serialize_status_line),
        cmocka_unit_test(test_serialize_request_line),
        cmocka_unit_test(test_serialize_header_injection_refused),
        cmocka_unit_test(test_serialize_chunks),
        cmocka_unit_test(test_serialize_buffer_limit),
        cmocka_unit_test(test_serialize_reasons),
        cmocka_unit_test(test_serialize_head_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
