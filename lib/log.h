/*
 * Structured logging: every line is an event with a time, level, system and
 * message, written as text or as one JSON object per line (shared/CLI.md).
 *
 * lib/log alone formats lines; everything else calls twc_log_* with the
 * reactor it runs on (NULL reactor: the default logger, text on stderr at
 * info). The events `listening`, `ready` and `stopped` are written whatever the
 * level threshold.
 *
 * Text:  2026-11-24T10:00:00.123Z [web] info: msg
 * JSON:  {"time":"2026-11-24T10:00:00.123Z","level":"info","system":"web","msg":"..."}
 */
#ifndef TWC_LIB_LOG_H
#define TWC_LIB_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "reactor.h"

typedef enum twc_log_level {
    TWC_LOG_DEBUG,
    TWC_LOG_INFO,
    TWC_LOG_WARN,
    TWC_LOG_ERROR,
} twc_log_level;

typedef enum twc_log_format {
    TWC_LOG_TEXT,
    TWC_LOG_JSON,
} twc_log_format;

/* An extra field of an event: a string (str != NULL) or an integer. */
typedef struct twc_log_field {
    const char *key;
    const char *str;
    long long num;
} twc_log_field;

/* A logger writing to path (appending; NULL = stderr). Returns owned, or NULL with
 * *err (-errno naming the path) when the file cannot be opened. */
twc_log *twc_log_new(twc_log_format fmt, twc_log_level min, const char *path, twc_err *err);
void twc_log_free(twc_log *lg);
/* Reopen the file (SIGHUP after rotation). A failure keeps the old file and
 * returns the error. No-op for stderr. */
int twc_log_reopen(twc_log *lg, twc_err *err);
void twc_log_set_level(twc_log *lg, twc_log_level min);
/* Tests: deliver each finished line (without newline) to sink instead of the file. */
void twc_log_set_sink(twc_log *lg, void (*sink)(void *arg, const char *line, size_t len),
                      void *arg);

/* Parse "debug|info|warn|error" and "text|json". Return 0 or TWC_EINVAL. */
int twc_log_level_parse(const char *s, twc_log_level *out);
int twc_log_format_parse(const char *s, twc_log_format *out);

/* Log a message. The x variants do not append errno; twc_log_warn and
 * twc_log_error append ": strerror(errno)" (OpenBSD's warn/warnx). */
void twc_log_debug(twc_reactor *r, const char *system, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void twc_log_info(twc_reactor *r, const char *system, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void twc_log_warn(twc_reactor *r, const char *system, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void twc_log_warnx(twc_reactor *r, const char *system, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void twc_log_error(twc_reactor *r, const char *system, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void twc_log_errorx(twc_reactor *r, const char *system, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A structured event: "event":event (may be NULL) plus nfields extra fields
 * (borrowed), and the formatted message. */
void twc_log_event(twc_reactor *r, twc_log_level level, const char *system, const char *event,
                   const twc_log_field *fields, size_t nfields, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* The three lifecycle events of shared/CLI.md, always written. */
void twc_log_listening(twc_reactor *r, const char *system, const char *endpoint,
                       const char *proto, const char *address, unsigned port);
void twc_log_ready(twc_reactor *r, const char *system);
void twc_log_stopped(twc_reactor *r, const char *system);

#endif
