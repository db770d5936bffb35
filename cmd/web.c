/*
 * twc web: an HTTP/1.1 server for static files and reverse proxying
 * (twistd web, in C). shared/CLI.md "web".
 *
 * The service tree: a "web" service owning the resource tree (a static file
 * root, with --proxy prefixes mounted below it), the HTTP server (factory)
 * and the access log, and one listening service per --listen endpoint. Stop
 * drains the server (busy connections finish their response); SIGHUP reopens
 * the access log. twc_build_web is what `twc serve` calls for "web".
 *
 * Free order: a handler may still hold a request after the grace period (a
 * proxied request finishes from the loop once its connection is lost), and
 * the tree, the log and the resolver (the proxies' agents use it) must outlive
 * it: they go in web_release, which the server calls once its last
 * connection is gone (twc_http_server_free_notify). cmd/server.c turns the
 * loop after freeing the services until that happened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/endpoint.h"
#include "cmd/listen.h"
#include "cmd/server.h"
#include "cmd/servers.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/resolver.h"
#include "lib/service.h"
#include "proto/http/accesslog.h"
#include "proto/http/proxy.h"
#include "proto/http/server.h"
#include "proto/http/static.h"

#define SYSTEM "web"

static const struct twc_option web_opts[] = {
    {"listen", 0, TWC_OPT_ENDPOINT, TWC_OPT_REPEAT, NULL, NULL, NULL, 0, 0,
     "listen on ENDPOINT (tcp:PORT, ssl:PORT:privateKey=KEY.pem, unix:PATH); replaces -p"},
    {"port", 'p', TWC_OPT_PORT, 0, NULL, "8080", NULL, 0, 0,
     "TCP port of the default listener (0: pick a free one)"},
    {"path", 0, TWC_OPT_PATH, 0, "DIR|FILE", ".", NULL, 0, 0, "folder or file to serve"},
    {"index", 'i', TWC_OPT_STRING, TWC_OPT_REPEAT, "NAME", NULL, NULL, 0, 0,
     "index file name of folders (default index.html, index.htm)"},
    {"no-listing", 0, TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "answer 403 for folders without an index file"},
    {"add-header", 0, TWC_OPT_STRING, TWC_OPT_REPEAT, "\"NAME: VALUE\"", NULL, NULL, 0, 0,
     "add this header field to every response"},
    {"mime-type", 'm', TWC_OPT_STRING, 0, "TYPE", "application/octet-stream", NULL, 0, 0,
     "Content-Type of files with an unknown extension"},
    {"logfile", 'l', TWC_OPT_PATH, 0, NULL, NULL, NULL, 0, 0,
     "write an access log in Combined Log Format (reopened on SIGHUP)"},
    {"proxy", 0, TWC_OPT_STRING, TWC_OPT_REPEAT, "PREFIX=URL", NULL, NULL, 0, 0,
     "reverse proxy requests under PREFIX to URL (prefix replaced by URL's path)"},
    {"max-body", 0, TWC_OPT_INT, 0, "BYTES", "1073741824", NULL, 0, INT64_MAX,
     "largest request body accepted (413 above)"},
};

const struct twc_optset twc_optset_web = {
    "web",
    "[--listen ENDPOINT]... [-p PORT] [--path DIR|FILE] [-i NAME]... [--no-listing]\n"
    "    [--add-header \"NAME: VALUE\"]... [-m TYPE] [-l PATH] [--proxy PREFIX=URL]...\n"
    "    [--max-body BYTES]",
    "HTTP/1.1 server: static files, listings, ranges, reverse proxy",
    web_opts,
    sizeof(web_opts) / sizeof(web_opts[0]),
    0,
    NULL,
    "Serves GET and HEAD with ranges, conditional requests and sendfile(2); never\n"
    "anything outside --path. Stops cleanly on SIGTERM or SIGINT; SIGHUP reopens -l.",
};

struct web_service {
    twc_service base; /* first */
    twc_http_resource *root;
    twc_http_server *http;
    twc_http_accesslog *log;
    twc_resolver *resolver;
};

static twc_deferred *web_stop(twc_service *svc)
{
    struct web_service *w = (struct web_service *)svc;

    return twc_http_server_stop(w->http);
}

static int web_reload(twc_service *svc, twc_err *err)
{
    struct web_service *w = (struct web_service *)svc;

    return w->log != NULL ? twc_http_accesslog_reopen(w->log, err) : 0;
}

/* The server is gone: no request is left that could reach these. */
static void web_release(void *arg)
{
    struct web_service *w = arg;

    twc_http_resource_free(w->root); /* the proxies' agents first: they use the resolver */
    twc_http_accesslog_free(w->log);
    twc_resolver_free(w->resolver);
    free(w);
}

static void web_free(twc_service *svc)
{
    struct web_service *w = (struct web_service *)svc;
    twc_http_server *http = w->http;

    w->http = NULL;
    twc_http_server_free_notify(http, web_release, w);
}

static const struct twc_service_ops web_service_ops = {
    .kind = "web",
    .stop = web_stop,
    .reload = web_reload,
    .free = web_free,
};

