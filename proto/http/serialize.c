/*
 * HTTP/1.1 serializers (RFC 9112): start lines, field lines, the chunked
 * coding, reason phrases and IMF-fixdate Date values. Everything appends to a
 * bounded twc_buf and refuses bytes that would change the framing (response
 * splitting: CR, LF or NUL in a name or value).
 */
#include "proto/http/http.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "proto/http/http_int.h"

static bool field_value_ok(const char *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(twc__http_ctype[(uint8_t)v[i]] & TWC__HTTP_C_FIELD))
            return false;
    }
    return true;
}

static bool token_ok(const char *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(twc__http_ctype[(uint8_t)v[i]] & TWC__HTTP_C_TCHAR))
            return false;
    }
    return n > 0;
}

static int write_status(twc_buf *b, int minor, int status, const char *reason, size_t rlen)
{
    char line[32];
    int rc, n;

    if (status < 100 || status > 999 || minor < 0 || minor > 9 || !field_value_ok(reason, rlen))
        return TWC_EINVAL;
    n = snprintf(line, sizeof(line), "HTTP/1.%d %03d ", minor, status);
    rc = twc_buf_append(b, line, (size_t)n);
    if (rc == 0)
        rc = twc_buf_append(b, reason, rlen);
    if (rc == 0)
        rc = twc_buf_append(b, "\r\n", 2);
    return rc;
}

int twc_http_write_status_line(twc_buf *b, int minor, int status, const char *reason)
{
    if (reason == NULL)
        reason = twc_http_reason(status);
    return write_status(b, minor, status, reason, strlen(reason));
}

int twc_http_write_request_line(twc_buf *b, const char *method, size_t mlen, const char *target,
                                size_t tlen, int minor)
{
    char ver[16];
    size_t i;
    int rc, n;

    if (!token_ok(method, mlen) || tlen == 0 || minor < 0 || minor > 9)
        return TWC_EINVAL;
    for (i = 0; i < tlen; i++) {
        if (!(twc__http_ctype[(uint8_t)target[i]] & TWC__HTTP_C_TARGET))
            return TWC_EINVAL;
    }
    n = snprintf(ver, sizeof(ver), " HTTP/1.%d\r\n", minor);
    rc = twc_buf_append(b, method, mlen);
    if (rc == 0)
        rc = twc_buf_append(b, " ", 1);
    if (rc == 0)
        rc = twc_buf_append(b, target, tlen);
    if (rc == 0)
        rc = twc_buf_append(b, ver, (size_t)n);
    return rc;
}

int twc_http_write_header(twc_buf *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
    int rc;

    if (!token_ok(name, nlen) || !field_value_ok(value, vlen))
        return TWC_EINVAL;
    /* A value must not start or end with whitespace: it would not survive the
     * parser's OWS trimming (RFC 9110 §5.5). */
    if (vlen > 0 &&
        (value[0] == ' ' || value[0] == '\t' || value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        return TWC_EINVAL;
    rc = twc_buf_append(b, name, nlen);
    if (rc == 0)
        rc = twc_buf_append(b, ": ", 2);
    if (rc == 0)
        rc = twc_buf_append(b, value, vlen);
    if (rc == 0)
        rc = twc_buf_append(b, "\r\n", 2);
    return rc;
}

int twc_http_write_header_str(twc_buf *b, const char *name, const char *value)
{
    return twc_http_write_header(b, name, strlen(name), value, strlen(value));
}

int twc_http_write_end_of_head(twc_buf *b)
{
    return twc_buf_append(b, "\r\n", 2);
}

int twc_http_write_head(twc_buf *b, const struct twc_http_head *h)
{
    size_t i;
    int rc;

    if (h->method.len > 0) {
        rc =
            twc_http_write_request_line(b, (const char *)h->method.p, h->method.len,
                                        (const char *)h->target.p, h->target.len, h->version_minor);
    } else {
        rc = write_status(b, h->version_minor, h->status,
                          h->reason.p ? (const char *)h->reason.p : "", h->reason.len);
    }
    for (i = 0; rc == 0 && i < h->nheaders; i++)
        rc = twc_http_write_header(b, (const char *)h->headers[i].name.p, h->headers[i].name.len,
                                   (const char *)h->headers[i].value.p, h->headers[i].value.len);
    if (rc == 0)
        rc = twc_http_write_end_of_head(b);
    return rc;
}

int twc_http_write_chunk_header(twc_buf *b, uint64_t len)
{
    char hex[24];
    size_t i = sizeof(hex);

    if (len == 0)
        return TWC_EINVAL;
    hex[--i] = '\n';
    hex[--i] = '\r';
    while (len > 0) {
        hex[--i] = "0123456789abcdef"[len & 15];
        len >>= 4;
    }
    return twc_buf_append(b, hex + i, sizeof(hex) - i);
}

int twc_http_write_chunk_end(twc_buf *b)
{
    return twc_buf_append(b, "\r\n", 2);
}

int twc_http_write_chunk(twc_buf *b, const void *data, size_t len)
{
    int rc;

    if (len == 0)
        return 0;
    rc = twc_http_write_chunk_header(b, len);
    if (rc == 0)
        rc = twc_buf_append(b, data, len);
    if (rc == 0)
        rc = twc_http_write_chunk_end(b);
    return rc;
}

int twc_http_write_last_chunk(twc_buf *b, const twc_http_header *trailers, size_t n)
{
    size_t i;
    int rc = twc_buf_append(b, "0\r\n", 3);

    for (i = 0; rc == 0 && i < n; i++)
        rc = twc_http_write_header(b, (const char *)trailers[i].name.p, trailers[i].name.len,
                                   (const char *)trailers[i].value.p, trailers[i].value.len);
    if (rc == 0)
        rc = twc_http_write_end_of_head(b);
    return rc;
}

const char *twc_http_reason(int status)
{
    /* RFC 9110 §15, plus 429/431 (RFC 6585). */
    /* clang-format off */
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
    /* clang-format on */
}

int twc_http_date_format(time_t t, char out[TWC_HTTP_DATE_LEN + 1])
{
    /* Names are fixed by RFC 9110 §5.6.7, never the locale's (strftime %a). */
    static const char wk[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mo[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return TWC_EINVAL;
    snprintf(out, TWC_HTTP_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT", wk[tm.tm_wday],
             tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return TWC_HTTP_DATE_LEN;
}
