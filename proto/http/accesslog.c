/*
 * Combined Log Format access log (see accesslog.h).
 */
#define _GNU_SOURCE
#include "proto/http/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_AT (64 * 1024) /* buffered bytes that force a write at once */

struct twc_http_accesslog {
    twc_reactor *reactor;
    char *path;
    int fd;
    bool owned;
    twc_timer *flush_timer; /* a 0 ms timer: flush once per loop iteration */
    twc_buf buf;
};

static void on_flush(twc_timer *t, void *arg);

static int open_log(const char *path, twc_err *err)
{
    int fd;

    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return twc_err_sys(err, errno, "%s", path);
    return fd;
}

twc_http_accesslog *twc_http_accesslog_new(twc_reactor *r, const char *path, twc_err *err)
{
    twc_http_accesslog *l = calloc(1, sizeof(*l));

    if (l == NULL || (l->path = strdup(path)) == NULL) {
        free(l);
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    l->reactor = r;
    l->fd = open_log(path, err);
    if (l->fd < 0) {
        free(l->path);
        free(l);
        return NULL;
    }
    l->owned = l->fd != STDOUT_FILENO;
    l->flush_timer = twc_timer_new(r, on_flush, l);
    if (l->flush_timer == NULL) {
        if (l->owned)
            close(l->fd);
        free(l->path);
        free(l);
        twc_err_set(err, TWC_ENOMEM, "out of memory");
        return NULL;
    }
    twc_buf_init(&l->buf, 16 * 1024 * 1024);
    return l;
}

static void flush(twc_http_accesslog *l)
{
    while (twc_buf_len(&l->buf) > 0) {
        ssize_t n = write(l->fd, twc_buf_data(&l->buf), twc_buf_len(&l->buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            twc_buf_reset(&l->buf); /* a full disk must not stop the server */
            break;
        }
        twc_buf_consume(&l->buf, (size_t)n);
    }
}

static void on_flush(twc_timer *t, void *arg)
{
    (void)t;
    flush(arg);
}

int twc_http_accesslog_reopen(twc_http_accesslog *l, twc_err *err)
{
    int fd;

    flush(l);
    if (!l->owned)
        return 0;
    fd = open_log(l->path, err);
    if (fd < 0)
        return fd;
    close(l->fd);
    l->fd = fd;
    return 0;
}

static void append_escaped(twc_buf *b, const uint8_t *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        uint8_t c = p[i];

        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};

            twc_buf_append(b, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

            twc_buf_append(b, e, 4);
        } else {
            twc_buf_append(b, &p[i], 1);
        }
    }
}

static void append_field(twc_buf *b, twc_http_request *req, const char *name)
{
    twc_slice v;

    twc_buf_append(b, " \"", 2);
    if (twc_http_request_header(req, name, &v) && v.len > 0)
        append_escaped(b, v.p, v.len);
    else
        twc_buf_append(b, "-", 1);
    twc_buf_append(b, "\"", 1);
}

int twc_http_accesslog_format(twc_buf *b, twc_http_request *req)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char host[TWC_ADDR_STRLEN] = "-";
    twc_addr peer;
    time_t t = twc_http_request_time(req);
    struct tm tm;
    twc_slice m = twc_http_request_method(req), target = twc_http_request_target(req);

    if (twc_http_request_peer(req, &peer) == 0)
        twc_addr_host(&peer, host, sizeof(host));
    if (host[0] == '\0')
        snprintf(host, sizeof(host), "-");
    gmtime_r(&t, &tm);
    twc_buf_printf(b, "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", host, tm.tm_mday,
                   mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    append_escaped(b, m.p, m.len);
    twc_buf_append(b, " ", 1);
    append_escaped(b, target.p, target.len);
    twc_buf_printf(b, " HTTP/1.%d\" %d ", twc_http_request_version_minor(req),
                   twc_http_response_status(req));
    if (twc_http_response_bytes(req) > 0)
        twc_buf_printf(b, "%llu", (unsigned long long)twc_http_response_bytes(req));
    else
        twc_buf_append(b, "-", 1);
    append_field(b, req, "Referer");
    append_field(b, req, "User-Agent");
    return twc_buf_append(b, "\n", 1);
}

void twc_http_accesslog_record(void *arg, twc_http_request *req)
{
    twc_http_accesslog *l = arg;

    twc_http_accesslog_format(&l->buf, req);
    if (twc_buf_len(&l->buf) >= FLUSH_AT) {
        flush(l);
        return;
    }
    if (!twc_timer_active(l->flush_timer))
        twc_timer_start(l->flush_timer, 0, 0);
}

void twc_http_accesslog_free(twc_http_accesslog *l)
{
    if (l == NULL)
        return;
    flush(l);
    twc_timer_free(l->flush_timer);
    if (l->owned)
        close(l->fd);
    twc_buf_cleanup(&l->buf);
    free(l->path);
    free(l);
}
