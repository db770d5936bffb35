/*
 * twc client wait [--timeout S] ENDPOINT... [-- COMMAND...]
 *
 * Connects to every endpoint (tcp:HOST:PORT, unix:PATH) until each has
 * accepted once, retrying a failed attempt after WAIT_RETRY_MS, then runs
 * COMMAND (exec: its status becomes ours) or exits 0. At the timeout, exits 69
 * naming the endpoints that never answered and why (shared/CLI.md).
 *
 * An http:// or https:// URL is up once a GET of it is answered with a 2xx or
 * 3xx status (redirects are not followed: a 3xx already says a server is up);
 * other statuses and failures are retried like refused connections.
 *
 * Probe connections are closed as soon as they are made. Before the loop
 * stops, every pending attempt is cancelled and every probe connection has
 * reported connection_lost, so nothing is leaked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd/client.h"
#include "cmd/common.h"
#include "cmd/endpoint.h"
#include "lib/deferred.h"
#include "lib/protocol.h"
#include "lib/resolver.h"
#include "lib/stream.h"
#include "proto/http/client.h"

#define WAIT_RETRY_MS     100  /* pause between attempts on one endpoint */
#define WAIT_ATTEMPT_MS   1000 /* one attempt's connect timeout (a silent SYN drop) */
#define WAIT_HTTP_HEAD_MS 5000 /* an http:// attempt's wait for the response head */

struct waiter;

struct target {
    twc_factory factory; /* one per target: its callbacks find the target */
    twc_protocol proto;
    struct waiter *w;
    const char *spec; /* as the user wrote it (borrowed from argv) */
    char shown[TWC_HTTP_URL_MAX + 1]; /* spec for messages: a URL's userinfo removed */
    twc_addr addr;
    unsigned attempt_ms;
    twc_connector *conn;
    twc_timer *retry;
    int attempting, open, done;
    twc_err last;                  /* why the latest attempt failed */
    int http;                      /* an http(s):// URL */
    twc_http_client_request *hreq; /* its attempt in flight */
    int status;                    /* the attempt's response status, 0 before the head */
};

struct waiter {
    struct twc_app app;
    struct target *t;
    size_t n, ndone;
    twc_timer *deadline;
    int finishing;
    int exit_code;
    twc_resolver *resolver; /* http URLs with host names */
    twc_http_agent *agent;  /* http URLs */
};

static void check_finish(struct waiter *w)
{
    size_t i;

    if (!w->finishing)
        return;
    for (i = 0; i < w->n; i++) {
        if (w->t[i].attempting || w->t[i].open)
            return;
    }
    twc_reactor_stop(w->app.reactor);
}

/* Stop every pending attempt and retry; the loop ends once they reported. */
static void finish(struct waiter *w, int exit_code)
{
    size_t i;

    if (w->finishing)
        return;
    w->finishing = 1;
    w->exit_code = exit_code;
    twc_timer_stop(w->deadline);
    for (i = 0; i < w->n; i++) {
        twc_timer_stop(w->t[i].retry);
        if (w->t[i].attempting && w->t[i].http)
            twc_http_client_request_free(w->t[i].hreq); /* its on_end runs now */
        else if (w->t[i].attempting)
            twc_connector_stop(w->t[i].conn); /* connection_failed(ECANCELED) follows */
    }
    check_finish(w);
}

static void target_up(struct target *t);

static void http_head(void *arg, twc_result *r)
{
    struct target *t = arg;
    const struct twc_http_client_response *resp = twc_result_value(r);

    t->status = resp->status;
}

static void http_head_failed(void *arg, twc_result *r)
{
    (void)arg;
    twc_result_set(r, NULL, NULL); /* http_end reports it */
}

static void http_end(void *arg, const twc_err *err)
{
    struct target *t = arg;
    twc_http_client_request *req = t->hreq;

    t->hreq = NULL;
    t->attempting = 0;
    twc_http_client_request_free(req); /* safe from on_end */
    if (t->w->finishing) {
        check_finish(t->w);
        return;
    }
    if (err->code == 0 && t->status >= 200 && t->status < 400) {
        target_up(t);
        return;
    }
    if (err->code != 0)
        t->last = *err;
    else
        twc_err_set(&t->last, TWC_EPROTO, "answered with status %d", t->status);
    twc_log_debug(t->w->app.reactor, t->w->app.log_system, "%s: %s", t->shown, t->last.msg);
    twc_timer_start(t->retry, WAIT_RETRY_MS, 0);
}

/* One GET of an http(s) URL. Returns 0 or the code of an error known at once. */
static int attempt_http(struct target *t, twc_err *err)
{
    struct twc_http_client_request_opts o;
    twc_deferred *d;

    memset(&o, 0, sizeof(o));
    o.url = t->spec;
    o.on_end = http_end;
    o.arg = t;
    t->status = 0;
    t->hreq = twc_http_client_request_new(t->w->agent, &o, err);
    if (t->hreq == NULL)
        return err->code;
    d = twc_http_client_request_head(t->hreq);
    twc_deferred_add_callbacks(d, http_head, http_head_failed, t);
    twc_deferred_unref(d);
    return 0;
}

