/*
 * DNS message parsing (RFC 1035 §4.1). Two entry points: a full parse into a
 * twc_dns_msg (clients, the forwarder, zone transfers) and an allocation-free
 * query parse for the server's hot path.
 */
#include "dns.h"

#include <stdlib.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Types whose rdata holds names we expand (RFC 3597 §4; SRV per RFC 2782). */
static int rdata_has_names(uint16_t type)
{
    switch (type) {
    case TWC_DNS_NS:
    case TWC_DNS_CNAME:
    case TWC_DNS_PTR:
    case TWC_DNS_MX:
    case TWC_DNS_SOA:
    case TWC_DNS_SRV:
        return 1;
    default:
        return 0;
    }
}

/* Copy a name (expanded) into out at *o. */
static int put_name(uint8_t *out, size_t cap, size_t *o, const twc_dns_name *n)
{
    if (*o + n->len > cap)
        return TWC_EPROTO;
    memcpy(out + *o, n->wire, n->len);
    *o += n->len;
    return 0;
}

static int put_bytes(uint8_t *out, size_t cap, size_t *o, const uint8_t *p, size_t n)
{
    if (*o + n > cap)
        return TWC_EPROTO;
    memcpy(out + *o, p, n);
    *o += n;
    return 0;
}

/* Expand the rdata at msg[off..off+rdlen) into out (at most cap bytes). Returns the
 * expanded length, or TWC_EPROTO. Every field must end exactly at rdlen. */
static int expand_rdata(const uint8_t *msg, size_t msglen, size_t off, uint16_t rdlen,
                        uint16_t type, uint8_t *out, size_t cap)
{
    size_t end = off + rdlen, o = 0, p = off;
    twc_dns_name n;
    int i;

    switch (type) {
    case TWC_DNS_NS:
    case TWC_DNS_CNAME:
    case TWC_DNS_PTR:
        if (twc_dns_name_read(msg, end, &p, &n) < 0 || put_name(out, cap, &o, &n) < 0)
            return TWC_EPROTO;
        break;
    case TWC_DNS_MX:
        if (p + 2 > end || put_bytes(out, cap, &o, msg + p, 2) < 0)
            return TWC_EPROTO;
        p += 2;
        if (twc_dns_name_read(msg, end, &p, &n) < 0 || put_name(out, cap, &o, &n) < 0)
            return TWC_EPROTO;
        break;
    case TWC_DNS_SRV:
        if (p + 6 > end || put_bytes(out, cap, &o, msg + p, 6) < 0)
            return TWC_EPROTO;
        p += 6;
        if (twc_dns_name_read(msg, end, &p, &n) < 0 || put_name(out, cap, &o, &n) < 0)
            return TWC_EPROTO;
        break;
    case TWC_DNS_SOA:
        for (i = 0; i < 2; i++)
            if (twc_dns_name_read(msg, end, &p, &n) < 0 || put_name(out, cap, &o, &n) < 0)
                return TWC_EPROTO;
        if (p + 20 > end || put_bytes(out, cap, &o, msg + p, 20) < 0)
            return TWC_EPROTO;
        p += 20;
        break;
    default:
        return TWC_EPROTO;
    }
    (void)msglen;
    /* Names were read against `end`, so a pointer can reach back into the message
     * but nothing may run past the rdata. */
    if (p != end)
        return TWC_EPROTO;
    return (int)o;
}

/* Check the fixed layouts so later code can trust rdlen (RFC 1035 §3.3, 3596). */
static int rdata_shape_ok(uint16_t type, const uint8_t *rd, size_t len)
{
    size_t i;

    switch (type) {
    case TWC_DNS_A:
        return len == 4;
    case TWC_DNS_AAAA:
        return len == 16;
    case TWC_DNS_TXT:
        /* One or more <character-string>s filling the rdata exactly. */
        if (len == 0)
            return 0;
        for (i = 0; i < len; i += (size_t)rd[i] + 1)
            if (i + 1 + rd[i] > len)
                return 0;
        return 1;
    case TWC_DNS_CAA:
        /* flags, tag length (1..15, RFC 8659 §4.1), tag, value */
        return len >= 2 && rd[1] >= 1 && rd[1] <= 15 && (size_t)2 + rd[1] <= len;
    default:
        return 1;
    }
}

