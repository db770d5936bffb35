/*
 * HTTP/1.1 message parser (RFC 9112): the request parser, and the machinery
 * the response parser (response_parse.c) shares with it: head collection,
 * field lines, Content-Length and chunked bodies, trailers.
 *
 * Heads are collected without copying when a whole head arrives in one feed
 * (the common case): lines are found with memchr and the head's slices point
 * into the caller's data. When a feed ends inside a head, the bytes go to a
 * bounded per-parser buffer and scanning resumes where it stopped, so the work
 * stays linear however the input is split. Offsets into the head are relative
 * to its first byte, which makes both places interchangeable.
 *
 * Each line is judged as soon as its LF arrives, and limits are checked before
 * content, in arrival order: that is what makes every split of the input give
 * the same outcome as the whole.
 */
#include "proto/http/http.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "limits.h"
#include "proto/http/http_int.h"

/* Byte classes, bits from http_int.h: 1 tchar (RFC 9110 §5.6.2), 2 field-vchar
 * or SP/HTAB (§5.5, obs-text included), 4 hex digit, 8 request-target byte
 * (VCHAR), 16 Host byte (RFC 3986 reg-name, IP literal and port characters).
 * Row 0x20 starts with SP; 0x7f (DEL) and every other control is 0. */
/* clang-format off */
const uint8_t twc__http_ctype[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0, /* 0x00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x10 */
     2, 27, 10, 11, 27, 27, 27, 27, 26, 26, 27, 27, 26, 27, 27, 10, /* 0x20 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 26, 26, 10, 26, 10, 10, /* 0x30 */
    10, 31, 31, 31, 31, 31, 31, 27, 27, 27, 27, 27, 27, 27, 27, 27, /* 0x40 */
    27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 26, 10, 26, 11, 27, /* 0x50 */
    11, 31, 31, 31, 31, 31, 31, 27, 27, 27, 27, 27, 27, 27, 27, 27, /* 0x60 */
    27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 10, 11, 10, 27,  0, /* 0x70 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0x80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0x90 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0xa0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0xb0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0xc0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0xd0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0xe0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0xf0 */
};
/* clang-format on */

/* Word-at-a-time checks (the "hasless" bit tricks of Sean Anderson's bithacks):
 * a field value or request-target is mostly plain ASCII, so eight bytes are
 * tested at once and only a word that might hold an odd byte is looked at
 * byte by byte. Loads go through memcpy: no alignment or aliasing games. */
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load64(const uint8_t *s)
{
    uint64_t w;

    memcpy(&w, s, sizeof(w));
    return w;
}

/* Some byte of w is below n (n <= 128; bytes >= 0x80 never count). */
static inline uint64_t has_less(uint64_t w, uint8_t n)
{
    return (w - ONES * n) & ~w & HIGHS;
}

/* Some byte of w equals 0x7f (DEL). */
static inline uint64_t has_del(uint64_t w)
{
    uint64_t x = w ^ (ONES * 0x7f);

    return (x - ONES) & ~x & HIGHS;
}

/* Index of the first byte of s[0..n) without the class bit (TWC__HTTP_C_FIELD
 * or TWC__HTTP_C_TARGET), or n. */
static size_t first_not(const uint8_t *s, size_t n, uint8_t class)
{
    /* Field values allow SP, HTAB and obs-text; targets none of them. A word
     * with a byte below lo, a DEL, or (targets) a high bit is checked bytewise. */
    const uint8_t lo = class == TWC__HTTP_C_TARGET ? 0x21 : 0x20;
    const uint64_t hi = class == TWC__HTTP_C_TARGET ? HIGHS : 0;
    size_t i = 0, j;

    for (; i + 8 <= n; i += 8) {
        uint64_t w = load64(s + i);

        if ((has_less(w, lo) | has_del(w) | (w & hi)) == 0)
            continue;
        for (j = i; j < i + 8; j++) {
            if (!(twc__http_ctype[s[j]] & class))
                return j;
        }
    }
    for (; i < n; i++) {
        if (!(twc__http_ctype[s[i]] & class))
            return i;
    }
    return n;
}

/* Offsets are stored in 32 bits; limits are clamped so that they fit. */
#define LIMIT_CAP ((size_t)64 * 1024 * 1024)

static size_t pick(size_t v, size_t def)
{
    if (v == 0)
        v = def;
    return v > LIMIT_CAP ? LIMIT_CAP : v;
}

