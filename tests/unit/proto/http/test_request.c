/*
 * Unit tests for the HTTP/1.1 request parser (proto/http/parse.c).
 *
 * Every input goes through drive() (drive.h): whole, byte at a time and in
 * seeded random splits from exact-size heap copies, all required to log the
 * same events; the tests then compare that log with the expected one.
 */
#include "drive.h"

#include "limits.h"

/* ---- Well-formed requests. ---- */

static void test_request_simple_get(void **state)
{
    (void)state;
    expect_req("GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
               "H GET /index.html?x=1 1.1 origin none ka=1!\n"
               "  Host: example.com\n"
               "  Accept: */*\n"
               "#idle");
}

static void test_request_field_whitespace_trimmed(void **state)
{
    (void)state;
    expect_req("GET / HTTP/1.1\r\nHost:example.com\r\nX-A: \t a  b \t\r\nX-Empty:\r\n"
               "X-Obs: caf\xc3\xa9\r\n\r\n",
               "H GET / 1.1 origin none ka=1!\n"
               "  Host: example.com\n"
               "  X-A: a  b\n"
               "  X-Empty: \n"
               "  X-Obs: caf\xc3\xa9\n"
               "#idle");
}

static void test_request_content_length_body(void **state)
{
    (void)state;
    expect_req("POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
               "H POST /form 1.1 origin length:11 ka=1\n"
               "  Host: h\n"
               "  Content-Length: 11\n"
               "B hello world!\n"
               "#idle");
}

static void test_request_content_length_zero(void **state)
{
    (void)state;
    expect_req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
               "H POST / 1.1 origin none ka=1!\n"
               "  Host: h\n"
               "  Content-Length: 0\n"
               "#idle");
}

static void test_request_pipelined(void **state)
{
    (void)state;
    expect_req("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
               "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
               "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2\r\nxy\r\n0\r\n\r\n"
               "GET /d HTTP/1.0\r\n\r\n",
               "H GET /a 1.1 origin none ka=1!\n"
               "  Host: h\n"
               "H POST /b 1.1 origin length:3 ka=1\n"
               "  Host: h\n"
               "  Content-Length: 3\n"
               "B abc!\n"
               "H PUT /c 1.1 origin chunked ka=1\n"
               "  Host: h\n"
               "  Transfer-Encoding: chunked\n"
               "B xy\n"
               "E!\n"
               "H GET /d 1.0 origin none ka=0!\n"
               "#idle");
}

static void test_request_chunked_with_trailers(void **state)
{
    (void)state;
    expect_req("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5;name=value;flag\r\nhello\r\n"
               "1A ; ext=\"quoted\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
               "000\r\n"
               "Checksum: abc\r\nX-Tail:  t \r\n\r\n",
               "H POST /up 1.1 origin chunked ka=1\n"
               "  Host: h\n"
               "  Transfer-Encoding: chunked\n"
               "B helloabcdefghijklmnopqrstuvwxyz\n"
               "E!\n"
               "  Checksum: abc\n"
               "  X-Tail: t\n"
               "#idle");
}

static void test_request_transfer_encoding_list_forms(void **state)
{
    (void)state;
    /* Empty list elements are ignored (RFC 9110 §5.6.1); case-insensitive. */
    expect_req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , CHUNKED ,\r\n\r\n0\r\n\r\n",
               "H POST / 1.1 origin chunked ka=1\n"
               "  Host: h\n"
               "  Transfer-Encoding: , CHUNKED ,\n"
               "E!\n"
               "#idle");
}

static void test_request_expect_100_continue(void **state)
{
    (void)state;
    expect_req("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok",
               "H PUT /f 1.1 origin length:2 ka=1 ec\n"
               "  Host: h\n"
               "  Expect: 100-Continue\n"
               "  Content-Length: 2\n"
               "B ok!\n"
               "#idle");
    /* RFC 9110 §10.1.1: HTTP/1.0 expectations are ignored. */
    expect_req("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nExpect: other\r\n\r\n",
               "H PUT /f 1.0 origin none ka=0!\n"
               "  Expect: 100-continue\n"
               "  Expect: other\n"
               "#idle");
}

