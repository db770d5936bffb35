/* Unit tests for lib/log.c: line formats, level threshold, lifecycle events,
 * file reopen, the default logger. Includes the .c to reach emitv directly. */
#include "../../../lib/log.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* After the headers it needs (setjmp.h, stdarg.h, stddef.h). */
#include <cmocka.h>
#include <sys/stat.h>

#include "reactor.h"

#define MAX_LINES 8

struct capture {
    int n;
    char lines[MAX_LINES][TWC_LOG_LINE_MAX + 256];
    size_t lens[MAX_LINES];
};

static void sink(void *arg, const char *line, size_t len)
{
    struct capture *c = arg;

    assert_true(c->n < MAX_LINES);
    assert_true(len < sizeof(c->lines[0]));
    memcpy(c->lines[c->n], line, len);
    c->lines[c->n][len] = '\0';
    c->lens[c->n] = len;
    c->n++;
}

static void tlog(const twc_log *lg, twc_log_level level, int force, const char *system,
                 const char *event, const twc_log_field *fields, size_t nfields, const char *fmt,
                 ...) __attribute__((format(printf, 8, 9)));

static void tlog(const twc_log *lg, twc_log_level level, int force, const char *system,
                 const char *event, const twc_log_field *fields, size_t nfields, const char *fmt,
                 ...)
{
    va_list ap;

    va_start(ap, fmt);
    emitv(lg, level, force, system, event, fields, nfields, NULL, fmt, ap);
    va_end(ap);
}

/* 2026-11-24T10:00:00.123Z */
static void assert_rfc3339_ms(const char *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    size_t i;

    assert_int_equal(strlen(t), strlen(shape));
    for (i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd')
            assert_in_range(t[i], '0', '9');
        else
            assert_int_equal(t[i], shape[i]);
    }
}

static twc_log *new_capturing(twc_log_format fmt, twc_log_level min, struct capture *c)
{
    twc_err err;
    twc_log *lg = twc_log_new(fmt, min, NULL, &err);

    assert_non_null(lg);
    memset(c, 0, sizeof(*c));
    twc_log_set_sink(lg, sink, c);
    return lg;
}

static void test_log_level_parse(void **state)
{
    twc_log_level lv = TWC_LOG_ERROR;

    (void)state;
    assert_int_equal(twc_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, TWC_LOG_DEBUG);
    assert_int_equal(twc_log_level_parse("info", &lv), 0);
    assert_int_equal(lv, TWC_LOG_INFO);
    assert_int_equal(twc_log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, TWC_LOG_WARN);
    assert_int_equal(twc_log_level_parse("error", &lv), 0);
    assert_int_equal(lv, TWC_LOG_ERROR);
    assert_int_equal(twc_log_level_parse("verbose", &lv), TWC_EINVAL);
    assert_int_equal(twc_log_level_parse("", &lv), TWC_EINVAL);
    assert_int_equal(twc_log_level_parse(NULL, &lv), TWC_EINVAL);
    assert_int_equal(lv, TWC_LOG_ERROR);
}

static void test_log_format_parse(void **state)
{
    twc_log_format f = TWC_LOG_TEXT;

    (void)state;
    assert_int_equal(twc_log_format_parse("json", &f), 0);
    assert_int_equal(f, TWC_LOG_JSON);
    assert_int_equal(twc_log_format_parse("text", &f), 0);
    assert_int_equal(f, TWC_LOG_TEXT);
    assert_int_equal(twc_log_format_parse("JSON", &f), TWC_EINVAL);
    assert_int_equal(twc_log_format_parse(NULL, &f), TWC_EINVAL);
}

static void test_log_json_line_has_fields(void **state)
{
    struct capture c;
    twc_log *lg = new_capturing(TWC_LOG_JSON, TWC_LOG_INFO, &c);
    const twc_log_field f[] = {{"peer", "127.0.0.1:5", 0}, {"bytes", NULL, 1234}};
    cJSON *o;

    (void)state;
    tlog(lg, TWC_LOG_WARN, 0, "echo", "closed", f, 2, "closed after %d bytes", 1234);
    assert_int_equal(c.n, 1);
    assert_null(strchr(c.lines[0], '\n'));
    o = cJSON_Parse(c.lines[0]);
    assert_non_null(o);
    assert_rfc3339_ms(cJSON_GetStringValue(cJSON_GetObjectItem(o, "time")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "level")), "warn");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "system")), "echo");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")), "closed");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")),
                        "closed after 1234 bytes");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "peer")), "127.0.0.1:5");
    assert_int_equal((long long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "bytes")), 1234);
    cJSON_Delete(o);
    twc_log_free(lg);
}

