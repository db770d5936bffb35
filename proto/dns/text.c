/*
 * Presentation forms: type and rcode mnemonics, and rdata in zone-file syntax
 * (RFC 1035 §5.1, RFC 3597 §5 for unknown types, RFC 8659 for CAA).
 */
#include "dns.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

static const struct {
    uint16_t type;
    const char *name;
} types[] = {
    {TWC_DNS_A, "A"},       {TWC_DNS_NS, "NS"},       {TWC_DNS_CNAME, "CNAME"},
    {TWC_DNS_SOA, "SOA"},   {TWC_DNS_PTR, "PTR"},     {TWC_DNS_HINFO, "HINFO"},
    {TWC_DNS_MX, "MX"},     {TWC_DNS_TXT, "TXT"},     {TWC_DNS_AAAA, "AAAA"},
    {TWC_DNS_SRV, "SRV"},   {TWC_DNS_OPT, "OPT"},     {TWC_DNS_IXFR, "IXFR"},
    {TWC_DNS_AXFR, "AXFR"}, {TWC_DNS_ANY, "ANY"},     {TWC_DNS_CAA, "CAA"},
};

const char *twc_dns_type_name(uint16_t type, char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == type) {
            snprintf(buf, len, "%s", types[i].name);
            return buf;
        }
    snprintf(buf, len, "TYPE%u", type);
    return buf;
}

int twc_dns_type_parse(const char *s, size_t len, uint16_t *out)
{
    uint64_t v;
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].name) == len && strncasecmp(types[i].name, s, len) == 0) {
            *out = types[i].type;
            return 0;
        }
    if (len > 4 && strncasecmp(s, "TYPE", 4) == 0 &&
        twc_parse_u64(s + 4, len - 4, 0, 65535, &v) == 0) {
        *out = (uint16_t)v;
        return 0;
    }
    return TWC_EINVAL;
}

const char *twc_dns_rcode_name(unsigned rcode)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                        "NXRRSET", "NOTAUTH", "NOTZONE"};

    if (rcode < sizeof(names) / sizeof(names[0]))
        return names[rcode];
    if (rcode == TWC_DNS_BADVERS)
        return "BADVERS";
    return "RESERVED";
}

/* A small bounded appender over the caller's buffer. */
struct out {
    char *buf;
    size_t len, o;
    int full;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->full)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->o, o->len - o->o, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->len - o->o) {
        o->full = 1;
        return;
    }
    o->o += (size_t)n;
}

static int emit_name(struct out *o, const uint8_t *rd, size_t len, size_t *off)
{
    char text[TWC_DNS_NAME_TEXT_MAX];
    twc_dns_name n;
    size_t p = *off;

    while (p < len && rd[p] != 0)
        p += (size_t)rd[p] + 1;
    if (p >= len || p + 1 - *off > TWC_DNS_NAME_MAX)
        return TWC_EPROTO;
    n.len = (uint8_t)(p + 1 - *off);
    memcpy(n.wire, rd + *off, n.len);
    if (twc_dns_name_format(&n, text, sizeof(text)) < 0)
        return TWC_EPROTO;
    emit(o, "%s", text);
    *off = p + 1;
    return 0;
}

/* A <character-string> in quotes with escapes (RFC 1035 §5.1). */
static void emit_string(struct out *o, const uint8_t *p, size_t n)
{
    size_t i;

    emit(o, "\"");
    for (i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            emit(o, "\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] >= 0x7f)
            emit(o, "\\%03u", p[i]);
        else
            emit(o, "%c", p[i]);
    }
    emit(o, "\"");
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int format_known(struct out *o, uint16_t type, const uint8_t *rd, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    size_t off = 0, i;

    switch (type) {
    case TWC_DNS_A:
        if (len != 4)
            return TWC_EPROTO;
        emit(o, "%s", inet_ntop(AF_INET, rd, ip, sizeof(ip)));
        return 0;
    case TWC_DNS_AAAA:
        if (len != 16)
            return TWC_EPROTO;
        emit(o, "%s", inet_ntop(AF_INET6, rd, ip, sizeof(ip)));
        return 0;
    case TWC_DNS_NS:
    case TWC_DNS_CNAME:
    case TWC_DNS_PTR:
        return emit_name(o, rd, len, &off) < 0 || off != len ? TWC_EPROTO : 0;
    case TWC_DNS_MX:
        if (len < 3)
            return TWC_EPROTO;
        emit(o, "%u ", get16(rd));
        off = 2;
        return emit_name(o, rd, len, &off) < 0 || off != len ? TWC_EPROTO : 0;
    case TWC_DNS_SRV:
        if (len < 7)
            return TWC_EPROTO;
        emit(o, "%u %u %u ", get16(rd), get16(rd + 2), get16(rd + 4));
        off = 6;
        return emit_name(o, rd, len, &off) < 0 || off != len ? TWC_EPROTO : 0;
    case TWC_DNS_SOA:
        if (emit_name(o, rd, len, &off) < 0)
            return TWC_EPROTO;
        emit(o, " ");
        if (emit_name(o, rd, len, &off) < 0 || len - off != 20)
            return TWC_EPROTO;
        emit(o, " %u %u %u %u %u", get32(rd + off), get32(rd + off + 4), get32(rd + off + 8),
             get32(rd + off + 12), get32(rd + off + 16));
        return 0;
    case TWC_DNS_TXT:
        if (len == 0)
            return TWC_EPROTO;
        for (i = 0; i < len; i += (size_t)rd[i] + 1) {
            if (i + 1 + rd[i] > len)
                return TWC_EPROTO;
            if (i > 0)
                emit(o, " ");
            emit_string(o, rd + i + 1, rd[i]);
        }
        return 0;
    case TWC_DNS_CAA:
        if (len < 2 || rd[1] == 0 || (size_t)2 + rd[1] > len)
            return TWC_EPROTO;
        emit(o, "%u %.*s ", rd[0], (int)rd[1], (const char *)rd + 2);
        emit_string(o, rd + 2 + rd[1], len - 2 - rd[1]);
        return 0;
    default:
        return 1; /* not known: use the generic form */
    }
}

int twc_dns_rdata_format(uint16_t type, const uint8_t *rdata, size_t rdlen, char *buf,
                         size_t len)
{
    struct out o = {buf, len, 0, 0};
    size_t i;
    int rc;

    if (len == 0)
        return TWC_ETOOBIG;
    buf[0] = '\0';
    rc = format_known(&o, type, rdata, rdlen);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        /* RFC 3597 §5: \# <length> <hex> */
        emit(&o, "\\# %zu", rdlen);
        if (rdlen > 0)
            emit(&o, " ");
        for (i = 0; i < rdlen; i++)
            emit(&o, "%02x", rdata[i]);
    }
    if (o.full)
        return TWC_ETOOBIG;
    return (int)o.o;
}