static void test_request_keep_alive_rules(void **state)
{
    (void)state;
    expect_req("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
               "H GET / 1.1 origin none ka=0!\n  Host: h\n  Connection: close\n#idle");
    expect_req("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n",
               "H GET / 1.1 origin none ka=0!\n  Host: h\n  Connection: foo, Close\n#idle");
    expect_req("GET / HTTP/1.0\r\n\r\n", "H GET / 1.0 origin none ka=0!\n#idle");
    expect_req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
               "H GET / 1.0 origin none ka=1!\n  Connection: Keep-Alive\n#idle");
    expect_req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
               "H GET / 1.0 origin none ka=0!\n  Connection: keep-alive, close\n#idle");
    /* HTTP/1.2 is handled as 1.1 (RFC 9110 §2.5). */
    expect_req("GET / HTTP/1.2\r\nHost: h\r\n\r\n",
               "H GET / 1.1 origin none ka=1!\n  Host: h\n#idle");
}

static void test_request_upgrade_flag(void **state)
{
    (void)state;
    expect_req("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
               "H GET /ws 1.1 origin none ka=1 up!\n"
               "  Host: h\n  Connection: Upgrade\n  Upgrade: websocket\n#idle");
}

static void test_request_target_forms(void **state)
{
    (void)state;
    expect_req("GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
               "H GET http://example.com/x 1.1 absolute none ka=1!\n  Host: example.com\n#idle");
    expect_req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
               "H CONNECT example.com:443 1.1 authority none ka=1!\n"
               "  Host: example.com:443\n#idle");
    expect_req("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
               "H OPTIONS * 1.1 asterisk none ka=1!\n  Host: h\n#idle");
}

static void test_request_leading_empty_lines(void **state)
{
    (void)state;
    expect_req("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
               "H GET / 1.1 origin none ka=1!\n  Host: h\n#idle");
    /* Between pipelined requests too (a client's stray CRLF after a body). */
    expect_req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx\r\n"
               "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
               "H POST / 1.1 origin length:1 ka=1\n  Host: h\n  Content-Length: 1\nB x!\n"
               "H GET / 1.1 origin none ka=1!\n  Host: h\n#idle");
}

static void test_request_partial_is_busy(void **state)
{
    (void)state;
    expect_req("GET / HTTP/1.1\r\nHost: h\r\n", "#busy");
    expect_req("\r\n", "#idle");
    expect_req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab",
               "H POST / 1.1 origin length:5 ka=1\n  Host: h\n  Content-Length: 5\nB ab\n#busy");
}

/* ---- Malformed requests: each gives its status, whatever the split. ---- */

struct bad_case {
    const char *in;
    const char *want; /* last log line */
};

