/*
 * twc client http: a curl-like HTTP/1.1 client on the library's agent
 * (proto/http/client.h).
 *
 *   twc client http [-X M] [-H "K: V"]... [-d DATA|@FILE] [-o FILE] [-i] [-I]
 *                   [-L] [-f] [-k] [--cacert FILE] [-m S] [--connect-timeout S] URL
 *
 * Options mean what curl's same-named ones mean. The body goes to stdout (or
 * -o FILE) as it arrives, with flow control: while stdout has not taken what
 * we wrote, the connection stops reading.
 *
 * Exit codes are curl's (shared/CLI.md): 1 unsupported scheme, 3 malformed
 * URL, 6 cannot resolve, 7 cannot connect, 8 weird reply, 18 partial body,
 * 22 HTTP status >= 400 with -f, 23 cannot write the output, 28 timeout,
 * 35 TLS handshake, 47 too many redirects, 52 empty reply, 56 receive error,
 * 60 bad peer certificate; and twc's 64 (usage) and 66 (-d @FILE unreadable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/commands.h"
#include "cmd/common.h"
#include "cmd/stdstream.h"
#include "lib/buf.h"
#include "lib/deferred.h"
#include "lib/resolver.h"
#include "proto/http/client.h"

/* curl's exit codes (libcurl-errors(3)). */
enum {
    CURL_UNSUPPORTED_PROTOCOL = 1,
    CURL_URL_MALFORMAT = 3,
    CURL_COULDNT_RESOLVE_HOST = 6,
    CURL_COULDNT_CONNECT = 7,
    CURL_WEIRD_SERVER_REPLY = 8,
    CURL_PARTIAL_FILE = 18,
    CURL_HTTP_RETURNED_ERROR = 22,
    CURL_WRITE_ERROR = 23,
    CURL_OPERATION_TIMEDOUT = 28,
    CURL_SSL_CONNECT_ERROR = 35,
    CURL_TOO_MANY_REDIRECTS = 47,
    CURL_GOT_NOTHING = 52,
    CURL_RECV_ERROR = 56,
    CURL_PEER_FAILED_VERIFICATION = 60,
};

#define DATA_FILE_MAX (1024 * 1024 * 1024) /* -d @FILE read into memory */

extern const struct twc_optset twc_client_http_set;
int twc_client_http(int argc, char **argv);

static const struct twc_option http_opts[] = {
    {"request", 'X', TWC_OPT_STRING, 0, "METHOD", NULL, NULL, 0, 0,
     "use METHOD instead of GET (POST with -d)"},
    {"header", 'H', TWC_OPT_STRING, TWC_OPT_REPEAT, "\"NAME: VALUE\"", NULL, NULL, 0, 0,
     "add a request header (replaces ours of the same name)"},
    {"data", 'd', TWC_OPT_STRING, TWC_OPT_REPEAT, "DATA|@FILE", NULL, NULL, 0, 0,
     "POST DATA (or FILE's bytes without CR/LF; @- is stdin); several are joined with &"},
    {"data-binary", 0, TWC_OPT_STRING, TWC_OPT_REPEAT, "DATA|@FILE", NULL, NULL, 0, 0,
     "like --data, but @FILE is sent exactly as it is"},
    {"output", 'o', TWC_OPT_PATH, 0, "FILE", NULL, NULL, 0, 0,
     "write the body to FILE instead of stdout"},
    {"include", 'i', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "write the response head before the body"},
    {"head", 'I', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "send HEAD and write the response head only"},
    {"location", 'L', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "follow redirects (301, 302, 303, 307, 308)"},
    {"max-redirs", 0, TWC_OPT_INT, 0, "N", "50", NULL, 0, 1000,
     "follow at most N redirects with -L (exit 47 beyond)"},
    {"fail", 'f', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "exit 22 without writing the body when the status is 400 or more"},
    {"insecure", 'k', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "do not verify the server's certificate or host name"},
    {"cacert", 0, TWC_OPT_PATH, 0, "FILE", NULL, NULL, 0, 0,
     "trust the CA certificates in FILE (PEM) instead of the system store"},
    {"max-time", 'm', TWC_OPT_SECONDS, 0, NULL, NULL, NULL, 0, 0,
     "give up after SECONDS in all (exit 28)"},
    {"connect-timeout", 0, TWC_OPT_SECONDS, 0, NULL, "30", NULL, 0, 0,
     "give up connecting (lookup, TCP, TLS) after SECONDS (exit 28)"},
    {"silent", 's', TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "accepted for curl compatibility (twc shows no progress meter)"},
};

