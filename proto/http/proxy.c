/*
 * The reverse proxy resource (proxy.h): one server request in, one client
 * request (proto/http/client.h) out, bytes streamed both ways.
 *
 * Lifetime of one proxied exchange (struct px): it is referenced by the
 * upstream request (until its on_end) and by the notify_finish link of the
 * server request (until it fires: after our finish, or when the client goes
 * away). Whichever comes last frees it. The server request is finished
 * exactly once, from on_end.
 *
 * Shutdown: when the server aborts the client's connection (grace period
 * over), notify_finish fails; on_finish frees (cancels) the upstream
 * request, whose on_end finishes the server request right away: a proxied
 * request never holds its connection past the loss, so the tree (and our
 * agent) can go as soon as the server says it is gone.
 */
#define _GNU_SOURCE
#include "proto/http/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/addr.h"
#include "lib/limits.h"
#include "lib/log.h"

struct proxy {
    twc_http_agent *agent;
    char *url;       /* upstream base URL as given */
    char *origin;    /* "http://host:port" part of it */
    char *base_path; /* its path without query, "" for none */
};

struct px {
    struct proxy *p;
    twc_http_request *sreq;        /* the client's request (server side) */
    twc_http_client_request *creq; /* ours, upstream */
    int refs;
    bool finished;  /* sreq finished: never touch it again */
    bool body_done; /* the client's body ended (or there was none) */
    bool up_paused; /* we paused the upstream response (client slow) */
    bool client_gone; /* notify_finish fired: we cancel upstream, nothing failed */
};

/* RFC 9110 §7.6.1 hop-by-hop fields, plus Proxy-Connection (RFC 9112 §9.6,
 * still sent by old clients). */
static const char *const hop_by_hop[] = {
    "Connection", "Keep-Alive",        "Proxy-Connection", "TE",
    "Trailer",    "Transfer-Encoding", "Upgrade",          NULL,
};

static bool is_hop(twc_slice name, const twc_http_header *all, size_t n)
{
    size_t i;

    for (i = 0; hop_by_hop[i] != NULL; i++)
        if (twc_http_slice_eq(name, hop_by_hop[i]))
            return true;
    /* Fields named in Connection are hop-by-hop too. */
    for (i = 0; i < n; i++) {
        if (twc_http_slice_eq(all[i].name, "Connection")) {
            char tok[64];

            if (name.len >= sizeof(tok))
                continue;
            memcpy(tok, name.p, name.len);
            tok[name.len] = '\0';
            if (twc_http_list_has(all[i].value.p, all[i].value.len, tok))
                return true;
        }
    }
    return false;
}

int twc_http_proxy_target(const char *base_path, const char *postpath, size_t post_len,
                          const char *query, size_t query_len, bool has_query, char *out,
                          size_t outlen)
{
    size_t blen = strlen(base_path);
    int n;

    /* "/v1/" + "/x" must not give "//x"; "" + "" gives "/". */
    if (blen > 0 && base_path[blen - 1] == '/' && post_len > 0 && postpath[0] == '/')
        blen--;
    if (blen == 0 && (post_len == 0 || postpath[0] != '/'))
        n = snprintf(out, outlen, "/%.*s%s%.*s", (int)post_len, postpath, has_query ? "?" : "",
                     (int)query_len, query);
    else
        n = snprintf(out, outlen, "%.*s%.*s%s%.*s", (int)blen, base_path, (int)post_len, postpath,
                     has_query ? "?" : "", (int)query_len, query);
    return n < 0 || (size_t)n >= outlen ? TWC_ETOOBIG : 0;
}

static void px_unref(struct px *x)
{
    if (--x->refs == 0)
        free(x);
}

/* ---- Upstream -> client ------------------------------------------------------- */

static void on_client_pause(void *arg)
{
    struct px *x = arg;

    if (x->creq != NULL && !x->up_paused) {
        x->up_paused = true;
        twc_http_client_request_pause(x->creq);
    }
}

static void on_client_resume(void *arg)
{
    struct px *x = arg;

    if (x->creq != NULL && x->up_paused) {
        x->up_paused = false;
        twc_http_client_request_resume(x->creq);
    }
}

