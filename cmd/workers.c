/*
 * --workers=N: a supervisor process and N workers sharing the listeners
 * (shared/CLI.md; nginx's master/worker model).
 *
 * The supervisor binds every endpoint first, with SO_REUSEPORT, which logs
 * the `listening` events and records each real port in the port plan, so
 * `tcp:0` names one port for all. It then forks the workers. Each worker drops
 * the supervisor's state (its reactor uses the poll backend, which keeps
 * nothing in the kernel, so dropping it in the child cannot disturb the
 * parent), builds the same services again on a reactor of its own, binds the
 * planned ports with SO_REUSEPORT (the kernel spreads connections across the
 * workers), drops privileges and reports ready on a pipe, which is also its
 * stderr until then: a worker's startup error reaches the supervisor, which
 * prints the first one only, so a failed start is one line as for any server.
 * Once all are ready, the supervisor closes its own sockets (it never
 * accepts) and logs `ready`.
 *
 * Afterwards the supervisor only supervises: a worker that dies is restarted
 * (giving up, exit 1, after TWC_WORKER_RESTARTS_MAX restarts in a row that
 * died before they were ready), SIGTERM/SIGINT/SIGHUP are forwarded, and it
 * exits 0 once every worker is gone after a stop.
 */
#define _GNU_SOURCE
#include "cmd/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"

#define TWC_WORKER_RESTARTS_MAX 5       /* restarts in a row that die before ready */
#define TWC_WORKER_KILL_AFTER_MS 5000   /* after the grace period: SIGKILL stragglers */
#define TWC_WORKER_STARTUP_MS    30000  /* every worker must be ready by then */

struct worker {
    struct supervisor *sup;
    unsigned index;
    pid_t pid;  /* 0: not running */
    int fd;     /* read end of its ready pipe, or -1 */
    twc_io *io; /* watching fd */
    int ready;
    char out[1024]; /* what it wrote before ready (its startup error), NUL-terminated */
    size_t nout;
};

struct supervisor {
    struct twc_server *srv;
    twc_reactor *r;
    const char *system;
    struct worker *w;
    unsigned n;
    int starting; /* until every first worker is ready */
    int stopping;
    int failures; /* restarts in a row that died before ready */
    int reported; /* a startup error was printed */
    int rc;
    twc_timer *deadline; /* startup limit, then the SIGKILL timer of a stop */
};

static void close_pipe(struct worker *w)
{
    twc_io_free(w->io);
    w->io = NULL;
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
}

static unsigned live(const struct supervisor *sup)
{
    unsigned i, n = 0;

    for (i = 0; i < sup->n; i++)
        n += sup->w[i].pid > 0;
    return n;
}

static void signal_all(struct supervisor *sup, int signo)
{
    unsigned i;

    for (i = 0; i < sup->n; i++) {
        if (sup->w[i].pid > 0)
            kill(sup->w[i].pid, signo);
    }
}

/* ---- In the worker ---------------------------------------------------------- */

/* Runs in the forked child: never returns. */
static void worker_main(struct supervisor *sup, struct worker *me, int ready_fd)
{
    struct twc_server *srv = sup->srv;
    struct twc_app *app = srv->app;
    struct twc_reactor_opts ro = {NULL, 0};
    twc_err err;
    unsigned i;
    int rc;

    /* Drop the supervisor's state: its sockets (our copies), pipes and loop. */
    for (i = 0; i < sup->n; i++)
        close_pipe(&sup->w[i]);
    twc_timer_free(sup->deadline);
    sup->deadline = NULL;
    twc_service_free(srv->root);
    srv->root = NULL;
    if (srv->pidfd >= 0)
        close(srv->pidfd);
    if (srv->piddir >= 0)
        close(srv->piddir);
    srv->pidfd = srv->piddir = -1;
    if (srv->daemon_fd >= 0) {
        /* The supervisor is a daemon that has not detached yet: its workers
         * must not keep the terminal, or the waiting parent's pipe, open. */
        close(srv->daemon_fd);
        srv->daemon_fd = -1;
        twc_server_null_stdio();
    }
    twc_reactor_set_log(app->reactor, NULL);
    twc_reactor_free(app->reactor);
    app->reactor = NULL;

    ro.backend = twc_opts_str(&app->global, "reactor");
    twc_err_clear(&err);
    app->reactor = twc_reactor_new(&ro, &err);
    if (app->reactor == NULL)
        _exit(twc_fail_err(app->name, &err, 0));
    twc_reactor_set_log(app->reactor, app->log);
    /* Until ready, stderr is the pipe: a startup error goes to the supervisor. */
    srv->worker_stderr = dup(STDERR_FILENO);
    if (srv->worker_stderr >= 0)
        dup2(ready_fd, STDERR_FILENO);
    srv->replay = 1;
    srv->quiet = 1;
    srv->on_bound = NULL; /* the supervisor already said where it listens */
    srv->stopping = 0;
    srv->worker_fd = ready_fd;
    twc_log_debug(app->reactor, sup->system, "worker %u started", me->index);
    if (twc_server_build(srv, &err) < 0)
        rc = twc_fail_err(app->name, &err, 0);
    else
        rc = twc_server_run(srv);
    twc_service_free(srv->root);
    srv->root = NULL;
    twc_reactor_set_log(app->reactor, NULL);
    twc_reactor_free(app->reactor);
    /* _exit: the supervisor owns the pid file and atexit state. */
    _exit(rc);
}

