/*
 * Unit tests for the HTTP/1.1 response parser (proto/http/response_parse.c and
 * the shared machinery in parse.c). Inputs go through drive() (drive.h): every
 * split must give the same events.
 */
#include "drive.h"

static void expect_resp(const char *in, enum twc_http_method_kind method, bool eof,
                        const char *want)
{
    struct drive_opts o = {.response = true, .method = method, .eof = eof};
    char *got = drive_opts(in, strlen(in), &o);

    assert_string_equal(got, want);
    free(got);
}

static void test_response_content_length(void **state)
{
    (void)state;
    expect_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello",
                TWC_HTTP_METHOD_OTHER, false,
                "R 200 OK 1.1 length:5 ka=1\n  Content-Length: 5\n  Server: x\nB hello!\n#idle");
}

static void test_response_chunked_with_trailers(void **state)
{
    (void)state;
    expect_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n3;x=y\r\ndef\r\n0\r\nETag: \"1\"\r\n\r\n",
                TWC_HTTP_METHOD_OTHER, false,
                "R 200 OK 1.1 chunked ka=1\n  Transfer-Encoding: chunked\n"
                "B abcdef\nE!\n  ETag: \"1\"\n#idle");
}

static void test_response_read_until_close(void **state)
{
    (void)state;
    expect_resp("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\r\n",
                TWC_HTTP_METHOD_OTHER, true,
                "R 200 OK 1.0 close ka=0\n  Content-Type: text/plain\nB all of it\r\n\nE!\n#idle");
    /* Without eof the body is still going. */
    expect_resp("HTTP/1.1 200 OK\r\n\r\nabc", TWC_HTTP_METHOD_OTHER, false,
                "R 200 OK 1.1 close ka=0\nB abc\n#busy");
    /* An unknown coding without a final chunked: until close (RFC 9112 §6.3). */
    expect_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", TWC_HTTP_METHOD_OTHER, true,
                "R 200 OK 1.1 close ka=0\n  Transfer-Encoding: gzip\nB zz\nE!\n#idle");
}

static void test_response_no_body_cases(void **state)
{
    (void)state;
    /* HEAD: Content-Length describes the GET body, none follows. */
    expect_resp("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n",
                TWC_HTTP_METHOD_HEAD, false,
                "R 200 OK 1.1 none ka=1!\n  Content-Length: 1000\n"
                "R 200 OK 1.1 none ka=1!\n  Content-Length: 7\n#idle");
    expect_resp("HTTP/1.1 204 No Content\r\n\r\n", TWC_HTTP_METHOD_OTHER, false,
                "R 204 No Content 1.1 none ka=1!\n#idle");
    expect_resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", TWC_HTTP_METHOD_OTHER,
                false, "R 304 Not Modified 1.1 none ka=1!\n  Content-Length: 10\n#idle");
}

static void test_response_interim_then_final(void **state)
{
    (void)state;
    expect_resp("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
                "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                TWC_HTTP_METHOD_OTHER, false,
                "R 100 Continue 1.1 none ka=1!\n"
                "R 103 Early Hints 1.1 none ka=1!\n  Link: </s>\n"
                "R 201 Created 1.1 length:2 ka=1\n  Content-Length: 2\nB ok!\n#idle");
}

static void test_response_switching_protocols_stops(void **state)
{
    (void)state;
    expect_resp("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket"
                "\r\n\r\n\x81\x05hello",
                TWC_HTTP_METHOD_OTHER, false,
                "R 101 Switching Protocols 1.1 none ka=1 up!\n  Connection: upgrade\n"
                "  Upgrade: websocket\nX 502 connection switched protocols\n#busy");
    expect_resp("HTTP/1.1 200 Connection established\r\n\r\ntunnel", TWC_HTTP_METHOD_CONNECT, false,
                "R 200 Connection established 1.1 none ka=1!\n"
                "X 502 connection switched protocols\n#busy");
}

static void test_response_te_with_cl_closes(void **state)
{
    (void)state;
    /* RFC 9112 §6.3 rule 3: Transfer-Encoding wins, and the connection closes. */
    expect_resp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                "1\r\nx\r\n0\r\n\r\n",
                TWC_HTTP_METHOD_OTHER, false,
                "R 200 OK 1.1 chunked ka=0\n  Content-Length: 100\n"
                "  Transfer-Encoding: chunked\nB x\nE!\n#idle");
}

static void test_response_pipelined_keep_alive(void **state)
{
    (void)state;
    expect_resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb"
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nc",
                TWC_HTTP_METHOD_OTHER, true,
                "R 200 OK 1.1 length:1 ka=1\n  Content-Length: 1\nB a!\n"
                "R 404 Not Found 1.1 none ka=1!\n  Content-Length: 0\n"
                "R 200 OK 1.0 length:1 ka=1\n  Connection: keep-alive\n  Content-Length: 1\nB b!\n"
                "R 200 OK 1.1 length:1 ka=0\n  Connection: close\n  Content-Length: 1\nB c!\n"
                "#idle");
}