const struct twc_optset twc_client_http_set = {
    "client http",
    "[-X M] [-H \"K: V\"]... [-d DATA|@FILE] [-o FILE] [-i] [-L] [-f] [-k] [-m S] URL",
    "send one HTTP/1.1 request to URL and write the response body",
    http_opts,
    sizeof(http_opts) / sizeof(http_opts[0]),
    0,
    NULL,
    "URL is http:// or https://. Options mean what curl's do, and so do the exit\n"
    "codes: 6 cannot resolve, 7 cannot connect, 22 status >= 400 with -f, 28\n"
    "timeout, 35 TLS handshake, 47 too many redirects, 52 empty reply, 60 bad\n"
    "certificate; 66 when -d @FILE cannot be read.",
};

struct hc {
    struct twc_app app;
    twc_resolver *resolver;
    twc_http_agent *agent;
    twc_http_client_request *req;
    twc_deferred *head;
    struct twc_stdio io;
    FILE *out; /* -o FILE, else NULL (stdout through io) */
    twc_timer *deadline;
    bool include, fail_on_error, got_head, ended, failed_22;
    int exit_code;
};

static int exit_for(const struct hc *c, const twc_err *e)
{
    switch (e->code) {
    case TWC_ETIMEDOUT:
    case -ETIMEDOUT:
        return e->code == -ETIMEDOUT && !c->got_head ? CURL_COULDNT_CONNECT
                                                     : CURL_OPERATION_TIMEDOUT;
    case -ECONNREFUSED:
    case -EHOSTUNREACH:
    case -ENETUNREACH:
    case -ENETDOWN:
    case -EADDRNOTAVAIL:
    case -EAFNOSUPPORT:
        return CURL_COULDNT_CONNECT;
    case TWC_ETLS_VERIFY:
        return CURL_PEER_FAILED_VERIFICATION;
    case TWC_EOF:
        return c->got_head ? CURL_PARTIAL_FILE : CURL_GOT_NOTHING;
    case TWC_EPROTO:
        return strstr(e->msg, "redirects") != NULL ? CURL_TOO_MANY_REDIRECTS
                                                   : CURL_WEIRD_SERVER_REPLY;
    case TWC_EINVAL:
        return strstr(e->msg, "scheme") != NULL ? CURL_UNSUPPORTED_PROTOCOL : CURL_URL_MALFORMAT;
    case TWC_ENOMEM:
        return TWC_EXIT_SOFTWARE;
    case TWC_ECANCELED:
        return 128 + SIGTERM;
    default:
        break;
    }
    switch (twc_err_domain_of(e->code)) {
    case TWC_DOMAIN_DNS:
        return CURL_COULDNT_RESOLVE_HOST;
    case TWC_DOMAIN_TLS:
        return c->got_head ? CURL_RECV_ERROR : CURL_SSL_CONNECT_ERROR;
    case TWC_DOMAIN_SYSTEM:
        return CURL_RECV_ERROR;
    default:
        return TWC_EXIT_FAILURE;
    }
}

static void maybe_stop(struct hc *c)
{
    if (c->ended && twc_stdio_pending(&c->io) == 0)
        twc_reactor_stop(c->app.reactor);
}

/* Write to the output; returns true when the producer should pause. */
static bool emit(struct hc *c, const void *data, size_t len)
{
    if (c->exit_code != 0)
        return false;
    if (c->out != NULL) {
        if (fwrite(data, 1, len, c->out) != len) {
            twc_fail(c->app.name, 0, "cannot write the output: %s", strerror(errno));
            c->exit_code = CURL_WRITE_ERROR;
            twc_http_client_request_free(c->req);
            c->req = NULL;
        }
        return false;
    }
    return twc_stdio_write(&c->io, data, len) > 0;
}

/* -i: the status line and fields as received. */
static void write_head(struct hc *c, const struct twc_http_client_response *resp)
{
    twc_buf b;
    size_t i;

    twc_buf_init(&b, SIZE_MAX);
    twc_http_write_status_line(&b, resp->version_minor, resp->status, resp->reason);
    for (i = 0; i < resp->nheaders; i++)
        twc_http_write_header(&b, (const char *)resp->headers[i].name.p, resp->headers[i].name.len,
                              (const char *)resp->headers[i].value.p, resp->headers[i].value.len);
    twc_http_write_end_of_head(&b);
    if (emit(c, twc_buf_data(&b), twc_buf_len(&b)) && c->req != NULL)
        twc_http_client_request_pause(c->req);
    twc_buf_cleanup(&b);
}

