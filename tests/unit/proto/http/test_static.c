/*
 * Unit tests for proto/http/static.c: static files through the HTTP server on
 * the string transport, over a temporary folder tree.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "reactor.h"
#include "testing.h"
#include "proto/http/resource.h"
#include "proto/http/server.h"
#include "proto/http/static.h"

#define BIG_SIZE (200 * 1024) /* above the cache limit: the file path */

static char dir[64];
static twc_reactor *R;
static twc_http_resource *root;
static twc_http_server *srv;

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void make_tree(void)
{
    char path[256];
    char *big = malloc(BIG_SIZE);
    size_t i;

    strcpy(dir, "/tmp/twc-static-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file("a.txt", "hello world\n", 12);
    for (i = 0; i < BIG_SIZE; i++)
        big[i] = (char)('a' + i % 26);
    write_file("big.bin", big, BIG_SIZE);
    free(big);
    snprintf(path, sizeof(path), "%s/sub", dir);
    mkdir(path, 0755);
    write_file("sub/index.html", "<p>index</p>", 12);
    snprintf(path, sizeof(path), "%s/d", dir);
    mkdir(path, 0755);
    write_file("d/<b>&x y.txt", "x", 1);
    write_file("d/a\"b", "y", 1);
    snprintf(path, sizeof(path), "%s/link_in", dir);
    assert_int_equal(symlink("a.txt", path), 0);
    snprintf(path, sizeof(path), "%s/link_out", dir);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof(path), "%s/link_up", dir);
    assert_int_equal(symlink("../../etc/passwd", path), 0);
    snprintf(path, sizeof(path), "%s/dir_out", dir);
    assert_int_equal(symlink("/etc", path), 0);
}

static int setup(void **state)
{
    struct twc_reactor_opts ro = {NULL, 1};
    struct twc_http_static_opts so;
    struct twc_http_server_opts ho;
    twc_err err;

    (void)state;
    make_tree();
    R = twc_reactor_new(&ro, &err);
    memset(&so, 0, sizeof(so));
    so.root = dir;
    so.mime_types = "";
    root = twc_http_static_new(R, &so, &err);
    assert_non_null(root);
    memset(&ho, 0, sizeof(ho));
    ho.root = root;
    srv = twc_http_server_new(R, &ho, &err);
    assert_non_null(srv);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    twc_http_server_free(srv);
    twc_http_resource_free(root);
    twc_reactor_free(R);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* One connection: feed in (byte by byte when chunk is 1), return the output. */
static char *run_chunk(const char *in, size_t chunk, size_t *outlen)
{
    twc_string_transport *st = twc_string_transport_new(R);
    size_t len = strlen(in), off = 0, n, olen;
    const uint8_t *v;
    char *o;
    int i;

    twc_string_transport_build(st, twc_http_server_factory(srv));
    if (chunk == 0)
        chunk = len;
    while (off < len) {
        n = len - off < chunk ? len - off : chunk;
        twc_string_transport_feed(st, in + off, n);
        off += n;
        for (i = 0; i < 5; i++)
            twc_reactor_run_once(R, 0);
    }
    v = twc_string_transport_value(st, &olen);
    o = malloc(olen + 1);
    memcpy(o, v, olen + 1);
    if (outlen != NULL)
        *outlen = olen;
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    for (i = 0; i < 5; i++)
        twc_reactor_run_once(R, 0);
    return o;
}

static char *run(const char *in)
{
    return run_chunk(in, 0, NULL);
}

static char *get(const char *path, const char *extra)
{
    char req[1024];

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, extra);
    return run(req);
}

static int status_of(const char *o)
{
    return strncmp(o, "HTTP/1.1 ", 9) == 0 ? atoi(o + 9) : -1;
}

/* The value of header name in o (owned copy), or NULL. */
static char *header(const char *o, const char *name)
{
    char pat[64];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "\r\n%s: ", name);
    p = strstr(o, pat);
    if (p == NULL)
        return NULL;
    p += strlen(pat);
    e = strstr(p, "\r\n");
    return strndup(p, (size_t)(e - p));
}

static const char *body(const char *o)
{
    return strstr(o, "\r\n\r\n") + 4;
}

static void expect(const char *path, int status)
{
    char *o = get(path, "");

    assert_int_equal(status_of(o), status);
    assert_null(strstr(o, "root:"));
    free(o);
}