static void on_up_head(void *arg, twc_result *r)
{
    struct px *x = arg;
    const struct twc_http_client_response *resp = twc_result_value(r);
    twc_slice cl;
    uint64_t len;
    size_t i;

    if (x->finished)
        return;
    twc_http_response_set_status(x->sreq, resp->status, resp->reason);
    for (i = 0; i < resp->nheaders; i++) {
        twc_slice n = resp->headers[i].name, v = resp->headers[i].value;

        if (is_hop(n, resp->headers, resp->nheaders) || twc_http_slice_eq(n, "Content-Length") ||
            twc_http_slice_eq(n, "Date") || twc_http_slice_eq(n, "Server"))
            continue;
        twc_http_response_add_header_n(x->sreq, (const char *)n.p, n.len, (const char *)v.p, v.len);
    }
    /* The length as the upstream announced it: for HEAD it describes the
     * body a GET would get (RFC 9110 §9.3.2); 204 and 304 never get one from
     * us. A chunked or read-until-close body goes down chunked. */
    if (twc_http_client_response_get(resp, "Content-Length", &cl) &&
        twc_parse_u64((const char *)cl.p, cl.len, 0, UINT64_MAX, &len) == 0)
        twc_http_response_set_length(x->sreq, len);
    else if (resp->framing == TWC_HTTP_BODY_NONE && resp->status != 204 && resp->status != 304)
        twc_http_response_set_length(x->sreq, 0);
    twc_http_response_set_producer(x->sreq, on_client_pause, on_client_resume, x);
}

static void on_up_head_failed(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, NULL, NULL); /* on_up_end answers */
}

static void on_up_body(void *arg, const uint8_t *data, size_t len)
{
    struct px *x = arg;

    if (x->finished)
        return;
    if (twc_http_response_write(x->sreq, data, len) < 0)
        return; /* the client went away: notify_finish cancels us */
    if (!x->up_paused && twc_http_response_buffered(x->sreq) >= TWC_WRITE_HIGH_WATER) {
        x->up_paused = true;
        twc_http_client_request_pause(x->creq);
    }
}

static void on_up_end(void *arg, const twc_err *err)
{
    struct px *x = arg;
    twc_http_client_request *creq = x->creq;

    x->creq = NULL;
    if (!x->finished) {
        twc_http_request *sreq = x->sreq;

        x->finished = true;
        if (err->code == 0 || x->client_gone) {
            twc_http_response_finish(sreq); /* the one finish, even for a lost client */
        } else if (!twc_http_response_head_sent(sreq)) {
            int status = err->code == TWC_ETIMEDOUT ? 504 : 502;

            twc_log_warnx(twc_http_request_reactor(sreq), "proxy", "upstream %s: %s (%d)",
                          x->p->url, err->msg, status);
            twc_http_response_close_after(sreq);
            twc_http_response_error(sreq, status);
        } else {
            twc_log_warnx(twc_http_request_reactor(sreq), "proxy",
                          "upstream %s failed mid-response: %s", x->p->url, err->msg);
            twc_http_request_abort(sreq);
            twc_http_response_finish(sreq);
        }
    }
    twc_http_client_request_free(creq); /* safe from on_end */
    px_unref(x);
}

/* ---- Client -> upstream (request body) ------------------------------------------ */

static void on_up_drain(void *arg)
{
    struct px *x = arg;

    if (!x->finished && !x->body_done)
        twc_http_request_resume_body(x->sreq);
}

static void body_data(void *arg, twc_http_request *req, const uint8_t *data, size_t len)
{
    struct px *x = arg;

    if (x->creq == NULL)
        return;
    if (twc_http_client_request_write(x->creq, data, len) == 1)
        twc_http_request_pause_body(req);
}

static void body_end(void *arg, twc_http_request *req, const twc_err *why)
{
    struct px *x = arg;

    (void)req;
    x->body_done = true;
    if (x->creq != NULL && why != NULL && why->code != 0)
        /* The client's body broke off: the upstream must not take a short
         * body for a whole one. */
        twc_http_client_request_free(x->creq); /* on_up_end runs now */
    else if (x->creq != NULL)
        twc_http_client_request_end(x->creq);
    px_unref(x); /* the reference read_body held */
}

static const struct twc_http_body_ops body_ops = {.data = body_data, .end = body_end};

/* ---- The client went away (or the response was delivered) ----------------------- */

