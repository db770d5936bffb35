/*
 * Deterministic test helpers, part of the library so every module's tests can
 * use them (Twisted's proto_helpers.StringTransport and test.iosim).
 *
 * - twc_string_transport: a transport with no socket. It records what the
 *   protocol writes and which commands it gave (lose_connection, abort,
 *   shutdown_write, pause/resume reading); the test feeds it bytes, peer EOF
 *   and the final connection_lost. Nothing happens on its own: THE TEST DRIVES
 *   THE LOOP. In particular lose_connection and abort only set a flag; the
 *   protocol hears connection_lost when the test calls
 *   twc_string_transport_close().
 *
 * - twc_pump: two protocols joined by in-memory transports (Twisted's
 *   iosim.connectedServerAndClient / FakeTransport / IOPump). Writes queue on
 *   the writer's side; twc_pump_flush moves them to the other protocol until
 *   nothing moves, optionally in chunks of N bytes so that every protocol is
 *   exercised with split input.
 *
 * Both implement struct twc_transport_ops (kind "string") and honour the common
 * flow-control rules of lib/transport_int.h (high/low water, pause_producing,
 * write_drained). Bytes handed to data_received always come from an exact-size
 * heap copy, so AddressSanitizer catches a protocol that reads past them.
 *
 * No sockets, no timers: tests using these need no real time.
 */
#ifndef TWC_LIB_TESTING_H
#define TWC_LIB_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"
#include "protocol.h"
#include "reactor.h"

/* ---- String transport ------------------------------------------------------- */

typedef struct twc_string_transport twc_string_transport;

/* A detached string transport. r (borrowed, may be NULL) is what
 * twc_transport_reactor() returns to the protocol: pass a fake-clock reactor
 * when the protocol uses timers. The default addresses are Twisted's: host
 * 10.0.0.1:12345, peer 192.168.1.1:54321. Returns owned, or NULL (out of memory). */
twc_string_transport *twc_string_transport_new(twc_reactor *r);

/* Free the transport. If a protocol is still attached it first gets
 * connection_lost (clean), so it can free itself. NULL is a no-op. */
void twc_string_transport_free(twc_string_transport *st);

/* The transport as protocols see it (borrowed; lives as long as st). */
twc_transport *twc_string_transport_transport(twc_string_transport *st);

/* Attach p (borrowed until its connection_lost; f may be NULL) and call
 * connection_made. One protocol per transport, attached once. */
void twc_string_transport_attach(twc_string_transport *st, twc_protocol *p, twc_factory *f);

/* Build a protocol with f->ops->build(f, peer address) and attach it. Returns
 * the protocol (borrowed: it frees itself in connection_lost), or NULL when the
 * factory refused the connection. */
twc_protocol *twc_string_transport_build(twc_string_transport *st, twc_factory *f);

/* The attached protocol, or NULL before attach and after connection_lost. */
twc_protocol *twc_string_transport_protocol(const twc_string_transport *st);

/* Everything written so far, in order (Twisted's value()). Borrowed until the
 * next write or clear; a NUL byte always follows the data (not counted in *len)
 * so text can be compared with strcmp. len may be NULL. */
const uint8_t *twc_string_transport_value(const twc_string_transport *st, size_t *len);
/* Forget what was written (Twisted's clear()). */
void twc_string_transport_clear(twc_string_transport *st);

/* Deliver len bytes (copied into an exact-size buffer) to data_received.
 * len == 0 does nothing. Returns 0, or TWC_ECLOSED when no protocol is
 * attached or the connection is closing (lose_connection, abort, or peer EOF
 * already fed). Delivery ignores pause_reading: check
 * twc_string_transport_reading_paused() if the test cares. */
int twc_string_transport_feed(twc_string_transport *st, const void *data, size_t len);

/* The peer shut down its write side: call eof_received. If it returns 0 (or is
 * NULL) the transport records a lose_connection, as a real one would close
 * after flushing. Returns 0, or TWC_ECLOSED as for feed. */
int twc_string_transport_feed_eof(twc_string_transport *st);

