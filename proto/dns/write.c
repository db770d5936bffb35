/*
 * DNS message writer with name compression (RFC 1035 §4.1.4).
 *
 * The writer remembers where each label it wrote literally begins (up to
 * TWC_DNS_COMPRESS_MAX places); a later name whose suffix matches one of them
 * ends in a pointer there. A record that does not fit the size limit is
 * rolled back whole and flags truncation, so a message never holds half a
 * record (RFC 2181 §9).
 */
#include "dns.h"

#include <string.h>

void twc_dns_writer_init(twc_dns_writer *w, uint8_t *buf, size_t cap, size_t limit)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
    w->limit = limit < cap ? limit : cap;
}

static int room(const twc_dns_writer *w, size_t n)
{
    return w->len + n <= w->limit;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

int twc_dns_write_header(twc_dns_writer *w, uint16_t id, uint16_t flags)
{
    if (w->len != 0 || !room(w, TWC_DNS_HEADER_LEN))
        return TWC_ETOOBIG;
    memset(w->buf, 0, TWC_DNS_HEADER_LEN);
    put16(w->buf, id);
    put16(w->buf + 2, flags);
    w->len = TWC_DNS_HEADER_LEN;
    return 0;
}

/* Does the (possibly compressed) name at buf[off] equal the wire suffix s? The
 * buffer holds only what we wrote, so its pointers are valid and backward.
 * Bytes must match exactly, not just case-insensitively, so a pointer never
 * changes the case a name was given in (RFC 4343 §4: case is preserved). */
static int suffix_matches(const twc_dns_writer *w, size_t off, const uint8_t *s)
{
    for (;;) {
        uint8_t c = w->buf[off];

        if ((c & 0xc0) == 0xc0) {
            off = (size_t)(c & 0x3f) << 8 | w->buf[off + 1];
            continue;
        }
        if (c != *s)
            return 0;
        if (c == 0)
            return 1;
        if (memcmp(w->buf + off + 1, s + 1, c) != 0)
            return 0;
        off += (size_t)c + 1;
        s += c + 1;
    }
}

static int write_name(twc_dns_writer *w, const twc_dns_name *n, int compress)
{
    size_t i = 0, k, start = w->len;
    size_t match = 0;
    int found = 0;

    /* Find the longest suffix already in the message. */
    if (compress) {
        for (i = 0; n->wire[i] != 0; i += (size_t)n->wire[i] + 1) {
            for (k = 0; k < w->ncomp; k++) {
                if (suffix_matches(w, w->comp[k], n->wire + i)) {
                    match = w->comp[k];
                    found = 1;
                    break;
                }
            }
            if (found)
                break;
        }
    } else {
        i = (size_t)n->len - 1;
    }
    /* Labels before the match (or all, plus the root) go in literally. */
    if (!room(w, i + (found ? 2 : 1)))
        return TWC_ETOOBIG;
    memcpy(w->buf + w->len, n->wire, i);
    w->len += i;
    if (found) {
        put16(w->buf + w->len, (uint16_t)(0xc000 | match));
        w->len += 2;
    } else {
        w->buf[w->len++] = 0;
    }
    /* Remember the literal labels as future pointer targets (offsets must fit
     * the 14-bit pointer field). */
    for (k = 0; k < i; k += (size_t)n->wire[k] + 1)
        if (w->ncomp < TWC_DNS_COMPRESS_MAX && start + k < 0x4000)
            w->comp[w->ncomp++] = (uint16_t)(start + k);
    return 0;
}

int twc_dns_write_question(twc_dns_writer *w, const twc_dns_name *name, uint16_t qtype,
                           uint16_t qclass)
{
    size_t save = w->len, savecomp = w->ncomp;

    if (w->count[TWC_DNS_AN] || w->count[TWC_DNS_NS_SECT] || w->count[TWC_DNS_AR])
        return TWC_EINVAL;
    if (write_name(w, name, 1) < 0 || !room(w, 4)) {
        w->len = save;
        w->ncomp = savecomp;
        w->truncated = 1;
        return TWC_ETOOBIG;
    }
    put16(w->buf + w->len, qtype);
    put16(w->buf + w->len + 2, qclass);
    w->len += 4;
    w->count[TWC_DNS_QD]++;
    return 0;
}

/* Read an uncompressed name from stored rdata. */
static int rdata_name(const uint8_t *rd, size_t len, size_t *off, twc_dns_name *n)
{
    size_t o = *off;

    while (o < len && rd[o] != 0) {
        if (rd[o] > TWC_DNS_LABEL_MAX)
            return TWC_EPROTO;
        o += (size_t)rd[o] + 1;
    }
    if (o >= len || o + 1 - *off > TWC_DNS_NAME_MAX)
        return TWC_EPROTO;
    n->len = (uint8_t)(o + 1 - *off);
    memcpy(n->wire, rd + *off, n->len);
    *off = o + 1;
    return 0;
}

static int write_bytes(twc_dns_writer *w, const uint8_t *p, size_t n)
{
    if (!room(w, n))
        return TWC_ETOOBIG;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

/* Rdata, with names compressed for the RFC 1035 types only (RFC 3597 §4). */
static int write_rdata(twc_dns_writer *w, const twc_dns_rr *rr)
{
    const uint8_t *rd = rr->rdata;
    size_t len = rr->rdlen, off = 0;
    twc_dns_name n;
    int rc, i;

    switch (rr->type) {
    case TWC_DNS_NS:
    case TWC_DNS_CNAME:
    case TWC_DNS_PTR:
        if (rdata_name(rd, len, &off, &n) < 0 || off != len)
            return TWC_EPROTO;
        return write_name(w, &n, 1);
    case TWC_DNS_MX:
        if (len < 3)
            return TWC_EPROTO;
        if ((rc = write_bytes(w, rd, 2)) < 0)
            return rc;
        off = 2;
        if (rdata_name(rd, len, &off, &n) < 0 || off != len)
            return TWC_EPROTO;
        return write_name(w, &n, 1);
    case TWC_DNS_SOA:
        for (i = 0; i < 2; i++) {
            if (rdata_name(rd, len, &off, &n) < 0)
                return TWC_EPROTO;
            if ((rc = write_name(w, &n, 1)) < 0)
                return rc;
        }
        if (len - off != 20)
            return TWC_EPROTO;
        return write_bytes(w, rd + off, 20);
    default:
        return write_bytes(w, rd, len);
    }
}

int twc_dns_write_rr(twc_dns_writer *w, enum twc_dns_section s, const twc_dns_rr *rr)
{
    size_t save = w->len, savecomp = w->ncomp, rdstart;
    unsigned later;
    int rc;

    if (s == TWC_DNS_QD || w->len < TWC_DNS_HEADER_LEN)
        return TWC_EINVAL;
    for (later = (unsigned)s + 1; later < 4; later++)
        if (w->count[later])
            return TWC_EINVAL; /* sections go in order */
    rc = write_name(w, &rr->name, 1);
    if (rc == 0 && !room(w, 10))
        rc = TWC_ETOOBIG;
    if (rc == 0) {
        put16(w->buf + w->len, rr->type);
        put16(w->buf + w->len + 2, rr->rclass);
        put16(w->buf + w->len + 4, (uint16_t)(rr->ttl >> 16));
        put16(w->buf + w->len + 6, (uint16_t)rr->ttl);
        w->len += 10;
        rdstart = w->len;
        rc = write_rdata(w, rr);
        if (rc == 0)
            put16(w->buf + rdstart - 2, (uint16_t)(w->len - rdstart));
    }
    if (rc < 0) {
        w->len = save;
        w->ncomp = savecomp;
        /* RFC 2181 §9: dropping additional data is not truncation. */
        if (rc == TWC_ETOOBIG && s != TWC_DNS_AR)
            w->truncated = 1;
        return rc;
    }
    w->count[s]++;
    return 0;
}

int twc_dns_write_opt(twc_dns_writer *w, uint16_t udp_size, uint8_t ext_rcode, uint16_t flags)
{
    uint8_t *p;

    if (!room(w, 11)) {
        w->truncated = 1;
        return TWC_ETOOBIG;
    }
    p = w->buf + w->len;
    p[0] = 0; /* root owner */
    put16(p + 1, TWC_DNS_OPT);
    put16(p + 3, udp_size);
    p[5] = ext_rcode;
    p[6] = 0; /* version 0 */
    put16(p + 7, flags);
    put16(p + 9, 0); /* no options */
    w->len += 11;
    w->count[TWC_DNS_AR]++;
    return 0;
}

size_t twc_dns_writer_finish(twc_dns_writer *w)
{
    unsigned i;

    if (w->len < TWC_DNS_HEADER_LEN)
        return 0;
    for (i = 0; i < 4; i++)
        put16(w->buf + 4 + 2 * i, w->count[i]);
    if (w->truncated)
        w->buf[2] |= (uint8_t)(TWC_DNS_F_TC >> 8);
    return w->len;
}