static void test_response_status_line_forms(void **state)
{
    (void)state;
    /* A missing reason, with or without its SP, is accepted. */
    expect_resp("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", TWC_HTTP_METHOD_OTHER, false,
                "R 200 1.1 none ka=1!\n  Content-Length: 0\n#idle");
    expect_resp("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", TWC_HTTP_METHOD_OTHER, false,
                "R 200 1.1 none ka=1!\n  Content-Length: 0\n#idle");
    expect_resp("HTTP/1.1 599 Odd  reason\t!\r\nContent-Length: 0\r\n\r\n", TWC_HTTP_METHOD_OTHER,
                false, "R 599 Odd  reason\t! 1.1 none ka=1!\n  Content-Length: 0\n#idle");
}

static void test_response_malformed(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"HTTP/1.1 20 OK\r\n\r\n", "X 502 malformed status code"},
        {"HTTP/1.1 2000 OK\r\n\r\n", "X 502 malformed status-line"},
        {"HTTP/1.1 099 Low\r\n\r\n", "X 502 status code below 100"},
        {"HTTP/2 200 OK\r\n\r\n", "X 502 malformed status-line"},
        {"HTTP/2.0 200 OK\r\n\r\n", "X 502 HTTP major version not supported"},
        {"ICY 200 OK\r\n\r\n", "X 502 malformed status-line"},
        {"HTTP/1.1 200 O\x01K\r\n\r\n", "X 502 invalid byte in reason-phrase"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
         "X 502 more than one Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "X 502 invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", "X 502 obs-fold in header section"},
        {"HTTP/1.1 200 OK\nX: y\n\n", "X 502 bare LF in header section"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n", "X 502 missing chunk size"},
    };
    size_t i;
    char line[256];

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct drive_opts o = {.response = true};
        char *got = drive_opts(cases[i].in, strlen(cases[i].in), &o);

        if (strcmp(last_line(got, line, sizeof(line)), cases[i].want) != 0)
            print_message("case %zu: %s\n", i, cases[i].in);
        assert_string_equal(last_line(got, line, sizeof(line)), cases[i].want);
        free(got);
    }
}

static void test_response_truncated_body_is_eof_error(void **state)
{
    (void)state;
    expect_resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", TWC_HTTP_METHOD_OTHER, true,
                "R 200 OK 1.1 length:10 ka=1\n  Content-Length: 10\nB short\n"
                "X 502 connection closed inside a message\n#busy");
    expect_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                TWC_HTTP_METHOD_OTHER, true,
                "R 200 OK 1.1 chunked ka=1\n  Transfer-Encoding: chunked\nB ab\n"
                "X 502 connection closed inside a message\n#busy");
    expect_resp("", TWC_HTTP_METHOD_OTHER, true, "#idle");
}

static void test_response_body_limit(void **state)
{
    struct twc_http_limits lim = {.max_body = 4};
    struct drive_opts o = {.response = true, .lim = &lim, .eof = true};
    const char *in = "HTTP/1.1 200 OK\r\n\r\n12345";
    char *got = drive_opts(in, strlen(in), &o);
    char line[128];

    (void)state;
    assert_non_null(strstr(got, "B 1234\n"));
    assert_string_equal(last_line(got, line, sizeof(line)), "X 502 body exceeds the body limit");
    free(got);
}

static void test_response_method_kind_of(void **state)
{
    (void)state;
    assert_int_equal(twc_http_method_kind_of("HEAD", 4), TWC_HTTP_METHOD_HEAD);
    assert_int_equal(twc_http_method_kind_of("CONNECT", 7), TWC_HTTP_METHOD_CONNECT);
    assert_int_equal(twc_http_method_kind_of("head", 4), TWC_HTTP_METHOD_OTHER);
    assert_int_equal(twc_http_method_kind_of("GET", 3), TWC_HTTP_METHOD_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_content_length),
        cmocka_unit_test(test_response_chunked_with_trailers),
        cmocka_unit_test(test_response_read_until_close),
        cmocka_unit_test(test_response_no_body_cases),
        cmocka_unit_test(test_response_interim_then_final),
        cmocka_unit_test(test_response_switching_protocols_stops),
        cmocka_unit_test(test_response_te_with_cl_closes),
        cmocka_unit_test(test_response_pipelined_keep_alive),
        cmocka_unit_test(test_response_status_line_forms),
        cmocka_unit_test(test_response_malformed),
        cmocka_unit_test(test_response_truncated_body_is_eof_error),
        cmocka_unit_test(test_response_body_limit),
        cmocka_unit_test(test_response_method_kind_of),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