static const struct bad_case bad_cases[] = {
    /* request-line */
    {"GET\r\n\r\n", "X 400 malformed request-line"},
    {"GET /\r\n\r\n", "X 400 request-line without HTTP version"},
    {"GET  / HTTP/1.1\r\n\r\n", "X 400 empty request-target"},
    {"GET / HTTP/1.1 \r\n\r\n", "X 400 malformed HTTP version"},
    {"GET / http/1.1\r\n\r\n", "X 400 malformed HTTP version"},
    {"GET / HTTP/11.1\r\n\r\n", "X 400 malformed HTTP version"},
    {"GET / HTTP/1.x\r\n\r\n", "X 400 malformed HTTP version"},
    {"G(T / HTTP/1.1\r\n\r\n", "X 400 invalid method"},
    {" GET / HTTP/1.1\r\n\r\n", "X 400 invalid method"},
    {"GET /a\x01 HTTP/1.1\r\n\r\n", "X 400 invalid byte in request-target"},
    {"GET /\xff HTTP/1.1\r\n\r\n", "X 400 invalid byte in request-target"},
    {"GET /a\rb HTTP/1.1\r\n\r\n", "X 400 bare CR in start line"},
    {"GET / HTTP/2.0\r\n\r\n", "X 505 HTTP major version not supported"},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "X 505 HTTP major version not supported"},
    {"GET / HTTP/0.9\r\n\r\n", "X 505 HTTP major version not supported"},
    {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", "X 400 asterisk-form target outside OPTIONS"},
    {"CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", "X 400 CONNECT needs an authority-form target"},
    {"CONNECT host HTTP/1.1\r\nHost: h\r\n\r\n", "X 400 CONNECT needs an authority-form target"},
    {"GET example.com HTTP/1.1\r\nHost: h\r\n\r\n", "X 400 malformed request-target"},
    {"GET / HTTP/1.1\n\n", "X 400 bare LF in header section"},
    /* field lines */
    {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", "X 400 obs-fold in header section"},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", "X 400 obs-fold in header section"},
    {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", "X 400 whitespace before the colon"},
    {"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", "X 400 whitespace before the colon"},
    {"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", "X 400 invalid byte in field name"},
    {"GET / HTTP/1.1\r\n: h\r\n\r\n", "X 400 empty field name"},
    {"GET / HTTP/1.1\r\nHost h\r\n\r\n", "X 400 field line without a colon"},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", "X 400 bare CR in field value"},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", "X 400 bare CR in field value"},
    {"GET / HTTP/1.1\r\nHost: h\nX: a\r\n\r\n", "X 400 bare LF in header section"},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: \x7f\r\n\r\n", "X 400 control character in field value"},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b\r\n\r\n", "X 400 control character in field value"},
    /* Host (RFC 9112 §3.2) */
    {"GET / HTTP/1.1\r\n\r\n", "X 400 HTTP/1.1 request without Host"},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "X 400 more than one Host field"},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "X 400 invalid Host value"},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "X 400 invalid Host value"},
    /* Content-Length */
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
     "X 400 more than one Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
     "X 400 more than one Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", "X 400 invalid Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", "X 400 invalid Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", "X 400 invalid Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", "X 400 invalid Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", "X 400 invalid Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
     "X 400 invalid Content-Length"},
    {"POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 1 2\r\n\r\n", "X 400 invalid Content-Length"},
    /* Transfer-Encoding (RFC 9112 §6.1) */
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     "X 400 Content-Length with Transfer-Encoding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
     "X 400 Content-Length with Transfer-Encoding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
     "X 501 unsupported transfer coding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     "X 501 unsupported transfer coding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
     "X 501 unsupported transfer coding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     "X 400 chunked is not the final transfer coding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     "X 400 chunked is not the final transfer coding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", "X 400 empty Transfer-Encoding"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
     "X 501 unsupported transfer coding"},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     "X 400 Transfer-Encoding in an HTTP/1.0 request"},
    /* Expect */
    {"GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", "X 417 unsupported expectation"},
    /* chunked framing (RFC 9112 §7.1) */
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
     "X 400 missing chunk size"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
     "X 400 missing chunk size"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n",
     "X 400 invalid chunk size"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\n",
     "X 400 invalid chunk size"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\rx",
     "X 400 chunk-size line without CRLF"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x01\r\n",
     "X 400 invalid byte in chunk extension"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nb\r\n",
     "X 400 invalid byte in chunk extension"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
     "X 400 chunk data without CRLF"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\rx",
     "X 400 chunk data without CRLF"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "10000000000000000\r\n",
     "X 400 chunk size overflows"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : y\r\n\r\n",
     "X 400 whitespace before the colon"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n fold\r\n\r\n",
     "X 400 obs-fold in header section"},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n",
     "X 400 bare LF in header section"},
};

