/*
 * Line editing for a terminal stdin (see lineedit.h).
 *
 * libedit reads the terminal itself (read(2) on fd 0, one byte at a time, from
 * rl_callback_read_char). stdin is O_NONBLOCK (cmd/stdstream.c sets it), and
 * libedit's "safe read" (EL_SAFEREAD, which would clear O_NONBLOCK and wait) is
 * off in the readline layer, so a read finding nothing returns EAGAIN and
 * libedit returns to us. The one visible cost: a lone ESC typed on its own is
 * dropped instead of waiting for the key after it; arrow and function keys
 * arrive from the terminal as one burst and work.
 *
 * libedit's own signal handling (rl_catch_signals) is turned off: its handler
 * re-sends the signal to the whole process group with kill(0, ...). SIGINT and
 * SIGTERM reach the client's reactor handlers as usual, which end the input and
 * restore the terminal through twc_lineedit_stop; SIGWINCH and SIGCONT are
 * handled here, on the loop.
 *
 * rl_redisplay is avoided: libedit implements it by pushing the REPRINT
 * character (^R), which its readline layer binds to incremental search.
 * rl_forced_update_display redraws the prompt and line from the cursor's
 * column 0, so hide() first moves the cursor there and erases with ANSI
 * sequences, which every terminal twc meets understands.
 */
#define _GNU_SOURCE
#include "cmd/lineedit.h"

#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <editline/readline.h>

/* Lines kept for Up-arrow recall. */
#define HISTORY_MAX 500
/* Longest unterminated output line that becomes the prompt; longer ones are
 * left above the input line instead. */
#define TAIL_MAX    160

struct twc_lineedit {
    twc_reactor *reactor;
    twc_lineedit_fn fn;
    void *arg;
    char *prompt; /* ours; the tail of output replaces it while there is one */
    FILE *out;    /* where libedit draws: stdout or stderr */
    int out_fd;
    int on_stdout;           /* out is stdout: wrap stdout writes */
    struct termios saved;    /* stdin's settings at _new, restored at stop */
    int installed;           /* the line handler is installed (raw mode) */
    int visible;             /* the prompt and line are on the screen */
    int eof;                 /* fn(NULL, 0) was called */
    int line_done;           /* a line completed during this twc_lineedit_read */
    char *last;              /* last history entry, to skip repeats */
    char tail[TAIL_MAX + 1]; /* output after its last newline, if printable */
    size_t tail_len;
    int tail_bad; /* that output had control bytes or was too long */
};

/*
 * libedit's readline interface calls one global line handler with no argument,
 * so the live editor is found through this pointer. It is the only process-wide
 * state, mirroring the state libedit keeps itself; the exit hook uses it too.
 */
static twc_lineedit *live;
static int exit_hook_set;

static void on_line(char *line);

/* Write all of s to the terminal; best effort (the terminal is O_NONBLOCK and
 * this only moves the cursor). */