/* Deliver connection_lost now (why NULL: clean close, code 0), as the loop
 * would after the close took effect. Client-side transports (see
 * set_client_side) also call the factory's client_connection_lost. No-op when
 * no protocol is attached. */
void twc_string_transport_close(twc_string_transport *st, const twc_err *why);

/* Mark the transport as the client end of a connection (default: server). */
void twc_string_transport_set_client_side(twc_string_transport *st, int client_side);

/* Set the byte count twc_transport_buffered() reports and apply the flow-control
 * rules (twc__transport_buffered_changed): above the high-water mark the producer
 * is paused, and once back below the low-water mark it is resumed. Writes are
 * recorded as if the kernel took them at once; only this call changes the count. */
void twc_string_transport_set_buffered(twc_string_transport *st, size_t bytes);

/* Addresses returned by twc_transport_peer/host (copied). */
void twc_string_transport_set_peer(twc_string_transport *st, const twc_addr *a);
void twc_string_transport_set_host(twc_string_transport *st, const twc_addr *a);

/* Recorded commands. Each is 0 or 1. */
int twc_string_transport_disconnecting(const twc_string_transport *st); /* lose_connection */
int twc_string_transport_aborted(const twc_string_transport *st);       /* abort */
int twc_string_transport_write_shut(const twc_string_transport *st);    /* shutdown_write */
int twc_string_transport_reading_paused(const twc_string_transport *st);
/* connection_lost was delivered (by twc_string_transport_close or free). */
int twc_string_transport_lost(const twc_string_transport *st);

/* ---- Loopback pair with a pump ---------------------------------------------- */

typedef struct twc_pump twc_pump;

/* Most rounds twc_pump_flush runs before giving up on protocols that never
 * stop talking to each other. */
#define TWC_PUMP_MAX_ROUNDS 1000000

/* Connect a server protocol built by server_f and a client protocol built by
 * client_f (both borrowed; build() gets the other end's address: the server is
 * 127.0.0.1:8000, the client 127.0.0.1:40000) through in-memory transports. connection_made runs on the server, then the client.
 * r (borrowed, may be NULL) is what the transports report as their reactor;
 * when set, every pump round first runs its ready callbacks
 * (twc_reactor_run_once(r, 0)), so call-soon work is part of "until quiet".
 * Returns owned, or NULL with *err: TWC_ENOMEM, or TWC_ECLOSED when a factory
 * refused (a server protocol already built then gets connection_lost). */
twc_pump *twc_pump_new(twc_reactor *r, twc_factory *server_f, twc_factory *client_f, twc_err *err);

/* Free the pump. Protocols still attached get connection_lost (clean) first,
 * the server's before the client's. NULL is a no-op. */
void twc_pump_free(twc_pump *pp);

/* Deliver at most n bytes per data_received call (0, the default: everything
 * queued at once). */
void twc_pump_set_chunk(twc_pump *pp, size_t n);

/* One round: each direction delivers at most one chunk, then closes take effect.
 * Returns 1 if anything happened (bytes moved, EOF or connection_lost
 * delivered), else 0. */
int twc_pump_pump(twc_pump *pp);

/* Pump until a round does nothing (Twisted's IOPump.flush). Returns the number of
 * rounds that did something, or TWC_ETOOBIG after TWC_PUMP_MAX_ROUNDS.
 *
 * Close semantics, as over TCP: after lose_connection, once that side's queued
 * bytes are delivered, both protocols get connection_lost with code 0. After
 * shutdown_write, once drained, the other protocol gets eof_received (closing
 * its side if that returns 0 or is NULL). After abort, queued bytes are dropped
 * and the aborting side gets -ECONNABORTED, the other -ECONNRESET. A side whose
 * reading is paused receives nothing until it resumes. */
int twc_pump_flush(twc_pump *pp);

/* The protocols (NULL once their connection_lost ran) and their transports
 * (valid until twc_pump_free). */
twc_protocol *twc_pump_server(const twc_pump *pp);
twc_protocol *twc_pump_client(const twc_pump *pp);
twc_transport *twc_pump_server_transport(twc_pump *pp);
twc_transport *twc_pump_client_transport(twc_pump *pp);

#endif
