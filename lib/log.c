/*
 * Structured logging (shared/CLI.md "JSON log lines"): builds one text or JSON
 * line per event and hands it to the file (one write(2) per line) or to a test
 * sink.
 *
 * Why one write(2): several processes (workers, a supervisor) may share one log
 * file or pipe. A line written in one O_APPEND write never interleaves with
 * another; lines up to PIPE_BUF are atomic on pipes too.
 *
 * A reactor without a logger (or a NULL reactor) uses default_log below: text
 * on stderr at info. It is const, so there is no mutable global state.
 */
#include "log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "limits.h"

struct twc_log {
    twc_log_format fmt;
    twc_log_level min;
    int fd;     /* 2 for stderr, else our own file */
    char *path; /* NULL: stderr */
    void (*sink)(void *arg, const char *line, size_t len);
    void *sink_arg;
};

static const twc_log default_log = {TWC_LOG_TEXT, TWC_LOG_INFO, STDERR_FILENO, NULL, NULL, NULL};

/* How long a write may wait for a non-blocking fd (e.g. a tty shared with
 * stdout that a client set O_NONBLOCK) before the line is dropped. */
#define LOG_WRITE_WAIT_MS 1000

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static int open_log_file(const char *path, twc_err *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        return twc_err_sys(err, errno, "cannot open log file %s", path);
    return fd;
}

twc_log *twc_log_new(twc_log_format fmt, twc_log_level min, const char *path, twc_err *err)
{
    twc_log *lg = calloc(1, sizeof(*lg));

    if (lg == NULL) {
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    lg->fmt = fmt;
    lg->min = min;
    lg->fd = STDERR_FILENO;
    if (path != NULL) {
        lg->path = strdup(path);
        if (lg->path == NULL) {
            twc_err_set(err, TWC_ENOMEM, "out of memory");
            free(lg);
            return NULL;
        }
        lg->fd = open_log_file(path, err);
        if (lg->fd < 0) {
            free(lg->path);
            free(lg);
            return NULL;
        }
    }
    return lg;
}

void twc_log_free(twc_log *lg)
{
    if (lg == NULL)
        return;
    if (lg->path != NULL)
        close(lg->fd);
    free(lg->path);
    free(lg);
}

int twc_log_reopen(twc_log *lg, twc_err *err)
{
    int fd;

    if (lg == NULL || lg->path == NULL)
        return 0;
    /* Open the new file before closing the old one: on failure we keep logging
     * somewhere rather than nowhere. */
    fd = open_log_file(lg->path, err);
    if (fd < 0)
        return fd;
    close(lg->fd);
    lg->fd = fd;
    return 0;
}

void twc_log_set_level(twc_log *lg, twc_log_level min)
{
    if (lg != NULL)
        lg->min = min;
}

void twc_log_set_sink(twc_log *lg, void (*sink)(void *arg, const char *line, size_t len), void *arg)
{
    if (lg == NULL)
        return;
    lg->sink = sink;
    lg->sink_arg = arg;
}

int twc_log_level_parse(const char *s, twc_log_level *out)
{
    size_t i;

    for (i = 0; s != NULL && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (twc_log_level)i;
            return 0;
        }
    }
    return TWC_EINVAL;
}

int twc_log_format_parse(const char *s, twc_log_format *out)
{
    if (s != NULL && strcmp(s, "text") == 0) {
        *out = TWC_LOG_TEXT;
        return 0;
    }
    if (s != NULL && strcmp(s, "json") == 0) {
        *out = TWC_LOG_JSON;
        return 0;
    }
    return TWC_EINVAL;
}

/* RFC 3339 UTC with milliseconds: 2026-11-24T10:00:00.123Z (24 chars). */
static void format_time(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* Write all of line with as few write(2) calls as the kernel allows (one,
 * unless it takes a short write). Never blocks for longer than
 * LOG_WRITE_WAIT_MS in total; logging must not wedge the loop. */
static void write_line(int fd, const char *line, size_t len)
{
    int waited = 0;

    while (len > 0) {
        ssize_t n = write(fd, line, len);

        if (n > 0) {
            line += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && waited < LOG_WRITE_WAIT_MS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT, .revents = 0};

            poll(&pfd, 1, 50);
            waited += 50;
            continue;
        }
        return; /* nowhere to report a failing log; drop the line */
    }
}

static void deliver(const twc_log *lg, char *line, size_t len)
{
    if (lg->sink != NULL) {
        lg->sink(lg->sink_arg, line, len);
        return;
    }
    line[len] = '\n'; /* callers leave room for it */
    write_line(lg->fd, line, len + 1);
}

/* A JSON line through cJSON. Returns an owned line with one spare byte at the
 * end for the newline, or NULL when out of memory. */
