/*
 * The answer cache: a chained hash table of whole responses plus an LRU list,
 * and the byte-level rewriting (ID, TTLs, OPT, truncation) that serves a
 * stored or forwarded response to a client.
 *
 * Responses are kept as the wire bytes the upstream server sent, so names
 * stay compressed and nothing is re-encoded; serving one copies it and
 * patches fields in place.
 */
#include "proto/dns/cache.h"

#include <stdlib.h>
#include <string.h>

#include "limits.h"

struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list: head is the most recent */
    twc_dns_name name;         /* lowercased */
    uint16_t qtype, qclass;
    uint8_t variant; /* TWC_DNS_CACHE_DO, TWC_DNS_CACHE_CD */
    uint32_t hash;
    uint64_t stored_ms;
    uint64_t expires_ms;
    size_t len;
    uint8_t *msg;
};

struct twc_dns_cache {
    twc_reactor *r;
    struct twc_dns_cache_limits lim;
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    struct entry *head, *tail;
    size_t count;
    size_t bytes;
};

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- Walking a raw message --------------------------------------------------- */

struct walk {
    size_t qend;      /* offset past the question section */
    size_t end;       /* offset past the last record the counts announce */
    size_t opt_start; /* the OPT record's span, when opt */
    size_t opt_end;
    size_t opt_fixed; /* the OPT record's TYPE field (its owner may be a pointer) */
    int opt;
};

/* Check the layout of msg and find the spans adapt needs. If patch is not
 * NULL (msg itself, writable), lower every TTL (OPT's excepted) by age there. */
static int walk(const uint8_t *msg, size_t len, struct walk *w, uint8_t *patch, uint32_t age)
{
    size_t off = TWC_DNS_HEADER_LEN, nrr;
    twc_dns_name name;

    memset(w, 0, sizeof(*w));
    if (len < TWC_DNS_HEADER_LEN)
        return TWC_EPROTO;
    for (unsigned i = 0; i < get16(msg + 4); i++) {
        if (twc_dns_name_read(msg, len, &off, &name) < 0 || off + 4 > len)
            return TWC_EPROTO;
        off += 4;
    }
    w->qend = off;
    nrr = (size_t)get16(msg + 6) + get16(msg + 8) + get16(msg + 10);
    for (size_t i = 0; i < nrr; i++) {
        size_t start = off;
        uint16_t type;

        if (twc_dns_name_read(msg, len, &off, &name) < 0 || off + 10 > len)
            return TWC_EPROTO;
        type = get16(msg + off);
        if (off + 10 + get16(msg + off + 8) > len)
            return TWC_EPROTO;
        if (type == TWC_DNS_OPT) {
            w->opt = 1;
            w->opt_start = start;
            w->opt_fixed = off;
        } else if (patch != NULL) {
            uint32_t ttl = get32(msg + off + 4);

            /* RFC 2181 §8: a TTL with the top bit set is read as 0. */
            if (ttl & 0x80000000u)
                ttl = 0;
            put32(patch + off + 4, ttl > age ? ttl - age : 0);
        }
        off += 10 + (size_t)get16(msg + off + 8);
        if (type == TWC_DNS_OPT)
            w->opt_end = off;
    }
    w->end = off;
    return 0;
}

/* The OPT record we send (RFC 6891 §6.1.2): root owner, our payload size. */
static void write_opt(uint8_t *p, uint16_t flags)
{
    p[0] = 0;
    put16(p + 1, TWC_DNS_OPT);
    put16(p + 3, TWC_DNS_EDNS_MAX);
    p[5] = 0; /* extended rcode */
    p[6] = 0; /* version */
    put16(p + 7, flags);
    put16(p + 9, 0); /* rdlen */
}

#define OPT_LEN 11

int twc_dns_response_adapt(const uint8_t *msg, size_t len, const twc_dns_query *cq, uint32_t age,
                           size_t limit, uint8_t *out, size_t cap)
{
    struct walk w;
    size_t body, need;
    uint16_t ar, flags;
    int add_opt = 0;
    int rc;

    rc = walk(msg, len, &w, NULL, 0);
    if (rc < 0)
        return rc;
    body = w.end;
    ar = get16(msg + 10);
    if (w.opt && !cq->edns.present && w.opt_end == w.end) {
        body = w.opt_start; /* RFC 6891 §7: no OPT to a client that sent none */
        ar--;
    } else if (!w.opt && cq->edns.present) {
        add_opt = 1;
    }
    need = body + (add_opt ? OPT_LEN : 0);
    if (need > limit || need > cap) {
        /* RFC 2181 §9: too big, send the question with TC and let the client
         * come back over TCP. */
        need = w.qend + (cq->edns.present ? OPT_LEN : 0);
        if (need > cap || need > limit)
            return TWC_ETOOBIG;
        memcpy(out, msg, w.qend);
        memset(out + 6, 0, 6);
        flags = (uint16_t)(get16(out + 2) | TWC_DNS_F_TC);
        put16(out + 2, flags);
        if (cq->edns.present) {
            write_opt(out + w.qend, (uint16_t)(cq->edns.flags & 0x8000));
            put16(out + 10, 1);
        }
    } else {
        memcpy(out, msg, body);
        put16(out + 10, ar);
        if (add_opt) {
            write_opt(out + body, (uint16_t)(cq->edns.flags & 0x8000));
            put16(out + 10, (uint16_t)(ar + 1));
        } else if (w.opt && cq->edns.present) {
            put16(out + w.opt_fixed + 2, TWC_DNS_EDNS_MAX); /* CLASS: our payload size */
        }
        if (age > 0 && walk(out, need, &w, out, age) < 0)
            return TWC_EPROTO;
    }
    put16(out, cq->id);
    flags = get16(out + 2);
    flags = (uint16_t)((flags & ~TWC_DNS_F_RD) | (cq->flags & TWC_DNS_F_RD));
    put16(out + 2, flags);
    return (int)need;
}