void twc__http_parser_init(twc_http_parser *p, const struct twc_http_limits *lim, bool response)
{
    struct twc_http_limits none = {0};

    if (lim == NULL)
        lim = &none;
    memset(p, 0, sizeof(*p));
    p->lim.max_start_line = pick(lim->max_start_line, TWC_HTTP_START_LINE_MAX);
    p->lim.max_header_bytes = pick(lim->max_header_bytes, TWC_HTTP_HEADER_BYTES_MAX);
    p->lim.max_headers = pick(lim->max_headers, TWC_HTTP_HEADERS_MAX);
    p->lim.max_body = lim->max_body ? lim->max_body : TWC_HTTP_BODY_MAX;
    p->lim.max_chunk_line = pick(lim->max_chunk_line, TWC_HTTP_CHUNK_LINE_MAX);
    /* Leading empty lines (at most max_start_line bytes), the start line and its
     * CRLF, the field section, and slack so a full buffer always proves a limit
     * was crossed. */
    p->buf_max = 2 * p->lim.max_start_line + p->lim.max_header_bytes + 4;
    p->response = response;
    p->state = TWC__HTTP_S_HEAD;
}

void twc_http_request_parser_init(twc_http_parser *p, const struct twc_http_limits *lim)
{
    twc__http_parser_init(p, lim, false);
}

void twc_http_parser_cleanup(twc_http_parser *p)
{
    free(p->buf);
    free(p->hoff);
    free(p->hdrs);
    p->buf = NULL;
    p->hoff = NULL;
    p->hdrs = NULL;
    p->buf_len = p->buf_cap = 0;
    p->nhdr = p->hdr_cap = 0;
}

/* Forget the message in progress; the next byte starts a new head. */
static void start_message(twc_http_parser *p)
{
    p->state = TWC__HTTP_S_HEAD;
    p->buf_len = 0;
    p->scan = p->line_start = p->lead = p->sect_start = 0;
    p->nhdr = 0;
    p->flags = 0;
    p->cl = 0;
    p->host_off = p->host_len = 0;
    p->remaining = p->body_total = 0;
    p->chunk_line = 0;
    p->chunk_digits = 0;
    memset(&p->head, 0, sizeof(p->head));
}

void twc_http_parser_reset(twc_http_parser *p)
{
    start_message(p);
    p->err_code = p->err_status = 0;
    p->err_why = NULL;
}

bool twc_http_parser_idle(const twc_http_parser *p)
{
    if (p->state == TWC__HTTP_S_NEXT)
        return true;
    return p->state == TWC__HTTP_S_HEAD && !(p->flags & TWC__HTTP_F_START_DONE) &&
           p->buf_len == p->lead;
}

void twc_http_parser_shrink(twc_http_parser *p)
{
    if (!twc_http_parser_idle(p))
        return;
    if (p->state == TWC__HTTP_S_NEXT)
        start_message(p);
    p->buf_len = p->lead = p->scan = p->line_start = 0;
    free(p->buf);
    free(p->hoff);
    free(p->hdrs);
    p->buf = NULL;
    p->hoff = NULL;
    p->hdrs = NULL;
    p->buf_cap = p->hdr_cap = 0;
}

int twc__http_fail(twc_http_parser *p, int code, int status, const char *why)
{
    p->state = TWC__HTTP_S_FAILED;
    p->err_code = code;
    p->err_status = status;
    p->err_why = why;
    return code;
}

/* Responses report 502 for anything wrong: a proxy relays it as is. */
static int bad(twc_http_parser *p, int status, const char *why)
{
    return twc__http_fail(p, TWC_EPROTO, p->response ? 502 : status, why);
}

static int too_big(twc_http_parser *p, int status, const char *why)
{
    return twc__http_fail(p, TWC_ETOOBIG, p->response ? 502 : status, why);
}

/* ---- Start line (requests; response_parse.c has the status-line). ---- */

