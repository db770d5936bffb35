/*
 * Signals as ordinary loop events.
 *
 * Choice: a sigaction handler plus the reactor's wake channel (an eventfd with
 * the epoll backend, a self-pipe with poll), rather than signalfd. signalfd
 * only sees signals blocked in every thread, and any thread a library starts
 * without blocking them would take the default action instead (SIGTERM would
 * kill the process). The handler runs on whatever thread the kernel picks,
 * sets a per-signal pending flag and writes to the owner's wake fd, saving
 * errno: only async-signal-safe calls (POSIX.1-2017 2.4.3). The loop, woken,
 * runs the handler of every pending signal once, so signals coalesce as they
 * do in the kernel.
 *
 * Dispositions are process-wide, so this file keeps the one unavoidable
 * global: which reactor owns each signal, and the disposition to restore when
 * it lets go. Only one reactor per process should handle a given signal; if a
 * second one takes it, the first one silently stops receiving it. Letting go
 * (fn NULL, or twc_reactor_free) restores the disposition that was in effect
 * before a reactor took the signal: the default action in the usual case, but
 * SIGPIPE stays ignored.
 */
#define _GNU_SOURCE
#include "reactor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "reactor_impl.h"

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;

/* Under sig_lock. */
static struct {
    twc_reactor *owner;
    struct sigaction old; /* disposition before the first owner took it */
} sig_own[TWC__NSIG];

/* Read by the handler: the owner's wake fd, encoded so that 0 means none:
 * fd + 1 for an eventfd, -(fd + 1) for a pipe. */
static volatile sig_atomic_t sig_wake[TWC__NSIG];
static volatile sig_atomic_t sig_pending[TWC__NSIG];

static void on_os_signal(int signo)
{
    int saved_errno = errno;

    if (signo > 0 && signo < TWC__NSIG) {
        sig_atomic_t w = sig_wake[signo];

        sig_pending[signo] = 1;
        if (w > 0) {
            uint64_t one = 1;

            (void)!write((int)w - 1, &one, sizeof(one));
        } else if (w < 0) {
            char c = 0;

            (void)!write((int)-w - 1, &c, 1);
        }
    }
    errno = saved_errno;
}

static sig_atomic_t wake_code(const twc_reactor *r)
{
    return r->wake_eventfd ? (sig_atomic_t)(r->wake_wr + 1) : (sig_atomic_t)(-(r->wake_wr + 1));
}

/* Give signo back if r owns it. Called with sig_lock held. */
static void release_locked(twc_reactor *r, int signo)
{
    if (sig_own[signo].owner != r)
        return;
    sigaction(signo, &sig_own[signo].old, NULL);
    sig_wake[signo] = 0;
    sig_pending[signo] = 0;
    sig_own[signo].owner = NULL;
}

int twc_reactor_on_signal(twc_reactor *r, int signo, twc_signal_fn fn, void *arg, twc_err *err)
{
    struct sigaction sa;

    if (signo <= 0 || signo >= TWC__NSIG || signo == SIGKILL || signo == SIGSTOP)
        return twc_err_set(err, TWC_EINVAL, "cannot handle signal %d", signo);
    if (fn == NULL) {
        if (r->sig[signo].fn != NULL)
            r->nsig--;
        r->sig[signo].fn = NULL;
        r->sig[signo].arg = NULL;
        pthread_mutex_lock(&sig_lock);
        release_locked(r, signo);
        pthread_mutex_unlock(&sig_lock);
        return 0;
    }
    pthread_mutex_lock(&sig_lock);
    if (sig_own[signo].owner == NULL) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_os_signal;
        sigfillset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sig_pending[signo] = 0;
        if (sigaction(signo, &sa, &sig_own[signo].old) < 0) {
            int e = errno;

            pthread_mutex_unlock(&sig_lock);
            return twc_err_sys(err, e, "sigaction %d", signo);
        }
    }
    /* Taking a signal from another reactor keeps the saved disposition: the
     * installed handler is the same function, only the wake fd moves. */
    sig_own[signo].owner = r;
    sig_wake[signo] = wake_code(r);
    pthread_mutex_unlock(&sig_lock);
    if (r->sig[signo].fn == NULL)
        r->nsig++;
    r->sig[signo].fn = fn;
    r->sig[signo].arg = arg;
    return 0;
}

void twc__signals_dispatch(twc_reactor *r)
{
    unsigned char due[TWC__NSIG];
    int signo, any = 0;

    if (r->nsig == 0)
        return;
    /* Collect under the lock (ownership may move between reactors), call
     * without it (a handler may change signal handling). */
    pthread_mutex_lock(&sig_lock);
    for (signo = 1; signo < TWC__NSIG; signo++) {
        due[signo] = 0;
        if (r->sig[signo].fn == NULL || sig_own[signo].owner != r || !sig_pending[signo])
            continue;
        /* Clear before calling: a signal arriving from now on sets it again
         * and writes the wake fd, so it is never lost. */
        sig_pending[signo] = 0;
        due[signo] = 1;
        any = 1;
    }
    pthread_mutex_unlock(&sig_lock);
    if (!any)
        return;
    for (signo = 1; signo < TWC__NSIG; signo++) {
        /* An earlier handler of this batch may have removed this one. */
        if (due[signo] && r->sig[signo].fn != NULL)
            r->sig[signo].fn(r, signo, r->sig[signo].arg);
    }
}

void twc__signals_cleanup(twc_reactor *r)
{
    int signo;

    if (r->nsig == 0)
        return;
    for (signo = 1; signo < TWC__NSIG; signo++) {
        if (r->sig[signo].fn != NULL)
            twc_reactor_on_signal(r, signo, NULL, NULL, NULL);
    }
}

void twc__signals_ignore_sigpipe(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    pthread_mutex_lock(&sig_lock);
    /* A reactor handling SIGPIPE itself keeps its handler. */
    if (sig_own[SIGPIPE].owner == NULL)
        sigaction(SIGPIPE, &sa, NULL);
    pthread_mutex_unlock(&sig_lock);
}
