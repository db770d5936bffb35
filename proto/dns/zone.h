/*
 * Zone data in master-file form (RFC 1035 §5, RFC 2308 §4 for $TTL, RFC 3597 §5
 * for unknown types): a BIND-syntax parser, the `--record` one-line form, and
 * rdata from presentation text.
 *
 * A twc_dns_zone is a list of records in the order they were read (the order
 * AXFR sends them in, SOA aside), with the file and line each came from. The
 * same type holds a real zone (--bindzone, a secondary's transfer) and a plain
 * record set without SOA (--record, --hosts-file).
 *
 * Pure: no sockets, no reactor, no logging. Files are read whole with
 * open/read (at startup and on SIGHUP only). Every dimension is bounded: entry
 * length, fields per entry, records, $INCLUDE depth and file size.
 */
#ifndef TWC_PROTO_DNS_ZONE_H
#define TWC_PROTO_DNS_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"
#include "proto/dns/dns.h"

/* Defaults for struct twc_dns_zone_limits are TWC_DNS_ZONE_* in lib/limits.h. */
#define TWC_DNS_TTL_MAX            2147483647u         /* RFC 2181 §8 */

typedef struct twc_dns_zone twc_dns_zone;

struct twc_dns_zone_limits {
    size_t max_entry;   /* 0: TWC_DNS_ZONE_ENTRY_MAX */
    size_t max_records; /* 0: TWC_DNS_ZONE_RECORDS_MAX */
    int include_depth;  /* 0: TWC_DNS_ZONE_INCLUDE_DEPTH; < 0: $INCLUDE refused */
};

/* An empty record list. Returns owned (twc_dns_zone_free), NULL when out of memory. */
twc_dns_zone *twc_dns_zone_new(const struct twc_dns_zone_limits *lim);
void twc_dns_zone_free(twc_dns_zone *z);

/* Parse a master file at path (RFC 1035 §5.1) and append its records. origin
 * (borrowed, may be NULL) is the initial origin. Without one, an SOA record's
 * owner becomes the origin (shared/CLI.md); before the first $ORIGIN or SOA, a
 * relative owner name is an error and names in rdata are read as absolute.
 * $INCLUDE paths are relative to the
 * including file's folder. On error returns TWC_EINVAL (syntax), TWC_ETOOBIG (a
 * limit) or -errno (a file could not be read), and err->msg is
 * "FILE:LINE: what is wrong" (the CLI prints it and exits 65). Records read
 * before the error stay in z. */
int twc_dns_zone_parse_file(twc_dns_zone *z, const char *path, const twc_dns_name *origin,
                            twc_err *err);
/* The same over data[0..len) (borrowed) named fname in messages; $INCLUDE paths
 * are relative to dir (NULL: the current folder). */
int twc_dns_zone_parse_buf(twc_dns_zone *z, const char *fname, const char *dir, const char *data,
                           size_t len, const twc_dns_name *origin, twc_err *err);
/* Parse and check a zone file for serving (--bindzone): parse_file, then
 * twc_dns_zone_check. */
int twc_dns_zone_load(twc_dns_zone *z, const char *path, twc_err *err);

/* Check that z is a servable zone: an origin (twc_dns_zone_origin), exactly one
 * SOA, at the origin, and every record at or below it. Errors name the file and
 * line of the offending record. Returns 0 or TWC_EINVAL. */
int twc_dns_zone_check(const twc_dns_zone *z, twc_err *err);

/* A `--record` line: "NAME [TTL] [CLASS] TYPE DATA", one zone-file entry whose
 * name is absolute with or without the trailing dot; no $-directives, '@' or
 * omitted owner. Relative names in the data are also taken as absolute. TTL
 * defaults to TWC_DNS_RECORD_TTL. Errors: "--record: what is wrong". */
int twc_dns_zone_parse_record(twc_dns_zone *z, const char *line, size_t len, twc_err *err);

/* The zone's origin: the first $ORIGIN of the top file (or the origin given to
 * the parser), else the owner of the first SOA record, else NULL. Borrowed. */
const twc_dns_name *twc_dns_zone_origin(const twc_dns_zone *z);

/* Append a record (copied: name and rdata). Used by the hosts parser and for
 * zone transfers. Returns 0, TWC_ETOOBIG (max_records, or rdata over 65535
 * bytes) or TWC_ENOMEM. */
int twc_dns_zone_add(twc_dns_zone *z, const twc_dns_rr *rr, twc_err *err);

/* Records, in the order added. */
size_t twc_dns_zone_count(const twc_dns_zone *z);
/* Fill *rr with record i (< count); rr->rdata borrows from z. */
void twc_dns_zone_get(const twc_dns_zone *z, size_t i, twc_dns_rr *rr);
/* Where record i came from: the file name (borrowed) and line; "" and 0 when
 * added by twc_dns_zone_add. */
const char *twc_dns_zone_where(const twc_dns_zone *z, size_t i, unsigned *line);

/* ---- Rdata from presentation text --------------------------------------------- */

/* One field of an entry: the raw text, escapes not yet applied (a quoted field
 * without its quotes). */
typedef struct twc_dns_field {
    const char *p;
    size_t len;
    int quoted;
} twc_dns_field;

/* Rdata of type from its fields (RFC 1035 §5.1 and the RFCs of each type): A,
 * AAAA, NS, CNAME, SOA, PTR, HINFO, MX, TXT, SRV, CAA, and "\# LEN HEX" for any
 * type (RFC 3597 §5; required for types not listed). Names are relative to
 * origin (borrowed; NULL: every name is absolute, with or without its final
 * dot, as --record wants). Writes at most cap bytes to
 * out and returns the rdata length, or TWC_EINVAL / TWC_ETOOBIG with *err
 * saying what is wrong (no file or line). */
int twc_dns_rdata_parse(uint16_t type, const twc_dns_field *f, size_t nf,
                        const twc_dns_name *origin, uint8_t *out, size_t cap, twc_err *err);
/* The same from one line of text ("10 mail", "\"a b\" c"), split into fields
 * as a zone-file entry would be (no parentheses, comments or newlines). */
int twc_dns_rdata_parse_text(uint16_t type, const char *text, size_t len,
                             const twc_dns_name *origin, uint8_t *out, size_t cap, twc_err *err);
/* A TTL: seconds, or units "1w2d3h4m5s" (case-insensitive), at most
 * TWC_DNS_TTL_MAX. Returns 0 or TWC_EINVAL. */
int twc_dns_ttl_parse(const char *s, size_t len, uint32_t *out);
/* Check that rdata has the wire form of its type (names well formed, fixed
 * fields present). Types without a known form always pass. Returns 0 or
 * TWC_EINVAL. */
int twc_dns_rdata_check(uint16_t type, const uint8_t *rd, size_t len);

/* Read a whole regular file (at most max bytes) with open/read. *data is
 * returned owned (free()) and NUL-terminated. Returns 0, -errno, or
 * TWC_ETOOBIG / TWC_EINVAL (not a regular file); err->msg names the path. */
int twc_dns_file_read(const char *path, size_t max, char **data, size_t *len, twc_err *err);

#endif
