/*
 * Unit tests for proto/http/resource.c: the resource tree walk (prepath,
 * postpath, decoded segment matching, leaves, get_child), put_path and the
 * handler leaf, end to end through the server on the string transport.
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
#include "reactor.h"
#include "testing.h"
#include "proto/http/resource.h"
#include "proto/http/server.h"

static twc_reactor *R;
static twc_http_server *srv;
static int freed;

/* Every resource answers "<name> pre=<prepath> post=<postpath> q=<query>". */
struct named {
    twc_http_resource base;
    const char *name;
};

static struct named root_res;

static void named_render(twc_http_resource *r, twc_http_request *req)
{
    struct named *n = (struct named *)r;
    twc_slice pre = twc_http_request_prepath(req), post = twc_http_request_postpath(req);
    twc_slice q = twc_http_request_query(req);
    char buf[256];
    int len = snprintf(buf, sizeof(buf), "%s pre=%.*s post=%.*s q=%.*s", n->name, (int)pre.len,
                       (const char *)pre.p, (int)post.len, (const char *)post.p, (int)q.len,
                       (const char *)q.p);

    twc_http_response_send(req, 200, NULL, buf, (size_t)len);
}

static void named_free(twc_http_resource *r)
{
    freed++;
    free(r);
}

/* Dynamic children: any all-digit segment is an "item". */
static twc_http_resource *items_child(twc_http_resource *r, const char *seg, size_t len,
                                      twc_http_request *req);

static const struct twc_http_resource_ops named_ops = {.render = named_render, .free = named_free};
static const struct twc_http_resource_ops items_ops = {
    .get_child = items_child, .render = named_render, .free = named_free};

static struct named item_res;

static twc_http_resource *items_child(twc_http_resource *r, const char *seg, size_t len,
                                      twc_http_request *req)
{
    size_t i;

    (void)r;
    (void)req;
    for (i = 0; i < len; i++)
        if (seg[i] < '0' || seg[i] > '9')
            return NULL;
    return &item_res.base;
}

static twc_http_resource *named(const char *name, bool leaf, const struct twc_http_resource_ops *ops)
{
    struct named *n = calloc(1, sizeof(*n));

    twc_http_resource_init(&n->base, ops, leaf);
    n->name = name;
    return &n->base;
}

static void handler(void *arg, twc_http_request *req)
{
    twc_http_response_send(req, 200, NULL, arg, strlen(arg));
}

static void arg_free(void *arg)
{
    (void)arg;
    freed++;
}

static int setup(void **state)
{
    struct twc_reactor_opts ro = {NULL, 1};
    struct twc_http_server_opts so;
    twc_err err;

    (void)state;
    freed = 0;
    R = twc_reactor_new(&ro, &err);
    twc_http_resource_init(&root_res.base, &named_ops, false);
    root_res.name = "root";
    memset(&so, 0, sizeof(so));
    so.root = &root_res.base;
    srv = twc_http_server_new(R, &so, &err);
    twc_http_resource_init(&item_res.base, &named_ops, true);
    item_res.name = "item";
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    twc_http_server_free(srv);
    root_res.base.ops = NULL; /* root is static storage: free only its children */
    twc_http_resource_free(&root_res.base);
    twc_reactor_free(R);
    return 0;
}

static char *get(const char *target)
{
    twc_string_transport *st = twc_string_transport_new(R);
    char req[512];
    const char *v, *b;
    char *o;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    twc_string_transport_build(st, twc_http_server_factory(srv));
    twc_string_transport_feed(st, req, strlen(req));
    v = (const char *)twc_string_transport_value(st, NULL);
    b = strstr(v, "\r\n\r\n");
    o = b != NULL ? strdup(b + 4) : strdup(v);
    if (strncmp(v, "HTTP/1.1 404", 12) == 0) {
        free(o);
        o = strdup("404");
    }
    twc_string_transport_close(st, NULL);
    twc_string_transport_free(st);
    return o;
}

#define EXPECT(target, want)                                                                       \
    do {                                                                                           \
        char *o_ = get(target);                                                                    \
        assert_string_equal(o_, want);                                                             \
        free(o_);                                                                                  \
    } while (0)

static void test_resource_walk_children_and_postpath(void **state)
{
    twc_http_resource *a = named("a", false, &named_ops);

    (void)state;
    assert_int_equal(twc_http_resource_put_child(&root_res.base, "a", a), 0);
    assert_int_equal(twc_http_resource_put_child(a, "b", named("b", false, &named_ops)), 0);
    {
        twc_http_resource *z = named("z", false, &named_ops);

        assert_int_equal(twc_http_resource_put_child(a, "x/y", z), TWC_EINVAL);
        twc_http_resource_free(z); /* refused: still ours */
    }
    EXPECT("/", "root pre= post=/ q=");
    EXPECT("/a", "a pre=/a post= q=");
    EXPECT("/a/", "a pre=/a post=/ q=");
    EXPECT("/a/b/c/d?k=v", "b pre=/a/b post=/c/d q=k=v");
    EXPECT("/%61/b", "b pre=/%61/b post= q="); /* segments compare decoded */
    EXPECT("/a/nothing", "a pre=/a post=/nothing q=");
}

static void test_resource_leaf_and_get_child(void **state)
{
    twc_http_resource *leaf = named("leaf", true, &named_ops);
    twc_http_resource *items = named("items", false, &items_ops);

    (void)state;
    twc_http_resource_put_child(leaf, "hidden", named("hidden", false, &named_ops));
    twc_http_resource_put_child(&root_res.base, "leaf", leaf);
    twc_http_resource_put_child(&root_res.base, "items", items);
    EXPECT("/leaf/hidden", "leaf pre=/leaf post=/hidden q=");
    EXPECT("/items/42/x", "item pre=/items/42 post=/x q=");
    EXPECT("/items/abc", "items pre=/items post=/abc q=");
}

static void test_resource_put_path_and_handler(void **state)
{
    twc_http_resource *h = twc_http_handler_resource_new(handler, "api!", arg_free);

    (void)state;
    assert_int_equal(twc_http_resource_put_path(&root_res.base, "/api/v1", h), 0);
    EXPECT("/api/v1/users?x", "api!");
    EXPECT("/api", "404"); /* the intermediate node renders 404 */
    {
        twc_http_resource *x = named("x", false, &named_ops);

        assert_int_equal(twc_http_resource_put_path(&root_res.base, "/", x), TWC_EINVAL);
        twc_http_resource_free(x);
    }
    freed = 0;
    /* Replacing a child frees the old one. */
    twc_http_resource_put_path(&root_res.base, "/api/v1", named("v1", false, &named_ops));
    assert_int_equal(freed, 1);
    EXPECT("/api/v1/users", "v1 pre=/api/v1 post=/users q=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resource_walk_children_and_postpath, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_leaf_and_get_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_put_path_and_handler, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
