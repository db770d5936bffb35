/*
 * Reactor internals that other lib/ modules may use. Not a public header.
 *
 * - The shared read buffer: one TWC_READ_CHUNK buffer per reactor, so an idle
 *   connection holds no read buffer of its own. Valid until the reactor is
 *   freed; its contents only until the caller returns to the loop (the next
 *   read by anyone overwrites it).
 * - Module slots: one pointer per module that needs per-reactor state (the
 *   process table, ...), so no module needs a mutable global.
 * - Whether the reactor runs on a fake clock.
 */
#ifndef TWC_LIB_REACTOR_INT_H
#define TWC_LIB_REACTOR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "reactor.h"

/* Per-reactor state owned by other modules. The reactor starts each slot at
 * NULL and never frees what a module stores there: the module frees it. */
enum twc__reactor_slot_id {
    TWC__SLOT_PROCESS,  /* lib/process.c: table of live children */
    TWC__SLOT_POOL,     /* a default thread pool, if a module keeps one */
    TWC__SLOT_RESOLVER, /* the c-ares channel glue */
    TWC__SLOT_TLS,      /* a shared TLS context cache */
    TWC__SLOT_LOG,      /* lib/log.c private state */
    TWC__SLOT_COUNT
};

/* The reactor's shared read buffer (borrowed; *len receives its size,
 * TWC_READ_CHUNK). Never NULL. Loop thread only. */
uint8_t *twc__reactor_read_buf(twc_reactor *r, size_t *len);

/* The address of slot id (borrowed; valid until the reactor is freed). */
void **twc__reactor_slot(twc_reactor *r, enum twc__reactor_slot_id id);

/* Nonzero when r was created with opts->fake_clock. */
int twc__reactor_fake_clock(const twc_reactor *r);

/* A call-soon slot kept for later, for a callback that must be queued when
 * memory may have run out (a stream's connection_lost: delivering it from
 * inside the call that closed, or never, would both break the protocol
 * contract). reserve grows the queue now and fails only there (TWC_ENOMEM);
 * call_soon_reserved then cannot fail and uses the slot up; release gives an
 * unused one back. Loop thread only. */
int twc__reactor_soon_reserve(twc_reactor *r);
void twc__reactor_call_soon_reserved(twc_reactor *r, twc_call_fn fn, void *arg);
void twc__reactor_soon_release(twc_reactor *r);

#endif
