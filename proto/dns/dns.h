/*
 * DNS message codec (RFC 1035, 2181, 3596, 6891, 3597): names, parsing with
 * bounds-checked, loop-safe decompression, and a writer that compresses.
 *
 * Pure: no sockets, no reactor, no logging. Every length and count is bounded
 * (lib/limits.h). Names are kept in uncompressed wire form (length-prefixed
 * labels ending with the root label), case preserved; comparisons ignore ASCII
 * case (RFC 4343).
 *
 * Rdata is kept in uncompressed wire form: names inside the rdata of the types
 * RFC 3597 §4 allows to be compressed (NS, CNAME, SOA, PTR, MX) and of SRV
 * (RFC 2782, which some senders compress anyway) are expanded when parsed, and
 * the writer compresses them again only for the RFC 1035 types.
 */
#ifndef TWC_PROTO_DNS_DNS_H
#define TWC_PROTO_DNS_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

#define TWC_DNS_NAME_MAX 255  /* RFC 1035 §2.3.4: a name in wire form */
#define TWC_DNS_LABEL_MAX 63  /* RFC 1035 §2.3.4 */
#define TWC_DNS_HEADER_LEN 12
#define TWC_DNS_NAME_TEXT_MAX 1024 /* presentation form, escapes included */

enum twc_dns_type {
    TWC_DNS_A = 1,
    TWC_DNS_NS = 2,
    TWC_DNS_CNAME = 5,
    TWC_DNS_SOA = 6,
    TWC_DNS_PTR = 12,
    TWC_DNS_HINFO = 13,
    TWC_DNS_MX = 15,
    TWC_DNS_TXT = 16,
    TWC_DNS_AAAA = 28,
    TWC_DNS_SRV = 33,
    TWC_DNS_OPT = 41,
    TWC_DNS_IXFR = 251,
    TWC_DNS_AXFR = 252,
    TWC_DNS_ANY = 255,
    TWC_DNS_CAA = 257,
};

enum { TWC_DNS_CLASS_IN = 1, TWC_DNS_CLASS_CH = 3, TWC_DNS_CLASS_ANY = 255 };

enum twc_dns_rcode {
    TWC_DNS_NOERROR = 0,
    TWC_DNS_FORMERR = 1,
    TWC_DNS_SERVFAIL = 2,
    TWC_DNS_NXDOMAIN = 3,
    TWC_DNS_NOTIMP = 4,
    TWC_DNS_REFUSED = 5,
    TWC_DNS_BADVERS = 16, /* RFC 6891 §6.1.3: extended rcode */
};

/* Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD). */
enum {
    TWC_DNS_F_QR = 0x8000,
    TWC_DNS_F_OPCODE = 0x7800,
    TWC_DNS_F_AA = 0x0400,
    TWC_DNS_F_TC = 0x0200,
    TWC_DNS_F_RD = 0x0100,
    TWC_DNS_F_RA = 0x0080,
    TWC_DNS_F_AD = 0x0020,
    TWC_DNS_F_CD = 0x0010,
    TWC_DNS_F_RCODE = 0x000f,
};
#define TWC_DNS_OPCODE(flags) (((flags) >> 11) & 0xf)

enum twc_dns_section { TWC_DNS_QD, TWC_DNS_AN, TWC_DNS_NS_SECT, TWC_DNS_AR };

typedef struct twc_dns_name {
    uint8_t len;                     /* bytes in wire, root label included (>= 1) */
    uint8_t wire[TWC_DNS_NAME_MAX];
} twc_dns_name;

/* ---- Names ------------------------------------------------------------------ */

/* The root name ".". */
void twc_dns_name_root(twc_dns_name *n);
/* Presentation form to wire form (RFC 1035 §5.1: "\." and "\DDD" escapes). A name
 * without a trailing dot is relative: origin is appended (NULL origin: treated as
 * absolute). "@" alone is the origin. Returns 0 or TWC_EINVAL / TWC_ETOOBIG with
 * *err saying what is wrong. */
int twc_dns_name_parse(twc_dns_name *n, const char *s, size_t len, const twc_dns_name *origin,
                       twc_err *err);
/* Wire form to presentation form with the trailing dot, escaping '.', '\\', '"',
 * ';', '(', ')', '@', '$' and non-printable bytes. Returns the length written
 * (excluding the NUL), or TWC_ETOOBIG if buf is too small. */
int twc_dns_name_format(const twc_dns_name *n, char *buf, size_t len);
int twc_dns_name_equal(const twc_dns_name *a, const twc_dns_name *b);
/* True when n equals zone or lies below it. */
int twc_dns_name_is_under(const twc_dns_name *n, const twc_dns_name *zone);
/* Labels, root excluded ("a.b." has 2). */
unsigned twc_dns_name_labels(const twc_dns_name *n);
/* Drop the first label (n must not be the root). */
void twc_dns_name_parent(twc_dns_name *n);
/* ASCII-lowercase in place (for hashing and map keys). */
void twc_dns_name_lower(twc_dns_name *n);
/* Prepend "*" (wildcard of n's parent, RFC 4592) into out. Returns 0 or TWC_ETOOBIG. */
int twc_dns_name_wildcard(twc_dns_name *out, const twc_dns_name *parent);

/* Read a possibly compressed name at msg[*off] (RFC 1035 §4.1.4). Pointers must
 * point strictly before the label they replace (no forward pointers, so no
 * loops), at most TWC_DNS_POINTER_HOPS are followed, and the expanded name must
 * fit TWC_DNS_NAME_MAX. *off moves past the name as it appears in place.
 * Returns 0 or TWC_EPROTO. */
