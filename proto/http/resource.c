/*
 * The resource tree (see resource.h): static children by segment name, the
 * walk that picks the resource rendering a request, and the handler leaf.
 */
#include "proto/http/resource.h"

#include <stdlib.h>
#include <string.h>

#include "proto/http/server_int.h"

struct twc__http_child {
    char *name;
    size_t len;
    twc_http_resource *res;
};

void twc_http_resource_init(twc_http_resource *r, const struct twc_http_resource_ops *ops,
                            bool is_leaf)
{
    memset(r, 0, sizeof(*r));
    r->ops = ops;
    r->is_leaf = is_leaf;
}

int twc_http_resource_put_child(twc_http_resource *parent, const char *seg,
                                twc_http_resource *child)
{
    size_t i, len = strlen(seg);
    char *name;

    if (memchr(seg, '/', len) != NULL)
        return TWC_EINVAL;
    for (i = 0; i < parent->nchildren; i++) {
        if (parent->children[i].len == len && memcmp(parent->children[i].name, seg, len) == 0) {
            twc_http_resource_free(parent->children[i].res);
            parent->children[i].res = child;
            return 0;
        }
    }
    if (parent->nchildren == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        struct twc__http_child *n = realloc(parent->children, cap * sizeof(*n));

        if (n == NULL)
            return TWC_ENOMEM;
        parent->children = n;
        parent->cap = cap;
    }
    name = malloc(len + 1);
    if (name == NULL)
        return TWC_ENOMEM;
    memcpy(name, seg, len + 1);
    parent->children[parent->nchildren].name = name;
    parent->children[parent->nchildren].len = len;
    parent->children[parent->nchildren].res = child;
    parent->nchildren++;
    return 0;
}

static twc_http_resource *static_child(twc_http_resource *r, const char *seg, size_t len)
{
    size_t i;

    for (i = 0; i < r->nchildren; i++)
        if (r->children[i].len == len && memcmp(r->children[i].name, seg, len) == 0)
            return r->children[i].res;
    return NULL;
}

/* An intermediate node of put_path: renders 404 unless it has children. */
static void plain_free(twc_http_resource *r)
{
    free(r);
}

static const struct twc_http_resource_ops plain_ops = {.render = NULL, .free = plain_free};

int twc_http_resource_put_path(twc_http_resource *root, const char *prefix,
                               twc_http_resource *child)
{
    twc_http_resource *cur = root, *next;
    const char *p = prefix, *end;
    char seg[256];
    size_t len;
    int rc;

    while (*p == '/')
        p++;
    if (*p == '\0')
        return TWC_EINVAL;
    for (;;) {
        end = strchr(p, '/');
        len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= sizeof(seg))
            return TWC_EINVAL;
        memcpy(seg, p, len);
        seg[len] = '\0';
        if (end == NULL || end[1] == '\0')
            return twc_http_resource_put_child(cur, seg, child);
        next = static_child(cur, seg, len);
        if (next == NULL) {
            next = malloc(sizeof(*next));
            if (next == NULL)
                return TWC_ENOMEM;
            twc_http_resource_init(next, &plain_ops, false);
            if ((rc = twc_http_resource_put_child(cur, seg, next)) < 0) {
                free(next);
                return rc;
            }
        }
        cur = next;
        p = end + 1;
    }
}

void twc_http_resource_free(twc_http_resource *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->nchildren; i++) {
        twc_http_resource_free(r->children[i].res);
        free(r->children[i].name);
    }
    free(r->children);
    r->children = NULL;
    r->nchildren = r->cap = 0;
    if (r->ops != NULL && r->ops->free != NULL)
        r->ops->free(r);
}

twc_http_resource *twc__http_resource_walk(twc_http_resource *root, twc_http_request *req)
{
    twc_slice path = twc_http_request_path(req);
    twc_http_resource *cur = root, *next;
    size_t pos = 0, end, dlen;
    char seg[256];

    req->pre_len = 0;
    /* Skip the leading '/'; each step consumes "/segment". */
    while (!cur->is_leaf && pos < path.len && path.p[pos] == '/') {
        end = pos + 1;
        while (end < path.len && path.p[end] != '/')
            end++;
        if (end == pos + 1)
            break; /* "/" or "//": the current resource renders */
        if (end - pos - 1 >= sizeof(seg) ||
            twc_http_pct_decode((const char *)path.p + pos + 1, end - pos - 1, seg, &dlen,
                                true) < 0)
            break;
        next = static_child(cur, seg, dlen);
        if (next == NULL && cur->ops != NULL && cur->ops->get_child != NULL)
            next = cur->ops->get_child(cur, seg, dlen, req);
        if (next == NULL)
            break;
        cur = next;
        pos = end;
        req->pre_len = pos;
    }
    return cur;
}

twc_http_resource *twc_http_resource_find(twc_http_resource *root, twc_http_request *req)
{
    return twc__http_resource_walk(root, req);
}

/* ---- Handler leaf ------------------------------------------------------------- */

struct handler_res {
    twc_http_resource base; /* first */
    twc_http_handler_fn fn;
    void *arg;
    void (*arg_free)(void *);
};

static void handler_render(twc_http_resource *r, twc_http_request *req)
{
    struct handler_res *h = (struct handler_res *)r;

    h->fn(h->arg, req);
}

static void handler_free(twc_http_resource *r)
{
    struct handler_res *h = (struct handler_res *)r;

    if (h->arg_free != NULL)
        h->arg_free(h->arg);
    free(h);
}

static const struct twc_http_resource_ops handler_ops = {
    .render = handler_render,
    .free = handler_free,
};

twc_http_resource *twc_http_handler_resource_new(twc_http_handler_fn fn, void *arg,
                                                 void (*arg_free)(void *))
{
    struct handler_res *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    twc_http_resource_init(&h->base, &handler_ops, true);
    h->fn = fn;
    h->arg = arg;
    h->arg_free = arg_free;
    return &h->base;
}