static bool is_tokens(const uint8_t *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(twc__http_ctype[s[i]] & TWC__HTTP_C_TCHAR))
            return false;
    }
    return n > 0;
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":". */
static bool has_scheme(const uint8_t *t, size_t n)
{
    size_t i;

    if (n == 0 || !((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z'))
        return false;
    for (i = 1; i < n; i++) {
        uint8_t c = t[i];

        if (c == ':')
            return true;
        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '-' || c == '.'))
            return false;
    }
    return false;
}

/* RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single
 * spaces (we do not take the lenient whitespace of §3 paragraph 3). */
static int parse_request_line(twc_http_parser *p, const uint8_t *l, size_t n, size_t off)
{
    const uint8_t *sp1, *sp2, *t, *v;
    size_t mlen, tlen;

    sp1 = memchr(l, ' ', n);
    if (sp1 == NULL)
        return bad(p, 400, "malformed request-line");
    mlen = (size_t)(sp1 - l);
    if (!is_tokens(l, mlen))
        return bad(p, 400, "invalid method");
    t = sp1 + 1;
    sp2 = memchr(t, ' ', n - mlen - 1);
    if (sp2 == NULL)
        return bad(p, 400, "request-line without HTTP version");
    tlen = (size_t)(sp2 - t);
    if (tlen == 0)
        return bad(p, 400, "empty request-target");
    if (first_not(t, tlen, TWC__HTTP_C_TARGET) != tlen)
        return bad(p, 400, "invalid byte in request-target");
    v = sp2 + 1;
    if ((size_t)(l + n - v) != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' ||
        v[5] > '9' || v[7] < '0' || v[7] > '9')
        return bad(p, 400, "malformed HTTP version");
    if (v[5] != '1')
        return bad(p, 505, "HTTP major version not supported");
    /* RFC 9110 §2.5: a higher minor version is handled as the highest we know. */
    p->head.version_minor = v[7] == '0' ? 0 : 1;

    if (mlen == 7 && memcmp(l, "CONNECT", 7) == 0) {
        /* RFC 9112 §3.2.3: authority-form, host ":" port, only for CONNECT. */
        const uint8_t *colon = memchr(t, ':', tlen);

        if (t[0] == '/' || memchr(t, '/', tlen) != NULL || colon == NULL || colon == t ||
            colon == t + tlen - 1)
            return bad(p, 400, "CONNECT needs an authority-form target");
        p->head.target_form = TWC_HTTP_TARGET_AUTHORITY;
    } else if (tlen == 1 && t[0] == '*') {
        /* RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS. */
        if (!(mlen == 7 && memcmp(l, "OPTIONS", 7) == 0))
            return bad(p, 400, "asterisk-form target outside OPTIONS");
        p->head.target_form = TWC_HTTP_TARGET_ASTERISK;
    } else if (t[0] == '/') {
        p->head.target_form = TWC_HTTP_TARGET_ORIGIN;
    } else if (has_scheme(t, tlen)) {
        p->head.target_form = TWC_HTTP_TARGET_ABSOLUTE;
    } else {
        return bad(p, 400, "malformed request-target");
    }
    p->m_off = (uint32_t)off;
    p->m_len = (uint32_t)mlen;
    p->t_off = (uint32_t)(off + mlen + 1);
    p->t_len = (uint32_t)tlen;
    return 0;
}

/* ---- Field lines (RFC 9112 §5, RFC 9110 §5). ---- */

/* RFC 9110 §7.2: Host = uri-host [ ":" port ]; a loose character check that
 * keeps CR/LF, spaces, '/', '@' and the like out of what servers route on. */
static bool host_ok(const uint8_t *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(twc__http_ctype[v[i]] & TWC__HTTP_C_HOST))
            return false;
    }
    return true;
}

