/*
 * Endpoint string parser (see endpoint.h): split into fields on unescaped
 * colons outside brackets, then read positional fields and key=value
 * parameters per endpoint type.
 */
#include "endpoint.h"

#include <stdio.h>
#include <string.h>

#include "lib/buf.h"

#define MAX_FIELDS 12
#define FIELD_MAX  256

struct fields {
    int n;
    char v[MAX_FIELDS][FIELD_MAX];
};

const char *twc_endpoint_kind_name(twc_endpoint_kind kind)
{
    static const char *const names[] = {"tcp", "udp", "unix"};

    return names[kind];
}

/* Split s on ':' that is neither escaped ("\:") nor inside [...]; unescape "\x". */
static int split(const char *s, struct fields *f, twc_err *err)
{
    size_t len = 0;
    int depth = 0;

    memset(f, 0, sizeof(*f));
    f->n = 1;
    for (; *s != '\0'; s++) {
        char c = *s;

        if (c == '\\' && s[1] != '\0') {
            c = *++s;
        } else if (c == '[') {
            depth++;
        } else if (c == ']' && depth > 0) {
            depth--;
        } else if (c == ':' && depth == 0) {
            if (f->n == MAX_FIELDS)
                return twc_err_set(err, TWC_EINVAL, "too many ':' fields (at most %d)", MAX_FIELDS);
            f->n++;
            len = 0;
            continue;
        }
        if (len + 1 >= FIELD_MAX)
            return twc_err_set(err, TWC_EINVAL, "field longer than %d bytes", FIELD_MAX - 1);
        f->v[f->n - 1][len++] = c;
    }
    if (depth != 0)
        return twc_err_set(err, TWC_EINVAL, "unbalanced '['");
    return 0;
}

/* "[::1]" -> "::1" (in place). */
static void strip_brackets(char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

static int copy(char *dst, size_t dlen, const char *src, const char *what, twc_err *err)
{
    size_t n = strlen(src);

    if (n >= dlen)
        return twc_err_set(err, TWC_EINVAL, "%s longer than %zu bytes", what, dlen - 1);
    memcpy(dst, src, n + 1);
    return 0;
}

static int parse_port(const char *s, uint16_t *port, twc_err *err)
{
    uint64_t v;

    if (twc_parse_u64(s, strlen(s), 0, 65535, &v) < 0)
        return twc_err_set(err, TWC_EINVAL, "'%s' is not a port number (0-65535)", s);
    *port = (uint16_t)v;
    return 0;
}

/* Seconds with up to three decimals -> ms (1 ms .. 1 day). */
static int parse_timeout(const char *s, unsigned *ms, twc_err *err)
{
    const char *dot = strchr(s, '.');
    size_t ilen = dot != NULL ? (size_t)(dot - s) : strlen(s);
    uint64_t whole = 0, frac = 0;
    size_t flen, i;

    if ((ilen > 0 && twc_parse_u64(s, ilen, 0, 86400, &whole) < 0) || (ilen == 0 && dot == NULL))
        goto bad;
    if (dot != NULL) {
        flen = strlen(dot + 1);
        if (flen == 0 || flen > 3 || twc_parse_u64(dot + 1, flen, 0, 999, &frac) < 0)
            goto bad;
        for (i = flen; i < 3; i++)
            frac *= 10;
    }
    if (whole * 1000 + frac == 0)
        goto bad;
    *ms = (unsigned)(whole * 1000 + frac);
    return 0;
bad:
    return twc_err_set(err, TWC_EINVAL, "timeout '%s' is not a number of seconds", s);
}

/* Apply key=value parameter kv to ep. allowed: the keys this type accepts. */
static int apply_param(struct twc_endpoint *ep, const char *kv, const char *allowed, twc_err *err)
{
    const char *eq = strchr(kv, '=');
    char key[32];
    const char *val;
    uint64_t v;

    if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof(key))
        return twc_err_set(err, TWC_EINVAL, "'%s' is not a key=value parameter", kv);
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    val = eq + 1;
    {
        /* Match whole words of allowed ("interface backlog"). */
        const char *p = strstr(allowed, key);
        size_t kl = strlen(key);

        while (p != NULL && !((p == allowed || p[-1] == ' ') && (p[kl] == ' ' || p[kl] == '\0')))
            p = strstr(p + 1, key);
        if (p == NULL)
            return twc_err_set(err, TWC_EINVAL, "unknown parameter '%s' for %s endpoints", key,
                               twc_endpoint_kind_name(ep->kind));
    }
    if (strcmp(key, "interface") == 0 || strcmp(key, "host") == 0) {
        if (copy(ep->host, sizeof(ep->host), val, key, err) < 0)
            return TWC_EINVAL;
        strip_brackets(ep->host);
    } else if (strcmp(key, "port") == 0) {
        return parse_port(val, &ep->port, err);
    } else if (strcmp(key, "backlog") == 0) {
        if (twc_parse_u64(val, strlen(val), 1, 65535, &v) < 0)
            return twc_err_set(err, TWC_EINVAL, "backlog '%s' is not a number from 1 to 65535",
                               val);
        ep->backlog = (int)v;
    } else if (strcmp(key, "mode") == 0) {
        /* Octal, as chmod(1): digits 0-7 only, at most 07777. */
        size_t i;

        v = 0;
        for (i = 0; val[i] != '\0' && i < 6; i++) {
            if (val[i] < '0' || val[i] > '7')
                break;
            v = v * 8 + (uint64_t)(val[i] - '0');
        }
        if (i == 0 || val[i] != '\0' || v > 07777)
            return twc_err_set(err, TWC_EINVAL, "mode '%s' is not an octal file mode", val);
        ep->mode = (unsigned)v;
    } else if (strcmp(key, "lockfile") == 0) {
        if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
            return twc_err_set(err, TWC_EINVAL, "lockfile must be 0 or 1, not '%s'", val);
        ep->lockfile = val[0] == '1';
    } else if (strcmp(key, "timeout") == 0) {
        return parse_timeout(val, &ep->timeout_ms, err);
    }
    return 0;
}