/* -i -L: curl shows the head of every response, redirects included. */
static void on_redirect(void *arg, const struct twc_http_client_response *resp)
{
    struct hc *c = arg;

    if (c->include)
        write_head(c, resp);
}

static void on_head(void *arg, twc_result *r)
{
    struct hc *c = arg;
    const struct twc_http_client_response *resp = twc_result_value(r);

    c->got_head = true;
    if (c->fail_on_error && resp->status >= 400) {
        twc_fail(c->app.name, 0, "the requested URL returned error: %d", resp->status);
        c->exit_code = CURL_HTTP_RETURNED_ERROR;
        c->failed_22 = true;
        return; /* on_end follows; the body is dropped */
    }
    if (c->include)
        write_head(c, resp);
}

static void on_head_failed(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, NULL, NULL); /* on_end reports it */
}

static void on_body(void *arg, const uint8_t *data, size_t len)
{
    struct hc *c = arg;

    if (c->failed_22)
        return;
    if (emit(c, data, len) && c->req != NULL)
        twc_http_client_request_pause(c->req);
}

static void on_end(void *arg, const twc_err *err)
{
    struct hc *c = arg;

    c->ended = true;
    twc_timer_stop(c->deadline);
    if (err->code != 0 && c->exit_code == 0) {
        twc_fail(c->app.name, 0, "%s", err->msg[0] != '\0' ? err->msg : twc_strerror(err->code));
        c->exit_code = exit_for(c, err);
    }
    maybe_stop(c);
}

static void on_output_drained(void *arg)
{
    struct hc *c = arg;

    if (c->req != NULL && !c->ended)
        twc_http_client_request_resume(c->req);
    maybe_stop(c);
}

static void on_output_error(void *arg, int sys_errno)
{
    struct hc *c = arg;

    if (sys_errno != EPIPE)
        twc_fail(c->app.name, 0, "cannot write to stdout: %s", strerror(sys_errno));
    if (c->exit_code == 0)
        c->exit_code = CURL_WRITE_ERROR;
    c->ended = true;
    twc_reactor_stop(c->app.reactor);
}

static void on_deadline(twc_timer *t, void *arg)
{
    struct hc *c = arg;

    (void)t;
    if (c->exit_code == 0) {
        twc_fail(c->app.name, 0, "operation timed out after %lld ms",
                 twc_opts_num(&c->app.opts, "max-time"));
        c->exit_code = CURL_OPERATION_TIMEDOUT;
    }
    c->ended = true;
    twc_reactor_stop(c->app.reactor);
}

static void on_signal(twc_reactor *r, int signo, void *arg)
{
    struct hc *c = arg;

    if (c->exit_code == 0)
        c->exit_code = 128 + signo;
    c->ended = true;
    twc_reactor_stop(r);
}

/* Append one -d/--data-binary value to body (strip: CR and LF of @FILE are
 * dropped, as curl's -d does). Returns 0 or an exit code (printed). */
static int add_data(struct hc *c, twc_buf *body, const char *v, bool strip)
{
    FILE *f;
    char chunk[8192];
    size_t n, i;

    if (twc_buf_len(body) > 0 && twc_buf_append(body, "&", 1) < 0)
        return twc_fail(c->app.name, TWC_EXIT_SOFTWARE, "request body too large");
    if (v[0] != '@')
        return twc_buf_append(body, v, strlen(v)) < 0
                   ? twc_fail(c->app.name, TWC_EXIT_SOFTWARE, "request body too large")
                   : 0;
    f = strcmp(v + 1, "-") == 0 ? stdin : fopen(v + 1, "rb");
    if (f == NULL)
        return twc_fail(c->app.name, TWC_EXIT_NOINPUT, "cannot read '%s': %s", v + 1,
                        strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        for (i = 0; i < n; i++) {
            if (strip && (chunk[i] == '\r' || chunk[i] == '\n'))
                continue;
            if (twc_buf_append(body, &chunk[i], 1) < 0) {
                if (f != stdin)
                    fclose(f);
                return twc_fail(c->app.name, TWC_EXIT_NOINPUT, "'%s' is larger than %d bytes",
                                v + 1, DATA_FILE_MAX);
            }
        }
    }
    if (ferror(f)) {
        int e = errno;

        if (f != stdin)
            fclose(f);
        return twc_fail(c->app.name, TWC_EXIT_NOINPUT, "cannot read '%s': %s", v + 1, strerror(e));
    }
    if (f != stdin)
        fclose(f);
    return 0;
}