static int field_semantics(twc_http_parser *p, const uint8_t *name, size_t nlen, const uint8_t *v,
                           size_t vlen, size_t voff)
{
    size_t pos = 0;
    twc_slice e;

    switch (nlen) {
    case 4:
        if (!twc__http_lc_eq(name, "host", 4))
            break;
        /* RFC 9112 §3.2: more than one Host, or an invalid one, is 400. */
        if (p->flags & TWC__HTTP_F_HOST)
            return bad(p, 400, "more than one Host field");
        if (!host_ok(v, vlen))
            return bad(p, 400, "invalid Host value");
        p->flags |= TWC__HTTP_F_HOST;
        p->host_off = voff;
        p->host_len = vlen;
        break;
    case 6:
        if (!twc__http_lc_eq(name, "expect", 6))
            break;
        while (twc_http_list_next(v, vlen, &pos, &e)) {
            if (e.len == 12 && twc__http_lc_eq(e.p, "100-continue", 12))
                p->flags |= TWC__HTTP_F_EXPECT_CONT;
            else
                p->flags |= TWC__HTTP_F_EXPECT_OTHER;
        }
        break;
    case 7:
        if (twc__http_lc_eq(name, "upgrade", 7))
            p->flags |= TWC__HTTP_F_UPGRADE;
        break;
    case 10:
        if (!twc__http_lc_eq(name, "connection", 10))
            break;
        while (twc_http_list_next(v, vlen, &pos, &e)) {
            if (e.len == 5 && twc__http_lc_eq(e.p, "close", 5))
                p->flags |= TWC__HTTP_F_CONN_CLOSE;
            else if (e.len == 10 && twc__http_lc_eq(e.p, "keep-alive", 10))
                p->flags |= TWC__HTTP_F_CONN_KEEP;
            else if (e.len == 7 && twc__http_lc_eq(e.p, "upgrade", 7))
                p->flags |= TWC__HTTP_F_CONN_UPGRADE;
        }
        break;
    case 14:
        if (!twc__http_lc_eq(name, "content-length", 14))
            break;
        /* RFC 9110 §8.6: 1*DIGIT. Strict: any second field line is refused, even
         * an identical one, and so is a list value; an ambiguous length is the
         * root of request smuggling. */
        if (p->flags & TWC__HTTP_F_CL)
            return bad(p, 400, "more than one Content-Length");
        if (vlen == 0 || vlen > 19 || twc_parse_u64((const char *)v, vlen, 0, UINT64_MAX, &p->cl))
            return bad(p, 400, "invalid Content-Length");
        p->flags |= TWC__HTTP_F_CL;
        break;
    case 17:
        if (!twc__http_lc_eq(name, "transfer-encoding", 17))
            break;
        /* RFC 9112 §6.1: codings are applied in order; chunked must be last and
         * appear once. Several field lines form one list (RFC 9110 §5.3). */
        if (!twc_http_list_next(v, vlen, &pos, &e))
            return bad(p, 400, "empty Transfer-Encoding");
        p->flags |= TWC__HTTP_F_TE;
        do {
            if (e.len == 7 && twc__http_lc_eq(e.p, "chunked", 7)) {
                if (p->flags & TWC__HTTP_F_TE_CHUNKED)
                    p->flags |= TWC__HTTP_F_TE_REPEAT;
                p->flags |= TWC__HTTP_F_TE_CHUNKED | TWC__HTTP_F_TE_LAST;
            } else {
                p->flags |= TWC__HTTP_F_TE_UNKNOWN;
                p->flags &= ~(unsigned)TWC__HTTP_F_TE_LAST;
            }
        } while (twc_http_list_next(v, vlen, &pos, &e));
        break;
    default:
        break;
    }
    return 0;
}

/* One field line l[0..n) at offset off of the section. */
static int parse_field(twc_http_parser *p, const uint8_t *l, size_t n, size_t off)
{
    const uint8_t *colon;
    size_t nlen, vs, ve, i;

    /* RFC 9112 §5.2: obs-fold is rejected with 400 in requests; we refuse it in
     * responses too rather than guess at the folding. */
    if (l[0] == ' ' || l[0] == '\t')
        return bad(p, 400, "obs-fold in header section");
    colon = memchr(l, ':', n);
    if (colon == NULL)
        return bad(p, 400, "field line without a colon");
    nlen = (size_t)(colon - l);
    if (nlen == 0)
        return bad(p, 400, "empty field name");
    for (i = 0; i < nlen; i++) {
        if (!(twc__http_ctype[l[i]] & TWC__HTTP_C_TCHAR)) {
            /* RFC 9112 §5.1: whitespace before the colon must be answered with 400. */
            if (l[i] == ' ' || l[i] == '\t')
                return bad(p, 400, "whitespace before the colon");
            return bad(p, 400, "invalid byte in field name");
        }
    }
    vs = nlen + 1;
    ve = n;
    while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
        vs++;
    while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
        ve--;
    i = vs + first_not(l + vs, ve - vs, TWC__HTTP_C_FIELD);
    if (i < ve) {
        if (l[i] == '\r')
            return bad(p, 400, "bare CR in field value");
        if (l[i] == 0)
            return bad(p, 400, "NUL in field value");
        return bad(p, 400, "control character in field value");
    }
    if (p->nhdr >= p->lim.max_headers)
        return too_big(p, 431, "too many header fields");
    if (p->nhdr == p->hdr_cap) {
        size_t cap = p->hdr_cap ? p->hdr_cap * 2 : 16;
        struct twc__http_hoff *ho;
        twc_http_header *hd;

        if (cap > p->lim.max_headers)
            cap = p->lim.max_headers;
        ho = realloc(p->hoff, cap * sizeof(*ho));
        if (ho == NULL)
            return twc__http_fail(p, TWC_ENOMEM, 500, "out of memory");
        p->hoff = ho;
        hd = realloc(p->hdrs, cap * sizeof(*hd));
        if (hd == NULL)
            return twc__http_fail(p, TWC_ENOMEM, 500, "out of memory");
        p->hdrs = hd;
        p->hdr_cap = cap;
    }
    p->hoff[p->nhdr].name = (uint32_t)off;
    p->hoff[p->nhdr].name_len = (uint32_t)nlen;
    p->hoff[p->nhdr].value = (uint32_t)(off + vs);
    p->hoff[p->nhdr].value_len = (uint32_t)(ve - vs);
    p->nhdr++;
    if (p->flags & TWC__HTTP_F_TRAILERS)
        return 0; /* RFC 9110 §6.5.1: trailers never change the framing */
    return field_semantics(p, l, nlen, l + vs, ve - vs, off + vs);
}