int twc_dns_name_read(const uint8_t *msg, size_t msglen, size_t *off, twc_dns_name *out);

/* ---- Parsed messages -------------------------------------------------------- */

typedef struct twc_dns_rr {
    twc_dns_name name;
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    uint16_t rdlen;
    const uint8_t *rdata; /* uncompressed rdata, owned by the message */
} twc_dns_rr;

typedef struct twc_dns_question {
    twc_dns_name name;
    uint16_t qtype;
    uint16_t qclass;
} twc_dns_question;

/* EDNS0 as carried in an OPT record (RFC 6891 §6.1.2). */
typedef struct twc_dns_edns {
    int present;
    uint16_t udp_size;  /* the sender's payload size (values < 512 read as 512) */
    uint8_t ext_rcode;  /* upper 8 bits of the 12-bit rcode */
    uint8_t version;
    uint16_t flags;     /* DO is 0x8000 */
} twc_dns_edns;

typedef struct twc_dns_msg {
    uint16_t id;
    uint16_t flags;
    uint16_t count[4];     /* records per section, as parsed (OPT excluded from AR) */
    twc_dns_question *qd;  /* count[TWC_DNS_QD] questions */
    twc_dns_rr *rr;        /* answer, then authority, then additional records */
    twc_dns_edns edns;
    uint8_t *arena;        /* rdata storage */
    size_t arena_len;
} twc_dns_msg;

/* Parse a whole message. Returns 0, or TWC_EPROTO (malformed: *err says where),
 * TWC_ETOOBIG (more than TWC_DNS_MAX_RRS records), TWC_ENOMEM. On success free
 * with twc_dns_msg_cleanup; on failure nothing needs freeing. Two OPT records,
 * or an OPT outside the additional section, are malformed (RFC 6891 §6.1.1). */
int twc_dns_msg_parse(twc_dns_msg *m, const uint8_t *data, size_t len, twc_err *err);
void twc_dns_msg_cleanup(twc_dns_msg *m);
/* The first record of a section, and how many it has. */
const twc_dns_rr *twc_dns_msg_section(const twc_dns_msg *m, enum twc_dns_section s, size_t *n);
/* The 12-bit rcode (header bits plus EDNS extended bits). */
unsigned twc_dns_msg_rcode(const twc_dns_msg *m);

/* A query as the server needs it, parsed without allocating: the header, the one
 * question, and EDNS if an OPT record is in the additional section (other
 * records are skipped, bounds-checked). Returns 0, or TWC_EPROTO when the header
 * could be read but the rest is malformed (answer FORMERR, RFC 1035 §4.1.1), or
 * TWC_EOF when not even a header is there (drop it). Every field of *q is set,
 * zero where the input did not reach it. */
typedef struct twc_dns_query {
    uint16_t id;
    uint16_t flags;
    uint16_t qdcount;
    twc_dns_question q; /* valid when qdcount == 1 */
    twc_dns_edns edns;
    size_t question_end; /* offset just past the question */
} twc_dns_query;
int twc_dns_query_parse(twc_dns_query *q, const uint8_t *data, size_t len);

/* ---- Writing messages ------------------------------------------------------- */

typedef struct twc_dns_writer {
    uint8_t *buf;
    size_t cap;     /* bytes available in buf */
    size_t limit;   /* the message may not grow past this (512, EDNS size, 65535) */
    size_t len;
    uint16_t count[4];
    int truncated;  /* a record did not fit */
    size_t ncomp;
    uint16_t comp[TWC_DNS_COMPRESS_MAX]; /* offsets of names usable as pointer targets */
} twc_dns_writer;

/* Start a message in buf (cap bytes, borrowed) that may grow to limit bytes. */
void twc_dns_writer_init(twc_dns_writer *w, uint8_t *buf, size_t cap, size_t limit);
/* Header (counts are filled by twc_dns_writer_finish). */
int twc_dns_write_header(twc_dns_writer *w, uint16_t id, uint16_t flags);
int twc_dns_write_question(twc_dns_writer *w, const twc_dns_name *name, uint16_t qtype,
                           uint16_t qclass);
/* Append a record to section s (sections must be written in order). Names are
 * compressed. Returns 0, or TWC_ETOOBIG when it does not fit: nothing of it is
 * kept, and w->truncated (TC) is set unless s is the additional section (RFC 2181
 * §9); TWC_EPROTO for malformed rdata. */
int twc_dns_write_rr(twc_dns_writer *w, enum twc_dns_section s, const twc_dns_rr *rr);
/* OPT pseudo-record in the additional section (RFC 6891 §6.1.2). */
int twc_dns_write_opt(twc_dns_writer *w, uint16_t udp_size, uint8_t ext_rcode, uint16_t flags);
/* Patch the section counts into the header; returns the message length. */
size_t twc_dns_writer_finish(twc_dns_writer *w);

/* ---- Presentation ----------------------------------------------------------- */

/* "A", "AAAA", ... or "TYPE1234" (RFC 3597 §5). Returns buf. */
const char *twc_dns_type_name(uint16_t type, char *buf, size_t len);
/* Parse a type mnemonic or TYPEnnn. Returns 0 or TWC_EINVAL. */
int twc_dns_type_parse(const char *s, size_t len, uint16_t *out);
const char *twc_dns_rcode_name(unsigned rcode); /* "NOERROR", ... static */
/* Rdata in zone-file form ("10 mail.example.", "\"a\" \"b\"", "\# 4 0a000001"
 * for unknown types). Returns the length, or TWC_ETOOBIG / TWC_EPROTO. */
int twc_dns_rdata_format(uint16_t type, const uint8_t *rdata, size_t rdlen, char *buf,
                         size_t len);

#endif
