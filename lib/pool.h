/*
 * Thread pool (libuv's uv_queue_work): run blocking work off the loop.
 *
 * A job's work(arg) runs on a pool thread and may touch only its own job
 * data; done(arg, status) runs later on the loop thread and is the only place
 * results meet loop state. done fires exactly once per submitted job: status
 * 0 after work ran, or TWC_ECANCELED when the job was cancelled or the pool
 * was freed before a thread picked it up (work then never runs).
 *
 * Threads start lazily, on the first submit, so a process can still fork
 * (--daemon) after creating a pool.
 */
#ifndef TWC_LIB_POOL_H
#define TWC_LIB_POOL_H

#include "deferred.h"
#include "err.h"
#include "reactor.h"

typedef struct twc_pool twc_pool;
typedef struct twc_pool_job twc_pool_job;

typedef void (*twc_work_fn)(void *arg);
typedef void (*twc_work_done_fn)(void *arg, int status);

/* A pool of up to nthreads threads (0: TWC_POOL_THREADS) delivering completions to
 * r. Returns owned (free with twc_pool_free), or NULL with *err. */
twc_pool *twc_pool_new(twc_reactor *r, unsigned nthreads, twc_err *err);

/* Queue work. arg is borrowed by both callbacks; the caller frees it in done.
 * Returns a handle valid until done runs (for twc_pool_cancel), or NULL with
 * *err (TWC_ENOMEM, or the thread could not be started). */
twc_pool_job *twc_pool_submit(twc_pool *p, twc_work_fn work, twc_work_done_fn done, void *arg,
                              twc_err *err);

/* Cancel a job no thread has started: done(arg, TWC_ECANCELED) follows from the
 * loop. Returns 0, or TWC_EINVAL when the job already started or finished (its
 * done runs as usual). */
int twc_pool_cancel(twc_pool *p, twc_pool_job *job);

/* Jobs queued or running. */
size_t twc_pool_pending(const twc_pool *p);

/* Cancel queued jobs, wait for running ones, join every thread, then deliver the
 * outstanding done callbacks (TWC_ECANCELED for those that never ran) before
 * returning. Must run on the loop thread. NULL is a no-op. */
void twc_pool_free(twc_pool *p);

/* ---- Deferred form (Twisted's deferToThread) ------------------------------ */

/* Runs on a pool thread: compute *value (owned by the result, freed with the
 * value_free given to twc_defer_to_thread) and return 0, or return a negative
 * code with *err filled. Touches nothing but arg and its own locals. */
typedef int (*twc_thread_fn)(void *arg, void **value, twc_err *err);

/* Run fn(arg) on the pool; the returned deferred (consumer's reference) fires on
 * the loop thread with fn's value or failure. arg is borrowed until the deferred
 * fires. Cancelling before a thread starts fn stops it (fn never runs);
 * cancelling while fn runs lets fn finish, frees its value, and fails the
 * deferred with TWC_ECANCELED at once. A failed deferred when the job cannot be
 * queued. */
twc_deferred *twc_defer_to_thread(twc_pool *p, twc_thread_fn fn, void *arg,
                                  twc_free_fn value_free);

#endif
