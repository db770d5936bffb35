/*
 * Process set-up for servers (twistd's --umask, --rundir, --pidfile, --daemon,
 * --chroot, --uid, --gid): see server.h for when each step runs.
 *
 * --daemon: the classic double fork (APUE 13.3): fork so the child is not a
 * process group leader, setsid to leave the terminal, fork again so the
 * daemon can never reacquire one. The original process waits on a pipe whose
 * write end becomes the daemon's stderr until startup ends: whatever the
 * daemon prints (its startup error line, its log lines when it logs to
 * stderr) reaches the user, and a last record "\0<code>" says how it ended.
 * Nothing but the pipe is shared: the parent never runs the reactor again.
 */
#define _GNU_SOURCE
#include "cmd/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"

static int sys_exit_code(int e)
{
    return e == EACCES || e == EPERM     ? TWC_EXIT_NOPERM
           : e == ENOENT || e == ENOTDIR ? TWC_EXIT_NOINPUT
                                         : TWC_EXIT_SOFTWARE;
}

/* "022" -> 022: one to four octal digits. */
static int parse_umask(const char *s, mode_t *out)
{
    unsigned v = 0;
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (i == 4 || s[i] < '0' || s[i] > '7')
            return -1;
        v = v * 8 + (unsigned)(s[i] - '0');
    }
    if (i == 0)
        return -1;
    *out = (mode_t)v;
    return 0;
}

/* A decimal id, or -1. */
static long parse_id(const char *s)
{
    uint64_t v;

    if (twc_parse_u64(s, strlen(s), 0, 0x7fffffff, &v) < 0)
        return -1;
    return (long)v;
}

static int resolve_ids(struct twc_server *srv)
{
    const struct twc_opts *g = &srv->app->global;
    const char *name = srv->app->name;

    if (twc_opts_given(g, "uid")) {
        const char *u = twc_opts_str(g, "uid");
        long id = parse_id(u);
        struct passwd *pw = id >= 0 ? getpwuid((uid_t)id) : getpwnam(u);

        if (pw == NULL && id < 0)
            return twc_fail(name, TWC_EXIT_USAGE, "--uid: unknown user '%s'", u);
        srv->have_uid = 1;
        srv->uid = pw != NULL ? pw->pw_uid : (uid_t)id;
        if (pw != NULL) {
            snprintf(srv->user, sizeof(srv->user), "%s", pw->pw_name);
            if (!twc_opts_given(g, "gid")) {
                srv->have_gid = 1;
                srv->gid = pw->pw_gid;
            }
        }
    }
    if (twc_opts_given(g, "gid")) {
        const char *s = twc_opts_str(g, "gid");
        long id = parse_id(s);
        struct group *gr = id >= 0 ? NULL : getgrnam(s);

        if (gr == NULL && id < 0)
            return twc_fail(name, TWC_EXIT_USAGE, "--gid: unknown group '%s'", s);
        srv->have_gid = 1;
        srv->gid = gr != NULL ? gr->gr_gid : (gid_t)id;
    }
    return -1;
}

/* The pid a pid file holds, or 0. */
static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    uint64_t v;
    size_t len;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    len = strcspn(buf, "\n");
    if (twc_parse_u64(buf, len, 1, 0x7fffffff, &v) < 0)
        return 0;
    return (pid_t)v;
}

/* Open and lock the pid file. The lock (flock: it follows the open file
 * through fork, so the daemon keeps it) is what makes two servers exclusive;
 * a pid in an unlocked file is also honoured when that process is alive, for
 * pid files left by programs that do not lock. */
