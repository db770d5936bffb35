/*
 * The reactor: one event loop per thread of control, owning I/O watchers,
 * timers, signal handlers, "call soon" callbacks and shutdown hooks.
 *
 * Everything that needs the loop hangs off a twc_reactor; there is no global
 * state, so two reactors (or a fake-clock one in a test) can coexist. All
 * functions here must be called from the loop's thread, except
 * twc_reactor_call_from_thread and twc_reactor_wake.
 *
 * Callbacks (I/O, timers, signals, call-soon) always run from the loop, never
 * from inside the call that registered them.
 */
#ifndef TWC_LIB_REACTOR_H
#define TWC_LIB_REACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct twc_reactor twc_reactor;
typedef struct twc_io twc_io;
typedef struct twc_timer twc_timer;
typedef struct twc_log twc_log;

enum {
    TWC_IO_READ = 1u << 0,  /* readable (or peer hung up: read() will say so) */
    TWC_IO_WRITE = 1u << 1, /* writable */
    TWC_IO_ERROR = 1u << 2, /* reported only: EPOLLERR/POLLERR/POLLNVAL */
};

/* I/O readiness for a watched fd. events is a mask of TWC_IO_*. */
typedef void (*twc_io_fn)(twc_io *io, unsigned events, void *arg);
typedef void (*twc_timer_fn)(twc_timer *t, void *arg);
typedef void (*twc_call_fn)(void *arg);
typedef void (*twc_signal_fn)(twc_reactor *r, int signo, void *arg);

struct twc_reactor_opts {
    /* "epoll", "poll", or NULL for $TWC_REACTOR when set, else the best available. */
    const char *backend;
    /* Nonzero: a fake clock (Twisted's task.Clock). Time starts at 0 and moves only
     * through twc_reactor_advance; run/run_once never sleep waiting for timers. */
    int fake_clock;
};

/* Create a reactor. opts may be NULL (defaults). Ignores SIGPIPE process-wide.
 * Returns owned (free with twc_reactor_free), or NULL with *err filled
 * (TWC_EINVAL for an unknown backend name). */
twc_reactor *twc_reactor_new(const struct twc_reactor_opts *opts, twc_err *err);

/* Free the reactor. Watchers, timers and listeners still alive are a leak in the
 * caller; in debug builds this logs how many (see twc_reactor_live_handles).
 * NULL is a no-op. Does not free the log attached with twc_reactor_set_log. */
void twc_reactor_free(twc_reactor *r);

/* "epoll" or "poll". Static string. */
const char *twc_reactor_backend(const twc_reactor *r);

/* Run until twc_reactor_stop completes. Returns 0, or a negative code if the
 * backend failed (it logs why). */
int twc_reactor_run(twc_reactor *r);

/* One iteration: wait for I/O at most timeout_ms (-1: until the next timer or event;
 * 0: just poll), then run I/O callbacks, due timers and queued call-soon callbacks.
 * Returns 1 if the reactor still has work (live handles or queued calls), else 0. */
int twc_reactor_run_once(twc_reactor *r, int timeout_ms);

/* Ask the loop to stop: from the loop, shutdown hooks run (latest registered
 * first), queued call-soon callbacks drain, and twc_reactor_run returns.
 * Idempotent. Safe to call before run (run then returns after the hooks). */
void twc_reactor_stop(twc_reactor *r);
int twc_reactor_stopping(const twc_reactor *r);

/* Register fn(arg) to run once when twc_reactor_stop takes effect. fn borrows arg.
 * Returns 0 or TWC_ENOMEM. */
int twc_reactor_add_shutdown_hook(twc_reactor *r, twc_call_fn fn, void *arg);
/* Remove a hook added with the same fn and arg (no-op if absent). */
void twc_reactor_remove_shutdown_hook(twc_reactor *r, twc_call_fn fn, void *arg);

/* Queue fn(arg) to run from the loop, after the current callback returns, in FIFO
 * order. Never runs fn from inside this call. Returns 0 or TWC_ENOMEM. */
int twc_reactor_call_soon(twc_reactor *r, twc_call_fn fn, void *arg);

/* Thread-safe: queue fn(arg) to run on the loop thread, and wake the loop.
 * Returns 0 or TWC_ENOMEM. */
int twc_reactor_call_from_thread(twc_reactor *r, twc_call_fn fn, void *arg);
/* Thread-safe and async-signal-safe: wake the loop from its wait. */
void twc_reactor_wake(twc_reactor *r);

/* Milliseconds on the monotonic clock, cached once per loop iteration (fake
 * clock: the fake time). */
uint64_t twc_reactor_now(const twc_reactor *r);
/* Refresh the cached time now (real clock only; no-op for a fake clock). */
void twc_reactor_update_time(twc_reactor *r);
/* Fake clock only: move time forward by ms, running every timer that falls due,
 * in due order, each seeing now == its due time, then the call-soon queue. */
void twc_reactor_advance(twc_reactor *r, uint64_t ms);

/* Handle a signal as an ordinary loop event. fn NULL removes the handler and
 * restores the default disposition. The handler runs from the loop, once per
 * delivery batch (signals coalesce as in the kernel). One handler per signo per
 * reactor; returns 0, or a negative code (TWC_EINVAL for a bad signo). */
int twc_reactor_on_signal(twc_reactor *r, int signo, twc_signal_fn fn, void *arg, twc_err *err);

/* Number of live watchers and timers: tests assert 0 before freeing. */
size_t twc_reactor_live_handles(const twc_reactor *r);

/* Attach the logger used by twc_log_* calls that name this reactor. Borrowed:
 * the caller keeps ownership and must keep it alive while attached. NULL resets
 * to the default (text lines on stderr, level info). */
void twc_reactor_set_log(twc_reactor *r, twc_log *log);
twc_log *twc_reactor_log(const twc_reactor *r);

/* ---- I/O watchers ---------------------------------------------------------- */

/* Watch fd (not owned: the caller closes it after twc_io_free). Starts with no
 * interest. cb borrows arg. Returns owned or NULL (TWC_ENOMEM). */
twc_io *twc_io_new(twc_reactor *r, int fd, twc_io_fn cb, void *arg);
/* Set the interest mask (TWC_IO_READ | TWC_IO_WRITE; 0 stops watching). Cheap when
 * unchanged. Returns 0 or a negative code. */
int twc_io_set(twc_io *io, unsigned events);
unsigned twc_io_events(const twc_io *io);
int twc_io_fd(const twc_io *io);
/* Stop watching and free. Safe from inside the watcher's own callback: no further
 * callback is delivered for it. NULL is a no-op. */
void twc_io_free(twc_io *io);

/* ---- Timers ----------------------------------------------------------------- */

/* A stopped timer. cb borrows arg. Returns owned or NULL. */
twc_timer *twc_timer_new(twc_reactor *r, twc_timer_fn cb, void *arg);
/* (Re)arm: fire after delay_ms, then every repeat_ms if repeat_ms > 0. Arming an
 * active timer moves it (Twisted's DelayedCall.reset). */
void twc_timer_start(twc_timer *t, uint64_t delay_ms, uint64_t repeat_ms);
/* Push an active timer's due time later by ms (DelayedCall.delay). */
void twc_timer_delay(twc_timer *t, uint64_t ms);
void twc_timer_stop(twc_timer *t);
int twc_timer_active(const twc_timer *t);
/* Due time (twc_reactor_now scale); 0 when stopped. */
uint64_t twc_timer_due(const twc_timer *t);
/* Stop and free. Safe from inside the timer's own callback. NULL is a no-op. */
void twc_timer_free(twc_timer *t);

#endif