static void on_finish(void *arg, twc_result *r)
{
    struct px *x = arg;

    if (!twc_result_ok(r))
        twc_result_set(r, NULL, NULL); /* a lost client is not an error to log */
    x->client_gone = true;
    if (x->creq != NULL)
        twc_http_client_request_free(x->creq); /* cancels: on_up_end finishes sreq */
    px_unref(x);
}

/* ---- Render ----------------------------------------------------------------------- */

/* Build the upstream header list: the client's minus hop-by-hop, plus the
 * X-Forwarded-* pair. Strings point into the request or into xff (caller's). */
static size_t build_fields(twc_http_request *req, struct twc_http_field *f, char *names,
                           char *values, size_t cap, char *xff, size_t xfflen)
{
    const struct twc_http_head *h = twc_http_request_head(req);
    size_t i, n = 0, noff = 0, voff = 0;
    twc_slice prev = {NULL, 0};
    char ip[TWC_ADDR_STRLEN] = "";
    twc_addr peer;

    for (i = 0; i < h->nheaders && n + 2 < cap; i++) {
        twc_slice nm = h->headers[i].name, v = h->headers[i].value;

        /* Expect: our server already answered 100 Continue, and we send the
         * body upstream as it comes (RFC 9110 §10.1.1 lets a client not wait). */
        if (is_hop(nm, h->headers, h->nheaders) || twc_http_slice_eq(nm, "Content-Length") ||
            twc_http_slice_eq(nm, "X-Forwarded-Proto") || twc_http_slice_eq(nm, "Expect"))
            continue;
        if (twc_http_slice_eq(nm, "X-Forwarded-For")) {
            prev = v;
            continue;
        }
        /* Slices are not NUL-terminated: copy into the scratch arenas. */
        memcpy(names + noff, nm.p, nm.len);
        names[noff + nm.len] = '\0';
        memcpy(values + voff, v.p, v.len);
        values[voff + v.len] = '\0';
        f[n].name = names + noff;
        f[n].value = values + voff;
        noff += nm.len + 1;
        voff += v.len + 1;
        n++;
    }
    if (twc_http_request_peer(req, &peer) == 0)
        twc_addr_host(&peer, ip, sizeof(ip));
    if (prev.len > 0)
        snprintf(xff, xfflen, "%.*s, %s", (int)prev.len, (const char *)prev.p, ip);
    else
        snprintf(xff, xfflen, "%s", ip);
    if (xff[0] != '\0') {
        f[n].name = "X-Forwarded-For";
        f[n].value = xff;
        n++;
    }
    f[n].name = "X-Forwarded-Proto";
    f[n].value = twc_http_request_is_secure(req) ? "https" : "http";
    n++;
    return n;
}

