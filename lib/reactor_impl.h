/*
 * Private to the reactor module: lib/reactor.c (core loop), lib/timer.c (the
 * timer heap), lib/reactor_signal.c and the backends lib/backend_*.c. Other
 * modules use reactor.h and reactor_int.h only.
 *
 * A backend keeps the kernel's interest set in sync with each watcher's mask
 * and, in wait, reports readiness with twc__reactor_ready. The core copies
 * nothing else: it dispatches the ready list once the wait returns, so a
 * watcher freed by an earlier callback of the same batch is skipped (it stays
 * allocated, marked dead, until the batch ends).
 */
#ifndef TWC_LIB_REACTOR_IMPL_H
#define TWC_LIB_REACTOR_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "reactor.h"
#include "reactor_int.h"

/* Signal numbers we accept: 1 .. TWC__NSIG-1 (Linux has 64 plus 0). */
#define TWC__NSIG 65

struct twc_io {
    twc_reactor *reactor;
    int fd;
    unsigned events; /* interest mask (TWC_IO_READ | TWC_IO_WRITE) */
    twc_io_fn cb;
    void *arg;
    int bidx;              /* backend's index for this watcher, -1 when none */
    unsigned dead : 1;     /* twc_io_free ran; memory freed after the batch */
    unsigned internal : 1; /* the reactor's own wake watcher: not a live handle */
    twc_io *next_dead;
};

struct twc_timer {
    twc_reactor *reactor;
    twc_timer_fn cb;
    void *arg;
    uint64_t due;      /* valid while heap_idx != SIZE_MAX */
    uint64_t seq;      /* start order: FIFO among equal due times */
    uint64_t repeat;   /* 0: one-shot */
    size_t heap_idx;   /* position in the heap, SIZE_MAX when stopped */
    unsigned in_cb;    /* nesting depth of this timer's callback */
    unsigned dead : 1; /* freed inside its own callback: free on return */
};

struct twc__call {
    twc_call_fn fn;
    void *arg;
};

/* A callback queued by another thread. */
struct twc__tcall {
    struct twc__tcall *next;
    twc_call_fn fn;
    void *arg;
};

struct twc__ready {
    twc_io *io;
    unsigned events; /* TWC_IO_* */
};

struct twc__backend_ops {
    const char *name;
    /* Set up r->bdata. Returns 0 or a negative code with *err filled. */
    int (*init)(twc_reactor *r, twc_err *err);
    void (*cleanup)(twc_reactor *r);
    /* io->events is about to change from old to io->events (old != new). Returns
     * 0 or -errno; on failure the caller restores io->events = old. */
    int (*set)(twc_reactor *r, twc_io *io, unsigned old);
    /* Wait at most timeout_ms (-1: forever) and report readiness with
     * twc__reactor_ready. Returns 0 (also on EINTR) or -errno. */
    int (*wait)(twc_reactor *r, int timeout_ms);
};

extern const struct twc__backend_ops twc__backend_poll;
#ifdef __linux__
extern const struct twc__backend_ops twc__backend_epoll;
#endif

struct twc_reactor {
    const struct twc__backend_ops *backend;
    void *bdata;
    uint64_t backend_calls; /* set() calls that reached the backend (tests) */

    uint64_t now; /* cached ms */
    int fake_clock;

    /* Timers: a binary min-heap on (due, seq); see lib/timer.c. */
    twc_timer **heap;
    size_t nheap;
    size_t heap_cap;
    uint64_t timer_seq;

    size_t live_ios;
    size_t live_timers;

    /* I/O dispatch. */
    struct twc__ready *ready;
    size_t nready;
    size_t ready_cap;
    int dispatching;  /* inside the ready-list dispatch */
    int in_iteration; /* inside run_once: it is not reentrant */
    twc_io *dead;     /* freed during dispatch, freed after it */

    /* call_soon: a ring buffer, FIFO. */
    struct twc__call *soon;
    size_t soon_head;
    size_t soon_len;
    size_t soon_cap;
    size_t soon_reserved; /* slots promised (twc__reactor_soon_reserve):
                             soon_len + soon_reserved <= soon_cap */

    /* call_from_thread: a locked list, and the wake channel (eventfd or pipe). */
    pthread_mutex_t tlock;
    struct twc__tcall *thead;
    struct twc__tcall *ttail;
    int wake_rd;
    int wake_wr;
    int wake_eventfd; /* wake_rd == wake_wr is an eventfd */
    twc_io *wake_io;

    /* Signals owned by this reactor (lib/reactor_signal.c). */
    struct {
        twc_signal_fn fn;
        void *arg;
    } sig[TWC__NSIG];
    int nsig;

    /* Stop. */
    int stopping;
    int stopped; /* the stop sequence completed (run returns) */
    struct twc__call *hooks;
    size_t nhooks;
    size_t hooks_cap;

    twc_log *log;
    uint8_t *readbuf;
    void *slots[TWC__SLOT_COUNT];
};

/* Backends: report that io is ready with events (TWC_IO_*). Returns 0 or TWC_ENOMEM. */
int twc__reactor_ready(twc_reactor *r, twc_io *io, unsigned events);

/* Timers (lib/timer.c). */
/* Run every timer due at or before r->now that was started before this call. */
void twc__timers_run(twc_reactor *r);
/* Due time of the earliest timer; 0 and no timer when it returns 0. */
int twc__timers_next(const twc_reactor *r, uint64_t *due);
/* Fake clock: fire timers up to target, each group of equal due times followed
 * by a drain of the call-soon queue. */
void twc__timers_advance(twc_reactor *r, uint64_t target);
void twc__timers_cleanup(twc_reactor *r);

/* Call-soon queue (lib/reactor.c). */
/* Run the callbacks queued before this call. Returns how many ran. */
size_t twc__soon_pass(twc_reactor *r);
/* Run passes (and thread callbacks) until both queues are empty, bounded. */
void twc__soon_drain(twc_reactor *r);

/* Signals (lib/reactor_signal.c). */
/* Run the handlers of signals delivered since the last call. */
void twc__signals_dispatch(twc_reactor *r);
/* Give back every signal r owns (restore its previous disposition). */
void twc__signals_cleanup(twc_reactor *r);
/* Ignore SIGPIPE unless some reactor handles it. */
void twc__signals_ignore_sigpipe(void);

#endif
