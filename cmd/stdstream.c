/*
 * stdin/stdout watchers for the netcat-like clients (see stdstream.h), with
 * optional line editing of a terminal stdin (cmd/lineedit.c).
 */
#define _GNU_SOURCE
#include "stdstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Peer bytes waiting for stdout. Producers stop at the first queued byte, so
 * this only bounds a misbehaving producer. */
#define STDOUT_QUEUE_MAX (64u * 1024 * 1024)

/* Make fd non-blocking if it is something poll can watch; remember the old flags. */
static int make_nonblocking(int fd, int *saved)
{
    struct stat st;
    int fl;

    *saved = -1;
    if (fstat(fd, &st) < 0)
        return 0;
    if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode))
        return 0; /* regular file: reads and writes never wait */
    fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return 0;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
        *saved = fl;
    return 1;
}

static void read_input(struct twc_stdio *s);
static long write_out(struct twc_stdio *s, const uint8_t *data, size_t len);
static void read_edited(struct twc_stdio *s);

static void on_stdin(twc_io *io, unsigned events, void *arg)
{
    struct twc_stdio *s = arg;

    (void)io;
    (void)events;
    if (s->edit != NULL)
        read_edited(s);
    else
        read_input(s);
}

static void on_soon(void *arg)
{
    struct twc_stdio *s = arg;

    s->in_soon = 0;
    read_input(s);
}

/* Want input now? Arm the watcher, or for unpollable stdin queue a read. */
static void update_input(struct twc_stdio *s)
{
    int want = s->in_started && !s->in_paused && !s->in_eof;

    /* Editing on stdout's terminal: no keys while peer output waits for the
     * terminal, since libedit would draw them in the middle of it. */
    if (twc_lineedit_on_stdout(s->edit) && twc_buf_len(&s->out) > 0)
        want = 0;

    if (s->in_pollable) {
        twc_io_set(s->in_io, want ? TWC_IO_READ : 0);
    } else if (want && !s->in_soon) {
        if (twc_reactor_call_soon(s->reactor, on_soon, s) == 0)
            s->in_soon = 1;
    }
}

static void read_input(struct twc_stdio *s)
{
    ssize_t n;

    if (!s->in_started || s->in_paused || s->in_eof)
        return;
    n = read(STDIN_FILENO, s->chunk, s->chunk_size);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        update_input(s);
        return;
    }
    if (n <= 0) {
        /* EOF, or an error reading stdin (e.g. it was closed): both end the input. */
        s->in_eof = 1;
        update_input(s);
        s->on_input(s->arg, NULL, 0);
        return;
    }
    s->on_input(s->arg, s->chunk, (size_t)n);
    update_input(s); /* unpollable stdin: queue the next read unless paused */
}

/* Keys from a terminal: libedit calls on_edited_line with each line. */
static void read_edited(struct twc_stdio *s)
{
    if (!s->in_started || s->in_paused || s->in_eof)
        return;
    twc_lineedit_read(s->edit, 64);
}

static void on_edited_line(void *arg, const uint8_t *line, size_t len)
{
    struct twc_stdio *s = arg;

    if (len == 0) { /* Ctrl-D on an empty line */
        s->in_eof = 1;
        update_input(s);
    }
    s->on_input(s->arg, line, len);
}

static void on_stdout(twc_io *io, unsigned events, void *arg)
{
    struct twc_stdio *s = arg;

    (void)events;
    while (twc_buf_len(&s->out) > 0) {
        ssize_t n = write(STDOUT_FILENO, twc_buf_data(&s->out), twc_buf_len(&s->out));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;

            twc_buf_reset(&s->out);
            twc_io_set(io, 0);
            s->on_output_error(s->arg, e);
            return;
        }
        twc_buf_consume(&s->out, (size_t)n);
    }
    twc_io_set(io, 0);
    if (twc_lineedit_on_stdout(s->edit)) {
        twc_lineedit_show(s->edit);
        update_input(s);
    }
    s->on_output_drained(s->arg);
}