/* Split "-H 'Name: value'" into fields (pointers into a copy kept in store). */
static int parse_headers(struct hc *c, struct twc_http_field *fields, char **store, size_t n,
                         bool *has_ctype)
{
    const struct twc_optval *hv = twc_opts_get(&c->app.opts, "header");
    size_t i;

    for (i = 0; i < n; i++) {
        char *s = strdup(hv->list[i]), *colon, *v;

        store[i] = s;
        if (s == NULL)
            return twc_fail(c->app.name, TWC_EXIT_SOFTWARE, "out of memory");
        colon = strchr(s, ':');
        if (colon == NULL || colon == s)
            return twc_fail(c->app.name, TWC_EXIT_USAGE, "--header '%s' is not 'NAME: VALUE'",
                            hv->list[i]);
        *colon = '\0';
        v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        fields[i].name = s;
        fields[i].value = v;
        if (strcasecmp(s, "Content-Type") == 0)
            *has_ctype = true;
    }
    return 0;
}

static int run(struct hc *c)
{
    const struct twc_optval *hv = twc_opts_get(&c->app.opts, "header");
    const struct twc_optval *dv = twc_opts_get(&c->app.opts, "data");
    const struct twc_optval *bv = twc_opts_get(&c->app.opts, "data-binary");
    struct twc_http_field *fields = NULL;
    char **store = NULL;
    struct twc_http_client_request_opts ro;
    struct twc_http_agent_opts ao;
    struct twc_http_url u;
    bool has_ctype = false, has_data = dv->nlist + bv->nlist > 0;
    twc_buf body;
    twc_err err;
    size_t i, nf = hv->nlist;
    int rc = 0;

    twc_buf_init(&body, DATA_FILE_MAX);
    twc_err_clear(&err);
    if (twc_http_url_parse(&u, c->app.args.v[0], &err) < 0) {
        rc = twc_fail(c->app.name, 0, "%s", err.msg);
        rc = exit_for(c, &err);
        goto out;
    }
    fields = calloc(nf + 1, sizeof(*fields));
    store = calloc(nf + 1, sizeof(*store));
    if (fields == NULL || store == NULL) {
        rc = twc_fail(c->app.name, TWC_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    rc = parse_headers(c, fields, store, nf, &has_ctype);
    for (i = 0; rc == 0 && i < dv->nlist; i++)
        rc = add_data(c, &body, dv->list[i], true);
    for (i = 0; rc == 0 && i < bv->nlist; i++)
        rc = add_data(c, &body, bv->list[i], false);
    if (rc != 0)
        goto out;
    if (has_data && !has_ctype) {
        fields[nf].name = "Content-Type";
        fields[nf].value = "application/x-www-form-urlencoded";
        nf++;
    }
    if (c->out == NULL && twc_opts_given(&c->app.opts, "output")) {
        c->out = fopen(twc_opts_str(&c->app.opts, "output"), "wb");
        if (c->out == NULL) {
            rc = twc_fail(c->app.name, CURL_WRITE_ERROR, "cannot open '%s': %s",
                          twc_opts_str(&c->app.opts, "output"), strerror(errno));
            goto out;
        }
    }
    rc = twc_app_start(&c->app);
    if (rc >= 0)
        goto out;
    rc = 0;
    if (twc_stdio_init(&c->io, c->app.reactor, 64 * 1024, c) < 0) {
        rc = twc_fail(c->app.name, TWC_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    c->io.on_output_drained = on_output_drained;
    c->io.on_output_error = on_output_error;
    {
        /* /etc/hosts, then the nameservers of $TWC_RESOLV_CONF or
         * /etc/resolv.conf. Without one, numeric URLs still work. */
        struct twc_resolver_opts rs = {.resolv_conf = getenv("TWC_RESOLV_CONF")};
        twc_err rerr;

        c->resolver = twc_resolver_new(c->app.reactor, &rs, &rerr);
        if (c->resolver == NULL)
            twc_log_debug(c->app.reactor, c->app.log_system, "no resolver: %s", rerr.msg);
    }
    memset(&ao, 0, sizeof(ao));
    ao.resolver = c->resolver;
    ao.ca_certs = twc_opts_str(&c->app.opts, "cacert");
    ao.insecure = twc_opts_num(&c->app.opts, "insecure") > 0;
    ao.connect_timeout_ms = (unsigned)twc_opts_num(&c->app.opts, "connect-timeout");
    ao.max_idle_per_host = 1;
    c->agent = twc_http_agent_new(c->app.reactor, &ao, &err);
    if (c->agent == NULL) {
        rc = twc_fail(c->app.name, err.code == TWC_ETLS_CONFIG ? TWC_EXIT_NOINPUT : 1, "%s",
                      err.msg);
        goto out;
    }
    memset(&ro, 0, sizeof(ro));
    ro.method = twc_opts_str(&c->app.opts, "request");
    if (ro.method == NULL && twc_opts_num(&c->app.opts, "head") > 0)
        ro.method = "HEAD";
    ro.url = c->app.args.v[0];
    ro.headers = fields;
    ro.nheaders = nf;
    if (has_data) {
        ro.body = twc_buf_data(&body);
        ro.body_len = twc_buf_len(&body);
        ro.has_body = true;
    }
    if (twc_opts_num(&c->app.opts, "location") > 0)
        ro.max_redirects = (unsigned)twc_opts_num(&c->app.opts, "max-redirs");
    ro.on_body = on_body;
    ro.on_end = on_end;
    ro.on_redirect = on_redirect;
    ro.arg = c;
    c->req = twc_http_client_request_new(c->agent, &ro, &err);
    if (c->req == NULL) {
        rc = twc_fail(c->app.name, 0, "%s", err.msg);
        rc = exit_for(c, &err);
        goto out;
    }
    c->head = twc_http_client_request_head(c->req);
    twc_deferred_add_callbacks(c->head, on_head, on_head_failed, c);
    if (twc_opts_given(&c->app.opts, "max-time")) {
        c->deadline = twc_timer_new(c->app.reactor, on_deadline, c);
        if (c->deadline != NULL)
            twc_timer_start(c->deadline, (uint64_t)twc_opts_num(&c->app.opts, "max-time"), 0);
    }
    twc_reactor_on_signal(c->app.reactor, SIGINT, on_signal, c, NULL);
    twc_reactor_on_signal(c->app.reactor, SIGTERM, on_signal, c, NULL);
    if (twc_reactor_run(c->app.reactor) < 0 && c->exit_code == 0)
        c->exit_code = TWC_EXIT_SOFTWARE;
    twc_reactor_on_signal(c->app.reactor, SIGINT, NULL, NULL, NULL);
    twc_reactor_on_signal(c->app.reactor, SIGTERM, NULL, NULL, NULL);
    rc = c->exit_code;
out:
    if (c->req != NULL) {
        /* Cancelling runs on_end, which must not print over the real outcome. */
        if (c->exit_code == 0)
            c->exit_code = -1;
        twc_http_client_request_free(c->req);
        c->req = NULL;
    }
    twc_deferred_unref(c->head);
    twc_http_agent_free(c->agent);
    if (c->app.reactor != NULL) {
        /* Let closed connections finish on the loop before it goes away. */
        int i2;

        for (i2 = 0; i2 < 8; i2++)
            twc_reactor_run_once(c->app.reactor, 0);
    }
    twc_resolver_free(c->resolver);
    twc_timer_free(c->deadline);
    twc_stdio_cleanup(&c->io);
    if (c->out != NULL && fclose(c->out) != 0 && rc == 0)
        rc =
            twc_fail(c->app.name, CURL_WRITE_ERROR, "cannot write the output: %s", strerror(errno));
    if (store != NULL)
        for (i = 0; i < hv->nlist; i++)
            free(store[i]);
    free(store);
    free(fields);
    twc_buf_cleanup(&body);
    return rc;
}

int twc_client_http(int argc, char **argv)
{
    struct hc c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.app.log_system = "client";
    rc = twc_app_parse(&c.app, &twc_client_http_set, argc, argv);
    if (rc >= 0)
        goto out;
    if (c.app.args.n != 1) {
        rc = twc_fail(c.app.name, TWC_EXIT_USAGE, "expected one URL (see twc client http --help)");
        goto out;
    }
    c.include = twc_opts_num(&c.app.opts, "include") > 0 || twc_opts_num(&c.app.opts, "head") > 0;
    c.fail_on_error = twc_opts_num(&c.app.opts, "fail") > 0;
    rc = run(&c);
out:
    twc_app_cleanup(&c.app);
    return rc;
}