static void test_request_malformed_statuses(void **state)
{
    size_t i;
    char line[256];

    (void)state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        char *got = drive_req(bad_cases[i].in);

        if (strcmp(last_line(got, line, sizeof(line)), bad_cases[i].want) != 0)
            print_message("case %zu: %s\n", i, bad_cases[i].in);
        assert_string_equal(last_line(got, line, sizeof(line)), bad_cases[i].want);
        assert_non_null(strstr(got, "#busy"));
        free(got);
    }
}

static void test_request_chunk_leading_zeros_ok(void **state)
{
    (void)state;
    /* Many leading zeros do not overflow; only the value counts. */
    expect_req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "00000000000000000000000000000001\r\nz\r\n0\r\n\r\n",
               "H POST / 1.1 origin chunked ka=1\n  Host: h\n  Transfer-Encoding: chunked\n"
               "B z\nE!\n#idle");
}

/* ---- Limits. ---- */

static char *drive_lim(const char *in, size_t len, const struct twc_http_limits *lim)
{
    struct drive_opts o = {.lim = lim};

    return drive_opts(in, len, &o);
}

static void expect_lim(const char *in, const struct twc_http_limits *lim, const char *want)
{
    char line[256];
    char *got = drive_lim(in, strlen(in), lim);

    assert_string_equal(last_line(got, line, sizeof(line)), want);
    free(got);
}

static void test_request_limit_request_line(void **state)
{
    struct twc_http_limits lim = {.max_start_line = 20};

    (void)state;
    /* "GET /123456 HTTP/1.1" is exactly 20 bytes: accepted. */
    expect_lim("GET /123456 HTTP/1.1\r\nHost: h\r\n\r\n", &lim, "  Host: h");
    expect_lim("GET /1234567 HTTP/1.1\r\nHost: h\r\n\r\n", &lim, "X 414 start line too long");
    /* Without any LF: detected as soon as the bytes prove it. */
    expect_lim("GET /12345678901234567890", &lim, "X 414 start line too long");
    /* Leading empty lines count toward the same bound. */
    expect_lim("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", &lim,
               "X 400 too many empty lines before the start line");
}

static void test_request_limit_request_line_default(void **state)
{
    char *in = malloc(TWC_HTTP_START_LINE_MAX + 64), *got;
    char line[256];
    size_t n;

    (void)state;
    memcpy(in, "GET /", 5);
    memset(in + 5, 'a', TWC_HTTP_START_LINE_MAX);
    n = 5 + TWC_HTTP_START_LINE_MAX;
    memcpy(in + n, " HTTP/1.1\r\n\r\n", 14);
    n += 14;
    got = drive_lim(in, n, NULL);
    assert_string_equal(last_line(got, line, sizeof(line)), "X 414 start line too long");
    free(got);
    free(in);
}

static void test_request_limit_header_bytes(void **state)
{
    struct twc_http_limits lim = {.max_header_bytes = 32};

    (void)state;
    /* Section "Host: h\r\nX: 0123456789012345\r\n\r\n" is 9 + 21 + 2 = 32 bytes. */
    expect_lim("GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789012345\r\n\r\n", &lim,
               "  X: 0123456789012345");
    expect_lim("GET / HTTP/1.1\r\nHost: h\r\nX: 01234567890123456\r\n\r\n", &lim,
               "X 431 header section too large");
    expect_lim("GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789012345678901234567890", &lim,
               "X 431 header section too large");
    /* Trailers have the same bound. */
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
               "T: 01234567890123456789012345678\r\n\r\n",
               &lim, "X 431 header section too large");
}

static void test_request_limit_header_count(void **state)
{
    struct twc_http_limits lim = {.max_headers = 3};

    (void)state;
    expect_lim("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", &lim, "  B: 2");
    expect_lim("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &lim,
               "X 431 too many header fields");
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
               "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
               &lim, "X 431 too many header fields");
}

static void test_request_limit_body(void **state)
{
    struct twc_http_limits lim = {.max_body = 10};

    (void)state;
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", &lim,
               "B 0123456789!");
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", &lim,
               "X 413 Content-Length exceeds the body limit");
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
               &lim, "E!");
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n",
               &lim, "X 413 chunked body exceeds the body limit");
}

