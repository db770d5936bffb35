/*
 * Global options, reactor/logger setup, exit codes and the startup-error line
 * shared by every command (see common.h).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const struct twc_option global_opts[] = {
    {"log-format", 0, TWC_OPT_STRING, 0, NULL, NULL, "text|json", 0, 0,
     "log line format (default: text if stderr is a terminal, else json)"},
    {"log-file", 0, TWC_OPT_PATH, 0, NULL, NULL, NULL, 0, 0,
     "log to this file instead of stderr; reopened on SIGHUP"},
    {"log-level", 0, TWC_OPT_STRING, 0, NULL, "info", "debug|info|warn|error", 0, 0,
     "lowest level logged (listening, ready and stopped are always logged)"},
    {"reactor", 0, TWC_OPT_STRING, 0, NULL, NULL, "epoll|poll", 0, 0,
     "event backend (also $TWC_REACTOR; default: the best available)"},
    {"daemon", 0, TWC_OPT_FLAG, 0, NULL, NULL, NULL, 0, 0,
     "detach once every listener is bound; the parent exits 0 when the server is ready"},
    {"pidfile", 0, TWC_OPT_PATH, 0, NULL, NULL, NULL, 0, 0,
     "write the server's pid there (locked); refuse to start if it names a live process"},
    {"uid", 0, TWC_OPT_STRING, 0, "USER|N", NULL, NULL, 0, 0,
     "switch to this user after binding"},
    {"gid", 0, TWC_OPT_STRING, 0, "GROUP|N", NULL, NULL, 0, 0,
     "switch to this group after binding (default: the --uid user's group)"},
    {"chroot", 0, TWC_OPT_PATH, 0, "DIR", NULL, NULL, 0, 0,
     "chroot to DIR after binding"},
    {"umask", 0, TWC_OPT_STRING, 0, "OCTAL", NULL, NULL, 0, 0,
     "file mode creation mask, e.g. 022"},
    {"rundir", 0, TWC_OPT_PATH, 0, "DIR", NULL, NULL, 0, 0,
     "change to DIR before starting (relative paths are relative to it)"},
    {"workers", 0, TWC_OPT_INT, 0, NULL, "1", NULL, 1, 256,
     "run N worker processes sharing the listeners (SO_REUSEPORT)"},
};

const struct twc_optset twc_global_optset = {
    "[GLOBAL OPTIONS]",
    "",
    "global options, accepted before or after the command",
    global_opts,
    sizeof(global_opts) / sizeof(global_opts[0]),
    0,
    NULL,
    NULL,
};

/* One write(2) so the line never interleaves with log lines of other processes. */
static void write_stderr_line(const char *line)
{
    size_t len = strlen(line);

    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, line, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        line += n;
        len -= (size_t)n;
    }
}

int twc_fail(const char *name, int exit_code, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    n = snprintf(line, sizeof(line), "twc %s: ", name);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = (int)strlen(line);
    line[n] = '\n';
    line[n + 1] = '\0';
    write_stderr_line(line);
    return exit_code;
}

/* The exit code for err: its code, refined by the errno behind it for errors
 * about files (a certificate that cannot be opened is 66, one that does not
 * parse is 65: shared/CLI.md). */
static int exit_code_of(const twc_err *err, int client)
{
    switch (err->sys_errno) {
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
        if (err->code == TWC_ETLS_CONFIG)
            return TWC_EXIT_NOINPUT;
        break;
    case EACCES:
    case EPERM:
        if (err->code == TWC_ETLS_CONFIG)
            return TWC_EXIT_NOPERM;
        break;
    default:
        break;
    }
    if (err->code == TWC_ETLS_CONFIG)
        return TWC_EXIT_DATAERR;
    return twc_exit_code(err->code, client);
}

int twc_fail_err(const char *name, const twc_err *err, int client)
{
    return twc_fail(name, exit_code_of(err, client), "%s",
                    err->msg[0] != '\0' ? err->msg : twc_strerror(err->code));
}

int twc_exit_code(int code, int client)
{
    if (code == 0)
        return TWC_EXIT_OK;
    switch (code) {
    case TWC_EINVAL:
        return TWC_EXIT_USAGE;
    case -EADDRINUSE:
    case -EADDRNOTAVAIL:
    case -ENODEV:
        return TWC_EXIT_UNAVAILABLE;
    case -EACCES:
    case -EPERM:
        return TWC_EXIT_NOPERM;
    case -ENOENT:
    case -ENOTDIR:
    case -EISDIR:
        return TWC_EXIT_NOINPUT;
    case TWC_EINTERNAL:
    case TWC_ENOMEM:
        return TWC_EXIT_SOFTWARE;
    default:
        break;
    }
    if (client) {
        switch (code) {
        case -ECONNREFUSED:
        case -ETIMEDOUT:
        case TWC_ETIMEDOUT:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -ECONNRESET:
        case -ECONNABORTED:
            return TWC_EXIT_UNAVAILABLE;
        default:
            return twc_err_domain_of(code) == TWC_DOMAIN_DNS ? TWC_EXIT_UNAVAILABLE
                                                             : TWC_EXIT_FAILURE;
        }
    }
    /* A server that cannot start for a reason not listed in CLI.md. */
    return TWC_EXIT_SOFTWARE;
}