/* Find and judge the lines of the section in base[0..avail), from p->scan on.
 * Returns 1 when the empty line ending the section was found (p->scan is just
 * past it), 0 when more input is needed, or a negative code. */
static int scan_lines(twc_http_parser *p, const uint8_t *base, size_t avail)
{
    const size_t max_sl = p->lim.max_start_line, max_hb = p->lim.max_header_bytes;

    for (;;) {
        const uint8_t *nl = memchr(base + p->scan, '\n', avail - p->scan);
        size_t e, n;
        int rc;

        if (nl == NULL) {
            p->scan = avail;
            /* An unfinished line already past a limit (+1: its CR may be here). */
            if (!(p->flags & TWC__HTTP_F_START_DONE)) {
                if (avail - p->line_start > max_sl + 1)
                    return too_big(p, p->response ? 502 : 414, "start line too long");
            } else if (avail - p->sect_start > max_hb) {
                return too_big(p, 431, "header section too large");
            }
            return 0;
        }
        e = (size_t)(nl - base);
        /* Limits first, exactly as the unfinished-line checks above would have
         * judged these bytes had they arrived without their LF. */
        if (!(p->flags & TWC__HTTP_F_START_DONE)) {
            if (e - p->line_start > max_sl + 1)
                return too_big(p, p->response ? 502 : 414, "start line too long");
        } else if (e + 1 - p->sect_start > max_hb) {
            return too_big(p, 431, "header section too large");
        }
        /* RFC 9112 §2.2 lets a recipient accept a bare LF; we do not, so that no
         * proxy in front of us can see a different set of lines. */
        if (e == p->line_start || base[e - 1] != '\r')
            return bad(p, 400, "bare LF in header section");
        n = e - 1 - p->line_start;
        p->scan = e + 1;
        if (!(p->flags & TWC__HTTP_F_START_DONE)) {
            if (n == 0) {
                /* RFC 9112 §2.2: ignore empty lines before the start line. */
                p->lead = e + 1;
                p->line_start = e + 1;
                if (p->lead > max_sl)
                    return bad(p, 400, "too many empty lines before the start line");
                continue;
            }
            if (n > max_sl)
                return too_big(p, p->response ? 502 : 414, "start line too long");
            if (memchr(base + p->line_start, '\r', n) != NULL)
                return bad(p, 400, "bare CR in start line");
            if (p->response)
                rc = twc__http_parse_status_line(p, base + p->line_start, n, p->line_start);
            else
                rc = parse_request_line(p, base + p->line_start, n, p->line_start);
            if (rc < 0)
                return rc;
            p->flags |= TWC__HTTP_F_START_DONE;
            p->sect_start = e + 1;
            p->line_start = e + 1;
            continue;
        }
        if (n == 0)
            return 1;
        rc = parse_field(p, base + p->line_start, n, p->line_start);
        if (rc < 0)
            return rc;
        p->line_start = e + 1;
    }
}

static int buf_grow(twc_http_parser *p, size_t need)
{
    uint8_t *nb;
    size_t cap;

    if (need <= p->buf_cap)
        return 0;
    cap = p->buf_cap ? p->buf_cap * 2 : 1024;
    if (cap < need)
        cap = need;
    if (cap > p->buf_max)
        cap = p->buf_max;
    nb = realloc(p->buf, cap);
    if (nb == NULL)
        return twc__http_fail(p, TWC_ENOMEM, 500, "out of memory");
    p->buf = nb;
    p->buf_cap = cap;
    return 0;
}