/* ---- The table ----------------------------------------------------------------- */

/* The key: lowercased name, type, class, variant. */
struct key {
    twc_dns_name lname;
    uint16_t qtype, qclass;
    uint8_t variant;
};

static void key_init(struct key *k, const twc_dns_question *q, unsigned variant)
{
    k->lname = q->name;
    twc_dns_name_lower(&k->lname);
    k->qtype = q->qtype;
    k->qclass = q->qclass;
    k->variant = (uint8_t)(variant & (TWC_DNS_CACHE_DO | TWC_DNS_CACHE_CD));
}

static uint32_t hash_key(const struct key *k)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (size_t i = 0; i < k->lname.len; i++) {
        h ^= k->lname.wire[i];
        h *= 16777619u;
    }
    h ^= k->qtype;
    h *= 16777619u;
    h ^= k->qclass;
    h *= 16777619u;
    h ^= k->variant;
    h *= 16777619u;
    return h;
}

static struct entry **slot_of(twc_dns_cache *c, const struct entry *e)
{
    struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    return pp;
}

static void lru_unlink(twc_dns_cache *c, struct entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(twc_dns_cache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static void remove_entry(twc_dns_cache *c, struct entry *e)
{
    struct entry **pp = slot_of(c, e);

    *pp = e->hnext;
    lru_unlink(c, e);
    c->count--;
    c->bytes -= e->len;
    free(e->msg);
    free(e);
}

static struct entry *find(twc_dns_cache *c, const struct key *k, uint32_t h)
{
    struct entry *e = c->buckets[h & (c->nbuckets - 1)];

    for (; e != NULL; e = e->hnext)
        if (e->hash == h && e->qtype == k->qtype && e->qclass == k->qclass &&
            e->variant == k->variant && e->name.len == k->lname.len &&
            memcmp(e->name.wire, k->lname.wire, k->lname.len) == 0)
            return e;
    return NULL;
}

twc_dns_cache *twc_dns_cache_new(twc_reactor *r, const struct twc_dns_cache_limits *lim)
{
    twc_dns_cache *c = calloc(1, sizeof(*c));
    size_t n = 16;

    if (c == NULL)
        return NULL;
    c->r = r;
    if (lim != NULL)
        c->lim = *lim;
    if (c->lim.max_entries == 0)
        c->lim.max_entries = TWC_DNS_CACHE_ENTRIES;
    if (c->lim.max_bytes == 0)
        c->lim.max_bytes = TWC_DNS_CACHE_BYTES;
    if (c->lim.max_ttl == 0)
        c->lim.max_ttl = TWC_DNS_CACHE_TTL_MAX;
    if (c->lim.max_neg_ttl == 0)
        c->lim.max_neg_ttl = TWC_DNS_NEG_TTL_MAX;
    /* About one entry per bucket when full; the table never grows. */
    while (n < c->lim.max_entries && n < (1u << 20))
        n <<= 1;
    c->buckets = calloc(n, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    c->nbuckets = n;
    return c;
}

void twc_dns_cache_free(twc_dns_cache *c)
{
    if (c == NULL)
        return;
    while (c->head != NULL)
        remove_entry(c, c->head);
    free(c->buckets);
    free(c);
}

/* How long msg may be cached, in seconds; 0: not at all. */
static uint32_t cache_ttl(const twc_dns_cache *c, const twc_dns_msg *m)
{
    size_t nan, nns,
        nall = (size_t)m->count[TWC_DNS_AN] + m->count[TWC_DNS_NS_SECT] + m->count[TWC_DNS_AR];
    const twc_dns_rr *an = twc_dns_msg_section(m, TWC_DNS_AN, &nan);
    const twc_dns_rr *ns = twc_dns_msg_section(m, TWC_DNS_NS_SECT, &nns);
    unsigned rcode = twc_dns_msg_rcode(m);
    uint32_t ttl = UINT32_MAX;

    (void)an;
    if ((m->flags & TWC_DNS_F_TC) || !(m->flags & TWC_DNS_F_QR) || TWC_DNS_OPCODE(m->flags) != 0 ||
        m->count[TWC_DNS_QD] != 1)
        return 0;
    if (rcode == TWC_DNS_NOERROR && nan > 0) {
        for (size_t i = 0; i < nall; i++)
            if (m->rr[i].ttl < ttl)
                ttl = m->rr[i].ttl;
        if (ttl & 0x80000000u) /* RFC 2181 §8 */
            return 0;
        return ttl < c->lim.max_ttl ? ttl : c->lim.max_ttl;
    }
    if (rcode != TWC_DNS_NXDOMAIN && rcode != TWC_DNS_NOERROR)
        return 0;
    /* RFC 2308 §5: negative answers live for the SOA's TTL, bounded by its
     * MINIMUM field (§4); without an SOA they are not cached. */
    for (size_t i = 0; i < nns; i++) {
        if (ns[i].type != TWC_DNS_SOA || ns[i].rdlen < 20)
            continue;
        ttl = get32(ns[i].rdata + ns[i].rdlen - 4);
        if (ns[i].ttl < ttl)
            ttl = ns[i].ttl;
        if (ttl & 0x80000000u)
            return 0;
        return ttl < c->lim.max_neg_ttl ? ttl : c->lim.max_neg_ttl;
    }
    return 0;
}

unsigned twc_dns_cache_variant(const twc_dns_query *cq)
{
    unsigned v = 0;

    if (cq->edns.present && (cq->edns.flags & 0x8000))
        v |= TWC_DNS_CACHE_DO;
    if (cq->flags & TWC_DNS_F_CD)
        v |= TWC_DNS_CACHE_CD;
    return v;
}

int twc_dns_cache_put(twc_dns_cache *c, unsigned variant, const uint8_t *msg, size_t len)
{
    twc_dns_msg m;
    struct key k;
    struct entry *e;
    uint32_t ttl, h;
    uint64_t now = twc_reactor_now(c->r);

    if (len > c->lim.max_bytes || twc_dns_msg_parse(&m, msg, len, NULL) < 0)
        return 0;
    ttl = cache_ttl(c, &m);
    if (ttl == 0) {
        twc_dns_msg_cleanup(&m);
        return 0;
    }
    key_init(&k, &m.qd[0], variant);
    h = hash_key(&k);
    e = find(c, &k, h);
    if (e != NULL)
        remove_entry(c, e);
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->msg = malloc(len)) == NULL) {
        free(e);
        twc_dns_msg_cleanup(&m);
        return TWC_ENOMEM;
    }
    memcpy(e->msg, msg, len);
    e->len = len;
    e->name = k.lname;
    e->qtype = k.qtype;
    e->qclass = k.qclass;
    e->variant = k.variant;
    e->hash = h;
    e->stored_ms = now;
    e->expires_ms = now + (uint64_t)ttl * 1000;
    twc_dns_msg_cleanup(&m);
    /* Make room: least recently used first. */
    while (c->count > 0 && (c->count + 1 > c->lim.max_entries || c->bytes + len > c->lim.max_bytes))
        remove_entry(c, c->tail);
    e->hnext = c->buckets[h & (c->nbuckets - 1)];
    c->buckets[h & (c->nbuckets - 1)] = e;
    lru_push(c, e);
    c->count++;
    c->bytes += len;
    return 1;
}

int twc_dns_cache_lookup(twc_dns_cache *c, const twc_dns_question *q, unsigned variant,
                         const uint8_t **msg, size_t *len, uint32_t *age)
{
    struct key k;
    struct entry *e;
    uint64_t now = twc_reactor_now(c->r);

    key_init(&k, q, variant);
    e = find(c, &k, hash_key(&k));
    if (e == NULL)
        return 0;
    if (now >= e->expires_ms) {
        remove_entry(c, e);
        return 0;
    }
    lru_unlink(c, e);
    lru_push(c, e);
    *msg = e->msg;
    *len = e->len;
    *age = (uint32_t)((now - e->stored_ms) / 1000);
    return 1;
}

int twc_dns_cache_answer(twc_dns_cache *c, const twc_dns_query *cq, size_t limit, uint8_t *out,
                         size_t cap)
{
    const uint8_t *msg;
    size_t len;
    uint32_t age;

    if (cq->qdcount != 1 ||
        !twc_dns_cache_lookup(c, &cq->q, twc_dns_cache_variant(cq), &msg, &len, &age))
        return 0;
    return twc_dns_response_adapt(msg, len, cq, age, limit, out, cap);
}

size_t twc_dns_cache_count(const twc_dns_cache *c)
{
    return c->count;
}

size_t twc_dns_cache_bytes(const twc_dns_cache *c)
{
    return c->bytes;
}
