/*
 * resolv.conf(5) parser. Line-oriented, every line bounded; the whole file is
 * bounded too (TWC_RESOLV_FILE_MAX), since it is read in one go.
 */
#include "resolvconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

#define TWC_RESOLV_FILE_MAX (64 * 1024)
#define TWC_RESOLV_LINE_MAX 1024

void twc_resolv_conf_init(struct twc_resolv_conf *rc)
{
    memset(rc, 0, sizeof(*rc));
    rc->ndots = 1;
    rc->timeout_s = 5;
    rc->attempts = 2;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Split line into at most max words (in place). Returns the count. */
static size_t split_words(char *line, char **words, size_t max)
{
    size_t n = 0;
    char *p = line;

    while (*p != '\0' && n < max) {
        while (is_space(*p))
            p++;
        if (*p == '\0')
            break;
        words[n++] = p;
        while (*p != '\0' && !is_space(*p))
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
    return n;
}

static int parse_nameserver(struct twc_resolv_conf *rc, const char *word, size_t lineno,
                            twc_err *err)
{
    twc_addr a;
    const char *colon = strchr(word, ':');
    int rc_;

    if (rc->nservers == TWC_RESOLV_MAX_SERVERS)
        return 0; /* as glibc: extra servers are ignored */
    /* "1.2.3.4", "::1" (two or more colons, no brackets: a bare IPv6 address),
     * "1.2.3.4:5354" or "[::1]:5354". */
    if (word[0] == '[' || (colon != NULL && strchr(colon + 1, ':') == NULL))
        rc_ = twc_addr_parse_hostport(&a, word, err);
    else
        rc_ = twc_addr_from_ip(&a, word, 53, err);
    if (rc_ < 0)
        return twc_err_set(err, TWC_EINVAL, "line %zu: bad nameserver address '%s'", lineno,
                           word);
    rc->servers[rc->nservers++] = a;
    return 0;
}

static void parse_option(struct twc_resolv_conf *rc, const char *opt)
{
    uint64_t v;
    const char *val;

    if (strcmp(opt, "rotate") == 0) {
        rc->rotate = 1;
        return;
    }
    val = strchr(opt, ':');
    if (val == NULL)
        return;
    val++;
    /* Out-of-range values are clamped, as glibc does, rather than rejected. */
    if (twc_parse_u64(val, strlen(val), 0, UINT32_MAX, &v) < 0)
        return;
    if (strncmp(opt, "ndots:", 6) == 0)
        rc->ndots = v > 15 ? 15 : (unsigned)v;
    else if (strncmp(opt, "timeout:", 8) == 0)
        rc->timeout_s = v > 30 ? 30 : v < 1 ? 1 : (unsigned)v;
    else if (strncmp(opt, "attempts:", 9) == 0)
        rc->attempts = v > 5 ? 5 : v < 1 ? 1 : (unsigned)v;
}

static void set_search(struct twc_resolv_conf *rc, char **words, size_t n)
{
    size_t i;

    rc->nsearch = 0;
    for (i = 0; i < n && rc->nsearch < TWC_RESOLV_MAX_SEARCH; i++) {
        if (strlen(words[i]) >= TWC_RESOLV_NAME_MAX)
            continue;
        snprintf(rc->search[rc->nsearch], TWC_RESOLV_NAME_MAX, "%s", words[i]);
        rc->nsearch++;
    }
}

static int parse_line(struct twc_resolv_conf *rc, char *line, size_t lineno, twc_err *err)
{
    char *words[1 + TWC_RESOLV_MAX_SEARCH + 8];
    size_t n, i;
    char *hash = strpbrk(line, "#;");

    if (hash != NULL)
        *hash = '\0';
    n = split_words(line, words, sizeof(words) / sizeof(words[0]));
    if (n == 0)
        return 0;
    if (strcmp(words[0], "nameserver") == 0) {
        if (n != 2)
            return twc_err_set(err, TWC_EINVAL, "line %zu: nameserver takes one address",
                               lineno);
        return parse_nameserver(rc, words[1], lineno, err);
    }
    if (strcmp(words[0], "search") == 0 || strcmp(words[0], "domain") == 0) {
        set_search(rc, words + 1, n - 1);
        return 0;
    }
    if (strcmp(words[0], "options") == 0)
        for (i = 1; i < n; i++)
            parse_option(rc, words[i]);
    return 0;
}

int twc_resolv_conf_parse(struct twc_resolv_conf *rc, const char *text, size_t len, size_t *line,
                          twc_err *err)
{
    char buf[TWC_RESOLV_LINE_MAX];
    size_t pos = 0, lineno = 0;
    int rc_;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        size_t n = end - pos;

        lineno++;
        if (n >= sizeof(buf)) {
            if (line != NULL)
                *line = lineno;
            return twc_err_set(err, TWC_EINVAL, "line %zu: longer than %d bytes", lineno,
                               TWC_RESOLV_LINE_MAX - 1);
        }
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        if (memchr(buf, '\0', n) != NULL) {
            if (line != NULL)
                *line = lineno;
            return twc_err_set(err, TWC_EINVAL, "line %zu: contains a NUL byte", lineno);
        }
        rc_ = parse_line(rc, buf, lineno, err);
        if (rc_ < 0) {
            if (line != NULL)
                *line = lineno;
            return rc_;
        }
        pos = end + 1;
    }
    return 0;
}

int twc_resolv_conf_load(struct twc_resolv_conf *rc, const char *path, twc_err *err)
{
    twc_buf b;
    uint8_t *dst;
    ssize_t n;
    int fd, rc_;
    twc_err perr;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return twc_err_sys(err, errno, "%s", path);
    twc_buf_init(&b, TWC_RESOLV_FILE_MAX);
    for (;;) {
        dst = twc_buf_reserve(&b, 4096, &rc_);
        if (dst == NULL) {
            close(fd);
            twc_buf_cleanup(&b);
            return twc_err_set(err, rc_, "%s: larger than %d bytes", path, TWC_RESOLV_FILE_MAX);
        }
        n = read(fd, dst, 4096);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc_ = twc_err_sys(err, errno, "%s", path);
            close(fd);
            twc_buf_cleanup(&b);
            return rc_;
        }
        if (n == 0)
            break;
        twc_buf_commit(&b, (size_t)n);
    }
    close(fd);
    rc_ = twc_resolv_conf_parse(rc, (const char *)twc_buf_data(&b), twc_buf_len(&b), NULL, &perr);
    twc_buf_cleanup(&b);
    if (rc_ < 0)
        return twc_err_set(err, rc_, "%s:%s", path, perr.msg + 5); /* "line N: ..." -> "N: ..." */
    return 0;
}
