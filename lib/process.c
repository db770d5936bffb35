/*
 * Child processes: fork/exec with three non-blocking pipes, and a per-reactor
 * table of live children reaped from one SIGCHLD handler.
 *
 * SIGCHLD coalesces, so the handler polls every live child with
 * waitpid(WNOHANG) instead of trusting one signal per exit. The handler is
 * installed before the first fork, and the child is in the table before the
 * loop can run the handler, so an early exit is never missed.
 */
#define _GNU_SOURCE
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "limits.h"
#include "reactor_int.h"

enum { P_IN, P_OUT, P_ERR };

struct proc_table {
    twc_process *head;
};

struct twc_process {
    twc_process *next;
    twc_reactor *reactor;
    const struct twc_process_ops *ops;
    void *arg;
    pid_t pid;
    int fd[3];       /* parent ends: stdin (write), stdout, stderr (read); -1 once closed */
    twc_io *io[3];
    twc_buf in;      /* queued stdin bytes */
    int close_in;    /* close stdin once `in` is flushed */
    int reaped;
    int exit_code;
    int term_signal;
    int ended;       /* process_ended delivered or queued */
};

static struct proc_table *table_of(twc_reactor *r)
{
    return *twc__reactor_slot(r, TWC__SLOT_PROCESS);
}