static void test_log_json_field_cannot_shadow_fixed_keys(void **state)
{
    struct capture c;
    twc_log *lg = new_capturing(TWC_LOG_JSON, TWC_LOG_INFO, &c);
    const twc_log_field f[] = {{"level", "debug", 0}, {"msg", "evil", 0}};
    cJSON *o;

    (void)state;
    tlog(lg, TWC_LOG_INFO, 0, "echo", NULL, f, 2, "real");
    o = cJSON_Parse(c.lines[0]);
    assert_non_null(o);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "level")), "info");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")), "real");
    assert_null(cJSON_GetObjectItem(o, "event"));
    cJSON_Delete(o);
    twc_log_free(lg);
}

static void test_log_json_escapes_control_chars(void **state)
{
    struct capture c;
    twc_log *lg = new_capturing(TWC_LOG_JSON, TWC_LOG_INFO, &c);
    cJSON *o;

    (void)state;
    tlog(lg, TWC_LOG_INFO, 0, "irc", NULL, NULL, 0, "say \"hi\"\nthere\\");
    assert_int_equal(c.n, 1);
    assert_null(strchr(c.lines[0], '\n'));
    o = cJSON_Parse(c.lines[0]);
    assert_non_null(o);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")), "say \"hi\"\nthere\\");
    cJSON_Delete(o);
    twc_log_free(lg);
}

static void test_log_text_line_format(void **state)
{
    struct capture c;
    twc_log *lg = new_capturing(TWC_LOG_TEXT, TWC_LOG_INFO, &c);
    char when[32];

    (void)state;
    tlog(lg, TWC_LOG_INFO, 0, "web", "ignored-in-text", NULL, 0, "hello %s", "world");
    assert_int_equal(c.n, 1);
    /* "2026-11-24T10:00:00.123Z [web] info: hello world" */
    assert_true(c.lens[0] > 25);
    memcpy(when, c.lines[0], 24);
    when[24] = '\0';
    assert_rfc3339_ms(when);
    assert_string_equal(c.lines[0] + 24, " [web] info: hello world");
    twc_log_free(lg);
}

static void test_log_threshold_filters_levels(void **state)
{
    struct capture c;
    twc_log *lg = new_capturing(TWC_LOG_TEXT, TWC_LOG_WARN, &c);

    (void)state;
    tlog(lg, TWC_LOG_DEBUG, 0, "s", NULL, NULL, 0, "d");
    tlog(lg, TWC_LOG_INFO, 0, "s", NULL, NULL, 0, "i");
    tlog(lg, TWC_LOG_WARN, 0, "s", NULL, NULL, 0, "w");
    tlog(lg, TWC_LOG_ERROR, 0, "s", NULL, NULL, 0, "e");
    assert_int_equal(c.n, 2);
    assert_string_equal(c.lines[0] + 24, " [s] warn: w");
    assert_string_equal(c.lines[1] + 24, " [s] error: e");
    twc_log_set_level(lg, TWC_LOG_DEBUG);
    tlog(lg, TWC_LOG_DEBUG, 0, "s", NULL, NULL, 0, "d");
    assert_int_equal(c.n, 3);
    /* force: lifecycle events pass any threshold. */
    twc_log_set_level(lg, TWC_LOG_ERROR);
    tlog(lg, TWC_LOG_INFO, 1, "s", "ready", NULL, 0, "ready");
    assert_int_equal(c.n, 4);
    twc_log_free(lg);
}