static void test_request_limit_chunk_line(void **state)
{
    struct twc_http_limits lim = {.max_chunk_line = 8};

    (void)state;
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "1;abcdef\r\nx\r\n0\r\n\r\n",
               &lim, "E!");
    expect_lim("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "1;abcdefg\r\nx\r\n0\r\n\r\n",
               &lim, "X 400 chunk-size line too long");
}

static void test_request_limit_checked_before_bare_lf(void **state)
{
    struct twc_http_limits lim = {.max_start_line = 20, .max_header_bytes = 32};

    (void)state;
    /* Whole, the LF is in view when the line is judged; split, the limit trips
     * first. Both must say the same: limits come first. */
    expect_lim("GET /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\n\n", &lim, "X 414 start line too long");
    expect_lim("GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789012345678901234\n\r\n", &lim,
               "X 431 header section too large");
    /* At exactly the limit the bare LF is what is wrong. */
    expect_lim("GET /1234567 HTTP/1.1\n\n", &lim, "X 400 bare LF in header section");
}

/* Every byte value at every position of a long value and target: the
 * word-at-a-time scan must agree with the byte table. */
static void test_request_value_and_target_bytes_every_position(void **state)
{
    char in[256];
    size_t pos;
    unsigned c;

    (void)state;
    for (c = 0; c < 256; c++) {
        for (pos = 0; pos < 18; pos++) {
            twc_http_parser p;
            struct twc_http_event ev;
            char val[20], tgt[21];
            int n;
            ssize_t r;
            bool vok = c == '\t' || (c >= 0x20 && c != 0x7f), tok = c > 0x20 && c < 0x7f;

            memset(val, 'v', sizeof(val) - 1);
            val[sizeof(val) - 1] = '\0';
            memset(tgt, 't', sizeof(tgt) - 1);
            tgt[0] = '/';
            tgt[sizeof(tgt) - 1] = '\0';
            /* Whitespace at the ends of a value is trimmed, not judged. */
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                break;
            val[pos + 1] = (char)c;
            n = snprintf(in, sizeof(in), "GET %s HTTP/1.1\r\nHost: h\r\nX: %s\r\n\r\n", tgt, val);
            twc_http_request_parser_init(&p, NULL);
            /* snprintf stopped at a NUL: put the rest back by hand. */
            if (c == 0) {
                n = snprintf(in, sizeof(in), "GET %s HTTP/1.1\r\nHost: h\r\nX: ", tgt);
                memcpy(in + n, val, sizeof(val) - 1);
                in[n + (int)pos + 1] = 0;
                n += (int)sizeof(val) - 1;
                memcpy(in + n, "\r\n\r\n", 4);
                n += 4;
            }
            r = twc_http_parser_feed(&p, (const uint8_t *)in, (size_t)n, &ev);
            if ((r == n) != vok)
                print_message("value byte 0x%02x at %zu\n", c, pos + 1);
            if (vok) {
                assert_int_equal(r, n);
                assert_int_equal(ev.head->headers[1].value.p[pos + 1], c);
            } else {
                assert_int_equal(r, TWC_EPROTO);
                assert_int_equal(ev.status, 400);
            }
            twc_http_parser_cleanup(&p);

            tgt[pos + 1] = (char)c;
            n = snprintf(in, sizeof(in), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tgt);
            if (c == 0)
                continue;
            twc_http_request_parser_init(&p, NULL);
            r = twc_http_parser_feed(&p, (const uint8_t *)in, (size_t)n, &ev);
            if (tok)
                assert_int_equal(r, n);
            else
                assert_int_equal(ev.status, 400);
            twc_http_parser_cleanup(&p);
        }
    }
}

/* ---- API behaviour. ---- */

