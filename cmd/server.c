/*
 * The server runtime (see server.h): the order of startup steps, and one
 * process's life from `ready` to `stopped`.
 *
 * The order matters and follows twistd: bind everything first (privileged
 * ports), then detach (--daemon forks while no thread exists), then write the
 * pid file (the daemon's pid), then give up privileges, and only then start
 * serving and say `ready`.
 */
#define _GNU_SOURCE
#include "cmd/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "lib/log.h"

uint16_t twc_server_plan_port(struct twc_server *srv, uint16_t port)
{
    if (srv->replay && srv->next_port < srv->nports)
        return srv->ports[srv->next_port++];
    return port;
}

int twc_server_bound(struct twc_server *srv, uint16_t port)
{
    uint16_t *p;

    if (srv->replay)
        return 0;
    p = realloc(srv->ports, (srv->nports + 1) * sizeof(*p));
    if (p == NULL)
        return TWC_ENOMEM;
    srv->ports = p;
    srv->ports[srv->nports++] = port;
    return 0;
}

int twc_server_build(struct twc_server *srv, twc_err *err)
{
    twc_reactor *r = srv->app->reactor;
    size_t i, j;
    int rc;

    srv->next_port = 0;
    srv->root = twc_multi_service_new(r, "twc");
    if (srv->root == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    for (i = 0; i < srv->nspecs; i++) {
        const struct twc_server_spec *sp = &srv->specs[i];
        char name[TWC_SERVICE_NAME_MAX];
        twc_service *m;
        unsigned same = 0;

        /* The first echo is "echo", the second "echo-2": names stay unique. */
        for (j = 0; j < i; j++)
            same += strcmp(srv->specs[j].command, sp->command) == 0;
        if (same == 0)
            snprintf(name, sizeof(name), "%s", sp->command);
        else
            snprintf(name, sizeof(name), "%s-%u", sp->command, same + 1);
        m = twc_multi_service_new(r, name);
        if (m == NULL)
            return twc_err_set(err, TWC_ENOMEM, "out of memory");
        if ((rc = twc_service_add(srv->root, m, err)) < 0) {
            twc_service_free(m);
            return rc;
        }
        if ((rc = sp->build(srv, sp->opts, m, err)) < 0) {
            if (srv->config && rc == TWC_EINVAL) {
                char msg[sizeof(err->msg)];

                snprintf(msg, sizeof(msg), "%s", err->msg);
                twc_err_set(err, TWC_EINVAL, "services[%zu] (%s): %s", i, sp->command, msg);
            }
            return rc;
        }
    }
    return twc_service_bind(srv->root, err);
}

/* ---- One process's life -------------------------------------------------- */

static void on_stopped(void *arg, twc_result *r)
{
    struct twc_server *srv = arg;

    if (!twc_result_ok(r)) {
        twc_log_warnx(srv->app->reactor, srv->app->log_system, "shutdown: %s",
                      twc_result_err(r)->msg);
        twc_result_set(r, NULL, NULL);
    }
    twc_reactor_stop(srv->app->reactor);
}

/* SIGTERM/SIGINT (shared/CLI.md): every service stops listening and drains;
 * what is still open after the grace period is aborted (the cancel). */
static void on_stop_signal(twc_reactor *r, int signo, void *arg)
{
    struct twc_server *srv = arg;
    twc_deferred *d;

    if (srv->stopping)
        return;
    srv->stopping = 1;
    twc_log_info(r, srv->app->log_system, "received %s, shutting down",
                 signo == SIGINT ? "SIGINT" : "SIGTERM");
    if (!srv->quiet)
        twc_app_notify(srv->app, "STOPPING=1");
    d = twc_service_stop(srv->root);
    if (twc_deferred_add_timeout(d, r, srv->grace_ms) < 0)
        twc_log_warnx(r, srv->app->log_system, "no grace timer: stopping without one");
    twc_deferred_add_both(d, on_stopped, srv);
    twc_deferred_unref(d);
}

/* SIGHUP: reopen the log, then let every service reload its files. */
static void on_hangup(twc_reactor *r, int signo, void *arg)
{
    struct twc_server *srv = arg;

    (void)r;
    (void)signo;
    twc_app_reopen_log(srv->app);
    twc_service_reload(srv->root);
}

int twc_server_run(struct twc_server *srv)
{
    twc_reactor *r = srv->app->reactor;
    twc_err err;
    int rc;

    if ((rc = twc_server_drop_privileges(srv)) >= 0)
        return rc;
    twc_err_clear(&err);
    if (twc_service_start(srv->root, &err) < 0)
        return twc_fail_err(srv->app->name, &err, 0);
    if (twc_reactor_on_signal(r, SIGTERM, on_stop_signal, srv, &err) < 0 ||
        twc_reactor_on_signal(r, SIGINT, on_stop_signal, srv, &err) < 0 ||
        twc_reactor_on_signal(r, SIGHUP, on_hangup, srv, &err) < 0)
        return twc_fail_err(srv->app->name, &err, 0);
    if (srv->quiet) {
        /* A worker: tell the supervisor, which logs `ready` once for all. */
        if (srv->worker_fd >= 0) {
            /* A NUL never occurs in text: it marks "ready" after any output. */
            (void)!write(srv->worker_fd, "", 1);
            if (srv->worker_stderr >= 0) {
                dup2(srv->worker_stderr, STDERR_FILENO);
                close(srv->worker_stderr);
                srv->worker_stderr = -1;
            }
            close(srv->worker_fd);
            srv->worker_fd = -1;
        }
    } else {
        twc_app_ready(srv->app);
    }
    twc_server_detached(srv);
    rc = twc_reactor_run(r) < 0 ? TWC_EXIT_SOFTWARE : TWC_EXIT_OK;
    twc_reactor_on_signal(r, SIGTERM, NULL, NULL, NULL);
    twc_reactor_on_signal(r, SIGINT, NULL, NULL, NULL);
    twc_reactor_on_signal(r, SIGHUP, NULL, NULL, NULL);
    if (!srv->quiet)
        twc_log_stopped(r, srv->app->log_system);
    return rc;
}

/* TWC_SHUTDOWN_GRACE_MS, or $TWC_SHUTDOWN_GRACE_MS (tests shorten it). */
static uint64_t grace_ms(void)
{
    const char *s = getenv("TWC_SHUTDOWN_GRACE_MS");
    uint64_t v;

    if (s != NULL && twc_parse_u64(s, strlen(s), 0, 3600 * 1000, &v) == 0)
        return v;
    return TWC_SHUTDOWN_GRACE_MS;
}

/* Services freed after the loop stopped can still have work that only the
 * loop completes: connections aborted at the end of the grace period whose
 * handlers finish from their connection_lost (cmd/web.c frees its resource
 * tree only then), an HTTP agent's pooled upstream connections closing. Turn
 * the loop until no handle and no queued call is left, for a bounded time;
 * what is still open then is left to the exit. */
static void linger(twc_reactor *r, const char *system)
{
    uint64_t end;
    int rc;

    if (r == NULL)
        return;
    twc_reactor_update_time(r);
    end = twc_reactor_now(r) + TWC_SHUTDOWN_LINGER_MS;
    rc = twc_reactor_run_once(r, 0);
    while (rc > 0 && twc_reactor_now(r) < end)
        rc = twc_reactor_run_once(r, (int)(end - twc_reactor_now(r)));
    if (rc > 0)
        twc_log_warnx(r, system, "exiting with %zu handles still open",
                      twc_reactor_live_handles(r));
}

int twc_server_main(struct twc_app *app, const struct twc_server_spec *specs, size_t nspecs)
{
    return twc_server_main_config(app, specs, nspecs, 0, NULL, NULL);
}

int twc_server_main_config(struct twc_app *app, const struct twc_server_spec *specs,
                           size_t nspecs, int config, twc_bound_fn on_bound, void *on_bound_arg)
{
    struct twc_server srv;
    unsigned workers = (unsigned)twc_opts_num(&app->global, "workers");
    twc_err err;
    int rc;

    memset(&srv, 0, sizeof(srv));
    srv.app = app;
    srv.specs = specs;
    srv.nspecs = nspecs;
    srv.pidfd = srv.piddir = srv.daemon_fd = srv.worker_fd = srv.worker_stderr = -1;
    srv.grace_ms = grace_ms();
    srv.config = config;
    srv.on_bound = on_bound;
    srv.on_bound_arg = on_bound_arg;
    if ((rc = twc_server_prepare(&srv)) >= 0)
        goto out;
    if (workers > 1) {
        /* The supervisor's own loop has no kernel state (poll), so a forked
         * worker can drop it without touching the supervisor's. */
        app->backend = "poll";
        srv.reuseport = 1;
    }
    if ((rc = twc_app_start(app)) >= 0)
        goto out;
    twc_err_clear(&err);
    if (twc_server_build(&srv, &err) < 0) {
        rc = srv.config && err.code == TWC_EINVAL
                 ? twc_fail(app->name, TWC_EXIT_CONFIG, "%s", err.msg)
                 : twc_fail_err(app->name, &err, 0);
        goto out;
    }
    if (twc_opts_given(&app->global, "daemon") && (rc = twc_server_daemonize(&srv)) >= 0)
        goto out;
    twc_server_write_pidfile(&srv);
    if (workers > 1)
        rc = twc_server_supervise(&srv, workers);
    else
        rc = twc_server_run(&srv);
out:
    /* A daemon that fails before `ready` tells its waiting parent why. */
    if (srv.daemon_fd >= 0)
        twc_server_report_failure(&srv, rc);
    twc_service_free(srv.root);
    srv.root = NULL;
    linger(app->reactor, app->log_system);
    twc_server_remove_pidfile(&srv);
    free(srv.ports);
    free(srv.pidname);
    return rc;
}
