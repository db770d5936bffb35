/*
 * stdin and stdout on the reactor, for the netcat-like clients.
 *
 * Input: stdin is read when readable, one chunk per wakeup, and each chunk is
 * handed to on_input (len 0 once, at EOF). pause/resume stop and restart
 * reading (flow control from the consumer).
 *
 * Output: twc_stdio_write tries write(2) at once and queues what stdout did not
 * take; the queue drains when stdout is writable, then on_output_drained runs.
 * The caller stops its producer while anything is queued, so the queue holds at
 * most about one chunk.
 *
 * Line editing (twc_stdio_edit_lines): when stdin is a terminal, input goes
 * through libedit one key at a time (cmd/lineedit.h) and on_input receives
 * whole lines, "\n" included; Ctrl-D on an empty line is EOF. Peer output
 * written with twc_stdio_write scrolls above the line being typed.
 *
 * Pipes, sockets and terminals are made O_NONBLOCK (restored by cleanup).
 * Regular files and /dev/null cannot be polled (epoll says EPERM): they are read
 * from "call soon" callbacks and written with plain blocking writes, which never
 * wait on such files.
 */
#ifndef TWC_CMD_STDSTREAM_H
#define TWC_CMD_STDSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/lineedit.h"
#include "lib/buf.h"
#include "lib/reactor.h"

struct twc_stdio {
    twc_reactor *reactor;
    void *arg;
    /* Set by the caller after init. on_input borrows data for the call. */
    void (*on_input)(void *arg, const uint8_t *data, size_t len);
    void (*on_output_drained)(void *arg);
    void (*on_output_error)(void *arg, int sys_errno);

    twc_io *in_io, *out_io;
    int in_pollable, out_pollable;
    int in_flags, out_flags; /* fcntl flags to restore; -1: untouched */
    int in_started, in_paused, in_eof, in_soon;
    uint8_t *chunk; /* read buffer */
    size_t chunk_size;
    twc_buf out;        /* bytes stdout has not taken yet */
    twc_lineedit *edit; /* line editing on (stdin is a terminal), else NULL */
};

/* Prepare (nothing is read until twc_stdio_start_input). chunk_size: bytes per
 * read(2). arg is handed to the callbacks. Returns 0 or TWC_ENOMEM. */
int twc_stdio_init(struct twc_stdio *s, twc_reactor *r, size_t chunk_size, void *arg);
/* Stop everything, free, restore the descriptor flags. Safe on a zeroed struct. */
void twc_stdio_cleanup(struct twc_stdio *s);

/* Edit input lines (history, cursor keys) when stdin is a terminal; call after
 * init, before start_input. prompt is copied. Returns 1 when on, 0 when stdin
 * is read as before (not a terminal, or echo off). Cleanup restores the
 * terminal. */
int twc_stdio_edit_lines(struct twc_stdio *s, const char *prompt);

void twc_stdio_start_input(struct twc_stdio *s);
void twc_stdio_pause_input(struct twc_stdio *s);
void twc_stdio_resume_input(struct twc_stdio *s);
/* No more input wanted (peer gone). */
void twc_stdio_stop_input(struct twc_stdio *s);

/* Write data to stdout (copied if it cannot go at once). Returns the number of
 * bytes queued (0: all written), or -1 after a write error, which was reported
 * through on_output_error before returning (it may close the connection: the
 * callers run inside data_received, where that is safe). */
long twc_stdio_write(struct twc_stdio *s, const uint8_t *data, size_t len);
size_t twc_stdio_pending(const struct twc_stdio *s);

#endif
