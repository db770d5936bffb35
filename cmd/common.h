/*
 * What every command shares: the global options of shared/CLI.md, the
 * reactor and logger they configure, the startup-error one-liner, and the
 * mapping from TWC_E* codes to the exit codes of shared/CLI.md (sysexits).
 *
 * Only cmd/ prints to stdout/stderr directly and exits (shared/STYLE.md §2).
 */
#ifndef TWC_CMD_COMMON_H
#define TWC_CMD_COMMON_H

#include "cmd/options.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/reactor.h"

/* Exit codes (shared/CLI.md "Signals and exit codes"; BSD sysexits.h values). */
enum {
    TWC_EXIT_OK = 0,
    TWC_EXIT_FAILURE = 1,
    TWC_EXIT_USAGE = 64,       /* EX_USAGE: unknown option, bad value, missing argument */
    TWC_EXIT_DATAERR = 65,     /* EX_DATAERR: malformed input file */
    TWC_EXIT_NOINPUT = 66,     /* EX_NOINPUT: input file missing or unreadable */
    TWC_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: address in use; client: cannot connect */
    TWC_EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: internal error */
    TWC_EXIT_TEMPFAIL = 75,    /* EX_TEMPFAIL: --pidfile names a live process */
    TWC_EXIT_NOPERM = 77,      /* EX_NOPERM: permission denied */
    TWC_EXIT_CONFIG = 78,      /* EX_CONFIG: bad serve config */
};

/* The global options (long only), accepted before or after the command. */
extern const struct twc_optset twc_global_optset;

/* One running command. Caller-owned: zero it, then twc_app_parse, twc_app_start,
 * ..., twc_app_cleanup. */
struct twc_app {
    const char *name; /* "echo", "client wait": names the command in messages */
    const struct twc_optset *set;
    struct twc_opts opts;   /* the command's own options */
    struct twc_opts global; /* global options */
    struct twc_args args;   /* positional arguments */
    twc_reactor *reactor;   /* after twc_app_start */
    twc_log *log;           /* after twc_app_start */
    const char *log_system; /* "system" of the command's log lines (default: name) */
    const char *backend;    /* overrides --reactor (the --workers supervisor uses poll) */
};

/* Parse argv (argv[0] is the command word) for set plus the global options.
 * Returns -1 to go on, or an exit code to return at once: 0 after --help (printed
 * on stdout), 64 after a usage error (one line on stderr). */
int twc_app_parse(struct twc_app *app, const struct twc_optset *set, int argc, char **argv);

/* Create the reactor (--reactor) and the logger (--log-format, --log-file,
 * --log-level) and reopen the log on SIGHUP. Returns -1 to go on, or an exit code
 * after printing the startup error. */
int twc_app_start(struct twc_app *app);

/* Log `ready` and tell systemd (NOTIFY_SOCKET, READY=1) when it asked. */
void twc_app_ready(struct twc_app *app);

/* Send one sd_notify(3) state ("STOPPING=1") to $NOTIFY_SOCKET, if set. */
void twc_app_notify(struct twc_app *app, const char *state);

/* Reopen the log file (SIGHUP), logging a failure. */
void twc_app_reopen_log(struct twc_app *app);

/* Free everything twc_app_parse and twc_app_start made. Safe to call twice. */
void twc_app_cleanup(struct twc_app *app);

/* The exit code for a TWC_E* / -errno code: client selects the client column of
 * shared/CLI.md (connection failures are 69, other failures 1). */
int twc_exit_code(int code, int client);

/* Print the startup-error one-liner "twc NAME: message" on stderr (one write,
 * whatever the log format) and return exit_code. */
int twc_fail(const char *name, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* twc_fail with the exit code and message of err. */
int twc_fail_err(const char *name, const twc_err *err, int client);

#endif
