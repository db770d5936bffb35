/*
 * The server runtime (twistd's job): run the services that one or more
 * commands build, with the process behaviour of shared/CLI.md.
 *
 * A server command is a builder: a function that reads its parsed options and
 * adds services to a parent (lib/service.h). `twc echo` runs one builder;
 * `twc serve` runs one per config entry, all in one process. The runtime then:
 *
 *   --umask, --rundir, --pidfile check (75 when it names a live process)
 *   reactor + logger; build; bind every listener (`listening` events)
 *   --daemon (after binding, before any thread), pidfile written
 *   --workers=N: supervisor (cmd/workers.c) forks N workers that bind the same
 *     ports with SO_REUSEPORT; else, in this process:
 *   --chroot, --gid/--uid (initgroups, setgid, setuid), start, `ready`,
 *   READY=1; SIGHUP reopens logs and reloads; SIGTERM/SIGINT stop gracefully
 *   (listeners closed, connections drained for up to TWC_SHUTDOWN_GRACE_MS),
 *   STOPPING=1, `stopped`, exit 0.
 */
#ifndef TWC_CMD_SERVER_H
#define TWC_CMD_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "cmd/common.h"
#include "cmd/endpoint.h"
#include "cmd/options.h"
#include "lib/addr.h"
#include "lib/service.h"

struct twc_server;

/* Add the services of one command, configured by opts (borrowed; valid while
 * the services live), to parent. Returns 0 or a negative code with *err; a
 * TWC_EINVAL is a bad option value (exit 64, or 78 under `serve`). */
typedef int (*twc_build_fn)(struct twc_server *srv, const struct twc_opts *opts,
                            twc_service *parent, twc_err *err);

struct twc_server_spec {
    const char *command; /* "echo": the log system and service name */
    twc_build_fn build;
    const struct twc_opts *opts;
};

/* Called for every bound listener (twc serve's demo prints where to connect). */
typedef void (*twc_bound_fn)(void *arg, const char *system, const char *proto,
                             const twc_addr *bound, const char *path);

struct twc_server {
    struct twc_app *app; /* parsed global options; reactor and log once started */
    const struct twc_server_spec *specs;
    size_t nspecs;
    twc_service *root;
    /* The port plan: the real port of every IP listener, in bind order. The
     * supervisor records it; workers replay it, so `:0` means the same port in
     * every worker. */
    uint16_t *ports;
    size_t nports, next_port;
    int replay;    /* bind from the plan */
    int reuseport; /* SO_REUSEPORT on every IP listener (workers) */
    int quiet;     /* a worker: the supervisor logs listening/ready/stopped */
    int config; /* under `twc serve`: a bad option value names services[i], exit 78 */
    twc_bound_fn on_bound;
    void *on_bound_arg;
    /* Internal state of the run. */
    int stopping;
    int pidfd;        /* locked pid file, or -1 */
    int piddir;       /* its folder (to remove it after --chroot), or -1 */
    char *pidname;    /* its name in piddir */
    int daemon_fd;    /* --daemon: the pipe to the waiting parent, or -1 */
    int worker_fd;     /* a worker: the pipe to the supervisor (its stderr until ready), or -1 */
    int worker_stderr; /* a worker: the real stderr, restored once ready, or -1 */
    uint64_t grace_ms;
    int have_uid, have_gid; /* --uid / --gid, resolved before --chroot */
    uid_t uid;
    gid_t gid;
    char user[64]; /* --uid's user name, for initgroups; "" when given as a number */
};

/* Run specs (borrowed) with app's global options (app parsed, not started).
 * Returns the process exit code (shared/CLI.md); a startup error has been
 * printed as one line. */
int twc_server_main(struct twc_app *app, const struct twc_server_spec *specs, size_t nspecs);

/* twc_server_main for `twc serve`: config set makes a bad option value a
 * config error (exit 78 naming services[i]); on_bound (may be NULL) hears of
 * every bound listener. */
int twc_server_main_config(struct twc_app *app, const struct twc_server_spec *specs,
                           size_t nspecs, int config, twc_bound_fn on_bound, void *on_bound_arg);

/* Record or replay a bound port (see the port plan above). twc_server_plan_port
 * returns the port to bind for a listener asking for `port`; after binding,
 * twc_server_bound reports the real one. */
uint16_t twc_server_plan_port(struct twc_server *srv, uint16_t port);
int twc_server_bound(struct twc_server *srv, uint16_t port);

/* ---- Process pieces (cmd/daemon.c) ---------------------------------------- */

/* Check the global options that need no reactor: --umask, --rundir (chdir
 * now), --uid/--gid names, --chroot folder, --pidfile (locked; 75 when it names
 * a live process). Returns -1 to go on, or an exit code after printing. */
int twc_server_prepare(struct twc_server *srv);
/* --daemon: fork, setsid, fork. Returns -1 in the daemon (stdio still attached:
 * see twc_server_detached), or the parent's exit code once the daemon reported
 * ready or failed. */
int twc_server_daemonize(struct twc_server *srv);
/* Write our pid to the locked pid file (after daemonizing). */
void twc_server_write_pidfile(struct twc_server *srv);
/* Remove the pid file (clean exit). */
void twc_server_remove_pidfile(struct twc_server *srv);
/* --chroot, then --gid/--uid. Returns -1 or an exit code after printing. */
int twc_server_drop_privileges(struct twc_server *srv);
/* Startup done: tell the waiting --daemon parent (exit code 0) and point
 * stdio at /dev/null. */
void twc_server_detached(struct twc_server *srv);
/* Point stdin, stdout and stderr at /dev/null (a daemon's stdio). */
void twc_server_null_stdio(void);
/* A startup error in the daemon: report code to the waiting parent (the line
 * was already written to stderr, which the parent relays). */
void twc_server_report_failure(struct twc_server *srv, int code);

/* ---- Workers (cmd/workers.c) ------------------------------------------------ */

/* The --workers=N supervisor. srv is bound (listening logged, port plan
 * recorded). Returns the exit code. */
int twc_server_supervise(struct twc_server *srv, unsigned nworkers);

/* Build and bind srv->specs under a new root. Returns 0 or a code with *err. */
int twc_server_build(struct twc_server *srv, twc_err *err);
/* Run one process's services until stopped: drop privileges, start, ready,
 * signals, graceful stop. Returns the exit code. */
int twc_server_run(struct twc_server *srv);

#endif