static int open_pidfile(struct twc_server *srv, const char *path)
{
    const char *name = srv->app->name;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    pid_t pid;
    int fd;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return twc_fail(name, sys_exit_code(errno), "--pidfile %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        pid = read_pid(fd);
        close(fd);
        if (e == EWOULDBLOCK)
            return twc_fail(name, TWC_EXIT_TEMPFAIL, "--pidfile %s: process %ld is running", path,
                            (long)pid);
        return twc_fail(name, TWC_EXIT_SOFTWARE, "--pidfile %s: %s", path, strerror(e));
    }
    pid = read_pid(fd);
    if (pid > 0 && pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM)) {
        close(fd);
        return twc_fail(name, TWC_EXIT_TEMPFAIL, "--pidfile %s: process %ld is running", path,
                        (long)pid);
    }
    /* Keep the folder open: the file is removed at exit, maybe after --chroot. */
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    srv->piddir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    srv->pidname = strdup(slash != NULL ? slash + 1 : path);
    srv->pidfd = fd;
    return -1;
}

int twc_server_prepare(struct twc_server *srv)
{
    const struct twc_opts *g = &srv->app->global;
    const char *name = srv->app->name;
    struct stat st;
    int rc;

    if (twc_opts_given(g, "umask")) {
        mode_t m;

        if (parse_umask(twc_opts_str(g, "umask"), &m) < 0)
            return twc_fail(name, TWC_EXIT_USAGE, "--umask: '%s' is not an octal mask (e.g. 022)",
                            twc_opts_str(g, "umask"));
        umask(m);
    }
    if (twc_opts_given(g, "rundir") && chdir(twc_opts_str(g, "rundir")) < 0)
        return twc_fail(name, sys_exit_code(errno), "--rundir %s: %s", twc_opts_str(g, "rundir"),
                        strerror(errno));
    if ((rc = resolve_ids(srv)) >= 0)
        return rc;
    if (twc_opts_given(g, "chroot")) {
        const char *d = twc_opts_str(g, "chroot");

        if (stat(d, &st) < 0)
            return twc_fail(name, sys_exit_code(errno), "--chroot %s: %s", d, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return twc_fail(name, TWC_EXIT_NOINPUT, "--chroot %s: not a folder", d);
    }
    if (twc_opts_given(g, "pidfile"))
        return open_pidfile(srv, twc_opts_str(g, "pidfile"));
    return -1;
}

void twc_server_write_pidfile(struct twc_server *srv)
{
    char buf[32];
    int n;

    if (srv->pidfd < 0)
        return;
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(srv->pidfd, 0) < 0 || pwrite(srv->pidfd, buf, (size_t)n, 0) != n)
        twc_log_warn(srv->app->reactor, srv->app->log_system, "cannot write the pid file");
}

void twc_server_remove_pidfile(struct twc_server *srv)
{
    if (srv->pidfd < 0)
        return;
    /* Only the process whose pid is in the file removes it (not a worker, not
     * the parent of a daemon). Unlink before unlocking, so a new server never
     * locks a file that is about to vanish. */
    if (read_pid(srv->pidfd) == getpid() && srv->piddir >= 0 &&
        unlinkat(srv->piddir, srv->pidname, 0) < 0)
        twc_log_warn(srv->app->reactor, srv->app->log_system, "cannot remove the pid file %s",
                     srv->pidname);
    close(srv->pidfd);
    srv->pidfd = -1;
    if (srv->piddir >= 0)
        close(srv->piddir);
    srv->piddir = -1;
}

/* The parent of --daemon: relay the daemon's startup output and exit with
 * the code it reports. */
static void wait_for_daemon(const char *name, int fd, pid_t child)
{
    char buf[4096];
    int code = -1;
    ssize_t n, i, start;

    waitpid(child, NULL, 0); /* the first child exits at once */
    while (code < 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (i = 0, start = 0; i < n; i++) {
            if (buf[i] != '\0')
                continue;
            (void)!write(STDERR_FILENO, buf + start, (size_t)(i - start));
            if (i + 1 < n) {
                code = (unsigned char)buf[i + 1];
            } else {
                unsigned char c;

                code = read(fd, &c, 1) == 1 ? c : TWC_EXIT_SOFTWARE;
            }
            start = n;
            break;
        }
        if (code < 0)
            (void)!write(STDERR_FILENO, buf + start, (size_t)(n - start));
    }
    if (code < 0)
        code = twc_fail(name, TWC_EXIT_SOFTWARE, "the daemon exited during startup");
    _exit(code);
}