static void attempt(struct target *t)
{
    twc_err err;
    int rc;

    twc_err_clear(&err);
    if (t->http) {
        rc = attempt_http(t, &err);
    } else if (t->conn == NULL) {
        t->conn = twc_connector_new(t->w->app.reactor, &t->addr, t->attempt_ms, &t->factory, &err);
        rc = t->conn != NULL ? 0 : err.code;
    } else {
        rc = twc_connector_connect(t->conn, &err);
    }
    if (rc == 0) {
        t->attempting = 1;
        return;
    }
    t->last = err;
    twc_timer_start(t->retry, WAIT_RETRY_MS, 0);
}

static void on_retry(twc_timer *timer, void *arg)
{
    struct target *t = arg;

    (void)timer;
    if (!t->w->finishing)
        attempt(t);
}

static void probe_made(twc_protocol *p)
{
    twc_transport_lose_connection(p->transport);
}

static void probe_data(twc_protocol *p, const uint8_t *data, size_t len)
{
    (void)p;
    (void)data;
    (void)len; /* a banner, say: not our business */
}

static void probe_lost(twc_protocol *p, const twc_err *why)
{
    struct target *t = container_of(p, struct target, proto);

    (void)why;
    t->open = 0;
    check_finish(t->w);
}

static const struct twc_protocol_ops probe_ops = {
    .name = "wait",
    .connection_made = probe_made,
    .data_received = probe_data,
    .connection_lost = probe_lost,
};

static void target_up(struct target *t)
{
    struct waiter *w = t->w;

    t->done = 1;
    twc_log_debug(w->app.reactor, w->app.log_system, "%s %s", t->shown,
                  t->http ? "answers" : "accepts connections");
    if (++w->ndone == w->n)
        finish(w, TWC_EXIT_OK);
}

static twc_protocol *probe_build(twc_factory *f, const twc_addr *peer)
{
    struct target *t = container_of(f, struct target, factory);

    (void)peer;
    t->attempting = 0;
    t->open = 1;
    t->proto.ops = &probe_ops;
    target_up(t);
    return &t->proto;
}

static void probe_failed(twc_factory *f, const twc_err *why)
{
    struct target *t = container_of(f, struct target, factory);

    t->attempting = 0;
    if (t->w->finishing) {
        check_finish(t->w);
        return;
    }
    t->last = *why;
    twc_log_debug(t->w->app.reactor, t->w->app.log_system, "%s: %s", t->shown, why->msg);
    twc_timer_start(t->retry, WAIT_RETRY_MS, 0);
}

static const struct twc_factory_ops probe_factory_ops = {
    .build = probe_build,
    .connection_failed = probe_failed,
};

static void on_deadline(twc_timer *timer, void *arg)
{
    struct waiter *w = arg;
    size_t i;

    (void)timer;
    for (i = 0; i < w->n; i++) {
        const struct target *t = &w->t[i];

        if (!t->done)
            twc_fail(w->app.name, 0, "timed out after %.3g s waiting for %s (%s)",
                     (double)twc_opts_num(&w->app.opts, "timeout") / 1000.0, t->shown,
                     t->last.code != 0 ? t->last.msg : "no answer yet");
    }
    finish(w, TWC_EXIT_UNAVAILABLE);
}

static void on_signal(twc_reactor *r, int signo, void *arg)
{
    (void)r;
    finish(arg, 128 + signo);
}

/* Resolve the endpoint of t (before the loop starts). */
static int prepare(struct target *t, twc_err *err)
{
    struct twc_endpoint ep;

    if (strncasecmp(t->spec, "http://", 7) == 0 || strncasecmp(t->spec, "https://", 8) == 0) {
        struct twc_http_url u;

        t->http = 1;
        return twc_http_url_parse(&u, t->spec, err);
    }
    if (twc_endpoint_parse_client(&ep, t->spec, err) < 0)
        return TWC_EINVAL;
    t->attempt_ms = ep.timeout_ms != 0 ? ep.timeout_ms : WAIT_ATTEMPT_MS;
    if (ep.kind == TWC_EP_UNIX)
        return twc_addr_from_path(&t->addr, ep.path, err);
    return twc_client_resolve(ep.host, ep.port, SOCK_STREAM, &t->addr, err);
}

static int run_command(const char *name, char **argv)
{
    sigset_t none;
    int e;

    /* Ignored signals and the signal mask survive exec: give COMMAND the defaults
     * (the reactor ignores SIGPIPE and may block signals it reads via signalfd). */
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    fflush(stdout);
    execvp(argv[0], argv);
    e = errno;
    /* As the shell: 127 when the command is missing, 126 when it cannot run. */
    return twc_fail(name, e == ENOENT ? 127 : 126, "cannot run '%s': %s", argv[0], strerror(e));
}