static void proxy_handle(void *arg, twc_http_request *req)
{
    struct proxy *p = arg;
    const struct twc_http_head *h = twc_http_request_head(req);
    struct twc_http_client_request_opts o;
    struct twc_http_field *fields = NULL;
    char *names = NULL, *values = NULL, *url = NULL, xff[512];
    twc_slice post = twc_http_request_postpath(req), query = twc_http_request_query(req);
    twc_slice target = twc_http_request_target(req);
    size_t cap = h->nheaders + 3, urlcap = strlen(p->origin) + TWC_HTTP_URL_MAX + 2, olen;
    char method[64];
    twc_deferred *d;
    struct px *x;
    twc_err err;

    size_t i, nbytes = 1, vbytes = 1;

    for (i = 0; i < h->nheaders; i++) {
        nbytes += h->headers[i].name.len + 1;
        vbytes += h->headers[i].value.len + 1;
    }
    x = calloc(1, sizeof(*x));
    fields = calloc(cap, sizeof(*fields));
    names = malloc(nbytes);
    values = malloc(vbytes);
    url = malloc(urlcap);
    if (x == NULL || fields == NULL || names == NULL || values == NULL || url == NULL)
        goto fail500;
    x->p = p;
    x->sreq = req;
    olen = (size_t)snprintf(url, urlcap, "%s", p->origin);
    if (twc_http_proxy_target(p->base_path, (const char *)post.p, post.len, (const char *)query.p,
                              query.len, memchr(target.p, '?', target.len) != NULL, url + olen,
                              urlcap - olen) < 0)
        goto fail500;
    {
        twc_slice m = twc_http_request_method(req);

        if (m.len >= sizeof(method))
            goto fail500;
        memcpy(method, m.p, m.len);
        method[m.len] = '\0';
    }
    memset(&o, 0, sizeof(o));
    o.method = method;
    o.url = url;
    o.headers = fields;
    o.nheaders = build_fields(req, fields, names, values, cap, xff, sizeof(xff));
    if (twc_http_request_has_body(req)) {
        o.stream_body = true;
        o.stream_length =
            h->framing == TWC_HTTP_BODY_LENGTH ? h->content_length : TWC_HTTP_LENGTH_UNKNOWN;
    } else if (h->framing == TWC_HTTP_BODY_LENGTH) {
        o.has_body = true; /* "Content-Length: 0" stays */
    }
    o.on_body = on_up_body;
    o.on_drain = on_up_drain;
    o.on_end = on_up_end;
    o.arg = x;
    twc_err_clear(&err);
    x->creq = twc_http_client_request_new(p->agent, &o, &err);
    if (x->creq == NULL) {
        twc_log_warnx(twc_http_request_reactor(req), "proxy", "upstream %s: %s", p->url, err.msg);
        goto fail502;
    }
    /* References: on_up_end, on_finish, and this function while it runs
     * (notify_finish may fire at once if the client is already gone). */
    x->refs = 3;
    d = twc_http_client_request_head(x->creq);
    twc_deferred_add_callbacks(d, on_up_head, on_up_head_failed, x);
    twc_deferred_unref(d);
    d = twc_http_request_notify_finish(req);
    twc_deferred_add_both(d, on_finish, x);
    twc_deferred_unref(d);
    if (o.stream_body && !x->finished) {
        x->refs++; /* until body_end */
        if (twc_http_request_read_body(req, &body_ops, x) < 0)
            x->refs--;
    }
    px_unref(x);
    free(fields);
    free(names);
    free(values);
    free(url);
    return;
fail502:
    free(x);
    free(fields);
    free(names);
    free(values);
    free(url);
    twc_http_response_error(req, 502);
    return;
fail500:
    free(x);
    free(fields);
    free(names);
    free(values);
    free(url);
    twc_http_response_error(req, 500);
}

static void proxy_free(void *arg)
{
    struct proxy *p = arg;

    if (p == NULL)
        return;
    twc_http_agent_free(p->agent);
    free(p->url);
    free(p->origin);
    free(p->base_path);
    free(p);
}

twc_http_resource *twc_http_proxy_new(twc_reactor *r, twc_resolver *resolver, const char *url,
                                      const struct twc_http_agent_opts *ao, twc_err *err)
{
    struct twc_http_agent_opts o;
    struct twc_http_url u;
    struct proxy *p;
    twc_http_resource *res;
    const char *path;
    size_t plen;

    if (twc_http_url_parse(&u, url, err) < 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        goto nomem;
    if (ao != NULL)
        o = *ao;
    else
        memset(&o, 0, sizeof(o));
    o.resolver = resolver;
    p->agent = twc_http_agent_new(r, &o, err);
    if (p->agent == NULL) {
        proxy_free(p);
        return NULL;
    }
    p->url = strdup(url);
    /* origin: everything before the path of the URL. */
    path = strstr(url, "://") + 3;
    path += strcspn(path, "/?#");
    p->origin = strndup(url, (size_t)(path - url));
    plen = strcspn(u.target, "?");
    p->base_path = strndup(u.target, plen);
    if (p->url == NULL || p->origin == NULL || p->base_path == NULL)
        goto nomem;
    /* p->url is for logs: without credentials (the origin keeps them, so the
     * client agent sends them upstream as Basic). */
    twc_http_url_redact(p->url, p->url, strlen(p->url) + 1);
    /* The URL's own "/" alone means "no prefix": /api/x goes to /x. */
    if (strcmp(p->base_path, "/") == 0 && path[0] == '\0')
        p->base_path[0] = '\0';
    res = twc_http_handler_resource_new(proxy_handle, p, proxy_free);
    if (res == NULL)
        goto nomem;
    return res;
nomem:
    proxy_free(p);
    twc_err_set(err, TWC_ENOMEM, "out of memory");
    return NULL;
}