static void test_static_get_file(void **state)
{
    char *o = get("/a.txt", ""), *v;

    (void)state;
    assert_int_equal(status_of(o), 200);
    assert_string_equal(body(o), "hello world\n");
    v = header(o, "Content-Type");
    assert_string_equal(v, "text/plain; charset=utf-8");
    free(v);
    v = header(o, "Content-Length");
    assert_string_equal(v, "12");
    free(v);
    assert_non_null(strstr(o, "\r\nETag: \""));
    assert_non_null(strstr(o, "\r\nLast-Modified: "));
    assert_non_null(strstr(o, "\r\nAccept-Ranges: bytes\r\n"));
    free(o);
    /* Twice: the second answer comes from the cache and must be identical
     * apart from the Date. */
    o = get("/a.txt", "");
    assert_string_equal(body(o), "hello world\n");
    free(o);
}

static void test_static_big_file_and_byte_input(void **state)
{
    size_t len;
    char *o = run_chunk("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 1, &len);
    const char *b = body(o);
    size_t i;

    (void)state;
    assert_int_equal(status_of(o), 200);
    assert_int_equal(len - (size_t)(b - o), BIG_SIZE);
    for (i = 0; i < BIG_SIZE; i += 4099)
        assert_int_equal(b[i], 'a' + i % 26);
    free(o);
}

static void test_static_head(void **state)
{
    char *o = run("HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), *v;

    (void)state;
    assert_int_equal(status_of(o), 200);
    v = header(o, "Content-Length");
    assert_string_equal(v, "204800");
    free(v);
    assert_string_equal(body(o), "");
    free(o);
}

static void test_static_conditional_304(void **state)
{
    char *o = get("/a.txt", ""), *etag = header(o, "ETag"), *lm = header(o, "Last-Modified");
    char extra[256];

    (void)state;
    free(o);
    snprintf(extra, sizeof(extra), "If-None-Match: \"zzz\", %s\r\n", etag);
    o = get("/a.txt", extra);
    assert_int_equal(status_of(o), 304);
    assert_string_equal(body(o), "");
    assert_non_null(strstr(o, etag));
    free(o);
    snprintf(extra, sizeof(extra), "If-Modified-Since: %s\r\n", lm);
    o = get("/a.txt", extra);
    assert_int_equal(status_of(o), 304);
    free(o);
    o = get("/a.txt", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n");
    assert_int_equal(status_of(o), 200);
    free(o);
    /* If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2). */
    snprintf(extra, sizeof(extra), "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n", lm);
    o = get("/a.txt", extra);
    assert_int_equal(status_of(o), 200);
    free(o);
    o = get("/a.txt", "If-Match: \"nope\"\r\n");
    assert_int_equal(status_of(o), 412);
    free(o);
    free(etag);
    free(lm);
}

static void test_static_ranges(void **state)
{
    char *o = get("/a.txt", "Range: bytes=0-4\r\n"), *v;

    (void)state;
    assert_int_equal(status_of(o), 206);
    assert_string_equal(body(o), "hello");
    v = header(o, "Content-Range");
    assert_string_equal(v, "bytes 0-4/12");
    free(v);
    free(o);
    o = get("/a.txt", "Range: bytes=-6\r\n");
    assert_string_equal(body(o), "world\n");
    free(o);
    o = get("/big.bin", "Range: bytes=26-28\r\n");
    assert_int_equal(status_of(o), 206);
    assert_string_equal(body(o), "abc");
    free(o);
    o = get("/a.txt", "Range: bytes=100-200\r\n");
    assert_int_equal(status_of(o), 416);
    v = header(o, "Content-Range");
    assert_string_equal(v, "bytes */12");
    free(v);
    free(o);
    o = get("/a.txt", "Range: bytes=0-0,6-10\r\n");
    assert_int_equal(status_of(o), 206);
    v = header(o, "Content-Type");
    assert_string_equal(v, "multipart/byteranges; boundary=twc-byteranges-3d6b6a416f9d5c");
    free(v);
    assert_non_null(strstr(o, "Content-Range: bytes 0-0/12\r\n\r\nh\r\n"));
    assert_non_null(strstr(o, "Content-Range: bytes 6-10/12\r\n\r\nworld\r\n"));
    assert_non_null(strstr(o, "--twc-byteranges-3d6b6a416f9d5c--\r\n"));
    v = header(o, "Content-Length");
    assert_int_equal((size_t)atoi(v), strlen(body(o)));
    free(v);
    free(o);
    /* If-Range with another validator: the whole file. */
    o = get("/a.txt", "Range: bytes=0-4\r\nIf-Range: \"old\"\r\n");
    assert_int_equal(status_of(o), 200);
    assert_string_equal(body(o), "hello world\n");
    free(o);
    /* Malformed: ignored. */
    o = get("/a.txt", "Range: lines=1-2\r\n");
    assert_int_equal(status_of(o), 200);
    free(o);
}

static void test_static_folders(void **state)
{
    char *o = get("/sub", ""), *v;

    (void)state;
    assert_int_equal(status_of(o), 301);
    v = header(o, "Location");
    assert_string_equal(v, "/sub/");
    free(v);
    free(o);
    o = get("/sub?x=1", "");
    v = header(o, "Location");
    assert_string_equal(v, "/sub/?x=1");
    free(v);
    free(o);
    o = get("/sub/", "");
    assert_int_equal(status_of(o), 200);
    assert_string_equal(body(o), "<p>index</p>");
    free(o);
    o = get("/d/", "");
    assert_int_equal(status_of(o), 200);
    assert_non_null(strstr(o, "<a href=\"%3Cb%3E%26x%20y.txt\">&lt;b&gt;&amp;x y.txt</a>"));
    assert_non_null(strstr(o, "<a href=\"a%22b\">a&quot;b</a>"));
    assert_true(strstr(o, "%3Cb") < strstr(o, "a%22b")); /* sorted: '<' < 'a' */
    free(o);
    o = get("/", "");
    assert_non_null(strstr(o, "href=\"a.txt\""));
    assert_non_null(strstr(o, "href=\"sub/\""));
    free(o);
}

static void test_static_never_outside_root(void **state)
{
    (void)state;
    expect("/../../../etc/passwd", 404);
    expect("/%2e%2e/%2e%2e/etc/passwd", 404);
    expect("/sub/..%2f..%2fetc/passwd", 404);
    expect("/a.txt%00.html", 404);
    expect("/%2Fetc/passwd", 404);
    expect("/link_out", 403);
    expect("/link_up", 403);
    expect("/dir_out/passwd", 403);
    expect("/nope", 404);
    expect("/a.txt/", 404);
    expect("//etc/passwd", 404);
    /* A symlink inside the root is fine. */
    {
        char *o = get("/link_in", "");

        assert_int_equal(status_of(o), 200);
        assert_string_equal(body(o), "hello world\n");
        free(o);
    }
    /* Dot segments that stay inside are resolved. */
    {
        char *o = get("/sub/../a.txt", "");

        assert_string_equal(body(o), "hello world\n");
        free(o);
    }
}

static void test_static_methods(void **state)
{
    char *o = run("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), *v;

    (void)state;
    assert_int_equal(status_of(o), 405);
    v = header(o, "Allow");
    assert_string_equal(v, "GET, HEAD, OPTIONS");
    free(v);
    free(o);
    o = run("OPTIONS /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(status_of(o), 200);
    free(o);
}

static void test_static_no_listing_and_types(void **state)
{
    struct twc_http_static_opts so;
    twc_http_resource *r2;
    twc_err err;
    char path[256];

    (void)state;
    memset(&so, 0, sizeof(so));
    so.root = dir;
    so.no_listing = true;
    so.default_type = "application/x-test";
    so.mime_types = "";
    r2 = twc_http_static_new(R, &so, &err);
    assert_non_null(r2);
    assert_string_equal(twc_http_static_type(r2, "x.HTML"), "text/html; charset=utf-8");
    assert_string_equal(twc_http_static_type(r2, "x.unknownext"), "application/x-test");
    assert_string_equal(twc_http_static_type(r2, "noext"), "application/x-test");
    twc_http_resource_free(r2);
    /* A mime.types file adds types. */
    snprintf(path, sizeof(path), "%s/mime.types", dir);
    write_file("mime.types", "# c\napplication/x-foo\tfoo bar\n", 29);
    so.mime_types = path;
    r2 = twc_http_static_new(R, &so, &err);
    assert_string_equal(twc_http_static_type(r2, "a.bar"), "application/x-foo");
    twc_http_resource_free(r2);
    so.root = "/nonexistent/folder";
    assert_null(twc_http_static_new(R, &so, &err));
    assert_int_equal(err.code, -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_static_get_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_big_file_and_byte_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_conditional_304, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_never_outside_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_no_listing_and_types, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
