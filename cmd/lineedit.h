/*
 * Line editing and history for a terminal stdin, on the reactor.
 *
 * Drives libedit's readline-compatible callback interface
 * (rl_callback_handler_install / rl_callback_read_char) one key at a time when
 * stdin is readable, so the loop never waits on the user. Each completed line
 * is handed over with its "\n", like piped input; Ctrl-D on an empty line is
 * end of input. History is kept in memory for the life of the process.
 *
 * libedit's readline layer is process-wide (one EditLine, one line handler), so
 * at most one editor exists at a time: twc_lineedit_new returns NULL while
 * another is alive.
 *
 * The editor draws on stdout when stdout is the terminal, else on stderr. While
 * it draws on stdout, the caller wraps every write to stdout in
 * twc_lineedit_hide / twc_lineedit_printed / twc_lineedit_show, so that peer
 * output scrolls above the line being typed instead of garbling it. An
 * unterminated last line of output ("Password: ") becomes the prompt, so the
 * user types after it as with a plain terminal.
 *
 * The terminal is put in raw mode by twc_lineedit_start and restored by
 * twc_lineedit_stop and twc_lineedit_free (also at exit(), as a last resort).
 */
#ifndef TWC_CMD_LINEEDIT_H
#define TWC_CMD_LINEEDIT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/reactor.h"

typedef struct twc_lineedit twc_lineedit;

/* A line the user entered, "\n" included (line borrowed for the call, len > 0),
 * or (NULL, 0) once at end of input: Ctrl-D on an empty line, or the terminal
 * hung up. The callback may call twc_lineedit_stop, but not _free. */
typedef void (*twc_lineedit_fn)(void *arg, const uint8_t *line, size_t len);

/* An editor for stdin, or NULL when stdin cannot be edited: not a terminal,
 * echo turned off (a password prompt), no terminal to draw on, not in the
 * terminal's foreground process group, another editor alive, or out of memory. Nothing is read, and the terminal is left alone,
 * until twc_lineedit_start. prompt is copied. Reads ~/.editrc (libedit's
 * settings) now, before the loop runs. Registers SIGWINCH and SIGCONT handlers
 * on r (terminal resized; back from Ctrl-Z) while the editor lives. */
twc_lineedit *twc_lineedit_new(twc_reactor *r, const char *prompt, twc_lineedit_fn fn, void *arg);
/* Stop (see below) and free. NULL is a no-op. */
void twc_lineedit_free(twc_lineedit *le);

/* Raw mode, prompt shown: keys are edited from now on. */
void twc_lineedit_start(twc_lineedit *le);
/* Erase the line being typed, leave raw mode, restore the terminal settings
 * found at _new. Idempotent. */
void twc_lineedit_stop(twc_lineedit *le);

/* stdin is readable: process keys until one completes a line (fn is called),
 * nothing is buffered, or max keys were processed. Returns the number of keys
 * processed (0: nothing was buffered), or -1 once end of input was reported
 * (fn(NULL, 0)). Never blocks. The screen must be shown (not hidden). */
int twc_lineedit_read(twc_lineedit *le, int max);

/* Nonzero when the editor draws on stdout's terminal: then stdout writes must
 * be wrapped in hide / printed / show. */
int twc_lineedit_on_stdout(const twc_lineedit *le);
/* Erase the prompt and the line being typed; the cursor goes where the last
 * output ended. No-op when hidden already or stopped. */
void twc_lineedit_hide(twc_lineedit *le);
/* data (borrowed) went to stdout: remember its unterminated last line. */
void twc_lineedit_printed(twc_lineedit *le, const uint8_t *data, size_t len);
/* Draw the prompt and the line again below the output. No-op when shown. */
void twc_lineedit_show(twc_lineedit *le);

#endif
