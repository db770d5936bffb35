/*
 * Domain names: wire form, presentation form, comparison, and reading
 * compressed names out of messages (RFC 1035 §3.1, §4.1.4, §5.1).
 */
#include "dns.h"

#include <stdio.h>
#include <string.h>

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

void twc_dns_name_root(twc_dns_name *n)
{
    n->len = 1;
    n->wire[0] = 0;
}

/* Append one label of len bytes to n (before its root label). */
static int add_label(twc_dns_name *n, const uint8_t *label, size_t len, twc_err *err)
{
    if (len == 0)
        return twc_err_set(err, TWC_EINVAL, "empty label");
    if (len > TWC_DNS_LABEL_MAX)
        return twc_err_set(err, TWC_ETOOBIG, "label exceeds %d bytes", TWC_DNS_LABEL_MAX);
    if ((size_t)n->len + len + 1 > TWC_DNS_NAME_MAX)
        return twc_err_set(err, TWC_ETOOBIG, "name exceeds %d bytes", TWC_DNS_NAME_MAX);
    /* n->len counts the root label last: write over it and put it back. */
    n->wire[n->len - 1] = (uint8_t)len;
    memcpy(n->wire + n->len, label, len);
    n->len = (uint8_t)(n->len + len + 1);
    n->wire[n->len - 1] = 0;
    return 0;
}

static int append_name(twc_dns_name *n, const twc_dns_name *suffix, twc_err *err)
{
    if ((size_t)n->len - 1 + suffix->len > TWC_DNS_NAME_MAX)
        return twc_err_set(err, TWC_ETOOBIG, "name exceeds %d bytes", TWC_DNS_NAME_MAX);
    memcpy(n->wire + n->len - 1, suffix->wire, suffix->len);
    n->len = (uint8_t)(n->len - 1 + suffix->len);
    return 0;
}

int twc_dns_name_parse(twc_dns_name *n, const char *s, size_t len, const twc_dns_name *origin,
                       twc_err *err)
{
    uint8_t label[TWC_DNS_LABEL_MAX + 1];
    size_t i = 0, ll = 0;
    int rc, absolute = 0;

    twc_dns_name_root(n);
    if (len == 1 && s[0] == '@') {
        if (origin == NULL)
            return twc_err_set(err, TWC_EINVAL, "'@' without an origin");
        *n = *origin;
        return 0;
    }
    if (len == 1 && s[0] == '.')
        return 0;
    if (len == 0)
        return twc_err_set(err, TWC_EINVAL, "empty name");
    while (i < len) {
        uint8_t c = (uint8_t)s[i++];

        if (c == '.') {
            if ((rc = add_label(n, label, ll, err)) < 0)
                return rc;
            ll = 0;
            if (i == len)
                absolute = 1;
            continue;
        }
        if (c == '\\') {
            if (i == len)
                return twc_err_set(err, TWC_EINVAL, "name ends with a backslash");
            if (s[i] >= '0' && s[i] <= '9') {
                unsigned v = 0, k;

                for (k = 0; k < 3; k++, i++) {
                    if (i == len || s[i] < '0' || s[i] > '9')
                        return twc_err_set(err, TWC_EINVAL, "\\DDD escape needs three digits");
                    v = v * 10 + (unsigned)(s[i] - '0');
                }
                if (v > 255)
                    return twc_err_set(err, TWC_EINVAL, "\\DDD escape above 255");
                c = (uint8_t)v;
            } else {
                c = (uint8_t)s[i++];
            }
        }
        if (ll == TWC_DNS_LABEL_MAX)
            return twc_err_set(err, TWC_ETOOBIG, "label exceeds %d bytes", TWC_DNS_LABEL_MAX);
        label[ll++] = c;
    }
    if (ll > 0 && (rc = add_label(n, label, ll, err)) < 0)
        return rc;
    if (!absolute && origin != NULL)
        return append_name(n, origin, err);
    return 0;
}