static void test_request_error_is_sticky_until_reset(void **state)
{
    twc_http_parser p;
    struct twc_http_event ev;
    const char *bad = "GET / HTTP/1.1\r\nHost : h\r\n\r\n";
    const char *good = "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n";
    ssize_t r;

    (void)state;
    twc_http_request_parser_init(&p, NULL);
    r = twc_http_parser_feed(&p, (const uint8_t *)bad, strlen(bad), &ev);
    assert_int_equal(r, TWC_EPROTO);
    assert_int_equal(ev.status, 400);
    r = twc_http_parser_feed(&p, (const uint8_t *)good, strlen(good), &ev);
    assert_int_equal(r, TWC_EPROTO);
    assert_int_equal(ev.status, 400);
    assert_string_equal(ev.why, "whitespace before the colon");
    assert_int_equal(twc_http_parser_eof(&p, &ev), TWC_EPROTO);
    twc_http_parser_reset(&p);
    r = twc_http_parser_feed(&p, (const uint8_t *)good, strlen(good), &ev);
    assert_int_equal(r, (ssize_t)strlen(good));
    assert_int_equal(ev.type, TWC_HTTP_EV_HEAD);
    assert_memory_equal(ev.head->target.p, "/ok", 3);
    twc_http_parser_cleanup(&p);
}

static void test_request_limit_error_code_is_toobig(void **state)
{
    struct twc_http_limits lim = {.max_headers = 1};
    twc_http_parser p;
    struct twc_http_event ev;
    const char *in = "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n";

    (void)state;
    twc_http_request_parser_init(&p, &lim);
    assert_int_equal(twc_http_parser_feed(&p, (const uint8_t *)in, strlen(in), &ev), TWC_ETOOBIG);
    assert_int_equal(ev.status, 431);
    twc_http_parser_cleanup(&p);
}

static void test_request_eof_handling(void **state)
{
    struct drive_opts o = {.eof = true};
    const char *in;
    char *got;

    (void)state;
    in = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    got = drive_opts(in, strlen(in), &o);
    assert_string_equal(got, "H GET / 1.1 origin none ka=1!\n  Host: h\n#idle");
    free(got);
    in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab";
    got = drive_opts(in, strlen(in), &o);
    assert_string_equal(got, "H POST / 1.1 origin length:4 ka=1\n  Host: h\n  Content-Length: 4\n"
                             "B ab\nX 400 connection closed inside a message\n#busy");
    free(got);
    in = "GET / HT";
    got = drive_opts(in, strlen(in), &o);
    assert_string_equal(got, "X 400 connection closed inside a message\n#busy");
    free(got);
}

static void test_request_slices_point_into_input_when_whole(void **state)
{
    twc_http_parser p;
    struct twc_http_event ev;
    const char *in = "GET /zero-copy HTTP/1.1\r\nHost: h\r\n\r\n";
    twc_slice v;

    (void)state;
    twc_http_request_parser_init(&p, NULL);
    assert_int_equal(twc_http_parser_feed(&p, (const uint8_t *)in, strlen(in), &ev),
                     (ssize_t)strlen(in));
    assert_ptr_equal(ev.head->target.p, (const uint8_t *)in + 4);
    assert_true(twc_http_head_get(ev.head, "HOST", &v));
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.p, "h", 1);
    assert_false(twc_http_head_get(ev.head, "Cookie", &v));
    assert_int_equal(ev.head->host.len, 1);
    /* No copy was needed, so nothing was allocated for the head. */
    assert_null(p.buf);
    twc_http_parser_cleanup(&p);
}

