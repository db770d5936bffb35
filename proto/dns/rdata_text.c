/*
 * Rdata from presentation text (RFC 1035 §5.1; RFC 3596 §2.4 AAAA; RFC 2782
 * SRV; RFC 8659 CAA; RFC 3597 §5 "\# LEN HEX" for any type), TTLs with units,
 * and a wire-form check of rdata given in "\#" form.
 */
#include "proto/dns/zone.h"

#include <arpa/inet.h>
#include <string.h>

#include "buf.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* Apply "\X" and "\DDD" escapes (RFC 1035 §5.1) of f into out (at most cap
 * bytes). Returns the length, or a negative code. */
static int unescape(const twc_dns_field *f, uint8_t *out, size_t cap, twc_err *err)
{
    size_t i = 0, o = 0;

    while (i < f->len) {
        uint8_t c = (uint8_t)f->p[i++];

        if (c == '\\') {
            if (i == f->len)
                return twc_err_set(err, TWC_EINVAL, "string ends with a backslash");
            if (f->p[i] >= '0' && f->p[i] <= '9') {
                unsigned v = 0, k;

                for (k = 0; k < 3; k++, i++) {
                    if (i == f->len || f->p[i] < '0' || f->p[i] > '9')
                        return twc_err_set(err, TWC_EINVAL, "\\DDD escape needs three digits");
                    v = v * 10 + (unsigned)(f->p[i] - '0');
                }
                if (v > 255)
                    return twc_err_set(err, TWC_EINVAL, "\\DDD escape above 255");
                c = (uint8_t)v;
            } else {
                c = (uint8_t)f->p[i++];
            }
        }
        if (o == cap)
            return twc_err_set(err, TWC_ETOOBIG, "string exceeds %zu bytes", cap);
        out[o++] = c;
    }
    return (int)o;
}

static int get_uint(const twc_dns_field *f, uint64_t max, const char *what, uint64_t *v,
                    twc_err *err)
{
    if (f->quoted || twc_parse_u64(f->p, f->len, 0, max, v) < 0)
        return twc_err_set(err, TWC_EINVAL, "bad %s '%.*s' (0-%llu)", what, (int)f->len, f->p,
                           (unsigned long long)max);
    return 0;
}

int twc_dns_ttl_parse(const char *s, size_t len, uint32_t *out)
{
    uint64_t total = 0, v = 0;
    size_t i;
    int digits = 0, units = 0;

    if (len == 0)
        return TWC_EINVAL;
    for (i = 0; i < len; i++) {
        char c = s[i];
        uint64_t mul;

        if (c >= '0' && c <= '9') {
            v = v * 10 + (uint64_t)(c - '0');
            if (v > TWC_DNS_TTL_MAX)
                return TWC_EINVAL;
            digits = 1;
            continue;
        }
        switch (c | 0x20) {
        case 's':
            mul = 1;
            break;
        case 'm':
            mul = 60;
            break;
        case 'h':
            mul = 3600;
            break;
        case 'd':
            mul = 86400;
            break;
        case 'w':
            mul = 604800;
            break;
        default:
            return TWC_EINVAL;
        }
        if (!digits)
            return TWC_EINVAL; /* "h" or "1hm" */
        total += v * mul;
        if (total > TWC_DNS_TTL_MAX)
            return TWC_EINVAL;
        v = 0;
        digits = 0;
        units = 1;
    }
    if (digits) {
        /* Plain seconds, or trailing seconds after units ("1h30" is 1h30s, as BIND). */
        total += v;
    } else if (!units) {
        return TWC_EINVAL;
    }
    if (total > TWC_DNS_TTL_MAX)
        return TWC_EINVAL;
    *out = (uint32_t)total;
    return 0;
}

static int put_name(const twc_dns_field *f, const twc_dns_name *origin, uint8_t *out, size_t cap,
                    size_t *o, twc_err *err)
{
    twc_dns_name n;
    twc_err e;
    int rc;

    if (f->quoted)
        return twc_err_set(err, TWC_EINVAL, "name '%.*s' may not be quoted", (int)f->len, f->p);
    rc = twc_dns_name_parse(&n, f->p, f->len, origin, &e);
    if (rc < 0)
        return twc_err_set(err, rc, "bad name '%.*s': %s", (int)f->len, f->p, e.msg);
    if (*o + n.len > cap)
        return twc_err_set(err, TWC_ETOOBIG, "rdata exceeds %zu bytes", cap);
    memcpy(out + *o, n.wire, n.len);
    *o += n.len;
    return 0;
}