static void fill_headers(twc_http_parser *p, const uint8_t *base)
{
    size_t i;

    for (i = 0; i < p->nhdr; i++) {
        p->hdrs[i].name.p = base + p->hoff[i].name;
        p->hdrs[i].name.len = p->hoff[i].name_len;
        p->hdrs[i].value.p = base + p->hoff[i].value;
        p->hdrs[i].value.len = p->hoff[i].value_len;
    }
}

/* Decide the framing of a complete request head (RFC 9112 §6.1-6.3). */
static int request_framing(twc_http_parser *p)
{
    struct twc_http_head *h = &p->head;
    unsigned f = p->flags;

    if (h->version_minor == 1 && !(f & TWC__HTTP_F_HOST))
        return bad(p, 400, "HTTP/1.1 request without Host");
    if (f & TWC__HTTP_F_TE) {
        /* RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
         * framing, and Content-Length next to it is a smuggling attempt. */
        if (h->version_minor == 0)
            return bad(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (f & TWC__HTTP_F_CL)
            return bad(p, 400, "Content-Length with Transfer-Encoding");
        if (f & TWC__HTTP_F_TE_UNKNOWN)
            return bad(p, 501, "unsupported transfer coding");
        if ((f & TWC__HTTP_F_TE_REPEAT) || !(f & TWC__HTTP_F_TE_LAST))
            return bad(p, 400, "chunked is not the final transfer coding");
        h->framing = TWC_HTTP_BODY_CHUNKED;
    } else if ((f & TWC__HTTP_F_CL) && p->cl > 0) {
        if (p->cl > p->lim.max_body)
            return too_big(p, 413, "Content-Length exceeds the body limit");
        h->framing = TWC_HTTP_BODY_LENGTH;
        h->content_length = p->cl;
    } else {
        /* RFC 9112 §6.3 rule 7: a request without either has no body. */
        h->framing = TWC_HTTP_BODY_NONE;
    }
    /* RFC 9110 §10.1.1: ignore expectations in HTTP/1.0; 417 for unknown ones. */
    if (h->version_minor == 1) {
        if (f & TWC__HTTP_F_EXPECT_OTHER)
            return bad(p, 417, "unsupported expectation");
        h->expect_continue = (f & TWC__HTTP_F_EXPECT_CONT) != 0;
    }
    /* RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive". */
    if (f & TWC__HTTP_F_CONN_CLOSE)
        h->keep_alive = false;
    else
        h->keep_alive = h->version_minor == 1 || (f & TWC__HTTP_F_CONN_KEEP);
    return 0;
}

/* The head is complete in base[0..p->scan). */
static int finish_head(twc_http_parser *p, const uint8_t *base, struct twc_http_event *ev)
{
    struct twc_http_head *h = &p->head;
    int rc;

    rc = p->response ? twc__http_response_framing(p) : request_framing(p);
    if (rc < 0)
        return rc;
    fill_headers(p, base);
    h->headers = p->hdrs;
    h->nheaders = p->nhdr;
    h->upgrade = (p->flags & TWC__HTTP_F_CONN_UPGRADE) && (p->flags & TWC__HTTP_F_UPGRADE);
    if (p->response) {
        h->reason.p = base + p->r_off;
        h->reason.len = p->r_len;
    } else {
        h->method.p = base + p->m_off;
        h->method.len = p->m_len;
        h->target.p = base + p->t_off;
        h->target.len = p->t_len;
        h->host.p = base + p->host_off;
        h->host.len = p->host_len;
    }
    ev->type = TWC_HTTP_EV_HEAD;
    ev->head = h;
    switch (h->framing) {
    case TWC_HTTP_BODY_LENGTH:
        p->remaining = h->content_length;
        p->state = TWC__HTTP_S_BODY_LENGTH;
        break;
    case TWC_HTTP_BODY_CHUNKED:
        p->state = TWC__HTTP_S_CHUNK_SIZE;
        break;
    case TWC_HTTP_BODY_CLOSE:
        p->state = TWC__HTTP_S_BODY_CLOSE;
        break;
    default:
        ev->complete = true;
        /* 101, or 2xx to CONNECT: the bytes that follow are not HTTP. */
        if (p->response && (h->status == 101 || (p->method_kind == TWC_HTTP_METHOD_CONNECT &&
                                                 h->status >= 200 && h->status < 300)))
            p->state = TWC__HTTP_S_UPGRADED;
        else
            p->state = TWC__HTTP_S_NEXT;
        break;
    }
    return 0;
}

static void finish_trailers(twc_http_parser *p, const uint8_t *base, struct twc_http_event *ev)
{
    fill_headers(p, base);
    ev->type = TWC_HTTP_EV_END;
    ev->complete = true;
    ev->trailers = p->nhdr ? p->hdrs : NULL;
    ev->ntrailers = p->nhdr;
    p->state = TWC__HTTP_S_NEXT;
}

/* Collect a head or trailer section from data[0..len). Returns bytes consumed. */
static ssize_t feed_section(twc_http_parser *p, const uint8_t *data, size_t len,
                            struct twc_http_event *ev)
{
    const uint8_t *base;
    size_t before = p->buf_len, avail;
    int rc;

    if (before == 0) {
        base = data; /* fast path: the section starts in this feed */
        avail = len;
    } else {
        size_t take = len;

        if (take > p->buf_max - before)
            take = p->buf_max - before;
        rc = buf_grow(p, before + take);
        if (rc < 0)
            return rc;
        memcpy(p->buf + before, data, take);
        p->buf_len += take;
        base = p->buf;
        avail = p->buf_len;
    }
    rc = scan_lines(p, base, avail);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        if (base == data) {
            /* Keep the partial section; the limit checks bound its size. */
            rc = buf_grow(p, len);
            if (rc < 0)
                return rc;
            memcpy(p->buf, data, len);
            p->buf_len = len;
        }
        return (ssize_t)(avail - before);
    }
    if (base == p->buf)
        p->buf_len = p->scan; /* drop what belongs to the body or the next message */
    if (p->flags & TWC__HTTP_F_TRAILERS) {
        finish_trailers(p, base, ev);
    } else {
        rc = finish_head(p, base, ev);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)(p->scan - before);
}