int twc_server_daemonize(struct twc_server *srv)
{
    const char *name = srv->app->name;
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return twc_fail(name, TWC_EXIT_SOFTWARE, "--daemon: pipe: %s", strerror(errno));
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return twc_fail(name, TWC_EXIT_SOFTWARE, "--daemon: fork: %s", strerror(errno));
    }
    if (pid > 0) {
        close(p[1]);
        wait_for_daemon(name, p[0], pid); /* does not return */
    }
    close(p[0]);
    if (setsid() < 0)
        _exit(TWC_EXIT_SOFTWARE);
    pid = fork();
    if (pid < 0)
        _exit(TWC_EXIT_SOFTWARE);
    if (pid > 0)
        _exit(0); /* the session leader goes: the daemon can never get a terminal */
    /* The daemon: stderr is the pipe until startup ends (twc_server_detached). */
    if (dup2(p[1], STDERR_FILENO) < 0)
        _exit(TWC_EXIT_SOFTWARE);
    srv->daemon_fd = p[1];
    return -1;
}

static void to_dev_null(int fd)
{
    int n = open("/dev/null", O_RDWR);

    if (n >= 0 && n != fd) {
        dup2(n, fd);
        close(n);
    }
}

void twc_server_null_stdio(void)
{
    to_dev_null(STDIN_FILENO);
    to_dev_null(STDOUT_FILENO);
    to_dev_null(STDERR_FILENO);
}

void twc_server_detached(struct twc_server *srv)
{
    if (srv->daemon_fd < 0)
        return;
    (void)!write(srv->daemon_fd, "\0\0", 2);
    close(srv->daemon_fd);
    srv->daemon_fd = -1;
    twc_server_null_stdio();
}

void twc_server_report_failure(struct twc_server *srv, int code)
{
    char rec[2] = {'\0', (char)(unsigned char)(code > 0 && code < 256 ? code : 70)};

    if (srv->daemon_fd < 0)
        return;
    (void)!write(srv->daemon_fd, rec, 2);
    close(srv->daemon_fd);
    srv->daemon_fd = -1;
}

int twc_server_drop_privileges(struct twc_server *srv)
{
    const struct twc_opts *g = &srv->app->global;
    const char *name = srv->app->name;

    if (twc_opts_given(g, "chroot")) {
        const char *d = twc_opts_str(g, "chroot");

        if (chroot(d) < 0 || chdir("/") < 0)
            return twc_fail(name, sys_exit_code(errno), "--chroot %s: %s", d, strerror(errno));
    }
    if (srv->have_gid) {
        /* Supplementary groups first, while we may still change them. */
        int rc = srv->have_uid && srv->user[0] != '\0'
                     ? initgroups(srv->user, srv->gid)
                     : setgroups(1, &srv->gid);

        if (rc < 0 && (errno != EPERM || getuid() == 0))
            return twc_fail(name, sys_exit_code(errno), "--gid: cannot set groups: %s",
                            strerror(errno));
        if (setgid(srv->gid) < 0)
            return twc_fail(name, sys_exit_code(errno), "--gid: cannot switch to group %ld: %s",
                            (long)srv->gid, strerror(errno));
    }
    if (srv->have_uid) {
        if (setuid(srv->uid) < 0)
            return twc_fail(name, sys_exit_code(errno), "--uid: cannot switch to user %ld: %s",
                            (long)srv->uid, strerror(errno));
        /* Refuse to go on if root could come back (OpenBSD's privsep check). */
        if (srv->uid != 0 && (setuid(0) == 0 || geteuid() == 0))
            return twc_fail(name, TWC_EXIT_NOPERM, "--uid: still able to become root; refusing "
                                                   "to run");
    }
    return -1;
}