static void test_request_shrink_frees_when_idle(void **state)
{
    twc_http_parser p;
    struct twc_http_event ev;
    const char *a = "GET / HTTP/1.1\r\nHo", *b = "st: h\r\n\r\n";

    (void)state;
    twc_http_request_parser_init(&p, NULL);
    assert_int_equal(twc_http_parser_feed(&p, (const uint8_t *)a, strlen(a), &ev),
                     (ssize_t)strlen(a));
    assert_int_equal(ev.type, TWC_HTTP_EV_NONE);
    assert_false(twc_http_parser_idle(&p));
    twc_http_parser_shrink(&p); /* busy: keeps the partial head */
    assert_non_null(p.buf);
    assert_int_equal(twc_http_parser_feed(&p, (const uint8_t *)b, strlen(b), &ev),
                     (ssize_t)strlen(b));
    assert_int_equal(ev.type, TWC_HTTP_EV_HEAD);
    assert_true(ev.complete);
    assert_true(twc_http_parser_idle(&p));
    twc_http_parser_shrink(&p);
    assert_null(p.buf);
    assert_null(p.hdrs);
    assert_int_equal(twc_http_parser_feed(&p, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n", 18, &ev),
                     18);
    assert_int_equal(ev.type, TWC_HTTP_EV_HEAD);
    twc_http_parser_cleanup(&p);
}

static void test_request_feed_empty(void **state)
{
    twc_http_parser p;
    struct twc_http_event ev;

    (void)state;
    twc_http_request_parser_init(&p, NULL);
    assert_int_equal(twc_http_parser_feed(&p, (const uint8_t *)"", 0, &ev), 0);
    assert_int_equal(ev.type, TWC_HTTP_EV_NONE);
    assert_true(twc_http_parser_idle(&p));
    twc_http_parser_cleanup(&p);
}

static void test_request_large_body_many_splits(void **state)
{
    size_t body = 100000, hl, i;
    char *in = malloc(body + 128), *got;

    (void)state;
    hl = (size_t)snprintf(in, 128, "PUT /big HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n",
                          body);
    for (i = 0; i < body; i++)
        in[hl + i] = (char)('a' + i % 26);
    got = drive_lim(in, hl + body, NULL);
    assert_int_equal(strlen(got), strlen("H PUT /big 1.1 origin length:100000 ka=1\n  Host: h\n"
                                         "  Content-Length: 100000\nB !\n#idle") +
                                      body);
    assert_string_equal(got + strlen(got) - 7, "!\n#idle");
    free(got);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_simple_get),
        cmocka_unit_test(test_request_field_whitespace_trimmed),
        cmocka_unit_test(test_request_content_length_body),
        cmocka_unit_test(test_request_content_length_zero),
        cmocka_unit_test(test_request_pipelined),
        cmocka_unit_test(test_request_chunked_with_trailers),
        cmocka_unit_test(test_request_transfer_encoding_list_forms),
        cmocka_unit_test(test_request_expect_100_continue),
        cmocka_unit_test(test_request_keep_alive_rules),
        cmocka_unit_test(test_request_upgrade_flag),
        cmocka_unit_test(test_request_target_forms),
        cmocka_unit_test(test_request_leading_empty_lines),
        cmocka_unit_test(test_request_partial_is_busy),
        cmocka_unit_test(test_request_malformed_statuses),
        cmocka_unit_test(test_request_chunk_leading_zeros_ok),
        cmocka_unit_test(test_request_limit_request_line),
        cmocka_unit_test(test_request_limit_request_line_default),
        cmocka_unit_test(test_request_limit_header_bytes),
        cmocka_unit_test(test_request_limit_header_count),
        cmocka_unit_test(test_request_limit_body),
        cmocka_unit_test(test_request_limit_chunk_line),
        cmocka_unit_test(test_request_limit_checked_before_bare_lf),
        cmocka_unit_test(test_request_value_and_target_bytes_every_position),
        cmocka_unit_test(test_request_error_is_sticky_until_reset),
        cmocka_unit_test(test_request_limit_error_code_is_toobig),
        cmocka_unit_test(test_request_eof_handling),
        cmocka_unit_test(test_request_slices_point_into_input_when_whole),
        cmocka_unit_test(test_request_shrink_frees_when_idle),
        cmocka_unit_test(test_request_feed_empty),
        cmocka_unit_test(test_request_large_body_many_splits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