static void term_write(const twc_lineedit *le, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(le->out_fd, s, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void term_puts(const twc_lineedit *le, const char *s)
{
    term_write(le, s, strlen(s));
}

static int term_columns(const twc_lineedit *le)
{
    struct winsize ws;

    if (ioctl(le->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Columns taken by UTF-8 text: one per character (wide CJK characters count as
 * one; close enough for finding the start of the line). */
static size_t text_width(const char *s, size_t len)
{
    size_t i, w = 0;

    for (i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

/* The prompt libedit draws: the unterminated output line, else ours. */
static const char *current_prompt(const twc_lineedit *le)
{
    return le->tail_len > 0 ? le->tail : le->prompt;
}

static void restore_terminal(twc_lineedit *le)
{
    tcsetattr(STDIN_FILENO, TCSADRAIN, &le->saved);
}

/* exit() without cleanup (another module's error path): leave the terminal as
 * we found it. */
static void on_exit_restore(void)
{
    if (live != NULL && live->installed)
        restore_terminal(live);
}

static void on_resize(twc_reactor *r, int signo, void *arg)
{
    twc_lineedit *le = arg;

    (void)r;
    (void)signo;
    if (!le->installed)
        return;
    rl_resize_terminal();
    twc_lineedit_hide(le);
    twc_lineedit_show(le);
}

/* Back from Ctrl-Z: the shell put the terminal in its own mode; take raw mode
 * again and redraw. */
static void on_continue(twc_reactor *r, int signo, void *arg)
{
    twc_lineedit *le = arg;

    (void)r;
    (void)signo;
    if (!le->installed)
        return;
    rl_deprep_terminal();
    rl_prep_terminal(0);
    term_puts(le, "\r\033[J");
    le->visible = 0;
    twc_lineedit_show(le);
}

twc_lineedit *twc_lineedit_new(twc_reactor *r, const char *prompt, twc_lineedit_fn fn, void *arg)
{
    twc_lineedit *le;
    struct termios t;

    if (live != NULL || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t) < 0)
        return NULL;
    /* Echo off means someone wants the input unseen; libedit would not edit it. */
    if (!(t.c_lflag & ECHO))
        return NULL;
    if (!isatty(STDOUT_FILENO) && !isatty(STDERR_FILENO))
        return NULL;
    /* A background job changing the terminal's modes would be stopped
     * (SIGTTOU): leave the terminal to the foreground. */
    if (tcgetpgrp(STDIN_FILENO) != getpgrp())
        return NULL;
    le = calloc(1, sizeof(*le));
    if (le == NULL)
        return NULL;
    le->prompt = strdup(prompt != NULL ? prompt : "");
    if (le->prompt == NULL) {
        free(le);
        return NULL;
    }
    le->reactor = r;
    le->fn = fn;
    le->arg = arg;
    le->saved = t;
    le->on_stdout = isatty(STDOUT_FILENO);
    le->out = le->on_stdout ? stdout : stderr;
    le->out_fd = fileno(le->out);
    /* Multibyte input (UTF-8) needs the user's character type; the rest of the
     * locale stays "C". */
    setlocale(LC_CTYPE, "");
    rl_readline_name = "twc";
    rl_instream = stdin;
    rl_outstream = le->out;
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    if (rl_initialize() != 0) {
        free(le->prompt);
        free(le);
        return NULL;
    }
    stifle_history(HISTORY_MAX);
    live = le;
    if (!exit_hook_set && atexit(on_exit_restore) == 0)
        exit_hook_set = 1;
    twc_reactor_on_signal(r, SIGWINCH, on_resize, le, NULL);
    twc_reactor_on_signal(r, SIGCONT, on_continue, le, NULL);
    return le;
}

void twc_lineedit_free(twc_lineedit *le)
{
    if (le == NULL)
        return;
    twc_lineedit_stop(le);
    twc_reactor_on_signal(le->reactor, SIGWINCH, NULL, NULL, NULL);
    twc_reactor_on_signal(le->reactor, SIGCONT, NULL, NULL, NULL);
    if (live == le)
        live = NULL;
    free(le->last);
    free(le->prompt);
    free(le);
}

void twc_lineedit_start(twc_lineedit *le)
{
    if (le->installed || le->eof)
        return;
    le->installed = 1;
    le->visible = 1;
    /* Raw mode, and libedit draws the prompt. */
    rl_callback_handler_install(current_prompt(le), on_line);
}

void twc_lineedit_stop(twc_lineedit *le)
{
    if (!le->installed)
        return;
    twc_lineedit_hide(le);
    /* The cursor sits after an unterminated output line: end it, so what
     * follows (an error message, the shell's prompt) starts on its own line. */
    if (le->on_stdout && le->tail_len > 0)
        term_puts(le, "\r\n");
    le->tail_len = 0;
    le->tail[0] = '\0';
    rl_callback_handler_remove();
    le->installed = 0;
    restore_terminal(le);
}

/* libedit's line handler: line is malloc'd and ours, NULL at Ctrl-D. */
static void on_line(char *line)
{
    twc_lineedit *le = live;
    size_t len;
    char *nl;

    if (le == NULL) {
        free(line);
        return;
    }
    if (line == NULL) {
        /* libedit left raw mode already; remove the handler so nothing is
         * drawn again, then end the input. */
        le->eof = 1;
        le->visible = 0;
        /* libedit echoed "^D" after the prompt: erase it. */
        if (le->on_stdout) {
            char seq[32];
            size_t pw = text_width(le->tail, le->tail_len);

            snprintf(seq, sizeof(seq), pw > 0 ? "\r\033[%zuC\033[K" : "\r\033[K", pw);
            term_puts(le, seq);
        }
        if (le->on_stdout && le->tail_len > 0)
            term_puts(le, "\r\n");
        le->tail_len = 0;
        le->tail[0] = '\0';
        rl_callback_handler_remove();
        le->installed = 0;
        restore_terminal(le);
        le->fn(le->arg, NULL, 0);
        return;
    }
    len = strlen(line);
    if (len > 0 && (le->last == NULL || strcmp(le->last, line) != 0)) {
        add_history(line);
        free(le->last);
        le->last = strdup(line);
    }
    /* libedit moved to a new line after Enter: the output tail is behind us. */
    le->tail_len = 0;
    le->tail[0] = '\0';
    le->line_done = 1;
    nl = realloc(line, len + 1 + 1);
    if (nl == NULL) {
        free(line);
        return;
    }
    nl[len] = '\n';
    nl[len + 1] = '\0';
    /* Next line: raw mode again (libedit left it after Enter), fresh prompt. */
    rl_callback_handler_install(current_prompt(le), on_line);
    le->visible = 1;
    le->fn(le->arg, (const uint8_t *)nl, len + 1);
    free(nl);
}

int twc_lineedit_read(twc_lineedit *le, int max)
{
    int n = 0, avail = 0;

    if (le->eof)
        return -1;
    if (!le->installed)
        return 0;
    if (ioctl(STDIN_FILENO, FIONREAD, &avail) < 0)
        avail = 0;
    if (avail == 0) {
        /* Readable with nothing to read: the terminal hung up (raw mode reads
         * at least one byte otherwise). */
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};

        if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
            twc_lineedit_hide(le);
            rl_callback_handler_remove();
            le->installed = 0;
            restore_terminal(le);
            le->eof = 1;
            le->fn(le->arg, NULL, 0);
            return -1;
        }
        return 0;
    }
    /* One key per rl_callback_read_char (libedit's unbuffered mode); an
     * escape sequence is several bytes but one key. Return after a line, so
     * the caller can pause before the next one. */
    le->line_done = 0;
    while (n < max && le->installed && !le->line_done) {
        if (ioctl(STDIN_FILENO, FIONREAD, &avail) < 0 || avail == 0)
            break;
        rl_callback_read_char();
        n++;
    }
    return le->eof ? -1 : n;
}

int twc_lineedit_on_stdout(const twc_lineedit *le)
{
    return le != NULL && le->on_stdout;
}

void twc_lineedit_hide(twc_lineedit *le)
{
    char seq[64];
    size_t pw, row;
    int cols, len;

    if (!le->visible || !le->installed)
        return;
    le->visible = 0;
    cols = term_columns(le);
    pw = text_width(current_prompt(le), strlen(current_prompt(le)));
    row = (pw + text_width(rl_line_buffer, (size_t)rl_point)) / (size_t)cols;
    /* To the prompt's first row, then just after the output tail (the prompt
     * when there is one), and erase to the end of the screen. */
    len = snprintf(seq, sizeof(seq), "\r");
    if (row > 0)
        len += snprintf(seq + len, sizeof(seq) - (size_t)len, "\033[%zuA", row);
    if (le->tail_len > 0)
        len += snprintf(seq + len, sizeof(seq) - (size_t)len, "\033[%zuC", pw);
    len += snprintf(seq + len, sizeof(seq) - (size_t)len, "\033[J");
    fflush(le->out);
    term_write(le, seq, (size_t)len);
}

void twc_lineedit_printed(twc_lineedit *le, const uint8_t *data, size_t len)
{
    const uint8_t *nl = len > 0 ? memrchr(data, '\n', len) : NULL;
    size_t i;

    if (nl != NULL) {
        le->tail_len = 0;
        le->tail_bad = 0;
        len -= (size_t)(nl + 1 - data);
        data = nl + 1;
    }
    if (le->tail_bad)
        return;
    for (i = 0; i < len; i++) {
        if (data[i] < 0x20 || data[i] == 0x7f || le->tail_len >= TAIL_MAX) {
            le->tail_bad = 1;
            return;
        }
        le->tail[le->tail_len++] = (char)data[i];
    }
    le->tail[le->tail_len] = '\0';
}

void twc_lineedit_show(twc_lineedit *le)
{
    if (le->visible || !le->installed)
        return;
    if (le->tail_bad || text_width(le->tail, le->tail_len) + 8 >= (size_t)term_columns(le)) {
        /* An output line we cannot reuse as the prompt: keep it above. */
        term_puts(le, "\r\n");
        le->tail_len = 0;
        le->tail_bad = 0;
    } else if (le->tail_len > 0) {
        /* libedit draws from column 0: it will draw the tail again, as the
         * prompt, over itself. */
        term_puts(le, "\r");
    }
    le->tail[le->tail_len] = '\0';
    rl_set_prompt(current_prompt(le));
    rl_forced_update_display();
    le->visible = 1;
}
