/*
 * Authoritative answers (RFC 1034 §4.3.2) over an index built once at load.
 *
 * Every owner name (and every empty non-terminal between an owner and its
 * zone's apex, RFC 4592 §2.2.2) is a node in one open-addressing hash table
 * keyed by the lowercased wire name. A node knows its zone (or the table of
 * hosts/--record entries), the topmost delegation at or above it, and its
 * RRsets, sorted by type. Answering hashes every suffix of the query name in
 * one right-to-left pass, finds the closest existing node with a few probes,
 * and writes records straight from the zone's arena: no allocation per query.
 */
#include "proto/dns/authority.h"

#include <stdlib.h>
#include <string.h>

#define F_APEX 1
#define NONE   (-1)

struct rdref {
    const uint8_t *p; /* into the owning zone's arena */
    uint16_t len;
};

struct rrset {
    uint16_t type;
    uint16_t count;
    uint32_t ttl;
    uint32_t first; /* index in a->rds */
};

struct node {
    uint32_t hash;
    uint32_t name; /* offset of the lowercased wire name in a->names */
    uint8_t namelen;
    uint8_t labels;
    uint8_t flags;
    uint16_t nsets;
    uint32_t sets; /* index of the first RRset in a->sets */
    int32_t zone;  /* index in a->zones, NONE for the table */
    int32_t cut;   /* topmost delegation node at or above this one in its zone, or NONE */
};

struct zinfo {
    twc_dns_zone *z;
    twc_dns_name apex; /* as written in the zone */
    int32_t apex_node;
    size_t soa_index; /* in z's record list */
    twc_dns_rr soa;   /* rdata borrowed from z */
    uint32_t neg_ttl; /* RFC 2308 §3: min(SOA TTL, SOA MINIMUM) */
};

/* A record on its way into the index. */
struct item {
    uint32_t node;
    uint16_t type;
    uint16_t rdlen;
    uint32_t ttl;
    const uint8_t *rd;
};

struct twc_dns_auth {
    struct zinfo *zones;
    size_t nzones;
    twc_dns_zone **tables;
    size_t ntables;
    int finished; /* twc_dns_auth_finish was called */
    int ready;    /* ... and succeeded */
    struct node *nodes;
    size_t nnodes, capnodes;
    uint32_t *slots; /* node index + 1; 0 is empty */
    size_t nslots;   /* a power of two */
    uint8_t *names;
    size_t nameslen, namescap;
    struct rrset *sets;
    size_t nsets;
    struct rdref *rds;
    size_t nrds;
};

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* ---- Hashing suffixes -------------------------------------------------------------- */

#define HASH_SEED 2166136261u

/* FNV-1a over one label (length byte, lowercased bytes), continuing from h. */
static uint32_t hash_label(uint32_t h, const uint8_t *label)
{
    size_t i, n = (size_t)label[0] + 1;

    for (i = 0; i < n; i++) {
        h ^= lower(label[i]);
        h *= 16777619u;
    }
    return h;
}

/* The labels of n: off[k] is where the suffix of k labels removed starts
 * (off[0] == 0, off[labels] is the root label), h[k] that suffix's hash.
 * Hashing from the root leftwards gives every suffix in one pass. Returns the
 * label count. */
struct suffixes {
    unsigned labels;
    uint8_t off[TWC_DNS_NAME_MAX / 2 + 1];
    uint32_t h[TWC_DNS_NAME_MAX / 2 + 1];
};

static int split(const twc_dns_name *n, struct suffixes *s)
{
    size_t i = 0;
    unsigned k = 0, j;

    while (i < n->len && n->wire[i] != 0) {
        if (k >= TWC_DNS_NAME_MAX / 2 || n->wire[i] > TWC_DNS_LABEL_MAX)
            return TWC_EINVAL;
        s->off[k++] = (uint8_t)i;
        i += (size_t)n->wire[i] + 1;
    }
    if (i + 1 != n->len)
        return TWC_EINVAL;
    s->labels = k;
    s->off[k] = (uint8_t)i;
    s->h[k] = HASH_SEED;
    for (j = k; j-- > 0;)
        s->h[j] = hash_label(s->h[j + 1], n->wire + s->off[j]);
    return 0;
}