int twc_client_wait(const struct twc_optset *set, int argc, char **argv)
{
    struct waiter w;
    twc_err err;
    size_t i, nep;
    char **cmd = NULL;
    int rc;

    memset(&w, 0, sizeof(w));
    w.app.log_system = "client";
    rc = twc_app_parse(&w.app, set, argc, argv);
    if (rc >= 0)
        goto out;
    nep = w.app.args.dashdash >= 0 ? (size_t)w.app.args.dashdash : (size_t)w.app.args.n;
    if (nep == 0) {
        rc = twc_fail(w.app.name, TWC_EXIT_USAGE, "no ENDPOINT to wait for (see twc %s --help)",
                      set->name);
        goto out;
    }
    if (w.app.args.dashdash >= 0) {
        if (w.app.args.dashdash == w.app.args.n) {
            rc = twc_fail(w.app.name, TWC_EXIT_USAGE, "no COMMAND after '--'");
            goto out;
        }
        cmd = w.app.args.v + w.app.args.dashdash;
    }
    w.t = calloc(nep, sizeof(*w.t));
    if (w.t == NULL) {
        rc = twc_fail(w.app.name, TWC_EXIT_SOFTWARE, "out of memory");
        goto out;
    }
    w.n = nep;
    for (i = 0; i < nep; i++) {
        w.t[i].w = &w;
        w.t[i].spec = w.app.args.v[i];
        if (strstr(w.t[i].spec, "://") != NULL)
            twc_http_url_redact(w.t[i].spec, w.t[i].shown, sizeof(w.t[i].shown));
        else
            snprintf(w.t[i].shown, sizeof(w.t[i].shown), "%s", w.t[i].spec);
        w.t[i].factory.ops = &probe_factory_ops;
        twc_err_clear(&err);
        if (prepare(&w.t[i], &err) < 0) {
            rc = twc_fail_err(w.app.name, &err, 1);
            goto out;
        }
    }
    rc = twc_app_start(&w.app);
    if (rc >= 0)
        goto out;
    w.deadline = twc_timer_new(w.app.reactor, on_deadline, &w);
    for (i = 0; i < nep && w.deadline != NULL; i++) {
        w.t[i].retry = twc_timer_new(w.app.reactor, on_retry, &w.t[i]);
        if (w.t[i].retry == NULL)
            break;
    }
    if (w.deadline == NULL || i < nep) {
        rc = twc_fail(w.app.name, TWC_EXIT_SOFTWARE, "out of memory");
        goto cleanup;
    }
    twc_reactor_on_signal(w.app.reactor, SIGINT, on_signal, &w, NULL);
    twc_reactor_on_signal(w.app.reactor, SIGTERM, on_signal, &w, NULL);
    for (i = 0; i < nep && w.agent == NULL; i++) {
        if (w.t[i].http) {
            /* Host names through /etc/hosts and $TWC_RESOLV_CONF (or
             * /etc/resolv.conf); without a resolver numeric URLs still work. */
            struct twc_resolver_opts ro = {.resolv_conf = getenv("TWC_RESOLV_CONF")};
            struct twc_http_agent_opts ao;

            w.resolver = twc_resolver_new(w.app.reactor, &ro, NULL);
            memset(&ao, 0, sizeof(ao));
            ao.resolver = w.resolver;
            ao.connect_timeout_ms = WAIT_ATTEMPT_MS;
            ao.head_timeout_ms = WAIT_HTTP_HEAD_MS;
            ao.max_idle_per_host = 1;
            twc_err_clear(&err);
            w.agent = twc_http_agent_new(w.app.reactor, &ao, &err);
            if (w.agent == NULL) {
                rc = twc_fail_err(w.app.name, &err, 1);
                goto cleanup;
            }
        }
    }
    twc_timer_start(w.deadline, (uint64_t)twc_opts_num(&w.app.opts, "timeout"), 0);
    for (i = 0; i < nep; i++)
        attempt(&w.t[i]);
    if (twc_reactor_run(w.app.reactor) < 0 && w.exit_code == 0)
        w.exit_code = TWC_EXIT_SOFTWARE;
    rc = w.exit_code;
    twc_reactor_on_signal(w.app.reactor, SIGINT, NULL, NULL, NULL);
    twc_reactor_on_signal(w.app.reactor, SIGTERM, NULL, NULL, NULL);
cleanup:
    if (w.agent != NULL) {
        twc_http_agent_free(w.agent); /* closes pooled connections */
        for (i = 0; i < 8; i++)
            twc_reactor_run_once(w.app.reactor, 0);
    }
    twc_resolver_free(w.resolver);
    for (i = 0; i < w.n; i++) {
        twc_http_client_request_free(w.t[i].hreq);
        twc_connector_free(w.t[i].conn);
        twc_timer_free(w.t[i].retry);
    }
    twc_timer_free(w.deadline);
    /* Our descriptors are all O_CLOEXEC: exec with the app still allocated. */
    if (rc == TWC_EXIT_OK && cmd != NULL)
        rc = run_command(w.app.name, cmd); /* returns only if exec failed */
out:
    free(w.t);
    twc_app_cleanup(&w.app);
    return rc;
}