/* --proxy PREFIX=URL: mount a proxy resource at PREFIX. */
static int add_proxy(struct web_service *w, const char *spec, twc_err *err)
{
    const char *eq = strchr(spec, '=');
    char prefix[256];
    twc_http_resource *p;
    twc_err e;
    int rc;

    if (eq == NULL || eq == spec || spec[0] != '/' || (size_t)(eq - spec) >= sizeof(prefix))
        return twc_err_set(err, TWC_EINVAL, "--proxy '%s': expected /PREFIX=URL", spec);
    memcpy(prefix, spec, (size_t)(eq - spec));
    prefix[eq - spec] = '\0';
    if (w->resolver == NULL) {
        w->resolver = twc_resolver_new(w->base.reactor, NULL, &e);
        /* Without one, numeric upstream hosts still work. */
    }
    p = twc_http_proxy_new(w->base.reactor, w->resolver, eq + 1, NULL, &e);
    if (p == NULL)
        return twc_err_set(err, e.code == TWC_ENOMEM ? TWC_ENOMEM : TWC_EINVAL, "--proxy '%s=': %s",
                           prefix, e.msg); /* e.msg quotes the URL without credentials */
    if ((rc = twc_http_resource_put_path(w->root, prefix, p)) < 0) {
        twc_http_resource_free(p);
        return twc_err_set(err, TWC_EINVAL, "--proxy '%s=': bad prefix", prefix);
    }
    return 0;
}

int twc_build_web(struct twc_server *srv, const struct twc_opts *opts, twc_service *parent,
                  twc_err *err)
{
    const struct twc_optval *listen = twc_opts_get(opts, "listen");
    const struct twc_optval *index = twc_opts_get(opts, "index");
    const struct twc_optval *hdrs = twc_opts_get(opts, "add-header");
    const struct twc_optval *proxies = twc_opts_get(opts, "proxy");
    struct twc_http_static_opts so;
    struct twc_http_server_opts ho;
    struct web_service *w;
    struct twc_endpoint ep;
    twc_service *l;
    twc_reactor *r = srv->app->reactor;
    char name[32];
    size_t i;
    int rc;

    for (i = 0; i < listen->nlist; i++) {
        twc_err e;

        if (twc_endpoint_parse_server(&ep, listen->list[i], &e) < 0)
            return twc_err_set(err, TWC_EINVAL, "--listen: %s", e.msg);
        if (!twc_endpoint_is_stream(&ep))
            return twc_err_set(err, TWC_EINVAL, "--listen %s: HTTP needs a stream endpoint",
                               listen->list[i]);
    }
    for (i = 0; i < hdrs->nlist; i++) {
        const char *c = strchr(hdrs->list[i], ':');

        if (c == NULL || c == hdrs->list[i] || strpbrk(hdrs->list[i], "\r\n") != NULL)
            return twc_err_set(err, TWC_EINVAL, "--add-header '%s': expected \"NAME: VALUE\"",
                               hdrs->list[i]);
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    twc_service_init(&w->base, &web_service_ops, r, "web");
    memset(&so, 0, sizeof(so));
    so.root = twc_opts_str(opts, "path");
    so.index = index->nlist > 0 ? index->list : NULL;
    so.nindex = index->nlist;
    so.no_listing = twc_opts_num(opts, "no-listing") > 0;
    so.default_type = twc_opts_str(opts, "mime-type");
    w->root = twc_http_static_new(r, &so, err);
    if (w->root == NULL) {
        free(w);
        return err->code;
    }
    for (i = 0; i < proxies->nlist; i++) {
        if ((rc = add_proxy(w, proxies->list[i], err)) < 0) {
            web_free(&w->base);
            return rc;
        }
    }
    if (twc_opts_given(opts, "logfile")) {
        w->log = twc_http_accesslog_new(r, twc_opts_str(opts, "logfile"), err);
        if (w->log == NULL) {
            web_free(&w->base);
            return err->code;
        }
    }
    memset(&ho, 0, sizeof(ho));
    ho.root = w->root;
    ho.limits.max_body = (uint64_t)twc_opts_num(opts, "max-body");
    ho.add_headers = hdrs->list;
    ho.nadd_headers = hdrs->nlist;
    if (w->log != NULL) {
        ho.access_log = twc_http_accesslog_record;
        ho.access_log_arg = w->log;
    }
    w->http = twc_http_server_new(r, &ho, err);
    if (w->http == NULL) {
        web_free(&w->base);
        return err->code;
    }
    if ((rc = twc_service_add(parent, &w->base, err)) < 0) {
        web_free(&w->base);
        return rc;
    }
    if (listen->nlist == 0) {
        memset(&ep, 0, sizeof(ep));
        ep.kind = TWC_EP_TCP;
        ep.port = (uint16_t)twc_opts_num(opts, "port");
        l = twc_listen_service_new(srv, "listen0", twc_service_name(parent), &ep, 1, 0,
                                   twc_http_server_factory(w->http), NULL, NULL, err);
        if (l == NULL)
            return err->code;
        if ((rc = twc_service_add(&w->base, l, err)) < 0)
            twc_service_free(l);
        return rc;
    }
    for (i = 0; i < listen->nlist; i++) {
        twc_endpoint_parse_server(&ep, listen->list[i], err);
        snprintf(name, sizeof(name), "listen%zu", i);
        l = twc_listen_service_new(srv, name, twc_service_name(parent), &ep, 1, 0,
                                   twc_http_server_factory(w->http), NULL, NULL, err);
        if (l == NULL)
            return err->code;
        if ((rc = twc_service_add(&w->base, l, err)) < 0) {
            twc_service_free(l);
            return rc;
        }
    }
    return 0;
}

int twc_cmd_web(int argc, char **argv)
{
    struct twc_app app;
    struct twc_server_spec spec;
    int rc;

    memset(&app, 0, sizeof(app));
    rc = twc_app_parse(&app, &twc_optset_web, argc, argv);
    if (rc >= 0)
        goto out;
    if (app.args.n > 0) {
        rc = twc_fail(app.name, TWC_EXIT_USAGE, "unexpected argument '%s' (see twc web --help)",
                      app.args.v[0]);
        goto out;
    }
    spec.command = "web";
    spec.build = twc_build_web;
    spec.opts = &app.opts;
    rc = twc_server_main(&app, &spec, 1);
out:
    twc_app_cleanup(&app);
    return rc;
}