static int parse_opt(twc_dns_edns *e, const uint8_t *rrhdr, const twc_dns_name *owner)
{
    /* RFC 6891 §6.1.2: owner is the root; CLASS carries the payload size, TTL the
     * extended rcode, version and flags. */
    if (owner->len != 1 || e->present)
        return TWC_EPROTO;
    e->present = 1;
    e->udp_size = get16(rrhdr + 2);
    if (e->udp_size < TWC_DNS_UDP_MAX)
        e->udp_size = TWC_DNS_UDP_MAX; /* RFC 6891 §6.2.3 */
    e->ext_rcode = rrhdr[4];
    e->version = rrhdr[5];
    e->flags = get16(rrhdr + 6);
    return 0;
}

int twc_dns_msg_parse(twc_dns_msg *m, const uint8_t *data, size_t len, twc_err *err)
{
    size_t off = TWC_DNS_HEADER_LEN, total, i, k, arena_cap;
    unsigned sect;
    uint16_t want[4];

    memset(m, 0, sizeof(*m));
    if (len < TWC_DNS_HEADER_LEN)
        return twc_err_set(err, TWC_EPROTO, "message shorter than its %d-byte header",
                           TWC_DNS_HEADER_LEN);
    m->id = get16(data);
    m->flags = get16(data + 2);
    for (i = 0; i < 4; i++)
        want[i] = get16(data + 4 + 2 * i);
    total = (size_t)want[1] + want[2] + want[3];
    if (total > TWC_DNS_MAX_RRS || want[0] > TWC_DNS_MAX_RRS)
        return twc_err_set(err, TWC_ETOOBIG, "message claims more than %d records",
                           TWC_DNS_MAX_RRS);
    /* Every record takes at least 11 bytes and every question 5: refuse counts the
     * message cannot hold before allocating for them. */
    if (total * 11 + (size_t)want[0] * 5 > len - TWC_DNS_HEADER_LEN)
        return twc_err_set(err, TWC_EPROTO, "record counts exceed the message length");
    m->qd = want[0] ? calloc(want[0], sizeof(*m->qd)) : NULL;
    m->rr = total ? calloc(total, sizeof(*m->rr)) : NULL;
    /* Expanded rdata is at most the message plus name growth per record; bound it
     * by the largest expansion a record can have (two names in SOA). */
    arena_cap = len + total * 2 * TWC_DNS_NAME_MAX;
    m->arena = malloc(arena_cap ? arena_cap : 1);
    if ((want[0] && m->qd == NULL) || (total && m->rr == NULL) || m->arena == NULL) {
        twc_dns_msg_cleanup(m);
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    }
    for (i = 0; i < want[0]; i++) {
        twc_dns_question *q = &m->qd[i];

        if (twc_dns_name_read(data, len, &off, &q->name) < 0 || off + 4 > len) {
            twc_dns_msg_cleanup(m);
            return twc_err_set(err, TWC_EPROTO, "question %zu is malformed", i + 1);
        }
        q->qtype = get16(data + off);
        q->qclass = get16(data + off + 2);
        off += 4;
        m->count[TWC_DNS_QD]++;
    }
    k = 0;
    for (sect = 1; sect < 4; sect++) {
        for (i = 0; i < want[sect]; i++) {
            twc_dns_rr *rr = &m->rr[k];
            const uint8_t *hdr;
            int n;

            if (twc_dns_name_read(data, len, &off, &rr->name) < 0 || off + 10 > len)
                goto bad;
            hdr = data + off;
            rr->type = get16(hdr);
            rr->rclass = get16(hdr + 2);
            rr->ttl = get32(hdr + 4);
            rr->rdlen = get16(hdr + 8);
            off += 10;
            if (off + rr->rdlen > len)
                goto bad;
            if (rr->type == TWC_DNS_OPT) {
                if (sect != TWC_DNS_AR || parse_opt(&m->edns, hdr, &rr->name) < 0)
                    goto bad;
                off += rr->rdlen;
                continue; /* kept in m->edns, not as a record */
            }
            if (rdata_has_names(rr->type)) {
                n = expand_rdata(data, len, off, rr->rdlen, rr->type, m->arena + m->arena_len,
                                 arena_cap - m->arena_len);
                if (n < 0)
                    goto bad;
                rr->rdata = m->arena + m->arena_len;
                rr->rdlen = (uint16_t)n;
                m->arena_len += (size_t)n;
            } else {
                if (!rdata_shape_ok(rr->type, data + off, rr->rdlen))
                    goto bad;
                memcpy(m->arena + m->arena_len, data + off, rr->rdlen);
                rr->rdata = m->arena + m->arena_len;
                m->arena_len += rr->rdlen;
            }
            off += get16(hdr + 8);
            m->count[sect]++;
            k++;
        }
    }
    /* Trailing bytes after the last record are ignored, as most servers do. */
    return 0;

bad:
    twc_dns_msg_cleanup(m);
    return twc_err_set(err, TWC_EPROTO, "record %zu is malformed", k + 1);
}