static void test_log_long_message_truncated(void **state)
{
    struct capture c;
    twc_log *lg = new_capturing(TWC_LOG_JSON, TWC_LOG_INFO, &c);
    char *big = malloc(3 * TWC_LOG_LINE_MAX);
    cJSON *o;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', 3 * TWC_LOG_LINE_MAX - 1);
    big[3 * TWC_LOG_LINE_MAX - 1] = '\0';
    tlog(lg, TWC_LOG_INFO, 0, "s", NULL, NULL, 0, "%s", big);
    assert_int_equal(c.n, 1);
    o = cJSON_Parse(c.lines[0]);
    assert_non_null(o);
    assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg"))),
                     TWC_LOG_LINE_MAX - 1);
    cJSON_Delete(o);
    free(big);
    twc_log_free(lg);
}

static size_t slurp(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, len - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    return (size_t)n;
}

static void test_log_file_append_and_reopen(void **state)
{
    char dir[] = "/tmp/twc-test-log-XXXXXX";
    char path[128], rotated[128], buf[4096];
    twc_err err;
    twc_log *lg;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/twc.log", dir);
    snprintf(rotated, sizeof(rotated), "%s/twc.log.1", dir);
    lg = twc_log_new(TWC_LOG_TEXT, TWC_LOG_INFO, path, &err);
    assert_non_null(lg);
    tlog(lg, TWC_LOG_INFO, 0, "s", NULL, NULL, 0, "first");
    assert_int_equal(rename(path, rotated), 0);
    tlog(lg, TWC_LOG_INFO, 0, "s", NULL, NULL, 0, "second");
    assert_int_equal(twc_log_reopen(lg, &err), 0);
    tlog(lg, TWC_LOG_INFO, 0, "s", NULL, NULL, 0, "third");
    twc_log_free(lg);

    slurp(rotated, buf, sizeof(buf));
    assert_non_null(strstr(buf, " [s] info: first\n"));
    assert_non_null(strstr(buf, " [s] info: second\n"));
    assert_null(strstr(buf, "third"));
    assert_int_equal(slurp(path, buf, sizeof(buf)), 24 + strlen(" [s] info: third\n"));
    assert_string_equal(buf + 24, " [s] info: third\n");

    /* The file is appended to, never truncated. */
    lg = twc_log_new(TWC_LOG_TEXT, TWC_LOG_INFO, path, &err);
    assert_non_null(lg);
    tlog(lg, TWC_LOG_INFO, 0, "s", NULL, NULL, 0, "fourth");
    twc_log_free(lg);
    slurp(path, buf, sizeof(buf));
    assert_non_null(strstr(buf, "third\n"));
    assert_non_null(strstr(buf, "fourth\n"));

    unlink(path);
    unlink(rotated);
    rmdir(dir);
}

