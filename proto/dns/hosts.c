/*
 * hosts(5) parser: lines of "ADDRESS NAME [ALIAS...]" into A/AAAA and PTR
 * records of a twc_dns_zone.
 */
#include "proto/dns/hosts.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static int hosts_fail(twc_err *err, int code, const char *fname, unsigned line, const char *what,
                      const char *p, size_t n)
{
    return twc_err_set(err, code, "%s:%u: %s '%.*s'", fname, line, what, (int)(n > 64 ? 64 : n), p);
}

int twc_dns_reverse_name(twc_dns_name *out, const uint8_t *addr, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    static const uint8_t v4[] = "\x07in-addr\x04"
                                "arpa";
    static const uint8_t v6[] = "\x03ip6\x04"
                                "arpa";
    size_t o = 0, i;

    if (len == 4) {
        /* RFC 1035 §3.5: the octets in reverse order, in decimal. */
        for (i = 4; i-- > 0;) {
            char d[4];
            unsigned v = addr[i], n = 0;

            do {
                d[n++] = (char)('0' + v % 10);
                v /= 10;
            } while (v > 0);
            out->wire[o++] = (uint8_t)n;
            while (n > 0)
                out->wire[o++] = (uint8_t)d[--n];
        }
        memcpy(out->wire + o, v4, sizeof(v4)); /* the NUL is the root label */
        o += sizeof(v4);
    } else if (len == 16) {
        /* RFC 3596 §2.5: nibbles, least significant first. */
        for (i = 16; i-- > 0;) {
            out->wire[o++] = 1;
            out->wire[o++] = (uint8_t)hex[addr[i] & 0xf];
            out->wire[o++] = 1;
            out->wire[o++] = (uint8_t)hex[addr[i] >> 4];
        }
        memcpy(out->wire + o, v6, sizeof(v6));
        o += sizeof(v6);
    } else {
        return TWC_EINVAL;
    }
    out->len = (uint8_t)o;
    return 0;
}

/* Parse one address field; returns its length (4 or 16) or 0. */
static size_t parse_address(const char *p, size_t n, uint8_t *out)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    const char *pct = memchr(p, '%', n);

    if (pct != NULL)
        n = (size_t)(pct - p); /* fe80::1%eth0: the zone does not matter to DNS */
    if (n == 0 || n >= sizeof(tmp))
        return 0;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (memchr(tmp, ':', n) == NULL)
        return inet_pton(AF_INET, tmp, out) == 1 ? 4 : 0;
    return inet_pton(AF_INET6, tmp, out) == 1 ? 16 : 0;
}

int twc_dns_reverse_name_text(twc_dns_name *out, const char *addr, size_t len)
{
    uint8_t bin[16];
    size_t n = parse_address(addr, len, bin);

    return n == 0 ? TWC_EINVAL : twc_dns_reverse_name(out, bin, n);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int twc_dns_hosts_parse(twc_dns_zone *z, const char *fname, const char *data, size_t len,
                        uint32_t ttl, twc_err *err)
{
    size_t pos = 0;
    unsigned line = 0;

    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) : len, i = pos, nnames = 0;
        const char *hash = memchr(data + pos, '#', end - pos);
        uint8_t addr[16];
        size_t alen = 0;
        twc_dns_name canonical;
        twc_dns_rr rr;
        twc_err e;
        int rc;

        line++;
        if (hash != NULL)
            end = (size_t)(hash - data);
        for (;;) {
            size_t start;
            twc_dns_name n;

            while (i < end && is_space(data[i]))
                i++;
            if (i == end)
                break;
            start = i;
            while (i < end && !is_space(data[i]))
                i++;
            if (alen == 0) {
                alen = parse_address(data + start, i - start, addr);
                if (alen == 0)
                    return hosts_fail(err, TWC_EINVAL, fname, line, "bad address", data + start,
                                      i - start);
                continue;
            }
            /* Names are absolute; "\" escapes are not hosts(5) syntax. */
            if (memchr(data + start, '\\', i - start) != NULL ||
                (rc = twc_dns_name_parse(&n, data + start, i - start, NULL, &e)) < 0 || n.len <= 1)
                return hosts_fail(err, TWC_EINVAL, fname, line, "bad name", data + start,
                                  i - start);
            rr.name = n;
            rr.type = alen == 4 ? TWC_DNS_A : TWC_DNS_AAAA;
            rr.rclass = TWC_DNS_CLASS_IN;
            rr.ttl = ttl;
            rr.rdlen = (uint16_t)alen;
            rr.rdata = addr;
            if ((rc = twc_dns_zone_add(z, &rr, &e)) < 0)
                return twc_err_set(err, rc, "%s:%u: %s", fname, line, e.msg);
            if (nnames++ == 0)
                canonical = n;
        }
        if (nnames > 0) {
            twc_dns_reverse_name(&rr.name, addr, alen);
            rr.type = TWC_DNS_PTR;
            rr.rclass = TWC_DNS_CLASS_IN;
            rr.ttl = ttl;
            rr.rdlen = canonical.len;
            rr.rdata = canonical.wire;
            if ((rc = twc_dns_zone_add(z, &rr, &e)) < 0)
                return twc_err_set(err, rc, "%s:%u: %s", fname, line, e.msg);
        }
        pos = nl != NULL ? (size_t)(nl - data) + 1 : len;
    }
    return 0;
}

int twc_dns_hosts_load(twc_dns_zone *z, const char *path, uint32_t ttl, twc_err *err)
{
    char *data;
    size_t len;
    int rc;

    if ((rc = twc_dns_file_read(path, TWC_DNS_ZONE_FILE_MAX, &data, &len, err)) < 0)
        return rc;
    rc = twc_dns_hosts_parse(z, path, data, len, ttl, err);
    free(data);
    return rc;
}