int twc_app_parse(struct twc_app *app, const struct twc_optset *set, int argc, char **argv)
{
    twc_err err;
    int rc;

    if (app->name == NULL)
        app->name = set->name;
    if (app->log_system == NULL)
        app->log_system = app->name;
    app->set = set;
    if (twc_opts_init(&app->opts, set) < 0 || twc_opts_init(&app->global, &twc_global_optset) < 0)
        return twc_fail(app->name, TWC_EXIT_SOFTWARE, "out of memory");
    twc_err_clear(&err);
    rc = twc_opts_parse(&app->opts, &app->global, argc, argv, &app->args, &err);
    if (rc == TWC_OPTS_HELP) {
        twc_opts_help(stdout, set, &twc_global_optset);
        return TWC_EXIT_OK;
    }
    if (rc < 0)
        return twc_fail(app->name, rc == TWC_ENOMEM ? TWC_EXIT_SOFTWARE : TWC_EXIT_USAGE,
                        "%s (see twc %s --help)", err.msg, set->name);
    return -1;
}

void twc_app_reopen_log(struct twc_app *app)
{
    twc_err err;

    twc_err_clear(&err);
    if (twc_log_reopen(app->log, &err) < 0)
        twc_log_errorx(app->reactor, app->log_system, "cannot reopen log: %s", err.msg);
    else
        twc_log_debug(app->reactor, app->log_system, "log reopened");
}

static void on_sighup(twc_reactor *r, int signo, void *arg)
{
    (void)r;
    (void)signo;
    twc_app_reopen_log(arg);
}

int twc_app_start(struct twc_app *app)
{
    struct twc_reactor_opts ro = {NULL, 0};
    twc_log_format fmt;
    twc_log_level level = TWC_LOG_INFO;
    const char *file = twc_opts_str(&app->global, "log-file");
    twc_err err;

    twc_err_clear(&err);
    if (twc_opts_given(&app->global, "log-format"))
        twc_log_format_parse(twc_opts_str(&app->global, "log-format"), &fmt);
    else
        fmt = file == NULL && isatty(STDERR_FILENO) ? TWC_LOG_TEXT : TWC_LOG_JSON;
    twc_log_level_parse(twc_opts_str(&app->global, "log-level"), &level);
    app->log = twc_log_new(fmt, level, file, &err);
    if (app->log == NULL)
        return twc_fail_err(app->name, &err, 0);
    ro.backend = app->backend != NULL ? app->backend : twc_opts_str(&app->global, "reactor");
    app->reactor = twc_reactor_new(&ro, &err);
    if (app->reactor == NULL) {
        /* $TWC_REACTOR naming an unknown backend is a usage error too. */
        return twc_fail_err(app->name, &err, 0);
    }
    twc_reactor_set_log(app->reactor, app->log);
    if (twc_reactor_on_signal(app->reactor, SIGHUP, on_sighup, app, &err) < 0)
        return twc_fail_err(app->name, &err, 0);
    return -1;
}

/* systemd's sd_notify(3) protocol: one datagram ("READY=1") to $NOTIFY_SOCKET
 * (a path, or "@name" for the abstract namespace). Best effort. */
static void notify(twc_reactor *r, const char *system, const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    socklen_t len;
    size_t plen;
    int fd;

    if (path == NULL || path[0] == '\0')
        return;
    plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
        twc_log_warnx(r, system, "ignoring NOTIFY_SOCKET '%s'", path);
        return;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, plen);
    if (path[0] == '@')
        sun.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0)
        twc_log_warn(r, system, "cannot notify systemd at %s", path);
    if (fd >= 0)
        close(fd);
}

void twc_app_ready(struct twc_app *app)
{
    twc_log_ready(app->reactor, app->log_system);
    notify(app->reactor, app->log_system, "READY=1");
}

void twc_app_notify(struct twc_app *app, const char *state)
{
    notify(app->reactor, app->log_system, state);
}

void twc_app_cleanup(struct twc_app *app)
{
    if (app->reactor != NULL) {
        twc_reactor_on_signal(app->reactor, SIGHUP, NULL, NULL, NULL);
        twc_reactor_set_log(app->reactor, NULL);
        twc_reactor_free(app->reactor);
        app->reactor = NULL;
    }
    twc_log_free(app->log);
    app->log = NULL;
    if (app->set != NULL) {
        twc_opts_cleanup(&app->opts);
        twc_opts_cleanup(&app->global);
    }
    free(app->args.v);
    app->args.v = NULL;
}