static void table_remove(twc_process *p)
{
    struct proc_table *t = table_of(p->reactor);
    twc_process **pp;

    for (pp = &t->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (t->head == NULL) {
        /* Last child gone: give SIGCHLD back and drop the table. */
        twc_reactor_on_signal(p->reactor, SIGCHLD, NULL, NULL, NULL);
        free(t);
        *twc__reactor_slot(p->reactor, TWC__SLOT_PROCESS) = NULL;
    }
}

static void close_fd(twc_process *p, int which)
{
    if (p->fd[which] < 0)
        return;
    twc_io_free(p->io[which]);
    p->io[which] = NULL;
    close(p->fd[which]);
    p->fd[which] = -1;
}

static void on_ended(void *arg)
{
    twc_process *p = arg;

    table_remove(p);
    twc_buf_cleanup(&p->in);
    p->ops->process_ended(p, p->exit_code, p->term_signal, p->arg);
    free(p);
}

/* End once reaped and both outputs are at EOF; deliver from the loop. */
static void maybe_end(twc_process *p)
{
    if (p->ended || !p->reaped || p->fd[P_OUT] >= 0 || p->fd[P_ERR] >= 0)
        return;
    close_fd(p, P_IN);
    p->ended = 1;
    if (twc_reactor_call_soon(p->reactor, on_ended, p) < 0)
        on_ended(p);
}

static void on_output(twc_io *io, unsigned events, void *arg)
{
    twc_process *p = arg;
    int which = io == p->io[P_OUT] ? P_OUT : P_ERR;
    size_t cap;
    uint8_t *buf = twc__reactor_read_buf(p->reactor, &cap);
    ssize_t n;
    int i;

    (void)events;
    for (i = 0; i < TWC_READS_PER_WAKEUP; i++) {
        n = read(p->fd[which], buf, cap);
        if (n > 0) {
            if (which == P_OUT && p->ops->out_received != NULL)
                p->ops->out_received(p, buf, (size_t)n, p->arg);
            else if (which == P_ERR && p->ops->err_received != NULL)
                p->ops->err_received(p, buf, (size_t)n, p->arg);
            if ((size_t)n < cap)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        /* EOF or a read error: this output is done. */
        close_fd(p, which);
        maybe_end(p);
        return;
    }
}

static void flush_stdin(twc_process *p)
{
    ssize_t n;

    while (twc_buf_len(&p->in) > 0) {
        n = write(p->fd[P_IN], twc_buf_data(&p->in), twc_buf_len(&p->in));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            twc_io_set(p->io[P_IN], TWC_IO_WRITE);
            return;
        }
        if (n < 0) {
            /* EPIPE: the child closed its stdin; drop what it will never read. */
            twc_buf_cleanup(&p->in);
            close_fd(p, P_IN);
            return;
        }
        twc_buf_consume(&p->in, (size_t)n);
    }
    twc_io_set(p->io[P_IN], 0);
    if (p->close_in)
        close_fd(p, P_IN);
}

static void on_stdin_writable(twc_io *io, unsigned events, void *arg)
{
    (void)io;
    (void)events;
    flush_stdin(arg);
}

static void on_sigchld(twc_reactor *r, int signo, void *arg)
{
    struct proc_table *t = arg;
    twc_process *p, *next;
    int status;
    pid_t got;

    (void)r;
    (void)signo;
    for (p = t->head; p != NULL; p = next) {
        next = p->next; /* process_exited may not free p, but keep the walk simple */
        if (p->reaped)
            continue;
        do
            got = waitpid(p->pid, &status, WNOHANG);
        while (got < 0 && errno == EINTR);
        if (got != p->pid)
            continue;
        p->reaped = 1;
        if (WIFSIGNALED(status)) {
            p->exit_code = -1;
            p->term_signal = WTERMSIG(status);
        } else {
            p->exit_code = WEXITSTATUS(status);
            p->term_signal = 0;
        }
        if (p->ops->process_exited != NULL)
            p->ops->process_exited(p, p->exit_code, p->term_signal, p->arg);
        maybe_end(p);
    }
}

static int ensure_table(twc_reactor *r, twc_err *err)
{
    void **slot = twc__reactor_slot(r, TWC__SLOT_PROCESS);
    struct proc_table *t;
    int rc;

    if (*slot != NULL)
        return 0;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return twc_err_set(err, TWC_ENOMEM, "spawn: out of memory");
    rc = twc_reactor_on_signal(r, SIGCHLD, on_sigchld, t, err);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *slot = t;
    return 0;
}

/* In the child after fork: only async-signal-safe calls until exec. */
static void child_exec(const struct twc_spawn_opts *o, int in_rd, int out_wr, int err_wr)
{
    struct sigaction sa;
    sigset_t none;
    const char *msg;
    int sig;

    if (dup2(in_rd, 0) < 0 || dup2(out_wr, 1) < 0 || dup2(err_wr, 2) < 0)
        _exit(127);
    /* The parent ignores SIGPIPE and may have handlers: give the child defaults. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (o->dir != NULL && chdir(o->dir) < 0) {
        msg = "twc: cannot change directory\n";
        (void)!write(2, msg, strlen(msg));
        _exit(127);
    }
    if (o->env != NULL)
        execvpe(o->argv[0], (char *const *)o->argv, (char *const *)o->env);
    else
        execvp(o->argv[0], (char *const *)o->argv);
    msg = "twc: cannot execute ";
    (void)!write(2, msg, strlen(msg));
    (void)!write(2, o->argv[0], strlen(o->argv[0]));
    (void)!write(2, "\n", 1);
    _exit(127);
}

twc_process *twc_process_spawn(twc_reactor *r, const struct twc_spawn_opts *o,
                               const struct twc_process_ops *ops, void *arg, twc_err *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    twc_process *p;
    int i;

    if (o == NULL || o->argv == NULL || o->argv[0] == NULL || ops->process_ended == NULL) {
        twc_err_set(err, TWC_EINVAL, "spawn: argv and process_ended are required");
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        twc_err_set(err, TWC_ENOMEM, "spawn: out of memory");
        return NULL;
    }
    p->reactor = r;
    p->ops = ops;
    p->arg = arg;
    twc_buf_init(&p->in, TWC_PROCESS_STDIN_MAX);
    for (i = 0; i < 3; i++)
        p->fd[i] = -1;
    if (ensure_table(r, err) < 0)
        goto fail;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        twc_err_sys(err, errno, "spawn %s: pipe", o->argv[0]);
        goto fail;
    }
    p->pid = fork();
    if (p->pid < 0) {
        twc_err_sys(err, errno, "spawn %s: fork", o->argv[0]);
        goto fail;
    }
    if (p->pid == 0)
        child_exec(o, in[0], out[1], errp[1]);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    p->fd[P_IN] = in[1];
    p->fd[P_OUT] = out[0];
    p->fd[P_ERR] = errp[0];
    for (i = 0; i < 3; i++)
        fcntl(p->fd[i], F_SETFL, fcntl(p->fd[i], F_GETFL) | O_NONBLOCK);
    p->io[P_IN] = twc_io_new(r, p->fd[P_IN], on_stdin_writable, p);
    p->io[P_OUT] = twc_io_new(r, p->fd[P_OUT], on_output, p);
    p->io[P_ERR] = twc_io_new(r, p->fd[P_ERR], on_output, p);
    p->next = table_of(r)->head;
    table_of(r)->head = p;
    if (p->io[P_IN] == NULL || p->io[P_OUT] == NULL || p->io[P_ERR] == NULL) {
        /* The child runs already: stop watching, let it be reaped, report the error. */
        twc_err_set(err, TWC_ENOMEM, "spawn %s: out of memory", o->argv[0]);
        for (i = 0; i < 3; i++)
            close_fd(p, i);
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        table_remove(p);
        free(p);
        return NULL;
    }
    twc_io_set(p->io[P_OUT], TWC_IO_READ);
    twc_io_set(p->io[P_ERR], TWC_IO_READ);
    return p;

fail:
    for (i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    if (*twc__reactor_slot(r, TWC__SLOT_PROCESS) != NULL && table_of(r)->head == NULL) {
        twc_reactor_on_signal(r, SIGCHLD, NULL, NULL, NULL);
        free(table_of(r));
        *twc__reactor_slot(r, TWC__SLOT_PROCESS) = NULL;
    }
    free(p);
    return NULL;
}

int twc_process_write(twc_process *p, const void *data, size_t len)
{
    int rc;

    if (p->fd[P_IN] < 0 || p->close_in)
        return TWC_ECLOSED;
    rc = twc_buf_append(&p->in, data, len);
    if (rc < 0)
        return rc;
    flush_stdin(p);
    return 0;
}

void twc_process_close_stdin(twc_process *p)
{
    if (p->fd[P_IN] < 0)
        return;
    p->close_in = 1;
    flush_stdin(p);
}

int twc_process_kill(twc_process *p, int signo)
{
    if (p->reaped)
        return -ESRCH;
    if (kill(p->pid, signo) < 0)
        return -errno;
    return 0;
}

pid_t twc_process_pid(const twc_process *p)
{
    return p->pid;
}
