/*
 * Thread pool: a FIFO of jobs, up to N worker threads started on demand, and
 * a pipe through which workers tell the loop that finished jobs are waiting.
 *
 * The pipe (rather than twc_reactor_call_from_thread) keeps completion
 * delivery allocation-free on the worker side and lets twc_pool_free tear
 * everything down without a queued callback that could outlive the pool.
 * Workers block every signal, so signals reach the loop thread's handlers.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "limits.h"

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct twc_pool_job {
    twc_pool_job *next;
    twc_work_fn work;
    twc_work_done_fn done;
    void *arg;
    int status;
    enum job_state state;
};

struct job_list {
    twc_pool_job *head;
    twc_pool_job *tail;
};

struct twc_pool {
    twc_reactor *reactor;
    pthread_mutex_t lock;
    pthread_cond_t cond;     /* signalled when work is queued or on shutdown */
    struct job_list queue;   /* waiting for a thread (lock) */
    struct job_list finished; /* waiting for done on the loop (lock) */
    pthread_t *threads;
    unsigned max_threads;
    unsigned nthreads;       /* started */
    unsigned idle;           /* started threads waiting on cond (lock) */
    size_t pending;          /* submitted and done not yet called (loop thread only) */
    int shutdown;            /* (lock) */
    int wake_pending;        /* a byte is in the pipe (lock) */
    int pipe_rd, pipe_wr;
    twc_io *io;
};

static void list_push(struct job_list *l, twc_pool_job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static twc_pool_job *list_pop(struct job_list *l)
{
    twc_pool_job *j = l->head;

    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
        j->next = NULL;
    }
    return j;
}

static int list_remove(struct job_list *l, twc_pool_job *j)
{
    twc_pool_job *prev = NULL, *cur;

    for (cur = l->head; cur != NULL; prev = cur, cur = cur->next) {
        if (cur != j)
            continue;
        if (prev != NULL)
            prev->next = cur->next;
        else
            l->head = cur->next;
        if (l->tail == cur)
            l->tail = prev;
        cur->next = NULL;
        return 1;
    }
    return 0;
}

/* Called with the lock held: move j to finished and poke the loop once. */
static void finish_locked(twc_pool *p, twc_pool_job *j, int status)
{
    j->status = status;
    j->state = JOB_FINISHED;
    list_push(&p->finished, j);
    if (!p->wake_pending) {
        char c = 1;
        ssize_t n;

        p->wake_pending = 1;
        /* The pipe holds at most one byte at a time (wake_pending), so it never fills. */
        do
            n = write(p->pipe_wr, &c, 1);
        while (n < 0 && errno == EINTR);
    }
}

static void *worker_main(void *arg)
{
    twc_pool *p = arg;
    twc_pool_job *j;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->queue.head == NULL && !p->shutdown) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
        }
        if (p->shutdown)
            break;
        j = list_pop(&p->queue);
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&p->lock);
        j->work(j->arg);
        pthread_mutex_lock(&p->lock);
        finish_locked(p, j, 0);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Run done for every finished job. Loop thread only. */
static void drain_finished(twc_pool *p)
{
    struct job_list done;
    twc_pool_job *j;
    char sink[64];

    pthread_mutex_lock(&p->lock);
    done = p->finished;
    p->finished.head = p->finished.tail = NULL;
    if (p->wake_pending) {
        while (read(p->pipe_rd, sink, sizeof(sink)) > 0)
            ;
        p->wake_pending = 0;
    }
    pthread_mutex_unlock(&p->lock);
    while ((j = list_pop(&done)) != NULL) {
        p->pending--;
        j->done(j->arg, j->status);
        free(j);
    }
}

static void on_wake(twc_io *io, unsigned events, void *arg)
{
    (void)io;
    (void)events;
    drain_finished(arg);
}

twc_pool *twc_pool_new(twc_reactor *r, unsigned nthreads, twc_err *err)
{
    twc_pool *p;
    int fds[2];

    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        twc_err_set(err, TWC_ENOMEM, "thread pool: out of memory");
        return NULL;
    }
    p->reactor = r;
    p->max_threads = nthreads ? nthreads : TWC_POOL_THREADS;
    p->pipe_rd = p->pipe_wr = -1;
    p->threads = calloc(p->max_threads, sizeof(*p->threads));
    if (p->threads == NULL) {
        twc_err_set(err, TWC_ENOMEM, "thread pool: out of memory");
        goto fail;
    }
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        twc_err_sys(err, errno, "thread pool: pipe");
        goto fail;
    }
    p->pipe_rd = fds[0];
    p->pipe_wr = fds[1];
    p->io = twc_io_new(r, p->pipe_rd, on_wake, p);
    if (p->io == NULL || twc_io_set(p->io, TWC_IO_READ) < 0) {
        twc_err_set(err, TWC_ENOMEM, "thread pool: cannot watch its pipe");
        goto fail;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    return p;

fail:
    twc_io_free(p->io);
    if (p->pipe_rd >= 0)
        close(p->pipe_rd);
    if (p->pipe_wr >= 0)
        close(p->pipe_wr);
    free(p->threads);
    free(p);
    return NULL;
}

