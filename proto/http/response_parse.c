/*
 * HTTP/1.1 response parsing (RFC 9112 §4, §6.3) for the client: the
 * status-line and the rules that decide how a response body is delimited. The
 * shared machinery (head collection, fields, bodies) lives in parse.c.
 */
#include "proto/http/http.h"

#include <string.h>

#include "err.h"
#include "proto/http/http_int.h"

void twc_http_response_parser_init(twc_http_parser *p, const struct twc_http_limits *lim)
{
    twc__http_parser_init(p, lim, true);
    p->method_kind = TWC_HTTP_METHOD_OTHER;
}

void twc_http_response_parser_set_method(twc_http_parser *p, enum twc_http_method_kind kind)
{
    p->method_kind = (int)kind;
}

enum twc_http_method_kind twc_http_method_kind_of(const char *method, size_t len)
{
    /* Methods are case-sensitive (RFC 9110 §9.1). */
    if (len == 4 && memcmp(method, "HEAD", 4) == 0)
        return TWC_HTTP_METHOD_HEAD;
    if (len == 7 && memcmp(method, "CONNECT", 7) == 0)
        return TWC_HTTP_METHOD_CONNECT;
    return TWC_HTTP_METHOD_OTHER;
}

/* RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
 * A missing final SP (no reason at all) is tolerated: clients SHOULD ignore
 * the reason, and some servers omit the space. */
int twc__http_parse_status_line(twc_http_parser *p, const uint8_t *l, size_t n, size_t off)
{
    size_t i;

    if (n < 12 || memcmp(l, "HTTP/", 5) != 0 || l[6] != '.' || l[5] < '0' || l[5] > '9' ||
        l[7] < '0' || l[7] > '9' || l[8] != ' ')
        return twc__http_fail(p, TWC_EPROTO, 502, "malformed status-line");
    if (l[5] != '1')
        return twc__http_fail(p, TWC_EPROTO, 502, "HTTP major version not supported");
    for (i = 9; i < 12; i++) {
        if (l[i] < '0' || l[i] > '9')
            return twc__http_fail(p, TWC_EPROTO, 502, "malformed status code");
    }
    if (l[9] == '0')
        return twc__http_fail(p, TWC_EPROTO, 502, "status code below 100");
    if (n > 12 && l[12] != ' ')
        return twc__http_fail(p, TWC_EPROTO, 502, "malformed status-line");
    /* reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) */
    for (i = 13; i < n; i++) {
        if (!(twc__http_ctype[l[i]] & TWC__HTTP_C_FIELD))
            return twc__http_fail(p, TWC_EPROTO, 502, "invalid byte in reason-phrase");
    }
    p->head.version_minor = l[7] == '0' ? 0 : 1;
    p->head.status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    p->r_off = (uint32_t)(off + (n > 12 ? 13 : 12));
    p->r_len = (uint32_t)(n > 12 ? n - 13 : 0);
    return 0;
}

/* RFC 9112 §6.3, in its order. */
int twc__http_response_framing(twc_http_parser *p)
{
    struct twc_http_head *h = &p->head;
    unsigned f = p->flags;
    int s = h->status;

    if (f & TWC__HTTP_F_CONN_CLOSE)
        h->keep_alive = false;
    else
        h->keep_alive = h->version_minor == 1 || (f & TWC__HTTP_F_CONN_KEEP);

    /* 1. HEAD responses, 1xx, 204 and 304 end at the head. 2. So does a 2xx to
     * CONNECT (a tunnel follows). */
    if (p->method_kind == TWC_HTTP_METHOD_HEAD || (s >= 100 && s < 200) || s == 204 || s == 304 ||
        (p->method_kind == TWC_HTTP_METHOD_CONNECT && s >= 200 && s < 300)) {
        h->framing = TWC_HTTP_BODY_NONE;
        return 0;
    }
    if (f & TWC__HTTP_F_TE) {
        /* 3. Transfer-Encoding overrides Content-Length, and then the connection
         * must close after this response (§6.3 rule 3). Without a final chunked
         * the body runs until the close (rule 4 for responses). */
        if (f & TWC__HTTP_F_CL)
            h->keep_alive = false;
        if ((f & TWC__HTTP_F_TE_LAST) && !(f & TWC__HTTP_F_TE_REPEAT)) {
            h->framing = TWC_HTTP_BODY_CHUNKED;
        } else {
            h->framing = TWC_HTTP_BODY_CLOSE;
            h->keep_alive = false;
        }
        return 0;
    }
    if (f & TWC__HTTP_F_CL) {
        /* 5. (Invalid or repeated values already failed as rule 4 says.) */
        if (p->cl > p->lim.max_body)
            return twc__http_fail(p, TWC_ETOOBIG, 502, "Content-Length exceeds the body limit");
        h->framing = p->cl ? TWC_HTTP_BODY_LENGTH : TWC_HTTP_BODY_NONE;
        h->content_length = p->cl;
        return 0;
    }
    /* 8. Otherwise the body is everything until the server closes. */
    h->framing = TWC_HTTP_BODY_CLOSE;
    h->keep_alive = false;
    return 0;
}