static int32_t lookup(const twc_dns_auth *a, uint32_t h, const uint8_t *name, size_t len)
{
    size_t mask = a->nslots - 1, i;

    if (a->nslots == 0)
        return NONE;
    for (i = h & mask;; i = (i + 1) & mask) {
        uint32_t s = a->slots[i];
        const struct node *nd;
        size_t k;

        if (s == 0)
            return NONE;
        nd = &a->nodes[s - 1];
        if (nd->hash != h || nd->namelen != len)
            continue;
        for (k = 0; k < len; k++)
            if (lower(name[k]) != a->names[nd->name + k])
                break;
        if (k == len)
            return (int32_t)(s - 1);
    }
}

/* The node for suffix k of n (described by s). */
static int32_t lookup_suffix(const twc_dns_auth *a, const twc_dns_name *n, const struct suffixes *s,
                             unsigned k)
{
    return lookup(a, s->h[k], n->wire + s->off[k], (size_t)n->len - s->off[k]);
}

/* ---- Building ------------------------------------------------------------------------ */

twc_dns_auth *twc_dns_auth_new(void)
{
    return calloc(1, sizeof(twc_dns_auth));
}

void twc_dns_auth_free(twc_dns_auth *a)
{
    size_t i;

    if (a == NULL)
        return;
    for (i = 0; i < a->nzones; i++)
        twc_dns_zone_free(a->zones[i].z);
    for (i = 0; i < a->ntables; i++)
        twc_dns_zone_free(a->tables[i]);
    free(a->zones);
    free(a->tables);
    free(a->nodes);
    free(a->slots);
    free(a->names);
    free(a->sets);
    free(a->rds);
    free(a);
}

int twc_dns_auth_add_zone(twc_dns_auth *a, twc_dns_zone *z, twc_err *err)
{
    struct zinfo *grown;
    size_t i;
    int rc;

    if (a->finished) {
        twc_dns_zone_free(z);
        return twc_err_set(err, TWC_EINVAL, "authority already finished");
    }
    if ((rc = twc_dns_zone_check(z, err)) < 0) {
        twc_dns_zone_free(z);
        return rc;
    }
    for (i = 0; i < a->nzones; i++) {
        if (twc_dns_name_equal(&a->zones[i].apex, twc_dns_zone_origin(z))) {
            char text[TWC_DNS_NAME_TEXT_MAX];

            twc_dns_name_format(&a->zones[i].apex, text, sizeof(text));
            twc_dns_zone_free(z);
            return twc_err_set(err, TWC_EINVAL, "zone %s is loaded twice", text);
        }
    }
    grown = realloc(a->zones, (a->nzones + 1) * sizeof(*grown));
    if (grown == NULL) {
        twc_dns_zone_free(z);
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    }
    a->zones = grown;
    memset(&a->zones[a->nzones], 0, sizeof(a->zones[0]));
    a->zones[a->nzones].z = z;
    a->zones[a->nzones].apex = *twc_dns_zone_origin(z);
    a->zones[a->nzones].apex_node = NONE;
    for (i = 0; i < twc_dns_zone_count(z); i++) {
        twc_dns_rr rr;

        twc_dns_zone_get(z, i, &rr);
        if (rr.type == TWC_DNS_SOA) {
            a->zones[a->nzones].soa_index = i;
            a->zones[a->nzones].soa = rr;
            break;
        }
    }
    a->nzones++;
    return 0;
}

int twc_dns_auth_add_records(twc_dns_auth *a, twc_dns_zone *z, twc_err *err)
{
    twc_dns_zone **grown;

    if (a->finished) {
        twc_dns_zone_free(z);
        return twc_err_set(err, TWC_EINVAL, "authority already finished");
    }
    grown = realloc(a->tables, (a->ntables + 1) * sizeof(*grown));
    if (grown == NULL) {
        twc_dns_zone_free(z);
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    }
    a->tables = grown;
    a->tables[a->ntables++] = z;
    return 0;
}

size_t twc_dns_auth_zone_count(const twc_dns_auth *a)
{
    return a->nzones;
}

size_t twc_dns_auth_record_count(const twc_dns_auth *a)
{
    size_t i, n = 0;

    for (i = 0; i < a->ntables; i++)
        n += twc_dns_zone_count(a->tables[i]);
    return n;
}