/* Chunk framing bytes (RFC 9112 §7.1), one at a time: chunk-size lines are short.
 * Returns 0, or a negative code. */
static int chunk_byte(twc_http_parser *p, uint8_t c)
{
    switch (p->state) {
    case TWC__HTTP_S_CHUNK_SIZE:
        if (twc__http_ctype[c] & TWC__HTTP_C_HEX) {
            unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);

            if (p->remaining > (UINT64_MAX >> 4))
                return bad(p, 400, "chunk size overflows");
            p->remaining = p->remaining * 16 + d;
            p->chunk_digits++;
        } else if (p->chunk_digits == 0) {
            return bad(p, 400, "missing chunk size");
        } else if (c == '\r') {
            p->state = TWC__HTTP_S_CHUNK_SIZE_LF;
            return 0;
        } else if (c == ';' || c == ' ' || c == '\t') {
            p->state = TWC__HTTP_S_CHUNK_EXT; /* BWS ";" ext-name ... */
        } else {
            return bad(p, 400, "invalid chunk size");
        }
        break;
    case TWC__HTTP_S_CHUNK_EXT:
        /* Extensions are ignored (RFC 9112 §7.1.1) but must be printable. */
        if (c == '\r') {
            p->state = TWC__HTTP_S_CHUNK_SIZE_LF;
            return 0;
        }
        if (!(twc__http_ctype[c] & TWC__HTTP_C_FIELD))
            return bad(p, 400, "invalid byte in chunk extension");
        break;
    case TWC__HTTP_S_CHUNK_SIZE_LF:
        if (c != '\n')
            return bad(p, 400, "chunk-size line without CRLF");
        p->chunk_line = 0;
        p->chunk_digits = 0;
        if (p->remaining == 0) {
            /* last-chunk: a trailer section follows, collected like a head. */
            p->state = TWC__HTTP_S_TRAILERS;
            p->buf_len = p->scan = p->line_start = p->lead = p->sect_start = 0;
            p->nhdr = 0;
            p->flags |= TWC__HTTP_F_TRAILERS | TWC__HTTP_F_START_DONE;
            return 0;
        }
        if (p->remaining > p->lim.max_body - p->body_total)
            return too_big(p, 413, "chunked body exceeds the body limit");
        p->state = TWC__HTTP_S_CHUNK_DATA;
        return 0;
    case TWC__HTTP_S_CHUNK_DATA_CR:
        if (c != '\r')
            return bad(p, 400, "chunk data without CRLF");
        p->state = TWC__HTTP_S_CHUNK_DATA_LF;
        return 0;
    case TWC__HTTP_S_CHUNK_DATA_LF:
        if (c != '\n')
            return bad(p, 400, "chunk data without CRLF");
        p->state = TWC__HTTP_S_CHUNK_SIZE;
        return 0;
    default:
        return twc__http_fail(p, TWC_EINTERNAL, 500, "bad chunk state");
    }
    if (++p->chunk_line > p->lim.max_chunk_line)
        return bad(p, 400, "chunk-size line too long");
    return 0;
}