static int put_uint(const twc_dns_field *f, unsigned bytes, const char *what, uint8_t *out,
                    size_t cap, size_t *o, twc_err *err)
{
    uint64_t v;
    int rc;

    if ((rc = get_uint(f, bytes == 4 ? 0xffffffffu : (1u << (8 * bytes)) - 1, what, &v, err)) < 0)
        return rc;
    if (*o + bytes > cap)
        return twc_err_set(err, TWC_ETOOBIG, "rdata exceeds %zu bytes", cap);
    if (bytes == 1)
        out[*o] = (uint8_t)v;
    else if (bytes == 2)
        put16(out + *o, (uint16_t)v);
    else
        put32(out + *o, (uint32_t)v);
    *o += bytes;
    return 0;
}

/* A <character-string>: length byte then at most 255 bytes. */
static int put_string(const twc_dns_field *f, uint8_t *out, size_t cap, size_t *o, twc_err *err)
{
    uint8_t tmp[256];
    int n;

    n = unescape(f, tmp, 255, err);
    if (n < 0) {
        if (n == TWC_ETOOBIG)
            return twc_err_set(err, TWC_EINVAL, "character-string exceeds 255 bytes");
        return n;
    }
    if (*o + 1 + (size_t)n > cap)
        return twc_err_set(err, TWC_ETOOBIG, "rdata exceeds %zu bytes", cap);
    out[*o] = (uint8_t)n;
    memcpy(out + *o + 1, tmp, (size_t)n);
    *o += 1 + (size_t)n;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* RFC 3597 §5: "\# LEN HEX..." where the hex may be split by spaces. */
static int parse_generic(uint16_t type, const twc_dns_field *f, size_t nf, uint8_t *out, size_t cap,
                         twc_err *err)
{
    uint64_t len;
    size_t i, k, o = 0;
    int half = -1;

    if (nf < 2 || get_uint(&f[1], 65535, "\\# length", &len, err) < 0)
        return twc_err_set(err, TWC_EINVAL, "\\# needs a length (0-65535)");
    if (len > cap)
        return twc_err_set(err, TWC_ETOOBIG, "rdata exceeds %zu bytes", cap);
    for (i = 2; i < nf; i++) {
        if (f[i].quoted)
            return twc_err_set(err, TWC_EINVAL, "\\# data must be hex");
        for (k = 0; k < f[i].len; k++) {
            int h = hexval(f[i].p[k]);

            if (h < 0)
                return twc_err_set(err, TWC_EINVAL, "bad hex digit '%c' in \\# data", f[i].p[k]);
            if (half < 0) {
                half = h;
                continue;
            }
            if (o == len)
                return twc_err_set(err, TWC_EINVAL, "\\# data longer than %llu bytes",
                                   (unsigned long long)len);
            out[o++] = (uint8_t)(half << 4 | h);
            half = -1;
        }
    }
    if (half >= 0 || o != len)
        return twc_err_set(err, TWC_EINVAL, "\\# data is not %llu bytes", (unsigned long long)len);
    if (twc_dns_rdata_check(type, out, o) < 0)
        return twc_err_set(err, TWC_EINVAL, "\\# data is not valid rdata for its type");
    return (int)o;
}

static int need(size_t nf, size_t n, const char *type, twc_err *err)
{
    if (nf != n)
        return twc_err_set(err, TWC_EINVAL, "%s needs %zu fields, got %zu", type, n, nf);
    return 0;
}

static int parse_addr(int af, const twc_dns_field *f, uint8_t *out, size_t cap, twc_err *err)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    size_t want = af == AF_INET ? 4 : 16;

    if (f->quoted || f->len >= sizeof(tmp))
        goto bad;
    memcpy(tmp, f->p, f->len);
    tmp[f->len] = '\0';
    if (cap < want)
        return twc_err_set(err, TWC_ETOOBIG, "rdata exceeds %zu bytes", cap);
    if (inet_pton(af, tmp, out) != 1)
        goto bad;
    return (int)want;
bad:
    return twc_err_set(err, TWC_EINVAL, "bad %s address '%.*s'", af == AF_INET ? "IPv4" : "IPv6",
                       (int)f->len > 64 ? 64 : (int)f->len, f->p);
}