static int grow_slots(twc_dns_auth *a)
{
    size_t n = a->nslots ? a->nslots * 2 : 1024, i;
    uint32_t *slots = calloc(n, sizeof(*slots));

    if (slots == NULL)
        return TWC_ENOMEM;
    for (i = 0; i < a->nnodes; i++) {
        size_t j = a->nodes[i].hash & (n - 1);

        while (slots[j] != 0)
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(a->slots);
    a->slots = slots;
    a->nslots = n;
    return 0;
}

/* The node for suffix k of n, created (in zone) when missing. */
static int find_or_add(twc_dns_auth *a, const twc_dns_name *n, const struct suffixes *s, unsigned k,
                       int32_t zone, int32_t *out)
{
    const uint8_t *name = n->wire + s->off[k];
    size_t len = (size_t)n->len - s->off[k], i, j;
    struct node *nd;
    int32_t found = lookup_suffix(a, n, s, k);

    if (found != NONE) {
        *out = found;
        return 0;
    }
    if (a->nnodes >= 0x7fffffff)
        return TWC_ETOOBIG;
    /* Keep the load factor at most 1/2 so that probes stay short. */
    if ((a->nnodes + 1) * 2 > a->nslots && grow_slots(a) < 0)
        return TWC_ENOMEM;
    if (a->nnodes == a->capnodes) {
        size_t cap = a->capnodes ? a->capnodes * 2 : 256;
        struct node *grown = realloc(a->nodes, cap * sizeof(*grown));

        if (grown == NULL)
            return TWC_ENOMEM;
        a->nodes = grown;
        a->capnodes = cap;
    }
    if (a->nameslen + len > a->namescap) {
        size_t cap = a->namescap ? a->namescap : 4096;
        uint8_t *grown;

        while (cap < a->nameslen + len)
            cap *= 2;
        if (cap > UINT32_MAX)
            return TWC_ETOOBIG;
        grown = realloc(a->names, cap);
        if (grown == NULL)
            return TWC_ENOMEM;
        a->names = grown;
        a->namescap = cap;
    }
    for (i = 0; i < len; i++)
        a->names[a->nameslen + i] = lower(name[i]);
    nd = &a->nodes[a->nnodes];
    memset(nd, 0, sizeof(*nd));
    nd->hash = s->h[k];
    nd->name = (uint32_t)a->nameslen;
    nd->namelen = (uint8_t)len;
    nd->labels = (uint8_t)(s->labels - k);
    nd->zone = zone;
    nd->cut = NONE;
    a->nameslen += len;
    j = nd->hash & (a->nslots - 1);
    while (a->slots[j] != 0)
        j = (j + 1) & (a->nslots - 1);
    a->slots[j] = (uint32_t)++a->nnodes;
    *out = (int32_t)(a->nnodes - 1);
    return 0;
}

/* The deepest served zone containing the name (s describes it), or NONE. */
static int32_t zone_of(const twc_dns_auth *a, const twc_dns_name *n, const struct suffixes *s)
{
    unsigned k;

    for (k = 0; k <= s->labels; k++) {
        int32_t id = lookup_suffix(a, n, s, k);

        if (id != NONE && (a->nodes[id].flags & F_APEX))
            return a->nodes[id].zone;
    }
    return NONE;
}

/* Index one record: its node, and empty non-terminals up to the zone apex
 * (or, for the table, up to the root). owner_zone is where the record was
 * added (NONE: the table). Records of a zone that fall in a child zone we also
 * serve are left out (RFC 1034 §4.3.2 step 2 answers from the child). */
static int index_record(twc_dns_auth *a, const twc_dns_rr *rr, int32_t owner_zone,
                        struct item *items, size_t *nitems)
{
    struct suffixes s;
    int32_t zone, id;
    unsigned k, top;
    int rc;

    if (split(&rr->name, &s) < 0)
        return 0; /* cannot happen: names come from the parser or the codec */
    zone = zone_of(a, &rr->name, &s);
    if (owner_zone != NONE && zone != owner_zone)
        return 0;
    /* Ancestors first (the apex exists already; the table stops below the
     * root), then the owner itself. */
    top = zone == NONE ? s.labels : s.labels - a->nodes[a->zones[zone].apex_node].labels;
    for (k = top; k-- > 1;)
        if ((rc = find_or_add(a, &rr->name, &s, k, zone, &id)) < 0)
            return rc;
    if ((rc = find_or_add(a, &rr->name, &s, 0, zone, &id)) < 0)
        return rc;
    items[*nitems].node = (uint32_t)id;
    items[*nitems].type = rr->type;
    items[*nitems].rdlen = rr->rdlen;
    items[*nitems].ttl = rr->ttl;
    items[*nitems].rd = rr->rdata;
    (*nitems)++;
    return 0;
}

static int cmp_items(const void *pa, const void *pb)
{
    const struct item *x = pa, *y = pb;
    size_t n;
    int c;

    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    n = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
    c = n ? memcmp(x->rd, y->rd, n) : 0;
    if (c != 0)
        return c;
    return (int)x->rdlen - (int)y->rdlen;
}

static int32_t find_set(const twc_dns_auth *a, const struct node *nd, uint16_t type)
{
    uint32_t i;

    for (i = 0; i < nd->nsets; i++)
        if (a->sets[nd->sets + i].type == type)
            return (int32_t)(nd->sets + i);
    return NONE;
}

/* Each zone node's topmost delegation (RFC 1034 §4.2.1: NS below the apex). */
static void mark_cuts(twc_dns_auth *a)
{
    size_t i;

    for (i = 0; i < a->nnodes; i++) {
        struct node *nd = &a->nodes[i];
        twc_dns_name n;
        struct suffixes s;
        unsigned k, apex_labels;

        if (nd->zone == NONE || (nd->flags & F_APEX))
            continue;
        n.len = nd->namelen;
        memcpy(n.wire, a->names + nd->name, nd->namelen);
        if (split(&n, &s) < 0)
            continue;
        apex_labels = twc_dns_name_labels(&a->zones[nd->zone].apex);
        /* From just below the apex down to the node itself. */
        for (k = s.labels - apex_labels; k-- > 0;) {
            int32_t id = lookup_suffix(a, &n, &s, k);

            if (id != NONE && find_set(a, &a->nodes[id], TWC_DNS_NS) != NONE) {
                nd->cut = id;
                break;
            }
        }
    }
}

int twc_dns_auth_finish(twc_dns_auth *a, twc_err *err)
{
    struct item *items = NULL;
    size_t total = 0, nitems = 0, i, j;
    twc_dns_rr rr;
    int rc = 0;

    if (a->finished)
        return twc_err_set(err, TWC_EINVAL, "authority already finished");
    a->finished = 1;
    for (i = 0; i < a->nzones; i++)
        total += twc_dns_zone_count(a->zones[i].z);
    total += twc_dns_auth_record_count(a);
    items = malloc((total ? total : 1) * sizeof(*items));
    if (items == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    /* Apexes first, so that each record can find its deepest zone. */
    for (i = 0; i < a->nzones && rc == 0; i++) {
        struct suffixes s;
        int32_t id;

        split(&a->zones[i].apex, &s);
        rc = find_or_add(a, &a->zones[i].apex, &s, 0, (int32_t)i, &id);
        if (rc == 0) {
            a->nodes[id].flags |= F_APEX;
            a->zones[i].apex_node = id;
        }
    }
    for (i = 0; i < a->nzones && rc == 0; i++)
        for (j = 0; j < twc_dns_zone_count(a->zones[i].z) && rc == 0; j++) {
            twc_dns_zone_get(a->zones[i].z, j, &rr);
            rc = index_record(a, &rr, (int32_t)i, items, &nitems);
        }
    for (i = 0; i < a->ntables && rc == 0; i++)
        for (j = 0; j < twc_dns_zone_count(a->tables[i]) && rc == 0; j++) {
            twc_dns_zone_get(a->tables[i], j, &rr);
            rc = index_record(a, &rr, NONE, items, &nitems);
        }
    if (rc < 0)
        goto fail;
    /* Group into RRsets: sorted by node, type and rdata, duplicates dropped
     * (RFC 2181 §5), one TTL per RRset (the lowest, RFC 2181 §5.2). */
    qsort(items, nitems, sizeof(*items), cmp_items);
    a->rds = malloc((nitems ? nitems : 1) * sizeof(*a->rds));
    a->sets = malloc((nitems ? nitems : 1) * sizeof(*a->sets));
    if (a->rds == NULL || a->sets == NULL) {
        rc = TWC_ENOMEM;
        goto fail;
    }
    for (i = 0; i < nitems; i++) {
        struct node *nd = &a->nodes[items[i].node];
        struct rrset *set;

        if (i > 0 && cmp_items(&items[i - 1], &items[i]) == 0) {
            if (a->nsets > 0 && items[i].ttl < a->sets[a->nsets - 1].ttl)
                a->sets[a->nsets - 1].ttl = items[i].ttl;
            continue;
        }
        if (i == 0 || items[i - 1].node != items[i].node || items[i - 1].type != items[i].type) {
            if (nd->nsets == 0)
                nd->sets = (uint32_t)a->nsets;
            if (nd->nsets == UINT16_MAX)
                continue; /* 65535 types at one name: cannot happen from text */
            nd->nsets++;
            set = &a->sets[a->nsets++];
            set->type = items[i].type;
            set->count = 0;
            set->ttl = items[i].ttl;
            set->first = (uint32_t)a->nrds;
        }
        set = &a->sets[a->nsets - 1];
        if (set->type != items[i].type || set->count == UINT16_MAX)
            continue;
        if (items[i].ttl < set->ttl)
            set->ttl = items[i].ttl;
        a->rds[a->nrds].p = items[i].rd;
        a->rds[a->nrds].len = items[i].rdlen;
        a->nrds++;
        set->count++;
    }
    mark_cuts(a);
    a->ready = 1;
    for (i = 0; i < a->nzones; i++) {
        struct zinfo *zi = &a->zones[i];
        const uint8_t *m = zi->soa.rdata + zi->soa.rdlen - 4;
        uint32_t minimum = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];

        zi->neg_ttl = minimum < zi->soa.ttl ? minimum : zi->soa.ttl;
    }
    free(items);
    return 0;
fail:
    free(items);
    return twc_err_set(err, rc, rc == TWC_ENOMEM ? "out of memory" : "too many names");
}

/* ---- Answering ----------------------------------------------------------------------- */

size_t twc_dns_response_limit(const twc_dns_query *q, int tcp)
{
    if (tcp)
        return TWC_DNS_TCP_MAX;
    if (q->edns.present) {
        size_t n = q->edns.udp_size;

        if (n < TWC_DNS_UDP_MAX)
            n = TWC_DNS_UDP_MAX;
        return n > TWC_DNS_EDNS_MAX ? TWC_DNS_EDNS_MAX : n;
    }
    return TWC_DNS_UDP_MAX;
}

static uint16_t base_flags(const twc_dns_query *q)
{
    return (uint16_t)(TWC_DNS_F_QR | (q->flags & (TWC_DNS_F_OPCODE | TWC_DNS_F_RD | TWC_DNS_F_CD)));
}

static int question_parsed(const twc_dns_query *q)
{
    return q->qdcount == 1 && q->question_end > TWC_DNS_HEADER_LEN;
}

static void set_flags(twc_dns_writer *w, uint16_t flags)
{
    w->buf[2] = (uint8_t)(flags >> 8);
    w->buf[3] = (uint8_t)flags;
}

void twc_dns_reply_rcode(const twc_dns_query *q, unsigned rcode, twc_dns_writer *w)
{
    twc_dns_writer_init(w, w->buf, w->cap, w->limit);
    if (twc_dns_write_header(w, q->id, (uint16_t)(base_flags(q) | (rcode & 0xf))) < 0)
        return;
    if (question_parsed(q))
        twc_dns_write_question(w, &q->q.name, q->q.qtype, q->q.qclass);
    if (q->edns.present)
        twc_dns_write_opt(w, TWC_DNS_EDNS_MAX, (uint8_t)(rcode >> 4),
                          (uint16_t)(q->edns.flags & 0x8000));
    twc_dns_writer_finish(w);
}

/* A name inside stored rdata at rd[off]. Returns 0 or TWC_EPROTO. */
static int rdata_name(const uint8_t *rd, size_t len, size_t off, twc_dns_name *n)
{
    size_t o = off;

    while (o < len && rd[o] != 0) {
        if (rd[o] > TWC_DNS_LABEL_MAX)
            return TWC_EPROTO;
        o += (size_t)rd[o] + 1;
    }
    if (o >= len || o + 1 - off > TWC_DNS_NAME_MAX)
        return TWC_EPROTO;
    n->len = (uint8_t)(o + 1 - off);
    memcpy(n->wire, rd + off, n->len);
    return 0;
}

/* One answer in progress. */
struct answer {
    const twc_dns_auth *a;
    twc_dns_writer *w;
    twc_dns_name cur;  /* the name being resolved: the query's, then CNAME targets */
    struct suffixes s; /* cur's labels and suffix hashes */
    int32_t zone;      /* where the answer started (NONE: the table) */
    int aa, negative;
    unsigned rcode;
    twc_dns_rr rr; /* scratch record: owner set once per RRset */
    /* Targets for the additional section (rdata they point into lives in a). */
    struct rdref targets[TWC_DNS_ADDITIONAL_MAX];
    size_t ntargets;
};

static void note_target(struct answer *an, uint16_t type, const struct rdref *rd)
{
    size_t off = type == TWC_DNS_NS ? 0 : type == TWC_DNS_MX ? 2 : 6;

    if (rd->len <= off || an->ntargets == TWC_DNS_ADDITIONAL_MAX)
        return;
    an->targets[an->ntargets].p = rd->p + off;
    an->targets[an->ntargets].len = (uint16_t)(rd->len - off);
    an->ntargets++;
}

/* Write an RRset under owner into section s; remember NS/MX/SRV targets. */
static void write_set(struct answer *an, enum twc_dns_section s, const twc_dns_name *owner,
                      const struct rrset *set, uint32_t ttl)
{
    uint32_t i;

    an->rr.name.len = owner->len;
    memcpy(an->rr.name.wire, owner->wire, owner->len);
    an->rr.type = set->type;
    an->rr.rclass = TWC_DNS_CLASS_IN;
    an->rr.ttl = ttl;
    for (i = 0; i < set->count; i++) {
        const struct rdref *rd = &an->a->rds[set->first + i];

        an->rr.rdata = rd->p;
        an->rr.rdlen = rd->len;
        if (twc_dns_write_rr(an->w, s, &an->rr) == TWC_ETOOBIG)
            return; /* no room for the rest either (TC set unless additional) */
        if (s != TWC_DNS_AR &&
            (set->type == TWC_DNS_NS || set->type == TWC_DNS_MX || set->type == TWC_DNS_SRV))
            note_target(an, set->type, rd);
    }
}

static void write_soa(struct answer *an, int32_t zone)
{
    const struct zinfo *zi = &an->a->zones[zone];

    an->rr.name = zi->apex;
    an->rr.type = TWC_DNS_SOA;
    an->rr.rclass = TWC_DNS_CLASS_IN;
    an->rr.ttl = zi->neg_ttl;
    an->rr.rdata = zi->soa.rdata;
    an->rr.rdlen = zi->soa.rdlen;
    twc_dns_write_rr(an->w, TWC_DNS_NS_SECT, &an->rr);
}

/* A and AAAA of each noted target that we hold (glue included). */
static void write_additional(struct answer *an)
{
    static const uint16_t types[] = {TWC_DNS_A, TWC_DNS_AAAA};
    size_t i, t;

    for (i = 0; i < an->ntargets; i++) {
        const struct rdref *tg = &an->targets[i];
        twc_dns_name n;
        struct suffixes s;
        int32_t id;

        if (rdata_name(tg->p, tg->len, 0, &n) < 0 || split(&n, &s) < 0)
            continue;
        id = lookup_suffix(an->a, &n, &s, 0);
        if (id == NONE)
            continue;
        for (t = 0; t < 2; t++) {
            int32_t set = find_set(an->a, &an->a->nodes[id], types[t]);

            if (set != NONE)
                write_set(an, TWC_DNS_AR, &n, &an->a->sets[set], an->a->sets[set].ttl);
        }
    }
}

/* The closest existing node to name: *exact says whether it is name itself;
 * *depth is how many labels were removed. NONE when nothing encloses name. */
static int32_t closest(const twc_dns_auth *a, const twc_dns_name *name, struct suffixes *s,
                       int *exact, unsigned *depth)
{
    unsigned k;

    if (split(name, s) < 0)
        return NONE;
    for (k = 0; k <= s->labels; k++) {
        int32_t id = lookup_suffix(a, name, s, k);

        if (id != NONE) {
            *exact = k == 0;
            *depth = k;
            return id;
        }
    }
    return NONE;
}

/* The wildcard "*.<suffix k of name>", or NONE. */
static int32_t wildcard(const twc_dns_auth *a, const twc_dns_name *name, const struct suffixes *s,
                        unsigned k)
{
    static const uint8_t star[] = {1, '*'};
    uint8_t wire[TWC_DNS_NAME_MAX + 2];
    size_t len = (size_t)name->len - s->off[k];

    if (len + 2 > TWC_DNS_NAME_MAX)
        return NONE;
    memcpy(wire, star, 2);
    memcpy(wire + 2, name->wire + s->off[k], len);
    return lookup(a, hash_label(s->h[k], star), wire, len + 2);
}

/* Suffix k of name into out. */
static void suffix(const twc_dns_name *name, const struct suffixes *s, unsigned k,
                   twc_dns_name *out)
{
    out->len = (uint8_t)(name->len - s->off[k]);
    memcpy(out->wire, name->wire + s->off[k], out->len);
}

/* Queries answered without looking at the data. Returns 1 when w holds the
 * reply (or DROP is due: *res says which). */
static int answer_early(const twc_dns_query *q, int parse_rc, twc_dns_writer *w,
                        enum twc_dns_auth_result *res)
{
    unsigned rcode;

    *res = TWC_DNS_AUTH_ANSWERED;
    if (parse_rc == TWC_EOF) {
        *res = TWC_DNS_AUTH_DROP;
        return 1;
    }
    if (parse_rc < 0 || !question_parsed(q))
        rcode = TWC_DNS_FORMERR; /* RFC 1035 §4.1.1 */
    else if (TWC_DNS_OPCODE(q->flags) != 0)
        rcode = TWC_DNS_NOTIMP;
    else if (q->edns.present && q->edns.version > 0)
        rcode = TWC_DNS_BADVERS; /* RFC 6891 §6.1.3 */
    else if (q->q.qclass != TWC_DNS_CLASS_IN)
        rcode = TWC_DNS_REFUSED;
    else if (q->q.qtype == TWC_DNS_AXFR || q->q.qtype == TWC_DNS_IXFR)
        rcode = TWC_DNS_NOTIMP; /* transfers go over TCP through twc_dns_auth_axfr_start */
    else
        return 0;
    twc_dns_reply_rcode(q, rcode, w);
    return 1;
}

/* RFC 1034 §4.3.2 step 3 from node id, the closest node to an->cur, then on
 * through CNAMEs inside the zone: writes the answer section (or the referral's
 * authority section) and sets aa, rcode and negative. */
static void resolve(struct answer *an, uint16_t qtype, int32_t id, int exact, unsigned depth)
{
    const twc_dns_auth *a = an->a;
    unsigned hops;

    for (hops = 0;; hops++) {
        const struct node *nd;
        int32_t data, set;

        if (hops > 0) {
            id = closest(a, &an->cur, &an->s, &exact, &depth);
            /* Follow only inside the zone (or table) the chain started in. */
            if (id == NONE || a->nodes[id].zone != an->zone)
                return;
        }
        nd = &a->nodes[id];
        if (nd->cut != NONE) {
            /* At or below a delegation (step 3b): a referral, unless we came
             * here through a CNAME, which then ends the answer. */
            if (hops == 0) {
                const struct node *cut = &a->nodes[nd->cut];
                twc_dns_name owner;

                /* The cut is the suffix of the query name with its label
                 * count: written from the query, it compresses to a pointer. */
                suffix(&an->cur, &an->s, an->s.labels - cut->labels, &owner);
                an->aa = 0;
                set = find_set(a, cut, TWC_DNS_NS);
                write_set(an, TWC_DNS_NS_SECT, &owner, &a->sets[set], a->sets[set].ttl);
            }
            return;
        }
        data = exact ? id : wildcard(a, &an->cur, &an->s, depth);
        if (data == NONE) {
            /* Step 3c; RFC 6604 §3: the rcode is that of the chain's end. The
             * table has no NXDOMAIN of its own after a CNAME. */
            if (an->zone != NONE)
                an->rcode = TWC_DNS_NXDOMAIN;
            an->negative = 1;
            return;
        }
        nd = &a->nodes[data];
        if (nd->nsets == 0) {
            an->negative = 1; /* an empty non-terminal or an empty wildcard: NODATA */
            return;
        }
        if (qtype == TWC_DNS_ANY) {
            /* RFC 8482 §4.2: one RRset instead of all of them. */
            write_set(an, TWC_DNS_AN, &an->cur, &a->sets[nd->sets], a->sets[nd->sets].ttl);
            return;
        }
        set = find_set(a, nd, qtype);
        if (set != NONE) {
            write_set(an, TWC_DNS_AN, &an->cur, &a->sets[set], a->sets[set].ttl);
            return;
        }
        set = find_set(a, nd, TWC_DNS_CNAME);
        if (set == NONE) {
            an->negative = 1; /* NODATA */
            return;
        }
        if (hops == TWC_DNS_CNAME_HOPS)
            return; /* a long chain (or a loop): the client follows the rest */
        write_set(an, TWC_DNS_AN, &an->cur, &a->sets[set], a->sets[set].ttl);
        if (rdata_name(a->rds[a->sets[set].first].p, a->rds[a->sets[set].first].len, 0, &an->cur) <
            0)
            return;
    }
}

enum twc_dns_auth_result twc_dns_auth_answer(const twc_dns_auth *a, const twc_dns_query *q,
                                             int parse_rc, twc_dns_writer *w)
{
    struct answer an;
    enum twc_dns_auth_result res;
    size_t limit = w->limit;
    uint16_t flags = base_flags(q);
    unsigned depth;
    int32_t id;
    int exact;

    if (answer_early(q, parse_rc, w, &res))
        return res;
    if (!a->ready)
        return TWC_DNS_AUTH_NOT_AUTHORITATIVE;
    id = closest(a, &q->q.name, &an.s, &exact, &depth);
    if (id == NONE)
        return TWC_DNS_AUTH_NOT_AUTHORITATIVE;
    an.zone = a->nodes[id].zone;
    if (an.zone == NONE) {
        /* The table knows a name only when it, or a wildcard covering it, has
         * records: anything else is for the server to decide. */
        int32_t data = exact ? id : wildcard(a, &q->q.name, &an.s, depth);

        if (data == NONE || a->nodes[data].nsets == 0)
            return TWC_DNS_AUTH_NOT_AUTHORITATIVE;
    }

    an.a = a;
    an.w = w;
    an.ntargets = 0;
    an.aa = 1;
    an.negative = 0;
    an.rcode = TWC_DNS_NOERROR;
    an.cur = q->q.name;
    if (twc_dns_write_header(w, q->id, flags) < 0 ||
        twc_dns_write_question(w, &q->q.name, q->q.qtype, q->q.qclass) < 0) {
        twc_dns_reply_rcode(q, TWC_DNS_SERVFAIL, w); /* a limit below 512: a caller bug */
        return TWC_DNS_AUTH_ANSWERED;
    }
    /* Keep room for the OPT record at the end (RFC 6891 §7: the OPT is never
     * what gets dropped for space). */
    if (q->edns.present && w->limit >= w->len + 11)
        w->limit -= 11;
    resolve(&an, q->q.qtype, id, exact, depth);
    /* RFC 2308 §3: NXDOMAIN and NODATA carry the zone's SOA (the table has none). */
    if (an.negative && an.zone != NONE)
        write_soa(&an, an.zone);
    write_additional(&an);
    w->limit = limit;
    if (q->edns.present)
        twc_dns_write_opt(w, TWC_DNS_EDNS_MAX, 0, (uint16_t)(q->edns.flags & 0x8000));
    set_flags(w, (uint16_t)(flags | (an.aa ? TWC_DNS_F_AA : 0) | an.rcode));
    twc_dns_writer_finish(w);
    return TWC_DNS_AUTH_ANSWERED;
}

/* ---- AXFR ------------------------------------------------------------------------------ */

int twc_dns_auth_axfr_start(const twc_dns_auth *a, const twc_dns_name *zone, twc_dns_axfr *it)
{
    size_t i;

    for (i = 0; i < a->nzones; i++) {
        if (twc_dns_name_equal(&a->zones[i].apex, zone)) {
            it->z = a->zones[i].z;
            it->soa = a->zones[i].soa_index;
            it->next = 0;
            return 0;
        }
    }
    return TWC_EDNS_NOTFOUND;
}

int twc_dns_axfr_next(twc_dns_axfr *it, twc_dns_rr *rr)
{
    size_t count = twc_dns_zone_count(it->z);

    for (;;) {
        size_t i;

        if (it->next == 0 || it->next == count + 1) {
            twc_dns_zone_get(it->z, it->soa, rr);
            it->next++;
            return 1;
        }
        if (it->next > count + 1)
            return 0;
        i = it->next++ - 1;
        if (i == it->soa)
            continue; /* the SOA goes only first and last */
        twc_dns_zone_get(it->z, i, rr);
        return 1;
    }
}
