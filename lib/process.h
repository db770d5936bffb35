/*
 * Child processes (Twisted's spawnProcess and ProcessProtocol).
 *
 * The child's stdin, stdout and stderr are non-blocking pipes driven by the
 * reactor; its exit is noticed through SIGCHLD, handled as a loop event.
 *
 * Lifetime: the library owns a twc_process. process_ended is its last
 * callback, exactly once, after the child was reaped AND both output pipes
 * reached EOF; the object is freed when that callback returns. Until then
 * the handle is valid, and the process counts as a live handle of the
 * reactor. Callbacks never run from inside twc_process_spawn.
 */
#ifndef TWC_LIB_PROCESS_H
#define TWC_LIB_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "reactor.h"

typedef struct twc_process twc_process;

struct twc_process_ops {
    /* Optional: bytes from the child's stdout / stderr, borrowed for the call. */
    void (*out_received)(twc_process *p, const uint8_t *data, size_t len, void *arg);
    void (*err_received)(twc_process *p, const uint8_t *data, size_t len, void *arg);
    /* Optional: the child was reaped. exit_code is its status (-1 if it was killed)
     * and term_signal the signal that killed it (0 if it exited). */
    void (*process_exited)(twc_process *p, int exit_code, int term_signal, void *arg);
    /* Required, last call: reaped and both outputs closed. Same meaning as above. */
    void (*process_ended)(twc_process *p, int exit_code, int term_signal, void *arg);
};

struct twc_spawn_opts {
    const char *const *argv; /* argv[0] is looked up in PATH when it has no '/' */
    const char *const *env;  /* NULL: inherit the environment */
    const char *dir;         /* NULL: inherit the working directory */
};

/* Start a child. ops and arg are borrowed until process_ended. If the program
 * cannot be executed, the child writes one line on its stderr and exits 127
 * (as a shell does). Returns the handle, or NULL with *err (pipe/fork failed). */
twc_process *twc_process_spawn(twc_reactor *r, const struct twc_spawn_opts *o,
                               const struct twc_process_ops *ops, void *arg, twc_err *err);

/* Queue bytes for the child's stdin (copied; never blocks). Returns 0, or
 * TWC_ECLOSED after twc_process_close_stdin or once the child closed it. */
int twc_process_write(twc_process *p, const void *data, size_t len);
/* Close the child's stdin once queued bytes are written. */
void twc_process_close_stdin(twc_process *p);
/* Send a signal. Returns 0, or a negative code (-ESRCH once reaped). */
int twc_process_kill(twc_process *p, int signo);
pid_t twc_process_pid(const twc_process *p);

#endif