void twc_dns_msg_cleanup(twc_dns_msg *m)
{
    free(m->qd);
    free(m->rr);
    free(m->arena);
    m->qd = NULL;
    m->rr = NULL;
    m->arena = NULL;
}

const twc_dns_rr *twc_dns_msg_section(const twc_dns_msg *m, enum twc_dns_section s, size_t *n)
{
    size_t first = 0;
    unsigned i;

    if (s == TWC_DNS_QD) {
        *n = 0;
        return NULL;
    }
    for (i = 1; i < (unsigned)s; i++)
        first += m->count[i];
    *n = m->count[s];
    return m->rr + first;
}

unsigned twc_dns_msg_rcode(const twc_dns_msg *m)
{
    return (unsigned)m->edns.ext_rcode << 4 | (m->flags & TWC_DNS_F_RCODE);
}

/* Skip one record without storing it; for OPT, fill q->edns. */
static int skip_rr(twc_dns_query *q, const uint8_t *data, size_t len, size_t *off, int additional)
{
    twc_dns_name owner;
    uint16_t type, rdlen;

    if (twc_dns_name_read(data, len, off, &owner) < 0 || *off + 10 > len)
        return TWC_EPROTO;
    type = get16(data + *off);
    rdlen = get16(data + *off + 8);
    if (type == TWC_DNS_OPT) {
        if (!additional || parse_opt(&q->edns, data + *off, &owner) < 0)
            return TWC_EPROTO;
    }
    *off += 10;
    if (*off + rdlen > len)
        return TWC_EPROTO;
    *off += rdlen;
    return 0;
}

int twc_dns_query_parse(twc_dns_query *q, const uint8_t *data, size_t len)
{
    size_t off = TWC_DNS_HEADER_LEN;
    unsigned i, an, ns, ar;

    memset(q, 0, sizeof(*q));
    if (len < TWC_DNS_HEADER_LEN)
        return TWC_EOF;
    q->id = get16(data);
    q->flags = get16(data + 2);
    q->qdcount = get16(data + 4);
    q->question_end = TWC_DNS_HEADER_LEN;
    an = get16(data + 6);
    ns = get16(data + 8);
    ar = get16(data + 10);
    if (q->qdcount != 1)
        return TWC_EPROTO; /* RFC 9619: exactly one question */
    if (twc_dns_name_read(data, len, &off, &q->q.name) < 0 || off + 4 > len)
        return TWC_EPROTO;
    q->q.qtype = get16(data + off);
    q->q.qclass = get16(data + off + 2);
    off += 4;
    q->question_end = off;
    if ((size_t)an + ns + ar > TWC_DNS_MAX_RRS)
        return TWC_EPROTO;
    for (i = 0; i < an + ns + ar; i++)
        if (skip_rr(q, data, len, &off, i >= an + ns) < 0)
            return TWC_EPROTO;
    return 0;
}