static void error_event(const twc_http_parser *p, struct twc_http_event *ev)
{
    ev->status = p->err_status;
    ev->why = p->err_why;
}

ssize_t twc_http_parser_feed(twc_http_parser *p, const uint8_t *data, size_t len,
                             struct twc_http_event *ev)
{
    size_t off = 0;

    memset(ev, 0, sizeof(*ev));
    if (p->state == TWC__HTTP_S_FAILED) {
        error_event(p, ev);
        return p->err_code;
    }
    if (p->state == TWC__HTTP_S_UPGRADED) {
        ev->status = 502;
        ev->why = "connection switched protocols";
        return TWC_EPROTO;
    }
    if (p->state == TWC__HTTP_S_NEXT)
        start_message(p);
    while (off < len) {
        ssize_t r;
        size_t n;

        switch (p->state) {
        case TWC__HTTP_S_HEAD:
        case TWC__HTTP_S_TRAILERS:
            r = feed_section(p, data + off, len - off, ev);
            if (r < 0) {
                error_event(p, ev);
                return r;
            }
            return (ssize_t)(off + (size_t)r);
        case TWC__HTTP_S_BODY_LENGTH:
        case TWC__HTTP_S_CHUNK_DATA:
            n = len - off;
            if (n > p->remaining)
                n = (size_t)p->remaining;
            p->remaining -= n;
            p->body_total += n;
            ev->type = TWC_HTTP_EV_BODY;
            ev->body.p = data + off;
            ev->body.len = n;
            if (p->remaining == 0) {
                if (p->state == TWC__HTTP_S_CHUNK_DATA) {
                    p->state = TWC__HTTP_S_CHUNK_DATA_CR;
                } else {
                    ev->complete = true;
                    p->state = TWC__HTTP_S_NEXT;
                }
            }
            return (ssize_t)(off + n);
        case TWC__HTTP_S_BODY_CLOSE:
            /* Deliver up to the limit first, so that every split fails at the
             * same byte. */
            if (p->body_total == p->lim.max_body) {
                too_big(p, 413, "body exceeds the body limit");
                error_event(p, ev);
                return p->err_code;
            }
            n = len - off;
            if (n > p->lim.max_body - p->body_total)
                n = (size_t)(p->lim.max_body - p->body_total);
            p->body_total += n;
            ev->type = TWC_HTTP_EV_BODY;
            ev->body.p = data + off;
            ev->body.len = n;
            return (ssize_t)(off + n);
        case TWC__HTTP_S_NEXT:
        case TWC__HTTP_S_UPGRADED:
            /* A message ended inside this feed; the caller feeds the rest. */
            return (ssize_t)off;
        default:
            if (chunk_byte(p, data[off]) < 0) {
                error_event(p, ev);
                return p->err_code;
            }
            off++;
            break;
        }
    }
    return (ssize_t)off;
}

int twc_http_parser_eof(twc_http_parser *p, struct twc_http_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (p->state == TWC__HTTP_S_FAILED) {
        error_event(p, ev);
        return p->err_code;
    }
    if (p->state == TWC__HTTP_S_UPGRADED || twc_http_parser_idle(p))
        return 0;
    if (p->state == TWC__HTTP_S_BODY_CLOSE) {
        ev->type = TWC_HTTP_EV_END;
        ev->complete = true;
        p->state = TWC__HTTP_S_NEXT;
        return 0;
    }
    twc__http_fail(p, TWC_EOF, p->response ? 502 : 400, "connection closed inside a message");
    error_event(p, ev);
    return TWC_EOF;
}

bool twc_http_head_get(const struct twc_http_head *h, const char *name, twc_slice *value)
{
    size_t i, n = strlen(name);

    for (i = 0; i < h->nheaders; i++) {
        if (h->headers[i].name.len == n && twc_http_slice_eq(h->headers[i].name, name)) {
            *value = h->headers[i].value;
            return true;
        }
    }
    return false;
}