/* Start one more worker with every signal blocked (the mask is inherited). */
static int start_thread(twc_pool *p, twc_err *err)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return twc_err_sys(err, rc, "thread pool: cannot start a thread");
    p->nthreads++;
    return 0;
}

twc_pool_job *twc_pool_submit(twc_pool *p, twc_work_fn work, twc_work_done_fn done, void *arg,
                              twc_err *err)
{
    twc_pool_job *j;
    int need_thread;

    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        twc_err_set(err, TWC_ENOMEM, "thread pool: out of memory");
        return NULL;
    }
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->state = JOB_QUEUED;
    pthread_mutex_lock(&p->lock);
    need_thread = p->idle == 0 && p->nthreads < p->max_threads;
    pthread_mutex_unlock(&p->lock);
    /* Only the loop thread starts threads, so nthreads needs no lock to write. */
    if (need_thread && start_thread(p, err) < 0 && p->nthreads == 0) {
        free(j);
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    list_push(&p->queue, j);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    p->pending++;
    return j;
}

int twc_pool_cancel(twc_pool *p, twc_pool_job *job)
{
    int rc = TWC_EINVAL;

    pthread_mutex_lock(&p->lock);
    if (job->state == JOB_QUEUED && list_remove(&p->queue, job)) {
        finish_locked(p, job, TWC_ECANCELED);
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

size_t twc_pool_pending(const twc_pool *p)
{
    return p->pending;
}

void twc_pool_free(twc_pool *p)
{
    twc_pool_job *j;
    unsigned i;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    while ((j = list_pop(&p->queue)) != NULL) {
        j->status = TWC_ECANCELED;
        j->state = JOB_FINISHED;
        list_push(&p->finished, j);
    }
    p->shutdown = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Threads are gone: deliver every outstanding done, then release. */
    drain_finished(p);
    twc_io_free(p->io);
    close(p->pipe_rd);
    close(p->pipe_wr);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}

/* ---- twc_defer_to_thread ------------------------------------------------- */

struct thread_call {
    twc_pool *pool;
    twc_pool_job *job;
    twc_deferred *d;     /* producer's reference, until fired or cancelled */
    twc_thread_fn fn;
    void *arg;
    twc_free_fn value_free;
    void *value;         /* written by the worker */
    int rc;              /* written by the worker */
    twc_err err;         /* written by the worker */
    int cancelled;       /* loop thread only */
};

static void thread_call_work(void *arg)
{
    struct thread_call *c = arg;

    twc_err_clear(&c->err);
    c->rc = c->fn(c->arg, &c->value, &c->err);
}

static void thread_call_done(void *arg, int status)
{
    struct thread_call *c = arg;

    if (c->cancelled) {
        /* The deferred already failed with TWC_ECANCELED: drop what fn made. */
        if (status == 0 && c->rc == 0 && c->value != NULL && c->value_free != NULL)
            c->value_free(c->value);
        free(c);
        return;
    }
    if (status < 0)
        twc_deferred_reject(c->d, status, "thread job: %s", twc_strerror(status));
    else if (c->rc < 0 && c->err.code != 0)
        twc_deferred_reject_err(c->d, &c->err);
    else if (c->rc < 0)
        twc_deferred_reject(c->d, c->rc, "thread job failed: %s", twc_strerror(c->rc));
    else
        twc_deferred_resolve(c->d, c->value, c->value_free);
    free(c);
}

static void thread_call_cancel(void *arg, twc_deferred *d)
{
    struct thread_call *c = arg;

    (void)d;
    /* Whether or not the job had started, done() still runs once; it must then
     * leave the deferred alone, since cancel rejects it when we return. */
    c->cancelled = 1;
    twc_pool_cancel(c->pool, c->job);
}

twc_deferred *twc_defer_to_thread(twc_pool *p, twc_thread_fn fn, void *arg,
                                  twc_free_fn value_free)
{
    struct thread_call *c;
    twc_deferred *d;
    twc_err err;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return twc_deferred_fail(TWC_ENOMEM, "defer to thread: out of memory");
    c->pool = p;
    c->fn = fn;
    c->arg = arg;
    c->value_free = value_free;
    d = twc_deferred_new(thread_call_cancel, c);
    twc_deferred_set_reactor(d, p->reactor);
    c->d = d;
    c->job = twc_pool_submit(p, thread_call_work, thread_call_done, c, &err);
    if (c->job == NULL) {
        c->cancelled = 1; /* keep the canceller from touching a job that never was */
        twc_deferred_reject_err(d, &err);
        free(c);
    }
    return d;
}
