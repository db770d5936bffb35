/*
 * HTTP helpers that servers and clients need around the parser: list values
 * (RFC 9110 §5.6.1), percent-decoding and path normalisation (RFC 3986), Range
 * (RFC 9110 §14), entity-tag matching (§13.1), and HTTP-date parsing (§5.6.7).
 * All pure functions over borrowed bytes.
 */
#include "proto/http/http.h"

#include <string.h>

#include "err.h"
#include "proto/http/http_int.h"

static bool ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

bool twc_http_slice_eq(twc_slice s, const char *lit)
{
    size_t i, n = strlen(lit);

    if (s.len != n)
        return false;
    for (i = 0; i < n; i++) {
        if (lower(s.p[i]) != lower((uint8_t)lit[i]))
            return false;
    }
    return true;
}

bool twc_http_list_next(const uint8_t *v, size_t len, size_t *pos, twc_slice *elem)
{
    size_t i = *pos;

    while (i < len) {
        size_t start, end;
        bool quoted = false;

        while (i < len && (ows(v[i]) || v[i] == ','))
            i++;
        if (i >= len)
            break;
        start = i;
        /* An element runs to the next comma outside a quoted-string. */
        for (; i < len; i++) {
            if (quoted) {
                if (v[i] == '\\' && i + 1 < len)
                    i++;
                else if (v[i] == '"')
                    quoted = false;
            } else if (v[i] == '"') {
                quoted = true;
            } else if (v[i] == ',') {
                break;
            }
        }
        end = i;
        while (end > start && ows(v[end - 1]))
            end--;
        if (end > start) {
            elem->p = v + start;
            elem->len = end - start;
            *pos = i;
            return true;
        }
    }
    *pos = len;
    return false;
}

bool twc_http_list_has(const uint8_t *v, size_t len, const char *token)
{
    size_t pos = 0, tl = strlen(token);
    twc_slice e;

    while (twc_http_list_next(v, len, &pos, &e)) {
        size_t n = 0;

        while (n < e.len && e.p[n] != ';')
            n++;
        while (n > 0 && ows(e.p[n - 1]))
            n--;
        if (n == tl && twc_http_slice_eq((twc_slice){e.p, n}, token))
            return true;
    }
    return false;
}

/* ---- Percent-decoding and paths (RFC 3986 §2.1, §5.2.4). ---- */

int twc__http_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int twc_http_pct_decode(const char *s, size_t len, char *out, size_t *outlen, bool refuse_slash_nul)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= len)
                return TWC_EINVAL;
            hi = twc__http_hexval((uint8_t)s[i + 1]);
            lo = twc__http_hexval((uint8_t)s[i + 2]);
            if (hi < 0 || lo < 0)
                return TWC_EINVAL;
            c = (uint8_t)(hi * 16 + lo);
            i += 2;
            /* An encoded '/' would turn one segment into two after decoding and
             * dodge dot-segment removal; NUL would truncate a C path. */
            if (refuse_slash_nul && (c == '/' || c == 0))
                return TWC_EINVAL;
        } else if (refuse_slash_nul && c == 0) {
            return TWC_EINVAL;
        }
        out[o++] = (char)c;
    }
    *outlen = o;
    return 0;
}