static char *build_json(const char *when, twc_log_level level, const char *system,
                        const char *event, const twc_log_field *fields, size_t nfields,
                        const char *msg, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    char *out = NULL;
    char *line;
    size_t i;

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddStringToObject(o, "level", level_names[level]);
    cJSON_AddStringToObject(o, "system", system != NULL ? system : "-");
    if (event != NULL)
        cJSON_AddStringToObject(o, "event", event);
    cJSON_AddStringToObject(o, "msg", msg);
    for (i = 0; i < nfields; i++) {
        if (fields[i].key == NULL || cJSON_HasObjectItem(o, fields[i].key))
            continue; /* never let a field shadow the fixed keys */
        if (fields[i].str != NULL)
            cJSON_AddStringToObject(o, fields[i].key, fields[i].str);
        else
            cJSON_AddNumberToObject(o, fields[i].key, (double)fields[i].num);
    }
    out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (out == NULL)
        return NULL;
    *len = strlen(out);
    line = realloc(out, *len + 2);
    if (line == NULL) {
        cJSON_free(out);
        return NULL;
    }
    return line;
}

/* The one place lines are built. force: write whatever the threshold. */
static void emitv(const twc_log *lg, twc_log_level level, int force, const char *system,
                  const char *event, const twc_log_field *fields, size_t nfields,
                  const char *suffix, const char *fmt, va_list ap)
{
    char msg[TWC_LOG_LINE_MAX];
    char when[40];
    size_t n;

    if (!force && level < lg->min)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (suffix != NULL) {
        n = strlen(msg);
        snprintf(msg + n, sizeof(msg) - n, ": %s", suffix);
    }
    format_time(when, sizeof(when));
    if (lg->fmt == TWC_LOG_JSON) {
        size_t len = 0;
        char *line = build_json(when, level, system, event, fields, nfields, msg, &len);

        if (line != NULL) {
            deliver(lg, line, len);
            free(line);
            return;
        }
        /* Out of memory: fall through to a text line rather than lose it. */
    }
    {
        char line[TWC_LOG_LINE_MAX + 128];
        int m = snprintf(line, sizeof(line) - 1, "%s [%s] %s: %s", when,
                         system != NULL ? system : "-", level_names[level], msg);

        if (m < 0)
            return;
        n = (size_t)m < sizeof(line) - 1 ? (size_t)m : sizeof(line) - 2;
        deliver(lg, line, n);
    }
}

static const twc_log *log_of(twc_reactor *r)
{
    twc_log *lg = r != NULL ? twc_reactor_log(r) : NULL;

    return lg != NULL ? lg : &default_log;
}

static void emit(twc_reactor *r, twc_log_level level, int force, const char *system,
                 const char *event, const twc_log_field *fields, size_t nfields, const char *suffix,
                 const char *fmt, ...) __attribute__((format(printf, 9, 10)));

static void emit(twc_reactor *r, twc_log_level level, int force, const char *system,
                 const char *event, const twc_log_field *fields, size_t nfields, const char *suffix,
                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emitv(log_of(r), level, force, system, event, fields, nfields, suffix, fmt, ap);
    va_end(ap);
}

#define DEFINE_LOG_FN(name, level, with_errno)                                                     \
    void name(twc_reactor *r, const char *system, const char *fmt, ...)                            \
    {                                                                                              \
        const char *suffix = (with_errno) ? strerror(errno) : NULL;                                \
        va_list ap;                                                                                \
                                                                                                   \
        va_start(ap, fmt);                                                                         \
        emitv(log_of(r), level, 0, system, NULL, NULL, 0, suffix, fmt, ap);                        \
        va_end(ap);                                                                                \
    }

DEFINE_LOG_FN(twc_log_debug, TWC_LOG_DEBUG, 0)
DEFINE_LOG_FN(twc_log_info, TWC_LOG_INFO, 0)
DEFINE_LOG_FN(twc_log_warn, TWC_LOG_WARN, 1)
DEFINE_LOG_FN(twc_log_warnx, TWC_LOG_WARN, 0)
DEFINE_LOG_FN(twc_log_error, TWC_LOG_ERROR, 1)
DEFINE_LOG_FN(twc_log_errorx, TWC_LOG_ERROR, 0)

void twc_log_event(twc_reactor *r, twc_log_level level, const char *system, const char *event,
                   const twc_log_field *fields, size_t nfields, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emitv(log_of(r), level, 0, system, event, fields, nfields, NULL, fmt, ap);
    va_end(ap);
}

void twc_log_listening(twc_reactor *r, const char *system, const char *endpoint, const char *proto,
                       const char *address, unsigned port)
{
    const twc_log_field f[] = {
        {"endpoint", endpoint, 0},
        {"proto", proto, 0},
        {"address", address, 0},
        {"port", NULL, (long long)port},
    };

    emit(r, TWC_LOG_INFO, 1, system, "listening", f, 4, NULL, "listening on %s", endpoint);
}

void twc_log_ready(twc_reactor *r, const char *system)
{
    emit(r, TWC_LOG_INFO, 1, system, "ready", NULL, 0, NULL, "ready");
}

void twc_log_stopped(twc_reactor *r, const char *system)
{
    emit(r, TWC_LOG_INFO, 1, system, "stopped", NULL, 0, NULL, "stopped");
}