int twc_dns_rdata_parse(uint16_t type, const twc_dns_field *f, size_t nf,
                        const twc_dns_name *origin, uint8_t *out, size_t cap, twc_err *err)
{
    size_t o = 0, i;
    int rc = 0;
    char tbuf[16];

    if (nf >= 1 && !f[0].quoted && f[0].len == 2 && f[0].p[0] == '\\' && f[0].p[1] == '#')
        return parse_generic(type, f, nf, out, cap, err);
    if (cap > 65535)
        cap = 65535;
    switch (type) {
    case TWC_DNS_A:
        if ((rc = need(nf, 1, "A", err)) < 0)
            return rc;
        return parse_addr(AF_INET, f, out, cap, err);
    case TWC_DNS_AAAA:
        if ((rc = need(nf, 1, "AAAA", err)) < 0)
            return rc;
        return parse_addr(AF_INET6, f, out, cap, err);
    case TWC_DNS_NS:
    case TWC_DNS_CNAME:
    case TWC_DNS_PTR:
        if ((rc = need(nf, 1, twc_dns_type_name(type, tbuf, sizeof(tbuf)), err)) < 0)
            return rc;
        rc = put_name(&f[0], origin, out, cap, &o, err);
        break;
    case TWC_DNS_MX:
        if ((rc = need(nf, 2, "MX", err)) < 0 ||
            (rc = put_uint(&f[0], 2, "MX preference", out, cap, &o, err)) < 0)
            return rc;
        rc = put_name(&f[1], origin, out, cap, &o, err);
        break;
    case TWC_DNS_SRV:
        if ((rc = need(nf, 4, "SRV", err)) < 0 ||
            (rc = put_uint(&f[0], 2, "SRV priority", out, cap, &o, err)) < 0 ||
            (rc = put_uint(&f[1], 2, "SRV weight", out, cap, &o, err)) < 0 ||
            (rc = put_uint(&f[2], 2, "SRV port", out, cap, &o, err)) < 0)
            return rc;
        rc = put_name(&f[3], origin, out, cap, &o, err);
        break;
    case TWC_DNS_SOA:
        if ((rc = need(nf, 7, "SOA", err)) < 0 ||
            (rc = put_name(&f[0], origin, out, cap, &o, err)) < 0 ||
            (rc = put_name(&f[1], origin, out, cap, &o, err)) < 0 ||
            (rc = put_uint(&f[2], 4, "SOA serial", out, cap, &o, err)) < 0)
            return rc;
        /* RFC 2308 §4 style: the four timers accept TTL units. */
        for (i = 3; i < 7; i++) {
            uint32_t v;

            if (f[i].quoted || twc_dns_ttl_parse(f[i].p, f[i].len, &v) < 0)
                return twc_err_set(err, TWC_EINVAL, "bad SOA timer '%.*s'", (int)f[i].len, f[i].p);
            if (o + 4 > cap)
                return twc_err_set(err, TWC_ETOOBIG, "rdata exceeds %zu bytes", cap);
            put32(out + o, v);
            o += 4;
        }
        break;
    case TWC_DNS_TXT:
        if (nf == 0)
            return twc_err_set(err, TWC_EINVAL, "TXT needs at least one string");
        for (i = 0; i < nf && rc == 0; i++)
            rc = put_string(&f[i], out, cap, &o, err);
        break;
    case TWC_DNS_HINFO:
        if ((rc = need(nf, 2, "HINFO", err)) < 0 || (rc = put_string(&f[0], out, cap, &o, err)) < 0)
            return rc;
        rc = put_string(&f[1], out, cap, &o, err);
        break;
    case TWC_DNS_CAA: {
        int n;

        if ((rc = need(nf, 3, "CAA", err)) < 0 ||
            (rc = put_uint(&f[0], 1, "CAA flags", out, cap, &o, err)) < 0)
            return rc;
        /* RFC 8659 §4.1: the tag is 1 to 15 letters and digits. */
        if (f[1].quoted || f[1].len == 0 || f[1].len > 15)
            return twc_err_set(err, TWC_EINVAL, "bad CAA tag");
        for (i = 0; i < f[1].len; i++) {
            char c = (char)(f[1].p[i] | 0x20);

            if (!((c >= 'a' && c <= 'z') || (f[1].p[i] >= '0' && f[1].p[i] <= '9')))
                return twc_err_set(err, TWC_EINVAL, "bad CAA tag '%.*s'", (int)f[1].len, f[1].p);
        }
        if (o + 1 + f[1].len > cap)
            return twc_err_set(err, TWC_ETOOBIG, "rdata exceeds %zu bytes", cap);
        out[o++] = (uint8_t)f[1].len;
        memcpy(out + o, f[1].p, f[1].len);
        o += f[1].len;
        n = unescape(&f[2], out + o, cap - o, err);
        if (n < 0)
            return n;
        o += (size_t)n;
        break;
    }
    default:
        return twc_err_set(err, TWC_EINVAL, "type %s needs \\# rdata (RFC 3597)",
                           twc_dns_type_name(type, tbuf, sizeof(tbuf)));
    }
    if (rc < 0)
        return rc;
    return (int)o;
}