int twc_http_path_normalize(const char *target, size_t len, char *out, size_t *outlen)
{
    size_t n = 0, i = 0, o = 0;
    int rc;

    while (n < len && target[n] != '?' && target[n] != '#')
        n++;
    if (n == 0 || target[0] != '/')
        return TWC_EINVAL;
    rc = twc_http_pct_decode(target, n, out, &n, true);
    if (rc < 0)
        return rc;
    /* Dot-segment removal in place (RFC 3986 §5.2.4). The input starts with '/',
     * so only the rules for "/./", "/.", "/../" and "/.." apply; the output only
     * shrinks, so writing behind the read position is safe. Decoding first
     * means "%2e%2e" is a ".." too and is removed, never passed through. */
    while (i < n) {
        size_t seg = i + 1, end = seg;

        while (end < n && out[end] != '/')
            end++;
        if (end - seg == 1 && out[seg] == '.') {
            /* "/./" -> "/", "/." at the end -> "/" */
            if (end == n)
                out[o++] = '/';
        } else if (end - seg == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            /* "/../" -> "/" and drop the last output segment; never above root. */
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (end == n)
                out[o++] = '/';
        } else {
            memmove(out + o, out + i, end - i);
            o += end - i;
        }
        i = end;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    *outlen = o;
    return 0;
}

/* ---- Range (RFC 9110 §14.1.2, §14.2). ---- */

/* Parse 1*DIGIT at v[*i..len); false if none or overflow. */
static bool digits(const char *v, size_t len, size_t *i, uint64_t *out)
{
    size_t s = *i;

    while (*i < len && v[*i] >= '0' && v[*i] <= '9')
        (*i)++;
    if (*i == s || *i - s > 19)
        return false;
    return twc_parse_u64(v + s, *i - s, 0, UINT64_MAX, out) == 0;
}

enum twc_http_range_result twc_http_range_parse(const char *v, size_t len, uint64_t size,
                                                struct twc_http_range *out, size_t max, size_t *n)
{
    size_t i = 0, count = 0, specs = 0;

    *n = 0;
    /* ranges-specifier = range-unit "=" range-set; the unit is case-insensitive. */
    if (len < 6 || !twc__http_lc_eq((const uint8_t *)v, "bytes=", 6))
        return TWC_HTTP_RANGE_IGNORE;
    i = 6;
    for (;;) {
        uint64_t first = 0, last = 0;
        bool suffix = false, open = false;

        while (i < len && (ows((uint8_t)v[i]) || v[i] == ','))
            i++;
        if (i >= len)
            break;
        if (v[i] == '-') {
            /* suffix-range = "-" suffix-length: the last N bytes. */
            i++;
            if (!digits(v, len, &i, &last))
                return TWC_HTTP_RANGE_IGNORE;
            suffix = true;
        } else {
            if (!digits(v, len, &i, &first) || i >= len || v[i] != '-')
                return TWC_HTTP_RANGE_IGNORE;
            i++;
            if (i < len && v[i] >= '0' && v[i] <= '9') {
                if (!digits(v, len, &i, &last))
                    return TWC_HTTP_RANGE_IGNORE;
                /* §14.1.1: last < first makes the whole field invalid. */
                if (last < first)
                    return TWC_HTTP_RANGE_IGNORE;
            } else {
                open = true;
            }
        }
        while (i < len && ows((uint8_t)v[i]))
            i++;
        if (i < len && v[i] != ',')
            return TWC_HTTP_RANGE_IGNORE;
        if (++specs > max)
            return TWC_HTTP_RANGE_IGNORE; /* §14.2: a server may ignore many ranges */
        /* Resolve against the size; drop what cannot be satisfied (§14.1.1). */
        if (suffix) {
            if (last == 0 || size == 0)
                continue;
            first = last >= size ? 0 : size - last;
            last = size - 1;
        } else {
            if (first >= size)
                continue;
            if (open || last >= size)
                last = size - 1;
        }
        out[count].first = first;
        out[count].last = last;
        count++;
    }
    if (specs == 0)
        return TWC_HTTP_RANGE_IGNORE;
    *n = count;
    return count ? TWC_HTTP_RANGE_OK : TWC_HTTP_RANGE_UNSATISFIABLE;
}

/* ---- Entity tags (RFC 9110 §8.8.3, §13.1.1-2). ---- */

/* Split an entity-tag at s[*i..len): sets weak and the opaque-tag (quotes
 * included). Returns false when malformed. */
static bool etag_at(const char *s, size_t len, size_t *i, bool *weak, twc_slice *opaque)
{
    size_t j = *i;

    *weak = false;
    if (j + 2 <= len && s[j] == 'W' && s[j + 1] == '/') {
        *weak = true;
        j += 2;
    }
    if (j >= len || s[j] != '"')
        return false;
    opaque->p = (const uint8_t *)s + j;
    j++;
    /* etagc = %x21 / %x23-7E / obs-text */
    while (j < len && s[j] != '"') {
        uint8_t c = (uint8_t)s[j];

        if (c < 0x21 || c == 0x7f)
            return false;
        j++;
    }
    if (j >= len)
        return false;
    j++;
    opaque->len = (size_t)((const uint8_t *)s + j - opaque->p);
    *i = j;
    return true;
}

int twc_http_etag_match(const char *list, size_t len, const char *etag, size_t etag_len, bool weak)
{
    size_t i = 0, k = 0;
    bool ew, lw, found = false, any = false;
    twc_slice eo, lo;

    if (!etag_at(etag, etag_len, &k, &ew, &eo) || k != etag_len)
        return TWC_EINVAL;
    while (i < len && ows((uint8_t)list[i]))
        i++;
    if (i < len && list[i] == '*') {
        i++;
        while (i < len && ows((uint8_t)list[i]))
            i++;
        return i == len ? 1 : TWC_EINVAL;
    }
    for (;;) {
        while (i < len && (ows((uint8_t)list[i]) || list[i] == ','))
            i++;
        if (i >= len)
            break;
        if (!etag_at(list, len, &i, &lw, &lo))
            return TWC_EINVAL;
        any = true;
        while (i < len && ows((uint8_t)list[i]))
            i++;
        if (i < len && list[i] != ',')
            return TWC_EINVAL;
        /* Strong comparison: both strong and identical; weak: opaque tags equal. */
        if (lo.len == eo.len && memcmp(lo.p, eo.p, eo.len) == 0 && (weak || (!lw && !ew)))
            found = true;
    }
    if (!any)
        return TWC_EINVAL;
    return found ? 1 : 0;
}

/* ---- HTTP-date (RFC 9110 §5.6.7). ---- */

static const char wkday_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const weekday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil); timegm() is not POSIX. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool num(const char *s, size_t at, size_t width, unsigned *out)
{
    size_t i;
    unsigned v = 0;

    for (i = 0; i < width; i++) {
        char c = s[at + i];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *out = v;
    return true;
}

static int month_of(const char *s)
{
    int i;

    for (i = 0; i < 12; i++) {
        if (memcmp(s, month_names[i], 3) == 0)
            return i + 1;
    }
    return 0;
}

/* "HH:MM:SS" at s+at. */
static bool hms(const char *s, size_t at, unsigned *h, unsigned *mi, unsigned *sec)
{
    return num(s, at, 2, h) && s[at + 2] == ':' && num(s, at + 3, 2, mi) && s[at + 5] == ':' &&
           num(s, at + 6, 2, sec) && *h < 24 && *mi < 60 && *sec < 61;
}

static int to_time(int64_t y, unsigned mon, unsigned d, unsigned h, unsigned mi, unsigned sec,
                   time_t *out)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t t;

    if (mon < 1 || mon > 12 || d < 1 || d > mdays[mon - 1])
        return TWC_EINVAL;
    if (mon == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return TWC_EINVAL;
    /* A leap second (60) is folded into the next second, as most systems do. */
    t = days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + sec;
    if (sizeof(time_t) < 8 && (t > INT32_MAX || t < INT32_MIN))
        return TWC_EINVAL;
    *out = (time_t)t;
    return 0;
}

int twc_http_date_parse(const char *s, size_t len, time_t now, time_t *out)
{
    unsigned d, y, h, mi, sec;
    int mon;
    size_t i;

    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes). */
    if (len == 29 && s[3] == ',') {
        for (i = 0; i < 7 && memcmp(s, wkday_names[i], 3) != 0; i++)
            ;
        if (i == 7 || s[4] != ' ' || !num(s, 5, 2, &d) || s[7] != ' ' ||
            (mon = month_of(s + 8)) == 0 || s[11] != ' ' || !num(s, 12, 4, &y) || s[16] != ' ' ||
            !hms(s, 17, &h, &mi, &sec) || memcmp(s + 25, " GMT", 4) != 0)
            return TWC_EINVAL;
        return to_time(y, (unsigned)mon, d, h, mi, sec, out);
    }
    /* asctime: "Sun Nov  6 08:49:37 1994" (24 bytes, day padded with a space). */
    if (len == 24 && s[3] == ' ') {
        for (i = 0; i < 7 && memcmp(s, wkday_names[i], 3) != 0; i++)
            ;
        if (i == 7 || (mon = month_of(s + 4)) == 0 || s[7] != ' ')
            return TWC_EINVAL;
        if (s[8] == ' ') {
            if (!num(s, 9, 1, &d))
                return TWC_EINVAL;
        } else if (!num(s, 8, 2, &d)) {
            return TWC_EINVAL;
        }
        if (s[10] != ' ' || !hms(s, 11, &h, &mi, &sec) || s[19] != ' ' || !num(s, 20, 4, &y))
            return TWC_EINVAL;
        return to_time(y, (unsigned)mon, d, h, mi, sec, out);
    }
    /* rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT". */
    for (i = 0; i < 7; i++) {
        size_t wl = strlen(weekday_long[i]), at;
        int64_t full, cur_year;
        time_t t;
        struct tm tm;

        if (len != wl + 24 || memcmp(s, weekday_long[i], wl) != 0)
            continue;
        at = wl;
        if (s[at] != ',' || s[at + 1] != ' ' || !num(s, at + 2, 2, &d) || s[at + 4] != '-' ||
            (mon = month_of(s + at + 5)) == 0 || s[at + 8] != '-' || !num(s, at + 9, 2, &y) ||
            s[at + 11] != ' ' || !hms(s, at + 12, &h, &mi, &sec) ||
            memcmp(s + at + 20, " GMT", 4) != 0)
            return TWC_EINVAL;
        /* §5.6.7: a two-digit year more than 50 years in the future is in the
         * past century. */
        if (gmtime_r(&now, &tm) == NULL)
            return TWC_EINVAL;
        cur_year = (int64_t)tm.tm_year + 1900;
        full = cur_year - cur_year % 100 + y;
        if (full > cur_year + 50)
            full -= 100;
        if (to_time(full, (unsigned)mon, d, h, mi, sec, &t) < 0)
            return TWC_EINVAL;
        *out = t;
        return 0;
    }
    return TWC_EINVAL;
}
