/*
 * Master files (RFC 1035 §5): the record list, the entry tokenizer and the
 * directive/record parser, $INCLUDE, and the --record one-liner.
 *
 * The parser works on a whole file in memory: files are read at startup and
 * on SIGHUP only, and a whole buffer keeps the grammar (parentheses across
 * lines, omitted fields, includes) simple. Every entry, field count, record
 * count, file size and include depth is bounded, so any input ends quickly
 * with records or with an error "FILE:LINE: what is wrong".
 */
#include "proto/dns/zone.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define PATH_LEN  4096
#define FILES_MAX 65535 /* file names one zone remembers (uint16 index) */

struct rec {
    uint32_t owner; /* offset of the owner name in the arena */
    uint32_t rd;    /* offset of the rdata */
    uint32_t ttl;
    uint32_t line;
    uint16_t rdlen;
    uint16_t type;
    uint16_t rclass;
    uint16_t file; /* index in files + 1; 0: added by twc_dns_zone_add */
    uint8_t owner_len;
};

struct twc_dns_zone {
    struct twc_dns_zone_limits lim;
    struct rec *recs;
    size_t n, cap;
    uint8_t *arena;
    size_t alen, acap;
    char **files;
    size_t nfiles;
    twc_dns_name origin; /* first $ORIGIN, or the origin the parser was given */
    int has_origin;
    twc_dns_name soa_owner; /* owner of the first SOA */
    int has_soa;
};

twc_dns_zone *twc_dns_zone_new(const struct twc_dns_zone_limits *lim)
{
    twc_dns_zone *z = calloc(1, sizeof(*z));

    if (z == NULL)
        return NULL;
    if (lim != NULL)
        z->lim = *lim;
    if (z->lim.max_entry == 0)
        z->lim.max_entry = TWC_DNS_ZONE_ENTRY_MAX;
    if (z->lim.max_records == 0)
        z->lim.max_records = TWC_DNS_ZONE_RECORDS_MAX;
    if (z->lim.include_depth == 0)
        z->lim.include_depth = TWC_DNS_ZONE_INCLUDE_DEPTH;
    return z;
}

void twc_dns_zone_free(twc_dns_zone *z)
{
    size_t i;

    if (z == NULL)
        return;
    for (i = 0; i < z->nfiles; i++)
        free(z->files[i]);
    free(z->files);
    free(z->recs);
    free(z->arena);
    free(z);
}

static int arena_put(twc_dns_zone *z, const uint8_t *p, size_t n, uint32_t *off)
{
    if (z->alen + n > UINT32_MAX)
        return TWC_ETOOBIG;
    if (z->alen + n > z->acap) {
        size_t cap = z->acap ? z->acap : 4096;
        uint8_t *grown;

        while (cap < z->alen + n)
            cap *= 2;
        grown = realloc(z->arena, cap);
        if (grown == NULL)
            return TWC_ENOMEM;
        z->arena = grown;
        z->acap = cap;
    }
    memcpy(z->arena + z->alen, p, n);
    *off = (uint32_t)z->alen;
    z->alen += n;
    return 0;
}

static int add_rec(twc_dns_zone *z, const twc_dns_rr *rr, uint16_t file, unsigned line,
                   twc_err *err)
{
    struct rec *r;
    int rc;

    if (z->n >= z->lim.max_records)
        return twc_err_set(err, TWC_ETOOBIG, "more than %zu records", z->lim.max_records);
    if (z->n == z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 64;
        struct rec *grown = realloc(z->recs, cap * sizeof(*grown));

        if (grown == NULL)
            return twc_err_set(err, TWC_ENOMEM, "out of memory");
        z->recs = grown;
        z->cap = cap;
    }
    r = &z->recs[z->n];
    memset(r, 0, sizeof(*r));
    if ((rc = arena_put(z, rr->name.wire, rr->name.len, &r->owner)) < 0 ||
        (rc = arena_put(z, rr->rdata, rr->rdlen, &r->rd)) < 0)
        return twc_err_set(err, rc, rc == TWC_ENOMEM ? "out of memory" : "zone data too large");
    r->owner_len = rr->name.len;
    r->rdlen = rr->rdlen;
    r->type = rr->type;
    r->rclass = rr->rclass;
    r->ttl = rr->ttl;
    r->file = file;
    r->line = line;
    if (rr->type == TWC_DNS_SOA && !z->has_soa) {
        z->soa_owner = rr->name;
        z->has_soa = 1;
    }
    z->n++;
    return 0;
}

