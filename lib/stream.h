/*
 * Stream sockets: TCP (IPv4/IPv6) and UNIX listeners and client connectors.
 *
 * Listeners accept with a reserve against fd exhaustion: on EMFILE/ENFILE they
 * pause for TWC_EMFILE_BACKOFF_MS (with one log line), never spin.
 * Connectors connect without blocking, with a timeout; the factory hears the
 * outcome exactly once per attempt: build()+connection_made, or connection_failed.
 */
#ifndef TWC_LIB_STREAM_H
#define TWC_LIB_STREAM_H

#include <stdint.h>

#include "addr.h"
#include "err.h"
#include "protocol.h"
#include "reactor.h"

typedef struct twc_listener twc_listener;
typedef struct twc_connector twc_connector;

struct twc_tcp_listen_opts {
    const char *interface; /* numeric address; NULL or "" = all (IPv6 dual-stack, else IPv4) */
    uint16_t port;         /* 0: the kernel picks; read it with twc_listener_addr */
    int backlog;           /* 0: TWC_LISTEN_BACKLOG */
    int reuseport;         /* set SO_REUSEPORT (workers) */
};

/* Listen for TCP connections; each accepted one gets a protocol from f
 * (borrowed: keep it alive until the listener is freed and its connections are
 * gone). Returns owned, or NULL with *err (e.g. -EADDRINUSE, -EACCES,
 * -EADDRNOTAVAIL, TWC_EINVAL). */
twc_listener *twc_tcp_listen(twc_reactor *r, const struct twc_tcp_listen_opts *o,
                             twc_factory *f, twc_err *err);

/* Listen on a UNIX socket path with the given file mode (0: 0666 & ~umask). A stale
 * socket file is replaced when no one listens on it; a live one gives -EADDRINUSE.
 * The file is removed when the listener is freed. */
twc_listener *twc_unix_listen(twc_reactor *r, const char *path, unsigned mode, twc_factory *f,
                              twc_err *err);

/* Serve an already-bound, listening socket (socket activation, workers). Takes fd. */
twc_listener *twc_listener_adopt(twc_reactor *r, int fd, twc_factory *f, twc_err *err);

/* The bound address (real port when 0 was asked for). Returns 0 or a negative code. */
int twc_listener_addr(const twc_listener *l, twc_addr *out);
int twc_listener_fd(const twc_listener *l);
/* Stop accepting / start again (accepted connections are unaffected). */
void twc_listener_pause(twc_listener *l);
void twc_listener_resume(twc_listener *l);
/* Stop listening and close the socket; established connections live on. NULL no-op. */
void twc_listener_free(twc_listener *l);

/* Connect to a numeric address (TCP or UNIX), without blocking, giving up after
 * timeout_ms (0: TWC_CONNECT_TIMEOUT_MS) with TWC_ETIMEDOUT. f is borrowed until
 * its callback for this attempt has run. Returns owned (free with
 * twc_connector_free), or NULL with *err for errors known at once (bad
 * address); later errors reach f->ops->connection_failed. */
twc_connector *twc_connector_new(twc_reactor *r, const twc_addr *to, unsigned timeout_ms,
                                 twc_factory *f, twc_err *err);
/* Start another attempt with the same target (reconnecting). Returns 0 or code. */
int twc_connector_connect(twc_connector *c, twc_err *err);
/* Cancel a pending attempt: connection_failed(TWC_ECANCELED) follows from the loop. */
void twc_connector_stop(twc_connector *c);
/* Cancel any pending attempt (as stop) and free. An established connection is not
 * affected. NULL no-op. */
void twc_connector_free(twc_connector *c);

/* ---- Reconnecting client (Twisted's ReconnectingClientFactory) --------------- */

typedef struct twc_reconnect twc_reconnect;

/* Keep a connection to `to` up: connect now, and after every failure or loss retry
 * after a delay starting at TWC_RECONNECT_INITIAL_MS, growing by
 * TWC_RECONNECT_FACTOR with +/- TWC_RECONNECT_JITTER random jitter, capped at
 * TWC_RECONNECT_MAX_MS, reset to the initial delay once a connection is made.
 * inner is the client factory (borrowed) whose build/connection_failed/
 * client_connection_lost are called as usual. Returns owned. */
twc_reconnect *twc_reconnect_new(twc_reactor *r, const twc_addr *to, twc_factory *inner,
                                 twc_err *err);
/* Delay before the next retry, in ms (for tests: the fake clock drives retries). */
uint64_t twc_reconnect_next_delay(const twc_reconnect *rc);
/* Stop retrying and free (an established connection is left alone). NULL no-op. */
void twc_reconnect_free(twc_reconnect *rc);

#endif