/* Split text into fields: blanks separate, "..." quotes (escapes kept raw). */
int twc_dns_rdata_parse_text(uint16_t type, const char *text, size_t len,
                             const twc_dns_name *origin, uint8_t *out, size_t cap, twc_err *err)
{
    twc_dns_field f[TWC_DNS_ZONE_FIELDS_MAX];
    size_t nf = 0, i = 0;

    while (i < len) {
        size_t start;
        int quoted = 0;

        if (text[i] == ' ' || text[i] == '\t') {
            i++;
            continue;
        }
        if (nf == TWC_DNS_ZONE_FIELDS_MAX)
            return twc_err_set(err, TWC_ETOOBIG, "more than %d fields", TWC_DNS_ZONE_FIELDS_MAX);
        if (text[i] == '"') {
            quoted = 1;
            start = ++i;
            while (i < len && text[i] != '"')
                i += text[i] == '\\' && i + 1 < len ? 2 : 1;
            if (i >= len)
                return twc_err_set(err, TWC_EINVAL, "unterminated quoted string");
            f[nf++] = (twc_dns_field){text + start, i - start, 1};
            i++;
            continue;
        }
        start = i;
        while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '"')
            i += text[i] == '\\' && i + 1 < len ? 2 : 1;
        f[nf++] = (twc_dns_field){text + start, i - start, quoted};
    }
    return twc_dns_rdata_parse(type, f, nf, origin, out, cap, err);
}

/* A name in rdata at rd[*off]: uncompressed labels ending with the root. */
static int check_name(const uint8_t *rd, size_t len, size_t *off)
{
    size_t o = *off;

    while (o < len && rd[o] != 0) {
        if (rd[o] > TWC_DNS_LABEL_MAX)
            return TWC_EINVAL;
        o += (size_t)rd[o] + 1;
    }
    if (o >= len || o + 1 - *off > TWC_DNS_NAME_MAX)
        return TWC_EINVAL;
    *off = o + 1;
    return 0;
}

/* count < 0: any number (at least one) of character-strings. */
static int check_strings(const uint8_t *rd, size_t len, int count)
{
    size_t o = 0;
    int n = 0;

    while (o < len) {
        o += (size_t)rd[o] + 1;
        n++;
    }
    if (o != len || n == 0)
        return TWC_EINVAL;
    return count < 0 || n == count ? 0 : TWC_EINVAL;
}

int twc_dns_rdata_check(uint16_t type, const uint8_t *rd, size_t len)
{
    size_t off = 0;

    switch (type) {
    case TWC_DNS_A:
        return len == 4 ? 0 : TWC_EINVAL;
    case TWC_DNS_AAAA:
        return len == 16 ? 0 : TWC_EINVAL;
    case TWC_DNS_NS:
    case TWC_DNS_CNAME:
    case TWC_DNS_PTR:
        break;
    case TWC_DNS_MX:
        off = 2;
        break;
    case TWC_DNS_SRV:
        off = 6;
        break;
    case TWC_DNS_SOA:
        if (check_name(rd, len, &off) < 0 || check_name(rd, len, &off) < 0)
            return TWC_EINVAL;
        return len - off == 20 ? 0 : TWC_EINVAL;
    case TWC_DNS_TXT:
        return check_strings(rd, len, -1);
    case TWC_DNS_HINFO:
        return check_strings(rd, len, 2);
    case TWC_DNS_CAA:
        return len >= 2 && rd[1] >= 1 && rd[1] <= 15 && (size_t)rd[1] + 2 <= len ? 0 : TWC_EINVAL;
    default:
        return 0;
    }
    if (off >= len || check_name(rd, len, &off) < 0 || off != len)
        return TWC_EINVAL;
    return 0;
}