int twc_dns_zone_add(twc_dns_zone *z, const twc_dns_rr *rr, twc_err *err)
{
    return add_rec(z, rr, 0, 0, err);
}

size_t twc_dns_zone_count(const twc_dns_zone *z)
{
    return z->n;
}

void twc_dns_zone_get(const twc_dns_zone *z, size_t i, twc_dns_rr *rr)
{
    const struct rec *r = &z->recs[i];

    rr->name.len = r->owner_len;
    memcpy(rr->name.wire, z->arena + r->owner, r->owner_len);
    rr->type = r->type;
    rr->rclass = r->rclass;
    rr->ttl = r->ttl;
    rr->rdlen = r->rdlen;
    rr->rdata = z->arena + r->rd;
}

const char *twc_dns_zone_where(const twc_dns_zone *z, size_t i, unsigned *line)
{
    const struct rec *r = &z->recs[i];

    *line = r->line;
    return r->file ? z->files[r->file - 1] : "";
}

const twc_dns_name *twc_dns_zone_origin(const twc_dns_zone *z)
{
    if (z->has_origin)
        return &z->origin;
    return z->has_soa ? &z->soa_owner : NULL;
}

int twc_dns_file_read(const char *path, size_t max, char **data, size_t *len, twc_err *err)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0, cap;
    int fd, rc;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return twc_err_sys(err, errno, "%s", path);
    if (fstat(fd, &st) < 0) {
        rc = twc_err_sys(err, errno, "%s", path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = twc_err_set(err, TWC_EINVAL, "%s: not a regular file", path);
        goto fail;
    }
    /* The size is a hint: the file may change while we read it. */
    cap = (size_t)st.st_size + 1 < max + 1 ? (size_t)st.st_size + 1 : max + 1;
    buf = malloc(cap + 1);
    if (buf == NULL) {
        rc = twc_err_set(err, TWC_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (;;) {
        ssize_t r;

        if (n == cap) {
            char *grown;

            if (cap > max) {
                rc = twc_err_set(err, TWC_ETOOBIG, "%s: file exceeds %zu bytes", path, max);
                goto fail;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            grown = realloc(buf, cap + 1);
            if (grown == NULL) {
                rc = twc_err_set(err, TWC_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            buf = grown;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = twc_err_sys(err, errno, "%s", path);
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        rc = twc_err_set(err, TWC_ETOOBIG, "%s: file exceeds %zu bytes", path, max);
        goto fail;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
fail:
    free(buf);
    close(fd);
    return rc;
}

/* ---- The parser ------------------------------------------------------------------- */

struct pstate {
    twc_dns_zone *z;
    const char *fname;
    uint16_t file; /* index + 1 in z->files */
    const char *dir;
    const char *data;
    size_t len, pos;
    unsigned line;
    int depth;
    int record_mode; /* --record: one entry, absolute names, no directives */
    twc_dns_name origin;
    int has_origin;
    twc_dns_name owner;
    int has_owner;
    uint32_t ttl_default; /* $TTL */
    int has_ttl_default;
    uint32_t last_ttl; /* last explicit TTL (RFC 1035 §5.1) */
    int has_last_ttl;
    twc_dns_field fields[TWC_DNS_ZONE_FIELDS_MAX];
    size_t nf;
    int leading_blank;
    unsigned entry_line;
};

static int fail(const struct pstate *ps, twc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(const struct pstate *ps, twc_err *err, int code, const char *fmt, ...)
{
    char what[TWC_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (ps->record_mode)
        return twc_err_set(err, code, "--record: %s", what);
    return twc_err_set(err, code, "%s:%u: %s", ps->fname, ps->entry_line, what);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Characters that end an unquoted field. */
static int ends_field(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' || c == ')' ||
           c == '"';
}

static int add_field(struct pstate *ps, const char *p, size_t len, int quoted, twc_err *err)
{
    if (ps->nf == TWC_DNS_ZONE_FIELDS_MAX)
        return fail(ps, err, TWC_ETOOBIG, "more than %d fields in one entry",
                    TWC_DNS_ZONE_FIELDS_MAX);
    ps->fields[ps->nf++] = (twc_dns_field){p, len, quoted};
    return 0;
}

/* Read the next entry's fields (RFC 1035 §5.1: parentheses continue an entry
 * across lines; ';' starts a comment outside quotes). Returns 1 with an entry,
 * 0 at the end of the input, or a negative code. */
static int read_entry(struct pstate *ps, twc_err *err)
{
    for (;;) {
        size_t start = ps->pos;
        int paren = 0, rc;
        unsigned paren_line = 0;

        if (ps->pos >= ps->len)
            return 0;
        ps->nf = 0;
        ps->entry_line = ps->line;
        ps->leading_blank = ps->data[ps->pos] == ' ' || ps->data[ps->pos] == '\t';
        while (ps->pos < ps->len) {
            char c = ps->data[ps->pos];

            if (ps->pos - start > ps->z->lim.max_entry)
                return fail(ps, err, TWC_ETOOBIG, "entry exceeds %zu bytes", ps->z->lim.max_entry);
            if (c == '\n') {
                ps->pos++;
                ps->line++;
                if (!paren)
                    break;
                continue;
            }
            if (is_blank(c)) {
                ps->pos++;
            } else if (c == ';') {
                const char *nl = memchr(ps->data + ps->pos, '\n', ps->len - ps->pos);

                ps->pos = nl != NULL ? (size_t)(nl - ps->data) : ps->len;
            } else if (c == '(') {
                if (paren)
                    return fail(ps, err, TWC_EINVAL, "nested parentheses");
                paren = 1;
                paren_line = ps->line;
                ps->pos++;
            } else if (c == ')') {
                if (!paren)
                    return fail(ps, err, TWC_EINVAL, "')' without '('");
                paren = 0;
                ps->pos++;
            } else if (c == '"') {
                size_t q = ++ps->pos;

                while (ps->pos < ps->len && ps->data[ps->pos] != '"' && ps->data[ps->pos] != '\n')
                    ps->pos += ps->data[ps->pos] == '\\' && ps->pos + 1 < ps->len &&
                                       ps->data[ps->pos + 1] != '\n'
                                   ? 2
                                   : 1;
                if (ps->pos >= ps->len || ps->data[ps->pos] != '"')
                    return fail(ps, err, TWC_EINVAL, "unterminated quoted string");
                if ((rc = add_field(ps, ps->data + q, ps->pos - q, 1, err)) < 0)
                    return rc;
                ps->pos++;
            } else {
                size_t f = ps->pos;

                while (ps->pos < ps->len && !ends_field(ps->data[ps->pos]))
                    ps->pos += ps->data[ps->pos] == '\\' && ps->pos + 1 < ps->len &&
                                       ps->data[ps->pos + 1] != '\n'
                                   ? 2
                                   : 1;
                if ((rc = add_field(ps, ps->data + f, ps->pos - f, 0, err)) < 0)
                    return rc;
            }
        }
        if (paren) {
            ps->entry_line = paren_line;
            return fail(ps, err, TWC_EINVAL, "'(' without ')'");
        }
        if (ps->nf > 0)
            return 1;
    }
}

static int field_is(const twc_dns_field *f, const char *s)
{
    return !f->quoted && f->len == strlen(s) && strncasecmp(f->p, s, f->len) == 0;
}

/* A class mnemonic (RFC 1035 §3.2.4, RFC 3597 §5 CLASSnnn): sets *cls. */
static int parse_class(const twc_dns_field *f, uint16_t *cls)
{
    uint64_t v;

    if (field_is(f, "IN"))
        *cls = TWC_DNS_CLASS_IN;
    else if (field_is(f, "CH") || field_is(f, "CS") || field_is(f, "HS"))
        *cls = field_is(f, "CH") ? TWC_DNS_CLASS_CH : field_is(f, "CS") ? 2 : 4;
    else if (!f->quoted && f->len > 5 && strncasecmp(f->p, "CLASS", 5) == 0 &&
             twc_parse_u64(f->p + 5, f->len - 5, 0, 65535, &v) == 0)
        *cls = (uint16_t)v;
    else
        return 0;
    return 1;
}

static int parse_name(struct pstate *ps, const twc_dns_field *f, twc_dns_name *n, twc_err *err)
{
    twc_err e;
    int rc;

    if (f->quoted)
        return fail(ps, err, TWC_EINVAL, "name may not be quoted");
    if (!ps->record_mode && !ps->has_origin) {
        /* Without an origin only absolute names can be read. */
        if (f->len == 0 || f->p[f->len - 1] != '.' || (f->len >= 2 && f->p[f->len - 2] == '\\'))
            return fail(ps, err, TWC_EINVAL, "relative name '%.*s' without $ORIGIN",
                        (int)(f->len > 64 ? 64 : f->len), f->p);
    }
    rc = twc_dns_name_parse(n, f->p, f->len, ps->has_origin ? &ps->origin : NULL, &e);
    if (rc < 0)
        return fail(ps, err, rc, "bad name '%.*s': %s", (int)(f->len > 64 ? 64 : f->len), f->p,
                    e.msg);
    return 0;
}

/* Remember a file name for messages; returns its index + 1, or a negative code. */
static int add_file(twc_dns_zone *z, const char *fname)
{
    char **grown;

    if (z->nfiles >= FILES_MAX)
        return TWC_ETOOBIG;
    grown = realloc(z->files, (z->nfiles + 1) * sizeof(*grown));
    if (grown == NULL)
        return TWC_ENOMEM;
    z->files = grown;
    z->files[z->nfiles] = strdup(fname);
    if (z->files[z->nfiles] == NULL)
        return TWC_ENOMEM;
    return (int)++z->nfiles;
}

static int parse_entries(struct pstate *ps, twc_err *err);

static int do_include(struct pstate *ps, twc_err *err)
{
    char path[PATH_LEN], dir[PATH_LEN];
    struct pstate *child;
    char *data = NULL, *slash;
    size_t len;
    int n, rc;
    twc_err e;

    if (ps->nf < 2 || ps->nf > 3)
        return fail(ps, err, TWC_EINVAL, "$INCLUDE needs a file name and an optional origin");
    if (ps->z->lim.include_depth < 0)
        return fail(ps, err, TWC_EINVAL, "$INCLUDE is not allowed here");
    if (ps->depth >= ps->z->lim.include_depth)
        return fail(ps, err, TWC_ETOOBIG, "$INCLUDE nested deeper than %d",
                    ps->z->lim.include_depth);
    if (memchr(ps->fields[1].p, '\0', ps->fields[1].len) != NULL)
        return fail(ps, err, TWC_EINVAL, "bad $INCLUDE file name");
    if (ps->fields[1].len == 0)
        return fail(ps, err, TWC_EINVAL, "empty $INCLUDE file name");
    if (ps->fields[1].p[0] == '/')
        n = snprintf(path, sizeof(path), "%.*s", (int)ps->fields[1].len, ps->fields[1].p);
    else
        n = snprintf(path, sizeof(path), "%s/%.*s", ps->dir, (int)ps->fields[1].len,
                     ps->fields[1].p);
    if (n < 0 || (size_t)n >= sizeof(path))
        return fail(ps, err, TWC_ETOOBIG, "$INCLUDE path exceeds %d bytes", PATH_LEN);
    child = malloc(sizeof(*child));
    if (child == NULL)
        return fail(ps, err, TWC_ENOMEM, "out of memory");
    *child = *ps;
    child->nf = 0;
    if (ps->nf == 3 && (rc = parse_name(ps, &ps->fields[2], &child->origin, err)) < 0)
        goto out;
    child->has_origin = child->has_origin || ps->nf == 3;
    if ((rc = twc_dns_file_read(path, TWC_DNS_ZONE_FILE_MAX, &data, &len, &e)) < 0) {
        rc = fail(ps, err, rc, "$INCLUDE %s", e.msg);
        goto out;
    }
    /* The included file's own folder anchors its own includes. */
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    if ((rc = add_file(ps->z, path)) < 0) {
        rc = rc == TWC_ENOMEM ? fail(ps, err, rc, "out of memory")
                              : fail(ps, err, rc, "more than %d files in one zone", FILES_MAX);
        goto out;
    }
    child->file = (uint16_t)rc;
    child->fname = ps->z->files[child->file - 1];
    child->dir = dir;
    child->data = data;
    child->len = len;
    child->pos = 0;
    child->line = 1;
    child->depth = ps->depth + 1;
    rc = parse_entries(child, err);
    /* RFC 1035 §5.1: the include does not change the parent's origin (nor, as
     * BIND, its current owner); the TTL defaults carry on from the child. */
    if (rc == 0) {
        ps->ttl_default = child->ttl_default;
        ps->has_ttl_default = child->has_ttl_default;
        ps->last_ttl = child->last_ttl;
        ps->has_last_ttl = child->has_last_ttl;
    }
out:
    free(data);
    free(child);
    return rc;
}

static int do_directive(struct pstate *ps, twc_err *err)
{
    const twc_dns_field *f = ps->fields;
    twc_dns_name n;
    uint32_t ttl;
    int rc;

    if (ps->record_mode)
        return fail(ps, err, TWC_EINVAL, "directives are not allowed");
    if (field_is(&f[0], "$ORIGIN")) {
        if (ps->nf != 2)
            return fail(ps, err, TWC_EINVAL, "$ORIGIN needs one name");
        if ((rc = parse_name(ps, &f[1], &n, err)) < 0)
            return rc;
        ps->origin = n;
        ps->has_origin = 1;
        if (ps->depth == 0 && !ps->z->has_origin) {
            ps->z->origin = n;
            ps->z->has_origin = 1;
        }
        return 0;
    }
    if (field_is(&f[0], "$TTL")) {
        if (ps->nf != 2 || f[1].quoted || twc_dns_ttl_parse(f[1].p, f[1].len, &ttl) < 0)
            return fail(ps, err, TWC_EINVAL, "$TTL needs one TTL (seconds or 1h30m, at most %u)",
                        TWC_DNS_TTL_MAX);
        ps->ttl_default = ttl;
        ps->has_ttl_default = 1;
        return 0;
    }
    if (field_is(&f[0], "$INCLUDE"))
        return do_include(ps, err);
    return fail(ps, err, TWC_EINVAL, "unsupported directive '%.*s'",
                (int)(f[0].len > 32 ? 32 : f[0].len), f[0].p);
}

static int do_record(struct pstate *ps, twc_err *err)
{
    static const uint16_t meta[] = {TWC_DNS_OPT, TWC_DNS_IXFR, TWC_DNS_AXFR, 253, 254,
                                    TWC_DNS_ANY, 249,          250,          0};
    const twc_dns_field *f = ps->fields;
    uint8_t rdata[65535];
    char tbuf[16];
    twc_dns_rr rr;
    size_t i = 0, k;
    uint16_t cls = TWC_DNS_CLASS_IN;
    int rc, have_ttl = 0, have_class = 0;
    uint32_t ttl = 0;
    twc_err e;

    if (ps->record_mode || !ps->leading_blank) {
        if ((rc = parse_name(ps, &f[0], &ps->owner, err)) < 0)
            return rc;
        ps->has_owner = 1;
        i = 1;
    } else if (!ps->has_owner) {
        return fail(ps, err, TWC_EINVAL, "no owner name and no previous owner");
    }
    /* [TTL] [CLASS] or [CLASS] [TTL] (RFC 1035 §5.1). */
    for (k = 0; k < 2 && i < ps->nf; k++) {
        if (!have_class && parse_class(&f[i], &cls)) {
            have_class = 1;
            i++;
        } else if (!have_ttl && !f[i].quoted && f[i].len > 0 && f[i].p[0] >= '0' &&
                   f[i].p[0] <= '9') {
            if (twc_dns_ttl_parse(f[i].p, f[i].len, &ttl) < 0)
                return fail(ps, err, TWC_EINVAL, "bad TTL '%.*s' (seconds or 1h30m, at most %u)",
                            (int)(f[i].len > 32 ? 32 : f[i].len), f[i].p, TWC_DNS_TTL_MAX);
            have_ttl = 1;
            i++;
        } else {
            break;
        }
    }
    if (cls != TWC_DNS_CLASS_IN)
        return fail(ps, err, TWC_EINVAL, "class %u is not served (only IN)", cls);
    if (i >= ps->nf)
        return fail(ps, err, TWC_EINVAL, "missing record type");
    if (f[i].quoted || twc_dns_type_parse(f[i].p, f[i].len, &rr.type) < 0)
        return fail(ps, err, TWC_EINVAL, "unknown record type '%.*s'",
                    (int)(f[i].len > 32 ? 32 : f[i].len), f[i].p);
    for (k = 0; k < sizeof(meta) / sizeof(meta[0]); k++)
        if (rr.type == meta[k])
            return fail(ps, err, TWC_EINVAL, "type %s cannot be zone data",
                        twc_dns_type_name(rr.type, tbuf, sizeof(tbuf)));
    i++;
    if (rr.type == TWC_DNS_SOA && !ps->has_origin && !ps->record_mode) {
        /* No $ORIGIN: the SOA owner is the zone's origin (shared/CLI.md), and
         * so the origin of relative names from here on, its rdata included. */
        ps->origin = ps->owner;
        ps->has_origin = 1;
    }
    rc = twc_dns_rdata_parse(rr.type, f + i, ps->nf - i, ps->has_origin ? &ps->origin : NULL, rdata,
                             sizeof(rdata), &e);
    if (rc < 0)
        return fail(ps, err, rc, "%s", e.msg);
    rr.rdlen = (uint16_t)rc;
    rr.rdata = rdata;
    rr.name = ps->owner;
    rr.rclass = TWC_DNS_CLASS_IN;
    if (have_ttl) {
        rr.ttl = ttl;
        ps->last_ttl = ttl;
        ps->has_last_ttl = 1;
    } else if (ps->has_ttl_default) {
        rr.ttl = ps->ttl_default;
    } else if (ps->has_last_ttl) {
        rr.ttl = ps->last_ttl;
    } else if (ps->record_mode) {
        rr.ttl = TWC_DNS_RECORD_TTL;
    } else if (rr.type == TWC_DNS_SOA) {
        /* No TTL anywhere yet: the SOA minimum, as RFC 1035 zones used it. */
        const uint8_t *m = rdata + rr.rdlen - 4;

        rr.ttl = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
        if (rr.ttl > TWC_DNS_TTL_MAX)
            rr.ttl = TWC_DNS_TTL_MAX;
        ps->last_ttl = rr.ttl;
        ps->has_last_ttl = 1;
    } else {
        return fail(ps, err, TWC_EINVAL, "no TTL, no $TTL and no previous TTL");
    }
    if ((rc = add_rec(ps->z, &rr, ps->file, ps->entry_line, &e)) < 0)
        return fail(ps, err, rc, "%s", e.msg);
    return 0;
}

static int parse_entries(struct pstate *ps, twc_err *err)
{
    int rc;

    while ((rc = read_entry(ps, err)) > 0) {
        const twc_dns_field *f0 = &ps->fields[0];

        if (!ps->leading_blank && !f0->quoted && f0->len > 0 && f0->p[0] == '$')
            rc = do_directive(ps, err);
        else
            rc = do_record(ps, err);
        if (rc < 0)
            return rc;
    }
    return rc;
}

int twc_dns_zone_parse_buf(twc_dns_zone *z, const char *fname, const char *dir, const char *data,
                           size_t len, const twc_dns_name *origin, twc_err *err)
{
    struct pstate *ps;
    int rc;

    if ((rc = add_file(z, fname)) < 0)
        return rc == TWC_ENOMEM
                   ? twc_err_set(err, rc, "out of memory")
                   : twc_err_set(err, rc, "%s: more than %d files in one zone", fname, FILES_MAX);
    ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    ps->z = z;
    ps->file = (uint16_t)z->nfiles;
    ps->fname = z->files[z->nfiles - 1];
    ps->dir = dir != NULL ? dir : ".";
    ps->data = data;
    ps->len = len;
    ps->line = 1;
    if (origin != NULL) {
        ps->origin = *origin;
        ps->has_origin = 1;
        if (!z->has_origin) {
            z->origin = *origin;
            z->has_origin = 1;
        }
    }
    rc = parse_entries(ps, err);
    free(ps);
    return rc;
}

int twc_dns_zone_parse_file(twc_dns_zone *z, const char *path, const twc_dns_name *origin,
                            twc_err *err)
{
    char dir[PATH_LEN], *slash, *data;
    size_t len;
    int rc;

    if ((rc = twc_dns_file_read(path, TWC_DNS_ZONE_FILE_MAX, &data, &len, err)) < 0)
        return rc;
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    rc = twc_dns_zone_parse_buf(z, path, dir, data, len, origin, err);
    free(data);
    return rc;
}

int twc_dns_zone_parse_record(twc_dns_zone *z, const char *line, size_t len, twc_err *err)
{
    struct pstate *ps;
    int rc;

    ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return twc_err_set(err, TWC_ENOMEM, "out of memory");
    ps->z = z;
    ps->fname = "--record";
    ps->dir = ".";
    ps->data = line;
    ps->len = len;
    ps->line = 1;
    ps->record_mode = 1;
    while (ps->pos < ps->len && is_blank(ps->data[ps->pos]))
        ps->pos++;
    /* One line, one record: checked first so that nothing is added on error. */
    if (memchr(line, '\n', len) != NULL)
        rc = fail(ps, err, TWC_EINVAL, "more than one line");
    else
        rc = read_entry(ps, err);
    if (rc == 0)
        rc = fail(ps, err, TWC_EINVAL, "empty record");
    if (rc > 0 && !ps->fields[0].quoted && ps->fields[0].len > 0 && ps->fields[0].p[0] == '$')
        rc = fail(ps, err, TWC_EINVAL, "directives are not allowed");
    else if (rc > 0)
        rc = do_record(ps, err);
    free(ps);
    return rc;
}

int twc_dns_zone_check(const twc_dns_zone *z, twc_err *err)
{
    const twc_dns_name *origin = twc_dns_zone_origin(z);
    char text[TWC_DNS_NAME_TEXT_MAX];
    const char *first = z->nfiles ? z->files[0] : "zone";
    twc_dns_rr rr;
    size_t i;
    int soa = 0;

    if (origin == NULL)
        return twc_err_set(err, TWC_EINVAL, "%s: no $ORIGIN and no SOA record", first);
    twc_dns_name_format(origin, text, sizeof(text));
    for (i = 0; i < z->n; i++) {
        unsigned line;
        const char *f = twc_dns_zone_where(z, i, &line);

        twc_dns_zone_get(z, i, &rr);
        if (!twc_dns_name_is_under(&rr.name, origin))
            return twc_err_set(err, TWC_EINVAL, "%s:%u: name is outside zone %s", f, line, text);
        if (rr.type != TWC_DNS_SOA)
            continue;
        if (!twc_dns_name_equal(&rr.name, origin))
            return twc_err_set(err, TWC_EINVAL, "%s:%u: SOA record not at the zone apex %s", f,
                               line, text);
        if (soa++)
            return twc_err_set(err, TWC_EINVAL, "%s:%u: second SOA record for %s", f, line, text);
    }
    if (soa == 0)
        return twc_err_set(err, TWC_EINVAL, "%s: no SOA record for zone %s", first, text);
    return 0;
}

int twc_dns_zone_load(twc_dns_zone *z, const char *path, twc_err *err)
{
    int rc = twc_dns_zone_parse_file(z, path, NULL, err);

    return rc < 0 ? rc : twc_dns_zone_check(z, err);
}