static void test_log_reopen_failure_keeps_old_file(void **state)
{
    char dir[] = "/tmp/twc-test-log-XXXXXX";
    char path[128];
    twc_err err;
    twc_log *lg;
    int old_fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/twc.log", dir);
    lg = twc_log_new(TWC_LOG_JSON, TWC_LOG_INFO, path, &err);
    assert_non_null(lg);
    old_fd = lg->fd;
    unlink(path);
    rmdir(dir);
    assert_int_equal(twc_log_reopen(lg, &err), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(lg->fd, old_fd);
    twc_log_free(lg);
}

static void test_log_new_bad_path(void **state)
{
    twc_err err;

    (void)state;
    assert_null(twc_log_new(TWC_LOG_TEXT, TWC_LOG_INFO, "/nonexistent-twc/dir/x.log", &err));
    assert_int_equal(err.code, -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent-twc/dir/x.log"));
    /* stderr loggers: reopen is a no-op. */
    twc_log_free(NULL);
    assert_int_equal(twc_log_reopen(NULL, &err), 0);
}

/* Run fn with fd 2 redirected into a pipe; return what it wrote. */
static size_t capture_stderr(void (*fn)(void), char *buf, size_t len)
{
    int p[2], saved;
    ssize_t n;

    assert_int_equal(pipe(p), 0);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    close(p[1]);
    fn();
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    n = read(p[0], buf, len - 1);
    close(p[0]);
    assert_true(n >= 0);
    buf[n] = '\0';
    return (size_t)n;
}

static void default_logger_lines(void)
{
    errno = ENOENT;
    twc_log_warn(NULL, "dns", "cannot read %s", "zone.db");
    twc_log_debug(NULL, "dns", "not shown at info");
    twc_log_errorx(NULL, "dns", "plain");
    twc_log_stopped(NULL, "dns");
}

static void test_log_default_logger_is_text_on_stderr(void **state)
{
    char buf[1024];
    char *second, *third;

    (void)state;
    capture_stderr(default_logger_lines, buf, sizeof(buf));
    second = strchr(buf, '\n');
    assert_non_null(second);
    *second++ = '\0';
    third = strchr(second, '\n');
    assert_non_null(third);
    *third++ = '\0';
    assert_string_equal(buf + 24, " [dns] warn: cannot read zone.db: No such file or directory");
    assert_string_equal(second + 24, " [dns] error: plain");
    assert_string_equal(third + 24, " [dns] info: stopped\n");
}

/* Through a reactor: the public calls reach the logger attached to it. */
static void test_log_reactor_logger_receives_public_calls(void **state)
{
    struct twc_reactor_opts ro = {NULL, 1};
    struct capture c;
    twc_err err;
    twc_reactor *r = twc_reactor_new(&ro, &err);
    twc_log *lg = new_capturing(TWC_LOG_JSON, TWC_LOG_ERROR, &c);
    const twc_log_field f[] = {{"peer", "::1", 0}};
    cJSON *o;

    (void)state;
    assert_non_null(r);
    twc_reactor_set_log(r, lg);
    assert_ptr_equal(twc_reactor_log(r), lg);
    /* Below the threshold: dropped. */
    twc_log_info(r, "web", "not shown");
    twc_log_warnx(r, "web", "not shown");
    twc_log_event(r, TWC_LOG_INFO, "web", "request", f, 1, "not shown");
    assert_int_equal(c.n, 0);
    /* Lifecycle events: always written. */
    twc_log_listening(r, "web", "tcp:8080", "tcp", "0.0.0.0", 8080);
    twc_log_ready(r, "web");
    twc_log_stopped(r, "web");
    errno = EACCES;
    twc_log_error(r, "web", "cannot open %s", "x");
    assert_int_equal(c.n, 4);

    o = cJSON_Parse(c.lines[0]);
    assert_non_null(o);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")), "listening");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "system")), "web");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "endpoint")), "tcp:8080");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "proto")), "tcp");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "address")), "0.0.0.0");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "port")), 8080);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "level")), "info");
    cJSON_Delete(o);
    o = cJSON_Parse(c.lines[1]);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")), "ready");
    cJSON_Delete(o);
    o = cJSON_Parse(c.lines[2]);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")), "stopped");
    cJSON_Delete(o);
    o = cJSON_Parse(c.lines[3]);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")),
                        "cannot open x: Permission denied");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "level")), "error");
    cJSON_Delete(o);

    /* Lowering the threshold lets the event through, with its fields. */
    twc_log_set_level(lg, TWC_LOG_DEBUG);
    twc_log_event(r, TWC_LOG_INFO, "web", "request", f, 1, "GET %s", "/");
    twc_log_debug(r, "web", "debug %d", 1);
    assert_int_equal(c.n, 6);
    o = cJSON_Parse(c.lines[4]);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")), "request");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "peer")), "::1");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")), "GET /");
    cJSON_Delete(o);

    /* Detached: back to the default logger (stderr), not ours. */
    twc_reactor_set_log(r, NULL);
    twc_reactor_free(r);
    twc_log_free(lg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_level_parse),
        cmocka_unit_test(test_log_format_parse),
        cmocka_unit_test(test_log_json_line_has_fields),
        cmocka_unit_test(test_log_json_field_cannot_shadow_fixed_keys),
        cmocka_unit_test(test_log_json_escapes_control_chars),
        cmocka_unit_test(test_log_text_line_format),
        cmocka_unit_test(test_log_threshold_filters_levels),
        cmocka_unit_test(test_log_long_message_truncated),
        cmocka_unit_test(test_log_file_append_and_reopen),
        cmocka_unit_test(test_log_reopen_failure_keeps_old_file),
        cmocka_unit_test(test_log_new_bad_path),
        cmocka_unit_test(test_log_default_logger_is_text_on_stderr),
        cmocka_unit_test(test_log_reactor_logger_receives_public_calls),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