int twc_dns_name_format(const twc_dns_name *n, char *buf, size_t len)
{
    size_t o = 0, i = 0;

    if (len < 2)
        return TWC_ETOOBIG;
    if (n->len <= 1) {
        buf[0] = '.';
        buf[1] = '\0';
        return 1;
    }
    while (i < n->len && n->wire[i] != 0) {
        size_t ll = n->wire[i++], k;

        for (k = 0; k < ll; k++, i++) {
            uint8_t c = n->wire[i];

            if (o + 5 >= len)
                return TWC_ETOOBIG;
            if (c <= 0x20 || c >= 0x7f) {
                o += (size_t)snprintf(buf + o, len - o, "\\%03u", c);
            } else {
                if (strchr(".\\\"();@$", c) != NULL)
                    buf[o++] = '\\';
                buf[o++] = (char)c;
            }
        }
        if (o + 2 >= len)
            return TWC_ETOOBIG;
        buf[o++] = '.';
    }
    buf[o] = '\0';
    return (int)o;
}

int twc_dns_name_equal(const twc_dns_name *a, const twc_dns_name *b)
{
    size_t i;

    if (a->len != b->len)
        return 0;
    /* Length bytes are < 64, so lowering them changes nothing. */
    for (i = 0; i < a->len; i++)
        if (lower(a->wire[i]) != lower(b->wire[i]))
            return 0;
    return 1;
}

int twc_dns_name_is_under(const twc_dns_name *n, const twc_dns_name *zone)
{
    size_t i = 0, k;

    if (n->len < zone->len)
        return 0;
    /* Walk label starts of n until the remaining suffix has zone's length. */
    while (n->len - i > zone->len)
        i += (size_t)n->wire[i] + 1;
    if (n->len - i != zone->len)
        return 0;
    for (k = 0; k < zone->len; k++)
        if (lower(n->wire[i + k]) != lower(zone->wire[k]))
            return 0;
    return 1;
}

unsigned twc_dns_name_labels(const twc_dns_name *n)
{
    unsigned count = 0;
    size_t i = 0;

    while (i < n->len && n->wire[i] != 0) {
        count++;
        i += (size_t)n->wire[i] + 1;
    }
    return count;
}

void twc_dns_name_parent(twc_dns_name *n)
{
    size_t skip;

    if (n->len <= 1)
        return;
    skip = (size_t)n->wire[0] + 1;
    memmove(n->wire, n->wire + skip, n->len - skip);
    n->len = (uint8_t)(n->len - skip);
}

void twc_dns_name_lower(twc_dns_name *n)
{
    size_t i;

    for (i = 0; i < n->len; i++)
        n->wire[i] = lower(n->wire[i]);
}

int twc_dns_name_wildcard(twc_dns_name *out, const twc_dns_name *parent)
{
    if ((size_t)parent->len + 2 > TWC_DNS_NAME_MAX)
        return TWC_ETOOBIG;
    out->wire[0] = 1;
    out->wire[1] = '*';
    memcpy(out->wire + 2, parent->wire, parent->len);
    out->len = (uint8_t)(parent->len + 2);
    return 0;
}

int twc_dns_name_read(const uint8_t *msg, size_t msglen, size_t *off, twc_dns_name *out)
{
    size_t pos = *off, end = 0, o = 0;
    unsigned hops = 0;
    int jumped = 0;

    for (;;) {
        uint8_t c;

        if (pos >= msglen)
            return TWC_EPROTO;
        c = msg[pos];
        if ((c & 0xc0) == 0xc0) {
            size_t target;

            if (pos + 1 >= msglen)
                return TWC_EPROTO;
            target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
            /* Only backward pointers: every jump strictly decreases pos, so the
             * walk ends; the hop limit bounds the work on long chains. */
            if (target >= pos || ++hops > TWC_DNS_POINTER_HOPS)
                return TWC_EPROTO;
            if (!jumped)
                end = pos + 2;
            jumped = 1;
            pos = target;
            continue;
        }
        if ((c & 0xc0) != 0)
            return TWC_EPROTO; /* 0x40 and 0x80: extended label types (RFC 6891 §5) */
        if (o + 1 + c > TWC_DNS_NAME_MAX)
            return TWC_EPROTO;
        if (pos + 1 + c > msglen)
            return TWC_EPROTO;
        memcpy(out->wire + o, msg + pos, (size_t)c + 1);
        o += (size_t)c + 1;
        pos += (size_t)c + 1;
        if (c == 0)
            break;
    }
    out->len = (uint8_t)o;
    *off = jumped ? end : pos;
    return 0;
}