static int kind_of(const char *word, struct twc_endpoint *ep)
{
    if (strcmp(word, "tcp") == 0)
        ep->kind = TWC_EP_TCP;
    else if (strcmp(word, "udp") == 0)
        ep->kind = TWC_EP_UDP;
    else if (strcmp(word, "unix") == 0)
        ep->kind = TWC_EP_UNIX;
    else
        return -1;
    return 0;
}

static int parse(struct twc_endpoint *ep, const char *s, int client, twc_err *err)
{
    struct fields f;
    twc_err e;
    int i, first_param, rc;
    const char *allowed;

    memset(ep, 0, sizeof(*ep));
    twc_err_clear(&e);
    if (split(s, &f, &e) < 0)
        goto fail;
    /* A bare number is tcp:NUMBER (server side only). */
    if (!client && f.v[0][0] >= '0' && f.v[0][0] <= '9') {
        ep->kind = TWC_EP_TCP;
        if (parse_port(f.v[0], &ep->port, &e) < 0)
            goto fail;
        first_param = 1;
        allowed = "interface backlog";
    } else {
        if (kind_of(f.v[0], ep) < 0 || (client && ep->kind == TWC_EP_UDP)) {
            twc_err_set(&e, TWC_EINVAL, "unknown endpoint type '%s'", f.v[0]);
            goto fail;
        }
        if (f.n < 2 || f.v[1][0] == '\0') {
            twc_err_set(&e, TWC_EINVAL, "missing %s",
                        ep->kind == TWC_EP_UNIX ? "path"
                        : client                ? "host"
                                                : "port");
            goto fail;
        }
        first_param = 2;
        if (ep->kind == TWC_EP_UNIX) {
            if (copy(ep->path, sizeof(ep->path), f.v[1], "path", &e) < 0)
                goto fail;
            allowed = client ? "timeout" : "mode lockfile";
        } else if (client) {
            allowed = "host port timeout";
            if (strchr(f.v[1], '=') != NULL) { /* tcp:host=H:port=P */
                first_param = 1;
            } else {
                if (copy(ep->host, sizeof(ep->host), f.v[1], "host", &e) < 0)
                    goto fail;
                strip_brackets(ep->host);
                if (f.n < 3) {
                    twc_err_set(&e, TWC_EINVAL, "missing port");
                    goto fail;
                }
                if (parse_port(f.v[2], &ep->port, &e) < 0)
                    goto fail;
                first_param = 3;
            }
        } else {
            if (parse_port(f.v[1], &ep->port, &e) < 0)
                goto fail;
            allowed = ep->kind == TWC_EP_TCP ? "interface backlog" : "interface";
        }
    }
    for (i = first_param; i < f.n; i++) {
        if (apply_param(ep, f.v[i], allowed, &e) < 0)
            goto fail;
    }
    if (client && ep->kind == TWC_EP_TCP && ep->host[0] == '\0') {
        twc_err_set(&e, TWC_EINVAL, "missing host");
        goto fail;
    }
    if (client && ep->kind == TWC_EP_TCP && ep->port == 0) {
        twc_err_set(&e, TWC_EINVAL, "port 0 is not a valid destination");
        goto fail;
    }
    return 0;
fail:
    /* Quote at most 48 bytes of the input so the reason still fits in err->msg. */
    rc = twc_err_set(err, TWC_EINVAL, "bad endpoint '%.48s%s': %s", s, strlen(s) > 48 ? "..." : "",
                     e.msg);
    return rc;
}

int twc_endpoint_parse_server(struct twc_endpoint *ep, const char *s, twc_err *err)
{
    return parse(ep, s, 0, err);
}

int twc_endpoint_parse_client(struct twc_endpoint *ep, const char *s, twc_err *err)
{
    return parse(ep, s, 1, err);
}

/* Append s with ':' and '\' escaped. */
static size_t put_escaped(char *buf, size_t len, size_t at, const char *s)
{
    for (; *s != '\0' && at + 2 < len; s++) {
        if (*s == ':' || *s == '\\')
            buf[at++] = '\\';
        buf[at++] = *s;
    }
    buf[at < len ? at : len - 1] = '\0';
    return at;
}

const char *twc_endpoint_format(const struct twc_endpoint *ep, int client, char *buf, size_t len)
{
    const char *kind = twc_endpoint_kind_name(ep->kind);
    int v6 = strchr(ep->host, ':') != NULL;
    size_t at;
    int n;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (ep->kind == TWC_EP_UNIX) {
        n = snprintf(buf, len, "unix:");
        put_escaped(buf, len, n > 0 ? (size_t)n : 0, ep->path);
        return buf;
    }
    if (client) {
        snprintf(buf, len, "%s:%s%s%s:%u", kind, v6 ? "[" : "", ep->host, v6 ? "]" : "",
                 (unsigned)ep->port);
        return buf;
    }
    n = snprintf(buf, len, "%s:%u", kind, (unsigned)ep->port);
    at = n > 0 && (size_t)n < len ? (size_t)n : strlen(buf);
    if (ep->host[0] != '\0')
        snprintf(buf + at, len - at, ":interface=%s%s%s", v6 ? "[" : "", ep->host, v6 ? "]" : "");
    return buf;
}