/* ---- In the supervisor -------------------------------------------------------- */

/* Read what the worker wrote: 1 once it is ready (a NUL), -1 at EOF, 0 after
 * reading some text, 2 when there is nothing to read now. */
static int read_pipe(struct worker *w)
{
    char buf[512];
    ssize_t n, i;

    for (;;) {
        n = read(w->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 2;
        if (n <= 0)
            return -1;
        for (i = 0; i < n; i++) {
            if (buf[i] == '\0') {
                /* Output before ready (debug lines) goes where it would have. */
                (void)!write(STDERR_FILENO, w->out, w->nout);
                (void)!write(STDERR_FILENO, buf, (size_t)i);
                w->nout = 0;
                return 1;
            }
            if (w->nout + 1 < sizeof(w->out)) {
                w->out[w->nout++] = buf[i];
                w->out[w->nout] = '\0';
            }
        }
        return 0; /* level-triggered: the loop calls again while there is more */
    }
}

static void on_ready_pipe(twc_io *io, unsigned events, void *arg)
{
    struct worker *w = arg;
    struct supervisor *sup = w->sup;
    unsigned i;
    int rc;

    (void)io;
    (void)events;
    rc = read_pipe(w);
    if (rc == 0 || rc == 2)
        return;
    close_pipe(w); /* ready, or the worker is dying (SIGCHLD tells) */
    if (rc < 0)
        return;
    w->ready = 1;
    if (!sup->starting) {
        sup->failures = 0;
        twc_log_info(sup->r, sup->system, "worker %u restarted (pid %ld)", w->index,
                     (long)w->pid);
        return;
    }
    for (i = 0; i < sup->n; i++) {
        if (!sup->w[i].ready)
            return;
    }
    /* Every worker serves: let go of the supervisor's own sockets, which
     * would otherwise get a share of the connections and never accept them. */
    sup->starting = 0;
    twc_timer_stop(sup->deadline);
    twc_service_free(sup->srv->root);
    sup->srv->root = NULL;
    twc_app_ready(sup->srv->app);
    twc_server_detached(sup->srv);
}

static int spawn(struct supervisor *sup, struct worker *w)
{
    int p[2];
    pid_t pid;

    w->ready = 0;
    w->nout = 0;
    if (pipe2(p, O_CLOEXEC) < 0) {
        twc_log_error(sup->r, sup->system, "cannot start worker %u: pipe", w->index);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        twc_log_error(sup->r, sup->system, "cannot start worker %u: fork", w->index);
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        worker_main(sup, w, p[1]);
    }
    close(p[1]);
    w->pid = pid;
    w->fd = p[0];
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    w->io = twc_io_new(sup->r, p[0], on_ready_pipe, w);
    if (w->io == NULL || twc_io_set(w->io, TWC_IO_READ) < 0) {
        close_pipe(w);
        twc_log_errorx(sup->r, sup->system, "cannot watch worker %u", w->index);
    }
    return 0;
}

static void stop_all(struct supervisor *sup, int rc)
{
    if (sup->stopping)
        return;
    sup->stopping = 1;
    sup->rc = rc;
    twc_app_notify(sup->srv->app, "STOPPING=1");
    signal_all(sup, SIGTERM);
    /* Workers drain for the grace period; past it (and a margin), kill them. */
    twc_timer_start(sup->deadline, sup->srv->grace_ms + TWC_WORKER_KILL_AFTER_MS, 0);
    if (live(sup) == 0)
        twc_reactor_stop(sup->r);
}

static void on_deadline(twc_timer *t, void *arg)
{
    struct supervisor *sup = arg;

    (void)t;
    if (sup->stopping) {
        twc_log_warnx(sup->r, sup->system, "killing %u workers still running", live(sup));
        signal_all(sup, SIGKILL);
        return;
    }
    twc_log_errorx(sup->r, sup->system, "workers not ready after %d ms", TWC_WORKER_STARTUP_MS);
    stop_all(sup, TWC_EXIT_SOFTWARE);
}

static void on_term(twc_reactor *r, int signo, void *arg)
{
    struct supervisor *sup = arg;

    twc_log_info(r, sup->system, "received %s, stopping %u workers",
                 signo == SIGINT ? "SIGINT" : "SIGTERM", live(sup));
    stop_all(sup, TWC_EXIT_OK);
}

static void on_hup(twc_reactor *r, int signo, void *arg)
{
    struct supervisor *sup = arg;

    (void)r;
    twc_app_reopen_log(sup->srv->app);
    signal_all(sup, signo);
}

static void worker_exited(struct supervisor *sup, struct worker *w, int status)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : TWC_EXIT_SOFTWARE;
    int was_ready = w->ready;

    /* The worker is gone, so its end of the pipe is closed: this ends. */
    if (w->fd >= 0)
        while (read_pipe(w) == 0)
            ;
    close_pipe(w);
    w->pid = 0;
    w->ready = 0;
    if (sup->starting && !sup->stopping) {
        /* A first worker could not start: say why, once, as one line. */
        if (!sup->reported) {
            sup->reported = 1;
            if (w->nout > 0)
                (void)!write(STDERR_FILENO, w->out, w->nout);
            else
                twc_fail(sup->srv->app->name, TWC_EXIT_SOFTWARE,
                         "worker %u exited during startup (status %d)", w->index, code);
        }
        stop_all(sup, code != 0 ? code : TWC_EXIT_SOFTWARE);
        return;
    }
    if (sup->stopping)
        return;
    if (w->nout > 0)
        twc_log_errorx(sup->r, sup->system, "worker %u: %.*s", w->index,
                       (int)strcspn(w->out, "\n"), w->out);
    if (WIFSIGNALED(status))
        twc_log_warnx(sup->r, sup->system, "worker %u killed by signal %d", w->index,
                      WTERMSIG(status));
    else
        twc_log_warnx(sup->r, sup->system, "worker %u exited with status %d", w->index, code);
    if (!was_ready && ++sup->failures >= TWC_WORKER_RESTARTS_MAX) {
        twc_log_errorx(sup->r, sup->system, "worker %u cannot be restarted; giving up", w->index);
        stop_all(sup, TWC_EXIT_FAILURE);
        return;
    }
    if (spawn(sup, w) < 0)
        stop_all(sup, TWC_EXIT_FAILURE);
}