int twc_stdio_init(struct twc_stdio *s, twc_reactor *r, size_t chunk_size, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->in_flags = s->out_flags = -1;
    s->reactor = r;
    s->arg = arg;
    s->chunk_size = chunk_size;
    twc_buf_init(&s->out, STDOUT_QUEUE_MAX);
    s->chunk = malloc(chunk_size);
    if (s->chunk == NULL)
        return TWC_ENOMEM;
    s->in_pollable = make_nonblocking(STDIN_FILENO, &s->in_flags);
    s->out_pollable = make_nonblocking(STDOUT_FILENO, &s->out_flags);
    if (s->in_pollable) {
        s->in_io = twc_io_new(r, STDIN_FILENO, on_stdin, s);
        if (s->in_io == NULL)
            return TWC_ENOMEM;
        /* /dev/null is a character device that epoll refuses (EPERM). */
        if (twc_io_set(s->in_io, TWC_IO_READ) < 0) {
            twc_io_free(s->in_io);
            s->in_io = NULL;
            s->in_pollable = 0;
        } else {
            twc_io_set(s->in_io, 0);
        }
    }
    if (s->out_pollable) {
        s->out_io = twc_io_new(r, STDOUT_FILENO, on_stdout, s);
        if (s->out_io == NULL)
            return TWC_ENOMEM;
        if (twc_io_set(s->out_io, TWC_IO_WRITE) < 0) {
            twc_io_free(s->out_io);
            s->out_io = NULL;
            s->out_pollable = 0;
        } else {
            twc_io_set(s->out_io, 0);
        }
    }
    /* An unpollable output must block until written: undo O_NONBLOCK on it. */
    if (!s->out_pollable && s->out_flags >= 0) {
        fcntl(STDOUT_FILENO, F_SETFL, s->out_flags);
        s->out_flags = -1;
    }
    return 0;
}

int twc_stdio_edit_lines(struct twc_stdio *s, const char *prompt)
{
    if (s->edit == NULL && s->in_pollable)
        s->edit = twc_lineedit_new(s->reactor, prompt, on_edited_line, s);
    return s->edit != NULL;
}

void twc_stdio_cleanup(struct twc_stdio *s)
{
    /* The terminal's settings first, while stdin is still ours. */
    twc_lineedit_free(s->edit);
    s->edit = NULL;
    twc_io_free(s->in_io);
    twc_io_free(s->out_io);
    s->in_io = s->out_io = NULL;
    /* Restore stdout before stdin: on a terminal they share one file description. */
    if (s->out_flags >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, s->out_flags);
    if (s->in_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, s->in_flags);
    s->in_flags = s->out_flags = -1;
    free(s->chunk);
    s->chunk = NULL;
    twc_buf_cleanup(&s->out);
}

void twc_stdio_start_input(struct twc_stdio *s)
{
    s->in_started = 1;
    if (s->edit != NULL)
        twc_lineedit_start(s->edit);
    update_input(s);
}

void twc_stdio_pause_input(struct twc_stdio *s)
{
    s->in_paused = 1;
    update_input(s);
}

void twc_stdio_resume_input(struct twc_stdio *s)
{
    s->in_paused = 0;
    update_input(s);
}

void twc_stdio_stop_input(struct twc_stdio *s)
{
    s->in_started = 0;
    if (s->edit != NULL)
        twc_lineedit_stop(s->edit);
    update_input(s);
}

long twc_stdio_write(struct twc_stdio *s, const uint8_t *data, size_t len)
{
    long rc;

    if (!twc_lineedit_on_stdout(s->edit))
        return write_out(s, data, len);
    /* Output scrolls above the line being typed: erase it, write, draw it again
     * below (once stdout took everything). */
    twc_lineedit_hide(s->edit);
    twc_lineedit_printed(s->edit, data, len);
    rc = write_out(s, data, len);
    if (twc_buf_len(&s->out) == 0)
        twc_lineedit_show(s->edit);
    update_input(s);
    return rc;
}

static long write_out(struct twc_stdio *s, const uint8_t *data, size_t len)
{
    int e;

    /* Nothing queued: write at once, queue only what stdout does not take. */
    while (twc_buf_len(&s->out) == 0 && len > 0) {
        ssize_t n = write(STDOUT_FILENO, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && s->out_pollable)
            break;
        if (n <= 0) {
            e = n < 0 ? errno : EIO;
            s->on_output_error(s->arg, e);
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    if (len == 0)
        return (long)twc_buf_len(&s->out);
    if (twc_buf_append(&s->out, data, len) < 0) {
        s->on_output_error(s->arg, ENOBUFS);
        return -1;
    }
    twc_io_set(s->out_io, TWC_IO_WRITE);
    return (long)twc_buf_len(&s->out);
}

size_t twc_stdio_pending(const struct twc_stdio *s)
{
    return twc_buf_len(&s->out);
}