static void on_child(twc_reactor *r, int signo, void *arg)
{
    struct supervisor *sup = arg;
    int status;
    pid_t pid;
    unsigned i;

    (void)r;
    (void)signo;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < sup->n; i++) {
            if (sup->w[i].pid == pid) {
                worker_exited(sup, &sup->w[i], status);
                break;
            }
        }
    }
    if (sup->stopping && live(sup) == 0)
        twc_reactor_stop(sup->r);
}

int twc_server_supervise(struct twc_server *srv, unsigned nworkers)
{
    struct supervisor sup;
    twc_reactor *r = srv->app->reactor;
    twc_err err;
    unsigned i;
    int rc = TWC_EXIT_OK;

    memset(&sup, 0, sizeof(sup));
    sup.rc = TWC_EXIT_OK;
    sup.srv = srv;
    sup.r = r;
    sup.system = srv->app->log_system;
    sup.n = nworkers;
    sup.starting = 1;
    sup.w = calloc(nworkers, sizeof(*sup.w));
    sup.deadline = twc_timer_new(r, on_deadline, &sup);
    for (i = 0; sup.w != NULL && i < nworkers; i++)
        sup.w[i].fd = -1;
    if (sup.w == NULL || sup.deadline == NULL) {
        free(sup.w);
        twc_timer_free(sup.deadline);
        return twc_fail(srv->app->name, TWC_EXIT_SOFTWARE, "out of memory");
    }
    twc_err_clear(&err);
    if (twc_reactor_on_signal(r, SIGTERM, on_term, &sup, &err) < 0 ||
        twc_reactor_on_signal(r, SIGINT, on_term, &sup, &err) < 0 ||
        twc_reactor_on_signal(r, SIGHUP, on_hup, &sup, &err) < 0 ||
        twc_reactor_on_signal(r, SIGCHLD, on_child, &sup, &err) < 0) {
        rc = twc_fail_err(srv->app->name, &err, 0);
        goto out;
    }
    for (i = 0; i < nworkers; i++) {
        sup.w[i].sup = &sup;
        sup.w[i].index = i;
        sup.w[i].fd = -1;
    }
    twc_timer_start(sup.deadline, TWC_WORKER_STARTUP_MS, 0);
    for (i = 0; i < nworkers; i++) {
        if (spawn(&sup, &sup.w[i]) < 0) {
            stop_all(&sup, TWC_EXIT_SOFTWARE);
            break;
        }
    }
    if (twc_reactor_run(r) < 0 && sup.rc == 0)
        sup.rc = TWC_EXIT_SOFTWARE;
    rc = sup.rc;
    if (rc == TWC_EXIT_OK)
        twc_log_stopped(r, sup.system);
out:
    for (i = 0; i < nworkers; i++)
        close_pipe(&sup.w[i]);
    twc_reactor_on_signal(r, SIGTERM, NULL, NULL, NULL);
    twc_reactor_on_signal(r, SIGINT, NULL, NULL, NULL);
    twc_reactor_on_signal(r, SIGHUP, NULL, NULL, NULL);
    twc_reactor_on_signal(r, SIGCHLD, NULL, NULL, NULL);
    twc_timer_free(sup.deadline);
    free(sup.w);
    return rc;
}
